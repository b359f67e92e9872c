"""The report pages' parts: navigation, style, figure embedding and tables, in the shared page
shell (:mod:`abm.shell`). No page content lives here.

Pages load plotly.js from ``plotly.min.js`` beside them (plotly's "directory" mode): one 4.8 MB copy
for the whole report instead of one per page keeps the report under 10 MB. Nothing is fetched
from any host: no CDN, no web fonts (system fonts only), no MathJax.
"""

from __future__ import annotations

from html import escape

import plotly.io as pio

from abm.report.plot import Figure
from abm.report.style import FONT, PLOT_CONFIG

PLOTLY_JS = "plotly.min.js"

PAGES = [("index.html", "Results"), ("sweep.html", "Sweep and sensitivity"),
         ("explore.html", "What if?"), ("runs.html", "Individual runs"),
         ("config.html", "Configuration and provenance")]

CSS = f"""
:root {{ color-scheme: light; }}
body {{ font-family: {FONT}; margin: 0; color: #222; background: #fafafa; line-height: 1.5; }}
header {{ background: #1f2d3d; color: #fff; padding: 1rem 2rem 0.6rem; }}
header h1 {{ margin: 0 0 0.3rem; font-size: 1.6rem; font-weight: 600; }}
header p.question {{ margin: 0 0 0.6rem; font-size: 1.05rem; color: #dfe7ef; }}
nav a {{ color: #cfe3ff; margin-right: 1.4rem; text-decoration: none; font-size: 0.95rem; }}
nav a.here {{ color: #fff; font-weight: 600; border-bottom: 2px solid #fff; }}
main {{ max-width: 1250px; margin: 0 auto; padding: 1rem 2rem 3rem; }}
section {{ background: #fff; border: 1px solid #e3e3e3; border-radius: 6px; padding: 1rem 1.4rem;
          margin: 1.2rem 0; }}
h2 {{ font-size: 1.25rem; margin: 0.2rem 0 0.6rem; }}
h3 {{ font-size: 1.05rem; margin: 1rem 0 0.4rem; }}
p.note, .note {{ color: #555; font-size: 0.92rem; }}
.headline {{ font-size: 1.12rem; margin: 0.4rem 0; }}
.scenario-box {{ border-left: 5px solid #888; padding: 0.3rem 0 0.3rem 1rem; margin: 1rem 0; }}
.scenario-box ul {{ margin: 0.3rem 0; }}
.overrides {{ font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 0.85rem;
              color: #444; }}
table {{ border-collapse: collapse; font-size: 0.9rem; margin: 0.5rem 0; }}
th, td {{ border-bottom: 1px solid #e3e3e3; padding: 0.3rem 0.6rem; text-align: right;
          vertical-align: top; }}
th.text {{ text-align: left; }}
th {{ background: #f3f5f7; }}
th:first-child, td:first-child {{ text-align: left; }}
td.text {{ text-align: left; }}
.table-wrap {{ overflow-x: auto; }}
pre {{ background: #f6f8fa; border: 1px solid #e3e3e3; padding: 0.8rem; overflow-x: auto;
       font-size: 0.85rem; }}
code {{ font-family: ui-monospace, Menlo, Consolas, monospace; }}
.plot {{ margin: 0.5rem 0; }}
footer {{ color: #777; font-size: 0.85rem; text-align: center; padding: 1rem; }}
"""


class Page:
    """One HTML page being assembled: sections in order, plots counted for the browser test."""

    def __init__(self, filename: str, title: str, question: str = "",
                 pages: list[str] | None = None, footer: str = ""):
        """`title`, `question`, `footer`: plain text (escaped when the page is rendered)."""
        self.filename = filename
        self.title = title
        self.question = question
        self.pages = pages if pages is not None else [p for p, _ in PAGES]
        self.footer = footer
        self.parts: list[str] = []
        self.plots = 0

    def add(self, html: str) -> None:
        self.parts.append(html)

    def section(self, heading: str, body: str, anchor: str = "") -> None:
        ident = f' id="{escape(anchor)}"' if anchor else ""
        self.parts.append(f"<section{ident}><h2>{escape(heading)}</h2>{body}</section>")

    def figure(self, fig: Figure | None) -> str:
        """The figure as a div plus the script that draws it ('' for None)."""
        if fig is None:
            return ""
        self.plots += 1
        div = f"{self.filename.split('.')[0]}-plot-{self.plots}"
        # validate=False: the dicts follow plotly.js's schema; plotly.py's validation is slow
        html = pio.to_html(fig.to_dict(), full_html=False, include_plotlyjs=False,
                           include_mathjax=False, config=PLOT_CONFIG, div_id=div,
                           default_width="100%", default_height=f"{fig.height}px",
                           validate=False)
        notes = "".join(f'<p class="note chart-note">{n}</p>' for n in fig.notes)
        return f'{notes}<div class="plot">{html}</div>'

    def render(self) -> str:
        """The whole page in the shared shell (abm/templates/page.html.j2)."""
        from abm.shell import render_page

        nav = [{"href": f, "label": name, "here": f == self.filename}
               for f, name in PAGES if f in self.pages]
        script = f'<script src="{PLOTLY_JS}"></script>' if self.plots else ""
        return render_page(title=self.title, lead=self.question, lead_class="question", nav=nav,
                           css=CSS, head=script, body="".join(self.parts), plots=self.plots,
                           footer=self.footer)


def table(header: list[str] | None, rows: list[list[str]],
          classes: list[str] | None = None) -> str:
    """An HTML table; cells are HTML already (escape user text before passing it)."""
    width = len(header) if header else max((len(r) for r in rows), default=0)
    cls = classes or [""] * width
    head = "<thead><tr>" + "".join(
        f'<th class="{c}">{h}</th>' if c else f"<th>{h}</th>"
        for h, c in zip(header, cls, strict=False)) + "</tr></thead>" if header else ""
    body = "".join(
        "<tr>" + "".join(f'<td class="{c}">{v}</td>' if c else f"<td>{v}</td>"
                         for v, c in zip(row, cls, strict=False)) + "</tr>"
        for row in rows)
    return f'<div class="table-wrap"><table>{head}<tbody>{body}</tbody></table></div>'
