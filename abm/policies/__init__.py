"""Policy instruments. `build_policies(config)` turns the [policy.*] tables and the export-control
shocks into the scenario's list of instruments (each with initialize / apply / settle)."""

from __future__ import annotations

from abm.policies.base import Policy


def build_policies(config) -> list[Policy]:
    """The scenario's instruments, in the order they act each step within a phase (the model
    runs them by `Policy.phase`: the border measures and floor, the export controls, the rest,
    private stockholders; so the controls decide after the measures whatever this order)."""
    from abm.policies.floor import make_floor
    from abm.policies.offtake import Offtake
    from abm.policies.state_reserve import StateReserve
    from abm.policies.stockpile import Stockpile
    from abm.policies.trade import ExportControl, Finance, TradeMeasures

    p = config.policy
    policies: list[Policy] = []
    # the club's border measures first: an export control's counterfactual clears with them
    # (ExportControl.measured_plan: the step as it will clear, caps aside)
    if p.trade is not None:
        policies.append(TradeMeasures(p.trade))
    if p.floor is not None:
        policies.append(make_floor(p.floor))
    policies += [ExportControl(s) for s in config.shocks if s.kind == "export_control"]
    if p.offtake is not None:
        policies.append(Offtake(p.offtake))
    if p.component_floor is not None:
        policies.append(make_floor(p.component_floor, records_level=False))
    if p.stockpile is not None:
        policies.append(Stockpile(p.stockpile))
    if p.finance is not None:
        policies.append(Finance(p.finance))
    reserve = config.nonmarket.reserve
    if reserve is not None:
        policies += [StateReserve(reserve, r.name) for r in config.regions
                     if not r.market_economy]
    if config.storage.enabled:
        # last: private stockholders read the step's offers and plan as the others left them
        from abm.stockholders import Stockholders

        policies.append(Stockholders(config.storage))
    return policies


__all__ = ["Policy", "build_policies"]
