"""Benchmarks: simulator speed, reward-model latency and throughput, peers, baselines. Above every
other layer, so a benchmark may import whatever it measures."""
