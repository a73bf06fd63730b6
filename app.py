"""Streamlit entry point: navigation and the shared sidebar; every page lives in pages/."""

import streamlit as st

from core import app_support
from core.tasks import TASKS

st.set_page_config(page_title="MedImg Second Opinion", page_icon=":material/radiology:", layout="wide")

# URL paths differ from the file names on purpose: Streamlit's legacy pages/ directory mode (active
# until st.navigation first runs in a process, and in every AppTest run) would otherwise run a page
# file directly, skipping this script's sidebar and session defaults.
page = st.navigation([
    st.Page("pages/diagnose.py", title="Diagnose", icon=":material/stethoscope:", url_path="diagnosis",
            default=True),
    st.Page("pages/gallery.py", title="GAN gallery", icon=":material/auto_awesome:", url_path="synthetic-gallery"),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:", url_path="model-cards"),
    st.Page("pages/about.py", title="About", icon=":material/info:", url_path="about-the-tool"),
])

for key, value in app_support.session_defaults().items():
    st.session_state.setdefault(key, value)

with st.sidebar:
    st.selectbox("Task", list(TASKS), format_func=lambda t: TASKS[t].display_name, key="task_id")
    names = app_support.model_names(st.session_state["task_id"])
    if st.session_state["model_name"] not in names:  # the task changed: serve its default model
        st.session_state["model_name"] = names[0] if names else None
    st.selectbox("Model", names, key="model_name", disabled=len(names) < 2,
                 help="Every .keras + card in models/<task>/ is offered here.")
    card = app_support.card_of(st.session_state["task_id"], st.session_state["model_name"])
    if app_support.is_demo(card):
        st.warning(app_support.DEMO_BANNER, icon=":material/science:")
    st.caption("A second opinion, not a medical device.")

if card is not None:
    try:  # warm the served model once per process, before the first upload
        st.cache_resource(show_spinner="Loading the model...")(app_support.load_served_model)(
            *app_support.served_model_args(st.session_state["task_id"], st.session_state["model_name"]))
    except Exception as exc:
        st.sidebar.error(app_support.describe_failure(exc, "loading the model"))

try:
    page.run()
except Exception as exc:  # last resort: a sentence, never a traceback
    st.error(app_support.describe_failure(exc, "showing this page"))
