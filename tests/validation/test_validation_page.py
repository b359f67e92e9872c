"""`abm validate-model`: writes DIR/index.html (plotly.js embedded once, text escaped) with every
claim, and exits 0 only when every claim passes."""

from abm.validation import command, page
from abm.validation.base import Check, ClaimResult, Plot


def fake(key: str, passed: bool) -> ClaimResult:
    return ClaimResult(key, f"<b>{key}</b> & co", "Source <script>alert(1)</script>",
                       "expected 'x' < y", {"price change": 0.5, "share of months": 0.25},
                       [Check("c", "check <i>", passed, "detail & more")],
                       Plot("t", "x", "y", {"line": ([0, 1], [1.0, None])}, hlines={"F": 1.0}),
                       known_failure="" if passed else "because <reason>")


def test_page_escapes_text_and_embeds_plotly_once():
    html = page.page([fake("a", True), fake("b", False)])
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;a&lt;/b&gt; &amp; co" in html
    assert html.count("plotly.js v") == 1             # the library's banner, once
    assert "<script src=" not in html                 # nothing loaded from elsewhere
    assert 'data-plots="2"' in html and "1 of 2 claims pass" in html
    assert "because &lt;reason&gt;" in html
    assert "+50.0%" in html and "25.0%" in html


def test_command_writes_the_page_and_exits_1_when_a_claim_fails(tmp_path, monkeypatch, capsys):
    from abm.validation import claims

    monkeypatch.setattr(claims, "CLAIMS", {"good": lambda: fake("good", True),
                                           "bad": lambda: fake("bad", False)})
    assert command.main(["--out", str(tmp_path), "--only", "good"]) == 0
    assert (tmp_path / "index.html").exists()
    assert command.main(["--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 of 2 claims pass" in out


def test_a_claim_that_raises_is_a_failed_claim(tmp_path, monkeypatch):
    from abm.validation import claims

    def boom():
        raise RuntimeError("model broke")

    monkeypatch.setattr(claims, "CLAIMS", {"boom": boom})
    assert command.main(["--out", str(tmp_path), "--quiet"]) == 1
    assert "model broke" in (tmp_path / "index.html").read_text()


def test_bad_arguments_exit_2(capsys):
    assert command.main(["--only", "no_such_claim"]) == 2
    assert "invalid choice" in capsys.readouterr().err
