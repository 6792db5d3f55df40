"""Every error names the thing and says what to do (issue 11 item 4).

Bad input exits 2 and a failed run exits 1, with one ``Error:`` line and no traceback; every
output path is checked before the work starts, and the outputs are written all or nothing.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from _cli import cli_runner
from torch import nn
from torch.utils.data import TensorDataset

from lrfinder.cli import main
from lrfinder.cli.fit import command as fit_command
from lrfinder.cli.loading import _read_csv, make_loss, reason
from lrfinder.cli.options import check_model_output, one_line

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*is deprecated:DeprecationWarning")

MODULE = "lrf_cli_errors_mods"
FAST = ("--num-steps", "12", "--no-report")


class NoParams(nn.Module):
    """A model with no parameters at all (it only slices its input)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :3]


class TokenLM(nn.Module):
    """A token model: (N, T) token ids in, (N, T, V) next-token scores out, the classes last."""

    def __init__(self, vocab: int = 7) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        self.head = nn.Linear(8, vocab)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.embed(x)))


class TupleOut(nn.Module):
    """A model returning (scores, features): no --loss can score a tuple."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(10, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(x), x


#: The bytes of each TorchScript file ``work`` writes, scripted once per session: ``work`` runs for most tests here,
#: and scripting its Conv2d anew each time once failed in torch's compiler during a full run ("builtin cannot be used
#: as a value" at the conv's ``_reversed_padding_repeated_twice``), where the same test passed alone.
_SCRIPTED: dict[str, bytes] = {}


def _jit_save(module: nn.Module, path: Path) -> None:
    """``torch.jit.save(torch.jit.script(module), path)``, scripted the first time ``path``'s name is written."""
    if path.name not in _SCRIPTED:
        torch.jit.save(torch.jit.script(module), path)
        _SCRIPTED[path.name] = path.read_bytes()
    else:
        path.write_bytes(_SCRIPTED[path.name])


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with a TorchScript model, good data, and broken files of every kind."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"{MODULE}.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch.utils.data import DataLoader, TensorDataset

            def empty_set():
                return TensorDataset(torch.zeros(0, 10), torch.zeros(0, dtype=torch.long))

            def empty_loader():
                return DataLoader(empty_set(), batch_size=4)

            class _Records(torch.utils.data.Dataset):
                def __len__(self):
                    return 64

                def __getitem__(self, i):  # a record it cannot read is None
                    return None if i % 10 == 3 else (torch.randn(10), i % 3)

            def unreadable_records():
                return _Records()

            def tfidf_like():
                import numpy as np
                import scipy.sparse

                x = scipy.sparse.random(64, 10, density=0.2, format="csr", dtype=np.float32, random_state=0)
                return x, np.arange(64) % 3

            class _Stream(torch.utils.data.IterableDataset):
                def __iter__(self):
                    x = torch.randn(128, 10, generator=torch.Generator().manual_seed(0))
                    return iter(zip(x, x[:, :3].argmax(1)))

            def stream():
                # An IterableDataset without __len__: a DataLoader may not shuffle it.
                return _Stream()

            def arrays_pair():
                # sklearn's load_*(return_X_y=True): an (x, y) pair of numpy arrays.
                x = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))
                return x.numpy().astype("float64"), x[:, :3].argmax(1).numpy()

            def arrays_dict():
                x = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))
                return {"x": x, "y": x[:, :3].argmax(1)}

            def loaders_pair():
                x = torch.randn(64, 10)
                loader = DataLoader(torch.utils.data.TensorDataset(x, x[:, :3].argmax(1)), batch_size=8)
                return loader, loader

            def triple_set():
                # (inputs, targets, weights): a sample of three tensors, which no --loss can take.
                x = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))
                return torch.utils.data.TensorDataset(x, x[:, :3].argmax(1), torch.ones(64))

            def make_net(hidden, classes=3):
                # A model factory whose sizes have no defaults: --model-args must give them.
                nn = torch.nn
                return nn.Sequential(nn.Linear(10, hidden), nn.ReLU(), nn.Linear(hidden, classes))

            def make_net_positional(hidden, /, classes=3):
                # Its size positional-only: a JSON object cannot name it.
                return make_net(hidden, classes)

            def make_net_keyword(hidden, *, classes):
                # The classes keyword-only: a JSON list cannot give them.
                return make_net(hidden, classes)

            def make_net_both(hidden, /, *, classes, bias=True):
                # Positional-only and keyword-only: neither a JSON list nor an object gives both.
                nn = torch.nn
                return nn.Sequential(nn.Linear(10, hidden, bias=bias), nn.ReLU(), nn.Linear(hidden, classes))

            def needs_path(path):
                # A loader written for a notebook, taking where the data lies.
                return arrays_dict()

            def needs_root_split(root, /, split, *, seed=0):
                return arrays_dict()

            def no_train_loader():
                # A LightningDataModule without train_dataloader: Lightning's MisconfigurationException.
                import pytorch_lightning as pl

                class NoTrain(pl.LightningDataModule):
                    pass

                return NoTrain()

            class _Twice(torch.utils.data.IterableDataset):
                # Iterable twice (the CLI's check of the first batch, then the range test), then empty.
                calls = 0

                def __iter__(self):
                    type(self).calls += 1
                    if type(self).calls > 2:
                        return iter(())
                    x = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))
                    return iter(zip(x, x[:, :3].argmax(1)))

            def runs_out():
                return DataLoader(_Twice(), batch_size=16)

            def int32_label_set():
                # A Dataset whose labels are numpy int32 scalars: the default collate makes int32 tensors.
                import numpy as np

                class _Set(torch.utils.data.Dataset):
                    def __init__(self):
                        self.x = torch.randn(128, 10, generator=torch.Generator().manual_seed(0))
                        self.y = self.x[:, :3].argmax(1).numpy().astype(np.int32)

                    def __len__(self):
                        return len(self.x)

                    def __getitem__(self, i):
                        return self.x[i], self.y[i]

                return _Set()

            class KwargsSGD(torch.optim.SGD):
                # A user's optimizer passing its settings on as **kwargs: no bool default to check maximize by.
                def __init__(self, params, lr=1e-3, **kwargs):
                    super().__init__(params, lr=lr, **kwargs)

            def shuffled_loader():
                # Shuffled by torch's global RNG, as most users' loaders are.
                x = torch.randn(128, 10, generator=torch.Generator().manual_seed(0))
                return DataLoader(TensorDataset(x, x[:, :3].argmax(1)), batch_size=16, shuffle=True)
            """
        )
    )
    sys.modules.pop(MODULE, None)
    monkeypatch.syspath_prepend(str(tmp_path))
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
    _jit_save(net, tmp_path / "model.pt")
    x = torch.randn(128, 10, generator=torch.Generator().manual_seed(0))
    y = x[:, :3].argmax(1)
    np.savez(tmp_path / "train.npz", x=x.numpy(), y=y.numpy())
    np.savez(tmp_path / "five.npz", x=x[:, :5].numpy(), y=y.numpy())
    late = y.clone()
    late[100] = 7  # one label out of range for 3 classes, in the fourth batch
    np.savez(tmp_path / "late_label.npz", x=x.numpy(), y=late.numpy())
    np.savez(tmp_path / "neg_label.npz", x=x.numpy(), y=(y - 1).numpy())  # labels -1 .. 1
    padded = y.clone()
    padded[::5] = -100  # cross_entropy's ignore_index: skipped by torch
    np.savez(tmp_path / "ignored.npz", x=x.numpy(), y=padded.numpy())
    np.savez(tmp_path / "float_labels.npz", x=x.numpy(), y=y.float().numpy())
    np.savez(tmp_path / "int_inputs.npz", x=(x * 10).long().numpy(), y=y.numpy())
    np.savez(tmp_path / "binary.npz", x=x.numpy(), y=(y > 0).long().numpy())
    # A regression target of whole numbers stored as floats, as sklearn's load_diabetes gives (25.0 .. 346.0).
    np.savez(tmp_path / "counts.npz", x=x.numpy(), y=(x[:, 0] * 50 + 150).round().clamp(25, 346).numpy())
    np.savez(tmp_path / "multi_hot.npz", x=x.numpy(), y=(x[:, :3] > 0).long().numpy())  # multi-label, as int64
    np.savez(tmp_path / "real.npz", x=x.numpy(), y=(x[:, 0] + 1).clamp(0.1, 2.9).numpy())  # 0.1 .. 2.9, not classes
    np.savez(tmp_path / "bool.npz", x=x.numpy(), y=(y > 0).numpy())  # True/False labels
    for dtype in ("int32", "int16", "uint8"):  # class labels saved in a narrower integer type
        np.savez(tmp_path / f"{dtype}.npz", x=x.numpy(), y=y.numpy().astype(dtype))
    np.save(tmp_path / "x.npy", x.numpy())
    (tmp_path / "saved.json").write_text('{"kind": "range_test", "lrs": [], "losses": []}\n')
    tokens = torch.randint(0, 7, (128, 6), generator=torch.Generator().manual_seed(0))
    np.savez(tmp_path / "tokens.npz", x=tokens.numpy(), y=tokens.roll(-1, dims=1).numpy())
    np.savez(tmp_path / "tokens_bad.npz", x=tokens.numpy(), y=(tokens + 3).numpy())  # labels up to 9 of 7 classes
    _jit_save(TokenLM(), tmp_path / "token_lm.pt")
    with open(tmp_path / "tokens.csv", "w") as handle:  # token ids in columns: read as float32, as every CSV input
        handle.write(",".join(f"t{i}" for i in range(6)) + ",label\n")
        handle.writelines(",".join(map(str, row)) + f",{row[0]}\n" for row in tokens.tolist())
    _jit_save(nn.Linear(10, 1), tmp_path / "one_output.pt")
    _jit_save(NoParams(), tmp_path / "noparams.pt")
    _jit_save(TupleOut(), tmp_path / "tuple_out.pt")
    bn = nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    _jit_save(bn, tmp_path / "batchnorm.pt")
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    _jit_save(conv, tmp_path / "conv.pt")
    np.savez(tmp_path / "images.npz", x=x.reshape(128, 5, 2).numpy(), y=y.numpy())  # (N, H, W): no channel dimension
    np.savez(tmp_path / "n33.npz", x=x[:33].numpy(), y=y[:33].numpy())  # batches of 32, then one sample
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    torch.save(torch.compile(net).state_dict(), tmp_path / "compiled_weights.pt")  # names under _orig_mod.
    # An SWA/EMA copy's weights: the model's names under module., and n_averaged beside them.
    torch.save(torch.optim.swa_utils.AveragedModel(net).state_dict(), tmp_path / "averaged_weights.pt")
    # A spreadsheet's CSV: a UTF-8 byte-order mark before the header, the label the first column.
    header = "label," + ",".join(f"f{i}" for i in range(10))
    rows = "".join(f"{int(t)}," + ",".join(f"{v:.4f}" for v in r) + "\n" for r, t in zip(x.tolist(), y))
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbf" + (header + "\n" + rows).encode())
    rng = np.random.default_rng(0)
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "empty_data.pt").write_bytes(b"")
    (tmp_path / "random.pt").write_bytes(b"=" + rng.bytes(999))  # not 0x80: no pickle, no zip
    # pickle.dump, not torch.save (protocol 4 and no torch magic number): torch.load cannot read them.
    (tmp_path / "pickled.pkl").write_bytes(pickle.dumps(net))
    (tmp_path / "pickled_data.pt").write_bytes(pickle.dumps({"x": x, "y": y}))
    (tmp_path / "garbage.npz").write_bytes(b"=" + rng.bytes(999))
    (tmp_path / "text.pt").write_text("x,y\n1,0\n")  # a text file named .pt: torch.load's KeyError
    # Cut short, as by an interrupted copy or download: a zip's start without its end.
    (tmp_path / "cut_model.pt").write_bytes((tmp_path / "model.pt").read_bytes()[:2000])
    (tmp_path / "cut.npz").write_bytes((tmp_path / "train.npz").read_bytes()[:2000])
    np.savez(tmp_path / "nothing.npz")
    (tmp_path / "binary.csv").write_bytes(b"a,b\n\xff\xfe\x00\x81")
    (tmp_path / "train.csv").write_text("a,b,label\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(40)))
    torch.save({"x": x.to_sparse(), "y": y}, tmp_path / "sparse.pt")
    (tmp_path / "label_only.csv").write_text("label\n" + "".join(f"{i % 2}\n" for i in range(40)))
    (tmp_path / "trailing.csv").write_text("a,b,label,\n" + "".join(f"{i},{i * 2},{i % 2},\n" for i in range(40)))
    (tmp_path / "empty_middle.csv").write_text("a,,label\n" + "".join(f"{i},,{i % 2}\n" for i in range(40)))
    (tmp_path / "blank_column.csv").write_text("a,b,label\n" + "".join(f"{i},,{i % 2}\n" for i in range(40)))
    (tmp_path / "noheader.csv").write_text("".join(f"{i},{i * 2},{i % 2}\n" for i in range(40)))  # savetxt's
    (tmp_path / "afile").write_text("a file, not a directory")
    # A label column named twice: the first, an input column, was read as the labels.
    twice = "".join(f"{i},{i * 2},0.5,{i % 2}\n" for i in range(40))
    (tmp_path / "two_labels.csv").write_text("a,b,label,label\n" + twice)
    # Shapes without values: a model built under torch.device("meta") (init_empty_weights), saved before loading.
    meta_net = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3)).to("meta")
    torch.save(meta_net, tmp_path / "meta_model.pt")
    torch.save(meta_net.state_dict(), tmp_path / "meta_weights.pt")
    torch.save({"x": x.to("meta"), "y": y.to("meta")}, tmp_path / "meta_data.pt")
    # A state_dict saved before the first forward pass: its LazyLinear's weight is an UninitializedParameter.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Lazy modules are a new feature under heavy development"
        torch.save(nn.Sequential(nn.LazyLinear(3)).state_dict(), tmp_path / "lazy_weights.pt")
    torch.save({"x": x.to(torch.float8_e4m3fn), "y": y}, tmp_path / "float8.pt")
    np.savez(tmp_path / "label_column.npz", x=x.numpy(), y=y.numpy()[:, None])  # pandas' df[["label"]].values
    # pandas' df.to_csv(path): the row index first, in a column without a name (shuffled, as after a split).
    order = [i * 37 % 128 for i in range(128)]
    indexed = "".join(f"{i}," + ",".join(f"{v:.4f}" for v in x[i].tolist()) + f",{int(y[i])}\n" for i in order)
    (tmp_path / "indexed.csv").write_text("," + ",".join(f"f{i}" for i in range(10)) + ",label\n" + indexed)
    # Zip archives torch.save did not write: a zipped model (as sent by mail), and a zip of a text file.
    with zipfile.ZipFile(tmp_path / "zipped_model.zip", "w") as archive:
        archive.write(tmp_path / "model.pt", "model.pt")
    with zipfile.ZipFile(tmp_path / "notes.pt", "w") as archive:
        archive.writestr("notes.txt", "x, y")
    yield tmp_path
    sys.modules.pop(MODULE, None)


def invoke(*args: str):
    return cli_runner().invoke(main, list(args))


def assert_one_line(result, code: int, *messages: str) -> str:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    for message in messages:
        assert message in errors[0], (message, errors[0])
    assert not errors[0].rstrip().endswith(".."), errors[0]
    return errors[0]


USAGE = {
    "num-steps 1e12": (["--num-steps", "1e12"], ["--num-steps", "10 to 100,000"]),
    "num-steps huge": (["--num-steps", "1000000000000"], ["--num-steps", "10 to 100,000"]),
    "num-steps fraction": (["--num-steps", "20.7"], ["--num-steps", "not a whole number"]),
    "max-lr inf": (["--max-lr", "inf"], ["--max-lr", "finite number > 0", "inf"]),
    "min-lr nan": (["--min-lr", "nan"], ["'--min-lr'", "finite number > 0", "nan"]),
    "min-lr zero": (["--min-lr", "0"], ["--min-lr", "> 0"]),
    # torch's reason listed its twenty device types (ipu, xla, mtia, privateuseone, ...).
    "device gpu": (["--device", "gpu"], ["--device", "'gpu' is not a torch device; use cpu, cuda, cuda:N"]),
    "device cuda:x": (["--device", "cuda:x"], ["--device", "'cuda:x' is not a torch device; use cpu, cuda"]),
    "opt not JSON": (["--optimizer", "adam", "--opt", "betas=[0.9"], ["--opt", "'betas=[0.9'", "not valid JSON"]),
    "report under a file": (["--report", "afile/r.png"], ["--report", "afile is not a directory"]),
    "json under a file": (["--json", "afile/r.json"], ["--json", "afile is not a directory"]),
    "csv is a directory": (["--csv", "."], ["--csv", "is a directory"]),
    # Both were "the report format follows the extension, one of .png, .svg, .pdf".
    "report is a directory": (["--report", "."], ["--report", "'.' is a directory; give an image file inside it"]),
    "report empty": (["--report", ""], ["--report", "got an empty path", "lrfind-report.png", "--no-report"]),
    "seed past 64 bits": (["--seed", "99999999999999999999"], ["--seed", "99999999999999999999"]),
    "opt lr": (["--opt", "lr=0.1"], ["--opt lr", "--min-lr", "--max-lr"]),
    "json and csv on one path": (["--json", "same.out", "--csv", "same.out"], ["--json", "--csv", "same.out"]),
    # A slip of the hand wrote the JSON result over a source file or a model (any other name is fine: .txt, none).
    "json over source": (["--json", "train.py"], ["--json", "ends in .py", "name the JSON output .json"]),
    "csv over a model": (["--csv", "trained.pt"], ["--csv", "ends in .pt", "a model", ".csv"]),
    "csv over data": (["--csv", "curve.npz"], ["--csv", "ends in .npz", "data"]),
    # An empty name was read as "not given": the default array, or no JSON/CSV written, without a word.
    "x-key empty": (["--x-key", ""], ["--x-key", "got an empty name", "leave out --x-key for the default, x"]),
    "y-key empty": (["--y-key", ""], ["--y-key", "got an empty name", "leave out --y-key for the default, y"]),
    "target empty": (["--target", ""], ["--target", "got an empty name", "label column"]),
    "json empty": (["--json", ""], ["--json", "got an empty path", "result.json, or '-' for stdout"]),
    "csv empty": (["--csv", ""], ["--csv", "got an empty path", "result.csv"]),
    # A column the CSV lacks (here in another case) was a failed run (exit 1), once the model had loaded.
    "csv target in another case": (
        ["--data", "train.csv", "--target", "Label"],
        ["--target 'Label' is not a column of train.csv", "Did you mean 'label'?"],
    ),
    # Values the optimizer (or the model class) would refuse only after loading: usage errors too.
    "model-args not JSON": (["--model-args", "{hidden: 4"], ["--model-args", "not valid JSON", '{"hidden": 64}']),
    "model-args a number": (["--model-args", "64"], ["--model-args", "JSON list", "or object"]),
    "momentum negative": (["--momentum", "-1"], ["--momentum", "finite number >= 0", "-1"]),
    "momentum nan": (["--momentum", "nan"], ["--momentum", "finite number >= 0", "nan"]),
    "eps negative": (["--optimizer", "adam", "--eps", "-1e-8"], ["--eps", "finite number >= 0"]),
    "eps for sgd": (["--eps", "1e-8"], ["--eps", "does not take the setting eps", "it accepts"]),
    "beta above 1": (["--optimizer", "adam", "--betas", "2,0.9"], ["--betas", "[0, 1)", "'2,0.9'", "0.9,0.999"]),
    "beta of 1": (["--optimizer", "adam", "--betas", "0.9,1"], ["--betas", "[0, 1)"]),
    "opt momentum negative": (["--opt", "momentum=-1"], ["--opt", "momentum >= 0", "momentum=-1"]),
    "opt betas out of range": (["--optimizer", "adam", "--opt", "betas=[2,0.9]"],
                               ["--opt", "Expected betas each in [0, 1), but got betas=[2, 0.9]"]),
    "opt group setting": (["--opt", "bias_lr_factor=-1"], ["--opt", "bias_lr_factor > 0"]),
    # A pair written as --betas takes it (no brackets): was "Expected betas to be a pair of numbers, but got
    # betas='0.9,0.99'", which did not say that --opt values are JSON nor how to write the pair.
    "opt betas without brackets": (["--optimizer", "adam", "--opt", "betas=0.9,0.99"],
                                   ["--opt", "but got betas='0.9,0.99' (--opt values are read as JSON, and 0.9,0.99 "
                                    "is not, so it was passed as text): write a list, --opt 'betas=[0.9, 0.99]', or "
                                    "--betas 0.9,0.99."]),
    # Was "Expected milestones to be a non-empty sequence of integers, but got milestones='2,3'", which did not say
    # that --scheduler-opt values are JSON nor how to write the list.
    "scheduler-opt milestones without brackets": (
        ["--scheduler", "multistep", "--scheduler-opt", "milestones=2,3"],
        ["--scheduler-opt", "but got milestones='2,3' (--scheduler-opt values are read as JSON, and 2,3 is not, so it "
         "was passed as text): write a list, --scheduler-opt 'milestones=[2, 3]'."],
    ),
    # torch's name for the length was "does not take the setting T_max; it accepts: eta_min"; total_iters was
    # answered "Did you mean 'the training's steps (--epochs)'?".
    "scheduler-opt T_max": (["--scheduler", "cosine", "--scheduler-opt", "T_max=100"],
                            ["--scheduler-opt T_max=...: lrfind sets total_steps itself (--scheduler-opt T_max is "
                             "another name for total_steps, the schedule's length); the schedule spans the training"]),
    "scheduler-opt epochs": (["--scheduler", "onecycle", "--scheduler-opt", "epochs=3"],
                             ["--scheduler-opt epochs=...: lrfind sets total_steps itself (--scheduler-opt epochs is "
                              "part of torch's OneCycleLR's other way to give the length, total_steps = epochs * "
                              "steps_per_epoch); the schedule spans the training: --epochs times the steps per "
                              "epoch."]),
    "scheduler-opt total_iters": (["--scheduler", "polynomial", "--scheduler-opt", "total_iters=100"],
                                  ["--scheduler-opt total_iters=...: lrfind sets total_steps itself"]),
    # Given twice, the last --opt (--scheduler-opt) won without a word; --opt won over --momentum/--betas/--eps and
    # lost to --weight-decay, and the summary's optimizer row listed both ("weight_decay=0.2, weight_decay=1e-01").
    "opt twice": (["--opt", "dampening=0.1", "--opt", "dampening=0.2"],
                  ["--opt", "dampening is given twice ('dampening=0.1' and 'dampening=0.2'); give each setting once"]),
    "scheduler-opt twice": (["--scheduler", "cosine", "--scheduler-opt", "eta_min=0.1", "--scheduler-opt", "eta_min=0"],
                            ["--scheduler-opt", "eta_min is given twice"]),
    "opt and weight-decay": (["--weight-decay", "0.1", "--opt", "weight_decay=0.2"],
                             ["--opt weight_decay=0.2 and --weight-decay 0.1 both set weight_decay; give it once, "
                              "with --weight-decay"]),
    "opt and momentum": (["--momentum", "0.5", "--opt", "momentum=0.8"],
                         ["--opt momentum=0.8 and --momentum 0.5 both set momentum"]),
    "opt and betas": (["--optimizer", "adam", "--betas", "0.9,0.99", "--opt", "betas=[0.8,0.9]"],
                      ["--opt betas=[0.8, 0.9] and --betas 0.9,0.99 both set betas"]),
    "opt nesterov dampening": (["--optimizer", "nesterov", "--opt", "dampening=0.1"], ["--opt", "dampening=0"]),
    "opt empty value": (["--opt", "momentum="], ["--opt", "momentum to be a number"]),
    "weight decay the optimizer lacks": (
        ["--optimizer", "SparseAdam", "--weight-decay", "0,1e-4"],
        ["--weight-decay", "'SparseAdam'", "weight_decay"],
    ),
    # Named --warmup-steps (it was "Invalid value for --scheduler-opt", an option not given).
    "warm-up as long as the training": (
        ["--scheduler", "cosine", "--warmup-steps", "4"],
        ["Invalid value for --warmup-steps", "(--epochs 1 x 4 per epoch = 4), but got 4"],
    ),
    "closure optimizer": (["--optimizer", "LBFGS"], ["--optimizer", "LBFGS.step(closure)", "SGD or Adam"]),
    # It ran: Rprop reads lr only as its first step size, so the swept LRs were never used and the curve read
    # "still falling at the largest LR tried: increase max_lr".
    "lr read once": (["--optimizer", "Rprop"], ["--optimizer", "Rprop reads lr once", "SGD or Adam"]),
    # It ran, climbing the cross-entropy: the rise read as a blow-up, "the loss never clearly falls".
    "opt maximize": (["--opt", "maximize=true"], ["--opt maximize=true:", "would climb it", "Drop --opt maximize"]),
    # Any true value climbs as torch's optimizers read it: maximize=1 reached the engine (a failed run, exit 1).
    "opt maximize 1 user optimizer": (
        ["--optimizer", f"{MODULE}:KwargsSGD", "--opt", "maximize=1"],
        ["--opt maximize=1:", "would climb it", "Drop --opt maximize"],
    ),
    "opt maximize 2 user optimizer": (
        ["--optimizer", f"{MODULE}:KwargsSGD", "--opt", "maximize=2"],
        ["--opt maximize=2:", "maximize (2 is true, as torch's optimizers read it) would climb it", "Drop --opt"],
    ),
    # --epochs 1e9 planned a schedule of 4e9 steps: a MemoryError after the data had loaded.
    "schedule too long to plan": (
        ["--scheduler", "cosine", "--epochs", "1000000000"],
        ["Invalid value for --epochs", "at most 1,000,000 optimizer steps", "--epochs 1,000,000,000 x 4 per epoch"],
    ),
}


@pytest.mark.parametrize("case", list(USAGE))
def test_bad_options_exit_2_naming_the_option(work: Path, case: str):
    args, messages = USAGE[case]
    extra = [] if "--num-steps" in args else ["--num-steps", "12"]
    result = invoke("run", "model.pt", "--data", "train.npz", *args, *extra)
    assert_one_line(result, 2, *messages)
    # Nothing ran: no report was written (the default one included).
    assert not (work / "lrfind-report.png").exists()


def test_json_and_csv_take_text_names(work: Path):
    result = invoke("run", "model.pt", "--data", "train.npz", *FAST, "--json", "result", "--csv", "curve.txt")
    assert result.exit_code in (0, 1) and (work / "result").exists() and (work / "curve.txt").exists(), result.output
    assert_one_line(invoke("demo", "--json", "demo.png"), 2, "--json", "ends in .png")
    # An image that is no report format (lrfind fit -o t.jpg saved a model as t.jpg): an image all the same.
    assert_one_line(invoke("demo", "--json", "demo.jpg"), 2, "--json", "ends in .jpg", "an image")
    # .tsv is data as .csv is (lrfind reads it): --json train.tsv wrote the JSON over the user's data.
    assert_one_line(invoke("demo", "--json", "train.tsv"), 2, "--json", "ends in .tsv", "data")


def test_fit_refuses_an_empty_output(work: Path):
    # -o '' trained the model, saved it nowhere and exited 0.
    result = invoke("fit", "model.pt", "--data", "train.npz", "-o", "", *FAST)
    assert_one_line(result, 2, "--output", "got an empty path", "where to save the trained model")


def test_fit_refuses_stdout_as_its_output(work: Path):
    # -o - (stdout to --json and --csv) trained the model and saved it as a file named '-'.
    result = invoke("fit", "model.pt", "--data", "train.npz", "-o", "-", *FAST)
    assert_one_line(result, 2, "--output", "got '-', which is stdout for --json and --csv", "pass its path")
    assert not (work / "-").exists()


@pytest.mark.parametrize(
    "output",
    ["train2.npz", "notes.py", "curve.PNG", "result.json", "lrfind.toml", "x.csv", "x.tsv", "t.jpg", "plot.TIFF"],
)
def test_fit_refuses_an_output_named_as_another_kind_of_file(work: Path, output: str):
    # -o nets.py wrote the trained TorchScript model over the user's source file; -o train.npz over data.
    (work / output).write_text("mine")
    result = invoke("fit", "model.pt", "--data", "train.npz", "-o", output, *FAST)
    assert_one_line(result, 2, "--output", f"ends in {Path(output).suffix.lower()}", "not of a model", ".pt")
    assert (work / output).read_text() == "mine"
    other = invoke("fit", "model.pt", "--data", "train.npz", "-o", "trained.bin", *FAST)  # any other name is taken
    assert other.exit_code != 2 and "--output" not in other.output, other.output


def test_val_data_that_does_not_fit_the_model_fails_before_the_range_test(work: Path):
    model = sha(work / "model.pt")
    for command in (
        ["fit", "model.pt", "--data", "train.npz", "--val-data", "five.npz", "-o", "out.pt", *FAST],
        ["run", "model.pt", "--data", "train.npz", "--val-data", "five.npz", "--refine", "--training-steps", "100",
         *FAST],
    ):  # fmt: skip
        result = invoke(*command)
        line = assert_one_line(result, 1, "--val-data five.npz", "shape (32, 5)", "Check that the data matches")
        assert "Traceback" not in line and "suggested lr" not in result.output
    assert not (work / "out.pt").exists() and sha(work / "model.pt") == model


def test_a_compiled_model_whose_compiler_fails_is_not_blamed_on_the_data(work: Path):
    """A pickled torch.compile model without a C++ compiler: "The model fails on a batch ... Check that the data"."""
    (work / "lrf_no_compiler.py").write_text(
        textwrap.dedent(
            """
            import torch

            class NoCompiler(torch.nn.Module):  # what inductor does on the first forward without a C++ compiler
                def __init__(self):
                    super().__init__()
                    self.net = torch.nn.Linear(10, 3)

                def forward(self, x):
                    from torch._inductor.exc import InductorError

                    raise InductorError(RuntimeError("InvalidCxxCompiler: No working C++ compiler found"), None)
            """
        )
    )
    sys.modules.pop("lrf_no_compiler", None)
    import lrf_no_compiler  # type: ignore[import-not-found]

    torch.save(lrf_no_compiler.NoCompiler(), work / "compiled.pt")
    result = invoke("run", "compiled.pt", "--unsafe-pickle", "--data", "train.npz", *FAST)
    line = assert_one_line(result, 1, "torch.compile could not compile the model (InductorError: ", "not the batch")
    assert "Check that the data" not in line
    sys.modules.pop("lrf_no_compiler", None)


def test_checking_val_data_leaves_the_seeded_run_unchanged(work: Path):
    # The check iterates the validation loader, which draws from torch's global RNG: it runs under a
    # forked RNG, so the range test after it is the one without --val-data.
    curves = []
    for extra in ([], ["--val-data", "train.npz"]):
        result = invoke("run", "model.pt", "--data", f"{MODULE}:shuffled_loader", *FAST, "--json", "r.json", *extra)
        assert result.exit_code == 0, result.output
        curves.append(json.loads((work / "r.json").read_text())["losses"])
    assert curves[0] == curves[1]


def test_a_model_factory_that_needs_arguments_shows_the_model_args_to_pass(work: Path):
    # Was: "Cannot build ...:make_net with --model-args {}: TypeError: make_net() missing 1 required positional
    # argument: 'hidden'. Check --model-args.", of an option that was never given.
    args = ("run", "weights.pt", "--model-class", f"{MODULE}:make_net", "--data", "train.npz", *FAST)
    # A usage error (exit 2): the fix is on the command line. It was a failed run (exit 1).
    assert assert_one_line(invoke(*args), 2) == (
        f"Error: {MODULE}:make_net needs 'hidden', which --model-args does not give. Pass the values the saved model "
        "was built with: --model-args '{\"hidden\": ...}', each ... replaced by its value."
    )
    partial = invoke(*args, "--model-args", '{"classes": 3}')
    assert assert_one_line(partial, 2) == (
        f'Error: {MODULE}:make_net needs \'hidden\', which --model-args {{"classes": 3}} leaves out. Pass the '
        'values the saved model was built with: --model-args \'{"classes": 3, "hidden": ...}\', each ... replaced by '
        "its value."
    )
    proc = subprocess.run([sys.executable, "-m", "lrfinder", *args], capture_output=True, text=True, cwd=work,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 2 and "--model-args '{\"hidden\": ...}'" in proc.stderr and "Traceback" not in proc.stderr
    # Given, the model is built and the test runs.
    built = invoke(*args, "--model-args", '{"hidden": 16}')
    assert built.exit_code == 0 and "suggested lr" in built.stdout, built.output


@pytest.mark.parametrize(
    ("factory", "given", "template", "filled"),
    [
        # Was not checked (a positional-only parameter was not counted as required): Python's "missing 1 required
        # positional argument: 'hidden'" came as a failed run (exit 1), "Check --model-args" and no form to write.
        ("make_net_positional", [], "[...]", "[16]"),
        # Was told '[16, ...]', a list that cannot give a keyword-only argument (too many positional arguments).
        ("make_net_keyword", ["--model-args", "[16]"], '{"hidden": 16, "classes": ...}',
         '{"hidden": 16, "classes": 3}'),  # fmt: skip
    ],
)
def test_the_model_args_shown_are_ones_the_factory_takes(
    work: Path, factory: str, given: list[str], template: str, filled: str
):
    args = ("run", "weights.pt", "--model-class", f"{MODULE}:{factory}", "--data", "train.npz", *FAST)
    line = assert_one_line(invoke(*args, *given), 2, f"{MODULE}:{factory} needs 'hidden'" if not given else "needs",
                           f"--model-args '{template}', each ... replaced by its value.")  # fmt: skip
    assert "Check --model-args" not in line
    built = invoke(*args, "--model-args", filled)  # the form shown, filled in, builds the model
    assert built.exit_code == 0 and "suggested lr" in built.stdout, built.output


def test_a_factory_no_model_args_can_build_is_shown_a_wrapper_with_the_values_given(work: Path):
    # The wrapper's call dropped the values --model-args gave: `def saved_model(): return make_net_both(classes=...)`,
    # which leaves out the hidden=16 typed (positional-only: it cannot be given by name).
    args = ("run", "weights.pt", "--model-class", f"{MODULE}:make_net_both", "--data", "train.npz", *FAST)
    assert assert_one_line(invoke(*args, "--model-args", "[16]"), 2) == (
        f"Error: {MODULE}:make_net_both needs 'classes', which --model-args [16] leaves out. It takes positional-only "
        "and keyword-only arguments, which --model-args (a JSON list or an object, not both) cannot give together. "
        "Add a function without parameters to your module that builds the model, e.g. `def saved_model(): return "
        f"make_net_both(16, classes=...)`, and pass --model-class {MODULE}:saved_model."
    )
    # Keyword values given are kept too, in Python's spelling (true is True), each ... left to fill in.
    line = assert_one_line(invoke(*args, "--model-args", '{"classes": 3, "bias": false}'), 2)
    assert "which --model-args {\"classes\": 3, \"bias\": false} leaves out." in line
    assert "`def saved_model(): return make_net_both(..., classes=3, bias=False)`" in line
    # The wrapper shown, filled in, builds the model.
    (work / "lrf_both_wrapper.py").write_text(
        f"from {MODULE} import make_net_both\n\n\ndef saved_model():\n    return make_net_both(16, classes=3)\n"
    )
    built = invoke("run", "weights.pt", "--model-class", "lrf_both_wrapper:saved_model", "--data", "train.npz", *FAST)
    assert built.exit_code == 0 and "suggested lr" in built.stdout, built.output


def test_model_args_are_shown_as_typed(work: Path):
    # "Cannot build ... with --model-args" showed Python's repr of the parsed JSON ({'hidden': True}, [16, None]),
    # not what the user typed; the checks before the call and the failure of the call alike.
    args = ("run", "weights.pt", "--model-class", f"{MODULE}:make_net", "--data", "train.npz", *FAST)
    unknown = invoke(*args, "--model-args", '{"hidden": 16, "bias": true}')
    assert assert_one_line(unknown, 2) == (
        f'Error: Cannot build {MODULE}:make_net with --model-args {{"hidden": 16, "bias": true}}: got an unexpected '
        "keyword argument 'bias'. Check --model-args."
    )
    failed = invoke(*args, "--model-args", "[16, null]")
    assert failed.exit_code == 1
    assert f"Cannot build {MODULE}:make_net with --model-args [16, null]: TypeError: " in failed.output, failed.output


def test_a_data_function_that_needs_arguments_is_told_how_to_wrap_it(work: Path):
    # Was: "The data function ...:needs_path failed: TypeError: needs_path() missing 1 required positional argument:
    # 'path'.", with no word that lrfind has no option to pass it, nor what to do.
    result = invoke("run", "model.pt", "--data", f"{MODULE}:needs_path", *FAST)
    # A usage error (exit 2), as a function that does not import is: lrfind cannot call it. It was exit 1.
    assert assert_one_line(result, 2) == (
        f"Error: The data function {MODULE}:needs_path needs the argument 'path', but --data calls it with no "
        "arguments (there is no option to pass them). Add a function without parameters to your module that calls "
        f"it, e.g. `def train_data(): return needs_path(path=...)`, and pass --data {MODULE}:train_data."
    )
    val = invoke("run", "model.pt", "--data", "train.npz", "--val-data", f"{MODULE}:needs_root_split", "--refine",
                 *FAST)  # fmt: skip
    assert assert_one_line(val, 2) == (
        f"Error: The data function {MODULE}:needs_root_split needs the arguments 'root', 'split', but --val-data "
        "calls it with no arguments (there is no option to pass them). Add a function without parameters to your "
        "module that calls it, e.g. `def validation_data(): return needs_root_split(..., split=...)`, and pass "
        f"--val-data {MODULE}:validation_data."
    )
    assert "suggested lr" not in result.output + val.output
    # One without parameters is called as before.
    assert invoke("run", "model.pt", "--data", f"{MODULE}:arrays_dict", *FAST).exit_code == 0


def test_fit_in_float16_on_the_cpu_is_a_usage_error(work: Path):
    # Lightning trains 16-mixed on the CPU as bf16-mixed (a warning): the test ran in float16, training in
    # bfloat16, and a TorchScript model failed on the mix with a TorchScript interpreter dump.
    result = invoke("fit", "model.pt", "--data", "train.npz", "--precision", "16-mixed", "--device", "cpu",
                    "-o", "out.pt", *FAST)  # fmt: skip
    assert_one_line(result, 2, "--precision", "bf16-mixed", "GPU")
    assert "suggested lr" not in result.output and not (work / "out.pt").exists()
    # run's range test takes float16 autocast on the CPU.
    assert invoke("run", "model.pt", "--data", "train.npz", "--precision", "16-mixed", "--device", "cpu",
                  *FAST).exit_code == 0  # fmt: skip


def test_an_inconclusive_curve_advises_options_not_parameters(work: Path):
    # The curve's message advised range_test's parameters ("lower min_lr ... increase num_steps"); the
    # CLI's user sets them with --min-lr and --num-steps.
    result = invoke("fit", "model.pt", "--data", "train.npz", "--max-lr", "1e-6", "-o", "out.pt", *FAST)
    line = assert_one_line(result, 1, "inconclusive", "--num-steps")
    assert not re.search(r"(?<![-\w])(min_lr|max_lr|num_steps)\b", line), line
    summary = invoke("run", "model.pt", "--data", "train.npz", "--max-lr", "1e-6", *FAST)
    assert summary.exit_code == 0 and "--num-steps" in summary.stdout
    assert not re.search(r"(?<![-\w])(min_lr|max_lr|num_steps)\b", summary.stdout), summary.stdout
    assert not (work / "out.pt").exists()


PYTHON_NAMES = re.compile(
    r"(?<![-\w.])(min_lr|max_lr|num_steps|stop_factor|total_steps|warmup_steps|val_data)\b|cap=True"
)


def test_engine_errors_warnings_and_schedule_refusals_name_options_not_parameters(work: Path):
    # Only the summary and the inconclusive curve's error were put in the CLI's words. An engine error
    # ("plan at most 4 batches (num_steps x accumulation)"), the scaled LR's advice ("Use cap=True"), a
    # schedule's refusal ("raise total_steps") and its warning, printed as Python's
    # "/path/schedulers.py:497: UserWarning: ... (total_steps - warmup_steps)" with a source line, did not.
    engine = invoke("run", "model.pt", "--data", f"{MODULE}:runs_out", "--num-steps", "20", "--no-report")
    line = assert_one_line(engine, 1, "ran out after 4 batches", "(--num-steps x accumulation)")
    assert not PYTHON_NAMES.search(line), line
    scaled = invoke("run", "model.pt", "--data", "train.npz", "--num-steps", "30", "--no-report", "--rule",
                    "steepest", "--target-batch-size", "128", "--scaling", "linear")  # fmt: skip
    text = " ".join(scaled.output.split())
    assert scaled.exit_code == 0 and "past the divergence point" in text, scaled.output
    assert "Use a milder --scaling rule" in text and not PYTHON_NAMES.search(text)
    three_phase = invoke("run", "model.pt", "--data", "train.npz", *FAST, "--batch-size", "64", "--scheduler",
                         "onecycle", "--scheduler-opt", "three_phase=true")  # fmt: skip
    line = assert_one_line(three_phase, 2, "--scheduler-opt", "the training's steps (--epochs) or pct_start")
    assert not PYTHON_NAMES.search(line), line
    # A real process: pytest records warnings, so only there are they printed as the user sees them.
    short = subprocess.run(
        [sys.executable, "-m", "lrfinder", "run", "model.pt", "--data", "train.npz", "--num-steps", "30",
         "--no-report", "--batch-size", "64", "--max-lr", "100", "--scheduler", "onecycle"],
        cwd=work, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert short.returncode == 0, short.stderr
    said = [line for line in short.stderr.splitlines() if "no room to rise" in line]
    assert len(said) == 1 and said[0].startswith("warning: onecycle over 2 steps (the training's steps after "
                                                 "--warmup-steps)"), short.stderr  # fmt: skip
    assert "Warning" not in short.stderr and ".py:" not in short.stderr and not PYTHON_NAMES.search(short.stderr)


def test_the_report_of_a_command_names_options_not_parameters(work: Path, monkeypatch: pytest.MonkeyPatch):
    # The report drew the scaled LR's warning as the library wrote it ("Use cap=True to clamp it"), though the
    # summary above it said "Use a milder --scaling rule"; `lrfind report` of the JSON did the same.
    # Room for every header line: the analysis' notes on this curve vary, and the header cuts what does not fit.
    monkeypatch.setattr("lrfinder.report._HEADER_ROOM", 30)
    result = invoke("run", "model.pt", "--data", "train.npz", "--num-steps", "30", "--rule", "steepest",
                    "--target-batch-size", "128", "--scaling", "linear", "--report", "r.svg",
                    "--json", "r.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "cap=True" in (work / "r.json").read_text()  # the JSON is the library's record, kept as it is
    assert invoke("report", "r.json", "--report", "again.svg").exit_code == 0
    for name in ("r.svg", "again.svg"):
        svg = (work / name).read_text()
        assert "past the divergence point" in svg and "scaling rule" in svg and "cap=True" not in svg, name


def test_scaling_noise_without_a_measured_noise_scale_names_the_cli_choices(
    work: Path, monkeypatch: pytest.MonkeyPatch
):
    engine = importlib.import_module("lrfinder.range_test")  # sys.modules lacked it in a run of this test alone
    # The library's advice was "Run range_test(..., noise_scale=True), or use rule='linear'": the CLI always
    # measures, and its choice is --scaling.
    monkeypatch.setattr(engine, "noise_after_sweep", lambda *a, **k: (None, "too few steps."))
    result = invoke("run", "model.pt", "--data", "train.npz", "--scaling", "noise", "--target-batch-size", "64",
                    "--json", "r.json", "--num-steps", "60", "--max-lr", "100", "--no-report")  # fmt: skip
    line = assert_one_line(result, 1, "--scaling noise", "(too few steps)", "--scaling auto", "linear or sqrt")
    assert "range_test" not in line and "rule=" not in line and not (work / "r.json").exists()


def test_plateau_without_validation_data_is_a_usage_error(work: Path):
    result = invoke("fit", "model.pt", "--data", "train.npz", "--scheduler", "plateau", "-o", "out.pt", *FAST)
    assert_one_line(result, 2, "--scheduler plateau", "val_loss", "--val-data")
    assert "suggested lr" not in result.output and not (work / "out.pt").exists()


def test_refine_with_too_short_a_training_names_the_cli_options(work: Path):
    # 128 rows in batches of 32: a one-epoch training of 4 steps, too short for trials.
    result = invoke("run", "model.pt", "--data", "train.npz", "--refine", *FAST)
    line = assert_one_line(result, 2, "--refine", "4 optimizer steps", "--training-steps", "--epochs")
    assert "training_steps=" not in line and "budget=" not in line
    assert "suggested lr" not in result.output


def test_an_optimizer_setting_of_the_wrong_type_is_named(work: Path):
    result = invoke("run", "model.pt", "--data", "train.npz", "--opt", "momentum=abc", *FAST)
    line = assert_one_line(result, 2, "--opt", "momentum", "'abc'", "number")
    assert "not supported between" not in line


def test_an_optimizer_setting_torch_compares_is_named(work: Path):
    # torch's check compared the string first: "'<=' not supported between instances of 'float' and 'str'".
    result = invoke("run", "model.pt", "--data", "train.npz", "--optimizer", "adam", "--opt", "eps=abc", *FAST)
    line = assert_one_line(result, 2, "--opt", "Expected eps to be a number", "eps='abc'", "eps=1e-08")
    assert "not supported between" not in line


def test_an_optimizer_that_cannot_be_built_on_a_stand_in_is_left_to_the_model(work: Path):
    # Muon takes only 2-D parameters: the stand-in cannot judge its settings, the real model does. The model takes
    # adamw, so the refusal is the option's: a usage error (exit 2) like every other refused --optimizer, not exit 1.
    if not hasattr(torch.optim, "Muon"):
        pytest.skip("this torch has no torch.optim.Muon")
    inputs = {p: sha(work / p) for p in ("model.pt", "train.npz")}
    result = invoke("run", "model.pt", "--data", "train.npz", "--optimizer", "Muon", "--json", "r.json", *FAST)
    line = assert_one_line(
        result, 2, "Invalid value for --optimizer: ", "Optimizer 'Muon' (Muon) steps 2-D weight matrices only",
        "--optimizer adamw",
    )
    assert "suggested lr" not in result.output and not (work / "r.json").exists(), line
    assert {p: sha(work / p) for p in inputs} == inputs


@pytest.mark.parametrize("suffix", [".safetensors", ".onnx", ".toml", ".yaml", ".yml", ".pt", ".csv", ".png"])
def test_to_json_and_lrfind_json_refuse_the_same_extensions(work: Path, suffix: str):
    # to_json refused .safetensors/.onnx and wrote over a config.toml; lrfind --json the other way round.
    from lrfinder import RangeTestResult

    path = work / f"out{suffix}"
    path.write_bytes(b"keep me")
    line = assert_one_line(invoke("run", "model.pt", "--data", "train.npz", "--json", path.name, *FAST), 2, "--json")
    with pytest.raises(ValueError) as info:
        RangeTestResult(lrs=(1e-3, 1e-2), losses=(1.0, 2.0), stop_reason="completed").to_json(path)
    kind = rf"ends in {re.escape(suffix)}, the extension of ([a-zA-Z ]+)"
    kinds = [re.search(kind, text) for text in (line, str(info.value))]
    assert all(kinds) and kinds[0][1] == kinds[1][1], (line, str(info.value))  # type: ignore[index]
    assert path.read_bytes() == b"keep me"


@pytest.mark.slow  # 4 processes; in process: test_bad_options_exit_2_naming_the_option,
# test_an_optimizer_setting_of_the_wrong_type_is_named (the same usage errors through CliRunner)
def test_usage_errors_from_a_real_process_exit_2_and_leave_the_inputs(work: Path):
    inputs = {p: sha(work / p) for p in ("model.pt", "train.npz")}
    for args in (
        ["--model-args", "{bad"],
        ["--momentum", "-1"],
        ["--optimizer", "adam", "--betas", "2,0.9"],
        ["--opt", "momentum=abc"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "lrfinder", "run", "model.pt", "--data", "train.npz", *args, *FAST],
            cwd=work, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode == 2, (args, proc.stderr)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and args[-2] in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert {p: sha(work / p) for p in inputs} == inputs


def test_csv_without_target_is_a_usage_error(work: Path):
    result = invoke("run", "model.pt", "--data", "train.csv", *FAST)
    assert_one_line(result, 2, "--target", "train.csv", "CSV")
    result = invoke("fit", "model.pt", "--data", "train.npz", "--val-data", "train.csv", "-o", "out.pt", *FAST)
    assert_one_line(result, 2, "--val-data train.csv", "--target")


FAILED = {
    "empty model file": (["empty.pt", "--data", "train.npz"], ["empty.pt", "is empty (0 bytes)"]),
    "empty .pt data": (["model.pt", "--data", "empty_data.pt"], ["empty_data.pt", "is empty (0 bytes)"]),
    "truncated model": (["cut_model.pt", "--data", "train.npz"], ["cut_model.pt", "truncated or damaged", "again"]),
    "truncated npz": (["model.pt", "--data", "cut.npz"], ["cut.npz starts like a .npz archive", "truncated"]),
    "empty npz": (["model.pt", "--data", "nothing.npz"], ["nothing.npz holds no arrays", "numpy.savez"]),
    "binary csv": (["model.pt", "--data", "binary.csv", "--target", "b"], ["binary.csv is not UTF-8", "header"]),
    "a Dataset that returns None for a record": (  # torch's bare "default_collate: batch must contain tensors ..."
        ["model.pt", "--data", f"{MODULE}:unreadable_records"],
        ["The DataLoader's default collate_fn could not put the examples of batch 0 of the pass into one batch",
         "an example is None (a Dataset that returns None for a record it cannot read). Drop such examples"],
    ),
    "sparse inputs in a .pt file": (  # torch's "Could not run 'aten::ne.Scalar' ... 'SparseCPU' backend" (round 9)
        ["model.pt", "--data", "sparse.pt"],
        ["The inputs in sparse.pt are a sparse matrix (torch.Tensor), which lrfind does not read. Store them dense: "
         "x.to_dense() for a torch tensor"],
    ),
    "a scipy sparse matrix from a data function": (  # "can't convert np.ndarray of type numpy.object_"
        ["model.pt", "--data", f"{MODULE}:tfidf_like"],
        [f"The inputs in {MODULE}:tfidf_like are a sparse matrix (scipy.sparse.", "x.toarray() for a scipy matrix"],
    ),
    "csv of the label column alone": (  # the model failed on inputs of shape (32, 0) (fuzz round 9)
        ["model.pt", "--data", "label_only.csv", "--target", "label"],
        ["label_only.csv has the label column 'label' alone: no input columns for the model"],
    ),
    "csv whose lines end in a delimiter": (  # "The inputs ... contain 40 NaN/inf value(s) (first in row 0)"
        ["model.pt", "--data", "trailing.csv", "--target", "label"],
        ["trailing.csv: column 4 has no name and is empty in every row: each line ends in a delimiter. Remove the "
         "trailing delimiters."],
    ),
    "csv with a nameless column empty in every row, not the last": (  # said "each line ends in a delimiter"
        ["model.pt", "--data", "empty_middle.csv", "--target", "label"],
        ["empty_middle.csv: column 2 has no name and is empty in every row (two delimiters in a row on each line). "
         "Remove the column."],
    ),
    "csv with a column empty in every row": (
        ["model.pt", "--data", "blank_column.csv", "--target", "label"],
        ["blank_column.csv: column 'b' is empty in every row. Fill it in or remove the column"],
    ),
    "csv without a header row": (
        ["model.pt", "--data", "noheader.csv", "--target", "label"],
        ["noheader.csv has no header row", "first line holds numbers (0, 0, 0)", "Add a first line naming"],
    ),
    "DataModule without train_dataloader": (
        ["model.pt", "--data", f"{MODULE}:no_train_loader"],
        [f"The LightningDataModule from {MODULE}:no_train_loader failed", "train_dataloader"],
    ),
    "empty Dataset": (["model.pt", "--data", f"{MODULE}:empty_set"], [f"{MODULE}:empty_set is empty (0 samples)"]),
    "empty DataLoader": (["model.pt", "--data", f"{MODULE}:empty_loader"], [f"{MODULE}:empty_loader is empty"]),
    "no parameters": (["noparams.pt", "--data", "train.npz"], ["(NoParams) has no parameters at all", "to train"]),
    "label out of range in a later batch": (
        ["model.pt", "--data", "late_label.npz"],
        ["class labels from 0 to 7", "outputs 3 class scores", "labels 0 to 2", "8 outputs"],
    ),
    "negative class labels": (
        ["model.pt", "--data", "neg_label.npz"],
        ["class labels from -1 to 1", "labels 0 to 2", "a negative label is no class index"],
    ),
    "class labels for one output": (
        ["one_output.pt", "--data", "binary.npz"],
        ["class labels from 0 to 1", "one score per sample", "--loss mse", "--loss bce_with_logits"],
    ),
    "regression targets with --loss bce_with_logits": (  # ran, and suggested an LR off a loss with no lower bound
        ["one_output.pt", "--data", "counts.npz", "--loss", "bce_with_logits"],
        ["--loss bce_with_logits takes targets in [0, 1] (0/1 labels, or probabilities), but the targets range from",
         "For real-valued targets pass --loss mse"],
    ),
    "whole-number float targets with --loss cross_entropy": (  # torch's "Target 158 is out of bounds" was all
        ["one_output.pt", "--data", "counts.npz", "--loss", "cross_entropy"],
        ["The targets hold class labels from", "the model outputs one score per sample", "pass --loss mse"],
    ),
    "real-valued targets with --loss cross_entropy": (  # ran, on the targets cut to 0, 1 and 2 (fuzz round 9)
        ["model.pt", "--data", "real.npz", "--loss", "cross_entropy"],
        ["The targets are real numbers (0.1 among them), not class labels: --loss cross_entropy takes "
         "whole-number class labels, 0 up to the model's outputs (3) less one, and would cut 0.1 to 0. For "
         "real-valued targets pass --loss mse"],
    ),
    "real-valued targets with --loss nll": (
        ["model.pt", "--data", "real.npz", "--loss", "nll"], ["The targets are real numbers", "--loss nll takes"],
    ),
    "weights of a torch.compile'd model": (  # said "pass the wrapping class", which OptimizedModule cannot be
        ["compiled_weights.pt", "--model-class", f"{MODULE}:make_net", "--model-args", '{"hidden": 16}', "--data",
         "train.npz"],
        ["the weights are of a torch.compile'd model (it holds the model as '_orig_mod')",
         "(compiled._orig_mod.state_dict()), or pass as --model-class a function that returns "
         "torch.compile(YourModel(...))."],
    ),
    "weights of an AveragedModel (SWA/EMA)": (  # said "the saved weights name other layers than the model's"
        ["averaged_weights.pt", "--model-class", f"{MODULE}:make_net", "--model-args", '{"hidden": 16}', "--data",
         "train.npz"],
        ["the weights are of a torch.optim.swa_utils.AveragedModel (an SWA or EMA of the model, held as 'module')",
         "Save the averaged model's own state_dict (swa_model.module.state_dict()) and pass that file."],
    ),
    "images without their channel dimension": (  # torch's "expected input[1, 32, 5, 2] to have 1 channels" was all
        ["conv.pt", "--data", "images.npz"],
        ["The inputs lack the channel dimension: the model's first convolution takes 1 channel and read the batch "
         "of 32 samples as one sample of 32 channels. Store the inputs as (samples, 1, 5, 2) (numpy: x[:, None])."],
    ),
    "token ids from a CSV for an embedding": (  # torch's "'indices' ... but got torch.FloatTensor" was all
        ["token_lm.pt", "--data", "tokens.csv", "--target", "label"],
        ["The model takes integer indices (token ids, as an nn.Embedding does) and the inputs are float32",
         "store them as int64 in a .npz or .pt file", "a .csv file's input columns are read as float32"],
    ),
    "multi-label 0/1 targets stored as integers": (  # torch's "Expected floating point type for target" was all
        ["model.pt", "--data", "multi_hot.npz"],
        ["(shape (32, 3), int64) with --loss cross_entropy", "0/1 for each of the 3 outputs (multi-label",
         "pass --loss bce_with_logits."],
    ),
    "class labels stored as floats": (
        ["model.pt", "--data", "float_labels.npz"],
        ["shape (32, 3)", "--loss mse", "class labels for the 3 outputs", "pass --loss cross_entropy"],
    ),
    "IterableDataset with --scheduler": (
        ["model.pt", "--data", f"{MODULE}:stream", "--scheduler", "cosine"],
        [f"{MODULE}:stream has no length", "--scheduler must count", "__len__", "or drop --scheduler"],
    ),
    "a model returning a tuple": (
        ["tuple_out.pt", "--data", "train.npz"],
        ["returns a tuple of 2 tensors of shapes (32, 3), (32, 10), not a tensor", "Make forward return"],
    ),
    "samples of three tensors": (
        ["model.pt", "--data", f"{MODULE}:triple_set"],
        ["batches of a list of 3 tensors", "(inputs, targets) pairs", "LightningModule"],
    ),
    "integer inputs for a float model": (
        ["model.pt", "--data", "int_inputs.npz"],
        ["The inputs are int64 and the model's weights float32", "store the inputs as float32"],
    ),
    "BatchNorm and a last batch of one sample": (
        ["batchnorm.pt", "--data", "n33.npz"],
        ["last batch of each pass holds 1 sample (33 samples in batches of 32)", "Expected more than 1 value",
         "--batch-size that divides 33"],
    ),
    "csv with two columns named as the target": (  # the first, 0.5 in every row, was read as the labels (--loss mse)
        ["model.pt", "--data", "two_labels.csv", "--target", "label"],
        ["two_labels.csv has 2 columns named 'label' (columns 3, 4), so --target cannot tell the label column. Give "
         "the columns distinct names."],
    ),
    "a pickled model on the meta device": (  # torch's "Cannot copy out of meta tensor; no data! Please use ..."
        ["meta_model.pt", "--unsafe-pickle", "--data", "train.npz"],
        ["meta_model.pt: The model has 4 parameters or buffers on the meta device (first: 0.weight)",
         "Materialize the model first", "Then save it again."],
    ),
    "a state_dict on the meta device": (  # "torch refused the weights. Check --model-class and --model-args."
        ["meta_weights.pt", "--model-class", f"{MODULE}:make_net", "--model-args", '{"hidden": 16}', "--data",
         "train.npz"],
        ["The state_dict in meta_weights.pt has 4 tensors on the meta device (first: 0.weight): shapes without "
         "values", "Save the state_dict of the model once its weights hold values."],
    ),
    "data on the meta device": (  # torch's "Tensor.item() cannot be called on meta tensors", naming no file
        ["model.pt", "--data", "meta_data.pt"],
        ["The inputs in meta_data.pt are on the meta device: a shape without values."],
    ),
    "a state_dict of uninitialized lazy modules": (  # told to pass --unsafe-pickle, then "unpickled to a OrderedDict"
        ["lazy_weights.pt", "--unsafe-pickle", "--model-class", f"{MODULE}:make_net", "--data", "train.npz"],
        ["lazy_weights.pt holds uninitialized parameters of torch.nn.Lazy* modules", "saved before the model's first "
         "forward pass", "Run one batch through the model (model(x)), then save it again."],
    ),
    "float8 inputs": (  # torch's '"isfinite" not implemented for 'Float8_e4m3fn'', naming no file
        ["model.pt", "--data", "float8.pt"],
        ["The inputs in float8.pt are float8_e4m3fn, a storage type no model layer computes with. Store them as "
         "float32"],
    ),
    "class labels stored as a column": (  # torch's "0D or 1D target tensor expected, multi-target not supported"
        ["model.pt", "--data", "label_column.npz"],
        ["(shape (32, 1), int64) with --loss cross_entropy", "The class labels are stored as a column, shape (32, 1): "
         "store them flat, one label per sample, shape (N,): y.ravel() in numpy"],
    ),
    "csv with pandas' index column": (  # read as an 11th input: "mat1 and mat2 shapes cannot be multiplied"
        ["model.pt", "--data", "indexed.csv", "--target", "label"],
        ["indexed.csv: column 1 has no name and holds a distinct whole number in each row (0, 37, 74, ...): the row "
         "index pandas writes with df.to_csv(path), not an input. Write the file with df.to_csv(path, index=False), "
         "or remove the column."],
    ),
    "TorchScript shape error": (
        ["model.pt", "--data", "five.npz"],
        ["shape (32, 5)", "mat1 and mat2 shapes cannot be multiplied", "Check that the data matches the model."],
    ),
}


# A file of another kind in MODEL's or --data's place (the arguments swapped, a result given to run) was a failed
# run (exit 1, "an error in the model"): the fix is on the command line, as for a --data file lrfind does not read.
SWAPPED = {
    # A zip torch.save did not write, other bytes under a torch or .npz name, as --data: exit 1, as MODEL exit 2.
    "a zip archive torch did not write as the data": (
        ["model.pt", "--data", "notes.pt"],
        ["notes.pt is a zip archive, but not one torch.save wrote (it holds notes.txt): pass the data file itself"],
    ),
    "garbage npz": (["model.pt", "--data", "garbage.npz"], ["garbage.npz is not a .npz archive", "numpy.savez"]),
    "text as .pt data": (["model.pt", "--data", "text.pt"], ["text.pt is not a PyTorch file", "torch.save({'x'"]),
    # The model's source file as MODEL was "not a PyTorch file" alone, naming neither the saved model nor --model-class.
    "python source as the model": (
        [f"{MODULE}.py", "--data", "train.npz"],
        [f"{MODULE}.py is not a PyTorch file", "It is Python source: save the model and pass that file as MODEL",
         f"or save its state_dict and pass --model-class {MODULE}:YourClass."],
    ),
    "npz as the model": (["train.npz", "--data", "train.npz"], ["train.npz is a numpy .npz archive", "--data"]),
    "model as the data": (["model.pt", "--data", "model.pt"], ["model.pt is a TorchScript model, not data", "MODEL"]),
    # A data file of a kind lrfind does not read, as a lone .npy is (exit 2): a pickle was a failed run (exit 1).
    "data saved with pickle.dump": (  # torch warned "... please file an issue", then "holds pickled Python objects"
        ["model.pt", "--data", "pickled_data.pt"],
        ["pickled_data.pt is a plain Python pickle (pickle.dump or joblib.dump), not a torch.save file. Save a dict "
         "of tensors: torch.save({'x': x, 'y': y}, path)"],
    ),
    # A model of a kind torch cannot read, as the same pickle as --data above: a failed run (exit 1) was the model's
    # fault, and before that it was told it was saved with torch.save(model), to pass --unsafe-pickle.
    "a model saved with pickle.dump": (
        ["pickled.pkl", "--data", "train.npz"],
        ["pickled.pkl is a plain Python pickle (pickle.dump or joblib.dump), not a torch.save file, and torch.load "
         "cannot read it (--unsafe-pickle or not). Save the model again with torch.jit.save(torch.jit.script(model), "
         "path), or save torch.save(model.state_dict(), path) and pass --model-class."],
    ),
    "a model saved with pickle.dump, with --unsafe-pickle": (  # torch's "Invalid magic number; corrupt file?"
        ["pickled.pkl", "--unsafe-pickle", "--data", "train.npz"], ["pickled.pkl is a plain Python pickle"],
    ),
    # It said "and as --data a dict of tensors" of the --val-data file too.
    "model as the val data": (
        ["model.pt", "--data", "train.npz", "--val-data", "model.pt"],
        ["model.pt is a TorchScript model, not data. Pass it as MODEL, and as --val-data a dict of tensors"],
    ),
    "csv as the model": (
        ["train.csv", "--data", "model.pt"],
        ["train.csv is not a PyTorch file", "It is a CSV file, i.e. data: pass the model file as MODEL and the data "
         "with --data"],
    ),
    "npy as the model": (
        ["x.npy", "--data", "train.npz"], ["x.npy is not a PyTorch file", "It is a numpy .npy array, i.e. data"],
    ),
    "result as the model": (
        ["saved.json", "--data", "train.npz"],
        ["saved.json is not a PyTorch file", "drawn again with lrfind report FILE"],
    ),
}


@pytest.mark.parametrize("case", list(SWAPPED))
def test_a_file_of_another_kind_as_model_or_data_is_a_usage_error(work: Path, case: str):
    args, messages = SWAPPED[case]
    assert_one_line(invoke("run", *args, *FAST), 2, *messages)


SAVE_A_MODEL = (
    "Save the model as TorchScript (torch.jit.save(torch.jit.script(model), path)), or its state_dict "
    "(torch.save(model.state_dict(), path)) and pass --model-class; a Lightning .ckpt loads with --model-class too."
)

# A MODEL file lrfind does not read was a failed run (exit 1, "an error in the model") unless it was data or a result:
# the fix is to save the model in a format it reads, a usage error (exit 2) as for a --data file of such a kind.
NOT_A_MODEL = {
    "random bytes": ("random.pt", [f"random.pt is not a PyTorch file (neither a torch.save archive nor a pickle). "
                                   f"{SAVE_A_MODEL}"]),
    "text": ("notes.pt", ["notes.pt is not a PyTorch file", SAVE_A_MODEL]),
    "a zipped model file": (  # torch's "[enforce fail at inline_container.cc:180] . file in archive is not in a ..."
        "zipped_model.zip",
        ["zipped_model.zip is a zip archive of files (model.pt): unzip it and pass the model file itself"],
    ),
    "a zip archive torch did not write": (
        "plain.zip", ["plain.zip is a zip archive, but not one torch.save wrote (it holds notes.txt): pass the model"],
    ),
    "a Keras HDF5 file": (
        "keras.h5", ["keras.h5 is not a PyTorch file", "It is an HDF5 file (as Keras's model.save writes .h5)",
                     SAVE_A_MODEL],
    ),
    "an ONNX model": ("model.onnx", ["It is named as an ONNX model, a graph for inference", SAVE_A_MODEL]),
    "a tensor saved with torch.save": ("tensor.pt", [f"tensor.pt holds a Tensor, not a model. {SAVE_A_MODEL}"]),
    "a list saved with torch.save": ("list.pt", [f"list.pt holds a list, not a model. {SAVE_A_MODEL}"]),
    "data saved as an (x, y) pair": (
        "pair.pt", ["pair.pt holds an (x, y) pair of tensors, i.e. data, not a model. Pass the model file as MODEL "
                    "and this with --data."],
    ),
}


@pytest.mark.parametrize("case", list(NOT_A_MODEL))
def test_a_model_file_lrfind_does_not_read_is_a_usage_error(work: Path, case: str):
    (work / "notes.pt").write_text("not a model\n")
    with zipfile.ZipFile(work / "plain.zip", "w") as archive:
        archive.writestr("notes.txt", "not a model")
    (work / "keras.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(200))
    (work / "model.onnx").write_bytes(b"\x08\x07\x12\x07pytorch" + bytes(64))
    torch.save(torch.zeros(3), work / "tensor.pt")
    torch.save([1, 2, 3], work / "list.pt")
    torch.save((torch.zeros(8, 10), torch.zeros(8, dtype=torch.long)), work / "pair.pt")
    name, messages = NOT_A_MODEL[case]
    digest = sha(work / name)
    for command in ("run", "fit"):
        output = ["-o", "out.pt"] if command == "fit" else []
        assert_one_line(invoke(command, name, "--data", "train.npz", *FAST, *output), 2, *messages)
    assert sha(work / name) == digest and not (work / "out.pt").exists()



@pytest.mark.slow  # in process: test_a_file_of_another_kind_as_model_or_data_is_a_usage_error["csv as the model"]
def test_swapped_arguments_exit_2_from_a_real_process(work: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "lrfinder", "fit", "train.csv", "--data", "model.pt", "-o", "out.pt", *FAST],
        cwd=work, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "It is a CSV file, i.e. data" in proc.stderr and "Traceback" not in proc.stderr
    assert not (work / "out.pt").exists()


@pytest.mark.parametrize("case", list(FAILED))
def test_failed_runs_exit_1_naming_the_file_and_what_to_do(work: Path, case: str):
    args, messages = FAILED[case]
    line = assert_one_line(invoke("run", *args, *FAST), 1, *messages)
    for vague in (
        "IndexError", "allow_pickle", "saved with torch.save(model)", "num_samples", "codec", ".. ", "StopIteration",
        "weights_only", "inline_container", "out of bounds", "shuffle", "step_fn", "range_test", "shape tuple",
        "Traceback of TorchScript", "drop_last", "KeyError",
    ):  # fmt: skip
        assert vague not in line
    # lrfinder's own messages read without an exception type in front (a message naming
    # TorchScript was taken for an interpreter dump and got one: "Error: ModelError: ...").
    assert not re.match(r"Error: \w+(Error|Exception):", line), line


@pytest.mark.parametrize("data", [("--x-key", "y", "--y-key", "x"), ("swapped.npz",)])
def test_inputs_and_targets_swapped_are_named_as_swapped(work: Path, data: tuple[str, ...]):
    # The labels reached the model as its inputs and the message said only "The inputs are int64 and the model's
    # weights float32: store the inputs as float32": cast as told, they failed again, on the shape.
    x = torch.randn(128, 10, generator=torch.Generator().manual_seed(0))
    np.savez(work / "swapped.npz", x=x[:, :3].argmax(1).numpy(), y=x.numpy())
    args = ("--data", "train.npz", *data) if data[0].startswith("--") else ("--data", *data)
    line = assert_one_line(
        invoke("run", "model.pt", *args, *FAST),
        1,
        "The inputs hold one value per sample (shape (32,), int64) and the targets a row of 10 (shape (32, 10), "
        "float32): they look swapped.",
        "--x-key (the inputs) and --y-key (the targets)",
    )
    assert "store the inputs as float32" not in line


@pytest.mark.parametrize(
    ("saved", "said"),
    [
        ("dataset", ["(a TensorDataset, torch.utils.data.dataset.TensorDataset)", "--unsafe-pickle is for MODEL only",
                     "or pass a function that returns the Dataset: --data package.module:function."]),
        ("numpy", ["(numpy arrays)", "torch.from_numpy(x)", "numpy.savez(path, x=x, y=y)"]),
    ],
)
def test_a_pickled_data_file_names_what_it_holds_and_the_way_in(work: Path, saved: str, said: list[str]):
    # Both said only "holds pickled Python objects, which are not loaded (loading a pickle runs code). Save a dict of
    # tensors", and --unsafe-pickle, which that suggests, changed nothing: it opens MODEL only.
    x = torch.randn(64, 10, generator=torch.Generator().manual_seed(0))
    y = x[:, :3].argmax(1)
    data = torch.utils.data.TensorDataset(x, y) if saved == "dataset" else {"x": x.numpy(), "y": y.numpy()}
    torch.save(data, work / "saved.pt")
    # A usage error (exit 2), as a lone .npy as --data is: it was a failed run (exit 1), as if the data were at fault.
    assert_one_line(invoke("run", "model.pt", "--data", "saved.pt", "--unsafe-pickle", *FAST), 2, *said)
    np.save(work / "x.npy", x.numpy())
    assert_one_line(invoke("run", "model.pt", "--data", "x.npy", *FAST), 2, "Unknown data format '.npy'")
    # A Lightning checkpoint as the data is the arguments swapped, as a TorchScript model is.
    torch.save({"pytorch-lightning_version": "2.6.6", "state_dict": {}}, work / "last.ckpt.pt")
    assert_one_line(invoke("run", "model.pt", "--data", "last.ckpt.pt", *FAST), 2,
                    "last.ckpt.pt is a Lightning checkpoint, not data. Pass it as MODEL")  # fmt: skip


def test_token_ids_one_per_sample_out_of_an_embeddings_range_are_not_called_swapped(work: Path):
    # One id per sample and a row of targets each is also an embedding regression; its range error is no swap.
    torch.jit.save(torch.jit.script(nn.Embedding(5, 4)), str(work / "embedding.pt"))
    ids = torch.arange(64) % 9  # ids up to 8 for 5 rows
    np.savez(work / "ids.npz", x=ids.numpy(), y=torch.randn(64, 4).numpy())
    line = assert_one_line(invoke("run", "embedding.pt", "--data", "ids.npz", *FAST), 1, "index out of range")
    assert "swapped" not in line


def test_one_float_feature_per_sample_for_a_one_feature_model_is_told_to_be_a_column(work: Path):
    # A scalar feature and three targets per sample, saved as they are: it was said to look swapped, which the
    # model (Linear(1, 3)) would refuse as well. Where its first layer takes the targets' width, it is a swap.
    x, y = torch.randn(64), torch.randn(64, 3)
    np.savez(work / "scalar.npz", x=x.numpy(), y=y.numpy())
    torch.jit.save(torch.jit.script(nn.Linear(1, 3)), str(work / "one_in.pt"))
    torch.jit.save(torch.jit.script(nn.Linear(3, 1)), str(work / "three_in.pt"))
    column = "the model's first layer takes one feature: store the inputs as a column, shape (samples, 1)"
    one_in = invoke("run", "one_in.pt", "--data", "scalar.npz", "--loss", "mse", *FAST)
    assert "swapped" not in assert_one_line(one_in, 1, column)
    three_in = invoke("run", "three_in.pt", "--data", "scalar.npz", "--loss", "mse", *FAST)
    assert "column" not in assert_one_line(three_in, 1, "they look swapped")


def test_whole_number_targets_past_the_int64_range_keep_their_values(work: Path):
    # Cast to int64, 1e30 wrapped to -2**63: run said "class labels from -9223372036854775808", a number never written,
    # and --loss mse trained on targets of the wrong sign and size.
    header = ",".join(f"f{c}" for c in range(10)) + ",label\n"
    rows = "".join(",".join(str((i * c) % 7) for c in range(10)) + f",{10**30 + i * 10**15}\n" for i in range(40))
    (work / "huge.csv").write_text(header + rows)
    _, targets = _read_csv(work / "huge.csv", "label")
    assert targets.dtype == torch.float64
    assert targets[0].item() == 1e30 and targets.min().item() > 0
    result = invoke("run", "model.pt", "--data", "huge.csv", "--target", "label", *FAST)
    assert "9223372036854775808" not in result.output
    assert_one_line(result, 1, "for --loss mse")


def test_uint64_targets_past_the_int64_range_keep_their_values(work: Path):
    # Cast to int64 class labels, 2**63 + 5 wrapped to -9223372036854775803, a number never written.
    with np.load(work / "train.npz") as arrays:
        x = arrays["x"]
    np.savez(work / "u64.npz", x=x, y=np.full(len(x), 2**63 + 4096, dtype=np.uint64))
    result = invoke("run", "model.pt", "--data", "u64.npz", *FAST)
    assert "-922337203685477" not in result.output
    assert_one_line(result, 1, "for --loss mse")


def test_big_endian_arrays_are_read_as_the_same_numbers(work: Path):
    # As MATLAB, FITS or a big-endian machine write them: "The arrays in ... are not numeric: given numpy array has
    # byte order different from the native byte order".
    with np.load(work / "train.npz") as arrays:
        x, y = arrays["x"], arrays["y"]
    np.savez(work / "big_endian.npz", x=x.astype(">f4"), y=y.astype(">i8"))
    native = invoke("run", "model.pt", "--data", "train.npz", "--json", "native.json", *FAST)
    swapped = invoke("run", "model.pt", "--data", "big_endian.npz", "--json", "swapped.json", *FAST)
    assert native.exit_code == 0 and swapped.exit_code == 0, swapped.output
    assert json.loads((work / "swapped.json").read_text())["losses"] == json.loads(
        (work / "native.json").read_text()
    )["losses"]


def test_an_iterable_dataset_runs_and_fit_says_it_needs_a_length(work: Path):
    # A DataLoader refuses to shuffle an IterableDataset: run used to fail on torch's message.
    result = invoke("run", "model.pt", "--data", f"{MODULE}:stream", *FAST)
    assert result.exit_code == 0, result.output
    model = sha(work / "model.pt")
    result = invoke("fit", "model.pt", "--data", f"{MODULE}:stream", "-o", "out.pt", *FAST)
    line = assert_one_line(result, 1, "has no length", "fit must count", "__len__", "map-style Dataset")
    assert "or drop" not in line and "suggested lr" not in result.output
    assert not (work / "out.pt").exists() and sha(work / "model.pt") == model


def test_a_csv_with_a_byte_order_mark_reads_its_first_column(work: Path):
    # Spreadsheets write a UTF-8 byte-order mark; it stuck to the first column's name ('\ufefflabel').
    result = invoke("run", "model.pt", "--data", "excel.csv", "--target", "label", *FAST)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("sep", [";", "\t"])
def test_a_csv_separated_by_semicolons_or_tabs_reads_its_columns(work: Path, sep: str):
    # A spreadsheet's export in a decimal-comma locale separates by ';': the header was read as one
    # column named 'label;f0;...' and --target label was "not a column".
    text = (work / "excel.csv").read_bytes().decode("utf-8-sig").replace(",", sep)
    (work / "semi.csv").write_text(text)
    before = (work / "semi.csv").read_bytes()
    result = invoke("run", "model.pt", "--data", "semi.csv", "--target", "label", *FAST)
    assert result.exit_code == 0, result.output
    assert (work / "semi.csv").read_bytes() == before


def test_a_tsv_file_and_a_csv_with_comment_lines_are_read(work: Path):
    # .tsv was "Unknown data format"; a CSV with '#' lines before its header read the first one as the header
    # ("--target 'label' is not a column; the columns are ['# exported by ...']"), and a '#' line among the rows was
    # "not a number".
    lines = (work / "excel.csv").read_bytes().decode("utf-8-sig").splitlines()
    notes = ["# exported by a tool", "#", lines[0], lines[1], "# a note", *lines[2:]]
    (work / "notes.csv").write_text("\n".join(notes))
    # numpy.savetxt(..., header="f0,...,label") writes the header as the last comment before the numbers.
    (work / "numpy.csv").write_text("\n".join(["# " + lines[0], *lines[1:]]))
    (work / "tabs.tsv").write_text("\n".join(line.replace(",", "\t") for line in lines))
    for name in ("notes.csv", "numpy.csv", "tabs.tsv"):
        result = invoke("run", "model.pt", "--data", name, "--target", "label", *FAST)
        assert result.exit_code == 0, (name, result.output)
    # A validation file with comments is matched by its columns, as the training file is.
    result = invoke("run", "model.pt", "--data", "tabs.tsv", "--val-data", "notes.csv", "--target", "label", *FAST)
    assert result.exit_code == 0, result.output
    assert_one_line(invoke("run", "model.pt", "--data", "tabs.tsv", *FAST), 2, "--target", "tabs.tsv")


def test_a_csv_with_decimal_commas_or_thousands_separators_is_said_to_have_them(work: Path):
    # A spreadsheet's export in a decimal-comma locale ('a;b;label' over '0,126;-1,5;1'), which lrfind splits at the
    # semicolons for this very locale, failed with "'0,126' is not a number. Encode categories as numbers first", as
    # did a quoted "1,234.5": advice for words, not numbers.
    (work / "decimal.csv").write_text("a;b;label\n0,126;-1,5;1\n2,0;3,25;0\n")
    (work / "thousands.csv").write_text('a,b,label\n"1,234.5",2,1\n3,4,0\n')
    said = (
        "line 2, column 'a': '{}' is not a number as lrfind reads one: it has a comma in it (a decimal comma or a "
        "thousands separator). Write numbers with a decimal point and no separators (0.126, 1234.5): export the file "
        "with '.' as the decimal separator, or convert it with pandas.read_csv(path, {}).to_csv(new_path, index=False)."
    )
    result = invoke("run", "model.pt", "--data", "decimal.csv", "--target", "label", *FAST)
    assert_one_line(result, 1, "decimal.csv " + said.format("0,126", "sep=';', decimal=','"))
    result = invoke("run", "model.pt", "--data", "thousands.csv", "--target", "label", *FAST)
    assert_one_line(result, 1, "thousands.csv " + said.format("1,234.5", "thousands=','"))
    # A word is still a category to encode.
    (work / "word.csv").write_text("a;b;label\nred;1,5;1\n")
    assert_one_line(invoke("run", "model.pt", "--data", "word.csv", "--target", "label", *FAST), 1,
                    "'red' is not a number. Encode categories as numbers first.")  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-m", "lrfinder", "run", "model.pt", "--data", "decimal.csv", "--target",
                           "label", *FAST], capture_output=True, text=True, cwd=work, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "decimal.csv " + said.format("0,126", "sep=';', decimal=','") in " ".join(proc.stderr.split())


def test_blank_lines_in_a_csv_are_skipped_and_errors_name_the_file_line(work: Path):
    # A file ending in an extra newline (or a blank line between rows) failed: "line 42 has 0 fields".
    lines = (work / "excel.csv").read_bytes().decode("utf-8-sig").splitlines()
    (work / "blank.csv").write_text("\n".join(lines[:5] + [""] + lines[5:]) + "\n\n\r\n")
    result = invoke("run", "model.pt", "--data", "blank.csv", "--target", "label", *FAST)
    assert result.exit_code == 0, result.output
    text = (work / "train.csv").read_text()
    # A short row after a blank line is named by its line in the file (the header is line 1).
    lines = text.splitlines()
    (work / "short.csv").write_text("\n".join([lines[0], lines[1], "", "3,6"] + lines[4:]) + "\n")
    result = invoke("run", "model.pt", "--data", "short.csv", "--target", "label", *FAST)
    assert_one_line(result, 1, "short.csv line 4 has 2 fields, but the header has 3")


def test_a_model_with_no_parameters_fails_before_fit_writes_anything(work: Path):
    result = invoke("fit", "noparams.pt", "--data", "train.npz", "-o", "out.pt", *FAST)
    assert_one_line(result, 1, "has no parameters at all")
    assert not (work / "out.pt").exists()


def test_bool_labels_are_the_classes_0_and_1(work: Path):
    # y = x > 0 saved as is: cross_entropy failed on torch's "expected target dtype to be Long or Byte, but got Bool",
    # and the message said to check --loss or the model's last layer.
    assert invoke("run", "model.pt", "--data", "bool.npz", *FAST).exit_code == 0
    result = invoke("run", "one_output.pt", "--data", "bool.npz", "--loss", "bce_with_logits", *FAST)
    assert result.exit_code == 0, result.output
    assert_one_line(invoke("run", "one_output.pt", "--data", "bool.npz", *FAST), 1, "--loss bce_with_logits")


@pytest.mark.parametrize("data", ["int32.npz", "int16.npz", "uint8.npz", f"{MODULE}:int32_label_set"])
def test_class_labels_of_any_integer_dtype_are_class_indices(work: Path, data: str):
    # Labels saved as int32 (or int16), or a Dataset returning numpy int32 labels, got --loss
    # cross_entropy (integer targets) and then failed on torch's "expected target dtype to be Long or
    # Byte, but got Int", the message saying to check --loss or the model's last layer.
    result = invoke("run", "model.pt", "--data", data, *FAST)
    assert result.exit_code == 0, result.output
    assert "suggested lr" in result.output
    for command in (["run", "--loss", "nll"], ["fit", "-o", "out.pt"]):  # nll: the other class loss; fit trains
        result = invoke(*command[:1], "model.pt", "--data", data, *command[1:], *FAST)
        assert "dtype" not in result.output and "Traceback" not in result.output, result.output


def test_a_sequence_models_classes_last_are_scored_per_token(work: Path):
    # A token model's (N, T, V) scores against (N, T) labels, the classes last as a language model
    # (or a Hugging Face head) gives them: cross_entropy takes the classes in dim 1, and the run
    # was refused as "the model outputs 6 class scores per sample ... give the model's last layer 7
    # outputs" (it has 7), or with torch's "Expected target size [32, 7], got [32, 6]" where the
    # labels fit; the message said to check --loss or the model's last layer.
    result = invoke("run", "token_lm.pt", "--data", "tokens.npz", *FAST)
    assert result.exit_code == 0, result.output
    assert "suggested lr" in result.output or "inconclusive" in result.output, result.output
    assert_one_line(invoke("run", "token_lm.pt", "--data", "tokens_bad.npz", *FAST), 1,
                    "class labels from 3 to 9", "outputs 7 class scores")  # fmt: skip
    loss = make_loss("cross_entropy")
    scores, labels = torch.randn(4, 6, 7), torch.randint(0, 7, (4, 6))
    assert torch.allclose(loss(scores, labels), F.cross_entropy(scores.reshape(-1, 7), labels.reshape(-1)))
    image_scores, pixels = torch.randn(4, 3, 5, 5), torch.randint(0, 3, (4, 5, 5))  # torch's own layout stays
    assert torch.equal(loss(image_scores, pixels), F.cross_entropy(image_scores, pixels))


def test_class_scores_that_fit_either_layout_are_warned_about(work: Path):
    # A language model over 7 tokens on sequences of 7: (N, 7, 7) scores fit the (N, 7) labels with the classes in
    # dim 1 or last, and torch's dim 1 is kept, so the positions were scored as the classes. A held-out task (an
    # LSTM LM, 24 tokens, sequences of 24) never learned, with nothing said; it is warned, the run goes on.
    tokens = torch.randint(0, 7, (128, 7), generator=torch.Generator().manual_seed(0))
    np.savez(work / "tokens7.npz", x=tokens.numpy(), y=tokens.roll(-1, dims=1).numpy())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = invoke("run", "token_lm.pt", "--data", "tokens7.npz", *FAST)
    assert result.exit_code == 0, result.output
    said = {str(w.message) for w in caught if "alike" in str(w.message)}
    assert len(said) == 1, said  # the batch dim as N: one text at every batch size checked
    assert said.pop().startswith(
        "The model's output of shape (N, 7, 7) fits the targets of shape (N, 7) with its 7 class scores in dim 1 "
        "(torch's layout, a segmenter's) or last (a sequence model's (N, T, C)) alike; --loss cross_entropy reads "
        "them in dim 1. If the model gives them last (a language model's next-token scores), that scores the wrong "
        "numbers and it will not learn: make the sequences one token longer or shorter"
    )
    # Scores that fit one layout only are not warned about.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert invoke("run", "token_lm.pt", "--data", "tokens.npz", *FAST).exit_code == 0
    assert not [w for w in caught if "alike" in str(w.message)]


def test_a_npy_file_is_told_to_become_a_npz(work: Path):
    # A usage error (exit 2), as a missing file is, refused before the model loads. It was a failed run (exit 1).
    line = assert_one_line(invoke("run", "model.pt", "--data", "x.npy", *FAST), 2, "Invalid value for '--data'",
                           "Unknown data format '.npy'", "numpy.savez(path, x=x, y=y)")  # fmt: skip
    assert "Traceback" not in line
    (work / "notes.txt").write_text("1,2\n")
    assert_one_line(invoke("fit", "model.pt", "--data", "train.npz", "--val-data", "notes.txt", "-o", "out.pt", *FAST),
                    2, "Invalid value for '--val-data'", "Unknown data format '.txt'")  # fmt: skip
    assert not (work / "out.pt").exists()


def test_negative_labels_are_not_advised_more_outputs_and_ignore_index_is_skipped(work: Path):
    # A label of -1 was advised "give the model's last layer 2 outputs"; -100, which
    # F.cross_entropy skips (its ignore_index, padding in token targets), was refused as out of range.
    line = assert_one_line(invoke("run", "model.pt", "--data", "neg_label.npz", *FAST), 1)
    assert "outputs." not in line and "last layer" not in line
    result = invoke("run", "model.pt", "--data", "ignored.npz", *FAST)
    assert result.exit_code == 0, result.output


def test_labels_out_of_range_fail_before_the_sweep_runs(work: Path):
    # Checked on every label before the range test: a later batch's label used to stop the sweep
    # midway with torch's "Target 7 is out of bounds" (on a GPU, a device-side assert).
    for args in (["--data", "late_label.npz"], ["--data", "train.npz", "--val-data", "late_label.npz"]):
        result = invoke("fit", "model.pt", *args, "-o", "out.pt", *FAST)
        assert_one_line(result, 1, "class labels from 0 to 7")
        assert "suggested lr" not in result.output and not (work / "out.pt").exists()
    assert "--val-data late_label.npz" in invoke("fit", "model.pt", "--data", "train.npz", "--val-data",
                                                 "late_label.npz", "-o", "out.pt", *FAST).output  # fmt: skip


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_unwritable_output_is_refused_before_anything_is_written(work: Path):
    (work / "old.json").write_text('{"old": true}\n')
    before = sha(work / "old.json")
    result = invoke("run", "model.pt", "--data", "train.npz", "--num-steps", "12", "--json", "old.json",
                    "--report", "afile/sub/r.png")  # fmt: skip
    assert_one_line(result, 2, "--report", "afile/sub/r.png", "not a directory")
    assert sha(work / "old.json") == before
    assert not [p.name for p in work.iterdir() if p.name.startswith(".")]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no new file can be made")
def test_an_output_where_no_file_can_be_made_is_refused_before_the_test(work: Path):
    # Permission bits pass for root, and /proc (like a read-only mount) refuses new files anyway: the
    # JSON, CSV, report and fit's model failed after the whole range test (and training) with exit 1.
    assert invoke("run", "model.pt", "--data", "train.npz", *FAST, "--json", "good.json").exit_code == 0
    for command, option, path in (
        (["run", "model.pt", "--data", "train.npz", *FAST], "--json", "/proc/lrfind-r.json"),
        (["run", "model.pt", "--data", "train.npz", *FAST], "--csv", "/proc/lrfind-r.csv"),
        (["run", "model.pt", "--data", "train.npz", "--num-steps", "12"], "--report", "/proc/lrfind-r.png"),
        (["fit", "model.pt", "--data", "train.npz", *FAST], "--output", "/proc/lrfind-m.pt"),
        (["fit", "model.pt", "--data", "train.npz", *FAST], "--output", "/proc/lrfind-new/m.pt"),
        (["report", "good.json"], "--report", "/proc/lrfind-r.png"),
    ):
        result = invoke(*command, option, path)
        kind = "directories" if "new/" in path else "files"
        assert_one_line(result, 2, f"Invalid value for {option}", f"/proc does not take new {kind}", "another path")
        assert "suggested lr" not in result.output and "wrote" not in result.output


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no new file can be made")
def test_the_default_report_in_a_directory_without_new_files_points_to_no_report(
    work: Path, monkeypatch: pytest.MonkeyPatch
):
    # A run from a read-only directory (a container's, CI's) was refused for the report it writes by default,
    # lrfind-report.png, without a word of how to do without it.
    model, data = str(work / "model.pt"), str(work / "train.npz")
    monkeypatch.chdir("/proc")
    for command in (["run", model, "--data", data, *FAST[:2]], ["demo"]):
        result = invoke(*command)
        line = assert_one_line(result, 2, "--report", "cannot write lrfind-report.png", "(or --no-report for none)")
        assert "suggested lr" not in result.output, line


def test_a_path_too_long_for_the_file_system_is_a_usage_error(work: Path):
    # pathlib's is_dir()/is_file() raised "OSError: [Errno 36] File name too long" as a traceback (exit 1),
    # for an output path before the run and for --data/--val-data.
    long = "a" * 300
    for command, option, path, verb in (
        (["run", "model.pt", "--data", "train.npz", *FAST], "--json", f"{long}.json", "cannot write"),
        (["run", "model.pt", "--data", "train.npz", "--num-steps", "12"], "--report", f"{long}.png", "cannot write"),
        (["fit", "model.pt", "--data", "train.npz", *FAST], "--output", f"{long}.pt", "cannot write"),
        (["run", "model.pt", *FAST], "--data", f"{long}.npz", "cannot read"),
        (["run", "model.pt", "--data", "train.npz", "--refine", *FAST], "--val-data", f"{long}.npz", "cannot read"),
    ):
        result = invoke(*command, option, path)
        assert_one_line(result, 2, option, verb, "File name too long")
        assert "suggested lr" not in result.output


def test_outputs_in_a_missing_directory_create_it(work: Path):
    # As docs/cli.md says: a plain path's missing directories are made, as mkdir -p makes them (a link into one is
    # refused, below).
    result = invoke("run", "model.pt", "--data", "train.npz", "--num-steps", "12", "--json", "out/a/r.json",
                    "--csv", "out/b/c.csv", "--report", "plots/r.png")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((work / "out/a/r.json").read_text())["schema_version"] == 1
    assert (work / "out/b/c.csv").read_text().startswith("lr,loss,smoothed,slope")
    assert (work / "plots/r.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX symlinks")
def test_an_output_linked_into_a_missing_directory_is_a_usage_error(work: Path):
    # Written through the link, it would make a file in nowhere/: the run failed at its very end, "[Errno 2] No such
    # file or directory: 'latest.json'" (exit 1). A link to a file yet to be made in an existing directory is fine.
    (work / "latest.json").symlink_to(Path("nowhere") / "7.json")
    (work / "latest.csv").symlink_to(Path("nowhere") / "7.json")
    (work / "fresh.json").symlink_to("7.json")
    for option, link in (("--json", "latest.json"), ("--csv", "latest.csv")):
        result = invoke("run", "model.pt", "--data", "train.npz", *FAST, option, link)
        assert_one_line(result, 2, f"Invalid value for {option}", "symlink to nowhere/7.json", "does not exist")
        assert "suggested lr" not in result.output
    result = invoke("run", "model.pt", "--data", "train.npz", *FAST, "--json", "fresh.json")
    assert result.exit_code == 0, result.output
    assert (work / "fresh.json").is_symlink() and json.loads((work / "7.json").read_text())["schema_version"] == 1


@pytest.mark.parametrize(
    ("command", "key", "option"),
    [("run", "json", "'--json'"), ("run", "report", "'--report'"), ("run", "data", "'--data'"),
     ("fit", "output", "'--output' / '-o'")],
)  # fmt: skip
def test_a_path_with_a_nul_byte_is_refused_in_words(work: Path, command: str, key: str, option: str):
    # A config file's "\u0000" (a shell cannot pass one) ended in a raw traceback, Python's "embedded null byte".
    (work / "nul.toml").write_text(f'{key} = "r\\u0000.x"\n')
    args = [command, "model.pt", *FAST, "--config", "nul.toml"]
    if key != "data":
        args += ["--data", "train.npz"]
    if command == "fit" and key != "output":
        args += ["-o", "out.pt"]
    assert_one_line(invoke(*args), 2, f"Invalid value for {option} (set in nul.toml): 'r\\x00.x' contains a NUL "
                    "byte (\\x00), which no file name can hold")  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "lrfinder", *args], capture_output=True, text=True, cwd=work,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 2 and "NUL byte" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_batch_size_beyond_sys_maxsize_makes_one_batch_of_the_data(work: Path):
    # It failed after loading with Python's "Stop argument for islice() must be None or an integer: 0 <= x <=
    # sys.maxsize" (exit 1); a batch size above the data's makes one batch of it all, as 1000 did.
    result = invoke("run", "model.pt", "--data", "train.npz", *FAST, "--batch-size", "9" * 23)
    assert result.exit_code == 0, result.output
    assert "islice" not in result.output and re.search(r"batch size \d+\n", result.output)


def test_an_output_path_ending_in_a_separator_is_refused(work: Path):
    # -o models/ wrote the trained model to a file named "models"; --json out/ a file named "out".
    for command, option, path in (
        (["fit", "model.pt", "--data", "train.npz", *FAST], "-o", "models/"),
        (["run", "model.pt", "--data", "train.npz", *FAST], "--json", "out/"),
        (["run", "model.pt", "--data", "train.npz", *FAST], "--csv", "out/"),
    ):
        result = invoke(*command, option, path)
        assert_one_line(result, 2, f"{path} ends in '/'", "give a file name inside it")
        assert "suggested lr" not in result.output
    assert not (work / "models").exists() and not (work / "out").exists()


def test_a_model_that_fails_to_save_leaves_no_half_written_file(work: Path, monkeypatch: pytest.MonkeyPatch):
    # The disk fills up while the trained model is saved: nothing at --output, no temporary file, and the
    # message names --output's path (fit's model named the hidden temporary file it was writing).
    (work / "old.pt").write_bytes(b"the previous model")

    def full_disk(model: object, file: Any) -> None:
        file.write(b"half a model")  # torch.jit.save is given the open temporary file
        raise OSError(28, "No space left on device", file.name)

    monkeypatch.setattr(torch.jit, "save", full_disk)
    for output in ("out.pt", "old.pt"):
        result = invoke("fit", "model.pt", "--data", "train.npz", "--num-steps", "30", "--no-report",
                        "--json", "r.json", "-o", output)  # fmt: skip
        line = assert_one_line(result, 1, f"cannot write {output}", "No space left on device")
        assert ".tmp" not in line
    assert not (work / "out.pt").exists() and (work / "old.pt").read_bytes() == b"the previous model"
    assert not (work / "r.json").exists()
    assert not [p.name for p in work.iterdir() if p.name.startswith(".")]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")
def test_a_torchscript_model_whose_name_is_not_utf8_loads(work: Path):
    # m\xe9.pt (a Latin-1 name, held by Python as 'm\udce9.pt') failed in torch's C++ code: "Cannot load TorchScript
    # file m\udce9.pt: import_ir_module(): incompatible function arguments. The following argument types are ...".
    name = os.fsdecode(b"m\xe9.pt")
    shutil.copyfile(work / "model.pt", work / name)
    result = invoke("run", name, "--data", "train.npz", *FAST)
    assert result.exit_code == 0, result.output
    assert "(torchscript)" in result.output and "suggested lr" in result.output


@pytest.mark.skipif(not Path("/dev/full").is_char_device(), reason="needs /dev/full")
def test_a_full_device_given_for_the_json_is_named_in_runs_words(work: Path):
    # `--json /dev/full` said Python's "Error: [Errno 28] No space left on device", naming no output.
    result = invoke("run", "model.pt", "--data", "train.npz", "--num-steps", "12", "--no-report",
                    "--json", "/dev/full")  # fmt: skip
    line = assert_one_line(result, 1)
    assert line == (
        "Error: cannot write /dev/full: No space left on device; free some space there or choose another path"
    )


def test_outputs_are_written_all_or_nothing(work: Path, monkeypatch: pytest.MonkeyPatch):
    import lrfinder.report

    (work / "old.json").write_text('{"old": true}\n')
    before = sha(work / "old.json")

    def broken_writer(*args: object, **kwargs: object):
        def write(tmp: str) -> None:
            Path(tmp).write_bytes(b"half a report")
            raise OSError(28, "No space left on device", tmp)

        return write

    monkeypatch.setattr(lrfinder.report, "report_writer", broken_writer)
    result = invoke("run", "model.pt", "--data", "train.npz", "--num-steps", "12", "--json", "old.json",
                    "--csv", "new.csv", "--report", "r.png")  # fmt: skip
    line = assert_one_line(result, 1, "cannot write r.png", "No space left on device")
    assert ".tmp" not in line  # the real name, not the hidden temporary one
    assert sha(work / "old.json") == before and not (work / "new.csv").exists()
    assert not (work / "r.png").exists()
    assert not [p.name for p in work.iterdir() if p.name.startswith(".")]
    # lrfind report says a full disk in run's words: it said Python's "[Errno 28] No space left on device: 'r.png'".
    assert invoke("run", "model.pt", "--data", "train.npz", "--num-steps", "12", "--no-report",
                  "--json", "saved.json").exit_code == 0  # fmt: skip
    again = assert_one_line(invoke("report", "saved.json", "--report", "r.png"), 1)
    assert again == line == (
        "Error: cannot write r.png: No space left on device; free some space there or choose another path"
    )
    assert not (work / "r.png").exists()


def test_all_outputs_written_together(work: Path):
    result = invoke("run", "model.pt", "--data", "train.npz", "--num-steps", "12", "--json", "out/r.json",
                    "--csv", "out/r.csv", "--report", "out/r.svg")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (work / "out").iterdir()) == ["r.csv", "r.json", "r.svg"]
    assert oct((work / "out" / "r.json").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture
def saved(work: Path) -> dict:
    result = invoke("run", "model.pt", "--data", "train.npz", *FAST, "--json", "good.json")
    assert result.exit_code == 0, result.output
    return json.loads((work / "good.json").read_text())


def _variants(good: dict) -> dict[str, tuple[object, list[str]]]:
    def without(key: str) -> dict:
        return {k: v for k, v in good.items() if k != key}

    return {
        "not JSON": ("{not json", ["not valid JSON", "line 1"]),
        "not UTF-8": (b"\x80\xfe{}", ["not UTF-8"]),  # not \xff\xfe, a UTF-16 byte-order mark
        "a list": ([1, 2], ["a JSON array, expected an object"]),
        "foreign object": ({"name": "something else"}, ["not an lrfind result", "no schema_version"]),
        # It was told to "Re-run lrfind run --json with this version", not that a newer lrfinder reads it.
        "newer schema": ({**good, "schema_version": 99}, ["schema_version 99 is newer than the version 1",
                                                          "pip install --upgrade lrfinder"]),
        "schema as text": ({**good, "schema_version": "1"}, ["schema_version '1' is not a version"]),
        "no losses": (without("losses"), ["'lrs' and 'losses'"]),
        "empty curve": ({**good, "lrs": [], "losses": []}, ["'lrs' and 'losses'"]),
        "short losses": ({**good, "losses": good["losses"][:3]}, ["same length"]),
        "no stop_reason": (without("stop_reason"), ["malformed lrfind result", "missing key 'stop_reason'"]),
        "bad settings": ({**good, "settings": "x"}, ["malformed lrfind result"]),
        "bad suggestion": ({**good, "suggestion": 5}, ["malformed lrfind result"]),
        # A hand edit to 1e300 written as an integer failed in the report's batch panel with a bare OverflowError.
        "huge batch_size": ({**good, "batch_size": 10**300}, ["batch_size=a 301-digit number is past", "correct it"]),
        # Python's words: "RangeTestSettings.__init__() got an unexpected keyword argument 'zzz'".
        "unknown setting": (
            {**good, "settings": {**good.get("settings", {}), "zzz": 1}},
            ["unknown key 'zzz' in settings"],
        ),
        # Filled with the defaults, the report claimed a sweep of 1e-07 .. 1e+01 in 100 steps nobody ran.
        "a setting missing": (
            {**good, "settings": {k: v for k, v in good.get("settings", {}).items() if k != "num_steps"}},
            ["settings has no 'num_steps' (the steps it planned)", "Add it as the run that recorded the curve had it"],
        ),
        "empty scaled": ({**good, "scaled": {}}, ["(missing keys 'lr', 'base_lr'", "to_batch_size', 'warmup_epochs' in "
                                                  "scaled)"]),
        # It said "(Malformed refinement: KeyError('trials'))".
        "empty refinement": ({**good, "refinement": {}}, ["(missing key 'trials' in refinement)"]),
        # Python's "maximum recursion depth exceeded while decoding a JSON array", naming no file (exit 1).
        "nested deep": ("[" * 100_000 + "]" * 100_000, ["nested too deeply to read", "no result holds"]),
        # Python's "Exceeds the limit (4300 digits) for integer string conversion: ... sys.set_int_max_str_digits()".
        "a 5000-digit number": ('{"schema_version": ' + "9" * 5000 + "}", ["a number of more than 4,300 digits"]),
        "sweep without results": ({"kind": "weight_decay_sweep"}, ["malformed weight-decay sweep"]),
        "sweep of foreign objects": (
            {"kind": "weight_decay_sweep", "results": [{}]},
            ["(results[0]) is not an lrfind result"],
        ),
    }


@pytest.mark.parametrize("case", list(_variants({"losses": [1.0], "lrs": [1.0]})))
def test_report_on_malformed_or_foreign_json(work: Path, saved: dict, case: str):
    content, messages = _variants(saved)[case]
    path = work / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content))
    # Not a result: a usage error on the input file (exit 2), saying what file is expected.
    line = assert_one_line(
        invoke("report", "bad.json", "--report", "x.png"), 2, "bad.json", "lrfind run --json", *messages
    )
    for vague in ("IndexError", "AttributeError", "KeyError", "schema_version=None", "__init__", "Malformed", "sys."):
        assert vague not in line
    assert not (work / "x.png").exists()


def test_report_checks_its_output_path_first(work: Path, saved: dict):
    assert_one_line(invoke("report", "good.json", "--report", "afile/x.png"), 2, "--report", "not a directory")


def test_fit_checks_the_last_batch_of_its_target_batch_size(work: Path):
    # Training rebuilds the loader at --target-batch-size: 33 samples in batches of 32 leave one, which
    # BatchNorm cannot train on; fit failed in its first epoch, after the range test.
    result = invoke("fit", "batchnorm.pt", "--data", "n33.npz", "--batch-size", "11", "--target-batch-size", "32",
                    "-o", "out.pt", *FAST)  # fmt: skip
    assert_one_line(result, 1, "holds 1 sample (33 samples in batches of 32)", "--target-batch-size that divides 33")
    assert "suggested lr" not in result.output and not (work / "out.pt").exists()


def test_a_torchscript_dump_is_said_by_its_last_line():
    from lrfinder.cli.errors import _what_failed

    dump = RuntimeError(
        "The following operation failed in the TorchScript interpreter.\nTraceback of TorchScript, serialized "
        "code (most recent call last):\n  File \"code/__torch__/x.py\", line 44\n    ~~~ <--- HERE\n"
        "builtins.ValueError: Expected more than 1 value per channel when training, got input size [1, 16]\n"
    )
    assert _what_failed(dump) == (
        "The TorchScript model failed: ValueError: Expected more than 1 value per channel when training, got input "
        "size [1, 16]"
    )
    assert _what_failed(KeyError("k")) == "KeyError: 'k'"


def test_one_line_and_reason():
    assert one_line(RuntimeError("failed in the interpreter.. Check the data.")) == (
        "failed in the interpreter. Check the data."
    )
    assert one_line(ValueError("band 1e-3 .. 1e-2, wait...")) == "band 1e-3 .. 1e-2, wait..."
    assert one_line(EOFError()) == "EOFError"
    script = RuntimeError(
        "The following operation failed in the TorchScript interpreter.\nTraceback of TorchScript:\n  x\n"
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x5 and 10x16)\n"
    )
    assert reason(script) == "mat1 and mat2 shapes cannot be multiplied (4x5 and 10x16)"
    assert reason(ValueError("Bad value.\nmore")) == "Bad value"
    assert reason(EOFError()) == "EOFError"


def test_scale_lr_types():
    from lrfinder import scale_lr

    with pytest.raises(TypeError, match="optimizer=123"):
        scale_lr(0.1, from_batch_size=32, to_batch_size=64, optimizer=123)  # type: ignore[arg-type]
    scaled = scale_lr(torch.tensor(0.1), from_batch_size=np.int32(32), to_batch_size=64, rule="linear")  # type: ignore[arg-type]
    assert scaled.lr == pytest.approx(0.2)
    assert scale_lr(np.float64(0.1), from_batch_size=32, to_batch_size=np.int64(128), rule="sqrt").lr == pytest.approx(
        0.2
    )


class SparseBag(nn.Module):
    """Token ids in, 3 scores out, through an embedding with sparse gradients (which torch cannot clip)."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(20, 8, sparse=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(x).mean(1))


@pytest.mark.parametrize("command", ["run", "fit"])
def test_clipping_sparse_gradients_names_the_option(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The library's ModelError says "Drop gradient_clip_val": on the command line it is --gradient-clip-val.
    monkeypatch.chdir(tmp_path)
    torch.jit.save(torch.jit.script(SparseBag()), tmp_path / "bag.pt")
    ids = np.random.default_rng(0).integers(0, 20, size=(64, 4))
    np.savez(tmp_path / "ids.npz", x=ids, y=ids[:, 0] % 3)
    args = [command, "bag.pt", "--data", "ids.npz", "--gradient-clip-val", "1", *FAST]
    if command == "fit":
        args += ["--epochs", "1", "-o", "out.pt"]
    # A usage error (exit 2): the option's fault, as an --optimizer the model refuses. It was exit 1.
    error = assert_one_line(invoke(*args), 2, "Invalid value for --gradient-clip-val", "cannot clip sparse gradients",
                            "Drop --gradient-clip-val,")  # fmt: skip
    assert "gradient_clip_val" not in error
    assert not (tmp_path / "out.pt").exists()


def test_clamped_one_cycle_peak_in_cli_words(work: Path):
    # Scaled x8 (batch 8 -> 64, linear), the one-cycle peak passes the divergence point and is clamped: the
    # library's warning names training_suggestion.max_lr and "a milder rule"; the summary says what sets them.
    result = invoke(
        "run", "model.pt", "--data", "train.npz", "--num-steps", "40", "--batch-size", "8", "--min-lr", "1e-3",
        "--target-batch-size", "64", "--scaling", "linear", "--no-report", "--json", "r.json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "is clamped to it" in text, text
    assert "the peak that --scheduler onecycle or cyclic climbs to is clamped" in text
    assert "a milder --scaling rule" in text
    assert "training_suggestion" not in text
    # The JSON is the library's record: its words are kept.
    assert "training_suggestion.max_lr" in json.loads((work / "r.json").read_text())["scaled"]["warning"]


@pytest.mark.parametrize("command", ["run", "fit"])
def test_one_cycle_peak_below_the_band_is_judged_on_the_real_band(command: str, work: Path):
    # Before the test the schedule is checked with a stand-in suggestion: its band (1e-4 ..) refused this max_lr
    # with a made-up "suggestion.min_lr=1.00e-04". The real band, read off the curve, judges it, in option words.
    args = [
        command, "model.pt", "--data", "train.npz", "--num-steps", "40", "--batch-size", "8", "--min-lr", "1e-3",
        "--scheduler", "onecycle", "--scheduler-opt", "max_lr=1e-9", "--epochs", "1", "--no-report", "--json", "r.json",
    ]  # fmt: skip
    if command == "fit":
        args += ["-o", "out.pt"]
    result = invoke(*args)
    error = assert_one_line(result, 1, "--scheduler-opt max_lr=1e-09 to be at least the one-cycle band's low end")
    band = re.search(r"one-cycle band\s+(\S+) \.\.", result.output)  # run prints its summary first; fit does not
    assert band or command == "fit", result.output
    low = re.search(r"training batch size, (\S+):", error)
    assert low and float(low.group(1)) > 1e-9 and (band is None or low.group(1) == band.group(1)), error
    assert "suggestion.min_lr" not in error
    assert not (work / "r.json").exists() and not (work / "out.pt").exists()


def test_a_cyclic_base_lr_is_judged_on_the_real_band_not_the_stand_ins(work: Path):
    # Before the test the schedule was checked with a stand-in band whose peak was 1e-2: base_lr=0.05, below the
    # real band's peak (1.43e-01 for these options), was refused as "Expected max_lr > base_lr ..., max_lr=[1.00e-02]".
    args = [
        "run", "model.pt", "--data", "train.npz", "--num-steps", "40", "--batch-size", "8", "--min-lr", "1e-3",
        "--scheduler", "cyclic", "--scheduler-opt", "step_size_up=2", "--epochs", "1", "--no-report",
    ]  # fmt: skip
    below = invoke(*args, "--scheduler-opt", "base_lr=0.05", "--json", "ok.json")
    assert below.exit_code == 0, below.output
    peak = float(re.search(r"one-cycle band\s+\S+ \.\. (\S+)", below.output).group(1))  # type: ignore[union-attr]
    assert peak > 0.05 and json.loads((work / "ok.json").read_text())["suggestion"]["max_lr"] > 0.05
    # Above the real peak it is refused after the test, against that peak, in the command line's words: the max_lr
    # the band gives was said as "max_lr=[1.43e-01] (given 0.1430...)", a value nobody gave.
    above = invoke(*args, "--scheduler-opt", "base_lr=1.0", "--json", "r.json")
    error = assert_one_line(
        above,
        1,
        "Expected base_lr below the one-cycle band's peak, which cyclic takes as max_lr (at the training batch size, "
        f"{peak:.2e}), but got base_lr=1.0: pass --scheduler-opt max_lr=... too, or drop --scheduler-opt base_lr=... "
        "for the band's low end",
    )
    assert "given" not in error and not (work / "r.json").exists()


def test_a_one_cycle_peak_that_is_no_lr_is_a_usage_error_before_the_test(work: Path):
    # Checked against the stand-in band before the test, max_lr=-1 was told to be "at least the one-cycle band's low
    # end at the training batch size, 1.00e-30": a made-up number, not the rule it broke.
    result = invoke("fit", "model.pt", "--data", "train.npz", "--scheduler", "onecycle", "--scheduler-opt", "max_lr=-1",
                    "-o", "out.pt", *FAST)  # fmt: skip
    line = assert_one_line(result, 2, "--scheduler-opt", "Expected 0 < max_lr, but got max_lr=-1")
    assert "1.00e-30" not in line and not (work / "out.pt").exists()


def test_sparse_adam_on_dense_gradients_advises_an_option(work: Path):
    # The library advises giving SparseAdam only the embeddings' parameters: lrfind gives it the whole model.
    error = assert_one_line(
        invoke("run", "model.pt", "--data", "train.npz", "--optimizer", "sparseadam", *FAST),
        1,
        "SparseAdam steps sparse gradients only",
        "sweep one for dense gradients, such as --optimizer adam.",
    )
    assert "Give SparseAdam only" not in error


def test_unknown_optimizer_is_named_as_the_option_value(work: Path):
    # create_optimizer says "Unknown optimizer name='adamm'": on the command line the name is --optimizer's value.
    result = invoke("run", "model.pt", "--data", "train.npz", "--optimizer", "adamm", *FAST)
    error = assert_one_line(result, 2, "'--optimizer': Unknown optimizer 'adamm'; expected one of", "mean 'adam'")
    assert "name=" not in error
    # Every name as close as the third: 'adamw' is as close as 'radam' and 'nadam', and the cut at three left it out.
    assert error.endswith("Did you mean 'adam' or 'radam' or 'nadam' or 'adamw'?"), error


def test_refine_on_one_batch_per_pass_advises_options(work: Path):
    # Refine holds out training batches to judge its trials: with one batch per pass none is left to train on.
    # The library advises lowering Refine.val_batches, which no option sets.
    x = torch.randn(8, 10, generator=torch.Generator().manual_seed(0))
    np.savez(work / "tiny.npz", x=x.numpy(), y=x[:, :3].argmax(1).numpy())
    args = ["--refine", "--training-steps", "200", "--batch-size", "8", "--min-lr", "1e-3", "--num-steps", "40"]
    error = assert_one_line(
        invoke("run", "model.pt", "--data", "tiny.npz", *args, "--no-report"),
        1,
        "too few to hold out",
        "Pass --val-data, or give --data more batches (more rows or a smaller --batch-size).",
    )
    assert "Refine.val_batches" not in error


def test_momentum_with_an_adam_family_optimizer_points_to_the_betas_option(work: Path) -> None:
    """--optimizer adam --momentum 0.9 listed Adam's settings without naming --betas, its momentum's option."""
    result = invoke("run", "model.pt", "--data", "train.npz", *FAST, "--optimizer", "adam", "--momentum", "0.9")
    assert result.exit_code == 2, result.output
    assert "For Adam the momentum is the first of its betas: pass --betas 0.9,0.999 instead." in result.output


def test_an_opt_typo_lists_the_settings_opt_takes_without_the_lr(work: Path) -> None:
    """The list of what --opt accepts began with lr, which --opt refuses (the sweep sets the LR)."""
    result = invoke("run", "model.pt", "--data", "train.npz", *FAST, "--optimizer", "adam", "--opt", "wd=0.1")
    assert result.exit_code == 2, result.output
    assert "does not take the setting wd; it accepts: betas, eps, weight_decay," in result.output
    assert "accepts: lr" not in result.output


def test_a_tilde_the_shell_left_is_the_home_directory(work: Path, monkeypatch: pytest.MonkeyPatch):
    # A shell does not expand the ~ of --json=~/a.json (nor does a config file): the output went into a
    # directory named '~' under the current one, and --data=~/train.npz was "does not exist".
    home = work / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    (home / "train.npz").write_bytes((work / "train.npz").read_bytes())
    result = invoke("run", "model.pt", "--data=~/train.npz", "--num-steps", "12", "--json=~/a.json", "--report=~/a.png")
    assert result.exit_code == 0, result.output
    assert (home / "a.json").is_file() and (home / "a.png").is_file()
    assert not (work / "~").exists()
    (work / "home.toml").write_text('data = "~/train.npz"\ncsv = "~/a.csv"\n')
    result = invoke("run", "model.pt", "--config", "home.toml", *FAST)
    assert result.exit_code == 0, result.output
    assert (home / "a.csv").is_file()
    assert not (work / "~").exists()
    output = next(p for p in fit_command.params if p.name == "output")
    assert check_model_output(click.Context(fit_command), output, "~/out.pt") == str(home / "out.pt")


def test_a_config_path_with_a_tilde_the_shell_left_is_in_the_home_directory(
    work: Path, monkeypatch: pytest.MonkeyPatch
):
    # click.Path(exists=True) checked '~/lrfind.toml' under the current directory before lrfinder saw
    # it: "Path '~/lrfind.toml' does not exist", though the file was in the home directory.
    home = work / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    (home / "lrfind.toml").write_text('json = "from-config.json"\n')
    result = invoke("run", "model.pt", "--data", "train.npz", *FAST, "--config=~/lrfind.toml")
    assert result.exit_code == 0, result.output
    assert (work / "from-config.json").is_file()
    line = assert_one_line(invoke("run", "model.pt", "--data", "train.npz", "--config=~/missing.toml"), 2)
    assert f"'~/missing.toml' ({home / 'missing.toml'}) does not exist" in line


@pytest.mark.parametrize("function", ["arrays_pair", "arrays_dict"])
def test_a_data_function_may_return_an_x_y_pair_or_dict_of_arrays(work: Path, function: str):
    # As a .pt file may hold them; the function's (x, y) was refused: "returned a tuple; expected a Dataset".
    result = invoke("run", "model.pt", "--data", f"{MODULE}:{function}", *FAST)
    assert result.exit_code == 0, result.output
    # Loaders in a tuple are not arrays: the message says what the function may return.
    result = invoke("run", "model.pt", "--data", f"{MODULE}:loaders_pair", *FAST)
    assert_one_line(result, 1, "returned a tuple", "an (x, y) pair of arrays")


def test_a_validation_csv_is_read_by_column_name(work: Path):
    # The inputs are every column but --target, in each file's order: a --val-data CSV listing the same
    # columns in another order was read with its inputs swapped, silently; one with other columns too.
    from lrfinder.cli.loading import load_data

    lines = (work / "train.csv").read_text().splitlines()  # a,b,label
    rows = [line.split(",") for line in lines]
    (work / "val_swapped.csv").write_text("".join(f"{r[1]},{r[2]},{r[0]}\n" for r in rows))  # b,label,a
    (work / "val_other.csv").write_text("a,c,label\n" + "".join(line + "\n" for line in lines[1:]))

    def val_inputs(val: str) -> torch.Tensor:
        data = load_data("train.csv", batch_size=64, x_key=None, y_key=None, target="label", val_spec=val)
        assert data.val is not None
        return next(iter(data.val))[0]

    assert torch.equal(val_inputs("val_swapped.csv"), val_inputs("train.csv"))
    result = invoke("run", "model.pt", "--data", "train.csv", "--val-data", "val_other.csv", "--target", "label", *FAST)
    assert_one_line(result, 1, "--val-data val_other.csv does not have the input columns of --data train.csv", "'b'")


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_windows_encoded_json_and_toml_files_are_read(work: Path, saved: dict, encoding: str):
    # Notepad's UTF-8 with a byte-order mark and Windows PowerShell 5's `lrfind run --json - > a.json` (UTF-16):
    # report said "not valid JSON (Unexpected UTF-8 BOM)" or "not UTF-8 text", --config "not valid TOML".
    (work / "win.json").write_text((work / "good.json").read_text(), encoding=encoding)
    result = invoke("report", "win.json", "--report", "win.png")
    assert result.exit_code == 0, result.output
    assert (work / "win.png").is_file()
    (work / "win.toml").write_text('data = "train.npz"\nnum-steps = 12\n', encoding=encoding)
    result = invoke("run", "model.pt", "--config", "win.toml", "--no-report")
    assert result.exit_code == 0, result.output
    from lrfinder import RangeTestResult

    assert list(RangeTestResult.from_json(work / "win.json").lrs) == saved["lrs"]


def test_a_utf16_csv_from_excel_unicode_text_is_read(work: Path):
    # Excel's "Unicode text" export: UTF-16 with a byte-order mark, separated by tabs; it was "not UTF-8 text".
    text = (work / "excel.csv").read_bytes().decode("utf-8-sig").replace(",", "\t").replace("\n", "\r\n")
    (work / "unicode.csv").write_bytes(text.encode("utf-16"))
    result = invoke("run", "model.pt", "--data", "unicode.csv", "--target", "label", *FAST)
    assert result.exit_code == 0, result.output


MIDWAY = """
import torch
from torch import nn
from torch.utils.data import TensorDataset

class BreaksLater(nn.Module):
    # A model whose own code raises once the test is under way (a linear-algebra routine on blown-up weights).
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 3)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == FAILS_AT:
            raise RuntimeError("linalg.cholesky: The factorization could not be completed")
        return self.fc(x)
"""


@pytest.mark.parametrize("command", ["run", "fit"])
def test_an_error_raised_midway_through_the_sweep_says_where_and_what_to_do(work: Path, command: str):
    """The model's own error at the sweep's 11th step came out bare: 'Error: linalg.cholesky: ...', saying neither
    that the test was under way (10 steps had run) nor at which LR, nor how to see where it was raised."""
    (work / "lrf_midway.py").write_text(MIDWAY.replace("FAILS_AT", "12"))
    torch.save({f"fc.{k}": v for k, v in nn.Linear(10, 3).state_dict().items()}, work / "weights.pt")
    outputs = ["--json", "r.json"] + (["-o", "trained.pt"] if command == "fit" else [])
    result = invoke(command, "weights.pt", "--model-class", "lrf_midway:BreaksLater", "--data", "train.npz",
                    *FAST, "--seed", "0", *outputs)  # fmt: skip
    error = assert_one_line(result, 1, "RuntimeError: linalg.cholesky: The factorization could not be completed")
    # The check before the test runs the model once on the first batch: the 12th call is the sweep's 11th step.
    assert re.search(r"The range test failed after 10 of its 12 steps \(the last at lr=\d\.\d\de-\d\d\)", error), error
    assert "--max-lr" in error and "--debug" in error
    assert not (work / "r.json").exists() and not (work / "trained.pt").exists()


IN_TRAINING = """
import torch
from torch import nn
from torch.utils.data import TensorDataset

class BreaksInTraining(nn.Module):
    # A model whose own code raises in training, after a range test of 40 steps (the check before it runs once).
    seen = 0  # every call, the test's too (the range test puts back self.calls, not this)

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(10, 3)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        type(self).seen += 1
        if type(self).seen > 41 and self.calls == 1 + FAILS_AT:
            raise ValueError("expected a batch of 10 features")
        return self.fc(x)
"""


@pytest.mark.parametrize(("fails_at", "where"), [
    (6, "in epoch 2/3 at batch 2 of 4 (optimizer step 6 of 12, lr="),
    (5, "in epoch 2/3 at batch 1 of 4 (optimizer step 5 of 12, lr="),  # epoch 1 ended: the next one's first batch
])  # fmt: skip
def test_an_error_raised_in_training_says_where_training_stopped(work: Path, fails_at: int, where: str):
    """The model's own error in fit's training came out bare ('Error: expected a batch ...'): neither that the range
    test had ended and training was under way, nor at which epoch, step and LR; the LR is said, not blamed."""
    module = f"lrf_in_training_{fails_at}"  # a module of its own: the class keeps its count while imported
    (work / f"{module}.py").write_text(IN_TRAINING.replace("FAILS_AT", str(fails_at)))
    torch.save({f"fc.{k}": v for k, v in nn.Linear(10, 3).state_dict().items()}, work / "weights.pt")
    result = invoke("fit", "weights.pt", "--model-class", f"{module}:BreaksInTraining", "--data", "train.npz",
                    "--num-steps", "40", "--no-report", "--seed", "0", "--epochs", "3", "--scheduler", "cosine",
                    "-o", "trained.pt")  # fmt: skip
    assert re.search(r"^steps +40/40 ", result.output, re.M), result.output  # the range test ran to its end
    error = assert_one_line(result, 1, "ValueError: expected a batch of 10 features")
    assert f"Error: Training failed {where}" in error, error
    lr = float(error.split("lr=")[1].split(")")[0])
    assert "--max-lr" not in error and "The range test had run to its end. trained.pt was not written." in error
    assert error.endswith("Run with --debug to see where the error was raised.")
    line = next(ln for ln in result.output.splitlines() if ln.startswith("epoch   1/3"))
    assert lr < float(line.split("lr ")[1])  # the cosine schedule's LR at the step, below epoch 1's last
    assert not (work / "trained.pt").exists()


LATE_EXAMPLE = """
import torch

class Records(torch.utils.data.Dataset):
    # A record that cannot be read, past the first batches.
    def __init__(self):
        self.x = torch.randn(120, 10, generator=torch.Generator().manual_seed(0))

    def __len__(self):
        return 120

    def __getitem__(self, i):
        if i == 100:
            raise KeyError(i)
        return self.x[i], self.x[i, :3].argmax()

def records():
    return Records()
"""


def test_a_datasets_example_failing_midway_through_the_sweep_is_the_datas_not_the_lrs(work: Path):
    """feaeb53's message for an error midway through the sweep took a Dataset's own error on a later example too:
    'The range test failed after 2 of its 30 steps ...: KeyError: 100. Its first steps ran, so the model and the data
    go together ... a --max-lr of 1.89e-07 ... or lower', hiding the message that names the Dataset and example."""
    (work / "lrf_late_example.py").write_text(LATE_EXAMPLE)
    result = invoke("run", "model.pt", "--data", "lrf_late_example:records", "--batch-size", "32",
                    "--num-steps", "30", "--no-report")  # fmt: skip
    error = assert_one_line(
        result, 1, "The Dataset Records from --data lrf_late_example:records failed on example 100: KeyError: 100."
    )
    assert "--max-lr" not in error and "range test failed" not in error, error


def test_a_npz_saved_under_another_extension_is_read_as_the_npz_it_is(work: Path):
    # Was refused (exit 1) with "renamed.pt is a numpy .npz archive (numpy.savez) saved under another extension ...
    # Rename it to renamed.npz": its members (x.npy, y.npy) say what it is, and numpy reads it without pickles.
    from lrfinder.cli.loading import load_data

    (work / "renamed.pt").write_bytes((work / "train.npz").read_bytes())
    np.savez(work / "named.npz", inputs=np.ones((8, 10), np.float32), labels=np.arange(8) % 3)
    (work / "named.pth").write_bytes((work / "named.npz").read_bytes())
    for npz, renamed, keys in (("train.npz", "renamed.pt", {}), ("named.npz", "named.pth", {"x_key": "inputs"})):
        want, got = (load_data(work / name, batch_size=8, **keys).dataset for name in (npz, renamed))
        assert isinstance(want, TensorDataset) and isinstance(got, TensorDataset)
        assert all(torch.equal(a, b) and a.dtype == b.dtype for a, b in zip(want.tensors, got.tensors, strict=True))
    runs = [
        invoke("run", "model.pt", *data, "--json", f"{name}.json", *FAST)
        for name, data in (
            ("npz", ("--data", "train.npz", "--val-data", "train.npz")),
            ("pt", ("--data", "renamed.pt", "--val-data", "renamed.pt")),
        )
    ]
    assert [r.exit_code for r in runs] == [0, 0], [r.output for r in runs]
    results = [json.loads((work / f"{name}.json").read_text()) for name in ("npz", "pt")]
    assert results[0]["losses"] == results[1]["losses"] and len(results[0]["losses"]) > 0


@pytest.mark.parametrize(
    ("saved", "said"),
    [
        ("npz", "The inputs ('x') in empty_features.npz have shape (128, 0, 10): a dimension of size 0"),
        ("pair", "The inputs in empty_features.pt have shape (128, 3, 0): a dimension of size 0"),
        ("targets", "The targets ('y') in empty_features.npz have shape (128, 0)"),
    ],
)
def test_inputs_with_a_zero_sized_dimension_are_refused_naming_the_file_key_and_shape(
    work: Path, saved: str, said: str
):
    # (N, 0, F) inputs reached the model and failed in the loss, "The model's output (shape (32, 0, 3)) does not fit
    # the targets", naming neither the file nor the array.
    x, y = np.zeros((128, 10), np.float32), np.zeros(128, np.int64)
    if saved == "npz":
        np.savez(work / "empty_features.npz", x=x[:, None, :][:, :0], y=y)
    elif saved == "targets":
        np.savez(work / "empty_features.npz", x=x, y=y[:, None][:, :0])
    else:
        torch.save((torch.zeros(128, 3, 0), torch.from_numpy(y)), work / "empty_features.pt")
    data = "empty_features.pt" if saved == "pair" else "empty_features.npz"
    line = assert_one_line(invoke("run", "model.pt", "--data", data, *FAST), 1, said, "each sample holds no values")
    assert "does not fit the targets" not in line


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--json", "--no-report"], "Invalid value for '--json': got '--no-report', an option, where a path belongs: "
                                    "--json takes a file name, e.g. --json result.json --no-report"),
        (["--csv", "-q"], "--csv takes a file name, e.g. --csv result.csv -q"),
        (["--report", "--num-steps", "12"], "--report takes a file name, e.g. --report lrfind-report.png --num-steps"),
    ],
)  # fmt: skip
def test_an_option_where_an_output_path_belongs_is_refused(work: Path, args: list[str], said: str):
    # --json taken for a flag: `--json --no-report` wrote the JSON to a file named '--no-report' (and the report).
    assert_one_line(invoke("run", "model.pt", "--data", "train.npz", *FAST, *args), 2, said)
    assert not list(work.glob("-*")) and not (work / "lrfind-report.png").exists()


def test_fit_output_given_an_option_is_refused_from_a_real_process(work: Path):
    proc = subprocess.run([sys.executable, "-m", "lrfinder", "fit", "model.pt", "--data", "train.npz", *FAST, "-o",
                           "--quiet"], capture_output=True, text=True, cwd=work, timeout=300)  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "--output takes a file name, e.g. --output trained.pt --quiet" in proc.stderr
    assert not list(work.glob("-*"))


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["model.pt", "train.npz"], "Got unexpected extra argument (train.npz): run takes one MODEL; pass the data as "
                                    "--data train.npz"),
        (["model.pt", "--data", "train.npz", "--optimizer", "adam", "--betas", "0.9", "0.999"],
         "Got unexpected extra argument (0.999): --betas takes its values as one argument, separated by commas: "
         "--betas 0.9,0.999"),
        # The second value equal to the first: the hint was left out (the first 0.9 was taken for the extra).
        (["model.pt", "--data", "train.npz", "--optimizer", "adam", "--betas", "0.9", "0.9"],
         "Got unexpected extra argument (0.9): --betas takes its values as one argument, separated by commas: "
         "--betas 0.9,0.9"),
        (["model.pt", "--data", "train.npz", "--weight-decay", "0", "1e-4"],
         "--weight-decay takes its values as one argument, separated by commas: --weight-decay 0,1e-4"),
        # Three values typed apart: the hint was built from the first two (--weight-decay 0.1,0.01).
        (["model.pt", "--data", "train.npz", "--weight-decay", "0.1", "0.01", "0.001"],
         "--weight-decay takes its values as one argument, separated by commas: --weight-decay 0.1,0.01,0.001"),
        # Values typed apart before MODEL: click took 0.01 for MODEL ("Invalid value for 'MODEL': File '0.01' does not
        # exist"); the values are named, and MODEL left out of them.
        (["--weight-decay", "0.1", "0.01", "model.pt", "--data", "train.npz"],
         "Got unexpected extra argument (model.pt): --weight-decay takes its values as one argument, separated by "
         "commas: --weight-decay 0.1,0.01"),
        # The data typed after a list option's value is no value of it: the hint was --weight-decay 0.1,train.npz.
        (["model.pt", "--weight-decay", "0.1", "train.npz"],
         "Got unexpected extra argument (train.npz): run takes one MODEL; pass the data as --data train.npz"),
        (["model.pt", "--optimizer", "adam", "--betas", "0.9,0.99", "train.npz"],
         "Got unexpected extra argument (train.npz): run takes one MODEL; pass the data as --data train.npz"),
        # A comma typed with a space after it: the hint doubled it (--weight-decay 0.1,,0.01).
        (["model.pt", "--data", "train.npz", "--weight-decay", "0.1,", "0.01"],
         "--weight-decay takes its values as one argument, separated by commas: --weight-decay 0.1,0.01"),
        # One value too many for an option of one value: click took it for MODEL ("File '0.01' does not exist"), or
        # the data file after MODEL for the data typed without --data.
        (["--num-steps", "12", "0.01", "model.pt", "train.npz"],
         "Invalid value for 'MODEL': File '0.01' does not exist: --num-steps takes one value (--num-steps 12); 0.01 "
         "after it is one too many"),
        (["--max-lr=1", "0.5", "--data", "train.npz"],
         "Invalid value for 'MODEL': File '0.5' does not exist: --max-lr takes one value (--max-lr 1); 0.5 after it "
         "is one too many"),
        (["--mode", "exp", "linear", "model.pt", "--data", "train.npz"],
         "--mode takes one value (--mode exp); linear after it is one too many"),
        (["model.pt", "--data", "train.npz", "--max-lr", "1", "0.5"],
         "Got unexpected extra argument (0.5): --max-lr takes one value (--max-lr 1); 0.5 after it is one too many"),
        # A free-text option's second value that is a registry name: click's own "Got unexpected extra argument".
        (["--optimizer", "adam", "adamw", "model.pt", "train.npz"],
         "Invalid value for 'MODEL': File 'adamw' does not exist: --optimizer takes one value (--optimizer adam); "
         "adamw after it is one too many"),
        (["model.pt", "--data", "train.npz", "--optimizer=adam", "nadam"],
         "Got unexpected extra argument (nadam): --optimizer takes one value (--optimizer adam); nadam after it is one "
         "too many"),
        (["model.pt", "--data", "train.npz", "--scheduler", "cosine", "onecycle"],
         "Got unexpected extra argument (onecycle): --scheduler takes one value (--scheduler cosine); onecycle after "
         "it is one too many"),
        # A list option's values typed apart with no MODEL after them: the last value was the missing file MODEL.
        (["--weight-decay", "0.1", "0.01", "--data", "train.npz"],
         "Invalid value for 'MODEL': File '0.01' does not exist: --weight-decay takes its values as one argument, "
         "separated by commas: --weight-decay 0.1,0.01"),
    ],
)  # fmt: skip
def test_an_extra_argument_is_named_with_the_form_it_meant(work: Path, args: list[str], said: str):
    # The data after MODEL was "Missing option '--data'"; a second beta "Got unexpected extra argument (0.999)".
    assert_one_line(invoke("run", *args, *FAST), 2, said)


def test_a_model_file_named_as_a_number_after_an_option_is_read(work: Path):
    # A MODEL that exists is never taken for a value typed apart, however it is named.
    shutil.copy(work / "model.pt", work / "0.01")
    result = invoke("run", "--num-steps", "12", "0.01", "--data", "train.npz", "--no-report")
    assert result.exit_code == 0, result.output
    assert_one_line(invoke("run", "--num-steps", "12", "0.02", "--data", "train.npz"), 2, "--num-steps takes one value")


def test_a_list_options_metavar_is_read_as_click_8_1_gives_it():
    """setup.cfg allows click 8.1, whose ``make_metavar()`` takes no context (click 8.2 added it): every extra argument
    (``lrfind run model.pt train.npz``) stopped with "Parameter.make_metavar() takes 1 positional argument but 2 were
    given" where the hint above was meant. The metavar is read as the installed click gives it."""
    from lrfinder.cli.config import _metavar

    run = main.commands["run"]
    ctx = click.Context(run)
    decay = next(p for p in run.params if p.name == "weight_decay")

    class OlderOption:  # an option as click 8.1 gives it
        def make_metavar(self) -> str:
            return "FLOAT,..."

    assert _metavar(OlderOption(), ctx) == "FLOAT,..."  # type: ignore[arg-type]
    assert "," in _metavar(decay, ctx)  # the installed click's, whichever it is


def test_inputs_and_targets_of_different_lengths_are_named_and_told_to_match(work: Path):
    # It said "... have different numbers of rows (256 and 200)." alone: neither which arrays nor what to do.
    np.savez(work / "uneven.npz", x=np.zeros((256, 10), "float32"), y=np.zeros(200, "int64"))
    assert_one_line(invoke("run", "model.pt", "--data", "uneven.npz", *FAST), 1,
                    "The inputs ('x') and targets ('y') in uneven.npz have different numbers of rows (256 and 200)",
                    "Save them with the same length, one target row per input row.")  # fmt: skip
