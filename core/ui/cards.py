"""Reading model cards for people: what the model may be used for, who it is, its figures' files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from core import paths

#: Written wherever a card lacks a field; plain ASCII so the PDF's core fonts can print it.
MISSING = "n/a"

#: Shown on every page while the served model is a demo model.
DEMO_BANNER = (
    "**Demo weights.** This model was trained on synthetic phantoms, not on patient images: "
    "not for clinical use. To serve real weights, train on the public dataset and drop the `.keras` "
    "file and its card into `models/<task>/` (see the About page)."
)


def _get(card: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    value: Any = card
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value


def _fmt(value: Any, spec: str = "") -> str:
    if value is None:
        return MISSING
    if spec and isinstance(value, (int, float)):
        return format(value, spec)
    return str(value)


def provenance(card: Mapping[str, Any]) -> str:
    """One line saying what data the model learnt from."""
    kind = _get(card, "training_data.kind")
    dataset = _get(card, "training_data.dataset", MISSING)
    if kind == "synthetic-phantoms":
        return (f"synthetic phantoms (generator {_get(card, 'training_data.generator_version', MISSING)}, "
                f"seed {_get(card, 'training_data.seed', MISSING)}): demo weights, not for clinical use")
    tuned = card.get("fine_tuning")
    guided = (f"; fine-tuned from {tuned.get('parent')} with {tuned.get('outlined_training_images')} training lesion "
              "outlines" if isinstance(tuned, Mapping) else "")
    return f"{dataset} ({kind or 'unknown kind'}){guided}"


def is_demo(card: Mapping[str, Any] | None) -> bool:
    """True when the card says the weights were trained on synthetic phantoms."""
    return bool(card) and _get(card, "training_data.kind") == "synthetic-phantoms"


@dataclass(frozen=True)
class ModelStatus:
    """What a result may be used for, shown beside every verdict and at the top of every report.

    Attributes:
        kind: ``"research"`` (real training data), ``"demo"`` (synthetic phantoms) or ``"unknown"``.
        badge: one or two words ("RESEARCH USE", "DEMO").
        text: one sentence naming the training data.
    """

    kind: str
    badge: str
    text: str


def model_status(card: Mapping[str, Any] | None) -> ModelStatus:
    """The model's status from its card's ``training_data`` (dataset name and kind)."""
    kind = _get(card or {}, "training_data.kind")
    dataset = _get(card or {}, "training_data.dataset") or "an unnamed dataset"
    images = sum(v for v in ((card or {}).get("split_sizes") or {}).values() if isinstance(v, int))
    if kind == "real":
        size = f"; {images:,} of its images used for training and testing" if images else ""
        return ModelStatus("research", "RESEARCH USE",
                           f"Research use only: trained on {dataset}{size}. Not a medical device; a clinician "
                           "decides.")
    if kind == "synthetic-phantoms":
        return ModelStatus("demo", "DEMO",
                           "Demo on phantoms: trained on synthetic images, not on patients. Its answers have "
                           "no clinical meaning.")
    return ModelStatus("unknown", "UNVERIFIED",
                       "Unknown training data: this model's card does not say what it learnt from.")


def card_summary(card: Mapping[str, Any]) -> dict[str, str]:
    """Who the model is: name, architecture, size, date and weights digest (its figures: ``core.ui.measures``)."""
    backbone = card.get("backbone")
    architecture = backbone.get("display_name") if isinstance(backbone, Mapping) else None
    params = card.get("params")
    return {
        "Model": _fmt(card.get("name")),
        "Architecture": _fmt(architecture or card.get("architecture")),
        "Size": f"{params / 1e6:.1f} million parameters" if isinstance(params, int) else MISSING,
        "Created": _fmt(card.get("created")),
        "sha256": _fmt(card.get("sha256")),
    }


def _number(card: Mapping[str, Any], *dotted: str) -> float | None:
    """First numeric value among ``dotted`` paths (cards written by different versions differ)."""
    for path in dotted:
        value = _get(card, path)
        if isinstance(value, Mapping):  # e.g. {"macro": ..} or {"mean_ms": ..}
            value = next((v for k, v in value.items() if k in ("macro", "mean_ms", "mean")), None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


#: Plot files the models page may show.
_PLOT_SUFFIXES = (".png", ".jpg", ".jpeg")


def card_plots(card: Mapping[str, Any]) -> dict[str, Path]:
    """The card's figures (name -> file) that exist, ready to show.

    ``plots`` paths are relative to the card's folder (shipped with the model); a training run's
    ``training_run.plots`` are used where the run folder is still on this machine. A card cannot point
    the app outside the models folder or the runs folder.
    """
    folder = paths.task_models_dir(str(card.get("task_id")))
    candidates = {name: Path(p) for name, p in (_get(card, "training_run.plots") or {}).items()
                  if isinstance(p, str)}
    candidates.update({name: folder / p for name, p in (card.get("plots") or {}).items() if isinstance(p, str)})
    sheet = _get(card, "explanations.shortcut_audit.contact_sheet")
    if isinstance(sheet, str):  # written by training.audit_explanations on the machine that has the data
        candidates["explanations"] = folder / sheet
    allowed = (folder.resolve(), Path(paths.RUNS_DIR).resolve())
    return {name: p for name, p in candidates.items()
            if p.suffix.lower() in _PLOT_SUFFIXES and p.is_file()
            and any(p.resolve().is_relative_to(root) for root in allowed)}


def card_details(card: Mapping[str, Any]) -> dict[str, str]:
    """What a researcher checks beyond :func:`card_summary`: inputs, splits, detector, cost, versions."""
    ood = card.get("ood") or {}
    split_sizes = card.get("split_sizes") or {}
    versions = card.get("library_versions") or {}
    return {
        "Input shape": " x ".join(str(v) for v in card.get("input_shape") or []) or MISSING,
        "Preprocessing": _fmt(_get(card, "preprocessing.id")),
        "Split sizes": ", ".join(f"{k} {v}" for k, v in split_sizes.items()) or MISSING,
        "Out-of-distribution detector": (
            f"{ood.get('method', 'mahalanobis')}, threshold {_fmt(ood.get('threshold'), '.4g')}, "
            f"detection rate {_fmt(ood.get('detection_rate'), '.1%')}" if ood else "none"),
        "FLOPs": _fmt(card.get("flops"), ".3g"),
        "Library versions": ", ".join(f"{k} {v}" for k, v in versions.items()) or MISSING,
    }
