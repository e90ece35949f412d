"""The JSON bodies the API answers with for payouts and accounts."""

from typing import Any

from payouts.models import Payout, PayoutAccount


def account_view(account: PayoutAccount) -> dict[str, Any]:
    return {
        "creator_id": account.creator_id,
        "stripe_account_id": account.stripe_account_id,
        "payouts_enabled": account.payouts_enabled,
        "charges_enabled": account.charges_enabled,
        "details_submitted": account.details_submitted,
        "requirements": account.requirements,
        "updated_at": account.updated_at.isoformat() if account.updated_at else None,
    }


def payout_view(payout: Payout, *, admin: bool = False) -> dict[str, Any]:
    view = {
        "payout_id": str(payout.id),
        "creator_id": payout.creator_id,
        "status": payout.state,
        "funds_reserved": payout.funds_reserved,
        "currency": payout.currency,
        "all_available": payout.all_available,
        "requested_minor": payout.requested_minor,
        "gross_minor": payout.gross_minor,
        "debt_deducted_minor": payout.debt_deducted_minor,
        "net_minor": payout.net_minor,
        "reason": payout.reason,
        "reason_detail": payout.reason_detail,
        "stripe_transfer_id": payout.stripe_transfer_id,
        "stripe_payout_id": payout.stripe_payout_id,
        "failure_code": payout.failure_code,
        "failure_message": payout.failure_message,
        "paid_at": payout.paid_at.isoformat() if payout.paid_at else None,
        "created_at": payout.created_at.isoformat() if payout.created_at else None,
        "updated_at": payout.updated_at.isoformat() if payout.updated_at else None,
    }
    if admin:
        view |= {
            "requested_by": payout.requested_by,
            "approved_by": payout.approved_by,
            "stripe_account_id": payout.stripe_account_id,
            "stripe_reversal_id": payout.stripe_reversal_id,
            # The last Stripe error of an APPROVED payout: approving again retries.
            "stripe_error_code": payout.stripe_error_code,
            "stripe_error_message": payout.stripe_error_message,
        }
    return view
