"""Reading whole topics from their start, with no consumer group: what the operator
tools need (dead letters, rebuilding a projection from its events)."""

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from common.kafka import KafkaAccess

FETCH_TIMEOUT_MS = 1000


async def read_to_end(access: KafkaAccess, topics: Iterable[str], *, client_id: str) -> list[ConsumerRecord]:
    """Every record of `topics` (those that exist) up to the end each partition had when
    the reading began, in offset order per partition."""
    consumer = AIOKafkaConsumer(**access.client_options(), group_id=None, enable_auto_commit=False,
                                client_id=client_id)
    await consumer.start()
    try:
        existing = await consumer.topics()
        partitions = [TopicPartition(topic, p) for topic in sorted(set(topics)) if topic in existing
                      for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []
        while any(await consumer.position(tp) < end for tp, end in ends.items()):
            batch = await consumer.getmany(*partitions, timeout_ms=FETCH_TIMEOUT_MS)
            for tp, fetched in batch.items():
                records += [record for record in fetched if record.offset < ends[tp]]
        return records
    finally:
        await consumer.stop()
