"""Whether an inconclusive curve's advice helps: follow it literally and read the curve again.

An inconclusive reading names the sweep to run again (``min_lr=..., max_lr=..., num_steps=...``).
For each case below this script runs the default range test, takes the sweep its error names,
runs that, and records whether the second reading is conclusive, with the LR and confidence.
The cases are curves with a known cause:

* ``flat_gru``: the benchmark's ``adding_gru_adam`` (tune split), whose loss stays flat until
  Adam blows it up ("a lower min_lr cannot help ... more steps below the blow-up"); also at
  half the advised steps, refine's factor (``lrfinder.analysis.RESWEEP_STEPS``), which chose the
  advice's four times for one sweep by hand. Refine's own re-sweep starts from the LR where the
  sweep stopped and sweeps again where it reads no fall: ``benchmarks/refine.py --resweep-steps``
  scores it end to end (``results/refine_never_falls.md``), and ``--resweep-start`` against a
  re-sweep from the smoothed blow-up the message names (``results/refine_resweep_start.md``);
* ``flat_parity``: a ReLU MLP on the parity of 4 of 10 signs (Adam, and plain SGD with
  momentum), at ln 2 for many steps;
* ``low_max_lr``: the same MLP on the parity of 3 signs swept to a ``max_lr`` far too low
  ("raise max_lr ... 3 decades higher at twice the steps");
* ``scale_invariant``: an MLP whose every weight feeds a BatchNorm without affine, initialised
  30x too large, still falling at an LR of 10 (with SGD: "Or the loss does not depend on the
  weights' scale"): the advised higher sweep, and the usual init.

Usage::

    python -m benchmarks.advice     # writes benchmarks/results/advice.md and advice.json (a few minutes)
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

HERE = Path(__file__).resolve().parent
SWEEP = re.compile(r"min_lr=([\d.e+-]+), max_lr=([\d.e+-]+), num_steps=(\d+)")


def advised_sweep(error: str | None) -> dict[str, Any] | None:
    """The ``min_lr``, ``max_lr`` and ``num_steps`` an inconclusive reading's error names, else ``None``.

    Example:
        >>> advised_sweep("run again with min_lr=1.00e-05, max_lr=1.00e+01, num_steps=200 (the range)")
        {'min_lr': 1e-05, 'max_lr': 10.0, 'num_steps': 200}

    """
    found = SWEEP.search(error or "")
    if found is None:
        return None
    return {"min_lr": float(found[1]), "max_lr": float(found[2]), "num_steps": int(found[3])}


def parity_run(seed: int, bits: int, optimizer: str, **sweep: Any) -> Any:
    """A range test of a ReLU MLP on the parity of ``bits`` of 10 random signs."""
    from lrfinder import range_test

    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 2, (2048, 10), generator=g).float() * 2 - 1
    y = ((x[:, :bits] < 0).sum(1) % 2).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(seed))
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    opt = (
        torch.optim.Adam(model.parameters())
        if optimizer == "adam"
        else torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    )
    return range_test(model, loader, optimizer=opt, loss_fn=nn.functional.cross_entropy, **sweep)


def scale_invariant_model(seed: int, gain: float) -> nn.Sequential:
    """An MLP whose every weight feeds a BatchNorm without affine, its weights x ``gain`` (seeded)."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(32, 64), nn.BatchNorm1d(64, affine=False), nn.ReLU(), nn.Linear(64, 10),
        nn.BatchNorm1d(10, affine=False),
    )
    with torch.no_grad():
        for i in (0, 3):
            cast(nn.Linear, model[i]).weight.mul_(gain)
    return model


def scale_invariant_data(seed: int) -> TensorDataset:
    """Ten Gaussian blobs in 32 dimensions, 2,048 points: :func:`scale_invariant_model`'s data."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(10, 32, generator=g)
    y = torch.randint(0, 10, (2048,), generator=g)
    return TensorDataset(centers[y] + torch.randn(2048, 32, generator=g), y)


def scale_invariant_run(seed: int, gain: float, **sweep: Any) -> Any:
    """A range test (SGD with momentum) of :func:`scale_invariant_model` on :func:`scale_invariant_data`."""
    from lrfinder import range_test

    loader = DataLoader(scale_invariant_data(seed), batch_size=64, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    model = scale_invariant_model(seed, gain)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    return range_test(model, loader, optimizer=opt, loss_fn=nn.functional.cross_entropy, **sweep)


def _gru(seed: int, **sweep: Any) -> Any:
    """lrfinder's range test on the benchmark's ``adding_gru_adam`` (as :func:`benchmarks.finders.find_lrfinder`)."""
    from lrfinder import range_test

    from .tasks import TASKS_BY_NAME

    task = TASKS_BY_NAME["adding_gru_adam"]
    model = task.build(seed)
    opt = task.optimizer(model.parameters(), 1e-3)
    return range_test(model, task.loader(seed), optimizer=opt, loss_fn=task.loss_fn, **sweep)


def _reading(result: Any) -> dict[str, Any]:
    s = result.suggestion
    if s is None:
        return {"conclusive": False, "error": (result.error or "")[:160]}
    return {"conclusive": True, "lr": s.lr, "confidence": round(s.confidence, 3)}


def follow(run: Callable[..., Any], steps_factor: float = 1.0) -> dict[str, Any]:
    """The default test, then the sweep its error advises (its ``num_steps`` x ``steps_factor``)."""
    first = run()
    advised = advised_sweep(first.error) if first.suggestion is None else None
    row: dict[str, Any] = {"first": _reading(first), "advised": advised}
    if advised is not None:
        sweep = dict(advised, num_steps=round(advised["num_steps"] * steps_factor))
        row["followed"] = sweep
        row["second"] = _reading(run(**sweep))
    return row


def cases() -> dict[str, list[tuple[str, Callable[..., Any], float]]]:
    """``(label, run, steps_factor)`` per case."""
    out: dict[str, list[tuple[str, Callable[..., Any], float]]] = {
        "flat_gru": [],
        "flat_parity": [],
        "low_max_lr": [],
        "scale_invariant": [],
    }
    for seed in range(3):
        out["flat_gru"].append((f"adding_gru_adam seed {seed}", partial(_gru, seed), 1.0))
        out["flat_gru"].append((f"adding_gru_adam seed {seed}, 2x steps (refine's)", partial(_gru, seed), 0.5))
    for optimizer in ("adam", "sgd"):
        for seed in range(2):
            run = partial(parity_run, seed, 4, optimizer)
            out["flat_parity"].append((f"parity-4 {optimizer} seed {seed}", run, 1.0))
    for optimizer, top in (("adam", 1e-4), ("sgd", 1e-4), ("sgd", 1e-2)):
        for seed in range(2):
            run = partial(parity_run, seed, 3, optimizer, max_lr=top)  # the advised sweep's max_lr replaces it
            out["low_max_lr"].append((f"parity-3 {optimizer} max_lr={top:g} seed {seed}", run, 1.0))
    for seed in range(2):
        out["scale_invariant"].append((f"BatchNorm MLP x30 seed {seed}", partial(scale_invariant_run, seed, 30.0), 1.0))
    return out


def render(payload: dict[str, Any]) -> str:
    """The Markdown page."""
    lines = [
        "## Following the inconclusive curves' advice",
        "",
        "Written by `python -m benchmarks.advice`. The default range test, then the sweep its error names, run as",
        "named (at half its steps, refine's twice the sweep's, where the label says so); \"second\" reads that sweep.",
        "",
        "| case | first reading | sweep run | second reading |",
        "|---|---|---|---|",
    ]
    for case, rows in payload["cases"].items():
        for label, row in rows.items():
            first = "conclusive" if row["first"]["conclusive"] else "inconclusive"
            sweep = row.get("followed")
            ran = f"{sweep['min_lr']:.2e} .. {sweep['max_lr']:.2e}, {sweep['num_steps']} steps" if sweep else "—"
            second = row.get("second")
            said = "—" if second is None else "inconclusive"
            if second is not None and second["conclusive"]:
                said = f"lr {second['lr']:.2e} (confidence {second['confidence']:.2f})"
            lines.append(f"| {case}: {label} | {first} | {ran} | {said} |")
    lines += ["", "Scale check on the BatchNorm MLP (loss change on one batch when every weight is x10): "
              f"{payload['scale_check']:.2g}; the same MLP at the usual init: "
              + ", ".join(payload["usual_init"]) + "."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run every case; write ``results/advice.md`` and ``advice.json``."""
    del argv
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    payload: dict[str, Any] = {"cases": {}}
    for case, runs in cases().items():
        payload["cases"][case] = {label: follow(run, factor) for label, run, factor in runs}
    usual = [_reading(scale_invariant_run(seed, 1.0)) for seed in range(2)]
    payload["usual_init"] = [f"lr {r['lr']:.2e}" if r["conclusive"] else "inconclusive" for r in usual]
    model = scale_invariant_model(0, 30.0)
    x, y = scale_invariant_data(0)[:64]
    with torch.no_grad():
        before = float(nn.functional.cross_entropy(model(x), y))
        for p in model.parameters():
            p.mul_(10.0)
        payload["scale_check"] = abs(float(nn.functional.cross_entropy(model(x), y)) - before)
    out = HERE / "results"
    (out / "advice.json").write_text(json.dumps(payload, indent=1))
    (out / "advice.md").write_text(render(payload))
    return payload


if __name__ == "__main__":
    main(sys.argv[1:])
