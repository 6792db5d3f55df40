"""The public API as a user's type checker and ``help()`` see it: docstrings, annotations, ``mypy --strict``."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import lrfinder

ROOT = Path(__file__).resolve().parent.parent

#: Names of lrfinder's submodules that the README and examples/ use, beyond ``lrfinder.__all__``.
SUBMODULE_NAMES = [
    "lrfinder.analysis.pick_spread",
    "lrfinder.refine.default_budget",
    "lrfinder.refine.next_sweep",
    "lrfinder.schedulers.advised_warmup",
    "lrfinder.schedulers.SchedulerConfig",
    "lrfinder.sweeps.format_weight_decay",
]


def _public_callables() -> Iterator[tuple[str, object]]:
    """Every public function and class, and the public methods and properties of the classes."""
    named = [(name, getattr(lrfinder, name)) for name in lrfinder.__all__]
    for dotted in SUBMODULE_NAMES:
        module, _, name = dotted.rpartition(".")
        named.append((dotted, getattr(importlib.import_module(module), name)))
    for name, obj in named:
        if inspect.isclass(obj):
            yield name, obj
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                if isinstance(member, (classmethod, staticmethod)):
                    member = member.__func__
                if isinstance(member, property) or inspect.isfunction(member):
                    yield f"{name}.{attr}", member
        elif inspect.isfunction(obj):
            yield name, obj


def _missing(label: str, obj: object) -> list[str]:
    """What ``obj`` lacks: a docstring with a summary line, an annotation of a parameter or of the return."""
    problems = []
    doc = inspect.getdoc(obj) if not isinstance(obj, property) else obj.__doc__
    summary = (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""
    if not label.endswith(".__init__") and len(summary.split()) < 3:
        problems.append(f"{label}: no docstring saying what it is for (got {summary!r})")
    function = obj.fget if isinstance(obj, property) else obj
    if inspect.isclass(function) or not callable(function):
        return problems
    annotations = getattr(function, "__annotations__", {})
    for parameter in inspect.signature(function).parameters.values():
        if parameter.name not in ("self", "cls") and parameter.name not in annotations:
            problems.append(f"{label}: parameter {parameter.name!r} is not annotated")
    if "return" not in annotations:
        problems.append(f"{label}: the return type is not annotated")
    return problems


def test_every_public_name_has_a_docstring_and_full_annotations() -> None:
    # The brief: every public function and class has a short docstring, type hints throughout. help() shows the
    # summary line first; a user's type checker reads the annotations (lrfinder ships py.typed).
    checked = list(_public_callables())
    problems = [problem for label, obj in checked for problem in _missing(label, obj)]
    assert problems == [], "\n".join(problems)
    assert len(checked) > 90  # the walk reached the classes' methods and the submodules' names


def test_the_surface_check_fails_on_a_missing_docstring_or_annotation() -> None:
    def documented(x: int, y: int = 0) -> int:
        """Add two numbers together."""
        return x + y

    def undocumented(x: int) -> int:
        return x

    def unannotated(x, y: int = 0) -> int:  # type: ignore[no-untyped-def]  # noqa: ANN001
        """Add two numbers together."""
        return int(x) + y

    def no_return(x: int):  # type: ignore[no-untyped-def]  # noqa: ANN202
        """Return the number as it is."""
        return x

    class Thing:
        @property
        def size(self) -> int:
            return 1

    assert _missing("documented", documented) == []
    assert _missing("undocumented", undocumented) == ["undocumented: no docstring saying what it is for (got '')"]
    assert _missing("unannotated", unannotated) == ["unannotated: parameter 'x' is not annotated"]
    assert _missing("no_return", no_return) == ["no_return: the return type is not annotated"]
    assert _missing("Thing.size", vars(Thing)["size"]) == ["Thing.size: no docstring saying what it is for (got '')"]


# What users write, checked as they check it: ``mypy --strict`` on their own file, lrfinder imported from this tree.
# Each line here was an error on the annotations before: LRFinder was a pytorch_lightning Callback only, find_lr
# and train took pytorch_lightning objects only (both distributions work at run time), and
# lightning_scheduler_config returned dict[str, Any], which Lightning's configure_optimizers type refuses, and
# create_scheduler("plateau") was typed as any scheduler, whose step(epoch: int | None) refused plateau's metric,
# and scale_lr's lr, documented as a Python or numpy number or a 0-d tensor, was typed float.
USER_CODE = {
    "lightning": textwrap.dedent(
        """
        from __future__ import annotations

        import lightning as L
        import torch
        from lightning.pytorch.utilities.types import OptimizerLRScheduler
        from torch import Tensor, nn
        from torch.utils.data import DataLoader, TensorDataset

        import lrfinder
        from lrfinder import LRFinder


        class Model(L.LightningModule):
            def __init__(self, lr: float = 1e-3) -> None:
                super().__init__()
                self.lr = lr
                self.net = nn.Linear(4, 3)

            def configure_optimizers(self) -> OptimizerLRScheduler:
                opt = lrfinder.create_optimizer("nesterov", self, lr=self.lr, weight_decay=5e-4)
                sched = lrfinder.create_scheduler("cosine", opt, total_steps=100, warmup_steps=10)
                return {"optimizer": opt, "lr_scheduler": lrfinder.lightning_scheduler_config(sched)}


        loader: DataLoader[tuple[Tensor, ...]] = DataLoader(
            TensorDataset(torch.randn(8, 4), torch.randint(0, 3, (8,))), batch_size=4
        )
        finder = LRFinder(max_lr=10.0, num_steps=100)
        trainer = L.Trainer(max_epochs=10, callbacks=[finder])
        trainer.fit(Model(), train_dataloaders=loader)
        result = lrfinder.find_lr(Model(), loader, trainer=L.Trainer(), datamodule=None)
        lr: float | None = result.lr
        history = lrfinder.train(
            nn.Linear(4, 3), loader, optimizer=lambda m: lrfinder.create_optimizer("adamw", m, lr=1e-3),
            callbacks=[L.pytorch.callbacks.ModelCheckpoint()],
        )
        """
    ),
    "pytorch_lightning": textwrap.dedent(
        """
        from __future__ import annotations

        import pytorch_lightning as pl
        import torch
        from pytorch_lightning.utilities.types import OptimizerLRScheduler

        import lrfinder
        from lrfinder import LRFinder


        class Model(pl.LightningModule):
            def configure_optimizers(self) -> OptimizerLRScheduler:
                opt = lrfinder.create_optimizer("adamw", self, lr=1e-3)
                sched = lrfinder.create_scheduler("plateau", opt)
                return {"optimizer": opt, "lr_scheduler": lrfinder.lightning_scheduler_config(sched)}


        plateau = lrfinder.create_scheduler("plateau", torch.optim.SGD(Model().parameters(), lr=0.1), patience=2)
        plateau.step(0.5)  # ReduceLROnPlateau's step(metric), which LRScheduler.step(epoch) refuses
        cosine = lrfinder.create_scheduler("cosine", torch.optim.SGD(Model().parameters(), lr=0.1), total_steps=10)
        print(cosine.get_last_lr())
        scaled = lrfinder.scale_lr(torch.tensor(0.1), from_batch_size=32, to_batch_size=256)  # "or 0-d tensor"
        trainer = pl.Trainer(callbacks=[LRFinder()])
        result = lrfinder.find_lr(Model(), trainer=trainer)
        history = lrfinder.train(
            Model(), [], optimizer=lambda m: lrfinder.create_optimizer("sgd", m, lr=0.1),
            callbacks=[pl.callbacks.ModelCheckpoint()],
        )
        """
    ),
}


@pytest.mark.slow
def test_user_code_passes_mypy_strict_under_either_lightning(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    for package in USER_CODE:
        pytest.importorskip(package)
    files = []
    for name, code in USER_CODE.items():
        path = tmp_path / f"user_{name}.py"
        path.write_text(code, encoding="utf-8")
        files.append(str(path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), *files],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Success: no issues found in 2 source files" in run.stdout


def test_the_either_stub_names_the_unions_the_run_time_annotations_resolve_to() -> None:
    # lrfinder/_either.pyi is what type checkers read for the annotations' ``either``; at run time the name is
    # _lightning.EITHER, whose attributes are the union of both installed distributions' classes. The two
    # must name the same classes, or an annotation is checked one way and resolved (get_type_hints) another.
    import typing

    from lrfinder import _lightning

    pytest.importorskip("lightning")
    stub = (ROOT / "lrfinder" / "_either.pyi").read_text(encoding="utf-8")
    aliases = {line.split(":")[0]: line.split(" = ")[1] for line in stub.splitlines() if ": TypeAlias = " in line}
    assert list(aliases) == ["Trainer", "LightningModule", "LightningDataModule", "Callback"]
    for alias, union in aliases.items():
        assert union == f"_lp.{alias} | _pl.{alias}"
        members = typing.get_args(getattr(_lightning.EITHER, alias))
        assert {m.__module__.split(".")[0] for m in members} == {"lightning", "pytorch_lightning"}, alias
        assert {m.__name__ for m in members} == {alias}


def test_create_scheduler_overloads_name_every_registry_schedule() -> None:
    # The overloads type create_scheduler("plateau") as a PlateauWithWarmup and the other registry names as an
    # LRScheduler; a schedule added to the registry must be named there too (a str still gets the union).
    import typing

    from lrfinder import schedulers

    get_overloads = getattr(typing, "get_overloads", None)
    if get_overloads is None:  # Python 3.10
        pytest.skip("typing.get_overloads needs Python 3.11")
    hints = [typing.get_type_hints(f, vars(schedulers)) for f in get_overloads(schedulers.create_scheduler)]
    assert [h["return"] for h in hints[:2]] == [schedulers.PlateauWithWarmup, schedulers.LRScheduler]
    named = [name for h in hints[:2] for name in typing.get_args(h["name"])]
    assert sorted(named) == sorted(schedulers.list_schedulers())
    assert hints[2]["name"] is str


def test_result_fields_of_a_closed_set_of_strings_are_typed_with_its_literal() -> None:
    # ScaledLR.rule and NoiseScale.source were a plain str, though scale_lr(rule=...) and noise_scale_from_norms(
    # source=...) type the same values with a Literal: neither help() nor a type checker showed the choices.
    import typing

    from lrfinder.names import ScalingRule
    from lrfinder.noise import NoiseScale, NoiseSource
    from lrfinder.scaling import ScaledLR

    # The rule a scaling applied: scale_lr(rule="auto") resolves "auto", which ScaledLR refuses and its type allowed.
    applied = typing.get_type_hints(ScaledLR)["rule"]
    assert typing.get_args(applied) == tuple(r for r in typing.get_args(ScalingRule) if r != "auto")
    with pytest.raises(ValueError, match=r"^Expected scaled\.rule to be one of 'linear', 'sqrt', 'noise', 'none'"):
        ScaledLR(lr=1e-2, base_lr=1e-2, factor=1.0, rule="auto", reason="", from_batch_size=32, to_batch_size=32,
                 warmup_epochs=0)  # fmt: skip
    assert typing.get_type_hints(NoiseScale)["source"] == NoiseSource
    scaled = lrfinder.scale_lr(1e-2, from_batch_size=32, to_batch_size=128, rule="sqrt")
    assert scaled.rule == "sqrt" and ScaledLR.from_dict(scaled.to_dict()) == scaled  # JSON round trip unchanged
