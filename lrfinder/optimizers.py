"""Optimizer registry: a name (or class) -> a small spec -> a torch optimizer, with param groups.

:func:`create_optimizer` builds an optimizer by name. The names in :data:`OPTIMIZERS` are the
textbook set: SGD with plain, heavy-ball and Nesterov momentum, Adagrad, RMSprop, Adadelta,
Adam, AMSGrad, AdamW, NAdam, RAdam and Yogi (see References); besides them it accepts any ``torch.optim`` class by name
(``"Adamax"``, or ``"adamax"`` case-insensitively), a ``"package.module:Class"`` path for
optimizers from other libraries, or an optimizer class itself.

Settings are passed to the class by keyword. A setting the class cannot take is **rejected**
with a ``TypeError`` that names it and lists what the class accepts; nothing is filtered out
silently, because a misspelt setting (``weight_decy``) would otherwise vanish.

Weight decay is whatever the class does, as torch does it: *decoupled* for ``adamw`` (the
shrink ``w <- w - lr * wd * w`` is applied outside the adaptive denominator, Loshchilov &
Hutter), and for ``adam``, ``nadam`` and ``radam`` given torch's ``decoupled_weight_decay=True``
(:meth:`OptimizerSpec.decay_for` labels a spec with its settings); an *L2 penalty* added to the
gradient for every other name (``yogi`` included).

Given an ``nn.Module``, the parameters are split into groups by :func:`param_groups`: biases,
normalization weights, other 1-D gains and weight-norm magnitudes get no weight decay (unless
``decay_norm_and_bias=True``), biases may get ``bias_lr_factor`` times the LR (Caffe's 2x), and
``layer_lr_decay`` / ``lr_factors`` give discriminative LRs for fine-tuning.

References:
    Duchi et al., "Adaptive Subgradient Methods" (Adagrad), JMLR 2011.
    Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012, arXiv:1212.5701.
    Kingma & Ba, "Adam: A Method for Stochastic Optimization", 2014, arXiv:1412.6980.
    Reddi et al., "On the Convergence of Adam and Beyond" (AMSGrad), ICLR 2018.
    Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2017, arXiv:1711.05101.
    Zaheer et al., "Adaptive Methods for Nonconvex Optimization", NeurIPS 2018 (Yogi).

"""

from __future__ import annotations

import fnmatch
import inspect
import logging
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.parameter import is_lazy
from torch.nn.utils import parametrize
from torch.optim import Optimizer

from ._checks import (
    check_flag,
    check_module_initialised,
    is_choice,
    is_number_tensor,
    is_real,
    none_lr_hint,
    plain,
    real_number,
    result_lr_message,
    state_dict_note,
)
from ._fabric import REGISTRY_NAME
from ._imports import import_string
from ._warn import warn
from ._wording import plural, word
from .names import OPTIMIZER_ALIASES, OPTIMIZER_SUMMARIES, did_you_mean, did_you_mean_each
from .yogi import Yogi

__all__ = [
    "OptimizerSpec",
    "OPTIMIZERS",
    "NORM_LAYERS",
    "list_optimizers",
    "get_optimizer_spec",
    "create_optimizer",
    "param_groups",
    "averaged_copies",
]

logger = logging.getLogger(__name__)

#: Module types whose weights count as normalization weights (no weight decay by default).
NORM_LAYERS: tuple[type[nn.Module], ...] = tuple(
    cls
    for cls in (
        nn.modules.batchnorm._NormBase,  # BatchNorm*, InstanceNorm*, SyncBatchNorm
        nn.LayerNorm,
        nn.GroupNorm,
        nn.LocalResponseNorm,
        getattr(nn, "RMSNorm", None),
    )
    if cls is not None
)

#: Settings consumed by :func:`param_groups`, never passed to the optimizer class.
_GROUP_SETTINGS = ("decay_norm_and_bias", "bias_lr_factor", "layer_lr_decay", "lr_factors")


@dataclass(frozen=True)
class OptimizerSpec:
    """One entry of the optimizer registry.

    Attributes:
        name: The registry name (lower case).
        cls: The optimizer class built.
        summary: One line: what the update is.
        defaults: Settings this name sets unless the caller gives them (only where the name
            implies them, e.g. ``momentum=0.9`` for ``"momentum"``); everything else keeps the
            class's own default.
        fixed: Settings that *define* the name (``nesterov=True`` for ``"nesterov"``); giving a
            different value raises ``ValueError`` pointing to the right name.
        weight_decay: ``"decoupled"`` (AdamW, or a class whose ``decoupled_weight_decay``
            defaults to true) or ``"l2"`` (added to the gradient), with the class's own settings;
            :meth:`decay_for` gives it for the settings an optimizer is built with.

    """

    name: str
    cls: type[Optimizer]
    summary: str
    defaults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    fixed: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    weight_decay: Literal["l2", "decoupled"] = "l2"

    def decay_for(self, settings: Mapping[str, Any] | None = None) -> Literal["l2", "decoupled"]:
        """How weight decay acts in the optimizer built with ``settings`` (as :func:`create_optimizer` takes them).

        torch's ``Adam``, ``NAdam`` and ``RAdam`` take ``decoupled_weight_decay=True`` (AdamW's
        decay): ``OPTIMIZERS["adam"].weight_decay`` is ``"l2"``, but
        ``OPTIMIZERS["adam"].decay_for({"decoupled_weight_decay": True})`` is ``"decoupled"``.

        Args:
            settings: The keyword settings the class is built with; ``None`` for its own.

        Returns:
            ``"decoupled"`` or ``"l2"``.

        """
        merged = {**self.defaults, **self.fixed, **dict(settings or {})}
        if "decoupled_weight_decay" in merged and not issubclass(self.cls, torch.optim.AdamW):
            return "decoupled" if merged["decoupled_weight_decay"] else "l2"
        return self.weight_decay


def _spec(
    name: str,
    cls: type[Optimizer],
    summary: str,
    *,
    defaults: dict[str, Any] | None = None,
    fixed: dict[str, Any] | None = None,
    weight_decay: Literal["l2", "decoupled"] = "l2",
) -> OptimizerSpec:
    return OptimizerSpec(
        name, cls, summary, MappingProxyType(dict(defaults or {})), MappingProxyType(dict(fixed or {})), weight_decay
    )


_SPECS = (
    _spec("sgd", torch.optim.SGD, OPTIMIZER_SUMMARIES["sgd"], fixed={"momentum": 0.0, "nesterov": False}),
    _spec(
        "momentum",
        torch.optim.SGD,
        OPTIMIZER_SUMMARIES["momentum"],
        defaults={"momentum": 0.9},
        fixed={"nesterov": False},
    ),
    _spec(
        "nesterov",
        torch.optim.SGD,
        OPTIMIZER_SUMMARIES["nesterov"],
        defaults={"momentum": 0.9},
        fixed={"nesterov": True},
    ),
    _spec("adagrad", torch.optim.Adagrad, OPTIMIZER_SUMMARIES["adagrad"]),
    _spec("rmsprop", torch.optim.RMSprop, OPTIMIZER_SUMMARIES["rmsprop"]),
    _spec("adadelta", torch.optim.Adadelta, OPTIMIZER_SUMMARIES["adadelta"]),
    _spec("adam", torch.optim.Adam, OPTIMIZER_SUMMARIES["adam"], fixed={"amsgrad": False}),
    _spec("amsgrad", torch.optim.Adam, OPTIMIZER_SUMMARIES["amsgrad"], fixed={"amsgrad": True}),
    _spec("adamw", torch.optim.AdamW, OPTIMIZER_SUMMARIES["adamw"], weight_decay="decoupled"),
    _spec("nadam", torch.optim.NAdam, OPTIMIZER_SUMMARIES["nadam"]),
    _spec("radam", torch.optim.RAdam, OPTIMIZER_SUMMARIES["radam"]),
    _spec("yogi", Yogi, OPTIMIZER_SUMMARIES["yogi"]),
)

#: The registry: name -> :class:`OptimizerSpec`, read-only.
OPTIMIZERS: Mapping[str, OptimizerSpec] = MappingProxyType({s.name: s for s in _SPECS})


def list_optimizers() -> tuple[str, ...]:
    """Return the registry names, in registry order.

    Any ``torch.optim`` class name and ``"package.module:Class"`` paths are accepted too.

    Returns:
        ``("sgd", "momentum", "nesterov", ...)``.

    """
    return tuple(OPTIMIZERS)


def _torch_optimizers() -> dict[str, type[Optimizer]]:
    return {
        name: obj
        for name in dir(torch.optim)
        if isinstance(obj := getattr(torch.optim, name), type) and issubclass(obj, Optimizer) and obj is not Optimizer
    }


def _load_path(path: str) -> type[Optimizer]:
    obj = import_string(path, what="optimizer")
    if not (isinstance(obj, type) and issubclass(obj, Optimizer)):
        raise TypeError(f"Expected {path!r} to be a torch.optim.Optimizer subclass, but got {obj!r}")
    return obj


def _colon_path_hint(name: str) -> str:
    """The path to write for a dotted class name (``"torch.optim.AdamW"``), or ``""`` for other names.

    A dotted path is how LightningCLI's ``class_path`` and Python's reprs write a class, where
    lrfinder's paths put a colon before the class.
    """
    module, dot, cls = name.strip().rpartition(".")
    # A class name starts with a capital: "adam.w" is a misspelt registry name, not a path.
    if not dot or not cls[:1].isupper() or not all(part.isidentifier() for part in [*module.split("."), cls]):
        return ""
    if module == "torch.optim":
        cls = {k.lower(): k for k in _torch_optimizers()}.get(cls.lower(), cls)
        return f" Did you mean {cls!r} (or 'torch.optim:{cls}')? A class path takes a colon before the class name."
    return f" Did you mean '{module}:{cls}'? A class path takes a colon before the class name."


def get_optimizer_spec(name: str | type[Optimizer]) -> OptimizerSpec:
    """Resolve a name or class to a spec.

    Resolution order: a registry name; a ``"package.module:Class"`` path; a ``torch.optim``
    class name (exact, then case-insensitive); a registry name in other case (``"Yogi"``);
    an optimizer class.

    Args:
        name: What to resolve.

    Returns:
        The registry's spec, or an ad-hoc spec with no defaults for other classes.

    Raises:
        ValueError: An unknown name (the message lists the valid ones and the close ones) or an
            unimportable path.
        TypeError: A path or object that is not a ``torch.optim.Optimizer`` subclass.

    """
    if isinstance(name, type):
        if not issubclass(name, Optimizer):
            raise TypeError(f"Expected a torch.optim.Optimizer subclass, but got name={name!r}")
        return _spec(name.__name__, name, f"{name.__module__}.{name.__qualname__}", weight_decay=_decay_kind(name))
    if isinstance(name, Optimizer):
        # The whole optimizer's repr (every group's settings, over 10 lines) said nothing of what to pass.
        raise TypeError(
            f"Expected name to be a str or an Optimizer class, but got an optimizer already built "
            f"({type(name).__name__}). Pass its class or name, create_optimizer({type(name).__name__!r}, model, "
            "lr=...), or use the optimizer itself as it is (range_test(model, data, optimizer=optimizer))"
        )
    if isinstance(name, nn.Module):
        # create_optimizer(model, "adamw", lr=...): the model's repr, and nothing of the arguments' order.
        raise TypeError(
            f"Expected name to be a str or an Optimizer class, but got the model ({type(name).__name__}): the "
            "optimizer's name comes first, create_optimizer('adamw', model, lr=...)"
        )
    if not isinstance(name, str):
        raise TypeError(f"Expected name to be a str or an Optimizer class, but got name={name!r:.80}")
    if name in OPTIMIZERS:
        return OPTIMIZERS[name]
    if ":" in name:
        cls = _load_path(name)
        return _spec(name, cls, f"{cls.__module__}.{cls.__qualname__}", weight_decay=_decay_kind(cls))
    torch_classes = _torch_optimizers()
    found = torch_classes.get(name) or {k.lower(): v for k, v in torch_classes.items()}.get(name.lower())
    if found is None and name.lower() in OPTIMIZERS:  # "Yogi", "AMSGrad": case-insensitive, as torch's names
        return OPTIMIZERS[name.lower()]
    if found is None:
        raise ValueError(
            f"Unknown optimizer name={name!r}; expected one of {', '.join(OPTIMIZERS)}, a torch.optim class "
            f"({', '.join(sorted(torch_classes))}) or a 'package.module:Class' path."
            + (_colon_path_hint(name) or did_you_mean(name, [*OPTIMIZERS, *sorted(torch_classes)], OPTIMIZER_ALIASES))
        )
    return _spec(found.__name__, found, f"torch.optim.{found.__name__}", weight_decay=_decay_kind(found))


def _decay_kind(cls: type[Optimizer]) -> Literal["l2", "decoupled"]:
    """AdamW's decay, or a class whose ``decoupled_weight_decay`` (torch's Adam flag) defaults to true."""
    if issubclass(cls, torch.optim.AdamW):
        return "decoupled"
    try:
        flag = inspect.signature(cls.__init__).parameters.get("decoupled_weight_decay")
    except (TypeError, ValueError):  # a signature inspect cannot read
        flag = None
    return "decoupled" if flag is not None and flag.default is True else "l2"


def _accepted(cls: type[Optimizer]) -> tuple[tuple[str, ...], bool]:
    """Keyword settings the class's constructor takes, and whether it takes ``**kwargs``."""
    sig = inspect.signature(cls.__init__)
    names: list[str] = []
    var_kw = False
    for i, p in enumerate(sig.parameters.values()):
        if i == 0 or p.name == "params" or p.kind is p.VAR_POSITIONAL:
            continue
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
        else:
            names.append(p.name)
    return tuple(names), var_kw


def _check_positive(name: str, value: Any, *, allow_zero: bool = False) -> float:
    value = plain(value)  # torch.tensor(0.1), np.float32(0.1): the number they hold
    message = result_lr_message(name, value) if name == "lr" else None
    if message is not None:
        raise TypeError(message)
    value = real_number(name, value, none_lr_hint(name, value) if name == "lr" else "")
    number = float(value)
    if not (math.isfinite(number) and (number >= 0 if allow_zero else number > 0)):
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"Expected {name} {rule} and finite, but got {name}={value!r}")
    return number


#: On/off settings whose class default is ``None`` (torch picks the implementation): ``foreach="no"`` read as on.
_OPTIONAL_FLAGS = frozenset({"foreach", "fused"})


def _check_number_setting(name: str, value: Any, default: Any) -> Any:
    """A setting whose class default is a number (``eps``, ``lr_decay``, ``rho``) must be a finite number.

    torch's own checks compare the value with a number first: a string failed with "'<=' not
    supported between instances of 'float' and 'str'", naming neither the setting nor the fix, and
    ``eps=inf`` passed them (Adadelta then wrote NaN into the weights at the first step).

    Returns:
        The value to build the optimizer with: a tensor, a float and an int torch can compute with as given; another
        real number (``Fraction(1, 2)``, an int past int64 such as ``eps=10**30``), or an int where the default is a
        float, as its float. torch's step failed on them: "add_(): argument 'other' must be Tensor, not Fraction",
        "int too big to convert".

    Raises:
        TypeError: ``value`` is not a real number (or a one-element real tensor).
        ValueError: ``value`` is not finite, where the class's default is.

    """
    if is_number_tensor(value):
        number = float(value)
    elif is_real(value):
        number = float(value)
    else:
        hint = ""
        if isinstance(value, str):
            hint = f" (a string: write a number, e.g. {name}={default!r}, the class's default)"
        raise TypeError(f"Expected {name} to be a number, but got {name}={value!r}{hint}")
    if not math.isfinite(number) and math.isfinite(float(default)):
        raise ValueError(f"Expected {name} to be finite, but got {name}={value!r}")
    if isinstance(value, torch.Tensor) or type(value) is float:
        return value
    if type(value) is int and not isinstance(default, float) and -(2**63) <= value < 2**63:
        return value  # an int setting of the user's own optimizer class stays an int
    return number


def _check_group_numbers(index: int, group: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    """A given param group's ``lr``, ``weight_decay`` and other number settings must be numbers (``lr`` >= 0).

    torch checks the settings passed to the class, not those of a group: ``{"params": ..., "lr": "1e-4"}`` (a
    YAML config reads ``1e-4`` without a dot as text) was taken, and the first step failed inside torch with "bad
    operand type for unary -: 'str'"; ``"lr": -1e-3`` trained uphill without a word.

    A group's ``momentum`` and ``betas`` get the class-level rule, each in ``[0, 1)``: torch checks them at
    construction for the class's settings only, so a group's ``"momentum": 2`` or ``"betas": (1.5, 0.999)`` was
    taken and grew the velocity (the moments) geometrically, a curve of NaN with no word of why.

    Raises:
        TypeError: A setting that is not a number (a string says how to write it); ``betas`` that are not a pair
            of numbers.
        ValueError: An ``lr`` or ``weight_decay`` below 0 or not finite; another number setting not finite
            where the class's default is; a ``momentum`` or either of ``betas`` outside ``[0, 1)``.

    """
    for key, given in group.items():
        default = defaults.get(key)
        if key == "betas" and "betas" in defaults:
            _check_betas(given, f"param group {index}'s ")
            continue
        if key not in ("lr", "weight_decay") and not (is_real(default) and not isinstance(default, bool)):
            continue  # params, betas, flags, a group's own keys ("name")
        value = plain(given)
        name = f"param group {index}'s {key}"
        if not is_real(value):
            if isinstance(value, str):
                example = {"lr": "1.0e-4", "weight_decay": "0.01"}.get(key, repr(default))
                hint = (
                    " (a string: a YAML config reads 1e-4 without a dot as text; write a number, e.g. "
                    f"{key}={example}, or convert it with float())"
                )
            else:
                hint = none_lr_hint("lr", value) if key == "lr" else ""
            raise TypeError(f"Expected {name} to be a number, but got {key}={given!r}{hint}")
        number = float(value)
        if key in ("lr", "weight_decay") and not (math.isfinite(number) and number >= 0):
            raise ValueError(f"Expected {name} >= 0 and finite, but got {key}={given!r}")
        if not math.isfinite(number) and default is not None and is_real(default) and math.isfinite(float(default)):
            raise ValueError(f"Expected {name} to be finite, but got {key}={given!r}")
        if key == "momentum" and not 0 <= number < 1:
            raise ValueError(f"Expected {name} in [0, 1), but got {key}={given!r}")


def _check_betas(betas: Any, owner: str = "") -> None:
    """``betas``, the class's or (``owner``: ``"param group 1's "``) a group's: a pair of numbers, each in ``[0, 1)``.

    torch's own check said "Invalid beta parameter at index 0: 1.0", the value without the range, and checks the
    class's betas only (see :func:`_check_group_numbers`). The class's may be tensors (a capturable Adam's): those
    that are no single number are left to torch.
    """
    pair = tuple(plain(b) for b in betas) if isinstance(betas, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(
        (is_real(b) and not isinstance(b, bool)) or (not owner and torch.is_tensor(b)) for b in pair
    ):
        raise TypeError(f"Expected {owner}betas to be a pair of numbers (beta1, beta2), but got betas={betas!r}")
    if not all(0 <= float(b) < 1 for b in pair if is_real(b)):  # nan fails too
        raise ValueError(
            f"Expected {owner}betas each in [0, 1), but got betas={betas!r}; the usual values are (0.9, 0.999)"
        )


def _check_matrices_only(spec: OptimizerSpec, model: nn.Module) -> None:
    """Refuse a model with parameters other than 2-D matrices for an optimizer that steps matrices only (Muon).

    torch's Muon refused the first bias of ``create_optimizer("muon", model)`` with "Muon only supports 2D
    parameters whereas we found a parameter with size: torch.Size([64])", which said neither which parameter nor
    how Muon is meant to be used (over the weight matrices, another optimizer for the rest).

    Raises:
        ValueError: ``model`` has trainable parameters that are not 2-D.

    """
    muon = getattr(torch.optim, "Muon", None)
    if muon is None or not issubclass(spec.cls, muon):
        return
    # Frozen parameters too: param_groups hands the optimizer every parameter, as torch's own optimizers take them.
    others = [(name, p) for name, p in model.named_parameters() if p.dim() != 2]
    if not others:
        return
    name, first = others[0]
    raise ValueError(
        f"Optimizer {spec.name!r} ({spec.cls.__name__}) steps 2-D weight matrices only, but the model has "
        f"{plural(len(others), 'parameter')} of other shapes (first: {name}, shape {tuple(first.shape)}): biases, "
        "norm layers' scales, convolution kernels. Build it over the matrices and another optimizer for the rest "
        f"(create_optimizer({spec.name!r}, [p for p in model.parameters() if p.ndim == 2], lr=...)), or use an "
        "optimizer for every parameter, such as 'adamw' (lrfind: --optimizer adamw)."
    )


def _check_unit(name: str, value: Any) -> float:
    """A decay rate in ``[0, 1)``."""
    number = _check_positive(name, value, allow_zero=True)
    if number >= 1:
        raise ValueError(f"Expected 0 <= {name} < 1, but got {name}={value!r}")
    return number


#: A class name with the word "Norm" (or "Normalization"): ``RMSNorm``, ``LayerNorm2d``, ``BatchNormAct2d``,
#: ``LayerNormalization``; not ``NormalizingFlow``, ``Normalizer``, ``AbnormalityHead`` or ``Enormous``.
_NORM_NAME = re.compile(r"Norm(?:alization)?(?![a-z])")


def _is_norm_module(module: nn.Module) -> bool:
    # User-defined norms (a hand-written RMSNorm) are caught by their class name, by the word "Norm":
    # "norm" anywhere in it also took a NormalizingFlow's or an AbnormalityNet's own weights out of weight decay.
    return isinstance(module, NORM_LAYERS) or _NORM_NAME.search(type(module).__name__) is not None


def _is_weight_norm_gain(module: nn.Module, leaf: str) -> bool:
    """Whether the parameter ``leaf`` of ``module`` is a weight norm's magnitude ``g`` (``w = g * v / ||v||``).

    ``g`` is a gain, one per output: decaying it shrinks the layer's output towards 0 as decaying a
    LayerScale gain does, while decaying the direction ``v`` leaves the layer's function as it is.
    ``torch.nn.utils.parametrizations.weight_norm`` keeps ``g`` as ``original0`` of the
    ``ParametrizationList`` at ``module.parametrizations.<name>``; the older
    ``torch.nn.utils.weight_norm`` as ``<name>_g``, next to its ``WeightNorm`` forward pre-hook. Its
    shape is the weight's with the other dimensions 1 (``(out, 1)``), so the 1-D rule missed it.
    """
    if leaf == "original0" and isinstance(module, parametrize.ParametrizationList):
        return any(type(p).__name__ == "_WeightNorm" for p in module)
    if leaf.endswith("_g"):
        from torch.nn.utils.weight_norm import WeightNorm

        hooks = module._forward_pre_hooks.values()
        return any(isinstance(h, WeightNorm) and f"{h.name}_g" == leaf for h in hooks)
    return False


def _tied_message(conflicts: list[tuple[str, tuple[float, bool], str, tuple[float, bool]]]) -> str:
    """The warning for tied parameters whose names get different settings: which one they get, and how to choose."""

    def words(key: tuple[float, bool]) -> str:
        return f"lr factor {key[0]:g}, {'decayed' if key[1] else 'no weight decay'}"

    lines = [f"{a!r} ({words(ka)}) and {b!r} ({words(kb)})" for a, ka, b, kb in conflicts[:3]]
    more = f" and {len(conflicts) - 3} more" if len(conflicts) > 3 else ""
    return (
        f"param_groups: tied parameters (one tensor under two names) get different settings under their names: "
        f"{'; '.join(lines)}{more}. A tied parameter trains at one LR and one weight decay: it takes its first "
        "name's (torch's named_parameters order). To choose, give both names' modules the same lr_factors factor "
        "(a pattern matching each), or untie the weights."
    )


def _unwrapped(model: nn.Module) -> nn.Module:
    """The user's model inside ``torch.compile``'s, ``DataParallel``'s or ``DistributedDataParallel``'s wrapper.

    The wrappers prefix every name (``_orig_mod.``, ``module.``) and are the only top-level
    child, so ``lr_factors`` patterns matched nothing and ``layer_lr_decay`` saw one layer.
    """
    while True:
        inner = getattr(model, "_orig_mod", None)  # torch.compile's OptimizedModule
        if inner is None and isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            inner = model.module
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def no_trainable_message(what: str, model: nn.Module, averaged: set[int]) -> str:
    """Why ``model`` (called ``what``: "The model", "The module") has nothing to train, and what to do.

    When the only parameters requiring grad are an ``AveragedModel``'s copies (:func:`averaged_copies`),
    "none requires grad" was not true: the message names them, and that no optimizer trains them.
    """
    held = [name for name, p in model.named_parameters() if p.requires_grad and id(p) in averaged]
    if not held:
        return f"{what} has no trainable parameters (none requires grad). Unfreeze some parameters first."
    more = f" and {len(held) - 1} more" if len(held) > 1 else ""
    return (
        f"{what} has no trainable parameters: the only ones that require grad ({held[0]}{more}) are the copies an "
        "AveragedModel holds, which its update_parameters sets and no optimizer trains. Unfreeze the network it "
        "averages, or pass that network itself."
    )


def averaged_copies(model: nn.Module) -> set[int]:
    """The ids of the parameters only an ``AveragedModel`` below ``model`` holds: an EMA or SWA copy's.

    ``torch.optim.swa_utils.AveragedModel`` deep-copies the model it averages, ``requires_grad``
    included, and is set by ``update_parameters``, never trained: registered as a submodule
    (``self.ema = AveragedModel(self.net)``) its copies came into ``model.parameters()``. A
    parameter also held outside one (shared with the live model) is not counted. ``model`` itself
    being one (inside a ``torch.compile``/DDP wrapper too) is the model to train: its parameters
    are not counted either.

    Example:
        >>> from torch.optim.swa_utils import AveragedModel
        >>> net = nn.Sequential(nn.Linear(2, 2))
        >>> model = nn.ModuleDict({"net": net, "ema": AveragedModel(net)})
        >>> len(averaged_copies(model)), sum(1 for _ in model.parameters())
        (2, 4)

    """
    from torch.optim.swa_utils import AveragedModel

    root = _unwrapped(model)
    averaged = [f"{name}." for name, m in root.named_modules() if name and isinstance(m, AveragedModel)]
    if not averaged:
        return set()
    inside: set[int] = set()
    outside: set[int] = set()
    for name, param in root.named_parameters(remove_duplicate=False):
        (inside if any(name.startswith(prefix) for prefix in averaged) else outside).add(id(param))
    return inside - outside


def param_groups(
    model: nn.Module,
    *,
    lr: float,
    weight_decay: float | None = None,
    decay_norm_and_bias: bool = False,
    bias_lr_factor: float = 1.0,
    layer_lr_decay: float | None = None,
    lr_factors: Mapping[str, float] | None = None,
) -> list[dict[str, Any]]:
    """Split a model's parameters into optimizer param groups.

    Each parameter gets an LR factor, the product of

    * ``bias_lr_factor`` if it is a bias (its name ends in ``"bias"`` or starts with ``"bias_"``,
      as a recurrent layer's ``bias_ih_l0`` does);
    * ``layer_lr_decay ** (n - 1 - i)`` for the ``i``-th of the model's ``n`` top-level children
      that own parameters (registration order): the last child (the head) trains at ``lr``,
      each earlier one at ``layer_lr_decay`` times the next. Parameters set directly on the
      model itself count as the first layer. A child whose parameters are all tied to an
      earlier child's (a language model's output head sharing the embedding's weight) owns
      none and is no layer: the last layer before it trains at ``lr``;
    * the factor of the first pattern in ``lr_factors`` (in mapping order) that matches the
      parameter's module or one of its ancestors (``fnmatch`` on the qualified module name, so
      ``"backbone"`` covers ``"backbone.layer1.0.conv1"`` and ``"backbone.layer*"`` covers
      ``"backbone.layer2"``); parameters no pattern matches keep factor 1.

    and belongs to the *decay* or the *no-decay* set. With ``decay_norm_and_bias=False`` (the
    default), biases, normalization-layer weights (modules in :data:`NORM_LAYERS`, or any
    module whose class name has the word ``Norm`` or ``Normalization``, as ``RMSNorm``,
    ``LayerNorm2d`` or ``BatchNormAct2d`` do, unlike ``NormalizingFlow``), every other 1-D or
    scalar parameter (a LayerScale gain, a PReLU slope, a learned temperature) and a weight norm's
    magnitude ``g`` (``weight_norm``'s ``original0``, the older one's ``weight_g``: a gain per
    output, shaped ``(out, 1)``; its direction ``v`` is decayed like a weight) are in the no-decay
    set and get ``weight_decay=0``. With ``decay_norm_and_bias=True`` every parameter is decayed.
    A tied parameter (one tensor under two names, as a language model's embedding and output
    weights) is one optimizer entry: it gets its first name's factor and decay
    (``named_parameters`` order), and a warning names both when the other name's differ by
    ``lr_factors``, ``bias_lr_factor`` or decay. Names apart only by their ``layer_lr_decay``
    depth (a language model's tied embedding and output head, the usual case) are not warned
    about: the tensor gets its first name's depth, the embedding's, as layer-wise decay gives it,
    and a head with no parameter of its own is no layer (see above), so a group stays at factor 1.
    Names are read inside a ``torch.compile``, ``DataParallel`` or ``DistributedDataParallel``
    wrapper: ``"backbone"`` matches the wrapped model's backbone. The copies an
    ``AveragedModel`` submodule holds (an EMA or SWA of the weights, set by ``update_parameters``,
    never by a gradient) are left out (:func:`averaged_copies`); a child holding only such copies
    is no layer for ``layer_lr_decay``.

    Parameters sharing (factor, decay) form one group, with keys ``params``, ``lr``
    (``lr * factor``), ``lr_factor``, ``name`` (Lightning's ``LearningRateMonitor`` uses it) and
    ``weight_decay`` (``0.0`` for the no-decay set; for the decay set only when
    ``weight_decay`` is given, so the class default applies otherwise). Frozen parameters are
    kept: optimizers skip parameters without a gradient, and unfreezing them later then needs
    no new optimizer.

    Args:
        model: The model.
        lr: Base learning rate (``> 0``).
        weight_decay: Weight decay of the decay set (``>= 0``); ``None`` leaves the class default.
        decay_norm_and_bias: ``False``: no weight decay on biases, normalization weights,
            weight-norm magnitudes and other 1-D or scalar parameters. ``True``: decay them like
            every other parameter.
        bias_lr_factor: LR multiplier for biases (``> 0``; Caffe used 2).
        layer_lr_decay: In ``(0, 1]``: per-layer LR decay from the head down (see above).
        lr_factors: Module-name pattern -> LR factor (``> 0``), for discriminative fine-tuning.

    Returns:
        The param groups, ready for any ``torch.optim`` optimizer.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``.
        ValueError: A setting out of range, a pattern that matches no module, or a model
            without parameters.

    Warns:
        UserWarning: A tied parameter's names get different ``lr_factors``/``bias_lr_factor``
            factors or decay (it takes the first's).

    Example:
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
        >>> [g["name"] for g in param_groups(model, lr=0.1, weight_decay=1e-4)]
        ['decay', 'no_decay']

    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"Expected model to be an nn.Module, but got {type(model).__name__}")
    check_module_initialised("model", model)
    model = _unwrapped(model)
    lr = _check_positive("lr", lr)
    if weight_decay is not None:
        weight_decay = _check_positive("weight_decay", weight_decay, allow_zero=True)
    if not isinstance(decay_norm_and_bias, bool):
        raise TypeError(f"Expected decay_norm_and_bias to be a bool, but got {decay_norm_and_bias!r}")
    bias_lr_factor = _check_positive("bias_lr_factor", bias_lr_factor)
    if layer_lr_decay is not None:
        layer_lr_decay = _check_positive("layer_lr_decay", layer_lr_decay)
        if layer_lr_decay > 1:
            raise ValueError(f"Expected 0 < layer_lr_decay <= 1, but got layer_lr_decay={layer_lr_decay}")
    patterns = _checked_lr_factors(lr_factors)

    # Every name, a shared module's and a tied parameter's second ones too: each name is read for the conflict check.
    module_of: dict[str, tuple[str, nn.Module]] = {}
    for mod_name, module in model.named_modules(remove_duplicate=False):
        for p_name, _ in module.named_parameters(recurse=False):
            module_of.setdefault(f"{mod_name}.{p_name}" if mod_name else p_name, (mod_name, module))

    averaged = averaged_copies(model)
    layer_factor: dict[str, float] = {}
    if layer_lr_decay is not None:
        # A layer is a child that owns a trained parameter under its first name: a tied output head (its only
        # weight the embedding's, met first) is none, so the last layer that owns one, not the tied head, is at
        # factor 1; counting the head left every group below lr, and lr_group="base" set none.
        owners: set[str] = set()
        for full_name, param in model.named_parameters():  # each tensor once, under its first name
            if id(param) not in averaged and "." in full_name:
                owners.add(full_name.split(".", 1)[0])
        children = [n for n, _ in model.named_children() if n in owners]
        n = len(children)
        for i, child in enumerate(children):
            layer_factor[child] = layer_lr_decay ** (n - 1 - i)
        layer_factor[""] = layer_lr_decay ** max(n - 1, 0)

    def settings_of(full_name: str, param: nn.Parameter) -> tuple[tuple[float, bool], float]:
        """The (LR factor, decayed) the rules give ``param`` under ``full_name``, and its ``layer_lr_decay`` part."""
        mod_name, module = module_of[full_name]
        leaf = full_name.rsplit(".", 1)[-1]
        # An LSTM's bias_ih_l0 / bias_hh_l0 and MultiheadAttention's bias_k / bias_v are biases too.
        is_bias = leaf.endswith("bias") or leaf.startswith("bias_")
        # A gain or a scalar (a LayerScale's gamma, a PReLU's slope, a learned temperature) is no weight
        # matrix either: shrinking it towards 0 switches its layer off (timm's rule: ndim <= 1 is not decayed).
        # A lazy module's weight before its first forward is a 1-D placeholder: torch's lazy layers (Linear,
        # Conv) hold matrices there, and their norms are norm modules.
        vector = param.ndim <= 1 and not is_lazy(param)
        gain = vector or _is_weight_norm_gain(module, leaf)
        decay = decay_norm_and_bias or not (is_bias or gain or _is_norm_module(module))
        factor = bias_lr_factor if is_bias else 1.0
        layer = 1.0
        if layer_lr_decay is not None:
            top = mod_name.split(".", 1)[0] if mod_name else ""
            # A tied head's second name (a child that is no layer) is read for the conflict message only: at 1.
            layer = layer_factor.get(top, 1.0)
            factor *= layer
        if patterns:
            parts = mod_name.split(".") if mod_name else [""]
            ancestors = [".".join(parts[: k + 1]) for k in range(len(parts))]
            for pattern, pf in patterns.items():
                if any(fnmatch.fnmatchcase(a, pattern) for a in ancestors):
                    factor *= float(pf)
                    break
        return (factor, decay), layer

    groups: dict[tuple[float, bool], dict[str, Any]] = {}
    # id(param) -> its first name, settings and layer_lr_decay part
    first: dict[int, tuple[str, tuple[float, bool], float]] = {}
    conflicts: list[tuple[str, tuple[float, bool], str, tuple[float, bool]]] = []
    for full_name, param in model.named_parameters(remove_duplicate=False):
        if id(param) in averaged:
            continue  # an EMA/SWA copy: no gradient ever reaches it
        key, layer = settings_of(full_name, param)
        seen = first.get(id(param))
        if seen is not None:
            # A tied parameter (one tensor under two names) is one optimizer entry: one LR, one decay.
            # Names apart only by their layer_lr_decay depth are not warned about: every language model
            # with tied input and output embeddings is so (the embedding's depth is the one layer-wise
            # decay gives it, as timm's and BEiT's rules do), and no lr_factors could make them agree.
            (seen_factor, seen_decay), seen_layer = seen[1], seen[2]
            if (seen_factor / seen_layer, seen_decay) != (key[0] / layer, key[1]):
                conflicts.append((seen[0], seen[1], full_name, key))
            continue
        first[id(param)] = (full_name, key, layer)
        factor, decay = key
        if key not in groups:
            label = "decay" if decay else "no_decay"
            groups[key] = {"params": [], "lr": lr * factor, "lr_factor": factor, "name": label}
            if not decay:
                groups[key]["weight_decay"] = 0.0
            elif weight_decay is not None:
                groups[key]["weight_decay"] = weight_decay
        groups[key]["params"].append(param)
    if conflicts:
        warn(_tied_message(conflicts), stacklevel=2)
    if not groups:
        raise ValueError(f"The model {type(model).__name__} has no parameters to optimize")
    names = sorted({m for m, _ in model.named_modules(remove_duplicate=False)} - {""})
    unused = [p for p in patterns if not any(fnmatch.fnmatchcase(m, p) for m in names)]
    if unused:
        known = (
            f"module names are: {', '.join(names[:20])}" + (" ..." if len(names) > 20 else "")
            if names
            else f"the model ({type(model).__name__}) has no submodules; use bias_lr_factor or the lr itself"
        )
        raise ValueError(f"lr_factors patterns {unused} match no module; {known}")
    out = list(groups.values())
    # Name groups uniquely when there are several per decay kind (LearningRateMonitor keys).
    for label in ("decay", "no_decay"):
        same = [g for g in out if g["name"] == label]
        if len(same) > 1:
            for g in same:
                g["name"] = f"{label}_x{g['lr_factor']:.3g}"
    logger.debug("param_groups: %d groups, lr=%.2e", len(out), lr)
    return out


def _checked_lr_factors(lr_factors: Mapping[str, float] | None) -> dict[str, float]:
    """``lr_factors`` as a dict of patterns to factors, each checked: a mapping, str keys, factors > 0 and finite."""
    if lr_factors is not None and not isinstance(lr_factors, Mapping):
        raise TypeError(
            "Expected lr_factors to be a mapping of module-name patterns to LR factors (e.g. {'head': 10.0}), "
            f"but got lr_factors={lr_factors!r}"
        )
    patterns = dict(lr_factors or {})
    for pattern, factor in patterns.items():
        if not isinstance(pattern, str):
            raise TypeError(f"Expected lr_factors keys to be module-name patterns (str), but got {pattern!r}")
        patterns[pattern] = _check_positive(f"lr_factors[{pattern!r}]", factor)
    return patterns


def check_optimizer_settings(spec: OptimizerSpec, settings: Mapping[str, Any], *, groups: bool = False) -> None:
    """Refuse setting names ``spec``'s class does not take, suggesting the close ones.

    Args:
        spec: The optimizer (:func:`get_optimizer_spec`).
        settings: The keyword settings to pass it.
        groups: Whether the :func:`param_groups` settings (``bias_lr_factor``, ...) are allowed
            too (they are when a model is given).

    Raises:
        TypeError: A setting the class does not take (a class taking ``**kwargs`` takes all).

    """
    accepted, var_kw = _accepted(spec.cls)
    allowed = (*accepted, *_GROUP_SETTINGS) if groups else accepted
    unknown = [str(k) for k in settings if k not in allowed]
    if unknown and not var_kw:
        # Adam's family has no momentum setting: the first of its betas is the momentum's decay.
        betas = (
            f" For {spec.cls.__name__} the momentum is the first of its betas: set betas (e.g. 0.9, 0.999) instead."
            if "momentum" in unknown and "betas" in allowed
            else ""
        )
        # AdamW decouples its weight decay always: "did you mean 'weight_decay'?" read as if the flag were misspelt.
        decoupled = "decoupled_weight_decay" in unknown and issubclass(spec.cls, torch.optim.AdamW)
        guessed = [k for k in unknown if not (decoupled and k == "decoupled_weight_decay")]
        always = (
            f" {spec.cls.__name__} always decouples its weight decay (Loshchilov & Hutter): drop "
            "decoupled_weight_decay; weight_decay sets the decoupled decay."
            if decoupled
            else ""
        )
        raise TypeError(
            f"Optimizer {spec.name!r} ({spec.cls.__name__}) does not take the {word(len(unknown), 'setting')} "
            f"{', '.join(unknown)}; "
            f"it accepts: {', '.join(allowed)}.{did_you_mean_each(guessed, allowed)}{betas}{always}"
        )


def stand_in_refusal(
    name: str | type[Optimizer], settings: Mapping[str, Any], *, device: str = "cpu"
) -> Exception | None:
    """The error building ``name`` with ``settings`` raises on a small stand-in model, if they cause one.

    Checks the settings' values (types, ranges, torch's own checks) before a model is at hand: at
    ``LRFinder`` construction, and for ``lrfind``'s options. Of ``lr_factors`` only the type and
    the factors are checked: its patterns name the user's modules. Only a refusal the settings
    cause counts: an optimizer that cannot be built on the stand-in even without them (one that
    needs particular parameters) is left to the real model.

    Args:
        name: The optimizer, as :func:`create_optimizer` takes it.
        settings: Its keyword settings.
        device: Where the stand-in's parameters live.

    Returns:
        The ``TypeError`` or ``ValueError`` the settings cause, or ``None``.

    """
    stand_in = nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2)).to(device)

    def refusal(extra: Mapping[str, Any]) -> Exception | None:
        try:
            create_optimizer(name, stand_in, lr=1e-3, lr_group="largest", **extra)
        except (TypeError, ValueError) as exc:
            return exc
        return None

    if "lr_factors" in settings:
        try:
            _checked_lr_factors(settings["lr_factors"])  # its type and factors; its patterns need the model
        except (TypeError, ValueError) as exc:
            return exc
    if refusal({}) is not None:
        return None
    return refusal({k: v for k, v in settings.items() if k != "lr_factors"})


def _shared(params: Any) -> str:
    """Which param groups share parameters, for torch's bare "some parameters appear in more than one group"."""
    if not isinstance(params, (list, tuple)) or not all(isinstance(g, Mapping) for g in params):
        return ""
    owners: dict[int, list[int]] = {}
    for index, group in enumerate(params):
        tensors = group.get("params")
        tensors = [tensors] if isinstance(tensors, torch.Tensor) else list(tensors or ())
        for tensor in {id(t): t for t in tensors}.values():
            owners.setdefault(id(tensor), []).append(index)
    pairs: dict[tuple[int, ...], int] = {}
    for groups in owners.values():
        if len(groups) > 1:
            pairs[tuple(groups)] = pairs.get(tuple(groups), 0) + 1
    if not pairs:
        return ""
    where = "; ".join(f"groups {' and '.join(map(str, g))} share {plural(n, 'tensor')}" for g, n in pairs.items())
    return (
        f" ({where}). Each parameter may be in one group only: leave the later group's parameters out of the "
        "earlier one (e.g. a group for the head, and one for every other parameter)."
    )


def repeated_tensors_message(optimizer: torch.optim.Optimizer) -> str | None:
    """What is wrong with a param group that lists one tensor twice (``[*model.parameters(), model.head.weight]``).

    torch only warns when the optimizer is built ("in future, this will cause an error"), then steps such a
    tensor once per listing: plain SGD moved it by ``2 * lr * grad``, so it trained at twice the LR recorded.

    Returns:
        What is wrong (the caller says what to do), or ``None`` when each group lists each tensor once.

    """
    for index, group in enumerate(optimizer.param_groups):
        counts = Counter(id(p) for p in group["params"])
        repeated = sum(1 for n in counts.values() if n > 1)
        if repeated:
            return (
                f"param group {index} lists {plural(repeated, 'tensor')} more than once, and torch's optimizers step "
                "a tensor once per listing (SGD moves one listed twice by 2 * lr * grad)"
            )
    return None


def create_optimizer(
    name: str | type[Optimizer],
    model_or_params: nn.Module | Iterable[torch.Tensor] | Iterable[dict[str, Any]],
    *,
    lr: float,
    lr_group: Literal["base", "largest"] = "base",
    **settings: Any,
) -> Optimizer:
    """Build an optimizer by name.

    Args:
        name: A registry name (:func:`list_optimizers`): ``sgd`` (plain, no momentum),
            ``momentum``, ``nesterov``, ``adagrad``, ``rmsprop``, ``adadelta``, ``adam``,
            ``amsgrad``, ``adamw``, ``nadam``, ``radam``, ``yogi``; or a ``torch.optim`` class
            name (``"Adamax"``), a ``"package.module:Class"`` path, or an optimizer class.
        model_or_params: An ``nn.Module`` (its parameters are grouped by :func:`param_groups`;
            for a class without weight decay, such as ``LBFGS``, in one group ``"all"`` unless
            their LR factors differ), or parameters / param-group dicts passed to the class
            unchanged.
        lr: The learning rate (``> 0``) of the groups at factor 1, e.g. ``result.suggestion.lr``.
            A range test records the LR of the optimizer's largest group: with factors above 1
            (``bias_lr_factor=2``, ``lr_factors={"head": 10}``), that group was tested at the
            suggestion; pass ``lr_group="largest"`` to put it there.
        lr_group: Which groups ``lr`` sets: ``"base"`` (default) the groups at factor 1, the
            others at ``lr`` times their factor; ``"largest"`` the group with the largest LR, the
            others at their ratio below it: the convention of a range test's LRs, so
            ``lr=result.lr, lr_group="largest"`` trains every group at the LR it was tested at,
            whatever the factors. The two agree when the largest factor is 1.
        **settings: Keyword settings of the class (``momentum``, ``betas``, ``weight_decay``,
            ...), plus, for a model, the :func:`param_groups` settings ``decay_norm_and_bias``,
            ``bias_lr_factor``, ``layer_lr_decay`` and ``lr_factors``. Weight decay is
            decoupled for ``adamw`` (and ``adam``/``nadam``/``radam`` with
            ``decoupled_weight_decay=True``) and an L2 term added to the gradient for the others.

    Returns:
        The optimizer.

    Raises:
        TypeError: ``model_or_params`` is neither a module nor an iterable of parameters or groups.
        ValueError: An unknown name (the valid ones are listed), a setting out of range, a
            setting that contradicts the name (``sgd`` with momentum, ``nesterov`` without
            momentum, ``amsgrad=False`` for ``amsgrad``), an unknown ``lr_group``, a non-finite
            value for a setting the class defaults to a finite number (``eps=inf``).
        TypeError: A setting the class cannot take (it is named, with the accepted ones), a
            param-group setting without a model, a non-bool for a setting the class defaults to a
            bool (``maximize``) or for ``foreach``/``fused`` (``None`` lets torch choose), a
            non-number for one it defaults to a number (``eps="abc"``), or
            ``betas`` that are not a pair of numbers.

    Example:
        >>> model = nn.Linear(4, 2)
        >>> opt = create_optimizer("nesterov", model, lr=0.1, weight_decay=1e-4)
        >>> opt.defaults["momentum"], opt.param_groups[1]["weight_decay"]
        (0.9, 0.0)

    """
    spec = get_optimizer_spec(name)
    if not isinstance(model_or_params, nn.Module) and (
        isinstance(model_or_params, (str, bytes, Mapping, torch.Tensor)) or not isinstance(model_or_params, Iterable)
    ):
        # torch's "'NoneType' object is not iterable" named neither the argument nor what to pass.
        what = "a single tensor" if isinstance(model_or_params, torch.Tensor) else type(model_or_params).__name__
        raise TypeError(
            "Expected model_or_params to be an nn.Module, an iterable of parameters (model.parameters()) or a list "
            f"of param-group dicts, but got {what}.{state_dict_note(model_or_params)}"
        )
    lr = _check_positive("lr", lr)
    # 0-d tensors and numpy scalars as Python numbers: the groups (and a saved state_dict) hold plain floats.
    settings = {key: plain(value) for key, value in settings.items()}
    if not is_choice(lr_group, ("base", "largest")):
        raise ValueError(f"Expected lr_group to be 'base' or 'largest', but got lr_group={lr_group!r}")
    group_settings = {k: settings.pop(k) for k in _GROUP_SETTINGS if k in settings}
    check_optimizer_settings(spec, settings)
    accepted, var_kw = _accepted(spec.cls)
    defaults = {name: p.default for name, p in inspect.signature(spec.cls.__init__).parameters.items()}
    for key, value in settings.items():
        default = defaults.get(key)
        if isinstance(default, bool):  # an on/off setting: maximize="no" would read as on
            check_flag(key, value)
        elif key in _OPTIONAL_FLAGS and value is not None:  # foreach/fused: None lets torch choose
            check_flag(key, value)
        elif is_real(default):
            settings[key] = _check_number_setting(key, value, default)
    for key, value in spec.fixed.items():
        if key in settings and settings[key] != value:
            hint = {
                "momentum": "use 'momentum' or 'nesterov' for SGD with momentum",
                "nesterov": "use 'nesterov' for Nesterov momentum, 'momentum' for heavy-ball",
                "amsgrad": "use 'amsgrad' for AMSGrad, 'adam' for plain Adam",
            }.get(key, "")
            raise ValueError(
                f"Optimizer {spec.name!r} fixes {key}={value!r}, but got {key}={settings[key]!r}; {hint}".rstrip("; ")
            )
    kwargs: dict[str, Any] = {**spec.defaults, **spec.fixed, **settings}
    # Decay rates torch leaves unchecked above 1: momentum 1.5 grows the velocity geometrically, RMSprop's
    # alpha 2 drives its square average negative (NaN at the first sqrt).
    if "momentum" in kwargs:
        kwargs["momentum"] = _check_unit("momentum", kwargs["momentum"])
    if "alpha" in kwargs and issubclass(spec.cls, torch.optim.RMSprop):
        kwargs["alpha"] = _check_unit("alpha", kwargs["alpha"])
    if "dampening" in kwargs and issubclass(spec.cls, torch.optim.SGD):
        kwargs["dampening"] = _check_positive("dampening", kwargs["dampening"], allow_zero=True)
        if kwargs["dampening"] > 1:
            raise ValueError(f"Expected 0 <= dampening <= 1, but got dampening={kwargs['dampening']!r}")
    if spec.name == "momentum" and not kwargs.get("momentum", 0) > 0:
        raise ValueError(
            f"Optimizer 'momentum' needs momentum > 0, but got momentum={kwargs.get('momentum')!r}; use 'sgd'"
        )
    if issubclass(spec.cls, torch.optim.SGD) and kwargs.get("nesterov"):
        if not (isinstance(kwargs.get("momentum"), (int, float)) and kwargs["momentum"] > 0):
            raise ValueError(f"Nesterov momentum needs momentum > 0, but got momentum={kwargs.get('momentum')!r}")
        if kwargs.get("dampening", 0) != 0:
            raise ValueError(f"Nesterov momentum needs dampening=0, but got dampening={kwargs['dampening']!r}")
    if "weight_decay" in kwargs:
        kwargs["weight_decay"] = _check_positive("weight_decay", kwargs["weight_decay"], allow_zero=True)
    if kwargs.get("betas") is not None:  # torch indexes betas[1] before any check: (0.9,) was an IndexError
        _check_betas(kwargs["betas"])

    if isinstance(model_or_params, nn.Module):
        _check_matrices_only(spec, model_or_params)
        wd = kwargs.get("weight_decay")
        params: Any = param_groups(model_or_params, lr=lr, weight_decay=wd, **group_settings)
        if "weight_decay" not in accepted and not var_kw:
            for g in params:
                g.pop("weight_decay", None)
            if len({g["lr"] for g in params}) == 1:
                # Without weight decay the decay / no-decay split means nothing, and a class that takes
                # a single group (LBFGS) refused it.
                every = [p for g in params for p in g["params"]]
                params = [{"params": every, "lr": params[0]["lr"], "lr_factor": params[0]["lr_factor"], "name": "all"}]
    else:
        if group_settings:
            raise TypeError(
                f"The {word(len(group_settings), 'setting')} {', '.join(group_settings)} "
                f"{word(len(group_settings), 'needs', 'need')} an nn.Module to find biases, norm layers and "
                "module names; pass the model instead of its parameters"
            )
        params = model_or_params
        if not isinstance(params, torch.Tensor) and isinstance(params, Iterable):
            params = list(params)  # torch lists them too; a generator is read once, here
            for i, group in enumerate(params):
                if isinstance(group, Mapping) and "params" not in group:  # torch's bare KeyError: 'params'
                    raise ValueError(
                        f"Expected every param group to hold its parameters under 'params', but group {i} has the "
                        f"keys {sorted(map(str, group))}; pass {{'params': [...], 'lr': ...}}"
                    )
                if isinstance(group, Mapping):
                    _check_group_numbers(i, group, defaults)
    if lr_group == "largest":  # the model's groups (lr times their factor) and given ones alike
        params = list(params)
        # Each group's ratio to lr: its own LR, or lr itself (1) for a bare tensor or a group without one.
        own = [float(g["lr"]) / lr if isinstance(g, dict) and is_real(g.get("lr")) else 1.0 for g in params]
        top = max(own, default=1.0)  # empty: refused below, saying so
        if top > 0 and top != 1.0:
            params = [{**g, "lr": float(g["lr"]) / top} if isinstance(g, dict) and is_real(g.get("lr")) else g
                      for g in params]
            lr = lr / top
    if isinstance(params, (list, tuple)) and not params:
        # torch's "optimizer got an empty parameter list" said nothing of where the list came from.
        why = (
            f"the model ({type(model_or_params).__name__}) has no parameters"
            if isinstance(model_or_params, nn.Module)
            else "model_or_params holds no parameters (a model.parameters() generator is used up by the first "
            "optimizer built from it: pass the model itself, or list(model.parameters()) to reuse the list)"
        )
        raise ValueError(f"Cannot build optimizer {spec.name!r} ({spec.cls.__name__}): {why}.")
    try:
        with warnings.catch_warnings():
            # Said below, with what it does and what to do, instead of torch's "in future, this will cause an error".
            warnings.filterwarnings("ignore", "optimizer contains a parameter group with duplicate parameters")
            optimizer = spec.cls(params, lr=lr, **kwargs)  # type: ignore[call-arg]
    except (TypeError, ValueError) as exc:  # torch's own checks (betas, eps, ...), named with the optimizer
        raise type(exc)(f"Cannot build optimizer {spec.name!r} ({spec.cls.__name__}): {exc}{_shared(params)}") from exc
    repeated = repeated_tensors_message(optimizer)
    if repeated is not None:
        raise ValueError(
            f"Cannot build optimizer {spec.name!r} ({spec.cls.__name__}): {repeated}. List each parameter once: pass "
            "the model itself, or list(dict.fromkeys(params)) to drop the repeats."
        )
    logger.debug("create_optimizer: %s lr=%.2e %s", spec.name, lr, kwargs)
    if spec.name in OPTIMIZERS:
        # The registry name chosen ("momentum"), for the result and its report, which named only the class ("SGD").
        setattr(optimizer, REGISTRY_NAME, spec.name)
    return optimizer
