"""The one search package. The distillation search: a supernet trained by distillation
(`trainer`, `phase`, `pipeline.supernet_phase`), selection under a latency budget (`select`:
evolution, gradient, exhaustive), the finish and the evaluation (`finish`); its budget, teacher
and refusals (`start`, `prepare`). The paper's RL-driven DNAS (Algorithm 1: distilled
Gumbel-softmax DNAS under a FLOPs / latency cost) is a method beside it (`rl`, `cost`)."""
