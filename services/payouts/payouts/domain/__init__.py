"""Payouts' rules, decided without I/O: no session, no Stripe, no Kafka.
Callers import the module they need.

- `transitions`: the payout state machine (states, triggers, the table)
- `errors`: the base error and the conditions the API answers with
- `amounts`: what a payout request may ask for
- `accounts`: whether a connected account can receive payouts
- `approval`: separation of duties, reasons, the approver's claim on the Stripe steps
- `audit`: who acted, the audit row as hashed, the hash chain and its check
- `balances`: which announced balance the creator's projection keeps
"""
