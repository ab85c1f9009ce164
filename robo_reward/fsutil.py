"""Atomic folder writes: build in a staging folder next to the target, then swap it in with
renames, so a killed process leaves either the old folder or the new one, never half of one."""

from __future__ import annotations

import shutil
from pathlib import Path


def staging_dir(target: Path) -> Path:
    """An empty staging folder next to `target` (same filesystem, so the final rename is atomic)."""
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    return tmp


def swap_in(staged: Path, target: Path) -> Path:
    """Replace `target` by `staged` (the old one is kept aside until the new one is in place)."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target
