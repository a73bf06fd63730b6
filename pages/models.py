"""Models: every served model's card, and a side-by-side comparison of each task's models."""

import streamlit as st

import widgets
from core import ui as app
from core.serving import list_model_problems, list_models
from core.tasks import TASKS

widgets.require_session()

st.title("Models")
st.caption("Every model the app can serve, with the card written when it was trained. A `.keras` file and its "
           "card dropped into `models/<task>/` appear here without any code change.")
try:
    cards, rejected = list_models(), list_model_problems()
except Exception as exc:
    st.error(app.describe_failure(exc, "reading the model cards"))
    st.stop()

if not cards:
    st.info("No served models yet. The About page explains how to train one and where to put it.")
for problem in rejected:
    st.warning(f"{problem.path.name} ({problem.task_id}) is not served: {' '.join(problem.problems)}")

for task_id, task in TASKS.items():
    task_cards = [c for c in cards if c["task_id"] == task_id]
    if not task_cards:
        continue
    st.header(task.display_name)
    st.dataframe(app.comparison_table(task_cards), key=f"models_compare_{task_id}")
    for card in task_cards:
        flags = (" (served by default)" if card.get("default") else "")
        flags += " - demo weights" if app.is_demo(card) else ""
        with st.expander(f"{card['name']}{flags}"):
            facts = {**app.card_summary(card), **app.card_details(card)}
            facts.pop("sha256")
            st.markdown("\n".join(f"- **{k}:** {v}" for k, v in facts.items()))
            st.markdown("**sha256 of the weights** (checked before every load)")
            st.code(card.get("sha256", app.MISSING), language=None)
            st.markdown("**Command that produced it**")
            st.code(card.get("command", app.MISSING), language="bash")
            per_class = app.per_class_frame(card)
            if not per_class.empty:
                st.markdown("**Test metrics per class**")
                st.dataframe(per_class, key=f"models_metrics_{task_id}_{card['name']}")
            confusion = app.confusion_frame(card)
            if confusion is not None:
                st.markdown("**Confusion matrix** (rows: true class, columns: predicted)")
                st.dataframe(confusion, key=f"models_confusion_{task_id}_{card['name']}")
            plots = app.card_plots(card)
            columns = st.columns(2) if plots else []
            for i, (name, path) in enumerate(plots.items()):
                columns[i % 2].image(str(path), caption=name.replace("_", " "))
