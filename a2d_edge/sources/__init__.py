"""Where agents come from: `zoo:NAME`, a path to an `agent.pt`, and the agents of other
libraries (`a2d import`: SB3 / rl-zoo zips, CleanRL state dicts). Name resolution lives in
`sources.names` alone."""
