"""Shared fixtures; ``--slow`` adds the end-to-end tests marked ``slow``."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--slow", action="store_true", default=False, help="also run tests marked slow")


@pytest.fixture(autouse=True)
def _logger_levels() -> Iterator[None]:
    """Each test starts from the logger levels the one before it found.

    A CLI invocation through ``CliRunner`` sets the levels of ``lrfinder`` and Lightning's
    loggers for its process, as the ``lrfind`` command should; in one pytest process that
    leaked into later tests that read Lightning's INFO lines (they failed after a CLI test).
    """
    import logging

    from lrfinder.names import LIGHTNING_LOGGERS

    loggers = [logging.getLogger(name) for name in ("lrfinder", *LIGHTNING_LOGGERS)]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels):
        logger.setLevel(level)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def recorded_curves() -> list[tuple[str, list[float], list[float]]]:
    """``benchmarks.readings.cached_curves()``: every curve recorded in benchmarks/cache (and under tests/data).

    Skips the test where the tree has no benchmarks/cache: the sdist leaves it out (MANIFEST.in), and a test of the
    recorded curves read only tests/data's five there, failing on counts such as "60 inconclusive" as if the analysis
    had changed.
    """
    from pathlib import Path

    from benchmarks.readings import CACHE_DIR, cached_curves

    if not any(Path(CACHE_DIR).glob("*.json")):
        pytest.skip(f"no recorded curves in {CACHE_DIR} (the sdist leaves benchmarks/cache out)")
    return list(cached_curves())


def make_classification(n: int = 512, features: int = 10, classes: int = 3, seed: int = 0) -> TensorDataset:
    """A linearly separable-ish classification problem, generated with a fixed seed."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=gen)
    w = torch.randn(features, classes, generator=gen)
    y = (x @ w).argmax(dim=1)
    return TensorDataset(x, y)


def make_mlp(features: int = 10, classes: int = 3, hidden: int = 32, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, classes))


#: The DataError for a DataLoader worker that died (:class:`WorkerCrashes`) while "a batch" was drawn, as a regex.
WORKER_DIED = (
    r"A DataLoader worker process exited while a batch was drawn \(pid \d+: exit code 3; RuntimeError: DataLoader "
    r"worker .*\): the Dataset's code in the worker crashed or was killed .* Draw the batches with num_workers=0 to "
    r"see the error in this process\."
)


class WorkerCrashes(torch.utils.data.Dataset):
    """A Dataset whose DataLoader worker process dies (os._exit(3), as a crash in native code) on its first item.

    ``at``: on that item instead; ``after``: that many seconds after the item is asked for (while the main process
    steps on the batch before); :attr:`ARMED` (of a subclass, set later): only in workers started once it is true.
    """

    ARMED = True

    def __init__(self, at: int | None = None, after: float = 0.0) -> None:
        self.at, self.after = at, after

    def __len__(self) -> int:
        return 64

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if type(self).ARMED and self.at in (None, i) and torch.utils.data.get_worker_info() is not None:
            time.sleep(self.after)
            os._exit(3)
        return torch.randn(10), torch.tensor(i % 3)



class NoCompilerForBackward(torch.autograd.Function):
    """A compiled backward graph without a C++ compiler: inductor fails at the first backward, not the forward.

    ``torch.compile(nn.Linear(...))``'s forward is a library kernel (addmm), compiled without one; the gradient's
    reductions are generated kernels, compiled at the first backward.
    """

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        from torch._inductor.exc import InductorError

        raise InductorError(RuntimeError("InvalidCxxCompiler: No working C++ compiler found"), None)


class MissingRecords(torch.utils.data.Dataset):
    """``size`` examples by its ``__len__``, but the records ``missing`` it cannot read: ``KeyError(i)`` for them."""

    def __init__(self, size: int = 64, missing: Iterable[int] = (20,)) -> None:
        gen = torch.Generator().manual_seed(0)
        self.records = {i: (torch.randn(10, generator=gen), torch.tensor(i % 3)) for i in range(size)}
        for i in missing:
            del self.records[i]
        self.size = size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.records[i]

class FillsNaN(nn.Module):
    """A model that fills NaN in its inputs itself (missing values as NaN), around ``net`` (default: make_mlp())."""

    def __init__(self, net: nn.Module | None = None) -> None:
        super().__init__()
        self.net = make_mlp() if net is None else net

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.net(torch.nan_to_num(inputs))


class SAM(torch.optim.Optimizer):
    """Sharpness-aware minimization (Foret et al. 2020, arXiv:2010.01412), hand-written as users do.

    ``step(closure)`` makes two forward/backward passes: the loss and gradient at ``w``, a climb
    to ``w + rho * g / |g|``, the gradient there, and the base optimizer's step from ``w`` with
    it. This one evaluates the closure first, as Lightning's automatic optimization needs.
    """

    def __init__(self, params: Any, base_optimizer: Any = torch.optim.SGD, rho: float = 0.05, **kwargs: Any) -> None:
        super().__init__(params, dict(rho=rho, **kwargs))
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)

    @torch.no_grad()
    def first_step(self) -> None:
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        for group in self.param_groups:
            scale = group["rho"] / (norm + 1e-12)
            for p in group["params"]:
                if p.grad is not None:
                    self.state[p]["old_p"] = p.detach().clone()
                    p.add_(p.grad * scale)
        self.zero_grad()

    @torch.no_grad()
    def second_step(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if "old_p" in self.state[p]:
                    p.copy_(self.state[p]["old_p"])
        self.base_optimizer.step()

    def step(self, closure: Any) -> Any:  # type: ignore[override]
        closure = torch.enable_grad()(closure)
        loss = closure()
        self.first_step()
        closure()
        self.second_step()
        return loss


class SAMAfterBackward(SAM):
    """SAM as davda54/sam writes it: the caller runs the first backward; the closure is the second pass."""

    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        assert closure is not None, "Sharpness Aware Minimization requires closure, but it was not provided"
        closure = torch.enable_grad()(closure)
        self.first_step()
        closure()
        self.second_step()


@pytest.fixture
def seeded_one_thread() -> Iterator[None]:
    """One torch thread and Lightning's ``seed_everything(0)`` for the test (the thread count restored after).

    Tiny models: one intra-op thread is many times faster than several fighting for 2 cores.
    Modules use it with ``pytestmark = pytest.mark.usefixtures("seeded_one_thread")``.
    """
    from _models import pl

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def dataset() -> TensorDataset:
    return make_classification()


@pytest.fixture
def loader(dataset: TensorDataset) -> DataLoader:
    return DataLoader(dataset, batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(1))


@pytest.fixture
def mlp() -> nn.Module:
    return make_mlp()
