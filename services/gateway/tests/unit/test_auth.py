import time

import jwt
import pytest

from common.http import Identity
from gateway.auth import AUDIENCE, ISSUER, InvalidToken, issue_token, verify_token

SECRET = "unit-test-jwt-secret-0123456789abcdef"


def token(**overrides: object) -> str:
    now = int(time.time())
    claims = {"sub": "user-1", "role": "fan", "iss": ISSUER, "aud": AUDIENCE, "iat": now,
              "exp": now + 600} | overrides
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def test_valid_token_gives_the_identity():
    assert verify_token(token(sub="creator-9", role="creator"), SECRET) == Identity("creator-9", "creator")


def test_issued_token_verifies():
    assert verify_token(issue_token("admin-1", "admin", SECRET), SECRET) == Identity("admin-1", "admin")


def test_expired_token_is_refused():
    with pytest.raises(InvalidToken, match="expired"):
        verify_token(token(exp=int(time.time()) - 60), SECRET)


def test_token_without_exp_is_refused():
    with pytest.raises(InvalidToken, match="exp"):
        verify_token(token(exp=None), SECRET)


@pytest.mark.parametrize(
    "claim", [{"iss": "someone-else"}, {"aud": "other-api"}, {"iss": None}, {"aud": None}]
)
def test_wrong_or_missing_issuer_or_audience_is_refused(claim):
    with pytest.raises(InvalidToken):
        verify_token(token(**claim), SECRET)


def test_token_signed_with_another_secret_is_refused():
    forged = jwt.encode(jwt.decode(token(), options={"verify_signature": False}),
                        "another-secret-0123456789abcdef0123", algorithm="HS256")
    with pytest.raises(InvalidToken, match="[Ss]ignature"):
        verify_token(forged, SECRET)


def test_unsigned_token_is_refused():
    unsigned = jwt.encode(jwt.decode(token(), options={"verify_signature": False}), None,
                          algorithm="none")
    with pytest.raises(InvalidToken):
        verify_token(unsigned, SECRET)


@pytest.mark.parametrize("role", ["superuser", "", None, "Admin"])
def test_unknown_role_is_refused(role):
    with pytest.raises(InvalidToken, match="role"):
        verify_token(token(role=role), SECRET)


def test_token_without_subject_is_refused():
    with pytest.raises(InvalidToken):
        verify_token(token(sub=None), SECRET)


def test_garbage_is_refused():
    with pytest.raises(InvalidToken):
        verify_token("not.a.jwt", SECRET)


@pytest.mark.parametrize(
    "subject", ["=HYPERLINK(\"http://x\")", "+cmd", "-1", "@SUM(A1)", "fan 1", "fan\n1", "<b>fan</b>", "a/b",
                "x" * 129, "fän-1", "fan\x00"],
)
def test_a_subject_outside_the_safe_characters_is_refused(subject):
    # the subject becomes a creator or fan id in CSV exports, emails, logs and headers
    with pytest.raises(InvalidToken, match="subject"):
        verify_token(token(sub=subject), SECRET)


def test_a_subject_of_safe_characters_is_accepted():
    assert verify_token(token(sub="creator_1.a:b-C"), SECRET).user_id == "creator_1.a:b-C"


@pytest.mark.parametrize("email", ["fän@example.com", "fan@exämple.com", "fan@example.com\r\nBcc: x@y.z",
                                   "fan\x00@example.com", "not an address", "a@b.c, d@e.f", "@example.com",
                                   "fan@", 42, ""])
def test_an_email_claim_that_is_not_a_plain_address_is_refused(email):
    with pytest.raises(InvalidToken, match="email"):
        verify_token(token(email=email), SECRET)


def test_the_email_claim_is_passed_on_as_parsed():
    assert verify_token(token(email="fan.one+tag@example.com"), SECRET).email == "fan.one+tag@example.com"
    assert verify_token(token(), SECRET).email is None


def test_a_token_living_longer_than_the_maximum_is_refused():
    now = int(time.time())
    with pytest.raises(InvalidToken, match="longer than 86400"):
        verify_token(token(iat=now, exp=now + 86400 + 1), SECRET)
    assert verify_token(token(iat=now, exp=now + 86400), SECRET) == Identity("user-1", "fan")
    with pytest.raises(InvalidToken, match="longer than 600"):
        verify_token(token(iat=now, exp=now + 601), SECRET, max_lifetime_s=600)


def test_a_token_without_iat_is_refused():
    with pytest.raises(InvalidToken, match="iat"):
        verify_token(token(iat=None), SECRET)


@pytest.mark.parametrize("claim", ["iat", "exp"])
def test_a_time_claim_written_as_a_string_is_refused(claim):
    now = int(time.time())
    with pytest.raises(InvalidToken, match="numbers"):
        verify_token(token(**{claim: str(now + 60 if claim == "exp" else now)}), SECRET)
