"""Smoke tests: the benchmark scripts run end to end on one tiny task (no timing assertions)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")
# The benchmarks are a top-level package of the repository, not of the installed lrfinder.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import cost, quality  # noqa: E402
from benchmarks.machine import describe, measured_on  # noqa: E402
from benchmarks.tasks import TASKS, TASKS_BY_NAME, train  # noqa: E402


def test_task_suite_covers_the_issue() -> None:
    assert len(TASKS) >= 8
    assert {t.loss for t in TASKS} - {"ce", "mse"} == {"cosface:3.2", "cosface:10.5"}
    assert {t.split for t in TASKS} == {"tune", "check"}
    names = " ".join(t.optimizer_name for t in TASKS)
    assert "SGD" in names and "Adam" in names
    assert all(len(t.lr_grid()) >= 4 * (t.grid[1] - t.grid[0]) for t in TASKS)


def test_the_inconclusive_tasks_one_of_each_class_on_each_split() -> None:
    """The tasks added for inconclusive curves: one of each class on each split; the cosine classifier is scale-free
    (weights scaled 10x give the same logits) and its CosFace loss lowers the target's logit by the margin."""
    import torch
    from torch.nn import functional as F

    from benchmarks.tasks import INCONCLUSIVE_CLASSES

    marked = [t for t in TASKS if "inconclusive" in t.extra]
    assert sorted((t.extra["inconclusive"], t.split) for t in marked) == sorted(
        (c, split) for c in INCONCLUSIVE_CLASSES for split in ("tune", "check")
    )
    task = TASKS_BY_NAME["digits_cosface_s16_adam"]
    model = task.build(0)
    x = torch.randn(5, 64)
    out = model(x).detach()
    assert out.abs().max() <= 16.0 + 1e-4
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(10.0)
    assert torch.allclose(model(x), out, atol=1e-5)
    y = torch.tensor([0, 1, 2, 3, 4])
    lowered = out.clone()
    lowered[torch.arange(5), y] -= 3.2
    assert float(task.loss_fn(out, y)) == pytest.approx(float(F.cross_entropy(lowered, y)))
    assert float(task.loss_fn(out, y)) > float(F.cross_entropy(out, y))


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
    # Where it was measured, recorded with the result and said with its tables.
    assert saved["machine"] == {**measured_on(), "date": saved["machine"]["date"]}
    assert describe(saved["machine"]) in (tmp_path / "out" / "quality.md").read_text()


def test_probe_smoke(tmp_path: Path) -> None:
    from benchmarks import probe

    payload = probe.main(["--smoke", "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out")])
    assert (tmp_path / "out" / "probe.md").read_text().startswith("## Probe: tasks lrfinder was never tuned")
    (row,) = payload["results"]
    assert row["task"] == "probe_logreg_sgd" and row["steps"] == 60
    test = row["tests"][0]
    # Every range test, plain or refined, put the model, the optimizer and the data order back.
    assert test["plain"]["restored"] and test["refine_constant"]["restored"] and test["refine_onecycle"]["restored"]
    assert set(row["scores"]["constant"]) == {"suggestion.lr", "refined"}
    # The probe's datasets are not the benchmark's, and its tasks are new.
    assert {t.name for t in probe.PROBE_TASKS}.isdisjoint(TASKS_BY_NAME)


def test_cost_smoke(tmp_path: Path) -> None:
    payload = cost.main(["--smoke", "--out", str(tmp_path)])
    small = payload["models"]["small"]
    assert small["steps"] == {"plain": 100, "lrfinder": 100}
    assert small["memory"]["lrfinder_snapshot_bytes"] > 0
    assert (tmp_path / "cost.md").exists()
    assert "Against the target (a 100-step test within 5% of 100 plain steps, medians): `range_test` " in (
        tmp_path / "cost.md"
    ).read_text()


def test_cost_keep_others_remeasures_one_model_and_keeps_the_other(tmp_path: Path) -> None:
    """``--models small --keep-others`` rewrites cost.md with the 10M model's recorded results, not without them."""
    recorded = json.loads((Path(cost.RESULTS_DIR) / "cost.json").read_text())
    # As an older file recorded it: without its machine.
    big = {k: v for k, v in recorded["models"]["10M"].items() if k != "machine"}
    (tmp_path / "cost.json").write_text(json.dumps({"rounds": 99, "methods": recorded["methods"],
                                                    "models": {"small": {"stale": True}, "10M": big}}))
    payload = cost.main(["--smoke", "--keep-others", "--out", str(tmp_path)])
    assert list(payload["models"]) == ["small", "10M"]
    assert "stale" not in payload["models"]["small"] and payload["models"]["small"]["steps"]["lrfinder"] == 100
    assert payload["models"]["10M"] == big
    assert json.loads((tmp_path / "cost.json").read_text())["models"]["10M"] == big
    text = (tmp_path / "cost.md").read_text()
    assert f"### 10M model (10,512,394 parameters, {big['rounds']} rounds)" in text
    assert "### small model (9,610 parameters, 1 rounds)" in text
    # Each model's table says where it was measured: the kept one was measured before machines were recorded.
    small = json.loads((tmp_path / "cost.json").read_text())["models"]["small"]["machine"]
    assert small == {**measured_on(), "date": small["date"]} and "machine" not in big
    assert f"1 rounds)\n\n{describe(small)}" in text
    assert f"{big['rounds']} rounds)\n\nMeasured on: not recorded (a result written before" in text
    # Without the flag, only what was measured is written, as before.
    assert list(cost.main(["--smoke", "--out", str(tmp_path)])["models"]) == ["small"]


def test_results_render_the_machine_each_was_measured_on() -> None:
    """RESULTS.md had one machine table for every result, although a model's costs remeasured alone on another
    machine kept the others' recorded ones: each table now says its own, and old files read as not recorded."""
    xeon = {"cpu": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", "cores": 2, "torch": "2.13.0+cpu",
            "date": "2026-12-05 21:10 UTC"}
    said = (
        "Measured on: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz, 2 cores, torch 2.13.0+cpu "
        "(2026-12-05 21:10 UTC).\n"
    )
    assert describe(xeon) == said
    assert describe({"cpu": "AMD EPYC", "cores": 1}) == "Measured on: AMD EPYC, 1 core.\n"
    not_recorded = "Measured on: not recorded (a result written before results recorded their machine).\n"
    assert describe(None) == describe({}) == not_recorded
    recorded = json.loads((Path(cost.RESULTS_DIR) / "cost.json").read_text())  # written before: still readable
    small, big = recorded["models"]["small"], recorded["models"]["10M"]
    payload = {**recorded, "models": {"small": {**small, "machine": xeon}, "10M": {k: v for k, v in big.items()
                                                                                    if k != "machine"}}}
    text = cost.render_markdown(payload)
    small_part, big_part = text.split("### 10M model")
    assert f"rounds)\n\n{said}" in small_part and not_recorded not in small_part
    assert f"rounds)\n\n{not_recorded}" in big_part and "Xeon" not in big_part
    q = json.loads((Path(quality.RESULTS_DIR) / "quality.json").read_text())
    q.pop("machine", None)
    assert not_recorded in quality.render_markdown(q)
    amd = {**xeon, "cpu": "AMD EPYC 7B13"}
    rendered = quality.render_markdown({**q, "machine": amd})
    assert rendered.split("\n\n")[2] == describe(amd).rstrip("\n")  # under the section's opening paragraph


def test_the_committed_pages_cover_every_task_and_are_their_json() -> None:
    """quality.md/.json and stop_rule.md/.json covered 12 tasks after six were added to benchmarks/tasks.py (the
    docs quoted "12 tasks" a session on): each page covers every task its benchmark runs, and is its JSON rendered,
    so no number on it was typed or left behind."""
    from benchmarks import stop_rule

    results = Path(quality.RESULTS_DIR)
    q = json.loads((results / "quality.json").read_text())
    assert [r["task"] for r in q["results"]] == [t.name for t in TASKS]
    assert (results / "quality.md").read_text() == quality.render_markdown(q)
    s = json.loads((results / "stop_rule.json").read_text())
    assert s["config"]["tasks"] == [t.name for t in stop_rule.TASKS]
    assert {(r["task"], r["seed"]) for r in s["rows"]} == {
        (t.name, seed) for t in stop_rule.TASKS for seed in range(s["config"]["seeds"])}
    assert (results / "stop_rule.md").read_text() == stop_rule.render(s)


def test_cost_says_whether_the_target_is_met() -> None:
    """Issue 6's cost target (within 5% of plain steps) was measured but nowhere said to be met or not."""
    res = {"ratio_plain": {"lrfinder": 1.2}, "median": {"plain": 0.033, "lrfinder": 0.0396},
           "test_inside_fit_ratio_plain": {"lrfinder_cb_fit": 1.04}}
    assert cost._against_target(res) == (
        "Against the target (a 100-step test within 5% of 100 plain steps, medians): `range_test` 1.200x: "
        "**not met** (7 ms more than the plain steps' 33 ms); the callback's test inside `fit` 1.040x: **met**.\n"
    )
    assert "`range_test` 1.030x: **met**." in cost._against_target(
        {"ratio_plain": {"lrfinder": 1.03}, "median": {"plain": 1.0, "lrfinder": 1.03}}
    )


def test_exact_noise_scale_matches_a_per_example_loop() -> None:
    from benchmarks.noise_growth import exact_noise_scale

    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    x, y = torch.randn(40, 3, generator=gen), 2.0 + torch.randn(40, 1, generator=gen)
    loss_fn = torch.nn.functional.mse_loss
    rows = []
    for xi, yi in zip(x, y):
        model.zero_grad()
        loss_fn(model(xi[None]), yi[None]).backward()
        rows.append(torch.cat([p.grad.flatten() for p in model.parameters()]).double())
    g = torch.stack(rows)
    trace = float(g.var(0, unbiased=True).sum())
    grad_sq = float(g.mean(0).pow(2).sum()) - trace / len(g)
    got = exact_noise_scale(model, loss_fn, x, y)
    assert got["trace_sigma"] == pytest.approx(trace, rel=1e-5)
    assert got["grad_sq"] == pytest.approx(grad_sq, rel=1e-5)
    assert got["b_simple"] == pytest.approx(trace / grad_sq, rel=1e-5)
    # Every row twice, its target the model's output plus and minus the same residual: the
    # per-example gradients cancel in pairs, so the mean gradient is zero and |G|^2 is not positive.
    with torch.no_grad():
        out, residual = model(x), 0.1 * torch.randn(40, 1, generator=gen)
    pure = exact_noise_scale(model, loss_fn, torch.cat([x, x]), torch.cat([out + residual, out - residual]))
    assert pure["grad_sq"] <= 0 and pure["b_simple"] == float("inf")


def test_train_calls_on_step_without_changing_the_result() -> None:
    task = TASKS_BY_NAME["wine_mlp_adamw"]
    seen: list[int] = []
    assert train(task, 1e-2, seed=0, steps=6, on_step=lambda model, k: seen.append(k)) == train(
        task, 1e-2, seed=0, steps=6
    )
    assert seen == list(range(7))


def _scaling_row(task: str, batches: list[int], best: dict[int, float]) -> dict[str, Any]:
    """A batch-scaling result whose validation loss is 1 + (decades from the best LR)^2."""
    grid = [10.0 ** (e / 4) for e in range(-16, 5)]
    oracle = {str(b): [1.0 + (math.log10(lr) - math.log10(best[b])) ** 2 for lr in grid] for b in batches}
    return {"task": task, "grid": grid, "batches": batches, "oracle": oracle,
            "best_lr": {str(b): grid[int(np.argmin(oracle[str(b)]))] for b in batches}}


def test_grid_regret_interpolates_in_log_lr() -> None:
    from benchmarks.noise_growth import grid_regret

    row = _scaling_row("t", [8], {8: 1e-2})
    assert grid_regret(row, 8, 1e-2) == pytest.approx(1.0)
    assert grid_regret(row, 8, 1e-1) == pytest.approx(2.0)  # one decade off
    # Halfway (in log LR) between 1e-2 and 10**-1.75 the interpolated loss is their mean.
    mid = 10 ** ((-2 - 1.75) / 2)
    assert grid_regret(row, 8, mid) == pytest.approx((1.0 + 1.0 + 0.25**2) / 2)
    assert grid_regret(row, 8, 1e6) == pytest.approx(1.0 + 3.0**2)  # past the grid: its last point


def test_what_if_scores_each_source_of_b() -> None:
    from benchmarks.noise_growth import what_if

    # Best LRs that grow linearly with the batch (SGD, no saturation): a huge noise scale scales
    # them exactly, a tiny one not at all.
    batches = [8, 80, 800]
    row = _scaling_row("sgd_task", batches, {8: 1e-3, 80: 1e-2, 800: 1e-1})
    result = {"task": "sgd_task", "split": "tune", "optimizer": "SGD(momentum=0.9)", "measured": 0.5,
              "training": [{"fraction": 0.05, "b_simple": 1e9}, {"fraction": 0.1, "b_simple": None},
                           {"fraction": 0.25, "b_simple": float("inf")}]}
    table = what_if([result], {"sgd_task": row})
    rules = table["tune"]["rules"]
    assert rules["linear"]["median"] == pytest.approx(1.0)
    assert rules["training 5%"]["median"] == pytest.approx(1.0)
    assert rules["measured"]["median"] > 1.3  # B = 0.5 keeps the LR almost flat
    assert rules["measured"]["worst_vs_best_fixed"] > 1.3
    assert rules["training 10%"]["points"] == 0 and rules["training 25%"]["points"] == 0  # unusable B
    assert table["all"]["tasks"] == ["sgd_task"]


@pytest.mark.slow
def test_noise_growth_smoke(tmp_path: Path) -> None:
    from benchmarks import noise_growth

    payload = noise_growth.main(["--smoke", "--out", str(tmp_path)])
    (row,) = payload["results"]
    assert row["task"] == "digits_mlp_momentum"
    assert [p["fraction"] for p in row["training"]] == list(noise_growth.FRACTIONS)
    # The estimator and the exact per-example value agree at the sweep's start to within 2x.
    assert 0.5 < row["measured"] / row["exact_start"] < 2.0
    assert (tmp_path / "noise_growth.md").read_text().startswith("## Noise-scale growth during training")
    assert json.loads((tmp_path / "noise_growth.json").read_text())["seeds"] == 1


def test_readings_compares_every_cached_curve(tmp_path: Path) -> None:
    from benchmarks import readings

    x = np.linspace(-6.0, 1.0, 100)
    curve = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    findings = {
        "lrfinder|0|v": {"lrs": (10**x).tolist(), "losses": curve.tolist()},
        "lrfinder|1|v": {"lrs": (10**x).tolist(), "losses": np.full(100, 1.0).tolist()},
    }
    (tmp_path / "task.json").write_text(json.dumps({"findings": findings}))
    now = readings.read_all(tmp_path, test_data=tmp_path / "none")
    assert set(now) == {"task|lrfinder|0|v", "task|lrfinder|1|v"}
    assert "never clearly falls" in now["task|lrfinder|1|v"]["error"]
    assert now["task|lrfinder|0|v"]["i_min"] < now["task|lrfinder|0|v"]["end"]
    assert readings.compare(now, now) == ["lrfinder: 0 of 2 curves changed"]
    before = dict(now, **{"task|lrfinder|1|v": {**now["task|lrfinder|0|v"], "lr": 1.0}})
    lines = readings.compare(before, now)
    assert lines[0].startswith("task|lrfinder|1|v\n    before: i_min=") and "after:  error: The loss" in lines[0]
    assert "lrfinder: 1 of 2 curves changed" in lines
    # A finding re-keyed to a new version of the finder's code is the same curve.
    moved = {key.replace("|v", "|w"): value for key, value in now.items()}
    assert readings.compare(now, moved) == ["lrfinder: 0 of 2 curves changed"]


def test_notes_counts_the_finders_curves_and_skips_other_caches(tmp_path: Path) -> None:
    from benchmarks import notes

    x = np.linspace(-6.0, 1.0, 100)
    curve = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    findings = {
        "lrfinder|0|v": {"lrs": (10**x).tolist(), "losses": curve.tolist()},
        "torch_lr_finder|0|v": {"lrs": (10**x).tolist(), "losses": np.full(100, 1.0).tolist()},
    }
    (tmp_path / "task.json").write_text(json.dumps({"findings": findings}))
    # A batch-scaling cache: training runs and range tests, no finders' curves.
    (tmp_path / "batch_scaling_task.json").write_text(json.dumps({"runs": {}, "tests": {}}))
    counts = notes.main(["--cache-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert counts["lrfinder"]["curves"] == 1 and counts["lrfinder"]["conclusive"] == 1
    assert counts["peers"]["curves"] == 1 and counts["peers"]["conclusive"] == 0
    assert any(kind.startswith("inconclusive: The loss never clearly falls") for kind in counts["peers"]["kinds"])
    assert (tmp_path / "out" / "notes.md").read_text().startswith("## How often the analysis notes fire")


def test_confidence_scores_each_cached_pick_against_the_oracle(tmp_path: Path) -> None:
    from benchmarks import confidence
    from benchmarks.quality import PER_DECADE, SEEDS
    from benchmarks.tasks import TASKS_BY_NAME

    task = TASKS_BY_NAME["digits_mlp_sgd"]
    grid = task.lr_grid(PER_DECADE)
    best = grid[len(grid) // 2]
    # Validation loss 1 at the best grid LR, growing by 0.5 per decade away from it.
    runs = {f"constant|{lr:.6e}|{s}": 1.0 + 0.5 * abs(math.log10(lr / best)) for lr in grid for s in range(SEEDS)}
    x = np.linspace(-6.0, 1.0, 100)
    clean = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    rng = np.random.default_rng(0)
    findings = {
        f"lrfinder|{s}|v": {"lrs": (10**x).tolist(), "losses": (clean + rng.normal(0, noise, x.size)).tolist()}
        for s, noise in enumerate((0.002, 0.15))
    }
    findings["torch_lr_finder|0|v"] = findings["lrfinder|0|v"]  # a peer's curve: not lrfinder's, not scored
    (tmp_path / f"{task.name}.json").write_text(json.dumps({"runs": runs, "findings": findings}))
    (tmp_path / "not_a_task.json").write_text(json.dumps({"runs": {}, "findings": findings}))
    summary = confidence.main(["--cache-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    rows = json.loads((tmp_path / "out" / "confidence.json").read_text())["rows"]
    assert [(r["finder"], r["seed"]) for r in rows] == [("lrfinder", 0), ("lrfinder", 1)]
    for r in rows:
        nearest = min(grid, key=lambda g: abs(math.log10(r["lr"] / g)))
        assert r["off"] == pytest.approx(abs(math.log10(r["lr"] / best)))
        assert r["trained"] is False and r["regret"] == pytest.approx(runs[f"constant|{nearest:.6e}|{r['seed']}"])
    # The noisier curve's pick moves more under the bootstrap.
    assert rows[0]["spread"] < rows[1]["spread"]
    assert summary["n"] == 2 and sum(b["n"] for b in summary["bins"]) == 2
    assert (tmp_path / "out" / "confidence.md").read_text().startswith("## Does the confidence predict")


def test_stop_rule_marks_and_peer_rules_have_known_answers() -> None:
    from benchmarks import stop_rule

    assert stop_rule.blowup_step([1.0, 1.0, 5.0, 5.0, 5.0, 1.0], 4.0, 3) == 3
    assert stop_rule.blowup_step([1.0, 1.0, 5.0, 5.0, 1.0, 1.0], 4.0, 3) is None  # a spike that recovers
    assert stop_rule.blowup_step([1.0, 1.0, 5.0, math.nan], 4.0, 3) == 3  # ends non-finite: above to its end
    lucky = [1.0, 1.0, 1e-6, 1.0, 1.0, 1.0, 1.0]
    assert stop_rule.blowup_step(lucky, 4.0, 3) == 4  # the raw minimum follows one lucky batch
    assert stop_rule.robust_blowup_step(lucky, 4.0, 3) is None
    # torch-lr-finder: an EMA with weight 0.05 from the first loss, against 5x its best: 0.05 * 100 + 0.95 = 5.95.
    assert stop_rule.torch_lr_finder_stop([1.0] * 10 + [100.0, 1.0]) == 11
    assert stop_rule.torch_lr_finder_stop([1.0] * 10 + [80.0, 1.0]) == 12  # 4.95: never stops
    # Lightning debiases with beta ** (step + 1) and keeps step 1's 0.505 as its best: 10 reads 1.76 < 2.02.
    assert stop_rule.lightning_stop([1.0] * 10 + [1000.0, 1.0]) == 11
    assert stop_rule.lightning_stop([1.0] * 10 + [10.0, 1.0]) == 12


def test_stop_rule_counts_slack_only_on_the_tests_that_stopped() -> None:
    """A sweep that ran to its end (a curve still falling at max_lr) has no stop to move earlier: its slack of 0 is
    not "none to spare". The page said 15 of 27 tune tests had none to spare once the never-stopping
    inconclusive-class tasks joined it, 9 of them sweeps that never stopped."""
    from benchmarks import stop_rule

    def row(stop: int, settled: int, stopped: bool) -> dict[str, object]:
        return {"split": "tune", "stop": stop, "stopped": stopped, "slack": stop - settled, "raw4": None,
                "past_raw4": None, "past_raw2": None, "past_robust4": None, "past_div": None,
                "replayed": {"torch_lr_finder": stop, "lightning": stop},
                "candidates": {name: {"saved": 0, "same_reading": True} for name in stop_rule.CANDIDATES}}

    rows = [row(80, 76, True), row(90, 90, True), row(100, 100, False), row(100, 100, False)]
    tune = stop_rule.summarise(rows)["tune"]
    assert (tune["tests"], tune["stopped"], tune["no_slack"], tune["max_slack"], tune["median_slack"]) == (
        4, 2, 1, 4, 2.0)
    assert stop_rule.summarise([row(100, 100, False)])["tune"]["max_slack"] is None
    assert {t.name for t in stop_rule.TASKS} == set(TASKS_BY_NAME)  # every quality task, since bench35


def test_stop_rule_replays_the_engine_stop_and_writes_its_page(tmp_path: Path) -> None:
    import torch

    from benchmarks import stop_rule
    from lrfinder import range_test

    torch.set_num_threads(1)
    task = TASKS_BY_NAME["wine_mlp_adamw"]
    payload = stop_rule.main(["--tasks", task.name, "--seeds", "1", "--cache-dir", str(tmp_path / "cache"),
                              "--quality-cache", str(tmp_path), "--out", str(tmp_path / "page")])
    model = task.build(0)
    stopped = range_test(model, task.loader(0), optimizer=task.optimizer(model.parameters(), 1e-3),
                         loss_fn=task.loss_fn)
    row = payload["rows"][0]
    assert row["stop"] == len(stopped.losses) < row["steps"]  # the replayed stop is the engine's own
    assert row["settled"] <= row["stop"] and set(row["candidates"]) == set(stop_rule.CANDIDATES)
    page = (tmp_path / "page.md").read_text()
    assert "| tune | raw above threshold 2 steps |" not in page and "| check | EMA beta 0.8 |" in page
    assert json.loads((tmp_path / "page.json").read_text())["rows"][0]["stop"] == row["stop"]


def test_advice_reads_the_sweep_an_inconclusive_curve_names() -> None:
    # benchmarks.advice runs the sweep the error names: its pattern must match the analysis' own words.
    from benchmarks.advice import advised_sweep
    from lrfinder import InconclusiveCurveError, analyze

    lrs = np.logspace(-7, -3, 100)
    with pytest.raises(InconclusiveCurveError) as caught:
        analyze(lrs, 2.3 + 0.01 * np.random.default_rng(0).standard_normal(100))
    assert advised_sweep(str(caught.value)) == {"min_lr": 1e-7, "max_lr": 1.0, "num_steps": 200}
    assert advised_sweep("The loss never clearly falls.") is None


def test_refine_resweep_start_variant_starts_below_the_smoothed_blow_up() -> None:
    # The --resweep-start study's variant: refine's never-fell re-sweep anchored at the smoothed blow-up (the LR the
    # message names), not at the LR the sweep stopped at; every other case is the shipped next_sweep's.
    from benchmarks import refine as bench
    from lrfinder import analysis
    from lrfinder.range_test import finish_result
    from lrfinder.refine import blowup_lr, next_sweep

    lrs = np.logspace(-7, 1, 100)
    x = np.log10(lrs)
    flat = 2.3 + 0.01 * np.random.default_rng(0).standard_normal(100) + np.where(x > -2.0, 4.0 ** (x + 2.0) - 1, 0)
    stopped = finish_result(lrs[:90].tolist(), flat[:90].tolist(), "diverged")
    top = blowup_lr(stopped)
    assert top is not None and top < stopped.lrs[-1]
    variant = bench._next_sweep_from_blowup(stopped, "never_falls", shipped=next_sweep)
    assert variant == (top / analysis.RESWEEP_BELOW, top * analysis.RESWEEP_ABOVE, 2 * stopped.settings.num_steps)
    assert next_sweep(stopped, "never_falls")[:2] == (
        stopped.lrs[-1] / analysis.RESWEEP_BELOW,
        stopped.lrs[-1] * analysis.RESWEEP_ABOVE,
    )
    assert bench._next_sweep_from_blowup(stopped, "still_falling", shipped=next_sweep) == next_sweep(
        stopped, "still_falling"
    )
    # The page names the start, not a steps factor.
    payload = {"shipped": 2, "factors": {}}
    assert "| re-sweep from |" in bench.render_resweep_steps(payload, start=True)
    assert "| steps factor |" in bench.render_resweep_steps(payload)


def test_inconclusive_places_each_inconclusive_curve_and_scores_the_fallback_rules(tmp_path: Path) -> None:
    from benchmarks import inconclusive
    from benchmarks.quality import FALLBACK_LR, PER_DECADE, SEEDS
    from lrfinder.analysis import find_blowup_lr

    task = TASKS_BY_NAME["digits_mlp_sgd"]  # a tune task
    grid = task.lr_grid(PER_DECADE)
    best = grid[len(grid) // 2]
    # Validation loss 1 at the best grid LR, growing by 0.5 per decade away from it.
    runs = {f"constant|{lr:.6e}|{s}": 1.0 + 0.5 * abs(math.log10(lr / best)) for lr in grid for s in range(SEEDS)}
    x = np.linspace(-6.0, 1.0, 100)
    rng = np.random.default_rng(0)
    # Flat noise, then a blow-up from 1e-1: inconclusive. A clean fall to 0.5 at 1e-3 before the blow-up: conclusive.
    blowup = np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    flat = 2.0 + rng.normal(0.0, 0.05, x.size) + blowup
    falls = 0.5 + 1.5 / (1.0 + np.exp((x + 3.0) / 0.3)) + blowup
    findings = {
        "lrfinder|0|v": {"lrs": (10**x).tolist(), "losses": flat.tolist()},
        "lrfinder|1|v": {"lrs": (10**x).tolist(), "losses": falls.tolist()},
        "torch_lr_finder|0|v": {"lrs": (10**x).tolist(), "losses": flat.tolist()},
    }
    (tmp_path / f"{task.name}.json").write_text(json.dumps({"runs": runs, "findings": findings}))
    summary = inconclusive.main(["--cache-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    rows = json.loads((tmp_path / "out" / "inconclusive.json").read_text())["rows"]
    # The conclusive curve is left out; the peer's copy of the flat one counts with the peers.
    assert [(r["finder"], r["seed"]) for r in rows] == [("lrfinder", 0), ("torch_lr_finder", 0)]
    row = rows[0]
    assert row["split"] == "tune" and row["best_lr"] == best and row["band"] == [best, best]
    assert row["blowup_lr"] == find_blowup_lr(10**x, flat) and 0.05 < row["blowup_lr"] < 0.3
    assert row["best_below"]["blowup_lr"] == pytest.approx(math.log10(row["blowup_lr"] / best))
    for rule, score in row["scores"].items():
        used = score["lr"] if score["lr"] is not None else FALLBACK_LR
        nearest = min(grid, key=lambda g: abs(math.log10(used / g)))
        assert score["regret"] == pytest.approx(1.0 + 0.5 * abs(math.log10(nearest / best))), rule
    assert row["scores"]["default_1e-3"]["lr"] is None
    assert row["scores"]["blowup_div10"]["lr"] == pytest.approx(row["blowup_lr"] / 10)
    assert row["scores"]["top_div10"]["lr"] == pytest.approx(10.0**x[-1] / 10)
    tune = summary["tune/lrfinder"]
    assert tune["curves"] == 1 and summary["tune/peers"]["curves"] == 1 and summary["check/lrfinder"]["curves"] == 0
    assert tune["rules"]["blowup_div10"]["geo_regret"] == pytest.approx(row["scores"]["blowup_div10"]["regret"])
    # No check-split curves: no rule can be supported on both splits.
    assert summary["verdict"]["winners"] == []
    page = (tmp_path / "out" / "inconclusive.md").read_text()
    assert page.startswith("## Inconclusive curves") and "**none**" in page
    # Per class of task: a task not added for inconclusive curves is "-"; each class gets its own verdict.
    assert row["class"] == "-" and TASKS_BY_NAME["skipgram_sgd"].extra["inconclusive"] == "a"
    assert list(summary["by_class"]) == ["-"] and "### Per class of task" in page
    classed = inconclusive.by_class([*rows, {**row, "class": "a", "split": "check"}])
    assert sorted(classed) == ["-", "a"]
    assert classed["a"]["check/lrfinder"]["curves"] == 1 and classed["a"]["tune/lrfinder"]["curves"] == 0
    assert classed["-"]["tune/lrfinder"]["curves"] == 1 and classed["a"]["verdict"]["winners"] == []


def test_inconclusive_curve_facts_have_known_answers() -> None:
    from benchmarks import inconclusive

    x = np.linspace(-6.0, 1.0, 141)  # 20 points per decade
    # Falls linearly in log10(lr) from 2.0 at 1e-6 to 1.0 at 1e-3, flat to 1e-1, then blows up.
    losses = np.clip(2.0 - (x + 6.0) / 3.0, 1.0, None) + np.where(x > -1.0, np.expm1(4.0 * (x + 1.0)), 0.0)
    facts = inconclusive.curve_facts(10**x, losses)
    assert facts["fell"] and not facts["min_at_start"]
    assert -1.3 <= math.log10(facts["blowup_lr"]) <= -0.7
    assert -3.1 <= math.log10(facts["min_lr"]) <= -1.0
    # The fall is within 10% of itself above the minimum from 1.1, at 10**-3.3; the smoothing rounds the corner
    # at 1e-3, which moves that point towards it, never past it.
    assert -3.35 <= math.log10(facts["flat_lr"]) < -3.0
    assert facts["top_lr"] == pytest.approx(10.0)
    assert inconclusive.kind("The loss never clearly falls: it never goes below where it starts") == "never fell"
    assert inconclusive.kind("something else") == "other"



_MODULE = '''"""A module."""
from math import sqrt  # why: a comment


class Rule:
    """A class."""

    scale = 2.0


def suggest(x: float) -> float:
    """A function."""
    # keep it simple
    return sqrt(x) * Rule.scale
'''


def test_the_finder_key_follows_the_code_and_not_its_comments_or_docstrings(tmp_path: Path, monkeypatch: Any) -> None:
    import lrfinder

    for name in ("range_test.py", "analysis.py", "callback.py"):
        (tmp_path / name).write_text(_MODULE)
    monkeypatch.setattr(lrfinder, "__file__", str(tmp_path / "__init__.py"))
    keys = {finder: quality.finder_version(finder) for finder in ("lrfinder", "lrfinder_cb")}
    analysis = tmp_path / "analysis.py"
    for edited in (
        _MODULE.replace("A module.", "A module, reworded.\n\nOver two paragraphs."),
        _MODULE.replace("A class.", "A class, reworded.").replace("A function.", "A function, reworded."),
        _MODULE.replace("# why: a comment", "# another comment").replace("    # keep it simple\n", ""),
        "# a first line\n" + _MODULE.replace("sqrt(x) * Rule.scale", "(\n        sqrt(x) * Rule.scale\n    )"),
        _MODULE.replace('    """A function."""\n', ""),
    ):
        analysis.write_text(edited)
        assert {finder: quality.finder_version(finder) for finder in keys} == keys, edited
    for edited in (_MODULE.replace("2.0", "3.0"), _MODULE.replace("sqrt(x) *", "sqrt(x) /"),
                   _MODULE.replace("# keep it simple", "x = abs(x)")):
        analysis.write_text(edited)
        assert quality.finder_version("lrfinder") != keys["lrfinder"], edited
    analysis.write_text(_MODULE)
    (tmp_path / "callback.py").write_text(_MODULE + "\nX = 1\n")
    assert quality.finder_version("lrfinder") == keys["lrfinder"]
    assert quality.finder_version("lrfinder_cb") != keys["lrfinder_cb"]


def test_the_finder_key_is_the_same_on_every_python(tmp_path: Path) -> None:
    # ast.unparse's text, the key before, differed between Python 3.10, 3.11 and 3.12 for the same modules, so a run
    # on another Python re-ran every finding. This value is code_key's of _MODULE on 3.10, 3.11, 3.12 and 3.13.
    (tmp_path / "module.py").write_text(_MODULE)
    assert quality.code_key([tmp_path / "module.py"]) == "9adedec4"


def test_the_rule_choice_ranks_by_regret_as_the_shipped_rule_was_chosen() -> None:
    agg = {
        "cand:lower_regret": {"tasks_in_band": 1, "runs_in_band": 5, "geo_regret": 2.9},
        "cand:more_in_band": {"tasks_in_band": 2, "runs_in_band": 8, "geo_regret": 3.1},
        "cand:tied_fewer_runs": {"tasks_in_band": 1, "runs_in_band": 4, "geo_regret": 2.9},
    }
    assert quality.choose(agg, list(agg)) == "cand:lower_regret"
    assert quality.most_in_band(agg, list(agg)) == "cand:more_in_band"
    payload = json.loads((quality.RESULTS_DIR / "quality.json").read_text())
    choice = payload["summary"]["choice"]
    assert choice["best_candidate_constant"] == choice["default_rule"]  # the shipped rule is the one chosen
    page = (quality.RESULTS_DIR / "quality.md").read_text()
    results = (quality.RESULTS_DIR.parent / "RESULTS.md").read_text()
    assert f"Criterion, the one the shipped rule was chosen by: {quality.CRITERION}" in page
    assert f"were chosen by {quality.CRITERION}" in results


def test_refine_reads_the_current_codes_record_else_the_newest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """refine.py reused the alphabetically last older record (e4ffe66e over the newer d23ead12) and the tie study
    the first key that matched: both read this code's record, else the one recorded last."""
    from benchmarks import refine

    task = TASKS_BY_NAME["wine_mlp_adamw"]
    final, explore = "final|constant|train|0|", "constant|train|40|0|"
    explored = {
        final + "e4ffe66e": {"lr": 1.0, "recorded": "2026-12-01T10:00:00Z"},
        final + "d23ead12": {"lr": 2.0, "recorded": "2026-12-06T10:00:00Z"},
        final + "794220d1": {"lr": 3.0, "recorded": "2026-12-03T10:00:00Z"},
        final + "fffffff0": {"lr": 4.0},  # made before records said when: older than any that does
        explore + "93682ac1": {"n": 1, "recorded": "2026-12-02T10:00:00Z"},
        explore + "9f963e3d": {"n": 2, "recorded": "2026-12-04T10:00:00Z"},
    }
    path = tmp_path / f"{task.name}.json"
    path.write_text(json.dumps({"task": task.name, "fingerprint": task.fingerprint(), "runs": {},
                                "explored": explored}, sort_keys=True))
    monkeypatch.setattr(refine, "code_version", lambda: "c0de0000")
    store = refine.Store(task, tmp_path)
    assert refine._record_key(store, final, fresh=False) == final + "d23ead12"
    assert refine._record_key(store, final, fresh=True) == final + "c0de0000"
    assert refine._record_key(store, "final|onecycle|train|0|", fresh=False) == "final|onecycle|train|0|c0de0000"
    assert refine.explored_records(store, [explore, "constant|val|40|0|"]) == [explored[explore + "9f963e3d"],
                                                                               None]
    # This code's record wins over a newer one of other code.
    explored[explore + "c0de0000"] = {"n": 3, "recorded": "2026-12-01T00:00:00Z"}
    path.write_text(json.dumps({"task": task.name, "fingerprint": task.fingerprint(), "runs": {},
                                "explored": explored}, sort_keys=True))
    store = refine.Store(task, tmp_path)
    assert refine.explored_records(store, [explore]) == [explored[explore + "c0de0000"]]


def test_refine_keeps_timings_out_of_its_result_files(tmp_path: Path) -> None:
    """Each refine re-run rewrote ~1,270 lines of refine.json with its records' seconds: the timings now go to
    their own file, so a re-run on unchanged code leaves the result file as it was."""
    from benchmarks import refine

    rec = {"lr": 0.1, "sweep_seconds": 1.5, "refine_seconds": 0.25, "recorded": "2026-12-07T10:00:00Z",
           "code_version": "c0de0000"}
    row = {"task": "t", "schedule": "constant", "judge": "val", "records": [dict(rec), {**rec, "sweep_seconds": 2.0}]}
    refine.write_result(tmp_path, "r", {"rows": [row], "summary": {}}, "page")
    assert json.loads((tmp_path / "r.json").read_text())["rows"][0]["records"] == [
        {"lr": 0.1, "code_version": "c0de0000"}] * 2
    assert json.loads((tmp_path / "r_timings.json").read_text()) == [
        {"task": "t", "schedule": "constant", "judge": "val", "seed": 0, "sweep_seconds": 1.5,
         "refine_seconds": 0.25, "recorded": "2026-12-07T10:00:00Z"},
        {"task": "t", "schedule": "constant", "judge": "val", "seed": 1, "sweep_seconds": 2.0,
         "refine_seconds": 0.25, "recorded": "2026-12-07T10:00:00Z"}]
    per_factor = {"factors": {"2": {"rows": [{**row, "records": [dict(rec)]}]}}}
    assert refine.split_timings(per_factor)[0]["factor"] == "2"
    # The committed result files hold no timings.
    for name in ("refine", "refine_never_falls", "refine_resweep_start"):
        text = (Path(refine.RESULTS_DIR) / f"{name}.json").read_text()
        assert not any(f'"{field}"' in text for field in refine.TIMING_FIELDS), name


def test_cost_says_the_first_calls_one_time_cost_beside_the_warm_median() -> None:
    """cost.md timed warm runs only: the first test in a process (import lrfinder, scipy.signal) was nowhere."""
    res = {"median": {"plain": 0.05, "lrfinder": 0.06},
           "first_call": {"runs": 2, "times": {"plain": [0.5, 0.7], "lrfinder": [1.5, 1.5]},
                          "median": {"plain": 0.6, "lrfinder": 1.5},
                          "imported": {"plain": [], "lrfinder": ["lrfinder", "scipy.signal"]}}}
    text = cost._render_first_call(res)
    assert "| 100 plain PyTorch steps | 0.600 | 0.500–0.700 | 0.050 | 0.550 | none of lrfinder, scipy.signal |" in text
    assert ("| lrfinder `range_test` (100 steps) | 1.500 | 1.500–1.500 | 0.060 | 1.440 | `lrfinder`, `scipy.signal` |"
            in text)
    assert "takes 0.900 s more than a bare loop's first 100 steps" in text
    small = json.loads((Path(cost.RESULTS_DIR) / "cost.json").read_text())["models"]["small"]
    with_first = cost.render_markdown({"rounds": 1, "models": {"small": {**small, "first_call": res["first_call"]}}})
    assert "First call in a fresh process (2 processes per method" in with_first
    without = cost.render_markdown({"rounds": 1, "models": {"small": {**small, "first_call": None}}})
    assert "First call in a fresh process" not in without
