"""The club's product market with component makers (docs/ODD.md 7.18): under a product-stage
minimum import price F or tariff t (model.plan) club makers buy product in the club's market at
the club price P_c, the others in the world market at P_w.

Imports into the club cost the border price b(P_w) = max(P_w, F) (1 + t) (as abm.market.Node);
club refiners sell at P_c, non-club refiners at P_w. The component market clears with club
makers' asks c_i + k_i P_c and the others' c_i + k_i P_w (abm.component.component_clearing),
and each product price follows from the derived demand of the makers in its market:

* first the markets clear as one (abm.component.clear_stages, P_c = P_w = P). If the club then
  imports nothing, or the border price at P adds nothing (b(P) = P: an MIP at or below the world
  price, no tariff), that is the equilibrium under the measure too: it does not bind, and the
  outcome is the one-market outcome exactly;
* else the club imports at a wedge. For a trial P_w the club's market clears club offers and an
  import tranche at b(P_w) (up to the world's product on offer) against club makers' derived
  demand D_c(P_c; P_w) (abm.component.product_equilibrium): P_c and the imports M(P_w); the
  world market clears non-club offers against D_w(P_w; P_c) + M(P_w), the non-club makers'
  derived demand plus the club's imports. Club refiners sell only in the club (P_c >= P_w).

Duties are (P_c - P_w) M, booked to the club government by the measure (abm.policies); under a
price undertaking the MIP's part, (F - P_w) M when P_c reaches F, is kept by world sellers as a
price uplift on their sales (exporter_rent), as in the product-only clearing (abm.clearing).
Money: makers pay k_i q_i P_i = club refiners' P_c S_c + world sellers' P_w (D_w + M) + duties.
Prices in the experiment's price unit per t; quantities t per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from abm.clearing import Outcome
from abm.component import break_even, clear_stages, component_clearing, mixed, product_equilibrium


@dataclass
class StagesOutcome:
    """The component and product markets of a step with a club product market."""

    world_price: float           # P_w, price units per t product
    club_price: float            # P_c, what club makers pay and club refiners get
    dispatched: np.ndarray       # t of product sold per product offer
    offer_price: np.ndarray      # price received per t, per product offer
    component: Outcome           # the component market, by maker
    duties: float                # price units x t collected on club product imports
    exporter_rent: float         # price units x t kept by exporters under an undertaking
    club_imports: float          # t of product into the club (net)
    # the price of the market each product offer sold in, before an undertaking's rent
    # (None: offer_price; abm.clearing.Outcome.market_price)
    market_price: np.ndarray | None = None

    def maker_price(self, club: np.ndarray) -> np.ndarray:
        """The product price each maker pays (club makers the club's)."""
        return np.where(club, self.club_price, self.world_price)


def clear_club_stages(model) -> StagesOutcome:
    """This step's markets with component makers and a product MIP or tariff (module
    docstring); `model` an abm.protocol.ModelView."""
    o, makers, plan = model.offers, model.components, model.plan
    club_offer = model.region_club[o.region]
    price, dispatched, comp = clear_stages(model)
    club_use = float((makers.intensity * comp.sold)[makers.club].sum())
    imports = club_use - float(dispatched[club_offer].sum())
    world_qty = float(o.qty[~club_offer].sum())

    def border(p_w: float) -> float:
        return max(p_w, plan.mip) * (1.0 + plan.tariff)

    # (imports of rounding size, or none to be had, are none)
    if imports <= 1e-12 * club_use or world_qty <= 0 or border(price) <= price:
        return StagesOutcome(price, price, dispatched, np.full(len(o), price), comp, 0.0, 0.0,
                             imports)
    cut = model.producers.supply_cut if model.producers.cut_active else None
    component_market = component_clearing(model, makers.available(cut))
    club_asks, club_qty = o.ask[club_offer], o.qty[club_offer]
    markets: dict[tuple[float, float], Outcome] = {}
    clubs: dict[float, tuple[float, np.ndarray]] = {}

    def comp_at(p_w: float, p_c: float) -> Outcome:
        if (p_w, p_c) not in markets:
            markets[p_w, p_c] = component_market(np.where(makers.club, p_c, p_w))
        return markets[p_w, p_c]

    def club_market(p_w: float) -> tuple[float, np.ndarray]:
        """The club's clearing at world price p_w: (P_c, t sold per club offer and, last, the
        imports)."""
        if p_w not in clubs:
            def derived(p_c: float) -> float:
                return float((makers.intensity * comp_at(p_w, p_c).sold)[makers.club].sum())

            def ceiling(p_c: float) -> float:
                return break_even(makers, comp_at(p_w, p_c), makers.club)

            asks = np.append(club_asks, border(p_w))
            qty = np.append(club_qty, world_qty)
            got = product_equilibrium(asks, qty, derived, ceiling)
            clubs[p_w] = got.price, tie_broken(p_w, got.price, asks, qty, got.dispatched)
        return clubs[p_w]

    def tie_broken(p_w: float, p_c: float, asks: np.ndarray, qty: np.ndarray,
                   sold: np.ndarray) -> np.ndarray:
        """Where club makers' derived demand jumps across the club's supply at P_c (a club
        maker's ask c_i + k_i P_c meets a component price set by a maker outside the club: below
        P_c it sells all it can, above nothing), every split of the tie is a component-market
        equilibrium; the one that clears the club's market is the mix of the two sides that
        takes exactly the club's supply below P_c. The jump may also fall on a horizontal
        segment, at the ask of a club offer or of the import tranche: the makers' demand at P_c
        (one side of the jump) is then more than every offer up to P_c, and the mix is the one
        that takes what was dispatched, all of it. Returns t sold per club offer (and imports);
        the mixed component market is the one `comp_at(p_w, p_c)` gives from then on."""
        live = qty > 0
        horizontal = bool((live & (asks == p_c)).any())
        below = float(qty[live & (asks < p_c)].sum())
        target = float(sold.sum()) if horizontal else below
        use = float((makers.intensity * comp_at(p_w, p_c).sold)[makers.club].sum())
        if abs(use - target) <= 1e-12 * max(target, 1.0):
            return sold
        lo, hi = comp_at(p_w, p_c * (1 - 1e-9)), comp_at(p_w, p_c * (1 + 1e-9))
        d_lo = float((makers.intensity * lo.sold)[makers.club].sum())
        d_hi = float((makers.intensity * hi.sold)[makers.club].sum())
        if not d_lo >= target >= d_hi or d_lo <= d_hi:
            return sold
        markets[p_w, p_c] = mixed(lo, hi, (target - d_hi) / (d_lo - d_hi), comp_at(p_w, p_c),
                                  ~makers.club)
        return sold if horizontal else np.where(live & (asks < p_c), qty, 0.0)

    def world_demand(p_w: float) -> float:
        p_c, sold = club_market(p_w)
        outside = float((makers.intensity * comp_at(p_w, p_c).sold)[~makers.club].sum())
        return outside + float(sold[-1])

    def world_ceiling(p_w: float) -> float:
        p_c, sold = club_market(p_w)
        comp = comp_at(p_w, p_c)
        # (no outside maker buying: none bounds P_w, inf)
        top = break_even(makers, comp, ~makers.club)
        if sold[-1] > 0:
            # club makers selling pay the border price: they break even up to b(P_w) = x
            x = break_even(makers, comp, makers.club)
            scale = 1.0 + plan.tariff
            top = min(top, max(x / scale, plan.mip) if x >= plan.mip * scale else p_w)
        return top if np.isfinite(top) else p_w

    world_asks, world_offer_qty = o.ask[~club_offer], o.qty[~club_offer]

    def tied_at_border(p_w: float, p_c: float) -> bool:
        """The border price b(P_w) is the club's price and a club refiner's ask there, and the
        world's price is on a vertical segment (no world offer at P_w): the world sells all its
        product below P_w, so the club's tie between its refiners and imports is split by what
        the world has left (`shipped`), not by the club's merit order."""
        eps = 1e-9 * max(p_c, 1.0)
        live = club_qty > 0
        return (abs(border(p_w) - p_c) <= eps and bool((live & (np.abs(club_asks - p_c)
                                                                 <= eps)).any())
                and not ((world_offer_qty > 0) & (world_asks == p_w)).any())

    def shipped(p_w: float, p_c: float, comp: Outcome) -> tuple[np.ndarray, np.ndarray]:
        """The tie at the border split as the world ships: imports = the world's product below
        P_w less what outside makers buy, club refiners at the tied ask the rest of club
        makers' use, pro rata (t per club offer and imports, t per world offer)."""
        use = makers.intensity * comp.sold
        club_use, outside = float(use[makers.club].sum()), float(use[~makers.club].sum())
        eps = 1e-9 * max(p_c, 1.0)
        live = club_qty > 0
        at = live & (np.abs(club_asks - p_c) <= eps)
        club_below = np.where(live & ~at & (club_asks < p_c), club_qty, 0.0)
        world_out = np.where((world_offer_qty > 0) & (world_asks < p_w), world_offer_qty, 0.0)
        room = club_use - float(club_below.sum())
        imports = min(max(float(world_out.sum()) - outside, 0.0), room)
        share = min(max((room - imports) / float(club_qty[at].sum()), 0.0), 1.0)
        club = np.append(club_below + np.where(at, club_qty * share, 0.0), imports)
        if world_out.sum() > 0:
            world_out = world_out * min((outside + imports) / float(world_out.sum()), 1.0)
        return club, world_out

    def world_tie(p_w: float, p_c: float) -> tuple[np.ndarray, Outcome, np.ndarray] | None:
        """Where the world's derived demand jumps across the world's supply at P_w (a club
        maker's ask meets an outside maker's at the component price, intensities differing:
        below P_w the outside maker takes the tie, above it the club maker), every split of the
        tie is a component-market equilibrium; the one that clears the world's market is the
        mix of the two sides whose world demand is the world's supply below P_w. Returns
        (t per club offer and imports, the component market, t per world offer), or None
        without such a jump (or where the club's price jumps with it)."""
        live = world_offer_qty > 0
        if (live & (world_asks == p_w)).any():
            return None
        world_out = np.where(live & (world_asks < p_w), world_offer_qty, 0.0)
        supply = float(world_out.sum())
        if supply <= 0 or abs(world_demand(p_w) - supply) <= 1e-9 * supply:
            return None
        lo_w, hi_w = p_w * (1 - 1e-9), p_w * (1 + 1e-9)
        (pc_lo, sold_lo), (pc_hi, sold_hi) = club_market(lo_w), club_market(hi_w)
        d_lo, d_hi = world_demand(lo_w), world_demand(hi_w)
        if (abs(pc_lo - pc_hi) > 1e-6 * max(p_c, 1.0) or not d_lo >= supply >= d_hi
                or d_lo <= d_hi):
            return None
        share = (supply - d_hi) / (d_lo - d_hi)
        comp = mixed(comp_at(lo_w, pc_lo), comp_at(hi_w, pc_hi), share, comp_at(p_w, p_c),
                     ~makers.club)
        return share * sold_lo + (1.0 - share) * sold_hi, comp, world_out

    world = product_equilibrium(world_asks, world_offer_qty, world_demand, world_ceiling)
    p_w = world.price
    p_c, club_sold = club_market(p_w)
    comp = comp_at(p_w, p_c)
    world_sold = world.dispatched
    if tied_at_border(p_w, p_c):
        club_sold, world_sold = shipped(p_w, p_c, comp)
    else:
        split = world_tie(p_w, p_c)
        if split is not None:
            club_sold, comp, world_sold = split
    dispatched = np.zeros(len(o))
    dispatched[~club_offer] = world_sold
    dispatched[club_offer] = club_sold[:-1]
    imports = float(club_sold[-1])
    offer_price = np.where(club_offer, p_c, p_w)
    market_price = offer_price.copy()
    duties = max(p_c - p_w, 0.0) * imports
    rent = 0.0
    if plan.undertaking and plan.mip > 0 and p_c >= plan.mip * (1 - 1e-12):
        sellers = ~club_offer & (o.owner == -1) & (dispatched > 0)
        rent = min(max(plan.mip - p_w, 0.0) * imports, duties)
        if rent > 0 and sellers.any():
            offer_price[sellers] += rent / dispatched[sellers].sum()
            duties -= rent
        else:
            rent = 0.0
    return StagesOutcome(p_w, p_c, dispatched, offer_price, comp, duties, rent, imports,
                         market_price)
