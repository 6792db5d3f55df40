"""Candidate suggestion rules, evaluated next to :func:`lrfinder.analyze`'s own rules.

They only read what :func:`lrfinder.analyze` returns (the smoothed curve, the minimum, the
divergence point) through the public API, so a candidate can be scored on recorded curves without
touching the library; the one that wins is proposed as a change to ``lrfinder/analysis.py``.

``biggest_fall``: ``analyze`` takes the falling region around the single steepest point. On a
curve with a bump (the loss falls over a decade, rises a little, then dips steeply once more just
before it blows up) that steepest point sits in the short final dip, and the suggestion jumps by a
decade or more between seeds. ``biggest_fall`` instead splits the part of the curve before the
minimum into falling stretches (slope at most ``FALL_FRACTION`` of the steepest slope) and keeps
the stretch whose loss drops the most; inside it, the usual valley (slope at least half that
stretch's steepest) gives ``valley`` (its geometric middle), ``steepest`` and ``end`` (its last
point, a one-cycle ``max_lr``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["FALL_FRACTION", "BiggestFall", "biggest_fall", "candidate_lrs", "CANDIDATES"]

#: A point belongs to a falling stretch when its slope is at most this fraction of the steepest.
FALL_FRACTION = 0.2
#: Inside the chosen stretch, the valley is where the slope is at least this fraction of its steepest.
VALLEY_FRACTION = 0.5

#: Every candidate name, in report order: the rules of :func:`lrfinder.analyze`, other readings
#: of its :class:`~lrfinder.Suggestion`, and the biggest-fall readings.
CANDIDATES = (
    "divergence_div10", "steepest", "valley", "min_div10", "max_lr", "min_loss", "min_div3", "div_div10",
    "div_div3", "div_div5", "geo_steep_min",
    "valley_div2", "bigfall_valley", "bigfall_steepest", "bigfall_end", "bigfall_valley_div2",
)


@dataclass(frozen=True)
class BiggestFall:
    """The falling stretch of a curve with the largest drop, and the LRs read off it."""

    start_lr: float
    end_lr: float
    valley_lr: float
    steepest_lr: float
    valley_end_lr: float
    drop: float


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` index pairs of the runs of ``True`` in ``mask``."""
    out = []
    i, n = 0, len(mask)
    while i < n:
        if mask[i]:
            j = i
            while j + 1 < n and mask[j + 1]:
                j += 1
            out.append((i, j))
            i = j + 1
        else:
            i += 1
    return out


def biggest_fall(lrs: Sequence[float], suggestion: object) -> BiggestFall:
    """Read the biggest falling stretch off ``suggestion`` (an :func:`lrfinder.analyze` result)."""
    from lrfinder import loss_slope

    lr = np.asarray(lrs, dtype=float)
    smoothed = np.asarray(suggestion.smoothed_losses, dtype=float)  # type: ignore[attr-defined]
    i_min = int(np.flatnonzero(lr == suggestion.min_loss_lr)[0])  # type: ignore[attr-defined]
    # The slope over the whole smoothed curve, then cut: as analyze() computes it.
    slope = loss_slope(lr, smoothed)[: i_min + 1]
    steepest = float(np.min(slope))
    runs = _runs(slope <= FALL_FRACTION * steepest) or [(int(np.argmin(slope)), int(np.argmin(slope)))]
    a, b = max(runs, key=lambda r: smoothed[r[0]] - smoothed[r[1]])
    k = a + int(np.argmin(slope[a : b + 1]))
    lo = k
    while lo > a and slope[lo - 1] <= VALLEY_FRACTION * slope[k]:
        lo -= 1
    hi = k
    while hi < b and slope[hi + 1] <= VALLEY_FRACTION * slope[k]:
        hi += 1
    return BiggestFall(
        start_lr=float(lr[a]), end_lr=float(lr[b]), valley_lr=float(lr[(lo + hi) // 2]),
        steepest_lr=float(lr[k]), valley_end_lr=float(lr[hi]), drop=float(smoothed[a] - smoothed[b]),
    )


def _nearest(lrs: Sequence[float], upto: float, target: float) -> float:
    """The swept LR (up to ``upto``) closest to ``target`` in log space, as analyze() snaps."""
    swept = np.asarray(lrs, dtype=float)
    swept = swept[swept <= upto]
    return float(swept[int(np.argmin(np.abs(np.log10(swept) - math.log10(target))))])


def candidate_lrs(lrs: Sequence[float], losses: Sequence[float]) -> dict[str, float | None]:
    """Every candidate LR read off one recorded curve (all ``None`` when it is inconclusive).

    ``steepest``, ``valley``, ``min_div10``: the rules of :func:`lrfinder.analyze`. ``max_lr``:
    :attr:`Suggestion.max_lr`. ``min_loss``: the LR of the smoothed minimum; ``min_div3``: that / 3.
    ``div_div10``: the divergence LR / 10. ``geo_steep_min``: the geometric mean of the steepest
    and minimum LRs. ``valley_div2``: the valley / 2, snapped to the nearest swept LR (the
    proposed default for a constant LR). ``bigfall_*``: :func:`biggest_fall`'s valley,
    steepest point and valley end.
    """
    from lrfinder import RULES, InconclusiveCurveError, analyze

    try:
        by_rule = {rule: analyze(lrs, losses, rule=rule) for rule in RULES}
    except InconclusiveCurveError:
        return dict.fromkeys(CANDIDATES)
    s = next(iter(by_rule.values()))
    fall = biggest_fall(lrs, s)
    values: dict[str, float | None] = {rule: sug.lr for rule, sug in by_rule.items()}
    values.update(
        max_lr=s.max_lr,
        min_loss=s.min_loss_lr,
        min_div3=s.min_loss_lr / 3,
        div_div10=s.divergence_lr / 10 if s.divergence_lr else None,
        div_div3=s.divergence_lr / 3 if s.divergence_lr else None,
        div_div5=s.divergence_lr / 5 if s.divergence_lr else None,
        geo_steep_min=math.sqrt(s.steepest_lr * s.min_loss_lr),
        valley_div2=_nearest(lrs, s.min_loss_lr, by_rule["valley"].lr / 2) if "valley" in by_rule else None,
        bigfall_valley=fall.valley_lr,
        bigfall_steepest=fall.steepest_lr,
        bigfall_end=fall.valley_end_lr,
        bigfall_valley_div2=_nearest(lrs, s.min_loss_lr, fall.valley_lr / 2),
    )
    return {k: (float(v) if v is not None and math.isfinite(v) and v > 0 else None)
            for k, v in values.items() if k in CANDIDATES}
