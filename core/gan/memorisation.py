"""Does a generator copy its training images? Nearest real image per generated image, and a scale for "close".

Images are compared in pixel space after downsizing to 32 x 32 (fine detail and noise do not
hide a copy). "Close" is judged against how close real training images come to one another.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from matplotlib.figure import Figure
from sklearn.neighbors import NearestNeighbors

from core.atomic import atomic_write
from core.gan.quality import GANQualityError, _as_features, _as_images, _check_same_width


def _pixel_vectors(images: np.ndarray, size: int, grey: bool) -> np.ndarray:
    vecs = []
    for img in images:
        small = cv2.resize(img.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
        if grey and small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        vecs.append(small.ravel() / 255.0)
    return np.stack(vecs)


def nearest_real_distances(generated, real, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """For each generated image, its nearest real image (memorisation check).

    Images are downsized to ``size`` x ``size`` (fine detail and noise do not hide a copy),
    scaled to [0, 1] and compared in pixel space; if one set is grey the other is made grey.
    Two-dimensional inputs are taken as feature vectors and compared as they are.

    Args:
        generated: (N, H, W[, C]) uint8 images or (N, d) features.
        real: (M, H', W'[, C]) uint8 images or (M, d) features.
        size: side of the downsized images.

    Returns:
        distances: (N,) root-mean-square difference to the nearest real image (0 = exact copy).
        indices: (N,) index of that real image.
    """
    if np.ndim(generated) == 2 and np.ndim(real) == 2:
        gen_vecs, real_vecs = _as_features(generated, "generated", 1), _as_features(real, "real", 1)
        _check_same_width(gen_vecs, real_vecs)
    else:
        gen, ref = _as_images(generated, "generated"), _as_images(real, "real")
        grey = gen.shape[-1] != ref.shape[-1]
        gen_vecs, real_vecs = _pixel_vectors(gen, size, grey), _pixel_vectors(ref, size, grey)
    nn = NearestNeighbors(n_neighbors=1).fit(real_vecs)
    idx = nn.kneighbors(gen_vecs, return_distance=False)[:, 0]
    # Recomputed directly: the search's dot-product shortcut leaves ~1e-8 for an exact copy.
    dist = np.linalg.norm(gen_vecs - real_vecs[idx], axis=1)
    return dist / np.sqrt(real_vecs.shape[1]), idx


def real_to_real_distances(real, size: int = 32) -> np.ndarray:
    """For each real image, the distance to its nearest *other* real image (leave-one-out).

    Args:
        real: (M, H, W[, C]) uint8 images, M >= 2.
        size: side of the downsized images (as :func:`nearest_real_distances`).

    Returns:
        (M,) root-mean-square differences on the same scale as :func:`nearest_real_distances`.
    """
    ref = _as_images(real, "real")
    if len(ref) < 2:
        raise GANQualityError(f"Real-to-real distances need at least 2 real images; got {len(ref)}.")
    vecs = _pixel_vectors(ref, size, grey=False)
    nn = NearestNeighbors(n_neighbors=2).fit(vecs)
    idx = nn.kneighbors(vecs, return_distance=False)
    # The first neighbour is the image itself unless an exact duplicate came first; take the other one.
    other = np.where(idx[:, 0] == np.arange(len(vecs)), idx[:, 1], idx[:, 0])
    return np.linalg.norm(vecs - vecs[other], axis=1) / np.sqrt(vecs.shape[1])


def memorised_fraction(generated_distances, real_distances, percentile: float = 5.0) -> tuple[float, float]:
    """Fraction of generated images closer to a training image than real training images are to each other.

    The threshold is a low percentile of the real leave-one-out distances rather than their
    minimum, because real datasets hold exact duplicates (distance 0) that would switch the check off.

    Args:
        generated_distances: (N,) from :func:`nearest_real_distances`.
        real_distances: (M,) from :func:`real_to_real_distances`.
        percentile: the percentile of ``real_distances`` used as the threshold.

    Returns:
        (fraction in [0, 1], threshold distance).
    """
    gen = np.asarray(generated_distances, dtype=np.float64)
    ref = np.asarray(real_distances, dtype=np.float64)
    if gen.ndim != 1 or ref.ndim != 1 or not len(gen) or not len(ref):
        raise GANQualityError("Memorisation needs non-empty 1-D distance arrays for generated and real images.")
    threshold = float(np.percentile(ref, percentile))
    return float(np.mean(gen < threshold)), threshold


def save_closest_pairs_png(generated, real, distances, indices, out_png: str | Path,
                           k: int = 8) -> Path:
    """Figure of the ``k`` generated images closest to a real one, each above its match.

    Args:
        generated: (N, H, W[, C]) uint8 generated images.
        real: (M, H, W[, C]) uint8 real images.
        distances: (N,) from :func:`nearest_real_distances`.
        indices: (N,) from :func:`nearest_real_distances`.
        out_png: where to write the PNG (written atomically).
        k: number of pairs shown.

    Returns:
        The path written.
    """
    gen, ref = _as_images(generated, "generated"), _as_images(real, "real")
    distances, indices = np.asarray(distances), np.asarray(indices)
    if distances.shape != (len(gen),) or indices.shape != (len(gen),):
        raise GANQualityError(
            f"distances and indices must have one entry per generated image ({len(gen)}); "
            f"got shapes {distances.shape} and {indices.shape}."
        )
    if indices.size and (indices.min() < 0 or indices.max() >= len(ref)):
        raise GANQualityError("indices point outside the real images; pass the same real set as before.")
    order = np.argsort(distances)[:max(1, k)]
    fig = Figure(figsize=(1.6 * len(order), 3.6))
    axes = fig.subplots(2, len(order), squeeze=False)
    for col, i in enumerate(order):
        for row, (img, title) in enumerate(((gen[i], f"gen {i}\nd={distances[i]:.3f}"),
                                            (ref[indices[i]], f"real {indices[i]}"))):
            ax = axes[row, col]
            ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=255)
            ax.set_title(title, fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out_png) as fh:
        fig.savefig(fh, format="png", dpi=100)
    return out_png
