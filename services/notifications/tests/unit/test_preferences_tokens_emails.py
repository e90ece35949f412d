"""Preferences validation, unsubscribe tokens, email rendering and addresses: pure parts."""

import time
import uuid
from email import policy
from email.parser import BytesParser

import pytest

from notifications import domain, mailer, models, tokens
from notifications.domain import InvalidPreferences, NotificationType
from notifications.settings import Settings
from notifications.tokens import InvalidToken
from tests.support.mail import list_unsubscribe_url, raw_header

SECRET = "test-secret"
NOW = 1_800_000_000


def test_preference_changes_name_only_the_channels_given() -> None:
    changes = domain.parse_preferences({"preferences": [
        {"type": "PAYOUT_PAID", "email": False},
        {"type": "PAYMENT_RECEIVED", "in_app": False, "email": True},
    ]})
    assert changes == {NotificationType.PAYOUT_PAID: {"email": False},
                       NotificationType.PAYMENT_RECEIVED: {"in_app": False, "email": True}}


@pytest.mark.parametrize("body", [
    None,
    [],
    {},
    {"preferences": {"type": "PAYOUT_PAID"}},
    {"preferences": [], "extra": 1},
    {"preferences": ["PAYOUT_PAID"]},
    {"preferences": [{"email": False}]},
    {"preferences": [{"type": "NOT_A_TYPE", "email": False}]},
    {"preferences": [{"type": "PAYOUT_PAID"}]},
    {"preferences": [{"type": "PAYOUT_PAID", "sms": False}]},
    {"preferences": [{"type": "PAYOUT_PAID", "email": "no"}]},
    {"preferences": [{"type": "PAYOUT_PAID", "email": 0}]},
    {"preferences": [{"type": "PAYOUT_PAID", "email": False}, {"type": "PAYOUT_PAID", "in_app": True}]},
])
def test_malformed_preferences_are_refused(body: object) -> None:
    with pytest.raises(InvalidPreferences):
        domain.parse_preferences(body)


@pytest.mark.parametrize("type_", sorted(domain.CRITICAL_IN_APP))
def test_critical_types_cannot_be_hidden_in_the_app(type_: NotificationType) -> None:
    with pytest.raises(InvalidPreferences, match="critical"):
        domain.parse_preferences({"preferences": [{"type": type_.value, "in_app": False}]})


@pytest.mark.parametrize("type_", sorted(domain.CRITICAL_IN_APP))
def test_critical_types_can_still_stop_emailing(type_: NotificationType) -> None:
    assert domain.parse_preferences({"preferences": [{"type": type_.value, "email": False}]}) == {
        type_: {"email": False}
    }


def test_the_critical_set_is_the_documented_one() -> None:
    assert domain.CRITICAL_IN_APP == {NotificationType.PAYOUT_FAILED, NotificationType.DISPUTE_CREATED}


def test_retry_delay_doubles_up_to_the_cap() -> None:
    delays = [domain.retry_delay(n, base_s=2, cap_s=60) for n in range(1, 8)]
    assert delays == [2, 4, 8, 16, 32, 60, 60]


def test_an_unsubscribe_token_reads_back_who_and_which_type() -> None:
    token = tokens.sign("creator_1", NotificationType.PAYOUT_PAID, secret=SECRET, now=NOW, ttl_s=60)
    found = tokens.verify(token, secret=SECRET, now=NOW + 59)
    assert (found.user_id, found.type, found.expires_at) == ("creator_1", NotificationType.PAYOUT_PAID, NOW + 60)


def test_an_expired_token_is_refused() -> None:
    token = tokens.sign("creator_1", NotificationType.PAYOUT_PAID, secret=SECRET, now=NOW, ttl_s=60)
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(token, secret=SECRET, now=NOW + 60)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = tokens.sign("creator_1", NotificationType.PAYOUT_PAID, secret="other", now=NOW, ttl_s=60)
    with pytest.raises(InvalidToken, match="not valid"):
        tokens.verify(token, secret=SECRET, now=NOW)


def test_a_token_whose_payload_was_changed_is_refused() -> None:
    token = tokens.sign("creator_1", NotificationType.PAYOUT_PAID, secret=SECRET, now=NOW, ttl_s=60)
    other = tokens.sign("creator_2", NotificationType.PAYOUT_PAID, secret="whatever", now=NOW, ttl_s=60)
    forged = f"{other.split('.')[0]}.{token.split('.')[1]}"
    with pytest.raises(InvalidToken):
        tokens.verify(forged, secret=SECRET, now=NOW)


@pytest.mark.parametrize("token", ["", ".", "abc", "abc.def", "a.b.c", "\u00e9.\u00e9"])
def test_garbage_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidToken):
        tokens.verify(token, secret=SECRET, now=NOW)


def test_an_email_has_both_parts_and_escapes_html_only_in_the_html() -> None:
    rendered = mailer.render(
        type_=NotificationType.PAYOUT_FAILED, title="Payout <failed>",
        body='Reason: <script>alert("x")</script> & more', link_url="https://app.example/payouts/1?a=1&b=2",
        unsubscribe_url="https://app.example/api/notifications/unsubscribe?token=t.s",
    )
    assert rendered.subject == "Payout <failed>"
    assert '<script>alert("x")</script> & more' in rendered.text
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in rendered.html
    assert "<h1 style=\"font-size: 18px;\">Payout &lt;failed&gt;</h1>" in rendered.html
    assert 'href="https://app.example/payouts/1?a=1&amp;b=2"' in rendered.html
    for part in (rendered.text, rendered.html):
        assert "https://app.example/api/notifications/unsubscribe?token=t.s" in part
        assert "payout failed" in part


def _composed(user_id: str) -> bytes:
    settings = Settings(public_url="https://app.example")
    notification = models.Notification(id=uuid.uuid4(), type="PAYOUT_PAID", title="Your payout is paid",
                                       body="b", link=None)
    delivery = models.EmailDelivery(id=7, user_id=user_id, to_address="someone@example.test")
    return mailer.compose(settings, delivery, notification).as_bytes(policy=mailer.WIRE)


@pytest.mark.parametrize("user_id", ["creator_1", "creator_" + "x" * 300])
def test_list_unsubscribe_goes_out_as_a_plain_url_a_client_reads(user_id: str) -> None:
    message = BytesParser(policy=policy.default).parsebytes(_composed(user_id))
    url = list_unsubscribe_url(message)
    assert url.startswith("https://app.example/api/notifications/unsubscribe?token=")
    found = tokens.verify(url.partition("?token=")[2], secret=Settings().unsubscribe_secret, now=int(time.time()))
    assert (found.user_id, found.type) == (user_id, NotificationType.PAYOUT_PAID)
    assert raw_header(message, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"


def test_no_line_on_the_wire_is_longer_than_smtp_allows() -> None:
    assert max(len(line) for line in _composed("creator_1").split(b"\r\n")) <= 998


@pytest.mark.parametrize(("text", "stored"), [
    ("ann@example.test", "ann@example.test"),
    ("Ann.Lee+calls@Example.TEST", "Ann.Lee+calls@Example.TEST"),
    ("ann(work)@example.test", "ann@example.test"),
    ('"ann lee"@example.test', '"ann lee"@example.test'),
])
def test_addresses_are_stored_as_parsed(text: str, stored: str) -> None:
    assert domain.parse_address(text) == stored


@pytest.mark.parametrize("text", [
    "", "ann", "ann@", "@example.test", "ann@[example", "ann@example..test", "ann@@example.test",
    "ann@x@example.test", "a,b@example.test", "Ann <ann@example.test>", "ann@example.test\r\nBcc: x@y.test",
    "\u00e9@example.test", "ann@\u00e9xample.test", "ann\x00@example.test", "a" * 250 + "@example.test",
])
def test_what_is_not_an_address_we_can_send_to_is_refused(text: str) -> None:
    assert domain.parse_address(text) is None
