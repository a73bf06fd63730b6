"""Beside each verdict: Agree / Correct it, an optional comment and initials, and a visible "saved" state.

The controls run as a Streamlit fragment: a click reruns only this box, so the verdict above is never
recomputed, redrawn or hidden, and a database that is slow or down costs the clinician one sentence here.
Nothing touches the database until the clinician answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitAPIException

from core import feedback
from core.feedback.schema import MAX_COMMENT, MAX_INITIALS

#: Session key of the answers saved in this session: result key -> (entry id, what was said).
SAVED = "feedback_saved"


def _key(result_key: Hashable) -> str:
    return hashlib.sha1(repr(result_key).encode()).hexdigest()[:12]


def feedback_controls(result_key: Hashable, card: Mapping[str, Any], prediction: Any, pixels: np.ndarray) -> None:
    """Draw the feedback box for one verdict (call it right after the verdict).

    Args:
        result_key: what identifies this result in the session (e.g. ``core.ui.analysis_key(served, data)``).
        card: the served model's card.
        prediction: the serving Prediction shown.
        pixels: the decoded image; stored only if the clinician ticks "keep the image".
    """
    st.session_state.setdefault(SAVED, {})
    _box(_key(result_key), feedback.record_of(card, prediction, pixels), pixels)


@st.fragment
def _box(key: str, record: feedback.PredictionRecord, pixels: np.ndarray) -> None:
    with st.container(border=True, key=f"fb_box_{key}"):
        st.markdown("**Your reading**")
        changed = _saved(key) if key in st.session_state[SAVED] else _form(key, record, pixels)
    if changed:
        _redraw()


def _redraw() -> None:
    """Rerun this box only (a click inside a fragment reruns just the fragment), else the page."""
    try:
        st.rerun(scope="fragment")
    except StreamlitAPIException:  # called during a full-page run (documented): rerun the page
        st.rerun()


def _form(key: str, record: feedback.PredictionRecord, pixels: np.ndarray) -> bool:
    """The answer form; True once an answer was saved."""
    choices = feedback.answer_choices(record.task_id)
    with st.form(f"fb_form_{key}", border=False, enter_to_submit=False):
        correction = st.selectbox("Correct it to", list(choices), index=None, format_func=choices.get,
                                  placeholder="the right class, or another answer", key=f"fb_answer_{key}")
        left, right = st.columns([3, 1])
        comment = left.text_input("Comment (optional)", max_chars=MAX_COMMENT, key=f"fb_comment_{key}",
                                  placeholder="no patient names or identifiers")
        initials = right.text_input("Initials (optional)", max_chars=MAX_INITIALS, key=f"fb_initials_{key}")
        keep = st.checkbox("Keep the image for retraining", key=f"fb_keep_{key}",
                           help="Only the pixels are kept, as a PNG: no file name, no DICOM header. "
                                "Leave it unticked if patient details are burned into the image.")
        agree_col, correct_col = st.columns(2)
        agree = agree_col.form_submit_button("Agree", icon=":material/thumb_up:", width="stretch")
        correct = correct_col.form_submit_button("Correct it", icon=":material/edit:", width="stretch")
    if not (agree or correct):
        return False
    if correct and correction is None:
        st.warning("Choose the right answer under 'Correct it to', then press Correct it.")
        return False
    answer = feedback.AGREE if agree else correction
    try:
        entry = feedback.FeedbackStore().add(record, answer, comment, initials, pixels if keep else None)
    except feedback.FeedbackError as exc:
        st.error(str(exc), icon=":material/cloud_off:")  # the verdict above stays as it was
        return False
    said = feedback.answer_label(record.task_id, record.model_answer if agree else answer)
    st.session_state[SAVED][key] = (entry, ("You agreed: " if agree else "Corrected to: ") + said, keep)
    return True


def _saved(key: str) -> bool:
    """The saved state with an Undo button; True once the answer was undone."""
    entry, said, kept = st.session_state[SAVED][key]
    st.success(f"Saved (entry #{entry}). {said}." + (" Image kept for retraining." if kept else ""),
               icon=":material/check_circle:")
    if st.button("Undo", key=f"fb_undo_{key}", icon=":material/undo:"):
        try:
            feedback.FeedbackStore().delete(entry)
        except feedback.FeedbackError as exc:
            st.error(str(exc).replace("Your answer could not be saved", "Your answer could not be removed"))
            return False
        del st.session_state[SAVED][key]
        return True
    return False
