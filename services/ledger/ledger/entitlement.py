"""PLACEHOLDER, to be replaced at merge by the entitlement branch's function.

The creator's entitlement on a payment is one pure function of the payment's
totals (issue 11, section 3). That branch defines it; `ledger check` calls it
through this one name so the lead can swap the import for theirs. Until then
this is the rule docs/architecture.md states: the creator keeps the share
minus floor(share * taken / price), `taken` being the succeeded refunds plus
the disputed amounts lost or still frozen, capped at the price.
"""


def entitlement(price_minor: int, share_minor: int, refunded_minor: int, disputed_minor: int) -> int:
    """Minor units of the payment the creator is owed (frozen dispute shares excluded)."""
    taken = min(price_minor, refunded_minor + disputed_minor)
    if price_minor <= 0:
        return share_minor
    return share_minor - share_minor * taken // price_minor
