"""The range-test engine: sweep the LR, record the loss, stop on divergence, restore everything.

The engine knows nothing about Lightning. Its pieces are public so the callback can drive the
same loop with its own step function:

* :func:`lr_schedule`: the LR at each step (in :mod:`lrfinder.settings`);
* :class:`DivergenceMonitor`: the online stop rule;
* :class:`LRSweeper`: sets the LR of every param group of one or more optimizers, keeping their
  ratios;
* :class:`StateSnapshot`: an in-memory snapshot of model, optimizers, RNGs and data order (in
  :mod:`lrfinder.snapshot`);
* :func:`run_sweep`: the loop (LR, step, record, stop), with Ctrl-C handling;
* :func:`range_test`: all of it for a plain PyTorch model, returning a :class:`RangeTestResult`.

What the engine uses lives in modules of its own, one concern each: :mod:`lrfinder.settings`
(the settings and the argument checks), :mod:`lrfinder.snapshot` (snapshot and restore),
:mod:`lrfinder.stepping` (train modes, autocast, clipping, closures), :mod:`lrfinder.batches`
(the per-batch loss), :mod:`lrfinder.diagnostics` (what the error messages say) and
:mod:`lrfinder.data_parallel` (DDP and FSDP). The public names are importable from here too.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", 2017, arXiv:1506.01186.

"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
import math
import os
import re
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, cast, get_args

import numpy as np
import torch
from torch import nn

from ._atomic import atomic_write_text, held_back_signals
from ._checks import (
    NON_FINITE_TEXT,
    check_flag,
    has_class_named,
    is_choice,
    is_int,
    is_not_a_sequence,
    is_number_tensor,
    is_real,
    non_finite_from_text,
    non_finite_to_text,
    plain,
    sentence,
    single_number_note,
    text_or_bool_at,
    text_or_bool_message,
)
from ._fabric import fabric_step_callbacks, is_fabric_module, optimizer_class_name, optimizer_result_name
from ._text import decode_text, parse_json, read_text
from ._warn import once_per_call, warn
from ._wording import plural
from .analysis import (
    DEFAULT_RULE,
    MIN_POINTS,
    Rule,
    Suggestion,
    _check_curve,
    _check_real,
    analyze,
    check_curve,
    short_blowup_message,
)
from .batches import (
    CyclingBatches,
    _batch_loss,
    _check_loss,
    _warn_unused_keys,
    infer_batch_size,
    target_broadcast_refused,
    to_device,
    worker_death,
)
from .data_parallel import (
    DataParallelRanks,
    _reduced_step_loss,
    data_parallel_ranks,
    failure_told_to_other_ranks,
    micro_batch_sync,
    parallel_module,
    raised_on_every_rank,
    ranks_backward_verdict,
    ranks_data_verdict,
    ranks_settings_disagreement,
)
from .diagnostics import (
    _BACKWARD_IN_STEP_FN,
    _FABRIC_STEP_FN,
    _MISMATCH_ERRORS,
    _batch_message,
    _batch_parts,
    _finite_sums,
    _has_grads,
    _is_out_of_memory,
    _non_finite_data_message,
    _NonFiniteDataWatch,
    _raise_if_non_finite_at_start,
    backward_repeated,
    backward_twice_message,
    fabric_backward_message,
    first_step_errors,
    grads_of,
    hooked_versions,
    hooks_fired,
    is_batch_failure,
    is_cross_entropy,
    negative_kl_div_message,
    negative_nll_message,
    no_gradient_message,
    raise_if_compile_failed,
    raised_by_lrfinder,
    read_together,
    refuse_stepped_in_backward,
    step_failed_message,
    step_fn_as_loss_fn_message,
    stepped_in_backward_message,
    target_dtype_fix,
    zero_cross_entropy_message,
)
from .exceptions import DataError, LRFinderError, ModelError, RefineInterrupted
from .names import (
    CURVES,
    NOT_TEXT_OUTPUT_SUFFIXES,
    RECORDED_PRECISIONS,
    SWEEP_MODES,
    Curve,
    GradientClipAlgorithm,
    Precision,
    SweepMode,
    did_you_mean,
)
from .noise import NoiseProbe, NoiseScale, format_batch, noise_after_sweep, repeated_batches

# At run time too, for typing.get_type_hints (refine imports no engine).
from .refine import Refine, Refinement, _length, brief_curve, brief_repr
from .scaling import ScaledLR, ScalingRule, _digits, scale_lr
from .settings import (
    MAX_SWEEP_STEPS,
    RangeTestSettings,
    _check_precision,
    _check_stop_factor,
    check_callable,
    check_device,
    check_gradient_clipping,
    check_iterable,
    check_materialized,
    check_minimizes,
    check_not_a_dataset,
    check_not_a_tensor_pair,
    check_optimizer_of,
    check_optimizer_trains,
    check_precision_name,
    check_rule,
    check_sparse_gradients,
    dropped_batch_note,
    group_lr,
    idle_swept_group_message,
    lr_schedule,
    pair_loss_hint,
    peer_hints,
    traced_in_eval_message,
    traced_in_eval_mode,
    trainable_parameters,
    validate_settings,
    warn_unused_clip_algorithm,
)
from .snapshot import (
    StateSnapshot,
    _iterator_of,
    _module_tensors,
    _unique,
    held_iterators,
    kept_stream_message,
    own_iterator,
)
from .stepping import (
    StepClosure,
    _needs_closure,
    autocast,
    caller_autocast,
    check_lr_sets_each_step,
    check_steps_without_closure,
    clip_gradients,
    eval_modes,
    loss_objects,
    loss_states,
    lr_read_checked,
    make_reevaluate,
    outside_step_hooks,
    step_fn_modules,
    steps_alike_without_closure,
    takes_closure,
    train_modes,
    training_grad_mode,
    with_loss_module,
)

__all__ = [
    "StopReason",
    "STOP_REASONS",
    "STOP_NAMES",
    "SweepMode",
    "SWEEP_MODES",
    "SCHEMA_VERSION",
    "MAX_SWEEP_STEPS",
    "RangeTestSettings",
    "RangeTestResult",
    "range_test",
    "lr_schedule",
    "DivergenceMonitor",
    "LRSweeper",
    "StateSnapshot",
    "run_sweep",
    "validate_settings",
    "infer_batch_size",
    "finish_result",
]

logger = logging.getLogger(__name__)

StopReason = Literal["completed", "diverged", "non_finite", "interrupted"]
#: Every :data:`StopReason`.
STOP_REASONS: tuple[StopReason, ...] = get_args(StopReason)
#: How a person reads each :data:`StopReason` that ends a sweep early ("stopped: non-finite loss at lr=...").
STOP_NAMES: dict[str, str] = {"diverged": "diverged", "non_finite": "non-finite loss", "interrupted": "interrupted"}
#: Version of the JSON schema written by :meth:`RangeTestResult.to_json`.
SCHEMA_VERSION = 1


# --------------------------------------------------------------------------------------------
# Settings and result
# --------------------------------------------------------------------------------------------


#: Where a :class:`RangeTestResult` keeps the curve a peer's finder keeps as ``history`` or ``results``.
_PEER_CURVE_HINT = (
    "the curve is result.lrs and result.losses (the raw losses; the smoothed curve lrfinder reads is "
    "result.suggestion.smoothed_losses)."
)
#: What the peers' finders call on their result, and where a :class:`RangeTestResult` keeps it.
_PEER_RESULT_NAMES = {
    "plot": "draw the curve with lrfinder.plot_range_test(result) (a matplotlib Figure, the suggestion marked), or "
    "write the report with lrfinder.save_report(result, 'lr.png').",
    "history": _PEER_CURVE_HINT,
    "results": _PEER_CURVE_HINT,
    "reset": "nothing to reset: range_test put the model, the optimizer, the RNGs and the data order back itself "
    "(restore=True, the default).",
}


@dataclass(frozen=True)
class RangeTestResult:
    """The outcome of a range test: the curve, why it stopped, and what it means.

    Attributes:
        lrs: The LR of the group with the largest base LR at each optimizer step run.
        losses: The loss recorded at each step (the mean over accumulated micro-batches, and over
            ranks under data parallelism), as recorded: the last one may be NaN/inf.
        stop_reason: ``"completed"``, ``"diverged"``, ``"non_finite"`` or ``"interrupted"``.
        settings: The sweep settings used.
        batch_size: Effective batch size of one step (batch x accumulation x devices), when known; the
            batch is the DataLoader's ``batch_size``, else the median size of the batches drawn.
        model_name: Class name of the model.
        num_parameters: Number of trainable parameters of the model.
        optimizer_name: Class name(s) of the optimizer(s) swept, with the form the class does not say: ``"SGD
            (Nesterov)"``, ``"Adam (AMSGrad)"``, or the registry name :func:`~lrfinder.create_optimizer` built it from
            (``"SGD (momentum)"``); ``lrfind``'s name for it from the command line. The callback's several optimizers
            (manual optimization) each, comma-separated: ``"SGD, Adam"``, ``"SGD, SGD"``.
        suggestion: The analysis of the curve, ``None`` when it was inconclusive.
        error: Why the curve was inconclusive (the :class:`InconclusiveCurveError` message).
        scaled: The suggestion moved to the training batch size, when scaling was applied.
        label: A short label for overlays (e.g. ``"wd=1e-4"``).
        noise_scale: The gradient noise scale measured in the pre-divergence part of the sweep
            (:class:`lrfinder.noise.NoiseScale`; its ``b_simple`` is the critical batch; after a ``refine``
            re-sweep, the first sweep's, whose steps its ``steps`` index), ``None``
            when not measured or unmeasurable.
        noise_error: Why ``noise_scale`` is ``None`` although it was asked for.
        refinement: The later rounds (re-sweeps and trial runs, :mod:`lrfinder.refine`) when
            the test ran with ``refine``; its ``lr`` is then :attr:`lr` (before scaling).
        lr_ratios: Each param group's LR as a multiple of :attr:`lrs`, in the order of the
            optimizer's (or the optimizers') ``param_groups``: the sweep sets the group with the
            largest LR (ratio ``1.0``, :attr:`lr_group`) and keeps the others' ratios to it.
            Empty when not recorded (a result from an older lrfinder, or built by hand).
        group_names: Each param group's ``"name"`` entry (a string, as Lightning's
            ``LearningRateMonitor`` reads it), or ``None``; as long as :attr:`lr_ratios`.

    """

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    stop_reason: StopReason
    settings: RangeTestSettings = field(default_factory=RangeTestSettings)
    batch_size: int | None = None
    model_name: str | None = None
    num_parameters: int | None = None
    optimizer_name: str | None = None
    suggestion: Suggestion | None = None
    error: str | None = None
    scaled: ScaledLR | None = None
    label: str | None = None
    noise_scale: NoiseScale | None = None
    noise_error: str | None = None
    refinement: Refinement | None = None
    lr_ratios: tuple[float, ...] = ()
    group_names: tuple[str | None, ...] = ()

    def __repr__(self) -> str:
        """Every field as the dataclass writes it, but the curve in brief: its length and its ends.

        The dataclass's repr wrote every LR and loss in full: ``print(result)`` of a 2,000-step test
        was 80,000 characters of digits before the suggestion. The numbers are in :attr:`lrs`,
        :attr:`losses`, :meth:`to_dict` and the JSON.

        Example:
            >>> r = RangeTestResult(lrs=(1e-3, 1e-2, 1e-1), losses=(2.3, 1.1, float("nan")), stop_reason="non_finite")
            >>> print(repr(r).split(", stop_reason")[0])
            RangeTestResult(lrs=<3 values 1.00e-03 .. 1.00e-01>, losses=<3 values: first 2.3, lowest 1.1, last nan>

        """
        return brief_repr(self, {"lrs": functools.partial(brief_curve, lrs=True), "losses": brief_curve})

    def __post_init__(self) -> None:
        """Check the curve and the stop reason; store ``lrs`` and ``losses`` as tuples of floats.

        Raises:
            TypeError: ``lrs`` or ``losses`` is not a sequence of numbers, or ``settings`` is not a
                :class:`RangeTestSettings`.
            ValueError: ``lrs`` and ``losses`` of different lengths, or an unknown ``stop_reason``,
                or ``lr_ratios`` not in ``[0, 1]`` with one ``1.0``, or ``group_names`` of another length,
                or ``lrs`` not finite, > 0 and strictly increasing, or a suggestion whose smoothed curve has
                another length than ``losses``.

        """
        curve = []
        for name in ("lrs", "losses"):
            values = _number_sequence(name, getattr(self, name))
            object.__setattr__(self, name, values)
            curve.append(values)
        if len(curve[0]) != len(curve[1]):
            raise ValueError(
                f"Expected lrs and losses of the same length (one loss per LR), but got {len(curve[0])} lrs and "
                f"{len(curve[1])} losses"
            )
        if not is_choice(self.stop_reason, STOP_REASONS):
            raise ValueError(
                f"Expected stop_reason to be one of {', '.join(STOP_REASONS)}, but got stop_reason={self.stop_reason!r}"
            )
        if not isinstance(self.settings, RangeTestSettings):
            raise TypeError(
                f"Expected settings to be a lrfinder.RangeTestSettings, but got {type(self.settings).__name__}"
            )
        ratios = _number_sequence("lr_ratios", self.lr_ratios)
        if ratios and not (all(0.0 <= v <= 1.0 for v in ratios) and max(ratios) == 1.0):
            raise ValueError(
                f"Expected lr_ratios in [0, 1], the swept group's 1.0 among them, but got lr_ratios={ratios}"
            )
        if is_not_a_sequence(self.group_names):
            raise TypeError(
                f"Expected group_names to be a sequence of names (a string or None for each of the lr_ratios), but "
                f"got group_names={self.group_names!r:.80}{single_number_note(self.group_names)}"
            )
        names = tuple(self.group_names)
        if names and len(names) != len(ratios) or not all(n is None or isinstance(n, str) for n in names):
            raise ValueError(
                f"Expected group_names to hold one string or None per lr_ratio ({len(ratios)}), but got "
                f"group_names={names!r:.80}"
            )
        object.__setattr__(self, "lr_ratios", ratios)
        object.__setattr__(self, "group_names", names)
        # The other fields as from_dict checks them: a hand-built result took batch_size=True or "32", or a number as
        # suggestion, and failed only later, in scale() ("from_batch_size=True", an argument never given) or at .lr.
        for name in ("batch_size", "num_parameters"):
            object.__setattr__(self, name, plain(getattr(self, name)))
        for key, check, rule in _OPTIONAL_FIELDS:
            value = getattr(self, key)
            if value is not None and not check(value):
                raise ValueError(f"Expected {key} to be {rule} or None, but got {key}={value!r:.80}")
        for key, cls, path in (
            ("suggestion", Suggestion, "lrfinder.Suggestion"),
            ("scaled", ScaledLR, "lrfinder.ScaledLR"),
            ("noise_scale", NoiseScale, "lrfinder.noise.NoiseScale"),
            ("refinement", Refinement, "lrfinder.Refinement"),
        ):
            value = getattr(self, key)
            if value is not None and not isinstance(value, cls):
                raise TypeError(f"Expected {key} to be a {path} or None, but got {type(value).__name__} {value!r:.60}")
        # As from_dict checks a file's: a result built by hand with LRs out of order (or NaN) was taken, and to_json
        # wrote a file from_json refused ("'lrs' must be ... strictly increasing"), or failed in json's encoder.
        problem = _curve_problem(curve[0], len(curve[1]), self.suggestion)
        if problem is not None:
            raise ValueError(f"Expected the curve a range test records: {problem}")

    @property
    def num_steps(self) -> int:
        """Number of optimizer steps actually run (``settings.num_steps`` was the plan)."""
        return len(self.lrs)

    @property
    def stop_lr(self) -> float | None:
        """The LR the sweep stopped at, ``None`` when it completed (or recorded no step).

        Where its first non-finite loss was recorded (``"non_finite"``), else its last LR: where the loss passed the
        stop rule (``"diverged"``) or the interrupt came (``"interrupted"``).
        """
        if self.stop_reason == "completed" or not self.lrs:
            return None
        if self.stop_reason == "non_finite":
            return next((lr for lr, loss in zip(self.lrs, self.losses) if not math.isfinite(loss)), self.lrs[-1])
        return self.lrs[-1]

    @property
    def stop_words(self) -> str:
        """How the sweep ended, in words: ``"stopped: diverged at lr=2.48e+00, where ..."``, or what completed means.

        A sweep stopped early names why and the LR it stopped at (``"stopped: non-finite loss at lr=1.56e+00"``):
        "stopped: diverged" alone sat beside the analysis's divergence LR, an LR read off the smoothed curve, lower
        than the one the stop rule stopped at. "completed" alone read against the analysis's "the loss did blow up,
        from lr=...": the stop rule waits for the loss to pass about ``stop_factor`` times its best, the analysis
        reads a smaller rise of the smoothed curve as the blow-up, so both are true once each says what it judged.
        ``lrfind``'s summary prints it.
        """
        factor = self.settings.stop_factor
        if self.stop_reason != "completed":
            words = f"stopped: {STOP_NAMES[self.stop_reason]}"
            stop_lr = self.stop_lr
            if stop_lr is not None:
                words += f" at lr={stop_lr:.2e}"
            if self.stop_reason == "diverged" and factor is not None:
                words += f", where the loss passed {factor:g}x its best"
            return words
        if factor is None:
            return "completed: no stop rule, stop_factor=None"
        return f"completed: the loss never passed the stop rule's {factor:g}x its best"

    @property
    def lr_group(self) -> int | None:
        """The index of the param group whose LR :attr:`lrs` (and :attr:`lr`) are, ``None`` when not recorded.

        The first group with the largest LR (ratio ``1.0`` in :attr:`lr_ratios`), counted across the
        optimizers' ``param_groups`` in order.
        """
        return self.lr_ratios.index(1.0) if self.lr_ratios else None

    @property
    def lr(self) -> float | None:
        """The LR to train with: the scaled LR, else the refined LR, else the suggestion's.

        The scaled LR when scaling was applied; else the refined LR when the test was refined
        (:attr:`refinement`); else the suggestion's.
        """
        if self.scaled is not None:
            return self.scaled.lr
        if self.refinement is not None and self.refinement.lr is not None:
            return self.refinement.lr
        return self.suggestion.lr if self.suggestion is not None else None

    @property
    def training_suggestion(self) -> Suggestion | None:
        """The suggestion moved to the training batch size (itself when no scaling was applied).

        ``lr``, ``min_lr`` and ``max_lr`` are multiplied alike by the scaling factor; this is what
        a schedule built with ``create_scheduler(..., suggestion=...)`` should get. After a refined
        test, ``lr`` and ``max_lr`` are the refinement's (``min_lr`` keeps its ratio to ``max_lr``).
        A one-cycle peak ``max_lr`` the factor would carry past the divergence point while ``lr``
        stays below it is clamped to the divergence LR (``min_lr`` keeps its ratio), and
        :attr:`scaled`'s ``warning`` says so: the schedule never peaks past it silently.
        """
        return self._training_peak()[0]

    def _training_peak(self) -> tuple[Suggestion | None, float | None]:
        """:attr:`training_suggestion`, and the peak it clamped to the divergence LR (else ``None``)."""
        s = self.suggestion
        f = self.refinement
        if s is not None and f is not None and f.lr is not None and f.max_lr is not None:
            # The refined LR and peak replace the curve's; the one-cycle floor keeps its ratio.
            s = replace(s, lr=f.lr, min_lr=s.min_lr * f.max_lr / s.max_lr, max_lr=f.max_lr)
        if s is None or self.scaled is None or self.scaled.lr == s.lr:
            return s, None
        factor = self.scaled.lr / s.lr
        peak, divergence = s.max_lr * factor, s.divergence_lr
        if divergence is not None and self.scaled.lr <= divergence < peak:
            # The LR was kept at or below the divergence point (by the rule or by cap=True): the peak
            # a one-cycle schedule climbs to must not pass it either.
            cut = divergence / s.max_lr
            return replace(s, lr=self.scaled.lr, min_lr=s.min_lr * cut, max_lr=divergence), peak
        return replace(s, lr=self.scaled.lr, min_lr=s.min_lr * factor, max_lr=peak), None

    def _warn_peak(self) -> RangeTestResult:
        """Warn, and say in :attr:`scaled`'s warning, when the scaled one-cycle peak was clamped."""
        suggestion, peak = self._training_peak()
        if peak is None or suggestion is None or self.scaled is None:
            return self
        sc = self.scaled
        message = (
            f"The one-cycle peak moved with the LR from batch {format_batch(sc.from_batch_size)} to "
            f"{format_batch(sc.to_batch_size)}, {peak:.2e}, "
            f"is past the divergence point {suggestion.divergence_lr:.2e} of the range test: "
            "training_suggestion.max_lr (the peak of a one-cycle or cyclic schedule built from it) is clamped to "
            "it. For more margin use a milder rule, or run the range test at the training batch size."
        )
        warn(message, stacklevel=3)
        return replace(self, scaled=replace(sc, warning=message if sc.warning is None else f"{sc.warning} {message}"))

    if not TYPE_CHECKING:  # for type checkers a result keeps its own attributes only: a misspelt one is caught

        def __getattr__(self, name: str) -> Any:
            """What to use for a peer's name a result lacks (torch-lr-finder's ``plot()``, ``history``, ``reset()``).

            Only reached for a name the result lacks; any other is Python's ``AttributeError`` (with
            its close-name hint), so ``copy``, ``pickle`` and ``hasattr`` see no difference.
            """
            said = _PEER_RESULT_NAMES.get(name)
            message = f"{type(self).__name__!r} object has no attribute {name!r}"
            raise AttributeError(message if said is None else f"{message}: {said}", name=name, obj=self)

    def analyze(self, **kwargs: Any) -> RangeTestResult:
        """Re-run the curve analysis (e.g. with another ``rule``) and return a new result.

        When scaling was applied, :attr:`scaled` is moved along: the same target batch size,
        rule and factor, applied to the new suggestion (and checked against its divergence
        point), so :attr:`lr` never reports an LR scaled from an old suggestion.

        Args:
            **kwargs: Passed to :func:`lrfinder.analyze` (``rule``, ``window``); its ``curve`` and
                ``optimizer`` are the result's own (``settings.curve``, :attr:`optimizer_name`) unless given.

        Raises:
            InconclusiveCurveError: The curve does not support a suggestion.

        """
        kwargs.setdefault("curve", self.settings.curve)
        kwargs.setdefault("optimizer", self.optimizer_name)
        suggestion = analyze(self.lrs, self.losses, **kwargs)
        scaled = self.scaled
        # A refined LR does not move with the curve's reading: its scaling stays as it was.
        if scaled is not None and (self.refinement is None or self.refinement.lr is None):
            scaled = scaled.rebase(suggestion.lr, divergence_lr=suggestion.divergence_lr)
        return replace(self, suggestion=suggestion, error=None, scaled=scaled)._warn_peak()

    def scale(
        self,
        to_batch_size: int,
        *,
        rule: ScalingRule | str = "auto",
        from_batch_size: int | None = None,
        optimizer: torch.optim.Optimizer | type | str | None = None,
        cap: bool = False,
    ) -> RangeTestResult:
        """Return a copy whose :attr:`scaled` moves the suggestion to ``to_batch_size``.

        The measured :attr:`noise_scale`, when there is one, is passed on: ``rule="auto"`` then
        uses the ``noise`` rule if the measurement is conclusive, else ``linear`` or ``sqrt`` by optimizer
        (see :func:`lrfinder.scale_lr`).

        Args:
            to_batch_size: Effective batch size of training (per-device batch x devices x
                gradient-accumulation steps).
            rule: ``"auto"``, ``"linear"``, ``"sqrt"``, ``"noise"`` or ``"none"``, as in
                :func:`lrfinder.scale_lr`.
            from_batch_size: Effective batch size of the test; default :attr:`batch_size`.
            optimizer: The optimizer family for ``"auto"`` (instance, class or name); default
                :attr:`optimizer_name`.
            cap: Clamp the scaled LR to the divergence LR instead of only warning. A curve that
                never diverged has no divergence LR: the LR is left as scaled, with a warning.

        Returns:
            A copy of the result with :attr:`scaled` set; :attr:`lr` is then the scaled LR.

        Raises:
            LRFinderError: There is no suggestion, the test batch size is unknown, or
                ``rule="noise"`` and the noise scale was not measured (the message says why).
            ValueError: A non-positive batch size or an unknown rule (from
                :func:`lrfinder.scale_lr`).

        """
        if self.suggestion is None:
            raise LRFinderError(f"Cannot scale: the curve was inconclusive: {sentence(self.error)} Run the test again.")
        source = from_batch_size if from_batch_size is not None else self.batch_size
        if source is None:
            raise LRFinderError("Cannot scale: the test's batch size is unknown. Pass from_batch_size.")
        if is_choice(rule, ("noise",)) and self.noise_scale is None:
            why = self.noise_error or "it was not measured"
            raise LRFinderError(
                f"Cannot scale with rule='noise': no gradient noise scale ({why}). Run "
                "range_test(..., noise_scale=True), or use rule='linear' or 'sqrt'."
            )
        base = self.refinement.lr if self.refinement is not None and self.refinement.lr is not None else None
        scaled = scale_lr(
            base if base is not None else self.suggestion.lr,
            from_batch_size=source,
            to_batch_size=to_batch_size,
            rule=rule,
            optimizer=optimizer if optimizer is not None else self.optimizer_name,
            divergence_lr=self.suggestion.divergence_lr,
            cap=cap,
            noise_scale=self.noise_scale,
        )
        return replace(self, scaled=scaled)._warn_peak()

    def to_dict(self) -> dict[str, Any]:
        """The JSON schema (version :data:`SCHEMA_VERSION`) as a dict.

        Keys: ``schema_version``, ``lr`` (:attr:`lr`, the LR to train with, null when inconclusive: written for a
        script to read first, and recomputed from the other keys when read back), ``lrs``, ``losses`` (non-finite
        values as the strings ``"nan"``,
        ``"inf"``, ``"-inf"``, so the file is strict JSON), ``stop_reason``, ``settings``
        (``min_lr``, ``max_lr``, ``num_steps``, ``mode``, ``stop_factor``, ``accumulate_steps``,
        ``precision``, ``gradient_clip_val``, ``gradient_clip_algorithm``, ``world_size``: 1 in a file without it,
        ``curve``: ``"train"`` in a file without it),
        ``batch_size``, ``model_name``, ``num_parameters``, ``optimizer_name``, ``suggestion``
        (:meth:`Suggestion.to_dict` or null), ``error``, ``scaled`` (:meth:`ScaledLR.to_dict` or
        null), ``label``, ``noise_scale`` (:meth:`NoiseScale.to_dict` or null), ``noise_error``,
        ``refinement`` (:meth:`lrfinder.Refinement.to_dict` or null), ``lr_ratios`` and
        ``group_names`` (lists, empty when not recorded; a file without them reads as empty).
        """
        suggestion = None
        if self.suggestion is not None:
            suggestion = self.suggestion.to_dict()
            suggestion["smoothed_losses"] = [non_finite_to_text(v) for v in self.suggestion.smoothed_losses]
        return {
            "schema_version": SCHEMA_VERSION,
            # Derived (the property): a reader of an older file, without it, gets the same from the fields below.
            "lr": self.lr,
            "lrs": list(self.lrs),
            "losses": [non_finite_to_text(v) for v in self.losses],
            "stop_reason": self.stop_reason,
            "settings": {
                "min_lr": self.settings.min_lr,
                "max_lr": self.settings.max_lr,
                "num_steps": self.settings.num_steps,
                "mode": self.settings.mode,
                "stop_factor": self.settings.stop_factor,
                "accumulate_steps": self.settings.accumulate_steps,
                "precision": self.settings.precision,
                "gradient_clip_val": self.settings.gradient_clip_val,
                "gradient_clip_algorithm": self.settings.gradient_clip_algorithm,
                "world_size": self.settings.world_size,
                "curve": self.settings.curve,
            },
            "batch_size": self.batch_size,
            "model_name": self.model_name,
            "num_parameters": self.num_parameters,
            "optimizer_name": self.optimizer_name,
            "suggestion": suggestion,
            "error": self.error,
            "scaled": self.scaled.to_dict() if self.scaled is not None else None,
            "label": self.label,
            "noise_scale": self.noise_scale.to_dict() if self.noise_scale is not None else None,
            "noise_error": self.noise_error,
            "refinement": self.refinement.to_dict() if self.refinement is not None else None,
            "lr_ratios": list(self.lr_ratios),
            "group_names": list(self.group_names),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RangeTestResult:
        """Rebuild a result from :meth:`to_dict`'s output.

        A suggestion whose ``lr`` or ``max_lr`` lies past its own ``divergence_lr`` (no range test suggests that: a
        hand edit) is read with a warning naming the field, as an LR scaled past it is.

        Raises:
            ValueError: An unknown schema version, missing keys, values of the wrong type, settings
                out of range, ``lrs`` and ``losses`` of different lengths, or a suggestion's LR that is not
                finite and > 0, or whose one-cycle band is inverted (``min_lr`` above ``max_lr``).
            TypeError: ``data`` is not a mapping (a JSON object).

        """
        return cls._from_dict(data, "")

    @classmethod
    def _from_dict(cls, data: Mapping[str, Any], origin: str) -> RangeTestResult:
        """:meth:`from_dict`, its warnings starting with ``origin`` (the file's name, ``"'r.json': "``, or ``""``)."""
        if isinstance(data, (str, bytes, bytearray, os.PathLike)):
            # A file's path or its text, where "but got str" left the reader to find from_json.
            raise TypeError(
                f"Expected data to be a mapping (a JSON object), but got {type(data).__name__} {data!r:.60}: read a "
                "JSON file (or its text) with RangeTestResult.from_json(path)"
            )
        if not isinstance(data, Mapping):
            raise TypeError(f"Expected data to be a mapping (a JSON object), but got {type(data).__name__}")
        version = data.get("schema_version")
        if data.get("kind") == "weight_decay_sweep" and isinstance(data.get("results"), list):
            raise ValueError(
                f"This is a weight-decay sweep of {len(data['results'])} range tests (kind='weight_decay_sweep'), not "
                "one result: read each with RangeTestResult.from_dict(doc['results'][i])"
            )
        problem = schema_version_problem(version, again="result.to_json(path)")
        if problem is not None:
            raise ValueError(f"Unsupported range-test result: {problem}")
        data = _whole_numbers(data)
        try:
            for key, check, rule in (*_OPTIONAL_FIELDS, *_FILE_FIELDS):
                value = data.get(key)
                if value is not None and not check(value):
                    raise ValueError(f"Malformed range-test result: {key}={value!r:.60} is not {rule} (or null)")
            _check_batch_sizes(data)
            suggestion = None
            if data.get("suggestion") is not None:
                raw = dict(data["suggestion"])
                raw["smoothed_losses"] = list(_decode_floats(raw["smoothed_losses"], "suggestion.smoothed_losses"))
                suggestion = Suggestion.from_dict(raw)
            stop_reason = data["stop_reason"]
            if not is_choice(stop_reason, STOP_REASONS):
                raise ValueError(
                    f"Malformed range-test result: stop_reason={stop_reason!r} is not one of {STOP_REASONS}"
                )
            raw_settings = data["settings"]
            if not isinstance(raw_settings, Mapping):
                raise ValueError(f"Malformed range-test result: settings={raw_settings!r:.60} is not an object")
            missing = [key for key in _RECORDED_SETTINGS if key not in raw_settings]
            if missing:
                # Filled with RangeTestSettings' defaults, the report claimed a sweep of 1e-07 .. 1e+01 in 100 steps
                # that nobody ran. Settings added later (precision, clipping, world_size, curve) an older file lacks.
                said = ", ".join(f"{key!r} ({_RECORDED_SETTINGS[key]})" for key in missing)
                it = "it" if len(missing) == 1 else "them"
                raise ValueError(
                    f"Malformed range-test result: settings has no {said}; every lrfinder writes {it} (was the file "
                    f"edited?). Add {it} as the run that recorded the curve had {it}"
                )
            # Checked here first for a message naming the file's field; RangeTestSettings checks the rest.
            mode = raw_settings.get("mode", "exp")
            if not is_choice(mode, SWEEP_MODES):
                raise ValueError(f"Malformed range-test result: settings.mode={mode!r} is not one of {SWEEP_MODES}")
            curve = raw_settings.get("curve", "train")
            if not is_choice(curve, CURVES):
                raise ValueError(f"Malformed range-test result: settings.curve={curve!r} is not one of {CURVES}")
            precision = raw_settings.get("precision", "32")
            if not (isinstance(precision, str) and precision):
                raise ValueError(
                    f"Malformed range-test result: settings.precision={precision!r} is not a precision "
                    f"name such as {RECORDED_PRECISIONS[:3]}"
                )
            settings = RangeTestSettings(**raw_settings)
            if settings.precision not in RECORDED_PRECISIONS:
                # A precision a newer Lightning added, recorded by the callback: informational, so read as recorded.
                warn(
                    f"The result's settings.precision={settings.precision!r} is not one this lrfinder knows "
                    f"({', '.join(RECORDED_PRECISIONS)}); it is read as recorded.",
                    stacklevel=2,
                )
            # RangeTestSettings checked every setting itself; a plan as short as 2 steps (a result built by
            # hand) reads back as it was written.
            lrs = _decode_floats(data["lrs"], "lrs")
            losses = _decode_floats(data["losses"], "losses")
            if len(lrs) != len(losses):
                raise ValueError(
                    f"Malformed range-test result: 'lrs' and 'losses' must have the same length, but have "
                    f"{len(lrs)} and {len(losses)}"
                )
            problem = _curve_problem(lrs, len(losses), suggestion)
            if problem is not None:
                raise ValueError(f"Malformed range-test result: {problem}")
            if suggestion is not None and not any(math.isfinite(loss) for loss in losses):
                # Kept, the report drew a suggested LR over an empty panel, and lrfind report printed it as read.
                raise ValueError(
                    f"Malformed range-test result: it holds a suggestion (lr={suggestion.lr:.2e}) but no finite "
                    f"loss ({plural(len(losses), 'loss', 'losses')}, every one null, NaN or infinite), and a "
                    "suggestion is read off the finite losses (was the file edited?). Restore the losses, or set "
                    '"suggestion" to null'
                )
            if suggestion is not None:
                _check_loaded_suggestion(suggestion, origin)
            return cls(
                lrs=lrs,
                losses=losses,
                stop_reason=stop_reason,
                settings=settings,
                batch_size=data.get("batch_size"),
                model_name=data.get("model_name"),
                num_parameters=data.get("num_parameters"),
                optimizer_name=data.get("optimizer_name"),
                suggestion=suggestion,
                error=data.get("error"),
                scaled=ScaledLR.from_dict(data["scaled"]) if data.get("scaled") is not None else None,
                label=data.get("label"),
                noise_scale=NoiseScale.from_dict(data["noise_scale"]) if data.get("noise_scale") is not None else None,
                noise_error=data.get("noise_error"),
                refinement=_refinement_from_dict(data.get("refinement")),
                # Absent from the files of an older lrfinder: not recorded.
                lr_ratios=_number_list(_or_empty(data.get("lr_ratios")), "lr_ratios"),
                group_names=tuple(_or_empty(data.get("group_names"))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if str(exc).startswith("Malformed") and not _NESTED_MALFORMED.match(str(exc)):
                raise  # raised above, already saying what is wrong
            raise ValueError(f"Malformed range-test result: {_malformed_reason(exc)}") from exc

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """Serialise to strict JSON; write it atomically to ``path`` when given.

        Returns:
            The JSON text.

        Raises:
            TypeError: ``path`` is not a path (``str`` or ``os.PathLike``).
            ValueError: ``path`` is empty (``''`` named the current directory, ``'.'``), or has the extension of
                another kind of file (``model.pt``, ``train.npz``, ``report.png``), which the JSON would replace.
            IsADirectoryError: ``path`` is a directory, or ends in a path separator (``'out/'``).
            OSError: ``path`` cannot be written; the message names it.

        """
        if path is not None and not isinstance(path, (str, os.PathLike)):
            # pathlib's "expected str, bytes or os.PathLike object, not int" named no argument.
            raise TypeError(f"Expected path to be a file path such as 'result.json' or None, but got path={path!r:.60}")
        if path is not None and not os.fspath(path):
            raise ValueError(
                "Expected path to be a file path such as 'result.json', but got an empty path ''; pass no path for "
                "the JSON text alone"
            )
        suffix = os.path.splitext(os.fspath(path))[1].lower() if path is not None else ""
        if path is not None and suffix != ".json" and suffix in NOT_TEXT_OUTPUT_SUFFIXES:
            # result.to_json("model.pt") replaced the model file with the JSON text (lrfind --json refuses it too).
            raise ValueError(
                f"Expected path to be a JSON file such as 'result.json', but {os.fspath(path)!r} ends in {suffix}, "
                f"the extension of {NOT_TEXT_OUTPUT_SUFFIXES[suffix]}: the JSON would replace that file. Name it .json."
            )
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            atomic_write_text(path, text + "\n")  # the path as given: 'out/' is refused, not written as 'out'
        return text

    @classmethod
    def from_curve(
        cls,
        lrs: Sequence[float],
        losses: Sequence[float],
        *,
        stop_reason: StopReason | None = None,
        rule: Rule | str = DEFAULT_RULE,
        curve: Curve = "train",
        **fields: Any,
    ) -> RangeTestResult:
        """A result for a curve recorded elsewhere (a peer's finder, a notebook): analysed, ready to report.

        The settings are read off the curve, so a report of it says what was swept: ``min_lr`` and ``max_lr`` are
        its first and last LR, ``num_steps`` its length, ``mode`` ``"linear"`` where the LRs are evenly spaced and
        ``"exp"`` otherwise; no stop rule is claimed (``stop_factor=None``). A hand-built ``RangeTestResult(lrs=...,
        losses=...)`` keeps the default settings instead (100 steps from 1e-7 to 10), which its report would print.
        A peer's recorded loss is often a moving average: undo it first (:func:`~lrfinder.undo_ema`).

        Args:
            lrs: The LR at each step, strictly increasing.
            losses: The loss at each step (raw, not averaged); the last may be NaN/inf.
            stop_reason: Why the curve ends (:data:`StopReason`); by default ``"non_finite"`` where the last loss is
                NaN/inf, else ``"completed"``.
            rule: The suggestion rule, as for :func:`range_test`.
            curve: ``"train"`` or ``"val"``: the kind of loss recorded.
            **fields: Other :class:`RangeTestResult` fields the report shows when given (``batch_size``,
                ``model_name``, ``optimizer_name``, ``label``, ...).

        Raises:
            ValueError: ``lrs`` and ``losses`` that no sweep records (of different lengths, fewer than 2 points,
                LRs not finite, > 0 and strictly increasing), or an unknown ``stop_reason``.

        Example:
            >>> lrs = np.logspace(-5, 0, 60)
            >>> x = np.log10(lrs)
            >>> r = RangeTestResult.from_curve(lrs, 1.0 + np.tanh(-(x + 2.5)) + np.where(x > -0.8, 40 * (x + 0.8), 0))
            >>> r.settings.mode, f"{r.settings.min_lr:.0e}", f"{r.settings.max_lr:.0e}", r.settings.num_steps
            ('exp', '1e-05', '1e+00', 60)

        """
        if "settings" in fields:
            raise TypeError(
                "RangeTestResult.from_curve() reads the settings off the curve: drop settings=, or build "
                "RangeTestResult(...) with them directly"
            )
        _refuse_unknown_curve_fields(fields)
        lr_arr, loss_arr = _check_curve(lrs, losses)  # the settings check curve=, the result stop_reason=
        if lr_arr.size < 2:
            raise ValueError(f"Expected a curve of at least 2 points, but got {lr_arr.size}")
        gaps = np.diff(lr_arr)
        mode: SweepMode = "linear" if np.allclose(gaps, gaps.mean(), rtol=1e-3, atol=0.0) and lr_arr.size > 2 else "exp"
        settings = RangeTestSettings(
            min_lr=float(lr_arr[0]),
            max_lr=float(lr_arr[-1]),
            num_steps=int(lr_arr.size),
            mode=mode,
            stop_factor=None,
            curve=curve,
        )
        if stop_reason is None:
            stop_reason = "completed" if math.isfinite(float(loss_arr[-1])) else "non_finite"
        return finish_result(lr_arr.tolist(), loss_arr.tolist(), stop_reason, rule=rule, settings=settings, **fields)

    @classmethod
    def from_json(cls, source: str | bytes | os.PathLike[str]) -> RangeTestResult:
        """Read a result from a JSON file path (or from JSON text starting with ``{``, as ``str`` or ``bytes``).

        Raises:
            ValueError: Not a valid result file (empty, binary, not JSON, not a result), or an empty ``source``;
                the message names the file.
            TypeError: ``source`` is neither a path nor JSON text (``str`` or ``bytes``).
            FileNotFoundError: No file at the path.
            IsADirectoryError: The path is a directory.

        """
        if isinstance(source, (bytes, bytearray)):  # path.read_bytes(), an HTTP response's content
            try:
                source = decode_text(bytes(source))  # a file's bytes as from_json(path) reads them (a BOM too)
            except UnicodeDecodeError as exc:
                # Python's "'utf-8' codec can't decode byte 0xff in position 0" named no argument.
                raise ValueError(
                    f"Expected source bytes to be JSON text, but they are not UTF-8 (byte {exc.start} is "
                    f"0x{exc.object[exc.start]:02x}): the bytes of a binary file such as a model or an image. Pass the "
                    "bytes of a JSON file written by result.to_json(path), or the file's path."
                ) from None
        if isinstance(source, str) and not source.strip():
            raise ValueError("Expected source to be a JSON file path or JSON text, but got an empty string")
        origin = ""  # the file's name, to say which file is not a result
        if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
            text = source  # JSON text; a top-level array is refused below as no result, not read as a path
        elif isinstance(source, (str, os.PathLike)):
            text = _read_result_file(Path(source))
            origin = f"{str(source)!r}: "
            if not text.strip():
                raise ValueError(
                    f"{origin}Not a JSON range-test result: the file is empty. Write it again with "
                    "result.to_json(path)."
                )
        elif isinstance(source, Mapping):  # json.load(f) or to_dict()'s output, read by from_dict
            raise TypeError(
                f"Expected source to be a JSON file path or JSON text, but got {type(source).__name__}: read a dict "
                "(json.load's, to_dict()'s) with RangeTestResult.from_dict(data)"
            )
        else:
            raise TypeError(
                f"Expected source to be a JSON file path or JSON text, but got {type(source).__name__} {source!r:.60}"
            )
        try:
            data = parse_json(text)
        except json.JSONDecodeError as exc:
            # Python's words alone ("Expecting value: line 1 column 1 (char 0)") named neither the file nor a fix.
            where = f"{str(source)!r} is" if origin else "The JSON text given is"
            raise ValueError(
                f"{where} not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}), so not a range-test "
                "result. Pass a file written by result.to_json(path) (or lrfind run --json), or its text; a file "
                "cut short or edited by hand can be written again from the result."
            ) from None
        except ValueError as exc:
            where = f"{str(source)!r}" if origin else "The JSON text given"
            raise ValueError(
                f"{where} is not a range-test result: {exc}, which no result holds. Pass a file written by "
                "result.to_json(path) (or lrfind run --json), or its text."
            ) from None
        if not isinstance(data, dict):
            raise ValueError(f"{origin}Not a range-test result: expected a JSON object")
        try:
            return cls._from_dict(data, origin)
        except ValueError as exc:
            if not origin:
                raise
            # "Malformed range-test result: suggestion.min_lr ..." named no file, where a caller may read several.
            raise ValueError(f"{origin}{exc}") from exc


def schema_version_problem(version: object, again: str) -> str | None:
    """What keeps a result file's ``schema_version`` from being read, ending with what to do; ``None`` if it reads.

    A newer version is told apart from a value no lrfinder writes (a string, a hand edit): the one wants an upgrade,
    the other the file written again.

    Args:
        version: The file's ``schema_version`` (``None`` where it has none).
        again: How the result is written again, as the caller's user would (``"result.to_json(path)"``).

    """
    if is_real(version) and version == SCHEMA_VERSION:  # an array or tensor compared elementwise is not real
        return None
    if is_int(version) and cast(int, version) > SCHEMA_VERSION:
        return (
            f"schema_version {version} is newer than the version {SCHEMA_VERSION} this lrfinder reads: a newer "
            f"lrfinder wrote it. Upgrade lrfinder (pip install --upgrade lrfinder) to read it, or write the result "
            f"again with this one ({again})."
        )
    found = "there is no schema_version" if version is None else f"schema_version {version!r:.40} is not a version"
    return (
        f"{found} (lrfinder writes whole numbers from 1; this one reads version {SCHEMA_VERSION}): a file edited by "
        f"hand, or none that lrfinder wrote. Write the result again with {again}."
    )


def _curve_problem(lrs: Sequence[float], num_losses: int, suggestion: Suggestion | None) -> str | None:
    """What makes ``lrs`` (and ``suggestion``'s smoothed curve) unlike a sweep's record, else ``None``."""
    rule = "'lrs' must be finite, > 0 and strictly increasing, as a sweep records them"
    values = np.asarray(lrs, dtype=float)
    bad = np.flatnonzero(~(np.isfinite(values) & (values > 0)))  # numpy: a result is rebuilt at every replace()
    if bad.size:
        return f"{rule}, but lrs[{bad[0]}]={lrs[bad[0]]!r}"
    down = np.flatnonzero(np.diff(values) <= 0)
    if down.size:
        i = int(down[0]) + 1
        return f"{rule}, but lrs[{i - 1}]={lrs[i - 1]!r} then lrs[{i}]={lrs[i]!r}"
    if suggestion is not None and len(suggestion.smoothed_losses) != num_losses:
        return f"suggestion.smoothed_losses has {len(suggestion.smoothed_losses)} values for {num_losses} losses"
    return None


def _check_loaded_suggestion(suggestion: Suggestion, origin: str) -> None:
    """Warn of a read suggestion's LR past its own divergence LR (an inverted band :class:`Suggestion` refuses).

    A range test's suggestion never has it (its LRs lie below the divergence point it found): a file edited by
    hand. The LR past the divergence LR was taken without a word.
    """
    s = suggestion
    divergence = s.divergence_lr
    past = [f"{key}={getattr(s, key):.2e}" for key in ("lr", "max_lr") if divergence and getattr(s, key) > divergence]
    if past:
        warn(
            f"{origin}The result's suggestion.{' and suggestion.'.join(past)} {'is' if len(past) == 1 else 'are'} "
            f"past its own divergence_lr={divergence:.2e}, where the test's loss blew up; a range test never suggests "
            "that (was the file edited?). Training there is likely to diverge: keep the LR below the divergence LR."
        )


#: A key missing from (or unknown to) a result's suggestion, scaled LR or refinement, as their ``from_dict`` say it.
_NESTED_MALFORMED = re.compile(r"Malformed (suggestion|scaled LR|refinement): ((?:missing|unknown) keys? .*)")


def _malformed_reason(exc: BaseException) -> str:
    """What a malformed result's field check raised, in words: ``KeyError('lrs')`` is ``missing key 'lrs'``.

    The exception's repr was shown (``KeyError('smoothed_losses')``, ``TypeError("RangeTestSettings.__init__()
    got an unexpected keyword argument 'zzz'")``).
    """
    if isinstance(exc, KeyError) and exc.args:
        return f"missing key {exc.args[0]!r}"
    nested = _NESTED_MALFORMED.fullmatch(str(exc))
    if isinstance(exc, ValueError) and nested is not None:
        # Suggestion's, ScaledLR's and Refinement's from_dict words, placed by the result's field that holds them.
        return f"{nested[2]} in {'scaled' if nested[1] == 'scaled LR' else nested[1]}"
    unexpected = re.search(r"(\w+)\.__init__\(\) got an unexpected keyword argument '(\w+)'", str(exc))
    if isinstance(exc, TypeError) and unexpected is not None:
        where = {"RangeTestSettings": "settings", "ScaledLR": "scaled", "NoiseScale": "noise_scale"}
        return f"unknown key {unexpected[2]!r} in {where.get(unexpected[1], unexpected[1])}"
    return str(exc) or type(exc).__name__


def _read_result_file(path: Path) -> str:
    """The text of a result file; a missing file, a directory or a binary file said so, with what to pass.

    Python's own "[Errno 21] Is a directory" and "'utf-8' codec can't decode byte 0xbd in position 64" (a model
    or a PNG given for the JSON) did not say what file was expected; ``from_json("null")`` read ``null`` as a
    path.
    """
    what = "Pass the path of a JSON file written by result.to_json(path) (or lrfind run --json), or its text"
    if path.is_dir():
        raise IsADirectoryError(f"Cannot read a range-test result from {str(path)!r}: it is a directory. {what}.")
    try:
        return read_text(path)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"No range-test result file at {str(path)!r}: no such file (and JSON text of a result starts with "
            f"'{{'). {what}."
        ) from None
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{str(path)!r} is not a JSON range-test result: it is not UTF-8 text (byte {exc.start} is "
            f"0x{exc.object[exc.start]:02x}), so it is a binary file such as a model or an image. {what}."
        ) from None


#: The largest batch size a result file may hold: 2**53, the last integer a float holds exactly. A hand-edited
#: ``"batch_size": 1e300`` written as an integer passed the checks and failed in the report's batch panel with
#: "OverflowError: cannot convert float infinity to integer", naming no field.
MAX_FILE_BATCH_SIZE = 2**53


def _check_batch_sizes(data: Mapping[str, Any]) -> None:
    """Refuse a file's batch sizes (``batch_size``, ``scaled``'s) past :data:`MAX_FILE_BATCH_SIZE`, naming the field."""
    scaled = data.get("scaled")
    fields: list[tuple[str, Any]] = [("batch_size", data.get("batch_size"))]
    if isinstance(scaled, Mapping):
        fields += [(f"scaled.{key}", scaled.get(key)) for key in ("from_batch_size", "to_batch_size")]
    for key, value in fields:
        if is_int(value) and value > MAX_FILE_BATCH_SIZE:
            raise ValueError(
                f"Malformed range-test result: {key}={_digits(value)} is past {MAX_FILE_BATCH_SIZE:,} (2**53), "
                "more examples than a batch holds (was the file edited?): correct it"
            )


#: The settings every result file holds (the first lrfinder wrote them), with what each is; the later ones
#: (precision, gradient clipping, world_size, curve) are read as their defaults from an older file that lacks them.
_RECORDED_SETTINGS = {
    "min_lr": "the sweep's first LR",
    "max_lr": "its last LR",
    "num_steps": "the steps it planned",
    "mode": "'exp' or 'linear'",
    "stop_factor": "the stop rule's factor, null for none",
    "accumulate_steps": "batches per optimizer step, 1 without accumulation",
}

#: The integer fields of a result file, as paths of keys: a whole-number float there (``"batch_size": 32.0``, as a
#: JSON writer of floats or a spreadsheet leaves it) is read as its int, as the API's checks suggest
#: (:func:`lrfinder._checks.whole_number_hint`); a fraction (32.5) is still refused, naming the field.
_WHOLE_NUMBER_FIELDS: tuple[tuple[str, ...], ...] = (
    ("batch_size",),
    ("num_parameters",),
    ("settings", "num_steps"),
    ("settings", "accumulate_steps"),
    ("settings", "world_size"),
    ("suggestion", "window"),
    ("scaled", "from_batch_size"),
    ("scaled", "to_batch_size"),
    ("noise_scale", "small_batch_size"),
    ("noise_scale", "big_batch_size"),
    ("noise_scale", "n_estimates"),
    ("noise_scale", "steps"),
)


def _whole_number(value: Any) -> Any:
    """A whole-number float (or a list of them) as its int; anything else as it is."""
    if isinstance(value, list):
        return [_whole_number(v) for v in value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _whole_numbers(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` with the whole-number floats of its integer fields (:data:`_WHOLE_NUMBER_FIELDS`) as ints.

    The objects that hold one are copied; ``data`` itself is left as it is.
    """
    copied: dict[str, Any] = dict(data)
    for *parents, key in _WHOLE_NUMBER_FIELDS:
        holder: dict[str, Any] = copied
        if parents:
            inner = copied.get(parents[0])
            if not isinstance(inner, Mapping):
                continue
            if not isinstance(inner, dict) or inner is data.get(parents[0]):
                copied[parents[0]] = dict(cast("Mapping[str, Any]", inner))
            holder = copied[parents[0]]
        if key in holder:
            holder[key] = _whole_number(holder[key])
    return copied


#: The optional scalar fields of the JSON schema: (key, check, rule said when it fails).
_OPTIONAL_FIELDS: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    ("batch_size", lambda v: is_int(v) and v >= 1, "an integer >= 1"),
    ("num_parameters", lambda v: is_int(v) and v >= 0, "an integer >= 0"),
    ("model_name", lambda v: isinstance(v, str), "a string"),
    ("optimizer_name", lambda v: isinstance(v, str), "a string"),
    ("error", lambda v: isinstance(v, str), "a string"),
    ("label", lambda v: isinstance(v, str), "a string"),
    ("noise_error", lambda v: isinstance(v, str), "a string"),
)

#: The fields of a result file that from_dict reads as JSON objects and lists, checked as the ones above.
_FILE_FIELDS: tuple[tuple[str, Callable[[Any], bool], str], ...] = (
    # Read as objects by from_dict: a number, a numpy scalar or a tensor there failed with "'int' object is not
    # subscriptable", or an IndexError that escaped the malformed-result message.
    ("suggestion", lambda v: isinstance(v, Mapping), "a JSON object"),
    ("scaled", lambda v: isinstance(v, Mapping), "a JSON object"),
    ("noise_scale", lambda v: isinstance(v, Mapping), "a JSON object"),
    ("refinement", lambda v: isinstance(v, Mapping), "a JSON object"),
    # One name (or null) per param group; a dict or a string was taken as its keys or letters.
    ("group_names", lambda v: isinstance(v, list) and all(n is None or isinstance(n, str) for n in v),
     "a list of group names (strings or null)"),
)


def _number_sequence(name: str, values: object) -> tuple[float, ...]:
    """``values`` (a field of :class:`RangeTestResult`) as a tuple of floats, or a ``TypeError`` naming ``name``.

    A number, text or a 0-d tensor is no sequence: ``tuple(float(v) for v in 0.5)`` failed with "'float' object is not
    iterable", and ``lr_ratios="abc"`` with "could not convert string to float: 'a'".
    """
    if is_not_a_sequence(values):
        raise TypeError(
            f"Expected {name} to be a sequence of numbers, but got {name}={values!r:.80}" + single_number_note(values)
        )
    if type(values) is tuple and all(type(v) is float for v in values):
        return values
    found = text_or_bool_at(values)  # float("1e-3") and float(True) read them as numbers
    if found is not None:
        raise TypeError(text_or_bool_message(name, found))
    if name in ("lrs", "losses"):
        _check_real(values, name)  # float() of a numpy complex dropped the imaginary part
    try:
        return tuple(float(v) for v in values)  # type: ignore[attr-defined]
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"Expected {name} to be a sequence of numbers ({exc})") from None


def _or_empty(value: Any) -> Any:
    """An optional list field as it is, ``None`` (absent from an older lrfinder's file) as ``[]``.

    ``value or []`` asked an array or tensor for its truth value, which failed for more than one element.
    """
    return [] if value is None else value


def _number_list(values: Any, key: str) -> tuple[float, ...]:
    """A JSON list of numbers as floats, or a ``ValueError`` naming ``key``."""
    if not isinstance(values, list) or not all(is_real(v) for v in values):
        raise ValueError(f"Malformed range-test result: {key}={values!r:.60} is not a list of numbers")
    return tuple(float(v) for v in values)


def _refinement_from_dict(data: Mapping[str, Any] | None) -> Refinement | None:
    if data is None:
        return None
    from .refine import Refinement

    return Refinement.from_dict(data)


def _decode_floats(values: Any, key: str) -> tuple[float, ...]:
    """A list of :meth:`RangeTestResult.to_dict`'s numbers as floats; other text and bools are refused, naming ``key``.

    ``float()`` read ``"1e-3"`` and ``true`` (a hand-edited or another tool's file) as numbers, and the report drew
    them. Text stands only for what JSON cannot hold (:data:`~lrfinder._checks.NON_FINITE_TEXT`, read by
    :func:`~lrfinder._checks.non_finite_from_text`, as a suggestion's fields are); ``null`` reads as NaN.

    Raises:
        ValueError: An entry that is other text or a bool.

    """
    for index, value in enumerate(values):
        not_written = isinstance(value, bytes) or isinstance(value, str) and non_finite_from_text(value) is None
        if isinstance(value, (bool, np.bool_)) or not_written:
            what = "text" if isinstance(value, (str, bytes)) else "a bool"
            raise ValueError(
                f"Malformed range-test result: {key}[{index}]={value!r:.40} is {what}, not a number; a result's {key} "
                f"are JSON numbers (text only for those JSON cannot hold: {', '.join(map(repr, NON_FINITE_TEXT))})"
            )
    return tuple(_decode_float(v) for v in values)


def _decode_float(value: float | str | None) -> float:
    if getattr(value, "is_meta", False):  # float() failed in torch: "Tensor.item() cannot be called on meta tensors"
        raise TypeError(f"{value!r:.60} is a tensor on the meta device, which holds no value, not a number")
    return float("nan") if value is None else float(value)


# --------------------------------------------------------------------------------------------
# Engine pieces
# --------------------------------------------------------------------------------------------


class DivergenceMonitor:
    """The online stop rule: a bias-corrected EMA of the loss against its best value so far.

    After step ``t`` (from 1) with loss ``l``::

        avg = beta * avg + (1 - beta) * l;        smoothed = avg / (1 - beta ** t)
        dev = beta * dev + (1 - beta) * |l - previous smoothed|   (debiased the same way)
        from step t = settle (6) on:
        best = min(best, smoothed);   best_dev = dev at the step where best was last lowered
        stop when smoothed > best + (stop_factor - 1) * max(|best|, 3 * best_dev)

    For positive losses with little noise this is the usual ``smoothed > stop_factor * best``. The
    ``|best|`` makes it work for negative losses, and the noise term keeps a test that starts
    from an already-trained model (best close to 0) from stopping on batch-to-batch noise.
    The best is taken once the EMA averages ``settle`` losses and its noise ``settle - 1``
    differences: before, the best was the average of one or two losses and its noise one
    difference, as noisy as a single batch, and a lucky low start (a trained model's first batch
    at 0.01, then 0.3; batch-1 losses 0.70, 0.75, then 0.2-5 around 2.5) set a threshold below the
    loss's real average, which stopped the test at min_lr. The price: a loss that blows up from the
    first step stops at step 8, not 4. ``beta`` is 0.9 (a lag of about 9 steps)
    rather than 0.98: the stop reacts within a few steps, which saves time in the diverged region.

    Args:
        stop_factor: The factor (> 1), or ``None`` to never stop.
        beta: EMA coefficient in (0, 1).

    """

    #: The step from which the best is taken (see the class docstring); no stop before it.
    settle = 6

    def __init__(self, stop_factor: float | None = 4.0, beta: float = 0.9) -> None:
        """Check the settings; see the class docstring.

        Raises:
            TypeError: ``stop_factor`` or ``beta`` is not a number (``stop_factor`` may be ``None``).
            ValueError: ``stop_factor <= 1`` or NaN (it would stop at the second step, or never), or
                ``beta`` outside (0, 1).

        """
        stop_factor, beta = plain(stop_factor), plain(beta)
        _check_stop_factor(stop_factor)
        if not is_real(beta):
            raise TypeError(f"Expected beta to be a number in (0, 1), but got beta={beta!r}")
        if not 0.0 < beta < 1.0:
            raise ValueError(f"Expected 0 < beta < 1, but got beta={beta}")
        self.stop_factor = None if stop_factor is None else float(stop_factor)
        self.beta = float(beta)
        self.t = 0
        self._avg = 0.0
        self._dev = 0.0
        self.smoothed = math.nan
        self.best = math.inf
        self._best_dev = 0.0

    def update(self, loss: float) -> bool:
        """Record one loss; return ``True`` when the test should stop for divergence.

        Raises:
            TypeError: ``loss`` is not a number (a float, a numpy number or a one-element tensor).

        """
        loss = _loss_value("loss", loss)
        self.t += 1
        previous = self.smoothed
        self._avg = self.beta * self._avg + (1 - self.beta) * loss
        correction = 1 - self.beta**self.t
        self.smoothed = self._avg / correction
        if self.t > 1:
            self._dev = self.beta * self._dev + (1 - self.beta) * abs(loss - previous)
        if self.t < self.settle:
            return False
        if self.smoothed <= self.best:
            self.best = self.smoothed
            # The noise level is frozen where the best was seen: measured later, it would grow
            # with the divergence itself and hold the stop back.
            self._best_dev = self._dev / (1 - self.beta ** (self.t - 1))
        if self.stop_factor is None:
            return False
        threshold = self.best + (self.stop_factor - 1) * max(abs(self.best), 3.0 * self._best_dev)
        return self.smoothed > threshold


class LRSweeper:
    """Sets one swept LR on every param group of one or more optimizers, keeping their ratios.

    The group with the largest base LR (across all optimizers) gets the swept value; every other
    group keeps its ratio to it, so discriminative LRs survive the test. When every group's LR is
    0 (a warm-up scheduler from 0 has run its first step), the ratios are those of the groups'
    ``initial_lr``, the LRs torch's schedulers were configured with.
    """

    def __init__(self, optimizers: Sequence[torch.optim.Optimizer]) -> None:
        """Read the base LR of every param group (their ratios are kept).

        Raises:
            TypeError: ``optimizers`` is not a sequence of torch optimizers (a lone optimizer: wrap it
                in a list).
            ValueError: No optimizer, or a param group with no ``lr``, or one that is not a finite
                number >= 0 (``None``: an optimizer that sets its own step size, such as Adafactor
                with ``relative_step=True``), or an ``Rprop``, which reads ``lr`` as its first step
                size only (:func:`~lrfinder.stepping.check_lr_sets_each_step`).

        """
        if isinstance(optimizers, torch.optim.Optimizer):
            raise TypeError(
                f"Expected optimizers to be a sequence of torch optimizers, but got one {type(optimizers).__name__}: "
                "pass it in a list, LRSweeper([optimizer])"
            )
        if is_not_a_sequence(optimizers):
            raise TypeError(
                f"Expected optimizers to be a sequence of torch optimizers, but got optimizers={optimizers!r:.80}"
                + single_number_note(optimizers)
            )
        self.optimizers = list(optimizers)
        if not self.optimizers:
            raise ValueError("Expected at least one optimizer, but got optimizers=[]: there would be no LR to sweep")
        for i, opt in enumerate(self.optimizers):
            if not isinstance(opt, torch.optim.Optimizer):
                what = f"the class {opt.__name__}" if isinstance(opt, type) else type(opt).__name__
                raise TypeError(
                    f"Expected optimizers to hold torch.optim.Optimizer instances, but optimizers[{i}] is {what}"
                )
            check_lr_sets_each_step(opt)
        base = [group_lr(opt, i, g) for opt in self.optimizers for i, g in enumerate(opt.param_groups)]
        if base and max(base) == 0:
            # Every group at 0: a warm-up scheduler's first step (LambdaLR from 0, LinearLR's start) set
            # them there; torch's schedulers keep the configured LRs as initial_lr, so their ratios hold.
            initial: list[float] = []
            for group in (g for opt in self.optimizers for g in opt.param_groups):
                value: Any = group.get("initial_lr")
                value = value.item() if is_number_tensor(value) else value
                if not (is_real(value) and math.isfinite(value) and value >= 0):
                    break
                initial.append(float(value))
            else:
                base = initial
        top = max(base) if base else 0.0
        self.ratios = [b / top if top > 0 else 1.0 for b in base]
        #: Each group's ``"name"`` entry when it is a string (as Lightning's LearningRateMonitor reads it).
        self.names: list[str | None] = [
            name if isinstance(name := g.get("name"), str) else None
            for opt in self.optimizers
            for g in opt.param_groups
        ]
        # The largest LR each group's parameters can be stepped by: torch converts the LR to their dtype, and
        # past its largest number SGD's step failed deep in torch ("value cannot be converted to type float
        # without overflow") where a linear sweep to 1e308 or a loss that never blew up took the LR.
        self._limits = [_largest_step(g) for opt in self.optimizers for g in opt.param_groups]
        #: Each group's dict, its optimizer, its index, the LR :meth:`set` gave it last and the relative precision
        #: it was stored at (read by :meth:`moved`).
        self._applied: list[tuple[dict[str, Any], torch.optim.Optimizer, int, float, float]] = []

    def set(self, lr: float) -> None:
        """Apply ``lr`` to the reference group, and ``lr * ratio`` to the others.

        A tensor LR (torch 2's ``Adam(lr=torch.tensor(...))``, for a compiled or captured step) is
        filled in place, as torch's schedulers do: whoever holds the tensor sees the swept LR.

        Raises:
            TypeError: ``lr`` is not a number (a one-element tensor or a numpy number is one).
            ValueError: ``lr`` is negative or not finite: torch would step with it silently; or ``lr`` (times
                a group's ratio) is above the largest number of that group's parameter dtype (3.40e+38 for
                float32, 65504 for float16), which torch cannot step them by.

        """
        if type(lr) is not float:  # the sweep's own LRs are floats: their type checks cost a step 1 us
            if is_number_tensor(lr):
                lr = lr.item()
            if not is_real(lr):
                raise TypeError(f"Expected lr to be a number, but got lr={lr!r:.40}")
            lr = float(lr)
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"Expected lr to be finite and >= 0, but got lr={lr}")
        groups = [(opt, i, g) for opt in self.optimizers for i, g in enumerate(opt.param_groups)]
        for (opt, index, _), ratio, (limit, dtype) in zip(groups, self.ratios, self._limits):
            if lr * ratio > limit:  # checked before any group is set: a refused LR leaves every group as it was
                raise ValueError(
                    f"Expected an LR the parameters' dtype can hold, but got lr={lr * ratio:.2e} for param group "
                    f"{index} of {type(opt).__name__}, whose {dtype} parameters torch cannot step by more than "
                    f"{limit:.2e}, the largest {dtype} number. Lower max_lr below it: a range test rarely needs "
                    "to go past 10, the default."
                )
        applied = []
        for (opt, index, group), ratio in zip(groups, self.ratios):
            if isinstance(group["lr"], torch.Tensor):
                with torch.no_grad():
                    group["lr"].fill_(lr * ratio)
            else:
                group["lr"] = lr * ratio
            if isinstance(opt, torch.optim.ASGD):
                _set_asgd_eta(opt, group, lr * ratio)
            applied.append((group, opt, index, lr * ratio, _lr_precision(group["lr"])))
        self._applied = applied

    def moved(
        self, optimizer: torch.optim.Optimizer | None = None
    ) -> tuple[torch.optim.Optimizer, int, float, object] | None:
        """The first param group (of ``optimizer`` alone, if given) whose LR is no longer the one :meth:`set` gave it.

        Returns ``(optimizer, group index, LR set, LR found)``, else ``None``. Something run between :meth:`set` and
        the optimizer's step (a scheduler's ``step()`` or an LR written into the group by a ``step_fn``) would
        step at another LR than the one recorded. A tensor LR on an accelerator is not read (a host sync
        per step); one on the CPU is compared within its dtype's precision.
        """
        for group, opt, index, expected, stored in self._applied:
            if optimizer is not None and opt is not optimizer:
                continue
            # The group the optimizer holds now: during the first step lr_read_checked lends it copies, which a hook
            # run inside the step writes to. Read as a plain dict, so this read is not taken for the step's own.
            groups = getattr(opt, "param_groups", None)
            held = groups[index] if isinstance(groups, list) and index < len(groups) else group
            found = dict.get(held, "lr") if isinstance(held, dict) else group.get("lr")
            if isinstance(found, torch.Tensor):
                if found.device.type != "cpu" or found.numel() != 1:
                    continue
                value = float(found.item())
            elif is_real(found):
                value = float(found)  # type: ignore[arg-type]
            else:
                return opt, index, expected, found
            # The coarser of the two precisions: a float32 tensor's LR read back as a float is the same LR.
            tolerance = max(stored, _lr_precision(found))
            if not math.isclose(value, expected, rel_tol=tolerance, abs_tol=1e-300):
                return opt, index, expected, value
        return None


def _lr_precision(lr: object) -> float:
    """The relative precision an LR held as ``lr`` (a float, or a tensor of some dtype) keeps."""
    if isinstance(lr, torch.Tensor):
        return 2 * torch.finfo(lr.dtype).eps if lr.dtype.is_floating_point else 1e-6
    return 1e-9


def _largest_step(group: Mapping[str, Any]) -> tuple[float, str]:
    """The largest LR torch can step ``group``'s parameters by, and their dtype's name (``inf`` with none)."""
    params = [p for p in group.get("params", ()) if isinstance(p, torch.Tensor)]
    dtypes = {p.dtype for p in params if p.is_floating_point() or p.is_complex()}
    if not dtypes:
        return math.inf, ""
    dtype = min(dtypes, key=lambda d: torch.finfo(d).max)
    return float(torch.finfo(dtype).max), str(dtype).removeprefix("torch.")


def _set_asgd_eta(optimizer: torch.optim.ASGD, group: dict[str, Any], lr: float) -> None:
    """Set the step size ASGD's next step takes in ``group`` to what ``lr`` gives: ``lr / (1 + lambd lr t) ** alpha``.

    ASGD steps by ``state["eta"]``, which it computes after each step from the LR of that step (and
    sets to ``lr`` when it makes the state): an LR set between two steps took effect one step late,
    so the sweep's first step ran at the LR of the optimizer's last step before the test (the user's)
    and every later one at the LR of the step before it. ``t`` is the number of steps taken, as ASGD
    counts them; a parameter without state yet gets ``eta = lr`` from ASGD itself.
    """
    lambd, alpha = group["lambd"], group["alpha"]
    with torch.no_grad():
        for p in group["params"]:
            state = optimizer.state.get(p)
            if not state or "eta" not in state or "step" not in state:
                continue
            eta, step = state["eta"], state["step"]
            if isinstance(eta, torch.Tensor) and eta.device.type != "cpu":
                # capturable=True: computed on the device, as ASGD does then, without a host sync.
                eta.copy_(lr / ((1 + lambd * lr * step) ** alpha))
            else:
                t = float(step)
                # The same Python arithmetic as ASGD's own update, so the value matches its bit for bit.
                value = lr / ((1 + lambd * lr * t) ** alpha)
                if isinstance(eta, torch.Tensor):
                    eta.fill_(value)
                else:
                    state["eta"] = value


def _loss_value(name: str, value: object) -> float:
    """``value`` as a float: a real number or a one-element tensor, else a ``TypeError`` naming ``name``.

    ``float()`` alone took a text ``"1.0"`` and failed on ``None`` or a per-example loss vector with
    messages that named neither the value nor the fix.
    """
    if type(value) is float:  # the step's loss, read already: as it is, without the checks below
        return value
    if is_number_tensor(value):
        return float(value.detach().item())
    if is_real(value):
        return float(value)  # type: ignore[arg-type]
    shape = f" of shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else ""
    raise TypeError(
        f"Expected {name} to be the loss as a number (a float or a one-element tensor), but got "
        f"{type(value).__name__}{shape} {value!r:.40}; reduce a per-example loss with .mean()"
    )


def _check_lrs(lrs: object) -> list[float]:
    """``lrs`` as a list of floats, or an error naming what is wrong with it."""
    if isinstance(lrs, (str, bytes, Mapping)) or not isinstance(lrs, Iterable) or getattr(lrs, "ndim", 1) != 1:
        raise TypeError(
            f"Expected lrs to be a 1-D sequence of learning rates (e.g. lr_schedule(1e-7, 10.0, 100)), but got "
            f"lrs={lrs!r:.80}"
        )
    if isinstance(lrs, np.ndarray) and lrs.dtype == np.float64 and lrs.size:
        # lr_schedule's plan, checked at once: the loop below took 0.1 ms; it still names the first bad LR.
        if np.all(np.isfinite(lrs)) and np.all(lrs > 0):
            return cast(list[float], lrs.tolist())
    plan = []
    for i, lr in enumerate(lrs):
        if is_number_tensor(lr):
            lr = lr.item()
        if not is_real(lr):
            raise TypeError(f"Expected lrs to hold numbers, but got lrs[{i}]={lr!r:.40}")
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"Expected every LR in lrs to be finite and > 0, but got lrs[{i}]={lr}")
        plan.append(float(lr))
    if not plan:
        raise ValueError("Expected at least one LR in lrs, but got an empty sequence")
    return plan


def run_sweep(
    step: Callable[[float], float],
    lrs: Sequence[float] | np.ndarray,
    *,
    sweeper: LRSweeper | None = None,
    stop_factor: float | None = 4.0,
    on_step: Callable[[int, float, float], None] | None = None,
) -> tuple[list[float], list[float], StopReason]:
    """The range-test loop.

    For each planned LR: set it (through ``sweeper``), call ``step(lr)`` to run one optimizer
    step and return its loss, record it, and stop at once on a non-finite loss or when the
    :class:`DivergenceMonitor` fires. Ctrl-C ends the loop with ``"interrupted"``.

    Args:
        step: Runs one optimizer step at the LR already set; returns the loss as a float (already
            reduced over micro-batches and ranks, so every rank decides the same).
        lrs: The planned LRs (:func:`lr_schedule`).
        sweeper: Sets the LR on the optimizers; ``None`` when ``step`` does it.
        stop_factor: See :class:`DivergenceMonitor`.
        on_step: Called after each step with ``(index, lr, loss)`` (progress bars, logging).

    Returns:
        ``(lrs_run, losses, stop_reason)``.

    Raises:
        TypeError: ``step`` or ``on_step`` is not callable, ``sweeper`` is not an
            :class:`LRSweeper`, or ``lrs`` is not a sequence of numbers.
        ValueError: ``lrs`` is empty or holds a value that is not finite and > 0, or ``stop_factor``
            is out of range (see :class:`DivergenceMonitor`).

    """
    check_callable("step", step, "step(lr) -> loss", arity=1)
    if step is None:
        raise TypeError("Expected step to be a function step(lr) -> loss, but got step=None")
    check_callable("on_step", on_step, "on_step(index, lr, loss)", arity=3)
    if sweeper is not None and not isinstance(sweeper, LRSweeper):
        raise TypeError(
            f"Expected sweeper to be an lrfinder.LRSweeper or None, but got {type(sweeper).__name__}: "
            "build one with LRSweeper([optimizer])"
        )
    plan = _check_lrs(lrs)
    monitor = DivergenceMonitor(stop_factor)
    done_lrs: list[float] = []
    losses: list[float] = []
    reason: StopReason = "completed"
    try:
        for i, lr in enumerate(plan):
            if sweeper is not None:
                sweeper.set(lr)
            loss = _loss_value("step(lr)'s return value", step(lr))
            done_lrs.append(lr)
            losses.append(loss)
            if on_step is not None:
                on_step(i, lr, loss)
            if not math.isfinite(loss):
                reason = "non_finite"
                break
            if monitor.update(loss):
                reason = "diverged"
                break
    except KeyboardInterrupt:
        logger.warning("Range test interrupted after %d steps; restoring state.", len(losses))
        reason = "interrupted"
    return done_lrs, losses, reason


# --------------------------------------------------------------------------------------------
# The plain-PyTorch entry point
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Setup:
    """What :func:`range_test`'s checks settled: the sweep's settings and the objects it runs with."""

    settings: RangeTestSettings
    refine: Refine | None  # None: no refine round
    trainable: list[nn.Parameter]
    optimizer: torch.optim.Optimizer  # the caller's, or the default SGD
    owner: nn.Module  # what is snapshotted: the model, with a loss module of its own
    sweeper: LRSweeper
    target: torch.device
    autocast_dtype: torch.dtype | None


@dataclass(frozen=True)
class _Saved:
    """What :func:`range_test` puts back after the sweep: the state snapshot and a GradScaler's own state."""

    snapshot: StateSnapshot | None  # None: restore=False
    scaler: torch.amp.GradScaler | None  # under precision="16-mixed"
    scaler_state: dict[str, Any] | None


@dataclass(frozen=True)
class _PreparedSweep:
    """The plain sweep ready to run: its step, its LRs, and what the steps record for after the sweep."""

    step: Callable[[float], float]
    plan: np.ndarray
    loss_of: Callable[[Any], torch.Tensor]  # of a batch as the data gave it (those the steps keep), moved first
    clip: Callable[[torch.optim.Optimizer], None]
    ranks: DataParallelRanks | None
    world: int
    probe: NoiseProbe | None
    noise_unmeasured: str | None
    hooks: list[Any]  # the noise probe's tensor hooks, removed once the sweep ends
    batch_size: list[int | None]  # the DataLoader's batch_size, else the size of each batch drawn (they may vary)
    non_finite: list[tuple[list[tuple[Any, int]], int, float, float]]  # the step whose loss was not finite
    output_shape: list[tuple[int, ...]]  # a cross-entropy's first model output, once the sweep has drawn it
    batches: CyclingBatches  # the data the sweep drew from (and whether it hands out a kept iterator)


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _once_per_refine(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn`` (:func:`range_test`), saying each distinct warning once when called with ``refine``.

    A refine re-runs code that warns: each re-sweep is a range test with the same arguments
    (the linear-sweep warning came again, in the re-sweep's range), each trial builds its
    schedule again (its decay warning came once per trial, in the trial's compressed numbers,
    after the one in the training's). See :func:`lrfinder._warn.once_per_call`.
    """

    @functools.wraps(fn)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        refine = kwargs.get("refine")
        if refine is None or refine is False:  # not `in (None, False)`: an array or tensor compares elementwise
            return fn(*args, **kwargs)
        with once_per_call():
            return fn(*args, **kwargs)

    return call


def _model_class_name(model: nn.Module) -> str:
    """The user's model's class name, under ``torch.compile``'s and Lightning Fabric's wrappers (the report's title)."""
    inner = getattr(model, "module", model) if is_fabric_module(model) else model  # fabric.setup's _FabricModule
    return type(getattr(inner, "_orig_mod", inner)).__name__


@peer_hints
@_once_per_refine
def range_test(
    model: nn.Module,
    train_data: Iterable[Any],
    *,
    optimizer: torch.optim.Optimizer | None = None,
    loss_fn: Callable[..., torch.Tensor] | None = None,
    step_fn: Callable[[nn.Module, Any], torch.Tensor] | None = None,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    mode: SweepMode | str = "exp",
    stop_factor: float | None = 4.0,
    accumulate_steps: int = 1,
    device: str | int | torch.device | None = None,
    restore: bool = True,
    rule: Rule | str = DEFAULT_RULE,
    on_step: Callable[[int, float, float], None] | None = None,
    noise_scale: bool = False,
    precision: Precision | str = "32",
    grad_scaler: torch.amp.GradScaler | None = None,
    val_data: Iterable[Any] | None = None,
    refine: bool | Refine | None = None,
    gradient_clip_val: float | None = None,
    gradient_clip_algorithm: GradientClipAlgorithm | str = "norm",
    on_trial: Callable[[int, float, int, float], None] | None = None,
    curve: Curve | str = "train",
) -> RangeTestResult:
    """Run Smith's LR range test on a plain PyTorch model.

    The LR goes from ``min_lr`` to ``max_lr`` over ``num_steps`` optimizer steps (see
    :func:`lr_schedule`); the loss of each step is recorded; the test stops at once on a
    non-finite loss, or when the smoothed loss exceeds ``stop_factor`` times its best (see
    :class:`DivergenceMonitor`). The curve is then analysed (:func:`lrfinder.analyze`).

    Data parallelism (torchrun, ``torch.multiprocessing.spawn``): call it on every rank with the
    model wrapped in ``torch.nn.parallel.DistributedDataParallel`` (or FSDP) and each rank's own
    loader (a ``DistributedSampler``). Each step's loss is then averaged over the model's process
    group (one small ``all_reduce`` per step), so every rank records the same curve, stops at the
    same step and reads the same suggestion; ``result.batch_size`` is the global batch (the ranks'
    batches summed, x ``accumulate_steps``), ``noise_scale`` pairs each rank's own gradient with the
    all-reduced one, and ``refine`` averages its held-out and trial losses the same way. Each
    rank is restored to its own state (the sampler's ``epoch`` included). Only a wrapped model
    is reduced over (:func:`data_parallel_ranks`): a plain model is tested on its own process's
    losses even inside an initialized process group, so a test on rank 0 alone waits for no
    other rank. NaN/inf in one rank's batch that makes the loss non-finite raises the same
    :class:`DataError` on every rank (the check rides on the loss's all-reduce: no collective of
    its own). With ``accumulate_steps > 1`` every micro-batch but the last runs in DDP's
    ``no_sync`` (:func:`micro_batch_sync`): the gradients are all-reduced once per step, not once
    per micro-batch, and come out the same up to float rounding. An error raised on one rank only
    (a batch its model refuses) leaves the others waiting in the all-reduce, as it would in
    training.

    Args:
        model: The model; it is put in train mode during the test (a model already in train mode keeps
            each submodule's own mode, e.g. a frozen BatchNorm, see :func:`train_modes`). Wrapped in
            ``DistributedDataParallel`` or FSDP, its losses are averaged over its ranks (above).
        train_data: Any iterable of batches (a DataLoader usually); restarted when exhausted. A
            map-style ``Dataset`` (whose items are examples) is refused: pass a DataLoader over it.
        optimizer: The optimizer to sweep (its param-group LR ratios are kept); default
            ``torch.optim.SGD(momentum=0.9)`` over the model's trainable parameters.
        loss_fn: ``loss_fn(model(inputs), targets)`` for ``(inputs, targets)`` batches and for
            dict batches with input/target keys (``x``/``y``, ``input``/``target``, Hugging Face's
            ``input_ids``/``labels``, ...; other keys are not read, and named in a warning). Without
            it, a dict batch goes in as ``model(**batch)`` and the model's own loss is taken, as
            Hugging Face's ``Trainer`` takes it: ``out["loss"]``, ``out.loss``, the first item of a
            ``(loss, logits)`` tuple (``return_dict=False``), or a scalar tensor returned. A loss
            module with parameters of its own (a learnable temperature) trains with the model:
            the optimizer may hold them, and they are restored with the model. The state a loss
            keeps is restored too: a loss module's parameters, buffers and plain attributes (a
            call counter), an object's ``state_dict()`` (loaded back with its
            ``load_state_dict``: a running mean), another object's attributes (that of a bound
            method ``loss_fn=losses.kl`` too, unless ``on_step``/``on_trial`` is a bound method of
            it that records there). A plain function's closure (a ``nonlocal`` call counter) keeps
            the state the test leaves it in.
        step_fn: ``step_fn(model, batch) -> loss`` for any other batch format (takes precedence:
            ``loss_fn`` given too is not used, with a warning). It returns the loss only: the test
            runs its backward and the optimizer's step, so the gradients do not exist yet while it
            runs, and a ``clip_grad_norm_`` inside it clips nothing: clip with ``gradient_clip_val``.
            One that runs the backward of the loss it returns (``retain_graph=True``) is refused at
            the first step: the test's backward would add the same gradient again. On a
            ``DistributedDataParallel`` model, so is one that runs any backward through the model's
            forward (a GAN critic's loss reaching it), on every rank: DDP averages only the first
            backward after a forward, and the test's would be each rank's own. It returns the loss
            unscaled, also under ``precision="16-mixed"``: the test records it as returned and scales
            it with its own ``GradScaler`` for the backward, so ``scaler.scale(loss)`` (a training
            loop's step) puts losses ~65,536 (the initial scale) times too large on the curve and
            steps on gradients that much too large.
        min_lr: First LR (> 0).
        max_lr: Last LR (> ``min_lr``).
        num_steps: Number of optimizer steps planned (>= 10).
        mode: ``"exp"`` (even in log LR) or ``"linear"``.
        stop_factor: Divergence threshold (> 1); ``None`` never stops early.
        accumulate_steps: Micro-batches per optimizer step; the recorded loss is their mean. A step
            may cycle a short ``train_data`` a few times, not more than :data:`MAX_PASSES_PER_STEP` (10)
            times: judged before the test over data with a length, and over data without one
            (an ``IterableDataset``) once its first pass, counted as the test draws it, has ended.
        device: Where batches go; default the model's device (the model must already be there). What
            ``torch.device`` takes: ``"cuda:1"``, a ``torch.device``, or an int, the GPU's index (``0``: ``cuda:0``).
        restore: Put the model, optimizer, RNGs and data order back afterwards (also on error
            or Ctrl-C), the loss's state (``loss_fn`` above), and any other optimizer a ``step_fn``
            steps (a GAN's critic, see :meth:`StateSnapshot.watching_optimizers`), and the modules a
            ``step_fn`` holds outside the model (an EMA copy of the weights it updates, in its closure, its
            default arguments or the object it is a method of; one over 256 MiB is only named in a warning
            if changed). Not other closure variables of a function, module-level variables (an EMA kept in
            one), or what ``on_step`` records outside the loss object. With ``False`` the model is left as
            trained by the sweep.
        rule: The suggestion rule passed to :func:`lrfinder.analyze`.
        on_step: Called after every optimizer step with ``(index, lr, loss)``, e.g. to drive a
            progress bar.
        noise_scale: Also measure the gradient noise scale (the critical batch,
            :mod:`lrfinder.noise`) into ``result.noise_scale``: from the micro-batches when
            ``accumulate_steps > 1`` (steps up to the loss minimum), else from blocks of
            consecutive steps at the flat start of the sweep, where the LR is too small to move
            the weights; under ``DistributedDataParallel`` from each rank's own gradient against
            the all-reduced one, on every step up to the loss minimum (free; with
            ``SyncBatchNorm``, blocks of steps; not measured under FSDP, whose ranks hold shards).
            It only reads the gradients: the sweep is unchanged, bit for bit.
        precision: ``"32"``; ``"bf16-mixed"``: forward and loss under ``torch.autocast`` to
            bfloat16 (CPU or GPU); ``"16-mixed"``: autocast to float16 with a
            ``torch.amp.GradScaler`` (loss scaled for backward, gradients unscaled before the
            step, steps with inf/NaN gradients skipped), as in torch's AMP recipe. A skipped step
            still records its loss (that of the unmoved weights) and the divergence monitor reads
            it like any other, so the scaler's early overflows neither stop nor hide anything. A
            dtype the device lacks (bfloat16 on a pre-Ampere GPU, float16 autocast on an old
            torch's CPU) raises ``ValueError`` instead of silently running in full precision.
        grad_scaler: A ``torch.amp.GradScaler`` for the model's device to use with
            ``"16-mixed"`` (e.g. the one training will use); its state is put back exactly with
            everything else, even if it never stepped. Default: a new one for the test.
        val_data: Validation batches (the training batches' format): those ``curve="val"`` records the loss over,
            and those ``refine`` judges its trials on (the first ``Refine.val_batches``; without it the first
            training batches are held out for that). Needs ``curve="val"`` or ``refine``.
        refine: ``True`` or a :class:`lrfinder.Refine` (with ``training_steps``): after the
            sweep, run the later rounds of :mod:`lrfinder.refine` (at most two extra sweeps,
            then short trial runs of the planned schedule at LRs around the curve's reading,
            judged on held-out loss). ``result.refinement`` holds them and ``result.lr`` is the
            refined LR; ``result.suggestion`` stays the curve's reading; ``train_data`` must
            be re-iterable (not a generator). An interrupted sweep is
            not refined (its result comes back with a warning); Ctrl-C in a re-sweep or a trial
            restores the state and raises :class:`lrfinder.RefineInterrupted`, a
            ``KeyboardInterrupt`` that carries the first sweep's result as ``.result``.
        gradient_clip_val: Clip the gradients before every optimizer step, as training will
            (Lightning's ``Trainer(gradient_clip_val=...)``; the callback takes it from the
            Trainer): once per optimizer step, on the gradient accumulated over
            ``accumulate_steps`` micro-batches and unscaled from a ``GradScaler``. ``None``
            (default) clips nothing. Clipping bounds the update, so the curve diverges later
            than without it: test with the clipping training uses. ``noise_scale`` is measured on
            the gradients before clipping. Saved in ``settings``.
        gradient_clip_algorithm: ``"norm"`` (default): the total L2 norm of the optimizer's
            gradients is at most ``gradient_clip_val`` (``torch.nn.utils.clip_grad_norm_``);
            ``"value"``: each gradient element is clamped to ``[-gradient_clip_val,
            gradient_clip_val]`` (``clip_grad_value_``).
        on_trial: Progress of ``refine``'s trial runs, which can cost more than the sweep (its
            re-sweeps call ``on_step``, from index 0 again). Called as trial ``index`` starts,
            with ``(index, lr, 0, nan)``, and once it is judged, with ``(index, lr, steps_done,
            held_out_loss)``: ``steps_done`` is fewer than planned when the trial stopped at a
            non-finite loss, and ``held_out_loss`` is then NaN. ``index`` counts from 0 in the
            order the trials run (the ladder's extension trials last). Only used with ``refine``.
        curve: The loss each step records, the curve read: ``"train"`` (default), the step's training loss;
            ``"val"``, the mean loss over the whole of ``val_data`` after the step, in eval mode without gradients
            (each batch weighted by its examples, or by 1 where its size cannot be told), as torch-lr-finder's
            ``val_loader`` records it. Less noisy, but
            a pass over ``val_data`` per step: keep it small. The stop rule reads it as it reads a training loss;
            ``val_data``'s own order is put back with ``restore``. Under DDP each rank passes over its own
            ``val_data`` (a ``DistributedSampler``'s shard) and the loss is the mean over the union of the shards, the
            same on every rank; not under FSDP.

    Returns:
        A :class:`RangeTestResult`; ``result.suggestion`` is ``None`` and ``result.error`` says
        why when the curve is inconclusive.

    Raises:
        ValueError: A setting out of range (named, with the value), an ``accumulate_steps`` that would
            cycle ``train_data`` more than 10 times in one step, ``curve="val"`` without ``val_data`` or on a
            model sharded by FSDP, settings that differ across such a model's ranks, an optimizer whose
            ``step`` needs a closure (``LBFGS``), an ``Rprop`` (its ``lr`` is only its first step size),
            or one with ``maximize=True`` (see :func:`check_minimizes`).
        TypeError: A setting of the wrong type, or a class where an instance is expected
            (``optimizer=torch.optim.Adam``, ``loss_fn=nn.CrossEntropyLoss``).
        DataError: Empty data or a batch of no examples, a one-shot iterator as ``val_data`` with ``curve="val"``,
            a map-style ``Dataset`` or a pair of
            whole-data tensors ``(x, y)`` given as ``train_data``/``val_data``, batches the
            engine cannot use without ``step_fn``, or a first batch the model or
            ``loss_fn`` fails on (a shape, dtype or device mismatch: torch's error is chained, the
            batch and the model's dtype and device are described). Or a batch without NaN/inf whose
            non-finite loss stopped the sweep and is non-finite at the starting weights too (a mean
            over no elements), not a divergence.
        ModelError: No trainable parameters, an optimizer over other or only frozen parameters,
            parameters or buffers on the ``meta`` device, uninitialized lazy parameters or buffers
            (with ``restore``), a model output ``loss_fn`` cannot take, a ``step_fn`` that runs
            backward itself, a loss that is not a real floating-point scalar tensor, a
            ``SparseAdam`` whose parameters get dense gradients, an optimizer none of whose
            parameters the first step's loss reaches, or an optimizer whose first step fails
            (torch's error chained).
        LRFinderError: ``refine`` without ``training_steps`` (pass
            ``refine=lrfinder.Refine(training_steps=N)``).

    Warns:
        UserWarning: ``train_data`` is a one-shot iterator (a generator) with ``restore``: the
            batches drawn cannot be put back; the same for a DataLoader (without workers) whose
            IterableDataset hands out an iterator it keeps. Or the optimizer keeps state that cannot be restored
            (see :class:`StateSnapshot`).

    Example:
        >>> result = range_test(model, loader, loss_fn=F.cross_entropy)  # doctest: +SKIP
        >>> result.suggestion.lr  # doctest: +SKIP

    """
    # A check failing on one rank alone (its shard's length) left the others waiting in the next all-reduce.
    with raised_on_every_rank(_checked_ranks(model), "range_test's argument checks"):
        setup = _checked_setup(
            model, train_data, optimizer=optimizer, loss_fn=loss_fn, step_fn=step_fn, min_lr=min_lr, max_lr=max_lr,
            num_steps=num_steps, mode=mode, stop_factor=stop_factor, accumulate_steps=accumulate_steps,
            device=device, restore=restore, rule=rule, on_step=on_step, noise_scale=noise_scale,
            precision=precision, grad_scaler=grad_scaler, val_data=val_data, refine=refine,
            gradient_clip_val=gradient_clip_val, gradient_clip_algorithm=gradient_clip_algorithm, on_trial=on_trial,
            curve=curve,
        )
    _check_ranks_agree(setup, model, rule, noise_scale)
    val_curve = val_data if setup.settings.curve == "val" else None
    if val_curve is not None:
        _check_val_curve_unwrapped(setup, model)  # FSDP's refusal first: no all_reduce of emptiness for it
    _check_val_data_has_batches(setup, model, val_data)
    saved = _saved_state(
        setup, train_data, loss_fn, restore=restore, precision=precision, grad_scaler=grad_scaler,
        hooks=(on_step, on_trial), step_fn=step_fn, val_data=val_curve,
    )  # fmt: skip
    prepared = _prepared_sweep(setup, saved, model, train_data, loss_fn, step_fn, noise_scale)
    if val_curve is not None:
        prepared = _with_val_curve(setup, prepared, model, val_curve, loss_fn, step_fn)
    lrs, losses, reason = _swept_and_restored(setup, saved, prepared, model, on_step)
    _check_undefined_loss(setup, saved, prepared, model, reason)
    if restore and prepared.batches.kept_stream is not None:
        warn(kept_stream_message(prepared.batches.kept_stream))
    plain_loss = loss_fn if step_fn is None else None
    negative = (
        negative_kl_div_message(plain_loss, losses)
        or negative_nll_message(plain_loss, losses)
        or zero_cross_entropy_message(plain_loss, losses, prepared.output_shape[0] if prepared.output_shape else None)
    )
    if negative is not None:
        warn(negative)
    result = _result(setup, prepared, model, lrs, losses, reason, rule)
    if setup.refine is None:
        return result
    # The refine round's re-sweeps are range tests with this call's arguments but the LR range and steps.
    resweep = functools.partial(
        range_test, model, train_data, optimizer=setup.optimizer, loss_fn=None if step_fn else loss_fn,
        step_fn=step_fn, mode=mode, stop_factor=stop_factor, accumulate_steps=accumulate_steps, device=device,
        rule=rule, on_step=on_step, precision=precision, grad_scaler=grad_scaler,
        gradient_clip_val=gradient_clip_val, gradient_clip_algorithm=gradient_clip_algorithm,
        val_data=val_curve, curve=setup.settings.curve,
    )
    return _refined(
        result, setup.refine, setup, saved, prepared, resweep, model=model, train_data=train_data, loss_fn=loss_fn,
        step_fn=step_fn, val_data=val_data, on_trial=on_trial,
    )


#: The most times one optimizer step may cycle through ``train_data`` (``accumulate_steps`` over its batches per
#: pass): a step that draws every batch over and over is a typo (``accumulate_steps=10**9`` ran without end).
MAX_PASSES_PER_STEP = 10


def passes_per_step_error(
    batches: int | None,
    accumulate: int,
    num_steps: int,
    *,
    option: str,
    data: str,
    fix: str,
    consequence: str | None = None,
) -> ValueError | None:
    """The error for an accumulation whose every step would cycle ``batches`` batches over ten times, else ``None``.

    A step over a short loader that cycles a few times (4 micro-batches of a 3-batch loader) is allowed;
    data without a length (``batches`` ``None``: an ``IterableDataset``, a generator) is not judged here:
    ``range_test`` judges its first pass once it has ended.
    One rule and message for ``range_test(accumulate_steps=)``, the callback's ``accumulate_grad_batches`` and
    ``train``'s (which steps at each epoch's end instead of cycling: its ``consequence`` says so).

    Args:
        batches: Batches one pass over the data gives, or ``None`` when unknown.
        accumulate: Micro-batches per optimizer step.
        num_steps: The test's optimizer steps.
        option: The setting's name as the user gave it (``"accumulate_steps"``).
        data: The data in words after "the N batches" (``"train_data yields per pass"``).
        fix: The sentence that ends the message: what to do.
        consequence: What such a step does, after the colon; default: the test's steps cycling the data.

    Returns:
        The ``ValueError`` to raise, or ``None`` when ``accumulate <= MAX_PASSES_PER_STEP * batches``.

    """
    if not batches or accumulate <= MAX_PASSES_PER_STEP * batches:
        return None
    if consequence is None:
        consequence = (
            f"each of the test's {num_steps:,} optimizer steps would cycle through the data "
            f"{accumulate / batches:,.0f} times, drawing the same batches again and again"
        )
    return ValueError(
        f"Expected {option} <= {MAX_PASSES_PER_STEP} x the {batches:,} batches {data} "
        f"({MAX_PASSES_PER_STEP * batches:,}), but got {option}={accumulate:,}: {consequence}. {fix}"
    )


def _check_passes_per_step(train_data: object, accumulate_steps: int, num_steps: int) -> None:
    """Refuse an ``accumulate_steps`` that would cycle a finite ``train_data`` over ten times in one step.

    Raises:
        ValueError: ``accumulate_steps`` over :data:`MAX_PASSES_PER_STEP` times ``len(train_data)``.

    """
    from .refine import _length

    batches = _length(train_data)
    if batches is None:
        error = unsized_accumulation_error(
            accumulate_steps,
            option="accumulate_steps",
            data="data without a length",
            subject="train_data has no length (an IterableDataset or a generator)",
            fix="Pass the accumulation training uses.",
        )
        if error is not None:
            raise error
    error = passes_per_step_error(
        batches,
        accumulate_steps,
        num_steps,
        option="accumulate_steps",
        data="train_data yields per pass",
        fix=f"Pass the accumulation training uses; one pass over the data is {batches} micro-batches.",
    )
    if error is not None:
        raise error


def _check_counted_passes(batches: int, accumulate_steps: int, num_steps: int) -> None:
    """Refuse, once its first pass has ended, an ``accumulate_steps`` that cycles data without a length over ten times.

    Such data is not judged before the test (:func:`_check_passes_per_step`): its first pass, counted as the
    test draws it, gives the length :func:`passes_per_step_error` judges by, with the same rule and message.

    Raises:
        ValueError: ``accumulate_steps`` over :data:`MAX_PASSES_PER_STEP` times the first pass's batches.

    """
    error = passes_per_step_error(
        batches,
        accumulate_steps,
        num_steps,
        option="accumulate_steps",
        data="train_data yielded in its first pass (it has no length: they were counted as the test drew them)",
        fix=f"Pass the accumulation training uses; one pass over the data is {batches} micro-batches.",
    )
    if error is not None:
        raise error


#: The largest ``accumulate_steps`` (or Lightning's ``accumulate_grad_batches``) a loss can be divided by (torch's
#: int64).
_LARGEST_ACCUMULATION = 2**63 - 1


def unsized_accumulation_error(
    accumulate: int, *, option: str, data: str, subject: str, fix: str
) -> ValueError | None:
    """The error for an accumulation over data without a length that no loss can be divided by, else ``None``.

    Such data is not judged by :func:`passes_per_step_error` (its passes are not known), but each
    micro-batch's loss is divided by ``accumulate``: 10**30 failed there with a bare "OverflowError: int
    too big to convert". No pass holds a tenth of :data:`_LARGEST_ACCUMULATION` batches. One rule and
    message for ``range_test(accumulate_steps=)`` and the callback's ``accumulate_grad_batches``.

    Args:
        accumulate: The micro-batches per optimizer step asked for.
        option: The setting's name as the user gave it (``"accumulate_steps"``).
        data: The data in words after "over" (``"data without a length"``).
        subject: What has no length, in words (``"train_data has no length (an IterableDataset ...)"``).
        fix: The sentence that ends the message: what to do.

    """
    if accumulate <= _LARGEST_ACCUMULATION:
        return None
    return ValueError(
        f"Expected {option} <= {_LARGEST_ACCUMULATION:,} over {data}, but got {option}={accumulate:,}: {subject}, "
        f"so its passes are not counted, and each micro-batch's loss is divided by {option}, which torch cannot do "
        f"past that. {fix}"
    )


def _checked_ranks(model: nn.Module) -> DataParallelRanks | None:
    """The ranks of a data-parallel model for the checks before the setup's, on its first parameter's device.

    Any other ``model`` (one the checks refuse: not a module, one that never called ``super().__init__()``) is
    ``None`` before its parameters are read.
    """
    ranks = data_parallel_ranks(model, torch.device("cpu"))
    first = None if ranks is None else next(model.parameters(), None)
    return ranks if first is None or ranks is None else replace(ranks, device=first.device)


def _checked_setup(
    model: nn.Module,
    train_data: Iterable[Any],
    *,
    optimizer: torch.optim.Optimizer | None,
    loss_fn: Callable[..., torch.Tensor] | None,
    step_fn: Callable[[nn.Module, Any], torch.Tensor] | None,
    min_lr: float,
    max_lr: float,
    num_steps: int,
    mode: SweepMode | str,
    stop_factor: float | None,
    accumulate_steps: int,
    device: str | int | torch.device | None,
    restore: bool,
    rule: Rule | str,
    on_step: Callable[[int, float, float], None] | None,
    noise_scale: bool,
    precision: Precision | str,
    grad_scaler: torch.amp.GradScaler | None,
    val_data: Iterable[Any] | None,
    refine: bool | Refine | None,
    gradient_clip_val: float | None,
    gradient_clip_algorithm: GradientClipAlgorithm | str,
    on_trial: Callable[[int, float, int, float], None] | None,
    curve: Curve | str,
) -> _Setup:
    """Validate: check every argument of :func:`range_test` (see there) before anything runs, and settle them.

    Raises and warns as :func:`range_test` says; the optimizer is the caller's or a new SGD.
    """
    settings = validate_settings(
        min_lr=min_lr,
        max_lr=max_lr,
        num_steps=num_steps,
        mode=mode,
        stop_factor=stop_factor,
        accumulate_steps=accumulate_steps,
    )
    check_precision_name(precision)
    check_gradient_clipping(gradient_clip_val, gradient_clip_algorithm)
    warn_unused_clip_algorithm(gradient_clip_val, gradient_clip_algorithm)
    check_rule(rule)  # before the sweep, not by analyze() once it has run
    check_curve(curve)
    settings = replace(
        settings,
        precision=cast(Precision, precision),
        gradient_clip_val=None if gradient_clip_val is None else float(plain(gradient_clip_val)),
        gradient_clip_algorithm=cast(GradientClipAlgorithm, gradient_clip_algorithm),
        curve=cast(Curve, curve),
    )
    check_flag("restore", restore)
    check_flag("noise_scale", noise_scale)
    check_callable(
        "loss_fn", loss_fn, "e.g. torch.nn.functional.cross_entropy", arity=2,
        more_arguments=pair_loss_hint("in step_fn instead (loss_fn left out), step_fn=lambda model, batch:", "model"),
    )  # fmt: skip
    check_callable("step_fn", step_fn, "step_fn(model, batch) -> loss", arity=2)
    check_callable("on_step", on_step, "on_step(index, lr, loss)", arity=3)
    check_callable("on_trial", on_trial, "on_trial(index, lr, steps_done, loss)", arity=4)
    check_iterable("train_data", train_data)
    check_not_a_dataset("train_data", train_data)
    _check_passes_per_step(train_data, settings.accumulate_steps, settings.num_steps)
    if val_data is not None:
        check_not_a_dataset("val_data", val_data)
    if curve == "val":
        _check_val_curve_data(val_data)
    if step_fn is None:
        check_not_a_tensor_pair("train_data", train_data)
        if val_data is not None:
            check_not_a_tensor_pair("val_data", val_data)
    elif loss_fn is not None:
        warn(
            "range_test got both step_fn and loss_fn: step_fn computes each batch's loss, so loss_fn is not used. "
            "Drop loss_fn, or call it inside step_fn.",
            UserWarning,
        )
    refine_settings = None
    if refine is not None and refine is not False:
        from .refine import resolve_refine

        refine_settings = resolve_refine(refine)
        if not restore:
            raise ValueError("refine needs restore=True: every trial starts from the state the test started from")
        if isinstance(train_data, Iterator):
            # Each trial replays the same batches (and the held-out ones are the same each time): a one-shot
            # iterator gives every trial, and every pass, other batches, so the trials could not be compared.
            raise DataError(
                f"refine needs training data it can replay, but train_data is a one-shot iterator "
                f"({type(train_data).__name__}): every trial must see the same batches. Pass a DataLoader or a list "
                "of batches."
            )
        from .refine import _length

        if val_data is None and _length(train_data) == 1:
            # Said now, not after the whole sweep: the one batch cannot be both held out and trained on.
            raise DataError(
                "refine without val_data judges its trials on held-out training batches, but train_data yields only "
                "1 batch per pass: too few to hold out one and still train. Pass val_data, or split the training "
                "data into more batches."
            )
    elif val_data is not None and curve != "val":
        raise ValueError(
            "val_data is only used by curve='val' (the loss over val_data after every step, torch-lr-finder's "
            "val_loader) and by refine: pass curve='val', or refine=lrfinder.Refine(training_steps=N), as well"
        )
    elif on_trial is not None:
        # A hook that is never called: the progress it was to show for the trials never came, without a word.
        warn(
            "on_trial is called by refine's trial runs only, and refine is not set: it is never called. Pass "
            "refine=lrfinder.Refine(training_steps=N) as well, or drop on_trial.",
            UserWarning,
        )
    trainable = trainable_parameters(model)
    # Before anything reads the parameters' device or copies them: a meta tensor has no values to use.
    check_materialized(model, lazy=restore)
    frozen = traced_in_eval_mode(model)
    if frozen:
        warn(traced_in_eval_message(frozen))
    if optimizer is None:
        optimizer = torch.optim.SGD(trainable, lr=min_lr, momentum=0.9)
    elif not isinstance(optimizer, torch.optim.Optimizer):
        if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"Expected optimizer to be a torch.optim.Optimizer, but got the class {optimizer.__name__}. Pass an "
                f"instance: optimizer={optimizer.__name__}(model.parameters(), lr=...)"
            )
        if isinstance(optimizer, str):
            raise TypeError(
                f"Expected optimizer to be a torch.optim.Optimizer, but got the name {optimizer!r}. Build it: "
                f"optimizer=lrfinder.create_optimizer({optimizer!r}, model, lr=...)"
            )
        if callable(optimizer):
            # train(optimizer=) takes a function model -> optimizer; range_test the optimizer itself.
            raise TypeError(
                f"Expected optimizer to be a torch.optim.Optimizer, but got a {type(optimizer).__name__}: range_test "
                "takes the optimizer built over the model it tests (train takes a function that builds one). Pass "
                "optimizer=torch.optim.SGD(model.parameters(), lr=...), or call your function: optimizer=make(model)"
            )
        several = isinstance(optimizer, (list, tuple)) and any(isinstance(o, torch.optim.Optimizer) for o in optimizer)
        if several and len(optimizer) == 1:
            # A list of one (as configure_optimizers returns it) was told to run once per optimizer.
            raise TypeError(
                f"Expected optimizer to be a torch.optim.Optimizer, but got a {type(optimizer).__name__} of one: "
                "pass the optimizer itself (optimizer=optimizers[0])."
            )
        if several:
            raise TypeError(
                f"Expected optimizer to be a torch.optim.Optimizer, but got a {type(optimizer).__name__} of "
                f"{len(optimizer)}: range_test sweeps one optimizer. Run it once per optimizer (restore=True puts the "
                "model back between runs), or, with Lightning, sweep them together with the LRFinder callback: "
                "return them from configure_optimizers under manual optimization."
            )
        raise TypeError(f"Expected optimizer to be a torch.optim.Optimizer, but got {type(optimizer).__name__}")
    optimizer = _unwrapped_lightning_optimizer(optimizer)
    check_steps_without_closure(optimizer)
    # A loss module with parameters of its own (a learnable temperature) trains with the model: the
    # optimizer may hold them, and they are restored with the model.
    owner = with_loss_module(model, loss_fn)
    check_optimizer_of(owner, optimizer)
    check_optimizer_trains(optimizer)
    from .optimizers import repeated_tensors_message

    repeated = repeated_tensors_message(optimizer)
    if repeated is not None:
        raise ModelError(
            f"The optimizer's {repeated}. Build it over each parameter once: model.parameters(), or "
            "list(dict.fromkeys(params)) to drop the repeats."
        )
    check_minimizes(optimizer)
    sweeper = LRSweeper([optimizer])  # checks that every group has an LR to sweep
    idle = idle_swept_group_message([optimizer], sweeper.ratios)
    if idle is not None:
        warn(idle)
    model_device = trainable[0].device
    target = check_device("device", device) or model_device
    if target.type != model_device.type or (
        target.index is not None and model_device.index is not None and target != model_device
    ):
        raise ValueError(
            f"Expected the model on device={target}, but its parameters are on {model_device}. "
            "Move the model there (model.to(device)) before creating the optimizer."
        )

    autocast_dtype = _check_precision(precision, target, grad_scaler)
    if autocast_dtype is not None and all(p.dtype == torch.float64 for p in trainable):
        # The result would say precision='bf16-mixed' of a test that ran in full float64.
        warn(
            f"precision={precision!r} has no effect on a float64 model: torch.autocast casts float32 tensors only, "
            "so every step runs in float64 and the curve is the double-precision one. To test in mixed precision, "
            "convert the model and its inputs to float32 (model.float()); else pass precision='32'."
        )
    if autocast_dtype is None and caller_autocast(target):
        warn(
            f"range_test was called inside torch.autocast, which the test switches off: it runs at its own "
            f"precision={precision!r}. To test in mixed precision, pass precision='bf16-mixed' (or '16-mixed').",
        )
    if precision == "16-mixed" and _needs_closure(optimizer):
        raise ValueError(
            "precision='16-mixed' steps through torch's GradScaler, which cannot pass "
            f"{optimizer_class_name(optimizer)}.step the closure it needs. Use precision='bf16-mixed' or '32' with "
            "this optimizer."
        )
    hooked = outside_step_hooks(optimizer) if restore else []
    if hooked:
        warn(
            f"The optimizer has step hooks ({', '.join(hooked[:3])}{' ...' if len(hooked) > 3 else ''}): they run at "
            "every step of the range test, and what they change outside the model and the optimizer (an EMA or SWA "
            "copy of the weights, a counter) is not put back. Remove them for the test (handle.remove()), or save "
            "what they update and load it back afterwards.",
        )
    fabric_hooked = fabric_step_callbacks(optimizer) if restore else []
    if fabric_hooked:
        warn(
            f"Lightning Fabric calls {', '.join(fabric_hooked[:3])}{' ...' if len(fabric_hooked) > 3 else ''} after "
            "every step of the range test, as after a training step, and what it changes (an EMA or SWA copy of the "
            "weights, a counter) is not put back. Run the test on a Fabric without that callback, or save what it "
            "updates and load it back afterwards.",
        )
    return _Setup(
        settings=settings,
        refine=refine_settings,
        trainable=trainable,
        optimizer=optimizer,
        owner=owner,
        sweeper=sweeper,
        target=target,
        autocast_dtype=autocast_dtype,
    )


def _check_val_curve_data(val_data: Iterable[Any] | None) -> None:
    """Refuse what ``curve="val"`` cannot pass over at every step: no ``val_data``, or a one-shot iterator.

    Raises:
        ValueError: No ``val_data``.
        DataError: A one-shot iterator (a generator): its second pass would be empty.

    """
    if val_data is None:
        raise ValueError(
            "curve='val' records the loss over val_data after every step, but got val_data=None: pass "
            "val_data=val_loader (torch-lr-finder's val_loader), or leave curve='train' for the training loss"
        )
    if isinstance(val_data, Iterator):
        raise DataError(
            f"curve='val' passes over val_data after every step, but val_data is a one-shot iterator "
            f"({type(val_data).__name__}): its second pass would be empty. Pass a DataLoader or a list of batches."
        )


def _check_val_data_has_batches(setup: _Setup, model: nn.Module, val_data: Iterable[Any] | None) -> None:
    """Refuse a ``val_data`` that yields no batch before the sweep.

    ``curve="val"`` found it at the first step's pass and ``refine`` after the whole sweep and its re-sweeps. A
    ``val_data`` without a length (an ``IterableDataset``'s loader) is peeked at for its first batch with every RNG
    and the data's own draw state put back after (:func:`~lrfinder._lightning.preserved_randomness`), so the test
    draws what it would have drawn without the peek; a one-shot stream, which a peek would use up, is not. Under data
    parallelism a rank's shard may be empty (``curve="val"`` sums over the ranks): with ``curve="val"`` whether
    every rank's is is told together, in one ``all_reduce``, and every rank refuses alike; refine's is left to
    :func:`~lrfinder.refine.refine_range_test`, where its ranks meet.

    Raises:
        DataError: ``val_data`` (used by ``curve="val"`` or ``refine``) yields no batch (on every rank).

    """
    if val_data is None:
        return
    ranks = data_parallel_ranks(model, setup.target)
    if ranks is not None and setup.settings.curve != "val":
        return
    # A peek failing on one rank (its shard's first batch does not load) left the others in the all_reduce below.
    with raised_on_every_rank(ranks, "Loading val_data's first batch"):
        empty = _yields_no_batch(val_data)
    if ranks is not None:
        # One shard with a batch is enough: the ranks' sums give the mean over the union of the shards.
        if ranks.max(torch.tensor([0.0 if empty else 1.0]))[0] > 0:
            return
    elif not empty:
        return
    dropped = dropped_batch_note(val_data)
    if dropped is not None:  # its examples are there: "a non-empty dataset" was no fix
        used = "curve='val' records the mean loss over it" if setup.settings.curve == "val" else "refine judges on it"
        raise DataError(f"val_data yields no batch, and {used}: {dropped}")
    raise DataError(_empty_val_message(setup.settings.curve == "val", "" if ranks is None else " on every rank"))


def _yields_no_batch(val_data: Iterable[Any]) -> bool:
    """Whether ``val_data`` yields no batch: by its length, else by a peek at its first batch that draws nothing.

    ``False`` for a one-shot stream (its own, or one its dataset keeps), which a peek would use up.
    """
    length = _length(val_data)
    if length is not None:
        return length == 0
    if isinstance(val_data, Iterator) or held_iterators(val_data):
        return False
    from ._lightning import preserved_randomness

    kept = _iterator_of(val_data)
    with preserved_randomness(val_data):
        batches = own_iterator(val_data)
        try:
            return next(batches, _NO_BATCH) is _NO_BATCH
        finally:
            if kept is None and _iterator_of(val_data) is batches:
                # A persistent-workers loader keeps its first iter(): the peek's workers (a batch drawn, their
                # RNGs moved) must not be the ones the caller's next epoch resumes.
                val_data._iterator = None  # type: ignore[attr-defined]
            del batches  # a worker DataLoader's iterator shuts its workers down


_NO_BATCH = object()


def _empty_val_message(curve: bool, where: str = "") -> str:
    """Why a ``val_data`` yielding no batch (``where``: `` on every rank``) is refused by ``curve="val"`` or refine."""
    if curve:
        return (
            f"val_data is empty{where}: it yields no batch, and curve='val' records the mean loss over it after every "
            "step. Pass the validation loader over a non-empty dataset, or leave curve='train' (and val_data out) for "
            "the training loss."
        )
    return (
        f"val_data is empty{where}: it yields no batch, and refine judges its trials on the loss over it. Pass a "
        "non-empty DataLoader/iterable, or leave val_data out: refine then judges on held-out training batches."
    )


def _check_val_curve_unwrapped(setup: _Setup, model: nn.Module) -> None:
    """Refuse ``curve="val"`` on a model sharded by FSDP, before anything is set up on the model.

    After :func:`_check_ranks_agree` (every rank then refuses alike) and before :func:`_prepared_sweep`, whose noise
    probe hooks the parameters: refused after it, a ``noise_scale=True`` test left a hook on every parameter. DDP is
    fine: each rank passes over its own shard of ``val_data`` and the loss is reduced (:func:`_with_val_curve`).

    Raises:
        ValueError: A model sharded by FSDP (every forward gathers the parameters from every rank).

    """
    ranks = data_parallel_ranks(model, setup.target)
    if ranks is not None and ranks.sharded:
        raise ValueError(
            "curve='val' is not supported on an FSDP model: every forward gathers each layer's parameters from all "
            "ranks, so every rank would have to pass over as many val_data batches as the others, and a shard "
            "shorter than another's (a DistributedSampler's, or val_data of the rank's own) would leave the ranks "
            "waiting for each other. Use curve='train' under FSDP, or run curve='val' under DDP "
            "(DistributedDataParallel, which passes each rank over its own shard), or on one process."
        )


def _with_val_curve(
    setup: _Setup,
    prepared: _PreparedSweep,
    model: nn.Module,
    val_data: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None,
    step_fn: Callable[[nn.Module, Any], torch.Tensor] | None,
) -> _PreparedSweep:
    """``prepared`` whose step returns the mean loss over ``val_data`` after the training step (``curve="val"``).

    The loss of every batch of ``val_data``, in eval mode without gradients (:func:`lrfinder.refine._losses_in_eval`),
    weighted by its examples: ``sum(n_b * loss_b) / sum(n_b)`` (``n_b = 1`` where a batch's size cannot be told).
    Under DDP each rank passes over its own ``val_data`` (its shard) and the two sums are summed over the ranks
    (:meth:`~lrfinder.data_parallel.DataParallelRanks.sum`, one more ``all_reduce`` per step, as the training loss's):
    the mean over the union of the shards, the same on every rank. The pass runs the DDP module's forward without
    its buffer broadcast (``require_forward_param_sync`` off, put back after), so no collective waits inside it and
    the shards may differ in length (one may be empty); each rank evaluates with its own buffers (a BatchNorm's
    running statistics). A non-finite training loss is returned as it is, so the sweep stops on it as without
    ``curve="val"``. A pass only looks: it leaves the training run as ``curve="train"`` runs it, with every RNG and
    ``val_data``'s draw state put back after it (:func:`~lrfinder._lightning.preserved_randomness`: a ``DataLoader``'s
    ``iter()`` draws its seed from torch's RNG, a ``step_fn`` may draw noise) and the modules a ``step_fn`` updates
    outside the model (an EMA teacher, :func:`~lrfinder.stepping.step_fn_modules`) copied back, at the cost of one
    copy of them per step. A val batch holding NaN/inf whose loss is not finite is the data's fault, as a training
    batch's is (:class:`~lrfinder.diagnostics._NonFiniteDataWatch`; the first pass looks at every batch, so a model
    that copes with those inputs is seen to); under DDP every rank reads what every rank found
    (:func:`~lrfinder.data_parallel.ranks_data_verdict`) and all raise alike.

    Raises:
        DataError: ``val_data`` yields no batch (on any rank), or a batch holding NaN/inf whose loss is not finite.

    """
    from ._lightning import preserved_randomness
    from .refine import _losses_in_eval

    train_step = prepared.step
    watch, passes = _NonFiniteDataWatch(), [0]
    held = _step_fn_tensors(model, step_fn)
    ranks = data_parallel_ranks(model, setup.target)
    inner = parallel_module(model)
    ddp = inner if isinstance(inner, nn.parallel.DistributedDataParallel) else None

    def loss_of(batch: Any) -> torch.Tensor:
        with autocast(setup.target, setup.autocast_dtype):
            return _batch_loss(model, to_device(batch, setup.target), loss_fn, step_fn)

    def local_pass(index: int) -> tuple[float, float, bool, tuple[int, Any, list[str], float] | None]:
        """The rank's weighted loss sum and examples, whether a NaN/inf batch gave a finite loss, the batch blamed."""
        total, examples, copes = 0.0, 0.0, False
        sync = None if ddp is None else getattr(ddp, "require_forward_param_sync", None)
        if sync is not None:
            ddp.require_forward_param_sync = False  # type: ignore[union-attr]
        try:
            it = None
            with preserved_randomness(val_data), _put_back(held), eval_modes(model):  # once per pass, not per batch
                it = own_iterator(val_data)
                for i, batch in enumerate(it):  # one batch at a time: val_data is not held whole
                    weight = infer_batch_size(None, batch) or 1
                    loss = _losses_in_eval(loss_of, [batch], model)[0]
                    total += weight * loss
                    examples += weight
                    if index == 0 or not math.isfinite(loss):
                        found = watch.scan([batch])
                        if found and math.isfinite(loss):
                            copes = watch.tolerates_non_finite = True
                        elif found:
                            return total, examples, copes, (i, batch, found[0][1], loss)
        except Exception as exc:
            # A worker of val_data's loader that died, while a batch was drawn or its loss computed: torch's bare
            # SIGCHLD error, said. A training loader's worker is left to the sweep's own check.
            died = worker_death(exc, it, val_data, "val_data", prefix="val_data: ")
            if died is None:
                raise
            raise died from exc
        finally:
            if sync is not None:
                ddp.require_forward_param_sync = sync  # type: ignore[union-attr]
        return total, examples, copes, None

    def step(lr: float) -> float:
        value = train_step(lr)
        if not math.isfinite(value):  # the same on every rank: the training loss is reduced
            return value
        index = passes[0]
        passes[0] += 1
        total, examples, coped, blamed = local_pass(index)
        if ranks is None:
            if blamed is not None:
                i, batch, bad, loss = blamed
                raise DataError(_non_finite_data_message(f"Batch {i} of val_data", batch, index, lr, loss, bad))
        else:
            marks = [0.0] * ranks.world
            if blamed is not None:
                marks[ranks.rank] = float(blamed[0] + 1)
            sums = ranks.sum(torch.tensor([total, examples, float(coped), *marks], dtype=torch.float64)).tolist()
            total, examples, coped, *held = sums
            if coped:
                watch.tolerates_non_finite = True  # on every rank alike: they all read the same sums
        if examples == 0:  # a pass after the first found no batch (an empty val_data is refused before the sweep)
            raise DataError(_empty_val_message(True, " on every rank" if ranks is not None else ""))
        mean = total / examples
        if ranks is not None and not coped:
            ranks_data_verdict(
                watch, mean, [(r, int(mark) - 1) for r, mark in enumerate(held) if mark > 0],
                [] if blamed is None else [(0, blamed[2])], [] if blamed is None else [(blamed[1], blamed[0])],
                rank=ranks.rank, world=ranks.world, step=index, lr=lr,
                name=lambda i, rank: f"batch {i} of val_data on rank {rank}",
            )  # fmt: skip
        return mean

    return replace(prepared, step=step)


def _step_fn_tensors(model: nn.Module, step_fn: object) -> list[torch.Tensor]:
    """The parameters and buffers of the modules a ``step_fn`` holds outside ``model`` (an EMA teacher it updates)."""
    own = {id(t) for t in _module_tensors(model)}
    tensors = _unique(t for _, m in step_fn_modules(step_fn) for t in _module_tensors(m))
    return [t for t in tensors if id(t) not in own and not t.is_inference()]


@contextlib.contextmanager
def _put_back(tensors: Sequence[torch.Tensor]) -> Iterator[None]:
    """``tensors`` (:func:`_step_fn_tensors`) as they were on entry, on exit: copied back where changed in place."""
    with torch.inference_mode(False), torch.no_grad():
        saved = [(t, t._version, t.detach().clone()) for t in tensors]
    try:
        yield
    finally:
        with torch.inference_mode(False), torch.no_grad():
            for tensor, version, value in saved:
                if tensor._version != version:
                    tensor.copy_(value)


def _unwrapped_lightning_optimizer(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """The optimizer a Lightning ``LightningOptimizer`` (``self.optimizers()`` in a module) wraps, else ``optimizer``.

    Its ``step`` goes through the Trainer's strategy, which it holds only inside a fit: elsewhere the test's first
    step failed with a bare ``AssertionError``, said as an optimizer setting to check. The optimizer it wraps holds
    the same param groups and state (the wrapper reads them through), and the range test steps it as any other.
    """
    if has_class_named(optimizer, "LightningOptimizer"):
        inner = getattr(optimizer, "optimizer", None)
        if isinstance(inner, torch.optim.Optimizer):
            return inner
    return optimizer


def _saved_state(
    setup: _Setup,
    train_data: Iterable[Any],
    loss_fn: object,
    *,
    restore: bool,
    precision: Precision | str,
    grad_scaler: torch.amp.GradScaler | None,
    hooks: Sequence[object] = (),
    step_fn: object = None,
    val_data: Iterable[Any] | None = None,
) -> _Saved:
    """Snapshot: what the sweep changes, saved (with ``restore``) to be put back after it (:class:`StateSnapshot`).

    A ``loss_fn`` object with ``state_dict``/``load_state_dict`` (a running mean) is saved with it
    (:func:`~lrfinder.stepping.loss_states`), another's attributes (:func:`~lrfinder.stepping.loss_objects`,
    unless it is where one of ``hooks``, ``on_step`` and ``on_trial``, records); a loss module is in ``setup.owner``;
    the modules a ``step_fn`` holds outside the model with the model (an EMA copy it updates,
    :func:`~lrfinder.stepping.step_fn_modules`). ``val_data``, which ``curve="val"`` passes over at every step, has its
    order put back with ``train_data``'s.
    """
    owner, optimizer, target = setup.owner, setup.optimizer, setup.target
    snapshot = (
        StateSnapshot(
            owner, [optimizer], [train_data] + ([val_data] if val_data is not None else []), module_attributes=True,
            states=loss_states(loss_fn),
            objects=loss_objects(loss_fn, hooks), modules=step_fn_modules(step_fn),
        )  # fmt: skip
        if restore
        else None
    )
    scaler = None
    scaler_state: dict[str, Any] | None = None
    if precision == "16-mixed":
        scaler = grad_scaler if grad_scaler is not None else torch.amp.GradScaler(target.type)
        # The whole object state: state_dict() is empty (and unloadable) before the first step.
        scaler_state = copy.deepcopy(scaler.__dict__) if restore else None
    if restore and isinstance(train_data, Iterator):
        warn(
            f"train_data is a one-shot iterator ({type(train_data).__name__}): the batches the range test draws "
            "from it are used up, and restore cannot put them back, so training would start where the test "
            "stopped. Pass a DataLoader or a list of batches to leave the data as it was.",
        )
    return _Saved(snapshot=snapshot, scaler=scaler, scaler_state=scaler_state)


def _check_ranks_agree(setup: _Setup, model: nn.Module, rule: Rule | str, noise_scale: bool) -> None:
    """Under data parallelism, refuse settings that differ across the ranks (one ``all_reduce``, before any step).

    Every rank averages each step's loss over the others, so all must sweep the same LRs over the same steps
    and read the curve alike; ranks given another ``max_lr`` each applied their own LR to one model (its replicas
    drift apart), and one given fewer ``num_steps`` left the others waiting in the next all-reduce.

    Raises:
        ValueError: A setting (the sweep's, ``rule``, ``noise_scale``, ``refine`` and its fields) differs across the
            ranks.

    """
    ranks = data_parallel_ranks(model, setup.target)
    if ranks is None:
        return
    settings: dict[str, float | str | None] = {
        f.name: getattr(setup.settings, f.name) for f in fields(setup.settings) if f.name != "world_size"
    }
    settings.update(rule=str(rule), noise_scale=noise_scale, refine=setup.refine is not None)
    if setup.refine is not None:  # its trials' and held-out batches' all-reduces too
        for f in fields(setup.refine):
            value = getattr(setup.refine, f.name)
            plain = value is None or isinstance(value, (int, float, str))
            settings[f"refine.{f.name}"] = value if plain else repr(value)  # a tuple of candidates, a mapping
    differ = ranks_settings_disagreement(ranks, settings)
    if differ is None:
        return
    raise ValueError(
        f"Expected the same range_test settings on every rank of the {type(parallel_module(model)).__name__} "
        f"model's process group, but its {ranks.world} ranks got {differ}. Each step's loss is averaged over the "
        "ranks, so every rank must sweep the same LRs over the same steps (one that stops first leaves the others "
        "waiting in the next all-reduce) and read the curve alike: pass the same values on every rank. A num_steps "
        "taken from len(loader) differs where the ranks' loaders do: give each rank a DistributedSampler over the "
        "same data, or pass rank 0's value to every rank (torch.distributed.broadcast_object_list)."
    )


def _prepared_sweep(
    setup: _Setup,
    saved: _Saved,
    model: nn.Module,
    train_data: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None,
    step_fn: Callable[[nn.Module, Any], torch.Tensor] | None,
    noise_scale: bool,
) -> _PreparedSweep:
    """The sweep's step: draw the micro-batches, take their loss and gradients, check them, step the optimizer.

    Also the sweep's LRs (:func:`lr_schedule`), its process group under data parallelism and its
    noise probe; the step records the batch size and a non-finite loss for after the sweep.
    """
    settings, optimizer, target, autocast_dtype = setup.settings, setup.optimizer, setup.target, setup.autocast_dtype
    scaler = saved.scaler
    batches = CyclingBatches(train_data)
    plan = lr_schedule(settings.min_lr, settings.max_lr, settings.num_steps, settings.mode)
    # A DataLoader's batch_size; without one (a batch_sampler of its own, a list of batches) each batch's own size,
    # whose median is the test's: a bucketing sampler's batches vary, and its first said nothing of the others.
    loader_batch_size = infer_batch_size(train_data)
    batch_size: list[int | None] = [] if loader_batch_size is None else [loader_batch_size]
    first_batch: list[str] = []  # how the first batch looked (_describe), to name a later one unlike it
    # Data without a length is judged by passes_per_step_error once its first pass has ended (within the first step
    # when a step cycles it): 10**9 micro-batches per step over a 4-batch stream ran without end.
    uncounted = [_length(train_data) is None and settings.accumulate_steps > MAX_PASSES_PER_STEP]
    # A model wrapped for data parallelism (DDP, FSDP) averages each step's loss over its ranks, so
    # every rank records the same curve, stops at the same step and reads the same suggestion.
    ranks = data_parallel_ranks(model, target)
    world = 1 if ranks is None else ranks.world
    probe = NoiseProbe(p for g in optimizer.param_groups for p in g["params"]) if noise_scale else None
    noise_unmeasured = None
    if probe is not None and ranks is not None and ranks.sharded:
        # Each rank holds a shard of every parameter: its gradient norms are not the whole gradient's.
        probe, noise_unmeasured = None, "not measured under FSDP: each rank holds only a shard of the gradient"
    elif probe is not None and ranks is None:
        # Under data parallelism the ranks' own batches are the small ones, whatever the data's length.
        noise_unmeasured = repeated_batches(_length(train_data), settings.accumulate_steps)
        probe = None if noise_unmeasured is not None else probe
    # The model's first output's shape, for a cross-entropy: exactly 0 at every step comes from one score per example
    # (softmax over one class) or from a model that fits every batch perfectly, and only the shape tells them apart.
    output_shape: list[tuple[int, ...]] = []
    watched = output_shape if step_fn is None and is_cross_entropy(loss_fn) else None
    index = [0]

    def loss_of(batch: Any) -> torch.Tensor:
        with autocast(target, autocast_dtype):
            return _check_loss(_batch_loss(model, batch, loss_fn, step_fn, output_shape=watched))

    # With accumulation the probe reads each micro-batch's own gradient through tensor hooks; under DDP
    # each rank's own gradient, against the all-reduced one ("ranks"), as the callback does. Not with
    # SyncBatchNorm: it normalises each rank's examples with the global batch's statistics.
    if ranks is not None:
        synced = any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
        local_grads = not synced
    else:
        local_grads = settings.accumulate_steps > 1
    micro_probe = probe if probe is not None and local_grads else None
    hooks = micro_probe.watch_backward() if micro_probe is not None else []

    # An optimizer whose step takes a closure gets one (SAM evaluates it at perturbed weights); torch's
    # GradScaler cannot step with a closure, so under 16-mixed it steps without one, as Lightning does.
    with_closure = takes_closure(optimizer) and scaler is None
    step_batches: list[Any] = []  # the step's micro-batches, for the closure's re-evaluation

    clip = functools.partial(
        clip_gradients,
        gradient_clip_val=settings.gradient_clip_val,
        gradient_clip_algorithm=settings.gradient_clip_algorithm,
    )
    sync = micro_batch_sync(model, settings.accumulate_steps)
    def given_loss_of(batch: Any) -> torch.Tensor:
        """``loss_of`` of a batch as the data gave it (``drawn``, ``step_batches``): moved to the device first."""
        return loss_of(to_device(batch, target))

    reevaluate = make_reevaluate(optimizer, step_batches, given_loss_of, settings.accumulate_steps, clip, sync)

    nan_watch = _NonFiniteDataWatch()
    non_finite: list[tuple[list[tuple[Any, int]], int, float, float]] = []  # the step whose loss was not finite
    repeated_factor: list[float | None] = [None]  # backward_repeated's on this rank at the first step

    def step(lr: float) -> float:
        optimizer.zero_grad(set_to_none=True)
        parts: list[torch.Tensor] = []
        sizes: set[int | None] = set()
        step_batches.clear()
        # The step's micro-batches as the data gave them, to name one holding NaN/inf and for the closure; their
        # device copies are freed one by one, as training frees them, not held until the loss is read.
        drawn: list[tuple[Any, int]] = []
        checks: list[torch.Tensor] | None = []  # their floating parts' sums (_finite_sums); None: look at them all
        for micro in range(settings.accumulate_steps):
            batch, batch_index = batches.next()
            if uncounted[0] and batches.first_pass is not None:
                uncounted[0] = False
                _check_counted_passes(batches.first_pass, settings.accumulate_steps, settings.num_steps)
            given = batch
            if batch is None and step_fn is None:
                # A collate_fn or dataset that returns None for what it cannot build (to skip bad records): it was
                # "Cannot compute a loss from these batches: each is a NoneType", though the others were batches.
                # A step_fn takes the batch as it is: one that draws its own data (a GAN's noise) gets None as before.
                before = f" (the first was {first_batch[0]})" if first_batch else ""
                raise DataError(
                    f"Batch {batch_index} of the pass is None, not a batch{before}: a collate_fn or a dataset that "
                    "returns None for a batch or an example it cannot build gives one. Drop such examples in the "
                    "data pipeline (in collate_fn, return a batch of the others), so that every batch has examples."
                )
            examples = infer_batch_size(None, batch)  # moving it to the device keeps its size
            if loader_batch_size is None:
                batch_size.append(examples)
            if examples == 0:
                # Its loss is NaN (a mean over nothing), which read as "the untouched model's loss is already nan".
                raise DataError(
                    f"Batch {batch_index} of the pass has no examples ({_batch_parts(batch)}), so its loss is not a "
                    "number. Check the data pipeline for what empties it: a sampler, a filter or a collate_fn that "
                    "drops every example of a batch."
                )
            # Under DDP every micro-batch but the last runs in no_sync: one gradient all-reduce per step.
            with sync(micro):
                try:
                    batch = to_device(batch, target)
                    # A step_fn's own backward fires the hooks before the test's backward takes their versions.
                    step_fn_hooked = hooked_versions(optimizer) if step_fn is not None and not first_batch else []
                    with target_broadcast_refused(not first_batch and step_fn is None and loss_fn is not None), (
                        _steps_counted(optimizer) if step_fn is not None and not first_batch else _no_count()
                    ) as stepped, hooks_fired(step_fn_hooked) as fired:
                        loss = loss_of(batch)
                    if stepped:
                        raise ModelError(_stepped_in_step_fn_message(optimizer))
                    if fired:
                        refuse_stepped_in_backward(model, optimizer, step_fn_hooked)
                except LRFinderError:
                    raise
                except Exception as exc:
                    died = batches.worker_death(exc)
                    if died is not None:
                        raise died from exc  # not the batch's failure, whatever it ran into
                    if not isinstance(exc, _MISMATCH_ERRORS) and step_fn is None:
                        raise
                    raise_if_compile_failed(exc)
                    if _is_out_of_memory(exc):
                        raise
                    if step_fn is not None and raised_by_lrfinder(exc):
                        raise  # lrfinder's own check, worded already
                    if step_fn is not None:
                        # The step_fn's own error came out bare, naming neither the test nor its step.
                        raise ModelError(
                            step_failed_message(
                                "range_test: step_fn", exc, index[0], lr,
                                f"It ran on batch {batch_index} of the pass: call step_fn(model, batch) on that batch "
                                "outside the test to see it (e.g. a shape or a key the batch does not have; the error "
                                "it raised is chained, above it in the traceback).",
                            )
                        ) from exc
                    # A batch that does not fit the model or loss_fn is said in terms of the batch: the
                    # first one, or a later one unlike it (the short last batch of a pass).
                    if not first_batch:
                        message = step_fn_as_loss_fn_message(exc, loss_fn) or _batch_message(exc, batch, model)
                        raise DataError(message) from exc
                    if is_batch_failure(exc, batch, first_batch[0]):
                        raise DataError(_batch_message(exc, batch, model, batch_index, first_batch[0])) from exc
                    raise
                if not first_batch:
                    first_batch.append(_batch_parts(batch))
                    _warn_unused_keys(batch, loss_fn, step_fn)
                if with_closure:
                    # One batch stays on the device, as in training, and is not copied there again for a second
                    # pass (SAM's); of several, the data's own, moved again (moving one already there changes nothing).
                    step_batches.append(batch if settings.accumulate_steps == 1 else given)
                drawn.append((given, batch_index))
                if checks is not None and not nan_watch.tolerates_non_finite:
                    sums = _finite_sums(batch)
                    if sums is None:
                        checks = None
                    else:
                        checks.extend(sums)
                sizes.add(examples)
                # Gradients already there: the step_fn ran its own backward (its graph may be freed).
                ran_backward = step_fn is not None and not parts and _has_grads(optimizer)
                # Its backward of the loss it returns (retain_graph=True) would double every step's gradient: judged
                # at the first step. Under DDP the verdict is the ranks' together, after the step's backwards
                # (ranks_backward_verdict); not under FSDP, whose ranks each hold a shard of the gradient.
                judged = ranks is None or not ranks.sharded
                repeated = grads_of(optimizer) if ran_backward and index[0] == 0 and judged else []
                # Not divided by 1: the division's autograd node cost about 10 us a step, and x / 1 is x, bit for bit.
                part = loss if settings.accumulate_steps == 1 else loss / settings.accumulate_steps
                if micro_probe is not None:
                    micro_probe.before_backward()
                hooked = hooked_versions(optimizer) if index[0] == 0 else []
                try:
                    (part if scaler is None else scaler.scale(part)).backward()
                except RuntimeError as exc:
                    # A compiled model's backward graph is compiled at its first backward: a forward of library
                    # kernels alone (one Linear) compiled without a C++ compiler, its gradient's sum needed one.
                    raise_if_compile_failed(exc)
                    fabric_fix = fabric_backward_message(exc, model)
                    if fabric_fix is not None:
                        raise ModelError(fabric_fix) from exc
                    if ran_backward:
                        fabric_note = _FABRIC_STEP_FN if is_fabric_module(model) else ""
                        raise ModelError(_BACKWARD_IN_STEP_FN + fabric_note) from exc
                    # Integer targets that huber_loss's backward refuses: said of the batch, as a forward's failure.
                    if step_fn is None and index[0] == 0 and micro == 0 and target_dtype_fix(exc, batch):
                        raise DataError(_batch_message(exc, batch, model)) from exc
                    raise
                factor = backward_repeated(repeated)
                if ranks is not None:
                    repeated_factor[0] = factor if repeated else repeated_factor[0]
                elif factor is not None:
                    fabric_note = _FABRIC_STEP_FN if is_fabric_module(model) else ""
                    raise ModelError(backward_twice_message(factor) + fabric_note)
                del repeated
                stepped_twice = stepped_in_backward_message(model, hooked) if hooked else None
                if stepped_twice is not None:
                    raise ModelError(stepped_twice)
                if micro_probe is not None:
                    micro_probe.after_backward()
            parts.append(loss.detach())
        del batch  # the last micro-batch's device copy too: a closure's re-evaluation (SAM) moves the batches again
        if ranks is not None and not ranks.sharded and step_fn is not None and index[0] == 0:
            # The same on every rank (one all_reduce at the first step): a verdict one rank reached alone would leave
            # the others waiting in the next collective.
            fabric_note = _FABRIC_STEP_FN if is_fabric_module(model) else ""
            ranks_backward_verdict(ranks, model, repeated_factor[0], fabric_note)
        # One host sync per optimizer step: the stop rule needs the value anyway. A NaN in the data made
        # the loss NaN at some LR, and the curve read it as the divergence (or advised a lower max_lr):
        # nan_watch tells the two apart, from the batches' sums read with the loss (the same transfer).
        if ranks is not None:
            value = _reduced_step_loss(ranks, parts, drawn, nan_watch, index[0], lr, checks=checks)
        else:
            mean = torch.stack(parts).double().mean() if len(parts) > 1 else parts[0]
            value, *totals = read_together([mean, *(checks or ())])
            clean = checks is not None and all(map(math.isfinite, totals))
            for i, bad in [] if clean else nan_watch.blame([held for held, _ in drawn], math.isfinite(value)):
                held, held_index = drawn[i]
                where = f"Batch {held_index} of the pass"
                raise DataError(_non_finite_data_message(where, held, index[0], lr, value, bad))
            if not math.isfinite(value):
                non_finite.append((list(drawn), index[0], lr, value))  # looked at again once the sweep is over
        if micro_probe is not None:
            # Before unscale_: the micro-batch and step gradients both still carry the loss scale.
            size = sizes.pop() if len(sizes) == 1 else None
            scale = 1.0 if scaler is None else float(scaler.get_scale())
            micro_probe.end_backward_step(index[0], size, settings.accumulate_steps, world, grad_scale=scale)
        if scaler is not None:
            scaler.unscale_(optimizer)  # the probe and the step see true gradients
        if probe is not None and micro_probe is None:
            # Under data parallelism .grad is the mean over the ranks: the gradient of the global batch.
            probe.end_step(index[0], value, None if examples is None else examples * world)
        if index[0] == 0 and isinstance(optimizer, torch.optim.SparseAdam):
            check_sparse_gradients(model, optimizer)
        first = index[0] == 0
        if first and math.isfinite(value) and not _has_grads(optimizer):
            raise ModelError(no_gradient_message(model, optimizer))
        moved = setup.sweeper.moved()
        if moved is not None:
            raise ModelError(_moved_lr_message(*moved, index[0], step_fn is not None))
        index[0] += 1
        with first_step_errors(optimizer, first):
            if math.isfinite(value):
                # After accumulation and unscale_, once per step: the threshold is on the true gradient.
                clip(optimizer)
            if scaler is not None:
                if math.isfinite(value):
                    scaler.step(optimizer)  # skipped by the scaler when a gradient is inf/NaN
                scaler.update()
            elif math.isfinite(value) and with_closure and not steps_alike_without_closure(optimizer):
                with lr_read_checked(optimizer, first):
                    # torch's stubs type the closure as returning a float; its optimizers hand back what it returns.
                    optimizer.step(StepClosure(optimizer, torch.stack(parts).mean(), reevaluate))  # type: ignore[arg-type]
            elif math.isfinite(value):
                with lr_read_checked(optimizer, first):
                    optimizer.step()
        step_batches.clear()
        return value

    return _PreparedSweep(
        step=step,
        plan=plan,
        loss_of=given_loss_of,
        clip=clip,
        ranks=ranks,
        world=world,
        probe=probe,
        noise_unmeasured=noise_unmeasured,
        hooks=hooks,
        batch_size=batch_size,
        non_finite=non_finite,
        output_shape=output_shape,
        batches=batches,
    )


@contextlib.contextmanager
def _steps_counted(optimizer: torch.optim.Optimizer) -> Iterator[list[None]]:
    """While open, one item in the list it gives for each ``optimizer.step()`` call (a step pre-hook)."""
    stepped: list[None] = []
    register = getattr(optimizer, "register_step_pre_hook", None)
    if register is None:  # not a torch optimizer (a wrapper without torch's hooks): nothing to count with
        yield stepped
        return
    handle = register(lambda *_: stepped.append(None))
    try:
        yield stepped
    finally:
        handle.remove()


@contextlib.contextmanager
def _no_count() -> Iterator[list[None]]:
    """:func:`_steps_counted`'s stand-in where no step is counted: an empty list."""
    yield []


def _stepped_in_step_fn_message(optimizer: torch.optim.Optimizer) -> str:
    """Why a ``step_fn`` that steps the swept optimizer itself is refused, and what to do."""
    name = type(optimizer).__name__
    return (
        f"step_fn called {name}.step() on the optimizer the range test sweeps: the test steps it itself after "
        "step_fn returns, so every swept LR would take two steps (the first on the gradients of step_fn's own "
        "backward) and the curve would not be the one training gives. Return the loss from step_fn "
        "and leave backward() and optimizer.step() to the range test; an optimizer of another model that step_fn "
        "steps (a GAN's critic) is fine."
    )


def _moved_lr_message(
    optimizer: torch.optim.Optimizer, group: int, expected: float, found: object, step: int, with_step_fn: bool
) -> str:
    """Why a step whose LR something else changed after the sweep set it is refused, and what to do."""
    shown = f"{found:.2e}" if isinstance(found, float) else f"{found!r:.40}"
    where = "step_fn, loss_fn or the model's forward" if with_step_fn else "loss_fn or the model's forward"
    return (
        f"The LR of param group {group} of {type(optimizer).__name__} was changed during step {step} of the range "
        f"test, from the swept {expected:.2e} to {shown}, before the optimizer stepped: {where} steps an LR "
        "scheduler or writes optimizer.param_groups[...]['lr'], so the curve would record LRs that were never "
        "used. The range test sets every step's LR itself: step your scheduler in your training loop, after "
        "optimizer.step(), not inside what the test calls. A scheduler stepped there is not put back (it is not "
        "reachable from the model or the optimizer): rebuild it, or load its state_dict() saved before the test."
    )


def _swept_and_restored(
    setup: _Setup,
    saved: _Saved,
    prepared: _PreparedSweep,
    model: nn.Module,
    on_step: Callable[[int, float, float], None] | None,
) -> tuple[list[float], list[float], StopReason]:
    """Sweep (:func:`run_sweep`), then restore what was saved, whatever happened: the LRs, losses and stop reason."""
    snapshot = saved.snapshot
    train_modes(model)
    ranks = prepared.ranks
    # A rank whose step raised and whose process ended is named on the others (told through the process group's
    # store, no collective per step), not gloo's bare "Connection closed by peer".
    told = (
        contextlib.nullcontext()
        if ranks is None
        else failure_told_to_other_ranks(ranks.rank, ranks.world, "range_test's sweep")
    )
    try:
        # Another optimizer the step_fn steps (a GAN's critic) is put back with the rest.
        with told, training_grad_mode(setup.target), (
            snapshot.watching_optimizers() if snapshot is not None else contextlib.nullcontext()
        ):
            return run_sweep(
                prepared.step, prepared.plan, sweeper=setup.sweeper, stop_factor=setup.settings.stop_factor,
                on_step=on_step,
            )
    except RuntimeError as exc:
        # A worker that died during a backward or an optimizer step: torch's bare SIGCHLD error, said.
        died = prepared.batches.worker_death(exc)
        if died is None:
            raise
        raise died from exc
    finally:
        _restore(saved, prepared)


def _restore(saved: _Saved, prepared: _PreparedSweep) -> None:
    """Restore: remove the probe's hooks, put the snapshot back and the GradScaler's state (a Ctrl-C waits for all)."""
    with held_back_signals():
        for hook in prepared.hooks:
            hook.remove()
        if saved.snapshot is not None:
            saved.snapshot.restore()
        if saved.scaler is not None and saved.scaler_state is not None:
            saved.scaler.__dict__.clear()
            saved.scaler.__dict__.update(saved.scaler_state)


def _check_undefined_loss(
    setup: _Setup, saved: _Saved, prepared: _PreparedSweep, model: nn.Module, reason: StopReason
) -> None:
    """Raise :class:`DataError` when the non-finite loss that stopped the sweep is the loss's, not the LR's.

    A clean batch whose loss is not finite at the starting weights either: the loss, not the LR.
    (At step 0 the curve says it: the untouched model's loss.) See
    :func:`~lrfinder.diagnostics._raise_if_non_finite_at_start`.
    """
    snapshot, non_finite, ranks = saved.snapshot, prepared.non_finite, prepared.ranks
    if reason == "non_finite" and non_finite and non_finite[0][1] > 0 and snapshot is not None and ranks is None:
        with training_grad_mode(setup.target), snapshot.watching_optimizers():
            setup.sweeper.set(float(prepared.plan[0]))  # as at step 0, whose loss was finite (a loss may read the LR)
            _raise_if_non_finite_at_start(model, snapshot, prepared.loss_of, *non_finite[0])


def _warn_varying_sizes(
    drawn: Sequence[int | None],
    first_pass: int | None,
    size: int | None,
    accumulate: int,
    world: int = 1,
    total: int | None = None,
) -> None:
    """Warn once when the batches drawn (``drawn``, in order) varied in size: the test's is their median, ``size``.

    A batch sampler of its own sizes (a bucketing one) or a list of batches gives no DataLoader ``batch_size``;
    the median of the sizes drawn became ``result.batch_size`` (the report's header, ``result.scale()``) without a
    word. The last batch of each pass (every ``first_pass``-th; the last drawn while no pass has ended) is left
    out of the comparison: a pass's short remainder is no varying size. Over ``world`` > 1 ranks ``size`` is this
    rank's median and ``total`` the ranks' sum of theirs (``None`` where a rank's batches give no size): the test's,
    said by each rank whose own sizes varied.
    """
    if size is None or len(drawn) < 2:
        return
    kept = [s for i, s in enumerate(drawn) if s is not None and (i + 1) % (first_pass or len(drawn)) != 0]
    if len(set(kept)) < 2:
        return
    sizes = [s for s in drawn if s is not None]
    batch = size if world == 1 else total
    per_step = f" x accumulate_steps={accumulate} = {batch * accumulate} per step" if accumulate > 1 and batch else ""
    uses = "which result.batch_size, the report's header, result.scale() and the noise scale use"
    if world == 1:
        said = f"the test's batch is their median, {size}{per_step}, {uses}"
    elif total is None:
        # Under DDP it named this rank's median as result.batch_size, which is the ranks' sum.
        said = (
            f"this rank's batch is their median, {size} per rank, and the test's is unknown: the batches of another of "
            f"the {world} ranks give no size"
        )
    else:
        said = (
            f"this rank's batch is their median, {size} per rank, and the test's is the sum over the {world} ranks, "
            f"{total}{per_step}, {uses}"
        )
    warn(
        f"The batches' sizes varied ({min(sizes)} to {max(sizes)} examples) and the data gives no DataLoader "
        f"batch_size: {said}. Pass result.scale(..., from_batch_size=...) to scale from another size, or give the "
        "data as a DataLoader(batch_size=...) of one size.",
        every_rank=True,  # this rank's batches: sizes varying on rank 1 alone were said by no rank
    )


def _result(
    setup: _Setup,
    prepared: _PreparedSweep,
    model: nn.Module,
    lrs: list[float],
    losses: list[float],
    reason: StopReason,
    rule: Rule | str,
) -> RangeTestResult:
    """Result: the curve analysed (:func:`finish_result`), with the noise scale measured in the sweep."""
    settings, trainable, optimizer, sweeper = setup.settings, setup.trainable, setup.optimizer, setup.sweeper
    batch_size, world, probe, ranks = prepared.batch_size, prepared.world, prepared.probe, prepared.ranks
    noise_unmeasured = prepared.noise_unmeasured
    sizes = [s for s in batch_size if s is not None]
    size = statistics.median_low(sizes) if sizes else None
    own = size
    if ranks is not None:
        # The global batch is the sum of the ranks' own (one all_reduce): each rank's times the world differed on
        # ranks whose loaders' batches differ (16 and 32: 32 on rank 0, 64 on rank 1), and so did result.scale(...).
        known, total = ranks.sum(torch.tensor([float(size is not None), float(size or 0)])).tolist()
        size = int(total) if known == world else None
    _warn_varying_sizes(batch_size, prepared.batches.first_pass, own, settings.accumulate_steps, world, size)
    size = None if size is None else size * settings.accumulate_steps
    result = finish_result(
        lrs,
        losses,
        reason,
        # The ranks the batch was summed over, so the report says "32 per rank x 2 ranks", not 64 alone.
        settings=settings if world == 1 else replace(settings, world_size=world),
        batch_size=size,
        model_name=_model_class_name(model),
        num_parameters=sum(p.numel() for p in trainable),
        optimizer_name=optimizer_result_name(optimizer),
        rule=rule,
        lr_ratios=tuple(sweeper.ratios),
        group_names=tuple(sweeper.names),
    )
    if probe is not None:
        if ranks is not None:
            probe.reduce_local(ranks.mean)  # the ranks' own gradient norms, averaged: one all_reduce
        measured, why = noise_after_sweep(probe, result.lrs, result.losses, result.suggestion)
        if why is not None:
            logger.warning("%s", why)
        result = replace(result, noise_scale=measured, noise_error=why)
    elif noise_unmeasured is not None:
        logger.warning("%s", noise_unmeasured)
        result = replace(result, noise_scale=None, noise_error=noise_unmeasured)
    return result


def _refined(
    result: RangeTestResult,
    refine: Refine,
    setup: _Setup,
    saved: _Saved,
    prepared: _PreparedSweep,
    resweep: Callable[..., RangeTestResult],
    *,
    model: nn.Module,
    train_data: Iterable[Any],
    loss_fn: Callable[..., torch.Tensor] | None,
    step_fn: Callable[[nn.Module, Any], torch.Tensor] | None,
    val_data: Iterable[Any] | None,
    on_trial: Callable[[int, float, int, float], None] | None,
) -> RangeTestResult:
    """The refine round after the sweep (:func:`~lrfinder.refine.refine_range_test`): re-sweeps and trial runs.

    ``resweep(min_lr=..., max_lr=..., num_steps=...)`` runs a range test with the call's other
    arguments.
    """
    if result.stop_reason == "interrupted":
        # Ctrl-C stops the whole call: no re-sweeps or trials after it (the state is restored).
        warn(
            "The range test was interrupted, so refine did not run: the result has no refinement. Run the test to "
            "the end to refine it.",
            every_rank=True,  # a Ctrl-C may reach one process only
        )
        return result
    from .refine import refine_range_test

    def sweep(lo: float, hi: float, steps: int) -> RangeTestResult:
        again = resweep(min_lr=lo, max_lr=hi, num_steps=steps)
        if again.stop_reason == "interrupted":
            # The re-sweep restored everything; Ctrl-C stops the refinement, as it does in a trial (and in the
            # callback's re-sweeps): the caller (the CLI: exit 130) sees it, not a refinement built after it.
            raise KeyboardInterrupt
        # The noise scale is the first sweep's (re-sweeps do not measure it): kept when a re-sweep's curve is read,
        # as the callback keeps it.
        return replace(again, noise_scale=result.noise_scale, noise_error=result.noise_error)

    new_scaler = None
    if saved.scaler is not None:
        began = saved.scaler_state
        assert began is not None  # refine needs restore=True, so the starting state was saved

        def new_scaler() -> Any:
            # Each trial starts from the scaler state the sweep began with (as the model does).
            fresh = torch.amp.GradScaler(setup.target.type)
            fresh.__dict__.update(copy.deepcopy(began))
            return fresh

    ranks = prepared.ranks
    # A rank failing in a trial or on its held-out batches is named on the others, as in the sweep.
    told = (
        contextlib.nullcontext()
        if ranks is None
        else failure_told_to_other_ranks(ranks.rank, ranks.world, "range_test's refine trials")
    )
    try:
        with told, training_grad_mode(setup.target):
            refined = refine_range_test(
                result, refine, model=model, train_data=train_data, optimizer=setup.optimizer,
                loss_fn=loss_fn, step_fn=step_fn, device=setup.target, val_data=val_data, sweep=sweep,
                autocast_dtype=setup.autocast_dtype, new_scaler=new_scaler, clip=prepared.clip,
                reduce=None if prepared.ranks is None else prepared.ranks.mean_list,
                on_trial=on_trial,
            )
    except KeyboardInterrupt as exc:
        if isinstance(exc, RefineInterrupted):
            raise
        # Everything is restored; the first sweep's result goes with the interrupt, not down with it.
        raise RefineInterrupted(result) from None
    from .refine import all_diverged_message

    diverged = all_diverged_message(refined)
    if diverged is not None:
        warn(diverged)
    return refined


#: The smallest stop_factor whose stop in a sweep's first steps is told as a blow-up: the smoothed loss at least
#: doubled past its best, and past three times its noise (:class:`DivergenceMonitor`); below it the rise may be noise.
_FIRM_STOP_FACTOR = 2.0


def _early_stop_words(lrs: Sequence[float], settings: object) -> str:
    """Why a curve too short to read ended: the stop rule, with ``stop_factor`` named, for the error.

    The advice for too few points (lower the LRs, more steps) assumes the loss blew up; the stop rule
    also fires on batch-to-batch noise when ``stop_factor`` is close to 1 (``1.1`` stopped a healthy
    test after 2 steps, at ``lr=1.2e-7``), and then the factor is what to change.
    """
    factor = getattr(settings, "stop_factor", None)
    if factor is None or not lrs:
        return ""
    return (
        f" The divergence rule ended the test after {plural(len(lrs), 'step')}, at lr={float(lrs[-1]):.2e}, when the "
        f"smoothed loss rose past its best by the margin a stop_factor of {factor:g} allows; if the loss had not "
        "blown up there, the rule stopped on noise: raise stop_factor (the default is 4)."
    )


#: The :class:`RangeTestResult` fields :meth:`RangeTestResult.from_curve` computes itself, not taken as ``**fields``.
_CURVE_COMPUTED = frozenset({"lrs", "losses", "stop_reason", "settings", "suggestion", "error"})


def _refuse_unknown_curve_fields(given: Mapping[str, Any]) -> None:
    """Refuse a keyword of :meth:`RangeTestResult.from_curve` that is no field it takes, saying what to pass.

    It reached the dataclass as "RangeTestResult.__init__() got an unexpected keyword argument 'window'", naming
    neither from_curve nor the spellings it takes; ``suggestion=``/``error=`` failed with "multiple values".
    """
    taken = [f.name for f in fields(RangeTestResult) if f.init and f.name not in _CURVE_COMPUTED]
    for name in given:
        if name in taken or name == "settings":  # settings= has its own refusal
            continue
        if name == "window":
            fix = ": it reads the curve with analyze's default window; drop window=, and call .analyze(window=...) on "
            fix += "the result it returns to read it with yours"
        elif name == "optimizer":
            fix = ": pass the optimizer's name as optimizer_name= (e.g. optimizer_name='adamw')"
        elif name in _CURVE_COMPUTED:
            fix = f": it computes {name} from the curve; drop {name}="
        else:
            fix = f".{did_you_mean(name, taken)} It takes stop_reason=, rule=, curve= and {'=, '.join(taken)}="
        raise TypeError(f"RangeTestResult.from_curve() got an unexpected keyword argument {name!r}{fix}")


def finish_result(
    lrs: Sequence[float],
    losses: Sequence[float],
    stop_reason: StopReason,
    *,
    rule: Rule | str = DEFAULT_RULE,
    **fields: Any,
) -> RangeTestResult:
    """Analyse a recorded curve and pack it into a :class:`RangeTestResult`.

    An inconclusive curve does not raise here: the result keeps the curve, with
    ``suggestion=None`` and the reason in ``error``. It is logged at INFO level only; saying it
    to the user is the caller's policy (the callback warns once, the CLI prints it), so it is
    reported once.
    """
    from .exceptions import InconclusiveCurveError

    suggestion = None
    error = None
    try:
        settings = fields.get("settings")
        suggestion = analyze(
            lrs,
            losses,
            rule=rule,
            curve=settings.curve if settings is not None else "train",
            optimizer=fields.get("optimizer_name"),
        )
    except InconclusiveCurveError as exc:
        error = str(exc)
        if stop_reason == "interrupted":
            # The curve ends where the user stopped it, not where the model or the sweep did: advice
            # such as "increase max_lr" or "records more points before the loss blows up" would mislead.
            where = f", at lr={float(lrs[-1]):.2e}," if len(lrs) else ""
            error = (
                f"The test was interrupted after {plural(len(lrs), 'step')}{where} before the end of its sweep: run "
                f"it to the end to read the curve. What the steps recorded say: {error}"
            )
        elif stop_reason == "diverged" and 0 < len(lrs) < MIN_POINTS:
            # The rule saw the loss rise past its margin: a sweep that starts too high is told so, with the min_lr
            # to start from; "Lower min_lr or max_lr" never said the loss rose, nor where.
            # A stop_factor under 2 stops on a rise that may be noise: then the factor may be what to change.
            factor = getattr(fields.get("settings"), "stop_factor", None)
            lr_arr, loss_arr = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
            blew_up = None
            if factor is not None and factor >= _FIRM_STOP_FACTOR:
                stopped = f"the divergence rule (stop_factor={factor:g}) stopped the test"
                blew_up = short_blowup_message(lr_arr, loss_arr, len(lrs), stopped, len(lrs))
            error = blew_up if blew_up is not None else error + _early_stop_words(lrs, fields.get("settings"))
        logger.info("Range test inconclusive: %s", error)
    return RangeTestResult(
        lrs=tuple(float(v) for v in lrs),
        losses=tuple(float(v) for v in losses),
        stop_reason=stop_reason,
        suggestion=suggestion,
        error=error,
        **fields,
    )
