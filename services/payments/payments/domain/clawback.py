"""How much of the creator's share a refund or a dispute takes back. Pure.

Clawback is cumulative and proportional: once `taken` of a payment's `price`
has gone back to the fan (succeeded refunds plus disputes not won), the creator
has given back floor(share * taken / price) in total. One movement from
`taken_before` to `taken_after` therefore takes the difference, so partial
movements that add up to the full price take back exactly the share, and the
rounding never drifts in either direction.
"""


def clawback(share: int, price: int, taken_before: int, taken_after: int) -> int:
    """Minor units taken from the creator when the payment's taken-back total
    moves from `taken_before` to `taken_after` (negative when it goes down: the
    share comes back)."""
    for name, value in (("share", share), ("price", price), ("taken_before", taken_before), ("taken_after", taken_after)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer in minor units, not {value!r}")
    if price <= 0:
        raise ValueError(f"price must be positive, not {price}")
    if not 0 <= share <= price:
        raise ValueError(f"share must be between 0 and the price {price}, not {share}")
    for name, value in (("taken_before", taken_before), ("taken_after", taken_after)):
        if not 0 <= value <= price:
            raise ValueError(f"{name} must be between 0 and the price {price}, not {value}")
    return share * taken_after // price - share * taken_before // price
