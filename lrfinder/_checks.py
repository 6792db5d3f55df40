"""Argument checks shared by modules that cannot import each other (no lrfinder imports here)."""

from __future__ import annotations

import numbers

import numpy as np


def check_flag(name: str, value: object) -> None:
    """Refuse a non-bool on/off setting (``noise_scale="yes"`` would otherwise read as on)."""
    if not isinstance(value, (bool, np.bool_)):
        # lrfind's --opt/--scheduler-opt read values as JSON, so maximize=False arrives as a string.
        hint = (
            f" (a string; on lrfind's command line write the JSON {name}=true or {name}=false)"
            if isinstance(value, str)
            else ""
        )
        raise TypeError(f"Expected {name} to be True or False, but got {name}={value!r}{hint}")


def is_real(value: object) -> bool:
    """A real number: Python's and numpy's (``np.float32``, ``np.int64``) alike; a bool is not one here."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_int(value: object) -> bool:
    """An integer: Python's and numpy's (``np.int64``) alike; a bool is not one here."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def none_lr_hint(name: str, value: object) -> str:
    """What to do when an LR is ``None``: what ``result.lr`` is after a range test found no LR; else ``""``."""
    if value is not None:
        return ""
    return (
        f" ({name}=None is what result.lr holds when the range test found no LR, and result.error says why: read "
        "the curve with lrfinder.plot_range_test(result), rerun the test as result.error suggests, or pass an LR "
        "yourself)"
    )
