"""``python -m abm.report.screenshot RESULTS_DIR OUT.png``: a PNG of the top of the index page.

Used for the README picture (docs/img/). Needs Playwright's Python client and Debian's chromium
(/usr/bin/chromium); never `playwright install`, which downloads a browser.
"""

from __future__ import annotations

import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def screenshot(results: Path | str, png: Path | str, width: int = 1200,
               height: int = 2600) -> Path:
    """Open results/report/index.html offline, wait for every plot, save the page from the top
    to the end of the effects chart (at most `height` px)."""
    from playwright.sync_api import sync_playwright

    index = Path(results) / "report" / "index.html"
    png = Path(png)
    png.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(index.resolve().as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= "
                               "Number(document.body.dataset.plots)", timeout=60_000)
        bottom = page.evaluate("(() => { const e = document.getElementById('effects'); "
                               "return e ? e.getBoundingClientRect().bottom + 16 : 0; })()")
        clip = min(height, int(bottom)) if bottom else height
        page.set_viewport_size({"width": width, "height": max(clip, 600)})
        page.screenshot(path=str(png), clip={"x": 0, "y": 0, "width": width, "height": clip})
        browser.close()
    _shrink(png)
    return png


def _shrink(png: Path) -> None:
    """256-colour palette PNG (a third of the size, same look for flat charts) when Pillow is
    installed; left as is otherwise."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(png) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(png, optimize=True)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: python -m abm.report.screenshot RESULTS_DIR OUT.png", file=sys.stderr)
        sys.exit(2)
    print(screenshot(sys.argv[1], sys.argv[2]))
