"""The suite against the no-framework baseline of the same run (issue 13): its
floors, as printed figures, not asserts."""

from tests.load.measured import Measured

RATE_FLOOR = 0.5  # suite's sustained payment rate / baseline's
MIX_RATE_FLOOR = 0.35  # mix's sustained rate / baseline's payment rate
P99_CEILING_S = 0.5  # the suite's p99 at its rate
CPU_CEILING = 2.0  # suite's CPU per payment event / baseline's


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def sustained_word(run: Measured) -> str:
    return "sustained" if run.sustained else "not sustained"


def comparison(suite: Measured, baseline: Measured, *, mix: bool) -> list[str]:
    rate_ratio = suite.rate / baseline.rate
    cpu_ratio = suite.cpu_per_event / baseline.cpu_per_event
    floor = MIX_RATE_FLOOR if mix else RATE_FLOOR
    lines = [
        f"suite / baseline ({'mix' if mix else 'payments'} against baseline payments):",
        f"  end-to-end rate: {suite.rate:.0f}/s ({sustained_word(suite)}) / {baseline.rate:.0f}/s "
        f"({sustained_word(baseline)}) = {rate_ratio:.2f}; floor >= {floor} sustained: "
        f"{verdict(suite.sustained and rate_ratio >= floor)}",
    ]
    if not mix:
        p99 = suite.latency(99)
        lines.append(f"  p99 at that rate: {p99 * 1000:.0f} ms (baseline {baseline.latency(99) * 1000:.0f} ms); "
                     f"floor <= {P99_CEILING_S * 1000:.0f} ms: {verdict(p99 <= P99_CEILING_S)}")
    cpu = (f"  CPU per {'event' if mix else 'payment event'}: {suite.cpu_per_event * 1000:.2f} ms / "
           f"{baseline.cpu_per_event * 1000:.2f} ms = {cpu_ratio:.2f}")
    # The CPU floor is the payment path's; a mix's events cost more by design.
    lines.append(cpu if mix else f"{cpu}; floor <= {CPU_CEILING:.0f}x: {verdict(cpu_ratio <= CPU_CEILING)}")
    if not baseline.sustained:
        lines.append("  (the baseline did not keep pace with the rate offered to it either: offer it less, "
                     "or measure on an idle machine)")
    return lines
