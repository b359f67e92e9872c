"""The `abm` command line. Heavy modules are imported inside the commands so `abm --help` is fast.

Subcommands of one argparse parser: run, report, validate, discover, calibrate, validate-model
and viz. The last three keep their arguments in their own modules (abm.calibration.command,
abm.validation.command, abm.viz.command), loaded when the subcommand is used: listing the
validation claims imports the model (~0.4 s).

Exit codes: 0 success; 1 a run-time failure (some runs failed) or output cut off by a closed
pipe (`abm run ... | head`, which ends quietly); 2 bad input (one clear message on stderr,
nothing written); 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from abm import __version__
from abm.errors import ConfigError

COMMAND_LINE = "command line"   # the 'file' of an error in an option's value


class _Deferred(argparse.ArgumentParser):
    """A subcommand parser whose arguments come from the parser `arguments()` returns, built
    the first time this subcommand parses (its --help included), not when `abm` starts."""

    def __init__(self, *args, arguments: Callable[[], argparse.ArgumentParser] | None = None,
                 **kwargs):
        self._arguments = arguments
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        if self._arguments is not None:
            source, self._arguments = self._arguments(), None
            self._add_container_actions(source)  # what ArgumentParser(parents=[source]) does
            self.description = self.description or source.description
        return super().parse_known_args(args, namespace)


def _calibrate_arguments() -> argparse.ArgumentParser:
    from abm.calibration.command import build_parser

    return build_parser()


def _validate_model_arguments() -> argparse.ArgumentParser:
    from abm.validation.claims import CLAIMS
    from abm.validation.command import build_parser

    return build_parser(list(CLAIMS))


def _viz_arguments() -> argparse.ArgumentParser:
    from abm.viz.command import build_parser

    return build_parser()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="abm", description="Agent-based model of critical-mineral markets under price "
        "floors, stockpiles and offtake contracts.")
    parser.add_argument("--version", action="version", version=f"abm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Deferred)

    run = sub.add_parser("run", help="run an experiment (every scenario x sweep point x "
                         "replication) and build its result pages")
    run.add_argument("experiment", help="experiment TOML file")
    run.add_argument("--out", help="results folder (default results/<experiment name>)")
    run.add_argument("--replications", type=int, help="override experiment.replications")
    run.add_argument("--steps", type=int, help="override experiment.steps")
    run.add_argument("--workers", type=int, help="parallel workers (default: all cores; more "
                     "than the cores only with --oversubscribe)")
    run.add_argument("--oversubscribe", action="store_true", help="start all the --workers "
                     "asked for even when they outnumber the cores (default: capped at the "
                     "cores, with a warning)")
    run.add_argument("--max-runs", type=int, metavar="N", help="refuse a design of more than "
                     "N runs before building it (default 1,000,000)")
    run.add_argument("--executor", choices=("local", "dask"), default="local")
    run.add_argument("--scheduler", help="dask scheduler address (default: a local cluster)")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key (dotted; VALUE in TOML syntax); repeatable")
    run.add_argument("--force", action="store_true", help="discard stored runs made with a "
                     "different config")
    run.add_argument("--series", choices=("all", "bands", "none"), default="all",
                     help="per-step series stored for each run: all columns (default), only "
                     "the columns the fan charts need, of a fixed-size sample of runs per "
                     "scenario (bands), or none")
    run.add_argument("--no-report", action="store_true", help="do not build the result pages")
    run.add_argument("--quiet", action="store_true", help="no progress output")

    report = sub.add_parser("report", help="rebuild the result pages of a results folder")
    report.add_argument("results", help="results folder")

    validate = sub.add_parser("validate", help="check an experiment config without running it")
    validate.add_argument("experiment", help="experiment TOML file")
    validate.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    validate.add_argument("--max-runs", type=int, metavar="N", help="refuse a design of more "
                          "than N runs (default 1,000,000)")

    discover = sub.add_parser("discover", help="scenario discovery (PRIM): under which swept "
                              "parameters runs meet the [discovery] criteria")
    discover.add_argument("results", help="results folder of an experiment with a [sweep]")
    discover.add_argument("--criterion", action="append", default=[], metavar="TEXT",
                          help="instead of the experiment's [discovery] criteria, e.g. "
                          "'fiscal_cost > 2e9' (repeatable)")

    # add_help=False: the -h of the command's own parser is taken over with its arguments
    sub.add_parser("calibrate", help="fit cost curves from a producers CSV (abm calibrate -h)",
                   add_help=False, arguments=_calibrate_arguments)
    sub.add_parser("validate-model", help="run the validation claims and write their page "
                   "(abm validate-model -h)", add_help=False, arguments=_validate_model_arguments)
    sub.add_parser("viz", help="step a scenario in a SolaraViz app (optional extra abm[viz]; "
                   "abm viz -h)", add_help=False, arguments=_viz_arguments)
    return parser


def parse_sets(sets: list[str], file: str) -> dict:
    from abm.dotted import parse_value

    overrides = {}
    for item in sets:
        if "=" not in item:
            raise ConfigError(file, item, "--set needs KEY=VALUE (VALUE in TOML syntax)")
        key, value = item.split("=", 1)
        overrides[key.strip()] = parse_value(value.strip())
    return overrides


def cmd_run(args: argparse.Namespace) -> int:
    from abm.experiment import load_experiment

    overrides = parse_sets(args.sets, args.experiment)
    if args.replications is not None:
        overrides["experiment.replications"] = args.replications
    if args.steps is not None:
        overrides["experiment.steps"] = args.steps
    if args.workers is not None and args.workers < 1:
        raise ConfigError(COMMAND_LINE, "--workers", f"must be at least 1 (got {args.workers})")
    max_runs = _max_runs(args)
    workers = _capped_workers(args)
    if args.executor == "local" or not args.scheduler:
        # the fork server of the local pool or LocalCluster imports the model meanwhile
        # (writes nothing)
        from abm.engine.forkserver import warm_up

        warm_up(args.executor, workers)
    if args.scheduler and args.executor == "dask":   # named as the option, before any loading
        from abm.engine.executors import check_scheduler_address, require_dask

        require_dask()
        check_scheduler_address(args.scheduler, file=COMMAND_LINE, key="--scheduler")
    exp = load_experiment(args.experiment, overrides)
    exp.check_size(max_runs)
    # stdout: stderr is for the one message of an error; flushed now, so that a closed pipe
    # (`abm run ... | true`) shows here, not when the worker pool starts, and the runs go on
    cut = not args.quiet and not _say(f"design: {exp.describe_size()}")
    from abm.batch import CannotWrite, WorkersLost, print_summary, run_experiment

    try:
        result = run_experiment(exp, out=args.out, workers=workers, executor=args.executor,
                                scheduler=args.scheduler, quiet=args.quiet, force=args.force,
                                report=not args.no_report, series=args.series,
                                max_runs=max_runs)
    except (WorkersLost, CannotWrite) as err:   # finished runs are kept; a rerun resumes
        print(f"abm run: error: {err}", file=sys.stderr)
        return 1
    print_summary(result)
    return 1 if result.failed or cut else 0


def _say(line: str) -> bool:
    """Print a line to stdout at once; False (and stdout pointed at devnull) when the reader
    has gone away."""
    try:
        print(line, flush=True)
        return True
    except BrokenPipeError:
        _stdout_to_devnull()
        return False


def _stdout_to_devnull() -> None:
    """Python's documented recipe for a closed pipe (library/signal.html, "Note on SIGPIPE"):
    point stdout at devnull so later writes and the interpreter's final flush do not fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _max_runs(args: argparse.Namespace) -> int:
    """--max-runs, or the default limit of abm.experiment (imported here: the CLI starts fast)."""
    from abm.experiment import MAX_RUNS

    if args.max_runs is not None and args.max_runs < 1:
        raise ConfigError(COMMAND_LINE, "--max-runs", f"must be at least 1 (got "
                          f"{args.max_runs})")
    return MAX_RUNS if args.max_runs is None else args.max_runs


def _cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform tells)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


def _capped_workers(args: argparse.Namespace) -> int | None:
    """--workers, capped at the cores unless --oversubscribe says otherwise (more processes
    than cores only share them, and each holds a model in memory). Workers of a remote dask
    scheduler are its own, not this machine's: nothing to cap."""
    if args.oversubscribe and args.workers is None:
        raise ConfigError(COMMAND_LINE, "--oversubscribe", "needs --workers N (the number of "
                          "workers to start beyond the cores)")
    cores = _cores()
    if args.workers is None or args.workers <= cores or args.oversubscribe or args.scheduler:
        return args.workers
    print(f"abm run: warning: --workers {args.workers} capped at the {cores} cores of this "
          f"machine (add --oversubscribe to start {args.workers})", file=sys.stderr)
    return cores


def cmd_report(args: argparse.Namespace) -> int:
    from abm.engine.files import CannotWrite, is_disk_error
    from abm.report import build_report

    try:
        index = build_report(Path(args.results))
    except OSError as exc:
        if not is_disk_error(exc):
            raise
        print(f"abm report: error: {CannotWrite(args.results, exc)}", file=sys.stderr)
        return 1
    print(f"report: {index}")
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    from abm.report.data import read_manifest
    from abm.report.discovery import discover, sentence

    findings = discover(Path(args.results), args.criterion or None)
    config = read_manifest(Path(args.results)).get("config") or {}
    price_unit = str((config.get("market") or {}).get("price_unit") or "USD/kg")
    for f in findings:
        print(sentence(f, price_unit))
        if f.limits:
            for p, (lo, hi) in f.limits.items():
                print(f"  {p}: {lo:,.6g} to {hi:,.6g} (quasi-p {f.p_values[p]:.2g}, restricted "
                      f"in {f.stability.get(p, 0):.0%} of resamples)")
    if not any(f.limits for f in findings):
        print("no box of the swept parameters meets any criterion")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from abm.experiment import load_experiment

    max_runs = _max_runs(args)
    exp = load_experiment(args.experiment, parse_sets(args.sets, args.experiment))
    exp.check_size(max_runs)
    print(f"design: {exp.describe_size()}")
    specs = exp.design()
    checked = exp.check_design(specs)   # every scenario x sweep point that will run
    print(f"{args.experiment}: ok: experiment '{exp.name}', scenarios "
          f"{', '.join(exp.scenario_names)}, {checked} scenario x point configs checked, "
          f"{len(specs)} runs of {exp.config.experiment.steps} steps")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from abm.calibration.command import main as calibrate

    return calibrate(args.argv)


def cmd_validate_model(args: argparse.Namespace) -> int:
    from abm.validation.command import main as validate_model

    return validate_model(args.argv)


def cmd_viz(args: argparse.Namespace) -> int:
    from abm.viz.command import main as viz

    return viz(args.argv)


COMMANDS = {"run": cmd_run, "report": cmd_report, "validate": cmd_validate,
            "discover": cmd_discover,
            "calibrate": cmd_calibrate, "validate-model": cmd_validate_model,
            "viz": cmd_viz}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    # calibrate and validate-model run through their modules' main (which parse the same
    # arguments again, with the same parser): the arguments after the command name
    args.argv = argv[argv.index(args.command) + 1:]
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
        return code
    except ConfigError as err:
        print(f"abm {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("abm: interrupted; finished runs are kept and a rerun resumes", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`abm run ... | head`): stop quietly, and exit 1 as Python does
        # on EPIPE.
        _stdout_to_devnull()
        return 1


if __name__ == "__main__":
    sys.exit(main())
