"""The Models page's card view: a model's status, its figures in plain words, per-class results, figures."""

from __future__ import annotations

from typing import Any, Mapping

import streamlit as st

from core import ui
from widgets.render import model_status_line

#: What each shipped figure shows, in a sentence (keys of the card's ``plots``).
PLOT_CAPTIONS = {
    "confusion_matrix": "Test images by true class (rows) and the class the model gave (columns).",
    "roc": "Sensitivity against false alarms for every possible threshold; the closer to the top-left, the better.",
    "reliability": "Stated confidence against how often it was right; bars on the diagonal mean honest "
                   "probabilities (the legend's ECE is the calibration error above, as a fraction).",
    "history": "Training and validation scores per epoch (for researchers).",
    "explanations": "Shortcut audit: the test images whose raw heat maps lie most outside the anatomy.",
}


def model_card(card: Mapping[str, Any]) -> None:
    """One model: status, figures with their meaning, per-class results, confusion matrix, plots, provenance."""
    model_status_line(card)
    st.table(ui.measures_table(card))
    per_class = ui.per_class_frame(card)
    if not per_class.empty:
        st.markdown("**Per class, on the test images**")
        st.table(per_class)
    confusion = ui.confusion_frame(card)
    if confusion is not None:
        st.markdown("**Confusion matrix** (test images; rows: true class, columns: class given)")
        st.table(confusion)
    plots = ui.card_plots(card)
    columns = st.columns(2) if plots else []
    for i, (name, path) in enumerate(plots.items()):
        columns[i % 2].image(str(path), caption=PLOT_CAPTIONS.get(name, name.replace("_", " ")))
    st.markdown("**For researchers**")
    details = {**ui.card_summary(card), **ui.card_details(card)}
    st.table({"field": list(details), "value": [str(v) for v in details.values()]})
    st.caption("Command that produced it")
    st.code(card.get("command", ui.MISSING), language="bash", wrap_lines=True)
