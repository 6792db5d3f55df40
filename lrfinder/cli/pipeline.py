"""The one pipeline behind ``run``, ``fit`` and ``demo``: test, scale, summarise, train, write.

:func:`load_inputs` reads the model, data and loss named by an :class:`~.options.Options`;
:func:`execute` runs the range test (or Smith's weight-decay test), scales the suggestion,
prints the summary, trains when asked (:func:`lrfinder.train`) and writes the outputs. The
library does the work; this module only decides what to print and where.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import traceback
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._wording import plural
from ..exceptions import DataError, InconclusiveCurveError, LRFinderError, ModelError
from .config import CONFIG_META
from .errors import clean_errors, debug_flag, finishing, raise_if_interrupted, raise_if_signalled
from .options import (
    Options,
    check_csv_target,
    command_line_wins,
    json_list_hint,
    key_values,
    one_line,
    optimizer_settings,
    warn_quiet_progress,
    warn_unused_options,
)
from .output import (
    Progress,
    as_options,
    as_schedule_options,
    check_writable,
    echo_summary,
    echo_sweep,
    inconclusive_error,
    quiet_warnings,
    scaled_text,
    setup_logging,
    stage_file,
    stage_outputs,
    summary_rows,
    sweep_json,
    write_error,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ..range_test import RangeTestResult
    from ..refine import Refine
    from ..training import EpochSummary, TrainingResult
    from .loading import LoadedData, LoadedModel

__all__ = [
    "Inputs",
    "check_outputs_not_inputs",
    "check_options",
    "load_inputs",
    "execute",
    "seed_all",
    "options_from_params",
    "run_command",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Inputs:
    """What a command works on, loaded.

    Attributes:
        model: The model, on ``device``.
        lightning: Whether ``model`` is a LightningModule whose ``training_step`` gives the loss.
        data: The training (and validation) data.
        loss_fn: The loss for plain models; ``None`` for a plain model that computes its own loss from dict
            batches (a Hugging Face model given labels) when ``--loss`` is not given.
        device: The resolved device.
        source: Where the model came from, for the summary.
        loaded: The loaded model file (``fit`` saves in its format, or as a Lightning checkpoint at a
            ``.ckpt`` output), ``None`` for the demo.

    """

    model: nn.Module
    lightning: bool
    data: LoadedData
    loss_fn: Callable[..., torch.Tensor] | None
    device: str
    source: str
    loaded: LoadedModel | None = None


def check_outputs_not_inputs(inputs: Sequence[str], outputs: Sequence[str]) -> None:
    """Refuse an output path that is one of the input files (inputs are never modified).

    Raises:
        click.UsageError: An output resolves to an input.

    """
    resolved = {Path(p).resolve() for p in inputs if Path(p).exists()}
    for out in outputs:
        if out and out != "-" and Path(out).resolve() in resolved:
            raise click.UsageError(f"Refusing to write over the input file {out}; choose another output path.")


def check_distinct_outputs(paths: Mapping[str, str | None]) -> None:
    """Refuse two outputs on one file: the one written last would silently replace the other.

    Raises:
        click.UsageError: Two options name the same file (stdout, ``-``, may be shared by neither).

    """
    seen: dict[Path, str] = {}
    for option, path in paths.items():
        if not path or path == "-":
            continue
        key = Path(path).resolve()
        if key in seen:
            raise click.UsageError(
                f"{seen[key]} and {option} both write {path}; give each output its own file name."
            )
        seen[key] = option


def check_options(options: Options) -> None:
    """Usage checks that need more than one option.

    Raises:
        click.UsageError: An output over an input, an output that cannot be written, two
            outputs on one file, a CSV without ``--target``, both JSON and CSV on stdout, ``max_lr <= min_lr``, refine
            settings without ``--refine``, ``--refine`` with a weight-decay list, or ``fit --precision 16-mixed``
            on the CPU.
        click.ClickException: A report asked for while matplotlib refuses the ``MPLBACKEND`` environment
            variable (exit 1).

    """
    check_outputs_not_inputs(options.inputs, options.outputs)
    check_csv_target(options)
    if options.curve == "val" and options.val_data is None:
        raise click.UsageError("--curve val records the loss over --val-data after every step: give --val-data")
    outputs = {
        "--report": options.report, "--json": options.json_path, "--csv": options.csv_path, "--output": options.output
    }  # fmt: skip
    try:
        check_writable(outputs)
    except click.BadParameter as exc:
        if exc.param_hint == "--report":
            # The report is written by default (lrfind-report.png, in the current directory): a run from a
            # read-only directory was refused without a word of how to do without it. A new error, since
            # click 8.5 types ClickException.message as Final (mypy refuses `exc.message += ...`).
            raise click.BadParameter(
                f"{exc.message} (or --no-report for none)", ctx=exc.ctx, param=exc.param, param_hint=exc.param_hint
            ) from None
        raise
    if options.report:
        from .._matplotlib import check_backend

        try:
            check_backend()  # a bad MPLBACKEND failed the report's import after the range test
        except ValueError as exc:
            raise click.ClickException(f"{str(exc).removesuffix('.')}, or pass --no-report for none.") from None
    if options.json_path == "-" and options.csv_path == "-":
        raise click.UsageError("--json - and --csv - cannot both write to stdout.")
    check_distinct_outputs(outputs)
    if options.refine and options.weight_decays is not None and len(options.weight_decays) > 1:
        raise click.UsageError("--refine refines one range test; give one --weight-decay value, not a list.")
    if options.train and options.precision == "16-mixed" and resolve_device(options.device) == "cpu":
        # Lightning swaps it for bf16-mixed on the CPU, with a warning: the range test would run in float16
        # and training in bfloat16 (and a TorchScript model fails on the mix).
        raise click.BadParameter(
            "fit trains float16 with a GradScaler only on a GPU, and this run is on the CPU (Lightning would "
            "train in bfloat16 instead, unlike the range test). Use --precision bf16-mixed on the CPU, or a "
            "CUDA --device.",
            param_hint="--precision",
        )
    if not options.max_lr > options.min_lr:
        raise click.BadParameter(
            f"expected --max-lr > --min-lr, but got --min-lr {options.min_lr:g} --max-lr {options.max_lr:g}",
            param_hint="--max-lr",
        )


def options_from_params(params: Mapping[str, Any], **fixed: Any) -> Options:
    """The :class:`Options` of ``run`` or ``fit`` from the command's click parameters.

    Every parameter of the same name as an :class:`Options` field is taken as it is; the others
    are turned into fields here, the same way for both commands: ``--weight-decay`` into
    ``weight_decays``, ``--momentum``/``--betas``/``--eps``/``--opt`` into ``optimizer_settings``
    (checked against ``--optimizer`` on a stand-in model, so a refused setting is a usage error
    before anything is loaded: :func:`~.options.optimizer_settings`), ``--scheduler-opt`` into
    ``scheduler_settings``, and ``--no-report`` into ``report=None``.

    Args:
        params: The command's parameters by name (click's ``ctx.params``), ``debug`` resolved.
        **fixed: Fields the command itself sets (``fit``: ``train=True``, ``strict=True``).

    Raises:
        click.BadParameter: An optimizer or scheduler setting is malformed or refused.

    """
    rest = dict(params)
    weight_decays = rest.pop("weight_decay", None)
    if weight_decays:
        weight_decays = tuple(dict.fromkeys(weight_decays))  # a repeat runs once (said by unused_options)
    dedicated = {key: rest.pop(key, None) for key in ("momentum", "betas", "eps")}
    given = {**dedicated, "weight_decay": weight_decays or None}
    opt_items, dropped = command_line_wins(rest.pop("opt_settings", ()), given)
    dedicated = {key: None if key in dropped else value for key, value in dedicated.items()}
    if "weight_decay" in dropped:
        weight_decays = None
    settings = optimizer_settings(
        **dedicated,
        opt_settings=opt_items,
        optimizer=rest["optimizer"],
        weight_decays=weight_decays,
        device=rest["device"],
    )
    scheduler_settings = key_values(rest.pop("scheduler_opt", ()), "--scheduler-opt")
    # Keys the command sets itself: passed twice, they were Python's "got multiple values for keyword argument".
    own = {
        "total_steps": "the schedule spans the training: --epochs times the steps per epoch",
        "warmup_steps": "use --warmup-steps",
        "lr": "the schedule starts from the LR the range test finds",
        "suggestion": "the suggestion is the range test's",
        "metrics": "plateau reads the validation loss",
    }
    from ..schedulers import own_setting

    # torch's T_max for the length was "does not take the setting T_max; it accepts: eta_min"; total_iters'
    # "Did you mean 'total_steps'?" read "Did you mean 'the training's steps (--epochs)'?".
    found = own_setting(scheduler_settings, own)
    if found is not None:
        key, meant, why = found
        also = f" (--scheduler-opt {why})" if why else ""
        raise click.BadParameter(
            f"--scheduler-opt {key}=...: lrfind sets {meant} itself{also}; {own[meant]}.", param_hint="--scheduler-opt"
        )
    report = rest.pop("report", None)
    if rest.pop("no_report", False):
        report = None
    return Options(
        **rest,
        **fixed,
        weight_decays=weight_decays,
        optimizer_settings=settings,
        scheduler_settings=scheduler_settings,
        report=report,
    )


def run_command(ctx: click.Context, **fixed: Any) -> None:
    """The body of ``lrfind run`` and ``fit``: options, usage checks, then load, test and write.

    Args:
        ctx: The command's click context; its parameters become the :class:`Options`
            (:func:`options_from_params`).
        **fixed: Fields the command itself sets (``fit``: ``train=True``, ``strict=True``).

    """
    debug = debug_flag(ctx, ctx.params["debug"])
    setup_logging(ctx.params["quiet"], debug)
    params = {**ctx.params, "debug": debug, "config": ctx.meta.get(CONFIG_META)}
    if not params.get("refine") and not fixed.get("refine"):
        # --training-steps and --schedule only size and shape --refine's trials: without it they have no effect.
        # Chosen for this command they get an "is ignored" warning (unused_options), as --val-data does; a config
        # file's top-level one may be meant for another command's --refine (a [fit] table's), passed over in silence.
        for name in ("training_steps", "refine_schedule"):
            if name in params:
                params[name] = None
    try:
        options = options_from_params(params, **fixed)
        check_options(options)
        warn_quiet_progress(ctx, options.quiet, options.progress)
        warn_unused_options(ctx, options)
        with clean_errors(debug):
            inputs = load_inputs(options)
            if inputs.loaded is not None:
                from .._lightning import defines_validation_step

                validates = not (options.train and inputs.loaded.lightning) or defines_validation_step(
                    inputs.loaded.model
                )
                warn_unused_options(
                    ctx, options, inputs.loaded.format, validates=validates, keyed=inputs.data.keyed
                )
                if inputs.loaded.lightning and not options.quiet:
                    warn_module_optimizer(ctx, options, inputs.loaded.model)
                if inputs.loaded.saved_dtypes and not options.quiet:
                    note_saved_dtypes(ctx, options, inputs.loaded)
            from ..stepping import SparseGradientClipError

            try:
                execute(options, inputs)
            except SparseGradientClipError as exc:
                # The option's fault, not the model's (exit 2): found at the test's first step, the model restored.
                raise click.BadParameter(as_options(one_line(exc)), param_hint="--gradient-clip-val") from None
            except Exception as exc:
                from .loading import dataset_failure_message

                failed = dataset_failure_message(exc, inputs.data, str(options.data), options.val_data)
                if failed is None:
                    raise
                raise DataError(failed) from exc
    except click.BadParameter as exc:
        _name_config_source(ctx, exc)
        raise


#: Momentum SGD and Nesterov take steps of one size at one LR: no warning between them.
HEAVY_BALL = frozenset({"momentum", "nesterov"})


def module_optimizer(model: nn.Module) -> torch.optim.Optimizer | None:
    """The first optimizer a LightningModule's ``configure_optimizers`` builds, called once outside a Trainer.

    Any form Lightning takes (an optimizer, a list or tuple of them, ``([optimizers], [schedulers])``,
    a dict or a list of dicts with ``"optimizer"``); the module's weights are untouched.

    Returns:
        The optimizer, or ``None`` where it cannot be told: ``configure_optimizers`` needs a Trainer
        (``self.trainer.estimated_stepping_batches``), raises, or returns no optimizer.

    """
    import torch

    configure = getattr(model, "configure_optimizers", None)
    if not callable(configure):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            built = configure()
    except Exception:  # noqa: BLE001 - the module's own code, outside the Trainer it may need: no name then.
        return None
    while not isinstance(built, torch.optim.Optimizer):
        if isinstance(built, Mapping):
            built = built.get("optimizer")
        elif isinstance(built, (list, tuple)) and built:
            built = built[0]
        else:
            return None
    return built


def module_optimizer_name(model: nn.Module) -> str | None:
    """The ``--optimizer`` name of the optimizer a LightningModule's ``configure_optimizers`` builds.

    The optimizer is :func:`module_optimizer`'s (thrown away after), named as ``--optimizer``
    takes it: a registry name where its class and settings are one (the first whose ``fixed``
    settings it has: SGD by its momentum and nesterov, Adam by amsgrad), else the torch.optim
    class name, else ``module:Class``.

    Returns:
        The name, or ``None`` where :func:`module_optimizer` cannot tell the optimizer.

    """
    built = module_optimizer(model)
    return None if built is None else _optimizer_option_name(built)


def _optimizer_option_name(built: torch.optim.Optimizer) -> str:
    """``built`` named as ``--optimizer`` takes it (see :func:`module_optimizer_name`)."""
    import torch

    cls = type(built)
    from ..optimizers import OPTIMIZERS

    for name, spec in OPTIMIZERS.items():
        # The registry's own definition of each name: SGD's momentum and nesterov, Adam's amsgrad.
        if spec.cls is cls and all(built.defaults.get(key) == value for key, value in spec.fixed.items()):
            return name
    torch_name: str = cls.__name__  # not cls.__name__ below: `getattr(...) is cls` makes cls Any
    if getattr(torch.optim, torch_name, None) is cls:
        return torch_name
    return f"{cls.__module__}:{cls.__qualname__}"


def _sweep_refusal(built: torch.optim.Optimizer, optimizer: str) -> str | None:
    """Why the range test cannot sweep ``built`` (Rprop, LBFGS), ending with what the found LR is for; else None."""
    from ..stepping import check_lr_sets_each_step, check_steps_without_closure

    fix = f"The LR found is {optimizer}'s, for training with --optimizer {optimizer}"
    try:
        check_steps_without_closure(built, fix=fix)
        check_lr_sets_each_step(built, fix=fix)
    except ValueError as exc:
        return str(exc)
    return None


def warn_module_optimizer(ctx: click.Context, options: Options, model: nn.Module) -> None:
    """Warn on stderr of what a LightningModule's own optimizer tells of the test, building it once.

    Another optimizer than the default ``--optimizer`` (:func:`warn_default_optimizer`), param groups at different
    LRs (:func:`warn_group_ratios`). Its ``configure_optimizers`` is called once for both
    (:func:`module_optimizer`): it ran twice, once per warning, which a module with side effects there (a
    counter, a log line) saw; and not at all where neither can be said (``--optimizer`` given and ``--opt
    lr_factors`` set).
    """
    from click.core import ParameterSource

    default = ctx.get_parameter_source("optimizer") == ParameterSource.DEFAULT
    groups = "lr_factors" not in options.optimizer_settings
    built = module_optimizer(model) if default or groups else None
    if built is None:
        return
    if default:
        warn_default_optimizer(ctx, options.optimizer, model, built)
    if groups:
        warn_group_ratios(ctx, model, built)


def warn_default_optimizer(ctx: click.Context, optimizer: str, model: nn.Module, built: torch.optim.Optimizer) -> None:
    """Warn on stderr when the test runs the default ``--optimizer`` and ``built``, the module's, is another.

    A Lightning checkpoint's module is tested (and ``fit`` trains it) with ``--optimizer``, not
    with its ``configure_optimizers``: an LR found with momentum SGD, the default, is often 10-100x
    off for the Adam the module trains with. Called only when ``--optimizer`` was left at its
    default (not typed, not set by environment or a config file: :func:`warn_module_optimizer`); said
    where the module's optimizer differs; not between momentum SGD and Nesterov,
    whose steps at one LR are of one size. A module optimizer the range test cannot sweep (Rprop,
    LBFGS) is not advised as ``--optimizer``, which would be refused: the warning says why instead.
    """
    own = _optimizer_option_name(built)
    if own.lower() == optimizer.lower() or {own.lower(), optimizer.lower()} == HEAVY_BALL:
        return
    head = (
        f"warning: the test uses --optimizer {optimizer} (the default), not the {own} that "
        f"{type(model).__name__}.configure_optimizers builds"
    )
    refusal = _sweep_refusal(built, optimizer)
    if refusal is not None:
        click.echo(f"{head}, which the range test cannot sweep. {refusal}", err=True)
        return
    from ..scaling import optimizer_family

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an optimizer the registry does not know is said of elsewhere
        families = optimizer_family(own), optimizer_family(optimizer)
    if families == ("adaptive", "sgd"):
        why = " (SGD's and Adam-type optimizers' best LRs are often 10-100x apart)"
    elif {own.lower(), optimizer.lower()} == {"sgd", "momentum"}:
        why = " (at one LR, momentum 0.9 takes steps about 10x plain SGD's)"
    else:
        why = ""
    doing = "test and train" if ctx.info_name == "fit" else "test"
    click.echo(
        f"{head}: an LR found for one optimizer rarely fits another{why}. Pass --optimizer {own} to {doing} with the "
        "module's optimizer.",
        err=True,
    )


def note_saved_dtypes(ctx: click.Context, options: Options, loaded: LoadedModel) -> None:
    """Say on stderr that MODEL's file holds weights in another float dtype than ``--model-class`` builds.

    The weights are loaded into the model's own (float16 ones into float32 weights), so the test runs, and ``fit``
    trains, in the model's dtype; ``fit`` saves them in the file's again. Nothing said so, and ``fit`` saved float16
    weights as float32. Weights wider than the model's (float64 into float32) are saved in their dtype with the
    model's precision: the note says so, and how to run in the file's dtype.
    """
    saved = _dtype_names(loaded.saved_dtypes.values())
    held = loaded.model.state_dict()
    built = _dtype_names(held[key].dtype for key in loaded.saved_dtypes)
    count = plural(len(loaded.saved_dtypes), "tensor")
    doing = "the test and training run" if ctx.info_name == "fit" else "the test runs"
    saving = f"; {options.output} is saved in {saved} again, as MODEL" if ctx.info_name == "fit" else ""
    advice = ""
    # float64 weights loaded into float32 ones: the file keeps its dtype (a float64 model loads it as it loaded
    # MODEL, load_state_dict(..., assign=True) too), but not the precision the file suggests; the class's own dtype
    # is the way to that, so it is named.
    wider = [dtype for key, dtype in loaded.saved_dtypes.items() if dtype.itemsize > held[key].dtype.itemsize]
    if wider:
        wide = str(wider[0]).removeprefix("torch.")
        saving += f", its values of {built} precision" if saving else ""
        run_in = "test and train" if ctx.info_name == "fit" else "test"
        advice = (
            f" To {run_in} in {wide}, have {options.model_class} build {wide} weights (self.to(torch.{wide}) at the "
            f"end of its __init__) and store the data's inputs as {wide}."
        )
    click.echo(
        f"note: {loaded.path.name} holds {count} in {saved} that {options.model_class} builds in {built}: they are "
        f"loaded into its {built} ones, so {doing} in {built}{saving}.{advice}",
        err=True,
    )


def _dtype_names(dtypes: Iterable[torch.dtype]) -> str:
    """``float16`` or ``float16 and bfloat16``: the distinct dtypes, in their first order, without ``torch.``."""
    return " and ".join(dict.fromkeys(str(dtype).removeprefix("torch.") for dtype in dtypes))


def _group_prefixes(model: nn.Module, built: torch.optim.Optimizer) -> dict[str, float] | None:
    """``lr_factors`` that give ``model`` the LR ratios of ``built``'s param groups, keyed by module name.

    Each group below the largest LR is named by the module all its parameters sit under (the
    longest common prefix of their names); the largest LR is factor 1.

    Returns:
        ``{module name: LR / largest LR}``, or ``None`` where a group cannot be named so: a
        parameter that is not the model's, groups under no common module, or a module that holds
        parameters of another group too.

    """
    names = {id(p): name for name, p in model.named_parameters()}
    groups = [g for g in built.param_groups if g["params"]]
    top = max(float(g["lr"]) for g in groups)
    factors: dict[str, float] = {}
    for group in groups:
        if float(group["lr"]) == top:
            continue
        paths = [names.get(id(p)) for p in group["params"]]
        if any(path is None for path in paths):
            return None
        # commonprefix compares any sequences item by item: over the split names, whole module names.
        prefix = ".".join(os.path.commonprefix([str(path).split(".")[:-1] for path in paths]))
        inside = {id(p) for name, p in model.named_parameters() if name.startswith(prefix + ".")}
        if not prefix or inside != {id(p) for p in group["params"]}:
            return None
        factors[prefix] = float(group["lr"]) / top
    return factors


def warn_group_ratios(ctx: click.Context, model: nn.Module, built: torch.optim.Optimizer) -> None:
    """Warn on stderr when ``built``, a LightningModule's optimizer, has param groups at different LRs.

    The test (and ``fit``'s training) use ``--optimizer`` over every parameter at one LR, so a
    module whose ``configure_optimizers`` puts a backbone at 0.1x of its head was swept and
    trained without that ratio, and the LR found (saved as its ``hparams.lr``) was not the one its
    groups get when it is rebuilt. The warning gives the ratios and the ``--opt lr_factors=...``
    that keeps them, where each group is one module of the model (else the Python API, which
    sweeps the module's own optimizer). Not said with ``--opt lr_factors``, nor when
    ``configure_optimizers`` cannot run outside a Trainer.
    """
    import json

    groups = [g for g in built.param_groups if g["params"]]
    if len({float(g["lr"]) for g in groups}) < 2:
        return
    top = max(float(g["lr"]) for g in groups)
    ratios = ", ".join(f"{float(g['lr']) / top:.3g}" for g in groups)
    doing = "test and training run" if ctx.info_name == "fit" else "test runs"
    head = (
        f"warning: {type(model).__name__}.configure_optimizers builds {len(groups)} param groups at different LRs "
        f"({ratios} of the largest); the {doing} every parameter at one LR, so the LR found is not the one its "
        "groups would get."
    )
    factors = _group_prefixes(model, built)
    if factors is None:
        fix = (
            " To sweep the groups at their ratios, run lrfinder.find_lr(module, ...) or the LRFinder callback, "
            "which use the module's own optimizer."
        )
    else:
        shown = json.dumps({name: float(f"{factor:.6g}") for name, factor in factors.items()})
        fix = f" To keep the ratios, pass --opt 'lr_factors={shown}'."
    click.echo(head + fix, err=True)


def _raised_drawing_data(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a DataLoader drew a batch (a Dataset's example, a collate_fn, a worker)."""
    return any(
        "/torch/utils/data/" in frame.f_code.co_filename.replace("\\", "/")
        for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


def _name_config_source(ctx: click.Context, exc: click.BadParameter) -> None:
    """Add ``(set in FILE)`` to a refused option's name when its value came from the ``--config`` file.

    A value the file set can clash with an option typed on the command line, which wins: a file's
    ``scheduler-opt = {eta_min = 0.001}`` with ``--scheduler step`` was refused as "Invalid value
    for --scheduler-opt", an option the user never typed. Only a plain ``--name`` hint is looked up.
    """
    from click.core import ParameterSource

    path = ctx.meta.get(CONFIG_META)
    hint = exc.param_hint
    if not path or not isinstance(hint, str) or not hint.startswith("--"):
        return
    for param in ctx.command.params:
        if hint in getattr(param, "opts", ()) and param.name is not None:
            if ctx.get_parameter_source(param.name) == ParameterSource.DEFAULT_MAP:
                exc.param_hint = f"{hint} (set in {path})"
            return


def resolve_device(device: str | None) -> str:
    """``auto`` becomes ``cuda`` when available, else ``cpu``."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def seed_all(seed: int) -> None:
    """Seed Python's, numpy's and torch's RNGs."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _data_float_dtype(model: Any) -> torch.dtype:
    """The dtype float64 data is read as: float64 for a model whose weights are float64, else float32.

    numpy saves floats as float64 by default, and a float32 model wants float32 inputs; a float64 model
    (``model.double()``) failed on every batch once its float64 data had been read as float32.
    """
    import torch

    weight = next((p for p in model.parameters() if p.is_floating_point()), None)
    return torch.float64 if weight is not None and weight.dtype == torch.float64 else torch.float32


def _check_has_values(loaded: LoadedModel) -> None:
    """Refuse a loaded model whose weights are on the ``meta`` device, naming its file.

    Moving it to the device failed in torch, "Cannot copy out of meta tensor; no data! Please use
    torch.nn.Module.to_empty() ...", which named neither the file nor the way to a model with values.

    Raises:
        ModelError: A parameter or buffer on the ``meta`` device (uninitialized lazy ones train: their first
            batch sets them).

    """
    from ..settings import check_materialized

    try:
        check_materialized(loaded.model, lazy=False)
    except ModelError as exc:
        raise ModelError(f"{loaded.path}: {exc} Then save it again.") from None


def load_inputs(options: Options) -> Inputs:
    """Load the model, the data and the loss of ``run``/``fit``.

    Raises:
        click.UsageError: The model file needs ``--unsafe-pickle`` or ``--model-class``.
        ModelError: The model cannot be loaded.
        DataError: The data cannot be loaded.

    """
    from .loading import load_data, load_model, make_loss

    if options.model is None or options.data is None:
        raise click.UsageError("Expected a MODEL and --data.")
    device = resolve_device(options.device)
    seed_all(options.seed)
    loaded = load_model(
        options.model,
        model_class=options.model_class,
        model_args=options.model_args,
        unsafe_pickle=options.unsafe_pickle,
    )
    _check_has_values(loaded)
    loaded.model.to(device)
    data = load_data(
        options.data,
        batch_size=options.batch_size,
        x_key=options.x_key,
        y_key=options.y_key,
        target=options.target,
        val_spec=options.val_data,
        seed=options.seed,
        float_dtype=_data_float_dtype(loaded.model),
    )
    loss_fn = make_loss(options.loss, data.target_kind)
    source = f"{loaded.path.name} ({loaded.format})"
    return Inputs(loaded.model, loaded.lightning, data, loss_fn, device, source, loaded)


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


def _clip_algorithm(options: Options) -> str:
    """``--gradient-clip-algorithm``, or ``"norm"`` without ``--gradient-clip-val``.

    Without a threshold it clips nothing, which a note on the option says
    (:func:`~lrfinder.cli.options.unused_options`); passed on, the engine said it again as a warning.
    """
    return options.gradient_clip_algorithm if options.gradient_clip_val is not None else "norm"


def _optimizer_factory(options: Options) -> Callable[[Any, float, float | None], Any]:
    """Build ``--optimizer`` with its settings over a model; one the model refuses for the options is a usage error.

    Raises:
        click.BadParameter: The model refuses ``--optimizer`` (Muon over biases) or one of its settings
            (``--opt lr_factors=`` naming no module) while it takes adamw: the options' fault, said before the
            range test (exit 2, as the settings checked on a stand-in model are). It was exit 1.

    """
    from ..optimizers import create_optimizer

    def make(model: Any, lr: float, weight_decay: float | None) -> Any:
        extra = dict(options.optimizer_settings)
        if weight_decay is not None:
            extra["weight_decay"] = weight_decay
        try:
            return create_optimizer(options.optimizer, model, lr=lr, lr_group="largest", **extra)
        except (TypeError, ValueError) as exc:
            try:
                create_optimizer("adamw", model, lr=lr)
            except (TypeError, ValueError):
                raise exc from None  # the model takes no optimizer at all: its own fault (exit 1)
            try:
                create_optimizer(options.optimizer, model, lr=lr, lr_group="largest")
                hint = "--opt" if "weight_decay" not in extra or len(extra) > 1 else "--weight-decay"
            except (TypeError, ValueError):
                hint = "--optimizer"
            raise click.BadParameter(as_options(one_line(exc)), param_hint=hint) from None

    return make


def _refine_settings(options: Options, data: LoadedData) -> Refine:
    """The :class:`~lrfinder.Refine` of ``--refine``, checked against the planned training's length.

    Raises:
        click.UsageError: The planned training is too short for the trials (exit 2); the
            message names the shortest that works and the options that set it. Or so long that
            each trial would run over :data:`lrfinder.refine.MAX_TRIAL_STEPS` steps (exit 2).

    """
    from ..refine import MAX_TRIAL_STEPS, MIN_TRIAL_STEPS, LongTrialsError, Refine

    schedule = options.refine_schedule or options.scheduler or "constant"
    settings = dict(options.scheduler_settings) if schedule == options.scheduler else {}
    if options.warmup_steps and schedule == options.scheduler:
        settings["warmup_steps"] = options.warmup_steps
    # Optimizer steps, as the planned schedule counts them: --target-batch-size accumulates several batches into
    # one, and the trials were sized to every batch (480 steps where the schedule spanned 120).
    batches = _steps_per_epoch(options, data)
    per_epoch = "batches per epoch" if not options.target_batch_size else "optimizer steps per epoch"
    steps = options.training_steps or options.epochs * batches
    refine = Refine(schedule=schedule, schedule_settings=settings)
    try:
        refine.plan(steps)
    except LongTrialsError:
        # Not too short a training (the branch below), too long a one: a typo in --training-steps or --epochs.
        given = (
            f"--training-steps {steps:,}"
            if options.training_steps
            else f"--epochs {options.epochs:,} x {batches:,} {per_epoch} = {steps:,} optimizer steps"
        )
        fix = (
            "Pass --training-steps as the number of optimizer steps of the training you plan (epochs x batches per "
            "epoch)."
            if options.training_steps
            else "Lower --epochs to the training you plan."
        )
        raise click.UsageError(
            f"{given} is too long a training to size --refine's trials from: each of its trials would run over "
            f"{MAX_TRIAL_STEPS:,} steps. {fix}"
        ) from None
    except ValueError:
        # The CLI's Refine has the default budget and candidates: some length always fits.
        shortest = next((n for n in range(MIN_TRIAL_STEPS, 10**6) if _plans(refine, n)), None)
        need = (
            f"--refine needs a planned training of at least {shortest or 'more'} optimizer steps to fit its trial runs"
        )
        epochs = f"--epochs {options.epochs} x {batches} {per_epoch}"
        if not options.train:
            source = (
                "--training-steps" if options.training_steps else f"{epochs}; pass --training-steps for another length"
            )
            raise click.UsageError(
                f"{need}, but got {steps} optimizer steps ({source}). Raise --training-steps or --epochs to the "
                "training you plan."
            ) from None
        # fit trains --epochs; --training-steps sizes only the trials. "Pass --training-steps for another length"
        # and "raise --training-steps" read as if it lengthened the training fit runs.
        trained = options.epochs * batches
        more_epochs = f"raise --epochs to at least {math.ceil(shortest / batches)}" if shortest else "raise --epochs"
        if options.training_steps:
            leave_out = "leave it out to size them from that training" + (
                f" and {more_epochs}" if shortest is None or trained < shortest else ""
            )
            raise click.UsageError(
                f"{need}, but got --training-steps {steps}. It sizes the trials only, not the training fit runs "
                f"({epochs}): raise it to at least {shortest or 'more'}, or {leave_out}."
            ) from None
        raise click.UsageError(
            f"{need}, but got {steps} optimizer steps ({epochs}, the training fit runs). To lengthen it, "
            f"{more_epochs}."
        ) from None
    _check_trial_schedule(options, schedule, settings, steps)
    return replace(refine, training_steps=steps)


def _check_trial_schedule(options: Options, schedule: str, settings: dict[str, Any], steps: int) -> None:
    """Refuse, in the CLI's option names, a trial schedule that cannot be built (exit 2, before the test).

    ``--scheduler-opt`` and ``--warmup-steps`` go to the trials only when they follow ``--scheduler``;
    a ``--schedule`` of its own (``step``, ``multistep``) got no settings and failed after loading, with
    exit 1 and a message in the Python API's names (``Refine(schedule='step', schedule_settings={})``).

    Raises:
        click.BadParameter: The schedule needs a setting it did not get, or one does not fit ``steps``.

    """
    from .._checks import sentence
    from ..refine import check_trial_schedule

    try:
        check_trial_schedule(schedule, settings, steps)
    except (ValueError, TypeError) as exc:
        if schedule != options.scheduler:
            raise click.BadParameter(
                f"{schedule}: {sentence(str(exc))} --refine's trials take --scheduler-opt settings only from "
                f"--scheduler: pass --scheduler {schedule} --scheduler-opt KEY=VALUE (the trials then follow it, "
                "and --schedule can be left out), or a --schedule that needs no settings (constant, onecycle, "
                "cosine).",
                param_hint="--schedule",
            ) from None
        length = "--training-steps" if options.training_steps else "--epochs x optimizer steps per epoch"
        raise click.BadParameter(
            f"--scheduler {schedule}: {sentence(str(exc))} (--refine's trials follow this schedule over the "
            f"planned training of {steps:,} optimizer steps, {length}.) Change the setting or the training's length.",
            param_hint="--scheduler-opt",
        ) from None


def _plans(refine: Refine, training_steps: int) -> bool:
    try:
        refine.plan(training_steps)
    except ValueError:
        return False
    return True


def _check_last_batch(
    model: nn.Module,
    data: LoadedData,
    batch_size: int,
    loss_fn: Callable[..., Any] | None,
    step_fn: Callable[..., Any] | None,
    device: Any,
    option: str = "--batch-size",
) -> None:
    """Run the short last batch of a pass through the model too, when this command built the loader.

    A model that cannot take it (BatchNorm in training mode on a batch of one sample) would fail
    at the end of the first pass, midway through the sweep.

    Args:
        model: The model, on ``device``.
        data: The training data; only a TensorDataset this command batches is checked.
        batch_size: The batch size of the passes.
        loss_fn: The loss for plain models.
        step_fn: A LightningModule's step, else ``None``.
        device: Where the batch goes.
        option: The option that set ``batch_size``, for the message.

    Raises:
        ModelError: The model fails on the last batch; the message names the batch size to change.

    """
    from torch.utils.data import TensorDataset

    from ..batches import to_device
    from .loading import check_model_fits

    dataset = data.dataset
    if not isinstance(dataset, TensorDataset):
        return
    n = len(dataset)
    rest = n % batch_size
    if n <= batch_size or rest == 0:
        return  # one batch only (checked already), or every batch full
    import torch

    try:
        # Under a forked RNG, as the validation check: a dropout forward pass must not change the seeded run.
        with torch.random.fork_rng(devices=[]):
            check_model_fits(model, to_device(dataset[n - rest :], device), loss_fn, step_fn)
    except ModelError as exc:
        raise ModelError(
            f"The last batch of each pass holds {rest} sample{'' if rest == 1 else 's'} ({n} samples in batches of "
            f"{batch_size}), and the model fails on it: {exc} Choose a {option} that divides {n} or leaves a "
            "larger last batch."
        ) from exc


def _on(tensor: torch.Tensor | None, device: Any) -> torch.Tensor | None:
    return None if tensor is None else tensor.to(device)


def _first_batch(loader: Any) -> Any:
    """The first batch of ``loader``; torch's default collate_fn failing on it is a DataError saying why."""
    from ..batches import collate_failure_message

    try:
        return next(iter(loader))
    except Exception as exc:
        message = collate_failure_message(exc, loader, 0)
        if message is None:
            raise
        raise DataError(message) from exc


def _failed_midway(exc: BaseException, where: str, then: str) -> click.ClickException:
    """An error of the model's or the data's own code, said with where lrfind had got to (exit 1).

    Args:
        exc: The error.
        where: Where it stopped (``"The range test failed after 10 of its 12 steps (...)"``).
        then: What follows from that, or what to do (without a final full stop).

    """
    return click.ClickException(
        f"{where}: {type(exc).__name__}: {one_line(exc).rstrip('.')}. {then}. Run with --debug to see where the "
        "error was raised."
    )


def _range_tests(options: Options, inputs: Inputs) -> tuple[list[RangeTestResult], Inputs]:
    """One range test, or Smith's weight-decay test (one per value, same initial state).

    Returns:
        The results, and ``inputs`` with ``loss_fn=None`` when the plain model computes its own loss from the
        dict batches and ``--loss`` was not given (:func:`~.loading.computes_own_loss`), for the training after.

    """
    from ..batches import to_device
    from ..range_test import range_test
    from ..settings import trainable_parameters
    from ..sweeps import format_weight_decay, weight_decay_sweep
    from .loading import all_targets, check_model_fits, computes_own_loss

    model = inputs.model
    if inputs.lightning and getattr(model, "automatic_optimization", True) is False:
        # Its training_step steps self.optimizers() itself: lrfind takes training_step as the loss of one step,
        # with no Trainer to give them ("not attached to a `Trainer`", said of the data before).
        raise ModelError(
            f"{type(model).__name__} uses manual optimization (automatic_optimization=False): its training_step "
            "steps its own optimizers, which lrfind cannot drive (it takes training_step as the loss of one "
            "optimizer step). Run the test from Python in a Lightning fit: lrfinder.find_lr(model, "
            "train_dataloaders=..., monitor='<the key training_step logs its loss under>'), or the LRFinder "
            "callback in your Trainer."
        )
    step_fn = _lightning_step_fn(model) if inputs.lightning else None
    loss_fn = None if step_fn else inputs.loss_fn
    # A model with no parameters, or none trainable, fails here with what to do.
    device = trainable_parameters(model)[0].device
    batch = to_device(_first_batch(inputs.data.train), device)
    if loss_fn is not None and options.loss is None and computes_own_loss(model, batch):
        # A Hugging Face model given labels: trained on its own loss, as range_test and train take it without
        # loss_fn (a loss of lrfind's cannot score its ModelOutput, and would see the batch's input key alone).
        loss_fn = None
        inputs = replace(inputs, loss_fn=None)
    check_model_fits(model, batch, loss_fn, step_fn, targets=_on(all_targets(inputs.data.train), device))
    _check_last_batch(model, inputs.data, options.batch_size, loss_fn, step_fn, device)
    if options.train and options.target_batch_size:
        # fit trains on batches of the target size (a loader rebuilt here): its last batch too.
        _check_last_batch(model, inputs.data, options.target_batch_size, loss_fn, step_fn, device,
                          option="--target-batch-size")  # fmt: skip
    if inputs.data.val is not None:
        import torch

        try:
            # Under a forked RNG: iterating a loader and a forward pass with dropout draw from torch's
            # global RNG, and this check must not change the seeded run that follows.
            with torch.random.fork_rng(devices=[]):
                val_batch = to_device(_first_batch(inputs.data.val), device)
                check_model_fits(model, val_batch, loss_fn, step_fn, targets=_on(all_targets(inputs.data.val), device))
        except (ModelError, DataError) as exc:
            raise type(exc)(f"--val-data {options.val_data}: {exc}") from exc
    make_optimizer = _optimizer_factory(options)
    label = options.optimizer + "".join(f", {k}={v}" for k, v in options.optimizer_settings.items())
    wds = options.weight_decays
    test_kwargs: dict[str, Any] = {
        "loss_fn": loss_fn,
        "step_fn": step_fn,
        "min_lr": options.min_lr,
        "max_lr": options.max_lr,
        "num_steps": options.num_steps,
        "mode": options.mode,
        "stop_factor": options.stop_factor,
        "precision": options.precision,
        "gradient_clip_val": options.gradient_clip_val,
        "gradient_clip_algorithm": _clip_algorithm(options),
        "device": inputs.device,
        "rule": options.rule,
        # The CLI always measures the critical batch: its summary prints it, and a process start
        # costs far more than the measurement (benchmarks/results/batch_scaling.md).
        "noise_scale": True,
    }
    if options.refine:
        test_kwargs["refine"] = _refine_settings(options, inputs.data)
    if options.refine or options.curve == "val":
        test_kwargs["val_data"] = inputs.data.val
    if options.curve == "val":
        test_kwargs["curve"] = options.curve
    bars: list[Progress] = []
    # How far the test got, said with an error that the model's or the data's own code raises after the first
    # step (the checks before the test, and the engine's first step, name what fails there).
    reached: list[str] = []

    def start_bar(title: str, length: int | None = None, *, known: bool = True) -> Progress:
        for bar in bars:
            bar.close()
        steps = (options.num_steps if length is None else length) if known else None
        bars.append(Progress(steps, title, options.quiet, options.progress))
        return bars[-1]

    def sweep_ticks(title: str) -> Callable[[int, float, float], None]:
        # The on_step of a sweep and of its --refine re-sweeps, which call it from index 0 again over as many steps
        # as the engine chooses: each re-sweep gets its own bar (lines), counted without a total. One bar for all
        # ran past its end ("step 148/100").
        start_bar(title)
        resweeps = 0

        def tick(index: int, lr: float, loss: float) -> None:
            nonlocal resweeps
            raise_if_signalled()  # a Ctrl-C that torch's import swallowed stops the test at its next step
            if index == 0 and bars[-1].position > 0:
                resweeps += 1
                start_bar(f"{title} re-sweep {resweeps}", known=False)
            bars[-1].tick(index, lr, loss)
            sweep = f"The {title}{f' re-sweep {resweeps}' if resweeps else ''}"
            if resweeps == 0 and index + 1 == options.num_steps:  # the sweep is over: what follows it failed
                reached[:] = [f"{sweep} failed after its last step", "Its steps ran, so the model and data go together"]
                return
            of = f" of its {options.num_steps:,}" if resweeps == 0 else ""
            reached[:] = [
                f"{sweep} failed after {index + 1:,}{of} steps (the last at lr={lr:.2e})",
                "Its first steps ran, so the model and the data go together. If it fails only at large LRs (the "
                f"model's own code on blown-up weights), a --max-lr of {lr:.2e} (the last LR that ran) or lower ends "
                "the sweep before it",
            ]

        return tick

    if options.refine:
        candidates = test_kwargs["refine"].plan()[0]

        def on_trial(index: int, lr: float, steps_done: int, loss: float) -> None:
            # The trials can take longer than the sweep: their own bar (or lines) after the sweep's.
            if index == 0 and steps_done == 0:
                start_bar("refine", candidates)
            bars[-1].trial(index, lr, steps_done, loss)
            # Called as a trial starts and once it is judged: how many of its steps ran before an error is not known.
            reached[:] = [f"--refine's trial {index + 1} (lr={lr:.2e}) failed", "The range test itself ran to its end"]

        test_kwargs["on_trial"] = on_trial

    try:
        if wds is not None and len(wds) > 1:
            results = weight_decay_sweep(
                model,
                inputs.data.train,
                wds,
                make_optimizer=lambda m, wd: make_optimizer(m, options.min_lr, wd),
                on_start=lambda _i, wd: sweep_ticks(f"range test wd={format_weight_decay(wd)}"),
                **test_kwargs,
            )
            # Each curve's weight decay is its label ("wd=1e-04") and the sweep's weight_decays list:
            # in the optimizer name too, the report's header would repeat it ("adamw, adamw, weight_decay=...").
            names = [label] * len(wds)
        else:
            wd = wds[0] if wds else None
            optimizer = make_optimizer(model, options.min_lr, wd)
            result = range_test(
                model, inputs.data.train, optimizer=optimizer, on_step=sweep_ticks("range test"), **test_kwargs
            )
            results = [result]
            names = [label + (f", weight_decay={format_weight_decay(wd)}" if wd else "")]
    except (LRFinderError, click.ClickException):
        raise
    except Exception as exc:
        if not reached or options.debug or _raised_drawing_data(exc):
            # A batch that could not be drawn is the data's error, not the LR's (run() names a Dataset's example).
            raise
        # The bare message ("Error: linalg.cholesky: ...") said neither that the test was under way nor where.
        raise _failed_midway(exc, reached[0], reached[1]) from None
    finally:
        for bar in bars:
            bar.close()
    # A TorchScript module's class is RecursiveScriptModule; its original name is the useful one.
    model_name = getattr(model, "original_name", None)
    named = [replace(r, optimizer_name=name, model_name=model_name or r.model_name) for r, name in zip(results, names)]
    return named, inputs


def _scale(result: RangeTestResult, options: Options) -> RangeTestResult:
    """The result scaled to ``--target-batch-size`` by ``--scaling``.

    Raises:
        click.ClickException: ``--scaling noise`` and the test could not measure the noise scale
            (exit 1); the message says why and which rules need no measurement.

    """
    if options.target_batch_size is None or result.suggestion is None:
        return result
    if options.scaling == "noise" and result.noise_scale is None:
        why = as_options((result.noise_error or "it was not measured").rstrip("."))
        raise click.ClickException(
            f"--scaling noise needs the critical batch, which this range test could not measure ({why}). Use "
            "--scaling auto (it falls back to linear or sqrt by optimizer family), linear or sqrt."
        )
    with warnings.catch_warnings():
        # The warning is kept in result.scaled.warning and printed with the summary.
        warnings.simplefilter("ignore")
        return result.scale(options.target_batch_size, rule=options.scaling, optimizer=options.optimizer)


def _loader_batch_size(options: Options, data: LoadedData) -> int:
    """The batch size of the training loader's batches: its own for a ready-made DataLoader, else ``--batch-size``.

    A DataLoader (or a LightningDataModule's) from ``--data module:function`` keeps the batch size it was made
    with; ``--batch-size`` only sizes the loaders built here. Gradients accumulated to ``--target-batch-size``
    by ``--batch-size`` (32 by default) from a loader of 64 trained at twice the target batch, with the LR
    scaled for the target.
    """
    if data.dataset is None:
        loader = data.train
        size = getattr(loader, "batch_size", None)
        if size is None:  # a DataLoader with a batch_sampler: the sampler's, when it says
            size = getattr(getattr(loader, "batch_sampler", None), "batch_size", None)
        if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
            return int(size)
    return options.batch_size


def _steps_per_epoch(options: Options, data: LoadedData) -> int:
    target = options.target_batch_size
    n = len(data.train)
    if target and data.dataset is not None:
        n = math.ceil(len(data.dataset) / target)  # type: ignore[arg-type]
    elif target:
        n = math.ceil(n / max(1, target // _loader_batch_size(options, data)))
    return max(1, n)


def _planned_training_steps(options: Options) -> int | None:
    """``--training-steps`` where it sets the planned training's length (``run``'s, where given), else ``None``.

    ``run`` trains nothing: ``--training-steps`` (with ``--refine``) is the training it plans, so the
    schedule's check, its warm-up and its preview span it, as ``--refine``'s trials do. ``fit`` trains
    ``--epochs``; its ``--training-steps`` sizes the trials only.
    """
    return None if options.train or not options.training_steps else int(options.training_steps)


def _planned_steps(options: Options, data: LoadedData) -> int:
    """The planned training's optimizer steps: ``run``'s ``--training-steps`` where given, else epochs x batches."""
    steps = _planned_training_steps(options)
    return steps if steps is not None else options.epochs * _steps_per_epoch(options, data)


def _planned_length(options: Options, data: LoadedData) -> str:
    """The options that set :func:`_planned_steps`, for messages (``--epochs 2 x 8 per epoch = 16``)."""
    total = _planned_steps(options, data)
    if _planned_training_steps(options) is not None:
        return f"--training-steps {total:,}"
    return f"--epochs {options.epochs:,} x {_steps_per_epoch(options, data):,} per epoch = {total:,}"


def _warmup_settings(options: Options, result: RangeTestResult, data: LoadedData) -> dict[str, Any]:
    """The planned training's warm-up: ``--warmup-steps`` (with ``--scheduler``), else the scaling's advice.

    ``--target-batch-size`` raising the LR advises a warm-up (:attr:`lrfinder.ScaledLR.warmup_epochs`,
    Goyal et al.): it is built in as the callback builds it, each epoch counted in the training's
    optimizer steps and kept below the training's length, rising from the unscaled LR; none goes
    before ``onecycle`` and ``cyclic``, which climb on their own (:func:`lrfinder.schedulers.advised_warmup`).
    """
    if options.scheduler is not None and options.warmup_steps:
        return {"warmup_steps": options.warmup_steps}
    return _advised(options, result, data)


def _advised(options: Options, result: RangeTestResult, data: LoadedData) -> dict[str, Any]:
    """The scaling's advised warm-up as schedule settings (``{}``: none advised, or the schedule climbs itself)."""
    from ..schedulers import advised_warmup

    scaled = result.scaled
    if scaled is None or not scaled.warmup_epochs:
        return {}
    per_epoch = _steps_per_epoch(options, data)
    steps = max(0, min(scaled.warmup_epochs * per_epoch, _planned_steps(options, data) - 1))
    warm = advised_warmup(options.scheduler or "constant", steps, scaled.base_lr, scaled.lr)
    given = options.scheduler_settings if options.scheduler is not None else {}
    if "warmup_start_factor" in given:  # --scheduler-opt warmup_start_factor=... wins over the ramp's start
        warm.pop("warmup_start_factor", None)
    return warm


def _warmup(options: Options, result: RangeTestResult, data: LoadedData) -> int:
    """Warm-up steps of the planned training (:func:`_warmup_settings`)."""
    return int(_warmup_settings(options, result, data).get("warmup_steps", 0))


def _schedule_settings(options: Options, result: RangeTestResult, data: LoadedData) -> dict[str, Any]:
    """``--scheduler-opt``'s settings (with ``--scheduler``) and the advised warm-up's start, for the schedule."""
    settings = dict(options.scheduler_settings) if options.scheduler is not None else {}
    start = _warmup_settings(options, result, data).get("warmup_start_factor")
    if start is not None:
        settings["warmup_start_factor"] = start
    return settings


def _schedule(options: Options, result: RangeTestResult, data: LoadedData) -> str | None:
    """The schedule training runs: ``--scheduler``, else ``constant`` after an advised warm-up, else none."""
    if options.scheduler is not None:
        return options.scheduler
    return "constant" if _warmup(options, result, data) else None


def _preview(options: Options, result: RangeTestResult, data: LoadedData, *, warn: bool = True) -> Any:
    """The planned schedule's LRs; ``warn=False`` when training builds it again and warns then."""
    from ..schedulers import preview_schedule

    schedule = _schedule(options, result, data)
    if result.lr is None or schedule is None:  # only called on a conclusive curve with a schedule
        raise LRFinderError(f"No learning rate to plan a schedule with: {result.error}")
    with warnings.catch_warnings():
        if not warn:
            warnings.simplefilter("ignore")
        return preview_schedule(
            schedule,
            total_steps=_planned_steps(options, data),
            steps_per_epoch=_steps_per_epoch(options, data),  # plateau reads its metric per epoch
            lr=result.lr,
            suggestion=result.training_suggestion,
            warmup_steps=_warmup(options, result, data),
            **_schedule_settings(options, result, data),
        )


def _training_plan(options: Options, result: RangeTestResult, data: LoadedData) -> str:
    """What ``fit`` trains with: length, LR, warm-up, and the schedule's start (if below its peak), peak and end."""
    steps = _steps_per_epoch(options, data)
    plan = f"{plural(options.epochs, 'epoch')} x {plural(steps, 'step')}, lr {result.lr:.2e}"
    warmup = _warmup(options, result, data)
    advised = result.scaled is not None and result.scaled.warmup_epochs > 0
    if warmup and (options.scheduler is None or not options.warmup_steps):
        start = _warmup_settings(options, result, data).get("warmup_start_factor")
        rise = f" from {start * result.lr:.2e}" if start else ""
        plan += f", warm-up {plural(warmup, 'step')}{rise} (the batch-size scaling's advice)"
    elif warmup:
        plan += f", warm-up {plural(warmup, 'step')}"
    elif advised and options.scheduler is not None:
        plan += f", no warm-up before it ({options.scheduler} climbs from a low start itself)"
    if options.scheduler is None:
        return plan + ", constant"
    lrs = _preview(options, result, data, warn=False)
    if options.scheduler == "plateau":
        # Its end depends on the metric: the preview's is the worst case (no epoch ever improves), which the
        # summary stated as the plan ("ends 1.64e-02" above a training that kept its LR throughout).
        from ..schedulers import SCHEDULERS

        s = {**SCHEDULERS["plateau"].settings, **options.scheduler_settings}
        return plan + (
            f", plateau: x{s['factor']:g} after {plural(s['patience'], 'epoch')} without improvement of "
            f"{s['monitor']}, never below {min(lrs):.2e}"
            + ("" if min(lrs) < max(lrs) else " (the training is too short to lower it)")
        )
    # A schedule that climbs (one-cycle, cyclic) starts below both its peak and the suggestion: "onecycle: peak"
    # alone read as training at the suggestion up to the peak.
    start = f"starts {lrs[0]:.2e}, " if f"{lrs[0]:.2e}" != f"{max(lrs):.2e}" else ""
    return plan + f", {options.scheduler}: {start}peak {max(lrs):.2e}, ends {lrs[-1]:.2e}"


def _training_batches(options: Options, data: LoadedData) -> tuple[Any, int]:
    """The training loader and the gradient accumulation for ``--target-batch-size``.

    Raises:
        click.UsageError: A target larger than the training set, or one the loader's batches
            cannot be accumulated to (checked before the range test runs).

    """
    target = options.target_batch_size
    if not target:
        return data.train, 1
    size = _dataset_size(data)
    if size is not None and target > size:
        raise click.UsageError(
            f"--target-batch-size {target} is larger than the training set ({size} samples): every "
            "epoch would be one partial batch. Choose a target batch size of at most the dataset size."
        )
    if data.dataset is not None:
        return data.loader(target, seed=options.seed), 1
    batch_size = _loader_batch_size(options, data)
    if target % batch_size == 0:
        return data.train, target // batch_size
    raise click.UsageError(
        f"--target-batch-size {target} is not a multiple of the loader's batch size {batch_size}; "
        "gradients cannot be accumulated to it."
    )


def _dataset_size(data: LoadedData) -> int | None:
    dataset = data.dataset if data.dataset is not None else getattr(data.train, "dataset", None)
    try:
        return len(dataset)  # type: ignore[arg-type]
    except TypeError:  # an IterableDataset, or none
        return None


def _warn_batch_over_data(options: Options, data: LoadedData) -> None:
    """Say on stderr when ``--batch-size`` is larger than the training set (not with ``--quiet``).

    Not refused (full-batch steps can be meant), but the test and ``fit`` then run at a batch size
    other than the one asked for, the one the LR is found (and scaled) at, and the curve has no
    sampling noise left, so the critical batch cannot be measured. Only a loader lrfind built
    from ``--batch-size`` is checked: a ready-made DataLoader keeps its own batch size.
    """
    if options.quiet or data.dataset is None:  # a loader of the user's own keeps its batch size
        return
    size = _dataset_size(data)
    if size == 1:
        # "Choose a --batch-size below 1" was the advice here: no batch size helps a set of one example.
        click.echo(
            f"warning: --data {options.data} holds a single sample: every step of "
            f"{'the test and the training' if options.train else 'the test'} trains on that one example, so the "
            "curve shows how fast the model memorises it, not an LR to train at. Check that --data is the training "
            "set you meant.",
            err=True,
        )
        return
    if size is None or options.batch_size <= size:
        return
    click.echo(
        f"warning: --batch-size {options.batch_size} is larger than the training set ({size} samples): every batch is "
        f"the whole set, so {'the test and the training run' if options.train else 'the test runs'} at batch size "
        f"{size}, the one the LR is found for, without sampling noise. Choose a --batch-size below {size} (a small "
        "fraction of it for a realistic curve).",
        err=True,
    )


def _check_sized(options: Options, data: LoadedData) -> None:
    """Refuse training data of unknown length when the command must count its batches per epoch.

    ``fit`` plans its epochs and schedule, ``--refine`` sizes its trials and ``run --scheduler``
    previews the schedule from the batches per epoch; an ``IterableDataset`` without ``__len__``
    has none (the range test alone only draws batches, so it runs on one).

    Raises:
        DataError: The loader has no length and one of those needs it (exit 1, before the range test).

    """
    needs = [
        what
        for what, asked in (("fit", options.train), ("--refine", options.refine), ("--scheduler", options.scheduler))
        if asked
    ]
    if not needs:
        return
    try:
        len(data.train)
        if options.target_batch_size and data.dataset is not None:
            len(data.dataset)  # type: ignore[arg-type]
    except TypeError:
        # fit cannot do without the length; run can drop the options that need it.
        drop = "" if options.train else f" (or drop {' and '.join(needs)})"
        raise DataError(
            f"The training data from {data.source} has no length (an IterableDataset without __len__), but "
            f"{' and '.join(needs)} must count its batches per epoch. Give the dataset a __len__, or return a "
            f"map-style Dataset{drop}."
        ) from None


def _check_schedule(options: Options, data: LoadedData) -> None:
    """Build the schedule once with a stand-in LR, so bad settings fail before the range test.

    Settings that only the curve can judge (a ``max_lr`` below the suggested band, say) are
    still checked when the real schedule is built.

    Raises:
        click.BadParameter: The scheduler rejects its settings, or the training is longer than
            :data:`lrfinder.schedulers.MAX_PREVIEW_STEPS` steps (exit 2).

    """
    if options.scheduler is None:
        return
    from ..schedulers import MAX_PREVIEW_STEPS, STAND_IN_BAND, preview_schedule

    per_epoch = _steps_per_epoch(options, data)
    total = _planned_steps(options, data)
    length = _planned_length(options, data)
    by_steps = _planned_training_steps(options) is not None
    if total > MAX_PREVIEW_STEPS:
        # The schedule is drawn step by step (for the check below, the summary and the report): --epochs 1e9
        # was a MemoryError after the data had loaded.
        raise click.BadParameter(
            f"expected at most {MAX_PREVIEW_STEPS:,} optimizer steps to plan --scheduler {options.scheduler} over, "
            f"but got {length}",
            param_hint="--training-steps" if by_steps else "--epochs",
        )
    if options.warmup_steps and options.warmup_steps >= total:
        # Said of --warmup-steps, not of --scheduler-opt: the schedule's own check names its setting.
        raise click.BadParameter(
            f"expected fewer warm-up steps than the training's optimizer steps ({length}), but got "
            f"{options.warmup_steps}",
            param_hint="--warmup-steps",
        )
    try:
        with warnings.catch_warnings():
            # Only a refusal counts here: the real schedule warns when it is built (a onecycle too short
            # to rise was said once per build, two or three times).
            warnings.simplefilter("ignore")
            preview_schedule(
                options.scheduler,
                total_steps=total,
                steps_per_epoch=per_epoch,
                lr=STAND_IN_BAND.lr,
                # Its band is wider than any LR: a max_lr or base_lr (onecycle, cyclic) is judged against the real
                # band once the curve is read, never refused against a made-up one (--scheduler cyclic
                # --scheduler-opt base_lr=0.1 said "Expected max_lr > base_lr ..., max_lr=[1.00e-02]").
                suggestion=STAND_IN_BAND,
                warmup_steps=options.warmup_steps,
                **options.scheduler_settings,
            )
    except (ValueError, TypeError) as exc:
        said = as_schedule_options(one_line(exc))
        if by_steps:
            said = said.replace("the training's steps (--epochs)", "the training's steps (--training-steps)")
        # --scheduler-opt milestones=30,60 reached the schedule as the text '30,60': say how to write the list.
        lists = [json_list_hint(k, v, "--scheduler-opt") for k, v in options.scheduler_settings.items()]
        if any(lists):
            said = " ".join([said.rstrip("."), *filter(None, lists)])
        raise click.BadParameter(
            f"--scheduler {options.scheduler}: {said} (The schedule spans the planned training, {length} "
            "optimizer steps.)",
            param_hint="--scheduler-opt",
        ) from None


def _train(
    options: Options,
    inputs: Inputs,
    result: RangeTestResult,
    weight_decay: float | None,
    echo: Callable[[str], None],
) -> TrainingResult:
    """Train with the found LR (:func:`lrfinder.train`), printing one line per epoch.

    Raises:
        click.ClickException: Training diverged (exit 1); nothing is saved.

    """
    from .._lightning import defines_validation_step
    from ..training import TrainingDivergedError, train

    lr = result.lr
    if lr is None:  # the caller trains only on a conclusive curve
        raise LRFinderError(f"No learning rate to train with: {result.error}")
    loader, accumulate = _training_batches(options, inputs.data)
    make_optimizer = _optimizer_factory(options)
    bars: list[Progress] = []
    # How far training got: (epoch, its batches done), and the epochs done; said with an error of the model's or
    # the data's own code, which came out bare ("Error: <message>").
    batches_done = [1, 0]
    epochs_done = [0]

    def batch_done(epoch: int, batch_index: int) -> None:
        batches_done[:] = [epoch, batch_index + 1]
        if batch_index == 0:
            bars.append(Progress(len(loader), f"epoch {epoch}/{options.epochs}", options.quiet, options.progress))
        bars[-1].update(1)

    def epoch_line(summary: EpochSummary) -> None:
        epochs_done[0] = summary.epoch
        for bar in bars:
            bar.close()
        line = f"epoch {summary.epoch:>3}/{summary.epochs}  train_loss {summary.train_loss:.4f}"
        for key, value in summary.metrics.items():
            line += f"  {key} {value:.4f}"
        echo(line + f"  lr {summary.lr:.2e}")

    if not logging.getLogger("lrfinder").isEnabledFor(logging.DEBUG):
        quiet_warnings()  # importing Lightning can re-enable its advice
    seed_all(options.seed)
    try:
        return train(
            inputs.model,
            loader,
            optimizer=lambda m: make_optimizer(m, lr, weight_decay),
            loss_fn=inputs.loss_fn,
            # A LightningModule without a validation_step runs no validation: the note on --val-data said so already.
            val_data=None if inputs.lightning and not defines_validation_step(inputs.model) else inputs.data.val,
            epochs=options.epochs,
            # Without --scheduler, --scheduler-opt and --warmup-steps are ignored (a note says so when they are
            # given); a warm-up the batch-size scaling advises is built in all the same.
            scheduler=_schedule(options, result, inputs.data),
            scheduler_settings=_schedule_settings(options, result, inputs.data) or None,
            warmup_steps=_warmup(options, result, inputs.data),
            suggestion=result.training_suggestion,
            accumulate_grad_batches=accumulate,
            device=inputs.device,
            precision=options.precision,
            gradient_clip_val=options.gradient_clip_val,
            gradient_clip_algorithm=_clip_algorithm(options),
            on_epoch_end=epoch_line,
            on_batch_end=batch_done,
        )
    except TrainingDivergedError as exc:
        written = f" {options.output} was not written." if options.output else ""
        raise click.ClickException(f"{one_line(exc)}{written}") from None
    except (LRFinderError, click.ClickException):
        raise
    except Exception as exc:
        from .loading import dataset_failure_message

        if options.debug or dataset_failure_message(exc, inputs.data, str(options.data), options.val_data):
            raise  # run_command names the Dataset and the example
        where = _training_stopped_at(options, inputs, result, (batches_done[0], batches_done[1]), epochs_done[0])
        written = f"{options.output} was not written" if options.output else "Nothing was written"
        raise _failed_midway(exc, where, f"The range test had run to its end. {written}") from None
    finally:
        for bar in bars:
            bar.close()


def _training_stopped_at(
    options: Options, inputs: Inputs, result: RangeTestResult, batches_done: tuple[int, int], epochs_done: int
) -> str:
    """Where ``fit``'s training failed: the epoch and batch, the optimizer step and its LR in the planned schedule.

    Args:
        options: The command's options.
        inputs: The loaded model and data.
        result: The range test's result (its LR and schedule are the training's).
        batches_done: ``(epoch, batches of it done)``, from ``on_batch_end``.
        epochs_done: Epochs ended, from ``on_epoch_end``.

    """
    loader, accumulate = _training_batches(options, inputs.data)
    per_epoch = len(loader)
    epoch, done = batches_done
    if done == per_epoch and epochs_done < epoch:
        at, batch = f"after epoch {epoch}/{options.epochs}'s last batch, in its validation or end", done - 1
    else:
        if done == per_epoch:
            epoch, done = epoch + 1, 0
        at, batch = f"in epoch {epoch}/{options.epochs} at batch {done + 1:,} of {per_epoch:,}", done
    steps = _steps_per_epoch(options, inputs.data)
    step = min((epoch - 1) * steps + batch // accumulate, options.epochs * steps - 1)
    where = f"Training failed {at} (optimizer step {step + 1:,} of {options.epochs * steps:,}"
    if options.scheduler == "plateau":  # its LR follows the validation loss: the preview's is not the one trained
        return where + ")"
    lrs = _preview(options, result, inputs.data, warn=False) if _schedule(options, result, inputs.data) else None
    lr = float(lrs[step]) if lrs is not None and step < len(lrs) else result.lr
    return f"{where}, lr={lr:.2e})"


def execute(options: Options, inputs: Inputs) -> None:
    """Range test (or weight-decay sweep), summary, optional training, outputs.

    Every check that does not need the curve runs first; the outputs (report, JSON, CSV, the
    trained model) are written together at the end, or not at all.

    Raises:
        click.UsageError: A setting the data rules out, or a ``.ckpt`` ``--output`` for a model that is
            no LightningModule (exit 2).
        click.ClickException: An inconclusive curve with ``fit`` or ``--strict``, or diverged
            training (exit 1).
        KeyboardInterrupt: The range test, the sweep or training was interrupted.

    """
    from .._atomic import staged_writes
    from ..sweeps import recommend_weight_decay
    from .loading import model_writer, saved_format

    # The saved model's format follows a .ckpt --output, or is refused (exit 2) before the range test.
    save_as = None
    if options.train and options.output and inputs.loaded is not None:
        save_as = saved_format(inputs.loaded, options.output)
    _check_sized(options, inputs.data)
    _warn_batch_over_data(options, inputs.data)
    if options.train:
        _training_batches(options, inputs.data)
        from ..training import check_plateau_has_val, check_plateau_monitor_logged

        try:
            check_plateau_has_val(options.scheduler, lightning=inputs.lightning, has_val=inputs.data.val is not None)
            if inputs.lightning:
                check_plateau_monitor_logged(inputs.model, options.scheduler, options.scheduler_settings,
                                             has_val=inputs.data.val is not None)  # fmt: skip
        except ValueError as exc:
            raise click.UsageError(f"--scheduler plateau: {as_schedule_options(one_line(exc))}") from None
    _check_schedule(options, inputs.data)
    echo: Callable[[str], None] = (lambda line: click.echo(line, err=True)) if options.to_stderr else click.echo
    results, inputs = _range_tests(options, inputs)
    raise_if_interrupted(results)
    results = [_scale(r, options) for r in results]
    wds = options.weight_decays
    chosen_wd = wds[0] if wds else None
    highlight = None
    json_doc = None
    if wds is not None and len(results) > 1:
        choice = None
        with contextlib.suppress(InconclusiveCurveError):
            choice = recommend_weight_decay(results, wds)
        echo_sweep(results, wds, choice, err=options.to_stderr)
        json_doc = sweep_json(results, wds, choice)
        if choice is not None:
            highlight = choice.index
            chosen_wd = choice.weight_decay
        result = results[highlight] if highlight is not None else results[0]
        if result.scaled is not None:
            echo(f"scaled lr ({result.label}): {scaled_text(result.scaled)}")
        if options.train and result.lr is not None:
            # What training uses, as a single test's summary says it (a sweep printed no plan at all).
            echo_summary([("training", _training_plan(options, result, inputs.data))], err=options.to_stderr)
    else:
        result = results[0]
        rows = summary_rows(result, source=inputs.source, json_path=options.json_path)
        if result.suggestion is None and options.target_batch_size is not None:
            # --target-batch-size has nothing to scale: said, not left out without a word.
            rows.append(("scaled lr", f"none: no suggested lr to scale from batch {result.batch_size} to "
                                      f"{options.target_batch_size}"))
        if options.train and result.lr is not None:
            rows.append(("training", _training_plan(options, result, inputs.data)))
        echo_summary(rows, err=options.to_stderr)

    schedule: Any = None
    schedule_name = None
    training = None
    inconclusive = result.suggestion is None
    if options.train and not inconclusive:
        training = _train(options, inputs, result, chosen_wd, echo)
        schedule = list(training.lrs)
        schedule_name = _schedule(options, result, inputs.data) or "constant"
    elif options.scheduler and not inconclusive and len(results) == 1:
        schedule_name = options.scheduler
        if options.scheduler == "plateau":
            # Its preview lowers the LR as if no epoch improved: the report drew that staircase as "the" plan.
            monitor = options.scheduler_settings.get("monitor", "val_loss")
            schedule_name = f"plateau, if {monitor} never improves"
        schedule = _preview(options, result, inputs.data)
    with staged_writes() as staged:
        if training is not None and inputs.loaded is not None and options.output:
            write_model = model_writer(inputs.loaded, training=training, weight_decay=chosen_wd, format=save_as)
            stage_file(staged, options.output, write_model)
        to_stdout = stage_outputs(
            staged,
            results,
            report=options.report,
            json_path=options.json_path,
            csv_path=options.csv_path,
            json_doc=json_doc,
            schedule=schedule,
            schedule_name=schedule_name,
            # After training the panel shows the LRs training applied (plateau's real cuts), not a plan.
            schedule_kind="planned" if training is None else "applied",
            highlight=highlight,
            weight_decays=wds,
        )
        try:
            written = staged.commit(before=finishing)
        except OSError as exc:
            # Writing into a device (--json /dev/full) fails here, said as every other output's write error is.
            if exc.filename is None:
                raise
            raise write_error(str(exc.filename), exc) from None
    for text in to_stdout:
        click.echo(text, nl=False)
    for path in written:
        echo(f"wrote {path}")
    if inconclusive:
        # The gist: the summary above has just printed the whole reason (or named the JSON that holds it).
        why = inconclusive_error(result, json_path=options.json_path, sweep=len(results) > 1)
        if options.train:
            raise click.ClickException(f"The range test is inconclusive, so there is no LR to train with: {why}")
        if options.strict:
            raise click.ClickException(f"The range test is inconclusive (--strict): {why}")
