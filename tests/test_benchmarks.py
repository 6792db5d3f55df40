"""Smoke tests: the benchmark scripts run end to end on one tiny task (no timing assertions)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
# The benchmarks are a top-level package of the repository, not of the installed lrfinder.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import cost, quality  # noqa: E402
from benchmarks.tasks import TASKS, TASKS_BY_NAME, train  # noqa: E402


def test_task_suite_covers_the_issue() -> None:
    assert len(TASKS) >= 8
    assert {t.loss for t in TASKS} == {"ce", "mse"}
    assert {t.split for t in TASKS} == {"tune", "check"}
    names = " ".join(t.optimizer_name for t in TASKS)
    assert "SGD" in names and "Adam" in names
    assert all(len(t.lr_grid()) >= 4 * (t.grid[1] - t.grid[0]) for t in TASKS)


def test_train_is_deterministic() -> None:
    task = TASKS_BY_NAME["wine_mlp_adamw"]
    a = train(task, 1e-2, seed=0, steps=10)
    b = train(task, 1e-2, seed=0, steps=10)
    assert a == b
    assert train(task, 1e-2, seed=0, schedule="onecycle", steps=10) > 0


def test_quality_smoke(tmp_path: Path) -> None:
    payload = quality.main(["--smoke", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    assert (tmp_path / "out" / "quality.md").read_text().startswith("## Suggestion quality")
    saved = json.loads((tmp_path / "out" / "quality.json").read_text())
    assert saved["results"][0]["task"] == "wine_mlp_adamw"
    scores = payload["results"][0]["scores"]["constant"]
    assert {"lrfinder", "cand:valley", "cand:steepest", "cand:min_div10"} <= set(scores)
    assert list((tmp_path / "cache").glob("*.json"))
    # A second run is served from the cache and gives the same answer.
    again = quality.main(["--smoke", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out2")])
    assert again["results"][0]["oracle"] == payload["results"][0]["oracle"]


def test_cost_smoke(tmp_path: Path) -> None:
    payload = cost.main(["--smoke", "--out", str(tmp_path)])
    small = payload["models"]["small"]
    assert small["steps"] == {"plain": 100, "lrfinder": 100}
    assert small["memory"]["lrfinder_snapshot_bytes"] > 0
    assert (tmp_path / "cost.md").exists()
