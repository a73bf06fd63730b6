"""Streamlit entry point: navigation and the shared sidebar; every page lives in pages/."""

import streamlit as st

import widgets
from core import ui
from core.tasks import TASKS

st.set_page_config(page_title="MedImg Second Opinion", page_icon=":material/radiology:", layout="wide")

# URL paths differ from the file names on purpose: until st.navigation first runs in a server process (and
# in every AppTest run) Streamlit serves pages/ in its legacy mode, which would run a page file of the same
# name directly, skipping this script (AppTest then loses the page's widget state). The default page is
# served at the root address only; its url_path is not an address of its own.
page = st.navigation([
    st.Page("pages/diagnose.py", title="Diagnose", icon=":material/stethoscope:", url_path="diagnosis",
            default=True),
    st.Page("pages/gallery.py", title="GAN gallery", icon=":material/auto_awesome:", url_path="synthetic-gallery"),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:", url_path="model-cards"),
    st.Page("pages/feedback.py", title="Feedback", icon=":material/rate_review:", url_path="clinician-feedback"),
    st.Page("pages/about.py", title="About", icon=":material/info:", url_path="about-the-tool"),
])

for key, value in ui.session_defaults().items():
    st.session_state.setdefault(key, value)
widgets.return_to_requested_page()

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

if names:  # the model loads in a background thread while the page is drawn
    widgets.preload_model(st.session_state["task_id"], st.session_state["model_name"])

try:
    page.run()
except Exception as exc:  # last resort: a sentence, never a traceback
    widgets.show_error(ui.describe_failure(exc, "showing this page"), "Something went wrong")
