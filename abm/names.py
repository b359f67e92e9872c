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


def price_metrics(prefix: str, who: str, price: str) -> dict[str, Quantity]:
    """The price metrics of one market: `prefix` + name, labels starting with `who`, `price`
    the words for the price series they read."""
    return {
        f"{prefix}price_mean": Quantity(f"{who}mean price", "price",
                                        f"Mean of {price} over the run", ""),
        f"{prefix}price_volatility": Quantity(f"{who}price volatility", "1/yr^0.5",
                                              "Annualised standard deviation of per-step log "
                                              f"changes of {price}", "lower"),
        f"{prefix}price_p05": Quantity(f"{who}price, 5th percentile", "price",
                                       f"5th percentile of {price} per step", ""),
        f"{prefix}price_p95": Quantity(f"{who}price, 95th percentile", "price",
                                       f"95th percentile of {price} per step", ""),
        f"{prefix}max_drawdown": Quantity(f"{who}largest price fall", "share", "Largest fall "
                                          f"from a running peak of {price}, as a share of the "
                                          "peak", "lower"),
        f"{prefix}share_below_floor": Quantity(f"{who}time below the floor", "share", "Share "
                                               "of steps with a floor in force in which "
                                               f"{price} was below it (0 without a floor)", ""),
    }


def _capital(labels: dict[str, Quantity]) -> dict[str, Quantity]:
    return {k: q._replace(label=q.label[:1].upper() + q.label[1:]) for k, q in labels.items()}


METRICS: dict[str, Quantity] = {
    **_capital(price_metrics("", "", "the world product price")),
    # the floor's own metric: the price it acts on, not necessarily the world price
    "share_below_floor": Quantity("Time below the floor", "share", "Share of steps with a floor "
                                  "in force in which the price at the floor's stage, in the "
                                  "market where it acts, was below it (0 without a floor)", ""),
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
                                "regions for what their buyers buy in the last year: product, "
                                "or with component makers components ((club buyers' tonnes - "
                                "club makers' output) / club buyers' tonnes; 0 = "
                                "self-sufficient)", "lower"),
    "fiscal_cost": Quantity("Fiscal cost", "USD", "Net government outlay over the run (purchases, "
                            "top-ups, holding costs, less sales, upside receipts and duties)", "lower"),
    "stockpile_final": Quantity("Government stock at the end", "t", "Tonnes held by governments at "
                                "the end", ""),
    "unmet_demand": Quantity("Unmet demand", "t", "Demand not served over the run", "lower"),
    "consumer_spend": Quantity("Consumer spend", "USD", "Money paid by buyers for product over the "
                               "run", "lower"),
    "recycled_share": Quantity("Recycled share of supply", "share", "Share of product supply from "
                               "recyclers in the last year", "higher"),
    # added in issue 14, after the metrics of the result-file contract (DESIGN section 4)
    **price_metrics("club_", "Club buyers' ", "the club's product price: what club buyers pay "
                    "(the world price when the club is not a separate market), or with "
                    "component makers what club makers pay for product (club buyers then pay "
                    "the club component price)"),
    **price_metrics("export_region_", "Export region's ", "the price inside a region "
                    "restricting its exports (the world price in steps without a restriction; "
                    "NaN when every control is on concentrate: no product market of its own)"),
    "covered_price_volatility": Quantity(
        "Covered producers' price volatility", "1/yr^0.5", "Annualised standard deviation of "
        "the log changes of the price covered producers realise (revenue per tonne sold with "
        "CFD top-ups, upside payments and guarantees), per period of report.risk_period steps "
        "(quarterly by default), between consecutive periods in which they sold; covered: the "
        "producers the floor covers, or without one the product-stage producers a floor covers "
        "by default (club regions; every region without a club)", "lower"),
    "covered_revenue_cv": Quantity(
        "Covered producers' revenue variability", "share", "Coefficient of variation (standard "
        "deviation over mean) of covered producers' revenue per report.risk_period, policy "
        "payments included, over the periods in which any of them was active", "lower"),
    "market_realised_price_mean": Quantity(
        "Market-economy producers' realised price", "price", "Revenue per tonne of product sold "
        "by market-economy refiners and recyclers over the run (policy payments included, feed "
        "bought from mines not deducted)", ""),
    "market_margin_mean": Quantity(
        "Market-economy producers' margin", "price", "Operating profit (revenue with policy "
        "payments, less cash, feed and fixed costs) per tonne of product sold by market-economy "
        "refiners and recyclers over the run", "higher"),
    "fiscal_cost_net": Quantity("Net fiscal cost", "USD", "Fiscal cost less the market value "
                                "of the stocks governments hold at the end (at the last step's "
                                "price in the market each stock sits in)", "lower"),
    "fiscal_cost_npv": Quantity("Net fiscal cost, discounted", "USD", "Net fiscal cost with each "
                                "step's flows and the end value of stocks discounted to the "
                                "start of the run at report.discount_rate", "lower"),
    "fiscal_cost_per_capacity": Quantity("Net fiscal cost per t/yr of new capacity",
                                         "USD/(t/yr)", "Net fiscal cost per t/yr of new "
                                         "market-economy capacity (NaN when none was added)",
                                         "lower"),
    "exporter_rent": Quantity("Exporters' rent under a price undertaking", "USD", "What "
                              "producers outside the club earn above the world price by "
                              "selling into the club at the minimum import price under a price "
                              "undertaking (policy.floor.rent = 'undertaking'; 0 otherwise)", ""),
    "state_outlay": Quantity("State-directed producers' state outlay", "USD", "Net cash the "
                             "states of state-directed regions spent over the run: a state "
                             "reserve's purchases less its sales, predatory-pricing subsidies "
                             "(not part of the fiscal cost, which is the policy makers')", ""),
    "transshipped": Quantity("Transshipped imports", "t", "Club imports routed through a "
                             "club-treated third country to evade the club's border measures "
                             "over the run (policy.trade.transshipment_cost; 0 otherwise)", ""),
    "club_scrap_price_mean": Quantity("Club scrap price, mean", "price", "Mean of what club "
                                      "collectors received a tonne of scrap (club_scrap_price) "
                                      "over the steps the club collected scrap; NaN without "
                                      "traded scrap", ""),
    "club_recycled_share": Quantity("Club recycled share of club consumption", "share", "Product "
                                    "from club recyclers as a share of club consumption in the "
                                    "last year; scrap trade (market.scrap_trade) and scrap export "
                                    "controls move it", "higher"),
    # added in issue 20 part 2 (private stockholders)
    "private_stock_mean": Quantity("Mean private stocks", "t", "Mean over the run of the "
                                   "product private stockholders hold ([storage]; 0 without "
                                   "them)", ""),
    "club_component_share": Quantity("Club share of component output", "share", "Components "
                                     "made in club regions as a share of all components made "
                                     "in the last year (NaN without component makers; a product "
                                     "floor without a component one may move component making "
                                     "out of the club)", "higher"),
    "component_price_mean": Quantity("Mean component price", "price", "Mean world component "
                                     "price over the run (NaN without component makers)", ""),
    # added in issue 16 part 4 (regional prices with shipping costs)
    "regional_price_mean": Quantity("Mean price in separate markets", "price", "Mean over the "
                                    "run of the price buyers pay in the separate-market regions "
                                    "([[regions]] separate_market), weighted by the tonnes "
                                    "their buyers bought each step (a market where nothing was "
                                    "bought carries no weight; NaN without separate markets or "
                                    "purchases in them)", ""),
    "regional_price_spread": Quantity("Separate markets' premium over the world price", "price",
                                      "Mean over the run of each separate-market region's "
                                      "price less the world price, weighted by the tonnes its "
                                      "buyers bought: positive where they import (by at most "
                                      "the shipping cost in while they trade), negative where "
                                      "they export (NaN without separate markets or purchases "
                                      "in them)", ""),
}

SERIES: dict[str, Quantity] = {
    "price": Quantity("World price", "price", "Product price in the world market", ""),
    "club_price": Quantity("Club price", "price", "Product price paid by club buyers (their "
                           "mean, weighted by tonnes bought, when club regions are separate "
                           "markets; with component makers, what club makers pay)", ""),
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
    "state_stock": Quantity("State reserve stock", "t", "Tonnes held by the state reserves of "
                            "state-directed regions ([nonmarket.reserve]; 0 without one); not "
                            "in government_stock, which is the policy makers'", ""),
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
    # added in issue 16 (rules of origin that move supply, transshipment)
    "compliant_concentrate_price": Quantity(
        "Compliant concentrate price", "price", "Price of club-mined concentrate bought by club "
        "refiners to meet a rule of origin (null when none re-sourced)", ""),
    "transshipped": Quantity("Transshipped imports", "t/step", "Club imports routed through a "
                             "club-treated third country (policy.trade.transshipment_cost); the "
                             "caught share (detection_rate) paid the duty", ""),
    # added in issue 16 part 2 (scrap as a traded good, scrap export controls)
    "scrap_price": Quantity("Scrap price", "price", "Price of scrap (per tonne of product it "
                            "yields) with market.scrap_trade; under a scrap export control, the "
                            "price on the targeted side (null without traded scrap)", ""),
    "scrap_price_home": Quantity("Scrap price, controlling side", "price", "Scrap price where a "
                                 "scrap export control's controller and the regions it does not "
                                 "target buy (= scrap_price without a binding control; null "
                                 "without traded scrap)", ""),
    "club_scrap_price": Quantity("Club scrap price", "price", "What club collectors received "
                                 "a tonne of scrap: club recyclers' scrap receipts over the scrap "
                                 "they collected (null without traded scrap or in a step the "
                                 "club collects none)", ""),
    "club_recycled": Quantity("Club recycled supply", "t/step", "Product from recyclers in club "
                              "regions (included in recycled)", ""),
    "scrap_withheld": Quantity("Scrap exports withheld", "t/step", "Scrap exports to its "
                               "targets that a binding scrap export control kept from leaving "
                               "(0 when bystanders' scrap replaces them)", ""),
    # added in issue 20 part 2 (private stockholders)
    "private_stock": Quantity("Private stocks", "t", "Product held by private stockholders "
                              "([storage]; 0 without them)", ""),
    # added in issue 16 part 1 (a downstream component stage)
    "component_price": Quantity("Component price", "price", "Price of the component (e.g. "
                                "magnets) in the world market (null without component makers)",
                                ""),
    "club_component_price": Quantity("Club component price", "price", "Component price paid by "
                                     "club buyers (null without component makers)", ""),
    "component_output": Quantity("Component output", "t/step", "Components made (delivered to "
                                 "buyers)", ""),
    "club_component_output": Quantity("Club component output", "t/step", "Components made by "
                                      "component makers in club regions", ""),
    "storage_unsolved": Quantity("Stockholders without a rule", "-", "1 in a step whose "
                                 "regime has no solved storage rule (the stockholders' stock "
                                 "then waits out of the market), else 0", ""),
}

# Per-region product capacity columns in the series are named REGION_CAPACITY_PREFIX + region name.
REGION_CAPACITY_PREFIX = "capacity_region__"
# Per-region product price columns of separate-market regions ([[regions]] separate_market = true)
# are named REGION_PRICE_PREFIX + region name.
REGION_PRICE_PREFIX = "price_region__"
