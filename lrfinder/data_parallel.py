"""The range test under data parallelism (DDP, FSDP): the process group, gradient sync, the ranks' verdict.

:class:`DataParallelRanks` (the model's process group and the reductions the sweep needs),
:func:`micro_batch_sync` (every micro-batch but a step's last in ``no_sync``) and the loss of a
step reduced over the ranks, with NaN/inf in any rank's batch caught on every rank
(:func:`ranks_data_verdict`).
"""

from __future__ import annotations

import contextlib
import math
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ._fabric import is_fabric_module
from .diagnostics import _non_finite_data_message, _NonFiniteDataWatch, backward_twice_message, read_together
from .exceptions import DataError, LRFinderError, ModelError


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

    def max(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise maximum over the ranks of a tensor, in float64 (call on every rank)."""
        import torch.distributed as dist

        top = values.detach().to(device=self.device, dtype=torch.float64).clone()
        dist.all_reduce(top, op=dist.ReduceOp.MAX, group=self.group)
        return top

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The element-wise mean over the ranks of a float64 tensor (call on every rank)."""
        return self.sum(values) / self.world

    def mean_list(self, values: list[float]) -> list[float]:
        """:meth:`mean` of a list of floats (refine's held-out and trial losses)."""
        return [float(v) for v in self.mean(torch.tensor(values, dtype=torch.float64)).cpu()]


def parallel_module(model: nn.Module) -> nn.Module:
    """The module under the wrappers that do not parallelize: ``torch.compile``'s and Lightning Fabric's.

    ``torch.compile`` keeps the module it compiled in ``_orig_mod``; ``fabric.setup(model)`` returns a
    ``_FabricModule`` whose forward runs ``_forward_module``, the ``DistributedDataParallel`` (or FSDP)
    module Fabric built under its DDP (FSDP) strategy, compiled again where the model was compiled, and the
    model itself on one device. The DDP or FSDP module found here is the one whose process group the
    losses are averaged over and whose ``no_sync`` holds back the gradients' all-reduce.
    """
    while True:
        inner = getattr(model, "_orig_mod", None)  # torch.compile's OptimizedModule
        if inner is None and is_fabric_module(model):
            inner = getattr(model, "_forward_module", None)
        if not isinstance(inner, nn.Module):
            return model
        model = inner


def data_parallel_ranks(model: nn.Module, device: torch.device) -> DataParallelRanks | None:
    """The ranks to average the range test's losses over, or ``None`` to keep each process's own.

    Only a model wrapped for data parallelism counts: ``torch.nn.parallel.DistributedDataParallel``
    (its ``process_group``), FSDP's ``FullyShardedDataParallel`` (its ``process_group``) or a
    module sharded by ``fully_shard`` (the default group), also under ``torch.compile`` and as
    Lightning Fabric's ``fabric.setup`` wraps it (:func:`parallel_module`); and only
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
    inner = parallel_module(model)
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


@contextlib.contextmanager
def raised_on_every_rank(ranks: DataParallelRanks | None, what: str) -> Iterator[None]:
    """Run the block on every rank; where it raised on one, raise on all after it (one ``all_reduce``).

    A rank that raises in a block the others get through leaves them waiting in the next collective: until the
    process group's timeout (30 minutes by default) while that rank's process lives on, else with gloo's bare
    "Connection closed by peer". After the block every rank says whether it raised; where one did, that rank raises
    its own exception again and every other rank raises :class:`~lrfinder.exceptions.LRFinderError` naming the
    first such rank and its error (one ``all_gather_object``, only then). On one process (``ranks`` ``None``) the
    block runs as it is.

    Args:
        ranks: The model's ranks, or ``None``.
        what: The block in words, the subject of the other ranks' message (``"range_test's val_data check"``).

    Raises:
        LRFinderError: On the ranks that got through the block, when another rank raised in it.

    """
    if ranks is None:
        yield
        return
    error: Exception | None = None
    try:
        yield
    except Exception as exc:  # every rank must reach the all_reduce below, whatever this one raised
        error = exc
    if ranks.max(torch.tensor([0.0 if error is None else 1.0]))[0] == 0:
        return
    import torch.distributed as dist

    said: list[str | None] = [None] * ranks.world
    dist.all_gather_object(said, None if error is None else f"{type(error).__name__}: {error}", group=ranks.group)
    if error is not None:
        raise error
    first = next(r for r, text in enumerate(said) if text is not None)
    raise LRFinderError(
        f"{what} raised on rank {first} of {ranks.world} ({said[first]}). Every rank stops here rather than wait "
        f"for rank {first} in the next all-reduce: fix the cause there (its own traceback shows where)."
    )


#: Blocks run under :func:`failure_told_to_other_ranks` in this process so far: the same count on every rank, which
#: keeps an earlier block's failure (one a script caught and went on from) out of a later block's keys.
_TOLD_BLOCKS = [0]


def _default_store() -> Any:
    """The default process group's key-value store, or ``None`` (no process group, or a torch without it)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    get = getattr(dist.distributed_c10d, "_get_default_store", None)  # no public accessor
    try:
        return None if get is None else get()
    except Exception:  # noqa: BLE001 - a process group made without a store: nothing to tell through
        return None


@contextlib.contextmanager
def failure_told_to_other_ranks(rank: int, world: int, what: str) -> Iterator[None]:
    """Where a rank raises in the block, the others say which rank it was and what it raised, at no cost per step.

    A rank that raises mid-block (its ``training_step`` failing on its own batch) ends its process; the others,
    waiting in that step's all-reduce, got gloo's bare "Connection closed by peer". The raising rank writes its error
    into the process group's key-value store (no collective) before it raises; a rank whose block raises after that
    reads it and raises :class:`~lrfinder.exceptions.LRFinderError` naming that rank and its error, chained from its
    own. Nothing is read or written while the block goes through. The store lives in rank 0's process: when rank 0
    is the one that failed, the others keep their own error (Lightning stops them anyway).

    Args:
        rank: This process's rank.
        world: The number of ranks (one: the block runs as it is).
        what: The block in words, the subject of the other ranks' message (``"LRFinder's range test"``).

    Raises:
        LRFinderError: On a rank whose block raised after another rank's block had raised.

    """
    _TOLD_BLOCKS[0] += 1
    store = _default_store() if world > 1 else None
    if store is None:
        yield
        return
    prefix = f"lrfinder/failed/{_TOLD_BLOCKS[0]}/"
    try:
        yield
    except Exception as exc:
        if getattr(exc, _TOLD, False):
            # A block inside this one (refine's re-sweep inside its trials) named the rank already: said once.
            raise
        root = _collective_failure(exc)
        if root is None:  # this rank's own failure (every rank's, for the same DataError): told, raised as it is
            with contextlib.suppress(Exception):  # the store gone too: this rank's own error is all there is to say
                store.set(f"{prefix}{rank}", f"{type(exc).__name__}: {exc}"[:2000])
            raise
        said = _told_failure(store, prefix, rank, world)
        if said is None:
            raise
        first, text = said
        told = LRFinderError(
            f"{what} raised on rank {first} of {world} ({text}), so this rank stopped too (its collectives with "
            f"rank {first} failed: {type(root).__name__}, chained above). Fix the cause there (its own traceback "
            "shows where)."
        )
        setattr(told, _TOLD, True)
        raise told from exc


#: The attribute set on the error :func:`failure_told_to_other_ranks` raises naming another rank.
_TOLD = "_lrfinder_told_rank"


def _collective_failure(exc: BaseException) -> BaseException | None:
    """The failed collective's error in ``exc`` or its causes (gloo's "Connection closed by peer"), else ``None``."""
    import torch.distributed as dist

    # torch.distributed.DistError is newer than some torch releases setup.cfg allows (gloo's words are read then).
    dist_error: type[BaseException] | tuple[()] = getattr(dist, "DistError", ())
    error: BaseException | None = exc
    while error is not None:
        text = str(error)
        if isinstance(error, dist_error) or (
            isinstance(error, RuntimeError) and ("gloo" in text or "by peer" in text)
        ):
            return error
        error = error.__cause__ or error.__context__
    return None


def _told_failure(store: Any, prefix: str, rank: int, world: int) -> tuple[int, str] | None:
    """The first other rank that wrote its failure under ``prefix``, and the failure, else ``None``."""
    for other in range(world):
        if other == rank:
            continue
        key = f"{prefix}{other}"
        try:
            if store.check([key]):
                return other, bytes(store.get(key)).decode("utf-8", "replace")
        except Exception:  # noqa: BLE001 - the store's host (rank 0) is gone: nothing to read
            return None
    return None


def ranks_settings_disagreement(ranks: DataParallelRanks, settings: Mapping[str, float | str | None]) -> str | None:
    """The settings whose values differ across the ranks, in words, or ``None`` when all agree (one ``all_reduce``).

    Each rank's values are encoded as numbers (a string by its CRC-32, ``None`` as ``-inf``, a bool as 0 or 1) and
    their maximum and minimum over the ranks taken in one ``all_reduce`` (``MAX`` of the values and their negatives).
    Call on every rank, with the same names in the same order.

    Args:
        ranks: The model's process group.
        settings: Each setting's name and this rank's value.

    Returns:
        ``"max_lr from 1 to 2, noise_scale True on some ranks and False on others"``, or ``None``.

    """

    def code(value: float | str | None) -> float:
        if value is None:
            return -math.inf
        if isinstance(value, str):
            return float(zlib.crc32(value.encode()))
        return float(value)

    local = torch.tensor([code(v) for v in settings.values()], dtype=torch.float64)
    both = ranks.max(torch.cat([local, -local])).tolist()
    n = len(local)
    differ = []
    for (name, value), top, bottom in zip(settings.items(), both[:n], both[n:]):
        low = -bottom
        if low == top:
            continue
        if isinstance(value, bool):
            differ.append(f"{name} True on some ranks and False on others")
        elif isinstance(value, str):
            differ.append(f"{name} (this rank's {value!r} is not every rank's)")
        else:
            low_text, top_text = ("None" if v == -math.inf else f"{v:g}" for v in (low, top))
            differ.append(f"{name} from {low_text} to {top_text}")
    return ", ".join(differ) or None


def micro_batch_sync(
    model: nn.Module, accumulate_steps: int
) -> Callable[[int], contextlib.AbstractContextManager[Any]]:
    """The context each micro-batch of an accumulated step runs its forward and backward in.

    Under plain ``torch.nn.parallel.DistributedDataParallel`` (also under ``torch.compile`` and Lightning
    Fabric's wrapper) with
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
    inner = parallel_module(model)
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


def _reduced_step_loss(
    ranks: DataParallelRanks,
    parts: Sequence[torch.Tensor],
    drawn: Sequence[tuple[Any, int]],
    nan_watch: _NonFiniteDataWatch,
    step: int,
    lr: float,
    *,
    checks: Sequence[torch.Tensor] | None = None,
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
        checks: The sums of the floating parts of this rank's batches (:func:`~lrfinder.diagnostics._finite_sums`),
            read in one transfer: the batches are looked at only when one is not finite. ``None``: look at them.

    Returns:
        The step's loss, the mean over the micro-batches and the ranks.

    Raises:
        DataError: The loss is non-finite and a batch of some rank held NaN or inf.

    """
    local = torch.stack([p.double() for p in parts]).mean()
    if nan_watch.tolerates_non_finite:
        return float(ranks.mean(local).item())
    clean = checks is not None and all(math.isfinite(v) for v in read_together(checks))
    found = [] if clean else nan_watch.scan([held for held, _ in drawn])
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



#: What a step_fn whose own backward went through a DistributedDataParallel model is told.
_BACKWARD_UNDER_DDP = (
    "A backward ran through the DistributedDataParallel model's forward before the range test's (step_fn's own, or "
    "another network's loss reaching the model): DDP averages over the ranks the gradients of the first backward "
    "after each forward only, so the range test's backward of the returned loss was not averaged, and each rank "
    "stepped with its own gradient (the ranks' gradients differed at the first step): the replicas drift apart and "
    "the curve is not the training's. Return the loss without calling loss.backward() or optimizer.step(): the "
    "range test runs them itself, at the swept LR (for another network's loss, a GAN critic's, run its backward on "
    "a detached output of this model)."
)


def ranks_backward_verdict(ranks: DataParallelRanks, model: nn.Module, factor: float | None, note: str = "") -> None:
    """Under DDP, refuse at the first step a ``step_fn`` after whose backward the ranks' gradients are apart.

    Called on every rank after the first step's backwards of a ``step_fn``'s sweep, with what this rank
    saw: one ``all_reduce`` (a maximum) of :func:`~lrfinder.diagnostics.backward_repeated`'s factor and
    of two sums of the gradients DDP averages (``sum g``, ``sum g**2``, and their negatives for the
    minima). DDP all-reduces the first backward after a forward only: after a backward the ``step_fn``
    ran through the model's forward (its own of the loss, or another network's loss reaching the
    model, a GAN critic's), the test's backward is each rank's own, and the ranks' gradients, alike
    after an all-reduce, differ. Parameters DDP leaves out (``_ddp_params_and_buffers_to_ignore``) and
    any outside the DDP module are not looked at. Every rank reads the same maxima, so all raise the
    same error or none does.

    Args:
        ranks: The model's process group (DDP; FSDP's shards are not judged).
        model: The model given to the range test (the DDP module, or a wrapper of it).
        factor: This rank's ``backward_repeated`` (the gradients are the returned loss's again), or ``None``.
        note: Added to the message (Lightning Fabric's).

    Raises:
        ModelError: On every rank, when the gradients are those of the returned loss again on some rank, or
            differ between the ranks.

    """
    inner = parallel_module(model)
    ignored = set(getattr(inner, "parameters_to_ignore", ()))
    module = getattr(inner, "module", inner)
    grads = [
        p.grad
        for name, p in module.named_parameters()
        if name not in ignored and p.grad is not None and not p.grad.is_sparse
    ]
    zero = torch.zeros((), dtype=torch.float64, device=ranks.device)
    total = sum((g.detach().double().sum().to(ranks.device) for g in grads), zero)
    square = sum((g.detach().double().square().sum().to(ranks.device) for g in grads), zero)
    local = torch.stack([torch.full((), factor or 0.0, dtype=torch.float64, device=ranks.device), total, -total,
                         square, -square])
    repeated, top, bottom, top_sq, bottom_sq = ranks.max(local).tolist()
    if repeated > 0:
        raise ModelError(backward_twice_message(repeated) + note)
    # All-reduced gradients are alike bit for bit on every rank; a rank's own differ by far more than this.
    if abs(top + bottom) > 1e-7 * max(top_sq, 1e-300) ** 0.5 or abs(top_sq + bottom_sq) > 1e-7 * top_sq:
        raise ModelError(_BACKWARD_UNDER_DDP + note)
