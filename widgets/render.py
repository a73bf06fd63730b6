"""Drawing what ``core.ui`` says: errors as plain text, the model's status, the verdict, the probabilities."""

from __future__ import annotations

from typing import Any, Mapping

import streamlit as st

from core import ui
from core.tasks import Task

#: Badge colour per model status kind (``core.ui.ModelStatus.kind``).
_STATUS_COLOUR = {"research": "blue", "demo": "orange", "unknown": "red"}


def show_error(message: str, heading: str = "Not analysed") -> None:
    """A failure: a fixed heading in an error box, the sentence itself as plain text.

    File-derived words (names, decoder messages) may hold Markdown; ``st.text`` never renders it.
    """
    st.error(heading, icon=":material/error:")
    st.text(message)


def model_status_line(card: Mapping[str, Any] | None) -> None:
    """The model's status (research use on <dataset>, or demo on phantoms) as a badge and a sentence."""
    status = ui.model_status(card)
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        st.badge(status.badge, icon=":material/science:" if status.kind == "demo" else ":material/info:",
                 color=_STATUS_COLOUR[status.kind])
        st.text(status.text)  # the dataset name comes from a card file: plain text


def probability_chart(task: Task, prediction: Any, threshold: float | None) -> None:
    """Calibrated probabilities as bars on a fixed 0-100 % axis, the decision threshold a dashed line."""
    frame = ui.probability_frame(task, prediction)
    frame["class"] = [f"{c} ({p})" for c, p in zip(frame["class"], frame["label"])]
    axis = {"field": "percent", "type": "quantitative", "scale": {"domain": [0, 100]},
            "title": "calibrated probability (%)"}
    classes = {"field": "class", "type": "nominal", "sort": None, "title": None, "axis": {"labelLimit": 260}}
    layers = [{"mark": {"type": "bar", "color": "#4a6fa5"}, "encoding": {"y": classes, "x": axis}}]
    if threshold is not None:
        line = {"values": [{"percent": 100 * threshold, "note": f"threshold {ui.percent(threshold)}"}]}
        layers += [{"data": line, "mark": {"type": "rule", "color": "#a33", "strokeDash": [4, 3]},
                    "encoding": {"x": axis}},
                   {"data": line, "mark": {"type": "text", "color": "#a33", "align": "left", "dx": 3, "dy": -6,
                                           "baseline": "bottom"},
                    "encoding": {"x": axis, "text": {"field": "note"}, "y": {"value": 0}}}]
    st.vega_lite_chart(frame, {"layer": layers}, width="stretch", height=36 * len(frame) + 60)
    st.caption(ui.CALIBRATED_HELP)


def verdict_block(task: Task, verdict: ui.Verdict, prediction: Any, card: Mapping[str, Any] | None) -> None:
    """The answer in a neutral bordered block, the model's status inside it, beside the headline."""
    with st.container(border=True):
        st.markdown(f"#### {verdict.headline}")  # built from the task registry's class names only
        model_status_line(card)
        if verdict.candidates:
            st.markdown(f"**Could be:** {verdict.candidates}", help="Classes the model cannot rule out at "
                        "this confidence level (a conformal prediction set).")
        if verdict.reason:
            st.write(verdict.reason)
        if verdict.label:
            probability_chart(task, prediction, (card or {}).get("uncertainty_threshold"))
        if verdict.note:
            st.markdown(f"**Clinical note.** {verdict.note}")
