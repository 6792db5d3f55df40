"""``lrfind``: the command line, a thin click layer over the library.

Commands: ``run`` (the range test on a saved model), ``fit`` (the test, then training with the
found LR through Lightning), ``report`` (re-render saved results), ``demo`` (the built-in
example) and ``list`` (optimizers, schedulers, scaling rules, losses).

Conventions: results go to stdout, progress bars and warnings to stderr (bars only on a
terminal and without ``--quiet``); exit code 0 on success, 2 for usage errors (click), 1 for a
failed run (or an inconclusive one with ``--strict``); one-line errors unless ``--debug``;
outputs are written atomically and never over an input file. Every option of ``run``/``fit``
can also come from a TOML file (``--config FILE``) with the same names; the command line wins.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from . import __version__
from ._atomic import atomic_write_text
from .analysis import DEFAULT_RULE, RULES, loss_slope
from .exceptions import InconclusiveCurveError, LRFinderError
from .range_test import SCHEMA_VERSION, RangeTestResult
from .scaling import SCALING_RULES

__all__ = ["main"]

logger = logging.getLogger(__name__)

_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
_DEFAULT_REPORT = "lrfind-report.png"
_REPORT_SUFFIXES = (".png", ".svg", ".pdf")
_LOSSES = {
    "cross_entropy": "class logits (N, C) vs integer labels (N,)",
    "nll": "log-probabilities (N, C) vs integer labels (N,)",
    "mse": "mean squared error (regression)",
    "l1": "mean absolute error (regression)",
    "smooth_l1": "Huber-like, beta=1 (regression)",
    "huber": "Huber, delta=1 (regression)",
    "bce_with_logits": "binary/multi-label logits vs 0/1 targets",
}


# --------------------------------------------------------------------------------------------
# Parameter types
# --------------------------------------------------------------------------------------------


class FloatList(click.ParamType):
    """A comma-separated list of non-negative floats (``0,1e-4,1e-3``), or a TOML list."""

    name = "FLOAT[,FLOAT...]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[float, ...]:
        """Parse the list, failing with a usage error on a bad item."""
        if isinstance(value, tuple):
            return value
        items = value if isinstance(value, list) else str(value).split(",")
        out: list[float] = []
        for item in items:
            text = str(item).strip()
            try:
                number = float(text)
            except ValueError:
                self.fail(f"{text!r} is not a number (expected e.g. 0,1e-4,1e-3)", param, ctx)
            if not (math.isfinite(number) and number >= 0):
                self.fail(f"expected values >= 0, but got {text}", param, ctx)
            out.append(number)
        if not out:
            self.fail("expected at least one value", param, ctx)
        return tuple(out)


class StopFactor(click.ParamType):
    """A float > 1, or ``none`` to never stop early."""

    name = "FLOAT|none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float | None:
        """Parse the factor."""
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "off")):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number or 'none'", param, ctx)
        if not number > 1:
            self.fail(f"expected a factor > 1 (or 'none'), but got {value}", param, ctx)
        return number


class DataSpec(click.ParamType):
    """An existing data file, or ``package.module:function``."""

    name = "FILE|MODULE:FUNC"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """Check that the file exists (a ``module:function`` spec is imported later)."""
        from .io import _is_spec

        text = os.fspath(value)
        if Path(text).is_file() or (not Path(text).exists() and _is_spec(text)):
            return text
        if Path(text).exists():
            self.fail(f"{text!r} is not a file", param, ctx)
        self.fail(f"file {text!r} does not exist (nor is it a package.module:function)", param, ctx)


def _check_device(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None or value == "auto":
        return value
    import torch

    try:
        device = torch.device(value)
    except (RuntimeError, TypeError) as exc:
        raise click.BadParameter(f"{value!r} is not a torch device ({exc})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise click.BadParameter(f"{value!r}: CUDA is not available on this machine (use cpu or auto)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise click.BadParameter(f"{value!r}: MPS is not available on this machine (use cpu or auto)")
    return value


def _check_optimizer(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return value
    from .optimizers import get_optimizer_spec

    try:
        get_optimizer_spec(value)
    except (ValueError, TypeError, ImportError, AttributeError) as exc:
        raise click.BadParameter(_one_line(exc)) from None
    return value


def _check_scheduler(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return value
    from .schedulers import list_schedulers

    if value not in list_schedulers():
        raise click.BadParameter(f"unknown scheduler {value!r}; expected one of {', '.join(list_schedulers())}")
    return value


def _check_report_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and Path(value).suffix.lower() not in _REPORT_SUFFIXES:
        raise click.BadParameter(
            f"{value!r}: the report format follows the extension, one of {', '.join(_REPORT_SUFFIXES)}"
        )
    return value


# --------------------------------------------------------------------------------------------
# --config FILE (TOML)
# --------------------------------------------------------------------------------------------


def _read_toml(path: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint="--config") from None
    except tomllib.TOMLDecodeError as exc:
        raise click.BadParameter(f"{path} is not valid TOML: {exc}", param_hint="--config") from None


def _load_config(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Turn a TOML file into click defaults: the command line still wins over the file.

    Top-level keys apply to every command; a ``[run]`` / ``[fit]`` / ``[demo]`` table applies to
    that command only. Keys are the option names, with dashes or underscores.
    """
    if value is None:
        return None
    data = _read_toml(value)
    command = ctx.command.name or ""
    flat = {k: v for k, v in data.items() if not isinstance(v, dict)}
    section = data.get(command, {})
    if isinstance(section, dict):
        flat.update(section)
    known = {p.name: p for p in ctx.command.params if p.name and p.name not in ("config", "help")}
    # A key is an option's long name (``json``, ``weight-decay``) or its parameter name.
    aliases: dict[str, str] = {}
    for p in ctx.command.params:
        if p.name in known:
            aliases[p.name] = p.name
            for opt in p.opts:
                if opt.startswith("--"):
                    aliases[opt[2:].replace("-", "_")] = p.name
    defaults: dict[str, Any] = {}
    for key, item in flat.items():
        name = aliases.get(key.replace("-", "_"), "")
        if name not in known:
            valid = ", ".join(
                sorted(k.replace("_", "-") for k, v in aliases.items() if k == v or not k.endswith("_path"))
            )
            raise click.BadParameter(f"unknown key {key!r} in {value}; valid keys: {valid}", param_hint="--config")
        if isinstance(item, list) and not known[name].multiple and name != "weight_decay":
            raise click.BadParameter(f"key {key!r} in {value} takes one value, not a list", param_hint="--config")
        if name == "weight_decay" and isinstance(item, (int, float)):
            item = [item]
        defaults[name] = item
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    return value


# --------------------------------------------------------------------------------------------
# Shared options
# --------------------------------------------------------------------------------------------


def _options(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


_common = _options(
    click.option("--quiet", "-q", is_flag=True, help="No progress bars or notices on stderr; only results and errors."),
    click.option("--debug", is_flag=True, help="Show full tracebacks and debug logging."),
)

_config = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False),
    is_eager=True,
    expose_value=False,
    callback=_load_config,
    help="TOML file with option values (same names as the options; the command line wins).",
)

_model_options = _options(
    click.argument("model", type=click.Path(exists=True, dir_okay=False)),
    click.option("--model-class", metavar="MODULE:CLASS", help="Class or factory for a state_dict or a .ckpt file."),
    click.option(
        "--model-args",
        metavar="JSON",
        help="Arguments of --model-class: a JSON list or object, e.g. '{\"hidden\": 64}'.",
    ),
    click.option(
        "--unsafe-pickle",
        is_flag=True,
        help="Allow a whole pickled module (torch.save(model)). Unpickling runs code from the file.",
    ),
)

_data_options = _options(
    click.option(
        "--data", "data", type=DataSpec(), required=True, help=".npz, .pt or .csv file, or package.module:function."
    ),
    click.option("--x-key", help="Input array name in .npz/.pt data (default x)."),
    click.option("--y-key", help="Target array name in .npz/.pt data (default y)."),
    click.option("--target", help="Label column of a .csv file (the other columns are the inputs)."),
)

_sweep_options = _options(
    click.option(
        "--min-lr",
        type=click.FloatRange(min=0, min_open=True),
        default=1e-7,
        show_default=True,
        help="First LR of the sweep.",
    ),
    click.option(
        "--max-lr",
        type=click.FloatRange(min=0, min_open=True),
        default=10.0,
        show_default=True,
        help="Last LR of the sweep.",
    ),
    click.option(
        "--num-steps", type=click.IntRange(min=10), default=100, show_default=True, help="Optimizer steps of the sweep."
    ),
    click.option(
        "--mode",
        type=click.Choice(["exp", "linear"]),
        default="exp",
        show_default=True,
        help="LR increase: exponential or linear.",
    ),
    click.option(
        "--stop-factor",
        type=StopFactor(),
        default="4",
        show_default=True,
        help="Stop when the smoothed loss exceeds this factor of its best ('none': never).",
    ),
    click.option(
        "--rule",
        type=click.Choice(list(RULES)),
        default=DEFAULT_RULE,
        show_default=True,
        help="How the suggested LR is read off the curve.",
    ),
    click.option(
        "--batch-size",
        type=click.IntRange(min=1),
        default=32,
        show_default=True,
        help="Batch size of the test (file data and Datasets).",
    ),
    click.option(
        "--target-batch-size", type=click.IntRange(min=1), help="Batch size of training: the LR is scaled to it."
    ),
    click.option(
        "--scaling",
        type=click.Choice(list(SCALING_RULES)),
        default="auto",
        show_default=True,
        help="Batch-size scaling rule.",
    ),
    click.option(
        "--optimizer",
        callback=_check_optimizer,
        default="momentum",
        show_default=True,
        help="Optimizer name (see 'lrfind list'), torch.optim class name or module:Class.",
    ),
    click.option(
        "--weight-decay",
        type=FloatList(),
        help=(
            "Weight decay; a list (0,1e-4,1e-3) runs Smith's weight-decay test, one range test per value from "
            "the same state, and recommends the lowest minimum (ties: widest stable LR range, then larger value)."
        ),
    ),
    click.option("--momentum", type=float, help="Momentum of SGD-family optimizers."),
    click.option("--betas", metavar="B1,B2", help="Betas of Adam-family optimizers, e.g. 0.9,0.999."),
    click.option("--eps", type=float, help="Epsilon of adaptive optimizers."),
    click.option(
        "--opt",
        "opt_settings",
        multiple=True,
        metavar="KEY=VALUE",
        help="Any other optimizer setting (value as JSON), repeatable.",
    ),
    click.option(
        "--loss",
        type=click.Choice(list(_LOSSES)),
        help="Loss (default: cross_entropy for integer targets, mse otherwise).",
    ),
    click.option(
        "--device", default="auto", show_default=True, callback=_check_device, help="cpu, cuda, cuda:1, mps or auto."
    ),
    click.option("--seed", type=int, default=0, show_default=True, help="Seed of the model RNG and the data order."),
)

_output_options = _options(
    click.option(
        "--report",
        default=_DEFAULT_REPORT,
        show_default=True,
        callback=_check_report_path,
        help="Report image (.png, .svg or .pdf).",
    ),
    click.option("--no-report", is_flag=True, help="Do not write the report."),
    click.option(
        "--json",
        "json_path",
        metavar="PATH|-",
        help="Write the result as JSON ('-': stdout; the summary then goes to stderr).",
    ),
    click.option(
        "--csv", "csv_path", metavar="PATH|-", help="Write the curve (lr, loss, smoothed, slope) as CSV ('-': stdout)."
    ),
)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = " ".join(part.strip() for part in str(exc).strip().splitlines() if part.strip())
    return text or type(exc).__name__


@contextlib.contextmanager
def _clean_errors(debug: bool) -> Iterator[None]:
    """Turn library errors into one-line click errors (exit 1); ``--debug`` keeps tracebacks."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except KeyboardInterrupt:
        click.echo("Interrupted; nothing more was written.", err=True)
        raise click.exceptions.Exit(130) from None
    except (LRFinderError, ValueError, TypeError, OSError, RuntimeError) as exc:
        if debug:
            raise
        raise click.ClickException(_one_line(exc)) from None
    except Exception as exc:
        if debug:
            raise
        raise click.ClickException(
            f"{type(exc).__name__}: {_one_line(exc)} (run with --debug for the traceback)"
        ) from None


def _setup_logging(quiet: bool, debug: bool) -> None:
    level = logging.DEBUG if debug else logging.ERROR
    logging.getLogger("lrfinder").setLevel(level)
    # Lightning announces devices and summaries on its loggers: not results, so kept off stdout.
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.INFO if debug else logging.WARNING)
    if not debug:
        _quiet_warnings()


def _quiet_warnings() -> None:
    """Hide Lightning's advice that does not apply to a CLI run (workers, unused GPUs, deprecations)."""
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*self.log.*trainer.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*no `val_dataloader`.*")
    warnings.filterwarnings("ignore", message=".*treespec.*")


def _resolve_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        if torch.cuda.is_available():
            return "cuda"
        return "cpu"
    return device


def _seed_all(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _optimizer_settings(
    *,
    momentum: float | None,
    betas: str | None,
    eps: float | None,
    opt_settings: Sequence[str],
) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    if momentum is not None:
        settings["momentum"] = momentum
    if betas is not None:
        try:
            pair = tuple(float(b) for b in str(betas).split(","))
        except ValueError:
            raise click.BadParameter(f"{betas!r} is not two numbers like 0.9,0.999", param_hint="--betas") from None
        if len(pair) != 2:
            raise click.BadParameter(f"expected two numbers like 0.9,0.999, but got {betas!r}", param_hint="--betas")
        settings["betas"] = pair
    if eps is not None:
        settings["eps"] = eps
    settings.update(_key_values(opt_settings, "--opt"))
    return settings


def _key_values(items: Sequence[str], option: str) -> dict[str, Any]:
    """Parse repeated ``KEY=VALUE`` options; values are JSON when they parse, else strings."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip().isidentifier():
            raise click.BadParameter(f"expected KEY=VALUE, but got {item!r}", param_hint=option)
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _guard_outputs(inputs: Sequence[str | None], outputs: Sequence[str | None]) -> None:
    """Refuse an output path that is one of the input files (inputs are never modified)."""
    resolved = {Path(p).resolve() for p in inputs if p and Path(p).exists()}
    for out in outputs:
        if out and out != "-" and Path(out).resolve() in resolved:
            raise click.UsageError(f"Refusing to write over the input file {out}; choose another output path.")


def _curve_csv(result: RangeTestResult) -> str:
    import numpy as np

    from .report import _smoothed

    lrs = np.asarray(result.lrs, dtype=float)
    smoothed = _smoothed(result)
    slope = loss_slope(lrs, smoothed)
    lines = ["lr,loss,smoothed,slope"]
    for row in zip(lrs, result.losses, smoothed, slope):
        lines.append(",".join("" if not math.isfinite(v) else repr(float(v)) for v in row))
    return "\n".join(lines) + "\n"


def _echo_summary(rows: Sequence[tuple[str, str]], *, err: bool) -> None:
    width = max(len(k) for k, _ in rows) + 2
    for key, value in rows:
        click.echo(f"{key:<{width}}{value}", err=err)


def _summary_rows(result: RangeTestResult, *, source: str | None = None) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if source:
        rows.append(("model", f"{result.model_name} ({result.num_parameters or 0:,} parameters) from {source}"))
    rows.append(("optimizer", f"{result.optimizer_name}, batch size {result.batch_size}"))
    rows.append(("steps", f"{result.num_steps}/{result.settings.num_steps} (stopped: {result.stop_reason})"))
    s = result.suggestion
    if s is None:
        rows.append(("suggested lr", "none: the curve is inconclusive"))
        rows.append(("reason", result.error or "?"))
        return rows
    rows.append(("suggested lr", f"{s.lr:.2e}  (rule: {s.rule})"))
    rows.append(("one-cycle band", f"{s.min_lr:.2e} .. {s.max_lr:.2e}"))
    rows.append(("steepest descent", f"{s.steepest_lr:.2e}"))
    rows.append(("minimum loss at", f"{s.min_loss_lr:.2e}"))
    rows.append(("divergence", f"{s.divergence_lr:.2e}" if s.divergence_lr is not None else "not reached"))
    rows.append(("confidence", f"{s.confidence:.2f}"))
    if result.scaled is not None:
        sc = result.scaled
        text = f"{sc.lr:.2e}  ({sc.rule} x{sc.factor:.3g}, batch {sc.from_batch_size} -> {sc.to_batch_size})"
        if sc.warmup_epochs:
            text += f"; warm up {sc.warmup_epochs} epoch(s)"
        rows.append(("scaled lr", text))
    for note in s.notes:
        rows.append(("note", note))
    if result.scaled is not None and result.scaled.warning:
        rows.append(("warning", result.scaled.warning))
    return rows


def _write_outputs(
    results: Sequence[RangeTestResult],
    *,
    report: str | None,
    json_path: str | None,
    csv_path: str | None,
    json_doc: dict[str, Any] | None = None,
    schedule: Any = None,
    schedule_name: str | None = None,
    highlight: int | None = None,
) -> list[str]:
    """Write the report, JSON and CSV; return the paths written (files only)."""
    written: list[str] = []
    if json_path:
        text = json.dumps(json_doc, indent=2, allow_nan=False) if json_doc is not None else results[0].to_json()
        if json_path == "-":
            click.echo(text)
        else:
            atomic_write_text(Path(json_path), text + "\n")
            written.append(json_path)
    if csv_path:
        text = (
            _curve_csv(results[0])
            if len(results) == 1
            else "".join(f"# {r.label or i}\n{_curve_csv(r)}" for i, r in enumerate(results))
        )
        if csv_path == "-":
            click.echo(text, nl=False)
        else:
            atomic_write_text(Path(csv_path), text)
            written.append(csv_path)
    if report:
        from .report import save_report

        save_report(
            list(results) if len(results) > 1 else results[0],
            report,
            schedule=schedule,
            schedule_name=schedule_name,
            highlight=highlight,
        )
        written.append(report)
    return written


class _Progress:
    """A click progress bar on stderr, shown only on a terminal and without ``--quiet``."""

    def __init__(self, length: int, label: str, quiet: bool) -> None:
        self._bar = None
        if not quiet and sys.stderr.isatty():
            self._bar = click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True)
            self._bar.__enter__()

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def tick(self, _index: int, _lr: float, _loss: float) -> None:
        """Advance by one optimizer step (the ``on_step`` hook of ``range_test``)."""
        self.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


# --------------------------------------------------------------------------------------------
# The shared pipeline of run / fit / demo
# --------------------------------------------------------------------------------------------


def _lightning_step_fn(module: Any) -> Callable[[Any, Any], Any]:
    """Use a LightningModule's own ``training_step`` as the range test's loss."""

    def step(model: Any, batch: Any) -> Any:
        out = model.training_step(batch, 0)
        if isinstance(out, dict):
            out = out.get("loss")
        if out is None:
            raise LRFinderError(
                f"{type(module).__name__}.training_step returned no loss (None). Return the loss tensor "
                "(or a dict with 'loss') from training_step."
            )
        return out

    return step


def _make_optimizer_factory(name: str, settings: dict[str, Any]) -> Callable[[Any, float, float | None], Any]:
    from .optimizers import create_optimizer

    def make(model: Any, lr: float, weight_decay: float | None) -> Any:
        extra = dict(settings)
        if weight_decay is not None:
            extra["weight_decay"] = weight_decay
        return create_optimizer(name, model, lr=lr, **extra)

    return make


def _run_tests(
    *,
    model: Any,
    lightning: bool,
    loader: Any,
    loss_fn: Any,
    make_optimizer: Callable[[Any, float, float | None], Any],
    optimizer_label: str,
    weight_decays: tuple[float, ...] | None,
    sweep: dict[str, Any],
    rule: str,
    device: str,
    quiet: bool,
) -> list[RangeTestResult]:
    """Run one range test, or one per weight decay; labelled results, same initial state each."""
    from .io import check_model_fits
    from .range_test import range_test, to_device
    from .sweeps import format_weight_decay

    step_fn = _lightning_step_fn(model) if lightning else None
    first = next(iter(loader))
    check_model_fits(model, to_device(first, next(model.parameters()).device), None if lightning else loss_fn, step_fn)
    results = []
    values: Sequence[float | None] = weight_decays or (None,)
    for wd in values:
        label = f"wd={format_weight_decay(wd)}" if weight_decays and len(weight_decays) > 1 and wd is not None else None
        bar = _Progress(sweep["num_steps"], f"range test{f' {label}' if label else ''}", quiet)

        optimizer = make_optimizer(model, sweep["min_lr"], wd)
        try:
            result = range_test(
                model,
                loader,
                optimizer=optimizer,
                loss_fn=None if step_fn else loss_fn,
                step_fn=step_fn,
                device=device,
                rule=rule,
                on_step=bar.tick,
                **sweep,
            )
        finally:
            bar.close()
        name = optimizer_label + (f", weight_decay={format_weight_decay(wd)}" if wd else "")
        # A TorchScript module's class is RecursiveScriptModule; its original name is the useful one.
        model_name = getattr(model, "original_name", None) or result.model_name
        result = replace(result, optimizer_name=name, label=label, model_name=model_name)
        results.append(result)
    return results


def _scale(result: RangeTestResult, target: int | None, scaling: str, optimizer: str) -> RangeTestResult:
    if target is None or result.suggestion is None:
        return result
    with warnings.catch_warnings():
        # The warning is kept in result.scaled.warning and printed with the summary.
        warnings.simplefilter("ignore")
        return result.scale(target, rule=scaling, optimizer=optimizer)


def _sweep_json(results: Sequence[RangeTestResult], values: Sequence[float], choice: Any) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "weight_decay_sweep",
        "weight_decays": list(values),
        "recommended_index": None if choice is None else choice.index,
        "recommended_weight_decay": None if choice is None else choice.weight_decay,
        "reason": None if choice is None else choice.reason,
        "results": [r.to_dict() for r in results],
    }


def _echo_sweep(results: Sequence[RangeTestResult], values: Sequence[float], choice: Any, *, err: bool) -> None:
    from .sweeps import format_weight_decay

    header = f"{'weight decay':<14}{'suggested lr':<14}{'min loss':<11}{'at lr':<11}{'stable to':<11}confidence"
    click.echo(header, err=err)
    for i, (r, v) in enumerate(zip(results, values)):
        s = r.suggestion
        mark = "  <- recommended" if choice is not None and choice.index == i else ""
        if s is None:
            click.echo(f"{format_weight_decay(v):<14}{'inconclusive':<14}{r.error or ''}", err=err)
            continue
        import numpy as np

        smoothed = np.asarray(s.smoothed_losses)
        stable = s.divergence_lr if s.divergence_lr is not None else r.lrs[-1]
        click.echo(
            f"{format_weight_decay(v):<14}{s.lr:<14.2e}{float(np.nanmin(smoothed)):<11.4g}{s.min_loss_lr:<11.2e}"
            f"{stable:<11.2e}{s.confidence:.2f}{mark}",
            err=err,
        )
    if choice is not None:
        click.echo(f"recommended weight decay: {format_weight_decay(choice.weight_decay)} ({choice.reason})", err=err)


# --------------------------------------------------------------------------------------------
# Training (fit, demo)
# --------------------------------------------------------------------------------------------


def _train(
    *,
    model: Any,
    lightning: bool,
    loss_fn: Any,
    train_loader: Any,
    val_loader: Any,
    epochs: int,
    make_optimizer: Callable[[Any], Any],
    scheduler: str | None,
    scheduler_settings: dict[str, Any],
    warmup_steps: int,
    suggestion: Any,
    device: str,
    accumulate: int,
    quiet: bool,
    out: Callable[[str], None],
) -> tuple[Any, list[float]]:
    """Train with Lightning; print one line per epoch; return the trainer and the LR of each step.

    A plain model is wrapped in a small LightningModule (model + loss). A LightningModule is
    trained as itself (its own ``training_step``, ``validation_step`` and logging), with only
    ``configure_optimizers`` replaced, through a subclass made here, by the chosen optimizer and
    schedule; its class is put back afterwards, so the saved checkpoint loads with the user's class.
    """
    import pytorch_lightning as pl
    import torch

    # Lightning sets its loggers to INFO when imported: device banners and tips are not results.
    if not logging.getLogger("lrfinder").isEnabledFor(logging.DEBUG):
        for name in ("pytorch_lightning", "lightning.pytorch", "lightning.fabric", "lightning"):
            logging.getLogger(name).setLevel(logging.WARNING)
        _quiet_warnings()
    steps_per_epoch = max(1, math.ceil(len(train_loader) / accumulate))
    total_steps = epochs * steps_per_epoch

    def configure(module: Any) -> Any:
        optimizer = make_optimizer(model)
        if scheduler is None:
            return optimizer
        from .schedulers import create_scheduler, lightning_scheduler_config

        sched = create_scheduler(
            scheduler,
            optimizer,
            total_steps=total_steps,
            suggestion=suggestion,
            warmup_steps=warmup_steps,
            **scheduler_settings,
        )
        return {"optimizer": optimizer, "lr_scheduler": lightning_scheduler_config(sched)}

    class FitModule(pl.LightningModule):
        """A plain model and its loss as a LightningModule."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            return loss_fn(self.model(x), y)

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            x, y = batch
            self.log("val_loss", loss_fn(self.model(x), y), on_step=False, on_epoch=True, batch_size=_batch_len(batch))

        def configure_optimizers(self) -> Any:
            return configure(self)

    lrs: list[float] = []

    class Report(pl.Callback):
        """Per-epoch lines on stdout, a progress bar on stderr, the LR of every step."""

        def __init__(self) -> None:
            self.bar: _Progress | None = None
            self.losses: list[float] = []

        def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            self.bar = _Progress(len(train_loader), f"epoch {trainer.current_epoch + 1}/{epochs}", quiet)
            self.losses = []

        def on_train_batch_start(
            self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
        ) -> None:
            if batch_idx % accumulate == 0:
                lrs.append(float(trainer.optimizers[0].param_groups[0]["lr"]))

        def on_train_batch_end(
            self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
        ) -> None:
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            if isinstance(loss, torch.Tensor):
                self.losses.append(float(loss.detach()))
            if self.bar is not None:
                self.bar.update(1)

        def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            if self.bar is not None:
                self.bar.close()
            mean = sum(self.losses) / len(self.losses) if self.losses else math.nan
            line = f"epoch {trainer.current_epoch + 1:>3}/{epochs}  train_loss {mean:.4f}"
            for key, value in sorted(trainer.callback_metrics.items()):
                if key.startswith("val"):
                    line += f"  {key} {float(value):.4f}"
            line += f"  lr {trainer.optimizers[0].param_groups[0]['lr']:.2e}"
            out(line)
            if not math.isfinite(mean):
                trainer.should_stop = True

    if lightning:
        original = type(model)
        has_val = original.validation_step is not pl.LightningModule.validation_step
        module = model
        module.__class__ = type(
            original.__name__, (original,), {"configure_optimizers": configure, "__module__": original.__module__}
        )
    else:
        original = None
        has_val = True
        module = FitModule()
    accelerator = "gpu" if device.startswith("cuda") else ("mps" if device == "mps" else "cpu")
    devices: Any = [int(device.split(":")[1])] if device.startswith("cuda:") else 1
    try:
        with tempfile.TemporaryDirectory(prefix="lrfind-") as root:
            trainer = pl.Trainer(
                max_epochs=epochs,
                accelerator=accelerator,
                devices=devices,
                logger=False,
                enable_checkpointing=False,
                enable_progress_bar=False,
                enable_model_summary=False,
                num_sanity_val_steps=0,
                accumulate_grad_batches=accumulate,
                callbacks=[Report()],
                default_root_dir=root,
            )
            trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader if has_val else None)
    finally:
        if original is not None:
            model.__class__ = original
    if trainer.interrupted:
        raise KeyboardInterrupt
    model.to("cpu")
    return trainer, lrs


def _batch_len(batch: Any) -> int | None:
    import torch

    first = batch
    while isinstance(first, (tuple, list)) and first:
        first = first[0]
    if isinstance(first, dict) and first:
        first = next(iter(first.values()))
    return int(first.shape[0]) if isinstance(first, torch.Tensor) and first.dim() > 0 else None


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


@click.group(
    context_settings=_CONTEXT,
    epilog="""\b
Examples:
  lrfind demo
  lrfind run model.pt --data train.npz
  lrfind run model.pt --data train.csv --target label --optimizer adamw --weight-decay 0,1e-4,1e-3
  lrfind fit model.pt --data train.npz --val-data val.npz --epochs 5 --scheduler onecycle -o trained.pt
  lrfind report result.json --report again.png
  lrfind list""",
)
@click.version_option(__version__, prog_name="lrfind")
@click.option("--debug", is_flag=True, help="Show full tracebacks (also accepted by every command).")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Find a good learning rate for a PyTorch model (Smith's LR range test), then train with it.

    Results go to stdout, progress bars and warnings to stderr. Exit codes: 0 success, 1 a failed
    run (or an inconclusive one with --strict), 2 a usage error.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def _debug(ctx: click.Context, debug: bool) -> bool:
    root = ctx.find_root()
    return bool(debug or (root.obj or {}).get("debug"))


def _prepare(
    *,
    model_path: str,
    model_class: str | None,
    model_args: str | None,
    unsafe_pickle: bool,
    data: str,
    val_data: str | None,
    x_key: str | None,
    y_key: str | None,
    target: str | None,
    batch_size: int,
    loss: str | None,
    seed: int,
    device: str,
) -> tuple[Any, Any, Any]:
    from .io import load_data, load_model, make_loss

    _seed_all(seed)
    loaded = load_model(model_path, model_class=model_class, model_args=model_args, unsafe_pickle=unsafe_pickle)
    loaded.model.to(device)
    data_obj = load_data(
        data, batch_size=batch_size, x_key=x_key, y_key=y_key, target=target, val_spec=val_data, seed=seed
    )
    loss_fn = make_loss(loss, data_obj.target_kind)
    return loaded, data_obj, loss_fn


@main.command(
    context_settings=_CONTEXT,
    epilog="""\b
Examples:
  lrfind run model.pt --data train.npz
  lrfind run model.pt --data train.npz --optimizer adamw --target-batch-size 512 --json result.json
  lrfind run weights.pt --model-class mypkg.nets:Net --model-args '{"hidden": 64}' --data mypkg.data:train_set
  lrfind run model.ckpt --model-class mypkg.lit:LitNet --data train.pt --report curve.svg
  lrfind run model.pt --data train.csv --target label --weight-decay 0,1e-4,1e-3
  lrfind run model.pt --data train.npz --json - --no-report | jq .suggestion.lr
  lrfind run model.pt --config lrfind.toml""",
)
@_config
@_model_options
@_data_options
@_sweep_options
@click.option(
    "--scheduler", callback=_check_scheduler, help="Show this schedule's planned LR in the report (see 'lrfind list')."
)
@click.option(
    "--scheduler-opt", multiple=True, metavar="KEY=VALUE", help="A scheduler setting (value as JSON), repeatable."
)
@click.option("--warmup-steps", type=click.IntRange(min=0), default=0, help="Linear warm-up steps before the schedule.")
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Epochs of the planned schedule (--scheduler).",
)
@click.option("--strict", is_flag=True, help="Exit with 1 when the curve is inconclusive.")
@_output_options
@_common
@click.pass_context
def run(ctx: click.Context, **opts: Any) -> None:
    """Run the LR range test on a saved MODEL and print the suggested learning rate.

    MODEL is a TorchScript file, a Lightning .ckpt or a state_dict (with --model-class), or a
    pickled module (only with --unsafe-pickle). The input files are never modified.
    """
    debug = _debug(ctx, opts["debug"])
    _setup_logging(opts["quiet"], debug)
    with _clean_errors(debug):
        _run_command(opts, fit=False)


def _run_command(opts: dict[str, Any], *, fit: bool) -> None:
    out_paths = [
        opts.get("report") if not opts.get("no_report") else None,
        opts.get("json_path"),
        opts.get("csv_path"),
        opts.get("output"),
    ]
    _guard_outputs([opts["model"], opts["data"], opts.get("val_data")], out_paths)
    if opts.get("json_path") == "-" and opts.get("csv_path") == "-":
        raise click.UsageError("--json - and --csv - cannot both write to stdout.")
    to_stderr = "-" in (opts.get("json_path"), opts.get("csv_path"))
    if not opts["max_lr"] > opts["min_lr"]:
        raise click.BadParameter(
            f"expected --max-lr > --min-lr, but got --min-lr {opts['min_lr']:g} --max-lr {opts['max_lr']:g}",
            param_hint="--max-lr",
        )

    device = _resolve_device(opts["device"])
    loaded, data, loss_fn = _prepare(
        model_path=opts["model"],
        model_class=opts["model_class"],
        model_args=opts["model_args"],
        unsafe_pickle=opts["unsafe_pickle"],
        data=opts["data"],
        val_data=opts.get("val_data"),
        x_key=opts["x_key"],
        y_key=opts["y_key"],
        target=opts["target"],
        batch_size=opts["batch_size"],
        loss=opts["loss"],
        seed=opts["seed"],
        device=device,
    )
    settings = _optimizer_settings(
        momentum=opts["momentum"], betas=opts["betas"], eps=opts["eps"], opt_settings=opts["opt_settings"]
    )
    _pipeline(
        opts,
        model=loaded.model,
        lightning=loaded.lightning,
        data=data,
        loss_fn=loss_fn,
        settings=settings,
        device=device,
        source=f"{loaded.path.name} ({loaded.format})",
        to_stderr=to_stderr,
        fit=fit,
        loaded=loaded,
    )


def _pipeline(
    opts: dict[str, Any],
    *,
    model: Any,
    lightning: bool,
    data: Any,
    loss_fn: Any,
    settings: dict[str, Any],
    device: str,
    source: str,
    to_stderr: bool,
    fit: bool,
    loaded: Any = None,
) -> None:
    """Range test (or weight-decay sweep), summary, optional training, outputs."""
    from .sweeps import format_weight_decay, recommend_weight_decay

    quiet = opts["quiet"]
    echo = (lambda line: click.echo(line, err=True)) if to_stderr else click.echo
    make_optimizer = _make_optimizer_factory(opts["optimizer"], settings)
    wds: tuple[float, ...] | None = opts["weight_decay"]
    sweep = {
        "min_lr": opts["min_lr"],
        "max_lr": opts["max_lr"],
        "num_steps": opts["num_steps"],
        "mode": opts["mode"],
        "stop_factor": opts["stop_factor"],
    }
    label = opts["optimizer"] + "".join(f", {k}={v}" for k, v in settings.items())
    results = _run_tests(
        model=model,
        lightning=lightning,
        loader=data.train,
        loss_fn=loss_fn,
        make_optimizer=make_optimizer,
        optimizer_label=label,
        weight_decays=wds,
        sweep=sweep,
        rule=opts["rule"],
        device=device,
        quiet=quiet,
    )
    results = [_scale(r, opts["target_batch_size"], opts["scaling"], opts["optimizer"]) for r in results]
    report = None if opts.get("no_report") else opts.get("report")
    chosen_wd = wds[0] if wds else None
    highlight = None
    json_doc = None
    if wds is not None and len(results) > 1:
        choice = None
        with contextlib.suppress(InconclusiveCurveError):
            choice = recommend_weight_decay(results, wds)
        _echo_sweep(results, wds, choice, err=to_stderr)
        json_doc = _sweep_json(results, wds, choice)
        if choice is not None:
            highlight = choice.index
            chosen_wd = choice.weight_decay
        result = results[highlight] if highlight is not None else results[0]
        if result.scaled is not None:
            echo(
                f"scaled lr ({result.label}): {result.scaled.lr:.2e} ({result.scaled.rule} x{result.scaled.factor:.3g})"
            )
    else:
        result = results[0]
        _echo_summary(_summary_rows(result, source=source), err=to_stderr)

    schedule = None
    schedule_name = None
    inconclusive = result.suggestion is None
    if fit and not inconclusive:
        schedule, schedule_name = _fit_and_save(
            opts,
            model=model,
            lightning=lightning,
            data=data,
            loss_fn=loss_fn,
            make_optimizer=make_optimizer,
            weight_decay=chosen_wd,
            result=result,
            device=device,
            echo=echo,
            loaded=loaded,
        )
    elif opts.get("scheduler") and not inconclusive and len(results) == 1:
        schedule_name = opts["scheduler"]
        schedule = _preview(
            opts["scheduler"],
            result,
            total_steps=opts["epochs"] * _steps_per_epoch(data, opts),
            warmup_steps=opts.get("warmup_steps") or 0,
            settings=_key_values(opts.get("scheduler_opt") or (), "--scheduler-opt"),
        )
    written = _write_outputs(
        results,
        report=report,
        json_path=opts.get("json_path"),
        csv_path=opts.get("csv_path"),
        json_doc=json_doc,
        schedule=schedule,
        schedule_name=schedule_name,
        highlight=highlight,
    )
    for path in written:
        echo(f"wrote {path}")
    if len(results) > 1 and chosen_wd is not None and highlight is not None:
        logger.debug("weight decay chosen: %s", format_weight_decay(chosen_wd))
    if inconclusive:
        if fit:
            raise click.ClickException(
                f"The range test is inconclusive, so there is no LR to train with: {result.error}"
            )
        if opts.get("strict"):
            raise click.ClickException(f"The range test is inconclusive (--strict): {result.error}")


def _steps_per_epoch(data: Any, opts: dict[str, Any]) -> int:
    target = opts.get("target_batch_size")
    n = len(data.train)
    if target and data.dataset is not None:
        n = math.ceil(len(data.dataset) / target)
    elif target:
        n = math.ceil(n / max(1, target // opts["batch_size"]))
    return max(1, n)


def _preview(
    name: str,
    result: RangeTestResult,
    *,
    total_steps: int,
    warmup_steps: int = 0,
    settings: dict[str, Any] | None = None,
) -> Any:
    settings = settings or {}
    from .schedulers import preview_schedule

    if result.lr is None:  # only called on a conclusive curve
        raise LRFinderError(f"No learning rate to plan a schedule with: {result.error}")
    return preview_schedule(
        name,
        total_steps=total_steps,
        lr=result.lr,
        suggestion=result.training_suggestion,
        warmup_steps=warmup_steps,
        **settings,
    )


def _fit_and_save(
    opts: dict[str, Any],
    *,
    model: Any,
    lightning: bool,
    data: Any,
    loss_fn: Any,
    make_optimizer: Callable[[Any, float, float | None], Any],
    weight_decay: float | None,
    result: RangeTestResult,
    device: str,
    echo: Callable[[str], None],
    loaded: Any,
) -> tuple[Any, str | None]:
    from .io import save_model

    lr = result.lr
    if lr is None:  # the caller trains only on a conclusive curve
        raise LRFinderError(f"No learning rate to train with: {result.error}")
    target = opts.get("target_batch_size")
    loader = data.train
    accumulate = 1
    if target:
        if data.dataset is not None:
            loader = data.loader(target, seed=opts["seed"])
        elif target % opts["batch_size"] == 0:
            accumulate = target // opts["batch_size"]
        else:
            raise click.UsageError(
                f"--target-batch-size {target} is not a multiple of the loader's batch size {opts['batch_size']}; "
                "gradients cannot be accumulated to it."
            )
    _seed_all(opts["seed"])
    trainer, lrs = _train(
        model=model,
        lightning=lightning,
        loss_fn=loss_fn,
        train_loader=loader,
        val_loader=data.val,
        epochs=opts["epochs"],
        make_optimizer=lambda m: make_optimizer(m, lr, weight_decay),
        scheduler=opts.get("scheduler"),
        scheduler_settings=_key_values(opts.get("scheduler_opt") or (), "--scheduler-opt"),
        warmup_steps=opts.get("warmup_steps") or 0,
        suggestion=result.training_suggestion,
        device=device,
        accumulate=accumulate,
        quiet=opts["quiet"],
        out=echo,
    )
    if loaded is not None and opts.get("output"):
        save_model(loaded, opts["output"], trainer=trainer)
        echo(f"wrote {opts['output']}")
    return lrs, opts.get("scheduler") or "constant"


@main.command(
    context_settings=_CONTEXT,
    epilog="""\b
Examples:
  lrfind fit model.pt --data train.npz --epochs 5 --output trained.pt
  lrfind fit model.pt --data train.npz --val-data val.npz --epochs 10 --optimizer adamw --scheduler onecycle -o out.pt
  lrfind fit weights.pt --model-class mypkg.nets:Net --data train.csv --target y --loss mse --output trained-weights.pt
  lrfind fit model.ckpt --model-class mypkg.lit:LitNet --data mypkg.data:datamodule --epochs 3 --output tuned.ckpt
  lrfind fit model.pt --data train.npz --weight-decay 0,1e-4,1e-3 --epochs 5 --output trained.pt""",
)
@_config
@_model_options
@_data_options
@click.option("--val-data", type=DataSpec(), help="Validation data (same forms as --data).")
@click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True, help="Training epochs.")
@click.option(
    "--scheduler",
    callback=_check_scheduler,
    help="LR schedule over the training steps (see 'lrfind list'); default constant.",
)
@click.option(
    "--scheduler-opt", multiple=True, metavar="KEY=VALUE", help="A scheduler setting (value as JSON), repeatable."
)
@click.option("--warmup-steps", type=click.IntRange(min=0), default=0, help="Linear warm-up steps before the schedule.")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to save the trained model (same format as MODEL).",
)
@_sweep_options
@_output_options
@_common
@click.pass_context
def fit(ctx: click.Context, **opts: Any) -> None:
    """Run the range test on MODEL, then train it with the found LR and save it to --output.

    Training runs through Lightning with the chosen --optimizer and --scheduler; the train (and
    validation) loss is printed after every epoch. A weight-decay list trains with the
    recommended value. The LR is scaled to --target-batch-size, and training then uses that
    batch size.
    """
    debug = _debug(ctx, opts["debug"])
    _setup_logging(opts["quiet"], debug)
    opts["strict"] = True
    with _clean_errors(debug):
        _run_command(opts, fit=True)


@main.command(
    context_settings=_CONTEXT,
    epilog="""\b
Examples:
  lrfind report result.json
  lrfind report result.json --report curve.svg --title "ResNet-18, batch 256"
  lrfind report sgd.json adam.json --report compare.png""",
)
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--report",
    default=_DEFAULT_REPORT,
    show_default=True,
    callback=_check_report_path,
    help="Report image (.png, .svg or .pdf).",
)
@click.option("--title", help="Replace the report's title.")
@_common
@click.pass_context
def report(
    ctx: click.Context, results: tuple[str, ...], report: str, title: str | None, quiet: bool, debug: bool
) -> None:
    """Re-render saved RESULTS (JSON from --json) as a report; several files overlay."""
    debug = _debug(ctx, debug)
    _setup_logging(quiet, debug)
    _guard_outputs(list(results), [report])
    with _clean_errors(debug):
        loaded: list[RangeTestResult] = []
        highlight = None
        for path in results:
            try:
                doc = json.loads(Path(path).read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise click.ClickException(f"{path} is not a JSON result file: {exc}") from None
            if isinstance(doc, dict) and doc.get("kind") == "weight_decay_sweep":
                try:
                    parts = [RangeTestResult.from_dict(d) for d in doc["results"]]
                except (KeyError, TypeError) as exc:
                    raise click.ClickException(f"{path} is a malformed sweep file: {exc!r}") from None
                if len(results) == 1:
                    highlight = doc.get("recommended_index")
                loaded.extend(parts)
            elif isinstance(doc, dict):
                try:
                    loaded.append(RangeTestResult.from_dict(doc))
                except ValueError as exc:
                    raise click.ClickException(f"{path}: {exc}") from None
            else:
                raise click.ClickException(f"{path} is not a range-test result (expected a JSON object).")
        if len(loaded) > 1:
            loaded = (
                [r if r.label else replace(r, label=Path(p).stem) for r, p in zip(loaded, results)]
                if len(loaded) == len(results)
                else loaded
            )
        from .report import save_report

        save_report(loaded if len(loaded) > 1 else loaded[0], report, title=title, highlight=highlight)
        click.echo(f"wrote {report}")


@main.command(
    context_settings=_CONTEXT,
    epilog="""\b
Examples:
  lrfind demo
  lrfind demo --epochs 0 --report demo.svg
  lrfind demo --optimizer adamw --scheduler cosine --epochs 5 --json demo.json""",
)
@click.option(
    "--epochs",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Training epochs after the test (0: test only).",
)
@click.option(
    "--optimizer",
    callback=_check_optimizer,
    default="momentum",
    show_default=True,
    help="Optimizer name (see 'lrfind list').",
)
@click.option(
    "--scheduler",
    callback=_check_scheduler,
    default="onecycle",
    show_default=True,
    help="LR schedule of the training (see 'lrfind list').",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the data, the model and the data order.")
@click.option(
    "--report",
    default=_DEFAULT_REPORT,
    show_default=True,
    callback=_check_report_path,
    help="Report image (.png, .svg or .pdf).",
)
@click.option("--json", "json_path", metavar="PATH|-", help="Write the result as JSON ('-': stdout).")
@_common
@click.pass_context
def demo(
    ctx: click.Context,
    epochs: int,
    optimizer: str,
    scheduler: str,
    seed: int,
    report: str,
    json_path: str | None,
    quiet: bool,
    debug: bool,
) -> None:
    """Run the built-in example: a small MLP on generated data, the range test, a short training.

    Nothing is downloaded: the data (4,096 samples, 20 features, 4 classes) are generated with a
    fixed seed. Prints the suggested LR and writes the report (lrfind-report.png by default).
    """
    debug = _debug(ctx, debug)
    _setup_logging(quiet, debug)
    with _clean_errors(debug):
        from torch.utils.data import DataLoader, TensorDataset

        from .demo import make_demo_data, make_demo_model
        from .io import LoadedData, make_loss

        x, y = make_demo_data(4096 + 1024, seed=seed)
        train = TensorDataset(x[:4096], y[:4096])
        val = TensorDataset(x[4096:], y[4096:])
        import torch

        data = LoadedData(
            DataLoader(train, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(seed)),
            DataLoader(val, batch_size=256),
            train,
            "demo",
            "class",
        )
        model = make_demo_model(seed=seed)
        # The demo model is tiny: one thread avoids the threading overhead that dominates its steps.
        torch.set_num_threads(1)
        opts = {
            "quiet": quiet,
            "optimizer": optimizer,
            "weight_decay": None,
            "min_lr": 1e-4,
            "max_lr": 10.0,
            "num_steps": 100,
            "mode": "exp",
            "stop_factor": 4.0,
            "rule": DEFAULT_RULE,
            "target_batch_size": None,
            "scaling": "auto",
            "batch_size": 64,
            "scheduler": scheduler if epochs > 0 else None,
            "epochs": epochs,
            "report": report,
            "json_path": json_path,
            "csv_path": None,
            "seed": seed,
        }
        _seed_all(seed)
        _pipeline(
            opts,
            model=model,
            lightning=False,
            data=data,
            loss_fn=make_loss("cross_entropy"),
            settings={},
            device="cpu",
            source="built-in demo (generated data)",
            to_stderr=json_path == "-",
            fit=epochs > 0,
        )


@main.command("list", context_settings=_CONTEXT, epilog="\b\nExamples:\n  lrfind list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """List the optimizers, schedulers, scaling rules, suggestion rules and losses."""
    with _clean_errors(_debug(ctx, False)):
        from .optimizers import OPTIMIZERS

        click.echo("optimizers:")
        for name, spec in OPTIMIZERS.items():
            click.echo(f"  {name:<12}{spec.summary}")
        click.echo("  (also any torch.optim class name, or package.module:Class)")
        click.echo("schedulers:")
        for name, summary in _scheduler_rows():
            click.echo(f"  {name:<12}{summary}")
        click.echo("scaling rules:")
        for name, summary in (
            ("auto", "noise when measured; else sqrt for adaptive optimizers, linear otherwise"),
            ("linear", "lr x k for batch x k (Goyal et al. 2017)"),
            ("sqrt", "lr x sqrt(k) (Hoffer et al. 2017)"),
            ("noise", "saturates at the measured critical batch (McCandlish et al. 2018)"),
            ("none", "keep the LR"),
        ):
            click.echo(f"  {name:<12}{summary}")
        click.echo("suggestion rules:")
        for name in RULES:
            click.echo(f"  {name}{' (default)' if name == DEFAULT_RULE else ''}")
        click.echo("losses:")
        for name, summary in _LOSSES.items():
            click.echo(f"  {name:<16}{summary}")


def _scheduler_rows() -> list[tuple[str, str]]:
    from . import schedulers

    registry = getattr(schedulers, "SCHEDULERS", None)
    rows = []
    for name in schedulers.list_schedulers():
        spec = registry.get(name) if registry is not None else None
        rows.append((name, str(getattr(spec, "summary", "") or "")))
    return rows


# Kept for ``python -m lrfinder.cli``.
if __name__ == "__main__":  # pragma: no cover
    main()
