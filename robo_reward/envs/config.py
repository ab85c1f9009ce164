"""Simulation configuration (one frozen dataclass: the CLI flags and the saved config)."""

from __future__ import annotations

from dataclasses import dataclass, field

IMAGE_SIZE_RANGE = (32, 512)


@dataclass(frozen=True)
class SimConfig:
    image_size: int = field(default=96, metadata={"help": "square camera image size in pixels"})
    cameras: tuple[str, ...] = field(default=("front", "side", "wrist"), metadata={"help": "cameras to render"})
    control: str = field(default="ee", metadata={"help": "ee (end-effector deltas + gripper) or joint (joint targets + gripper)"})
    control_hz: float = field(default=0.0, metadata={"help": "control rate in Hz, 10-20 (0: the task's default: 10 for the suite, 20 for MetaWorld)"})
    max_steps: int = field(default=0, metadata={"help": "episode time limit in control steps (0: the task's default)"})
    end_on_success: bool = field(default=True, metadata={
        "help": "success ends the episode (off: it runs on to the time limit, as on a real arm where the reward model "
                "judges success; the success flag stays the simulator's)"})
    after_success: int = field(default=0, metadata={
        "help": "with end_on_success: the episode ends this many control steps after the first success, not on it (a "
                "recording's tail, the success state held); the outcome is judged on the last step"})
    visual_shift: bool = field(default=False, metadata={"help": "move cameras and change lights/colours beyond training ranges"})
    randomize_appearance: bool = field(default=False, metadata={
        "help": "MetaWorld: draw each episode's lights, table tint, object colours and camera placement from the "
                "suite's training ranges (the suite always does; MetaWorld otherwise renders every episode alike)"})
    shift_parts: tuple[str, ...] = field(default=("camera", "light", "colour"), metadata={
        "help": "which parts of --visual-shift apply (a diagnostic; the rest stay in the training ranges)"})

    def validate(self) -> None:
        lo, hi = IMAGE_SIZE_RANGE
        if not lo <= self.image_size <= hi:
            raise ValueError(f"image size {self.image_size} out of range [{lo}, {hi}]")
        if self.control not in ("ee", "joint"):
            raise ValueError(f"control must be 'ee' or 'joint', got {self.control!r}")
        if self.control_hz and not 10.0 <= self.control_hz <= 20.0:
            raise ValueError(f"control_hz {self.control_hz} outside the supported 10-20 Hz")
        if not self.cameras:
            raise ValueError("at least one camera is required")
        if self.visual_shift and self.randomize_appearance:
            raise ValueError("visual_shift and randomize_appearance both set: a scene is drawn from the shifted ranges "
                             "(test) or the training ranges (training data), not both")
        if self.after_success < 0:
            raise ValueError(f"after_success must be >= 0, got {self.after_success}")

    def success_ends(self, first_success: int | None, step: int) -> bool:
        """Whether the episode ends at `step` given the step of its first success (None: not yet)."""
        return self.end_on_success and first_success is not None and step - first_success >= self.after_success
