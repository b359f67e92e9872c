"""Atomic file writes and the results-folder lock.

A reader (a resumed run, the report, a user's notebook) must never see half a file: every file is
written under a temporary name in the same folder and then renamed with ``os.replace``, which is
atomic on POSIX file systems. Temporary names end in ``.tmp`` so ``*.parquet`` globs skip them.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import polars as pl

TMP_SUFFIX = ".tmp"


def temp_path(path: Path) -> Path:
    """A unique temporary name beside `path` (same folder, so the rename stays atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}")


def write_parquet_atomic(frame: pl.DataFrame | pl.LazyFrame, path: Path,
                         compression: str = "zstd") -> None:
    """Write a frame to `path` atomically (a LazyFrame is streamed, not collected).
    `compression`: "zstd" (small files) or "lz4" (faster; used for per-run files that are
    compacted later)."""
    tmp = temp_path(path)
    try:
        try:
            _write(frame, tmp, compression)
        except FileNotFoundError:       # first file in a new folder
            path.parent.mkdir(parents=True, exist_ok=True)
            _write(frame, tmp, compression)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write(frame: pl.DataFrame | pl.LazyFrame, path: Path, compression: str) -> None:
    if isinstance(frame, pl.LazyFrame):
        frame.sink_parquet(path, compression=compression)
    else:
        frame.write_parquet(path, compression=compression)


def write_json_atomic(data: Any, path: Path) -> None:
    """Write JSON to `path` atomically (indented: people read manifests)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        tmp.write_text(json.dumps(data, indent=1, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temps(folder: Path) -> int:
    """Delete temporary files left by a killed writer; returns how many. Call only while holding
    the folder lock (another live writer's temporary files would otherwise be removed)."""
    count = 0
    if folder.is_dir():
        for tmp in folder.glob(f".*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
            count += 1
    return count


class FolderLock:
    """An advisory lock on a results folder, so two engines never write one folder at once.

    Uses ``fcntl.flock`` on ``<folder>/.lock`` (released automatically if the process dies).
    On systems without fcntl the lock is a no-op.
    """

    def __init__(self, folder: Path):
        self.path = folder / ".lock"
        self._handle: Any = None

    def acquire(self) -> bool:
        """Take the lock; False when another process holds it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return True
        self._handle = self.path.open("a+")
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._handle.close()
            self._handle = None
            return False
        return True

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()    # closing the file releases the flock
            self._handle = None
