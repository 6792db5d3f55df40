"""Argument checks shared by modules that cannot import each other (no lrfinder imports here)."""

from __future__ import annotations

import numpy as np


def check_flag(name: str, value: object) -> None:
    """Refuse a non-bool on/off setting (``noise_scale="yes"`` would otherwise read as on)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"Expected {name} to be True or False, but got {name}={value!r}")
