"""Reading a user's CSV table (producers, projects) as text cells, for checking by the caller.

One reader serves the experiment's ``producers_file`` / ``projects_file`` (cells handed to
pydantic) and ``abm calibrate`` (cells checked column by column in abm.calibration.table). Both
callers phrase their own messages about columns and values; this module only says when the file
itself cannot be read.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from abm.errors import ConfigError

LINE = "_csv_line"  # column added by read_cells: the CSV line of each row (the header is line 1)


def read_cells(path: Path, *, file: str, key: str | None, what: str) -> pl.DataFrame:
    """The CSV at `path` as string columns: header names trimmed (a UTF-8 byte-order mark
    dropped), cells trimmed, empty cells null, blank lines skipped, and a LINE column; an empty
    file gives a frame without columns.

    Raises ConfigError(file, key, ...) for a missing file, a folder, or a file polars cannot
    parse (`what` names the expected file in the message, e.g. "a producers CSV file"). The
    message names `path` when it is not `file` itself (a CSV named by an experiment file).
    """
    path = Path(path)
    named = "" if str(path) == file else f": {path}"
    if not path.exists():
        raise ConfigError(file, key, f"file not found{named}")
    if path.is_dir():
        raise ConfigError(file, key, f"is a folder, expected {what}{named}")
    try:
        raw = pl.read_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=False)
    except Exception as exc:  # polars raises several types for unreadable files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(file, key, f"not a readable CSV file{named}: {first}") from None
    names = [c.replace("\ufeff", "").strip() for c in raw.columns]
    twice = next((c for i, c in enumerate(names) if c in names[:i]), None)
    if twice is not None:
        raise ConfigError(file, key, f"column '{twice}' appears twice{named}")
    raw = raw.rename(dict(zip(raw.columns, names, strict=True)))
    cells = raw.with_columns(pl.col(pl.String).str.strip_chars())
    cells = cells.with_columns(pl.when(pl.col(pl.String) != "").then(pl.col(pl.String)))
    cells = cells.with_row_index(LINE, offset=2)
    # a blank line reads as a row of nulls; Python's csv module (and people) skip it
    return cells.filter(~pl.all_horizontal(pl.exclude(LINE).is_null()))
