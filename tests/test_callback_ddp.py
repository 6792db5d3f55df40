"""LRFinder under DDP on CPU (gloo, 2 processes): ``strategy="ddp"`` and ``"ddp_spawn"``.

``strategy="ddp"`` re-launches the script, so each case runs a small script in a subprocess;
every rank writes what it saw to a JSON file, and the test compares the ranks.
"""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest
from _models import TESTS, make_data, run_script

SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[4])  # tests/: the shared models
    import torch
    from _models import GAN, Net, pl
    from torch.utils.data import DataLoader, TensorDataset

    from lrfinder.callback import LRFinder


    def write(module, local):
        finder = next(c for c in module.trainer.callbacks if isinstance(c, LRFinder))
        record = {
            "rank": module.global_rank,
            "world_size": module.trainer.world_size,
            "result": finder.result.to_dict(),
            "local": local,
            "module_lr": module.lr,
            "group_lrs": [g["lr"] for o in module.trainer.optimizers for g in o.param_groups],
            "weights": [p.detach().double().sum().item() for p in module.parameters()],
        }
        Path(module.out, f"rank{module.global_rank}.json").write_text(json.dumps(record))


    class AutoNet(Net):
        def on_train_end(self):
            write(self, [loss for phase, _, loss, _ in self.steps if phase == "test"])


    class ManualNet(GAN):
        def on_train_end(self):
            write(self, [loss for phase, loss in self.g_losses if phase == "test"])


    def main(strategy, out, manual):
        torch.set_num_threads(1)
        pl.seed_everything(0, verbose=False)
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(512, 8, generator=gen)
        y = (x @ torch.randn(8, 3, generator=gen)).argmax(dim=1)
        loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
        monitor = "g_loss" if manual else None
        finder = LRFinder(num_steps=60, min_lr=1e-3, max_lr=10.0, report=out / "report.png", monitor=monitor)
        trainer = pl.Trainer(
            accelerator="cpu",
            devices=2,
            strategy=strategy,
            callbacks=[finder],
            max_steps=3,
            logger=pl.loggers.CSVLogger(out, name="logs"),
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            default_root_dir=out,
        )
        model = ManualNet(lr=0.01) if manual else AutoNet(lr=0.01, groups=True, bn=False)
        model.out = str(out)
        trainer.fit(model, loader)
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("lr_finder/")}
        Path(out, f"main{trainer.global_rank}.json").write_text(json.dumps(metrics))


    if __name__ == "__main__":
        main(sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "manual")
    """
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("strategy", "mode"),
    [("ddp", "auto"), ("ddp_spawn", "auto"), ("ddp_find_unused_parameters_true", "manual")],
    ids=["ddp", "ddp_spawn", "ddp-manual-two-optimizers"],
)
def test_ddp_loss_is_rank_mean_and_ranks_agree(tmp_path: Path, strategy: str, mode: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    run_script(tmp_path, SCRIPT, strategy, str(out), mode, str(TESTS))
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    first, second = ranks
    # Every rank recorded the same curve, stopped at the same step and got the same suggestion.
    assert first["result"] == second["result"]
    result = first["result"]
    assert result["suggestion"] is not None
    n = len(result["losses"])
    assert len(first["local"]) == len(second["local"]) == n
    # The shards differ, and the recorded loss is the mean over the ranks at every step.
    assert first["local"] != second["local"]
    for i in range(n):
        assert result["losses"][i] == pytest.approx((first["local"][i] + second["local"][i]) / 2, rel=1e-6)
    # Effective batch: 16 per device x 2 devices.
    assert result["batch_size"] == 32
    lr = result["scaled"]["lr"]
    for r in ranks:
        assert r["module_lr"] == lr
        assert r["group_lrs"] == pytest.approx([lr, lr / 2] if mode == "manual" else [lr / 10, lr])
    assert first["weights"] == second["weights"]  # DDP training went on in sync
    # Files: written once, by rank zero.
    assert [p.name for p in out.rglob("report.png")] == ["report.png"]
    assert len(list(out.rglob("lr_finder_curve.csv"))) == 1
    main = json.loads((out / "main0.json").read_text())
    assert main["lr_finder/lr"] == lr  # exactly: the main process of ddp_spawn reads it from there
    assert main["lr_finder/applied_lr"] == lr  # no cycle: what training started from
    if strategy != "ddp_spawn":
        # the script runs on both ranks; each process saw the same metrics
        assert json.loads((out / "main1.json").read_text()) == main


@pytest.mark.slow
def test_a_port_left_by_an_earlier_launcher_is_not_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An in-process ddp_spawn (Fabric's test) leaves MASTER_PORT set in the pytest process; every later script's
    ranks met on that one port, and one held by then (another test run on the machine) failed the fit at the
    rendezvous. run_script's scripts pick a free port of their own."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = str(held.getsockname()[1])
        monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
        monkeypatch.setenv("MASTER_PORT", port)
        out = tmp_path / "out"
        out.mkdir()
        run_script(tmp_path, PORT_SCRIPT, str(out), str(TESTS))
    ports = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ports[0] == ports[1] != port


@pytest.mark.slow
def test_a_script_past_its_time_is_stopped_with_the_ranks_it_started(tmp_path: Path) -> None:
    """run_script's timeout killed the script (rank 0) alone: the rank Lightning had started went on, waiting in a
    collective or the rendezvous until the process group's timeout (30 minutes by default), on a shared machine."""
    import subprocess

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AssertionError, match="the script ran past 60 s"):
        run_script(tmp_path, HANGING_SCRIPT, str(out), str(TESTS), timeout_s=60)
    assert (out / "rank1.pid").exists()  # rank 1 had started
    left = subprocess.run(["pgrep", "-f", str(tmp_path / "script.py")], capture_output=True, text=True).stdout
    assert left == ""


HANGING_SCRIPT = textwrap.dedent(
    """
    import os
    import sys
    import time
    from pathlib import Path

    sys.path.insert(0, sys.argv[2])  # tests/: the shared models
    import torch
    from _models import Net, make_data, pl
    from torch.utils.data import DataLoader


    class Hangs(Net):
        def on_train_start(self):
            Path(sys.argv[1], f"rank{self.global_rank}.pid").write_text(str(os.getpid()))
            if self.global_rank == 1:
                time.sleep(3600)  # rank 0 waits in the next collective


    torch.set_num_threads(1)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_steps=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    trainer.fit(Hangs(lr=0.01, bn=False), DataLoader(make_data(64), batch_size=16))
    """
)


PORT_SCRIPT = textwrap.dedent(
    """
    import json
    import os
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[2])  # tests/: the shared models
    import torch
    from _models import Net, make_data, pl
    from torch.utils.data import DataLoader

    torch.set_num_threads(1)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_steps=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    trainer.fit(Net(lr=0.01, bn=False), DataLoader(make_data(64), batch_size=16))
    Path(sys.argv[1], f"rank{trainer.global_rank}.json").write_text(json.dumps(os.environ["MASTER_PORT"]))
    """
)


COMBO_SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[3])  # tests/: the shared models
    import torch
    import torch.nn.functional as F
    from _models import Net, pl
    from torch.utils.data import DataLoader, TensorDataset

    from lrfinder import Refine
    from lrfinder.callback import LRFinder


    class Recorded(Net):
        def on_train_end(self):
            finder = next(c for c in self.trainer.callbacks if isinstance(c, LRFinder))
            record = {
                "result": finder.result.to_dict(),
                "applied": finder.applied_lr,
                "module_lr": self.lr,
                "train_lrs": sorted({e[1][0] for e in self.train_events()}),
                "sweep_lrs": [e[1][0] for e in self.test_events()],
                "weights": [p.detach().double().sum().item() for p in self.parameters()],
            }
            Path(self.out, f"rank{self.global_rank}.json").write_text(json.dumps(record))


    class HandAccumulating(Recorded):
        # Manual optimization, one optimizer step every 2 batches.
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            x, y = batch
            loss = F.cross_entropy(self.head(self.body(x)), y)
            self.manual_backward(loss / 2)
            if batch_idx % 2 == 1:
                opt.step()
                opt.zero_grad()
            return loss


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 8, generator=gen)
    y = (x @ torch.randn(8, 3, generator=gen)).argmax(dim=1)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    sweep = {"num_steps": 60, "min_lr": 1e-3, "max_lr": 10.0, "noise_scale": True}
    if sys.argv[2] == "manual":
        finder, accumulate, model = LRFinder(**sweep), 1, HandAccumulating(lr=0.01, bn=False)
    else:
        refine = Refine(training_steps=60, candidates=2, extend=0)
        finder, accumulate, model = LRFinder(**sweep, scaling="noise", refine=refine), 2, Recorded(lr=0.01, bn=False)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", callbacks=[finder], max_steps=3, logger=False,
        accumulate_grad_batches=accumulate, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    model.out = sys.argv[1]
    trainer.fit(model, loader)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["manual", "auto"], ids=["manual-accumulating-by-hand", "accumulate-refine-noise"])
def test_ddp_with_accumulation_every_rank_sweeps_and_applies_the_same(tmp_path: Path, mode: str) -> None:
    """DDP x 2 with 2 micro-batches per step: by hand (manual optimization) or accumulate_grad_batches (+ refine).

    The effective batch is 16 per device x 2 ranks x 2 micro-batches; by hand it was counted as 32, and the
    sweep's LR moved between the two micro-batches of a step.
    """
    run_script(tmp_path, COMBO_SCRIPT, str(tmp_path), mode, str(TESTS))
    first, second = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert first["result"] == second["result"] and first["weights"] == second["weights"]
    result = first["result"]
    assert result["batch_size"] == 64 and result["settings"]["accumulate_steps"] == 2
    lr = result["scaled"]["lr"]
    assert (result["scaled"]["from_batch_size"], result["scaled"]["to_batch_size"]) == (64, 64)
    for r in (first, second):
        assert r["applied"] == r["module_lr"] == lr and r["train_lrs"] == [lr]
        # One optimizer step per point of the curve (refine's trials step after the sweep).
        assert r["sweep_lrs"][: len(result["lrs"])] == pytest.approx(result["lrs"])
        assert mode == "auto" or len(r["sweep_lrs"]) == len(result["lrs"])
    noise = result["noise_scale"]
    assert noise is not None, result["noise_error"]
    if mode == "manual":  # blocks of steps of the global batch
        assert (noise["source"], noise["small_batch_size"]) == ("steps", 64)
    else:  # each rank's micro-batch against the all-reduced step gradient
        assert (noise["source"], noise["small_batch_size"], noise["big_batch_size"]) == ("ranks", 16, 64)
        assert result["scaled"]["rule"] == "noise"
        assert result["refinement"]["lr"] is not None and len(result["refinement"]["trials"]) == 2


HOOK_SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[3])  # tests/: the shared models
    import torch
    from _models import Net, pl
    from torch.distributed.algorithms.ddp_comm_hooks import powerSGD_hook as powersgd
    from torch.utils.data import DataLoader, TensorDataset

    from lrfinder.callback import LRFinder
    from lrfinder.refine import Refine


    class Hooked(Net):
        def on_fit_start(self):
            super().on_fit_start()
            # What DDPStrategy(ddp_comm_hook=..., ddp_comm_state=...) does on CUDA (only there): on its DDP wrapper.
            self.state = powersgd.PowerSGDState(
                process_group=None, matrix_approximation_rank=1, start_powerSGD_iter=2, min_compression_rate=0.5
            )
            self.trainer.strategy.model.register_comm_hook(self.state, powersgd.powerSGD_hook)

        def on_train_start(self):  # after LRFinder's: the test has run
            self.after_test = {"iter": self.state.iter, "error_feedback": len(self.state.error_dict)}

        def on_train_end(self):
            result = self.trainer.callbacks[0].result.to_dict()
            record = {**self.after_test, "iter_at_end": self.state.iter, "result": result}
            Path(sys.argv[1], f"rank{self.global_rank}.json").write_text(json.dumps(record))


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 8, generator=gen)
    y = (x @ torch.randn(8, 3, generator=gen)).argmax(dim=1)
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    refine = [Refine(training_steps=20, candidates=2, extend=0)] if sys.argv[2] == "refine" else []
    finder = LRFinder(num_steps=30, min_lr=1e-3, max_lr=10.0, refine=refine[0] if refine else None)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", callbacks=[finder], max_steps=3, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=sys.argv[1],
    )
    trainer.fit(Hooked(lr=0.01, bn=False), loader)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["plain", "refine"])
def test_ddp_a_comm_hooks_state_is_put_back(tmp_path: Path, mode: str) -> None:
    """A PowerSGD hook on Lightning's DDP wrapper: the test's steps stayed in its state (its iteration count, which
    ends its all-reduce warm-up, and its error feedback), outside the module the callback restored."""
    run_script(tmp_path, HOOK_SCRIPT, str(tmp_path), mode, str(TESTS))
    for r in (json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)):
        assert len(r["result"]["lrs"]) > 5
        assert mode == "plain" or r["result"]["refinement"]["trials"]
        assert (r["iter"], r["error_feedback"]) == (0, 0)
        assert r["iter_at_end"] == 3  # the fit's own 3 steps


GAN_SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[2])  # tests/: the shared models
    import torch
    from _models import AlternatingGAN, make_data, pl
    from torch.utils.data import DataLoader

    from lrfinder.callback import LRFinder


    class OwnSchedules(AlternatingGAN):
        # The networks step on alternate batches; each loss is logged on its own batches; the module steps
        # its own OneCycleLRs, sized to the fit, in training_step.
        def training_step(self, batch, batch_idx):
            super().training_step(batch, batch_idx)
            for sched in self.lr_schedulers():
                sched.step()

        def configure_optimizers(self):
            optimizers = super().configure_optimizers()
            total = int(self.trainer.estimated_stepping_batches)
            peaks = [self.lr, self.lr / 2]
            return optimizers, [
                torch.optim.lr_scheduler.OneCycleLR(o, max_lr=p, total_steps=total) for o, p in zip(optimizers, peaks)
            ]

        def on_train_end(self):
            finder = next(c for c in self.trainer.callbacks if isinstance(c, LRFinder))
            gen = id(self.trainer.optimizers[0])
            record = {
                "result": finder.result.to_dict(),
                "applied": finder.applied_lr,
                "module_lr": self.lr,
                "sweep_g_lrs": [e[1][0] for e in self.events if e[0] == "test"][0::2],
                "test_g_losses": [v for p, v in self.g_losses if p == "test"],
                "weights": [p.detach().double().sum().item() for p in self.parameters()],
            }
            Path(sys.argv[1], f"rank{self.global_rank}.json").write_text(json.dumps(record))


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    loader = DataLoader(make_data(512), batch_size=16, shuffle=True)  # seed 0
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp_find_unused_parameters_true", max_steps=6, logger=False,
        callbacks=[LRFinder(num_steps=40, min_lr=1e-3, max_lr=10.0, monitor="g_loss")], enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    trainer.fit(OwnSchedules(lr=0.01), loader)
    """
)


@pytest.mark.slow
def test_ddp_manual_gan_alternating_and_stepping_its_own_schedules(tmp_path: Path) -> None:
    """DDP x 2, manual: g_loss logged on every other batch, the module's OneCycleLRs stepped in training_step.

    The discriminator's batches stopped the fit ("did not log 'g_loss'"), and the module's OneCycleLRs, sized
    to the fit's 6 steps, were stepped past their end by the test ("Tried to step 7 times").
    """
    run_script(tmp_path, GAN_SCRIPT, str(tmp_path), str(TESTS))
    first, second = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert first["result"] == second["result"] and first["weights"] == second["weights"]
    result = first["result"]
    assert result["suggestion"] is not None and len(result["lrs"]) > 6
    for r in (first, second):
        # Each point of the curve: the generator's step at the sweep's LR (the module's schedule did not move it).
        assert r["sweep_g_lrs"] == pytest.approx(result["lrs"])
        assert len(r["test_g_losses"]) == len(result["lrs"])
        assert r["applied"] == r["module_lr"]
    for i, loss in enumerate(result["losses"]):  # the generator's loss averaged over the ranks
        assert loss == pytest.approx((first["test_g_losses"][i] + second["test_g_losses"][i]) / 2, rel=1e-6)


NAN_SCRIPT = textwrap.dedent(
    """
    import json
    import math
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[3])  # tests/: the shared models
    import torch
    import torch.distributed as dist
    from _models import GAN, Net, make_data, pl
    from torch.utils.data import DataLoader, TensorDataset

    from lrfinder import DataError
    from lrfinder.callback import LRFinder

    calls = [0]  # all_reduce calls in this process
    all_reduce = dist.all_reduce


    def counted(*args, **kwargs):
        calls[0] += 1
        return all_reduce(*args, **kwargs)


    dist.all_reduce = counted


    class Recorded:
        # Each rank its own 8 batches of 16, NaN in rank 1's batch 3 only; the all_reduces from the sweep's first
        # training_step on (the fit's setup made its own before).
        def train_dataloader(self):
            x, y = make_data(128, seed=self.global_rank).tensors
            if self.global_rank == 1:
                x[3 * 16 + 5, 0] = math.nan
            return DataLoader(TensorDataset(x, y), batch_size=16)

        def training_step(self, batch, batch_idx):
            if not hasattr(self, "first_call"):
                self.first_call = calls[0]
            return super().training_step(batch, batch_idx)

        def on_train_start(self):  # after the callback's: the sweep is over
            finder = next(c for c in self.trainer.callbacks if isinstance(c, LRFinder))
            self.record.update(result=finder.result.to_dict(), all_reduces=calls[0] - self.first_call)


    class AutoNet(Recorded, Net):
        pass


    class FillsNaN(Recorded, Net):
        # Missing values as NaN, filled by the module itself: its finite loss says so to every rank.
        def training_step(self, batch, batch_idx):
            x, y = batch
            return super().training_step((torch.nan_to_num(x), y), batch_idx)


    class ManualNet(Recorded, GAN):
        pass


    mode = sys.argv[2]
    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp_find_unused_parameters_true" if mode == "manual" else "ddp",
        callbacks=[LRFinder(num_steps=10, min_lr=1e-3, max_lr=1.0, monitor="g_loss" if mode == "manual" else None)],
        max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        use_distributed_sampler=False, default_root_dir=sys.argv[1],
    )
    model = {"auto": lambda: AutoNet(bn=False), "fills": lambda: FillsNaN(bn=False), "manual": ManualNet}[mode]()
    model.record = {}
    try:
        trainer.fit(model)
    except DataError as exc:
        model.record.update(error=str(exc), all_reduces=calls[0] - model.first_call)
    Path(sys.argv[1], f"rank{trainer.global_rank}.json").write_text(json.dumps(model.record))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["auto", "manual", "fills"], ids=["auto", "manual", "module-fills-nan"])
def test_ddp_nan_in_one_ranks_batch_raises_the_same_data_error_on_every_rank(tmp_path: Path, mode: str) -> None:
    """DDP x 2, NaN in rank 1's batch 3 only: the check was skipped under DDP, and the NaN read as the divergence.

    Every rank raises the same DataError at step 3 (the rank holding the NaN names its parts), the check riding on
    the loss's own all-reduce; a module that fills NaN itself sweeps on alike on every rank.
    """
    run_script(tmp_path, NAN_SCRIPT, str(tmp_path), mode, str(TESTS))
    first, second = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    if mode == "fills":
        assert "error" not in first and first["result"] == second["result"]
        assert len(first["result"]["losses"]) == 10 and all(math.isfinite(v) for v in first["result"]["losses"])
        # One per step, the NaN batch's too, and one summing the ranks' batch sizes into result.batch_size (26407f5).
        assert first["all_reduces"] == second["all_reduces"] == 11
        assert first["result"]["batch_size"] == 2 * 16
        return
    for r in (first, second):
        assert "error" in r, r
        assert "and the loss of step 3 (lr=" in r["error"] and "the mean over the 2 ranks) is nan" in r["error"]
    # One all-reduce per step (steps 0..3), as without the check.
    assert first["all_reduces"] == second["all_reduces"] == 4
    assert second["error"].startswith("LRFinder: Batch 3 on rank 1 holds NaN or inf in inputs (inputs float32 (16, 8)")
    assert first["error"].startswith("LRFinder: Batch 3 on rank 1 holds NaN or inf (the DataError raised on that rank")


def test_the_nan_marks_go_on_the_losss_device() -> None:
    """Under DDP on GPUs the per-rank NaN marks were made on the CPU and concatenated to the CUDA loss: torch.cat
    refused the two devices on every step. In one process, with the loss on the meta device standing for CUDA."""
    import types

    import torch

    from lrfinder._lightning import _Stepper

    class Strategy:
        root_device = torch.device("meta")
        seen: list[torch.Tensor] = []

        def reduce(self, tensor: torch.Tensor, reduce_op: str) -> torch.Tensor:
            self.seen.append(tensor)
            return torch.zeros(tensor.shape, dtype=torch.float64)  # every rank's loss 0, no marks

    class Module:
        def training_step(self, batch: object, batch_idx: int) -> None: ...

    trainer = types.SimpleNamespace(strategy=Strategy(), world_size=2, global_rank=1)
    stepper = _Stepper(trainer, Module(), None, [], {})  # type: ignore[arg-type]
    loss = torch.zeros((), device="meta")
    batch = (torch.zeros(2, 3), torch.zeros(2))
    assert stepper._reduce([loss], [((batch, 0), 0)], 0.1) == 0.0
    assert Strategy.seen[0].shape == (3,) and Strategy.seen[0].device.type == "meta"  # the loss and 2 marks, reduced


UNEVEN_SCRIPT = textwrap.dedent(
    """
    import datetime
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[3])  # tests/: the shared models
    import torch
    from _models import DDP_TIMEOUT_S, Net, make_data, pl
    from torch.utils.data import DataLoader

    from lrfinder import Refine
    from lrfinder.callback import LRFinder

    MODE = sys.argv[2]


    class Uneven(Net):
        # Each rank its own data (no DistributedSampler): rank 1's training or validation loader is the shorter.
        def train_dataloader(self):
            n = 48 if MODE == "train" and self.global_rank == 1 else 256
            return DataLoader(make_data(n, seed=self.global_rank), batch_size=16)

        def on_train_start(self):  # after LRFinder's: the test and its trials have run
            result = self.trainer.callbacks[0].result.to_dict()
            Path(sys.argv[1], f"rank{self.global_rank}.json").write_text(json.dumps(result["refinement"]))


    class UnevenVal(Uneven):
        def val_dataloader(self):
            n = 160 if self.global_rank == 0 else 48
            return DataLoader(make_data(n, seed=10 + self.global_rank), batch_size=16)

        def validation_step(self, batch, batch_idx):
            pass


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    # A mismatched all_reduce fails after DDP_TIMEOUT_S instead of gloo's default 30 minutes.
    strategy = pl.strategies.DDPStrategy(timeout=datetime.timedelta(seconds=DDP_TIMEOUT_S))
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy=strategy, max_steps=1, logger=False, use_distributed_sampler=False,
        callbacks=[LRFinder(num_steps=30, min_lr=1e-3, max_lr=10.0, refine=Refine(training_steps=60, candidates=2,
        extend=0))], num_sanity_val_steps=0, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    trainer.fit((UnevenVal if MODE == "val" else Uneven)(lr=0.01, bn=False))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["train", "val"])
def test_ddp_refine_judges_on_as_many_batches_on_every_rank(tmp_path: Path, mode: str) -> None:
    """DDP x 2, rank 1's training loader 3 batches (held out: 2 on rank 0, 1 on rank 1) or its validation loader 3
    batches (8 on rank 0): the held-out losses' all_reduces mismatched, and both ranks waited until the timeout
    (then raised it as 'Cannot compute a loss on the held-out training batches')."""
    run_script(tmp_path, UNEVEN_SCRIPT, str(tmp_path), mode, str(TESTS))
    first, second = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert first == second and first["trials"]
    assert first["judged_on"] == ("val_data" if mode == "val" else "held-out training batches")
    if mode == "train":
        assert any(note.startswith("held out 1 training batch per pass on every rank") for note in first["notes"])


UNDEFINED_SCRIPT = textwrap.dedent(
    """
    import datetime
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[3])  # tests/: the shared models
    import torch
    from _models import DDP_TIMEOUT_S, Net, make_data, pl
    from torch.utils.data import DataLoader, TensorDataset

    from lrfinder import DataError
    from lrfinder.callback import LRFinder, find_lr


    class Unlabelled(Net):
        # Each rank its own 8 batches of 16; on rank 1 (mode "undefined") every label of batch 2 is ignore_index:
        # cross_entropy's mean over no elements is NaN whatever the weights, clean data all the same.
        def train_dataloader(self):
            x, y = make_data(128, seed=self.global_rank).tensors
            if self.global_rank == 1 and sys.argv[2].endswith("undefined"):
                y[2 * 16 : 3 * 16] = -100
            return DataLoader(TensorDataset(x, y), batch_size=16)


    class ManualUnlabelled(Unlabelled):
        # Mode "manual-undefined": training_step runs its own backward (all-reduced) and step.
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            opt.zero_grad()
            loss = super().training_step(batch, batch_idx)
            self.manual_backward(loss)
            opt.step()
            return loss


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    strategy = pl.strategies.DDPStrategy(timeout=datetime.timedelta(seconds=DDP_TIMEOUT_S))
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy=strategy,
        max_steps=1, logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        use_distributed_sampler=False, default_root_dir=sys.argv[1],
    )
    model = (ManualUnlabelled if sys.argv[2].startswith("manual") else Unlabelled)(lr=0.01, bn=False)
    try:
        # No stop on the smoothed loss: the sweep runs on to a non-finite loss (mode "diverges": the LR's own).
        result = find_lr(model, trainer=trainer, num_steps=10, min_lr=1e-3, max_lr=1e30, stop_factor=None)
        record = {"error": None, "reason": result.stop_reason, "steps": len(result.losses)}
    except DataError as exc:
        record = {"error": str(exc)}
    record["weights"] = [p.detach().double().sum().item() for p in model.parameters()]
    Path(sys.argv[1], f"rank{trainer.global_rank}.json").write_text(json.dumps(record))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["undefined", "diverges", "manual-undefined"])
def test_ddp_a_loss_undefined_on_one_ranks_clean_batch_is_the_same_data_error_on_every_rank(
    tmp_path: Path, mode: str
) -> None:
    """DDP x 2, rank 1's batch 2 all ignore_index (NaN loss at any weights): the check at the starting weights ran on
    one process only, so under DDP the NaN read as the divergence ("Only 2 finite loss values ... Lower min_lr").

    Every rank judges its own batches of the stopping step at the starting weights and one reduce shares the
    verdict: both raise the same DataError naming rank 1's batch, neither waits on the other. A real divergence
    (an LR far too high, clean labels: a NaN that is finite at the starting weights) still reads as one on both.
    Under manual optimization too, where training_step's own backward and step run again at the starting weights.
    """
    run_script(tmp_path, UNDEFINED_SCRIPT, str(tmp_path), mode, str(TESTS))
    first, second = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert first["weights"] == second["weights"]  # find_lr left both modules as they were, in sync
    if mode == "diverges":
        assert first["error"] is None and second["error"] is None
        assert first["reason"] == second["reason"] == "non_finite" and first["steps"] == second["steps"] > 2
        return
    assert first["error"] == second["error"], (first, second)
    assert first["error"].startswith(
        "find_lr: Batch 2 on rank 1 gives a non-finite loss (nan) at step 2 (lr="
    ) and "and at the weights the test started from too" in first["error"]


FAILING_RANK_SCRIPT = textwrap.dedent(
    """
    import datetime
    import json
    import os
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[2])  # tests/: the shared models
    import torch
    from _models import DDP_TIMEOUT_S, Net, make_data, pl
    from torch.utils.data import DataLoader

    from lrfinder import Refine
    from lrfinder.callback import LRFinder


    class RefusesHeldOut(Net):
        # Rank 1's module fails on refine's held-out batches (evaluated without gradients), rank 0's does not.
        def training_step(self, batch, batch_idx):
            if self.global_rank == 1 and not torch.is_grad_enabled():
                raise ValueError("rank 1 refuses its held-out batch")
            return super().training_step(batch, batch_idx)


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    strategy = pl.strategies.DDPStrategy(timeout=datetime.timedelta(seconds=DDP_TIMEOUT_S))
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy=strategy,
        max_steps=1, logger=False, callbacks=[LRFinder(num_steps=20, min_lr=1e-3, max_lr=1.0, refine=Refine(
        training_steps=60, candidates=2, extend=0))], enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    try:
        trainer.fit(RefusesHeldOut(lr=0.01, bn=False), DataLoader(make_data(256), batch_size=16))
        record = {"error": None}
    except Exception as exc:
        record = {"error": type(exc).__name__, "message": str(exc)}
    Path(sys.argv[1], f"rank{trainer.global_rank}.json").write_text(json.dumps(record))
    os._exit(0)  # no barrier at exit: the other rank may be gone
    """
)


@pytest.mark.slow
def test_ddp_another_ranks_failure_is_not_called_a_data_error(tmp_path: Path) -> None:
    """Rank 1 fails on refine's held-out batches: rank 0, whose batches went through, said its own held-out batches
    could not be evaluated ("DataError: Cannot compute a loss on the held-out training batches with the module's
    training_step: RuntimeError: ... Connection closed by peer"), when the all_reduce of the losses failed; then gloo's
    bare error. It names rank 1 and its error, told through the process group's store as in the sweep."""
    run_script(tmp_path, FAILING_RANK_SCRIPT, str(tmp_path), str(TESTS))
    first = json.loads((tmp_path / "rank0.json").read_text())
    assert first["error"] == "LRFinderError", first
    assert first["message"].startswith("LRFinder's refine trials raised on rank 1 of 2 (DataError: "), first
    assert "rank 1 refuses its held-out batch" in first["message"], first
    assert "its collectives with rank 1 failed: RuntimeError, chained above" in first["message"], first
    second = tmp_path / "rank1.json"
    if second.exists():  # Lightning may stop rank 1 before it writes
        assert json.loads(second.read_text())["error"] == "DataError"


def _nccl_like_strategy(pl: object, world: int) -> object:
    """A one-process strategy reducing as NCCL does for ``world`` ranks that all hold this one's values.

    NCCL's ``ReduceOp.AVG`` (Lightning's ``reduce_op="mean"``) multiplies each rank's value by ``1 / world``
    before summing: six ranks' 1.0 come back as 0.9999999999999999. gloo sums, then divides: exact.
    """
    import torch

    class NcclLike(pl.strategies.SingleDeviceStrategy):  # type: ignore[attr-defined, misc, name-defined]
        def __init__(self) -> None:
            super().__init__(device=torch.device("cpu"))
            self.world_size = world

        def reduce(self, tensor: object, group: object = None, reduce_op: object = "mean") -> object:
            if not isinstance(tensor, torch.Tensor):
                return tensor
            out = torch.zeros_like(tensor)
            for _ in range(world):
                out += tensor * (1.0 / world) if reduce_op in ("mean", "avg") else tensor
            return out

    return NcclLike()


def test_refine_under_nccls_average_holds_out_batches() -> None:
    """Six ranks under NCCL: the count of held-out batches every rank has was read from mean(1.0, ...) == 1.0, which
    NCCL's average missed (0.9999999999999999): no rank held out a batch, and refine failed with 'Cannot compute a
    loss on the held-out training batches ... ZeroDivisionError'. Equal noise-pair sizes read as unequal alike."""
    import torch
    from _models import Net, make_data, pl
    from torch.utils.data import DataLoader

    from lrfinder import Refine
    from lrfinder.callback import LRFinder
    from lrfinder.noise import NoiseProbe

    class Module(Net):
        def train_dataloader(self) -> DataLoader:
            return DataLoader(make_data(256), batch_size=16)

    torch.manual_seed(0)
    finder = LRFinder(num_steps=20, min_lr=1e-3, max_lr=10.0, refine=Refine(training_steps=20, candidates=2, extend=0))
    trainer = pl.Trainer(
        strategy=_nccl_like_strategy(pl, 6), max_steps=1, logger=False, callbacks=[finder], num_sanity_val_steps=0,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )
    with pytest.warns(UserWarning, match="max_steps=1 is smaller than num_steps"):
        trainer.fit(Module(lr=0.01, bn=False))
    refinement = finder.result.refinement
    assert refinement is not None and refinement.trials
    assert any(note.startswith("held out 3 training batches per pass on every rank") for note in refinement.notes)
    # The noise probe's "ranks" pairs: sizes alike on every rank are alike after the mean the callback takes.
    from lrfinder._fit_facts import _mean_over_ranks

    probe = NoiseProbe([torch.nn.Parameter(torch.zeros(2))])
    probe.sources, probe.sizes, probe.small_sq = ["ranks"] * 3, [(16, 96), (15, 90), (7, 42)], [1.0, 2.0, 3.0]
    probe.big_sq, probe.steps, probe.moved = [0.5] * 3, [0, 1, 2], [0.0] * 3
    probe.reduce_local(lambda t: _mean_over_ranks(trainer, t))
    assert probe.small_sq == [1.0, 2.0, 3.0]


WARNINGS_SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    import warnings
    from pathlib import Path

    warnings.simplefilter("always")
    caught = []
    warnings.showwarning = lambda message, *args, **kwargs: caught.append(str(message))
    sys.path.insert(0, sys.argv[2])  # tests/: the shared models
    import torch
    from _models import Net, pl
    from torch.utils.data import DataLoader, TensorDataset

    from lrfinder.callback import LRFinder

    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(512, 8, generator=gen)
    y = (x @ torch.randn(8, 3, generator=gen)).argmax(dim=1)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    # A linear sweep over 4 decades (said when LRFinder is made, in every process the launcher runs) and a
    # schedule that decays to nothing (said when the fit's schedule is built): the same on every rank.
    finder = LRFinder(
        num_steps=60, min_lr=1e-3, max_lr=10.0, mode="linear", optimizer="sgd", scheduler="step",
        scheduler_settings={"step_size": 1, "gamma": 0.01},
    )
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", callbacks=[finder], max_steps=8, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=sys.argv[1],
    )
    trainer.fit(Net(lr=0.01, bn=False), loader)
    Path(sys.argv[1], f"warnings{trainer.global_rank}.json").write_text(json.dumps(caught))
    """
)


@pytest.mark.slow
def test_ddp_lrfinders_own_warnings_come_from_rank_zero(tmp_path: Path) -> None:
    """The engine's and the schedulers' warnings printed once per rank (the callback's own are rank zero's)."""
    out = tmp_path / "out"
    out.mkdir()
    run_script(tmp_path, WARNINGS_SCRIPT, str(out), str(TESTS))
    said = [json.loads((out / f"warnings{r}.json").read_text()) for r in (0, 1)]
    for text in ("A linear sweep (mode 'linear')", "Schedule 'step' with gamma=0.01"):
        assert [sum(text in w for w in ws) for ws in said] == [1, 0], (text, [w[:90] for w in said[0]])


NOTEBOOK_FIND_SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[3])  # tests/: the shared models
    import torch
    from _models import Net, make_data, pl
    from torch.utils.data import DataLoader

    from lrfinder import LRFinderError
    from lrfinder.callback import find_lr

    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp_notebook", max_steps=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    if sys.argv[2] == "notebook":
        sys.ps1 = ">>> "  # what a notebook's kernel or `python -i` has, and Lightning reads as interactive
    try:
        find_lr(Net(lr=0.01, bn=False), DataLoader(make_data(128), batch_size=16), trainer=trainer, num_steps=10)
        record = {"error": None}
    except LRFinderError as exc:
        record = {"error": str(exc)}
    Path(sys.argv[1], "main.json").write_text(json.dumps(record))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["notebook", "script"])
def test_find_lr_in_worker_processes_says_what_runs_where_it_was_called(tmp_path: Path, where: str) -> None:
    """find_lr under ddp_notebook (what devices=2 is in a notebook) gets no result in the calling process.

    Its advice was "Use strategy='ddp'", which Lightning refuses in a notebook; there it now names the one-device
    find and the callback in the multi-device fit. A script keeps the advice to use strategy='ddp'.
    """
    run_script(tmp_path, NOTEBOOK_FIND_SCRIPT, str(tmp_path), where, str(TESTS))
    error = json.loads((tmp_path / "main.json").read_text())["error"]
    assert error.startswith("find_lr() got no result in this process: the strategy ran the fit ")
    if where == "notebook":
        assert "strategy='ddp'" not in error
        assert "one-device Trainer (devices=1)" in error and "result.scale(batch_size * devices)" in error
        assert "put the LRFinder callback in the multi-device fit" in error
        assert "trainer.callback_metrics['lr_finder/applied_lr']" in error
    else:
        assert error.endswith("Use strategy='ddp' or a single-device Trainer.")


UNCHANGED_FIT_SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[4])  # tests/: the shared models
    import torch
    from _models import Net, make_data, pl
    from torch.utils.data import DataLoader

    from lrfinder.callback import LRFinder


    class Recorded(Net):
        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", torch.nn.functional.cross_entropy(self.head(self.body(x)), y), sync_dist=True)

        def on_train_end(self):
            finder = [c for c in self.trainer.callbacks if isinstance(c, LRFinder)]
            record = {
                "result": finder[0].result.to_dict() if finder else None,
                "applied": finder[0].applied_lr if finder else None,
                "losses": [loss for phase, _, loss, _ in self.steps if phase == "train"],
                "weights": {k: v.double().flatten().tolist() for k, v in self.state_dict().items()},
                "rng": torch.get_rng_state().tolist(),
                "epoch": self.trainer.train_dataloader.sampler.epoch,
            }
            Path(sys.argv[1], f"{sys.argv[2]}{self.global_rank}.json").write_text(json.dumps(record))


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    finder = [LRFinder(num_steps=30, min_lr=1e-3, max_lr=10.0, noise_scale=True)] if sys.argv[2] == "with" else []
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", callbacks=finder, max_epochs=2, accumulate_grad_batches=3,
        logger=False, num_sanity_val_steps=0, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    # 250 examples: Lightning's DistributedSampler (shuffled, set_epoch each epoch) pads rank 1's 125 to match;
    # dropout draws from the global RNG, BatchNorm keeps running statistics.
    train = DataLoader(make_data(250), batch_size=16, shuffle=True)
    trainer.fit(Recorded(lr=float(sys.argv[3]), dropout=0.2), train, DataLoader(make_data(70, seed=5), batch_size=16))
    """
)


@pytest.mark.slow
def test_ddp_fit_after_the_test_is_the_fit_without_it_on_every_rank(tmp_path: Path) -> None:
    """DDP x 2, 3 micro-batches a step, noise scale measured, a shuffled DistributedSampler over data the ranks split
    unevenly, dropout, BatchNorm and validation: each rank's two epochs after the test are, bit for bit, those of the
    same fit without LRFinder at the LR it applied (losses, weights and buffers, RNG, sampler epoch)."""
    run_script(tmp_path, UNCHANGED_FIT_SCRIPT, str(tmp_path), "with", "0.01", str(TESTS))
    found = [json.loads((tmp_path / f"with{r}.json").read_text()) for r in (0, 1)]
    assert found[0]["result"] == found[1]["result"] and found[0]["applied"] == found[1]["applied"]
    result = found[0]["result"]
    assert len(result["lrs"]) > 20 and result["batch_size"] == 96 and result["noise_scale"]["source"] == "ranks"
    lr = found[0]["applied"]
    assert lr != 0.01  # the fit trained at the LR the test found
    run_script(tmp_path, UNCHANGED_FIT_SCRIPT, str(tmp_path), "without", repr(lr), str(TESTS))
    for rank, with_finder in enumerate(found):
        without = json.loads((tmp_path / f"without{rank}.json").read_text())
        assert len(with_finder["losses"]) == 16  # 8 batches a rank, 2 epochs
        for key in ("losses", "weights", "rng", "epoch"):
            assert with_finder[key] == without[key], (rank, key)


BUFFER_SYNC_SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[3])  # tests/: the shared models
    import torch
    from _models import Net, make_data, pl
    from torch.utils.data import DataLoader

    from lrfinder.callback import LRFinder


    class Validated(Net):
        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", torch.nn.functional.cross_entropy(self.head(self.body(x)), y), sync_dist=True)

        def on_train_batch_start(self, batch, batch_idx):
            if batch_idx == 0:  # the fit's first training batch (max_steps=1)
                sync = self.trainer.strategy.model.require_forward_param_sync
                Path(sys.argv[1], f"{sys.argv[2]}{self.global_rank}.json").write_text(json.dumps(sync))


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    finder = [LRFinder(num_steps=12, min_lr=1e-3, max_lr=1.0)] if sys.argv[2] == "with" else []
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", callbacks=finder, max_steps=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    # The sanity check's validation forwards run through the DDP wrapper without gradients: the fit's first
    # training forward then skips DDP's buffer broadcast (the BatchNorm's statistics).
    data = DataLoader(make_data(64), batch_size=16)
    trainer.fit(Validated(lr=0.01), data, DataLoader(make_data(32, seed=5), batch_size=16))
    """
)


@pytest.mark.slow
def test_ddp_the_first_training_forward_after_the_test_syncs_buffers_as_without_it(tmp_path: Path) -> None:
    """A forward without gradients through the DDP wrapper (the sanity check's validation) turns off DDP's buffer
    broadcast at the next forward (``require_forward_param_sync``); the test's training forwards turned it back on,
    and the fit's first training forward broadcast rank 0's buffers where the fit without LRFinder did not. The
    restore puts the flag back as it was before the test."""
    flags = {}
    for mode in ("with", "without"):
        run_script(tmp_path, BUFFER_SYNC_SCRIPT, str(tmp_path), mode, str(TESTS))
        flags[mode] = [json.loads((tmp_path / f"{mode}{r}.json").read_text()) for r in (0, 1)]
    assert flags["without"] == [False, False]  # the sanity check's no-grad forwards left it off
    assert flags["with"] == flags["without"]


VAL_CURVE_SCRIPT = textwrap.dedent(
    """
    import datetime
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[2])  # tests/: the shared models
    import torch
    from _models import DDP_TIMEOUT_S, Net, make_data, pl
    from torch.utils.data import DataLoader

    from lrfinder.callback import LRFinder


    class ValCurve(Net):
        # Each rank its own validation data (no DistributedSampler): 5 batches on rank 0, 2 on rank 1.
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._held = []

        def train_dataloader(self):
            return DataLoader(make_data(256, seed=self.global_rank), batch_size=16, shuffle=True)

        def val_dataloader(self):
            n = 80 if self.global_rank == 0 else 32
            return DataLoader(make_data(n, seed=10 + self.global_rank), batch_size=16)

        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            if not torch.is_grad_enabled():  # the test's pass over the validation batches
                self._held.append(float(loss))
            return loss

        def validation_step(self, batch, batch_idx):
            pass

        def on_train_start(self):  # after LRFinder's: the test has run
            record = {
                "result": self.trainer.callbacks[0].result.to_dict(),
                "held": self._held,
                "weights": [p.detach().double().sum().item() for p in self.parameters()],
            }
            Path(sys.argv[1], f"rank{self.global_rank}.json").write_text(json.dumps(record))


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    strategy = pl.strategies.DDPStrategy(timeout=datetime.timedelta(seconds=DDP_TIMEOUT_S))
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy=strategy, max_steps=1, logger=False, use_distributed_sampler=False,
        callbacks=[LRFinder(num_steps=30, min_lr=1e-3, max_lr=10.0, curve="val", val_batches=3)],
        num_sanity_val_steps=0, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=sys.argv[1],
    )
    trainer.fit(ValCurve(lr=0.01, bn=False))
    """
)


@pytest.mark.slow
def test_ddp_val_curve_is_the_mean_over_every_ranks_validation_batches(tmp_path: Path) -> None:
    """DDP x 2, ``LRFinder(curve="val", val_batches=3)``, rank 1's validation loader 2 batches: each rank judges
    as many (2), and every point of the curve is the mean of all 4 losses, the same curve on both ranks."""
    run_script(tmp_path, VAL_CURVE_SCRIPT, str(tmp_path), str(TESTS))
    first, second = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert first["result"] == second["result"] and first["weights"] == second["weights"]
    result = first["result"]
    assert result["settings"]["curve"] == "val" and result["suggestion"] is not None
    n = len(result["losses"])
    assert len(first["held"]) == len(second["held"]) == 2 * n
    assert first["held"] != second["held"]  # each rank its own batches
    for i in range(n):
        local = first["held"][2 * i : 2 * i + 2] + second["held"][2 * i : 2 * i + 2]
        assert result["losses"][i] == pytest.approx(sum(local) / 4, rel=1e-9)


SAMPLED_VAL_CURVE_SCRIPT = textwrap.dedent(
    """
    import datetime
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[4])  # tests/: the shared models
    import torch
    from _models import DDP_TIMEOUT_S, Net, make_data, pl
    from torch.utils.data import DataLoader

    from lrfinder.callback import LRFinder


    class Sampled(Net):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._held = []  # the test's passes over the validation batches: (inputs, loss)
            self._validated = []  # the inputs validation_step got, in order

        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            if not torch.is_grad_enabled():
                self._held.append((batch[0].tolist(), float(loss)))
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self._validated.append(x.tolist())
            self.log("val_loss", torch.nn.functional.cross_entropy(self.head(self.body(x)), y), sync_dist=True)

        def on_train_end(self):
            finder = [c for c in self.trainer.callbacks if isinstance(c, LRFinder)]
            record = {
                "result": finder[0].result.to_dict() if finder else None,
                "applied": finder[0].applied_lr if finder else None,
                "held": self._held,
                "validated": self._validated,
                "losses": [loss for phase, _, loss, _ in self.steps if phase == "train"],
                "weights": {k: v.double().flatten().tolist() for k, v in self.state_dict().items()},
            }
            Path(sys.argv[1], f"{sys.argv[2]}{self.global_rank}.json").write_text(json.dumps(record))


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    finder = LRFinder(num_steps=30, min_lr=1e-4, max_lr=10.0, curve="val", val_batches=2)
    strategy = pl.strategies.DDPStrategy(timeout=datetime.timedelta(seconds=DDP_TIMEOUT_S))
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy=strategy, callbacks=[finder] if sys.argv[2] == "with" else [],
        max_epochs=2, check_val_every_n_epoch=2, num_sanity_val_steps=0, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    # Plain loaders: Lightning puts its DistributedSampler in (the validation one unshuffled, each rank a shard).
    train = DataLoader(make_data(128), batch_size=16, shuffle=True)
    # The training examples again (make_data's labelling rule depends on n): the loss falls on them as the test trains.
    trainer.fit(Sampled(lr=float(sys.argv[3]), bn=False), train, DataLoader(make_data(128), batch_size=16))
    """
)


@pytest.mark.slow
def test_ddp_val_curve_under_lightnings_distributed_sampler(tmp_path: Path) -> None:
    """DDP x 2, plain loaders, ``LRFinder(curve="val", val_batches=2)``: each rank reads its own shard of the validation
    set (Lightning's DistributedSampler: examples ``rank::2``), each point is the mean over both ranks' batches, the
    same curve on both; the fit after the test is, on each rank, the fit without it at the LR it applied."""
    run_script(tmp_path, SAMPLED_VAL_CURVE_SCRIPT, str(tmp_path), "with", "0.01", str(TESTS))
    found = [json.loads((tmp_path / f"with{r}.json").read_text()) for r in (0, 1)]
    assert found[0]["result"] == found[1]["result"] and found[0]["applied"] == found[1]["applied"] is not None
    result = found[0]["result"]
    assert result["settings"]["curve"] == "val"
    n = len(result["losses"])
    inputs = make_data(128).tensors[0].tolist()
    for rank, record in enumerate(found):
        assert len(record["held"]) == 2 * n
        shard = inputs[rank::2][:32]  # the rank's first two batches of 16, the same every step
        for i in range(n):
            assert record["held"][2 * i][0] + record["held"][2 * i + 1][0] == shard
    for i in range(n):
        local = [record["held"][2 * i + j][1] for record in found for j in (0, 1)]
        assert result["losses"][i] == pytest.approx(sum(local) / 4, rel=1e-9)
    run_script(tmp_path, SAMPLED_VAL_CURVE_SCRIPT, str(tmp_path), "without", repr(found[0]["applied"]), str(TESTS))
    for rank, with_finder in enumerate(found):
        without = json.loads((tmp_path / f"without{rank}.json").read_text())
        assert len(with_finder["validated"]) == 4  # the rank's 64 examples, validated once (epoch 2)
        for key in ("losses", "validated", "weights"):
            assert with_finder[key] == without[key], (rank, key)


SWEEP_FAILING_RANK_SCRIPT = textwrap.dedent(
    """
    import datetime
    import json
    import os
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[2])  # tests/: the shared models
    import torch
    from _models import DDP_TIMEOUT_S, Net, make_data, pl
    from torch.utils.data import DataLoader

    from lrfinder.callback import LRFinder


    class FailsMidSweep(Net):
        # Rank 1's module fails at its fourth test step, rank 0's goes on into the step's all-reduces.
        calls = 0

        def training_step(self, batch, batch_idx):
            FailsMidSweep.calls += 1
            if self.global_rank == 1 and FailsMidSweep.calls == 4:
                raise ValueError("rank 1 cannot read its batch")
            return super().training_step(batch, batch_idx)


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    strategy = pl.strategies.DDPStrategy(timeout=datetime.timedelta(seconds=DDP_TIMEOUT_S))
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy=strategy, max_steps=1, logger=False,
        callbacks=[LRFinder(num_steps=20, min_lr=1e-3, max_lr=1.0)], enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    try:
        trainer.fit(FailsMidSweep(lr=0.01, bn=False), DataLoader(make_data(256), batch_size=16))
        record = {"error": None}
    except Exception as exc:
        record = {"error": type(exc).__name__, "message": str(exc)}
    Path(sys.argv[1], f"rank{trainer.global_rank}.json").write_text(json.dumps(record))
    os._exit(0)  # no barrier at exit: the other rank may be gone
    """
)


@pytest.mark.slow
def test_ddp_a_rank_failing_mid_sweep_is_named_on_the_others(tmp_path: Path) -> None:
    """Rank 1 raises in training_step during the sweep and its process ends: rank 0, waiting in the step's all-reduce,
    said only gloo's "Connection closed by peer". It names the rank and its error, with no collective added."""
    run_script(tmp_path, SWEEP_FAILING_RANK_SCRIPT, str(tmp_path), str(TESTS))
    first = json.loads((tmp_path / "rank0.json").read_text())
    assert first["error"] == "LRFinderError", first
    assert first["message"].startswith(
        "LRFinder's range test raised on rank 1 of 2 (ModelError: LRFinder: the module's training_step (or its "
        "backward or optimizer step) raised ValueError during the LR range test, at step 3 (lr=2.98e-03): rank 1 "
        "cannot read its batch."
    ), first
    assert "so this rank stopped too (its collectives with rank 1 failed: RuntimeError, chained above)" in (
        first["message"]
    )
    second = tmp_path / "rank1.json"
    if second.exists():  # Lightning may stop rank 1 before it writes
        assert "rank 1 cannot read its batch" in json.loads(second.read_text())["message"]


PER_RANK_BATCH_SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[2])  # tests/: the shared models
    import torch
    from _models import Net, make_data, pl
    from torch.utils.data import DataLoader

    from lrfinder.callback import LRFinder


    class PerRank(Net):
        # Each rank its own batch size: 16 on rank 0, 32 on rank 1.
        def train_dataloader(self):
            return DataLoader(make_data(256, seed=self.global_rank), batch_size=16 * (1 + self.global_rank))

        def on_train_start(self):  # after LRFinder's test
            result = self.trainer.callbacks[0].result.to_dict()
            Path(sys.argv[1], f"rank{self.global_rank}.json").write_text(json.dumps(result["batch_size"]))


    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_steps=1, logger=False, use_distributed_sampler=False,
        callbacks=[LRFinder(num_steps=20, min_lr=1e-3, max_lr=1.0)], enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=sys.argv[1],
    )
    trainer.fit(PerRank(lr=0.01, bn=False))
    """
)


@pytest.mark.slow
def test_ddp_the_tests_batch_is_the_sum_of_the_ranks_batches(tmp_path: Path) -> None:
    """DDP x 2 at batch 16 on rank 0 and 32 on rank 1: result.batch_size was each rank's own x 2 (32 on rank 0, 64 on
    rank 1), so the ranks scaled the LR from different batches. It is their sum, 48, on both, as range_test's."""
    run_script(tmp_path, PER_RANK_BATCH_SCRIPT, str(tmp_path), str(TESTS))
    assert [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)] == [48, 48]
