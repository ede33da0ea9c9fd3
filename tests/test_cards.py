"""Cards are generated from recipes: refreshing a shipped card rewrites its description from the
recipe and leaves the weights as they were."""

from __future__ import annotations

import shutil

from neurecon.models import SHIPPED, WEIGHTS_DIR, read_file, weights_digest
from neurecon.models.card import refresh_card
from neurecon.tasks.denoise.task import describe_model


def test_refresh_card_regenerates_the_description_and_keeps_the_weights(tmp_path):
    src = WEIGHTS_DIR / SHIPPED["fast"].file
    pt = tmp_path / src.name
    shutil.copy(src, pt)
    shutil.copy(src.with_suffix(".md"), pt.with_suffix(".md"))
    (tmp_path / "recipe.yaml").write_text(
        "task: {name: denoise, model: {arch: unet, widths: [8, 16, 24, 32], kernel: 3}, loss: l1}\n"
    )
    refresh_card(pt, tmp_path / "recipe.yaml")
    card = read_file(pt)["card"]
    want = describe_model({"model": {"arch": "unet", "widths": [8, 16, 24, 32], "kernel": 3}, "loss": "l1"})
    assert card["description"] == want and "widths 8/16/24/32" in want and "3×3" in want
    assert card["recipe"] == str(tmp_path / "recipe.yaml")
    md = pt.with_suffix(".md").read_text()
    assert md.splitlines()[2] == want and md.count("- recipe: ") == 1
    assert "## Config" in md and md.startswith("# unet_fast\n\n")
    assert weights_digest(read_file(pt)["model"]) == weights_digest(read_file(src)["model"])
    refresh_card(pt, tmp_path / "recipe.yaml")  # idempotent: one description, one recipe line
    assert pt.with_suffix(".md").read_text() == md
