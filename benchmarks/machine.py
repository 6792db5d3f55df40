"""The machine a benchmark ran on: recorded with each result when it is written, said beside its table.

A result file measured on one machine and rendered beside another's (``cost.py --keep-others`` remeasures one
model and keeps the others' timings) is only honest when each result says where it was measured: timings from an
Intel Xeon and an AMD EPYC are not one table's. Files written before results recorded it read as "not recorded".
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``'s ``model name``), else what ``platform`` knows of it."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def measured_on() -> dict[str, Any]:
    """What a result records of where it was measured: CPU model, cores, torch version and the date (UTC)."""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch": _version("torch"),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def describe(recorded: Mapping[str, Any] | None) -> str:
    """The sentence a table's section says of its machine; a result without one says it was not recorded."""
    if not recorded:
        return "Measured on: not recorded (a result written before results recorded their machine).\n"
    cores = recorded.get("cores")
    parts = [str(recorded.get("cpu") or "unknown CPU")]
    if cores:
        parts.append(f"{cores} core{'s' if cores != 1 else ''}")
    if recorded.get("torch"):
        parts.append(f"torch {recorded['torch']}")
    when = f" ({recorded['date']})" if recorded.get("date") else ""
    return f"Measured on: {', '.join(parts)}{when}.\n"


def machine() -> dict[str, str]:
    """Where ``RESULTS.md`` is rendered: the CPU, cores, Python, OS, commit, date and package versions."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = "unknown"
    packages = ("lrfinder", "torch", "pytorch-lightning", "torch-lr-finder", "numpy", "scipy", "scikit-learn")
    return {
        "cpu": cpu_model(),
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "os": platform.platform(),
        "commit": commit or "unknown",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        **{pkg: _version(pkg) for pkg in packages},
    }
