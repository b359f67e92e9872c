"""The page shell: every HTML page (report, calibration, validation) is ``templates/page.html.j2``.

Autoescaping is on for everything the template prints; HTML built by the pages (sections, tables,
plotly divs) is passed as :class:`markupsafe.Markup` and printed as is, so user text inside it
must be escaped where it is built (``html.escape``). Plain strings are escaped with the standard
library's ``html.escape`` (``&quot;`` for quotes, as the pages' own fragments), not markupsafe's
``&#34;``, so one page never mixes two spellings.
"""

from __future__ import annotations

import html
from functools import cache
from typing import Any

from markupsafe import Markup

TEMPLATE = "page.html.j2"


def _finalize(value: Any) -> Any:
    # runs before autoescape: a plain str is escaped here (stdlib spelling), Markup passes through
    if isinstance(value, str) and not isinstance(value, Markup):
        return Markup(html.escape(value))
    return value


@cache
def _environment():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("abm", "templates"), autoescape=True,
                              finalize=_finalize, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined)


def render_page(*, title: str, body: str | Markup, css: str = "", head: str = "",
                heading: str | None = None, lead: str = "", lead_class: str = "",
                nav: list[dict] | None = None, plots: int | None = None,
                footer: str | None = None) -> str:
    """One whole HTML document.

    title: the <title> and (unless `heading`) the <h1>, plain text; body, css, head: trusted HTML
    (``Markup`` or str built by the caller); lead: plain text under the heading (class
    `lead_class`); nav: links ``{"href", "label", "here"}``; plots: the ``data-plots`` count the
    browser tests read (None: no attribute); footer: plain text (None: no footer).
    """
    return _environment().get_template(TEMPLATE).render(
        title=title, heading=heading, body=Markup(body), css=Markup(css), head=Markup(head),
        lead=lead, lead_class=lead_class, nav=nav, plots=plots, footer=footer)
