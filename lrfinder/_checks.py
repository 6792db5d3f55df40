"""Argument checks shared by modules that cannot import each other (no lrfinder imports here but numpy-free words)."""

from __future__ import annotations

import functools
import math
import numbers
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeGuard, TypeVar

if TYPE_CHECKING:
    import torch

import numpy as np

_P = ParamSpec("_P")
_R = TypeVar("_R")


def answers_peer_options(notes: Mapping[str, str]) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """A decorator answering a peer's keyword in ``notes`` (``skip_end=5``) with its note, what to do instead.

    A call moved from a peer (torch-lr-finder's ``plot(skip_end=5)``, Lightning's ``suggestion(skip_begin=10)``)
    got Python's bare "unexpected keyword argument". Any other unknown keyword reaches the function and gets
    Python's own ``TypeError``; ``functools.wraps`` keeps the function's signature and docstring. Keywords that
    share a note (``skip_start``, ``skip_end``) say it once.
    """

    def decorate(fn: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(fn)
        def call(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            peer = [key for key in kwargs if key in notes]
            if peer:
                said = ", ".join(map(repr, peer))
                many = len(peer) > 1
                what = f"unexpected keyword arguments {said}" if many else f"an unexpected keyword argument {said}"
                raise TypeError(f"{fn.__name__}() got {what}. " + " ".join(dict.fromkeys(notes[key] for key in peer)))
            return fn(*args, **kwargs)

        return call

    return decorate


#: What to do with a complex loss, said by range_test of the loss a step returns and by the analysis of a curve.
COMPLEX_LOSS_FIX = "a complex loss: take its real part or abs()"


def check_flag(name: str, value: object) -> None:
    """Refuse a non-bool on/off setting (``noise_scale="yes"`` would otherwise read as on)."""
    if not isinstance(value, (bool, np.bool_)):
        # lrfind's --opt/--scheduler-opt read values as JSON, so maximize=False arrives as a string.
        hint = (
            f" (a string; on lrfind's command line write the JSON {name}=true or {name}=false)"
            if isinstance(value, str)
            else ""
        )
        raise TypeError(f"Expected {name} to be True or False, but got {name}={value!r}{hint}")


def check_module_initialised(name: str, module: object) -> None:
    """Refuse an ``nn.Module`` whose ``__init__`` never called ``super().__init__()``.

    Such a module has no parameter registry: the first ``module.parameters()`` failed deep in torch with
    "'Net' object has no attribute '_parameters'", which says neither what is wrong nor where. Called on a
    value already known to be a module (torch is not imported here).

    Raises:
        TypeError: ``module`` lacks the state ``nn.Module.__init__`` sets up.

    """
    if not hasattr(module, "_parameters"):
        cls = type(module).__name__
        raise TypeError(
            f"Expected {name} to be an initialised torch.nn.Module, but {cls}.__init__ never called "
            f"super().__init__(), so it has no parameters to find. Call super().__init__() first in {cls}.__init__, "
            "before assigning layers."
        )


#: The keys a training checkpoint of one's own keeps the model's state_dict under (as ``lrfind run`` reads them).
CHECKPOINT_STATE_KEYS = ("state_dict", "model_state_dict", "model")


def state_dict_note(value: object) -> str:
    """What to do with a state_dict (or a checkpoint dict holding one) passed where a model goes, else ``""``.

    ``range_test(torch.load("weights.pt"), ...)`` was told only "Expected model to be a torch.nn.Module, but got
    OrderedDict", which names the type but not that the file holds weights without the network, nor the fix.
    A mapping of names to tensors (anything with a ``shape`` and a ``dtype``) is a state_dict; a mapping holding one
    under a key of :data:`CHECKPOINT_STATE_KEYS` is a checkpoint.

    Example:
        >>> import torch
        >>> state_dict_note({"weight": torch.zeros(2)})[:40]
        ' That is a state_dict (the weights alone'
        >>> state_dict_note({"epoch": 3})
        ''

    """

    def is_state(item: object) -> bool:
        return (
            isinstance(item, Mapping)
            and bool(item)
            and all(isinstance(k, str) and hasattr(v, "shape") and hasattr(v, "dtype") for k, v in item.items())
        )

    fix = "build the model, then load the weights into it: model = Net(...); model.load_state_dict("
    if is_state(value):
        return f" That is a state_dict (the weights alone, as torch.load reads a saved one), not a model: {fix}state)."
    if isinstance(value, Mapping):
        key = next((k for k in CHECKPOINT_STATE_KEYS if is_state(value.get(k))), None)
        if key is not None:
            return (
                f" That is a checkpoint holding a state_dict under {key!r}, not a model: {fix}checkpoint[{key!r}])."
            )
    return ""


def not_a_module_message(name: str, value: object) -> str:
    """The refusal of ``value`` given as ``name`` where a ``torch.nn.Module`` goes, with :func:`state_dict_note`."""
    return f"Expected {name} to be a torch.nn.Module, but got {type(value).__name__}.{state_dict_note(value)}"


def sentence(text: str | None) -> str:
    """``text`` as a sentence to embed in a longer message: stripped, ending with one full stop.

    An error message (``result.error``) is already a sentence or several, the last ending in ``.``; put
    inside parentheses or before another full stop it read ``... these LRs).). Training ...``. ``None``
    or an empty string gives ``"no reason was recorded."``.

    Example:
        >>> sentence("The loss never clearly falls.")
        'The loss never clearly falls.'
        >>> sentence("Increase max_lr")
        'Increase max_lr.'

    """
    text = (text or "").strip()
    if not text:
        return "no reason was recorded."
    return text if text.endswith((".", "!", "?")) else text + "."


def _shortest(value: float, dtype: Any) -> float:
    """A narrow float as the shortest decimal that reads back as it (``np.float32(1e-3)`` -> ``0.001``)."""
    return float(str(dtype(value)))


def plain(value: Any) -> Any:
    """A number setting given as a 0-d tensor or a numpy scalar, as the Python number it holds; else ``value``.

    ``torch.tensor(1e-3)``, ``np.float32(1e-3)``, ``np.int64(100)`` and a 0-d numpy array become ``0.001``,
    ``0.001`` and ``100``, so the checks take them and results and JSON hold plain numbers. A float32 or
    float16 value becomes the shortest decimal that reads back as it (what numpy prints for it, and what the
    user typed), not its float64 expansion ``0.0010000000474974513``. Bool tensors and ``np.bool_`` become
    ``bool`` (still refused where a number is needed); tensors of more than one element, complex numbers and
    everything else are returned unchanged for the checks to refuse by name. torch is not imported here: a
    tensor can only exist once the caller has imported it.
    """
    if type(value) in (bool, int, float) or value is None:
        return value
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if value.ndim != 0 or value.is_complex() or value.is_meta:
            return value
        item = value.item()
        if value.dtype in (torch.float32, torch.bfloat16):  # bfloat16's values are all float32 ones
            return _shortest(item, np.float32)
        if value.dtype == torch.float16:
            return _shortest(item, np.float16)
        return item
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.float16, np.float32)):
        return _shortest(float(value), type(value))
    if isinstance(value, np.floating):
        return float(value)
    return value


def real_number(name: str, value: Any, hint: str = "") -> Any:
    """``value`` as the real number it holds (:func:`plain`): Python's, numpy's, a 0-d tensor's or 0-d array's.

    The one check of a number argument that :func:`range_test`'s ``min_lr``/``max_lr``,
    ``create_optimizer``'s ``lr`` and ``scale_lr``'s ``lr`` share, so each takes and refuses the same
    values: ``scale_lr(lr=torch.tensor([0.1]))`` took the 1-D tensor that ``range_test(min_lr=...)``
    refused. A one-element tensor or array of one or more dimensions is refused with its shape and the
    ``.item()`` to pass.

    Args:
        name: The argument's name, for the message.
        value: What was passed.
        hint: Text to end the refusal with (what to do for a value of this argument).

    Returns:
        The Python number ``value`` holds.

    Raises:
        TypeError: ``value`` is not a real number (a bool, text, ``None``, a complex number, a tensor or array of
            any shape but 0-d).

    """
    number = plain(value)
    if is_real(number):
        return number
    shape = getattr(number, "shape", None)
    if shape is not None and len(tuple(shape)) > 0 and int(np.prod(tuple(shape))) == 1:
        kind = "an array" if isinstance(number, np.ndarray) else "a tensor"
        hint = f", {kind} of shape {tuple(shape)}: pass the number it holds, {name}={name}.item(){hint}"
    raise TypeError(f"Expected {name} to be a number, but got {name}={value!r}{hint}")


def is_number_tensor(value: object) -> TypeGuard[torch.Tensor]:
    """A one-element real tensor whose value can be read: not complex, not on the ``meta`` device.

    The checks read such a tensor as the number it holds (torch takes ``lr=torch.tensor(1e-3)``). A meta
    tensor has a shape but no value, so reading it failed deep in torch with "Tensor.item() cannot be called
    on meta tensors", and a complex one with Python's "float() argument must be ... not 'complex'"; neither
    is one here, so the check that asked refuses it by name. torch is not imported here.
    """
    torch_ = sys.modules.get("torch")
    return (
        torch_ is not None
        and isinstance(value, torch_.Tensor)
        and value.numel() == 1
        and not value.is_meta
        and not value.is_complex()
    )


def text_or_bool_at(values: Any) -> tuple[int, Any] | None:
    """The first entry of a sequence of numbers that is text or a bool, as ``(index, value)``; else ``None``.

    numpy reads ``["1e-5", "0.1"]`` as floats and ``float(True)`` is 1.0: a curve or a list of settings
    given as strings (read from a file and not converted) or bools went through as numbers. A numpy array
    or tensor of text or bools is reported at index 0; other arrays are not walked (their dtype is numeric),
    nor are iterators without a length (reading them would use them up).
    """
    dtype = getattr(values, "dtype", None)
    if dtype is not None and not isinstance(values, np.generic):
        kind = getattr(dtype, "kind", None)
        if kind in ("U", "S", "b") or str(dtype) == "torch.bool":
            return (0, values.flat[0] if kind and getattr(values, "size", 0) else values)
        return None
    if isinstance(values, (str, bytes)) or not (hasattr(values, "__len__") and hasattr(values, "__iter__")):
        return None  # an iterator is not walked here: reading it would use it up
    for i, value in enumerate(values):
        if isinstance(value, (str, bytes, bool, np.bool_)) or str(getattr(value, "dtype", "")) == "torch.bool":
            return (i, value)
    return None


def text_or_bool_message(name: str, found: tuple[int, Any]) -> str:
    """What :func:`text_or_bool_at` found, said of the sequence ``name``."""
    index, value = found
    what = "a bool" if isinstance(value, (bool, np.bool_)) or "bool" in str(getattr(value, "dtype", "")) else "text"
    hint = " (convert text read from a file with float() first)" if what == "text" else ""
    return f"Expected {name} to hold numbers, but got {name}[{index}]={value!r:.40}, {what}{hint}"


#: How lrfinder's JSON writers (``RangeTestResult.to_dict``, ``Refinement.to_dict``, ``NoiseScale.to_dict``) write a
#: float that is not finite (strict JSON has no NaN or infinity): the only text read back as a number.
NON_FINITE_TEXT = ("nan", "inf", "-inf")


def non_finite_from_text(value: str) -> float | None:
    """The float lrfinder's JSON writes as the text ``value`` (one of :data:`NON_FINITE_TEXT`), else ``None``.

    The one rule every reader of a result's numbers applies: ``float()`` also read ``"Infinity"``, ``"NaN"`` or
    ``" inf"``, which no writer of lrfinder's produces, in a suggestion's fields but not in the curve.
    """
    return float(value) if value in NON_FINITE_TEXT else None


def non_finite_to_text(value: float) -> float | str:
    """``value`` as lrfinder's JSON writes it: a finite float as it is, NaN and infinities as :data:`NON_FINITE_TEXT`.

    The one encoder of every writer of a result's numbers; :func:`number_from_json` reads it back.

    Example:
        >>> non_finite_to_text(0.5), non_finite_to_text(float("nan")), non_finite_to_text(-float("inf"))
        (0.5, 'nan', '-inf')

    """
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def number_from_json(value: object) -> float:
    """A number :func:`non_finite_to_text` wrote, read back: a number as a float, the text of :data:`NON_FINITE_TEXT`.

    ``float()`` also read other text (``"1_0"``, ``" 3 "``, ``"infinity"``, ``"1e-3"``) and bools, which no writer
    of lrfinder's produces.

    Raises:
        ValueError: ``value`` is other text, bytes or a bool.

    """
    if isinstance(value, (str, bytes, bool, np.bool_)):
        number = non_finite_from_text(value) if isinstance(value, str) else None
        if number is None:
            what = "a bool" if isinstance(value, (bool, np.bool_)) else "text"
            raise ValueError(
                f"{value!r:.40} is {what}, not a number (text only for those JSON cannot hold: "
                f"{', '.join(map(repr, NON_FINITE_TEXT))})"
            )
        return number
    return float(value)  # type: ignore[arg-type]


def is_choice(value: object, choices: tuple[str, ...]) -> bool:
    """Whether ``value`` is one of the names ``choices``; anything but a string is none of them.

    ``value in choices`` compares a numpy array or tensor elementwise, and the check itself failed with
    "The truth value of an array with more than one element is ambiguous" instead of naming the parameter.
    """
    return isinstance(value, str) and value in choices


def is_real(value: object) -> bool:
    """A real number: Python's and numpy's (``np.float32``, ``np.int64``) alike; a bool is not one here."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_int(value: object) -> bool:
    """An integer: Python's and numpy's (``np.int64``) alike; a bool is not one here."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def whole_number_hint(name: str, value: object, *, low: int) -> str:
    """The fix for a float given where a count is expected (``": pass it as an int, name=64 ..."``); else ``""``.

    A count computed with ``/`` (``epochs * len(loader) / accumulate``, ``256 / 2``) is a float even where it divides
    evenly; the refusals of such a count end with this, so the fix is named rather than left to be guessed. A value
    whose int would be refused too, below ``low`` (the count's least, ``total_steps=-4.0``), gets no fix.
    """
    if not is_real(value) or is_int(value):
        return ""
    number = float(value)  # type: ignore[arg-type]  # a real number (numbers.Real) has __float__
    if not math.isfinite(number) or math.ceil(number) < low:
        return ""
    if number.is_integer():
        return (
            f": pass it as an int, {name}={int(number)}"
            " (/ gives a float even where it divides evenly: use // or int())"
        )
    return ": pass a whole number, rounded with round() or math.ceil()"


def is_single_number(value: object) -> bool:
    """A 0-d tensor, a 0-d numpy array or a numpy scalar: one number, though its type is iterable.

    Given where a sequence is expected, iterating it failed with torch's "iteration over a 0-d tensor"
    (or "'numpy.float64' object is not iterable"), naming neither the argument nor the rule; the checks
    refuse it by name with :func:`single_number_note`.
    """
    return getattr(value, "ndim", None) == 0 and hasattr(value, "dtype")


def is_not_a_sequence(value: object, *also: type) -> bool:
    """Whether ``value`` cannot be read as a sequence of items, where one is expected.

    A string, bytes, a mapping, anything not iterable, a single number (:func:`is_single_number`),
    or an instance of one of ``also``. The one test behind the refusals of an argument that should
    be a sequence; each caller says its own message, ended with :func:`single_number_note`.
    """
    return (
        isinstance(value, (str, bytes, Mapping, *also))
        or not isinstance(value, Iterable)
        or is_single_number(value)
    )


def is_peer_history(value: object) -> bool:
    """Whether ``value`` is another LR finder's recorded curve: a mapping with ``"lr"`` and ``"loss"`` keys.

    torch-lr-finder's ``LRFinder.history`` and Lightning's tuner's ``results`` hold the curve so, each loss a
    moving average of its own; the refusals of such a dict (``analyze``) or its finder (``plot_range_test``) say
    how to move from the peer.
    """
    return isinstance(value, Mapping) and "lr" in value and "loss" in value


def has_class_named(obj: object, *names: str) -> bool:
    """Whether ``obj``'s class, or a base of it, is named one of ``names`` (``has_class_named(lg, "CSVLogger")``).

    Looked up by name along the MRO, not by ``isinstance``: the class may come from either Lightning package
    (``lightning.pytorch`` or ``pytorch_lightning``), or from one not imported at all, and a project's own
    subclass counts as its base.
    """
    return any(cls.__name__ in names for cls in type(obj).__mro__)


def single_number_note(value: object) -> str:
    """``", a single number"`` for a value :func:`is_single_number` holds, to end a refusal with; else ``""``."""
    return ", a single number" if is_single_number(value) else ""


def result_lr_message(name: str, value: object, also: str = "") -> str | None:
    """The refusal of a ``RangeTestResult`` or ``Suggestion`` passed where an LR (a number) is expected; else ``None``.

    ``create_optimizer(..., lr=result)`` and ``scale_lr(result.suggestion, ...)`` printed the whole object (every
    swept LR and loss) and said nothing of what to pass. Known by the class's name: this module imports no lrfinder.

    Args:
        name: The argument's name (``"lr"``).
        value: What was passed.
        also: A clause to end the message with (another call that takes the object itself).

    """
    kind = type(value).__name__
    if kind not in ("RangeTestResult", "Suggestion"):
        return None
    owner = "result" if kind == "RangeTestResult" else "suggestion"
    return f"Expected {name} to be a number, but got a {kind}: pass its LR, {name}={owner}.lr{also}"


def none_lr_hint(name: str, value: object) -> str:
    """What to do when an LR is ``None``: what ``result.lr`` is after a range test found no LR; else ``""``."""
    if value is not None:
        return ""
    return (
        f" ({name}=None is what result.lr holds when the range test found no LR, and result.error says why: read "
        "the curve with lrfinder.plot_range_test(result), rerun the test as result.error suggests, or pass an LR "
        "yourself)"
    )


#: Modules whose frames a warning looks past to the user's line: lrfinder's own, the standard library's
#: context-manager machinery its generator-based ``with`` blocks run in, and Lightning's, which call the
#: callback's hooks and ``train``'s ``configure_optimizers`` (a warning pointed at Lightning's ``trainer/call.py``).
_INTERNAL_MODULES = ("lrfinder", "contextlib", "lightning", "pytorch_lightning", "lightning_fabric")


def caller_stacklevel(also: tuple[str, ...] = ()) -> int:
    """The ``stacklevel`` for a ``warnings.warn`` in the calling function: the first frame outside lrfinder.

    Counted from the function that calls this one (level 1) up past lrfinder's frames (and
    ``contextlib``'s and Lightning's between them), so a warning raised deep in the engine points
    at the user's line whatever route it took: ``range_test`` through its keyword check,
    ``refine``'s trials, a snapshot made in the callback (at the ``trainer.fit`` line), ``train``'s
    ``configure_optimizers``. The first frame of the user's own code stops the count, a
    ``training_step`` called by Lightning too. A fixed ``stacklevel`` is right for one route only.
    ``also`` names more modules to look past (``("torch",)`` for a hook Lightning runs inside the
    optimizer's ``step``, whose closure it is).
    """
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if not any(name == m or name.startswith(m + ".") for m in _INTERNAL_MODULES + also):
            break
        frame = frame.f_back
        level += 1
    return level
