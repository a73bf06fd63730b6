"""Blood-smear phantoms: one segmented, stained lymphoid cell on black, as in C-NMC 2019.

- hem (healthy lymphocyte): small cell; small, round, dense nucleus with coarse clumped
  chromatin, eccentric, leaving a thin visible rim of cytoplasm; no nucleoli;
- all (leukemic lymphoblast): larger cell, very high nucleus-to-cytoplasm ratio, irregular or
  cleaved nucleus, fine dispersed (paler) chromatin, one to three nucleoli.
Cells of one subject share a stain colour (``subject_seed``), as slides of one patient do, so a
split that mixes subjects would leak; the outline is slightly irregular and rotated at random.
"""

from __future__ import annotations

import numpy as np

from .base import Difficulty, Drawing
from .draw import blend, blur, coverage, draw, fourier_profile, polar, smooth_noise, to_uint8

KINDS = ("all", "hem")

# Stain colours (RGB, 0..1) of May-Gruenwald-Giemsa-like staining after C-NMC's normalisation.
_NUCLEUS_DARK = np.array([0.28, 0.1, 0.42], np.float32)
_NUCLEUS_PALE = np.array([0.56, 0.36, 0.7], np.float32)
_CYTOPLASM = np.array([0.66, 0.58, 0.84], np.float32)
_NUCLEOLUS = np.array([0.62, 0.52, 0.8], np.float32)

#: Per class: (easy range, hard range) of each feature; the class overlap interpolates between.
_FEATURES = {
    "hem": dict(radius=((0.18, 0.25), (0.16, 0.32)), nc=((0.68, 0.8), (0.68, 0.88)),
                offset=((0.35, 0.9), (0.1, 0.9)), irregular=((0.0, 0.15), (0.0, 0.7)),
                cleft=((0.0, 0.0), (0.0, 0.2)), dark=((0.78, 0.92), (0.58, 0.92)),
                clump=((0.7, 1.0), (0.25, 1.0)), nucleoli=((0.0, 0.0), (0.35, 0.35))),
    "all": dict(radius=((0.27, 0.37), (0.2, 0.37)), nc=((0.87, 0.95), (0.74, 0.95)),
                offset=((0.0, 0.5), (0.0, 0.8)), irregular=((0.7, 1.0), (0.25, 1.0)),
                cleft=((0.12, 0.3), (0.0, 0.3)), dark=((0.5, 0.66), (0.5, 0.85)),
                clump=((0.0, 0.2), (0.0, 0.7)), nucleoli=((0.9, 0.9), (0.5, 0.5))),
}


def render(kind: str, rng: np.random.Generator, shape: tuple[int, int], difficulty: Difficulty,
           subject_seed: int | None = None, **_: object) -> Drawing:
    """Draw one cell of ``kind`` (one of KINDS) at ``shape`` = (height, width).

    Args:
        subject_seed: images with the same seed share the stain colour of one subject's slides.
    """
    h, w = shape
    t, noise = difficulty.overlap, difficulty.noise
    f = {name: draw(rng, easy, hard, t) for name, (easy, hard) in _FEATURES[kind].items()}
    aa = 1.0 / min(h, w)
    cx = 0.5 * w * aa + rng.normal(0, 0.02)
    cy = 0.5 * h * aa + rng.normal(0, 0.02)
    radius = f["radius"]
    # Draw on the cell's bounding window only; the rest of the frame stays black.
    reach = 1.25 * radius + 3 * aa
    x0, x1 = max(int((cx - reach) / aa), 0), min(int(np.ceil((cx + reach) / aa)), w)
    y0, y1 = max(int((cy - reach) / aa), 0), min(int(np.ceil((cy + reach) / aa)), h)
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    x, y = (xx + 0.5) * aa, (yy + 0.5) * aa
    part = x.shape

    r, th = polar(x, y, cx, cy)
    outline = radius * (1 + fourier_profile(rng, th, (0.0, 0.035, 0.03, 0.02, 0.015)))
    cell_sd = r - outline
    cell = coverage(cell_sd, aa)

    rn = radius * f["nc"]
    phi = rng.uniform(-np.pi, np.pi)
    shift = (radius - rn) * f["offset"]
    nx, ny = cx + shift * np.cos(phi), cy + shift * np.sin(phi)
    rr, nth = polar(x, y, nx, ny)
    edge = 1 + f["irregular"] * fourier_profile(rng, nth, (0.0, 0.07, 0.06, 0.05, 0.03))
    notch = rng.uniform(-np.pi, np.pi)
    edge -= f["cleft"] * np.maximum(np.cos(nth - notch), 0) ** 30  # cleaved / indented nucleus
    nucleus = coverage(rr - rn * edge, aa) * coverage(cell_sd + 0.01, aa)

    # Chromatin: coarse clumps (mature) to fine and even (blast), by the clump feature.
    coarse = smooth_noise(rng, part, 0.12 * rn / aa)
    fine = smooth_noise(rng, part, 2.0)
    texture = f["clump"] * 0.3 * np.clip(coarse, -1.5, 2) + (1 - f["clump"]) * 0.1 * fine
    darkness = np.clip(f["dark"] + texture * (0.6 + 0.4 * noise), 0, 1)[..., None]
    stain = _stain(subject_seed, rng, noise)
    nucleus_rgb = (_NUCLEUS_PALE + (_NUCLEUS_DARK - _NUCLEUS_PALE) * darkness) * stain
    if rng.random() < f["nucleoli"]:
        for _ in range(int(rng.integers(1, 4))):
            d = rng.uniform(0, 0.5) * rn
            a = rng.uniform(-np.pi, np.pi)
            spot = coverage(np.hypot(x - nx - d * np.cos(a), y - ny - d * np.sin(a))
                            - rng.uniform(0.08, 0.14) * rn, 2.5 * aa)
            nucleus_rgb = blend(nucleus_rgb, _NUCLEOLUS * stain, 0.75 * spot[..., None])

    granules = 1 + (0.04 + 0.03 * noise) * smooth_noise(rng, part, 1.5)
    membrane = 1 - 0.18 * coverage(np.abs(cell_sd + 0.006) - 0.006, 2 * aa)
    cytoplasm_rgb = _CYTOPLASM * stain * (granules * membrane)[..., None]
    img = blend(cytoplasm_rgb, nucleus_rgb, nucleus[..., None])
    img = blur(img, 0.8) + (0.008 + 0.012 * noise) * rng.standard_normal(part + (3,), np.float32)
    frame = np.zeros((h, w, 3), np.uint8)
    frame[y0:y1, x0:x1] = to_uint8(img * cell[..., None])  # segmented: black outside the cell
    return Drawing(frame)


def _stain(subject_seed: int | None, rng: np.random.Generator, noise: float) -> np.ndarray:
    """RGB gains of the stain: a subject's slides share most of it; each image adds a little."""
    subject = np.random.default_rng(subject_seed) if subject_seed is not None else rng
    gains = subject.normal(1.0, 0.07 * (0.5 + 0.5 * noise), 3) * subject.uniform(0.85, 1.1)
    return (gains * rng.normal(1.0, 0.02, 3)).astype(np.float32)
