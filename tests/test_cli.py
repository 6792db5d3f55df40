from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _cli import cli_runner
from PIL import Image

from lrfinder.analysis import DEFAULT_RULE, RULES
from lrfinder.cli import main
from lrfinder.cli.output import Progress, as_options, echo_summary, summary_rows
from lrfinder.exceptions import InconclusiveCurveError, ModelError
from lrfinder.optimizers import list_optimizers
from lrfinder.range_test import RangeTestResult
from lrfinder.report import plot_range_test
from lrfinder.scaling import SCALING_RULES
from lrfinder.schedulers import list_schedulers

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*is deprecated:DeprecationWarning")

USER_MODULE = "lrf_cli_usermods"

USER_CODE = textwrap.dedent(
    """
    import torch
    import torch.nn.functional as F
    import pytorch_lightning as pl
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset


    class Net(nn.Module):
        def __init__(self, features=10, classes=3, hidden=16):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes))

        def forward(self, x):
            return self.body(x)


    def make_net(hidden=16):
        return Net(hidden=hidden)


    class LitNet(pl.LightningModule):
        def __init__(self, hidden=16):
            super().__init__()
            self.save_hyperparameters()
            self.net = Net(hidden=hidden)
            self.steps = 0

        def training_step(self, batch, batch_idx):
            x, y = batch
            self.steps += 1
            loss = F.cross_entropy(self.net(x), y)
            self.log("my_loss", loss)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_acc", (self.net(x).argmax(1) == y).float().mean())

        def configure_optimizers(self):
            raise AssertionError("lrfind replaces configure_optimizers")


    class LitOwnOptimizer(LitNet):
        # configure_optimizers builds the optimizer named by kind, in one of Lightning's forms.

        configured = 0  # calls of configure_optimizers, on the class: lrfind builds its own module

        def __init__(self, hidden=16, kind="adam_dict"):
            super().__init__(hidden=hidden)
            self.save_hyperparameters()

        def configure_optimizers(self):
            type(self).configured += 1
            kind = self.hparams.kind
            if kind == "adam_dict":
                opt = torch.optim.Adam(self.parameters(), lr=1e-3)
                return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 10)}
            if kind == "adamw_lists":
                opt = torch.optim.AdamW(self.parameters(), lr=1e-3)
                return [opt], [torch.optim.lr_scheduler.StepLR(opt, 10)]
            if kind == "sgd":
                return torch.optim.SGD(self.parameters(), lr=0.1)
            if kind == "nesterov_list":
                return [torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9, nesterov=True)]
            if kind == "momentum":
                return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
            if kind == "rprop":
                return torch.optim.Rprop(self.parameters(), lr=0.01)
            if kind == "lbfgs":
                return torch.optim.LBFGS(self.parameters(), lr=1)
            if kind == "momentum_groups":  # a first layer at 0.1x of the second
                first, second = self.net.body[0], self.net.body[2]
                return torch.optim.SGD([{"params": first.parameters(), "lr": 0.01},
                                        {"params": second.parameters(), "lr": 0.1}], momentum=0.9)
            if kind == "momentum_split":  # weights and biases apart: no module holds a group alone
                named = list(self.named_parameters())
                return torch.optim.SGD([{"params": [p for n, p in named if n.endswith("weight")], "lr": 0.1},
                                        {"params": [p for n, p in named if n.endswith("bias")], "lr": 0.2}],
                                       momentum=0.9)
            steps = self.trainer.estimated_stepping_batches  # needs a Trainer: cannot be told outside one
            return torch.optim.Adam(self.parameters(), lr=1e-3 / steps)


    class LitManual(pl.LightningModule):
        # Manual optimization: training_step steps the optimizers of configure_optimizers itself.

        def __init__(self, hidden=16):
            super().__init__()
            self.automatic_optimization = False
            self.net = Net(hidden=hidden)

        def training_step(self, batch, batch_idx):
            x, y = batch
            opt = self.optimizers()
            loss = F.cross_entropy(self.net(x), y)
            opt.zero_grad()
            self.manual_backward(loss)
            opt.step()
            self.log("loss", loss)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=1e-3)


    class LitLR(pl.LightningModule):
        # Its optimizer reads its LR hyper-parameter; no forward (training_step is the loss).

        def __init__(self, lr=1e-3, hidden=16):
            super().__init__()
            self.save_hyperparameters()
            self.lr = lr
            self.net = Net(hidden=hidden)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)


    class LitWD(pl.LightningModule):
        # Keeps its weight decay as a hyper-parameter as well as its LR.

        def __init__(self, lr=1e-3, weight_decay=0.5, hidden=16):
            super().__init__()
            self.save_hyperparameters()
            self.net = Net(hidden=hidden)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)


    def _data(n=256, seed=0):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(n, 10, generator=g)
        return TensorDataset(x, x[:, :3].argmax(1))


    def train_set():
        return _data()


    def train_loader():
        return DataLoader(_data(), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))


    def train_loader64():
        return DataLoader(_data(), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))


    class DM(pl.LightningDataModule):
        def train_dataloader(self):
            return DataLoader(_data(), batch_size=32, shuffle=True)

        def val_dataloader(self):
            return DataLoader(_data(64, seed=1), batch_size=32)


    def datamodule():
        return DM()


    def not_data():
        return 42


    def batch_list():
        return list(train_loader())


    def batch_generator():
        yield from train_loader()


    def xy_list():
        return list(_data().tensors)

    NOT_CALLABLE = 3
    """
)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, code: str) -> Any:
    """``tmp_path`` as the working directory, with ``code`` in ``module``.py imported fresh from it."""
    import importlib

    monkeypatch.chdir(tmp_path)
    (tmp_path / f"{module}.py").write_text(code)
    sys.modules.pop(module, None)
    monkeypatch.syspath_prepend(str(tmp_path))
    return importlib.import_module(module)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory with a model module, models in every format and data in every format."""
    mods = _project(tmp_path, monkeypatch, USER_MODULE, USER_CODE)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 10, generator=gen)
    y = x[:, :3].argmax(1)
    np.savez(tmp_path / "train.npz", x=x.numpy(), y=y.numpy())
    np.savez(tmp_path / "named.npz", inputs_a=x.numpy(), labels_b=y.numpy())
    torch.save({"x": x, "y": y}, tmp_path / "train.pt")
    with open(tmp_path / "train.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([f"f{i}" for i in range(10)] + ["label"])
        for row, label in zip(x.tolist(), y.tolist()):
            writer.writerow(row + [label])
    torch.manual_seed(0)
    net = mods.Net()
    torch.jit.save(torch.jit.script(net), tmp_path / "model_ts.pt")
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    torch.save(net, tmp_path / "pickled.pt")
    # torch.save's legacy format (no zip) under pickle protocol 3: its magic number follows "\x80\x03", not "\x80\x02".
    legacy = {"_use_new_zipfile_serialization": False, "pickle_protocol": 3}
    torch.save(net.state_dict(), tmp_path / "weights_legacy.pt", **legacy)
    torch.save({"x": x, "y": y}, tmp_path / "train_legacy.pt", **legacy)
    lit = mods.LitNet()
    torch.save(
        {"state_dict": lit.state_dict(), "pytorch-lightning_version": "2.6.6", "hyper_parameters": dict(lit.hparams)},
        tmp_path / "lit.ckpt",
    )
    bad = x.numpy().copy()
    bad[7, 3] = np.nan
    np.savez(tmp_path / "nan.npz", x=bad, y=y.numpy())
    (tmp_path / "notes.txt").write_text("not data")
    yield tmp_path
    sys.modules.pop(USER_MODULE, None)


def invoke(*args: str, **kwargs):
    return cli_runner().invoke(main, list(args), catch_exceptions=kwargs.pop("catch_exceptions", True), **kwargs)


FAST = ("--num-steps", "20", "--no-report")


# --------------------------------------------------------------------------------------------
# help, version, list
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["run"], ["fit"], ["report"], ["demo"], ["list"]])
def test_help_ends_with_real_examples(command: list[str]):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    tail = result.output.rstrip().splitlines()
    examples = result.output.rstrip().split("Examples:")[-1].strip().splitlines()
    assert "Examples:" in result.output and examples
    assert all(line.strip().startswith("lrfind ") for line in examples)
    assert tail[-1].strip().startswith("lrfind ")
    if command:
        assert all(line.strip().startswith(f"lrfind {command[0]}") for line in examples)


@pytest.mark.parametrize("command", [[], ["run"], ["fit"], ["report"], ["demo"], ["list"]])
@pytest.mark.parametrize("width", [60, 78, 100])
def test_help_wraps_only_at_spaces_never_inside_a_name(command: list[str], width: int):
    # click wrapped at hyphens: report's default read "[default: lrfind-" / "report.png]", an option "--val-" / "data".
    result = cli_runner().invoke(main, [*command, "--help"], terminal_width=width)
    assert result.exit_code == 0, result.output
    broken = [line for line in result.output.splitlines() if re.search(r"\w-$", line)]
    assert not broken, broken
    assert "\u2011" not in result.output
    if command == ["report"]:
        assert "lrfind-report.png]" in result.output


def test_run_help_says_how_to_save_a_model_and_data_for_it():
    """A newcomer's first question after `lrfind run --help`: how to make MODEL and --data from their own code."""
    result = invoke("run", "--help")
    text = " ".join(result.output.split())
    assert 'torch.jit.save(torch.jit.script(model), "model.pt")' in text
    assert 'torch.save(model.state_dict(), "weights.pt") and --model-class' in text
    assert 'numpy.savez("train.npz", x=inputs, y=targets)' in text


@pytest.mark.parametrize("command", ["run", "fit"])
def test_warmup_steps_and_device_help_say_their_defaults(command: str):
    # --warmup-steps showed no default (docs/cli.md's reference says 0), and --device's auto named no device (61328c9).
    text = " ".join(invoke(command, "--help").output.split())
    assert "--warmup-steps INTEGER RANGE Linear warm-up steps before the schedule. [default: 0; x>=0]" in text
    assert "--device TEXT cpu, cuda, cuda:1, mps or auto (cuda when available, else cpu). [default: auto]" in text


@pytest.mark.parametrize("command", ["run", "fit"])
def test_data_help_says_what_each_kind_of_data_holds(command: str):
    """`fit --help` has no paragraph on saving data, and --data said only ".npz, .pt, .csv or .tsv file": a
    TensorDataset saved whole as train.pt, the first thing tried, is refused."""
    text = " ".join(invoke(command, "--help").output.split())
    assert "numpy.savez(path, x=x, y=y); torch.save of a dict of tensors or an (x, y) pair" in text
    assert ".csv or .tsv file (with --target)" in text
    assert "package.module:function returning a Dataset, a DataLoader or a DataModule" in text


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and "lrfind" in result.output


def test_list_shows_every_registry_entry():
    result = invoke("list")
    assert result.exit_code == 0
    for name in (*list_optimizers(), *list_schedulers(), *SCALING_RULES, "cross_entropy", "bce_with_logits"):
        assert f"  {name}" in result.output, name
    # Issue 11: `lrfind list` describes each suggestion rule, the default marked.
    rules = result.output.split("suggestion rules:\n", 1)[1].split("\n\n", 1)[0].split("losses:", 1)[0]
    described = {line.split()[0]: line.split(maxsplit=1)[1] for line in rules.splitlines() if line.startswith("  ")}
    assert set(described) == set(RULES) and all(len(text) > 20 for text in described.values())
    assert described[DEFAULT_RULE].endswith("(default)")
    # Every description starts in one column, at least two spaces after its name.
    entries = [line for line in result.output.splitlines() if line.startswith("  ") and not line.startswith("  (")]
    columns = {len(line) - len(line[2:].split(maxsplit=1)[1]) for line in entries}
    assert len(columns) == 1 and all("  " in line[2:].rstrip() for line in entries)


def test_top_level_help_lists_commands_whole_and_every_exit_code():
    result = invoke("--help")
    commands = result.output.split("Commands:")[1].split("Examples:")[0]
    assert "..." not in commands
    for code in ("0 success", "1 a failed", "2 a usage", "130 interrupted", "143 terminated", "129 hung up"):
        assert code in " ".join(result.output.split()), code


@pytest.mark.parametrize("command", ["run", "fit", "demo"])
def test_help_shows_no_machine_ranges_and_paths_as_path(command: str):
    result = invoke(command, "--help")
    assert "9223372036854775808" not in result.output
    assert "--report PATH" in result.output and "--report TEXT" not in result.output


# --------------------------------------------------------------------------------------------
# run: every model and data format, round-tripped from files written here
# --------------------------------------------------------------------------------------------


RUN_CASES = {
    "torchscript+npz": ["model_ts.pt", "--data", "train.npz"],
    "state_dict+pt": ["weights.pt", "--model-class", f"{USER_MODULE}:Net", "--data", "train.pt"],
    "factory+args+csv": [
        "weights.pt",
        "--model-class",
        f"{USER_MODULE}:make_net",
        "--model-args",
        '{"hidden": 16}',
        "--data",
        "train.csv",
        "--target",
        "label",
    ],
    "positional-args": [
        "weights.pt",
        "--model-class",
        f"{USER_MODULE}:Net",
        "--model-args",
        "[10, 3, 16]",
        "--data",
        "train.npz",
    ],
    "npz-keys": ["model_ts.pt", "--data", "named.npz", "--x-key", "inputs_a", "--y-key", "labels_b"],
    "ckpt+dataset-fn": ["lit.ckpt", "--model-class", f"{USER_MODULE}:LitNet", "--data", f"{USER_MODULE}:train_set"],
    "loader-fn": ["model_ts.pt", "--data", f"{USER_MODULE}:train_loader"],
    "datamodule-fn": ["model_ts.pt", "--data", f"{USER_MODULE}:datamodule"],
    "unsafe-pickle": ["pickled.pt", "--data", "train.npz", "--unsafe-pickle"],
    # Refused as "a plain Python pickle (pickle.dump or joblib.dump), not a torch.save file" (e9d507b).
    "legacy-format-protocol-3": [
        "weights_legacy.pt",
        "--model-class",
        f"{USER_MODULE}:Net",
        "--data",
        "train_legacy.pt",
    ],
}


def test_a_pickle_of_a_class_defined_in_the_saving_script_says_to_move_the_class(work: Path):
    # torch.save(model) in a script that defines the class pickles it as __main__.Net. The message was "Can't get
    # attribute 'Net' on <module 'lrfinder.__main__' ...>. The model's code must be importable from the current
    # directory", which it was (train_net.py lies there), and no directory could make __main__.Net load.
    (work / "train_net.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.layer = nn.Linear(10, 3)

                def forward(self, x):
                    return self.layer(x)

            if __name__ == "__main__":
                torch.save(Net(), "script_pickled.pt")
            """
        )
    )
    subprocess.run([sys.executable, "train_net.py"], cwd=work, check=True, timeout=120)
    expected = (
        "Error: Cannot unpickle script_pickled.pt: its model class Net was defined in the script that saved it (the "
        "pickle names it __main__.Net), and a pickle finds such a class only in the script run as the program, here "
        "lrfind. Move the class into a module file (e.g. nets.py), import it from there in your script and save the "
        "model again; or save model.state_dict() and pass --model-class nets:Net."
    )
    result = invoke("run", "script_pickled.pt", "--unsafe-pickle", "--data", "train.npz", *FAST)
    assert result.exit_code == 1, result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("Error:")] == [expected]
    command = [sys.executable, "-m", "lrfinder", "fit", "script_pickled.pt", "--unsafe-pickle", "--data", "train.npz",
               *FAST, "-o", "out.pt"]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, cwd=work, timeout=300)
    assert proc.returncode == 1 and expected in proc.stderr.splitlines(), proc.stderr
    assert "Traceback" not in proc.stderr and not (work / "out.pt").exists()


@pytest.mark.parametrize("case", list(RUN_CASES))
def test_run_every_format(work: Path, case: str):
    args = RUN_CASES[case]
    inputs = [work / a for a in args if (work / a).is_file()]
    before = {p: sha(p) for p in inputs}
    result = invoke("run", *args, *FAST, "--json", "out.json")
    assert result.exit_code == 0, result.output
    assert "suggested lr" in result.stdout
    saved = RangeTestResult.from_json(work / "out.json")
    assert saved.num_steps == 20 and saved.settings.num_steps == 20
    assert saved.num_parameters == 227
    assert {p: sha(p) for p in inputs} == before  # inputs are never modified


def test_a_float64_model_reads_its_float64_data_as_float64(work: Path):
    """numpy's float64 arrays were read as float32 whatever the model: a float64 model failed on every batch.

    The message then said "The inputs are float32 and the model's weights float64: store the inputs as float64",
    which they were. A float64 model now gets them as float64 (from .npz, .csv and a --val-data file too), the
    test and fit run, and the trained model stays float64; a float32 model still gets float32.
    """
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
    torch.jit.save(torch.jit.script(net), work / "double.pt")
    x = np.random.default_rng(0).standard_normal((96, 10))
    labels = x[:, :3].argmax(1)
    np.savez(work / "double.npz", x=x, y=labels)
    np.savez(work / "double_reg.npz", x=x, y=x[:, :3] * 2.0)  # real-valued float64 targets
    header = ",".join(f"f{i}" for i in range(10)) + ",label\n"
    rows = "".join(",".join(f"{v:.17g}" for v in row) + f",{c}\n" for row, c in zip(x, labels))
    (work / "double.csv").write_text(header + rows)
    for args in (["--data", "double.npz"], ["--data", "double_reg.npz", "--loss", "mse"],
                 ["--data", "double.csv", "--target", "label"]):  # fmt: skip
        result = invoke("run", "double.pt", *args, *FAST, "--json", "out.json")
        assert result.exit_code == 0, result.output
        assert RangeTestResult.from_json(work / "out.json").settings.num_steps == 20
    result = invoke("fit", "double.pt", "--data", "double.csv", "--target", "label", "--val-data", "double.csv",
                    *FAST, "--epochs", "1", "-o", "trained.pt")  # fmt: skip
    assert result.exit_code == 0, result.output
    trained = torch.jit.load(str(work / "trained.pt"))
    assert {p.dtype for p in trained.parameters()} == {torch.float64}

    from lrfinder.cli.loading import load_data

    assert load_data(work / "double.npz").dataset[0][0].dtype == torch.float32  # a float32 model's default
    assert load_data(work / "double.npz", float_dtype=torch.float64).dataset[0][0].dtype == torch.float64
    assert load_data(work / "double.csv", target="label", float_dtype=torch.float64).dataset[0][0].dtype == (
        torch.float64
    )


def test_the_summary_counts_the_trainable_parameters_and_says_so(work: Path):
    """A model with a frozen layer (a backbone under a new head): the count is the trainable one, named so."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    net[0].requires_grad_(False)
    torch.jit.save(torch.jit.script(net), work / "frozen_ts.pt")
    result = invoke("run", "frozen_ts.pt", "--data", "train.npz", *FAST)
    assert result.exit_code == 0, result.output
    assert "model             Sequential (51 trainable parameters) from frozen_ts.pt (torchscript)" in result.stdout


def test_run_with_ckpt_uses_the_modules_training_step(work: Path, monkeypatch: pytest.MonkeyPatch):
    import importlib

    mods = importlib.import_module(USER_MODULE)
    calls = []
    original = mods.LitNet.training_step

    def spy(self, batch, batch_idx):
        calls.append(batch_idx)
        return original(self, batch, batch_idx)

    monkeypatch.setattr(mods.LitNet, "training_step", spy)
    result = invoke("run", "lit.ckpt", "--model-class", f"{USER_MODULE}:LitNet", "--data", "train.npz", *FAST)
    assert result.exit_code == 0, result.output
    assert len(calls) >= 20  # one per sweep step (plus the pre-flight check)


@pytest.mark.parametrize(
    ("kind", "named"),
    [("adam_dict", "adam"), ("adamw_lists", "adamw"), ("sgd", "sgd"), ("nesterov_list", None), ("momentum", None),
     ("needs_trainer", None)],
)  # fmt: skip
def test_run_warns_when_the_default_optimizer_is_not_the_one_the_module_builds(work: Path, kind: str, named):
    # A Lightning checkpoint is tested with --optimizer (momentum SGD by default), not its configure_optimizers: an
    # Adam module got a momentum-SGD LR (0.1 where Adam trains at 1e-3) with nothing said but "optimizer momentum".
    import importlib

    mods = importlib.import_module(USER_MODULE)
    lit = mods.LitOwnOptimizer(kind=kind)
    ckpt = {"state_dict": lit.state_dict(), "pytorch-lightning_version": "2.6.6", "hyper_parameters": dict(lit.hparams)}
    torch.save(ckpt, work / "own.ckpt")
    args = ("own.ckpt", "--model-class", f"{USER_MODULE}:LitOwnOptimizer", "--data", "train.npz", *FAST)
    result = invoke("run", *args)
    assert result.exit_code == 0, result.output
    if named is None:
        assert "configure_optimizers builds" not in result.stderr
        return
    why = (
        "(at one LR, momentum 0.9 takes steps about 10x plain SGD's)" if named == "sgd"
        else "(SGD's and Adam-type optimizers' best LRs are often 10-100x apart)"
    )  # fmt: skip
    assert (
        f"warning: the test uses --optimizer momentum (the default), not the {named} that "
        f"LitOwnOptimizer.configure_optimizers builds: an LR found for one optimizer rarely fits another {why}. "
        f"Pass --optimizer {named} to test with the module's optimizer."
    ) in result.stderr
    # Chosen, on the command line or in a config file (the default momentum included), nothing is said.
    chosen = invoke("run", *args, "--optimizer", named)
    assert chosen.exit_code == 0, chosen.output
    assert "configure_optimizers builds" not in chosen.stderr
    (work / "lrfind.toml").write_text('optimizer = "momentum"\n')
    configured = invoke("run", *args, "--config", "lrfind.toml")
    assert configured.exit_code == 0, configured.output
    assert "configure_optimizers builds" not in configured.stderr
    assert "configure_optimizers builds" not in invoke("run", *args, "--quiet").stderr
    fitted = invoke("fit", *args, "--epochs", "1", "--output", "trained.ckpt")
    assert fitted.exit_code == 0, fitted.output
    assert f"Pass --optimizer {named} to test and train with the module's optimizer." in fitted.stderr


def test_run_warns_when_the_modules_param_groups_have_different_lrs(work: Path):
    # A checkpoint whose configure_optimizers puts a layer at 0.1x of the other was tested (and fit trained) at one
    # LR for every parameter, and the LR found saved as its hparams.lr, without a word: rebuilt, its groups got
    # other LRs than the test's. The warning gives the ratios and the --opt lr_factors that keeps them.
    import importlib

    mods = importlib.import_module(USER_MODULE)
    for kind in ("momentum_groups", "momentum_split"):
        lit = mods.LitOwnOptimizer(kind=kind)
        ckpt = {"state_dict": lit.state_dict(), "pytorch-lightning_version": "2.6.6",
                "hyper_parameters": dict(lit.hparams)}  # fmt: skip
        torch.save(ckpt, work / f"{kind}.ckpt")
    args = ("--model-class", f"{USER_MODULE}:LitOwnOptimizer", "--data", "train.npz", *FAST)
    before = mods.LitOwnOptimizer.configured
    result = invoke("run", "momentum_groups.ckpt", *args)
    assert result.exit_code == 0, result.output
    # Built once for both warnings (the default optimizer's and the groups'): it ran once per warning.
    assert mods.LitOwnOptimizer.configured - before == 1
    assert "the test uses --optimizer momentum (the default)" not in result.stderr  # momentum SGD, as the module's
    assert (
        "warning: LitOwnOptimizer.configure_optimizers builds 2 param groups at different LRs (0.1, 1 of the largest); "
        "the test runs every parameter at one LR, so the LR found is not the one its groups would get. To keep the "
        """ratios, pass --opt 'lr_factors={"net.body.0": 0.1}'."""
    ) in result.stderr
    before = mods.LitOwnOptimizer.configured
    kept = invoke("run", "momentum_groups.ckpt", *args, "--opt", 'lr_factors={"net.body.0": 0.1}', "--optimizer",
                  "momentum")  # fmt: skip
    assert kept.exit_code == 0, kept.output
    assert mods.LitOwnOptimizer.configured == before  # neither warning can be said: not built at all
    assert "param groups at different LRs" not in kept.stderr
    assert "lr_factors={'net.body.0': 0.1}" in kept.stdout
    split = invoke("fit", "momentum_split.ckpt", *args, "--epochs", "1", "--output", "trained.ckpt")
    assert split.exit_code == 0, split.output
    assert (
        "builds 2 param groups at different LRs (0.5, 1 of the largest); the test and training run every parameter at "
        "one LR, so the LR found is not the one its groups would get. To sweep the groups at their ratios, run "
        "lrfinder.find_lr(module, ...) or the LRFinder callback, which use the module's own optimizer."
    ) in split.stderr
    assert "param groups at different LRs" not in invoke("run", "momentum_groups.ckpt", *args, "--quiet").stderr


@pytest.mark.parametrize(
    ("kind", "named", "reason"),
    [("rprop", "Rprop", "but Rprop reads lr once"), ("lbfgs", "LBFGS", "but LBFGS.step(closure) needs one")],
)  # fmt: skip
def test_the_default_optimizer_warning_does_not_advise_an_optimizer_the_test_refuses(
    work: Path, kind: str, named: str, reason: str
):
    # A module that trains with Rprop or LBFGS was told "Pass --optimizer Rprop to test with the module's optimizer",
    # and lrfind then refused that --optimizer (exit 2): the range test cannot sweep either. The warning says so.
    import importlib

    mods = importlib.import_module(USER_MODULE)
    lit = mods.LitOwnOptimizer(kind=kind)
    ckpt = {"state_dict": lit.state_dict(), "pytorch-lightning_version": "2.6.6", "hyper_parameters": dict(lit.hparams)}
    torch.save(ckpt, work / "own.ckpt")
    args = ("own.ckpt", "--model-class", f"{USER_MODULE}:LitOwnOptimizer", "--data", "train.npz", *FAST)
    for command, extra in (("run", ()), ("fit", ("--epochs", "1", "--output", "trained.ckpt"))):
        result = invoke(command, *args, *extra)
        assert result.exit_code == 0, result.output
        warning = [line for line in result.stderr.splitlines() if "configure_optimizers builds" in line]
        assert len(warning) == 1, result.stderr
        assert warning[0].startswith(
            f"warning: the test uses --optimizer momentum (the default), not the {named} that "
            f"LitOwnOptimizer.configure_optimizers builds, which the range test cannot sweep. Expected an optimizer "
        ), warning
        assert reason in warning[0]
        assert "The LR found is momentum's, for training with --optimizer momentum; " in warning[0]
        assert f"Pass --optimizer {named}" not in result.stderr
    # What the old warning advised is indeed refused.
    refused = invoke("run", *args, "--optimizer", named)
    assert refused.exit_code == 2, refused.output
    assert reason in refused.stderr


def test_naming_the_modules_optimizer_leaves_the_module_as_it_was(work: Path):
    import importlib

    from lrfinder.cli.pipeline import module_optimizer_name

    mods = importlib.import_module(USER_MODULE)
    lit = mods.LitOwnOptimizer(kind="adam_dict")
    before = {k: v.clone() for k, v in lit.state_dict().items()}
    assert module_optimizer_name(lit) == "adam"
    assert module_optimizer_name(mods.LitOwnOptimizer(kind="nesterov_list")) == "nesterov"
    assert all(torch.equal(before[k], v) for k, v in lit.state_dict().items())
    assert module_optimizer_name(mods.Net()) is None  # no configure_optimizers
    assert module_optimizer_name(mods.LitNet()) is None  # its configure_optimizers raises


@pytest.mark.parametrize("command", ["run", "fit"])
def test_a_lightning_module_under_manual_optimization_is_refused_with_what_to_use(work: Path, command: str):
    # Its training_step calls self.optimizers(), which lrfind's step (no Trainer) cannot give: it failed with
    # "training_step fails on the first batch ...: GAN is not attached to a `Trainer`. Check that the data is what
    # training_step expects", about the data, which was right.
    import importlib

    mods = importlib.import_module(USER_MODULE)
    torch.save(mods.LitManual().state_dict(), work / "manual.pt")
    output = ["--output", "out.pt"] if command == "fit" else []
    result = invoke(
        command, "manual.pt", "--model-class", f"{USER_MODULE}:LitManual", "--data", "train.npz", *FAST, *output
    )
    assert result.exit_code == 1, result.output
    assert "LitManual uses manual optimization (automatic_optimization=False)" in result.output
    assert "lrfinder.find_lr(model, train_dataloaders=..., monitor=" in result.output
    assert "Check that the data" not in result.output


def test_run_writes_report_json_and_csv(work: Path):
    result = invoke(
        "run",
        "model_ts.pt",
        "--data",
        "train.npz",
        "--num-steps",
        "30",
        "--report",
        "r.png",
        "--json",
        "r.json",
        "--csv",
        "r.csv",
    )
    assert result.exit_code == 0, result.output
    assert Image.open(work / "r.png").size == (1200, 900)
    saved = RangeTestResult.from_json(work / "r.json")
    if saved.suggestion is not None:
        # How far the curve's own noise moves the pick, as lrfinder.analysis.pick_spread measures it.
        from lrfinder.analysis import pick_spread

        spread = pick_spread(saved.lrs, saved.losses, rule=saved.suggestion.rule)
        line = next(x for x in result.stdout.splitlines() if x.startswith("pick spread"))
        assert f"×/÷{10**spread:.2f} ({spread:.2f} decades) from the curve's own noise (40 bootstrap copies)" in line
    rows = list(csv.DictReader(open(work / "r.csv")))
    assert len(rows) == saved.num_steps
    assert list(rows[0]) == ["lr", "loss", "smoothed", "slope"]
    assert float(rows[0]["lr"]) == pytest.approx(saved.lrs[0])
    assert [f for f in os.listdir(work) if f.endswith(".tmp")] == []
    # Default report name.
    result = invoke("run", "model_ts.pt", "--data", "train.npz", "--num-steps", "20")
    assert result.exit_code == 0 and (work / "lrfind-report.png").is_file()


def test_run_with_a_scheduler_adds_the_schedule_panel(work: Path, monkeypatch: pytest.MonkeyPatch):
    import lrfinder.report

    seen = {}

    def capture(result, path, **kwargs):
        seen.update(kwargs, result=result)
        return lambda file: Path(file).write_bytes(b"")

    monkeypatch.setattr(lrfinder.report, "report_writer", capture)
    args = ["run", "model_ts.pt", "--data", "train.npz", "--num-steps", "40", "--max-lr", "100", "--json", "r.json"]
    sched = ["--scheduler", "cosine", "--scheduler-opt", "eta_min=0.0", "--warmup-steps", "3", "--epochs", "2"]
    result = invoke(*args, *sched)
    assert result.exit_code == 0, result.output
    saved = RangeTestResult.from_json(work / "r.json")
    if saved.suggestion is None:
        pytest.skip("curve inconclusive on this tiny problem")
    schedule = np.asarray(seen["schedule"])
    assert seen["schedule_name"] == "cosine"
    assert schedule.shape == (2 * 8,)  # 2 epochs of 256 samples at batch 32
    assert schedule[0] < schedule[3]  # warm-up
    assert schedule.max() == pytest.approx(saved.suggestion.lr)
    assert schedule[-1] < schedule.max() / 5  # annealed towards eta_min=0
    # The JSON keeps the schedule, so lrfind report draws the panel the run's report had; it drew none.
    drawn = {}

    def save(result, path, **kwargs):
        drawn.update(kwargs)
        Path(path).write_bytes(b"")

    monkeypatch.setattr(lrfinder.report, "save_report", save)
    text = (work / "r.json").read_text()
    doc = json.loads(text)
    assert doc["schedule"]["name"] == "cosine" and doc["schedule"]["lrs"] == [float(v) for v in schedule]
    # The schedule's LRs on one line (a million-step schedule made a million-line file); the rest one per line.
    assert '    "lrs": ' + json.dumps(doc["schedule"]["lrs"], separators=(",", ":")) + "\n" in text
    assert '  "num_steps": 40,\n' in text
    assert invoke("report", "r.json", "--report", "again.png").exit_code == 0
    assert drawn["schedule_name"] == "cosine" and drawn["schedule"] == doc["schedule"]["lrs"]
    # A file written before the schedule was saved reports as before, without the panel.
    del doc["schedule"]
    (work / "old.json").write_text(json.dumps(doc))
    assert invoke("report", "old.json", "--report", "old.png").exit_code == 0
    assert drawn["schedule"] is None and drawn["schedule_name"] is None
    # Several files overlaid: no one file's schedule stands for all.
    assert invoke("report", "r.json", "old.json", "--report", "both.png").exit_code == 0
    assert drawn["schedule"] is None
    # plateau's preview lowers the LR as if no epoch improved: the panel says so, not "plateau" alone.
    plateau = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--scheduler", "plateau", "--scheduler-opt",
                     "patience=0", "--epochs", "3", "--json", "p.json")  # fmt: skip
    assert plateau.exit_code == 0, plateau.output
    assert json.loads((work / "p.json").read_text())["schedule"]["name"] == "plateau, if val_loss never improves"
    # A malformed schedule is a bad result file (exit 2), named.
    doc["schedule"] = {"name": "cosine", "lrs": [0.1, -1.0]}
    (work / "bad.json").write_text(json.dumps(doc))
    bad = invoke("report", "bad.json", "--report", "bad.png")
    assert bad.exit_code == 2 and "'schedule' must be" in bad.output


def test_json_text_writes_the_schedule_on_one_line_and_reads_back_exactly():
    from lrfinder.cli.output import json_text

    lrs = [0.1 + 0.2, 1e-300, 5e-324, 0.0, 1.0 / 3.0] * 1000
    doc = {"schema_version": 1, "lrs": [1e-7, 1e-6], "schedule": {"name": "lrs", "lrs": lrs}, "label": '"lrs"'}
    text = json_text(doc)
    assert json.loads(text) == doc  # every LR exact, every field kept
    assert len(text.splitlines()) == 12  # not one line per LR
    assert text.splitlines()[-3] == '    "lrs": ' + json.dumps(lrs, separators=(",", ":"))
    assert json_text({"lrs": [1.0, 2.0]}) == json.dumps({"lrs": [1.0, 2.0]}, indent=2)  # no schedule: as before


def test_json_to_stdout_keeps_stdout_clean(work: Path):
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--json", "-")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert RangeTestResult.from_dict(doc).num_steps == 20
    assert "suggested lr" in result.stderr


def test_sweep_and_optimizer_options(work: Path):
    result = invoke(
        "run",
        "model_ts.pt",
        "--data",
        "train.npz",
        "--num-steps",
        "25",
        "--min-lr",
        "1e-5",
        "--max-lr",
        "5",
        "--mode",
        "linear",
        "--stop-factor",
        "none",
        "--rule",
        "steepest",
        "--optimizer",
        "adam",
        "--betas",
        "0.8,0.99",
        "--eps",
        "1e-6",
        "--opt",
        "amsgrad=false",
        "--batch-size",
        "16",
        "--loss",
        "cross_entropy",
        "--seed",
        "3",
        "--device",
        "cpu",
        "--json",
        "r.json",
        "--no-report",
    )
    assert result.exit_code == 0, result.output
    saved = RangeTestResult.from_json(work / "r.json")
    assert saved.settings.min_lr == 1e-5 and saved.settings.max_lr == 5 and saved.settings.mode == "linear"
    assert saved.settings.stop_factor is None and saved.stop_reason == "completed" and saved.num_steps == 25
    assert saved.batch_size == 16
    assert saved.optimizer_name.startswith("adam") and "betas=(0.8, 0.99)" in saved.optimizer_name
    if saved.suggestion is not None:
        assert saved.suggestion.rule == "steepest"


def test_precision_option(work: Path):
    runs = {}
    for precision in ("32", "bf16-mixed"):
        result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--precision", precision, "--json", "-")
        assert result.exit_code == 0, result.output
        runs[precision] = json.loads(result.stdout)
    assert runs["bf16-mixed"]["settings"]["precision"] == "bf16-mixed"
    # Under bfloat16 autocast the forward rounds differently: the same seed gives other losses.
    assert runs["bf16-mixed"]["losses"] != runs["32"]["losses"]
    (work / "lrfind.toml").write_text('[run]\nprecision = "bf16-mixed"\njson = "cfg.json"\n')
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--config", "lrfind.toml")
    assert result.exit_code == 0, result.output
    assert RangeTestResult.from_json(work / "cfg.json").settings.precision == "bf16-mixed"
    bad = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--precision", "fp8")
    assert bad.exit_code == 2 and "'fp8' is not one of '32', 'bf16-mixed', '16-mixed'" in bad.output


def test_momentum_setting_and_seed_reproducibility(work: Path):
    first = invoke(
        "run", "model_ts.pt", "--data", "train.npz", *FAST, "--momentum", "0.5", "--seed", "1", "--json", "-"
    )
    second = invoke(
        "run", "model_ts.pt", "--data", "train.npz", *FAST, "--momentum", "0.5", "--seed", "1", "--json", "-"
    )
    assert first.exit_code == 0 and second.exit_code == 0
    assert json.loads(first.stdout)["losses"] == json.loads(second.stdout)["losses"]
    assert "momentum=0.5" in json.loads(first.stdout)["optimizer_name"]


def test_target_batch_size_scales(work: Path):
    result = invoke(
        "run", "model_ts.pt", "--data", "train.npz", "--num-steps", "40", "--no-report",
        "--target-batch-size", "128", "--scaling", "linear", "--json", "r.json", "--max-lr", "100",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = RangeTestResult.from_json(work / "r.json")
    if saved.suggestion is None:
        pytest.skip("curve inconclusive on this tiny problem")
    assert saved.scaled is not None and saved.scaled.factor == 4.0 and saved.scaled.rule == "linear"
    assert "scaled lr" in result.stdout


def test_target_batch_size_of_the_tests_own_batch_says_no_scaling_was_needed(work: Path):
    # It read "scaled lr  9.55e-02  (noise x1, batch 32 -> 32)", as if a rule had been applied; the report already
    # left such a scaling out, and the JSON keeps it as it is (factor 1, batch 32 to 32).
    args = ["run", "model_ts.pt", "--data", "train.npz", "--num-steps", "40", "--max-lr", "100", "--batch-size", "32",
            "--target-batch-size", "32"]  # fmt: skip
    result = invoke(*args, "--json", "r.json", "--report", "r.png")
    assert result.exit_code == 0, result.output
    saved = RangeTestResult.from_json(work / "r.json")
    assert saved.scaled is not None and saved.suggestion is not None
    assert (saved.scaled.factor, saved.scaled.from_batch_size, saved.scaled.to_batch_size) == (1.0, 32, 32)
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("scaled lr"))
    assert line.split(None, 2)[2] == (
        f"{saved.scaled.lr:.2e}  (no scaling needed: --target-batch-size is the test's batch size, 32)"
    )
    assert "x1," not in result.stdout and "32 -> 32" not in result.stdout
    sweep = invoke(*args, "--no-report", "--weight-decay", "0,0.01")
    assert sweep.exit_code == 0, sweep.output
    needed = r"\(no scaling needed: --target-batch-size is the test's batch size, 32\)"
    assert re.search(r"^scaled lr \(.*\): \S+  " + needed + "$", sweep.stdout, re.M), sweep.stdout
    scaled = invoke(*args[:-1], "64", "--scaling", "linear", "--no-report")
    assert "(linear x2, batch 32 -> 64)" in scaled.stdout, scaled.stdout


def test_fit_builds_in_the_warm_up_the_scaling_advises(work: Path, monkeypatch: pytest.MonkeyPatch):
    """The summary advised 'warm up 2 epochs' for --target-batch-size: fit ramps from the unscaled LR to the scaled one.

    Goyal et al.'s ramp starts at the LR the test found, not at 0; onecycle, which climbs from a low
    start on its own, gets none (4 warm-up steps of 6 left it 2, and a short fit never left its start).
    """
    import lrfinder.training

    seen: list[dict[str, Any]] = []
    trained: list[Any] = []
    original = lrfinder.training.train

    def spy(*args: object, **kwargs: Any) -> object:
        seen.append(kwargs)
        trained.append(original(*args, **kwargs))  # type: ignore[arg-type]
        return trained[-1]

    monkeypatch.setattr(lrfinder.training, "train", spy)
    base = ["model_ts.pt", "--data", "train.npz", "--num-steps", "40", "--max-lr", "100", "--no-report",
            "--target-batch-size", "128", "--scaling", "linear", "--epochs", "3", "-o", "o.pt", "--json", "r.json"]
    result = invoke("fit", *base)
    saved = RangeTestResult.from_json(work / "r.json")
    if saved.suggestion is None:
        pytest.skip("curve inconclusive on this tiny problem")
    assert result.exit_code == 0, result.output
    scaled = saved.scaled
    assert scaled is not None and scaled.warmup_epochs == 2  # x4: two doublings
    start = scaled.base_lr / scaled.lr
    # 256 samples at batch 128: 2 steps an epoch, 6 in all; 2 epochs of warm-up are 4 of them.
    said = f"warm-up 4 steps from {scaled.base_lr:.2e} (the batch-size scaling's advice), constant"
    assert said in " ".join(result.stdout.split())
    assert (seen[-1]["scheduler"], seen[-1]["warmup_steps"]) == ("constant", 4)
    assert seen[-1]["scheduler_settings"] == {"warmup_start_factor": pytest.approx(start)}
    assert trained[-1].lrs[0] == pytest.approx(scaled.base_lr) and trained[-1].lrs[4] == pytest.approx(scaled.lr)
    cosine = invoke("fit", *base, "--scheduler", "cosine")
    assert cosine.exit_code == 0, cosine.output
    assert (seen[-1]["scheduler"], seen[-1]["warmup_steps"]) == ("cosine", 4)
    assert trained[-1].lrs[0] == pytest.approx(scaled.base_lr)
    # Any case, as --optimizer's names: printed and passed on as the registry name.
    own = invoke("fit", *base, "--scheduler", "Cosine", "--warmup-steps", "1")
    assert own.exit_code == 0, own.output
    assert (seen[-1]["scheduler"], seen[-1]["warmup_steps"]) == ("cosine", 1)
    assert not seen[-1]["scheduler_settings"]  # your warm-up starts where create_scheduler's does (0)
    assert "warm-up 1 step, cosine" in " ".join(own.stdout.split())
    onecycle = invoke("fit", *base, "--scheduler", "onecycle")
    assert onecycle.exit_code == 0, onecycle.output
    assert (seen[-1]["scheduler"], seen[-1]["warmup_steps"]) == ("onecycle", 0)
    assert "no warm-up before it (onecycle climbs from a low start itself)" in " ".join(onecycle.stdout.split())
    lrs = trained[-1].lrs
    assert saved.training_suggestion is not None
    assert lrs[0] < lrs[1] and max(lrs) > 0.9 * saved.training_suggestion.max_lr


def test_fit_reports_the_schedule_training_applied_not_a_plan(work: Path, monkeypatch: pytest.MonkeyPatch):
    """After fit the report's schedule panel shows the LRs training applied: it was titled "planned LR schedule"."""
    import lrfinder.report

    seen: dict[str, Any] = {}

    def capture(result: object, path: object, **kwargs: Any) -> Any:
        seen.update(kwargs)
        return lambda file: Path(file).write_bytes(b"")

    monkeypatch.setattr(lrfinder.report, "report_writer", capture)
    args = ["model_ts.pt", "--data", "train.npz", "--num-steps", "40", "--max-lr", "100", "--json", "r.json",
            "--scheduler", "cosine", "--epochs", "2"]  # fmt: skip
    result = invoke("fit", *args, "-o", "o.pt")
    if RangeTestResult.from_json(work / "r.json").suggestion is None:
        pytest.skip("curve inconclusive on this tiny problem")
    assert result.exit_code == 0, result.output
    assert (seen["schedule_name"], seen["schedule_kind"]) == ("cosine", "applied")
    assert json.loads((work / "r.json").read_text())["schedule"]["kind"] == "applied"
    drawn: dict[str, Any] = {}
    monkeypatch.setattr(lrfinder.report, "save_report", lambda r, path, **kw: drawn.update(kw))
    assert invoke("report", "r.json", "--report", "again.png").exit_code == 0
    assert drawn["schedule_kind"] == "applied"  # lrfind report titles it as fit's report did
    # run's schedule is still the plan.
    assert invoke("run", *args).exit_code == 0
    assert seen["schedule_kind"] == "planned"
    assert json.loads((work / "r.json").read_text())["schedule"]["kind"] == "planned"
    assert invoke("report", "r.json", "--report", "again.png").exit_code == 0
    assert drawn["schedule_kind"] == "planned"
    # A schedule saved before its kind was recorded reads as planned; a wrong kind is a malformed file.
    doc = json.loads((work / "r.json").read_text())
    del doc["schedule"]["kind"]
    (work / "old.json").write_text(json.dumps(doc))
    assert invoke("report", "old.json", "--report", "old.png").exit_code == 0
    assert drawn["schedule_kind"] == "planned"
    doc["schedule"]["kind"] = "guessed"
    (work / "bad.json").write_text(json.dumps(doc))
    bad = invoke("report", "bad.json", "--report", "bad.png")
    assert bad.exit_code == 2 and "'kind' ('planned' or 'applied'" in bad.output


def test_fit_accumulates_a_ready_made_loaders_batches_to_the_target_batch(work: Path, monkeypatch: pytest.MonkeyPatch):
    """A DataLoader of 64 from --data module:function: 2 batches a step for --target-batch-size 128, not 128 // 32."""
    import lrfinder.training

    seen: list[dict[str, object]] = []
    original = lrfinder.training.train

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lrfinder.training, "train", spy)
    result = invoke("fit", "model_ts.pt", "--data", f"{USER_MODULE}:train_loader64", *FAST,
                    "--target-batch-size", "128", "--scaling", "linear", "--epochs", "2", "-o", "o.pt")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "batch 64 -> 128" in result.stdout  # the LR is scaled from the loader's batch of 64 ...
    assert seen[-1]["accumulate_grad_batches"] == 2  # ... and training accumulates 2 of them (it took 4: batch 256)
    assert "2 epochs x 2 steps" in result.stdout  # 256 samples, 4 batches of 64, 2 optimizer steps an epoch
    odd = invoke("fit", "model_ts.pt", "--data", f"{USER_MODULE}:train_loader64", *FAST,
                 "--target-batch-size", "96", "-o", "o.pt")  # fmt: skip
    assert odd.exit_code == 2 and "not a multiple of the loader's batch size 64" in odd.output


def test_fit_plateau_on_a_lightning_module_without_validation_is_refused_before_the_test(work: Path):
    # Lightning said so after the range test and a first epoch, as a MisconfigurationException.
    result = invoke("fit", "lit.ckpt", "--model-class", f"{USER_MODULE}:LitNet", "--data", "train.npz", *FAST,
                    "--scheduler", "plateau", "-o", "out.ckpt")  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "--scheduler plateau" in result.output and "no validation data" in result.output
    assert "--val-data" in result.output and "--scheduler-opt monitor=" in result.output
    assert "suggested lr" not in result.output and not (work / "out.ckpt").exists()


def test_weight_decay_sweep(work: Path):
    result = invoke(
        "run", "model_ts.pt", "--data", "train.npz", "--num-steps", "30", "--optimizer", "adamw",
        "--weight-decay", "0,1e-4,1e-1", "--json", "sweep.json", "--report", "sweep.png", "--max-lr", "100",
        "--csv", "sweep.csv",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "recommended weight decay:" in result.stdout
    doc = json.loads((work / "sweep.json").read_text())
    assert doc["kind"] == "weight_decay_sweep" and doc["weight_decays"] == [0.0, 1e-4, 0.1]
    assert len(doc["results"]) == 3
    labels = [r["label"] for r in doc["results"]]
    assert labels == ["wd=0", "wd=1e-04", "wd=1e-01"]
    # The weight decay is each curve's label, not repeated in its optimizer name (the report's header lists those).
    assert {r["optimizer_name"] for r in doc["results"]} == {"adamw"}
    # The CSV is one plain table: one header, the weight decay in the first column of every row.
    rows = list(csv.DictReader(open(work / "sweep.csv")))
    assert list(rows[0]) == ["weight_decay", "lr", "loss", "smoothed", "slope"]
    assert sorted({float(r["weight_decay"]) for r in rows}) == [0.0, 1e-4, 0.1]
    assert len(rows) == sum(len(r["lrs"]) for r in doc["results"])
    # Every curve starts from the same state: the first loss is the same for every weight decay.
    firsts = {r["losses"][0] for r in doc["results"]}
    assert len(firsts) == 1
    assert Image.open(work / "sweep.png").size == (1200, 900)
    # And the saved sweep re-renders.
    again = invoke("report", "sweep.json", "--report", "again.png")
    assert again.exit_code == 0 and (work / "again.png").is_file()


def test_config_file(work: Path):
    (work / "lrfind.toml").write_text(
        'data = "train.npz"\nnum-steps = 15\nweight_decay = 0.001\noptimizer = "adamw"\nno-report = true\n'
        '[run]\njson = "cfg.json"\nmin_lr = 1e-5\n'
    )
    result = invoke("run", "model_ts.pt", "--config", "lrfind.toml")
    assert result.exit_code == 0, result.output
    saved = RangeTestResult.from_json(work / "cfg.json")
    assert saved.settings.num_steps == 15 and saved.settings.min_lr == 1e-5
    assert "adamw" in saved.optimizer_name and "weight_decay=1e-03" in saved.optimizer_name
    # The command line wins over the file.
    result = invoke("run", "model_ts.pt", "--config", "lrfind.toml", "--num-steps", "12")
    assert result.exit_code == 0
    assert RangeTestResult.from_json(work / "cfg.json").settings.num_steps == 12


@pytest.mark.parametrize(
    "content, message",
    [
        ("bogus = 1\n", "unknown key 'bogus'"),
        ("num-steps = [1, 2]\n", "expects an integer"),
        ("x = = 1\n", "not valid TOML"),
    ],
)
def test_config_errors_are_usage_errors(work: Path, content: str, message: str):
    (work / "bad.toml").write_text(content)
    result = invoke("run", "model_ts.pt", "--data", "train.npz", "--config", "bad.toml")
    assert result.exit_code == 2 and message in result.output


# --------------------------------------------------------------------------------------------
# errors: exit codes and one clear line
# --------------------------------------------------------------------------------------------

USAGE_ERRORS = {
    "missing model": (["nope.pt", "--data", "train.npz"], "does not exist"),
    "missing data": (["model_ts.pt", "--data", "nope.npz"], "does not exist"),
    "no data": (["model_ts.pt"], "Missing option '--data'"),
    "bad report ext": (["model_ts.pt", "--data", "train.npz", "--report", "r.jpg"], ".png, .svg, .pdf"),
    "report over input": (
        ["model_ts.pt", "--data", "train.csv", "--target", "label", "--csv", "train.csv"], "Refusing to write over"
    ),
    "unknown optimizer": (["model_ts.pt", "--data", "train.npz", "--optimizer", "sgdd"], "Unknown optimizer"),
    "unknown scheduler": (["model_ts.pt", "--data", "train.npz", "--scheduler", "cosin"], "unknown scheduler"),
    "scheduler alias": (["model_ts.pt", "--data", "train.npz", "--scheduler", "exp"], "Did you mean 'exponential'?"),
    "scheduler-opt total_steps": (
        ["model_ts.pt", "--data", "train.npz", "--scheduler", "cosine", "--scheduler-opt", "total_steps=100"],
        "lrfind sets total_steps itself; the schedule spans the training",
    ),
    "scheduler-opt warmup_steps": (
        ["model_ts.pt", "--data", "train.npz", "--scheduler", "cosine", "--scheduler-opt", "warmup_steps=5"],
        "use --warmup-steps",
    ),
    "optimizer typo": (["model_ts.pt", "--data", "train.npz", "--optimizer", "adam_w"], "Did you mean 'adamw'?"),
    "bad wd list": (["model_ts.pt", "--data", "train.npz", "--weight-decay", "0,x"], "'x' is not a number"),
    # An input that needs an option the command line lacks: the fix is the option (exit 1 before).
    "pickle refused": (["pickled.pt", "--data", "train.npz"], "or pass --unsafe-pickle if you trust this file"),
    "state_dict without class": (["weights.pt", "--data", "train.npz"], "pass --model-class"),
    "ckpt without class": (["lit.ckpt", "--data", "train.npz"], "Lightning checkpoint; pass --model-class"),
    "negative wd": (["model_ts.pt", "--data", "train.npz", "--weight-decay", "-1"], "expected values >= 0"),
    "lr order": (["model_ts.pt", "--data", "train.npz", "--min-lr", "1", "--max-lr", "0.1"], "--max-lr > --min-lr"),
    "bad loss": (["model_ts.pt", "--data", "train.npz", "--loss", "hinge"], "'hinge' is not one of"),
    # A choice close to a valid one (or a peer's spelling of it) is named, as the library's checks name it.
    "precision as Lightning spells it": (
        ["model_ts.pt", "--data", "train.npz", "--precision", "bf16"],
        "'bf16' is not one of '32', 'bf16-mixed', '16-mixed'. Did you mean 'bf16-mixed'?",
    ),
    "rule typo": (["model_ts.pt", "--data", "train.npz", "--rule", "steep"], "Did you mean 'steepest'?"),
    "loss as a class name": (
        ["model_ts.pt", "--data", "train.npz", "--loss", "CrossEntropy"],
        "Did you mean 'cross_entropy'?",
    ),
    "progress typo": (["model_ts.pt", "--data", "train.npz", "--progress", "line"], "Did you mean 'lines'?"),
    "bad stop factor": (["model_ts.pt", "--data", "train.npz", "--stop-factor", "0.5"], "factor > 1"),
    "cuda missing": (["model_ts.pt", "--data", "train.npz", "--device", "cuda:7"], "device"),
    "both stdout": (["model_ts.pt", "--data", "train.npz", "--json", "-", "--csv", "-"], "cannot both"),
    "csv without target": (["model_ts.pt", "--data", "train.csv"], "--target COLUMN"),
}


@pytest.mark.parametrize("case", list(USAGE_ERRORS))
def test_usage_errors_exit_2(work: Path, case: str):
    args, message = USAGE_ERRORS[case]
    if case == "cuda missing" and torch.cuda.is_available():
        pytest.skip("CUDA present")
    result = invoke("run", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_gpu_the_machine_lacks_exits_2_before_loading(work: Path, monkeypatch: pytest.MonkeyPatch):
    """``--device cuda:1`` on a one-GPU machine ended in a raw 'invalid device ordinal' traceback."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    for command in ("run", "fit"):
        result = invoke(command, "model_ts.pt", "--data", "train.npz", "--device", "cuda:1", *FAST[:2])
        assert result.exit_code == 2, result.output
        assert "'cuda:1': this machine has 1 CUDA device (cuda:0) (use cpu or auto)" in result.output
        assert "Traceback" not in result.output


RUN_ERRORS = {
    "nan in data": (["model_ts.pt", "--data", "nan.npz"], "1 NaN/inf value (first in row 7)"),
    "output vs loss": (["model_ts.pt", "--data", "train.npz", "--loss", "mse"], "does not fit the targets"),
    "output vs targets": (
        ["weights.pt", "--model-class", f"{USER_MODULE}:make_net", "--data", "train.npz", "--loss", "bce_with_logits"],
        "does not fit",
    ),
    "state_dict mismatch": (
        ["weights.pt", "--model-class", f"{USER_MODULE}:Net", "--model-args", '{"hidden": 4}', "--data", "train.npz"],
        "does not fit",
    ),
    "data fn wrong type": (["model_ts.pt", "--data", f"{USER_MODULE}:not_data"], "returned a int"),
    # range_test takes these in Python; lrfind said only "returned a list; expected a Dataset, ...".
    "data fn list of batches": (
        ["model_ts.pt", "--data", f"{USER_MODULE}:batch_list"],
        "returned a list of batches; lrfind needs data it can pass over again (--refine, fit's epochs) and batch with "
        "--batch-size. Return a Dataset (TensorDataset(x, y)), a DataLoader or an (x, y) pair of arrays; a list or "
        "generator of batches is for range_test(model, batches) in Python.",
    ),
    "data fn generator of batches": (["model_ts.pt", "--data", f"{USER_MODULE}:batch_generator"],
                                     "returned a generator of batches; lrfind needs data it can pass over again"),
    # [x, y] is no list of batches: it was told to return "an (x, y) pair of arrays", which it had, as a list.
    "data fn list of x and y": (["model_ts.pt", "--data", f"{USER_MODULE}:xy_list"],
                                "returned a list of 2 arrays (Tensor, Tensor): an (x, y) pair is read as a tuple, "
                                "return x, y"),
}


@pytest.mark.parametrize("case", list(RUN_ERRORS))
def test_run_errors_exit_1_with_one_line(work: Path, case: str):
    args, message = RUN_ERRORS[case]
    result = invoke("run", *args, *FAST)
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and result.stderr.strip() == errors[0]


# Option values the optimizer refuses are usage errors (exit 2), found before the model is loaded.
RUN_USAGE_ERRORS = {
    # Malformed, it was a failed run (exit 1) after the data was read; --model-args malformed was already exit 2.
    "model class with a dot": (
        ["weights.pt", "--model-class", f"{USER_MODULE}.Net", "--data", "train.npz"],
        f"did you mean {USER_MODULE}:Net?",
    ),
    "model class without module": (["weights.pt", "--model-class", "Net", "--data", "train.npz"], "got 'Net'"),
    "bad model args": (
        ["weights.pt", "--model-class", f"{USER_MODULE}:Net", "--model-args", "{hidden", "--data", "train.npz"],
        "not valid JSON",
    ),
    "sgd with momentum": (
        ["model_ts.pt", "--data", "train.npz", "--optimizer", "sgd", "--momentum", "0.9"],
        "fixes momentum",
    ),
    "unknown opt setting": (["model_ts.pt", "--data", "train.npz", "--opt", "weight_decy=0.1"], "weight_decy"),
    "python bool in opt": (
        ["model_ts.pt", "--data", "train.npz", "--opt", "maximize=False"],
        "write the JSON maximize=true or maximize=false",
    ),
    # An import string that does not import was a failed run (exit 1): the fix is the name or PYTHONPATH.
    "class does not import": (
        ["weights.pt", "--model-class", "no_such_pkg.mod:Net", "--data", "train.npz"],
        "--model-class no_such_pkg.mod:Net: no module named 'no_such_pkg' on the Python path",
    ),
    "class name missing": (
        ["weights.pt", "--model-class", f"{USER_MODULE}:Nope", "--data", "train.npz"],
        "has no attribute 'Nope'",
    ),
    # Each was a failed run (exit 1), after the model (or the data) had loaded: the fix is on the command line.
    "unknown data format": (["model_ts.pt", "--data", "notes.txt"], "Unknown data format '.txt'"),
    # An option the data needs, or names wrong: exit 1 too, after the model had loaded.
    "missing npz key": (["model_ts.pt", "--data", "named.npz"], "Pass --x-key"),
    "csv bad target": (["model_ts.pt", "--data", "train.csv", "--target", "nope"], "is not a column"),
    "model args an unknown key": (
        ["weights.pt", "--model-class", f"{USER_MODULE}:Net", "--model-args", '{"hiden": 16}', "--data", "train.npz"],
        # The close parameter named, as a LightningModule checkpoint's --model-args check names it.
        f'Cannot build {USER_MODULE}:Net with --model-args {{"hiden": 16}}: got an unexpected keyword argument '
        "'hiden' (did you mean 'hidden'?). Check --model-args.",
    ),
    "model args too many values": (
        ["weights.pt", "--model-class", f"{USER_MODULE}:make_net", "--model-args", "[16, 3]", "--data", "train.npz"],
        "too many positional arguments. Check --model-args.",
    ),
    "model class not callable": (
        ["weights.pt", "--model-class", f"{USER_MODULE}:NOT_CALLABLE", "--data", "train.npz"],
        f"--model-class '{USER_MODULE}:NOT_CALLABLE' is not a class or a function.",
    ),
    "checkpoint class not a LightningModule": (
        ["lit.ckpt", "--model-class", f"{USER_MODULE}:Net", "--data", "train.npz"],
        f"--model-class '{USER_MODULE}:Net' must be a LightningModule subclass to load the checkpoint lit.ckpt.",
    ),
}


@pytest.mark.parametrize("case", list(RUN_USAGE_ERRORS))
def test_run_usage_errors_exit_2_with_one_line(work: Path, case: str):
    args, message = RUN_USAGE_ERRORS[case]
    result = invoke("run", *args, *FAST)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0])


def test_an_optimizer_setting_refused_only_at_its_first_step_is_a_failed_run_naming_it(work: Path):
    """torch takes Adam(capturable=True) and refuses it at the first step() on the CPU: the run fails (exit 1, as
    README's exit codes say) with the setting named and what to check, not as a usage error caught before the test."""
    result = invoke("run", "model_ts.pt", "--data", "train.npz", "--optimizer", "adam", "--opt", "capturable=true",
                    *FAST)  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "Adam.step() failed on the range test's first step" in result.output and "capturable=True" in result.output
    assert "Traceback" not in result.output


BROKEN_MODULES = {
    "lrf_raises": "raise RuntimeError('no GPU driver here')\n",
    "lrf_needs": "import lrf_not_installed_anywhere\n",
    "lrf_syntax": "def broken(:\n",
}


@pytest.mark.parametrize(
    ("args", "what", "says"),
    [
        (["weights.pt", "--model-class", "lrf_raises:Net", "--data", "train.npz"],
         "--model-class lrf_raises:Net: importing module 'lrf_raises' failed",
         "RuntimeError: no GPU driver here (lrf_raises.py, line 1)"),
        (["lit.ckpt", "--model-class", "lrf_needs:LitNet", "--data", "train.npz"],
         "--model-class lrf_needs:LitNet: importing module",
         "No module named 'lrf_not_installed_anywhere' (lrf_needs.py, line 1)"),
        (["model_ts.pt", "--data", "lrf_syntax:train_set"], "--data lrf_syntax:train_set: importing module",
         "SyntaxError"),
        (["model_ts.pt", "--data", "lrf_missing_mod:train_set"], "--data lrf_missing_mod:train_set: no module "
         "named 'lrf_missing_mod'", "PYTHONPATH"),
        (["model_ts.pt", "--data", "train.npz", "--val-data", "lrf_raises:val"], "--val-data lrf_raises:val: "
         "importing module", "no GPU driver here"),
        (["model_ts.pt", "--data", f"{USER_MODULE}:train_sett"], f"has no attribute 'train_sett' (did you mean "
         f"{USER_MODULE}:train_set?)", "Check the name"),
    ],
)  # fmt: skip
def test_an_import_string_that_does_not_import_is_a_usage_error(work: Path, args: list[str], what: str, says: str):
    # A module missing or raising on import was a failed run (exit 1): the fix is the name, the module or
    # PYTHONPATH. Now exit 2 with what failed, the error's one line and where, and what to do.
    for name, code in BROKEN_MODULES.items():
        (work / f"{name}.py").write_text(code)
        sys.modules.pop(name, None)
    for command in ("run", "fit"):
        extra = ["-o", "out.pt"] if command == "fit" else []
        result = invoke(command, *args, *FAST, *extra)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and "suggested lr" not in result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and what in errors[0] and says in errors[0], errors
        assert "PYTHONPATH" in errors[0] or "Check the name" in errors[0]
    assert not (work / "out.pt").exists()


def test_a_state_dict_that_does_not_fit_says_why(work: Path):
    # torch's message listed every key and always ended "Check --model-args", also when the names differ
    # (another class, or a wrapper's prefix such as DataParallel's "module."), which no argument fixes.
    state = torch.load(work / "weights.pt")
    torch.save({f"module.{k}": v for k, v in state.items()}, work / "dp.pt")
    cases = {
        ("dp.pt", f"{USER_MODULE}:Net"): ["starts with 'module.'", "DataParallel", "wrapper.module.state_dict()"],
        # A Lightning checkpoint needs a LightningModule class: a usage error (exit 2), before any weights are read.
        ("lit.ckpt", f"{USER_MODULE}:Net"): ["must be a LightningModule subclass"],
        ("weights.pt", f"{USER_MODULE}:LitLR"): ["every name of the model starts with 'net.'", "inner model's class"],
        ("weights.pt", "torch.nn:Sequential"): ["other layers", "4 saved not in the model", "Check --model-class"],
    }
    for (model, cls), messages in cases.items():
        result = invoke("run", model, "--model-class", cls, "--data", "train.npz", *FAST)
        assert result.exit_code == (2 if model.endswith(".ckpt") else 1), result.output
        for message in messages:
            assert message in result.output, (model, cls, message, result.output)
        assert "Check --model-args" not in result.output
    result = invoke("run", "weights.pt", "--model-class", f"{USER_MODULE}:Net", "--model-args", '{"hidden": 4}',
                    "--data", "train.npz", *FAST)  # fmt: skip
    assert "saved (16, 10), the model (4, 10)" in result.output and "Check --model-args" in result.output


def test_a_checkpoint_that_does_not_fit_says_why(work: Path):
    # load_from_checkpoint's RuntimeError puts the keys on the lines after "Error(s) in loading state_dict for
    # LitNet:", and the CLI showed only that first line: no key, no shape, nothing to check.
    before = sha(work / "lit.ckpt")
    result = invoke("run", "lit.ckpt", "--model-class", f"{USER_MODULE}:LitNet", "--model-args", '{"hidden": 4}',
                    "--data", "train.npz", *FAST)  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "Error(s) in loading state_dict" not in result.output
    assert "The checkpoint lit.ckpt does not fit" in result.stderr
    assert "saved (16, 10), the model (4, 10)" in result.stderr and "Check --model-args" in result.stderr
    import importlib

    mods = importlib.import_module(USER_MODULE)
    torch.save({"state_dict": {k.replace("net.", "enc.", 1): v for k, v in mods.LitNet().state_dict().items()},
                "pytorch-lightning_version": "2.6.6", "hyper_parameters": {}}, work / "other.ckpt")  # fmt: skip
    result = invoke("run", "other.ckpt", "--model-class", f"{USER_MODULE}:LitNet", "--data", "train.npz", *FAST)
    assert result.exit_code == 1, result.output
    assert "other layers" in result.stderr and "'enc.body.0.weight'" in result.stderr
    assert "Check --model-class" in result.stderr
    assert "Found keys" not in result.stderr  # Lightning's strict=False warnings stay out of it
    assert sha(work / "lit.ckpt") == before


TWO_INPUTS = textwrap.dedent(
    """
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, Dataset


    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(10, 3), nn.Linear(2, 3)

        def forward(self, x, extra):
            return self.a(x) + self.b(extra)


    class Samples(Dataset):
        def __len__(self):
            return 64

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            return {"x": torch.randn(10, generator=g), "extra": torch.randn(2, generator=g), "y": i % 3}


    def loader():
        return DataLoader(Samples(), batch_size=16)
    """
)


def test_a_forward_that_takes_several_inputs_is_told_what_lrfind_passes(work: Path):
    # A dict batch goes in as model(batch["x"]): a forward(x, extra) failed with Python's "missing 1 required
    # positional argument: 'extra'" and "Check that the data matches the model", though the batch holds it.
    (work / "lrf_two.py").write_text(TWO_INPUTS)
    sys.modules.pop("lrf_two", None)
    import importlib

    torch.save(importlib.import_module("lrf_two").TwoInputs().state_dict(), work / "two.pt")
    result = invoke("run", "two.pt", "--model-class", "lrf_two:TwoInputs", "--data", "lrf_two:loader", *FAST)
    assert result.exit_code == 1, result.output
    assert "missing 1 required positional argument: 'extra'" in result.stderr
    assert "as model(batch['x']) (its other keys, 'extra', are not passed)" in result.stderr
    assert "use a LightningModule as --model-class whose training_step takes the batch" in result.stderr
    # A one-input model on those batches runs, told the key it leaves out in the command line's words: the warning
    # said to "pass step_fn=lambda model, batch: <loss tensor> to range_test", which no option does.
    # (A real process: pytest records the warnings CliRunner's command would print.)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), str(work)])}
    proc = subprocess.run([sys.executable, "-m", "lrfinder", "run", "model_ts.pt", "--data", "lrf_two:loader", *FAST],
                          capture_output=True, text=True, cwd=work, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "their other keys ('extra') are not used" in " ".join(proc.stderr.split()) and "'extra'" in proc.stderr
    assert "step_fn" not in proc.stderr and "range_test" not in proc.stderr
    assert "use a LightningModule as --model-class whose training_step reads them" in proc.stderr
    sys.modules.pop("lrf_two", None)


def test_a_misspelt_name_is_never_offered_a_module_the_file_imports(work: Path):
    # 'did you mean lrf_cli_usermods:torch?' for --data lrf_cli_usermods:torc (mypkg.data:np for mypkg.data:nope):
    # a module is neither a data function nor a model class.
    result = invoke("run", "model_ts.pt", "--data", f"{USER_MODULE}:torc", *FAST)
    assert result.exit_code == 2, result.output
    assert "has no attribute 'torc'" in result.stderr and "did you mean" not in result.stderr
    result = invoke("run", "weights.pt", "--model-class", f"{USER_MODULE}:Nett", "--data", "train.npz", *FAST)
    assert result.exit_code == 2 and f"did you mean {USER_MODULE}:Net?" in result.stderr, result.output


def test_model_args_a_checkpoints_class_does_not_take_or_needs_are_named(work: Path):
    # load_from_checkpoint drops a key __init__ does not take: a misspelt {"hiden": 4} ran at the saved sizes with no
    # word. A module that never called save_hyperparameters() failed with Python's "missing 1 required positional
    # argument: 'hidden'" alone, not saying that the checkpoint holds none and --model-args gives them.
    before = sha(work / "lit.ckpt")
    result = invoke("run", "lit.ckpt", "--model-class", f"{USER_MODULE}:LitNet", "--model-args", '{"hiden": 4}',
                    "--data", "train.npz", *FAST)  # fmt: skip
    assert result.exit_code == 2, result.output  # a usage error: the fix is on the command line (it was exit 1)
    assert "suggested lr" not in result.stdout
    assert "--model-args 'hiden' is not an argument of" in result.stderr and "did you mean 'hidden'?" in result.stderr
    (work / "lrf_req.py").write_text(
        "import pytorch_lightning as pl\nfrom lrf_cli_usermods import LitNet\n\n\n"
        "class LitReq(LitNet):\n    def __init__(self, hidden):\n        super().__init__(hidden=hidden)\n"
    )
    sys.modules.pop("lrf_req", None)
    import importlib

    lit = importlib.import_module(USER_MODULE).LitNet()
    torch.save({"state_dict": lit.state_dict(), "pytorch-lightning_version": "2.6.6"}, work / "req.ckpt")
    result = invoke("run", "req.ckpt", "--model-class", "lrf_req:LitReq", "--data", "train.npz", *FAST)
    assert result.exit_code == 1, result.output
    assert "missing 1 required positional argument: 'hidden'" in result.stderr
    assert "The checkpoint holds no hyper-parameters" in result.stderr
    assert "pass the missing arguments with --model-args" in result.stderr
    result = invoke("run", "req.ckpt", "--model-class", "lrf_req:LitReq", "--model-args", '{"hidden": 16}',
                    "--data", "train.npz", *FAST)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sha(work / "lit.ckpt") == before
    sys.modules.pop("lrf_req", None)


def test_a_lightning_checkpoint_without_weights_says_what_it_holds(work: Path):
    # It failed in load_from_checkpoint with "Cannot load checkpoint ... KeyError: 'state_dict'" and no advice.
    torch.save({"pytorch-lightning_version": "2.6.6", "epoch": 3, "optimizer_states": []}, work / "bare.ckpt")
    result = invoke("run", "bare.ckpt", "--model-class", f"{USER_MODULE}:LitNet", "--data", "train.npz", *FAST)
    assert result.exit_code == 1, result.output
    said = " ".join(result.stderr.split())
    assert "KeyError" not in said
    keys = "'epoch', 'optimizer_states', 'pytorch-lightning_version'"
    assert f"bare.ckpt holds no 'state_dict' (its keys: {keys})" in said
    assert "Pass a checkpoint written by trainer.save_checkpoint or ModelCheckpoint" in said


def test_debug_shows_the_exception(work: Path):
    mismatch = ["weights.pt", "--model-class", f"{USER_MODULE}:Net", "--model-args", '{"hidden": 4}']
    result = invoke("run", *mismatch, "--data", "train.npz", "--debug", *FAST)
    assert isinstance(result.exception, ModelError)
    result = invoke("--debug", "run", *mismatch, "--data", "train.npz", *FAST)
    assert isinstance(result.exception, ModelError)


def test_strict_makes_an_inconclusive_run_fail(work: Path):
    # A sweep far below any useful LR: the loss never falls.
    args = ["run", "model_ts.pt", "--data", "train.npz", "--min-lr", "1e-9", "--max-lr", "1e-8", *FAST]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert "inconclusive" in result.stdout
    result = invoke(*args, "--strict")
    assert result.exit_code == 1 and "inconclusive (--strict)" in result.output


def test_an_inconclusive_run_says_there_is_no_lr_to_scale_to_the_target_batch(work: Path):
    # --target-batch-size on an inconclusive curve left the summary without a word on the scaling the user asked
    # for: no "scaled lr" line at all, as if the option had not been typed (a batch-4 BatchNorm CNN, taskzoo24).
    args = ["run", "model_ts.pt", "--data", "train.npz", "--min-lr", "1e-9", "--max-lr", "1e-8", *FAST]
    result = invoke(*args, "--batch-size", "8", "--target-batch-size", "64", "--json", "out.json")
    assert result.exit_code == 0, result.output
    assert "none: the curve is inconclusive" in result.stdout
    rows = [line.split(None, 2) for line in result.stdout.splitlines() if line.startswith("scaled lr ")]
    assert rows == [["scaled", "lr", "none: no suggested lr to scale from batch 8 to 64"]], result.stdout
    assert json.loads((work / "out.json").read_text())["scaled"] is None
    # Without --target-batch-size nothing is said of scaling.
    assert "scaled lr" not in invoke(*args).stdout


@pytest.mark.parametrize(
    "model, extra",
    [("model_ts.pt", ()), ("weights.pt", ("--model-class", f"{USER_MODULE}:Net")),
     ("lit.ckpt", ("--model-class", f"{USER_MODULE}:LitNet", "--min-lr", "1e-3"))],
)  # fmt: skip
def test_fit_twice_saves_the_same_bytes(work: Path, model: str, extra: tuple[str, ...]):
    # torch named the archive's records after the temporary file it was saved to (.a.pt.cgi9cdlr/data/0).
    suffix = Path(model).suffix
    for name in ("a", "b"):
        result = invoke("fit", model, *extra, "--data", "train.npz", *FAST, "-o", f"sub/{name}{suffix}")
        assert result.exit_code == 0, result.output
    assert (work / "sub" / f"a{suffix}").read_bytes() == (work / "sub" / f"b{suffix}").read_bytes()


def test_ctrl_c_stops_cleanly(work: Path, monkeypatch: pytest.MonkeyPatch):
    import lrfinder.cli.loading

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lrfinder.cli.loading, "load_data", interrupted)
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--json", "r.json")
    assert result.exit_code == 130 and "Interrupted" in result.output
    assert not (work / "r.json").exists()


@pytest.mark.parametrize("command", ["run", "fit"])
def test_ctrl_c_while_the_options_are_checked_is_an_interrupt(
    work: Path, monkeypatch: pytest.MonkeyPatch, command: str
):
    # Before the command's body (the checks of the outputs, torch's import): click's "Aborted!", exit 1.
    import lrfinder.cli.pipeline

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lrfinder.cli.pipeline, "check_options", interrupted)
    output = ["-o", "out.pt"] if command == "fit" else []
    result = invoke(command, "model_ts.pt", "--data", "train.npz", *FAST, "--json", "r.json", *output)
    assert result.exit_code == 130, result.output
    assert "Interrupted; nothing was written." in result.stderr and "Aborted" not in result.output
    assert not (work / "r.json").exists() and not (work / "out.pt").exists()


def test_an_interrupted_range_test_is_an_interrupted_command(work: Path, monkeypatch: pytest.MonkeyPatch):
    from lrfinder.cli import output

    def tick(self, index, lr, loss):
        if index == 3:
            raise KeyboardInterrupt  # the engine turns it into stop_reason="interrupted"

    monkeypatch.setattr(output.Progress, "tick", tick)
    (work / "r.json").write_text("earlier")
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--json", "r.json", "--csv", "r.csv")
    assert result.exit_code == 130, result.output
    assert "Interrupted; nothing was written." in result.stderr and "suggested lr" not in result.stdout
    assert (work / "r.json").read_text() == "earlier" and not (work / "r.csv").exists()


@pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="a signal to the process itself")
@pytest.mark.parametrize("then", ["goes on", "fails"])
def test_a_ctrl_c_that_the_code_it_lands_in_swallows_still_stops_the_command(
    work: Path, monkeypatch: pytest.MonkeyPatch, then: str
):
    # torch's C code catches a KeyboardInterrupt raised while `import torch` imports numpy, warns and goes on
    # without numpy: a Ctrl-C in that second went unheeded, the whole test ran and its outputs were written
    # (exit 0), or a half-imported numpy failed later ("module 'numpy' has no attribute 'logical_and'", exit 1).
    import lrfinder.cli.loading

    load_data = lrfinder.cli.loading.load_data

    def swallowing(*args, **kwargs):
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            pass  # as torch's import does
        if then == "fails":
            raise AttributeError("module 'numpy' has no attribute 'logical_and'")
        return load_data(*args, **kwargs)

    monkeypatch.setattr(lrfinder.cli.loading, "load_data", swallowing)
    (work / "r.json").write_text("earlier")
    # Python's own SIGINT handler, as in a user's terminal: a suite run under nohup or as a background job starts with
    # SIGINT ignored, which lrfind keeps ignored (as it should), and the signal raised above then never arrived.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--json", "r.json", "--csv", "r.csv")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert result.exit_code == 130, result.output
    assert result.stderr.strip().splitlines()[-1] == "Interrupted; nothing was written."
    assert "suggested lr" not in result.stdout
    assert (work / "r.json").read_text() == "earlier" and not (work / "r.csv").exists()


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch):
    assert Progress(5, "x", quiet=False)._bar is None  # pytest's stderr is not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = Progress(5, "x", quiet=False)
    assert bar._bar is not None
    bar.close()
    assert Progress(5, "x", quiet=True)._bar is None


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal, for click's progress bar."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("term", ["dumb", "xterm-256color"])
def test_the_progress_bar_leaves_out_cursor_codes_on_a_dumb_terminal_only(monkeypatch: pytest.MonkeyPatch, term: str):
    # Emacs's M-x shell (TERM=dumb) showed "[?25l" at every step of the bar: click hides the cursor with it. In a
    # process on a real pseudo-terminal: test_cli_shell's test_the_progress_bar_on_a_dumb_terminal_has_no_cursor_codes.
    monkeypatch.setenv("TERM", term)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    bar = Progress(12, "range test", quiet=False)
    for _ in range(12):
        bar.update()
    bar.close()
    shown = sys.stderr.getvalue()
    assert "12/12" in shown
    if term == "dumb":
        assert "\x1b" not in shown
        assert "\rrange test  [" in shown  # the bar, redrawn with a carriage return
    else:  # another terminal keeps click's bar as it was, cursor codes and all
        assert "\x1b[?25l" in shown and "\x1b[?25h" in shown


def test_fit_progress_lines_count_batches(work: Path):
    result = invoke("fit", "model_ts.pt", "--data", "train.npz", *FAST, "-o", "out.pt", "--progress", "lines")
    assert result.exit_code == 0, result.output
    batches = [line for line in result.stderr.splitlines() if line.startswith("epoch 1/1: batch")]
    assert batches[0] == "epoch 1/1: batch 1/8" and batches[-1] == "epoch 1/1: batch 8/8"


def test_options_given_but_unused_are_named_on_stderr(work: Path):
    result = invoke(
        "run", "model_ts.pt", "--data", "train.npz", *FAST, "--report", "x.png", "--target", "label",
        "--warmup-steps", "5", "--scheduler-opt", "eta_min=0", "--val-data", "train.npz",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: --report is ignored: --no-report turns the report off.",
        "warning: --target is ignored: it names the label column of CSV data, and the data is not a .csv file.",
        "warning: --scheduler-opt is ignored: it shapes --scheduler, which is not given.",
        "warning: --warmup-steps is ignored: it shapes --scheduler, which is not given.",
        "warning: --val-data is ignored: run uses it only to judge the trials of --refine and for --curve val (add "
        "one of them).",
    ]
    assert "suggested lr" in result.stdout and not (work / "x.png").exists()
    # Used, they say nothing; --quiet silences them.
    used = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--scheduler", "cosine", "--warmup-steps", "5")
    assert used.exit_code == 0 and "warning:" not in used.stderr
    quiet = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--target", "label", "--quiet")
    assert quiet.exit_code == 0 and quiet.stderr == ""


def test_a_batch_size_larger_than_the_training_set_is_named(work: Path):
    # --batch-size 512 over 256 samples: the test ran on batches of 256, the whole set, without a word (the summary's
    # "batch size 256" and a critical batch that could not be measured were the only traces).
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--batch-size", "512")
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [
        "warning: --batch-size 512 is larger than the training set (256 samples): every batch is the whole set, so "
        "the test runs at batch size 256, the one the LR is found for, without sampling noise. Choose a --batch-size "
        "below 256 (a small fraction of it for a realistic curve)."
    ]
    assert "batch size 256" in result.stdout
    whole = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--batch-size", "256")
    assert whole.exit_code == 0 and "warning:" not in whole.stderr, whole.output


def test_a_training_set_of_one_sample_is_named_without_advice_no_batch_size_can_follow(work: Path):
    # A one-row .npz (or CSV) was warned "--batch-size 32 is larger than the training set (1 samples) ... Choose a
    # --batch-size below 1", and at --batch-size 1 not warned at all: a test over one example is a test of how fast
    # the model memorises it, whatever the batch size.
    x, y = np.load(work / "train.npz")["x"], np.load(work / "train.npz")["y"]
    np.savez(work / "one.npz", x=x[:1], y=y[:1])
    said = (
        "warning: --data one.npz holds a single sample: every step of the test trains on that one example, so the "
        "curve shows how fast the model memorises it, not an LR to train at. Check that --data is the training set "
        "you meant."
    )
    for batch in ("32", "1"):
        result = invoke("run", "model_ts.pt", "--data", "one.npz", *FAST, "--batch-size", batch)
        assert result.exit_code == 0, result.output
        assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [said]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-m", "lrfinder", "run", "model_ts.pt", "--data", "one.npz", *FAST],
                          capture_output=True, text=True, cwd=work, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert said in " ".join(proc.stderr.split()) and "below 1" not in proc.stderr


def test_fit_with_warmup_and_scheduler_settings_but_no_scheduler_trains_after_its_note(work: Path):
    # lrfinder.train refuses them without a scheduler; lrfind fit notes them as ignored and trains on.
    result = invoke("fit", "model_ts.pt", "--data", "train.npz", *FAST, "-o", "out.pt", "--warmup-steps", "2",
                    "--scheduler-opt", "eta_min=0")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: --warmup-steps is ignored: it shapes --scheduler, which is not given." in result.stderr
    assert (work / "out.pt").exists()


def test_x_key_and_y_key_of_a_dict_a_data_function_returns_are_not_said_to_be_ignored(work: Path):
    # sklearn's load_digits() returns a Bunch, a dict with 'data' and 'target': lrfind asks for --x-key NAME, reads
    # the arrays it names, and then said "--x-key is ignored: it names an array of .npz/.pt data, and the data is
    # neither" (the text after the last dot of 'lrf_pkg.data:bunch' was taken for a file's suffix).
    pkg = work / "lrf_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "data.py").write_text(
        textwrap.dedent(
            """
            import numpy as np

            def bunch():
                arrays = np.load("train.npz")
                return {"data": arrays["x"], "target": arrays["y"], "DESCR": "like sklearn's"}

            def pair():
                arrays = np.load("train.npz")
                return arrays["x"], arrays["y"]
            """
        )
    )
    try:
        unnamed = invoke("run", "model_ts.pt", "--data", "lrf_pkg.data:bunch", *FAST)
        assert unnamed.exit_code == 2, unnamed.output  # a usage error (it was exit 1)
        # The names to pass, scikit-learn's: it said "Pass --x-key NAME", and then "Pass --y-key NAME".
        assert "it holds ['DESCR', 'data', 'target']. Pass --x-key data --y-key target (scikit-learn's names" in (
            " ".join(unnamed.output.split())
        )
        half = invoke("run", "model_ts.pt", "--data", "lrf_pkg.data:bunch", "--x-key", "data", *FAST)
        assert half.exit_code == 2 and "Pass --y-key target (scikit-learn's names" in half.output, half.output
        named = invoke("run", "model_ts.pt", "--data", "lrf_pkg.data:bunch", "--x-key", "data", "--y-key", "target",
                       *FAST)  # fmt: skip
        assert named.exit_code == 0, named.output
        assert "warning:" not in named.stderr
        npz = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST)
        lr_line = [line for line in npz.stdout.splitlines() if line.startswith("suggested lr")]
        assert lr_line and lr_line == [line for line in named.stdout.splitlines() if line.startswith("suggested lr")]
        # An (x, y) pair has no names: there the keys are ignored, and said to be once the function has run.
        pair = invoke("run", "model_ts.pt", "--data", "lrf_pkg.data:pair", "--x-key", "data", *FAST)
        assert pair.exit_code == 0, pair.output
        assert [line for line in pair.stderr.splitlines() if line.startswith("warning:")] == [
            "warning: --x-key is ignored: it names an array of .npz/.pt data or of a dict a data function returns, "
            "and the data is neither."
        ]
        proc = subprocess.run(
            [sys.executable, "-m", "lrfinder", "run", "model_ts.pt", "--data", "lrf_pkg.data:bunch", "--x-key", "data",
             "--y-key", "target", *FAST],
            capture_output=True, text=True, cwd=work, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "warning:" not in proc.stderr and lr_line[0] in proc.stdout
    finally:
        for name in ("lrf_pkg.data", "lrf_pkg"):
            sys.modules.pop(name, None)


def test_a_data_functions_dataset_that_fails_on_an_example_is_named_with_the_example(work: Path):
    # It was Python's bare "Error: KeyError: 53 (run with --debug for the traceback)": no Dataset, no --data, no
    # example.
    pkg = work / "lrf_records_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "data.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch.utils.data import Dataset

            class Records(Dataset):
                def __init__(self, readable, size):
                    gen = torch.Generator().manual_seed(0)
                    self.records = {i: (torch.randn(10, generator=gen), i % 3) for i in range(readable)}
                    self.size = size

                def __len__(self):
                    return self.size

                def __getitem__(self, i):
                    return self.records[i]  # KeyError past the records it could read

            def train_gaps():
                return Records(40, 64)

            def train():
                return Records(64, 64)

            def val_gaps():
                return Records(0, 32)
            """
        )
    )
    try:
        result = invoke("run", "model_ts.pt", "--data", "lrf_records_pkg.data:train_gaps", *FAST)
        assert result.exit_code == 1, result.output
        match = re.search(
            r"^Error: The Dataset Records from --data lrf_records_pkg\.data:train_gaps failed on example (\d+): "
            r"KeyError: (\d+)\. Its __len__ says 64, and example 63, the last by that count, fails too: check "
            r"__len__, which must count only the examples __getitem__ can give, as the sampler asks for every index "
            r"below it \(run with --debug for the traceback\)\.$",
            result.stderr.strip(),
        )
        assert match is not None and match[1] == match[2] and int(match[1]) >= 40, result.stderr
        val = invoke("run", "model_ts.pt", "--data", "lrf_records_pkg.data:train", "--val-data",
                     "lrf_records_pkg.data:val_gaps", *FAST)  # fmt: skip
        assert val.exit_code == 1, val.output
        assert "Error: The Dataset Records from --val-data lrf_records_pkg.data:val_gaps failed on example 0: " \
            "KeyError: 0." in val.stderr, val.stderr
    finally:
        for name in ("lrf_records_pkg.data", "lrf_records_pkg"):
            sys.modules.pop(name, None)


def test_a_data_functions_dataset_failing_in_a_dataloader_worker_is_named_as_without_workers(work: Path):
    # With num_workers=2 it was "Error: KeyError: Caught KeyError in DataLoader worker process 1. Original Traceback
    # (most recent call last): File ..." (the worker's whole traceback on one line), where without workers the
    # message named the Dataset, --data and the example. The engine's message names train_data; lrfind, --data.
    (work / "lrf_worker_records.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch.utils.data import DataLoader, Dataset

            class Records(Dataset):
                x = torch.randn(2000, 10, generator=torch.Generator().manual_seed(0))

                def __init__(self, bad):
                    self.bad = bad

                def __len__(self):
                    return 2000

                def __getitem__(self, i):
                    if i == self.bad:
                        raise KeyError(i)  # a record it cannot read
                    return self.x[i], self.x[i, :3].argmax()

            def loader(workers=2):
                return DataLoader(Records(20), batch_size=8, num_workers=workers)

            def in_process():
                return loader(0)

            def in_training():
                return DataLoader(Records(1500), batch_size=32)  # the range test's 20 steps draw examples 0 to 639
            """
        )
    )
    result = invoke("run", "model_ts.pt", "--data", "lrf_worker_records:loader", *FAST)
    assert result.exit_code == 1, result.output
    assert re.fullmatch(
        r"Error: The Dataset Records from --data lrf_worker_records:loader failed on an example in DataLoader worker "
        r"process \d, which does not say which example: KeyError: 20\. Fix its __getitem__ for that example, or leave "
        r"the example out; with num_workers=0 the error names the example \(run with --debug for the traceback\)\.",
        result.stderr.strip(),
    ), result.stderr
    here = invoke("run", "model_ts.pt", "--data", "lrf_worker_records:in_process", *FAST)
    assert here.stderr.strip() == (
        "Error: The Dataset Records from --data lrf_worker_records:in_process failed on example 20: KeyError: 20. "
        "Fix its __getitem__ for that example, or leave the example out (run with --debug for the traceback)."
    ), here.stderr
    fit = invoke("fit", "model_ts.pt", "--data", "lrf_worker_records:in_training", *FAST, "--epochs", "1", "-o",
                 "trained.pt")  # fmt: skip
    assert fit.stderr.strip() == (
        "Error: The Dataset Records from --data lrf_worker_records:in_training failed on example 1500: KeyError: 1500. "
        "Fix its __getitem__ for that example, or leave the example out (run with --debug for the traceback)."
    ), fit.stderr


def test_fits_training_names_the_data_by_its_option(work: Path):
    # lrfinder.train prefixes an error of its training data "train_data: " (as "val_data: ", which lrfind says as
    # "--val-data: "): lrfind fit printed "Error: train_data: The DataLoader's default collate_fn ...", a name no
    # option has.
    (work / "lrf_late_none.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch.utils.data import DataLoader, Dataset

            class Records(Dataset):
                x = torch.randn(2000, 10, generator=torch.Generator().manual_seed(0))

                def __len__(self):
                    return 2000

                def __getitem__(self, i):
                    if i == 1500:
                        return None  # a record it cannot read, past what the range test draws
                    return self.x[i], self.x[i, :3].argmax()

            def loader():
                return DataLoader(Records(), batch_size=32)
            """
        )
    )
    result = invoke("fit", "model_ts.pt", "--data", "lrf_late_none:loader", *FAST, "--epochs", "1", "-o", "trained.pt")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(
        "Error: --data: The DataLoader's default collate_fn could not put the examples of a batch into one batch "
        "(TypeError: object of type 'NoneType' has no len()): an example is None"
    ), result.stderr
    assert "train_data" not in result.stderr and not (work / "trained.pt").exists()


def test_scaling_without_a_target_batch_and_run_epochs_without_a_schedule_are_named(work: Path):
    # Both had no effect, silently: --scaling scales to --target-batch-size; run's --epochs sizes a planned schedule.
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--scaling", "linear", "--epochs", "3")
    assert [line for line in result.stderr.splitlines() if line.startswith("warning:")] == [
        "warning: --scaling is ignored: it scales the LR to --target-batch-size, which is not given.",
        "warning: --epochs is ignored: run uses it only to plan --scheduler's schedule and size --refine's trials.",
    ]
    fit = invoke("fit", "model_ts.pt", "--data", "train.npz", *FAST, "--scaling", "sqrt", "-o", "out.pt")
    assert "warning: --scaling is ignored" in fit.stderr
    used = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--scaling", "linear", "--target-batch-size",
                  "64", "--epochs", "3", "--scheduler", "cosine")  # fmt: skip
    assert used.exit_code == 0 and "warning:" not in used.stderr, used.output


def test_a_labelled_optimizer_is_scaled_by_its_own_family(work: Path):
    # The result's label "adamw, weight_decay=1e-02" read as two optimizers, one unknown: the report's scaling
    # panel warned "lrfinder does not know the optimizer 'weight_decay=1e-02'" and drew AdamW as SGD.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invoke(
            "run", "model_ts.pt", "--data", "train.npz", "--num-steps", "40", "--optimizer", "adamw",
            "--weight-decay", "0.01", "--target-batch-size", "64", "--max-lr", "100",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    said = result.output + "".join(str(w.message) for w in caught)
    assert "scaled lr" in result.output and "does not know the optimizer" not in said


def test_a_repeated_weight_decay_runs_once_and_is_named(work: Path):
    # --weight-decay 0,0.1,1e-1 ran 0.1 twice, or (with the sweep deduplicated alone) failed with
    # "one weight decay per result"; each value now runs once, with a warning line.
    result = invoke(
        "run", "model_ts.pt", "--data", "train.npz", "--num-steps", "30", "--optimizer", "adamw",
        "--weight-decay", "0,0.1,1e-1", "--json", "sweep.json", "--max-lr", "100", "--no-report",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: --weight-decay repeats 0.1: each value runs once." in result.stderr.splitlines()
    doc = json.loads((work / "sweep.json").read_text())
    assert doc["weight_decays"] == [0.0, 0.1]
    assert [r["label"] for r in doc["results"]] == ["wd=0", "wd=1e-01"]


def test_model_options_a_self_contained_model_ignores_are_named(work: Path):
    # A TorchScript file or a pickled module holds the whole model: --model-class/--model-args did
    # nothing, silently (known only once MODEL is read).
    for model, extra in (("model_ts.pt", []), ("pickled.pt", ["--unsafe-pickle"])):
        result = invoke("run", model, *extra, "--model-class", f"{USER_MODULE}:Net", "--model-args", '{"hidden": 3}',
                        "--data", "train.npz", *FAST)  # fmt: skip
        assert result.exit_code == 0, result.output
        kind = "a TorchScript file" if model == "model_ts.pt" else "a pickled module"
        assert [line for line in result.stderr.splitlines() if line.startswith("warning: --model")] == [
            f"warning: --model-class is ignored: MODEL is {kind}, which holds the whole model.",
            f"warning: --model-args is ignored: MODEL is {kind}, which holds the whole model.",
        ]
    used = invoke("run", "weights.pt", "--model-class", f"{USER_MODULE}:Net", "--data", "train.npz", *FAST)
    assert used.exit_code == 0 and "warning:" not in used.stderr
    # --unsafe-pickle allows nothing for a file that is not a pickle: it was kept silently "just in case".
    for model, extra, kind in (
        ("model_ts.pt", [], "a TorchScript file"),
        ("weights.pt", ["--model-class", f"{USER_MODULE}:Net"], "a state_dict"),
        ("lit.ckpt", ["--model-class", f"{USER_MODULE}:LitNet"], "a Lightning checkpoint"),
    ):
        result = invoke("run", model, *extra, "--unsafe-pickle", "--data", "train.npz", *FAST)
        assert result.exit_code == 0, result.output
        assert f"warning: --unsafe-pickle is ignored: MODEL is {kind}, read without unpickling code." in result.stderr
    pickled = invoke("run", "pickled.pt", "--unsafe-pickle", "--data", "train.npz", *FAST)
    assert pickled.exit_code == 0 and "--unsafe-pickle is ignored" not in pickled.stderr


def test_fit_says_val_data_is_unused_by_a_module_without_validation_step(work: Path):
    # fit trains a LightningModule through its own steps: without a validation_step, --val-data did nothing, silently.
    mods = __import__(USER_MODULE)
    lit = mods.LitLR()
    torch.save({"state_dict": lit.state_dict(), "pytorch-lightning_version": "2.6.6",
                "hyper_parameters": dict(lit.hparams)}, work / "litlr.ckpt")  # fmt: skip
    warning = "warning: --val-data is ignored: MODEL is a LightningModule without a validation_step"
    result = invoke("fit", "litlr.ckpt", "--model-class", f"{USER_MODULE}:LitLR", "--data", "train.npz",
                    "--val-data", "train.npz", *FAST, "-o", "out.ckpt")  # fmt: skip
    assert warning in result.stderr, result.output
    assert "val_data is ignored" not in result.stderr  # said once, in the command line's words
    for model, cls in (("lit.ckpt", "LitNet"), ("weights.pt", "Net")):  # a validation_step; a plain model's val_loss
        result = invoke("fit", model, "--model-class", f"{USER_MODULE}:{cls}", "--data", "train.npz",
                        "--val-data", "train.npz", *FAST, "-o", f"out_{cls}.pt")  # fmt: skip
        assert "--val-data is ignored" not in result.stderr, result.output


def test_a_positional_model_args_list_for_a_checkpoint_is_refused(work: Path):
    # load_from_checkpoint takes keyword arguments only: a JSON list was dropped silently.
    result = invoke("run", "lit.ckpt", "--model-class", f"{USER_MODULE}:LitNet", "--model-args", "[8]",
                    "--data", "train.npz", *FAST)  # fmt: skip
    assert result.exit_code == 2 and "Traceback" not in result.output  # a usage error (it was exit 1)
    assert "--model-args for the Lightning checkpoint lit.ckpt must be a JSON object" in result.output


def test_fit_summary_says_what_training_uses(work: Path):
    result = invoke("fit", "model_ts.pt", "--data", "train.npz", *FAST, "-o", "out.pt")
    assert result.exit_code == 0, result.output
    lr = float(re.search(r"suggested lr\s+(\S+)", result.stdout).group(1))  # type: ignore[union-attr]
    assert re.search(rf"^training\s+1 epoch x 8 steps, lr {lr:.2e}, constant$", result.stdout, re.M)
    cosine = invoke("fit", "model_ts.pt", "--data", "train.npz", *FAST, "-o", "out.pt", "--epochs", "2",
                    "--scheduler", "cosine")  # fmt: skip
    assert cosine.exit_code == 0, cosine.output
    plan = re.search(r"^training\s+2 epochs x 8 steps, lr (\S+), cosine: peak (\S+), ends (\S+)$", cosine.stdout, re.M)
    assert plan is not None, cosine.stdout
    # The plan's numbers are the LRs the epochs then print (cosine from the LR down to 0).
    epoch_lrs = [float(v) for v in re.findall(r"^epoch .* lr (\S+)$", cosine.stdout, re.M)]
    assert float(plan.group(2)) == pytest.approx(float(plan.group(1)), rel=1e-2) and len(epoch_lrs) == 2
    assert float(plan.group(3)) < float(plan.group(2))


def test_fit_summary_of_a_one_cycle_says_where_it_starts(work: Path):
    # It said "lr 3.76e-02, onecycle: peak 7.56e-02, ends ...": one-cycle starts far below the suggestion and climbs
    # to the peak, so it never trains at the LR the line named, and its start was not said.
    result = invoke("fit", "model_ts.pt", "--data", "train.npz", *FAST, "-o", "out.pt", "--epochs", "2",
                    "--scheduler", "onecycle", "--json", "r.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())  # the summary wraps the line
    plan = re.search(r"training 2 epochs x 8 steps, lr (\S+), onecycle: starts (\S+), peak (\S+), ends (\S+) ", text)
    assert plan is not None, result.stdout
    lr, start, peak, end = (float(v) for v in plan.groups())
    trained = json.loads((work / "r.json").read_text())["schedule"]["lrs"]  # the LRs training applied, step by step
    assert start == pytest.approx(trained[0], rel=1e-2) and peak == pytest.approx(max(trained), rel=1e-2)
    assert end == pytest.approx(trained[-1], rel=1e-2) and start < lr


def test_fit_after_a_weight_decay_sweep_states_its_training_plan(work: Path):
    result = invoke("fit", "model_ts.pt", "--data", "train.npz", *FAST, "-o", "out.pt", "--epochs", "2",
                    "--weight-decay", "0,1e-3", "--scheduler", "cosine")  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = re.search(r"^training\s+2 epochs x 8 steps, lr (\S+), cosine: peak (\S+), ends", result.stdout, re.M)
    assert plan is not None, result.stdout
    epoch_lrs = [float(v) for v in re.findall(r"^epoch .* lr (\S+)$", result.stdout, re.M)]
    assert len(epoch_lrs) == 2 and epoch_lrs[0] <= float(plan.group(2))


def test_fit_summary_of_a_plateau_schedule_states_its_rule_not_a_worst_case_end(work: Path):
    # It said "plateau: peak 1.0e-01, ends 2.5e-02": the preview's end, had no epoch improved, stated as the plan.
    result = invoke("fit", "model_ts.pt", "--data", "train.npz", "--val-data", "train.npz", *FAST, "-o", "out.pt",
                    "--epochs", "4", "--scheduler", "plateau", "--scheduler-opt", "patience=1")  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    lr = float(re.search(r"suggested lr (\S+)", text).group(1))  # type: ignore[union-attr]
    # At worst (no epoch improves) halved once, after the third epoch: the lowest LR 4 epochs can reach.
    floor = re.search(r"plateau: x0.5 after 1 epoch without improvement of val_loss, never below (\S+)", text)
    assert floor is not None and float(floor.group(1)) == pytest.approx(lr / 2, rel=1e-2)
    assert "ends" not in text.split("plateau:")[1].split("epoch 1/4")[0]


def test_long_summary_values_wrap_under_their_column(capsys: pytest.CaptureFixture[str]):
    long = "a larger batch buys little speed per sample " * 5
    echo_summary([("scaled lr", "4.08e-02"), ("warning", long)], err=False)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) > 2 and all(len(line) <= 100 for line in lines)
    assert lines[1].startswith("warning    a larger")
    assert all(line[:11] == " " * 11 and line[11] != " " for line in lines[2:])


def test_an_unmeasured_critical_batch_is_one_row_of_two_lines_at_most(work: Path):
    # Batches of the whole set carry no sampling noise: the row gave the whole reason, 8 lines of the summary. It
    # gives the gist as the report's header does; --json's noise_error keeps the whole reason.
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--batch-size", "256", "--json", "r.json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("critical batch"))
    row = [lines[at], *(line for line in itertools.takewhile(lambda line: line.startswith(" "), lines[at + 1 :]))]
    assert len(row) <= 2, row
    said = " ".join(" ".join(row).split())
    assert said == (
        "critical batch not measured (the data gives 1 batch per pass, too few to compare; --json's noise_error says "
        "why)"
    ), said
    whole = json.loads((work / "r.json").read_text())["noise_error"]
    assert whole.startswith("Cannot measure the gradient noise scale: the data gives 1 batch per pass")
    assert "Use a smaller batch size" in whole


def test_quiet_run_prints_only_results(work: Path):
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--quiet")
    assert result.exit_code == 0 and result.stderr == ""


def test_a_lightning_training_step_that_fails_on_the_data_is_named(work: Path):
    # The module's own training_step runs on the first batch before the test: its failure names it
    # and the batch (it was torch's bare "mat1 and mat2 shapes cannot be multiplied").
    x = np.zeros((64, 5), dtype=np.float32)
    np.savez(work / "five.npz", x=x, y=np.zeros(64, dtype=np.int64))
    result = invoke("run", "lit.ckpt", "--model-class", f"{USER_MODULE}:LitNet", "--data", "five.npz", *FAST)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "LitNet.training_step fails on the first batch (a list of 2 tensors of shapes (32, 5), (32,))" in (
        result.output
    )
    assert "Check that the data is what training_step expects" in result.output


# --------------------------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------------------------


def test_report_rerenders_and_overlays(work: Path):
    for name, seed in (("a", "0"), ("b", "1")):
        result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--seed", seed, "--json", f"{name}.json")
        assert result.exit_code == 0
    result = invoke("report", "a.json", "--report", "one.svg", "--title", "My title")
    assert result.exit_code == 0 and "My title" in (work / "one.svg").read_text()
    result = invoke("report", "a.json", "b.json", "--report", "two.png")
    assert result.exit_code == 0 and Image.open(work / "two.png").size == (1200, 900)


def test_report_of_a_sweep_draws_the_recommended_curve_the_widest(work: Path, monkeypatch: pytest.MonkeyPatch):
    # lrfind report sweep.json drew the recommended weight decay as the thinnest curve when it came last.
    from matplotlib.figure import Figure

    result = invoke("run", "model_ts.pt", "--data", "train.npz", "--num-steps", "40", "--optimizer", "adamw",
                    "--weight-decay", "0,1e-2,1e-1", "--json", "sweep.json", "--no-report")  # fmt: skip
    assert result.exit_code == 0, result.output
    recommended = json.loads((work / "sweep.json").read_text())["recommended_index"]
    assert recommended is not None
    figures: list[Figure] = []
    savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: (figures.append(self), savefig(self, *a, **k))[1])
    assert invoke("report", "sweep.json", "--report", "sweep.png").exit_code == 0
    ax = next(a for a in figures[0].axes if a.get_ylabel() == "training loss")
    curves = [line for line in ax.get_lines() if line.get_label().startswith("wd=")]
    assert "(recommended)" in curves[recommended].get_label()
    widths = [c.get_linewidth() for c in curves]
    assert widths[recommended] == max(widths) and widths.count(max(widths)) == 1, widths


def test_report_overlay_labels_tell_the_files_apart(work: Path):
    from lrfinder.cli.report import load_results

    for name, optimizer in (("sgd", "momentum"), ("adam", "adam")):
        result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--optimizer", optimizer,
                        "--weight-decay", "0,1e-2", "--json", f"{name}.json")  # fmt: skip
        assert result.exit_code == 0, result.output
    invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--json", "single.json")
    # Two sweeps overlaid were both labelled wd=0 and wd=1e-02; a single result beside a sweep was "curve 3".
    loaded, highlight, _ = load_results(("sgd.json", "adam.json", "single.json"))
    assert [r.label for r in loaded] == ["sgd, wd=0", "sgd, wd=1e-02", "adam, wd=0", "adam, wd=1e-02", "single"]
    assert highlight is None
    loaded, highlight, _ = load_results(("sgd.json",))  # one sweep: its own labels and its recommendation
    assert [r.label for r in loaded] == ["wd=0", "wd=1e-02"] and highlight is not None


def test_report_overlay_labels_tell_files_of_one_name_apart(work: Path):
    from lrfinder.cli.report import load_results

    # Runs saved as run1/result.json and run2/result.json were all labelled "result" in the overlay.
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--json", "result.json")
    assert result.exit_code == 0, result.output
    for folder in ("run1", "run2", "a/x", "b/x"):
        (work / folder).mkdir(parents=True)
        shutil.copy(work / "result.json", work / folder / "result.json")
    loaded, _, _ = load_results(("run1/result.json", "run2/result.json", "a/x/result.json", "b/x/result.json"))
    assert [r.label for r in loaded] == ["run1/result", "run2/result", "a/x/result", "b/x/result"]
    loaded, _, _ = load_results(("result.json", "run1/result.json", "../" + work.name + "/run2/result.json"))
    assert [r.label for r in loaded] == [f"{work.name}/result", "run1/result", "run2/result"]
    loaded, _, _ = load_results(("result.json", "./result.json"))  # one file twice: its stem, as before
    assert [r.label for r in loaded] == ["result", "result"]
    assert invoke("report", "run1/result.json", "run2/result.json", "--report", "both.svg").exit_code == 0
    svg = (work / "both.svg").read_text()
    assert "run1/result" in svg and "run2/result" in svg


def test_a_torchscript_file_of_a_function_is_named_as_one(work: Path):
    # torch.jit.script of a def, saved, loads as a module torch names PlaceholderModule: lrfind said "The model
    # (PlaceholderModule) has no parameters at all", a class the user never wrote, after loading the data.
    def double(x: torch.Tensor) -> torch.Tensor:
        return x * 2

    torch.jit.save(torch.jit.script(double), str(work / "func.pt"))
    said = (
        "Error: func.pt holds a scripted function (torch.jit.script of a def), not a module: it has no weights to "
        "train. Save the network itself: torch.jit.save(torch.jit.script(model), path), with model your "
        "torch.nn.Module."
    )
    result = invoke("run", "func.pt", "--data", "train.npz", *FAST)
    assert result.exit_code == 2 and result.stderr.strip().endswith(said), result.output  # not a model: usage error
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-m", "lrfinder", "fit", "func.pt", "--data", "train.npz", *FAST, "-o",
                           "out.pt"], capture_output=True, text=True, cwd=work, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 2 and proc.stderr.strip().endswith(said), proc.stderr
    assert not (work / "out.pt").exists()


def test_a_torchscript_module_of_a_class_named_placeholdermodule_is_tested(work: Path):
    # A scripted function loads as a module torch names PlaceholderModule (8684b8c refuses it by that name); a
    # network of the user's own class PlaceholderModule, with weights, was refused as "a scripted function" too.
    class PlaceholderModule(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = torch.nn.Linear(10, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x)

    torch.jit.save(torch.jit.script(PlaceholderModule()), str(work / "placeholder.pt"))
    result = invoke("run", "placeholder.pt", "--data", "train.npz", *FAST, "--json", "r.json")
    assert result.exit_code == 0, result.output
    assert RangeTestResult.from_json(work / "r.json").num_parameters == 33


def _write_blown_result(work: Path) -> None:
    """Write blown.json: a range test's result whose last loss is 1e9, far above the rest (near 1)."""
    assert invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--json", "a.json").exit_code == 0
    doc = json.loads((work / "a.json").read_text())
    doc["losses"][-1] = 1e9
    (work / "blown.json").write_text(json.dumps(doc))


def test_report_of_a_result_whose_last_loss_blew_far_up_is_drawn(work: Path):
    # A result whose last recorded loss is far above the rest (1e9 over losses near 1: a blow-up's last step) made
    # `lrfind report` fail with "Error: Maximum allowed size exceeded" (the label placer sampled the curve's last
    # segment, a billion pixels long, every two pixels; 10 GB of memory at 1e6), and `run` the same after its test.
    _write_blown_result(work)
    result = invoke("report", "blown.json", "--report", "blown.png")
    assert result.exit_code == 0, result.output
    assert Image.open(work / "blown.png").size == (1200, 900)


@pytest.mark.slow  # a real process; in process: test_report_of_a_result_whose_last_loss_blew_far_up_is_drawn
def test_report_of_a_result_whose_last_loss_blew_far_up_is_drawn_by_a_real_process(work: Path):
    _write_blown_result(work)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-m", "lrfinder", "report", "blown.json", "--report", "blown.png"],
                          capture_output=True, text=True, cwd=work, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert Image.open(work / "blown.png").size == (1200, 900)


def test_report_errors(work: Path):
    (work / "junk.json").write_text("{not json")
    (work / "list.json").write_text("[1, 2]")
    # A file that is not a result is a usage error on the input (exit 2), like a bad option value.
    assert invoke("report", "junk.json").exit_code == 2
    assert invoke("report", "list.json").exit_code == 2
    assert invoke("report", "missing.json").exit_code == 2
    assert invoke("report").exit_code == 2


# --------------------------------------------------------------------------------------------
# fit and demo
# --------------------------------------------------------------------------------------------


def test_fit_state_dict_trains_and_saves_in_the_input_format(work: Path):
    import importlib

    before = sha(work / "weights.pt")
    result = invoke(
        "fit", "weights.pt", "--model-class", f"{USER_MODULE}:Net", "--data", "train.npz", "--val-data", "train.npz",
        "--epochs", "2", "--optimizer", "adamw", "--scheduler", "onecycle", "--num-steps", "30", "--max-lr", "100",
        "--output", "trained.pt", "--report", "fit.png", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert len(lines) == 2 and "train_loss" in lines[0] and "val_loss" in lines[0]
    assert sha(work / "weights.pt") == before
    net = importlib.import_module(USER_MODULE).Net()
    net.load_state_dict(torch.load(work / "trained.pt", weights_only=True))
    old = torch.load(work / "weights.pt", weights_only=True)
    assert not torch.equal(net.state_dict()["body.0.weight"], old["body.0.weight"])
    # The report has the schedule panel.
    assert Image.open(work / "fit.png").size == (1200, 900)


def test_fit_precision_runs_the_test_and_the_training_under_autocast(work: Path):
    trained = {}
    for precision in ("32", "bf16-mixed"):
        result = invoke(
            "fit", "model_ts.pt", "--data", "train.npz", *FAST, "--precision", precision,
            "--output", f"{precision}.pt", "--json", f"{precision}.json", "--no-report", "--quiet",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert RangeTestResult.from_json(work / f"{precision}.json").settings.precision == precision
        trained[precision] = torch.jit.load(work / f"{precision}.pt").state_dict()
    # bfloat16 rounding: another curve and other trained weights, still float32 weights.
    assert all(v.dtype == torch.float32 for v in trained["bf16-mixed"].values())
    assert any(not torch.equal(trained["32"][k], trained["bf16-mixed"][k]) for k in trained["32"])


def test_gradient_clipping_options_reach_the_test_and_the_training(work: Path, monkeypatch: pytest.MonkeyPatch):
    """--gradient-clip-val/--gradient-clip-algorithm: recorded in the JSON, said in the summary, passed to training."""
    import lrfinder.training

    plain = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--json", "-")
    clipped = invoke(
        "run", "model_ts.pt", "--data", "train.npz", *FAST, "--gradient-clip-val", "1e-3",
        "--gradient-clip-algorithm", "value", "--json", "-",
    )  # fmt: skip
    assert plain.exit_code == 0 and clipped.exit_code == 0, clipped.output
    settings = json.loads(clipped.stdout)["settings"]
    assert (settings["gradient_clip_val"], settings["gradient_clip_algorithm"]) == (1e-3, "value")
    # Each gradient element at most 1e-3: the same seed sweeps another curve.
    assert json.loads(clipped.stdout)["losses"] != json.loads(plain.stdout)["losses"]
    summary = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--gradient-clip-val", "0.5")
    assert "batch size 32, gradients clipped to norm 0.5" in summary.stdout
    bf16 = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--precision", "bf16-mixed")
    assert "batch size 32, precision bf16-mixed\n" in bf16.stdout, bf16.output
    seen: dict[str, object] = {}
    original = lrfinder.training.train

    def spy(*args: object, **kwargs: object) -> object:
        seen.update(kwargs)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lrfinder.training, "train", spy)
    fit = invoke(
        "fit", "model_ts.pt", "--data", "train.npz", *FAST, "--epochs", "1", "--gradient-clip-val", "0.5",
        "--output", "clipped.pt", "--quiet",
    )  # fmt: skip
    assert fit.exit_code == 0, fit.output
    assert (seen["gradient_clip_val"], seen["gradient_clip_algorithm"]) == (0.5, "norm")


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_gradient_clip_val_must_be_positive_and_finite(work: Path, value: str):
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, f"--gradient-clip-val={value}")
    assert result.exit_code == 2 and "--gradient-clip-val" in result.output and "finite number > 0" in result.output


def test_a_weight_decay_sweep_under_curve_val_labels_its_minimum_as_the_validation_loss(work: Path):
    """The sweep table's "min loss" column held the validation loss under --curve val with no word of it; the
    single-curve summary says "curve  validation loss"."""
    x = np.load(work / "train.npz")["x"][:64]
    np.savez(work / "val.npz", x=x, y=x[:, :3].argmax(1))
    val = invoke("run", "model_ts.pt", "--data", "train.npz", "--val-data", "val.npz", "--curve", "val", *FAST,
                 "--weight-decay", "0,1e-4", "--no-report")  # fmt: skip
    train = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--weight-decay", "0,1e-4", "--no-report")
    assert val.exit_code == 0 and train.exit_code == 0, val.output + train.output
    header = next(line for line in val.stdout.splitlines() if line.startswith("weight decay"))
    assert header.split() == ["weight", "decay", "suggested", "lr", "min", "val", "loss", "at", "lr", "stable", "to",
                              "confidence"]  # fmt: skip
    assert "min val loss" not in train.stdout and "min loss" in train.stdout


def test_curve_val_records_the_validation_loss_at_every_step(work: Path):
    """--curve val is range_test(curve='val'): the summary, the JSON and the report say so; run's --val-data was
    'ignored' without --refine, and the CLI had no way to record torch-lr-finder's val_loader curve."""
    x = np.load(work / "train.npz")["x"][:64]
    np.savez(work / "val.npz", x=x, y=x[:, :3].argmax(1))
    train = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--json", "train.json")
    val = invoke("run", "model_ts.pt", "--data", "train.npz", "--val-data", "val.npz", "--curve", "val", *FAST,
                 "--json", "val.json")  # fmt: skip
    assert train.exit_code == 0 and val.exit_code == 0, val.output
    assert "curve             validation loss (the mean over --val-data after every step)" in val.stdout
    assert "validation loss" not in train.stdout and "--val-data is ignored" not in val.stderr
    recorded, plain = json.loads((work / "val.json").read_text()), json.loads((work / "train.json").read_text())
    assert recorded["settings"]["curve"] == "val" and plain["settings"]["curve"] == "train"
    assert recorded["lrs"][:5] == plain["lrs"][:5] and recorded["losses"][:5] != plain["losses"][:5]
    # The config file's key; fit takes it too.
    (work / "c.toml").write_text('[run]\ncurve = "val"\nval-data = "val.npz"\n')
    assert invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--config", "c.toml").stdout.count(
        "validation loss"
    ) == 1
    fit = invoke("fit", "model_ts.pt", "--data", "train.npz", "--val-data", "val.npz", "--curve", "val", *FAST,
                 "--epochs", "1", "--output", "f.pt")  # fmt: skip
    assert fit.exit_code == 0 and "validation loss (the mean over --val-data" in fit.stdout, fit.output
    # As range_test refuses curve='val' without val_data: a usage error naming --val-data.
    for command in ("run", "fit"):
        extra = ("--output", "g.pt") if command == "fit" else ()
        alone = invoke(command, "model_ts.pt", "--data", "train.npz", "--curve", "val", *FAST, *extra)
        assert alone.exit_code == 2 and "--curve val records the loss over --val-data" in alone.output
        assert "give --val-data" in alone.output
    bad = invoke("run", "model_ts.pt", "--data", "train.npz", "--curve", "valid", *FAST)
    assert bad.exit_code == 2 and "Did you mean 'val'?" in bad.output
    # lrfind report draws the saved curve as what it recorded (range_test's own report test draws it from Python).
    fig = plot_range_test(RangeTestResult.from_json(work / "val.json"))
    assert "validation loss" in [ax.get_ylabel() for ax in fig.axes]


@pytest.mark.parametrize("value", ["l2", "L2", "2"])
def test_gradient_clip_algorithm_l2_is_told_norm(work: Path, value: str):
    """--gradient-clip-algorithm l2 was told only "'l2' is not one of 'norm', 'value'"."""
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--gradient-clip-val", "1",
                    "--gradient-clip-algorithm", value)  # fmt: skip
    assert result.exit_code == 2
    assert f"'{value}' is not one of 'norm', 'value'. Did you mean 'norm'?" in result.output


def test_gradient_clip_algorithm_without_a_value_is_said_to_be_ignored(work: Path):
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--gradient-clip-algorithm", "value")
    assert result.exit_code == 0
    assert "--gradient-clip-algorithm is ignored" in result.stderr
    assert "gradient_clip_algorithm='value' is ignored" not in result.stderr  # the engine's own words: not again
    # Said once: fit's training (which warns of it from Python too) is not handed the algorithm without a value.
    fit = invoke("fit", "model_ts.pt", "--data", "train.npz", *FAST, "--epochs", "1", "--output", "f.pt",
                 "--gradient-clip-algorithm", "value")  # fmt: skip
    assert fit.exit_code == 0, fit.output
    assert fit.stderr.count("--gradient-clip-algorithm is ignored") == 1
    assert "gradient_clip_algorithm='value' is ignored" not in fit.stderr


def test_fit_refuses_to_overwrite_its_input(work: Path):
    result = invoke("fit", "model_ts.pt", "--data", "train.npz", "--output", "model_ts.pt")
    assert result.exit_code == 2 and "Refusing to write over" in result.output


def test_fit_on_an_inconclusive_curve_does_not_train(work: Path):
    result = invoke(
        "fit", "model_ts.pt", "--data", "train.npz", "--min-lr", "1e-9", "--max-lr", "1e-8", *FAST, "-o", "out.pt"
    )
    assert result.exit_code == 1 and "no LR to train with" in result.output
    assert not (work / "out.pt").exists()


def test_fit_never_writes_a_diverged_model(work: Path):
    (work / "trained.pt").write_bytes(b"the model of an earlier run")
    # A schedule that multiplies the LR by 1000 every step: training blows up in epoch 1.
    result = invoke(
        "fit", "model_ts.pt", "--data", "train.npz", "--num-steps", "30", "--max-lr", "100", "--epochs", "3",
        "--scheduler", "step", "--scheduler-opt", "step_size=1", "--scheduler-opt", "gamma=1000",
        "--output", "trained.pt", "--json", "fit.json",
    )  # fmt: skip
    if "no LR to train with" in result.output:
        pytest.skip("curve inconclusive on this tiny problem")
    assert result.exit_code == 1, result.output
    assert "Training diverged in epoch 1/3" in result.output and "LR too high" in result.output
    assert "trained.pt was not written" in result.output
    assert (work / "trained.pt").read_bytes() == b"the model of an earlier run"
    assert not (work / "fit.json").exists() and not (work / "lrfind-report.png").exists()
    assert "Traceback" not in result.output


def test_scheduler_settings_fail_before_the_range_test(work: Path):
    # The curve is inconclusive here, which used to hide the missing step_size.
    args = ["model_ts.pt", "--data", "train.npz", "--min-lr", "1e-9", "--max-lr", "1e-8", *FAST]
    for command in (["run", *args], ["fit", *args, "-o", "out.pt"]):
        result = invoke(*command, "--scheduler", "step")
        assert result.exit_code == 2, result.output
        assert "step_size" in result.output and "--scheduler-opt" in result.output
        assert "suggested lr" not in result.output  # no range test ran
    assert not (work / "out.pt").exists()


def test_fit_target_batch_size_larger_than_the_dataset(work: Path):
    result = invoke("fit", "model_ts.pt", "--data", "train.npz", *FAST, "--target-batch-size", "1000", "-o", "o.pt")
    assert result.exit_code == 2, result.output
    assert "--target-batch-size 1000" in result.output and "(256 samples)" in result.output
    assert "suggested lr" not in result.output and not (work / "o.pt").exists()
    # For run, a larger target is a plan for another machine: allowed.
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--target-batch-size", "1000")
    assert result.exit_code == 0, result.output


def test_progress_lines_mode(work: Path):
    result = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--progress", "lines")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("range test: step")]
    assert lines[0].startswith("range test: step  1/20  lr 1.00e-07  loss ") and len(lines) >= 10
    # The counter is padded to the total's width: every line's lr starts in the same column.
    assert len({line.index(" lr ") for line in lines}) == 1


@pytest.mark.parametrize("mode", ["lines", "bar"])
def test_quiet_with_a_progress_mode_says_the_progress_is_off(work: Path, mode: str):
    # --quiet won silently: a script that asked for --progress lines got no line and no word why.
    quiet = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--progress", mode, "--quiet")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr.splitlines() == [
        f"warning: --progress {mode} is ignored: --quiet turns all progress off (drop --quiet to see it)."
    ]
    # Without a mode chosen (the default auto, or none) --quiet stays silent.
    for extra in ([], ["--progress", "none"]):
        silent = invoke("run", "model_ts.pt", "--data", "train.npz", *FAST, "--quiet", *extra)
        assert silent.exit_code == 0 and silent.stderr == "", silent.output


@pytest.mark.parametrize("source", ["checkpoint", "pickle"])
def test_fit_records_the_trained_lr_in_a_lightning_modules_hparams(work: Path, source: str):
    # The output's hparams.lr is the LR it was trained at, so load_from_checkpoint (and the module's own
    # configure_optimizers) carry it on; it said the input's 1e-3. The input file is left as it was.
    import importlib

    mods = importlib.import_module(USER_MODULE)
    torch.manual_seed(0)
    lit = mods.LitLR(lr=1e-3)
    if source == "checkpoint":
        model, output = "lit_lr.ckpt", "out.ckpt"
        checkpoint = {"state_dict": lit.state_dict(), "pytorch-lightning_version": "2.6.6"}
        torch.save({**checkpoint, "hyper_parameters": dict(lit.hparams)}, work / model)
        args = [model, "--model-class", f"{USER_MODULE}:LitLR"]
    else:  # a pickled LightningModule trains through its training_step too (it has no forward)
        model, output = "lit_lr.pt", "out.pt"
        torch.save(lit, work / model)
        args = [model, "--unsafe-pickle"]
    before = sha(work / model)
    result = invoke("fit", *args, "--data", "train.npz", "--epochs", "1", "--num-steps", "30", "--max-lr", "100",
                    "--no-report", "--json", "r.json", "-o", output)  # fmt: skip
    assert result.exit_code == 0, result.output
    lr = RangeTestResult.from_json(work / "r.json").lr
    assert lr is not None and not math.isclose(lr, 1e-3)
    if source == "checkpoint":
        saved = torch.load(work / output, weights_only=True)["hyper_parameters"]
        assert saved == {"lr": pytest.approx(lr), "hidden": 16}
        reloaded = mods.LitLR.load_from_checkpoint(work / output, weights_only=True)
    else:
        reloaded = torch.load(work / output, weights_only=False)
        assert dict(reloaded.hparams) == {"lr": pytest.approx(lr), "hidden": 16}
    assert reloaded.lr == pytest.approx(lr)
    assert sha(work / model) == before


def test_fit_records_the_chosen_weight_decay_in_a_lightning_modules_hparams(work: Path):
    # A weight-decay sweep trains with the value it recommends: the output's hparams.weight_decay says
    # that value (it kept the input's 0.5), next to the trained LR.
    import importlib

    mods = importlib.import_module(USER_MODULE)
    torch.manual_seed(0)
    lit = mods.LitWD()
    checkpoint = {"state_dict": lit.state_dict(), "pytorch-lightning_version": "2.6.6"}
    torch.save({**checkpoint, "hyper_parameters": dict(lit.hparams)}, work / "wd.ckpt")
    before = sha(work / "wd.ckpt")
    result = invoke("fit", "wd.ckpt", "--model-class", f"{USER_MODULE}:LitWD", "--data", "train.npz",
                    "--weight-decay", "0,1e-4", "--epochs", "1", "--num-steps", "30", "--max-lr", "100",
                    "--no-report", "--json", "r.json", "-o", "out.ckpt")  # fmt: skip
    assert result.exit_code == 0, result.output
    sweep = json.loads((work / "r.json").read_text())
    chosen = sweep["recommended_weight_decay"]
    assert chosen in (0.0, 1e-4)
    # The sweep's top-level "lr" is the recommended curve's LR to train with, as one result's is.
    assert sweep["lr"] == sweep["results"][sweep["recommended_index"]]["lr"] is not None
    saved = torch.load(work / "out.ckpt", weights_only=True)["hyper_parameters"]
    assert saved["weight_decay"] == chosen and saved["hidden"] == 16 and saved["lr"] != 1e-3
    assert sha(work / "wd.ckpt") == before


@pytest.mark.parametrize("command", ["run", "fit"])
def test_onecycle_too_short_to_rise_is_said_once(work: Path, command: str):
    # 256 rows in batches of 128: a 2-step training, too short for onecycle to rise. The stand-in check,
    # fit's plan line and the training each built the schedule and each warned (run twice, fit three times).
    args = ["model_ts.pt", "--data", "train.npz", "--batch-size", "128", "--num-steps", "30", "--max-lr", "100",
            "--scheduler", "onecycle", "--no-report"]  # fmt: skip
    if command == "fit":
        args += ["-o", "out.pt"]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = invoke(command, *args)
    assert result.exit_code == 0, result.output
    assert sum("no room to rise" in str(w.message) for w in seen) == 1


def test_trained_lr_is_the_peak_of_the_schedule():
    from lrfinder.cli.loading import trained_lr, with_lr
    from lrfinder.training import TrainingResult

    assert trained_lr(None) is None and trained_lr(TrainingResult((), (), 0, 0)) is None
    assert trained_lr(TrainingResult((), (0.1, 1.0, 0.5), 3, 1)) == 1.0  # one-cycle: its peak
    hparams = {"lr": 1e-3, "learning_rate": 2, "hidden": 16, "flag": True}
    assert with_lr(hparams, 0.5) == {"lr": 0.5, "learning_rate": 0.5, "hidden": 16, "flag": True}
    assert with_lr({"lr": "auto", "hidden": 16}, 0.5) == {"lr": "auto", "hidden": 16}  # not a number: kept
    assert hparams["lr"] == 1e-3  # a copy
    with_wd = with_lr({"lr": 1e-3, "weight_decay": 0.5, "wd": 0.5, "hidden": 16}, None, weight_decay=1e-4)
    assert with_wd == {"lr": 1e-3, "weight_decay": 1e-4, "wd": 1e-4, "hidden": 16}


def test_fit_saves_a_lightning_module_as_a_checkpoint_at_a_ckpt_output(work: Path):
    # -o out.ckpt saved a state_dict model as a bare state_dict under a checkpoint's name, which
    # load_from_checkpoint cannot read. A LightningModule is now saved as a checkpoint there; .pt keeps MODEL's format.
    import importlib

    mods = importlib.import_module(USER_MODULE)
    torch.manual_seed(0)
    torch.save(mods.LitLR(lr=0.5).state_dict(), work / "lit_weights.pt")
    args = ["lit_weights.pt", "--model-class", f"{USER_MODULE}:LitLR", "--data", "train.npz", "--num-steps", "30",
            "--max-lr", "100", "--no-report"]  # fmt: skip
    result = invoke("fit", *args, "-o", "out.ckpt")
    assert result.exit_code == 0, result.output
    saved = torch.load(work / "out.ckpt", weights_only=True)
    assert "pytorch-lightning_version" in saved and "net.body.0.weight" in saved["state_dict"]
    module = mods.LitLR.load_from_checkpoint(work / "out.ckpt", weights_only=True)
    assert module.hparams.lr == pytest.approx(float(re.search(r"lr (\S+), constant", result.stdout).group(1)), rel=0.01)
    again = invoke("run", "out.ckpt", "--model-class", f"{USER_MODULE}:LitLR", "--data", "train.npz", *FAST)
    assert again.exit_code == 0 and "(lightning)" in again.stdout, again.output
    # .pt names no format: MODEL's (a state_dict) is kept.
    assert invoke("fit", *args, "-o", "out.pt").exit_code == 0
    assert "net.body.0.weight" in torch.load(work / "out.pt", weights_only=True)


@pytest.mark.parametrize(
    ("model", "says"),
    [
        (["weights.pt", "--model-class", f"{USER_MODULE}:Net"], "is a state_dict of Net, a plain torch.nn.Module"),
        (["model_ts.pt"], "is a TorchScript model of Net"),
        (["pickled.pt", "--unsafe-pickle"], "is a pickled module of Net"),
    ],
)
def test_fit_refuses_a_ckpt_output_for_a_model_no_checkpoint_can_hold(work: Path, model: list[str], says: str):
    result = invoke("fit", *model, "--data", "train.npz", *FAST, "-o", "out.ckpt")
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "--output" in errors[0] and says in errors[0] and "not a LightningModule" in errors[0]
    assert "Name the output .pt" in errors[0]
    assert "suggested lr" not in result.output and not (work / "out.ckpt").exists()  # refused before the test


def test_a_torch_export_program_as_model_is_named_not_called_corrupted(work: Path):
    # torch.export.save's archive was read as a torch.save file: "Cannot read model.pt2 as a PyTorch file
    # (RuntimeError: PytorchStreamReader failed locating file data.pkl ... there is a high likelihood that your
    # checkpoint file is corrupted ...)", of a file saved as the torch docs say.
    import importlib

    net = importlib.import_module(USER_MODULE).Net()
    program = torch.export.export(net, (torch.randn(2, 10),))
    torch.export.save(program, str(work / "model.pt2"))
    shutil.copy(work / "model.pt2", work / "exported.pt")  # named like a torch.save file: read by its content
    digest = sha(work / "model.pt2")
    for name in ("model.pt2", "exported.pt"):
        result = invoke("run", name, "--data", "train.npz", *FAST)
        assert result.exit_code == 2, result.output  # a format lrfind does not read: a usage error, was exit 1
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert errors == [
            f"Error: {name} is a torch.export program (torch.export.save), which lrfind does not load: an "
            "ExportedProgram is a graph for inference and deployment, not a module to train. Save the model itself "
            "as TorchScript (torch.jit.save(torch.jit.script(model), path)) or its state_dict "
            "(torch.save(model.state_dict(), path), with --model-class), and export the trained one."
        ]
        assert "corrupted" not in result.output and "Traceback" not in result.output
    proc = subprocess.run([sys.executable, "-m", "lrfinder", "fit", "exported.pt", "--data", "train.npz", *FAST,
                           "-o", "out.pt"], capture_output=True, text=True, cwd=work, timeout=300)  # fmt: skip
    assert proc.returncode == 2 and "is a torch.export program (torch.export.save)" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (work / "out.pt").exists()
    assert sha(work / "model.pt2") == digest


@pytest.mark.parametrize("output", ["model.onnx", "model.safetensors", "model.pt2"])
def test_fit_refuses_an_output_in_a_format_it_does_not_write(work: Path, output: str):
    result = invoke("fit", "model_ts.pt", "--data", "train.npz", *FAST, "-o", output)
    assert result.exit_code == 2, result.output
    assert "lrfind does not write" in result.stderr and "Name it .pt" in result.stderr
    assert "suggested lr" not in result.output and not (work / output).exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "args, output",
    [
        (["model_ts.pt", "--data", "train.npz", "--scheduler", "cosine", "--target-batch-size", "64"], "out_ts.pt"),
        (["lit.ckpt", "--model-class", f"{USER_MODULE}:LitNet", "--data", f"{USER_MODULE}:datamodule"], "out.ckpt"),
        (["pickled.pt", "--unsafe-pickle", "--data", "train.npz", "--weight-decay", "0,1e-3"], "out_pickle.pt"),
    ],
)
def test_fit_round_trips_every_model_format(work: Path, args: list[str], output: str):
    import importlib

    result = invoke(
        "fit", *args, "--epochs", "1", "--num-steps", "30", "--max-lr", "100", "--output", output, "--no-report"
    )
    assert result.exit_code == 0, result.output
    mods = importlib.import_module(USER_MODULE)
    x = torch.randn(4, 10)
    if output.endswith("_ts.pt"):
        assert torch.jit.load(work / output)(x).shape == (4, 3)
    elif output.endswith(".ckpt"):
        module = mods.LitNet.load_from_checkpoint(work / output, weights_only=True)
        old = torch.load(work / "lit.ckpt", weights_only=True)["state_dict"]
        assert not torch.equal(module.state_dict()["net.body.0.weight"], old["net.body.0.weight"])  # trained
        assert "val_acc" in result.stdout  # its own validation_step's metric
    else:
        assert torch.load(work / output, weights_only=False)(x).shape == (4, 3)
        assert "recommended weight decay" in result.stdout


def test_demo_help_counts_the_samples_it_generates():
    # The help said "4,096 samples" of the 5,120 the demo generates: the 1,024 it validates on were left out.
    from lrfinder.cli.demo import DEMO_SAMPLES, DEMO_VAL_SAMPLES

    result = invoke("demo", "--help")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert f"the data ({DEMO_SAMPLES:,} training and {DEMO_VAL_SAMPLES:,} validation samples, 20 features" in text


def test_demo_test_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("demo", "--epochs", "0", "--json", "demo.json")
    assert result.exit_code == 0, result.output
    assert "suggested lr" in result.stdout
    saved = RangeTestResult.from_json(tmp_path / "demo.json")
    assert saved.suggestion is not None and saved.model_name == "DemoMLP"
    assert Image.open(tmp_path / "lrfind-report.png").size == (1200, 900)
    # Its help said nothing of the sweep, which starts at 1e-4, not at run's 1e-7 default: it says the range, the
    # steps and the model this run had.
    help_text = " ".join(invoke("demo", "--help").output.split())
    sweep = saved.settings
    low, run_low = (f"{lr:.0e}".replace("e-0", "e-") for lr in (sweep.min_lr, next(
        p.default for p in main.commands["run"].params if p.name == "min_lr"
    )))
    assert f"sweeps the LR exponentially from {low} to {sweep.max_lr:g} in {sweep.num_steps} steps" in help_text
    assert sweep.mode == "exp" and low == "1e-4" and f"run's sweep starts lower, at {run_low}" in help_text
    assert f", {saved.num_parameters:,} parameters)" in help_text and f"batches of {saved.batch_size}" in help_text


def test_demo_checks_its_outputs_before_the_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # As run's and fit's: a usage error before the test and training (it failed after them with exit 1 and an
    # "[Errno None]" message, or wrote the JSON and then the report over it).
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("a file")
    for args, message in (
        (["--report", "afile/x.png"], "afile is not a directory"),
        (["--json", "."], ". is a directory"),
        # (A JSON named like the report is refused by its extension before the two are compared.)
        (["--report", "same.png", "--json", "same.png"], "'same.png' ends in .png"),
    ):
        result = invoke("demo", "--epochs", "0", *args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "suggested lr" not in result.output and "Errno" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_demo_reads_its_config_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lrfind.toml").write_text('optimizer = "adamw"\n[demo]\nepochs = 0\njson = "d.json"\nseed = 3\n')
    result = invoke("demo", "--config", "lrfind.toml", "--report", "d.svg")
    assert result.exit_code == 0, result.output
    saved = RangeTestResult.from_json(tmp_path / "d.json")
    assert saved.optimizer_name.startswith("adamw")
    assert not [line for line in result.stdout.splitlines() if line.startswith("epoch")]  # epochs = 0
    assert (tmp_path / "d.svg").is_file() and not (tmp_path / "lrfind-report.png").exists()
    (tmp_path / "bad.toml").write_text("[demo]\nnum-steps = 5\n")
    result = invoke("demo", "--config", "bad.toml")
    assert result.exit_code == 2 and "'num-steps' in [demo]" in result.output
    assert "not an option of lrfind demo" in result.output


@pytest.mark.slow
def test_demo_trains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("demo", "--epochs", "2")
    assert result.exit_code == 0, result.output
    epochs = [line for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 2
    losses = [float(line.split("train_loss")[1].split()[0]) for line in epochs]
    assert losses[1] < losses[0]


# --------------------------------------------------------------------------------------------
# the installed console script
# --------------------------------------------------------------------------------------------


def _lrfind() -> str:
    exe = shutil.which("lrfind")
    if exe is None:
        pytest.skip("the lrfind console script is not installed")
    return exe


def test_installed_lrfind_errors(work: Path):
    exe = _lrfind()
    proc = subprocess.run([exe, "run", "nope.pt", "--data", "train.npz"], capture_output=True, text=True)
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    proc = subprocess.run(
        [exe, "run", "pickled.pt", "--data", "train.npz", "--no-report"], capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stdout == ""  # a usage error: the fix is --unsafe-pickle
    assert proc.stderr.startswith("Usage: lrfind run") and proc.stderr.count("\nError:") == 1
    assert proc.stderr.rstrip("\n").splitlines()[-1].endswith("or pass --unsafe-pickle if you trust this file.")


@pytest.mark.slow
def test_installed_lrfind_demo(tmp_path: Path):
    exe = _lrfind()
    proc = subprocess.run([exe, "demo", "--epochs", "1"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "suggested lr" in proc.stdout and "epoch   1/1" in proc.stdout
    assert Image.open(tmp_path / "lrfind-report.png").size == (1200, 900)
    assert proc.stderr == ""  # not a terminal: no progress bar, and Lightning's banners are silenced


def test_the_cli_optimizer_puts_the_lr_on_the_largest_group(work: Path):
    # The range test records the largest group's LR; with --opt bias_lr_factor=2 the biases are that
    # group, so training puts the found LR there and the weights at half of it, as they were tested.
    from types import SimpleNamespace

    from lrfinder.cli.pipeline import _optimizer_factory

    options = SimpleNamespace(optimizer="momentum", optimizer_settings={"bias_lr_factor": 2.0})
    make = _optimizer_factory(options)  # type: ignore[arg-type]
    opt = make(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)), 0.1, None)
    assert sorted({g["lr"] for g in opt.param_groups}) == pytest.approx([0.05, 0.1])
    result = invoke("fit", "model_ts.pt", "--data", "train.npz", *FAST, "-o", "out.pt", "--opt", "bias_lr_factor=2")
    assert result.exit_code == 0, result.output
    lr = re.search(r"suggested lr\s+(\S+)", result.stdout).group(1)  # type: ignore[union-attr]
    assert re.search(rf"^epoch .* lr {re.escape(lr)}$", result.stdout, re.M), result.stdout


def test_loss_nll_over_raw_logits_says_to_use_cross_entropy(work: Path):
    # The model gives raw scores: --loss nll only fell (minus the target's score) and the summary said "increase
    # --max-lr" with nothing said of the loss. (A real process: pytest records the warnings CliRunner's would print.)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), str(work)])}
    args = ["run", "model_ts.pt", "--data", "train.npz", "--loss", "nll", "--max-lr", "100", *FAST]
    proc = subprocess.run([sys.executable, "-m", "lrfinder", *args], capture_output=True, text=True, cwd=work, env=env,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    said = " ".join(proc.stderr.split())
    assert "warning: The loss went negative" in said and "(lrfind: --loss cross_entropy)" in said, proc.stderr


# --------------------------------------------------------------------------------------------
# a model that computes its own loss from dict batches (Hugging Face style)
# --------------------------------------------------------------------------------------------

HF_MODULE = "lrf_cli_hfmods"

HF_CODE = textwrap.dedent(
    """
    import dataclasses
    from collections import OrderedDict
    from typing import Optional

    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.data import Dataset


    @dataclasses.dataclass
    class ClassifierOutput(OrderedDict):
        # transformers' ModelOutput: an OrderedDict and a dataclass, keys only for the fields set
        loss: Optional[torch.Tensor] = None
        logits: Optional[torch.Tensor] = None

        def __post_init__(self):
            for field in dataclasses.fields(self):
                if getattr(self, field.name) is not None:
                    self[field.name] = getattr(self, field.name)


    class TinyEncoder(nn.Module):
        def __init__(self, vocab=50, hidden=16, classes=2):
            super().__init__()
            self.embeddings = nn.Embedding(vocab, hidden)
            self.LayerNorm = nn.LayerNorm(hidden)
            self.classifier = nn.Linear(hidden, classes)

        def forward(self, input_ids, attention_mask=None, labels=None):
            hidden = self.LayerNorm(self.embeddings(input_ids))
            mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
            pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
            logits = self.classifier(pooled)
            loss = F.cross_entropy(logits, labels) if labels is not None else None
            return ClassifierOutput(loss=loss, logits=logits)


    class Tokens(Dataset):
        def __init__(self, labels=True, size=128):
            gen = torch.Generator().manual_seed(1)
            self.ids = torch.randint(0, 50, (size, 8), generator=gen)
            self.mask = (torch.arange(8) < torch.randint(2, 9, (size, 1), generator=gen)).long()
            # the class of most of the tokens the mask keeps: a mean over them reads it
            small = ((self.ids < 25) * self.mask).sum(1)
            self.y = (2 * small >= self.mask.sum(1)).long()
            self.labels = labels

        def __len__(self):
            return len(self.ids)

        def __getitem__(self, i):
            item = {"input_ids": self.ids[i], "attention_mask": self.mask[i]}
            if self.labels:
                item["labels"] = self.y[i]
            return item


    def train_set():
        return Tokens()


    def unlabelled():
        return Tokens(labels=False)


    def one_batch():
        return Tokens(size=32)
    """
)


@pytest.fixture
def hf_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with a model that computes its own loss from dict batches, saved as a state_dict."""
    mods = _project(tmp_path, monkeypatch, HF_MODULE, HF_CODE)
    torch.manual_seed(0)
    torch.save(mods.TinyEncoder().state_dict(), tmp_path / "encoder.pt")
    yield tmp_path
    sys.modules.pop(HF_MODULE, None)


HF_ARGS = ("encoder.pt", "--model-class", f"{HF_MODULE}:TinyEncoder", "--data", f"{HF_MODULE}:train_set")


def test_run_trains_on_the_loss_a_model_computes_from_dict_batches(hf_work: Path):
    # Without --loss, dict batches with labels went in as model(batch['input_ids']) (the mask dropped) and
    # cross_entropy failed on the ModelOutput: "not a tensor, so --loss cross_entropy cannot score it".
    import importlib

    result = invoke("run", *HF_ARGS[:-1], f"{HF_MODULE}:one_batch", "--num-steps", "20", "--no-report", "--json",
                    "r.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    saved = RangeTestResult.from_json(hf_work / "r.json")
    assert len(saved.losses) == 20 and saved.stop_reason in ("completed", "diverged")
    # The first point is the model's own loss of the whole batch (mask and labels) at the saved weights (the data
    # is one batch, in some order); model(batch['input_ids']) alone, without the mask, gives another.
    mods = importlib.import_module(HF_MODULE)
    model = mods.TinyEncoder()
    model.load_state_dict(torch.load(hf_work / "encoder.pt"))
    data = mods.one_batch()
    batch = {key: torch.stack([data[i][key] for i in range(len(data))]) for key in data[0]}
    with torch.no_grad():
        own = float(model(**batch).loss)
        unmasked = float(torch.nn.functional.cross_entropy(model(batch["input_ids"]).logits, batch["labels"]))
    assert saved.losses[0] == pytest.approx(own, rel=1e-5)
    assert abs(own - unmasked) > 1e-3


def test_fit_trains_on_the_models_own_loss_and_val_batches_without_labels_are_named(hf_work: Path):
    result = invoke("fit", *HF_ARGS, "--num-steps", "60", "--optimizer", "adam", "--no-report", "--epochs", "1",
                    "-o", "trained.pt", "--val-data", f"{HF_MODULE}:train_set")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "val_loss" in result.output and (hf_work / "trained.pt").exists()
    result = invoke("run", *HF_ARGS, *FAST, "--val-data", f"{HF_MODULE}:unlabelled", "--refine")
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert f"--val-data {HF_MODULE}:unlabelled: The model computes its own loss" in message
    assert "keys ['attention_mask', 'input_ids'] it returned a ClassifierOutput with keys ['logits'] and no" in message
    assert "Traceback" not in result.output


def test_a_loss_given_for_a_model_that_scores_itself_says_to_drop_it(hf_work: Path):
    result = invoke("run", *HF_ARGS, *FAST, "--loss", "cross_entropy")
    assert result.exit_code == 1
    message = " ".join(result.output.split())
    assert "not a tensor, so --loss cross_entropy cannot score it" in message
    assert "Drop --loss cross_entropy to train on that loss" in message


def _write_safetensors(path: Path) -> None:
    # The format as the safetensors package writes it: the header's length (8 bytes, little-endian), a JSON
    # header naming each tensor's dtype, shape and byte range, then the bytes.
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    path.write_bytes(len(header).to_bytes(8, "little") + header + np.ones(2, dtype="<f4").tobytes())


@pytest.mark.parametrize("command", ["run", "fit"])
def test_a_saved_hugging_face_model_says_what_to_pass(hf_work: Path, command: str):
    # save_pretrained's directory was "File 'model_dir' is a directory."; its model.safetensors "is not a PyTorch
    # file (neither a torch.save archive nor a pickle)": neither said how to give lrfind such a model.
    saved = hf_work / "model_dir"
    saved.mkdir()
    (saved / "config.json").write_text('{"model_type": "bert"}')
    _write_safetensors(saved / "model.safetensors")
    before = sha(saved / "model.safetensors")
    directory = invoke(command, "model_dir", "--data", f"{HF_MODULE}:train_set", *FAST)
    assert directory.exit_code == 2
    text = " ".join(directory.output.split())
    assert "'model_dir' is a directory of a saved Hugging Face model (save_pretrained), which lrfind" in text
    assert "torch.save(model.state_dict(), 'weights.pt')" in text and "--model-class mymodule:build" in text
    output = ["-o", "trained.pt"] if command == "fit" else []
    weights = invoke(command, "model_dir/model.safetensors", "--model-class", f"{HF_MODULE}:TinyEncoder", "--data",
                     f"{HF_MODULE}:train_set", *FAST, *output)  # fmt: skip
    assert weights.exit_code == 2  # a format lrfind does not read: a usage error, as the directory is
    text = " ".join(weights.output.split())
    assert "model_dir/model.safetensors is a safetensors file (as save_pretrained writes)" in text
    assert "--model-class mymodule:build" in text and "Traceback" not in weights.output
    assert sha(saved / "model.safetensors") == before and not (hf_work / "trained.pt").exists()
    # Any other directory is click's own refusal.
    (hf_work / "other").mkdir()
    other = invoke(command, "other", "--data", f"{HF_MODULE}:train_set", *FAST)
    assert other.exit_code == 2 and "'other' is a directory" in " ".join(other.output.split())


def test_a_model_directory_that_cannot_be_listed_is_clicks_refusal(work: Path, monkeypatch: pytest.MonkeyPatch):
    # The check for a save_pretrained directory listed it first: one this user may not read (chmod 700, another
    # owner) raised PermissionError out of the option's type, a raw traceback, instead of click's "is a directory".
    (work / "locked").mkdir()
    real = os.listdir

    def refused(path: Any = ".") -> list[str]:
        if os.fspath(path) == "locked":
            raise PermissionError(13, "Permission denied", "locked")
        return real(path)

    monkeypatch.setattr(os, "listdir", refused)
    result = invoke("run", "locked", "--data", "train.npz", *FAST)
    assert result.exit_code == 2, result.output
    assert "'locked' is a directory" in " ".join(result.output.split())


def test_an_autoencoder_trains_on_one_array_named_as_inputs_and_targets(work: Path):
    # An autoencoder's targets are its inputs: --x-key x --y-key x names one array twice, and fit trains it with mse.
    # A file of the inputs alone was told "Pass --y-key NAME", not which name makes it an autoencoder's data.
    torch.manual_seed(0)
    ae = torch.nn.Sequential(torch.nn.Linear(10, 4), torch.nn.Tanh(), torch.nn.Linear(4, 10))
    torch.jit.save(torch.jit.script(ae), work / "ae.pt")
    x = torch.from_numpy(np.load(work / "train.npz")["x"])
    np.savez(work / "inputs.npz", x=x.numpy())
    alone = invoke("run", "ae.pt", "--data", "inputs.npz", *FAST)
    assert alone.exit_code == 2
    assert "it holds ['x']. Pass --y-key x to use the inputs as the targets too (an autoencoder)" in alone.output
    fitted = invoke("fit", "ae.pt", "--data", "inputs.npz", "--x-key", "x", "--y-key", "x", "--num-steps", "40",
                    "--no-report", "--epochs", "3", "--rule", "valley", "-o", "trained.pt")  # fmt: skip
    assert fitted.exit_code == 0, fitted.output
    trained = torch.jit.load(work / "trained.pt")
    with torch.no_grad():
        before, after = torch.nn.functional.mse_loss(ae(x), x), torch.nn.functional.mse_loss(trained(x), x)
    assert after < 0.9 * before, (before, after)


def _fit_keeps_the_files_dtype(work: Path, net: torch.nn.Module, dtype: torch.dtype, args: tuple[str, ...]) -> None:
    """``run`` notes that ``net``'s weights saved in ``dtype`` run in float32; ``fit`` saves them in ``dtype`` again."""
    import importlib

    name = str(dtype).removeprefix("torch.")
    torch.save(net.to(dtype).state_dict(), work / f"{name}.pt")
    ran = invoke("run", f"{name}.pt", *args)
    assert ran.exit_code == 0, ran.output
    assert (
        f"note: {name}.pt holds 4 tensors in {name} that {USER_MODULE}:Net builds in float32: they are loaded into "
        "its float32 ones, so the test runs in float32."
    ) in " ".join(ran.stderr.split())
    fitted = invoke("fit", f"{name}.pt", *args, "-o", f"trained_{name}.pt")
    assert fitted.exit_code == 0, fitted.output
    wider = ", its values of float32 precision" if dtype == torch.float64 else ""
    assert f"so the test and training run in float32; trained_{name}.pt is saved in {name} again, as MODEL{wider}." in (
        " ".join(fitted.stderr.split())
    )
    trained = torch.load(work / f"trained_{name}.pt", weights_only=True)
    assert {v.dtype for v in trained.values()} == {dtype}
    assert not all(torch.equal(trained[k], v) for k, v in net.state_dict().items())  # it trained
    importlib.import_module(USER_MODULE).Net().load_state_dict(trained)  # and loads back as a state_dict


def _dtype_args() -> tuple[Any, tuple[str, ...]]:
    """The user module, and ``run``'s arguments for its ``Net`` (seeded: the curves are conclusive for its weights)."""
    import importlib

    mods = importlib.import_module(USER_MODULE)
    torch.manual_seed(0)  # the curves below are conclusive for these weights, whatever ran before
    return mods, ("--model-class", f"{USER_MODULE}:Net", "--data", "train.npz", *FAST, "--rule", "valley")


def test_fit_saves_a_state_dict_in_the_float_dtype_model_held_it(work: Path):
    # A float16 state_dict loaded into a float32 --model-class was trained in float32 and saved as float32, with
    # nothing said: the user's half-precision file came back twice its size, in another dtype. Each tensor is now
    # saved in MODEL's dtype, and a note says the test and training ran in the model's own.
    mods, args = _dtype_args()
    _fit_keeps_the_files_dtype(work, mods.Net(), torch.float16, args)
    assert "note:" not in invoke("run", "weights.pt", *args).stderr  # a float32 file says nothing


def test_run_on_float64_weights_of_a_float32_class_says_how_to_test_in_float64(work: Path):
    # The note said the test runs in float32 and no more: a user whose float64 file asks for float64 was not told that
    # the class's own dtype decides it. The way it names is checked too: a class building float64 weights runs in it.
    mods, args = _dtype_args()
    torch.save(mods.Net().to(torch.float64).state_dict(), work / "float64.pt")
    ran = invoke("run", "float64.pt", *args)
    assert ran.exit_code == 0, ran.output
    assert (
        "so the test runs in float32. To test in float64, have lrf_cli_usermods:Net build float64 weights "
        "(self.to(torch.float64) at the end of its __init__) and store the data's inputs as float64."
    ) in " ".join(ran.stderr.split())
    (work / "net64.py").write_text(
        f"import torch\nfrom {USER_MODULE} import Net\n\n\nclass Net64(Net):\n    def __init__(self):\n"
        "        super().__init__()\n        self.to(torch.float64)\n"
    )
    data = np.load(work / "train.npz")
    np.savez(work / "train64.npz", x=data["x"].astype(np.float64), y=data["y"])
    ran64 = invoke("run", "float64.pt", "--model-class", "net64:Net64", "--data", "train64.npz", *args[4:])
    assert ran64.exit_code == 0, ran64.output
    assert "note:" not in ran64.stderr


@pytest.mark.slow
def test_fit_keeps_bfloat16_float64_and_a_checkpoints_float16_from_a_real_process_too(work: Path):
    # As the test above, for the other float dtypes, a Lightning checkpoint of float16 weights, and a real process.
    mods, args = _dtype_args()
    net = mods.Net()
    for dtype in (torch.float16, torch.bfloat16, torch.float64):  # float16.pt stays for the process below
        _fit_keeps_the_files_dtype(work, net, dtype, args)
    lit = mods.LitNet().to(torch.float16)
    torch.save({"state_dict": lit.state_dict(), "pytorch-lightning_version": "2.6.6",
                "hyper_parameters": dict(lit.hparams)}, work / "half.ckpt")  # fmt: skip
    lit_args = ("half.ckpt", "--model-class", f"{USER_MODULE}:LitNet", *args[2:], "--num-steps", "60", "--max-lr",
                "100", "-o", "trained_half.ckpt")  # fmt: skip
    fitted = invoke("fit", *lit_args)
    assert fitted.exit_code == 0, fitted.output
    saved = torch.load(work / "trained_half.ckpt", weights_only=True)["state_dict"]
    assert {v.dtype for v in saved.values() if v.is_floating_point()} == {torch.float16}
    proc = subprocess.run([sys.executable, "-m", "lrfinder", "fit", "float16.pt", *args, "-o", "proc.pt"],
                          capture_output=True, text=True, cwd=work, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert {v.dtype for v in torch.load(work / "proc.pt", weights_only=True).values()} == {torch.float16}


def test_an_inconclusive_runs_summary_gives_the_reasons_gist_and_says_where_the_whole_is(work: Path):
    # The summary's reason ran to 15 lines (a model that cannot learn); it gives the gist, what happened and what to
    # do, and names the JSON that holds the whole reason, which still says all of it (report33).
    args = ["run", "model_ts.pt", "--data", "train.npz", "--min-lr", "1e-9", "--max-lr", "1e-8", *FAST]
    result = invoke(*args, "--json", "out.json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("reason "))
    end = next(i for i, line in enumerate(lines) if line.startswith("whole reason "))
    assert 1 <= end - start <= 3, result.stdout
    gist = " ".join(" ".join(lines[start:end]).split()[1:])
    # What to do is the sweep the reason names, in the command line's words (msgs36).
    assert gist.startswith("The loss never clearly falls. Raise --max-lr and run again, e.g. with --min-lr 1.00e-09 "
                           "--max-lr 1.00e-05 --num-steps 40."), gist  # fmt: skip
    assert lines[end].split(None, 2)[2] == 'in out.json, its "error"'
    whole = json.loads((work / "out.json").read_text())["error"]
    # The whole reason leads with the same sweep, then the figures (curve37).
    assert whole.startswith("The loss never clearly falls. Raise max_lr and run again, e.g. with min_lr=1.00e-09, "
                            "max_lr=1.00e-05, num_steps=40") and len(whole) > 2 * len(gist)  # fmt: skip
    # Without --json, nowhere else to read it: the summary gives the whole of it under the gist (a rerun with --json
    # only to read it cost a whole test).
    plain = invoke(*args).stdout
    row = plain[plain.index("\nwhole reason ") + 1 :].splitlines()
    said = " ".join(row[0].split()[2:] + [part for line in row[1:] if line.startswith(" ") for part in line.split()])
    # The JSON's words are the API's (num_steps=40), the summary's the command line's (--num-steps 40).
    assert said.startswith(as_options(" ".join(whole.split()))[:300]) and said.endswith(whole[-60:]), said
    assert "--max-lr" in said and abs(len(said) - len(" ".join(whole.split()))) < 40, said


def test_a_suggestion_without_a_turn_up_says_in_the_summary_that_it_came_from_the_minimum():
    # "(rule: divergence_div10)" above "divergence  not reached" did not say where the LR came from (judgesim34).
    lrs = np.logspace(-5, 0, 80)
    x = np.log10(lrs)
    losses = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3))  # falls, then flattens: no turn-up
    result = RangeTestResult(lrs=tuple(lrs), losses=tuple(losses), stop_reason="completed").analyze()
    s = result.suggestion
    assert s is not None and s.divergence_lr is None
    rows = dict(summary_rows(result))
    assert rows["divergence"] == "not reached"
    assert rows["suggested lr"] == (
        f"{s.lr:.2e}  (rule: divergence_div10: minimum {s.min_loss_lr:.2e} (no turn-up seen) / 10)"
    ), rows["suggested lr"]


def test_the_summary_names_where_the_curve_blew_up_as_the_report_and_json_do():
    # The report's legend said "blew up at 8.90e-01" and the JSON suggestion.blowup_lr, the summary nothing
    # (judgesim38). Seeded falls that blow up, in 1% noise; a curve that never turns up has no such row.
    lrs = np.logspace(-5, 1, 100)
    x = np.log10(lrs)
    said = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        top = rng.uniform(-1.5, 0.0)
        losses = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > top, np.expm1(3.0 * (x - top)), 0.0)
        losses = losses * (1.0 + rng.normal(0, 0.01, 100))
        result = RangeTestResult(lrs=tuple(lrs), losses=tuple(losses), stop_reason="completed").analyze()
        s = result.suggestion
        assert s is not None and s.blowup_lr is not None, seed
        rows = summary_rows(result)
        labels = [label for label, _ in rows]
        assert dict(rows)["blew up at"] == f"{s.blowup_lr:.2e}", seed
        assert labels.index("blew up at") == labels.index("divergence") + 1
        said += 1
    assert said == 10
    flat = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3))
    calm = RangeTestResult(lrs=tuple(lrs), losses=tuple(flat), stop_reason="completed").analyze()
    assert calm.suggestion is not None and calm.suggestion.blowup_lr is None
    assert "blew up at" not in dict(summary_rows(calm))


def test_a_completed_sweep_that_blew_up_says_what_each_judged_in_the_summary():
    # "steps 80/100 (stopped: completed)" above the reason's "Keep any LR below ...: the loss blew up there": the stop
    # rule waits for 4x the best loss, the analysis reads a smaller rise (here to 2.8x) of the smoothed curve.
    lrs = np.logspace(-5, 0, 80)
    x = np.log10(lrs)
    losses = 1.0 + np.where(x > -1.5, 1.2 * (x + 1.5), 0.0) + np.random.default_rng(0).normal(0, 0.003, 80)
    result = RangeTestResult(lrs=tuple(lrs), losses=tuple(losses), stop_reason="completed")
    with pytest.raises(InconclusiveCurveError) as info:
        result.analyze()
    rows = dict(summary_rows(dataclasses.replace(result, error=str(info.value))))
    assert rows["reason"].endswith("the loss blew up there.")
    assert rows["steps"] == "80/100 (completed: the loss never passed the stop rule's 4x its best)"
    unruled = dataclasses.replace(result, settings=dataclasses.replace(result.settings, stop_factor=None))
    assert dict(summary_rows(unruled))["steps"] == "80/100 (completed: no stop rule, stop_factor=None)"
    diverged = dataclasses.replace(result, stop_reason="diverged")
    stop = "stopped: diverged at lr=1.00e+00, where the loss passed 4x its best"
    assert dict(summary_rows(diverged))["steps"] == f"80/100 ({stop})"


def test_a_suggestion_from_the_divergence_names_its_rule_alone_in_the_summary():
    lrs = np.logspace(-6, 1, 141)
    x = np.log10(lrs)
    losses = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    result = RangeTestResult(lrs=tuple(lrs), losses=tuple(losses), stop_reason="completed").analyze()
    s = result.suggestion
    assert s is not None and s.divergence_lr is not None
    assert dict(summary_rows(result))["suggested lr"] == f"{s.lr:.2e}  (rule: divergence_div10)"


_NO_FALL = ("model_ts.pt", "--data", "train.npz", "--min-lr", "1e-9", "--max-lr", "1e-8", *FAST)


def _error_line(output: str) -> str:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Error: "))
    return " ".join(lines[start:])


def test_fit_on_an_inconclusive_curve_says_the_reasons_gist_and_where_the_whole_is(work: Path):
    # fit's error repeated the whole reason, a dozen lines, under the summary that had just printed it (the whole
    # reason row); run's summary gave the gist. The error now gives the gist and says where the rest is.
    result = invoke("fit", *_NO_FALL, "-o", "out.pt")
    assert result.exit_code == 1, result.output
    error = _error_line(result.output)
    assert error == (
        "Error: The range test is inconclusive, so there is no LR to train with: The loss never clearly falls. Raise "
        "--max-lr and run again, e.g. with --min-lr 1.00e-09 --max-lr 1.00e-05 --num-steps 40. The whole reason: the "
        '"whole reason" row above.'
    )
    assert re.search(r"^whole reason +The loss never clearly falls\. Raise --max-lr and run again", result.output, re.M)
    assert not (work / "out.pt").exists()
    # With --json, the error names the file that holds the whole reason, as the summary's row does; so does --strict.
    for args in (("fit", *_NO_FALL, "-o", "out.pt"), ("run", *_NO_FALL, "--strict")):
        result = invoke(*args, "--json", "out.json")
        assert result.exit_code == 1, result.output
        error = _error_line(result.output)
        assert error.endswith('--num-steps 40. The whole reason: in out.json, its "error".'), error
        assert "(robust standard deviation)" in json.loads((work / "out.json").read_text())["error"]


@pytest.mark.slow  # a real process
def test_fit_on_an_inconclusive_curve_says_the_gist_from_a_real_process_too(work: Path):
    proc = subprocess.run([sys.executable, "-m", "lrfinder", "fit", *_NO_FALL, "-o", "out.pt"], capture_output=True,
                          text=True, cwd=work, timeout=300)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("Error: The range test is inconclusive, so there is no LR to train with: The loss "
                                  "never clearly falls. Raise --max-lr and run again"), proc.stderr  # fmt: skip
    assert proc.stderr.rstrip().endswith('The whole reason: the "whole reason" row above.'), proc.stderr
    assert "(robust standard deviation)" not in proc.stderr
    whole = r"^whole reason +The loss never clearly falls\. Raise --max-lr and run again"
    assert re.search(whole, proc.stdout, re.M), proc.stdout


def test_lrfinds_reports_say_where_the_whole_reason_is_in_the_command_lines_words(
    work: Path, monkeypatch: pytest.MonkeyPatch
):
    # lrfind's report said "The whole reason: result.error, ...", an API name its reader never sees: it names the
    # summary's row and the JSON's key, as does the critical batch's "noise_error says why" (--json's).
    import lrfinder.report as report_module

    drawn: list[str] = []
    plot = report_module.plot_range_test

    def recording(*args: Any, **kwargs: Any) -> Any:
        fig = plot(*args, **kwargs)
        drawn.append("\n".join(t.get_text() for ax in fig.axes for t in ax.texts))
        return fig

    monkeypatch.setattr(report_module, "plot_range_test", recording)
    assert invoke("run", *_NO_FALL[:-1], "--json", "out.json").exit_code == 0
    doc = json.loads((work / "out.json").read_text())
    doc["noise_scale"], doc["noise_error"] = None, "Cannot measure the gradient noise scale: B_simple is 0.5; more."
    (work / "noisy.json").write_text(json.dumps(doc))
    result = invoke("report", "noisy.json", "--report", "again.png")
    assert result.exit_code == 0, result.output
    assert len(drawn) == 2
    # run's report names its summary's row; report's re-rendering prints no summary, and names the JSON alone.
    assert "The whole reason: the summary's \"whole reason\" row, the JSON's \"error\"." in drawn[0], drawn[0]
    assert "The whole reason: the \"error\" of the JSON drawn." in drawn[1] and "summary" not in drawn[1], drawn[1]
    assert not any("result.error" in text for text in drawn)
    assert "--json's noise_error says why" in drawn[1], drawn[1]
    # The Python API's report keeps the API's words.
    api = plot(RangeTestResult.from_json(work / "noisy.json"))
    words = "\n".join(t.get_text() for ax in api.axes for t in ax.texts)
    assert "The whole reason: result.error" in words and "; noise_error says why" in words


def test_the_json_says_the_lr_to_train_with_first_null_when_inconclusive(work: Path):
    # A script's first question, "what LR?", had no key: it read suggestion.lr, not the scaled LR it should train at.
    result = invoke("run", "model_ts.pt", "--data", "train.npz", "--num-steps", "40", "--no-report",
                    "--target-batch-size", "128", "--scaling", "linear", "--json", "-", "--max-lr", "100")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert list(doc)[:2] == ["schema_version", "lr"]
    assert doc["scaled"] is not None and doc["lr"] == doc["scaled"]["lr"] != doc["suggestion"]["lr"]
    # Derived: the file reads back as before, with it or without it (a file an older lrfinder wrote).
    assert RangeTestResult.from_dict(doc).lr == doc["lr"]
    assert RangeTestResult.from_dict({k: v for k, v in doc.items() if k != "lr"}).to_dict() == doc
    # Inconclusive: null, beside the error.
    assert invoke("run", *_NO_FALL, "--json", "out.json").exit_code == 0
    inconclusive = json.loads((work / "out.json").read_text())
    assert inconclusive["lr"] is None and inconclusive["error"].startswith("The loss never clearly falls")
