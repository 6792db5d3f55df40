"""How the range test takes an optimizer step: train modes, autocast, gradient clipping, closures.

The pieces the sweep, the trial runs of :mod:`lrfinder.refine` and the callback's stepper share:
:func:`train_modes`, :func:`autocast` (mixed precision as Lightning runs it), :func:`clip_gradients`,
and the closure an optimizer such as LBFGS or SAM re-evaluates the loss through
(:class:`StepClosure`, :func:`make_reevaluate`), with the checks of how an optimizer steps.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.optim import optimizer as _torch_optimizer

from ._fabric import optimizer_class_name
from .exceptions import ModelError
from .snapshot import _OptimizerWatch, _warmup_owner, restorable_object


def caller_autocast(device: torch.device) -> bool:
    """Whether the caller's code runs under ``torch.autocast`` for ``device``'s type."""
    try:
        return bool(torch.is_autocast_enabled(device.type))
    except TypeError:  # torch < 2.4: no device argument (it answers for CUDA); the CPU has its own query
        return bool(torch.is_autocast_cpu_enabled() if device.type == "cpu" else torch.is_autocast_enabled())


@contextlib.contextmanager
def training_grad_mode(device: torch.device | None = None) -> Iterator[None]:
    """Gradients on and the caller's autocast on ``device`` off, whatever the caller's mode: the test trains.

    A range test called inside ``torch.no_grad()`` or ``torch.inference_mode()`` (an evaluation
    script, a notebook cell) failed with "the loss does not require grad". One called inside
    ``torch.autocast`` read a flat curve: autocast keeps its low-precision copies of the weights
    until the caller's autocast exits, so every forward saw the weights from before the first step.
    The test runs at its own ``precision`` instead (:func:`autocast`). Autograd's anomaly detection
    (``torch.autograd.set_detect_anomaly(True)``, left on for debugging) is off inside, as in the callback:
    it made the NaN gradient of a diverging step a RuntimeError, but the test diverges on purpose.
    """
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode(False))
        stack.enter_context(torch.enable_grad())
        stack.enter_context(torch.autograd.set_detect_anomaly(False))
        if device is not None and caller_autocast(device):
            stack.enter_context(torch.autocast(device_type=device.type, enabled=False))
        yield


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` to ``dtype`` on ``device``'s type, or nothing for full precision (``None``).

    Its weight cache is off: the cache is only emptied when the outermost autocast exits, and under
    a caller's ``torch.autocast`` that is after the test, so later steps would read the cast weights
    of the first one. A weight is cast once per use instead (the same values).
    """
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype, cache_enabled=False)


class SparseGradientClipError(ModelError):
    """``gradient_clip_val`` over a model with sparse gradients, which torch cannot clip.

    A :class:`~lrfinder.exceptions.ModelError` of its own so that ``lrfind`` can tell it as the
    fault of ``--gradient-clip-val`` (a usage error, exit 2), not a failed run.
    """


def clip_gradients(
    optimizer: torch.optim.Optimizer, gradient_clip_val: float | None, gradient_clip_algorithm: str = "norm"
) -> None:
    """Clip the gradients of the parameters ``optimizer`` steps, as Lightning's ``gradient_clip_val`` does.

    ``"norm"``: scale all gradients together so that their total L2 norm is at most
    ``gradient_clip_val`` (``torch.nn.utils.clip_grad_norm_``); ``"value"``: clamp each
    gradient element to ``[-gradient_clip_val, gradient_clip_val]`` (``clip_grad_value_``).
    Called once per optimizer step, after the last micro-batch's backward and after a grad
    scaler's ``unscale_``, so the threshold applies to the true, accumulated gradient.
    ``None`` clips nothing.

    Raises:
        SparseGradientClipError: torch cannot clip a sparse gradient (``nn.Embedding(sparse=True)``);
            its ``NotImplementedError`` from deep inside was blamed on the optimizer's step.

    """
    if gradient_clip_val is None:
        return
    params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
    if not params:
        return
    name = "clip_grad_value_" if gradient_clip_algorithm == "value" else "clip_grad_norm_"
    try:
        if gradient_clip_algorithm == "value":
            nn.utils.clip_grad_value_(params, gradient_clip_val)
        else:
            nn.utils.clip_grad_norm_(params, gradient_clip_val)
    except (NotImplementedError, RuntimeError) as exc:
        if not any(p.grad is not None and p.grad.is_sparse for p in params):
            raise
        raise sparse_clip_error(name) from exc


def sparse_clip_error(
    name: str, setting: str = "gradient_clip_val", fix: str = "Drop gradient_clip_val"
) -> SparseGradientClipError:
    """The error for clipping sparse gradients: ``setting`` asked torch's ``name`` to, which cannot.

    Args:
        name: torch's function that failed (``"clip_grad_norm_"`` or ``"clip_grad_value_"``).
        setting: what asked for the clipping, in the caller's words (the callback names the Trainer's).
        fix: the first way out, before the dense embeddings.

    """
    return SparseGradientClipError(
        f"{setting} cannot clip sparse gradients (those of nn.Embedding(sparse=True)): torch "
        f"{torch.__version__}'s {name} fails on them, in training too. {fix}, or make the "
        "embeddings dense (sparse=False) to clip them."
    )


def train_modes(model: nn.Module) -> None:
    """Put ``model`` in the modes its training runs in: ``model.train()`` unless it is in train mode already.

    A model in train mode keeps each submodule's own mode: a BatchNorm a fine-tuner froze in eval
    mode (``model.train()`` then ``bn.eval()``) stays frozen, as it trains. A model in eval mode (left
    there by an evaluation) is put in ``model.train()``, as a training loop would.
    """
    if not model.training:
        model.train()


@contextlib.contextmanager
def eval_modes(model: nn.Module) -> Iterator[None]:
    """Inside: ``model.eval()``, as an evaluation runs; after: every submodule's own mode put back.

    Each submodule's mode, not ``model.train(was)``: a BatchNorm a fine-tuner froze in eval mode
    inside a model in train mode stays frozen.
    """
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def check_steps_without_closure(
    optimizer: torch.optim.Optimizer | type[torch.optim.Optimizer], fix: str | None = None
) -> None:
    """Refuse ``torch.optim.LBFGS``, whose step is a line search of many loss evaluations.

    An LBFGS step evaluates its closure up to ``max_iter`` times at weights its line search
    picks, so there is no single LR per batch to sweep. Other optimizers whose step takes a
    closure (SAM's two passes, see :class:`StepClosure`) are run with one. ``optimizer`` may be
    the class (``lrfind`` checks ``--optimizer`` before it builds one).

    Args:
        optimizer: The optimizer, or its class.
        fix: What to do, in the caller's terms; by default, to run the range test with SGD or Adam.

    Raises:
        ValueError: ``optimizer`` is an LBFGS.

    """
    cls = optimizer if isinstance(optimizer, type) else type(optimizer)
    if issubclass(cls, torch.optim.LBFGS):
        name = _class_name(optimizer)
        fix = fix or "Run the range test with an optimizer such as SGD or Adam"
        raise ValueError(
            f"Expected an optimizer that steps without a closure, but {name}.step(closure) needs one: it "
            f"re-evaluates the loss several times per step, so there is no single LR per batch to sweep. {fix}; "
            "for LBFGS, keep lr=1 with line_search_fn='strong_wolfe'."
        )


def check_lr_sets_each_step(
    optimizer: torch.optim.Optimizer | type[torch.optim.Optimizer], fix: str | None = None
) -> None:
    """Refuse ``torch.optim.Rprop``, whose ``lr`` is read once, as each weight's first step size.

    Rprop sets every weight's step size to ``lr`` at its first step, then grows or shrinks it by
    ``etas`` from the signs of the gradients alone: the ``lr`` the sweep sets at later steps is
    never read, so the curve records Rprop's own steps from ``min_lr`` and reads as still falling
    at ``max_lr``. ``optimizer`` may be the class (``lrfind`` checks ``--optimizer`` before it
    builds one).

    Args:
        optimizer: The optimizer, or its class.
        fix: What to do, in the caller's terms (the callback's ``optimizer=`` and leaving it out of
            the fit); by default, to run the range test with SGD or Adam.

    Raises:
        ValueError: ``optimizer`` is an Rprop.

    """
    cls = optimizer if isinstance(optimizer, type) else type(optimizer)
    if issubclass(cls, torch.optim.Rprop):
        fix = fix or "Run the range test with an optimizer such as SGD or Adam"
        raise ValueError(
            f"Expected an optimizer that steps by its param groups' lr, but {_class_name(optimizer)} reads lr once, as "
            "each weight's first step size, then adapts the step sizes itself (etas, step_sizes): the LRs the range "
            f"test sweeps would never be used, and the curve would only show Rprop's own steps. {fix}; for Rprop, keep "
            "lr at about the size of a first step (0.01 by default) and tune etas and step_sizes instead."
        )


def _class_name(optimizer: object) -> str:
    """The name of ``optimizer``'s class, or of ``optimizer`` if a class: the user's, not Fabric's ``FabricLBFGS``."""
    return optimizer.__name__ if isinstance(optimizer, type) else optimizer_class_name(optimizer)


def _closure_parameter(optimizer: torch.optim.Optimizer) -> inspect.Parameter | None:
    """``optimizer.step``'s ``closure`` parameter, or None (none, or a builtin step with nothing to read)."""
    try:
        return inspect.signature(optimizer.step).parameters.get("closure")
    except (TypeError, ValueError):  # a builtin or C-implemented step: nothing to read
        return None


def takes_closure(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer.step`` has a ``closure`` parameter (every ``torch.optim`` optimizer's has)."""
    return _closure_parameter(optimizer) is not None


#: The optimizer classes whose ``step(closure)`` calls the closure once, before it reads a gradient, and only hands
#: its value back: every ``torch.optim`` optimizer but ``LBFGS`` (and the abstract base), and lrfinder's ``Yogi``.
_CLOSURE_FIRST_NAMES = (
    "SGD", "Adam", "AdamW", "Adadelta", "Adagrad", "Adamax", "ASGD", "NAdam", "RAdam", "RMSprop", "Rprop",
    "SparseAdam", "Adafactor", "Muon",
)  # fmt: skip


@functools.cache
def _closure_first_types() -> frozenset[type]:
    from .yogi import Yogi

    found = (getattr(torch.optim, name, None) for name in _CLOSURE_FIRST_NAMES)
    return frozenset([Yogi, *(cls for cls in found if isinstance(cls, type))])


def steps_alike_without_closure(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer.step()`` steps exactly as ``optimizer.step(StepClosure(...))`` would.

    True for an optimizer of one of the classes that call their closure once, first, and only hand
    its value back (every ``torch.optim`` optimizer but ``LBFGS``, and :class:`lrfinder.Yogi`, the
    class itself, not a subclass): a :class:`StepClosure`'s first call hands back the loss it holds,
    so it changes nothing. Building it, the loss it holds and the call cost about 25 us a step,
    a twentieth of a small model's step. False when the step could tell: a step hook (it gets
    the closure among the step's arguments, and a pre-hook that changes a gradient makes the
    closure evaluate again), or a ``step`` replaced on the instance other than by torch's LR
    scheduler (whose wrapper only marks the call). Checked at each step: cheap.
    """
    cls = type(optimizer)
    if cls not in _closure_first_types():
        return False
    own = vars(optimizer).get("step")
    if own is not None and not (
        getattr(own, "_wrapped_by_lr_sched", False) and getattr(own, "__wrapped__", None) is cls.step
    ):
        return False
    return not (
        getattr(optimizer, "_optimizer_step_pre_hooks", None)
        or getattr(optimizer, "_optimizer_step_post_hooks", None)
        or any(_foreign_hooks(getattr(_torch_optimizer, "_global_optimizer_pre_hooks", {})))
        or getattr(_torch_optimizer, "_global_optimizer_post_hooks", None)
    )


def _foreign_hooks(table: Mapping[Any, Any]) -> list[Any]:
    """The hooks of ``table`` but lrfinder's own :class:`_OptimizerWatch`, which changes nothing in a step."""
    return [hook for hook in table.values() if not isinstance(hook, _OptimizerWatch)]


def _needs_closure(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer.step`` has a ``closure`` parameter without a default (SAM's, LBFGS's)."""
    closure = _closure_parameter(optimizer)
    return closure is not None and closure.default is inspect.Parameter.empty


class StepClosure:
    """The closure a range-test step hands to ``optimizer.step(closure)``: the loss at the current weights.

    The step's forward and backward have run already, so a first call that finds the weights and
    gradients as that backward left them hands its loss back without a new pass (``torch.optim``
    optimizers call the closure once, first). Any other call re-evaluates: the gradients are
    cleared, the step's micro-batches go forward and backward again at the current weights and
    ``after_backward`` (the clipping) runs, as Lightning's training closure does on every call.
    So a sharpness-aware (SAM) step gets the gradient at its perturbed weights for its second
    pass, whether it evaluates the closure before its first pass (as Lightning's automatic
    optimization needs) or, after a backward the caller ran, only for the second one (it moves
    the weights or clears the gradients first, which the first call notices). Changes made
    through ``.data`` are not tracked by torch; one that clears the gradients is still noticed.

    Args:
        optimizer: The optimizer about to step.
        loss: The step's loss (mean over its micro-batches), already backpropagated.
        reevaluate: Runs the step's micro-batches forward and backward again at the current
            weights (the gradients cleared first) and returns their mean loss.

    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, loss: torch.Tensor, reevaluate: Callable[[], torch.Tensor]
    ) -> None:
        self.loss = loss
        self.reevaluate = reevaluate
        self.calls = 0
        params = [p for g in optimizer.param_groups for p in g["params"]]
        # Version counters: bumped by every in-place change, a step's or a zero_grad's.
        self._as_left = [(p, p._version, p.grad, None if p.grad is None else p.grad._version) for p in params]

    def _untouched(self) -> bool:
        return all(
            p._version == version and p.grad is grad and (grad is None or grad._version == grad_version)
            for p, version, grad, grad_version in self._as_left
        )

    def __call__(self) -> torch.Tensor:
        """The loss at the current weights, with its gradients in ``.grad``."""
        self.calls += 1
        if self.calls == 1 and self._untouched():
            return self.loss
        with torch.enable_grad():
            return self.reevaluate()


def make_reevaluate(
    optimizer: torch.optim.Optimizer,
    step_batches: Sequence[Any],
    loss_of: Callable[[Any], torch.Tensor],
    accumulate_steps: int,
    clip: Callable[[torch.optim.Optimizer], None] | None,
    sync: Callable[[int], contextlib.AbstractContextManager[Any]] | None = None,
) -> Callable[[], torch.Tensor]:
    """The ``reevaluate`` of a :class:`StepClosure`: the step's micro-batches forward and backward again.

    The sweep and the refine trials step a closure-taking optimizer (SAM, LBFGS) the same way;
    this is that one re-evaluation. It clears the gradients, runs ``loss_of`` (which returns a
    checked scalar loss) on every batch in ``step_batches`` (read when called, so the caller
    fills and clears the list per step), backpropagates each divided by ``accumulate_steps``,
    and, when their mean is finite, calls ``clip(optimizer)`` as the first pass did.

    Args:
        optimizer: The optimizer about to step.
        step_batches: The current step's micro-batches (a list the caller refills each step).
        loss_of: ``loss_of(batch) -> loss``: a scalar loss that requires grad.
        accumulate_steps: Micro-batches per optimizer step (each backward is divided by it).
        clip: ``clip(optimizer)`` clips the gradients (``None``: no clipping).
        sync: ``sync(i)``, the context micro-batch ``i`` runs in (:func:`micro_batch_sync`: DDP's
            ``no_sync`` but for the last one); ``None``: none.

    Returns:
        ``reevaluate() -> mean loss`` (detached) of the step's micro-batches.

    """

    def reevaluate() -> torch.Tensor:
        optimizer.zero_grad(set_to_none=True)
        again = []
        for i, batch in enumerate(step_batches):
            with contextlib.nullcontext() if sync is None else sync(i):
                loss = loss_of(batch)
                (loss if accumulate_steps == 1 else loss / accumulate_steps).backward()
            again.append(loss.detach())
        mean = torch.stack(again).mean()
        if clip is not None and torch.isfinite(mean):
            clip(optimizer)
        return mean

    return reevaluate


def with_loss_module(model: nn.Module, loss_fn: object) -> nn.Module:
    """``model``, with ``loss_fn`` beside it when that is a module of its own.

    A loss with parameters (a learnable temperature, a center loss) trains with the model: the
    optimizer may hold them, and a snapshot of the returned module restores them too, with the
    plain attributes a forward changes (a step counter, a running mean kept as a tensor
    attribute), which one without parameters or buffers kept as the test left them.
    """
    if isinstance(loss_fn, nn.Module) and loss_fn is not model:
        return nn.ModuleList([model, loss_fn])
    return model


def loss_states(loss_fn: object) -> list[Any]:
    """``[loss_fn]`` when it is an object, not a module, with ``state_dict()`` and ``load_state_dict()``; else ``[]``.

    Such a loss keeps a state its calls change (a running mean, a step count): a snapshot restores
    it through them (``StateSnapshot(..., states=...)``), as it restores a loss module. Another
    object's attributes are put back one by one (:func:`loss_objects`).
    """
    if isinstance(loss_fn, nn.Module):
        return []
    if callable(getattr(loss_fn, "state_dict", None)) and callable(getattr(loss_fn, "load_state_dict", None)):
        return [loss_fn]
    return []


def _holder(fn: object) -> object:
    """The object a callable keeps its state in: a bound method's object, else the callable (a partial unwrapped)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn.__self__ if isinstance(fn, types.MethodType) else fn


def loss_objects(loss_fn: object, hooks: Sequence[object] = ()) -> list[Any]:
    """``[holder]``: the object a ``loss_fn`` that is no module and has no ``state_dict()`` keeps its state in.

    The ``loss_fn`` itself (a callable object) or the object of a bound method (``loss_fn=losses.kl``), also
    inside a ``functools.partial``, when :func:`~lrfinder.snapshot.restorable_object`; ``[]`` for a function. A
    snapshot puts back its attributes (``StateSnapshot(..., objects=...)``): a call counter annealing a loss
    weight, a running mean or a list of the losses seen were left as the test left them, and training started
    from them.

    Args:
        loss_fn: The test's ``loss_fn``.
        hooks: The progress hooks of the run (``on_step``, ``on_trial``): a holder that one of them is, or is
            a bound method of (``loss_fn=exp.loss, on_step=exp.record``), is left out, as what the hook records
            there is the caller's to keep.

    """
    if isinstance(loss_fn, nn.Module) or loss_states(loss_fn):
        return []
    holder = _holder(loss_fn)
    if any(_holder(hook) is holder for hook in hooks if hook is not None):
        return []
    return [holder] if restorable_object(holder) else []


def _named_modules_in(values: Mapping[str, object], prefix: str) -> list[tuple[str, nn.Module]]:
    """The modules among ``values``, and in the lists, tuples and dicts among them (one deep), named for messages."""
    found: list[tuple[str, nn.Module]] = []
    for key, value in values.items():
        items: Iterable[tuple[object, object]] = ()
        if isinstance(value, dict):
            items = value.items()
        elif isinstance(value, (list, tuple)):
            items = enumerate(value)
        if isinstance(value, nn.Module):
            found.append((f"{prefix}{key}", value))
        found += [(f"{prefix}{key}[{k!r}]", v) for k, v in items if isinstance(v, nn.Module)]
    return found


def step_fn_modules(step_fn: object) -> list[tuple[str, nn.Module]]:
    """The modules a ``step_fn`` holds, by which it may update one outside the model (an EMA or SWA copy).

    Those in its closure (``ema = AveragedModel(model)`` read by a ``def step_fn(model, batch)`` made beside it),
    its default arguments, a ``functools.partial``'s arguments, and the public attributes of the object it is a
    method of, or is (a callable object), one list, tuple or dict deep; each named for messages (``"step_fn's
    ema"``). A snapshot restores those outside the model (``StateSnapshot(..., modules=...)``): an EMA copy took in
    every step of the test, at every swept LR, and training went on from it. A module-level variable the function
    names is not looked for (other code may hold and update it too).
    """
    found: list[tuple[str, nn.Module]] = []
    fn = step_fn
    while isinstance(fn, functools.partial):
        found += _named_modules_in({str(i): a for i, a in enumerate(fn.args)}, "step_fn's argument ")
        found += _named_modules_in(dict(fn.keywords), "step_fn's ")
        fn = fn.func
    holder = fn.__self__ if isinstance(fn, types.MethodType) else fn
    if isinstance(holder, types.FunctionType):
        cells: dict[str, object] = {}
        for name, cell in zip(holder.__code__.co_freevars, holder.__closure__ or (), strict=False):
            with contextlib.suppress(ValueError):  # an empty cell
                cells[name] = cell.cell_contents
        found += _named_modules_in(cells, "step_fn's ")
        names = holder.__code__.co_varnames[holder.__code__.co_argcount - len(holder.__defaults__ or ()) :]
        found += _named_modules_in(dict(zip(names, holder.__defaults__ or (), strict=False)), "step_fn's ")
        found += _named_modules_in(dict(holder.__kwdefaults__ or {}), "step_fn's ")
    elif isinstance(holder, nn.Module):
        found.append((f"step_fn's {type(holder).__name__}", holder))
    elif isinstance(getattr(holder, "__dict__", None), dict):
        public = {k: v for k, v in vars(holder).items() if not k.startswith("_")}
        found += _named_modules_in(public, f"{type(holder).__name__}.")
    return list({id(m): (name, m) for name, m in found}.values())


def outside_step_hooks(optimizer: torch.optim.Optimizer) -> list[str]:
    """The names of ``optimizer``'s step hooks (its own and torch's global ones) whose effects stay after a restore.

    A hook updating an EMA or SWA copy of the weights runs at every step of the test, at every
    swept LR, and what it changes lives outside the model and the optimizer. lrfinder's
    ``PlateauWithWarmup`` hook is not named: :class:`StateSnapshot` puts its warm-up back.
    """
    from torch.optim import optimizer as optimizer_module

    tables = (
        getattr(optimizer, "_optimizer_step_pre_hooks", {}),
        getattr(optimizer, "_optimizer_step_post_hooks", {}),
        getattr(optimizer_module, "_global_optimizer_pre_hooks", {}),
        getattr(optimizer_module, "_global_optimizer_post_hooks", {}),
    )
    names = []
    for table in tables:
        for hook in _foreign_hooks(table):
            if _warmup_owner(hook) is None:
                names.append(str(getattr(hook, "__qualname__", type(hook).__name__)))
    return names


class _LrReadGroup(dict):  # type: ignore[type-arg]
    """A copy of a param group that notes a read of its ``'lr'`` (one by key, ``get`` or a bulk read)."""

    def __init__(self, group: Mapping[str, Any]) -> None:
        super().__init__(group)
        self.lr_read = False

    def __getitem__(self, key: Any) -> Any:
        self.lr_read = self.lr_read or key == "lr"
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self.lr_read = self.lr_read or key == "lr"
        return super().get(key, default)

    # A bulk read may carry the LR on (dict(group), {**group}, group.items()): taken as read.
    def __iter__(self) -> Iterator[Any]:
        self.lr_read = True
        return super().__iter__()

    def keys(self) -> Any:
        self.lr_read = True
        return super().keys()

    def items(self) -> Any:
        self.lr_read = True
        return super().items()

    def values(self) -> Any:
        self.lr_read = True
        return super().values()

    def copy(self) -> dict[str, Any]:
        self.lr_read = True
        return dict(super().items())


def _steps_by_torch(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer``'s class steps with torch's or lrfinder's own ``step`` (each reads ``group['lr']``)."""
    step = getattr(type(optimizer), "step", None)
    module = str(getattr(step, "__module__", "") or "")
    return module.startswith(("torch.", "lrfinder."))


def _cached_groups(
    optimizer: torch.optim.Optimizer, originals: Sequence[Any], copies: Sequence[Any]
) -> list[tuple[Any, Any, Any, Any]] | None:
    """Where else ``optimizer`` holds its param groups, for :func:`lr_read_checked` to lend the copies there too.

    A step reading ``self.group['lr']`` from a group kept in ``__init__`` (``self.group = self.param_groups[0]``,
    or a list or dict of them) read the original, not the copy that notes the read: it was refused as never
    reading the LR, and what it wrote there was overwritten by the copy's. Returns ``(holder, key, copy,
    original)`` for each such place among the optimizer's attributes, one list or dict deep, or ``None`` when a
    group sits in a tuple, where no copy can be put.
    """
    lent = {id(o): c for o, c in zip(originals, copies, strict=True) if c is not o}
    found: list[tuple[Any, Any, Any, Any]] = []
    attributes = vars(optimizer)
    for name, value in attributes.items():
        if name == "param_groups":
            continue
        if id(value) in lent:
            found.append((attributes, name, lent[id(value)], value))
        elif isinstance(value, (list, dict)):
            keys = range(len(value)) if isinstance(value, list) else list(value)
            found += [(value, k, lent[id(value[k])], value[k]) for k in keys if id(value[k]) in lent]
        elif isinstance(value, tuple) and any(id(v) in lent for v in value):
            return None
    return found


class LrReadCheck:
    """Lends an optimizer's step copies of its param groups that note a read of ``'lr'``; puts them back after.

    :func:`lr_read_checked` around a step the range test calls; under the callback's manual optimization,
    where the module's ``training_step`` calls ``opt.step()``, a step pre-hook calls :meth:`lend` and a
    post-hook :meth:`put_back` then :meth:`refuse_unread`. Nothing is lent for a step defined in torch or
    lrfinder (each reads ``group['lr']``), nor for a wrapper holding another optimizer (Lookahead,
    Accelerate's): the one it holds may read its own list of the same groups, which the copies do not reach.
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self._lent: tuple[list[Any], list[Any], list[Any], list[tuple[Any, Any, Any, Any]]] | None = None

    def lend(self) -> None:
        """Put the recording copies in the optimizer's ``param_groups`` (and where else it keeps a group)."""
        optimizer = self.optimizer
        groups = getattr(optimizer, "param_groups", None)
        if (
            self._lent is not None
            or not isinstance(groups, list)
            or _steps_by_torch(optimizer)
            or any(isinstance(value, torch.optim.Optimizer) for value in vars(optimizer).values())  # a wrapper
        ):
            return
        originals = list(groups)
        copies = [_LrReadGroup(group) if isinstance(group, dict) and "lr" in group else group for group in originals]
        cached = _cached_groups(optimizer, originals, copies)
        if cached is None:  # a group held where no copy can stand in for it (a tuple): its reads could not be seen
            return
        groups[:] = copies
        for holder, key, copy, _ in cached:
            holder[key] = copy
        self._lent = (groups, originals, copies, cached)

    def put_back(self) -> list[bool]:
        """Put the original groups back, with what the step wrote in the copies; each copy's read (none: none lent)."""
        if self._lent is None:
            return []
        groups, originals, copies, cached = self._lent
        self._lent = None
        groups[:] = originals
        for holder, key, _, original in cached:
            holder[key] = original
        for original, copy in zip(originals, copies, strict=True):
            if copy is not original:
                original.clear()
                original.update(dict.items(copy))
        return [copy.lr_read for copy in copies if isinstance(copy, _LrReadGroup)]

    def refuse_unread(self, read: Sequence[bool]) -> None:
        """Raise when copies were lent (``read``, from :meth:`put_back`) and the step read the ``'lr'`` of none.

        Raises:
            ModelError: The step ran and read no group's ``'lr'``.

        """
        if read and not any(read):
            name = optimizer_class_name(self.optimizer)
            raise ModelError(
                f"Expected an optimizer that steps by its param groups' lr, but {name}.step() never read group['lr'] "
                "in the range test's first step: it takes its step size from elsewhere (an attribute set in __init__ "
                "such as self.lr, or self.defaults['lr']), so the LRs the test sets in the param groups, as torch's "
                "LR schedulers do, would never be used and the curve would show one LR throughout. Read the LR from "
                f"each group in {name}.step (for group in self.param_groups: lr = group['lr']), as torch's optimizers "
                "do."
            )


@contextlib.contextmanager
def lr_read_checked(optimizer: torch.optim.Optimizer, first: bool) -> Iterator[None]:
    """Around the test's first ``optimizer.step()``: refuse an optimizer whose step never reads ``group['lr']``.

    A user's optimizer taking its step size from elsewhere (``self.lr`` set in ``__init__``, or
    ``self.defaults['lr']``) stepped at one LR throughout while the sweep set each group's: the curve
    read as a sweep and got a suggestion. Only a step defined outside torch and lrfinder is checked,
    through copies of its param groups that note the read, put back (with what the step wrote) after it; the
    copies also stand where the optimizer keeps a group of its own (``self.group``, see :func:`_cached_groups`).
    A wrapper holding another optimizer is not checked (:class:`LrReadCheck`).

    Raises:
        ModelError: The step ran and read no group's ``'lr'``.

    """
    if not first:  # Every step enters this: the check runs at the first only.
        yield
        return
    check = LrReadCheck(optimizer)
    check.lend()
    try:
        yield
    finally:
        read = check.put_back()
    check.refuse_unread(read)
