"""Online RL: replay buffers, a SAC learner in the RLPD / HIL-SERL style, the environment loop."""
