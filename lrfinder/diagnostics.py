"""The diagnostics behind the range test's error messages: what failed, and what to do about it.

A failing batch is described (:func:`_batch_message`) with the fix its error points to (class
dimension, unpacked inputs, input kind, target and input dtypes); a failing first step is turned
into a :class:`~lrfinder.exceptions.ModelError` (:func:`first_step_errors`); a non-finite loss is
traced to NaN/inf in the data (:class:`_NonFiniteDataWatch`) or to a loss undefined on a batch
(:func:`first_non_finite_loss`); compile failures and out-of-memory errors are recognised.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
import torch
from torch import nn

from ._fabric import optimizer_class_name
from ._wording import plural
from .exceptions import DataError, LRFinderError, ModelError
from .snapshot import StateSnapshot
from .stepping import train_modes

#: What :func:`range_test` tells to do with a batch format it cannot read.
_STEP_FN_FIX = "For other formats, pass step_fn=lambda model, batch: <loss tensor> to range_test."


#: What a step_fn that runs its own backward() (or a whole training step) is told.
_BACKWARD_IN_STEP_FN = (
    "step_fn(model, batch) must return the loss tensor without calling loss.backward() or optimizer.step(): the "
    "range test runs them itself, at the swept LR (gradients were already there when step_fn returned, and the "
    "range test's backward failed). Clip with range_test(gradient_clip_val=...), not clip_grad_norm_ inside step_fn: "
    "there it would run before the backward and clip nothing."
)

def backward_twice_message(factor: float) -> str:
    """What to do about a ``step_fn`` whose own backward gave the gradient the test's adds (:func:`backward_repeated`).

    ``factor``: the step's gradient over the test's own (2 for a ``loss.backward(retain_graph=True)`` of the
    returned loss; ``1 + accumulate_steps`` under accumulation, where the test adds ``1 / accumulate_steps`` of it).
    """
    return (
        "step_fn(model, batch) left gradients in the model that are those of the loss it returns (it ran "
        "loss.backward(retain_graph=True), or the backward of a loss with the same gradient), and the range test runs "
        f"the returned loss's backward itself: each step would take their sum, {factor:.3g}x the gradient, as at "
        f"{factor:.3g}x the swept LR. Return the loss without calling loss.backward() or optimizer.step(): the range "
        "test runs them itself, at the swept LR (after another backward in step_fn, a GAN critic's, clear the "
        "model's gradients with model.zero_grad(), or detach what of the model reaches it)."
    )


#: Added to :data:`_BACKWARD_IN_STEP_FN` for a model from Lightning Fabric's ``fabric.setup``, whose loop calls
#: ``fabric.backward(loss)`` where a plain loop calls ``loss.backward()``.
_FABRIC_STEP_FN = (
    " Under Lightning Fabric, leave fabric.backward(loss) out of step_fn too: the range test runs the backward "
    "itself."
)


#: What Lightning Fabric's wrapped model raises at a ``loss.backward()`` its precision or strategy refuses.
_FABRIC_BACKWARD_REFUSAL = "requires you to call `fabric.backward(loss)`"


def fabric_backward_message(exc: BaseException, model: nn.Module) -> str | None:
    """What to do when Lightning Fabric refused the range test's ``loss.backward()``, or ``None`` for another error.

    A model from ``fabric.setup`` checks at every backward that ``fabric.backward(loss)`` runs it where
    Fabric's precision or strategy acts in the backward (``"bf16-mixed"``, ``"16-mixed"``'s loss scaling,
    DeepSpeed), and raises a bare ``RuntimeError`` otherwise. The range test takes the module and optimizer
    Fabric wraps (``model.module``, ``optimizer.optimizer``) with the same mixed precision instead; under
    another strategy, the model before ``fabric.setup``.
    """
    if _FABRIC_BACKWARD_REFUSAL not in str(exc):
        return None
    strategy = getattr(model, "_strategy", None)
    precision = getattr(getattr(strategy, "precision", None), "precision", None)
    head = (
        "Lightning Fabric refused the range test's loss.backward(): under "
        + (f"precision={precision!r}" if isinstance(precision, str) else "this Fabric's precision or strategy")
        + " a model from fabric.setup() takes fabric.backward(loss) only, and range_test runs the backward itself. "
    )
    if precision in ("bf16-mixed", "16-mixed"):
        return head + (
            "Run the test on the module and optimizer Fabric wraps, in the same precision: "
            f"range_test(model.module, loader, optimizer=optimizer.optimizer, precision={precision!r}, ...). "
            "Training with Fabric after it is as without it. Under DDP each rank then reads its own curve: "
            "train every rank at rank 0's LR, lr = fabric.broadcast(result.lr)."
        )
    return head + "Run the test on the model and optimizer before fabric.setup(model, optimizer)."


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
        if value.is_nested:  # a strided one refuses .shape ("NestedTensorImpl doesn't support sizes")
            return f"{str(value.dtype).removeprefix('torch.')} nested ({value.size(0)} tensors){where}"
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


def _finite_sums(batch: Any, depth: int = 0) -> list[torch.Tensor] | None:
    """Each floating tensor of ``batch`` summed on its device, where NaN and inf carry: read later, with no sync.

    The parts :func:`_non_finite_parts` looks at (as deep). The sums are 0-d tensors, so the batch
    itself can be freed once its loss is taken: :func:`range_test` reads them with the step's loss, in
    one transfer, and looks at a step's batches again only when one is not finite (a NaN/inf, or an
    overflow of finite values, which that look settles). ``None`` when a part is not a plain strided
    real tensor (sparse, nested, float8, complex, a subclass): those steps are looked at every time.
    """
    if isinstance(batch, torch.Tensor):
        if not (batch.is_floating_point() or batch.is_complex()):
            return []
        plain = (
            type(batch) is torch.Tensor and batch.layout == torch.strided and not batch.is_nested
            and not batch.is_complex() and batch.element_size() > 1
        )  # fmt: skip
        if not plain:
            return None
        # A 16-bit sum in float32: float16's would overflow on ordinary data (past 65504) and send every step to
        # the batches' look. Wider ones in their own dtype: a sum in float64 cost twice as much on the CPU.
        data = batch.detach() if batch.requires_grad else batch  # detach() itself cost a step 0.4 us
        return [data.sum(dtype=torch.float32) if batch.element_size() == 2 else data.sum()]
    if depth >= 3:
        return []
    items: Iterable[Any]
    if type(batch) is list or type(batch) is tuple:  # the usual batch, before the costlier Mapping check
        items = batch
    elif isinstance(batch, Mapping):
        items = batch.values()
    elif isinstance(batch, (tuple, list)):
        items = batch
    else:
        return []
    sums: list[torch.Tensor] = []
    for value in items:
        found = _finite_sums(value, depth + 1)
        if found is None:
            return None
        sums.extend(found)
    return sums


def read_together(values: Sequence[torch.Tensor]) -> list[float]:
    """The values of 0-d tensors as floats: in one transfer off an accelerator, one by one on the CPU.

    On a GPU each ``.item()`` waits for the device; stacked, the step's loss and the sums of its
    batches (:func:`_finite_sums`) come back together, in the sync the loss costs anyway. On the CPU
    nothing waits, and ``.item()`` is cheaper than the stack (0.3 us against 6). Mixed dtypes are
    promoted by the stack, exactly (float32 and below fit in float64). Values on several devices (a
    model split over GPUs, its loss on the last one, its inputs on the first) are gathered on the
    first one's device, as copies that wait for nothing on the host.
    """
    for v in values:
        if v.device.type != "cpu":
            break
    else:
        return [float(v.item()) for v in values]
    first = values[0].device
    return [float(v) for v in torch.stack([v if v.device == first else v.to(first) for v in values]).tolist()]


class _NonFiniteDataWatch:
    """Tells a non-finite loss that NaN/inf in the data caused from one the learning rate caused.

    A step whose loss is non-finite while one of its batches holds NaN or inf is blamed on the data
    (:meth:`blame` returns those batches), unless an earlier step whose batch held NaN or inf gave a
    finite loss: such a model copes with those inputs itself (it masks or fills missing values), and
    its non-finite loss is the LR's, like any divergence. Until a step's batch shows that, each step's
    batches are looked at: :func:`range_test` sums their floating tensors on the device as it goes
    (:func:`_finite_sums`), reads the sums with the loss, and calls :meth:`blame` only when one is not
    finite; the callback and ``train`` call it on every step (one pass over their floating tensors,
    after the loss's own host sync). On clean data that goes on, at about the cost of reading the batch once.

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


def raised_by_lrfinder(exc: BaseException) -> bool:
    """Whether ``exc`` was raised in lrfinder's own code (its checks, worded already), not in the user's or torch's.

    Read off the traceback's innermost frame: the user's code that lrfinder calls (a ``training_step``, a
    ``step_fn``) and torch under it are other modules. Their errors are said as the range test's
    (:func:`step_failed_message`); lrfinder's own (a loader's passes counted as the test draws them) pass as they
    are.
    """
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return str(tb.tb_frame.f_globals.get("__name__", "")).split(".")[0] == "lrfinder"


def step_failed_message(
    what: str, exc: BaseException, step: int, lr: float, check: str, *, trial: int | None = None
) -> str:
    """Where in the sweep the user's code raised, and what to check: the message of the error raised from it.

    torch's own error (a shape mismatch in ``training_step``) came out bare, naming neither the range test nor the
    step it failed at; the error raised with this message chains it (``raise ... from exc``), so its traceback is
    kept. ``step`` counts from 0, as the other messages of the sweep count it.

    Args:
        what: The code that raised and who ran it (``"LRFinder: the module's training_step"``).
        exc: What it raised.
        step: The sweep's step it raised at (the trial's, with ``trial``).
        lr: The LR swept at that step (the trial's starting LR, with ``trial``).
        check: What to check, and what was put back.
        trial: The refine trial it raised in (counted from 0), after the sweep; ``None`` for the sweep's own steps.

    """
    text = str(exc).strip()
    said = f": {text.splitlines()[0][:300]}" if text else ""
    where = f"at step {step} (lr={lr:.2e})"
    if trial is not None:
        where = f"in refine trial {trial} (at lr={lr:.2e}), at its step {step}"
    return f"{what} raised {type(exc).__name__} during the LR range test, {where}{said}. {check}"


def raise_training_step_error(
    exc: Exception, who: str, step: int, lr: float, leave_out: str, *, trial: int | None = None
) -> NoReturn:
    """Raise ``exc``, or a :class:`ModelError` chaining it, for the module's ``training_step`` failing in the test.

    lrfinder's own errors, an out-of-memory (for code that lowers the batch size on it) and errors of lrfinder's
    checks are raised as they are; torch.compile's compiler failing raises its own message. Any other error (a
    shape the batch does not fit) came out as torch's bare one, naming neither the test nor its step: the
    :class:`ModelError` says so in :func:`step_failed_message`'s words, for the sweep's steps or, with ``trial``,
    for a refine trial's after the sweep.

    Args:
        exc: What ``training_step`` (or its backward or optimizer step) raised.
        who: The callback's name for itself (``"LRFinder"``).
        step: The step it raised at (the trial's, with ``trial``).
        lr: The LR at that step (the trial's starting LR, with ``trial``).
        leave_out: How to run without the part that failed (``"leave refine out (refine=False)"``).
        trial: The refine trial it raised in (counted from 0); ``None`` for the sweep's own steps.

    """
    if isinstance(exc, LRFinderError) or _is_out_of_memory(exc) or raised_by_lrfinder(exc):
        raise exc
    raise_if_compile_failed(exc)
    # A trial's batches already went through the sweep's steps: not a shape or a key they lack.
    when, example = ("", "e.g. a shape or a key the batch does not have; ")
    if trial is not None:
        when, example = " after the sweep", ""
    raise ModelError(
        step_failed_message(
            f"{who}: the module's training_step (or its backward or optimizer step)",
            exc,
            step,
            lr,
            f"It ran on a batch of the fit's train loader{when}, as in training: check that code on one such batch "
            f"outside the fit ({example}the error it raised is chained, above it in the traceback). The weights, "
            "optimizer and scheduler states, RNGs and data order were put back as they were before the test. Fix it, "
            f"or {leave_out}.",
            trial=trial,
        )
    ) from exc


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


def _is_torch_loss(
    loss_fn: object, module: type[nn.Module], function: Callable[..., Any], cli_name: str | None = None
) -> bool:
    """Whether ``loss_fn`` is one of torch's losses: ``module`` with its own forward, ``function``, or ``lrfind``'s.

    A subclass of ``module`` with a forward of its own may add terms (below zero, for one) and is not
    counted; ``function`` counts inside a ``functools.partial`` too; ``cli_name`` is the ``lrfind --loss``
    name of the same loss, if it has one.
    """
    if isinstance(loss_fn, module):
        return type(loss_fn).forward is module.forward
    while isinstance(loss_fn, functools.partial):
        loss_fn = loss_fn.func
    if cli_name is not None and type(loss_fn).__module__ == "lrfinder.cli.loading":
        return getattr(loss_fn, "name", None) == cli_name
    return loss_fn is function


def _is_kl_div(loss_fn: object) -> bool:
    """Whether ``loss_fn`` is torch's KL divergence: ``nn.KLDivLoss`` (own forward) or ``F.kl_div`` (partial too)."""
    return _is_torch_loss(loss_fn, nn.KLDivLoss, torch.nn.functional.kl_div)


#: How far below 0 a KL divergence's float32 rounding can take it (its terms are a few units at most): a recorded
#: loss under it is no rounding.
_KL_ROUNDING = 1e-3


def _lowest_below_zero(losses: Sequence[float]) -> float | None:
    """The lowest finite loss of ``losses`` if below 0 by more than rounding (:data:`_KL_ROUNDING`), else None."""
    finite = [v for v in losses if math.isfinite(v)]
    return min(finite) if finite and min(finite) < -_KL_ROUNDING else None


#: What a loss without a lower bound did to a range test's curve (``reads=`` of the messages below).
CURVE_READS_NOTHING = "so the curve reads nothing"
#: ... and to a training (``lrfinder.train``).
TRAINING_FITS_NOTHING = "so training drove it down without fitting the targets' probabilities"


def negative_kl_div_message(
    loss_fn: object, losses: Sequence[float], reads: str = CURVE_READS_NOTHING
) -> str | None:
    """Why a KL divergence that went negative reads nothing, or ``None`` if ``loss_fn`` is no KL or never did.

    A KL divergence between distributions is never below 0. ``nn.KLDivLoss`` fed the model's raw
    logits (not log-probabilities) is a linear function of them with no lower bound: the loss went
    from -1.1 to -6e17 over the sweep and read "still falling at the largest LR tried; increase
    max_lr", with nothing said of the input. Only a negative recorded loss is taken as the sign
    (positive logits alone are not: a loss computed on them may still be meant). ``reads``: what that
    did, to the range test's curve (:data:`CURVE_READS_NOTHING`) or to a training (:data:`TRAINING_FITS_NOTHING`).
    """
    if not _is_kl_div(loss_fn):
        return None
    lowest = _lowest_below_zero(losses)
    if lowest is None:
        return None
    return (
        f"The loss went negative (down to {lowest:.3g}), which a KL divergence never is: KLDivLoss/kl_div "
        "expects its input as log-probabilities and its target as probabilities (log-probabilities with "
        "log_target=True), each summing to 1 over the classes. Fed the model's raw logits, the loss has no lower "
        f"bound and only falls, {reads}. Take log_softmax of the output in loss_fn: "
        "loss_fn=lambda out, y: F.kl_div(F.log_softmax(out, dim=-1), y, reduction='batchmean')."
    )


def _is_nll(loss_fn: object) -> bool:
    """Whether ``loss_fn`` is torch's negative log-likelihood: ``nn.NLLLoss``, ``F.nll_loss``, ``lrfind --loss nll``.

    ``nn.NLLLoss`` counts only with its own forward, ``F.nll_loss`` also inside a ``functools.partial``.
    """
    return _is_torch_loss(loss_fn, nn.NLLLoss, torch.nn.functional.nll_loss, "nll")


def negative_nll_message(loss_fn: object, losses: Sequence[float], reads: str = CURVE_READS_NOTHING) -> str | None:
    """Why an NLL loss that went negative reads nothing, or ``None`` if ``loss_fn`` is no NLL or never did.

    ``-log p`` of a probability is never below 0. ``nn.NLLLoss`` (``lrfind --loss nll``) fed the model's raw
    logits instead of log-probabilities is minus the target's logit, with no lower bound: the loss only fell and
    the result read "still falling at the largest LR tried; increase max_lr", with nothing said of the input;
    ``lrfinder.train`` trained on it without a word. ``reads``: as for :func:`negative_kl_div_message`.
    """
    if not _is_nll(loss_fn):
        return None
    lowest = _lowest_below_zero(losses)
    if lowest is None:
        return None
    return (
        f"The loss went negative (down to {lowest:.3g}), which a negative log-likelihood never is: "
        "NLLLoss/nll_loss expects its input as log-probabilities (log_softmax of the scores). Fed the model's raw "
        f"logits, the loss is minus the target's logit, has no lower bound and only falls, {reads}. Use "
        "cross_entropy, which takes raw logits (lrfind: --loss cross_entropy), or take log_softmax of "
        "the output: loss_fn=lambda out, y: F.nll_loss(F.log_softmax(out, dim=1), y)."
    )


def is_cross_entropy(loss_fn: object) -> bool:
    """Whether ``loss_fn`` is torch's cross-entropy: ``nn.CrossEntropyLoss``, ``F.cross_entropy``, ``lrfind --loss``.

    ``nn.CrossEntropyLoss`` counts only with its own forward, ``F.cross_entropy`` also inside a ``functools.partial``.
    """
    return _is_torch_loss(loss_fn, nn.CrossEntropyLoss, torch.nn.functional.cross_entropy, "cross_entropy")



def _every_step(count: int) -> str:
    """``all 3 recorded steps``, ``its one recorded step``: where a message said "all 1 recorded steps"."""
    return "its one recorded step" if count == 1 else f"all {count} recorded steps"

def zero_cross_entropy_message(
    loss_fn: object, losses: Sequence[float], output_shape: Sequence[int] | None = None
) -> str | None:
    """Why a cross-entropy of exactly 0 at every step reads nothing, or ``None`` if ``loss_fn`` is none or it was not.

    Over one score per example (an ``(N, 1)`` output: a binary classifier's single logit) the softmax is 1 and
    the cross-entropy 0 whatever the model, so no gradient reaches it: the curve was flat at 0 and the result
    said "raise max_lr", with nothing said of the loss. ``output_shape`` is the model's output's (its class
    dimension is dim 1, or dim 0 for one unbatched example): only one score per example is told so. A model that
    fits every batch perfectly also gives exactly 0 (its margins past float precision) over any number of
    classes; unknown (``None``), the shape tells nothing, and nothing is said.
    """
    if not is_cross_entropy(loss_fn) or output_shape is None or len(output_shape) == 0:
        return None
    if output_shape[1 if len(output_shape) > 1 else 0] != 1:
        return None
    finite = [v for v in losses if math.isfinite(v)]
    if not finite or any(v != 0 for v in finite):
        return None
    return (
        f"cross_entropy gave exactly 0 at {_every_step(len(finite))}: over an output of one score per example "
        "(shape (N, 1), a binary classifier's single logit) the softmax is 1 and the loss 0 whatever the model, so "
        "nothing trains and the curve reads nothing. For binary targets with one output use BCEWithLogitsLoss "
        "(loss_fn=lambda out, y: F.binary_cross_entropy_with_logits(out, y.float().view_as(out)); lrfind: --loss "
        "bce_with_logits); for C classes give the last layer C outputs."
    )


#: First parameter names that say a function takes the model itself: a ``step_fn(model, batch)``, not a loss.
_MODEL_PARAMETER_NAMES = frozenset({"model", "module", "net", "network"})


def step_fn_as_loss_fn_message(exc: BaseException, loss_fn: Callable[..., Any] | None) -> str | None:
    """Why the first batch failed when ``loss_fn`` is a ``step_fn(model, batch)``, else ``None``.

    A ``step_fn`` passed as ``loss_fn`` (an SSL loss of two augmented views, a mixup) got the model's
    output and the targets, failed inside on ``x, y = batch`` ("too many values to unpack"), and the
    message sent the user to the data's shapes and dtypes. Told by the name of its first parameter.
    """
    if loss_fn is None:
        return None
    try:
        params = list(inspect.signature(loss_fn).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2 or positional[0].name not in _MODEL_PARAMETER_NAMES:
        return None
    name = getattr(loss_fn, "__name__", None) or type(loss_fn).__name__
    shape = ", ".join(p.name for p in positional[:2])
    return (
        f"The first batch does not go through the model and loss_fn ({type(exc).__name__}: {_error_line(exc)}): "
        f"loss_fn is {name}({shape}), the form of a step_fn, which takes the model and the batch, but a loss_fn is "
        f"called as loss_fn(model(inputs), targets). Pass it as step_fn={name}."
    )


def _batch_parts(batch: Any) -> str:
    """A batch in a few words, ``inputs float32 (16, 5), targets int64 (16,)`` for a pair."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return f"inputs {_describe(batch[0], 1)}, targets {_describe(batch[1], 1)}"
    return _describe(batch)


def is_batch_failure(exc: BaseException, batch: Any, first: str) -> bool:
    """Whether a later batch's error is the batch's own, said of the batch by :func:`_batch_message`.

    ``first``: the first batch, described (:func:`_batch_parts`). A batch unlike it (the short last batch of a
    pass), or one whose class labels the output has no scores for (a rare class first met at batch 40): the
    latter fails with torch's bare "Target 6 is out of bounds." from deep in ``cross_entropy``, although its shapes
    and dtypes are the first batch's. Any other error of a batch like the first is left as it is (a bug in the
    model, say).
    """
    return _batch_parts(batch) != first or bool(_target_range_fix(exc, batch))


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
    mixed = _mixed_dtypes(model)
    if mixed and param is not None:
        held = f"; the model's parameters are {mixed[0]} on {param.device}"
    parts = _batch_parts(batch)
    if index is not None and first is not None:
        labels = _target_range_fix(exc, batch, later=True)
        if labels:
            return (
                f"Batch {index} of the pass does not go through the model and loss_fn ({type(exc).__name__}: "
                f"{why}), although the first batch did. The batch: {parts}{held}.{labels} Every batch's labels "
                "must fit the output: check the largest and smallest label of the whole data set, not of one batch."
            )
        return (
            f"Batch {index} of the pass does not go through the model and loss_fn ({type(exc).__name__}: {why}), "
            f"although the first batch did. The batch: {parts}; the first: {first}{held}. "
            "If it is the short last batch of a pass (the data does not divide by batch_size), set "
            "drop_last=True on the DataLoader or let the model take any batch size."
        )
    return (
        f"The first batch does not go through the model and loss_fn ({type(exc).__name__}: {why}). The batch: "
        f"{parts}{held}.{_mixed_dtype_fix(exc, mixed) or _input_dtype_fix(exc, batch, model, param)}"
        f"{_class_dim_fix(exc, batch)}"
        f"{_input_kind_fix(exc, batch)}{_unpacked_inputs_fix(exc, batch, model)}{_unread_keys_fix(exc, batch, model)}"
        f"{target_dtype_fix(exc, batch)}{_class_index_dtype_fix(exc, batch)}"
        f"{_target_range_fix(exc, batch)}{_target_shape_fix(exc, batch)}{_class_labels_fix(exc, batch)} "
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


def _unread_keys_fix(exc: BaseException, batch: Any, model: nn.Module) -> str:
    """`` The batch's 'adj' is not passed to the model ...`` when forward requires a key the dict batch leaves unread.

    A dict batch is read as ``loss_fn(model(batch[x]), batch[y])``; a graph network's ``{"x", "adj", "y"}`` (or a
    second input under any name) failed with torch's "forward() missing 1 required positional argument: 'adj'", and
    the advice was to check the inputs' shape and dtype, with no word that the batch holds ``adj`` and it is not
    passed. Said only for a ``TypeError`` when a parameter ``forward`` requires beyond the input is such a key.
    """
    if not isinstance(exc, TypeError) or not isinstance(batch, Mapping):
        return ""
    from .batches import _INPUT_KEYS, _TARGET_KEYS  # batches imports this module

    x_key = next((k for k in _INPUT_KEYS if k in batch), None)
    y_key = next((k for k in _TARGET_KEYS if k in batch), None)
    if x_key is None or y_key is None:
        return ""
    try:
        parameters = list(inspect.signature(getattr(model, "_orig_mod", model).forward).parameters.values())
    except (TypeError, ValueError):
        return ""
    kind = inspect.Parameter
    required = [p.name for p in parameters[1:] if p.default is kind.empty and p.kind not in (kind.VAR_POSITIONAL,
                                                                                              kind.VAR_KEYWORD)]
    unread = [name for name in required if name in batch and name not in (x_key, y_key)]
    if not unread:
        return ""
    names = ", ".join(repr(name) for name in unread)
    return (
        f" The batch's {names} {'is' if len(unread) == 1 else 'are'} not passed to the model: a dict batch goes in as "
        f"loss_fn(model(batch[{x_key!r}]), batch[{y_key!r}]), its other keys unread, and "
        f"{type(model).__name__}.forward requires {names} too."
    )


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
            held = batch[0]
            if held and all(isinstance(item, torch.Tensor) for item in held):
                return _tensors_as_inputs_fix(held)
            return (
                f" The inputs are a Python {type(batch[0]).__name__} and the model takes tensors: convert them with "
                "torch.tensor(x, dtype=torch.float32) (and the targets with torch.tensor(y))."
            )
    return ""


def _tensors_as_inputs_fix(held: list[Any] | tuple[Any, ...]) -> str:
    """What to do with inputs that are a list or tuple of tensors a model taking one tensor refused.

    ``torch.tensor(x)`` was advised, as for a list of numbers; of tensors it fails or copies them into one. A
    one-item list is a 1-tuple per example collated (``StackDataset(TensorDataset(x), TensorDataset(y))``,
    a ``TensorDataset`` of the inputs alone), several tensors are a model's several inputs.
    """
    kind = type(held).__name__
    if len(held) == 1:
        return (
            f" The inputs are a {kind} holding one tensor, not a tensor: examples whose inputs are a 1-tuple (a "
            "TensorDataset over the inputs alone, as in StackDataset(TensorDataset(x), TensorDataset(y))) are "
            "collated into [x]. Build the dataset from the tensors themselves (TensorDataset(x, y) or "
            "StackDataset(x, y)), or pass step_fn(model, batch) -> loss that unpacks them."
        )
    return (
        f" The inputs are a {kind} of {len(held)} tensors and the model takes one tensor: for a model of several "
        "inputs, pass step_fn=lambda model, batch: loss_fn(model(*batch[0]), batch[1]); otherwise build the "
        "batches with one input tensor."
    )


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


def _class_index_dtype_fix(exc: BaseException, batch: Any) -> str:
    """`` The targets are int32 and cross_entropy takes class indices as int64: ...`` for that failure, else ``""``.

    torch's "expected target dtype to be Long or Byte, but got Int" (``cross_entropy``; ``nll_loss``'s "expected
    scalar type Long but found Int") was answered with the general shape-and-dtype advice only. Only for a pair
    batch whose targets are a tensor of another dtype than int64 and an error of that kind.
    """
    text = str(exc)
    if "expected target dtype to be Long" not in text and not re.search(r"expected scalar type Long but found", text):
        return ""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        return ""
    y = batch[1]
    if not isinstance(y, torch.Tensor) or y.dtype == torch.int64 or y.is_complex():
        return ""
    have = str(y.dtype).removeprefix("torch.")
    if y.is_floating_point():
        return (
            f" The targets are {have}, and cross_entropy and nll_loss take class indices as int64: if they are class "
            "labels, convert them with y.long() (in the Dataset or a collate_fn); class probabilities take the "
            "output's shape."
        )
    return (
        f" The targets are {have}, and cross_entropy and nll_loss take class indices as int64: convert them with "
        "y.long() (in the Dataset or a collate_fn; torch.from_numpy keeps an int32 array's dtype)."
    )


def _target_range_fix(exc: BaseException, batch: Any, *, later: bool = False) -> str:
    """`` The targets run from 1 to 3 ...`` for class labels outside the output's classes, else ``""``.

    torch's "Target 3 is out of bounds." (``cross_entropy``, ``nll_loss``) names one label, not that labels
    counted from 1 (a CSV's classes 1..C) or a padding label of -1 are what the loss cannot index. Only for a
    pair batch of integer targets and that error. ``later``: a batch after the first, whose lowest label is not
    the data's (labels from 1 are told only as one cause).
    """
    if not re.search(r"Target -?\d+ is out of bounds", str(exc)) or not (
        isinstance(batch, (tuple, list)) and len(batch) == 2
    ):
        return ""
    y = batch[1]
    if not isinstance(y, torch.Tensor) or y.is_floating_point() or y.is_complex() or y.numel() == 0:
        return ""
    low, high = int(y.min()), int(y.max())
    if low < 0:  # a padding label
        fix = f"a padding label needs ignore_index={low} in loss_fn (the default ignores -100)"
    elif later:  # the first batch went through: its labels were in range, this batch's lowest tells nothing
        fix = (
            f"labels up to {high} need an output of at least {high + 1} scores (a larger output layer); labels "
            "counted from 1 need y - 1"
        )
    elif low == 0:  # labels from 0: the output has fewer scores than there are classes, not labels counted from 1
        fix = f"labels 0 .. {high} need an output of at least {high + 1} scores (a larger output layer)"
    else:
        fix = "labels counted from 1 need y - 1 (in the Dataset or a collate_fn), more classes a larger output layer"
    return (
        f" The targets of this batch run from {low} to {high}, and cross_entropy (and nll_loss) take class indices "
        f"0 .. C-1 for an output of C scores: {fix}."
    )


def _target_shape_fix(exc: BaseException, batch: Any) -> str:
    """`` The targets are (32,) and the output (32, 1) ...`` for a one-column output against flat targets.

    ``binary_cross_entropy(_with_logits)`` says "Target size (torch.Size([32])) must be the same as input size
    (torch.Size([32, 1]))": a binary classifier's ``Linear(n, 1)`` against 0/1 labels ``(N,)``, which the
    general advice left to the user to match. Only for that error where the sizes differ by a trailing 1.
    """
    match = re.search(r"Target size \(torch\.Size\(\[([\d, ]*)\]\)\) must be the same as input size "
                      r"\(torch\.Size\(\[([\d, ]*)\]\)\)", str(exc))  # fmt: skip
    if match is None:
        return ""
    target, output = ([int(v) for v in g.split(",") if v.strip()] for g in match.groups())
    if output == [*target, 1]:
        return (
            f" The targets are {tuple(target)} and the output {tuple(output)}: give the targets the output's shape, "
            "y.unsqueeze(1) (in the Dataset or a collate_fn), or drop the output's last dim in loss_fn, "
            "loss_fn=lambda out, y: F.binary_cross_entropy_with_logits(out.squeeze(1), y) for that loss."
        )
    if target == [*output, 1]:
        return (
            f" The targets are {tuple(target)} and the output {tuple(output)}: drop the targets' last dim, "
            "y.squeeze(1) (in the Dataset or a collate_fn), or give the output one (a Linear(n, 1) head)."
        )
    return ""


def _class_labels_fix(exc: BaseException, batch: Any) -> str:
    """`` The targets are int64 class labels ...`` for class labels given to a regression loss, else ``""``.

    ``loss_fn=F.mse_loss`` (or ``l1_loss``) over a classifier's ``(N, C)`` scores and ``(N,)`` integer labels fails
    with torch's "The size of tensor a (10) must match the size of tensor b (32) at non-singleton dimension 1",
    which names neither the labels nor the loss; the general advice left the user to work out that the loss is
    the mismatch. Only for a pair batch of one-dimensional integer targets whose length is the size torch names.
    """
    match = re.search(
        r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) at non-singleton dimension 1", str(exc)
    )
    if match is None or not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        return ""
    y = batch[1]
    if not isinstance(y, torch.Tensor) or y.dim() != 1 or y.is_floating_point() or y.is_complex():
        return ""
    if y.dtype == torch.bool:  # 0/1 labels: target_dtype_fix's case
        return ""
    scores, rows = (int(v) for v in match.groups())
    if rows != y.shape[0]:
        return ""
    have = str(y.dtype).removeprefix("torch.")
    return (
        f" The targets are {have} class labels of shape ({rows},) and the output has {scores} scores per example: "
        "loss_fn compares the output with targets of its own shape, as a regression loss (mse_loss, l1_loss) does. "
        f"For class labels use loss_fn=F.cross_entropy; for a regression on one-hot targets, F.one_hot(y, {scores})"
        ".float()."
    )


def _mixed_dtypes(model: nn.Module) -> tuple[str, str] | None:
    """The model's floating-point parameter dtypes in words, and the one most of its weights have, when it mixes some.

    ``("float32 (first: 0.weight) and float64 (first: 1.weight)", "float32")``; ``None`` for a model of one floating
    dtype. Integer and complex parameters are left out: they are not cast with the others.
    """
    first: dict[torch.dtype, str] = {}
    sizes: dict[torch.dtype, int] = {}
    for name, p in model.named_parameters():
        if p.is_floating_point():
            first.setdefault(p.dtype, name)
            sizes[p.dtype] = sizes.get(p.dtype, 0) + p.numel()
    if len(first) < 2:
        return None
    words = [f"{str(d).removeprefix('torch.')} (first: {n})" for d, n in first.items()]
    most = str(max(sizes, key=lambda d: sizes[d])).removeprefix("torch.")
    return f"{', '.join(words[:-1])} and {words[-1]}", most


def _mixed_dtype_fix(exc: BaseException, mixed: tuple[str, str] | None) -> str:
    """`` The model mixes parameter dtypes: ...`` for a dtype failure of a model of several dtypes, else ``""``.

    A layer cast or loaded apart (``model[1].double()``, ``nn.Parameter(torch.from_numpy(array))``, numpy's float64)
    hands or takes activations of another dtype: torch said "mat1 and mat2 must have the same dtype, but got Float
    and Double", and the message read "the model's parameters are float32", the first parameter's dtype only, so
    nothing pointed at the layer. Said only when the error is about a dtype.
    """
    text = str(exc).lower()
    if mixed is None or ("dtype" not in text and "scalar type" not in text):
        return ""
    return (
        " The model mixes parameter dtypes, so one layer gets another's output in a dtype it cannot take: a layer "
        "cast or loaded apart (model[1].double(), nn.Parameter(torch.from_numpy(array)), which keeps numpy's "
        f"float64). Cast the whole model to one dtype, e.g. model.to(torch.{mixed[1]}), and the inputs to it."
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


def no_gradient_message(model: nn.Module, optimizer: torch.optim.Optimizer, fix: str | None = None) -> str:
    """Why none of ``optimizer``'s parameters holds a gradient after the first backward (:data:`_NO_GRADIENT`).

    An optimizer stepped in backward (torch's "optimizer in backward" recipe: a
    ``register_post_accumulate_grad_hook`` on each parameter that steps its own optimizer and
    zeroes the gradient) leaves no gradient either, though the loss reaches every parameter:
    the message said the loss does not depend on them and to build the optimizer over
    ``model.parameters()``, which it was. Such hooks are named instead, with ``fix`` (default
    :data:`_HOOKS_FIX`, range_test's; the callback's is :data:`HOOKS_FIX_LIGHTNING`).
    """
    hooked = _hooked(optimizer)
    if not hooked:
        return _NO_GRADIENT
    count = len(hooked)
    return (
        "None of the optimizer's parameters holds a gradient after the first step's backward, and "
        f"{count} of them {'has' if count == 1 else 'have'} a post-accumulate-grad hook "
        f"(register_post_accumulate_grad_hook, first: {_parameter_name(model, hooked[0])}): an optimizer stepped in "
        "backward, each hook stepping its parameter at its own LR and zeroing the gradient, leaves the range "
        f"test's optimizer nothing to step, so the swept LRs would never be used. {fix or _HOOKS_FIX}"
    )


_HOOKS_FIX = (
    "Remove the hooks for the test (handle.remove() on the handles register_post_accumulate_grad_hook returned), run "
    "it with one optimizer over model.parameters() with the per-parameter optimizers' settings, then register the "
    "hooks again with the LR found."
)

#: The same for the callback, whose user builds the optimizer in ``configure_optimizers``, not in a call of the test.
HOOKS_FIX_LIGHTNING = (
    "Remove the hooks for the test (handle.remove() on the handles register_post_accumulate_grad_hook returned), "
    "and sweep one optimizer over all the module's parameters with the per-parameter optimizers' settings: return it "
    "from configure_optimizers (over self.parameters()), or name it with the callback's optimizer= and "
    "optimizer_settings=; then register the hooks again with the LR found."
)


def _parameter_name(model: nn.Module, param: torch.Tensor) -> str:
    names = {id(p): name for name, p in model.named_parameters(remove_duplicate=False)}
    return names.get(id(param), f"a {tuple(param.shape)} parameter")


#: A parameter with a post-accumulate-grad hook, its version counter and whether :func:`_at_bounds` held, before a
#: backward (:func:`hooked_versions`).
Hooked = tuple[torch.Tensor, int, bool]


def hooked_versions(optimizer: torch.optim.Optimizer) -> list[Hooked]:
    """``optimizer``'s parameters with a post-accumulate-grad hook, each with its version counter, before a backward.

    :func:`stepped_in_backward_message` compares them after it: a hook that steps the parameter bumps its version.
    Each also says whether its weights already sat at a bound (:func:`_at_bounds`, ``True`` where not judged), to tell
    a hook that clamps them after it. One host sync for them all, at the first step only.
    """
    hooked = _hooked(optimizer)
    bounded = _at_bounds(hooked)
    return [(p, p._version, at) for p, at in zip(hooked, bounded)]


def _hooked(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    """``optimizer``'s parameters with a post-accumulate-grad hook."""
    return [
        p
        for group in optimizer.param_groups
        for p in group["params"]
        if isinstance(p, torch.Tensor) and getattr(p, "_post_accumulate_grad_hooks", None)
    ]


def _at_bounds(params: Sequence[torch.Tensor]) -> list[bool]:
    """For each parameter, whether two or more of its weights share its largest or its smallest value.

    What a clamp leaves (``p.clamp_(-c, c)``: the weights past ``c`` all at ``c``), and what an optimizer's step
    from weights of distinct values does not. ``True`` (not judged) for a parameter of under 3 weights, one not of
    floating point or not a plain tensor (a ``DTensor`` shard).
    """
    judged = [
        i
        for i, p in enumerate(params)
        if p.numel() >= 3 and p.is_floating_point() and type(p.detach()) is torch.Tensor and not p.is_meta
    ]
    at = [True] * len(params)
    if judged:
        with torch.no_grad():
            counts = [
                torch.stack([(w == w.max()).sum(), (w == w.min()).sum()]).max()
                for w in (params[i].detach() for i in judged)
            ]
            for i, count in zip(judged, torch.stack([c.to(counts[0].device) for c in counts]).tolist()):
                at[i] = count >= 2
    return at


def stepped_in_backward_message(model: nn.Module, before: Sequence[Hooked], fix: str | None = None) -> str | None:
    """Why the first step is refused when a post-accumulate-grad hook stepped a parameter and left its gradient.

    A hook stepping its own optimizer in backward without zeroing the gradient (``before``: from
    :func:`hooked_versions` just before the backward) trained each weight twice a step, at the hook's LR and at the
    swept one, unwarned; one zeroing it in place (``zero_grad(set_to_none=False)``) left the test's optimizer zeros
    to step, so the curve was the hook's LR's alone. A hook that only reads or reduces the gradient (DDP's, FSDP's)
    changes no parameter: ``None``. ``fix``: what to do, as :func:`no_gradient_message`'s.

    A hook clamping the weights (``p.clamp_``) is refused too, the check cannot tell it from a step by the
    versions, but is told so (:func:`_clamped_message`) where it left weights at a bound in a changed parameter
    whose weights sat at none before (:func:`_at_bounds`: a step from distinct values leaves none tied), and the
    gradient is kept. A small parameter the clamp did not reach (a bias of 3) says nothing either way.
    """
    changed = [(p, at) for p, version, at in before if p._version != version and p.grad is not None]
    if not changed:
        return None
    stepped = [p for p, _ in changed]
    zeroed = not any(bool(p.grad.any()) for p in stepped if p.grad is not None and not p.grad.is_sparse)
    judged = [p for p, at in changed if not at]
    if not zeroed and any(_at_bounds(judged)):
        return _clamped_message(model, stepped)
    what = (
        "a gradient of zeros: a hook stepping its own optimizer there and zeroing the gradient in place "
        "(zero_grad(set_to_none=False)) trains each weight at the hook's LR, and the range test's optimizer then "
        "steps zeros"
        if zeroed
        else "the gradient: a hook stepping its own optimizer there without zeroing the gradient trains each weight "
        "twice a step, at the hook's LR and then at the swept LR by the range test's optimizer"
    )
    return f"{_changed_in_backward(model, stepped)}, and kept {what}, so the curve would not be the swept LRs'. " + (
        fix or _HOOKS_FIX
    )


def stepped_during_backward_message(model: nn.Module, optimizer: torch.optim.Optimizer) -> str:
    """Why a swept optimizer's ``step()`` called during a backward (from a hook) is refused.

    Under manual optimization a post-accumulate-grad hook (or any backward hook) calling the swept optimizer's own
    ``step()`` stepped it in ``manual_backward`` at the swept LR, on gradients part accumulated, and ``training_step``'s
    ``opt.step()`` then stepped it again: twice a batch, unwarned. Its parameters changed in that step, not before it,
    so :func:`stepped_in_backward_message` (at the first ``opt.step()``, which this was) saw nothing.
    """
    hooked = _hooked(optimizer)
    source = (
        f"{len(hooked)} of its parameters {'has' if len(hooked) == 1 else 'have'} a post-accumulate-grad hook "
        f"(register_post_accumulate_grad_hook, first: {_parameter_name(model, hooked[0])})"
        if hooked
        else "none of its parameters has a post-accumulate-grad hook: a tensor's register_hook or a module's "
        "backward hook called it"
    )
    return (
        f"The swept optimizer's step() was called during backward (manual_backward), from a hook: {source}. Stepped "
        "there it steps at the swept LR on gradients the backward has not finished, and again at training_step's "
        "opt.step(), so the curve would not be one step per LR. Call opt.step() in training_step after "
        "self.manual_backward(loss), and remove the hook's step (handle.remove() on the handle it returned)."
    )


def _changed_in_backward(model: nn.Module, changed: Sequence[torch.Tensor]) -> str:
    """``N of the optimizer's parameters were changed ... by their post-accumulate-grad hooks (..., first: name)``."""
    count = len(changed)
    return (
        f"{count} of the optimizer's parameters {'was' if count == 1 else 'were'} changed during the first step's "
        f"backward by {'its' if count == 1 else 'their'} post-accumulate-grad hooks (register_post_accumulate_grad_"
        f"hook, first: {_parameter_name(model, changed[0])})"
    )


def _clamped_message(model: nn.Module, changed: Sequence[torch.Tensor]) -> str:
    """Why the first step is refused when post-accumulate-grad hooks left weights at a bound: a clamp in backward."""
    return (
        f"{_changed_in_backward(model, changed)}, which left weights at {'its' if len(changed) == 1 else 'their'} "
        "bounds, as a constraint does (p.clamp_(...) under torch.no_grad()). A hook that changes the weights in "
        "backward is refused: the range test cannot tell it from an optimizer stepping there. Nor does it bound the "
        "weights in training: it runs before the optimizer's step, which then moves them past the bounds. Constrain "
        "them after each step instead, with optimizer.register_step_post_hook(lambda opt, args, kwargs: ...), which "
        "the range test runs as training does, and remove these hooks (handle.remove())."
    )


def refuse_stepped_in_backward(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    before: Sequence[Hooked],
    fix: str | None = None,
) -> None:
    """Refuse the first step where post-accumulate-grad hooks stepped in its backward (``before``: hooked_versions).

    Said by :func:`stepped_in_backward_message` where a hook changed its parameter and left a gradient, by
    :func:`no_gradient_message` where hooks changed their parameters and left no gradient at all (torch's "optimizer
    in backward"). Nothing is refused without hooked parameters (``before`` empty), so a loss that misses the
    optimizer is left to the caller's checks, nor where no hooked parameter changed: no gradient then is no backward
    yet (a manual ``opt.step(closure)`` runs its backward after the optimizer's step pre-hooks, checked by
    :func:`closure_checked`), not hooks stepping. ``fix``: what to do, as :func:`no_gradient_message`'s.

    Raises:
        ModelError: the hooks stepped the parameters in backward.

    """
    if not before:
        return
    message = stepped_in_backward_message(model, before, fix)
    if message is None and not _has_grads(optimizer) and any(p._version != version for p, version, _ in before):
        message = no_gradient_message(model, optimizer, fix)
    if message is not None:
        raise ModelError(message)


def closure_checked(
    model: nn.Module, optimizer: torch.optim.Optimizer, closure: Callable[[], Any], fix: str | None = None
) -> Callable[[], Any]:
    """``closure``, whose first call is checked for post-accumulate-grad hooks stepping in its backward.

    A manual ``opt.step(closure)`` runs its backward inside the step, after the step's pre-hooks: the hooked
    parameters' versions are taken around the closure's first call instead (:func:`refuse_stepped_in_backward`).
    Later calls (LBFGS's, SAM's second pass) run as they are.
    """
    called: list[bool] = []

    def checked() -> Any:
        if called:
            return closure()
        called.append(True)
        before = hooked_versions(optimizer)
        result = closure()
        refuse_stepped_in_backward(model, optimizer, before, fix)
        return result

    return checked


@contextlib.contextmanager
def hooks_fired(before: Sequence[Hooked]) -> Iterator[list[None]]:
    """While open, one item in the list it gives each time a parameter of ``before`` has a gradient accumulated.

    Around a ``step_fn`` that runs its own backward, which fires the post-accumulate-grad hooks before the range
    test's backward takes :func:`hooked_versions`: the versions are taken before the ``step_fn`` instead, and judged
    (:func:`refuse_stepped_in_backward`) only where a backward reached the hooked parameters, so a ``step_fn`` that
    changes a weight in place with no backward (a constraint before its forward) is not called hooks stepping. The
    watch runs after the user's hooks (registered later), and is removed on exit.
    """
    fired: list[None] = []
    handles = [p.register_post_accumulate_grad_hook(lambda _: fired.append(None)) for p, _, _ in before]
    try:
        yield fired
    finally:
        for handle in handles:
            handle.remove()


def first_step_errors(optimizer: torch.optim.Optimizer, first: bool) -> contextlib.AbstractContextManager[None]:
    """Around an optimizer step: on the test's first step, a failure is a :class:`ModelError` saying why.

    The step at the smallest LR failed with torch's bare message ("Adam does not support sparse
    gradients"); :func:`_first_step_message` says it fails before any swept LR matters. A later
    step's failure, and lrfinder's own errors, pass through unchanged. Used by ``range_test`` and
    the callback's stepper.
    """
    # A later step's errors pass through as they are: a nullcontext, not a generator's context, at each step.
    return _first_step_errors(optimizer) if first else contextlib.nullcontext()


@contextlib.contextmanager
def _first_step_errors(optimizer: torch.optim.Optimizer) -> Iterator[None]:
    """:func:`first_step_errors`'s block around the first step."""
    try:
        yield
    except LRFinderError:
        raise
    except Exception as exc:
        raise ModelError(_first_step_message(optimizer, exc)) from exc


def _first_step_message(optimizer: torch.optim.Optimizer, exc: BaseException) -> str:
    """Why the optimizer's very first step failed: at the smallest LR, so not the sweep's doing."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    why = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    name = optimizer_class_name(optimizer)
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
    differentiable = any(g.get("differentiable") is True for g in optimizer.param_groups)
    if differentiable and "leaf Variable" in why:
        # The device/dtype advice below misled here: the step is recorded by autograd, which the model's leaves refuse.
        return (
            f"{start}: it was built with differentiable=True, so its step records the update in autograd, which "
            "torch refuses on parameters that are leaves requiring grad (every nn.Module's own parameters). "
            "differentiable=True is for differentiating through the step (meta-learning over non-leaf weights). "
            f"Build the {name} without it (differentiable=False, the default) for the range test and for training."
        )
    stale = _stale_state(optimizer)
    if stale is not None:
        # The device/dtype advice below sent the user to the settings; the state was made for other parameters.
        return f"{start}: {stale}"
    return (
        f"{start}: check the optimizer's settings against the model's parameters (their device and dtype: "
        "capturable=True or fused=True need a device that supports them)."
    )


def _stale_state(optimizer: torch.optim.Optimizer) -> str | None:
    """Which of the optimizer's state no longer fits its parameters' dtype or device, in words; else ``None``.

    An optimizer that had stepped (or loaded a ``state_dict``) before the model was cast or moved keeps its
    per-parameter state (Adam's ``exp_avg``, SGD's ``momentum_buffer``) in the old dtype and device, the parameters
    being the same objects in the new: its first step failed with torch's "expected dtype float for `end` but got
    dtype double", told to check the optimizer's settings. Only state of a parameter's shape is compared (not a step
    count).
    """
    stale = 0
    first: tuple[str, torch.Tensor, torch.Tensor] | None = None
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if not isinstance(value, torch.Tensor) or value.shape != p.shape:
                    continue
                if value.dtype != p.dtype or value.device != p.device:
                    stale += 1
                    first = first or (str(key), value, p)
                    break
    if first is None:
        return None
    key, value, p = first
    state, param = (f"{str(t.dtype).removeprefix('torch.')} on {t.device}" for t in (value, p))
    return (
        f"its state was made for parameters of another dtype or device: {key!r} is {state}, its parameter {param} "
        f"({plural(stale, 'parameter')} so). The model was cast or moved (model.to(...), .double(), .cuda()) after the "
        "optimizer had stepped or loaded its state_dict. Cast or move the model first, then build the optimizer over "
        "it (and load its state_dict, which torch then casts to the parameters)."
    )


def _has_grads(optimizer: torch.optim.Optimizer) -> bool:
    return any(p.grad is not None for g in optimizer.param_groups for p in g["params"])



def grads_of(optimizer: torch.optim.Optimizer) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
    """Each parameter of ``optimizer`` with a copy of its gradient (``None`` without one): :func:`backward_repeated`.

    Empty when a gradient is sparse: not judged.
    """
    params = [p for g in optimizer.param_groups for p in g["params"]]
    if any(p.grad is not None and p.grad.is_sparse for p in params):
        return []
    return [(p, None if p.grad is None else p.grad.detach().clone()) for p in params]


def backward_repeated(before: list[tuple[torch.Tensor, torch.Tensor | None]]) -> float | None:
    """The step's gradient over a backward's own, when that backward added the ``before`` ones again; else ``None``.

    With ``c = after - before`` (the backward's gradient, over every parameter at once): when ``c`` is
    ``before`` times a positive factor ``k``, to a cosine of 1 - 1e-6, the backward was of the loss whose
    gradients were already there (a ``step_fn`` that ran ``loss.backward(retain_graph=True)`` and returned
    ``loss``: ``k`` is ``1 / accumulate_steps``, times a ``GradScaler``'s scale), and the gradient is
    ``(1 + 1 / k)`` times the backward's own: returned. The gradient of another loss (an auxiliary loss's
    backward run early, a GAN critic's loss reaching the generator) is not parallel to it: ``None``. Nor
    judged when the gradients have one number between them (a model of one scalar parameter): any two are
    parallel there. ``before`` is :func:`grads_of`'s, empty when not judged.
    """
    if not before:
        return None
    sums = []
    for p, b in before:
        after = p.grad
        if after is None or after.is_sparse:
            continue
        c = (after.detach() if b is None else after.detach() - b).double()
        bb = torch.zeros((), dtype=torch.float64, device=c.device) if b is None else b.double()
        nonzero = ((c != 0) | (bb != 0)).sum().double()
        sums.append(torch.stack([(c * bb).sum(), (bb * bb).sum(), (c * c).sum(), nonzero]).cpu())
    if not sums:
        return None
    dot, bnorm, cnorm, support = (float(v) for v in torch.stack(sums).sum(0))
    # Gradients of one number (a lone temperature or scale trained) are parallel whatever their losses: not judged.
    if support < 2 or not (dot > 0 and bnorm > 0 and cnorm > 0) or dot * dot < (1 - 1e-6) * bnorm * cnorm:
        return None
    return 1 + bnorm / dot  # 1 + 1/k, k = dot / bnorm
