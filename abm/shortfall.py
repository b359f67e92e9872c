"""Who can replace the step's withheld tonnes (product t, `model.shortfall`).

Part of them may be a segmented market's own: the ore its own refineries lost to a
concentrate control while it imports nothing (`model.shortfall_local`, region -> t;
abm.policies.trade.ExportControl.report_shortfall). Those tonnes only parties buying or
selling in that market can replace: a stockpile, reserve or buyers elsewhere that put off
buying free tonnes that do not reach it (review rv8 F1: a world stockpile put off its filling
for Japan's refinery's loss, the world price fell 93.11 -> 63.93 and Japan's rose 70 -> 103.93
while its buyers held 60 days' cover). The rest is shared by every short party.
"""

from __future__ import annotations


def shared(model) -> float:
    """t of the shortfall any short party can replace (not a segmented market's own)."""
    return max(model.shortfall - sum(model.shortfall_local.values()), 0.0)


def keys(model, regions) -> set[int]:
    """The markets of the regions `regions` as `model.shortfall_local` books them: each
    region its own, a club behind its border measures at its first region
    (`Model.take_groups`)."""
    groups = model.take_groups()
    return {int(r) if groups is None else int(groups[r]) for r in regions}


def available(model, regions) -> float:
    """t of the shortfall a party whose market holds the regions `regions` can replace: the
    shared part and those regions' own."""
    local = model.shortfall_local
    return shared(model) + sum(local.get(r, 0.0) for r in keys(model, regions))


def take(model, regions, tonnes: float) -> float:
    """Take `tonnes` (at most `available`) off the shortfall for a party in the market of
    `regions`: first out of those regions' own parts (only it and their buyers can replace
    them), then out of the shared part. Returns the tonnes taken."""
    tonnes = min(max(tonnes, 0.0), available(model, regions))
    left = tonnes
    local = model.shortfall_local
    for r in sorted(keys(model, regions)):
        if r in local and left > 0:
            t = min(local[r], left)
            local[r] -= t
            left -= t
    model.shortfall = max(model.shortfall - tonnes, 0.0)
    return tonnes
