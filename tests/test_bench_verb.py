"""`neurecon bench NAME`: every shipped bench/ command line has a name, names map to files that
exist, arguments reach the script, and an unknown name is a user error naming the known ones."""

from pathlib import Path

from neurecon.cli import main
from neurecon.cli.bench import BENCHES, bench_dir

ROOT = Path(__file__).resolve().parents[1]


def test_every_bench_script_has_a_name_and_every_name_a_script():
    assert bench_dir() == ROOT / "bench"
    scripts = {p.name for p in (ROOT / "bench").glob("*.py")}
    assert {s for s, _ in BENCHES.values()} == scripts


def test_list_and_unknown_name(capsys):
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("denoise", "speed", "temporal", "relight", "blind_sr", "onnx"):
        assert f"\n{name} " in "\n" + out
    assert "missing" not in out
    assert main(["bench", "nonesuch"]) == 2
    err = capsys.readouterr().err
    assert "unknown benchmark 'nonesuch'" in err and "denoise, speed" in err


def test_arguments_reach_the_script(capsys):
    assert main(["bench", "speed", "--help"]) == 0
    assert "usage: resolution.py" in capsys.readouterr().out
    assert main(["bench", "onnx", "--sizes", "8K"]) == 2  # the script's own argparse refuses it
    assert "invalid choice" in capsys.readouterr().err
