"""Child processes that cannot outlive their parent."""

from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> None:
    """For `preexec_fn`: the kernel sends `sig` to the child when the parent dies, even by
    SIGKILL. If the parent died before prctl took effect no signal would come, hence the
    getppid() check. PDEATHSIG fires when the forking *thread* ends: fork from the main thread."""
    _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
