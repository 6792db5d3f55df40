"""The per-batch loss: a batch moved to the device, fed to the model and ``loss_fn``, and the data cycled.

:func:`to_device`, :func:`_batch_loss` (the batch formats the test reads: ``(x, y)`` pairs, dicts
with input and target keys, a model that returns its own loss, or a ``step_fn``), the loss checks
(:func:`_check_loss`), :class:`CyclingBatches` (data shorter than the sweep starts over) and
:func:`infer_batch_size`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import inspect
import logging
import re
import signal
import traceback
import types
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import CodeType
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from ._checks import COMPLEX_LOSS_FIX
from ._warn import warn
from .diagnostics import _STEP_FN_FIX, _describe
from .exceptions import DataError, LRFinderError, ModelError
from .settings import empty_data_message
from .snapshot import _data_holders, _iterator_of, held_iterators, kept_stream, own_iterator

#: The engine's logger: the note that the data ran out and starts over is the range test's, as before the
#: engine was split into modules.
logger = logging.getLogger("lrfinder.range_test")


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor in a (nested) batch to ``device``.

    Tensors, dicts (any ``Mapping``), lists, tuples and named tuples are walked (a tuple type with
    its own ``to``, such as a ``PackedSequence``, is moved by it: its ``batch_sizes`` stay on the
    CPU, as torch requires); a dataclass
    instance is copied with its fields moved (frozen ones too, ``__post_init__`` not run again);
    any other object with a ``to`` method (a PyTorch Geometric ``Data``, a custom batch class) is
    moved by ``batch.to(device)``, as Lightning moves batches. Anything else is left as it is.
    """
    if isinstance(batch, torch.Tensor):
        if type(batch) is torch.Tensor and batch.device == device:
            return batch  # what .to() returns there, without its 1 us call at every step
        return batch.to(device, non_blocking=True)
    if type(batch) is list:  # the usual (inputs, targets) of a DataLoader, walked at once
        return [to_device(v, device) for v in batch]
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    own_to = getattr(batch, "to", None)
    if isinstance(batch, tuple) and callable(own_to):
        # A tuple type with its own move: a PackedSequence keeps its batch_sizes on the CPU, as torch requires.
        return own_to(device)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        moved = {f.name: to_device(getattr(batch, f.name), device) for f in dataclasses.fields(batch)}
        if all(value is getattr(batch, name) for name, value in moved.items()):
            return batch
        copied = copy.copy(batch)
        for name, value in moved.items():
            object.__setattr__(copied, name, value)  # a frozen dataclass's fields too
        return copied
    to = getattr(batch, "to", None)
    if callable(to) and not isinstance(batch, (type, nn.Module, str, bytes, np.ndarray)):
        moved_batch = to(device)
        return batch if moved_batch is None else moved_batch  # a .to() that moves in place returns None
    return batch


def fields_of(batch: Any) -> dict[str, Any] | None:
    """A dataclass or named tuple batch's fields by name, read as a dict batch is (x/y by name, or ``model(**fields)``).

    A named tuple is read so when its field names hold an input and a target key (``Batch(x, y, weight)``, whose
    ``weight`` a warning names as unused); one without them is a tuple (a 2-field one an ``(inputs, targets)`` pair
    by position). ``None`` for any other batch.
    """
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        return {f.name: getattr(batch, f.name) for f in dataclasses.fields(batch)}
    names = getattr(batch, "_fields", None) if isinstance(batch, tuple) else None
    if names and any(k in names for k in _INPUT_KEYS) and any(k in names for k in _TARGET_KEYS):
        return dict(zip(names, batch))
    return None


#: A dict batch's input and target keys for ``loss_fn(model(batch[x]), batch[y])``, the first present of each.
#: Hugging Face's processors name the input ``pixel_values`` (images), ``input_ids`` (tokens),
#: ``input_values`` (raw audio) or ``input_features`` (spectrograms); a mask beside it is not read.
_INPUT_KEYS = (
    "x",
    "input",
    "inputs",
    "features",
    "data",
    "image",
    "images",
    "pixel_values",
    "input_ids",
    "input_values",
    "input_features",
)
_TARGET_KEYS = ("y", "target", "targets", "label", "labels")


def _apply_loss(loss_fn: Callable[..., torch.Tensor], out: Any, target: Any) -> torch.Tensor:
    """``loss_fn(out, target)``; when that fails on a model output that is not a tensor, say so.

    Models that return a dict, a tuple or an output object (``.logits``, Hugging Face style) make
    ``F.cross_entropy(out, y)`` fail deep in torch ("argument 'input' must be Tensor, not dict").
    A loss function may take such outputs on purpose, so they are only explained when it fails.
    """
    try:
        return loss_fn(out, target)
    except (IndexError, RuntimeError, ValueError) as exc:
        batched = isinstance(target, torch.Tensor) and target.dim() >= 1 and target.shape[0] > 1
        if not (isinstance(out, torch.Tensor) and out.dim() == 0 and batched):
            raise
        # A forward ending in .sum() or .mean(): cross_entropy's "Dimension out of range (expected to be in range of
        # [-1, 0], but got 1)" came with "check that the inputs have the shape ... the model takes".
        raise ModelError(
            "loss_fn(model(inputs), targets) failed because the model returned a single number (a 0-d tensor), not "
            f"an output per example, against targets of shape {tuple(target.shape)} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}). Check the end of the model's forward: a .sum() or "
            ".mean() over the batch leaves one number. Return the outputs the loss takes, one row per example."
        ) from exc
    except (TypeError, AttributeError) as exc:
        if isinstance(out, torch.Tensor):
            raise
        if out is None:
            # The loss fix below (pick a part of the output) cannot help: there is no output.
            raise ModelError(
                "The model returned None, not a tensor, so loss_fn(model(inputs), targets) failed "
                f"({type(exc).__name__}: {exc}). Check the model's forward: it must return its output (a forward "
                "that computes it but has no `return` line returns None)."
            ) from exc
        if isinstance(out, Mapping):
            keys = list(out)
            what = f"a {type(out).__name__} with keys {[str(k) for k in keys][:8]}"
            pick = f"[{'logits' if 'logits' in out else keys[0]!r}]" if keys else "[...]"
        elif isinstance(out, (tuple, list)):
            what, pick = f"a {type(out).__name__} of length {len(out)}", "[0]"
        elif isinstance(getattr(out, "logits", None), torch.Tensor):
            what, pick = f"an object of type {type(out).__name__} (with .logits)", ".logits"
        else:
            what, pick = f"an object of type {type(out).__name__}", "<the output tensor>"
        name = getattr(loss_fn, "__name__", None)
        if isinstance(loss_fn, nn.Module):  # a loss module instance
            name = f"{type(loss_fn).__name__}()"
        elif name is None or not name.isidentifier():  # a lambda, a functools.partial
            name = "your_loss"
        raise ModelError(
            f"loss_fn(model(inputs), targets) failed because the model returned {what}, not a tensor "
            f"({type(exc).__name__}: {exc}). Pass a loss_fn that picks the output it needs, e.g. "
            f"loss_fn=lambda out, y: {name}(out{pick}, y)"
        ) from exc


#: How torch's regression losses (``mse_loss``, ``l1_loss``, ``smooth_l1_loss``, ``huber_loss``) warn that they
#: broadcast the target against the output: "Using a target size (torch.Size([32])) that is different to the
#: input size (torch.Size([32, 1])). This will likely lead to incorrect results due to broadcasting. ...".
_TARGET_SIZE_WARNING = re.compile(
    r"Using a target size \((?:torch\.Size\(\[)?([^\]\)]*)\]?\)?\) that is different to the input size "
    r"\((?:torch\.Size\(\[)?([^\]\)]*)\]?\)?\)"
)


def _size_of(numbers: str) -> tuple[int, ...]:
    """``"32, 1"`` (a ``torch.Size`` in torch's warning) as ``(32, 1)``."""
    return tuple(int(part) for part in numbers.split(",") if part.strip())


def _pairs_wrongly(target: tuple[int, ...], output: tuple[int, ...]) -> bool:
    """Whether a loss broadcasting ``target`` against ``output`` pairs outputs with targets not theirs.

    ``(N, 1)`` outputs with ``(N,)`` targets make an ``(N, N)`` difference, ``(N, 3)`` outputs with ``(N, 1)``
    targets compare three outputs with one target. A target without the batch dimension (a scalar, ``(1,)``,
    a ``(C,)`` row: a penalty towards 0, one goal for every example) broadcast up to the output's shape counts
    each output once against the target meant: torch warns, but the loss is the one intended.
    """
    try:
        expands_output = tuple(torch.broadcast_shapes(target, output)) != output
    except RuntimeError:  # not broadcastable: torch raises its own error
        return True
    padded = (1,) * (len(output) - len(target)) + target
    return expands_output or not output or padded[0] != 1


def _warned_from(filename: str, lineno: int) -> dict[str, Any] | None:
    """The globals of the frame on the stack at ``filename:lineno``: where a warning said to come from was warned.

    ``warnings.warn`` keeps a module's "shown once" registry in its globals (``__warningregistry__``); a
    warning caught and warned again goes into the same one. ``None`` when no frame of the stack is there.
    """
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_lineno == lineno and frame.f_code.co_filename == filename:
            return frame.f_globals
        frame = frame.f_back
    return None


def _warn_again(w: warnings.WarningMessage, module_globals: dict[str, Any] | None, *, filtered: bool) -> None:
    """Warn ``w`` again, after :func:`target_broadcast_refused`'s block, into the registry of the module that warned.

    Leaving ``catch_warnings`` resets every module's "shown once" registry: a warning shown from the block and
    not registered again was shown a second time by the next batch (twice per range test under the usual
    "default" filter, a model's own warning as torch's). ``filtered``: the caller's filters passed it in the
    block, so it is shown once now even where they would not show it again (a "once" filter took its showing
    there); otherwise (the target-size warning, let through by the block's "always") they decide.
    """
    show = warnings.showwarning
    shown = False

    def showing(*args: Any, **kwargs: Any) -> None:
        nonlocal shown
        shown = True
        show(*args, **kwargs)

    registry = None if module_globals is None else module_globals.setdefault("__warningregistry__", {})
    module = None if module_globals is None else module_globals.get("__name__")
    warnings.showwarning = showing
    try:
        warnings.warn_explicit(
            w.message, w.category, w.filename, w.lineno, module=module, registry=registry, module_globals=module_globals
        )
    finally:
        warnings.showwarning = show
    if filtered and not shown:
        show(w.message, w.category, w.filename, w.lineno)


def target_broadcast_refused(active: bool = True) -> contextlib.AbstractContextManager[None]:
    """While ``active``, a loss that broadcasts its target against the output raises :class:`DataError`.

    ``F.mse_loss(out, y)`` with an output of shape ``(N, 1)`` and targets of shape ``(N,)`` compares every
    output with every target (an ``(N, N)`` difference) and only warns: the range test then swept a loss that
    is not the one training will use, and read a suggestion off it. Used around the first batch, where a
    format error shows; later batches have the same format and keep torch's warning. A target without the
    batch dimension (``F.mse_loss(out, torch.zeros(1))``) counts each output once: it keeps torch's warning
    (see :func:`_pairs_wrongly`), as the block's other warnings keep theirs.

    Raises:
        DataError: torch warned "Using a target size ... that is different to the input size ..." of
            targets with the batch dimension, or of a broadcast that repeats the output.

    """
    # Inactive (every batch but the first): a nullcontext, not a generator's context, entered at each step.
    return _refusing_target_broadcast() if active else contextlib.nullcontext()


@contextlib.contextmanager
def _refusing_target_broadcast() -> Iterator[None]:
    """:func:`target_broadcast_refused`'s block while active."""
    refused: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    caught: list[tuple[warnings.WarningMessage, dict[str, Any] | None]] = []

    def record(
        message: Warning | str, category: type[Warning], filename: str, lineno: int, file: Any = None, line: Any = None
    ) -> None:
        message = message if isinstance(message, Warning) else category(message)
        caught.append((warnings.WarningMessage(message, category, filename, lineno), _warned_from(filename, lineno)))

    try:
        with warnings.catch_warnings():
            # Recorded whatever the caller's filters (a "default" filter shows it once per line), judged below.
            warnings.filterwarnings("always", message="Using a target size", category=UserWarning)
            warnings.showwarning = record
            yield
    finally:
        for w, module_globals in caught:
            match = _TARGET_SIZE_WARNING.match(str(w.message)) if issubclass(w.category, UserWarning) else None
            if match is not None:
                target, output = _size_of(match[1]), _size_of(match[2])
                if _pairs_wrongly(target, output):
                    refused = refused or (target, output)
                    continue
            _warn_again(w, module_globals, filtered=match is None)
    if refused is not None:
        target, output = refused
        fix = (
            "Give the targets the output's shape: check the model's number of outputs against the targets "
            "(class labels go with cross_entropy, not a regression loss)."
        )
        if output == (*target, 1):
            fix = (
                f"Give the targets the output's shape {output} (y.view(-1, 1) in the data), or drop the output's "
                "last dimension in loss_fn (for MSE: loss_fn=lambda out, y: F.mse_loss(out.squeeze(-1), y))."
            )
        raise DataError(
            f"The targets have shape {target} and the model's output {output}: loss_fn broadcasts them against "
            "each other (torch warns \"Using a target size that is different to the input size\"), so the loss "
            f"pairs outputs with targets that are not theirs and the range test would sweep the wrong loss. {fix}"
        )


def _warn_unused_keys(batch: Any, loss_fn: Any, step_fn: Any) -> None:
    """Warn once when a dict batch read as ``loss_fn(model(batch[x]), batch[y])`` has keys that go nowhere.

    A mask, sample weights or a second input next to the input and target keys is silently
    dropped by that reading; ``step_fn`` is the way to use them.
    """
    batch = fields_of(batch) or batch
    if step_fn is not None or loss_fn is None or not isinstance(batch, Mapping):
        return
    x_key = next((k for k in _INPUT_KEYS if k in batch), None)
    y_key = next((k for k in _TARGET_KEYS if k in batch), None)
    unused = [k for k in batch if k not in (x_key, y_key)]
    if x_key is not None and y_key is not None and unused:
        warn(
            f"The batches are read as loss_fn(model(batch[{x_key!r}]), batch[{y_key!r}]); their other keys "
            f"({', '.join(map(repr, unused))}) are not used. To use them (a mask, sample weights), pass "
            "step_fn=lambda model, batch: <loss tensor> to range_test.",
            UserWarning,
            every_rank=True,  # this rank's batches: another rank's may hold other keys
        )


def _with_loss_fn(batch: Mapping[Any, Any]) -> str:
    """What passing ``loss_fn`` does with a dict ``batch``: with its own keys when it has them."""
    x_key = next((k for k in _INPUT_KEYS if k in batch), None)
    y_key = next((k for k in _TARGET_KEYS if k in batch), None)
    if x_key is not None and y_key is not None:
        return (
            "Pass loss_fn (e.g. torch.nn.functional.cross_entropy) to compute "
            f"loss_fn(model(batch[{x_key!r}]), batch[{y_key!r}])."
        )
    return (
        f"Pass loss_fn (e.g. torch.nn.functional.cross_entropy) with an input key ({'/'.join(_INPUT_KEYS)}) and a "
        f"target key ({'/'.join(_TARGET_KEYS)}) in the batch to compute loss_fn(model(inputs), targets)."
    )


def _check_takes_keywords(model: nn.Module, batch: Mapping[Any, Any], fix: str) -> None:
    """Refuse a dict batch ``model.forward`` cannot take as keywords, before calling it.

    Without ``loss_fn`` a dict batch goes in as ``model(**batch)``; a plain model's
    ``forward(x)`` failed with "got an unexpected keyword argument 'y'", described as a shape or
    dtype problem of the batch. A ``forward`` whose signature cannot be read is called as is.

    Raises:
        DataError: ``model.forward`` does not take the batch's keys as arguments.

    """
    try:
        signature = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(**{str(k): v for k, v in batch.items()})
    except TypeError as exc:
        raise DataError(
            f"No loss_fn was given, so the dict batch (keys {sorted(map(str, batch))}) is passed to the model as "
            f"model(**batch), Hugging Face style, but {type(model).__name__}.forward does not take it ({exc}). "
            f"{_with_loss_fn(batch)} {fix}"
        ) from None


def _takes_the_batch_only(model: nn.Module, batch: Mapping[Any, Any], x_key: Any) -> bool:
    """Whether ``model.forward`` takes the dict ``batch`` as keywords but not ``batch[x_key]`` alone.

    A Hugging Face model computing its own loss (``forward(input_ids, labels)``) given ``loss_fn``:
    ``model(batch["input_ids"])`` fails for the missing ``labels``, and dropping ``loss_fn`` is the fix.
    """
    try:
        signature = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return False
    try:
        signature.bind(batch[x_key])
    except TypeError:
        pass
    else:
        return False
    try:
        signature.bind(**{str(k): v for k, v in batch.items()})
    except TypeError:
        return False
    return True


def _is_scalar_loss(value: object) -> bool:
    """Whether ``value`` is a loss a model computed itself: a 0-dim floating-point tensor."""
    return isinstance(value, torch.Tensor) and value.ndim == 0 and value.is_floating_point()


def _output_loss(out: object) -> torch.Tensor | None:
    """The loss in what ``model(**batch)`` returned, as Hugging Face's ``Trainer`` reads it, else ``None``.

    ``out["loss"]`` of a dict (a ``ModelOutput``), ``out.loss`` of an output object (a dataclass);
    the first item of a tuple or list when it is a scalar floating-point tensor (a Hugging Face
    model with ``return_dict=False`` returns ``(loss, logits, ...)`` when given labels); and a
    scalar floating-point tensor itself (a model that computes its own loss). A model's
    predictions have a batch dimension, so a 0-dim tensor is not taken for them.
    """
    if isinstance(out, Mapping):
        loss = out.get("loss")
    elif isinstance(out, (tuple, list)):
        loss = out[0] if out and _is_scalar_loss(out[0]) else None
    elif isinstance(out, torch.Tensor):
        loss = out if _is_scalar_loss(out) else None
    else:
        loss = getattr(out, "loss", None)
    return loss if isinstance(loss, torch.Tensor) else None


def _scalar_parts(out: object) -> list[str]:
    """The names of the floating scalar tensors with a gradient in a dict or dataclass output: parts of a loss.

    A model that returns its loss in parts (``{"ce": ..., "l2": ..., "logits": ...}``, or a dataclass of them) and
    no ``loss``: the names, in order, that :func:`_no_loss_message` offers to sum.
    """
    if isinstance(out, Mapping):
        items = [(str(k), v) for k, v in out.items()]
    elif dataclasses.is_dataclass(out) and not isinstance(out, type):
        items = [(f.name, getattr(out, f.name, None)) for f in dataclasses.fields(out)]
    else:
        return []
    return [
        name
        for name, value in items
        if isinstance(value, torch.Tensor) and value.ndim == 0 and value.is_floating_point() and value.requires_grad
    ]


def _no_loss_message(out: object, batch: Mapping[Any, Any], fix: str) -> str:
    """Why ``model(**batch)`` gave no loss: what it returned, and what to pass instead.

    An output holding scalar tensors with a gradient under other names (a loss in parts, ``ce`` and ``l2``) is
    told to return their sum as ``loss`` too, which every entry point then takes.
    """
    notes = []
    parts = _scalar_parts(out)
    if len(parts) > 1:
        parts = parts[:6]
        names = ", ".join(map(repr, parts[:-1])) + f" and {parts[-1]!r}"
        notes.append(
            f"its scalar tensors {names} look like the parts of a loss: to train on their sum, have forward "
            f"also return 'loss': {' + '.join(parts)}"
        )
    elif parts:
        notes.append(f"if its scalar tensor {parts[0]!r} is the loss, have forward return it as 'loss' too")
    if isinstance(out, Mapping):
        what = f"a {type(out).__name__} with keys {[str(k) for k in out][:8]} and no 'loss' tensor"
    elif isinstance(out, (tuple, list)):
        what = f"a {type(out).__name__} of length {len(out)}, not an output with a 'loss'"
        if out:
            notes.append(f"its first item is {_describe(out[0])}, not a scalar loss")
    elif isinstance(out, torch.Tensor):
        what = f"a tensor of shape {tuple(out.shape)}, not an output with a 'loss'"
    else:
        what = f"an object of type {type(out).__name__} without a 'loss' tensor"
    if not any(str(k) in ("labels", "label") for k in batch):
        notes.append("a Hugging Face model computes it only when the batch holds 'labels'")
    said = f" ({'; '.join(notes)})" if notes else ""
    return (
        f"No loss_fn was given, so the dict batch (keys {sorted(map(str, batch))}) was passed as model(**batch), "
        f"which returned {what}{said}. {_with_loss_fn(batch)} {fix}"
    )


def _batch_loss(
    model: nn.Module,
    batch: Any,
    loss_fn: Callable[..., torch.Tensor] | None,
    step_fn: Callable[[nn.Module, Any], torch.Tensor] | None,
    *,
    fix: str = _STEP_FN_FIX,
    output_shape: list[tuple[int, ...]] | None = None,
) -> torch.Tensor:
    """The loss of one batch: ``step_fn(model, batch)``, else ``loss_fn(model(x), y)`` for pairs, dicts and dataclasses.

    A dict batch without ``loss_fn`` is passed as ``model(**batch)``, whose loss is taken (Hugging
    Face style, :func:`_output_loss`: ``out["loss"]``, ``out.loss``, the first item of a
    ``(loss, logits)`` tuple, or a scalar tensor). Other formats raise :class:`DataError` ending
    with ``fix`` (what the caller's API offers for them). ``output_shape``, when given and still
    empty, gets the shape of the model's output that ``loss_fn`` takes (a tensor's; a TorchScript
    model takes no forward hook to read it by).
    """
    if step_fn is not None:
        return step_fn(model, batch)
    # A dataclass batch (Batch(x=..., y=...)) is read as the dict of its fields; it was refused, for a step_fn.
    batch = fields_of(batch) or batch
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        if loss_fn is None:
            raise DataError(
                "Batches are (inputs, targets) pairs but no loss_fn was given (only a dict batch goes in as "
                f"model(**batch), whose loss is taken). Pass loss_fn (e.g. torch.nn.functional.cross_entropy). {fix}"
            )
        out = model(batch[0])
        _record_shape(out, output_shape)
        return _apply_loss(loss_fn, out, batch[1])
    if isinstance(batch, Mapping):
        if loss_fn is not None:
            x_key = next((k for k in _INPUT_KEYS if k in batch), None)
            y_key = next((k for k in _TARGET_KEYS if k in batch), None)
            if x_key is not None and y_key is not None:
                try:
                    out = model(batch[x_key])
                except TypeError as exc:
                    if _takes_the_batch_only(model, batch, x_key):
                        raise DataError(
                            f"loss_fn was given, so the dict batch (keys {sorted(map(str, batch))}) is read as "
                            f"loss_fn(model(batch[{x_key!r}]), batch[{y_key!r}]), but {type(model).__name__}.forward "
                            f"takes the batch's keys as arguments ({exc}), as a Hugging Face model that computes its "
                            "own loss does. Drop loss_fn to pass the batch as model(**batch) and take the model's "
                            f"loss. {fix}"
                        ) from exc
                    raise
                _record_shape(out, output_shape)
                return _apply_loss(loss_fn, out, batch[y_key])
        else:
            _check_takes_keywords(model, batch, fix)
            out = model(**batch)
            loss = _output_loss(out)
            if loss is not None:
                return loss
            raise DataError(_no_loss_message(out, batch, fix))
        raise DataError(
            f"Cannot compute a loss from a dict batch with keys {sorted(map(str, batch))}: expected "
            f"an input key ({'/'.join(_INPUT_KEYS)}) and a target key ({'/'.join(_TARGET_KEYS)}) "
            f"with loss_fn, or, without loss_fn, a model(**batch) returning a 'loss'. {fix}"
        )
    raise DataError(
        f"Cannot compute a loss from these batches: each is {_batch_kind(batch)}, but expected (inputs, targets) "
        f"pairs or dicts with input/target keys.{_format_hint(batch, loss_fn)} {fix}"
    )


def _record_shape(out: object, output_shape: list[tuple[int, ...]] | None) -> None:
    if output_shape is not None and not output_shape and isinstance(out, torch.Tensor):
        output_shape.append(tuple(out.shape))


def _batch_kind(batch: object) -> str:
    """A batch the test cannot read, in words: ``a list of 3 tensors (float32 (16, 10), ...)``, ``a str``.

    "Cannot use batches of type a list of length 3" read oddly and showed nothing of the items.
    """
    if isinstance(batch, torch.Tensor):
        return f"a tensor {_describe(batch)}"
    name = type(batch).__name__
    if isinstance(batch, (tuple, list)):
        items = "tensor" if batch and all(isinstance(v, torch.Tensor) for v in batch) else "item"
        return f"a {name} of {len(batch)} {items}{'' if len(batch) == 1 else 's'} {_describe(batch)}"
    if isinstance(batch, (str, bytes)):  # a dict of arrays iterated gives its keys
        return f"a {name} {batch!r:.40}"
    return f"a {name}"


def _format_hint(batch: object, loss_fn: object) -> str:
    """What to do with batches of inputs alone or of several inputs (:func:`_several_inputs_hint`), else ``""``."""
    # Inputs alone (DataLoader(TensorDataset(x)) or DataLoader(x)): an autoencoder's data. "expected (inputs,
    # targets) pairs" left the user to find that the inputs can be their own targets.
    alone = isinstance(batch, torch.Tensor) or (
        isinstance(batch, (tuple, list)) and len(batch) == 1 and isinstance(batch[0], torch.Tensor)
    )
    if alone:
        return (
            " These batches hold inputs alone, no targets: for a model that reconstructs its inputs (an autoencoder), "
            "give the inputs as their targets too, DataLoader(TensorDataset(x, x)), and loss_fn=F.mse_loss."
        )
    names = getattr(batch, "_fields", None) if isinstance(batch, tuple) else None
    if names:
        # A named tuple of 3+ fields: read by name once they are named as a dict's keys are (fields_of).
        return (
            f" A named tuple is read by its field names, as a dict is, when they hold an input name "
            f"({'/'.join(_INPUT_KEYS)}) and a target name ({'/'.join(_TARGET_KEYS)}): {type(batch).__name__}'s are "
            f"{', '.join(names)}: rename two of them so (its other fields are then not used)."
            + _several_inputs_hint(batch, loss_fn)
        )
    return _several_inputs_hint(batch, loss_fn)


def _positional_arity(fn: object) -> int | None:
    """How many positional arguments ``fn`` (a function, or a module's ``forward``) requires; ``None`` if unknown."""
    target = fn.forward if isinstance(fn, nn.Module) else fn
    try:
        params = inspect.signature(target).parameters.values()  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in params if p.kind in positional and p.default is inspect.Parameter.empty)


def _several_inputs_hint(batch: object, loss_fn: object) -> str:
    """A hint for a batch of 3+ items with a ``loss_fn`` of 3+ arguments: a pair or triplet loss, else ``""``.

    ``MarginRankingLoss``/``CosineEmbeddingLoss`` over ``(x1, x2, y)`` batches and ``TripletMarginLoss`` over
    ``(anchor, positive, negative)`` compare the model's outputs for several inputs, which ``loss_fn(model(x), y)``
    cannot: the hint writes the loss for either layout, and the error's ``fix`` where to compute it (``range_test``'s
    ``step_fn``, ``train``'s LightningModule).
    """
    if loss_fn is None or not isinstance(batch, (tuple, list)) or len(batch) < 3:
        return ""
    arity = _positional_arity(loss_fn)
    if arity is None or arity < 3:
        return ""
    return (
        f" loss_fn takes {arity} arguments (a pair or triplet loss, comparing the model's outputs for several "
        "inputs), which loss_fn(model(x), y) cannot give it. Such a loss is "
        "loss_fn(model(batch[0]), model(batch[1]), batch[2]) for (x1, x2, y) batches (MarginRankingLoss, "
        "CosineEmbeddingLoss), loss_fn(*(model(x) for x in batch)) for (anchor, positive, negative) ones."
    )


def _packed_loss_hint(value: object) -> str:
    """`` Its 'loss' entry is a tensor: return it alone ...`` for a loss packed with its parts, else ``""``.

    A loss function that returns ``{"loss": total, "mse": ..., "kl": ...}`` or ``(total, parts)`` (as a
    Lightning ``training_step`` may return it) was answered "got dict" only.
    """
    if isinstance(value, Mapping) and isinstance(value.get("loss"), torch.Tensor):
        return (
            " Its 'loss' entry is a tensor, the loss beside its parts: return that entry alone (my_loss(...)['loss'])."
        )
    if isinstance(value, (tuple, list)) and value and _is_scalar_loss(value[0]):
        return (
            " Its first item is a scalar tensor, the loss beside its parts: return that item alone (my_loss(...)[0])."
        )
    return ""


def _check_loss(loss: object) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor):
        raise ModelError(
            f"The loss must be a torch.Tensor, but got {type(loss).__name__}.{_packed_loss_hint(loss)} Return a tensor "
            "from loss_fn/step_fn."
        )
    if loss.numel() != 1:
        raise ModelError(
            f"The loss must be a scalar, but got a tensor of shape {tuple(loss.shape)}. Reduce it "
            "(e.g. loss.mean(), or reduction='mean' in the loss function)."
        )
    if not loss.is_floating_point():  # complex or integer: backward() fails deep in autograd
        raise ModelError(
            f"The loss must be a real floating-point tensor, but got dtype {loss.dtype}. Return the loss as a float "
            f"tensor ({COMPLEX_LOSS_FIX}; an integer one is not differentiable)."
        )
    if not loss.requires_grad:
        # Worded for range_test and lrfinder.train alike: both check their loss here.
        raise ModelError(
            "The loss does not require grad: it is not connected to the model's trainable parameters. "
            "Check loss_fn/step_fn: return the loss itself (not loss.detach() or loss.item()), computed with "
            "gradients enabled, and leave backward() and optimizer.step() to lrfinder. A forward run whole through "
            "torch.utils.checkpoint.checkpoint(..., use_reentrant=True) cuts the graph the same way (its inputs do "
            "not require grad): pass use_reentrant=False."
        )
    # A 0-d loss as it is: reshaping it added a view to the autograd graph of every step.
    return loss if loss.dim() == 0 else loss.reshape(())


def _dead_workers(it: object, exc: BaseException) -> list[Any]:
    """The worker processes of a DataLoader iterator ``it`` that have died, once drawing from it raised ``exc``.

    torch says so ("DataLoader worker (pid(s) 123) exited unexpectedly") only if it sees the worker gone in time;
    a worker that died after queuing a batch left the main process a bare ``ConnectionResetError`` (its tensors'
    shared memory could not be fetched), which is waited on briefly for the worker's exit.
    """
    workers = getattr(it, "_workers", None)
    if not isinstance(workers, list):
        return []
    if isinstance(exc, (ConnectionError, EOFError)):
        for worker in workers:
            worker.join(timeout=1.0)
    return [w for w in workers if getattr(w, "exitcode", None) not in (None, 0)]


_WORKER_SAID = re.compile(
    r"^DataLoader worker \(pid (\d+)\) (?:exited unexpectedly with exit code (-?\d+)|is killed by signal: ([^.]+))"
)


def _dead_workers_said(exc: BaseException) -> list[Any]:
    """The dead worker torch's SIGCHLD error ``exc`` names, as ``pid`` and ``exitcode`` (``-signal``); else ``[]``."""
    said = _WORKER_SAID.match(str(exc)) if isinstance(exc, RuntimeError) else None
    if said is None:
        return []
    pid, code, name = said.groups()
    if code is None:
        numbers = {signal.strsignal(s): int(s) for s in signal.Signals}
        code = -numbers.get(name.strip(), 0)
    return [types.SimpleNamespace(pid=int(pid), exitcode=int(code))]


def _worker_death_message(dead: list[Any], index: int | None, exc: BaseException) -> str:
    """Why batch ``index`` (``None``: a batch Lightning's loop drew) could not be drawn: ``dead`` workers exited."""
    codes = ", ".join(
        f"pid {w.pid}: " + (f"killed by signal {-w.exitcode}" if w.exitcode < 0 else f"exit code {w.exitcode}")
        for w in dead
    )
    batch = "a batch" if index is None else f"batch {index} of the pass"
    return (
        f"A DataLoader worker process exited while {batch} was drawn ({codes}; "
        f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): the Dataset's code in the worker "
        "crashed or was killed (a crash in a native library, os._exit or sys.exit, the out-of-memory killer, too "
        "little shared memory in a container). Draw the batches with num_workers=0 to see the error in this process."
    )


def _shut_down_workers(it: object) -> None:
    """Shut down a DataLoader iterator's workers; this also unregisters them from torch's SIGCHLD handler.

    Left registered, a dead worker's handler raised again later, while the error was being reported.
    """
    shutdown = getattr(it, "_shutdown_workers", None)
    if callable(shutdown):
        shutdown()


def _loader_iterator(exc: BaseException) -> object | None:
    """The DataLoader iterator with worker processes that ``exc`` was raised from, else ``None``.

    It is the ``self`` of a frame of ``exc``'s traceback.
    """
    tb = exc.__traceback__
    while tb is not None:
        it = tb.tb_frame.f_locals.get("self")
        if isinstance(getattr(it, "_workers", None), list) and callable(getattr(it, "_shutdown_workers", None)):
            return it
        tb = tb.tb_next
    return None


def worker_death(exc: BaseException, it: object, data: object, name: str, *, prefix: str = "") -> DataError | None:
    """The :class:`DataError` for ``exc`` where it says that a worker of ``it``, an iterator over ``data``, died.

    torch's SIGCHLD handler raises its bare "DataLoader worker (pid N) exited unexpectedly" wherever this process
    is when the worker exits: while a batch is drawn, or in the step on the batch before (its forward, loss,
    backward or optimizer step); a worker that died after queuing a batch leaves a bare ``ConnectionResetError``.
    Said as :func:`drawing_error` says it (``name``, ``prefix`` as there), and ``it``'s workers are shut down.
    ``None`` for any other error, and where none of ``it``'s workers died (another loader's worker did).
    """
    if it is None or not isinstance(exc, (RuntimeError, ConnectionError, EOFError)):
        return None
    if isinstance(exc, RuntimeError) and not str(exc).startswith("DataLoader worker (pid"):
        return None
    if not _dead_workers(it, exc):
        return None
    return drawing_error(exc, data, None, name, it=it, prefix=prefix)


def drawing_error(
    exc: BaseException, data: object, index: int | None, name: str, *, it: object = None, prefix: str = ""
) -> DataError | None:
    """What to raise for ``exc``, raised while batch ``index`` of ``data`` was drawn; ``None`` to let it through.

    torch's bare errors, said: a DataLoader worker that died ("DataLoader worker (pid(s) 123) exited
    unexpectedly", or a bare ``ConnectionResetError``), examples the default ``collate_fn`` cannot batch
    ("object of type 'NoneType' has no len()"), a Dataset's example that failed (Python's bare "KeyError: 40", or
    a worker's traceback as text, naming no Dataset: it is named as one ``in {name}``). ``index``: the batch's
    index in the pass, ``None`` where it is not known (Lightning's loop drew it). ``it``: the iterator drawn from,
    when the caller holds it, else the DataLoader iterator found in ``exc``'s traceback. ``prefix`` goes before the
    dead-worker and collate messages (``"val_data: "``).

    The iterator's workers are shut down before this returns: left to the garbage collector with the error's
    traceback (which holds the iterator), they lived on, and torch's shutdown waited 5 s on each of them; a dead
    worker's SIGCHLD handler also raised again later, while the error was being reported.
    """
    if it is None:
        it = _loader_iterator(exc)
    # No iterator to ask (torch's SIGCHLD handler raised in a step of Lightning's loop, which holds the iterator):
    # the worker's pid and exit as torch's words give them.
    dead = _dead_workers_said(exc) if it is None else _dead_workers(it, exc)
    why = _worker_death_message(dead, index, exc) if dead else collate_failure_message(exc, data, index)
    if why is not None:
        message = prefix + why
    else:
        failure = example_failure(exc, data)
        if failure is None:
            return None
        message = failure.message(f" in {name}")
    _shut_down_workers(it)
    return DataError(message)


def _in_default_collate(exc: BaseException) -> bool:
    """Whether ``exc`` was raised inside torch's ``default_collate``: here, or in a worker (its traceback quoted)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames and frames[-1].filename.replace("\\", "/").endswith("torch/utils/data/_utils/collate.py"):
        return True
    return "DataLoader worker" in str(exc) and "_utils/collate.py" in str(exc)


def collate_failure_message(exc: BaseException, data: object, index: int | None) -> str | None:
    """Why torch's default ``collate_fn`` could not make batch ``index`` of ``data``, or ``None`` for another error.

    Its errors name no example and no fix: "stack expects each tensor to be equal size, but got [4] at entry 0
    and [5] at entry 1" for examples of different shapes, "object of type 'NoneType' has no len()" for an example
    that is ``None`` (a Dataset that returns None for a record it cannot read). ``index``: the batch's index in
    the pass, ``None`` where it is not known (Lightning's loop drew it).
    """
    if not isinstance(data, torch.utils.data.DataLoader) or data.collate_fn is not torch.utils.data.default_collate:
        return None
    if not _in_default_collate(exc):
        return None
    text = str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # A worker's error quotes its traceback, ending in the original "TypeError: ..." line.
    why = f"{type(exc).__name__}: {re.sub(r'^[A-Za-z_.]*(Error|Exception): ', '', lines[-1]) if lines else ''}"
    if "NoneType" in text:
        fix = (
            "an example is None (a Dataset that returns None for a record it cannot read). Drop such examples in "
            "the Dataset, or in a collate_fn: lambda items: default_collate([i for i in items if i is not None])"
        )
    elif "equal size" in text or "must match" in text:
        fix = (
            "its examples have different shapes (sequences of different lengths, a record with a value more or "
            "less). Pad them to one shape in a collate_fn (torch.nn.utils.rnn.pad_sequence for sequences), or "
            "repair the odd examples"
        )
    elif "batch must contain" in text:
        # Its examples may all be alike, of a class of the user's (a record object) that it does not batch.
        fix = (
            "its examples are of a type it does not batch. Return tensors, numpy arrays, numbers, or dicts, lists "
            "and tuples of them from the Dataset, or pass a collate_fn that batches your examples"
        )
    else:
        fix = "its examples differ in type or structure. Make them alike, or pass a collate_fn that batches them"
    return (
        "The DataLoader's default collate_fn could not put the examples of "
        f"{'a batch' if index is None else f'batch {index} of the pass'} into one batch ({why}): {fix}."
    )


#: A DataLoader worker's error as torch re-raises it in this process: its type, the worker, then the quoted traceback.
_WORKER_ERROR = re.compile(r"^Caught \w+ in (DataLoader worker process \d+)\.")
#: A frame of a quoted traceback: its file, line and function.
_QUOTED_FRAME = re.compile(r'^\s*File "(.+?)", line (\d+), in (\S+)\s*$', re.M)


@dataclasses.dataclass(frozen=True)
class ExampleFailure:
    """A Dataset's ``__getitem__`` that raised while a batch was drawn (:func:`example_failure`).

    Attributes:
        dataset: The Dataset whose ``__getitem__`` raised (the innermost, under a ``Subset`` or another wrapper).
        index: The example's index; ``None`` where a DataLoader worker raised it (its error does not say).
        why: The error, ``"KeyError: 40"``.
        worker: ``"DataLoader worker process 1"`` where a worker raised it, else ``None``.
        length: The Dataset's ``__len__`` where its last example by that length fails with an ``IndexError``
            or ``KeyError`` too (it may hold fewer examples than it says), else ``None``.

    """

    dataset: Any
    index: Any
    why: str
    worker: str | None
    length: int | None

    def message(self, whose: str = "", end: str = ".") -> str:
        """What failed and what to do: ``The Dataset Records{whose} failed on example 40: KeyError: 40. Fix ...``.

        Args:
            whose: Where the Dataset came from, after its name (`` from --data my.data:train``).
            end: What ends the message (`` (run with --debug for the traceback).``).

        """
        name = type(self.dataset).__name__
        if self.worker is None:
            where = f"failed on example {self.index!r}"
        else:
            where = f"failed on an example in {self.worker}, which does not say which example"
        if self.length is not None:
            fix = (
                f"Its __len__ says {self.length}, and example {self.length - 1}, the last by that count, fails too: "
                "check __len__, which must count only the examples __getitem__ can give, as the sampler asks for "
                "every index below it"
            )
        else:
            fix = "Fix its __getitem__ for that example, or leave the example out"
        if self.worker is not None:
            fix += "; with num_workers=0 the error names the example"
        return f"The Dataset {name}{whose} {where}: {self.why}. {fix}{end}"


def _error_line(exc: BaseException) -> str:
    """``Type: message`` of ``exc``, its message's first line without a final period."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0].rstrip(".").rstrip() if lines else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def datasets_of(data: object) -> list[Any]:
    """The Dataset of DataLoader ``data`` and those it wraps (a ``Subset``'s ``.dataset``), outermost first.

    The ``.dataset`` chain is followed through a wrapper that is no ``Dataset`` (an object a DataLoader reads by
    ``__getitem__`` alone) to the Datasets inside it, and into a ``ConcatDataset``'s ``.datasets``.
    """
    found: list[Any] = []
    pending = [_wrapped(data)]
    for _ in range(64):  # wrappers in wrappers, bounded
        if not pending:
            break
        inner = pending.pop(0)
        if inner is None or any(inner is d for d in found):  # the end, or a chain that comes back (d.dataset = d)
            continue
        if isinstance(inner, torch.utils.data.Dataset):
            found.append(inner)
        pending.append(_wrapped(inner))
        members = _wrapped(inner, "datasets")  # a ConcatDataset's
        if isinstance(members, (list, tuple)):
            pending.extend(members)
    return found


def _wrapped(data: object, name: str = "dataset") -> Any:
    """``data.dataset`` (or ``name``), or ``None`` where it has none or reading it raises (a user property failing).

    The search runs while an error of the data is being explained: a ``.dataset`` that raised replaced that error
    with its own, which said nothing of the example that failed.
    """
    try:
        return getattr(data, name, None)
    except Exception:  # noqa: BLE001 - any error of the user's property: the chain ends there
        return None


def _defines_line(dataset: object, filename: str, line: int) -> bool:
    """Whether ``dataset``'s ``__getitem__`` is the function at ``filename``:``line`` (a quoted traceback's frame)."""
    code: CodeType | None = getattr(getattr(type(dataset), "__getitem__", None), "__code__", None)
    if code is None or code.co_filename != filename:
        return False
    lines = [n for _, _, n in code.co_lines() if n is not None]
    return code.co_firstlineno <= line <= max(lines, default=code.co_firstlineno)


def _failed_in_process(exc: BaseException) -> tuple[Any, Any] | None:
    """The Dataset whose ``__getitem__`` raised ``exc`` here and the index it was given: its innermost frame."""
    found = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        code = frame.f_code
        if code.co_name == "__getitem__" and code.co_argcount >= 2:
            owner = frame.f_locals.get(code.co_varnames[0])
            if isinstance(owner, torch.utils.data.Dataset):
                found = owner, frame.f_locals.get(code.co_varnames[1])
    return found


def _failed_in_worker(exc: BaseException, data: object) -> tuple[Any, str, str] | None:
    """The Dataset of ``data`` whose ``__getitem__`` raised ``exc`` in a DataLoader worker, the worker and the error.

    torch re-raises a worker's error as text, its traceback quoted: the Dataset is the one of ``data`` whose
    ``__getitem__`` is the innermost such frame. The index it was given is not in the text.
    """
    text = str(exc)
    worker = _WORKER_ERROR.match(text)
    if worker is None:
        return None
    frames = [(m[1], int(m[2])) for m in _QUOTED_FRAME.finditer(text) if m[3] == "__getitem__"]
    datasets = datasets_of(data)
    for filename, line in reversed(frames):
        for dataset in reversed(datasets):
            if _defines_line(dataset, filename, line):
                return dataset, worker[1], _quoted_error_line(text) or type(exc).__name__
    return None


def _quoted_error_line(text: str) -> str | None:
    """The first line of the error a quoted traceback ends in, ``Type: message`` without a final period.

    The line after the last frame that is not indented (a frame's source and caret lines are): a message of
    two lines ("bad record 40", then "see the log") was read by its last line ("see the log").
    """
    frames = list(_QUOTED_FRAME.finditer(text))
    rest = text[frames[-1].end() :] if frames else text
    for line in rest.splitlines():
        if line.strip() and not line[:1].isspace():
            return line.strip().rstrip(".").rstrip()
    return None


def _wrong_length(dataset: Any, exc: BaseException) -> int | None:
    """``len(dataset)`` where ``exc`` is an ``IndexError``/``KeyError`` and the last index below it fails so too.

    A Dataset whose ``__len__`` says more examples than it holds fails on an index past its end, which read as one
    bad example. Its last example by ``__len__`` is read (here, in this process) to tell the two apart, and its
    first: a ``__getitem__`` that fails on every index is not a matter of length.
    """
    if not isinstance(exc, (IndexError, KeyError)):
        return None
    try:
        size = len(dataset)
    except Exception:  # noqa: BLE001 - no usable length: nothing to say about it
        return None
    if not isinstance(size, int) or size < 2:
        return None
    try:
        dataset[0]
    except Exception:  # noqa: BLE001 - its first example fails too: not a length past what it holds
        return None
    try:
        dataset[size - 1]
    except (IndexError, KeyError):
        return size
    except Exception:  # noqa: BLE001 - another failure of that example says nothing about the length
        return None
    return None


def example_failure(exc: BaseException, data: object = None) -> ExampleFailure | None:
    """The Dataset example whose ``__getitem__`` raised ``exc`` while a batch of ``data`` was drawn, or ``None``.

    Python's bare error ("KeyError: 40") named neither the Dataset nor the example; from a DataLoader worker it
    was the worker's whole traceback, as text. Raised here, the Dataset and the index are read from the
    traceback's innermost ``__getitem__`` frame of a Dataset (a ``Subset`` hands its index on to the Dataset that
    failed); raised in a worker, the Dataset is the one of ``data`` (a DataLoader) whose ``__getitem__`` the quoted
    traceback ends in, and the index is not known.

    Args:
        exc: The error raised while the batch was drawn.
        data: The DataLoader it was drawn from (needed for a worker's error only).

    Returns:
        What failed, or ``None`` for another error (or one of lrfinder's own).

    """
    if isinstance(exc, LRFinderError):
        return None
    found = _failed_in_process(exc)
    if found is not None:
        dataset, index = found
        return ExampleFailure(dataset, index, _error_line(exc), None, _wrong_length(dataset, exc))
    in_worker = _failed_in_worker(exc, data)
    if in_worker is not None:
        dataset, worker, why = in_worker
        return ExampleFailure(dataset, None, why, worker, _wrong_length(dataset, exc))
    return None


def next_epoch(data: object) -> None:
    """Count up the epoch of every ``DistributedSampler`` below ``data``, as a training loop's ``set_epoch`` does.

    A ``DistributedSampler`` shuffles by its seed and epoch only, so a pass started again at the same epoch draws
    the same order: the range test's second pass would repeat its first, batch for batch, where a shuffling
    DataLoader on one process draws a new order. Every rank counts the same (they restart at the same step), so
    the shards stay disjoint. The snapshot puts the epoch back after the test (``snapshot._DataState``).
    """
    for obj in _data_holders(data):
        if isinstance(obj, torch.utils.data.distributed.DistributedSampler):
            obj.set_epoch(obj.epoch + 1)


class CyclingBatches:
    """Cycles through an iterable of batches, starting it again when it runs out (logged once, at INFO).

    :meth:`next` returns ``(batch, batch_idx)``, the index counting from 0 within each pass.
    Subclasses may override :meth:`_unwrap` to adapt what the iterator yields.
    """

    #: What a one-shot iterator that ran out is told to pass instead: a subclass whose data is read another way
    #: (Lightning's, where a list is several loaders) says its own.
    RESTARTABLE = "a DataLoader, a list of batches or another re-iterable"
    #: The data, as an error names the Dataset it holds ("The Dataset Records in train_data failed on ...").
    DATA = "train_data"

    def __init__(self, data: Iterable[Any]) -> None:
        self.data = data
        self._it: Iterator[Any] | None = None
        self._idx = 0
        self._passes = 0  # passes completed
        #: How many batches the first pass yielded, once it has ended (``None`` before): the length of data without one.
        self.first_pass: int | None = None
        self._made: object | None = None  # a persistent-workers iterator the first pass left on the loader
        #: The IterableDataset (its class name) that handed out an iterator it keeps (:func:`kept_stream`).
        self.kept_stream: str | None = None
        self._held = held_iterators(data)  # its iterators before the first iter(), compared at that one only

    def _start(self) -> Iterator[Any]:
        before = _iterator_of(self.data)
        it = own_iterator(self.data, self._made)
        if before is None:
            self._made = _iterator_of(self.data)
        if self._held:
            self.kept_stream = kept_stream(self.data, it, self._held)
            self._held = []
        return it

    def _unwrap(self, item: Any) -> Any:
        return item

    def _draw(self, it: Iterator[Any]) -> Any:
        """``next(it)``; a DataLoader worker that died, or an example that failed, is a :class:`DataError`.

        The iterator's workers are shut down with it, before the error is raised (:func:`drawing_error`).
        """
        try:
            return next(it)
        except StopIteration:
            raise
        except Exception as exc:
            error = drawing_error(exc, self.data, self._idx, self.DATA, it=it)
            if error is None:
                raise
            self._it = None
            raise error from exc

    def worker_death(self, exc: BaseException) -> DataError | None:
        """The :class:`DataError` for ``exc`` where it is torch's word that a worker of the iterator drawn from died.

        torch's SIGCHLD handler raises it wherever this process is when the worker exits: mostly in the step that
        runs on the batch before (its forward, loss, backward or optimizer step), not while a batch is drawn. The
        iterator's workers are shut down (:func:`drawing_error`). ``None`` for any other error.
        """
        error = worker_death(exc, self._it, self.data, self.DATA)
        if error is not None:
            self._it = None
        return error

    def next(self) -> tuple[Any, int]:
        """The next batch and its index in the current pass.

        Raises:
            DataError: The data yields no batch at all, or a one-shot iterator (a generator) ran
                out and cannot be started again.

        """
        if self._it is None:
            self._it = self._start()
        try:
            batch = self._unwrap(self._draw(self._it))
        except StopIteration:
            used = self._idx
            next_epoch(self.data)
            self._it = self._start()
            self._idx = 0
            try:
                batch = self._unwrap(self._draw(self._it))
                if not self._passes:
                    self.first_pass = used
                    # Batches repeat from here on: fine for a range test, but worth knowing on a tiny dataset.
                    logger.info(
                        "The training data ran out after %d batches; starting it again (its batches are used "
                        "again from here on).",
                        used,
                    )
                self._passes += 1
            except StopIteration:
                if used and isinstance(self.data, torch.utils.data.DataLoader):
                    # Not a one-shot iterator: a DataLoader whose sampler or IterableDataset gives its items once.
                    dataset = self.data.dataset
                    source = (
                        f"its IterableDataset ({type(dataset).__name__})"
                        if isinstance(dataset, torch.utils.data.IterableDataset)
                        else "its sampler (or batch_sampler)"
                    )
                    raise DataError(
                        f"The training DataLoader ran out after {used} batches and gave none when started again: "
                        f"{source} yields its items only once (an iterator kept from the first pass, a stream read "
                        "to its end), and the range test cycles its data. Make its __iter__ start over each time it "
                        f"is called, or plan at most {used} batches (num_steps x accumulation)."
                    ) from None
                if used:  # it gave batches once and none now: a one-shot iterator
                    raise DataError(
                        f"The training data ran out after {used} batches and cannot be restarted: it is a one-shot "
                        f"iterator (e.g. a generator), and the range test cycles its data. Pass {self.RESTARTABLE}, "
                        f"or plan at most {used} batches (num_steps x accumulation)."
                    ) from None
                raise DataError(empty_data_message(self.data)) from None
        idx = self._idx
        self._idx += 1
        return batch, idx


def infer_batch_size(data: object, batch: Any = None) -> int | None:
    """Batch size of ``data``: its ``batch_size`` attribute, else the leading dim of ``batch``.

    Of an ``(inputs, targets, ...)`` batch whose inputs are sequence-first (``(T, N, F)``, with
    every other item's leading dim ``N``), it is ``N``, not the sequence length ``T``.
    Of one whose inputs are a list of ``N`` tensors, one per example (point sets or sequences of
    their own sizes, as a ``collate_fn`` keeps them), with every other item's leading dim ``N``,
    it is ``N``, not the first example's length.
    Of one whose inputs are a ``PackedSequence`` (``pack_sequence`` in an RNN's ``collate_fn``), it is
    the number of sequences, ``batch_sizes[0]``, not the total of their lengths (``data``'s leading dim).
    A DataLoader whose ``batch_size`` is larger than its sampler (its data) gives batches of
    the whole data: their size is the sampler's length, not ``batch_size``.
    An ``(x, y)`` whose target ``y`` is 0-dim is one example (``DataLoader(batch_size=None)``): 1; so is
    one of a 1-dim ``x`` and a 1-dim ``y`` of another length (features and regression targets).
    """
    size = getattr(data, "batch_size", None)
    if isinstance(size, int) and not isinstance(size, bool):
        try:
            return min(size, len(data.sampler))  # type: ignore[attr-defined]
        except (AttributeError, TypeError):  # no sampler, or one without a length (an IterableDataset)
            return size
    if batch is None:
        return None
    first = _first_leaf(batch)
    if isinstance(first, PackedSequence):
        # Its data is every sequence's steps end to end: that leading dim, the total of the lengths, was reported (and
        # scaled from) as the batch size, and varied from batch to batch. The sequences at the first step are all.
        return int(first.batch_sizes[0]) if first.batch_sizes.numel() else 0
    if not (isinstance(first, torch.Tensor) and first.dim() > 0):
        return None
    if first.is_nested:
        # torch.nested's examples of their own sizes: dim 0 counts them. A strided one refuses .shape ("Internal error:
        # NestedTensorImpl doesn't support sizes"), raised from here as the range test's first batch was sized.
        return int(first.size(0))
    size = int(first.shape[0])
    target = batch[1] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
    if isinstance(target, torch.Tensor) and target.dim() == 0:
        # One example, not a batch: an (x, y) whose target is 0-dim, as DataLoader(batch_size=None) over a Dataset of
        # examples gives it. The leading dim of x, its features, was reported (and scaled from) as the batch size.
        return 1
    if isinstance(target, torch.Tensor) and target.dim() == 1 and first.dim() == 1 and batch[0] is first:
        if int(target.shape[0]) != size:
            # One example of F features and K regression targets, (F,) and (K,): a batch of N pairs its N inputs
            # with N targets. x's F was reported as the batch size, as of a 0-dim target above.
            return 1
    head = batch[0] if isinstance(batch, (tuple, list)) and len(batch) > 1 else None
    if isinstance(head, (tuple, list)) and head and all(isinstance(item, torch.Tensor) for item in head):
        # Inputs as a list of per-example tensors: the first leaf is one example (a set of its points), whose
        # length weighted a curve="val" batch and was reported as the batch size; the list's length is the batch.
        rest = {int(item.shape[0]) for item in batch[1:] if isinstance(item, torch.Tensor) and item.dim() > 0}
        if rest == {len(head)}:
            return len(head)
    if isinstance(batch, (tuple, list)) and len(batch) > 1 and first.dim() > 1:
        # Sequence-first inputs (``batch_first=False``, an LSTM's or a Transformer's default):
        # ``(x, y)`` with ``x`` of ``(T, N, F)`` and ``y`` of ``(N,)``. The leading dim of ``x`` is
        # the time; every other item's leading dim, equal to ``x``'s second, is the batch.
        rest = {int(item.shape[0]) for item in batch[1:] if isinstance(item, torch.Tensor) and item.dim() > 0}
        if len(rest) == 1 and size not in rest and int(first.shape[1]) in rest:
            return int(first.shape[1])
    return size


def _first_leaf(batch: Any) -> Any:
    """Down the first element of nested tuples, lists, dicts and dataclasses to a leaf.

    ``(x, y)``, ``{"x": x}``, a dict of several loaders' batches (``{"a": (x, y), "b": (x, y)}``)
    and ``Batch(x=x, y=y)`` all give ``x``; a ``PackedSequence`` is a leaf, not a tuple to descend.
    """
    first = batch
    while True:
        if isinstance(first, torch.Tensor):  # the usual leaf, said at once: the checks below cost a step 1 us
            return first
        if isinstance(first, PackedSequence):  # a tuple of the sequences' steps, a leaf of its own
            return first
        if isinstance(first, (tuple, list, Mapping)) and first:
            first = next(iter(first.values())) if isinstance(first, Mapping) else first[0]
        elif dataclasses.is_dataclass(first) and not isinstance(first, type) and dataclasses.fields(first):
            first = getattr(first, dataclasses.fields(first)[0].name)  # a dataclass batch: its first field
        else:
            return first

