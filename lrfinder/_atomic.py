"""Atomic file writes: a temporary file beside the target, then a rename (never half-written).

:func:`atomic_write` writes one file; :class:`StagedWrites` writes several that must appear
together or not at all (the command line's report, JSON, CSV and trained model): each is written
to its temporary file first, and only when all of them are written are they renamed into place,
with SIGINT and SIGTERM held back for the few renames.

Temporary files never outlive an error, Ctrl-C or SIGTERM: while a write runs with the default
SIGTERM disposition, SIGTERM first removes the temporary files and then ends the process as the
signal would have (exit status 143 in a shell).
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

__all__ = ["atomic_write", "atomic_write_text", "StagedWrites", "staged_writes"]

_HELD_BACK = {signal.SIGINT, signal.SIGTERM}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Terminated(BaseException):
    """SIGTERM arrived during a write (raised so that the ``except`` clauses clean up)."""


@contextlib.contextmanager
def _clean_sigterm() -> Iterator[None]:
    """Make the default SIGTERM run the cleanup (``except``/``finally``) before the process ends.

    Only when SIGTERM has its default disposition and this is the main thread: a program with
    its own handler keeps it.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except _Terminated:
        # The temporary files are gone (the writers' except clauses ran): now end as SIGTERM would.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        raise  # pragma: no cover - not reached: the process has ended
    finally:
        if signal.getsignal(signal.SIGTERM) is handler:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _temp_beside(target: Path) -> str:
    if target.is_dir():
        raise IsADirectoryError(f"Cannot write {str(target)!r}: it is a directory; give a file path inside it")
    for parent in target.parents:
        # mkdir said only "[Errno 17] File exists: 'notes.txt'" of a path through a file.
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(
                    f"Cannot write {str(target)!r}: {str(parent)!r} is a file, not a directory; choose another path"
                )
            break
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        # The error named the hidden temporary file ("No such file or directory: '/proc/.r.png.j0qp5may.tmp'"),
        # never the path asked for; the same OSError subclass, so callers catching it still do.
        raise _named(exc, target) from None
    os.close(fd)
    return tmp


def _named(exc: OSError, target: Path) -> OSError:
    """``exc`` said of ``target`` (not of a temporary file beside it), as the same ``OSError`` subclass.

    ``[Errno 2] No such file or directory: '/proc/r.json'``: Python's own wording, its ``strerror`` kept
    for callers that word the error themselves (``lrfind``'s "cannot write PATH: ...").
    """
    if exc.strerror is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(target))


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], object]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then rename it into place.

    The file gets the usual permissions (``0o666`` less the umask), not ``mkstemp``'s private
    ``0o600``; on any error (Ctrl-C and SIGTERM included) the temporary file is removed and
    ``path`` is left as it was.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    """
    if isinstance(path, str) and path.endswith(("/", os.sep)):
        # Path("out.json/") is "out.json": the file was written where a directory was named.
        raise IsADirectoryError(
            f"Cannot write {path!r}: it ends in {path[-1]!r}, so it names a directory; give a file name"
        )
    target = Path(path)
    with _clean_sigterm():
        tmp = _temp_beside(target)
        try:
            try:
                write(tmp)
                os.chmod(tmp, 0o666 & ~_umask())
                os.replace(tmp, target)
            except OSError as exc:
                if exc.filename is None or str(exc.filename) == tmp:
                    raise _named(exc, target) from exc
                raise
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


class StagedWrites:
    """Files written together: each to a temporary file now, all renamed by :meth:`commit`.

    Use it through :func:`staged_writes`, which removes the temporary files when anything fails
    before the commit.
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, str]] = []

    def add(self, path: str | os.PathLike[str], write: Callable[[str], object]) -> None:
        """Write one file to its temporary name (``write(tmp_path)``); it appears at :meth:`commit`."""
        target = Path(path)
        tmp = _temp_beside(target)
        self._staged.append((target, tmp))  # recorded first, so a failing write is cleaned up too
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())

    def add_text(self, path: str | os.PathLike[str], text: str) -> None:
        """Stage ``text`` (UTF-8) for ``path``."""
        self.add(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def commit(self, before: Callable[[], None] | None = None) -> list[Path]:
        """Rename every staged file into place; SIGINT and SIGTERM wait until all are renamed.

        Args:
            before: Called with the signals already held back, just before the renames (the
                command line uses it to say that a signal can no longer stop the command).

        Returns:
            The paths written, in the order they were added.

        """
        block = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
        if block:
            previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_BACK)
        try:
            if before is not None:
                before()
            written = []
            while self._staged:
                target, tmp = self._staged.pop(0)
                os.replace(tmp, target)
                written.append(target)
            return written
        finally:
            if block:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def discard(self) -> None:
        """Remove every staged temporary file (the targets are untouched)."""
        while self._staged:
            _, tmp = self._staged.pop()
            Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def staged_writes() -> Iterator[StagedWrites]:
    """A :class:`StagedWrites` whose temporary files are removed on any exit without a commit.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with staged_writes() as staged:
        ...     staged.add_text(folder / "a.txt", "a")
        ...     staged.add_text(folder / "b.txt", "b")
        ...     names = [p.name for p in staged.commit()]
        >>> names, sorted(p.name for p in folder.iterdir())
        (['a.txt', 'b.txt'], ['a.txt', 'b.txt'])

    """
    staged = StagedWrites()
    with _clean_sigterm():
        try:
            yield staged
        finally:
            staged.discard()
