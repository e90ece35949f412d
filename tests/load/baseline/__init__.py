"""The no-framework baseline `./callastar bench --baseline` compares the suite with.

It does the suite's essential work for a payment, with nothing between the code
and aiokafka, asyncpg and aiohttp: an HTTP intake (`intake`: Stripe's signature
check, produce with acks=all, then answer), then four stages (`stages`), each
its own process applying a batch of messages per transaction and committing
its Kafka offsets after the database commit:

    intake -> stripe-events -> payments (inbox, payment row updated, emit)
           -> payment-succeeded -> ledger (inbox, entry with three postings,
              balance rows, emit) -> balance-changed -> payouts (inbox, projection upsert)
           -> payment-succeeded -> notifications (inbox, one row)

Its databases (`schema`) and topics (`topics`) are its own, made afresh by the
`launcher` on the stack it is given, so it shares Kafka and PostgreSQL with the
suite but none of its data.
"""
