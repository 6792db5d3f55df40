"""``find_lr``: the range test on a LightningModule without training, a fit that stops before its first step.

:func:`find_lr` runs an :class:`~lrfinder.LRFinder` in find-only mode in a ``trainer.fit`` (the
caller's Trainer or a quiet single-device one) that stops before its first training step, with
every other finder and checkpoint callback sitting out, and returns the result. Importable from
:mod:`lrfinder` and :mod:`lrfinder.callback`.
"""

from __future__ import annotations

import inspect
import sys
import warnings
from typing import TYPE_CHECKING, Any, cast

from torch import nn

from . import _lightning
from ._checks import state_dict_note
from ._wording import word
from .exceptions import DataError, InconclusiveCurveError, LRFinderError
from .names import PEER_OPTION_NAMES, TUNER_ONLY_OPTIONS, did_you_mean_each, peer_notes, trainer_side
from .range_test import RangeTestResult
from .settings import check_iterable, check_not_a_dataset

if TYPE_CHECKING:
    import pytorch_lightning as pl

    from . import _either as either
else:
    # For typing.get_type_hints: pl.Trainer is the Trainer of every installed distribution.
    pl = either = _lightning.EITHER

__all__ = ["find_lr"]

#: The start of Lightning's warning for a module with a ``validation_step`` fitted without a val loader,
#: which :func:`find_lr`'s fit (no validation: it stops before training) leaves out.
NO_VAL_LOADER_WARNING = r"You defined a `validation_step` but have no `val_dataloader`"


def _check_one_distribution(model: object, trainer: object, datamodule: object) -> None:
    """Refuse a ``trainer`` or ``datamodule`` of the other Lightning distribution than ``model``'s.

    ``lightning.pytorch`` and ``pytorch_lightning`` do not mix: a ``pytorch_lightning.Trainer`` refused a
    ``lightning.pytorch`` module from deep inside Lightning with "`model` must be a `LightningModule` or
    `torch._dynamo.OptimizedModule`, got `Lit`", which the module is.

    Raises:
        TypeError: ``trainer`` or ``datamodule`` is of another distribution than ``model``.

    """
    own = _lightning.package_of(model).__name__
    for name, obj, what in (("trainer", trainer, "Trainer"), ("datamodule", datamodule, "LightningDataModule")):
        if obj is None:
            continue
        other = _lightning.package_of(obj).__name__
        if other != own:
            raise TypeError(
                f"model is a {own} LightningModule ({type(model).__name__}), but {name} is a {other} {what}: the two "
                f"Lightning distributions do not mix (each takes only its own classes). Use one of them: "
                f"from {own} import {what} (or build the module on {other})."
            )


def _ran_elsewhere_message() -> str:
    """Why find_lr got no result when the fit ran in processes the strategy started, and what to use instead.

    In a notebook (an interactive interpreter) Lightning refuses ``strategy="ddp"`` and runs DDP only in such
    processes (``ddp_notebook``, what ``devices=2`` picks there): the advice to use ``"ddp"`` led to its
    ``MisconfigurationException``.
    """
    if hasattr(sys, "ps1") or sys.flags.interactive:  # Lightning's own test of an interactive environment
        return (
            "find_lr() got no result in this process: the strategy ran the fit in processes it started "
            "(ddp_notebook, the only DDP Lightning runs in a notebook or an interactive session), which send back "
            "the weights and metrics only. Run find_lr with a one-device Trainer (devices=1) and scale its result "
            "to the global batch (result.scale(batch_size * devices)), or put the LRFinder callback in the "
            "multi-device fit: it sets the LR in the processes that train, and trainer.callback_metrics"
            "['lr_finder/applied_lr'] gives it here."
        )
    return (
        "find_lr() got no result in this process: the strategy ran the fit elsewhere (e.g. ddp_spawn). "
        "Use strategy='ddp' or a single-device Trainer."
    )


def _raise_no_training(trainer: Any) -> None:
    """Say why a fit ran no training batch, when it did not: the test never started (not ``ddp_spawn``'s doing).

    An empty train loader was reported as "the strategy ran the fit elsewhere (e.g. ddp_spawn)".

    Raises:
        DataError: The train loader yielded no batch.
        LRFinderError: ``limit_train_batches``, ``max_steps`` or ``max_epochs`` of 0, or a Trainer
            whose fit already reached its ``max_epochs`` or ``max_steps`` (a second stage's find, as
            Lightning's tuner is called between fits).

    """
    error = no_training_error(trainer, find_only=True)
    if error is not None:
        raise error


def no_training_error(trainer: Any, *, find_only: bool) -> LRFinderError | None:
    """Why a fit ran no training batch, so the range test never started; ``None`` if it is none of these.

    ``find_only``: for ``find_lr``, which raises it; else for the ``LRFinder`` callback, which warns with it
    (Lightning only said "Total length of `DataLoader` across ranks is zero", and the callback nothing).

    Returns:
        A :class:`DataError` for an empty train loader; an :class:`LRFinderError` for ``limit_train_batches``,
        ``max_steps`` or ``max_epochs`` of 0, or a Trainer whose fit already reached its ``max_epochs`` or
        ``max_steps`` (a second stage's find, as Lightning's tuner is called between fits).

    """
    head = "find_lr() got no result" if find_only else "LRFinder ran no range test"
    for name in ("limit_train_batches", "max_steps", "max_epochs"):
        if getattr(trainer, name, None) == 0:
            return LRFinderError(
                f"{head}: the Trainer's {name}=0 runs no training batch, so the range test never "
                f"started. Leave {name} at its default, or set it above 0."
            )
    epochs, steps = getattr(trainer, "max_epochs", None), getattr(trainer, "max_steps", None)
    done = None
    if isinstance(epochs, int) and epochs > 0 and getattr(trainer, "current_epoch", 0) >= epochs:
        done = f"current_epoch={trainer.current_epoch} reached max_epochs={epochs}", "fit_loop.max_epochs"
    elif isinstance(steps, int) and steps > 0 and getattr(trainer, "global_step", 0) >= steps:
        done = f"global_step={trainer.global_step} reached max_steps={steps}", "fit_loop.epoch_loop.max_steps"
    if done is not None:
        reached, limit = done
        fresh = "Pass a new Trainer (or none)" if find_only else "Fit with a new Trainer"
        return LRFinderError(
            f"{head}: this Trainer's fit is already done ({reached}), so a fit on it runs no "
            f"training batch and the range test never started. {fresh}, or raise the limit "
            f"first (trainer.{limit} = ...) for the fit that trains next."
        )
    if getattr(trainer, "num_training_batches", None) == 0:
        return DataError(
            f"{head}: the train dataloader is empty (it yielded no batch), so the fit and the range "
            "test never ran. Pass a non-empty DataLoader (a DataLoader with drop_last=True drops a batch larger "
            "than the data)."
        )
    return None


def _defines_train_dataloader(model: object) -> bool:
    """Whether ``model`` defines ``train_dataloader``: its class (or a base of its own, not Lightning's), or itself.

    An instance attribute (``model.train_dataloader = lambda: loader``) is one Lightning calls too. Only
    Lightning's hook stub (``DataHooks.train_dataloader``, which raises) does not count: a class Lightning ships
    with a loader of its own (the demos' ``BoringModel``) defines one.
    """
    if "train_dataloader" in getattr(model, "__dict__", {}):
        return True
    for cls in type(model).__mro__:
        if "train_dataloader" in vars(cls):
            return not (cls.__name__ == "DataHooks" and cls.__module__.endswith(".core.hooks"))
    return False


def find_lr(
    model: either.LightningModule,
    train_dataloaders: Any = None,
    *extra: Any,
    datamodule: either.LightningDataModule | None = None,
    trainer: either.Trainer | None = None,
    **options: Any,
) -> RangeTestResult:
    """Run the range test on a LightningModule and return the result, without training.

    The module, its optimizers, the RNGs and the data order are left exactly as they were (a
    ``fit`` after ``find_lr`` is the same as without it; repeated calls give the same curve).
    This runs a
    ``trainer.fit`` that stops before its first training step; the given ``trainer`` (default: a
    quiet single-device CPU/GPU one, no logger, no checkpoints) can be reused afterwards. Finders
    already in its callbacks (an :class:`LRFinder`, Lightning's ``LearningRateFinder``) sit out
    this fit: they would apply an LR. Its checkpoint callbacks sit out too (no checkpoint is
    written), and it validates nothing: the Trainer's sanity check is skipped for this fit (its
    ``num_sanity_val_steps`` is put back afterwards). Lightning's ``BatchSizeFinder`` runs as in
    any fit when it can scale the batch (a ``datamodule``, or the module's own
    ``train_dataloader``): it sets the ``batch_size`` attribute it finds, as a ``fit`` would, and
    the test runs at that batch, the one the fit after ``find_lr`` trains at. Given
    ``train_dataloaders``, which it cannot scale, it sits out (with a warning naming the batch
    the LR was found at).

    Args:
        model: The LightningModule.
        train_dataloaders: The train dataloader(s), also as the second positional argument, as in
            ``Tuner(trainer).lr_find(model, train_loader)`` and ``trainer.fit``; a datamodule there
            is taken as ``datamodule``, as ``trainer.fit`` takes it.
        *extra: Refused (a ``TypeError`` saying what to do): ``Tuner.lr_find(model, train_dataloaders,
            val_dataloaders)`` takes the val loader third, which the range test does not read; everything
            after ``train_dataloaders`` is passed by name.
        datamodule: Or a datamodule giving the train dataloader.
        trainer: The Trainer to run on (devices, precision, accumulation, clipping); it must
            run in this process (not ``ddp_spawn``).
        **options: :class:`LRFinder` options (``min_lr``, ``max_lr``, ``num_steps``, ``mode``,
            ``stop_factor``, ``rule``, ``scaling``, ``target_batch_size``, ``test_batch_size``,
            ``optimizer``, ``optimizer_settings``, ``monitor``, ``report``, ``strict``, ``noise_scale``).

    Returns:
        The :class:`~lrfinder.RangeTestResult` (suggestion ``None`` when inconclusive, unless
        ``strict=True``, which raises).

    Raises:
        TypeError: An unknown option (the close ones are named), more than two positional arguments, a
            ``model`` that is no LightningModule, a ``datamodule`` or ``trainer`` that is no Lightning one.
        ValueError: Both ``datamodule`` and ``train_dataloaders``, an option out of range, or a ``trainer``
            with ``fast_dev_run`` (under which LRFinder skips the test).
        InconclusiveCurveError: With ``strict=True``, an inconclusive curve.
        LRFinderError: The test produced no result in this process (a spawn-based strategy).

    Example:
        >>> result = find_lr(model, datamodule=dm, max_lr=1.0)  # doctest: +SKIP
        >>> result.suggestion.lr  # doctest: +SKIP

    """
    from .callback import LRFinder  # at call time: lrfinder.callback imports this module

    if extra:
        # find_lr(model, train, val), as Tuner.lr_find(model, train_dataloaders, val_dataloaders) takes them, was
        # Python's bare "find_lr() takes from 1 to 2 positional arguments but 3 were given".
        raise TypeError(
            f"find_lr() takes model and train_dataloaders positionally, but got {2 + len(extra)} positional "
            "arguments. A third one, Lightning's Tuner.lr_find(model, train_dataloaders, val_dataloaders), is not "
            "read: the curve is the training loss and the test validates nothing, so drop the val loader; pass "
            "anything else by name (datamodule=..., trainer=..., min_lr=...)."
        )
    if datamodule is None and _lightning.is_datamodule(train_dataloaders):
        # find_lr(model, dm), as trainer.fit(model, dm) and Lightning's Tuner.lr_find(model, dm) take it.
        datamodule, train_dataloaders = train_dataloaders, None
    if "val_dataloaders" in options:
        # Tuner.lr_find(model, train, val) takes them, and no point of its curve reads them.
        raise TypeError(
            "find_lr() takes no 'val_dataloaders': the curve is the training loss and the test validates nothing "
            "(Lightning's Tuner.lr_find reads no validation loss either); drop it."
        )
    for key in ("curve", "val_batches"):
        if key in options:
            # The callback takes them, and find_lr's fit has no validation loader to read.
            raise TypeError(
                f"find_lr() takes no {key!r}: its fit validates nothing (it takes no validation loader), so the curve "
                "is the training loss. For the loss on a validation loader after every step add "
                "LRFinder(curve='val') to a Trainer's callbacks and fit with val_dataloaders=..., or run "
                "lrfinder.range_test(model, train_loader, loss_fn=..., val_data=val_loader, curve='val')."
            )
    for key in ("scheduler", "scheduler_settings", "attr_name", "refine"):
        if key in options:
            raise TypeError(f"find_lr() does not train, so it takes no {key!r}; use LRFinder for it")
    if "update_attr" in options:
        # Lightning's Tuner.lr_find sets the module's LR attribute by default; find_lr changes nothing.
        raise TypeError(
            "find_lr() takes no 'update_attr': it leaves the module as it was, LR attribute included. Set the "
            "attribute from result.lr yourself (model.lr = result.lr, and model.hparams.lr = result.lr when "
            "hparams holds one: configure_optimizers may read either, and a checkpoint saves hparams), or add "
            "LRFinder to the Trainer's callbacks: it sets both and trains with them in the same fit."
        )
    known = [n for n in inspect.signature(LRFinder.__init__).parameters if n != "self"]
    unknown = [str(key) for key in options if key not in known]
    if unknown:
        raise TypeError(
            f"find_lr() got the unknown {word(len(unknown), 'option')} {', '.join(unknown)}; it takes model, "
            "datamodule, "
            f"train_dataloaders, trainer and LRFinder's options ({', '.join(known)})."
            + did_you_mean_each(
                [k for k in unknown if trainer_side(k, known) is None and k not in TUNER_ONLY_OPTIONS],
                known,
                PEER_OPTION_NAMES,
                named=len(unknown) > 1,
            )
            + peer_notes(unknown, accepted=known)
            + "".join(f" {TUNER_ONLY_OPTIONS[k]}" for k in unknown if k in TUNER_ONLY_OPTIONS)
            + _lightning.trainer_argument_notes(unknown, known, "find_lr(..., trainer=Trainer({name}=...))")
        )
    # A torch.compile'd LightningModule is one too (Lightning fits it).
    if not _lightning.is_lightning_module(getattr(model, "_orig_mod", model)):
        hint = (
            " For a plain torch.nn.Module use lrfinder.range_test(model, loader, loss_fn=...)."
            if isinstance(model, nn.Module)
            else state_dict_note(model)
        )
        raise TypeError(f"Expected model to be a LightningModule, but got {type(model).__name__}.{hint}")
    if datamodule is not None and not _lightning.is_datamodule(datamodule):
        raise TypeError(
            f"Expected datamodule to be a LightningDataModule or None, but got {type(datamodule).__name__}. "
            "Pass DataLoaders as train_dataloaders=..."
        )
    if datamodule is not None and train_dataloaders is not None:
        raise ValueError("Expected datamodule or train_dataloaders, not both: the test reads one train loader")
    if train_dataloaders is not None:
        # A number went to Lightning's "An invalid dataloader was passed to `Trainer.fit(...)`", a string to a
        # RecursionError in the walk over the loaders (each character is a string of itself).
        check_iterable("train_dataloaders", train_dataloaders)
        if isinstance(train_dataloaders, (str, bytes)):
            raise TypeError(
                "Expected train_dataloaders to be a DataLoader (or a list or dict of them), but got "
                f"{type(train_dataloaders).__name__} {train_dataloaders!r:.60}"
            )
    own_loader = _defines_train_dataloader(getattr(model, "_orig_mod", model))
    if datamodule is None and train_dataloaders is None and not own_loader:
        # Lightning's "`train_dataloader` must be implemented to be used with the Lightning Trainer" named a hook
        # find_lr's caller may not know is an option, and not the arguments.
        raise ValueError(
            f"find_lr() got no training data: pass train_dataloaders=DataLoader(...) or datamodule=..., or define "
            f"{type(model).__name__}.train_dataloader()"
        )
    # A Dataset's items are single examples: Lightning iterated it as batches of one unbatched example each.
    check_not_a_dataset("train_dataloaders", train_dataloaders)
    if trainer is not None and not _lightning.is_trainer(trainer):
        raise TypeError(
            f"Expected trainer to be a Lightning Trainer or None (a quiet single-device one), but got "
            f"{type(trainer).__name__}"
        )
    _check_one_distribution(getattr(model, "_orig_mod", model), trainer, datamodule)
    # All of one distribution now: the code below is type-checked against pytorch_lightning's API, which
    # lightning.pytorch shares name for name (see lrfinder/_either.pyi).
    model = cast("pl.LightningModule", model)
    datamodule = cast("pl.LightningDataModule | None", datamodule)
    trainer = cast("pl.Trainer | None", trainer)
    if trainer is not None and trainer.fast_dev_run:  # type: ignore[attr-defined]
        # LRFinder skips the test under fast_dev_run: the fit then trained its debug batch (the module changed)
        # and find_lr blamed the Trainer for a fit "already done" by itself.
        raise ValueError(
            "Expected a trainer without fast_dev_run (LRFinder skips the range test under it, and find_lr's fit would "
            f"train its debug batches instead), but got fast_dev_run={trainer.fast_dev_run!r}. "  # type: ignore[attr-defined]
            "Pass a Trainer without fast_dev_run, or none."
        )
    callback = LRFinder(**options)
    callback._find_only = True
    if trainer is None:
        # The Trainer of the model's own distribution (lightning.pytorch or pytorch_lightning).
        trainer = _lightning.trainer_class(getattr(model, "_orig_mod", model), datamodule)(
            devices=1,
            max_epochs=1,
            logger=False,
            enable_checkpointing=False,
            enable_model_summary=False,
            enable_progress_bar=True,
            num_sanity_val_steps=0,
        )
    saved = trainer.callbacks  # type: ignore[attr-defined]
    # A finder already in the trainer would apply its LR: only this find-only one runs. Lightning's
    # LearningRateFinder too (kept from a Tuner setup): it would sweep again and set the module's LR.
    # Checkpoint callbacks sit out too: ModelCheckpoint(save_last=True) saved last.ckpt at the end of this
    # fit (step 0, the LR from before find_lr in its optimizer state), which fit(ckpt_path="last") resumed.
    callbacks = _lightning.package_of(trainer).callbacks
    sitting_out: tuple[type, ...] = (LRFinder, callbacks.LearningRateFinder, callbacks.Checkpoint)
    # Lightning's BatchSizeFinder stays where it can scale the batch (a datamodule's or the module's own
    # loader): the test runs at the batch it picks, the one the fit after find_lr trains at. A loader passed
    # in it cannot scale: it refused the whole call ("cannot be used with dataloaders passed directly to
    # `.fit()`", a fit the caller never ran), so it sits out and the test runs at that loader's batch.
    batch_finder_out = train_dataloaders is not None and any(isinstance(c, callbacks.BatchSizeFinder) for c in saved)
    if batch_finder_out:
        sitting_out += (callbacks.BatchSizeFinder,)
    trainer.callbacks = [  # type: ignore[attr-defined]
        *(c for c in saved if not isinstance(c, sitting_out)),
        callback,
    ]
    # The fit stops before its first training step, so it validates nothing: the Trainer's sanity check
    # would run validation_step on a val loader before the test (changing the module find_lr leaves as it
    # was), and Lightning's "You defined a `validation_step` but have no `val_dataloader`" would fault
    # the train loader find_lr is given.
    sanity_steps = trainer.num_sanity_val_steps
    trainer.num_sanity_val_steps = 0
    try:
        with _lightning.preserved_randomness(train_dataloaders, datamodule), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=NO_VAL_LOADER_WARNING)
            trainer.fit(model, train_dataloaders=train_dataloaders, datamodule=datamodule)
    finally:
        trainer.callbacks = saved  # type: ignore[attr-defined]
        trainer.should_stop = False
        trainer.num_sanity_val_steps = sanity_steps
    if callback.result is None:
        _raise_no_training(trainer)
        raise LRFinderError(_ran_elsewhere_message())
    if batch_finder_out:
        batch = callback.result.batch_size
        at = "their batch" if batch is None else f"a batch of {batch}"
        # stacklevel: past Lightning's rank-zero wrappers and find_lr, to the caller's line.
        _lightning.package_of(trainer).utilities.rank_zero_warn(
            f"find_lr: Lightning's BatchSizeFinder in the Trainer's callbacks sat out this test (it cannot scale "
            f"train_dataloaders passed in), so the LR was found at {at}. "
            "If a later fit lets BatchSizeFinder pick another batch, pass find_lr the datamodule instead (the test "
            "then runs at the batch it picks), or scale the LR to that batch (lrfinder.scale_lr).",
            stacklevel=5,
        )
    if callback.strict and callback.result.lr is None:
        raise InconclusiveCurveError(f"The range test was inconclusive: {callback.result.error}")
    return callback.result


