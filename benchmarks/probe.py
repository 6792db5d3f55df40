"""Probe: lrfinder's suggestions on tasks it was never tuned or checked on, to find defects.

Eight small tasks that are not in ``benchmarks/tasks.py`` (generated data, or data bundled with
scikit-learn; nothing downloaded), chosen to differ from the benchmark's: a convex logistic
regression with plain SGD, a regression with targets in the thousands (a loss of ~1e7 at the
start), BatchNorm with dropout, class imbalance with label smoothing, a 1-D CNN with RMSprop, an
LSTM with NAdam, Adagrad with weight decay built by :func:`lrfinder.create_optimizer`, and a
tiny residual MLP.

For each task and seed it runs the default :func:`lrfinder.range_test` (and its analysis), and
the refined test (``refine=lrfinder.Refine(training_steps=<budget>, schedule=...)``) for
constant and one-cycle training, checks that both put the model, the optimizer and the data
order back exactly, and scores every pick against the grid-search oracle of
``benchmarks/quality.py`` (same grid, band, training loop and scorer): each pick is trained
with the task's budget and seed. The tasks are for finding defects only: no threshold of the
library is tuned on them.

Usage::

    python -m benchmarks.probe                    # all tasks, 3 seeds (resumes from the cache)
    python -m benchmarks.probe --tasks probe_logreg_sgd --seeds 1 --png-dir /tmp/probe
    python -m benchmarks.probe --smoke --cache-dir /tmp/c --out /tmp/o   # one tiny task, seconds

Writes ``benchmarks/results/probe.md`` and ``probe.json``; caches every training run and range
test under ``benchmarks/cache/probe/`` (range tests keyed by the library's code version).
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .quality import BAND, PER_DECADE, RESULTS_DIR, TaskCache, score_lrs
from .refine import code_version
from .tasks import EXTRA_DATA, Split, Task, _sgd, mlp

CACHE_DIR = Path(__file__).resolve().parent / "cache" / "probe"
SCHEDULES = ("constant", "onecycle")
SEEDS = 3


# --------------------------------------------------------------------------------------------
# Data (registered with benchmarks.tasks.load_data)
# --------------------------------------------------------------------------------------------


def _split(x: np.ndarray, y: np.ndarray, *, standardize_x: bool = True, regression: bool = False) -> Split:
    """A fixed (seed 0) 75/25 split; features standardized on the training part, targets never."""
    order = np.random.default_rng(0).permutation(len(x))
    n_val = int(round(0.25 * len(x)))
    val, tr = order[:n_val], order[n_val:]
    x_tr, x_val = x[tr], x[val]
    if standardize_x:
        mean, std = x_tr.mean(axis=0), x_tr.std(axis=0) + 1e-8
        x_tr, x_val = (x_tr - mean) / std, (x_val - mean) / std
    ydt = torch.float32 if regression else torch.long
    return (torch.tensor(x_tr, dtype=torch.float32), torch.tensor(y[tr], dtype=ydt),
            torch.tensor(x_val, dtype=torch.float32), torch.tensor(y[val], dtype=ydt))


def _logreg_data() -> Split:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=3000, n_features=20, n_informative=10, n_classes=3, flip_y=0.1,
                               class_sep=0.8, random_state=7)
    return _split(x.astype(np.float32), y)


def _big_target_data() -> Split:
    """``make_regression`` moved to targets around 3,000 with a spread of about 1,500 (not standardized)."""
    from sklearn.datasets import make_regression

    x, y = make_regression(n_samples=2000, n_features=10, n_informative=8, noise=10.0, random_state=4)
    y = 3000.0 + 10.0 * y + 2.0 * (x[:, 0] * x[:, 1]) * 100.0
    return _split(x.astype(np.float32), y.astype(np.float32).reshape(-1, 1), regression=True)


def _moons_data() -> Split:
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=3000, noise=0.3, random_state=6)
    return _split(x.astype(np.float32), y)


def _imbalanced_data() -> Split:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=4000, n_features=16, n_informative=8, n_classes=4,
                               weights=[0.85, 0.1, 0.03, 0.02], flip_y=0.02, random_state=5)
    return _split(x.astype(np.float32), y)


def _waves_data() -> Split:
    """Noisy sine / square / triangle / sawtooth waves (random frequency, phase, amplitude), length 64."""
    rng = np.random.default_rng(9)
    n, length = 2400, 64
    t = np.arange(length) / length
    y = rng.integers(0, 4, size=n)
    freq = rng.uniform(1.5, 4.0, size=(n, 1))
    phase = rng.uniform(0, 1, size=(n, 1))
    amp = rng.uniform(0.5, 1.5, size=(n, 1))
    u = (freq * t[None, :] + phase) % 1.0
    shapes = np.stack([np.sin(2 * np.pi * u), np.sign(np.sin(2 * np.pi * u)), 4 * np.abs(u - 0.5) - 1, 2 * u - 1])
    x = amp * shapes[y, np.arange(n)] + rng.normal(0, 0.8, size=(n, length))
    return _split(x[:, None, :].astype(np.float32), y, standardize_x=False)


def _sum_sign_data() -> Split:
    """Sequences of 24 Gaussian values; the class is where their scaled sum falls (< -0.5, middle, > 0.5)."""
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, size=(2400, 24, 1))
    z = x[:, :, 0].sum(axis=1) / math.sqrt(24)
    y = np.digitize(z, [-0.5, 0.5])
    return _split(x.astype(np.float32), y, standardize_x=False)


def _digits_data() -> Split:
    from sklearn.datasets import load_digits

    d = load_digits()
    return _split(d.data.astype(np.float32), d.target)


def _resmlp_data() -> Split:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=4000, n_features=20, n_informative=12, n_classes=5, n_clusters_per_class=2,
                               flip_y=0.05, class_sep=1.2, random_state=8)
    return _split(x.astype(np.float32), y)


DATA: dict[str, Callable[[], Split]] = {
    "probe_logreg": _logreg_data,
    "probe_big_target": _big_target_data,
    "probe_moons": _moons_data,
    "probe_imbalanced": _imbalanced_data,
    "probe_waves": _waves_data,
    "probe_sum_sign": _sum_sign_data,
    "probe_digits": _digits_data,
    "probe_resmlp": _resmlp_data,
}
EXTRA_DATA.update(DATA)


# --------------------------------------------------------------------------------------------
# Models and optimizers
# --------------------------------------------------------------------------------------------


def bn_dropout_mlp() -> nn.Module:
    """2 -> 64 -> 64 -> 2 with BatchNorm and dropout 0.2 after each hidden layer."""
    return nn.Sequential(
        nn.Linear(2, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 2),
    )


class WaveCNN(nn.Module):
    """Two 1-D convolutions, global average pooling, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv1d(1, 16, 7, padding=3), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(16, 32, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(1),
        )
        self.head = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1))


class SeqLSTM(nn.Module):
    """A one-layer LSTM; a linear head on the last hidden state."""

    def __init__(self, hidden: int = 32, classes: int = 3) -> None:
        super().__init__()
        self.rnn = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.rnn(x)
        return self.head(h[-1])


class ResMLP(nn.Module):
    """Input projection, three residual blocks ``x + W2 relu(W1 x)`` without normalization, head."""

    def __init__(self, d_in: int = 20, width: int = 64, blocks: int = 3, classes: int = 5) -> None:
        super().__init__()
        self.inp = nn.Linear(d_in, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width)) for _ in range(blocks)
        )
        self.head = nn.Linear(width, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(torch.relu(h))


def _torch_opt(cls: type[torch.optim.Optimizer], **settings: Any) -> Callable[..., torch.optim.Optimizer]:
    def make(params: object, lr: float) -> torch.optim.Optimizer:
        return cls(params, lr=lr, **settings)  # type: ignore[call-arg, arg-type]

    make.__name__ = f"{cls.__name__}({', '.join(f'{k}={v}' for k, v in settings.items())})"
    return make


def _registry_opt(name: str, **settings: Any) -> Callable[..., torch.optim.Optimizer]:
    """An optimizer built by :func:`lrfinder.create_optimizer` (the registry's name and settings)."""

    def make(params: object, lr: float) -> torch.optim.Optimizer:
        from lrfinder import create_optimizer

        return create_optimizer(name, params, lr=lr, **settings)  # type: ignore[arg-type]

    make.__name__ = f"create_optimizer({name!r}, {', '.join(f'{k}={v}' for k, v in settings.items())})"
    return make


class ProbeTask(Task):
    """A :class:`Task` whose loss may also be ``"ce_ls"`` (cross-entropy, label smoothing 0.1)."""

    def loss_fn(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The task's training and validation loss."""
        if self.loss == "ce_ls":
            return F.cross_entropy(out, y, label_smoothing=0.1)
        return super().loss_fn(out, y)


PROBE_TASKS: list[ProbeTask] = [
    ProbeTask("probe_logreg_sgd", "probe_logreg", lambda: nn.Linear(20, 3), _sgd(0.0), "ce", 32, 300, (-3.5, 1.5),
              "probe", "convex: logistic regression (3 classes, 10% flipped labels), plain SGD"),
    ProbeTask("probe_big_target_momentum", "probe_big_target", lambda: mlp([10, 64, 1]), _sgd(0.9), "mse", 32, 300,
              (-8.0, -2.0), "probe", "regression with targets ~3,000 +- 1,500 (loss ~1e7 at the start), SGD momentum"),
    ProbeTask("probe_moons_bn_dropout", "probe_moons", bn_dropout_mlp, _sgd(0.9, nesterov=True), "ce", 32, 300,
              (-4.0, 1.5), "probe", "BatchNorm + dropout MLP on two moons, SGD Nesterov"),
    ProbeTask("probe_imbalanced_ls_adam", "probe_imbalanced", lambda: mlp([16, 64, 4]), _torch_opt(torch.optim.Adam),
              "ce_ls", 64, 300, (-5.0, 0.0), "probe", "class imbalance (85/10/3/2%) with label smoothing 0.1, Adam"),
    ProbeTask("probe_waves_cnn_rmsprop", "probe_waves", WaveCNN, _torch_opt(torch.optim.RMSprop), "ce", 32, 200,
              (-5.5, -0.5), "probe", "1-D CNN on noisy generated waveforms, RMSprop"),
    ProbeTask("probe_sum_lstm_nadam", "probe_sum_sign", lambda: SeqLSTM(), _torch_opt(torch.optim.NAdam), "ce", 32,
              300, (-4.5, 0.5), "probe", "LSTM on generated sequences (the sign of their sum), NAdam"),
    ProbeTask("probe_digits_adagrad_wd", "probe_digits", lambda: mlp([64, 64, 10]),
              _registry_opt("adagrad", weight_decay=1e-3), "ce", 32, 300, (-4.0, 1.0), "probe",
              "MLP, Adagrad with weight decay 1e-3 built by lrfinder.create_optimizer"),
    ProbeTask("probe_resmlp_momentum", "probe_resmlp", lambda: ResMLP(), _sgd(0.9), "ce", 32, 300, (-4.0, 1.0),
              "probe", "tiny residual MLP (3 blocks, no normalization), SGD momentum"),
]
PROBE_BY_NAME = {t.name: t for t in PROBE_TASKS}


# --------------------------------------------------------------------------------------------
# Range tests (cached by the library's code version)
# --------------------------------------------------------------------------------------------


def _state(model: nn.Module, opt: torch.optim.Optimizer, loader: Any) -> list[torch.Tensor]:
    """Everything a range test must put back: weights and buffers, optimizer state and settings, RNGs."""
    tensors = [t.detach().clone() for t in model.state_dict().values()]
    for state in opt.state.values():
        tensors += [torch.as_tensor(v).detach().clone() for v in state.values()]
    for group in opt.param_groups:
        settings = {k: v for k, v in group.items() if k != "params"}
        tensors.append(torch.tensor([float(x) for x in _flat(settings.values())], dtype=torch.float64))
    return tensors + [loader.generator.get_state().clone(), torch.get_rng_state().clone()]


def _flat(values: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, (tuple, list)):
            out += _flat(v)
        elif isinstance(v, (bool, int, float)):
            out.append(v)
        elif v is None:
            out.append(float("nan"))
    return out


def _same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and bool(torch.all((x == y) | (torch.isnan(x) & torch.isnan(y)))) for x, y in zip(a, b)
    )


def _enc(v: float | None) -> float | str | None:
    return v if v is None or math.isfinite(v) else str(v)


def run_tests(task: Task, seed: int, png_dir: Path | None = None) -> dict[str, Any]:
    """The default range test, and the refined one for each schedule, from ``seed``'s model."""
    from lrfinder import Refine, range_test

    out: dict[str, Any] = {}
    model = task.build(seed)
    opt = task.optimizer(model.parameters(), 1e-3)
    loader = task.loader(seed)
    before = _state(model, opt, loader)
    t0 = time.perf_counter()
    result = range_test(model, loader, optimizer=opt, loss_fn=task.loss_fn)
    s = result.suggestion
    out["plain"] = {
        "lrs": list(result.lrs), "losses": [_enc(v) for v in result.losses], "stop_reason": result.stop_reason,
        "error": result.error, "seconds": time.perf_counter() - t0,
        "restored": _same(before, _state(model, opt, loader)),
        "suggestion": None if s is None else {k: _enc(v) if isinstance(v, float) else v
                                              for k, v in s.to_dict().items()},
    }
    if png_dir is not None:
        from lrfinder import save_report

        save_report(result, png_dir / f"{task.name}_s{seed}.png")
    for schedule in SCHEDULES:
        model = task.build(seed)
        opt = task.optimizer(model.parameters(), 1e-3)
        loader = task.loader(seed)
        before = _state(model, opt, loader)
        t0 = time.perf_counter()
        r = range_test(model, loader, optimizer=opt, loss_fn=task.loss_fn,
                       refine=Refine(training_steps=task.steps, schedule=schedule))
        f = r.refinement
        out[f"refine_{schedule}"] = {
            "lr": None if f is None else f.lr, "max_lr": None if f is None else f.max_lr,
            "curve_lr": None if f is None else f.curve_lr, "error": r.error,
            "trial_lrs": [] if f is None else [t.lr for t in f.trials],
            "trial_losses": [] if f is None else [_enc(t.held_out_loss) for t in f.trials],
            "rounds": [] if f is None else [x.reason for x in f.rounds],
            "cost_steps": 0 if f is None else f.cost_steps, "notes": [] if f is None else list(f.notes),
            "seconds": time.perf_counter() - t0, "restored": _same(before, _state(model, opt, loader)),
        }
        if png_dir is not None and f is not None:
            from lrfinder import save_report

            save_report(r, png_dir / f"{task.name}_s{seed}_refine_{schedule}.png")
    return out


class ProbeStore:
    """The range tests of one task, on disk, by ``code_version|seed``."""

    def __init__(self, task: Task, directory: Path) -> None:
        self.path = directory / f"{task.name}.tests.json"
        self.task = task
        self.data: dict[str, Any] = {}
        if self.path.exists():
            saved = json.loads(self.path.read_text())
            if saved.get("fingerprint") == task.fingerprint():
                self.data = saved["tests"]

    def tests(self, seed: int, png_dir: Path | None) -> dict[str, Any]:
        key = f"{code_version()}|{seed}"
        if key not in self.data or png_dir is not None:
            self.data[key] = run_tests(self.task, seed, png_dir)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            current = {k: v for k, v in self.data.items() if k.startswith(code_version())}
            self.path.write_text(json.dumps({"fingerprint": self.task.fingerprint(), "tests": current},
                                            separators=(",", ":"), sort_keys=True))
        return self.data[key]


# --------------------------------------------------------------------------------------------
# One task
# --------------------------------------------------------------------------------------------


def _sugg(t: dict[str, Any], key: str) -> float | None:
    s = t["plain"]["suggestion"]
    return None if s is None else float(s[key])


def probe_task(task: Task, seeds: Sequence[int], cache_dir: Path, *, steps: int | None = None,
               png_dir: Path | None = None, log: bool = True) -> dict[str, Any]:
    """Oracle, range tests and scores of one probe task; a JSON-able summary."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    cache = TaskCache(task, cache_dir, steps=steps)
    grid = task.lr_grid(PER_DECADE)
    oracle = {s: [float(np.mean([cache.val_loss(s, lr, k) for k in seeds])) for lr in grid] for s in SCHEDULES}
    cache.save(force=True)
    if log:
        print(f"[{task.name}] oracle done in {time.perf_counter() - start:.0f}s", flush=True)
    store = ProbeStore(task, cache_dir)
    tests = [store.tests(k, png_dir) for k in seeds]
    if log:
        print(f"[{task.name}] range tests done in {time.perf_counter() - start:.0f}s", flush=True)
    picks = {
        "constant": {"suggestion.lr": [_sugg(t, "lr") for t in tests],
                     "refined": [t["refine_constant"]["lr"] for t in tests]},
        "onecycle": {"suggestion.max_lr": [_sugg(t, "max_lr") for t in tests],
                     "refined": [t["refine_onecycle"]["lr"] for t in tests]},
    }
    scores = {s: {m: score_lrs(lrs, list(seeds), functools.partial(cache.val_loss, s), grid, oracle[s], PER_DECADE)
                  for m, lrs in methods.items()} for s, methods in picks.items()}
    cache.save(force=True)
    best = {s: int(np.argmin(oracle[s])) for s in SCHEDULES}
    band = {s: [g for g, v in zip(grid, oracle[s]) if v <= (1 + BAND) * oracle[s][best[s]]] for s in SCHEDULES}
    return {
        "task": task.name, "note": task.note, "optimizer": task.optimizer_name, "loss": task.loss,
        "batch_size": task.batch_size, "steps": steps or task.steps, "grid": grid, "oracle": oracle,
        "best_lr": {s: grid[best[s]] for s in SCHEDULES}, "band": {s: [min(band[s]), max(band[s])] for s in SCHEDULES},
        "best_at_edge": {s: best[s] in (0, len(grid) - 1) for s in SCHEDULES},
        "seeds": list(seeds), "tests": tests, "scores": scores, "seconds": time.perf_counter() - start,
    }


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _e(v: float | None) -> str:
    return "—" if v is None else f"{v:.2e}"


def _off(lr: float | None, best: float) -> str:
    return "—" if lr is None else f"{math.log10(lr / best):+.2f}"


def render(payload: dict[str, Any]) -> str:
    """The Markdown page of a probe run."""
    rows = payload["results"]
    lines = [
        "## Probe: tasks lrfinder was never tuned or checked on",
        "",
        f"{len(rows)} tasks, seeds {payload['seeds']}, oracle grid {PER_DECADE} LRs per decade, good band = mean "
        f"validation loss within {BAND:.0%} of the best grid LR (the protocol of `quality.py`). Written by "
        f"`python -m benchmarks.probe` (library code `{payload['code_version']}`). These tasks find defects; "
        "no threshold is tuned on them.",
        "",
        "### Tasks and oracle",
        "",
        "| task | what | optimizer | loss | batch | steps | best const (band) | best one-cycle (band) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = []
        for s in SCHEDULES:
            edge = " (grid edge)" if r["best_at_edge"][s] else ""
            cells.append(f"{_e(r['best_lr'][s])} ({r['band'][s][0]:.1e}–{r['band'][s][1]:.1e}){edge}")
        lines.append(f"| {r['task']} | {r['note']} | {r['optimizer']} | {r['loss']} | {r['batch_size']} | "
                     f"{r['steps']} | {cells[0]} | {cells[1]} |")
    lines += [
        "",
        "### Picks per seed",
        "",
        "Decades off the oracle's best in brackets (+ = above); **b** = in the good band. `sugg` is "
        "`Suggestion.lr` (constant), `peak` is `Suggestion.max_lr` (one-cycle), `ref` the refined LR.",
        "",
        "| task | seed | stop | conf | sugg (const) | ref const | peak (one-cycle) | ref one-cycle | restored |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for i, (seed, t) in enumerate(zip(r["seeds"], r["tests"])):
            s = t["plain"]["suggestion"]
            cells = []
            for sched, method in (("constant", "suggestion.lr"), ("constant", "refined"),
                                  ("onecycle", "suggestion.max_lr"), ("onecycle", "refined")):
                lr = r["scores"][sched][method]["lrs"][i]
                hit = _hit(r, sched, lr)
                cells.append(f"{_e(lr)} ({_off(lr, r['best_lr'][sched])}){' **b**' if hit else ''}")
            conf = "—" if s is None else f"{s['confidence']:.2f}"
            restored = all([t["plain"]["restored"], t["refine_constant"]["restored"], t["refine_onecycle"]["restored"]])
            lines.append(f"| {r['task']} | {seed} | {t['plain']['stop_reason']} | {conf} | " + " | ".join(cells)
                         + f" | {'yes' if restored else '**NO**'} |")
    lines += [
        "",
        "### Per task",
        "",
        "Each cell: in band (seeds in band / seeds), regret (mean validation loss at the pick / the oracle's "
        "best), median decades off, failures `F`.",
        "",
        "| task | sugg (const) | refined (const) | peak (one-cycle) | refined (one-cycle) |",
        "|---|---|---|---|---|",
    ]
    totals: dict[str, list[Any]] = {}
    for r in rows:
        cells = []
        for sched, method in (("constant", "suggestion.lr"), ("constant", "refined"),
                              ("onecycle", "suggestion.max_lr"), ("onecycle", "refined")):
            sc = r["scores"][sched][method]
            off = "—" if sc["decades_off"] is None else f"{sc['decades_off']:+.2f}"
            fails = f", F{sc['failures']}" if sc["failures"] else ""
            cells.append(f"{'**yes**' if sc['in_band'] else 'no'} ({sc['band_hits']}/{len(sc['lrs'])}), "
                         f"{sc['regret']:.2f}, {off}{fails}")
            totals.setdefault(f"{sched}|{method}", []).append(sc)
        lines.append(f"| {r['task']} | " + " | ".join(cells) + " |")
    lines += ["", "| pick | tasks in band | runs in band | geo-mean regret | worst regret | median abs decades off |"
              " failures |", "|---|---|---|---|---|---|---|"]
    for key, scs in totals.items():
        offs = [abs(x["decades_off"]) for x in scs if x["decades_off"] is not None]
        regrets = [x["regret"] for x in scs]
        lines.append(
            f"| {key.replace('|', ': ')} | {sum(x['in_band'] for x in scs)}/{len(scs)} | "
            f"{sum(x['band_hits'] for x in scs)}/{sum(len(x['lrs']) for x in scs)} | "
            f"{math.exp(np.mean(np.log(regrets))):.3f} | {max(regrets):.2f} | "
            f"{np.median(offs) if offs else float('nan'):.2f} | {sum(x['failures'] for x in scs)} |"
        )
    lines += ["", "### Errors and notes", ""]
    for r in rows:
        for seed, t in zip(r["seeds"], r["tests"]):
            items = []
            if t["plain"]["error"]:
                items.append(f"inconclusive: {t['plain']['error']}")
            s = t["plain"]["suggestion"]
            if s is not None and s.get("notes"):
                items.append("notes: " + "; ".join(s["notes"]))
            for sched in SCHEDULES:
                f = t[f"refine_{sched}"]
                if f["notes"] or f["rounds"]:
                    items.append(f"refine {sched}: rounds {f['rounds'] or 'none'}; " + "; ".join(f["notes"]))
            if items:
                lines.append(f"- `{r['task']}` seed {seed}: " + " / ".join(items))
    lines.append("")
    return "\n".join(lines)


def _hit(r: dict[str, Any], sched: str, lr: float | None) -> bool:
    if lr is None:
        return False
    logs = np.log10(r["grid"])
    i = int(np.argmin(np.abs(logs - math.log10(lr))))
    best = min(r["oracle"][sched])
    return bool(r["oracle"][sched][i] <= (1 + BAND) * best and abs(logs[i] - math.log10(lr)) <= 0.5 / PER_DECADE
                + 1e-9)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the probe and write ``probe.md`` / ``probe.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="*", default=None, help="task names (default: all)")
    parser.add_argument("--seeds", type=int, default=SEEDS)
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--png-dir", type=Path, default=None, help="also write each test's report PNG here")
    parser.add_argument("--smoke", action="store_true", help="one tiny task, 1 seed, 60 steps (seconds)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    names = args.tasks or [t.name for t in PROBE_TASKS]
    seeds, steps = list(range(args.seeds)), None
    if args.smoke:
        names, seeds, steps = ["probe_logreg_sgd"], [0], 60
    unknown = [n for n in names if n not in PROBE_BY_NAME]
    if unknown:
        raise SystemExit(f"Unknown task(s) {unknown}; expected some of {sorted(PROBE_BY_NAME)}")
    results = []
    for name in names:
        task = PROBE_BY_NAME[name]
        if steps is not None:
            from dataclasses import replace

            task = replace(task, steps=steps)
        results.append(probe_task(task, seeds, args.cache_dir, png_dir=args.png_dir))
    payload = {"seeds": seeds, "code_version": code_version(), "results": results}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "probe.json").write_text(json.dumps(payload, indent=1, default=str, sort_keys=True))
    (args.out / "probe.md").write_text(render(payload))
    return payload


if __name__ == "__main__":
    main()
    sys.exit(0)
