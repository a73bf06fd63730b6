"""Feedback: what clinicians answered beside each verdict, how often they agreed, and deleting an entry."""

import streamlit as st

import widgets
from core import feedback
from core.tasks import TASKS

widgets.require_session()
st.title("Feedback")
st.caption("Answers given with Agree / Correct it beside each verdict. Stored without file names or patient "
           "identifiers; images only where the clinician ticked \"keep the image for retraining\".")
store = feedback.FeedbackStore()
if (deleted := st.session_state.pop("fb_deleted", None)) is not None:
    st.success(f"Entry #{deleted} and its kept image were deleted.", icon=":material/delete:")
task_col, model_col, agreed_col = st.columns(3)
task_id = task_col.selectbox("Task", [None, *TASKS], key="fb_filter_task",
                             format_func=lambda t: "All tasks" if t is None else TASKS[t].display_name)
try:
    models = store.model_names(task_id)
    model = model_col.selectbox("Model", [None, *models], key="fb_filter_model",
                                format_func=lambda m: "All models" if m is None else m)
    agreed = agreed_col.selectbox("Answers", [None, True, False], key="fb_filter_agreed",
                                  format_func={None: "All answers", True: "Agreed", False: "Corrected"}.get)
    entries = store.entries(task_id, model, agreed)
    rates = store.agreement_rates(task_id)
except feedback.FeedbackError as exc:
    widgets.show_error(str(exc).replace("Your answer could not be saved", "Feedback cannot be shown"),
                       "Feedback database unavailable")
    st.stop()

st.subheader("Agreement per model and class")
if rates:
    st.dataframe(feedback.rate_rows(rates), hide_index=True, key="fb_rates")
else:
    st.info("No answers yet. Agree with or correct a verdict on the Diagnose page and it appears here.")
    st.stop()

st.subheader(f"Answers ({len(entries)})")
st.dataframe(feedback.entry_rows(entries), hide_index=True, key="fb_entries",
             column_config={"Agreed": st.column_config.CheckboxColumn(),
                            "Image kept": st.column_config.CheckboxColumn()})

with st.expander("Delete an entry", icon=":material/delete:"):
    doomed = st.selectbox("Entry", [e["id"] for e in entries], index=None, key="fb_delete_id",
                          format_func=lambda i: f"#{i}", placeholder="choose an entry number")
    if st.button("Delete it and its kept image", key="fb_delete", disabled=doomed is None, type="primary"):
        try:
            store.delete(doomed)
        except feedback.FeedbackError as exc:
            widgets.show_error(str(exc).replace("Your answer could not be saved", "It was not deleted"),
                               "Not deleted")
        else:
            st.session_state["fb_deleted"] = doomed
            st.rerun()
