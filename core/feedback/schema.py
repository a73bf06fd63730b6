"""The feedback tables, as typed SQLAlchemy 2 models (the migrations in ``migrations/`` create them).

One row per clinician answer (``feedback``); the de-identified pixels of a case, when the clinician
ticked "keep the image for retraining", sit in a second table (``feedback_images``) so that listing
and counting never load image bytes, and so that app replicas sharing one PostgreSQL need no shared disk.
Nothing here holds a file name or a DICOM attribute: the image is known by the sha256 of its pixels.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: Answers a clinician can give besides "agree" and a class of the task (answer id -> label).
OTHER_ANSWERS: dict[str, str] = {
    "not_this_modality": "Not this modality",
    "poor_image_quality": "Poor image quality",
}
#: What the model "said" when its detector refused the image as out of distribution.
OUT_OF_DISTRIBUTION = "not_this_modality"

MAX_COMMENT = 500
MAX_INITIALS = 8


class Base(DeclarativeBase):
    """Declarative base of the feedback tables (its metadata is the migrations' target)."""


class FeedbackEntry(Base):
    """One clinician answer to one verdict of one model on one image."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    task_id: Mapped[str] = mapped_column(String(64), index=True)
    model_name: Mapped[str] = mapped_column(String(128), index=True)
    model_sha256: Mapped[str] = mapped_column(String(64))
    image_sha256: Mapped[str] = mapped_column(String(64), index=True)
    #: The most probable class (kept even when the verdict was "uncertain" or "out of distribution").
    predicted_class: Mapped[str] = mapped_column(String(64))
    #: The verdict shown: classified, uncertain or out_of_distribution.
    status: Mapped[str] = mapped_column(String(32))
    probabilities: Mapped[dict[str, float]] = mapped_column(JSON)
    prediction_set: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    ood: Mapped[bool] = mapped_column(Boolean)
    ood_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: What the model answered: ``predicted_class``, or ``not_this_modality`` when it refused the image.
    model_answer: Mapped[str] = mapped_column(String(64))
    #: The clinician's answer: a class id of the task or a key of OTHER_ANSWERS.
    answer: Mapped[str] = mapped_column(String(64))
    agreed: Mapped[bool] = mapped_column(Boolean, index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    initials: Mapped[str] = mapped_column(String(MAX_INITIALS), default="")
    image: Mapped[KeptImage | None] = relationship(
        back_populates="entry", cascade="all, delete-orphan", passive_deletes=True, uselist=False)

    def as_dict(self) -> dict[str, Any]:
        """The row's columns as plain data (no ORM state, no image bytes); times in UTC."""
        row = {column.key: getattr(self, column.key) for column in self.__table__.columns}
        if row["created_at"].tzinfo is None:  # SQLite keeps no zone; every time is written in UTC
            row["created_at"] = row["created_at"].replace(tzinfo=timezone.utc)
        return row


class KeptImage(Base):
    """De-identified pixels (PNG, no metadata chunks) of a case the clinician allowed to be kept."""

    __tablename__ = "feedback_images"

    entry_id: Mapped[int] = mapped_column(ForeignKey("feedback.id", ondelete="CASCADE"), primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    entry: Mapped[FeedbackEntry] = relationship(back_populates="image")
