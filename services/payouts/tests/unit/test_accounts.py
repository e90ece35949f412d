"""Whether a connected account can receive payouts."""

from types import SimpleNamespace

import pytest

from payouts.domain import errors
from payouts.domain.accounts import check_account_ready


def _account(**changes: object) -> SimpleNamespace:
    return SimpleNamespace(**{"stripe_account_id": "acct_1", "payouts_enabled": True, "requirements": {}, **changes})


def test_an_account_stripe_lets_receive_payouts_is_ready() -> None:
    account = _account()
    assert check_account_ready(account) is account


@pytest.mark.parametrize("account", [None, _account(stripe_account_id=None)])
def test_no_connected_account_is_not_ready(account: SimpleNamespace | None) -> None:
    with pytest.raises(errors.PayoutAccountNotReady) as refused:
        check_account_ready(account)
    assert refused.value.reason == "payout_account_missing"


def test_an_account_stripe_has_not_enabled_says_why() -> None:
    with pytest.raises(errors.PayoutAccountNotReady) as refused:
        check_account_ready(_account(payouts_enabled=False, requirements={"disabled_reason": "requirements.past_due"}))
    assert refused.value.reason == "payouts_disabled"
    assert "requirements.past_due" in str(refused.value)
