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
