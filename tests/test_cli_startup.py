"""Start-up: ``lrfind --help``/``--version``/``list`` import no torch, scipy.signal, matplotlib or numpy."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import lrfinder
from lrfinder import names

#: numpy too: the CLI's counts in singular or plural (``plural``) imported it from ``_checks`` at start-up, about a
#: third of ``import lrfinder.cli``'s time.
HEAVY = ("torch", "scipy.signal", "matplotlib", "pytorch_lightning", "lightning", "numpy")

PROBE = textwrap.dedent(
    """
    import json, sys
    from lrfinder.cli import main
    try:
        main({args!r}, standalone_mode=False)
    except SystemExit:
        pass
    print(json.dumps([m for m in {heavy!r} if m in sys.modules]))
    """
)


def _imported(args: list[str]) -> list[str]:
    code = PROBE.format(args=args, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], ["list"], ["run", "--help"], ["fit", "--help"], ["demo", "--help"]]
)
def test_help_version_and_list_import_nothing_heavy(args: list[str]):
    assert _imported(args) == []


def test_python_m_lrfinder_help_imports_nothing_heavy():
    code = (
        "import runpy, sys, json\n"
        "sys.argv = ['lrfind', '--help']\n"
        "try:\n    runpy.run_module('lrfinder', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: lrfind" in proc.stdout
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []


def test_python_m_lrfinder_runs_a_command():
    proc = subprocess.run([sys.executable, "-m", "lrfinder", "list"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "optimizers:" in proc.stdout and "  onecycle" in proc.stdout


def test_import_lrfinder_is_light():
    code = f"import json, sys, lrfinder; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_public_names_resolve_lazily_and_match_all():
    assert set(lrfinder.__all__) == {"__version__", *lrfinder._LAZY}
    for name in lrfinder.__all__:
        assert getattr(lrfinder, name) is not None, name
    # The function wins over the submodule of the same name, as with eager imports.
    from importlib import import_module

    import_module("lrfinder.range_test")
    assert callable(lrfinder.range_test) and lrfinder.range_test.__name__ == "range_test"
    from lrfinder import range_test

    assert range_test is lrfinder.range_test


def test_the_lazy_submodules_are_the_package_files():
    import pathlib

    package = pathlib.Path(lrfinder.__file__).parent
    files = {p.stem for p in package.glob("*.py") if not p.stem.startswith("_")} | {"cli"}
    assert lrfinder._SUBMODULES == files - {"range_test"}


@pytest.mark.slow  # a fresh interpreter importing every submodule (torch, Lightning, matplotlib): 11 to 29 s here
def test_submodules_are_attributes_after_a_bare_import():
    # The README writes lrfinder.schedulers.advised_warmup(...) and lrfinder.refine.default_budget(...): after a bare
    # ``import lrfinder`` (nothing else imported yet) they were AttributeErrors. The set is the package's files
    # (test_the_lazy_submodules_are_the_package_files).
    names = sorted(lrfinder._SUBMODULES)
    code = (
        "import json, lrfinder; "
        f"print(json.dumps([type(getattr(lrfinder, n)).__name__ for n in {names!r}] + "
        "[lrfinder.schedulers.advised_warmup.__name__, lrfinder.refine.default_budget.__name__, "
        "lrfinder.range_test.__name__, type(lrfinder.range_test).__name__]))"
    )
    # Every submodule: torch, Lightning and matplotlib in a fresh interpreter took 11 to 21 s on the loaded 2-core
    # machine, and torch with Lightning alone 59 s once: the light commands' 60 s is no margin here.
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen == ["module"] * len(names) + ["advised_warmup", "default_budget", "range_test", "function"]
    with pytest.raises(AttributeError, match="has no attribute 'schedulerz'"):
        lrfinder.schedulerz  # noqa: B018


def test_name_tables_match_the_registries():
    from lrfinder.analysis import analyze  # noqa: F401  (the rules are implemented there)
    from lrfinder.optimizers import OPTIMIZERS
    from lrfinder.schedulers import SCHEDULERS

    assert list(names.OPTIMIZER_SUMMARIES) == list(OPTIMIZERS)
    assert all(OPTIMIZERS[n].summary == s for n, s in names.OPTIMIZER_SUMMARIES.items())
    assert list(names.SCHEDULER_SUMMARIES) == list(SCHEDULERS)
    assert all(SCHEDULERS[n].summary == s for n, s in names.SCHEDULER_SUMMARIES.items())
    assert list(names.SCALING_SUMMARIES) == list(names.SCALING_RULES)
    assert names.DEFAULT_RULE in names.RULES


@pytest.mark.parametrize("args", [["list"], ["--help"]])
def test_a_closed_stdout_ends_quietly(args: list[str]):
    # ``lrfind list | head -1``: the reader is gone before lrfind writes.
    proc = subprocess.Popen(
        [sys.executable, "-m", "lrfinder", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0  # the output is dropped, the command itself succeeded
    assert err == ""  # no "Error: [Errno 32] Broken pipe", no "Exception ignored"


@pytest.mark.slow  # two fresh interpreters importing torch and matplotlib: 16 s on the shared 2-core machine
def test_an_mplbackend_matplotlib_refuses_is_named_before_the_range_test(tmp_path):
    # matplotlib's "Key backend: 'nosuch' is not a valid value for backend; supported values are [...]" named no
    # variable, and `lrfind run` said it only after the whole range test, when it drew the report.
    import os

    import numpy as np
    import torch

    torch.jit.save(torch.jit.script(torch.nn.Linear(3, 2)), str(tmp_path / "model.pt"))
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    np.savez(tmp_path / "train.npz", x=x, y=(x[:, 0] > 0).astype("int64"))
    env = {**os.environ, "MPLBACKEND": "nosuch"}
    said = (
        "matplotlib cannot be imported: the MPLBACKEND environment variable is 'nosuch', which is no backend "
        "matplotlib knows. Unset MPLBACKEND (lrfinder draws its reports without a backend) or set it to one "
        "matplotlib knows, such as Agg"
    )
    code = "from lrfinder.cli import main; main(['run', 'model.pt', '--data', 'train.npz', '--num-steps', '20'])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"Error: {said}, or pass --no-report for none."
    assert "suggested" not in proc.stdout + proc.stderr and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.pt", "train.npz"
    ]
    # The Python API says it too (plot_range_test and save_report import lrfinder.report).
    proc = subprocess.run([sys.executable, "-c", "import lrfinder.report"], capture_output=True, text=True,
                          timeout=120, env=env)  # fmt: skip
    assert proc.stderr.strip().splitlines()[-1] == f"ValueError: {said}."


#: The console script's body, as pip writes it, with a Ctrl-C sent while it imports the command line.
_CTRL_C_AT_START = textwrap.dedent(
    """
    import os, signal, sys
    import lrfinder
    os.kill(os.getpid(), signal.SIGINT)  # a Ctrl-C in the first half second: click and the commands still importing
    from lrfinder.cli import main
    sys.exit(main())
    """
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_ctrl_c_while_lrfind_imports_is_said_as_an_interrupt(tmp_path):
    # A SIGINT in the first ~0.4 s of `lrfind run` (`import lrfinder.cli`: click, the commands' modules) printed
    # the traceback of the import it landed in and exited 1, or was killed by the signal (-2).
    import signal

    from _signals import default_signals

    before = signal.getsignal(signal.SIGINT)  # Python's own, or SIG_IGN in a suite run under nohup / in the background
    model = tmp_path / "model.pt"
    model.write_bytes(b"weights")
    script = tmp_path / "lrfind"  # the console script's name: lrfinder knows it runs as the program
    script.write_text(_CTRL_C_AT_START)
    args = [sys.executable, str(script), "run", str(model), "--data", "train.npz", "--json", "out.json"]
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60, preexec_fn=default_signals)
    assert (proc.returncode, proc.stderr, proc.stdout) == (130, "Interrupted; nothing was written.\n", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lrfind", "model.pt"]
    assert model.read_bytes() == b"weights"
    assert signal.getsignal(signal.SIGINT) is before  # the test's own process (an importer of lrfinder): left alone


#: A ``sitecustomize`` that sends a Ctrl-C right after ``import lrfinder``, before the command line is imported.
_CTRL_C_AFTER_IMPORT = "import os, signal\nimport lrfinder\nos.kill(os.getpid(), signal.SIGINT)\nimport lrfinder.cli\n"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    "spelling",
    [["-m", "lrfinder"], ["-mlrfinder"], ["-um", "lrfinder"], ["-Wignore", "-mlrfinder"], ["-m", "lrfinder.cli"]],
)
def test_every_spelling_of_python_m_lrfinder_says_a_ctrl_c_at_start_as_an_interrupt(tmp_path, spelling):
    # `python -mlrfinder` (no space), `python -um lrfinder` and `python -m lrfinder.cli` were not known as the
    # program: a Ctrl-C while they imported printed a KeyboardInterrupt traceback and exited 1.
    import os
    import pathlib

    from _signals import default_signals

    (tmp_path / "sitecustomize.py").write_text(_CTRL_C_AFTER_IMPORT)
    root = pathlib.Path(lrfinder.__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)])}
    proc = subprocess.run([sys.executable, *spelling, "list"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env=env, preexec_fn=default_signals)  # fmt: skip
    assert (proc.returncode, proc.stderr, proc.stdout) == (130, "Interrupted; nothing was written.\n", "")


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["python", "-m", "lrfinder", "run"], "lrfinder"),
        (["python", "-mlrfinder.cli"], "lrfinder.cli"),
        (["python", "-IBm", "lrfinder"], "lrfinder"),
        (["python", "-W", "ignore", "-X", "dev", "-m", "lrfinder"], "lrfinder"),
        (["python", "-Wignore::UserWarning", "-m", "lrfinder"], "lrfinder"),
        (["python", "--check-hash-based-pycs", "always", "-m", "lrfinder"], "lrfinder"),
        (["python", "script.py", "-m", "lrfinder"], None),  # the script's own arguments
        (["python", "-c", "pass", "-m", "lrfinder"], None),
        (["python", "-W", "-m", "lrfinder"], None),  # -m is -W's value: python then runs the script 'lrfinder'
        (["python"], None),
    ],
)
def test_the_module_python_runs_is_read_as_python_reads_its_options(argv, module):
    from lrfinder._startup import _module_run

    assert _module_run(argv) == module
