"""How good, how original and how varied a trained generator's images are, for its card.

- Fidelity: FID and KID on the penultimate-layer (``features``) features of the task's own
  classifier (a served model, or a ``.keras`` path); without one they are recorded as null
  with the reason, never guessed.
- Memorisation: distance of each generated image to its nearest real training image, with the
  real-to-real distance for scale; the closest pairs are saved as a PNG beside the card.
- Diversity: mean pairwise MS-SSIM of generated images (1 = all alike), and of the real ones.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np

from core import gan_quality
from core.serving.cards import sha256_file
from core.models import dcgan
from training.config import ConfigError
from training.gan_config import GanConfig

log = logging.getLogger(__name__)

#: Layer whose output the fidelity features come from (the shared classification head names it).
FEATURE_LAYER = "features"


def _from_file(path: str) -> tuple[keras.Model, dict]:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"Classifier {file} for FID/KID does not exist; pass a served model name or an existing .keras file.")
    import core.models  # noqa: F401  registers the project's layers, which safe_mode loading needs

    try:
        model = keras.models.load_model(file, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a bad archive
        raise ConfigError(f"Classifier {file.name} could not be loaded safely ({type(exc).__name__}).") from exc
    return model, {"classifier": str(file), "classifier_sha256": sha256_file(file)}


def _served(task_id: str, name: str | None, models_dir: str | None) -> tuple[keras.Model, dict]:
    from core.inference import load_model

    served = load_model(task_id, name, models_dir, warm_up=False)
    return served.keras_model, {"classifier": served.name, "classifier_sha256": served.card["sha256"],
                                "classifier_training_data": served.card["training_data"].get("kind")}


def feature_classifier(task_id: str, classifier: str | None, models_dir: str | None
                       ) -> tuple[keras.Model | None, dict]:
    """The classifier whose features FID/KID use.

    Args:
        task_id: the task.
        classifier: a ``.keras`` path, a served model name, or None for the task's default model.
        models_dir: served models root (None: core.paths.MODELS_DIR).

    Returns:
        (model, provenance) or, when no classifier is given and none is served, (None, {"reason": ...}).

    Raises:
        ConfigError: an explicitly named classifier cannot be found or loaded.
    """
    from core.inference import ServingError

    if classifier and classifier.endswith(".keras"):
        return _from_file(classifier)
    try:
        return _served(task_id, classifier, models_dir)
    except ServingError as exc:
        if classifier:
            raise ConfigError(f"Classifier '{classifier}' for FID/KID cannot be used: {exc}") from None
        return None, {"reason": f"No trained classifier of task '{task_id}' to take features from: {exc} "
                                "Train one (python -m training.train_classifier) or pass --classifier."}


def _fidelity(cfg: GanConfig, generated: np.ndarray, real: np.ndarray) -> dict:
    model, info = feature_classifier(cfg.task, cfg.classifier, cfg.models_dir)
    if model is None:
        return {"fid": None, "kid": None, **info}
    try:
        real_f = gan_quality.classifier_features(model, real, FEATURE_LAYER)
        gen_f = gan_quality.classifier_features(model, generated, FEATURE_LAYER)
        return {"fid": gan_quality.frechet_distance(real_f, gen_f),
                "kid": gan_quality.kernel_inception_distance(real_f, gen_f),
                "feature_layer": FEATURE_LAYER, "feature_dim": int(real_f.shape[1]), **info}
    except gan_quality.GANQualityError as exc:
        return {"fid": None, "kid": None, "reason": str(exc), **info}


def _memorisation(generated: np.ndarray, real: np.ndarray, closest_png: Path) -> dict:
    dist, idx = gan_quality.nearest_real_distances(generated, real)
    gan_quality.save_closest_pairs_png(generated, real, dist, idx, closest_png, k=min(8, len(generated)))
    # Scale: how close real images come to one another (half of them against the other half).
    reference = gan_quality.nearest_real_distances(real[::2], real[1::2])[0] if len(real) >= 2 else None
    return {
        "metric": "RMS pixel difference (0-1) at 32x32 to the nearest real training image; 0 = an exact copy",
        "min": float(dist.min()), "median": float(np.median(dist)), "mean": float(dist.mean()),
        "real_to_real_median": None if reference is None else float(np.median(reference)),
        "closest_pairs_png": closest_png.name,  # beside the card, so the path survives a copy
    }


def _diversity(generated: np.ndarray, real: np.ndarray) -> dict:
    out = {"metric": "mean pairwise MS-SSIM (1 = all images alike, i.e. mode collapse)"}
    for name, images in (("ms_ssim_generated", generated), ("ms_ssim_real", real)):
        try:
            out[name] = gan_quality.mean_pairwise_ms_ssim(images, seed=0)
        except gan_quality.GANQualityError as exc:
            out[name], out[f"{name}_reason"] = None, str(exc)
    return out


def score_generator(cfg: GanConfig, generator: keras.Model, real: np.ndarray, closest_png: Path) -> dict:
    """Quality section of a generator's card.

    Args:
        cfg: the GAN config (task, classifier, models_dir, quality_samples, seed).
        generator: the trained generator.
        real: the uint8 real images it learnt from (N, S, S, C).
        closest_png: where the closest generated/real pairs are drawn.

    Returns:
        ``fidelity`` (fid, kid, classifier or reason), ``memorisation``, ``diversity``, ``n_generated``, ``n_real``.
    """
    generated = dcgan.generate(generator, cfg.quality_samples, seed=cfg.seed + 1)
    quality = {"n_generated": int(len(generated)), "n_real": int(len(real)),
               "fidelity": _fidelity(cfg, generated, real),
               "memorisation": _memorisation(generated, real, closest_png),
               "diversity": _diversity(generated, real)}
    if quality["fidelity"]["fid"] is None:
        log.warning("FID/KID not computed: %s", quality["fidelity"].get("reason"))
    return quality
