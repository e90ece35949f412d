"""Finding the transfer already made for a payout among Stripe's transfers."""

import uuid

from payouts.stripe_gateway import transfer_made_for


def test_the_transfer_made_for_a_payout_is_found_by_its_group_or_its_metadata() -> None:
    payout_id = uuid.uuid4()
    other = {"id": "tr_other", "transfer_group": f"payout_{uuid.uuid4()}", "metadata": {}}
    # stripe-mock's fixture: no group, no metadata
    fixture = {"id": "tr_fixture", "transfer_group": None, "metadata": {}}
    by_group = {"id": "tr_group", "transfer_group": f"payout_{payout_id}", "metadata": {}}
    by_metadata = {"id": "tr_meta", "transfer_group": None, "metadata": {"payout_id": str(payout_id)}}
    assert transfer_made_for([other, fixture, by_group], payout_id) == "tr_group"
    assert transfer_made_for([fixture, by_metadata], payout_id) == "tr_meta"
    assert transfer_made_for([other, fixture], payout_id) is None
    assert transfer_made_for([], payout_id) is None
