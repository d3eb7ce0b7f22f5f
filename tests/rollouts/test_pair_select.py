"""rollouts.pair_select: the k-th pairwise difference equals the k-th of the sorted list of every x - y, exactly
(the same floats), on samples big enough for the selection to run (more than the few thousand it sorts outright),
with ties, negative values and lopsided sizes; and the Hodges-Lehmann shift built on it equals numpy's median of
the full difference matrix."""

from __future__ import annotations

import random

import numpy as np
import pytest

from rollouts.pair_select import kth_difference
from rollouts.stats import HL_MAX_PAIRS, hodges_lehmann


def _samples(rng: random.Random, m: int, n: int, style: str) -> tuple[list[float], list[float]]:
    if style == "ties":  # latencies recorded to a coarse clock: few distinct values, many equal differences
        return sorted(rng.choice([0.1, 0.2, 0.3, 1.5]) for _ in range(m)), sorted(
            rng.choice([0.1, 0.2, 0.4]) for _ in range(n)
        )
    if style == "shifted":
        return sorted(rng.gauss(-3, 2) for _ in range(m)), sorted(rng.gauss(1, 0.5) for _ in range(n))
    return sorted(rng.lognormvariate(0, 0.5) for _ in range(m)), sorted(rng.lognormvariate(0, 0.7) for _ in range(n))


@pytest.mark.parametrize("style", ["lognormal", "ties", "shifted"])
@pytest.mark.parametrize(("m", "n"), [(1, 1), (3, 7), (90, 110), (250, 750), (1000, 9)])
def test_kth_difference_is_the_sorted_list_entry(style: str, m: int, n: int) -> None:
    rng = random.Random(m * 1000 + n)
    xs, ys = _samples(rng, m, n, style)
    everything = sorted(x - y for x in xs for y in ys)
    for k in {0, len(everything) // 3, len(everything) // 2, len(everything) - 1, rng.randrange(len(everything))}:
        assert kth_difference(xs, ys, k) == everything[k]


def test_kth_difference_refuses_a_rank_outside_the_matrix() -> None:
    with pytest.raises(ValueError, match="k must be from 0 to 5"):
        kth_difference([1.0, 2.0], [1.0, 2.0, 3.0], 6)


@pytest.mark.parametrize("style", ["lognormal", "ties"])
def test_hodges_lehmann_is_the_median_of_every_difference(style: str) -> None:
    rng = random.Random(11)
    for m, n in ((250, 750), (301, 400), (2, 2)):
        xs, ys = _samples(rng, m, n, style)
        assert m * n <= HL_MAX_PAIRS
        assert hodges_lehmann(xs, ys) == float(np.median(np.subtract.outer(xs, ys)))
