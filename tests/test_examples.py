"""Run every script in ``examples/`` as a user would (new examples are picked up automatically)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))

# What each script's docstring tells the user to look at, where the script prints it.
PROMISED = {
    # "rank 0 loss / rank 1 loss at the first steps, and the recorded (mean) loss between them"
    "ddp_cpu.py": ["step 0: rank 0 loss ", "step 2: rank 0 loss ", "-> recorded (mean) "],
    # the steps row as lrfind's summary words it ("91/100 (stopped: diverged at lr=...)"), not "(stopped: completed)"
    "plain_range_test.py": ["model restored after the test: True", "/100 (stopped: diverged at lr="],
    "cli_saved_model.py": ["inputs unchanged: True", "read back from result.json: suggested lr"],
    "lightning_callback.py": ["applied: self.lr = ", "curve table: "],
    "weight_decay_sweep.py": ["<- recommended", "recommended weight decay: "],
    # "the scaled LR, the rule used and whether it was capped ..., and the validation loss after training with each LR"
    "batch_size_scaling.py": ["scaled to batch 512: lr=", "training 2 epochs at batch 512, validation loss:",
                              "  unscaled lr ", "  scaled lr "],
}


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_example_runs(script: Path, tmp_path: Path) -> None:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"{script.name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    assert proc.stdout.strip(), f"{script.name} printed nothing for the user to look at"
    for text in PROMISED.get(script.name, []):
        assert text in proc.stdout, f"{script.name} did not print {text!r}:\n{proc.stdout[-2000:]}"
