"""How good, how varied and how original synthetic images are (the measures; the protocol is in ``protocol``).

- Fidelity: Frechet distance (FID formula) and kernel distance (KID) between two feature sets.
  Which features: :mod:`core.gan.features` (one fixed ImageNet MobileNet for every task and run,
  so figures compare across tasks and runs).
- Memorisation: in :mod:`core.gan.memorisation`.
- Diversity: mean MS-SSIM over random pairs of images; close to 1 means mode collapse.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import tensorflow as tf
from keras import ops
from scipy import linalg

#: MS-SSIM scale weights of Wang et al. 2003 (the tf.image.ssim_multiscale default).
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_SSIM_FILTER = 11


class GANQualityError(ValueError):
    """Inputs to a synthetic-image quality measure are unusable (shape, size, count)."""


def _as_features(feats, name: str, min_rows: int = 2) -> np.ndarray:
    arr = np.asarray(feats, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] < min_rows or not np.all(np.isfinite(arr)):
        raise GANQualityError(
            f"{name} must be a finite (n, d) feature array with n >= {min_rows}; got shape {arr.shape}."
        )
    return arr


def _check_same_width(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[1] != b.shape[1]:
        raise GANQualityError(
            f"Real and generated features have different lengths ({a.shape[1]} vs {b.shape[1]}); "
            "extract both with the same feature extractor."
        )


def frechet_distance(feats_a, feats_b, eps: float = 1e-6) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (the FID formula).

    ``|mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``. With fewer samples than feature
    dimensions the covariances are singular and the matrix square root unstable, so ``eps``
    is added to both diagonals when the square root is not finite or not (nearly) real.

    Args:
        feats_a: (n, d) features of one set (e.g. real images).
        feats_b: (m, d) features of the other.
        eps: diagonal offset for singular covariances.

    Returns:
        The distance (>= 0; 0 for identical sets).
    """
    a, b = _as_features(feats_a, "feats_a"), _as_features(feats_b, "feats_b")
    _check_same_width(a, b)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():
        # Singular covariances are expected with few images; handled just below.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(cov_a @ cov_b)
    scale = max(np.abs(covmean).max(), 1e-12)
    if not np.all(np.isfinite(covmean)) or np.abs(np.imag(covmean)).max() > 1e-3 * scale:
        offset = np.eye(cov_a.shape[0]) * eps
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    # Round-off leaves a tiny imaginary part even when the true root is real.
    covmean = np.real(covmean)
    diff = mu_a - mu_b
    fid = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean)
    return float(max(fid, 0.0))


def _polynomial_mmd2(x, y):
    """Unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018)."""
    m = ops.cast(ops.shape(x)[0], x.dtype)
    n = ops.cast(ops.shape(y)[0], x.dtype)
    d = ops.cast(ops.shape(x)[1], x.dtype)

    def kernel(p, q):
        return (ops.matmul(p, ops.transpose(q)) / d + 1.0) ** 3

    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    # The unbiased estimate leaves out k(x_i, x_i): a sample is not compared with itself.
    mean_xx = (ops.sum(k_xx) - ops.trace(k_xx)) / (m * (m - 1.0))
    mean_yy = (ops.sum(k_yy) - ops.trace(k_yy)) / (n * (n - 1.0))
    return mean_xx + mean_yy - 2.0 * ops.mean(k_xy)


class KernelInceptionDistance(keras.metrics.Metric):
    """KID on precomputed features, averaged over the batches it is updated with.

    Unbiased, so it can be slightly negative when the two sets match; unlike FID it has no
    bias that depends on the number of samples, which suits small medical datasets.
    """

    def __init__(self, name: str = "kid", **kwargs):
        super().__init__(name=name, **kwargs)
        self.kid_tracker = keras.metrics.Mean(name="kid_tracker")

    def update_state(self, real_features, generated_features, sample_weight=None):
        """Add one batch: (m, d) real and (n, d) generated features, m, n >= 2."""
        real = ops.convert_to_tensor(real_features, dtype=self.dtype)
        generated = ops.convert_to_tensor(generated_features, dtype=self.dtype)
        self.kid_tracker.update_state(_polynomial_mmd2(real, generated))

    def result(self):
        return self.kid_tracker.result()

    def reset_state(self):
        self.kid_tracker.reset_state()


def kernel_inception_distance(feats_a, feats_b) -> float:
    """KID between two feature sets in one batch (float64).

    Args:
        feats_a: (m, d) features, m >= 2.
        feats_b: (n, d) features, n >= 2.

    Returns:
        Unbiased MMD^2 with the cubic polynomial kernel (about 0 for matching sets).
    """
    a, b = _as_features(feats_a, "feats_a"), _as_features(feats_b, "feats_b")
    _check_same_width(a, b)
    return float(_polynomial_mmd2(a, b))


def _as_images(images, name: str) -> np.ndarray:
    """(N, H, W) or (N, H, W, C) with C in 1, 3 -> (N, H, W, C)."""
    arr = np.asarray(images)
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3) or arr.shape[0] == 0:
        raise GANQualityError(
            f"{name} must be a non-empty image batch (N, H, W) or (N, H, W, 1|3); got shape {arr.shape}."
        )
    return arr


def ms_ssim_power_factors(height: int, width: int) -> tuple[float, ...]:
    """Scale weights for MS-SSIM that fit the image size.

    Each scale halves the image and the 11-pixel SSIM window must fit at the coarsest one,
    so 5 scales need >= 176 px; smaller images use the first k weights, renormalised to
    sum to 1 (64 px: 3 scales, 32 px: 2, 11-21 px: 1).

    Args:
        height: image height.
        width: image width.

    Returns:
        Between 1 and 5 weights.
    """
    side = min(height, width)
    if side < _SSIM_FILTER:
        raise GANQualityError(f"MS-SSIM needs images of at least {_SSIM_FILTER} px; got {height}x{width}.")
    scales = 1
    while scales < len(_MS_SSIM_WEIGHTS) and side / 2**scales >= _SSIM_FILTER:
        scales += 1
    weights = np.asarray(_MS_SSIM_WEIGHTS[:scales])
    return tuple(float(w) for w in weights / weights.sum())


def mean_pairwise_ms_ssim(images, max_pairs: int = 200, seed: int = 0, batch_size: int = 64) -> float:
    """Mean MS-SSIM over random distinct pairs of images (diversity; 1 = all identical).

    Args:
        images: (N, H, W[, C]) uint8 images, N >= 2.
        max_pairs: at most this many pairs (all pairs when there are fewer).
        seed: seed of the pair sampling.
        batch_size: pairs per call to ``tf.image.ssim_multiscale``.

    Returns:
        Mean MS-SSIM in [0, 1].
    """
    imgs = _as_images(images, "images")
    n = len(imgs)
    if n < 2:
        raise GANQualityError(f"MS-SSIM diversity needs at least 2 images; got {n}.")
    factors = ms_ssim_power_factors(*imgs.shape[1:3])
    first, second = np.triu_indices(n, k=1)
    if len(first) > max_pairs:
        pick = np.random.default_rng(seed).choice(len(first), size=max_pairs, replace=False)
        first, second = first[pick], second[pick]
    scores = []
    for s in range(0, len(first), batch_size):
        a = tf.convert_to_tensor(imgs[first[s:s + batch_size]], dtype=tf.float32)
        b = tf.convert_to_tensor(imgs[second[s:s + batch_size]], dtype=tf.float32)
        scores.append(tf.image.ssim_multiscale(a, b, max_val=255.0, power_factors=factors).numpy())
    return float(np.mean(np.concatenate(scores)))
