"""The range-test engine: sweep the LR, record the loss, stop on divergence, restore everything.

The engine knows nothing about Lightning. Its pieces are public so the callback can drive the
same loop with its own step function:

* :func:`lr_schedule`: the LR at each step;
* :class:`DivergenceMonitor`: the online stop rule;
* :class:`LRSweeper`: sets the LR of every param group of one or more optimizers, keeping their
  ratios;
* :class:`StateSnapshot`: an in-memory snapshot of model, optimizers, RNGs and data order;
* :func:`run_sweep`: the loop (LR, step, record, stop), with Ctrl-C handling;
* :func:`range_test`: all of it for a plain PyTorch model, returning a :class:`RangeTestResult`.

References:
    Smith, "Cyclical Learning Rates for Training Neural Networks", 2017, arXiv:1506.01186.

"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import inspect
import json
import logging
import math
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar, cast, get_args

import numpy as np
import torch
from torch import nn
from torch.nn.parameter import is_lazy

from ._atomic import atomic_write_text
from ._checks import (
    caller_stacklevel,
    check_flag,
    check_module_initialised,
    is_choice,
    is_int,
    is_not_a_sequence,
    is_real,
    is_single_number,
    plain,
    sentence,
    single_number_note,
    text_or_bool_at,
    text_or_bool_message,
)
from ._text import read_text
from .analysis import DEFAULT_RULE, MIN_POINTS, Rule, Suggestion, analyze
from .exceptions import DataError, LRFinderError, ModelError, RefineInterrupted
from .names import (
    GRADIENT_CLIP_ALGORITHMS,
    PEER_OPTION_NAMES,
    PRECISIONS,
    RECORDED_PRECISIONS,
    RULES,
    SWEEP_MODE_ALIASES,
    SWEEP_MODES,
    GradientClipAlgorithm,
    Precision,
    RecordedPrecision,
    SweepMode,
    did_you_mean,
    did_you_mean_each,
    peer_notes,
)
from .noise import NoiseProbe, NoiseScale, noise_after_sweep
from .refine import Refine, Refinement  # at run time too, for typing.get_type_hints (refine imports no engine)
from .scaling import ScaledLR, ScalingRule, scale_lr
from .snapshot import StateSnapshot, _iterator_of, own_iterator
from .stepping import (
    StepClosure,
    _needs_closure,
    autocast,
    caller_autocast,
    check_steps_without_closure,
    clip_gradients,
    make_reevaluate,
    outside_step_hooks,
    steps_alike_without_closure,
    takes_closure,
    train_modes,
    training_grad_mode,
    with_loss_module,
)

__all__ = [
    "StopReason",
    "STOP_REASONS",
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
#: Version of the JSON schema written by :meth:`RangeTestResult.to_json`.
SCHEMA_VERSION = 1
#: The most steps a sweep may plan (:func:`lr_schedule`, :func:`range_test`): a range test needs hundreds, and
#: the plan and the curve are kept in memory; ``num_steps=1e9`` allocated 8 GB before the first step.
MAX_SWEEP_STEPS = 1_000_000


# --------------------------------------------------------------------------------------------
# Settings and result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RangeTestSettings:
    """The settings a range test ran with (see :func:`range_test` for their meaning)."""

    min_lr: float = 1e-7
    max_lr: float = 10.0
    num_steps: int = 100
    mode: SweepMode = "exp"
    stop_factor: float | None = 4.0
    accumulate_steps: int = 1
    #: ``range_test``'s precision, or the ``Trainer``'s for the callback (:data:`RecordedPrecision`).
    precision: RecordedPrecision = "32"
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: GradientClipAlgorithm = "norm"

    def __post_init__(self) -> None:
        """Check every setting as :func:`range_test` does, and store numpy numbers and 0-d tensors as Python ones.

        A plan as short as 2 steps is allowed (:func:`lr_schedule`'s minimum; ``range_test`` asks
        for 10), and any non-empty precision name (the callback records the Trainer's).

        Raises:
            TypeError: A setting of the wrong type (``min_lr="1e-5"``).
            ValueError: A setting out of range, named with the rule and the value.

        """
        # 0-d tensors and numpy scalars (torch.tensor(1e-3), np.int64(100)) as the Python numbers they hold.
        for name in ("min_lr", "max_lr", "num_steps", "stop_factor", "accumulate_steps", "gradient_clip_val"):
            object.__setattr__(self, name, plain(getattr(self, name)))
        _check_sweep(self.min_lr, self.max_lr, self.num_steps, self.mode, min_steps=2)
        _check_stop_factor(self.stop_factor)
        if not is_int(self.accumulate_steps) or self.accumulate_steps < 1:
            raise ValueError(
                f"Expected accumulate_steps to be an int >= 1, but got accumulate_steps={self.accumulate_steps!r}"
            )
        if not (isinstance(self.precision, str) and self.precision):
            raise TypeError(
                f"Expected precision to be a precision name such as {', '.join(RECORDED_PRECISIONS[:3])}, but got "
                f"precision={self.precision!r}"
            )
        check_gradient_clipping(self.gradient_clip_val, self.gradient_clip_algorithm)
        # np.float32 and friends pass the checks but not json.dumps: to_json failed on them.
        for name in ("min_lr", "max_lr", "stop_factor", "gradient_clip_val"):
            value = getattr(self, name)
            if value is not None and type(value) is not float:
                object.__setattr__(self, name, float(value))
        for name in ("num_steps", "accumulate_steps"):
            if type(getattr(self, name)) is not int:
                object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def precision_words(self) -> str | None:
        """``"precision bf16-mixed"`` when the test did not run in full float32, else ``None``."""
        return None if self.precision in ("32", "32-true") else f"precision {self.precision}"

    @property
    def clipping(self) -> str | None:
        """The gradient clipping in words (``"clipped to norm 1"``), ``None`` without clipping."""
        if self.gradient_clip_val is None:
            return None
        return f"clipped to {self.gradient_clip_algorithm} {self.gradient_clip_val:g}"


_AUTOCAST_DTYPES: dict[str, torch.dtype] = {"bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def _check_precision(precision: str, device: torch.device, grad_scaler: Any) -> torch.dtype | None:
    """Check that ``precision`` (one of :data:`PRECISIONS`) and ``grad_scaler`` can run on ``device``.

    Returns the autocast dtype, ``None`` for ``"32"``.

    An autocast that torch cannot honour is an error rather than a silent full-precision test:
    torch only warns and turns autocast off for a dtype the device lacks.
    """
    if grad_scaler is not None and precision != "16-mixed":
        raise ValueError(f"Expected precision='16-mixed' with a grad_scaler, but got precision={precision!r}")
    dtype = _AUTOCAST_DTYPES.get(precision)
    if dtype is None:
        return None
    fix = (
        "Use precision='16-mixed' (float16 with a GradScaler) or '32'."
        if precision == "bf16-mixed"
        else "Use precision='bf16-mixed' or '32'."
    )
    try:
        with warnings.catch_warnings():
            # torch warns and disables autocast for a dtype the device lacks: checked below instead.
            warnings.simplefilter("ignore")
            with torch.autocast(device_type=device.type, dtype=dtype):
                enabled = torch.is_autocast_enabled(device.type)
    except RuntimeError as exc:  # no autocast on this device type, or no bfloat16 on this GPU
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"precision={precision!r} is not supported on device {device} ({why}). {fix}") from exc
    if not enabled:
        why = f"torch {torch.__version__} has no {dtype} autocast on {device.type}"
        raise ValueError(f"precision={precision!r} is not supported on device {device} ({why}). {fix}")
    if precision == "16-mixed":
        scaler_class = getattr(getattr(torch, "amp", None), "GradScaler", None)
        if scaler_class is None:
            raise ValueError(
                f"precision='16-mixed' needs torch.amp.GradScaler (torch>=2.3), but torch is {torch.__version__}. "
                "Upgrade torch or use precision='bf16-mixed'."
            )
        if grad_scaler is not None:
            if not isinstance(grad_scaler, scaler_class):
                name = type(grad_scaler).__name__
                raise TypeError(f"Expected grad_scaler to be a torch.amp.GradScaler, but got {name}")
            scaler_device = getattr(grad_scaler, "_device", device.type)
            if scaler_device != device.type:
                raise ValueError(
                    f"Expected a grad_scaler for device {device.type!r} (the model's), but got one for "
                    f"{scaler_device!r}. Create it as torch.amp.GradScaler({device.type!r})."
                )
    return dtype


#: Lightning's other spellings of the precisions the test runs (``Trainer(precision=32)``), and the name each means.
_PRECISION_ALIASES: dict[object, str] = {
    32: "32", "32-true": "32", 16: "16-mixed", "16": "16-mixed", "bf16": "bf16-mixed", "16-true": "16-mixed",
    "bf16-true": "bf16-mixed",
}


def check_precision_name(precision: object) -> None:
    """Refuse a precision that is not one of :data:`PRECISIONS` (``"32"``, ``"bf16-mixed"``, ``"16-mixed"``).

    The names are strings: Lightning's other spellings (``32``, ``"bf16"``, ``16``) are told the one to pass.
    """
    if not is_choice(precision, PRECISIONS):
        alias = _PRECISION_ALIASES.get(precision) if isinstance(precision, (int, str)) else None
        hint = f": pass precision={alias!r}" if alias is not None and not isinstance(precision, bool) else ""
        if hint and isinstance(precision, str) and precision.endswith("-true") and alias != "32":
            # Not the same thing: "-true" casts the weights to half precision, "-mixed" autocasts float32 weights.
            hint += (
                f", the nearest the test runs: it autocasts the forward pass to half precision and keeps the float32 "
                f"weights, where {precision!r} casts the weights themselves"
            )
        raise ValueError(
            f"Expected precision to be one of {', '.join(map(repr, PRECISIONS))}, but got precision={precision!r}{hint}"
        )


def check_gradient_clipping(gradient_clip_val: object, gradient_clip_algorithm: object) -> None:
    """Refuse a clipping threshold that is not a finite number > 0 (or ``None``), or an unknown algorithm.

    Raises:
        TypeError: ``gradient_clip_val`` is not a number.
        ValueError: ``gradient_clip_val`` is not finite and > 0, or ``gradient_clip_algorithm`` is
            not ``"norm"`` or ``"value"``.

    """
    if not is_choice(gradient_clip_algorithm, GRADIENT_CLIP_ALGORITHMS):
        raise ValueError(
            f"Expected gradient_clip_algorithm to be {' or '.join(map(repr, GRADIENT_CLIP_ALGORITHMS))}, but got "
            f"gradient_clip_algorithm={gradient_clip_algorithm!r}"
        )
    gradient_clip_val = plain(gradient_clip_val)
    if gradient_clip_val is None:
        return
    if not is_real(gradient_clip_val):
        raise TypeError(
            f"Expected gradient_clip_val to be a number or None, but got gradient_clip_val={gradient_clip_val!r}"
        )
    value = float(cast(float, gradient_clip_val))
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"Expected gradient_clip_val > 0 and finite (or None for no clipping), but got "
            f"gradient_clip_val={gradient_clip_val}"
        )


def check_callable(name: str, value: object, example: str, arity: int | None = None) -> None:
    """Refuse a function argument that cannot be called, before anything runs (``example`` shows one).

    A module class (``loss_fn=nn.CrossEntropyLoss``) is callable too, but calling it builds a
    module from the arguments (torch then fails on the ``reduction`` check with "Boolean value of
    Tensor ... is ambiguous"): it is refused here, naming the instance to pass. With ``arity``, a
    function whose signature cannot take that many positional arguments is refused too: an
    ``on_step=lambda lr: ...`` failed mid-sweep with "<lambda>() takes 1 positional argument but 3
    were given", naming neither the argument nor what it is called with.
    """
    if value is not None and not callable(value):
        raise TypeError(f"Expected {name} to be callable ({example}), but got {name}={value!r}")
    if arity is not None and value is not None and not isinstance(value, type):
        try:
            signature = inspect.signature(value)
        except (TypeError, ValueError):  # a builtin without a signature: called as it is
            signature = None
        if signature is not None:
            try:
                signature.bind(*([None] * arity))
            except TypeError as exc:
                raise TypeError(
                    f"Expected {name} to take {arity} positional argument{'s' if arity != 1 else ''} ({example}), "
                    f"but its signature is {signature} ({exc})"
                ) from None
    if isinstance(value, type) and issubclass(value, torch.optim.Optimizer):
        raise TypeError(
            f"Expected {name} to be callable ({example}), but got the optimizer class {value.__name__}. Pass a "
            f"function that builds it: {name}=lambda m: {value.__name__}(m.parameters(), lr=...)"
        )
    if isinstance(value, type) and issubclass(value, nn.Module):
        raise TypeError(
            f"Expected {name} to be a function or a module instance ({example}), but got the class "
            f"{value.__name__}. Pass an instance: {name}={value.__name__}()"
        )


def check_iterable(name: str, value: object) -> None:
    """Refuse data that is not an iterable of batches (``None``, a number).

    Only the type is looked at: ``iter()`` on a shuffling DataLoader would draw from its RNG. A numpy
    scalar, a 0-d array or a 0-d tensor is a number too, though its type has ``__iter__`` or
    ``__getitem__`` (it failed later with "iteration over a 0-d tensor" or "'numpy.float64' object is
    not iterable").
    """
    zero_d = is_single_number(value)
    if zero_d or not (hasattr(type(value), "__iter__") or hasattr(type(value), "__getitem__")):
        raise TypeError(
            f"Expected {name} to be an iterable of batches (e.g. a torch DataLoader), but got {type(value).__name__}"
            + (f" {value!r:.40}, a single number" if zero_d else "")
        )


def check_not_a_dataset(name: str, value: object) -> None:
    """Refuse a map-style ``Dataset`` given where batches are expected.

    Its items are single examples (a DataLoader makes the batches): iterated as batches, a
    ``TensorDataset`` of ``(x, y)`` rows ran the test one example at a time and reported the
    feature count as the batch size. An ``IterableDataset`` may yield batches and passes.

    Raises:
        DataError: ``value`` is a ``torch.utils.data.Dataset`` that is not an ``IterableDataset``.

    """
    if isinstance(value, torch.utils.data.Dataset) and not isinstance(value, torch.utils.data.IterableDataset):
        raise DataError(
            f"{name} is a {type(value).__name__}, a Dataset: its items are single examples, not batches. Pass a "
            f"DataLoader over it: DataLoader({name}, batch_size=64, shuffle=True) (batch_size=None if its items are "
            "already batches)."
        )


def _array_words(value: Any) -> str:
    """A tensor or numpy array in a few words: ``float32 (64, 4)``, ``float64 (64, 4) numpy array``."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {tuple(value.shape)} numpy array"
    return _describe(value)


def check_not_a_tensor_pair(name: str, value: object, fix: str | None = None) -> None:
    """Refuse the whole data given in a form that, iterated, gives no batches (checked without ``step_fn``).

    - An ``(inputs, targets)`` pair of tensors or numpy arrays: iterated, ``(x, y)`` gives ``x`` and then
      ``y`` as batches of their own (the test failed on the first with "Cannot use batches of type a
      Tensor"; numpy's pair, sklearn's ``return_X_y=True``, said "a ndarray").
    - A single tensor or array, which gives its rows, or a dict of them (``{"x": x, "y": y}``), which
      gives its keys: "Cannot use batches of type a str".
    - A string (a file name): its characters.
    - A list or tuple whose first item is not a batch (a pair or a dict): for ``train``'s ``val_data``,
      first read after a whole epoch of training, the model was trained and then the call failed.

    Only checked without ``step_fn`` (a ``step_fn`` may take single-tensor batches). ``fix``: what the
    caller's API offers for other batch formats (default: ``range_test``'s ``step_fn``).

    Raises:
        DataError: ``value`` is one of those; the message says what to pass instead.

    """
    arrays = (torch.Tensor, np.ndarray)
    loader = "DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)"
    if isinstance(value, (str, bytes)):
        raise DataError(
            f"{name} is a {type(value).__name__}, {value!r:.60}: iterated, it gives its characters, not batches. "
            f"Load the data and pass a DataLoader over it, e.g. {loader} (lrfind's --data reads files)."
        )
    if isinstance(value, arrays) and value.ndim >= 1:
        raise DataError(
            f"{name} is a single {_array_words(value)}: iterated, it gives its rows, one example each and without "
            f"targets, not batches. Pass the inputs with their targets y as {loader}, or [(x, y)] for one batch."
        )
    if isinstance(value, Mapping) and value:
        keys = ", ".join(repr(k) for k in list(value)[:6])
        raise DataError(
            f"{name} is a {type(value).__name__} (keys {keys}): iterated, it gives its keys, not batches. For the "
            f"whole data as arrays, pass {loader}; for a single dict batch, [batch]."
        )
    if not isinstance(value, (tuple, list)) or not value:
        return
    if len(value) == 2:
        x, y = value
        if isinstance(x, arrays) and isinstance(y, arrays) and x.ndim >= 1 and y.ndim >= 1 and len(x) == len(y):
            if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
                what, how = "tensors", loader
            else:
                what = "arrays"
                how = (
                    "DataLoader(TensorDataset(torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)), "
                    "batch_size=64, shuffle=True) (numpy's float64 as the model's float32)"
                )
            raise DataError(
                f"{name} is a {type(value).__name__} of two {what}, {_array_words(x)} and {_array_words(y)}: iterated, "
                f"it gives each as a batch of its own. For the whole data as (inputs, targets), pass {how}, or "
                "[(x, y)] for a single batch."
            )
    first = value[0]
    if not isinstance(first, (tuple, list, Mapping)):
        raise DataError(
            f"{name}[0] is a {type(first).__name__}, not a batch: {name} as a list is read as a list of batches, "
            f"(inputs, targets) pairs or dicts with input/target keys. {fix or _STEP_FN_FIX}"
        )


def device_unavailable(device: torch.device) -> str | None:
    """Why ``device`` cannot be used on this machine (no CUDA, no such GPU, no MPS), or ``None`` when it can."""
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "CUDA is not available on this machine"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            names = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
            return f"this machine has {count} CUDA device{'s' if count != 1 else ''} ({names})"
    if device.type == "mps" and not torch.backends.mps.is_available():
        return "MPS is not available on this machine"
    return None


#: Operations whose train flag a trace freezes, and the index of that flag among their inputs.
_TRAIN_FLAGS = {
    "aten::batch_norm": 5,
    "aten::instance_norm": 5,
    "aten::dropout": 2,
    "aten::feature_dropout": 2,
    "aten::alpha_dropout": 2,
    "aten::feature_alpha_dropout": 2,
}


def traced_in_eval_mode(model: nn.Module) -> list[str]:
    """The TorchScript modules in ``model`` traced in eval mode: their dropout or batch norm is frozen off.

    ``torch.jit.trace`` records the mode the module was in as constants: traced after
    ``model.eval()`` (a model exported for inference), its dropout and batch norm keep running as
    in evaluation whatever ``.train()`` sets, so a range test (or training) of it is not the one of
    the Python model. Found in the module's inlined graph: a train flag that is a constant
    ``False`` (a scripted module reads ``self.training`` instead). Not counted, as the trace runs
    them as the Python module would: a dropout of constant ``p=0`` (what eval mode leaves of it is
    all it did), and a traced module whose parameters are all frozen (``requires_grad=False``: a
    feature extractor kept in eval mode on purpose). Names as ``model.named_modules`` gives them
    (``""`` for the model itself).
    """
    found: list[str] = []
    inside: set[int] = set()
    for name, module in model.named_modules():
        if id(module) in inside or not isinstance(module, torch.jit.ScriptModule):
            continue
        try:
            graph = module.inlined_graph
        except (AttributeError, RuntimeError):  # no forward (a container of script modules): its own are looked at
            continue
        inside.update(id(m) for m in module.modules())
        params = list(module.parameters())
        if params and not any(p.requires_grad for p in params):
            continue
        for node in graph.nodes():
            index = _TRAIN_FLAGS.get(node.kind())
            if index is None:
                continue
            inputs = list(node.inputs())
            if not _is_constant(inputs[index], False):
                continue
            if "dropout" in node.kind() and _is_constant(inputs[1], 0.0):
                continue  # p=0: the same in either mode
            found.append(name)
            break
    return found


def traced_in_eval_message(names: Sequence[str], what: str = "The model") -> str:
    """What :func:`traced_in_eval_mode`'s findings are told (the first module named); ``what`` names the model."""
    where = f"{what} was" if names[0] == "" else f"{what}'s submodule {names[0]} was"
    return (
        f"{where} traced in eval mode (torch.jit.trace after model.eval()): its dropout or batch norm is frozen in "
        "evaluation mode in the trace, whatever mode the range test (or training) sets, so the curve is not the one "
        "the model trains along. Trace it in train mode (model.train() before torch.jit.trace), or script it "
        "(torch.jit.script), unless training it that way is what you mean."
    )


def _is_constant(value: torch._C.Value, expected: object) -> bool:
    """Whether a TorchScript graph value is a ``prim::Constant`` equal to ``expected``."""
    node = value.node()
    if node.kind() != "prim::Constant" or not node.hasAttribute("value"):
        return False
    return bool(value.toIValue() == expected)


def check_device(name: str, device: object) -> torch.device | None:
    """``device`` as a ``torch.device`` (``None`` stays ``None``), or a ``ValueError`` naming ``name``.

    A device this machine does not have (CUDA without a GPU, ``cuda:1`` with one GPU) is refused here,
    not by the first tensor moved to it.
    """
    if device is None:
        return None
    if isinstance(device, torch.device):
        parsed = device
    else:
        try:
            parsed = torch.device(device)  # type: ignore[call-overload]
        except (RuntimeError, TypeError, ValueError):
            raise ValueError(
                f"Expected {name} to be a torch device such as 'cpu', 'cuda', 'cuda:1' or 'mps', "
                f"but got {name}={device!r}"
            ) from None
    reason = device_unavailable(parsed)
    if reason is not None:
        raise ValueError(f"Cannot use {name}={str(parsed)!r}: {reason}. Pick a device it has, e.g. {name}='cpu'.")
    return parsed


def trainable_parameters(model: object) -> list[nn.Parameter]:
    """The parameters of ``model`` that require grad, but for an ``AveragedModel``'s EMA/SWA copies.

    An ``AveragedModel`` submodule's copies require grad (it deep-copies the model) but are set by
    ``update_parameters``, never trained (:func:`lrfinder.optimizers.averaged_copies`): they are
    not in the default optimizer nor in ``num_parameters``. The snapshot still restores them.

    Raises:
        TypeError: ``model`` is not a ``torch.nn.Module``.
        ModelError: It has no parameters, none of them requires grad, or trainable ones are
            inference tensors (made under ``torch.inference_mode()``).

    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"Expected model to be a torch.nn.Module, but got {type(model).__name__}")
    check_module_initialised("model", model)
    parameters = list(model.parameters())
    if not parameters:
        name = getattr(model, "original_name", None) or type(model).__name__  # TorchScript keeps the class name there
        raise ModelError(
            f"The model ({name}) has no parameters at all, so there is nothing to train. Check that "
            "it is the network you meant to tune."
        )
    from .optimizers import averaged_copies, no_trainable_message

    averaged = averaged_copies(model)
    trainable = [p for p in parameters if p.requires_grad and id(p) not in averaged]
    if not trainable:
        raise ModelError(no_trainable_message("The model", model, averaged))
    inference = [p for p in trainable if not is_lazy(p) and p.is_inference()]
    if inference:
        names = {id(p): n for n, p in model.named_parameters()}
        first = names.get(id(inference[0]), "?")
        raise ModelError(
            f"{len(inference)} of the model's trainable parameters (first: {first}) are inference tensors, made under "
            "torch.inference_mode(): torch cannot update them in place outside it, so they cannot be trained. Build or "
            "load the model outside torch.inference_mode() (under torch.no_grad() if you must)."
        )
    return trainable


def check_optimizer_of(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Refuse an optimizer over parameters that are not ``model``'s (it would step nothing the loss uses).

    Raises:
        ModelError: Some parameter of the optimizer is not one of the model's.

    """
    model_params = {id(p) for p in model.parameters()}
    foreign = sum(1 for g in optimizer.param_groups for p in g["params"] if id(p) not in model_params)
    if foreign:
        raise ModelError(
            f"The optimizer holds {foreign} parameter(s) that are not the model's. Create the optimizer "
            "from this model's parameters (model.parameters()). If they are a loss's own (a learnable "
            "temperature), pass that loss module itself as loss_fn."
        )


def check_optimizer_trains(optimizer: torch.optim.Optimizer) -> None:
    """Refuse an optimizer whose parameters are all frozen (none requires grad).

    No step would change the model: the sweep would record the loss of an unchanging model, and
    the curve would read as "never falls, raise max_lr".

    Raises:
        ModelError: The optimizer holds parameters and none of them requires grad.

    """
    params = [p for g in optimizer.param_groups for p in g["params"]]
    if params and not any(p.requires_grad for p in params):
        raise ModelError(
            f"None of the optimizer's {len(params)} parameter(s) requires grad (they are frozen), so no step would "
            "change the model and the curve would be flat. Create the optimizer over the trainable parameters "
            "([p for p in model.parameters() if p.requires_grad]), or unfreeze the ones it holds."
        )


def check_minimizes(optimizer: torch.optim.Optimizer, where: str = "in loss_fn or step_fn") -> None:
    """Refuse an optimizer with a param group that maximizes (``maximize=True``: gradient ascent).

    The range test reads a falling loss as learning and a loss far above its best as divergence;
    an objective the optimizer climbs rises as the model learns, so the curve would read backwards
    (its rise taken for a blow-up, no fall found). Negating the objective and minimizing takes the
    same steps: ``-lr * grad(-f)`` is ``lr * grad(f)``, for every ``torch.optim`` optimizer.

    Args:
        optimizer: The optimizer to sweep.
        where: Where the caller's loss is made, for the message (``"in training_step"``).

    Raises:
        ValueError: A param group has ``maximize`` set.

    """
    for i, group in enumerate(optimizer.param_groups):
        # Truthy, as torch's optimizers read it (maximize=1 climbs as maximize=True does).
        if group.get("maximize"):
            name = type(optimizer).__name__
            raise ValueError(
                f"Expected an optimizer that minimizes the loss, but param group {i} of {name} has "
                f"maximize={group['maximize']!r}: "
                "the range test reads a falling loss as learning and a rising one as divergence, so an objective "
                "the optimizer climbs would read backwards. Return the negated objective as the loss (loss = "
                f"-objective, {where}) and build the optimizer with maximize=False: its steps are the "
                "same."
            )


#: What :func:`check_materialized` tells a plain range test to do about lazy modules.
LAZY_FIX = "Run one forward pass first, e.g. model(next(iter(train_data))[0])."


def check_materialized(model: nn.Module, *, lazy: bool = True, lazy_fix: str = LAZY_FIX) -> None:
    """Refuse a model with tensors that hold no values: on the ``meta`` device, or uninitialized (lazy).

    A parameter or buffer on the ``meta`` device (a model built under ``torch.device("meta")`` or
    accelerate's ``init_empty_weights``) has a shape and no data: nothing can be computed with it,
    and torch failed deep inside (``unknown device type for autocast``, or a first batch blamed
    for "Tensor on device meta is not on the expected device"). An uninitialized parameter or
    buffer of a ``torch.nn.Lazy*`` module (a ``LazyBatchNorm1d``'s running statistics too) gets
    its shape from the first forward pass, so a snapshot taken before it cannot copy it.

    Args:
        model: The model to check.
        lazy: Also refuse uninitialized lazy parameters and buffers (whenever the state is snapshotted).
        lazy_fix: What to do about them, the message's last sentence.

    Raises:
        ModelError: A tensor on the ``meta`` device (always), or an uninitialized lazy one (with ``lazy``).

    """
    tensors = [*model.named_parameters(), *model.named_buffers()]
    meta = [name for name, t in tensors if not is_lazy(t) and t.is_meta]
    if meta:
        raise ModelError(
            f"The model has {len(meta)} parameter(s) or buffer(s) on the meta device (first: {meta[0]}): they have a "
            "shape but no values (a model built under torch.device('meta') or init_empty_weights), so nothing can "
            "be computed with them. Materialize the model first: model.to_empty(device='cpu') (or 'cuda'), then "
            "initialize or load its weights (model.load_state_dict(state_dict, assign=True))."
        )
    if not lazy:
        return
    params = [name for name, p in model.named_parameters() if is_lazy(p)]
    buffers = [name for name, b in model.named_buffers() if is_lazy(b)]
    if params or buffers:
        counts = [f"{len(params)} uninitialized parameter(s)"] * bool(params)
        counts += [f"{len(buffers)} uninitialized buffer(s)"] * bool(buffers)
        raise ModelError(
            f"The model has {' and '.join(counts)} of a torch.nn.Lazy* module (first: {(params or buffers)[0]}): "
            "their shapes are set by the first forward pass, and the range test must copy them beforehand to restore "
            f"them. {lazy_fix}"
        )


#: What an empty ``train_data`` raises (the range test and :func:`lrfinder.train` alike).
EMPTY_DATA_MESSAGE = "The training data is empty: it yielded no batch. Pass a non-empty DataLoader/iterable."


def empty_data_message(data: object) -> str:
    """:data:`EMPTY_DATA_MESSAGE`, or why a DataLoader over examples yields no batch (``drop_last``)."""
    batch_size = getattr(data, "batch_size", None)
    if getattr(data, "drop_last", False) and batch_size is not None and is_int(batch_size):
        try:
            examples = len(data.sampler)  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            return EMPTY_DATA_MESSAGE
        if 0 < examples < batch_size:
            return (
                f"The training data is empty: DataLoader(batch_size={batch_size}, drop_last=True) over {examples} "
                f"example(s) drops its only, short batch. Lower batch_size to at most {examples}, or set "
                "drop_last=False."
            )
    return EMPTY_DATA_MESSAGE


def _check_sweep(min_lr: float, max_lr: float, num_steps: int, mode: str, *, min_steps: int) -> None:
    """Check the LR range, the number of steps (at least ``min_steps``) and the sweep mode."""
    for name, value in (("min_lr", min_lr), ("max_lr", max_lr)):
        if not is_real(value):
            raise TypeError(f"Expected {name} to be a number, but got {name}={value!r}")
        if not math.isfinite(value):
            raise ValueError(f"Expected {name} to be finite, but got {name}={value}")
    if min_lr <= 0:
        raise ValueError(f"Expected min_lr > 0, but got min_lr={min_lr}")
    if max_lr <= min_lr:
        raise ValueError(f"Expected max_lr > min_lr, but got min_lr={min_lr}, max_lr={max_lr}")
    if is_choice(mode, ("exp",)) and not math.isfinite(max_lr / min_lr):
        # The exponential steps are min_lr * (max_lr / min_lr) ** t: an overflowing ratio made every LR
        # between the two ends inf, and the sweep ran at them.
        raise ValueError(
            f"Expected max_lr / min_lr to be a finite number for mode='exp', but got min_lr={min_lr}, "
            f"max_lr={max_lr}, whose ratio overflows. Use a range of at most a few dozen decades, e.g. min_lr=1e-8."
        )
    if not is_int(num_steps):
        raise TypeError(f"Expected num_steps to be an int, but got num_steps={num_steps!r}")
    if num_steps < min_steps:
        raise ValueError(f"Expected num_steps >= {min_steps}, but got num_steps={num_steps}")
    if num_steps > MAX_SWEEP_STEPS:
        raise ValueError(
            f"Expected num_steps <= {MAX_SWEEP_STEPS:,}, but got num_steps={num_steps:,}: a range test needs a few "
            "hundred steps (100 to 1,000 is usual), and every planned LR is held in memory."
        )
    if not is_choice(mode, SWEEP_MODES):
        raise ValueError(
            f"Expected mode to be {' or '.join(map(repr, SWEEP_MODES))}, but got mode={mode!r}."
            + did_you_mean(mode, SWEEP_MODES, SWEEP_MODE_ALIASES)
        )


def _check_stop_factor(stop_factor: object) -> None:
    """Refuse a divergence threshold that is not a number > 1 (NaN included) or ``None``."""
    if stop_factor is None:
        return
    if not is_real(stop_factor):
        raise TypeError(f"Expected stop_factor to be a number or None, but got stop_factor={stop_factor!r}")
    if not stop_factor > 1:  # type: ignore[operator]
        raise ValueError(f"Expected stop_factor > 1 (or None to disable), but got stop_factor={stop_factor}")


#: A linear sweep over more than this ratio of LRs (three decades) is warned about (:func:`validate_settings`).
LINEAR_MAX_RATIO = 1e3


def _warn_linear_span(min_lr: float, max_lr: float, num_steps: int) -> None:
    """Say that a linear sweep over several decades leaves all but its top decade almost untested.

    Not refused: a linear sweep from near zero can be meant (a fine grid up to ``max_lr``), but
    over 8 decades the second step is already ``max_lr / num_steps``, so the range below it, most
    of the decades asked for, is one step, and the curve is read in the top decade alone.
    """
    lrs = lr_schedule(min_lr, max_lr, num_steps, "linear")
    top = int(np.sum(lrs >= max_lr / 10))
    warnings.warn(
        f"A linear sweep (mode 'linear') spaces the steps evenly in LR, not in log LR: from min_lr {min_lr:.2e} "
        f"to max_lr {max_lr:.2e} ({math.log10(max_lr / min_lr):.0f} decades), {top} of the {num_steps} steps lie "
        f"in the top decade and the second step is already at {lrs[1]:.2e}, so the decades between are never "
        "swept. Use the exponential sweep (mode 'exp', the default) for a range of several decades; a linear one "
        "suits a zoomed range within a decade or two.",
        UserWarning,
        stacklevel=caller_stacklevel(),
    )


def validate_settings(
    *,
    min_lr: float,
    max_lr: float,
    num_steps: int,
    mode: SweepMode | str,
    stop_factor: float | None,
    accumulate_steps: int = 1,
) -> RangeTestSettings:
    """Check the sweep settings and return them as a :class:`RangeTestSettings`.

    Raises:
        ValueError: A setting outside its range, named with the rule and the value.
        TypeError: A setting of the wrong type.

    """
    min_lr, max_lr, num_steps, stop_factor = plain(min_lr), plain(max_lr), plain(num_steps), plain(stop_factor)
    accumulate_steps = plain(accumulate_steps)
    _check_sweep(min_lr, max_lr, num_steps, mode, min_steps=10)
    _check_stop_factor(stop_factor)
    if not is_int(accumulate_steps) or accumulate_steps < 1:
        raise ValueError(f"Expected accumulate_steps to be an int >= 1, but got accumulate_steps={accumulate_steps!r}")
    if mode == "linear" and max_lr / min_lr > LINEAR_MAX_RATIO:
        _warn_linear_span(float(min_lr), float(max_lr), int(num_steps))
    return RangeTestSettings(
        min_lr=float(min_lr),
        max_lr=float(max_lr),
        num_steps=int(num_steps),
        mode=cast(SweepMode, mode),
        stop_factor=None if stop_factor is None else float(stop_factor),
        accumulate_steps=int(accumulate_steps),
    )


@dataclass(frozen=True)
class RangeTestResult:
    """The outcome of a range test: the curve, why it stopped, and what it means.

    Attributes:
        lrs: The LR of the group with the largest base LR at each optimizer step run.
        losses: The loss recorded at each step (the mean over accumulated micro-batches, and over
            ranks under data parallelism), as recorded: the last one may be NaN/inf.
        stop_reason: ``"completed"``, ``"diverged"``, ``"non_finite"`` or ``"interrupted"``.
        settings: The sweep settings used.
        batch_size: Effective batch size of one step (batch x accumulation x devices), when known.
        model_name: Class name of the model.
        num_parameters: Number of trainable parameters of the model.
        optimizer_name: Class name(s) of the optimizer(s) swept.
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

    def __post_init__(self) -> None:
        """Check the curve and the stop reason; store ``lrs`` and ``losses`` as tuples of floats.

        Raises:
            TypeError: ``lrs`` or ``losses`` is not a sequence of numbers, or ``settings`` is not a
                :class:`RangeTestSettings`.
            ValueError: ``lrs`` and ``losses`` of different lengths, or an unknown ``stop_reason``,
                or ``lr_ratios`` not in ``[0, 1]`` with one ``1.0``, or ``group_names`` of another length.

        """
        curve = []
        for name in ("lrs", "losses"):
            values = getattr(self, name)
            if is_not_a_sequence(values):
                raise TypeError(
                    f"Expected {name} to be a sequence of numbers, but got {name}={values!r:.80}"
                    + single_number_note(values)
                )
            if type(values) is not tuple or not all(type(v) is float for v in values):
                found = text_or_bool_at(values)  # float("1e-3") and float(True) read them as numbers
                if found is not None:
                    raise TypeError(text_or_bool_message(name, found))
                try:
                    values = tuple(float(v) for v in values)
                except (TypeError, ValueError, RuntimeError) as exc:
                    raise TypeError(f"Expected {name} to be a sequence of numbers ({exc})") from None
                object.__setattr__(self, name, values)
            curve.append(values)
        if len(curve[0]) != len(curve[1]):
            raise ValueError(
                f"Expected lrs and losses of the same length (one loss per LR), but got {len(curve[0])} lrs and "
                f"{len(curve[1])} losses"
            )
        if self.stop_reason not in STOP_REASONS:
            raise ValueError(
                f"Expected stop_reason to be one of {', '.join(STOP_REASONS)}, but got stop_reason={self.stop_reason!r}"
            )
        if not isinstance(self.settings, RangeTestSettings):
            raise TypeError(
                f"Expected settings to be a lrfinder.RangeTestSettings, but got {type(self.settings).__name__}"
            )
        ratios = tuple(float(v) for v in self.lr_ratios)
        if ratios and not (all(0.0 <= v <= 1.0 for v in ratios) and max(ratios) == 1.0):
            raise ValueError(
                f"Expected lr_ratios in [0, 1], the swept group's 1.0 among them, but got lr_ratios={ratios}"
            )
        names = tuple(self.group_names)
        if names and len(names) != len(ratios) or not all(n is None or isinstance(n, str) for n in names):
            raise ValueError(
                f"Expected group_names to hold a string or None for each of the {len(ratios)} lr_ratios, but got "
                f"group_names={names!r:.80}"
            )
        object.__setattr__(self, "lr_ratios", ratios)
        object.__setattr__(self, "group_names", names)

    @property
    def num_steps(self) -> int:
        """Number of optimizer steps actually run (``settings.num_steps`` was the plan)."""
        return len(self.lrs)

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
            f"The one-cycle peak moved with the LR from batch {sc.from_batch_size} to {sc.to_batch_size}, {peak:.2e}, "
            f"is past the divergence point {suggestion.divergence_lr:.2e} of the range test: "
            "training_suggestion.max_lr (the peak of a one-cycle or cyclic schedule built from it) is clamped to "
            "it. For more margin use a milder rule, or run the range test at the training batch size."
        )
        warnings.warn(message, stacklevel=3)
        return replace(self, scaled=replace(sc, warning=message if sc.warning is None else f"{sc.warning} {message}"))

    def analyze(self, **kwargs: Any) -> RangeTestResult:
        """Re-run the curve analysis (e.g. with another ``rule``) and return a new result.

        When scaling was applied, :attr:`scaled` is moved along: the same target batch size,
        rule and factor, applied to the new suggestion (and checked against its divergence
        point), so :attr:`lr` never reports an LR scaled from an old suggestion.

        Args:
            **kwargs: Passed to :func:`lrfinder.analyze` (``rule``, ``window``).

        Raises:
            InconclusiveCurveError: The curve does not support a suggestion.

        """
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
        uses the ``noise`` rule (see :func:`lrfinder.scale_lr`).

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
        if rule == "noise" and self.noise_scale is None:
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

        Keys: ``schema_version``, ``lrs``, ``losses`` (non-finite values as the strings ``"nan"``,
        ``"inf"``, ``"-inf"``, so the file is strict JSON), ``stop_reason``, ``settings``
        (``min_lr``, ``max_lr``, ``num_steps``, ``mode``, ``stop_factor``, ``accumulate_steps``,
        ``precision``, ``gradient_clip_val``, ``gradient_clip_algorithm``),
        ``batch_size``, ``model_name``, ``num_parameters``, ``optimizer_name``, ``suggestion``
        (:meth:`Suggestion.to_dict` or null), ``error``, ``scaled`` (:meth:`ScaledLR.to_dict` or
        null), ``label``, ``noise_scale`` (:meth:`NoiseScale.to_dict` or null), ``noise_error``,
        ``refinement`` (:meth:`lrfinder.Refinement.to_dict` or null), ``lr_ratios`` and
        ``group_names`` (lists, empty when not recorded; a file without them reads as empty).
        """
        suggestion = None
        if self.suggestion is not None:
            suggestion = self.suggestion.to_dict()
            suggestion["smoothed_losses"] = [_encode_float(v) for v in self.suggestion.smoothed_losses]
        return {
            "schema_version": SCHEMA_VERSION,
            "lrs": list(self.lrs),
            "losses": [_encode_float(v) for v in self.losses],
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

        Raises:
            ValueError: An unknown schema version, missing keys, values of the wrong type, settings
                out of range, or ``lrs`` and ``losses`` of different lengths.
            TypeError: ``data`` is not a mapping (a JSON object).

        """
        if not isinstance(data, Mapping):
            raise TypeError(f"Expected data to be a mapping (a JSON object), but got {type(data).__name__}")
        version = data.get("schema_version")
        if data.get("kind") == "weight_decay_sweep" and isinstance(data.get("results"), list):
            raise ValueError(
                f"This is a weight-decay sweep of {len(data['results'])} range tests (kind='weight_decay_sweep'), not "
                "one result: read each with RangeTestResult.from_dict(doc['results'][i])"
            )
        if version != SCHEMA_VERSION:
            raise ValueError(
                f"Unsupported result schema_version={version!r}; this lrfinder reads version {SCHEMA_VERSION}"
            )
        try:
            suggestion = None
            if data.get("suggestion") is not None:
                raw = dict(data["suggestion"])
                raw["smoothed_losses"] = [_decode_float(v) for v in raw["smoothed_losses"]]
                suggestion = Suggestion.from_dict(raw)
            stop_reason = data["stop_reason"]
            if stop_reason not in STOP_REASONS:
                raise ValueError(
                    f"Malformed range-test result: stop_reason={stop_reason!r} is not one of {STOP_REASONS}"
                )
            raw_settings = data["settings"]
            if not isinstance(raw_settings, Mapping):
                raise ValueError(f"Malformed range-test result: settings={raw_settings!r:.60} is not an object")
            # Checked here first for a message naming the file's field; RangeTestSettings checks the rest.
            mode = raw_settings.get("mode", "exp")
            if mode not in SWEEP_MODES:
                raise ValueError(f"Malformed range-test result: settings.mode={mode!r} is not one of {SWEEP_MODES}")
            precision = raw_settings.get("precision", "32")
            if not (isinstance(precision, str) and precision):
                raise ValueError(
                    f"Malformed range-test result: settings.precision={precision!r} is not a precision "
                    f"name such as {RECORDED_PRECISIONS[:3]}"
                )
            settings = RangeTestSettings(**raw_settings)
            if settings.precision not in RECORDED_PRECISIONS:
                # A precision a newer Lightning added, recorded by the callback: informational, so read as recorded.
                warnings.warn(
                    f"The result's settings.precision={settings.precision!r} is not one this lrfinder knows "
                    f"({', '.join(RECORDED_PRECISIONS)}); it is read as recorded.",
                    stacklevel=2,
                )
            # RangeTestSettings checked every setting itself; a plan as short as 2 steps (a result built by
            # hand) reads back as it was written.
            lrs = tuple(float(v) for v in data["lrs"])
            losses = tuple(_decode_float(v) for v in data["losses"])
            if len(lrs) != len(losses):
                raise ValueError(
                    f"Malformed range-test result: 'lrs' and 'losses' must have the same length, but have "
                    f"{len(lrs)} and {len(losses)}"
                )
            if not all(math.isfinite(v) and v > 0 for v in lrs) or any(b <= a for a, b in zip(lrs, lrs[1:])):
                raise ValueError(
                    "Malformed range-test result: 'lrs' must be finite, > 0 and strictly increasing, as a sweep "
                    "records them"
                )
            if suggestion is not None and len(suggestion.smoothed_losses) != len(losses):
                raise ValueError(
                    f"Malformed range-test result: suggestion.smoothed_losses has {len(suggestion.smoothed_losses)} "
                    f"values for {len(losses)} losses"
                )
            for key, check, rule in _OPTIONAL_FIELDS:
                value = data.get(key)
                if value is not None and not check(value):
                    raise ValueError(f"Malformed range-test result: {key}={value!r} is not {rule} (or null)")
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
                lr_ratios=_number_list(data.get("lr_ratios") or [], "lr_ratios"),
                group_names=tuple(data.get("group_names") or ()),
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
            ValueError: ``path`` is empty (``''`` named the current directory, ``'.'``).
            IsADirectoryError: ``path`` is a directory, or ends in a path separator (``'out/'``).
            OSError: ``path`` cannot be written; the message names it.

        """
        if path is not None and isinstance(path, (str, os.PathLike)) and not os.fspath(path):
            raise ValueError(
                "Expected path to be a file path such as 'result.json', but got an empty path ''; pass no path for "
                "the JSON text alone"
            )
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            atomic_write_text(path, text + "\n")  # the path as given: 'out/' is refused, not written as 'out'
        return text

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
            source = bytes(source).decode("utf-8")
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
        else:
            raise TypeError(
                f"Expected source to be a JSON file path or JSON text, but got {type(source).__name__} {source!r:.60}"
            )
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{origin}Not a JSON range-test result: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{origin}Not a range-test result: expected a JSON object")
        return cls.from_dict(data)


#: A key missing from (or unknown to) a result's suggestion or scaled LR, as their ``from_dict`` say it.
_NESTED_MALFORMED = re.compile(r"Malformed (suggestion|scaled LR): ((?:missing|unknown) keys? .*)")


def _malformed_reason(exc: BaseException) -> str:
    """What a malformed result's field check raised, in words: ``KeyError('lrs')`` is ``missing key 'lrs'``.

    The exception's repr was shown (``KeyError('smoothed_losses')``, ``TypeError("RangeTestSettings.__init__()
    got an unexpected keyword argument 'zzz'")``).
    """
    if isinstance(exc, KeyError) and exc.args:
        return f"missing key {exc.args[0]!r}"
    nested = _NESTED_MALFORMED.fullmatch(str(exc))
    if isinstance(exc, ValueError) and nested is not None:
        # Suggestion.from_dict's and ScaledLR.from_dict's words, placed by the result's field that holds them.
        return f"{nested[2]} in {'suggestion' if nested[1] == 'suggestion' else 'scaled'}"
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


def _encode_float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _decode_float(value: float | str | None) -> float:
    return float("nan") if value is None else float(value)


# --------------------------------------------------------------------------------------------
# Engine pieces
# --------------------------------------------------------------------------------------------


def lr_schedule(min_lr: float, max_lr: float, num_steps: int, mode: SweepMode | str = "exp") -> np.ndarray:
    """The LR of each step of a sweep, for ``t = 0 .. num_steps - 1``.

    ``exp``: ``lr_t = min_lr * (max_lr / min_lr) ** (t / (num_steps - 1))`` (even in log LR);
    ``linear``: ``lr_t = min_lr + (max_lr - min_lr) * t / (num_steps - 1)`` (even in LR). The
    first value is exactly ``min_lr`` and the last exactly ``max_lr``; in between, values carry
    the usual floating-point rounding.

    Args:
        min_lr: First LR (> 0).
        max_lr: Last LR (> ``min_lr``).
        num_steps: Number of LRs (>= 2, at most :data:`MAX_SWEEP_STEPS`; a range test needs at
            least 10, see :func:`range_test`).
        mode: ``"exp"`` or ``"linear"``.

    Returns:
        A float64 array of ``num_steps`` increasing LRs.

    Raises:
        ValueError: A setting out of range (named, with the value).
        TypeError: A setting of the wrong type.

    Example:
        >>> [f"{lr:.0e}" for lr in lr_schedule(1e-3, 1.0, 4)]
        ['1e-03', '1e-02', '1e-01', '1e+00']
        >>> lr_schedule(0.25, 1.0, 4, mode="linear").tolist()
        [0.25, 0.5, 0.75, 1.0]

    """
    min_lr, max_lr, num_steps = plain(min_lr), plain(max_lr), plain(num_steps)
    _check_sweep(min_lr, max_lr, num_steps, mode, min_steps=2)
    t = np.arange(num_steps) / (num_steps - 1)
    lrs = min_lr * (max_lr / min_lr) ** t if mode == "exp" else min_lr + (max_lr - min_lr) * t
    lrs[0], lrs[-1] = min_lr, max_lr
    return lrs


class DivergenceMonitor:
    """The online stop rule: a bias-corrected EMA of the loss against its best value so far.

    After step ``t`` (from 1) with loss ``l``::

        avg = beta * avg + (1 - beta) * l;        smoothed = avg / (1 - beta ** t)
        dev = beta * dev + (1 - beta) * |l - previous smoothed|   (debiased the same way)
        best = min(best, smoothed);   best_dev = dev at the step where best was last lowered
        stop when smoothed > best + (stop_factor - 1) * max(|best|, 3 * best_dev)

    For positive losses with little noise this is the usual ``smoothed > stop_factor * best``. The
    ``|best|`` makes it work for negative losses, and the noise term keeps a test that starts
    from an already-trained model (best close to 0) from stopping on batch-to-batch noise.
    ``beta`` is 0.9 (a lag of about 9 steps) rather than 0.98: the stop reacts within a few
    steps, which saves time in the diverged region.

    Args:
        stop_factor: The factor (> 1), or ``None`` to never stop.
        beta: EMA coefficient in (0, 1).

    """

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
        if self.smoothed <= self.best:
            self.best = self.smoothed
            # The noise level is frozen where the best was seen: measured later, it would grow
            # with the divergence itself and hold the stop back.
            self._best_dev = self._dev / (1 - self.beta ** (self.t - 1)) if self.t > 1 else 0.0
        if self.stop_factor is None or self.t < 2:
            return False
        threshold = self.best + (self.stop_factor - 1) * max(abs(self.best), 3.0 * self._best_dev)
        return self.smoothed > threshold


def _base_lr(optimizer: torch.optim.Optimizer, index: int, group: Mapping[str, Any]) -> float:
    """The LR of ``optimizer``'s param group ``index`` as a float, or a ``ValueError`` saying why there is none."""
    name = type(optimizer).__name__
    if "lr" not in group:
        keys = sorted(str(k) for k in group if k != "params")
        raise ValueError(
            f"Expected every param group to have an 'lr' to sweep, but group {index} of {name} has none (its settings: "
            f"{', '.join(keys[:8])}). The range test sweeps group['lr'], as torch's LR schedulers do: use an "
            "optimizer that reads its step size from 'lr'."
        )
    lr = group["lr"]
    value = float(lr.item()) if isinstance(lr, torch.Tensor) and lr.numel() == 1 else lr
    if not is_real(value) or not math.isfinite(value) or value < 0:
        why = (
            " (an optimizer that sets its own step size, such as Adafactor with relative_step=True, has no LR to "
            "sweep: give it a fixed lr, e.g. relative_step=False, lr=1e-3, or sweep another optimizer)"
            if lr is None
            else ""
        )
        raise ValueError(
            f"Expected the LR of every param group to be a finite number >= 0, but group {index} of {name} has "
            f"lr={lr!r}{why}"
        )
    return float(value)


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
                with ``relative_step=True``).

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
        base = [_base_lr(opt, i, g) for opt in self.optimizers for i, g in enumerate(opt.param_groups)]
        if base and max(base) == 0:
            # Every group at 0: a warm-up scheduler's first step (LambdaLR from 0, LinearLR's start) set
            # them there; torch's schedulers keep the configured LRs as initial_lr, so their ratios hold.
            initial: list[float] = []
            for group in (g for opt in self.optimizers for g in opt.param_groups):
                value: Any = group.get("initial_lr")
                value = value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value
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

    def set(self, lr: float) -> None:
        """Apply ``lr`` to the reference group, and ``lr * ratio`` to the others.

        A tensor LR (torch 2's ``Adam(lr=torch.tensor(...))``, for a compiled or captured step) is
        filled in place, as torch's schedulers do: whoever holds the tensor sees the swept LR.

        Raises:
            TypeError: ``lr`` is not a number (a one-element tensor or a numpy number is one).
            ValueError: ``lr`` is negative or not finite: torch would step with it silently.

        """
        if isinstance(lr, torch.Tensor) and lr.numel() == 1:
            lr = lr.item()
        if not is_real(lr):
            raise TypeError(f"Expected lr to be a number, but got lr={lr!r:.40}")
        lr = float(lr)
        if not (math.isfinite(lr) and lr >= 0):
            raise ValueError(f"Expected lr to be finite and >= 0, but got lr={lr}")
        groups = (g for opt in self.optimizers for g in opt.param_groups)
        for group, ratio in zip(groups, self.ratios):
            if isinstance(group["lr"], torch.Tensor):
                with torch.no_grad():
                    group["lr"].fill_(lr * ratio)
            else:
                group["lr"] = lr * ratio


def _loss_value(name: str, value: object) -> float:
    """``value`` as a float: a real number or a one-element tensor, else a ``TypeError`` naming ``name``.

    ``float()`` alone took a text ``"1.0"`` and failed on ``None`` or a per-example loss vector with
    messages that named neither the value nor the fix.
    """
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_complex():
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
    plan = []
    for i, lr in enumerate(lrs):
        if isinstance(lr, torch.Tensor) and lr.numel() == 1:
            lr = lr.item()
        if not is_real(lr):
            raise TypeError(f"Expected lrs to hold numbers, but got lrs[{i}]={lr!r:.40}")
        if not (math.isfinite(lr) and lr > 0):  # type: ignore[arg-type]
            raise ValueError(f"Expected every LR in lrs to be finite and > 0, but got lrs[{i}]={lr}")
        plan.append(float(lr))  # type: ignore[arg-type]
    if not plan:
        raise ValueError("Expected at least one LR in lrs, but got an empty sequence")
    return plan


@dataclass(frozen=True)
class DataParallelRanks:
    """The processes a data-parallel model's range test averages its losses over.

    Built by :func:`data_parallel_ranks`; :meth:`mean` is one ``all_reduce`` (a sum, divided
    by ``world``: gloo has no average) that every process of ``group`` must call.

    Attributes:
        group: The ``torch.distributed`` process group (``None``: the default one).
        world: Number of processes in it (> 1).
        device: Where the reduced tensor goes (the model's device: NCCL reduces CUDA tensors only).
        sharded: ``True`` for FSDP, whose ranks each hold a shard of every parameter.
        rank: This process's rank in ``group``.

    """

    group: Any
    world: int
    device: torch.device
    sharded: bool = False
    rank: int = 0

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise sum over the ranks of a tensor, in float64 (call on every rank)."""
        import torch.distributed as dist

        total = values.detach().to(device=self.device, dtype=torch.float64).clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=self.group)
        return total

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise mean over the ranks of a float64 tensor (call on every rank)."""
        return self.sum(values) / self.world

    def mean_list(self, values: list[float]) -> list[float]:
        """:meth:`mean` of a list of floats (refine's held-out and trial losses)."""
        return [float(v) for v in self.mean(torch.tensor(values, dtype=torch.float64)).cpu()]


def data_parallel_ranks(model: nn.Module, device: torch.device) -> DataParallelRanks | None:
    """The ranks to average the range test's losses over, or ``None`` to keep each process's own.

    Only a model wrapped for data parallelism counts: ``torch.nn.parallel.DistributedDataParallel``
    (its ``process_group``), FSDP's ``FullyShardedDataParallel`` (its ``process_group``) or a
    module sharded by ``fully_shard`` (the default group), also under ``torch.compile``; and only
    with ``torch.distributed`` initialized and more than one process in the group. Such a model
    all-reduces its gradients in every backward, so every rank must run the same steps anyway. A
    plain model is never reduced over, even inside an initialized process group: a range test on
    rank 0 alone must not wait for ranks that are not running one.

    Args:
        model: The model given to :func:`range_test`.
        device: The device the losses are computed on.

    Returns:
        A :class:`DataParallelRanks`, or ``None``.

    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    inner = getattr(model, "_orig_mod", model)  # torch.compile's wrapper
    group: Any = None
    sharded = False
    if isinstance(inner, nn.parallel.DistributedDataParallel):
        group = inner.process_group
    else:
        try:
            from torch.distributed.fsdp import FullyShardedDataParallel
        except ImportError:  # pragma: no cover - a torch built without FSDP
            return None
        fully_shard = getattr(dist.fsdp, "FSDPModule", None)  # fully_shard (FSDP2), torch >= 2.6
        if isinstance(inner, FullyShardedDataParallel):
            group = inner.process_group
        elif fully_shard is None or not isinstance(inner, fully_shard):
            return None
        sharded = True
    world = dist.get_world_size(group)
    if world < 2:
        return None
    return DataParallelRanks(group, world, device, sharded, dist.get_rank(group))


def micro_batch_sync(
    model: nn.Module, accumulate_steps: int
) -> Callable[[int], contextlib.AbstractContextManager[Any]]:
    """The context each micro-batch of an accumulated step runs its forward and backward in.

    Under plain ``torch.nn.parallel.DistributedDataParallel`` (also under ``torch.compile``) with
    ``accumulate_steps > 1``: ``model.no_sync()`` for every micro-batch but the last, so the
    gradients are all-reduced once per optimizer step, as torch's DDP documentation and
    Lightning's accumulation do, instead of once per micro-batch. The step's gradient is the
    same up to float rounding: ``mean_r(sum_i g_ri)`` all-reduced once, where every micro-batch's
    own all-reduce gave ``sum_i mean_r(g_ri)``. ``find_unused_parameters=True`` is fine (DDP marks
    a parameter used in any micro-batch of the step). Elsewhere (a plain model, FSDP, one
    micro-batch, or DDP with ``static_graph=True``, whose reducer fails an internal assert under
    ``no_sync`` in torch 2.13) every micro-batch runs as before. Under ``no_sync`` DDP does not
    broadcast rank 0's buffers before the next forward either (``broadcast_buffers``): once per
    step instead of once per micro-batch, as in training with ``no_sync``; a BatchNorm in train
    mode does not read its running statistics, so the losses do not change.

    Args:
        model: The model the micro-batches go through.
        accumulate_steps: Micro-batches per optimizer step.

    Returns:
        ``sync(i) -> context manager`` for micro-batch ``i`` (0-based) of a step.

    """
    inner = getattr(model, "_orig_mod", model)  # torch.compile's wrapper
    if (
        accumulate_steps < 2
        or not isinstance(inner, nn.parallel.DistributedDataParallel)
        or getattr(inner, "static_graph", False)
    ):
        return _always_sync
    last = accumulate_steps - 1

    def sync(i: int) -> contextlib.AbstractContextManager[Any]:
        return inner.no_sync() if i < last else contextlib.nullcontext()

    return sync


def _always_sync(i: int) -> contextlib.AbstractContextManager[Any]:
    """Every micro-batch all-reduces its gradient (no model to hold it back)."""
    return contextlib.nullcontext()


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
        return batch.to(device, non_blocking=True)
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


@contextlib.contextmanager
def target_broadcast_refused(active: bool = True) -> Iterator[None]:
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
    if not active:
        yield
        return
    refused: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as record:
            # Recorded whatever the caller's filters (a "default" filter shows it once per line), judged below.
            warnings.filterwarnings("always", message="Using a target size", category=UserWarning)
            caught = record
            yield
    finally:
        for w in caught:
            match = _TARGET_SIZE_WARNING.match(str(w.message)) if issubclass(w.category, UserWarning) else None
            if match is None:  # another warning of the block: shown as it would have been
                warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)
                continue
            target, output = _size_of(match[1]), _size_of(match[2])
            if _pairs_wrongly(target, output):
                refused = refused or (target, output)
            else:  # through the caller's filters again, which the "always" above bypassed
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
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


#: What :func:`range_test` tells to do with a batch format it cannot read.
_STEP_FN_FIX = "For other formats, pass step_fn=lambda model, batch: <loss tensor> to range_test."


def _warn_unused_keys(batch: Any, loss_fn: Any, step_fn: Any) -> None:
    """Warn once when a dict batch read as ``loss_fn(model(batch[x]), batch[y])`` has keys that go nowhere.

    A mask, sample weights or a second input next to the input and target keys is silently
    dropped by that reading; ``step_fn`` is the way to use them.
    """
    if step_fn is not None or loss_fn is None or not isinstance(batch, Mapping):
        return
    x_key = next((k for k in _INPUT_KEYS if k in batch), None)
    y_key = next((k for k in _TARGET_KEYS if k in batch), None)
    unused = [k for k in batch if k not in (x_key, y_key)]
    if x_key is not None and y_key is not None and unused:
        warnings.warn(
            f"The batches are read as loss_fn(model(batch[{x_key!r}]), batch[{y_key!r}]); their other keys "
            f"({', '.join(map(repr, unused))}) are not used. To use them (a mask, sample weights), pass "
            "step_fn=lambda model, batch: <loss tensor> to range_test.",
            UserWarning,
            stacklevel=caller_stacklevel(),
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


def _no_loss_message(out: object, batch: Mapping[Any, Any], fix: str) -> str:
    """Why ``model(**batch)`` gave no loss: what it returned, and what to pass instead."""
    notes = []
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
) -> torch.Tensor:
    """The loss of one batch: ``step_fn(model, batch)``, else ``loss_fn(model(x), y)`` for pairs and dicts.

    A dict batch without ``loss_fn`` is passed as ``model(**batch)``, whose loss is taken (Hugging
    Face style, :func:`_output_loss`: ``out["loss"]``, ``out.loss``, the first item of a
    ``(loss, logits)`` tuple, or a scalar tensor). Other formats raise :class:`DataError` ending
    with ``fix`` (what the caller's API offers for them).
    """
    if step_fn is not None:
        return step_fn(model, batch)
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        if loss_fn is None:
            raise DataError(
                "Batches are (inputs, targets) pairs but no loss_fn was given (only a dict batch goes in as "
                f"model(**batch), whose loss is taken). Pass loss_fn (e.g. torch.nn.functional.cross_entropy). {fix}"
            )
        return _apply_loss(loss_fn, model(batch[0]), batch[1])
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
    kind = f"a {type(batch).__name__}"
    if isinstance(batch, (tuple, list)):
        kind += f" of length {len(batch)}"
    # Inputs alone (DataLoader(TensorDataset(x)) or DataLoader(x)): an autoencoder's data. "expected (inputs,
    # targets) pairs" left the user to find that the inputs can be their own targets.
    alone = isinstance(batch, torch.Tensor) or (
        isinstance(batch, (tuple, list)) and len(batch) == 1 and isinstance(batch[0], torch.Tensor)
    )
    hint = (
        " These batches hold inputs alone, no targets: for a model that reconstructs its inputs (an autoencoder), "
        "give the inputs as their targets too, DataLoader(TensorDataset(x, x)), and loss_fn=F.mse_loss."
        if alone
        else ""
    )
    raise DataError(
        f"Cannot use batches of type {kind}: expected (inputs, targets) pairs or dicts with input/target keys.{hint} "
        f"{fix}"
    )


#: What a step_fn that runs its own backward() (or a whole training step) is told.
_BACKWARD_IN_STEP_FN = (
    "step_fn(model, batch) must return the loss tensor without calling loss.backward() or optimizer.step(): the "
    "range test runs them itself, at the swept LR (gradients were already there when step_fn returned, and the "
    "range test's backward failed)."
)


#: What torch raises when a batch does not fit the model or the loss (shapes, dtypes, devices); a TorchScript
#: model raises ``torch.jit.Error`` (not a RuntimeError) for what began as a ValueError.
_MISMATCH_ERRORS = (RuntimeError, ValueError, TypeError, IndexError, NotImplementedError, torch.jit.Error)


def _is_out_of_memory(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or "out of memory" in str(exc).lower()


#: The exception classes (by module and name, so torch._dynamo is not imported to check) that
#: ``torch.compile`` raises when its backend fails to compile a graph: no working C++ compiler,
#: missing Python headers, a kernel that does not build. The model and batch may be fine.
_COMPILE_FAILURES = frozenset(
    {("torch._dynamo.exc", "BackendCompilerFailed"), ("torch._inductor.exc", "InductorError")}
)


def compile_failure_message(exc: BaseException) -> str | None:
    r"""What to say when ``torch.compile`` could not compile the model, or ``None`` for any other error.

    torch raises these (``InductorError``, ``BackendCompilerFailed``) as ``RuntimeError``\ s on the
    first forward of a compiled model, which read as a batch the model cannot take.
    """
    if not any((c.__module__, c.__name__) in _COMPILE_FAILURES for c in type(exc).__mro__):
        return None
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    why = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return (
        f"torch.compile could not compile the model ({why}): its compiler failed, not the batch, so training "
        "would fail the same way. If no working C++ compiler was found, install one (inductor builds CPU kernels "
        "with g++ or clang++, and the CXX environment variable names it; it also needs the Python headers), or "
        "test without inductor: pass the uncompiled model (compiled._orig_mod) or compile with "
        "torch.compile(model, backend='aot_eager')."
    )


def raise_if_compile_failed(exc: BaseException) -> None:
    """Raise a :class:`ModelError` (``exc`` chained) when ``exc`` is torch.compile's compiler failing, not the data.

    Called first where a batch's error is turned into a :class:`DataError` (the range test, ``train``, the
    command line's model check): :func:`compile_failure_message` says what to do.

    Raises:
        ModelError: ``exc`` is an ``InductorError`` or ``BackendCompilerFailed``.

    """
    message = compile_failure_message(exc)
    if message is not None:
        raise ModelError(message) from exc


#: How torch.compile's tracer quotes the error an operation raised on fake tensors ("... got RuntimeError('...')").
_TRACED_ERROR = re.compile(r"\bgot \w+(?:Error|Exception)\((['\"])(.*?)\1\)\s*$", re.MULTILINE)


def _error_line(exc: BaseException) -> str:
    """The line of ``exc``'s message that says what went wrong.

    A TorchScript model's error starts with the interpreter's banner (the cause is on its last
    line); a compiled model's (``torch._dynamo``'s ``TorchRuntimeError``) with "RuntimeError when
    making fake tensor call", the operation's own error quoted further down.
    """
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    if "TorchScript interpreter" in lines[0]:
        return lines[-1]
    if type(exc).__module__.startswith("torch._dynamo"):
        traced = _TRACED_ERROR.search(text)
        if traced is not None:
            return traced.group(2)
    return lines[0]


def _describe(value: Any, depth: int = 0) -> str:
    """A batch (or a part of it) in a few words: ``float32 (16, 5)`` per tensor, nested as the batch is."""
    if isinstance(value, torch.Tensor):
        where = "" if value.device.type == "cpu" else f" on {value.device}"
        return f"{str(value.dtype).removeprefix('torch.')} {tuple(value.shape)}{where}"
    if depth >= 2:
        return type(value).__name__
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k!r}: {_describe(v, depth + 1)}" for k, v in list(value.items())[:6]) + "}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_describe(v, depth + 1) for v in list(value)[:6]) + ")"
    return type(value).__name__


def _all_finite(tensor: torch.Tensor) -> bool:
    """Whether every element of ``tensor`` is finite: from its sum when that is finite, else element by element.

    NaN and inf carry through a sum, so a finite sum means finite elements: one reduction, where
    ``torch.isfinite(t).all()`` runs several kernels (about 10 us on a CPU batch of 32 x 64, a
    fiftieth of a small model's step, every step). A sum that is not finite (NaN or inf in the
    tensor, or an overflow of finite values) is settled by ``isfinite``. Plain strided real
    tensors only; any other goes straight to ``isfinite``. Layouts ``isfinite`` has no kernel for
    are read another way: a sparse tensor by its stored values (a batch of sparse inputs failed
    with torch's "Could not run 'aten::ne.Scalar' with arguments from the 'SparseCPU' backend"), a
    nested tensor of the strided layout by its components, an MKL-DNN tensor densified, a float8 one
    as float16 (which holds its every value). A layout
    still without a kernel (torch's ``NotImplementedError``) is not judged (taken as finite); any
    other error (a CUDA fault, out of memory, a tensor subclass's own failure) is raised as it is:
    taken as finite, it hid the fault and the check.
    """
    if tensor.layout == torch.sparse_coo:
        tensor = tensor._values()
    elif tensor.layout in (torch.sparse_csr, torch.sparse_csc, torch.sparse_bsr, torch.sparse_bsc):
        tensor = tensor.values()
    elif tensor.layout == torch._mkldnn:  # type: ignore[attr-defined]
        tensor = tensor.to_dense()
    elif type(tensor) is torch.Tensor and tensor.is_nested:  # no sum, no isfinite: "NestedTensorCPU" backend
        return all(_all_finite(part) for part in tensor.unbind())
    if tensor.is_floating_point() and tensor.element_size() == 1:
        # float8 (inputs stored as float8_e4m3fn to save memory): no sum, no isfinite kernel ("sum_cpu" not
        # implemented for 'Float8_e4m3fn'), which failed every step. float16 holds each of its values, NaN and inf.
        tensor = tensor.detach().to(torch.float16)
    if type(tensor) is torch.Tensor and tensor.layout == torch.strided and not tensor.is_complex():
        if math.isfinite(tensor.detach().sum().item()):
            return True
    try:
        return bool(torch.isfinite(tensor).all())
    except NotImplementedError:
        if tensor.layout == torch.strided:
            raise
        return True  # a layout with no isfinite kernel: nothing to say about it


def _non_finite_parts(batch: Any, name: str = "", depth: int = 0) -> list[str]:
    """The parts of a batch holding NaN or inf (``inputs``, ``targets``, a dict key, ``part 2``), at most 3 deep."""
    if isinstance(batch, torch.Tensor):
        bad = (batch.is_floating_point() or batch.is_complex()) and not _all_finite(batch)
        return [name or "batch"] if bad else []
    if depth >= 3:
        return []
    if isinstance(batch, Mapping):
        return [p for key, value in batch.items() for p in _non_finite_parts(value, repr(key), depth + 1)]
    if isinstance(batch, (tuple, list)):
        names = ("inputs", "targets") if len(batch) == 2 and depth == 0 else None
        return [
            p
            for i, value in enumerate(batch)
            for p in _non_finite_parts(value, names[i] if names else f"{name}[{i}]" if name else f"part {i}", depth + 1)
        ]
    return []


class _NonFiniteDataWatch:
    """Tells a non-finite loss that NaN/inf in the data caused from one the learning rate caused.

    A step whose loss is non-finite while one of its batches holds NaN or inf is blamed on the data
    (:meth:`blame` returns those batches), unless an earlier step whose batch held NaN or inf gave a
    finite loss: such a model copes with those inputs itself (it masks or fills missing values), and
    its non-finite loss is the LR's, like any divergence. Until a step's batch shows that, each step's
    batches are looked at (one ``isfinite`` pass over their floating tensors, after the loss's own host
    sync); on clean data that goes on, at about the cost of reading the batch once.

    Under data parallelism :func:`range_test` calls :meth:`scan` on each rank's own batches and
    decides from what every rank found (carried by the loss's all-reduce), so the ranks agree.
    """

    def __init__(self) -> None:
        self.tolerates_non_finite = False

    def scan(self, batches: Sequence[Any]) -> list[tuple[int, list[str]]]:
        """``(position in batches, parts holding NaN/inf)`` for each batch holding any; ``[]`` once tolerated."""
        if self.tolerates_non_finite:
            return []
        return [(i, bad) for i, batch in enumerate(batches) if (bad := _non_finite_parts(batch))]

    def blame(self, batches: Sequence[Any], loss_finite: bool) -> list[tuple[int, list[str]]]:
        """``(position in batches, parts holding NaN/inf)`` to blame for a non-finite loss, else ``[]``."""
        found = self.scan(batches)
        if found and loss_finite:
            self.tolerates_non_finite = True
        return [] if loss_finite else found


def _non_finite_data_message(
    where: str, batch: Any, step: int, lr: float, value: float, parts: list[str], *, world: int = 1
) -> str:
    """Why a step's loss is non-finite when its batch holds NaN/inf: the data, not the LR.

    ``where`` names the batch (``"Batch 3 of the pass"``); the callback says it its own way. Under
    data parallelism (``world`` ranks, the loss their mean) a rank whose own batches were clean
    names another rank's batch, with ``batch=None`` and no ``parts``: that rank's error names them.
    An ``lr`` that is not finite (a step with no LR of its own) is left out of the message.
    """
    if parts:
        held = f"{where} holds NaN or inf in {', '.join(parts)} ({_batch_parts(batch)})"
    else:
        held = f"{where} holds NaN or inf (the DataError raised on that rank names the parts)"
    over = "" if world == 1 else f"the mean over the {world} ranks"
    # A step with no LR of its own to name (NaN) is worded without one, never "lr=nan".
    about = ", ".join(part for part in (f"lr={lr:.2e}" if math.isfinite(lr) else "", over) if part)
    return (
        f"{held}, and the loss of step {step}{f' ({about})' if about else ''} is {value}: the data made it non-finite, "
        "not the learning rate, and the curve would read it as a divergence. Clean the data (drop or repair those "
        "examples, e.g. with torch.nan_to_num or a filter in the Dataset) and run the test again."
    )


def _raise_if_non_finite_at_start(
    model: nn.Module,
    snapshot: StateSnapshot,
    loss_of: Callable[[Any], torch.Tensor],
    drawn: Sequence[tuple[Any, int]],
    step: int,
    lr: float,
    value: float,
) -> None:
    """Raise :class:`DataError` when a step's clean batch gives a non-finite loss at the starting weights too.

    The sweep stopped on a non-finite loss of a batch without NaN/inf; the curve reads that as the
    blow-up. The model, restored to the weights the test started from (the caller sets the sweep's
    first LR, as at step 0), takes the step's batches
    again (their loss only: no backward, no step): one whose loss is still non-finite is undefined
    there whatever the LR (a mean over no elements: ``cross_entropy`` with every target
    ``ignore_index``, a masked loss with an empty mask), and its step was no divergence. A batch
    ``loss_of`` fails on is not judged (the sweep's reading stands). ``snapshot`` is restored again
    afterwards, whatever happens (the forward moved BatchNorm statistics and the RNGs, the caller the
    LR; the caller watches for an optimizer a ``step_fn`` steps).
    """
    train_modes(model)
    try:
        undefined = first_non_finite_loss(drawn, loss_of)
    finally:
        snapshot.restore()
    if undefined is not None:
        raise DataError(undefined_loss_message(f"Batch {undefined} of the pass", step, lr, value))


def first_non_finite_loss(
    drawn: Sequence[tuple[Any, int]], loss_of: Callable[[Any], Any], *, every: bool = False
) -> int | None:
    """The index of the first of ``drawn`` (``(batch, index)`` pairs) whose loss is not finite, else ``None``.

    ``loss_of(batch)`` gives the loss, or ``None`` for none (a ``training_step`` that skipped the
    batch). A batch it fails on ends the look with ``None``: not judged, the sweep's own reading
    stands. Used by :func:`range_test` and the callback on the batches of the step whose loss
    stopped the sweep, at the starting state.

    With ``every=True`` the answer is the same, but ``loss_of`` runs on every batch of ``drawn``
    even once it is known: under data parallelism each rank then runs as many forward passes as
    the others (a forward may hold a collective, DDP's buffer broadcast or a ``SyncBatchNorm``),
    whatever its own batches give.
    """
    found: int | None = None
    failed = False
    for batch, index in drawn:
        if (found is not None or failed) and not every:
            break
        try:
            loss = loss_of(batch)
        except Exception:  # noqa: BLE001 - not judged: the sweep's own reading stands
            failed = True
            continue
        if found is None and not failed and loss is not None and not bool(torch.isfinite(loss.detach()).all()):
            found = index
    return found


def undefined_loss_message(where: str, step: int, lr: float, value: float) -> str:
    """Why a clean batch's non-finite loss is no divergence: it is non-finite at the starting weights too.

    ``where`` names the batch (``"Batch 4 of the pass"``; the callback says it its own way).
    """
    return (
        f"{where} gives a non-finite loss ({value}) at step {step} (lr={lr:.2e}) and at the weights the test started "
        "from too: the loss is undefined on that batch, not the learning rate, and the curve would read it as a "
        "divergence. The batch holds no NaN or inf: the loss cannot be computed on it, e.g. a mean over no elements "
        "(cross_entropy whose targets all equal ignore_index, a masked loss with an empty mask), a log of 0 or a "
        "division by 0. Make the loss finite on such batches (skip a term with nothing to average, or divide a "
        "reduction='sum' loss by max(count, 1)) and run the test again."
    )


def _reduced_step_loss(
    ranks: DataParallelRanks,
    parts: Sequence[torch.Tensor],
    drawn: Sequence[tuple[Any, int]],
    nan_watch: _NonFiniteDataWatch,
    step: int,
    lr: float,
) -> float:
    """A data-parallel step's loss, the mean over the ranks, with NaN/inf in any rank's batch caught on every rank.

    One ``all_reduce`` per step, as for the loss alone: while ``nan_watch`` still looks at the
    batches, the reduced tensor carries, after this rank's loss, one slot per rank holding the
    pass index + 1 of that rank's first micro-batch with NaN/inf (0: none). Every rank reads the
    same sums, so all of them raise the same :class:`DataError` (a non-finite loss with NaN/inf in
    some rank's batch) or all go on; a finite loss with NaN/inf in a batch tells every rank the
    model copes with such inputs (:class:`_NonFiniteDataWatch`), after which only the loss is
    reduced.

    Args:
        ranks: The model's process group.
        parts: This rank's micro-batch losses of the step.
        drawn: This rank's ``(batch, index in the pass)`` of the step's micro-batches.
        nan_watch: The sweep's watch (its tolerance is set here, alike on every rank).
        step: The step's index in the sweep (for the message).
        lr: The step's LR (for the message).

    Returns:
        The step's loss, the mean over the micro-batches and the ranks.

    Raises:
        DataError: The loss is non-finite and a batch of some rank held NaN or inf.

    """
    local = torch.stack([p.double() for p in parts]).mean()
    if nan_watch.tolerates_non_finite:
        return float(ranks.mean(local).item())
    found = nan_watch.scan([held for held, _ in drawn])
    marks = [0.0] * ranks.world
    if found:
        marks[ranks.rank] = float(drawn[found[0][0]][1] + 1)
    sums = ranks.sum(torch.cat([local.reshape(1), torch.tensor(marks, dtype=torch.float64, device=local.device)]))
    total, *held = sums.tolist()
    value = float(total) / ranks.world  # as ranks.mean divides: the same loss, bit for bit
    blamed = [(rank, int(mark) - 1) for rank, mark in enumerate(held) if mark > 0]
    return ranks_data_verdict(
        nan_watch, value, blamed, found, drawn, rank=ranks.rank, world=ranks.world, step=step, lr=lr,
        name=lambda index, rank: f"batch {index} of the pass on rank {rank}",
    )


def ranks_data_verdict(
    nan_watch: _NonFiniteDataWatch,
    value: float,
    blamed: Sequence[tuple[int, int]],
    found: Sequence[tuple[int, list[str]]],
    drawn: Sequence[tuple[Any, int]],
    *,
    rank: int,
    world: int,
    step: int,
    lr: float,
    name: Callable[[int, int], str],
    prefix: str = "",
) -> float:
    """What every rank does with a data-parallel step's loss once the ranks' NaN/inf marks came back with it.

    The same on every rank, as they all read the same reduced values: no rank marked a batch, the
    step's loss ``value`` is returned; one did and the loss is finite, the model copes with such
    inputs (``nan_watch`` stops looking) and ``value`` is returned; else :class:`DataError`, this
    rank's batch named first with its parts (``found``), the other ranks' after it. Shared by
    :func:`_reduced_step_loss` and the Lightning callback's step, which reduce the marks each
    their own way.

    Args:
        nan_watch: The sweep's watch.
        value: The step's loss, the mean over the ranks.
        blamed: ``(rank, index in the pass)`` of each rank's first batch with NaN/inf.
        found: This rank's ``(position in drawn, parts holding NaN/inf)`` (:meth:`_NonFiniteDataWatch.scan`).
        drawn: This rank's ``(batch, index in the pass)`` of the step.
        rank: This process's rank.
        world: Number of ranks.
        step: The step's index in the sweep (for the message).
        lr: The step's LR (for the message).
        name: ``name(index, rank)``, a batch in the message (``"batch 3 of the pass on rank 1"``).
        prefix: Put before the message (``"LRFinder: "``).

    Returns:
        ``value``.

    Raises:
        DataError: The loss is non-finite and a batch of some rank held NaN or inf.

    """
    if not blamed:
        return value
    if math.isfinite(value):
        nan_watch.tolerates_non_finite = True  # on every rank alike: they all read the same sums
        return value
    named = [name(index, other) for other, index in blamed if other != rank]
    held: Any = None
    bad: list[str] = []
    if found:
        i, bad = found[0]
        held, index = drawn[i]
        named.insert(0, name(index, rank))
    where = named[0][0].upper() + named[0][1:] + (f" (and {', '.join(named[1:])})" if len(named) > 1 else "")
    raise DataError(_non_finite_data_message(prefix + where, held, step, lr, value, bad, world=world))


def _batch_parts(batch: Any) -> str:
    """A batch in a few words, ``inputs float32 (16, 5), targets int64 (16,)`` for a pair."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return f"inputs {_describe(batch[0], 1)}, targets {_describe(batch[1], 1)}"
    return _describe(batch)


def _batch_message(
    exc: BaseException,
    batch: Any,
    model: nn.Module,
    index: int | None = None,
    first: str | None = None,
    *,
    other_formats: str = "pass step_fn(model, batch) -> loss for another batch format",
) -> str:
    """Why a batch did not go through ``model`` and ``loss_fn``, with the batch and the model described.

    ``index`` and ``first``: a later batch (its index in the pass), unlike the first one (described).
    ``other_formats``: what the caller's API offers for a batch format it cannot read (``train`` has no
    ``step_fn``), as the end of a sentence.
    """
    why = _error_line(exc)
    param = next(model.parameters(), None)
    dtype = "" if param is None else str(param.dtype).removeprefix("torch.")
    held = "" if param is None else f"; the model's parameters are {dtype} on {param.device}"
    parts = _batch_parts(batch)
    if index is not None and first is not None:
        return (
            f"Batch {index} of the pass does not go through the model and loss_fn ({type(exc).__name__}: {why}), "
            f"although the first batch did. The batch: {parts}; the first: {first}{held}. "
            "If it is the short last batch of a pass (the data does not divide by batch_size), set "
            "drop_last=True on the DataLoader or let the model take any batch size."
        )
    return (
        f"The first batch does not go through the model and loss_fn ({type(exc).__name__}: {why}). The batch: "
        f"{parts}{held}.{_input_dtype_fix(exc, batch, model, param)}{_class_dim_fix(exc, batch)}"
        f"{_input_kind_fix(exc, batch)}{_unpacked_inputs_fix(exc, batch, model)}{target_dtype_fix(exc, batch)} "
        "Check that the "
        "inputs have the shape and dtype "
        "the model takes and the targets the format loss_fn expects (class indices as int64 for cross_entropy, floats "
        f"of the output's shape for mse_loss), or {other_formats}."
    )


def _class_dim_fix(exc: BaseException, batch: Any) -> str:
    """`` cross_entropy takes the class scores in dim 1 ...`` for a sequence model's ``(N, T, C)`` scores, else ``""``.

    torch's "Expected target size [16, 12], got [16, 20]" is what ``F.cross_entropy`` (or ``nll_loss``)
    says of scores ``(N, T, C)`` against token labels ``(N, T)``: it reads dim 1 as the classes. The
    message said to check the targets' format, not that the scores' dims are the ones to move.
    Only for a pair batch whose targets are ``(N, T)``: a segmenter's ``(N, H, W)`` masks fail so on
    a size mismatch, which moving dims would not mend.
    """
    if "Expected target size" not in str(exc) or not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        return ""
    y = batch[1]
    if not isinstance(y, torch.Tensor) or y.dim() != 2:
        return ""
    return (
        " cross_entropy (and nll_loss) take the class scores in dim 1, (N, C, ...): scores a sequence model gives "
        "last, (N, T, C) against (N, T) labels, need loss_fn=lambda out, y: F.cross_entropy(out.transpose(1, 2), y)."
    )


def _unpacked_inputs_fix(exc: BaseException, batch: Any, model: nn.Module) -> str:
    """`` The inputs are a tuple of 2, which the model is called with as one argument ...`` when so, else ``""``.

    A pair batch whose inputs are several tensors, ``((x1, x2), y)`` or ``({"input_ids": ..., "attention_mask":
    ...}, y)`` (a tokenizer's output with its label), goes in as ``model(inputs)``. A ``forward(x1, x2)`` failed with
    "missing 1 required positional argument", a ``forward(input_ids, attention_mask=None)`` with "embedding():
    argument 'indices' must be Tensor, not dict", and the advice was to check the inputs' shape and dtype. Said
    only for a ``TypeError`` when ``forward``'s named parameters take the inputs unpacked: ``model(*inputs)``
    (as many as its positional parameters, at least its required ones) or ``model(**inputs)`` (every key one of
    its parameters, every required one given).
    """
    if not isinstance(exc, TypeError) or not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        return ""
    inputs = batch[0]
    try:
        # A compiled model's forward is torch's (*args, **kwargs): read the module it wraps.
        parameters = inspect.signature(getattr(model, "_orig_mod", model).forward).parameters.values()
    except (TypeError, ValueError):
        return ""
    kind = inspect.Parameter
    positional = [p for p in parameters if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)]
    by_name = {p.name for p in parameters if p.kind in (kind.POSITIONAL_OR_KEYWORD, kind.KEYWORD_ONLY)}
    variadic = (kind.VAR_POSITIONAL, kind.VAR_KEYWORD)
    required = [p for p in parameters if p.default is kind.empty and p.kind not in variadic]
    if isinstance(inputs, (tuple, list)) and len(required) <= len(inputs) <= len(positional) and len(inputs) > 1:
        if any(p.kind == kind.KEYWORD_ONLY for p in required):
            return ""
        what = "tuple" if isinstance(inputs, tuple) else "list"
        names = ", ".join(f"x{i + 1}" for i in range(len(inputs)))
        return (
            f" The inputs are a {what} of {len(inputs)}, which the model is called with as one argument, "
            f"model(inputs), while its forward takes them as separate arguments: let forward take one argument and "
            f"unpack it (def forward(self, inputs): {names} = inputs), or call model(*inputs) yourself."
        )
    if (
        isinstance(inputs, Mapping)
        and len(inputs) > 0
        and all(isinstance(key, str) for key in inputs)
        and set(inputs) <= by_name
        and {p.name for p in required} <= set(inputs)
    ):
        keys = ", ".join(repr(key) for key in inputs)
        return (
            f" The inputs are a dict ({keys}), which the model is called with as one argument, model(inputs), while "
            f"{type(model).__name__}.forward takes them by name: call model(**inputs) yourself, or let forward take "
            "the dict."
        )
    return ""


def _input_kind_fix(exc: BaseException, batch: Any) -> str:
    """A sentence on what to change for two first-batch failures torch words without the fix, else ``""``.

    - A BatchNorm layer given one example per channel in training mode ("Expected more than 1 value per
      channel when training"): a batch size of 1, which the shape check advice did not cover.
    - Inputs given as a numpy array or a Python list ("must be Tensor, not numpy.ndarray"): batches
      made by hand from numpy data, which a DataLoader's collate would have converted.
    """
    text = str(exc)
    if "more than 1 value per channel when training" in text:
        return (
            " A BatchNorm layer in training mode needs more than one value per channel: use batches of 2 or "
            "more examples (drop_last=True drops a short last batch of 1)."
        )
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[0], (np.ndarray, list, tuple)):
        if "must be Tensor" in text or "not numpy.ndarray" in text or "not list" in text:
            if isinstance(batch[0], np.ndarray):
                return (
                    " The inputs are a numpy array and the model takes tensors: pass the batches through "
                    "DataLoader(batches, batch_size=None), which converts numpy arrays to tensors, or convert them "
                    "with torch.as_tensor(x, dtype=torch.float32)."
                )
            return (
                f" The inputs are a Python {type(batch[0]).__name__} and the model takes tensors: convert them with "
                "torch.tensor(x, dtype=torch.float32) (and the targets with torch.tensor(y))."
            )
    return ""


#: What torch says of integer or bool targets given to a loss that computes in floats: BCE(WithLogits)'s
#: forward ("result type Float can't be cast to the desired output type Long"), binary_cross_entropy's forward
#: and huber/smooth_l1's backward ("Found dtype Long but expected Float"), l1 or BCEWithLogits on bool targets.
_FLOAT_TARGET_ERRORS = re.compile(
    r"can't be cast to the desired output type|Found dtype \w+ but expected (Float|Double|Half|BFloat16)"
    r"|operator, with (a|two) bool tensors? is not supported"
)


def target_dtype_fix(exc: BaseException, batch: Any) -> str:
    """`` The targets are int64 and the loss takes float targets: convert ...`` for that failure, else ``""``.

    Multi-label targets (a ``MultiLabelBinarizer``'s 0/1 matrix) and 0/1 regression labels usually come as
    integers; ``BCEWithLogitsLoss``, ``binary_cross_entropy``, ``huber_loss`` and ``smooth_l1_loss`` refuse them
    with "result type Float can't be cast to the desired output type Long" or "Found dtype Long but expected
    Float" (the latter from inside the backward pass), which the shape-and-dtype advice did not explain.
    Only for a pair batch whose targets are an integer or bool tensor and an error of that kind.
    """
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        return ""
    y = batch[1]
    if not isinstance(y, torch.Tensor) or y.is_floating_point() or y.is_complex():
        return ""
    if not _FLOAT_TARGET_ERRORS.search(str(exc)):
        return ""
    have = str(y.dtype).removeprefix("torch.")
    return (
        f" The targets are {have} and loss_fn computes with float targets (binary_cross_entropy_with_logits, "
        "binary_cross_entropy, huber_loss and smooth_l1_loss take 0/1 or real-valued targets as floats of the "
        "output's shape): convert them with y.float() (in the Dataset or a collate_fn); class indices for "
        "cross_entropy stay int64."
    )


def _input_dtype_fix(exc: BaseException, batch: Any, model: nn.Module, param: torch.Tensor | None) -> str:
    """`` The inputs are float64 and the model's parameters float32: convert ...`` for a dtype failure, else ``""``.

    torch says "mat1 and mat2 must have the same dtype, but got Double and Float" of a float64 array read with
    ``torch.from_numpy`` (numpy's default) or int64 features; the message said to check the dtype, not how.
    Only a pair batch whose inputs are a tensor of another dtype than the model's, failing on a dtype, is said;
    not a failure on the targets' dtype ("expected target dtype to be Long"), nor integer inputs of a model with
    an ``nn.Embedding``, which are its token ids (an int32 target was answered "convert the inputs to float32").
    """
    text = str(exc).lower()
    if ("dtype" not in text and "scalar type" not in text) or "target" in text:
        return ""
    if param is None or not param.is_floating_point() or not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        return ""
    x = batch[0]
    if not isinstance(x, torch.Tensor) or x.dtype == param.dtype:
        return ""
    if not x.is_floating_point() and any(isinstance(m, (nn.Embedding, nn.EmbeddingBag)) for m in model.modules()):
        return ""
    have, want = str(x.dtype).removeprefix("torch."), str(param.dtype).removeprefix("torch.")
    if x.is_floating_point():
        how = (
            f"convert the inputs with x.to(torch.{want}) (in the Dataset or a collate_fn; torch.from_numpy keeps "
            f"numpy's float64), or the model with model.to(torch.{have})."
        )
    else:  # token ids go to an nn.Embedding as integers: only features are converted
        how = f"features for Linear or Conv layers are floats, so convert them with x.to(torch.{want})."
    return f" The inputs are {have} and the model's parameters {want}: {how}"


#: What an optimizer none of whose parameters the first step's loss reaches is told.
_NO_GRADIENT = (
    "None of the optimizer's parameters got a gradient from the first step's loss: the loss does not depend on what "
    "the optimizer steps (a submodule forward does not use, or a part it detaches), so no step would change it and "
    "the curve would be flat. Create the optimizer over the parameters the forward pass uses (model.parameters())."
)


@contextlib.contextmanager
def first_step_errors(optimizer: torch.optim.Optimizer, first: bool) -> Iterator[None]:
    """Around an optimizer step: on the test's first step, a failure is a :class:`ModelError` saying why.

    The step at the smallest LR failed with torch's bare message ("Adam does not support sparse
    gradients"); :func:`_first_step_message` says it fails before any swept LR matters. A later
    step's failure, and lrfinder's own errors, pass through unchanged. Used by ``range_test`` and
    the callback's stepper.
    """
    try:
        yield
    except LRFinderError:
        raise
    except Exception as exc:
        if not first:
            raise
        raise ModelError(_first_step_message(optimizer, exc)) from exc


def _first_step_message(optimizer: torch.optim.Optimizer, exc: BaseException) -> str:
    """Why the optimizer's very first step failed: at the smallest LR, so not the sweep's doing."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    why = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    name = type(optimizer).__name__
    start = (
        f"{name}.step() failed on the range test's first step ({why}). It fails before any swept LR matters, so it "
        "would fail in training too"
    )
    sparse = any(p.grad is not None and p.grad.is_sparse for g in optimizer.param_groups for p in g["params"])
    if sparse:
        # The device/dtype advice below misled here: the gradients' layout is what the optimizer refuses.
        return (
            f"{start}: some of its parameters got sparse gradients (nn.Embedding(sparse=True) or "
            "EmbeddingBag(sparse=True) makes them), which most optimizers cannot step. Build the embedding with "
            "sparse=False, or step its parameters with an optimizer for sparse gradients (torch.optim.SparseAdam, "
            "SGD, Adagrad) and sweep that one."
        )
    return (
        f"{start}: check the optimizer's settings against the model's parameters (their device and dtype: "
        "capturable=True or fused=True need a device that supports them)."
    )


#: How to mend a ``SparseAdam`` over dense gradients, in the range test (see :func:`check_sparse_gradients`).
_SPARSE_ADAM_FIX = (
    "Give SparseAdam only the sparse embeddings' parameters (the range test then sweeps them alone), or sweep an "
    "optimizer for dense gradients such as Adam over the whole model."
)


def check_sparse_gradients(model: nn.Module, optimizer: torch.optim.Optimizer, fix: str = _SPARSE_ADAM_FIX) -> None:
    """Refuse a ``SparseAdam`` whose parameters got dense gradients (torch fails inside its step).

    torch's own "SparseAdam does not support dense gradients, please consider Adam instead" comes from inside
    the step and names no parameter (and Adam refuses the embeddings' sparse gradients).

    Args:
        model: The model the optimizer's parameters belong to (for their names).
        optimizer: A ``SparseAdam`` whose gradients the first backward has filled.
        fix: The sentences that end the message: what to do, in the caller's terms.

    Raises:
        ModelError: Some parameter of the optimizer has a dense gradient.

    """
    names = {id(p): n for n, p in model.named_parameters()}
    params = [p for g in optimizer.param_groups for p in g["params"]]
    dense = [names.get(id(p), "?") for p in params if p.grad is not None and not p.grad.is_sparse]
    if dense:
        raise ModelError(
            f"SparseAdam steps sparse gradients only (those of nn.Embedding(sparse=True)), but {len(dense)} of its "
            f"parameters got dense ones (first: {dense[0]}). {fix}"
        )


def _has_grads(optimizer: torch.optim.Optimizer) -> bool:
    return any(p.grad is not None for g in optimizer.param_groups for p in g["params"])


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
            "tensor (a complex loss: take its real part or abs(); an integer one is not differentiable)."
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


class CyclingBatches:
    """Cycles through an iterable of batches, starting it again when it runs out (logged once, at INFO).

    :meth:`next` returns ``(batch, batch_idx)``, the index counting from 0 within each pass.
    Subclasses may override :meth:`_unwrap` to adapt what the iterator yields.
    """

    def __init__(self, data: Iterable[Any]) -> None:
        self.data = data
        self._it: Iterator[Any] | None = None
        self._idx = 0
        self._passes = 0  # passes completed
        self._made: object | None = None  # a persistent-workers iterator the first pass left on the loader

    def _start(self) -> Iterator[Any]:
        before = _iterator_of(self.data)
        it = own_iterator(self.data, self._made)
        if before is None:
            self._made = _iterator_of(self.data)
        return it

    def _unwrap(self, item: Any) -> Any:
        return item

    def next(self) -> tuple[Any, int]:
        """The next batch and its index in the current pass.

        Raises:
            DataError: The data yields no batch at all, or a one-shot iterator (a generator) ran
                out and cannot be started again.

        """
        if self._it is None:
            self._it = self._start()
        try:
            batch = self._unwrap(next(self._it))
        except StopIteration:
            used = self._idx
            self._it = self._start()
            self._idx = 0
            try:
                batch = self._unwrap(next(self._it))
                if not self._passes:
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
                        "iterator (e.g. a generator), and the range test cycles its data. Pass a DataLoader, a "
                        f"list of batches or another re-iterable, or plan at most {used} batches (num_steps x "
                        "accumulation)."
                    ) from None
                raise DataError(empty_data_message(self.data)) from None
        idx = self._idx
        self._idx += 1
        return batch, idx


def infer_batch_size(data: object, batch: Any = None) -> int | None:
    """Batch size of ``data``: its ``batch_size`` attribute, else the leading dim of ``batch``.

    Of an ``(inputs, targets, ...)`` batch whose inputs are sequence-first (``(T, N, F)``, with
    every other item's leading dim ``N``), it is ``N``, not the sequence length ``T``.
    A DataLoader whose ``batch_size`` is larger than its sampler (its data) gives batches of
    the whole data: their size is the sampler's length, not ``batch_size``.
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
    if not (isinstance(first, torch.Tensor) and first.dim() > 0):
        return None
    size = int(first.shape[0])
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
    and ``Batch(x=x, y=y)`` all give ``x``.
    """
    first = batch
    while True:
        if isinstance(first, (tuple, list, Mapping)) and first:
            first = next(iter(first.values())) if isinstance(first, Mapping) else first[0]
        elif dataclasses.is_dataclass(first) and not isinstance(first, type) and dataclasses.fields(first):
            first = getattr(first, dataclasses.fields(first)[0].name)  # a dataclass batch: its first field
        else:
            return first


_P = ParamSpec("_P")
_R = TypeVar("_R")


def peer_hints(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn``, answering an unknown keyword with the lrfinder name for it: ``end_lr`` -> ``max_lr``.

    A call moved from torch-lr-finder (``end_lr=10, num_iter=100``) or Lightning's tuner
    (``num_training``) got Python's bare "unexpected keyword argument"; the peers' names are
    :data:`~lrfinder.names.PEER_OPTION_NAMES`, the close misspellings ``difflib``'s, as
    ``find_lr`` says them, and a peer option without a counterpart (``val_loader``, ``smooth_f``)
    is told what to do instead (:func:`~lrfinder.names.peer_notes`). Used on ``range_test`` and
    on ``LRFinder.__init__`` (named by ``__qualname__``, as Python does). ``functools.wraps``
    keeps ``fn``'s ``inspect.signature`` (through ``__wrapped__``, which LightningCLI reads) and
    its type; the warnings ``fn`` raises find the caller's line past this frame
    (:func:`~lrfinder._checks.caller_stacklevel`).
    """
    names = list(inspect.signature(fn).parameters)

    @functools.wraps(fn)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        unknown = [key for key in kwargs if key not in names]
        if unknown:
            said = ", ".join(map(repr, unknown))
            what = (
                f"unexpected keyword arguments {said}" if len(unknown) > 1 else f"an unexpected keyword argument {said}"
            )
            raise TypeError(
                f"{fn.__qualname__}() got {what}."
                + did_you_mean_each(unknown, names, PEER_OPTION_NAMES)
                + peer_notes(unknown)
            )
        return fn(*args, **kwargs)

    return call


@peer_hints
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
    device: str | torch.device | None = None,
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
    same step and reads the same suggestion; ``result.batch_size`` is the global batch (per rank
    x ranks x ``accumulate_steps``), ``noise_scale`` pairs each rank's own gradient with the
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
            the optimizer may hold them, and they are restored with the model.
        step_fn: ``step_fn(model, batch) -> loss`` for any other batch format (takes precedence:
            ``loss_fn`` given too is not used, with a warning).
        min_lr: First LR (> 0).
        max_lr: Last LR (> ``min_lr``).
        num_steps: Number of optimizer steps planned (>= 10).
        mode: ``"exp"`` (even in log LR) or ``"linear"``.
        stop_factor: Divergence threshold (> 1); ``None`` never stops early.
        accumulate_steps: Micro-batches per optimizer step; the recorded loss is their mean.
        device: Where batches go; default the model's device (the model must already be there).
        restore: Put the model, optimizer, RNGs and data order back afterwards (also on error
            or Ctrl-C), and any other optimizer a ``step_fn`` steps (a GAN's critic, see
            :meth:`StateSnapshot.watching_optimizers`). With ``False`` the model is left as trained
            by the sweep.
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
        val_data: Validation batches (the training batches' format) that ``refine`` judges its
            trials on (the first ``Refine.val_batches``); without it the first training batches
            are held out for that. Only used with ``refine``.
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

    Returns:
        A :class:`RangeTestResult`; ``result.suggestion`` is ``None`` and ``result.error`` says
        why when the curve is inconclusive.

    Raises:
        ValueError: A setting out of range (named, with the value), an optimizer whose
            ``step`` needs a closure (``LBFGS``), or one with ``maximize=True`` (see
            :func:`check_minimizes`).
        TypeError: A setting of the wrong type, or a class where an instance is expected
            (``optimizer=torch.optim.Adam``, ``loss_fn=nn.CrossEntropyLoss``).
        DataError: Empty data or a batch of no examples, a map-style ``Dataset`` or a pair of
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

    Warns:
        UserWarning: ``train_data`` is a one-shot iterator (a generator) with ``restore``: the
            batches drawn cannot be put back. Or the optimizer keeps state that cannot be restored
            (see :class:`StateSnapshot`).
        LRFinderError: ``refine`` without ``training_steps`` (pass
            ``refine=lrfinder.Refine(training_steps=N)``).

    Example:
        >>> result = range_test(model, loader, loss_fn=F.cross_entropy)  # doctest: +SKIP
        >>> result.suggestion.lr  # doctest: +SKIP

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
    if not is_choice(rule, RULES):  # checked before the sweep, not by analyze() once it has run
        raise ValueError(f"Expected rule to be one of {', '.join(RULES)}, but got rule={rule!r}")
    settings = replace(
        settings,
        precision=cast(Precision, precision),
        gradient_clip_val=None if gradient_clip_val is None else float(plain(gradient_clip_val)),
        gradient_clip_algorithm=cast(GradientClipAlgorithm, gradient_clip_algorithm),
    )
    check_flag("restore", restore)
    check_flag("noise_scale", noise_scale)
    check_callable("loss_fn", loss_fn, "e.g. torch.nn.functional.cross_entropy", arity=2)
    check_callable("step_fn", step_fn, "step_fn(model, batch) -> loss", arity=2)
    check_callable("on_step", on_step, "on_step(index, lr, loss)", arity=3)
    check_callable("on_trial", on_trial, "on_trial(index, lr, steps_done, loss)", arity=4)
    check_iterable("train_data", train_data)
    check_not_a_dataset("train_data", train_data)
    if val_data is not None:
        check_not_a_dataset("val_data", val_data)
    if step_fn is None:
        check_not_a_tensor_pair("train_data", train_data)
        if val_data is not None:
            check_not_a_tensor_pair("val_data", val_data)
    elif loss_fn is not None:
        warnings.warn(
            "range_test got both step_fn and loss_fn: step_fn computes each batch's loss, so loss_fn is not used. "
            "Drop loss_fn, or call it inside step_fn.",
            UserWarning,
            stacklevel=caller_stacklevel(),
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
    elif val_data is not None:
        raise ValueError("val_data is only used by refine; pass refine=lrfinder.Refine(training_steps=N) as well")
    elif on_trial is not None:
        # A hook that is never called: the progress it was to show for the trials never came, without a word.
        warnings.warn(
            "on_trial is called by refine's trial runs only, and refine is not set: it is never called. Pass "
            "refine=lrfinder.Refine(training_steps=N) as well, or drop on_trial.",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
    trainable = trainable_parameters(model)
    # Before anything reads the parameters' device or copies them: a meta tensor has no values to use.
    check_materialized(model, lazy=restore)
    frozen = traced_in_eval_mode(model)
    if frozen:
        warnings.warn(traced_in_eval_message(frozen), stacklevel=caller_stacklevel())
    if optimizer is None:
        optimizer = torch.optim.SGD(trainable, lr=min_lr, momentum=0.9)
    elif not isinstance(optimizer, torch.optim.Optimizer):
        if isinstance(optimizer, type) and issubclass(optimizer, torch.optim.Optimizer):
            raise TypeError(
                f"Expected optimizer to be a torch.optim.Optimizer, but got the class {optimizer.__name__}. Pass an "
                f"instance: optimizer={optimizer.__name__}(model.parameters(), lr=...)"
            )
        raise TypeError(f"Expected optimizer to be a torch.optim.Optimizer, but got {type(optimizer).__name__}")
    check_steps_without_closure(optimizer)
    # A loss module with parameters of its own (a learnable temperature) trains with the model: the
    # optimizer may hold them, and they are restored with the model.
    owner = with_loss_module(model, loss_fn)
    check_optimizer_of(owner, optimizer)
    check_optimizer_trains(optimizer)
    check_minimizes(optimizer)
    sweeper = LRSweeper([optimizer])  # checks that every group has an LR to sweep
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
    if autocast_dtype is None and caller_autocast(target):
        warnings.warn(
            f"range_test was called inside torch.autocast, which the test switches off: it runs at its own "
            f"precision={precision!r}. To test in mixed precision, pass precision='bf16-mixed' (or '16-mixed').",
            stacklevel=caller_stacklevel(),
        )
    if precision == "16-mixed" and _needs_closure(optimizer):
        raise ValueError(
            f"precision='16-mixed' steps through torch's GradScaler, which cannot pass {type(optimizer).__name__}."
            "step the closure it needs. Use precision='bf16-mixed' or '32' with this optimizer."
        )
    hooked = outside_step_hooks(optimizer) if restore else []
    if hooked:
        warnings.warn(
            f"The optimizer has step hooks ({', '.join(hooked[:3])}{' ...' if len(hooked) > 3 else ''}): they run at "
            "every step of the range test, and what they change outside the model and the optimizer (an EMA or SWA "
            "copy of the weights, a counter) is not put back. Remove them for the test (handle.remove()), or save "
            "what they update and load it back afterwards.",
            stacklevel=caller_stacklevel(),
        )
    snapshot = StateSnapshot(owner, [optimizer], [train_data], module_attributes=True) if restore else None
    scaler = None
    scaler_state: dict[str, Any] | None = None
    if precision == "16-mixed":
        scaler = grad_scaler if grad_scaler is not None else torch.amp.GradScaler(target.type)
        # The whole object state: state_dict() is empty (and unloadable) before the first step.
        scaler_state = copy.deepcopy(scaler.__dict__) if restore else None
    if restore and isinstance(train_data, Iterator):
        warnings.warn(
            f"train_data is a one-shot iterator ({type(train_data).__name__}): the batches the range test draws "
            "from it are used up, and restore cannot put them back, so training would start where the test "
            "stopped. Pass a DataLoader or a list of batches to leave the data as it was.",
            stacklevel=caller_stacklevel(),
        )
    batches = CyclingBatches(train_data)
    plan = lr_schedule(settings.min_lr, settings.max_lr, settings.num_steps, settings.mode)
    batch_size: list[int | None] = []
    first_batch: list[str] = []  # how the first batch looked (_describe), to name a later one unlike it
    # A model wrapped for data parallelism (DDP, FSDP) averages each step's loss over its ranks, so
    # every rank records the same curve, stops at the same step and reads the same suggestion.
    ranks = data_parallel_ranks(model, target)
    world = 1 if ranks is None else ranks.world
    probe = NoiseProbe(p for g in optimizer.param_groups for p in g["params"]) if noise_scale else None
    noise_unmeasured = None
    if probe is not None and ranks is not None and ranks.sharded:
        # Each rank holds a shard of every parameter: its gradient norms are not the whole gradient's.
        probe, noise_unmeasured = None, "not measured under FSDP: each rank holds only a shard of the gradient"
    index = [0]

    def loss_of(batch: Any) -> torch.Tensor:
        with autocast(target, autocast_dtype):
            return _check_loss(_batch_loss(model, batch, loss_fn, step_fn))

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
    reevaluate = make_reevaluate(optimizer, step_batches, loss_of, settings.accumulate_steps, clip, sync)

    nan_watch = _NonFiniteDataWatch()
    non_finite: list[tuple[list[tuple[Any, int]], int, float, float]] = []  # the step whose loss was not finite

    def step(lr: float) -> float:
        optimizer.zero_grad(set_to_none=True)
        parts: list[torch.Tensor] = []
        sizes: set[int | None] = set()
        step_batches.clear()
        drawn: list[tuple[Any, int]] = []  # the step's micro-batches, to name one holding NaN/inf
        for micro in range(settings.accumulate_steps):
            batch, batch_index = batches.next()
            if not batch_size:
                batch_size.append(infer_batch_size(train_data, batch))
            examples = infer_batch_size(None, batch)  # moving it to the device keeps its size
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
                    with target_broadcast_refused(not first_batch and step_fn is None and loss_fn is not None):
                        loss = loss_of(batch)
                except LRFinderError:
                    raise
                except _MISMATCH_ERRORS as exc:
                    raise_if_compile_failed(exc)
                    # A batch that does not fit the model or loss_fn is said in terms of the batch: the
                    # first one, or a later one unlike it (the short last batch of a pass).
                    if step_fn is not None or _is_out_of_memory(exc):
                        raise
                    if not first_batch:
                        raise DataError(_batch_message(exc, batch, model)) from exc
                    if _batch_parts(batch) != first_batch[0]:
                        raise DataError(_batch_message(exc, batch, model, batch_index, first_batch[0])) from exc
                    raise
                if not first_batch:
                    first_batch.append(_batch_parts(batch))
                    _warn_unused_keys(batch, loss_fn, step_fn)
                if with_closure:
                    step_batches.append(batch)
                drawn.append((batch, batch_index))
                sizes.add(examples)
                # Gradients already there: the step_fn ran its own backward (its graph may be freed).
                ran_backward = step_fn is not None and not parts and _has_grads(optimizer)
                # Not divided by 1: the division's autograd node cost about 10 us a step, and x / 1 is x, bit for bit.
                part = loss if settings.accumulate_steps == 1 else loss / settings.accumulate_steps
                if micro_probe is not None:
                    micro_probe.before_backward()
                try:
                    (part if scaler is None else scaler.scale(part)).backward()
                except RuntimeError as exc:
                    if ran_backward:
                        raise ModelError(_BACKWARD_IN_STEP_FN) from exc
                    # Integer targets that huber_loss's backward refuses: said of the batch, as a forward's failure.
                    if step_fn is None and index[0] == 0 and micro == 0 and target_dtype_fix(exc, batch):
                        raise DataError(_batch_message(exc, batch, model)) from exc
                    raise
                if micro_probe is not None:
                    micro_probe.after_backward()
            parts.append(loss.detach())
        # One host sync per optimizer step: the stop rule needs the value anyway. A NaN in the data made
        # the loss NaN at some LR, and the curve read it as the divergence (or advised a lower max_lr):
        # nan_watch tells the two apart.
        if ranks is not None:
            value = _reduced_step_loss(ranks, parts, drawn, nan_watch, index[0], lr)
        else:
            value = float(torch.stack(parts).double().mean().item()) if len(parts) > 1 else float(parts[0].item())
            for i, bad in nan_watch.blame([held for held, _ in drawn], math.isfinite(value)):
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
            raise ModelError(_NO_GRADIENT)
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
                # torch's stubs type the closure as returning a float; its optimizers hand back what it returns.
                optimizer.step(StepClosure(optimizer, torch.stack(parts).mean(), reevaluate))  # type: ignore[arg-type]
            elif math.isfinite(value):
                optimizer.step()
        step_batches.clear()
        return value

    train_modes(model)
    try:
        # Another optimizer the step_fn steps (a GAN's critic) is put back with the rest.
        with training_grad_mode(target), (
            snapshot.watching_optimizers() if snapshot is not None else contextlib.nullcontext()
        ):
            lrs, losses, reason = run_sweep(
                step, plan, sweeper=sweeper, stop_factor=settings.stop_factor, on_step=on_step
            )
    finally:
        for hook in hooks:
            hook.remove()
        if snapshot is not None:
            snapshot.restore()
        if scaler is not None and scaler_state is not None:
            scaler.__dict__.clear()
            scaler.__dict__.update(scaler_state)
    if reason == "non_finite" and non_finite and non_finite[0][1] > 0 and snapshot is not None and ranks is None:
        # A clean batch whose loss is not finite at the starting weights either: the loss, not the LR. (At step 0
        # the curve says it: the untouched model's loss.)
        with training_grad_mode(target), snapshot.watching_optimizers():
            sweeper.set(float(plan[0]))  # as at step 0, whose loss was finite (a loss may read the LR)
            _raise_if_non_finite_at_start(model, snapshot, loss_of, *non_finite[0])
    size = batch_size[0] * settings.accumulate_steps * world if batch_size and batch_size[0] is not None else None
    result = finish_result(
        lrs,
        losses,
        reason,
        settings=settings,
        batch_size=size,
        model_name=type(getattr(model, "_orig_mod", model)).__name__,  # torch.compile's wrapper: the user's class
        num_parameters=sum(p.numel() for p in trainable),
        optimizer_name=type(optimizer).__name__,
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
    if refine_settings is None:
        return result
    if result.stop_reason == "interrupted":
        # Ctrl-C stops the whole call: no re-sweeps or trials after it (the state is restored).
        warnings.warn(
            "The range test was interrupted, so refine did not run: the result has no refinement. Run the test to "
            "the end to refine it.",
            stacklevel=caller_stacklevel(),
        )
        return result
    from .refine import refine_range_test

    def sweep(lo: float, hi: float, steps: int) -> RangeTestResult:
        again = range_test(
            model, train_data, optimizer=optimizer, loss_fn=None if step_fn else loss_fn, step_fn=step_fn,
            min_lr=lo, max_lr=hi,
            num_steps=steps, mode=mode, stop_factor=stop_factor, accumulate_steps=accumulate_steps, device=device,
            rule=rule, on_step=on_step, precision=precision, grad_scaler=grad_scaler,
            gradient_clip_val=gradient_clip_val, gradient_clip_algorithm=gradient_clip_algorithm,
        )
        if again.stop_reason == "interrupted":
            # The re-sweep restored everything; Ctrl-C stops the refinement, as it does in a trial (and in the
            # callback's re-sweeps): the caller (the CLI: exit 130) sees it, not a refinement built after it.
            raise KeyboardInterrupt
        # The noise scale is the first sweep's (re-sweeps do not measure it): kept when a re-sweep's curve is read,
        # as the callback keeps it.
        return replace(again, noise_scale=result.noise_scale, noise_error=result.noise_error)

    new_scaler = None
    if scaler is not None:
        began = scaler_state
        assert began is not None  # refine needs restore=True, so the starting state was saved

        def new_scaler() -> Any:
            # Each trial starts from the scaler state the sweep began with (as the model does).
            fresh = torch.amp.GradScaler(target.type)
            fresh.__dict__.update(copy.deepcopy(began))
            return fresh

    try:
        with training_grad_mode(target):
            refined = refine_range_test(
                result, refine_settings, model=model, train_data=train_data, optimizer=optimizer, loss_fn=loss_fn,
                step_fn=step_fn, device=target, val_data=val_data, sweep=sweep, autocast_dtype=autocast_dtype,
                new_scaler=new_scaler, clip=clip, reduce=None if ranks is None else ranks.mean_list,
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
        warnings.warn(diverged, stacklevel=caller_stacklevel())
    return refined


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
        f" The divergence rule ended the test after {len(lrs)} steps, at lr={float(lrs[-1]):.2e}, when the "
        f"smoothed loss rose past its best by the margin a stop_factor of {factor:g} allows; if the loss had not "
        "blown up there, the rule stopped on noise: raise stop_factor (the default is 4)."
    )


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
        suggestion = analyze(lrs, losses, rule=rule)
    except InconclusiveCurveError as exc:
        error = str(exc)
        if stop_reason == "interrupted":
            # The curve ends where the user stopped it, not where the model or the sweep did: advice
            # such as "increase max_lr" or "records more points before the loss blows up" would mislead.
            where = f", at lr={float(lrs[-1]):.2e}," if len(lrs) else ""
            error = (
                f"The test was interrupted after {len(lrs)} steps{where} before the end of its sweep: run it to the "
                f"end to read the curve. What the steps recorded say: {error}"
            )
        elif stop_reason == "diverged" and len(lrs) < MIN_POINTS:
            error += _early_stop_words(lrs, fields.get("settings"))
        logger.info("Range test inconclusive: %s", error)
    return RangeTestResult(
        lrs=tuple(float(v) for v in lrs),
        losses=tuple(float(v) for v in losses),
        stop_reason=stop_reason,
        suggestion=suggestion,
        error=error,
        **fields,
    )
