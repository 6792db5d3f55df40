"""Where a LightningModule keeps its LR and batch size: dotted attributes, ``hparams``, the datamodule.

:class:`~lrfinder.LRFinder` reads and sets the module's LR attribute (``lr``, ``hparams.lr``, a
dotted ``attr_name``) and the ``batch_size`` of ``target_batch_size`` through these helpers.
:func:`_holders` is Lightning's order of the objects that may hold a name (the module, its
``hparams``, the datamodule, its ``hparams``, as its tuner and ``BatchSizeFinder`` search them);
:func:`_lr_holders` is the one choice of what setting the LR writes: the attribute itself and, for a
holder's own attribute (not a nested one), every other holder of its name that holds a number and can
take one. :func:`_set_lr_everywhere` writes them; :func:`_restore_holders` puts back what
:func:`_lr_holders` read.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import types
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pytorch_lightning as pl


#: What :func:`_value` gives for a path that leads nowhere.
_MISSING = object()


def _value(obj: Any, dotted: str) -> Any:
    """The value at ``dotted`` (attributes and mapping keys, ``hparams.lr``), or :data:`_MISSING`."""
    for part in dotted.split("."):
        if isinstance(obj, Mapping):
            if part not in obj:
                return _MISSING
            obj = obj[part]
        elif hasattr(obj, part):
            obj = getattr(obj, part)
        else:
            return _MISSING
    return obj


def _has_attr(obj: Any, dotted: str) -> bool:
    value = _value(obj, dotted)
    return value is not _MISSING and _is_number(value)


def _not_a_number(obj: Any, dotted: str) -> str | None:
    """What ``dotted`` holds when it is there but no number (``"'1e-3' (a str)"``); ``None`` otherwise.

    An LR read from a config as text (PyYAML reads ``1e-3``, without a dot, as a string) cannot take
    the found LR: the caller says so rather than passing it over without a word. ``None`` (an LR
    not set) is no such value, nor is a method or other callable (a ``learning_rate()`` helper that reads the
    optimizer's LR): it holds no LR.
    """
    value = _value(obj, dotted)
    if value is _MISSING or value is None or _is_number(value) or callable(value):
        return None
    return f"{value!r:.40} (a {type(value).__name__})"


#: The names of an LR inside a nested hyper-parameter (``hparams.optim["lr"]``) that the callback finds on its own.
NESTED_LR_NAMES = ("lr", "learning_rate")


def _nested_lr_attributes(pl_module: Any) -> list[str]:
    """The LRs held one level down in the module's ``hparams``: ``hparams.optim.lr`` for ``hparams.optim["lr"]``.

    A LightningCLI config, or ``save_hyperparameters({"optim": {...}})``, groups the optimizer's settings under a key
    of their own. Each entry that is a mapping or a namespace (``argparse.Namespace``, jsonargparse's) and holds a
    number under one of :data:`NESTED_LR_NAMES` that can be set gives its dotted path, in ``hparams``' order.
    """
    return [path for path in _nested_lr_paths(pl_module) if _has_attr(pl_module, path) and _settable(pl_module, path)]


def _nested_lr_paths(pl_module: Any) -> list[str]:
    """Every ``hparams.<key>.<name>`` held one level down, a number or not (``"1e-3"`` read from a config as text).

    ``<key>`` is an entry of ``hparams`` that is a mapping or a namespace, ``<name>`` one of :data:`NESTED_LR_NAMES`
    it holds, in ``hparams``' order.
    """
    hparams = getattr(pl_module, "hparams", None)
    if not isinstance(hparams, Mapping):
        return []
    found = []
    for key, entry in hparams.items():
        if not isinstance(key, str) or "." in key:
            continue
        if not isinstance(entry, (Mapping, argparse.Namespace, types.SimpleNamespace)):
            continue
        found += [f"hparams.{key}.{name}" for name in NESTED_LR_NAMES if _value(entry, name) is not _MISSING]
    return found


def _settable(obj: Any, dotted: str) -> bool:
    """Whether ``setattr`` can put a value at ``dotted`` (a read-only property cannot take one)."""
    return _read_only(obj, dotted) is None


def _read_only(obj: Any, dotted: str) -> str | None:
    """What keeps ``setattr`` from putting a value at ``dotted``, ``None`` when nothing does.

    A read-only property, a field of a frozen dataclass (``FrozenInstanceError``) or of a
    namedtuple: each found before the test rather than when the found LR is set after it.
    """
    *path, last = dotted.split(".")
    for part in path:
        obj = obj[part] if isinstance(obj, Mapping) else getattr(obj, part)
    if isinstance(obj, Mapping):
        return None
    params = getattr(obj, "__dataclass_params__", None)
    if dataclasses.is_dataclass(obj) and getattr(params, "frozen", False):
        return f"a field of the frozen dataclass {type(obj).__name__}"
    if isinstance(obj, tuple):
        return f"a field of the tuple {type(obj).__name__}"
    static = inspect.getattr_static(type(obj), last, None)
    if isinstance(static, property) and static.fset is None:
        return f"a read-only property of {type(obj).__name__}"
    return None


def _is_number(value: Any) -> bool:
    """A number an LR attribute may hold: Python's and numpy's alike (``np.float32(1e-3)`` from a config), not a bool.

    A numpy float32 or int was no LR attribute: the found LR went into the optimizers only, and ``self.lr`` and
    ``hparams.lr`` kept the old value, which a checkpoint then rebuilt the module with.
    """
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _get(holder: Any, name: str) -> Any:
    return holder[name] if isinstance(holder, Mapping) else getattr(holder, name)


def _put(holder: Any, name: str, value: Any) -> None:
    if isinstance(holder, Mapping):
        holder[name] = value  # type: ignore[index]
    else:
        setattr(holder, name, value)


def _holders(trainer: pl.Trainer, pl_module: pl.LightningModule, name: str) -> list[Any]:
    """The objects holding ``name``: the module, its hparams, the datamodule, its hparams (Lightning's order)."""
    dm = trainer.datamodule  # type: ignore[attr-defined]
    candidates = [pl_module, getattr(pl_module, "hparams", None), dm, getattr(dm, "hparams", None)]
    out: list[Any] = []
    for obj in candidates:
        if obj is None or any(obj is h for h in out):
            continue
        if (name in obj) if isinstance(obj, Mapping) else hasattr(obj, name):
            out.append(obj)
    return out


def _lr_holders(trainer: pl.Trainer, pl_module: pl.LightningModule, attr: str) -> list[tuple[Any, str, Any]]:
    """What setting the LR at ``attr`` writes, with the values they hold now: the one choice of the holders.

    ``attr`` itself first, then, when ``attr`` is a holder's own attribute (``lr``, ``hparams.lr``), every
    other holder of its name (:func:`_holders`) that holds a number and can take one (``self.lr`` and
    ``self.hparams.lr``), each once. A nested ``attr`` (``hparams.optim.lr``) is written alone.
    :func:`_set_lr_everywhere` sets them, :func:`_restore_holders` puts these values back.
    """
    *path, name = attr.split(".")
    obj: Any = pl_module
    for part in path:
        obj = obj[part] if isinstance(obj, Mapping) else getattr(obj, part)
    out = [(obj, name, _get(obj, name))]
    holders = _holders(trainer, pl_module, name)
    if all(obj is not h for h in holders):
        # A nested path (hparams.optim["lr"]) is that LR alone: the module's own self.lr and hparams.lr are others.
        return out
    for holder in holders:
        if all(holder is not h for h, _, _ in out) and _is_number(_get(holder, name)) and _settable(holder, name):
            out.append((holder, name, _get(holder, name)))
    return out


def _restore_holders(saved: Sequence[tuple[Any, str, Any]]) -> None:
    """Put back the values :func:`_lr_holders` read."""
    for holder, name, value in saved:
        _put(holder, name, value)


def _set_lr_everywhere(trainer: pl.Trainer, pl_module: pl.LightningModule, attr: str, lr: float) -> None:
    """Set ``attr`` and every other holder of its name (``self.lr`` and ``hparams.lr``), as Lightning's tuner does.

    The holders are :func:`_lr_holders`'. The hyper-parameters then carry the LR into
    checkpoints; :meth:`lrfinder.LRFinder._log_lr` gives it to the loggers again so
    ``hparams.yaml`` has it too.
    """
    for holder, name, _ in _lr_holders(trainer, pl_module, attr):
        _put(holder, name, lr)
