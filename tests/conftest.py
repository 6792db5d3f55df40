"""Shared fixtures; ``--slow`` adds the end-to-end tests marked ``slow``."""

from __future__ import annotations

from collections.abc import Iterator

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
