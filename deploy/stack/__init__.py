"""Callastar local stack runner: PostgreSQL, Kafka, stripe-mock, SMTP sink and the services on loopback."""

from stack.config import StackConfig
from stack.handle import StackHandle
from stack.procs import StackError

__all__ = ["StackConfig", "StackError", "StackHandle"]
