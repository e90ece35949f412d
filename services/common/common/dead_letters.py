"""Dead letters: what a service's consumer parked on `<topic>.dlq` (common.consumers),
listed, shown and replayed, the same way for every service: from its command line
(`python -m <service> dlq list | show ID | replay --id ID | --all`) and, for
admins, through the gateway (the internal routes below).

A replay goes back through the service's own handler and inbox (a message that
was applied after all is dropped as a duplicate) and leaves an audit row in
`dead_letter_replays`; a message replayed with success is never replayed again.
A message's id is `<dlq topic>:<partition>:<offset>`.
"""

import argparse
import asyncio
import getpass
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import JSONBody
from pydantic import BaseModel, ValidationError
from sqlalchemy.dialects.postgresql import insert

from common import logs
from common.applying import Delivery, EventApplier, EventHandlers
from common.db import Database
from common.http import Identity, require_role
from common.kafka import KafkaAccess
from common.topic_reading import read_to_end
from common.tables import dead_letter_replays as replays
from common.tables import inbox
from contracts.topics import dlq

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    payload: bytes
    headers: dict[str, str]

    @property
    def id(self) -> str:
        return f"{self.dlq_topic}:{self.partition}:{self.offset}"

    @property
    def original_topic(self) -> str:
        return self.headers.get("x-original-topic", self.dlq_topic.removesuffix(".dlq"))

    @property
    def event_id(self) -> UUID | None:
        try:
            return UUID(json.loads(self.payload)["event_id"])
        except (ValueError, KeyError, TypeError):
            return None

    def summary(self) -> dict[str, object]:
        return {"id": self.id, "topic": self.original_topic, "event_id": self.event_id and str(self.event_id),
                "key": self.key.decode(errors="replace") if self.key else None,
                "error_type": self.headers.get("x-error-type"), "error": self.headers.get("x-error"),
                "attempts": self.headers.get("x-attempts"), "failed_at": self.headers.get("x-failed-at")}

    def details(self) -> dict[str, object]:
        return {**self.summary(), "headers": self.headers, "payload": self.payload.decode(errors="replace")}


async def read_dead_letters(access: KafkaAccess, group: str, topics: Iterable[str]) -> list[DeadLetter]:
    """Every message on the DLQs of `topics` that `group` dead-lettered, oldest first per
    partition (two groups reading one topic share its DLQ: the header tells whose it is)."""
    found = []
    for record in await read_to_end(access, [dlq(topic) for topic in topics], client_id=f"{group}-dlq"):
        headers = {k: v.decode(errors="replace") for k, v in record.headers}
        if headers.get("x-consumer-group") == group:
            found.append(DeadLetter(record.topic, record.partition, record.offset, record.key, record.value, headers))
    return found


@dataclass(frozen=True)
class Replay:
    id: str
    outcome: str  # applied | duplicate | failed | already replayed
    detail: str | None = None


class DeadLetterDesk:
    """A service's dead letters: `handlers`, their `needs` and `group` are its consumer's."""

    def __init__(self, group: str, handlers: EventHandlers[Any], needs: Any, db: Database,
                 access: KafkaAccess) -> None:
        self.group = group
        self._handlers = handlers
        self._applier = EventApplier(handlers, needs)
        self._db = db
        self._access = access

    async def close(self) -> None:
        await self._db.dispose()

    async def messages(self) -> list[DeadLetter]:
        return await read_dead_letters(self._access, self.group, self._handlers.subscriptions)

    async def replayed(self) -> set[str]:
        """The ids replayed with success."""
        async with self._db.transaction() as session:
            rows = await session.execute(sa.select(replays.c.dlq_topic, replays.c.dlq_partition, replays.c.dlq_offset)
                                         .where(replays.c.outcome != "failed"))
        return {f"{t}:{p}:{o}" for t, p, o in rows}

    async def listing(self) -> list[dict[str, object]]:
        done = await self.replayed()
        return [{**m.summary(), "replayed": m.id in done} for m in await self.messages()]

    async def replay(self, ids: Sequence[str] | None, who: str) -> list[Replay]:
        """Replay the messages `ids` (None: every one not replayed yet), oldest first per partition."""
        messages = await self.messages()
        if ids is not None:
            by_id = {m.id: m for m in messages}
            if missing := [i for i in ids if i not in by_id]:
                raise LookupError(f"no dead letter {', '.join(missing)} of {self.group}")
            messages = [by_id[i] for i in ids]
        else:
            done = await self.replayed()
            messages = [m for m in messages if m.id not in done]
        return [await self._replay_one(message, who) for message in messages]

    async def _replay_one(self, message: DeadLetter, who: str) -> Replay:
        row = {"dlq_topic": message.dlq_topic, "dlq_partition": message.partition, "dlq_offset": message.offset,
               "event_id": message.event_id, "replayed_by": who}
        try:
            subscription = self._handlers.subscriptions[message.original_topic]
            event = subscription.model.model_validate_json(message.payload)
        except (KeyError, ValidationError) as error:
            return await self._failed(message, row, error)
        token = logs.correlation_id.set(event.correlation_id)
        try:
            async with self._db.transaction() as session:
                applied_before = await session.scalar(sa.select(sa.func.count()).select_from(inbox)
                                                      .where(inbox.c.event_id == event.event_id))
                outcome = "duplicate" if applied_before else "applied"
                recorded = await session.scalar(
                    insert(replays).values(**row, outcome=outcome)
                    .on_conflict_do_nothing(index_elements=["dlq_topic", "dlq_partition", "dlq_offset"],
                                            index_where=replays.c.outcome != "failed")
                    .returning(replays.c.id))
                if recorded is None:
                    result = Replay(message.id, "already replayed")
                else:
                    await self._applier.apply_or_park(session, Delivery(message.original_topic, event, message.payload))
                    result = Replay(message.id, outcome)
        except Exception as error:  # noqa: BLE001 - recorded as a failed replay; the message stays on the DLQ
            return await self._failed(message, row, error)
        finally:
            logs.correlation_id.reset(token)
        log.info("dead letter %s replayed by %s: %s", message.id, who, result.outcome)
        return result

    async def _failed(self, message: DeadLetter, row: dict[str, object], error: BaseException) -> Replay:
        detail = f"{type(error).__name__}: {error}"[:4000]
        async with self._db.transaction() as session:
            await session.execute(insert(replays).values(**row, outcome="failed", detail=detail))
        log.warning("dead letter %s replayed by %s: failed (%s)", message.id, row["replayed_by"], detail)
        return Replay(message.id, "failed", detail)


# --- the internal routes (admins, through the gateway) -----------------------

class ReplayRequest(BaseModel):
    """Either `ids` or `all`."""

    ids: list[str] | None = None
    all: bool = False


@get("/dead-letters", summary="This service's dead letters")
async def list_dead_letters(request: Request, who: NamedDependency[Identity]) -> list[dict[str, object]]:
    require_role(who, "admin")
    return await request.app.state.dead_letters.listing()


@post("/dead-letters/replay", status_code=200, summary="Replay dead letters through the handler and inbox")
async def replay_dead_letters(request: Request, who: NamedDependency[Identity], data: JSONBody[ReplayRequest]) -> list[dict[str, object]]:
    require_role(who, "admin")
    if data.all == bool(data.ids):
        raise ValidationException("give either ids or all: true")
    try:
        done = await request.app.state.dead_letters.replay(None if data.all else data.ids, f"admin:{who.user_id}")
    except LookupError as error:
        raise NotFoundException(str(error)) from error
    return [replay.__dict__ for replay in done]


route_handlers = [list_dead_letters, replay_dead_letters]


# --- the command line ---------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="dlq_action", required=True)
    actions.add_parser("list", help="every dead letter of this service, and whether it was replayed")
    show = actions.add_parser("show", help="one dead letter with its headers and payload")
    show.add_argument("id")
    replay = actions.add_parser("replay", help="apply dead letters again through the handler and inbox")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", action="append", dest="ids", help="<dlq topic>:<partition>:<offset> (repeatable)")
    which.add_argument("--all", action="store_true", help="every dead letter not replayed yet")


async def run_command(desk: DeadLetterDesk, arguments: argparse.Namespace) -> int:
    if arguments.dlq_action == "list":
        for item in await desk.listing():
            print(json.dumps(item))
        return 0
    if arguments.dlq_action == "show":
        found = [m for m in await desk.messages() if m.id == arguments.id]
        if not found:
            print(f"no dead letter {arguments.id} of {desk.group}")
            return 1
        print(json.dumps(found[0].details(), indent=2))
        return 0
    try:
        done = await desk.replay(None if arguments.all else arguments.ids, f"cli:{getpass.getuser()}")
    except LookupError as error:
        print(error)
        return 1
    for replay in done:
        print(json.dumps(replay.__dict__))
    return 1 if any(r.outcome == "failed" for r in done) else 0


def cli(group: str, handlers: EventHandlers[Any], needs: Any, database_url: str, access: KafkaAccess,
        arguments: argparse.Namespace) -> int:
    async def run() -> int:
        desk = DeadLetterDesk(group, handlers, needs, Database(database_url, pool_size=1), access)
        try:
            return await run_command(desk, arguments)
        finally:
            await desk.close()

    return asyncio.run(run())
