"""Rank correlations against hand-computed values."""

import numpy as np
import pytest

from a2d_edge.utils.stats import average_ranks, kendall_tau_b, spearman


def test_ties_share_their_average_rank():
    assert average_ranks([3.0, 1.0, 3.0, 2.0]) == [3.5, 1.0, 3.5, 2.0]


def test_spearman_of_a_swapped_pair():
    # ranks 1 2 3 4 against 1 2 4 3: d^2 sums to 2, rho = 1 - 6*2 / (4*15) = 0.8
    assert spearman([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_kendall_tau_b_by_hand():
    # 6 pairs, one discordant (3,4): (5 - 1) / 6
    assert kendall_tau_b([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(4 / 6)
    # a tie in b: pairs (1,2) conc, (1,3) conc, (2,3) tied in b -> 2 / sqrt(3 * 2)
    assert kendall_tau_b([1, 2, 3], [1, 2, 2]) == pytest.approx(2 / 6**0.5)


def test_kendall_tau_b_orders_and_ties_in_either_sequence():
    assert kendall_tau_b([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau_b([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # a tie in a: pairs (1,2) +1, (1,3) +1, (2,3) 0 -> 2 / sqrt(2 * 3)
    assert kendall_tau_b([1, 2, 2], [1, 2, 3]) == pytest.approx(2 / 6**0.5)
    # numpy arrays, as the table checks pass them
    assert kendall_tau_b(np.array([1.0, 3.0, 2.0]), np.array([0.1, 0.3, 0.2])) == pytest.approx(1.0)


def test_a_constant_or_short_sequence_is_refused():
    with pytest.raises(ValueError):
        kendall_tau_b([1, 1, 1], [1, 2, 3])
    with pytest.raises(ValueError):
        spearman([1], [2])


def test_pool_equals_the_statistics_of_the_joined_episodes():
    from a2d_edge.utils.stats import pool

    # [1, 3] (mean 2, std 1) and [6] (mean 6, std 0): joined [1, 3, 6], mean 10/3,
    # population variance (49/9 + 1/9 + 64/9) / 3 = 114/27
    mean, std, n = pool((2.0, 1.0, 2), (6.0, 0.0, 1))
    assert n == 3 and mean == pytest.approx(10 / 3) and std == pytest.approx((114 / 27) ** 0.5)
    with pytest.raises(ValueError):
        pool((0.0, 0.0, 0), (0.0, 0.0, 0))


def test_se_difference_by_hand():
    from a2d_edge.utils.stats import se_difference

    # se = sqrt(4/4 + 9/9) = sqrt(2); (5 - 3) / sqrt(2)
    assert se_difference((5.0, 2.0, 4), (3.0, 3.0, 9)) == pytest.approx(2 / 2**0.5)
    assert se_difference((3.0, 3.0, 9), (5.0, 2.0, 4)) == pytest.approx(-(2**0.5))
    assert se_difference((1.0, 0.0, 5), (1.0, 0.0, 5)) == 0.0
