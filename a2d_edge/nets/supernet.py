"""The A2D supernet: a mixed op per block with architecture logits alpha (Eq. 10-11).

`soft` mode (the paper): each block outputs sum_i GS(alpha)_i * O_i(x), every candidate runs.
`hard` mode: straight-through Gumbel, only the sampled op runs forward; its output is scaled by
the one-hot weight (value 1) whose gradient is the soft weights' (Jang et al. 2017), so alpha
still learns. Sampling is separate from the forward: `sample_gumbel` draws the noise once, the
caller turns it into block weights with `gumbel_weights(alpha, noise, tau, hard)` and passes
the weights to `forward`, so a rollout and its update can share one sampled architecture.

Alpha holds logits (log alpha of Eq. 11); softmax(alpha) are the op probabilities. The code
lives in `nets.space` beside its space (`SearchSpace.supernet`); this module names it.
"""

from __future__ import annotations

from a2d_edge.nets.space import (
    MixedOp,
    Supernet,
    SupernetFeatures,
    as_agent,
    gumbel_weights,
    sample_gumbel,
)

__all__ = ["MixedOp", "Supernet", "SupernetFeatures", "as_agent", "gumbel_weights", "sample_gumbel"]
