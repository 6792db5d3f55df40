"""Exceptions raised by lrfinder.

Argument problems raise the built-in ``ValueError`` / ``TypeError``; problems with the user's
data, model or curve raise a subclass of :class:`LRFinderError` whose message ends with what to do.
"""

from __future__ import annotations

__all__ = [
    "LRFinderError",
    "InconclusiveCurveError",
    "DataError",
    "ModelError",
    "NoiseScaleError",
]


class LRFinderError(Exception):
    """Base class of every domain error raised by lrfinder."""


class InconclusiveCurveError(LRFinderError):
    """The loss-vs-LR curve does not support a suggestion (too short, flat, or never turning up)."""


class DataError(LRFinderError):
    """The training data cannot be used: empty, or batches the engine cannot interpret."""


class ModelError(LRFinderError):
    """The model, its optimizer or its loss cannot be used for a range test."""


class NoiseScaleError(LRFinderError):
    """The gradient noise scale cannot be measured (no usable step, or an estimate that is <= 0)."""
