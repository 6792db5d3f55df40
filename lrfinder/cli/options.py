"""The shared click options of ``lrfind``, declared once, and :class:`Options`, the object they build.

Every command that runs a range test (``run``, ``fit``, ``demo``) turns its parameters into one
frozen :class:`Options`; the pipeline (:mod:`lrfinder.cli.pipeline`) reads nothing else. A new
setting is one field here and one option declaration here: ``run`` and ``fit`` pass their
parameters whole to :func:`~lrfinder.cli.pipeline.options_from_params`, which takes every
parameter named like a field.

Importing this module is cheap (click and :mod:`lrfinder.names` only): the validators that need
torch or the registries import them when they run, not when ``--help`` is shown.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import click

from .._wording import repeated
from ..names import (
    CURVES,
    DEFAULT_RULE,
    GRADIENT_CLIP_ALGORITHMS,
    GRADIENT_CLIP_ALIASES,
    LOSSES,
    NOT_TEXT_OUTPUT_SUFFIXES,
    OTHER_IMAGE_SUFFIXES,
    PRECISION_ALIASES,
    PRECISIONS,
    REPORT_FORMATS,
    RULE_ALIASES,
    RULES,
    SCALING_RULES,
    SWEEP_MODE_ALIASES,
    SWEEP_MODES,
    did_you_mean,
)
from .config import config_option
from .output import as_options

__all__ = [
    "CONTEXT",
    "DEFAULT_REPORT",
    "MAX_STEPS",
    "one_line",
    "check_model_output",
    "check_text_output",
    "set_for_this_command",
    "PositiveFloat",
    "NonNegativeFloat",
    "StepCount",
    "Seed",
    "Options",
    "FloatList",
    "StopFactor",
    "DataSpec",
    "FilePath",
    "optimizer_settings",
    "check_csv_target",
    "unused_model_options",
    "key_values",
    "config_option",
    "common_options",
    "progress_option",
    "PROGRESS_MODES",
    "warn_quiet_progress",
    "model_options",
    "data_options",
    "sweep_options",
    "precision_option",
    "clip_options",
    "curve_option",
    "schedule_options",
    "output_options",
    "report_option",
    "optimizer_option",
]

if TYPE_CHECKING:
    # click 8.4's stubs make ParamType generic in the value it converts to (8.2: Choice); older click's classes cannot
    # be subscripted at run time, and its mypy says "expects no type arguments" (the ignore; unused on click 8.4).
    _StrChoice = click.Choice[str]  # type: ignore[type-arg, unused-ignore]
    _FloatsType = click.ParamType[tuple[float, ...]]  # type: ignore[type-arg, unused-ignore]
    _StopFactorType = click.ParamType[float | None]  # type: ignore[type-arg, unused-ignore]
    _PathType = click.ParamType[str]  # type: ignore[type-arg, unused-ignore]
else:
    _StrChoice = click.Choice
    _FloatsType = _StopFactorType = _PathType = click.ParamType

#: click context settings shared by every command.
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
#: The report written when ``--report`` is not given.
DEFAULT_REPORT = "lrfind-report.png"
#: The most optimizer steps a sweep may plan: a range test needs hundreds, and every step is kept
#: in memory; a larger number is a typo, refused before anything is allocated.
MAX_STEPS = 100_000


@dataclass(frozen=True, kw_only=True)
class Options:
    """What a ``run``, ``fit`` or ``demo`` command was asked to do, parsed and checked.

    Attributes:
        model: The model file (``None`` for the demo's built-in model).
        model_class: ``package.module:Class`` for state_dict and ``.ckpt`` files.
        model_args: JSON arguments of ``model_class``.
        unsafe_pickle: Whether a pickled module may be loaded.
        data: A data file or ``package.module:function`` (``None`` for the demo).
        val_data: Validation data in the same forms.
        x_key: Input array name in ``.npz``/``.pt`` files.
        y_key: Target array name.
        target: Label column of a ``.csv`` file.
        batch_size: Batch size of the range test.
        loss: A loss name (:data:`lrfinder.names.LOSSES`), ``None`` to pick from the targets.
        min_lr: First LR of the sweep.
        max_lr: Last LR of the sweep.
        num_steps: Optimizer steps of the sweep.
        mode: ``"exp"`` or ``"linear"``.
        stop_factor: The divergence factor, ``None`` never to stop early.
        precision: ``"32"``, ``"bf16-mixed"`` or ``"16-mixed"`` (``range_test(precision=...)``).
        gradient_clip_val: Clip the gradients before every optimizer step of the test, the trials
            and ``fit``'s training (``range_test(gradient_clip_val=...)``); ``None`` clips nothing.
        gradient_clip_algorithm: ``"norm"`` (the total L2 norm) or ``"value"`` (each element).
        rule: The suggestion rule.
        target_batch_size: The batch size of training, to scale the LR to.
        scaling: The batch-size scaling rule.
        optimizer: An optimizer name, torch.optim class name or ``module:Class``.
        optimizer_settings: Settings of the optimizer (``momentum``, ``betas``, ``--opt``).
        weight_decays: One weight decay, or several for Smith's weight-decay test.
        device: ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto``.
        seed: Seed of the model RNG and the data order.
        scheduler: The schedule of training (``fit``/``demo``) or of the report's preview (``run``).
        scheduler_settings: Settings of the schedule (``--scheduler-opt``).
        warmup_steps: Linear warm-up steps before the schedule.
        epochs: Training epochs (``run``: epochs of the planned schedule).
        refine: Whether to refine the suggestion with re-sweeps and trial runs (:mod:`lrfinder.refine`).
        training_steps: Optimizer steps of the planned training the trials are sized from
            (default: ``epochs`` x optimizer steps per epoch); ``run`` plans its schedule over it too.
        refine_schedule: The schedule the trials run (default: ``scheduler``, else constant).
        train: Whether to train after the test (``fit``, and ``demo`` with epochs).
        output: Where ``fit`` saves the trained model.
        strict: Whether an inconclusive curve fails the command.
        report: The report image, ``None`` for none.
        json_path: JSON output path, ``-`` for stdout, ``None`` for none.
        csv_path: CSV output path, ``-`` for stdout, ``None`` for none.
        quiet: No progress bars or notices on stderr.
        progress: ``auto``, ``bar``, ``lines`` or ``none`` (see :class:`~.output.Progress`).
        debug: Full tracebacks and debug logging.
        config: The ``--config`` file the options were read from, if any (an input: never written).

    """

    model: str | None = None
    model_class: str | None = None
    model_args: str | None = None
    unsafe_pickle: bool = False
    data: str | None = None
    val_data: str | None = None
    x_key: str | None = None
    y_key: str | None = None
    target: str | None = None
    batch_size: int
    loss: str | None = None
    min_lr: float
    max_lr: float
    num_steps: int
    mode: str
    stop_factor: float | None
    precision: str = "32"
    curve: str = "train"
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str = "norm"
    rule: str
    target_batch_size: int | None = None
    scaling: str
    optimizer: str
    optimizer_settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    weight_decays: tuple[float, ...] | None = None
    device: str
    seed: int
    scheduler: str | None = None
    scheduler_settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    warmup_steps: int = 0
    epochs: int
    refine: bool = False
    training_steps: int | None = None
    refine_schedule: str | None = None
    train: bool = False
    output: str | None = None
    strict: bool = False
    report: str | None = DEFAULT_REPORT
    json_path: str | None = None
    csv_path: str | None = None
    quiet: bool = False
    progress: str = "auto"
    debug: bool = False
    config: str | None = None

    @property
    def inputs(self) -> list[str]:
        """The input paths (model, data, validation data, config file) that are files."""
        return [p for p in (self.model, self.data, self.val_data, self.config) if p]

    @property
    def outputs(self) -> list[str]:
        """Every output path given (``-`` for stdout included)."""
        return [p for p in (self.report, self.json_path, self.csv_path, self.output) if p]

    @property
    def to_stderr(self) -> bool:
        """Whether stdout carries the JSON or CSV, so the summary goes to stderr."""
        return "-" in (self.json_path, self.csv_path)


# --------------------------------------------------------------------------------------------
# Parameter types and checks
# --------------------------------------------------------------------------------------------


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (its type name when it has none).

    A sentence end doubled by joining messages ("interpreter.. Check") keeps one period;
    ranges ("1e-3 .. 1e-2") and ellipses are left alone.
    """
    text = " ".join(part.strip() for part in str(exc).strip().splitlines() if part.strip())
    text = re.sub(r"(?<=[^\s.])\.\.(?=\s|$)", ".", text)
    return text or type(exc).__name__


class _BoundedFloat(click.types.FloatParamType):
    """A finite number above a bound (``> 0`` or ``>= 0``); anything else fails, naming the option."""

    name = "FLOAT"
    #: Whether the bound 0 itself is allowed.
    allow_zero = False

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        """Parse the number."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not (math.isfinite(number) and (number >= 0 if self.allow_zero else number > 0)):
            self.fail(f"expected a finite number {'>=' if self.allow_zero else '>'} 0, but got {value}", param, ctx)
        return number


class PositiveFloat(_BoundedFloat):
    """A finite number > 0 (``inf`` and ``nan`` are refused, naming the option)."""


class NonNegativeFloat(_BoundedFloat):
    """A finite number >= 0 (``--momentum``, ``--eps``): a negative one is a usage error, not a failed run."""

    allow_zero = True


class StepCount(click.types.IntParamType):
    """A whole number of steps in ``[low, high]``; ``1e3`` is accepted as 1000, ``20.7`` is not."""

    name = "INTEGER"

    def __init__(self, low: int, high: int) -> None:
        self.low = low
        self.high = high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """Parse the count, refusing fractions and numbers outside the range."""
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip())
            except ValueError:
                try:
                    real = float(str(value).strip())
                except ValueError:
                    self.fail(f"{value!r} is not a whole number", param, ctx)
                if not (math.isfinite(real) and real == int(real)):
                    self.fail(f"{value!r} is not a whole number", param, ctx)
                number = int(real)
        if not self.low <= number <= self.high:
            self.fail(f"expected {self.low} to {self.high:,}, but got {value}", param, ctx)
        return number


class Seed(click.types.IntParamType):
    """A seed ``torch.manual_seed`` takes: a whole number in ``[-2**63, 2**64 - 1]``.

    Checked here, so a seed out of range is a usage error before anything is loaded; the range
    is not spelled out in ``--help``, where its 20-digit bounds would only be noise.
    """

    name = "INTEGER"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        """Parse the seed, refusing one torch cannot take."""
        number = int(super().convert(value, param, ctx))
        if not -(2**63) <= number <= 2**64 - 1:
            self.fail(f"expected a seed from -2**63 to 2**64 - 1, but got {value}", param, ctx)
        return number


class NameChoice(_StrChoice):
    """A ``click.Choice`` whose refusal ends with the close names, as the library's checks do.

    ``--rule steep`` is answered "Did you mean 'steepest'?", ``--loss CrossEntropy`` "'cross_entropy'", and a
    peer's spelling in ``aliases`` (Lightning's ``--precision bf16``) the name it means; they listed the choices alone.
    """

    def __init__(self, choices: Iterable[str], aliases: Mapping[str, str] | None = None) -> None:
        super().__init__(list(choices))
        self.aliases = dict(aliases or {})

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Match the choice, or fail with click's message and the close names."""
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            hint = did_you_mean(value, [str(choice) for choice in self.choices], self.aliases)
            if not hint:
                raise
            self.fail(f"{exc.message}{hint}", param, ctx)


class FloatList(_FloatsType):
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


class StopFactor(_StopFactorType):
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


def expand_home(value: str) -> str:
    """``value`` with a leading ``~`` (or ``~user``) made the home directory, as a shell does.

    A shell leaves the ``~`` of ``--json=~/runs/a.json`` and of a config file's ``json = "~/a.json"``
    as it is: written as given, such an output went into a directory named ``~`` under the current
    one, and such a ``--data`` was "not found". A ``~user`` that does not exist is left as it is.
    """
    return os.path.expanduser(value) if value.startswith("~") else value


def path_option(value: str) -> str:
    r"""A path option's value, checked and with a leading ``~`` expanded (:func:`expand_home`).

    Raises:
        click.BadParameter: ``value`` holds a NUL byte, which no file name can (a config file's
            ``"a\u0000b.json"`` in TOML): it was a raw traceback, Python's "embedded null byte".

    """
    if "\0" in value:
        raise click.BadParameter(_nul_in(value))
    return expand_home(value)


def _nul_in(value: str) -> str:
    return (
        f"{value!r} contains a NUL byte (\\x00), which no file name can hold; check where the path came from (a "
        "config file's \\u0000, a script that built it)"
    )


class FilePath(click.Path):
    """``click.Path`` that refuses a path with a NUL byte in words (``os.stat``'s "embedded null byte" traceback)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Refuse a NUL byte, then check as ``click.Path`` does."""
        if isinstance(value, str) and "\0" in value:
            self.fail(_nul_in(value), param, ctx)
        return super().convert(value, param, ctx)


#: How to give lrfind a model Hugging Face's ``save_pretrained`` wrote (a directory of ``config.json`` and
#: ``model.safetensors``), which it does not read: a state_dict and a function that builds the model.
HF_SAVED_ADVICE = (
    "Save the weights as a state_dict, torch.save(model.state_dict(), 'weights.pt'), and pass with it "
    "--model-class mymodule:build, a function that builds the model without downloading (e.g. "
    "AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained('DIR'))), and --data a function "
    "returning a Dataset of dicts with 'labels': the model is then trained on the loss it computes."
)


class ModelPath(FilePath):
    """The MODEL argument: an existing file; a directory (``save_pretrained``'s) is refused with what to pass."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Refuse a Hugging Face model directory in words, then check as :class:`FilePath` does."""
        if isinstance(value, (str, os.PathLike)) and "\0" not in os.fspath(value) and os.path.isdir(value):
            try:
                names = set(os.listdir(value))
            except OSError:  # a directory this user may not list: click's "is a directory" says it
                names = set()
            if "config.json" in names and names & {"model.safetensors", "pytorch_model.bin"} or any(
                name.endswith(".safetensors") for name in names
            ):
                self.fail(
                    f"{os.fspath(value)!r} is a directory of a saved Hugging Face model (save_pretrained), which "
                    f"lrfind does not read: it takes one model file. {HF_SAVED_ADVICE}",
                    param,
                    ctx,
                )
        return super().convert(value, param, ctx)


#: The data files lrfind reads, by extension (:func:`lrfinder.cli.loading.load_data`).
DATA_SUFFIXES = (".npz", ".pt", ".pth", ".csv", ".tsv")
#: The text tables among them: a header row, ``--target`` names the label column (``.tsv`` separated by tabs).
CSV_SUFFIXES = (".csv", ".tsv")


def unknown_data_format(path: str | os.PathLike[str]) -> str | None:
    """What to say of a data file whose extension lrfind does not read (``x.npy``); ``None`` for one it reads."""
    suffix = Path(path).suffix.lower()
    if suffix in DATA_SUFFIXES:
        return None
    hint = (
        " A .npy file holds one array: save the inputs and targets together, numpy.savez(path, x=x, y=y)."
        if suffix == ".npy"
        else ""
    )
    return (
        f"Unknown data format {suffix or '(no extension)'!r} for {os.fspath(path)}; expected .npz, .pt, .csv, .tsv or "
        f"package.module:function.{hint}"
    )


class DataSpec(_PathType):
    """An existing data file of a format lrfind reads, or ``package.module:function``."""

    name = "FILE|MODULE:FUNC"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """Check that the file exists and has a data file's extension (a ``module:function`` spec is imported later).

        A file of another format (a lone ``.npy`` array, a ``.txt``) is a usage error (exit 2), as a
        missing file is: the fix is on the command line. It was a failed run (exit 1) after the model loaded.
        """
        from .._imports import is_import_string

        text = path_option(os.fspath(value))
        try:
            Path(text).stat()
        except OSError as exc:
            # "File name too long" (or a loop of links) came out of pathlib's is_file() as a traceback.
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                self.fail(f"cannot read {text!r}: {exc.strerror or exc}", param, ctx)
        if Path(text).is_file():
            unknown = unknown_data_format(text)
            if unknown is not None:
                self.fail(unknown, param, ctx)
            return text
        if not Path(text).exists() and is_import_string(text):
            return text
        if Path(text).exists():
            self.fail(f"{text!r} is not a file", param, ctx)
        self.fail(f"file {text!r} does not exist (nor is it a package.module:function)", param, ctx)


def _check_model_class(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a ``--model-class`` that is not written ``package.module:Name`` (a usage error, before any import)."""
    from .._imports import is_import_string

    if value is not None and not is_import_string(value):
        hint = ""
        module, dot, name = value.rpartition(".")
        if ":" not in value and dot and is_import_string(f"{module}:{name}"):
            hint = f" (did you mean {module}:{name}?)"
        raise click.BadParameter(
            f"expected package.module:Name, a module path, a colon and the class or function, but got {value!r}{hint}"
        )
    return value


def _check_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse an empty ``--x-key``/``--y-key``/``--target``: ``''`` was read as "not given", the default name."""
    if value is not None and not value:
        what = {
            "x_key": "the name of the input array in the .npz/.pt data (leave out --x-key for the default, x)",
            "y_key": "the name of the target array in the .npz/.pt data (leave out --y-key for the default, y)",
        }.get(param.name or "", "the name of the .csv file's label column")
        raise click.BadParameter(f"got an empty name; expected {what}")
    return value


def _check_model_args(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return value
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(
            f"{value!r} is not valid JSON ({exc.msg} at column {exc.colno}); write a JSON list or object, e.g. "
            "'{\"hidden\": 64}' (single quotes around it in the shell)"
        ) from None
    if not isinstance(parsed, (list, dict)):
        raise click.BadParameter(
            f"expected a JSON list (positional arguments) or object (keyword arguments), but got {value!r}; "
            "write e.g. '{\"hidden\": 64}' or '[64]'"
        )
    return value


def _check_device(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None or value == "auto":
        return value
    import torch

    from ..settings import device_unavailable

    try:
        device = torch.device(value)
    except (RuntimeError, TypeError):
        # torch's own reason listed its twenty device types (ipu, xla, mtia, privateuseone, ...); what lrfind
        # runs on is the short list.
        raise click.BadParameter(
            f"{value!r} is not a torch device; use cpu, cuda, cuda:N (N the GPU's index), mps or auto"
        ) from None
    reason = device_unavailable(device)
    if reason is not None:
        raise click.BadParameter(f"{value!r}: {reason} (use cpu or auto)")
    return value


def _check_optimizer(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return value
    from ..optimizers import get_optimizer_spec
    from ..stepping import check_lr_sets_each_step, check_steps_without_closure

    try:
        # LBFGS and Rprop are refused here too: every command that takes --optimizer runs a range test first.
        cls = get_optimizer_spec(value).cls
        check_steps_without_closure(cls)
        check_lr_sets_each_step(cls)
    except (ValueError, TypeError, ImportError, AttributeError) as exc:
        raise click.BadParameter(as_options(one_line(exc))) from None
    return value


def _check_scheduler(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from ..names import SCHEDULER_ALIASES, SCHEDULER_SUMMARIES, did_you_mean, scheduler_name

    value = scheduler_name(value)  # "Cosine", "one-cycle": the registry name, printed and compared from here on
    if value is not None and value not in SCHEDULER_SUMMARIES:
        raise click.BadParameter(
            f"unknown scheduler {value!r}; expected one of {', '.join(SCHEDULER_SUMMARIES)}."
            + did_you_mean(value, SCHEDULER_SUMMARIES, SCHEDULER_ALIASES)
        )
    return value


#: Extensions of files that are not models, by what they hold: a trained model saved under one of
#: them (``-o train.npz``, ``-o nets.py``, a slip of the hand) replaces a file of that kind.
_NOT_MODEL_SUFFIXES = {
    **dict.fromkeys((".npz", ".npy", ".csv", ".tsv"), "data"),
    **dict.fromkeys(REPORT_FORMATS, "a report image"),
    **dict.fromkeys(OTHER_IMAGE_SUFFIXES, "an image"),
    ".json": "a JSON result",
    **dict.fromkeys((".toml", ".yaml", ".yml"), "a config file"),
    ".py": "Python source",
    **dict.fromkeys((".txt", ".md"), "text"),
}


#: Extensions of model formats ``lrfind`` neither reads nor writes: a trained model saved under one
#: of them would be a torch file that the tools for that format cannot open.
_FOREIGN_MODEL_SUFFIXES = {
    ".onnx": "an ONNX model",
    ".safetensors": "a safetensors file",
    ".pt2": "a torch.export program",
}


#: Names of the process's own stdout: ``--json``/``--csv`` take them as ``-``, ``fit --output`` refuses them.
STDOUT_NAMES = ("/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")


def _refuse_an_option(ctx: click.Context, param: click.Parameter, value: str | None, example: str) -> None:
    """Refuse one of the command's options where ``param``'s path belongs (a click callback's check).

    ``lrfind run ... --json --no-report``, ``--json`` taken for a flag, wrote the JSON to a file named
    ``--no-report`` and still wrote the report; ``--report --num-steps 20`` was told of the extension.

    Raises:
        click.BadParameter: ``value`` is an option name of the command (``--no-report``, ``-o``, ``--quiet=1``).

    """
    if value is None or not value.startswith("-") or value == "-":
        return
    names = {name for p in ctx.command.params for name in (*p.opts, *p.secondary_opts)}
    if value.split("=", 1)[0] in names:
        option = max(param.opts, key=len)
        raise click.BadParameter(
            f"got {value!r}, an option, where a path belongs: {option} takes a file name, e.g. {option} {example} "
            f"{value}"
        )


def check_model_output(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse an empty ``--output``, or one whose extension is that of another kind of file (a click callback).

    Raises:
        click.BadParameter: ``value`` ends in ``.npz``, ``.csv``, ``.png``, ``.json``, ``.toml``,
            ``.py``, ..., or in ``.onnx``, ``.safetensors`` or ``.pt2``, model formats ``lrfind`` does not
            write (a usage error, exit 2, before any work); an empty ``value`` (``-o ''`` trained
            and saved nothing, exit 0); ``-`` (stdout for ``--json``; saved as a file named ``-``).

    """
    if value == "":
        raise click.BadParameter("got an empty path; expected where to save the trained model, e.g. trained.pt")
    if value == "-" or value in STDOUT_NAMES:
        # '-' is stdout to --json and --csv; here it saved the model as a file named '-'. /dev/stdout wrote the
        # model's bytes among the summary's lines.
        raise click.BadParameter(
            f"got {value!r}, which is stdout for --json and --csv; a trained model is saved to a file: pass its "
            "path, e.g. trained.pt"
        )
    _refuse_an_option(ctx, param, value, "trained.pt")
    if value is not None:
        value = path_option(value)
    suffix = Path(value).suffix.lower() if value is not None else ""
    if suffix in _FOREIGN_MODEL_SUFFIXES:
        raise click.BadParameter(
            f"{value!r} ends in {suffix}, the extension of {_FOREIGN_MODEL_SUFFIXES[suffix]}, which lrfind does not "
            "write: the trained model is saved in MODEL's format (TorchScript, state_dict or pickle as .pt, a "
            "Lightning checkpoint as .ckpt). Name it .pt, then convert the saved model."
        )
    if suffix in _NOT_MODEL_SUFFIXES:
        raise click.BadParameter(
            f"{value!r} ends in {suffix}, the extension of {_NOT_MODEL_SUFFIXES[suffix]}, not of a model. The trained "
            "model is saved in MODEL's format: name it .pt (or .ckpt for a Lightning checkpoint)."
        )
    return value


#: The extensions ``--json`` and ``--csv`` refuse (a ``.txt`` table is fine): the rule ``RangeTestResult.to_json``
#: follows too.
_NOT_TABLE_SUFFIXES = NOT_TEXT_OUTPUT_SUFFIXES


def check_text_output(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse an empty ``--json``/``--csv`` path, or one with the extension of another kind of file (a model's).

    ``/dev/stdout`` (or ``/dev/fd/1``) is ``-``: the output goes to stdout and the summary to stderr.
    Written to as a file, the JSON came after the summary's lines and before a ``wrote /dev/stdout``
    line, on the one stream, and ``| jq`` failed on it.
    """
    own = ".json" if param.name == "json_path" else ".csv"
    if value == "":  # was read as "not given": nothing written, not a word said
        raise click.BadParameter(f"got an empty path; expected a file path such as result{own}, or '-' for stdout")
    if value in STDOUT_NAMES:
        return "-"
    _refuse_an_option(ctx, param, value, f"result{own}")
    if value is not None:
        value = path_option(value)
    suffix = Path(value).suffix.lower() if value not in (None, "-") else ""
    if suffix != own and suffix in _NOT_TABLE_SUFFIXES:
        raise click.BadParameter(
            f"{value!r} ends in {suffix}, the extension of {_NOT_TABLE_SUFFIXES[suffix]}; name the {own[1:].upper()} "
            f"output {own} (or '-' for stdout)."
        )
    return value


def _check_report_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Refuse a ``--report`` path that is empty, a directory, or has no report format's extension (a click callback).

    An empty path and a directory were both "the report format follows the extension", which named neither.
    """
    if value == "":
        raise click.BadParameter(
            f"got an empty path; expected an image file such as lrfind-report.png ({', '.join(REPORT_FORMATS)}), "
            "or --no-report for none"
        )
    _refuse_an_option(ctx, param, value, "lrfind-report.png")
    if value is not None:
        value = path_option(value)
    if value is not None and Path(value).suffix.lower() not in REPORT_FORMATS and Path(value).is_dir():
        raise click.BadParameter(
            f"{value!r} is a directory; give an image file inside it, e.g. {str(Path(value) / 'lrfind-report.png')!r}"
        )
    if value is not None and Path(value).suffix.lower() not in REPORT_FORMATS:
        raise click.BadParameter(
            f"{value!r}: the report format follows the extension, one of {', '.join(REPORT_FORMATS)}"
        )
    return value


def check_csv_target(options: Options) -> None:
    """A ``.csv`` file as ``--data`` or ``--val-data`` needs ``--target`` (a usage error, exit 2).

    Raises:
        click.UsageError: A CSV file without ``--target``.

    """
    for option, path in (("--data", options.data), ("--val-data", options.val_data)):
        if path and not options.target and Path(path).suffix.lower() in CSV_SUFFIXES and Path(path).is_file():
            raise click.UsageError(
                f"Missing option '--target': {option} {path} is a CSV file; pass --target COLUMN to name its "
                "label column (the other columns are the inputs)."
            )


def set_for_this_command(ctx: click.Context, name: str) -> bool:
    """Whether parameter ``name`` was chosen for this command.

    Chosen: typed on the command line, set by environment variable, or set in the config file's
    table of this command (``[run]``, ...). A config file's top-level key is not: it is shared by
    every command, and a command it does not apply to passes over it in silence (see :mod:`.config`).
    """
    from click.core import ParameterSource

    from .config import CONFIG_TABLE_META

    source = ctx.get_parameter_source(name)
    if source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
        return True
    return source == ParameterSource.DEFAULT_MAP and name in ctx.meta.get(CONFIG_TABLE_META, ())


def _data_kinds(options: Options) -> set[str]:
    """The kinds of ``--data`` and ``--val-data``: ``"function"`` for a ``package.module:function``, else the suffix.

    By the form of the text, as :func:`~lrfinder.cli.loading.load_data` reads it, not by its suffix:
    ``sklearn.datasets:load_digits`` has the suffix ``.datasets:load_digits``.
    """
    from .._imports import is_import_string

    return {
        "function" if is_import_string(p) and not Path(p).exists() else Path(p).suffix.lower()
        for p in (options.data, options.val_data)
        if p
    }


def unused_options(ctx: click.Context, options: Options) -> list[str]:
    """Options chosen for this command that have no effect on this run: ``"--X is ignored: why"``.

    Only options typed on the command line, set by environment variable or set in the config
    file's table of this command count (:func:`set_for_this_command`): a config file may set one
    at its top level for every command (see :mod:`.config`).
    """

    def given(name: str) -> bool:
        return set_for_this_command(ctx, name)

    kinds = _data_kinds(options)
    notes = []
    if ctx.params.get("no_report") and given("report"):
        notes.append("--report is ignored: --no-report turns the report off")
    if given("target") and not set(CSV_SUFFIXES) & set(kinds):
        notes.append("--target is ignored: it names the label column of CSV data, and the data is not a .csv file")
    if "function" not in kinds:  # a data function's result is known once it has run: unused_key_options
        for key in ("x_key", "y_key"):
            if given(key) and not kinds & {".npz", ".pt", ".pth"}:
                option = f"--{key.replace('_', '-')}"
                notes.append(f"{option} is ignored: it names an array of .npz/.pt data, and the data is neither")
    if options.scheduler is None and not options.refine:
        for name in ("scheduler_opt", "warmup_steps"):
            if given(name):
                notes.append(f"--{name.replace('_', '-')} is ignored: it shapes --scheduler, which is not given")
    if options.gradient_clip_val is None and given("gradient_clip_algorithm"):
        notes.append("--gradient-clip-algorithm is ignored: it says how --gradient-clip-val clips, which is not given")
    if not options.refine and given("training_steps"):
        # --training-steps read as the length of --scheduler's schedule (run's --epochs help said so):
        # point to the option that sets it without the trials' extra training.
        epochs = "; --epochs sets the length of --scheduler's schedule" if options.scheduler else ""
        notes.append(f"--training-steps is ignored: it sizes the trials of --refine, which is not given{epochs}")
    if not options.refine and given("refine_schedule"):
        notes.append("--schedule is ignored: it shapes the trials of --refine, which is not given")
    if ctx.info_name == "run" and not options.refine and options.curve != "val" and given("val_data"):
        notes.append(
            "--val-data is ignored: run uses it only to judge the trials of --refine and for --curve val (add one "
            "of them)"
        )
    if options.target_batch_size is None and given("scaling"):
        notes.append("--scaling is ignored: it scales the LR to --target-batch-size, which is not given")
    if ctx.info_name == "run" and options.scheduler is None and not options.refine and given("epochs"):
        notes.append("--epochs is ignored: run uses it only to plan --scheduler's schedule and size --refine's trials")
    elif ctx.info_name == "run" and options.refine and options.training_steps and given("epochs"):
        notes.append("--epochs is ignored: --training-steps sets the planned training's length")
    typed = ctx.params.get("weight_decay") or ()
    if len(set(typed)) < len(typed):
        twice = ", ".join(f"{v:g}" for v in repeated(typed))
        notes.append(f"--weight-decay repeats {twice}: each value runs once")
    return notes


def unused_model_options(ctx: click.Context, model_format: str, *, validates: bool = True) -> list[str]:
    """Model options chosen for this command that the loaded MODEL's format does not use.

    A TorchScript file or a pickled module holds the whole model: ``--model-class`` and
    ``--model-args`` are not used. Only a pickled module is unpickled: ``--unsafe-pickle`` with
    any other format allowed nothing (said, so that the flag is not kept "just in case"). Known
    only once MODEL is read, so said after loading.

    ``validates=False`` says that MODEL is a LightningModule without a ``validation_step``:
    ``fit`` trains it through its own steps, so ``--val-data`` (without ``--refine``, whose
    trials read it) is not used.
    """
    kinds = {
        "torchscript": "a TorchScript file",
        "pickle": "a pickled module",
        "lightning": "a Lightning checkpoint",
        "state_dict": "a state_dict",
    }
    kind = kinds.get(model_format, model_format)
    notes = []
    if model_format in ("torchscript", "pickle"):
        notes += [
            f"{option} is ignored: MODEL is {kind}, which holds the whole model"
            for name, option in (("model_class", "--model-class"), ("model_args", "--model-args"))
            if set_for_this_command(ctx, name)
        ]
    if model_format != "pickle" and set_for_this_command(ctx, "unsafe_pickle") and ctx.params.get("unsafe_pickle"):
        notes.append(f"--unsafe-pickle is ignored: MODEL is {kind}, read without unpickling code")
    if not validates and not ctx.params.get("refine") and ctx.params.get("val_data"):
        if set_for_this_command(ctx, "val_data"):
            notes.append(
                "--val-data is ignored: MODEL is a LightningModule without a validation_step, and fit trains it "
                "through its own steps (add a validation_step to see a validation loss)"
            )
    return notes


def warn_unused_options(
    ctx: click.Context,
    options: Options,
    model_format: str | None = None,
    *,
    validates: bool = True,
    keyed: bool = False,
) -> None:
    """Print one ``warning:`` line on stderr per option that has no effect (not with ``--quiet``).

    With ``model_format`` (the loaded MODEL's), only the model options that format ignores
    (:func:`unused_model_options`, ``validates`` passed on) and the array keys a data function's
    result did not use (:func:`unused_key_options`, ``keyed`` passed on).
    """
    if options.quiet:
        return
    notes = (
        unused_options(ctx, options)
        if model_format is None
        else unused_model_options(ctx, model_format, validates=validates) + unused_key_options(ctx, options, keyed)
    )
    for note in notes:
        click.echo(f"warning: {note}.", err=True)


def unused_key_options(ctx: click.Context, options: Options, keyed: bool) -> list[str]:
    """``--x-key``/``--y-key`` chosen for this command with data no array of which they named.

    Said once the data is loaded, for data from a ``package.module:function``: its keys are read
    when it returns a dict of arrays (``keyed``, sklearn's ``load_digits()`` Bunch), not when it
    returns a Dataset, a DataLoader or an ``(x, y)`` pair. File data is judged by its suffix before
    loading (:func:`unused_options`).

    Args:
        ctx: The command's click context.
        options: The command's options.
        keyed: Whether a data function returned a dict of arrays (:attr:`LoadedData.keyed`).

    Returns:
        One ``"--X is ignored: why"`` note per such option.

    """
    kinds = _data_kinds(options)
    if keyed or "function" not in kinds or kinds & {".npz", ".pt", ".pth"}:
        return []
    return [
        f"--{key.replace('_', '-')} is ignored: it names an array of .npz/.pt data or of a dict a data function "
        "returns, and the data is neither"
        for key in ("x_key", "y_key")
        if set_for_this_command(ctx, key)
    ]


def warn_quiet_progress(ctx: click.Context, quiet: bool, progress: str) -> None:
    """Say on stderr that ``--quiet`` turns off the progress a ``--progress`` mode asked for.

    Printed under ``--quiet`` too: the line is about ``--quiet`` itself, and without it the
    ``--progress lines`` a script relies on would vanish without a word. Only a mode chosen for
    this command counts (:func:`set_for_this_command`), not a config file's shared top-level key.
    """
    if quiet and progress in ("lines", "bar") and set_for_this_command(ctx, "progress"):
        click.echo(
            f"warning: --progress {progress} is ignored: --quiet turns all progress off (drop --quiet to see it).",
            err=True,
        )


def key_values(items: Sequence[str], option: str) -> dict[str, Any]:
    """Parse repeated ``KEY=VALUE`` options; values are JSON when they parse, else strings.

    Raises:
        click.BadParameter: An item without ``=``, with a key that is not an identifier, or with a key an
            earlier item gave (``--opt dampening=0.1 --opt dampening=0.2`` kept the last without a word).

    """
    out: dict[str, Any] = {}
    given: dict[str, str] = {}
    for item in items:
        typed, sep, raw = str(item).partition("=")
        key = typed.strip()
        if not sep or not key.isidentifier():
            raise click.BadParameter(f"expected KEY=VALUE, but got {item!r}", param_hint=option)
        if key in given:
            raise click.BadParameter(
                f"{key} is given twice ({given[key]!r} and {str(item)!r}); give each setting once", param_hint=option
            )
        given[key] = str(item)
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError as exc:
            if raw.strip()[:1] in ("[", "{", '"'):
                raise click.BadParameter(
                    f"the value of {item!r} is not valid JSON ({exc.msg} at column {exc.colno}); write a JSON "
                    "value (a list like [0.9,0.999], an object, a number or a quoted string)",
                    param_hint=option,
                ) from None
            out[key] = raw
    return out


def command_line_wins(opt_settings: Sequence[str], dedicated: Mapping[str, Any]) -> tuple[list[str], set[str]]:
    """Settle a setting given both by ``--opt KEY=...`` and by its own option, one of them from a ``--config`` file.

    The command line wins, as it does for every option: the config file's one is dropped. Both typed on the
    command line (or both in the file) are left for :func:`optimizer_settings` to refuse.

    Args:
        opt_settings: The ``--opt`` items.
        dedicated: The own options' values by setting name (``momentum``, ``betas``, ``eps``, ``weight_decay``),
            ``None`` where not given.

    Returns:
        The ``--opt`` items to keep, and the setting names whose own option is to be dropped.

    """
    from click.core import ParameterSource

    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return list(opt_settings), set()

    def from_file(param: str) -> bool:
        return ctx.get_parameter_source(param) is ParameterSource.DEFAULT_MAP

    keep: list[str] = []
    dropped: set[str] = set()
    for item in opt_settings:
        key = str(item).partition("=")[0].strip()
        if dedicated.get(key) is None or from_file("opt_settings") == from_file(key):
            keep.append(item)
        elif from_file("opt_settings"):
            continue  # the file's --opt KEY= gives way to the typed --KEY
        else:
            keep.append(item)
            dropped.add(key)
    return keep, dropped


def optimizer_settings(
    *,
    momentum: float | None,
    betas: str | None,
    eps: float | None,
    opt_settings: Sequence[str],
    optimizer: str | None = None,
    weight_decays: Sequence[float] | None = None,
    device: str | None = None,
) -> Mapping[str, Any]:
    """The optimizer settings of ``--momentum``, ``--betas``, ``--eps`` and ``--opt KEY=VALUE``.

    With ``optimizer``, the settings (and each of ``weight_decays``) are checked by building that
    optimizer once on a tiny stand-in model on ``device``, so a value the optimizer refuses
    (``--opt momentum=abc``, ``--eps`` for SGD, ``--opt betas=[2,0.9]``) is a usage error
    naming its option before anything is loaded, not a failed run after it.

    Raises:
        click.BadParameter: ``--betas`` is not two numbers in ``[0, 1)``, an ``--opt`` item is
            malformed, or the optimizer refuses a setting.

    """
    settings: dict[str, Any] = {}
    origins: dict[str, str] = {}
    if momentum is not None:
        settings["momentum"], origins["momentum"] = momentum, "--momentum"
    if betas is not None:
        try:
            pair = tuple(float(b) for b in str(betas).split(","))
        except ValueError:
            raise click.BadParameter(f"{betas!r} is not two numbers like 0.9,0.999", param_hint="--betas") from None
        if len(pair) != 2:
            raise click.BadParameter(f"expected two numbers like 0.9,0.999, but got {betas!r}", param_hint="--betas")
        if not all(0 <= b < 1 for b in pair):  # nan fails too
            raise click.BadParameter(
                f"expected each beta in [0, 1), but got {betas!r}; the usual values are 0.9,0.999", param_hint="--betas"
            )
        settings["betas"], origins["betas"] = pair, "--betas"
    if eps is not None:
        settings["eps"], origins["eps"] = eps, "--eps"
    opts = key_values(opt_settings, "--opt")
    # Both given, --opt won over --momentum/--betas/--eps and lost to --weight-decay, and the summary listed both.
    # (One of them from a --config file gave way to the other before: command_line_wins.)
    twice = [(key, origins[key], settings[key]) for key in opts if key in origins]
    if "weight_decay" in opts and weight_decays:
        twice.append(("weight_decay", "--weight-decay", ",".join(f"{wd:g}" for wd in weight_decays)))
    if twice:
        key, origin, value = twice[0]
        shown = ",".join(f"{v:g}" for v in value) if isinstance(value, tuple) else value
        raise click.BadParameter(
            f"--opt {key}={json.dumps(opts[key])} and {origin} {shown} both set {key}; give it once, with {origin}",
            param_hint=["--opt", origin],
        )
    settings.update(opts)
    origins.update(dict.fromkeys(opts, "--opt"))
    if "lr" in settings:
        raise click.BadParameter(
            f"--opt lr={settings['lr']!r}: the LR is not an optimizer setting here; the range test sweeps it from "
            "--min-lr to --max-lr (and fit trains with the LR it finds). Drop --opt lr.",
            param_hint="--opt",
        )
    maximize = settings.get("maximize")
    if maximize and not isinstance(maximize, str):
        # The range test reads a rising loss as divergence: the curve would read backwards (check_minimizes).
        # Any true value, as torch's optimizers read it: maximize=1 passed an optimizer whose maximize has no
        # bool default to check it by (a user's **kwargs class) and failed in the engine (exit 1). A string is
        # check_flag's (maximize=False is the string 'False': write the JSON false).
        shown = json.dumps(maximize)
        truthy = "" if maximize is True else f" ({shown} is true, as torch's optimizers read it)"
        raise click.BadParameter(
            f"--opt maximize={shown}: the range test and fit minimize the loss (cross_entropy, mse, the model's "
            f"own), and maximize{truthy} would climb it, so the curve would read backwards. Drop --opt maximize.",
            param_hint="--opt",
        )
    if optimizer is not None:
        _check_optimizer_settings(optimizer, settings, origins, weight_decays, device)
    return MappingProxyType(settings)


def _check_optimizer_settings(
    optimizer: str,
    settings: Mapping[str, Any],
    origins: Mapping[str, str],
    weight_decays: Sequence[float] | None,
    device: str | None,
) -> None:
    """Build ``optimizer`` with ``settings`` on a stand-in model; a refusal is a usage error naming its option.

    See :func:`lrfinder.optimizers.stand_in_refusal`: only a refusal the settings cause counts, and
    ``lr_factors`` is left out.
    """
    import torch

    from ..optimizers import stand_in_refusal

    if device in (None, "auto"):
        device = "cuda" if torch.cuda.is_available() else "cpu"
    checked = {k: v for k, v in settings.items() if k != "lr_factors"}
    for wd in weight_decays or (None,):
        extra = checked if wd is None else {**checked, "weight_decay": wd}
        exc = stand_in_refusal(optimizer, extra, device=device)
        if exc is None:
            continue
        culprits = [k for k in extra if stand_in_refusal(optimizer, {k: extra[k]}, device=device) is not None]
        culprits = culprits or list(extra)
        hints = list(dict.fromkeys(origins.get(k, "--weight-decay") for k in culprits))
        said = as_options(one_line(exc))
        lists = [json_list_hint(k, extra[k]) for k in culprits if origins.get(k) == "--opt"]
        if any(lists):
            said = " ".join([said.rstrip("."), *filter(None, lists)])
        raise click.BadParameter(f"--optimizer {optimizer}: {said}", param_hint=hints[0] if len(hints) == 1 else hints)


def json_list_hint(key: str, value: Any, option: str = "--opt") -> str:
    """How to write an ``--opt`` list: ``--opt betas=0.9,0.99`` was kept as the text ``'0.9,0.99'``.

    ``--opt`` values are JSON, and ``0.9,0.99`` is not, so the optimizer was handed a string and refused it
    ("Expected betas to be a pair of numbers") without saying how to write the pair; the same for
    ``--scheduler-opt milestones=30,60`` (``option``). ``""`` for other values.
    """
    if not isinstance(value, str) or "," not in value:
        return ""
    parts = [part.strip() for part in value.split(",")]
    try:
        [float(part) for part in parts]
    except ValueError:
        return ""
    alternative = f", or --betas {value}" if key == "betas" and option == "--opt" else ""
    return (
        f"({option} values are read as JSON, and {value} is not, so it was passed as text): write a list, "
        f"{option} '{key}=[{', '.join(parts)}]'{alternative}."
    )


# --------------------------------------------------------------------------------------------
# Option groups
# --------------------------------------------------------------------------------------------


def _group(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def apply(func: Any) -> Any:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


common_options = _group(
    click.option("--quiet", "-q", is_flag=True, help="No progress bars or notices on stderr; only results and errors."),
    click.option("--debug", is_flag=True, help="Show full tracebacks and debug logging."),
)

#: The ``--progress`` modes.
PROGRESS_MODES = ("auto", "bar", "lines", "none")

progress_option = click.option(
    "--progress",
    type=NameChoice(PROGRESS_MODES),
    default="auto",
    show_default=True,
    help="Progress on stderr: a bar on a terminal (auto), always a bar, one line per step (lines, for logs and "
    "scripts), or none.",
)

model_options = _group(
    click.argument("model", type=ModelPath(exists=True, dir_okay=False)),
    click.option(
        "--model-class",
        metavar="MODULE:CLASS",
        callback=_check_model_class,
        help="Class or factory for a state_dict or a .ckpt file.",
    ),
    click.option(
        "--model-args",
        metavar="JSON",
        callback=_check_model_args,
        help="Arguments of --model-class: a JSON list or object, e.g. '{\"hidden\": 64}'.",
    ),
    click.option(
        "--unsafe-pickle",
        is_flag=True,
        help="Allow a whole pickled module (torch.save(model)). Unpickling runs code from the file.",
    ),
)

data_options = _group(
    click.option(
        "--data",
        "data",
        type=DataSpec(),
        required=True,
        help=".npz or .pt file of the inputs and targets (numpy.savez(path, x=x, y=y); torch.save of a dict of "
        "tensors or an (x, y) pair), .csv or .tsv file (with --target), or package.module:function returning a "
        "Dataset, a DataLoader or a DataModule.",
    ),
    click.option(
        "--x-key",
        callback=_check_name,
        help="Input array name in .npz/.pt data, or in a dict a data function returns (default: the first of x, X, "
        "inputs, features).",
    ),
    click.option(
        "--y-key",
        callback=_check_name,
        help="Target array name in .npz/.pt data, or in a dict a data function returns (default: the first of y, Y, "
        "targets, labels); the inputs' name makes them the targets too (an autoencoder).",
    ),
    click.option(
        "--target", callback=_check_name, help="Label column of a .csv or .tsv file (the other columns are the inputs)."
    ),
)


def optimizer_option(*, help: str) -> Callable[[Any], Any]:
    """The ``--optimizer`` option (checked against the registry when given)."""
    return click.option("--optimizer", callback=_check_optimizer, default="momentum", show_default=True, help=help)


def scheduler_option(*, help: str, default: str | None = None) -> Callable[[Any], Any]:
    """The ``--scheduler`` option (a registry name)."""
    return click.option(
        "--scheduler", callback=_check_scheduler, default=default, show_default=bool(default), help=help
    )


#: ``--curve`` (``lrfind run`` and ``fit``): the loss the test records, range_test's ``curve``.
curve_option = click.option(
    "--curve",
    type=NameChoice(CURVES),
    default="train",
    show_default=True,
    help="The loss the test records at every step: the training batch's, or the mean loss over --val-data after "
    "the step (torch-lr-finder's val_loader; slower: one pass over --val-data a step).",
)


#: ``--precision`` (``lrfind run`` and ``fit``): the autocast of the range test (and of ``fit``'s training).
precision_option = click.option(
    "--precision",
    type=NameChoice(PRECISIONS, PRECISION_ALIASES),
    default="32",
    show_default=True,
    help="Autocast of the test (and of fit's training): bfloat16 (CPU or an Ampere+ GPU), or float16 with a "
    "GradScaler (GPU; run's test also on the CPU with torch >= 2.3).",
)


#: ``--gradient-clip-val``/``--gradient-clip-algorithm`` (``lrfind run`` and ``fit``): Lightning's names.
clip_options = _group(
    click.option(
        "--gradient-clip-val",
        type=PositiveFloat(),
        default=None,
        help="Clip the gradients before every optimizer step (the test, the --refine trials and fit's "
        "training), as Lightning's Trainer(gradient_clip_val=...). Clipping moves the divergence: train "
        "with the clipping the test ran with.  [default: no clipping]",
    ),
    click.option(
        "--gradient-clip-algorithm",
        type=NameChoice(GRADIENT_CLIP_ALGORITHMS, GRADIENT_CLIP_ALIASES),
        default="norm",
        show_default=True,
        help="With --gradient-clip-val: clip the total L2 norm, or each gradient element.",
    ),
)


sweep_options = _group(
    click.option(
        "--min-lr",
        type=PositiveFloat(),
        default=1e-7,
        show_default=True,
        help="First LR of the sweep.",
    ),
    click.option(
        "--max-lr",
        type=PositiveFloat(),
        default=10.0,
        show_default=True,
        help="Last LR of the sweep.",
    ),
    click.option(
        "--num-steps",
        type=StepCount(10, MAX_STEPS),
        default=100,
        show_default=True,
        help=f"Optimizer steps of the sweep (10 to {MAX_STEPS:,}).",
    ),
    click.option(
        "--mode",
        type=NameChoice(SWEEP_MODES, SWEEP_MODE_ALIASES),
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
        type=NameChoice(RULES, RULE_ALIASES),
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
        type=NameChoice(SCALING_RULES),
        default="auto",
        show_default=True,
        help=(
            "Batch-size scaling rule. 'auto' uses the critical batch lrfind always measures ('noise') when the "
            "measurement is conclusive, else 'linear'/'sqrt' by optimizer; Python's range_test measures it only "
            "with noise_scale=True, else its 'auto' is 'linear'/'sqrt'. The summary names the rule that ran."
        ),
    ),
    optimizer_option(help="Optimizer name (see 'lrfind list'), torch.optim class name or module:Class."),
    click.option(
        "--weight-decay",
        type=FloatList(),
        help=(
            "Weight decay; a list (0,1e-4,1e-3) runs Smith's weight-decay test, one range test per value from "
            "the same state, and recommends the lowest minimum (ties: widest stable LR range, then larger value)."
        ),
    ),
    click.option("--momentum", type=NonNegativeFloat(), help="Momentum of SGD-family optimizers."),
    click.option("--betas", metavar="B1,B2", help="Betas of Adam-family optimizers, e.g. 0.9,0.999."),
    click.option("--eps", type=NonNegativeFloat(), help="Epsilon of adaptive optimizers."),
    click.option(
        "--opt",
        "opt_settings",
        multiple=True,
        metavar="KEY=VALUE",
        help="Any other optimizer setting (value as JSON), repeatable.",
    ),
    click.option(
        "--loss",
        type=NameChoice(LOSSES),
        help="Loss (default: cross_entropy for integer targets, a CSV --target column of whole numbers included; "
        "mse otherwise).",
    ),
    click.option(
        "--device",
        default="auto",
        show_default=True,
        callback=_check_device,
        help="cpu, cuda, cuda:1, mps or auto (cuda when available, else cpu).",
    ),
    click.option(
        "--seed",
        # torch.manual_seed's range: a larger seed would only fail after the model is loaded.
        type=Seed(),
        default=0,
        show_default=True,
        help="Seed of the model RNG and the data order.",
    ),
)

schedule_options = _group(
    click.option(
        "--scheduler-opt", multiple=True, metavar="KEY=VALUE", help="A scheduler setting (value as JSON), repeatable."
    ),
    click.option(
        "--warmup-steps",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Linear warm-up steps before the schedule.",
    ),
)


refine_options = _group(
    click.option(
        "--refine",
        is_flag=True,
        help=(
            "Refine the curve's reading: up to two extra sweeps, then short trial runs of the planned schedule at "
            "LRs around it, judged on --val-data (else on held-out training batches); the summary lists the trials."
        ),
    ),
    click.option(
        "--training-steps",
        type=click.IntRange(min=10),
        help=(
            "With --refine: optimizer steps of the planned training (default: --epochs x optimizer steps per epoch); "
            "run plans --scheduler's schedule over it too, fit sizes only the trials from it."
        ),
    ),
    click.option(
        "--schedule",
        "refine_schedule",
        callback=_check_scheduler,
        help="With --refine: the schedule the trials run, compressed (default: --scheduler, else constant).",
    ),
)


def report_option(func: Any) -> Any:
    """The ``--report PATH`` option (its format follows the extension)."""
    return click.option(
        "--report",
        metavar="PATH",
        default=DEFAULT_REPORT,
        show_default=True,
        callback=_check_report_path,
        help=f"Report image ({', '.join(REPORT_FORMATS)}).",
    )(func)


output_options = _group(
    report_option,
    click.option("--no-report", is_flag=True, help="Do not write the report."),
    click.option(
        "--json",
        "json_path",
        metavar="PATH|-",
        callback=check_text_output,
        help="Write the result as JSON ('-': stdout; the summary then goes to stderr).",
    ),
    click.option(
        "--csv",
        "csv_path",
        metavar="PATH|-",
        callback=check_text_output,
        help="Write the curve (lr, loss, smoothed, slope) as CSV ('-': stdout; the summary then goes to stderr).",
    ),
)
