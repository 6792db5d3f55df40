"""range_test on a plain-PyTorch DDP model: 2 processes, gloo on CPU, torch.multiprocessing.spawn.

Each rank writes what it saw to a JSON file; the test compares the ranks. A hang (a rank left
in DDP's gradient all-reduce) surfaces as gloo's timeout, well inside the test's own deadline.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from _spawn import join_gloo, ranked_regression, small_net, spawn_ranks
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lrfinder
from lrfinder.data_parallel import data_parallel_ranks

WORLD = 2
DEADLINE_S = 180


def _regression(rank: int, epoch: int = 3) -> tuple[TensorDataset, DataLoader]:
    """Clean targets on even examples, noisy ones on odd: rank 0 and rank 1 see different losses.

    Each rank's own loss would stop the sweep at a different step (rank 1's noisy best loss
    puts its divergence threshold higher), leaving rank 0 in DDP's all-reduce.
    """
    return ranked_regression(rank, WORLD, noise=3.0, epoch=epoch)


def _curve(result: lrfinder.RangeTestResult) -> dict[str, Any]:
    s = result.suggestion
    return {
        "lrs": list(result.lrs),
        "losses": list(result.losses),
        "stop": result.stop_reason,
        "lr": None if s is None else s.lr,
        "error": result.error,
        "batch_size": result.batch_size,
        "world_size": result.settings.world_size,
    }


def _leave(out: str, rank: int, record: dict[str, Any]) -> None:
    """A worker's end: write this rank's record, wait for every rank's, leave the process group.

    The record is written first: gloo's teardown in ``destroy_process_group`` aborts the process now
    and then ("terminate called without an active exception", torch 2.13 on CPU, no lrfinder involved),
    which :func:`spawn_ranks` forgives once every rank's record is written.
    """
    Path(out, f"rank{rank}.json").write_text(json.dumps(record))
    torch.distributed.barrier()  # every rank's record is written
    torch.distributed.destroy_process_group()


def _worker(rank: int, init: str, out: str) -> None:
    join_gloo(rank, init, WORLD)
    record: dict[str, Any] = {"rank": rank}
    _, loader = _regression(rank)
    model = nn.parallel.DistributedDataParallel(small_net())
    record["ranks"] = getattr(data_parallel_ranks(model, torch.device("cpu")), "world", None)
    x0, y0 = next(iter(loader))
    with torch.no_grad():
        record["local_first_loss"] = F.mse_loss(model.module(x0), y0).item()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()

    # The sweep that stopped at a different step on each rank (and hung) before.
    result = lrfinder.range_test(
        model, loader, loss_fn=F.mse_loss, min_lr=1e-4, max_lr=100.0, num_steps=60, noise_scale=True
    )
    record["sweep"] = _curve(result)
    record["noise_error"] = result.noise_error
    record["noise_source"] = None if result.noise_scale is None else result.noise_scale.source
    record["restored"] = all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    record["rng_restored"] = torch.equal(rng, torch.get_rng_state())
    record["epoch"] = loader.sampler.epoch  # type: ignore[attr-defined]
    x1, y1 = next(iter(loader))
    record["data_restored"] = torch.equal(x0, x1) and torch.equal(y0, y1)

    # weight_decay_sweep runs range_test once per value: each of them is reduced.
    sweep = lrfinder.weight_decay_sweep(
        model, loader, [0.0, 1e-2], make_optimizer=lambda m, wd: torch.optim.AdamW(m.parameters(), weight_decay=wd),
        loss_fn=F.mse_loss, min_lr=1e-4, max_lr=10.0, num_steps=30,
    )
    record["wd_curves"] = [_curve(r) for r in sweep]
    record["wd_restored"] = all(torch.equal(before[k], v) for k, v in model.state_dict().items())

    # refine's re-sweeps and trials: held-out and trial losses are reduced too.
    refined = lrfinder.range_test(
        model, loader, loss_fn=F.mse_loss, min_lr=1e-4, max_lr=100.0, num_steps=40,
        refine=lrfinder.Refine(training_steps=60, candidates=2, extend=0, val_batches=2),
    )
    f = refined.refinement
    assert f is not None
    record["refined"] = {
        "lr": f.lr,
        "trials": [[t.lr, t.held_out_loss, list(t.train_losses), t.diverged] for t in f.trials],
        "rounds": len(f.rounds),
    }
    record["refine_restored"] = all(torch.equal(before[k], v) for k, v in model.state_dict().items())

    # Each rank its own loader, of a different length: the short last batches fall on different steps.
    data, _ = _regression(rank)
    own = DataLoader(TensorDataset(*data[: 100 if rank == 0 else 60]), batch_size=16)
    uneven = lrfinder.range_test(
        nn.parallel.DistributedDataParallel(small_net()), own, loss_fn=F.mse_loss, min_lr=1e-4, max_lr=100.0,
        num_steps=40, noise_scale=True,
    )
    noise = None if uneven.noise_scale is None else uneven.noise_scale.to_dict()
    record["uneven"] = {**_curve(uneven), "noise": noise, "noise_error": uneven.noise_error}

    # refine holding out training batches from loaders of different lengths (13 and 4 batches): a fifth of a pass
    # was 2 batches on rank 0 and 1 on rank 1, and the ranks' all_reduces of their held-out losses mismatched.
    short = DataLoader(TensorDataset(*data[: 200 if rank == 0 else 60]), batch_size=16)
    held = lrfinder.range_test(
        nn.parallel.DistributedDataParallel(small_net()), short, loss_fn=F.mse_loss, min_lr=1e-4, max_lr=100.0,
        num_steps=30, refine=lrfinder.Refine(training_steps=60, candidates=2, extend=0),
    )
    f = held.refinement
    assert f is not None
    record["uneven_refine"] = [f.lr, [t.held_out_loss for t in f.trials], list(f.notes)]

    # Batches of 16 on rank 0 and 32 on rank 1: a global batch of 48 on both, and the same LR scaled to 96.
    sizes = DataLoader(data, batch_size=16 if rank == 0 else 32, sampler=loader.sampler)
    mixed = lrfinder.range_test(
        nn.parallel.DistributedDataParallel(small_net()), sizes, loss_fn=F.mse_loss, min_lr=1e-4, max_lr=100.0,
        num_steps=60,
    )
    record["mixed_batches"] = [mixed.batch_size, mixed.scale(96).lr]

    # A plain model on rank 0 only, inside the initialized group: nothing to wait for.
    if rank == 0:
        plain = small_net()
        record["plain_ranks"] = data_parallel_ranks(plain, torch.device("cpu")) is None
        alone = lrfinder.range_test(plain, loader, loss_fn=F.mse_loss, min_lr=1e-4, max_lr=100.0, num_steps=30)
        record["plain_steps"] = len(alone.losses)
    _leave(out, rank, record)  # rank 1 waits in its barrier while rank 0 runs alone


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return spawn_ranks(_worker, tmp_path_factory.mktemp("ddp"), WORLD, DEADLINE_S)


@pytest.mark.slow
def test_every_rank_records_the_same_curve_and_stops_at_the_same_step(ranks: list[dict[str, Any]]) -> None:
    a, b = ranks
    assert a["ranks"] == b["ranks"] == WORLD
    assert a["sweep"] == b["sweep"]
    assert a["sweep"]["stop"] == "diverged"
    assert len(a["sweep"]["losses"]) < 60
    assert a["sweep"]["lr"] is not None
    # The recorded loss is the mean of the ranks' own losses (rank 1's noisy targets make them differ).
    first = (a["local_first_loss"] + b["local_first_loss"]) / 2
    assert a["local_first_loss"] != pytest.approx(b["local_first_loss"], rel=0.1)
    assert a["sweep"]["losses"][0] == pytest.approx(first, rel=1e-6)
    # The global batch: 16 per rank x 2 ranks, and the ranks it was summed over (the report said "batch size 32" alone).
    assert a["sweep"]["batch_size"] == 32 and a["sweep"]["world_size"] == WORLD


@pytest.mark.slow
def test_every_rank_is_restored_exactly(ranks: list[dict[str, Any]]) -> None:
    for r in ranks:
        assert r["restored"] and r["rng_restored"] and r["data_restored"]
        assert r["epoch"] == 3  # DistributedSampler's set_epoch is kept
        assert r["wd_restored"] and r["refine_restored"]


@pytest.mark.slow
def test_noise_scale_reads_each_ranks_own_gradient(ranks: list[dict[str, Any]]) -> None:
    a, b = ranks
    assert (a["noise_error"], a["noise_source"]) == (b["noise_error"], b["noise_source"])
    assert a["noise_source"] == "ranks", a["noise_error"]


@pytest.mark.slow
def test_weight_decay_sweep_and_refine_agree_across_ranks(ranks: list[dict[str, Any]]) -> None:
    a, b = ranks
    assert a["wd_curves"] == b["wd_curves"]
    assert a["refined"] == b["refined"]
    assert a["refined"]["trials"]


@pytest.mark.slow
def test_loaders_of_different_lengths_measure_the_same_noise_scale(ranks: list[dict[str, Any]]) -> None:
    """Rank 0's short batches (4 examples) and rank 1's (12) fell on different steps: each rank kept the pairs
    of its own most common size, and the ranks' noise scales differed (6.5e3 against 3.6e2)."""
    a, b = ranks
    assert a["uneven"] == b["uneven"]
    assert a["uneven"]["noise"] is not None, a["uneven"]["noise_error"]


@pytest.mark.slow
def test_refine_holds_out_as_many_batches_on_every_rank(ranks: list[dict[str, Any]]) -> None:
    """Loaders of 13 and 4 batches: rank 0 held out 2 and rank 1 one, and both waited in the mismatched all_reduce
    of their held-out losses until the process group's timeout."""
    a, b = ranks
    assert a["uneven_refine"] == b["uneven_refine"]
    lr, held_out, notes = a["uneven_refine"]
    assert held_out and any(note.startswith("held out 1 training batch per pass on every rank") for note in notes)


@pytest.mark.slow
def test_ranks_with_batches_of_different_sizes_read_one_global_batch(ranks: list[dict[str, Any]]) -> None:
    """Batches of 16 on rank 0 and 32 on rank 1: result.batch_size was each rank's own times the world (32 on rank 0,
    64 on rank 1), so result.scale(96) gave each rank its own LR, 2x apart, and training drifted apart."""
    a, b = ranks
    assert a["mixed_batches"] == b["mixed_batches"]
    size, lr = a["mixed_batches"]
    assert size == 48 and lr is not None


@pytest.mark.slow
def test_a_plain_model_on_rank_zero_alone_does_not_wait_for_the_others(ranks: list[dict[str, Any]]) -> None:
    assert ranks[0]["plain_ranks"] is True
    assert ranks[0]["plain_steps"] > 0


def test_no_reduction_without_an_initialized_process_group() -> None:
    assert data_parallel_ranks(small_net(), torch.device("cpu")) is None


# -- gradient accumulation (no_sync) and NaN in one rank's data: a second pair of processes ------------


class _Filled(nn.Module):
    """A model that replaces NaN/inf in its inputs by zeros: it copes with such data itself."""

    def __init__(self) -> None:
        super().__init__()
        self.net = small_net()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0))


#: The hook's calls in this process, counted outside its state (which the range test puts back).
_HOOK_CALLS = [0]


def _counting_hook(state, bucket):  # type: ignore[no-untyped-def]  # DDP refuses string annotations here
    from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

    state["calls"] += 1
    _HOOK_CALLS[0] += 1
    return allreduce_hook(None, bucket)  # type: ignore[arg-type]


def _trained_under_powersgd(loader: DataLoader, range_test_first: bool) -> dict[str, Any]:
    """4 SGD steps under a PowerSGD comm hook, after a range test or not: its state and the weights after."""
    from itertools import islice

    from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as powersgd

    model = nn.parallel.DistributedDataParallel(small_net())
    # Compression from the 3rd step, with error feedback and warm start: the test's 20 steps moved all of it.
    state = powersgd.PowerSGDState(
        process_group=None, matrix_approximation_rank=1, start_powerSGD_iter=2, min_compression_rate=0.5
    )
    model.register_comm_hook(state, powersgd.powerSGD_hook)
    if range_test_first:
        lrfinder.range_test(model, loader, loss_fn=F.mse_loss, min_lr=1e-4, max_lr=10.0, num_steps=20)
    restored = {"iter": state.iter, "error_feedback": len(state.error_dict)}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    for x, y in islice(iter(loader), 4):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    weights = [p.detach().flatten().tolist() for p in model.parameters()]
    return {**restored, "iter_after": state.iter, "weights": weights}


def _accumulated(loader: DataLoader, old: bool = False, **ddp: Any) -> dict[str, Any]:
    """A 2-micro-batch sweep; ``old``: every micro-batch all-reduces, as before no_sync."""
    import importlib

    engine = importlib.import_module("lrfinder.range_test")  # the module: lrfinder.range_test is the function
    parallel = importlib.import_module("lrfinder.data_parallel")

    model = nn.parallel.DistributedDataParallel(small_net(), **ddp)
    state = {"calls": 0}
    model.register_comm_hook(state, _counting_hook)
    calls = _HOOK_CALLS[0]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sync = engine.micro_batch_sync
    if old:
        engine.micro_batch_sync = lambda model, steps: parallel._always_sync  # type: ignore[assignment]
    try:
        result = lrfinder.range_test(
            model, loader, loss_fn=F.mse_loss, min_lr=1e-4, max_lr=1.0, num_steps=20, accumulate_steps=2,
            noise_scale=True,
        )
    finally:
        engine.micro_batch_sync = sync
    noise = result.noise_scale
    return {
        "losses": list(result.losses),
        "noise": None if noise is None else [
            noise.b_simple, noise.grad_sq, noise.trace_sigma, noise.source, noise.n_estimates,
            noise.small_batch_size, noise.big_batch_size,
        ],
        "noise_error": result.noise_error,
        "calls": _HOOK_CALLS[0] - calls,
        "hook_state": state["calls"],  # put back by the range test
        "restored": all(torch.equal(before[k], v) for k, v in model.state_dict().items()),
    }


def _accumulation_and_nan_worker(rank: int, init: str, out: str) -> None:
    import torch.distributed as dist

    join_gloo(rank, init, WORLD)
    record: dict[str, Any] = {"rank": rank}
    _, loader = _regression(rank)
    record["new"] = _accumulated(loader)
    record["old"] = _accumulated(loader, old=True)
    record["unused"] = _accumulated(loader, find_unused_parameters=True)
    record["static"] = _accumulated(loader, static_graph=True)
    record["powersgd"] = [_trained_under_powersgd(loader, first) for first in (True, False)]

    # NaN in rank 1's batch 3 only (its examples are the odd ones: example 97 is its 49th).
    data, loader = _regression(rank)
    data.tensors[0][97, 0] = math.nan
    all_reduce = dist.all_reduce
    calls = [0]

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return all_reduce(*args, **kwargs)

    dist.all_reduce = counted
    steps: list[int] = []
    try:
        for name, net in (("plain", small_net()), ("filled", _Filled())):
            calls[0] = 0
            steps.clear()
            try:
                result = lrfinder.range_test(
                    nn.parallel.DistributedDataParallel(net), loader, loss_fn=F.mse_loss, min_lr=1e-4, max_lr=1.0,
                    num_steps=20, on_step=lambda i, lr, loss: steps.append(i),
                )
                record[name] = {"losses": list(result.losses), "stop": result.stop_reason}
            except lrfinder.DataError as exc:
                record[name] = {"error": str(exc)}
            record[name].update(steps=len(steps), all_reduces=calls[0])
    finally:
        dist.all_reduce = all_reduce
    _leave(out, rank, record)


@pytest.fixture(scope="module")
def accumulated_ranks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return spawn_ranks(_accumulation_and_nan_worker, tmp_path_factory.mktemp("ddp_accumulate"), WORLD, DEADLINE_S)


@pytest.mark.slow
def test_accumulated_micro_batches_all_reduce_once_per_step(accumulated_ranks: list[dict[str, Any]]) -> None:
    for r in accumulated_ranks:
        new, old = r["new"], r["old"]
        steps = len(new["losses"])
        assert steps == len(old["losses"]) > 10
        # One gradient bucket: the old sweep all-reduced it after each of the 2 micro-batches, no_sync once a step.
        assert old["calls"] == 2 * steps
        assert new["calls"] == steps
        assert r["unused"]["calls"] == steps
        # static_graph's reducer fails an internal assert under no_sync (torch 2.13): every micro-batch syncs.
        assert r["static"]["calls"] == 2 * steps
        # The same curve and noise scale up to float rounding; restored exactly.
        for other in (old, r["unused"], r["static"]):
            assert new["losses"] == pytest.approx(other["losses"], rel=1e-5)
        # The noise scale reads each micro-batch's local gradient (a tensor hook, before any all-reduce)
        # and the step's all-reduced .grad: no_sync changes neither.
        assert new["noise"] is not None and new["noise"][3] == "ranks", new["noise_error"]
        assert new["noise"][:3] == pytest.approx(old["noise"][:3], rel=1e-4)
        assert new["noise"][3:] == old["noise"][3:] == ["ranks", new["noise"][4], 16, 64]
        assert new["restored"] and old["restored"] and r["unused"]["restored"] and r["static"]["restored"]
        # The hook's state is put back with the model, as if the test had not run.
        assert new["hook_state"] == old["hook_state"] == r["unused"]["hook_state"] == r["static"]["hook_state"] == 0
    a, b = accumulated_ranks
    assert a["new"]["losses"] == b["new"]["losses"]


@pytest.mark.slow
def test_a_comm_hooks_state_is_put_back(accumulated_ranks: list[dict[str, Any]]) -> None:
    # PowerSGD's iteration count (its all-reduce warm-up) and error feedback were left as the test's 20 steps
    # left them: the training after it compressed from its first step, with the sweep's residuals added.
    for r in accumulated_ranks:
        tested, untested = r["powersgd"]
        assert tested["iter"] == 0 and tested["error_feedback"] == 0
        assert tested["iter_after"] == untested["iter_after"] == 4
        assert tested["weights"] == untested["weights"]


@pytest.mark.slow
def test_nan_in_one_ranks_batch_raises_the_same_data_error_on_every_rank(
    accumulated_ranks: list[dict[str, Any]],
) -> None:
    a, b = accumulated_ranks
    for r in (a, b):
        # Raised at step 3 on both ranks; the check rode on the loss's all-reduce: one per step, no more (and two
        # before the sweep: whether a rank's argument checks raised, whether the ranks' settings agree).
        assert "error" in r["plain"], r["plain"]
        assert r["plain"]["steps"] == 3
        assert r["plain"]["all_reduces"] == 2 + 4
        assert "the mean over the 2 ranks" in r["plain"]["error"]
    assert b["plain"]["error"].startswith("Batch 3 of the pass on rank 1 holds NaN or inf in inputs (inputs float32")
    assert a["plain"]["error"].startswith("Batch 3 of the pass on rank 1 holds NaN or inf (the DataError raised on")
    # A model that fills NaN itself: its finite loss tells every rank so, and both sweep on alike.
    assert "error" not in a["filled"] and "error" not in b["filled"]
    assert a["filled"]["losses"] == b["filled"]["losses"]
    assert a["filled"]["steps"] == len(a["filled"]["losses"]) > 3
    # and two before the sweep (the checks, the settings), one for the global batch once it ends
    assert a["filled"]["all_reduces"] == 2 + a["filled"]["steps"] + 1


class _DictBatches(torch.utils.data.Dataset):
    """Dict examples ``{"x", "y"}``; with ``extra``, a ``"w"`` key the ``loss_fn`` reading does not use."""

    def __init__(self, data: TensorDataset, extra: bool) -> None:
        self.data, self.extra = data, extra

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        x, y = self.data[i]
        return {"x": x, "y": y, "w": torch.ones(())} if self.extra else {"x": x, "y": y}


def _warnings_worker(rank: int, init: str, out: str) -> None:
    import warnings

    join_gloo(rank, init, WORLD)
    data, _ = _regression(rank)
    # Rank 1's batches alone carry a key loss_fn(model(batch["x"]), batch["y"]) drops: a warning of its own.
    loader = DataLoader(_DictBatches(data, extra=rank == 1), batch_size=16, shuffle=False)
    model = nn.parallel.DistributedDataParallel(small_net())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # A linear sweep over 5 decades: warned about from the arguments, the same on every rank.
        lrfinder.range_test(model, loader, loss_fn=F.mse_loss, min_lr=1e-5, max_lr=1.0, num_steps=20, mode="linear")
    said = [str(w.message) for w in caught]
    _leave(out, rank, {"rank": rank, "warnings": said})


@pytest.mark.slow
def test_lrfinders_warnings_come_from_rank_zero_unless_one_rank_alone_sees_them(tmp_path: Path) -> None:
    """Under DDP every rank printed each warning (the callback's policy is rank zero's alone), and a warning
    only rank 1 sees (its batches' unused keys) must still be said."""
    ranks = spawn_ranks(_warnings_worker, tmp_path, WORLD, DEADLINE_S)
    linear = [sum("A linear sweep (mode 'linear')" in w for w in r["warnings"]) for r in ranks]
    unused = [sum("their other keys ('w')" in w for w in r["warnings"]) for r in ranks]
    assert linear == [1, 0], ranks
    assert unused == [0, 1], ranks


def _aborting_worker(rank: int, init: str, out: str) -> None:
    """Rank 1 dies by SIGABRT, as gloo's teardown now and then kills a rank: after its record (before, in ``early``)."""
    if rank == 0 or "early" not in out:
        Path(out, f"rank{rank}.tmp").write_text(json.dumps({"rank": rank}))
        os.replace(Path(out, f"rank{rank}.tmp"), Path(out, f"rank{rank}.json"))  # whole once it exists
    if rank == 1:
        # As the workers' barrier does: rank 0's record is written before rank 1 dies (else the spawn kills rank 0
        # before it writes, and the abort rightly counts as a crash).
        while not Path(out, "rank0.json").exists():
            time.sleep(0.01)
        os.abort()


@pytest.mark.slow
def test_spawn_ranks_forgives_an_abort_only_after_every_rank_wrote_its_record(tmp_path: Path) -> None:
    """The harness's own rule (gloo's teardown aborted a finished rank in a full run): a rank aborting once every
    record is written is its teardown; one aborting before its record is a crash, and the test fails."""
    after = tmp_path / "after"
    after.mkdir()
    assert spawn_ranks(_aborting_worker, after, WORLD, DEADLINE_S) == [{"rank": 0}, {"rank": 1}]
    early = tmp_path / "early"
    early.mkdir()
    with pytest.raises(torch.multiprocessing.ProcessExitedException, match="SIGABRT"):
        spawn_ranks(_aborting_worker, early, WORLD, DEADLINE_S)



def _step_fn_backward_worker(rank: int, init: str, out: str) -> None:
    """step_fns that run a backward through the DDP model's forward before the test's, and ones that do not."""
    join_gloo(rank, init, WORLD)
    _, loader = _regression(rank)
    critic = nn.Linear(1, 1)

    def twice(model: nn.Module, batch: Any) -> torch.Tensor:
        loss = F.mse_loss(model(batch[0]), batch[1])
        loss.backward(retain_graph=True)
        return loss

    def critic_first(model: nn.Module, batch: Any) -> torch.Tensor:  # a GAN critic's loss reaching the model
        out = model(batch[0])
        critic(out).mean().backward(retain_graph=True)
        model.zero_grad()
        return F.mse_loss(out, batch[1])

    def critic_detached(model: nn.Module, batch: Any) -> torch.Tensor:
        out = model(batch[0])
        critic(out.detach()).mean().backward()
        return F.mse_loss(out, batch[1])

    def plain(model: nn.Module, batch: Any) -> torch.Tensor:
        return F.mse_loss(model(batch[0]), batch[1])

    record: dict[str, Any] = {}
    for name, step_fn, accumulate in [
        ("twice", twice, 1), ("twice_accumulated", twice, 2), ("critic_first", critic_first, 1),
        ("critic_detached", critic_detached, 1), ("plain", plain, 1),
    ]:
        model = nn.parallel.DistributedDataParallel(small_net())
        before = {k: v.clone() for k, v in model.state_dict().items()}
        try:
            result = lrfinder.range_test(
                model, loader, step_fn=step_fn, min_lr=1e-4, max_lr=10.0, num_steps=20, accumulate_steps=accumulate
            )
            record[name] = {"losses": list(result.losses)}
        except lrfinder.ModelError as exc:
            record[name] = {"error": str(exc)}
        record[name]["restored"] = all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    model = nn.parallel.DistributedDataParallel(small_net())
    by_loss_fn = lrfinder.range_test(model, loader, loss_fn=F.mse_loss, min_lr=1e-4, max_lr=10.0, num_steps=20)
    record["loss_fn"] = list(by_loss_fn.losses)
    _leave(out, rank, record)


@pytest.mark.slow
def test_a_step_fns_backward_through_the_ddp_model_is_refused_on_every_rank(tmp_path: Path) -> None:
    """DDP all-reduces the first backward after a forward only: after a step_fn's own backward (of the loss it returns,
    or a critic's loss reaching the model), the test's backward was each rank's own, and the replicas drifted apart
    silently at every step. Refused at the first step, by every rank alike; a critic on a detached output, or a
    step_fn without a backward, sweeps as loss_fn does."""
    a, b = spawn_ranks(_step_fn_backward_worker, tmp_path, WORLD, DEADLINE_S)
    for r in (a, b):
        assert r["twice"]["error"].startswith("A backward ran through the DistributedDataParallel model's forward")
        assert r["critic_first"]["error"] == r["twice"]["error"]
        # Both backwards under no_sync (the step's first micro-batch): each rank's own, parallel: the 1 + 2x factor.
        assert r["twice_accumulated"]["error"].startswith("step_fn(model, batch) left gradients in the model that are ")
        assert "each step would take their sum, 3x the gradient" in r["twice_accumulated"]["error"]
        assert all(r[name]["restored"] for name in ("twice", "twice_accumulated", "critic_first", "critic_detached"))
        assert r["plain"]["losses"] == r["critic_detached"]["losses"] == r["loss_fn"]
    assert a == b


def _settings_worker(rank: int, init: str, out: str) -> None:
    """Each rank computes a setting of its own: num_steps from its loader's length, max_lr, noise_scale; then alike."""
    join_gloo(rank, init, WORLD)
    data, _ = _regression(rank)
    # No DistributedSampler: rank 0 takes 20 batches of 16, rank 1 takes 10.
    loader = DataLoader(TensorDataset(*(t[: 320 // (rank + 1)] for t in data.tensors)), batch_size=16)
    record: dict[str, Any] = {}
    for name, settings in (
        ("num_steps", {"num_steps": len(loader)}),
        ("max_lr", {"max_lr": 1.0 + rank}),
        ("noise_scale", {"noise_scale": rank == 0}),
        ("refine", {"refine": lrfinder.Refine(training_steps=400 + 200 * rank)}),
        ("val_curve", {"curve": "val", "val_data": loader, "noise_scale": True}),
        ("same", {}),
    ):
        net = small_net()
        before = [p.detach().clone() for p in net.parameters()]
        kwargs: dict[str, Any] = {"min_lr": 1e-4, "max_lr": 1.0, "num_steps": 15, **settings}
        try:
            result = lrfinder.range_test(nn.parallel.DistributedDataParallel(net), loader, loss_fn=F.mse_loss, **kwargs)
            record[name] = {"lr": result.lr, "steps": len(result.lrs)}
        except ValueError as exc:
            record[name] = {"error": str(exc)}
        record[name]["untouched"] = all(torch.equal(a, p) for a, p in zip(before, net.parameters()))
        record[name]["hooks"] = sum(len(p._backward_hooks or {}) for p in net.parameters())
    _leave(out, rank, record)


@pytest.mark.slow
def test_settings_that_differ_across_the_ranks_are_refused_on_every_rank(tmp_path: Path) -> None:
    """num_steps=len(loader) over loaders of 20 and 10 batches: the rank done first left the other waiting in the next
    all-reduce (a hang until the process group's timeout); another max_lr on each rank gave each its own LR for the
    one model, silently; a Refine of each rank's own mismatched its trials' all-reduces. Every rank now raises the same
    ValueError before the first step; alike settings still run."""
    first, second = spawn_ranks(_settings_worker, tmp_path, WORLD, DEADLINE_S)
    for name, said in (
        ("num_steps", "num_steps from 10 to 20"),
        ("max_lr", "max_lr from 1 to 2"),
        ("noise_scale", "noise_scale True on some ranks and False on others"),
        ("refine", "refine.training_steps from 400 to 600"),
    ):
        assert first[name] == second[name], name
        error = first[name]["error"]
        assert error.startswith(
            "Expected the same range_test settings on every rank of the DistributedDataParallel model's process "
            f"group, but its 2 ranks got {said}."
        ), error
        assert "give each rank a DistributedSampler" in error and first[name]["untouched"]
    # curve='val' under DDP runs alike on every rank over val shards of 20 and 10 batches (it was refused), and the
    # noise probe's hooks are taken off after it.
    assert "error" not in first["val_curve"] and first["val_curve"] == second["val_curve"]
    assert all(record[name]["hooks"] == 0 for record in (first, second) for name in record)
    assert "error" not in first["same"] and first["same"]["lr"] == second["same"]["lr"]
    assert first["same"]["steps"] == second["same"]["steps"] > 5


def _val_curve_worker(rank: int, init: str, out: str) -> None:
    """curve='val' under DDP: each rank's own val shard (50 and 30 examples: 4 and 2 batches, a short last one)."""
    join_gloo(rank, init, WORLD)
    record: dict[str, Any] = {"rank": rank}
    data, loader = _regression(rank)
    x, y = (t[:80].clone() for t in data.tensors)  # the same regression (clean and noisy targets), copied
    shards = [TensorDataset(x[:50], y[:50]), TensorDataset(x[50:], y[50:])]
    val = DataLoader(shards[rank], batch_size=16)
    model = nn.parallel.DistributedDataParallel(small_net())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    settings: dict[str, Any] = {"loss_fn": F.mse_loss, "min_lr": 1e-4, "max_lr": 10.0, "num_steps": 40}
    result = lrfinder.range_test(model, loader, val_data=val, curve="val", **settings)
    record["ddp"] = _curve(result)
    record["restored"] = all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    record["rng_restored"] = torch.equal(rng, torch.get_rng_state())

    # The same test on one process: each step's batch is both ranks' batches together (the gradient DDP averages
    # is the mean over the 32 examples), the val loss the mean over the union of the shards.
    _, other = ranked_regression(1 - rank, WORLD, noise=3.0, epoch=3)
    ordered = (loader, other) if rank == 0 else (other, loader)
    union = [tuple(torch.cat(parts) for parts in zip(a, b)) for a, b in zip(*ordered)]
    single = lrfinder.range_test(
        small_net(), union, val_data=DataLoader(TensorDataset(x, y), batch_size=32), curve="val", **settings
    )
    record["single"] = _curve(single)

    # A BatchNorm (buffers DDP broadcasts at a forward) and no val batch on rank 1: the broadcast rank 0's first val
    # forward would start has no partner there (the ranks waited until gloo's timeout); the pass holds it off.
    torch.manual_seed(0)
    normed = nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.Linear(32, 1)))
    kept = {k: v.clone() for k, v in normed.state_dict().items()}
    one_sided = DataLoader(TensorDataset(x[: 40 if rank == 0 else 0], y[: 40 if rank == 0 else 0]), batch_size=16)
    record["one_sided"] = _curve(lrfinder.range_test(normed, loader, val_data=one_sided, curve="val", **settings))
    record["one_sided_restored"] = all(torch.equal(kept[k], v) for k, v in normed.state_dict().items())
    record["buffer_sync_kept"] = normed.require_forward_param_sync

    # Every rank's shard empty: refused before the sweep (no training batch's loss taken), as on one process; it was
    # refused at the first step's pass, after a training step.
    losses_taken = [0]

    def counted_mse(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        losses_taken[0] += 1
        return F.mse_loss(out, target)

    nothing = DataLoader(TensorDataset(x[:0], y[:0]), batch_size=16)
    try:
        lrfinder.range_test(model, loader, val_data=nothing, curve="val", **{**settings, "loss_fn": counted_mse})
        record["all_empty"] = None
    except lrfinder.DataError as exc:
        record["all_empty"] = str(exc)
    record["all_empty_losses"] = losses_taken[0]

    # NaN in rank 1's second val batch: every rank raises a DataError at step 0 (none waits in an all-reduce).
    x[50 + 20, 3] = math.nan
    try:
        lrfinder.range_test(model, loader, val_data=val, curve="val", **settings)
        record["nan"] = None
    except lrfinder.DataError as exc:
        record["nan"] = str(exc)
    record["nan_restored"] = all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    _leave(out, rank, record)


@pytest.mark.slow
def test_a_val_curve_under_ddp_is_the_mean_over_the_union_of_the_ranks_shards(tmp_path: Path) -> None:
    """curve='val' was refused under DDP ("each rank would record its own validation loss"): each rank now passes
    over its own shard (of different lengths here), the loss is reduced over the ranks as one process over the
    union of the shards reads it, and every rank records the same curve, reads the same LR and is put back; a rank
    without a val batch, under a model with buffers, leaves no other waiting; no val batch on any rank is refused
    before the sweep."""
    a, b = spawn_ranks(_val_curve_worker, tmp_path, WORLD, DEADLINE_S)
    assert a["ddp"] == b["ddp"]
    ddp, single = a["ddp"], a["single"]
    assert ddp["error"] is None and ddp["lr"] is not None
    assert ddp["stop"] == single["stop"] and len(ddp["losses"]) == len(single["losses"]) > 10
    assert ddp["lrs"] == single["lrs"]
    assert ddp["losses"] == pytest.approx(single["losses"], rel=1e-5)
    assert ddp["lr"] == pytest.approx(single["lr"], rel=1e-6)
    assert a["one_sided"] == b["one_sided"] and len(a["one_sided"]["losses"]) > 10
    for r in (a, b):
        assert r["one_sided_restored"] and r["buffer_sync_kept"] is True
        assert r["restored"] and r["rng_restored"] and r["nan_restored"]
        assert r["nan"] is not None and "the mean over the 2 ranks" in r["nan"], r["nan"]
    assert b["nan"].startswith("Batch 1 of val_data on rank 1 holds NaN or inf in inputs (inputs float32")
    assert a["nan"].startswith("Batch 1 of val_data on rank 1 holds NaN or inf (the DataError raised on")
    for r in (a, b):
        assert r["all_empty"] is not None and r["all_empty"].startswith("val_data is empty on every rank: it yields no")
        assert r["all_empty_losses"] == 0


class _FailsOnRankOne(torch.utils.data.IterableDataset):
    """Three examples of the regression on rank 0; on rank 1 the first batch fails to load (a missing shard)."""

    def __init__(self, rank: int) -> None:
        self.rank = rank

    def __iter__(self) -> Any:
        if self.rank == 1:
            raise OSError("shard 1 is missing")
        yield from zip(torch.ones(3, 10), torch.ones(3, 1))


def _one_rank_raises_worker(rank: int, init: str, out: str) -> None:
    """A check before the sweep that raises on rank 1 alone; each rank records its error and goes on to the next."""
    join_gloo(rank, init, WORLD)
    _, loader = _regression(rank)
    record: dict[str, Any] = {}
    for name, kwargs in (
        # The peek at val_data's first batch (no length: peeked at) fails on rank 1.
        ("val_peek", {"val_data": DataLoader(_FailsOnRankOne(rank), batch_size=2), "curve": "val"}),
        # 11 micro-batches a step over rank 1's one batch (rank 0 has its 32): refused by rank 1's checks alone.
        ("setup", {"accumulate_steps": 11, "num_steps": 10}),
    ):
        data = loader if name != "setup" or rank == 0 else [next(iter(loader))]
        try:
            lrfinder.range_test(nn.parallel.DistributedDataParallel(small_net()), data, loss_fn=F.mse_loss, **kwargs)
            record[name] = {"error": None}
        except Exception as exc:  # rank 0's was gloo's timeout (RuntimeError), after COMM_TIMEOUT_S
            record[name] = {"type": type(exc).__name__, "error": str(exc)}
    _leave(out, rank, record)


@pytest.mark.slow
def test_a_check_raising_on_one_rank_raises_on_every_rank(tmp_path: Path) -> None:
    """Rank 1's val_data peek failing (its shard's first batch does not load), or rank 1's own argument check failing:
    rank 0 waited in the next all-reduce until the process group's timeout (30 minutes by default; gloo's
    "Connection closed by peer" once rank 1's process had gone). Rank 1 now raises its own error and rank 0 an
    LRFinderError naming rank 1 and that error."""
    first, second = spawn_ranks(_one_rank_raises_worker, tmp_path, WORLD, DEADLINE_S)
    assert second["val_peek"]["type"] == "OSError" and second["val_peek"]["error"] == "shard 1 is missing"
    assert first["val_peek"]["type"] == "LRFinderError"
    assert first["val_peek"]["error"].startswith(
        "Loading val_data's first batch raised on rank 1 of 2 (OSError: shard 1 is missing). Every rank stops here"
    )
    assert second["setup"]["type"] == "ValueError" and "accumulate_steps" in second["setup"]["error"]
    assert first["setup"]["type"] == "LRFinderError"
    assert first["setup"]["error"].startswith("range_test's argument checks raised on rank 1 of 2 (ValueError: ")


def _rank_1_fails(rank: int, out: str, fails: Callable[[int], bool], message: str, **settings: Any) -> None:
    """``range_test`` over DDP with a ``step_fn`` raising ``ValueError(message)`` on rank 1 where ``fails`` says so
    (given its call count, from 1). Records each rank's error, and the errors naming rank 1 in its chain (from the
    one raised down to gloo's), then ends the process without a barrier: rank 1 leaves at once, as a process ended
    by its error does."""
    _, loader = _regression(rank)
    model = nn.parallel.DistributedDataParallel(small_net())
    calls = [0]

    def step_fn(m: nn.Module, batch: Any) -> torch.Tensor:
        calls[0] += 1
        if rank == 1 and fails(calls[0]):
            raise ValueError(message)
        x, y = batch
        return F.mse_loss(m(x), y)

    try:
        lrfinder.range_test(model, loader, step_fn=step_fn, num_steps=20, **settings)
        record: dict[str, Any] = {"error": None}
    except Exception as exc:
        told: list[str] = []
        error: BaseException | None = exc
        while error is not None:
            told += [str(error)] if "raised on rank 1" in str(error) else []
            error = error.__cause__ or error.__context__
        record = {"type": type(exc).__name__, "error": str(exc), "told": told}
    Path(out, f"rank{rank}.json").write_text(json.dumps(record))
    os._exit(0)


def _rank_fails_mid_sweep_worker(rank: int, init: str, out: str) -> None:
    """Rank 1's step_fn raises at the sweep's fourth step, and its process ends (an uncaught error would end it)."""
    join_gloo(rank, init, WORLD)
    _rank_1_fails(rank, out, lambda call: call == 4, "rank 1 cannot read its batch")


@pytest.mark.slow
def test_a_rank_failing_mid_sweep_is_named_on_the_others(tmp_path: Path) -> None:
    """Rank 1's step raised and its process ended: rank 0 raised gloo's bare "Connection closed by peer" from the
    step's all-reduce. It names rank 1 and its error (told through the process group's store, no collective per
    step). A failing rank whose process goes on still leaves the others waiting until the process group's timeout."""
    first, second = spawn_ranks(_rank_fails_mid_sweep_worker, tmp_path, WORLD, DEADLINE_S)
    assert second["type"] == "ModelError" and "rank 1 cannot read its batch" in second["error"]
    assert first["type"] == "LRFinderError", first
    assert first["error"].startswith("range_test's sweep raised on rank 1 of 2 (ModelError: range_test: step_fn"), first
    assert "rank 1 cannot read its batch" in first["error"]
    assert len(first["told"]) == 1, first  # named once in the chain


def test_a_collectives_failure_is_told_from_a_ranks_own_error_without_torchs_dist_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # torch.distributed.DistError is missing from some torch releases setup.cfg allows: gloo's words still tell a
    # failed collective, and a rank's own RuntimeError is never taken for one (it is then told to the other ranks).
    import torch.distributed as dist

    from lrfinder.data_parallel import _collective_failure

    gloo = RuntimeError("[../third_party/gloo/gloo/transport/tcp/pair.cc:534] Connection closed by peer [::1]:1234")
    own = RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 5x2)")
    chained = ValueError("the step failed")
    chained.__cause__ = gloo
    for present in (True, False):
        if not present:
            monkeypatch.delattr(dist, "DistError", raising=False)
        assert _collective_failure(gloo) is gloo
        assert _collective_failure(chained) is gloo
        assert _collective_failure(own) is None


def _rank_fails_in_refine_worker(rank: int, init: str, out: str) -> None:
    """Rank 1's step_fn raises on refine's held-out batches (evaluated without gradients); its process ends."""
    join_gloo(rank, init, WORLD)
    refine = lrfinder.Refine(training_steps=60, candidates=2, extend=0)
    _rank_1_fails(rank, out, lambda _: not torch.is_grad_enabled(), "rank 1 refuses its held-out batch", refine=refine)


@pytest.mark.slow
def test_a_rank_failing_in_refine_is_named_on_the_others(tmp_path: Path) -> None:
    """Rank 1 raised on refine's held-out batches and its process ended: rank 0 raised gloo's bare "Connection closed
    by peer" from the held-out losses' all-reduce (the store relay covered the sweep only). It names rank 1."""
    first, second = spawn_ranks(_rank_fails_in_refine_worker, tmp_path, WORLD, DEADLINE_S)
    assert "rank 1 refuses its held-out batch" in second["error"], second
    assert first["type"] == "LRFinderError", first
    assert first["error"].startswith("range_test's refine trials raised on rank 1 of 2 ("), first
    assert "rank 1 refuses its held-out batch" in first["error"]
    assert len(first["told"]) == 1, first


def _rank_fails_in_resweep_worker(rank: int, init: str, out: str) -> None:
    """Rank 1's step_fn raises in refine's re-sweep (a curve still falling at max_lr is swept again), then ends."""
    join_gloo(rank, init, WORLD)
    refine = lrfinder.Refine(training_steps=60, candidates=2, extend=0)
    past_sweep = lambda call: call > 20  # noqa: E731 - past the first sweep's 20 steps
    _rank_1_fails(rank, out, past_sweep, "rank 1 refuses to re-sweep", min_lr=1e-6, max_lr=1e-5, refine=refine)


@pytest.mark.slow
def test_a_rank_failing_in_refines_resweep_is_named_once(tmp_path: Path) -> None:
    """Rank 1 raised in refine's re-sweep, which runs inside the refine trials' block: on rank 0 the sweep's block
    named rank 1 and its error, then the trials' block named them again, chained from the first ("range_test's
    refine trials raised on rank 1 of 2 (...)", caused by "range_test's sweep raised on rank 1 of 2 (...)"). Said
    once: the innermost block's error goes up as it is."""
    first, second = spawn_ranks(_rank_fails_in_resweep_worker, tmp_path, WORLD, DEADLINE_S)
    assert "rank 1 refuses to re-sweep" in second["error"], second
    assert first["type"] == "LRFinderError", first
    assert first["error"].startswith("range_test's sweep raised on rank 1 of 2 (ModelError: "), first
    assert "rank 1 refuses to re-sweep" in first["error"], first
    assert len(first["told"]) == 1, first
