"""Model benchmarks (not tests): one run against Mesa's own floor and a numpy clearing kernel,
scaling in agents and steps, a profile, and the cost of `abm --help`.

    .venv/bin/python benchmarks/bench_model.py                 # run, scaling, help (a few minutes)
    .venv/bin/python benchmarks/bench_model.py run --repeat 30
    .venv/bin/python benchmarks/bench_model.py scaling
    .venv/bin/python benchmarks/bench_model.py profile          # pyinstrument text profile
    .venv/bin/python benchmarks/bench_model.py help
    .venv/bin/python benchmarks/bench_model.py experiment       # 1,000 runs x 240 steps, 2 workers

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

The timings alternate between the model, the floor and the kernel, in one process, and report
medians, so a burst of other load on the machine affects all three alike.
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


def bare_mesa(n_agents: int, steps: int, seed: int = 0) -> float:
    """Seconds for a Mesa model of `n_agents` no-op agents activated `steps` times."""
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

    start = time.perf_counter()
    model = Bare(n_agents, seed)
    for _ in range(steps):
        model.step()
    return time.perf_counter() - start


def recorded_offers(config, seed: int) -> tuple[list, float]:
    """The (asks, quantities, demand scale) the model cleared at each step, and the elasticity."""
    from abm.model import MineralMarket

    model = MineralMarket(config, rng=seed)
    steps = []
    while model.steps < model.n_steps:
        model.step()
        o = model.offers
        steps.append((o.ask.copy(), o.qty.copy(), float(model.buyer_scale.sum())))
    return steps, model.elasticity


def numpy_kernel(steps: list, eps: float) -> float:
    from abm.market import clear

    start = time.perf_counter()
    for asks, qty, scale in steps:
        clear(asks, qty, scale, eps)
    return time.perf_counter() - start


def one_run(config, seed: int) -> tuple[float, int, int]:
    """(seconds, agent-steps, agents at the end) of one full run including its metrics."""
    from abm.model import MineralMarket

    start = time.perf_counter()
    model = MineralMarket(config, rng=seed)
    model.run()
    model.metrics()
    seconds = time.perf_counter() - start
    return seconds, agent_steps(config, seed), len(model.agents)


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
        _AGENT_STEPS[key] = total
    return _AGENT_STEPS[key]


def bench_run(repeat: int) -> dict:
    import abm

    exp = abm.load_experiment(BASELINE)
    config = exp.scenario()
    steps = config.experiment.steps
    one_run(config, 0)                                   # imports, first-call costs
    offers, eps = recorded_offers(config, 0)
    runs, floors, kernels, agent_total = [], [], [], []
    for i in range(repeat):
        seconds, n_agent_steps, _ = one_run(config, i)
        runs.append(seconds)
        agent_total.append(n_agent_steps)
        mean_agents = max(round(n_agent_steps / steps), 1)
        floors.append(bare_mesa(mean_agents, steps, seed=i))
        kernels.append(numpy_kernel(offers, eps))
    run_s, floor_s, kernel_s = (statistics.median(x) for x in (runs, floors, kernels))
    mean_agent_steps = statistics.mean(agent_total)
    return {"steps": steps, "repeat": repeat, "run_ms": run_s * 1e3,
            "run_min_ms": min(runs) * 1e3,
            "agent_steps": mean_agent_steps, "mean_agents": mean_agent_steps / steps,
            "agent_steps_per_s": mean_agent_steps / run_s,
            "mesa_floor_ms": floor_s * 1e3, "numpy_kernel_ms": kernel_s * 1e3,
            "ratio_to_mesa": run_s / floor_s, "ratio_to_kernel": run_s / kernel_s}


def print_run(r: dict) -> None:
    print(f"## one baseline run: {r['steps']} steps, median of {r['repeat']} runs (seeds "
          f"0..{r['repeat'] - 1})\n")
    print("| what | ms per run | ratio |")
    print("|---|---|---|")
    print(f"| baseline run (build, {r['steps']} steps, metrics) | {r['run_ms']:.2f} (min "
          f"{r['run_min_ms']:.2f}) | 1 |")
    print(f"| bare Mesa activation, {r['mean_agents']:.0f} no-op agents x {r['steps']} steps | "
          f"{r['mesa_floor_ms']:.2f} | run / floor = {r['ratio_to_mesa']:.2f} |")
    print(f"| numpy kernel: abm.market.clear x {r['steps']} on the run's offers | "
          f"{r['numpy_kernel_ms']:.2f} | run / kernel = {r['ratio_to_kernel']:.2f} |")
    print(f"\nagent-steps per run {r['agent_steps']:.0f} (mean {r['mean_agents']:.1f} agents); "
          f"{r['agent_steps_per_s']:,.0f} agent-steps/s\n")


# --------------------------------------------------------------------------------------------------
# scaling
# --------------------------------------------------------------------------------------------------


def scaled_config(n_producers: int, n_buyers: int, steps: int, seed: int = 0):
    """The baseline's structure with `n_producers` refineries and `n_buyers` buyers spread over
    its regions (costs and capacities drawn around the baseline's, world capacity kept at the
    baseline's ~100 kt/yr so prices stay in the same range), generated in code."""
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
    return experiment_from_dict(raw).scenario()


def fit_exponent(xs: list[float], ys: list[float]) -> float:
    import numpy as np

    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def time_config(config, repeat: int) -> float:
    from abm.model import MineralMarket

    times = []
    for seed in range(repeat):
        start = time.perf_counter()
        MineralMarket(config, rng=seed).run().metrics()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_scaling(sizes: list[int], step_counts: list[int], repeat: int) -> dict:
    out = {"agents": [], "steps": []}
    time_config(scaled_config(50, 50, 24), 1)            # warm-up
    for n in sizes:
        config = scaled_config(n // 2, n // 2, 240)
        seconds = time_config(config, repeat if n <= 2000 else max(repeat // 2, 1))
        floor = statistics.median(bare_mesa(n, 240, s) for s in range(3 if n <= 2000 else 1))
        out["agents"].append({"agents": n, "run_s": seconds, "mesa_floor_s": floor})
    for steps in step_counts:
        config = scaled_config(50, 50, steps)
        out["steps"].append({"steps": steps, "run_s": time_config(config, repeat)})
    out["agent_exponent"] = fit_exponent([r["agents"] for r in out["agents"]],
                                         [r["run_s"] for r in out["agents"]])
    out["step_exponent"] = fit_exponent([r["steps"] for r in out["steps"]],
                                        [r["run_s"] for r in out["steps"]])
    big = [r for r in out["agents"] if r["agents"] >= 1000]
    if len(big) >= 2:
        out["agent_exponent_1000_up"] = fit_exponent([r["agents"] for r in big],
                                                     [r["run_s"] for r in big])
    return out


def print_scaling(r: dict) -> None:
    print("## scaling in agents: producers = buyers = agents / 2, 240 steps\n")
    print("| agents | s per run | us per agent-step | bare Mesa s | run / Mesa |")
    print("|---|---|---|---|---|")
    for row in r["agents"]:
        n = row["agents"]
        print(f"| {n:,} | {row['run_s']:.3f} | {row['run_s'] / (n * 240) * 1e6:.2f} | "
              f"{row['mesa_floor_s']:.3f} | {row['run_s'] / row['mesa_floor_s']:.2f} |")
    print(f"\nfitted exponent (time ~ agents^b): b = {r['agent_exponent']:.2f}"
          + (f"; from 1,000 agents up b = {r['agent_exponent_1000_up']:.2f}"
             if "agent_exponent_1000_up" in r else "") + "\n")
    print("## scaling in steps: 50 producers, 50 buyers\n")
    print("| steps | s per run | ms per step |")
    print("|---|---|---|")
    for row in r["steps"]:
        print(f"| {row['steps']:,} | {row['run_s']:.3f} | {row['run_s'] / row['steps'] * 1e3:.3f} |")
    print(f"\nfitted exponent (time ~ steps^b): b = {r['step_exponent']:.2f}\n")


# --------------------------------------------------------------------------------------------------
# profile, abm --help, the 1,000-run experiment
# --------------------------------------------------------------------------------------------------


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
                        help="run, scaling, profile, help, experiment (default: run scaling help)")
    parser.add_argument("--repeat", type=int, default=21, help="runs per timing (median)")
    parser.add_argument("--sizes", default="100,300,1000,3000,10000")
    parser.add_argument("--steps", default="60,120,240,480,960")
    parser.add_argument("--replications", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    which = args.which or ["run", "scaling", "help"]
    print(f"# model benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {machine()}\n")
    results = {}
    if "run" in which:
        results["run"] = bench_run(args.repeat)
        print_run(results["run"])
    if "scaling" in which:
        results["scaling"] = bench_scaling([int(x) for x in args.sizes.split(",")],
                                           [int(x) for x in args.steps.split(",")],
                                           max(args.repeat // 4, 3))
        print_scaling(results["scaling"])
    if "profile" in which:
        bench_profile(max(args.repeat, 20))
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
