"""A sweep of bad inputs (issue 18, items 9-16): each case is files written into an empty folder
and an `abm` command line; the contract is exit code 2, one line on stderr naming the file, the
key and what is allowed, no traceback, nothing written.

tests/test_bad_input.py runs every case in-process (test_every_bad_input_of_the_sweep_meets_the_
contract); run this file as a script to run them as subprocesses of `python -m abm` and count
how many meet the contract:

    python tests/bad_input_sweep.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

GOOD = """\
[experiment]
name = "bad"
steps = 12

[market.demand]
reference_price = 60.0
reference_quantity = 1200
elasticity = -0.4

[[regions]]
name = "US"
club = true

[[producers]]
name = "A"
region = "US"
stage = "refinery"
capacity = 2000
unit_cost = 45.0

[[buyers]]
name = "B"
region = "US"
share = 1.0
"""

HEADER = "name,region,stage,capacity,unit_cost\n"
WITH_CSV = 'producers_file = "p.csv"\n' + GOOD
PROJECT = ('\n[investment]\nenabled = true\n[[investment.projects]]\nname = "{name}"\n'
           'region = "US"\ncapacity = 500\nunit_cost = 40.0\ncapex = 10000.0\nlead_time = 12\n')
SWEEP = '\n[sweep]\n[sweep.parameters]\n"market.demand.elasticity" = {values}\n'


@dataclass
class Case:
    """Files (name -> text or bytes; None: a FIFO), the command after `abm` (paths relative to
    the case folder) and what stderr must hold: the file, the key and what is allowed."""

    item: int
    files: dict[str, str | bytes | None]
    argv: list[str]
    file: str                      # the file (or option) the message names
    key: str | None                # the key it names, None when the file itself is at fault
    allowed: str                   # a phrase of what is allowed
    extra: list[str] = field(default_factory=list)   # further phrases the message holds


def toml(text: str, **more: str | bytes | None) -> dict[str, str | bytes | None]:
    return {"exp.toml": text, **more}


def run_case(argv: list[str]) -> list[str]:
    return ["run", *argv, "--out", "out", "--quiet", "--no-report"]


def replace(old: str, new: str, text: str = GOOD) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


CASES: dict[str, Case] = {
    # 9: CSV rows that do not fit the header; errors in a CSV name the CSV and its line
    "csv_thousands_separator": Case(9, toml(WITH_CSV, **{"p.csv": HEADER + "C,US,refinery,35,000,"
                                                          "45\n"}), run_case(["exp.toml"]),
                                    "p.csv, line 2", None, "header has 5 columns",
                                    ["6 fields", "35000"]),
    "csv_too_few_fields": Case(9, toml(WITH_CSV, **{"p.csv": HEADER + "C,US,refinery,35,45\n"
                                                     "D,US,refinery\n"}),
                               run_case(["exp.toml"]), "p.csv, line 3", None,
                               "header has 5 columns", ["3 fields"]),
    "csv_thousands_separator_quoted": Case(9, toml(WITH_CSV, **{"p.csv": HEADER + 'C,US,refinery,'
                                                                '"35,000",45\n'}),
                                           run_case(["exp.toml"]), "p.csv, line 2", "capacity",
                                           "valid number", ["35,000"]),
    "csv_bad_cell": Case(9, toml(WITH_CSV, **{"p.csv": HEADER + "C,US,refinery,lots,45\n"}),
                         run_case(["exp.toml"]), "p.csv, line 2", "capacity", "valid number"),
    "csv_unknown_stage": Case(9, toml(WITH_CSV, **{"p.csv": HEADER + "C,US,smelter,35,45\n"}),
                              run_case(["exp.toml"]), "p.csv, line 2", "stage", "'mine', "
                              "'refinery' or 'component'"),
    "csv_unknown_region": Case(9, toml(WITH_CSV, **{"p.csv": HEADER + "C,US,refinery,35,45\n"
                                                     "D,Mars,refinery,35,45\n"}),
                               run_case(["exp.toml"]), "p.csv, line 3", "region", "allowed: US"),
    "csv_column_twice": Case(9, toml(WITH_CSV, **{"p.csv": "name,name,region\nC,C,US\n"}),
                             run_case(["exp.toml"]), "p.csv, line 1", None, "appears twice"),
    "projects_csv_negative_capex": Case(
        9, toml(GOOD + '\n[investment]\nprojects_file = "q.csv"\n',
                **{"q.csv": "name,region,capacity,unit_cost,capex,lead_time\n"
                   "P,US,500,40,-1,12\n"}),
        run_case(["exp.toml"]), "q.csv, line 2", "capex", "greater than or equal to 0"),
    # 10: infinite and NaN values
    "inf_reference_price": Case(10, toml(replace("reference_price = 60.0",
                                                 "reference_price = inf")),
                                run_case(["exp.toml"]), "exp.toml, line 6",
                                "market.demand.reference_price", "finite number"),
    "inf_capacity": Case(10, toml(replace("capacity = 2000", "capacity = inf")),
                         run_case(["exp.toml"]), "exp.toml, line 18", "producers.0.capacity",
                         "finite number"),
    "inf_unit_cost": Case(10, toml(replace("unit_cost = 45.0", "unit_cost = +inf")),
                          run_case(["exp.toml"]), "exp.toml", "producers.0.unit_cost",
                          "finite number"),
    "nan_elasticity": Case(10, toml(replace("elasticity = -0.4", "elasticity = nan")),
                           run_case(["exp.toml"]), "exp.toml", "market.demand.elasticity",
                           "finite number"),
    "huge_float_is_inf": Case(10, toml(replace("capacity = 2000", "capacity = 1e400")),
                              run_case(["exp.toml"]), "exp.toml", "producers.0.capacity",
                              "finite number"),
    "inf_outage_duration": Case(10, toml(GOOD + "\n[outages]\nprobability = 0.1\n"
                                         "duration = inf\n"), run_case(["exp.toml"]),
                                "exp.toml", "outages.duration", "finite number"),
    "inf_expectation_halflife": Case(10, toml(GOOD + "\n[investment]\nexpectation_halflife = "
                                              "inf\n"), run_case(["exp.toml"]), "exp.toml",
                                     "investment.expectation_halflife", "finite number"),
    "inf_by_set": Case(10, toml(GOOD), run_case(["exp.toml", "--set",
                                                 "market.demand.reference_price=inf"]),
                       "exp.toml", "market.demand.reference_price", "finite number", ["--set"]),
    "inf_in_sweep": Case(10, toml(GOOD + SWEEP.format(values="[-0.5, -inf]")),
                         run_case(["exp.toml"]), "exp.toml, line 28", "sweep.parameters."
                         "market.demand.elasticity.1", "finite number"),
    # 11: strict types: TOML has real booleans and numbers
    "club_yes": Case(11, toml(replace("club = true", 'club = "yes"')), run_case(["exp.toml"]),
                     "exp.toml, line 12", "regions.0.club", "true or false"),
    "market_economy_no": Case(11, toml(replace("club = true", 'club = true\nmarket_economy = '
                                               '"no"')), run_case(["exp.toml"]), "exp.toml",
                              "regions.0.market_economy", "true or false"),
    "capacity_quoted": Case(11, toml(replace("capacity = 2000", 'capacity = "30000"')),
                            run_case(["exp.toml"]), "exp.toml", "producers.0.capacity",
                            "without quotes"),
    "steps_float": Case(11, toml(replace("steps = 12", "steps = 12.5")), run_case(["exp.toml"]),
                        "exp.toml", "experiment.steps", "valid integer"),
    "steps_bool": Case(11, toml(replace("steps = 12", "steps = true")), run_case(["exp.toml"]),
                       "exp.toml", "experiment.steps", "valid integer"),
    "name_number": Case(11, toml(replace('name = "A"', "name = 7")), run_case(["exp.toml"]),
                        "exp.toml", "producers.0.name", "valid string"),
    "club_by_set_as_text": Case(11, toml(GOOD), run_case(["exp.toml", "--set",
                                                          'regions.0.club="yes"']),
                                "exp.toml", "regions.0.club", "true or false", ["--set"]),
    # 12: duplicate names
    "duplicate_producer": Case(12, toml(GOOD + '\n[[producers]]\nname = "A"\nregion = "US"\n'
                                        'stage = "refinery"\ncapacity = 10\nunit_cost = 5.0\n'),
                               run_case(["exp.toml"]), "exp.toml", "producers.1.name",
                               "must be unique", ["duplicate name 'A'"]),
    "duplicate_buyer": Case(12, toml(replace("share = 1.0", 'share = 0.5\n\n[[buyers]]\nname = '
                                             '"B"\nregion = "US"\nshare = 0.5')),
                            run_case(["exp.toml"]), "exp.toml", "buyers.1.name",
                            "must be unique", ["duplicate name 'B'"]),
    "duplicate_project": Case(12, toml(GOOD + PROJECT.format(name="P") + PROJECT.format(
        name="P").replace("\n[investment]\nenabled = true", "")), run_case(["exp.toml"]),
        "exp.toml", "investment.projects.1.name", "must be unique", ["duplicate name 'P'"]),
    "project_named_as_producer": Case(12, toml(GOOD + PROJECT.format(name="A")),
                                      run_case(["exp.toml"]), "exp.toml",
                                      "investment.projects.0.name", "must be unique"),
    "duplicate_in_csv": Case(12, toml(WITH_CSV, **{"p.csv": HEADER + "A,US,refinery,35,45\n"}),
                             run_case(["exp.toml"]), "p.csv, line 2", "name",
                             "must be unique", ["duplicate name 'A'"]),
    # 13: presets by name only
    "preset_path": Case(13, toml(replace("steps = 12", 'steps = 12\nmineral = "../../x"')),
                        run_case(["exp.toml"]), "exp.toml, line 4", "experiment.mineral",
                        "allowed: cobalt, gallium"),
    "preset_file_name": Case(13, toml(replace("steps = 12", 'steps = 12\nmineral = '
                                              '"lithium.toml"')), run_case(["exp.toml"]),
                             "exp.toml", "experiment.mineral", "allowed: cobalt"),
    "preset_path_to_a_preset": Case(13, toml(replace("steps = 12", 'steps = 12\nmineral = '
                                                     '"../minerals/lithium"')),
                                    run_case(["exp.toml"]), "exp.toml", "experiment.mineral",
                                    "allowed: cobalt"),
    "preset_absolute_path": Case(13, toml(replace("steps = 12", 'steps = 12\nmineral = '
                                                  '"/etc/passwd"')), run_case(["exp.toml"]),
                                 "exp.toml", "experiment.mineral", "allowed: cobalt"),
    # 14: unreadable files and bad command-line values
    "experiment_latin1": Case(14, {"exp.toml": GOOD.replace('"bad"', '"caf\xe9"').encode(
        "latin-1")}, run_case(["exp.toml"]), "exp.toml, line 2", None, "saved as UTF-8"),
    "csv_latin1": Case(14, toml(WITH_CSV, **{"p.csv": (HEADER + "Caf\xe9,US,refinery,35,45\n"
                                                       ).encode("latin-1")}),
                       run_case(["exp.toml"]), "p.csv, line 2", None, "CSV UTF-8"),
    "producers_file_folder": Case(14, toml(WITH_CSV, **{"p.csv/x": "folder"}),
                                  run_case(["exp.toml"]), "exp.toml", "producers_file",
                                  "expected a CSV file"),
    "experiment_fifo": Case(14, {"exp.toml": None}, run_case(["exp.toml"]), "exp.toml", None,
                            "expected a TOML file"),
    "csv_fifo": Case(14, toml(WITH_CSV, **{"p.csv": None}), run_case(["exp.toml"]), "exp.toml",
                     "producers_file", "expected a CSV file"),
    "extends_fifo": Case(14, toml('extends = "base.toml"\n', **{"base.toml": None}),
                         run_case(["exp.toml"]), "exp.toml", "extends", "expected an experiment "
                         "TOML file"),
    "out_under_a_file": Case(14, toml(GOOD, **{"afile": "x"}),
                             ["run", "exp.toml", "--out", "afile/out", "--quiet"], "afile/out",
                             None, "choose an --out inside a folder"),
    "scheduler_not_an_address": Case(14, toml(GOOD), run_case(["exp.toml", "--executor", "dask",
                                                               "--scheduler", "not an address"]),
                                     "command line", "--scheduler", "PROTOCOL://HOST:PORT",
                                     ["'not an address'"]),
    "scheduler_without_port": Case(14, toml(GOOD), run_case(["exp.toml", "--executor", "dask",
                                                             "--scheduler", "tcp://localhost"]),
                                   "command line", "--scheduler", "PROTOCOL://HOST:PORT",
                                   ["'tcp://localhost'"]),
    "report_manifest_list": Case(14, {"res/manifest.json": "[1, 2]", "res/runs/x": ""},
                                 ["report", "res"], "res/manifest.json", None,
                                 "expected an object"),
    "report_manifest_config_text": Case(
        14, {"res/manifest.json": json.dumps({"format": 1, "kind": "abm results",
                                              "experiment": "x", "config": "oops"}),
             "res/runs/x": ""}, ["report", "res"], "res/manifest.json", "config",
        "must be an object"),
    "report_manifest_not_utf8": Case(14, {"res/manifest.json": b"\xff\xfe{}", "res/runs/x": ""},
                                     ["report", "res"], "res/manifest.json", None,
                                     "not valid JSON"),
    "validate_fifo": Case(14, {"exp.toml": None}, ["validate", "exp.toml"], "exp.toml", None,
                          "expected a TOML file"),
    # 15: the misspelt key named first, with the closest allowed one
    "misspelt_required_key": Case(15, toml(replace("capacity = 2000", "capcity = 2000")),
                                  run_case(["exp.toml"]), "exp.toml, line 18",
                                  "producers.0.capcity", "did you mean 'capacity'?",
                                  ["allowed: name"]),
    "misspelt_column_in_csv": Case(15, toml(WITH_CSV, **{"p.csv": "name,region,stage,capcity,"
                                                          "unit_cost\nC,US,refinery,35,45\n"}),
                                   run_case(["exp.toml"]), "p.csv, line 2", "capcity",
                                   "did you mean 'capacity'?"),
    "misspelt_key_in_scenario": Case(15, toml(GOOD + '\n[scenarios.x.policy.floor]\nmechanism = '
                                              '"cfd"\nlevl = 80.0\n'), run_case(["exp.toml"]),
                                     "exp.toml, line 26", "scenarios.x -> policy.floor.levl",
                                     "did you mean 'level'?"),
    "misspelt_dotted_key_in_scenario": Case(15, toml(GOOD + '\n[scenarios.x]\n'
                                                     '"market.demand.elastcity" = -0.2\n'),
                                            run_case(["exp.toml"]), "exp.toml",
                                            "scenarios.x -> market.demand.elastcity",
                                            "did you mean 'elasticity'?"),
    "bad_sweep_point": Case(15, toml(GOOD + SWEEP.format(values="[-0.5, 3.0]")),
                            run_case(["exp.toml"]), "exp.toml, line 28",
                            "[sweep] point 1 (market.demand.elasticity = 3) in scenario base -> "
                            "market.demand.elasticity", "less than 0"),
    # 16: limits on what cannot run
    "design_above_max_runs": Case(16, toml(GOOD + SWEEP.format(values="[-0.1, -0.2, -0.3]")),
                                  run_case(["exp.toml", "--replications", "5", "--max-runs",
                                            "10"]), "exp.toml", "sweep",
                                  "at most 10", ["15 runs"]),
    "replications_above_max_runs": Case(16, toml(GOOD + "\n[scenarios.a]\n[scenarios.b]\n"),
                                        run_case(["exp.toml", "--replications", "600000"]),
                                        "exp.toml", "experiment.replications",
                                        "at most 1,000,000", ["1,200,000 runs"]),
    "validate_above_max_runs": Case(16, toml(GOOD + SWEEP.format(values="[-0.1, -0.2]")),
                                    ["validate", "exp.toml", "--max-runs", "1"], "exp.toml",
                                    "sweep", "at most 1"),
    "max_runs_zero": Case(16, toml(GOOD), run_case(["exp.toml", "--max-runs", "0"]),
                          "command line", "--max-runs", "at least 1"),
    "oversubscribe_without_workers": Case(16, toml(GOOD), run_case(["exp.toml",
                                                                    "--oversubscribe"]),
                                          "command line", "--oversubscribe", "needs --workers"),
    # (issue 16 review, finding 8) a key that means nothing in the experiment it is in
    "component_intensity_without_makers": Case(
        16, toml(replace("[market.demand]", "[market]\ncomponent_intensity = 7\n\n"
                         "[market.demand]")),
        run_case(["exp.toml"]), "exp.toml", "market.component_intensity", "leave the key out"),
}


def write_case(case: Case, folder: Path) -> None:
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            os.mkfifo(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def written(case: Case, folder: Path) -> list[str]:
    """What the command wrote: paths in `folder` beyond the case's own files (and their
    folders)."""
    own = {Path(n) for n in case.files} | {p for n in case.files for p in Path(n).parents}
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.relative_to(folder) not in own)


def problems(case: Case, code: int, err: str, wrote: list[str]) -> list[str]:
    """How a case's outcome breaks the contract ([] when it meets it)."""
    found = []
    if code != 2:
        found.append(f"exit code {code}")
    if "Traceback" in err:
        found.append("traceback")
    if len(err.strip().splitlines()) != 1:
        found.append(f"{len(err.strip().splitlines())} lines on stderr")
    for phrase in [case.file, *([f"'{case.key}'"] if case.key else []), case.allowed,
                   *case.extra]:
        if phrase not in err:
            found.append(f"message lacks {phrase!r}")
    if wrote:
        found.append(f"wrote {wrote}")
    return found


def main() -> int:
    met = 0
    for name, case in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            write_case(case, folder)
            try:
                proc = subprocess.run([sys.executable, "-m", "abm", *case.argv], cwd=folder,
                                      capture_output=True, text=True, timeout=60, env={
                                          **os.environ,
                                          "PYTHONPATH": str(Path(__file__).parents[1])})
                err = proc.stderr
                found = problems(case, proc.returncode, err, written(case, folder))
            except subprocess.TimeoutExpired:
                err, found = "", ["hangs (no end within 60 s)"]
        met += not found
        print(f"{'ok ' if not found else 'BAD'} item {case.item:2d} {name}: "
              f"{'; '.join(found) or err.strip()}")
    print(f"{met} of {len(CASES)} bad inputs meet the contract (exit 2, one message naming the "
          "file, key and what is allowed, no traceback, nothing written)")
    return 0 if met == len(CASES) else 1


if __name__ == "__main__":
    sys.exit(main())
