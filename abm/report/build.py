"""Build the pages of a results folder: ``build_report(out) -> out/report/index.html``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from abm.engine import store
from abm.engine.files import FolderLock, check_no_links, write_bytes_atomic, write_text_atomic
from abm.engine.manifest import MANIFEST
from abm.errors import ConfigError
from abm.report import pages
from abm.report.data import load, read_manifest
from abm.report.explore import explore_page
from abm.report.html import PLOTLY_JS

TOML_NAME = "experiment.toml"


def plotly_js() -> bytes:
    """plotly.min.js as shipped with the plotly package (no download, no CDN)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().encode("utf-8")


LOCK_WAIT = 30.0   # seconds `abm report` waits for a run or another build to release the folder


def build_report(out: Path | str) -> Path:
    """Write index.html, sweep.html and explore.html (with a sweep), runs.html and config.html
    into out/report/, holding the folder lock (a run, or another build, never writes the folder
    meanwhile).

    Raises abm.errors.ConfigError when `out` has no manifest or no runs, holds a damaged
    parquet file or a symbolic link where abm writes, or stays locked for LOCK_WAIT seconds.
    """
    out = Path(out)
    if not (out / MANIFEST).is_file():
        load(out)                       # its error names what is missing
    read_manifest(out)    # a malformed manifest is refused before the lock file is written
    check_no_links(out)
    lock = FolderLock(out)
    if not lock.acquire(timeout=LOCK_WAIT):
        raise ConfigError(str(out), None, f"is locked by another abm process (a run or a "
                          f"report build) for more than {LOCK_WAIT:g} s; try again when it "
                          "ends (a run builds its report itself)")
    try:
        return build_locked(out)
    finally:
        lock.release()


def build_locked(out: Path | str) -> Path:
    """`build_report` for a caller that holds the folder lock (the engine, after a run)."""
    out = Path(out)
    check_no_links(out)
    damaged = [f"{p} ({why})" for kind in ("runs", "series") if (out / kind).is_dir()
               for p in sorted((out / kind).glob("*.parquet"))
               if (why := store.damage(p, kind)) is not None]
    if damaged:
        raise ConfigError(str(out), None, f"damaged result files: {'; '.join(damaged)}; run "
                          "`abm run` on the experiment again: it moves them to quarantine/ and "
                          "recomputes their runs")
    data = load(out)
    folder = out / "report"
    folder.mkdir(parents=True, exist_ok=True)

    source, target = plotly_js(), folder / PLOTLY_JS
    if not target.is_file() or target.stat().st_size != len(source):
        write_bytes_atomic(source, target)     # written once per plotly version, not per build

    swept = ["sweep.html", "explore.html"] if data.sweep_parameters else []
    names = ["index.html"] + swept + ["runs.html", "config.html"]
    version = data.manifest.get("version") or ""
    built = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    footer = f"abm {version} · experiment {data.name} · pages built {built}"  # plain text
    built_pages = [pages.index_page(data, names, footer)]
    if data.sweep_parameters:
        built_pages.append(pages.sweep_page(data, names, footer))
        built_pages.append(explore_page(data, names, footer))
    else:
        for name in ("sweep.html", "explore.html"):    # left over from an earlier build
            (folder / name).unlink(missing_ok=True)
    built_pages += [pages.runs_page(data, names, footer),
                    pages.config_page(data, names, footer, TOML_NAME)]
    for page in built_pages:
        write_text_atomic(page.render(), folder / page.filename)
    write_text_atomic(pages.config_toml(data), folder / TOML_NAME)
    return folder / "index.html"
