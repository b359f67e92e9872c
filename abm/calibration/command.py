"""``abm calibrate PRODUCERS.csv``: fit the capacity-weighted cost curve of a producers table.

Writes ``DIR/cost_curve.json`` (family, parameters, goodness of fit, cost at shares 0.05..0.95,
every family, the PCHIP curve, per-segment fits) and ``DIR/cost_curve.html`` (plotly page with
plotly.js embedded). Bad input: exit code 2, one message on stderr, nothing written.

``abm/cli.py`` dispatches ``abm calibrate ...`` to :func:`main`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from abm.errors import ConfigError

PROG = "abm calibrate"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Fit the capacity-weighted cost curve (cumulative capacity share -> unit "
                    "cost) of a producers table: lognormal, gamma and Weibull by weighted maximum "
                    "likelihood (chosen by AIC) and a monotone PCHIP curve.")
    parser.add_argument("producers", metavar="PRODUCERS.csv",
                        help="CSV with columns name, region, stage, capacity, unit_cost; optional "
                             "status, capex, lead_time, market_economy")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="output folder (default: results/calibration/<csv stem>)")
    parser.add_argument("--stage", choices=("mine", "refinery"), default=None,
                        help="stage to fit (default: the only stage in the table, else refinery)")
    parser.add_argument("--group", choices=("market", "nonmarket", "all"), default="all",
                        help="region group: market economies, non-market, or all (default)")
    parser.add_argument("--status", choices=("existing", "pipeline", "all"), default="all",
                        help="existing capacity (operating, idle), the project pipeline "
                             "(construction, planned) or all rows (default)")
    parser.add_argument("--price-unit", default="USD/kg", choices=("USD/kg", "USD/t"),
                        help="unit of unit_cost, for labels (default USD/kg)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message (or --help)
        return int(exc.code or 0)
    try:
        result = calibrate(Path(args.producers), stage=args.stage, group=args.group,
                           status=args.status, price_unit=args.price_unit)
    except ConfigError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path("results") / "calibration" / Path(
        args.producers).stem
    summary, html_text = result
    try:
        _write(out, {"cost_curve.json": json.dumps(summary, indent=2, allow_nan=False) + "\n",
                     "cost_curve.html": html_text})
    except OSError as exc:
        print(f"{PROG}: error: {out}: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 2
    gof = summary["goodness_of_fit"]
    params = ", ".join(f"{k} = {v:.4g}" for k, v in summary["parameters"].items())
    print(f"{summary['selection']['producers']} producers, stage {summary['selection']['stage']}"
          f", group {summary['selection']['group']}: best fit {summary['family']} ({params}); "
          f"weighted R² {gof['r2_weighted']:.3f}, max error {gof['max_error']:.4g} "
          f"{args.price_unit}")
    print(f"wrote {out / 'cost_curve.json'}")
    print(f"wrote {out / 'cost_curve.html'}")
    return 0


def calibrate(path: Path, *, stage: str | None, group: str, status: str,
              price_unit: str) -> tuple[dict, str]:
    """Read, select, fit; returns the JSON summary and the HTML page (nothing written)."""
    from abm.calibration.cost_curve import MIN_PRODUCERS, fit_cost_curve
    from abm.calibration.page import page
    from abm.calibration.table import read_producers, select

    file = str(path)
    table = read_producers(path)
    rows, stage = select(table, stage=stage, group=group, file=file, status=status)
    if rows.height < MIN_PRODUCERS:
        raise ConfigError(file, None, f"{rows.height} producer{'s' if rows.height != 1 else ''} "
                          f"with stage = {stage}, group = {group}, status = {status}; a cost curve "
                          f"needs at least {MIN_PRODUCERS}")
    fit = fit_cost_curve(rows["capacity"].to_numpy(), rows["unit_cost"].to_numpy(),
                         names=rows["name"].to_list())
    summary = fit.as_dict()
    summary["selection"] = {"file": file, "stage": stage, "group": group, "status": status,
                            "producers": rows.height, "price_unit": price_unit,
                            "capacity_unit": "t/yr"}
    summary["segments"] = _segments(table, file, status)
    groups = None
    if "market_economy" in rows.columns:
        listed = rows["market_economy"].to_list()
        flags = [listed[i] for i in fit.data.order]
        groups = ["market economy" if f is True else "non-market" if f is False else "unknown"
                  for f in flags]
    notes = [f"Source: {file}; stage {stage}; group {group}; status {status}; "
             f"{rows.height} producers, {fit.data.total:,.0f} t/yr.",
             "Bars: each producer's capacity (width) and unit cash cost (height), cheapest "
             "first. Lines: the fitted curves; the chosen family has the lowest AIC.",
             "Residuals are data minus fit at each producer's capacity midpoint."]
    html_text = page(fit, title=f"Cost curve: {path.name}", price_unit=price_unit, notes=notes,
                     groups=groups)
    return _finite(summary), html_text


def _finite(value):
    """JSON has no NaN or infinity: a degenerate fit's non-finite numbers become null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _segments(table, file: str, status: str) -> list[dict]:
    """Separate curves per stage and region group wherever there are enough producers."""
    from abm.calibration.cost_curve import MIN_PRODUCERS, cost_at_share, fit_cost_curve
    from abm.calibration.table import select

    out = []
    groups = ["all"] + (["market", "nonmarket"] if "market_economy" in table.columns
                        and table["market_economy"].null_count() == 0 else [])
    for stage in sorted(set(table["stage"].to_list())):
        for group in groups:
            rows, _ = select(table, stage=stage, group=group, file=file, status=status)
            if rows.height < MIN_PRODUCERS:
                continue
            fit = fit_cost_curve(rows["capacity"].to_numpy(), rows["unit_cost"].to_numpy())
            best = fit.best
            out.append({"stage": stage, "group": group, "producers": rows.height,
                        "total_capacity": fit.data.total, "family": best.family,
                        "parameters": best.parameters, "goodness_of_fit": best.fit.as_dict(),
                        "cost_at_share": cost_at_share(best),
                        "pchip_cost_at_share": cost_at_share(fit.pchip)})
    return out


def _write(out: Path, files: dict[str, str]) -> None:
    """Write every file atomically (temporary file, then rename) once all content is ready."""
    from abm.engine.files import write_text_atomic

    for name, text in files.items():
        write_text_atomic(text, out / name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
