"""The envelope every message carries, and how a new event is made from its cause."""

from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Self, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, model_validator

DataT = TypeVar("DataT", bound=BaseModel)


class EventData(BaseModel):
    """Base of every event's `data`: immutable, unknown fields refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(BaseModel, Generic[DataT]):
    """One message on one topic. Subclasses fix `TOPIC` and `SCHEMA_VERSION`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TOPIC: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: UUID = Field(description="Unique per event; consumers dedupe on it")
    event_type: str = Field(description="Equals the topic name")
    schema_version: int
    occurred_at: datetime
    producer: str = Field(description="Service that emitted the event")
    correlation_id: str = Field(description="Shared by every event of one business flow")
    causation_id: UUID | None = Field(default=None, description="event_id of the cause")
    creator_id: str | None = Field(default=None, description="Kafka key where present")
    data: DataT

    @model_validator(mode="after")
    def _type_matches_topic(self) -> Self:
        topic = getattr(type(self), "TOPIC", None)
        if topic is not None and self.event_type != topic:
            raise ValueError(f"event_type {self.event_type!r} on a {topic!r} model")
        if topic is not None and self.schema_version != self.SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is not {self.SCHEMA_VERSION}")
        return self

    @classmethod
    def new(
        cls,
        data: DataT,
        *,
        producer: str,
        creator_id: str | None,
        cause: "Event[Any] | None" = None,
        correlation_id: str | None = None,
        event_id: UUID | None = None,
    ) -> Self:
        """Build an event; `cause` carries its correlation id forward."""
        return cls(
            event_id=event_id or uuid4(),
            event_type=cls.TOPIC,
            schema_version=cls.SCHEMA_VERSION,
            occurred_at=datetime.now(UTC),
            producer=producer,
            correlation_id=correlation_id or (cause.correlation_id if cause else str(uuid4())),
            causation_id=cause.event_id if cause else None,
            creator_id=creator_id,
            data=data,
        )

    def key(self) -> bytes | None:
        """The Kafka key: the creator id, so one creator's events keep their order."""
        return self.creator_id.encode() if self.creator_id else None
