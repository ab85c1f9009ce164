"""Behaviour cloning with action chunks, and reward-aligned sample weighting (RA-BC)."""
