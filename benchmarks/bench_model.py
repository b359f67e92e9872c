"""Model benchmarks (not tests): one run against Mesa's own floor and a numpy clearing kernel,
scaling in agents and steps, a profile, and the cost of `abm --help`.

    .venv/bin/python benchmarks/bench_model.py                 # run, scaling, help (a few minutes)
    .venv/bin/python benchmarks/bench_model.py run --repeat 30
    .venv/bin/python benchmarks/bench_model.py scaling
    .venv/bin/python benchmarks/bench_model.py phases           # time per schedule part
    .venv/bin/python benchmarks/bench_model.py scenarios        # every experiment's scenarios
    .venv/bin/python benchmarks/bench_model.py instructions     # callgrind counts (~15 min)
    .venv/bin/python benchmarks/bench_model.py profile          # pyinstrument text profile
    .venv/bin/python benchmarks/bench_model.py help
    .venv/bin/python benchmarks/bench_model.py cpu --repeat 30  # CPU ms a run (PYTHONPATH=<tree>)
    .venv/bin/python benchmarks/bench_model.py experiment       # 1,000 runs x 240 steps, 2 workers
    .venv/bin/python benchmarks/bench_model.py stages --repeat 5   # three stages vs two (CPU)

Definitions:
- run: the baseline experiment (experiments/baseline.toml, 240 monthly steps), building the model,
  running every step and computing its metrics (`MineralMarket(cfg, rng=seed).run().metrics()`).
- agent-steps: the number of Mesa agents alive at each step, summed over the steps.
- Mesa floor: `model.agents.shuffle_do("step")` of no-op `mesa.Agent` subclasses, with as many
  agents as the run had on average, for as many steps, model construction included. A Mesa model
  of these agents cannot cost less than this.
- numpy kernel: `abm.market.clear` called once per step on the offers (asks, quantities) and the
  demand scale that the baseline run produced at that step: the market clearing with no agents,
  no bookkeeping and no recording. The model cannot be faster than its own clearing.

The timings alternate between the model, the floor and the kernel, in one process, so a burst
of other load on the machine affects all three alike. Each is timed twice: wall time and the
process's CPU time (time.process_time: what the run itself used, without the time it waited while
other jobs had the cores); medians and minima over the repeats are reported, ratios from medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "experiments" / "baseline.toml"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import mesa
    import numpy

    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"numpy {numpy.__version__}, mesa {mesa.__version__}, "
            f"load average {os.getloadavg()[0]:.1f}")


# --------------------------------------------------------------------------------------------------
# the Mesa floor and the numpy kernel
# --------------------------------------------------------------------------------------------------


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def bare_mesa(n_agents: int, steps: int, seed: int = 0) -> Clock:
    """Wall and CPU time of a Mesa model of `n_agents` no-op agents activated `steps` times."""
    import mesa

    class Noop(mesa.Agent):
        def step(self) -> None:
            pass

    class Bare(mesa.Model):
        def __init__(self, n: int, rng: int):
            super().__init__(rng=rng)
            Noop.create_agents(self, n)

        def step(self) -> None:
            self.agents.shuffle_do("step")

    with Clock() as clock:
        model = Bare(n_agents, seed)
        for _ in range(steps):
            model.step()
    return clock


def recorded_offers(config, seed: int) -> tuple[list, float]:
    """The (asks, quantities, demand scale) the model cleared at each step, and the elasticity."""
    from abm.model import MineralMarket

    model = MineralMarket(config, rng=seed)
    steps = []
    while model.steps < model.n_steps:
        model.step()
        o = model.offers
        steps.append((o.ask.copy(), o.qty.copy(), float(model.buyers.scale.sum())))
    return steps, model.elasticity


def numpy_kernel(steps: list, eps: float) -> Clock:
    from abm.market import clear

    with Clock() as clock:
        for asks, qty, scale in steps:
            clear(asks, qty, scale, eps)
    return clock


def one_run(config, seed: int) -> Clock:
    """Wall and CPU time of one full run including its metrics."""
    from abm.model import MineralMarket

    with Clock() as clock:
        MineralMarket(config, rng=seed).run().metrics()
    return clock


_AGENT_STEPS: dict = {}


def agent_steps(config, seed: int) -> int:
    """Agents alive at each step, summed (counted in a separate, untimed run)."""
    from abm.model import MineralMarket

    key = (id(config), seed)
    if key not in _AGENT_STEPS:
        model = MineralMarket(config, rng=seed)
        total = 0
        while model.steps < model.n_steps:
            model.step()
            total += len(model.agents)
        _AGENT_STEPS[key] = (config, total)    # (the config is kept so its id stays unique)
    return _AGENT_STEPS[key][1]


def bench_run(repeat: int) -> dict:
    import abm

    exp = abm.load_experiment(BASELINE)
    config = exp.scenario()
    steps = config.experiment.steps
    one_run(config, 0)                                   # imports, first-call costs
    offers, eps = recorded_offers(config, 0)
    counts = [agent_steps(config, i) for i in range(repeat)]
    mean_agent_steps = statistics.mean(counts)
    mean_agents = max(round(mean_agent_steps / steps), 1)
    runs, floors, kernels = [], [], []
    for i in range(repeat):
        runs.append(one_run(config, i))
        floors.append(bare_mesa(mean_agents, steps, seed=i))
        kernels.append(numpy_kernel(offers, eps))
    out = {"steps": steps, "repeat": repeat, "agent_steps": mean_agent_steps,
           "mean_agents": mean_agent_steps / steps, "mesa_agents": mean_agents}
    for clock in ("wall", "cpu"):
        for name, xs in (("run", runs), ("mesa_floor", floors), ("numpy_kernel", kernels)):
            values = [getattr(x, clock) for x in xs]
            out[f"{name}_{clock}_ms"] = statistics.median(values) * 1e3
            out[f"{name}_{clock}_min_ms"] = min(values) * 1e3
        out[f"ratio_to_mesa_{clock}"] = out[f"run_{clock}_ms"] / out[f"mesa_floor_{clock}_ms"]
        out[f"ratio_to_kernel_{clock}"] = out[f"run_{clock}_ms"] / out[f"numpy_kernel_{clock}_ms"]
        out[f"agent_steps_per_s_{clock}"] = mean_agent_steps / out[f"run_{clock}_ms"] * 1e3
    return out


def print_run(r: dict) -> None:
    print(f"## one baseline run: {r['steps']} steps, {r['repeat']} runs (seeds "
          f"0..{r['repeat'] - 1})\n")
    print("| what | wall ms, median (min) | CPU ms, median (min) | ratio (wall; CPU) |")
    print("|---|---|---|---|")
    rows = (("run", f"baseline run (build, {r['steps']} steps, metrics)", None),
            ("mesa_floor", f"bare Mesa activation, {r['mesa_agents']} no-op agents x "
             f"{r['steps']} steps", "mesa"),
            ("numpy_kernel", f"numpy kernel: abm.market.clear x {r['steps']} on the run's "
             "offers", "kernel"))
    for key, label, ratio in rows:
        cells = [f"{r[f'{key}_{c}_ms']:.2f} ({r[f'{key}_{c}_min_ms']:.2f})"
                 for c in ("wall", "cpu")]
        rel = "1" if ratio is None else (f"run / {ratio} = {r[f'ratio_to_{ratio}_wall']:.2f}; "
                                         f"{r[f'ratio_to_{ratio}_cpu']:.2f}")
        print(f"| {label} | {cells[0]} | {cells[1]} | {rel} |")
    print(f"\nagent-steps per run {r['agent_steps']:.0f} (mean {r['mean_agents']:.1f} agents); "
          f"{r['agent_steps_per_s_wall']:,.0f} agent-steps/s (wall), "
          f"{r['agent_steps_per_s_cpu']:,.0f} (CPU)\n")


# --------------------------------------------------------------------------------------------------
# scaling
# --------------------------------------------------------------------------------------------------


def scaled_config(n_producers: int, n_buyers: int, steps: int, seed: int = 0,
                  fixed_agents: bool = False):
    """The baseline's structure with `n_producers` refineries and `n_buyers` buyers spread over
    its regions (costs and capacities drawn around the baseline's, world capacity kept at the
    baseline's ~100 kt/yr so prices stay in the same range), generated in code. `fixed_agents`:
    a competitive state producer and no investment, so no agent joins during the run."""
    import tomllib

    import numpy as np

    from abm.experiment import experiment_from_dict

    raw = tomllib.loads(BASELINE.read_text())
    rng = np.random.default_rng(seed)
    regions = [r["name"] for r in raw["regions"]]
    base = raw["producers"]
    total_capacity = sum(p["capacity"] for p in base)
    producers = []
    for i in range(n_producers):
        tmpl = base[i % len(base)]
        producers.append({
            "name": f"P{i}", "region": tmpl["region"], "stage": "refinery",
            "capacity": float(total_capacity / n_producers * rng.uniform(0.5, 1.5)),
            "unit_cost": float(tmpl["unit_cost"] * rng.uniform(0.9, 1.1)),
            "fixed_cost": float(tmpl.get("fixed_cost", 0.0) / n_producers * len(base))})
    share = 1.0 / n_buyers
    buyers = [{"name": f"B{i}", "region": regions[i % len(regions)], "share": share}
              for i in range(n_buyers)]
    raw["producers"], raw["buyers"] = producers, buyers
    raw["experiment"]["steps"] = steps
    if fixed_agents:
        raw["nonmarket"]["strategy"] = "competitive"
        raw["investment"]["enabled"] = False
    return experiment_from_dict(raw).scenario()


def fit_exponent(xs: list[float], ys: list[float]) -> float:
    import numpy as np

    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def time_config(config, repeat: int) -> float:
    """Least CPU seconds of `repeat` runs (the least disturbed by other jobs)."""
    return min(one_run(config, seed).cpu for seed in range(repeat))


def bench_scaling(sizes: list[int], step_counts: list[int], repeat: int) -> dict:
    """CPU time per run against the number of agents (and of agent-steps: the state-directed
    producer adds refineries as demand grows, so agents grow during a run) and of steps."""
    out = {"agents": [], "steps": [], "repeat": repeat}
    time_config(scaled_config(50, 50, 24), 2)            # warm-up
    for n in sizes:
        config = scaled_config(n // 2, n // 2, 240)
        reps = repeat if n <= 3000 else max(repeat // 3, 2)
        seconds = time_config(config, reps)
        count = agent_steps(config, 0)
        mean_agents = max(round(count / 240), 1)
        floor = min(bare_mesa(mean_agents, 240, s).cpu for s in range(reps))
        out["agents"].append({"agents": n, "agent_steps": count, "mesa_agents": mean_agents,
                              "run_s": seconds, "mesa_floor_s": floor})
    for fixed in (False, True):
        for steps in step_counts:
            config = scaled_config(50, 50, steps, fixed_agents=fixed)
            out["steps"].append({"steps": steps, "fixed_agents": fixed,
                                 "agent_steps": agent_steps(config, 0),
                                 "run_s": time_config(config, repeat)})
    rows = out["agents"]
    out["agent_exponent"] = fit_exponent([r["agents"] for r in rows], [r["run_s"] for r in rows])
    big = [r for r in rows if r["agents"] >= 1000]
    if len(big) >= 2:
        out["agent_exponent_1000_up"] = fit_exponent([r["agents"] for r in big],
                                                     [r["run_s"] for r in big])
    for fixed in (False, True):
        rows = [r for r in out["steps"] if r["fixed_agents"] == fixed]
        key = "fixed" if fixed else "baseline"
        out[f"step_exponent_{key}"] = fit_exponent([r["steps"] for r in rows],
                                                   [r["run_s"] for r in rows])
        out[f"agent_step_exponent_{key}"] = fit_exponent([r["agent_steps"] for r in rows],
                                                         [r["run_s"] for r in rows])
    return out


def print_scaling(r: dict) -> None:
    print(f"## scaling in agents: producers = buyers = agents / 2, 240 steps (least CPU time of "
          f"{r['repeat']} runs; of {max(r['repeat'] // 3, 2)} above 3,000 agents)\n")
    print("| agents at start | agent-steps | s per run | us per agent-step | bare Mesa s "
          "(mean agents x 240 steps) | run / Mesa |")
    print("|---|---|---|---|---|---|")
    for row in r["agents"]:
        print(f"| {row['agents']:,} | {row['agent_steps']:,} | {row['run_s']:.3f} | "
              f"{row['run_s'] / row['agent_steps'] * 1e6:.2f} | {row['mesa_floor_s']:.3f} "
              f"({row['mesa_agents']:,}) | {row['run_s'] / row['mesa_floor_s']:.2f} |")
    print(f"\nfitted exponent (time ~ agents^b): b = {r['agent_exponent']:.2f}"
          + (f"; from 1,000 agents up b = {r['agent_exponent_1000_up']:.2f}"
             if "agent_exponent_1000_up" in r else "") + "\n")
    for fixed, title in ((False, "baseline structure (the state producer adds refineries as "
                          "demand grows)"), (True, "fixed agents (competitive state producer, "
                                             "no investment)")):
        key = "fixed" if fixed else "baseline"
        print(f"## scaling in steps: 50 producers, 50 buyers, {title}\n")
        print("| steps | agent-steps | s per run | ms per step | us per agent-step |")
        print("|---|---|---|---|---|")
        for row in r["steps"]:
            if row["fixed_agents"] == fixed:
                print(f"| {row['steps']:,} | {row['agent_steps']:,} | {row['run_s']:.3f} | "
                      f"{row['run_s'] / row['steps'] * 1e3:.3f} | "
                      f"{row['run_s'] / row['agent_steps'] * 1e6:.2f} |")
        print(f"\nfitted exponents: time ~ steps^{r[f'step_exponent_{key}']:.2f}, time ~ "
              f"agent-steps^{r[f'agent_step_exponent_{key}']:.2f}\n")


# --------------------------------------------------------------------------------------------------
# profile, abm --help, the 1,000-run experiment
# --------------------------------------------------------------------------------------------------


def _apply_policies(m) -> None:
    for policy in m.policies:
        policy.apply(m)


def _settle_policies(m) -> None:
    for policy in m.policies:
        policy.settle(m)


def _make_offers(m) -> None:
    m.offers = m.producers.make_offers(m)


def _record(m) -> None:
    m.recorder.record(m)
    if m.outcome.consumption > 0:
        m.last_price = m.price


# MineralMarket.step, part by part (abm/model.py: keep in the same order)
SCHEDULE = (
    ("start_step", lambda m: m.start_step()),
    ("draw_demand", lambda m: m.buyers.draw_demand(m.t)),
    ("draw_outages", lambda m: m.producers.draw_outages(m.t)),
    ("collect_scrap", lambda m: m.recyclers.collect(m.t, m.recorder.columns)),
    ("apply_policies", _apply_policies),
    ("plan_inventories", lambda m: m.buyers.plan_inventories(m.disruption)),
    ("make_offers", _make_offers),
    ("clear_markets", lambda m: m.clear_markets()),
    ("use_inventories", lambda m: m.buyers.use_inventories()),
    ("settle_producers", lambda m: m.producers.settle(m)),
    ("settle_policies", _settle_policies),
    ("realised_prices", lambda m: m.realised.record(m)),
    ("review_producers", lambda m: m.producers.review(m)),
    ("invest", lambda m: m.pipeline.invest(m)),
    ("record", _record),
)


def bench_phases(runs: int) -> dict:
    """Time of each part of the schedule (MineralMarket.step, timed method by method), of
    building the model and of its metrics (which complete the deferred series columns). Wall
    clock (time.perf_counter, 0.1 us a call here; time.process_time costs 0.9 us a call, which
    would add a tenth to the total): run it on a quiet machine."""
    import abm
    from abm.model import MineralMarket

    config = abm.load_experiment(BASELINE).scenario()
    MineralMarket(config, rng=0).run().metrics()
    spent = dict.fromkeys(("build", *(name for name, _ in SCHEDULE), "metrics"), 0.0)
    clock = time.perf_counter

    def step(self) -> None:          # MineralMarket.step with a clock around each part
        self.t = self.steps - 1
        for name, part in SCHEDULE:
            start = clock()
            part(self)
            spent[name] += clock() - start
        if self.steps >= self.n_steps:
            self.running = False

    original = MineralMarket.step
    MineralMarket.step = step
    try:
        for seed in range(runs):
            start = clock()
            model = MineralMarket(config, rng=seed)
            spent["build"] += clock() - start
            model.run()
            start = clock()
            model.metrics()
            spent["metrics"] += clock() - start
    finally:
        MineralMarket.step = original
    return {"runs": runs, "ms_per_run": {k: v / runs * 1e3 for k, v in spent.items()}}


def print_phases(r: dict) -> None:
    total = sum(r["ms_per_run"].values())
    print(f"## where a baseline run's time goes (wall, mean of {r['runs']} runs, "
          f"{2 * len(SCHEDULE)} timer calls a step included)\n")
    print("| part | ms per run | share |")
    print("|---|---|---|")
    for name, ms in sorted(r["ms_per_run"].items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {ms:.2f} | {ms / total:.0%} |")
    print(f"| total | {total:.2f} | |\n")


def bench_profile(runs: int) -> None:
    import abm
    from abm.model import MineralMarket

    config = abm.load_experiment(BASELINE).scenario()
    MineralMarket(config, rng=0).run().metrics()
    try:
        from pyinstrument import Profiler
    except ImportError:            # pragma: no cover
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        for seed in range(runs):
            MineralMarket(config, rng=seed).run().metrics()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(30)
        return
    profiler = Profiler(interval=0.0001)
    profiler.start()
    for seed in range(runs):
        MineralMarket(config, rng=seed).run().metrics()
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False, show_all=False))


def bench_scenarios(repeat: int) -> dict:
    """CPU time of one run of every scenario of every experiment in experiments/ (least of
    `repeat` seeds): what instruments cost on top of the plain market."""
    import abm

    rows = []
    for path in sorted((ROOT / "experiments").glob("*.toml")):
        experiment = abm.load_experiment(path)
        for name in experiment.scenario_names:
            config = experiment.scenario(name)
            one_run(config, 0)
            rows.append({"experiment": path.stem, "scenario": name,
                         "steps": config.experiment.steps,
                         "run_ms": min(one_run(config, s).cpu for s in range(repeat)) * 1e3})
    return {"repeat": repeat, "rows": rows}


def print_scenarios(r: dict) -> None:
    print(f"## one run of each scenario (least CPU time of {r['repeat']} seeds)\n")
    print("| experiment | scenario | steps | ms per run |")
    print("|---|---|---|---|")
    for row in r["rows"]:
        print(f"| {row['experiment']} | {row['scenario']} | {row['steps']} | "
              f"{row['run_ms']:.1f} |")
    print()


def count_target(what: str, runs: int) -> None:
    """The work whose instructions `bench_instructions` counts: imports and one warm-up run,
    then `runs` more (model: baseline runs; mesa: the bare Mesa floor of the baseline's mean
    agents; kernel: the numpy clearing of one run's offers)."""
    import gc

    import abm

    config = abm.load_experiment(BASELINE).scenario()
    steps = config.experiment.steps
    agents = max(round(agent_steps(config, 0) / steps), 1)
    offers, eps = recorded_offers(config, 0)
    one_run(config, 0)
    bare_mesa(agents, steps, 0)
    numpy_kernel(offers, eps)
    # what the imports left on the heap is not the runs' work: a full garbage collection
    # would walk it (millions of instructions, at times that depend on the heap)
    gc.collect()
    gc.freeze()
    for i in range(runs):
        if what == "model":
            one_run(config, i)
        elif what == "mesa":
            bare_mesa(agents, steps, i)
        else:
            numpy_kernel(offers, eps)


def bench_instructions(runs: int = 3) -> dict:
    """Instructions per run (valgrind's callgrind; deterministic, unlike time on a shared
    machine): (instructions with imports, warm-up and `runs` runs - with imports and warm-up
    only) / runs, PYTHONHASHSEED=0, heap frozen after the warm-up (see count_target)."""
    import re
    import shutil

    if shutil.which("valgrind") is None:
        return {}
    out = {}
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for what in ("model", "mesa", "kernel"):       # (warm-up: each does all three once)
        counts = []
        for n in (0, runs):
            with tempfile.TemporaryDirectory() as folder:
                cmd = ["valgrind", "--tool=callgrind",
                       f"--callgrind-out-file={folder}/cg.out", sys.executable,
                       str(Path(__file__).resolve()), "_count", what, "--repeat", str(n)]
                err = subprocess.run(cmd, capture_output=True, text=True, env=env,
                                     cwd=ROOT).stderr
            counts.append(int(re.search(r"Collected : (\d+)", err).group(1)))
        out[what] = (counts[1] - counts[0]) / runs
    out["ratio_to_mesa"] = out["model"] / out["mesa"]
    out["ratio_to_kernel"] = out["model"] / out["kernel"]
    return out


def bench_cpu(repeat: int) -> dict:
    """CPU time (time.process_time) of `repeat` baseline runs (seeds 0..repeat-1) after one
    warm-up run, in this process: robust to other load for comparing two trees, run one after
    the other (`PYTHONPATH=<tree>` picks the tree)."""
    import abm
    from abm.model import MineralMarket

    config = abm.load_experiment(BASELINE).scenario()
    MineralMarket(config, rng=0).run().metrics()
    times = []
    for seed in range(repeat):
        start = time.process_time()
        MineralMarket(config, rng=seed).run().metrics()
        times.append(time.process_time() - start)
    return {"tree": str(Path(abm.__file__).parents[1]), "runs": repeat,
            "median_ms": statistics.median(times) * 1e3, "min_ms": min(times) * 1e3,
            "load": os.getloadavg()[0]}


def bench_stages(repeat: int) -> dict:
    """CPU time of a three-stage run of the baseline's size against the two-stage run it
    extends (issue 16 part 1): experiments/downstream_floor.toml's `no_policy` scenario (the
    baseline's refineries, buyers, outages and 240 steps, plus six magnet makers) against the
    baseline with the same switches (no pipeline, no exits, competitive state refiners).
    Least CPU seconds of `repeat` runs each, alternating."""
    import abm

    two = abm.load_experiment(BASELINE, overrides={
        "investment.enabled": False, "exits.enabled": False,
        "nonmarket.strategy": "competitive", "nonmarket.target_share": 0.0,
        "market.demand.growth": 0.0}).scenario()
    three = abm.load_experiment(ROOT / "experiments" / "downstream_floor.toml").scenario(
        "no_policy")
    times = {"two_stage": [], "three_stage": []}
    for seed in range(repeat):
        times["two_stage"].append(one_run(two, seed).cpu)
        times["three_stage"].append(one_run(three, seed).cpu)
    out = {k: min(v) * 1e3 for k, v in times.items()}
    out["ratio"] = out["three_stage"] / out["two_stage"]
    out["runs"] = repeat
    return out


def bench_help(repeat: int) -> dict:
    exe = ROOT / ".venv" / "bin" / "abm"
    cmd = [str(exe), "--help"] if exe.exists() else [sys.executable, "-m", "abm.cli", "--help"]
    subprocess.run(cmd, capture_output=True, check=True)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], capture_output=True, check=True)
    bare = time.perf_counter() - start
    imp = subprocess.run([sys.executable, "-X", "importtime", "-m", "abm.cli", "--help"],
                         capture_output=True, text=True, check=True).stderr
    heavy = [m for m in ("numpy", "polars", "scipy", "mesa", "pydantic", "plotly", "pandas")
             if f" {m}\n" in imp or f" {m}." in imp]
    return {"help_ms": statistics.median(times) * 1e3, "help_min_ms": min(times) * 1e3,
            "python_ms": bare * 1e3, "heavy_imported": heavy, "repeat": repeat}


def bench_experiment(replications: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="abm-bench-") as folder:
        out = Path(folder) / "x"
        exe = ROOT / ".venv" / "bin" / "abm"
        cmd = [str(exe), "run", str(BASELINE), "--replications", str(replications),
               "--no-report", "--quiet", "--workers", str(workers), "--out", str(out)]
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, cwd=ROOT)
        wall = time.perf_counter() - start
    return {"replications": replications, "workers": workers, "wall_s": wall,
            "command": " ".join(["abm"] + cmd[1:-2] + ["--out", "/tmp/x"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*",
                        help="run, scaling, phases, scenarios, profile, help, experiment, "
                        "instructions, cpu, stages "
                        "(default: run scaling phases help)")
    parser.add_argument("--repeat", type=int, default=21, help="runs per timing (median)")
    parser.add_argument("--sizes", default="100,300,1000,3000,10000")
    parser.add_argument("--steps", default="60,120,240,480,960")
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.which and args.which[0] == "_count":
        count_target(args.which[1], args.repeat)
        return 0
    which = args.which or ["run", "scaling", "phases", "help"]
    print(f"# model benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {machine()}\n")
    results = {}
    if "run" in which:
        results["run"] = bench_run(args.repeat)
        print_run(results["run"])
    if "scaling" in which:
        results["scaling"] = bench_scaling([int(x) for x in args.sizes.split(",")],
                                           [int(x) for x in args.steps.split(",")],
                                           max(args.repeat // 3, 3))
        print_scaling(results["scaling"])
    if "phases" in which:
        results["phases"] = bench_phases(max(args.repeat, 20))
        print_phases(results["phases"])
    if "scenarios" in which:
        results["scenarios"] = bench_scenarios(max(args.repeat // 3, 3))
        print_scenarios(results["scenarios"])
    if "profile" in which:
        bench_profile(max(args.repeat, 20))
    if "instructions" in which:
        r = results["instructions"] = bench_instructions()
        if r:
            print("## instructions per run (valgrind callgrind, load-independent)\n")
            print("| what | million instructions per run | ratio |")
            print("|---|---|---|")
            print(f"| baseline run | {r['model'] / 1e6:.0f} | 1 |")
            print(f"| bare Mesa floor | {r['mesa'] / 1e6:.0f} | run / floor = "
                  f"{r['ratio_to_mesa']:.2f} |")
            print(f"| numpy kernel | {r['kernel'] / 1e6:.0f} | run / kernel = "
                  f"{r['ratio_to_kernel']:.2f} |\n")
    if "cpu" in which:
        r = results["cpu"] = bench_cpu(args.repeat)
        print("| tree | runs | median CPU ms | min CPU ms | load avg |\n| --- | --- | --- | --- | --- |")
        print(f"| {r['tree']} | {r['runs']} | {r['median_ms']:.1f} | {r['min_ms']:.1f} | "
              f"{r['load']:.1f} |\n")
    if "stages" in which:
        r = results["stages"] = bench_stages(args.repeat)
        print(f"## three stages vs two (least CPU ms of {r['runs']} runs): two-stage "
              f"{r['two_stage']:.1f}, three-stage {r['three_stage']:.1f}, ratio "
              f"{r['ratio']:.2f}\n")
    if "help" in which:
        r = results["help"] = bench_help(max(args.repeat, 10))
        print(f"## abm --help: median {r['help_ms']:.0f} ms (min {r['help_min_ms']:.0f} ms) "
              f"over {r['repeat']} starts; bare `python -c pass` {r['python_ms']:.0f} ms; "
              f"heavy modules imported: {', '.join(r['heavy_imported']) or 'none'}\n")
    if "experiment" in which:
        r = results["experiment"] = bench_experiment(args.replications, args.workers)
        print(f"## {r['replications']} runs, {r['workers']} workers, no report: "
              f"{r['wall_s']:.1f} s wall\n\n    {r['command']}\n")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
