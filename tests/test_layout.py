"""The model core's layout: dependencies run one way (no import circle, not even a type-only one),
agents and policies see the model through abm.protocol.ModelView, and the Mesa conventions
(`running`, `run_model`) hold."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import raw

from abm.experiment import experiment_from_dict
from abm.model import MineralMarket
from abm.protocol import ModelView

ROOT = Path(__file__).resolve().parents[1]
# the model core: the model, its agents, policies and the modules below them
CORE = ["abm/*.py", "abm/agents/*.py", "abm/policies/*.py"]
NOT_CORE = {"abm.cli", "abm.batch", "abm.sweep", "abm.summary", "abm.experiment",
            "abm.simulate", "abm.config_docs", "abm.progress", "abm", "abm.__main__"}

POLICIES = {"policy.floor": {"mechanism": "cfd", "level": 55.0, "min_ebitda": 1e6},
            "policy.stockpile": {"buy_below": 55.0, "release_above": 70.0},
            "policy.offtake": {"share": 0.3, "price": 58.0},
            "investment.projects": [{"name": "P", "region": "US", "capacity": 200.0,
                                     "unit_cost": 45.0, "capex": 1000.0, "lead_time": 6}]}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every abm module `path` imports anywhere (module level, functions, TYPE_CHECKING)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from abm import market` imports the module abm.market
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known
                     else node.module for a in node.names]
        else:
            continue
        out.update(n for n in names if n in known)
    return out


def core_graph() -> dict[str, set[str]]:
    paths = sorted({p for pattern in CORE for p in ROOT.glob(pattern)})
    modules = {module_name(p): p for p in paths}
    known = set(modules)
    return {m: imports_of(p, known) - {m} for m, p in modules.items() if m not in NOT_CORE}


def test_the_model_core_has_no_import_circle():
    graph = core_graph()
    state: dict[str, int] = {}     # 1 visiting, 2 done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                pytest.fail("import circle: " + " -> ".join([*path[path.index(n):], n]))
            if n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_agents_and_policies_never_import_the_model():
    graph = core_graph()
    below = [m for m in graph if m.startswith(("abm.agents", "abm.policies")) or m in {
        "abm.kinds", "abm.protocol", "abm.recorder", "abm.clearing", "abm.investment",
        "abm.market", "abm.metrics", "abm.shocks"}]
    assert len(below) > 10
    assert sorted(m for m in below if "abm.model" in graph[m]) == []


@pytest.mark.parametrize("module", ["abm.policies", "abm.policies.floor", "abm.agents.producers",
                                    "abm.agents.developers", "abm.recorder", "abm.protocol"])
def test_importing_agents_or_policies_does_not_import_the_model(module):
    code = f"import {module}, sys; assert 'abm.model' not in sys.modules, 'abm.model imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_the_model_is_what_agents_and_policies_see():
    model = MineralMarket(experiment_from_dict(raw(**POLICIES)).scenario(), rng=1)
    model.step()
    assert isinstance(model, ModelView)


@pytest.mark.parametrize("changes", [{}, POLICIES], ids=["deferred", "policies"])
def test_running_turns_false_after_the_last_step(changes):
    cfg = experiment_from_dict(raw(**changes)).scenario()
    reference = MineralMarket(cfg, rng=3).run()
    assert not reference.running and reference.steps == cfg.experiment.steps

    by_mesa = MineralMarket(cfg, rng=3)
    by_mesa.run_model()
    assert not by_mesa.running and by_mesa.steps == cfg.experiment.steps

    by_loop = MineralMarket(cfg, rng=3)
    while by_loop.running:
        by_loop.step()
    assert by_loop.steps == cfg.experiment.steps

    expected = reference.series(accounts=True)
    for model in (by_mesa, by_loop):
        assert model.series(accounts=True).equals(expected)
        # (NaN-aware: a metric with nothing to measure, such as the cost per t/yr of capacity
        # when none is added, is NaN)
        np.testing.assert_equal(model.metrics(), reference.metrics())
