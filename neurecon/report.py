"""HTML comparison reports: noisy / neurecon / OIDN / reference side by side, with zoomed crops,
relative-error maps and a metrics table. Images are written as PNG next to `index.html`.

Crops are chosen where the methods disagree most with the reference (highest local error of
the noisy input), so the report shows the hard regions, not a flat wall.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np

from .io.ldr import srgb_decode, write_ldr

_STYLE = """body{font-family:sans-serif;margin:1.5em;background:#fafafa}
td{text-align:center;padding:4px;vertical-align:top}
img{image-rendering:pixelated;max-width:360px} table.m td,table.m th{border:1px solid #ccc;padding:4px 10px}
table.m{border-collapse:collapse} tr.on td{background:#ffe9a8} input[type=range]{width:360px}"""


def _display(img: np.ndarray) -> np.ndarray:
    """Reinhard x/(1+x); write_ldr then sRGB-encodes: the display transform DSSIM uses."""
    x = np.clip(np.nan_to_num(img), 0, None)
    return x / (1 + x)


def error_map(d: np.ndarray, r: np.ndarray, vmax: float = 0.5) -> np.ndarray:
    """Relative squared error per pixel (mean over channels), as an inferno-like RGB heat map."""
    import matplotlib

    rel = (((d - r) ** 2) / (r**2 + 1e-2)).mean(-1)
    rgb = matplotlib.colormaps["inferno"](np.clip(np.sqrt(rel / vmax), 0, 1))[..., :3]
    return rgb.astype(np.float32)


def pick_crops(noisy: np.ndarray, ref: np.ndarray, n: int = 2, size: int = 48) -> list[tuple[int, int]]:
    H, W = ref.shape[:2]
    size = min(size, H, W)
    err = ((noisy - ref) ** 2 / (ref**2 + 1e-2)).mean(-1)
    best: list[tuple[int, int]] = []
    step = max(4, size // 4)
    cands = [
        (float(err[y : y + size, x : x + size].mean()), y, x)
        for y in range(0, H - size + 1, step)
        for x in range(0, W - size + 1, step)
    ]
    for _, y, x in sorted(cands, reverse=True):
        if all(abs(y - by) >= size or abs(x - bx) >= size for by, bx in best):
            best.append((y, x))
        if len(best) == n:
            break
    return best


def _upscale(img: np.ndarray, f: int) -> np.ndarray:
    return np.repeat(np.repeat(img, f, 0), f, 1)


def write_report(
    out_dir: str | Path,
    images: dict[str, np.ndarray],
    reference: np.ndarray,
    metrics: dict[str, dict],
    title: str = "neurecon report",
    notes: str = "",
    crop: int = 48,
    links: dict[str, str] | None = None,
) -> Path:
    """`images`: method name -> H×W×3 linear image (the first one is the noisy input);
    `links`: caption -> relative URL of related pages (e.g. the λ explorer)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(images) + ["reference"]
    all_imgs = {**images, "reference": reference}
    crops = pick_crops(next(iter(images.values())), reference, size=crop)
    f = max(1, 192 // crop)
    rows_full, rows_err, rows_crop = [], [], [[] for _ in crops]
    for name in names:
        slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
        img = all_imgs[name]
        write_ldr(out / f"{slug}.png", _display(img))
        rows_full.append(f'<td><img src="{slug}.png"><br>{html.escape(name)}</td>')
        if name != "reference":
            write_ldr(out / f"{slug}_err.png", srgb_decode(error_map(img, reference)))
            rows_err.append(f'<td><img src="{slug}_err.png"><br>{html.escape(name)} rel. error</td>')
        else:
            rows_err.append("<td></td>")
        for i, (y, x) in enumerate(crops):
            c = _upscale(img[y : y + crop, x : x + crop], f)
            write_ldr(out / f"{slug}_crop{i}.png", _display(c))
            rows_crop[i].append(f'<td><img src="{slug}_crop{i}.png"></td>')
    keys = sorted({k for m in metrics.values() for k in m})
    table = "<tr><th>method</th>" + "".join(f"<th>{html.escape(k)}</th>" for k in keys) + "</tr>"
    for name, m in metrics.items():
        table += (
            f"<tr><td>{html.escape(name)}</td>"
            + "".join(f"<td>{m[k]:.4g}</td>" if isinstance(m.get(k), (int, float)) else "<td></td>" for k in keys)
            + "</tr>"
        )
    crop_html = "".join(
        f"<h3>crop {i} at (y={y}, x={x})</h3><table><tr>{''.join(r)}</tr></table>"
        for i, ((y, x), r) in enumerate(zip(crops, rows_crop))
    )
    see_also = "".join(
        f'<p><a href="{html.escape(url)}">{html.escape(caption)}</a></p>' for caption, url in (links or {}).items()
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1><p>{html.escape(notes)}</p>{see_also}
<h2>metrics</h2><table class="m">{table}</table>
<p>relMSE and SMAPE on linear HDR radiance; DSSIM on tonemapped (Reinhard + sRGB) images; lower is better.</p>
<h2>images</h2><table><tr>{"".join(rows_full)}</tr><tr>{"".join(rows_err)}</tr></table>
<h2>crops (highest input error)</h2>{crop_html}
</body></html>"""
    (out / "index.html").write_text(doc)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return out / "index.html"


def write_lambda_page(
    out_dir: str | Path,
    outputs: dict[float, np.ndarray],
    noisy: np.ndarray,
    timing: dict,
    reference: np.ndarray | None = None,
    table: dict[float, dict] | None = None,
    title: str = "neurecon λ explorer",
    notes: str = "",
    crop: int = 48,
    exr_names: list[str] | None = None,
) -> Path:
    """A static page with a λ slider over precomputed outputs (`outputs`: λ -> H×W×3 linear image).
    Its PNGs are named by slider position (`step<i>*.png`); `exr_names` are the files that hold
    each λ's output, shown under the slider.

    Crops are where λ changes the output most (largest λ against the smallest), the only places
    where choosing λ matters; the change map shows the same per pixel."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lams = sorted(outputs)
    lo, hi = outputs[lams[0]], outputs[lams[-1]]
    crops = pick_crops(hi, lo, size=crop)
    f = max(1, 192 // crop)

    def save(stem: str, img: np.ndarray) -> None:
        write_ldr(out / f"{stem}.png", _display(img))
        for j, (y, x) in enumerate(crops):
            write_ldr(out / f"{stem}_crop{j}.png", _display(_upscale(img[y : y + crop, x : x + crop], f)))

    fixed = {"noisy input": ("noisy", noisy)}
    if reference is not None:
        fixed["reference"] = ("reference", reference)
    for stem, img in fixed.values():
        save(stem, img)
    for i, lam in enumerate(lams):
        save(f"step{i}", outputs[lam])
        write_ldr(out / f"step{i}_change.png", srgb_decode(error_map(outputs[lam], lo, vmax=0.05)))

    def cell(src: str, caption: str, live: bool = False) -> str:
        attr = f' data-src="{src.replace("step0", "step{i}")}"' if live else ""
        return f'<td><img src="{src}"{attr}><br>{caption}</td>'

    label = '<span class="lam"></span>'
    full = [cell("noisy.png", "noisy input"), cell("step0.png", f"λ = {label}", True)]
    full += [cell("reference.png", "reference")] if reference is not None else []
    full += [cell("step0_change.png", f"change from λ = {lams[0]:g} (relative)", True)]
    crop_rows = "".join(
        "<tr>"
        + cell(f"noisy_crop{j}.png", f"noisy, crop at (y={y}, x={x})")
        + cell(f"step0_crop{j}.png", f"λ = {label}", True)
        + (cell(f"reference_crop{j}.png", "reference") if reference is not None else "")
        + "</tr>"
        for j, (y, x) in enumerate(crops)
    )
    metric_rows = ""
    if table:
        keys = sorted({k for m in table.values() for k in m})
        metric_rows = (
            '<h2>against the reference</h2><table class="m"><tr><th>λ</th>'
            + "".join(f"<th>{html.escape(k)}</th>" for k in keys)
            + "</tr>"
            + "".join(
                f'<tr data-i="{i}"><td>{lam:g}</td>' + "".join(f"<td>{table[lam][k]:.4g}</td>" for k in keys) + "</tr>"
                for i, lam in enumerate(lams)
            )
            + "</table><p>relMSE and SMAPE on linear HDR radiance; DSSIM on tonemapped images.</p>"
        )
    speed = (
        f"features once: {timing['features_seconds']:.3f} s; a λ change: "
        f"{timing['lambda_change_seconds']:.3f} s; a full denoise (features + λ tail): "
        f"{timing['full_denoise_seconds']:.3f} s "
        f"({timing['speedup']:.2f}× faster to change λ; {timing['precision']})"
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1><p>{html.escape(notes)}. λ = 1 is the plain denoiser; larger λ keeps more
of the input's detail and noise where the denoiser is unsure. Drag the slider (or use the arrow keys).</p>
<p><input type="range" id="lam" min="0" max="{len(lams) - 1}" step="1" value="0"> λ = <b class="lam"></b>
<span class="exr"></span></p>
<p>{html.escape(speed)}</p>
<table><tr>{"".join(full)}</tr></table>
<h2>crops (where λ changes the output most)</h2><table>{crop_rows}</table>
{metric_rows}
<script>
const L = {json.dumps([float(l) for l in lams])}, E = {json.dumps(exr_names or [])};
const s = document.getElementById("lam");
function show() {{
  const i = +s.value;
  document.querySelectorAll("img[data-src]").forEach(im => im.src = im.dataset.src.replace("{{i}}", i));
  document.querySelectorAll(".lam").forEach(e => e.textContent = L[i]);
  document.querySelectorAll(".exr").forEach(e => e.textContent = E[i] ? "(" + E[i] + " beside this page)" : "");
  document.querySelectorAll("tr[data-i]").forEach(r => r.className = +r.dataset.i === i ? "on" : "");
}}
s.addEventListener("input", show); show();
</script>
</body></html>"""
    (out / "index.html").write_text(doc)
    return out / "index.html"
