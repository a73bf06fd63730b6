"""Breast ultrasound phantoms (B-mode, linear probe), with BUSI-style lesion masks.

The tissue is an echogenicity map in layers from the skin down (subcutaneous fat with Cooper's
ligaments, fibroglandular tissue, retromammary fat, pectoral muscle, chest wall), attenuated
with depth, then imaged through fully developed speckle (Rayleigh amplitude from a band-limited
complex Gaussian field) and log compression, as a scanner does.
- benign: oval, circumscribed, wider than tall (parallel to the skin), hypoechoic or anechoic
  (cyst), thin echogenic capsule, posterior acoustic enhancement;
- malignant: irregular, spiculated, taller than wide, heterogeneous, echogenic halo, posterior
  acoustic shadowing;
- normal: no lesion (fat lobules, which are normal, can look lesion-like at high overlap).
"""

from __future__ import annotations

import cv2
import numpy as np

from .base import Difficulty, Drawing
from .draw import binary_mask, blend, blur, coverage, draw, fourier_profile, smooth_noise, to_uint8, window

KINDS = ("benign", "malignant", "normal")


def default_shape(rng: np.random.Generator, busi: bool = False) -> tuple[int, int]:
    """A (height, width) like the BUSI images (about 450 x 500 when ``busi``), else about 256."""
    h = int(rng.integers(400, 500)) if busi else int(rng.integers(224, 289))
    return h, int(round(h * rng.uniform(1.0, 1.3)))


def render(kind: str, rng: np.random.Generator, shape: tuple[int, int], difficulty: Difficulty,
           n_lesions: int | None = None, **_: object) -> Drawing:
    """Draw one breast ultrasound frame of ``kind`` (one of KINDS) at ``shape`` = (height, width).

    Args:
        n_lesions: 1 or 2 lesions for benign/malignant (default 1); ignored for normal.
    """
    h, w = shape
    t, noise = difficulty.overlap, difficulty.noise
    aa = 1.0 / h  # one pixel in units of the image height
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    x, y = (xx + 0.5) * aa, (yy + 0.5) * aa
    top, left, right = _field(rng, h, w)
    echo, bounds = _tissue(rng, x, y, top, aa, t)
    masks: list[np.ndarray] = []
    gain = np.ones((h, w), np.float32)
    if kind != "normal":
        count = 1 if n_lesions is None else int(n_lesions)
        slots = rng.permutation([0.3, 0.7])[:count] if count > 1 else [rng.uniform(0.3, 0.7)]
        for i, cx in enumerate(slots):
            size = 1.0 if i == 0 else rng.uniform(0.45, 0.7)
            echo, gain, cov, win = _lesion(kind, rng, x, y, echo, gain, bounds, cx * w * aa, size, aa, t)
            mask = np.zeros((h, w), np.uint8)
            mask[win] = binary_mask(cov)
            masks.append(mask)
    echo = echo * blur(gain, 0.01 * h) * _attenuation(rng, y, top)
    img = _bmode(rng, echo, h, noise)
    field = (xx >= left) & (xx < w - right) & (yy >= top * h)
    img = np.where(field, img, 0.0)
    if rng.random() < 0.5:  # depth-scale dots beside the field, as scanners print
        for d in np.arange(top * h + 0.1 * h, h, 0.1 * h):
            img[int(d):int(d) + 2, w - right // 2 - 1: w - right // 2 + 1] = 0.8
    return Drawing(to_uint8(img.astype(np.float32)), masks)


def _field(rng, h, w):
    """Black frame around the image: top band and side margins as on exported scanner frames."""
    top = rng.uniform(0.0, 0.06) if rng.random() < 0.7 else 0.0
    left = int(w * rng.uniform(0.0, 0.06)) if rng.random() < 0.6 else 0
    right = max(int(w * rng.uniform(0.0, 0.06)), 4) if rng.random() < 0.6 else 0
    return top, left, right


def _profile(rng, w, cell, amp):
    """A smooth random depth profile across the width (a layer interface), undulating every ~cell px."""
    xs = np.arange(w, dtype=np.float32) * (2 * np.pi / cell)
    waves = sum(rng.normal(0, 1 / k) * np.sin(xs * k / 2 + rng.uniform(0, 2 * np.pi)) for k in (1, 2, 3))
    return (amp * waves).astype(np.float32)


def _tissue(rng, x, y, top, aa, t):
    """Echogenicity of the layered breast; returns it and the fibroglandular layer's depth bounds."""
    h, w = x.shape
    shape = (h, w)
    skin = top + 0.02
    fat_end = skin + rng.uniform(0.1, 0.24) + _profile(rng, w, 0.6 * w, 0.025)
    gland_end = fat_end + rng.uniform(0.35, 0.55) + _profile(rng, w, 0.5 * w, 0.04)
    retro_end = gland_end + rng.uniform(0.03, 0.06)
    muscle_end = retro_end + rng.uniform(0.1, 0.2) + _profile(rng, w, 0.8 * w, 0.02)
    ligaments = np.exp(-(smooth_noise(rng, shape, 0.09 * h) / 0.12) ** 2)
    fat = 0.22 * (1 + 0.25 * smooth_noise(rng, shape, 0.02 * h)) + 0.55 * ligaments
    gland = rng.uniform(0.4, 0.55) * (1 + 0.3 * smooth_noise(rng, shape, (0.012 * h, 0.03 * h)))
    ducts = np.exp(-(smooth_noise(rng, shape, (0.05 * h, 0.25 * h)) / 0.1) ** 2)
    gland = blend(gland, 0.15, 0.6 * ducts)
    angle = rng.uniform(-0.25, 0.25)
    fibres = np.cos(2 * np.pi * (y * np.cos(angle) + x * np.sin(angle)) / rng.uniform(0.02, 0.035))
    muscle = 0.32 + 0.14 * fibres * (1 + 0.4 * smooth_noise(rng, shape, 0.05 * h))
    echo = np.full(shape, 0.9, np.float32)  # skin line
    layers = ((skin, fat), (fat_end, gland), (gland_end, 0.2 + 0.3 * ligaments), (retro_end, muscle),
              (muscle_end, 0.1 + 0.03 * smooth_noise(rng, shape, 0.05 * h)))
    for start, value in layers:
        echo = blend(echo, value, coverage(start - y, 2 * aa))
    lobules = int(rng.integers(2, 6)) + int(round(4 * t * rng.random()))
    for _ in range(lobules):  # hypoechoic fat lobules: normal, and lesion-like at high overlap
        cx, cy = rng.uniform(0.05, 0.95) * w * aa, rng.uniform(skin, fat_end.mean() + 0.25 * t)
        a = rng.uniform(0.03, 0.06 + 0.05 * t)
        sd = np.hypot((x - cx) / a, (y - cy) / (a * rng.uniform(0.4, 0.8))) - 1
        echo = blend(echo, 0.12, 0.8 * coverage(sd * a, 3 * aa))
    return echo.astype(np.float32), (float(np.mean(fat_end)), float(np.mean(gland_end)))


def _lesion(kind, rng, x, y, echo, gain, bounds, cx, size, aa, t):
    """Paint one lesion into the echogenicity map and its posterior effect into the gain map."""
    malignant = kind == "malignant"
    if malignant:
        a = size * draw(rng, (0.07, 0.13), (0.05, 0.16), t)
        b = a * draw(rng, (1.05, 1.5), (0.8, 1.5), t)  # taller than wide
        tilt = rng.uniform(-0.4, 0.4)
    else:
        a = size * draw(rng, (0.09, 0.17), (0.05, 0.18), t)
        b = a * draw(rng, (0.45, 0.72), (0.45, 1.0), t)  # wider than tall, parallel to the skin
        tilt = rng.uniform(-0.2, 0.2)
    lo, hi = bounds
    cy = float(np.clip(rng.uniform(lo + 0.4 * b, hi - 0.2 * b), 0.15 + b, 0.8))
    win = window(x, y, cx, cy, 2.2 * max(a, b))
    xs, ys = x[win], y[win]
    c, s = np.cos(tilt), np.sin(tilt)
    u, v = ((xs - cx) * c + (ys - cy) * s) / a, (-(xs - cx) * s + (ys - cy) * c) / b
    rr, th = np.hypot(u, v), np.arctan2(v, u)
    if malignant:
        edge = 1 + fourier_profile(rng, th, (0.0, 0.12, 0.1, 0.08, 0.06))
        edge += 0.04 * fourier_profile(rng, th, (0,) * 13 + (1.0,))  # angular, microlobulated
        spike_len = draw(rng, (0.25, 0.55), (0.05, 0.55), t)
        for phi in rng.uniform(-np.pi, np.pi, int(rng.integers(6, 14))):
            edge += spike_len * rng.uniform(0.3, 1) * np.maximum(np.cos(th - phi), 0) ** 400
    else:
        edge = 1 + fourier_profile(rng, th, (0.0, 0.03, 0.04, 0.02)) * (1 + 2 * t)
    sd = (rr - edge) * min(a, b)
    cov = coverage(sd, aa)
    part = echo[win]
    if malignant:
        inside = rng.uniform(0.04, 0.16) * (1 + 0.6 * smooth_noise(rng, cov.shape, 0.01 / aa))
        halo = coverage(sd - 0.03, 6 * aa) - cov
        part = part + 0.3 * rng.uniform(0.0, 1.0) * halo  # echogenic halo
    else:
        cyst = rng.random() < 0.3
        inside = 0.01 if cyst else rng.uniform(0.07, 0.2) * (1 + 0.25 * smooth_noise(rng, cov.shape, 0.012 / aa))
        capsule = coverage(np.abs(sd) - 0.004, aa) * (rng.random() < 0.6)
        part = blend(part, 0.6, 0.7 * capsule)
    echo[win] = blend(part, inside, cov)
    # Posterior acoustic effect: strongest behind the lesion's thickest part, fading with depth.
    thick = cov.sum(axis=0)
    weight = thick / max(float(thick.max()), 1.0)
    last = cov.shape[0] - 1 - np.argmax((cov > 0.5)[::-1], axis=0)  # deepest lesion row per column
    bottom = np.where(thick > 0, win[0].start + last + 0.5, x.shape[0]) * aa
    col = slice(win[1].start, win[1].start + cov.shape[1])
    depth_below = y[:, col] - bottom[None, :]
    if malignant:
        strength, length = -draw(rng, (0.5, 0.85), (0.0, 0.85), t), rng.uniform(0.5, 1.0)
    else:
        strength, length = draw(rng, (0.6, 1.2), (0.0, 1.2), t), rng.uniform(0.2, 0.4)
    effect = np.where(depth_below > 0, np.exp(-depth_below / length), 0.0) * weight[None, :]
    gain[:, col] = gain[:, col] * (1 + strength * effect).astype(np.float32)
    return echo, gain, cov, win


def _attenuation(rng, y, top):
    """Depth-dependent brightness: tissue attenuation only partly undone by the gain controls."""
    alpha = rng.uniform(0.3, 1.0)
    return (np.exp(-alpha * np.clip(y - top, 0, None)) * rng.uniform(0.85, 1.15)).astype(np.float32)


def _bmode(rng, echo, h, noise):
    """Reflectivity -> displayed B-mode: speckle, electronic noise, log compression."""
    shape = echo.shape
    grain = (0.8 + 0.3 * noise) * h / 256
    sx, sy = rng.uniform(1.2, 2.0) * grain, rng.uniform(0.6, 0.9) * grain
    re = blur_xy(rng.standard_normal(shape, np.float32), sx, sy)
    im = blur_xy(rng.standard_normal(shape, np.float32), sx, sy)
    speckle = np.hypot(re, im)
    speckle /= np.sqrt(np.mean(speckle**2)) + 1e-6
    speckle = np.hypot(speckle, 0.15 * noise * rng.standard_normal(shape, np.float32))
    # Compression: tissue contrast kept, speckle contrast reduced, as a scanner's log display does.
    return np.clip(np.maximum(echo, 0) ** 0.7 * speckle ** rng.uniform(0.85, 1.05) * rng.uniform(0.8, 1.0), 0, 1)


def blur_xy(img: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Anisotropic Gaussian blur (lateral ``sx`` wider than axial ``sy``, as a probe's PSF)."""
    return cv2.GaussianBlur(img, (0, 0), sigmaX=max(sx, 0.3), sigmaY=max(sy, 0.3))
