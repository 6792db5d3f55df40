"""Atomic file writes: a temporary file beside the target, then a rename (never half-written).

:func:`atomic_write` writes one file; :class:`StagedWrites` writes several that must appear
together or not at all (the command line's report, JSON, CSV and trained model): each is written
to its temporary file first, and only when all of them are written are they renamed into place,
with SIGINT, SIGTERM and SIGHUP held back for the few renames.

Only a regular file (or a new one) is replaced by a rename, keeping the permission bits of the file
it replaces. A symlink to a regular file (a ``latest.json`` link), or to a file not made yet in an
existing directory, keeps the link: the file it leads to is replaced (or made) atomically, by a
temporary file in that file's own directory (one in the temporary directory, on another file
system, made the rename a copy: a reader saw the file truncated, and an error halfway left it so).
A path that exists as something else, a device (``/dev/null``), a named pipe (bash's ``>(jq .)``)
or a symlink to one (``/dev/stdout``), is written into, through the link, as a shell's ``>``
writes it: its content is staged in the temporary directory instead of beside it.
Renamed over, the link or the device's name itself was replaced by a regular file (run as root,
``--json /dev/stdout`` made ``/dev/stdout`` a plain file, breaking every later ``> /dev/stdout``
on the machine).

A path with a NUL byte, which no file name can hold, is refused with a ``ValueError`` that says
so (Python's own was "embedded null byte", naming no path).

Temporary files never outlive an error, Ctrl-C, SIGTERM or SIGHUP: while a write runs with the
default disposition of SIGTERM (SIGHUP), the signal first removes the temporary files and then ends
the process as it would have (exit status 143, 129 in a shell).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from types import FrameType

__all__ = ["atomic_write", "atomic_write_text", "in_place", "unwritable", "StagedWrites", "staged_writes"]

#: The signals that end the process by default, each with its cleanup first (:func:`_clean_termination`): SIGHUP
#: (POSIX only: the terminal closed) left a write's temporary file behind as SIGTERM once did.
_TERMINATING = {signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])}
_HELD_BACK = {signal.SIGINT, *_TERMINATING}
#: The hangup alone (none on Windows).
HANGUP = {signal.SIGHUP} if hasattr(signal, "SIGHUP") else set()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Terminated(BaseException):
    """SIGTERM or SIGHUP arrived during a write (raised so that the ``except`` clauses clean up)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _clean_termination(signals: Collection[int] = _TERMINATING) -> Iterator[None]:
    """Make the default SIGTERM and SIGHUP run the cleanup (``except``/``finally``) before the process ends.

    Only for a signal with its default disposition, and in the main thread: a program with its
    own handler keeps it. ``signals`` narrows the two (``train`` takes SIGHUP alone: Lightning's
    fit has its own SIGTERM handling).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    default = [sig for sig in _TERMINATING if sig in signals and signal.getsignal(sig) == signal.SIG_DFL]

    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Terminated(signum)

    for sig in default:
        signal.signal(sig, handler)
    try:
        yield
    except _Terminated as exc:
        # The temporary files are gone (the writers' except clauses ran): now end as the signal would.
        signal.signal(exc.signum, signal.SIG_DFL)
        os.kill(os.getpid(), exc.signum)
        raise  # pragma: no cover - not reached: the process has ended
    finally:
        for sig in default:
            if signal.getsignal(sig) is handler:
                signal.signal(sig, signal.SIG_DFL)


@contextlib.contextmanager
def held_back_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP wait until the block has run, then arrive (a Ctrl-C raises there).

    For work that must not stop half-way: the renames of :meth:`StagedWrites.commit`, the restore of
    a range test's snapshot. Each signal's handler is replaced for the block by one that notes it; after
    the block the handlers are put back and each noted signal is sent again, to be taken as it would
    have been (a handler, or the default action). Not a ``pthread_sigmask``: that holds a signal back
    from the calling thread only, and the kernel gave a Ctrl-C to another thread of the process (one
    torch, Lightning or a DataLoader had started), whose Python handler then raised in the main
    thread all the same. In the main thread only (where Python runs handlers); a signal ignored, or
    handled outside Python, is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        noted.append(signum)

    handlers = {sig: signal.getsignal(sig) for sig in _HELD_BACK}
    held = [sig for sig, handler in handlers.items() if handler is not None and handler != signal.SIG_IGN]
    for sig in held:
        signal.signal(sig, note)
    try:
        yield
    finally:
        for sig in held:
            signal.signal(sig, handlers[sig])
        for signum in dict.fromkeys(noted):
            os.kill(os.getpid(), signum)


def in_place(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is written into rather than replaced: it exists and is not a regular file.

    A symlink (``/dev/stdout``, a link to the latest result), a device (``/dev/null``) or a named
    pipe (bash's ``>(jq .)``) is written through, as a shell's ``>`` would; a regular file and a
    new one are replaced atomically, and so is the file a link leads to when it is one
    (:func:`_linked_file`: the writers look there first). A directory is neither (the writers refuse it).
    """
    try:
        mode = os.lstat(path).st_mode
    except (OSError, ValueError):  # missing (a new file), or a name the system refuses (the writer says why)
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


#: The kernel's own trees: a link into them names no file to make (``/dev/stdout`` of a closed descriptor leads to
#: a ``/proc`` entry that is not there); a link there is written into, as the shell's ``>`` does.
_KERNEL_TREES = ("proc", "dev", "sys")


def unwritable(path: str) -> str | None:
    """Why ``path`` cannot be written by :func:`atomic_write`, said before the work that makes it; ``None`` if it can.

    A path can be written when it names a file (not a directory, and not ``dir/`` with a trailing
    separator), and its nearest existing ancestor is a directory this process may create files
    in: missing directories are created when writing. A symlink, a device or a named pipe
    (``/dev/stdout``, ``/dev/null``) needs only to be writable itself: a device or a pipe is written
    into (:func:`in_place`), and so is a linked file whose directory takes no new file (one that does
    gets its file replaced atomically from there). The permission bits alone do not say it (root
    passes them, and a read-only or virtual file system such as ``/proc`` refuses new files
    anyway), so a hidden file (or, for a missing parent, a directory) is created there and removed
    at once, as the atomic write itself will do. ``lrfind`` checks its outputs with it, and the
    Lightning callback its report.

    Returns:
        The reason, ``"cannot write PATH: ..."`` (or ``"PATH is a directory; ..."``) with what to do, or ``None``.

    """
    try:
        return _unwritable(path)
    except OSError as exc:
        # A name longer than the file system takes ("File name too long"), a loop of links: a
        # raw traceback from pathlib's stat, before the run.
        return f"cannot write {path}: {exc.strerror or exc}; choose another path"


def _unwritable(path: str) -> str | None:
    """:func:`unwritable` of one path; an ``OSError`` from looking at the path is the caller's to word."""
    target = Path(path)
    if target.is_dir():
        return f"{path} is a directory; give a file name"
    if path.endswith(("/", os.sep)):
        return f"{path} ends in '{path[-1]}', so it names a directory; give a file name inside it"
    if in_place(target):
        # Written into, through the link (/dev/stdout, /dev/null, a named pipe): nothing is made beside it,
        # so the directory's permissions do not matter (a user may not write in /dev).
        if target.exists():
            if not os.access(target, os.W_OK):
                return f"cannot write {path}: no permission to write it"
            return None
        # A link to a file yet to be made: written through, it makes that file, in a directory that must exist
        # (the run failed at its very end, "No such file or directory").
        folder = Path(os.path.realpath(target)).parent
        if not folder.is_dir():
            return (
                f"cannot write {path}: it is a symlink to {os.readlink(target)}, in {folder}, which does not exist; "
                "create it, or choose another path"
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"cannot write {path}: it is a symlink into {folder}, where there is no permission to write"
        return None
    parent = target.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"cannot write {path}: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"cannot write {path}: no permission to write in {parent}; choose another path"
    if target.exists() and not os.access(target, os.W_OK):
        return f"cannot write {path}: the file is read-only"
    missing_parent = parent != target.parent
    refused = _refuses_new_entries(parent, directory=missing_parent)
    if refused is not None:
        kind = "directories" if missing_parent else "files"
        return f"cannot write {path}: {parent} does not take new {kind} ({refused}); choose another path"
    return None


def _refuses_new_entries(folder: Path, *, directory: bool) -> str | None:
    """Why no new file (or ``directory``) can be made in ``folder``, else ``None``: one is made and removed."""
    try:
        if directory:
            os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".lrfind-check-"))
        else:
            fd, name = tempfile.mkstemp(dir=folder, prefix=".lrfind-check-", suffix=".tmp")
            os.close(fd)
            os.unlink(name)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _linked_file(path: Path) -> Path | None:
    """The file a symlink ``path`` leads to, through every link: a regular file, or one not made yet.

    ``None`` if ``path`` is no such link. A link to a device or a named pipe (``/dev/stdout``) is not
    one, nor a link to a file not made yet in a directory that does not exist or in the kernel's
    own trees (:data:`_KERNEL_TREES`): it is written into, as the shell's ``>`` does. A link to a file
    not made yet (``latest.json`` to ``runs/8.json`` before run 8) is one: it was written through,
    the file made and filled in place, so a reader could see it half-written.
    """
    try:
        if not stat.S_ISLNK(os.lstat(path).st_mode):
            return None
        real = Path(os.path.realpath(path))
    except (OSError, ValueError):  # no file (a new one), a name the system refuses: the writer says why
        return None
    try:
        os.stat(path)  # followed by the kernel: /proc's links to a pipe or a terminal (/dev/stdout) are found
    except FileNotFoundError:  # a link to no file yet
        return None if real.parts[1:2] in [(tree,) for tree in _KERNEL_TREES] or not real.parent.is_dir() else real
    except (OSError, ValueError):  # a loop of links
        return None
    try:
        return real if stat.S_ISREG(os.lstat(real).st_mode) else None
    except (OSError, ValueError):  # /proc's link to a pipe names no file ("pipe:[1234]")
        return None


def _mode(destination: Path) -> int:
    """The permission bits for the file that replaces ``destination``: the old file's, else ``0o666`` less the umask.

    A file replaced by a rename took the usual permissions whatever it had: a ``result.json`` kept private
    (``chmod 600``) became readable by all, as the shell's ``>``, which writes into the file, never makes it.
    """
    try:
        return stat.S_IMODE(os.stat(destination).st_mode) & 0o777
    except (OSError, ValueError):  # a new file
        return 0o666 & ~_umask()


def _check_name(path: str | os.PathLike[str]) -> None:
    """Refuse a path with a NUL byte, naming it; Python said only "embedded null byte".

    Raises:
        ValueError: ``path`` holds a NUL byte.

    """
    text = os.fspath(path)
    if "\0" in str(text):
        raise ValueError(
            f"Cannot write {text!r}: it contains a NUL byte (\\x00), which no file name can hold; check where the "
            "path came from"
        )


def _staging(target: Path) -> tuple[Path, str, bool]:
    """Where ``target``'s content goes, its temporary file, and whether it is written into (not renamed over).

    A symlink to a regular file or to one not made yet (:func:`_linked_file`): that file, a temporary
    file beside it (renamed over it, the link kept). A device, a named pipe, or a link to one
    (:func:`in_place`): ``target``, a temporary file in the temporary directory, written into. Else
    ``target``, a temporary file beside it. A linked file whose directory takes no new file (no
    permission there) is written into, through the link, as before.
    """
    real = _linked_file(target)
    if real is not None:
        try:
            return real, _temp_beside(real), False
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise _named(exc, target) from None
    if in_place(target):
        return target, _temp_aside(), True
    return target, _temp_beside(target), False


def _temp_aside() -> str:
    """A temporary file in the temporary directory, for the content of an output written :func:`in_place`.

    Not beside it: beside ``/dev/stdout`` is ``/dev``.
    """
    fd, tmp = tempfile.mkstemp(prefix=".lrfind-", suffix=".tmp")
    os.close(fd)
    return tmp


def _write_into(tmp: str, target: Path) -> None:
    """Copy ``tmp``'s bytes into ``target``, through a symlink, into a device or a named pipe.

    A named pipe is opened without waiting: one that no process reads fails at once (``ENXIO``)
    instead of blocking the command while it holds the signals back.

    Raises:
        OSError: ``target`` cannot be opened or written; said of ``target``.

    """
    nonblocking = getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | nonblocking, 0o666)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(exc.errno, "it is a named pipe that no process reads", str(target)) from None
        raise _named(exc, target) from None
    try:
        with open(fd, "wb") as out, open(tmp, "rb") as src:
            if nonblocking:
                os.set_blocking(fd, True)
            shutil.copyfileobj(src, out)
    except OSError as exc:
        # A write into /dev/full said "[Errno 28] No space left on device", naming no file.
        raise _named(exc, target) from None


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

    The file gets the permissions of the file it replaces, else the usual ones (``0o666`` less the
    umask), not ``mkstemp``'s private ``0o600``; on any error (Ctrl-C and SIGTERM included) the
    temporary file is removed and ``path`` is left as it was. A ``path`` that is a symlink to a
    regular file, or to one not made yet, keeps the link: that file is replaced (or made) so, by a
    temporary file beside it. A device, a named pipe, or a link to one is written into instead, once
    ``write`` has finished (:func:`in_place`).

    Raises:
        ValueError: ``path`` contains a NUL byte.
        OSError: ``path`` cannot be written, said of ``path``.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    """
    if isinstance(path, str) and path.endswith(("/", os.sep)):
        # Path("out.json/") is "out.json": the file was written where a directory was named.
        raise IsADirectoryError(
            f"Cannot write {path!r}: it ends in {path[-1]!r}, so it names a directory; give a file name"
        )
    _check_name(path)
    target = Path(path)
    with _clean_termination():
        destination, tmp, into = _staging(target)
        if into:
            try:
                write(tmp)
                _write_into(tmp, target)
            finally:
                Path(tmp).unlink(missing_ok=True)
            return target
        try:
            try:
                write(tmp)
                os.chmod(tmp, _mode(destination))
                os.replace(tmp, destination)
            except OSError as exc:
                if exc.filename is None or str(exc.filename) in (tmp, str(destination)):
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
        #: (the path asked for, where its content goes, its temporary file, whether it is written into)
        self._staged: list[tuple[Path, Path, str, bool]] = []

    def add(self, path: str | os.PathLike[str], write: Callable[[str], object]) -> None:
        """Write one file to its temporary name (``write(tmp_path)``); it appears at :meth:`commit`.

        A ``path`` that is a symlink to a regular file, or to one not made yet, is staged beside that
        file, which the commit replaces or makes (the link kept); a device, a named pipe, or a link to
        one (:func:`in_place`) is staged in the temporary directory and written into at :meth:`commit`.

        Raises:
            ValueError: ``path`` contains a NUL byte.

        """
        _check_name(path)
        target = Path(path)
        destination, tmp, into = _staging(target)
        self._staged.append((target, destination, tmp, into))  # recorded first, so a failing write is cleaned up too
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask() if into else _mode(destination))

    def add_text(self, path: str | os.PathLike[str], text: str) -> None:
        """Stage ``text`` (UTF-8) for ``path``."""
        self.add(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))

    def commit(self, before: Callable[[], None] | None = None) -> list[Path]:
        """Rename every staged file into place; SIGINT and SIGTERM wait until all are renamed.

        Files written :func:`in_place` (a symlink, a device, a named pipe) are written into after
        the renames, the signals still held back.

        Args:
            before: Called with the signals already held back, just before the renames (the
                command line uses it to say that a signal can no longer stop the command).

        Returns:
            The paths written, in the order they were added.

        Raises:
            OSError: A file cannot be put in place (a device written into is full: ``/dev/full``); said of the
                path asked for (``exc.filename``), never of its temporary file.

        """
        with held_back_signals():
            if before is not None:
                before()
            # The renames first: writing into a pipe waits on its reader.
            into = [entry for entry in self._staged if entry[3]]
            self._staged = [entry for entry in self._staged if not entry[3]] + into
            written = []
            while self._staged:
                target, destination, tmp, through = self._staged[0]
                if through:
                    _write_into(tmp, target)  # an error said of target
                    Path(tmp).unlink(missing_ok=True)
                else:
                    try:
                        os.replace(tmp, destination)
                    except OSError as exc:
                        raise _named(exc, target) from None
                self._staged.pop(0)
                written.append(target)
            return written

    def discard(self) -> None:
        """Remove every staged temporary file (the targets are untouched)."""
        while self._staged:
            _, _, tmp, _ = self._staged.pop()
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
    with _clean_termination():
        try:
            yield staged
        finally:
            staged.discard()
