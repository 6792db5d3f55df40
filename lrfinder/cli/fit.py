"""``lrfind fit``: the range test, then training with the found LR (:func:`lrfinder.train`), saved."""

from __future__ import annotations

from typing import Any

import click

from .config import ConfigCommand
from .options import (
    CONTEXT,
    DataSpec,
    FilePath,
    check_model_output,
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
    "fit",
    cls=ConfigCommand,
    short_help="Range test on MODEL, then train it with the found LR and save it.",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  lrfind fit model.pt --data train.npz --epochs 5 --output trained.pt
  lrfind fit model.pt --data train.npz --val-data val.npz --epochs 10 --optimizer adamw --scheduler onecycle -o out.pt
  lrfind fit model.pt --data train.npz --val-data val.npz --epochs 10 --scheduler onecycle --refine -o out.pt
  lrfind fit weights.pt --model-class mypkg.nets:Net --data train.csv --target y --loss mse --output trained-weights.pt
  lrfind fit model.ckpt --model-class mypkg.lit:LitNet --data mypkg.data:datamodule --epochs 3 --output tuned.ckpt
  lrfind fit model.pt --data train.npz --weight-decay 0,1e-4,1e-3 --epochs 5 --output trained.pt""",
)
@config_option
@model_options
@data_options
@click.option("--val-data", type=DataSpec(), help="Validation data (same forms as --data).")
@click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True, help="Training epochs.")
@scheduler_option(help="LR schedule over the training steps (see 'lrfind list'); default constant.")
@schedule_options
@click.option(
    "--output",
    "-o",
    required=True,
    type=FilePath(dir_okay=False),
    callback=check_model_output,
    help="Where to save the trained model, in MODEL's format; a .ckpt output is a Lightning checkpoint (MODEL must "
    "be a LightningModule).",
)
@sweep_options
@precision_option
@curve_option
@clip_options
@refine_options
@output_options
@progress_option
@common_options
@click.pass_context
def command(ctx: click.Context, /, **params: Any) -> None:
    """Run the range test on MODEL, then train it with the found LR and save it to --output.

    Training runs through Lightning with the chosen --optimizer and --scheduler; the train (and
    validation) loss is printed after every epoch. A weight-decay list trains with the
    recommended value. The LR is scaled to --target-batch-size, and training then uses that
    batch size. A LightningModule's hparams.lr (or learning_rate) in the output is the LR it
    was trained at (a schedule's peak), and its hparams.weight_decay (or wd) the weight decay;
    MODEL itself is never written. The output keeps MODEL's format (TorchScript, state_dict,
    pickle or checkpoint); an output named .ckpt is a Lightning checkpoint, so a LightningModule
    read from a state_dict is saved as one, and any other model is refused. A state_dict's (or
    checkpoint's) weights keep the file's dtype (float16, bfloat16) when --model-class builds
    them in another: the test and training run in the model's.
    """
    run_command(ctx, train=True, strict=True)
