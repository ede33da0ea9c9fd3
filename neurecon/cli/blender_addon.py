"""`neurecon blender-addon --zip FILE`: write the Blender add-on as an installable zip."""

from __future__ import annotations


def add_parser(sub) -> None:
    b = sub.add_parser(
        "blender-addon",
        help="write the Blender add-on (denoise the last Cycles render or an EXR sequence) as an installable zip",
    )
    b.add_argument("--zip", required=True, metavar="FILE", help="the zip to write, e.g. neurecon_blender.zip")
    b.set_defaults(func=run)


def run(a) -> int:
    from pathlib import Path

    from ..blender import ADDON_MODULE, build_zip

    if Path(a.zip).suffix.lower() != ".zip":
        raise ValueError(f"{a.zip}: the add-on is a .zip (Blender installs only zips and .py files)")
    names = build_zip(a.zip)
    print(
        f"wrote {a.zip} ({len(names)} files): Blender › Edit › Preferences › Add-ons › Install from Disk… "
        f"(or Get Extensions › Install from Disk…), enable '{ADDON_MODULE}', then set its neurecon Python "
        "(docs/blender.md)"
    )
    return 0
