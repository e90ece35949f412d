"""Reading whole topics from their start, with no consumer group: what the operator
tools need (dead letters, rebuilding a projection from its events)."""

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from common.kafka import KafkaAccess

FETCH_TIMEOUT_MS = 1000


async def read_to_end(access: KafkaAccess, topics: Iterable[str], *, client_id: str) -> list[ConsumerRecord]:
    """Every record of `topics` (those that exist) up to the end each partition had when
    the reading began, in offset order per partition."""
    partitions = await _partitions(access, topics, client_id)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(**access.client_options(), group_id=None, enable_auto_commit=False,
                                client_id=client_id)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(*partitions, timeout_ms=FETCH_TIMEOUT_MS)
            for tp, fetched in batch.items():
                records += [record for record in fetched if record.offset < ends[tp]]
        return records
    finally:
        await consumer.stop()


async def _partitions(access: KafkaAccess, topics: Iterable[str], client_id: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(**access.client_options(), client_id=client_id)
    await admin.start()
    try:
        described = await admin.describe_topics(sorted(set(topics)))
    finally:
        await admin.close()
    return [TopicPartition(topic["topic"], partition["partition"]) for topic in described
            if topic["error_code"] == 0 for partition in topic["partitions"]]
