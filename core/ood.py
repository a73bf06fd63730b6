"""Out-of-distribution detection on a classifier's penultimate features.

A softmax is confident about anything, including a holiday photo, so the classifier's
answer alone cannot say "this is not a brain MRI". We fit a class-conditional Gaussian
with a shared covariance (Mahalanobis detector, Lee et al. 2018) on the training
features, reduced by PCA so the covariance is well conditioned with few samples, and
reject an image whose distance to the nearest class exceeds a threshold chosen on the
validation split. The parameters live in a ``.ood.npz`` beside the model card (too big
for JSON); the card keeps the threshold, the file name and its sha256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA

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

    def save(self, path: str | Path) -> str:
        """Write the parameters atomically; returns the file's sha256."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, pca_mean=self.pca_mean, components=self.components,
                     class_means=self.class_means, precision=self.precision,
                     threshold=np.array(self.threshold))
        tmp.replace(path)
        return hashlib.sha256(path.read_bytes()).hexdigest()


def fit_detector(
    train_features: np.ndarray,
    train_labels: np.ndarray,
    val_features: np.ndarray,
    keep_quantile: float = DEFAULT_KEEP_QUANTILE,
    max_components: int = 32,
) -> MahalanobisDetector:
    """Fit the detector on training features and pick its threshold on validation ones.

    Args:
        train_features: (n, d) features of the training images.
        train_labels: (n,) integer class labels.
        val_features: (m, d) features of in-distribution validation images.
        keep_quantile: fraction of validation images that must stay accepted.
        max_components: PCA dimension cap (covariance needs far more samples than dims).

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
    precision = LedoitWolf(assume_centered=True).fit(residuals).precision_
    detector = MahalanobisDetector(
        pca_mean=pca.mean_, components=pca.components_, class_means=class_means,
        precision=precision, threshold=np.inf,
    )
    val_scores = detector.score(val_features)
    threshold = float(np.quantile(val_scores, keep_quantile))
    # A margin over the worst kept validation score: unseen in-distribution images scatter further.
    threshold *= 1.25
    return MahalanobisDetector(pca.mean_, pca.components_, class_means, precision, threshold)


def load_detector(path: str | Path, sha256: str | None = None) -> MahalanobisDetector:
    """Read a detector saved by :meth:`MahalanobisDetector.save`, checking its sha256."""
    path = Path(path)
    if not path.is_file():
        raise OODDetectorError(f"The out-of-distribution detector file {path.name} is missing.")
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise OODDetectorError(
            f"The out-of-distribution detector file {path.name} does not match its model card "
            "(it was modified or corrupted)."
        )
    with np.load(path, allow_pickle=False) as npz:
        return MahalanobisDetector(
            pca_mean=npz["pca_mean"], components=npz["components"],
            class_means=npz["class_means"], precision=npz["precision"],
            threshold=float(npz["threshold"]),
        )
