"""Plots, progress-overlay videos and reports."""
