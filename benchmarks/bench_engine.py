"""Engine benchmarks (not tests): throughput scaling, parent memory, overhead per run.

    .venv/bin/python benchmarks/bench_engine.py              # everything (several minutes)
    .venv/bin/python benchmarks/bench_engine.py --quick      # smaller sizes, a smoke check
    .venv/bin/python benchmarks/bench_engine.py throughput --runs 200
    .venv/bin/python benchmarks/bench_engine.py efficiency --runs 400 --rounds 3
    .venv/bin/python benchmarks/bench_engine.py efficiency --runs 4000 --rounds 1
    .venv/bin/python benchmarks/bench_engine.py sobol --rounds 1       # the issue-17 Sobol study
    .venv/bin/python benchmarks/bench_engine.py executors --runs 400 --rounds 2   # local vs dask

Targets (issue 4):
- throughput: 2 workers >= 1.7x the runs/s of 1 worker, 200 runs of the real model, 2 cores;
- memory: the parent's peak RSS does not grow with the number of runs; 10,000 short runs < 1 GB;
- overhead: engine time per run on top of the model < 10 ms.
Issue 17: engine efficiency = (runs x single-run in-process time / workers) / wall time, 400
baseline runs on 2 workers, >= 0.8; parent peak RSS for 10,000 runs < 500 MB.

Each measurement runs in a fresh Python process so peak memory and import costs are its own.
`--runner fake` replaces the model by a runner that sleeps a fixed time and returns a
model-sized series (use it when the model is unavailable or to isolate the engine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "experiments" / "baseline.toml"
HERE = Path(__file__).resolve().parent

FAKE_SLEEP = 0.02          # seconds per fake run
FAKE_SERIES_COLUMNS = 25   # like the model's series


# --------------------------------------------------------------------------------------------------
# fake runners (imported by workers as "bench_engine:...")
# --------------------------------------------------------------------------------------------------


@dataclass
class _Result:
    metrics: dict
    series: object


def _series(steps: int, seed: int):
    import numpy as np
    import polars as pl

    from abm.names import REGION_CAPACITY_PREFIX, SERIES

    rng = np.random.default_rng(seed)
    names = list(SERIES) + [f"{REGION_CAPACITY_PREFIX}R{i}" for i in range(8)]
    data = {"step": np.arange(steps)}
    data.update({name: rng.random(steps) for name in names[:FAKE_SERIES_COLUMNS]})
    return pl.DataFrame(data)


def fake_runner(config, seed: int) -> _Result:
    """Sleeps FAKE_SLEEP (a model that takes a fixed time) and returns model-sized results
    (the series has the model's column names, so summaries do the same work)."""
    time.sleep(FAKE_SLEEP)
    from abm.names import METRICS

    return _Result({m: float(seed % 97) for m in METRICS}, _series(config.experiment.steps, seed))


def null_runner(config, seed: int) -> _Result:
    """Returns model-sized results at once: what is left is the engine's own cost."""
    from abm.names import METRICS

    return _Result({m: float(seed % 97) for m in METRICS}, _series(config.experiment.steps, seed))


# --------------------------------------------------------------------------------------------------
# one measurement, run in a child process
# --------------------------------------------------------------------------------------------------


def measure(args: argparse.Namespace) -> dict:
    """Run one experiment and report wall time, the model's time and the parent's peak RSS."""
    import abm
    import abm.summary
    from abm.engine import worker

    if args.runner != "model":
        worker.RUNNER = f"bench_engine:{args.runner}_runner"
    if not args.summaries:     # the engine alone: summaries are measured on their own
        abm.summary.write_summaries = lambda *a, **k: None
    exp = abm.load_experiment(BASELINE, {"experiment.steps": args.steps,
                                         "experiment.replications": args.runs,
                                         "experiment.name": "bench"})
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    instance = None
    if args.pool:      # a process pool even for 1 worker (workers=1 otherwise runs in-process)
        from abm.engine.executors import local_pool

        instance = local_pool(args.workers, worker.RUNNER)
    extra = {"series": args.series} if args.series != "all" else {}   # (older engines: all)
    if args.executor != "local":
        extra["executor"] = args.executor
    result = abm.run_experiment(exp, out, workers=args.workers, quiet=True,
                                report=bool(args.report), executor_instance=instance, **extra)
    if instance is not None:
        instance.shutdown()
    wall = time.perf_counter() - start
    from abm.summary import load_runs

    runs = load_runs(out)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall_s": wall, "runs": result.computed, "failed": result.failed,
            "model_s": float(runs["duration_s"].sum()),
            "cpu_s": usage.ru_utime + usage.ru_stime - cpu0,   # this process only
            "peak_rss_mb": usage.ru_maxrss / 1024}


def measure_plain(args: argparse.Namespace) -> dict:
    """The model alone, no engine: `runs` runs in a loop in this process (the machine's own
    parallel ceiling is found by starting one or two of these at once)."""
    import abm
    from abm.simulate import simulate

    exp = abm.load_experiment(BASELINE, {"experiment.steps": args.steps})
    spec = exp.design()[0]
    config = exp.run_config(spec)
    simulate(config, spec.seed)       # imports and first-call costs out of the timing
    start = time.perf_counter()
    for seed in range(args.runs):
        simulate(config, seed)
    return {"wall_s": time.perf_counter() - start, "runs": args.runs}


def measure_summaries(args: argparse.Namespace) -> dict:
    from abm.summary import write_summaries

    start = time.perf_counter()
    write_summaries(Path(args.out), "base")
    return {"wall_s": time.perf_counter() - start,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _command(kind: str, options: dict) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), f"_{kind}"]
    for key, value in options.items():
        cmd += [f"--{key.replace('_', '-')}", str(value)]
    return cmd


def child(kind: str, **options) -> dict:
    """Run `measure` (or `measure_summaries`, `measure_plain`) in a fresh interpreter."""
    got = children(kind, 1, **options)[0]
    if got.get("failed"):
        raise RuntimeError(f"{got['failed']} of {got['runs']} runs failed: the numbers would "
                           f"time failures, not runs ({_command(kind, options)})")
    return got


def children(kind: str, count: int, **options) -> list[dict]:
    """`count` fresh interpreters at once; their JSON results."""
    cmd = _command(kind, options)
    env = {**os.environ, **{k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                             "MKL_NUM_THREADS", "POLARS_MAX_THREADS")}} \
        if kind == "plain" else None
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=ROOT, env=env) for _ in range(count)]
    results = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


# --------------------------------------------------------------------------------------------------
# the benchmarks
# --------------------------------------------------------------------------------------------------


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def throughput(runs: int, steps: int, runner: str, tmp: Path, rounds: int = 2) -> list[str]:
    """Runs/s of the engine with 1 and 2 workers (best of `rounds`, alternating, so a burst of
    other load on the machine does not favour one side), and the machine's own ceiling: the
    model alone in one process, and in two processes at once."""
    lines = [row("what", "workers", "runs", "wall s", "runs/s", "speed-up"), row(*["---"] * 6)]
    # (workers, pool): 1 worker in-process (the default), 1 worker in a process pool (as the
    # 2 workers are: a fresh process with one numeric thread), 2 workers
    variants = ((1, 0), (1, 1), (2, 0))
    labels = {(1, 0): "in-process", (1, 1): "1-process pool", (2, 0): "process pool"}
    best: dict[tuple[int, int], dict] = {}
    for _ in range(rounds):
        for workers, pool in variants:
            got = child("measure", workers=workers, runs=runs, steps=steps, runner=runner,
                        out=tmp / f"tp{workers}{pool}", pool=pool)
            key = (workers, pool)
            if key not in best or got["wall_s"] < best[key]["wall_s"]:
                best[key] = got
    base = best[(1, 0)]["runs"] / best[(1, 0)]["wall_s"]
    for key in variants:
        got = best[key]
        rate = got["runs"] / got["wall_s"]
        lines.append(row(f"engine, {runner} runner, {labels[key]}", key[0], got["runs"],
                         f"{got['wall_s']:.1f}", f"{rate:.2f}", f"{rate / base:.2f}x"))
    pooled = best[(2, 0)]["wall_s"] and best[(1, 1)]["wall_s"] / best[(2, 0)]["wall_s"]
    lines.append(row("2 workers against the 1-process pool", "", "", "", "", f"{pooled:.2f}x"))
    if runner == "model":
        per = max(10, runs // 4)
        solo = child("plain", runs=per, steps=steps)
        pair = children("plain", 2, runs=per, steps=steps)
        solo_rate = solo["runs"] / solo["wall_s"]
        pair_rate = sum(p["runs"] for p in pair) / max(p["wall_s"] for p in pair)
        lines.append(row("model alone, no engine", 1, per, f"{solo['wall_s']:.1f}",
                         f"{solo_rate:.2f}", "1.00x"))
        lines.append(row("model alone, 2 processes", 2, 2 * per,
                         f"{max(p['wall_s'] for p in pair):.1f}", f"{pair_rate:.2f}",
                         f"{pair_rate / solo_rate:.2f}x"))
    return lines


def efficiency(runs: int, steps: int, workers: int, rounds: int, series: str,
               tmp: Path, executor: str = "local") -> list[str]:
    """Engine efficiency = (runs x t / workers) / wall, with t the single-run in-process time
    of the model (`simulate` in a loop in a fresh process, 60 runs, measured just before each
    engine round so both see the same load on the machine); the engine's wall time is the whole
    `run_experiment` call in a fresh process (pool start-up and final compaction included;
    summaries and report excluded)."""
    lines = [row("round", "load avg", "single run ms", "workers", "runs", f"series ({executor})",
                 "wall s", "ideal s", "efficiency", "model share"), row(*["---"] * 10)]
    effs, shares = [], []
    for i in range(rounds):
        load = os.getloadavg()[0]
        solo = child("plain", runs=60, steps=steps)
        t = solo["wall_s"] / solo["runs"]
        got = child("measure", workers=workers, runs=runs, steps=steps, runner="model",
                    out=tmp / f"eff{i}", series=series, executor=executor)
        ideal = got["runs"] * t / workers
        effs.append(ideal / got["wall_s"])
        # the workers' time inside the model over the workers' wall time: the same ratio with
        # t measured in the engine's own workers, so load on the machine slows both sides
        shares.append(got["model_s"] / (workers * got["wall_s"]))
        lines.append(row(i + 1, f"{load:.1f}", f"{t * 1000:.1f}", workers, got["runs"], series,
                         f"{got['wall_s']:.2f}", f"{ideal:.2f}", f"{effs[-1]:.2f}",
                         f"{shares[-1]:.2f}"))
        shutil.rmtree(tmp / f"eff{i}", ignore_errors=True)
    def spread(v: list[float]) -> str:
        return f"{min(v):.2f} / {sorted(v)[len(v) // 2]:.2f} / {max(v):.2f}"

    lines.append(row("min / median / max", "", "", "", "", "", "", "", spread(effs),
                     spread(shares)))
    return lines


def executors(runs: int, steps: int, workers: int, rounds: int, series: str,
              tmp: Path) -> list[str]:
    """The local pool against Dask (LocalCluster of `workers` single-threaded processes):
    `rounds` engine calls of each, alternating, each a fresh process timed as in `efficiency`
    (summaries and report excluded); Dask's wall over the local pool's per round."""
    lines = [row("round", "load avg", "executor", "runs", "wall s", "model share",
                 "dask / local"), row(*["---"] * 7)]
    ratios = []
    for i in range(rounds):
        walls = {}
        for executor in ("local", "dask"):
            load = os.getloadavg()[0]
            got = child("measure", workers=workers, runs=runs, steps=steps, runner="model",
                        out=tmp / f"ex{i}{executor}", series=series, executor=executor)
            walls[executor] = got["wall_s"]
            ratio = walls["dask"] / walls["local"] if executor == "dask" else None
            if ratio is not None:
                ratios.append(ratio)
            lines.append(row(i + 1, f"{load:.1f}", executor, got["runs"], f"{got['wall_s']:.2f}",
                             f"{got['model_s'] / (workers * got['wall_s']):.2f}",
                             "" if ratio is None else f"{ratio:.2f}"))
            shutil.rmtree(tmp / f"ex{i}{executor}", ignore_errors=True)
    lines.append(row("median", "", "", "", "", "", f"{statistics.median(ratios):.2f}"))
    return lines


SOBOL = HERE / "sobol8.toml"


def sobol(workers: int, rounds: int, tmp: Path) -> list[str]:
    """The issue's Sobol study: `abm run benchmarks/sobol8.toml --series bands --workers N`
    (4,608 runs x 240 steps, summaries and report included) as a user runs it, in a fresh
    process; wall time, the largest process's peak RSS (the engine's or a worker's), and the
    single-run in-process time measured just before (`simulate` in a loop, 60 runs)."""
    from datetime import datetime

    lines = [row("round", "load avg", "single run ms", "runs", "wall s", "of which runs s",
                 "summaries + report s", "model-only s (runs x t / workers)", "peak RSS MB"),
             row(*["---"] * 9)]
    for i in range(rounds):
        load = os.getloadavg()[0]
        solo = child("plain", runs=60, steps=240)
        t = solo["wall_s"] / solo["runs"]
        out = tmp / f"sobol{i}"
        cmd = [sys.executable, "-m", "abm", "run", str(SOBOL), "--series", "bands",
               "--workers", str(workers), "--out", str(out), "--quiet", "--force"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        wall = time.perf_counter() - start
        peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        manifest = json.loads((out / "manifest.json").read_text())
        runs = len(manifest["design"])
        if not (out / "report" / "index.html").is_file():
            raise RuntimeError(f"no report in {out}")
        # the runs: from the manifest's first write (design planned) to its last (runs done)
        running = (datetime.fromisoformat(manifest["updated"])
                   - datetime.fromisoformat(manifest["history"][-1]["started"])).total_seconds()
        lines.append(row(i + 1, f"{load:.1f}", f"{t * 1000:.1f}", runs, f"{wall:.1f}",
                         f"{running:.0f}", f"{wall - running:.0f}", f"{runs * t / workers:.1f}",
                         f"{peak / 1024:.0f}"))
        shutil.rmtree(out, ignore_errors=True)
    return lines


def memory(sizes: list[int], steps: int, runner: str, workers: int, tmp: Path,
           series: str = "all") -> list[str]:
    lines = [row("runs", "engine wall s", "engine peak RSS MB", "summaries s",
                 "summaries peak RSS MB"), row(*["---"] * 5)]
    for n in sizes:
        out = tmp / f"mem{n}"
        got = child("measure", workers=workers, runs=n, steps=steps, runner=runner, out=out,
                    series=series)
        summ = child("summaries", out=out)
        lines.append(row(n, f"{got['wall_s']:.1f}", f"{got['peak_rss_mb']:.0f}",
                         f"{summ['wall_s']:.1f}", f"{summ['peak_rss_mb']:.0f}"))
        shutil.rmtree(out, ignore_errors=True)
    return lines


def overhead(runs: int, steps: int, tmp: Path) -> list[str]:
    """Engine time per run on top of the runner's own time (`duration_s`):
    wall: worker-seconds per run (wall x workers / runs) minus the runner's time per run;
    CPU: with 1 worker everything runs in this process, so its CPU time per run minus the
    runner's time (less sensitive to other load on the machine than wall time)."""
    lines = [row("runner", "workers", "runs", "wall s", "runner ms/run", "overhead wall ms/run",
                 "overhead CPU ms/run"), row(*["---"] * 7)]
    for runner, workers in (("null", 1), ("null", 2), ("model", 1), ("model", 2)):
        got = child("measure", workers=workers, runs=runs, steps=steps, runner=runner,
                    out=tmp / f"oh{runner}{workers}")
        per_run = got["wall_s"] * workers / got["runs"]       # worker-seconds per run
        model = got["model_s"] / got["runs"]
        cpu = (f"{(got['cpu_s'] / got['runs'] - model) * 1000:.1f}" if workers == 1
               else "-")
        lines.append(row(runner, workers, got["runs"], f"{got['wall_s']:.1f}",
                         f"{model * 1000:.1f}", f"{(per_run - model) * 1000:.1f}", cpu))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", help="throughput, efficiency, memory, overhead "
                        "(default: all)")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke check)")
    parser.add_argument("--runner", default="model", choices=["model", "fake", "null"])
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None)
    parser.add_argument("--summaries", type=int, default=0)
    parser.add_argument("--pool", type=int, default=0, help="1: process pool even for 1 worker")
    parser.add_argument("--series", default="all", choices=["all", "bands", "none"])
    parser.add_argument("--executor", default="local", choices=["local", "dask"])
    parser.add_argument("--report", type=int, default=0, help="1: build the report too")
    parser.add_argument("--rounds", type=int, default=3, help="efficiency: rounds")
    parser.add_argument("--sizes", default=None, help="memory: comma-separated run counts")
    args = parser.parse_args(argv)
    args.which = args.which or ["throughput", "efficiency", "memory", "overhead"]
    known = {"throughput", "efficiency", "memory", "overhead", "executors", "sobol",
             "_measure", "_summaries", "_plain"}
    if not set(args.which) <= known:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(set(args.which) - known))}")
    if args.which and args.which[0].startswith("_"):
        sys.path.insert(0, str(HERE))
        fn = {"_measure": measure, "_summaries": measure_summaries,
              "_plain": measure_plain}[args.which[0]]
        print(json.dumps(fn(args)))
        return 0
    cores = os.cpu_count()
    print(f"# engine benchmark, {time.strftime('%Y-%m-%d %H:%M')}, {cores} cores, "
          f"runner={args.runner}, load average {os.getloadavg()[0]:.1f}\n")
    with tempfile.TemporaryDirectory(prefix="abm-bench-") as folder:
        tmp = Path(folder)
        if "throughput" in args.which:
            runs = args.runs or (40 if args.quick else 200)
            steps = args.steps or (60 if args.quick else 240)
            print(f"## throughput: {runs} runs of {steps} steps\n")
            print("\n".join(throughput(runs, steps, args.runner, tmp)) + "\n")
        if "efficiency" in args.which:
            runs = args.runs or (40 if args.quick else 400)
            steps = args.steps or 240
            print(f"## efficiency: {runs} runs of {steps} steps, {args.workers} workers\n")
            print("\n".join(efficiency(runs, steps, args.workers, args.rounds, args.series,
                                       tmp, args.executor)) + "\n")
        if "executors" in args.which:
            runs = args.runs or (40 if args.quick else 400)
            steps = args.steps or 240
            print(f"## local pool vs Dask: {runs} runs of {steps} steps, {args.workers} "
                  "workers\n")
            print("\n".join(executors(runs, steps, args.workers, args.rounds, args.series,
                                      tmp)) + "\n")
        if "sobol" in args.which:
            print(f"## Sobol study ({SOBOL.name}, --series bands, report included), "
                  f"{args.workers} workers\n")
            print("\n".join(sobol(args.workers, args.rounds, tmp)) + "\n")
        if "memory" in args.which:
            sizes = [200, 1000] if args.quick else [1000, 10_000]
            if args.sizes:
                sizes = [int(n) for n in args.sizes.split(",")]
            steps = 12
            print(f"## parent memory: short runs ({steps} steps), {args.workers} workers\n")
            print("\n".join(memory(sizes, steps, args.runner, args.workers, tmp,
                                   args.series)) + "\n")
        if "overhead" in args.which:
            runs = args.runs or (100 if args.quick else 500)
            steps = args.steps or 240
            print(f"## overhead per run: {runs} runs of {steps} steps (series of {steps} rows)\n")
            print("\n".join(overhead(runs, steps, tmp)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
