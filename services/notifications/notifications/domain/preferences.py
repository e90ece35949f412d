"""Who wants which notification on which channel."""

from dataclasses import dataclass
from typing import Any

from notifications.domain.vocabulary import InvalidPreferences, NotificationType

CHANNELS = ("in_app", "email")

# Types a person must always see in the app, whatever they chose: money they
# expected did not arrive, or money is frozen. Email stays theirs to turn off.
CRITICAL_IN_APP = frozenset({NotificationType.PAYOUT_FAILED, NotificationType.DISPUTE_CREATED})


@dataclass(frozen=True)
class Preference:
    """Both channels are on unless the person turned one off."""

    type: NotificationType
    in_app: bool = True
    email: bool = True


def parse_preferences(body: Any) -> dict[NotificationType, dict[str, bool]]:
    """`{"preferences": [{"type": "PAYOUT_PAID", "email": false}, ...]}` -> the
    changes asked for, per type and channel; channels left out keep their value."""
    if not isinstance(body, dict) or set(body) != {"preferences"} or not isinstance(body["preferences"], list):
        raise InvalidPreferences('the body is {"preferences": [{"type": ..., "in_app": bool, "email": bool}]}')
    changes: dict[NotificationType, dict[str, bool]] = {}
    for index, item in enumerate(body["preferences"]):
        where = f"preferences[{index}]"
        if not isinstance(item, dict) or "type" not in item:
            raise InvalidPreferences(f"{where}: an object with a type")
        try:
            type_ = NotificationType(item["type"])
        except ValueError:
            raise InvalidPreferences(f"{where}: unknown type {item['type']!r}") from None
        if type_ in changes:
            raise InvalidPreferences(f"{where}: {type_} is listed twice")
        channels = {key: value for key, value in item.items() if key != "type"}
        if not channels:
            raise InvalidPreferences(f"{where}: name at least one channel ({', '.join(CHANNELS)})")
        for channel, value in channels.items():
            if channel not in CHANNELS:
                raise InvalidPreferences(f"{where}: unknown channel {channel!r}; channels are {', '.join(CHANNELS)}")
            if not isinstance(value, bool):
                raise InvalidPreferences(f"{where}.{channel}: true or false")
        if channels.get("in_app") is False and type_ in CRITICAL_IN_APP:
            raise InvalidPreferences(f"{where}: {type_} is critical and always shown in the app")
        changes[type_] = channels
    return changes
