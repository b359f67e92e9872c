"""What the model, its agents and its policies share: stage codes, identity kinds, the
no-protection value, the accounts of a step and the entry-imminent test.

The lowest module of the model core: it imports nothing of `abm` but the pure `abm.investment`,
so any module may import it without closing a circle.
"""

from __future__ import annotations

from collections.abc import Iterable

from abm.investment import Protection

# Producer stages (ProducerBook.stage); recyclers come from [[recyclers]], not a config stage.
MINE, REFINERY, RECYCLER = 0, 1, 2
STAGES = {"mine": MINE, "refinery": REFINERY}

# Identity kinds of producers' random streams (abm.shocks.Outages.register): (kind, index) is the
# same in every scenario, so a producer draws the same outages whatever the policies do.
EXISTING, PROJECT, EXPANSION, RECYCLING = 0, 1, 2, 3
COMPONENT_MAKER = 4                 # (abm.component.ComponentMakers, by maker)

# What a project gets when no announced instrument protects it.
NO_PROTECTION = Protection()

# The model's accounts of one step (model.acct), reset by start_step, added to by producers and
# instruments, read by the recorder (abm.recorder.ACCOUNTS).
ACCOUNT_KEYS = ("gov_purchases", "gov_sales", "gov_payments_to_producers",
                "gov_receipts_from_producers", "gov_sales_revenue", "duties", "producer_revenue",
                "gov_purchase_spend", "private_sales_revenue", "buyer_payments_offtake",
                "gov_topups")


def entry_imminent(developers: Iterable, t: int, window: int) -> bool:
    """A market-economy project comes online within `window` steps of step `t`, or came online
    less than `window` steps before it (what a `predatory` state producer watches for: it
    prices through the entrant's first months as well as ahead of them)."""
    return any(d.market_economy and d.online_step is not None and (
        (d.status == "building" and 0 <= d.online_step - t <= window)
        or (d.status == "online" and 0 <= t - d.online_step < window)) for d in developers)
