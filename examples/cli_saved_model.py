"""The ``lrfind`` command line on a saved model: save a model and data, run ``lrfind run``.

    python examples/cli_saved_model.py

The script writes, in the current directory:

* ``lrfind-example/model.pt``: a small MLP saved as TorchScript (``torch.jit.save``), so
  ``lrfind`` loads it without this script's code (a ``state_dict`` would need
  ``--model-class module:Class``; a pickled ``torch.save(model)`` is refused unless
  ``--unsafe-pickle``);
* ``lrfind-example/train.npz``: the training data, arrays ``x`` (inputs) and ``y`` (labels);

then runs, as a user would in a shell::

    lrfind run lrfind-example/model.pt --data lrfind-example/train.npz --optimizer adamw \\
        --min-lr 1e-6 --max-lr 10 --target-batch-size 256 --report lrfind-example/report.png \\
        --json lrfind-example/result.json --csv lrfind-example/curve.csv

What to look at: the summary ``lrfind`` prints (suggested LR, one-cycle band, divergence,
confidence, and the LR scaled from the test's batch 32 to batch 256), ``report.png`` (the curve,
the suggestion line, the band, the slope panel), ``result.json`` (read back here with
``RangeTestResult.from_json``) and ``curve.csv`` (lr, loss, smoothed, slope). The input files
are not modified: their checksums are compared before and after.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lrfinder import RangeTestResult


def lrfind_command() -> list[str]:
    """The installed console script, or the same CLI through the interpreter running this script."""
    exe = shutil.which("lrfind")
    return [exe] if exe else [sys.executable, "-m", "lrfinder"]


def main() -> None:
    out = Path("lrfind-example")
    out.mkdir(exist_ok=True)

    # A problem with a known answer: labels from a random linear teacher, fixed seed.
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 20, generator=gen)
    y = (x @ torch.randn(20, 4, generator=gen)).argmax(dim=1)
    np.savez(out / "train.npz", x=x.numpy(), y=y.numpy())

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))
    torch.jit.save(torch.jit.script(model), str(out / "model.pt"))

    inputs = [out / "model.pt", out / "train.npz"]
    before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs]

    command = lrfind_command() + [
        "run", str(out / "model.pt"),
        "--data", str(out / "train.npz"),
        "--optimizer", "adamw",
        "--min-lr", "1e-6", "--max-lr", "10",
        "--target-batch-size", "256",
        "--report", str(out / "report.png"),
        "--json", str(out / "result.json"),
        "--csv", str(out / "curve.csv"),
    ]  # fmt: skip
    shown = ["lrfind", *command[1:]] if Path(command[0]).name == "lrfind" else command
    print("$", " ".join(shown))
    proc = subprocess.run(command, capture_output=True, text=True)
    print(proc.stdout, end="")
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"lrfind exited with {proc.returncode}")

    result = RangeTestResult.from_json(out / "result.json")
    after = [hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs]
    print()
    print(f"read back from result.json: suggested lr {result.suggestion.lr:.2e}" if result.suggestion else
          f"read back from result.json: inconclusive ({result.error})")  # fmt: skip
    if result.scaled is not None:
        print(f"to train at batch 256: lr {result.scaled.lr:.2e} ({result.scaled.reason})")
    rows = len((out / "curve.csv").read_text().splitlines()) - 1
    print(f"curve.csv rows: {rows} (one per step run: {result.num_steps})")
    print(f"inputs unchanged: {before == after}")
    print(f"look at {out / 'report.png'}")


if __name__ == "__main__":
    main()
