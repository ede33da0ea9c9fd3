"""`neurecon demo`: the README's first command. Render one test-split scene with Mitsuba, denoise
it with the shipped default (and OIDN when pyoidn is installed), write EXRs, metrics and the
self-contained HTML report (report/index.html, neurecon.report), with a λ explorer page for the
λ control (`lambda`, on `high_v1`). The output directory is a report directory: `neurecon report OUT` rebuilds
the page from its EXRs (noisy.exr, reference.exr, neurecon.exr, oidn.exr)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from ... import metrics, peers
from ...infer.denoiser import Denoiser
from ...io import write_buffers, write_image
from ...models import SHIPPED, WEIGHTS_DIR
from ...report import write_report
from .explore import explore


def run_demo(
    out: str, size: int = 256, spp: int = 4, ref_spp: int = 1024, seed: int = 200_000, model: str | None = None
) -> int:
    from ...render.mitsuba_backend import current_variant, mitsuba, render_buffers
    from ...render.scenes import random_scene

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    mi = mitsuba()
    scene = mi.load_dict(random_scene(seed, size))
    t = time.perf_counter()
    noisy = render_buffers(scene, spp, seed=1)
    t_noisy = time.perf_counter() - t
    print(
        f"rendered scene {seed} at {size}×{size}, {spp} spp in {t_noisy:.1f} s ({current_variant()}); "
        f"reference at {ref_spp} spp …",
        flush=True,
    )
    t = time.perf_counter()
    ref = render_buffers(scene, ref_spp, seed=2)["color"]
    t_ref = time.perf_counter() - t
    write_buffers(out_dir / "noisy.exr", noisy)
    write_image(out_dir / "reference.exr", ref)

    den = Denoiser.load(model)
    den.denoise_buffers(noisy)  # warm-up: first call allocates
    ours = den.denoise_buffers(noisy)
    images = {f"noisy {spp} spp": noisy["color"], "neurecon": ours}
    timing = {"neurecon": den.last_seconds}
    if peers.available():
        peers.warm_up()
        images["OIDN 2.5"], timing["OIDN 2.5"] = peers.oidn_denoise(noisy["color"], noisy["albedo"], noisy["normal"])
    for name, img in list(images.items())[1:]:  # the noisy input is noisy.exr already, with its features
        write_image(out_dir / f"{name.split()[0].lower()}.exr", img)
    table = {
        name: {**metrics.denoise_metrics(img, ref), **({"seconds": timing[name]} if name in timing else {})}
        for name, img in images.items()
    }
    card = den.card.get("name", model or "default")
    links = {}
    if model is None and (WEIGHTS_DIR / SHIPPED["lambda"].file).exists():  # the λ control (of high_v1)
        lam_page, t = explore(
            Denoiser.load("lambda"),
            noisy,
            out_dir / "report" / "lambda",
            reference=ref,
            title=f"neurecon demo: λ on scene {seed}, {spp} spp",
        )
        links["λ explorer: how much noise to keep"] = lam_page.relative_to(out_dir / "report").as_posix()
        print(
            f"λ explorer: {lam_page} (a λ change {t['lambda_change_seconds']:.3f} s, "
            f"a full denoise (features + tail) {t['full_denoise_seconds']:.3f} s)"
        )
    html = write_report(
        out_dir / "report",
        images,
        ref,
        table,
        title=f"neurecon demo: scene {seed}, {spp} spp",
        notes=f"model {card}; renderer Mitsuba {current_variant()}, box filter; "
        f"reference {ref_spp} spp ({t_ref:.0f} s).",
        links=links,
    )
    (out_dir / "metrics.json").write_text(json.dumps(table, indent=1))
    w = max(len(n) for n in table)
    print(f"{'':<{w}}  {'relMSE':>9} {'SMAPE':>8} {'DSSIM':>8} {'seconds':>8}")
    for name, m in table.items():
        sec = f"{m['seconds']:>8.3f}" if "seconds" in m else f"{'–':>8}"
        print(f"{name:<{w}}  {m['relmse']:>9.4f} {m['smape']:>8.4f} {m['dssim']:>8.4f} {sec}")
    print(f"report: {html}")
    return 0
