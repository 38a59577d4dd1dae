"""The A2D search (Algorithm 1): distilled Gumbel-softmax DNAS under a FLOPs / latency cost."""
