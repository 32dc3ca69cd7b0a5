"""Exponential backoff with jitter, capped: how long an agent waits before its next claim.

Pure arithmetic plus a tiny stateful counter; the random source is injected so tests are exact.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_delay(failures: int, base: float, cap: float, jitter: float, rand: float) -> float:
    """The delay after `failures` consecutive empty or failed polls.

    `base * 2**failures`, capped at `cap`, then reduced by up to `jitter` of itself
    (`rand` in [0, 1)), so it never exceeds the cap and never falls under `(1 - jitter)` of it.

    Args:
        failures: consecutive polls that found nothing or failed (0 for a fruitful poll).
        base: the delay after a fruitful poll.
        cap: the longest delay.
        jitter: the fraction of the delay that may be taken off at random.
        rand: a random number in [0, 1).
    """
    exponent = min(failures, 62)  # 2**62 * base overflows nothing and exceeds any sane cap
    delay = min(cap, base * 2.0**exponent)
    return delay * (1.0 - jitter * rand)


class Backoff:
    """Counts consecutive idle or failed polls and says how long to wait next.

    Args:
        base: the delay after a fruitful poll.
        cap: the longest delay.
        jitter: the fraction of each delay taken off at random.
        rand: the random source (`random.random` by default).
    """

    def __init__(
        self,
        base: float,
        cap: float,
        jitter: float,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.base = base
        self.cap = cap
        self.jitter = jitter
        self.failures = 0
        self._rand = rand

    def success(self) -> float:
        """A poll found work: reset, and return the base delay (jittered)."""
        self.failures = 0
        return backoff_delay(0, self.base, self.cap, self.jitter, self._rand())

    def failure(self) -> float:
        """A poll found nothing or failed: the next, longer delay."""
        self.failures += 1
        return backoff_delay(self.failures, self.base, self.cap, self.jitter, self._rand())
