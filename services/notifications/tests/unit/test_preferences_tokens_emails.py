"""Preferences validation, unsubscribe tokens and email rendering: pure parts."""

import pytest

from notifications import domain, mailer, tokens
from notifications.domain import InvalidPreferences, NotificationType
from notifications.tokens import InvalidToken

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
