"""Snapshot and restore of everything a range test changes: the model, the optimizers, the data, the RNGs.

:class:`StateSnapshot` captures the state before the sweep and puts it back after it: parameters
and buffers, optimizer state and param groups, the tensors a module keeps as plain attributes,
DDP communication-hook state, an FSDP model's sharding, the data's samplers and generators
(:class:`_DataState`) and the global RNGs, so training continues as if the test never ran.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import enum
import functools
import io
import logging
import random
import threading
import types
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.nn.parameter import is_lazy
from torch.optim import optimizer as _torch_optimizer
from torch.utils.data import Dataset

from ._atomic import held_back_signals
from ._checks import check_flag, check_module_initialised, is_not_a_sequence, not_a_module_message, single_number_note
from ._warn import warn


def _warmup_owner(hook: object) -> Any:
    """The lrfinder warm-up scheduler (``PlateauWithWarmup``) a step hook is the method of, else ``None``.

    Its warm-up is state :class:`StateSnapshot` puts back, unlike what other step hooks change.
    """
    owner = getattr(hook, "__self__", None)
    return owner if hasattr(owner, "warmup_calls") and hasattr(owner, "load_state_dict") else None


def _clone(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clone(v) for v in value)
    return copy.deepcopy(value)


#: What a DataLoader draws with; its other attributes (its worker iterator) are its own business.
_LOADER_PARTS = ("sampler", "batch_sampler", "dataset", "generator", "collate_fn", "worker_init_fn")
#: How deep :class:`_DataState` looks below the data (loader -> dataset -> Subset's dataset -> transform -> ...).
_DATA_DEPTH = 8
#: A list, tuple or dict longer than this is data (file names, examples), not parts (datasets, transforms).
_DATA_PARTS = 64
#: At most this many objects are looked at: a bound on the walk, whatever the data holds.
_DATA_OBJECTS = 4096
#: Values never walked into: no draw state of the data lives in them (or it is restored with the model).
_NOT_DATA_PARTS = (
    type(None), bool, int, float, complex, str, bytes, torch.Tensor, np.ndarray, type, types.ModuleType,
    types.FunctionType, types.BuiltinFunctionType, types.MethodType, nn.Module, torch.optim.Optimizer,
    torch.device, torch.dtype, logging.Logger,
)  # fmt: skip
_RNGS = (torch.Generator, random.Random, np.random.RandomState, np.random.Generator)
_NUMBERS = (bool, int, float, np.integer, np.floating)


def _data_holders(data: object) -> Iterator[object]:
    """``data`` and the objects below it that a pass over it may draw from or count with, each once.

    A DataLoader's sampler, batch sampler, dataset, generator, collate function and worker init
    function; below those (and below any other iterable), every attribute, and the items of short
    lists, tuples and dicts: a ``Subset``'s or ``ConcatDataset``'s datasets, a dataset's transform
    (and a ``Compose``'s transforms), a wrapping sampler's inner one. Tensors, arrays, functions,
    modules and optimizers are not walked into.
    """
    stack: list[tuple[object, int]] = [(data, 0)]
    seen: set[int] = set()
    while stack and len(seen) < _DATA_OBJECTS:
        obj, depth = stack.pop()
        if isinstance(obj, _NOT_DATA_PARTS) or id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        if depth >= _DATA_DEPTH or isinstance(obj, _RNGS):
            continue
        if isinstance(obj, torch.utils.data.DataLoader):
            values = [getattr(obj, name, None) for name in _LOADER_PARTS]
        elif isinstance(obj, (list, tuple)):
            values = list(obj) if len(obj) <= _DATA_PARTS else []
        elif isinstance(obj, dict):
            values = list(obj.values()) if len(obj) <= _DATA_PARTS else []
        else:
            attrs = getattr(obj, "__dict__", None)
            values = list(attrs.values()) if isinstance(attrs, dict) else []
        stack.extend((value, depth + 1) for value in reversed(values))


def _order_copy(value: Any) -> Any:
    """A copy of a sampler's order (:class:`_DataState`): lists, deques and dicts copied at every depth, others shared.

    A bucketing sampler shuffles each of its buckets (a list of lists) in place, a class-balanced one each class's
    indices (a dict of lists); the indices themselves are numbers, and a tuple cannot be shuffled in place.
    """
    if isinstance(value, (list, collections.deque)):
        return type(value)(_order_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _order_copy(v) for k, v in value.items()}
    return value


def _sampler_orders(obj: object, attrs: dict[str, Any]) -> list[tuple[dict[str, Any], str, Any, Any]]:
    """The orders a sampler (or an IterableDataset) keeps as attributes, each with a copy to put back in place.

    Lists, deques and dicts of plain values (a permutation shuffled in place at each ``iter()``, ``random.shuffle(
    self.order)``, a queue of pending indices carried over from one epoch to the next, a bucketing sampler's
    buckets, a class-balanced sampler's indices by class), and integer tensors and arrays (``self.perm =
    torch.arange(n)`` permuted in place), up to :data:`ATTRIBUTE_COPY_LIMIT` in all. Not float tensors or arrays:
    a sampler built over raw data (``RandomSampler(features)``) holds the data itself there, which no ``iter()``
    changes.
    """
    if not isinstance(obj, (torch.utils.data.Sampler, torch.utils.data.IterableDataset)):
        return []
    found: list[tuple[dict[str, Any], str, Any, Any]] = []
    size = 0
    for name, value in attrs.items():
        if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.integer):
            size += _tensor_bytes(value)
            found.append((attrs, name, value, value.copy()))
        elif (
            isinstance(value, torch.Tensor)
            and not isinstance(value, nn.Parameter)
            and not (value.dtype.is_floating_point or value.is_complex() or value.dtype == torch.bool)
            and not (value.is_inference() or value.is_meta or _storage_freed(value))
        ):
            size += _tensor_bytes(value)
            with torch.inference_mode(False), torch.no_grad():
                found.append((attrs, name, value, value.detach().clone()))
        elif isinstance(value, (list, collections.deque, dict)) and _plain_value(value):
            size += _tensor_bytes(value) + 8 * len(value)
            found.append((attrs, name, value, _order_copy(value)))
    return found if size <= ATTRIBUTE_COPY_LIMIT else []


def _put_order_back(value: Any, saved: Any) -> Any:
    """``value`` (a list, deque, tensor or array) holding ``saved`` again, in place where it can be, else a copy."""
    if isinstance(value, torch.Tensor):
        if value.shape == saved.shape and value.dtype == saved.dtype and value.device == saved.device:
            with torch.inference_mode(False), torch.no_grad():
                value.copy_(saved)
            return value
        return saved.clone()
    if isinstance(value, np.ndarray):
        if value.shape == saved.shape and value.dtype == saved.dtype and value.flags.writeable:
            value[...] = saved
            return value
        return saved.copy()
    items = _order_copy(saved)  # a copy again: the next restore (a refine trial's) needs the saved one
    if isinstance(value, list):
        value[:] = items
    elif isinstance(value, dict):
        value.clear()
        value.update(items)
    else:
        value.clear()
        value.extend(items)
    return value


class _DataState:
    """The draw state of one or more data iterables, put back by :meth:`restore`.

    Every RNG found below the data (:func:`_data_holders`): ``torch.Generator`` objects under any
    name (a DataLoader's or sampler's ``generator``, a custom sampler's ``self.rng``, an augmenting
    dataset's or transform's own generator), Python ``random.Random`` and numpy RNGs; the plain
    numbers the objects keep as attributes (a sampler's ``epoch`` counted up by each ``iter()``,
    which reseeds its shuffle); and the orders samplers and IterableDatasets keep (a list of indices
    shuffled in place, a queue of pending indices, an integer permutation tensor: :func:`_sampler_orders`):
    a range test that iterates the data leaves the next pass drawing what it would have drawn without
    the test. The read position of an open, seekable file the data holds (an IterableDataset that
    reads ``self.file``, opened in ``__init__``, line by line) is put back too: the lines the test read
    were not read again by training. A DataLoader's own attributes are not touched.
    """

    def __init__(self, data: Iterable[object]) -> None:
        self._rngs: list[tuple[Any, Any]] = []
        self._numbers: list[tuple[dict[str, Any], str, Any]] = []
        self._orders: list[tuple[dict[str, Any], str, Any, Any]] = []
        self._files: list[tuple[io.IOBase, int]] = []
        seen: set[int] = set()
        for source in data:
            for obj in _data_holders(source):
                if id(obj) in seen:
                    continue
                seen.add(id(obj))
                if isinstance(obj, _RNGS):
                    if not isinstance(obj, random.SystemRandom):  # no state to save
                        self._rngs.append((obj, _rng_state(obj)))
                elif isinstance(obj, io.IOBase):
                    position = _file_position(obj)
                    if position is not None:
                        self._files.append((obj, position))
                elif not isinstance(obj, torch.utils.data.DataLoader) and isinstance(
                    attrs := getattr(obj, "__dict__", None), dict
                ):
                    self._numbers += [(attrs, k, v) for k, v in attrs.items() if isinstance(v, _NUMBERS)]
                    self._orders += _sampler_orders(obj, attrs)

    def restore(self) -> None:
        """Put every RNG state, number and order back (an attribute deleted meanwhile stays deleted)."""
        for rng, state in self._rngs:
            _set_rng_state(rng, state)
        for attrs, name, value in self._numbers:
            now = attrs.get(name, _MISSING)
            if now is not _MISSING and (type(now) is not type(value) or now != value):
                attrs[name] = value
        for attrs, name, value, saved in self._orders:
            if name in attrs:  # rebound during the test (self.order = shuffled(...)): the object it held, refilled
                attrs[name] = _put_order_back(value, saved)
        for file, position in self._files:
            if not file.closed:
                file.seek(position)


def _file_position(file: io.IOBase) -> int | None:
    """Where an open, seekable file reads next; ``None`` for one closed, unseekable, written, or read by ``next()`` now.

    One the data writes to (a log) is left alone: seeking it back would write over what was written during the test.

    A text file iterated line by line (``for line in f``) refuses ``tell()`` until the loop ends or a ``seek()``:
    its position then is not known, and is left as it is.
    """
    try:
        return file.tell() if not file.closed and file.seekable() and file.readable() and not file.writable() else None
    except (OSError, ValueError):
        return None


def _rng_state(rng: Any) -> Any:
    if isinstance(rng, torch.Generator):
        return rng.get_state()
    if isinstance(rng, np.random.Generator):
        return copy.deepcopy(rng.bit_generator.state)
    return rng.get_state() if isinstance(rng, np.random.RandomState) else rng.getstate()


def _set_rng_state(rng: Any, state: Any) -> None:
    if isinstance(rng, torch.Generator):
        rng.set_state(state)
    elif isinstance(rng, np.random.Generator):
        rng.bit_generator.state = state
    elif isinstance(rng, np.random.RandomState):
        rng.set_state(state)
    else:
        rng.setstate(state)


#: What an optimizer keeps that :class:`StateSnapshot` restores by its own rules (not as attributes).
_OPTIMIZER_OWN = frozenset({"state", "param_groups"})
#: Attribute values kept by reference, never copied: nothing in them changes with a step.
_KEPT_AS_IS = (type, torch.device, torch.dtype, nn.Module, logging.Logger)


def _holds_tensors(value: object) -> bool:
    """Whether an object's own attributes (or lists/dicts among them) hold tensors: state a step may change."""
    found = False
    for item in getattr(value, "__dict__", {}).values():
        items = item.values() if isinstance(item, dict) else item if isinstance(item, (list, tuple)) else (item,)
        found = found or any(isinstance(v, (torch.Tensor, np.ndarray)) for v in items)
    return found


def _storage_freed(tensor: torch.Tensor) -> bool:
    """Whether a tensor with elements has no memory behind them (its storage resized to 0, as FSDP does)."""
    if tensor.numel() == 0 or tensor.layout != torch.strided or tensor.device.type == "meta":
        return False
    try:
        return tensor.untyped_storage().nbytes() == 0
    except (RuntimeError, NotImplementedError):  # a tensor subclass without a storage of its own (DTensor)
        return False


def _capture(
    value: Any, path: str, seen: set[int], nested: list[Any], unknown: list[str], objects: bool = False
) -> tuple[Any, ...]:
    """A copy of an attribute's value that :func:`_put_back` restores into the same objects.

    Tensors and numpy arrays are copied (and later written back in place, so whatever else holds
    them sees the old values again); lists and dicts are walked, and refilled in place if they
    hold tensors before or after the test (slow weights, made lazily or not): one of plain values
    only is left as the test leaves it, so a log the optimizer appends to keeps its records (a
    module's is refilled as well, see :func:`_put_back`).
    An RNG (``torch.Generator``, Python's or numpy's) keeps its state, set back in place.
    Numbers, strings and ``None`` are kept (an attribute set back to them by :func:`_put_back`'s
    caller). An optimizer found there (a wrapper's inner optimizer) goes to
    ``nested``, to be snapshotted as one. Anything else is kept as it is; one that holds tensors
    of its own is named in ``unknown``, because a step may change them and they are not restored.
    Each container is walked once (``seen``): aliases and cycles are restored through the first path.
    """
    if isinstance(value, nn.Parameter):  # a model's parameter: restored with the model
        return ("keep", value)
    if isinstance(value, torch.Tensor) and _storage_freed(value):
        # FSDP's views of its flat parameter (a wrapped Linear's weight) between forwards: their
        # storage is freed, so they hold no values of their own (reading them crashes the process);
        # the flat parameter they view is restored with the model.
        return ("keep", value)
    if isinstance(value, torch.Tensor):
        return ("tensor", value, value.detach().clone())
    if isinstance(value, np.ndarray):
        return ("array", value, value.copy())
    if isinstance(value, _RNGS) and not isinstance(value, random.SystemRandom):
        # An optimizer's (or module's) own RNG (noise injection, random subspaces): its state, set back in place.
        return ("rng", value, _rng_state(value))
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return ("keep", value)
    if isinstance(value, torch.optim.Optimizer):
        if all(value is not o for o in nested):
            nested.append(value)
        return ("keep", value)
    if isinstance(value, (dict, list, tuple, collections.deque)):
        if id(value) in seen:
            return ("keep", value)
        seen.add(id(value))
        if isinstance(value, dict):
            fields = {k: _capture(v, f"{path}[{k!r}]", seen, nested, unknown, objects) for k, v in value.items()}
            return ("dict", value, fields, any(_held_tensors(v) for v in fields.values()))
        items = [_capture(v, f"{path}[{i}]", seen, nested, unknown, objects) for i, v in enumerate(value)]
        kind = "list" if isinstance(value, list) else "deque" if isinstance(value, collections.deque) else "tuple"
        return (kind, value, items, any(_held_tensors(v) for v in items))
    if objects and id(value) not in seen and _plain_object(value):
        # A module's helper object (an AverageMeter, also in a dict of them): its fields, see _capture_attribute.
        seen.add(id(value))
        fields = {k: _capture(v, f"{path}.{k}", seen, nested, unknown, objects) for k, v in vars(value).items()}
        return ("object", value, fields, any(_held_tensors(v) for v in fields.values()))
    if not callable(value) and not isinstance(value, _KEPT_AS_IS) and _holds_tensors(value):
        unknown.append(f"{path} (a {type(value).__name__})")
    return ("keep", value)


#: The :func:`_capture` kinds that hold their items' captures (``held[2]``) and whether any holds state (``held[3]``).
_CONTAINERS = ("dict", "list", "tuple", "deque", "object")


def _capture_attribute(value: Any, name: str, seen: set[int]) -> tuple[Any, ...]:
    """A module attribute's capture: :func:`_capture`'s, and the fields of a plain Python object.

    A helper object ``training_step`` updates (an ``AverageMeter``'s ``sum``, ``count`` and ``avg``
    kept as ``self.meter``) is state the fit reads as a list is: its fields are captured by
    :func:`_capture`'s rules and put back (fields set during the test removed), when each is a
    number, a string, ``None``, a tensor, an array, or a list, tuple, dict or deque of those
    (:func:`_plain_object`), also inside a list or dict (``self.meters = {"loss": AverageMeter()}``).
    An object holding anything else (a logger, a dataset's transform) is left as it is, as before.
    """
    return _held_large(value) or _capture(value, name, seen, [], [], objects=True)


def _plain_value(value: Any) -> bool:
    """A number, string, ``None``, tensor or array, or a list, tuple, dict or deque of those (at any depth)."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, torch.Tensor, np.ndarray)):
        return True
    if isinstance(value, dict):
        return all(_plain_value(v) for v in value.values())
    return isinstance(value, (list, tuple, collections.deque)) and all(_plain_value(v) for v in value)


def _tensor_bytes(value: Any) -> int:
    """The bytes of the tensors and arrays in ``value``, dicts, lists, tuples and deques walked at any depth.

    For a :func:`_plain_value` and for what :func:`_clone` returns (an optimizer's state).
    """
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(_tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple, collections.deque)):
        return sum(_tensor_bytes(v) for v in value)
    return 0


def _plain_object(value: Any, *, callables: bool = False) -> bool:
    """Whether ``value`` is an instance of a plain Python class whose fields are all :func:`_plain_value`.

    Not a dataset (a ``TensorDataset`` kept as ``self.train_set``: data a step does not change,
    which the snapshot would copy whole, on its device), a module, an optimizer, an enum, a class
    or a Python module, nor an object whose tensors and arrays add up to more than
    :data:`ATTRIBUTE_COPY_LIMIT`, the bound a tensor attribute is copied up to. A callable object
    only with ``callables`` (a hook object that counts its calls).
    """
    fields = getattr(value, "__dict__", None)
    if not isinstance(fields, dict) or not fields or (callable(value) and not callables):
        return False
    if isinstance(value, (nn.Module, torch.optim.Optimizer, Dataset, enum.Enum, type, types.ModuleType)):
        return False
    if not all(_plain_value(v) for v in fields.values()):
        return False
    return sum(_tensor_bytes(v) for v in fields.values()) <= ATTRIBUTE_COPY_LIMIT


def restorable_object(value: object) -> bool:
    """Whether a snapshot can put back ``value``'s attributes (``StateSnapshot(..., objects=[value])``).

    An instance of a Python class of the user's with attributes (a ``loss_fn`` object counting its calls,
    annealing a weight or keeping a running mean in them): not a function, class, Python module, module,
    optimizer, dataset or enum, nor one of torch's own objects, nor one whose plain values
    (:func:`_plain_value`) hold tensors and arrays of more than :data:`ATTRIBUTE_COPY_LIMIT` in all.
    Its other attributes (a loss module it wraps, a logger) are kept as they are, not walked.
    """
    fields = getattr(value, "__dict__", None)
    if not isinstance(fields, dict) or not fields:
        return False
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial)):
        return False
    if isinstance(value, (nn.Module, torch.optim.Optimizer, Dataset, enum.Enum, type, types.ModuleType)):
        return False
    if type(value).__module__.split(".")[0] == "torch":
        return False
    return sum(_tensor_bytes(v) for v in fields.values() if _plain_value(v)) <= ATTRIBUTE_COPY_LIMIT


def _capture_object(value: object, seen: set[int]) -> tuple[Any, ...]:
    """A :func:`restorable_object`'s attributes, each by a module attribute's rules (:func:`_capture_attribute`)."""
    seen.add(id(value))
    fields = {k: _capture_attribute(v, f"{type(value).__name__}.{k}", seen) for k, v in vars(value).items()}
    return ("object", value, fields, any(_held_tensors(v) for v in fields.values()))


def _held_tensors(held: tuple[Any, ...]) -> bool:
    """Whether a :func:`_capture` result holds tensor or array copies (or RNG states): state to put back."""
    return held[0] in ("tensor", "array", "rng") or (held[0] in _CONTAINERS and held[3])


def _has_tensors(value: object) -> bool:
    """Whether a (nested) list, tuple or dict holds a tensor or an array now."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return True
    if isinstance(value, dict):
        return any(_has_tensors(v) for v in value.values())
    return isinstance(value, (list, tuple, collections.deque)) and any(_has_tensors(v) for v in value)


def _put_back(held: tuple[Any, ...], logs: bool = True) -> Any:
    """The value :func:`_capture` saw, restored into the same objects where it can be.

    With ``logs`` (an optimizer's attributes) a list or dict of plain values only, before and
    after the test, is a log, left as the test leaves it; without (a module's attributes) it is
    refilled too: a list of ``loss.item()`` floats that ``training_step`` appends to and
    ``on_train_epoch_end`` averages is state the fit reads, not a log.
    """
    kind, obj = held[0], held[1]
    if logs and kind in ("dict", "list", "deque") and not held[3] and not _has_tensors(obj):
        return obj  # plain values only, before and after: a log, left as the test leaves it
    if kind == "rng":
        _set_rng_state(obj, held[2])
        return obj
    if kind == "tensor":
        saved = held[2]
        if _storage_freed(obj):  # its memory freed since (FSDP's views once resharded): nothing to write into
            return obj
        if obj.shape == saved.shape and obj.dtype == saved.dtype and obj.device == saved.device:
            try:
                obj.copy_(saved)
                return obj
            except RuntimeError:  # an inference tensor, a tensor with an unusual layout: put the copy instead
                pass
        return saved.clone()
    if kind == "array":
        if obj.shape == held[2].shape and obj.dtype == held[2].dtype and obj.flags.writeable:
            obj[...] = held[2]
            return obj
        return held[2].copy()
    if kind == "dict":
        values = {k: _put_back(v, logs) for k, v in held[2].items()}
        obj.clear()
        obj.update(values)
        return obj
    if kind == "list":
        obj[:] = [_put_back(v, logs) for v in held[2]]
        return obj
    if kind == "deque":
        items = [_put_back(v, logs) for v in held[2]]
        obj.clear()
        obj.extend(items)
        return obj
    if kind == "object":  # a plain helper object's fields (_capture_attribute): set as they were
        fields = vars(obj)
        for name in [name for name in fields if name not in held[2]]:
            del fields[name]
        for name, field in held[2].items():
            fields[name] = _put_back(field, logs)
        return obj
    if kind == "tuple":
        items = [_put_back(v, logs) for v in held[2]]
        if all(a is b for a, b in zip(items, obj)):
            return obj
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    return obj


_MISSING = object()

#: A module's public tensor attribute larger than this (bytes) is not copied by a snapshot: it is
#: put back if rebound, and named in a warning if changed in place (its version counter moved).
#: Data kept on the module as a tensor (not a buffer) would otherwise double in memory for the test.
ATTRIBUTE_COPY_LIMIT = 256 * 2**20


def _held_large(value: Any) -> tuple[Any, ...] | None:
    """``("large", tensor, version)`` for a tensor attribute over :data:`ATTRIBUTE_COPY_LIMIT`, else ``None``."""
    if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter) and not _storage_freed(value):
        if value.numel() * value.element_size() > ATTRIBUTE_COPY_LIMIT:
            # An inference tensor has no version counter to watch (and cannot be changed outside inference mode).
            return ("large", value, None if value.is_inference() else value._version)
    return None


def _size_words(value: torch.Tensor | int) -> str:
    """A size in bytes (or a tensor's), in KiB, MiB or GiB with one decimal."""
    size = float(value.numel() * value.element_size() if isinstance(value, torch.Tensor) else value)
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024.0
        if size < 1024.0 or unit == "GiB":
            break
    return f"{size:.1f} {unit}"


#: What every ``nn.Module`` keeps in its ``__dict__`` (parameters, buffers, submodules, hooks, the mode):
#: restored by their own rules or not state at all, never as plain attributes.
_MODULE_INTERNALS = frozenset(vars(nn.Module())) | {"training"}


def _held_bytes(held: tuple[Any, ...]) -> int:
    """Bytes of the tensor and array copies in a :func:`_capture` result."""
    if held[0] in ("tensor", "array"):
        return int(held[2].nbytes) if held[0] == "array" else held[2].numel() * held[2].element_size()
    if held[0] in ("dict", "object"):
        return sum(_held_bytes(v) for v in held[2].values())
    if held[0] in ("list", "tuple", "deque"):
        return sum(_held_bytes(v) for v in held[2])
    return 0


def _ddp_modules(*roots: nn.Module | None) -> list[nn.parallel.DistributedDataParallel]:
    """The ``DistributedDataParallel`` modules in the trees of ``roots`` (``None`` skipped), each once."""
    found: dict[int, nn.parallel.DistributedDataParallel] = {}
    for root in roots:
        for module in () if root is None else root.modules():
            if isinstance(module, nn.parallel.DistributedDataParallel):
                found.setdefault(id(module), module)
    return list(found.values())


def _comm_hook_states(modules: Iterable[nn.parallel.DistributedDataParallel]) -> list[object]:
    """The states of the communication hooks registered on the DDP ``modules``, each once.

    ``ddp.register_comm_hook(state, hook)`` (PowerSGD's ``PowerSGDState``: an iteration count that
    ends its all-reduce warm-up, error-feedback residuals, warm-start factors, an RNG) hands ``state``
    to every gradient all-reduce, and the hook changes it at every step of the test. DDP keeps the
    pairs in ``_comm_hooks`` (no public accessor); a ``None`` state, or a process group passed as
    the state (``allreduce_hook``'s), holds nothing to put back.
    """
    states: dict[int, object] = {}
    for module in modules:
        for _, state in getattr(module, "_comm_hooks", ()):
            if isinstance(state, dict) or _attribute_names(state):
                states.setdefault(id(state), state)
    return list(states.values())


def _attribute_names(obj: object) -> list[str]:
    """The attributes ``obj`` holds: its ``__dict__``'s and its set ``__slots__`` (``PowerSGDState`` has slots)."""
    names = list(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name not in ("__dict__", "__weakref__") and name not in names and hasattr(obj, name):
                names.append(name)
    return names


def _capture_hook_state(state: object, seen: set[int], unknown: list[str]) -> dict[str, tuple[Any, ...]]:
    """A comm hook state's items (a dict's) or attributes, each by :func:`_capture`'s rules."""
    name = type(state).__name__
    if isinstance(state, dict):
        return {k: _capture(v, f"{name}[{k!r}]", seen, [], unknown) for k, v in state.items()}
    return {k: _capture(getattr(state, k), f"{name}.{k}", seen, [], unknown) for k in _attribute_names(state)}


def _restore_hook_state(state: Any, held: dict[str, tuple[Any, ...]]) -> None:
    """Put a comm hook state's items or attributes back into the same object (the hook holds that one)."""
    if isinstance(state, dict):
        for key in [k for k in state if k not in held]:  # set during the test
            del state[key]
        for key, saved in held.items():
            state[key] = _put_back(saved)
        return
    for key in [k for k in getattr(state, "__dict__", {}) if k not in held]:
        delattr(state, key)
    for key, saved in held.items():
        value = _put_back(saved)
        if getattr(state, key, _MISSING) is not value:
            setattr(state, key, value)


#: The hooks a module's forward and backward call (``register_forward_pre_hook``, ``register_forward_hook``,
#: ``register_full_backward_pre_hook``, ``register_full_backward_hook``).
_MODULE_HOOK_DICTS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")


def _hook_holder(value: object) -> bool:
    """Whether ``value``, found in a module hook, is state the range test puts back (:func:`_module_hook_state`).

    A dict, list or deque of plain values (:func:`_plain_value`: an ``activations`` dict a forward hook fills), or
    an instance of a plain Python class, callable or not, whose fields are all plain values (a counter object).
    Not torch's own hook objects (spectral norm, pruning, FSDP's state: theirs to keep), nor modules, optimizers,
    datasets, classes or Python modules, nor one whose tensors and arrays add up to more than
    :data:`ATTRIBUTE_COPY_LIMIT` (as a module's helper object, :func:`_plain_object`).
    """
    if isinstance(value, (dict, list, collections.deque)):
        return _plain_value(value) and _tensor_bytes(value) <= ATTRIBUTE_COPY_LIMIT
    return type(value).__module__.split(".")[0] != "torch" and _plain_object(value, callables=True)


def _module_hook_state(modules: Iterable[nn.Module]) -> list[object]:
    """The objects the modules' forward and backward hooks keep their state in, each once.

    A hook that counts calls or collects activations keeps them in the object it is a method of
    (``module.register_forward_hook(stats.hook)``), in itself (a callable object), in the arguments of a
    ``functools.partial``, or in a variable of an enclosing function (``activations = {}`` read by a
    ``def hook(module, args, output)`` made inside it): each such object of plain values
    (:func:`_hook_holder`) is found here, so the test's forwards leave no count or activation behind
    (lists and dicts of plain numbers are logs, see :func:`_capture_hook_holder`). A number in a closure
    (``nonlocal calls``) is put back by :func:`_hook_number_cells`. A module-level variable the hook's code
    names (the ``activation = {}`` of the tutorials' ``get_activation(name)``, ``global calls``) is left as
    the test leaves it: other code may write it during the test too (a user's ``on_step``, a queue another
    thread drains), and putting it back would lose what they wrote; the next forward overwrites an
    activation the test left there.
    """
    holders: dict[int, object] = {}
    checked: set[int] = set()  # one hook on 200 modules names the same objects 200 times: each is judged once
    for hook, found in _module_hooks(modules):
        if isinstance(hook, types.MethodType):
            found.append(hook.__self__)
        elif not isinstance(hook, (types.FunctionType, types.BuiltinFunctionType)):
            found.append(hook)  # a callable object
        for cell in getattr(hook, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # an empty cell
                found.append(cell.cell_contents)
        for value in found:
            if id(value) not in checked:
                checked.add(id(value))
                if _hook_holder(value):
                    holders[id(value)] = value
    return list(holders.values())


def _module_hooks(modules: Iterable[nn.Module]) -> Iterator[tuple[Any, list[object]]]:
    """Each forward and backward hook of ``modules``, unwrapped from ``functools.partial``, with its arguments."""
    for module in modules:
        for kind in _MODULE_HOOK_DICTS:
            hooks = getattr(module, kind, None)
            for hook in list(hooks.values()) if isinstance(hooks, dict) else ():
                args: list[object] = []
                while isinstance(hook, functools.partial):
                    args += [*hook.args, *hook.keywords.values()]
                    hook = hook.func
                yield hook, args


def _users_function(hook: object) -> bool:
    """Whether ``hook`` is a plain Python function of the user's (not one of torch's own hooks)."""
    return isinstance(hook, types.FunctionType) and (hook.__module__ or "").split(".")[0] != "torch"


def _hook_number_cells(modules: Iterable[nn.Module]) -> list[tuple[Any, object]]:
    """The closure cells holding a number that the modules' hook functions of the user's read, with their numbers.

    A hook counting its calls in a variable of the function that made it (``calls = 0`` and ``nonlocal calls;
    calls += 1`` inside) rebinds the cell: the number is put back into the cell (``cell.cell_contents``).
    """
    cells: dict[int, tuple[Any, object]] = {}
    for hook, _ in _module_hooks(modules):
        for cell in (getattr(hook, "__closure__", None) or ()) if _users_function(hook) else ():
            with contextlib.suppress(ValueError):  # an empty cell
                if isinstance(cell.cell_contents, (int, float)):
                    cells.setdefault(id(cell), (cell, cell.cell_contents))
    return list(cells.values())


def _capture_hook_holder(value: object, seen: set[int]) -> tuple[Any, ...]:
    """A :func:`_module_hook_state` object's capture, put back in place by :func:`_put_back`.

    By the optimizer attributes' rules: tensors, arrays, RNGs and numbers are put back, and so are lists and dicts
    holding tensors (an ``activations`` dict); a list or dict of plain numbers only is a log, left as the test
    leaves it (a hook appending each forward's input to a list observes the test, as ``on_step`` does).
    """
    name = type(value).__name__
    if isinstance(value, (dict, list, collections.deque)):
        return _capture(value, name, seen, [], [], objects=True)
    if id(value) in seen:
        return ("keep", value)
    seen.add(id(value))
    fields = {k: _capture(v, f"{name}.{k}", seen, [], [], objects=True) for k, v in vars(value).items()}
    return ("object", value, fields, any(_held_tensors(v) for v in fields.values()))


def _reshard_fsdp(model: nn.Module) -> None:
    """Free the gathered parameters a classic FSDP module still holds, so its next forward gathers the shards again.

    ``FullyShardedDataParallel`` frees its gathered (unsharded) flat parameter after the backward,
    but the root module keeps it after a forward without one (an evaluation under ``no_grad``,
    refine's held-out losses) and its next forward uses it without gathering again: shards written
    in between (a restore) went unseen, and the next trial trained from where the last one ended.
    Local (no collective); FSDP2's ``fully_shard`` gathers on every forward and needs nothing.
    """
    import sys

    if "torch.distributed.fsdp" not in sys.modules:  # no FSDP model without it; keep torch.distributed unloaded
        return
    from torch.distributed.fsdp import FullyShardedDataParallel

    try:
        from torch.distributed.fsdp._runtime_utils import _reshard
    except ImportError:  # pragma: no cover - a torch whose FSDP internals moved
        return
    for module in model.modules():
        handle = getattr(module, "_handle", None)
        if (
            isinstance(module, FullyShardedDataParallel)
            and handle is not None
            and handle.uses_sharded_strategy
            and hasattr(handle.flat_param, "_full_param_padded")  # made by the first forward
            and not handle.needs_unshard()  # the gathered flat parameter is still allocated
        ):
            _reshard(module, handle, True)


def _unique(tensors: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """``tensors`` without repeats (one tensor under two names, or in two modules), in order."""
    return list({id(t): t for t in tensors}.values())


def _module_tensors(module: nn.Module) -> list[torch.Tensor]:
    """A module's parameters and buffers, each once."""
    return _unique([*module.parameters(), *module.buffers()])


def _module_bytes(module: nn.Module) -> int:
    """Bytes of a module's parameters and buffers."""
    return sum(t.numel() * t.element_size() for t in _module_tensors(module))


def _outside_modules(
    model: nn.Module, more: Sequence[tuple[str, nn.Module]] = (), *, attributes: bool = True
) -> list[tuple[str, nn.Module]]:
    """Modules the model's modules hold as public plain attributes, outside the model's own tree, and ``more``.

    An EMA or SWA copy (``torch.optim.swa_utils.AveragedModel``) kept out of ``parameters()`` and the
    checkpoint with ``object.__setattr__`` or in a list, and updated in ``forward``: the model's
    snapshot would not cover it. Attributes are looked at directly and one list, tuple or dict
    deep; private names (a wrapper's own bookkeeping) are not. Each comes with a name for messages,
    ``"Net.ema"``. ``more``: named modules found elsewhere (a ``step_fn``'s EMA copy), kept when outside the model;
    without ``attributes``, only those.
    """
    inside = {id(m) for m in model.modules()}
    found: dict[int, tuple[str, nn.Module]] = {id(m): (name, m) for name, m in more if id(m) not in inside}
    for module in model.modules() if attributes else ():
        if not isinstance(getattr(module, "_parameters", None), dict):
            continue  # a TorchScript module: its attributes live in C++
        for key, value in vars(module).items():
            if key in _MODULE_INTERNALS or key.startswith("_"):
                continue
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
            for item in (value, *items):
                if isinstance(item, nn.Module) and id(item) not in inside and id(item) not in found:
                    found[id(item)] = (f"{type(module).__name__}.{key}", item)
    # One with tensors that hold no values (lazy, meta, freed by FSDP) has nothing to copy or watch. One with
    # inference tensors (made under torch.inference_mode: a frozen teacher) can be neither written back nor
    # watched outside inference mode (no version counter), and no training forward changes it in place.
    found = {
        key: (name, m)
        for key, (name, m) in found.items()
        if not any(is_lazy(t) or t.is_meta or _storage_freed(t) or t.is_inference() for t in _module_tensors(m))
    }
    # A module inside another one found is covered by it.
    covered = {id(sub) for _, m in found.values() for sub in m.modules() if sub is not m}
    return [(name, m) for key, (name, m) in found.items() if key not in covered]


def _check_snapshot_arguments(
    model: object,
    optimizers: object,
    data: object,
    *,
    module_attributes: object = False,
    wrapper: object = None,
    states: object = (),
    objects: object = (),
    modules: object = (),
) -> None:
    """Refuse what :class:`StateSnapshot` cannot take, by name, before anything is captured.

    A bare DataLoader or generator as ``data`` was walked by ``list(data)``: an epoch of batches was drawn
    (the loader's RNG moved) and the batches were snapshotted instead of the loader. The others failed in the capture
    with Python's words: an item of ``optimizers`` that is no optimizer in "vars() argument must have __dict__
    attribute", a ``wrapper`` that is no module in "'str' object has no attribute 'modules'", ``states=0`` in "'int'
    object is not iterable".
    """
    if not isinstance(model, nn.Module):
        raise TypeError(not_a_module_message("model", model))
    check_module_initialised("model", model)
    if isinstance(optimizers, torch.optim.Optimizer):
        raise TypeError(
            f"Expected optimizers to be a sequence of optimizers, but got one {type(optimizers).__name__}: pass it "
            "in a list, StateSnapshot(model, [optimizer])"
        )
    if is_not_a_sequence(optimizers, Iterator):
        raise TypeError(
            f"Expected optimizers to be a sequence of optimizers, but got {optimizers!r:.60}"
            + single_number_note(optimizers)
        )
    if isinstance(data, (torch.utils.data.DataLoader, torch.utils.data.Dataset, Iterator)):
        raise TypeError(
            f"Expected data to be a list of the loaders to snapshot, but got one {type(data).__name__}, which "
            "would be read through (an epoch drawn): pass it in a list, StateSnapshot(model, optimizers, [loader])"
        )
    if is_not_a_sequence(data):
        raise TypeError(
            f"Expected data to be a list of data loaders (or generators), but got {data!r:.60}"
            + single_number_note(data)
        )
    for i, opt in enumerate(cast("Iterable[object]", optimizers)):
        # Duck-typed: a hand-written wrapper (Lookahead) that holds its inner optimizer need not subclass Optimizer.
        if not (hasattr(opt, "param_groups") and hasattr(opt, "state") and hasattr(opt, "__dict__")):
            raise TypeError(
                f"Expected optimizers to hold torch optimizers, but optimizers[{i}] is {type(opt).__name__} {opt!r:.40}"
            )
    check_flag("module_attributes", module_attributes)
    if wrapper is not None and not isinstance(wrapper, nn.Module):
        raise TypeError(
            f"Expected wrapper to be the torch.nn.Module wrapping the model (a DDP wrapper) or None, but got "
            f"{type(wrapper).__name__} {wrapper!r:.40}"
        )
    for name, items, needs, what in (
        ("states", states, ("state_dict", "load_state_dict"), "objects with state_dict() and load_state_dict()"),
        ("objects", objects, ("__dict__",), "Python objects with attributes"),
    ):
        if is_not_a_sequence(items, Iterator):
            raise TypeError(
                f"Expected {name} to be a sequence of {what}, but got {items!r:.60}{single_number_note(items)}"
            )
        for i, item in enumerate(cast("Iterable[object]", items)):
            if not all(hasattr(item, attr) for attr in needs):
                raise TypeError(
                    f"Expected {name} to hold {what}, but {name}[{i}] is {type(item).__name__} {item!r:.40}"
                )
    if is_not_a_sequence(modules, Iterator):
        raise TypeError(f"Expected modules to be a sequence of (name, module) pairs, but got {modules!r:.60}")
    for i, pair in enumerate(cast("Iterable[object]", modules)):
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], nn.Module)):
            raise TypeError(
                f"Expected modules to hold (name, module) pairs, such as ('ema', ema), but modules[{i}] is {pair!r:.40}"
            )


class StateSnapshot:
    """An in-memory snapshot of everything a range test changes; :meth:`restore` puts it back.

    Captures the model's parameters, gradients, buffers (one a forward resizes in place, a quantization
    observer's ``min_val`` made ``(0,)`` and sized at the first forward, is sized back) and train/eval
    modes, and which tensor each module holds under each name (a buffer reassigned in ``forward``, ``self.ema = 0.9 *
    self.ema + ...``, is put back, and one registered during the test removed); every optimizer's
    state and param-group hyper-parameters (restored into the same objects, so schedulers and
    wrappers holding them stay valid), and its other attributes: a hand-written wrapper's slow
    weights, step counters and RNGs (tensors, numbers, generators, lists and dicts of them) and any optimizer it
    wraps are put back, attributes set during the test removed (``_opt_called``, which silences
    a scheduler's "lr_scheduler.step() before optimizer.step()" warning); an attribute holding
    an object with tensors of its own cannot be restored and is named in a warning; with
    ``module_attributes`` (the plain range test), each module's public plain attributes a forward
    may change (a Python step counter, a tensor kept as an attribute, not a buffer; one over
    :data:`ATTRIBUTE_COPY_LIMIT` is not copied, only put back if rebound and named in a warning if
    changed in place), by the same
    rules, lists, dicts and deques of plain values too (a list of ``loss.item()`` floats averaged at the
    epoch's end), and the fields of a plain helper object (an ``AverageMeter``, :func:`_capture_attribute`),
    without the warning and without removing attributes set during the test (names with a
    leading underscore are left to the wrappers that keep their bookkeeping there), and the
    parameters, buffers and modes of modules held there outside the model's tree (an EMA copy kept
    out of ``parameters()``, :func:`_outside_modules`; one over :data:`ATTRIBUTE_COPY_LIMIT` is not
    copied, only named in a warning if changed), and what the modules' forward and backward hooks keep
    (a call counter, an ``activations`` dict; :func:`_module_hook_state`); the torch
    (CPU and CUDA), numpy and Python RNG states; the warm-up of lrfinder's ``PlateauWithWarmup``
    (moved by the optimizer's steps); the state of a communication hook registered on a
    ``DistributedDataParallel`` module in the model (``register_comm_hook(state, hook)``: PowerSGD's
    iteration count, error feedback and RNG), its items or attributes by the optimizer attributes'
    rules, see :func:`_comm_hook_states`, and of one on ``wrapper``, a DDP wrapper around the
    model held outside it (Lightning's ``trainer.strategy.model``); whether those DDP modules broadcast the
    buffers at their next forward (``require_forward_param_sync``, which a forward without gradients turns off and
    a training forward on: after a validation, the fit's first forward skips the broadcast, with the test or not);
    and
    the draw state of the given data loaders (or generators): every torch, Python and numpy RNG
    their samplers, datasets and transforms keep, and the numbers they count with (a sampler's
    ``epoch``), see :class:`_DataState`; the parameters' ``requires_grad``; and the ``state_dict()`` of
    each of ``states`` (objects outside the model with ``state_dict``/``load_state_dict``: a loss
    object keeping a running mean or a step count), loaded back with ``load_state_dict``; and the
    attributes of each of ``objects`` (plain Python objects outside the model, :func:`restorable_object`:
    a ``loss_fn`` object without those methods counting its calls), by the rules of a module's
    attributes, private names too, attributes set during the test removed; and the parameters, buffers and modes
    of ``modules``, ``(name, module)`` pairs outside the model (an EMA copy a ``step_fn`` updates), as those of
    the modules the model holds as plain attributes (one over :data:`ATTRIBUTE_COPY_LIMIT` only watched).
    A persistent-workers DataLoader whose worker iterator the test started gets it shut down, so
    its next epoch starts afresh. No files are written.
    """

    def __init__(
        self,
        model: nn.Module,
        optimizers: Sequence[torch.optim.Optimizer] = (),
        data: Iterable[object] = (),
        *,
        module_attributes: bool = False,
        wrapper: nn.Module | None = None,
        states: Sequence[Any] = (),
        objects: Sequence[Any] = (),
        modules: Sequence[tuple[str, nn.Module]] = (),
    ) -> None:
        _check_snapshot_arguments(
            model, optimizers, data,
            module_attributes=module_attributes, wrapper=wrapper, states=states, objects=objects, modules=modules,
        )  # fmt: skip
        self.model = model
        self.optimizers = list(optimizers)
        data = list(data)
        # FSDP's shards are what the snapshot holds: gathered copies are dropped, never captured.
        _reshard_fsdp(model)
        # Modules held as plain attributes, outside the model's tree (an EMA copy kept out of parameters()):
        # a forward may update them. Copied with the model up to ATTRIBUTE_COPY_LIMIT; a larger one (a
        # frozen teacher) is only watched, and named in a warning if the test changed it.
        outside = _outside_modules(model, modules, attributes=module_attributes)
        self._given = {name for name, _ in modules}  # named by the caller (a step_fn's EMA copy), not attributes
        copied = [m for _, m in outside if _module_bytes(m) <= ATTRIBUTE_COPY_LIMIT]
        # The model's own tensors (held by a module above it: a back-reference to its owner) are restored with it.
        own = {id(t) for t in (*model.parameters(), *model.buffers())}
        self._watched = [
            (name, t, t._version)
            for name, m in outside
            if all(m is not c for c in copied)
            for t in _module_tensors(m)
            if id(t) not in own
        ]
        tree = [*model.modules(), *(sub for m in copied for sub in m.modules())]
        # The objects each module holds by name: the values below are restored into these objects.
        # (A TorchScript module keeps them in C++ containers, not dicts: its forward cannot reassign.)
        self._slots = [
            (module, kind, dict(held))
            for module in tree
            for kind in ("_parameters", "_buffers")
            if isinstance(held := getattr(module, kind, None), dict)
        ]
        # Copies made under the caller's inference_mode would be inference tensors, which the
        # optimizer can no longer update in place once they are restored. The model's own inference
        # tensors (a frozen teacher built under torch.inference_mode) are left alone: nothing outside
        # inference mode can change them in place, nor write them back.
        with torch.inference_mode(False), torch.no_grad():
            params = _unique([*model.parameters(), *(p for m in copied for p in m.parameters())])
            self._params = [
                (p, p.detach().clone(), None if p.grad is None else p.grad.detach().clone())
                for p in params
                if is_lazy(p) or not p.is_inference()
            ]
            buffers = _unique([*model.buffers(), *(b for m in copied for b in m.buffers())])
            self._buffers = [(b, b.detach().clone()) for b in buffers if is_lazy(b) or not b.is_inference()]
            self._all_optimizers: list[torch.optim.Optimizer] = []
            self._opt_attrs: list[tuple[Any, dict[str, tuple[Any, ...]]]] = []
            self._opt_state: list[tuple[dict[Any, Any], list[Any]]] = []
            # Each param group as the optimizer held it: the dict, its params and the tensors it holds.
            self._groups: list[list[tuple[dict[str, Any], list[Any], dict[str, torch.Tensor]]]] = []
            self._step_hooked: list[tuple[Any, dict[str, Any]]] = []
            self._seen: set[int] = set()
            unknown = self._capture_optimizers(self.optimizers)
            # A DDP comm hook's state (PowerSGD's iteration count and error feedback) moves at every step.
            hook_unknown: list[str] = []
            ddps = _ddp_modules(model, wrapper)  # wrapper: Lightning's DDP wrapper around the module, outside its tree
            hook_states = _comm_hook_states(ddps)
            self._hook_states = [(state, _capture_hook_state(state, self._seen, hook_unknown)) for state in hook_states]
        if unknown:
            _warn_unrestorable_optimizer_state(unknown)
        if hook_unknown:
            warn(
                f"The DDP communication hook's state holds objects with tensors of their own that the range test "
                f"cannot restore: {', '.join(hook_unknown[:3])}{' ...' if len(hook_unknown) > 3 else ''}. Keep them "
                "in tensors, numbers, RNGs, or lists and dicts of them, or register the hook after the test.",
            )
        self._modes = [(m, m.training) for m in tree]
        # Whether DDP's next forward broadcasts rank 0's buffers: a forward without gradients (a validation's) turns
        # it off, a training one on, so the test's forwards would decide it for the fit's first one.
        self._forward_syncs = [
            (d, d.require_forward_param_sync) for d in ddps if hasattr(d, "require_forward_param_sync")
        ]
        # A module's plain attributes a forward may change: a Python step counter, a cached tensor.
        self._module_attrs: list[tuple[nn.Module, dict[str, tuple[Any, ...]]]] = []
        self._hook_holders: list[tuple[Any, ...]] = []
        self._hook_cells: list[tuple[Any, object]] = []
        if module_attributes:
            with torch.inference_mode(False), torch.no_grad():
                seen_attrs: set[int] = set()
                for module in tree:  # the model's and those of the modules held outside it (a metric's states)
                    if not isinstance(getattr(module, "_parameters", None), dict):
                        continue  # a TorchScript module: its attributes live in C++, a forward cannot set them
                    held_attrs = {
                        k: _capture_attribute(v, k, seen_attrs)
                        for k, v in vars(module).items()
                        # Private names are the bookkeeping of wrappers (DDP's _lazy_init_ran, compile's): theirs.
                        if k not in _MODULE_INTERNALS and not k.startswith("_")
                    }
                    self._module_attrs.append((module, held_attrs))
                # What the modules' forward and backward hooks keep (a call counter, an activations dict).
                self._hook_holders = [_capture_hook_holder(h, seen_attrs) for h in _module_hook_state(tree)]
                self._hook_cells = _hook_number_cells(tree)
        self._torch_rng = torch.get_rng_state()
        self._cuda_rng = (
            torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
        )
        self._np_rng = np.random.get_state()
        self._py_rng = random.getstate()
        self._data_state = _DataState(data)
        self._grad_flags = [(p, p.requires_grad) for p in model.parameters()]
        # A DataLoader with persistent workers keeps the iterator the test creates, and its next
        # epoch draws its order from it: one the test started is shut down in restore(), so
        # the next iter() starts as if the test had not run.
        self._fresh_loaders = [d for d in data if getattr(d, "persistent_workers", False) and _iterator_of(d) is None]
        # Objects outside the model with a state of their own (a loss_fn object keeping a running mean): theirs
        # as their state_dict() gives it, a deep copy (a later change in place must not reach the copy).
        self._states = [(obj, copy.deepcopy(obj.state_dict())) for obj in states]
        with torch.inference_mode(False), torch.no_grad():
            seen_objects: set[int] = set()
            self._objects = [_capture_object(obj, seen_objects) for obj in objects]

    def _capture_optimizers(self, optimizers: Iterable[torch.optim.Optimizer]) -> list[str]:
        """Capture ``optimizers`` (and the optimizers they wrap) for :meth:`restore`; the names it cannot restore.

        Their state, param-group settings (and the tensors the groups hold, restored into the same
        objects), their other attributes by :func:`_capture`'s rules (a wrapper's inner optimizer is
        found among them and captured as one), and the warm-up of lrfinder's ``PlateauWithWarmup``
        hooked on their steps (the test's steps would use it up, and leave the LR at the warm-up's start).
        """
        start = len(self._all_optimizers)
        self._all_optimizers.extend(optimizers)
        unknown: list[str] = []
        with torch.inference_mode(False), torch.no_grad():
            for opt in self._all_optimizers[start:]:  # grows while walked
                attrs = {k: v for k, v in vars(opt).items() if k not in _OPTIMIZER_OWN}
                name = type(opt).__name__
                held = {
                    k: _capture(v, f"{name}.{k}", self._seen, self._all_optimizers, unknown) for k, v in attrs.items()
                }
                self._opt_attrs.append((opt, held))
            for opt in self._all_optimizers[start:]:
                self._opt_state.append(
                    (
                        {p: _clone(s) for p, s in opt.state.items()},
                        [_clone({k: v for k, v in g.items() if k != "params"}) for g in opt.param_groups],
                    )
                )
                self._groups.append(
                    [
                        (g, list(g["params"]), {k: v for k, v in g.items() if isinstance(v, torch.Tensor)})
                        for g in opt.param_groups
                    ]
                )
                for hook in list(getattr(opt, "_optimizer_step_post_hooks", {}).values()):
                    owner = _warmup_owner(hook)
                    if owner is not None:
                        self._step_hooked.append((owner, copy.deepcopy(owner.state_dict())))
        return unknown

    @contextlib.contextmanager
    def watching_optimizers(self) -> Iterator[None]:
        """While open, capture every other optimizer before its first step, for :meth:`restore` to put back.

        A ``step_fn`` may step an optimizer of its own besides the swept one: a GAN's critic (or
        discriminator), whose optimizer steps inside the generator's loss. Its state, param
        groups and attributes are captured as the snapshot's own optimizers are, just before its
        first step (through torch's global step pre-hook), and so are its parameters outside the
        model (a critic held by the ``step_fn`` alone): their values are those the test started
        from, since only that optimizer moves them. Their gradients, made by the test's backward
        before that step, are unknown from before it: :meth:`restore` clears them (``None``), as
        ``zero_grad()`` does. Outside the block nothing is captured any more, nor is an optimizer
        stepped in another thread (the hook is global: a training loop of the user's running
        alongside would have been rolled back to its first step in the test).
        """
        handle = _torch_optimizer.register_optimizer_step_pre_hook(_OptimizerWatch(self))
        try:
            yield
        finally:
            handle.remove()

    def _capture_late(self, optimizer: torch.optim.Optimizer) -> None:
        """Capture an optimizer first stepped in :meth:`watching_optimizers`, and its parameters outside the model."""
        if any(optimizer is o for o in self._all_optimizers):
            return
        start = len(self._all_optimizers)
        unknown = self._capture_optimizers([optimizer])
        own = {id(p) for p, _, _ in self._params}
        with torch.inference_mode(False), torch.no_grad():
            for opt in self._all_optimizers[start:]:
                for group in opt.param_groups:
                    for p in group["params"]:
                        if id(p) not in own and isinstance(p, torch.Tensor) and not p.is_inference():
                            own.add(id(p))
                            self._params.append((p, p.detach().clone(), None))
        if unknown:
            _warn_unrestorable_optimizer_state(unknown)

    def nbytes(self) -> int:
        """Bytes held by the snapshot's tensor and array copies.

        The parameters, their gradients and the buffers; every optimizer's state and param-group
        settings (nested ones included) and its other attributes; the modules' plain attributes
        (``module_attributes``). The RNG states and the Python values kept are not counted.
        """
        total = sum(
            c.numel() * c.element_size() + (0 if g is None else g.numel() * g.element_size())
            for _, c, g in self._params
        )
        total += sum(c.numel() * c.element_size() for _, c in self._buffers)
        total += sum(_held_bytes(held) for _, attrs in self._opt_attrs for held in attrs.values())
        total += sum(_held_bytes(held) for _, items in self._hook_states for held in items.values())
        total += sum(_tensor_bytes(state) + _tensor_bytes(groups) for state, groups in self._opt_state)
        total += sum(_held_bytes(held) for _, attrs in self._module_attrs for held in attrs.values())
        total += sum(_held_bytes(held) for held in self._objects)
        return total

    def restore(self) -> None:
        """Put the captured state back, bit for bit.

        A Ctrl-C (or SIGTERM) that comes meanwhile waits until all of it is back: one that stopped the restore
        half-way left the model, the optimizers, the RNGs or the data order partly at the test's state.
        """
        with held_back_signals():
            self._restore_all()

    def _restore_all(self) -> None:
        _reshard_fsdp(self.model)  # before the shards are written: a gathered copy would shadow them
        for module, kind, held in self._slots:
            now = getattr(module, kind)
            for name in [n for n in now if n not in held]:  # registered during the test
                del now[name]
            for name, tensor in held.items():
                if now.get(name) is not tensor:  # reassigned during the test (an EMA buffer)
                    now[name] = tensor
        with torch.inference_mode(False), torch.no_grad():
            for param, saved, grad in self._params:
                param.copy_(saved)
                param.grad = None if grad is None else grad.clone()
            for buf, saved in self._buffers:
                if buf.shape != saved.shape:
                    # Resized in place during the test: a quantization observer's min_val/max_val and a
                    # FakeQuantize's scale/zero_point start empty, (0,), and are resized at the first forward.
                    buf.resize_(saved.shape)
                buf.copy_(saved)
            # Latest capture first: should one optimizer be captured twice (late, by watching_optimizers, as well),
            # the capture from before the test is the one left in place.
            for opt, saved_attrs in reversed(self._opt_attrs):
                for name in [n for n in vars(opt) if n not in saved_attrs and n not in _OPTIMIZER_OWN]:
                    delattr(opt, name)  # set during the test (_opt_called, a lazily made buffer)
                for name, saved_value in saved_attrs.items():
                    value = _put_back(saved_value)
                    if vars(opt).get(name, _MISSING) is not value:
                        setattr(opt, name, value)
            for hook_state, items in self._hook_states:
                _restore_hook_state(hook_state, items)
            captured = list(zip(self._all_optimizers, self._opt_state, self._groups, strict=True))
            for opt, (state, groups), held_groups in reversed(captured):
                opt.state.clear()
                for p, s in state.items():
                    opt.state[p] = _clone(s)
                # A group added during the test (a step_fn unfreezing a layer with add_param_group) is dropped.
                opt.param_groups[:] = [group for group, _, _ in held_groups]
                for (group, params, held), saved in zip(held_groups, groups, strict=True):
                    now = group.get("params")
                    group.clear()
                    group.update(_clone(saved))
                    for key, tensor in held.items():
                        value = group.get(key)
                        if isinstance(value, torch.Tensor) and value.shape == tensor.shape:
                            group[key] = tensor.copy_(value)
                    if isinstance(now, list):  # the same list, holding the same params again
                        now[:] = params
                        params = now
                    group["params"] = params
        with torch.inference_mode(False), torch.no_grad():
            changed: list[str] = []
            for module, held_attrs in self._module_attrs:
                owned = module._parameters.keys() | module._buffers.keys() | module._modules.keys()
                for name, saved_value in held_attrs.items():
                    value = _put_back(saved_value, logs=False)  # a list of floats the fit averages: state
                    if name not in owned and vars(module).get(name, _MISSING) is not value:
                        vars(module)[name] = value
                    if saved_value[0] == "large" and saved_value[2] is not None and value._version != saved_value[2]:
                        changed.append(f"{type(module).__name__}.{name} (a tensor of {_size_words(value)})")
            for cell, number in self._hook_cells:
                cell.cell_contents = number
            for hook_held in self._hook_holders:
                _put_back(hook_held)  # a list of floats a hook appends to is a log (an optimizer's rule): left
            if changed:
                warn(
                    f"{', '.join(changed)} was changed in place during the test and is not put back: lrfinder copies "
                    f"tensor attributes of up to {_size_words(ATTRIBUTE_COPY_LIMIT)} only. If a forward changes it, "
                    "make it a buffer (self.register_buffer(name, tensor)): buffers are always put back.",
                    every_rank=True,  # what this rank's forward changed: another rank's may not have
                )
            moved = list(dict.fromkeys(name for name, t, version in self._watched if t._version != version))
            attributes = [name for name in moved if name not in self._given]
            if attributes:
                warn(
                    f"{', '.join(attributes)} (a module held as a plain attribute, outside the model's submodules) was "
                    f"changed during the test and is not put back: lrfinder copies such modules of up to "
                    f"{_size_words(ATTRIBUTE_COPY_LIMIT)} only. Register it as a submodule (self.name = module) to "
                    "have it restored, or save its state_dict before the test and load it back afterwards.",
                    every_rank=True,
                )
            given = [name for name in moved if name in self._given]
            if given:
                warn(
                    f"{', '.join(given)} (a module outside the model) was changed during the test and is not put "
                    f"back: lrfinder copies such modules of up to {_size_words(ATTRIBUTE_COPY_LIMIT)} only. Save its "
                    "state_dict before the test and load it back afterwards.",
                    every_rank=True,
                )
        with torch.inference_mode(False), torch.no_grad():
            for object_held in self._objects:
                _put_back(object_held, logs=False)  # a list of floats the loss averages over its calls: state
        for obj, state in self._states:
            obj.load_state_dict(copy.deepcopy(state))  # a copy again: the next restore (a trial's) needs it too
        for module, mode in self._modes:
            module.training = mode
        for ddp, forward_sync in self._forward_syncs:
            ddp.require_forward_param_sync = forward_sync
        torch.set_rng_state(self._torch_rng)
        if self._cuda_rng is not None:
            torch.cuda.set_rng_state_all(self._cuda_rng)
        np.random.set_state(self._np_rng)
        random.setstate(self._py_rng)
        self._data_state.restore()
        for param, flag in self._grad_flags:
            param.requires_grad_(flag)
        for owner, owner_state in self._step_hooked:
            owner.load_state_dict(copy.deepcopy(owner_state))
        for loader in self._fresh_loaders:
            started = _iterator_of(loader)
            if started is not None:
                loader._iterator = None  # type: ignore[attr-defined]
                shutdown = getattr(started, "_shutdown_workers", None)
                if callable(shutdown):
                    shutdown()


class _OptimizerWatch:
    """The global step pre-hook of :meth:`StateSnapshot.watching_optimizers`: captures an optimizer before it steps.

    A class, not a closure, so the checks that read step hooks (:func:`outside_step_hooks`,
    :func:`steps_alike_without_closure`) know it for lrfinder's own: it changes nothing in the step.
    Only the steps of the thread that opened the watch are the test's: torch's hook sees every
    thread's, and another thread's optimizer (the user's own training alongside) is not the test's
    to put back.
    """

    def __init__(self, snapshot: StateSnapshot) -> None:
        self.snapshot = snapshot
        self.thread = threading.get_ident()

    def __call__(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if threading.get_ident() == self.thread:
            self.snapshot._capture_late(optimizer)


def _warn_unrestorable_optimizer_state(unknown: Sequence[str]) -> None:
    """Warn that an optimizer keeps state :class:`StateSnapshot` cannot restore, naming (the first three of) it."""
    warn(
        f"The optimizer keeps state outside its state and param groups that the range test cannot restore: "
        f"{', '.join(unknown[:3])}{' ...' if len(unknown) > 3 else ''}. Keep such state in optimizer.state "
        "(or in attributes that are tensors, numbers, RNGs, or lists and dicts of them), or save it before the "
        "test and load it back afterwards.",
    )


def _iterator_of(loader: object) -> object | None:
    """The iterator a DataLoader with persistent workers keeps between epochs (``None`` before the first)."""
    return getattr(loader, "_iterator", None)


def held_iterators(data: object) -> list[object]:
    """The iterators the IterableDataset of ``data``, a DataLoader without workers, holds now (for :func:`kept_stream`).

    Each is a stream its ``__iter__`` may hand out at every call (a generator made once in ``__init__``).
    Kept as objects, not ids: one the dataset replaces at its next ``__iter__`` must not free its id for the new one.
    """
    if not isinstance(data, torch.utils.data.DataLoader) or data.num_workers:
        return []
    dataset = data.dataset
    if not isinstance(dataset, torch.utils.data.IterableDataset):
        return []
    # A dataset may be its own iterator (__iter__ returning self): that is the stream, not one it holds. Compared as
    # an object: mypy takes an IterableDataset and an Iterator for disjoint types, a class may derive from both.
    itself: object = dataset
    return [obj for obj in _data_holders(dataset) if isinstance(obj, Iterator) and obj is not itself]


def kept_stream(data: object, iterator: object, held: Sequence[object]) -> str | None:
    """The class of ``data``'s IterableDataset when it handed ``iterator`` one of the iterators it ``held`` before.

    A DataLoader without workers over an IterableDataset whose ``__iter__`` returns an iterator
    the dataset held already (``return self.stream``, a generator made once in ``__init__``) hands the
    same one out at every ``iter()``: the batches a range test draws from it are used up, and no
    snapshot can put a generator's position back. ``held`` is :func:`held_iterators` from before the
    first ``iter()``; the iterator compared is the one DataLoader's iterator reads
    (``_dataset_fetcher.dataset_iter``). A dataset that keeps a new iterator at each ``__iter__``
    (``self.it = self.stream()``) is not named, nor one that is its own iterator (its numbers and
    RNGs are put back, :class:`_DataState`), nor a loader with workers, whose workers each read a
    copy and leave the caller's where it was.
    """
    source = getattr(getattr(iterator, "_dataset_fetcher", None), "dataset_iter", None)
    if source is None or not any(source is obj for obj in held):
        return None
    return type(getattr(data, "dataset", data)).__name__


def kept_stream_message(dataset: str, data: str = "train_data", rebuild: bool = True) -> str:
    """What a user whose IterableDataset ``dataset`` hands out a kept iterator (:func:`kept_stream`) is told.

    ``data`` names where the loader came from (``train_data``, the fit's train loader); ``rebuild``
    adds the other fix, building the dataset again after the test (not for a fit, which goes on).
    """
    return (
        f"{data}'s IterableDataset ({dataset}) hands out an iterator it keeps (a generator made once, returned by "
        "every __iter__): the batches the range test drew from it are used up, and restore cannot put them back, so "
        "training would start where the test stopped. Make __iter__ start the stream anew at each call (write it as "
        "a generator function, with yield)" + (", or build the dataset again after the test." if rebuild else ".")
    )


def own_iterator(data: Iterable[Any], made: object | None = None) -> Iterator[Any]:
    """``iter(data)``, leaving alone the workers of a persistent-workers DataLoader already running.

    Such a loader keeps the iterator of its last ``iter()`` and resets it at the next: the test
    drew its batches from the caller's workers, whose RNGs moved (a random augmentation in a
    worker), and the epoch after the test saw other batches than without it. The test gets
    workers of its own instead (shut down once it drops the iterator), and the caller's iterator
    stays in place, untouched. ``made``: an iterator the test itself left in place (its first
    ``iter()`` of a loader without one), which is reset as usual.
    """
    running = _iterator_of(data) if getattr(data, "persistent_workers", False) else None
    if running is None or running is made:
        return iter(data)
    data._iterator = None  # type: ignore[attr-defined]
    try:
        return iter(data)
    finally:
        data._iterator = running  # type: ignore[attr-defined]

