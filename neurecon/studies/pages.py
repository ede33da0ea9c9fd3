"""The report pages in a real browser: Debian's Chromium, headless, driven by Playwright.

Playwright's Python package drives the system browser (`executable_path`, /usr/bin/chromium or
$NEURECON_CHROMIUM); it never downloads one. Each check drags a slider with the mouse as a user
would, then reads back what the page shows: the labels' text and position, and the pixels of the
images (element screenshots), which must change where the slider uncovered another image and
stay put elsewhere. A full-page screenshot of each page is saved.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

# what a closed network and a root sandbox need (the machine notes): no sandbox, no GPU, no QUIC,
# and none of Chromium's background connections (refused here, many at a time). Playwright gives
# every launch a fresh temporary profile (its own --user-data-dir).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for c in (os.environ.get("NEURECON_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return None


def unavailable() -> str | None:
    """Why the browser checks cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; no browser download needed)"
    if chromium_path() is None:
        return "no Chromium at /usr/bin/chromium (apt-get install chromium, or set NEURECON_CHROMIUM)"
    return None


@contextlib.contextmanager
def chromium_page(width: int = 1280, height: int = 1000) -> Iterator:
    """A Playwright page in headless system Chromium; closed on exit."""
    why = unavailable()
    if why:
        raise RuntimeError(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.errors = errors  # type: ignore[attr-defined]  # the page's script errors, for the checks
            yield page
        finally:
            browser.close()


def pixels(locator) -> np.ndarray:
    """What the browser shows of an element, as an H×W×3 uint8 array (an element screenshot)."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB"))


def drag(page, box: dict, x0: float, x1: float, y: float = 0.5) -> None:
    """Press the mouse at fraction x0 of `box` (a bounding box), move to x1 in steps, release."""
    yy = box["y"] + y * box["height"]
    page.mouse.move(box["x"] + x0 * box["width"], yy)
    page.mouse.down()
    page.mouse.move(box["x"] + x1 * box["width"], yy, steps=8)
    page.mouse.up()


def _band(img: np.ndarray, a: float, b: float) -> np.ndarray:
    """Columns [a, b) of an image, below the name tags' row (top 30 px)."""
    w = img.shape[1]
    return img[30:, int(a * w) : int(b * w)].astype(np.int16)


def check_report(path: str | Path, screenshot: str | Path | None = None) -> dict:
    """Open a report page, switch the first slider's left image to the noisy input, drag the split
    from 50 % to 20 %, and measure: the readout and tags before and after, and the mean absolute
    change (0–255) of the shown pixels in the uncovered band (between 20 % and 50 %) and in the
    bands no image boundary crossed (left of 20 %, right of 50 %)."""
    with chromium_page() as page:
        page.goto(Path(path).resolve().as_uri())
        w = page.locator(".cmp").first
        left_name = w.locator("select.lsel option").first.text_content()
        w.locator("select.lsel").select_option(left_name)
        view = w.locator(".view")
        view.scroll_into_view_if_needed()
        before = {
            "readout": w.locator(".pos").text_content(),
            "left_tag": w.locator(".tag.l").text_content(),
            "left_tag_x": w.locator(".tag.l").bounding_box()["x"],
            "pixels": pixels(view),
        }
        box = view.bounding_box()
        drag(page, box, 0.5, 0.2)
        after = {
            "readout": w.locator(".pos").text_content(),
            "left_tag": w.locator(".tag.l").text_content(),
            "left_tag_x": w.locator(".tag.l").bounding_box()["x"],
            "pixels": pixels(view),
            "value": int(w.locator("input.split").input_value()),
        }
        if screenshot:
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        a, b = before.pop("pixels"), after.pop("pixels")
        return {
            "left": left_name,
            "before": before,
            "after": after,
            "view_width": box["width"],
            "changed_uncovered": float(np.abs(_band(a, 0.25, 0.45) - _band(b, 0.25, 0.45)).mean()),
            "changed_left": float(np.abs(_band(a, 0.02, 0.15) - _band(b, 0.02, 0.15)).mean()),
            "changed_right": float(np.abs(_band(a, 0.6, 0.95) - _band(b, 0.6, 0.95)).mean()),
            "script_errors": list(page.errors),  # type: ignore[attr-defined]
        }


def check_lambda_page(path: str | Path, screenshot: str | Path | None = None) -> dict:
    """Open a λ explorer page and drag its slider from the first λ to the last: the λ labels, the
    highlighted metrics row, the live image's file, and the mean absolute change of its pixels."""
    with chromium_page() as page:
        page.goto(Path(path).resolve().as_uri())
        slider = page.locator("#lam")
        live = page.locator("img[data-src]").first

        def state() -> dict:
            on = page.locator("tr.on")
            return {
                "label": page.locator("b.lam").text_content(),
                "value": int(slider.input_value()),
                "src": live.get_attribute("src"),
                "row": on.get_attribute("data-i") if on.count() else None,
            }

        live.wait_for()
        page.wait_for_function("[...document.images].every(i => i.complete)")
        before, a = state(), pixels(live)
        box = slider.bounding_box()
        drag(page, box, 0.01, 0.99)
        page.wait_for_function("[...document.images].every(i => i.complete)")
        after, b = state(), pixels(live)
        if screenshot:
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        return {
            "before": before,
            "after": after,
            "max": int(slider.get_attribute("max") or 0),
            "changed": float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean()),
            "script_errors": list(page.errors),  # type: ignore[attr-defined]
        }
