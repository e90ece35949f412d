"""What one timed run of payment webhooks measured, and whether it was sustained."""

from dataclasses import dataclass


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


# An open-loop run keeps pace when its end-to-end rate follows the offered one;
# the tail after the last webhook (one batch, a few hundred ms) costs a few percent.
FOLLOWS_OFFERED = 0.9


@dataclass(frozen=True)
class Measured:
    offered: float  # webhooks/s offered (open loop); 0: as fast as answered
    accepted: int
    committed: int
    push_seconds: float
    all_seconds: float
    latencies: list[float]  # seconds from "accepted" to "ledger entry written", in the order accepted
    cpu: dict[str, float]  # CPU seconds per part of the stack that did this run's work

    @property
    def rate(self) -> float:
        """End to end: ledger entries written per second, from the first webhook to the last entry."""
        return self.committed / self.all_seconds

    @property
    def cpu_per_event(self) -> float:
        return sum(self.cpu.values()) / self.committed

    def latency(self, p: float) -> float:
        return percentile(sorted(self.latencies), p)

    def quarter_p50s(self) -> list[float]:
        n = len(self.latencies)
        quarters = [sorted(self.latencies[q * n // 4:(q + 1) * n // 4]) for q in range(4)]
        return [percentile(q, 50) for q in quarters if q]

    @property
    def sustained(self) -> bool:
        """The end-to-end rate follows the offered one and the last quarter's p50
        latency is no higher than the first's."""
        p50s = self.quarter_p50s()
        follows = not self.offered or self.rate >= FOLLOWS_OFFERED * self.offered
        return self.committed == self.accepted and follows and bool(p50s) and p50s[-1] <= p50s[0]
