"""Clinician feedback: agree with or correct each verdict, stored in a real database, exported for retraining.

Owns the feedback schema (typed SQLAlchemy models, Alembic migrations applied on first use), the store
(SQLite file at ``core.paths.FEEDBACK_DB`` in WAL mode by default, PostgreSQL when ``$MEDIMG_DB_URL`` is
set) and the rules of what may be stored: no file names, no DICOM identifiers, pixels only when the
clinician asks for the image to be kept. May import ``core.paths`` and ``core.tasks``; never Streamlit,
never TensorFlow (the app's pages and ``training.export_feedback`` both use it).
"""

from core.feedback.engine import DB_URL_ENV, database_url, dispose_all, get_engine
from core.feedback.records import (
    AGREE,
    FeedbackError,
    PredictionRecord,
    answer_choices,
    pixel_sha256,
    png_bytes,
    record_of,
)
from core.feedback.review import answer_label, entry_rows, rate_rows
from core.feedback.schema import OTHER_ANSWERS, FeedbackEntry, KeptImage
from core.feedback.store import FeedbackStore

__all__ = [
    "AGREE", "DB_URL_ENV", "FeedbackEntry", "FeedbackError", "FeedbackStore", "KeptImage", "OTHER_ANSWERS",
    "PredictionRecord", "answer_choices", "answer_label", "database_url", "dispose_all", "entry_rows",
    "get_engine", "pixel_sha256", "png_bytes", "rate_rows", "record_of",
]
