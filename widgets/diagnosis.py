"""The Diagnose page's parts: choosing images, the per-file results, the explanation and the report."""

from __future__ import annotations

import datetime as dt
from typing import Any

import streamlit as st

from core import ui
from core.tasks import Task

#: CSS that blanks the uploader's file names (Streamlit draws them) and says they are hidden.
HIDE_UPLOADED_NAMES = """<style>
[data-testid="stFileChipName"] { visibility: hidden; position: relative; }
[data-testid="stFileChipName"]::before { content: "(name hidden)"; visibility: visible; position: absolute; }
</style>"""


def choose_inputs(task: Task) -> list[tuple[str, bytes]]:
    """The images to analyse as (label, bytes): uploads, or one bundled sample. Labels hide file names
    unless the session turned them on."""
    source = st.radio("Images", ["upload", "sample"], horizontal=True, key="diag_source",
                      format_func={"upload": "Upload files", "sample": "Bundled sample"}.get)
    if source == "upload":
        # No type filter: DICOM often has no extension; core.io recognises content and explains refusals.
        files = st.file_uploader("PNG, JPEG, BMP, TIFF or DICOM (one or many)", accept_multiple_files=True,
                                 key="diag_upload", help="Files are read in memory and never stored.")
        named = [(f.name, f.getvalue()) for f in files or []]
    else:
        samples = ui.bundled_samples(task.id)
        pick = st.selectbox("Sample", samples, format_func=lambda p: p.name, key=f"diag_sample_{task.id}")
        named = [(pick.name, pick.read_bytes())] if pick else []
    if not named:
        st.info("Choose an image to analyse." if source == "upload" else "No bundled samples for this task.")
    show = st.session_state.get("show_names", False)
    if not show:  # the uploader lists what was chosen by name: hide the names there too
        st.html(HIDE_UPLOADED_NAMES)
    return [(ui.image_label(i, data, name if show else None), data) for i, (name, data) in enumerate(named)]


def analyse_all(served: Any, inputs: list[tuple[str, bytes]]) -> list[ui.FileResult]:
    """Every file's own result or own error, memoised per session by model and content."""
    memo = st.session_state["memo"]
    with st.spinner("Analysing..."):
        return [ui.remember(memo, ui.analysis_key(served, data, label),
                            lambda n=label, d=data: ui.analyse(served, n, d)) for label, data in inputs]


def pick_result(task: Task, results: list[ui.FileResult], card: dict) -> int:
    """The results table and CSV of a multi-file upload, and which file to show in detail."""
    if len(results) < 2:
        return 0
    from core.ui import report  # fpdf and friends: only once there is something to report

    st.subheader("Results")
    st.dataframe(report.results_table(task, results, card, as_text=True), hide_index=True, key="diag_table")
    st.download_button("Download results (CSV)", report.results_csv(task, results, card), mime="text/csv",
                       file_name=f"results-{task.id}-{dt.date.today():%Y%m%d}.csv", key="diag_csv")
    return st.selectbox("Show details for", range(len(results)), format_func=lambda i: results[i].name,
                        key=f"diag_focus_{len(results)}")


def image_panel(served: Any, result: ui.FileResult) -> None:
    """The image as read, its allow-listed DICOM facts and the preprocessing steps."""
    image = result.image
    st.image(image.pixels, width="stretch")
    st.text(result.name + (" (SYNTHETIC)" if image.synthetic else ""))  # may be a file name: never Markdown
    facts = ui.dicom_facts(image.metadata, image.format)
    if facts:
        st.caption(" | ".join(f"{k}: {v}" for k, v in facts.items()))
    with st.expander("Preprocessing steps"):
        steps = served.prepare(image.pixels).steps
        st.image(list(steps.values()), caption=list(steps), width=150)


def explanation(task: Task, served: Any, result: ui.FileResult, verdict: ui.Verdict,
                data: bytes) -> tuple[Any, str | None]:
    """Where the model looked: method, class and opacity choosers, and the overlay with its colour scale."""
    st.subheader("Where the model looked")
    labels = ui.cam_labels()
    c1, c2, c3 = st.columns(3)
    method = c1.selectbox("Method", list(labels), format_func=labels.get, key="diag_cam_method")
    chosen = c2.selectbox("Class to explain", ["", *task.classes], key=f"diag_cam_class_{task.id}",
                          format_func=lambda c: task.class_names[c] if c else f"Predicted: {verdict.label_name}")
    alpha = c3.slider("Overlay opacity", 0.0, 1.0, 0.45, 0.05, key="diag_cam_alpha")
    class_id = chosen or verdict.label
    try:
        base, heat = ui.remember(st.session_state["memo"], ui.analysis_key(served, data, class_id, method),
                                 lambda: ui.heatmap_of(served, result.image.pixels, class_id, method))
        overlay = ui.colour_overlay(base, heat, alpha)
    except Exception as exc:
        from widgets.render import show_error

        show_error(ui.describe_failure(exc, "computing the explanation"), "No explanation")
        return None, labels.get(method)
    st.image(overlay, width=320, caption=f"{labels[method]}: {task.class_names[class_id]}")
    st.image(ui.colour_scale(), width=320, caption="colour scale: low (blue) to high (red) contribution")
    return overlay, labels.get(method)


def report_section(task: Task, served: Any, result: ui.FileResult, overlay: Any, method: str | None,
                   data: bytes) -> None:
    """Optional report fields and the downloads (PDF named report-<task>-<date>-<hash>.pdf, overlay PNG)."""
    from core.ui import report

    with st.expander("Report details (optional)"):
        fields = {"Study id": st.text_input("Study id", key="report_study"),
                  "Reviewer": st.text_input("Reviewer", key="report_reviewer"),
                  "Note": st.text_area("Note", key="report_note")}
    pdf = report.build_pdf(task, result.prediction, served.card, result.image.pixels, overlay,
                           source_name=result.name, facts=ui.dicom_facts(result.image.metadata, result.image.format),
                           cam_method=method, fields=fields,
                           colour_scale=ui.colour_scale() if overlay is not None else None)
    d1, d2 = st.columns(2)
    d1.download_button("Download report (PDF)", pdf, mime="application/pdf", key="diag_pdf",
                       file_name=report.report_filename(task.id, data))
    if overlay is not None:
        d2.download_button("Download overlay (PNG)", ui.png_bytes(overlay), file_name="overlay.png",
                           mime="image/png", key="diag_png")
