"""Build the pages of a results folder: ``build_report(out) -> out/report/index.html``."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from abm.report import pages
from abm.report.data import load
from abm.report.html import PLOTLY_JS

TOML_NAME = "experiment.toml"


def plotly_js_source() -> Path:
    """plotly.min.js shipped inside the plotly package (no download, no CDN)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _write(path: Path, text: str) -> None:
    """Write atomically, so a browser never opens a half-written page."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def build_report(out: Path | str) -> Path:
    """Write index.html, sweep.html (with a sweep), runs.html and config.html into out/report/.

    Raises abm.errors.ConfigError when `out` has no manifest or no runs.
    """
    out = Path(out)
    data = load(out)
    folder = out / "report"
    folder.mkdir(parents=True, exist_ok=True)

    source, target = plotly_js_source(), folder / PLOTLY_JS
    if not target.is_file() or target.stat().st_size != source.stat().st_size:
        shutil.copyfile(source, target)

    names = ["index.html"] + (["sweep.html"] if data.sweep_parameters else []) + [
        "runs.html", "config.html"]
    version = data.manifest.get("version") or ""
    built = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    footer = escape(f"abm {version} · experiment {data.name} · pages built {built}")
    built_pages = [pages.index_page(data, names, footer)]
    if data.sweep_parameters:
        built_pages.append(pages.sweep_page(data, names, footer))
    else:
        (folder / "sweep.html").unlink(missing_ok=True)  # left over from an earlier build
    built_pages += [pages.runs_page(data, names, footer),
                    pages.config_page(data, names, footer, TOML_NAME)]
    for page in built_pages:
        _write(folder / page.filename, page.render())
    _write(folder / TOML_NAME, pages.config_toml(data))
    return folder / "index.html"
