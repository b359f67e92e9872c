"""Offtake agreements: a share of covered producers' output sold forward at a contract price.

Contracted tonnes are delivered before the spot market clears (they are offered at any price
while the contract price covers the producer's cost), and the difference between the contract
price and the market price moves between the offtaker and the producer at settlement. With
take-or-pay the offtaker pays whatever the spot price; without it, it walks away when the spot
price is below the contract price and the tonnes are sold spot. Contracts cover a producer for
`tenor` steps from the later of the policy start and the producer's first output, and they enter
investment decisions: a contracted share earns a known price (bankability).
"""

from __future__ import annotations

import numpy as np

from abm.investment import Protection, discounted_share
from abm.kinds import REFINERY
from abm.policies.base import Policy


class Offtake(Policy):
    name = "offtake"
    in_free_trade = True    # its tranches are sold without a control too

    def __init__(self, cfg):
        super().__init__(cfg.start, cfg.end)
        self.cfg = cfg

    def initialize(self, model) -> None:
        covers = [model.region_index[r] for r in self.cfg.covers]
        if not covers:
            covers = list(np.flatnonzero(model.region_club)) or list(range(len(model.region_names)))
        self.covered_region = np.isin(np.arange(len(model.region_names)), covers)
        club = list(np.flatnonzero(model.region_club)) or covers
        self.government = model.governments.government_for(club, "offtake") if \
            self.cfg.offtaker == "government" else None
        self.first_step: dict[int, int] = {}

    def contract_price(self, unit_cost: np.ndarray, market_price: float) -> np.ndarray:
        cfg = self.cfg
        if cfg.price_formula == "fixed":
            return np.full_like(unit_cost, cfg.price)
        if cfg.price_formula == "collar":
            return np.full_like(unit_cost, np.clip(market_price, cfg.floor, cfg.ceiling))
        return unit_cost * (1.0 + cfg.margin)

    def covered_rows(self, model) -> np.ndarray:
        """Producer rows under contract this step (refineries in covered regions, within tenor)."""
        b, t = model.book, model.t
        if not self.active(t):
            return np.zeros(len(b), dtype=bool)
        for row in np.flatnonzero(b.active & (b.stage == REFINERY) & self.covered_region[b.region]):
            self.first_step.setdefault(int(row), t)
        rows = np.zeros(len(b), dtype=bool)
        for row, first in self.first_step.items():
            rows[row] = b.active[row] and t < first + self.cfg.tenor
        return rows

    def adjust_offers(self, model, offers) -> None:
        # (the step's offers may be made twice, abm.model.MineralMarket.clear_markets: tranches
        # of the first making are not these offers')
        self.__dict__.pop("tranches", None)
        rows = self.covered_rows(model)
        self.rows = rows
        if not rows.any():
            return
        sel = np.flatnonzero((offers.owner == -1) & (offers.refinery >= 0))
        sel = sel[rows[offers.refinery[sel]]]
        if len(sel) == 0:
            return
        cost = offers.ask[sel]
        price = self.contract_price(model.book.unit_cost[offers.refinery[sel]], model.last_price)
        taken = price >= cost
        if not self.cfg.take_or_pay:
            taken &= price <= model.last_price    # offtaker walks away when spot is cheaper
        sel = sel[taken]
        self.contract_price_of = dict(zip(sel.tolist(), price[taken].tolist(), strict=True))
        offers.split(sel, np.full(len(sel), self.cfg.share), np.zeros(len(sel)))
        self.tranches = np.arange(len(offers) - len(sel), len(offers))
        self.tranche_price = price[taken]

    def settle(self, model) -> None:
        if not getattr(self, "rows", np.zeros(0)).any() or not hasattr(self, "tranches"):
            return
        out, mf, o = model.outcome, model.money_per_price_tonne, model.offers
        tonnes = out.sold[self.tranches]
        spot = out.offer_price[self.tranches]
        transfer = (self.tranche_price - spot) * tonnes * mf     # to producers (USD)
        b = model.book
        np.add.at(b.revenue, o.refinery[self.tranches], transfer)
        total = float(transfer.sum())
        if self.government is not None:
            paid = float((self.tranche_price * tonnes).sum() * mf)
            self.government.book("offtake", paid, float(tonnes.sum()))
            self.government.book("offtake_resale", paid - total, float(tonnes.sum()))
            if total >= 0:
                model.acct["gov_payments_to_producers"] += total
            else:
                model.acct["gov_receipts_from_producers"] += -total
        else:
            model.acct["buyer_payments_offtake"] = model.acct.get("buyer_payments_offtake", 0.0) \
                + total
        del self.tranches

    def protection(self, model, developer):
        """A contracted share at a known price for the contract's tenor from first output (within
        the policy's term); without take-or-pay the buyer walks away when spot is lower."""
        if (self.known(model.t) and developer.stage == REFINERY
                and self.covered_region[developer.region]):
            p, inv, spy = developer.project, model.config.investment, model.steps_per_year
            price = float(self.contract_price(np.array([p.unit_cost]), model.expectation.median)[0])
            if price < p.unit_cost:
                return None      # the market carves no contract tranche below the producer's ask
            online = developer.first_output_step(model)
            first = max(online, self.start)
            last = first + self.cfg.tenor if self.end is None else min(first + self.cfg.tenor,
                                                                       self.end)
            weight = discounted_share(inv.hurdle_rate, (first - online) / spy,
                                      (last - online) / spy, inv.project_life)
            collar = self.cfg.price_formula == "collar"
            return Protection(offtake_share=self.cfg.share,
                              offtake_price=self.cfg.floor if collar else price,
                              offtake_ceiling=self.cfg.ceiling if collar else np.nan,
                              offtake_firm=self.cfg.take_or_pay, offtake_weight=weight)
        return None
