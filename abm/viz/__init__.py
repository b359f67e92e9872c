"""The SolaraViz app for model builders (`abm viz EXPERIMENT.toml`, the optional extra
`abm[viz]`; docs/viz.md).

- `abm.viz.model`: `VizMarket`, the model with keyword parameters that Mesa's visualization
  rebuilds on Reset, and `RecorderView`, the recorder's series as Mesa's plot components read
  them (no Mesa DataCollector). Needs only the core dependencies.
- `abm.viz.app`: the page (solara, mesa.visualization: the extra).
- `abm.viz.command`: the `abm viz` subcommand (argparse only until it runs).

Nothing in the model core imports this package (tests/test_viz.py).
"""
