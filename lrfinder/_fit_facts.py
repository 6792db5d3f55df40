"""What :class:`~lrfinder.LRFinder` reads off the fit: its steps, loaders, precision, clipping, resume and ranks.

Micro-batches per optimizer step (``accumulate_grad_batches``, a ``GradientAccumulationScheduler``,
accumulation by hand under manual optimization) and the optimizer steps of the whole fit; the
train loader's batch size and a loader rebuilt at another one; the first validation loader; the
precision and the gradient clipping the test ran under, as the result records them; the checkpoint
a fit resumes from; the mean over the ranks and whether the noise probe reads local gradients.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, cast

import torch
from torch.utils.data import BatchSampler, DataLoader, IterableDataset

from . import _lightning
from .batches import infer_batch_size
from .exceptions import DataError
from .names import GradientClipAlgorithm
from .settings import RangeTestSettings

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from .names import RecordedPrecision


def _mean_over_ranks(trainer: pl.Trainer, values: torch.Tensor) -> torch.Tensor:
    """The element-wise mean over the ranks of a 1-d float64 tensor: their sum, divided by the world size.

    Exact where every rank holds the same integer (a count of held-out batches, a micro-batch's
    size), as refine's :func:`~lrfinder.refine.fewest_over_ranks` and the noise probe's
    :meth:`~lrfinder.noise.NoiseProbe.reduce_local` need: they compare the means with ``==``.
    ``strategy.reduce(..., reduce_op="mean")`` is not: under NCCL it is ``ReduceOp.AVG``, which
    multiplies each rank's value by ``1 / world`` before summing, so that six ranks' 1.0 averaged to
    0.9999999999999999 (refine then held out no batch; equal sizes read as unequal, and the noise
    pairs were dropped). The sum is the same on every rank, and so is its quotient.
    """
    strategy = trainer.strategy
    total = strategy.reduce(values.to(device=strategy.root_device, dtype=torch.float64), reduce_op="sum")
    return torch.as_tensor(total) / max(1, int(trainer.world_size))


#: Lightning's tuners (``BatchSizeFinder``, ``LearningRateFinder``) save the fit's state at its start
#: to a temporary checkpoint named so and restore it in place, which sets ``trainer.ckpt_path``.
TUNER_CHECKPOINT_PREFIXES: tuple[str, ...] = (".scale_batch_size_", ".lr_find_")


def _with_clipping(
    trainer: pl.Trainer,
    settings: RangeTestSettings,
    clips: Sequence[tuple[float, str]],
    losses: Sequence[float],
    who: str = "LRFinder",
) -> RangeTestSettings:
    """``settings`` with the gradient clipping the sweep ran with, as recorded (:func:`_lightning.recorded_clipping`).

    The Trainer's ``gradient_clip_val`` is what Lightning clips with under automatic optimization
    by default, but a manual ``training_step`` clips by hand (``self.clip_gradients(opt,
    gradient_clip_val=0.5)``, and Lightning refuses the Trainer's setting there) and a module's
    ``configure_gradient_clipping`` may clip at its own value: the settings (the report's header,
    the saved result) said "no clipping" of a test that clipped every step. The most common
    recorded ``(value, algorithm)`` is kept, with an info line (from ``who``) when it varied; no clipping call
    over a sweep that stepped (a finite loss) is no clipping; a sweep without a finite loss keeps
    ``settings`` as they are.
    """
    if clips:
        counted = Counter(clips)
        (value, name), _ = counted.most_common(1)[0]
        algorithm: GradientClipAlgorithm = "value" if name == "value" else "norm"
        if len(counted) > 1:
            seen = ", ".join(f"{a} {v:g} ({n} calls)" for (v, a), n in counted.most_common())
            _lightning.info(
                trainer,
                f"{who}: the gradient clipping varied over the range test ({seen}); the result's settings record "
                f"the most common, {algorithm} {value:g}.",
            )
        return replace(settings, gradient_clip_val=value, gradient_clip_algorithm=algorithm)
    if any(math.isfinite(v) for v in losses):
        return replace(settings, gradient_clip_val=None, gradient_clip_algorithm="norm")
    return settings


def _resumed_from(trainer: pl.Trainer) -> str | None:
    """The checkpoint the fit resumes from, ``None`` for a fresh fit.

    A tuner's temporary checkpoint (:data:`TUNER_CHECKPOINT_PREFIXES`) is no resume: the fit
    restored its own starting state, so the test runs.
    """
    path = trainer.ckpt_path
    if path is None:
        return None
    name = str(path).replace("\\", "/").rsplit("/", 1)[-1]  # a local path or a URL
    return None if name.startswith(TUNER_CHECKPOINT_PREFIXES) else str(path)


def _rebuild_loader(loader: Any, batch_size: int) -> Any:
    """The same dataset, sampler and collate function with another batch size."""
    if not isinstance(loader, DataLoader):
        raise DataError(
            f"test_batch_size needs a single torch DataLoader as train loader, but got {type(loader).__name__}. "
            "Leave test_batch_size=None."
        )
    common: dict[str, Any] = {
        "batch_size": batch_size,
        "collate_fn": loader.collate_fn,
        "num_workers": loader.num_workers,
        "pin_memory": loader.pin_memory,
        "timeout": loader.timeout,
        "worker_init_fn": loader.worker_init_fn,
        "generator": loader.generator,
    }
    if loader.num_workers > 0:
        common["multiprocessing_context"] = loader.multiprocessing_context
    if isinstance(loader.dataset, IterableDataset):
        return DataLoader(loader.dataset, drop_last=loader.drop_last, **common)
    batch_sampler = loader.batch_sampler
    if batch_sampler is not None and type(batch_sampler) is not BatchSampler:
        raise DataError(
            f"test_batch_size cannot resize the custom batch sampler {type(batch_sampler).__name__}. "
            "Leave test_batch_size=None."
        )
    drop_last = batch_sampler.drop_last if batch_sampler is not None else loader.drop_last
    sampler = batch_sampler.sampler if batch_sampler is not None else loader.sampler
    return DataLoader(loader.dataset, sampler=sampler, drop_last=drop_last, **common)


def _examples_below_batch(loader: DataLoader[Any]) -> int | None:
    """How many examples each pass of ``loader`` holds, when that is fewer than its batch size; else ``None``.

    Every batch of such a loader is the whole sampler (``drop_last=False``): a ``test_batch_size`` above the
    dataset (or, under DDP, above the rank's share of it) runs the test at that smaller batch; with
    ``drop_last=True`` the loader gives no batch at all.
    """
    if loader.batch_size is None or isinstance(loader.dataset, IterableDataset):
        return None
    try:
        examples = len(loader.sampler)  # type: ignore[arg-type]
    except TypeError:  # a sampler without a length
        return None
    return examples if 0 < examples < loader.batch_size else None


def _loader_batch_size(loader: Any) -> int | None:
    """The per-device batch of the fit's train loader(s): one loader's, or the one all of a list/dict share.

    ``None`` when it is unknown from the loaders alone (no ``batch_size``, or loaders of different sizes).
    """
    if loader is None:
        return None
    if isinstance(loader, DataLoader):
        return infer_batch_size(loader, None)
    sizes = {infer_batch_size(lo, None) for lo in _lightning.flat_loaders(loader)}
    return sizes.pop() if len(sizes) == 1 else None


def _accumulation(trainer: pl.Trainer, pl_module: pl.LightningModule) -> int:
    """Micro-batches per optimizer step in the fit's current epoch (1 under manual optimization).

    The Trainer's ``accumulate_grad_batches``, or a ``GradientAccumulationScheduler``'s value
    for the epoch: that callback sets the Trainer's only at each epoch start, after the test.
    """
    if not pl_module.automatic_optimization:
        return 1
    by_epoch = _accumulation_scheduler(trainer)
    if by_epoch is not None:
        return int(by_epoch.get_accumulate_grad_batches(trainer.current_epoch))
    return int(trainer.accumulate_grad_batches)


def _accumulation_scheduler(trainer: pl.Trainer) -> Any | None:
    """The fit's ``GradientAccumulationScheduler`` (of the trainer's Lightning package), ``None`` without one."""
    scheduler_cls = _lightning.package_of(trainer).callbacks.GradientAccumulationScheduler
    return next((c for c in trainer.callbacks if isinstance(c, scheduler_cls)), None)  # type: ignore[attr-defined]


def _later_accumulation(trainer: pl.Trainer, pl_module: pl.LightningModule) -> tuple[int, int] | None:
    """The first later epoch where a ``GradientAccumulationScheduler`` changes the accumulation, and its value there.

    Later than the current epoch (the test's); ``None`` without one, or where the fit ends before it (``max_epochs``).

    The test sweeps at the current epoch's accumulation and the LR is scaled to that effective batch: a later
    epoch trains a larger (or smaller) batch at it unscaled.
    """
    if not pl_module.automatic_optimization:
        return None
    by_epoch = _accumulation_scheduler(trainer)
    scheduling = getattr(by_epoch, "scheduling", None)
    if by_epoch is None or not isinstance(scheduling, Mapping):
        return None
    epoch = int(trainer.current_epoch)
    now = int(by_epoch.get_accumulate_grad_batches(epoch))
    last = trainer.max_epochs if trainer.max_epochs is not None and trainer.max_epochs > 0 else None
    for later in sorted(int(e) for e in scheduling if int(e) > epoch and (last is None or int(e) < last)):
        value = int(by_epoch.get_accumulate_grad_batches(later))
        if value != now:
            return later, value
    return None


def _micro_batches_per_step(
    trainer: pl.Trainer, pl_module: pl.LightningModule, accumulate: int
) -> Callable[[int], int] | None:
    """Micro-batches per optimizer step in each epoch, where Lightning's step count does not know it.

    A ``GradientAccumulationScheduler``'s value for the epoch (it sets the Trainer's
    ``accumulate_grad_batches`` only at each epoch start), or under manual optimization the
    ``accumulate`` batches a step takes by hand; ``None`` when Lightning's own count holds.
    """
    if pl_module.automatic_optimization:
        scheduler_cls = _lightning.package_of(trainer).callbacks.GradientAccumulationScheduler
        by_epoch = next((c for c in trainer.callbacks if isinstance(c, scheduler_cls)), None)  # type: ignore[attr-defined]
        if by_epoch is None:
            return None
        return lambda epoch: int(by_epoch.get_accumulate_grad_batches(epoch))
    return (lambda epoch: accumulate) if accumulate > 1 else None


def _optimizer_steps(trainer: pl.Trainer, pl_module: pl.LightningModule, accumulate: int) -> float:
    """The optimizer steps the fit will take: what a schedule built for it is sized to.

    ``trainer.estimated_stepping_batches``, except where it counts batches for steps of several:
    under manual optimization with ``accumulate`` batches per optimizer step by hand (found by
    the test; Lightning's ``accumulate_grad_batches`` is 1 there), and with a
    ``GradientAccumulationScheduler`` (which sets the Trainer's ``accumulate_grad_batches`` only
    at each epoch start, after the test). Then the sum over epochs of ``ceil(batches per epoch /
    micro-batches per step)``, capped by ``max_steps`` (which counts optimizer steps): Lightning's
    own rounding, one step too many rather than too few when an epoch's last batches do not fill
    a step (OneCycleLR stepped past its ``total_steps`` raises).
    """
    total = trainer.estimated_stepping_batches
    if total < 0:
        # A train loader without a length over max_epochs: Lightning returns max_steps, -1 when unset.
        total = math.inf
    per_step = _micro_batches_per_step(trainer, pl_module, accumulate)
    if per_step is None:
        return total
    steps = _steps_by_epoch(trainer, per_step, first_epoch=0, done=0)
    return total if steps is None else steps  # else max_steps (optimizer steps), or infinite


def _steps_by_epoch(
    trainer: pl.Trainer, per_step: Callable[[int], int], *, first_epoch: int, done: int
) -> float | None:
    """Optimizer steps over epochs ``first_epoch`` .. ``max_epochs``, capped by ``max_steps`` less ``done``.

    Each epoch's ``ceil(batches / per_step(epoch))``; ``None`` without a bound on the epochs or a train loader
    length (the count is then ``max_steps``'s alone).
    """
    batches = trainer.num_training_batches
    max_epochs = trainer.max_epochs
    if max_epochs is None or max_epochs == -1 or not math.isfinite(batches):
        return None
    epochs = range(first_epoch, max(max_epochs, first_epoch + 1))
    steps = sum(math.ceil(batches / int(per_step(epoch))) for epoch in epochs)
    max_steps = trainer.max_steps
    return min(steps, max_steps - done) if max_steps is not None and max_steps != -1 else steps


def _optimizer_steps_left(trainer: pl.Trainer, pl_module: pl.LightningModule, accumulate: int) -> float:
    """The optimizer steps the fit takes from where its loop stands: a schedule built now is sized to them.

    :func:`_optimizer_steps` in a new fit. A second ``trainer.fit`` of the same Trainer goes on
    from the first's ``global_step`` and ``current_epoch``, so its new schedule spans only what is
    left: what ``max_steps`` leaves, and the epochs from ``current_epoch`` to ``max_epochs``
    counted over the train loader of this fit (which may not be the first's), whichever is fewer.
    """
    if trainer.global_step == 0 and trainer.current_epoch == 0:
        return _optimizer_steps(trainer, pl_module, accumulate)
    per_step = _micro_batches_per_step(trainer, pl_module, accumulate)
    if per_step is None:
        per_step = lambda epoch: int(trainer.accumulate_grad_batches)  # noqa: E731
    done = trainer.global_step
    steps = _steps_by_epoch(trainer, per_step, first_epoch=trainer.current_epoch, done=done)
    if steps is not None:
        return steps
    max_steps = trainer.max_steps
    return max_steps - done if max_steps is not None and max_steps != -1 else math.inf


def _how_to_bound(trainer: pl.Trainer) -> str:
    """What to set so the fit has a number of optimizer steps (for the error saying it has none)."""
    if not math.isfinite(trainer.num_training_batches):
        return "the train loader has no length (an IterableDataset), so max_epochs does not count steps; set max_steps"
    return "set max_epochs or max_steps"


def _local_gradients(trainer: pl.Trainer, pl_module: pl.LightningModule, accumulate: int) -> bool:
    """Whether the noise probe reads each backward's local gradient (``"ranks"``/``"accumulation"``).

    Under automatic optimization only (a manual ``training_step`` may run any number of
    backwards per step), with DDP over several processes or with gradient accumulation. Other
    data-parallel strategies (FSDP, DeepSpeed) shard or flatten the parameters, so their
    per-parameter hooks do not see a rank's whole gradient: those use blocks of steps. So does
    DDP with ``SyncBatchNorm``: it normalises every rank's examples with the statistics of the
    global batch, so a rank's own gradient is not that of an independent batch of its examples.
    """
    if not pl_module.automatic_optimization:
        return False
    if int(trainer.world_size) > 1:
        synced = any(isinstance(m, torch.nn.SyncBatchNorm) for m in pl_module.modules())
        return _lightning.is_ddp(trainer.strategy) and not synced
    return accumulate > 1


def _recorded_precision(trainer: pl.Trainer) -> RecordedPrecision:
    """The precision the test runs under: the Trainer's (its batches and forward go through its plugin).

    Lightning's ``"32-true"`` is written ``"32"``, as ``range_test`` names full precision; the
    others keep Lightning's names (:data:`~lrfinder.names.RECORDED_PRECISIONS`, every one Lightning 2 has).
    """
    name = str(getattr(trainer, "precision", "32-true"))
    return cast("RecordedPrecision", "32" if name == "32-true" else name)


#: The validation loop's attributes that ``setup_data()`` sets, put back by :func:`_val_loader`.
_LOADED_LOOP_STATE = ("_combined_loader", "_max_batches", "_last_val_dl_reload_epoch")


def _val_loader(trainer: pl.Trainer) -> Any:
    """The fit's first validation loader, or ``None``.

    Lightning loads it before ``on_train_start`` when the sanity check runs or the first epoch
    validates. Where neither does (``num_sanity_val_steps=0`` with ``check_val_every_n_epoch=2``),
    it is loaded here for the caller and the validation loop is left unloaded, with the RNGs put back:
    the fit loads its own at its first validation, as it would without LRFinder. Loaded for good,
    ``val_dataloader()`` ran before the first training batch, so what it drew from the global RNG
    (data made there, a ``random_split``) moved the fit's training batches and its validation data.
    ``val_dataloader()`` then runs once more per call. It runs with ``trainer.validating`` set
    (``trainer.state.stage`` "validate"), as where Lightning loads it itself, the stage put back
    after: a ``val_dataloader()`` that reads it saw "train" here and may have built another loader.
    """
    loaders = trainer.val_dataloaders
    if loaders is None and trainer.limit_val_batches:
        loop = trainer.fit_loop.epoch_loop.val_loop
        # Lightning's private state of a loaded loop (2.x); read where it is there, so another version still works.
        kept = {name: vars(loop)[name] for name in _LOADED_LOOP_STATE if name in vars(loop)}
        stage = trainer.state.stage
        try:
            with _lightning.preserved_randomness(getattr(trainer, "datamodule", None)):
                trainer.validating = True
                loop.setup_data()
            loaders = trainer.val_dataloaders
        except Exception:  # noqa: BLE001 - no validation in this fit
            return None
        finally:
            trainer.state.stage = stage
            vars(loop).update(kept)
    flat = [] if loaders is None else _lightning.flat_loaders(loaders)
    return flat[0] if flat else None


def _length(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


def _epoch_batches_at(trainer: pl.Trainer, batch_size: int) -> int | None:
    """The batches an epoch of the fit's train loader will have at another per-device ``batch_size``, else ``None``.

    Known before the loader is rebuilt for ``target_batch_size`` (:func:`_rebuild_loader`'s loader
    over the same sampler, cut by ``limit_train_batches`` as Lightning cuts it); ``None`` for a loader
    that cannot say (no length, a custom batch sampler, several loaders).
    """
    loaders = _lightning.flat_loaders(trainer.train_dataloader)
    if len(loaders) != 1:
        return None
    try:
        batches = _length(_rebuild_loader(loaders[0], batch_size))
    except (DataError, ValueError, TypeError):  # a loader _rebuild_loader cannot resize
        return None
    limit = trainer.limit_train_batches
    if batches is None or isinstance(limit, bool):
        return batches
    if isinstance(limit, int):
        return min(batches, limit)
    return int(batches * limit) if isinstance(limit, float) else batches


def _plateau_stepping(
    trainer: pl.Trainer, monitor: str, who: str = "LRFinder", batches: float | None = None, at: str = ""
) -> tuple[Literal["step", "epoch"], int]:
    """Lightning's ``(interval, frequency)`` that steps a plateau schedule once after each validation.

    A plateau schedule on a validation metric must read it only where a validation loop has just
    logged it: stepped where none has run yet, Lightning stops the fit ("conditioned on metric
    val_loss which is not available"); stepped again before the next one, it reads the same value
    and counts it as an epoch without improvement. Lightning steps an ``"epoch"`` schedule when
    ``(current_epoch + 1) % frequency == 0`` and a ``"step"`` one when ``(batch_idx + 1) %
    frequency == 0``, ``batch_idx`` counted within the epoch. So, with ``L`` batches an epoch:

    - ``check_val_every_n_epoch=k``: validation ends every ``k``-th epoch: ``("epoch", k)``;
    - ``check_val_every_n_epoch=None, val_check_interval=N`` (every ``N`` batches of the fit):
      ``("step", N)`` where ``N`` divides ``L`` or the loader has no length (one endless epoch),
      ``("epoch", N // L)`` where ``L`` divides ``N``, ``("epoch", 1)`` where ``N < L`` (every epoch
      validates at least once: the schedule reads the latest metric at its end).

    ``batches`` is ``L`` when the epochs will have another length than the loader's now (the one
    ``target_batch_size`` sets, judged before the test), ``at`` the words that say so.

    Raises:
        ValueError: ``N > L`` and ``L`` does not divide it (some epochs end without a new metric), or
            a time-based ``val_check_interval`` (validation by the clock, not at the ends the
            schedule steps at); the message says what to set instead.

    """
    advice = "or name a metric training_step logs: scheduler_settings={'monitor': 'train_loss'}"
    where = f"{who}(scheduler='plateau') steps on monitor={monitor!r}"
    # A time-based val_check_interval ("00:00:10:00", a timedelta) leaves the attribute unset (Lightning 2.6).
    interval = getattr(trainer, "val_check_interval", None)
    if isinstance(interval, bool) or not isinstance(interval, (int, float)):
        seconds = getattr(trainer, "_val_check_time_interval", None)
        clock = f" (every {seconds:g} s)" if isinstance(seconds, (int, float)) else ""
        raise ValueError(
            f"{where}, but Trainer(val_check_interval=...) validates by the clock{clock}, and Lightning steps the "
            "schedule at epoch or batch counts, where no new metric may have been logged. Validate every N epochs "
            f"(check_val_every_n_epoch=N) or every N batches (val_check_interval=N, check_val_every_n_epoch=None), "
            f"{advice}."
        )
    every = trainer.check_val_every_n_epoch
    if every is not None:
        return "epoch", int(every)
    if batches is None:
        batches = trainer.num_training_batches
    n = int(interval)  # Lightning takes only an int (or a time) with check_val_every_n_epoch=None
    if not math.isfinite(batches) or int(batches) % n == 0:
        return "step", n
    batches = int(batches)
    if n % batches == 0:
        return "epoch", n // batches
    if n < batches:
        return "epoch", 1
    raise ValueError(
        f"{where}, but Trainer(val_check_interval={n}, check_val_every_n_epoch=None) validates every {n} training "
        f"batches and an epoch has {batches}{at}, so some epochs end without a new {monitor}, and Lightning steps the "
        f"schedule at epoch ends (or at batch counts within an epoch). Set val_check_interval to a multiple or a "
        f"divisor of {batches}, or validate every N epochs (check_val_every_n_epoch=N), {advice}."
    )
