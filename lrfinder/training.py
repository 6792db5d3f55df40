"""Train a model with a found learning rate: the Lightning loop behind ``lrfind fit``.

:func:`train` runs ``lightning.Trainer.fit`` with the chosen optimizer and LR schedule and
returns a :class:`TrainingResult` (the mean training loss and validation metrics of each epoch,
and the LR of every optimizer step). It is the library half of ``lrfind fit``, usable from
Python the same way:

* a plain ``nn.Module`` is trained with ``loss_fn(model(x), y)`` on ``(x, y)`` batches (and
  dicts with input/target keys, as the range test reads them), or without ``loss_fn`` on its
  own loss from dict batches (``model(**batch)``, Hugging Face style), wrapped in a small
  LightningModule made here;
* a ``LightningModule`` is trained as itself: its own ``training_step``, ``validation_step``,
  hooks and ``self.log`` calls. Only ``configure_optimizers`` is replaced, by an instance
  attribute that shadows the class's method for the length of the call and is removed
  afterwards. The class is never touched, so a checkpoint of the module loads with the user's
  class, and a wrapper module (which would lose the module's hooks and its ``self.log``, tied by
  Lightning to the module the Trainer drives) is not needed.

Training never hands back a diverged model silently: a non-finite training loss, or a
non-finite weight at the end of an epoch, stops training and raises
:class:`TrainingDivergedError` naming the epoch. Ctrl-C (or a signal handler that raises
``KeyboardInterrupt``) raises ``KeyboardInterrupt`` after Lightning's clean shutdown, instead of
Lightning's ``sys.exit(1)``.

Example:
    >>> result = train(model, loader, optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
    ...                loss_fn=F.cross_entropy, epochs=3, scheduler="cosine")  # doctest: +SKIP
    >>> result.epochs[-1].train_loss  # doctest: +SKIP

"""

from __future__ import annotations

import contextlib
import functools
import importlib
import itertools
import logging
import math
import signal
import tempfile
import types
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn.parameter import is_lazy

from ._atomic import HANGUP, _clean_termination
from ._checks import caller_stacklevel, has_class_named, is_int, is_not_a_sequence, plain, single_number_note
from ._lightning import defines_validation_step, installed_packages, is_lightning_module, package_of
from ._lightning import fine_tuner as _fine_tuner
from ._warn import warn
from ._wording import plural
from .analysis import Suggestion
from .batches import (
    _batch_loss,
    _check_loss,
    drawing_error,
    infer_batch_size,
    target_broadcast_refused,
    to_device,
)
from .diagnostics import (
    _MISMATCH_ERRORS,
    TRAINING_FITS_NOTHING,
    _batch_message,
    _batch_parts,
    _is_out_of_memory,
    _NonFiniteDataWatch,
    is_batch_failure,
    negative_kl_div_message,
    negative_nll_message,
    raise_if_compile_failed,
    target_dtype_fix,
)
from .exceptions import DataError, LRFinderError
from .names import LIGHTNING_LOGGERS, scheduler_name
from .range_test import _LARGEST_ACCUMULATION, MAX_PASSES_PER_STEP, RangeTestResult, passes_per_step_error
from .schedulers import _NONE_GIVEN, _NoSuggestion, own_setting
from .settings import (
    check_callable,
    check_device,
    check_gradient_clipping,
    check_iterable,
    check_materialized,
    check_not_a_dataset,
    check_not_a_tensor_pair,
    check_optimizer_of,
    check_precision_name,
    check_sparse_gradients,
    empty_data_message,
    group_lr,
    pair_loss_hint,
    positional_hints,
    trainable_parameters,
    warn_unused_clip_algorithm,
)
from .stepping import eval_modes

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from . import _either as either
else:
    # For typing.get_type_hints, importing no Lightning until asked (see lrfinder._lightning.EITHER).
    from ._lightning import EITHER as either
    from ._lightning import EITHER as pl

__all__ = [
    "EpochSummary",
    "TrainingResult",
    "TrainingDivergedError",
    "train",
    "check_plateau_has_val",
    "check_plateau_monitor_logged",
]

logger = logging.getLogger(__name__)

#: What :func:`train` tells to do with a batch format a plain model's loop cannot read.
_OTHER_FORMATS = "For other formats, train a LightningModule whose training_step returns the loss."
#: The same, as the end of :func:`~lrfinder.diagnostics._batch_message`'s sentence.
_OTHER_FORMATS_END = "for another batch format train a LightningModule whose training_step returns the loss"
#: How to mend a ``SparseAdam`` over dense gradients in training (train takes one optimizer).
_SPARSE_ADAM_FIX = (
    "Build the model's embeddings with sparse=False and train with an optimizer for dense gradients such as Adam, or "
    "train a LightningModule whose configure_optimizers gives SparseAdam the sparse embeddings' parameters and "
    "another optimizer the rest."
)


class TrainingDivergedError(LRFinderError):
    """Training produced a non-finite loss or non-finite weights; the model must not be used.

    Attributes:
        epoch: The epoch (1-based) in which it happened.
        result: What was trained up to that point.

    """

    def __init__(self, message: str, *, epoch: int, result: TrainingResult) -> None:
        super().__init__(message)
        self.epoch = epoch
        self.result = result


@dataclass(frozen=True)
class EpochSummary:
    """One epoch of training.

    Attributes:
        epoch: The epoch, 1-based.
        epochs: The number of epochs planned.
        train_loss: The mean training loss of the epoch's batches (NaN when none was seen).
        metrics: The validation metrics Lightning collected (names starting with ``val``).
        lr: The LR of the largest parameter group (the one a range test records) at the epoch's last
            optimizer step: the LR it trained with (after the last step a schedule may already be at 0).

    """

    epoch: int
    epochs: int
    train_loss: float
    metrics: Mapping[str, float] = field(default_factory=dict)
    lr: float = math.nan


@dataclass(frozen=True)
class TrainingResult:
    """What :func:`train` did.

    Attributes:
        epochs: One :class:`EpochSummary` per epoch finished.
        lrs: The LR of every optimizer step (the largest parameter group, as a range test records it).
        global_step: Optimizer steps taken (Lightning's ``trainer.global_step``).
        current_epoch: Lightning's ``trainer.current_epoch`` at the end.

    """

    epochs: tuple[EpochSummary, ...]
    lrs: tuple[float, ...]
    global_step: int
    current_epoch: int

    def __repr__(self) -> str:
        """Every field as the dataclass writes it, but the LRs and a long run's epochs in brief.

        The dataclass's repr wrote the LR of every optimizer step: a notebook cell ending in
        ``train(...)`` printed tens of thousands of characters of LRs for a few epochs. The
        numbers stay in :attr:`lrs` and :attr:`epochs`.

        Example:
            >>> TrainingResult((EpochSummary(1, 1, 0.5, lr=0.1),), (0.01, 0.1, 0.001), 3, 1)
            TrainingResult(epochs=(EpochSummary(epoch=1, epochs=1, train_loss=0.5, metrics={}, lr=0.1),), \
lrs=<3 values: first 1.00e-02, highest 1.00e-01, last 1.00e-03>, global_step=3, current_epoch=1)

        """
        from .refine import brief_repr

        return brief_repr(self, {"lrs": _brief_lrs, "epochs": _brief_epochs})


def _brief_lrs(lrs: tuple[float, ...]) -> str:
    """A training's LRs in brief: their count, first, highest (a schedule's peak) and last."""
    if not lrs:
        return "()"
    count = f"{len(lrs)} value{'' if len(lrs) == 1 else 's'}"
    return f"<{count}: first {lrs[0]:.2e}, highest {max(lrs):.2e}, last {lrs[-1]:.2e}>"


def _brief_epochs(epochs: tuple[EpochSummary, ...]) -> str:
    """The epochs in full up to two, else their count and the first and last in full."""
    if len(epochs) <= 2:
        return repr(epochs)
    return f"<{len(epochs)} epochs: first {epochs[0]!r}, last {epochs[-1]!r}>"


def _reference_lr(optimizer: Any) -> float:
    """The LR of the optimizer's largest group: the one a range test records and the summaries print."""
    return max(float(g["lr"]) for g in optimizer.param_groups)


@functools.cache
def _classes(package: str) -> tuple[type, type, type]:
    """The plain-model wrappers (without and with validation) and the watching callback, on one distribution.

    A Trainer accepts modules and callbacks of its own distribution only (``lightning.pytorch``
    or ``pytorch_lightning``), so the classes are made per distribution, once.
    """
    pl_ = importlib.import_module(package)

    class PlainModule(pl_.LightningModule):  # type: ignore[name-defined,misc]
        """A plain model and its loss as a LightningModule (``(x, y)`` and dict batches, as the range test)."""

        def __init__(
            self, model: nn.Module, loss_fn: Callable[..., torch.Tensor] | None, configure: Callable[[], Any]
        ) -> None:
            super().__init__()
            self.model = model
            self.loss_fn = loss_fn
            self._configure = configure
            self._first: dict[str, str] = {}  # each data's first batch described, to name a later one unlike it
            self._first_backward: Any = None  # the first training batch, until its backward has run
            self._backward_ran = False

        def configure_optimizers(self) -> Any:
            return self._configure()

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if not self._backward_ran:
                self._first_backward = batch
            return _check_loss(self._loss(batch, batch_idx, "train_data"))

        def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
            """Lightning's backward; integer targets a loss refuses only there are said of the batch.

            ``huber_loss`` and ``smooth_l1_loss`` take int64 targets forward and fail in the backward pass with
            torch's bare "Found dtype Long but expected Float", from deep inside autograd.
            """
            try:
                super().backward(loss, *args, **kwargs)
            except RuntimeError as exc:
                batch = self._first_backward
                if self._backward_ran or not target_dtype_fix(exc, batch):
                    raise
                raise DataError(_batch_message(exc, batch, self.model, other_formats=_OTHER_FORMATS_END)) from exc
            # Only the first backward is looked at: the targets' dtype fails there or never.
            self._backward_ran = True
            self._first_backward = None

        def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
            """Before the first step, a ``SparseAdam`` over dense gradients is refused by name.

            torch failed inside the step with "SparseAdam does not support dense gradients, please consider Adam
            instead", where Adam refuses the sparse embeddings' gradients in turn.
            """
            if self.global_step == 0 and isinstance(optimizer, torch.optim.SparseAdam):
                check_sparse_gradients(self.model, optimizer, _SPARSE_ADAM_FIX)

        def _loss(self, batch: Any, batch_idx: int, name: str) -> torch.Tensor:
            """The batch's loss; a batch the model or loss_fn cannot take is said in terms of the batch.

            torch's "mat1 and mat2 shapes cannot be multiplied" came out of Lightning's loop as a bare
            RuntimeError, where the range test names the batch, the model's dtype and device, and the fix.
            """
            try:
                # A loss_fn broadcasting its targets against the output trained on the wrong loss with a warning.
                with target_broadcast_refused(name not in self._first and self.loss_fn is not None):
                    loss = _batch_loss(self.model, batch, self.loss_fn, None, fix=_OTHER_FORMATS)
            except LRFinderError:
                raise
            except _MISMATCH_ERRORS as exc:
                raise_if_compile_failed(exc)
                if _is_out_of_memory(exc):
                    raise
                first = self._first.get(name)
                where = "" if name == "train_data" else f"{name}: "
                if first is None:
                    message = _batch_message(exc, batch, self.model, other_formats=_OTHER_FORMATS_END)
                    raise DataError(where + message) from exc
                if is_batch_failure(exc, batch, first):
                    raise DataError(where + _batch_message(exc, batch, self.model, batch_idx, first)) from exc
                raise
            self._first.setdefault(name, _batch_parts(batch))
            return loss

    class ValidatedModule(PlainModule):
        """:class:`PlainModule` with a validation loss, for ``val_data``.

        Its own class: Lightning warns "You defined a `validation_step` but have no
        `val_dataloader`" for a module that has one and no validation data, which a caller who
        wrote no ``validation_step`` could not act on.
        """

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            loss = self._loss(batch, batch_idx, "val_data")
            self.log("val_loss", loss, on_step=False, on_epoch=True, batch_size=infer_batch_size(None, batch))

    class Watch(pl_.Callback):  # type: ignore[name-defined,misc]
        """Records the LR of every step and the epoch losses; stops at the first sign of divergence."""

        def __init__(
            self,
            epochs: int,
            on_epoch_end: Callable[[EpochSummary], None] | None,
            on_batch_end: Callable[[int, int], None] | None,
            last_batch_of_one: str | None = None,
            count_epoch: bool = False,
        ) -> None:
            self.epochs = epochs
            # Data without a length: the accumulation is judged once an epoch ends before a full one (Watch's
            # on_before_optimizer_step), when its batches are known.
            self.count_epoch = count_epoch
            self._batch_idx = 0
            self._buffers: dict[str, torch.Tensor] = {}  # while count_epoch: the buffers before the first epoch
            self.on_epoch = on_epoch_end
            self.on_batch = on_batch_end
            # How each pass ends on a batch of one example (train_data's own account), else None: the first
            # batch's forward is watched for a BatchNorm layer that could not take it.
            self.last_batch_of_one = last_batch_of_one
            self._bn_hooks: list[Any] = []
            self._one_per_example: list[tuple[str, tuple[int, ...]]] = []  # BatchNorm layers and their input shape
            self._examples: int | None = None  # the first batch's examples, while its BatchNorm inputs are watched
            self.lrs: list[float] = []
            self.summaries: list[EpochSummary] = []
            self.losses: list[float] = []
            self.diverged: tuple[int, str] | None = None
            self.bad_data: str | None = None  # the batch holding NaN/inf when that made the loss non-finite
            self.nan_watch = _NonFiniteDataWatch()
            self.validating = False  # inside the validation loop: a batch that cannot be drawn is val_data's
            self.lowest = math.inf  # the lowest finite training loss of any step

        def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            self.validating = True

        def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            self.validating = False

        def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            self.losses = []

        def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            """With a pass ending on a batch of one example, watch the first batch's BatchNorm inputs."""
            if self.count_epoch and trainer.accumulate_grad_batches > 1:
                # A refused accumulation leaves the weights as they were, and the BatchNorm statistics too.
                self._buffers = {name: b.detach().clone() for name, b in pl_module.named_buffers()}
            if self.last_batch_of_one is None:
                return
            # A plain model's layers by their names in it (not under the wrapper's "model.").
            root = pl_module.model if isinstance(pl_module, PlainModule) else pl_module
            for name, module in root.named_modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):

                    def seen(m: nn.Module, args: tuple[Any, ...], name: str = name) -> None:
                        x = args[0] if args else None
                        batch_stats = m.training or getattr(m, "running_mean", None) is None
                        if isinstance(x, torch.Tensor) and x.dim() >= 2 and batch_stats:
                            # Values per channel = examples x the spatial size: 1 per example fails on a batch of 1.
                            # A dim 0 other than the batch's examples (positions folded in, (N * T, C)) is not one
                            # value per example: a batch of one still gives T.
                            one_each = x.numel() // max(1, x.shape[1]) == x.shape[0]
                            if x.shape[0] > 1 and one_each and self._examples in (None, x.shape[0]):
                                self._one_per_example.append((name, tuple(x.shape)))

                    self._bn_hooks.append(module.register_forward_pre_hook(seen))

        def on_before_backward(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor) -> None:
            """Refuse a pass ending on a batch of one example that a BatchNorm layer cannot take.

            Checked after the first batch's forward, before any backward or step: it failed on that last batch,
            at the end of the first epoch, after training on the others.
            """
            if not self._bn_hooks:
                return
            for hook in self._bn_hooks:
                hook.remove()
            self._bn_hooks = []
            if self._one_per_example:
                name, shape = self._one_per_example[0]
                raise DataError(
                    f"train_data ends each pass on a batch of one example ({self.last_batch_of_one}), and the "
                    f"BatchNorm layer {name or 'the model'!r} takes one value per channel per example "
                    f"(its input is {shape} on the first batch): in training mode it needs more than one value per "
                    "channel, so training would fail on that batch, at the end of the first epoch. Set "
                    "drop_last=True on the DataLoader (that example is left out of each epoch), or a batch_size that "
                    "leaves no single example over."
                )

        def on_before_optimizer_step(
            self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: torch.optim.Optimizer
        ) -> None:
            """Over data without a length, the accumulation is judged at the first step an epoch's end forced.

            Lightning steps before ``accumulate_grad_batches`` batches only at an epoch's end, so the epoch's
            batches are known then, before that step changes a weight: the rule and message of data with a length
            (:func:`_check_accumulation`). ``accumulate_grad_batches=100`` over an unsized epoch of 4 batches
            trained with a 4/100 step without a word.
            """
            seen = self._batch_idx + 1
            if not self.count_epoch or not pl_module.automatic_optimization or seen >= trainer.accumulate_grad_batches:
                return
            self.count_epoch = False  # judged once: the first epoch's length stands for all
            buffers, self._buffers = self._buffers, {}
            try:
                # Lightning runs this hook inside the optimizer's step (its closure): the warning looks past
                # torch's frames too, to the caller's train(...) line. One frame deeper in _check_accumulation.
                level = caller_stacklevel(also=("torch",)) + 1
                _check_accumulation(seen, int(trainer.accumulate_grad_batches), 0, stacklevel=level)
            except ValueError:
                optimizer.zero_grad(set_to_none=True)  # nothing of the refused run left on the model
                with torch.no_grad():
                    for name, b in pl_module.named_buffers():
                        if name in buffers:
                            b.copy_(buffers[name])
                raise

        def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            for hook in self._bn_hooks:  # a fit without a backward (no batch)
                hook.remove()
            self._bn_hooks = []

        def on_train_batch_start(
            self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
        ) -> None:
            if self._bn_hooks and self._examples is None:  # the batch whose BatchNorm inputs are watched
                self._examples = infer_batch_size(None, batch)
            self._batch_idx = batch_idx
            # The Trainer's count, which a GradientAccumulationScheduler sets at each epoch's start.
            if batch_idx % trainer.accumulate_grad_batches == 0:
                self.lrs.append(_reference_lr(trainer.optimizers[0]))

        def on_train_batch_end(
            self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            if isinstance(loss, torch.Tensor) and loss.numel() == 1:
                value = float(loss.detach())
                if pl_module.automatic_optimization:
                    # Lightning hands on the loss divided by accumulate_grad_batches (what it backpropagates):
                    # the epoch's train_loss was 1/k of the loss with k batches accumulated.
                    value *= trainer.accumulate_grad_batches
                self.losses.append(value)
                if math.isfinite(value):
                    self.lowest = min(self.lowest, value)
                # NaN in the batch, not the LR (unless a batch with NaN/inf went through with a finite loss).
                blamed = self.nan_watch.blame([batch], math.isfinite(value)) if self.diverged is None else []
                if not math.isfinite(value) and self.diverged is None:
                    lr = _reference_lr(trainer.optimizers[0])
                    self.diverged = (
                        trainer.current_epoch + 1,
                        f"the training loss became {value} at step {trainer.global_step} (LR {lr:.2e})",
                    )
                    for _, parts in blamed:
                        self.bad_data = (
                            f"batch {batch_idx} of epoch {trainer.current_epoch + 1} holds NaN or inf in "
                            f"{', '.join(parts)} ({_batch_parts(batch)})"
                        )
                    trainer.should_stop = True
            if self.on_batch is not None:
                self.on_batch(trainer.current_epoch + 1, batch_idx)

        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            epoch = trainer.current_epoch + 1
            if self.diverged is None:
                bad = [name for name, p in pl_module.named_parameters() if not bool(torch.isfinite(p).all())]
                if bad:
                    self.diverged = (epoch, f"{plural(len(bad), 'weight tensor')} became NaN/inf (first: {bad[0]})")
                    trainer.should_stop = True
            mean = sum(self.losses) / len(self.losses) if self.losses else math.nan
            metrics = {
                key: float(value)
                for key, value in sorted(trainer.callback_metrics.items())
                if key.startswith("val") and isinstance(value, (torch.Tensor, float, int))
            }
            # The LR the epoch's last step used: the one read now is the next step's (a cosine's 0 after the last).
            lr = self.lrs[-1] if self.lrs else _reference_lr(trainer.optimizers[0])
            summary = EpochSummary(epoch, self.epochs, mean, metrics, lr)
            self.summaries.append(summary)
            if self.on_epoch is not None:
                self.on_epoch(summary)

    return PlainModule, ValidatedModule, Watch


#: Lightning's accelerator for each device type ``train`` runs on (``torch.device(...).type``).
_ACCELERATORS = {"cpu": "cpu", "cuda": "gpu", "mps": "mps"}


def trainer_devices(device: torch.device, given: object = None) -> tuple[str, int | list[int]]:
    """Lightning's ``Trainer(accelerator=..., devices=...)`` for ``device``, one mapping for every spelling of it.

    ``device`` is what :func:`lrfinder.settings.check_device` made of ``train``'s argument, so ``"mps:0"``,
    ``"mps"`` and ``torch.device("mps:0")`` map alike (``("mps", 1)``), as ``"cuda:1"``, ``1`` and
    ``torch.device("cuda", 1)`` do (``("gpu", [1])``); ``"cuda"`` is Lightning's first GPU (``("gpu", 1)``),
    ``"cpu"`` ``("cpu", 1)``.

    Args:
        device: The device to train on.
        given: The caller's spelling of it, for the message.

    Raises:
        ValueError: A device type Lightning's Trainer is not given here (``meta``, ``xpu``, ...): it trained on the
            CPU without a word.

    """
    accelerator = _ACCELERATORS.get(device.type)
    if accelerator is None:
        shown = device if given is None else given
        raise ValueError(
            f"Expected device to be 'cpu', 'cuda', 'cuda:N' or 'mps', but got device={shown!r} ({device.type!r} "
            "devices are not among the Lightning accelerators train runs on). Pass one of those, or train the model "
            "in your own loop or Trainer."
        )
    if device.type == "cuda" and device.index is not None:
        return accelerator, [device.index]
    return accelerator, 1


def _distribution(model: nn.Module, callbacks: object = ()) -> str:
    """The Lightning distribution to train ``model`` with: its own, else the ``callbacks``', else the preferred one.

    A plain model trains under either distribution: under the one all of ``callbacks`` belong to, when they
    do (``import pytorch_lightning as pl``, ``callbacks=[pl.callbacks.ModelCheckpoint(...)]`` was refused as
    no ``lightning.pytorch`` callback, a distribution the caller never named), else under the first installed.
    """
    if is_lightning_module(model):
        return package_of(model).__name__
    names = installed_packages()
    if not names:
        raise ImportError("train() needs Lightning: pip install lightning (or pytorch-lightning).")
    owners: set[str] = set()
    for callback in callbacks if isinstance(callbacks, (list, tuple)) else ():
        with contextlib.suppress(TypeError):  # not a Lightning object: refused, named, by train's check
            owners.add(package_of(callback).__name__)
    return owners.pop() if len(owners) == 1 and owners <= set(names) else names[0]


def _check_schedule_arguments(
    scheduler: object, scheduler_settings: object, warmup_steps: object, suggestion: object
) -> None:
    """Refuse schedule arguments of the wrong type, and settings or a warm-up without a scheduler.

    Without a scheduler the LR is constant and ``scheduler_settings`` and ``warmup_steps`` were
    silently ignored (``suggestion`` may come without one: ``lrfind fit`` always passes it).
    """
    if scheduler_settings is not None and not isinstance(scheduler_settings, Mapping):
        raise TypeError(
            "Expected scheduler_settings to be a mapping of setting names to values (e.g. {'eta_min': 1e-5}) or "
            f"None, but got scheduler_settings={scheduler_settings!r:.60}"
        )
    if not is_int(warmup_steps):
        raise TypeError(f"Expected warmup_steps to be an int >= 0, but got warmup_steps={warmup_steps!r}")
    if warmup_steps < 0:  # type: ignore[operator]
        raise ValueError(f"Expected warmup_steps >= 0, but got warmup_steps={warmup_steps}")
    if suggestion is not None and not isinstance(suggestion, (Suggestion, RangeTestResult, _NoSuggestion)):
        raise TypeError(
            "Expected suggestion to be a lrfinder.Suggestion (a range test's result.training_suggestion), a "
            f"RangeTestResult or None, but got suggestion={suggestion!r:.60}"
        )
    if scheduler is None:
        if scheduler_settings:
            raise ValueError(
                f"Expected scheduler to be set when scheduler_settings are given, but got scheduler=None "
                f"(scheduler_settings={dict(scheduler_settings)!r:.60})"
            )
        if warmup_steps:
            raise ValueError(
                f"Expected scheduler to be set when warmup_steps is, but got scheduler=None "
                f"(warmup_steps={warmup_steps}): the warm-up would be ignored. For a warm-up to a constant LR "
                "pass scheduler='constant'."
            )


def _own_arguments(scheduler_settings: Mapping[str, Any], warmup_steps: Any) -> tuple[dict[str, Any], Any]:
    """Take :func:`train`'s own schedule arguments out of ``scheduler_settings``.

    ``warmup_steps`` is taken there too, as ``LRFinder(scheduler_settings=...)`` takes it;
    ``total_steps`` and ``suggestion`` are train's to set. Passed on as they were, they failed
    when the fit started with Python's "create_scheduler() got multiple values for keyword
    argument 'warmup_steps'".

    Raises:
        ValueError: ``total_steps`` or ``suggestion`` in ``scheduler_settings``, or a
            ``warmup_steps`` there other than a ``warmup_steps`` argument given too.

    """
    settings = dict(scheduler_settings)
    own = {
        "total_steps": "train sets it to the fit's optimizer steps (epochs times the steps per epoch)",
        "suggestion": "pass it as train's suggestion argument",
    }
    # torch's T_max for the length was refused as a setting cosine does not take ("it accepts: eta_min").
    found = own_setting(settings, own)
    if found is not None:
        key, meant, why = found
        also = f" ({why})" if why else ""
        raise ValueError(
            f"Expected scheduler_settings without {key!r}{also}: {own[meant]}; but got scheduler_settings with "
            f"{key}={settings[key]!r:.60}"
        )
    if "warmup_steps" in settings:
        inner = settings.pop("warmup_steps")
        if warmup_steps and inner != warmup_steps:
            raise ValueError(
                f"Expected warmup_steps once, but got warmup_steps={warmup_steps!r} and "
                f"scheduler_settings['warmup_steps']={inner!r}; give one of them"
            )
        warmup_steps = inner
    return settings, warmup_steps


def _configure(
    make_optimizer: Callable[[nn.Module], torch.optim.Optimizer],
    model: nn.Module,
    *,
    scheduler: str | None,
    scheduler_settings: Mapping[str, Any],
    total_steps: int | None,
    warmup_steps: int,
    suggestion: Suggestion | _NoSuggestion | None,
    loss_module: nn.Module | None = None,
    fine_tuner: object = None,
    unfreeze: tuple[int, int] | None = None,
) -> Callable[[], Any]:
    # A loss with parameters of its own (a learnable temperature, a center loss) trains with the
    # model: the optimizer may hold them.
    owner = model if loss_module is None else nn.ModuleList([model, loss_module])

    def configure_optimizers() -> Any:
        built_by = make_optimizer(model)
        # Lightning would train without an optimizer (None) or with one over another model's weights,
        # and say nothing of it.
        optimizer = built_by[0] if isinstance(built_by, (list, tuple)) and len(built_by) == 1 else built_by
        if not isinstance(optimizer, torch.optim.Optimizer):
            what = "None" if built_by is None else f"a {type(built_by).__name__}"
            raise TypeError(f"Expected optimizer(model) to return a torch.optim.Optimizer, but it returned {what}")
        check_optimizer_of(owner, optimizer)
        for index, group in enumerate(optimizer.param_groups):
            # torch checks only the LR given to the class: a group's lr='1e-4' (text from a YAML config) failed
            # inside torch's step ("bad operand type for unary -: 'str'"), and lr=-1e-3 trained uphill.
            group_lr(optimizer, index, group, use="train with")
        _warn_if_reused(optimizer, reads_suggestion=scheduler is not None and isinstance(suggestion, Suggestion))
        if scheduler is None:
            _warn_suggestion_unread(optimizer, suggestion if isinstance(suggestion, Suggestion) else None)
            return optimizer
        from .schedulers import check_groups_can_grow, create_scheduler, lightning_scheduler_config

        # As given: create_scheduler warns of an explicit None (an inconclusive result.suggestion), not of none given.
        built = create_scheduler(
            scheduler,
            optimizer,
            total_steps=total_steps,
            warmup_steps=warmup_steps,
            suggestion=suggestion,
            **scheduler_settings,
        )
        if fine_tuner is not None:  # it adds the backbone's param group as it unfreezes it
            who = f"train(scheduler={scheduler!r})"
            check_groups_can_grow(built, type(fine_tuner).__name__, who, unfreeze=unfreeze)
        return {"optimizer": optimizer, "lr_scheduler": lightning_scheduler_config(built)}

    return configure_optimizers


def _check_monitored(callbacks: Sequence[Any], has_val: bool, watchers: tuple[type, ...]) -> None:
    """Refuse a callback (``EarlyStopping``, ``ModelCheckpoint``) watching a metric a plain model's training never logs.

    train logs one metric for a plain ``nn.Module``, ``val_loss``, and only with ``val_data``: Lightning failed at the
    first epoch's end with "Early stopping conditioned on metric `val_acc` which is not available. Pass in or modify
    your `EarlyStopping` callback to use any of the following: ``", after the epoch had trained.

    A ``ModelCheckpoint`` may also monitor ``epoch`` or ``step``, which it adds to the metrics it reads
    (``monitor='step', mode='max'`` keeps the latest checkpoints).

    Raises:
        ValueError: A callback's ``monitor`` is not ``val_loss``, or is and there is no ``val_data``.

    """
    for i, callback in enumerate(callbacks):
        monitor = getattr(callback, "monitor", None) if isinstance(callback, watchers) else None
        if not isinstance(monitor, str) or (monitor == "val_loss" and has_val):
            continue
        if monitor in ("epoch", "step") and has_class_named(callback, "ModelCheckpoint"):
            continue  # ModelCheckpoint adds both to the metrics it reads: monitor='step', mode='max' keeps the latest
        fix = (
            "use monitor='val_loss'"
            if has_val
            else "pass val_data (the metric is then 'val_loss')"
            if monitor == "val_loss"
            else "pass val_data and use monitor='val_loss'"
        )
        raise ValueError(
            f"callbacks[{i}] ({type(callback).__name__}) monitors {monitor!r}, but train logs one metric for a plain "
            f"model, 'val_loss', and only with val_data{'' if has_val else ', which was not given'}: {fix}, or train a "
            f"LightningModule whose steps log {monitor!r}."
        )


def _warn_if_another_models(result: RangeTestResult, model: nn.Module, callbacks: object = ()) -> None:
    """Warn when ``result`` is a range test of a model with another number of trainable parameters than ``model``.

    An LR found on one model does not carry over to another (a larger network, other layers frozen): a result
    from the wrong notebook cell or file trained the model at its LR without a word. Results that did not
    record the count (``num_parameters=None``) are not compared, nor is a model with lazy modules not yet run
    (``nn.LazyLinear``: no count before its first batch), nor one trained with a ``BaseFinetuning`` callback
    among ``callbacks`` (``BackboneFinetuning``): it freezes layers as training starts and unfreezes them later,
    so the count before training says nothing of the model the LR is used on (a test of the head alone, the
    backbone frozen, is the one for its first epochs).
    """
    if result.num_parameters is None or not isinstance(model, nn.Module):
        return
    if _fine_tuner(callbacks) is not None:
        return
    try:
        trainable = trainable_parameters(model)
    except LRFinderError:  # no trainable parameters: said, with what to do, where train checks the model
        return
    if any(is_lazy(p) for p in trainable):  # a lazy module's count is known after its first batch only
        return
    count = sum(p.numel() for p in trainable)
    if count == result.num_parameters:
        return
    name = f" ({result.model_name})" if result.model_name else ""
    warn(
        f"suggestion is the range test of a model with {result.num_parameters:,} trainable parameters{name}, but "
        f"this model has {count:,}: an LR found on another model, or with other layers frozen, does not carry "
        "over. Run the range test on this model as it will train, and pass that result.",
        UserWarning,
    )


def _warn_suggestion_unread(optimizer: torch.optim.Optimizer, suggestion: Suggestion | None) -> None:
    """Warn when a ``suggestion`` without a ``scheduler`` is not the LR training runs at.

    Only a schedule reads the suggestion; without one training runs at the optimizer's LR, and a
    suggestion passed to train at its LR was dropped without a word (``optimizer=lambda m:
    SGD(m.parameters(), lr=1e-5)`` with a suggestion of 1e-2 trained at 1e-5). The optimizer's
    largest group LR is compared, the one a range test records.
    """
    if suggestion is None or not optimizer.param_groups:
        return
    lr = max(float(g["lr"]) for g in optimizer.param_groups)
    if not math.isclose(lr, suggestion.lr, rel_tol=1e-3):
        warn(
            f"suggestion is read by a schedule only, and scheduler is None: training runs at the optimizer's LR "
            f"{lr:.2e}, not the suggestion's {suggestion.lr:.2e}. Pass scheduler='constant' to train at the "
            "suggestion's LR, or build the optimizer at it.",
            UserWarning,
        )


#: The LRs each optimizer :func:`train` trained came with, to say when a later call gets it back.
_FIRST_LRS: weakref.WeakKeyDictionary[torch.optim.Optimizer, list[float]] = weakref.WeakKeyDictionary()
#: The LRs each optimizer was left at when its last :func:`train` call ended.
_LEFT_LRS: weakref.WeakKeyDictionary[torch.optim.Optimizer, list[float]] = weakref.WeakKeyDictionary()


def _record_left(optimizers: Iterable[torch.optim.Optimizer]) -> None:
    """Note the LRs a training left its optimizers at, for :func:`_warn_if_reused`."""
    for optimizer in optimizers:
        if optimizer in _FIRST_LRS:
            _LEFT_LRS[optimizer] = [float(g["lr"]) for g in optimizer.param_groups]


def _warn_if_reused(optimizer: torch.optim.Optimizer, *, reads_suggestion: bool) -> None:
    """Warn when ``optimizer(model)`` returns an optimizer an earlier :func:`train` call trained, at other LRs now.

    Its LRs are where that training's schedule left them (a cosine's 0 after its last step), and the
    schedule (or the constant LR) starts from them: a second call trained at LR 0 without a word. A
    schedule given a ``suggestion`` takes its LRs from it, and LRs set since that training ended
    (``group["lr"] = ...``, as the warning advises) are the caller's: neither is said.
    """
    lrs = [float(g["lr"]) for g in optimizer.param_groups]
    first = _FIRST_LRS.get(optimizer)
    if first is None:
        _FIRST_LRS[optimizer] = lrs
        return
    if reads_suggestion or lrs == first or lrs != _LEFT_LRS.get(optimizer):
        return
    # Called by Lightning's configure_optimizers: the warning points past lrfinder's and Lightning's frames, at train().
    warn(
        f"optimizer(model) returned the optimizer an earlier train() call trained: its LR is where that training "
        f"left it, {max(lrs):.2e} (it came with {max(first):.2e}), and this training starts from there. Build a new "
        "optimizer in the function (lambda m: lrfinder.create_optimizer(..., lr=...)), or set its LR first.",
        UserWarning,
    )


class _Batches:
    """A list or tuple of batches as one re-iterable, sized loader (what Lightning takes as one dataloader)."""

    def __init__(self, batches: Sequence[Any]) -> None:
        self.batches = batches

    def __iter__(self) -> Iterator[Any]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def _as_one_loader(data: Iterable[Any]) -> Iterable[Any]:
    return _Batches(data) if isinstance(data, (list, tuple)) else data


def _peeked(train_data: Iterator[Any]) -> Iterator[Any]:
    """``train_data``, a one-shot iterator, with its first batch drawn and put back in front of the rest.

    One that yields nothing (an ``iter(loader)`` looped over before) trained no step and returned ``train_loss=nan``
    without a word; it is a :class:`DataError` now, with :func:`lrfinder.settings.empty_data_message`'s words.

    Raises:
        DataError: ``train_data`` yields no batch, or its first batch cannot be drawn (a DataLoader worker died).

    """
    empty = object()
    try:
        first = next(train_data, empty)
    except Exception as exc:
        error = _batch_error(exc, train_data, "train_data", 0)  # as the batches Lightning's loop draws
        if error is None:
            raise
        raise error from exc
    if first is empty:
        raise DataError(empty_data_message(train_data))
    return itertools.chain([first], train_data)


def _check_first_val_batch(module: Any, val_data: Iterable[Any]) -> Iterable[Any]:
    """Run a plain model's validation loss on ``val_data``'s first batch before training; ``val_data`` to train with.

    A batch the model or ``loss_fn`` cannot take failed at the first epoch's validation, after a
    whole epoch had trained (the model changed); it fails now, with the same message
    (``val_data: The first batch does not go through ...``). The batch runs as Lightning's
    validation runs it: every submodule in eval mode (put back as it was) and without gradients,
    so nothing the model keeps (BatchNorm's running statistics) moves; on the device the model is
    on. A one-shot iterator (a generator) is peeked and put back in front of the rest
    (``itertools.chain``), so no batch is lost; from a re-iterable (a DataLoader) a fresh iterator
    takes the batch, under a forked torch RNG so that a shuffling loader leaves the training's
    randomness as it was.

    Raises:
        DataError: ``val_data`` yields no batch, its first batch cannot be drawn (a DataLoader worker died,
            examples the default ``collate_fn`` cannot batch), or it fails in the model or loss.

    """
    empty = object()
    with torch.random.fork_rng(devices=[]):
        iterator = iter(val_data)
        try:
            first = next(iterator, empty)
        except Exception as exc:
            # As the batches Lightning's loop draws (train's except): torch's bare errors, named.
            error = _batch_error(exc, val_data, "val_data", 0)
            if error is None:
                raise
            raise error from exc
    if first is empty:
        raise DataError(
            "val_data is empty: it yielded no batch. Pass a non-empty DataLoader/iterable, or val_data=None."
        )
    if isinstance(val_data, Iterator):
        val_data = itertools.chain([first], iterator)
    model = module.model
    device = next(iter(model.parameters())).device  # train() checked it has trainable ones
    with eval_modes(model), torch.no_grad():
        module._loss(to_device(first, device), 0, "val_data")
    return val_data


def _batch_error(exc: BaseException, data: object, name: str, index: int | None) -> DataError | None:
    """What to raise for ``exc``, raised while batch ``index`` of ``data`` was drawn; ``None`` to let it through.

    :func:`~lrfinder.batches.drawing_error`, its messages named after ``name`` (``"val_data"``).
    """
    return drawing_error(exc, data, index, name, prefix=f"{name}: ")


def _last_batch_of_one(data: Iterable[Any]) -> str | None:
    """How a pass over ``data`` ends on a batch of one example (``"33 examples in batches of 8"``), else ``None``.

    Read from what ``data`` says of itself, without drawing a batch (a shuffling loader's RNG would
    move): a DataLoader's sampler length, ``batch_size`` and ``drop_last``, or a list of batches'
    last and first batch. ``None`` when it cannot tell (a batch sampler of its own, no length).
    """
    if isinstance(data, _Batches):
        batches = data.batches
        if len(batches) < 2:
            return None
        first, last = infer_batch_size(None, batches[0]), infer_batch_size(None, batches[-1])
        return f"a list of {len(batches)} batches of {first}" if last == 1 and first and first > 1 else None
    if not isinstance(data, torch.utils.data.DataLoader) or data.batch_size is None or data.drop_last:
        return None
    try:
        examples = len(data.sampler)  # type: ignore[arg-type]
    except TypeError:  # an IterableDataset, a sampler without length
        return None
    size = int(data.batch_size)
    return f"{examples} examples in batches of {size}" if size > 1 and examples % size == 1 else None


def _length(data: Iterable[Any]) -> int | None:
    """Batches per epoch, ``None`` when unknown (an IterableDataset without ``__len__``, a generator)."""
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:  # no __len__, or a DataLoader over a dataset without one
        return None


def _plateau_metric_missing(exc: Exception, scheduler_settings: Mapping[str, Any] | None, trainer: Any) -> str | None:
    """What to do when ``plateau``'s metric was not logged, for Lightning's error saying so; else ``None``.

    Lightning's "ReduceLROnPlateau conditioned on metric val_loss which is not available ... Condition can be
    set using `monitor` key in lr scheduler dict" (a LightningModule without validation, after a whole epoch)
    pointed at a dict :func:`train` builds, not at its ``scheduler_settings`` or ``val_data``.
    """
    if type(exc).__name__ != "MisconfigurationException" or "ReduceLROnPlateau conditioned on metric" not in str(exc):
        return None
    monitor = (scheduler_settings or {}).get("monitor", "val_loss")
    logged = ", ".join(sorted(map(str, trainer.callback_metrics))) or "nothing"
    return (
        f"The plateau scheduler steps on {monitor!r} at the end of every epoch, but the model logged no {monitor!r} "
        f"in epoch {trainer.current_epoch + 1} (it logged: {logged}). Log it (a validation_step calling "
        f"self.log({monitor!r}, ...), and val_data: --val-data on the command line), or pass "
        "scheduler_settings={'monitor': NAME} (--scheduler-opt monitor=NAME) with a metric the model logs every epoch."
    )


def check_plateau_monitor_logged(
    module: nn.Module, scheduler: str | None, scheduler_settings: Mapping[str, Any] | None, *, has_val: bool
) -> None:
    """Refuse ``plateau`` on a ``val...`` metric a LightningModule cannot log: no validation loop will run.

    Lightning said so only at the end of the first epoch ("conditioned on metric val_loss which is not
    available"); ``LRFinder(scheduler='plateau')`` refuses the same before training.

    Raises:
        ValueError: The module has no ``validation_step``, or no validation data (``val_data`` or its own
            ``val_dataloader``).

    """
    from .schedulers import plateau_val_monitor

    monitor = plateau_val_monitor(scheduler, scheduler_settings)
    if monitor is None:
        return
    base = package_of(module).LightningModule
    if not defines_validation_step(module):
        why = f"{type(module).__name__} has no validation_step"
    elif not has_val and getattr(type(module), "val_dataloader", None) is base.val_dataloader:
        why = "there is no validation data (val_data=None, and the module has no val_dataloader)"
    else:
        return
    raise ValueError(
        f"The plateau scheduler steps on {monitor!r}, but {why}, so it is never logged. Pass val_data "
        f"(--val-data on the command line) with a validation_step that logs it, or name a metric training_step "
        "logs: scheduler_settings={'monitor': 'train_loss'} (--scheduler-opt monitor=train_loss)."
    )


def check_plateau_has_val(scheduler: str | None, *, lightning: bool, has_val: bool) -> None:
    """Refuse ``plateau`` for a plain model without validation data, before any training.

    The plain model's training logs only ``val_loss``, the metric ``plateau`` steps on; a
    LightningModule logs its own metrics, so it is not checked here.

    Raises:
        ValueError: ``scheduler="plateau"`` with a plain model and no validation data.

    """
    # Its callers keep the registry name ("Plateau" read as "plateau"); a name not a str (a numpy array) is not
    # compared, as the scheduler check refuses it with its own message.
    if isinstance(scheduler, str) and scheduler == "plateau" and not lightning and not has_val:
        raise ValueError(
            "The plateau scheduler lowers the LR when val_loss stops improving, but there is no validation data "
            "to compute val_loss on. Pass val_data (--val-data on the command line), or choose another scheduler."
        )


def _warn_if_ranks_train_alone(model: nn.Module, *, lightning: bool) -> None:
    """Warn (rank zero) when a process group of several ranks is up and ``model`` averages no gradients.

    ``train`` runs Lightning on this process alone: under ``torchrun`` each rank that calls it with a plain model
    trained its own copy on its own shard of the data, nothing averaged, and the ranks ended as different models
    without a word. A ``DistributedDataParallel`` (or FSDP) model averages its gradients in every backward: its
    ranks train as one model (:func:`~lrfinder.data_parallel.data_parallel_ranks` is what the range test reads).
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
        return
    from .data_parallel import data_parallel_ranks

    if data_parallel_ranks(model, torch.device("cpu")) is not None:
        return
    world = dist.get_world_size()
    fix = (
        "fit it with a Lightning Trainer(strategy='ddp') instead (with lrfinder.LRFinder for the range test)"
        if lightning
        else "wrap the model, train(DistributedDataParallel(model), ...), whose backward averages the gradients over "
        "the ranks (as range_test takes it)"
    )
    warn(
        f"train() runs on this process alone, in a process group of {world} ranks, and {type(model).__name__} is not "
        f"wrapped in DistributedDataParallel or FSDP: nothing is averaged between the ranks, so where the other ranks "
        f"call train() too, each trains its own copy on its own data, and they end as {world} different models. To "
        f"train one model over the ranks, {fix}; to train on one rank, call train() there alone."
    )


def _check_accumulation(
    batches: int | None, accumulate: int, total_steps: int, *, stacklevel: int | None = None
) -> None:
    """Refuse an ``accumulate_grad_batches`` over ten epochs of ``batches``; warn of one over an epoch.

    The callback's rule and message (:func:`~lrfinder.range_test.passes_per_step_error`): Lightning steps
    the optimizer at each epoch's end instead of cycling the data, after ``batches`` batches whose losses
    it still divides by ``accumulate``. ``batches`` ``None`` (not known yet) is not judged: ``train`` judges
    data without a length at the first epoch's end, once its batches are counted (before that step).
    ``stacklevel`` is the warning's, as :func:`~lrfinder._warn.warn` takes it (default: the caller's line).

    Raises:
        ValueError: ``accumulate`` over :data:`~lrfinder.range_test.MAX_PASSES_PER_STEP` times ``batches``.

    """
    # Past ten epochs per step, refused as the callback refuses it: train(accumulate_grad_batches=10**30) failed
    # inside Lightning's loss division with a bare "OverflowError: int too big to convert".
    error = passes_per_step_error(
        batches,
        accumulate,
        total_steps,
        option="accumulate_grad_batches",
        data="of an epoch of train_data",
        consequence=f"Lightning would step the optimizer once an epoch, after {batches} batches, each loss divided by "
        "it",
        fix=f"Use accumulate_grad_batches <= {batches}: no step can take more than an epoch's data.",
    )
    if error is not None:
        raise error
    if batches is not None and accumulate > batches:
        # Lightning steps at the epoch's end after fewer batches than it divides each loss by: a smaller step.
        counted = plural(batches, "batch", "batches")
        warn(
            f"accumulate_grad_batches={accumulate} is more than the {counted} of an epoch: Lightning steps the "
            f"optimizer at the end of every epoch, after {counted} whose losses it still divides by {accumulate}, so "
            f"each step's gradient is {batches}/{accumulate} of the mean gradient (the LR in effect "
            f"x{batches / accumulate:.2g}) over a batch of {counted}, not {accumulate}. Use "
            f"accumulate_grad_batches <= {batches}: no step can take more than an epoch's data (larger batches make "
            "fewer of them per epoch).",
            UserWarning,
            stacklevel=stacklevel,
        )


@positional_hints
def train(
    model: nn.Module,
    train_data: Iterable[Any],
    *,
    optimizer: Callable[[nn.Module], torch.optim.Optimizer],
    loss_fn: Callable[..., torch.Tensor] | None = None,
    val_data: Iterable[Any] | None = None,
    epochs: int = 1,
    scheduler: str | None = None,
    scheduler_settings: Mapping[str, Any] | None = None,
    warmup_steps: int = 0,
    suggestion: Suggestion | RangeTestResult | _NoSuggestion | None = _NONE_GIVEN,
    accumulate_grad_batches: int = 1,
    device: str | int | torch.device = "cpu",
    precision: str = "32",
    callbacks: Sequence[either.Callback] = (),
    on_epoch_end: Callable[[EpochSummary], None] | None = None,
    on_batch_end: Callable[[int, int], None] | None = None,
    gradient_clip_val: float | None = None,
    gradient_clip_algorithm: str = "norm",
) -> TrainingResult:
    """Train ``model`` with Lightning, the given optimizer and LR schedule.

    Args:
        model: A plain ``nn.Module`` (with ``loss_fn``, or one that computes its own loss from
            dict batches) or a ``LightningModule`` (its own ``training_step`` is the loss;
            ``loss_fn`` is ignored).
        train_data: The training DataLoader (its length sets the schedule's ``total_steps``), or a
            list of batches. A plain model reads ``(x, y)`` batches and dicts with input/target keys
            (``x``/``y``, ``input``/``target``, ...), as :func:`lrfinder.range_test` does. Without a
            length (an ``IterableDataset``), a schedule that needs ``total_steps`` is refused.
        optimizer: ``optimizer(model) -> torch.optim.Optimizer`` with the LR to train at, e.g.
            ``lambda m: create_optimizer("adamw", m, lr=3e-3)``. It holds the model's parameters
            (and, for a ``loss_fn`` module with parameters of its own, may hold those). An optimizer
            an earlier call trained, returned again, starts where that training's schedule left its
            LR (a cosine's 0), with a warning: build a new one in the function.
        loss_fn: ``loss_fn(model(x), y)`` for a plain model's ``(x, y)`` and dict batches.
            Without it, a plain model's dict batches go in as ``model(**batch)`` and the model's
            own loss is taken (a Hugging Face model given ``labels``: ``out.loss``, the first item
            of a ``return_dict=False`` tuple), as :func:`lrfinder.range_test` takes it; ``(x, y)``
            batches then fail on the first batch with a :class:`~lrfinder.DataError`.
        val_data: Validation DataLoader: a plain model logs ``val_loss``; a LightningModule runs
            its own ``validation_step`` when it has one.
        epochs: Training epochs (``>= 1``).
        scheduler: A scheduler registry name (:func:`lrfinder.list_schedulers`), stepped per
            optimizer step (per epoch for ``plateau``); ``None`` keeps the LR constant.
        scheduler_settings: The schedule's settings (``eta_min``, ``step_size``, ...); also
            ``warmup_steps``, as ``LRFinder(scheduler_settings=...)`` takes it (not with a
            different ``warmup_steps`` argument). ``total_steps`` is set from the data.
        warmup_steps: Linear warm-up steps before the schedule. The warm-up a batch-size scaling
            advises (``result.scaled.warmup_epochs``) is not built in here, as ``lrfind fit`` and
            the callback build it: pass it in optimizer steps (epochs times steps per epoch),
            with ``scheduler_settings`` from :func:`lrfinder.schedulers.advised_warmup` for its start.
        suggestion: The range test's :class:`~lrfinder.Suggestion` (``result.training_suggestion``), or
            the ``RangeTestResult`` itself, which reads its ``training_suggestion`` (a result without one is a
            ``ValueError`` with a ``scheduler``),
            read by the schedule as :func:`lrfinder.create_scheduler` reads it: ``onecycle`` and
            ``cyclic`` take their band from it, every other schedule starts from ``suggestion.lr``,
            which replaces the optimizer's LR (of its largest group; the others keep their ratios).
            Without a ``scheduler`` it is not read: training runs at the optimizer's LR (with a warning
            when that is not the suggestion's). Left out, the schedule starts from the optimizer's LR; an
            explicit ``None`` (``result.suggestion`` of an inconclusive test) does too, with
            :func:`lrfinder.create_scheduler`'s warning.
        accumulate_grad_batches: Batches per optimizer step.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``, or what else ``torch.device`` takes (a
            ``torch.device``; an int, the GPU's index: ``0`` is ``"cuda:0"``).
        precision: ``"32"``, ``"bf16-mixed"`` or ``"16-mixed"`` (Lightning's mixed precision;
            ``"16-mixed"`` with its GradScaler, on a GPU only: on the CPU it is refused, since
            Lightning would train in bfloat16 instead).
        callbacks: Extra Lightning callbacks, of the model's Lightning distribution (a plain model is
            trained under theirs, ``lightning.pytorch`` or ``pytorch_lightning``, when all are of one). A
            ``GradientAccumulationScheduler`` among them sets the accumulation epoch by epoch (with
            ``accumulate_grad_batches=1``): the schedule spans the optimizer steps it leaves.
        on_epoch_end: Called with an :class:`EpochSummary` after every epoch.
        on_batch_end: Called as ``on_batch_end(epoch, batch_index)`` after every training
            batch (epochs count from 1, batches from 0), e.g. to drive a progress bar.
        gradient_clip_val: Clip the gradients before every optimizer step (Lightning's
            ``Trainer(gradient_clip_val=...)``); ``None`` clips nothing. Pass the value the range
            test ran with (``range_test(gradient_clip_val=...)``): clipping moves the divergence.
        gradient_clip_algorithm: ``"norm"`` (the total L2 norm) or ``"value"`` (each element).

    The Trainer is the one of the model's Lightning distribution (``lightning.pytorch`` or
    ``pytorch_lightning``); a plain model is trained with the preferred installed one.
    It runs on this process alone: under ``torchrun``, a ``DistributedDataParallel`` (or FSDP) model
    averages its gradients in every backward, and the ranks train one model; a plain model in a process
    group of several ranks is warned about (each rank calling ``train`` trains its own copy).

    Returns:
        A :class:`TrainingResult`. The model is trained in place and moved back to the CPU.

    Raises:
        ValueError: ``epochs < 1``, ``accumulate_grad_batches`` not an int ``>= 1``, a
            ``gradient_clip_val`` that is not finite and > 0, ``precision="16-mixed"`` on the
            CPU (use ``"bf16-mixed"``), ``warmup_steps < 0``,
            ``scheduler_settings`` or ``warmup_steps`` without a ``scheduler``, or
            ``scheduler_settings`` holding ``total_steps``, ``suggestion`` or a second ``warmup_steps``;
            ``scheduler="plateau"`` whose ``monitor`` (``"val_loss"`` by default) a LightningModule did not
            log in an epoch (raised at that epoch's end; a plain model without ``val_data`` is refused before
            training).
        DataError: Empty data, a one-shot iterator for several epochs, no length for a schedule
            that needs ``total_steps``, or batches a plain model cannot read.
        TypeError: ``optimizer``, ``loss_fn``, ``on_epoch_end`` or ``on_batch_end`` not
            callable, or a class (an optimizer class, a loss class) where a factory or an instance
            is expected; ``optimizer(model)`` not returning an optimizer; ``scheduler_settings``
            not a mapping, ``suggestion`` not a :class:`~lrfinder.Suggestion` or result, ``callbacks`` not a
            list of Lightning callbacks.
        ModelError: The optimizer holds parameters that are not the model's (or the loss
            module's); a loss that is not a scalar tensor connected to the model; parameters
            or buffers on the ``meta`` device (no values to train); a ``SparseAdam`` some of whose
            parameters get dense gradients (refused before its first step).
        DataError: Also a batch the model or ``loss_fn`` cannot take (a shape, dtype or device
            mismatch: torch's error chained, the batch and the model described), and a training
            loss made NaN/inf by NaN/inf in its batch.
        TrainingDivergedError: The training loss or a weight became NaN/inf (with clean data).
        KeyboardInterrupt: Training was interrupted (Ctrl-C); Lightning has shut down cleanly.

    """
    # 0-d tensors and numpy scalars (np.int64 epochs) as the Python numbers they hold.
    epochs, warmup_steps, accumulate_grad_batches = plain(epochs), plain(warmup_steps), plain(accumulate_grad_batches)
    gradient_clip_val = plain(gradient_clip_val)
    if not is_int(epochs) or epochs < 1:
        raise ValueError(f"Expected epochs to be an int >= 1, but got epochs={epochs!r}")
    epochs = int(epochs)
    if isinstance(scheduler_settings, Mapping):
        scheduler_settings, warmup_steps = _own_arguments(scheduler_settings, warmup_steps)
    _check_schedule_arguments(scheduler, scheduler_settings, warmup_steps, suggestion)
    scheduler = scheduler_name(scheduler)  # "Plateau" as "plateau": the checks below compare the registry name
    if isinstance(suggestion, RangeTestResult):
        from .schedulers import _check_suggestion

        _warn_if_another_models(suggestion, model, callbacks)

        # Read as create_scheduler reads it (its training_suggestion: scaled to the training batch, refined), and
        # an inconclusive result refused before training, not when Lightning configures the optimizer. Without a
        # scheduler it is not read: its training_suggestion is kept to compare the optimizer's LR with
        # (_warn_suggestion_unread).
        suggestion = _check_suggestion(suggestion) if scheduler is not None else suggestion.training_suggestion
    if not is_int(accumulate_grad_batches) or accumulate_grad_batches < 1:
        raise ValueError(
            "Expected accumulate_grad_batches to be an int >= 1, but got "
            f"accumulate_grad_batches={accumulate_grad_batches!r}"
        )
    accumulate_grad_batches = int(accumulate_grad_batches)
    check_precision_name(precision)
    check_gradient_clipping(gradient_clip_val, gradient_clip_algorithm)
    warn_unused_clip_algorithm(gradient_clip_val, gradient_clip_algorithm)
    if gradient_clip_val is not None:
        # Lightning's Trainer takes an int or a float only: Fraction(1, 2), a real number the check takes, failed there.
        gradient_clip_val = float(gradient_clip_val)
    parsed = check_device("device", device)
    if parsed is None:
        raise ValueError(f"Expected device to be 'cpu', 'cuda', 'cuda:N' or 'mps', but got device={device!r}")
    accelerator, devices = trainer_devices(parsed, given=device)
    # As a string from here: device=0 is 'cuda:0'.
    device = "mps" if parsed.type == "mps" else str(parsed)
    if precision == "16-mixed" and device == "cpu":
        # Lightning would swap it for bf16-mixed with a warning: training in bfloat16 after a range test in
        # float16 (and `lrfind fit --precision 16-mixed` on the CPU is a usage error for the same reason).
        raise ValueError(
            "Expected precision='bf16-mixed' or '32' on the CPU (Lightning trains float16 with a GradScaler only on "
            "a GPU, and would train in bfloat16 instead), but got precision='16-mixed', device='cpu'. Use "
            "precision='bf16-mixed' on the CPU, or device='cuda'."
        )
    if optimizer is None:
        raise TypeError(
            "Expected optimizer to be a function model -> optimizer, e.g. "
            "optimizer=lambda m: lrfinder.create_optimizer('adamw', m, lr=3e-3), but got optimizer=None"
        )
    if isinstance(optimizer, torch.optim.Optimizer):
        # Its repr (every param group's settings, a dozen lines) was the message, with no word of why not.
        name = type(optimizer).__name__
        raise TypeError(
            f"Expected optimizer to be a function model -> optimizer, but got {name}(...), an optimizer already built: "
            "train builds the optimizer over the model it trains, when Lightning asks for it. Pass optimizer=lambda m: "
            f"{name}(m.parameters(), lr=...) (or lambda m: lrfinder.create_optimizer('adamw', m, lr=...))."
        )
    if isinstance(optimizer, str):
        raise TypeError(
            f"Expected optimizer to be a function model -> optimizer, but got the name {optimizer!r}. Pass "
            f"optimizer=lambda m: lrfinder.create_optimizer({optimizer!r}, m, lr=...)."
        )
    check_callable(
        "optimizer", optimizer, "a function model -> optimizer, e.g. lambda m: torch.optim.SGD(...)", arity=1
    )
    check_callable(
        "loss_fn", loss_fn, "e.g. torch.nn.functional.cross_entropy", arity=2,
        more_arguments=pair_loss_hint("in the training_step of a LightningModule (which train takes too) as", "self"),
    )  # fmt: skip
    check_callable("on_epoch_end", on_epoch_end, "on_epoch_end(summary)", arity=1)
    check_callable("on_batch_end", on_batch_end, "on_batch_end(epoch, batch_index)", arity=2)
    if is_not_a_sequence(callbacks):
        raise TypeError(
            f"Expected callbacks to be a list of Lightning callbacks, but got callbacks={callbacks!r:.80}"
            f"{single_number_note(callbacks)}"
        )
    callbacks = list(callbacks)
    check_iterable("train_data", train_data)
    check_not_a_dataset("train_data", train_data)
    if val_data is not None:
        check_iterable("val_data", val_data)
        check_not_a_dataset("val_data", val_data)
    trainable_parameters(model)
    check_materialized(model, lazy=False)  # a lazy module trains (its first batch sets its shapes); a meta one cannot
    lightning = is_lightning_module(model)
    if not lightning:
        # (x, y) as the whole data failed on its first "batch", x alone: "Cannot use batches of type a Tensor".
        check_not_a_tensor_pair("train_data", train_data, _OTHER_FORMATS)
        if val_data is not None:
            check_not_a_tensor_pair("val_data", val_data, _OTHER_FORMATS)
    check_plateau_has_val(scheduler, lightning=lightning, has_val=val_data is not None)
    if lightning:
        check_plateau_monitor_logged(model, scheduler, scheduler_settings, has_val=val_data is not None)
    if not lightning:
        # Lightning reads a list or tuple as several dataloaders; a plain model's are batches.
        train_data = _as_one_loader(train_data)
        val_data = _as_one_loader(val_data) if val_data is not None else None
    length = _length(train_data)
    if length == 0:
        raise DataError(empty_data_message(train_data))
    if val_data is not None and _length(val_data) == 0:
        # It trained with no validation at all, and the epoch lines had no val_loss, without a word.
        raise DataError(
            "val_data is empty: it yielded no batch. Pass a non-empty DataLoader/iterable, or val_data=None."
        )
    if isinstance(train_data, Iterator) and epochs > 1:
        raise DataError(
            f"train_data is a one-shot iterator (e.g. a generator): it is used up by the first of {epochs} epochs "
            "and the others would train on nothing. Pass a DataLoader or a list of batches."
        )
    if isinstance(train_data, Iterator):
        train_data = _peeked(train_data)
    if isinstance(val_data, Iterator) and epochs > 1 and (not lightning or defines_validation_step(model)):
        # The first epoch's validation used it up: each later epoch validated nothing, and its val_loss repeated
        # the first epoch's (Lightning keeps the last logged value), without a word.
        raise DataError(
            f"val_data is a one-shot iterator (e.g. a generator): it is used up by the first of {epochs} epochs' "
            "validation, and the others would validate nothing (their val_loss the first epoch's again). Pass a "
            "DataLoader or a list of batches."
        )
    if length is None and scheduler is not None:
        from .schedulers import SCHEDULERS

        spec = SCHEDULERS.get(scheduler)
        if spec is not None and spec.needs_total_steps:
            free = ", ".join(name for name, s in SCHEDULERS.items() if not s.needs_total_steps)
            raise DataError(
                f"The {scheduler!r} schedule needs the number of training steps, but train_data has no length "
                f"(an IterableDataset or a generator). Pass a DataLoader over a sized dataset, or a schedule that "
                f"needs no length ({free})."
            )
    _warn_if_ranks_train_alone(model, lightning=lightning)
    package = _distribution(model, callbacks)
    pl_ = importlib.import_module(package)
    for i, callback in enumerate(callbacks):
        if not isinstance(callback, pl_.Callback):
            instance = (
                f"; pass an instance, {callback.__name__}(...)"
                if isinstance(callback, type) and issubclass(callback, pl_.Callback)
                else ""
            )
            raise TypeError(
                f"Expected callbacks to hold {package}.Callback instances ("
                + ("the model's Lightning" if is_lightning_module(model) else "one Lightning for all of them")
                + "), but "
                f"callbacks[{i}] is {callback!r:.60}{instance}"
            )
        # Lightning's own refusals named Trainer settings train sets, not the caller: "Trainer that has no logger",
        # "Trainer was configured with `enable_checkpointing=False`".
        if isinstance(callback, pl_.callbacks.LearningRateMonitor):
            raise ValueError(
                f"callbacks[{i}] is a LearningRateMonitor, which needs a logger, and train's Trainer has none: the "
                "LR of every optimizer step is in the result, TrainingResult.lrs (each epoch's last in "
                "epochs[k].lr, which on_epoch_end gets as training goes). Drop it from callbacks."
            )
        if isinstance(callback, pl_.callbacks.ModelCheckpoint) and callback.dirpath is None:
            raise ValueError(
                f"callbacks[{i}] is a ModelCheckpoint without a dirpath: train runs Lightning in a temporary "
                "directory, deleted when training ends, and the checkpoints would go with it. Give it a directory: "
                "ModelCheckpoint(dirpath='checkpoints', ...)."
            )
    checkpointing = any(isinstance(c, pl_.callbacks.ModelCheckpoint) for c in callbacks)
    # A GradientAccumulationScheduler sets the accumulation epoch by epoch: the schedule spans the steps it
    # leaves (planned with accumulate_grad_batches, a onecycle stopped half-way, never annealed).
    by_epoch = next((c for c in callbacks if isinstance(c, pl_.callbacks.GradientAccumulationScheduler)), None)

    def per_step(epoch: int) -> int:
        return accumulate_grad_batches if by_epoch is None else int(by_epoch.get_accumulate_grad_batches(epoch))

    # The accumulation only changes at the scheduler's epochs: the epochs after its last change are counted at once.
    # Summed epoch by epoch, train(epochs=10**12) hung here before any check or word.
    changes = getattr(by_epoch, "scheduling", None) if by_epoch is not None else {}
    varying = min(epochs, max(changes, default=0) + 1) if isinstance(changes, Mapping) else epochs
    per_epoch = [per_step(e) for e in range(varying)]
    total_steps = (
        None
        if length is None
        else sum(max(1, math.ceil(length / a)) for a in per_epoch)
        + (epochs - varying) * max(1, math.ceil(length / per_epoch[-1]))
    )
    most = max(per_epoch)
    if length is None and most > _LARGEST_ACCUMULATION:
        # Over data without a length the rule is judged at the first epoch's end (Watch), but Lightning divides the
        # first batch's loss by accumulate_grad_batches before that: 10**30 failed there with a bare
        # "OverflowError: int too big to convert". No epoch holds a tenth of that many batches.
        raise ValueError(
            f"Expected accumulate_grad_batches <= {MAX_PASSES_PER_STEP} x the batches of an epoch of train_data, "
            f"but got accumulate_grad_batches={most:,}: train_data has no length (an IterableDataset or a "
            "generator), so its epoch is counted as the first one runs, and Lightning cannot even divide a loss by "
            f"a number past {_LARGEST_ACCUMULATION:,} (no epoch holds a tenth of that many batches). Use "
            "accumulate_grad_batches <= the batches of an epoch: no step can take more than an epoch's data."
        )
    _check_accumulation(length, most, total_steps or 0)
    fine_tuner = _fine_tuner(callbacks)
    # BackboneFinetuning's unfreeze, (epoch, optimizer steps before it): a warm-up still running there fails.
    from .schedulers import steps_before_unfreeze

    unfreeze = steps_before_unfreeze(fine_tuner, length, per_step)
    configure = _configure(
        optimizer,
        model,
        scheduler=scheduler,
        scheduler_settings=dict(scheduler_settings or {}),
        total_steps=total_steps,
        warmup_steps=warmup_steps,
        suggestion=suggestion,
        loss_module=loss_fn if isinstance(loss_fn, nn.Module) and not lightning else None,
        fine_tuner=fine_tuner,
        unfreeze=unfreeze,
    )
    plain_module, validated_module, watch_class = _classes(package)
    if lightning:
        module = model
        has_val = defines_validation_step(model)
        if val_data is not None and not has_val:
            # Lightning runs no validation loop without a validation_step: the data was dropped without a word.
            warn(
                f"val_data is ignored: {type(model).__name__} has no validation_step, so no validation runs and no "
                "val metric is logged. Define a validation_step that logs its metrics, or drop val_data.",
                UserWarning,
            )
        # Shadow the class's configure_optimizers on this instance only (removed in ``finally``).
        vars(module)["configure_optimizers"] = types.MethodType(lambda self: configure(), module)
    else:
        has_val = val_data is not None
        _check_monitored(callbacks, has_val, (pl_.callbacks.EarlyStopping, pl_.callbacks.ModelCheckpoint))
        wrapper = validated_module if has_val else plain_module
        module = wrapper(model, loss_fn, configure)
        if val_data is not None:
            # A batch the model cannot take failed at the first epoch's end, after the epoch had trained.
            val_data = _check_first_val_batch(module, val_data)
    watch = watch_class(epochs, on_epoch_end, on_batch_end, _last_batch_of_one(train_data), length is None)
    sigint = signal.getsignal(signal.SIGINT)
    # Lightning sets its loggers to INFO on first import (possibly just above): banners and tips are
    # not results. Quiet for this training only: the caller's later Trainers log as they did.
    levels = {name: logging.getLogger(name).level for name in LIGHTNING_LOGGERS}
    if not logging.getLogger("lrfinder").isEnabledFor(logging.DEBUG):
        for name in LIGHTNING_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    try:
        # A hangup (the terminal closed) ended the process at once, the Trainer's root directory left in the
        # temporary directory: it is removed first. Lightning handles SIGTERM itself (a KeyboardInterrupt here).
        with _clean_termination(HANGUP), tempfile.TemporaryDirectory(prefix="lrfind-") as root:
            trainer = pl_.Trainer(
                max_epochs=epochs,
                accelerator=accelerator,
                devices=devices,
                logger=False,
                enable_checkpointing=checkpointing,  # the caller's ModelCheckpoint only (with its own dirpath)
                enable_progress_bar=False,
                enable_model_summary=False,
                num_sanity_val_steps=0,
                accumulate_grad_batches=accumulate_grad_batches,
                gradient_clip_val=gradient_clip_val,
                gradient_clip_algorithm=gradient_clip_algorithm,
                precision="32-true" if precision == "32" else precision,
                callbacks=[watch, *callbacks],
                default_root_dir=root,
            )
            try:
                trainer.fit(module, train_dataloaders=train_data, val_dataloaders=val_data if has_val else None)
            except SystemExit:
                # Lightning turns Ctrl-C into sys.exit(1) (and SIGTERM into SIGTERMException):
                # to a caller, training was interrupted.
                if trainer.interrupted or trainer.received_sigterm:
                    raise KeyboardInterrupt from None
                raise
            except Exception as exc:
                missing = _plateau_metric_missing(exc, scheduler_settings, trainer)
                if missing is not None:
                    raise ValueError(missing) from exc
                # A compiled model's backward graph, compiled at Lightning's first backward (the forward's failure
                # is said in _loss): torch's InductorError came out bare, 70 frames deep.
                raise_if_compile_failed(exc)
                # Lightning's loop drew the batch: torch's bare "object of type 'NoneType' has no len()" came out.
                name, loader = ("val_data", val_data) if watch.validating else ("train_data", train_data)
                error = _batch_error(exc, loader, name, None)
                if error is None:
                    raise
                raise error from exc
            finally:
                _record_left(trainer.optimizers)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        if lightning:
            vars(model).pop("configure_optimizers", None)
        # Lightning ignores SIGINT while it shuts down after Ctrl-C; give the caller its handler back.
        if signal.getsignal(signal.SIGINT) != sigint and sigint is not None:
            signal.signal(signal.SIGINT, sigint)
        model.to("cpu")
    if trainer.interrupted:
        raise KeyboardInterrupt
    result = TrainingResult(tuple(watch.summaries), tuple(watch.lrs), int(trainer.global_step), trainer.current_epoch)
    # range_test's check: an NLL or KL divergence fed raw logits falls without bound (before a divergence's
    # "LR too high", which it is not). A LightningModule's loss is its training_step's, loss_fn unused.
    negative = None
    if not lightning:
        negative = negative_kl_div_message(loss_fn, [watch.lowest], TRAINING_FITS_NOTHING) or negative_nll_message(
            loss_fn, [watch.lowest], TRAINING_FITS_NOTHING
        )
    if negative is not None:
        warn(negative)
    if watch.diverged is not None and watch.bad_data is not None:
        epoch, cause = watch.diverged
        raise DataError(
            f"Training stopped in epoch {epoch}/{epochs}: {cause}, and {watch.bad_data}: the data made the loss "
            "non-finite, not the learning rate. Clean the data (drop or repair those examples, e.g. with "
            "torch.nan_to_num or a filter in the Dataset) and train again."
        )
    if watch.diverged is not None:
        epoch, cause = watch.diverged
        raise TrainingDivergedError(
            f"Training diverged in epoch {epoch}/{epochs}: {cause}. The likely cause is an LR too high for "
            "training: train with a smaller LR (a stricter suggestion rule, or a lower max_lr for the range test), "
            "a warm-up, or a decaying schedule.",
            epoch=epoch,
            result=result,
        )
    return result
