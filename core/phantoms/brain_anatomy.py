"""Normal head anatomy of an axial brain MRI slice, drawn in head coordinates.

Head coordinates: one unit is the scalp's antero-posterior semi-axis; x runs left-right (scalp
semi-axis ``ax`` < 1), y runs from anterior (-1, top of the image) to posterior (+1). Two slice
levels are drawn: "ventricular" (hemispheres, gyri, lateral ventricles, deep grey nuclei) and
"basal" (sellar level: orbits, sphenoid sinus, pituitary gland, temporal lobes, pons, cerebellum),
so that a pituitary mass sits where it does in real studies and normal basal slices exist too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .draw import blend, coverage, ellipse_sd, fourier_profile, paint_ellipse, smooth_noise, window

#: Tissue intensities (0..1) per MR weighting; both keep CSF and ventricles dark as in the
#: Kaggle set's T1 post-contrast and FLAIR slices. T1c: white matter brighter than grey.
WEIGHTINGS: dict[str, dict[str, float]] = {
    "t1c": dict(skin=0.45, fat=0.88, bone=0.04, diploe=0.55, csf=0.09, gm=0.42, wm=0.62, deep=0.48,
                base=0.34, air=0.02, vitreous=0.1, gland=0.66, pons=0.56, marrow=0.5,
                enhancing=0.9, necrosis=0.14, oedema=0.36, mening=0.86, adenoma=0.74),
    "flair": dict(skin=0.4, fat=0.7, bone=0.04, diploe=0.4, csf=0.05, gm=0.56, wm=0.44, deep=0.52,
                  base=0.3, air=0.02, vitreous=0.06, gland=0.5, pons=0.5, marrow=0.5,
                  enhancing=0.76, necrosis=0.3, oedema=0.82, mening=0.68, adenoma=0.7),
}


@dataclass
class Head:
    """The drawn head, plus what the lesion painters need to know about it."""

    image: np.ndarray   # float32 intensity
    brain: np.ndarray   # parenchyma coverage 0..1 (oedema spreads only there)
    gm: np.ndarray      # grey-matter fraction (oedema spares cortex)
    inner: tuple[float, float]  # inner-skull ellipse semi-axes (x, y)
    skull_depth: float  # depth of the inner table below the scalp surface


def draw_head(x: np.ndarray, y: np.ndarray, xw: np.ndarray, yw: np.ndarray, aa: float, ax: float,
              level: str, tone: dict[str, float], rng: np.random.Generator) -> Head:
    """Scalp, skull and brain of one slice.

    Args:
        x, y: head coordinates of every pixel (scalp and skull are drawn here).
        xw, yw: the same, displaced by a mass's effect (brain structures are drawn here).
        aa: one pixel in head units.
        ax: left-right semi-axis of the scalp.
        level: "ventricular" or "basal".
        tone: tissue intensities (one of WEIGHTINGS).
        rng: source of randomness.
    """
    depth = -ellipse_sd(x, y, 0.0, 0.0, ax, 1.0)
    theta = np.arctan2(y, x / ax)
    shape = x.shape
    px = 1.0 / aa
    fat = rng.uniform(0.03, 0.055) * (1 + 0.35 * fourier_profile(rng, theta, (0.6, 0.4, 0.2)))
    table = rng.uniform(0.008, 0.013)
    diploe = rng.uniform(0.012, 0.028) * (1 + 0.3 * fourier_profile(rng, theta, (0.5, 0.5)))
    d_fat = 0.012  # skin
    d_table1 = d_fat + fat
    d_diploe = d_table1 + table
    d_table2 = d_diploe + diploe
    d_inner = d_table2 + table
    img = np.zeros(shape, np.float32)
    texture = 1 + 0.08 * smooth_noise(rng, shape, 0.01 * px)
    layers = ((0.0, tone["skin"]), (d_fat, tone["fat"] * texture), (d_table1, tone["bone"]),
              (d_diploe, tone["diploe"] * (1 + 0.25 * smooth_noise(rng, shape, 0.012 * px))),
              (d_table2, tone["bone"]), (d_inner, tone["csf"]))
    for start, value in layers:
        img = blend(img, value, coverage(start - depth, aa))
    inner_depth = float(np.mean(d_inner))
    inner = (ax - inner_depth, 1.0 - inner_depth)
    drawer = _LEVELS[level]
    img, brain, gm = drawer(img, xw, yw, depth, d_inner, inner, aa, tone, rng)
    return Head(img, brain, gm, inner, inner_depth)


def _cortex(depth_b: np.ndarray, theta: np.ndarray, aa: float, n_gyri: int,
            rng: np.random.Generator, extra_csf: np.ndarray | None = None, reach: float = 1.0):
    """Gyri and sulci of a brain region, from the depth below its surface and the polar angle.

    Sulci run inwards at quasi-regular angles; a smooth random phase field makes them meander,
    each stops at its own depth, and shallower secondary sulci split some gyri. Grey matter is the
    band within a cortical thickness of any CSF (surface, sulcus, fissure). Returns (csf, gm).
    """
    rho = np.maximum(depth_b + 0.3, 0.1)  # arc-length scale near the surface of the region
    meander = 1.3 * smooth_noise(rng, depth_b.shape, 0.07 / aa)
    half_width = max(0.005, 0.5 * aa)
    dist = depth_b
    for offset, (lo, hi), keep in ((0.0, (0.05, 0.16), 1.0), (np.pi, (0.02, 0.06), 0.6)):
        phase = n_gyri * theta + meander + fourier_profile(rng, theta, (1.0, 0.6, 0.4)) + offset
        k = np.floor(phase / (2 * np.pi) + 0.5)
        arc = np.abs(phase - 2 * np.pi * k) * rho / n_gyri
        depths = reach * rng.uniform(lo, hi, n_gyri + 2) * (rng.random(n_gyri + 2) < keep)
        sdepth = depths[np.mod(k, n_gyri + 2).astype(np.int32)].astype(np.float32)
        d_sulcus = np.where(depth_b < sdepth, arc - half_width,
                            np.hypot(np.maximum(arc - half_width, 0), depth_b - sdepth))
        dist = np.minimum(dist, d_sulcus)
    if extra_csf is not None:
        dist = np.minimum(dist, extra_csf)
    thickness = rng.uniform(0.022, 0.032)
    csf = coverage(dist, aa)
    gm = np.clip(coverage(dist - thickness, 1.5 * aa) - csf, 0, 1)
    return csf, gm


def _paint_brain(img, cov, csf, gm, tone, rng, aa):
    """Composite a brain region (csf/gm/wm mix with a faint texture) under coverage ``cov``."""
    wm = np.clip(1 - csf - gm, 0, 1)
    tex = 1 + 0.035 * smooth_noise(rng, img.shape, 0.02 / aa)
    value = (csf * tone["csf"] + gm * tone["gm"] + wm * tone["wm"]) * tex
    return blend(img, value, cov)


def _ventricular(img, x, y, depth, d_inner, inner, aa, tone, rng):
    """Slice through the lateral ventricles: two hemispheres, a falx, deep grey nuclei."""
    gap = rng.uniform(0.006, 0.03)  # subarachnoid CSF; wider in atrophy
    depth_b = depth - d_inner - gap
    theta = np.arctan2(y, x)
    xm = 0.01 * fourier_profile(rng, y * 2.0, (1.0, 0.5))  # the falx is not ruler-straight
    dx = np.abs(x - xm)
    fissure = np.minimum(np.hypot(dx, np.maximum(y + 0.4, 0)), np.hypot(dx, np.maximum(0.45 - y, 0)))
    fissure = fissure - max(0.005, 0.6 * aa)
    csf, gm = _cortex(depth_b, theta, aa, int(rng.integers(30, 40)), rng, fissure)
    brain = coverage(-depth_b, aa)
    img = _paint_brain(img, brain, csf, gm, tone, rng, aa)
    gm = gm * brain
    vs = rng.uniform(0.6, 1.5)  # ventricle size: young brain to atrophy
    sym = rng.normal(0, 0.015)
    deep = [((0.28, 0.0), (0.06, 0.14), 0.3), ((0.1, 0.1), (0.08, 0.11), 0.0),
            ((0.08 + 0.05 * vs, -0.2), (0.045, 0.075), 0.4)]
    for (cx, cy), axes, ang in deep:  # lentiform nuclei, thalami, caudate heads
        for side in (-1, 1):
            done = paint_ellipse(img, x, y, tone["deep"], (side * cx + sym, cy), axes, aa,
                                 side * ang, soft=2.5, alpha=0.75)
            if done:
                gm[done[0]] = np.maximum(gm[done[0]], done[1])
    # Lateral ventricles as frontal horn + body + atrium: they diverge anteriorly and posteriorly.
    parts = [((0.035 + 0.03 * vs, -0.2), (0.04 * vs, 0.13), 0.45),
             ((0.05 + 0.04 * vs, 0.02), (0.03 * vs, 0.14), -0.1),
             ((0.08 + 0.05 * vs, 0.24), (0.045 * vs, 0.13), -0.45)]
    win = window(x, y, sym, 0.02, 0.5)
    xv, yv = x[win], y[win]
    vent = ellipse_sd(xv, yv, sym, 0.08, 0.01 * vs, 0.06)  # third ventricle
    for (cx, cy), (a, b), ang in parts:
        for side in (-1, 1):
            vent = np.minimum(vent, ellipse_sd(xv, yv, side * cx + sym, cy, a, b, side * ang))
    img[win] = blend(img[win], tone["csf"], coverage(vent, aa))
    return img, brain, gm


def _lobe(img, brain, gm, x, y, centre, axes, angle, aa, tone, rng, n_gyri):
    """A brain lobe seen on a basal slice: an ellipse with its own gyri and a thin cistern."""
    win = window(x, y, centre[0], centre[1], max(axes) + 0.03)
    if win is None:
        return
    xl, yl = x[win], y[win]
    sd = ellipse_sd(xl, yl, centre[0], centre[1], axes[0], axes[1], angle)
    csf, g = _cortex(-sd, np.arctan2(yl - centre[1], xl - centre[0]), aa, n_gyri, rng, reach=0.55)
    part = blend(img[win], tone["csf"], coverage(sd - 0.012, aa))
    cov = coverage(sd, aa)
    img[win] = _paint_brain(part, cov, csf, g, tone, rng, aa)
    brain[win] = np.maximum(brain[win], cov)
    gm[win] = np.maximum(gm[win], g * cov)


def _basal(img, x, y, depth, d_inner, inner, aa, tone, rng):
    """Slice at the sella: skull-base tissue, orbits, sinus, gland, temporal lobes, posterior fossa."""
    cranial = coverage(d_inner - depth, aa)
    base = tone["base"] * (1 + 0.25 * smooth_noise(rng, img.shape, 0.03 / aa))
    img = blend(img, base, cranial)
    ix, iy = inner
    img, brain, gm = _cerebellum(img, x, y, depth - d_inner, aa, tone, rng)
    lobes = [((0.56 * ix, 0.0), (0.22, 0.34), 0.2, 14), ((0.14, -0.5), (0.11, 0.18), 0.0, 6)]
    for (cx, cy), axes, ang, n in lobes:  # temporal lobes, gyri recti
        for side in (-1, 1):
            _lobe(img, brain, gm, x, y, (side * cx, cy), axes, side * ang, aa, tone, rng, n)
    gland = tuple(rng.uniform(0.8, 1.3) * np.array((0.055, 0.033)))
    structures = [("csf", (0.0, 0.21), (0.19, 0.16)), ("pons", (0.0, 0.2), (0.17, 0.14)),
                  ("csf", (0.0, 0.37), (0.05, 0.03)), ("marrow", (0.0, 0.0), (0.06, 0.08)),
                  ("air", (0.0, -0.3), (0.13, 0.1)), ("gland", (0.0, -0.13), gland)]
    for name, centre, axes in structures:  # cistern, pons, 4th ventricle, clivus, sinus, gland
        done = paint_ellipse(img, x, y, tone[name], centre, axes, aa)
        if done and name == "pons":
            brain[done[0]] = np.maximum(brain[done[0]], done[1])
    fat = tone["fat"] * (0.7 + 0.12 * smooth_noise(rng, img.shape, 0.02 / aa))
    for side in (-1, 1):  # carotid flow voids beside the sella; orbits: fat around a dark globe
        paint_ellipse(img, x, y, tone["air"], (side * 0.1, -0.13), (0.022, 0.022), aa)
        cx, cy = side * 0.38 * ix, -0.76
        paint_ellipse(img, x, y, fat, (cx, cy + 0.06), (0.12, 0.14), aa, side * 0.3, soft=3)
        paint_ellipse(img, x, y, tone["vitreous"], (cx, cy), (0.085, 0.08), aa)
    paint_ellipse(img, x, y, tone["air"], (0.0, -0.78), (0.06, 0.13), aa)  # nasal cavity
    return img, brain, gm


def _cerebellum(img, x, y, depth_in, aa, tone, rng):
    """Posterior fossa below the tentorium: folia parallel to the occipital bone, a midline vermis."""
    tentorium = 0.3 + 0.5 * x**2 + 0.02 * smooth_noise(rng, img.shape, 0.2 / aa)
    sd = np.maximum(tentorium - y, -depth_in - 0.01)
    period = rng.uniform(0.025, 0.035)
    warp = 0.4 * smooth_noise(rng, img.shape, 0.12 / aa)
    folia = 0.5 + 0.5 * np.cos(2 * np.pi * (depth_in / period + warp))
    gm = 0.5 * folia
    csf = np.clip(folia - 0.9, 0, 1) / 0.1 * 0.25
    vermis = coverage(np.abs(x) - 0.006, aa) * (y > 0.55)
    csf = np.maximum(csf, vermis)
    img = blend(img, tone["csf"], coverage(sd - 0.012, aa))
    cov = coverage(sd, aa)
    img = _paint_brain(img, cov, csf, np.clip(gm - vermis, 0, 1), tone, rng, aa)
    return img, cov, gm * cov


_LEVELS = {"ventricular": _ventricular, "basal": _basal}
