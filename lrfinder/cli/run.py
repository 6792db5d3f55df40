"""``lrfind run``: the LR range test on a saved model; prints the suggestion, writes the outputs."""

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
    "run",
    short_help="Run the LR range test on a saved MODEL; print the suggested LR.",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  lrfind run model.pt --data train.npz
  lrfind run model.pt --data train.npz --optimizer adamw --target-batch-size 512 --json result.json
  lrfind run weights.pt --model-class mypkg.nets:Net --model-args '{"hidden": 64}' --data mypkg.data:train_set
  lrfind run model.ckpt --model-class mypkg.lit:LitNet --data train.pt --report curve.svg
  lrfind run model.pt --data train.csv --target label --weight-decay 0,1e-4,1e-3
  lrfind run model.pt --data train.npz --json - --no-report | jq .suggestion.lr
  lrfind run model.pt --data train.npz --refine --val-data val.npz --training-steps 5000 --schedule onecycle
  lrfind run model.pt --config lrfind.toml""",
)
@config_option
@model_options
@data_options
@sweep_options
@precision_option
@scheduler_option(help="Show this schedule's planned LR in the report (see 'lrfind list').")
@schedule_options
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Epochs of the planned schedule (--scheduler).",
)
@click.option("--val-data", type=DataSpec(), help="With --refine: validation data the trials are judged on.")
@refine_options
@click.option("--strict", is_flag=True, help="Exit with 1 when the curve is inconclusive.")
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
    scheduler: str | None,
    scheduler_opt: tuple[str, ...],
    warmup_steps: int,
    epochs: int,
    val_data: str | None,
    refine: bool,
    training_steps: int | None,
    refine_schedule: str | None,
    strict: bool,
    report: str,
    no_report: bool,
    json_path: str | None,
    csv_path: str | None,
    progress: str,
    quiet: bool,
    debug: bool,
) -> None:
    """Run the LR range test on a saved MODEL and print the suggested learning rate.

    MODEL is a TorchScript file, a Lightning .ckpt or a state_dict (with --model-class), or a
    pickled module (only with --unsafe-pickle). The input files are never modified.
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
        strict=strict,
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
