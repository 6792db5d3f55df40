"""Batch-size scaling: carry a learning rate found at one batch size to another.

``k = to_batch_size / from_batch_size``; the rules are

* ``linear``: ``lr * k`` (Krizhevsky 2014; Goyal et al. 2017): keeps the expected update per
  sample the same; the SGD family's rule.
* ``sqrt``: ``lr * sqrt(k)`` (Krizhevsky 2014; Hoffer et al. 2017; Malladi et al. 2022): keeps
  the variance of the update noise the same; the rule for adaptive optimizers, whose
  normalised steps do not grow with the gradient's size.
* ``noise``: from the measured gradient noise scale ``B`` (the critical batch,
  :mod:`lrfinder.noise`): ``lr * (1 + B / from) / (1 + B / to)`` (McCandlish et al. 2018) for
  every optimizer family (for Adam the form measured best, over Li et al.'s 2024 surge form: see
  :func:`scale_lr`); linear well below ``B``, saturating near it.
* ``none``: ``lr``.
* ``auto``: ``noise`` when a noise scale is known; else ``sqrt`` for adaptive optimizers (Adam
  family, RMSprop, Adagrad, Adadelta, Yogi), ``linear`` otherwise.

The linear and sqrt rules saturate at large batches, so a scaled LR past the divergence point of the range
test is never accepted silently: :class:`ScaledLR` carries a warning, or ``cap=True`` clamps it.

References:
    Goyal et al., "Accurate, Large Minibatch SGD", 2017, arXiv:1706.02677.
    Hoffer et al., "Train longer, generalize better", 2017, arXiv:1705.08741.
    McCandlish et al., "An Empirical Model of Large-Batch Training", 2018, arXiv:1812.06162.
    Li et al., "Surge Phenomenon in Optimal Learning Rate and Batch Size Scaling", 2024,
    arXiv:2405.14578.

"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, cast, get_args

import numpy as np
import torch

from ._checks import (
    check_flag,
    is_choice,
    is_int,
    is_real,
    none_lr_hint,
    plain,
    real_number,
    result_lr_message,
    whole_number_hint,
)
from ._warn import warn
from ._wording import top_level_parts
from .names import SCALING_RULES, AppliedScalingRule, ScalingRule, did_you_mean
from .noise import ADAPTIVE_SHAPE, CRITICAL_WARN, LR_SHAPE_WORDS, NoiseScale, format_batch, noise_lr_factor

__all__ = ["ScalingRule", "SCALING_RULES", "ScaledLR", "scale_lr", "optimizer_family"]

logger = logging.getLogger(__name__)


_ADAPTIVE = (
    "adam",
    "adamw",
    "amsgrad",
    "nadam",
    "radam",
    "adamax",
    "sparseadam",
    "rmsprop",
    "adagrad",
    "adadelta",
    "yogi",
    "lamb",
    "adafactor",
)
#: Parts of a class name that mark an adaptive optimizer (``FusedAdam``, ``AdamW8bit``, ``PagedAdamW``).
_ADAPTIVE_STEMS = ("adam", "rmsprop", "adagrad", "adadelta", "yogi", "lamb", "adafactor")
#: Parts of a class name that mark an SGD-like one (``RecordingSGD``, ``MomentumSGD``).
_SGD_STEMS = ("sgd", "momentum", "nesterov")
#: Goyal et al. warm up for 5 epochs when scaling the LR by 32; we scale that by doublings of the LR.
MAX_WARMUP_EPOCHS = 5


@dataclass(frozen=True)
class ScaledLR:
    """A learning rate moved from one batch size to another.

    Attributes:
        lr: The scaled learning rate (clamped to ``divergence_lr`` when ``capped``).
        base_lr: The learning rate before scaling.
        factor: ``lr / base_lr`` before any cap (``k`` for linear, ``sqrt(k)`` for sqrt).
        rule: The rule applied: ``"linear"``, ``"sqrt"``, ``"noise"`` or ``"none"`` (never ``"auto"``).
        reason: Why this rule was used, for reports.
        from_batch_size: Batch size the LR was found at.
        to_batch_size: Effective batch size it is used at.
        warmup_epochs: Suggested linear warm-up length in epochs when the LR applied is more than
            2x ``base_lr`` (one epoch per doubling of the LR, at most 5, after Goyal et al.'s 5
            epochs for 32x; a cap counts as the LR it leaves); else 0.
        warning: Set when the scaled LR lands past ``divergence_lr``.
        capped: Whether ``lr`` was clamped to ``divergence_lr``.
        critical_batch: The measured gradient noise scale ``B_noise`` (the critical batch), when
            one was given, whatever the rule.

    """

    lr: float
    base_lr: float
    factor: float
    rule: AppliedScalingRule
    reason: str
    from_batch_size: int
    to_batch_size: int
    warmup_epochs: int
    warning: str | None = None
    capped: bool = False
    critical_batch: float | None = None

    def __post_init__(self) -> None:
        """Check the fields as :meth:`from_dict` checks a file's; numpy numbers and 0-d tensors stored as Python's.

        A ``ScaledLR(...)`` built by hand (to pass to ``train`` or a ``RangeTestResult``) took ``lr="abc"``, ``nan``
        or ``from_batch_size=0`` and failed only later, in a format string or in ``to_json``.

        Raises:
            ValueError: A field of the wrong type or out of its range, named with the key
                (``Expected scaled.lr to be a finite number > 0, but got lr='abc'``).

        """
        for key in ("lr", "base_lr", "factor", "from_batch_size", "to_batch_size", "warmup_epochs", "capped",
                    "critical_batch"):  # fmt: skip
            object.__setattr__(self, key, plain(getattr(self, key)))
        checks: tuple[tuple[str, bool, str], ...] = (
            *((key, _is_positive_real(getattr(self, key)), "a finite number > 0")
              for key in ("lr", "base_lr", "factor")),
            ("rule", is_choice(self.rule, get_args(AppliedScalingRule)),
             "one of 'linear', 'sqrt', 'noise', 'none'"),
            ("reason", isinstance(self.reason, str), "a string"),
            ("from_batch_size", is_int(self.from_batch_size) and self.from_batch_size >= 1, "an integer >= 1"),
            ("to_batch_size", is_int(self.to_batch_size) and self.to_batch_size >= 1, "an integer >= 1"),
            ("warmup_epochs", is_int(self.warmup_epochs) and self.warmup_epochs >= 0, "an integer >= 0"),
            ("warning", self.warning is None or isinstance(self.warning, str), "a string or null"),
            ("capped", isinstance(self.capped, bool), "true or false"),
            ("critical_batch", self.critical_batch is None or _is_positive_real(self.critical_batch),
             "a finite number > 0 or null"),
        )  # fmt: skip
        for key, ok, rule in checks:
            if not ok:
                raise ValueError(f"Expected scaled.{key} to be {rule}, but got {key}={getattr(self, key)!r:.80}")

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as plain JSON-serialisable values."""
        return {
            "lr": self.lr,
            "base_lr": self.base_lr,
            "factor": self.factor,
            "rule": self.rule,
            "reason": self.reason,
            "from_batch_size": self.from_batch_size,
            "to_batch_size": self.to_batch_size,
            "warmup_epochs": self.warmup_epochs,
            "warning": self.warning,
            "capped": self.capped,
            "critical_batch": self.critical_batch,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScaledLR:
        """Build a :class:`ScaledLR` from :meth:`to_dict`'s output.

        Raises:
            ValueError: A missing or unknown key (``Malformed scaled LR: missing key 'lr'``), or a
                value of the wrong type or out of its range, named with the key.
            TypeError: ``data`` is not a mapping (a JSON object).

        """
        if not isinstance(data, Mapping):
            raise TypeError(f"Expected data to be a mapping (a JSON object), but got {type(data).__name__}")
        # Said as RangeTestResult.from_dict says it: cls(**data) raised "ScaledLR.__init__() missing 8 required
        # positional arguments" (a TypeError) for {}.
        fields = dataclasses.fields(cls)
        missing = [f.name for f in fields if f.default is dataclasses.MISSING and f.name not in data]
        unknown = [str(k) for k in data if k not in {f.name for f in fields}]
        for what, keys in (("missing", missing), ("unknown", unknown)):
            if keys:
                raise ValueError(
                    f"Malformed scaled LR: {what} key{'s' if len(keys) > 1 else ''} {', '.join(map(repr, keys))}"
                )
        return cls(**data)  # its fields checked by __post_init__

    def rebase(self, base_lr: float, *, divergence_lr: float | None = None, cap: bool | None = None) -> ScaledLR:
        """The same scaling (batch sizes, rule, factor) applied to another base learning rate.

        Used when the curve is re-analysed: the target batch size and the rule stay, the LR they
        move follows the new suggestion, and the divergence check is made again.

        Args:
            base_lr: The new learning rate found at ``from_batch_size``.
            divergence_lr: The new divergence LR of the range test, if any.
            cap: Clamp to ``divergence_lr`` instead of only warning; default: as this one was.

        Returns:
            A new :class:`ScaledLR` with ``lr = base_lr * factor`` (clamped when capped).

        Raises:
            ValueError: A non-positive or non-finite ``base_lr``.
            TypeError: ``base_lr`` is not a number (a bool is not one).

        Example:
            >>> s = scale_lr(0.1, from_batch_size=32, to_batch_size=128, rule="linear")
            >>> s.rebase(0.01).lr
            0.04

        """
        base = _float("base_lr", base_lr)  # numpy and 0-d tensors as in scale_lr
        if not (math.isfinite(base) and base > 0):
            raise ValueError(f"Expected base_lr > 0 and finite, but got base_lr={base_lr}")
        if cap is not None:
            check_flag("cap", cap)
        moved = replace(self, lr=base * self.factor, base_lr=base, warning=None, capped=False)
        return _check_divergence(moved, divergence_lr, self.capped if cap is None else cap)


def optimizer_family(optimizer: torch.optim.Optimizer | type | str | None) -> Literal["adaptive", "sgd"]:
    """Classify an optimizer (instance, class or registry/class name) as adaptive or SGD-like.

    Adaptive: the Adam family (also by name, e.g. ``FusedAdam``, ``AdamW8bit``), RMSprop,
    Adagrad, Adadelta, Yogi, LAMB, Adafactor, and an optimizer instance with ``betas`` among its
    defaults. An optimizer lrfinder does not know (neither torch's nor the registry's) is taken
    as SGD-like with a warning that says how to choose. ``"Adam,SGD"`` (the callback's name for
    several optimizers) is adaptive only when every one of them is; ``"adamw, weight_decay=1e-02"``
    (``lrfind``'s label, the settings after the name) is AdamW.

    Args:
        optimizer: A torch optimizer, an optimizer class, or a name such as ``"adamw"``.

    Returns:
        ``"adaptive"`` or ``"sgd"``.

    Raises:
        TypeError: ``optimizer`` is none of these (e.g. a number), rather than silently SGD.

    """
    if optimizer is None:
        return "sgd"
    if isinstance(optimizer, str):
        # "adamw, weight_decay=1e-02" (lrfind's label: the name, then its settings) names one optimizer; only
        # the parts without "=" are names ("Adam,SGD" names two).
        parts = top_level_parts(optimizer)
        names = [part.rsplit(":", 1)[-1].rsplit(".", 1)[-1] for part in parts if "=" not in part] or [parts[0]]
    elif isinstance(optimizer, type):
        names = [_known_base(optimizer)]
    elif isinstance(optimizer, torch.optim.Optimizer):
        if "betas" in optimizer.defaults:
            return "adaptive"
        names = [_known_base(type(optimizer))]
    else:
        raise TypeError(
            "Expected optimizer to be a torch optimizer, an optimizer class or a name such as 'adamw', but got "
            f"optimizer={optimizer!r}"
        )
    adaptive = [_adaptive_name(name.lower()) for name in names]
    unknown = [
        name for name, yes in zip(names, adaptive)
        if not yes and name.lower() not in _sgd_like() and not any(stem in name.lower() for stem in _SGD_STEMS)
    ]
    if unknown:
        warn(
            f"lrfinder does not know the optimizer {', '.join(map(repr, unknown))}: it is scaled as SGD-like "
            "(linear rule, SGD's noise form). For an adaptive (Adam-like) optimizer pass rule='sqrt', or name it "
            "as in lrfinder.list_optimizers().",
        )
    return "adaptive" if all(adaptive) else "sgd"


def _known_base(cls: type) -> str:
    """The name of the first class in ``cls``'s MRO whose family is known (a subclass of SGD is SGD)."""
    for base in cls.__mro__:
        lowered = base.__name__.lower()
        if base is torch.optim.Optimizer:
            break
        if _adaptive_name(lowered) or lowered in _sgd_like():
            return base.__name__
    return cls.__name__


def _adaptive_name(lowered: str) -> bool:
    return lowered in _ADAPTIVE or any(stem in lowered for stem in _ADAPTIVE_STEMS)


@functools.cache
def _sgd_like() -> frozenset[str]:
    """Known SGD-like names: the registry's, and torch's optimizers that are not adaptive (built once)."""
    from .names import OPTIMIZER_SUMMARIES

    torch_names = {
        name.lower() for name, cls in vars(torch.optim).items() if isinstance(cls, type) and issubclass(
            cls, torch.optim.Optimizer)
    }
    return frozenset(name for name in (*OPTIMIZER_SUMMARIES, *torch_names, "optimizer") if not _adaptive_name(name))


def _positive_int(name: str, value: object) -> int:
    value = plain(value)  # a 0-d tensor's int; one of more dimensions is refused, as range_test refuses it
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(
            f"Expected {name} to be a positive integer, but got {name}={value!r}{whole_number_hint(name, value, low=1)}"
        )
    return int(value)


def _is_positive_real(value: object) -> bool:
    return is_real(value) and math.isfinite(cast(float, value)) and cast(float, value) > 0


def _digits(value: int) -> str:
    """An integer as it is, or by its number of digits when it is too long to read."""
    text = str(value)
    return text if len(text) <= 16 else f"a {len(text)}-digit number"


def _float(name: str, value: object) -> float:
    """``value`` as a float, checked as range_test checks its LRs (:func:`real_number`); a TypeError otherwise.

    A float32 tensor or ``np.float32`` is the decimal it was written as, not its expansion.
    """
    if name == "lr" and not is_real(plain(value)):
        scale_it = (
            ", or scale the result itself with result.scale(to_batch_size=...), which knows its batch size, "
            "divergence point and optimizer"
        )
        message = result_lr_message(name, value, scale_it if type(value).__name__ == "RangeTestResult" else "")
        if message is not None:
            raise TypeError(message)
    return float(real_number(name, value, none_lr_hint(name, value) if name == "lr" else ""))


def scale_lr(
    lr: float | torch.Tensor,
    *,
    from_batch_size: int,
    to_batch_size: int,
    rule: ScalingRule | str = "auto",
    optimizer: torch.optim.Optimizer | type | str | None = None,
    divergence_lr: float | None = None,
    cap: bool = False,
    noise_scale: float | NoiseScale | None = None,
) -> ScaledLR:
    """Scale a learning rate found at ``from_batch_size`` to ``to_batch_size``.

    The ``noise`` rule uses the gradient noise scale ``B`` (the critical batch, measured by
    ``range_test(..., noise_scale=True)``; see :mod:`lrfinder.noise`):

    * SGD family: ``lr * (1 + B / from_batch_size) / (1 + B / to_batch_size)``, from the best
      SGD LR at batch ``b``, ``eps_max / (1 + B / b)`` (McCandlish et al. 2018): linear scaling
      well below ``B``, no growth well above it.
    * Adaptive optimizers: the same form (:data:`lrfinder.noise.ADAPTIVE_SHAPE`), chosen by
      measurement (``benchmarks/results/batch_scaling.md``) over Li et al.'s (2024) surge form
      ``eps_max / (0.5 * (sqrt(B / b) + sqrt(b / B)))`` (like ``sqrt(b)`` below ``B``, a peak at
      ``b = B``, falling past it) and the saturating ``eps_max / sqrt(1 + B / b)``. Scaled from
      the oracle's best LR at batch 8 (the rule alone), on the Adam task of the tune split it
      has the lowest regret (median 1.008 against 1.065 for the sqrt form and 1.378 for surge),
      and on the held-out check split the lowest median, geometric mean and band count (1.022,
      1.071, 5/6 points in band; sqrt 1.030, 1.245, 4/6; surge 1.129, 1.447, 3/6). The best
      Adam LR kept growing to batch 512 on every task, past the measured ``B`` (49-131): no
      surge within 8-512.

    ``"auto"`` uses the noise rule only for a conclusive measurement
    (:attr:`lrfinder.noise.NoiseScale.inconclusive` is ``None``: at least 5 estimates, a 90%
    interval within 4x); otherwise the fixed rule of the optimizer's family, with the reason.
    ``"noise"`` uses any measurement, with a warning when it is inconclusive. A plain number is
    taken as known.

    Past ``CRITICAL_WARN`` (2) times the critical batch, a warning says that a larger batch buys
    little speed per sample: McCandlish et al. find the samples needed grow as ``1 + b / B``.

    Args:
        lr: The learning rate found (e.g. ``result.suggestion.lr``); Python, numpy or 0-d tensor.
        from_batch_size: Effective batch size of the range test.
        to_batch_size: Effective batch size of training (per-device batch x devices x
            gradient-accumulation steps).
        rule: ``"auto"``, ``"linear"``, ``"sqrt"``, ``"noise"`` or ``"none"``. ``"auto"`` is
            ``"noise"`` when a conclusive ``noise_scale`` is given, else ``sqrt`` for adaptive
            optimizers and ``linear`` for the rest.
        optimizer: Used by ``"auto"`` and ``"noise"`` to pick the family (instance, class or name).
        divergence_lr: The range test's divergence LR; a scaled LR past it raises a warning.
        cap: Clamp the scaled LR to ``divergence_lr`` instead of only warning. The clamp is
            the divergence LR itself, the upper bound of the usable LRs (where the test's
            smoothed loss had already turned up: :attr:`lrfinder.Suggestion.divergence_lr`), not
            an LR with a margin below it: the capped LR is not past the divergence region, but
            it is not a safe one either, and the warning says so (a milder rule, or a test at
            the training batch size, gives margin). The one-cycle peak of
            :attr:`lrfinder.RangeTestResult.training_suggestion` is clamped to the same point.
            Without a ``divergence_lr`` there is nothing to clamp to: the LR is left as scaled,
            with a warning (also kept in :attr:`ScaledLR.warning`).
        noise_scale: The critical batch ``B`` (a number, or a :class:`lrfinder.noise.NoiseScale`).

    Returns:
        A :class:`ScaledLR` (with ``critical_batch`` set when ``noise_scale`` was given and
        used: not for an inconclusive one under ``"auto"``).

    Raises:
        ValueError: A non-positive LR or batch size, an unknown rule, a noise scale that is not
            finite and > 0, or ``rule="noise"`` without a noise scale.

    Example:
        >>> scale_lr(0.1, from_batch_size=32, to_batch_size=128, rule="linear").lr
        0.4
        >>> round(scale_lr(0.1, from_batch_size=32, to_batch_size=128, rule="noise", noise_scale=32).lr, 6)
        0.16

    References:
        McCandlish et al., "An Empirical Model of Large-Batch Training", 2018, arXiv:1812.06162.
        Li et al., "Surge Phenomenon in Optimal Learning Rate and Batch Size Scaling", 2024,
        arXiv:2405.14578.

    """
    lr = _float("lr", lr)
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"Expected lr > 0 and finite, but got lr={lr}")
    from_batch_size = _positive_int("from_batch_size", from_batch_size)
    to_batch_size = _positive_int("to_batch_size", to_batch_size)
    check_flag("cap", cap)
    if not is_choice(rule, SCALING_RULES):
        raise ValueError(
            f"Unknown scaling rule {rule!r}; expected one of {', '.join(SCALING_RULES)}."
            + did_you_mean(rule, SCALING_RULES)
        )
    if divergence_lr is not None:
        divergence_lr = _float("divergence_lr", divergence_lr)
        if not divergence_lr > 0:
            raise ValueError(f"Expected divergence_lr > 0 or None, but got divergence_lr={divergence_lr}")
    critical: float | None = None
    uncertain = noise_scale.inconclusive if isinstance(noise_scale, NoiseScale) else None
    if noise_scale is not None:
        critical = noise_scale.b_simple if isinstance(noise_scale, NoiseScale) else _float("noise_scale", noise_scale)
        if not (math.isfinite(critical) and critical > 0):
            raise ValueError(
                f"Expected noise_scale to be finite and > 0, but got noise_scale={critical}; an unmeasurable "
                "noise scale cannot scale an LR: use rule='linear' or 'sqrt', or measure it again."
            )
    if rule == "noise" and critical is None:
        raise ValueError(
            "rule='noise' needs the gradient noise scale (the critical batch). Measure it with "
            "range_test(..., noise_scale=True) and scale with result.scale(...), or pass "
            "noise_scale=result.noise_scale; otherwise use rule='linear' or 'sqrt'."
        )
    try:
        k = to_batch_size / from_batch_size
    except OverflowError:  # Python ints past the float range
        k = math.inf
    family = optimizer_family(optimizer)
    used: AppliedScalingRule
    if rule == "auto":
        what = "an adaptive optimizer" if family == "adaptive" else "an SGD-family optimizer"
        if optimizer is None:
            what = "no optimizer given, assumed SGD-family"
        if critical is not None and uncertain is None:
            used = "noise"
            reason = f"auto: noise (critical batch ≈ {format_batch(critical)} measured) for {what}"
        else:
            used = "sqrt" if family == "adaptive" else "linear"
            reason = f"auto: {used} for {what}"
            if uncertain is not None:
                # Too uncertain to steer the LR, or to warn about the batch by.
                reason += f" (the noise scale is too uncertain to use: {uncertain})"
                critical = None
    else:
        used = cast(AppliedScalingRule, rule)  # one of SCALING_RULES other than 'auto', checked above
        reason = f"{rule} (requested)"
        if used == "noise" and uncertain is not None:
            warn(
                f"The measured noise scale is uncertain ({uncertain}); the noise rule's LR is only as good as it. "
                "Measure over more steps (a longer or lower-starting sweep, or gradient accumulation), or use "
                "rule='auto' to fall back to the optimizer family's fixed rule.",
            )
    if used == "noise" and critical is not None:
        shape = ADAPTIVE_SHAPE if family == "adaptive" else "sgd"
        try:
            factor = noise_lr_factor(from_batch_size, to_batch_size, critical, shape)
        except OverflowError:
            factor = math.nan
        reason += f"; the noise-scale rule's best LR {LR_SHAPE_WORDS[shape]} (≈ {format_batch(critical)})"
    else:
        factor = {"linear": k, "sqrt": math.sqrt(k), "none": 1.0}[used]
    if not (math.isfinite(lr * factor) and lr * factor > 0):
        # A scaled LR of 0 or inf is no advice: batch sizes this far apart are outside float arithmetic.
        raise ValueError(
            f"Expected batch sizes whose {used} scaling keeps the LR finite and > 0, but got lr={lr:.2e} x{factor:.3g} "
            f"from from_batch_size={_digits(from_batch_size)} to to_batch_size={_digits(to_batch_size)}"
        )
    scaled = ScaledLR(
        lr=lr * factor,
        base_lr=lr,
        factor=factor,
        rule=used,
        reason=reason,
        from_batch_size=from_batch_size,
        to_batch_size=to_batch_size,
        warmup_epochs=0,  # set by _check_divergence, from the LR applied (capped or not)
        critical_batch=critical,
    )
    return _check_divergence(scaled, divergence_lr, cap)


def _check_divergence(scaled: ScaledLR, divergence_lr: float | None, cap: bool) -> ScaledLR:
    """Warn (and with ``cap`` clamp) when ``scaled.lr`` lands past ``divergence_lr``.

    Also warns when ``cap`` is asked without a ``divergence_lr`` (nothing to cap at), and when
    the target batch is past ``CRITICAL_WARN`` times the critical batch; the messages are kept in
    ``warning``.
    """
    warning = None
    capped = False
    lr = scaled.lr
    if cap and divergence_lr is None:
        # cap=True asked for a bound there is none of: said, not silently ignored.
        warning = (
            f"cap=True has no divergence LR to cap at (divergence_lr=None: a range test whose loss never diverged "
            f"has none), so the scaled LR {lr:.2e} is not capped. Pass divergence_lr, or rerun the range test with "
            "a higher max_lr until the loss diverges."
        )
        warn(warning)
    if divergence_lr is not None and lr > divergence_lr:
        warning = (
            f"The scaled LR {lr:.2e} ({scaled.rule} x{scaled.factor:.3g} from batch "
            f"{format_batch(scaled.from_batch_size)} to {format_batch(scaled.to_batch_size)}) is past the divergence "
            f"point {divergence_lr:.2e} of the range test"
        )
        if cap:
            lr = divergence_lr
            capped = True
            warning += (
                f"; capped to {divergence_lr:.2e}. For a safer LR use a milder rule, or run the range test at the "
                "training batch size."
            )
        else:
            warning += (
                "; training is likely to diverge. Use cap=True to clamp it, a milder rule, or run the "
                "range test at the training batch size."
            )
        warn(warning)
    critical = scaled.critical_batch
    if critical is not None and scaled.to_batch_size > CRITICAL_WARN * critical:
        past = (
            f"Training batch {format_batch(scaled.to_batch_size)} is well past the critical batch ≈ "
            f"{format_batch(critical)} (gradient noise scale): a larger batch buys little speed per sample (about "
            f"{1 + scaled.to_batch_size / critical:.1f}x the samples of a small batch to reach the same loss, "
            "McCandlish et al. 2018). A batch near the critical one uses compute better."
        )
        warn(past)
        warning = past if warning is None else f"{warning} {past}"
    logger.debug("scale_lr: %.2e -> %.2e (%s)", scaled.base_lr, lr, scaled.reason)
    # The warm-up follows the LR jump training makes, the capped one when capped.
    warmup = _warmup_epochs(lr / scaled.base_lr)
    return replace(scaled, lr=lr, warning=warning, capped=capped, warmup_epochs=warmup)


def _warmup_epochs(ratio: float) -> int:
    """Warm-up epochs for an LR raised ``ratio`` times: one per doubling past 2x, at most 5 (Goyal et al.)."""
    return min(MAX_WARMUP_EPOCHS, math.ceil(math.log2(ratio))) if ratio > 2.0 else 0
