"""Everything the app's pages need that is not a Streamlit call: wording, tables, reports, serving glue.

``core.ui`` owns how results are put into words for a clinician: verdicts (``verdicts``), what a model
may be used for and who it is (``cards``), its test figures in plain words (``measures``), the analysis of
uploads and the background model loader (``session``), the GAN gallery's data (``gallery``) and the
downloadable PDF/CSV reports (``report``). It may import any other ``core`` package, but only inside
functions where that package needs TensorFlow, so that importing ``core.ui`` (as every page does) stays
light; it never imports Streamlit, so it is unit-testable and shared with the batch command line
(``core.predict``).
"""

from core.ui.cards import (
    DEMO_BANNER,
    MISSING,
    ModelStatus,
    card_details,
    card_plots,
    card_summary,
    is_demo,
    model_status,
    provenance,
)
from core.ui.gallery import (
    GanAssets,
    experiment_verdicts,
    gan_assets,
    generate_samples,
    interpolate,
    load_generator,
    plain_words,
    quality_summary,
)
from core.ui.measures import (
    MEASURES,
    Measure,
    comparison_table,
    confusion_frame,
    measures_table,
    per_class_frame,
)
from core.ui.session import (
    ModelPool,
    analyse,
    analysis_key,
    bundled_samples,
    cam_labels,
    card_of,
    colour_overlay,
    colour_scale,
    heatmap_of,
    image_label,
    load_served_model,
    model_names,
    remember,
    served_model_args,
    session_defaults,
)
from core.ui.verdicts import (
    CALIBRATED_HELP,
    DICOM_FIELDS,
    FAILURE_TEMPLATES,
    STATUS_TEXT,
    FileResult,
    Verdict,
    describe_failure,
    dicom_facts,
    percent,
    png_bytes,
    probability_frame,
    verdict,
)

__all__ = [
    "CALIBRATED_HELP", "DEMO_BANNER", "DICOM_FIELDS", "FAILURE_TEMPLATES", "FileResult", "GanAssets",
    "MEASURES", "MISSING", "Measure", "ModelPool", "ModelStatus", "STATUS_TEXT", "Verdict", "analyse",
    "analysis_key", "bundled_samples", "cam_labels", "card_details", "card_of", "card_plots", "card_summary",
    "colour_overlay", "colour_scale", "comparison_table", "confusion_frame", "describe_failure", "dicom_facts",
    "experiment_verdicts", "gan_assets", "generate_samples", "heatmap_of", "image_label", "interpolate",
    "is_demo", "load_generator", "load_served_model", "measures_table", "model_names", "model_status",
    "per_class_frame", "percent", "plain_words", "png_bytes", "probability_frame", "provenance",
    "quality_summary", "remember", "served_model_args", "session_defaults", "verdict",
]
