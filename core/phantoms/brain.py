"""Brain MRI phantoms: an axial slice in a random pose, with or without one of three tumours.

- glioma: irregular intra-axial mass in a hemisphere (or temporal lobe) with a heterogeneous
  enhancing ring, a necrotic core and a vasogenic oedema halo that spreads in white matter;
- meningioma: round, homogeneous, avidly enhancing extra-axial mass with a broad base on the
  inner table, a CSF cleft and a dural tail;
- pituitary: small round mass at the midline in the sella, on a slice at the skull base;
- notumor: normal anatomy (a third of them at the skull-base level too, so slice level alone
  does not give the class away).
Larger masses push the brain aside (mass effect). Intensities, weighting (T1 post-contrast or
FLAIR), pose and size vary per image so that global brightness does not separate the classes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .base import Difficulty, Drawing
from .brain_anatomy import WEIGHTINGS, Head, draw_head
from .draw import (
    binary_mask,
    blend,
    blur,
    coverage,
    draw,
    ellipse_sd,
    fourier_profile,
    polar,
    pose_grid,
    smooth_noise,
    to_uint8,
    window,
)

KINDS = ("glioma", "meningioma", "notumor", "pituitary")

#: Chance that a slice of this kind is taken at the skull base (the rest are ventricular level);
#: (easy, hard) ends, interpolated by the class overlap.
_BASAL = {"glioma": (0.2, 0.3), "meningioma": (0.25, 0.35), "notumor": (0.35, 0.5), "pituitary": (1.0, 1.0)}


def render(kind: str, rng: np.random.Generator, shape: tuple[int, int], difficulty: Difficulty,
           **_: object) -> Drawing:
    """Draw one brain MRI slice of ``kind`` (one of KINDS) at ``shape`` = (height, width)."""
    t, noise = difficulty.overlap, difficulty.noise
    h, w = shape
    p_easy, p_hard = _BASAL[kind]
    level = "basal" if rng.random() < p_easy + (p_hard - p_easy) * t else "ventricular"
    weighting = "t1c" if rng.random() < 0.7 else "flair"
    tone = {k: v * rng.uniform(1 - 0.05 * noise, 1 + 0.05 * noise) for k, v in WEIGHTINGS[weighting].items()}

    ax = rng.uniform(0.76, 0.86)
    angle = rng.uniform(-0.35, 0.35)
    scale = min(h, w) / 2 * rng.uniform(0.74, 0.93)
    c, s = abs(np.cos(angle)), abs(np.sin(angle))
    hx, hy = np.hypot(ax * c, s), np.hypot(ax * s, c)  # half extents per unit scale
    scale = min(scale, (w / 2 - 2) / hx, (h / 2 - 2) / hy)
    hx, hy = hx * scale, hy * scale
    cx = w / 2 + rng.uniform(-0.8, 0.8) * max(0.0, w / 2 - hx - 2)
    cy = h / 2 + rng.uniform(-0.8, 0.8) * max(0.0, h / 2 - hy - 2)
    x, y = pose_grid(shape, (cx, cy), angle, scale)
    aa = 1.0 / scale

    lesion = _LESIONS[kind](rng, t, level, ax) if kind != "notumor" else None
    xw, yw = x, y
    if lesion is not None:  # mass effect: sample anatomy closer to the mass, i.e. push it outwards
        (lx, ly), radius, push = lesion["centre"], float(lesion["radius"]), lesion["push"]
        win = window(x, y, lx, ly, 5 * radius)
        xw, yw = x.copy(), y.copy()
        dx, dy = x[win] - lx, y[win] - ly
        g = 1 - push * np.exp(-(dx * dx + dy * dy) / (1.5 * radius) ** 2)
        xw[win], yw[win] = lx + dx * g, ly + dy * g
    head = draw_head(x, y, xw, yw, aa, ax, level, tone, rng)
    img = head.image
    masks = []
    if lesion is not None:
        contrast = draw(rng, (0.9, 1.0), (0.45, 1.0), t)
        win = window(x, y, lx, ly, 3.6 * radius)
        local = replace(head, image=None, brain=head.brain[win], gm=head.gm[win])
        img[win], cov = lesion["paint"](img[win], local, x[win], y[win], lesion, rng, tone, aa, t, contrast)
        mask = np.zeros(shape, np.uint8)
        mask[win] = binary_mask(cov)
        masks.append(mask)

    img = img * (1 + (0.05 + 0.07 * noise) * smooth_noise(rng, shape, min(h, w) / 2))  # coil bias
    img = blur(img, 0.5)
    img = np.clip(img * rng.uniform(0.85, 1.15), 0, 1) ** rng.uniform(0.85, 1.2)
    sigma = 0.008 + 0.022 * noise  # Rician noise: magnitude of a complex Gaussian signal
    img = np.hypot(img + sigma * rng.standard_normal(shape, np.float32),
                   sigma * rng.standard_normal(shape, np.float32))
    box = (max(0, int(np.floor(cx - hx))), max(0, int(np.floor(cy - hy))),
           min(w, int(np.ceil(cx + hx))), min(h, int(np.ceil(cy + hy))))
    return Drawing(to_uint8(img), masks, box)


def _glioma_site(rng, t, level, ax):
    radius = draw(rng, (0.13, 0.24), (0.06, 0.26), t)
    side = rng.choice((-1.0, 1.0))
    if level == "basal":  # temporal-lobe glioma
        radius = min(radius, 0.2)
        centre = (side * 0.56 * (ax - 0.1) + rng.normal(0, 0.03), rng.uniform(-0.08, 0.12))
    else:
        centre = (side * rng.uniform(0.18, 0.45), rng.uniform(-0.5, 0.5))
    return dict(centre=centre, radius=radius, push=0.45 * min(1.0, radius / 0.18), paint=_paint_glioma)


def _meningioma_site(rng, t, level, ax):
    radius = draw(rng, (0.1, 0.2), (0.06, 0.22), t)
    if level == "basal":  # sphenoid wing or temporal convexity
        alpha = rng.choice((-1.0, 1.0)) * rng.uniform(0.35, 0.9) * np.pi / 2 + rng.choice((0.0, np.pi))
        alpha = -abs(alpha) if rng.random() < 0.6 else alpha
    else:
        alpha = rng.uniform(0, 2 * np.pi)
    ix, iy = ax - 0.07, 0.93  # near the inner table; refined by the painter
    normal = np.array([np.cos(alpha) / ix, np.sin(alpha) / iy])
    normal /= np.linalg.norm(normal)
    embed = draw(rng, (0.55, 0.8), (0.55, 1.2), t)  # > 1: not quite touching the skull
    base = np.array([ix * np.cos(alpha), iy * np.sin(alpha)])
    centre = tuple(base - normal * radius * embed)
    return dict(centre=centre, radius=radius, push=0.5, paint=_paint_meningioma)


def _pituitary_site(rng, t, level, ax):
    radius = draw(rng, (0.1, 0.16), (0.065, 0.16), t)
    centre = (rng.normal(0, 0.008), -0.13 + rng.uniform(-0.015, 0.02))
    return dict(centre=centre, radius=radius, push=0.25, paint=_paint_pituitary)


_LESIONS = {"glioma": _glioma_site, "meningioma": _meningioma_site, "pituitary": _pituitary_site}


def _outline(rng, x, y, lesion, amps, aa, bump=0.0):
    """Signed distance to an irregular blob around the lesion centre, plus its polar angle."""
    r, th = polar(x, y, *lesion["centre"])
    radius = lesion["radius"]
    edge = np.maximum(radius * (1 + fourier_profile(rng, th, amps)), 0.5 * radius)
    sd = r - edge
    if bump:
        sd = sd + bump * radius * smooth_noise(rng, x.shape, 0.3 * radius / aa)
    return sd, r, th


def _paint_glioma(img, head: Head, x, y, lesion, rng, tone, aa, t, contrast):
    radius = lesion["radius"]
    sd, r, th = _outline(rng, x, y, lesion, (0.0, 0.16, 0.1, 0.07, 0.05), aa, bump=0.08)
    halo = radius * rng.uniform(1.5, 2.2) * (1 + fourier_profile(rng, th, (0.1, 0.2, 0.15, 0.1)))
    oed_sd = r - halo + 0.25 * radius * smooth_noise(rng, x.shape, 0.2 * radius / aa)
    oedema = coverage(oed_sd, 4 * aa) * head.brain * (1 - 0.7 * np.clip(head.gm, 0, 1))
    img = blend(img, tone["oedema"], oedema * rng.uniform(0.6, 1.0) * contrast)
    rim = radius * draw(rng, (0.22, 0.45), (0.22, 1.0), t) * (1 + 0.35 * fourier_profile(rng, th, (0.3, 0.3, 0.2)))
    het = draw(rng, (0.18, 0.26), (0.06, 0.26), t)
    ring = tone["enhancing"] * (1 + het * smooth_noise(rng, x.shape, 0.12 * radius / aa))
    core = tone["necrosis"] * (1 + 0.4 * smooth_noise(rng, x.shape, 0.15 * radius / aa))
    value = blend(ring, core, coverage(sd + rim, 1.5 * aa))
    tumour = coverage(sd, aa)
    return blend(img, value, tumour * contrast), tumour


def _paint_meningioma(img, head: Head, x, y, lesion, rng, tone, aa, t, contrast):
    radius = lesion["radius"]
    sd, r, _ = _outline(rng, x, y, lesion, (0.0, 0.04, 0.03), aa)
    ix, iy = head.inner
    inner_sd = ellipse_sd(x, y, 0.0, 0.0, ix, iy)
    in_skull = coverage(inner_sd, aa)
    img = blend(img, tone["csf"], coverage(sd - 0.015, aa) * in_skull * contrast)  # CSF cleft
    tail = coverage(-inner_sd - 0.012, aa) * in_skull * np.clip((2.2 * radius - r) / (1.2 * radius), 0, 1)
    img = blend(img, 0.95 * tone["mening"], tail * rng.uniform(0.4, 0.9) * contrast)  # dural tail
    het = draw(rng, (0.03, 0.06), (0.03, 0.18), t)
    value = tone["mening"] * (1 + het * smooth_noise(rng, x.shape, 0.2 * radius / aa))
    mass = coverage(sd, aa) * in_skull
    return blend(img, value, mass * contrast), mass


def _paint_pituitary(img, head: Head, x, y, lesion, rng, tone, aa, t, contrast):
    radius = lesion["radius"]
    sd, _, _ = _outline(rng, x, y, lesion, (0.0, 0.06, 0.04), aa)
    value = tone["adenoma"] * (1 + 0.12 * smooth_noise(rng, x.shape, 0.3 * radius / aa))
    if rng.random() < 0.3:  # cystic / haemorrhagic part
        cx, cy = lesion["centre"]
        cyst = ellipse_sd(x, y, cx + rng.normal(0, 0.3 * radius), cy + rng.normal(0, 0.3 * radius),
                          0.35 * radius, 0.3 * radius)
        value = blend(value, tone["necrosis"], coverage(cyst, aa) * 0.8)
    mass = coverage(sd, aa)
    return blend(img, value, mass * contrast), mass
