"""Start-up: wall time of ``lrfind --help``, ``lrfind --version`` and ``lrfind list``.

Each command runs in a fresh interpreter, as a user's shell runs it: ``python -m lrfinder ARGS``
with this checkout first on ``PYTHONPATH`` (the ``lrfind`` console script does the same import
and call). One untimed warm-up run fills the OS file cache; then ``--rounds`` timed runs per
command, interleaved, and the median and the maximum are reported with the modules that matter
for start-up (torch, scipy.signal, matplotlib, Lightning), which must not be imported. For
scale, ``python -c pass`` (the interpreter alone) and ``python -c "import torch"`` are timed too.

Target (issue 11): 0.5 s or less for each command on this machine.

Usage::

    python -m benchmarks.startup             # 10 rounds, writes benchmarks/results/startup.md
    python -m benchmarks.startup --rounds 3  # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "startup.md"
TARGET_S = 0.5
HEAVY = ("torch", "scipy.signal", "matplotlib", "pytorch_lightning", "lightning")

COMMANDS: dict[str, list[str]] = {
    "lrfind --help": ["-m", "lrfinder", "--help"],
    "lrfind --version": ["-m", "lrfinder", "--version"],
    "lrfind list": ["-m", "lrfinder", "list"],
}
REFERENCES: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    'python -c "import torch"': ["-c", "import torch"],
}
PROBE = (
    "import json, runpy, sys\n"
    "sys.argv = ['lrfind'] + {args!r}\n"
    "try:\n    runpy.run_module('lrfinder', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "print(json.dumps([m for m in {heavy!r} if m in sys.modules]), file=sys.stderr)\n"
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *argv], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    return time.perf_counter() - start


def _heavy_imports(argv: list[str]) -> list[str]:
    args = argv[2:]  # after "-m lrfinder"
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)],
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stderr.strip().splitlines()[-1])


def main() -> None:
    """Time every command, print the table and write ``benchmarks/results/startup.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    everything = {**COMMANDS, **REFERENCES}
    load_before = os.getloadavg()
    for argv in everything.values():  # warm-up: file cache, .pyc files
        _time(argv)
    times: dict[str, list[float]] = {name: [] for name in everything}
    for _ in range(args.rounds):
        for name, argv in everything.items():
            times[name].append(_time(argv))
    load_after = os.getloadavg()
    lines = [
        "# Start-up time",
        "",
        f"`python -m benchmarks.startup --rounds {args.rounds}`: each command in a fresh interpreter, "
        f"median and maximum of {args.rounds} interleaved runs after one warm-up run. "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs (shared). "
        f"Target: {TARGET_S} s or less.",
        "",
        f"Load from other processes (1-minute load average): {load_before[0]:.1f} before, {load_after[0]:.1f} "
        f"after, on {os.cpu_count()} CPUs; above the CPU count, every time here includes waiting for a CPU.",
        "",
        "| command | median (s) | max (s) | within target | heavy modules imported |",
        "|---|---:|---:|---|---|",
    ]
    for name, argv in everything.items():
        median, worst = statistics.median(times[name]), max(times[name])
        if name in COMMANDS:
            heavy = ", ".join(_heavy_imports(argv)) or "none"
            ok = "yes" if median <= TARGET_S else "NO"
        else:
            heavy, ok = "(reference)", ""
        lines.append(f"| `{name}` | {median:.3f} | {worst:.3f} | {ok} | {heavy} |")
    text = "\n".join(lines) + "\n"
    print(text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
