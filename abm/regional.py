"""Regional markets with shipping costs: which regions are markets of their own and what shipping
to and from them costs (pure functions of the config; the clearing is abm.market.clear_linked,
whose nodes carry the costs).

A region with `separate_market = true` is a node linked to the world market (the hub: every
region that is not separate, and the club's and restricting regions' markets as before) by trade:
its imports cost the world price plus the shipping cost into it, its exports fetch the world price
less the shipping cost out of it. The prices are a spatial equilibrium (Samuelson 1952,
Takayama and Judge 1971) on this star: a separate market's price lies between its export price
and its import price, at one of them when it trades and at its autarky price when the autarky
gap is below the cost; two separate markets trade through the world market at the sum of their
costs. A price differs from the world price by more than shipping only where a measure stops
trade (an export control caps exports; a club border adds its wedge to imports).

Units: costs in the experiment's price unit per t of product.
"""

from __future__ import annotations

from abm.names import REGION_PRICE_PREFIX


def route_costs(config) -> dict[int, tuple[float, float]]:
    """Region index -> (cost per t shipped into it from the world market, cost per t shipped out
    of it) for every separate-market region, from `config.trade_costs` (a route not listed costs
    nothing). The config's validation guarantees one end of each route is a separate market and
    each direction is given at most once."""
    index = {r.name: i for i, r in enumerate(config.regions)}
    costs = {index[r.name]: [0.0, 0.0] for r in config.regions if r.separate_market}
    for route in config.trade_costs:
        if index[route.to] in costs:
            costs[index[route.to]][0] = float(route.cost)
        else:
            costs[index[route.origin]][1] = float(route.cost)
    return {r: (c[0], c[1]) for r, c in costs.items()}


def price_columns(region_names: list[str], separate: dict[int, tuple[float, float]]) -> list[
        tuple[int, str]]:
    """(region index, series column) of each separate market's price, in region order."""
    return [(r, REGION_PRICE_PREFIX + region_names[r]) for r in sorted(separate)]
