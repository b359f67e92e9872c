"""`abm viz EXPERIMENT.toml`: serve the SolaraViz app (abm.viz.app) for one scenario.

Checks, before anything starts: the optional extra is installed (else exit 2 naming the extra
and the pip command), the experiment file and the scenario are valid (else exit 2 with the
config error). Then ``python -m solara run abm.viz.app`` serves the page on localhost; the
front-end assets come from the solara-assets package (no CDN), so the page renders offline, and
solara's telemetry and version check are off.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from abm.errors import ConfigError

# import name -> what to install (the extra abm[viz] in pyproject.toml pins the same)
EXTRA_MODULES = {"solara": "solara", "solara_assets": "solara-assets",
                 "ipyvuetify": "ipyvuetify<3", "matplotlib": "matplotlib",
                 "altair": "altair", "networkx": "networkx"}
ENV_EXPERIMENT, ENV_SCENARIO = "ABM_VIZ_EXPERIMENT", "ABM_VIZ_SCENARIO"   # read by abm.viz.app
PIP = 'pip install "abm[viz]"  (from a checkout: pip install -e ".[viz]")'


class ExtraMissing(Exception):
    """The optional extra abm[viz] is not (fully) installed."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="abm viz", description="Step one scenario of an experiment in a SolaraViz app "
        "(Mesa's browser visualization; needs the optional extra abm[viz]).")
    parser.add_argument("experiment", help="experiment TOML file")
    parser.add_argument("--scenario", help="scenario to start from (default: the experiment's "
                        "baseline)")
    parser.add_argument("--host", default="localhost", help="address to serve on (default "
                        "localhost)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument("--open", action="store_true", help="open the page in a browser")
    return parser


def missing_packages() -> list[str]:
    """What of the extra is missing or unusable (an ipyvuetify 3.x breaks Mesa 3.3's SolaraViz)."""
    missing = [pip for module, pip in EXTRA_MODULES.items()
               if importlib.util.find_spec(module) is None]
    try:
        if int(version("ipyvuetify").split(".")[0]) >= 3:
            missing.append("ipyvuetify<3 (3.x is installed)")
    except PackageNotFoundError:
        pass
    return missing


def check_extra() -> None:
    missing = missing_packages()
    if missing:
        raise ExtraMissing(f"the app needs the optional extra abm[viz] (missing: "
                           f"{', '.join(missing)}); install it with: {PIP}")


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_extra()
    except ExtraMissing as err:
        print(f"abm viz: error: {err}", file=sys.stderr)
        return 2
    from abm.experiment import load_experiment

    path = Path(args.experiment)
    exp = load_experiment(path)                # ConfigError: exit 2 (abm.cli)
    scenario = args.scenario or exp.baseline
    exp.scenario(scenario)                     # an unknown scenario names the allowed ones
    if not 0 < args.port < 65536:
        raise ConfigError(None, "--port", f"must be 1 to 65535 (got {args.port})")
    # solara's own calls out (usage telemetry, a check for a newer version) are switched off:
    # the app runs offline and sends nothing
    env = {**os.environ, ENV_EXPERIMENT: str(path.resolve()), ENV_SCENARIO: scenario,
           "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    command = [sys.executable, "-m", "solara", "run", "abm.viz.app", "--production",
               "--no-check-version",
               "--host", args.host, "--port", str(args.port),
               "--open" if args.open else "--no-open"]
    print(f"abm viz: scenario '{scenario}' of {path} at http://{args.host}:{args.port} "
          "(Ctrl+C stops)", flush=True)
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 130
