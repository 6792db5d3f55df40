"""The ``CliRunner`` every CLI test uses, the same under click 8.1 and click >= 8.2.

click 8.2's runner keeps stderr apart: ``result.stdout`` and ``result.stderr`` are each stream alone
and ``result.output`` is both, as a terminal shows them. click 8.1's runner mixes stderr into stdout
unless it is built with ``mix_stderr=False``, and then its ``output`` is stdout alone. Under 8.1
:func:`cli_runner` keeps the streams apart and gives ``output`` as stdout then stderr, so a test reads
the same three attributes under both (under 8.1 ``output`` is not interleaved line by line).
"""

from __future__ import annotations

import inspect
from typing import Any

from click.testing import CliRunner, Result

#: click < 8.2: the runner mixes stderr into stdout unless told not to.
MIXES_STDERR = "mix_stderr" in inspect.signature(CliRunner.__init__).parameters


class _ApartResult(Result):
    """click 8.1's result with ``output`` as click 8.2 gives it: stdout and stderr."""

    @property
    def output(self) -> str:
        """Both streams, stdout first (click 8.2 interleaves them as they were written)."""
        return self.stdout + self.stderr


class _ApartRunner(CliRunner):
    """click 8.1's runner with stderr kept apart and ``output`` holding both streams."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(mix_stderr=False, **kwargs)

    def invoke(self, *args: Any, **kwargs: Any) -> Result:
        """Invoke as ``CliRunner.invoke`` does; the result's ``output`` holds stdout and stderr."""
        result = super().invoke(*args, **kwargs)
        result.__class__ = _ApartResult
        return result


def cli_runner(**kwargs: Any) -> CliRunner:
    """A ``CliRunner`` whose results give ``stdout``, ``stderr`` and ``output`` as click 8.2 does."""
    return _ApartRunner(**kwargs) if MIXES_STDERR else CliRunner(**kwargs)
