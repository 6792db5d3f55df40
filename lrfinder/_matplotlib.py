"""matplotlib's import, which fails on an ``MPLBACKEND`` environment variable it does not know."""

from __future__ import annotations

import os

__all__ = ["backend_refusal", "check_backend"]


def backend_refusal(exc: ValueError) -> ValueError:
    """``exc``, raised importing matplotlib, said of ``MPLBACKEND`` with what to do when that is the cause.

    matplotlib checks ``MPLBACKEND`` as it is imported, even for a figure drawn without pyplot (lrfinder's
    reports): a typo there failed ``lrfind run`` after the whole range test, with matplotlib's "Key backend:
    'nosuch' is not a valid value for backend; supported values are [...]", which named no variable.
    """
    backend = os.environ.get("MPLBACKEND")
    if backend is None or "backend" not in str(exc):
        return exc
    return ValueError(
        f"matplotlib cannot be imported: the MPLBACKEND environment variable is {backend!r:.60}, which is no "
        "backend matplotlib knows. Unset MPLBACKEND (lrfinder draws its reports without a backend) or set it to one "
        "matplotlib knows, such as Agg."
    )


def check_backend() -> None:
    """Import matplotlib when ``MPLBACKEND`` is set, so that one it refuses is said before any work.

    Without ``MPLBACKEND`` nothing is imported (``lrfind``'s start stays light).

    Raises:
        ValueError: matplotlib refuses ``MPLBACKEND`` (:func:`backend_refusal`'s message).

    """
    if "MPLBACKEND" not in os.environ:
        return
    try:
        import matplotlib  # noqa: F401
    except ValueError as exc:
        raise backend_refusal(exc) from None
