"""Shared test models and helpers, like Lightning's BoringModel: one definition each.

The Lightning distribution the tests run under is chosen by the environment variable
``LRFINDER_TEST_LIGHTNING`` (``pytorch_lightning``, the default, or ``lightning``); ``pl`` is
that package (``pytorch_lightning`` or ``lightning.pytorch``), so the same suite runs under both.
Subprocess scripts (DDP) import this module after putting ``tests/`` on ``sys.path``.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

#: The distribution under test: ``LRFINDER_TEST_LIGHTNING`` -> its import name.
DISTRIBUTIONS = {"pytorch_lightning": "pytorch_lightning", "lightning": "lightning.pytorch"}
LIGHTNING = os.environ.get("LRFINDER_TEST_LIGHTNING", "pytorch_lightning")
if LIGHTNING not in DISTRIBUTIONS:
    raise ValueError(f"Expected LRFINDER_TEST_LIGHTNING to be one of {', '.join(DISTRIBUTIONS)}, but got {LIGHTNING!r}")
pl: Any = importlib.import_module(DISTRIBUTIONS[LIGHTNING])
#: Its (major, minor) version, for the tests of what older Lightning releases do not offer.
LIGHTNING_VERSION: tuple[int, int] = tuple(int(part) for part in pl.__version__.split(".")[:2])  # type: ignore[assignment]
Callback = pl.Callback
#: Warnings of tiny Lightning fits, not of lrfinder: few loader workers, few batches, a test
#: longer than the fit (that one is tested in test_callback's test_limits_smaller_than_the_test_warn).
TINY_FIT_WARNINGS = (
    "ignore:.*does not have many workers.*",
    "ignore:.*isinstance\\(treespec, LeafSpec\\).*",
    "ignore:.*The number of training batches.*",
    "ignore:.*is smaller than num_steps.*",
)


def make_data(n: int = 256, seed: int = 0) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=gen)
    y = (x @ torch.randn(8, 3, generator=gen)).argmax(dim=1)
    return TensorDataset(x, y)


def make_loader(n: int = 256, batch_size: int = 32, shuffle: bool = True) -> DataLoader:
    return DataLoader(make_data(n), batch_size=batch_size, shuffle=shuffle)


class RecordingSGD(torch.optim.SGD):
    """SGD that records, at each step, the phase, every group's LR and the gradient norm."""

    def __init__(self, params: Any, events: list[tuple[Any, ...]], phase: Any, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self.events = events
        self.phase = phase

    def step(self, closure: Any = None) -> Any:
        out = super().step(closure)  # runs the closure first, as torch does
        grads = [p.grad for g in self.param_groups for p in g["params"] if p.grad is not None]
        norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))
        self.events.append((self.phase(), tuple(g["lr"] for g in self.param_groups), norm, id(self)))
        return out


class Net(pl.LightningModule):
    """A small classifier whose knobs cover the cases of the issue."""

    def __init__(
        self,
        lr: float | None = 0.01,
        *,
        groups: bool = False,
        hard_lr: Any = None,
        loss_shift: float = 0.0,
        flat: bool = False,
        dropout: float = 0.0,
        schedule: str | None = None,
        total_steps: int = 20,
        bn: bool = True,
    ) -> None:
        super().__init__()
        if lr is not None:
            self.lr = lr
        self.groups = groups
        self.hard_lr = hard_lr
        self.loss_shift = loss_shift
        self.flat = flat
        self.schedule = schedule
        self.total_steps = total_steps
        self.body = nn.Sequential(
            nn.Linear(8, 16), nn.BatchNorm1d(16) if bn else nn.Identity(), nn.ReLU(), nn.Dropout(dropout)
        )
        self.head = nn.Linear(16, 3)
        self.phase = "test"
        # Private: the test's restore puts back the module's public attributes, these logs included.
        self._events: list[tuple[Any, ...]] = []
        self._steps: list[tuple[str, int, float, bool]] = []
        self.mean_loss = torchmetrics.MeanMetric()
        self.epoch_means: list[float] = []

    def on_fit_start(self) -> None:
        self.phase = "test"  # the callback's test runs at on_train_start, before any training batch

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self.phase = "train"

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.head(self.body(x)), y)
        if self.flat:
            loss = loss * 0.0 + 1.0 + 1e-3 * torch.randn(()).abs()
        loss = loss + self.loss_shift
        self.steps.append((self.phase, x.shape[0], float(loss.detach()), torch.is_autocast_enabled("cpu")))
        self.mean_loss.update(loss.detach())
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def on_train_epoch_end(self) -> None:
        value = self.mean_loss.compute()
        self.epoch_means.append(float(value))
        self.log("mean_loss", value)
        self.mean_loss.reset()

    def configure_optimizers(self) -> Any:
        lr = self.hard_lr if self.hard_lr is not None else self.lr
        lrs = lr if isinstance(lr, (list, tuple)) else ((lr * 0.1, lr) if self.groups else (lr,))
        if len(lrs) == 2:
            params: Any = [
                {"params": self.body.parameters(), "lr": lrs[0]},
                {"params": self.head.parameters(), "lr": lrs[1]},
            ]
        else:
            params = self.parameters()
        opt = RecordingSGD(params, self.events, lambda: self.phase, lr=lrs[-1], momentum=0.9)
        if self.schedule is None:
            return opt
        if self.schedule == "onecycle":
            sched: Any = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=list(lrs), total_steps=self.total_steps)
        elif self.schedule == "cyclic":
            sched = torch.optim.lr_scheduler.CyclicLR(
                opt, base_lr=[v / 10 for v in lrs], max_lr=list(lrs), step_size_up=2, cycle_momentum=False
            )
        elif self.schedule == "warmup":
            sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 5))
        else:
            raise ValueError(self.schedule)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    @property
    def events(self) -> list[tuple[Any, ...]]:
        """``(phase, group LRs, gradient norm, optimizer id)`` of every optimizer step, the test's too."""
        return self._events

    @property
    def steps(self) -> list[tuple[str, int, float, bool]]:
        """``(phase, batch size, loss, autocast on)`` of every ``training_step`` call, the test's too."""
        return self._steps

    def test_events(self) -> list[tuple[Any, ...]]:
        return [e for e in self.events if e[0] == "test"]

    def train_events(self) -> list[tuple[Any, ...]]:
        return [e for e in self.events if e[0] == "train"]


def trainer(tmp_path: Path, callbacks: list[Callback] | None = None, **kwargs: Any) -> pl.Trainer:
    settings: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "max_steps": 5,
        "logger": False,
        "enable_checkpointing": False,
        "enable_model_summary": False,
        "enable_progress_bar": False,
        "default_root_dir": tmp_path,
        "num_sanity_val_steps": 0,
    }
    settings.update(kwargs)
    return pl.Trainer(callbacks=callbacks or [], **settings)


FAST = {"num_steps": 80, "min_lr": 1e-3, "max_lr": 10.0}


def weights(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class CriticStepping(pl.LightningModule):
    """Automatic optimization of the classifier; a critic stepped in training_step by an optimizer of its own.

    The critic's optimizer is not one of configure_optimizers': a module attribute, which the isolation's
    snapshot once left as the test's steps took it (its Adam step count and moments). ``guarded``: the
    critic steps only while gradients are enabled, as refine's message advises.
    """

    def __init__(self, *, guarded: bool = False) -> None:
        super().__init__()
        self.lr = 0.01
        self.guarded = guarded
        self.net = torch.nn.Linear(8, 3)
        self.critic = torch.nn.Linear(3, 1)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=1e-3)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        out = self.net(x)
        if not self.guarded or torch.is_grad_enabled():
            self.critic_opt.zero_grad()
            self.critic(out.detach()).mean().backward()
            self.critic_opt.step()
        return F.cross_entropy(out, y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.net.parameters(), lr=self.lr)


class GAN(pl.LightningModule):
    """Two networks, two optimizers (the discriminator at half the generator's LR), losses logged."""

    def __init__(self, lr: float = 1e-3) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.lr = lr
        self.gen = nn.Linear(8, 3)
        self.disc = nn.Linear(8, 1)
        self.phase = "test"
        # Private: the test's restore puts back the module's public attributes, these logs included.
        self._events: list[tuple[Any, ...]] = []
        self._g_losses: list[tuple[str, float]] = []

    @property
    def events(self) -> list[tuple[Any, ...]]:
        """``(phase, group LRs, gradient norm, optimizer id)`` of every optimizer step, the test's too."""
        return self._events

    @property
    def g_losses(self) -> list[tuple[str, float]]:
        """``(phase, generator loss)`` of every generator step, the test's too."""
        return self._g_losses

    def on_fit_start(self) -> None:
        self.phase = "test"  # the callback's test runs at on_train_start, before any training batch

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
        self.phase = "train"

    def training_step(self, batch: Any, batch_idx: int) -> None:
        g_opt, d_opt = self.optimizers()
        x, y = batch
        g_loss = F.cross_entropy(self.gen(x), y)
        g_opt.zero_grad()
        self.manual_backward(g_loss)
        g_opt.step()
        d_loss = F.mse_loss(self.disc(x).squeeze(1), y.float())
        d_opt.zero_grad()
        self.manual_backward(d_loss)
        d_opt.step()
        self.g_losses.append((self.phase, float(g_loss.detach())))
        self.log_dict({"g_loss": g_loss, "d_loss": d_loss}, prog_bar=True)

    def configure_optimizers(self) -> Any:
        phase = lambda: self.phase  # noqa: E731
        return [
            RecordingSGD(self.gen.parameters(), self.events, phase, lr=self.lr),
            RecordingSGD(self.disc.parameters(), self.events, phase, lr=self.lr / 2),
        ]


class AlternatingGAN(GAN):
    """A GAN stepping its networks on alternate batches (``optimizer_idx`` code ported to Lightning 2).

    Each loss is logged on its own batches only: ``g_loss`` on the generator's (even) batches.
    """

    def training_step(self, batch: Any, batch_idx: int) -> None:
        g_opt, d_opt = self.optimizers()
        x, y = batch
        if batch_idx % 2:
            d_loss = F.mse_loss(self.disc(x).squeeze(1), y.float())
            d_opt.zero_grad()
            self.manual_backward(d_loss)
            d_opt.step()
            self.log("d_loss", d_loss)
            return
        g_loss = F.cross_entropy(self.gen(x), y)
        g_opt.zero_grad()
        self.manual_backward(g_loss)
        g_opt.step()
        self.g_losses.append((self.phase, float(g_loss.detach())))
        self.log("g_loss", g_loss)


class DataModule(pl.LightningDataModule):
    """The classification data with a ``batch_size`` attribute its loader reads (BatchSizeFinder's convention)."""

    def __init__(self, batch_size: int = 32, n: int = 256) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.n = n

    def train_dataloader(self) -> DataLoader:
        return make_loader(n=self.n, batch_size=self.batch_size)


class SavedNet(Net):
    """``Net`` with ``save_hyperparameters()``: ``self.lr`` and ``self.hparams.lr`` both hold the LR."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr=lr)
        self.save_hyperparameters()


class MemoryLogger(pl.loggers.Logger):
    """A logger that keeps what it gets: metrics, hyper-parameters and ``log_table`` tables.

    With ``strict=True`` a logged hyper-parameter cannot change (as in MLflow).
    """

    def __init__(self, strict: bool = False) -> None:
        super().__init__()
        self.strict = strict
        self.metrics: list[tuple[dict[str, float], int | None]] = []
        self.params: dict[str, Any] = {}
        self.tables: list[tuple[str, list[str], list[list[Any]]]] = []

    @property
    def name(self) -> str:
        return "memory"

    @property
    def version(self) -> int:
        return 0

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(params).items():
            if self.strict and key in self.params and self.params[key] != value:
                raise RuntimeError(f"Changing param values is not allowed: {key}")
            self.params[key] = value

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.metrics.append((dict(metrics), step))

    def log_table(self, key: str, columns: list[str], data: list[list[Any]]) -> None:
        self.tables.append((key, columns, data))


def regression_data(n: int, d: int, sigma: float, seed: int) -> tuple[TensorDataset, torch.Tensor]:
    """``y = w* . x + sigma * noise`` with ``x ~ N(0, I)`` in float64, and ``w*``."""
    gen = torch.Generator().manual_seed(seed)
    w_star = torch.randn(d, generator=gen, dtype=torch.float64)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = x @ w_star + sigma * torch.randn(n, generator=gen, dtype=torch.float64)
    return TensorDataset(x, y), w_star


def linear_regression_truth(d: int, r: Any, sigma: float) -> tuple[float, float]:
    """|G|^2 and tr(Sigma) of 0.5 (w.x - y)^2 with x ~ N(0, I), y = w*.x + N(0, sigma^2), r = w - w*.

    g = (x.r - e) x, so G = E[x x^T] r = r and E[g g^T] = |r|^2 I + 2 r r^T + sigma^2 I (Isserlis),
    hence tr(Sigma) = (d + 2)|r|^2 + d sigma^2 - |r|^2 = (d + 1)|r|^2 + d sigma^2.
    """
    r2 = float(r @ r)
    return r2, (d + 1) * r2 + d * sigma**2


class Regression(pl.LightningModule):
    """Least squares ``0.5 (w.x - y)^2`` in float64, its weights started at ``w* + offset``."""

    def __init__(self, w_star: torch.Tensor, offset: float = 0.4, lr: float = 1e-6) -> None:
        super().__init__()
        self.lr = lr
        self.linear = nn.Linear(len(w_star), 1, bias=False).double()
        with torch.no_grad():
            self.linear.weight.copy_((w_star + offset).reshape(1, -1))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return 0.5 * (self.linear(x).reshape(-1) - y).pow(2).mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr)


#: This folder: scripts run by :func:`run_script` put it on ``sys.path`` to import this module.
TESTS = Path(__file__).resolve().parent

#: The timeout of a DDP script's process group (``DDPStrategy(timeout=...)``), for the scripts that wait on a
#: mismatched collective: it fails there after this long instead of gloo's default 30 minutes, inside
#: :func:`run_script`'s 300 s. It also bounds the rendezvous, where rank 0 waits for the rank 1 Lightning starts
#: as a fresh interpreter: that start (torch, Lightning, lrfinder) took 59 s on a loaded 2-core machine, and
#: under 30 s rank 1 found rank 0's store closed ("The client socket has timed out after 30000ms").
DDP_TIMEOUT_S = 120


_DESTROY_PROCESS_GROUP = """

import atexit as _atexit


def _leave_process_group():
    import torch.distributed as _dist

    if _dist.is_available() and _dist.is_initialized():
        _dist.barrier()  # no rank leaves while another still talks to it
        _dist.destroy_process_group()


# At exit, in every process that joined a group: the script's own ranks (strategy="ddp") and the
# workers strategy="ddp_spawn" starts, which import this script as __mp_main__ and never reach its end.
_atexit.register(_leave_process_group)
"""


#: A launcher's rendezvous variables: Lightning's and Fabric's ``ddp_spawn`` launchers set ``MASTER_ADDR`` and
#: ``MASTER_PORT`` in the process that launches, and they stay there after the fit (the pytest process, after an
#: in-process Fabric test). :func:`run_script` leaves them out, so each script's Lightning picks a free port.
LAUNCHER_VARIABLES = (
    "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "NODE_RANK", "GROUP_RANK"
)


def run_script(tmp_path: Path, text: str, *args: str, timeout_s: float = 300) -> None:
    """Run ``text`` as a Python script in ``tmp_path`` with ``args``, as a real process.

    For DDP, whose ``strategy="ddp"`` launches the other ranks by running the script again. One
    torch thread per process, warnings off; a failure fails the test with the end of stderr. Each
    process ends, after a barrier, by destroying its process group, as torch.distributed asks:
    left to interpreter exit, with one rank gone while the other still worked, gloo now and then
    ended a rank with "terminate called without an active exception" (SIGABRT) after a fit that
    had passed. That is done at exit (``atexit``), so ``ddp_spawn``'s worker processes, which run
    the fit inside an import of the script and never reach its last line, do it too. Every script
    is expected to succeed on every rank. A launcher's variables left in this process
    (:data:`LAUNCHER_VARIABLES`) are not passed on: a ``MASTER_PORT`` left by an in-process
    ``ddp_spawn`` made every later script's ranks meet on that one port, which another test run on
    the machine could hold by then ("address already in use"). Past ``timeout_s`` the script and
    every process it started are killed, and the test fails.
    """
    script = tmp_path / "script.py"
    script.write_text(text + _DESTROY_PROCESS_GROUP)
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    env.update(PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    # Its own session: on the timeout the ranks Lightning started go too. Killing the script alone left them
    # running (a rank waiting in the rendezvous or a collective, until the process group's timeout).
    with subprocess.Popen(
        [sys.executable, str(script), *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    ) as proc:
        try:
            _, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, stderr = proc.communicate()
            raise AssertionError(f"the script ran past {timeout_s} s: {stderr[-4000:]}") from None
    assert proc.returncode == 0, stderr[-4000:]
