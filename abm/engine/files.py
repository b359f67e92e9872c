"""Atomic file writes and the results-folder lock: the one writer every module uses.

A reader (a resumed run, the report, a browser, a user's notebook) must never see half a file:
every file is written under a temporary name in the same folder and then renamed with
``os.replace``, which is atomic on POSIX file systems (and replaces the target on Windows).
Temporary names start with ``.`` and end in ``.tmp`` so ``*.parquet`` and ``*.html`` globs skip
them. Files get the ordinary permissions of the umask (results and pages are shared, unlike
``mkstemp``'s private files). There is no fsync: the guarantee is "whole or absent" for readers,
not durability across a power cut (a lost run file is recomputed on resume).
"""

from __future__ import annotations

import errno
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

if TYPE_CHECKING:
    import polars as pl

TMP_SUFFIX = ".tmp"
# errors of a disk that cannot take more (full, over quota, read-only, no permission)
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


class CannotWrite(RuntimeError):
    """The results folder cannot be written (disk full, read-only, no permission)."""

    def __init__(self, out: Path | str, exc: OSError):
        reason = (os.strerror(exc.errno) if exc.errno else str(exc)).lower()
        super().__init__(f"cannot write to {out}: {reason}")
        self.out, self.errno = Path(out), exc.errno


def is_disk_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS


def temp_path(path: Path) -> Path:
    """A unique temporary name beside `path` (same folder, so the rename stays atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}")


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on a clean exit it is renamed to `path`, on an error
    it is removed. The folder is created when missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(data: bytes, path: Path | str) -> None:
    """Write bytes to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(text: str, path: Path | str) -> None:
    """Write UTF-8 text to `path` atomically (newlines written as given)."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def write_json_atomic(data: Any, path: Path | str) -> None:
    """Write JSON to `path` atomically (indented: people read manifests)."""
    write_text_atomic(json.dumps(data, indent=1, default=str) + "\n", path)


def write_parquet_atomic(frame: pl.DataFrame | pl.LazyFrame, path: Path | str,
                         compression: str = "zstd") -> None:
    """Write a frame to `path` atomically (a LazyFrame is streamed, not collected).
    `compression`: "zstd" (small files) or "lz4" (faster; used for per-run files that are
    compacted later)."""
    import polars as pl

    with atomic_path(path) as tmp:
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(tmp, compression=compression)
        else:
            frame.write_parquet(tmp, compression=compression)


def remove_stale_temps(folder: Path) -> int:
    """Delete temporary files left by a killed writer; returns how many. Call only while holding
    the folder lock (another live writer's temporary files would otherwise be removed)."""
    count = 0
    if folder.is_dir():
        for tmp in folder.glob(f".*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
            count += 1
    return count


# what abm writes in a results folder (docs/architecture.md); links among them are refused
OWN_ENTRIES = ("manifest.json", ".lock", "runs", "series", "summary", "report", "quarantine")


def check_no_links(out: Path) -> None:
    """Raise abm.errors.ConfigError when anything abm writes or deletes inside results folder
    `out` is a symbolic link (the folder itself may be one): a write would go, and a delete
    reach, outside the folder. One level below the folders is checked: abm writes no deeper."""
    from abm.errors import ConfigError

    out = Path(out)
    if not out.is_dir():
        return
    for name in OWN_ENTRIES:
        path = out / name
        if path.is_symlink():
            raise _link_error(ConfigError, path)
        if path.is_dir():
            with os.scandir(path) as entries:
                for entry in entries:
                    if entry.is_symlink():
                        raise _link_error(ConfigError, Path(entry.path))
                    if entry.is_dir(follow_symlinks=False) and name == "quarantine":
                        for inner in os.scandir(entry.path):
                            if inner.is_symlink():
                                raise _link_error(ConfigError, Path(inner.path))


def _link_error(cls: type, path: Path) -> Exception:
    return cls(str(path), None, "is a symbolic link; abm never writes or deletes through a link "
               "inside a results folder: remove the link (or choose another folder)")


class FolderLock:
    """An advisory lock on a results folder, so two engines never write one folder at once.

    A ``filelock.FileLock`` on ``<folder>/.lock`` (an OS lock: released when the process dies, so
    a killed run never leaves the folder locked). The lock file itself is left in place.
    """

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".lock"
        # thread_local=False: acquired and released by the engine's thread, never shared
        self._lock = FileLock(self.path, thread_local=False)

    def acquire(self, timeout: float = 0) -> bool:
        """Take the lock, waiting at most `timeout` seconds; False when another process (or
        another FolderLock object in this process) holds it."""
        if self.path.is_symlink():
            return False    # never open a link inside a results folder (check_no_links says why)
        try:
            self._lock.acquire(timeout=timeout)
        except Timeout:
            return False
        return True

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release()
