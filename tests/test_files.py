"""The one atomic writer and the results-folder lock (abm.engine.files)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from abm.engine.files import (
    FolderLock,
    remove_stale_temps,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)


def test_writes_replace_the_file_whole_and_leave_no_temporary(tmp_path):
    path = tmp_path / "new" / "page.html"          # the folder is created
    write_text_atomic("first\r\n", path)
    write_text_atomic("é second", path)
    write_bytes_atomic(b"\x00bytes", tmp_path / "b.bin")
    write_json_atomic({"a": 1}, tmp_path / "m.json")
    assert path.read_text(encoding="utf-8") == "é second"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00bytes"
    assert (tmp_path / "m.json").read_text() == '{\n "a": 1\n}\n'
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["page.html"]


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path):
    path = tmp_path / "page.html"
    write_text_atomic("old", path)
    with pytest.raises(TypeError):
        write_text_atomic(b"not text", path)        # type: ignore[arg-type]
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["page.html"]
    (tmp_path / ".x.parquet.1.abcd.tmp").write_text("litter of a killed writer")
    assert remove_stale_temps(tmp_path) == 1


def test_files_get_the_umask_permissions_not_private_ones(tmp_path):
    mask = os.umask(0o022)
    try:
        write_text_atomic("x", tmp_path / "shared.html")
    finally:
        os.umask(mask)
    assert (tmp_path / "shared.html").stat().st_mode & 0o777 == 0o644


def test_the_folder_lock_is_exclusive_across_processes(tmp_path):
    lock = FolderLock(tmp_path)
    assert lock.acquire()
    probe = ("import sys; from pathlib import Path; from abm.engine.files import FolderLock; "
             "sys.exit(0 if FolderLock(Path(sys.argv[1])).acquire() else 3)")
    assert subprocess.run([sys.executable, "-c", probe, str(tmp_path)]).returncode == 3
    assert not FolderLock(tmp_path).acquire()       # another holder in this process too
    lock.release()
    assert subprocess.run([sys.executable, "-c", probe, str(tmp_path)]).returncode == 0
