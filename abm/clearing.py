"""Assemble this step's markets from the model's offers, buyers and the policies' plan, clear them
with the pure functions of abm.market, and report who sold and bought what at which price.

Without trade measures the world is one market. A minimum import price or a tariff separates the
club (club buyers, and offers that qualify for club treatment) from the world hub; an export
control separates the restricting region; a region with `separate_market = true` is a market of
its own, trading with the world hub at its shipping costs (abm.regional). Whatever the structure,
the instruments that act inside the markets are defined once, on top of one function that
clears the step's markets for given offers and a block of demand (`_Markets.solve`:
`abm.market.clear` for one market, `abm.market.clear_linked` for linked ones):

* bids (the stockpile's, an open-market buffer stock's) with reservation prices sit in the
  club's market when it is separate, else in the world market (`_Markets.with_bids`);
* a state reserve's bid (`reserve_bids`: t and a price level) sits in the market of its region
  (the restricting region's own market while it controls exports) and buys, after the other
  bids, the most it can without that market's price rising above its level (`with_reserves`);
* a buffer-stock defence of covered producers (`buy_from = "covered"`) lets covered offers sell
  to the market no lower than the floor and buys what the market does not take at the floor,
  within its room (`_Markets.defended`).

So a trade measure that does not bind changes none of them (tests/test_invariance.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from abm import market

HUB = 0


@dataclass
class ChainPool:
    """What the producers behind chain offers have this step, per producer row, so that a
    clearing can re-pair ore a binding product cap idles with refining elsewhere
    (`clear_step`): asks (after instruments' adjust_asks), refining and ore available (0 for
    other rows), region, club membership and the concentrate intensity."""

    ask: np.ndarray
    ref_avail: np.ndarray
    mine_avail: np.ndarray
    region: np.ndarray
    club: np.ndarray
    intensity: float


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
    feed: np.ndarray | None = None  # bool: fed with compliant concentrate (None: no such offer)
    pool: ChainPool | None = None   # the chain's producers (None: no re-pairing, see clear_step)
    repair_start: int | None = None  # first offer re-paired by clear_step (None: none)

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
        if self.feed is not None:
            self.feed = np.append(self.feed, False)

    def split(self, index: np.ndarray, share: np.ndarray, ask: np.ndarray,
              contract: bool = True) -> None:
        """Carve `share` of offers `index` into new tranches offered at `ask` (offtake-contracted
        ones unless `contract` is false)."""
        carved = self.qty[index] * share
        self.qty[index] -= carved
        for name in ("refinery", "mine", "region", "owner", "club_value", "feed"):
            arr = getattr(self, name)
            if arr is None:
                continue
            setattr(self, name, np.append(arr, arr[index]))
        self.ask = np.append(self.ask, ask)
        self.qty = np.append(self.qty, carved)
        self.contract = np.append(self.contract, np.full(len(index), contract, dtype=bool))

    def __len__(self) -> int:
        return len(self.ask)


@dataclass
class Defence:
    """A buffer-stock floor's request to the clearing (abm.policies.floor.PurchaseFloor).

    `buy_from = "covered"`: the government buys covered offers' output at `floor` (producer
    support): covered offers do not sell to the market below the floor, and what the market does
    not take at the floor the government buys, up to `room` t; the market price may sit below the
    floor (set by uncovered supply). `"any"`: an open-market buffer stock (the tin and rubber
    agreements) bids for up to `room` t at `floor` from whoever offers, paying the market price,
    so the price cannot fall below the floor while its room lasts."""

    covered: Callable[[Offers], np.ndarray]   # mask of covered offers
    floor: float
    room: float                               # t this step
    buy_from: str = "covered"


@dataclass
class NormalBids:
    """The bids instruments acting after the export controls would place this step in normal
    times (without a disruption): a filling stockpile's (`qty` t at reservation price `price`)
    and the state reserves' (`reserves`: region -> (t, level)); the export controls'
    counterfactual clears with them (`MarketPlan.before_controls`)."""

    qty: float = 0.0
    price: float = 0.0
    reserves: dict[int, tuple[float, float]] = field(default_factory=dict)

    @classmethod
    def placed(cls, model) -> NormalBids:
        """The bids the model's instruments would place this step in normal times (each
        policy's `add_normal_bid`)."""
        bids = cls()
        for policy in model.policies:
            policy.add_normal_bid(model, bids)
        return bids


@dataclass
class MarketPlan:
    """What the policies ask of this step's clearing (reset every step)."""

    mip: float = 0.0                     # club minimum import price (0: none)
    tariff: float = 0.0                  # club ad-valorem duty on non-club imports
    import_cap: float = np.inf           # t per step of MIP imports
    # t per step of MIP imports the quota would leave without the export controls (None: as
    # import_cap): the quota an export control's counterfactual clears with (before_controls)
    free_trade_import_cap: float | None = None
    excess_duty: float | None = None     # ad-valorem duty on imports beyond import_cap (None: barred)
    undertaking: bool = False            # MIP under a price undertaking: exporters keep the rent
    rules_of_origin: float | None = None
    transship_cost: float | None = None  # routing through a club-treated third country, per t
    detection_rate: float = 0.0          # share of routed tonnes caught (they pay the duty)
    export_caps: dict[int, float] = field(default_factory=dict)   # region -> t per step
    # region -> t of concentrate per step its mines may ship to other regions' refiners (acts
    # on the offers, abm.agents.withholding, not in the clearing)
    concentrate_caps: dict[int, float] = field(default_factory=dict)
    bid_qty: float = 0.0                 # stockpile bid in the club's market, t
    bid_price: float = 0.0
    defence: Defence | None = None       # a buffer-stock floor
    importer_demand: float = 0.0         # front-running purchases by importers, t
    reserve_bids: dict[int, tuple[float, float]] = field(default_factory=dict)  # region -> (t, level)
    # private stockholders' bids (abm.stockholders): tranches (t, reservation price) in the bid
    # node, each bought at the market price when it clears at or below the tranche's price
    storage_bids: list[tuple[float, float]] = field(default_factory=list)
    # separate-market regions: region -> (shipping cost per t into it, out of it) from the hub
    separate: dict[int, tuple[float, float]] = field(default_factory=dict)

    @property
    def club_separate(self) -> bool:
        return self.mip > 0 or self.tariff > 0

    def before_controls(self, separate: dict[int, tuple[float, float]],
                        bids: NormalBids | None = None) -> MarketPlan | None:
        """This plan as the instruments acting before the export controls set it
        (abm.policies.base.Policy.phase 0): the club's border measures (a tariff, a minimum
        import price with its volume cap and excess duty, an undertaking, rules of origin,
        transshipment) and a buffer-stock floor's defence, with the separate markets
        `separate`; without export caps and importers buying ahead (the controls' own
        requests) and without the bids of the instruments acting after them (a stockpile's, a
        state reserve's, stockholders'); a MIP's volume cap with the quota the year's imports
        would have left without the controls (`free_trade_import_cap`: tonnes a cap kept out
        earlier in the year are no quota carried over in a world without it). With `bids`
        (`NormalBids`), the bids a stockpile that is filling and a state reserve would place
        in normal times (they act after the controls, but the counterfactual is the market
        without the controls, which has their bids: rv3 R4, R9). The market an export
        control's counterfactual clears in (abm.policies.trade.ExportControl.measured_plan),
        at both stages; None without border measures, a defence, such bids or separate
        markets (one world market). With separate markets alone it is their linked free
        trade, cleared on the same path as the step (review rv3 R2: a concentrate control's
        counterfactual pooled them into one world market without their shipping costs and
        overstated what the cap withheld 3.8 times)."""
        has_bids = bids is not None and (bids.qty > 0 or bool(bids.reserves))
        if (not self.club_separate and self.defence is None and not separate
                and not has_bids):
            return None
        quota = self.import_cap if self.free_trade_import_cap is None else self.free_trade_import_cap
        plan = MarketPlan(mip=self.mip, tariff=self.tariff, import_cap=quota,
                          excess_duty=self.excess_duty, undertaking=self.undertaking,
                          rules_of_origin=self.rules_of_origin,
                          transship_cost=self.transship_cost,
                          detection_rate=self.detection_rate, defence=self.defence,
                          separate=dict(separate))
        if has_bids:
            plan.bid_qty, plan.bid_price = bids.qty, bids.price
            plan.reserve_bids = dict(bids.reserves)
        return plan

    @property
    def idle(self) -> bool:
        """Nothing for the clearing to do beyond one world market (see `clear_single`)."""
        # (rules of origin decide which offers count as the club's in club_imports)
        return (self.defence is None and not self.export_caps and self.bid_qty <= 0
                and self.importer_demand == 0 and not self.club_separate
                and self.rules_of_origin is None and not self.reserve_bids
                and not self.storage_bids and not self.separate)


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
    exporter_rent: float = 0.0           # price units x t kept by exporters under an undertaking
    transshipped: float = 0.0            # t of club imports routed through a third country
    routing_cost: float = 0.0            # price units x t paid for that routing
    reserve_bought: dict[int, tuple[float, float]] = field(default_factory=dict)  # region -> (t, price)
    storage_bought: float = 0.0          # t private stockholders' bids bought (at bid_price)
    region_prices: dict[int, float] = field(default_factory=dict)  # separate-market region -> price
    shipping_cost: float = 0.0           # price units x t paid for shipping to and from them
    # the price in the club's market, which club producers outside separate markets are paid
    # (None: club_price; it differs when club_price is club buyers' mean over separate markets)
    club_sale_price: float | None = None
    # export-controlling region -> the price in its market
    restricted_prices: dict[int, float] = field(default_factory=dict)
    # the price of the market each offer sold in, per offer, before the rents booked on
    # offer_price (an export quota's, an undertaking's): what a marginal tonne fetches, which
    # the refining's netback for ore is read at (None: offer_price; review rv12 F1)
    market_price: np.ndarray | None = None

    @property
    def marginal_price(self) -> np.ndarray:
        """The price a marginal tonne of each offer fetches (market_price, else offer_price)."""
        return self.offer_price if self.market_price is None else self.market_price

    @property
    def club_market_price(self) -> float:
        """The price of the club's market (the world's without a club border): what club
        producers and recyclers outside separate markets sell at."""
        return self.club_price if self.club_sale_price is None else self.club_sale_price

    def market_prices(self, region_club: np.ndarray) -> np.ndarray:
        """The price of the market each region sells in, per region: its separate market's,
        else the club market's for a club region, else the world's."""
        price = np.where(region_club, self.club_market_price, self.world_price)
        for r, p in self.region_prices.items():
            price[r] = p
        return price


def clear_single(offers: Offers, *, buyer_scale: np.ndarray, eps: float,
                 price_cap: float | None, last_price: float, merit=None,
                 all_live: bool = False, region_club: np.ndarray | None = None,
                 buyer_club_rows: np.ndarray | None = None) -> Outcome:
    """`clear_step` when the plan is idle (one world market; no trade measures, buffer-stock
    defence, stockpile bid or importers buying ahead): the same outcome with fewer array
    operations. `merit`: abm.market.merit_order of `offers.ask`, when the caller has it;
    `all_live`: every offer has a positive quantity. `region_club` and `buyer_club_rows` (club
    buyers) give the club's net imports."""
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
    club_imports = 0.0
    if region_club is not None and buyer_club_rows is not None and region_club.any():
        club_imports = float(buyer_tonnes[buyer_club_rows].sum()
                             - result.dispatched[region_club[o.region]].sum())
    return Outcome(price, price, float("nan"), result.dispatched, np.zeros(n_offers),
                   offer_price, buyer_tonnes, buyer_price, 0.0, price, 0.0, 0.0, club_imports,
                   result.unmet, float(buyer_tonnes.sum()))


@dataclass
class _Solved:
    """The step's markets cleared once (`_Markets.solve`), by market node."""

    prices: dict            # node -> price
    sold: np.ndarray        # t per offer sold to the market
    cons: dict              # node -> t delivered in the node (buyers and block demand)
    block: dict             # node -> block demand B in the node (importers, bids), t
    unmet: float
    net_imports: dict       # node (not the hub) -> t imported from the hub (negative: exports)


class _Markets:
    """This step's market structure: the node of every offer and buyer (0 the world hub, 1 the
    club when separate, 2.. restricting regions, then separate-market regions), and the
    clearing of all of them."""

    def __init__(self, offers: Offers, plan: MarketPlan, buyer_scale: np.ndarray,
                 buyer_region: np.ndarray, region_club: np.ndarray, eps: float,
                 price_cap: float | None, last_price: float):
        o = offers
        self.offers, self.plan, self.eps = o, plan, eps
        self.price_cap, self.last_price = price_cap, last_price
        n_offers = len(o)
        club_offer = region_club[o.region].copy()
        if plan.rules_of_origin is not None:
            club_offer &= o.club_value >= plan.rules_of_origin - 1e-12
        self.club_offer = club_offer
        self.club_buyer = region_club[buyer_region]
        self.has_club = bool(region_club.any())
        offer_node = np.zeros(n_offers, dtype=int)
        buyer_node = np.zeros(len(buyer_scale), dtype=int)
        node_ids = [HUB]
        if plan.club_separate:
            offer_node[club_offer] = 1
            buyer_node[self.club_buyer] = 1
            node_ids.append(1)
        self.restricted_regions = list(plan.export_caps)
        for j, region in enumerate(self.restricted_regions):
            offer_node[o.region == region] = 2 + j
            buyer_node[buyer_region == region] = 2 + j
            node_ids.append(2 + j)
        # region -> node of the regions that are markets of their own (a separate market that
        # restricts its exports is one node with both)
        self.region_node = {r: 2 + j for j, r in enumerate(self.restricted_regions)}
        for region in sorted(plan.separate):
            if region not in self.region_node:
                k = len(node_ids) + (0 if plan.club_separate else 1)
                offer_node[o.region == region] = k
                buyer_node[buyer_region == region] = k
                node_ids.append(k)
                self.region_node[region] = k
        self.node_costs = {self.region_node[r]: c for r, c in plan.separate.items()}
        self.offer_node, self.buyer_node, self.node_ids = offer_node, buyer_node, node_ids
        self.masks = {k: offer_node == k for k in node_ids}
        self.scale = {k: float(buyer_scale[buyer_node == k].sum()) for k in node_ids}
        self.linked = len(node_ids) > 1
        # bids with a reservation price sit in the club's market when it is separate
        self.bid_node = 1 if plan.club_separate else HUB
        # a state reserve buys in its region's market: its own while it restricts exports
        self.reserve_node = {
            r: self.region_node[r] if r in self.region_node
            else (1 if plan.club_separate and region_club[r] else HUB)
            for r in plan.reserve_bids}
        # t the reserves' bids take in each node (set by `with_reserves`)
        self.reserve_block = {k: 0.0 for k in node_ids}

    def routes(self, p_w: float) -> bool:
        """Club imports come routed through a third country at world price `p_w`."""
        plan = self.plan
        if not plan.club_separate or plan.transship_cost is None or (plan.undertaking
                                                                      and plan.mip > 0):
            return False
        border = market.Node(np.zeros(0), np.zeros(0), 0.0, mip=plan.mip, tariff=plan.tariff,
                             route_cost=plan.transship_cost, detection=plan.detection_rate)
        return border.routes(p_w)

    # -- one clearing ------------------------------------------------------------------------
    def solve(self, asks: np.ndarray, qty: np.ndarray, bid: float) -> _Solved:
        """Clear every market with offers (`asks`, `qty`) and `bid` t of price-independent
        demand in the bid node (beside importers' purchases in the hub)."""
        plan, eps = self.plan, self.eps
        importers = plan.importer_demand + self.reserve_block[HUB]
        if not self.linked:
            r = market.clear(asks, qty, self.scale[HUB], eps, B=importers + bid,
                             price_cap=self.price_cap, shortfall_price=self.last_price)
            return _Solved({HUB: r.price}, r.dispatched, {HUB: r.quantity},
                           {HUB: importers + bid}, r.unmet, {})
        nodes = []
        for k in self.node_ids[1:]:
            sel = self.masks[k]
            is_club = k == 1
            nodes.append(market.Node(
                asks[sel], qty[sel], self.scale[k],
                mip=plan.mip if is_club else 0.0, tariff=plan.tariff if is_club else 0.0,
                import_cap=plan.import_cap if is_club else np.inf,
                excess_duty=plan.excess_duty if is_club else None,
                # (under a price undertaking exporters keep the wedge: nothing to evade)
                route_cost=(plan.transship_cost if is_club and not (plan.undertaking
                                                                     and plan.mip > 0) else None),
                detection=plan.detection_rate if is_club else 0.0,
                export_cap=(plan.export_caps[self.restricted_regions[k - 2]]
                            if 2 <= k < 2 + len(self.restricted_regions) else np.inf),
                B=(bid if k == self.bid_node else 0.0) + self.reserve_block[k],
                cost_in=self.node_costs.get(k, (0.0, 0.0))[0],
                cost_out=self.node_costs.get(k, (0.0, 0.0))[1]))
        hub_b = importers + (bid if self.bid_node == HUB else 0.0)
        hub = self.masks[HUB]
        r = market.clear_linked(asks[hub], qty[hub], self.scale[HUB], eps, nodes, B=hub_b,
                                price_cap=self.price_cap, shortfall_price=self.last_price)
        sold = np.zeros(len(qty))
        sold[hub] = r.world_dispatched
        prices, cons, block, imports = {HUB: r.world_price}, {HUB: r.world_consumption}, \
            {HUB: hub_b}, {}
        for k, p_k, disp, c_k, m, node in zip(self.node_ids[1:], r.node_prices,
                                              r.node_dispatched, r.node_consumption,
                                              r.net_imports, nodes, strict=True):
            sold[self.masks[k]] = disp
            prices[k], cons[k], block[k], imports[k] = p_k, c_k, node.B, m
        return _Solved(prices, sold, cons, block, r.unmet, imports)

    def unrationed(self, s: _Solved) -> bool:
        """The bid node's buyers are served in full: bids (a stockpile, a buffer stock) buy only
        what buyers leave, never a share of supply rationed at a price cap."""
        return self.served(s, self.bid_node) >= 1.0 - 1e-9    # (rounding of linked sums)

    def served(self, s: _Solved, k: int) -> float:
        """Share of demand served in node `k` (1 unless supply ran short)."""
        return _served(s.cons[k], self.scale[k], self.eps, s.prices[k], s.block[k])

    # -- bids ----------------------------------------------------------------------------------
    def with_bids(self, asks: np.ndarray, qty: np.ndarray,
                  bids: list[tuple[float, float]]) -> tuple[_Solved, list[float]]:
        """Clear with bids (t, reservation price) in the bid node. A bid is filled in full when
        its market clears at or below its reservation price with it, sets the price at its
        reservation price (taking what is left at that price) when the market clears at or
        below it without it, else is priced out; bids willing to pay more are served first.
        Bids buy only what buyers leave: where buyers are rationed (at a price cap, or with no
        supply) they get nothing. Returns the clearing and the tonnes each bid got."""
        cap = self.price_cap
        bids = [(q, min(r, cap) if cap is not None else r) for q, r in bids]
        # a price through a wedge of rounding size (an MIP level x (1 + 1e-12)) is at the bid's
        # reservation price, not above it (tests/test_invariance.py: linked equals single)
        near = 1.0 + market.SNAP_REL
        fills = [0.0] * len(bids)
        active = sorted((i for i, (q, _) in enumerate(bids) if q > 0),
                        key=lambda i: -bids[i][1])
        s = self.solve(asks, qty, sum(bids[i][0] for i in active))
        while active:
            low = bids[active[-1]][1]
            if s.prices[self.bid_node] <= low * near and self.unrationed(s):
                for i in active:
                    fills[i] = bids[i][0]
                return s, fills
            lowest = [i for i in active if bids[i][1] == low]
            active = [i for i in active if bids[i][1] != low]
            rest = sum(bids[i][0] for i in active)
            s0 = self.solve(asks, qty, rest)
            if s0.prices[self.bid_node] <= low * near and self.unrationed(s0):
                # the lowest bids set their market's price at their reservation price
                wanted = sum(bids[i][0] for i in lowest)
                s, got = self.bid_sets_price(asks, qty, rest, wanted, low, s0)
                for i in active:
                    fills[i] = bids[i][0]
                for i in lowest:
                    fills[i] = got * bids[i][0] / wanted
                return s, fills
            s = s0
        return s, fills

    def bid_sets_price(self, asks: np.ndarray, qty: np.ndarray, rest: float, wanted: float,
                       price: float, without: _Solved) -> tuple[_Solved, float]:
        """The clearing in which bids for `wanted` t hold their market at `price` (beside `rest`
        t of bids filled in full), and the tonnes they get: in one market exactly (supply at
        `price` less demand there), in linked markets the largest quantity that keeps the
        price at or below `price` (the price is monotone in the quantity bid)."""
        if not self.linked:
            live = qty > 0
            supply_at = float(qty[live & (asks <= price)].sum())
            blocks = self.plan.importer_demand + self.reserve_block[HUB] + rest
            elastic = market.demand_at(self.scale[HUB], self.eps, price, blocks)
            if supply_at < elastic:          # only under a binding price cap
                return without, 0.0
            got = float(np.clip(supply_at - elastic, 0.0, wanted))
            sold = elastic + got
            dispatched = market._dispatch(asks, qty, live, price, sold)
            return _Solved({HUB: float(price)}, dispatched, {HUB: sold},
                           {HUB: blocks + got}, 0.0, {}), got
        lo, hi = 0.0, wanted
        best = without
        # the price the bids may not push their market above: their reservation price, or the
        # price without them where that is a hair above it (an MIP level through a wedge of
        # rounding size: the bids then take what is there at that price, no more)
        bound = max(price, without.prices[self.bid_node])
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            trial = self.solve(asks, qty, rest + mid)
            if trial.prices[self.bid_node] <= bound and \
                    self.unrationed(trial):
                lo, best = mid, trial
            else:
                hi = mid
            if hi - lo <= 1e-15 * wanted:
                break
        return best, lo

    def with_reserves(self, asks: np.ndarray, qty: np.ndarray, bid: float,
                      s: _Solved) -> tuple[_Solved, dict[int, float]]:
        """State reserves' bids, after the other bids (`bid` t of them in the bid node, `s` the
        clearing with them): each takes, in its region's node, the most of its tonnes that keeps
        that node's price at or below its level with its buyers served (all of them when the
        price stays below it, none when it is already at or above it; in between by bisection,
        the price monotone in the tonnes), and no other node's buyers and bids served less than
        without it: linked to a separate market, its purchases may draw exports away from a
        market at the price cap, whose buyers (and the bids already filled there) would go
        short of what it takes (issue 15a). Returns the clearing and the tonnes each got."""
        got = {}
        for r, (wanted, level) in self.plan.reserve_bids.items():
            k = self.reserve_node[r]
            got[r] = 0.0
            if wanted <= 0 or s.prices[k] >= level:
                continue
            # (each other node's share served without this reserve's bid)
            before = {j: self.served(s, j) for j in self.node_ids if j != k}

            def trial(t: float, k: int = k) -> _Solved:
                self.reserve_block[k] += t
                try:
                    return self.solve(asks, qty, bid)
                finally:
                    self.reserve_block[k] -= t

            def holds(x: _Solved, k: int = k, level: float = level,
                      before: dict = before) -> bool:
                return x.prices[k] <= level * (1.0 + market.SNAP_REL) and self.served(x, k) \
                    >= 1.0 - 1e-9 and all(self.served(x, j) >= min(share, 1.0) - 1e-9
                                          for j, share in before.items())

            full = trial(wanted)
            if holds(full):
                lo, best = wanted, full
            else:
                lo, hi, best = 0.0, wanted, s
                for _ in range(60):
                    mid = 0.5 * (lo + hi)
                    x = trial(mid)
                    if holds(x):
                        lo, best = mid, x
                    else:
                        hi = mid
                    if hi - lo <= 1e-12 * wanted:
                        break
            self.reserve_block[k] += lo
            got[r], s = lo, best
        return s, got

    # -- a buffer-stock defence of covered producers -------------------------------------------
    def defended(self, asks: np.ndarray, qty: np.ndarray, bids: list[tuple[float, float]],
                 defence: Defence) -> tuple[_Solved, list[float], np.ndarray]:
        """Covered offers (ask at most the floor) sell to the market no lower than the floor,
        and the government buys at the floor what the market does not take, within its room;
        when the room does not reach, it buys its room pro rata from the covered offers and the
        rest is sold at the market price. Returns the clearing (sold includes the government's
        purchases), the bids' tonnes and the tonnes bought per offer."""
        floor, room = defence.floor, defence.room
        free, fills = self.with_bids(asks, qty, bids)
        cov = defence.covered(self.offers) & (asks <= floor) & (qty > 0)
        s_cov = float(qty[cov].sum())
        none = np.zeros(len(qty))
        if room <= 0 or s_cov <= 0 or all(free.prices[k] >= floor
                                          for k in np.unique(self.offer_node[cov]).tolist()):
            return free, fills, none
        lifted = np.where(cov, floor, asks)
        held, fills = self.with_bids(lifted, qty, bids)
        left = np.where(cov, np.maximum(qty - held.sold, 0.0), 0.0)
        if float(left.sum()) <= room:
            held.sold = held.sold + left
            return held, fills, left
        share = room / s_cov
        to_gov = np.where(cov, qty * share, 0.0)
        partial, fills = self.with_bids(asks, np.where(cov, qty - to_gov, qty), bids)
        partial.sold = partial.sold + to_gov
        return partial, fills, to_gov


def clear_step(offers: Offers, plan: MarketPlan, *, buyer_scale: np.ndarray,
               buyer_region: np.ndarray, region_club: np.ndarray, eps: float,
               price_cap: float | None, last_price: float) -> Outcome:
    """Clear every market of the step; see the module docstring.

    Chain offers (`offers.pool`) under a binding product export cap: the cap idles the
    restricting region's refining (its market's price falls below the world's), and the
    unsold part of its chain segments releases the ore paired with it, which the product cap
    does not keep at home. That ore, with any the chain left unpaired, is re-paired
    (abm.market.chain_curve) with the refining outside the binding caps' regions the chain
    left without ore, and the step is cleared again with those segments (the idled segments
    cut to what they sold): ore no longer goes unmined beside idle refining whose chain ask is
    below the price. If the re-paired supply would make a cap slack, only the largest share of
    it that keeps every cap binding is offered (the capped region's own segments would want
    their ore back beyond it). The offers are changed in place (re-paired segments appended
    from `offers.repair_start`), so that they match the outcome's `sold`."""
    kw = dict(buyer_scale=buyer_scale, buyer_region=buyer_region, region_club=region_club,
              eps=eps, price_cap=price_cap, last_price=last_price)
    out = _clear_step(offers, plan, **kw)
    if offers.pool is None or not plan.export_caps or offers.repair_start is not None:
        return out
    return _repaired(offers, plan, out, kw)


def _binding(out: Outcome, regions, before: Outcome) -> bool:
    """Every export cap of `regions` still binds in `out`, a clearing with re-paired supply:
    its market's price is below the world's. Its market's price is the one before the re-pair
    (`before`) where `out`'s is higher: the re-pair takes only ore the region's market left
    unsold, so its market is the same, but with its unsold segments cut away a region without
    buyers of its own has no price of its own in `out` (review rv9 G5: it read the world's, so
    no re-pair was ever kept and a 50% cut gave 201.59 instead of 42.08)."""
    return all(min(out.restricted_prices[r], before.restricted_prices[r])
               < out.world_price * (1 - 1e-9) for r in regions)


def _repaired(offers: Offers, plan: MarketPlan, out: Outcome, kw: dict) -> Outcome:
    """`clear_step` with the ore a binding product cap idles re-paired (see there); `out`
    when nothing re-paired can sell.

    When the re-pair runs out of ore while the refining outside still has room, the ore the
    capped region's own refining holds is contested too: a product cap keeps no ore at home,
    so its mines sell to whichever refining nets more for it. A share `f` of those segments'
    tonnes (from the dearest first, `market.released_from_top`) is released with their
    unsold part, the largest (by bisection) at which the
    re-paired refining still nets more per tonne (its market's price less its refining ask)
    than the capped region's marginal refining does at home (its market's price less the
    dearest sold refining ask), the re-pair stays ore-limited and every cap binds: the
    netbacks meet there, as one concentrate price would make them. Before, the capped
    region's refining kept its ore at cost, and with a 60 t/yr mine and a ban its users paid
    15 while the users outside paid 31,493 on the 5.49 t/yr left over, instead of both
    paying about 110 on half each."""
    binding = [r for r in plan.export_caps if r in out.restricted_prices
               and out.restricted_prices[r] < out.world_price * (1 - 1e-9)]
    if not binding:
        return out
    o = offers
    seg = np.flatnonzero((o.mine >= 0) & (o.refinery >= 0) & (o.owner == -1))
    idled = np.isin(o.region[seg], binding)
    unsold = np.where(idled, np.maximum(o.qty[seg] - out.sold[seg], 0.0), 0.0)
    # (ore under a concentrate cap is not contested: its licences went to the chain's cheaper
    # pairs, and the controls' counterfactuals, which set the buyers' draws, share them so)
    licensed = np.isin(o.pool.region[o.mine[seg]], list(plan.concentrate_caps))
    held = np.where(idled & ~licensed, np.minimum(out.sold[seg], o.qty[seg]), 0.0)
    tried = _re_pair(o, plan, out, kw, binding, seg, unsold) if (unsold > 0).any() else None
    if held.sum() > 0 and (tried is None or tried.contestable):
        def nets_more(f: float) -> _RePair | None:
            freed = unsold + market.released_from_top(held, o.ask[seg], o.region[seg], f)
            r = _re_pair(o, plan, out, kw, binding, seg, freed, whole=True)
            return r if r is not None and r.contestable and r.nets_more(binding, seg) else None
        # (the netback gap closes as f rises: none at a small share, none at any)
        best = market.largest_accepted(nets_more)
        if best is not None:
            tried = best
    if tried is None:
        return out
    for name in ("ask", "qty", "refinery", "mine", "region", "owner", "contract",
                 "club_value", "feed", "repair_start"):
        setattr(o, name, getattr(tried.offers, name))
    return tried.outcome


@dataclass
class _RePair:
    """A clearing with re-paired segments (`_re_pair`): the offers with them appended from
    `offers.repair_start`, its outcome, and whether the re-pair ran out of ore while the
    refining outside had room, with every re-paired segment offered in full
    (`contestable`: more ore would have been re-paired)."""
    offers: Offers
    outcome: Outcome
    contestable: bool

    def nets_more(self, binding, seg: np.ndarray) -> bool:
        """The re-paired refining's marginal netback (its market's price less its refining
        ask, per t of product) is above every capped region's marginal home netback."""
        o, y, pool = self.offers, self.outcome, self.offers.pool
        j = o.repair_start
        sold = y.sold[j:] > 1e-12 * max(float(o.qty[j:].sum()), 1e-300)
        if not sold.any():
            return False
        out_net = float((y.marginal_price[j:][sold] - pool.ask[o.refinery[j:][sold]]).min())
        for r in binding:
            own = seg[o.region[seg] == r]
            ask = market.marginal_ask(pool.ask[o.refinery[own]], y.sold[own] > 1e-12)
            home_net = y.restricted_prices.get(r, y.world_price) - ask
            if not out_net > home_net + 1e-9 * max(abs(home_net), 1.0):
                return False
        return True


def _re_pair(o: Offers, plan: MarketPlan, out: Outcome, kw: dict, binding, seg: np.ndarray,
             freed: np.ndarray, whole: bool = False) -> _RePair | None:
    """The step cleared again with the ore of `freed` t of product of the chain segments
    `seg` (offer rows) re-paired with the refining outside the `binding` caps' regions;
    None when nothing re-paired can sell. If the re-paired supply would make a cap slack,
    only the largest share of it that keeps every cap binding is offered (found by
    bisection), unless `whole` (then None: the caller wants the whole re-pair or nothing)."""
    pool = o.pool
    k = pool.intensity
    ref_open = (pool.ref_avail > 0) & ~np.isin(pool.region, binding)
    ref_free, ore_free = market.repair_pool(o.refinery[seg], o.mine[seg], o.qty[seg], freed,
                                            pool.ref_avail, ref_open, pool.mine_avail, k)
    if plan.concentrate_caps:
        # (ore under a concentrate cap is re-paired only within the licences it leaves unused;
        # what the segments ship abroad is what they keep)
        ore_free = market.licensed_ore(ore_free, pool.region, o.mine[seg], o.region[seg],
                                       np.minimum(out.sold[seg], o.qty[seg] - freed), k,
                                       plan.concentrate_caps)
    tol = 1e-12 * max(float(o.qty[seg].sum()), 1e-300)
    rr, mr = np.flatnonzero(ref_free > tol), np.flatnonzero(ore_free > tol * k)
    if not len(rr) or not len(mr):
        return None
    curve = market.chain_curve(pool.ask[rr], ref_free[rr], pool.ask[mr], ore_free[mr], k)
    top = max([out.world_price, out.club_market_price, *out.region_prices.values()])
    live = curve.asks < top * (1 - 1e-12)
    if not live.any():
        return None
    ref_rows, mine_rows = rr[curve.refinery[live]], mr[curve.mine[live]]
    asks, qty = curve.asks[live], curve.quantity[live]
    # ore-limited: every tonne of free ore that could be refined below the price is paired
    # (ore too dear for the cheapest free refining is no limit), and live refining is left
    usable = pool.ask[rr].min() + k * pool.ask[mr] < top * (1 - 1e-12)
    ore_short = (float(ore_free[mr][usable].sum()) - float(qty.sum()) * k <= 1e3 * tol * k
                 and float(ref_free[np.unique(ref_rows)].sum()) > float(qty.sum()) + 1e3 * tol)
    from abm.agents.sourcing import club_value
    value = club_value(pool.club, ref_rows, mine_rows, asks, pool.ask[mine_rows], k)
    start, n = len(o), len(asks)
    base_qty = o.qty.copy()
    base_qty[seg] = o.qty[seg] - freed

    def offered(share: float) -> Offers:
        return Offers(np.concatenate([o.ask, asks]),
                      np.concatenate([base_qty, qty * share]),
                      np.concatenate([o.refinery, ref_rows]),
                      np.concatenate([o.mine, mine_rows]),
                      np.concatenate([o.region, pool.region[ref_rows]]),
                      np.concatenate([o.owner, np.full(n, -1)]),
                      np.concatenate([o.contract, np.zeros(n, dtype=bool)]),
                      np.concatenate([o.club_value, value]),
                      None if o.feed is None else np.concatenate([o.feed,
                                                                  np.zeros(n, dtype=bool)]),
                      pool, start)

    trial = offered(1.0)
    again = _clear_step(trial, plan, **kw)
    if _binding(again, binding, out):
        return _RePair(trial, again, ore_short)
    if whole:
        return None
    # the largest share of the re-paired supply that keeps every cap binding (the price
    # outside falls with it, so the share is found by bisection)

    def keeps_binding(share: float) -> _RePair | None:
        x = offered(share)
        y = _clear_step(x, plan, **kw)
        return _RePair(x, y, False) if _binding(y, binding, out) else None
    return market.largest_accepted(keeps_binding, lo=1e-12, tol=1e-12)


def _clear_step(offers: Offers, plan: MarketPlan, *, buyer_scale: np.ndarray,
                buyer_region: np.ndarray, region_club: np.ndarray, eps: float,
                price_cap: float | None, last_price: float) -> Outcome:
    """Clear every market of the step for the offers as they are (`clear_step`)."""
    o = offers
    n_offers = len(o)
    m = _Markets(o, plan, buyer_scale, buyer_region, region_club, eps, price_cap, last_price)
    asks, qty = np.asarray(o.ask, dtype=float), np.asarray(o.qty, dtype=float)
    # the bids in the bid node: the stockpile's, and an open-market buffer stock's
    bids = [(plan.bid_qty, plan.bid_price)]
    defence = plan.defence
    if defence is not None and defence.buy_from == "any":
        bids.append((min(defence.room, float(qty[qty > 0].sum())), defence.floor))
    first_storage = len(bids)           # stockholders' tranches come last in the list
    bids += plan.storage_bids
    # state reserves bid after the club's instruments, unless a reserve bids more than a club
    # bid (bids willing to pay more are served first: the club's bids then see the price with
    # its purchases); beside a buffer-stock defence of covered producers only after it and
    # while it does not bind (it bought nothing and every price is above its floor: its
    # clearing is then the plain one), as that defence's clearing is its own
    covered = defence is not None and defence.buy_from == "covered"
    levels = [price for t, price in bids if t > 0]
    reserves_first = bool(plan.reserve_bids) and not covered and bool(levels) and max(
        level for _, level in plan.reserve_bids.values()) > min(levels)
    reserve_fills = {}
    if reserves_first:
        _, reserve_fills = m.with_reserves(asks, qty, 0.0, m.solve(asks, qty, 0.0))
    if covered:
        s, fills, to_gov = m.defended(asks, qty, bids, defence)
    else:
        s, fills = m.with_bids(asks, qty, bids)
        to_gov = np.zeros(n_offers)
    if plan.reserve_bids and not reserves_first and (not covered or (
            float(to_gov.sum()) <= 0 and min(s.prices.values()) > defence.floor)):
        s, reserve_fills = m.with_reserves(asks, qty, float(sum(fills)), s)
    bid_filled = fills[0]
    prices = s.prices
    importer_bought = plan.importer_demand * m.served(s, HUB)
    reserve_bought = {r: (t, s.prices[m.reserve_node[r]]) for r, t in reserve_fills.items()}
    node_cons = {}
    unfilled_blocks = 0.0
    for k in m.node_ids:
        served = m.served(s, k)
        node_cons[k] = s.cons[k] - s.block[k] * served
        unfilled_blocks += s.block[k] * (1.0 - served)
    # unmet demand is buyers' demand not served: a bid's or importers' unfilled tonnes are not
    unmet = max(s.unmet - unfilled_blocks, 0.0) if s.unmet > 0 else 0.0
    world = prices[HUB]
    club = prices[1] if plan.club_separate else world
    restricted = prices[2] if m.restricted_regions else float("nan")
    stock_price = prices[m.bid_node]

    offer_price = np.empty(n_offers)
    for k in m.node_ids:
        offer_price[m.masks[k]] = prices[k]
    market_price = offer_price.copy()
    # quota rents of an export control go to the restricting region's exporters, booked as a
    # price uplift on the region's sales (see Producers.settle)
    for j in range(len(m.restricted_regions)):
        k = 2 + j
        exports = -s.net_imports[k]
        # (the rent is the gap the cap opens beyond shipping: exports fetch world - cost_out)
        rent = (world - m.node_costs.get(k, (0.0, 0.0))[1] - prices[k]) * max(exports, 0.0)
        # (spread over what the region sold to the market: a buffer stock's purchases are paid
        # at the floor, not at the market price plus the uplift)
        to_market = s.sold - to_gov
        sel = m.masks[k] & (to_market > 0)
        if rent > 0 and sel.any():
            offer_price[m.masks[k]] += rent / to_market[sel].sum()
    buyer_price = np.array([prices[k] for k in m.buyer_node])
    buyer_tonnes = np.zeros(len(buyer_scale))
    for k in m.node_ids:
        members = m.buyer_node == k
        if m.scale[k] > 0:
            buyer_tonnes[members] = max(node_cons[k], 0.0) * buyer_scale[members] / m.scale[k]

    defence_bought, defence_price = 0.0, 0.0
    if defence is not None:
        if defence.buy_from == "covered":    # bought from covered producers at the floor
            defence_bought, defence_price = float(to_gov.sum()), float(defence.floor)
        else:                                # bought in the market, at its price
            defence_bought, defence_price = fills[1], stock_price
    duties = exporter_rent = transshipped = routing_cost = 0.0
    if plan.club_separate:
        club_imports = float(s.net_imports[1])
        duties = max(club - world, 0.0) * max(club_imports, 0.0)
        if club_imports > 0 and m.routes(world):
            # every import comes routed; the caught share pays the duty, the routers are paid
            transshipped = club_imports
            routing_cost = plan.transship_cost * club_imports
            duties = max(duties - routing_cost, 0.0)
        if plan.undertaking and plan.mip > 0 and duties > 0:
            exporter_rent = _undertaking_rent(m, s, offer_price, club, world, plan.mip,
                                              club_imports, plan.import_cap)
            duties -= exporter_rent
    elif m.has_club:
        # the club's net imports in one market: what club buyers and the bids that would sit in
        # a separate club market got, less what club offers sold to the market
        bids_in_club = sum(fills) + sum(t for r, t in reserve_fills.items() if region_club[r])
        club_imports = float(buyer_tonnes[m.club_buyer].sum() + bids_in_club
                             - (s.sold - to_gov)[m.club_offer].sum())
    else:
        club_imports = 0.0
    region_prices, shipping = {}, 0.0
    for r in sorted(plan.separate):
        k = m.region_node[r]
        region_prices[r] = prices[k]
        shipping += _shipping(m.node_costs[k], s.net_imports[k])
    club_sale = None
    if plan.separate and not plan.club_separate and any(region_club[r] for r in plan.separate):
        club_sale = club                # (club producers outside separate markets: the world's)
        # club buyers in separate markets pay their markets' prices: the club's price is the
        # mean price club buyers paid, weighted by what they bought
        got = buyer_tonnes[m.club_buyer]
        if got.sum() > 0:
            club = float((buyer_price[m.club_buyer] * got).sum() / got.sum())
    return Outcome(world, club, restricted, s.sold, to_gov, offer_price, buyer_tonnes,
                   buyer_price, bid_filled, stock_price, importer_bought, duties, club_imports,
                   unmet, float(buyer_tonnes.sum()), defence_bought, defence_price,
                   exporter_rent, transshipped, routing_cost, reserve_bought,
                   float(sum(fills[first_storage:])), region_prices, shipping, club_sale,
                   {r: prices[m.region_node[r]] for r in m.restricted_regions}, market_price)


def _shipping(costs: tuple[float, float], net_imports: float) -> float:
    """What a separate market's trade with the hub paid for shipping, price units x t: its
    imports at the cost into it, its exports at the cost out of it."""
    cost_in, cost_out = costs
    return cost_in * max(net_imports, 0.0) + cost_out * max(-net_imports, 0.0)


def _undertaking_rent(m: _Markets, s: _Solved, offer_price: np.ndarray, club: float,
                      world: float, mip: float, imports: float, import_cap: float) -> float:
    """Under a price undertaking exporters sell into the club at the minimum price: the MIP's
    part of the wedge, (MIP - world price) per tonne imported under the undertaking, is theirs
    (a tariff on top of the MIP, the rent of a binding quota and the excess duty on imports
    beyond the quota stay duty; with the club price below the MIP every tonne entered
    duty-paid beyond the quota, so none is under the undertaking). Which world-market
    sellers supplied the club is not identified in one world market, so the rent is shared
    pro rata to what producers selling in the world market sold, as a price uplift on their
    offers (as the quota rent of an export control); with no such sales it stays duty. The
    world market's producers are those in the hub and, in a region restricting its exports
    (a node of its own while its cap is in the clearing), those that would sit in the hub
    without the cap (not the club's): exporters to the world market, whose node is the
    world's while the cap is slack (an export cap that never binds changes no one's rent,
    tests/test_invariance.py), and, while it binds, with the share of their sales the node
    exported. Returns the rent, price units x t."""
    under = min(max(imports, 0.0), import_cap) if club >= mip * (1 - 1e-12) else 0.0
    rent = max(mip - world, 0.0) * under
    # each seller's tonnes that reached the world market: all of a hub seller's; of a
    # restricting region's whose cap binds (its node's price below the world's), the share
    # its node exported, not its home sales behind the cap (review rv6 W3: China's 45 t sold
    # at home behind its cap took two thirds of the rent on 20 t of club imports)
    reach = np.where(m.masks[HUB], 1.0, 0.0)
    for r in m.restricted_regions:
        k = m.region_node[r]
        here = (m.offer_node == k) & ~m.club_offer
        sold = float(s.sold[here].sum())
        exported = max(-s.net_imports.get(k, 0.0), 0.0)
        wedge = s.prices[k] < world * (1 - 1e-9)
        reach[here] = min(exported / sold, 1.0) if wedge and sold > 0 else 1.0
    sellers = (reach > 0) & (m.offers.owner == -1) & (s.sold > 0)
    weight = reach * s.sold
    if rent <= 0 or not sellers.any() or weight[sellers].sum() <= 0:
        return 0.0
    offer_price[sellers] += rent * reach[sellers] / weight[sellers].sum()
    return rent


def _served(delivered: float, A: float, eps: float, price: float, B: float) -> float:
    """Share of demand served in a market (1 unless supply ran short)."""
    wanted = market.demand_at(A, eps, price, B)
    if wanted <= 0:
        return 1.0
    return float(min(max(delivered / wanted, 0.0), 1.0))
