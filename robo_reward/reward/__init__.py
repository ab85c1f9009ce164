"""The General Reward Model: multi-view, stage-aware, step-discretized progress from hops."""
