"""Read what the SMTP sink stored (for tests and for a developer's curiosity)."""

from __future__ import annotations

import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path


def _files(maildir: Path | str) -> list[Path]:
    return sorted(Path(maildir).glob("*.eml"))


def read_messages(maildir: Path | str) -> list[EmailMessage]:
    """Every stored message, oldest first, parsed with the modern email policy.
    `X-Callastar-Mail-From` / `X-Callastar-Rcpt-To` carry the SMTP envelope."""
    parser = BytesParser(policy=policy.default)
    return [parser.parsebytes(path.read_bytes()) for path in _files(maildir)]  # type: ignore[misc]


def clear(maildir: Path | str) -> None:
    for path in _files(maildir):
        path.unlink(missing_ok=True)


def wait_for_messages(maildir: Path | str, count: int = 1, timeout: float = 10.0) -> list[EmailMessage]:
    """Poll until at least `count` messages are stored; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        messages = read_messages(maildir)
        if len(messages) >= count or time.monotonic() > deadline:
            if len(messages) < count:
                raise AssertionError(f"expected {count} message(s) in {maildir}, found {len(messages)} after {timeout}s")
            return messages
        time.sleep(0.1)
