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

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neurecon.denoise import Denoiser  # noqa: E402

from neurecon.io import find_frames  # noqa: E402
from neurecon.metrics import as_tensor, tonemap, tonemapped  # noqa: E402
from neurecon.models import load_checkpoint, weights_digest  # noqa: E402
from neurecon.nn.precision import native_bf16, trunk  # noqa: E402

LAMBDAS = (1.0, 2.0, 5.0, 10.0)


def _box(x: torch.Tensor, k: int) -> torch.Tensor:
    return F.avg_pool2d(F.pad(x, (k // 2,) * 4, mode="replicate"), k, stride=1)


def region_masks(ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    contrast = _box((ref - _box(ref, 3)).abs().mean(1, keepdim=True), 5)
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
    contrast = (ref - _box(ref, 3)).abs().mean(1, keepdim=True)
    return nerr >= torch.quantile(nerr.flatten(), 0.99), contrast >= torch.quantile(contrast.flatten(), 0.9)


def study_frame(out: np.ndarray, ref: torch.Tensor, flat, textured) -> dict:
    o = tonemapped(out)
    err = o - ref
    hf_o, hf_r = o - _box(o, 3), ref - _box(ref, 3)
    tex = textured.expand_as(o)
    return {
        "noise_flat": float(err[flat.expand_as(err)].var()),
        # projection of the output's high frequencies on the reference's: residual noise is
        # uncorrelated with the reference and drops out, so this measures detail, not noise
        "detail_kept": float((hf_o[tex] * hf_r[tex]).mean() / hf_r[tex].pow(2).mean()),
        "lowfreq_error": float((_box(o, 5) - _box(ref, 5)).pow(2).mean()),
        "mse": float(err.pow(2).mean()),
    }


def fit_beta(mse, target_mse: float) -> float:
    """β in [0, 1] at which the blend's MSE, `mse(β)`, reaches the target, on the side of its
    minimum where MSE grows with β (more of the input's noise). Blending in a little of an unbiased
    input can lower the MSE first (it undoes some bias), so the search starts at the minimum, not
    at β = 0; a target below the minimum is unreachable and gets the minimising β."""
    lo = argmin_beta(mse)
    hi = 1.0
    if target_mse <= mse(lo):
        return lo
    for _ in range(32):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mse(mid) < target_mse else (lo, mid)
    return (lo + hi) / 2


def argmin_beta(f, iterations: int = 40) -> float:
    """β in [0, 1] minimising a unimodal f (golden section, one new evaluation per step)."""
    g = (5**0.5 - 1) / 2
    lo, hi = 0.0, 1.0
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = f(a), f(b)
    for _ in range(iterations):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = f(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = f(b)
    return (lo + hi) / 2


# Error spaces for the Fig. 18 comparison: (map of linear values into the space, per-pixel weight
# from the space's reference). Tonemapped is what people see; linear relative error,
# |d − r| / (r̄ + 0.01) with r̄ the reference's channel mean (one weight per pixel, so a saturated
# colour's dark channel does not blow up), is where an HDR firefly stays as large as it is.
SPACES = {"": (tonemap, lambda ref: 1.0), "hdr_": (lambda x: x, lambda ref: 1.0 / (ref.mean(1, keepdim=True) + 1e-2))}


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


def lambda_outputs(den: Denoiser, buf) -> tuple:
    """(session, {λ: output}, symmetric output) for one frame: the λ outputs from one feature pass,
    the symmetric one from the frozen backbone the specialiser was trained on."""
    sess = den.session(buf)
    outs = {lam: sess.denoise(lam) for lam in LAMBDAS}
    with torch.no_grad(), trunk(den.precision):  # the precision the λ outputs ran in
        sym_img = den.model.backbone(sess.inputs, sess.source)[0].float().permute(1, 2, 0).numpy()
    return sess, outs, sym_img


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/mitsuba/test")
    ap.add_argument("--model", default="lambda")
    ap.add_argument("--spp", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--limit", type=int, default=None)
    a = ap.parse_args(argv)
    out_dir = Path(a.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    den = Denoiser.load(a.model)
    frames = find_frames(a.data)
    rows, crops, fig_rows = [], None, []
    speed = []
    for name in sorted(frames)[: a.limit]:
        fs = frames[name]
        ref_img = fs.read("ref")["color"]
        ref = tonemapped(ref_img)
        flat, textured = region_masks(ref)
        for spp in a.spp:
            buf = fs.read(spp)
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
            rec = {"scene": name, "spp": spp, "lambda": {}}
            for lam, img in outs.items():
                m = study_frame(img, ref, flat, textured)
                with_asym = {**lin, "asym": as_tensor(img)}
                for prefix in SPACES:
                    m.update(
                        {
                            prefix + k: v
                            for k, v in compare_to_blends(with_asym, prefix, *masks[prefix]).items()
                            if not (prefix == "" and k == "mse")
                        }
                    )  # study_frame's mse is the tonemapped one
                rec["lambda"][str(lam)] = m
            rows.append(rec)
            if crops is None and spp == min(a.spp):
                crops = (buf["color"], outs, ref_img, flat)
            if spp == min(a.spp) and len(fig_rows) < 4:
                fig_rows.append(
                    (
                        name,
                        buf["color"],
                        sym_img,
                        outs[LAMBDAS[-1]],
                        ref_img,
                        rec["lambda"][str(LAMBDAS[-1])]["blend_beta"],
                        masks[""][0],
                    )
                )
            print(
                f"{name} {spp} spp: "
                + "  ".join(
                    f"λ={lam:g} noise {rec['lambda'][str(lam)]['noise_flat']:.2e} detail {rec['lambda'][str(lam)]['detail_kept']:.3f}"
                    for lam in LAMBDAS
                ),
                flush=True,
            )

    summary = {}
    for spp in a.spp:
        sel = [r for r in rows if r["spp"] == spp]
        summary[spp] = {
            str(lam): {k: float(np.mean([r["lambda"][str(lam)][k] for r in sel])) for k in sel[0]["lambda"][str(lam)]}
            for lam in LAMBDAS
        }
    checks = {}
    for spp, s in summary.items():
        noise = [s[str(l)]["noise_flat"] for l in LAMBDAS]
        detail = [s[str(l)]["detail_kept"] for l in LAMBDAS]
        checks[spp] = {
            "noise_rises_monotonically": all(x < y for x, y in zip(noise, noise[1:])),
            "detail_rises_monotonically": all(x < y for x, y in zip(detail, detail[1:])),
            "asymmetric_tails_lighter_than_blend": {
                str(l): s[str(l)]["p999"] < s[str(l)]["blend_p999"] for l in LAMBDAS[1:]
            },
            "asymmetric_tails_lighter_than_paper_blend": {
                str(l): s[str(l)]["p999"] < s[str(l)]["paperblend_p999"] for l in LAMBDAS[1:]
            },
            "asymmetric_tails_lighter_than_display_blend": {
                str(l): s[str(l)]["p999"] < s[str(l)]["displayblend_p999"] for l in LAMBDAS[1:]
            },
            "isolated_tails_lighter_than_blend": {
                str(l): s[str(l)]["p999_isolated"] < s[str(l)]["blend_p999_isolated"] for l in LAMBDAS[1:]
            },
            "hdr_isolated_tails_lighter_than_blend": {
                str(l): s[str(l)]["hdr_p999_isolated"] < s[str(l)]["hdr_blend_p999_isolated"] for l in LAMBDAS[1:]
            },
            "lighter_without_fireflies": {
                str(l): s[str(l)]["p999_no_fireflies"] < s[str(l)]["blend_p999_no_fireflies"] for l in LAMBDAS[1:]
            },
            "hdr_tails_lighter_than_blend": {
                str(l): s[str(l)]["hdr_p999"] < s[str(l)]["hdr_blend_p999"] for l in LAMBDAS[1:]
            },
            "hdr_kurtosis_lower_than_blend": {
                str(l): s[str(l)]["hdr_kurtosis"] < s[str(l)]["hdr_blend_kurtosis"] for l in LAMBDAS[1:]
            },
        }
    sp = {k: float(np.median([x[k] for x in speed])) for k in speed[0]}
    sp["speedup_lambda_change_vs_full"] = sp["full_s"] / sp["tail_s"]
    sp.update(precision=den.precision, native_bf16=native_bf16(), threads=torch.get_num_threads())
    digest = weights_digest(load_checkpoint(a.model)["model"])
    (out_dir / "asymmetric.json").write_text(
        json.dumps(
            {
                "model": a.model,
                "weights_digest": digest,
                "summary": summary,
                "checks": checks,
                "speed": sp,
                "rows": rows,
            },
            indent=1,
        )
    )
    plot(summary, out_dir / "asymmetric.png")
    if crops:
        crop_grid(*crops, out_dir / "asymmetric_crops.png")
    if fig_rows:
        fig18(fig_rows, spp=min(a.spp), path=out_dir / "fig18.png")
    print(json.dumps({"checks": checks, "speed": sp}, indent=1))
    return 0


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    asymmetric output at the largest λ | reference, all tonemapped the same way."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lam = LAMBDAS[-1]
    fig, axes = plt.subplots(len(rows), 4, figsize=(10, 2.6 * len(rows)), squeeze=False)
    for r, (name, noisy, sym, asym, ref, beta, fireflies) in enumerate(rows):
        count = F.avg_pool2d(fireflies.double(), size, 8)[0, 0]
        y, x = (int(v) * 8 for v in np.unravel_index(int(count.argmax()), tuple(count.shape)))
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
    from neurecon.io.ldr import write_ldr

    H, W = ref.shape[:2]
    err = np.abs(noisy - ref).mean(-1)
    y, x = np.unravel_index(
        np.argmax(F.avg_pool2d(torch.from_numpy(err)[None, None], size, 8)[0, 0].numpy()),
        ((H - size) // 8 + 1, (W - size) // 8 + 1),
    )
    y, x = y * 8, x * 8
    tiles = [noisy] + [outs[l] for l in LAMBDAS] + [ref]
    row = np.concatenate([t[y : y + size, x : x + size] for t in tiles], 1)
    row = np.repeat(np.repeat(row, 3, 0), 3, 1)
    write_ldr(path, row / (1 + row))


if __name__ == "__main__":
    raise SystemExit(main())
