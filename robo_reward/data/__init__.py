"""Datasets: LeRobotDataset v3 I/O, subtask annotations, recording from environments."""
