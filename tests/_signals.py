"""The signals that stop ``lrfind``, for the tests that send them to a real process."""

from __future__ import annotations

import signal

#: Each signal that stops lrfind and its exit code (SIGHUP, POSIX's hangup, is not on Windows).
STOPPING = [(signal.SIGINT, 130), (signal.SIGTERM, 143)] + ([(signal.SIGHUP, 129)] if hasattr(signal, "SIGHUP") else [])


def default_signals() -> None:
    """``preexec_fn``: the child starts with SIGINT, SIGTERM and SIGHUP at their default action.

    lrfind leaves a signal ignored at its start ignored (``nohup lrfind fit ...`` outlives a hangup), and a child
    inherits what its parent ignores: a suite run under ``nohup`` (or as a shell's background job, SIGINT) saw the
    signals it sent go unheard, and the tests of what they do fail or time out.
    """
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
