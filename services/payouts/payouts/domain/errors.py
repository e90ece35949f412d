"""Payouts' one base error and its conditions; `status` and `reason` shape the
problem details the API answers with."""


class PayoutError(Exception):
    """Base of payouts' domain errors."""

    status = 409
    reason = "payout_error"


class InvalidAmount(PayoutError):
    status = 422
    reason = "invalid_amount"


class BelowMinimum(PayoutError):
    status = 422
    reason = "below_minimum"


class CurrencyNotHeld(PayoutError):
    status = 422
    reason = "currency_mismatch"


class ReasonRequired(PayoutError):
    status = 422
    reason = "reason_required"


class PayoutNotFound(PayoutError):
    status = 404
    reason = "not_found"


class PayoutAccountNotReady(PayoutError):
    """No connected account yet, or Stripe does not let it receive payouts."""

    status = 409

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class IdempotencyKeyReused(PayoutError):
    status = 409
    reason = "idempotency_key_reused"


class SelfApproval(PayoutError):
    status = 403
    reason = "separation_of_duties"


class TransitionRefused(PayoutError):
    status = 409
    reason = "transition_refused"


class AwaitingFunds(TransitionRefused):
    reason = "awaiting_funds"


class NotApprovable(TransitionRefused):
    reason = "not_approvable"


class ApprovalInProgress(TransitionRefused):
    reason = "approval_in_progress"


class NotRejectable(TransitionRefused):
    reason = "not_rejectable"


class NotCancelable(TransitionRefused):
    reason = "not_cancelable"


class NotVoidable(TransitionRefused):
    reason = "not_voidable"


class UnappliableEvent(PayoutError):
    """An event no retry can apply (it names a payout we never stored, or a Stripe
    payout that contradicts ours): dead-lettered for a human."""

    reason = "unappliable_event"
