"""Scheduler registry: a name -> a small spec -> a torch ``LRScheduler`` (+ Lightning config).

Every object :func:`create_scheduler` returns is a torch ``LRScheduler`` (or a
``ReduceLROnPlateau``), so Lightning and plain loops accept it unchanged. Where torch has the
shape, torch's class is used with torch's setting names (``StepLR``, ``MultiStepLR``,
``ExponentialLR``, ``PolynomialLR``, ``CosineAnnealingLR`` (as :class:`CosineToMin`, which
stays at ``eta_min`` past ``T``), ``OneCycleLR``, ``CyclicLR``, ``ReduceLROnPlateau``); shapes
torch lacks are small picklable callables (:class:`InverseDecay`, :class:`FactorDecay`,
:class:`LinearWarmup`, :func:`constant_factor`) under ``LambdaLR``, and warm-up is a
``SequentialLR``. So every schedule pickles and round-trips through ``state_dict``, also mid-run.

With ``eta0`` the base LR of a param group (its ``lr`` when the schedule is created), ``t`` the
number of ``scheduler.step()`` calls so far and ``T`` the number of steps of the schedule:

============  ===================================================================================
name          LR at step ``t``
============  ===================================================================================
constant      ``eta0``
step          ``eta0 * gamma ** floor(t / step_size)``
multistep     ``eta0 * gamma ** (number of milestones <= t)``
exponential   ``eta0 * gamma ** t``
inverse       ``eta0 * (1 + gamma * t) ** -power`` (Caffe ``inv``; ``power=1`` is 1/t decay)
polynomial    ``eta0 * (1 - t / T) ** power``
factor        ``max(eta_min, eta0 * factor ** floor(t / step_size))``
cosine        ``eta_min + (eta0 - eta_min) * (1 + cos(pi * t / T)) / 2``, ``eta_min`` after ``T``
onecycle      Smith & Topin: ``max_lr / div_factor`` up to ``max_lr`` over ``pct_start * T``
              steps, then down to ``max_lr / div_factor / final_div_factor`` (torch's
              ``OneCycleLR``); momentum (or Adam's ``beta1``) cycled inversely
cyclic        Smith: triangular / triangular2 / exp_range between ``base_lr`` and ``max_lr``
              (torch's ``CyclicLR``), momentum cycled inversely
plateau       ``lr * factor`` after ``patience`` epochs without improvement of ``monitor``,
              never below ``min_lr`` (default ``eta0 / 1024``); a NaN metric (a diverged
              epoch) is an epoch without improvement, as torch's ``ReduceLROnPlateau`` counts it
============  ===================================================================================

Warm-up (``warmup_steps=W > 0``) composes with every one of them: for ``t < W`` the LR is
``s0 * (warmup_start_factor + (1 - warmup_start_factor) * t / W)`` where ``s0`` is the main
schedule's LR at its own step 0; from ``t = W`` on the main schedule runs on ``t - W`` over
``T - W`` steps (its milestones, step sizes and ``pct_start`` count from the end of warm-up).
``plateau`` is stepped once per epoch (it reads a per-epoch metric) but warms up over ``W``
*optimizer* steps too, the warm-up of every other schedule: its ``t`` counts ``optimizer.step()``
calls until the warm-up ends.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", 2017, arXiv:1506.01186.
    Smith & Topin, "Super-Convergence", 2017, arXiv:1708.07120.
    Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts", 2016,
    arXiv:1608.03983.
    Goyal et al., "Accurate, Large Minibatch SGD", 2017, arXiv:1706.02677 (warm-up).

"""

from __future__ import annotations

import enum
import logging
import math
import warnings
import weakref
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, TypedDict, overload

import numpy as np
import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    LRScheduler,
    MultiplicativeLR,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

from ._checks import check_flag, is_choice, is_int, is_real, plain, sentence, whole_number_hint
from ._fabric import optimizer_class_name
from ._warn import warn
from ._wording import plural, word
from .analysis import Suggestion
from .names import SCHEDULER_ALIASES, SCHEDULER_SUMMARIES, did_you_mean, did_you_mean_each, scheduler_name
from .range_test import RangeTestResult  # at run time too, for typing.get_type_hints (LightningCLI, pydantic)
from .settings import group_lr

__all__ = [
    "REQUIRED",
    "SchedulerSpec",
    "SCHEDULERS",
    "Interval",
    "Scheduler",
    "list_schedulers",
    "create_scheduler",
    "lightning_scheduler_config",
    "preview_schedule",
    "advised_warmup",
    "MAX_PREVIEW_STEPS",
    "constant_factor",
    "InverseDecay",
    "FactorDecay",
    "LinearWarmup",
    "CosineToMin",
    "PlateauWithWarmup",
    "SchedulerConfig",
]

logger = logging.getLogger(__name__)

Interval = Literal["step", "epoch"]
#: The most steps :func:`preview_schedule` draws: it steps a real scheduler once per step (about 30 s and
#: 8 MB per million steps); ``total_steps=1e9`` asked for 8 GB and hours before saying anything.
MAX_PREVIEW_STEPS = 1_000_000
#: What :func:`create_scheduler` returns.
Scheduler = LRScheduler | ReduceLROnPlateau


class _SchedulerConfigKeys(TypedDict):
    scheduler: Scheduler


class SchedulerConfig(_SchedulerConfigKeys, total=False):
    """Lightning's scheduler dict, as :func:`lightning_scheduler_config` returns it.

    The keys and value types of Lightning's own ``LRSchedulerConfigType`` (``scheduler`` required,
    the others optional), so a type checker takes ``{"optimizer": opt, "lr_scheduler": config}`` as
    what ``configure_optimizers`` returns, under ``lightning.pytorch`` and ``pytorch_lightning`` alike.
    """

    name: str | None
    interval: str
    frequency: int
    reduce_on_plateau: bool
    monitor: str | None
    strict: bool


class _Required:
    """Marker for a setting without a default."""

    def __repr__(self) -> str:
        return "<required>"


#: Default value of a setting the caller must give.
REQUIRED: Any = _Required()


class _NoSuggestion(enum.Enum):
    """The default of ``suggestion``: none given, told apart from an explicit ``None``.

    An inconclusive range test's ``result.suggestion`` is ``None``; passed on, it built the schedule at the
    optimizer's LR as if no suggestion had been meant (:func:`_warn_suggestion_none`).
    """

    NONE_GIVEN = "none given"

    def __repr__(self) -> str:
        return "<no suggestion>"


_NONE_GIVEN = _NoSuggestion.NONE_GIVEN


# --------------------------------------------------------------------------------------------
# Picklable LR multipliers for LambdaLR (module level, plain attributes: state_dict saves them)
# --------------------------------------------------------------------------------------------


def constant_factor(step: int) -> float:
    """``LambdaLR`` multiplier of the ``constant`` schedule: always 1."""
    return 1.0


@dataclass
class InverseDecay:
    """``LambdaLR`` multiplier ``(1 + gamma * t) ** -power`` (Caffe's ``inv`` policy).

    Attributes:
        gamma: Decay rate (``> 0``).
        power: Exponent (``> 0``; 1 gives 1/t decay).

    """

    gamma: float
    power: float

    def __call__(self, step: int) -> float:
        """Return the multiplier at ``step``."""
        multiplier: float = (1.0 + self.gamma * step) ** -self.power  # float ** float is typed Any (it may be complex)
        return multiplier


@dataclass
class FactorDecay:
    """``LambdaLR`` multiplier ``max(floor, factor ** floor(t / step_size))`` (MXNet's factor).

    Attributes:
        factor: Multiplier per ``step_size`` steps, in ``(0, 1)``.
        step_size: Steps between multiplications (``>= 1``).
        floor: Lowest multiplier (``eta_min / eta0`` of the group).

    """

    factor: float
    step_size: int
    floor: float

    def __call__(self, step: int) -> float:
        """Return the multiplier at ``step``."""
        return max(self.floor, self.factor ** (step // self.step_size))


@dataclass
class LinearWarmup:
    """``LambdaLR`` multiplier of the linear warm-up: ``s + (1 - s) * t / W`` for ``t < W``, then 1.

    Attributes:
        warmup_steps: ``W`` (``>= 1``).
        start_factor: ``s`` in ``[0, 1)``: the first step runs at ``s`` times the target LR.

    """

    warmup_steps: int
    start_factor: float

    def __call__(self, step: int) -> float:
        """Return the multiplier at ``step``."""
        if step >= self.warmup_steps:
            return 1.0
        return self.start_factor + (1.0 - self.start_factor) * step / self.warmup_steps


class CosineToMin(CosineAnnealingLR):
    """torch's ``CosineAnnealingLR`` that stays at ``eta_min`` after ``T_max`` steps.

    torch's schedule is periodic: stepped past ``T_max`` (a fit that runs longer than planned,
    or resumed with more epochs) it climbed back to ``eta0`` by ``2 * T_max``. The anneal of the
    ``cosine`` schedule ends at its floor, as its formula does at ``t = T``.
    """

    def get_lr(self) -> list[float | torch.Tensor]:
        """The LRs at ``last_epoch``: torch's up to ``T_max``, ``eta_min`` after it."""
        if self.last_epoch > self.T_max:
            return [self.eta_min for _ in self.optimizer.param_groups]
        return super().get_lr()


def _set_lr(group: dict[str, Any], lr: float) -> None:
    """Set a param group's LR; a tensor LR in place, as torch's schedulers (ReduceLROnPlateau's decay too) do.

    Whoever holds the tensor (a compiled or captured optimizer step) then sees the new LR; a float
    swapped in for it was never seen there.
    """
    if isinstance(group["lr"], torch.Tensor):
        with torch.no_grad():
            group["lr"].fill_(lr)
    else:
        group["lr"] = lr


#: The default of :meth:`PlateauWithWarmup.step`'s ``metrics``: a call without it is refused in words.
_NO_METRIC: Any = object()


class PlateauWithWarmup(ReduceLROnPlateau):
    """``ReduceLROnPlateau`` with an optional linear warm-up and the name of its metric.

    The warm-up counts *optimizer* steps, as every other schedule's does, although the
    metric is read once per epoch: for the first ``warmup_steps`` calls of
    ``optimizer.step()`` the LR follows :class:`LinearWarmup` towards the LR the optimizer had
    at construction (a hook on the optimizer's step moves it), and :meth:`step` ignores a
    metric of an interval with warm-up steps in it (measured at warm-up LRs); then it is
    torch's ``ReduceLROnPlateau``, starting afresh. With
    ``warmup_steps=0`` it is exactly torch's class.

    Args:
        optimizer: The optimizer.
        monitor: Name of the logged metric to pass to :meth:`step` (Lightning's ``monitor``).
        warmup_steps: Number of warm-up optimizer steps (``>= 0``).
        warmup_start_factor: Warm-up start, as a fraction of the target LR, in ``[0, 1)``.
        **kwargs: ``ReduceLROnPlateau`` settings (``mode``, ``factor``, ``patience``, ...).

    """

    def __init__(
        self,
        optimizer: Optimizer,
        *,
        monitor: str = "val_loss",
        warmup_steps: int = 0,
        warmup_start_factor: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(optimizer, **kwargs)
        self.monitor = monitor
        self.warmup_steps = warmup_steps
        self.warmup_start_factor = warmup_start_factor
        self.warmup_target_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.warmup_calls = 0
        # warmup_calls at the last step(metrics): a metric counts once a whole interval ran warmed up.
        self.warmup_calls_at_step = 0
        self._warmup_hook: Any = None
        if warmup_steps > 0:
            self._set_warmup_lr()
            self._register_warmup_hook()

    def _register_warmup_hook(self) -> None:
        # Stepped per epoch (it reads a per-epoch metric), the scheduler would warm up over
        # warmup_steps *epochs*: the optimizer's own steps move the warm-up instead.
        if self.warmup_steps > 0 and self._warmup_hook is None:
            self._warmup_hook = self.optimizer.register_step_post_hook(self._advance_warmup)

    def _advance_warmup(self, optimizer: Optimizer, args: Any, kwargs: Any) -> None:
        # Warmed up, the hook stays and does nothing: removing it here, while torch's step runs
        # the hooks, failed the next hook with "OrderedDict mutated during iteration".
        if self.warmup_calls < self.warmup_steps:
            self.warmup_calls += 1
            self._set_warmup_lr()

    def _set_warmup_lr(self) -> None:
        factor = LinearWarmup(self.warmup_steps, self.warmup_start_factor)(self.warmup_calls)
        for group, target in zip(self.optimizer.param_groups, self.warmup_target_lrs):
            _set_lr(group, target * factor)
        self._last_lr = [float(group["lr"]) for group in self.optimizer.param_groups]

    def step(self, metrics: Any = _NO_METRIC, epoch: int | None = None) -> None:  # type: ignore[override]
        """Pass ``metrics`` to ``ReduceLROnPlateau.step``, or ignore it during the warm-up.

        Args:
            metrics: The monitored value (ignored when warm-up steps ran since the last call).
            epoch: Deprecated by torch; leave it ``None``.

        Raises:
            TypeError: ``metrics`` is missing or not a number (the message names the monitored metric).

        """
        try:
            float(metrics)  # what torch reads it with
        except (TypeError, ValueError, RuntimeError):
            # torch's own words were "float() argument must be a string or a real number, not 'NoneType'" (a
            # metric never logged, read as logs.get(...)), naming neither the scheduler nor the metric; a loop
            # written for the other schedules, scheduler.step() with no argument, got Python's "missing 1
            # required positional argument: 'metrics'".
            got = "no argument (as the other schedules are stepped)" if metrics is _NO_METRIC else repr(metrics)
            raise TypeError(
                f"Expected plateau's step(metrics) to get the value of the monitored metric {self.monitor!r}, a "
                f"number, but got {got}: pass the metric each epoch, e.g. scheduler.step(val_loss), once it "
                "is computed (under Lightning, log it under that name before the scheduler steps)."
            ) from None
        warmed_up = self.warmup_calls_at_step >= self.warmup_steps
        self.warmup_calls_at_step = self.warmup_calls
        if not warmed_up:
            self.last_epoch += 1
            return
        super().step(metrics, epoch)

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state, without the optimizer and the warm-up's hook handle."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_warmup_hook")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from :meth:`state_dict` (the warm-up hook stays as this instance has it)."""
        state = {k: v for k, v in state_dict.items() if k != "_warmup_hook"}
        self.__dict__.update(state)
        self._register_warmup_hook()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle without the hook handle (the optimizer's hooks are not pickled with it)."""
        return {k: v for k, v in self.__dict__.items() if k != "_warmup_hook"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, and hook the warm-up into the (unpickled) optimizer's step again."""
        self.__dict__.update(state)
        self._warmup_hook = None
        if self.warmup_calls < self.warmup_steps:
            self._register_warmup_hook()


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _result_as_number(name: str, value: Suggestion | RangeTestResult) -> str:
    """The refusal of a range test's result or suggestion given as an LR setting (``max_lr=result.suggestion``).

    The message printed the whole object (a result's every swept LR and loss) and said nothing of what to pass:
    the object itself as ``suggestion=``, from which the schedule reads its LRs, or the one number meant.
    """
    kind = type(value).__name__
    owner = "result" if isinstance(value, RangeTestResult) else "suggestion"
    band = "result.training_suggestion" if isinstance(value, RangeTestResult) else "suggestion"
    fields = {"lr": f"{owner}.lr", "max_lr": f"{band}.max_lr", "base_lr": f"{band}.min_lr", "min_lr": f"{band}.min_lr"}
    number = f", e.g. {name}={fields[name]}" if name in fields else ""  # eta_min: no LR of the curve's is one
    return (
        f"Expected {name} to be a number, but got a {kind}. Pass it as suggestion={owner}, from which the schedule "
        f"reads its start LR (and one-cycle's and cyclic's band, min_lr to max_lr), or pass a number{number}"
    )


def _number(name: str, value: Any, *, low: float | None = None, high: float | None = None, strict: str = "") -> float:
    """Check a real number against ``low``/``high``; ``strict`` holds ``"l"``/``"h"`` for ``<``."""
    value = plain(value)  # torch.tensor(0.1), np.float32(0.1): the number they hold
    if isinstance(value, (Suggestion, RangeTestResult)):
        raise TypeError(_result_as_number(name, value))
    if not is_real(value) or not math.isfinite(value):  # numpy's numbers too (np.float32 is no float)
        raise TypeError(f"Expected {name} to be a finite number, but got {name}={value!r}")
    bad_low = low is not None and (value <= low if "l" in strict else value < low)
    bad_high = high is not None and (value >= high if "h" in strict else value > high)
    if bad_low or bad_high:
        parts = []
        if low is not None:
            parts.append(f"{low} {'<' if 'l' in strict else '<='} {name}")
        if high is not None:
            parts.append(f"{name} {'<' if 'h' in strict else '<='} {high}")
        rule = " and ".join(parts)
        raise ValueError(f"Expected {rule}, but got {name}={value!r}")
    return float(value)


def _integer(name: str, value: Any, *, low: int) -> int:
    value = plain(value)  # torch.tensor(100), np.int64(100): the int they hold
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"Expected {name} to be an integer, but got {name}={value!r}{whole_number_hint(name, value, low=low)}"
        )
    if value < low:
        raise ValueError(f"Expected {name} >= {low}, but got {name}={value!r}")
    return int(value)


def _choice(name: str, value: Any, options: Sequence[str]) -> str:
    if not is_choice(value, tuple(options)):
        raise ValueError(f"Expected {name} to be one of {', '.join(map(repr, options))}, but got {name}={value!r}")
    return str(value)


def _base_lrs(optimizer: Optimizer) -> list[float]:
    return [float(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]


def _ratios(optimizer: Optimizer) -> list[float]:
    """Each group's LR relative to the optimizer's ``lr`` (its discriminative / bias factor)."""
    bases = _base_lrs(optimizer)
    ref = optimizer.defaults.get("lr")
    if isinstance(ref, torch.Tensor):
        ref = float(ref)
    if not (isinstance(ref, (int, float)) and ref > 0):
        ref = max(bases)
    if not ref > 0:  # every group at lr 0: no ratios to keep, each group is at ratio 1
        return [1.0 for _ in bases]
    return [b / ref for b in bases]


def _per_group(name: str, value: Any, optimizer: Optimizer) -> list[float]:
    """A scalar LR is applied to the optimizer's ``lr`` (groups keep their ratios); a list is per group."""
    if isinstance(value, (list, tuple)):
        groups = optimizer.param_groups
        if len(value) != len(groups):
            # The groups' names, where the optimizer has them: create_optimizer's lr_factors split each factor's
            # parameters by weight decay, so 2 factors are 4 groups, which the count alone left to guess.
            names = [g.get("name") for g in groups]
            named = ": " + ", ".join(map(repr, names)) if all(isinstance(n, str) for n in names) else ""
            raise ValueError(
                f"Expected {name} to be a number or one value per param group ({len(groups)}{named}), but got "
                f"{len(value)} values"
            )
        return [_number(f"{name}[{i}]", v, low=0, strict="l") for i, v in enumerate(value)]
    lr = _number(name, value, low=0, strict="l")
    return [lr * r for r in _ratios(optimizer)]


def _lrs_text(lrs: Sequence[float]) -> str:
    """Per-group LRs for a message: ``[1.00e-02, 2.00e-02]``."""
    return "[" + ", ".join(f"{lr:.2e}" for lr in lrs) + "]"


def _has_momentum(optimizer: Optimizer) -> bool:
    if "betas" in optimizer.defaults:
        return True
    momentum = optimizer.defaults.get("momentum", 0)
    return isinstance(momentum, (int, float)) and momentum > 0


def _cycle_momentum(value: Any, optimizer: Optimizer) -> bool:
    if value is None:
        return _has_momentum(optimizer)
    if not isinstance(value, bool):
        raise TypeError(f"Expected cycle_momentum to be a bool or None, but got cycle_momentum={value!r}")
    if value and not _has_momentum(optimizer):
        raise ValueError(
            f"cycle_momentum=True needs an optimizer with momentum > 0 or betas, but {optimizer_class_name(optimizer)} "
            "has neither; leave cycle_momentum=None to cycle only where possible"
        )
    return value


def _momentum_bounds(name: str, s: dict[str, Any], cycle_momentum: bool) -> tuple[float, float]:
    """``base_momentum`` and ``max_momentum`` of a cycle, checked; a pair the wrong way round is said.

    The momentum cycles inversely to the LR (Smith & Topin): ``max_momentum`` where the LR is
    lowest, ``base_momentum`` at the LR's peak. A ``base_momentum`` above ``max_momentum`` turns
    that round, the largest momentum at the largest LR, which is far more often a swapped pair.
    """
    base = _number("base_momentum", s["base_momentum"], low=0, high=1)
    top = _number("max_momentum", s["max_momentum"], low=0, high=1)
    if cycle_momentum and base > top:
        warn(
            f"Schedule {name!r} with base_momentum={base:g} > max_momentum={top:g} cycles the momentum the wrong way "
            "round: it is at base_momentum at the LR's peak and at max_momentum where the LR is lowest, so this pair "
            f"gives the largest momentum at the largest LR. Swap them (base_momentum={top:g}, max_momentum={base:g}), "
            "or pass cycle_momentum=False for a fixed momentum.",
            UserWarning,
        )
    return base, top


# --------------------------------------------------------------------------------------------
# Builders: (optimizer, steps of the main schedule or None, settings) -> scheduler
# --------------------------------------------------------------------------------------------


#: CyclicLR's default half cycle (torch's): far longer than a short fit.
_CYCLIC_STEP_SIZE_UP = 2000


def _within_run(
    name: str, value: int, steps: int | None, effect: str, *, default: bool = False, hint: str = ""
) -> None:
    """Refuse a step count the schedule never reaches: ``value >= steps`` (the main schedule's steps).

    The LRs of a run of ``steps`` scheduler steps are those at ``t = 0 .. steps - 1``: a decay at
    ``t = steps`` or later (a milestone, a ``step_size``, the top of a cycle) never happens.
    """
    if steps is None or value < steps:
        return
    given = " (the default)" if default else ""
    raise ValueError(
        f"Expected {name} < {steps}, the schedule's steps (total_steps - warmup_steps), but got {name}={value}"
        f"{given}: {effect}. Step counts are scheduler steps (optimizer steps, not epochs) from the end of the "
        f"warm-up.{(' ' + hint) if hint else ''}"
    )


def _decay_gamma(name: str, value: Any, per: str) -> float:
    """The ``gamma`` of a decay schedule (``> 0``); one above 1 raises the LR instead, and is said, as is 1.

    Not refused: a growing LR can be meant (a hand-made warm-up or range test), but a decay
    schedule that grows is far more often a mistyped ``gamma`` (``10`` for ``0.1``). A ``gamma``
    of 1 never moves the LR: the schedule is ``constant`` under another name.
    """
    gamma = _number("gamma", value, low=0, strict="l")
    if gamma == 1:
        warn(
            f"Schedule {name!r} with gamma=1 multiplies the LR by 1 {per}: the LR never changes, as under "
            "'constant'. A decay needs 0 < gamma < 1 (e.g. 0.1); use 'constant' for a fixed LR.",
            UserWarning,
        )
    if gamma > 1:
        warn(
            f"Schedule {name!r} with gamma={gamma:g} > 1 multiplies the LR by {gamma:g} {per}: the LR grows "
            "instead of decaying. A decay needs 0 < gamma < 1 (e.g. 0.1).",
            UserWarning,
        )
    return gamma


def _warn_floor_above(name: str, eta_min: float, optimizer: Optimizer, *, zero_stays: bool) -> None:
    """Say when ``eta_min`` (an absolute LR, one for every group) is above a group's LR: the schedule raises it.

    Not refused: a group's LR set low on purpose may be meant to rise to a common floor, but a decay
    that raises the LR is far more often a floor above the LR the range test found.
    """
    bases = _base_lrs(optimizer)
    above = [i for i, base in enumerate(bases) if eta_min > base and not (zero_stays and base == 0)]
    if above:
        warn(
            f"Schedule {name!r} with eta_min={eta_min:.2e} is above the LR of param {word(len(above), 'group')} "
            f"{above} "
            f"({_lrs_text([bases[i] for i in above])}): it raises their LR to eta_min instead of decaying it. "
            "eta_min is an absolute LR, the same for every group: set it below the LR (e.g. a hundredth of it), "
            "or 0.",
            UserWarning,
        )


#: A decay schedule whose last LR is below this fraction of its first is warned about (:func:`_warn_collapse`).
COLLAPSE_RATIO = 1e-6


def _power(base: float, exponent: float) -> float:
    """``base ** exponent``, ``inf`` where it overflows a float.

    A growing ``gamma`` (said by :func:`_decay_gamma`) over a long run, ``exponential`` with ``gamma=2.0`` over 2000
    steps, failed in the collapse check with "(34, 'Numerical result out of range')".
    """
    try:
        power: float = base**exponent  # float ** float is typed Any (a negative base's is complex)
    except OverflowError:
        return math.inf
    return power


def _warn_collapse(name: str, steps: int | None, last: float, setting: str) -> None:
    """Say when a decay leaves the LR more than six decades below its start by the run's last step.

    Not refused (a decay to nothing can be meant), but it is far more often a ``gamma`` or a step
    count meant per epoch and applied per optimizer step: ``exponential`` with ``gamma=0.5`` over 3
    epochs of 16 steps ended at 7.1e-15 times its LR, and training stopped moving after the first epoch.
    """
    if steps is None or not 0 <= last < COLLAPSE_RATIO:
        return
    warn(
        f"Schedule {name!r} with {setting} over its {steps} steps ends at {last:.1e} times its starting LR: the LR "
        "is in effect zero by the end of the run, and training stops moving. Its step counts and gamma are per "
        "scheduler step (optimizer steps, not epochs); for a decay per epoch, multiply the step counts by the steps "
        "per epoch, or take gamma ** (1 / steps_per_epoch) for exponential.",
        UserWarning,
    )


def _build_constant(optimizer: Optimizer, steps: int | None, s: dict[str, Any]) -> LRScheduler:
    return LambdaLR(optimizer, constant_factor)


def _build_step(optimizer: Optimizer, steps: int | None, s: dict[str, Any]) -> LRScheduler:
    step_size = _integer("step_size", s["step_size"], low=1)
    _within_run("step_size", step_size, steps, "the LR would never change", hint="Use 'constant' for a fixed LR.")
    gamma = _decay_gamma("step", s["gamma"], f"every {step_size} steps")
    if steps is not None:
        last = _power(gamma, (steps - 1) // step_size)
        _warn_collapse("step", steps, last, f"gamma={gamma:g}, step_size={step_size}")
    return StepLR(optimizer, step_size=step_size, gamma=gamma)


def _build_multistep(optimizer: Optimizer, steps: int | None, s: dict[str, Any]) -> LRScheduler:
    milestones = s["milestones"]
    if isinstance(milestones, np.ndarray) and milestones.ndim == 1:
        milestones = milestones.tolist()
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence) or not milestones:
        raise TypeError(
            f"Expected milestones to be a non-empty sequence of integers, but got milestones={milestones!r}"
        )
    ms = [_integer(f"milestones[{i}]", m, low=1) for i, m in enumerate(milestones)]
    if any(b <= a for a, b in zip(ms, ms[1:])):
        raise ValueError(f"Expected milestones strictly increasing, but got milestones={list(milestones)!r}")
    if steps is not None:
        late = [m for m in ms if m >= steps]
        never = f"the {word(len(late), 'milestone')} {late} would never change the LR"
        _within_run("milestones[-1]", ms[-1], steps, never)
    gamma = _decay_gamma("multistep", s["gamma"], "at every milestone")
    _warn_collapse("multistep", steps, _power(gamma, len(ms)), f"gamma={gamma:g} at {plural(len(ms), 'milestone')}")
    return MultiStepLR(optimizer, milestones=ms, gamma=gamma)


def _build_exponential(optimizer: Optimizer, steps: int | None, s: dict[str, Any]) -> LRScheduler:
    gamma = _decay_gamma("exponential", s["gamma"], "at every step")
    if steps is not None:
        _warn_collapse("exponential", steps, _power(gamma, steps - 1), f"gamma={gamma:g}")
    return ExponentialLR(optimizer, gamma=gamma)


def _build_inverse(optimizer: Optimizer, steps: int | None, s: dict[str, Any]) -> LRScheduler:
    gamma = _number("gamma", s["gamma"], low=0, strict="l")
    power = _number("power", s["power"], low=0, strict="l")
    if steps is not None:
        _warn_collapse("inverse", steps, InverseDecay(gamma, power)(steps - 1), f"gamma={gamma:g}, power={power:g}")
    return LambdaLR(optimizer, InverseDecay(gamma, power))


def _build_polynomial(optimizer: Optimizer, steps: int | None, s: dict[str, Any]) -> LRScheduler:
    assert steps is not None  # guaranteed by the spec's needs_total_steps
    return PolynomialLR(optimizer, total_iters=steps, power=_number("power", s["power"], low=0, strict="l"))


def _build_factor(optimizer: Optimizer, steps: int | None, s: dict[str, Any]) -> LRScheduler:
    factor = _number("factor", s["factor"], low=0, high=1, strict="lh")
    step_size = _integer("step_size", s["step_size"], low=1)
    _within_run("step_size", step_size, steps, "the LR would never change", hint="Use 'constant' for a fixed LR.")
    eta_min = _number("eta_min", s["eta_min"], low=0)
    _warn_floor_above("factor", eta_min, optimizer, zero_stays=True)
    if steps is not None and eta_min == 0:  # a floor above zero holds the LR up
        last = factor ** ((steps - 1) // step_size)
        _warn_collapse("factor", steps, last, f"factor={factor:g}, step_size={step_size}")
    # A group at lr 0 (frozen that way) stays at 0 whatever its floor.
    lambdas = [FactorDecay(factor, step_size, eta_min / base if base > 0 else 0.0) for base in _base_lrs(optimizer)]
    return LambdaLR(optimizer, lambdas)  # type: ignore[arg-type]


def _build_cosine(optimizer: Optimizer, steps: int | None, s: dict[str, Any]) -> LRScheduler:
    assert steps is not None
    eta_min = _number("eta_min", s["eta_min"], low=0)
    _warn_floor_above("cosine", eta_min, optimizer, zero_stays=False)  # torch's cosine raises a group at 0 too
    return CosineToMin(optimizer, T_max=steps, eta_min=eta_min)


def _build_onecycle(optimizer: Optimizer, steps: int | None, s: dict[str, Any]) -> LRScheduler:
    assert steps is not None
    max_lr = _base_lrs(optimizer) if s["max_lr"] is None else _per_group("max_lr", s["max_lr"], optimizer)
    pct_start = _number("pct_start", s["pct_start"], low=0, high=1, strict="lh")
    three_phase = s["three_phase"]
    check_flag("three_phase", three_phase)  # "no" would read as True
    if three_phase and not pct_start < 0.5:
        # The rise and the symmetric fall take 2 * pct_start of the run: no room to annihilate.
        raise ValueError(f"Expected pct_start < 0.5 with three_phase=True, but got pct_start={pct_start:g}")
    # torch rises over pct_start * steps - 1 steps: at 0 it divides by zero, below 0 it starts part
    # way down the anneal (for one step, at the final LR).
    if not pct_start * steps > 1:
        if three_phase:  # its symmetric fall collapses too: it would never reach max_lr
            raise ValueError(
                f"Expected pct_start * steps > 1 for onecycle with three_phase=True (a rise of at least one step), "
                f"but got pct_start={pct_start:g} and steps={steps} (total_steps - warmup_steps): "
                f"{pct_start * steps:g}; raise total_steps or pct_start, or set three_phase=False"
            )
        # A run this short (a smoke test, or what is left after a warm-up that reached the peak)
        # has no room to rise: the cycle starts at max_lr and anneals over the whole run, the
        # limit of torch's schedule as the rise shrinks to nothing.
        warn(
            f"onecycle over {plural(steps, 'step')} (total_steps - warmup_steps) has no room to rise with "
            f"pct_start={pct_start:g} (pct_start * steps = {pct_start * steps:g} <= 1): it starts at its peak and "
            "anneals (a single step runs at the final LR). Raise total_steps or pct_start for a rise.",
        )
        pct_start = 0.999 / steps
    cycle_momentum = _cycle_momentum(s["cycle_momentum"], optimizer)
    base_momentum, max_momentum = _momentum_bounds("onecycle", s, cycle_momentum)
    return OneCycleLR(
        optimizer,
        max_lr=max_lr,
        total_steps=steps,
        pct_start=pct_start,
        anneal_strategy=_choice("anneal_strategy", s["anneal_strategy"], ("cos", "linear")),  # type: ignore[arg-type]
        cycle_momentum=cycle_momentum,
        base_momentum=base_momentum,
        max_momentum=max_momentum,
        div_factor=_number("div_factor", s["div_factor"], low=1),  # below 1 the cycle starts above max_lr
        final_div_factor=_number("final_div_factor", s["final_div_factor"], low=0, strict="l"),
        three_phase=three_phase,
    )


def _build_cyclic(optimizer: Optimizer, steps: int | None, s: dict[str, Any]) -> LRScheduler:
    base_lr = _base_lrs(optimizer) if s["base_lr"] is None else _per_group("base_lr", s["base_lr"], optimizer)
    max_lr = _per_group("max_lr", s["max_lr"], optimizer)
    if any(m <= b for b, m in zip(base_lr, max_lr)):
        # The per-group values: base_lr defaults to the optimizer's LRs, a scalar keeps the groups' ratios.
        source = "the optimizer's LRs" if s["base_lr"] is None else f"given {s['base_lr']!r}"
        raise ValueError(
            f"Expected max_lr > base_lr in every param group, but got base_lr={_lrs_text(base_lr)} ({source}), "
            f"max_lr={_lrs_text(max_lr)} (given {s['max_lr']!r})"
        )
    down = s["step_size_down"]
    up = _integer("step_size_up", s["step_size_up"], low=1)
    if steps is not None:
        _within_run(
            "step_size_up", up, steps, "the LR would never reach max_lr", default=up == _CYCLIC_STEP_SIZE_UP,
            hint=f"Pass step_size_up (Smith: 2 to 10 epochs of steps), e.g. step_size_up={max(1, steps // 4)} for "
            "two cycles.",
        )
    # CyclicLR sets each group's LR to base_lr but its first LR comes from the group's initial_lr,
    # which a scheduler built earlier on this optimizer left at its own start: the cycle's first step
    # ran at that stale LR.
    mode = _choice("mode", s["mode"], ("triangular", "triangular2", "exp_range"))
    gamma = _number("gamma", s["gamma"], low=0, strict="l")
    if mode == "exp_range" and gamma > 1:
        # CyclicLR scales the cycle's height by gamma ** t: the LR climbs past max_lr without bound.
        raise ValueError(
            f"Expected gamma <= 1 with mode='exp_range', but got gamma={gamma:g}: the cycle's height is scaled by "
            f"gamma ** t, so the LR would climb past max_lr ({gamma:g} ** 100 = {_power(gamma, 100):.2e} times the "
            "height after 100 steps). Pass gamma < 1 (e.g. 0.999) to shrink the cycles, or mode='triangular' to "
            "keep them."
        )
    if mode != "exp_range" and gamma != 1:
        warn(
            f"Schedule 'cyclic' ignores gamma={gamma:g} in mode={mode!r}: only mode='exp_range' scales the cycles by "
            "gamma ** t. Pass mode='exp_range' to use it, or leave gamma out.",
            UserWarning,
        )
    cycle_momentum = _cycle_momentum(s["cycle_momentum"], optimizer)
    base_momentum, max_momentum = _momentum_bounds("cyclic", s, cycle_momentum)
    for group, lr in zip(optimizer.param_groups, base_lr):
        if "initial_lr" in group:
            group["initial_lr"] = lr
    return CyclicLR(
        optimizer,
        base_lr=base_lr,
        max_lr=max_lr,
        step_size_up=up,
        step_size_down=None if down is None else _integer("step_size_down", down, low=1),
        mode=mode,  # type: ignore[arg-type]
        gamma=gamma,
        cycle_momentum=cycle_momentum,
        base_momentum=base_momentum,
        max_momentum=max_momentum,
    )


def _build_plateau(optimizer: Optimizer, steps: int | None, s: dict[str, Any]) -> ReduceLROnPlateau:
    if not isinstance(s["monitor"], str) or not s["monitor"]:
        raise TypeError(f"Expected monitor to be the name of a logged metric, but got monitor={s['monitor']!r}")
    min_lr = s["min_lr"]
    bases = _base_lrs(optimizer)
    min_lrs = [b / 1024.0 for b in bases] if min_lr is None else _per_group("min_lr", min_lr, optimizer)
    # torch lowers an LR to max(lr * factor, min_lr) only when that is lower: a floor at or above the LR never moves it.
    stuck = [i for i, (base, floor) in enumerate(zip(bases, min_lrs)) if base > 0 and floor >= base]
    if stuck:
        warn(
            f"Schedule 'plateau' with min_lr={min_lr!r} puts the floor of param {word(len(stuck), 'group')} {stuck} "
            f"({_lrs_text([min_lrs[i] for i in stuck])}) at or above {word(len(stuck), 'its', 'their')} LR "
            f"({_lrs_text([bases[i] for i in stuck])}): the schedule never lowers {word(len(stuck), 'it', 'them')}, "
            "whatever the metric does. Set min_lr below the LR (a scalar is the floor of the optimizer's lr, each "
            "group at its ratio), or leave it out (the LR / 1024); use 'constant' for a fixed LR.",
            UserWarning,
        )
    return PlateauWithWarmup(
        optimizer,
        monitor=s["monitor"],
        warmup_steps=s["warmup_steps"],
        warmup_start_factor=s["warmup_start_factor"],
        mode=_choice("mode", s["mode"], ("min", "max")),
        factor=_number("factor", s["factor"], low=0, high=1, strict="lh"),
        patience=_integer("patience", s["patience"], low=0),
        threshold=_number("threshold", s["threshold"], low=0),
        threshold_mode=_choice("threshold_mode", s["threshold_mode"], ("rel", "abs")),
        cooldown=_integer("cooldown", s["cooldown"], low=0),
        min_lr=min_lrs,
        eps=_number("eps", s["eps"], low=0),
    )


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchedulerSpec:
    """One entry of the scheduler registry.

    Attributes:
        name: Registry name.
        summary: One line: the shape and its key settings.
        formula: LR at step ``t`` (see the module docstring).
        settings: Every setting the name takes -> its default (:data:`REQUIRED` if none).
        needs_total_steps: Whether ``total_steps`` must be given.
        interval: The Lightning ``interval`` it is stepped at (what :func:`lightning_scheduler_config`
            picks by default).
        from_suggestion: How ``suggestion=`` fills the LRs: ``"base"`` (each group's LR becomes
            ``suggestion.lr`` times its ratio), ``"onecycle"`` or ``"cyclic"`` (see
            :func:`create_scheduler`).
        warmup: ``"sequential"`` (warm-up is a ``LambdaLR`` before it in a ``SequentialLR``) or
            ``"builtin"`` (the scheduler warms up itself: ``plateau``).
        build: ``(optimizer, main_steps, settings) -> scheduler``.

    """

    name: str
    summary: str
    formula: str
    settings: Mapping[str, Any]
    needs_total_steps: bool
    interval: Interval
    from_suggestion: Literal["base", "onecycle", "cyclic"]
    warmup: Literal["sequential", "builtin"]
    build: Callable[[Optimizer, int | None, dict[str, Any]], Scheduler]


def _sched(
    name: str,
    summary: str,
    formula: str,
    settings: dict[str, Any],
    build: Callable[[Optimizer, int | None, dict[str, Any]], Scheduler],
    *,
    needs_total_steps: bool = False,
    interval: Interval = "step",
    from_suggestion: Literal["base", "onecycle", "cyclic"] = "base",
    warmup: Literal["sequential", "builtin"] = "sequential",
) -> SchedulerSpec:
    return SchedulerSpec(
        name, summary, formula, MappingProxyType(settings), needs_total_steps, interval, from_suggestion, warmup, build
    )


_SPECS = (
    _sched("constant", SCHEDULER_SUMMARIES["constant"], "eta0", {}, _build_constant),
    _sched(
        "step",
        SCHEDULER_SUMMARIES["step"],
        "eta0 * gamma ** floor(t / step_size)",
        {"step_size": REQUIRED, "gamma": 0.1},
        _build_step,
    ),
    _sched(
        "multistep",
        SCHEDULER_SUMMARIES["multistep"],
        "eta0 * gamma ** #(milestones <= t)",
        {"milestones": REQUIRED, "gamma": 0.1},
        _build_multistep,
    ),
    _sched(
        "exponential", SCHEDULER_SUMMARIES["exponential"], "eta0 * gamma ** t", {"gamma": REQUIRED},
        _build_exponential,
    ),
    _sched(
        "inverse",
        SCHEDULER_SUMMARIES["inverse"],
        "eta0 * (1 + gamma * t) ** -power",
        {"gamma": REQUIRED, "power": 0.5},
        _build_inverse,
    ),
    _sched(
        "polynomial",
        SCHEDULER_SUMMARIES["polynomial"],
        "eta0 * (1 - t / T) ** power",
        {"power": 1.0},
        _build_polynomial,
        needs_total_steps=True,
    ),
    _sched(
        "factor",
        SCHEDULER_SUMMARIES["factor"],
        "max(eta_min, eta0 * factor ** floor(t / step_size))",
        {"factor": REQUIRED, "step_size": 1, "eta_min": 0.0},
        _build_factor,
    ),
    _sched(
        "cosine",
        SCHEDULER_SUMMARIES["cosine"],
        "eta_min + (eta0 - eta_min) * (1 + cos(pi * t / T)) / 2",
        {"eta_min": 0.0},
        _build_cosine,
        needs_total_steps=True,
    ),
    _sched(
        "onecycle",
        SCHEDULER_SUMMARIES["onecycle"],
        "torch OneCycleLR",
        {
            "max_lr": None,
            "pct_start": 0.3,
            "anneal_strategy": "cos",
            "div_factor": 25.0,
            "final_div_factor": 1e4,
            "three_phase": False,
            "cycle_momentum": None,
            "base_momentum": 0.85,
            "max_momentum": 0.95,
        },
        _build_onecycle,
        needs_total_steps=True,
        from_suggestion="onecycle",
    ),
    _sched(
        "cyclic",
        SCHEDULER_SUMMARIES["cyclic"],
        "torch CyclicLR",
        {
            "base_lr": None,
            "max_lr": REQUIRED,
            "step_size_up": _CYCLIC_STEP_SIZE_UP,
            "step_size_down": None,
            "mode": "triangular",
            "gamma": 1.0,
            "cycle_momentum": None,
            "base_momentum": 0.8,
            "max_momentum": 0.9,
        },
        _build_cyclic,
        from_suggestion="cyclic",
    ),
    _sched(
        "plateau",
        SCHEDULER_SUMMARIES["plateau"],
        "lr * factor after patience bad epochs, >= min_lr",
        {
            "monitor": "val_loss",
            "mode": "min",
            "factor": 0.5,
            "patience": 10,
            "threshold": 1e-4,
            "threshold_mode": "rel",
            "cooldown": 0,
            "min_lr": None,
            "eps": 1e-8,
        },
        _build_plateau,
        interval="epoch",
        warmup="builtin",
    ),
)

#: The registry: name -> :class:`SchedulerSpec`, read-only.
SCHEDULERS: Mapping[str, SchedulerSpec] = MappingProxyType({s.name: s for s in _SPECS})


#: torch schedulers that keep one value per param group from their construction (LambdaLR's multipliers, OneCycleLR's
#: and CyclicLR's bounds): a group added during training fails them at their next step.
_GROUPS_FIXED_AT_START = (LambdaLR, MultiplicativeLR, OneCycleLR, CyclicLR)


def check_groups_can_grow(
    scheduler: object,
    added_by: str,
    who: str,
    *,
    unfreeze: tuple[int, int] | None = None,
    warmup_option: str = "warmup_steps={}",
) -> None:
    """Refuse a schedule that cannot take a param group ``added_by`` adds during training.

    ``BackboneFinetuning`` (any ``BaseFinetuning``) adds the backbone as a param group of its own when it unfreezes
    it. A ``constant``, ``inverse``, ``factor``, ``onecycle`` or ``cyclic`` schedule failed at that epoch, after the
    epochs before it had trained, with torch's "zip() argument 2 is shorter than argument 1" or ``KeyError:
    'initial_lr'``. A warm-up (a ``LambdaLR`` of :class:`LinearWarmup` before the schedule) fails the same way if
    it still runs at the unfreeze: given ``unfreeze``, ``(epoch, optimizer steps before it)``, one longer than those
    steps is refused; without it (a fine-tuner that does not say when it unfreezes) a warm-up is let through, as it
    is over by the unfreeze in the usual set-up. ``who`` names the option, ``warmup_option`` the setting of the
    warm-up's length (``"warmup_steps={}"``, formatted with the longest it may be).

    Raises:
        ValueError: ``scheduler``, or one it wraps (``SequentialLR``), keeps one value per group from the start, or
            its warm-up is longer than the ``unfreeze`` steps.

    """
    from ._rescaling import _schedulers

    fixed = sorted(
        {
            type(s).__name__
            for s in _schedulers(scheduler)
            if isinstance(s, _GROUPS_FIXED_AT_START)
            and not all(isinstance(f, LinearWarmup) for f in getattr(s, "lr_lambdas", ()) or (None,))
        }
    )
    if fixed:
        raise ValueError(
            f"{who} builds {' and '.join(fixed)}, which keeps one value per param group from the start, but "
            f"{added_by} adds a param group when it unfreezes the backbone, and torch's schedule fails at that "
            "epoch. Use a schedule that reads the groups at each step: 'cosine', 'step', 'multistep', 'exponential' "
            "or 'polynomial' (a warm-up over before the unfreeze is fine); or leave the schedule to "
            "configure_optimizers."
        )
    warmups = [
        f.warmup_steps
        for s in _schedulers(scheduler)
        if isinstance(s, LambdaLR)
        for f in s.lr_lambdas
        if isinstance(f, LinearWarmup)
    ]
    if unfreeze is not None and warmups and max(warmups) > unfreeze[1]:
        epoch, before = unfreeze
        steps = max(warmups)
        raise ValueError(
            f"{who} warms up for {steps} optimizer step{'s' if steps != 1 else ''}, but {added_by} unfreezes the "
            f"backbone at epoch {epoch}, after {before} optimizer steps, while the warm-up still runs: its LambdaLR "
            "keeps one value per param group from the start, and torch's schedule fails at that epoch. Warm up for "
            f"at most {before} steps ({warmup_option.format(before)}{', no warm-up' if before == 0 else ''}), unfreeze "
            "the backbone at a later epoch, or leave the schedule to configure_optimizers."
        )


def steps_before_unfreeze(
    fine_tuner: object, batches: float | None, per_step: Callable[[int], int]
) -> tuple[int, int] | None:
    """``(epoch, optimizer steps before it)`` of ``BackboneFinetuning``'s unfreeze, for :func:`check_groups_can_grow`.

    Each epoch before it counts its own steps, ``max(1, ceil(batches / per_step(epoch)))``, as the
    fit does (a short last step at each epoch's end). The one count the callback and ``train`` share.

    Args:
        fine_tuner: The fit's ``BaseFinetuning`` callback; another than ``BackboneFinetuning`` does not say
            when it unfreezes (no ``unfreeze_backbone_at_epoch``).
        batches: Training batches an epoch; ``None`` or ``inf`` for a loader without a length.
        per_step: Micro-batches per optimizer step in a given epoch (gradient accumulation).

    Returns:
        ``(epoch, steps)``, or ``None`` when the unfreeze epoch or the steps before it are not known
        (an unfreeze at epoch 0 comes after no step, whatever the loader's length).

    """
    at: Any = getattr(fine_tuner, "unfreeze_backbone_at_epoch", None)
    if not is_int(at) or int(at) < 0:
        return None
    epoch = int(at)
    if batches is None or not math.isfinite(batches):
        return (0, 0) if epoch == 0 else None  # an endless epoch 0: no later epoch starts
    return epoch, sum(max(1, math.ceil(batches / per_step(e))) for e in range(epoch))


def list_schedulers() -> tuple[str, ...]:
    """Return the registry names, in registry order.

    Returns:
        ``("constant", "step", "multistep", ...)``.

    """
    return tuple(SCHEDULERS)


def _get_spec(name: object, argument: str = "scheduler name") -> SchedulerSpec:
    """The registry's spec for ``name``; the one check of a scheduler name (the callback's included).

    Args:
        name: The name to look up.
        argument: How the error names the value (the caller's parameter, e.g. ``"scheduler"``).

    Raises:
        ValueError: ``name`` is not a registry name; the message lists them and the close ones.

    """
    name = scheduler_name(name)  # "Cosine", "one-cycle": the registry name, as optimizer names are case-insensitive
    if not isinstance(name, str) or name not in SCHEDULERS:
        raise ValueError(
            f"Unknown {argument}={name!r}; expected one of {', '.join(SCHEDULERS)}."
            + did_you_mean(name, SCHEDULERS, SCHEDULER_ALIASES)
        )
    return SCHEDULERS[name]


def plateau_val_monitor(name: object, settings: Mapping[str, Any] | None) -> str | None:
    """The ``val...`` metric a ``plateau`` schedule steps on, which only a validation loop logs; else ``None``.

    ``monitor`` defaults to the registry's (``"val_loss"``). What ``LRFinder(scheduler="plateau")``
    and :func:`lrfinder.train` check against the validation the fit will run, before training.

    Example:
        >>> plateau_val_monitor("plateau", None), plateau_val_monitor("plateau", {"monitor": "train_loss"})
        ('val_loss', None)

    """
    if not (isinstance(name, str) and name == "plateau"):  # its callers keep the registry name ("Plateau" read)
        return None
    monitor = (settings or {}).get("monitor", SCHEDULERS["plateau"].settings["monitor"])
    return monitor if isinstance(monitor, str) and monitor.startswith("val") else None


def advised_warmup(name: str, steps: int, base_lr: float, lr: float) -> dict[str, Any]:
    """The warm-up settings that build in a batch-size scaling's advised warm-up before schedule ``name``.

    Goyal et al. ramp the LR linearly from the LR found at the test's batch (``base_lr``) up to
    the one scaled for training (``lr``) over the first epochs, so the warm-up starts at
    ``base_lr / lr`` of the schedule's first LR rather than at 0 (a short warm-up from 0 spends
    its first step at LR 0). ``onecycle`` and ``cyclic`` get none: they start far below their peak
    and climb to it on their own, the gradual rise the warm-up is there for; a warm-up before them
    would only take steps from that climb (a short training's one-cycle was left a step or two,
    never leaving its starting LR).

    Args:
        name: The registry name of the schedule training runs.
        steps: The advised warm-up in optimizer steps (``0``: none).
        base_lr: The LR before scaling (:attr:`lrfinder.ScaledLR.base_lr`).
        lr: The LR after it (:attr:`lrfinder.ScaledLR.lr`).

    Returns:
        ``{"warmup_steps": steps, "warmup_start_factor": base_lr / lr}`` for :func:`create_scheduler`,
        or ``{}`` when no warm-up goes before ``name``.

    Raises:
        ValueError: ``name`` is not a registry name, ``steps`` is negative, or an LR is not > 0.
        TypeError: ``steps`` is not an integer, or an LR not a finite number.

    Example:
        >>> advised_warmup("cosine", 40, 0.01, 0.04)
        {'warmup_steps': 40, 'warmup_start_factor': 0.25}
        >>> advised_warmup("onecycle", 40, 0.01, 0.04)
        {}

    """
    spec = _get_spec(name)
    # Unchecked, None or a string failed in the comparison below and NaN LRs gave a warm-up from 0.
    steps = _integer("steps", steps, low=0)
    base_lr = _number("base_lr", base_lr, low=0.0, strict="l")
    lr = _number("lr", lr, low=0.0, strict="l")
    if steps == 0 or spec.from_suggestion != "base":
        return {}
    start = base_lr / lr if base_lr < lr else 0.0
    return {"warmup_steps": int(steps), "warmup_start_factor": start}


#: :func:`create_scheduler`'s warm-up arguments, which settings passed on to it whole may hold.
WARMUP_SETTINGS = ("warmup_steps", "warmup_start_factor")


#: What others call :func:`create_scheduler`'s ``total_steps``: torch's cosine and polynomial schedules, the sweep's.
_TOTAL_STEPS_ALIASES = {"T_max": "total_steps", "total_iters": "total_steps", "num_steps": "total_steps"}


#: torch's OneCycleLR's other way to give its length: ``total_steps = epochs * steps_per_epoch``.
_LENGTH_PARTS = ("epochs", "steps_per_epoch")


def length_alias(key: str) -> str:
    """``"total_steps"`` when ``key`` gives a schedule's length under another name, else ``key``.

    Another name is torch's ``T_max`` (cosine), ``total_iters`` (polynomial), the sweep's ``num_steps``, or
    one of OneCycleLR's ``epochs`` and ``steps_per_epoch``, whose product is the length.

    Example:
        >>> length_alias("T_max"), length_alias("epochs"), length_alias("eta_min")
        ('total_steps', 'total_steps', 'eta_min')

    """
    return "total_steps" if key in _TOTAL_STEPS_ALIASES or key in _LENGTH_PARTS else key


#: What OneCycleLR's ``epochs`` and ``steps_per_epoch`` are, for :func:`length_clause` and :func:`_length_refusal`.
_LENGTH_PARTS_ARE = "torch's OneCycleLR's other way to give the length, total_steps = epochs * steps_per_epoch"


def length_clause(key: str) -> str:
    """What a :func:`length_alias` ``key`` is, for a message: ``"T_max is another name for total_steps, ..."``."""
    if key in _LENGTH_PARTS:
        return f"{key} is part of {_LENGTH_PARTS_ARE}"
    return f"{key} is another name for total_steps, the schedule's length"


def own_setting(settings: Iterable[str], own: Collection[str]) -> tuple[str, str, str] | None:
    """The first of ``settings`` that the caller sets itself (one of ``own``), under its name or the length's others.

    Where the caller sets ``total_steps`` itself (``LRFinder``, :func:`lrfinder.train`, ``lrfind``), a
    ``T_max=100`` among the settings was refused as a setting the schedule does not take ("it accepts:
    eta_min"), without a word that the length is set for the user. Each caller words the refusal.

    Returns:
        ``(key, name the caller sets, length_clause(key) or "")``, or ``None``.

    Example:
        >>> own_setting({"eta_min": 0.0, "T_max": 100}, ("total_steps",))[:2]
        ('T_max', 'total_steps')

    """
    for key in settings:
        meant = length_alias(key)
        if meant in own:
            return key, meant, "" if meant == key else length_clause(key)
    return None


def _length_refusal(name: str, settings: Mapping[str, Any], total_steps: int | None) -> str | None:
    """The message for a length given as a setting (``T_max``, OneCycleLR's ``epochs``), for :func:`create_scheduler`.

    With ``total_steps`` given too, ``T_max=...`` was refused as a setting cosine "does not take" (it accepts
    eta_min), and OneCycleLR's ``epochs`` and ``steps_per_epoch`` likewise, as unknown options.
    """
    keys = [key for key in settings if length_alias(key) != key]
    if not keys:
        return None
    got = ", ".join(f"{key}={settings[key]!r:.40}" for key in keys)
    parts = [key for key in keys if key in _LENGTH_PARTS]
    clauses = [length_clause(key) for key in keys if key not in _LENGTH_PARTS]
    if len(parts) == 2:
        clauses.append(f"epochs and steps_per_epoch are {_LENGTH_PARTS_ARE}")
    elif parts:
        clauses.append(length_clause(parts[0]))
    why = "; ".join(clauses)
    if total_steps is not None:
        return (
            f"Scheduler {name!r} got its length twice, total_steps={total_steps} and {got}: {why}. "
            f"Drop {', '.join(keys)}."
        )
    values = [plain(settings[key]) for key in keys]
    counted = all(is_int(v) for v in values) and (len(parts) == 2 or (not parts and len(keys) == 1))
    length = f"total_steps={math.prod(int(v) for v in values)}" if counted else "total_steps=N"
    return (
        f"Scheduler {name!r} takes the schedule's length as total_steps (the number of scheduler steps of the run), "
        f"but got {got}: {why}. Pass {length} instead."
    )


#: :func:`create_scheduler`'s own keyword arguments, offered for a misspelt setting (``warmup_step=100``).
_KEYWORDS = ("total_steps", "suggestion", *WARMUP_SETTINGS)


def check_scheduler_settings(
    name: str, settings: Mapping[str, Any], *, warmup: bool = False, keywords: tuple[str, ...] = ()
) -> None:
    """Refuse setting names the ``name`` schedule does not take, suggesting the close ones.

    Args:
        name: The registry name.
        settings: The setting names (and values) to check.
        warmup: Whether :data:`WARMUP_SETTINGS` are allowed too (settings that are passed to
            :func:`create_scheduler` whole, as ``LRFinder(scheduler_settings=...)``'s are).
        keywords: The caller's own keyword arguments, offered as well for a misspelt one: ``warmup_step=100`` was
            answered "it accepts: eta_min" and nothing close.

    Raises:
        ValueError: ``name`` is not a registry name.
        TypeError: A setting the schedule does not take.

    """
    spec = _get_spec(name)
    name = spec.name
    allowed = (*spec.settings, *WARMUP_SETTINGS) if warmup else tuple(spec.settings)
    unknown = [str(k) for k in settings if k not in allowed]
    if unknown:
        accepted = ", ".join(allowed) or "no settings"
        raise TypeError(
            f"Scheduler {name!r} does not take the {word(len(unknown), 'setting')} {', '.join(unknown)}; it accepts: "
            f"{accepted}."
            + did_you_mean_each(unknown, [*allowed, *(k for k in keywords if k not in allowed)])
        )


#: The run a schedule's settings are built over before a fit is at hand (:func:`schedule_refusal`): far longer than any
#: run, so a setting refused only against a run's length (a warm-up, a milestone or a half cycle past its end) passes,
#: and is judged when the schedule is built for the run. Nothing is stepped, so its length costs nothing.
_STAND_IN_STEPS = 10**12

#: The suggestion schedules are checked against before the range test has run (:func:`schedule_refusal`, the
#: CLI's check before the test): its band, 1e-30 .. 1e30, is wider than any LR, so a setting judged against the
#: band (a ``base_lr`` above it, a ``max_lr`` below it) is judged once the real curve gives one, never refused
#: against a made-up band; its lr, 1e-3, is where a schedule that starts from the suggestion starts.
STAND_IN_BAND = Suggestion(
    lr=1e-3, steepest_lr=1e-3, min_loss_lr=1e-3, divergence_lr=None, non_finite_lr=None, min_lr=1e-30,
    max_lr=1e30, confidence=1.0, rule="divergence_div10", notes=(), smoothed_losses=(), window=5,
)  # fmt: skip


def schedule_refusal(name: str, settings: Mapping[str, Any]) -> Exception | None:
    """The error :func:`create_scheduler` raises for ``settings`` whatever the run, if they cause one.

    Checks the settings' values (types, ranges, a required one missing: the registry's own checks) before the
    optimizer and the run's length are known, at ``LRFinder`` construction, by building the schedule over stand-ins:
    an SGD optimizer with momentum (one param group, or one per value of the per-group settings given as lists), a
    run of :data:`_STAND_IN_STEPS` steps, and a suggestion whose band is wider than any LR. What only the run's
    length, the optimizer or the curve can judge (``warmup_steps`` past the run's end, ``cycle_momentum=True`` on
    an optimizer without momentum, a ``max_lr`` against the band) passes, and is judged when the schedule is built.

    Args:
        name: A registry name (:func:`check_scheduler_settings` has checked ``settings``' names).
        settings: The schedule's settings, the warm-up's (``warmup_steps``, ``warmup_start_factor``) included.

    Returns:
        The ``TypeError`` or ``ValueError`` the settings cause, or ``None``.

    """
    counts = {len(v) for v in settings.values() if isinstance(v, (list, tuple))}
    if len(counts) > 1:
        return None  # per-group values for different numbers of groups: only the real optimizer says which is wrong
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(max([1, *counts]))]
    rest = dict(settings)
    warmup_steps, warmup_start_factor = rest.pop("warmup_steps", 0), rest.pop("warmup_start_factor", 0.0)

    def refusal(total_steps: int) -> Exception | None:
        optimizer = torch.optim.SGD(groups, lr=1e-3, momentum=0.9)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # said when the schedule is built for the run
                _build_scheduler(name, optimizer, total_steps, STAND_IN_BAND, warmup_steps, warmup_start_factor, rest)
        except (TypeError, ValueError) as exc:
            return exc
        return None

    exc = refusal(_STAND_IN_STEPS)
    # A step count at or past the stand-in's end is refused against it, and its message gave the stand-in's length
    # (total_steps=1000000000000) as if it were the user's: when a run longer than the count takes the settings, the
    # count is said to be longer than any run instead.
    huge = {key: value for key, value in settings.items() if max(_step_counts(value), default=0) >= _STAND_IN_STEPS}
    if exc is None or not huge:
        return exc
    other = refusal(4 * max(max(_step_counts(v)) for v in huge.values()) + 2)
    if other is not None:
        return other  # refused over a longer run too: not for the count's length (a setting of the wrong type)
    key, value = next(iter(huge.items()))
    return ValueError(
        f"Expected {key} within the run's total_steps, but got {key}={value!r}: more scheduler steps than any real "
        f"run takes. Step counts are scheduler steps (optimizer steps, not epochs); give {key} as a part of the run."
    )


def _step_counts(value: Any) -> list[int]:
    """The integers a setting holds, itself or in its list (``milestones``), for :func:`schedule_refusal`."""
    items = value if isinstance(value, (list, tuple)) else [value]
    return [int(v) for v in map(plain, items) if isinstance(v, (int, np.integer)) and not isinstance(v, bool)]


def _check_suggestion(suggestion: Any) -> Suggestion:
    if not isinstance(suggestion, Suggestion) and hasattr(suggestion, "training_suggestion"):
        # A RangeTestResult: the band moved to the training batch size and refined, as the callback and
        # lrfind fit build their schedules from (its .suggestion is the raw curve's, at the test's batch).
        result = suggestion
        suggestion = result.training_suggestion
        if suggestion is None:
            raise ValueError(
                f"The range test result holds no suggestion to build the schedule from: {sentence(result.error)} "
                "Pass suggestion=None and the LR settings yourself, or rerun the test as its error advises"
            )
    elif not isinstance(suggestion, Suggestion) and isinstance(getattr(suggestion, "suggestion", None), Suggestion):
        suggestion = suggestion.suggestion  # another object holding one
    if not isinstance(suggestion, Suggestion):
        raise TypeError(f"Expected suggestion to be an lrfinder Suggestion, but got {type(suggestion).__name__}")
    for field_name in ("lr", "min_lr", "max_lr"):
        _number(f"suggestion.{field_name}", getattr(suggestion, field_name), low=0, strict="l")
    return suggestion


def _apply_suggestion(
    spec: SchedulerSpec, optimizer: Optimizer, settings: dict[str, Any], given: set[str], suggestion: Suggestion
) -> None:
    """Fill the LR settings from a range-test suggestion; explicit settings always win.

    A range test records the LR of the group with the largest LR, so the suggestion's LRs go to
    that group and the others keep their ratio to it. The settings are in units of the
    optimizer's ``lr``, like explicit ones: the suggestion's values are divided by the largest
    group's ratio to it.
    """
    ratios = _ratios(optimizer)
    top = max(ratios, default=1.0)
    top = top if top > 0 else 1.0
    lr, min_lr, max_lr = suggestion.lr / top, suggestion.min_lr / top, suggestion.max_lr / top
    if spec.from_suggestion == "base":
        for group, r in zip(optimizer.param_groups, ratios):
            _set_lr(group, lr * r)
            if "initial_lr" in group:
                group["initial_lr"] = lr * r
        optimizer.defaults["lr"] = lr
    elif spec.from_suggestion == "onecycle":
        if "max_lr" not in given or settings["max_lr"] is None:  # None: the default, as without a suggestion
            settings["max_lr"] = max_lr
        peak = settings["max_lr"]
        if "max_lr" in given and is_real(peak) and not peak > 0:
            # Said as without a suggestion: against the band it read "max_lr >= suggestion.min_lr", and lrfind's
            # check before the test named a made-up band (1.00e-30).
            raise ValueError(f"Expected 0 < max_lr, but got max_lr={peak!r}")
        if "max_lr" in given:
            # Named before float() below reads it: max_lr="abc" or a set failed there in Python's words.
            _per_group("max_lr", peak, optimizer)
        if "div_factor" not in given and not isinstance(settings["max_lr"], (list, tuple)):
            settings["div_factor"] = float(settings["max_lr"]) / min_lr
            if settings["div_factor"] < 1:
                raise ValueError(
                    f"Expected max_lr >= suggestion.min_lr for onecycle, but got max_lr={settings['max_lr']!r}, "
                    f"suggestion.min_lr={suggestion.min_lr:.2e}"
                    + (f" (in the optimizer's lr units {min_lr:.2e}: its largest group is at {top:g}x)"
                       if top != 1 else "")
                )
    else:  # cyclic
        if "base_lr" not in given:
            settings["base_lr"] = min_lr
        if "max_lr" not in given:
            settings["max_lr"] = max_lr
        # One end given, the other the band's: said against the band ("max_lr=[1.38e-01] (given 0.1384...)" named
        # a max_lr nobody gave). Both given, or lists per group, the schedule's own check says it.
        low, high = settings["base_lr"], settings["max_lr"]
        if len({"base_lr", "max_lr"} & given) == 1 and is_real(low) and is_real(high) and not high > low:
            if "base_lr" in given:  # the band's peak is max_lr
                mine, other, side, end, name, units = "base_lr", "max_lr", "below", "peak", "max_lr", high
            else:  # the band's low end is base_lr
                mine, other, side, end, name, units = "max_lr", "base_lr", "above", "low end", "min_lr", low
            scaled = f"; {units:.2e} in the optimizer's lr units: its largest group is at {top:g}x" if top != 1 else ""
            raise ValueError(
                f"Expected {mine} {side} the one-cycle band's {end}, which cyclic takes as {other} (suggestion."
                f"{name}={getattr(suggestion, name):.2e}{scaled}), but got {mine}={settings[mine]!r}: pass "
                f"{other}=... too, or leave {mine} out for the band's {'low end' if mine == 'base_lr' else 'peak'}"
            )
    if "max_lr" in given:
        _warn_peak_past_divergence(spec.name, optimizer, settings["max_lr"], suggestion)


def _warn_all_zero(spec: SchedulerSpec, optimizer: Optimizer, settings: dict[str, Any]) -> None:
    """Say when every param group is at LR 0 and the schedule takes its LRs from them: each LR it gives is 0.

    Not refused, as the other checks of the optimizer's LRs: one group at 0 beside others is a frozen group, and
    ``onecycle`` with ``max_lr``, ``cyclic`` (``max_lr`` is required) and ``cosine`` with ``eta_min > 0`` give LRs
    of their own.
    """
    if spec.from_suggestion in ("onecycle", "cyclic") and settings.get("max_lr") is not None:
        return
    floor: Any = settings.get("eta_min")
    if spec.name == "cosine" and is_real(floor) and floor > 0:  # it rises to eta_min: _warn_floor_above says so
        return
    if any(float(group["lr"]) != 0 for group in optimizer.param_groups):
        return
    groups = len(optimizer.param_groups)
    every = "its param group" if groups == 1 else f"each of its {groups} param groups"
    peak = " or max_lr=..." if spec.from_suggestion == "onecycle" else ""
    warn(
        f"Schedule {spec.name!r} is built on an optimizer at lr 0 in {every}: it scales the optimizer's LR, so "
        f"every LR it gives is 0 and nothing trains. Set the optimizer's lr (e.g. {optimizer_class_name(optimizer)}"
        f"(params, lr=1e-3)), pass suggestion=result.suggestion{peak}, then build the schedule.",
        UserWarning,
    )


def _warn_suggestion_none(spec: SchedulerSpec, settings: dict[str, Any], given: set[str]) -> None:
    """Say when ``suggestion=None``, given explicitly, leaves LRs it would have set to the optimizer.

    ``suggestion=result.suggestion`` of an inconclusive range test is ``None``: the schedule was built at the
    optimizer's LR without a word, where ``suggestion=result`` is refused with the test's error. Not said when the
    settings the suggestion fills are all given (``suggestion=None`` with the LR settings is a schedule of one's own).
    """
    if spec.from_suggestion == "base":
        missing = ["its starting LR"]
    else:
        keys = ("max_lr",) if spec.from_suggestion == "onecycle" else ("base_lr", "max_lr")
        # A required one left out is refused next (SUGGESTION_NONE_HINT ends that error).
        missing = [key for key in keys if (key not in given or settings[key] is None) and settings[key] is not REQUIRED]
    if missing:
        warn(
            f"suggestion=None: schedule {spec.name!r} takes {' and '.join(missing)} from the optimizer's LR, as "
            f"without a suggestion. {SUGGESTION_NONE_HINT} Leave suggestion out to build it from the optimizer "
            "without this warning.",
            UserWarning,
        )


#: What an explicit ``suggestion=None`` may be, said where it leaves a schedule without its LRs.
SUGGESTION_NONE_HINT = (
    "If it is result.suggestion of a range test, that test was inconclusive (result.error says why): pass "
    "suggestion=result to be told so, or set the LRs yourself."
)


def _warn_peak_past_divergence(name: str, optimizer: Optimizer, max_lr: Any, suggestion: Suggestion) -> None:
    """Say when an explicit ``max_lr`` climbs past the range test's divergence point.

    Not refused: the peak is the user's to choose (a test at another batch size, a longer warm-up), but
    a peak above the LR where the test's loss turned up is far more often a value typed for another run.
    The group the test recorded (the largest ratio) is the one compared, as its LRs are the suggestion's.
    """
    ceiling = suggestion.divergence_lr or suggestion.non_finite_lr
    if ceiling is None:
        return
    ratios = _ratios(optimizer)
    peak = _per_group("max_lr", max_lr, optimizer)[ratios.index(max(ratios))]
    if peak > ceiling:
        warn(
            f"Schedule {name!r} with max_lr={peak:.2e} climbs past the range test's divergence point "
            f"{ceiling:.2e}, where its loss turned up: training is likely to diverge near the peak. Leave the peak "
            f"to the suggestion ({suggestion.max_lr:.2e}), or set it below {ceiling:.2e}.",
            UserWarning,
        )


# The return type follows the name, for a type checker: plateau's scheduler.step(metric) is ReduceLROnPlateau's, which
# LRScheduler.step(epoch: int | None) refuses; every other schedule is an LRScheduler.
@overload
def create_scheduler(
    name: Literal["plateau"],
    optimizer: Optimizer,
    *,
    total_steps: int | None = None,
    suggestion: Suggestion | RangeTestResult | _NoSuggestion | None = _NONE_GIVEN,
    warmup_steps: int = 0,
    warmup_start_factor: float = 0.0,
    **settings: Any,
) -> PlateauWithWarmup: ...


@overload
def create_scheduler(
    name: Literal[
        "constant", "step", "multistep", "exponential", "inverse", "polynomial", "factor", "cosine", "onecycle",
        "cyclic",
    ],
    optimizer: Optimizer,
    *,
    total_steps: int | None = None,
    suggestion: Suggestion | RangeTestResult | _NoSuggestion | None = _NONE_GIVEN,
    warmup_steps: int = 0,
    warmup_start_factor: float = 0.0,
    **settings: Any,
) -> LRScheduler: ...


@overload
def create_scheduler(
    name: str,
    optimizer: Optimizer,
    *,
    total_steps: int | None = None,
    suggestion: Suggestion | RangeTestResult | _NoSuggestion | None = _NONE_GIVEN,
    warmup_steps: int = 0,
    warmup_start_factor: float = 0.0,
    **settings: Any,
) -> Scheduler: ...


def create_scheduler(
    name: str,
    optimizer: Optimizer,
    *,
    total_steps: int | None = None,
    suggestion: Suggestion | RangeTestResult | _NoSuggestion | None = _NONE_GIVEN,
    warmup_steps: int = 0,
    warmup_start_factor: float = 0.0,
    **settings: Any,
) -> Scheduler:
    """Build an LR schedule by name.

    Call ``scheduler.step()`` once per ``interval`` (after ``optimizer.step()``);
    ``plateau`` takes ``scheduler.step(metric)``. ``t`` and ``total_steps`` count those calls.

    Args:
        name: A registry name (:func:`list_schedulers`); see the module docstring for the
            formulas and :data:`SCHEDULERS` for every setting and its default.
        optimizer: The optimizer whose param groups are scheduled. Each group's LR when the
            schedule is created is its ``eta0``, so groups keep their ratios (discriminative
            LRs, bias factors). A group still at the LR an earlier ``create_scheduler`` left it
            at (nothing stepped or set it since) gets that schedule's ``eta0`` again, so the same
            call made twice builds the same schedule.
        total_steps: Number of scheduler steps of the run (``>= 1``); required by
            ``polynomial``, ``cosine`` and ``onecycle``. ``onecycle`` is torch's ``OneCycleLR``
            itself, which raises on the step past its end ("Tried to step 101 times. The specified
            number of total steps is 100"): count every optimizer step of the run (epochs times the
            steps per epoch, rounded up under gradient accumulation; the warm-up's included).
        suggestion: A range-test :class:`~lrfinder.Suggestion`, or a ``RangeTestResult``: its
            ``training_suggestion`` (the suggestion moved to the training batch size by
            ``result.scale``, and refined), what ``LRFinder(scheduler=...)`` and ``lrfind fit``
            build from.
            The suggestion's LRs are the ones of the group the range test recorded, the group
            with the largest LR; the others keep their ratio to it, as they were tested. For
            ``constant``, ``step``, ``multistep``, ``exponential``, ``inverse``,
            ``polynomial``, ``factor``, ``cosine`` and ``plateau`` that group's LR becomes
            ``suggestion.lr``; for ``onecycle`` its ``max_lr`` is ``suggestion.max_lr`` and
            the cycle starts at ``suggestion.min_lr`` (``div_factor = max_lr / suggestion.min_lr``) and ends
            ``final_div_factor`` (1e4) below that (Smith's annihilation); for ``cyclic``
            ``base_lr = suggestion.min_lr``, ``max_lr = suggestion.max_lr``. Settings given
            explicitly always win over the suggestion.
        warmup_steps: Linear warm-up length (``0 <= warmup_steps < total_steps``); composes with
            every schedule (see the module docstring). It counts optimizer steps, for ``plateau``
            too (stepped per epoch, it warms up on the optimizer's steps).
        warmup_start_factor: First warm-up LR as a fraction of the warmed-up LR, in ``[0, 1)``. Given
            (not 0) without ``warmup_steps``, it is ignored with a warning.
        **settings: The schedule's settings, with torch's names (``step_size``, ``gamma``,
            ``milestones``, ``eta_min``, ``max_lr``, ``pct_start``, ``base_lr``, ``factor``,
            ``patience``, ``monitor``, ...). A scalar ``max_lr`` / ``base_lr`` / ``min_lr`` is
            the LR of a group at ratio 1 (other groups keep their ratios); a list gives one per
            group. ``cycle_momentum=None`` (the default) cycles momentum / ``beta1`` when the
            optimizer has momentum > 0 or betas.

    Returns:
        A torch ``LRScheduler`` (``SequentialLR`` when warming up), or a
        :class:`PlateauWithWarmup` (a ``ReduceLROnPlateau``) for ``plateau``. For Lightning's
        scheduler dict, pass it to :func:`lightning_scheduler_config`.

    Raises:
        ValueError: An unknown name (the valid ones are listed), ``total_steps <= 0``,
            ``warmup_steps >= total_steps``, milestones not increasing, a step count the run
            never reaches (a milestone, ``step``'s or ``factor``'s ``step_size``, ``cyclic``'s
            ``step_size_up``, default 2000, ``>= total_steps - warmup_steps``; checked when
            ``total_steps`` is given), a setting out of range,
            ``onecycle`` with ``three_phase=True`` and ``pct_start >= 0.5`` or too short to rise
            (``pct_start * (total_steps - warmup_steps) <= 1``; with two phases that is a
            warning, and the cycle starts at ``max_lr``).
        TypeError: A setting the schedule does not take, a required setting or ``total_steps``
            missing, a value of the wrong type.

    Example:
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> sched = create_scheduler("cosine", opt, total_steps=100, warmup_steps=10)
        >>> type(sched).__name__
        'SequentialLR'

    """
    scheduler = _build_scheduler(name, optimizer, total_steps, suggestion, warmup_steps, warmup_start_factor, settings)
    logger.debug("create_scheduler: %s total_steps=%s warmup=%d %s", name, total_steps, warmup_steps, settings)
    return scheduler


def _build_scheduler(
    name: str,
    optimizer: Optimizer,
    total_steps: int | None,
    suggestion: Suggestion | RangeTestResult | _NoSuggestion | None,
    warmup_steps: int,
    warmup_start_factor: float,
    settings: dict[str, Any],
) -> Scheduler:
    """:func:`create_scheduler`'s work, without its log line, which :func:`schedule_refusal`'s stand-ins must not write.

    Built over a stand-in run (:data:`_STAND_IN_STEPS`), a user's construction of ``LRFinder(scheduler=...)`` logged
    "create_scheduler: ... total_steps=1000000000000" at DEBUG, a schedule nobody asked for.
    """
    spec = _get_spec(name)
    name = spec.name  # "Cosine": messages and checks below read the registry name
    if not isinstance(optimizer, Optimizer):
        if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"Expected optimizer to be a torch.optim.Optimizer, but got the class {optimizer.__name__}. Pass an "
                f"instance: optimizer={optimizer.__name__}(model.parameters(), lr=...)"
            )
        raise TypeError(f"Expected optimizer to be a torch.optim.Optimizer, but got {type(optimizer).__name__}")
    if total_steps is not None:
        total_steps = _integer("total_steps", total_steps, low=1)
    refusal = _length_refusal(name, settings, total_steps)
    if refusal is not None:
        raise TypeError(refusal)
    if total_steps is None and spec.needs_total_steps:
        # total_step=1000 (or torch's T_max=1000) was answered "needs total_steps" alone, the setting given unnamed.
        close = [key for key in settings if did_you_mean(key, ["total_steps"], _TOTAL_STEPS_ALIASES)]
        # Without one, how to count them: the name alone left the user to guess per batch or per epoch, accumulation.
        how = (
            f"; it got {close[0]}={settings[close[0]]!r:.40}: did you mean total_steps?"
            if close
            else ": for a scheduler stepped after every optimizer step, epochs * len(train_loader), divided by the "
            "batches per optimizer step under gradient accumulation (rounded up); for one stepped once per epoch, "
            "the epochs; in Lightning, total_steps=self.trainer.estimated_stepping_batches"
        )
        raise TypeError(f"Scheduler {name!r} needs total_steps (the number of scheduler steps of the run){how}")
    warmup_steps = _integer("warmup_steps", warmup_steps, low=0)
    if total_steps is not None and warmup_steps >= total_steps:
        raise ValueError(
            f"Expected warmup_steps < total_steps, but got warmup_steps={warmup_steps}, total_steps={total_steps}"
        )
    warmup_start_factor = _number("warmup_start_factor", warmup_start_factor, low=0, high=1, strict="h")
    if warmup_start_factor and not warmup_steps:
        # A start given without a length meant a warm-up, and none was built. A warning, not an error: the callback,
        # lrfind and refine pass a user's start on for the warm-up the batch-size scaling may or may not advise.
        warn(
            f"warmup_start_factor={warmup_start_factor:g} is ignored: there is no warm-up (warmup_steps=0), so "
            f"{name} starts at its own first LR. Pass warmup_steps=N for a warm-up of N steps from "
            f"{warmup_start_factor:g}x the LR, or leave warmup_start_factor out."
        )
    if "lightning" in settings:
        # The flag of the first releases (a return type that changed with it): say what replaced it.
        raise TypeError(
            "create_scheduler does not take lightning=...: it always returns the torch scheduler. For Lightning's "
            "scheduler dict ({'scheduler', 'interval', 'monitor'}), wrap it: "
            "lrfinder.lightning_scheduler_config(create_scheduler(...))"
        )
    check_scheduler_settings(name, settings, keywords=_KEYWORDS)
    eta0s = _reset_eta0(optimizer)
    given = set(settings)
    full: dict[str, Any] = {**spec.settings, **settings}
    if suggestion is None:
        _warn_suggestion_none(spec, full, given)
    elif suggestion is not _NONE_GIVEN:
        _apply_suggestion(spec, optimizer, full, given, _check_suggestion(suggestion))
    missing = [k for k, v in full.items() if v is REQUIRED]
    if missing:
        none = f" (suggestion=None: {SUGGESTION_NONE_HINT})" if suggestion is None else ""
        raise TypeError(f"Scheduler {name!r} needs the {word(len(missing), 'setting')} {', '.join(missing)}{none}")
    _warn_all_zero(spec, optimizer, full)
    main_steps = None if total_steps is None else total_steps - warmup_steps

    scheduler: Scheduler
    if spec.warmup == "builtin":
        full["warmup_steps"] = warmup_steps
        full["warmup_start_factor"] = warmup_start_factor
        scheduler = spec.build(optimizer, main_steps, full)
    elif warmup_steps == 0:
        scheduler = spec.build(optimizer, main_steps, full)
    else:
        main = spec.build(optimizer, main_steps, full)
        # Warm up to the main schedule's own first LR (max_lr / div_factor for onecycle,
        # base_lr for cyclic): SequentialLR restarts from initial_lr and hands over at W.
        for group, lr in zip(optimizer.param_groups, main.get_last_lr()):
            group["initial_lr"] = float(lr)
        warm = LambdaLR(optimizer, LinearWarmup(warmup_steps, warmup_start_factor))
        scheduler = SequentialLR(optimizer, [warm, main], milestones=[warmup_steps])
    _BUILT[optimizer] = [(eta0, float(group["lr"])) for eta0, group in zip(eta0s, optimizer.param_groups)]
    return scheduler


#: Per optimizer, what :func:`create_scheduler` last left in each group: ``(eta0, lr after building)``.
_BUILT: weakref.WeakKeyDictionary[Optimizer, list[tuple[float, float]]] = weakref.WeakKeyDictionary()


def _reset_eta0(optimizer: Optimizer) -> list[float]:
    """Set each group's ``lr`` and ``initial_lr`` to the eta0 of the schedule about to be built; return them.

    The eta0 is the group's LR now. torch's schedulers start from the group's ``initial_lr``, which an
    earlier scheduler (or an optimizer state_dict loaded from its checkpoint) left at its own start: an
    optimizer set to a new LR (the one a range test found) jumped back to the old one. One exception: a
    group still at the LR a schedule :func:`create_scheduler` built left it at (0 at a warm-up's start,
    ``max_lr / div_factor`` for onecycle), nothing having stepped or set it since, is that schedule's
    eta0 again, so building the schedule a second time (a notebook cell run twice) starts from the same LRs.
    """
    built = _BUILT.get(optimizer)
    if built is not None and len(built) != len(optimizer.param_groups):
        built = None
    eta0s = []
    for i, group in enumerate(optimizer.param_groups):
        lr = group["lr"]
        eta0 = group_lr(optimizer, i, group, use="schedule")  # torch's schedulers took lr='1e-4' and failed later
        if built is not None and eta0 == built[i][1]:
            eta0 = built[i][0]
            _set_lr(group, eta0)
        group["initial_lr"] = lr.clone() if isinstance(lr, torch.Tensor) else group["lr"]
        eta0s.append(eta0)
    return eta0s


def lightning_scheduler_config(
    scheduler: Scheduler,
    *,
    interval: Interval | None = None,
    frequency: int = 1,
    monitor: str | None = None,
) -> SchedulerConfig:
    """Lightning's scheduler dict for a scheduler (what ``configure_optimizers`` returns as ``lr_scheduler``).

    Args:
        scheduler: A scheduler, typically from :func:`create_scheduler`.
        interval: ``"step"`` or ``"epoch"``: when Lightning calls ``scheduler.step()``; default
            ``"epoch"`` for a ``ReduceLROnPlateau`` (it reads a metric logged per epoch), ``"step"``
            otherwise (the registry's schedules count optimizer steps).
        frequency: Call ``step()`` every ``frequency`` intervals (``>= 1``).
        monitor: The logged metric a ``ReduceLROnPlateau`` steps on; default its own ``monitor``
            (:class:`PlateauWithWarmup`) or ``"val_loss"``. Only for ``ReduceLROnPlateau``.

    Returns:
        ``{"scheduler": ..., "interval": ..., "frequency": ...}``, plus ``"monitor"`` for a
        ``ReduceLROnPlateau``.

    Raises:
        ValueError: ``interval`` not ``"step"``/``"epoch"``, ``frequency < 1``.
        TypeError: ``scheduler`` is not a scheduler; ``monitor`` for a scheduler that reads none.

    Example:
        >>> opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.1)
        >>> config = lightning_scheduler_config(create_scheduler("plateau", opt, patience=2))
        >>> config["monitor"], config["interval"]
        ('val_loss', 'epoch')

    """
    if not isinstance(scheduler, (LRScheduler, ReduceLROnPlateau)):
        raise TypeError(
            f"Expected scheduler to be a torch LRScheduler or ReduceLROnPlateau, but got {type(scheduler).__name__}"
        )
    plateau = isinstance(scheduler, ReduceLROnPlateau)
    if interval is not None:
        _choice("interval", interval, ("step", "epoch"))
    frequency = _integer("frequency", frequency, low=1)
    if monitor is not None and not plateau:
        raise TypeError(f"monitor is only read by ReduceLROnPlateau, not by {type(scheduler).__name__}")
    config: SchedulerConfig = {
        "scheduler": scheduler,
        "interval": interval or ("epoch" if plateau else "step"),
        "frequency": frequency,
    }
    if plateau:
        config["monitor"] = monitor or getattr(scheduler, "monitor", None) or "val_loss"
    return config


def _metric_values(metrics: Any) -> list[float]:
    """``preview_schedule``'s ``metrics`` as floats (a NaN is a metric that did not improve).

    ``float()`` over them failed with "could not convert string to float: 'a'" (a string),
    "'int' object is not iterable" (a number), naming neither ``metrics`` nor what it takes.
    """
    if isinstance(metrics, np.ndarray) and metrics.ndim == 1:
        metrics = metrics.tolist()
    if isinstance(metrics, (str, bytes)) or not isinstance(metrics, Sequence):
        raise TypeError(
            f"Expected metrics to be a sequence of numbers (one per epoch, e.g. the validation losses), but got "
            f"metrics={metrics!r:.60}"
        )
    values = [plain(m) for m in metrics]
    for i, value in enumerate(values):
        if not is_real(value):
            raise TypeError(f"Expected metrics to hold numbers, but got metrics[{i}]={value!r:.60}")
    return [float(v) for v in values]


def preview_schedule(
    name: str,
    *,
    total_steps: int,
    lr: float = 1.0,
    suggestion: Suggestion | RangeTestResult | _NoSuggestion | None = _NONE_GIVEN,
    metrics: Sequence[float] | None = None,
    steps_per_epoch: int | None = None,
    warmup_steps: int = 0,
    warmup_start_factor: float = 0.0,
    **settings: Any,
) -> np.ndarray:
    """The LR at every step of a schedule, without a model.

    A throw-away SGD optimizer (momentum 0.9, so momentum cycling runs) with one parameter at
    ``lr`` is stepped ``total_steps`` times through :func:`create_scheduler`. Every schedule
    but ``plateau`` is stepped after each optimizer step; ``plateau`` reads its metric once per
    epoch of ``steps_per_epoch`` optimizer steps (every step when ``None``), as Lightning steps it.

    Args:
        name: A registry name.
        total_steps: Number of steps to preview (``1 .. MAX_PREVIEW_STEPS``, a million; a schedule
            built by :func:`create_scheduler` has no such bound).
        lr: The optimizer's LR (``eta0``; one-cycle's ``max_lr`` unless given).
        suggestion: Passed to :func:`create_scheduler`.
        metrics: For ``plateau``: the metric passed to ``step`` after each of the first
            ``total_steps - 1`` steps (each epoch's end with ``steps_per_epoch``); ``None``
            means a metric that never improves (the fastest possible decay). A NaN (a
            diverged epoch's loss) is accepted and counts as an epoch without improvement, as
            torch's ``ReduceLROnPlateau`` (what :func:`create_scheduler` builds) counts it in
            training: the preview shows the cut that training would make.
        steps_per_epoch: For ``plateau``: optimizer steps per epoch (``>= 1``), so the preview
            of a fit of ``total_steps`` optimizer steps reads the metric once per epoch; the
            other schedules step per optimizer step and ignore it.
        warmup_steps: Passed to :func:`create_scheduler`.
        warmup_start_factor: Passed to :func:`create_scheduler`.
        **settings: The schedule's settings.

    Returns:
        Array of shape ``(total_steps,)``: the LR used at step ``t = 0 .. total_steps - 1``.

    Raises:
        ValueError: As :func:`create_scheduler`; ``lr <= 0``; too few ``metrics``; ``total_steps``
            above :data:`MAX_PREVIEW_STEPS`.
        TypeError: As :func:`create_scheduler`; ``metrics`` for a schedule other than plateau, or
            not a sequence of numbers.

    Example:
        >>> preview_schedule("step", total_steps=4, lr=1.0, step_size=2, gamma=0.5)
        array([1. , 1. , 0.5, 0.5])

    """
    total_steps = _integer("total_steps", total_steps, low=1)
    if total_steps > MAX_PREVIEW_STEPS:
        raise ValueError(
            f"Expected total_steps <= {MAX_PREVIEW_STEPS:,} for preview_schedule, which steps the schedule once per "
            f"step and keeps every LR, but got total_steps={total_steps:,}. Preview a shorter run, or build the "
            "schedule with create_scheduler (no bound) and read the LRs at the steps you need."
        )
    lr = _number("lr", lr, low=0, strict="l")
    spec = _get_spec(name)
    name = spec.name
    plateau = spec.warmup == "builtin"
    if metrics is not None:
        if not plateau:
            raise TypeError(f"metrics is only used by 'plateau', not by {name!r}")
        metrics = _metric_values(metrics)
    if steps_per_epoch is not None:
        steps_per_epoch = _integer("steps_per_epoch", steps_per_epoch, low=1)
    every = steps_per_epoch if plateau and steps_per_epoch is not None else 1
    if metrics is not None:
        needed = (total_steps - 1) // every
        if len(metrics) < needed:
            what = "total_steps - 1" if every == 1 else "(total_steps - 1) // steps_per_epoch"
            raise ValueError(f"Expected at least {what} = {needed} metrics, but got {len(metrics)}")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=lr, momentum=0.9)
    scheduler = create_scheduler(
        name,
        optimizer,
        total_steps=total_steps,
        suggestion=suggestion,
        warmup_steps=warmup_steps,
        warmup_start_factor=warmup_start_factor,
        **settings,
    )
    out = np.empty(total_steps)
    for t in range(total_steps):
        out[t] = float(optimizer.param_groups[0]["lr"])
        if t == total_steps - 1:
            break
        optimizer.step()  # no gradient: a no-op that keeps torch's call-order check quiet (and moves a warm-up)
        if isinstance(scheduler, ReduceLROnPlateau):
            if (t + 1) % every == 0:  # an epoch's end
                scheduler.step(metrics[(t + 1) // every - 1] if metrics is not None else 1.0)
        else:
            scheduler.step()
    return out
