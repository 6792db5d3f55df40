"""The seeds' later rounds: bounded re-sweeps, then short annealed trial runs judged on held-out loss.

One sweep reads one noisy curve. Seed 001 (section 12.3.2) goes on in rounds: a wide sweep, a
zoomed sweep where the loss stops falling, then short runs at a few neighbouring LRs compared
directly. :func:`refine_range_test` does the same within a bounded, reported budget:

* **Round 2** (:func:`resweep_reason`): at most ``max_resweeps`` extra sweeps, each recorded as
  a :class:`Resweep`: upward when the loss still falls at ``max_lr``; longer and from lower when
  the loss never clearly falls; finer when the falling region holds too few points.
* **Round 3** (:func:`run_trials`): one trial per candidate LR around the curve's reading
  (:func:`candidate_lrs`). Every trial starts from the exact state the test started from, sees
  the same batches in the same order, and runs the schedule the user will train with,
  compressed to the trial length (:func:`compress_schedule`). It is judged on ``val_data`` (a
  bounded number of batches) or, without it, on held-out training batches that no trial trains
  on. A trial that diverges is recorded, never raised.
* **Choice** (:func:`choose`): the lowest held-out loss, with ties decided by the paired noise of
  the held-out batches; among tied candidates the rule ``tie`` picks (``"smaller"`` by default,
  the seed's "slightly smaller for safety", chosen by measurement in ``benchmarks/refine.py``).

Why annealed trials: a short run at a constant LR favours LRs that are too large (short-horizon
bias: the loss of a short run is dominated by early progress, which a large LR buys). A run that
anneals its LR as the real training will removes most of that bias, because the final loss then
depends on where the LR lets the weights settle, not only on how fast they move.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", 2017, arXiv:1506.01186.
    Smith & Topin, "Super-Convergence", 2017, arXiv:1708.07120.
    Wu, Ren, Liao & Grosse, "Understanding Short-Horizon Bias in Stochastic Meta-Optimization",
    2018, arXiv:1803.02021.

"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

# At run time, for typing.get_type_hints on the module's functions (refine_range_test, trial_round): analysis
# imports nothing of lrfinder's engine; RangeTestResult is named lrfinder.RangeTestResult, resolved by the
# package's lazy names when asked, since range_test imports this module (see lrfinder.exceptions).
import lrfinder

from ._checks import (
    is_choice,
    is_int,
    is_not_a_sequence,
    is_real,
    non_finite_to_text,
    number_from_json,
    plain,
    sentence,
    single_number_note,
)
from ._wording import plural, repeated
from .analysis import Suggestion
from .exceptions import DataError, LRFinderError, ModelError
from .settings import MAX_SWEEP_STEPS

__all__ = [
    "Refine",
    "Refinement",
    "Trial",
    "Resweep",
    "TieRule",
    "PEAK_SCHEDULES",
    "DEFAULT_TIE",
    "MIN_TRIAL_STEPS",
    "MAX_TRIAL_STEPS",
    "MAX_TOTAL_TRIAL_STEPS",
    "LongTrialsError",
    "default_budget",
    "candidate_lrs",
    "compress_schedule",
    "choose",
    "resweep_reason",
    "resweep_round",
    "next_sweep",
    "blowup_lr",
    "all_diverged_message",
    "resolve_refine",
    "refine_range_test",
    "run_trials",
    "trial_round",
]

logger = logging.getLogger(__name__)

TieRule = Literal["best", "smaller", "larger"]
#: Schedules whose LR is a peak the run anneals from: their trials centre on ``Suggestion.max_lr``.
PEAK_SCHEDULES = frozenset({"onecycle", "cosine", "polynomial", "cyclic"})
#: The tie rule used unless one is given. Measured on the benchmark's tune tasks
#: (``benchmarks/results/refine.md``): taking the smallest LR within noise of the best (the
#: seed's "slightly smaller for safety") beat taking the lowest held-out loss for one-cycle
#: judged on validation data (geo-mean regret 1.135 vs 1.327) and overall, and lost a little
#: for a constant LR judged on held-out training batches (1.100 vs 1.059).
DEFAULT_TIE: TieRule = "smaller"
#: The shortest trial that is allowed; shorter runs say nothing about training.
MIN_TRIAL_STEPS = 10
#: The longest trial that is allowed: a trial records every step's loss as a sweep does, so it has the sweep's
#: bound (:data:`lrfinder.MAX_SWEEP_STEPS`). ``Refine(training_steps=10**30)`` planned trials of 2e28 steps each,
#: which ran without end.
MAX_TRIAL_STEPS = MAX_SWEEP_STEPS
#: The most steps a plan's trials may run in all (each trial's losses are kept, as a sweep's are): five trials (the
#: default 3 candidates + 2 extensions) of the longest, so the default plan's bound is the one trial's.
#: ``Refine(candidates=10**9, trial_steps=10, training_steps=10**12)`` planned a billion trials.
MAX_TOTAL_TRIAL_STEPS = 5 * MAX_TRIAL_STEPS
#: Total trial steps the default budget allows at least (when the training is long enough).
MIN_TOTAL_TRIAL_STEPS = 200
#: The default budget never exceeds this fraction of a long training.
DEFAULT_BUDGET_FRACTION = 0.1
#: A falling region with fewer swept points than this asks for a finer sweep.
MIN_FALLING_POINTS = 8


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def default_budget(training_steps: int) -> float:
    """The default share of the training that all trials together may spend.

    ``budget = min(1, max(DEFAULT_BUDGET_FRACTION, MIN_TOTAL_TRIAL_STEPS / training_steps))``:
    10% of a long training (2,000 steps or more), but at least 200 steps in all (trials shorter
    than that measured nothing useful on the benchmark), and never more than the training itself.

    Example:
        >>> default_budget(5000), default_budget(1000), default_budget(100)
        (0.1, 0.2, 1.0)

    """
    return float(min(1.0, max(DEFAULT_BUDGET_FRACTION, MIN_TOTAL_TRIAL_STEPS / training_steps)))


class LongTrialsError(ValueError):
    """A :class:`Refine` whose trials would run too long (a training length typo, a count of candidates).

    Each over :data:`MAX_TRIAL_STEPS` steps, or over :data:`MAX_TOTAL_TRIAL_STEPS` in all.
    """


#: The held-out batches a loss is judged on by default: ``Refine.val_batches``, ``LRFinder(curve="val")``'s.
VAL_BATCHES = 8


@dataclass(frozen=True)
class Refine:
    """How to refine a range test (see :func:`refine_range_test`).

    Attributes:
        training_steps: Optimizer steps of the training you plan; the trials are sized from it.
            Required in the plain engine (the callback takes the fit's own).
        schedule: The schedule you will train with: ``"constant"``, ``"onecycle"``, ``"cosine"``
            or any :func:`lrfinder.list_schedulers` name. Each trial runs it compressed to the
            trial length; ``plateau`` trials run at a constant LR (there is no metric to react to).
        schedule_settings: Settings for the schedule (torch's names, as for
            :func:`lrfinder.create_scheduler`); step counts in them are compressed with it.
        budget: Fraction of ``training_steps`` all trials together may spend; ``None`` takes
            :func:`default_budget` (10% of a long training, at least 200 steps).
        candidates: The number of candidate LRs (a ladder ``spacing`` decades apart around the
            curve's reading, see :func:`candidate_lrs`), or explicit factors of the reading.
        spacing: Decades between neighbouring candidates of the default ladder.
        extend: At most this many extra trials, one rung (``spacing``) beyond the lowest or
            highest candidate while the best held-out loss sits there (or below the lowest
            while every trial diverged): the ladder walks towards the best LR. The budget is
            shared out over ``candidates + extend`` trials.
        trial_steps: Steps of one trial (at most :data:`MAX_TRIAL_STEPS`, a million); ``None`` shares the
            budget out evenly over ``candidates + extend`` trials (:meth:`plan`), which must then come to
            at most :data:`MAX_TRIAL_STEPS` each.
        val_batches: Held-out batches each trial is judged on (from ``val_data`` when given, else
            the first ones of the training data, which then no trial trains on).
        max_resweeps: At most this many extra sweeps in round 2 (0 turns round 2 off).
        tie: Among candidates whose held-out loss is within noise of the best: ``"best"`` (the
            lowest loss), ``"smaller"`` (the smallest LR: the seed's "slightly smaller for
            safety") or ``"larger"``.
        tie_z: Two held-out losses tie when their paired difference is below ``tie_z`` standard
            errors (or below ``tie_rel`` of the best loss).
        tie_rel: Relative tolerance of a tie.

    Raises:
        ValueError: A setting out of range (named, with the value).
        LongTrialsError: A plan of trials of over :data:`MAX_TRIAL_STEPS` steps each (``training_steps=10**30``
            with ``trial_steps`` unset: the budget shares out to trials that long), or of over
            :data:`MAX_TOTAL_TRIAL_STEPS` in all (``candidates=10**9`` with ``trial_steps=10`` and the budget of a
            long training).
        TypeError: A setting of the wrong type.

    """

    training_steps: int | None = None
    schedule: str = "constant"
    schedule_settings: Mapping[str, Any] = field(default_factory=dict)
    budget: float | None = None
    candidates: int | tuple[float, ...] = 3
    spacing: float = 0.25
    extend: int = 2
    trial_steps: int | None = None
    val_batches: int = VAL_BATCHES
    max_resweeps: int = 2
    tie: TieRule = DEFAULT_TIE
    tie_z: float = 1.0
    tie_rel: float = 0.0

    def __post_init__(self) -> None:
        # numpy's integers and floats (len(loader) * np.int64 epochs, a budget from an array) and 0-d tensors
        # as Python's.
        for name in (
            "training_steps", "candidates", "extend", "trial_steps", "val_batches", "max_resweeps", "budget",
            "spacing", "tie_z", "tie_rel",
        ):  # fmt: skip
            object.__setattr__(self, name, plain(getattr(self, name)))
        ts = self.training_steps
        if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int) or ts < MIN_TRIAL_STEPS):
            raise ValueError(
                f"Expected training_steps to be an int >= {MIN_TRIAL_STEPS}, but got training_steps={ts!r}"
            )
        from .names import scheduler_name
        from .schedulers import _get_spec

        object.__setattr__(self, "schedule", scheduler_name(self.schedule))  # "Cosine" kept as "cosine"
        _get_spec(self.schedule, "schedule")
        if not isinstance(self.schedule_settings, Mapping):
            raise TypeError(
                "Expected schedule_settings to be a mapping of the schedule's settings such as "
                f"{{'pct_start': 0.3}}, but got schedule_settings={self.schedule_settings!r}"
            )
        object.__setattr__(self, "schedule_settings", MappingProxyType(dict(self.schedule_settings)))
        if "total_steps" in self.schedule_settings:
            # The trials size the schedule themselves; passed on, it failed as "create_scheduler() got multiple
            # values for keyword argument 'total_steps'".
            raise TypeError(
                "Expected schedule_settings without total_steps: the schedule's length is training_steps (each "
                "trial runs it compressed to its own length), but got "
                f"schedule_settings={dict(self.schedule_settings)!r}"
            )
        if self.budget is not None and (
            isinstance(self.budget, bool) or not isinstance(self.budget, (int, float)) or not 0 < self.budget <= 10
        ):
            raise ValueError(
                f"Expected 0 < budget <= 10 (a fraction of training_steps), but got budget={self.budget!r}"
            )
        if isinstance(self.candidates, bool):
            raise TypeError(f"Expected candidates to be an int or a sequence of factors, but got {self.candidates!r}")
        if isinstance(self.candidates, int):
            if self.candidates < 2:
                raise ValueError(f"Expected candidates >= 2, but got candidates={self.candidates}")
        else:
            given = self.candidates
            if is_not_a_sequence(given):
                raise TypeError(
                    f"Expected candidates to be an int or a sequence of factors, but got candidates={given!r}"
                    f"{single_number_note(given)}"
                )
            given = tuple(given)
            bad = [f for f in given if not is_real(plain(f))]
            if bad:
                raise TypeError(
                    f"Expected every candidate factor to be a number such as 0.5 or 2, but got {bad[0]!r} in "
                    f"candidates={given!r}"
                )
            factors = tuple(float(plain(f)) for f in given)
            if len(factors) < 2 or any(not (math.isfinite(f) and f > 0) for f in factors):
                raise ValueError(
                    f"Expected at least 2 positive candidate factors, but got candidates={self.candidates!r}"
                )
            twice = repeated(factors)
            if twice:
                # The same LR tried twice: a trial's budget spent on a copy, which then "ties" with itself.
                raise ValueError(
                    f"Expected distinct candidate factors, but got {', '.join(f'{f:g}' for f in twice)} more than once "
                    f"in candidates={self.candidates!r}: each factor is one trial at that multiple of the reading. "
                    "Drop the repeats."
                )
            object.__setattr__(self, "candidates", factors)
        if isinstance(self.extend, bool) or not isinstance(self.extend, int) or self.extend < 0:
            raise ValueError(f"Expected extend to be an int >= 0, but got extend={self.extend!r}")
        if isinstance(self.spacing, bool) or not (is_real(self.spacing) and 0 < self.spacing <= 2):
            raise ValueError(f"Expected 0 < spacing <= 2 (decades), but got spacing={self.spacing!r}")
        if self.trial_steps is not None and (
            isinstance(self.trial_steps, bool)
            or not isinstance(self.trial_steps, int)
            or self.trial_steps < MIN_TRIAL_STEPS
        ):
            raise ValueError(f"Expected trial_steps >= {MIN_TRIAL_STEPS}, but got trial_steps={self.trial_steps!r}")
        if self.trial_steps is not None and self.trial_steps > MAX_TRIAL_STEPS:
            raise ValueError(
                f"Expected trial_steps <= {MAX_TRIAL_STEPS:,} (a trial records every step's loss, as a sweep does), "
                f"but got trial_steps={self.trial_steps:,}. Pass the steps of one trial run: a few hundred to a few "
                "thousand is usual."
            )
        check_val_batches(self.val_batches)
        rounds = self.max_resweeps
        if isinstance(rounds, bool) or not isinstance(rounds, int) or not 0 <= rounds <= 2:
            raise ValueError(f"Expected 0 <= max_resweeps <= 2, but got max_resweeps={self.max_resweeps!r}")
        if not is_choice(self.tie, ("best", "smaller", "larger")):
            raise ValueError(f"Expected tie to be 'best', 'smaller' or 'larger', but got tie={self.tie!r}")
        if not (is_real(self.tie_z) and is_real(self.tie_rel) and self.tie_z >= 0 and self.tie_rel >= 0):
            raise ValueError(
                f"Expected tie_z >= 0 and tie_rel >= 0, but got tie_z={self.tie_z!r}, tie_rel={self.tie_rel!r}"
            )
        if self.training_steps is not None:
            # Trials too long to run are refused here, at the typo; a budget too small for one trial is said by
            # plan(), when the trials are planned (the callback and the CLI fill in the training's length first).
            try:
                self.plan()
            except LongTrialsError:
                raise
            except ValueError:
                pass

    def __getstate__(self) -> dict[str, Any]:
        """The fields for ``pickle`` and ``copy.deepcopy``, ``schedule_settings`` as a plain dict.

        A ``MappingProxyType`` does not pickle: ``LRFinder(refine=...)`` failed under
        ``strategy="ddp_spawn"`` (Lightning pickles the Trainer, callbacks included, to start its
        workers) with "cannot pickle 'mappingproxy' object", and ``copy.deepcopy`` failed alike.
        """
        return {**vars(self), "schedule_settings": dict(self.schedule_settings)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Put the fields back (frozen: through ``object.__setattr__``), ``schedule_settings`` read-only again."""
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "schedule_settings", MappingProxyType(dict(self.schedule_settings)))

    @property
    def num_candidates(self) -> int:
        """How many candidate LRs the settings ask for."""
        return self.candidates if isinstance(self.candidates, int) else len(self.candidates)

    def plan(self, training_steps: int | None = None) -> tuple[int, int, int, float]:
        """``(candidates, extra, trial_steps, budget)`` for ``training_steps`` (default: own).

        ``trial_steps`` (when not given) is the budget's steps shared out over
        ``candidates + extend`` trials; ``extra`` is how many extension trials fit.

        Raises:
            LRFinderError: No ``training_steps`` anywhere.
            ValueError: The budget is smaller than one trial (the message gives the numbers).
            LongTrialsError: Each trial would run over :data:`MAX_TRIAL_STEPS` steps, or all of them over
                :data:`MAX_TOTAL_TRIAL_STEPS` (a ``ValueError``).

        """
        total = training_steps if training_steps is not None else self.training_steps
        if total is None:
            raise LRFinderError(
                "refine needs the length of the training you plan: pass "
                "refine=lrfinder.Refine(training_steps=N, schedule=...) (N = optimizer steps of the training)."
            )
        budget = self.budget if self.budget is not None else default_budget(total)
        allowed = int(math.floor(budget * total + 1e-9))
        n = self.num_candidates
        if self.trial_steps is not None:
            steps = min(self.trial_steps, total)
            # A trial runs at most the training: said so, where "trial_steps=100" named a value never given (200).
            asked = f"trial_steps={steps}" + (
                "" if steps == self.trial_steps else f" (trial_steps={self.trial_steps} capped at training_steps)"
            )
            if allowed < steps:
                raise ValueError(
                    f"The refine budget is smaller than one trial: budget={budget:g} x training_steps={total} "
                    f"= {allowed} steps, but one trial takes {asked}. Raise budget to at least "
                    f"{steps / total:.3g} or lower trial_steps."
                )
            slots = allowed // steps
            if slots < 2:
                raise ValueError(
                    f"The refine budget allows only {plural(slots, 'trial')} of {asked}: budget={budget:g} x "
                    f"training_steps={total} = {allowed} steps. Raise budget to at least {2 * steps / total:.3g} "
                    "or lower trial_steps."
                )
        else:
            slots = n + self.extend
            steps = min(allowed // slots, total)
            if steps < MIN_TRIAL_STEPS:
                raise ValueError(
                    f"The refine budget is smaller than one trial: budget={budget:g} x training_steps={total} "
                    f"= {allowed} steps for {slots} trials (candidates + extend) is {steps} steps each, below "
                    f"the minimum of {MIN_TRIAL_STEPS}. Raise budget to at least {slots * MIN_TRIAL_STEPS / total:.3g}"
                    " or use fewer candidates."
                )
        first = min(n, slots)
        extra = min(self.extend, slots - first)
        trials = first + extra
        if steps > MAX_TRIAL_STEPS or trials * steps > MAX_TOTAL_TRIAL_STEPS:
            if self.trial_steps is None:
                how = f"budget={budget:g} x training_steps shared out over them"
                fix = (
                    "training_steps is the number of optimizer steps of the training you plan (epochs x batches per "
                    "epoch, divided by any gradient accumulation): pass that. For a training that long, cap each "
                    f"trial with trial_steps=N (at most {MAX_TRIAL_STEPS:,}) or pass a smaller budget."
                )
            else:
                how = (
                    f"trial_steps={steps:,} each, for candidates={n:,} + extend={self.extend:,} as far as "
                    f"budget={budget:g} x training_steps allows"
                )
                fix = "Ask for fewer candidates (3 is the default) or shorter trials (trial_steps)."
            raise LongTrialsError(
                f"Expected refine's trials to run at most {MAX_TRIAL_STEPS:,} steps each and "
                f"{MAX_TOTAL_TRIAL_STEPS:,} in all, but training_steps={total:,} plans {trials:,} trials (candidates "
                f"+ extend) of {_count(steps)} steps, {_count(trials * steps)} in all: {how}. {fix}"
            )
        return first, extra, steps, float(budget)


def _count(steps: int) -> str:
    """A count of steps for a message: ``1,000,001``, but ``2e+28`` past a trillion (not its 29 digits)."""
    return f"{steps:,}" if steps < 10**12 else f"{steps:.3g}"


def resolve_refine(refine: bool | Refine | None, training_steps: int | None = None) -> Refine | None:
    """Turn the ``refine`` argument into a :class:`Refine` (``None`` when off) and check it early.

    Raises:
        TypeError: ``refine`` is neither a bool nor a :class:`Refine`.
        LRFinderError: Refining with no training length known.

    """
    if refine is None or refine is False:
        return None
    if refine is True:
        refine = Refine(training_steps=training_steps)
    elif not isinstance(refine, Refine):
        raise TypeError(
            f"Expected refine to be True, False, None or a lrfinder.Refine, but got {type(refine).__name__}"
        )
    elif training_steps is not None and refine.training_steps is None:
        refine = replace(refine, training_steps=training_steps)
    refine.plan()
    _check_schedule(refine)
    return refine


def _check_schedule(refine: Refine) -> None:
    """Build the schedule once at the training's own length, before any sweep runs.

    Settings the schedule refuses at that length (``step_size`` past the training, a negative
    step count, ``warmup_steps`` longer than the training, a missing required setting) are said
    now, in the user's numbers; they failed after the sweep, in a trial's compressed ones
    (``step_size=133`` for a given 1000), or were clamped into a schedule the user never asked for.

    Raises:
        ValueError: A setting out of range for ``training_steps`` (the schedule's own message).
        TypeError: A setting the schedule does not take, or one it needs missing.

    """
    total = int(refine.training_steps)  # type: ignore[arg-type]  # plan() checked it
    try:
        check_trial_schedule(refine.schedule, refine.schedule_settings, total)
    except (ValueError, TypeError) as exc:
        raise (TypeError if isinstance(exc, TypeError) else ValueError)(
            f"Refine(schedule={refine.schedule!r}, schedule_settings={dict(refine.schedule_settings)!r}) does not fit "
            f"the training of training_steps={total}: {exc}"
        ) from None


def check_trial_schedule(schedule: str, settings: Mapping[str, Any], training_steps: int) -> None:
    """Build ``schedule`` with ``settings`` once at ``training_steps``, as the trials' schedule is built.

    The peak LRs are the candidates' in the trials (:func:`_trial_scheduler`), so any will do here.
    ``"constant"`` and ``"plateau"`` run no scheduler in the trials and pass.

    Args:
        schedule: A registry schedule name (``Refine.schedule``, which keeps ``"Cosine"`` as ``"cosine"``).
        settings: Its settings (``Refine.schedule_settings``), in torch's names.
        training_steps: The length of the planned training, in optimizer steps.

    Raises:
        ValueError: A setting out of range for ``training_steps`` (the schedule's own message).
        TypeError: A setting the schedule does not take, or one it needs missing.

    """
    if schedule in ("constant", "plateau"):  # no scheduler in the trials
        return
    from .schedulers import create_scheduler

    probe = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=1e-3)
    given = dict(settings)
    _peak_at(schedule, given, [1e-3])
    create_scheduler(schedule, probe, total_steps=int(training_steps), **given)


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


def _dec(value: object) -> float | None:
    return None if value is None else number_from_json(value)


def brief_curve(values: Sequence[float], *, lrs: bool = False) -> str:
    """A curve in brief for a repr: its length and ends (``lrs``), or also its lowest finite value (losses).

    The results' reprs write their curves so (``print(result)`` of a 2,000-step test was 80,000
    characters of digits); the numbers stay in the fields, ``to_dict`` and the JSON.

    Example:
        >>> brief_curve((2.3, 1.1, float("nan"))), brief_curve((1e-3, 1e-1), lrs=True), brief_curve(())
        ('<3 values: first 2.3, lowest 1.1, last nan>', '<2 values 1.00e-03 .. 1.00e-01>', '()')

    """
    if not values:
        return "()"
    count = f"{len(values)} value{'' if len(values) == 1 else 's'}"
    if lrs:
        return f"<{count} {values[0]:.2e} .. {values[-1]:.2e}>"
    finite = [v for v in values if math.isfinite(v)]
    lowest = f", lowest {min(finite):.3g}" if finite else ", none finite"
    return f"<{count}: first {values[0]:.3g}{lowest}, last {values[-1]:.3g}>"


def brief_repr(result: object, briefs: Mapping[str, Callable[[Any], str]]) -> str:
    """A dataclass's repr with the fields named in ``briefs`` written by their function (:func:`brief_curve`)."""
    from dataclasses import fields

    parts = [
        f"{f.name}={briefs[f.name](value) if f.name in briefs else repr(value)}"
        for f in fields(result)  # type: ignore[arg-type]
        for value in (getattr(result, f.name),)
    ]
    return f"{type(result).__name__}({', '.join(parts)})"


@dataclass(frozen=True)
class Trial:
    """One trial run of round 3.

    Attributes:
        lr: The candidate LR (the peak of a one-cycle / cosine run, the constant LR otherwise).
        schedule: The schedule run, compressed to ``steps``.
        steps: Optimizer steps planned.
        train_losses: The training loss of every step run (a diverged trial stops early).
        held_out_loss: Mean loss on the held-out batches after the run (NaN when diverged early).
        held_out_losses: The loss of each held-out batch (the choice pairs them across trials).
        diverged: The loss became non-finite, or the run ended worse than where it started.

    """

    lr: float
    schedule: str
    steps: int
    train_losses: tuple[float, ...]
    held_out_loss: float
    held_out_losses: tuple[float, ...]
    diverged: bool

    def __repr__(self) -> str:
        """Every field as the dataclass writes it, but the losses in brief (:func:`brief_curve`).

        A trial of a long training's budget runs thousands of steps: written out, its losses made
        ``print(result)`` of a refined test tens of thousands of characters.
        """
        return brief_repr(self, {"train_losses": brief_curve, "held_out_losses": brief_curve})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (non-finite floats as strings)."""
        return {
            "lr": self.lr,
            "schedule": self.schedule,
            "steps": self.steps,
            "train_losses": [non_finite_to_text(v) for v in self.train_losses],
            "held_out_loss": non_finite_to_text(self.held_out_loss),
            "held_out_losses": [non_finite_to_text(v) for v in self.held_out_losses],
            "diverged": self.diverged,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trial:
        """Inverse of :meth:`to_dict`."""
        return cls(
            lr=float(data["lr"]),
            schedule=str(data["schedule"]),
            steps=int(data["steps"]),
            train_losses=tuple(number_from_json(v) for v in data["train_losses"]),
            held_out_loss=number_from_json(data["held_out_loss"]),
            held_out_losses=tuple(number_from_json(v) for v in data["held_out_losses"]),
            diverged=bool(data["diverged"]),
        )


@dataclass(frozen=True)
class Resweep:
    """One extra sweep of round 2.

    Attributes:
        reason: Why it ran: ``"still_falling"``, ``"never_falls"`` or ``"too_few_points"``.
        min_lr: Its first LR.
        max_lr: Its last planned LR.
        num_steps: Its planned steps.
        steps_run: Steps it actually ran (it may stop at divergence).
        suggestion_lr: Its reading (``None`` when still inconclusive).
        error: Why it was inconclusive, if it was.

    """

    reason: str
    min_lr: float
    max_lr: float
    num_steps: int
    steps_run: int
    suggestion_lr: float | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "reason": self.reason,
            "min_lr": self.min_lr,
            "max_lr": self.max_lr,
            "num_steps": self.num_steps,
            "steps_run": self.steps_run,
            "suggestion_lr": self.suggestion_lr,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Resweep:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: data[k] for k in ("reason", "min_lr", "max_lr", "num_steps", "steps_run", "suggestion_lr",
                                           "error")})


@dataclass(frozen=True)
class Refinement:
    """What the later rounds found.

    Attributes:
        trials: Every trial run, in increasing LR.
        lr: The LR to give the optimizer for ``schedule``: the constant LR, or the peak
            (``eta0``) of a one-cycle / cosine schedule. ``None`` when every trial diverged.
        max_lr: The peak for one-cycle or cosine (equal to ``lr`` when ``schedule`` is one of
            those; otherwise the curve's one-cycle peak moved by the same factor as ``lr``).
        curve_lr: The curve's own reading the candidates were centred on.
        schedule: The schedule the trials ran.
        training_steps: The training length the trials were sized for.
        budget: The fraction of ``training_steps`` the trials were allowed.
        judged_on: ``"val_data"`` or ``"held-out training batches"``.
        rounds: The extra sweeps of round 2, in order.
        cost_steps: Optimizer steps spent by the trials and the extra sweeps.
        notes: Why the pick is what it is, and anything to check.

    """

    trials: tuple[Trial, ...]
    lr: float | None
    max_lr: float | None
    curve_lr: float | None
    schedule: str
    training_steps: int
    budget: float
    judged_on: str
    rounds: tuple[Resweep, ...] = ()
    cost_steps: int = 0
    notes: tuple[str, ...] = ()

    @property
    def cost_fraction(self) -> float:
        """``cost_steps / training_steps``."""
        return self.cost_steps / self.training_steps

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (non-finite floats as strings)."""
        return {
            "trials": [t.to_dict() for t in self.trials],
            "lr": self.lr,
            "max_lr": self.max_lr,
            "curve_lr": self.curve_lr,
            "schedule": self.schedule,
            "training_steps": self.training_steps,
            "budget": self.budget,
            "judged_on": self.judged_on,
            "rounds": [r.to_dict() for r in self.rounds],
            "cost_steps": self.cost_steps,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Refinement:
        """Inverse of :meth:`to_dict`.

        Raises:
            ValueError: Missing keys or values of the wrong type.

        """
        try:
            return cls(
                trials=tuple(Trial.from_dict(t) for t in data["trials"]),
                lr=_dec(data["lr"]),
                max_lr=_dec(data["max_lr"]),
                curve_lr=_dec(data.get("curve_lr")),
                schedule=str(data["schedule"]),
                training_steps=int(data["training_steps"]),
                budget=float(data["budget"]),
                judged_on=str(data["judged_on"]),
                rounds=tuple(Resweep.from_dict(r) for r in data.get("rounds", ())),
                cost_steps=int(data.get("cost_steps", 0)),
                notes=tuple(str(n) for n in data.get("notes", ())),
            )
        except KeyError as exc:  # said as the other objects of a result file say it, not "KeyError('trials')"
            raise ValueError(f"Malformed refinement: missing key {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:  # ValueError: a value that is no number ("abc")
            raise ValueError(f"Malformed refinement: {exc}") from exc


# --------------------------------------------------------------------------------------------
# Round 2: re-sweeps
# --------------------------------------------------------------------------------------------


def _falling_points(result: lrfinder.RangeTestResult) -> int:
    """Swept points between the start of the falling region and the minimum."""
    s = result.suggestion
    if s is None:
        return 0
    lrs = np.asarray(result.lrs)
    return int(np.sum((lrs >= s.min_lr * (1 - 1e-12)) & (lrs <= s.min_loss_lr * (1 + 1e-12))))


def resweep_reason(result: lrfinder.RangeTestResult) -> str | None:
    """Why a curve needs another sweep, or ``None`` when it does not.

    * ``"still_falling"``: no suggestion because the loss still falls at the largest LR;
    * ``"never_falls"``: no suggestion because the loss never clearly falls (or too few points);
    * ``"too_few_points"``: a suggestion whose falling region (``min_lr`` .. minimum) holds fewer
      than :data:`MIN_FALLING_POINTS` swept points.
    """
    if result.suggestion is None:
        error = result.error or ""
        if "still falling" in error:
            return "still_falling"
        return "never_falls"
    if _falling_points(result) < MIN_FALLING_POINTS:
        return "too_few_points"
    return None


def blowup_lr(result: lrfinder.RangeTestResult) -> float | None:
    """The LR where the recorded curve's smoothed loss blew up, else ``None``.

    The analysis's own blow-up (:func:`lrfinder.analysis.find_blowup_lr`: the smoothed loss back up
    by half its fall and clearly more than noise, never to come down again), found even when the
    curve is inconclusive. A sweep can blow up and still run to the end: the stop rule waits for
    4x the best smoothed loss, which a loss that saturates never reaches (the cross-entropy of a
    diverged classifier often stays within 1-3x its start). ``None`` for fewer than
    :data:`lrfinder.analysis.MIN_POINTS` finite losses.
    """
    from .analysis import find_blowup_lr

    return find_blowup_lr(result.lrs, result.losses)


def next_sweep(result: lrfinder.RangeTestResult, reason: str) -> tuple[float, float, int]:
    """``(min_lr, max_lr, num_steps)`` of the sweep that answers ``reason``.

    * ``still_falling``: the same start, the top raised by 3 decades, steps grown so the density
      per decade stays the same;
    * ``never_falls``: when the sweep blew up, the 4 decades below the blow-up and 1 above it
      (:data:`lrfinder.analysis.RESWEEP_BELOW`, :data:`~lrfinder.analysis.RESWEEP_ABOVE`: the
      range an inconclusive curve's message names for a loss flat until it blew up) at
      :data:`~lrfinder.analysis.RESWEEP_STEPS` (2) times the steps, several times the density,
      so the fall clears the noise. The message names :data:`~lrfinder.analysis.FLAT_STEPS` (4)
      times, for the one sweep a user runs by hand; this one is swept again where it reads no
      fall, which measured better picks on the benchmark's tune split. When the sweep neither
      fell nor rose, up to 3 decades higher at twice the steps (the range was too low). A sweep
      blew up when it stopped on divergence or a non-finite loss (at its last LR, above the
      smoothed loss's blow-up the message takes), or when it ran to the end with its smoothed
      loss blown up all the same (:func:`blowup_lr`). The steps are the planned ``num_steps`` times the
      factor; the message multiplies the steps recorded. Starting below the smoothed blow-up instead, as the
      message does, was measured (``benchmarks/results/refine_resweep_start.md``): on the tune split's
      never-fell task 6 of 12 picks in the good band against 4, but a geometric-mean regret of 3.84 against
      3.36 and a cost of 3.23 against 2.99 times the training's steps; the shipped start stays;
    * ``too_few_points``: the same start, the top cut to 10x the divergence point (no steps are
      spent far past it), twice the density per decade.
    """
    st = result.settings
    decades = math.log10(st.max_lr / st.min_lr)
    density = st.num_steps / decades
    if reason == "still_falling":
        top = st.max_lr * 1e3
        return st.min_lr, top, int(math.ceil(density * math.log10(top / st.min_lr)))
    if reason == "never_falls":
        if not result.lrs:
            stop = None
        elif result.stop_reason == "completed":
            stop = blowup_lr(result)  # it may have blown up below the stop rule's 4x
        else:
            stop = result.lrs[-1]
        if stop is None:
            # It never rose either: the range may lie below where this model learns at all.
            return st.min_lr, st.max_lr * 1e3, 2 * st.num_steps
        # It blew up before a fall stood out of the noise: the fall, if any, lies in the few
        # decades below the blow-up. Sweep those at several times the density, so the smoothing
        # window spans less LR and the fall can clear the noise.
        from .analysis import RESWEEP_ABOVE, RESWEEP_BELOW, RESWEEP_STEPS

        return max(stop / RESWEEP_BELOW, st.min_lr), stop * RESWEEP_ABOVE, RESWEEP_STEPS * st.num_steps
    s = result.suggestion
    top = st.max_lr
    if s is not None:
        anchor = s.divergence_lr or s.non_finite_lr or s.min_loss_lr
        top = min(st.max_lr, anchor * 10.0)
    top = max(top, st.min_lr * 10.0)
    return st.min_lr, top, max(st.num_steps, int(math.ceil(2 * density * math.log10(top / st.min_lr))))


def resweep_round(
    result: lrfinder.RangeTestResult,
    refine: Refine,
    sweep: Callable[[float, float, int], lrfinder.RangeTestResult] | None,
) -> tuple[lrfinder.RangeTestResult, list[Resweep], int, list[str]]:
    """Round 2: at most ``refine.max_resweeps`` extra sweeps while the reading calls for one.

    Each round asks :func:`resweep_reason` whether the current curve needs another sweep and
    :func:`next_sweep` for its settings, then runs ``sweep(min_lr, max_lr, num_steps)`` (a
    sweep that restores everything it touches; the plain engine and the Lightning callback
    each pass their own). The new curve is kept when it reads at least as well (a suggestion
    beats none); a ``too_few_points`` round is the last.

    Args:
        result: The first sweep.
        refine: The settings (``max_resweeps``; 0 runs none).
        sweep: Runs one more sweep; ``None`` runs none.

    Returns:
        ``(result, rounds, cost_steps, notes)``: the curve to read (the first sweep's or a
        re-sweep's), each extra sweep as a :class:`Resweep`, the steps they ran, and one note
        per round.

    """
    rounds: list[Resweep] = []
    notes: list[str] = []
    cost = 0
    while sweep is not None and len(rounds) < refine.max_resweeps:
        reason = resweep_reason(result)
        if reason is None:
            break
        lo, hi, num = next_sweep(result, reason)
        again = sweep(lo, hi, num)
        cost += again.num_steps
        rounds.append(
            Resweep(
                reason, lo, hi, num, again.num_steps, again.suggestion.lr if again.suggestion else None, again.error
            )
        )
        notes.append(f"round 2: {reason.replace('_', ' ')}; swept {lo:.2e} .. {hi:.2e} in {num} steps")
        logger.debug("round 2 (%s): %.2e .. %.2e in %d steps, ran %d", reason, lo, hi, num, again.num_steps)
        # Keep the new curve when it reads at least as well (a suggestion beats none).
        if again.suggestion is not None or result.suggestion is None:
            result = again
        if reason == "too_few_points":
            break
    return result, rounds, cost, notes


# --------------------------------------------------------------------------------------------
# Round 3: candidates, schedules, trials, choice
# --------------------------------------------------------------------------------------------


def candidate_lrs(suggestion: Suggestion, refine: Refine, n: int | None = None) -> tuple[float, tuple[float, ...]]:
    """The reading the trials centre on and the candidate LRs, in increasing order.

    The centre is ``suggestion.max_lr`` for a peak schedule (:data:`PEAK_SCHEDULES`) and
    ``suggestion.lr`` otherwise. An int ``candidates`` gives the ladder
    ``centre * 10 ** (spacing * (k - (n - 1) / 2))``, ``k = 0 .. n-1``, shifted down by whole
    rungs while the top one is within half a rung of the divergence point; explicit factors
    multiply the centre.
    """
    centre = suggestion.max_lr if refine.schedule in PEAK_SCHEDULES else suggestion.lr
    count = n if n is not None else refine.num_candidates
    if isinstance(refine.candidates, tuple):
        factors = sorted(refine.candidates)[:count]
        return centre, tuple(centre * f for f in factors)
    offsets = refine.spacing * (np.arange(count) - (count - 1) / 2.0)
    ceiling = suggestion.divergence_lr or suggestion.non_finite_lr
    if ceiling is not None:
        # Whole rungs down until the top candidate is at least half a rung below the divergence
        # point (never below the centre), so the candidates stay on the same ladder.
        top = max(math.log10(ceiling / centre) - refine.spacing / 2.0, 0.0)
        if offsets[-1] > top + 1e-9:
            offsets = offsets - refine.spacing * math.ceil((offsets[-1] - top) / refine.spacing - 1e-9)
    return centre, tuple(float(centre * 10.0**o) for o in offsets)


_STEP_SETTINGS = ("step_size", "step_size_up", "step_size_down")
#: The decay applied once every ``step_size`` steps, by schedule.
_DECAY_EVERY = {"step": "gamma", "factor": "factor"}


def compress_schedule(name: str, settings: Mapping[str, Any], trial_steps: int, training_steps: int) -> dict[str, Any]:
    """The settings of ``name`` for a run of ``trial_steps`` with the shape of ``training_steps``.

    Step counts (``step_size``, ``milestones``, ``step_size_up``/``down``) scale by
    ``r = trial_steps / training_steps`` (at least 1 step; ``step_size`` and the milestones stay
    inside the trial, milestones crowded at its end moved back a step each, so none is lost); a
    per-step decay ``gamma`` of ``exponential`` and of cyclic's ``exp_range`` becomes
    ``gamma ** (1 / r)`` and the ``gamma`` of ``inverse`` becomes ``gamma / r``; the decay of
    ``step`` (``gamma``) and ``factor`` (``factor``) is raised to ``n / n'``, the decays the
    training makes over the decays the trial makes (``(steps - 1) // step_size`` each), where the
    rounded ``step_size`` changes their number. So the LR at the end of the trial equals the LR at
    the end of the training. Schedules sized by ``total_steps`` (one-cycle, cosine, polynomial)
    need nothing here.
    """
    from .schedulers import SCHEDULERS

    r = trial_steps / training_steps
    # numpy integers (np.int64(10), a step count computed with numpy) count as ints: they were left uncompressed.
    out = {key: int(value) if is_int(value) else value for key, value in settings.items()}
    for key in _STEP_SETTINGS:
        if is_int(out.get(key)):
            out[key] = max(1, int(round(out[key] * r)))
    decay = _DECAY_EVERY.get(name)
    if decay is not None:
        defaults = SCHEDULERS[name].settings
        every, given = settings.get("step_size", defaults["step_size"]), out.get(decay, defaults[decay])
        every = int(every) if is_int(every) else every
        if is_int(every) and 0 < every < training_steps and is_real(given):
            # step_size=1 of factor stayed 1 while the trial was 10x shorter: it ended at 0.99**100, the training
            # at 0.99**1000. The decay makes up for the decays the rounded step_size adds or drops.
            out["step_size"] = step = min(max(1, int(round(every * r))), max(trial_steps - 1, 1))
            made, makes = (training_steps - 1) // every, (trial_steps - 1) // step
            if makes > 0 and made != makes:
                out[decay] = float(given) ** (made / makes)
    if "milestones" in out and isinstance(out["milestones"], Sequence):
        ms: list[int] = []
        for m in out["milestones"]:
            v = max(1, int(round(int(m) * r)))
            ms.append(v if not ms or v > ms[-1] else ms[-1] + 1)
        # Milestones crowded at the training's end ([995, 998, 999] of 1000) were pushed past a 100-step trial's
        # end, which the schedule refused after the sweep: moved back, each a step before the next.
        last = trial_steps - 1
        for i in reversed(range(len(ms))):
            if ms[i] <= last:
                break
            ms[i] = last
            last -= 1
        out["milestones"] = ms
    if name == "exponential" and "gamma" in out:
        out["gamma"] = float(out["gamma"]) ** (1.0 / r)
    if name == "cyclic" and out.get("mode") == "exp_range" and "gamma" in out:
        out["gamma"] = float(out["gamma"]) ** (1.0 / r)
    if name == "inverse" and "gamma" in out:
        out["gamma"] = float(out["gamma"]) / r
    return out


#: A cyclic trial's base LR relative to its peak when neither the settings nor the curve give one
#: (Smith 2017: the base 3 to 4 times below the peak).
CYCLIC_FLOOR = 0.25


def _peak_at(schedule: str, given: dict[str, Any], peaks: list[float], floor: float | None = None) -> None:
    """Make ``peaks`` (each param group's candidate LR) the peaks of a peak schedule's ``given`` settings.

    One-cycle peaks at the group's LR once its ``max_lr`` is dropped. Cyclic gets ``max_lr=peaks``
    and its ``base_lr`` at the ratio below them of the settings' ``base_lr / max_lr`` when both are
    given, else ``floor``, else :data:`CYCLIC_FLOOR`: a fixed ``max_lr`` ran every trial up to the
    same peak from the candidate as its base (and failed once a candidate passed it).
    """
    if schedule == "onecycle":
        given.pop("max_lr", None)
    elif schedule == "cyclic":
        base, top = given.pop("base_lr", None), given.pop("max_lr", None)
        ratio = floor if floor is not None and 0 < floor < 1 else CYCLIC_FLOOR
        if isinstance(base, (int, float)) and isinstance(top, (int, float)) and 0 < base < top:
            ratio = base / top
        given["max_lr"] = list(peaks)
        given["base_lr"] = [p * ratio for p in peaks]


def _trial_scheduler(
    optimizer: torch.optim.Optimizer, refine: Refine, steps: int, training_steps: int, floor: float | None = None
) -> Any:
    """The scheduler of one trial, on the optimizer already set to the candidate LR.

    The candidate is the peak of a peak schedule: one-cycle's ``max_lr``, and cyclic's ``max_lr``
    with its ``base_lr`` at the same ratio below it as the settings' ``base_lr / max_lr`` when
    both are given, else ``floor`` (the curve's ``min_lr / max_lr``, as
    ``create_scheduler("cyclic", suggestion=...)`` builds it), else :data:`CYCLIC_FLOOR`.
    """
    from .schedulers import SCHEDULERS, create_scheduler

    if refine.schedule in ("constant", "plateau"):
        return None
    spec = SCHEDULERS[refine.schedule]
    # Default step counts are compressed too: cyclic's step_size_up=2000 would not fit in a trial.
    defaults = {k: v for k, v in spec.settings.items() if k in _STEP_SETTINGS and type(v) is int}
    given = compress_schedule(refine.schedule, {**defaults, **refine.schedule_settings}, steps, training_steps)
    warmup = int(given.pop("warmup_steps", 0) or 0)
    if warmup:
        warmup = max(1, int(round(warmup * steps / training_steps)))
        warmup = min(warmup, steps - 1)
    start = float(given.pop("warmup_start_factor", 0.0) or 0.0)
    _peak_at(refine.schedule, given, [float(g["lr"]) for g in optimizer.param_groups], floor)
    return create_scheduler(
        refine.schedule, optimizer, total_steps=steps, warmup_steps=warmup, warmup_start_factor=start, **given
    )


def choose(trials: Sequence[Trial], refine: Refine) -> tuple[Trial | None, tuple[Trial, ...], str]:
    """The chosen trial, the trials tied with the best, and a note saying why.

    Trials that diverged are out. The best is the lowest held-out loss. A trial ties with it when
    the mean of the paired per-batch differences ``d_b = loss_i[b] - loss_best[b]`` is at most
    ``max(tie_z * std(d) / sqrt(B), tie_rel * |best|)``; pairing removes the batch-to-batch
    variation the trials share. ``tie`` then picks among the tied ones.
    """
    ok = [t for t in trials if not t.diverged and math.isfinite(t.held_out_loss)]
    if not ok:
        return None, (), "every trial diverged"
    best = min(ok, key=lambda t: t.held_out_loss)
    tied: list[Trial] = []
    for t in ok:
        d = np.asarray(t.held_out_losses) - np.asarray(best.held_out_losses)
        se = float(np.std(d, ddof=1) / math.sqrt(d.size)) if d.size > 1 else 0.0
        if float(np.mean(d)) <= max(refine.tie_z * se, refine.tie_rel * abs(best.held_out_loss)):
            tied.append(t)
    if refine.tie == "smaller":
        pick = min(tied, key=lambda t: t.lr)
    elif refine.tie == "larger":
        pick = max(tied, key=lambda t: t.lr)
    else:
        pick = best
    # The best always ties with itself: the note counts the others, which are what a reader asks about.
    others = len(tied) - 1
    if others == 0:
        note = f"no other trial within noise of the best (lr={best.lr:.2e})"
    else:
        note = (
            f"{plural(others, 'other trial')} of {len(ok) - 1} within noise of the best (lr={best.lr:.2e}); "
            f"tie rule {refine.tie!r} picked lr={pick.lr:.2e}"
        )
    return pick, tuple(tied), note


class _HeldOutStream:
    """Training batches in a replayable order, with the first ``skip`` of each pass held out.

    Every pass re-creates the iterator from the same state (the data's RNGs and counters, see
    ``snapshot._DataState``, and torch's RNG as they were when this object was made), so each
    pass yields the same batches in the same order and the held-out ones (the first ``skip``) are
    never trained on.
    """

    def __init__(self, data: Iterable[Any], skip: int) -> None:
        from .snapshot import _DataState

        self.data = data
        self.skip = skip
        self._draws = _DataState([data])
        self._rng = torch.get_rng_state()
        self._it: Any = None

    def _start(self) -> list[Any]:
        from .snapshot import own_iterator

        self._draws.restore()
        current = torch.get_rng_state()
        torch.set_rng_state(self._rng)
        head: list[Any] = []
        try:
            self._it = own_iterator(self.data)
            for _ in range(self.skip + 1):
                head.append(self._draw())
        except StopIteration:
            lower = " or lower Refine.val_batches" if self.skip > 1 else ""  # none is held out below 1
            raise DataError(
                f"The training data yields only {len(head)} batch(es) per pass: too few to hold out "
                f"val_batches={self.skip} and still train. Pass val_data{lower}."
            ) from None
        finally:
            torch.set_rng_state(current)
        self._first = head[-1]
        return head[:-1]

    def held_out(self) -> list[Any]:
        held = self._start()
        self._it = None
        return held

    def next(self) -> Any:
        if self._it is None:
            self._start()
            return self._first
        try:
            return self._draw()
        except StopIteration:
            self._start()
            return self._first

    def _draw(self) -> Any:
        """``next`` of the iterator; a DataLoader worker that died is a :class:`DataError` (torch's words said)."""
        from .batches import worker_death

        try:
            return next(self._it)
        except (RuntimeError, ConnectionError, EOFError) as exc:
            died = worker_death(exc, self._it, self.data, "train_data", prefix="train_data: ")
            if died is None:
                raise
            self._it = None
            raise died from exc


def _length(data: object) -> int | None:
    try:
        return len(data)  # type: ignore[arg-type]
    except (TypeError, NotImplementedError):  # no length (an IterableDataset; a sampler whose __len__ refuses)
        return None


def check_val_batches(val_batches: object) -> None:
    """Check a count of held-out batches (``Refine.val_batches``, ``LRFinder(val_batches=...)``): an int >= 1.

    Raises:
        ValueError: Anything else, with the value.

    """
    if isinstance(val_batches, bool) or not isinstance(val_batches, int) or val_batches < 1:
        raise ValueError(f"Expected val_batches to be an int >= 1, but got val_batches={val_batches!r}")


def fewest_over_ranks(count: int, most: int, reduce: Callable[[list[float]], list[float]]) -> int:
    """The smallest ``count`` over the ranks, through the element-wise mean ``reduce`` the trials use.

    Under data parallelism every rank must judge the trials on as many held-out batches: their
    losses are averaged over the ranks element by element, and lists of different lengths made
    the ranks' ``all_reduce`` calls mismatch (the ranks waited for each other until the process
    group's timeout). Entry ``j`` of the list reduced is 1 on the ranks whose count exceeds
    ``j``, else 0: its mean is exactly 1 (a sum of ones divided by the number of ranks) where
    every rank's count does.

    Args:
        count: This rank's count, ``0 <= count <= most``.
        most: The largest count a rank can have (alike on every rank: ``Refine.val_batches``).
        reduce: ``f(list) -> list``, the element-wise mean over the ranks (call on every rank).

    Returns:
        The smallest of the ranks' counts (the same on every rank).

    """
    flags = [1.0 if j < count else 0.0 for j in range(most)]
    return sum(1 for v in reduce(flags) if v == 1.0)


def held_out_count(
    val_batches: int, size: int | None, reduce: Callable[[list[float]], list[float]] | None, notes: list[str]
) -> int:
    """How many training batches each pass holds out to judge the trials on (no ``val_data``).

    ``val_batches``, but never more than a fifth of one pass of ``size`` batches (at least one):
    the trials must still train. Under data parallelism (``reduce``, as for
    :func:`fewest_over_ranks`) the fewest of any rank, whose loader may be the shorter. A count
    below ``val_batches`` is said in ``notes``.

    Args:
        val_batches: ``Refine.val_batches``.
        size: Batches in one pass of this rank's training loader, ``None`` when unknown.
        reduce: The element-wise mean over the ranks, ``None`` on one process.
        notes: The refinement's notes, appended to.

    Returns:
        The count, the same on every rank.

    """
    keep = val_batches
    if size is not None and keep > size // 5:
        keep = max(1, size // 5)
    if reduce is not None:
        keep = fewest_over_ranks(keep, val_batches, reduce)
        if keep < val_batches:
            notes.append(
                f"held out {plural(keep, 'training batch', 'training batches')} per pass on every rank "
                f"(val_batches={val_batches}; at most a fifth of each rank's pass)"
            )
    elif keep < val_batches:
        notes.append(
            f"held out {plural(keep, 'training batch', 'training batches')} of {size} per pass "
            f"(val_batches={val_batches})"
        )
    return keep


class _StepRefused(RuntimeError):
    """Raised by :func:`_losses_with_grad`'s optimizer step pre-hook: a held-out loss must not step an optimizer."""


def _losses_with_grad(
    loss_of: Callable[[Any], torch.Tensor], batches: Sequence[Any], model: nn.Module, first_error: RuntimeError
) -> list[float]:
    """The held-out losses of a loss that differentiates inside itself, computed with autograd on.

    A WGAN-GP critic's gradient penalty (``torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)``)
    or an input-gradient regularizer needs autograd to compute the loss, so under ``torch.no_grad()`` it fails with
    "element 0 of tensors does not require grad", the failure a ``step_fn`` running a backward of its own (a GAN's
    critic step) meets too. Here the loss is computed again with autograd on, the model's gradients watched: one that
    changes a parameter's ``.grad``, or steps any optimizer (refused by a global step pre-hook before the step
    runs), is such a step after all, and ``first_error`` is raised, its gradients put back. The parameters outside
    the model of an optimizer refused so (a GAN's critic, held by the ``step_fn``) had their gradients made by the
    backward before that step: they are cleared (``None``), as ``zero_grad()`` and the sweep's restore
    (:meth:`~lrfinder.snapshot.StateSnapshot.watching_optimizers`) leave them; they were left filled.

    Raises:
        RuntimeError: ``first_error``, for a loss that runs a backward or an optimizer step of its own.

    """
    params = list(model.parameters())
    # A backward inside accumulates into an existing .grad in place: its values are kept to be written back.
    grads = [(p.grad, None if p.grad is None else p.grad._version) for p in params]
    saved = [None if p.grad is None else p.grad.detach().clone() for p in params]

    refused: list[torch.optim.Optimizer] = []

    def refuse(optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        refused.append(optimizer)
        raise _StepRefused("an optimizer step inside the held-out loss")

    handle = register_optimizer_step_pre_hook(refuse)
    try:
        with torch.enable_grad():
            losses = [float(loss_of(b).detach().double().mean().item()) for b in batches]
    except _StepRefused:
        losses = None
    finally:
        handle.remove()
    touched = any(
        p.grad is not grad or (grad is not None and grad._version != version)
        for p, (grad, version) in zip(params, grads)
    )
    if losses is None or touched:
        with torch.no_grad():
            for p, (grad, version), values in zip(params, grads, saved):
                if grad is not None and values is not None and grad._version != version:
                    grad.copy_(values)
                p.grad = grad
            own = {id(p) for p in params}
            for optimizer in refused:
                for group in optimizer.param_groups:
                    for p in group["params"]:
                        if id(p) not in own:
                            p.grad = None
        raise first_error
    return losses


def _mean_loss(loss_of: Callable[[Any], torch.Tensor], batches: Sequence[Any], model: nn.Module) -> list[float]:
    """Each batch's loss in eval mode, under ``torch.no_grad()``; with autograd on for a loss that needs it.

    A loss that differentiates inside itself (a gradient penalty) is computed again with autograd on,
    :func:`_losses_with_grad`; one that runs a backward or an optimizer step of its own still fails.
    """
    from .stepping import eval_modes

    with eval_modes(model):
        return _losses_in_eval(loss_of, batches, model)


def _losses_in_eval(loss_of: Callable[[Any], torch.Tensor], batches: Sequence[Any], model: nn.Module) -> list[float]:
    """:func:`_mean_loss` of a model its caller has put in eval mode (:func:`~lrfinder.stepping.eval_modes`).

    ``range_test(curve="val")`` draws ``val_data`` one batch at a time, in one ``eval_modes`` per pass: entering it
    for each batch walked every module twice per batch, more than half the cost of the pass for a small model.
    """
    try:
        with torch.no_grad():
            return [float(loss_of(b).detach().double().mean().item()) for b in batches]
    except RuntimeError as exc:
        if "does not require grad" not in str(exc):
            raise
        return _losses_with_grad(loss_of, batches, model, exc)


def run_trials(
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    lrs: Sequence[float],
    steps: int,
    training_steps: int,
    refine: Refine,
    snapshot: Any,
    next_batch: Callable[[], Any],
    loss_of: Callable[[Any], torch.Tensor],
    held_out: Sequence[Any],
    baseline: float,
    accumulate_steps: int = 1,
    reset_stream: Callable[[], None] | None = None,
    step: Callable[[], float] | None = None,
    reduce: Callable[[list[float]], list[float]] | None = None,
    new_scaler: Callable[[], Any] | None = None,
    train_mode: bool = True,
    clip: Callable[[torch.optim.Optimizer], None] | None = None,
    floor: float | None = None,
    on_trial: Callable[[int, float, int, float], None] | None = None,
    first_index: int = 0,
) -> list[Trial]:
    """Run one trial per LR, each from ``snapshot`` with the same batches; restore at the end.

    A trial stops at the first non-finite loss. It counts as diverged when that happens, or when
    its held-out loss is non-finite or above ``baseline`` (the untrained model's).

    ``step`` (the Lightning callback's stepper) replaces the built-in optimizer step: it runs
    one whole step at the LR already set (zero grad, forward, backward, ``optimizer.step``;
    no step on a non-finite loss) and returns its loss; ``next_batch``/``accumulate_steps`` are
    then unused. ``reduce`` maps the per-batch held-out losses to the ones every process agrees
    on (averaged over ranks under data parallelism), so all ranks take the same decisions; the
    built-in step's loss goes through it too (``step`` reduces its own).
    ``train_mode=False`` leaves each submodule in the mode ``snapshot`` restores (the Lightning
    callback: the fit trains a submodule left in eval mode in eval mode); by default every trial
    trains in the modes the sweep ran in (:func:`~lrfinder.stepping.train_modes`: ``model.train()``,
    except that a model already in train mode keeps each submodule's own mode).
    ``new_scaler`` (float16 mixed precision) gives each trial its own ``GradScaler``, in the
    state the sweep's began in; ``loss_of`` then runs under the sweep's autocast.
    ``clip(optimizer)`` clips the gradients before each built-in step (after accumulation and
    the scaler's ``unscale_``), as the sweep did. ``floor`` (the curve's ``min_lr / max_lr``) places
    a cyclic trial's base LR below its peak, the candidate. Under plain DDP the built-in step's
    micro-batches but the last run in ``no_sync`` (:func:`~lrfinder.data_parallel.micro_batch_sync`),
    as the sweep's. ``on_trial`` is the progress hook of :func:`lrfinder.range_test` (see there):
    ``on_trial(index, lr, 0, nan)`` as a trial starts, ``on_trial(index, lr, steps_done,
    held_out_loss)`` once it is judged; ``index`` counts from ``first_index``.
    """
    from .batches import _check_loss
    from .data_parallel import micro_batch_sync
    from .range_test import LRSweeper
    from .stepping import StepClosure, make_reevaluate, steps_alike_without_closure, takes_closure, train_modes

    # Under float16 the trials step through a GradScaler, which takes no closure (as in the sweep).
    with_closure = step is None and new_scaler is None and takes_closure(optimizer)
    step_batches: list[Any] = []
    # As in the sweep: under DDP every micro-batch but the last runs in no_sync (one all-reduce per step).
    sync = micro_batch_sync(model, accumulate_steps)
    reevaluate = make_reevaluate(
        optimizer, step_batches, lambda batch: _check_loss(loss_of(batch)), accumulate_steps, clip, sync
    )

    sweeper = LRSweeper([optimizer])
    had_step = "step" in optimizer.__dict__
    trials: list[Trial] = []
    try:
        for index, lr in enumerate(lrs, start=first_index):
            if on_trial is not None:
                on_trial(index, float(lr), 0, math.nan)
            snapshot.restore()
            if reset_stream is not None:
                reset_stream()
            sweeper.set(float(lr))
            scheduler = _trial_scheduler(optimizer, refine, steps, training_steps, floor)
            scaler = new_scaler() if new_scaler is not None else None
            if train_mode:
                train_modes(model)
            losses: list[float] = []
            diverged = False
            for _ in range(steps):
                if step is not None:
                    value = float(step())
                    losses.append(value)
                    if not math.isfinite(value):
                        diverged = True
                        break
                    if scheduler is not None:
                        scheduler.step()
                    continue
                optimizer.zero_grad(set_to_none=True)
                parts = []
                step_batches.clear()
                for micro in range(accumulate_steps):
                    batch = next_batch()
                    if with_closure:
                        step_batches.append(batch)
                    with sync(micro):
                        loss = _check_loss(loss_of(batch))
                        part = loss if accumulate_steps == 1 else loss / accumulate_steps  # x / 1 is x
                        (part if scaler is None else scaler.scale(part)).backward()
                    parts.append(loss.detach())
                value = float(torch.stack(parts).double().mean().item())
                if reduce is not None:
                    # Every rank stops the trial at the same step (DDP all-reduces the gradients of each one).
                    value = reduce([value])[0]
                losses.append(value)
                if not math.isfinite(value):
                    diverged = True
                    break
                if clip is not None:
                    if scaler is not None:
                        scaler.unscale_(optimizer)  # clip the true gradients; scaler.step does not unscale twice
                    clip(optimizer)
                if scaler is None and with_closure and not steps_alike_without_closure(optimizer):
                    # As the sweep steps it: a SAM's second pass runs the trial's micro-batches again.
                    closure = StepClosure(optimizer, torch.stack(parts).mean(), reevaluate)
                    optimizer.step(closure)  # type: ignore[arg-type]  # torch types the closure as -> float
                elif scaler is None:
                    optimizer.step()
                else:
                    scaler.step(optimizer)  # skipped by the scaler on inf/NaN gradients, as in training
                    scaler.update()
                step_batches.clear()
                if scheduler is not None:
                    scheduler.step()
            per_batch: list[float] = []
            held = math.nan
            if not diverged:
                per_batch = _mean_loss(loss_of, held_out, model)
                if reduce is not None:
                    per_batch = reduce(per_batch)
                held = float(np.mean(per_batch))
                diverged = not math.isfinite(held) or held > baseline
            trials.append(Trial(float(lr), refine.schedule, steps, tuple(losses), held, tuple(per_batch), diverged))
            logger.debug("trial lr=%.2e held-out=%.4g diverged=%s", lr, held, diverged)
            if on_trial is not None:
                on_trial(index, float(lr), len(losses), held)
    finally:
        snapshot.restore()
        # A torch scheduler wraps optimizer.step in an instance attribute; take it off again.
        if not had_step:
            optimizer.__dict__.pop("step", None)
        optimizer.__dict__.pop("_opt_called", None)
    return trials


# --------------------------------------------------------------------------------------------
# The whole refinement for the plain engine
# --------------------------------------------------------------------------------------------


def refine_range_test(
    result: lrfinder.RangeTestResult,
    refine: Refine,
    *,
    model: nn.Module,
    train_data: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[..., torch.Tensor] | None,
    step_fn: Callable[[nn.Module, Any], torch.Tensor] | None,
    device: torch.device,
    val_data: Iterable[Any] | None = None,
    sweep: Callable[[float, float, int], lrfinder.RangeTestResult] | None = None,
    autocast_dtype: torch.dtype | None = None,
    new_scaler: Callable[[], Any] | None = None,
    clip: Callable[[torch.optim.Optimizer], None] | None = None,
    reduce: Callable[[list[float]], list[float]] | None = None,
    on_trial: Callable[[int, float, int, float], None] | None = None,
) -> lrfinder.RangeTestResult:
    """Rounds 2 and 3 after a plain-engine sweep; returns ``result`` with :attr:`refinement`.

    The model and optimizer must be in the state the sweep started from (the engine restored
    them); they are left in that state, bit for bit. The re-sweeps run with the sweep's own
    settings (``precision`` included), and so do the trials and their held-out losses: under
    the sweep's autocast (``autocast_dtype``), with a fresh ``GradScaler`` per trial for float16
    (``new_scaler``). Trials cycle only what the schedule itself cycles (one-cycle's momentum,
    for example).

    Args:
        result: The first sweep.
        refine: The settings (see :class:`Refine`); ``training_steps`` must be set.
        model: The model.
        train_data: The training batches the sweep used.
        optimizer: The optimizer the sweep used.
        loss_fn: As for :func:`lrfinder.range_test`.
        step_fn: As for :func:`lrfinder.range_test`.
        device: Where batches go.
        val_data: Validation batches (same format as the training batches); the first
            ``refine.val_batches`` are used. ``None``: the first training batches are held out.
        sweep: ``sweep(min_lr, max_lr, num_steps)`` runs another (restoring) sweep for round 2;
            ``None`` turns round 2 off.
        autocast_dtype: The sweep's autocast dtype (``None``: full precision).
        new_scaler: ``new_scaler() -> GradScaler`` for float16 mixed precision (``None``: none).
        clip: ``clip(optimizer)`` clips the gradients before every trial step, as the sweep did
            (``range_test(gradient_clip_val=...)``); ``None``: no clipping.
        reduce: Under data parallelism, the element-wise mean over the ranks of a list of losses
            (:meth:`lrfinder.data_parallel.DataParallelRanks.mean_list`): the held-out losses and
            each trial step's loss go through it, so every rank runs the same trial steps and
            picks the same LR. ``None``: each process's own losses.
        on_trial: Progress of the trials, as for :func:`lrfinder.range_test`:
            ``on_trial(index, lr, 0, nan)`` as trial ``index`` (from 0, in the order run,
            the ladder's extension included) starts, ``on_trial(index, lr, steps_done,
            held_out_loss)`` once it is judged. ``None``: no calls.

    Returns:
        A new result whose ``suggestion`` is the (last) curve's reading and whose
        ``refinement`` holds the trials and the pick.

    Raises:
        DataError: ``val_data`` (or the held-out training batches) cannot be evaluated by the
            model, or is empty; raised before any trial runs.
        ModelError: ``step_fn`` runs a backward of its own, which the held-out evaluation (under
            ``torch.no_grad()``) cannot run; raised before any trial runs.

    """
    from .batches import _batch_loss, to_device
    from .diagnostics import _error_line
    from .snapshot import StateSnapshot, own_iterator
    from .stepping import autocast, loss_objects, loss_states, step_fn_modules, with_loss_module

    n_trials, n_extra, steps, budget = refine.plan()
    total = int(refine.training_steps)  # type: ignore[arg-type]  # plan() checked it

    # Round 2.
    result, rounds, cost, notes = resweep_round(result, refine, sweep)

    def loss_of(batch: Any) -> torch.Tensor:
        with autocast(device, autocast_dtype):
            return _batch_loss(model, to_device(batch, device), loss_fn, step_fn)

    judged_on = "val_data" if val_data is not None else "held-out training batches"
    snapshot = StateSnapshot(
        with_loss_module(model, loss_fn),  # a loss's own parameters train in the trials too
        [optimizer],
        [train_data] + ([val_data] if val_data is not None else []),
        module_attributes=True,
        states=loss_states(loss_fn),  # a loss object's running state, as each trial starts from the same one
        objects=loss_objects(loss_fn, [on_trial]),  # not where on_trial records its progress
        # An EMA copy the step_fn updates (a mean teacher), as the sweep's snapshot holds it: every trial starts from
        # the same one, and it is put back after them.
        modules=step_fn_modules(step_fn),
    )
    try:
        if val_data is not None:
            from .batches import worker_death

            held: list[Any] = []
            it = own_iterator(val_data)
            try:
                for batch in it:
                    held.append(batch)
                    if len(held) >= refine.val_batches:
                        break
            except (RuntimeError, ConnectionError, EOFError) as exc:
                died = worker_death(exc, it, val_data, "val_data", prefix="val_data: ")
                if died is None:
                    raise
                raise died from exc
            if reduce is not None:  # every rank judges on as many batches (a rank's val_data may be shorter)
                held = held[: fewest_over_ranks(len(held), refine.val_batches, reduce)]
            if not held:
                where = " on at least one rank" if reduce is not None else ""
                raise DataError(
                    f"val_data is empty{where}: it yielded no batch. Pass a non-empty DataLoader/iterable."
                )
            stream: Any = None
        else:
            keep = held_out_count(refine.val_batches, _length(train_data), reduce, notes)
            stream = _HeldOutStream(train_data, keep)
            held = stream.held_out()
        try:
            base_losses = _mean_loss(loss_of, held, model)
        except Exception as exc:  # noqa: BLE001 - any failure here means the batches do not fit the model
            what = "val_data" if val_data is not None else "the held-out training batches"
            if step_fn is not None and "does not require grad" in str(exc):
                # Not the data: a step_fn that runs a backward of its own (a GAN's critic step) cannot run under
                # no_grad, and "pass val_data in the same format" sent the user after the batches.
                raise ModelError(
                    f"refine cannot compute a held-out loss on {what}: step_fn runs a backward of its own "
                    f"({type(exc).__name__}: {_error_line(exc)}), and refine evaluates it under torch.no_grad(). "
                    "refine needs a step_fn that only computes the loss (a GAN's critic step inside it cannot be "
                    "judged on held-out batches): run the range test without refine."
                ) from exc
            raise DataError(
                f"Cannot compute a loss on {what} with this model: {type(exc).__name__}: {exc}. Pass "
                "val_data in the same format as the training batches (what loss_fn/step_fn accept)."
            ) from exc
        if reduce is not None:
            base_losses = reduce(base_losses)  # the same baseline on every rank
        baseline = float(np.mean(base_losses))
        if not math.isfinite(baseline):
            raise DataError(f"The untrained model's loss on the {judged_on} is {baseline}; check the data.")
    finally:
        snapshot.restore()

    s = result.suggestion
    if s is None:
        notes.append(f"no trials: the curve is inconclusive. {sentence(result.error)}")
        refinement = Refinement((), None, None, None, refine.schedule, total, budget, judged_on, tuple(rounds), cost,
                                tuple(notes))
        return replace(result, refinement=refinement)

    if stream is None:
        batches = None

        def next_batch() -> Any:
            assert batches is not None
            return batches.next()[0]

        def reset() -> None:
            nonlocal batches
            from .batches import CyclingBatches

            batches = CyclingBatches(train_data)
    else:
        def next_batch() -> Any:
            return stream.next()

        def reset() -> None:
            stream._it = None

    ran: list[Trial] = []  # every trial so far: the next one's index for on_trial

    def trials_at(lrs: Sequence[float]) -> list[Trial]:
        trials = run_trials(
            model=model, optimizer=optimizer, lrs=lrs, steps=steps, training_steps=total, refine=refine,
            snapshot=snapshot, next_batch=next_batch, loss_of=loss_of, held_out=held, baseline=baseline,
            accumulate_steps=result.settings.accumulate_steps, reset_stream=reset, new_scaler=new_scaler, clip=clip,
            floor=s.min_lr / s.max_lr, reduce=reduce, on_trial=on_trial, first_index=len(ran),
        )
        ran.extend(trials)
        return trials

    # Another optimizer the step_fn steps (a GAN's critic) starts every trial where it was, and is put back after.
    with snapshot.watching_optimizers():
        refinement = trial_round(s, refine, trials_at, judged_on=judged_on, rounds=rounds, cost=cost, notes=notes)
    return replace(result, refinement=refinement)


def all_diverged_message(result: lrfinder.RangeTestResult) -> str | None:
    """What to say when trials ran and every one diverged, else ``None``.

    ``result.lr`` then falls back to the curve's suggestion, an LR the trials around it did not
    hold: said, not passed on silently (``range_test`` warns with it, the callback too).
    """
    f = result.refinement
    if f is None or f.lr is not None or not f.trials or result.suggestion is None:
        return None
    low, high = min(t.lr for t in f.trials), max(t.lr for t in f.trials)
    validation = f.judged_on == "val_data"
    what = "the validation data" if validation else "the held-out training batches"
    check = "Check that the validation data comes from the training data's distribution, and look" if validation else (
        "Look"
    )
    return (
        f"refine: every trial diverged ({low:.2e} .. {high:.2e}: a non-finite loss, or a loss on {what} above the "
        f"untrained model's), so the LR to train with falls back to the curve's suggestion "
        f"{result.suggestion.lr:.2e}, which the trials around it did not hold. {check} at result.refinement.trials "
        "before training at it: a trial whose loss ends just above the untrained model's counts as diverged too "
        "(too short to show progress, or a BatchNorm's running statistics moved), and then a lower LR will not help."
    )


def trial_round(
    s: Suggestion,
    refine: Refine,
    trials_at: Callable[[Sequence[float]], list[Trial]],
    *,
    judged_on: str,
    rounds: Sequence[Resweep] = (),
    cost: int = 0,
    notes: Sequence[str] = (),
) -> Refinement:
    """Round 3 around the suggestion ``s``: the candidate ladder, its extension, the choice.

    ``trials_at(lrs)`` runs one trial per LR (each from the same restored state, as
    :func:`run_trials` does) and returns them; the plain engine and the Lightning callback each
    pass their own. ``rounds``, ``cost`` (steps already spent) and ``notes`` from round 2 are
    carried into the :class:`Refinement`.
    """
    n_trials, n_extra, _steps, budget = refine.plan()
    total = int(refine.training_steps)  # type: ignore[arg-type]  # plan() checked it
    notes = list(notes)
    centre, lrs = candidate_lrs(s, refine, n_trials)
    trials = trials_at(lrs)
    # Walk the ladder while the best trial sits at one of its ends.
    rung = 10.0**refine.spacing
    for _ in range(n_extra):
        ordered = sorted(trials, key=lambda t: t.lr)
        ok = [t for t in ordered if not t.diverged and math.isfinite(t.held_out_loss)]
        if not ok:
            nxt = ordered[0].lr / rung
        else:
            best = min(ok, key=lambda t: t.held_out_loss)
            if best is ordered[0]:
                nxt = best.lr / rung
            elif best is ordered[-1]:
                nxt = best.lr * rung
            else:
                break
        notes.append(f"extended the ladder to {nxt:.2e}: the best trial was at its end")
        trials += trials_at([nxt])
    trials.sort(key=lambda t: t.lr)
    cost += sum(len(t.train_losses) for t in trials)
    pick, _tied, note = choose(trials, refine)
    notes.append(note)
    diverged = [t.lr for t in trials if t.diverged]
    if diverged:
        notes.append(f"diverged trial{'' if len(diverged) == 1 else 's'} at " + ", ".join(f"{v:.2e}" for v in diverged))
    lr = max_lr = None
    if pick is not None:
        lr = pick.lr
        max_lr = lr if refine.schedule in PEAK_SCHEDULES else lr * s.max_lr / s.lr
        edge = "smallest" if pick is trials[0] else "largest" if pick is trials[-1] else None
        if edge is not None:
            notes.append(f"the pick is the {edge} candidate: the best LR may lie beyond the candidates")
        ceiling = s.divergence_lr or s.non_finite_lr
        if ceiling is not None and lr > ceiling:
            # The ladder's extension may walk past the curve's divergence point; a pick there held in a short
            # trial, which is no promise for a long training: said, as a scaled LR past it is.
            notes.append(
                f"the pick {lr:.2e} is above the curve's divergence point {ceiling:.2e}: it held in the trials, "
                "but check the training's first steps (or take a smaller candidate)"
            )
    refinement = Refinement(
        tuple(trials), lr, max_lr, centre, refine.schedule, total, budget, judged_on, tuple(rounds), cost, tuple(notes)
    )
    return refinement
