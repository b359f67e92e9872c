"""Reading a user's CSV table (producers, projects) as text cells, for checking by the caller.

One reader serves the experiment's ``producers_file`` / ``projects_file`` (cells converted by the
row's pydantic model) and ``abm calibrate`` (cells checked column by column in
abm.calibration.table). Both callers phrase their own messages about columns and values; this
module says when the file itself cannot be read or its rows do not fit its header.

Errors about the file's content name the CSV file and its line, not the experiment that names it:
the line to fix is in the CSV.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl

from abm.errors import ConfigError

LINE = "_csv_line"  # column added by read_cells: the CSV line of each row (the header is line 1)


def regular_file(path: Path, *, file: str, key: str | None, what: str) -> None:
    """Raise ConfigError(file, key, ...) unless `path` is a regular file (or a link to one):
    a missing path, a folder, a FIFO or a device is refused before it is opened (a FIFO would
    block the read for good). The message names `path` when it is not `file` itself."""
    named = "" if str(path) == file else f": {path}"
    if not path.exists():
        raise ConfigError(file, key, f"file not found{named}")
    if path.is_dir():
        raise ConfigError(file, key, f"is a folder, expected {what}{named}")
    if not path.is_file():
        raise ConfigError(file, key, f"is not a regular file (a pipe, socket or device), "
                          f"expected {what}{named}")


def read_text(path: Path, *, file: str, key: str | None, what: str) -> str:
    """The UTF-8 text of a regular file (a byte-order mark dropped). A file in another encoding
    is a ConfigError naming `path` and the line of the first byte that is not UTF-8."""
    regular_file(path, file=file, key=key, what=what)
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        excel = " (in Excel: 'CSV UTF-8')" if "CSV" in what else ""
        raise ConfigError(str(path), None, f"is not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                          f"expected {what} saved as UTF-8{excel}", line) from None


def read_cells(path: Path, *, file: str, key: str | None, what: str) -> pl.DataFrame:
    """The CSV at `path` as string columns: header names trimmed (a UTF-8 byte-order mark
    dropped), cells trimmed, empty cells null, blank lines skipped, and a LINE column; an empty
    file gives a frame without columns.

    Raises ConfigError(file, key, ...) for a missing file, a folder or anything that is not a
    regular file (`what` names the expected file in the message, e.g. "a producers CSV file";
    the message names `path` when it is not `file` itself), and ConfigError(path, ..., line)
    for a file that is not UTF-8, a column named twice, or a row with more or fewer fields than
    the header (a thousands separator, 35,000, splits a number in two).
    """
    path = Path(path)
    text = read_text(path, file=file, key=key, what=what)
    csv_file = str(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1   # the line a record starts on (a quoted cell may span lines)
    try:
        for fields in reader:
            if not fields or all(not f.strip() for f in fields):   # a blank line
                start = reader.line_num + 1
                continue
            if header is None:
                header = [f.strip() for f in fields]
            elif len(fields) != len(header):
                hint = ("; a number with a thousands separator (35,000) splits into two "
                        "fields: write 35000, or quote a cell holding a comma"
                        if len(fields) > len(header) else "; give every column a cell (empty "
                        "for a default)")
                raise ConfigError(csv_file, None, f"row has {len(fields)} fields but the header "
                                  f"has {len(header)} columns ({', '.join(header)}){hint}", start)
            else:
                rows.append(fields)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ConfigError(csv_file, None, f"not a readable CSV file: {exc}", start) from None
    if header is None:
        return pl.DataFrame()
    twice = next((c for i, c in enumerate(header) if c in header[:i]), None)
    if twice is not None:
        raise ConfigError(csv_file, None, f"column '{twice}' appears twice in the header", 1)
    columns = {name: [row[i].strip() for row in rows] for i, name in enumerate(header)}
    cells = pl.DataFrame(columns, schema={name: pl.String for name in header})
    cells = cells.with_columns(pl.when(pl.col(pl.String) != "").then(pl.col(pl.String)))
    return cells.with_columns(pl.Series(LINE, lines, dtype=pl.UInt32))
