"""The stack the bench starts must let its load through: a gateway limit below
the offered rate would measure the rate limiter, not the suite."""

from gateway.settings import Settings as GatewaySettings
from stack.config import StackConfig

PER_MINUTE_AT_700_A_SECOND = 700 * 60  # the highest rate the bench offers (the baseline's ceiling)


def test_the_bench_stack_s_gateway_lets_700_requests_a_second_through(monkeypatch):
    for key, value in StackConfig.for_profile("test").env().items():
        monkeypatch.setenv(key, value)
    gateway = GatewaySettings()
    assert gateway.webhook_rate_limit_per_minute >= PER_MINUTE_AT_700_A_SECOND
    assert gateway.rate_limit_per_minute >= PER_MINUTE_AT_700_A_SECOND
