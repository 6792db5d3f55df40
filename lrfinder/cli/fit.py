"""``lrfind fit``: the range test, then training with the found LR (:func:`lrfinder.train`), saved."""

from __future__ import annotations

import click

from .errors import clean_errors, debug_flag
from .options import (
    CONTEXT,
    DataSpec,
    Options,
    common_options,
    config_option,
    data_options,
    key_values,
    model_options,
    optimizer_settings,
    output_options,
    precision_option,
    progress_option,
    refine_options,
    schedule_options,
    scheduler_option,
    sweep_options,
    warn_unused_options,
)
from .output import setup_logging

__all__ = ["command"]


@click.command(
    "fit",
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
    type=click.Path(dir_okay=False),
    help="Where to save the trained model (same format as MODEL).",
)
@sweep_options
@precision_option
@refine_options
@output_options
@progress_option
@common_options
@click.pass_context
def command(
    ctx: click.Context,
    model: str,
    model_class: str | None,
    model_args: str | None,
    unsafe_pickle: bool,
    data: str,
    x_key: str | None,
    y_key: str | None,
    target: str | None,
    val_data: str | None,
    epochs: int,
    scheduler: str | None,
    scheduler_opt: tuple[str, ...],
    warmup_steps: int,
    output: str,
    min_lr: float,
    max_lr: float,
    num_steps: int,
    mode: str,
    stop_factor: float | None,
    precision: str,
    rule: str,
    batch_size: int,
    target_batch_size: int | None,
    scaling: str,
    optimizer: str,
    weight_decay: tuple[float, ...] | None,
    momentum: float | None,
    betas: str | None,
    eps: float | None,
    opt_settings: tuple[str, ...],
    loss: str | None,
    device: str,
    seed: int,
    refine: bool,
    training_steps: int | None,
    refine_schedule: str | None,
    report: str,
    no_report: bool,
    json_path: str | None,
    csv_path: str | None,
    progress: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Run the range test on MODEL, then train it with the found LR and save it to --output.

    Training runs through Lightning with the chosen --optimizer and --scheduler; the train (and
    validation) loss is printed after every epoch. A weight-decay list trains with the
    recommended value. The LR is scaled to --target-batch-size, and training then uses that
    batch size. A LightningModule's hparams.lr (or learning_rate) in the output is the LR it
    was trained at (a schedule's peak), and its hparams.weight_decay (or wd) the weight decay;
    MODEL itself is never written.
    """
    debug = debug_flag(ctx, debug)
    setup_logging(quiet, debug)
    options = Options(
        model=model,
        model_class=model_class,
        model_args=model_args,
        unsafe_pickle=unsafe_pickle,
        data=data,
        val_data=val_data,
        x_key=x_key,
        y_key=y_key,
        target=target,
        batch_size=batch_size,
        loss=loss,
        min_lr=min_lr,
        max_lr=max_lr,
        num_steps=num_steps,
        mode=mode,
        stop_factor=stop_factor,
        precision=precision,
        rule=rule,
        target_batch_size=target_batch_size,
        scaling=scaling,
        optimizer=optimizer,
        optimizer_settings=optimizer_settings(
            momentum=momentum,
            betas=betas,
            eps=eps,
            opt_settings=opt_settings,
            optimizer=optimizer,
            weight_decays=weight_decay,
            device=device,
        ),
        weight_decays=weight_decay,
        device=device,
        seed=seed,
        scheduler=scheduler,
        scheduler_settings=key_values(scheduler_opt, "--scheduler-opt"),
        warmup_steps=warmup_steps,
        epochs=epochs,
        refine=refine,
        training_steps=training_steps,
        refine_schedule=refine_schedule,
        train=True,
        output=output,
        strict=True,
        report=None if no_report else report,
        json_path=json_path,
        csv_path=csv_path,
        quiet=quiet,
        progress=progress,
        debug=debug,
    )
    from .pipeline import check_options, execute, load_inputs

    check_options(options)
    warn_unused_options(ctx, options)
    with clean_errors(debug):
        execute(options, load_inputs(options))
