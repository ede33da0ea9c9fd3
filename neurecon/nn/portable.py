"""A switch for portable ops: graph export (ONNX) sees plain operators only.

The eager inference path takes shortcuts no exporter can follow: oneDNN convolutions with a fused
ReLU (``torch.ops.mkldnn._convolution_pointwise``), a custom autograd Function for the kernel
application, kernel heads run band by band in a Python loop whose band count depends on the frame
size, in-place phase writes of the split up-convolution, autocast regions. Inside
:func:`portable_ops` each of them takes its textbook form instead (conv then ReLU, Σ_q shift·weight,
up2 + concat + conv, no autocast): the same function, equal to float rounding (the export test
checks it), and every shape stays symbolic, so the graph takes any H×W.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_PORTABLE = [False]


def portable() -> bool:
    """True inside :func:`portable_ops` (a trace for graph export)."""
    return _PORTABLE[0]


@contextlib.contextmanager
def portable_ops() -> Iterator[None]:
    old = _PORTABLE[0]
    _PORTABLE[0] = True
    try:
        yield
    finally:
        _PORTABLE[0] = old
