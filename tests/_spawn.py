"""Running a test's worker on several gloo CPU processes, for the distributed range-test tests."""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

COMM_TIMEOUT_S = 30  # a rank waiting this long in a collective is a hang: gloo raises


def join_gloo(rank: int, init: str, world: int) -> None:
    """A worker's start: one torch thread, then this rank joins the gloo process group at ``init``.

    One intra-op thread per rank: the ranks share the test machine's few cores. A collective that
    waits ``COMM_TIMEOUT_S`` seconds raises in gloo, well inside :func:`spawn_ranks`' deadline.
    """
    torch.set_num_threads(1)
    torch.distributed.init_process_group(
        "gloo", init_method=init, rank=rank, world_size=world, timeout=datetime.timedelta(seconds=COMM_TIMEOUT_S)
    )


def spawn_ranks(worker: Callable[..., None], out: Path, world: int, deadline_s: float) -> list[dict[str, Any]]:
    """Run ``worker(rank, init, out)`` on ``world`` processes and read each rank's ``rank{r}.json``.

    ``init`` is a file rendezvous in ``out`` for ``torch.distributed.init_process_group``. Ranks
    still running after ``deadline_s`` are killed and the test fails as a hang.
    """
    init = "file://" + os.path.join(out, "rendezvous")
    context = torch.multiprocessing.spawn(worker, args=(init, str(out)), nprocs=world, join=False)
    start = time.monotonic()
    records = [Path(out, f"rank{r}.json") for r in range(world)]
    try:
        while not context.join(timeout=1):
            if time.monotonic() - start > deadline_s:
                for process in context.processes:
                    process.kill()
                pytest.fail(f"the ranks were still running after {deadline_s} s: a hang")
    except torch.multiprocessing.ProcessExitedException as exc:
        # gloo's teardown aborts a process now and then once its work is done ("terminate called without an
        # active exception", torch 2.13 on CPU, without lrfinder too): forgiven only when every rank wrote its
        # record before leaving the process group. Any other death, or one before the records, fails the test.
        if exc.signal_name != "SIGABRT" or not all(path.exists() for path in records):
            raise
    return [json.loads(path.read_text()) for path in records]


def ranked_regression(
    rank: int, world: int, noise: float, epoch: int | None = None
) -> tuple[TensorDataset, DataLoader]:
    """A linear regression whose odd examples have targets ``noise`` off, and this rank's loader over it.

    With ``DistributedSampler`` (no shuffle) rank 0 gets the clean examples and rank 1 the noisy
    ones, so the ranks' own losses differ; ``epoch`` is set on the sampler (restored by the test).
    """
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1024, 10, generator=gen)
    y = x @ torch.randn(10, 1, generator=gen)
    y[1::2] += noise * torch.randn(512, 1, generator=gen)
    data = TensorDataset(x, y)
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=False)
    if epoch is not None:
        sampler.set_epoch(epoch)
    return data, DataLoader(data, batch_size=16, sampler=sampler)


def small_net() -> nn.Module:
    """The same small MLP on every rank (seeded)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
