"""Record, list, rate, delete and export clinicians' answers; every database failure becomes a sentence.

The store opens nothing until first used, so showing a verdict never waits for the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

import numpy as np
from sqlalchemy import Engine, case, delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.feedback.engine import get_engine
from core.feedback.records import FeedbackError, PredictionRecord, clean_text, png_bytes, resolve_answer
from core.feedback.schema import FeedbackEntry, KeptImage

#: The sentence shown when the database cannot be reached or written (the verdict itself is unaffected).
UNAVAILABLE = ("Your answer could not be saved: the feedback database is unavailable ({reason}). "
               "The verdict above is unchanged; try again in a moment or tell your administrator.")


class FeedbackStore:
    """Clinician feedback in one database (SQLite file by default, PostgreSQL by URL); thread-safe.

    Args:
        url: SQLAlchemy URL; None means ``core.feedback.engine.database_url()``, read at first use.
    """

    def __init__(self, url: str | None = None):
        self._url = url
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        """The migrated engine (created on first use)."""
        if self._engine is None:
            try:
                self._engine = get_engine(self._url)
            except (SQLAlchemyError, OSError) as exc:  # unreachable server, unwritable folder, bad URL
                raise FeedbackError(UNAVAILABLE.format(reason=_reason(exc))) from exc
        return self._engine

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def add(self, record: PredictionRecord, answer: str, comment: str = "", initials: str = "",
            pixels: np.ndarray | None = None) -> int:
        """Store one answer.

        Args:
            record: the verdict answered (see ``core.feedback.record_of``).
            answer: ``agree``, a class id of the task, ``not_this_modality`` or ``poor_image_quality``.
            comment: optional free text (no patient identifiers, the form says so).
            initials: optional reviewer initials.
            pixels: the decoded image, given only when the clinician ticked "keep the image".

        Returns:
            The new entry's id.

        Raises:
            FeedbackError: an invalid answer, or the database could not be written.
        """
        answer, agreed = resolve_answer(record, answer)
        comment, initials = clean_text(comment, initials)
        fields = asdict(record)
        fields["probabilities"] = dict(record.probabilities)
        fields["prediction_set"] = None if record.prediction_set is None else list(record.prediction_set)
        entry = FeedbackEntry(**fields, created_at=datetime.now(timezone.utc), model_answer=record.model_answer,
                              answer=answer, agreed=agreed, comment=comment, initials=initials)
        if pixels is not None:
            entry.image = KeptImage(png=png_bytes(pixels), height=int(pixels.shape[0]), width=int(pixels.shape[1]))
        with self._write() as session:
            session.add(entry)
            session.flush()
            return entry.id

    def delete(self, entry_id: int) -> bool:
        """Delete one entry and its kept image; False when there was no such entry."""
        with self._write() as session:
            session.execute(delete(KeptImage).where(KeptImage.entry_id == entry_id))
            return session.execute(delete(FeedbackEntry).where(FeedbackEntry.id == entry_id)).rowcount > 0

    def entries(self, task_id: str | None = None, model_name: str | None = None, agreed: bool | None = None,
                limit: int = 1000) -> list[dict[str, Any]]:
        """Entries, newest first, optionally filtered.

        Args:
            task_id: only this task.
            model_name: only this model.
            agreed: True for agreements only, False for corrections (and other answers) only.
            limit: at most this many rows.

        Returns:
            One dict per entry: its columns plus ``kept_image`` (bool); no image bytes.
        """
        kept = select(KeptImage.entry_id).where(KeptImage.entry_id == FeedbackEntry.id).exists()
        query = _filtered(select(FeedbackEntry, kept.label("kept_image")), task_id, model_name, agreed)
        with self._read() as session:
            rows = session.execute(query.order_by(FeedbackEntry.id.desc()).limit(limit)).all()
            return [{**entry.as_dict(), "kept_image": bool(has_image)} for entry, has_image in rows]

    def agreement_rates(self, task_id: str | None = None) -> list[dict[str, Any]]:
        """How often clinicians agreed, per task, model (name and weights digest) and model answer.

        Returns:
            Dicts with task_id, model_name, model_sha256, model_answer, answers, agreed, rate; sorted.
        """
        agreed = func.sum(case((FeedbackEntry.agreed, 1), else_=0))
        keys = (FeedbackEntry.task_id, FeedbackEntry.model_name, FeedbackEntry.model_sha256,
                FeedbackEntry.model_answer)
        query = _filtered(select(*keys, func.count().label("answers"), agreed.label("agreed")), task_id, None, None)
        with self._read() as session:
            rows = session.execute(query.group_by(*keys).order_by(*keys)).mappings().all()
        return [{**row, "agreed": int(row["agreed"]), "rate": int(row["agreed"]) / row["answers"]} for row in rows]

    def kept_images(self, task_id: str, answers: tuple[str, ...] | None = None
                    ) -> Iterator[tuple[dict[str, Any], bytes]]:
        """Entries of a task whose image was kept, with the PNG bytes, oldest first.

        Args:
            task_id: the task.
            answers: only these clinician answers (e.g. the task's classes); None for all.

        Yields:
            ``(entry dict, png bytes)``.
        """
        query = select(FeedbackEntry, KeptImage.png).join(KeptImage).where(FeedbackEntry.task_id == task_id)
        if answers is not None:
            query = query.where(FeedbackEntry.answer.in_(answers))
        with self._read() as session:
            for entry, png in session.execute(query.order_by(FeedbackEntry.id)).all():
                yield entry.as_dict(), png

    def model_names(self, task_id: str | None = None) -> list[str]:
        """Names of the models that received answers (of one task, or all), sorted."""
        query = _filtered(select(FeedbackEntry.model_name).distinct(), task_id, None, None)
        with self._read() as session:
            return sorted(session.scalars(query).all())

    def count(self) -> int:
        """Number of entries stored."""
        with self._read() as session:
            return int(session.scalar(select(func.count()).select_from(FeedbackEntry)))

    def _write(self) -> _Guard:
        return _Guard(self, commit=True)

    def _read(self) -> _Guard:
        return _Guard(self, commit=False)


class _Guard:
    """A session whose database errors become one FeedbackError sentence (committed on success if writing)."""

    def __init__(self, store: FeedbackStore, commit: bool):
        self._store, self._commit = store, commit
        self._session: Session | None = None

    def __enter__(self) -> Session:
        self._session = self._store._session()
        return self._session

    def __exit__(self, exc_type, exc, tb) -> bool:
        session, self._session = self._session, None
        try:
            if exc_type is None and self._commit:
                session.commit()
        except SQLAlchemyError as failure:
            exc_type, exc = type(failure), failure
        finally:
            if exc_type is not None:
                session.rollback()
            session.close()
        if exc_type is not None and issubclass(exc_type, SQLAlchemyError):
            raise FeedbackError(UNAVAILABLE.format(reason=_reason(exc))) from exc
        return False


def _reason(exc: BaseException) -> str:
    """A short, non-technical cause (the driver's first line, without SQL)."""
    origin = getattr(exc, "orig", None) or exc
    return str(origin).strip().splitlines()[0][:120] if str(origin).strip() else type(origin).__name__


def _filtered(query, task_id: str | None, model_name: str | None, agreed: bool | None):
    if task_id is not None:
        query = query.where(FeedbackEntry.task_id == task_id)
    if model_name is not None:
        query = query.where(FeedbackEntry.model_name == model_name)
    if agreed is not None:
        query = query.where(FeedbackEntry.agreed == agreed)
    return query
