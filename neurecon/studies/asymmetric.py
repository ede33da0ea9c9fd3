"""λ control study (Vogels et al. 2018 §4, Fig. 17–18) on the test split.

    .venv/bin/python bench/asymmetric.py --data data/mitsuba/test --model lambda --out bench/results

For λ ∈ {1, 2, 5, 10}, per frame (tonemapped values, Reinhard + sRGB):
- residual noise: variance of (output − reference) in flat regions (lowest 30 % local contrast of
  the reference) — should rise with λ;
- detail kept: projection of the output's high frequencies onto the reference's in textured
  regions (top 30 % local contrast; 1 = all detail kept, noise averages out) — should rise
  towards 1 with λ, i.e. detail loss falls;
- low-frequency error: MSE between 5×5-box-blurred output and reference (bias plus low-frequency noise).
Fig. 18's claim: against the naive blend β·noisy + (1 − β)·symmetric output with β fitted so
that its MSE matches the asymmetric output's, the asymmetric output has lighter error tails
(99.9th percentile of |output − reference|). The blend is made of linear radiance and then
tonemapped, like the asymmetric output; `displayblend_*` blends the tonemapped images instead,
which compresses the input's fireflies to below 1 before they are blended in. Also reported: the paper's own fit
(β minimising ‖blend − asymmetric‖²), the kurtosis of the error, where the worst 0.1 % of pixels
lie (on input fireflies, the 1 % of pixels whose input error is largest, or on edges, the 10 % of
highest reference contrast), the 99.9th percentile with the firefly pixels left out, and that of
the isolated error (a pixel's channel-mean |error| minus the median of its 3×3 neighbourhood,
itself included, floored at 0: a speckle such as a firefly keeps its height, an error that at
least 5 of the 9 pixels share, such as a band 2 px or wider, drops to 0). The same
comparison in linear HDR (`hdr_*`: relative error |d − r| / (r̄ + 0.01), r̄ the channel mean of
the reference; β and the firefly mask computed there), where a firefly is not compressed by the
tonemap. Also measured: the interactive speed-up of re-evaluating only the λ-dependent tail
(cached features) against a full denoise.
Writes asymmetric.json, asymmetric.png (curves), asymmetric_crops.png (one crop at every λ) and
fig18.png (Fig. 18's comparison at λ = 10: input, matched-MSE blend, asymmetric output, reference,
on the window with the most input fireflies of each of the first four scenes).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..metrics import as_tensor, tonemap, tonemapped
from .blend import LAMBDAS, SPACES, argmin_beta, fit_beta, lambda_outputs, summarise
from .common import box, densest_window, pyplot, write_json


def region_masks(ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(flat, textured): the 30 % of pixels of lowest and of highest local contrast of the
    (tonemapped) reference."""
    contrast = box((ref - box(ref, 3)).abs().mean(1, keepdim=True), 5)
    lo, hi = torch.quantile(contrast.flatten(), torch.tensor([0.3, 0.7], dtype=contrast.dtype))
    return contrast <= lo, contrast >= hi


def isolated(e: torch.Tensor) -> torch.Tensor:
    """The part of a 1×1×H×W error map that stands out of its 3×3 neighbourhood (e minus the
    neighbourhood's median, itself included, floored at 0): a speckle such as a firefly keeps its
    height; an error that at least 5 of the 9 pixels share drops to 0 (a 1-px line or the corner
    of a shared region does not)."""
    patches = F.unfold(F.pad(e, (1, 1, 1, 1), mode="replicate"), 3)
    return (e - patches.median(1).values.view_as(e)).clamp_min(0)


def tail_stats(err: torch.Tensor, fireflies: torch.Tensor, edges: torch.Tensor) -> dict:
    """Error-tail shape of one output: 99.9th percentiles of |error| (every 7th per-channel value),
    of the channel-mean |error| off the input's fireflies and of its isolated part (`isolated`),
    the kurtosis, and where the worst 0.1 % of pixels lie."""
    e = err.abs().mean(1, keepdim=True)
    worst = e >= torch.quantile(e.flatten(), 0.999)
    c = err.flatten() - err.mean()
    return {
        "p999": float(torch.quantile(err.abs().flatten()[::7], 0.999)),
        "p999_isolated": float(torch.quantile(isolated(e).flatten(), 0.999)),
        "p999_no_fireflies": float(torch.quantile(e[~fireflies], 0.999)),
        "kurtosis": float(c.pow(4).mean() / c.pow(2).mean() ** 2),
        "worst_on_fireflies": float((worst & fireflies).sum() / worst.sum()),
        "worst_on_edges": float((worst & edges).sum() / worst.sum()),
    }


def input_masks(noisy: torch.Tensor, ref: torch.Tensor, weight=1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(fireflies, edges): the 1 % of pixels with the largest (weighted) input error, the 10 % of
    highest reference contrast."""
    nerr = ((noisy - ref) * weight).abs().mean(1, keepdim=True)
    contrast = (ref - box(ref, 3)).abs().mean(1, keepdim=True)
    return nerr >= torch.quantile(nerr.flatten(), 0.99), contrast >= torch.quantile(contrast.flatten(), 0.9)


def study_frame(out: np.ndarray, ref: torch.Tensor, flat, textured) -> dict:
    """Residual noise (flat regions), detail kept (textured regions), low-frequency error and MSE of
    one output against the tonemapped reference."""
    o = tonemapped(out)
    err = o - ref
    hf_o, hf_r = o - box(o, 3), ref - box(ref, 3)
    tex = textured.expand_as(o)
    return {
        "noise_flat": float(err[flat.expand_as(err)].var()),
        # projection of the output's high frequencies on the reference's: residual noise is
        # uncorrelated with the reference and drops out, so this measures detail, not noise
        "detail_kept": float((hf_o[tex] * hf_r[tex]).mean() / hf_r[tex].pow(2).mean()),
        "lowfreq_error": float((box(o, 5) - box(ref, 5)).pow(2).mean()),
        "mse": float(err.pow(2).mean()),
    }


def compare_to_blends(lin: dict[str, torch.Tensor], prefix: str, fireflies, edges) -> dict:
    """Tail statistics, in one error space, of the asymmetric output and of β-blends of the noisy
    input and the symmetric output.

    The blends are made of linear radiance, as a renderer's output would be ("adding the input
    noise"), and then mapped into the space like the asymmetric output: `blend` with β matching the
    asymmetric output's (weighted) MSE there, `paperblend` with the paper's β minimising
    ‖blend − asymmetric‖² there. For a nonlinear space also `displayblend`: the matched-MSE blend
    of the already mapped images, which clips a firefly before blending (what this bench reported
    as `blend` up to session 10)."""
    to_space, weight_of = SPACES[prefix]
    x = {k: to_space(v) for k, v in lin.items()}
    weight = weight_of(x["ref"])
    noisy, sym, asym, ref = lin["noisy"], lin["sym"], x["asym"], x["ref"]

    def blended(b):
        return to_space(b * noisy + (1 - b) * sym)

    def mse(b):
        return float(((blended(b) - ref) * weight).pow(2).mean())

    m = {"mse": float(((asym - ref) * weight).pow(2).mean())}
    m.update(tail_stats((asym - ref) * weight, fireflies, edges))
    fits = {
        "blend": (fit_beta(mse, m["mse"]), blended),
        "paperblend": (argmin_beta(lambda b: float(((blended(b) - asym) * weight).pow(2).sum())), blended),
    }
    if prefix == "":  # tonemapped: blending mapped images is not mapping the blend

        def display(b):
            return b * x["noisy"] + (1 - b) * x["sym"]

        fits["displayblend"] = (
            fit_beta(lambda b: float(((display(b) - ref) * weight).pow(2).mean()), m["mse"]),
            display,
        )
    for tag, (beta, make) in fits.items():
        err = (make(beta) - ref) * weight
        m[f"{tag}_beta"] = beta
        m[f"{tag}_mse"] = float(err.pow(2).mean())
        m.update({f"{tag}_{k}": v for k, v in tail_stats(err, fireflies, edges).items()})
    return m


def lambda_stats(lin: dict[str, torch.Tensor], out: np.ndarray, ref, flat, textured, masks) -> dict:
    """Every statistic of one λ output: `study_frame`'s, and `compare_to_blends` in each space
    (prefixed with the space's tag; the tonemapped MSE is `study_frame`'s). `lin` holds the linear
    "noisy", "sym" and "ref" of the frame, `masks` each space's `input_masks`."""
    m = study_frame(out, ref, flat, textured)
    with_asym = {**lin, "asym": as_tensor(out)}
    for prefix in SPACES:
        stats = compare_to_blends(with_asym, prefix, *masks[prefix])
        m.update({prefix + k: v for k, v in stats.items() if not (prefix == "" and k == "mse")})
    return m


# (check, statistic of the asymmetric output, the blend's statistic it must be below) for λ > 1
TAIL_CHECKS = (
    ("asymmetric_tails_lighter_than_blend", "p999", "blend_p999"),
    ("asymmetric_tails_lighter_than_paper_blend", "p999", "paperblend_p999"),
    ("asymmetric_tails_lighter_than_display_blend", "p999", "displayblend_p999"),
    ("isolated_tails_lighter_than_blend", "p999_isolated", "blend_p999_isolated"),
    ("hdr_isolated_tails_lighter_than_blend", "hdr_p999_isolated", "hdr_blend_p999_isolated"),
    ("lighter_without_fireflies", "p999_no_fireflies", "blend_p999_no_fireflies"),
    ("hdr_tails_lighter_than_blend", "hdr_p999", "hdr_blend_p999"),
    ("hdr_kurtosis_lower_than_blend", "hdr_kurtosis", "hdr_blend_kurtosis"),
)


def checks(summary: dict, lambdas=LAMBDAS) -> dict:
    """Per spp: noise and detail rise monotonically with λ, and for each λ > 1 each `TAIL_CHECKS`
    comparison against the blends."""
    out = {}
    for spp, s in summary.items():
        noise = [s[str(l)]["noise_flat"] for l in lambdas]
        detail = [s[str(l)]["detail_kept"] for l in lambdas]
        out[spp] = {
            "noise_rises_monotonically": all(x < y for x, y in zip(noise, noise[1:])),
            "detail_rises_monotonically": all(x < y for x, y in zip(detail, detail[1:])),
            **{
                name: {str(l): s[str(l)][mine] < s[str(l)][theirs] for l in lambdas[1:]}
                for name, mine, theirs in TAIL_CHECKS
            },
        }
    return out


def run(data: str, model: str, spp: list[int], out: str | Path, limit: int | None = None) -> dict:
    """The study on the frames under `data` (the first `limit` scenes) at each `spp`, with the λ
    model `model`; writes its JSON and figures into `out` and returns the JSON's content."""
    from ..infer.denoiser import Denoiser
    from ..io import find_frames
    from ..models import load_checkpoint, weights_digest
    from ..nn.precision import native_bf16

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    den = Denoiser.load(model)
    frames = find_frames(data)
    rows, crops, fig_rows = [], None, []
    speed = []
    for name in sorted(frames)[:limit]:
        fs = frames[name]
        ref_img = fs.read("ref")["color"]
        ref = tonemapped(ref_img)
        flat, textured = region_masks(ref)
        for level in spp:
            buf = fs.read(level)
            t = time.perf_counter()
            den.denoise_buffers(buf, lam=2.0)
            full_s = time.perf_counter() - t
            sess, outs, sym_img = lambda_outputs(den, buf)
            speed.append({"full_s": full_s, "tail_s": sess.last_seconds, "features_s": sess.feature_seconds})
            lin = {"noisy": as_tensor(buf["color"]), "sym": as_tensor(sym_img), "ref": as_tensor(ref_img)}
            # fireflies: the input's worst pixels in each space's own error (the tonemap shrinks them)
            masks = {}
            for prefix, (to_space, weight_of) in SPACES.items():
                noisy_s, ref_s = to_space(lin["noisy"]), to_space(lin["ref"])
                masks[prefix] = input_masks(noisy_s, ref_s, weight_of(ref_s))
            rec = {"scene": name, "spp": level, "lambda": {}}
            for lam, img in outs.items():
                rec["lambda"][str(lam)] = lambda_stats(lin, img, ref, flat, textured, masks)
            rows.append(rec)
            if crops is None and level == min(spp):
                crops = (buf["color"], outs, ref_img, flat)
            if level == min(spp) and len(fig_rows) < 4:
                top = str(LAMBDAS[-1])
                fig_rows.append(
                    (
                        name,
                        buf["color"],
                        sym_img,
                        outs[LAMBDAS[-1]],
                        ref_img,
                        rec["lambda"][top]["blend_beta"],
                        masks[""][0],
                    )
                )
            print(
                f"{name} {level} spp: "
                + "  ".join(
                    f"λ={lam:g} noise {rec['lambda'][str(lam)]['noise_flat']:.2e} "
                    f"detail {rec['lambda'][str(lam)]['detail_kept']:.3f}"
                    for lam in LAMBDAS
                ),
                flush=True,
            )

    summary = summarise(rows, spp, LAMBDAS)
    sp = {k: float(np.median([x[k] for x in speed])) for k in speed[0]}
    sp["speedup_lambda_change_vs_full"] = sp["full_s"] / sp["tail_s"]
    sp.update(precision=den.precision, native_bf16=native_bf16(), threads=torch.get_num_threads())
    result = {
        "model": model,
        "weights_digest": weights_digest(load_checkpoint(model)["model"]),
        "summary": summary,
        "checks": checks(summary),
        "speed": sp,
        "rows": rows,
    }
    write_json(out_dir / "asymmetric.json", result)
    plot(summary, out_dir / "asymmetric.png")
    if crops:
        crop_grid(*crops, out_dir / "asymmetric_crops.png")
    if fig_rows:
        fig18(fig_rows, spp=min(spp), path=out_dir / "fig18.png")
    print(json.dumps({"checks": result["checks"], "speed": sp}, indent=1))
    return result


def plot(summary: dict, path: Path) -> None:
    """The statistics against λ, per spp (asymmetric.png)."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 6, figsize=(24, 3.4))
    for spp, s in summary.items():
        x = list(LAMBDAS)
        axes[0].plot(x, [s[str(l)]["noise_flat"] for l in x], "o-", label=f"{spp} spp")
        axes[1].plot(x, [s[str(l)]["detail_kept"] for l in x], "o-", label=f"{spp} spp")
        axes[2].plot(x, [s[str(l)]["p999"] for l in x], "o-", label=f"asymmetric {spp} spp")
        axes[2].plot(x, [s[str(l)]["blend_p999"] for l in x], "x--", label=f"β-blend {spp} spp")
        axes[2].plot(x, [s[str(l)]["displayblend_p999"] for l in x], "+:", label=f"display β-blend {spp} spp")
        axes[3].plot(x, [s[str(l)]["worst_on_fireflies"] for l in x], "o-", label=f"asymmetric {spp} spp")
        axes[3].plot(x, [s[str(l)]["blend_worst_on_fireflies"] for l in x], "x--", label=f"β-blend {spp} spp")
        axes[4].plot(x, [s[str(l)]["hdr_p999"] for l in x], "o-", label=f"asymmetric {spp} spp")
        axes[4].plot(x, [s[str(l)]["hdr_blend_p999"] for l in x], "x--", label=f"β-blend {spp} spp")
        axes[5].plot(x, [s[str(l)]["p999_isolated"] for l in x], "o-", label=f"asymmetric {spp} spp")
        axes[5].plot(x, [s[str(l)]["blend_p999_isolated"] for l in x], "x--", label=f"β-blend {spp} spp")
    axes[0].set(xlabel="λ", ylabel="residual noise (flat regions)", xscale="log", yscale="log")
    axes[1].set(xlabel="λ", ylabel="detail kept (textured regions)", xscale="log")
    axes[2].set(xlabel="λ", ylabel="tonemapped: 99.9th pct |error|", xscale="log")
    axes[3].set(xlabel="λ", ylabel="worst 0.1 % on input fireflies", xscale="log")
    axes[4].set(xlabel="λ", ylabel="linear HDR: 99.9th pct rel. error", xscale="log")
    axes[5].set(xlabel="λ", ylabel="tonemapped: 99.9th pct isolated error", xscale="log")
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def fig18(rows, spp: int, path: Path, size: int = 64) -> None:
    """Fig. 18 side by side: per scene the size² window holding most of the input's fireflies, shown
    as noisy input | β-blend (radiance, β matching the asymmetric output's tonemapped MSE) |
    asymmetric output at the largest λ | reference, all tonemapped the same way. `rows`: per scene
    (name, noisy, symmetric, asymmetric, reference (H×W×3 linear), β, 1×1×H×W firefly mask)."""
    plt = pyplot()
    lam = LAMBDAS[-1]
    fig, axes = plt.subplots(len(rows), 4, figsize=(10, 2.6 * len(rows)), squeeze=False)
    for r, (name, noisy, sym, asym, ref, beta, fireflies) in enumerate(rows):
        y, x = densest_window(fireflies.double(), size, 8)
        tiles = {
            "noisy input": noisy,
            "β-blend": beta * noisy + (1 - beta) * sym,
            f"asymmetric, λ = {lam:g}": asym,
            "reference": ref,
        }
        for c, (title, img) in enumerate(tiles.items()):
            shown = tonemap(as_tensor(img[y : y + size, x : x + size]))[0].permute(1, 2, 0).numpy()
            axes[r, c].imshow(shown.clip(0, 1), interpolation="nearest")
            axes[r, c].set_title(title if r == 0 else "", fontsize=9)
            axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(f"{name}, {spp} spp", fontsize=8)
        axes[r, 1].set_xlabel(f"β = {beta:.2f}", fontsize=8)
    fig.suptitle(
        "Fig. 18: blending the input back in keeps its fireflies; the asymmetric loss keeps noise where "
        "the denoiser is unsure",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def crop_grid(noisy, outs, ref, flat, path: Path, size: int = 64) -> None:
    """One row, 3× enlarged: noisy input | the output at every λ | reference, on the window where
    the input's error is largest (asymmetric_crops.png)."""
    from ..io.ldr import write_ldr

    err = np.abs(noisy - ref).mean(-1)
    y, x = densest_window(torch.from_numpy(err)[None, None], size, 8)
    tiles = [noisy] + [outs[l] for l in LAMBDAS] + [ref]
    row = np.concatenate([t[y : y + size, x : x + size] for t in tiles], 1)
    row = np.repeat(np.repeat(row, 3, 0), 3, 1)
    write_ldr(path, row / (1 + row))
