"""What a user installs: every module lrfinder imports is a declared dependency, and the sdist holds the project."""

from __future__ import annotations

import ast
import configparser
import re
import shutil
import subprocess
import sys
import tarfile
from importlib.metadata import packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Modules lrfinder imports (lazily, under Lightning) that come with a distribution it declares, and which one.
_THROUGH = {"fsspec": "pytorch-lightning", "torchmetrics": "pytorch-lightning", "lightning_fabric": "pytorch-lightning"}


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement string (``torch>=2.1,<3`` -> ``torch``)."""
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement).group(1)).lower()  # type: ignore[union-attr]


def _declared() -> dict[str, set[str]]:
    """The distributions setup.cfg declares: install_requires under "", each extra under its name."""
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    lines = lambda text: [line for line in text.splitlines() if line.strip()]  # noqa: E731
    declared = {"": {_name(r) for r in lines(cfg["options"]["install_requires"])}}
    for extra, text in cfg["options.extras_require"].items():
        declared[extra] = {_name(r) for r in lines(text)}
    return declared


def _imported_modules() -> set[str]:
    """The top-level names of the absolute imports anywhere in lrfinder's source, lazy ones included."""
    found: set[str] = set()
    for path in (ROOT / "lrfinder").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"__future__", "lrfinder"}


def test_every_module_lrfinder_imports_is_a_declared_dependency() -> None:
    declared = _declared()
    distributions = packages_distributions()
    undeclared = {}
    for module in sorted(_imported_modules()):
        if module in _THROUGH:
            # It comes with a declared distribution: check that it still does.
            via = _THROUGH[module]
            assert via in declared[""], via
            assert module.replace("_", "-") in {_name(r) for r in requires(via) or []}, (module, via)
            continue
        names = {_name(d) for d in distributions.get(module, [])} | {_name(module)}
        if not names & declared[""] and not (module == "lightning" and "lightning" in declared["lightning"]):
            undeclared[module] = sorted(names)
    assert undeclared == {}, f"imported by lrfinder but not in setup.cfg's install_requires: {undeclared}"


#: What is not the project's source: caches of tools and builds, and benchmarks/'s cached curves (1.8 MB, rebuilt on
#: demand; no test reads them).
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", "__pycache__", "*.py[cod]", ".pytest_cache", ".ruff_cache", ".mypy_cache", "*.egg-info", "build", "dist"
)


def test_the_sdist_holds_what_the_tests_read_and_no_caches(tmp_path: Path) -> None:
    """The tests run from an unpacked sdist: their helpers and data, examples/, benchmarks/ and the changelog are in it.

    Without MANIFEST.in setuptools took tests/test_*.py alone: conftest.py, _models.py and tests/data were left
    out, so no test of the sdist could even be imported.
    """
    # The project's files (not a virtual environment or run outputs a checkout may hold): its top-level files and the
    # folders an sdist draws from, .ci to see it left out.
    tree = tmp_path / "tree"
    tree.mkdir()
    for path in ROOT.iterdir():
        if path.is_file():
            shutil.copy2(path, tree)
        elif path.name in ("lrfinder", "docs", "tests", "examples", "benchmarks", ".ci"):
            shutil.copytree(path, tree / path.name, ignore=_NOT_SOURCE)
    code = "from setuptools import build_meta; print(build_meta.build_sdist('dist'))"
    done = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    with tarfile.open(tree / "dist" / done.stdout.split()[-1]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    wanted = {"README.md", "CHANGELOG.md", "LICENSE", "setup.cfg", "pyproject.toml", "constraints-cpu.txt"}
    for folder in ("lrfinder", "docs", "tests", "examples", "benchmarks"):
        wanted |= {p.relative_to(tree).as_posix() for p in (tree / folder).rglob("*") if p.is_file()}
    wanted = {name for name in wanted if not name.startswith("benchmarks/cache/")}
    assert {"tests/conftest.py", "tests/_models.py", "tests/data/demo_result.json"} <= wanted
    assert sorted(wanted - names) == []
    unwanted = [n for n in names if n.startswith(("benchmarks/cache/", ".ci/")) or "__pycache__" in n]
    assert unwanted == []
