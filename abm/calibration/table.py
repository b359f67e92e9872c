"""Reading and checking a producers table (CSV) for calibration.

Columns (header names are matched after trimming spaces, case-insensitively):

| column | required | meaning |
|---|---|---|
| name | yes | producer or project name |
| region | yes | region name |
| stage | yes | ``mine`` or ``refinery`` |
| capacity | yes | t/yr, > 0 |
| unit_cost | yes | cash cost per tonne of output, price unit of the table, > 0 |
| status | no | ``operating``, ``idle``, ``construction`` or ``planned`` (the last two: pipeline) |
| capex | no | USD per t/yr of capacity, >= 0 |
| lead_time | no | years from the decision to invest to first output, >= 0 |
| market_economy | no | true/false (also yes/no, 1/0): produces on commercial terms |

Every problem raises :class:`abm.errors.ConfigError` naming the file, the CSV line, the column
and what is allowed; empty cells in optional columns are allowed.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from abm.csvtable import LINE, read_cells
from abm.errors import ConfigError

REQUIRED = ("name", "region", "stage", "capacity", "unit_cost")
OPTIONAL = ("status", "capex", "lead_time", "market_economy")
STAGES = ("mine", "refinery")
STATUSES = ("operating", "idle", "construction", "planned")
PIPELINE = ("construction", "planned")
_TRUE = ("true", "yes", "1", "y", "t")
_FALSE = ("false", "no", "0", "n", "f")
# numeric columns: (name, strictly positive?, what the message says is allowed)
_NUMERIC = (("capacity", True, "a number greater than 0 (t/yr)"),
            ("unit_cost", True, "a number greater than 0 (price per tonne of output)"),
            ("capex", False, "a number of at least 0 (USD per t/yr), or empty"),
            ("lead_time", False, "a number of at least 0 (years), or empty"))


def read_producers(path: str | Path) -> pl.DataFrame:
    """The checked table: string columns name, region, stage (and status), float columns
    capacity, unit_cost (and capex, lead_time), boolean market_economy where given.

    Raises ConfigError on a missing file, a malformed CSV, unknown or missing columns, empty
    required cells, non-numbers, NaN or infinities, non-positive capacities or costs, and unknown
    stages, statuses or booleans.
    """
    path = Path(path)
    file = str(path)
    raw = read_cells(path, file=file, key=None, what="a producers CSV file")
    if raw.width == 1:  # only the line numbers: the file is empty
        raise ConfigError(file, None, "not a readable CSV file: empty CSV")
    columns = [c for c in raw.columns if c != LINE]
    _check_columns([c.lower() for c in columns], file)
    raw = raw.rename({c: c.lower() for c in columns})
    if raw.height == 0:
        raise ConfigError(file, None, "has a header but no producer rows")
    # the CSV line of each row, under the name the messages and agents_from_table use
    table = raw.rename({LINE: "line"})
    for column in REQUIRED:
        _check_present(table, column, file)
    out = table.with_columns(pl.col("stage").str.to_lowercase())
    _check_allowed(out, "stage", STAGES, file)
    if "status" in out.columns:
        out = out.with_columns(pl.col("status").str.to_lowercase())
        _check_allowed(out, "status", STATUSES, file, optional=True)
    for column, positive, allowed in _NUMERIC:
        if column in out.columns:
            out = _to_number(out, column, positive, allowed, file)
    if "market_economy" in out.columns:
        out = _to_bool(out, file)
    return out


def _check_columns(columns: list[str], file: str) -> None:
    allowed = REQUIRED + OPTIONAL
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            raise ConfigError(file, None, f"column '{column}' appears twice")
        seen.add(column)
        if column not in allowed:
            raise ConfigError(file, None, f"unknown column '{column}'; allowed: "
                              f"{', '.join(allowed)}", 1)
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise ConfigError(file, None, f"missing column{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(repr(c) for c in missing)}; required: "
                          f"{', '.join(REQUIRED)}", 1)


def _fail(table: pl.DataFrame, mask: pl.Series, column: str, allowed: str, file: str,
          shown: pl.Series | None = None) -> None:
    """Raise for the first row where ``mask`` is true."""
    if not mask.any():
        return
    i = int(mask.arg_true()[0])
    row = table.row(i, named=True)
    value = (shown if shown is not None else table[column])[i]
    who = f" (producer '{row['name']}')" if row.get("name") else ""
    got = "an empty cell" if value is None or value == "" else repr(value)
    raise ConfigError(file, None, f"column '{column}'{who}: must be {allowed} (got {got})",
                      int(row["line"]))


def _check_present(table: pl.DataFrame, column: str, file: str) -> None:
    values = table[column]
    _fail(table, values.is_null() | (values == ""), column, "a non-empty value", file)


def _check_allowed(table: pl.DataFrame, column: str, allowed: tuple[str, ...], file: str,
                   optional: bool = False) -> None:
    values = table[column]
    bad = ~values.is_in(list(allowed))
    if optional:
        bad = bad & values.is_not_null()
    else:
        bad = bad | values.is_null()
    _fail(table, bad.fill_null(False), column, "one of " + ", ".join(allowed)
          + (" (or empty)" if optional else ""), file)


def _to_number(table: pl.DataFrame, column: str, positive: bool, allowed: str,
               file: str) -> pl.DataFrame:
    text = table[column]
    number = text.cast(pl.Float64, strict=False)
    # empty required cells were refused by _check_present; empty optional cells stay null
    unparsed = text.is_not_null() & number.is_null()
    not_finite = number.is_not_null() & ~number.is_finite()  # NaN and infinities
    out_of_range = (number <= 0) if positive else (number < 0)
    bad = unparsed | not_finite | out_of_range.fill_null(False)
    _fail(table, bad.fill_null(False), column, allowed, file, shown=text)
    return table.with_columns(number.alias(column))


def _to_bool(table: pl.DataFrame, file: str) -> pl.DataFrame:
    text = table["market_economy"].str.to_lowercase()
    bad = text.is_not_null() & ~text.is_in(list(_TRUE + _FALSE))
    _fail(table, bad.fill_null(False), "market_economy", "true or false (or empty)", file,
          shown=table["market_economy"])
    value = pl.when(text.is_in(list(_TRUE))).then(True).when(text.is_in(list(_FALSE))).then(False)
    return table.with_columns(pl.select(value.alias("market_economy")).to_series())


def select(table: pl.DataFrame, *, stage: str | None, group: str, file: str,
           status: str = "all") -> tuple[pl.DataFrame, str]:
    """Rows of one stage and region group; returns them and the stage used.

    ``stage`` None: the only stage in the table, else ``refinery`` (the priced product); a table
    mixing stages must not be fitted as one curve (mines' costs are per tonne of concentrate).
    ``group``: ``market``, ``nonmarket`` or ``all`` (needs a market_economy column unless all).
    ``status``: ``existing`` (operating, idle or empty), ``pipeline`` or ``all``.
    """
    stages = sorted(set(table["stage"].to_list()))
    if stage is None:
        stage = stages[0] if len(stages) == 1 else "refinery"
    rows = table.filter(pl.col("stage") == stage)
    if group != "all":
        if "market_economy" not in table.columns:
            raise ConfigError(file, None, f"--group {group} needs a 'market_economy' column "
                              "(true/false); add it or use --group all")
        flag = group == "market"
        unknown = rows.filter(pl.col("market_economy").is_null())
        if unknown.height:
            row = unknown.row(0, named=True)
            raise ConfigError(file, None, f"column 'market_economy' (producer '{row['name']}'): "
                              f"must be true or false for --group {group} (got an empty cell)",
                              int(row["line"]))
        rows = rows.filter(pl.col("market_economy") == flag)
    if status != "all" and "status" in rows.columns:
        is_pipeline = pl.col("status").is_in(list(PIPELINE)).fill_null(False)
        rows = rows.filter(is_pipeline if status == "pipeline" else ~is_pipeline)
    return rows, stage
