"""SMTP sink: accepts every message and stores it as a .eml file in a folder.

    python -m stack.smtp_sink --port 8025 --maildir .state/dev/mail
"""

from __future__ import annotations

import argparse
import signal
import threading
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


class MaildirHandler:
    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd API
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"
        headers = (
            f"X-Callastar-Mail-From: {envelope.mail_from}\r\n"
            f"X-Callastar-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode()
        body = envelope.original_content or envelope.content
        if isinstance(body, str):
            body = body.encode()
        tmp = self.maildir / f".{name}.tmp"
        tmp.write_bytes(headers + body)
        tmp.replace(self.maildir / name)  # readers never see a half-written file
        return "250 Message accepted for delivery"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args(argv)
    args.maildir.mkdir(parents=True, exist_ok=True)
    controller = Controller(MaildirHandler(args.maildir), hostname=args.host, port=args.port)
    controller.start()
    print(f"SMTP sink listening on {args.host}:{args.port}, storing mail in {args.maildir}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
