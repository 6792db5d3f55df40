from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lrfinder._atomic import atomic_write, atomic_write_text


def test_written_file_has_normal_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "out.json", "{}\n")
    finally:
        os.umask(old)
    assert path.read_text() == "{}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_directory_target_is_named_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "results"
    target.mkdir()
    # Before, the error named the hidden temporary file the rename came from.
    with pytest.raises(IsADirectoryError, match=r"Cannot write '.*results': it is a directory"):
        atomic_write_text(target, "{}")
    assert target.is_dir() and not list(target.iterdir()) and [p.name for p in tmp_path.iterdir()] == ["results"]


def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "report.png"
    target.write_text("old")

    def broken(tmp: str) -> None:
        Path(tmp).write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.png"]


def test_staged_writes_appear_together_or_not_at_all(tmp_path):
    from lrfinder._atomic import staged_writes

    (tmp_path / "a.json").write_text("old")
    with pytest.raises(RuntimeError, match="report failed"):
        with staged_writes() as staged:
            staged.add_text(tmp_path / "a.json", "new")
            staged.add(tmp_path / "b.png", lambda tmp: (_ for _ in ()).throw(RuntimeError("report failed")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temp files, no b.png
    assert (tmp_path / "a.json").read_text() == "old"
    seen = []
    with staged_writes() as staged:
        staged.add_text(tmp_path / "a.json", "new")
        staged.add_text(tmp_path / "sub" / "c.csv", "c")
        assert (tmp_path / "a.json").read_text() == "old"  # nothing appears before the commit
        written = staged.commit(before=lambda: seen.append("before"))
    assert seen == ["before"] and [p.name for p in written] == ["a.json", "c.csv"]
    assert (tmp_path / "a.json").read_text() == "new" and (tmp_path / "sub" / "c.csv").read_text() == "c"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "sub"]


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no new file can be made")
def test_a_path_that_cannot_be_written_is_named_not_the_temporary_file() -> None:
    # The error named the hidden temporary file: "No such file or directory: '/proc/.r.json.j0qp5may.tmp'".
    with pytest.raises(FileNotFoundError) as info:
        atomic_write_text("/proc/lrfind-r.json", "{}")
    assert str(info.value) == "[Errno 2] No such file or directory: '/proc/lrfind-r.json'"


def test_a_path_ending_in_a_separator_is_refused(tmp_path: Path) -> None:
    # Path("out.json/") is "out.json": a file was written where a directory was named.
    from lrfinder import RangeTestResult, save_report

    result = RangeTestResult.from_json(Path(__file__).parent / "data" / "demo_result.json")
    for write, name in (
        (lambda p: atomic_write_text(p, "x"), "a.txt"),
        (lambda p: result.to_json(p), "r.json"),
        (lambda p: save_report(result, p), "r.png"),
    ):
        path = f"{tmp_path / name}{os.sep}"
        with pytest.raises(IsADirectoryError, match=r"ends in '/', so it names a directory; give a file name"):
            write(path)
        assert not (tmp_path / name).exists()


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory, where the content of an output written in place is staged."""
    import tempfile

    folder = tmp_path / "tmpdir"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")
def test_a_symlink_is_written_through_not_replaced(tmp_path: Path, private_tmp: Path) -> None:
    # Renamed over, the link itself became a regular file and its target kept the old content.
    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "7.json"
    real.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "runs", "tmpdir"]
    assert list(private_tmp.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")
@pytest.mark.parametrize("staged", [False, True])
def test_the_file_a_symlink_leads_to_is_replaced_atomically_from_its_own_directory(
    tmp_path: Path, private_tmp: Path, staged: bool
) -> None:
    # Its content was staged in $TMPDIR (often another file system) and copied into the file through the link: a
    # reader saw it truncated, and an error halfway left it so. Now a temporary file beside the linked file is
    # renamed over it: the file is whole, old or new, at every moment, and the link stays a link.
    from lrfinder._atomic import staged_writes

    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "7.json"
    real.write_text("old")
    (tmp_path / "link1.json").symlink_to(real)
    link = tmp_path / "latest.json"
    link.symlink_to("link1.json")  # a link to a link, relative
    before = real.stat().st_ino
    seen: list[tuple[Path, str]] = []

    def write(tmp: str) -> None:
        seen.append((Path(tmp).parent, real.read_text()))  # where it is staged; the file meanwhile
        Path(tmp).write_text("new")

    if staged:
        with staged_writes() as files:
            files.add(link, write)
            assert real.read_text() == "old"
            assert [p.name for p in files.commit()] == ["latest.json"]
    else:
        assert atomic_write(link, write) == link
    assert seen == [(tmp_path / "runs", "old")]
    assert real.read_text() == "new" and real.stat().st_ino != before  # renamed over, not written into
    assert link.is_symlink() and os.readlink(link) == "link1.json" and (tmp_path / "link1.json").is_symlink()
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["7.json"]
    assert list(private_tmp.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")
@pytest.mark.parametrize("staged", [False, True])
def test_a_symlink_to_a_file_not_made_yet_makes_it_atomically_from_its_own_directory(
    tmp_path: Path, private_tmp: Path, staged: bool
) -> None:
    # latest.json -> runs/8.json before run 8: its content was staged in $TMPDIR and written through the link, the
    # file made and filled in place (a reader saw it empty or half-written). Now it appears whole, by a rename.
    from lrfinder._atomic import staged_writes

    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "8.json"
    link = tmp_path / "latest.json"
    link.symlink_to(Path("runs") / "8.json")
    seen: list[tuple[Path, bool]] = []

    def write(tmp: str) -> None:
        seen.append((Path(tmp).parent, real.exists()))  # where it is staged; whether the file is there meanwhile
        Path(tmp).write_text("new")

    old = os.umask(0o022)
    try:
        if staged:
            with staged_writes() as files:
                files.add(link, write)
                assert not real.exists()
                assert [p.name for p in files.commit()] == ["latest.json"]
        else:
            assert atomic_write(link, write) == link
    finally:
        os.umask(old)
    assert seen == [(tmp_path / "runs", False)]
    assert real.read_text() == "new" and stat.S_IMODE(real.stat().st_mode) == 0o644
    assert link.is_symlink() and os.readlink(link) == os.path.join("runs", "8.json")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["8.json"]
    assert list(private_tmp.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")
def test_a_symlink_to_a_file_in_a_missing_directory_is_refused_as_before(tmp_path: Path, private_tmp: Path) -> None:
    # No directory is made at the far end of a link (a stale one, most likely): the shell's ">" says the same.
    link = tmp_path / "latest.json"
    link.symlink_to(tmp_path / "gone" / "8.json")
    with pytest.raises(FileNotFoundError):
        atomic_write_text(link, "new")
    assert not (tmp_path / "gone").exists() and link.is_symlink()
    assert list(private_tmp.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")
@pytest.mark.parametrize("through", ["link", "file"])
@pytest.mark.parametrize("staged", [False, True])
def test_a_replaced_file_keeps_its_permissions(tmp_path: Path, through: str, staged: bool) -> None:
    # A file replaced (through a link, or named itself) took the usual 0o666 less the umask: a result kept private
    # (chmod 600) became readable by all; the shell's ">" writes into the file and keeps them.
    from lrfinder._atomic import staged_writes

    real = tmp_path / "r.json"
    real.write_text("old")
    path = real
    if through == "link":
        path = tmp_path / "latest.json"
        path.symlink_to(real)
    for mode in (0o600, 0o640, 0o755):
        os.chmod(real, mode)
        old = os.umask(0o022)
        try:
            if staged:
                with staged_writes() as files:
                    files.add_text(path, f"new {mode:o}")
                    files.commit()
            else:
                atomic_write_text(path, f"new {mode:o}")
        finally:
            os.umask(old)
        assert real.read_text() == f"new {mode:o}" and stat.S_IMODE(real.stat().st_mode) == mode
    assert path.is_symlink() == (through == "link")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir() or os.name == "nt", reason="needs Linux's /proc")
def test_a_link_to_a_pipe_through_proc_is_still_written_into(tmp_path: Path, private_tmp: Path) -> None:
    # /dev/stdout is a link to /proc/self/fd/1, which the kernel leads to a pipe, though its path reads as no file
    # ("/proc/<pid>/fd/pipe:[1234]"): it is not a link to a file not made yet. A link of the test's own to
    # /proc/self/fd/N stands for it (nothing under /dev is touched).
    read_end, write_end = os.pipe()
    try:
        link = tmp_path / "stdout"
        link.symlink_to(f"/proc/self/fd/{write_end}")
        atomic_write_text(link, '{"lr": 0.1}\n')
        assert os.read(read_end, 100) == b'{"lr": 0.1}\n'
    finally:
        os.close(read_end)
        os.close(write_end)
    assert link.is_symlink() and sorted(p.name for p in tmp_path.iterdir()) == ["stdout", "tmpdir"]
    assert list(private_tmp.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="POSIX symlinks")
def test_a_linked_file_in_a_directory_that_takes_no_new_file_is_written_through(
    tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No temporary file can be made beside it (no permission in its directory; root passes the bits, so the refusal
    # is made here): the file is written into through the link, as before, not refused.
    import lrfinder._atomic as atomic

    real = tmp_path / "shared" / "r.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "r.json"
    link.symlink_to(real)
    beside = atomic._temp_beside

    def refused(target: Path) -> str:
        if target.parent == real.parent:
            raise PermissionError(13, "Permission denied", str(target))
        return beside(target)

    monkeypatch.setattr(atomic, "_temp_beside", refused)
    before = real.stat().st_ino
    atomic_write_text(link, "new")
    assert real.read_text() == "new" and real.stat().st_ino == before and link.is_symlink()
    assert list(private_tmp.iterdir()) == []


def test_a_path_with_a_nul_byte_is_named_in_words(tmp_path: Path) -> None:
    # Python's ValueError said "embedded null byte" and named no path.
    from lrfinder._atomic import staged_writes

    path = str(tmp_path / "a\0b.json")
    with pytest.raises(ValueError, match=r"^Cannot write '.*a\\x00b\.json': it contains a NUL byte \(\\x00\)"):
        atomic_write_text(path, "x")
    with pytest.raises(ValueError, match="contains a NUL byte"), staged_writes() as staged:
        staged.add_text(path, "x")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/dev/null").is_char_device(), reason="needs /dev/null")
def test_staged_writes_go_into_a_device_through_a_link(tmp_path: Path, private_tmp: Path) -> None:
    # As root, `lrfind fit -o /dev/null` (or `--json /dev/stdout`) replaced the device's name in /dev with a
    # regular file: here a link stands for it, so that the old code could not break the machine.
    from lrfinder._atomic import in_place, staged_writes

    link = tmp_path / "null.json"
    link.symlink_to(os.devnull)
    assert in_place(link) and in_place(os.devnull) and not in_place(tmp_path / "new.json")
    with staged_writes() as staged:
        staged.add_text(link, "{}")
        staged.add_text(tmp_path / "r.csv", "lr,loss\n")
        written = staged.commit()
    assert [p.name for p in written] == ["r.csv", "null.json"]  # the renames first
    assert link.is_symlink() and Path(os.devnull).is_char_device()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null.json", "r.csv", "tmpdir"]
    assert list(private_tmp.iterdir()) == []


@pytest.mark.skipif(not Path("/dev/full").is_char_device(), reason="needs /dev/full")
def test_a_full_device_written_into_is_named(tmp_path: Path, private_tmp: Path) -> None:
    # result.to_json("/dev/full") said "[Errno 28] No space left on device", naming no file.
    from lrfinder._atomic import staged_writes

    link = tmp_path / "full.json"
    link.symlink_to("/dev/full")
    with pytest.raises(OSError, match=r"No space left on device: '.*full\.json'$") as info:
        atomic_write_text(link, "{}")
    assert info.value.filename == str(link)
    with pytest.raises(OSError, match=r"No space left on device: '.*full\.json'$"), staged_writes() as staged:
        staged.add_text(link, "{}")
        staged.commit()
    assert link.is_symlink() and list(private_tmp.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes")
def test_a_named_pipe_is_written_into(tmp_path: Path, private_tmp: Path) -> None:
    import threading

    pipe = tmp_path / "result.json"
    os.mkfifo(pipe)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_text()), daemon=True)
    reader.start()
    deadline = 50
    while deadline:  # until the reader has opened it (writing to a pipe nobody reads is refused)
        try:
            atomic_write_text(pipe, '{"lr": 0.1}\n')
            break
        except OSError:
            deadline -= 1
            reader.join(0.1)
    reader.join(10)
    assert got == ['{"lr": 0.1}\n'] and stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX named pipes")
def test_a_named_pipe_nobody_reads_is_refused_at_once(tmp_path: Path, private_tmp: Path) -> None:
    # Not a wait without end while the commit holds SIGINT back; the pipe stays a pipe.
    import errno

    pipe = tmp_path / "result.json"
    os.mkfifo(pipe)
    with pytest.raises(OSError, match="no process reads") as info:
        atomic_write_text(pipe, "{}")
    assert info.value.errno == errno.ENXIO and stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert list(private_tmp.iterdir()) == []
