"""Is an upload of the kind of image the model was trained on? A guard that answers before the model does.

A softmax names a class for anything. Real scans of one modality are varied (planes, sequences, scanners), so a
single Gaussian around them (``core.serving.ood``) is either too tight for real scans or too loose for other
modalities. This guard combines two ideas, each with its threshold chosen on the validation split:

- **one-class, k nearest neighbours** (Sun et al., ICML 2022) in two views of the image: the model's
  L2-normalised penultimate features and simple image statistics (``core.serving.ood.image_statistics``).
  An image far from every training image in either view is refused;
  kNN follows a many-mode distribution (axial, coronal, sagittal; T1, T2, FLAIR) that a Gaussian cannot.
- **a modality gate**: a logistic regression on those views and a 16 x 16 grey + 8 x 8 saturation thumbnail,
  trained to tell training images from negatives of known kinds (blank frames, noise, photo-like pictures,
  phantoms of the other modalities and, where the real datasets are at hand, real images of the other modalities).
  It is what refuses a real breast ultrasound under a brain model even when the ultrasound's features happen to
  sit near a brain scan's.

Scores are ratios to each part's threshold; the guard's score is the largest, so 1.0 is the decision boundary.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression

from core.atomic import atomic_write
from core.serving.ood import OODDetectorError, image_statistics

#: Views searched by nearest neighbours. The thumbnail view feeds the gate only: its training vectors are tiny
#: pictures of the training scans, which must not ship inside the model's files.
KNN_VIEWS = ("features", "statistics")
#: Format marker stored in the ``.npz`` so the loader can tell this guard from the Gaussian detector.
GUARD_KIND = "knn-views+gate/1"
#: Fraction of validation images each part keeps: four parts keep about 98 % together.
KEEP_QUANTILE = 0.995
#: Margin over each part's validation quantile: a quantile of a few hundred images underestimates the tail.
MARGIN = 1.1
#: Neighbour whose distance is the score (the 5th: one duplicate in the reference cannot vouch for an image).
K_NEIGHBOURS = 5
#: Most training images kept as neighbours (float16), to bound the file and the search.
MAX_REFERENCE = 2000
THUMB, SAT_THUMB = 16, 8


def view_vectors(features: np.ndarray, images: np.ndarray) -> dict[str, np.ndarray]:
    """The three views of prepared images (before standardisation).

    Args:
        features: (n, d) penultimate features.
        images: (n, H, W, 3) prepared images, 0..255.

    Returns:
        ``{"features": (n, d), "statistics": (n, 20), "thumbnail": (n, 320)}`` float32.
    """
    images = np.asarray(images, dtype=np.float32)
    features = np.asarray(features, dtype=np.float32)
    norm = np.linalg.norm(features, axis=1, keepdims=True)
    grey = [cv2.resize(im.mean(-1), (THUMB, THUMB), interpolation=cv2.INTER_AREA).ravel() for im in images]
    sat = [cv2.resize(im.max(-1) - im.min(-1), (SAT_THUMB, SAT_THUMB), interpolation=cv2.INTER_AREA).ravel()
           for im in images]
    thumbs = np.concatenate([np.stack(grey), np.stack(sat)], axis=1) / 255.0
    return {"features": features / np.maximum(norm, 1e-9),
            "statistics": image_statistics(images).astype(np.float32),
            "thumbnail": thumbs.astype(np.float32)}


def _kth_distance(queries: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    # Squared distances through one matrix product; blocks keep memory flat for large batches.
    ref = reference.astype(np.float32)
    ref_sq = (ref ** 2).sum(1)
    out = []
    for start in range(0, len(queries), 256):
        q = queries[start:start + 256].astype(np.float32)
        d2 = (q ** 2).sum(1)[:, None] + ref_sq[None, :] - 2.0 * q @ ref.T
        kth = np.partition(np.maximum(d2, 0.0), k - 1, axis=1)[:, k - 1]
        out.append(np.sqrt(kth))
    return np.concatenate(out) if out else np.zeros(0, np.float32)


@dataclass
class ModalityGuard:
    """kNN views plus a logistic modality gate; ``score > threshold`` refuses an image.

    Attributes:
        references: view -> (m, d) standardised training vectors.
        means, scales: view -> standardisation of that view.
        view_thresholds: view -> k-th neighbour distance kept by ``KEEP_QUANTILE`` of validation images.
        gate_coef, gate_intercept: the logistic gate on the concatenated standardised views (None: no gate).
        gate_threshold: gate probability of "not this modality" above which an image is refused.
        threshold: decision boundary of the combined ratio score (1.0).
    """

    references: dict[str, np.ndarray]
    means: dict[str, np.ndarray]
    scales: dict[str, np.ndarray]
    view_thresholds: dict[str, float]
    gate_coef: np.ndarray | None = None
    gate_intercept: float = 0.0
    gate_threshold: float = 0.5
    k: int = K_NEIGHBOURS
    threshold: float = 1.0
    info: dict = field(default_factory=dict)

    def _standardised(self, features: np.ndarray, images: np.ndarray) -> dict[str, np.ndarray]:
        views = view_vectors(features, images)
        return {name: (views[name] - self.means[name]) / self.scales[name] for name in self.means}

    def part_scores(self, features: np.ndarray, images: np.ndarray | None) -> dict[str, np.ndarray]:
        """Each part's score divided by its threshold (> 1: that part refuses)."""
        if images is None:
            raise OODDetectorError("The modality guard needs the prepared images as well as the features.")
        views = self._standardised(features, images)
        parts = {name: _kth_distance(views[name], self.references[name], self.k) / self.view_thresholds[name]
                 for name in self.references}
        if self.gate_coef is not None:
            parts["gate"] = self._gate_probability(views) / self.gate_threshold
        return parts

    def _gate_probability(self, views: dict[str, np.ndarray]) -> np.ndarray:
        x = np.concatenate([views[name] for name in sorted(views)], axis=1)
        return 1.0 / (1.0 + np.exp(-(x @ self.gate_coef + self.gate_intercept)))

    def score(self, features: np.ndarray, images: np.ndarray | None = None) -> np.ndarray:
        """Largest part ratio per image (> 1: out of distribution)."""
        return np.max(np.stack(list(self.part_scores(features, images).values())), axis=0)

    def is_out_of_distribution(self, features: np.ndarray, images: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask of the images the guard refuses."""
        return self.score(features, images) > self.threshold

    @property
    def thresholds(self) -> list[float]:
        """Every threshold the guard compares with (all must be finite and positive)."""
        return [self.threshold, self.gate_threshold, *self.view_thresholds.values()]

    def save(self, path: str | Path) -> str:
        """Write the guard to one ``.npz`` atomically; returns its sha256."""
        arrays = {"guard_kind": np.array(GUARD_KIND), "k": np.array(self.k), "threshold": np.array(self.threshold)}
        for name in self.means:
            arrays[f"mean_{name}"], arrays[f"scale_{name}"] = self.means[name], self.scales[name]
        for name in self.references:
            arrays[f"ref_{name}"] = self.references[name].astype(np.float16)
            arrays[f"thr_{name}"] = np.array(self.view_thresholds[name])
        if self.gate_coef is not None:
            arrays.update(gate_coef=self.gate_coef, gate_intercept=np.array(self.gate_intercept),
                          gate_threshold=np.array(self.gate_threshold))
        with atomic_write(path) as handle:
            np.savez(handle, **arrays)
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()

    @classmethod
    def from_npz(cls, npz) -> ModalityGuard:
        """Rebuild a guard from the arrays :meth:`save` wrote."""
        names = sorted(key[4:] for key in npz.files if key.startswith("ref_"))
        views = sorted(key[5:] for key in npz.files if key.startswith("mean_"))
        gate = "gate_coef" in npz.files
        return cls(
            references={n: npz[f"ref_{n}"].astype(np.float32) for n in names},
            means={n: npz[f"mean_{n}"] for n in views}, scales={n: npz[f"scale_{n}"] for n in views},
            view_thresholds={n: float(npz[f"thr_{n}"]) for n in names},
            gate_coef=npz["gate_coef"] if gate else None,
            gate_intercept=float(npz["gate_intercept"]) if gate else 0.0,
            gate_threshold=float(npz["gate_threshold"]) if gate else 0.5,
            k=int(npz["k"]), threshold=float(npz["threshold"]))


def fit_modality_guard(train_features: np.ndarray, train_images: np.ndarray, val_features: np.ndarray,
                       val_images: np.ndarray, negative_features: np.ndarray | None = None,
                       negative_images: np.ndarray | None = None, keep_quantile: float = KEEP_QUANTILE,
                       seed: int = 0) -> ModalityGuard:
    """Fit the guard on training images, its thresholds on validation images, its gate on known negatives.

    Args:
        train_features, train_images: features and prepared images of (a sample of) the training split.
        val_features, val_images: the same for the validation split (thresholds only).
        negative_features, negative_images: images that are not of this modality (None: no gate).
        keep_quantile: fraction of validation images each part accepts.
        seed: seed of the reference subsample.

    Raises:
        OODDetectorError: too few images to fit.
    """
    n_train = min(len(train_features), len(train_images))
    if n_train < 4 or len(val_images) < 2:
        raise OODDetectorError("At least 4 training and 2 validation images are needed to fit the guard.")
    # Tiny training sets (quick runs) look at a nearer neighbour; real ones at the 5th.
    k = min(K_NEIGHBOURS, n_train // 2)
    train = view_vectors(train_features[:n_train], train_images[:n_train])
    val = view_vectors(val_features[:len(val_images)], val_images)
    means = {n: v.mean(0) for n, v in train.items()}
    # A floor on the spread: a statistic that never varied in training must not make rounding look strange.
    scales = {n: np.maximum(v.std(0), 0.02 if n != "features" else 1e-3) for n, v in train.items()}
    std_train = {n: (v - means[n]) / scales[n] for n, v in train.items()}
    std_val = {n: (v - means[n]) / scales[n] for n, v in val.items()}
    keep = np.random.default_rng(seed).permutation(n_train)[:MAX_REFERENCE]
    references = {n: std_train[n][keep] for n in KNN_VIEWS}
    thresholds = {n: float(np.quantile(_kth_distance(std_val[n], references[n], k), keep_quantile))
                  for n in references}
    guard = ModalityGuard(references, means, scales, {n: max(t * MARGIN, 1e-6) for n, t in thresholds.items()}, k=k)
    if negative_features is not None and negative_images is not None and len(negative_images):
        neg = view_vectors(negative_features[:len(negative_images)], negative_images)
        std_neg = {n: (v - means[n]) / scales[n] for n, v in neg.items()}
        x = np.concatenate([np.concatenate([std_train[n] for n in sorted(std_train)], axis=1),
                            np.concatenate([std_neg[n] for n in sorted(std_neg)], axis=1)])
        y = np.r_[np.zeros(n_train), np.ones(len(negative_images))]
        gate = LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000).fit(x, y)
        guard.gate_coef, guard.gate_intercept = gate.coef_[0].astype(np.float64), float(gate.intercept_[0])
        p_val = guard._gate_probability(std_val)
        guard.gate_threshold = float(min(max(np.quantile(p_val, keep_quantile), 0.5), 0.999))
    return guard
