"""Email addresses as the service stores them: parsed, never trusted as text."""

from email.headerregistry import Address

MAX_ADDRESS_LENGTH = 254  # RFC 5321's limit on a forward path, less the angle brackets


def parse_address(text: str) -> str | None:
    """The address in `text` (a bare addr-spec, e.g. the `email` claim of a token),
    normalised as `email.headerregistry.Address` reads it; None when it is not one
    we can send to. Only ASCII: the mailer does not speak SMTPUTF8."""
    if not text or len(text) > MAX_ADDRESS_LENGTH or not text.isascii():
        return None
    try:
        address = Address(addr_spec=text)
    except Exception:  # noqa: BLE001 - the parser raises ValueError, IndexError, AttributeError... on bad input
        return None
    if not address.username or not address.domain:
        return None
    return address.addr_spec
