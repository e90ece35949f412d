"""What a payout request may ask for."""

from payouts.domain.errors import BelowMinimum, InvalidAmount


def check_request(amount_minor: int | None, all_available: bool, minimum_minor: int) -> None:
    """A request names a positive integer amount of at least the minimum, or asks
    for all that is available (the ledger then checks the minimum)."""
    if all_available:
        if amount_minor is not None:
            raise InvalidAmount("give either amount_minor or all, not both")
        return
    if amount_minor is None:
        raise InvalidAmount("amount_minor is required unless all is true")
    if not isinstance(amount_minor, int) or isinstance(amount_minor, bool) or amount_minor <= 0:
        raise InvalidAmount("amount_minor must be a positive integer number of minor units")
    if amount_minor < minimum_minor:
        raise BelowMinimum(f"the minimum payout is {minimum_minor} minor units")
