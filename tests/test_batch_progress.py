"""The progress line (abm.progress)."""

from __future__ import annotations

import io

from abm.progress import Progress, duration


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_not_a_terminal_writes_only_the_final_line():
    stream = io.StringIO()
    progress = Progress(10, stream=stream, interval=0)
    for done in range(1, 11):
        progress.update(done, failed=1 if done > 5 else 0)
    assert stream.getvalue() == ""
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("10/10 runs (100%), 1 failed")


def test_quiet_writes_nothing_at_all():
    stream = Terminal()
    progress = Progress(5, stream=stream, quiet=True, interval=0)
    progress.message("resuming")
    progress.update(5)
    progress.close("done")
    assert stream.getvalue() == ""


def test_terminal_gets_a_redrawn_line_an_estimate_and_the_time_left():
    stream = Terminal()
    progress = Progress(100, stream=stream, workers=2, interval=0)
    progress.update(1)
    assert "estimate" not in stream.getvalue()
    progress.update(3, failed=1)
    text = stream.getvalue()
    assert "estimate:" in text and "for all 100 runs on 2 workers" in text
    assert "\r3/100 runs (3%), 1 failed" in text and "left" in text
    progress.close()
    assert stream.getvalue().endswith("\n")


def test_durations_read_naturally():
    assert duration(4.25) == "4.2s"
    assert duration(42) == "42s"
    assert duration(185) == "3m05s"
    assert duration(2 * 3600 + 7 * 60) == "2h07m"
