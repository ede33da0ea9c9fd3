"""HTML pages: the comparison report (``neurecon report DIR``, the demo's and the benchmark's
report) and the λ explorer.

The comparison report is one self-contained file: every image is embedded as a base64 PNG
(tonemapped Reinhard x/(1+x), sRGB, the display transform DSSIM uses). Per frame it shows a
before/after slider for each method against the reference (either side can be switched to any
other image; name tags ride on the split), zoomable crops where the methods' error is highest,
error maps (relMSE per pixel, and FLIP where the ``flip-evaluator`` package is installed) and the
metrics table; for a training run, its curves. The λ explorer (write_lambda_page) writes PNGs
beside its page and keeps its own λ slider.

A report directory (what ``neurecon demo --out DIR`` writes) holds, per frame::

    reference.exr | reference.pfm        the reference (required; `_ref`, `_gt`, `_target` names too)
    noisy.exr                            the noisy input (a multi-layer EXR: its colour is used)
    <method>.exr, …                      one image per method: neurecon.exr, oidn.exr, anything else

either in DIR itself or in its subdirectories (one frame each, named after the subdirectory).
A training run (``metrics.jsonl`` in DIR or a subdirectory) adds its curves.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path

import numpy as np

from .io.ldr import srgb_decode, tonemap_to_ldr, write_ldr

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
    """Windows where `noisy` is furthest from `ref` (relative squared error)."""
    return top_windows(((noisy - ref) ** 2 / (ref**2 + 1e-2)).mean(-1), n, size)


def top_windows(err: np.ndarray, n: int = 2, size: int = 48) -> list[tuple[int, int]]:
    """The top-left corners of the `n` non-overlapping size×size windows of highest mean `err`
    (H×W), searched on a grid of size/4."""
    H, W = err.shape[:2]
    size = min(size, H, W)
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


def png_uri(rgb: np.ndarray) -> str:
    """A display-ready H×W×3 image in [0, 1] (sRGB-encoded already) as a PNG data URI."""
    from PIL import Image

    q = np.round(np.clip(np.nan_to_num(rgb), 0, 1) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(q).save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def display_uri(img: np.ndarray) -> str:
    """A linear HDR image, tonemapped for display (Reinhard, sRGB), as a PNG data URI."""
    return png_uri(tonemap_to_ldr(_display(img)))


_PAGE_STYLE = """body{font-family:sans-serif;margin:1.5em;background:#fafafa;color:#222}
td{text-align:center;padding:4px;vertical-align:top} h2{margin-top:1.6em}
img{image-rendering:pixelated} table.m td,table.m th{border:1px solid #ccc;padding:4px 10px}
table.m{border-collapse:collapse} table.m td.best{font-weight:bold;background:#e3f3e3}
.cmp{display:inline-block;margin:0 1.2em 1.2em 0;vertical-align:top}
.view{position:relative;display:inline-block;line-height:0;cursor:ew-resize;user-select:none;touch-action:none}
.view img{display:block;-webkit-user-drag:none;pointer-events:none} .view img.left{position:absolute;left:0;top:0}
.view .bar{position:absolute;top:0;bottom:0;width:2px;margin-left:-1px;background:#fff;box-shadow:0 0 2px #000}
.view .tag{position:absolute;top:4px;font:12px/1.4 sans-serif;background:rgba(0,0,0,.6);color:#fff;padding:1px 5px}
.view .tag.l{transform:translateX(-100%);margin-left:-6px} .view .tag.r{margin-left:6px}
.cmp input[type=range]{display:block;margin:6px 0}
.crop{transition:transform .1s;transform-origin:top left} .crop.zoom{transform:scale(2.5);position:relative;z-index:2}
.maps img{max-width:100%} img.curves{max-width:100%}"""

# the slider widgets: every image is in IMAGES once; a widget's two <img> take their src from it
_PAGE_SCRIPT = """
function setup(w) {
  const imgs = IMAGES[w.dataset.frame], view = w.querySelector(".view"), left = w.querySelector("img.left"),
    right = w.querySelector("img.right"), s = w.querySelector("input.split"), ls = w.querySelector("select.lsel"),
    rs = w.querySelector("select.rsel"), bar = w.querySelector(".bar"), tl = w.querySelector(".tag.l"),
    tr = w.querySelector(".tag.r"), pos = w.querySelector(".pos");
  function show() {
    const p = +s.value;
    left.src = imgs[ls.value]; right.src = imgs[rs.value];
    left.style.clipPath = "inset(0 " + (100 - p) + "% 0 0)";
    bar.style.left = tl.style.left = tr.style.left = p + "%";
    tl.textContent = ls.value; tr.textContent = rs.value;
    pos.textContent = ls.value + " | " + rs.value + " at " + p + " %";
  }
  function drag(e) {
    const r = view.getBoundingClientRect();
    s.value = Math.round(100 * Math.min(1, Math.max(0, (e.clientX - r.left) / r.width))); show();
  }
  view.addEventListener("pointerdown", e => { e.preventDefault(); view.setPointerCapture(e.pointerId); drag(e); });
  view.addEventListener("pointermove", e => { if (e.buttons) drag(e); });
  [s, ls, rs].forEach(el => el.addEventListener("input", show));
  show();
}
document.querySelectorAll(".cmp").forEach(setup);
document.querySelectorAll("img.crop").forEach(im => im.addEventListener("click", () => im.classList.toggle("zoom")));
"""


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "image"


def frame_section(
    key: str,
    title: str,
    images: dict[str, np.ndarray],
    reference: np.ndarray,
    metrics: dict[str, dict] | None = None,
    crop: int = 48,
    flip: bool | None = None,
) -> tuple[str, dict[str, str]]:
    """One frame's part of the page (HTML) and its images (name -> data URI) for the sliders.
    `images`: method -> H×W×3 linear image, the noisy input first; `metrics`: method -> values
    (computed here when None: relMSE, SMAPE, DSSIM, and FLIP with `flip`)."""
    from . import metrics as M

    for name, img in images.items():
        if img.shape != reference.shape:
            raise ValueError(
                f"{title}: '{name}' is {img.shape[1]}×{img.shape[0]}, "
                f"the reference {reference.shape[1]}×{reference.shape[0]}"
            )
    flip = M.flip_available() if flip is None else flip
    flips = {n: M.flip_hdr(img, reference) for n, img in images.items()} if flip else {}
    if metrics is None:
        metrics = {
            n: {**M.denoise_metrics(img, reference), **({"flip": flips[n][1]} if flip else {})}
            for n, img in images.items()
        }
    else:
        metrics = {n: {**m, **({"flip": flips[n][1]} if n in flips else {})} for n, m in metrics.items()}
    uris = {n: display_uri(img) for n, img in images.items()}
    uris["reference"] = display_uri(reference)
    names = list(images)
    noisy, methods = names[0], names[1:] or names
    # crops where the methods (not the input) are furthest from the reference: the hard regions
    worst = np.max([((images[m] - reference) ** 2 / (reference**2 + 1e-2)) for m in methods], axis=0)
    crops = top_windows(worst.mean(-1), size=crop)
    options = "".join(f"<option>{html.escape(n)}</option>" for n in uris)

    def select(cls: str, chosen: str) -> str:
        return (
            f'<select class="{cls}">'
            + options.replace(
                f"<option>{html.escape(chosen)}</option>", f"<option selected>{html.escape(chosen)}</option>"
            )
            + "</select>"
        )

    h, w = reference.shape[:2]
    scale = max(1, min(4, 384 // max(h, w)))
    size = f'width="{w * scale}" height="{h * scale}"'
    sliders = "".join(
        f'<div class="cmp" data-frame="{html.escape(key)}"><div class="view"><img class="right" {size} alt="">'
        f'<img class="left" {size} alt=""><div class="bar"></div>'
        '<span class="tag l"></span><span class="tag r"></span></div>'
        f'<input type="range" class="split" min="0" max="100" value="50" style="width:{w * scale}px">'
        f'{select("lsel", m)} vs {select("rsel", "reference")} <span class="pos"></span></div>'
        for m in methods
    )
    f = max(1, 144 // crop)
    crop_rows = "".join(
        f"<tr><th>crop {i}<br>(y={y}, x={x})</th>"
        + "".join(
            f'<td><img class="crop" width="{crop * f}" height="{crop * f}" title="click to zoom" '
            f'src="{display_uri(img[y : y + crop, x : x + crop])}"><br>{html.escape(n)}</td>'
            for n, img in {**images, "reference": reference}.items()
        )
        + "</tr>"
        for i, (y, x) in enumerate(crops)
    )
    err_cells = "".join(
        f'<td><img {size} src="{png_uri(error_map(img, reference))}"><br>{html.escape(n)}: relMSE</td>'
        for n, img in images.items()
    )
    flip_cells = "".join(
        f'<td><img {size} src="{png_uri(fmap)}"><br>{html.escape(n)}: FLIP {mean:.4f}</td>'
        for n, (fmap, mean) in flips.items()
    )
    keys = [k for k in ("relmse", "smape", "dssim", "flip", "seconds") if any(k in m for m in metrics.values())]
    keys += sorted({k for m in metrics.values() for k in m} - set(keys))
    best = {
        k: min((m[k] for n, m in metrics.items() if n != noisy and isinstance(m.get(k), (int, float))), default=None)
        for k in keys
    }
    table = "<tr><th>method</th>" + "".join(f"<th>{html.escape(k)}</th>" for k in keys) + "</tr>"
    for n, m in metrics.items():
        table += (
            f"<tr><td>{html.escape(n)}</td>"
            + "".join(
                ('<td class="best">' if n != noisy and m.get(k) == best[k] and k != "seconds" else "<td>")
                + f"{m[k]:.4g}</td>"
                if isinstance(m.get(k), (int, float))
                else "<td></td>"
                for k in keys
            )
            + "</tr>"
        )
    flip_note = (
        "FLIP: HDR-FLIP (flip-evaluator), mean over pixels."
        if flip
        else "FLIP skipped: the flip-evaluator package is not installed."
    )
    doc = f"""<section class="frame" id="{html.escape(key)}"><h2>{html.escape(title)}</h2>
<table class="m">{table}</table>
<p>relMSE and SMAPE on linear HDR radiance; DSSIM on tonemapped (Reinhard + sRGB) images; lower is better.
{flip_note}</p>
<h3>before / after (drag on the image or the slider; either side can show any image)</h3>{sliders}
<h3>crops where the error is highest (click to zoom)</h3><table>{crop_rows}</table>
<h3>error maps</h3><table class="maps"><tr>{err_cells}</tr>{f"<tr>{flip_cells}</tr>" if flips else ""}</table>
</section>"""
    return doc, uris


def curves_section(run_dir: str | Path) -> str:
    """A training run's curves (training loss and each validation metric) from its metrics.jsonl,
    as one embedded PNG, and the last validation row."""
    from .train.curves import plot_history

    run = Path(run_dir)
    history = []
    for line in (run / "metrics.jsonl").read_text().splitlines():
        try:
            history.append(json.loads(line))
        except json.JSONDecodeError:  # a torn last line of a run still writing
            continue
    if not history:
        return f"<section><h2>training run {html.escape(run.name)}</h2><p>metrics.jsonl is empty.</p></section>"
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "curves.png"
        plot_history(history, png)
        uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")
    last_val = next((h for h in reversed(history) if any(k.startswith("val_") for k in h)), None)
    steps = max(h.get("step", 0) for h in history)
    val = (
        ""
        if last_val is None
        else "<p>last validation (step {}): {}</p>".format(
            last_val.get("step"), ", ".join(f"{k[4:]} {v:.4g}" for k, v in last_val.items() if k.startswith("val_"))
        )
    )
    return (
        f'<section class="run"><h2>training run {html.escape(run.name)} ({steps} iterations)</h2>'
        f'<img class="curves" src="{uri}" alt="training curves">{val}</section>'
    )


def page(
    title: str,
    sections: list[str],
    images: dict[str, dict[str, str]],
    notes: str = "",
    links: dict[str, str] | None = None,
) -> str:
    see_also = "".join(f'<p><a href="{html.escape(url)}">{html.escape(c)}</a></p>' for c, url in (links or {}).items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_PAGE_STYLE}</style></head><body>
<h1>{html.escape(title)}</h1><p>{html.escape(notes)}</p>{see_also}
{"".join(sections)}
<script>const IMAGES = {json.dumps(images)};{_PAGE_SCRIPT}</script>
</body></html>"""


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
    """The report page of one frame as `out_dir`/index.html (self-contained) and its metrics.json.
    `images`: method name -> H×W×3 linear image (the first one is the noisy input); `links`:
    caption -> relative URL of related pages (e.g. the λ explorer)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    section, uris = frame_section("frame", title, images, reference, metrics, crop)
    (out / "index.html").write_text(page(title, [section], {"frame": uris}, notes, links))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    return out / "index.html"


REFERENCE_NAMES = ("reference", "ref", "gt", "target")
IMAGE_SUFFIXES = (".exr", ".pfm", ".hdr.exr")
# the order methods are shown in (the noisy input first); any other image follows, by name
METHOD_ORDER = ("noisy", "neurecon", "oidn")


def _images_in(d: Path) -> list[Path]:
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in (".exr", ".pfm"))


def _is_reference(p: Path) -> bool:
    stem = p.name.split(".")[0].lower()
    return stem in REFERENCE_NAMES or any(stem.endswith(f"_{r}") for r in REFERENCE_NAMES)


def _method_name(p: Path) -> str:
    return p.name.split(".")[0]


def read_frame_dir(d: str | Path) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """(method -> colour, reference) of a report frame directory (module docstring), or None
    when it has no reference or nothing to compare with it."""
    from .io import read_buffers

    d = Path(d)
    files = _images_in(d)
    refs = [p for p in files if _is_reference(p)]
    if not refs:
        return None
    if len(refs) > 1:
        raise ValueError(f"{d}: several references ({', '.join(p.name for p in refs)}); keep one")
    others = [p for p in files if p not in refs]
    if not others:
        return None
    rank = {n: i for i, n in enumerate(METHOD_ORDER)}
    others.sort(key=lambda p: (rank.get(_method_name(p).lower(), len(rank)), p.name))
    images = {}
    for p in others:
        images[_method_name(p)] = read_buffers(p)["color"]
    return images, read_buffers(refs[0])["color"]


def write_report_dir(
    d: str | Path, out: str | Path | None = None, title: str | None = None, crop: int = 48
) -> tuple[Path, dict]:
    """The report page of report directory `d` (module docstring) written to `out` (default
    d/report.html); returns its path and a summary (frames, runs, metrics, flip)."""
    from . import metrics as M

    d = Path(d)
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: not a directory")
    candidates = [d] + sorted(p for p in d.iterdir() if p.is_dir())
    sections, images, summary = [], {}, {"frames": {}, "runs": [], "flip": M.flip_available()}
    for c in candidates:
        found = read_frame_dir(c)
        if found is not None:
            key = "frame" if c == d else _slug(c.name)
            section, uris = frame_section(key, c.name if c != d else f"{d.name or d.resolve().name}", *found, crop=crop)
            sections.append(section)
            images[key] = uris
            summary["frames"][c.name] = list(found[0])
        if (c / "metrics.jsonl").is_file():
            sections.append(curves_section(c))
            summary["runs"].append(c.name)
    if not sections:
        raise ValueError(
            f"{d}: nothing to report: no reference.exr (or *_ref.exr) with other images beside it, "
            "in it or its subdirectories, and no training run (metrics.jsonl)"
        )
    out = Path(out) if out else d / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    from .io.atomic import atomic_output

    doc = page(title or f"neurecon report: {d.resolve().name}", sections, images)
    with atomic_output(out) as tmp:
        Path(tmp).write_text(doc)
    return out, summary


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
