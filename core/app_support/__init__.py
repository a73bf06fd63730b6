"""UI-free helpers for the clinician app: verdicts, card tables, serving glue, the GAN gallery.

The Streamlit pages stay thin by asking this package what to say and show; nothing here imports
Streamlit, so it is unit-testable and shared with the PDF/CSV report (``core.report``).
"""

from core.app_support.cards import (
    DEMO_BANNER, MISSING, card_details, card_plots, card_summary, comparison_table, confusion_frame, is_demo,
    per_class_frame, provenance,
)
from core.app_support.gallery import (GanAssets, gan_assets, generate_samples, interpolate, load_generator,
                                      quality_summary)
from core.app_support.serving import (
    CAM_LABELS, analyse, analysis_key, bundled_samples, card_of, heatmap_of, load_served_model, model_names,
    remember, served_model_args, session_defaults,
)
from core.app_support.verdicts import (
    DICOM_FIELDS, FAILURE_TEMPLATES, STATUS_TEXT, FileResult, Verdict, describe_failure, dicom_facts, png_bytes,
    probability_frame, verdict,
)

__all__ = [
    "CAM_LABELS", "DEMO_BANNER", "DICOM_FIELDS", "FAILURE_TEMPLATES", "FileResult", "GanAssets", "MISSING",
    "STATUS_TEXT", "Verdict", "analyse", "analysis_key", "bundled_samples", "card_details", "card_of",
    "card_plots", "card_summary", "comparison_table", "confusion_frame", "describe_failure", "dicom_facts",
    "gan_assets", "generate_samples", "heatmap_of", "interpolate", "is_demo", "load_generator", "quality_summary",
    "load_served_model", "model_names", "per_class_frame", "png_bytes", "probability_frame", "provenance",
    "remember", "served_model_args", "session_defaults", "verdict",
]
