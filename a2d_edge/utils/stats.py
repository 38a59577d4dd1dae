"""Rank correlations (pure functions; ties get average ranks, Kendall's is tau-b): how well a
selection proxy ranks archs against their trained scores, and a latency table its archs against
their measured times."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations


def average_ranks(xs: Sequence[float]) -> list[float]:
    """1-based ranks, ties sharing the mean of the ranks they span."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    ranks = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def _pearson(a: Sequence[float], b: Sequence[float]) -> float:
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    if va == 0 or vb == 0:
        raise ValueError("a constant sequence has no rank correlation")
    return cov / (va * vb) ** 0.5


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho: the Pearson correlation of the average ranks."""
    _check(a, b)
    return _pearson(average_ranks(a), average_ranks(b))


def kendall_tau_b(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b: (concordant - discordant) / sqrt((n0 - ties_a)(n0 - ties_b))."""
    _check(a, b)
    conc = disc = ties_a = ties_b = 0
    for i, j in combinations(range(len(a)), 2):
        da, db = a[i] - a[j], b[i] - b[j]
        if da == 0:
            ties_a += 1
        if db == 0:
            ties_b += 1
        if da * db > 0:
            conc += 1
        elif da * db < 0:
            disc += 1
    n0 = len(a) * (len(a) - 1) // 2
    denom = ((n0 - ties_a) * (n0 - ties_b)) ** 0.5
    if denom == 0:
        raise ValueError("a constant sequence has no rank correlation")
    return (conc - disc) / denom


def _check(a: Sequence[float], b: Sequence[float]) -> None:
    if len(a) != len(b) or len(a) < 2:
        raise ValueError("rank correlation needs two sequences of the same length >= 2")


def pool(a: tuple[float, float, int], b: tuple[float, float, int]) -> tuple[float, float, int]:
    """Two samples' (mean, population std, n) as one sample's, as if all episodes were one list."""
    n = a[2] + b[2]
    if n <= 0:
        raise ValueError("pool needs at least one episode")
    mean = (a[0] * a[2] + b[0] * b[2]) / n
    var = sum(k * (s * s + (m - mean) ** 2) for m, s, k in (a, b)) / n
    return mean, var**0.5, n


def se_difference(a: tuple[float, float, int], b: tuple[float, float, int]) -> float:
    """(mean_a − mean_b) in standard errors of the difference of two samples (mean, std, n)."""
    se = (a[1] ** 2 / a[2] + b[1] ** 2 / b[2]) ** 0.5
    return (a[0] - b[0]) / se if se > 0 else 0.0
