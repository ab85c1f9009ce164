"""sensor_msgs Image / CompressedImage <-> numpy without cv_bridge (not on PyPI). Works on any object
with the message's fields, so it is unit-tested without ROS."""

from __future__ import annotations

import cv2
import numpy as np

ENCODINGS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


class ImageError(ValueError):
    pass


def image_to_rgb(msg, expect_hw: tuple[int, int] | None = None, topic: str = "") -> np.ndarray:
    """uint8 [H, W, 3] RGB from a sensor_msgs/Image (rgb8, bgr8, rgba8, bgra8, mono8)."""
    enc = str(msg.encoding).lower()
    if enc not in ENCODINGS:
        raise ImageError(f"{topic}: image encoding {msg.encoding!r} is not supported (use one of {sorted(ENCODINGS)})")
    ch = ENCODINGS[enc]
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    buf = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    if step < w * ch or buf.size < step * h:
        raise ImageError(f"{topic}: image data has {buf.size} bytes, expected {h} rows of {step} (>= {w * ch}) bytes")
    img = buf[: step * h].reshape(h, step)[:, : w * ch].reshape(h, w, ch)
    if enc == "mono8":
        img = np.repeat(img, 3, axis=2)
    elif enc in ("bgr8", "bgra8"):
        img = img[:, :, 2::-1]
    else:
        img = img[:, :, :3]
    return _check_size(np.ascontiguousarray(img), expect_hw, topic)


def compressed_to_rgb(msg, expect_hw: tuple[int, int] | None = None, topic: str = "") -> np.ndarray:
    """uint8 [H, W, 3] RGB from a sensor_msgs/CompressedImage (jpeg/png; OpenCV decodes to BGR)."""
    img = cv2.imdecode(np.frombuffer(bytes(msg.data), dtype=np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageError(f"{topic}: compressed image (format {msg.format!r}) does not decode")
    return _check_size(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), expect_hw, topic)


def _check_size(img: np.ndarray, expect_hw: tuple[int, int] | None, topic: str) -> np.ndarray:
    if expect_hw is not None and img.shape[:2] != tuple(expect_hw):
        raise ImageError(f"{topic}: image is {img.shape[0]}x{img.shape[1]}, the profile expects {expect_hw[0]}x{expect_hw[1]}")
    return img


def rgb_to_image_fields(img: np.ndarray) -> dict:
    """Field values for a sensor_msgs/Image holding `img` (rgb8)."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ImageError(f"expected an RGB image [H, W, 3], got shape {img.shape}")
    h, w, _ = img.shape
    return {"height": h, "width": w, "encoding": "rgb8", "is_bigendian": 0, "step": w * 3, "data": img.tobytes()}
