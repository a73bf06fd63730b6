"""Diagnose: upload images (or pick a bundled sample) and get a calibrated, explained second opinion."""

import streamlit as st

import widgets
from core import ui
from core.tasks import get_task
from widgets import diagnosis as parts
from widgets.feedback import feedback_controls

widgets.require_session()
task = get_task(st.session_state["task_id"])
card = ui.card_of(task.id, st.session_state["model_name"])

st.title("Diagnose")
st.caption(f"{task.display_name}. Upload one or more images, or try a bundled sample.")
inputs = parts.choose_inputs(task)
if card is not None:  # only now, with the uploader drawn: importing TensorFlow holds the interpreter for seconds
    widgets.preload_model(task.id, st.session_state["model_name"])
if card is None:
    widgets.show_error(f"No model is served for {task.display_name} yet. The About page explains how to "
                       "train one and drop it into models/.", "No model")
    st.stop()
if not inputs:
    widgets.model_status_line(card)  # with a result, it stands beside the verdict instead
    st.stop()
try:
    served = widgets.served_model(task.id, st.session_state["model_name"])
except Exception as exc:
    widgets.show_error(ui.describe_failure(exc, "loading the model"), "The model cannot be used")
    st.stop()

results = parts.analyse_all(served, inputs)
focus = parts.pick_result(task, results, served.card)
result, data = results[focus], inputs[focus][1]
if result.error:
    widgets.show_error(result.error)
    st.stop()
verdict = ui.verdict(task, result.prediction, served.card)

answer, picture = st.columns([3, 2])  # the answer first: on a phone the columns stack in this order
with picture:
    parts.image_panel(served, result)
with answer:
    widgets.verdict_block(task, verdict, result.prediction, served.card)
    feedback_controls(ui.analysis_key(served, data), served.card, result.prediction, result.image.pixels)

overlay, method = parts.explanation(task, served, result, verdict, data) if verdict.label else (None, None)
parts.report_section(task, served, result, overlay, method, data)
