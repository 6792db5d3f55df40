"""The public API (``lrfinder/__init__.py``): what tools that read it find."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# Run in a fresh interpreter: the lazy names must resolve whatever was imported before (RefineInterrupted's
# annotation names RangeTestResult, whose module nothing has imported yet), and one Lightning package is
# blocked to check each alone.
_HINTS = textwrap.dedent(
    """
    import inspect, json, sys, typing
    for blocked in {blocked!r}:
        sys.modules[blocked] = None
    import lrfinder

    failed, checked = [], 0
    def check(label, obj):
        global checked
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
    print(json.dumps({{"failed": failed, "checked": checked, "trainer": str(trainer)}}))
    """
)


@pytest.mark.parametrize(
    ("blocked", "trainers"),
    [
        ((), ["lightning.pytorch.trainer.trainer.Trainer", "pytorch_lightning.trainer.trainer.Trainer"]),
        (("pytorch_lightning",), ["lightning.pytorch.trainer.trainer.Trainer"]),
        (("lightning",), ["pytorch_lightning.trainer.trainer.Trainer"]),
    ],
    ids=["both", "lightning", "pytorch_lightning"],
)
def test_get_type_hints_works_on_every_public_callable(blocked: tuple[str, ...], trainers: list[str]) -> None:
    # jsonargparse/LightningCLI, pydantic and typer call typing.get_type_hints on what they are given; names
    # imported under TYPE_CHECKING only raised NameError: range_test ('Refine'), RangeTestResult
    # ('Refinement'), RefineInterrupted ('RangeTestResult'), plot_range_test ('Axes'), train, find_lr and the
    # callback's hooks ('pl').
    code = _HINTS.format(blocked=blocked)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.splitlines()[-1])
    assert report["failed"] == [], "\n".join(report["failed"])
    assert report["checked"] > 60
    # find_lr takes the Trainer of either installed package (or none).
    assert report["trainer"].count(".Trainer") == len(trainers), report["trainer"]
    for trainer in trainers:
        assert trainer in report["trainer"]
