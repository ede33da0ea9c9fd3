"""Model presets of the SR task: the papers' generator sizes and small ones that train on a CPU.
A task config names one (``model: {preset: edsr_baseline_s, n_feats: 24}``); the result is a
spec for :mod:`neurecon.nn.sr`."""

from __future__ import annotations

PRESETS: dict[str, dict] = {
    # the papers' sizes
    "edsr_baseline": {"arch": "edsr", "n_feats": 64, "n_blocks": 16, "res_scale": 1.0},
    "edsr": {"arch": "edsr", "n_feats": 256, "n_blocks": 32, "res_scale": 0.1},
    "rcan": {"arch": "rcan", "n_feats": 64, "n_groups": 10, "n_blocks": 20, "reduction": 16},
    # small presets that train on this CPU
    "edsr_baseline_s": {"arch": "edsr", "n_feats": 32, "n_blocks": 8, "res_scale": 1.0},
    "edsr_baseline_xs": {"arch": "edsr", "n_feats": 16, "n_blocks": 4, "res_scale": 1.0},
    "edsr_s": {"arch": "edsr", "n_feats": 64, "n_blocks": 8, "res_scale": 0.1},
    "rcan_s": {"arch": "rcan", "n_feats": 32, "n_groups": 2, "n_blocks": 4, "reduction": 8},
}


def resolve_preset(model_cfg: dict, scale: int) -> dict:
    """``{"preset": "edsr_baseline_s", "n_feats": 24}`` → a full spec with ``scale``."""
    cfg = dict(model_cfg or {})
    preset = cfg.pop("preset", None)
    spec = {}
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown SR preset '{preset}'; known: {sorted(PRESETS)}")
        spec.update(PRESETS[preset])
    spec.update(cfg)
    spec.setdefault("arch", "edsr")
    if "scale" in spec and int(spec["scale"]) != int(scale):
        raise ValueError(f"model scale {spec['scale']} differs from the task scale {scale}")
    spec["scale"] = int(scale)
    return spec
