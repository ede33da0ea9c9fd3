"""onnxruntime vs torch vs OIDN: the command line of neurecon.studies.onnx_speed (not bench/onnx.py:
this directory is first on sys.path, and a script named onnx would shadow the onnx package).

.venv/bin/python bench/onnx_speed.py                              # high (default) and fast, 256² and 1080p
.venv/bin/python bench/onnx_speed.py --models fast --sizes 256² --rounds 2
"""

from __future__ import annotations

import argparse

# neurecon before torch: it picks the OpenMP wait policy before torch loads its runtime
from neurecon.studies import onnx_speed, resolution


def main(argv=None) -> int:
    import torch

    ap = argparse.ArgumentParser(description=onnx_speed.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["high", "fast"])
    ap.add_argument("--sizes", nargs="+", default=["256²", "1080p"], choices=list(resolution.SIZES))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--maxmem", type=int, default=2048, help="both backends' memory budget in MB (the default's)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/results/onnx")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    result = onnx_speed.run(a.models, a.sizes, a.rounds, a.maxmem, a.out)
    print(onnx_speed.markdown_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
