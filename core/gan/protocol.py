"""The fixed quality protocol every generator card carries, so a reader can tell a good generator from a bad one.

For one class: at least 500 generated images against the class's real *training* images, on the
one fixed ImageNet MobileNet (:mod:`core.gan.features`):

- ``fid``, ``kid``: generated vs training images. ``reference_fid``, ``reference_kid``: held-out
  real images of the class vs the same training images, i.e. what "as good as a new real scan"
  scores. KID is unbiased in the number of images; FID is not (fewer images, higher FID), so
  ``fid_at_reference_n`` also gives the FID of as many generated images as there are held-out ones.
- ``ms_ssim_generated`` vs ``ms_ssim_real``: mean pairwise MS-SSIM (1 = all alike, mode collapse).
- ``memorised_fraction``: generated images closer to a training image than real training images
  are to each other (5th percentile of their leave-one-out distances); ``heldout_below_threshold``
  gives the same fraction for held-out real images, for scale. The closest pairs go to a PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from core.gan import memorisation as memo
from core.gan import quality as q
from core.gan.features import WEIGHTS_FILE, FeatureExtractor

#: The protocol's minimum number of generated images.
MIN_GENERATED = 500
PROTOCOL_VERSION = 1


def _fid_kid(real_f: np.ndarray, other_f: np.ndarray | None) -> tuple[float | None, float | None]:
    if other_f is None or len(other_f) < 2:
        return None, None
    return q.frechet_distance(real_f, other_f), q.kernel_inception_distance(real_f, other_f)


def _memorisation(generated: np.ndarray, train: np.ndarray, heldout: np.ndarray | None, closest_png: Path) -> dict:
    dist, idx = memo.nearest_real_distances(generated, train)
    fraction, threshold = memo.memorised_fraction(dist, memo.real_to_real_distances(train))
    memo.save_closest_pairs_png(generated, train, dist, idx, closest_png, k=min(8, len(generated)))
    held = None
    if heldout is not None and len(heldout):
        held = float(np.mean(memo.nearest_real_distances(heldout, train)[0] < threshold))
    return {"memorised_fraction": fraction, "memorisation": {
        "metric": "RMS pixel difference (0-1) at 32x32 to the nearest real training image; 0 = an exact copy",
        "threshold": threshold, "threshold_rule": "5th percentile of training images' distance to their nearest "
                                                  "other training image",
        "min": float(dist.min()), "median": float(np.median(dist)), "heldout_below_threshold": held,
        "closest_pairs_png": closest_png.name}}


def score_generator(generator: Any, train: np.ndarray, heldout: np.ndarray | None, closest_png: str | Path,
                    n_generated: int = MIN_GENERATED, seed: int = 0,
                    extractor: FeatureExtractor | None = None, weights: str | None = None) -> dict:
    """The card's ``quality`` section for one class's generator.

    Args:
        generator: the trained generator (latent -> image in [-1, 1]).
        train: uint8 (N, S, S, C) real training images of the class (what the generator learnt from).
        heldout: uint8 real images of the class the generator never saw (None: no reference figures).
        closest_png: where the closest generated/training pairs are drawn (beside the card).
        n_generated: generated images scored (the protocol asks for at least 500).
        seed: seed of the generated images.
        extractor: a loaded :class:`FeatureExtractor` (built from ``weights`` when None).
        weights: the MobileNet weight file or its folder (default ``$MEDIMG_WEIGHTS``).

    Returns:
        Flat figures (``fid``, ``kid``, ``n_generated``, ``n_real``, ``reference_fid``, ``reference_kid``,
        ``n_reference``, ``fid_at_reference_n``, ``ms_ssim_generated``, ``ms_ssim_real``,
        ``memorised_fraction``) plus ``extractor`` and ``memorisation`` details.

    Without the weight file, FID/KID figures are None and ``reason`` names the missing file.

    Raises:
        core.gan.quality.GANQualityError: too few images.
    """
    from core.models.dcgan import generate

    generated = generate(generator, n_generated, seed=seed)
    figures = {"protocol_version": PROTOCOL_VERSION, "n_generated": int(len(generated)), "n_real": int(len(train)),
               "n_reference": 0 if heldout is None else int(len(heldout)),
               "ms_ssim_generated": q.mean_pairwise_ms_ssim(generated, seed=seed),
               "ms_ssim_real": q.mean_pairwise_ms_ssim(train, seed=seed),
               **_memorisation(generated, train, heldout, Path(closest_png))}
    try:
        extractor = extractor or FeatureExtractor(weights)
    except q.GANQualityError:  # no weight file: the other figures still stand, FID/KID say why not
        return {**figures, "fid": None, "kid": None, "reference_fid": None, "reference_kid": None,
                "fid_at_reference_n": None, "reason": f"the fixed extractor's weight file {WEIGHTS_FILE} was not "
                                                      "found ($MEDIMG_WEIGHTS or --weights)"}
    return {**figures, **_fidelity(extractor, generated, train, heldout, seed), "extractor": extractor.description}


def _fidelity(extractor: FeatureExtractor, generated: np.ndarray, train: np.ndarray, heldout: np.ndarray | None,
              seed: int) -> dict:
    train_f, gen_f = extractor(train), extractor(generated)
    heldout_f = extractor(heldout) if heldout is not None and len(heldout) >= 2 else None
    fid, kid = _fid_kid(train_f, gen_f)
    reference_fid, reference_kid = _fid_kid(train_f, heldout_f)
    same_n = None
    if heldout_f is not None:
        pick = np.random.default_rng(seed).choice(len(gen_f), size=min(len(heldout_f), len(gen_f)), replace=False)
        same_n = q.frechet_distance(train_f, gen_f[pick])
    return {"fid": fid, "kid": kid, "reference_fid": reference_fid, "reference_kid": reference_kid,
            "fid_at_reference_n": same_n}
