"""Email delivery: how long to wait before trying a failed email again."""


def retry_delay(attempts: int, *, base_s: float, cap_s: float) -> float:
    """Seconds before the next try after `attempts` failed ones: doubling, capped."""
    return min(cap_s, base_s * 2 ** max(attempts - 1, 0))
