"""The public API (``lrfinder/__init__.py``): what tools that read it find."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Run in a fresh interpreter: the lazy names must resolve whatever was imported before (RefineInterrupted's
# annotation names RangeTestResult, whose module nothing has imported yet), and one Lightning package is
# blocked to check each alone. Importing torch and the Lightning packages is the whole cost (12-17 s a case,
# get_type_hints itself a hundredth of a second): one interpreter imports what both packages import (torch, its
# compiler, torchmetrics, scipy), neither Lightning package nor lrfinder, then forks a child per case, which blocks
# its package, imports lrfinder and checks. Resolving a hint reads the module's own names, which an import elsewhere
# cannot supply.
_CASES = {"both": (), "lightning": ("pytorch_lightning",), "pytorch_lightning": ("lightning",)}
_HINTS = textwrap.dedent(
    """
    import inspect, json, os, sys, typing
    import lightning_utilities, scipy.signal, torch, torch._dynamo, torchmetrics

    assert not {{"lightning", "pytorch_lightning", "lrfinder"}} & set(sys.modules), "imported before the fork"

    def run(blocked):
        for name in blocked:
            sys.modules[name] = None
        import lrfinder

        failed, checked = [], 0
        def check(label, obj):
            nonlocal checked
            checked += 1
            try:
                typing.get_type_hints(obj)
            except Exception as exc:
                failed.append(f"{{label}}: {{type(exc).__name__}}: {{exc}}")

        for name in lrfinder.__all__:
            obj = getattr(lrfinder, name)
            if inspect.isclass(obj):
                check(name, obj)
                check(f"{{name}}.__init__", obj.__init__)
                for attr, member in vars(obj).items():
                    if isinstance(member, (classmethod, staticmethod)):
                        member = member.__func__
                    if inspect.isfunction(member) and not attr.startswith("_"):
                        check(f"{{name}}.{{attr}}", member)
            elif callable(obj):
                check(name, obj)
        trainer = typing.get_type_hints(lrfinder.find_lr)["trainer"]
        return {{"failed": failed, "checked": checked, "trainer": str(trainer)}}

    reports = {{}}
    for case, blocked in {cases!r}.items():
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child reports through the pipe and exits without running the parent's cleanup
            os.close(read)
            try:
                try:
                    report = run(blocked)
                except BaseException:
                    import traceback
                    report = {{"error": traceback.format_exc()}}
                with os.fdopen(write, "w") as out:
                    json.dump(report, out)
            finally:
                os._exit(0)
        os.close(write)
        with os.fdopen(read) as pipe:
            text = pipe.read()
        status = os.waitpid(pid, 0)[1]
        reports[case] = json.loads(text) if text else {{"error": f"{{case}}: the check died (wait status {{status}})"}}
    print(json.dumps(reports))
    """
)


@pytest.fixture(scope="module")
def hint_reports() -> dict:
    """What each case's check found: failed hints, callables checked, find_lr's Trainer hint."""
    code = _HINTS.format(cases=_CASES)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.splitlines()[-1])


@pytest.mark.parametrize(
    ("case", "trainers"),
    [
        ("both", ["lightning.pytorch.trainer.trainer.Trainer", "pytorch_lightning.trainer.trainer.Trainer"]),
        ("lightning", ["lightning.pytorch.trainer.trainer.Trainer"]),
        ("pytorch_lightning", ["pytorch_lightning.trainer.trainer.Trainer"]),
    ],
    ids=list(_CASES),
)
def test_get_type_hints_works_on_every_public_callable(hint_reports: dict, case: str, trainers: list[str]) -> None:
    # jsonargparse/LightningCLI, pydantic and typer call typing.get_type_hints on what they are given; names
    # imported under TYPE_CHECKING only raised NameError: range_test ('Refine'), RangeTestResult
    # ('Refinement'), RefineInterrupted ('RangeTestResult'), plot_range_test ('Axes'), train, find_lr and the
    # callback's hooks ('pl').
    report = hint_reports[case]
    assert "error" not in report, report.get("error")
    assert report["failed"] == [], "\n".join(report["failed"])
    assert report["checked"] > 60
    # find_lr takes the Trainer of either installed package (or none).
    assert report["trainer"].count(".Trainer") == len(trainers), report["trainer"]
    for trainer in trainers:
        assert trainer in report["trainer"]


def test_import_lrfinder_leaves_the_warning_filters_as_they_were() -> None:
    """``import lrfinder`` adds nothing to ``warnings.filters`` (torch's own import adds its six, before); the first
    range test adds the filters scipy, numpy and sympy install on their own first import (README, Cost)."""
    code = textwrap.dedent(
        """
        import warnings
        import torch
        before = list(warnings.filters)
        import lrfinder
        from lrfinder import range_test, analysis, scaling
        assert warnings.filters == before, [f for f in warnings.filters if f not in before]
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
