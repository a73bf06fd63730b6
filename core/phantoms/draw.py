"""Shared drawing helpers: smooth random fields, soft shapes, pose grids.

Everything is vectorised over the whole image (numpy + OpenCV), so a 256-px phantom takes a few
milliseconds. Shapes are described by approximate signed distances (negative inside) in the
caller's units and turned into anti-aliased coverage by `coverage`, which keeps edges smooth at any
output size (a 64-px test image and a 450-px smear use the same code).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

Array = np.ndarray


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int],
                 cell: float | tuple[float, float], wrap_x: bool = False) -> Array:
    """A smooth random field with features about ``cell`` pixels wide.

    Args:
        rng: source of randomness.
        shape: (height, width) of the field.
        cell: feature size in pixels (>= 1), or (along y, along x) for an anisotropic field.
        wrap_x: make the field periodic in x (for textures indexed by an angle).

    Returns:
        float32 array, zero mean and unit standard deviation (approximately).
    """
    h, w = shape
    cy, cx = (cell, cell) if np.isscalar(cell) else cell
    cy, cx = max(float(cy), 1.0), max(float(cx), 1.0)
    gh, gw = int(np.ceil(h / cy)) + 2, int(np.ceil(w / cx)) + 2
    coarse = rng.standard_normal((gh, gw)).astype(np.float32)
    if wrap_x:  # the seam sees the same lattice values on both sides
        gw = max(int(round(w / cx)), 2)
        coarse = np.concatenate([coarse[:, :gw]] * 3, axis=1)
        field = cv2.resize(coarse, (3 * w, h), interpolation=cv2.INTER_CUBIC)[:, w:2 * w]
    else:
        # Cubic upsampling of a coarse lattice is a cheap band-limited noise (no FFT needed).
        field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    field = field - field.mean()
    return np.ascontiguousarray(field / (field.std() + 1e-6), dtype=np.float32)


_LUT = 2048


def fourier_profile(rng: np.random.Generator, theta: Array, amps: Sequence[float]) -> Array:
    """A random periodic function of an angle: sum of a_k cos(k theta + phase_k), k = 1, 2, ...

    Used for irregular outlines (tumour margins, nuclei, scalp thickness). Amplitudes are jittered
    so no two outlines share a spectrum. Evaluated through a lookup table (fast on big images).
    """
    grid = np.linspace(-np.pi, np.pi, _LUT, endpoint=False)
    table = np.zeros(_LUT, np.float32)
    for k, a in enumerate(amps, start=1):
        if a:
            table += a * rng.uniform(0.5, 1.5) * np.cos(k * grid + rng.uniform(0, 2 * np.pi))
    return table[angle_index(theta, _LUT)]


def angle_index(theta: Array, n: int) -> Array:
    """Index of each angle (radians) into a table of ``n`` samples over one turn."""
    return (np.floor((theta + np.pi) * (n / (2 * np.pi))).astype(np.int32)) % n


def coverage(sd: Array, aa: float) -> Array:
    """Anti-aliased inside-fraction of a shape from its signed distance (negative inside).

    Args:
        sd: signed distance in the caller's units.
        aa: the width of one pixel in those units.
    """
    return np.clip(0.5 - sd * float(1.0 / aa), 0.0, 1.0)


def ellipse_sd(x: Array, y: Array, cx: float, cy: float, ax: float, ay: float,
               angle: float = 0.0) -> Array:
    """Approximate signed distance to a rotated ellipse (first-order, exact on the outline)."""
    # Plain Python floats keep the arithmetic in float32 (numpy scalars would promote to float64).
    cx, cy, iax, iay = float(cx), float(cy), 1.0 / float(ax), 1.0 / float(ay)
    dx, dy = x - cx, y - cy
    if angle:
        c, s = float(np.cos(angle)), float(np.sin(angle))
        dx, dy = dx * c + dy * s, dy * c - dx * s
    u, v = dx * iax, dy * iay
    r = np.sqrt(u * u + v * v)
    # |grad r| turns the level-set value into a distance near the outline.
    gu, gv = u * iax, v * iay
    grad = np.sqrt(gu * gu + gv * gv)
    return (r - 1.0) * r / np.maximum(grad, 1e-6)


def window(x: Array, y: Array, cx: float, cy: float, radius: float,
           step: int = 8) -> tuple[slice, slice] | None:
    """Pixel window holding every pixel whose object coordinates lie within ``radius`` of (cx, cy).

    Small shapes are then drawn on the window only. The test runs on a coarse subsample of the
    (smooth) coordinate grids and is widened by one coarse cell, so nothing is cut off.
    """
    near = (np.abs(x[::step, ::step] - cx) < radius) & (np.abs(y[::step, ::step] - cy) < radius)
    rows, cols = np.flatnonzero(near.any(axis=1)), np.flatnonzero(near.any(axis=0))
    if rows.size == 0:
        return None
    return (slice(max(int(rows[0]) - 1, 0) * step, (int(rows[-1]) + 2) * step),
            slice(max(int(cols[0]) - 1, 0) * step, (int(cols[-1]) + 2) * step))


def paint_ellipse(img: Array, x: Array, y: Array, value: Array | float, centre: tuple[float, float],
                  axes: tuple[float, float], aa: float, angle: float = 0.0, soft: float = 1.0,
                  alpha: float = 1.0) -> tuple[tuple[slice, slice], Array] | None:
    """Paint an anti-aliased ellipse in place (on its window only).

    Args:
        img: float image, modified in place.
        x, y: object coordinates of every pixel.
        value: intensity (scalar, or an image-sized array such as a texture).
        centre, axes, angle: the ellipse in object units / radians.
        aa: one pixel in object units; ``soft`` widens the edge by that many pixels.
        alpha: opacity.

    Returns:
        (window, coverage on the window), or None when the ellipse is outside the image.
    """
    win = window(x, y, centre[0], centre[1], max(axes) + 2 * soft * aa)
    if win is None:
        return None
    cov = coverage(ellipse_sd(x[win], y[win], centre[0], centre[1], axes[0], axes[1], angle), soft * aa)
    if alpha != 1.0:
        cov = cov * float(alpha)
    img[win] = blend(img[win], value[win] if isinstance(value, np.ndarray) else value, cov)
    return win, cov


def polar(x: Array, y: Array, cx: float, cy: float) -> tuple[Array, Array]:
    """Radius and angle of every pixel around (cx, cy)."""
    dx, dy = x - float(cx), y - float(cy)
    return np.hypot(dx, dy), np.arctan2(dy, dx)


def pose_grid(shape: tuple[int, int], centre: tuple[float, float], angle: float,
              scale: float) -> tuple[Array, Array]:
    """Object coordinates of every pixel for an object posed at ``centre`` (px), rotated, scaled.

    One object unit is ``scale`` pixels, so shapes are drawn once in object units whatever the
    image size, rotation or offset.
    """
    h, w = shape
    dy, dx = np.mgrid[0:h, 0:w].astype(np.float32)
    dx, dy = dx + float(0.5 - centre[0]), dy + float(0.5 - centre[1])
    c, s = float(np.cos(angle)) / scale, float(np.sin(angle)) / scale
    return dx * c + dy * s, dy * c - dx * s


def blend(base: Array, value: Array | float, alpha: Array) -> Array:
    """``base`` painted with ``value`` where ``alpha`` (0..1) says how much."""
    return base + (value - base) * alpha


def blur(img: Array, sigma_px: float) -> Array:
    """Gaussian blur in pixels (no-op for tiny sigma), e.g. an imaging system's point spread."""
    if sigma_px < 0.2:
        return img
    return cv2.GaussianBlur(img, (0, 0), sigmaX=float(sigma_px), borderType=cv2.BORDER_REFLECT)


def span(easy: tuple[float, float], hard: tuple[float, float], overlap: float) -> tuple[float, float]:
    """The range of a class feature at a given class overlap (0: the easy range, 1: the hard one)."""
    return (easy[0] + (hard[0] - easy[0]) * overlap, easy[1] + (hard[1] - easy[1]) * overlap)


def draw(rng: np.random.Generator, easy: tuple[float, float], hard: tuple[float, float],
         overlap: float) -> float:
    """One uniform draw of a class feature from its range at this overlap."""
    return float(rng.uniform(*span(easy, hard, overlap)))


def to_uint8(img: Array) -> Array:
    """[0, 1] float image (gray HxW or RGB HxWx3) -> uint8 HxWx3 RGB."""
    out = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)
    if out.ndim == 2:
        out = np.repeat(out[:, :, None], 3, axis=2)
    return np.ascontiguousarray(out)


def binary_mask(cov: Array) -> Array:
    """Coverage -> uint8 mask with values 0/255 (the convention of BUSI masks)."""
    return np.where(cov >= 0.5, 255, 0).astype(np.uint8)
