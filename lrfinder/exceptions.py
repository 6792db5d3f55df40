"""Exceptions raised by lrfinder.

Argument problems raise the built-in ``ValueError`` / ``TypeError``; problems with the user's
data, model or curve raise a subclass of :class:`LRFinderError` whose message ends with what to do.
"""

from __future__ import annotations

from typing import Any

# ``lrfinder.RangeTestResult`` in an annotation: resolved by the package's lazy names when
# typing.get_type_hints asks, so this module stays light (no torch) and imports no engine.
import lrfinder

__all__ = [
    "LRFinderError",
    "InconclusiveCurveError",
    "DataError",
    "ModelError",
    "NoiseScaleError",
    "RefineInterrupted",
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


class RefineInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped ``range_test(..., refine=...)`` after its first sweep, in a re-sweep or a trial.

    A ``KeyboardInterrupt``, so Ctrl-C still stops the program (and ``lrfind`` still exits 130);
    the state is restored as after any interrupted test. ``result`` is the first sweep's own
    :class:`~lrfinder.RangeTestResult`, unrefined, so minutes of sweeping are not lost: catch it
    (``except KeyboardInterrupt as exc: result = exc.result``), or in a notebook read
    ``sys.last_value.result``.
    """

    def __init__(self, result: lrfinder.RangeTestResult, *args: Any) -> None:
        lr = result.lr
        reading = f"suggested lr {lr:.2e}" if lr is not None else "no suggestion"
        super().__init__(
            f"refine was interrupted; the first sweep's result ({reading}, unrefined) is this exception's .result",
            *args,
        )
        self.result = result
