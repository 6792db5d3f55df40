"""Both Lightning distributions, end to end, in fresh interpreters (issue 10).

* LightningCLI (``lightning.pytorch.cli`` and ``pytorch_lightning.cli``) takes
  ``--trainer.callbacks+=lrfinder.LRFinder`` and a YAML config naming it;
* only one distribution installed (the other blocked in ``sys.modules``): the callback derives
  from that one's ``Callback`` and ``find_lr`` runs on it;
* the ``lightning`` package end to end: LightningCLI with the callback and a DataModule, a module
  overriding ``on_before_batch_transfer``, ``find_lr``, and ``lrfind run`` on the checkpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lrfinder._lightning import installed_packages

pytestmark = pytest.mark.slow

#: A LightningCLI training script, written as a user would, for the distribution ``{pkg}``.
TRAIN = textwrap.dedent(
    '''
    import json
    import sys

    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    import {pkg} as L
    from {pkg}.cli import LightningCLI


    def make_data():
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(512, 8, generator=gen)
        y = (x @ torch.randn(8, 3, generator=gen)).argmax(dim=1)
        return TensorDataset(x, y)


    class Data(L.LightningDataModule):
        def __init__(self, batch_size: int = 32):
            super().__init__()
            self.batch_size = batch_size

        def train_dataloader(self):
            return DataLoader(make_data(), batch_size=self.batch_size, shuffle=True)


    class LitNet(L.LightningModule):
        def __init__(self, lr: float = 0.01):
            super().__init__()
            self.save_hyperparameters()
            self.lr = lr
            self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
            self._hooked = []  # private: the test's restore puts back the module's public attributes, lists too

        def on_before_batch_transfer(self, batch, dataloader_idx):
            self._hooked.append(dataloader_idx)
            x, y = batch
            return x * 4.0, y  # the inputs the model trains on: the range test must see them too

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)


    if __name__ == "__main__":
        cli = LightningCLI(LitNet, Data, save_config_kwargs={{"overwrite": True}})
        [finder] = [c for c in cli.trainer.callbacks if type(c).__name__ == "LRFinder"]
        record = {{
            "num_steps": finder.result.num_steps,
            "planned": finder.result.settings.num_steps,
            "applied_lr": finder.applied_lr,
            "module_lr": cli.model.lr,
            "hparams_lr": cli.model.hparams.lr,
            "hooked": len(cli.model._hooked),
        }}
        print("RECORD " + json.dumps(record))
    '''
)

TRAINER_ARGS = [
    "--trainer.max_steps=4",
    "--trainer.logger=false",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
    "--trainer.accelerator=cpu",
]


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "PYTHONPATH": _pythonpath(cwd)}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


def _pythonpath(cwd: Path) -> str:
    """The script's folder (its model is imported by path) before the inherited PYTHONPATH."""
    return os.pathsep.join(p for p in (str(cwd), os.environ.get("PYTHONPATH", "")) if p)


def _record(proc: subprocess.CompletedProcess[str]) -> dict[str, float]:
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RECORD "))
    return json.loads(line[len("RECORD ") :])  # type: ignore[no-any-return]


@pytest.mark.parametrize("pkg", installed_packages())
def test_lightningcli_command_line_adds_the_callback(tmp_path: Path, pkg: str) -> None:
    (tmp_path / "train.py").write_text(TRAIN.format(pkg=pkg))
    proc = _run(
        [
            sys.executable,
            "train.py",
            "fit",
            "--trainer.callbacks+=lrfinder.LRFinder",
            "--trainer.callbacks.num_steps=50",
            "--trainer.callbacks.min_lr=1e-4",
            *TRAINER_ARGS,
        ],
        tmp_path,
    )
    record = _record(proc)
    assert record["planned"] == 50 and 10 <= record["num_steps"] <= 50
    assert record["applied_lr"] == record["module_lr"] == record["hparams_lr"]


@pytest.mark.parametrize("blocked", ["lightning", "pytorch_lightning"])
def test_only_one_distribution_installed(tmp_path: Path, blocked: str) -> None:
    """With one distribution missing, the callback derives from the other's Callback and find_lr runs."""
    if len(installed_packages()) < 2:
        pytest.skip("needs both distributions installed, to block one")
    kept = "pytorch_lightning" if blocked == "lightning" else "lightning.pytorch"
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules[{blocked!r}] = None  # as if it were not installed
        import importlib
        import torch
        import lrfinder
        from lrfinder._lightning import installed_packages
        pl = importlib.import_module({kept!r})
        assert installed_packages() == ({kept!r},), installed_packages()
        assert lrfinder.LRFinder.__mro__[1] is pl.Callback, lrfinder.LRFinder.__mro__
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import os
        os.environ["LRFINDER_TEST_LIGHTNING"] = {"pytorch_lightning" if blocked == "lightning" else "lightning"!r}
        from _models import DataModule, Net
        result = lrfinder.find_lr(Net(), datamodule=DataModule(), num_steps=40, min_lr=1e-3)
        assert result.num_steps >= 10, result
        assert {blocked!r} not in {{k.split(".")[0] for k, v in sys.modules.items() if v is not None}}
        print("OK")
        """
    )
    proc = _run([sys.executable, "-c", script], tmp_path)
    assert proc.stdout.strip().endswith("OK")


@pytest.mark.skipif("lightning.pytorch" not in installed_packages(), reason="needs the lightning package")
def test_lightning_package_end_to_end(tmp_path: Path) -> None:
    """``import lightning as L``: LightningCLI + YAML, a hook on the module, find_lr, lrfind run on the checkpoint."""
    (tmp_path / "train.py").write_text(TRAIN.format(pkg="lightning.pytorch"))
    config = textwrap.dedent(
        """
        trainer:
          max_steps: 4
          logger: false
          enable_progress_bar: false
          enable_model_summary: false
          accelerator: cpu
          callbacks:
            - class_path: lrfinder.LRFinder
              init_args:
                num_steps: 50
                min_lr: 1.0e-4
            - class_path: lightning.pytorch.callbacks.ModelCheckpoint
              init_args:
                dirpath: ckpt
                save_last: true
        """
    )
    (tmp_path / "config.yaml").write_text(config)
    record = _record(_run([sys.executable, "train.py", "fit", "--config", "config.yaml"], tmp_path))
    assert record["planned"] == 50 and record["num_steps"] >= 10
    assert record["applied_lr"] == record["module_lr"] == record["hparams_lr"]
    # Every test step (and the 4 training steps) went through the module's on_before_batch_transfer.
    assert record["hooked"] >= record["num_steps"] + 4
    ckpt = tmp_path / "ckpt" / "last.ckpt"
    assert ckpt.exists()

    # find_lr with a lightning DataModule and the default Trainer (of the module's distribution).
    check = textwrap.dedent(
        """
        import lrfinder, lightning
        from train import Data, LitNet
        assert isinstance(lrfinder.LRFinder(), lightning.pytorch.Callback)
        model = LitNet.load_from_checkpoint("ckpt/last.ckpt", weights_only=True)
        result = lrfinder.find_lr(model, datamodule=Data(), num_steps=40, min_lr=1e-4)
        assert result.num_steps >= 10 and len(model._hooked) >= result.num_steps, (result, model._hooked)
        # lrfind fit's training loop takes the lightning module as itself, on lightning's Trainer.
        import torch
        from lrfinder.training import train
        trained = train(model, Data().train_dataloader(), optimizer=lambda m: torch.optim.SGD(m.parameters(), lr=0.01))
        assert trained.global_step == 16, trained
        print("OK", result.lr)
        """
    )
    assert "OK" in _run([sys.executable, "-c", check], tmp_path).stdout

    # The CLI on the lightning checkpoint, with the module's own training_step.
    (tmp_path / "data.py").write_text("from train import make_data\n")
    out = tmp_path / "result.json"
    _run(
        [
            sys.executable,
            "-m",
            "lrfinder",
            "run",
            str(ckpt),
            "--model-class",
            "train:LitNet",
            "--data",
            "data:make_data",
            "--num-steps",
            "40",
            "--json",
            str(out),
            "--no-report",
        ],
        tmp_path,
    )
    saved = json.loads(out.read_text())
    assert saved["model_name"] == "LitNet" and len(saved["lrs"]) >= 10
