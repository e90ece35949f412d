"""Emails read as a mail client reads them: headers off the wire, not decoded."""

import re
from email.message import EmailMessage

_FOLD = re.compile(r"\r?\n(?=[ \t])")  # RFC 5322 2.2.3: a line break before white space
_ANGLE_URL = re.compile(r"<(https?://[^<>\s]+)>")
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058: the header's value and the POST's body


def raw_header(message: EmailMessage, name: str) -> str:
    """The one `name` header as it came off the wire, unfolded, with nothing decoded
    (a message parsed with `email.policy.default` keeps its raw values)."""
    values = [value for key, value in message.raw_items() if key.lower() == name.lower()]
    assert len(values) == 1, f"{len(values)} {name} headers"
    return _FOLD.sub("", values[0]).strip()


def list_unsubscribe_url(message: EmailMessage) -> str:
    """The URL a client unsubscribes with: the header must be exactly `<url>` (RFC
    2369), not an RFC 2047 encoded word a client would not read as a URL."""
    value = raw_header(message, "List-Unsubscribe")
    found = _ANGLE_URL.fullmatch(value)
    assert found, f"List-Unsubscribe is not a plain <url>: {value!r}"
    return found.group(1)
