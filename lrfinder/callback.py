"""The Lightning callback: find the learning rate at the start of ``fit``, then train with it.

:class:`LRFinder` is a thin adapter over the engine (:mod:`lrfinder.range_test`): before the
first training step it runs Smith's range test on the user's own ``LightningModule`` (its
``training_step``, its ``configure_optimizers`` optimizers, the fit's train dataloader, the
Trainer's devices, precision, gradient clipping and ``accumulate_grad_batches``), restores
everything in memory, applies the suggested (and batch-size scaled) LR, and lets the same ``fit``
call train from the original weights. :func:`find_lr` only finds.

The module reads as the pipeline: ``_build`` (loader, optimizers), ``_sweep`` (inside
:func:`lrfinder._lightning.isolation`, one stepper call per LR), ``_analyse``, with ``refine``
``_resweep`` (round 2) and :func:`lrfinder._fit_trials._refine_trials` (round 3), ``_scale``,
``_apply``. Lightning itself is reached through :mod:`lrfinder._lightning`, which also makes
:class:`LRFinder` a ``Callback`` of both ``lightning.pytorch`` and ``pytorch_lightning``
(whichever are installed): one class serves ``L.Trainer``, ``pl.Trainer`` and LightningCLI.
What the callback reads off the fit (steps, loaders, precision, resume) is in
:mod:`lrfinder._fit_facts`; the module's LR and batch-size holders in :mod:`lrfinder._attributes`;
the rescale of the module's own optimizers and schedules in :mod:`lrfinder._rescaling`; the
metrics and tables for the loggers in :mod:`lrfinder._publishing`; :func:`find_lr` in
:mod:`lrfinder._find_lr`.

Only public Trainer/Strategy APIs drive the step: ``strategy.training_step`` (DDP forward,
precision context), ``strategy.backward`` (precision plugin, DDP), ``strategy.optimizer_step``
(gradient clipping, grad scaler) and ``strategy.reduce`` (the loss is averaged over ranks, so
every rank takes the same stop decision and the same suggestion).

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", 2017, arXiv:1506.01186.
    Goyal et al., "Accurate, Large Minibatch SGD", 2017, arXiv:1706.02677.

"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import logging
import math
import os
import statistics
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import torch
from torch.optim import Optimizer
from typing_extensions import override

from . import _lightning
from ._attributes import (
    _get,
    _has_attr,
    _holders,
    _lr_holders,
    _nested_lr_attributes,
    _nested_lr_paths,
    _not_a_number,
    _put,
    _read_only,
    _restore_holders,
    _set_lr_everywhere,
    _settable,
)
from ._checks import check_flag, is_choice, is_int, plain, sentence
from ._fabric import optimizer_result_name
from ._find_lr import NO_VAL_LOADER_WARNING as NO_VAL_LOADER_WARNING
from ._find_lr import find_lr, no_training_error
from ._fit_facts import TUNER_CHECKPOINT_PREFIXES as TUNER_CHECKPOINT_PREFIXES
from ._fit_facts import (
    _accumulation,
    _epoch_batches_at,
    _examples_below_batch,
    _how_to_bound,
    _later_accumulation,
    _loader_batch_size,
    _local_gradients,
    _mean_over_ranks,
    _micro_batches_per_step,
    _optimizer_steps,
    _optimizer_steps_left,
    _plateau_stepping,
    _rebuild_loader,
    _recorded_precision,
    _resumed_from,
    _val_loader,
    _with_clipping,
)
from ._fit_trials import _refine_trials, held_out_loss_of, held_out_mean, ranks_mean, val_batches_held
from ._publishing import TRIAL_COLUMNS as TRIAL_COLUMNS
from ._publishing import _describe, _log_curve, _log_hyperparameter, _send_metrics, _summary_metrics
from ._rescaling import (
    _base_lr,
    _base_lrs,
    _cycle_top,
    _factors,
    _floors_above_lr,
    _has_cycle,
    _moved,
    _rescale,
    _schedule_name,
)
from ._warn import once_per_call
from ._wording import plural, word
from .analysis import DEFAULT_RULE, check_curve
from .data_parallel import failure_told_to_other_ranks
from .diagnostics import (
    _is_out_of_memory,
    _NonFiniteDataWatch,
    raise_training_step_error,
    raised_by_lrfinder,
    undefined_loss_message,
)
from .exceptions import DataError, InconclusiveCurveError, LRFinderError, ModelError
from .names import Curve, Rule, ScalingRule, SweepMode, did_you_mean, scheduler_name
from .noise import NoiseProbe, format_batch, noise_after_sweep, repeated_batches
from .range_test import LRSweeper, RangeTestResult, StopReason, _warn_varying_sizes, finish_result, run_sweep
from .refine import (
    MIN_TRIAL_STEPS,
    VAL_BATCHES,
    LongTrialsError,
    Refine,
    Resweep,
    check_val_batches,
    resolve_refine,
    resweep_round,
)
from .report import _lr_groups
from .scaling import SCALING_RULES
from .settings import (
    RangeTestSettings,
    check_materialized,
    check_minimizes,
    check_rule,
    group_lr,
    idle_swept_group_message,
    lr_schedule,
    peer_hints,
    traced_in_eval_message,
    traced_in_eval_mode,
    validate_settings,
)
from .snapshot import kept_stream_message
from .stepping import check_lr_sets_each_step

if TYPE_CHECKING:
    import pytorch_lightning as pl
    from pytorch_lightning.utilities.types import LRSchedulerConfig

    from . import _either as either
    from ._either import CallbackBase as _CallbackBase
else:
    # The Callback of every installed Lightning distribution (see lrfinder._lightning).
    _CallbackBase = _lightning.callback_base()
    # For typing.get_type_hints: pl.Trainer is the Trainer of every installed distribution.
    pl = either = _lightning.EITHER

__all__ = ["LRFinder", "find_lr"]

logger = logging.getLogger(__name__)

#: The LightningModule hooks besides training_step that run in a training epoch and may call self.log: a module
#: that overrides one may log a plateau schedule's metric there, where the range test does not look.
_LOGGING_HOOKS = (
    "on_train_start", "on_train_epoch_start", "on_train_batch_start", "on_train_batch_end", "on_train_epoch_end",
    "on_before_backward", "on_after_backward", "on_before_optimizer_step", "on_before_zero_grad", "optimizer_step",
)  # fmt: skip
#: Packages whose callbacks log no metric of the user's (another callback may log the one a plateau reads).
_OWN_CALLBACK_PACKAGES = ("lightning.", "pytorch_lightning.", "lrfinder.")

#: Module attributes searched, in order, for the LR when ``attr_name`` is not given (then a nested hyper-parameter's,
#: ``hparams.optim["lr"]``, where the module holds one: :func:`_lr_candidates`).
#: Lightning's tuner order: the name ``lr`` on the module or in its ``hparams`` before ``learning_rate``
#: anywhere, so a module whose ``configure_optimizers`` reads ``self.hparams.lr`` beside an unrelated
#: ``self.learning_rate`` gets its ``hparams.lr`` set.
LR_ATTRIBUTES: tuple[str, ...] = ("lr", "hparams.lr", "learning_rate", "hparams.learning_rate")

#: The module's hooks that may set the optimizer's LR before a training step (a warm-up written by hand).
_LR_SETTING_HOOKS = ("optimizer_step", "on_train_batch_start", "on_train_epoch_start")
#: The callback hooks of the training loop that run after the test: a LearningRateFinder running lr_find from one
#: of them sets the LR after LRFinder applied its own.
_AFTER_THE_TEST_HOOKS = (
    "on_train_epoch_start",
    "on_train_batch_start",
    "on_train_batch_end",
    "on_train_epoch_end",
    "on_validation_end",
)

#: What a module with uninitialized ``torch.nn.Lazy*`` layers is told (the test snapshots before its first batch).
_LAZY_FIX = (
    "Run one forward pass before trainer.fit (e.g. model(example_batch) once after building the module), or {}."
)

#: Lightning's ``LearningRateFinder`` names the callback lacks -> what to use instead (docs/migrating.md's table).
#: A callback moved from it (``cb.optimal_lr.suggestion()``, a subclass calling ``self.lr_find(...)`` at epoch
#: milestones) got Python's bare "'LRFinder' object has no attribute 'optimal_lr'".
_PEER_CALLBACK_NAMES = {
    "optimal_lr": (
        "Lightning's LearningRateFinder.optimal_lr is finder.result here (a RangeTestResult: result.suggestion.lr, "
        "result.lrs, result.losses; None before the fit), and finder.applied_lr is the LR it set for training."
    ),
    "lr_find": (
        "LRFinder has no lr_find to call at epoch milestones: call trainer.fit once per stage on the same Trainer "
        "(raise trainer.fit_loop.max_epochs between them); each fit runs the test again on the current weights."
    ),
}


@dataclass(frozen=True)
class _TestRun:
    """What one range test runs on, built from the fit at ``on_train_start``."""

    settings: RangeTestSettings
    train_loader: Any
    batches: _lightning.TrainBatches
    optimizers: list[Optimizer]
    configs: list[LRSchedulerConfig]
    world: int
    num_parameters: int
    #: The fit's validation loader that ``curve="val"`` reads after every step (``None`` under ``curve="train"``).
    val_loader: Any = None


def _sized_length(sched: Any) -> int | None:
    """The steps a schedule ``scheduler=`` sizes to the fit runs for before its end, or ``None`` for one without an end.

    One-cycle (``total_steps``), cosine (``T_max``, at ``eta_min`` after it) and polynomial (``total_iters``, at 0
    after it) end; the others (constant, step, exponential, cyclic, plateau...) have no length.
    """
    sized = _sized(sched)
    return None if sized is None else sized[1]


def _sized(sched: Any) -> tuple[str, int] | None:
    """A sized schedule's name in words and length (:func:`_sized_length`), else ``None``."""
    if isinstance(sched, torch.optim.lr_scheduler.OneCycleLR):
        return "one-cycle", int(sched.total_steps)
    if isinstance(sched, torch.optim.lr_scheduler.CosineAnnealingLR):
        return "cosine", int(sched.T_max)
    if isinstance(sched, torch.optim.lr_scheduler.PolynomialLR):
        return "polynomial", int(sched.total_iters)
    return None


def _ending_schedule(sched: Any) -> tuple[int, Any, int, int] | None:
    """The sized schedule a restored one ends with, as ``(start, schedule, now, length)`` (:func:`_sized_length`).

    ``start`` is its first step and ``now`` the step now. ``scheduler=`` builds a bare schedule (``start`` 0, ``now``
    its ``last_epoch``) or, with a warm-up, a ``SequentialLR`` that hands over to it at its milestone: until then the
    schedule's own ``last_epoch`` says nothing of the steps taken (torch holds a ``OneCycleLR``'s at -1), so the
    count is the ``SequentialLR``'s. ``None`` for a schedule without a length, and for one another schedule follows.
    """
    length = _sized_length(sched)
    if length is not None:
        return 0, sched, int(sched.last_epoch), length
    parts, milestones = getattr(sched, "_schedulers", None), getattr(sched, "_milestones", None)
    if not parts or milestones is None or len(milestones) != len(parts) - 1:
        return None
    length = _sized_length(parts[-1])
    if length is None:
        return None
    return (int(milestones[-1]) if milestones else 0), parts[-1], int(sched.last_epoch), length


def _group_names(optimizers: Sequence[torch.optim.Optimizer], names: Sequence[str | None]) -> tuple[str | None, ...]:
    """Each param group's name for the result, an unnamed one named after its optimizer where there are several.

    The groups are counted across the optimizers, so with a GAN's two the log line and the report said "param
    group 0 (group 1 at 0.5x of it)" of what are two optimizers: they now say ``group 1 'optimizer 1'``.
    """
    if len(optimizers) < 2:
        return tuple(names)
    labels = [
        f"optimizer {k}" if len(opt.param_groups) == 1 else f"optimizer {k} group {j}"
        for k, opt in enumerate(optimizers)
        for j in range(len(opt.param_groups))
    ]
    return tuple(label if name is None else name for name, label in zip(names, labels, strict=True))


class LRFinder(_CallbackBase):
    """Find the learning rate at the start of ``fit``, then train with it in the same ``fit``.

    At ``on_train_start`` (the train dataloader is ready, nothing has been trained yet) the
    callback sweeps the LR of every optimizer of the module from ``min_lr`` to ``max_lr`` over
    ``num_steps`` optimizer steps, one step per ``accumulate_grad_batches`` micro-batches (a
    ``GradientAccumulationScheduler``'s value for the first epoch when there is one, warned where a later epoch
    of the fit changes it: the LR found is for the first epoch's effective batch; under manual
    optimization the batches ``training_step`` takes to step an optimizer, so accumulation by hand
    counts too), and records the loss (mean over the micro-batches and over ranks). It then restores the weights,
    buffers, optimizer and scheduler states, RNGs and data order in memory (no file is written),
    and applies the result:

    * the module's LR attribute (``attr_name``, or the first of ``lr``, ``hparams.lr``,
      ``learning_rate``, ``hparams.learning_rate`` that exists and is not a read-only property, else
      the ``lr`` or ``learning_rate`` of a nested hyper-parameter, ``hparams.optim["lr"]``, when the
      module holds one such and ``configure_optimizers`` reads it; of several, none is guessed and a
      warning names them) is
      set to the LR, with every other
      holder of its name (``self.lr`` and ``self.hparams.lr``: checkpoints and the loggers'
      hyper-parameters carry it), and ``configure_optimizers`` is run again, so optimizers and
      schedulers built from it (OneCycleLR's ``max_lr``, CyclicLR's bounds, a warm-up) use it
      for the whole run;
    * under the module's own OneCycleLR or CyclicLR the LR put in is the cycle's peak,
      ``result.training_suggestion.max_lr`` (the divergence LR / 5 under the default rule,
      never below ``result.lr``), the same peak as ``scheduler="onecycle"`` and ``lrfind fit``;
      otherwise ``result.lr`` (divergence / 10 under the default rule);
    * when the rebuilt optimizers do not carry the LR (no attribute, or a hard-coded LR),
      every LR of every param group and every scheduler (``base_lrs``, OneCycleLR's
      ``max_lr``/``min_lr``, CyclicLR's ``base_lr``/``max_lrs``, and the floors a schedule
      anneals to: CosineAnnealingLR's and CosineAnnealingWarmRestarts' ``eta_min``,
      ReduceLROnPlateau's ``min_lrs``) is multiplied by one common factor, so the ratios between
      groups and optimizers, and the schedule's shape, are kept (a floor left absolute ended
      above a lower found LR: the cosine climbed to it); when the attribute drives only some
      groups (the others' LRs set by hand), each group's LRs are moved to the found LR times the
      ratio the test swept it at, with a warning (a single ``eta_min`` over groups moved by
      different factors is left as it is);
    * a floor still above the LR a schedule starts from (``eta_min=1e-3`` written next to
      ``lr=self.lr``, and a found LR below it) is warned about, not changed: the fit runs what
      it would with that LR set by hand;
    * with ``optimizer=``, the training optimizer (and ``scheduler=``, its schedule) come from
      :func:`lrfinder.optimizers.create_optimizer` / :func:`lrfinder.schedulers.create_scheduler`
      instead of the module's own; ``scheduler=`` alone schedules the module's own optimizer.

    The reference LR is the one of the param group with the largest LR (for a group under
    OneCycleLR/CyclicLR, its peak): the found LR goes there, the others keep their ratio to it.
    The LR attribute holds the value ``configure_optimizers`` turns into those LRs: the found LR
    when it sets the reference group, the found LR / 10 when that group is a head at
    ``self.lr * 10`` (and a group it drives at a fraction, e.g. ``self.lr`` beside a hard-coded
    larger LR, gets the found LR times that fraction), so the attribute, ``hparams``, the logged
    value and a module rebuilt from a checkpoint's hyper-parameters all train as this fit does.
    :attr:`applied_lr` is the reference group's LR.

    An inconclusive curve warns once (rank zero) and keeps the module's own LR; with
    ``strict=True`` it raises :class:`~lrfinder.InconclusiveCurveError`. A fit resumed from
    ``ckpt_path`` skips the test (with a warning), so the resumed state is never disturbed; when
    the checkpoint's fit applied an LR (:attr:`applied_lr` is saved with the callback's state),
    the module's LR attribute is set to it, as the restored optimizer trains with it, and the
    ``batch_size`` attribute to the per-device batch it set for ``target_batch_size``; with
    ``optimizer=`` that optimizer (and ``scheduler=``'s schedule) is built again before Lightning
    restores their states into it. A checkpoint written before the first training step with no
    test result in it (``OnExceptionCheckpoint`` on an error or Ctrl-C during the test; one
    requested during the test, such as Lightning's SLURM requeue checkpoint, is written when the
    test's state has been put back) holds the fit's starting state: resumed from it, the test runs. ``fit``
    called again on the same Trainer (no ``ckpt_path``) runs the test again, on the weights as
    they are: Lightning rebuilds the optimizers from ``configure_optimizers`` there anyway, and a
    second stage (a backbone unfrozen) is what it is for; resume from a checkpoint to go on without it.
    Lightning's ``BatchSizeFinder`` (which restores its own start-of-fit checkpoint) is no
    resume: the test runs after it, at the batch size it found.

    Args:
        min_lr: First LR of the sweep (> 0).
        max_lr: Last LR of the sweep (> ``min_lr``).
        num_steps: Optimizer steps planned (>= 10); a short dataloader is cycled.
        mode: ``"exp"`` (even in log LR) or ``"linear"``.
        stop_factor: Divergence threshold (> 1) of :class:`~lrfinder.DivergenceMonitor`;
            ``None`` runs every step (a non-finite loss still stops the test).
        rule: How the suggestion is picked (:func:`lrfinder.analyze`).
        scaling: ``"auto"``, ``"linear"``, ``"sqrt"``, ``"noise"`` or ``"none"``: how the LR
            found at the test's effective batch size moves to the training one
            (:func:`lrfinder.scale_lr`; ``"auto"`` is ``"noise"`` when the noise scale was measured conclusively,
            else ``"linear"`` or ``"sqrt"`` by optimizer).
        target_batch_size: Effective batch size to scale to and train at; default the fit's
            own (per-device batch x world size x ``accumulate_grad_batches``). When it differs,
            a ``batch_size`` attribute of the module or datamodule (or their ``hparams``) is
            set and the train loader rebuilt, as ``BatchSizeFinder`` does (and
            ``configure_optimizers`` run again, for schedules sized from
            ``trainer.estimated_stepping_batches``); without one the fit
            stops (``ValueError`` naming both sizes) rather than train with an LR scaled for
            a batch it does not use. Several train loaders (a list or dict) count when they
            share a batch size; when the loaders do not say it (different sizes, a custom batch
            sampler) the batch the test drew is checked, after the test. With ``scheduler=``,
            the warm-up the scaling advises (:attr:`lrfinder.ScaledLR.warmup_epochs`) is built in,
            each epoch counted in its own optimizer steps (a ``GradientAccumulationScheduler``'s
            accumulation for that epoch), rising from the unscaled LR; none before ``onecycle``
            and ``cyclic``, which climb on their own (:func:`lrfinder.schedulers.advised_warmup`);
            a train loader without ``len`` has no epochs to count, so it gets a warning naming
            ``warmup_steps`` instead. A ``warmup_steps`` in ``scheduler_settings`` replaces the
            advised warm-up (rising from 0 unless ``warmup_start_factor`` says otherwise).
        test_batch_size: Per-device batch size of the test (smaller is cheaper); the loader is
            rebuilt from the same dataset, sampler and collate function. A larger one is allowed too: the
            test runs at it and the LR is scaled down to the training batch by ``scaling``. One above the
            examples each device's loader holds is capped at them (warned): the test runs at that batch; with
            ``drop_last=True`` it is refused (no batch left).
        optimizer: Registry name (or class) of the optimizer to test and train with, built by
            :func:`lrfinder.optimizers.create_optimizer` over the module; default the module's.
            From LightningCLI or a YAML config a class path (``torch.optim.AdamW``) gives the class.
            The module's LR schedulers go with its optimizer (``scheduler=`` builds the new
            one); that is warned under manual optimization, where ``training_step`` steps them,
            and without ``scheduler=`` (training then runs at a constant LR). With a
            ``BaseFinetuning`` callback in the fit (``BackboneFinetuning``), over the parameters
            it has not frozen: it adds the others as a group of their own when it unfreezes them.
        optimizer_settings: Keyword settings for ``optimizer`` (``weight_decay``, ...).
        scheduler: Registry name of the LR schedule to train with, built by
            :func:`lrfinder.schedulers.create_scheduler` from the found LR and the suggestion
            over the fit's optimizer steps (``trainer.estimated_stepping_batches``; with a
            ``GradientAccumulationScheduler``, or under manual optimization that accumulates by
            hand, each epoch's batches / its micro-batches per step, rounded up, capped by
            ``max_steps``; in a second ``trainer.fit`` of the same Trainer, the steps left from
            where its loop stands). Over the ``optimizer`` built or, without one, over the one
            optimizer ``configure_optimizers`` returns (refused, naming ``optimizer=``, where it
            returns a scheduler of its own or under manual optimization); a fit resumed from
            ``ckpt_path`` continues the checkpoint's schedule. A train loader reloaded at another length
            (``reload_dataloaders_every_n_epochs``) is warned about: the schedule was sized from
            the first; a fit resumed from ``ckpt_path`` that takes more steps than the restored
            one-cycle schedule has left is refused before it trains. ``"plateau"`` on a
            ``val...`` metric steps once after each validation (``check_val_every_n_epoch``, or
            ``val_check_interval`` batches with ``check_val_every_n_epoch=None``); validation it
            cannot step after (by the clock, or out of step with the epochs) is refused before the
            test. Beside ``BackboneFinetuning``, a warm-up still running when it unfreezes the
            backbone is refused before training.
        scheduler_settings: Keyword settings for ``scheduler``.
        attr_name: The module attribute holding the LR (dotted, e.g. ``"hparams.lr"``); a name
            the module lacks is looked up in its ``hparams`` (``"learning_rate"`` finds
            ``hparams.learning_rate``, as Lightning's tuner does; ``"optim.lr"`` finds
            ``hparams.optim["lr"]``). ``False`` sets no attribute: the module and its ``hparams``
            keep their values and the optimizers' LRs are rescaled to the found LR.
        monitor: Under manual optimization (warned and unused under automatic optimization,
            where the curve is the returned loss), the key logged with ``self.log`` that holds the
            loss, when ``training_step`` does not return it. A call that does not log it (a GAN's
            discriminator batch) gives no loss; the next batch runs at the same LR.
        report: Path of a PNG report (:func:`lrfinder.report.save_report`), written by rank zero. One it cannot
            write (under a file, in a directory that takes no new file) stops the fit with a ``ValueError`` before
            the test runs.
        strict: Raise instead of warning when the curve is inconclusive.
        refine: ``True`` or a :class:`lrfinder.Refine`: after the sweep, round 2 of
            :mod:`lrfinder.refine` as in the engine: when the reading calls for it (still falling
            at ``max_lr``, never clearly falling, too narrow a falling region) up to
            ``Refine.max_resweeps`` extra sweeps (:func:`lrfinder.refine.next_sweep`), each in the
            isolation and reduced over ranks as the first one, recorded in
            ``result.refinement.rounds``; the re-sweep's reading is used. Then short annealed
            trials at a few LRs around the curve's reading with the
            module's own ``training_step``, each from the exact restored state, and train at the
            one with the lowest held-out loss (``result.refinement``; ``result.lr`` is refined,
            then scaled). Judged on the first ``Refine.val_batches`` batches of the fit's
            validation loader, or without one on held-out training batches the trials do not
            train on. ``training_steps`` defaults to the fit's optimizer steps
            (``trainer.estimated_stepping_batches``, counting a ``GradientAccumulationScheduler``'s
            accumulation in every epoch; in a second ``trainer.fit`` of the same Trainer, the
            steps left from where its loop stands, as ``scheduler=``);
            the schedule is ``scheduler=`` or the module's own OneCycleLR (``"onecycle"``) or
            CosineAnnealingLR (``"cosine"``), else ``"constant"`` (a ``Refine`` whose schedule
            is not ``"constant"`` keeps its own). The trials spend at most
            :func:`lrfinder.refine.default_budget` of the fit (10% of a fit of 2,000 steps or
            more, at least 200 steps) unless ``Refine.budget`` says otherwise (the re-sweeps come
            on top). Trials under automatic optimization only. Under DDP every rank applies rank
            0's pick (held-out losses are averaged over ranks first).
        noise_scale: Measure the gradient noise scale (the critical batch) during the test
            (:mod:`lrfinder.noise`). Under DDP (automatic optimization) from each rank's own
            micro-batch gradient against the all-reduced one, on every step up to the loss
            minimum (source ``"ranks"``: free, McCandlish et al.'s appendix A); on one device
            with ``accumulate_grad_batches > 1`` from the micro-batches (``"accumulation"``);
            otherwise (and under manual optimization, ``SyncBatchNorm`` or other strategies)
            from blocks of consecutive steps at the flat start of the sweep (``"steps"``, the
            global batch).
            It only reads the gradients. ``scaling="auto"`` then uses the ``noise`` rule.
        curve: The loss each step records, the curve read: ``"train"`` (default), the step's training loss;
            ``"val"``, after each step the mean of ``training_step``'s loss over the first ``val_batches``
            batches of the fit's (first) validation loader (the same batches every step, in eval mode without
            gradients, as ``refine`` judges its trials; under DDP the mean over every rank's shard, so every
            rank reads the same curve), as ``range_test(curve="val")`` does; ``result.settings.curve``, the
            report's axis and the saved result say so. ``validation_step`` and the ``on_validation_*`` hooks do
            not run, and nothing is logged, so ``EarlyStopping``/``ModelCheckpoint`` on ``val_loss`` see only the
            fit's own validation. A fit without a validation loader (Lightning loads none for a module without
            ``validation_step``), and manual optimization (whose ``training_step`` steps the optimizers itself), are
            refused before the test.
        val_batches: Validation batches ``curve="val"`` records the loss over (default 8, as
            ``Refine.val_batches``; an int >= 1); another count without ``curve="val"`` is refused.

    Attributes:
        result: The :class:`~lrfinder.RangeTestResult` (with its suggestion and the scaling
            applied) after the test ran in this process; ``None`` before, or when skipped.
        applied_lr: The LR that training uses (its reference group's), ``None`` when the
            module's own LR was kept.

    Raises:
        ValueError: An option out of range (named, with the value).
        TypeError: An option of the wrong type.

    Note:
        * The test runs at ``on_train_start``: callbacks listed before ``LRFinder`` whose
          ``on_train_start`` reads the optimizers see them before the LR is applied; list
          ``LRFinder`` first when that matters. The module's own ``on_train_start`` and
          ``on_train_epoch_start`` run after it, and its ``on_train_batch_start`` and
          ``on_train_batch_end`` do not run for the test's batches: what ``training_step`` reads is
          made in ``__init__`` or ``setup()`` (a missing attribute is a ``ModelError`` saying so).
        * Under ``ddp_spawn`` (and ``ddp_notebook``, a notebook's DDP) the test runs in the worker
          processes: :attr:`result`, :attr:`applied_lr` and the module's LR attribute are set there. The main process
          gets the ``lr_finder/*`` values in ``trainer.callback_metrics`` (and the report and
          logger files); ``strategy="ddp"`` keeps everything in the launching process.
        * The test (and ``refine``'s trials) runs each submodule in the mode it is in when training
          starts, as Lightning trains it: a frozen backbone left in eval mode stays so.
        * User callbacks do not see the test's backward and optimizer-step hooks, and the
          test's ``self.log`` calls are captured (that is how ``monitor`` is read), never
          logged.
        * Under automatic optimization the test steps through ``strategy.optimizer_step`` (the
          precision plugin, clipping), not an ``optimizer_step`` the module overrides: a warm-up
          written there (Lightning's recipe, setting each group's ``lr`` after the step) would
          overwrite the swept LR. The module's ``optimizer_zero_grad``, ``on_before_backward``,
          ``on_after_backward``, ``on_before_optimizer_step`` and ``configure_gradient_clipping`` run.
        * ``result.settings`` (the report's header, the saved result) records the gradient clipping
          the test ran with, as Lightning did it: the Trainer's ``gradient_clip_val``, a
          ``configure_gradient_clipping`` of the module's own, or ``self.clip_gradients(...)``
          called by hand in a manual ``training_step``. Clipping done with torch directly
          (``torch.nn.utils.clip_grad_norm_``) still happens in the test but is not recorded.
        * Checked before the test: ``attr_name`` (it exists and can be set) and ``target_batch_size``. ``max_steps`` or
          ``limit_train_batches`` smaller than the test give a warning: the test still runs
          its ``num_steps`` over the whole train loader (its steps are not training).
        * One ``LRFinder`` per Trainer: its result is saved in checkpoints under one state key
          (``"LRFinder"``), and Lightning refuses two stateful callbacks with the same key at
          ``Trainer(...)`` (``RuntimeError: Found more than one stateful callback of type LRFinder``).
        * LightningCLI: ``--trainer.callbacks+=lrfinder.LRFinder
          --trainer.callbacks.num_steps=50``, or ``class_path: lrfinder.LRFinder`` in the
          YAML config.

    Example:
        >>> trainer = pl.Trainer(max_epochs=3, callbacks=[LRFinder(num_steps=100)])  # doctest: +SKIP
        >>> trainer.fit(model, datamodule=dm)  # doctest: +SKIP
        >>> trainer.callbacks[0].result.suggestion.lr  # doctest: +SKIP

    """

    # A callback moved from Lightning's LearningRateFinder (num_training_steps=, early_stop_threshold=,
    # update_attr=) is answered with lrfinder's names, as range_test and find_lr answer them.
    @peer_hints
    def __init__(
        self,
        *,
        min_lr: float = 1e-7,
        max_lr: float = 10.0,
        num_steps: int = 100,
        mode: SweepMode | str = "exp",
        stop_factor: float | None = 4.0,
        rule: Rule | str = DEFAULT_RULE,
        scaling: ScalingRule | str = "auto",
        target_batch_size: int | None = None,
        test_batch_size: int | None = None,
        optimizer: type[Optimizer] | str | None = None,
        optimizer_settings: Mapping[str, Any] | None = None,
        scheduler: str | None = None,
        scheduler_settings: Mapping[str, Any] | None = None,
        attr_name: Literal[False] | str | None = None,
        monitor: str | None = None,
        report: str | os.PathLike[str] | None = None,
        strict: bool = False,
        noise_scale: bool = False,
        refine: bool | Refine = False,
        curve: Curve | str = "train",
        val_batches: int = VAL_BATCHES,
    ) -> None:
        super().__init__()
        if refine is not None and not isinstance(refine, (bool, Refine)):
            raise TypeError(f"Expected refine to be a bool or a lrfinder.Refine, but got {type(refine).__name__}")
        self.settings = validate_settings(
            min_lr=min_lr, max_lr=max_lr, num_steps=num_steps, mode=mode, stop_factor=stop_factor
        )
        check_curve(curve)
        val_batches = plain(val_batches)
        check_val_batches(val_batches)
        if val_batches != VAL_BATCHES and curve != "val":
            raise ValueError(
                f"Expected curve='val' with val_batches={val_batches!r}, but got curve={curve!r}: val_batches is the "
                "number of the fit's validation batches curve='val' records the loss over (refine's trials take "
                "theirs from Refine(val_batches=...)). Pass curve='val' as well, or leave val_batches out."
            )
        self.settings = replace(self.settings, curve=cast(Curve, curve))
        self.val_batches = int(val_batches)
        check_rule(rule)
        if not is_choice(scaling, SCALING_RULES):
            raise ValueError(
                f"Expected scaling to be one of {', '.join(SCALING_RULES)}, but got scaling={scaling!r}."
                + did_you_mean(scaling, SCALING_RULES)
            )
        target_batch_size, test_batch_size = plain(target_batch_size), plain(test_batch_size)
        for name, value in (("target_batch_size", target_batch_size), ("test_batch_size", test_batch_size)):
            if value is not None and (not is_int(value) or value < 1):
                raise ValueError(f"Expected {name} to be a positive int or None, but got {name}={value!r}")
        # Their type first: an array's truth value below was numpy's 'ambiguous' error.
        for map_name, settings in (
            ("optimizer_settings", optimizer_settings),
            ("scheduler_settings", scheduler_settings),
        ):
            if settings is not None and not isinstance(settings, Mapping):
                raise TypeError(
                    f"Expected {map_name} to be a mapping of setting names to values (e.g. {{'weight_decay': 1e-4}}) "
                    f"or None, but got {map_name}={settings!r}"
                )
        if scheduler_settings and scheduler is None:
            raise ValueError("Expected scheduler to be set when scheduler_settings are given, but got scheduler=None")
        if optimizer_settings and optimizer is None:
            raise ValueError("Expected optimizer to be set when optimizer_settings are given, but got optimizer=None")
        from .schedulers import own_setting

        # Keys the callback passes itself: given again, Python's "got multiple values for keyword argument".
        for map_name, settings, own in (
            ("optimizer_settings", optimizer_settings, {"lr": "the LR is the one the range test finds",
                                                         "lr_group": "the found LR goes to the largest group"}),
            ("scheduler_settings", scheduler_settings, {"total_steps": "the schedule spans the fit's optimizer steps",
                                                         "suggestion": "the suggestion is the range test's"}),
        ):
            # torch's T_max for the length was refused as a setting cosine does not take ("it accepts: eta_min").
            found = own_setting(settings or {}, own)
            if found is not None:
                key, meant, why = found
                also = f" ({why})" if why else ""
                raise ValueError(f"Expected {map_name} without {key!r}{also}: LRFinder sets it, as {own[meant]}")
        if optimizer is not None:
            from .optimizers import check_optimizer_settings, get_optimizer_spec, stand_in_refusal

            if isinstance(optimizer, torch.optim.Optimizer):
                # Its repr cut at 60 characters ("SGD (\nParameter Group 0\n    dampening: 0 ...") was the message.
                cls = type(optimizer)
                name = cls.__name__
                path = f"torch.optim.{name}" if getattr(torch.optim, name, None) is cls else f"{cls.__module__}.{name}"
                raise TypeError(
                    f"Expected optimizer to be a registry name such as 'adamw', a torch.optim.Optimizer class or None, "
                    f"but got {name}(...), an optimizer already built: LRFinder builds it over the module's parameters "
                    f"when the fit starts. Pass its class, optimizer={path}, with its "
                    "settings in optimizer_settings={...} (no lr: the LR is the one the test finds), or leave "
                    "optimizer=None to test the one the module's configure_optimizers returns."
                )
            if not isinstance(optimizer, (str, type)):
                raise TypeError(
                    "Expected optimizer to be a registry name such as 'adamw', a torch.optim.Optimizer class or None, "
                    f"but got optimizer={optimizer!r:.60}"
                )
            if isinstance(optimizer, type) and not issubclass(optimizer, Optimizer):
                # get_optimizer_spec's "Expected a torch.optim.Optimizer subclass, but got name=<class ...>" named
                # a parameter LRFinder does not have.
                raise TypeError(
                    "Expected optimizer to be a registry name such as 'adamw', a torch.optim.Optimizer class or None, "
                    f"but got optimizer={optimizer.__module__}.{optimizer.__qualname__}, a class that is no "
                    "torch.optim.Optimizer."
                    + (
                        " It is an LR scheduler: pass a registry name as scheduler= (scheduler='step'), or return it "
                        "from configure_optimizers."
                        if _is_scheduler_class(optimizer)
                        else ""
                    )
                )
            # An unknown name, a non-optimizer class, a misspelt setting or a value of the wrong type or range
            # (betas of three, momentum=1.5) fails here, not at fit start.
            check_optimizer_settings(get_optimizer_spec(optimizer), optimizer_settings or {}, groups=True)
            refusal = stand_in_refusal(optimizer, optimizer_settings or {})
            if refusal is not None:
                raise refusal
        if isinstance(scheduler, type):
            # "Unknown scheduler=<class 'torch.optim.lr_scheduler.StepLR'>; expected one of constant, ..." said
            # neither that a class is not taken nor where the module's own schedule goes.
            from .schedulers import SCHEDULERS

            raise TypeError(
                f"Expected scheduler to be a registry name ({', '.join(SCHEDULERS)}) or None, but got the class "
                f"{scheduler.__module__}.{scheduler.__qualname__}: LRFinder builds its schedule from the registry at "
                "the found LR, with its settings in scheduler_settings={...}. A scheduler of your own is returned "
                "from configure_optimizers (with scheduler=None), and takes the found LR from there."
            )
        if scheduler is not None:
            from .schedulers import _get_spec, check_scheduler_settings, schedule_refusal

            # "Cosine" is kept as "cosine": the fit's checks compare the stored name ("plateau", "cosine").
            scheduler = scheduler_name(scheduler)
            _get_spec(scheduler, "scheduler")  # an unknown name fails here, not at fit start
            # The warm-up too: the advised warm-up's warning on a loader without length asks for warmup_steps here.
            check_scheduler_settings(scheduler, scheduler_settings or {}, warmup=True)
            # A value no fit makes right (pct_start=0, warmup_steps=-1) failed at fit start, after the Trainer's setup;
            # one judged against the fit's length, optimizer or curve still is, before the test (_check_schedule).
            refusal = schedule_refusal(scheduler, scheduler_settings or {})
            if refusal is not None:
                said = f"LRFinder(scheduler={scheduler!r}, scheduler_settings=...): {refusal}"
                raise type(refusal)(said) from refusal
        if report is not None:
            if not isinstance(report, (str, os.PathLike)):
                raise TypeError(
                    f"Expected report to be a file path (e.g. 'lr-report.png') or None, but got report={report!r}"
                )
            from .report import report_format

            report_format(report)
        if attr_name is not False and attr_name is not None and (not isinstance(attr_name, str) or not attr_name):
            raise TypeError(
                "Expected attr_name to be a non-empty str, False (set no attribute) or None, but got "
                f"attr_name={attr_name!r}"
            )
        if monitor is not None and (not isinstance(monitor, str) or not monitor):
            raise TypeError(f"Expected monitor to be a non-empty str or None, but got monitor={monitor!r}")
        check_flag("strict", strict)
        check_flag("noise_scale", noise_scale)
        if scaling == "noise" and not noise_scale:
            raise ValueError(
                "Expected noise_scale=True with scaling='noise' (the rule needs the measured critical batch), "
                "but got noise_scale=False"
            )
        self.rule = rule
        self.scaling = scaling
        self.target_batch_size = None if target_batch_size is None else int(target_batch_size)
        self.test_batch_size = None if test_batch_size is None else int(test_batch_size)
        self.optimizer = optimizer
        self.optimizer_settings = dict(optimizer_settings or {})
        self.scheduler = scheduler
        self.scheduler_settings = dict(scheduler_settings or {})
        self.attr_name = attr_name
        self.monitor = monitor
        self.report = None if report is None else Path(report)
        self.strict = strict
        self.noise_scale = noise_scale
        self.refine: Refine | None = Refine() if refine is True else (refine or None)
        self.result: RangeTestResult | None = None
        self.applied_lr: float | None = None
        # The module's own LR that training went on with after an inconclusive test, for the report's header.
        self._kept_lr: float | None = None
        # The planned LR per step of the scheduler built with scheduler=, for the report.
        self._schedule_preview: Any = None
        # find_lr() sets this: test, restore, and stop the fit before its first step.
        self._find_only = False
        # The module's own optimizers and scheduler configs while optimizer= replaces them.
        self._replaced: tuple[list[Optimizer], list[Any]] | None = None
        # The scheduler= built under manual optimization, and its step count then: Lightning does not step it.
        self._unstepped: tuple[Any, int] | None = None
        # The train loader's batches an epoch and the optimizer steps scheduler= was sized to, while a reloaded
        # loader (reload_dataloaders_every_n_epochs) may change them.
        self._sized: tuple[int, int] | None = None
        # The param groups' LRs as the found LR was applied by rescaling (no attribute) under the module's own
        # optimizer_step, until the first training step shows whether optimizer_step set them to others.
        self._rescaled_lrs: list[list[Any]] | None = None
        # The module's hooks that may set the LR themselves (named in that warning).
        self._lr_setters: list[str] = []
        # The value put in the module's LR attribute (the applied LR, or what configure_optimizers scales to it).
        self._attr_value: float | None = None
        # Each LR attribute's holders and values as _apply began, put back where configure_optimizers fails again.
        self._lrs_before: list[tuple[Any, str, Any]] = []
        # The attribute that carries the LR (None: none does, the optimizers' LRs were rescaled), and whether the
        # checkpoint a resumed fit loaded said so (checkpoints of older versions did not).
        self._attr_used: str | None = None
        self._attr_known = True
        # The per-device batch set for target_batch_size (None when the fit's own was kept): a resumed fit needs it.
        self._batch_size: int | None = None
        # The keys training_step logged in this fit's range test, and its steps (None: no test ran in this fit).
        self._test_logged: tuple[frozenset[str], int] | None = None
        # Whether this fit reached on_train_start, where the test runs (a fit with no training batch does not).
        self._train_started = False
        # What the previous fit found (result, applied_lr, attribute, batch size), forgotten in setup: given back at the
        # end of a fit that trained nothing and resumed nothing (a second fit of a Trainer already done).
        self._previous: tuple[RangeTestResult | None, float | None, float | None, str | None, bool, int | None] | None
        self._previous = None

    if not TYPE_CHECKING:  # for type checkers the callback keeps its own attributes only: a misspelt one is caught

        def __getattr__(self, name: str) -> Any:
            """What to use for a name of Lightning's ``LearningRateFinder`` the callback lacks (``optimal_lr``).

            Only reached for a name the callback lacks; any other is Python's ``AttributeError``, so ``copy``,
            ``pickle``, ``hasattr`` and Lightning's own probes see no difference. Python also comes here when a
            property of the class (a subclass's included) raises ``AttributeError`` inside: that error is raised
            again as it was, by reading the property once more, not said to be the property's absence.
            """
            for klass in type(self).__mro__:
                if name in vars(klass):
                    found = vars(klass)[name]
                    if hasattr(found, "__get__"):
                        return found.__get__(self, type(self))
                    break
            said = _PEER_CALLBACK_NAMES.get(name)
            message = f"{type(self).__name__!r} object has no attribute {name!r}"
            raise AttributeError(message if said is None else f"{message}: {said}", name=name, obj=self)

    @property
    def _who(self) -> str:
        """What the user called, for messages: ``find_lr`` (a find-only run) or ``LRFinder``.

        ``find_lr(monitor=...)`` warned ``LRFinder(monitor=...)``, naming a callback its caller
        never built.
        """
        return "find_lr" if self._find_only else "LRFinder"

    @property
    def _leave_out(self) -> str:
        """The last way out a message offers: do without the finder for this module or fit."""
        return "do without find_lr for this module" if self._find_only else "leave LRFinder out of this fit"

    # ----------------------------------------------------------------------------------------
    # Hooks
    # ----------------------------------------------------------------------------------------

    # ``pl_module`` and ``stage`` have defaults only so that a Trainer given the class itself reaches the check
    # below: Lightning calls ``LRFinder.setup(trainer, module, stage=...)`` then, the Trainer taking ``self``'s place,
    # and Python's "setup() missing 1 required positional argument: 'pl_module'" was all it said. Lightning always
    # passes all three.
    @override
    def setup(
        self, trainer: either.Trainer, pl_module: either.LightningModule | None = None, stage: str | None = None
    ) -> None:
        """Forget what an earlier fit of this callback found, before a checkpoint's state is loaded.

        A fit resumed from a checkpoint that holds no ``LRFinder`` state (written without the
        callback) otherwise took the LR and batch size of the callback's previous fit for that
        checkpoint's: the attribute was set to an LR the restored optimizer does not train with.
        A fit that trains nothing and resumes nothing gets them back at its end (:meth:`on_fit_end`).

        Raises:
            TypeError: The Trainer was given the class, ``Trainer(callbacks=[LRFinder])``, not an instance.

        """
        _refuse_class_given(self)
        trainer, pl_module = _lightning.checked_as_pl(trainer, pl_module)
        if stage == "fit":
            self._previous = (
                self.result,
                self.applied_lr,
                self._attr_value,
                self._attr_used,
                self._attr_known,
                self._batch_size,
            )
            self.result = None
            self.applied_lr = None
            self._attr_value = None
            self._attr_used = None
            self._attr_known = True
            self._batch_size = None
            self._test_logged = None
            self._train_started = False

    @override
    def on_exception(
        self, trainer: either.Trainer, pl_module: either.LightningModule, exception: BaseException | None = None
    ) -> None:
        """Nothing to undo here: the range test restores its own state when it fails (see :meth:`on_train_start`).

        ``exception`` has a default for a Trainer given the class itself: Lightning calls this hook after
        :meth:`setup` refused it, with the Trainer in ``self``'s place, and Python's "on_exception() missing 1
        required positional argument: 'exception'" came last, under the refusal.
        """

    @override
    def on_fit_start(self, trainer: either.Trainer, pl_module: either.LightningModule) -> None:
        """Resuming a fit: the batch size it set for ``target_batch_size``, and the optimizer of ``optimizer=``.

        The ``batch_size`` attribute is set again (the module and datamodule are built anew, with
        their own) before the fit loop builds its train loader: the checkpoint's LR and optimizer
        state were found and scaled for that batch. Lightning restores the checkpoint's optimizer
        and scheduler states after this hook, into the optimizers the strategy holds: the module's
        own ``configure_optimizers`` ones, which are not the ones that fit trained with (a registry
        AdamW's state loaded into the module's SGD failed, or silently mixed them); with
        ``optimizer=`` that optimizer and schedule are built again, so the states load into the same
        kind of objects.
        """
        trainer, pl_module = _lightning.checked_as_pl(trainer, pl_module)
        if self._find_only or self.applied_lr is None or _resumed_from(trainer) is None:
            return
        if self._batch_size is not None:
            self._restore_batch_size(trainer, pl_module, self._batch_size)
        if self.optimizer is not None:
            self._install_optimizer(trainer, pl_module, self.applied_lr, with_scheduler=True, resumed=True)
        elif self.scheduler is not None:
            # The module's own optimizer, under the schedule the checkpoint's state (loaded next) continues.
            self._install_schedule(trainer, pl_module, self.applied_lr, resumed=True)

    def _check_resumed_cycle(self, trainer: pl.Trainer, pl_module: pl.LightningModule, resumed: str) -> None:
        """Refuse (one-cycle) or warn of (cosine, polynomial) a resumed fit longer than the restored schedule's end.

        Lightning restores the checkpoint's schedule with the length ``scheduler=`` sized it to for the checkpoint's
        fit. A fit resumed with a larger ``max_epochs`` or ``max_steps`` stepped a ``OneCycleLR`` past its end, and
        torch's "Tried to step 41 times. The specified number of total steps is 40" stopped the training there; a
        cosine or polynomial schedule trained the steps past its end at its last LR (``eta_min``; 0), silently.

        Raises:
            ValueError: A one-cycle schedule: the fit takes more optimizer steps than it has left.

        Warns:
            UserWarning: A cosine or polynomial schedule: the fit takes more optimizer steps than it has left.

        """
        if self.scheduler is None or self.applied_lr is None:
            return  # no schedule of ours: the module's own is the module's
        ends: list[tuple[int, int, Any]] = []  # (steps left, steps spanned, the sized schedule)
        for config in trainer.lr_scheduler_configs:
            found = _ending_schedule(config.scheduler)
            if found is not None:
                # The schedule takes the steps from `start` (after a warm-up) on: it steps to start + length.
                start, sized, now, length = found
                ends.append((start + length - now, start + length, sized))
        if not ends:
            return
        left, spans, ending = min(ends, key=lambda end: end[0])
        name, _ = _sized(ending) or ("sized", 0)
        total = _optimizer_steps(trainer, pl_module, _accumulation(trainer, pl_module))
        more = total - trainer.global_step
        if more <= left:
            return
        steps = f"{int(more)}" if math.isfinite(more) else "an unbounded number of"
        lengths = (
            f"the fit resumes from ckpt_path={resumed!r}, whose {name} schedule "
            f"spans {spans} optimizer steps with {max(left, 0)} left, but this fit takes {steps} more "
            f"(max_epochs={trainer.max_epochs}, max_steps={trainer.max_steps})"
        )
        fix = (
            "Resume with the max_epochs or max_steps of the checkpoint's fit, or start a new fit without ckpt_path "
            "(the range test then runs again and sizes a new schedule)."
        )
        if isinstance(ending, torch.optim.lr_scheduler.OneCycleLR):
            raise ValueError(
                f"{self._who}(scheduler={self.scheduler!r}): {lengths}: torch's OneCycleLR cannot step past its end. "
                + fix
            )
        floor = f"eta_min={ending.eta_min:.2e}" if name == "cosine" else "0"
        _lightning.warn(
            trainer,
            f"{self._who}(scheduler={self.scheduler!r}): {lengths}: the steps past its end train at its floor, "
            f"LR {floor}. {fix}",
        )

    def _restore_batch_size(self, trainer: pl.Trainer, pl_module: pl.LightningModule, per_device: int) -> None:
        """Set the per-device batch the resumed checkpoint's fit trained at, or say why it cannot be."""
        holders = _holders(trainer, pl_module, "batch_size")
        if not holders:
            _lightning.warn(
                trainer,
                f"{self._who}: the checkpoint's fit trained at batch_size={per_device} per device (set for "
                f"target_batch_size) with an LR scaled to it, but neither {type(pl_module).__name__} nor the "
                "datamodule has a batch_size attribute now: the resumed fit trains at its loader's batch. Give "
                "it a batch_size attribute that train_dataloader() reads, or make the train loader's batch "
                f"{per_device}.",
            )
            return
        if all(_get(h, "batch_size") == per_device for h in holders):
            return
        # configure_optimizers may have built the train loader already (trainer.estimated_stepping_batches).
        self._set_batch_size(trainer, pl_module, per_device)

    @override
    def on_train_start(self, trainer: either.Trainer, pl_module: either.LightningModule) -> None:
        """Run the range test before the first training step, restore, and apply the result."""
        trainer, pl_module = _lightning.checked_as_pl(trainer, pl_module)
        self._train_started = True
        if self._find_only:
            # find_lr's fit trains no step: Lightning's training bar, opened before this hook, is erased at its end.
            _lightning.erase_train_bar(trainer)
        resumed = _resumed_from(trainer)
        if resumed is not None and not self._find_only and self._before_training(trainer):
            # Written before the first training step with no result of a test (OnExceptionCheckpoint on an error or
            # Ctrl-C during the test, a checkpoint requested mid-test, which is deferred to its end): it holds the
            # fit's starting state, which the test leaves as it finds it. Skipping it trained at the module's LR.
            _lightning.info(
                trainer,
                f"{self._who}: the fit resumes from ckpt_path={resumed!r}, written before the first training step "
                "and before any range test had finished: the range test runs.",
            )
            resumed = None
        if resumed is not None and not self._find_only:
            self._check_resumed_cycle(trainer, pl_module, resumed)
            message = (
                f"{self._who}: the fit resumes from ckpt_path={resumed!r}; the range test is "
                "skipped so the resumed weights, optimizer, scheduler and loop state stay exactly as saved. To test "
                "again on its weights, load them (load_from_checkpoint) and fit without ckpt_path."
            )
            attr = self._find_attr(pl_module)
            if self._attr_known and self.attr_name is None:
                # The attribute that carried the checkpoint's LR, or none: an unrelated self.lr is left alone.
                used = self._attr_used
                attr = used if used is not None and _has_attr(pl_module, used) else None
            if self.applied_lr is not None and attr is not None:
                # The restored optimizer trains with the LR the checkpoint's fit found: say so in the attribute.
                value = self._attr_value if self._attr_value is not None else self.applied_lr
                _set_lr_everywhere(trainer, pl_module, attr, value)
                self._attr_value = value
                self._log_lr(trainer, pl_module, attr)
                message += f" {attr} is set to the value that fit gave it, {value:.2e}."
            if self._batch_size is not None and _holders(trainer, pl_module, "batch_size"):
                message += f" batch_size is {self._batch_size} per device, the batch that fit trained at."
                self._log_batch_size(trainer, pl_module, self._batch_size)
            _lightning.warn(trainer, message)
            return
        if trainer.fast_dev_run:  # type: ignore[attr-defined]
            message = f"{self._who}: skipped because fast_dev_run is enabled"
            # What the options would change is built from the found LR: the debug batches train without it, which
            # the bare "skipped" left the user to guess (a fast_dev_run to check optimizer='adamw' ran SGD).
            options = self._built_at_found_lr(batch=True)
            if options:
                own = ", ".join(type(o).__name__ for o in trainer.optimizers) or "none"
                message += (
                    f": its batches train with the module's own configure_optimizers ({own}), LR and batch size, "
                    f"not with {', '.join(options)}, which are built from the LR the test finds. Run without "
                    "fast_dev_run to train with them"
                )
            _lightning.warn(trainer, message + ".")
            return
        self.applied_lr = None
        self.result = None
        self._attr_value = None
        self._attr_used = None
        self._batch_size = None
        self._replaced = None
        self._unstepped = None
        self._sized = None
        self._rescaled_lrs = None
        # Everything that can be checked before the test is checked before it.
        if self.report is not None and trainer.is_global_zero:
            from ._atomic import unwritable

            reason = unwritable(str(self.report))
            if reason is not None:
                # Found when the report was written, after the whole test and with its LR applied: the fit failed then.
                raise ValueError(f"{self._who}: report: {reason} (or report=None for none)")
        accumulate = trainer.accumulate_grad_batches
        if isinstance(accumulate, Mapping):
            # Lightning 1.x's form, which Lightning 2 stores without a word and fails on at the first training batch
            # ("unsupported operand type(s) for %: 'int' and 'dict'"); the test failed on it with int()'s TypeError.
            package = _lightning.package_of(trainer).__name__
            raise ValueError(
                f"{self._who}: Trainer(accumulate_grad_batches={accumulate!r}) takes a number of batches; an "
                "accumulation by epoch, {epoch: batches}, was Lightning 1's form, which Lightning 2 fails on at the "
                f"first training batch. Pass callbacks=[GradientAccumulationScheduler(scheduling={accumulate!r})] "
                f"(from {package}.callbacks) and leave accumulate_grad_batches at 1: the test then accumulates as "
                "the first epoch does."
            )
        if isinstance(accumulate, int) and not isinstance(accumulate, bool) and accumulate < 1:
            # Lightning stores it as given (0 fails at the first training batch with ZeroDivisionError); the test's
            # own check named range_test's accumulate_steps, an option this fit never had.
            raise ValueError(
                f"{self._who}: Expected Trainer(accumulate_grad_batches=...) to be an int >= 1 (the batches each "
                f"optimizer step accumulates), but got accumulate_grad_batches={accumulate}. Leave it at 1 for no "
                "accumulation."
            )
        if not self._find_only and _lightning.fit_combine_mode(trainer) == "sequential":
            # Lightning refused it only at the first training epoch: after the whole test, the found LR applied.
            raise DataError(
                f"{self._who}: the train loader is a CombinedLoader(mode='sequential'), which Lightning's fit does "
                "not train with (it refuses it at the first epoch, after the range test). Combine the loaders in a "
                "mode the fit trains with: CombinedLoader(loaders, mode='max_size_cycle') (Lightning's default), "
                "'min_size' or 'max_size'. find_lr(...) alone, which trains nothing, runs the range test over them "
                "in sequence."
            )
        attr = None if self._find_only else self._find_attr(pl_module)
        if attr is None and not self._find_only and self.attr_name is not False:
            self._warn_lr_not_a_number(trainer, pl_module)
            self._warn_nested_lrs(trainer, pl_module)
        train_batch = None if self._find_only else self._training_batch_size(trainer, pl_module)
        self._warn_limits(trainer, pl_module)
        lightning_callbacks = _lightning.package_of(trainer).callbacks
        callbacks = trainer.callbacks  # type: ignore[attr-defined]
        lr_finders = [c for c in callbacks if isinstance(c, lightning_callbacks.LearningRateFinder)]
        if not self._find_only and lr_finders:
            self._warn_learning_rate_finder(trainer, lr_finders[0])
        if train_batch is not None and any(isinstance(c, lightning_callbacks.BatchSizeFinder) for c in callbacks):
            found = _loader_batch_size(trainer.train_dataloader)
            found_batch = str(found) if found is None else format_batch(found)
            _lightning.warn(
                trainer,
                f"{self._who}: Lightning's BatchSizeFinder found a batch of {found_batch} per device, and "
                f"target_batch_size={self.target_batch_size} replaces it with {format_batch(train_batch)} per device "
                f"for training (the test runs at {found_batch}). "
                + ("That is more than BatchSizeFinder found to fit in memory. " if train_batch > (found or 0) else "")
                + "Keep one of the two: leave target_batch_size=None to train at BatchSizeFinder's batch.",
            )
        try:
            result = self._run_test(trainer, pl_module)
        except BaseException:
            if self._replaced is not None:
                # optimizer= put a registry optimizer in the fit for the test: the module's own go back, so what the
                # failed fit saves (OnExceptionCheckpoint) holds them. Its checkpoint held the registry optimizer's
                # state, which the fit resumed from it failed to load ("different number of parameter groups").
                trainer.strategy.optimizers, trainer.strategy.lr_scheduler_configs = self._replaced
            raise
        self.result = result
        self._schedule_preview = None
        self._kept_lr = None
        self._publish(trainer, result)
        try:
            self._use_result(trainer, pl_module, result, attr, train_batch)
        finally:
            # Written last, so it shows the schedule the callback built (if any).
            self._write_report(trainer, result)

    def _before_training(self, trainer: pl.Trainer) -> bool:
        """Whether the fit's state is from before any training step, with no test result (a resumed fit's too)."""
        return self.result is None and trainer.global_step == 0 and trainer.current_epoch == 0

    def _warn_learning_rate_finder(self, trainer: pl.Trainer, other: Any) -> None:
        """Say that Lightning's ``LearningRateFinder`` is in the fit too, and which LR training runs at.

        Lightning's runs its test at fit start, before LRFinder's, whose LR then replaces the one it
        set. A subclass that runs ``lr_find`` from a hook of the training loop instead (Lightning's
        fine-tuning recipe: at the start of chosen epochs, with ``on_fit_start`` emptied) runs after
        LRFinder's test, and training runs at the LR it sets: the warning said LRFinder's won. Before
        Lightning 2.6 (seen in 2.4 and 2.5) its ``lr_find`` sets the module's LR attribute only and puts
        the optimizer back as it was, so training runs at LRFinder's LR and the attribute says another.
        """
        package = _lightning.package_of(trainer)
        overridden = package.utilities.model_helpers.is_overridden
        base = package.callbacks.LearningRateFinder
        later = [h for h in _AFTER_THE_TEST_HOOKS if overridden(h, other, parent=base)]
        if not later:
            _lightning.warn(
                trainer,
                f"{self._who}: Lightning's LearningRateFinder is in this fit too; LRFinder runs after it, so its LR "
                "replaces the one LearningRateFinder set. Keep one of the two.",
            )
            return
        hooks = " and ".join(later)
        if _lightning.release(package) >= (2, 6):
            effect = (
                "the LR it sets replaces the one LRFinder applied, and training runs at that LR, not at the LR "
                "LRFinder applied (finder.applied_lr)"
            )
        else:  # its lr_find puts the optimizer back from the checkpoint it saved, after setting the attribute
            effect = (
                f"under Lightning {package.__version__} it sets the module's LR attribute to its own suggestion but "
                "leaves the optimizer's LR as it was, so training runs at the LR LRFinder applied (finder.applied_lr) "
                "while the attribute says another"
            )
        _lightning.warn(
            trainer,
            f"{self._who}: {type(other).__name__}, a Lightning LearningRateFinder, is in this fit too, and its {hooks} "
            f"run{'s' if len(later) == 1 else ''} after LRFinder's test: where it runs lr_find there (as Lightning's "
            f"fine-tuning recipe does at the start of chosen epochs), {effect}. Keep one of the two.",
        )

    def _built_at_found_lr(self, *, batch: bool = False) -> list[str]:
        """``optimizer=``, ``scheduler=`` (and, with ``batch``, ``target_batch_size=``) as given, where given.

        They are built from the LR the test finds: a fit that trains without it trains without them.
        """
        named: dict[str, Any] = {"optimizer": self.optimizer, "scheduler": self.scheduler}
        if batch:
            named["target_batch_size"] = self.target_batch_size
        return [f"{k}={v.__name__ if isinstance(v, type) else repr(v)}" for k, v in named.items() if v is not None]

    def _use_result(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, result: RangeTestResult, attr: Any, train_batch: Any
    ) -> None:
        if self._find_only:
            trainer.should_stop = True
            return
        if result.lr is None:
            if self._replaced is not None:
                # optimizer= swapped in a registry optimizer for the test: give the module its own back.
                trainer.strategy.optimizers, trainer.strategy.lr_scheduler_configs = self._replaced
            # What training runs at instead (a cycle's peak, as applied_lr would be), said and for the report to say.
            kept = _base_lrs(trainer.optimizers, trainer.lr_scheduler_configs)
            kept_lr = max(kept, default=None)
            said = "" if kept_lr is None else f", {'up to ' if len(set(kept)) > 1 else ''}{kept_lr:.2e}"
            message = (
                f"{self._who}: the range test was inconclusive: {sentence(result.error)} Training goes on with the "
                f"module's own learning rate{said}."
            )
            if self.strict:
                raise InconclusiveCurveError(message + " (strict=True)")
            # What was asked to be built at the found LR is not: said, not dropped without a word.
            unbuilt = self._built_at_found_lr()
            if unbuilt:
                message += (
                    f" {' and '.join(unbuilt)} {'are' if len(unbuilt) > 1 else 'is'} not built: "
                    f"{'they start' if len(unbuilt) > 1 else 'it starts'} from the found LR, and the test found none."
                )
            self._kept_lr = kept_lr
            _lightning.warn(trainer, message)
            return
        accumulate = result.settings.accumulate_steps
        unknown = _loader_batch_size(trainer.train_dataloader) is None
        if (not pl_module.automatic_optimization and accumulate != 1) or (unknown and self.target_batch_size):
            # Checked again with the accumulation training_step does by hand (the test counted it), and with
            # the per-device batch the test drew when the train loader does not say it (several loaders of
            # different batch sizes, a batch sampler): the LR was scaled to the target all the same.
            seen = None
            if unknown and self.test_batch_size is None and result.batch_size is not None:
                seen = result.batch_size // (max(1, int(trainer.world_size)) * accumulate)
            train_batch = self._training_batch_size(trainer, pl_module, accumulate=accumulate, seen=seen)
        if train_batch is not None:
            self._set_batch_size(trainer, pl_module, train_batch)
            self._batch_size = train_batch
            self._log_batch_size(trainer, pl_module, train_batch)
        self.applied_lr = self._apply(trainer, pl_module, result, attr, rebuild=train_batch is not None)
        if self.optimizer is None and self.scheduler is not None:
            self._install_schedule(trainer, pl_module, self.applied_lr)
        if self.optimizer is None and self._attr_used is None and not trainer.lr_scheduler_configs:
            overridden = _lightning.package_of(trainer).utilities.model_helpers.is_overridden
            self._lr_setters = [h for h in _LR_SETTING_HOOKS if overridden(h, pl_module)]
            if self._lr_setters:
                # No attribute carries the LR, so a hook that sets it reads it from elsewhere: checked at the
                # first training step (on_before_optimizer_step), where nothing else should have moved it.
                self._rescaled_lrs = [[g["lr"] for g in opt.param_groups] for opt in trainer.optimizers]
        self._publish_applied(trainer, self.applied_lr)
        for note in _floors_above_lr(trainer.lr_scheduler_configs):
            # A floor the module's code sets absolutely (eta_min=1e-3 next to lr=self.lr): the schedule is what
            # a fit with this LR set by hand would run, so it is said, not changed.
            _lightning.warn(
                trainer,
                f"{self._who}: {note}. Set the floor below the found LR {self.applied_lr:.2e}, or as a fraction of "
                "it (eta_min=self.lr * 0.01).",
            )
        # Groups at other LRs keep their ratios: say whose LR this is, next to it (after the cycle's peak, "peaking
        # at 8.40e-02 for param group 0" read as that group's LR, its ratios as ratios to the peak).
        groups = _lr_groups([result], of_it=True)
        peak = "" if groups is None else f" for param {groups[0]}, {groups[1]}"
        # Under the module's OneCycleLR/CyclicLR the LR put in is the cycle's peak, not result.lr: say so.
        if self.applied_lr != result.lr:
            peak += f"{',' if groups else ''} as the cycle's peak (training_suggestion.max_lr)"
        top = _cycle_top(trainer.lr_scheduler_configs) if self.scheduler is not None else None
        if top is not None and not math.isclose(top, self.applied_lr, rel_tol=1e-6):
            # scheduler="onecycle"/"cyclic" climbs past the found LR: "training with lr=2.15e-02" hid the 3.76e-02.
            peak += f"{'; ' if groups else ', '}scheduler={self.scheduler!r} peaking at {top:.2e} (training_suggestion."
            peak += "max_lr)" if groups is None else f"max_lr) in {groups[0]}, the other groups at the same ratios"
        value, attr = self._attr_value, self._attr_used  # the attribute that took the LR (another may have been found)
        if attr is not None and value is not None and not math.isclose(value, self.applied_lr, rel_tol=1e-9):
            # configure_optimizers scales the attribute for the reference group (a head at self.lr * 10).
            peak += f"; {attr}={value:.2e}, which configure_optimizers turns into it"
        _lightning.info(trainer, f"{self._who}: training with lr={self.applied_lr:.2e}{peak} ({_describe(result)})")

    @override
    def on_before_optimizer_step(
        self, trainer: either.Trainer, pl_module: either.LightningModule, optimizer: Any
    ) -> None:
        """At the first two training steps: say so when the module's own hooks set other LRs than those applied.

        Without an attribute the found LR is applied by rescaling the optimizers' param groups. A
        module whose ``optimizer_step`` (or ``on_train_batch_start``, ``on_train_epoch_start``) sets
        the LR itself (Lightning's warm-up recipe, written with a hard-coded LR: ``pg["lr"] = scale *
        1e-3``) then overwrote it at every step, and training ran at its own LR while the callback
        reported the found one. Lightning's documented recipe sets the LR after ``optimizer.step``, so
        the first step still runs at the found LR: the second step is checked too (there is no
        schedule: nothing else moves the LR before it). Said once.
        """
        trainer, pl_module = _lightning.checked_as_pl(trainer, pl_module)
        if self._rescaled_lrs is None:
            return
        applied = self._rescaled_lrs
        # The groups the LR was applied to: one a callback adds since (BackboneFinetuning unfreezing the backbone at
        # epoch 0, at a tenth of the LR) was not set to another LR, and was said to be, at "(nan)".
        now = [[g["lr"] for g in opt.param_groups][: len(groups)] for opt, groups in zip(trainer.optimizers, applied)]
        if now == applied:
            if trainer.global_step >= 1:
                self._rescaled_lrs = None
            return
        self._rescaled_lrs = None
        hooks = " or ".join(self._lr_setters)
        pairs = [(a, n) for groups_a, groups_n in zip(applied, now) for a, n in zip(groups_a, groups_n) if a != n]
        was, set_to = pairs[0] if pairs else (self.applied_lr or math.nan, math.nan)
        chosen = self.attr_name is False  # the user asked for no attribute: not "none holds it"
        _lightning.warn(
            trainer,
            f"{self._who}: "
            + ("attr_name=False sets no attribute" if chosen else f"no attribute holds {type(pl_module).__name__}'s LR")
            + f", so the found LR was applied to the optimizer's param groups ({was:.2e}), and its {hooks} set them "
            f"to others before the first training steps ({set_to:.2e}). If it takes the LR from a value of its own "
            "(a warm-up to a hard-coded LR), training runs at that value, not the found one: keep the LR in an "
            f"attribute that configure_optimizers and {hooks} both read (self.lr or self.hparams.lr"
            + ("), and drop attr_name=False so that LRFinder sets it." if chosen else ", or name it with attr_name=), "
               "which LRFinder sets."),
        )

    @override
    def on_train_epoch_start(self, trainer: either.Trainer, pl_module: either.LightningModule) -> None:
        """From the second epoch on: say so when ``training_step`` never stepped the schedule of ``scheduler=``."""
        trainer, pl_module = _lightning.checked_as_pl(trainer, pl_module)
        if trainer.current_epoch >= 1:  # the module's own on_train_epoch_end (an epoch-wise step) has run
            self._check_schedule_stepped(trainer)
            self._check_schedule_spans(trainer)

    @override
    def on_train_epoch_end(self, trainer: either.Trainer, pl_module: either.LightningModule) -> None:
        """Before Lightning steps ``scheduler="plateau"``: refuse a monitor nothing logged, naming what is logged."""
        trainer, pl_module = _lightning.checked_as_pl(trainer, pl_module)
        self._check_plateau_monitor_available(trainer, pl_module)

    @override
    def on_fit_end(self, trainer: either.Trainer, pl_module: either.LightningModule) -> None:
        """Say why no range test ran when the fit ran no training batch, as ``find_lr`` says it (it raises).

        Lightning's fit loop returns before ``on_train_start``, where the test runs, on an empty train
        loader (``limit_train_batches=0``, a fit already done): only Lightning's "Total length of
        `DataLoader` across ranks is zero" was said, and the module's LR was left as it was without a word.

        :attr:`result` and :attr:`applied_lr` are then those of the callback's previous fit, which
        :meth:`setup` set aside: a second ``fit`` of a Trainer already done, which trains nothing, reset
        them to ``None`` and lost the first fit's result. A fit resumed from a checkpoint keeps what the
        checkpoint held (nothing, for one written without the callback).
        """
        trainer, pl_module = _lightning.checked_as_pl(trainer, pl_module)
        previous, self._previous = self._previous, None
        if self._find_only or self._train_started or _resumed_from(trainer) is not None:
            return
        if previous is not None:
            (self.result, self.applied_lr, self._attr_value, self._attr_used, self._attr_known, self._batch_size) = (
                previous
            )
        error = no_training_error(trainer, find_only=False)
        if error is not None:
            kept = "" if self.result is None else " (result and applied_lr stay those of this callback's previous fit)"
            _lightning.warn(trainer, f"{error} The LR is left as the module set it{kept}.")

    @override
    def on_train_end(self, trainer: either.Trainer, pl_module: either.LightningModule) -> None:
        """Say so when ``training_step`` never stepped the schedule of ``scheduler=`` (manual optimization)."""
        trainer, pl_module = _lightning.checked_as_pl(trainer, pl_module)
        self._check_schedule_stepped(trainer)

    def _check_schedule_spans(self, trainer: pl.Trainer) -> None:
        """Warn once when a reloaded train loader's length no longer matches what ``scheduler=`` was sized to.

        The schedule spans the fit's optimizer steps as counted at its start, from the loader's length then.
        With ``reload_dataloaders_every_n_epochs`` a loader of another length (a curriculum, progressive
        resizing) changed the count: OneCycleLR failed past its end with torch's "Tried to step 13 times.
        The specified number of total steps is 12", after epochs of training, and a cosine ended early
        or never reached its floor.
        """
        if self._sized is None:
            return
        sized_batches, total = self._sized
        batches = trainer.num_training_batches
        if batches == sized_batches:
            return
        self._sized = None
        now = f"{int(batches)}" if math.isfinite(batches) else "no length"
        _lightning.warn(
            trainer,
            f"{self._who}(scheduler={self.scheduler!r}) sized the schedule to {total} optimizer steps from the "
            f"{sized_batches} batches an epoch of the train loader at the fit's start, but the loader reloaded for "
            f"epoch {trainer.current_epoch} has {now}, so the schedule no longer spans the fit (OneCycleLR stepped "
            "past its end fails: 'Tried to step ... times'). Set Trainer(max_steps=N, max_epochs=-1) with N the "
            "optimizer steps the fit takes, which the schedule is then sized to, or keep the loader's length.",
        )

    def _check_schedule_stepped(self, trainer: pl.Trainer) -> None:
        """Warn once when the scheduler built under manual optimization has not moved after optimizer steps.

        Lightning steps no LR scheduler under manual optimization: ``training_step`` must call
        ``self.lr_schedulers().step()``. A module that had no scheduler before ``scheduler=`` gave
        it one does not, and trained at a constant LR while the report showed the schedule.
        """
        if self._unstepped is None:
            return
        sched, start = self._unstepped
        if getattr(sched, "last_epoch", start) != start:
            self._unstepped = None
            return
        if trainer.global_step == 0:
            return
        self._unstepped = None
        _lightning.warn(
            trainer,
            f"{self._who}(scheduler={self.scheduler!r}): under manual optimization Lightning does not step LR "
            f"schedulers, and training_step has not stepped this one in "
            f"{plural(trainer.global_step, 'optimizer step')}, "
            "so the LR stayed where the schedule starts. Call self.lr_schedulers().step() in training_step after "
            "each optimizer step, or leave scheduler=None.",
        )

    @override
    def state_dict(self) -> dict[str, Any]:
        """Save the result in checkpoints, so a resumed fit still knows it."""
        return {
            "result": None if self.result is None else self.result.to_dict(),
            "applied_lr": self.applied_lr,
            "attr_value": self._attr_value,
            "attr": self._attr_used,
            "batch_size": self._batch_size,
        }

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :attr:`result` and :attr:`applied_lr` from a checkpoint."""
        data = state_dict.get("result")
        self.result = None if data is None else RangeTestResult.from_dict(data)
        self.applied_lr = state_dict.get("applied_lr")
        self._attr_value = state_dict.get("attr_value")
        self._attr_used = state_dict.get("attr")
        self._attr_known = "attr" in state_dict
        self._batch_size = state_dict.get("batch_size")

    # ----------------------------------------------------------------------------------------
    # The test
    # ----------------------------------------------------------------------------------------

    def _run_test(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> RangeTestResult:
        """Build, sweep inside the isolation, analyse, refine, scale.

        With ``refine``, each distinct warning is said once (:func:`lrfinder._warn.once_per_call`): its
        trials each build the schedule again, whose warning came once per trial, in the trial's
        compressed numbers.
        """
        with once_per_call() if self.refine is not None and not self._find_only else contextlib.nullcontext():
            return self._test_and_refine(trainer, pl_module)

    def _test_and_refine(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> RangeTestResult:
        """:meth:`_run_test`'s steps."""
        run = self._build(trainer, pl_module)
        # Resolved before the sweep: a refine that cannot run in this fit (no length, too small a budget)
        # fails before the test, not after it.
        refine = self._refine_settings(trainer, pl_module) if self.refine is not None and not self._find_only else None
        probe = NoiseProbe(p for g in run.optimizers[0].param_groups for p in g["params"]) if self.noise_scale else None
        repeats = None
        if probe is not None and run.world == 1 and not run.batches.combined:
            # Under DDP the ranks' own batches are the small ones, whatever the loader's length.
            from .refine import _length

            per_pass = _length(run.batches.loader)
            repeats = repeated_batches(
                None if per_pass is None else per_pass - run.batches.skip, run.settings.accumulate_steps
            )
            probe = None if repeats is not None else probe
        lrs, losses, reason, accumulate, clips = self._sweep(
            trainer, pl_module, run, probe if len(run.optimizers) == 1 else None
        )
        run = replace(run, settings=_with_clipping(trainer, run.settings, clips, losses, self._who))
        if run.batches.kept_stream is not None:
            _lightning.warn(
                trainer,
                f"{self._who}: " + kept_stream_message(run.batches.kept_stream, "The train loader", rebuild=False),
            )
        if accumulate != run.settings.accumulate_steps:
            # training_step accumulates by hand (manual optimization): the test's batch, the training batch
            # it scales to, the re-sweeps and the fit's length in optimizer steps count that many batches per step.
            _lightning.info(
                trainer,
                f"{self._who}: training_step steps the optimizer once every {accumulate} batches (gradient "
                "accumulation by hand): each LR of the sweep gets that many, and the effective batch counts them.",
            )
            self._warn_batch_limit(trainer, accumulate, warned_at=run.settings.accumulate_steps)
            run = replace(run, settings=replace(run.settings, accumulate_steps=accumulate))
        logger.debug("%s: %d steps (%s), last lr %.2e", self._who, len(lrs), reason, lrs[-1] if lrs else math.nan)
        if reason == "interrupted" and not self._find_only:
            # Everything is restored; Lightning now shuts the fit down as on any Ctrl-C.
            raise KeyboardInterrupt
        result = self._analyse(pl_module, run, lrs, losses, reason)
        if probe is not None or repeats is not None:
            if probe is None:
                measured, why = None, repeats
            elif len(run.optimizers) == 1:
                probe.reduce_local(lambda t: _mean_over_ranks(trainer, t).cpu())
                measured, why = noise_after_sweep(probe, result.lrs, result.losses, result.suggestion)
            else:
                probe.reduce_local(lambda t: _mean_over_ranks(trainer, t).cpu())
                n = len(run.optimizers)
                measured, why = None, f"the test steps {n} optimizers; it is measured on one optimizer's gradient"
            result = replace(result, noise_scale=measured, noise_error=why)
            if why is not None:
                # Asked for and not measured: said once (rank zero; every rank read the same reduced norms).
                _lightning.warn(
                    trainer,
                    f"{self._who}(noise_scale=True): the gradient noise scale was not measured ({why})."
                    + (" The LR is scaled by the optimizer family's rule instead." if self.scaling == "auto" else ""),
                )
        if refine is not None:
            result, rounds, cost, notes = self._resweep(trainer, pl_module, run, refine, result)
            result = _refine_trials(
                trainer, pl_module, run, result, refine, who=self._who, rounds=rounds, cost=cost, notes=notes
            )
        return self._scale(trainer, run, result)

    def _build(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> _TestRun:
        """Check the fit, pick the loader and the optimizers (``optimizer=`` installs its own)."""
        automatic = pl_module.automatic_optimization
        if "dataloader_iter" in inspect.signature(pl_module.training_step).parameters:
            raise ModelError(
                f"{self._who} cannot run training_step(dataloader_iter): the range test hands training_step one "
                f"batch per call. Take (batch, batch_idx) in training_step, or {self._leave_out}."
            )
        val_loader = self._val_curve_loader(trainer, pl_module) if self.settings.curve == "val" else None
        if automatic and self.monitor is not None:
            _lightning.warn(
                trainer,
                f"{self._who}(monitor={self.monitor!r}) is read under manual optimization only; under automatic "
                "optimization the curve is the loss training_step returns (the one backward runs on). "
                "Leave monitor=None.",
            )
        accumulate = _accumulation(trainer, pl_module)
        later = None if self._find_only else _later_accumulation(trainer, pl_module)
        if later is not None:
            epoch, value = later
            _lightning.warn(
                trainer,
                f"{self._who}: the GradientAccumulationScheduler changes accumulate_grad_batches from {accumulate} to "
                f"{value} at epoch {epoch}: the test sweeps epoch {trainer.current_epoch}'s {accumulate} batches per "
                f"step, and the LR found (and scaled) is for that effective batch, which from epoch {epoch} is "
                f"x{value / accumulate:.3g} at the same LR. Keep one accumulation for the whole fit (scheduling="
                f"{{0: k}}), or scale the LR for epoch {epoch} yourself: finder.result.scale(<the effective batch "
                "there>).lr.",
            )
        train_loader = trainer.train_dataloader
        if train_loader is None:
            raise DataError(
                f"{self._who} found no train dataloader in this fit. Pass train_dataloaders or a datamodule."
            )
        batches = trainer.num_training_batches
        if accumulate > 1 and math.isfinite(batches) and 0 < batches < accumulate:
            # Lightning steps at each epoch's end with the batches it has, each loss still divided by k.
            _lightning.warn(
                trainer,
                f"{self._who}: an epoch of this fit has {int(batches)} training batch(es), fewer than "
                f"accumulate_grad_batches={accumulate}: every optimizer step of the fit accumulates only those, each "
                f"loss still divided by {accumulate}, so its gradient is {int(batches)}/{accumulate} of a full "
                f"step's, while the test's steps accumulate {accumulate} batches. Set accumulate_grad_batches <= "
                f"{int(batches)} (or give the fit more batches per epoch).",
            )
        loader = _rebuild_loader(train_loader, self.test_batch_size) if self.test_batch_size else train_loader
        capped = _examples_below_batch(loader) if self.test_batch_size else None
        if capped is not None and loader.drop_last:
            raise DataError(
                f"{self._who}: test_batch_size={self.test_batch_size} is more than the {plural(capped, 'example')} "
                "the train loader gives each device, and the loader drops its last short batch (drop_last=True), so "
                f"the test would get no batch. Set test_batch_size <= {capped}, or leave it None to test at the fit's "
                "batch."
            )
        if capped is not None:
            _lightning.warn(
                trainer,
                f"{self._who}: test_batch_size={self.test_batch_size} is more than the {plural(capped, 'example')} "
                f"the train loader gives each device, so every batch of the test holds {capped}: the LR is found (and "
                f"scaled) at batch {capped}. Set test_batch_size <= {capped}, or leave it None to test at the fit's "
                "batch.",
            )
        self._check_passes_per_step(loader, batches, accumulate)
        if self.optimizer is not None:
            if not automatic and len(trainer.optimizers) > 1:
                raise ValueError(
                    f"Expected one optimizer with optimizer={self.optimizer!r}, but the module (manual "
                    f"optimization) uses {len(trainer.optimizers)}. Leave optimizer=None to sweep them all."
                )
            if not automatic and trainer.lr_scheduler_configs:
                _lightning.warn(
                    trainer,
                    f"{self._who}(optimizer={self.optimizer!r}) replaces the module's optimizer and drops its LR "
                    f"{word(len(trainer.lr_scheduler_configs), 'scheduler')}: under manual optimization, "
                    "self.lr_schedulers() in training_step returns None "
                    "during the test, and in training "
                    + ("the schedule of scheduler=." if self.scheduler is not None else "too (no scheduler= given).")
                    + " Leave optimizer=None to test the module's own optimizer and scheduler.",
                )
            elif trainer.lr_scheduler_configs and self.scheduler is None:
                # Documented, but silent: a module's cosine or one-cycle schedule turned into a constant LR.
                names = ", ".join(dict.fromkeys(type(c.scheduler).__name__ for c in trainer.lr_scheduler_configs))
                _lightning.warn(
                    trainer,
                    f"{self._who}(optimizer={self.optimizer!r}) replaces the module's optimizer and its LR "
                    f"{word(len(trainer.lr_scheduler_configs), 'scheduler')} ({names}), and no scheduler= is given: "
                    "training runs at a constant LR. Pass "
                    "scheduler= (e.g. 'cosine' or 'onecycle', built from the found LR) or leave optimizer=None to "
                    "train with the module's own.",
                )
            self._replaced = (list(trainer.optimizers), list(trainer.lr_scheduler_configs))
            module_optimizers = list(trainer.optimizers)
            self._install_optimizer(trainer, pl_module, self.settings.min_lr, with_scheduler=False)
            self._warn_parameters_added(trainer, pl_module, module_optimizers)
            self._warn_group_ratios_dropped(trainer, module_optimizers)
            if self.scheduler is not None:
                self._check_schedule(trainer, pl_module)
        optimizers = list(trainer.optimizers)
        # configure_optimizers returning None (a forgotten ``return opt``) gets Lightning's stand-in, an
        # optimizer without param groups: the sweep moved no LR, and the flat curve was read as inconclusive.
        if not any(opt.param_groups for opt in optimizers):
            raise ModelError(
                "configure_optimizers returned no optimizer (None, or optimizers without parameters; Lightning then "
                "trains with none), so the range test has no LR to sweep. Return the optimizer from "
                f"configure_optimizers, pass {self._who}(optimizer='adamw') to build one, or {self._leave_out}."
            )
        held = [p for opt in optimizers for g in opt.param_groups for p in g["params"]]
        if held and not any(p.requires_grad for p in held):
            # As range_test refuses it: no step would change the model, and the flat curve read as "raise max_lr".
            raise ModelError(
                f"None of the {plural(len(held), 'parameter')} of the fit's {word(len(optimizers), 'optimizer')} "
                "requires grad (they are "
                "frozen), so the range test would step nothing and its curve would be flat. Build the optimizer over "
                "the trainable parameters ([p for p in self.parameters() if p.requires_grad]), unfreeze the ones it "
                f"holds before fit, or {self._leave_out}."
            )
        if self.optimizer is None and self.scheduler is not None:
            # scheduler= over the module's own optimizer: where it cannot be, and its settings, before the test.
            self._refuse_own_schedule(trainer, pl_module)
            self._check_schedule(trainer, pl_module)
        if self.scaling == "noise" and len(optimizers) != 1:
            # The noise scale is measured on one optimizer's gradient only: fail before the test, not after it.
            raise ValueError(
                f"{self._who}(scaling='noise') needs the gradient noise scale, which is measured for one optimizer, "
                f"but the module steps {len(optimizers)}. Use scaling='auto' (linear or sqrt by optimizer family), "
                "'linear' or 'sqrt'."
            )
        if automatic and len(optimizers) != 1:
            raise ModelError(
                f"Automatic optimization steps one optimizer, but got {len(optimizers)}. Use manual optimization."
            )
        if automatic:
            # As range_test refuses it: a climbed objective rises as the model learns, read as divergence.
            check_minimizes(optimizers[0], "in training_step")
        from .optimizers import repeated_tensors_message

        for opt in optimizers:  # as range_test refuses it, with this fit's ways out
            repeated = repeated_tensors_message(opt)
            if repeated is not None:
                raise ModelError(
                    f"configure_optimizers returned an optimizer whose {repeated}, in the range test and in training "
                    "alike. Build it over each parameter once: self.parameters(), or list(dict.fromkeys(params)) to "
                    "drop the repeats."
                )
            check_lr_sets_each_step(
                opt,
                fix=f"Train with Rprop without the range test ({self._leave_out}), or pass "
                f"{self._who}(optimizer='adamw') to find the LR of an optimizer that steps by it and train with that",
            )
        for opt in optimizers:
            if isinstance(opt, torch.optim.LBFGS):
                # range_test and lrfind refuse it (stepping.check_steps_without_closure); a fit steps it through
                # Lightning's closure, so the test runs, but what each swept lr does is a line search's business.
                _lightning.warn(
                    trainer,
                    f"{self._who}: the fit steps {type(opt).__name__}, whose step runs up to max_iter inner "
                    "iterations, re-evaluating the loss at each, so the curve records several moves per swept lr "
                    "rather than one (range_test and lrfind refuse LBFGS for this). Read the curve before using its "
                    "suggestion; for LBFGS the usual choice is lr=1 with line_search_fn='strong_wolfe'.",
                )
        # The snapshot copies every parameter and buffer: a lazy one has no shape yet, a meta one no values.
        check_materialized(pl_module, lazy_fix=_LAZY_FIX.format(self._leave_out))
        for opt in optimizers:  # as range_test: a group's lr of None (Adafactor's relative_step) is no LR to sweep
            for i, group in enumerate(opt.param_groups):
                if "initial_lr" not in group and "max_lr" not in group:  # else a scheduler's LR is swept
                    group_lr(opt, i, group)
        frozen = traced_in_eval_mode(pl_module)
        if frozen:
            _lightning.warn(trainer, f"{self._who}: " + traced_in_eval_message(frozen, "The module"))
        from .optimizers import averaged_copies, no_trainable_message

        # An AveragedModel's EMA/SWA copies require grad but are never trained: not counted.
        averaged = averaged_copies(pl_module)
        num_parameters = sum(p.numel() for p in pl_module.parameters() if p.requires_grad and id(p) not in averaged)
        if not num_parameters:
            raise ModelError(no_trainable_message("The module", pl_module, averaged))
        # Lightning clips under automatic optimization only (a manual training_step calls clip_gradients).
        clip = getattr(trainer, "gradient_clip_val", None) if automatic else None
        algorithm = getattr(getattr(trainer, "gradient_clip_algorithm", None), "value", None)
        return _TestRun(
            settings=replace(
                self.settings,
                accumulate_steps=accumulate,
                precision=_recorded_precision(trainer),
                gradient_clip_val=float(clip) if clip else None,
                gradient_clip_algorithm="value" if clip and algorithm == "value" else "norm",
            ),
            train_loader=train_loader,
            batches=_lightning.TrainBatches(trainer, pl_module, loader),
            optimizers=optimizers,
            configs=list(trainer.lr_scheduler_configs),
            world=max(1, int(trainer.world_size)),
            num_parameters=num_parameters,
            val_loader=val_loader,
        )

    def _val_curve_loader(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Any:
        """The fit's validation loader ``curve="val"`` reads, checked before the test: refused where it cannot run.

        Raises:
            ModelError: Manual optimization: ``training_step`` steps the optimizers itself, so its loss cannot be
                read on a held-out batch without training on it.
            DataError: The fit has no validation loader.

        """
        if not pl_module.automatic_optimization:
            raise ModelError(
                f"{self._who}(curve='val') records training_step's loss on the fit's validation batches after every "
                "step (in eval mode, without gradients), and under manual optimization training_step runs its own "
                "backward and optimizer steps, so that loss cannot be read without training on those batches. Use "
                "curve='train' (the loss training_step returns, or logs as monitor=) for this module."
            )
        loader = _val_loader(trainer)
        if loader is None:
            if not _lightning.defines_validation_step(pl_module):
                # Lightning loads no validation loader for a module without validation_step, even one passed in.
                why, fix = " (the module defines no validation_step, so Lightning skips any it is given)", (
                    "Define a validation_step and provide the loader"
                )
            else:
                why = " (limit_val_batches=0 turns it off)" if not trainer.limit_val_batches else ""
                fix = "Provide one"
            raise DataError(
                f"{self._who}(curve='val') records the loss on the fit's validation batches after every step, but this "
                f"fit has no validation loader{why}. {fix} (trainer.fit(model, train_dataloaders=..., "
                "val_dataloaders=...), a val_dataloader() of the module or datamodule), or leave curve='train'."
            )
        return loader

    def _check_passes_per_step(self, loader: Any, batches: float, accumulate: int) -> None:
        """Refuse an ``accumulate_grad_batches`` whose test steps would each cycle the train loader over ten times.

        The test draws ``accumulate`` micro-batches per step, cycling the loader (the fit steps at each
        epoch's end instead): ``accumulate_grad_batches=10**9`` over a 3-batch loader ran without end,
        its memory growing. A few passes per step still run, as in :func:`~lrfinder.range_test.range_test`.
        """
        from .range_test import passes_per_step_error, unsized_accumulation_error
        from .refine import _length

        # The loader the test cycles (the whole of it, not limit_train_batches); combined loaders: the fit's count.
        cycled = None if isinstance(loader, (Sequence, Mapping)) else _length(loader)
        if cycled is None and math.isfinite(batches):
            cycled = int(batches)
        if cycled is None:
            error = unsized_accumulation_error(
                accumulate,
                option="accumulate_grad_batches",
                data="a train loader without a length",
                subject=f"the train loader of {self._who}'s range test has no length (an IterableDataset)",
                fix="Set the Trainer's accumulate_grad_batches to the accumulation training uses.",
            )
            if error is not None:
                raise error
        error = passes_per_step_error(
            cycled,
            accumulate,
            self.settings.num_steps,
            option="accumulate_grad_batches",
            data=f"of the train loader for {self._who}'s range test",
            fix=f"Set the Trainer's accumulate_grad_batches to at most the {cycled} "
            f"{word(cycled or 0, 'batch', 'batches')} of an epoch (or give the fit more batches per epoch).",
        )
        if error is not None:
            raise error

    def _sweep(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, run: _TestRun, probe: NoiseProbe | None = None
    ) -> tuple[list[float], list[float], StopReason, int, list[tuple[float, str]]]:
        """The sweep of ``run.settings``, inside the isolation: nothing it changes survives it.

        Returns the LRs, the losses, why it stopped, the micro-batches per optimizer step it
        ran at (``run.settings.accumulate_steps`` under automatic optimization; under manual
        optimization the count ``training_step`` took to step an optimizer: the most common one;
        more than 1 when it accumulates gradients by hand, see :class:`lrfinder._lightning.ManualStepper`)
        and the clipping it ran with, ``(value, algorithm)`` per call that clipped
        (:func:`lrfinder._lightning.recorded_clipping`: the Trainer's ``gradient_clip_val``, a
        ``configure_gradient_clipping`` of the module's own, or ``self.clip_gradients`` by hand).

        With a ``probe``, the automatic stepper hands it each step's gradient after backward,
        before clipping and the step (:func:`_local_gradients` says whether with each rank's own
        micro-batch gradients); under manual optimization an optimizer step post-hook hands it
        ``.grad`` (the all-reduced gradient of the global batch under data parallelism). The
        gradients are only read.
        """
        settings = run.settings
        handle = None
        hooks: list[Any] = []
        automatic = pl_module.automatic_optimization
        local = probe is not None and _local_gradients(trainer, pl_module, settings.accumulate_steps)
        if probe is not None and local:
            hooks = probe.watch_backward()
        current: list[Any] = []  # the stepper, once made
        if probe is not None and not local and not automatic:
            count = [0]

            def after_step(*_: Any) -> None:
                size = run.batches.batch_size  # known once the first batch was drawn
                # The batches training_step took to step (gradient accumulation by hand): its global batch.
                micro = getattr(current[0], "micro_batches", 1) if current else 1
                global_batch = None if size is None else size * run.world * micro
                probe.end_step(count[0], 0.0, global_batch)
                count[0] += 1

            handle = run.optimizers[0].register_step_post_hook(after_step)
        plan = lr_schedule(settings.min_lr, settings.max_lr, settings.num_steps, settings.mode)
        bar = _lightning.progress_bar(trainer, len(plan))

        done = [0]  # the steps the sweep finished: a step that raises is the next one

        def on_step(i: int, lr: float, loss: float) -> None:
            done[0] = i + 1
            if bar is not None:
                bar.set_postfix(lr=f"{lr:.2e}", loss=f"{loss:.4g}", refresh=False)
                bar.update(1)

        loaders = [run.batches.loader, run.train_loader] + ([run.val_loader] if run.val_loader is not None else [])
        try:
            # A rank that raises mid-sweep ends its process: the others, in that step's all-reduce, name it and its
            # error (told through the process group's store) rather than gloo's "Connection closed by peer".
            told = failure_told_to_other_ranks(int(trainer.global_rank), run.world, f"{self._who}'s range test")
            with told, _lightning.isolation(trainer, pl_module, run.optimizers, run.configs, loaders) as logged:
                # Sweep from each group's base LR (a scheduler may already have moved ``lr`` at
                # step 0, e.g. a warm-up from zero), so the ratios between groups are the configured ones.
                for opt in run.optimizers:
                    for group in opt.param_groups:
                        group["lr"] = _base_lr(group, run.configs)
                step = _lightning.make_stepper(
                    trainer,
                    pl_module,
                    run.batches,
                    run.optimizers,
                    logged,
                    accumulate=settings.accumulate_steps,
                    monitor=self.monitor,
                    probe=probe if automatic else None,
                    local=local,
                    who=self._who,
                )
                current.append(step)
                measure = step if run.val_loader is None else self._val_curve(trainer, pl_module, run, step)
                try:
                    sweeper = LRSweeper(run.optimizers)
                    idle = idle_swept_group_message(run.optimizers, sweeper.ratios)
                    if idle is not None:  # as range_test warns: the groups' ratios are the configured ones here
                        _lightning.warn(trainer, f"{self._who}: {idle}")
                    # An LR the module's code writes (training_step, on_before_optimizer_step) is refused at the step.
                    with step.checking_lr(sweeper), _lightning.recorded_clipping(trainer) as clips:
                        lrs, losses, reason = run_sweep(
                            measure,
                            plan,
                            sweeper=sweeper,
                            stop_factor=settings.stop_factor,
                            on_step=on_step,
                        )
                except LRFinderError:
                    raise
                except Exception as exc:
                    # An out-of-memory stays torch's: code that lowers the batch size on it catches that one. An error
                    # of lrfinder's own checks (a loader's passes counted as the test draws them) is worded already.
                    if _is_out_of_memory(exc) or raised_by_lrfinder(exc):
                        raise
                    missing = f"'{type(pl_module).__name__}' object has no attribute"
                    if isinstance(exc, AttributeError) and missing in str(exc):
                        # Lightning's own finder runs the fit loop, hooks and all; this test calls training_step
                        # before the module's on_train_start and on_train_epoch_start, so state made there is missing.
                        raise ModelError(
                            f"{self._who}: training_step failed in the range test: {exc}. The test runs at "
                            "on_train_start, before the module's own on_train_start and on_train_epoch_start hooks "
                            "run, and its on_train_batch_start and on_train_batch_end do not run for the test's "
                            f"batches: create what training_step reads in __init__ or setup(), or {self._leave_out}."
                        ) from exc
                    # Any other error of the module's code (a shape its batch does not fit) came out as torch's bare
                    # RuntimeError, naming neither the test nor its step; the state is put back on the way out.
                    step_lr = float(plan[min(done[0], len(plan) - 1)])
                    raise_training_step_error(exc, self._who, done[0], step_lr, self._leave_out)
                counts = getattr(step, "accumulation", None)
                accumulate = Counter(counts).most_common(1)[0][0] if counts else settings.accumulate_steps
                self._test_logged = (frozenset(logged.ever), len(losses))
            # The state is back. A clean batch whose loss is not finite at the starting weights either: the loss,
            # not the LR (the curve would read it as the blow-up). Under manual optimization too: training_step then
            # steps as it takes the batch, in an isolation of its own (a mean over no labels read "the loss became
            # non-finite at lr=1.26e-03: lower min_lr or max_lr"). Under DDP every rank stopped at the same step (on
            # the loss reduced over the ranks) and judges its own batches, and one reduce tells all the verdict:
            # every rank raises the same error or goes on, none waits on another that raised.
            undefined = step.non_finite if reason == "non_finite" else None
            if undefined is not None and undefined[1] > 0:
                drawn, at, lr, value = undefined

                def set_lr() -> None:  # as at step 0
                    for opt in run.optimizers:
                        for group in opt.param_groups:
                            group["lr"] = _base_lr(group, run.configs)
                    LRSweeper(run.optimizers).set(float(plan[0]))

                found = _lightning.loss_undefined_at_start(
                    trainer, pl_module, run.optimizers, run.configs, loaders, drawn, set_lr,
                    monitor=None if automatic else self.monitor,
                )  # fmt: skip
                if found is not None:
                    rank, index = found
                    on_rank = f" on rank {rank}" if run.world > 1 else ""
                    where = f"{self._who}: {step._batch_name(index).capitalize()}{on_rank}"
                    raise DataError(undefined_loss_message(where, at, lr, value))
            return lrs, losses, reason, int(accumulate), clips
        finally:
            if handle is not None:
                handle.remove()
            for hook in hooks:
                hook.remove()
            if bar is not None:
                bar.close()

    def _val_curve(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, run: _TestRun, step: Callable[[float], float]
    ) -> Callable[[float], float]:
        """``step`` that returns, after it, the mean loss over the fit's first ``val_batches`` validation batches.

        Inside the sweep's isolation (the validation loader's order is put back with the rest). The loss is
        ``training_step``'s on each batch, in eval mode without gradients, as refine's trials are judged
        (:func:`lrfinder._fit_trials.held_out_mean`); under DDP averaged over the ranks, each over its own shard.
        A non-finite training loss is returned as it is (the sweep stops on it, as under ``curve="train"``). A
        non-finite loss at the first step on batches that hold NaN/inf is the data's fault: :class:`DataError`.
        """
        held = val_batches_held(trainer, pl_module, run.val_loader, self.val_batches, f"{self._who}(curve='val')")
        loss_of = held_out_loss_of(trainer, pl_module, f"{self._who}(curve='val') cannot record its loss")
        reduce = ranks_mean(trainer)
        passes = [0]

        def measured(lr: float) -> float:
            value = step(lr)
            if not math.isfinite(value):
                return value
            mean = held_out_mean(
                loss_of, held, pl_module, reduce, who=self._who, judged_on="fit's validation batches", curve=True
            )
            passes[0] += 1
            if passes[0] == 1 and not math.isfinite(mean):
                # The same batches every step: a loss undefined on them at the first is theirs, not the LR's. Every
                # rank reads every rank's finding (the mean is the same on all, so all come here together).
                found = _NonFiniteDataWatch().scan(held)
                if reduce([1.0 if found else 0.0])[0] > 0:
                    where = f"batch {found[0][0]} of the fit's validation loader holds {found[0][1][0]}" if found else (
                        "a batch of the fit's validation loader on another rank holds NaN or inf"
                    )
                    raise DataError(
                        f"{self._who}(curve='val'): {where}, and its loss is {mean} at the first step (lr={lr:.2e}). "
                        "Clean the validation data (or have training_step mask those values), or leave curve='train'."
                    )
            return mean

        return measured

    def _refine_settings(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Refine:
        """The :class:`Refine` for this fit: its training length (optimizer steps) and schedule filled in."""
        assert self.refine is not None
        refine = self.refine
        # Trials run under automatic optimization only. A second fit of the same Trainer goes on from the first's
        # step: its trials judge the schedule over the steps it takes, as scheduler= is sized (they were sized
        # to both fits' steps, a schedule longer than the fit trains).
        total = _optimizer_steps_left(trainer, pl_module, 1)
        counted = "trainer.estimated_stepping_batches"
        if trainer.global_step > 0:
            noun = word(trainer.global_step, "step")
            counted += f", less the {trainer.global_step:,} {noun} this Trainer's earlier fit took"
        if refine.training_steps is None:
            if not math.isfinite(total):
                raise ValueError(
                    f"{self._who}(refine=...) needs the length of the fit: {_how_to_bound(trainer)}, or pass "
                    "refine=lrfinder.Refine(training_steps=N)."
                )
            if int(total) < MIN_TRIAL_STEPS:
                # Refine's own "Expected training_steps to be an int >= 10" named an argument the user never gave.
                raise ValueError(
                    f"{self._who}(refine=...): the fit trains {plural(int(total), 'optimizer step')} "
                    f"({counted}), fewer than the {MIN_TRIAL_STEPS} refine's trials need to "
                    "judge the training schedule. Train longer (max_steps, max_epochs), or leave refine=False for a "
                    "fit this short."
                )
            try:
                refine = replace(refine, training_steps=int(total))
            except LongTrialsError as exc:
                # The engine's words name training_steps, which the fit set here, not the user. With trial_steps
                # given, the fit's length only lets the budget hold that many of them: the engine's fix is the fix.
                if refine.trial_steps is not None:
                    raise LongTrialsError(
                        f"{self._who}(refine=...): the fit trains {int(total):,} optimizer steps "
                        f"({counted}). {exc}"
                    ) from None
                raise LongTrialsError(
                    f"{self._who}(refine=...): the fit trains {int(total):,} optimizer steps "
                    f"({counted}), too long to size refine's trials from. {exc} Bound the "
                    "fit (max_steps, max_epochs), or pass refine=lrfinder.Refine(trial_steps=N)."
                ) from None
        if refine.schedule == "constant":
            if self.scheduler is not None:
                settings = refine.schedule_settings or self.scheduler_settings
                refine = replace(refine, schedule=self.scheduler, schedule_settings=settings)
            else:
                refine = replace(refine, schedule=_schedule_name(trainer.lr_scheduler_configs))
        try:
            resolved = resolve_refine(refine)
        except ValueError as exc:
            # The engine's words ("Raise budget to ...") name no option of the callback's.
            raise ValueError(
                f"{self._who}(refine=...): {exc} Pass them as refine=lrfinder.Refine(budget=..., candidates=...), "
                "or leave refine=False for a fit this short."
            ) from exc
        assert resolved is not None
        return resolved

    def _resweep(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        run: _TestRun,
        refine: Refine,
        result: RangeTestResult,
    ) -> tuple[RangeTestResult, list[Resweep], int, list[str]]:
        """Round 2 of :mod:`lrfinder.refine` (:func:`~lrfinder.refine.resweep_round`) with the fit's stepper.

        Each extra sweep runs as the first one does (:meth:`_sweep`: inside the isolation, from
        the same restored state and data order, its loss reduced over ranks, so every rank reads
        the same curve and takes the same decisions), with the settings
        :func:`~lrfinder.refine.next_sweep` gives. The noise scale stays the first sweep's.

        Returns:
            As :func:`~lrfinder.refine.resweep_round`: the curve to read, the rounds, their
            steps and notes.

        """

        def sweep(lo: float, hi: float, num: int) -> RangeTestResult:
            settings = replace(run.settings, min_lr=lo, max_lr=hi, num_steps=num)
            again = replace(
                run, settings=settings, batches=_lightning.TrainBatches(trainer, pl_module, run.batches.loader)
            )
            lrs, losses, reason, _, _ = self._sweep(trainer, pl_module, again)
            if reason == "interrupted":
                raise KeyboardInterrupt  # everything is restored, as after the first sweep
            swept = self._analyse(pl_module, again, lrs, losses, reason)
            return replace(swept, noise_scale=result.noise_scale, noise_error=result.noise_error)

        out, rounds, cost, notes = resweep_round(result, refine, sweep)
        for r in rounds:
            _lightning.info(
                trainer,
                f"{self._who}: re-swept ({r.reason.replace('_', ' ')}) {r.min_lr:.2e} .. {r.max_lr:.2e}, "
                f"{plural(r.steps_run, 'step')}: "
                + (f"reads {r.suggestion_lr:.2e}" if r.suggestion_lr else f"{r.error}"),
            )
        return out, rounds, cost, notes

    def _analyse(
        self,
        pl_module: pl.LightningModule,
        run: _TestRun,
        lrs: list[float],
        losses: list[float],
        reason: StopReason,
    ) -> RangeTestResult:
        """The curve analysed into a result (``suggestion=None`` when inconclusive)."""
        groups = LRSweeper(run.optimizers)  # the groups' LRs as put back after the sweep: its ratios
        return finish_result(
            lrs,
            losses,
            reason,
            rule=self.rule,
            settings=run.settings if run.world == 1 else replace(run.settings, world_size=run.world),
            batch_size=self._test_batch(pl_module.trainer, run),
            model_name=type(pl_module).__name__,
            num_parameters=run.num_parameters,
            # Each optimizer's class, comma-separated, as optimizer_family (the result's own .scale(rule="auto")) reads
            # it; the report and summary say it counted (optimizers_words): "SGD" for two SGDs read as one optimizer.
            optimizer_name=", ".join(optimizer_result_name(o) for o in run.optimizers),
            lr_ratios=tuple(groups.ratios),
            group_names=_group_names(run.optimizers, groups.names),
        )

    def _test_batch(self, trainer: pl.Trainer, run: _TestRun) -> int | None:
        """The test's effective batch, as range_test's: the per-device batches summed over the ranks, x accumulation.

        Each rank's per-device batch is its loader's ``batch_size``, else the median of the sizes of the batches it
        drew (a batch sampler of its own), with varying sizes warned (:func:`_warn_varying_sizes`). It was rank 0's
        first batch x world size: under DDP with per-rank batch sizes each rank recorded its own (16 and 32: 32 on
        rank 0, 64 on rank 1), and a short or odd first batch set it for the whole test, unwarned.
        """
        drawn = run.batches.drawn
        sizes = [s for s in drawn if s is not None]
        own = statistics.median_low(sizes) if sizes else None
        total = own
        if run.world > 1:
            strategy = trainer.strategy
            counts = torch.tensor([float(own is not None), float(own or 0)], dtype=torch.float64)
            known, summed = torch.as_tensor(strategy.reduce(counts.to(strategy.root_device), reduce_op="sum")).tolist()
            total = int(summed) if int(known) == run.world else None
        accumulate = run.settings.accumulate_steps
        _warn_varying_sizes(drawn, run.batches.first_pass, own, accumulate, run.world, total)
        return None if total is None else total * accumulate

    def _scale(self, trainer: pl.Trainer, run: _TestRun, result: RangeTestResult) -> RangeTestResult:
        """Move the suggestion from the test's effective batch to the training one."""
        if result.suggestion is None:
            return result
        accumulate = run.settings.accumulate_steps
        train_per_device = _loader_batch_size(run.train_loader)
        if self.test_batch_size is None:
            train_per_device = train_per_device or run.batches.batch_size
        target = self.target_batch_size
        if target is None and train_per_device is not None:
            target = train_per_device * run.world * accumulate
        if target is None or result.batch_size is None:
            if self.test_batch_size is not None or self.target_batch_size is not None:
                _lightning.warn(trainer, f"{self._who}: the batch size is unknown, so the LR is not scaled.")
            return result
        rule = self.scaling
        if rule == "noise" and result.noise_scale is None:
            if target != result.batch_size:
                raise LRFinderError(
                    f"{self._who}(scaling='noise'): the gradient noise scale was not measured ({result.noise_error}), "
                    f"so the LR found at batch {format_batch(result.batch_size)} cannot be scaled by it to batch "
                    f"{format_batch(target)}. Use "
                    "scaling='auto' (the noise rule when the noise scale is measured, else the optimizer family's), "
                    "'linear' or 'sqrt', or train at the test's batch size."
                )
            rule = "auto"  # the same batch: every rule keeps the LR (the warning above said why)
        with warnings.catch_warnings():
            if not trainer.is_global_zero:
                warnings.simplefilter("ignore")
            return result.scale(
                target,
                rule=rule,
                from_batch_size=result.batch_size,
                optimizer=self.optimizer if isinstance(self.optimizer, str) else run.optimizers[0],
            )

    # ----------------------------------------------------------------------------------------
    # Applying
    # ----------------------------------------------------------------------------------------

    def _apply(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        result: RangeTestResult,
        attr: str | None,
        *,
        rebuild: bool = False,
    ) -> float:
        """Put the LR where training reads it; return it.

        Under the module's own OneCycleLR/CyclicLR the LR put in is the cycle's peak,
        ``training_suggestion.max_lr`` (the divergence LR / 5 under the default rule, never below
        ``result.lr``, scaled to the training batch),
        as ``scheduler="onecycle"`` and ``lrfind fit`` do; otherwise ``result.lr``. With
        ``rebuild`` (the batch size changed) ``configure_optimizers`` runs again even without an
        attribute, so a schedule sized from ``trainer.estimated_stepping_batches`` fits the fit.
        """
        suggestion = result.training_suggestion
        if result.lr is None or suggestion is None:  # pragma: no cover - checked by the caller
            raise LRFinderError(f"{self._who}: no LR to apply.")
        lr = result.lr
        if self.optimizer is None and _has_cycle(trainer.lr_scheduler_configs):
            lr = suggestion.max_lr
        self._attr_value = None
        self._attr_used = attr
        before = _lr_holders(trainer, pl_module, attr) if attr is not None and self.attr_name is None else []
        # What each LR attribute holds now, put back if configure_optimizers cannot run again (_configure_again).
        self._lrs_before = [
            held
            for name in dict.fromkeys([*([attr] if attr is not None else []), *_lr_candidates(pl_module)])
            if _has_attr(pl_module, name) and _settable(pl_module, name)
            for held in _lr_holders(trainer, pl_module, name)
        ]
        if attr is not None:
            _set_lr_everywhere(trainer, pl_module, attr, lr)
            self._attr_value = lr
        if self.optimizer is not None:
            self._install_optimizer(trainer, pl_module, lr, with_scheduler=True)
            self._log_lr(trainer, pl_module, attr)
            return lr
        # The ratios between the groups the test swept at (each group's base LR to the largest).
        tested = _base_lrs(trainer.optimizers, trainer.lr_scheduler_configs)
        tested_optimizers = list(trainer.optimizers)
        if attr is not None or rebuild:
            # configure_optimizers again, now that the attribute holds the LR: optimizers and
            # schedulers built from it (OneCycleLR's max_lr, CyclicLR's bounds, a warm-up) use it.
            # After target_batch_size changed the batch, schedules sized from the fit's steps
            # (OneCycleLR(total_steps=trainer.estimated_stepping_batches)) need it too.
            self._configure_again(trainer, lr, attr)
        if attr is not None and self.attr_name is None and not _moved(tested, trainer):
            # The attribute found by name drives no LR configure_optimizers builds: when a later candidate does
            # (an unrelated self.lr beside the hparams.learning_rate it reads), that one takes the LR and the first
            # is left as it was. Else the first keeps it (the optimizers are rescaled to it below): a
            # configure_optimizers that returns the optimizer it built before reads none of them again.
            driving = self._attr_driving(trainer, pl_module, lr, tested, skip=attr.rsplit(".", 1)[-1])
            if driving is not None:
                _restore_holders(before)
                attr = self._attr_used = driving
            elif attr not in LR_ATTRIBUTES:
                # configure_optimizers returned the optimizers it returned before (built once, in __init__ or setup):
                # it read no attribute again, so whether one drives them is not seen in their LRs.
                cached = len(tested_optimizers) == len(trainer.optimizers) and all(
                    a is b for a, b in zip(tested_optimizers, trainer.optimizers)
                )
                if not (cached and any(math.isclose(float(before[0][2]), t, rel_tol=1e-9) for t in tested)):
                    # A nested hyper-parameter's LR is a guess from a wider search (a teacher's or a later stage's
                    # hparams.teacher["lr"]): one that drives nothing is left as it was, and the optimizers are
                    # rescaled. One that held a tested group's LR beside optimizers built once keeps the found LR,
                    # as a top-level one does: its checkpoint's hparams kept the old LR, which a module rebuilt from
                    # them trained with.
                    _restore_holders(before)
                    attr = self._attr_used = self._attr_value = None
                else:
                    # Kept on its value alone (the optimizer reads it no more): an unrelated one equal by chance (a
                    # teacher's at the same LR) is overwritten too, so it is named.
                    _lightning.info(
                        trainer,
                        f"{self._who}: {attr} held {float(before[0][2]):.2e}, the LR configure_optimizers' optimizer "
                        "(built once, not from it again) was built at, so it takes the found LR too. If it is not "
                        "that optimizer's LR (another model's), pass attr_name=False to leave it and every other "
                        "attribute as it is (the optimizers' LRs are then rescaled to the found LR).",
                    )
        factors = _factors(lr, tested, trainer)
        if attr is not None and len(factors) == len(tested):
            # The groups the attribute drives moved when it was set; when configure_optimizers scales it
            # for them (a head at self.lr * 10 beside a body at self.lr), they share a factor: the
            # attribute takes the value that builds the tested ratios (the found LR / 10 there), so it
            # says what training uses, and a module rebuilt from it (a checkpoint's hparams) trains the same.
            bases = _base_lrs(trainer.optimizers, trainer.lr_scheduler_configs)
            moved = [not math.isclose(t, b, rel_tol=1e-9) for t, b in zip(tested, bases)]
            driven = [f for f, m in zip(factors, moved) if m]
            if driven and all(math.isclose(f, driven[0], rel_tol=1e-9) for f in driven):
                if not math.isclose(driven[0], 1.0, rel_tol=1e-9):
                    value = lr * driven[0]
                    _set_lr_everywhere(trainer, pl_module, attr, value)
                    self._configure_again(trainer, lr, attr)
                    factors = _factors(lr, tested, trainer)
                    if all(math.isclose(f, 1.0, rel_tol=1e-6) for f, m in zip(factors, moved) if m):
                        self._attr_value = value
                    else:  # not linear in the attribute: back to the found LR, and the rescale below
                        _set_lr_everywhere(trainer, pl_module, attr, lr)
                        self._configure_again(trainer, lr, attr)
                        factors = _factors(lr, tested, trainer)
        self._log_lr(trainer, pl_module, attr)
        optimizers = list(trainer.optimizers)
        configs = list(trainer.lr_scheduler_configs)
        bases = _base_lrs(optimizers, configs)
        if all(math.isclose(f, 1.0, rel_tol=1e-9) for f in factors):
            return lr
        if attr is not None and not all(math.isclose(f, factors[0], rel_tol=1e-9) for f in factors):
            _lightning.warn(
                trainer,
                f"{self._who}: {attr} drives only some of the param groups (configure_optimizers sets the others' LRs "
                "another way), so setting it would train the groups at other ratios than the test swept. Each "
                f"group's LR is set to {lr:.2e} times its tested ratio: "
                + ", ".join(f"{b * f:.2e}" for b, f in zip(bases, factors))
                + ".",
            )
        # The optimizers do not carry the LR (no attribute, a hard-coded one, or one that drives only
        # some groups): move each group's LRs and its schedulers' to the found LR times its tested ratio.
        _rescale(optimizers, configs, factors)
        return lr

    def _find_attr(self, pl_module: pl.LightningModule) -> str | None:
        """The dotted path of the module's LR attribute, or ``None`` to rescale the optimizers instead.

        An ``attr_name`` the module lacks is looked up in its ``hparams`` next, as Lightning's
        tuner does for a plain name (``attr_name="learning_rate"`` for a ``save_hyperparameters()``
        argument); a dotted one too (``"optim.lr"`` for ``hparams.optim["lr"]``), which it refuses.

        Raises:
            AttributeError: ``attr_name`` names nothing numeric on the module or in its
                ``hparams``, or a read-only property.

        """
        if self.attr_name is False:
            return None
        if self.attr_name is not None:
            attr = self.attr_name
            if not _has_attr(pl_module, attr) and _has_attr(pl_module, f"hparams.{attr}"):
                attr = f"hparams.{attr}"
            held = _not_a_number(pl_module, attr)
            if not _has_attr(pl_module, attr) and held is not None:
                raise TypeError(
                    f"{self._who}(attr_name={self.attr_name!r}): it holds {held}, not a number, so the found LR "
                    "cannot be set. Hold the LR as a number (float(...) of a value read from a config), or leave "
                    "attr_name=None (the optimizers' LRs are then rescaled)."
                )
            if not _has_attr(pl_module, attr):
                # A typo'd name beside an LR the module does hold: name that one, which attr_name=None finds.
                held_lrs = [name for name in LR_ATTRIBUTES if _has_attr(pl_module, name)]
                raise AttributeError(
                    f"{self._who}(attr_name={self.attr_name!r}): {type(pl_module).__name__} has no such attribute"
                    + ("" if attr.startswith("hparams.") else " and no such entry in its hparams")
                    + (
                        f". It holds an LR in {' and '.join(map(repr, held_lrs))}: name that "
                        f"(attr_name={held_lrs[0]!r}), or leave attr_name=None, which finds it."
                        if held_lrs
                        else ". Set it in __init__ (e.g. self.lr = lr) or leave attr_name=None."
                    )
                )
            read_only = _read_only(pl_module, attr)
            if read_only is not None:
                raise AttributeError(
                    f"{self._who}(attr_name={self.attr_name!r}): it is {read_only}, so the found LR cannot be set. "
                    "Name an attribute that can take it (for a property, the one it reads, e.g. 'hparams.lr'), or "
                    "leave attr_name=None (the optimizers' LRs are then rescaled)."
                )
            return attr
        # A read-only property (``@property def lr``) cannot take the LR: the next candidate
        # (e.g. the ``hparams.lr`` it reads), else the rescale of the rebuilt optimizers.
        return next((n for n in _lr_candidates(pl_module) if _has_attr(pl_module, n) and _settable(pl_module, n)), None)

    def _warn_lr_not_a_number(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Say that an LR attribute holding no number (``self.lr = "1e-3"``) is passed over, and what follows.

        A nested hyper-parameter's LR (``hparams.optim["lr"] = "1e-3"``) is checked alike.
        """
        for name in (*LR_ATTRIBUTES, *_nested_lr_paths(pl_module)):
            held = _not_a_number(pl_module, name)
            if held is not None:
                _lightning.warn(
                    trainer,
                    f"{self._who}: {name} holds {held}, not a number, so it cannot take the found LR: the optimizers' "
                    f"LRs are rescaled to it instead, and {name} keeps its value, which the checkpoint's hparams and a "
                    "module rebuilt from them train with. Hold the LR as a number (float(...) of a value read from a "
                    "config), or name the attribute that holds it with attr_name.",
                )
                return

    def _warn_nested_lrs(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Name the nested hyper-parameters holding LRs when there are several, none of which is set."""
        nested = _nested_lr_attributes(pl_module)
        if len(nested) < 2:
            return
        names = ", ".join(path.removeprefix("hparams.") for path in nested)
        _lightning.warn(
            trainer,
            f"{self._who}: the hyper-parameters hold several LRs ({names}), so which one configure_optimizers reads "
            "is not guessed: the optimizers' LRs are rescaled to the found LR instead, and each keeps its value, which "
            "the checkpoint's hparams and a module rebuilt from them train with. Name the one to set with "
            f"attr_name={nested[0].removeprefix('hparams.')!r}.",
        )

    def _attr_driving(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, lr: float, tested: Sequence[float], skip: str
    ) -> str | None:
        """The first LR attribute (:data:`LR_ATTRIBUTES`, of a name other than ``skip``) that moves the rebuilt LRs.

        Each candidate is set to ``lr`` and ``configure_optimizers`` runs again; one that moves
        nothing is put back. Returns ``None`` when none does (the optimizers then hold the LRs
        the test swept at).
        """
        names = [skip]
        for candidate in _lr_candidates(pl_module):
            # A top-level name sets every holder of it (self.lr and hparams.lr): tried once. A nested one is its own.
            name = candidate.rsplit(".", 1)[-1] if candidate in LR_ATTRIBUTES else candidate
            if name in names or not (_has_attr(pl_module, candidate) and _settable(pl_module, candidate)):
                continue
            names.append(name)
            before = _lr_holders(trainer, pl_module, candidate)
            _set_lr_everywhere(trainer, pl_module, candidate, lr)
            self._configure_again(trainer, lr, candidate)
            if _moved(tested, trainer):
                return candidate
            _restore_holders(before)
            self._configure_again(trainer, lr, candidate)
        return None

    def _configure_again(self, trainer: pl.Trainer, lr: float, attr: str | None) -> None:
        """Run ``configure_optimizers`` again, to build the optimizers at the found LR; a clear error where it cannot.

        It ran once when the fit set up: one that cannot run twice (a ``self.parameters()`` generator kept from
        ``__init__``, empty the second time; a guard of its own) raised its error from inside Lightning, torch's
        "optimizer got an empty parameter list", and one that returned nothing the second time raised
        "max() arg is an empty sequence" from the rescaling. The LR attributes are put back first.
        """
        count = sum(1 for opt in trainer.optimizers if opt.param_groups)
        why = (
            f"to build the optimizers at the found LR {lr:.2e} after setting {attr} to it"
            if attr is not None
            else "to build the optimizers at the training batch target_batch_size set"
        )
        # attr_name=False rescales the optimizers configure_optimizers returned, without running it again (unless
        # the batch changed: a schedule sized from the fit's steps needs it).
        instead = (
            " Or pass attr_name=False: the optimizers it returned are then rescaled to the found LR, and it is not "
            "run again."
            if attr is not None and self.target_batch_size is None
            else ""
        )
        fix = (
            "configure_optimizers must build them anew on each call: a generator kept from __init__ "
            "(self.params = self.parameters()) is empty the second time, so call self.parameters() inside it."
            f"{instead} The LR attributes are left as they were."
        )
        try:
            trainer.strategy.setup_optimizers(trainer)
        except Exception as exc:
            _restore_holders(self._lrs_before)
            raise ModelError(
                f"{self._who}: configure_optimizers raised {type(exc).__name__} when the callback ran it again, {why}: "
                f"{sentence(str(exc))} {fix}"
            ) from exc
        if not any(opt.param_groups for opt in trainer.optimizers):  # None gives Lightning's stand-in, no groups
            _restore_holders(self._lrs_before)
            raise ModelError(
                f"{self._who}: configure_optimizers returned no optimizer when the callback ran it again, {why} (it "
                f"returned {plural(count, 'optimizer')} when the fit set up). {fix}"
            )

    def _log_lr(self, trainer: pl.Trainer, pl_module: pl.LightningModule, attr: str | None) -> None:
        """Give the loggers the attribute's final value when it is a hyper-parameter (once: MLflow refuses a change).

        ``TensorBoardLogger``'s ``hparams.yaml``, written at the fit's start, is written again with it.
        Not for a module that keeps its hyper-parameters from the loggers (``save_hyperparameters(logger=False)``):
        Lightning logs none of them, and the loggers got the LR alone (an ``hparams.yaml`` of one line).
        """
        if attr is None or self._attr_value is None or not _logs_hyperparameters(pl_module):
            return
        *path, name = attr.split(".")
        if path[:1] == ["hparams"]:
            path = path[1:]
        hparams = getattr(pl_module, "hparams", None)
        if not isinstance(hparams, Mapping):
            return
        # A nested hyper-parameter (attr_name="hparams.optim.lr") is logged as the top-level entry holding it.
        key = path[0] if path and path[0] in hparams else name
        if not trainer.is_global_zero or key not in hparams:
            return
        _log_hyperparameter(trainer, key, hparams[key] if key != name else self._attr_value)

    def _log_batch_size(self, trainer: pl.Trainer, pl_module: pl.LightningModule, per_device: int) -> None:
        """Give the loggers the ``batch_size`` set for ``target_batch_size`` when it is a hyper-parameter.

        Lightning logs the module's and the datamodule's hyper-parameters as they were saved, before
        ``on_train_start``: ``hparams.yaml`` said the batch from before, the checkpoint the one trained at.
        Only those of a holder whose hyper-parameters Lightning logs (not ``save_hyperparameters(logger=False)``).
        """
        dm = trainer.datamodule  # type: ignore[attr-defined]
        if trainer.is_global_zero and any(
            isinstance(h, Mapping) and "batch_size" in h and _logs_hyperparameters(owner)
            for owner, h in ((o, getattr(o, "hparams", None)) for o in (pl_module, dm))
        ):
            _log_hyperparameter(trainer, "batch_size", per_device)

    def _training_batch_size(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, accumulate: int | None = None, seen: int | None = None
    ) -> int | None:
        """The per-device batch to train at when ``target_batch_size`` differs from the fit's, else ``None``.

        The LR is never scaled for a batch that training does not use: the batch size is then
        set where Lightning's convention allows it (a ``batch_size`` attribute of the module or
        the datamodule, or in their ``hparams``, as ``BatchSizeFinder`` does), or the fit stops here.

        ``accumulate``: the micro-batches per step, when the test found them (a manual
        ``training_step`` that accumulates by hand); default the Trainer's. ``seen``: the
        per-device batch the test drew, for a train loader that does not say its own.

        Raises:
            ValueError: No ``batch_size`` attribute to set, or a target that devices and
                accumulation do not divide.

        """
        target = self.target_batch_size
        per_device = _loader_batch_size(trainer.train_dataloader) or seen
        if target is None or per_device is None:
            return None
        world = max(1, int(trainer.world_size))
        if accumulate is None:
            accumulate = _accumulation(trainer, pl_module)
        training = per_device * world * accumulate
        if training == target:
            return None
        how = (
            f"{format_batch(per_device)} per device x {plural(world, 'device')} x "
            f"{plural(accumulate, 'accumulation step')}"
        )
        if not _holders(trainer, pl_module, "batch_size"):
            raise ValueError(
                f"{self._who}(target_batch_size={target}): training uses an effective batch of "
                f"{format_batch(training)} ({how}), so an LR scaled to batch {format_batch(target)} would be wrong for "
                "it. Give the LightningModule or the datamodule a batch_size attribute that train_dataloader() reads "
                "(LRFinder then sets it), make the train loader's batch "
                f"{format_batch(target // (world * accumulate))}, or leave target_batch_size=None."
            )
        if target % (world * accumulate):
            raise ValueError(
                f"{self._who}(target_batch_size={target}): {plural(world, 'device')} x "
                f"{plural(accumulate, 'accumulation step')} "
                f"do not divide it; training uses an effective batch of {format_batch(training)} ({how}). Pick a "
                f"multiple of {world * accumulate}."
            )
        return target // (world * accumulate)

    def _set_batch_size(self, trainer: pl.Trainer, pl_module: pl.LightningModule, per_device: int) -> None:
        """Set every ``batch_size`` holder and rebuild the train loader, as ``BatchSizeFinder`` does."""
        for holder in _holders(trainer, pl_module, "batch_size"):
            _put(holder, "batch_size", per_device)
        # Lightning's own BatchSizeFinder resets the fit loop's loader the same way; nothing has
        # been drawn from the iterator built before on_train_start, so training starts afresh.
        trainer.fit_loop._combined_loader = None
        trainer.fit_loop.setup_data()
        got = _loader_batch_size(trainer.train_dataloader)
        if got != per_device:
            raise ValueError(
                f"{self._who}(target_batch_size={self.target_batch_size}): set batch_size={per_device}, but the "
                f"rebuilt train loader has batch_size={got}. Make train_dataloader() read self.batch_size "
                "(or self.hparams.batch_size), or leave target_batch_size=None."
            )
        _lightning.info(trainer, f"{self._who}: batch_size set to {per_device} per device for target_batch_size")

    def _warn_limits(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Say so when the fit's limits are smaller than the test, and what the test does about it."""
        steps = self.settings.num_steps
        max_steps = trainer.max_steps
        if max_steps is not None and 0 <= max_steps < steps:
            _lightning.warn(
                trainer,
                f"{self._who}: max_steps={max_steps} is smaller than num_steps={steps}. The range test still runs "
                f"up to {steps} optimizer steps (they are not training: the weights are restored after them)"
                + ("." if self._find_only else f"; training then runs its {max_steps}."),
            )
        self._warn_batch_limit(trainer, _accumulation(trainer, pl_module))

    def _warn_batch_limit(self, trainer: pl.Trainer, accumulate: int, warned_at: int = 0) -> None:
        """Say so when ``limit_train_batches`` gives fewer batches than the test's ``num_steps x accumulate``.

        ``warned_at``: the micro-batches per step a check before the test used (under manual
        optimization 1, as accumulation by hand shows only in the test); no second warning when
        that one already fired.
        """
        steps = self.settings.num_steps
        limit = trainer.limit_train_batches
        available = trainer.num_training_batches
        if warned_at and math.isfinite(available) and available < steps * warned_at:
            return
        limited = limit is not None and not (isinstance(limit, float) and limit == 1.0)  # int 1 is one batch
        # overfit_batches=N sets limit_train_batches=N: name the option the user set.
        overfit = getattr(trainer, "overfit_batches", 0)
        option = f"overfit_batches={overfit}" if overfit else f"limit_train_batches={limit}"
        if limited and math.isfinite(available) and available < steps * accumulate:
            _lightning.warn(
                trainer,
                f"{self._who}: {option} gives training {plural(int(available), 'batch', 'batches')} per epoch, fewer "
                f"than the {steps * accumulate} the range test needs. The test cycles through the whole train "
                "loader, not only those batches.",
            )

    def _warn_group_ratios_dropped(self, trainer: pl.Trainer, module_optimizers: list[Optimizer]) -> None:
        """Warn when ``optimizer=`` replaces a module optimizer whose param groups are at different LRs.

        A ``configure_optimizers`` that puts a learned temperature at 0.01x of the body, or a backbone at 0.1x of its
        head, had those ratios dropped without a word: the registry optimizer's groups differ in weight decay only, so
        the test and training ran every parameter at the found LR. Not said where ``optimizer_settings`` gives
        ``lr_factors``, ``layer_lr_decay`` or ``bias_lr_factor`` (ratios of the user's own choosing).
        """
        if any(key in self.optimizer_settings for key in ("lr_factors", "layer_lr_decay", "bias_lr_factor")):
            return
        for optimizer in module_optimizers:
            lrs = [float(g["lr"]) for g in optimizer.param_groups if g["params"] and g.get("lr") is not None]
            top = max(lrs, default=0.0)
            # Equal but for float round-off (0.1 * 3 against 0.3): one LR, no ratio to keep ("1, 1 of the largest").
            if all(math.isclose(lr, top, rel_tol=1e-6) for lr in lrs):
                continue
            ratios = ", ".join(f"{lr / top:.3g}" for lr in lrs)
            _lightning.warn(
                trainer,
                f"{self._who}(optimizer={self.optimizer!r}) replaces configure_optimizers' "
                f"{type(optimizer).__name__}, whose {len(lrs)} param groups are at different LRs ({ratios} of the "
                "largest): the range test and training run every parameter at one LR, the found one. Leave "
                "optimizer=None to test and train the module's own optimizer at its ratios, or give them in "
                "optimizer_settings={'lr_factors': {'<module name>': <factor>}}.",
            )
            return

    def _warn_parameters_added(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, module_optimizers: list[Optimizer]
    ) -> None:
        """Warn when ``optimizer=`` steps trainable parameters the module's own optimizers left out.

        A ``configure_optimizers`` over ``self.head.parameters()`` leaves the backbone untrained without freezing
        it; the registry optimizer, built over the module, trained it too without a word. ``module_optimizers``
        are ``configure_optimizers``' (without parameters where it returned none: nothing to compare with then).
        """
        own = {id(p) for opt in module_optimizers for g in opt.param_groups for p in g["params"]}
        if not own:
            return
        now = {id(p) for opt in trainer.optimizers for g in opt.param_groups for p in g["params"]}
        added = [name for name, p in pl_module.named_parameters() if p.requires_grad and id(p) in now - own]
        if added:
            _lightning.warn(
                trainer,
                f"{self._who}(optimizer={self.optimizer!r}) is built over every trainable parameter of the module, "
                f"but configure_optimizers' {word(len(module_optimizers), 'optimizer')} left out "
                f"{len(added)} of them (first: {added[0]}): the range test and training step those too. "
                "Freeze them (requires_grad_(False)) if they are not to train, or leave optimizer=None to test and "
                "train the module's own optimizer.",
            )

    def _registry_optimizer(self, trainer: pl.Trainer, pl_module: pl.LightningModule, lr: float) -> Optimizer:
        """The optimizer of ``optimizer=`` over the module, its largest group at ``lr``.

        With a ``BaseFinetuning`` callback in the fit (``BackboneFinetuning``), over the parameters
        it has not frozen, as it requires: it adds the others as a param group of their own when it
        unfreezes them, and skips any the optimizer holds already. The registry keeps frozen
        parameters in their groups, so the backbone trained at the head's LR from its unfreeze on
        (not at ``backbone_initial_ratio_lr`` of it), and the LR BackboneFinetuning set for it in
        later epochs went to the optimizer's last group, the head's no-decay one.
        """
        from .optimizers import create_optimizer

        optimizer = create_optimizer(  # the found LR goes to the largest group, as the test recorded it
            self.optimizer, pl_module, lr=lr, lr_group="largest", **self.optimizer_settings  # type: ignore[arg-type]
        )
        if _lightning.fine_tuner(trainer.callbacks) is not None:  # type: ignore[attr-defined]
            _leave_out_frozen(optimizer, lr)
        return optimizer

    def _install_optimizer(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        lr: float,
        *,
        with_scheduler: bool,
        resumed: bool = False,
    ) -> None:
        """Put the registry optimizer of ``optimizer=`` in the fit, with the schedule of ``scheduler=`` if asked.

        The schedule is :meth:`_schedule_configs`'.
        """
        optimizer = self._registry_optimizer(trainer, pl_module, lr)
        with_scheduler = with_scheduler and self.scheduler is not None
        configs = self._schedule_configs(trainer, pl_module, optimizer, lr, resumed=resumed) if with_scheduler else []
        trainer.strategy.optimizers = [optimizer]
        trainer.strategy.lr_scheduler_configs = configs

    def _install_schedule(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, lr: float, *, resumed: bool = False
    ) -> None:
        """``scheduler=`` without ``optimizer=``: the schedule over the one optimizer ``configure_optimizers`` returns.

        That optimizer holds the found LR already (set through the attribute or rescaled); the schedule starts from
        it, as the one over a registry optimizer does. Refused where it cannot be (:meth:`_refuse_own_schedule`).
        """
        self._refuse_own_schedule(trainer, pl_module)
        configs = self._schedule_configs(trainer, pl_module, trainer.optimizers[0], lr, resumed=resumed)
        trainer.strategy.lr_scheduler_configs = configs

    def _refuse_own_schedule(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Refuse ``scheduler=`` without ``optimizer=`` where the module's optimizer cannot take the schedule alone.

        Several optimizers come with manual optimization (Lightning 2 refuses them under automatic optimization).

        Raises:
            ValueError: Manual optimization (Lightning steps no LR scheduler), or a ``configure_optimizers`` that
                returns a scheduler of its own (two schedules over one optimizer compound).

        """
        if self.scheduler is None or self.optimizer is not None:
            return
        if not pl_module.automatic_optimization:
            why = (
                "the module uses manual optimization, where Lightning steps no LR scheduler (training_step would "
                "have to call self.lr_schedulers().step() itself)"
            )
        elif trainer.lr_scheduler_configs:
            names = ", ".join(dict.fromkeys(type(c.scheduler).__name__ for c in trainer.lr_scheduler_configs))
            why = (
                f"configure_optimizers returns an LR scheduler of its own ({names}), and a second schedule over the "
                "same optimizer would compound with it"
            )
        else:
            return
        from .optimizers import list_optimizers

        raise ValueError(
            f"{self._who}(scheduler={self.scheduler!r}) without optimizer= schedules the one optimizer "
            f"configure_optimizers returns, but {why}. Pass optimizer= too, which replaces the module's optimizers "
            "and schedulers with one optimizer under this schedule: a registry name ("
            + ", ".join(map(repr, list_optimizers()))
            + ") or the class configure_optimizers builds, e.g. optimizer=torch.optim.AdamW, with its settings other "
            "than lr in optimizer_settings={'weight_decay': 0.01}. Or leave scheduler=None and keep the schedule in "
            "configure_optimizers, built from the LR attribute the callback sets."
        )

    def _schedule_configs(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        optimizer: Optimizer,
        lr: float,
        *,
        resumed: bool,
    ) -> list[LRSchedulerConfig]:
        """The Lightning scheduler config of ``scheduler=`` over ``optimizer``, built from the found LR.

        The schedule spans the optimizer steps the fit takes from where its loop stands (a second
        ``trainer.fit`` of the same Trainer goes on from the first's step); ``resumed``: all of the
        fit's, which the checkpoint's schedule state, loaded into it next, counts from.
        """
        scheduler = self.scheduler
        if scheduler is None:  # pragma: no cover - the callers check it
            return []
        configs: list[LRSchedulerConfig] = []
        from .schedulers import (
            _NONE_GIVEN,
            MAX_PREVIEW_STEPS,
            SCHEDULERS,
            advised_warmup,
            create_scheduler,
            lightning_scheduler_config,
            plateau_val_monitor,
        )

        accumulate = self.result.settings.accumulate_steps if self.result is not None else 1
        # A second fit of the same Trainer sized its new schedule to both fits' steps: it stopped halfway.
        total = (_optimizer_steps if resumed else _optimizer_steps_left)(trainer, pl_module, accumulate)
        done = 0 if resumed else trainer.global_step
        if not math.isfinite(total):
            raise ValueError(
                f"{self._who}(scheduler=...) needs a finite number of steps: {_how_to_bound(trainer)}."
            )
        found = self.result.training_suggestion if self.result is not None else None
        # An inconclusive test (None, warned about already) goes as no suggestion: create_scheduler warns of None.
        suggestion = _NONE_GIVEN if found is None else found
        settings = dict(self.scheduler_settings)
        warmup = self._advised_warmup_steps(trainer, pl_module, int(total))
        if warmup and "warmup_steps" not in settings:
            scaled = self.result.scaled if self.result is not None else None
            assert scaled is not None  # an advised warm-up comes from a scaling
            advice = advised_warmup(scheduler, warmup, scaled.base_lr, scaled.lr)
            if "warmup_start_factor" in settings:  # the user's start wins over the ramp's
                advice.pop("warmup_start_factor", None)
            settings.update(advice)
            if advice:
                _lightning.info(
                    trainer,
                    f"{self._who}: {warmup} warm-up steps from {scaled.base_lr:.2e}, as the batch-size scaling "
                    "advises",
                )
            else:
                _lightning.info(
                    trainer,
                    f"{self._who}: no warm-up before {self.scheduler}, which climbs from a low start itself (the "
                    f"batch-size scaling advised {warmup} steps)",
                )
        self._check_plateau_metric_logged(trainer, pl_module, settings)
        sched = create_scheduler(
            scheduler, optimizer, total_steps=int(total), suggestion=suggestion, **settings
        )
        fine_tuner = _lightning.fine_tuner(trainer.callbacks)  # type: ignore[attr-defined]
        if fine_tuner is not None:
            from .schedulers import check_groups_can_grow, steps_before_unfreeze

            check_groups_can_grow(
                sched,
                type(fine_tuner).__name__,
                f"{self._who}(scheduler={self.scheduler!r})",
                unfreeze=steps_before_unfreeze(
                    fine_tuner,
                    trainer.num_training_batches,
                    _micro_batches_per_step(trainer, pl_module, accumulate) or (lambda e: accumulate),
                ),
                warmup_option="scheduler_settings={{'warmup_steps': {}}}",
            )
        # A plateau schedule on a validation metric steps only after a validation (Lightning's rule: a frequency
        # that is a multiple of check_val_every_n_epoch). Stepped after every epoch, the first one without
        # validation stopped the fit, after the test: "conditioned on metric val_loss which is not available";
        # so did an epoch shorter than val_check_interval with check_val_every_n_epoch=None.
        monitor = plateau_val_monitor(scheduler, settings)
        interval, frequency = _plateau_stepping(trainer, monitor, self._who) if monitor else (None, 1)
        if self.report is not None and trainer.is_global_zero and total > MAX_PREVIEW_STEPS:
            # Stepping the schedule this long to draw it would take minutes: the report goes without it.
            _lightning.info(
                trainer,
                f"{self._who}: the report leaves the schedule out: {int(total):,} steps are more than "
                f"preview_schedule draws ({MAX_PREVIEW_STEPS:,})",
            )
        elif self.report is not None and trainer.is_global_zero:
            from .schedulers import preview_schedule

            with warnings.catch_warnings():
                # The same schedule again: create_scheduler above has said what there is to say
                # about it (onecycle "no room to rise" was printed twice).
                warnings.simplefilter("ignore")
                # plateau reads its metric once per `frequency` epochs, or batches under interval "step"
                batches = frequency if interval == "step" else trainer.num_training_batches
                per_read = max(1, math.ceil(batches / accumulate))
                per_epoch = per_read * (1 if interval == "step" else frequency) if math.isfinite(batches) else None
                self._schedule_preview = preview_schedule(
                    scheduler,
                    total_steps=int(total),
                    steps_per_epoch=per_epoch,
                    lr=lr,
                    suggestion=suggestion,
                    **settings,
                )
        config = lightning_scheduler_config(sched, interval=interval, frequency=frequency)
        batches = trainer.num_training_batches
        # Only a schedule that spans the run (cosine, onecycle, polynomial) is sized; exponential, step, plateau
        # read no length and go on as they are over a reloaded loader of another length.
        spans = SCHEDULERS[scheduler].needs_total_steps
        if spans and config["interval"] == "step" and math.isfinite(batches) and total != trainer.max_steps - done:
            self._sized = (int(batches), int(total))  # sized from the epochs' length, not from max_steps
        config_cls = _lightning.package_of(trainer).utilities.types.LRSchedulerConfig
        reduce_on_plateau = isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau)
        configs.append(config_cls(reduce_on_plateau=reduce_on_plateau, **config))
        if not pl_module.automatic_optimization:
            self._unstepped = (sched, int(getattr(sched, "last_epoch", 0)))
        return configs

    def _check_schedule(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Build the schedule of ``scheduler=`` once before the test, so bad settings fail before it.

        It is built again after the test, from the found LR and the suggestion; here a throw-away
        optimizer of the same kind stands in, and ``cyclic`` without ``max_lr`` (the suggestion's)
        gets any band above its ``base_lr``. Settings only the curve can judge are checked then.
        """
        from .schedulers import SCHEDULERS, create_scheduler, plateau_val_monitor

        total = _optimizer_steps_left(trainer, pl_module, _accumulation(trainer, pl_module))
        if not math.isfinite(total):
            raise ValueError(f"{self._who}(scheduler=...) needs a finite number of steps: {_how_to_bound(trainer)}.")
        if self.optimizer is not None:
            # The same groups; never stepped.
            optimizer = self._registry_optimizer(trainer, pl_module, self.settings.min_lr)
            kept, values = None, None
        else:
            # The module's own optimizer, whose groups a schedule writes into (initial_lr, a warm-up's start LR,
            # OneCycleLR's momentum): put back as they were after.
            optimizer = trainer.optimizers[0]
            kept = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
            # A tensor setting (lr=torch.tensor(1e-3)) is written in place by the schedule: its value too.
            values = [{k: v.detach().clone() for k, v in g.items() if isinstance(v, torch.Tensor)} for g in kept]
        settings = dict(self.scheduler_settings)
        if SCHEDULERS[self.scheduler].from_suggestion == "cyclic" and "max_lr" not in settings:  # type: ignore[index]
            base = settings.get("base_lr", self.settings.min_lr)
            try:
                two = [2 * float(b) for b in base] if isinstance(base, (list, tuple)) else 2 * float(base)
                settings["max_lr"] = two
            except (TypeError, ValueError):  # a malformed base_lr: create_scheduler names it
                settings["max_lr"] = 2 * self.settings.min_lr
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # said when the schedule is built for training
                create_scheduler(self.scheduler, optimizer, total_steps=int(total), **settings)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise type(exc)(
                f"{self._who}(scheduler={self.scheduler!r}, scheduler_settings=...): {exc} (checked before the range "
                f"test, over the fit's {int(total)} optimizer steps)"
            ) from exc
        finally:
            for group, before, tensors in zip(optimizer.param_groups, kept or (), values or ()):
                params = group["params"]
                group.clear()
                group.update(before, params=params)
                with torch.no_grad():
                    for key, value in tensors.items():
                        group[key].copy_(value)
        monitor = plateau_val_monitor(self.scheduler, settings)
        if monitor is not None:
            # Lightning said so only at the end of the first epoch, after the test: "conditioned on metric
            # val_loss which is not available".
            validates = _lightning.defines_validation_step(pl_module)
            if not validates or not trainer.limit_val_batches or _val_loader(trainer) is None:
                why = "the module has no validation_step" if not validates else "this fit runs no validation loop"
                raise ValueError(
                    f"{self._who}(scheduler='plateau') steps on monitor={monitor!r}, but {why}, so it is never logged. "
                    "Pass val_dataloaders (with a validation_step that logs it), or name a metric training_step "
                    "logs: scheduler_settings={'monitor': 'train_loss'}."
                )
            # Validation the schedule can step after, over the epochs training will have: target_batch_size's batch
            # changes their length after the test, where this was found only then.
            batches, at = None, ""
            try:
                # Under manual optimization the batches a step takes by hand (so the batch) are known after the test.
                automatic = pl_module.automatic_optimization
                per_device = self._training_batch_size(trainer, pl_module) if automatic else None
            except ValueError:  # said before the test, in target_batch_size's own words
                per_device = None
            if per_device is not None:
                batches = _epoch_batches_at(trainer, per_device)
                at = (
                    f" at the batch of {format_batch(per_device)} per device that "
                    f"target_batch_size={self.target_batch_size} sets"
                )
            _plateau_stepping(trainer, monitor, self._who, batches, at)

    def _check_plateau_metric_logged(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, settings: Mapping[str, Any]
    ) -> None:
        """Warn, after the test, of a plateau schedule on a training metric that nothing in the fit logs.

        A ``val...`` metric is checked before the test (:meth:`_check_schedule`). Another one is read
        from what ``training_step`` logged in the test's steps: Lightning said "ReduceLROnPlateau
        conditioned on metric train_loss which is not available" only at the end of the first
        epoch. Nothing is said where something else could log it: a validation loop, a hook of the
        module other than ``training_step``, a callback that is neither Lightning's nor lrfinder's,
        or manual optimization (Lightning does not step the schedule there).

        It warns rather than refuses: a ``training_step`` that logs the metric on some batches only
        (every 100th, an epoch's last) is a fit that works.
        """
        if self.scheduler != "plateau" or self._test_logged is None or not pl_module.automatic_optimization:
            return
        from .schedulers import SCHEDULERS

        monitor = settings.get("monitor", SCHEDULERS["plateau"].settings["monitor"])
        logged, steps = self._test_logged
        base = monitor.removesuffix("_step").removesuffix("_epoch") if isinstance(monitor, str) else monitor
        if not isinstance(monitor, str) or monitor.startswith("val") or monitor in logged or base in logged:
            return
        validates = _lightning.defines_validation_step(pl_module)
        if validates and trainer.limit_val_batches and _val_loader(trainer) is not None:
            return  # validation_step may log it; the test does not run it
        base_class = _lightning.package_of(trainer).LightningModule
        if any(getattr(type(pl_module), hook, None) is not getattr(base_class, hook, None) for hook in _LOGGING_HOOKS):
            return
        callbacks = trainer.callbacks  # type: ignore[attr-defined]
        if any(not type(c).__module__.startswith(_OWN_CALLBACK_PACKAGES) for c in callbacks):
            return
        keys = sorted(logged)
        said = f"it logged {', '.join(map(repr, keys))}" if keys else "it logged nothing"
        use = f"{{'monitor': {keys[0]!r}}}" if keys else "{'monitor': 'train_loss'} with self.log('train_loss', loss)"
        # A warning, not an error: a training_step that logs it on some batches only (every 100th, the epoch's
        # last) is a fit that works, and no one the test could not reach should be refused.
        _lightning.warn(
            trainer,
            f"{self._who}(scheduler='plateau') steps on monitor={monitor!r}, but training_step did not log it in any "
            f"of the range test's {steps} steps ({said}), and no validation loop or other hook of this fit logs "
            "metrics: unless training_step logs it on later batches, the fit stops at the end of its first epoch, "
            f"where Lightning reads it. Log it in training_step, self.log({monitor!r}, loss), or pass "
            f"scheduler_settings={use}.",
        )

    def _check_plateau_monitor_available(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Refuse, at an epoch's end where Lightning steps ``scheduler="plateau"``, a monitor that nothing logged.

        Lightning stops the fit a moment later anyway, with "ReduceLROnPlateau conditioned on metric nope which is not
        available", a list that starts with the ``lr_finder/*`` values and the advice to set the ``monitor`` key of an
        lr scheduler dict the user never wrote. This says it with the option that sets it and the metrics the fit
        logged. Only where nothing can still log the metric before Lightning reads it: the module's own
        ``on_train_epoch_end`` and a callback's (other than Lightning's or lrfinder's) run after this hook, so either
        leaves it to Lightning; so does an epoch that does not step the schedule (a frequency of several epochs, one
        after ``val_check_interval`` batches, one cut short by ``max_steps``) or a fit resuming mid-epoch, which
        Lightning does not step.

        Raises:
            ValueError: The monitor is not among ``trainer.callback_metrics`` where Lightning is about to read it.

        """
        # scheduler= comes with optimizer=: every schedule of the fit is the callback's (the module's went with it).
        if self.scheduler != "plateau" or not pl_module.automatic_optimization:
            return
        if getattr(trainer.fit_loop, "restarting", False):
            return
        # An epoch cut short (max_steps reached mid-epoch) is not stepped by Lightning: it never reads the monitor.
        ready = getattr(trainer.fit_loop.epoch_loop, "_num_ready_batches_reached", None)
        if callable(ready) and not ready():
            return
        epoch = trainer.current_epoch + 1
        configs = [
            c
            for c in trainer.lr_scheduler_configs
            if c.reduce_on_plateau and c.strict and c.interval == "epoch" and epoch % c.frequency == 0
        ]
        logged = trainer.callback_metrics
        missing = [c.monitor for c in configs if isinstance(c.monitor, str) and c.monitor not in logged]
        if not missing:
            return
        base_hook = _lightning.package_of(trainer).LightningModule.on_train_epoch_end
        if getattr(type(pl_module), "on_train_epoch_end", base_hook) is not base_hook:
            return
        base_callback = _lightning.package_of(trainer).Callback.on_train_epoch_end
        for callback in trainer.callbacks:  # type: ignore[attr-defined]
            hook = getattr(type(callback), "on_train_epoch_end", base_callback)
            if not type(callback).__module__.startswith(_OWN_CALLBACK_PACKAGES) and hook is not base_callback:
                return
        monitor = missing[0]
        keys = sorted(k for k in logged if not k.startswith("lr_finder/"))
        fix = f"log {monitor!r} with self.log in validation_step or training_step"
        if keys:
            # The close name of a typo, else a validation metric (what a plateau schedule usually reads).
            close = difflib.get_close_matches(monitor, keys, n=1)
            example = close[0] if close else next((k for k in keys if k.startswith("val")), keys[0])
            said = f"it logged {', '.join(map(repr, keys))}"
            fix = f"pass one of those, e.g. scheduler_settings={{'monitor': {example!r}}}, or {fix}"
        else:
            said = "it logged no metric"
        raise ValueError(
            f"{self._who}(scheduler='plateau') steps on monitor={monitor!r} at the end of epoch "
            f"{trainer.current_epoch}, but nothing in this fit logged it; {said}. {fix[0].upper()}{fix[1:]}."
        )

    def _advised_warmup_steps(self, trainer: pl.Trainer, pl_module: pl.LightningModule, total: int) -> int:
        """The warm-up the scaling advises (Goyal et al.: epochs when scaling up), in optimizer steps.

        Each warm-up epoch counts its own optimizer steps: ``ceil(batches / micro-batches per step)``
        with that epoch's accumulation (a ``GradientAccumulationScheduler`` may change it from one
        epoch to the next; under manual optimization, the batches a step takes by hand). With no
        epoch length (a loader without ``len``) the advice cannot be converted: it is dropped with a
        warning naming ``warmup_steps``.
        """
        scaled = self.result.scaled if self.result is not None else None
        if scaled is None or not scaled.warmup_epochs:
            return 0
        # The test's count: accumulate_grad_batches, or the batches a manual training_step takes per step.
        accumulate = self.result.settings.accumulate_steps if self.result is not None else 1
        batches = trainer.num_training_batches
        if not math.isfinite(batches):
            _lightning.warn(
                trainer,
                f"{self._who}: the batch-size scaling advises {plural(scaled.warmup_epochs, 'warm-up epoch')}, but "
                "the train "
                "loader has no length, so they cannot be counted in steps; no warm-up is built in. Pass "
                "scheduler_settings={'warmup_steps': N} to warm up for N optimizer steps.",
            )
            return 0
        per_step = _micro_batches_per_step(trainer, pl_module, accumulate) or (lambda epoch: accumulate)
        steps = sum(math.ceil(batches / per_step(epoch)) for epoch in range(scaled.warmup_epochs))
        return min(steps, total - 1)

    # ----------------------------------------------------------------------------------------
    # Publishing
    # ----------------------------------------------------------------------------------------

    def _publish(self, trainer: pl.Trainer, result: RangeTestResult) -> None:
        _send_metrics(trainer, _summary_metrics(result))
        if trainer.is_global_zero:
            for lg in trainer.loggers:
                _log_curve(lg, result)

    def _publish_applied(self, trainer: pl.Trainer, lr: float) -> None:
        """``lr_finder/applied_lr``: the LR set for training (a module's own cycle: its peak, which it climbs to).

        Under ``ddp_spawn`` the main process sees only ``callback_metrics``, so this is where it
        reads what the workers trained with; ``lr_finder/lr`` is the test's LR, which a module's
        OneCycleLR/CyclicLR turns into a peak twice as high.
        """
        _send_metrics(trainer, {"lr_finder/applied_lr": lr})

    def _write_report(self, trainer: pl.Trainer, result: RangeTestResult) -> None:
        if self.report is None or not trainer.is_global_zero:
            return
        try:
            from .report import save_report
        except ImportError as exc:  # pragma: no cover - matplotlib missing
            _lightning.warn(trainer, f"{self._who}: cannot write the report {self.report}: {exc}")
            return
        schedule = self._schedule_preview
        save_report(
            result,
            self.report,
            schedule=schedule,
            schedule_name=self.scheduler if schedule is not None else None,
            # A module's cycle trains up to its peak, not at the suggested LR; after an inconclusive test, at its own.
            applied_lr=self.applied_lr if self.applied_lr is not None else self._kept_lr,
        )
        _lightning.info(trainer, f"{self._who}: report written to {self.report}")


def _lr_candidates(pl_module: pl.LightningModule) -> list[str]:
    """Where ``attr_name=None`` looks for the LR, in order: :data:`LR_ATTRIBUTES`, then a nested hyper-parameter.

    The nested one (``hparams.optim.lr`` for ``save_hyperparameters({"optim": {"lr": 1e-3}})``) only when it is the
    module's one nested LR: of several (a GAN's ``gen.lr`` and ``disc.lr``), which one the optimizers read is not
    guessed (:meth:`LRFinder._warn_nested_lrs` names them).
    """
    nested = _nested_lr_attributes(pl_module)
    return [*LR_ATTRIBUTES, *nested] if len(nested) == 1 else list(LR_ATTRIBUTES)


def _is_scheduler_class(cls: type) -> bool:
    """Whether ``cls`` is a torch LR scheduler class (``ReduceLROnPlateau`` included)."""
    return issubclass(cls, (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau))


def _refuse_class_given(finder: object) -> None:
    """Refuse ``Trainer(callbacks=[LRFinder])``: the class given, not an instance (the Trainer is the hook's ``self``).

    Raises:
        TypeError: ``finder`` (the hook's ``self``) is no ``LRFinder``; the message names the class the Trainer holds.

    """
    if isinstance(finder, LRFinder):
        return
    given = [c for c in getattr(finder, "callbacks", None) or () if isinstance(c, type) and issubclass(c, LRFinder)]
    name = given[0].__name__ if given else "LRFinder"
    raise TypeError(
        f"Expected an LRFinder instance in Trainer(callbacks=[...]), but got the class {name} itself: pass "
        f"{name}() (with its settings, e.g. {name}(max_lr=1.0)), an instance, as for every Lightning callback"
    )


def _logs_hyperparameters(owner: Any) -> bool:
    """Whether Lightning logs ``owner``'s hyper-parameters: not after ``save_hyperparameters(logger=False)``."""
    return bool(getattr(owner, "_log_hyperparams", True))


def _leave_out_frozen(optimizer: Optimizer, lr: float) -> None:
    """Take the frozen parameters out of a new optimizer's groups, its largest remaining group at ``lr``.

    A group left empty is dropped; the groups keep their LR ratios. One of frozen parameters only
    is left as it was, for the test's own check to name.
    """
    kept = []
    for group in optimizer.param_groups:
        trainable = [p for p in group["params"] if p.requires_grad]
        if trainable:
            kept.append((group, trainable))
    if not kept:
        return
    top = max(float(group["lr"]) for group, _ in kept)
    for group, trainable in kept:
        group["params"] = trainable
        # The frozen group may have been the largest (lr_factors={"backbone": 10}): the largest left takes lr.
        group["lr"] = lr if float(group["lr"]) == top else float(group["lr"]) * (lr / top)
    optimizer.param_groups[:] = [group for group, _ in kept]
