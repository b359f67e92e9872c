"""Recording: the model's per-step series in preallocated numpy arrays, handed out as one polars
DataFrame.

`Recorder.record(model)` writes a step (the schedule's last sub-step): prices, quantities,
capacities and the accounts of the conservation checks, and each region's net exports. Without
instruments, mines, recyclers or buyers' inventories nothing reads the series while the model
runs, so the columns that are sums over producers or buyers are deferred: `record` keeps the
step's outputs, and `flush` (called before any read) computes them for many steps at once, with
the same sums in the same order, so the series are identical.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from abm import market
from abm.names import REGION_CAPACITY_PREFIX, SERIES
from abm.stores import held_at_home

# Columns kept beside the public series for accounting checks (conservation of tonnes and money).
# Tonnes: production + gov_sales + private_release = consumption + gov_purchases + private_stocking.
# Money (USD): buyer_payments + gov_purchase_spend
#            = producer_revenue + gov_sales_revenue + private_sales_revenue + duties
#              + routing_cost;
# top-ups and upside payments (gov_payments_to_producers, gov_receipts_from_producers) are transfers
# between governments and producers, booked in the ledger; of the payments, gov_topups are the CFD's
# top-ups (USD), apart from duties (USD collected on club imports) and other payments; exporter_rent
# (USD) is the part of producer_revenue that exporters kept under a price undertaking (an MIP's
# wedge that would otherwise be duty); routing_cost (USD) is what club buyers paid for imports
# routed through a third country to the routers (outside the model), beside the duties;
# shipping_cost (USD) is what trade with separate-market regions paid shippers (abm.regional),
# on the money-out side beside routing_cost.
# Private stockholders ([storage]) book their purchases in private_stocking and buyer_payments,
# their sales in private_release and private_sales_revenue; private_decay (t) is what decayed of
# their stock at the start of the step and private_storage_cost (USD) what they paid for storage
# on the stock they held at its end (both leave the market: to nobody, to storers outside it), so
# over a run stocking - release - decay = their last stock.
# Scrap (market.scrap_trade): scrap_bought <= scrap_collected (t; equal where the scrap price is
# positive), and scrap_receipts = scrap_payments (USD, recyclers paying recyclers).
# Components (component makers, docs/ODD.md 7.18): consumption is components delivered
# (= component_output); production = product_used (t of product the makers bought, sum of
# intensity x output); duties and exporter_rent are the component market's plus the product
# market's (a product MIP or tariff with a club product market, abm.club_product); buyer_payments
# + component_product_payments = component_revenue + producer_revenue + duties (USD: buyers pay
# the makers and the component duty, the makers pay the refiners and the product duty).
ACCOUNTS = ("production", "gov_purchases", "gov_sales", "private_stocking", "private_release",
            "buyer_payments", "producer_revenue", "gov_purchase_spend",
            "gov_payments_to_producers", "gov_receipts_from_producers", "gov_sales_revenue",
            "private_sales_revenue", "duties", "concentrate_output", "concentrate_used",
            "gov_topups", "exporter_rent", "routing_cost", "scrap_collected", "scrap_bought",
            "scrap_receipts", "scrap_payments", "product_used", "component_revenue",
            "component_product_payments", "shipping_cost",
            "private_decay", "private_storage_cost")

# the component stage's columns of a run without component makers (read-only, shared)
NO_COMPONENT_SERIES = MappingProxyType({"component_price": np.nan, "club_component_price": np.nan,
                                        "component_output": 0.0, "club_component_output": 0.0})
NO_COMPONENT_ACCOUNTS = MappingProxyType(dict.fromkeys(
    ("product_used", "component_revenue", "component_product_payments"), 0.0))


class Recorder:
    """Fixed-size arrays, one per column, written by step index.

    The columns are views onto one (steps x columns) table, so a step whose values come in the
    table's column order (*SERIES, *ACCOUNTS) is written as one row. `defer`: the sums over
    producers and buyers wait for `flush` (see the module docstring).
    """

    def __init__(self, steps: int, regions: list[str], *, buyer_region: np.ndarray,
                 buyer_club_rows: np.ndarray, money_per_price_tonne: float, elasticity: float,
                 defer: bool = False, region_prices: list[tuple[int, str]] = ()):
        self.steps = steps
        self.names = (*SERIES, *ACCOUNTS)
        self.table = np.full((steps, len(self.names)), np.nan)
        self.columns: dict[str, np.ndarray] = {
            name: self.table[:, j] for j, name in enumerate(self.names)}
        self.region_names = list(regions)
        self.region_capacity = np.zeros((steps, len(regions)))
        self.filled = 0
        self.buyer_region, self.buyer_club_rows = buyer_region, buyer_club_rows
        self.money_per_price_tonne = money_per_price_tonne
        self.elasticity = elasticity
        # defer the sums over producers and buyers to `flush` when nothing reads the series
        # during the run (one stacked sum for many steps instead of one per step)
        self.defer = defer
        # per deferred step: (t, structure, output by producer, tonnes by buyer, spend by buyer
        # when read during the step, demand scale, price, importers' spend, offtake payments,
        # tonnes by buyer from the market: less what it drew from its own stock and bought back)
        self._pending: list[tuple] = []
        self._net_exports = np.zeros((steps, len(regions)))
        # (region index, column) of each separate market's price (abm.regional.price_columns)
        self.region_prices = list(region_prices)
        self.region_price = np.full((steps, len(self.region_prices)), np.nan)
        self.region_bought = np.zeros((steps, len(self.region_prices)))   # t its buyers bought
        # the club market's price per step (Outcome.club_market_price: club recyclers collect at it)
        self.club_market = np.full(steps, np.nan)

    def write(self, step: int, values: dict[str, float], region_capacity: np.ndarray) -> None:
        """Write one step's values (a dict by column) and capacity by region."""
        if len(values) == len(self.names) and tuple(values) == self.names:
            self.table[step] = tuple(values.values())
        else:
            for key, value in values.items():
                self.columns[key][step] = value
        self.region_capacity[step] = region_capacity
        self.filled = step + 1

    def column(self, name: str) -> np.ndarray:
        if self._pending:
            self.flush()
        if name not in self.columns:                # a separate market's price
            j = [c for _, c in self.region_prices].index(name)
            return self.region_price[: self.filled, j]
        return self.columns[name][: self.filled]

    @property
    def region_net_exports(self) -> np.ndarray:
        """Refinery output minus what buyers bought from the market, less what stockpiles and
        state reserves took into stock (plus what their releases sold), t per step and region."""
        if self._pending:
            self.flush()
        return self._net_exports

    def frame(self, accounts: bool = False):
        import polars as pl

        if self._pending:
            self.flush()
        n = self.filled
        data: dict[str, object] = {"step": np.arange(n, dtype=np.int64)}
        names = (*SERIES, *ACCOUNTS) if accounts else SERIES
        for name in names:
            data[name] = np.ascontiguousarray(self.columns[name][:n])
        for j, region in enumerate(self.region_names):
            data[REGION_CAPACITY_PREFIX + region] = self.region_capacity[:n, j]
        for j, (_, column) in enumerate(self.region_prices):
            data[column] = self.region_price[:n, j]
        frame = pl.DataFrame(data)
        # NaN marks "not applicable" (no floor in force, no concentrate market): store as null.
        return frame.with_columns(pl.col("floor", "concentrate_price", "export_region_price",
                                         "compliant_concentrate_price", "scrap_price",
                                         "scrap_price_home", "club_scrap_price",
                                         "component_price",
                                         "club_component_price").fill_nan(None))

    # ------------------------------------------------------------------------------------------
    # the model's step
    # ------------------------------------------------------------------------------------------
    def record(self, model) -> None:
        """Write step `model.t`'s series and accounts of the model (in the column order)."""
        producers, buyers = model.producers, model.buyers
        b, o, out, mf = producers.book, model.offers, model.outcome, self.money_per_price_tonne
        st = producers.structure()
        ref_out = b.output if st.all_product else np.where(st.is_product, b.output, 0.0)
        importers = out.importer_bought * model.price * mf
        offtake = model.acct["buyer_payments_offtake"]  # contract-price transfers paid by buyers
        if producers.plain:                        # producers' offers only
            private_release = private_revenue = 0.0
        else:
            private = o.owner == -2
            private_release = float(out.sold[private].sum())
            private_revenue = float((out.sold[private] * out.offer_price[private]).sum()) * mf
        values = self.step_values(model, st, out, importers, offtake, private_release,
                                  private_revenue)
        holders = model.stockholders
        storage_spend = 0.0
        if holders is not None:
            # private stockholders: their purchases are stocking paid for like buyers' (in
            # buyer_payments, not consumer_spend), their sales private releases
            values["private_stock"] = holders.stock
            values["storage_unsolved"] = float(holders.held_out)
            values["private_stocking"] += holders.bought
            values["private_release"] += holders.sold
            values["private_sales_revenue"] += holders.step_sales
            values["private_decay"] = holders.lost
            values["private_storage_cost"] = holders.step_storage
            storage_spend = holders.step_spend
        # (the price buyers paid: the component price when they buy components)
        paid = model.component_price if model.components.any else model.price
        # a buyer's draw from its own stock, offered at no ask and bought back, is neither
        # production nor imports: net exports count the tonnes bought from others (rv3 R8)
        market_tonnes = (out.buyer_tonnes - buyers.sold_draw if buyers.sold_draw.any()
                         else out.buyer_tonnes)
        if self.defer:
            self._pending.append((model.t, st, b.output.copy(), out.buyer_tonnes,
                                  buyers.spent_known, buyers.scale_of(),
                                  paid, importers, offtake, market_tonnes))
        else:
            spend = float(sum(buyers.spent.tolist()))
            production = ref_out.sum()
            recyclers = producers.recyclers
            recycled = float(b.output[recyclers.rows].sum()) if recyclers.any else 0.0
            has_mines = producers.has_mines
            values.update({
                "concentrate_price": model.concentrate_price if has_mines else np.nan,
                "demand": self.demand(buyers, out, paid),
                "production_market": ref_out[st.rows_market].sum(),
                "production_nonmarket": ref_out[st.rows_nonmarket].sum(),
                "club_consumption": out.buyer_tonnes[buyers.club_rows].sum(),
                "club_production": ref_out[st.rows_club].sum(),
                "consumer_spend": spend + importers + offtake,
                "production": production,
                "buyer_payments": spend + importers + offtake + storage_spend,
                "concentrate_output": 0.0 if st.no_mine_rows else float(
                    np.where(st.is_mine, b.output, 0.0).sum()),
                "recycled": recycled,
                "club_recycled": (float(b.output[recyclers.rows[recyclers.club]].sum())
                                  if recyclers.any else 0.0),
                "concentrate_used": ((production - recycled) * producers.intensity
                                     if has_mines else 0.0),
            })
            if buyers.has_inventories:
                change = buyers.stock_change
                values["club_consumption"] = buyers.use[buyers.club_rows].sum()
                values["buyer_stock"] = float(buyers.stock.sum())
                values["private_stocking"] += float(np.maximum(change, 0.0).sum())
                values["private_release"] += float(np.maximum(-change, 0.0).sum())
            regions = len(self.region_names)
            # (a state reserve's or stockpile's purchases stay in its region's store, its
            # releases are no imports: rv3 R9, a reserve's home purchases counted as exports)
            self._net_exports[model.t] = np.bincount(
                b.region, weights=ref_out, minlength=regions) - np.bincount(
                buyers.region, weights=market_tonnes, minlength=regions) - (
                held_at_home(model, out, model.offers) if model.stock_owners else 0.0)
        self.club_market[model.t] = out.club_market_price
        if self.region_prices:
            self.region_price[model.t] = [out.region_prices[r] for r, _ in self.region_prices]
            bought = np.bincount(buyers.region, weights=out.buyer_tonnes,
                                 minlength=len(self.region_names))
            self.region_bought[model.t] = bought[[r for r, _ in self.region_prices]]
        self.write(model.t, values, st.region_capacity)

    def demand(self, buyers, out, price: float) -> float:
        """What buyers demanded at the prices they paid, t (their use, without orders toward
        inventory targets): sum_i share_i A_t P_i^eps; in a step with no supply at all (the
        price a marker), what was served and what went unmet."""
        buyer_price = out.buyer_price
        if out.consumption <= 0 < out.unmet:
            return float(out.unmet)
        if len(buyer_price) == 0 or (buyer_price == price).all():
            return market.demand_at(buyers.scale_of(), self.elasticity, price)
        return float(sum(market.demand_at(a, self.elasticity, p) for a, p in
                         zip(buyers.use_scales().tolist(), buyer_price.tolist(), strict=True)))

    def step_values(self, model, st, out, importers: float, offtake: float,
                    private_release: float, private_revenue: float) -> dict[str, float]:
        """This step's row in the column order. The columns that are sums over producers or
        buyers are NaN here: `record` fills them, or, when recording is deferred, `flush` does
        for many steps at once."""
        nan, mf, acct = np.nan, self.money_per_price_tonne, model.acct
        return {
            "price": model.price,
            "club_price": model.club_price,
            "floor": model.floor_level,
            "concentrate_price": nan,
            "export_region_price": out.restricted_price,
            "club_imports": out.club_imports,
            "demand": nan,
            "consumption": model.buyers.consumption,
            "production_market": nan,
            "production_nonmarket": nan,
            "club_consumption": nan,
            "club_production": nan,
            "government_stock": sum(g.stock for g in model.governments.policy_makers()),
            "state_stock": sum(g.stock for g in model.governments if g.state),
            "fiscal_flow": sum(g.step_outlay for g in model.governments.policy_makers()),
            "unmet_demand": model.unmet,
            "consumer_spend": nan,
            "capacity_market": st.capacity_market,
            "capacity_nonmarket": st.capacity_nonmarket,
            "demand_shock": model.buyers.shock,
            "recycled": 0.0,
            "buyer_stock": 0.0,
            "compliant_concentrate_price": model.producers.compliant_price,
            "transshipped": out.transshipped,
            **self.scrap_series(model.recyclers),
            "private_stock": 0.0,
            **self.component_series(model),
            "storage_unsolved": 0.0,
            # accounts for conservation checks (abm.recorder.ACCOUNTS)
            "production": nan,
            "gov_purchases": acct["gov_purchases"],
            "gov_sales": acct["gov_sales"],
            "private_stocking": out.importer_bought,
            "private_release": private_release,
            "buyer_payments": nan,
            "producer_revenue": acct["producer_revenue"] + offtake,
            "gov_purchase_spend": acct["gov_purchase_spend"],
            "gov_payments_to_producers": acct["gov_payments_to_producers"],
            "gov_receipts_from_producers": acct["gov_receipts_from_producers"],
            "gov_sales_revenue": acct["gov_sales_revenue"],
            "private_sales_revenue": private_revenue,
            "duties": (out.duties if not model.components.any
                       else out.duties + model.component_outcome.duties) * mf,
            "concentrate_output": 0.0,
            "concentrate_used": 0.0,
            "gov_topups": acct["gov_topups"],
            "exporter_rent": (out.exporter_rent if not model.components.any
                              else out.exporter_rent + model.component_outcome.exporter_rent) * mf,
            "routing_cost": out.routing_cost * mf,
            **self.scrap_accounts(model.recyclers),
            **self.component_accounts(model.components),
            "shipping_cost": out.shipping_cost * mf,
            "private_decay": 0.0,
            "private_storage_cost": 0.0,
        }

    @staticmethod
    def component_series(model) -> dict[str, float]:
        makers = model.components
        if not makers.any:
            return NO_COMPONENT_SERIES
        return {"component_price": model.component_price,
                "club_component_price": model.club_component_price,
                "component_output": float(makers.output.sum()),
                "club_component_output": float(makers.output[makers.club].sum())}

    @staticmethod
    def component_accounts(makers) -> dict[str, float]:
        if not makers.any:
            return NO_COMPONENT_ACCOUNTS
        return {"product_used": float((makers.intensity * makers.output).sum()),
                "component_revenue": float(makers.revenue.sum()),
                "component_product_payments": float(makers.input_cost.sum())}

    @staticmethod
    def scrap_series(recyclers) -> dict[str, float]:
        o = recyclers.outcome
        if o is None:
            return {"scrap_price": np.nan, "scrap_price_home": np.nan, "club_scrap_price": np.nan,
                    "club_recycled": 0.0, "scrap_withheld": 0.0}
        return {"scrap_price": o.outside_price, "scrap_price_home": o.home_price,
                "club_scrap_price": club_scrap_price(recyclers),
                "club_recycled": 0.0, "scrap_withheld": o.withheld}

    def scrap_accounts(self, recyclers) -> dict[str, float]:
        o, mf = recyclers.outcome, self.money_per_price_tonne
        if o is None:
            return dict.fromkeys(("scrap_collected", "scrap_bought", "scrap_receipts",
                                  "scrap_payments"), 0.0)
        return {"scrap_collected": float(recyclers.collected.sum()),
                "scrap_bought": float(o.bought.sum()),
                "scrap_receipts": float(o.receipts.sum()) * mf,
                "scrap_payments": float((o.price * o.bought).sum()) * mf}

    def flush(self) -> None:
        """Fill the deferred columns of the steps run since the last flush: for each stretch of
        steps with the same producers, the same sums `record` would compute step by step (a
        row sum of a stacked array is the sum of the row; running column sums are the
        sequential sums of np.bincount and of the built-in sum), so the series are identical."""
        pending = self._pending
        if not pending:
            return
        self._pending = []
        cols, eps = self.columns, self.elasticity
        i = 0
        while i < len(pending):
            st = pending[i][1]
            j = i
            while j < len(pending) and pending[j][1] is st:
                j += 1
            group, t0, t1 = pending[i:j], pending[i][0], pending[j - 1][0] + 1
            i = j
            output = np.array([g[2] for g in group])          # (steps, producers)
            tonnes = np.array([g[3] for g in group])          # (steps, buyers)
            price = np.array([g[6] for g in group], dtype=float)
            # what each buyer paid (buyer_spent: tonnes x the one world price x USD per unit)
            spent = tonnes * price[:, None] * self.money_per_price_tonne
            for k, g in enumerate(group):
                if g[4] is not None:      # read (or set) during the step: keep what it was
                    spent[k] = g[4]
            production = output.sum(axis=1)
            cols["production"][t0:t1] = production
            cols["production_market"][t0:t1] = output.take(st.rows_market, axis=1).sum(axis=1)
            cols["production_nonmarket"][t0:t1] = output.take(st.rows_nonmarket,
                                                              axis=1).sum(axis=1)
            cols["club_production"][t0:t1] = output.take(st.rows_club, axis=1).sum(axis=1)
            cols["club_consumption"][t0:t1] = tonnes.take(self.buyer_club_rows,
                                                          axis=1).sum(axis=1)
            # built-in sum over buyers: 0 + spent_0 + spent_1 + ... (Python 3.11)
            spend = np.zeros(len(group))
            for k in range(spent.shape[1]):
                spend = spend + spent[:, k]
            importers = np.array([g[7] for g in group])
            offtake = np.array([g[8] for g in group])
            cols["consumer_spend"][t0:t1] = cols["buyer_payments"][t0:t1] = \
                spend + importers + offtake
            scale = np.array([g[5] for g in group], dtype=float)
            plain = (scale > 0) & (price >= 1e-6) & (scale < 1e200)    # market.demand_at
            demand = np.empty(len(group))
            demand[plain] = scale[plain] * np.power(price[plain], eps) + 0.0
            for k in np.flatnonzero(~plain).tolist():
                demand[k] = market.demand_at(scale[k], eps, price[k])
            # (a step with no supply at all: what went unmet, as `demand`)
            unmet = cols["unmet_demand"][t0:t1]
            none = (tonnes.sum(axis=1) <= 0) & (unmet > 0)
            demand[none] = unmet[none]
            cols["demand"][t0:t1] = demand
            # net exports: np.bincount adds producer by producer, buyer by buyer
            regions = len(self.region_names)
            tonnes = np.array([g[9] for g in group])          # (from the market)
            if output.shape[1] + tonnes.shape[1] <= 256:
                made, bought = np.zeros((len(group), regions)), np.zeros((len(group), regions))
                for k, r in enumerate(st.region.tolist()):
                    made[:, r] += output[:, k]
                for k, r in enumerate(self.buyer_region.tolist()):
                    bought[:, r] += tonnes[:, k]
                self._net_exports[t0:t1] = made - bought
            else:
                for k in range(len(group)):
                    self._net_exports[t0 + k] = np.bincount(
                        st.region, weights=output[k], minlength=regions) - np.bincount(
                        self.buyer_region, weights=tonnes[k], minlength=regions)


def club_scrap_price(recyclers) -> float:
    """What club collectors received this step for a tonne of scrap: club recyclers' receipts
    over the scrap they collected, price units/t (NaN when the club collected none). Under a
    scrap export control they sell at home what stays and abroad what may leave."""
    club = recyclers.club
    tonnes = float(recyclers.collected[club].sum())
    if tonnes <= 0:
        return float("nan")
    return float(recyclers.outcome.receipts[club].sum()) / tonnes
