"""When a run counts as sustained, and how the suite is held against the baseline."""

from tests.load import floors
from tests.load.measured import Measured


def run(rate: float, latencies: list[float], cpu_s: float, offered: float = 100) -> Measured:
    """`latencies` in seconds, in the order accepted; as many payments as latencies, all committed."""
    n = len(latencies)
    return Measured(offered, n, n, n / offered, n / rate, latencies, {"PostgreSQL": cpu_s})


FLAT = [0.2, 0.3, 0.2, 0.3] * 25


def test_a_run_is_sustained_when_it_follows_the_offered_rate_and_its_latency_does_not_creep():
    assert run(98, FLAT, 1).sustained
    assert not run(80, FLAT, 1).sustained  # falls behind the offered 100/s
    assert not run(98, [0.2] * 50 + [0.9] * 50, 1).sustained  # the last quarter waits longer
    assert not Measured(100, 10, 9, 0.1, 0.1, [0.2] * 9, {}).sustained  # one never arrived


def test_the_floors_against_the_baseline():
    baseline = run(98, FLAT, 0.3)  # 3 ms of CPU per payment
    lines = floors.comparison(run(98, FLAT, 0.5), baseline, mix=False)
    assert "= 1.00; floor >= 0.5 sustained: met" in lines[1]
    assert "floor <= 500 ms: met" in lines[2]
    assert "= 1.67; floor <= 2x: met" in lines[3]
    slow = floors.comparison(run(98, [0.2] * 50 + [0.9] * 50, 0.7), baseline, mix=False)
    assert "floor >= 0.5 sustained: NOT met" in slow[1]  # not sustained, whatever the ratio
    assert "floor <= 500 ms: NOT met" in slow[2]
    assert "floor <= 2x: NOT met" in slow[3]


def test_the_mix_is_held_to_its_own_rate_floor_and_no_cpu_floor():
    lines = floors.comparison(run(40, FLAT, 0.5, offered=40), run(100, FLAT, 0.3), mix=True)
    assert "= 0.40; floor >= 0.35 sustained: met" in lines[1]
    assert "floor" not in lines[2]
