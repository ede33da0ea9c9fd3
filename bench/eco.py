"""ECO study (vanilla vs KD vs ECO training of one small SR network): the command line of
neurecon.studies.eco (its docstring, printed by --help, describes the study).

    python bench/eco.py                 # train (or resume / read) the three students, write the results
    python bench/eco.py --skip-train    # only read finished runs
    python bench/eco.py --export        # also ship the vanilla and ECO students as sr_vanilla_x2 / sr_eco_x2
"""

from __future__ import annotations

import argparse
from pathlib import Path

from neurecon.studies import eco

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=eco.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--configs",
        default=str(ROOT / "configs" / "sr"),
        help="folder with {vanilla,kd,eco}_x2.yaml (or the flat sr_{vanilla,kd,eco}_x2.yaml of configs/history)",
    )
    p.add_argument("--runs", default=None, help="put the runs in RUNS/<recipe> instead of the configs' run.out")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override entries of all three configs")
    p.add_argument("--skip-train", action="store_true", help="only read finished runs")
    p.add_argument("--export", action="store_true", help="export the vanilla and ECO students as shipped weights")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    eco.run(
        root=ROOT,
        configs=a.configs,
        out=a.out,
        runs=a.runs,
        overrides=a.set,
        skip_train=a.skip_train,
        export=a.export,
        quiet=a.quiet,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
