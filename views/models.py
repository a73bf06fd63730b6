"""Models: every served model, its test figures in a clinician's words, and the card behind them."""

import streamlit as st

import widgets
from core import ui
from core.serving import list_model_problems, list_models
from core.tasks import TASKS
from widgets.models import model_card

widgets.require_session()

st.title("Models")
st.caption("Every model the app can serve, read from the card written when it was trained. Figures are measured "
           "on held-out test images the model never saw during training. A `.keras` file and its card dropped "
           "into `models/<task>/` appear here without any code change.")
try:
    cards, rejected = list_models(), list_model_problems()
except Exception as exc:
    widgets.show_error(ui.describe_failure(exc, "reading the model cards"), "The model cards cannot be read")
    st.stop()

if not cards:
    st.info("No served models yet. The About page explains how to train one and where to put it.")
for problem in rejected:
    st.warning("A model in the models folder is not served.", icon=":material/warning:")
    st.text(f"{problem.path.name} ({problem.task_id}): {' '.join(problem.problems)}")

for task_id, task in TASKS.items():
    task_cards = [c for c in cards if c["task_id"] == task_id]
    if not task_cards:
        continue
    st.header(task.display_name)
    if len(task_cards) > 1:
        st.markdown("**Side by side**")
        st.table(ui.comparison_table(task_cards))
    for card in task_cards:
        flags = " (served by default)" if card.get("default") else ""
        with st.expander(f"{card['name']}{flags} - {ui.model_status(card).badge.lower()}"):
            model_card(card)
