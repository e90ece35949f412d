import pytest
from pydantic import ValidationError

from gateway.proxies import parse_networks
from gateway.settings import Settings


def test_trusted_proxies_are_addresses_or_blocks():
    assert [str(n) for n in parse_networks(" 10.0.0.0/8, 192.168.1.7 ,, ::1")] == ["10.0.0.0/8", "192.168.1.7/32",
                                                                                   "::1/128"]
    assert parse_networks("") == ()


def test_a_mistyped_trusted_proxy_stops_the_start():
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(trusted_proxies="10.0.0.0/8, lb.internal")
