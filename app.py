"""Streamlit entry point: navigation and the shared sidebar; every page lives in views/."""

import streamlit as st

import widgets
from core import ui
from core.tasks import TASKS

st.set_page_config(page_title="MedImg Second Opinion", page_icon=":material/radiology:", layout="wide")

# The page files live in views/, not pages/: a pages/ folder puts Streamlit in its legacy multipage mode
# until st.navigation first runs in the server process, so a deep link (/models) opened on a fresh
# server showed "Page not found". Diagnose, the default page, is served at the root address.
page = st.navigation([
    st.Page("views/diagnose.py", title="Diagnose", icon=":material/stethoscope:", default=True),
    st.Page("views/gallery.py", title="GAN gallery", icon=":material/auto_awesome:", url_path="gallery"),
    st.Page("views/models.py", title="Models", icon=":material/model_training:", url_path="models"),
    st.Page("views/feedback.py", title="Feedback", icon=":material/rate_review:", url_path="feedback"),
    st.Page("views/about.py", title="About", icon=":material/info:", url_path="about"),
])

widgets.require_session()

with st.sidebar:
    st.selectbox("Task", list(TASKS), format_func=lambda t: TASKS[t].display_name, key="task_id")
    names = ui.model_names(st.session_state["task_id"])
    if st.session_state["model_name"] not in names:  # the task changed: serve its default model
        st.session_state["model_name"] = names[0] if names else None
    st.selectbox("Model", names, key="model_name", disabled=len(names) < 2,
                 help="Every .keras + card in models/<task>/ is offered here.")
    st.toggle("Show file names", key="show_names",
              help="Off by default: file names often hold a patient's name. When off, images are called "
                   "'image 1, 2, ...' with a short content hash, on screen and in every download.")
    st.caption("A second opinion, not a medical device.")

try:
    page.run()
except Exception as exc:  # last resort: a sentence, never a traceback
    widgets.show_error(ui.describe_failure(exc, "showing this page"), "Something went wrong")
