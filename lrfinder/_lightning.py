"""What the callback needs from Lightning: the distributions, the isolation and the steppers.

Three concerns, kept here so :mod:`lrfinder.callback` reads as build, sweep, analyse, scale, apply:

* **Distributions.** Lightning ships the same classes twice, as ``lightning.pytorch`` (``import
  lightning as L``) and ``pytorch_lightning``; an object of one is not an instance of the
  other's classes. Every isinstance/issubclass check of lrfinder goes through
  :func:`is_lightning_module`, :func:`is_lightning_module_class` and :func:`is_datamodule`,
  which look only at the distributions already imported (an object cannot belong to one that
  is not), so they import nothing. :func:`package_of` gives the distribution of a running
  Trainer or module, whose utilities (``CombinedLoader``, rank-zero warnings, the scheduler
  config) the callback then uses. :func:`callback_base` is the base class of
  :class:`~lrfinder.LRFinder`: the ``Callback`` of every installed distribution, so one
  ``LRFinder`` is an instance of whichever ``Callback`` the Trainer (or LightningCLI) checks.
* **Isolation.** :func:`isolation` snapshots everything the test touches and puts it back on
  exit, even after an error or Ctrl-C.
* **Steppers.** :class:`AutomaticStepper` and :class:`ManualStepper` run one optimizer step of
  the test through the public Strategy API and return its loss.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib
import importlib.util
import inspect
import math
import os
import random
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Union, cast

import numpy as np
import torch
from torch.optim import Optimizer
from torch.utils.data import DataLoader

from ._atomic import held_back_signals
from ._checks import has_class_named
from .batches import CyclingBatches, _is_scalar_loss, infer_batch_size
from .data_parallel import ranks_data_verdict
from .diagnostics import (
    HOOKS_FIX_LIGHTNING,
    _non_finite_data_message,
    _NonFiniteDataWatch,
    closure_checked,
    first_non_finite_loss,
    first_step_errors,
    hooked_versions,
    refuse_stepped_in_backward,
    stepped_during_backward_message,
)
from .exceptions import DataError, LRFinderError, ModelError
from .settings import check_sparse_gradients
from .snapshot import StateSnapshot, _capture_attribute, _DataState, _put_back, _tensor_bytes
from .stepping import LrReadCheck, StepClosure, lr_read_checked, sparse_clip_error

if TYPE_CHECKING:
    import pytorch_lightning as pl
    from pytorch_lightning.utilities.types import LRSchedulerConfig

__all__ = [
    "PACKAGES",
    "installed_packages",
    "package_of",
    "defines_validation_step",
    "callback_base",
    "is_lightning_module",
    "is_lightning_module_class",
    "is_datamodule",
    "trainer_class",
    "isolation",
    "recorded_clipping",
    "preserved_randomness",
    "to_device",
    "TrainBatches",
    "AutomaticStepper",
    "ManualStepper",
    "make_stepper",
    "progress_bar",
    "warn",
    "info",
    "rewrite_hparams_file",
    "EitherLightning",
    "EITHER",
    "checked_as_pl",
]

#: The import names of the two Lightning distributions, the preferred one first: ``lightning``
#: (``import lightning as L``) is what most users install today; ``pytorch_lightning`` is the
#: standalone copy lrfinder depends on.
PACKAGES: tuple[str, ...] = ("lightning.pytorch", "pytorch_lightning")
#: How many ``None`` outputs of ``training_step`` (skipped batches) in a row are tolerated.
MAX_SKIPPED = 100


# --------------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------------


def installed_packages() -> tuple[str, ...]:
    """The Lightning packages that can be imported here, in :data:`PACKAGES` order."""
    found = []
    for name in PACKAGES:
        try:
            if importlib.util.find_spec(name) is not None:
                found.append(name)
        except (ImportError, ValueError):  # a parent package missing, or blocked in sys.modules
            continue
    return tuple(found)


class EitherLightning:
    """The run-time ``pl`` of annotations such as ``trainer: pl.Trainer``, for :func:`typing.get_type_hints`.

    A type checker reads ``pl`` as ``pytorch_lightning`` (imported under ``TYPE_CHECKING``); at run
    time the modules bind ``pl`` to :data:`EITHER` instead, so that importing them imports no
    Lightning and tools that evaluate annotations (jsonargparse and LightningCLI, pydantic, typer)
    get a class, not a ``NameError``. ``EITHER.Trainer`` is the ``Trainer`` of the one installed
    distribution, or ``Union[lightning.pytorch.Trainer, pytorch_lightning.Trainer]`` with both, as
    lrfinder takes either. The first access imports Lightning.
    """

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and inspect probe dunders: not Lightning's names
            raise AttributeError(name)
        return _either(name)

    def __repr__(self) -> str:
        return "lrfinder._lightning.EITHER"


@functools.cache
def _either(name: str) -> Any:
    names = installed_packages()
    if not names:
        raise ImportError(f"pl.{name} needs Lightning: pip install lightning (or pytorch-lightning).")
    found = tuple(getattr(importlib.import_module(package), name) for package in names)
    return found[0] if len(set(found)) == 1 else Union[found]  # noqa: UP007 - a tuple of run-time classes


#: The run-time ``pl`` of lrfinder's annotations (see :class:`EitherLightning`).
EITHER = EitherLightning()


def checked_as_pl(trainer: object, pl_module: object) -> tuple[pl.Trainer, pl.LightningModule]:
    """A hook's ``trainer`` and ``pl_module``, unchanged, typed as the code behind the hook is checked.

    The public signatures take either distribution's objects (``either.Trainer``, see
    ``lrfinder/_either.pyi``); the code behind them is type-checked against ``pytorch_lightning``'s
    API, which ``lightning.pytorch`` shares name for name. Nothing is converted or checked here.
    """
    return cast("pl.Trainer", trainer), cast("pl.LightningModule", pl_module)


def _imported() -> list[ModuleType]:
    """The Lightning packages imported so far: the only ones an object can come from."""
    return [m for m in (sys.modules.get(name) for name in PACKAGES) if m is not None]


def fine_tuner(callbacks: object) -> Any:
    """The ``BaseFinetuning`` callback (``BackboneFinetuning``) among ``callbacks``, of either Lightning, or None.

    It freezes layers as training starts and adds each as a param group of its own when it unfreezes it. One
    lookup for the callback (a Trainer's ``callbacks``) and ``train`` (the ``callbacks`` it was given).
    """
    if not isinstance(callbacks, (list, tuple)):
        return None
    return next((c for c in callbacks if has_class_named(c, "BaseFinetuning")), None)


def package_of(obj: object) -> ModuleType:
    """The Lightning package (``lightning.pytorch`` or ``pytorch_lightning``) of a Trainer, module, ...

    Raises:
        TypeError: ``obj`` belongs to neither distribution.

    """
    for cls in type(obj).__mro__:
        module = cls.__module__
        for name in PACKAGES:
            if module == name or module.startswith(name + "."):
                return sys.modules[name]
    raise TypeError(
        f"Expected an object of lightning.pytorch or pytorch_lightning, but got {type(obj).__module__}."
        f"{type(obj).__qualname__}"
    )


def release(package: ModuleType) -> tuple[int, int]:
    """The ``(major, minor)`` of a Lightning package (:func:`package_of`): ``(2, 6)`` for ``2.6.0rc1``."""
    major, minor = (re.match(r"\d+", part) for part in ([*str(package.__version__).split("."), "0"])[:2])
    return (int(major.group()) if major else 0, int(minor.group()) if minor else 0)


def defines_validation_step(module: object) -> bool:
    """Whether a LightningModule defines its own ``validation_step`` (its Lightning base's is a stub)."""
    base = package_of(module).LightningModule
    return type(module).validation_step is not base.validation_step  # type: ignore[attr-defined]


@functools.cache
def callback_base() -> type:
    """The base class of :class:`~lrfinder.LRFinder`: the ``Callback`` of every installed distribution.

    With both distributions installed, a class deriving from both ``Callback`` classes (they
    define the same hooks), so ``isinstance(LRFinder(), lightning.pytorch.Callback)`` and
    ``isinstance(LRFinder(), pytorch_lightning.Callback)`` both hold, and LightningCLI of either
    accepts ``lrfinder.LRFinder``.

    Raises:
        ImportError: Neither distribution is installed.

    """
    bases: tuple[type, ...] = tuple(importlib.import_module(name).Callback for name in installed_packages())
    if not bases:
        raise ImportError("LRFinder needs Lightning: pip install lightning (or pytorch-lightning).")
    if len(bases) == 1:
        return bases[0]
    return type("Callback", bases, {"__module__": __name__, "__doc__": "The Callback of every installed Lightning."})


def is_lightning_module(obj: object) -> bool:
    """Whether ``obj`` is a LightningModule of either distribution (imports nothing)."""
    return any(isinstance(obj, m.LightningModule) for m in _imported())


def is_lightning_module_class(obj: object) -> bool:
    """Whether ``obj`` is a LightningModule subclass of either distribution (imports nothing)."""
    return isinstance(obj, type) and any(issubclass(obj, m.LightningModule) for m in _imported())


def is_datamodule(obj: object) -> bool:
    """Whether ``obj`` is a LightningDataModule of either distribution (imports nothing)."""
    return any(isinstance(obj, m.LightningDataModule) for m in _imported())


def is_trainer(obj: object) -> bool:
    """Whether ``obj`` is a Trainer of either distribution (imports nothing)."""
    return any(isinstance(obj, m.Trainer) for m in _imported())


def trainer_class(*objs: object) -> type[pl.Trainer]:
    """The ``Trainer`` of the distribution of the first Lightning object in ``objs``.

    Falls back to the preferred installed distribution when none of them is a Lightning object.
    """
    for obj in objs:
        if obj is not None:
            with contextlib.suppress(TypeError):
                return package_of(obj).Trainer  # type: ignore[no-any-return]
    names = installed_packages()
    if not names:
        raise ImportError("find_lr needs Lightning: pip install lightning (or pytorch-lightning).")
    return importlib.import_module(names[0]).Trainer  # type: ignore[no-any-return]


def trainer_argument_notes(names: Sequence[str], accepted: Sequence[str], fix: str) -> str:
    """A note for each of ``names`` that is a ``Trainer`` argument, not an option of the function called.

    ``LRFinder(max_epochs=3)`` was answered with Python's bare "unexpected keyword argument", which did
    not say where the argument goes. Names the callback takes from the Trainer under another name
    (``precision``, ``gradient_clip_val``) are left to :func:`~lrfinder.names.trainer_side`.

    Args:
        names: The unknown option names.
        accepted: The options of the function called.
        fix: Where the argument goes, with ``{name}`` for it: ``"Trainer({name}=..., callbacks=[LRFinder()])"``.

    Returns:
        The notes, each after a space; ``""`` when none applies or Lightning is not installed.

    """
    from .names import trainer_side

    try:
        parameters = inspect.signature(trainer_class().__init__).parameters
    except ImportError:
        return ""
    found = [n for n in names if n in parameters and n not in accepted and trainer_side(n, accepted) is None]
    return "".join(f" {n!r} is a Trainer argument: {fix.format(name=n)}." for n in found)


def is_ddp(strategy: object) -> bool:
    """Whether ``strategy`` is Lightning's DDP (any launcher: ``ddp``, ``ddp_spawn``, ``ddp_fork``, ...)."""
    return has_class_named(strategy, "DDPStrategy")


def warn(trainer: object, message: str) -> None:
    """A rank-zero ``UserWarning`` through the Trainer's own distribution."""
    # stacklevel: past this function and Lightning's wrappers, to the callback's line.
    package_of(trainer).utilities.rank_zero_warn(message, stacklevel=5)


def info(trainer: object, message: str) -> None:
    """A rank-zero info log line through the Trainer's own distribution."""
    package_of(trainer).utilities.rank_zero_info(message)


def rewrite_hparams_file(trainer: object, logger: object) -> None:
    """Write a logger's ``hparams.yaml`` again from its hyper-parameters, when it wrote one already.

    ``TensorBoardLogger`` (the Trainer's default logger when tensorboard is installed) writes
    ``hparams.yaml`` once, at the start of the fit, and its ``log_hyperparams`` later only
    updates ``logger.hparams``: the file kept the LR from before the range test. ``CSVLogger``
    rewrites its file on every call (it has no ``hparams`` of its own: nothing to do). Remote
    log dirs (``s3://...``) go through fsspec, as Lightning's own ``save_hparams_to_yaml``.
    """
    name = getattr(logger, "NAME_HPARAMS_FILE", None)
    hparams = getattr(logger, "hparams", None)
    log_dir = getattr(logger, "log_dir", None)
    if not isinstance(name, str) or hparams is None or not log_dir:
        return
    import fsspec

    path = f"{str(log_dir).rstrip('/')}/{name}"
    fs, _ = fsspec.core.url_to_fs(path)
    if fs.isfile(path):
        saving = importlib.import_module(f"{package_of(trainer).__name__}.core.saving")
        saving.save_hparams_to_yaml(path, hparams)


# --------------------------------------------------------------------------------------------
# Isolation
# --------------------------------------------------------------------------------------------


class _MetricStates:
    """Snapshot of the torchmetrics states in the module and in those it holds outside its tree (not buffers)."""

    def __init__(self, module: torch.nn.Module) -> None:
        self._saved: list[tuple[Any, dict[str, Any]]] = []
        try:
            from torchmetrics import Metric
        except ImportError:  # pragma: no cover - Lightning depends on torchmetrics
            return
        from .snapshot import _outside_modules

        # A metric kept in a plain dict or list (not registered) updates as one in the module's tree does.
        outside = [sub for _, held in _outside_modules(module) for sub in held.modules()]
        m: Any
        for m in [*module.modules(), *outside]:
            # Looked up in the class's MRO, not by isinstance: Metric is an ABC, whose isinstance walks every
            # torchmetrics metric class for a module class missing from its cache (the user's module, each time a
            # class is registered with any ABC), 0.5-1.3 ms a test. An ABC's virtual subclass is no Metric anyway.
            if Metric in type(m).__mro__:
                state = {k: copy.deepcopy(v) for k, v in m.metric_state.items()}
                state.update({k: copy.deepcopy(getattr(m, k)) for k in ("_update_count", "_computed") if hasattr(m, k)})
                self._saved.append((m, state))

    def restore(self) -> None:
        for metric, state in self._saved:
            for key, value in state.items():
                object.__setattr__(metric, key, copy.deepcopy(value))


class _Silent:
    """What a muted logger's ``experiment`` is: every method a no-op, at any depth (``experiment["x"].append``)."""

    def _nop(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Callable[..., None]:
        return self._nop

    def __getitem__(self, key: Any) -> _Silent:
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        return None


class _MutedLogger:
    """A logger's stand-in for the test's steps: what ``training_step`` sends it directly goes nowhere.

    ``self.logger.log_metrics(...)`` and ``self.logger.experiment.add_scalar(...)`` (or wandb's
    ``experiment.log``) in ``training_step`` wrote each of the test's steps, diverged losses included,
    into the fit's logs at step 0. Every method and the ``experiment`` are no-ops, as in Lightning's
    own tuner (its ``DummyLogger``); a plain attribute (``log_dir``, ``save_dir``, ``name``,
    ``version``) still reads the logger's own, so a path built from it stays a path. It passes for
    the logger's class in ``isinstance`` (its ``__class__``, as ``unittest.mock``'s specs do): the
    Trainer's ``log_dir`` reads a TensorBoardLogger's or CSVLogger's ``log_dir`` only when
    ``isinstance`` says it is one (its ``save_dir`` otherwise, another folder), and a
    ``training_step`` that logs by ``isinstance(self.logger, ...)`` takes the same branch.
    """

    def __init__(self, logger: Any) -> None:
        self._logger = logger
        self.experiment = _Silent()

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # noqa: D105
        return type(self._logger)

    def _nop(self, *args: Any, **kwargs: Any) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._logger, name)
        return self._nop if callable(value) else value

    def __getitem__(self, key: Any) -> _MutedLogger:
        return self


class LoggedKeys(dict):  # type: ignore[type-arg]
    """The captured ``self.log`` calls' latest values (key -> value), and in ``ever`` every key logged.

    The steppers clear the dict for each ``training_step`` call (a ``monitor`` read from that call
    only); ``ever`` keeps what any call of the test logged, for the checks made after it (a plateau
    schedule's ``monitor`` that ``training_step`` never logs).
    """

    def __init__(self) -> None:
        """An empty record."""
        super().__init__()
        self.ever: set[str] = set()

    def __setitem__(self, key: str, value: Any) -> None:
        """Record ``key`` as logged, and its latest value."""
        self.ever.add(key)
        super().__setitem__(key, value)


def _capture_log(logged: dict[str, Any]) -> Callable[..., None]:
    """A stand-in for ``LightningModule.log`` that records values instead of logging them."""

    def log(name: str, value: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(value, Mapping):
            for key, val in value.items():
                logged[f"{name}/{key}"] = val
        else:
            logged[name] = value.detach() if isinstance(value, torch.Tensor) else value

    return log


def flat_loaders(loader: Any) -> list[Any]:
    """The loaders inside a list/dict/CombinedLoader of train loaders (for their generators)."""
    if isinstance(loader, Mapping):
        return [x for v in loader.values() for x in flat_loaders(v)]
    if isinstance(loader, Sequence) and not isinstance(loader, (DataLoader, str, bytes)):  # a str holds itself
        return [x for v in loader for x in flat_loaders(v)]
    if hasattr(loader, "iterables") and hasattr(loader, "flattened"):  # a CombinedLoader, either distribution
        return flat_loaders(loader.iterables)
    return [loader]


def _keeps_iterator(loader: object) -> bool:
    """Whether ``loader`` is a persistent-workers DataLoader holding the iterator its last ``iter()`` made."""
    return (
        isinstance(loader, DataLoader)
        and bool(loader.persistent_workers)
        and getattr(loader, "_iterator", None) is not None
    )


_MISSING = object()


def _no_step(*args: Any, **kwargs: Any) -> None:
    """A scheduler's ``step`` during the test: the sweep sets the LR of every step."""


def _pause_schedulers(configs: Sequence[LRSchedulerConfig]) -> list[tuple[Any, Any]]:
    """Make each scheduler's ``step`` a no-op; returns what :func:`_resume_schedulers` puts back."""
    paused: list[tuple[Any, Any]] = []
    for config in configs:
        sched: Any = config.scheduler
        if all(sched is not s for s, _ in paused):
            paused.append((sched, vars(sched).get("step", _MISSING)))
            sched.step = _no_step
    return paused


def _resume_schedulers(paused: Sequence[tuple[Any, Any]]) -> None:
    """Give the schedulers paused by :func:`_pause_schedulers` their own ``step`` back."""
    for sched, own in paused:
        if own is _MISSING:
            del sched.step
        else:
            sched.step = own


class _DeferredCheckpoints:
    """``trainer.save_checkpoint`` calls made during the test, written once its state has been put back.

    Lightning's SLURM requeue handler (``SLURMEnvironment(auto_requeue=True)``, on the job's requeue
    signal) saves a checkpoint wherever the process is: during the test it held the test's weights
    (blown up at the sweep's last LRs), its optimizer state at a sweep LR, and none of the callbacks'
    states (they are set aside for the test), and the requeued job resumed from it, trained from there
    and, as a resumed fit, ran no test. Each call is written after the restore, with the fit's state from
    before the test, as given; a process that ends before then writes none (the requeued job starts afresh).
    """

    def __init__(self, trainer: pl.Trainer) -> None:
        self.trainer = trainer
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        # An instance attribute of the user's own (a patched save_checkpoint) is put back as it was.
        self.own = trainer.__dict__.get("save_checkpoint", _MISSING)

        def save_checkpoint(*args: Any, **kwargs: Any) -> None:
            self.calls.append((args, kwargs))

        trainer.save_checkpoint = save_checkpoint  # type: ignore[method-assign]

    def write(self) -> None:
        """Put ``save_checkpoint`` back and make the calls made meanwhile, in order."""
        if self.own is _MISSING:
            del self.trainer.save_checkpoint
        else:
            self.trainer.save_checkpoint = self.own  # type: ignore[method-assign]
        calls, self.calls = self.calls, []
        for args, kwargs in calls:
            self.trainer.save_checkpoint(*args, **kwargs)


def _put_back_entries(mapping: MutableMapping[Any, Any], saved: Mapping[Any, Any]) -> None:
    """Give ``mapping`` the entries of ``saved`` again, the same objects, writing only those that changed.

    Entries added since are deleted, changed ones set back (by identity: a tensor's ``==`` is no bool). An entry left
    alone is not written: a config that refuses writes or deletions (OmegaConf's read-only or struct ``DictConfig``
    as a module's ``hparams``) then ends the test as it began, where clearing and refilling it raised.
    """
    for key in [k for k in mapping if k not in saved]:
        del mapping[key]
    for key, value in saved.items():
        if key not in mapping or mapping[key] is not value:
            mapping[key] = value


#: Tensors and arrays a datamodule attribute holds up to this size in all are state (a counter kept as a tensor) and
#: put back; larger ones are its data (``self.x = np.load(...)`` in ``setup()``), left as they are, not copied.
DATAMODULE_COPY_LIMIT = 2**20


def _holds_data(value: object) -> bool:
    """Whether a datamodule attribute holds tensors or arrays of more than :data:`DATAMODULE_COPY_LIMIT` in all.

    In lists, tuples and dicts of them, or in a helper object's fields.
    """
    size = _tensor_bytes(value)
    fields = getattr(value, "__dict__", None)
    if isinstance(fields, dict) and not callable(value) and not isinstance(value, (torch.Tensor, np.ndarray)):
        size += sum(_tensor_bytes(v) for v in fields.values())
    return size > DATAMODULE_COPY_LIMIT


class _DataModuleState:
    """The fit's datamodule's public plain attributes and ``hparams`` entries, put back as the module's are.

    A ``training_step`` that counts in the datamodule (``self.trainer.datamodule.seen += 1``) counted the
    test's steps, and the fit began with them. Captured and put back by the rules of the module's public
    plain attributes (:class:`~lrfinder.snapshot.StateSnapshot`'s ``module_attributes``: numbers, strings,
    tensors, lists and dicts of them, a plain helper object's fields, a ``torch.Generator``), and the
    ``hparams`` entries as the module's. Its loaders, datasets and the Trainer it points back to are left, and
    so is an attribute holding tensors or arrays of more than :data:`DATAMODULE_COPY_LIMIT` (``self.x =
    np.load(...)`` in ``setup()``): that is data, which the module's rules would copy whole for every fit.
    """

    def __init__(self, trainer: pl.Trainer) -> None:
        self._datamodule = getattr(trainer, "datamodule", None)
        self._attributes: dict[str, tuple[Any, ...]] = {}
        self._hparams: tuple[MutableMapping[Any, Any], dict[Any, Any]] | None = None
        if self._datamodule is None:
            return
        trainers = tuple(m.Trainer for m in _imported())
        seen: set[int] = set()
        with torch.inference_mode(False), torch.no_grad():
            self._attributes = {
                k: _capture_attribute(v, k, seen)
                for k, v in vars(self._datamodule).items()
                if not k.startswith("_") and not isinstance(v, trainers) and not _holds_data(v)
            }
        hparams = getattr(self._datamodule, "_hparams", None)
        if isinstance(hparams, MutableMapping):
            self._hparams = (hparams, dict(hparams))

    def restore(self) -> None:
        """Put the attributes and ``hparams`` entries back (the same objects, refilled where they can be)."""
        if self._datamodule is None:
            return
        fields = vars(self._datamodule)
        with torch.inference_mode(False), torch.no_grad():
            for name, saved in self._attributes.items():
                value = _put_back(saved, logs=False)
                if fields.get(name, _MISSING) is not value:
                    fields[name] = value
        if self._hparams is not None:
            _put_back_entries(*self._hparams)


@contextlib.contextmanager
def isolation(
    trainer: pl.Trainer,
    pl_module: pl.LightningModule,
    optimizers: Sequence[Optimizer],
    configs: Sequence[LRSchedulerConfig],
    loaders: Sequence[Any] = (),
) -> Iterator[LoggedKeys]:
    """Run the test in here: everything it touches is put back on exit, even on error or Ctrl-C.

    Saved and restored: the module's parameters, gradients, buffers and train/eval modes, and the
    public plain attributes of it and its submodules that ``training_step`` moves (a
    ``training_step_outputs`` list of tensors, a step counter, a ``torch.Generator``: see
    :class:`~lrfinder.snapshot.StateSnapshot`'s ``module_attributes``); the
    optimizers' states and param groups; the state of a DDP comm hook on the strategy's wrapper
    (``DDPStrategy(ddp_comm_hook=...)``: PowerSGD's); the schedulers' states; the torchmetrics states; the
    grad scaler of mixed precision (it adapts its scale to the test's overflows); the torch,
    CUDA, numpy and Python RNGs and the generators of ``loaders`` (data order); an optimizer that
    ``training_step`` steps itself besides those of ``configure_optimizers`` (a critic's, kept as an
    attribute), captured before its first step (:meth:`~lrfinder.snapshot.StateSnapshot.watching_optimizers`).
    Swapped for the
    test and put back (the same objects): ``trainer.callbacks`` (user callbacks must not see the
    test's backward and optimizer-step hooks), ``trainer.profiler`` (a pass-through one: the fit's profile counts
    the fit's hook calls only), ``trainer.loggers`` (muted stand-ins, see
    :class:`_MutedLogger`: what ``training_step`` logs directly, not through ``self.log``, stays out of
    the fit's logs), the iterator a persistent-workers loader of
    ``loaders`` keeps (the fit made it already; the test draws from one of its own, shut down
    after it), and the module's ``log``, replaced by a recorder so the test's ``self.log`` calls
    never reach the fit's metrics. The schedulers of ``configs`` do not step inside: a manual
    ``training_step`` that calls ``self.lr_schedulers().step()`` would move the LR the sweep set
    (between the micro-batches of a step accumulated by hand), and a OneCycleLR sized to a fit
    shorter than the test raised "Tried to step 11 times". Autograd's anomaly detection
    (``Trainer(detect_anomaly=True)``) is off inside: the test diverges on purpose. The trainer's loop counters
    are not touched: the test never runs the loop, and ``LightningOptimizer``'s step hooks only
    count inside it. ``trainer.should_stop`` is put back: a ``training_step`` that sets it on a diverged
    loss stopped the fit before its first training step. So are the entries of the module's ``hparams``. A
    ``trainer.save_checkpoint`` call made inside (Lightning's SLURM requeue handler) is made once all of it is
    back (:class:`_DeferredCheckpoints`): the checkpoint holds the state from before. The fit's datamodule's
    public plain attributes and ``hparams`` entries are put back as the module's are (:class:`_DataModuleState`).

    Yields:
        The dict the captured ``self.log`` calls write to (key -> value), for a ``monitor``.

    """
    flat = [lo for loader in loaders for lo in flat_loaders(loader)]
    # Lightning makes the fit's train iterator before on_train_start. A DataLoader with persistent
    # workers keeps it and hands that same iterator to the next iter(), reset: the test drew its
    # batches from the fit's own iterator, and the fit's first epoch got what the test left of it
    # (none, after whole passes). The test gets an iterator of its own (shut down by the snapshot's
    # restore) and the fit's is put back untouched.
    held: list[tuple[Any, Any]] = []
    for lo in flat:
        if _keeps_iterator(lo) and all(lo is not h for h, _ in held):
            held.append((lo, lo._iterator))
    for lo, _ in held:
        lo._iterator = None
    # The strategy's DDP wrapper holds a DDPStrategy(ddp_comm_hook=...)'s state (PowerSGD's): put back too.
    snapshot = StateSnapshot(pl_module, optimizers, flat, module_attributes=True, wrapper=strategy_model(trainer))
    scheduler_states = [copy.deepcopy(c.scheduler.state_dict()) for c in configs]
    metric_states = _MetricStates(pl_module)
    scaler: Any = getattr(trainer.precision_plugin, "scaler", None)
    scaler_state = copy.deepcopy(scaler.state_dict()) if hasattr(scaler, "state_dict") else None
    saved_callbacks = trainer.callbacks  # type: ignore[attr-defined]
    logged = LoggedKeys()
    trainer.callbacks = []  # type: ignore[attr-defined]
    # What training_step sends the loggers itself (self.logger.log_metrics, self.logger.experiment.add_scalar)
    # goes nowhere: the same list object is put back.
    saved_loggers = trainer.loggers
    trainer.loggers = [_MutedLogger(lg) for lg in saved_loggers]  # type: ignore[misc]
    pl_module.log = _capture_log(logged)  # type: ignore[method-assign]
    # Trainer(profiler=...) timed every module hook of the test's ~100 steps (on_before_backward, ...) with the fit's
    # few: the report's counts and means mixed the two. The test's time shows as the hook that runs it
    # ([Callback]LRFinder.on_train_start); the profiler object itself is untouched and put back.
    saved_profiler = trainer.profiler  # type: ignore[attr-defined]
    trainer.profiler = package_of(trainer).profilers.PassThroughProfiler()  # type: ignore[attr-defined]
    paused = _pause_schedulers(configs)
    # The modes stay as they are: Lightning (2.2+) trains each submodule in the mode it is in at
    # the start of training (a frozen backbone left in eval mode keeps its BatchNorm statistics and
    # no dropout), so the test must too.
    # Trainer(detect_anomaly=True) turns a NaN in backward into an error, but the test drives the
    # loss to divergence on purpose (a non-finite loss ends it): off for the test, back on after.
    anomaly = torch.autograd.set_detect_anomaly(False)
    deferred = _DeferredCheckpoints(trainer)
    # A training_step that stops the fit itself (self.trainer.should_stop = True on a diverged or a small enough
    # loss) saw the test's losses: the fit then stopped before its first training step.
    should_stop = trainer.should_stop
    # The module's hparams are a private attribute (_hparams) the snapshot's public attributes leave out: a
    # training_step that counts in them (self.hparams.seen += 1) counted the test's steps, in the checkpoint too.
    hparams: Any = getattr(pl_module, "_hparams", None)
    saved_hparams = dict(hparams) if isinstance(hparams, MutableMapping) else None
    datamodule = _DataModuleState(trainer)
    try:
        # An optimizer training_step steps itself, not one of configure_optimizers' (a critic's, kept as an
        # attribute): captured before its first step and put back by the snapshot's restore.
        with snapshot.watching_optimizers():
            yield logged
    finally:
        with held_back_signals():  # a Ctrl-C meanwhile waits until all of it is back
            anomaly.__exit__(None, None, None)
            del pl_module.log
            _resume_schedulers(paused)
            trainer.callbacks = saved_callbacks  # type: ignore[attr-defined]
            trainer.loggers = saved_loggers
            trainer.profiler = saved_profiler  # type: ignore[attr-defined]
            trainer.should_stop = should_stop
            if saved_hparams is not None:
                _put_back_entries(hparams, saved_hparams)
            datamodule.restore()
            snapshot.restore()  # weights, optimizers, RNGs, data order and train/eval modes
            for lo, iterator in held:
                lo._iterator = iterator
            for config, state in zip(configs, scheduler_states):
                config.scheduler.load_state_dict(state)
            metric_states.restore()
            if scaler_state is not None:
                scaler.load_state_dict(scaler_state)
        # Out of held_back_signals: a Ctrl-C during a checkpoint's writing stops it as it would outside the test.
        deferred.write()


def loss_undefined_at_start(
    trainer: pl.Trainer,
    pl_module: pl.LightningModule,
    optimizers: Sequence[Optimizer],
    configs: Sequence[LRSchedulerConfig],
    loaders: Sequence[Any],
    drawn: Sequence[tuple[tuple[Any, ...], int]],
    set_lr: Callable[[], None],
    monitor: str | None = None,
) -> tuple[int, int] | None:
    """``(rank, index)`` of a batch of ``drawn`` whose loss is non-finite at the starting state, else ``None``.

    Called once the sweep stopped on a non-finite loss of clean batches and its isolation put the
    state back: ``training_step`` takes those batches again inside a new :func:`isolation`, at the
    weights the test started from and the LR ``set_lr`` sets inside (the sweep's first, as at step
    0). Under automatic optimization that is its loss only (no backward, no step); under manual
    optimization ``training_step`` runs its own backward and step as in the sweep, which the
    isolation puts back, and its loss is what it returns or logs as ``monitor`` (taken before its
    step, at the starting weights). A batch whose loss is non-finite there is undefined whatever
    the LR (the plain engine's :func:`~lrfinder.diagnostics._raise_if_non_finite_at_start`; both
    look through :func:`~lrfinder.diagnostics.first_non_finite_loss`). A batch ``training_step``
    fails on, or gives no loss for, is not judged.

    Under data parallelism every rank calls this (the sweep stopped on the loss reduced over
    the ranks, so at the same step on all of them) with its own ``drawn``, as many batches on
    each: each runs ``training_step`` on all of them (a forward may hold a collective), then one
    ``strategy.reduce`` carries, per rank, its first such batch's index + 1 (0: none), so every
    rank returns the same answer, the lowest such rank's batch, and raises or goes on alike.
    """
    world = max(1, int(trainer.world_size))
    with isolation(trainer, pl_module, optimizers, configs, loaders) as logged:
        set_lr()

        def loss_of(args: tuple[Any, ...]) -> torch.Tensor | None:
            logged.clear()
            return _loss_of(trainer.strategy.training_step(*args), monitor, logged)

        index = first_non_finite_loss(drawn, loss_of, every=world > 1)
    if world == 1:
        return None if index is None else (0, index)
    rank = int(trainer.global_rank)
    marks = torch.zeros(world, dtype=torch.float64)
    if index is not None:
        marks[rank] = index + 1
    reduced = trainer.strategy.reduce(marks.to(trainer.strategy.root_device), reduce_op="sum").tolist()
    return next(((r, round(mark) - 1) for r, mark in enumerate(reduced) if mark > 0), None)


def strategy_model(trainer: pl.Trainer) -> torch.nn.Module | None:
    """The strategy's wrapper around the module (DDP's), ``None`` when it has none that is a module."""
    model = getattr(getattr(trainer, "strategy", None), "model", None)
    return model if isinstance(model, torch.nn.Module) else None


@contextlib.contextmanager
def recorded_clipping(trainer: pl.Trainer) -> Iterator[list[tuple[float, str]]]:
    """Record the gradient clipping done while inside: ``(clip value, "norm" | "value")`` per call that clips.

    Every Lightning clipping ends in the precision plugin's ``clip_gradients``: the Trainer's
    ``gradient_clip_val`` (through ``configure_gradient_clipping``, which a module may override
    to clip at its own value) and ``self.clip_gradients(opt, gradient_clip_val=...)`` called by
    hand in a manual ``training_step``. The plugin's method is wrapped for the duration (the call
    goes through unchanged) and put back on exit. Clipping done with torch directly
    (``torch.nn.utils.clip_grad_norm_``) is not seen.
    """
    plugin = trainer.precision_plugin
    calls: list[tuple[float, str]] = []
    own = "clip_gradients" in vars(plugin)  # an instance attribute already (another wrapper): put it back
    saved = vars(plugin).get("clip_gradients")
    original = plugin.clip_gradients

    def clip_gradients(optimizer: Optimizer, clip_val: Any = 0.0, *args: Any, **kwargs: Any) -> Any:
        algorithm = kwargs.get("gradient_clip_algorithm", args[0] if args else "norm")
        value = float(clip_val) if isinstance(clip_val, (int, float)) else 0.0
        if value > 0:
            calls.append((value, str(getattr(algorithm, "value", algorithm)).lower()))
        return original(optimizer, clip_val, *args, **kwargs)

    plugin.clip_gradients = clip_gradients  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        if own:
            plugin.clip_gradients = saved  # type: ignore[method-assign,assignment]
        else:
            del plugin.clip_gradients


@contextlib.contextmanager
def preserved_randomness(*sources: object) -> Iterator[None]:
    """The torch/CUDA/numpy/Python RNGs and the draw state of ``sources``' data put back on exit.

    ``find_lr`` runs a ``fit`` that stops before training, but Lightning builds the train
    iterator (drawing its base seed) before ``on_train_start``, outside the test's own
    snapshot: this puts back what that draw moved. ``sources`` are train loaders (or lists/dicts
    of them) and datamodules (their attributes are searched); below them every RNG and counter
    the range test's own snapshot restores (``snapshot._DataState``: a sampler's own RNG, a
    transform's, an epoch counter), not only the loaders' ``.generator``.
    """
    found: list[object] = []
    for source in sources:
        if source is None:
            continue
        if is_datamodule(source):
            # Its data, not the Trainer it points back to (whose counters are not the data's to restore).
            trainers = tuple(m.Trainer for m in _imported())
            found += [v for v in vars(source).values() if not isinstance(v, trainers)]
        else:
            found += flat_loaders(source)
    data_state = _DataState(found)
    torch_state = torch.get_rng_state()
    cuda_state = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    np_state = np.random.get_state()
    py_state = random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(torch_state)
        if cuda_state is not None:
            torch.cuda.set_rng_state_all(cuda_state)
        np.random.set_state(np_state)
        random.setstate(py_state)
        data_state.restore()


# --------------------------------------------------------------------------------------------
# Batches and steppers
# --------------------------------------------------------------------------------------------


def to_device(trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any) -> Any:
    """A loader's batch as the fit loop hands it to ``training_step``.

    As Lightning's training and evaluation loops do, in their order: the precision plugin's
    ``convert_input`` (``"bf16-true"``, ``"16-true"`` and ``"64-true"`` cast the module's weights,
    so the floating-point inputs are cast to match), ``on_before_batch_transfer`` (the
    datamodule's when it overrides it, else the module's: the module's private hook dispatches
    exactly as the loop does, for the module's own distribution) and ``strategy.batch_to_device``.
    """
    batch = trainer.precision_plugin.convert_input(batch)
    batch = pl_module._on_before_batch_transfer(batch, 0)
    return trainer.strategy.batch_to_device(batch, dataloader_idx=0)


def fit_combine_mode(trainer: pl.Trainer) -> str:
    """How the fit combines several train loaders: the mode of its ``CombinedLoader``.

    ``trainer.train_dataloader`` hands back the loaders inside it, so the mode of one the user
    gave (``CombinedLoader(loaders, mode="min_size")``) is read from the fit loop's own, which
    Lightning keeps private (``fit_loop._combined_loader._mode``, Lightning 2.0 to 2.6); without
    it, Lightning's default for training, ``max_size_cycle``.
    """
    combined = getattr(getattr(trainer, "fit_loop", None), "_combined_loader", None)
    mode = getattr(combined, "_mode", None)
    return mode if isinstance(mode, str) else "max_size_cycle"


class TrainBatches(CyclingBatches):
    """The fit's train loader(s), cycled, each batch through the transfer hooks and to the device.

    Several loaders (a list or dict) are combined as the fit combines them: in the mode of the
    ``CombinedLoader`` the fit was given (``min_size``, ``max_size``, ``sequential``), else
    Lightning's default, ``max_size_cycle`` (:func:`fit_combine_mode`). Each batch goes through
    :func:`to_device`, as in the fit.

    With ``skip``, the first ``skip`` batches of every pass are left out (they are held out to
    judge the refinement's trials, which must not train on them).

    Attributes:
        batch_size: Per-device batch size, read from the loader or the first batch.
        drawn: The loader's ``batch_size`` where it has one, else each batch's size as drawn (they may vary):
            the test's per-device batch is their median, as :func:`~lrfinder.range_test.range_test`'s.

    """

    # A list given to trainer.fit is several loaders (each batch a list of theirs), not a list of batches.
    RESTARTABLE = (
        "a DataLoader or another re-iterable (not a list of batches: Lightning reads a list as several loaders)"
    )
    DATA = "the fit's train dataloader"

    def __init__(self, trainer: pl.Trainer, pl_module: pl.LightningModule, loader: Any, skip: int = 0) -> None:
        self.skip = skip
        self.trainer = trainer
        self.pl_module = pl_module
        self.loader = loader
        self.combined = isinstance(loader, (Sequence, Mapping)) and not isinstance(loader, DataLoader)
        if self.combined:
            # A CombinedLoader of its own, not the fit's: iterating the fit's would replace the iterator it has made.
            loader = package_of(trainer).utilities.CombinedLoader(loader, mode=fit_combine_mode(trainer))
        super().__init__(loader)
        self.batch_size: int | None = None
        own = infer_batch_size(self.loader)
        self._sized = own is not None
        self.drawn: list[int | None] = [own] if own is not None else []

    def _unwrap(self, item: Any) -> Any:
        return item[0] if self.combined else item

    def next(self) -> tuple[Any, int]:
        """The next batch, on the device, and its index in the current pass."""
        batch, idx = super().next()
        while idx < self.skip:
            batch, idx = super().next()
        if self.batch_size is None:
            self.batch_size = infer_batch_size(self.loader, batch)
        if not self._sized:
            self.drawn.append(infer_batch_size(None, batch))
        return to_device(self.trainer, self.pl_module, batch), idx


#: What a ``training_step`` under automatic optimization whose loss has no autograd graph is told.
_NO_GRAD_LOSS = (
    "training_step returned a loss that does not require grad, so no gradient can be computed from it: it is not "
    "connected to the module's trainable parameters (loss.detach(), a loss rebuilt from loss.item(), or one computed "
    "under torch.no_grad()). Return the loss itself and leave backward() and the optimizer step to Lightning."
)

#: What a fit called inside ``torch.inference_mode()`` is told: no training_step's loss requires grad there.
_INFERENCE_MODE_FIT = (
    "Trainer.fit was called inside torch.inference_mode() (a `with torch.inference_mode():` block left around it, "
    "as after an evaluation in a notebook cell): no gradient is recorded there, not even under torch.enable_grad(), "
    "so training_step's loss does not require grad and neither the range test nor Lightning's training can step. "
    "Call trainer.fit outside torch.inference_mode()."
)


def _not_a_loss(output: object) -> str:
    """What ``training_step`` returned instead of a scalar loss tensor, and what to return instead.

    ``return loss, logits`` and ``return loss.item()`` were told to "reduce the loss to one number (e.g.
    loss.mean())", which fits only a loss tensor of several elements.
    """
    if isinstance(output, torch.Tensor):
        return f"a tensor of shape {tuple(output.shape)}. Reduce the loss to one number (e.g. loss.mean())."
    if isinstance(output, (tuple, list)) and output and _is_scalar_loss(output[0]):
        return (
            f"a {type(output).__name__} whose first item is a scalar tensor, the loss beside other outputs. Return "
            "that item alone, or a dict with it under 'loss' and the others beside it, as Lightning takes them."
        )
    if isinstance(output, (int, float)):
        return (
            f"a Python {type(output).__name__}, which carries no gradient (loss.item()?). Return the loss tensor "
            "itself and leave backward() and the optimizer step to Lightning."
        )
    return f"{type(output).__name__}. Return the loss tensor, or a dict with it under 'loss'."


def _loss_of(
    output: Any, monitor: str | None, logged: Mapping[str, Any], who: str = "LRFinder"
) -> torch.Tensor | None:
    """The loss of one ``training_step``: the logged ``monitor`` key, the output, or ``output['loss']``.

    ``who`` is what the user called (``LRFinder`` or ``find_lr``), for the message of a missing ``monitor``.
    """
    if monitor is not None:
        if monitor not in logged:
            raise ModelError(
                f"{who}(monitor={monitor!r}): training_step did not log {monitor!r} "
                f"(logged: {sorted(logged) or 'nothing'}). Log it with self.log({monitor!r}, loss)."
            )
        value = logged[monitor]
        return value if isinstance(value, torch.Tensor) else torch.tensor(float(value))
    if output is None:
        return None
    if isinstance(output, Mapping):
        if output.get("loss") is None:
            # {"loss": None} was "a dict without a 'loss' key", which it has.
            keys = ", ".join(repr(k) for k in list(output)[:8]) or "none"
            said = (
                "a dict whose 'loss' is None" if "loss" in output else f"a dict without a 'loss' key (its keys: {keys})"
            )
            raise ModelError(f"training_step returned {said}. Put the loss tensor under 'loss', or return it alone.")
        output = output["loss"]
    if not isinstance(output, torch.Tensor) or output.numel() != 1:
        raise ModelError(
            "training_step must return a scalar loss tensor (or a dict with 'loss'), but got "
            f"{_not_a_loss(output)}"
        )
    # A 0-d loss as it is: reshaping it added a view to the autograd graph of every step.
    return output if output.dim() == 0 else output.reshape(())


class _Stepper:
    """One optimizer step of the test at the LR already set; ``stepper(lr)`` returns its loss.

    The loss is reduced over the micro-batches and over ranks (``strategy.reduce``), so every
    rank records the same curve and takes the same stop decision. The batches are checked for
    NaN/inf alongside (:meth:`_reduce`), on one process or many.
    """

    def __init__(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        batches: TrainBatches,
        optimizers: Sequence[Optimizer],
        logged: dict[str, Any],
        who: str = "LRFinder",
    ) -> None:
        self.trainer = trainer
        # What the user called (LRFinder or find_lr), to start the messages with.
        self.who = who
        self.strategy = trainer.strategy
        self.pl_module = pl_module
        self.batches = batches
        self.optimizers = list(optimizers)
        self.logged = logged
        self.step_index = 0
        self.last_batch_size: int | None = None
        self.last_args: tuple[Any, ...] = ()
        self.last_idx = 0
        #: The sweep's LR setter while it runs (:meth:`checking_lr`): a step checks no LR moved before it steps.
        self.sweeper: Any = None
        # (optimizer id, where) checked in the step being run: a plateau warm-up's step post-hook moves the LR after
        # a manual training_step's first step, which a second step in the same call (at that LR) is not refused for.
        self._lr_checked: set[tuple[int, str]] = set()
        self._nan_watch = _NonFiniteDataWatch()
        # The first step whose loss (the mean over the ranks) was non-finite without NaN/inf in its batches:
        # (this rank's micro-batches' training_step arguments and indices, the step, its LR, the loss).
        self.non_finite: tuple[list[tuple[tuple[Any, ...], int]], int, float, float] | None = None
        params = list(inspect.signature(pl_module.training_step).parameters.values())
        self._takes_idx = len(params) >= 2 or any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)

    def _forward(self) -> Any:
        batch, idx = self.batches.next()
        self.last_idx = idx
        self.last_batch_size = infer_batch_size(None, batch) or self.batches.batch_size
        self.last_args = (batch, idx) if self._takes_idx else (batch,)
        return self.strategy.training_step(*self.last_args)

    def _reduce(self, parts: Sequence[torch.Tensor], drawn: Sequence[tuple[tuple[Any, ...], int]], lr: float) -> float:
        """The loss of ``parts``, the mean over them and over the ranks, with NaN/inf in the batches checked.

        A non-finite loss that came with NaN/inf in a batch is the data's doing, not the LR's (the
        curve would read it as the divergence): :class:`DataError`, unless a batch held NaN/inf
        with a finite loss before (a model that fills or masks them itself), see
        :class:`~lrfinder.diagnostics._NonFiniteDataWatch`. Under data parallelism the NaN may be
        another rank's, and every rank must decide the same: while the batches are watched, the
        reduced tensor carries, after the loss, one slot per rank marking that rank's first batch
        with NaN/inf (the one ``strategy.reduce`` of the loss, no collective of its own), so every
        rank raises the same error or goes on, as the plain engine does
        (:func:`~lrfinder.data_parallel._reduced_step_loss`).

        Args:
            parts: This rank's micro-batch losses of the step (or of one manual ``training_step`` call).
            drawn: This rank's ``(training_step arguments, index in the pass)`` of each of them.
            lr: The step's LR (for the message).

        Returns:
            The loss, the mean over ``parts`` and the ranks.

        Raises:
            DataError: The loss is non-finite and a batch of some rank held NaN or inf.

        """
        if len(parts) == 1:
            # The mean of one value is that value: no stack and mean (a copy, as strategy.reduce may reduce in place).
            local = parts[0].detach().to(torch.float64, copy=True).reshape(())
        else:
            local = torch.stack([p.detach().to(torch.float64).reshape(()) for p in parts]).mean()
        world = max(1, int(self.trainer.world_size))
        if world == 1 or self._nan_watch.tolerates_non_finite:
            value = float(self.strategy.reduce(local.to(self.strategy.root_device), reduce_op="mean").item())
            if world == 1:
                self._check_data(drawn, lr, value)
            self._note_non_finite(drawn, lr, value)
            return value
        batches = [args[0] if args else None for args, _ in drawn]
        found = self._nan_watch.scan(batches)
        rank = int(self.trainer.global_rank)
        marks = torch.zeros(world, dtype=torch.float64, device=local.device)  # the loss's device: cat takes one
        if found:
            marks[rank] = drawn[found[0][0]][1] + 1  # the batch's index in the pass, + 1 (0: clean)
        # The same "mean" as for the loss alone, element by element: the loss is reduced as before, and a mark
        # comes back as (index + 1) / world.
        reduced = self.strategy.reduce(
            torch.cat([local.reshape(1), marks]).to(self.strategy.root_device), reduce_op="mean"
        ).tolist()
        value = float(reduced[0])
        blamed = [(r, round(mark * world) - 1) for r, mark in enumerate(reduced[1:]) if mark > 0]
        value = ranks_data_verdict(
            self._nan_watch, value, blamed, found, [(b, idx) for b, (_, idx) in zip(batches, drawn)], rank=rank,
            world=world, step=self.step_index, lr=lr, name=lambda index, r: f"{self._batch_name(index)} on rank {r}",
            prefix=f"{self.who}: ",
        )
        self._note_non_finite(drawn, lr, value)
        return value

    def _batch_name(self, idx: int) -> str:
        """``batch 3`` when ``training_step`` takes ``batch_idx`` (it is that index), else ``a batch``."""
        return f"batch {idx}" if self._takes_idx else "a batch"

    def __call__(self, lr: float) -> float:
        raise NotImplementedError

    @contextlib.contextmanager
    def checking_lr(self, sweeper: Any) -> Iterator[None]:
        """While open, an optimizer step at another LR than the one ``sweeper`` set is refused.

        Checked where the module's code runs before the optimizer steps: after ``training_step``
        (automatic optimization), at each ``opt.step()`` it calls (manual optimization, a step
        pre-hook on every optimizer), and after the module's ``on_before_optimizer_step`` (run inside
        the optimizer's step, after the callbacks' hooks), for every optimizer swept.

        Raises:
            ModelError: on the first step whose LR was written (see :meth:`check_lr`).

        """
        module = self.pl_module
        original = module.on_before_optimizer_step

        def on_before_optimizer_step(optimizer: Optimizer, *args: Any, **kwargs: Any) -> Any:
            result = original(optimizer, *args, **kwargs)
            self.check_lr(optimizer, "on_before_optimizer_step")
            return result

        self.sweeper = sweeper
        # Lightning looks the hook up on the module each step: an instance attribute answers for the class's.
        module.__dict__["on_before_optimizer_step"] = on_before_optimizer_step
        try:
            yield
        finally:
            module.__dict__.pop("on_before_optimizer_step", None)
            self.sweeper = None  # the trials after it step under a schedule

    def check_lr(self, optimizer: Optimizer, where: str) -> None:
        """Refuse the step when ``where`` (the module's code) moved ``optimizer``'s LR from the swept one.

        Once per step and place: an LR a scheduler's step post-hook moves after the step is the next step's business.

        Raises:
            ModelError: the LR of one of ``optimizer``'s param groups is not the one the sweep set.

        """
        key = (id(optimizer), where)
        if self.sweeper is None or key in self._lr_checked:
            return
        self._lr_checked.add(key)
        moved = self.sweeper.moved(optimizer)
        if moved is not None:  # the optimizer would step at the written LR, not the swept one
            changed, group, expected, found = moved
            raise ModelError(_moved_lr_message(changed, group, expected, found, self.step_index, self.who, where))

    def _check_data(self, drawn: Sequence[tuple[tuple[Any, ...], int]], lr: float, value: float) -> None:
        """On one process: raise when a non-finite loss came with NaN/inf in its batch (see :meth:`_reduce`)."""
        batches = [args[0] if args else None for args, _ in drawn]
        for i, bad in self._nan_watch.blame(batches, math.isfinite(value)):
            where = f"{self.who}: {self._batch_name(drawn[i][1]).capitalize()}"
            raise DataError(_non_finite_data_message(where, batches[i], self.step_index, lr, value, bad))

    def _note_non_finite(self, drawn: Sequence[tuple[tuple[Any, ...], int]], lr: float, value: float) -> None:
        """Keep the first step whose (reduced) loss is non-finite: its batches are judged once the state is back.

        Under data parallelism every rank reads the same reduced ``value``, so every rank keeps its
        own batches of the same step (see :func:`loss_undefined_at_start`).
        """
        if not math.isfinite(value) and self.non_finite is None:
            self.non_finite = (list(drawn), self.step_index, lr, value)


class AutomaticStepper(_Stepper):
    """Automatic optimization: ``accumulate`` micro-batches of forward and backward, one optimizer step.

    Backward goes through ``strategy.backward`` (precision plugin, DDP; gradient sync blocked on
    all but the last micro-batch), the step through ``strategy.optimizer_step`` (gradient
    clipping, the grad scaler), as in training. A non-finite loss is recorded without a step. An
    optimizer that calls its closure more than once (LBFGS) gets the step's micro-batches run
    forward and backward again on each later call, as Lightning's training closure does.

    With a ``probe`` (:class:`lrfinder.noise.NoiseProbe`) the step's gradient (all-reduced, not
    yet clipped) goes to it after the last backward, before the optimizer step. With
    ``local=True`` (the probe's :meth:`~lrfinder.noise.NoiseProbe.watch_backward` hooks in place)
    each micro-batch's backward is bracketed so the probe records this rank's own gradient of it,
    and the step's gradient is paired with them; otherwise it joins the probe's blocks of
    consecutive steps (the global batch).
    """

    def __init__(self, *args: Any, accumulate: int = 1, probe: Any = None, local: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accumulate = accumulate
        self.probe = probe
        self.local = local
        # A train loader without a length is judged by its first pass once it has ended (refused before the test
        # over a loader with one): accumulate_grad_batches=10**9 over a 4-batch stream ran without end.
        from .range_test import MAX_PASSES_PER_STEP
        from .refine import _length

        loader = self.batches.loader
        combined = isinstance(loader, (Sequence, Mapping))  # several loaders: the fit's count judged them
        self._uncounted = accumulate > MAX_PASSES_PER_STEP and not combined and _length(loader) is None

    def _check_counted_passes(self) -> None:
        """Refuse, once the loader's first pass has ended, an accumulation that cycles it over ten times a step."""
        from .range_test import passes_per_step_error

        passes = self.batches.first_pass
        if not self._uncounted or passes is None:
            return
        self._uncounted = False
        error = passes_per_step_error(
            passes,
            self.accumulate,
            0,  # not counted: the consequence below says what a step does
            option="accumulate_grad_batches",
            data=f"the train loader of {self.who}'s range test yielded in its first pass (it has no length: they "
            "were counted as the test drew them)",
            fix="Set the Trainer's accumulate_grad_batches to the accumulation training uses.",
            consequence=f"each optimizer step of the test would cycle through the loader "
            f"{self.accumulate / passes:,.0f} times, drawing the same batches again and again",
        )
        if error is not None:
            raise error

    def _micro_batch_loss(self) -> torch.Tensor:
        for _ in range(MAX_SKIPPED):
            loss = _loss_of(self._forward(), None, {})
            if loss is not None:
                if not (loss.is_floating_point() or loss.is_complex()):
                    # An integer or bool loss cannot require grad: said as "not connected to the parameters".
                    raise ModelError(
                        f"training_step must return a floating-point loss, but got dtype {loss.dtype}: an integer "
                        "or bool loss is not differentiable. Return the loss the model's output gives (e.g. "
                        "F.cross_entropy(logits, y)), not a count or a comparison."
                    )
                if not loss.requires_grad:
                    # backward() failed in autograd: "element 0 of tensors does not require grad and does not have
                    # a grad_fn", naming neither training_step nor the fix.
                    raise ModelError(_INFERENCE_MODE_FIT if torch.is_inference_mode_enabled() else _NO_GRAD_LOSS)
                return loss
        # Most often a training_step without its `return loss`: Lightning warns and trains on nothing.
        raise ModelError(
            f"training_step returned None for {MAX_SKIPPED} batches in a row, so the range test has no loss to "
            "sweep (Lightning skips a batch whose training_step returns None, and would train on none of these). "
            "Return the loss from training_step (a tensor, or a dict with 'loss'): a missing `return loss` gives None."
        )

    def __call__(self, lr: float) -> float:
        """Run one optimizer step at the LR already set; return the loss."""
        opt = self.optimizers[0]
        self._lr_checked.clear()
        self.pl_module.optimizer_zero_grad(self.trainer.current_epoch, self.step_index, opt)
        parts: list[torch.Tensor] = []
        inputs: list[tuple[Any, ...]] = []
        indices: list[int] = []
        sizes: set[int | None] = set()
        probe = self.probe
        local = probe is not None and self.local
        for k in range(self.accumulate):
            sync: Any = contextlib.nullcontext()
            if k < self.accumulate - 1 and hasattr(self.strategy, "block_backward_sync"):
                sync = self.strategy.block_backward_sync()
            with sync:
                loss = self._micro_batch_loss()
                self._check_counted_passes()
                inputs.append(self.last_args)
                indices.append(self.last_idx)
                sizes.add(self.last_batch_size)
                if local:
                    probe.before_backward()
                # A post-accumulate-grad hook stepping its own optimizer in backward: refused, as range_test does.
                hooked = hooked_versions(opt) if self.step_index == 0 else []
                # Not divided by 1 (as Lightning's own closure): x / 1 is x, and its autograd node cost every step.
                self.strategy.backward(loss if self.accumulate == 1 else loss / self.accumulate, opt)
                refuse_stepped_in_backward(self.pl_module, opt, hooked, HOOKS_FIX_LIGHTNING)
                if local:
                    probe.after_backward()
                parts.append(loss.detach())
        value = self._reduce(parts, list(zip(inputs, indices)), lr)  # NaN/inf in the batches, not the LR
        if probe is not None:
            size = sizes.pop() if len(sizes) == 1 else None
            world = max(1, int(self.trainer.world_size))
            scale = _grad_scale(self.strategy)
            if local:
                probe.end_backward_step(self.step_index, size, self.accumulate, world, grad_scale=scale)
            else:
                total = None if size is None else size * self.accumulate * world
                probe.end_step(self.step_index, value, total, grad_scale=scale)
        if math.isfinite(value):
            # The gradients are ready: the closure's first call only hands the loss back, so the
            # precision plugin clips (gradient_clip_val), unscales and steps as in training. An
            # optimizer that evaluates the closure again (LBFGS, SAM's second pass) gets the same
            # micro-batches' forward and backward again at the new weights, as Lightning's own
            # closure does (the range test's StepClosure, one rule for both).
            closure = StepClosure(opt, parts[-1], lambda: self._replay(opt, inputs))
            first = self.step_index == 0
            if first and isinstance(opt, torch.optim.SparseAdam):
                check_sparse_gradients(self.pl_module, opt)
            # As range_test says it: torch's "Adam does not support sparse gradients" came out bare.
            self.check_lr(opt, "training_step")
            # An optimizer whose step never reads group['lr'] (a user's, stepping by self.lr) is refused, as range_test.
            with lr_read_checked(opt, first), first_step_errors(opt, first), module_hook_errors(self.pl_module, first):
                self.strategy.optimizer_step(opt, closure=closure, model=self.pl_module)
        self.step_index += 1
        return value

    def _replay(self, opt: Optimizer, inputs: Sequence[tuple[Any, ...]]) -> torch.Tensor:
        """Gradients and loss of the step's micro-batches at the current weights (a closure's re-evaluation)."""
        self.pl_module.optimizer_zero_grad(self.trainer.current_epoch, self.step_index, opt)
        losses: list[torch.Tensor] = []
        for k, args in enumerate(inputs):
            sync: Any = contextlib.nullcontext()
            if k < len(inputs) - 1 and hasattr(self.strategy, "block_backward_sync"):
                sync = self.strategy.block_backward_sync()
            with sync:
                loss = _loss_of(self.strategy.training_step(*args), None, {})
                if loss is None:
                    raise ModelError("training_step returned None on a batch it gave a loss for a moment before.")
                self.strategy.backward(loss if len(inputs) == 1 else loss / len(inputs), opt)
                losses.append(loss.detach())
        return torch.stack(losses).mean()


def _moved_lr_message(
    optimizer: Optimizer, group: int, expected: float, found: object, step: int, who: str, where: str
) -> str:
    """Why a test step whose LR the module's code (``where``) changed after the sweep set it is refused."""
    shown = f"{found:.2e}" if isinstance(found, float) else f"{found!r:.40}"
    if where == "training_step":
        fix = (
            "return the scheduler from configure_optimizers (Lightning steps it after the optimizer step), or set a "
            "hand-written warm-up's LR in optimizer_step, not in training_step."
        )
    elif where == "on_before_optimizer_step":
        fix = (
            "return the scheduler from configure_optimizers, or set a hand-written warm-up's LR in optimizer_step "
            "(automatic optimization), not in on_before_optimizer_step."
        )
    else:
        fix = (
            "return the scheduler from configure_optimizers and step it with self.lr_schedulers().step() after "
            "opt.step() (it does not step during the test), or read the warm-up's LR from an attribute LRFinder sets."
        )
    return (
        f"The LR of param group {group} of {type(optimizer).__name__} was changed during step {step} of {who}'s range "
        f"test, from the swept {expected:.2e} to {shown}, before the optimizer stepped: {where} steps an LR "
        "scheduler or writes optimizer.param_groups[...]['lr'], so the curve would record LRs that were never used. "
        f"The range test sets every step's LR itself: {fix}"
    )


@contextlib.contextmanager
def module_hook_errors(pl_module: pl.LightningModule, first: bool) -> Iterator[None]:
    """On the test's first optimizer step, a failure in the module's own code is a :class:`ModelError` naming it.

    Lightning runs the module's ``on_before_optimizer_step`` and ``configure_gradient_clipping``
    inside the optimizer's step (in the closure torch's ``step`` calls first), so their failures
    read as the optimizer's: "SGD.step() failed ... check the optimizer's settings against the
    model's parameters" for an ``AttributeError`` in ``on_before_optimizer_step``, or for
    Lightning's refusal of ``self.clip_gradients(...)`` next to ``Trainer(gradient_clip_val=...)``.
    The outermost frame of the module's (its ``self``) names the method. A later step's failure,
    and one with no frame of the module's, pass through unchanged.
    """
    try:
        yield
    except Exception as exc:
        if not first or isinstance(exc, LRFinderError):
            raise
        method = next(
            (
                frame.f_code.co_name
                for frame, _ in traceback.walk_tb(exc.__traceback__)
                if frame.f_locals.get("self") is pl_module
            ),
            None,
        )
        if method is None:
            raise
        clipper = _torch_clipping(exc)
        if clipper is not None and any(p.grad is not None and p.grad.is_sparse for p in pl_module.parameters()):
            # torch's dispatcher error ("Could not run 'aten::linalg_vector_norm' with arguments from the
            # 'SparseCPU' backend", then some 100 backends) told nothing of the cause: range_test's refusal.
            value = pl_module.trainer.gradient_clip_val
            if value is not None:
                raise sparse_clip_error(
                    clipper, f"Trainer(gradient_clip_val={value})", "Drop gradient_clip_val from the Trainer"
                ) from exc
            raise sparse_clip_error(
                clipper, f"{type(pl_module).__name__}.{method}()", "Clip only the dense parameters there"
            ) from exc
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        why = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
        raise ModelError(
            f"{type(pl_module).__name__}.{method}() failed on the range test's first optimizer step ({why}). "
            "Lightning calls it at every optimizer step of training too, so the fit would fail there the same way: "
            "fix it in the module."
        ) from exc


def _torch_clipping(exc: BaseException) -> str | None:
    """The name of torch's clipping function ``exc`` was raised in (``clip_grad_norm_``), else ``None``."""
    if not isinstance(exc, (NotImplementedError, RuntimeError)):
        return None
    names = [
        frame.f_code.co_name
        for frame, _ in traceback.walk_tb(exc.__traceback__)
        if frame.f_code.co_filename.endswith(os.path.join("nn", "utils", "clip_grad.py"))
    ]
    return next((n for n in names if n in ("clip_grad_norm_", "clip_grad_value_")), names[0] if names else None)


def _grad_scale(strategy: Any) -> float:
    """The mixed-precision loss scale the last backward used (1 without a grad scaler)."""
    scaler = getattr(getattr(strategy, "precision_plugin", None), "scaler", None)
    if scaler is None or not getattr(scaler, "is_enabled", lambda: True)():
        return 1.0
    return float(scaler.get_scale())


def _in_backward() -> bool:
    """Whether a backward is running on this thread (torch's own multi-grad hooks ask it the same way).

    ``torch._C._current_graph_task_id`` is private: where a torch lacks it, ``False`` (a hook stepping the swept
    optimizer in backward then goes unrefused under manual optimization) rather than an AttributeError mid-test.
    """
    task_id = getattr(torch._C, "_current_graph_task_id", None)
    return callable(task_id) and task_id() != -1


class ManualStepper(_Stepper):
    """Manual optimization: ``training_step`` steps its own optimizers; the loss is its output or ``monitor``.

    One call is one optimizer step of the sweep, as under automatic optimization: ``training_step``
    runs on the next batch, at the same LR, until it has stepped an optimizer (counted by step
    post-hooks on ``optimizers``) and given a loss. A call that gives none (returns ``None``, or
    does not log ``monitor``: a GAN that steps its discriminator on every other batch and logs
    ``g_loss`` on the generator's) is run and the next one is taken. A ``training_step`` that accumulates gradients
    by hand (``if (batch_idx + 1) % 4 == 0: opt.step()``) so gets its micro-batches at one LR, and
    the loss is their mean; each step's count of micro-batches is kept in :attr:`accumulation`
    (the effective batch is that many per-device batches). Before, every call of ``training_step``
    got the next LR whether it stepped or not.

    Attributes:
        micro_batches: ``training_step`` calls so far in the step being run.
        accumulation: For each step run, the calls up to its first optimizer step.

    """

    def __init__(self, *args: Any, monitor: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.monitor = monitor
        self.micro_batches = 0
        self.accumulation: list[int] = []
        self._lr_read_checked: set[int] = set()  # the optimizers whose first step was checked for reading the LR
        # The keys training_step logged while ``monitor`` was missing, for the error when it never comes.
        self._logged_instead: set[str] = set()

    def __call__(self, lr: float) -> float:
        """Run ``training_step`` (which steps its optimizers) until an optimizer stepped; return the mean loss."""
        first_step: list[int] = []
        # An optimizer whose step never reads group['lr'] is refused at its first step, as under automatic
        # optimization (lr_read_checked): the copies are lent before the step, checked after it.
        lent: dict[int, LrReadCheck] = {}

        def stepped(opt: Optimizer, *_: Any) -> None:
            if not first_step:
                first_step.append(self.micro_batches)
            check = lent.pop(id(opt), None)
            if check is not None:
                check.refuse_unread(check.put_back())

        def before_step(opt: Optimizer, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            if _in_backward():  # a hook steps the swept optimizer
                raise ModelError(stepped_during_backward_message(self.pl_module, opt))
            self.check_lr(opt, "training_step, before opt.step(),")
            # Its backward (manual_backward) ran since the versions were taken: hooks stepping in it are refused.
            before = hooked.pop(id(opt), [])
            refuse_stepped_in_backward(self.pl_module, opt, before, HOOKS_FIX_LIGHTNING)
            if self.step_index == 0 and id(opt) not in self._lr_read_checked:
                self._lr_read_checked.add(id(opt))
                lent[id(opt)] = LrReadCheck(opt)
                lent[id(opt)].lend()
            # opt.step(closure) runs the closure's backward inside the step, after this hook: checked around its
            # first call (before: the optimizer has hooked parameters at the first step).
            closure = kwargs.get("closure", args[0] if args else None)
            if not before or not callable(closure):
                return None
            closure = closure_checked(self.pl_module, opt, closure, HOOKS_FIX_LIGHTNING)
            if "closure" in kwargs:
                return args, {**kwargs, "closure": closure}
            return (closure, *args[1:]), kwargs

        # Each optimizer's hooked parameters before the first step's training_step, checked at its first opt.step().
        hooked = {id(opt): hooked_versions(opt) for opt in self.optimizers} if self.step_index == 0 else {}
        self._lr_checked.clear()
        handles = [opt.register_step_post_hook(stepped) for opt in self.optimizers]
        handles += [opt.register_step_pre_hook(before_step) for opt in self.optimizers]
        values: list[float] = []  # each call's loss, averaged over ranks
        self.micro_batches = 0
        try:
            while not (first_step and values):
                if self.micro_batches >= MAX_SKIPPED:
                    raise ModelError(self._no_step_message(bool(first_step)))
                self.micro_batches += 1
                self.logged.clear()
                output = self._forward()
                if self.monitor is not None and self.monitor not in self.logged:
                    self._logged_instead.update(self.logged)
                    continue  # logged on other batches only (a GAN's generator loss): no loss from this call
                loss = _loss_of(output, self.monitor, self.logged, self.who)
                if loss is None:
                    self._logged_instead.update(self.logged)  # the keys to name when no call gives a loss
                    continue
                values.append(self._reduce([loss], [(self.last_args, self.last_idx)], lr))  # NaN in the batch: raises
                if not math.isfinite(values[-1]):
                    # The sweep ends here; a grad scaler would skip every step from now on. Decided on
                    # the loss averaged over ranks, so every rank leaves the loop at the same call.
                    break
        finally:
            for handle in handles:
                handle.remove()
            for check in lent.values():  # a step that raised: its groups put back, its error kept
                check.put_back()
        self.accumulation.append(first_step[0] if first_step else self.micro_batches)
        self.step_index += 1
        return sum(values) / len(values)

    def _no_step_message(self, stepped: bool) -> str:
        if self.monitor is not None and stepped:
            logged = sorted(self._logged_instead)
            return (
                f"{self.who}(monitor={self.monitor!r}): training_step did not log {self.monitor!r} in "
                f"{MAX_SKIPPED} calls (logged: {logged or 'nothing'}). Log it with self.log({self.monitor!r}, loss)."
                + _counter_hint(self.pl_module)
            )
        if stepped:
            logged = sorted(self._logged_instead)
            keys = f": it logged {', '.join(map(repr, logged))}" if logged else ""
            return (
                "training_step gave no loss under manual optimization: return it (a tensor or a dict "
                f"with 'loss') or log it with self.log and pass its key as {self.who}(monitor=...){keys}."
                + _counter_hint(self.pl_module)
            )
        return (
            f"training_step ran {MAX_SKIPPED} times under manual optimization without stepping an optimizer of "
            "configure_optimizers: the range test sweeps one LR per optimizer step. Call opt.step() on "
            f"self.optimizers() in training_step (at least once per {MAX_SKIPPED} batches)."
            + _counter_hint(self.pl_module)
        )


def _counter_hint(pl_module: pl.LightningModule) -> str:
    """A note for a ``training_step`` that reads the Trainer's counters, which stay at 0 through the test.

    A GAN that alternates its networks on ``self.global_step % 2`` runs the same one on every call
    of the test, so the loss it logs on the other one's calls never comes: the messages above then
    sent the user to log a key that ``training_step`` does log.
    """
    try:
        source = inspect.getsource(type(pl_module).training_step)
    except (OSError, TypeError):  # defined in a notebook cell or built at run time: no note
        return ""
    read = [name for name in ("global_step", "current_epoch") if re.search(rf"\b{name}\b", source)]
    if not read:
        return ""
    return (
        f" training_step reads {' and '.join(read)}: the Trainer's counters stay at 0 through the range test, so a "
        "choice made on them goes the same way on every call there. Choose by batch_idx instead."
    )


def make_stepper(
    trainer: pl.Trainer,
    pl_module: pl.LightningModule,
    batches: TrainBatches,
    optimizers: Sequence[Optimizer],
    logged: dict[str, Any],
    *,
    accumulate: int = 1,
    monitor: str | None = None,
    probe: Any = None,
    local: bool = False,
    who: str = "LRFinder",
) -> _Stepper:
    """The stepper for the module's kind of optimization (``probe``: automatic optimization only).

    ``who`` is what the user called (``LRFinder`` or ``find_lr``): the messages name it.
    """
    if pl_module.automatic_optimization:
        return AutomaticStepper(
            trainer, pl_module, batches, optimizers, logged, who, accumulate=accumulate, probe=probe, local=local
        )
    return ManualStepper(trainer, pl_module, batches, optimizers, logged, who, monitor=monitor)


def erase_train_bar(trainer: pl.Trainer) -> None:
    """Have Lightning's training bar (``TQDMProgressBar``'s) erased when it closes, not left on the screen.

    For a fit that trains no step (``find_lr``'s, stopped once the test is done): its bar, opened at
    ``on_train_start``, was left behind as a line ``Training: |  | 0/? [00:00<?, ?it/s]`` under the
    test's own. Another progress bar (Rich's, a user's own) is left as it is.
    """
    try:
        bar = trainer.progress_bar_callback.train_progress_bar  # type: ignore[union-attr]
    except (AttributeError, TypeError):  # no bar, another kind of bar, or none opened
        return
    if hasattr(bar, "leave"):
        bar.leave = False


def progress_bar(trainer: pl.Trainer, total: int, desc: str = "Finding LR") -> Any:
    """A tqdm bar styled as Lightning's (titled ``desc``), or ``None`` when the progress bar is disabled."""
    callback = trainer.progress_bar_callback
    if callback is None or not trainer.is_global_zero or not getattr(callback, "is_enabled", True):
        return None
    tqdm_cls = importlib.import_module(f"{package_of(trainer).__name__}.callbacks.progress.tqdm_progress").Tqdm
    return tqdm_cls(
        desc=desc,
        total=total,
        position=2 * getattr(callback, "process_position", 0),
        leave=False,
        dynamic_ncols=True,
        file=sys.stdout,
        smoothing=0,
        bar_format=getattr(callback, "BAR_FORMAT", None),
    )
