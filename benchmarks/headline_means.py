"""Scenario means of headline metrics of every shipped experiment of a checkout (before/after
comparisons of an economics change):

    .venv/bin/python benchmarks/headline_means.py CHECKOUT OUT_DIR REPLICATIONS

runs `abm run` with the checkout's own code (its directory first on the path) for each
experiments/*.toml and writes OUT_DIR/headlines.json: per experiment the scenario means, or the
error it exited with.
"""

import json
import pathlib
import subprocess
import sys

import polars as pl

COLUMNS = ["price_mean", "price_volatility", "fiscal_cost", "import_reliance",
           "capacity_added_market", "unmet_demand", "share_below_floor"]
CLI = "import sys; from abm.cli import main; sys.exit(main())"


def main(root: pathlib.Path, out: pathlib.Path, reps: str) -> None:
    result = {}
    for exp in sorted((root / "experiments").glob("*.toml")):
        folder = out / exp.stem
        run = subprocess.run([sys.executable, "-c", CLI, "run", str(exp), "--replications", reps,
                              "--no-report", "--quiet", "--out", str(folder), "--force"],
                             cwd=root, capture_output=True, text=True)
        if run.returncode != 0:
            last = run.stderr.strip().splitlines()[-1] if run.stderr.strip() else ""
            result[exp.stem] = f"exit {run.returncode}: {last}"
            continue
        runs = pl.read_parquet(str(folder / "runs" / "*.parquet"))
        keep = [c for c in COLUMNS if c in runs.columns]
        means = runs.group_by("scenario").agg(pl.col(keep).mean()).sort("scenario")
        result[exp.stem] = means.to_dicts()
    (out / "headlines.json").write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3])
