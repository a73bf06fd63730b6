"""Diagnose: upload images (or pick a bundled sample) and get a calibrated, explained second opinion."""

import streamlit as st

from core import app_support as app
from core import explain, report
from core.tasks import get_task

if "task_id" not in st.session_state:  # opened by a legacy pages/ URL before app.py ever ran
    st.switch_page("app.py")

task = get_task(st.session_state["task_id"])
memo = st.session_state["memo"]
SHOW = {"classified": st.success, "uncertain": st.warning, "out_of_distribution": st.error}

st.title("Diagnose")
st.caption(f"{task.display_name}. Upload one or more images, or try a bundled sample.")
try:
    served = st.cache_resource(show_spinner="Loading the model...")(app.load_served_model)(
        *app.served_model_args(task.id, st.session_state["model_name"]))
except Exception as exc:
    st.error(app.describe_failure(exc, "loading the model"))
    st.stop()

source = st.radio("Images", ["upload", "sample"], horizontal=True, key="diag_source",
                  format_func={"upload": "Upload files", "sample": "Bundled sample"}.get)
if source == "upload":
    # No type filter: DICOM often has no extension; core.io recognises content and explains refusals.
    files = st.file_uploader("PNG, JPEG, BMP, TIFF or DICOM (one or many)", accept_multiple_files=True,
                             key="diag_upload", help="Files are read in memory and never stored.")
    inputs = [(f.name, f.getvalue()) for f in files or []]
else:
    samples = app.bundled_samples(task.id)
    pick = st.selectbox("Sample", samples, format_func=lambda p: p.name, key=f"diag_sample_{task.id}")
    inputs = [(pick.name, pick.read_bytes())] if pick else []
if not inputs:
    st.info("Choose an image to analyse." if source == "upload" else "No bundled samples for this task.")
    st.stop()

with st.spinner("Analysing..."):
    results = [app.remember(memo, app.analysis_key(served, data, name),
                            lambda n=name, d=data: app.analyse(served, n, d)) for name, data in inputs]

if len(results) > 1:
    st.subheader("Results")
    st.dataframe(report.results_table(task, results), hide_index=True, key="diag_table")
    st.download_button("Download results (CSV)", report.results_csv(task, results), file_name="results.csv",
                       mime="text/csv", key="diag_csv")
    focus = st.selectbox("Show details for", range(len(results)), format_func=lambda i: results[i].name,
                         key=f"diag_focus_{len(results)}")
else:
    focus = 0
result, data = results[focus], inputs[focus][1]

if result.error:
    st.error(result.error)
    st.stop()
image, prediction = result.image, result.prediction
verdict = app.verdict(task, prediction)
facts = app.dicom_facts(image.metadata, image.format)

left, right = st.columns(2)
with left:
    st.image(image.pixels, width=320, caption=result.name + (" (SYNTHETIC)" if image.synthetic else ""))
    if facts:
        st.caption(" | ".join(f"{k}: {v}" for k, v in facts.items()))
    with st.expander("Preprocessing steps"):
        steps = served.prepare(image.pixels).steps
        st.image(list(steps.values()), caption=list(steps), width=150)
with right:
    SHOW[verdict.status](verdict.headline)
    if verdict.label:
        st.bar_chart(app.probability_frame(task, prediction), horizontal=True, sort=False,
                     x_label="", y_label="calibrated probability")
        st.markdown(f"**Clinical note.** {verdict.note}")

overlay, method = None, None
if verdict.label:
    st.subheader("Where the model looked")
    c1, c2, c3 = st.columns(3)
    method = c1.selectbox("Method", list(app.CAM_LABELS), format_func=app.CAM_LABELS.get, key="diag_cam_method")
    chosen = c2.selectbox("Class to explain", [None, *task.classes], key=f"diag_cam_class_{task.id}",
                          format_func=lambda c: f"Predicted: {verdict.label_name}" if c is None
                          else task.class_names[c])
    alpha = c3.slider("Overlay opacity", 0.0, 1.0, 0.45, 0.05, key="diag_cam_alpha")
    class_id = chosen or verdict.label
    try:
        prepared, heat = app.remember(
            memo, app.analysis_key(served, data, class_id, method),
            lambda: app.heatmap_of(served, image.pixels, class_id, method))
        overlay = explain.overlay(prepared, heat, alpha)
        st.image([prepared, overlay], width=320,
                 caption=["Model input", f"{app.CAM_LABELS[method]}: {task.class_names[class_id]}"])
    except Exception as exc:
        st.error(app.describe_failure(exc, "computing the explanation"))

pdf = report.build_pdf(task, prediction, served.card, image.pixels, overlay, source_name=result.name,
                       facts=facts, cam_method=app.CAM_LABELS.get(method))
d1, d2 = st.columns(2)
d1.download_button("Download report (PDF)", pdf, file_name="second-opinion.pdf", mime="application/pdf",
                   key="diag_pdf")
if overlay is not None:
    d2.download_button("Download overlay (PNG)", app.png_bytes(overlay), file_name="overlay.png",
                       mime="image/png", key="diag_png")
