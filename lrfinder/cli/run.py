"""``lrfind run``: the LR range test on a saved model; prints the suggestion, writes the outputs."""

from __future__ import annotations

from typing import Any

import click

from .config import ConfigCommand
from .options import (
    CONTEXT,
    DataSpec,
    clip_options,
    common_options,
    config_option,
    curve_option,
    data_options,
    model_options,
    output_options,
    precision_option,
    progress_option,
    refine_options,
    schedule_options,
    scheduler_option,
    sweep_options,
)
from .pipeline import run_command

__all__ = ["command"]


@click.command(
    "run",
    cls=ConfigCommand,
    short_help="Run the LR range test on a saved MODEL; print the suggested LR.",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  lrfind run model.pt --data train.npz
  lrfind run model.pt --data train.npz --optimizer adamw --target-batch-size 512 --json result.json
  lrfind run weights.pt --model-class mypkg.nets:Net --model-args '{"hidden": 64}' --data mypkg.data:train_set
  lrfind run model.ckpt --model-class mypkg.lit:LitNet --data train.pt --report curve.svg
  lrfind run model.pt --data train.csv --target label --weight-decay 0,1e-4,1e-3
  lrfind run model.pt --data train.npz --json - --no-report | jq .lr
  lrfind run model.pt --data train.npz --refine --val-data val.npz --training-steps 5000 --schedule onecycle
  lrfind run model.pt --config lrfind.toml""",
)
@config_option
@model_options
@data_options
@sweep_options
@precision_option
@curve_option
@clip_options
@scheduler_option(help="Show this schedule's planned LR in the report (see 'lrfind list').")
@schedule_options
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Epochs of the planned schedule (--scheduler); with --refine, --training-steps sets its length instead.",
)
@click.option("--val-data", type=DataSpec(), help="With --refine: validation data the trials are judged on.")
@refine_options
@click.option("--strict", is_flag=True, help="Exit with 1 when the curve is inconclusive.")
@output_options
@progress_option
@common_options
@click.pass_context
def command(ctx: click.Context, /, **params: Any) -> None:
    """Run the LR range test on a saved MODEL and print the suggested learning rate.

    MODEL is a TorchScript file, a Lightning .ckpt or a state_dict (with --model-class), or a
    pickled module (only with --unsafe-pickle). The input files are never modified. To save your
    model for it: torch.jit.save(torch.jit.script(model), "model.pt"), or
    torch.save(model.state_dict(), "weights.pt") and --model-class mypkg.nets:Net; its data:
    numpy.savez("train.npz", x=inputs, y=targets), or a CSV with --target COLUMN.
    """
    run_command(ctx)
