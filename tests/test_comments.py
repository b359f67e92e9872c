"""The comments of experiment files as the config page shows them (abm.comments): which values
are labelled ASSUMPTION and which cite a source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from abm.comments import collect, scan
from abm.experiment import load_experiment

EXPERIMENTS = sorted((Path(__file__).resolve().parents[1] / "experiments").glob("*.toml"))

TEXT = '''\
# Question: what does a floor do?
[experiment]
name = "x"                  # the name
steps = 24                  # ASSUMPTION: two years; a '#' in "quotes" is not a comment

# Existing refineries: capacity from USGS (docs/sources.md).
[[producers]]
name = "Refinery A"
capacity = 1000             # ASSUMPTION: of the order of
                            #   the company's nameplate
[[producers]]
name = "Refinery B"
# China NdPr oxide ~63 USD/kg (docs/sources.md)
unit_cost = 40.0
covers = [
    "US",                   # ASSUMPTION: the club
    "EU",
]

[scenarios.cfd]
"policy.floor.level" = 110.0    # the DoD-MP floor (docs/sources.md)
label = "a # b"
'''


def test_each_kind_of_comment_labels_the_right_key():
    notes = {n.key: n for n in scan(TEXT, "x.toml")}
    assert notes["experiment"].text == "Question: what does a floor do?"   # the table below it
    assert notes["experiment.name"].text == "the name"
    steps = notes["experiment.steps"]
    assert steps.assumption and steps.value == "24" and steps.line == 4
    assert steps.text == "ASSUMPTION: two years; a '#' in \"quotes\" is not a comment"
    # a block above an array table's header labels the table; its name is shown with it
    assert notes["producers.0"].text.startswith("Existing refineries")
    assert notes["producers.0"].where == 'producers.0 ("Refinery A")'
    # an indented comment line continues the comment above it
    assert notes["producers.0.capacity"].text == ("ASSUMPTION: of the order of the company's "
                                                  "nameplate")
    # a block right above a value labels that value
    cost = notes["producers.1.unit_cost"]
    assert cost.value == "40.0" and not cost.assumption and "63 USD/kg" in cost.text
    assert notes["producers.1.covers"].assumption and notes["producers.1.covers"].line == 15
    level = notes["scenarios.cfd.policy.floor.level"]
    assert level.value == "110.0" and level.text == "the DoD-MP floor (docs/sources.md)"
    assert "scenarios.cfd.label" not in notes          # '#' inside a string
    assert len(notes) == 8


def test_notes_of_a_base_file_on_keys_set_again_are_dropped(tmp_path):
    base = '[experiment]\nsteps = 240   # ASSUMPTION: 20 years\nseed = 1   # the seed\n' \
           '[[producers]]\nname = "A"\ncapacity = 5   # ASSUMPTION: A\n'
    child = 'extends = "base.toml"\n[experiment]\nsteps = 120\n[[producers]]\nname = "B"\n'
    notes = collect([(tmp_path / "base.toml", base), (tmp_path / "child.toml", child)])
    assert [(n["file"], n["key"]) for n in notes] == [("base.toml", "experiment.seed")]


def comment_lines(path: Path) -> list[str]:
    """The comment text of every line of `path` that labels something ASSUMPTION."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.search(r"#\s*(.*ASSUMPTION.*)$", line)
        if m and '"' not in line.split("#")[0][-1:]:
            out.append(m.group(1).strip())
    return out


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_every_assumption_of_a_shipped_experiment_is_recorded(path):
    """Each comment line of the experiment's own file that says ASSUMPTION is in one of the
    notes the config page lists as assumptions (with the file and key it labels)."""
    exp = load_experiment(path)
    own = [n for n in exp.notes if n["file"] == path.name and n["assumption"]]
    texts = " ".join(n["text"] for n in own)
    missing = [c for c in comment_lines(path) if c not in texts]
    assert not missing, missing
    assert all(n["key"] and n["line"] > 0 for n in exp.notes)
