"""``manifest.json``: what a results folder was computed from.

Written atomically when a run starts (status ``running``) and rewritten when it ends
(``complete`` or ``interrupted``). A rerun compares its config hash with the stored one: a
different hash would mix runs of two different experiments in one folder, so it is refused
unless the caller forces it (which discards the old runs).

Keys (format 1):
  format, kind ("abm results": the marker that the folder is ours), experiment, wrote (the
  folders abm writes here, the only ones --force deletes), title, question, config
  (resolved), config_hash, notes (the experiment files' comments: values labelled ASSUMPTION
  and cited sources, abm.comments; absent in older folders), version, git_commit,
  root_seed, baseline, scenarios, design_kind ("none" | "grid" | "lhs" | "sobol"),
  sweep (null or {design, samples, parameters: [dotted keys in design order]}),
  design (list of {run_id, scenario, point, params, replication, seed}),
  created, updated (ISO 8601 UTC), status, counts {planned, computed, reused, failed},
  executor {kind, workers, scheduler}, series ("all" | "bands" | "none": what is stored of
  each run's series, set by the engine; absent in older folders, meaning "all"),
  history (one entry per call: started, version, git_commit, planned, reused, computed,
  failed, status; kept across calls so reused runs can be traced to the code that made them)
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

MANIFEST = "manifest.json"
FORMAT = 1
MARKER = "abm results"          # the "kind" key: this manifest.json is ours
WROTE = ["runs", "series", "summary", "report", "quarantine"]   # what --force may delete


def is_ours(stored: Any) -> bool:
    """Whether a manifest.json was written by abm: our format marker and an experiment name
    (folders from before the "kind" key: format 1 with an experiment, hash and design)."""
    if not isinstance(stored, dict) or stored.get("format") != FORMAT:
        return False
    if not isinstance(stored.get("experiment"), str) or not stored["experiment"]:
        return False
    return stored.get("kind") == MARKER or (isinstance(stored.get("config_hash"), str)
                                            and isinstance(stored.get("design"), list))


# The keys the pages and `abm discover` read, and the JSON type each must have when present
# (null counts as absent); the tables of "config" they read must be objects.
SHAPE: dict[str, tuple[type, str]] = {
    "experiment": (str, "a string"), "title": (str, "a string"), "question": (str, "a string"),
    "baseline": (str, "a string"), "config": (dict, "an object"), "design": (list, "a list"),
    "scenarios": (list, "a list"), "sweep": (dict, "an object"),
    "sweep_parameters": (list, "a list"), "design_kind": (str, "a string"),
    "version": (str, "a string"), "series": (str, "a string"),
}
CONFIG_TABLES = ("experiment", "market", "sweep", "scenarios", "discovery")


def shape_error(stored: Any) -> tuple[str | None, str] | None:
    """(key, what is wrong) when a manifest is not ours or a key the pages read has the wrong
    type (a hand-edited or damaged manifest.json); None when it has the expected shape."""
    if not isinstance(stored, dict) or not (stored.get("kind") == MARKER
                                            or stored.get("format") == FORMAT):
        return None, (f"is not the manifest of an abm results folder (expected an object with "
                      f"\"kind\": \"{MARKER}\")")
    for key, (kind, allowed) in SHAPE.items():
        if stored.get(key) is not None and not isinstance(stored[key], kind):
            return key, f"must be {allowed} (got {type(stored[key]).__name__})"
    config = stored.get("config") or {}
    for table in CONFIG_TABLES:
        if config.get(table) is not None and not isinstance(config[table], dict):
            return f"config.{table}", f"must be an object (got {type(config[table]).__name__})"
    if any(not isinstance(d, dict) for d in stored.get("design") or []):
        return "design", "must be a list of objects, one per run"
    return None


def wrote(stored: dict[str, Any]) -> list[str]:
    """The folders our manifest says we wrote (only names of WROTE count)."""
    listed = stored.get("wrote")
    return [n for n in listed if n in WROTE] if isinstance(listed, list) else list(WROTE)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def git_commit() -> str | None:
    """The commit of the abm source tree, with '-dirty' when it has uncommitted changes; None
    when the package is not in a git checkout (an installed wheel) or git is missing."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                str(here.parent)], cwd=here, capture_output=True, text=True,
                               timeout=5)
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def build(exp: Any, specs: list, *, executor: dict[str, Any]) -> dict[str, Any]:
    """A new manifest for experiment `exp` (an abm.experiment.Experiment) and its design."""
    import abm

    sweep = exp.config.sweep
    return {
        "format": FORMAT,
        "kind": MARKER,
        "experiment": exp.name,
        "wrote": list(WROTE),
        "title": exp.title,
        "question": exp.config.experiment.question,
        "config": exp.resolved(),
        "config_hash": exp.config_hash(),
        "notes": list(getattr(exp, "notes", [])),
        "version": abm.__version__,
        "git_commit": git_commit(),
        "root_seed": exp.config.experiment.seed,
        "baseline": exp.baseline,
        "scenarios": list(exp.scenario_names),
        "design_kind": sweep.design if sweep is not None else "none",
        "sweep": None if sweep is None else {"design": sweep.design, "samples": sweep.samples,
                                             "parameters": list(sweep.parameters)},
        "design": [{"run_id": s.run_id, "scenario": s.scenario, "point": s.point,
                    "params": s.params, "replication": s.replication, "seed": s.seed}
                   for s in specs],
        "created": now(),
        "updated": now(),
        "status": "running",
        "counts": {"planned": len(specs), "computed": 0, "reused": 0, "failed": 0},
        "executor": executor,
        "history": [],
    }


def read(out: Path) -> dict[str, Any] | None:
    """The manifest of a results folder, or None when there is none."""
    path = Path(out) / MANIFEST
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def design_frame(manifest: dict[str, Any]) -> pl.DataFrame:
    """The design table as a frame: run_id, scenario, point, replication, seed."""
    design = manifest.get("design") or []
    schema = {"run_id": pl.String, "scenario": pl.String, "point": pl.Int64,
              "replication": pl.Int64, "seed": pl.Int64}
    return pl.from_dicts(design, schema=schema) if design else pl.DataFrame(schema=schema)
