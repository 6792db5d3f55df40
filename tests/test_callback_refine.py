"""``LRFinder(refine=True)``: the engine's trial round inside a real ``Trainer.fit`` (issue 12, section 2)."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from _models import FAST, GAN, TINY_FIT_WARNINGS, CriticStepping, Net, make_loader, pl, trainer, weights

from lrfinder import ModelError, Refine
from lrfinder._rescaling import _schedule_name
from lrfinder.callback import LRFinder

CSVLogger = pl.loggers.CSVLogger

pytestmark = [
    pytest.mark.usefixtures("seeded_one_thread"),
    pytest.mark.filterwarnings(*TINY_FIT_WARNINGS),
]


class ValNet(Net):
    """``Net`` with a validation step, so the fit has a validation loader."""

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.head(self.body(x)), y)
        self.log("val_loss", loss)
        return loss


def _fit(root: Path, lr: float, finder: LRFinder | None, *, val: bool, **kwargs: Any) -> tuple[Net, Any]:
    pl.seed_everything(7, verbose=False)
    model = ValNet(lr=lr) if val else Net(lr=lr)
    t = trainer(root, [finder] if finder is not None else [], max_steps=100, **kwargs)
    t.fit(model, make_loader(), make_loader(256, shuffle=False) if val else None)
    return model, t


def test_refine_with_val_loader_trains_at_the_refined_lr_bit_identical(tmp_path: Path) -> None:
    finder = LRFinder(**FAST, refine=True)
    csv_logger = CSVLogger(tmp_path, name="logs")
    model_a, t_a = _fit(tmp_path / "a", 0.01, finder, val=True, logger=csv_logger, log_every_n_steps=1)
    result = finder.result
    assert result is not None and result.suggestion is not None
    f = result.refinement
    assert f is not None and f.lr is not None and f.judged_on == "val_data"
    assert f.training_steps == 100 and f.schedule == "constant"
    assert len(f.trials) >= 3 and all(t.steps == f.trials[0].steps for t in f.trials)
    assert f.cost_steps <= f.budget * f.training_steps
    assert result.lr == f.lr == finder.applied_lr == model_a.lr
    assert all(e[1] == (f.lr,) for e in model_a.train_events())
    # The trials are logged as metrics and written next to the curve.
    metrics = t_a.callback_metrics
    assert metrics["lr_finder/refined_lr"].item() == pytest.approx(f.lr)
    for i, trial in enumerate(f.trials):
        assert metrics[f"lr_finder/trial_{i}_lr"].item() == pytest.approx(trial.lr)
    with open(Path(csv_logger.log_dir) / "lr_finder_trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["lr"]) for r in rows] == pytest.approx([t.lr for t in f.trials])
    assert sum(int(r["picked"]) for r in rows) == 1
    # Bit-identical to a fit with that LR set by hand: the trials left nothing behind.
    model_b, _ = _fit(tmp_path / "b", f.lr, None, val=True, logger=False)
    wa, wb = weights(model_a), weights(model_b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "fit with refine differs from fit with the LR set by hand"


@pytest.mark.parametrize(("precision", "dtype"), [("bf16-mixed", torch.bfloat16), ("64-true", torch.float64)])
def test_refine_judges_the_trials_under_the_fits_precision(tmp_path: Path, precision: str, dtype: torch.dtype) -> None:
    """Autocast (bf16-mixed) and cast weights with cast inputs (64-true: convert_input) as in the fit."""
    seen: set[torch.dtype] = set()

    class Recorded(ValNet):
        def on_fit_start(self) -> None:
            self.head.register_forward_hook(lambda module, args, out: seen.add(out.dtype))

    pl.seed_everything(7, verbose=False)
    finder = LRFinder(**FAST, refine=Refine(candidates=2, extend=0))
    t = trainer(tmp_path, [finder], max_steps=20, precision=precision)
    t.fit(Recorded(lr=0.01), make_loader(), make_loader(256, shuffle=False))
    f = finder.result.refinement  # type: ignore[union-attr]
    assert f is not None and f.judged_on == "val_data" and len(f.trials) == 2
    assert all(len(trial.held_out_losses) > 0 for trial in f.trials if not trial.diverged)
    assert all(math.isfinite(trial.held_out_loss) for trial in f.trials if not trial.diverged)
    # The sweep, the trials, their held-out losses and the fit: all in the fit's precision.
    assert seen == {dtype}


@pytest.mark.parametrize("enabled", [True, False])
def test_refine_shows_its_trials_on_the_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], enabled: bool
) -> None:
    # The sweep had a bar; the trials after it, which can take longer, showed nothing.
    finder = LRFinder(**FAST, refine=True)
    _fit(tmp_path, 0.01, finder, val=True, enable_progress_bar=enabled)
    assert finder.result is not None and finder.result.refinement is not None
    assert finder.result.refinement.trials
    out = capsys.readouterr()
    assert ("Refining LR" in out.out + out.err) is enabled


def test_refine_without_val_loader_holds_out_training_batches(tmp_path: Path) -> None:
    finder = LRFinder(**FAST, refine=Refine(candidates=2, extend=0))
    model, _ = _fit(tmp_path, 0.01, finder, val=False)
    result = finder.result
    assert result is not None and result.refinement is not None
    f = result.refinement
    assert f.judged_on == "held-out training batches" and len(f.trials) == 2
    assert result.lr == f.lr == model.lr


def test_refine_follows_the_modules_onecycle(tmp_path: Path) -> None:
    finder = LRFinder(**FAST, refine=Refine(candidates=2, extend=0))
    pl.seed_everything(7, verbose=False)
    model = ValNet(lr=0.01, schedule="onecycle", total_steps=100)
    t = trainer(tmp_path, [finder], max_steps=100)
    t.fit(model, make_loader(), make_loader(256, shuffle=False))
    f = finder.result.refinement if finder.result is not None else None
    assert f is not None and f.schedule == "onecycle" and f.max_lr is not None
    assert finder.applied_lr == pytest.approx(finder.result.training_suggestion.max_lr)


#: A range far too low for ``Net``: its first sweep stops while the loss still falls at ``max_lr``.
LOW = {"num_steps": 40, "min_lr": 1e-3, "max_lr": 0.03}


def test_refine_resweeps_upward_when_still_falling_and_trains_bit_identical(tmp_path: Path) -> None:
    finder = LRFinder(**LOW, refine=Refine(candidates=2, extend=0))
    model_a, t_a = _fit(tmp_path / "a", 0.01, finder, val=False)
    result = finder.result
    assert result is not None and result.suggestion is not None
    f = result.refinement
    assert f is not None and f.lr is not None and len(f.rounds) == 1
    (r,) = f.rounds
    assert r.reason == "still_falling" and r.min_lr == LOW["min_lr"] and r.max_lr == pytest.approx(1e3 * LOW["max_lr"])
    # The extended range was read (the trials centre on the re-sweep's reading), and it lies above the first range.
    assert result.settings.max_lr == r.max_lr and result.num_steps == r.steps_run
    assert r.suggestion_lr == result.suggestion.lr == f.curve_lr > LOW["max_lr"]
    assert f.lr > LOW["max_lr"] and result.lr == f.lr == finder.applied_lr == model_a.lr
    assert f.cost_steps == r.steps_run + sum(len(t.train_losses) for t in f.trials)
    assert any(n.startswith("round 2: still falling") for n in f.notes)
    assert t_a.callback_metrics["lr_finder/resweeps"].item() == 1
    # Bit-identical to a fit with that LR set by hand: neither sweep nor the trials left anything behind.
    model_b, _ = _fit(tmp_path / "b", f.lr, None, val=False, logger=False)
    wa, wb = weights(model_a), weights(model_b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa), "fit with a re-sweep differs from fit with the LR set by hand"


def test_refine_max_resweeps_zero_runs_none(tmp_path: Path) -> None:
    finder = LRFinder(**LOW, refine=Refine(candidates=2, extend=0, max_resweeps=0))
    with pytest.warns(UserWarning, match="inconclusive"):
        model, _ = _fit(tmp_path, 0.01, finder, val=False)
    result = finder.result
    assert result is not None and result.suggestion is None and "still falling" in (result.error or "")
    # No round 2, and no trials without a reading: the module keeps its own LR.
    assert result.refinement is None and result.num_steps <= LOW["num_steps"]
    assert finder.applied_lr is None and model.lr == 0.01


def test_refine_under_manual_optimization_resweeps_but_runs_no_trials(tmp_path: Path) -> None:
    finder = LRFinder(**LOW, monitor="g_loss", refine=Refine(candidates=2, extend=0))
    model = GAN(lr=0.01)
    with pytest.warns(UserWarning, match="automatic optimization only"):
        trainer(tmp_path, [finder], max_steps=100).fit(model, make_loader())
    result = finder.result
    assert result is not None and result.suggestion is not None
    f = result.refinement
    # Round 2 is a sweep, so it runs under manual optimization too; it is still recorded without trials.
    assert f is not None and f.trials == () and f.lr is None and len(f.rounds) == 1
    assert f.cost_steps == f.rounds[0].steps_run and f.rounds[0].suggestion_lr == result.suggestion.lr
    assert finder.applied_lr == result.lr == model.lr == result.suggestion.lr


def test_schedule_name_maps_torch_schedulers() -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    cfg = pl.utilities.types.LRSchedulerConfig
    cosine = cfg(torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10))
    assert _schedule_name([cosine]) == "cosine"
    assert _schedule_name([cfg(torch.optim.lr_scheduler.StepLR(opt, 3))]) == "constant"
    assert _schedule_name([]) == "constant"


def test_refine_that_cannot_run_in_this_fit_fails_before_the_test(tmp_path: Path) -> None:
    """A budget too small for one trial is said before the sweep: it was said after the whole sweep had run.

    It names the callback's option (the engine's words alone said "Raise budget").
    """
    model = Net(lr=0.01)
    t = trainer(tmp_path, [LRFinder(**FAST, refine=Refine(candidates=2, extend=0))], max_steps=12)
    match = r"LRFinder\(refine=...\): The refine budget is smaller than one trial.*training_steps=12"
    with pytest.raises(ValueError, match=match + r".*refine=lrfinder\.Refine\(budget="):
        t.fit(model, make_loader())
    assert model.test_events() == []  # no step of the test ran


def test_refine_in_a_fit_shorter_than_its_trials_names_the_fits_length(tmp_path: Path) -> None:
    """refine=True in an 8-step fit said "Expected training_steps to be an int >= 10, but got training_steps=8",
    an argument the user never gave."""
    model = Net(lr=0.01)
    t = trainer(tmp_path, [LRFinder(**FAST, refine=True)], max_steps=8)
    match = r"LRFinder\(refine=...\): the fit trains 8 optimizer steps \(trainer.estimated_stepping_batches\)"
    with pytest.raises(ValueError, match=match + r".*leave refine=False for a fit this short\.$"):
        t.fit(model, make_loader())
    assert model.test_events() == []  # no step of the test ran


def test_refine_in_a_fit_too_long_to_size_trials_from_names_the_fits_length(tmp_path: Path) -> None:
    """A fit of 10**8 steps (max_epochs=-1) planned trials of 2,000,000 steps each, run after the test."""
    model = Net(lr=0.01)
    t = trainer(tmp_path, [LRFinder(**FAST, refine=True)], max_steps=10**8, max_epochs=-1)
    match = (
        r"LRFinder\(refine=...\): the fit trains 100,000,000 optimizer steps \(trainer.estimated_stepping_batches\), "
        r"too long to size refine's trials from\. Expected refine's trials to run at most 1,000,000 steps each.*"
        r"Bound the fit \(max_steps, max_epochs\), or pass refine=lrfinder\.Refine\(trial_steps=N\)\.$"
    )
    with pytest.raises(ValueError, match=match):
        t.fit(model, make_loader())
    assert model.test_events() == []  # no step of the test ran


def test_refine_with_too_many_trials_for_the_fits_budget_is_refused_before_the_test(tmp_path: Path) -> None:
    """refine=Refine(candidates=10**9, trial_steps=10) in a fit of 10**8 steps planned a million trials (its budget
    of 10**7 steps held that many), run after the test; the fit's length is said, the engine's fix not overridden."""
    model = Net(lr=0.01)
    finder = LRFinder(**FAST, refine=Refine(candidates=10**9, trial_steps=10))
    t = trainer(tmp_path, [finder], max_steps=10**8, max_epochs=-1)
    match = (
        r"^LRFinder\(refine=...\): the fit trains 100,000,000 optimizer steps \(trainer.estimated_stepping_batches\)\. "
        r"Expected refine's trials to run at most 1,000,000 steps each and 5,000,000 in all, but "
        r"training_steps=100,000,000 plans 1,000,000 trials .* of 10 steps, 10,000,000 in all: .* Ask for fewer "
        r"candidates \(3 is the default\) or shorter trials \(trial_steps\)\.$"
    )
    with pytest.raises(ValueError, match=match):
        t.fit(model, make_loader())
    assert model.test_events() == []  # no step of the test ran


def test_refine_logs_the_refined_lr_as_the_other_lrs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    finder = LRFinder(**FAST, refine=Refine(candidates=2, extend=0))
    with caplog.at_level("INFO"):
        _fit(tmp_path, 0.01, finder, val=False)
    f = finder.result.refinement  # type: ignore[union-attr]
    assert f is not None and f.lr is not None
    assert any(f"refined lr={f.lr:.2e} from" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("val", "said"), [(True, "fit's validation batches"), (False, "held-out training batches")])
def test_refine_logs_what_its_trials_were_judged_on_in_a_fits_words(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, val: bool, said: str
) -> None:
    # The line said "judged on val_data", range_test's argument, which a fit does not take.
    finder = LRFinder(**FAST, refine=Refine(candidates=2, extend=0))
    with caplog.at_level("INFO"):
        _fit(tmp_path, 0.01, finder, val=val)
    lines = [r.getMessage() for r in caplog.records if "refined lr=" in r.getMessage()]
    assert len(lines) == 1 and lines[0].endswith(f"judged on the {said})"), lines
    assert "val_data" not in lines[0]


def test_refine_type_is_checked() -> None:
    with pytest.raises(TypeError, match="refine"):
        LRFinder(refine="yes")  # type: ignore[arg-type]


DDP_SCRIPT = """
import json
import sys
from pathlib import Path

sys.path.insert(0, sys.argv[2])  # tests/: the shared models
import torch
from _models import Net, pl
from torch.utils.data import DataLoader, TensorDataset

from lrfinder import Refine
from lrfinder.callback import LRFinder


class RecNet(Net):
    def on_train_end(self):
        finder = next(c for c in self.trainer.callbacks if isinstance(c, LRFinder))
        record = {
            "result": finder.result.to_dict(),
            "module_lr": self.lr,
            "weights": [p.detach().double().sum().item() for p in self.parameters()],
        }
        Path(self.out, f"rank{self.global_rank}.json").write_text(json.dumps(record))


torch.set_num_threads(1)
pl.seed_everything(0, verbose=False)
gen = torch.Generator().manual_seed(0)
x = torch.randn(512, 8, generator=gen)
y = (x @ torch.randn(8, 3, generator=gen)).argmax(dim=1)
loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
sweep = json.loads(sys.argv[3])  # num_steps, min_lr, max_lr
finder = LRFinder(**sweep, refine=Refine(training_steps=60, candidates=2, extend=0))
trainer = pl.Trainer(
    accelerator="cpu", devices=2, strategy="ddp", callbacks=[finder], max_steps=3, logger=False,
    enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=sys.argv[1],
)
model = RecNet(lr=0.01, bn=False)
model.out = sys.argv[1]
trainer.fit(model, loader)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sweep", "resweeps"),
    [({"num_steps": 60, "min_lr": 1e-3, "max_lr": 10.0}, 0), (LOW, 1)],
    ids=["one-sweep", "upward-resweep"],
)
def test_refine_under_ddp_every_rank_applies_the_same_lr(tmp_path: Path, sweep: dict[str, Any], resweeps: int) -> None:
    import json

    from _models import TESTS, run_script

    run_script(tmp_path, DDP_SCRIPT, str(tmp_path), str(TESTS), json.dumps(sweep))
    first, second = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    refinement = first["result"]["refinement"]
    assert refinement is not None and refinement["lr"] is not None and len(refinement["trials"]) == 2
    # Round 2 too: each re-sweep's loss is reduced over ranks as the first sweep's, so both read the same curve.
    assert [r["reason"] for r in refinement["rounds"]] == ["still_falling"] * resweeps
    # The held-out losses are averaged over ranks, so both ranks recorded the same trials and pick.
    assert first["result"] == second["result"]
    assert first["module_lr"] == second["module_lr"] == first["result"]["scaled"]["lr"]
    assert first["weights"] == second["weights"]


def test_refine_warns_when_every_trial_diverged(tmp_path: Path) -> None:
    # The fit trained at the curve's suggestion, which no trial around it had held, with only an info line.
    from _models import make_data
    from torch.utils.data import DataLoader, TensorDataset

    x, y = make_data(256).tensors
    wrong = DataLoader(TensorDataset(x, (y + 1) % 3), batch_size=32)  # labels the training cannot fit to
    finder = LRFinder(**FAST, refine=Refine(candidates=3, extend=0))
    pl.seed_everything(7, verbose=False)
    t = trainer(tmp_path, [finder], max_steps=100)
    with pytest.warns(UserWarning, match="LRFinder: refine: every trial diverged"):
        t.fit(ValNet(lr=0.01), make_loader(), wrong)
    result = finder.result
    assert result is not None and result.refinement is not None and result.refinement.lr is None
    assert result.suggestion is not None and finder.applied_lr == result.suggestion.lr


def test_nan_data_in_a_trial_names_the_trials_lr_not_nan(tmp_path: Path) -> None:
    """The trials stepped with lr=math.nan, so NaN data met in a trial was reported at "lr=nan"."""
    import lrfinder._lightning as lightning_glue
    from lrfinder import DataError

    plain_batches = lightning_glue.TrainBatches
    steps = [0]

    class NaNInTrials(plain_batches):  # type: ignore[misc, valid-type]
        """The trials' streams (they skip the held-out batches) yield NaN inputs from their second batch on."""

        def next(self) -> Any:
            batch, idx = super().next()
            if self.skip > 0:
                steps[0] += 1
                if steps[0] >= 2:
                    x, y = batch
                    batch = (torch.full_like(x, math.nan), y)
            return batch, idx

    finder = LRFinder(**FAST, refine=Refine(training_steps=60, candidates=2, extend=0))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lightning_glue, "TrainBatches", NaNInTrials)
        with pytest.raises(DataError, match=r"holds NaN or inf in inputs") as caught:
            _fit(tmp_path, 0.01, finder, val=False)
    message = str(caught.value)
    assert "lr=nan" not in message
    found = re.search(r"\(lr=(\d\.\d\de[-+]\d\d)\)", message)
    assert found is not None, message
    assert float(found.group(1)) > 0


def test_the_nan_data_message_leaves_out_an_lr_it_does_not_have() -> None:
    from lrfinder.diagnostics import _non_finite_data_message

    def message(lr: float, world: int = 1) -> str:
        return _non_finite_data_message("Batch 2", None, 4, lr, math.nan, [], world=world)

    assert "the loss of step 4 (lr=1.00e-02) is nan" in message(0.01)
    assert "the loss of step 4 is nan" in message(math.nan) and "lr=" not in message(math.nan)
    assert "step 4 (the mean over the 2 ranks) is nan" in message(math.nan, world=2)
    assert "step 4 (lr=1.00e-02, the mean over the 2 ranks) is nan" in message(0.01, world=2)


def test_refine_with_a_training_step_that_steps_a_critic_itself_says_why_and_what_to_do(tmp_path: Path) -> None:
    """It was a DataError blaming the batches: "Cannot compute a loss on the held-out training batches with the
    module's training_step: RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn"."""
    refine = Refine(training_steps=60, candidates=2, extend=0)
    with pytest.raises(ModelError, match=r"^LRFinder\(refine=\.\.\.\) cannot compute a held-out loss on the held-out "
                       r"training batches: training_step runs a backward of its own \(RuntimeError: element 0 .*"
                       r"under torch.no_grad\(\) in eval mode\. .*if torch.is_grad_enabled\(\).*leave refine=False"):
        trainer(tmp_path, [LRFinder(**FAST, refine=refine)], max_steps=1).fit(CriticStepping(), make_loader())
    # As it says: the critic stepped while training only, refine judges the trials.
    finder = LRFinder(**FAST, refine=refine)
    trainer(tmp_path, [finder], max_steps=1).fit(CriticStepping(guarded=True), make_loader())
    assert finder.result is not None and finder.result.refinement is not None
    assert finder.result.refinement.trials


def test_refine_says_each_warning_once(tmp_path: Path) -> None:
    """Each trial builds the schedule again: its decay warning came once for the fit's length and once per trial
    (in the trial's compressed numbers, "step_size=1 over its 10 steps")."""
    import warnings

    finder = LRFinder(
        **FAST, refine=Refine(schedule="step", schedule_settings={"step_size": 5, "gamma": 0.1}, candidates=3, extend=0)
    )
    pl.seed_everything(7, verbose=False)
    t = trainer(tmp_path, [finder], max_steps=100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t.fit(ValNet(lr=0.01), make_loader(), make_loader(256, shuffle=False))
    result = finder.result
    assert result is not None and result.refinement is not None and len(result.refinement.trials) >= 3
    decay = [str(w.message) for w in caught if "Schedule 'step'" in str(w.message)]
    # The first one, in the user's numbers (the fit's 100 steps), is kept.
    assert len(decay) == 1 and "step_size=5 over its 100 steps" in decay[0], decay


def test_a_second_fit_of_the_same_trainer_sizes_refines_trials_to_the_steps_it_takes(tmp_path: Path) -> None:
    # The second trainer.fit goes on from the first's 20 steps to 40: its trials were sized to all 40 steps of both
    # fits while scheduler= spans the 20 it takes, so they judged a schedule twice as long as the fit trains.
    finder = LRFinder(**FAST, optimizer="sgd", scheduler="cosine", refine=Refine(candidates=2, extend=0))
    t = trainer(tmp_path, [finder], max_steps=20)
    t.fit(Net(lr=0.01), make_loader())
    assert finder.result is not None and finder.result.refinement is not None
    assert finder.result.refinement.training_steps == 20
    t.fit_loop.epoch_loop.max_steps = 40
    t.fit(Net(lr=0.01), make_loader())
    f = finder.result.refinement
    assert t.global_step == 40 and f is not None and f.schedule == "cosine"
    assert f.training_steps == 20 == t.lr_scheduler_configs[0].scheduler.T_max  # type: ignore[attr-defined]
    # Too few steps left for refine's trials: said in the steps left, and where they are counted from.
    t.fit_loop.epoch_loop.max_steps = 45
    match = (
        r"the fit trains 5 optimizer steps \(trainer.estimated_stepping_batches, less the 40 steps this "
        r"Trainer's earlier fit took\), fewer than the 10"
    )
    with pytest.raises(ValueError, match=match):
        t.fit(Net(lr=0.01), make_loader())


class FailsInATrial(Net):
    """Raises in ``training_step`` at the second step of the first refine trial (after the held-out baseline)."""

    armed = False
    trial_steps = 0

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.phase == "test" and not torch.is_grad_enabled():
            self.armed = True  # the held-out losses, under no_grad: the sweep is over, the trials come next
        elif self.phase == "test" and self.armed:
            self.trial_steps += 1
            if self.trial_steps == 2:
                raise RuntimeError("the trial's step failed")
        return super().training_step(batch, batch_idx)


def test_an_error_in_training_step_during_a_refine_trial_names_the_trial(tmp_path: Path) -> None:
    # The sweep's steps and the held-out loss said where the module's code failed; a trial's step came out as torch's
    # bare error, naming neither the test nor the trial.
    model = FailsInATrial()
    start = weights(model)
    finder = LRFinder(**FAST, refine=True)
    with pytest.raises(ModelError) as info:
        trainer(tmp_path, [finder], max_steps=100).fit(model, make_loader())
    said = str(info.value)
    match = re.match(
        r"^LRFinder: the module's training_step \(or its backward or optimizer step\) raised RuntimeError during the "
        r"LR range test, in refine trial 0 \(at lr=(\S+)\), at its step 1: the trial's step failed\. It ran on a batch "
        r"of the fit's train loader after the sweep",
        said,
    )
    assert match is not None, said
    assert float(match.group(1)) > 0 and said.endswith("Fix it, or leave refine out (refine=False).")
    assert isinstance(info.value.__cause__, RuntimeError) and str(info.value.__cause__) == "the trial's step failed"
    assert all(torch.equal(v, weights(model)[k]) for k, v in start.items()) and finder.result is None


class InterruptedInATrial(FailsInATrial):
    """Ctrl-C at the same step: not an error of the module's, and not turned into one."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        try:
            return super().training_step(batch, batch_idx)
        except RuntimeError:
            raise KeyboardInterrupt from None


def test_a_ctrl_c_during_a_refine_trial_is_not_a_model_error(tmp_path: Path) -> None:
    model = InterruptedInATrial()
    start = weights(model)
    t = trainer(tmp_path, [LRFinder(**FAST, refine=True)], max_steps=100)
    with pytest.raises(SystemExit):  # Lightning's answer to a KeyboardInterrupt in fit; a ModelError would be ours
        t.fit(model, make_loader())
    assert t.interrupted and model.trial_steps == 2
    assert all(torch.equal(v, weights(model)[k]) for k, v in start.items())
