"""``lrfind demo``: the built-in example (:mod:`lrfinder.demo`), through the same pipeline as ``run``/``fit``."""

from __future__ import annotations

import click

from ..names import DEFAULT_RULE
from .config import CONFIG_META, ConfigCommand
from .errors import clean_errors, debug_flag
from .options import (
    CONTEXT,
    Options,
    Seed,
    check_text_output,
    common_options,
    config_option,
    optimizer_option,
    progress_option,
    report_option,
    scheduler_option,
    warn_quiet_progress,
)
from .output import setup_logging

__all__ = ["command"]

#: The demo's fixed test settings: 4,096 training and 1,024 validation samples, batches of 64.
DEMO_SAMPLES = 4096
DEMO_VAL_SAMPLES = 1024
DEMO_BATCH_SIZE = 64
#: The demo's sweep: from 1e-4, not run's 1e-7 (its model learns nothing below 1e-4), to 10, in 100 steps.
DEMO_MIN_LR = 1e-4
DEMO_MAX_LR = 10.0
DEMO_NUM_STEPS = 100

#: The command's help, with the numbers the demo runs (they are not options: the text cannot drift from them).
_HELP = f"""Run the built-in example: a small MLP on generated data, the range test, a short training.

Nothing is downloaded: the data ({DEMO_SAMPLES:,} training and {DEMO_VAL_SAMPLES:,} validation samples, 20 features, 4
classes) are generated with a fixed seed. The model is a three-layer perceptron (20-64-64-4, 5,764 parameters). The
range test sweeps the LR exponentially from {DEMO_MIN_LR:.0e} to {DEMO_MAX_LR:g} in {DEMO_NUM_STEPS} steps
(batches of {DEMO_BATCH_SIZE}, the cross-entropy loss; run's sweep starts lower, at 1e-7), then trains the model for
--epochs with the LR it finds. Prints the suggested LR and writes the report (lrfind-report.png by default).
""".replace("e-0", "e-")


@click.command(
    "demo",
    cls=ConfigCommand,
    help=_HELP,
    short_help="Run the built-in example: range test, short training, report.",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  lrfind demo
  lrfind demo --epochs 0 --report demo.svg
  lrfind demo --optimizer adamw --scheduler cosine --epochs 5 --json demo.json
  lrfind demo --config lrfind.toml""",
)
@config_option
@click.option(
    "--epochs",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Training epochs after the test (0: test only).",
)
@optimizer_option(help="Optimizer name (see 'lrfind list').")
@scheduler_option(help="LR schedule of the training (see 'lrfind list').", default="onecycle")
@click.option(
    "--seed", type=Seed(), default=0, show_default=True, help="Seed of the data, the model and the data order."
)
@report_option
@click.option(
    "--json",
    "json_path",
    metavar="PATH|-",
    callback=check_text_output,
    help="Write the result as JSON ('-': stdout; the summary then goes to stderr).",
)
@progress_option
@common_options
@click.pass_context
def command(
    ctx: click.Context,
    epochs: int,
    optimizer: str,
    scheduler: str,
    seed: int,
    report: str,
    json_path: str | None,
    progress: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Run the built-in example (the command's help, :data:`_HELP`, says what it runs)."""
    debug = debug_flag(ctx, debug)
    setup_logging(quiet, debug)
    options = Options(
        batch_size=DEMO_BATCH_SIZE,
        loss="cross_entropy",
        min_lr=DEMO_MIN_LR,
        max_lr=DEMO_MAX_LR,
        num_steps=DEMO_NUM_STEPS,
        mode="exp",
        stop_factor=4.0,
        rule=DEFAULT_RULE,
        scaling="auto",
        optimizer=optimizer,
        device="cpu",
        seed=seed,
        scheduler=scheduler if epochs > 0 else None,
        epochs=epochs,
        train=epochs > 0,
        report=report,
        json_path=json_path,
        quiet=quiet,
        progress=progress,
        debug=debug,
        config=ctx.meta.get(CONFIG_META),
    )
    from .pipeline import check_options

    # The outputs are checked before the demo's minutes of work, as run's and fit's are.
    check_options(options)
    warn_quiet_progress(ctx, quiet, progress)
    with clean_errors(debug):
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        from ..demo import make_demo_data, make_demo_model
        from .loading import LoadedData, make_loss
        from .pipeline import Inputs, execute, seed_all

        x, y = make_demo_data(DEMO_SAMPLES + DEMO_VAL_SAMPLES, seed=seed)
        train = TensorDataset(x[:DEMO_SAMPLES], y[:DEMO_SAMPLES])
        val = TensorDataset(x[DEMO_SAMPLES:], y[DEMO_SAMPLES:])
        data = LoadedData(
            DataLoader(train, batch_size=DEMO_BATCH_SIZE, shuffle=True, generator=torch.Generator().manual_seed(seed)),
            DataLoader(val, batch_size=256),
            train,
            "demo",
            "class",
        )
        model = make_demo_model(seed=seed)
        # The demo model is tiny: one thread avoids the threading overhead that dominates its steps.
        torch.set_num_threads(1)
        seed_all(seed)
        inputs = Inputs(model, False, data, make_loss("cross_entropy"), "cpu", "built-in demo (generated data)")
        execute(options, inputs)
