"""Interrupts and failures of a real ``lrfind`` process: exit codes, messages, files on disk.

Each test starts ``python -m lrfinder`` with ``--progress lines``, waits for a known step in
its progress output on stderr, sends the signal, and checks the exit code, the message and
that nothing was written (existing outputs byte-identical, no temporary files).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from _signals import STOPPING, default_signals
from torch import nn

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals"),
    pytest.mark.filterwarnings("ignore:`torch.jit.*is deprecated:DeprecationWarning"),
]

MESSAGE = "Interrupted; nothing was written."


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))
    torch.jit.save(torch.jit.script(net), tmp_path / "model.pt")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(256, 10, generator=gen)
    np.savez(tmp_path / "train.npz", x=x.numpy(), y=x[:, :3].argmax(1).numpy())
    # Outputs of an earlier run: they must survive an interrupted one byte for byte.
    for name in ("old.json", "old.png", "old.csv", "trained.pt"):
        (tmp_path / name).write_bytes(os.urandom(64))
    return tmp_path


def start(work: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "lrfinder", *args, "--progress", "lines"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_signals,
    )


def signal_at(proc: subprocess.Popen[str], marker: str, sig: int, timeout: float = 120) -> tuple[str, str]:
    """Read stderr until a line matches the regex ``marker``, send ``sig``, return (stdout, stderr)."""
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if re.search(marker, line):
            proc.send_signal(sig)
            break
    else:
        proc.kill()
    out, err = proc.communicate(timeout=timeout)
    assert any(re.search(marker, line) for line in seen), "".join(seen) + err
    return out, "".join(seen) + err


def untouched(work: Path, before: dict[str, str]) -> None:
    assert {name: sha(work / name) for name in before} == before
    assert [p.name for p in work.iterdir() if p.name.endswith(".tmp")] == []


def snapshot(work: Path) -> dict[str, str]:
    return {p.name: sha(p) for p in work.iterdir() if p.is_file()}


RUN = ["run", "model.pt", "--data", "train.npz", "--num-steps", "5000", "--stop-factor", "none", "--max-lr", "1e-3"]
OUTPUTS = ["--json", "old.json", "--report", "old.png", "--csv", "old.csv"]


@pytest.mark.parametrize("sig, code", STOPPING)
def test_run_interrupted_during_the_range_test_writes_nothing(work: Path, sig: int, code: int):
    before = snapshot(work)
    proc = start(work, *RUN, *OUTPUTS, "--json", "new.json")
    out, err = signal_at(proc, r"range test: step +5/5000", sig)
    assert proc.returncode == code, err
    assert MESSAGE in err and "Traceback" not in err
    assert "suggested lr" not in out  # no summary of a cut curve
    untouched(work, before)
    assert not (work / "new.json").exists()


def test_a_ctrl_c_swallowed_where_it_lands_still_stops_a_real_run(work: Path):
    # torch's C code catches the KeyboardInterrupt of a Ctrl-C that lands while `import torch` imports numpy, and
    # goes on: the whole test ran and its outputs were written (exit 0). A --model-class module that swallows its
    # own SIGINT as it is imported stands in for it (the second in which torch's import does is hard to hit).
    (work / "swallowing.py").write_text(
        "import signal\n"
        "from torch import nn\n"
        "try:\n"
        "    signal.raise_signal(signal.SIGINT)\n"
        "except KeyboardInterrupt:\n"
        "    pass\n"
        "def Net():\n"
        "    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))\n"
    )
    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3)).state_dict(), work / "weights.pt")
    before = snapshot(work)
    args = ["--model-class", "swallowing:Net", *RUN[2:], "--num-steps", "100", *OUTPUTS, "--json", "new.json"]
    proc = start(work, "run", "weights.pt", *args)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 130, err[-2000:]
    assert err.strip().splitlines()[-1] == MESSAGE and "Traceback" not in err
    assert "suggested lr" not in out
    untouched(work, before)
    assert not (work / "new.json").exists()


def test_sigint_stops_the_whole_weight_decay_sweep(work: Path):
    before = snapshot(work)
    proc = start(work, *RUN, "--num-steps", "2000", "--weight-decay", "0,1e-4,1e-3", *OUTPUTS)
    out, err = signal_at(proc, r"range test wd=0: step +5/2000", signal.SIGINT)
    assert proc.returncode == 130, err
    assert MESSAGE in err
    assert "wd=1e-04" not in err and "recommended weight decay" not in out  # the next values never ran
    untouched(work, before)


FIT = [
    "fit",
    "model.pt",
    "--data",
    "train.npz",
    "--batch-size",
    "8",
    "--num-steps",
    "60",
    "--min-lr",
    "1e-4",
    "--max-lr",
    "100",
]


@pytest.mark.parametrize("sig, code", STOPPING)
def test_fit_interrupted_during_training_keeps_the_old_model(work: Path, sig: int, code: int):
    before = snapshot(work)
    proc = start(work, *FIT, "--epochs", "200", "--output", "trained.pt", *OUTPUTS)
    out, err = signal_at(proc, r"epoch 1/200: batch +3/32", sig)
    assert proc.returncode == code, err
    assert MESSAGE in err and "Traceback" not in err
    untouched(work, before)


def test_fit_interrupted_during_the_range_test_does_not_train(work: Path):
    before = snapshot(work)
    proc = start(work, *FIT, "--num-steps", "5000", "--stop-factor", "none", "--max-lr", "1e-3", "-o", "trained.pt")
    out, err = signal_at(proc, r"range test: step +5/5000", signal.SIGINT)
    assert proc.returncode == 130, err
    assert MESSAGE in err and "epoch" not in out
    untouched(work, before)


ATOMIC_WRITER = """
import os, signal, sys
from lrfinder._atomic import atomic_write

def write(tmp):
    open(tmp, "w").write("half")
    os.kill(os.getpid(), signal.SIGTERM)

atomic_write(sys.argv[1], write)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else []))
def test_a_stop_during_an_atomic_write_leaves_no_temp_file(tmp_path: Path, sig: int):
    # A hangup (the terminal closed) ended the process at once, its temporary file left beside the target.
    target = tmp_path / "report.png"
    target.write_bytes(b"old")
    writer = ATOMIC_WRITER.replace("signal.SIGTERM", f"signal.{signal.Signals(sig).name}")
    proc = subprocess.run(
        [sys.executable, "-c", writer, str(target)], capture_output=True, timeout=120, preexec_fn=default_signals
    )
    assert proc.returncode == -sig  # still ends as the signal would
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.png"]


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="POSIX's SIGHUP")
def test_a_run_under_nohup_outlives_a_sighup(work: Path):
    """SIGHUP ignored when lrfind starts (nohup) stays ignored: the run ends as usual and writes its outputs."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lrfinder", "run", "model.pt", "--data", "train.npz", "--num-steps", "300",
         "--json", "new.json", "--no-report", "--progress", "lines"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )  # fmt: skip
    out, err = signal_at(proc, r"range test: step +5/300", signal.SIGHUP)
    assert proc.returncode == 0, err
    assert MESSAGE not in err and (work / "new.json").is_file()


def test_a_second_ctrl_c_while_the_interpreter_shuts_down_prints_no_traceback(work: Path):
    """A second Ctrl-C right after "Interrupted" met Python's handler in the shutdown: "Exception ignored in atexit
    callback ... KeyboardInterrupt" and a traceback of torch's code. It now ends the process as SIGINT does."""
    before = snapshot(work)
    for _ in range(3):  # the second one as soon as the first is said, a few times over
        proc = start(work, *RUN, *OUTPUTS)
        assert proc.stderr is not None
        for line in iter(proc.stderr.readline, ""):
            if re.search(r"range test: step +5/5000", line):
                proc.send_signal(signal.SIGINT)
            if MESSAGE in line:
                proc.send_signal(signal.SIGINT)
                break
        out, rest = proc.communicate(timeout=120)
        assert proc.returncode in (130, -signal.SIGINT), rest  # a shell reads either as 130
        assert "Traceback" not in rest and "Exception ignored" not in rest, rest
    untouched(work, before)
