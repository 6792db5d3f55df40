"""The range test's settings and the checks of its arguments.

:class:`RangeTestSettings` and :func:`validate_settings` (the sweep's LR range, steps, mode and
stop rule), :func:`lr_schedule` (the LR at each step those settings define), and the checks
``range_test``, the callback and ``train`` run on what they are given (callables, data, device,
precision, clipping, the model and its optimizer), each naming the argument, the rule and the value.
"""

from __future__ import annotations

import functools
import inspect
import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

import numpy as np
import torch
from torch import nn
from torch.nn.parameter import is_lazy

from ._checks import (
    check_module_initialised,
    is_choice,
    is_int,
    is_number_tensor,
    is_real,
    is_single_number,
    not_a_module_message,
    plain,
    real_number,
    whole_number_hint,
)
from ._fabric import optimizer_class_name
from ._warn import warn
from ._wording import plural, word
from .analysis import check_curve
from .diagnostics import _STEP_FN_FIX, _describe
from .exceptions import DataError, ModelError
from .names import (
    GRADIENT_CLIP_ALGORITHMS,
    GRADIENT_CLIP_ALIASES,
    PEER_OPTION_NAMES,
    PRECISION_ALIASES,
    PRECISIONS,
    RECORDED_PRECISIONS,
    RULES,
    SWEEP_MODE_ALIASES,
    SWEEP_MODES,
    Curve,
    GradientClipAlgorithm,
    RecordedPrecision,
    SweepMode,
    did_you_mean,
    did_you_mean_each,
    peer_notes,
    trainer_side,
    unknown_rule_hint,
)

#: The most steps a sweep may plan (:func:`lr_schedule`, :func:`range_test`): a range test needs hundreds, and
#: the plan and the curve are kept in memory; ``num_steps=1e9`` allocated 8 GB before the first step.
MAX_SWEEP_STEPS = 1_000_000


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
    #: The processes (DDP ranks) each step's batch was split over: the result's ``batch_size`` is their sum.
    world_size: int = 1
    #: The loss each step recorded: ``"train"``, the step's training loss; ``"val"``, the mean loss over ``val_data``
    #: after the step (``range_test(curve="val")``).
    curve: Curve = "train"

    def __post_init__(self) -> None:
        """Check every setting as :func:`range_test` does, and store numpy numbers and 0-d tensors as Python ones.

        A plan as short as 2 steps is allowed (:func:`lr_schedule`'s minimum; ``range_test`` asks
        for 10), and any non-empty precision name (the callback records the Trainer's).

        Raises:
            TypeError: A setting of the wrong type (``min_lr="1e-5"``).
            ValueError: A setting out of range, named with the rule and the value.

        """
        # 0-d tensors and numpy scalars (torch.tensor(1e-3), np.int64(100)) as the Python numbers they hold.
        for name in (
            "min_lr", "max_lr", "num_steps", "stop_factor", "accumulate_steps", "gradient_clip_val", "world_size"
        ):  # fmt: skip
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
        if not is_int(self.world_size) or self.world_size < 1:
            raise ValueError(f"Expected world_size to be an int >= 1, but got world_size={self.world_size!r}")
        check_gradient_clipping(self.gradient_clip_val, self.gradient_clip_algorithm)
        check_curve(self.curve)
        # np.float32 and friends pass the checks but not json.dumps: to_json failed on them.
        for name in ("min_lr", "max_lr", "stop_factor", "gradient_clip_val"):
            value = getattr(self, name)
            if value is not None and type(value) is not float:
                object.__setattr__(self, name, float(value))
        for name in ("num_steps", "accumulate_steps", "world_size"):
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
        raise ValueError(
            f"Expected precision='16-mixed' with a grad_scaler, but got precision={precision!r}: a GradScaler scales "
            "float16 losses, so pass precision='16-mixed' with it, or drop grad_scaler for "
            f"precision={precision!r} (it needs none)"
        )
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
_PRECISION_ALIASES: dict[object, str] = {32: "32", 16: "16-mixed"}
_PRECISION_ALIASES.update(PRECISION_ALIASES.items())


def check_rule(rule: object) -> None:
    """Refuse a suggestion rule that is not one of :data:`~lrfinder.names.RULES`, naming the close ones.

    Checked before a test runs (``range_test``, the callback), not by ``analyze`` once the sweep is done.
    """
    if not is_choice(rule, RULES):
        raise ValueError(
            f"Expected rule to be one of {', '.join(RULES)}, but got rule={rule!r}." + unknown_rule_hint(rule)
        )


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
            f"gradient_clip_algorithm={gradient_clip_algorithm!r}."
            + did_you_mean(gradient_clip_algorithm, GRADIENT_CLIP_ALGORITHMS, GRADIENT_CLIP_ALIASES)
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


def check_callable(
    name: str, value: object, example: str, arity: int | None = None, *, more_arguments: str = ""
) -> None:
    """Refuse a function argument that cannot be called, before anything runs (``example`` shows one).

    A module class (``loss_fn=nn.CrossEntropyLoss``) is callable too, but calling it builds a
    module from the arguments (torch then fails on the ``reduction`` check with "Boolean value of
    Tensor ... is ambiguous"): it is refused here, naming the instance to pass. With ``arity``, a
    function whose signature cannot take that many positional arguments is refused too: an
    ``on_step=lambda lr: ...`` failed mid-sweep with "<lambda>() takes 1 positional argument but 3
    were given", naming neither the argument nor what it is called with. ``more_arguments`` ends
    the message when the function requires more than ``arity`` of them (what such a function is
    for and where it goes: :func:`pair_loss_hint` for a ``loss_fn``).
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
                params = list(signature.parameters.values())
                positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
                required = sum(1 for p in positional if p.default is p.empty)
                keyword_only = [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
                # inspect's reason ("too many positional arguments") is the caller's view: it read as if the
                # function had too many, where it takes too few.
                if len(positional) < arity and not any(p.kind is p.VAR_POSITIONAL for p in params):
                    why = f"which takes only {len(positional)}"
                elif required > arity:
                    why = f"which requires {required}"
                elif keyword_only:
                    why = (
                        f"which also requires the keyword-only {word(len(keyword_only), 'argument')} "
                        f"{', '.join(map(repr, keyword_only))}"
                    )
                else:
                    why = f"({exc})"
                extra = f" {more_arguments}" if more_arguments and required > arity else ""
                raise TypeError(
                    f"Expected {name} to take {arity} positional argument{'s' if arity != 1 else ''} ({example}), "
                    f"but its signature is {signature}, {why}.{extra}"
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


def pair_loss_hint(where: str, model: str) -> str:
    """What a ``loss_fn`` that requires 3 or more arguments is for, and ``where`` to compute it instead.

    ``model`` is what the model is called there (``model`` in a ``step_fn``, ``self`` in a
    ``training_step``). A plain ``def loss(a, b, y)`` over ``(x1, x2, y)`` batches was refused with
    "Expected loss_fn to take 2 positional arguments" alone, where ``MarginRankingLoss`` (whose
    signature the check cannot see) was told how to call it (:func:`~lrfinder.batches._several_inputs_hint`).
    """
    return (
        "A loss_fn of 3 or more arguments compares the model's outputs for several inputs (a pair or triplet loss), "
        f"which loss_fn(model(x), y) cannot give it. Compute it {where} "
        f"loss_fn({model}(batch[0]), {model}(batch[1]), batch[2]) for (x1, x2, y) batches, "
        f"loss_fn(*({model}(x) for x in batch)) for (anchor, positive, negative) ones."
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
            # range_test(model, optimizer, ...): torch-lr-finder's LRFinder(model, optimizer, criterion) order.
            + (
                ", an optimizer: pass it by name (optimizer=...) and the batches second"
                if name == "train_data" and isinstance(value, torch.optim.Optimizer)
                else ""
            )
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
    from .batches import fields_of  # batches imports this module

    first = value[0]
    if not isinstance(first, (tuple, list, Mapping)) and fields_of(first) is None:
        raise DataError(
            f"{name}[0] is a {type(first).__name__}, not a batch: {name} as a list is read as a list of batches, "
            f"(inputs, targets) pairs, or dicts or dataclasses with input/target keys. {fix or _STEP_FN_FIX}"
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


def _index_device(name: str, index: int) -> torch.device:
    """The device an int means to ``torch.device``: that index of the machine's accelerator (``0``: ``cuda:0``).

    Without an accelerator torch's own ``torch.device(0)`` fails with "Cannot access accelerator device when none
    is available", which names neither the argument nor what to pass instead.
    """
    accelerators = getattr(torch, "accelerator", None)  # torch >= 2.6; before it an int was always a CUDA index
    if accelerators is None:
        return torch.device("cuda", index)
    current = accelerators.current_accelerator()
    if current is None:
        raise ValueError(
            f"Cannot use {name}={index}: torch reads an int as the index of a GPU (cuda:{index}), and this machine "
            f"has none (CUDA is not available). Pick a device it has, e.g. {name}='cpu'."
        )
    return torch.device(current.type, index)


def check_device(name: str, device: object) -> torch.device | None:
    """``device`` as a ``torch.device`` (``None`` stays ``None``), or a ``ValueError`` naming ``name``.

    Takes what ``torch.device`` takes: a ``torch.device``, a string (``'cuda'``, ``'cuda:1'``) or an int, the
    index of a GPU (``0`` is ``cuda:0`` on a CUDA machine). A device this machine does not have (CUDA without a
    GPU, ``cuda:1`` with one GPU) is refused here, not by the first tensor moved to it.
    """
    if device is None:
        return None
    if isinstance(device, torch.device):
        parsed = device
    elif is_int(device) and device >= 0:  # type: ignore[operator]
        parsed = _index_device(name, int(device))  # type: ignore[call-overload]
    else:
        try:
            parsed = torch.device(device)  # type: ignore[call-overload]
        except (RuntimeError, TypeError, ValueError):
            raise ValueError(
                f"Expected {name} to be a torch device such as 'cpu', 'cuda', 'cuda:1', 'mps' or a GPU index "
                f"(0 for cuda:0), but got {name}={device!r}"
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
        raise TypeError(not_a_module_message("model", model))
    check_module_initialised("model", model)
    parameters = list(model.parameters())
    if not parameters:
        name = getattr(model, "original_name", None) or type(model).__name__  # TorchScript keeps the class name there
        raise ModelError(
            f"The model ({name}) has no parameters at all, so there is nothing to train. Check that "
            "it is the network you meant to tune. If its forward uses tensors kept outside it (a functional model: "
            "torch.func.functional_call over a dict of tensors), register them on it as nn.Parameter (or in an "
            "nn.ParameterDict): the optimizer is checked against, and the test restores, the model's parameters."
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


def group_lr(
    optimizer: torch.optim.Optimizer, index: int, group: Mapping[str, Any], *, use: str = "sweep"
) -> float:
    """The LR of ``optimizer``'s param group ``index`` as a float, or a ``ValueError`` saying why there is none.

    torch checks only the LR given to the optimizer's class, not a group's own: ``lr="1e-4"`` (a YAML config
    reads ``1e-4`` without a dot as text) failed inside torch's first step, ``lr=-1e-3`` stepped uphill.
    ``use`` says what lrfinder does with the LR (``"sweep"``, ``"train with"``, ``"schedule"``), for the message.
    """
    name = optimizer_class_name(optimizer)
    if "lr" not in group:
        keys = sorted(str(k) for k in group if k != "params")
        raise ValueError(
            f"Expected every param group to have an 'lr' to {use}, but group {index} of {name} has none (its "
            f"settings: {', '.join(keys[:8])}). lrfinder reads group['lr'], as torch's LR schedulers do: use an "
            "optimizer that reads its step size from 'lr'."
        )
    lr = group["lr"]
    value = float(lr.item()) if is_number_tensor(lr) else lr
    if not is_real(value) or not math.isfinite(value) or value < 0:
        why = (
            f" (an optimizer that sets its own step size, such as Adafactor with relative_step=True, has no LR to "
            f"{use}: give it a fixed lr, e.g. relative_step=False, lr=1e-3, or use another optimizer)"
            if lr is None
            else " (a string: a YAML config reads 1e-4 without a dot as text; write 1.0e-4, or convert it with "
            "float())"
            if isinstance(lr, str)
            else ""
        )
        raise ValueError(
            f"Expected the LR of every param group to be a finite number >= 0, but group {index} of {name} has "
            f"lr={lr!r}{why}"
        )
    return float(value)


def check_optimizer_of(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Refuse an optimizer over parameters that are not ``model``'s (it would step nothing the loss uses).

    An ``AveragedModel`` (SWA/EMA) passed as the model, with the optimizer of the network it averages,
    is named: it deep-copies that network, so none of its parameters is the optimizer's, which the
    plain message left to guess.

    Raises:
        ModelError: Some parameter of the optimizer is not one of the model's.

    """
    from torch.optim.swa_utils import AveragedModel

    model_params = {id(p) for p in model.parameters()}
    foreign = sum(1 for g in optimizer.param_groups for p in g["params"] if id(p) not in model_params)
    if foreign:
        averaged = next((m for m in model.modules() if isinstance(m, AveragedModel)), None)
        hint = (
            " The model holds a torch.optim.swa_utils.AveragedModel (an SWA or EMA copy), which deep-copies the "
            "network it averages: its parameters are not those the optimizer trains. Pass that network, the one the "
            "optimizer was built over, as the model."
            if averaged is not None
            else ""
        )
        raise ModelError(
            f"The optimizer holds {plural(foreign, 'parameter')} that {word(foreign, 'is', 'are')} not the model's. "
            "Create the optimizer "
            "from this model's parameters (model.parameters()). If they are a loss's own (a learnable "
            f"temperature), pass that loss module itself as loss_fn.{hint}"
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
            f"None of the optimizer's {plural(len(params), 'parameter')} requires grad (they are frozen), so no step "
            "would "
            "change the model and the curve would be flat. Create the optimizer over the trainable parameters "
            "([p for p in model.parameters() if p.requires_grad]), or unfreeze the ones it holds."
        )


def idle_swept_group_message(optimizers: Sequence[torch.optim.Optimizer], ratios: Sequence[float]) -> str | None:
    """What to say when the group whose LR the test records (the largest) trains nothing; else ``None``.

    An empty group (``{"params": [], "lr": 1.0}``, a filter that matched no parameter) or one of frozen parameters
    only, with the largest LR, is the group :class:`~lrfinder.range_test.LRSweeper` sweeps to each LR and the result
    records: the curve's LRs, the suggestion and the report were that idle group's, a factor above the LRs the
    parameters trained at, without a word.

    Args:
        optimizers: The optimizers swept, their groups in order.
        ratios: Each group's LR over the swept one (:attr:`LRSweeper.ratios`), the swept group's ``1.0``.

    """
    groups = [g for opt in optimizers for g in opt.param_groups]
    trains = [any(p.requires_grad for p in g["params"]) for g in groups]
    if 1.0 not in ratios or trains[list(ratios).index(1.0)] or not any(trains):
        return None
    swept = list(ratios).index(1.0)
    top = max(r for r, t in zip(ratios, trains) if t)
    if top <= 0 or top >= 1.0:
        # A group that trains has the swept LR too (a frozen backbone's group beside the head's, at one LR): the
        # curve's LRs are that group's.
        return None
    trained = [i for i, (r, t) in enumerate(zip(ratios, trains)) if t and r == top][0]
    what = "holds no parameters" if not groups[swept]["params"] else "holds only frozen parameters"
    return (
        f"Param group {swept} {what}, yet has the largest LR: the range test records its LR, so the curve's LRs and "
        f"the suggestion are {1 / top:.3g}x those of group {trained}, the largest that trains. Remove the group from "
        f"the optimizer (or give it an LR no larger than the others'), or take the result's LRs as that group's "
        "(create_optimizer(..., lr=result.lr, lr_group='largest') sets them so)."
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
            name = optimizer_class_name(optimizer)
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
            f"The model has {plural(len(meta), 'parameter or buffer', 'parameters or buffers')} on the meta device "
            f"(first: {meta[0]}): they have a "
            "shape but no values (a model built under torch.device('meta') or init_empty_weights), so nothing can "
            "be computed with them. Materialize the model first: model.to_empty(device='cpu') (or 'cuda'), then "
            "initialize or load its weights (model.load_state_dict(state_dict, assign=True))."
        )
    if not lazy:
        return
    params = [name for name, p in model.named_parameters() if is_lazy(p)]
    buffers = [name for name, b in model.named_buffers() if is_lazy(b)]
    if params or buffers:
        counts = [plural(len(params), "uninitialized parameter")] * bool(params)
        counts += [plural(len(buffers), "uninitialized buffer")] * bool(buffers)
        raise ModelError(
            f"The model has {' and '.join(counts)} of a torch.nn.Lazy* module (first: {(params or buffers)[0]}): "
            "their shapes are set by the first forward pass, and the range test must copy them beforehand to restore "
            f"them. {lazy_fix}"
        )


#: What an empty ``train_data`` raises (the range test and :func:`lrfinder.train` alike).
EMPTY_DATA_MESSAGE = "The training data is empty: it yielded no batch. Pass a non-empty DataLoader/iterable."


def empty_data_message(data: object) -> str:
    """:data:`EMPTY_DATA_MESSAGE`, or why ``data`` yields no batch: a DataLoader's ``drop_last``, a used-up iterator."""
    dropped = dropped_batch_note(data)
    if dropped is not None:
        return f"The training data is empty: {dropped}"
    if isinstance(data, Iterator):
        # iter(loader) read to its end before: "Pass a non-empty DataLoader" sent the user to a dataset that has data.
        return (
            f"The training data is empty: it is an iterator ({type(data).__name__}) that yields no batch, read to its "
            "end before it was passed (a generator already run, an iter(loader) already looped over) or over no data. "
            "Pass the DataLoader (or list of batches) itself, which can be started again."
        )
    return EMPTY_DATA_MESSAGE


def dropped_batch_note(data: object) -> str | None:
    """Why ``data``, a ``DataLoader(drop_last=True)`` over fewer examples than a batch, yields none; else ``None``."""
    batch_size = getattr(data, "batch_size", None)
    if getattr(data, "drop_last", False) and batch_size is not None and is_int(batch_size):
        try:
            examples = len(data.sampler)  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            return None
        if 0 < examples < batch_size:
            return (
                f"DataLoader(batch_size={batch_size}, drop_last=True) over {examples} {word(examples, 'example')} "
                f"drops its only, short batch. Lower batch_size to at most {examples}, or set drop_last=False."
            )
    return None


def _check_sweep(min_lr: float, max_lr: float, num_steps: int, mode: str, *, min_steps: int) -> np.ndarray:
    """Check the LR range, the number of steps (at least ``min_steps``) and the sweep mode; return the sweep's LRs.

    The LRs are computed to check that they are distinct (:func:`_sweep_lrs`): :func:`lr_schedule` returns them.
    """
    for name, value in (("min_lr", min_lr), ("max_lr", max_lr)):
        # torch-lr-finder's start_lr takes one LR per param group: here the groups keep their own ratios.
        per_group = (
            ": one LR for the sweep, the largest param group's; the other groups keep their LR ratio to it, so give "
            "each group its own lr in the optimizer (torch-lr-finder's per-group start_lr=[...] has no list here)"
            if isinstance(value, (list, tuple))
            else ""
        )
        real_number(name, value, per_group)
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
        raise TypeError(
            f"Expected num_steps to be an int, but got num_steps={num_steps!r}"
            f"{whole_number_hint('num_steps', num_steps, low=min_steps)}"
        )
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
    lrs = _sweep_lrs(float(min_lr), float(max_lr), int(num_steps), mode)
    if not bool(np.all(np.diff(lrs) > 0)):
        # A range narrower than float64 can split: its LRs repeat, and analyze refused the curve after the whole
        # sweep ("Expected lrs strictly increasing, as recorded by a range test").
        raise ValueError(
            f"Expected max_lr far enough above min_lr for {num_steps} distinct LRs, but got min_lr={min_lr}, "
            f"max_lr={max_lr}: in float64 some of the {mode} sweep's steps get the same LR. Widen the range (a range "
            "test spans a few decades, e.g. min_lr=1e-7, max_lr=10) or lower num_steps."
        )
    return lrs


def _sweep_lrs(min_lr: float, max_lr: float, num_steps: int, mode: str) -> np.ndarray:
    """The sweep's LRs by :func:`lr_schedule`'s formula, for settings already checked."""
    t = np.arange(num_steps) / (num_steps - 1)
    lrs = min_lr * (max_lr / min_lr) ** t if mode == "exp" else min_lr + (max_lr - min_lr) * t
    lrs[0], lrs[-1] = min_lr, max_lr
    return lrs


def _check_stop_factor(stop_factor: object) -> None:
    """Refuse a divergence threshold that is not a number > 1 (NaN included) or ``None``."""
    if stop_factor is None:
        return
    if not is_real(stop_factor):
        raise TypeError(f"Expected stop_factor to be a number or None, but got stop_factor={stop_factor!r}")
    if not stop_factor > 1:  # type: ignore[operator]
        raise ValueError(f"Expected stop_factor > 1 (or None to disable), but got stop_factor={stop_factor}")


def warn_unused_clip_algorithm(gradient_clip_val: object, gradient_clip_algorithm: object) -> None:
    """Say that ``gradient_clip_algorithm="value"`` clips nothing without a ``gradient_clip_val``.

    The algorithm says how the threshold clips, and without one nothing is clipped: a caller who
    asked for value clipping trained unclipped without a word (``lrfind``'s
    ``--gradient-clip-algorithm`` without ``--gradient-clip-val`` said so already). ``"norm"`` is
    the default, which no one need have asked for, so it is not said.
    """
    if gradient_clip_val is None and gradient_clip_algorithm == "value":
        warn(
            "gradient_clip_algorithm='value' is ignored: it says how gradient_clip_val clips, and gradient_clip_val "
            "is None (no clipping). Pass gradient_clip_val=... as well to clip each gradient element to "
            "[-gradient_clip_val, gradient_clip_val], or drop gradient_clip_algorithm.",
        )


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
    decades = math.log10(max_lr) - math.log10(min_lr)  # not of max_lr / min_lr, which overflows past 1e308
    warn(
        f"A linear sweep (mode 'linear') spaces the steps evenly in LR, not in log LR: from min_lr {min_lr:.2e} "
        f"to max_lr {max_lr:.2e} ({decades:.0f} decades), {top} of the {num_steps} steps lie "
        f"in the top decade and the second step is already at {lrs[1]:.2e}, so the decades between are never "
        "swept. Use the exponential sweep (mode 'exp', the default) for a range of several decades; a linear one "
        "suits a zoomed range within a decade or two.",
        UserWarning,
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
    return _check_sweep(min_lr, max_lr, num_steps, mode, min_steps=2)


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


_P = ParamSpec("_P")
_R = TypeVar("_R")

#: The keyword a value passed positionally past ``fn``'s positional parameters most likely meant, by its type.
_SWEEP_NUMBERS = ("min_lr", "max_lr", "num_steps")


def _positional_message(
    name: str, positional: Sequence[str], extra: Sequence[Any], keywords: Sequence[str], *, guess: bool = True
) -> str:
    """Python's "takes 2 positional arguments but 3 were given", said with the keyword each extra value reads as.

    A call moved from a peer passes settings positionally: Lightning's
    ``LearningRateFinder(1e-6, 1.0)`` (``min_lr``, ``max_lr``) and ``Tuner.lr_find(model, train)``'s
    habits, torch-lr-finder's ``LRFinder(model, optimizer, criterion)`` order in
    ``range_test(model, loader, criterion)``. By its type: an optimizer is ``optimizer``, a module or a
    function ``loss_fn``, numbers ``min_lr``, ``max_lr``, ``num_steps`` in turn; those ``fn`` takes.
    Without ``guess``, only the keywords are named (``train``'s optimizer is a function too).
    """
    guesses: list[str] = []
    numbers = [k for k in _SWEEP_NUMBERS if k in keywords]
    for value in extra if guess else ():
        if isinstance(value, torch.optim.Optimizer) and "optimizer" in keywords:
            key = "optimizer"
        elif (isinstance(value, nn.Module) or callable(value)) and "loss_fn" in keywords:
            key = "loss_fn"
        elif is_real(value) and not isinstance(value, bool) and numbers:
            key = numbers.pop(0)
        else:
            guesses = []
            break
        shown = value if key in _SWEEP_NUMBERS else getattr(value, "__name__", None)
        guesses.append(f"{key}={shown if shown is not None else '<' + type(value).__name__ + '>'}")
    takes = " and ".join(positional) if positional else "no argument"
    given = len(positional) + len(extra)
    message = (
        f"{name}() takes {takes} positionally, but got {given} positional argument{'s' if given > 1 else ''}: "
        f"pass {'the others' if positional else 'them'} by name ({', '.join(f'{k}=...' for k in keywords[:3])}, ...)."
    )
    if guesses and len(set(g.split("=")[0] for g in guesses)) == len(guesses):
        message += f" Did you mean {name}({', '.join([*positional, *guesses])})?"
    return message


def positional_hints(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn``, answering more positional arguments than it takes with its keywords (see :func:`peer_hints`).

    Python's "train() takes 2 positional arguments but 3 were given" named neither the keywords
    nor the fix. The signature, the docstring and the type are ``fn``'s (``functools.wraps``).
    """
    parameters = inspect.signature(fn).parameters
    kinds = inspect.Parameter
    positional = [n for n, p in parameters.items() if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
    keywords = [n for n, p in parameters.items() if p.kind is kinds.KEYWORD_ONLY]
    if any(p.kind is kinds.VAR_POSITIONAL for p in parameters.values()):
        return fn

    @functools.wraps(fn)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if len(args) > len(positional):
            extra = args[len(positional) :]
            raise TypeError(_positional_message(fn.__qualname__, positional, extra, keywords, guess=False))
        return fn(*args, **kwargs)

    return call


def _model_call_message(name: str, values: Sequence[Any]) -> str | None:
    """What the callback is told when given a model, a built optimizer or a loss module, ``None`` when it was not.

    torch-lr-finder's ``LRFinder(model, optimizer, criterion)`` (or the same by keyword, ``model=``,
    ``criterion=``): ``values`` are the call's positional arguments and unknown keywords.
    """
    if not any(isinstance(value, (nn.Module, torch.optim.Optimizer)) for value in values):
        return None
    return (
        f"{name} is lrfinder's Lightning callback, Trainer(callbacks=[{name}()]), not torch-lr-finder's "
        f"{name}(model, optimizer, criterion): it is given no model, no built optimizer and no loss. For a plain "
        "PyTorch model, call lrfinder.range_test(model, train_loader, optimizer=optimizer, loss_fn=criterion): it puts "
        "the model and optimizer back itself (no reset()), and result.suggestion.lr is the LR. For a LightningModule, "
        "lrfinder.find_lr(module, train_loader)."
    )


def _data_only_message(name: str, value: object) -> str | None:
    """What ``range_test(train_loader)`` is told, ``None`` when the one argument given is a model.

    torch-lr-finder's ``lr_finder.range_test(train_loader)`` took its model from ``LRFinder(model, optimizer,
    criterion)``. Python's "missing 1 required positional argument: 'train_data'" named the data, which was given,
    as missing.
    """
    if isinstance(value, nn.Module):
        return None
    return (
        f"{name}() takes the model first, then its data: {name}(model, train_loader, optimizer=optimizer, "
        f"loss_fn=criterion), but got one positional argument, a {type(value).__name__}, and no model. "
        f"torch-lr-finder's lr_finder.range_test(train_loader) took the model, optimizer and criterion from "
        "LRFinder(model, optimizer, criterion); here they are range_test's own."
    )


def _trainer_notes(name: str, unknown: Sequence[str], accepted: Sequence[str]) -> str:
    """Where a Trainer argument given to the callback goes (``LRFinder(max_epochs=3)``); ``""`` elsewhere."""
    if name != "LRFinder":
        return ""
    from ._lightning import trainer_argument_notes

    return trainer_argument_notes(unknown, accepted, "Trainer({name}=..., callbacks=[LRFinder(...)])")


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
    (:func:`~lrfinder._checks.caller_stacklevel`). More positional arguments than ``fn`` takes
    are said with the keyword each reads as (:func:`_positional_message`). A function that takes no
    ``model`` (the callback) given a module or a built optimizer that way is told where a plain
    PyTorch model goes (:func:`_model_call_message`).
    """
    parameters = inspect.signature(fn).parameters
    names = [n for n in parameters if n != "self"]  # never "Did you mean 'self'?"
    kinds = inspect.Parameter
    positional = [n for n, p in parameters.items() if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)]
    open_ended = any(p.kind is kinds.VAR_POSITIONAL for p in parameters.values())
    keywords = [n for n, p in parameters.items() if p.kind is kinds.KEYWORD_ONLY]
    own = positional[1:] if positional[:1] == ["self"] else positional  # as Python counts them, self aside

    @functools.wraps(fn)
    def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        name = fn.__qualname__.removesuffix(".__init__")
        unknown = [key for key in kwargs if key not in names]
        extra = args[len(positional) :] if not open_ended else ()
        # torch-lr-finder's LRFinder(model, optimizer, criterion) was told to pass min_lr=... by name, and
        # LRFinder(model=...) "did you mean 'mode'?": the callback takes no model at all.
        misplaced = None if "model" in names else _model_call_message(name, [*extra, *(kwargs[k] for k in unknown)])
        if misplaced is not None:
            raise TypeError(misplaced)
        if "train_data" in names and len(args) == 1 and not {"model", "train_data"} & kwargs.keys():
            data_only = _data_only_message(name, args[0])
            if data_only is not None:
                raise TypeError(data_only)
        if extra:
            # Python's "takes 2 positional arguments but 3 were given" named neither the keywords nor the fix.
            raise TypeError(_positional_message(name, own, extra, keywords))
        if unknown:
            said = ", ".join(map(repr, unknown))
            what = (
                f"unexpected keyword arguments {said}" if len(unknown) > 1 else f"an unexpected keyword argument {said}"
            )
            # range_test's options the callback takes from the Trainer or the module get where to set them,
            # not difflib's guess at a name ("accumulate_steps" -> "Did you mean 'num_steps'?").
            guessed = [key for key in unknown if trainer_side(key, names) is None]
            raise TypeError(
                f"{fn.__qualname__}() got {what}."
                + did_you_mean_each(guessed, names, PEER_OPTION_NAMES, named=len(unknown) > 1)
                + peer_notes(unknown, accepted=names)
                + _trainer_notes(name, unknown, names)
            )
        return fn(*args, **kwargs)

    return call

