"""Assemble this step's markets from the model's offers, buyers and the policies' plan, clear them
with the pure functions of abm.market, and report who sold and bought what at which price.

Without trade measures the world is one market. A minimum import price or a tariff separates the
club (club buyers, and offers that qualify for club treatment) from the world hub; an export
control separates the restricting region. Buffer-stock defences and stockpile bids act in the
market where they sit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from abm import market

HUB = 0


@dataclass
class Offers:
    """This step's product offers: chain segments or refinery offers, and stock releases."""

    ask: np.ndarray        # price unit per t product
    qty: np.ndarray        # t product this step
    refinery: np.ndarray   # producer row of the refinery (-1 for a stock release)
    mine: np.ndarray       # producer row of the feeding mine (-1 without mines)
    region: np.ndarray     # region index of the seller
    owner: np.ndarray      # -1 producer; >= 0 index of the releasing government; -2 importers
    contract: np.ndarray   # bool: an offtake-contracted tranche
    club_value: np.ndarray  # share of the offer's value added in club regions (rules of origin)

    def append(self, ask: float, qty: float, region: int, owner: int) -> None:
        """Add a stock release (no producer behind it)."""
        self.ask = np.append(self.ask, ask)
        self.qty = np.append(self.qty, qty)
        self.refinery = np.append(self.refinery, -1)
        self.mine = np.append(self.mine, -1)
        self.region = np.append(self.region, region)
        self.owner = np.append(self.owner, owner)
        self.contract = np.append(self.contract, False)
        self.club_value = np.append(self.club_value, 1.0)

    def split(self, index: np.ndarray, share: np.ndarray, ask: np.ndarray) -> None:
        """Carve `share` of offers `index` into new contracted tranches offered at `ask`."""
        carved = self.qty[index] * share
        self.qty[index] -= carved
        for name in ("refinery", "mine", "region", "owner", "club_value"):
            arr = getattr(self, name)
            setattr(self, name, np.append(arr, arr[index]))
        self.ask = np.append(self.ask, ask)
        self.qty = np.append(self.qty, carved)
        self.contract = np.append(self.contract, np.ones(len(index), dtype=bool))

    def __len__(self) -> int:
        return len(self.ask)


@dataclass
class MarketPlan:
    """What the policies ask of this step's clearing (reset every step)."""

    mip: float = 0.0                     # club minimum import price (0: none)
    tariff: float = 0.0                  # club ad-valorem duty on non-club imports
    import_cap: float = np.inf           # t per step of MIP imports
    excess_duty: float | None = None     # ad-valorem duty on imports beyond import_cap (None: barred)
    rules_of_origin: float | None = None
    export_caps: dict[int, float] = field(default_factory=dict)   # region -> t per step
    bid_qty: float = 0.0                 # stockpile bid in the club's market, t
    bid_price: float = 0.0
    defence: tuple | None = None         # (covered offers mask fn, floor, room t)
    importer_demand: float = 0.0         # front-running purchases by importers, t

    @property
    def club_separate(self) -> bool:
        return self.mip > 0 or self.tariff > 0

    @property
    def idle(self) -> bool:
        """Nothing for the clearing to do beyond one world market (see `clear_single`)."""
        return (self.defence is None and not self.export_caps and self.bid_qty <= 0
                and self.importer_demand == 0 and not self.club_separate)


@dataclass
class Outcome:
    world_price: float
    club_price: float
    restricted_price: float              # price inside an export-controlling region (nan: none)
    sold: np.ndarray                     # t per offer (including government purchases)
    to_gov: np.ndarray                   # t per offer bought by a buffer-stock defence
    offer_price: np.ndarray              # price received per t sold to the market, per offer
    buyer_tonnes: np.ndarray             # t per buyer
    buyer_price: np.ndarray              # price paid per buyer
    bid_filled: float                    # t bought by the stockpile bid
    bid_price: float                     # price the stockpile paid
    importer_bought: float               # t bought ahead by importers
    duties: float                        # price units x t collected on club imports
    club_imports: float                  # t per step into the club from outside (net)
    unmet: float
    consumption: float                   # t delivered to buyers
    defence_bought: float = 0.0          # t a buffer-stock defence bought (at defence_price)
    defence_price: float = 0.0


def clear_single(offers: Offers, *, buyer_scale: np.ndarray, eps: float,
                 price_cap: float | None, last_price: float, merit=None,
                 all_live: bool = False) -> Outcome:
    """`clear_step` when the plan is idle (one world market; no trade measures, buffer-stock
    defence, stockpile bid or importers buying ahead): the same outcome with fewer array
    operations. `merit`: abm.market.merit_order of `offers.ask`, when the caller has it;
    `all_live`: every offer has a positive quantity."""
    o = offers
    n_offers = len(o)
    scale = buyer_scale.sum()
    result = market.clear(o.ask, o.qty, scale, eps, price_cap=price_cap,
                          shortfall_price=last_price, merit=merit, all_live=all_live)
    price = result.price
    if scale > 0:
        buyer_tonnes = max(result.quantity, 0.0) * buyer_scale / scale
    else:
        buyer_tonnes = np.zeros(len(buyer_scale))
    offer_price = np.empty(n_offers)
    offer_price.fill(price)
    buyer_price = np.empty(len(buyer_scale))
    buyer_price.fill(price)
    return Outcome(price, price, float("nan"), result.dispatched, np.zeros(n_offers),
                   offer_price, buyer_tonnes, buyer_price, 0.0, price, 0.0, 0.0, 0.0,
                   result.unmet, float(buyer_tonnes.sum()))


def clear_step(offers: Offers, plan: MarketPlan, *, buyer_scale: np.ndarray,
               buyer_region: np.ndarray, region_club: np.ndarray, eps: float,
               price_cap: float | None, last_price: float) -> Outcome:
    """Clear every market of the step; see the module docstring."""
    o = offers
    n_offers = len(o)
    club_offer = region_club[o.region].copy()
    if plan.rules_of_origin is not None:
        club_offer &= o.club_value >= plan.rules_of_origin - 1e-12
    # market node of each offer and buyer: 0 hub, 1 club (when separate), 2.. restricting regions
    offer_node = np.zeros(n_offers, dtype=int)
    buyer_node = np.zeros(len(buyer_scale), dtype=int)
    node_ids = [HUB]
    if plan.club_separate:
        offer_node[club_offer] = 1
        buyer_node[region_club[buyer_region]] = 1
        node_ids.append(1)
    restricted_regions = list(plan.export_caps)
    for j, region in enumerate(restricted_regions):
        offer_node[o.region == region] = 2 + j
        buyer_node[buyer_region == region] = 2 + j
        node_ids.append(2 + j)

    scale = np.array([buyer_scale[buyer_node == k].sum() for k in node_ids])
    to_gov = np.zeros(n_offers)
    bid_filled, importer_bought, duties, club_imports = 0.0, 0.0, 0.0, 0.0
    # importers buy ahead in the hub (the world outside the restricting region)
    importer_B = plan.importer_demand

    if len(node_ids) == 1:
        if plan.defence is not None:
            result, to_gov, bid_filled = _clear_defended_with_bid(
                o, plan, scale[0], eps, importer_B, price_cap, last_price)
        else:
            result, bid_filled = market.clear_with_bid(
                o.ask, o.qty, scale[0], eps, plan.bid_qty, plan.bid_price, B=importer_B,
                price_cap=price_cap, shortfall_price=last_price)
        # in scarcity every buyer, importers buying ahead included, is served pro rata
        importer_bought = importer_B * _served(result.quantity, scale[0], eps, result.price,
                                               importer_B)
        prices = {HUB: result.price}
        sold = result.dispatched
        node_cons = {HUB: result.quantity - importer_bought}
        unmet = result.unmet
    else:
        # a bid with a reservation price (stockpile, or in linked markets the buffer-stock
        # defence) sits in the club's market when it is separate, else in the hub
        if plan.defence is not None:
            covered, floor, room = plan.defence
            bid_qty, bid_price = min(room, float(o.qty[covered(o)].sum())), floor
        else:
            bid_qty, bid_price = plan.bid_qty, plan.bid_price
        bid_node = 1 if plan.club_separate else HUB
        hub = offer_node == HUB

        def solve(q: float):
            nodes = []
            for k in node_ids[1:]:
                sel = offer_node == k
                is_club = k == 1
                nodes.append(market.Node(
                    o.ask[sel], o.qty[sel], scale[node_ids.index(k)],
                    mip=plan.mip if is_club else 0.0, tariff=plan.tariff if is_club else 0.0,
                    import_cap=plan.import_cap if is_club else np.inf,
                    excess_duty=plan.excess_duty if is_club else None,
                    export_cap=plan.export_caps[restricted_regions[k - 2]] if k >= 2 else np.inf,
                    B=q if k == bid_node else 0.0))
            hub_b = importer_B + (q if bid_node == HUB else 0.0)
            result = market.clear_linked(o.ask[hub], o.qty[hub], scale[0], eps, nodes, B=hub_b,
                                         price_cap=price_cap, shortfall_price=last_price)
            price = result.world_price if bid_node == HUB else result.node_prices[0]
            return result, nodes, hub_b, price

        linked, nodes, hub_B, _ = solve(0.0)
        if bid_qty > 0 and _bid_price_of(linked, bid_node) < bid_price:
            full = solve(bid_qty)
            if full[3] <= bid_price:
                linked, nodes, hub_B, _ = full
            else:
                # the bid sets its market's price: the largest quantity that keeps the price at
                # or below the reservation price (price is monotone in the quantity bid)
                lo, hi = 0.0, bid_qty
                for _ in range(60):
                    mid = 0.5 * (lo + hi)
                    if solve(mid)[3] <= bid_price:
                        lo = mid
                    else:
                        hi = mid
                linked, nodes, hub_B, _ = solve(lo)
        sold = np.zeros(n_offers)
        sold[hub] = linked.world_dispatched
        prices = {HUB: linked.world_price}
        served = _served(linked.world_consumption, scale[0], eps, linked.world_price, hub_B)
        importer_bought = importer_B * served
        bid_filled = 0.0 if bid_node != HUB else (hub_B - importer_B) * served
        node_cons = {HUB: linked.world_consumption - hub_B * served}
        for k, p_k, disp, cons, node in zip(node_ids[1:], linked.node_prices,
                                            linked.node_dispatched, linked.node_consumption,
                                            nodes, strict=True):
            sold[offer_node == k] = disp
            prices[k] = p_k
            share = _served(cons, node.A, eps, p_k, node.B)
            if k == 1:
                bid_filled = node.B * share
            node_cons[k] = cons - node.B * share
        unmet = linked.unmet
        if plan.club_separate:
            club_imports = linked.net_imports[0]
            duties = max(prices[1] - prices[HUB], 0.0) * max(club_imports, 0.0)
        # quota rents of an export control go to the restricting region's exporters
        for j in range(len(restricted_regions)):
            k = 2 + j
            exports = -linked.net_imports[node_ids.index(k) - 1]
            rent = (prices[HUB] - prices[k]) * max(exports, 0.0)
            sel = (offer_node == k) & (sold > 0)
            if rent > 0 and sel.any():
                # booked as a price uplift on the region's sales (see settle_producers)
                prices[("rent", k)] = rent / sold[sel].sum()

    offer_price = np.array([prices[k] for k in offer_node]) if n_offers else np.zeros(0)
    for j in range(len(restricted_regions)):
        uplift = prices.get(("rent", 2 + j))
        if uplift:
            offer_price[offer_node == 2 + j] += uplift
    buyer_price = np.array([prices[k] for k in buyer_node])
    buyer_tonnes = np.zeros(len(buyer_scale))
    for idx, k in enumerate(node_ids):
        members = buyer_node == k
        if scale[idx] > 0:
            buyer_tonnes[members] = max(node_cons[k], 0.0) * buyer_scale[members] / scale[idx]
    world = prices[HUB]
    club = prices[1] if plan.club_separate else world
    restricted = prices[2] if restricted_regions else float("nan")
    if plan.defence is not None and len(node_ids) == 1:
        offer_price = np.full(n_offers, world)
    stock_price = club if plan.club_separate else world
    defence_bought, defence_price = 0.0, 0.0
    if plan.defence is not None:
        if len(node_ids) == 1:     # bought from covered producers at the floor
            defence_bought, defence_price = float(to_gov.sum()), float(plan.defence[1])
        else:                      # linked markets: bought in the market, at most at the floor
            defence_bought, defence_price, bid_filled = bid_filled, stock_price, 0.0
    return Outcome(world, club, restricted, sold, to_gov, offer_price, buyer_tonnes, buyer_price,
                   bid_filled, stock_price, importer_bought, duties, club_imports, unmet,
                   float(buyer_tonnes.sum()), defence_bought, defence_price)


def _clear_defended_with_bid(o: Offers, plan: MarketPlan, A: float, eps: float, importer_B: float,
                             price_cap: float | None, last_price: float):
    """One market with a buffer-stock defence and, possibly, a stockpile's bid (plan.bid_qty
    at reservation price plan.bid_price). Where the market clears at or above the floor with
    the bid, the defence is idle and the bid is filled as in `market.clear_with_bid`. Where the
    defence binds, the price is the floor: a bid willing to pay it buys its quantity there (as
    price-independent demand beside importers'), and one that is not buys only if the defence
    runs out of room and the price falls to its reservation price. Returns (clearing, tonnes
    bought by the defence per offer, tonnes bought by the bid)."""
    covered, floor, room = plan.defence
    kw = {"price_cap": price_cap, "shortfall_price": last_price}
    if plan.bid_qty > 0:
        free, filled = market.clear_with_bid(o.ask, o.qty, A, eps, plan.bid_qty, plan.bid_price,
                                             B=importer_B, **kw)
        if free.price >= floor:
            return free, np.zeros(len(o)), filled
    result, to_gov = market.clear_defended(o.ask, o.qty, covered(o), A, eps, floor, room,
                                           B=importer_B, **kw)
    if plan.bid_qty <= 0 or result.price > plan.bid_price:
        return result, to_gov, 0.0
    with_bid, to_gov_bid = market.clear_defended(o.ask, o.qty, covered(o), A, eps, floor, room,
                                                 B=importer_B + plan.bid_qty, **kw)
    if with_bid.price > plan.bid_price:     # the bid would lift the price above its limit
        return result, to_gov, 0.0
    # in scarcity the bid is served pro rata with everyone else
    filled = plan.bid_qty * _served(with_bid.quantity, A, eps, with_bid.price,
                                    importer_B + plan.bid_qty)
    with_bid.quantity -= filled
    return with_bid, to_gov_bid, filled


def _served(delivered: float, A: float, eps: float, price: float, B: float) -> float:
    """Share of demand served in a market (1 unless supply ran short)."""
    wanted = market.demand_at(A, eps, price, B)
    if wanted <= 0:
        return 1.0
    return float(min(max(delivered / wanted, 0.0), 1.0))


def _bid_price_of(linked, bid_node: int) -> float:
    return linked.world_price if bid_node == HUB else linked.node_prices[0]
