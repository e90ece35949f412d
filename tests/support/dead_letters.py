"""Reading what a consumer dead-lettered."""

import json
import time

from aiokafka import AIOKafkaConsumer

from contracts.envelope import Event
from contracts.topics import dlq


async def dead_lettered(infra, event: Event, timeout: float = 30.0) -> dict[str, bytes]:
    """The headers of `event`'s record on its dead-letter topic."""
    consumer = AIOKafkaConsumer(dlq(event.TOPIC), **infra.kafka.client_options(), auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                # other tests dead-letter records of their own there, some not even JSON
                for record in records:
                    wanted = str(event.event_id)
                    if wanted.encode() in record.value and json.loads(record.value)["event_id"] == wanted:
                        return dict(record.headers)
    finally:
        await consumer.stop()
    raise AssertionError(f"{event.event_id} never reached {dlq(event.TOPIC)}")
