"""Out-of-distribution detection on a classifier's penultimate features.

A softmax is confident about anything, including a holiday photo, so the classifier's
answer alone cannot say "this is not a brain MRI". We fit a class-conditional Gaussian
with a shared covariance (Mahalanobis detector, Lee et al. 2018) on the training
features, reduced by PCA so the covariance is well conditioned with few samples, and
reject an image whose distance to the nearest class exceeds a threshold chosen on the
validation split. Penultimate features of a small network are trained to separate the
classes, not to describe the modality, so a second Gaussian is fitted on simple statistics
of the model-input image itself (colour, saturation, intensity histogram, texture, centre vs
border brightness): that part catches blank frames, noise and other modalities. An image is
out of distribution when either part exceeds its threshold; the combined score is the larger
of the two score/threshold ratios, so 1.0 is the decision boundary.
The parameters live in a ``.ood.npz`` beside the model card (too big for JSON); the card
keeps the threshold, the file name and its sha256.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA

from core.atomic import atomic_write
from core.serving.provenance import sha256_file

#: Smallest variance of an image statistic (all lie in [0, 1]): differences under ~2 % are noise.
INPUT_VARIANCE_FLOOR = 4e-4

#: Fraction of in-distribution validation images the threshold keeps.
DEFAULT_KEEP_QUANTILE = 0.99


class OODDetectorError(ValueError):
    """The detector's file is missing, modified, or does not fit the model."""


@dataclass(frozen=True)
class MahalanobisDetector:
    """Minimum class-conditional Mahalanobis distance in a PCA subspace.

    Attributes:
        pca_mean: (d,) feature mean removed before projection.
        components: (k, d) PCA directions.
        class_means: (n_classes, k) class centres in the subspace.
        precision: (k, k) inverse of the shared, shrunk covariance.
        threshold: scores above this are out of distribution.
    """

    pca_mean: np.ndarray
    components: np.ndarray
    class_means: np.ndarray
    precision: np.ndarray
    threshold: float

    def score(self, features: np.ndarray) -> np.ndarray:
        """Distance of each feature vector to its nearest class (higher = stranger).

        Args:
            features: (n, d) penultimate features.

        Returns:
            (n,) float64 squared Mahalanobis distances.
        """
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != self.pca_mean.shape[0]:
            raise OODDetectorError(
                f"Expected features of shape (n, {self.pca_mean.shape[0]}), got {features.shape}."
            )
        z = (features - self.pca_mean) @ self.components.T
        # (n, classes, k): offset of every sample from every class centre.
        diff = z[:, None, :] - self.class_means[None, :, :]
        dist = np.einsum("nck,kl,ncl->nc", diff, self.precision, diff)
        return dist.min(axis=1)

    def is_out_of_distribution(self, features: np.ndarray) -> np.ndarray:
        """Boolean mask of the samples the detector rejects."""
        return self.score(features) > self.threshold

    def arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """The parameters as named arrays (for ``np.savez``)."""
        return {f"{prefix}pca_mean": self.pca_mean, f"{prefix}components": self.components,
                f"{prefix}class_means": self.class_means, f"{prefix}precision": self.precision,
                f"{prefix}threshold": np.array(self.threshold)}

    @classmethod
    def from_arrays(cls, npz: Mapping[str, np.ndarray], prefix: str = "") -> MahalanobisDetector:
        """The detector saved under ``prefix`` in an ``.npz`` (see :meth:`arrays`)."""
        return cls(pca_mean=npz[f"{prefix}pca_mean"], components=npz[f"{prefix}components"],
                   class_means=npz[f"{prefix}class_means"], precision=npz[f"{prefix}precision"],
                   threshold=float(npz[f"{prefix}threshold"]))

    def save(self, path: str | Path) -> str:
        """Write the parameters atomically; returns the file's sha256."""
        return _save_npz(path, self.arrays())


def fit_detector(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    val_features: np.ndarray,
    keep_quantile: float = DEFAULT_KEEP_QUANTILE,
    max_components: int = 32,
    variance_floor: float = 0.0,
) -> MahalanobisDetector:
    """Fit the detector on training features and pick its threshold on validation ones.

    Args:
        train_features: (n, d) features of the training images.
        train_labels: (n,) integer class labels.
        val_features: (m, d) features of in-distribution validation images.
        keep_quantile: fraction of validation images that must stay accepted.
        max_components: PCA dimension cap (covariance needs far more samples than dims).
        variance_floor: added to every variance, so a statistic that never varied in training
            (e.g. colour saturation of grey scans) does not make a rounding error look infinitely strange.

    Returns:
        A fitted MahalanobisDetector.
    """
    train_features = np.asarray(train_features, dtype=np.float64)
    train_labels = np.asarray(train_labels)
    if len(train_features) < 4 or len(val_features) < 2:
        raise OODDetectorError("At least 4 training and 2 validation images are needed to fit the detector.")
    n_components = int(min(max_components, train_features.shape[1], len(train_features) - 1))
    pca = PCA(n_components=n_components, random_state=0).fit(train_features)
    z = pca.transform(train_features)
    classes = np.unique(train_labels)
    class_means = np.stack([z[train_labels == c].mean(axis=0) for c in classes])
    residuals = z - class_means[np.searchsorted(classes, train_labels)]
    # Ledoit-Wolf shrinkage keeps the shared covariance invertible on small training sets.
    covariance = LedoitWolf(assume_centered=True).fit(residuals).covariance_
    precision = np.linalg.inv(covariance + variance_floor * np.eye(len(covariance)))
    detector = MahalanobisDetector(
        pca_mean=pca.mean_, components=pca.components_, class_means=class_means,
        precision=precision, threshold=np.inf,
    )
    val_scores = detector.score(val_features)
    threshold = float(np.quantile(val_scores, keep_quantile))
    # A margin over the worst kept validation score: unseen in-distribution images scatter further.
    threshold *= 1.25
    return MahalanobisDetector(pca.mean_, pca.components_, class_means, precision, threshold)


def _save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> str:
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)
    return sha256_file(path)


def image_statistics(images: np.ndarray) -> np.ndarray:
    """Modality fingerprint of model-input images: what a glance at the picture tells.

    Args:
        images: (n, H, W, 3) uint8 (or 0..255 float) prepared images.

    Returns:
        (n, 20) float64: channel means and stds, saturation mean and std, an 8-bin grey
        histogram, horizontal and vertical texture, and centre vs border brightness.
    """
    x = np.asarray(images, dtype=np.float64) / 255.0
    if x.ndim != 4 or x.shape[-1] != 3:
        raise OODDetectorError(f"Expected images of shape (n, H, W, 3), got {x.shape}.")
    grey = x.mean(axis=-1)
    saturation = x.max(axis=-1) - x.min(axis=-1)
    hist = np.stack([np.histogram(g, bins=8, range=(0.0, 1.0))[0] / g.size for g in grey])
    h, w = grey.shape[1:]
    yy, xx = np.mgrid[0:h, 0:w]
    centre = ((yy - h / 2) ** 2 + (xx - w / 2) ** 2) < (min(h, w) / 4) ** 2
    stats = [
        x.mean(axis=(1, 2)), x.std(axis=(1, 2)),
        saturation.mean(axis=(1, 2))[:, None], saturation.std(axis=(1, 2))[:, None], hist,
        np.abs(np.diff(grey, axis=2)).mean(axis=(1, 2))[:, None],
        np.abs(np.diff(grey, axis=1)).mean(axis=(1, 2))[:, None],
        grey[:, centre].mean(axis=1)[:, None], grey[:, ~centre].mean(axis=1)[:, None],
    ]
    return np.concatenate(stats, axis=1)


@dataclass(frozen=True)
class OODDetector:
    """Feature-space and input-space Mahalanobis detectors; either one can refuse an image."""

    features: MahalanobisDetector
    inputs: MahalanobisDetector | None = None

    #: Combined scores above this are out of distribution (each part's score / its threshold).
    threshold: float = 1.0

    def score(self, features: np.ndarray, images: np.ndarray | None = None) -> np.ndarray:
        """Larger of the two parts' score-to-threshold ratios (> 1: out of distribution).

        Args:
            features: (n, d) penultimate features.
            images: (n, H, W, 3) the prepared images those features came from.
        """
        ratio = self.features.score(features) / self.features.threshold
        if self.inputs is not None and images is not None:
            ratio = np.maximum(ratio, self.inputs.score(image_statistics(images)) / self.inputs.threshold)
        return ratio

    def is_out_of_distribution(self, features: np.ndarray, images: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask of the samples the detector refuses."""
        return self.score(features, images) > self.threshold

    def save(self, path: str | Path) -> str:
        """Write both parts atomically to one ``.npz``; returns its sha256."""
        arrays = self.features.arrays("features_")
        if self.inputs is not None:
            arrays.update(self.inputs.arrays("inputs_"))
        return _save_npz(path, arrays)


def fit_ood_detector(train_features: np.ndarray, train_labels: np.ndarray, val_features: np.ndarray,
                     train_images: np.ndarray | None = None, val_images: np.ndarray | None = None,
                     keep_quantile: float = DEFAULT_KEEP_QUANTILE) -> OODDetector:
    """Fit the feature part and, given images, the input-statistics part.

    Args:
        train_features, train_labels, val_features: as for :func:`fit_detector`.
        train_images, val_images: prepared (n, H, W, 3) images of the same splits.
        keep_quantile: fraction of validation images each part must accept.
    """
    features = fit_detector(train_features, train_labels, val_features, keep_quantile)
    inputs = None
    if train_images is not None and val_images is not None:
        # One Gaussian for the whole modality: the fingerprint should not depend on the class.
        stats = image_statistics(train_images)
        inputs = fit_detector(stats, np.zeros(len(stats), int), image_statistics(val_images),
                              keep_quantile, max_components=stats.shape[1], variance_floor=INPUT_VARIANCE_FLOOR)
    return OODDetector(features, inputs)


def load_detector(path: str | Path, sha256: str | None = None) -> OODDetector:
    """Read a detector saved by :meth:`OODDetector.save` (or a bare feature detector), checking its sha256."""
    path = Path(path)
    if not path.is_file():
        raise OODDetectorError(f"The out-of-distribution detector file {path.name} is missing.")
    if sha256 is not None and sha256_file(path) != sha256:
        raise OODDetectorError(
            f"The out-of-distribution detector file {path.name} does not match its model card "
            "(it was modified or corrupted)."
        )
    with np.load(path, allow_pickle=False) as npz:
        if "guard_kind" in npz.files:
            from core.serving.modality_guard import ModalityGuard

            return ModalityGuard.from_npz(npz)
        if "features_threshold" not in npz:
            return OODDetector(MahalanobisDetector.from_arrays(npz))
        inputs = MahalanobisDetector.from_arrays(npz, "inputs_") if "inputs_threshold" in npz else None
        return OODDetector(MahalanobisDetector.from_arrays(npz, "features_"), inputs)
