"""Names, units and plain-language labels of the run metrics and the per-step series.

One table used by the recorder, the metrics, the summaries and the pages, so a label or unit is
written once. Units: `price` means the experiment's `market.price_unit`.
"""

from __future__ import annotations

from typing import NamedTuple


class Quantity(NamedTuple):
    label: str        # plain language for policy staff
    unit: str         # "price" = the experiment's price unit
    description: str
    better: str       # "lower", "higher" or "" (no direction): used for wording, not for judgement


METRICS: dict[str, Quantity] = {
    "price_mean": Quantity("Mean price", "price", "Mean world product price over the run", ""),
    "price_volatility": Quantity("Price volatility", "1/yr^0.5", "Annualised standard deviation of "
                                 "per-step log price changes", "lower"),
    "price_p05": Quantity("Price, 5th percentile", "price", "5th percentile of the per-step world "
                          "price", ""),
    "price_p95": Quantity("Price, 95th percentile", "price", "95th percentile of the per-step world "
                          "price", ""),
    "max_drawdown": Quantity("Largest price fall", "share", "Largest fall from a running peak of "
                             "the world price, as a share of the peak", "lower"),
    "share_below_floor": Quantity("Time below the floor", "share", "Share of steps with a floor in "
                                  "force in which the price at the floor's stage, in the market "
                                  "where it acts, was below it (0 without a floor)", ""),
    "capacity_added_market": Quantity("New market-economy capacity", "t/yr", "Refining (product) "
                                      "capacity of market-economy projects online by the end", "higher"),
    "capacity_added_nonmarket": Quantity("New non-market capacity", "t/yr", "Refining (product) "
                                         "capacity added in non-market regions by the end", ""),
    "investment_capex": Quantity("Investment committed", "USD", "Capital cost of all projects "
                                 "started", ""),
    "projects_started": Quantity("Projects started", "projects", "Number of projects started", ""),
    "producer_exits": Quantity("Producer exits", "producers", "Producers that closed for good", ""),
    "market_economy_share": Quantity("Market-economy share of supply", "share", "Share of product "
                                     "supply from market-economy refiners in the last year", "higher"),
    "import_reliance": Quantity("Club import reliance", "share", "Net import reliance of club "
                                "regions for product in the last year (0 = self-sufficient)", "lower"),
    "fiscal_cost": Quantity("Fiscal cost", "USD", "Net government outlay over the run (purchases, "
                            "top-ups, holding costs, less sales, upside receipts and duties)", "lower"),
    "stockpile_final": Quantity("Government stock at the end", "t", "Tonnes held by governments at "
                                "the end", ""),
    "unmet_demand": Quantity("Unmet demand", "t", "Demand not served over the run", "lower"),
    "consumer_spend": Quantity("Consumer spend", "USD", "Money paid by buyers for product over the "
                               "run", "lower"),
    "recycled_share": Quantity("Recycled share of supply", "share", "Share of product supply from "
                               "recyclers in the last year", "higher"),
}

SERIES: dict[str, Quantity] = {
    "price": Quantity("World price", "price", "Product price in the world market", ""),
    "club_price": Quantity("Club price", "price", "Product price paid by club buyers", ""),
    "floor": Quantity("Floor", "price", "Floor level in force (null when none)", ""),
    "concentrate_price": Quantity("Concentrate price", "price", "Concentrate price (null without "
                                  "mines)", ""),
    "export_region_price": Quantity("Price inside the export-controlling region", "price",
                                    "Product price in a region restricting its exports (null "
                                    "when none)", ""),
    "club_imports": Quantity("Club imports", "t/step", "Net product imports of the club from "
                             "outside it (negative: exports)", ""),
    "demand": Quantity("Demand", "t/step", "What buyers demanded at the prices they paid (their "
                       "use, without orders toward inventory targets)", ""),
    "consumption": Quantity("Consumption", "t/step", "Product delivered to buyers", ""),
    "production_market": Quantity("Market-economy production", "t/step", "Product from "
                                  "market-economy refiners", ""),
    "production_nonmarket": Quantity("Non-market production", "t/step", "Product from non-market "
                                     "refiners", ""),
    "club_consumption": Quantity("Club consumption", "t/step", "Product delivered to club buyers", ""),
    "club_production": Quantity("Club production", "t/step", "Product from club refiners", ""),
    "government_stock": Quantity("Government stock", "t", "Tonnes held by governments", ""),
    "fiscal_flow": Quantity("Fiscal flow", "USD/step", "Net government outlay in the step", ""),
    "unmet_demand": Quantity("Unmet demand", "t/step", "Demand not served at the clearing price "
                             "(only under a binding price cap, or with no supply at all)", ""),
    "consumer_spend": Quantity("Consumer spend", "USD/step", "Money paid by buyers", ""),
    "capacity_market": Quantity("Market-economy refining capacity", "t/yr", "Operating product "
                                "capacity in market economies", ""),
    "capacity_nonmarket": Quantity("Non-market refining capacity", "t/yr", "Operating product "
                                   "capacity in non-market regions", ""),
    "demand_shock": Quantity("Demand shock", "-", "Multiplicative demand shock exp(z)", ""),
    "recycled": Quantity("Recycled supply", "t/step", "Product from recyclers (included in the "
                         "production columns)", ""),
    "buyer_stock": Quantity("Buyers' inventories", "t", "Product held by buyers with an "
                            "inventory cover target", ""),
}

# Per-region product capacity columns in the series are named REGION_CAPACITY_PREFIX + region name.
REGION_CAPACITY_PREFIX = "capacity_region__"
