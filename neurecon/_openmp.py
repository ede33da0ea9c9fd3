"""OpenMP's wait policy, chosen before torch loads its OpenMP runtime.

torch's CPU wheels run their intra-op threads on GNU OpenMP, whose threads spin at every barrier
before they sleep. On a machine whose cores are already busy (other processes), the spinning
thread burns the time slice its partner needs to reach the barrier, at every one of the few
hundred parallel operators of a network pass. Measured on a 2-core EPYC at load ~7 (2 threads,
`fast`, 256²): 2.28 s a frame with the default policy, 0.134 s with ``OMP_WAIT_POLICY=PASSIVE``
(threads sleep at once), 0.129 s on 1 thread; OIDN, whose TBB threads do not spin this way, took
0.32 s. On an idle machine spinning saves the wake-up at each operator, so the default is kept
there. The rule: unless the variable (or GOMP_SPINCOUNT) is set, or torch is already imported,
PASSIVE when the 1-minute load average is at least half the cores. ``OMP_WAIT_POLICY=ACTIVE``
restores spinning.
"""

from __future__ import annotations

import os
import sys


def choose_wait_policy() -> str | None:
    """Set OMP_WAIT_POLICY=PASSIVE for this process if the rule above says so; the value set, or None."""
    if "torch" in sys.modules or "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return None
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):  # no load average on this platform
        return None
    if load >= 0.5 * (os.cpu_count() or 1):
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        return "PASSIVE"
    return None
