"""The closed vocabularies of lrfinder: every name a user can type, in one light module.

Suggestion rules, scaling rules, sweep modes, losses, report formats, and the one-line summaries
of the optimizer and scheduler registries. Each list has its home here and only here: the
modules that implement the names (:mod:`lrfinder.analysis`, :mod:`lrfinder.scaling`,
:mod:`lrfinder.optimizers`, :mod:`lrfinder.schedulers`, the command line's loader) import them.

This module imports nothing but ``typing``, on purpose: ``lrfind --help`` and ``lrfind list``
show these names without importing torch, scipy or matplotlib (seconds each).

Example:
    >>> from lrfinder.names import RULES, DEFAULT_RULE
    >>> DEFAULT_RULE in RULES
    True

"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeVar, cast, get_args

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence

__all__ = [
    "Rule",
    "RULES",
    "DEFAULT_RULE",
    "RULE_DESCRIPTIONS",
    "ScalingRule",
    "SCALING_RULES",
    "AppliedScalingRule",
    "SCALING_SUMMARIES",
    "SweepMode",
    "SWEEP_MODES",
    "Curve",
    "CURVES",
    "Precision",
    "PRECISIONS",
    "RecordedPrecision",
    "RECORDED_PRECISIONS",
    "GradientClipAlgorithm",
    "GRADIENT_CLIP_ALGORITHMS",
    "GRADIENT_CLIP_ALIASES",
    "LossName",
    "LOSSES",
    "REPORT_FORMATS",
    "NOT_TEXT_OUTPUT_SUFFIXES",
    "OPTIMIZER_SUMMARIES",
    "SCHEDULER_SUMMARIES",
    "SCHEDULER_ALIASES",
    "OPTIMIZER_ALIASES",
    "PEER_OPTION_NAMES",
    "PEER_OPTIONS_WITHOUT_EQUIVALENT",
    "PEER_OPTION_FORMS",
    "TUNER_ONLY_OPTIONS",
    "TRAINER_SIDE_OPTIONS",
    "PEER_PLOT_OPTIONS",
    "PEER_ANALYSIS_OPTIONS",
    "SWEEP_MODE_ALIASES",
    "RULE_ALIASES",
    "PRECISION_ALIASES",
    "unknown_rule_hint",
    "did_you_mean",
    "did_you_mean_each",
    "scheduler_name",
    "peer_notes",
    "trainer_side",
]

_T = TypeVar("_T")

#: How :func:`lrfinder.analyze` reads the suggested LR off the curve.
Rule = Literal["divergence_div10", "min_div10", "valley", "steepest"]
#: Every value ``analyze(rule=...)`` accepts.
RULES: tuple[Rule, ...] = get_args(Rule)
#: The rule used when none is given (chosen by measurement, see ``benchmarks/RESULTS.md``).
DEFAULT_RULE: Rule = "divergence_div10"
#: One line per rule, for ``lrfind list`` and the docs.
RULE_DESCRIPTIONS: dict[Rule, str] = {
    "divergence_div10": "the divergence LR / 10, nearest swept LR at or below the minimum (default)",
    "min_div10": "the LR of the loss minimum / 10, nearest swept LR (the rule of thumb)",
    "valley": "the geometric middle of the falling region around the steepest descent (not fastai's valley rule)",
    "steepest": "the steepest descent of the smoothed loss over log LR (Lightning, torch-lr-finder)",
}

#: How :func:`lrfinder.scale_lr` moves an LR to another batch size.
ScalingRule = Literal["auto", "linear", "sqrt", "noise", "none"]
#: Every value ``scale_lr(rule=...)`` accepts.
SCALING_RULES: tuple[ScalingRule, ...] = get_args(ScalingRule)
#: The rule a scaling applied (``ScaledLR.rule``): :data:`ScalingRule`'s, ``"auto"`` resolved to the one it chose.
AppliedScalingRule = Literal["linear", "sqrt", "noise", "none"]
#: One line per scaling rule (``lrfind list``).
SCALING_SUMMARIES: dict[str, str] = {
    "auto": "noise when measured; else sqrt for adaptive optimizers, linear otherwise",
    "linear": "lr x k for batch x k (Goyal et al. 2017)",
    "sqrt": "lr x sqrt(k) (Hoffer et al. 2017)",
    "noise": "saturates at the measured critical batch (McCandlish et al. 2018)",
    "none": "keep the LR",
}

#: How the LR rises during the sweep: even steps in log LR, or in LR.
SweepMode = Literal["exp", "linear"]
#: Every value ``range_test(mode=...)`` accepts.
SWEEP_MODES: tuple[SweepMode, ...] = get_args(SweepMode)

#: Which loss a range test records at each step: the step's training loss, or the mean loss over ``val_data``
#: after the step (torch-lr-finder's ``val_loader``).
Curve = Literal["train", "val"]
#: Every value ``range_test(curve=...)`` accepts.
CURVES: tuple[Curve, ...] = get_args(Curve)

#: ``range_test(precision=...)`` and ``lrfind run --precision``, in Lightning's vocabulary: full
#: precision, autocast to bfloat16, or autocast to float16 with a ``GradScaler``.
Precision = Literal["32", "bf16-mixed", "16-mixed"]
#: Every value ``range_test(precision=...)`` accepts.
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
#: Lightning's other spellings of :data:`PRECISIONS` (``Trainer(precision="bf16")``) -> the name each means;
#: ``range_test`` also takes the integers ``32`` and ``16`` for one.
PRECISION_ALIASES: dict[str, str] = {
    "32-true": "32", "16": "16-mixed", "bf16": "bf16-mixed", "16-true": "16-mixed", "bf16-true": "bf16-mixed",
}  # fmt: skip
#: What a result's ``settings.precision`` records: a :data:`Precision` of ``range_test``, or the
#: precision of the Lightning ``Trainer`` the ``LRFinder`` callback's test ran under (its name, with
#: ``"32-true"`` written ``"32"``): weights cast to bfloat16, float16 or float64 (``"*-true"``), or
#: NVIDIA Transformer Engine's.
RecordedPrecision = Literal[
    "32", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true",
    "transformer-engine", "transformer-engine-float16",
]  # fmt: skip
#: Every value of ``settings.precision`` this version knows; ``from_json`` reads another name (a
#: precision a newer Lightning added, recorded by the callback) with a warning.
RECORDED_PRECISIONS: tuple[RecordedPrecision, ...] = get_args(RecordedPrecision)

#: How the range test clips gradients (Lightning's ``gradient_clip_algorithm``): the total
#: L2 norm (``torch.nn.utils.clip_grad_norm_``) or each value (``clip_grad_value_``).
GradientClipAlgorithm = Literal["norm", "value"]
#: Every value ``range_test(gradient_clip_algorithm=...)`` accepts.
GRADIENT_CLIP_ALGORITHMS: tuple[GradientClipAlgorithm, ...] = get_args(GradientClipAlgorithm)
#: Other names for the clipping algorithms (the norm's order, torch's functions) -> the one each means, for the
#: refusal's hint: ``l2`` was told only the two names.
GRADIENT_CLIP_ALIASES: dict[str, str] = {
    "l2": "norm", "2": "norm", "l2_norm": "norm", "clip_grad_norm": "norm", "clip_grad_value": "value",
}  # fmt: skip

#: The losses the command line builds from a name (``--loss``).
LossName = Literal["cross_entropy", "nll", "mse", "l1", "smooth_l1", "huber", "bce_with_logits"]
#: Every loss name, with what it expects.
LOSSES: dict[str, str] = {
    "cross_entropy": "class logits (N, C) vs integer labels (N,)",
    "nll": "log-probabilities (N, C) vs integer labels (N,)",
    "mse": "mean squared error (regression)",
    "l1": "mean absolute error (regression)",
    "smooth_l1": "Huber-like, beta=1 (regression)",
    "huber": "Huber, delta=1 (regression)",
    "bce_with_logits": "binary/multi-label logits vs 0/1 targets",
}

#: The report formats, by file extension (matplotlib picks the writer from it).
REPORT_FORMATS: tuple[str, ...] = (".png", ".svg", ".pdf")

#: Image extensions that are not report formats (matplotlib writes some of them, lrfind's ``--report`` refuses them):
#: a model, JSON or CSV written under one (``lrfind fit -o t.jpg``) is no image.
OTHER_IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".eps", ".ps")

#: Extensions a JSON or CSV output is never written under, by what such a file holds: the text written over a model,
#: data, a report or a config replaced it. One rule for ``RangeTestResult.to_json`` and ``lrfind --json``/``--csv``
#: (each takes its own extension), which refused different lists (``.safetensors`` against ``.toml``).
NOT_TEXT_OUTPUT_SUFFIXES: dict[str, str] = {
    **dict.fromkeys((".pt", ".pth", ".ckpt", ".safetensors", ".onnx"), "a model"),
    **dict.fromkeys((".npz", ".npy", ".csv", ".tsv"), "data"),
    **dict.fromkeys(REPORT_FORMATS, "a report image"),
    **dict.fromkeys(OTHER_IMAGE_SUFFIXES, "an image"),
    ".json": "a JSON result",
    **dict.fromkeys((".toml", ".yaml", ".yml"), "a config file"),
    ".py": "Python source",
}

#: One line per optimizer registry name (:data:`lrfinder.OPTIMIZERS` takes its summaries from here).
OPTIMIZER_SUMMARIES: dict[str, str] = {
    "sgd": "plain SGD: w <- w - lr * g",
    "momentum": "SGD with heavy-ball momentum: v <- m v + g; w <- w - lr v",
    "nesterov": "SGD with Nesterov momentum (gradient at the look-ahead point)",
    "adagrad": "Adagrad: s <- s + g^2; w <- w - lr g / (sqrt(s) + eps)",
    "rmsprop": "RMSprop: s <- alpha s + (1-alpha) g^2; w <- w - lr g / (sqrt(s) + eps)",
    "adadelta": "Adadelta: RMS of past updates over RMS of gradients, times lr",
    "adam": "Adam: bias-corrected first and second moments",
    "amsgrad": "Adam with the AMSGrad running maximum of v",
    "adamw": "Adam with decoupled weight decay",
    "nadam": "Adam with Nesterov momentum",
    "radam": "Rectified Adam: variance-rectified adaptive LR (built-in warm-up)",
    "yogi": "Yogi: Adam with an additive, sign-controlled second moment (eps 1e-3)",
}

#: One line per scheduler registry name (:data:`lrfinder.SCHEDULERS` takes its summaries from here).
SCHEDULER_SUMMARIES: dict[str, str] = {
    "constant": "fixed LR",
    "step": "multiply by gamma every step_size steps (StepLR)",
    "multistep": "multiply by gamma at each milestone (MultiStepLR)",
    "exponential": "multiply by gamma every step (ExponentialLR)",
    "inverse": "Caffe inv: (1 + gamma t) ** -power; power=1 is 1/t decay",
    "polynomial": "polynomial decay to 0 at total_steps (PolynomialLR)",
    "factor": "multiply by factor every step_size steps, floored at eta_min",
    "cosine": "cosine annealing to eta_min at total_steps (CosineAnnealingLR)",
    "onecycle": "one cycle up to max_lr and far down, momentum cycled inversely (OneCycleLR)",
    "cyclic": "cyclical LR between base_lr and max_lr: triangular, triangular2, exp_range (CyclicLR)",
    "plateau": "reduce by factor when monitor stops improving, floored at min_lr (ReduceLROnPlateau)",
}

#: Other names of the schedules (Caffe's ``lr_policy``, torch's classes, the literature), for
#: :func:`did_you_mean`: an unknown name that is one of these is answered with the registry name.
SCHEDULER_ALIASES: dict[str, str] = {
    "fixed": "constant",
    "const": "constant",
    "multi_step": "multistep",
    "exp": "exponential",
    "inv": "inverse",
    "poly": "polynomial",
    "cos": "cosine",
    "cosine_annealing": "cosine",
    "one_cycle": "onecycle",
    "1cycle": "onecycle",
    "clr": "cyclic",
    "cyclical": "cyclic",
    "reduce_on_plateau": "plateau",
    "reduce_lr_on_plateau": "plateau",
    "StepLR": "step",
    "MultiStepLR": "multistep",
    "ExponentialLR": "exponential",
    "PolynomialLR": "polynomial",
    "CosineAnnealingLR": "cosine",
    "OneCycleLR": "onecycle",
    "CyclicLR": "cyclic",
    "ReduceLROnPlateau": "plateau",
    "ConstantLR": "constant",
}

#: Other names of the registry's optimizers, for :func:`did_you_mean`.
OPTIMIZER_ALIASES: dict[str, str] = {
    "nag": "nesterov",
    "heavy_ball": "momentum",
    "sgd_momentum": "momentum",
    "sgd_nesterov": "nesterov",
    "adam_amsgrad": "amsgrad",
}


#: The peers' names for the sweep's options -> lrfinder's: Lightning's ``Tuner.lr_find`` and
#: ``LearningRateFinder``, torch-lr-finder's ``range_test``, fastai's ``lr_find``. For
#: :func:`did_you_mean` on an unknown option, so a call moved from a peer is answered with the name.
PEER_OPTION_NAMES: dict[str, str] = {
    "num_training": "num_steps",
    "num_training_steps": "num_steps",
    "num_iter": "num_steps",
    "num_it": "num_steps",
    "start_lr": "min_lr",
    "end_lr": "max_lr",
    "early_stop_threshold": "stop_factor",
    "diverge_th": "stop_factor",
    "stop_div": "stop_factor",
    "step_mode": "mode",
    "accumulation_steps": "accumulate_steps",
    "suggest_funcs": "rule",
    "criterion": "loss_fn",
    # torch-lr-finder's LRFinder(amp_backend="torch", amp_config={"dtype": ...}): docs/migrating.md's table maps both to
    # precision= ("bf16-mixed", or "16-mixed" with grad_scaler=).
    "amp_backend": "precision",
    "amp_config": "precision",
}

_SUGGEST_FUNCS = (
    "fastai's suggest_funcs is rule= here, one rule per reading: rule='min_div10', 'steepest' or 'valley' "
    "(the default 'divergence_div10' has none in fastai, nor fastai's slide here); result.analyze(rule=...) reads "
    "the same curve by another rule."
)

#: The peers' options whose lrfinder name takes its value in another form -> how. fastai's
#: ``lr_find(suggest_funcs=(minimum, steep), stop_div=False)`` moved to ``range_test`` was told only "Did you mean
#: 'rule'?" (which takes one name, not a tuple of functions) and "Did you mean 'stop_factor'?" (a number, where
#: ``False`` is ``None``). See :func:`peer_notes`.
PEER_OPTION_FORMS: dict[str, str] = {
    "suggest_funcs": _SUGGEST_FUNCS,
    "stop_div": (
        "fastai's stop_div=False is stop_factor=None here (never stop early); stop_div=True is the default "
        "stop_factor=4.0."
    ),
}

#: The peers' options lrfinder has no counterpart for -> what to do instead. A call moved from a peer
#: with one of them got Python's bare "unexpected keyword argument", which reads as a typo; docs/migrating.md's
#: "Coming from another LR finder" tables say the same. See :func:`peer_notes`.
PEER_OPTIONS_WITHOUT_EQUIVALENT: dict[str, str] = {
    "val_loader": (
        "torch-lr-finder's val_loader is range_test(..., val_data=val_loader, curve='val') here: the curve is then the "
        "mean loss over val_data after every step. The Lightning callback's is LRFinder(curve='val'), over the fit's "
        "validation loader."
    ),
    "smooth_f": (
        "torch-lr-finder's smooth_f has no equivalent: result.losses are the raw losses, and the stop rule "
        "smooths them itself (DivergenceMonitor)."
    ),
    "memory_cache": (
        "torch-lr-finder's memory_cache has no equivalent: the state is copied in the model's device memory and "
        "put back afterwards (restore=True), never written to disk."
    ),
    "cache_dir": (
        "torch-lr-finder's cache_dir has no equivalent: the state is copied in the model's device memory and "
        "put back afterwards (restore=True), never written to disk."
    ),
    "update_attr": (
        "Lightning's update_attr has no equivalent: LRFinder sets the module's LR attribute "
        "(attr_name= names it) and trains with it in the same fit; attr_name=False sets none and rescales the "
        "optimizers' LRs to the found LR instead."
    ),
    "non_blocking_transfer": (
        "torch-lr-finder's non_blocking_transfer has no equivalent: batches are moved to the device with "
        "non_blocking=True already; drop it."
    ),
    "show_plot": (
        "fastai's show_plot has no equivalent: the test draws nothing; lrfinder.plot_range_test(result) returns the "
        "curve's figure, lrfinder.save_report(result, path) writes it."
    ),
    "milestones": (
        "Lightning's LearningRateFinder milestones have no equivalent: call trainer.fit once per stage on the "
        "same Trainer (raise trainer.fit_loop.max_epochs between them); each fit runs the test again."
    ),
}

#: Lightning's ``Tuner.lr_find`` options that ``find_lr`` has no counterpart for -> what to pass instead. A call
#: moved from the tuner got only the list of ``find_lr``'s options (``method`` difflib's "Did you mean 'mode'?").
TUNER_ONLY_OPTIONS: dict[str, str] = {
    "dataloaders": (
        "Lightning's dataloaders (the loaders of validate/test/predict) are not read by a fit; pass the training "
        "loader as train_dataloaders=."
    ),
    "method": (
        "Lightning's method has no equivalent: find_lr always runs the test in a fit (Tuner.lr_find's only "
        "method='fit'); drop it."
    ),
}

#: ``range_test``'s options that the Lightning callback and ``find_lr`` take from the Trainer or the
#: LightningModule instead -> where to set them. A call moved from ``range_test`` (or torch-lr-finder's
#: ``accumulation_steps``) to ``LRFinder`` got difflib's guess instead ("Did you mean 'num_steps'?", for
#: ``step_fn`` "Did you mean 'self'?"). See :func:`peer_notes`.
TRAINER_SIDE_OPTIONS: dict[str, str] = {
    "accumulate_steps": "the test accumulates as the fit does: set Trainer(accumulate_grad_batches=...).",
    "precision": "the test runs at the fit's precision: set Trainer(precision=...).",
    "gradient_clip_val": (
        "the test clips as the fit does: set Trainer(gradient_clip_val=..., gradient_clip_algorithm=...)."
    ),
    "gradient_clip_algorithm": (
        "the test clips as the fit does: set Trainer(gradient_clip_val=..., gradient_clip_algorithm=...)."
    ),
    "grad_scaler": "the fit's precision plugin holds the GradScaler: set Trainer(precision='16-mixed').",
    "device": "the test runs where the Trainer puts the module: set Trainer(accelerator=..., devices=...).",
    "loss_fn": "the test's loss is the one the LightningModule's training_step returns.",
    "step_fn": "the test's loss is the one the LightningModule's training_step returns.",
    "restore": "the module, its optimizers, the RNGs and the data order are always put back after the test.",
    "val_data": (
        "curve='val' records the loss on the fit's validation loader (its first val_batches batches), and refine= "
        "judges its trials on it (else on held-out training batches)."
    ),
    "on_step": "the test's progress is the fit's 'Finding LR' bar, and its curve goes to the Trainer's loggers.",
}

_SKIP = (
    "The peers' skip_start and skip_end (torch-lr-finder's plot, fastai's plot_lr_find) have no equivalent: the whole "
    "curve is drawn, its blow-up marked (nothing past it is read); to zoom, draw the loss panel into an axes of your "
    "own (ax=ax) and set its limits (ax.set_xlim(lo, hi))."
)
_SUGGEST = (
    "has no equivalent: the suggested LR is always marked when the curve gives one; its value is "
    "result.suggestion.lr (None, with result.error saying why, on a curve that cannot be read)."
)

#: The options of the peers' plots (torch-lr-finder's ``lr_finder.plot``, Lightning's ``lr_finder.plot``, fastai's
#: ``plot_lr_find``) -> what :func:`lrfinder.plot_range_test` does instead. A plot call moved from a peer got Python's
#: bare "unexpected keyword argument", though docs/migrating.md's tables map its ``plot(ax=ax)``.
PEER_PLOT_OPTIONS: dict[str, str] = {
    "skip_start": _SKIP,
    "skip_end": _SKIP,
    "log_lr": (
        "torch-lr-finder's log_lr has no equivalent: the LR axis is logarithmic, as the curve is read against log LR; "
        "for a linear one, draw into an axes of your own (ax=ax) and call ax.set_xscale('linear')."
    ),
    "show_lr": (
        "torch-lr-finder's show_lr has no equivalent: draw into an axes of your own (ax=ax) and mark the LR with "
        "ax.axvline(lr)."
    ),
    "suggest_lr": "torch-lr-finder's suggest_lr " + _SUGGEST,
    "suggest": "Lightning's suggest " + _SUGGEST,
    "suggestions": "fastai's suggestions " + _SUGGEST,
    "show": (
        "Lightning's show has no equivalent: plot_range_test returns the Figure and shows nothing; write it with "
        "fig.savefig('lr.png'), or end a notebook cell with fig (README, The report)."
    ),
    "return_fig": "fastai's return_fig has no equivalent: plot_range_test always returns the Figure.",
}


_SKIP_READ = (
    "The peers' skip_begin, skip_start and skip_end (Lightning's suggestion, torch-lr-finder's plot) have no "
    "equivalent: the whole curve is read (smoothed by a zero-lag filter), and nothing past its blow-up; to leave LRs "
    "out, run the test over the range you want (min_lr=, max_lr=)."
)

#: The options of the peers' suggestion functions (Lightning's ``lr_finder.suggestion(skip_begin=10, skip_end=1)``,
#: fastai's ``suggest_funcs``) -> what :func:`lrfinder.analyze` and ``result.analyze`` do instead.
PEER_ANALYSIS_OPTIONS: dict[str, str] = {
    "skip_begin": _SKIP_READ,
    "skip_start": _SKIP_READ,
    "skip_end": _SKIP_READ,
    "suggest_funcs": _SUGGEST_FUNCS,
}


#: The peers' names for a suggestion rule (fastai's ``minimum`` and ``steep`` functions, Lightning's and
#: torch-lr-finder's steepest-gradient pick) -> lrfinder's, offered when a rule name is unknown.
RULE_ALIASES: dict[str, str] = {
    "minimum": "min_div10",
    "min": "min_div10",
    "steep": "steepest",
    "gradient": "steepest",
    "lightning": "steepest",
    "divergence": "divergence_div10",
}


def unknown_rule_hint(value: object) -> str:
    """The close rule names to an unknown ``rule=`` value, a sentence to end the refusal with (or ``""``).

    ``rule="minimum"`` (fastai's function) or ``rule="divergence"`` listed the rules and left the user to match them.
    Several names at once (fastai's ``suggest_funcs=(minimum, steep)`` as ``rule=("min_div10", "steepest")``) are
    told that a reading takes one.
    """
    if isinstance(value, (list, tuple, set, frozenset)) and value:
        return " rule= takes one rule; read the same curve by each of several with result.analyze(rule=...)."
    if isinstance(value, str) and _fold(value) == "slide":
        # fastai's fourth suggest_func: no rule is close to it, and difflib's guess would be none at all.
        return (
            " fastai's slide has no equivalent here: suggestion.min_loss_lr and suggestion.divergence_lr say where the"
            " fall ends (docs/migrating.md)."
        )
    return did_you_mean(value, RULES, RULE_ALIASES)


#: The peers' names for a sweep mode (Lightning's ``mode="exponential"``) -> lrfinder's.
SWEEP_MODE_ALIASES: dict[str, str] = {"exponential": "exp", "exponent": "exp", "log": "exp", "lin": "linear"}


def _fold(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def scheduler_name(name: _T) -> _T:
    """The scheduler registry name ``name`` spells in another case or with ``-``, ``_`` or spaces, else ``name``.

    Optimizer names are matched without regard to case (``"AdamW"``); scheduler names are too, and
    ``"one-cycle"`` is ``"onecycle"``. Every caller keeps the registry name this returns, so stored
    and printed names, and the checks that compare them (``"plateau"``, ``"onecycle"``), are canonical.
    Other spellings (:data:`SCHEDULER_ALIASES`, torch's class names) stay unknown, answered by
    :func:`did_you_mean`.

    Example:
        >>> scheduler_name("Cosine"), scheduler_name("one-cycle"), scheduler_name("cos")
        ('cosine', 'onecycle', 'cos')

    """
    if not isinstance(name, str) or name in SCHEDULER_SUMMARIES:
        return name
    key = _fold(name)
    return cast("_T", next((known for known in SCHEDULER_SUMMARIES if _fold(known) == key), name))


def did_you_mean(name: object, choices: Iterable[str], aliases: Mapping[str, str] | None = None) -> str:
    """The close names to an unknown ``name``, as a sentence to end an error message with.

    Case, ``-``, ``_`` and spaces are ignored; an alias answers with its registry name; else
    ``difflib``'s close matches: the three closest, and any as close as the third.

    Args:
        name: The unknown name.
        choices: The valid names.
        aliases: Other spellings -> a valid name.

    Returns:
        ``" Did you mean 'exponential'?"``, or ``""`` when nothing is close.

    Example:
        >>> did_you_mean("exp", SCHEDULER_SUMMARIES, SCHEDULER_ALIASES)
        " Did you mean 'exponential'?"
        >>> did_you_mean("zzz", SCHEDULER_SUMMARIES)
        ''

    """
    if not isinstance(name, str) or not name:
        return ""
    import difflib  # only on an error: this module stays import-free

    folded: dict[str, str] = {}
    for choice in choices:
        folded.setdefault(_fold(choice), choice)
    for alias, target in (aliases or {}).items():
        folded.setdefault(_fold(alias), target)
    key = _fold(name)
    if key in folded:
        hits = [folded[key]]
    else:
        # difflib's close matches (get_close_matches' ratio and cutoff), the three closest and every name as close as
        # the third: a cut at three dropped one of names tied with it ('adamm': adam, radam, nadam, not adamw).
        scored = sorted(((difflib.SequenceMatcher(None, k, key).ratio(), k) for k in folded), reverse=True)
        close = [(ratio, k) for ratio, k in scored if ratio >= 0.6]
        hits = [folded[k] for i, (ratio, k) in enumerate(close) if i < 3 or ratio == close[2][0]]
    hits = [h for h in dict.fromkeys(hits) if h != name]
    if not hits:
        return ""
    return " Did you mean " + " or ".join(repr(h) for h in hits) + "?"


def did_you_mean_each(
    names: Sequence[str], choices: Iterable[str], aliases: Mapping[str, str] | None = None, *, named: bool = False
) -> str:
    """:func:`did_you_mean` for several unknown names (settings), each named when there are several.

    ``aliases`` (other spellings -> a valid name) are passed on to :func:`did_you_mean`; an alias
    whose name is not among ``choices`` is not offered. ``named`` names a lone one too (the message
    listed others, answered otherwise).

    Example:
        >>> did_you_mean_each(["gama"], ["gamma", "step_size"])
        " Did you mean 'gamma'?"
        >>> did_you_mean_each(["gama", "stepsize"], ["gamma", "step_size"])
        " For 'gama': did you mean 'gamma'? For 'stepsize': did you mean 'step_size'?"
        >>> did_you_mean_each(["num_training"], ["num_steps", "max_lr"], PEER_OPTION_NAMES)
        " Did you mean 'num_steps'?"

    """
    choices = list(choices)
    if aliases is not None:
        aliases = {alias: name for alias, name in aliases.items() if name in choices}
    if len(names) == 1 and not named:
        return did_you_mean(names[0], choices, aliases)
    hints = [(name, did_you_mean(name, choices, aliases)) for name in names]
    return "".join(f" For {name!r}: d{hint[2:]}" for name, hint in hints if hint)


def trainer_side(name: str, accepted: Collection[str]) -> str | None:
    """Where the Lightning callback takes ``name`` from, when the function called does not take it.

    ``name`` is one of ``range_test``'s options (:data:`TRAINER_SIDE_OPTIONS`), or a peer's name for one
    (``accumulation_steps``, ``criterion``); ``None`` when it is not, or ``accepted`` takes it.

    Example:
        >>> trainer_side("accumulation_steps", ["num_steps"])
        'the test accumulates as the fit does: set Trainer(accumulate_grad_batches=...).'
        >>> trainer_side("accumulation_steps", ["accumulate_steps"]) is None
        True

    """
    target = PEER_OPTION_NAMES.get(name, name)
    if target in accepted:
        return None
    return TRAINER_SIDE_OPTIONS.get(target)


def peer_notes(names: Iterable[str], accepted: Collection[str] | None = None) -> str:
    """What to do instead of each peer option in ``names`` that lrfinder has no counterpart for.

    Args:
        names: Unknown option names; those not in :data:`PEER_OPTIONS_WITHOUT_EQUIVALENT` or
            :data:`PEER_OPTION_FORMS` add nothing.
        accepted: The options of the function called; given, each of ``range_test``'s options it does not take
            (the callback's, ``find_lr``'s) is told where it is set instead (:func:`trainer_side`).

    Returns:
        The notes, each after a space, to end an error message with; ``""`` when none applies.

    Example:
        >>> peer_notes(["smooth_f", "zzz"])[:45]
        " torch-lr-finder's smooth_f has no equivalent"
        >>> peer_notes(["num_steps"])
        ''
        >>> peer_notes(["precision"], accepted=["num_steps"])
        " For 'precision': the test runs at the fit's precision: set Trainer(precision=...)."

    """
    notes = {**PEER_OPTIONS_WITHOUT_EQUIVALENT, **PEER_OPTION_FORMS}
    said = []
    for name in names:
        side = trainer_side(name, accepted) if accepted is not None else None
        if name in notes:
            said.append(f" {notes[name]}")
        elif side is not None:
            said.append(f" For {name!r}: {side}")
    return "".join(said)


#: The loggers Lightning writes its banners and tips to (device summaries, hints): the CLI and
#: :func:`lrfinder.training.train` keep them at WARNING, since they are not results.
LIGHTNING_LOGGERS: tuple[str, ...] = ("pytorch_lightning", "lightning.pytorch", "lightning.fabric", "lightning")
