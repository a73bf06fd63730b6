"""The clinician app, driven headlessly with Streamlit's AppTest on tiny models in a temporary folder.

Uploads are simulated with ``AppTest.file_uploader(...).upload`` (supported by Streamlit 1.67), so
these tests exercise the same code path as a browser upload: bytes in memory, nothing on disk.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
from struct import error as struct_error

import keras
import numpy as np
import pyarrow as pa
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core import paths
from core.serving.cards import build_card, sha256_file, write_card
from core.serving.ood import fit_detector
from core.tasks import TASKS, get_task
from tests._imagefiles import dicom_bytes

APP = str(paths.REPO_ROOT / "app.py")
PAGES = ["views/diagnose.py", "views/gallery.py", "views/models.py", "views/about.py"]
MRI = get_task("brain_mri_4class")
SIZE = 32
TIMEOUT = 60  # the first run traces the model; later runs take a fraction of a second


# ---- a tiny served-models folder ------------------------------------------------------------------


def phantom(index: int, size: int = 64) -> np.ndarray:
    """Brain-MRI phantom number ``index`` (class ``index % 4``), as the demo weights are trained on."""
    from core.phantoms import make_image

    return make_image(MRI.id, MRI.classes[index % 4], np.random.default_rng(index), size=size).image


#: Phantoms the OOD detector is fitted on, and those its threshold is set on (all accepted, by construction).
TRAIN_PHANTOMS, VAL_PHANTOMS = range(48), range(48, 72)
#: A validation phantom of class meningioma, uploaded by the tests.
SCAN = 49


def natural_photo(size: int = 64) -> np.ndarray:
    """A sky-and-meadow picture: bright everywhere, nothing like an MRI slice."""
    image = np.zeros((size, size, 3), np.uint8)
    image[: size // 2] = (135, 206, 235)
    image[size // 2:] = (60, 170, 60)
    return image


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def tiny_classifier(n_classes: int, favourite: int | None, strength: float = 6.0) -> keras.Model:
    """The project's layer contract (features, logits, probs) on a toy CNN whose answer is fixed by a bias."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    features = keras.layers.GlobalAveragePooling2D(name="features")(x)
    logits = keras.layers.Dense(n_classes, name="logits")(features)
    model = keras.Model(inputs, keras.layers.Activation("softmax", name="probs")(logits))
    bias = np.zeros(n_classes, "float32")
    if favourite is not None:
        bias[favourite] = strength
    # A small random kernel keeps Grad-CAM's gradients non-zero; the bias still decides the class.
    kernel = np.random.default_rng(0).normal(0, 0.05, (4, n_classes)).astype("float32")
    model.get_layer("logits").set_weights([kernel, bias])
    return model


def _features(model: keras.Model, images: list[np.ndarray]) -> np.ndarray:
    from core.preprocess import prepare

    batch = np.stack([prepare(im, MRI.id, size=SIZE).image for im in images]).astype("float32")
    return keras.Model(model.inputs[0], model.get_layer("features").output)(batch).numpy()


def install(root, task_id: str, name: str, favourite: int | None, *, strength: float = 6.0,
            kind: str = "synthetic-phantoms", ood: bool = False, tamper: bool = False, **overrides) -> None:
    """Save a tiny model and its card as ``root/<task>/<name>.keras`` + ``<name>.card.json``."""
    task = get_task(task_id)
    folder = root / task.id
    folder.mkdir(parents=True, exist_ok=True)
    model = tiny_classifier(task.num_classes, favourite, strength)
    keras_path = folder / f"{name}.keras"
    model.save(keras_path)
    ood_section = None
    if ood:  # a real Mahalanobis fit on in-distribution features, as training does
        detector = fit_detector(_features(model, [phantom(i) for i in TRAIN_PHANTOMS]),
                                np.array(TRAIN_PHANTOMS) % task.num_classes,
                                _features(model, [phantom(i) for i in VAL_PHANTOMS]))
        digest = detector.save(folder / f"{name}.ood.npz")
        ood_section = {"method": "mahalanobis", "file": f"{name}.ood.npz", "sha256": digest,
                       "threshold": detector.threshold, "detection_rate": 1.0}
    data = {"dataset": "test phantoms", "kind": kind, "generator_version": "test", "seed": 0}
    fields = dict(
        task_id=task.id, name=name, class_names=list(task.classes), input_shape=[SIZE, SIZE, 3],
        preprocessing={"id": task.preprocessing, "params": {}}, architecture="tiny_cnn", backbone=None,
        training_data=data, split_sizes={"train": 12, "val": 6, "test": 6},
        test_metrics={"accuracy": 0.5, "confusion_matrix": np.eye(task.num_classes, dtype=int).tolist()},
        calibration={"temperature": 1.0, "ece_before": 0.1, "ece_after": 0.05}, uncertainty_threshold=0.6,
        ood=ood_section, latency_ms={"mean_ms": 1.5}, params=model.count_params(), keras_file=keras_path.name,
        sha256=sha256_file(keras_path), command="pytest tests/test_app.py",
    )
    fields.update(overrides)
    write_card(build_card(**fields), folder / f"{name}.card.json")
    if tamper:
        with open(keras_path, "ab") as fh:
            fh.write(b"tampered")


def install_generator(root) -> None:
    from core.models.dcgan import build_generator

    folder = root / MRI.id / "gan"
    folder.mkdir(parents=True)
    build_generator(size=32, channels=1).save(folder / "glioma.keras")
    from core.serving.cards import sha256_file  # the gallery refuses a generator without its card

    card = {"kind": "dcgan-generator", "task_id": MRI.id, "class_id": "glioma",
            "sha256": sha256_file(folder / "glioma.keras")}
    (folder / "glioma.card.json").write_text(json.dumps(card))
    Image.fromarray(phantom(0)).save(folder / "glioma_grid.png")


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("models")
    install(root, MRI.id, "tiny", favourite=1, ood=True, default=True, plots={"roc": "tiny.roc.png"})
    Image.fromarray(phantom(0)).save(root / MRI.id / "tiny.roc.png")  # stands in for the ROC figure
    install(root, MRI.id, "unsure", favourite=1, strength=1.0)  # meningioma at ~47 %: below the 60 % threshold
    install(root, "brain_mri_binary", "real_tiny", favourite=1, kind="real")
    install(root, "breast_us", "tampered", favourite=0, tamper=True)
    install_generator(root)
    samples = tmp_path_factory.mktemp("samples")
    (samples / MRI.id).mkdir()
    Image.fromarray(phantom(53)).save(samples / MRI.id / "meningioma_1.png")
    return root, samples


@pytest.fixture
def app(models_dir, monkeypatch):
    """A fresh app session serving the tiny models; call ``.run()`` on it."""
    root, samples = models_dir
    monkeypatch.setattr(paths, "MODELS_DIR", root)
    monkeypatch.setattr(paths, "SAMPLES_DIR", samples)
    return AppTest.from_file(APP, default_timeout=TIMEOUT)


def texts(at: AppTest, kind: str) -> list[str]:
    return [el.value for el in getattr(at, kind)]


def chart_table(at: AppTest):
    """The data table of the first chart on the page."""
    proto = at.get("vega_lite_chart")[0].proto
    arrow = proto.datasets[0].data.data if proto.datasets else proto.data.data
    return pa.ipc.open_stream(arrow).read_pandas()


def chart_classes(at: AppTest) -> dict[str, float]:
    """Class -> percent plotted in the first bar chart."""
    table = chart_table(at)
    return {label.rsplit(" (", 1)[0]: value for label, value in zip(table["class"], table["percent"])}


def label_of_bars(at: AppTest) -> list[str]:
    """The class labels of the first bar chart, each with its probability in words ("Glioma (>99 %)")."""
    return list(chart_table(at)["class"])


def blocks(node) -> list:
    """Every layout block under ``node``, parents before their children."""
    found = []
    for child in getattr(node, "children", {}).values():
        if hasattr(child, "children") and hasattr(child, "markdown"):
            found += [child, *blocks(child)]
    return found


def verdict_block(at: AppTest) -> str:
    """Everything written in the innermost block that holds the verdict's headline."""
    holding = [b for b in blocks(at.main) if any(m.value.startswith("#### ") for m in b.markdown)]
    inner = holding[-1]
    return " ".join([m.value for m in inner.markdown] + [t.value for t in inner.text])


def everything_shown(at: AppTest) -> str:
    """The whole page, main area and sidebar, as the element tree prints it."""
    return str([el for el in at.main]) + str([el for el in at.sidebar])


def captions(at: AppTest) -> list[str]:
    """Caption of every image shown."""
    return [img.caption for el in at.image for img in el.proto.imgs]


def upload(at: AppTest, *files: tuple[str, bytes]) -> AppTest:
    uploader = at.file_uploader(key="diag_upload")
    for name, data in files:
        uploader.upload(name, data, "application/octet-stream")
    return at.run()


# ---- every page renders ---------------------------------------------------------------------------


@pytest.mark.parametrize("page", [None, *PAGES])
def test_every_page_renders_without_an_exception(app, page):
    app.run()
    if page:
        app.switch_page(page).run()
    assert not app.exception
    assert app.title, "every page has a title"


def test_the_model_status_is_in_the_main_area_beside_the_verdict(app):
    upload(app.run(), ("scan.png", png(phantom(SCAN))))
    main = " ".join(el.value for el in app.main.text)
    assert "Demo on phantoms" in main  # not only in the sidebar, which tablets hide
    block = verdict_block(app)
    assert "DEMO" in str(block) and "Demo on phantoms" in str(block)
    app.sidebar.selectbox(key="task_id").set_value("brain_mri_binary")
    app.run()
    main = " ".join(el.value for el in app.main.text)
    assert "Research use only: trained on test phantoms; 24 of its images" in main and "Demo" not in main


def test_the_sidebar_offers_every_task(app):
    app.run()
    chooser = app.sidebar.selectbox(key="task_id")
    assert list(chooser.options) == [TASKS[t].display_name for t in TASKS]


# ---- diagnose ---------------------------------------------------------------------------------------


def test_an_uploaded_phantom_gets_a_neutral_verdict_probabilities_note_overlay_and_downloads(app):
    upload(app.run(), ("scan.png", png(phantom(SCAN))))
    assert not app.exception and not app.error
    assert not app.success, "the verdict is a neutral block, never a green success box"
    assert any(m.startswith("#### Meningioma: ") and "calibrated probability" in m for m in texts(app, "markdown"))
    probabilities = chart_classes(app)
    assert set(probabilities) == set(MRI.class_names.values())
    assert probabilities["Meningioma"] == pytest.approx(max(probabilities.values()))
    assert sum(probabilities.values()) == pytest.approx(100.0, abs=1e-2)
    assert any("extra-axial" in m for m in texts(app, "markdown"))  # the meningioma clinical note
    assert any(c.startswith("Calibrated: ") for c in texts(app, "caption"))
    assert len(app.expander) >= 1 and "Preprocessing" in app.expander[0].label
    labels = [b.label for b in app.get("download_button")]
    assert "Download report (PDF)" in labels and "Download overlay (PNG)" in labels
    assert "Grad-CAM: Meningioma" in captions(app)


def test_probabilities_are_drawn_on_a_fixed_0_to_100_axis_with_the_threshold_and_never_as_100_or_0(app):
    upload(app.run(), ("scan.png", png(phantom(SCAN))))
    spec = json.loads(app.get("vega_lite_chart")[0].proto.spec)
    bars, rule = spec["layer"][0], spec["layer"][1]
    assert bars["encoding"]["x"]["scale"]["domain"] == [0, 100]
    assert rule["mark"]["type"] == "rule" and rule["data"]["values"][0]["percent"] == pytest.approx(60.0)
    shown = " ".join(label_of_bars(app))
    assert "100 %" not in shown and "(0 %)" not in shown
    assert ">99 %" in shown or "<1 %" in shown  # the tiny model is very sure: extremes are bounded words


def test_the_model_is_loaded_once_for_every_page_and_session(app, monkeypatch):
    import streamlit as st

    import core.serving.served

    loads = []
    real_load = core.serving.served.load_model
    monkeypatch.setattr(core.serving.served, "load_model", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    st.cache_resource.clear()
    upload(app.run(), ("scan.png", png(phantom(SCAN))))
    app.switch_page("views/models.py").run()
    app.switch_page("views/diagnose.py").run()
    assert not app.exception and len(loads) == 1


def test_the_uploader_is_drawn_before_the_model_has_loaded(app, monkeypatch):
    import threading

    import streamlit as st

    import core.serving.served

    release = threading.Event()
    monkeypatch.setattr(core.serving.served, "load_model", lambda *a, **k: release.wait(30) and None)
    st.cache_resource.clear()
    try:
        app.run(timeout=5)  # would time out if the first page waited for the model
        assert not app.exception
        assert app.file_uploader(key="diag_upload") is not None
    finally:
        release.set()
        st.cache_resource.clear()


def test_explanation_method_and_class_can_be_changed(app):
    upload(app.run(), ("scan.png", png(phantom(SCAN))))
    app.selectbox(key="diag_cam_method").set_value("gradcam++")
    app.selectbox(key=f"diag_cam_class_{MRI.id}").set_value("glioma")
    app.slider(key="diag_cam_alpha").set_value(0.8)
    app.run()
    assert not app.exception and not app.error
    assert "Grad-CAM++: Glioma" in captions(app)


def test_a_corrupt_file_gets_a_plain_sentence_naming_it_by_number_not_by_name(app):
    upload(app.run(), ("DOE_JANE_12345.png", b"\x89PNG\r\n\x1a\n this is not really a picture"))
    assert not app.exception
    assert texts(app, "error") == ["Not analysed"]
    sentence = next(t for t in texts(app, "text") if "image 1" in t)
    assert "DOE" not in sentence and not app.get("vega_lite_chart")
    assert "DOE" not in everything_shown(app)


def test_file_names_are_shown_only_when_the_session_turns_them_on(app):
    upload(app.run(), ("DOE_JANE_12345.png", png(phantom(SCAN))))
    assert "DOE" not in everything_shown(app)
    assert any(t.startswith("image 1 (") for t in texts(app, "text"))
    app.sidebar.toggle(key="show_names").set_value(True)
    app.run()
    assert any(t.startswith("DOE_JANE_12345.png (") for t in texts(app, "text"))


def test_text_from_a_file_is_never_rendered_as_markdown(app):
    app.run()
    app.sidebar.toggle(key="show_names").set_value(True)
    upload(app, ("[click me](http://evil.example) **x**.png", b"not an image at all"),
           ("![pixel](http://evil.example/p.png) **y**.png", png(phantom(SCAN))))
    assert not app.exception
    app.selectbox(key="diag_focus_2").set_value(1)  # the readable one: its name under the image
    app.run()
    assert any("**y**" in t for t in texts(app, "text"))  # shown verbatim, not as bold
    app.selectbox(key="diag_focus_2").set_value(0)  # the unreadable one: its name in the error
    app.run()
    assert any("**x**" in t for t in texts(app, "text"))
    markdown = " ".join(texts(app, "markdown") + texts(app, "error") + texts(app, "caption") + captions(app))
    assert "evil.example" not in markdown


def test_an_image_that_is_not_an_mri_is_refused_with_a_reason_and_without_a_class(app):
    upload(app.run(), ("holiday.png", png(natural_photo())))
    assert not app.exception
    assert "#### Not classified: this does not look like a brain MRI image" in texts(app, "markdown")
    assert any("out-of-distribution check" in m for m in texts(app, "markdown"))
    assert not app.get("vega_lite_chart")
    shown = " ".join(texts(app, "markdown"))
    assert not any(name in shown for name in MRI.class_names.values())


def test_a_low_confidence_answer_is_flagged_uncertain_and_gets_no_clinical_note(app):
    app.run()
    app.sidebar.selectbox(key="model_name").set_value("unsure")
    upload(app.run(), ("scan.png", png(phantom(SCAN))))
    assert any(m.startswith("#### Uncertain: Meningioma") for m in texts(app, "markdown"))
    assert not any(m.startswith("**Clinical note.**") for m in texts(app, "markdown"))


def test_one_hostile_file_gets_its_own_error_and_the_others_their_results(app, monkeypatch):
    import core.io

    real_read = core.io.read_image

    def hostile_read(source, *args, **kwargs):  # a decoder bug the file provokes, not a polite refusal
        if b"HOSTILE" in source.getvalue():
            raise struct_error("unpack requires a buffer of 4 bytes")
        return real_read(source, *args, **kwargs)

    monkeypatch.setattr(core.io, "read_image", hostile_read)
    upload(app.run(), ("a.png", png(phantom(SCAN))), ("b.dcm", b"HOSTILE" * 20), ("c.png", png(phantom(SCAN + 4))),
           ("d.png", b"junk"))
    assert not app.exception
    table = app.dataframe[0].value
    assert [name.split(" (")[0] for name in table["image"]] == ["image 1", "image 2", "image 3", "image 4"]
    assert list(table["status"]) == ["classified", "error", "classified", "error"]
    assert "unpack" not in " ".join(table["message"].astype(str))  # no raw library text
    assert "Download results (CSV)" in [b.label for b in app.get("download_button")]
    app.selectbox(key="diag_focus_4").set_value(1)
    app.run()
    assert texts(app, "error") == ["Not analysed"]


def test_dicom_shows_modality_and_spacing_but_never_patient_identifiers(app):
    pixels = phantom(SCAN)[..., 0].astype(np.uint16) * 16  # 12-bit, as scanners store it
    data = dicom_bytes(pixels, Modality="MR", PixelSpacing=[0.5, 0.5], PatientName="DOE^JANE",
                       PatientID="123-45-678")
    upload(app.run(), ("slice.dcm", data))
    assert not app.exception and not app.error
    captions = " ".join(texts(app, "caption"))
    assert "Modality: MR" in captions and "Pixel spacing (mm): 0.5 x 0.5" in captions
    assert "DOE" not in everything_shown(app) and "123-45-678" not in everything_shown(app)


def test_a_bundled_sample_goes_through_the_same_analysis(app):
    app.run()
    app.radio(key="diag_source").set_value("sample")
    app.run()
    assert not app.exception
    assert any(m.startswith("#### Meningioma: ") for m in texts(app, "markdown"))


def test_the_report_fields_filled_in_the_app_reach_the_pdf_with_the_image_label(app, monkeypatch):
    from core.ui import report

    calls = []
    real_build = report.build_pdf
    monkeypatch.setattr(report, "build_pdf", lambda *a, **k: calls.append(k) or real_build(*a, **k))
    upload(app.run(), ("DOE_JANE.png", png(phantom(SCAN))))
    app.text_input(key="report_study").input("ST-42")
    app.text_input(key="report_reviewer").input("Dr Who")
    app.run()
    assert not app.exception
    fields, name = calls[-1]["fields"], calls[-1]["source_name"]
    assert fields["Study id"] == "ST-42" and fields["Reviewer"] == "Dr Who"
    assert name.startswith("image 1 (") and "DOE" not in name
    assert calls[-1]["colour_scale"] is not None  # the overlay comes with its colour scale


def test_a_tampered_model_is_refused_with_a_sentence(app):
    app.run()
    app.sidebar.selectbox(key="task_id").set_value("breast_us")
    upload(app.run(), ("scan.png", png(phantom(SCAN))))
    assert not app.exception
    assert "The model cannot be used" in texts(app, "error")
    assert any("does not match" in t for t in texts(app, "text"))


def test_a_task_without_models_says_how_to_add_one(app):
    app.run()
    app.sidebar.selectbox(key="task_id").set_value("blood_smear")
    app.run()
    assert not app.exception
    assert any("About page" in t for t in texts(app, "text"))


# ---- registries the app reads ---------------------------------------------------------------------


def test_a_cam_method_and_a_task_registered_at_run_time_are_offered_by_the_app(app, monkeypatch, tmp_path):
    from types import MappingProxyType

    import core.tasks
    from core.explain.registry import CAM_METHODS, CamMethod

    # A new CAM method is one registry entry (here reusing Grad-CAM's pass under a new name).
    monkeypatch.setitem(CAM_METHODS, "toycam", CamMethod("Toy CAM", CAM_METHODS["gradcam"].builder, "test only"))
    # A new task on an existing modality is one registry entry plus its model folder.
    toy = dataclasses.replace(MRI, id="toy_scan", display_name="Toy scan: lesion (test only)",
                              classes=("clear", "lesion"), class_names={"clear": "Clear", "lesion": "Lesion"},
                              clinical_notes={"clear": "Nothing to see.", "lesion": "Something to see."})
    registry, original = MappingProxyType({**core.tasks.TASKS, toy.id: toy}), core.tasks.TASKS
    for module in [m for m in list(sys.modules.values()) if getattr(m, "TASKS", None) is original]:
        monkeypatch.setattr(module, "TASKS", registry)  # every module that read the registry sees the new task
    install(tmp_path, toy.id, "toy", favourite=1, default=True)
    monkeypatch.setattr(paths, "MODELS_DIR", tmp_path)

    app.run()
    chooser = app.sidebar.selectbox(key="task_id")
    assert toy.display_name in chooser.options
    chooser.set_value(toy.id)
    upload(app.run(), ("scan.png", png(phantom(SCAN))))
    assert not app.exception
    assert any(m.startswith("#### Lesion: ") for m in texts(app, "markdown"))
    methods = app.selectbox(key="diag_cam_method")
    assert "Toy CAM" in methods.options
    methods.set_value("toycam")
    app.run()
    assert not app.exception and "Toy CAM: Lesion" in captions(app)


# ---- gallery, models, about -----------------------------------------------------------------------


def test_gallery_shows_only_synthetic_images_and_generates_from_a_seed(app):
    app.run().switch_page("views/gallery.py").run()
    assert not app.exception and not app.error
    shown = captions(app)
    assert len(shown) == 1 + 8 + 8  # the pre-rendered grid, 8 new samples, 8 interpolation steps
    assert all("SYNTHETIC" in c for c in shown)
    app.number_input(key="gallery_seed").set_value(7)
    app.run()
    assert "SYNTHETIC (seed 7, #0)" in captions(app)


def test_gallery_of_a_task_without_generators_says_so(app):
    app.run()
    app.sidebar.selectbox(key="task_id").set_value("brain_mri_binary")
    app.run().switch_page("views/gallery.py").run()
    assert not app.exception
    assert any("No GAN generators" in i for i in texts(app, "info"))


def test_models_page_lists_every_card_with_a_comparison_in_plain_words(app, models_dir):
    app.run().switch_page("views/models.py").run()
    assert not app.exception
    labels = " ".join(e.label for e in app.expander)
    for name in ("tiny", "unsure", "real_tiny", "tampered"):
        assert name in labels
    comparison = app.table[0].value
    assert list(comparison.columns) == ["tiny", "unsure"]  # the MRI task's models side by side
    assert comparison.loc["Correct answers", "tiny"] == "50.0 % of 6 test images"
    assert comparison.loc["Calibration error", "tiny"] == "5.0 points (ECE 0.050); 10.0 before calibration"
    assert not app.dataframe, "static tables: nothing cut off at the right"
    assert any("pytest tests/test_app.py" in c.value for c in app.code)  # the producing command
    assert any(c.startswith("Sensitivity against false alarms") for c in captions(app))  # the ROC, explained


def test_every_figure_on_the_models_page_says_what_it_means():
    from core.ui import MEASURES, measures_table

    card = {"test_metrics": {"accuracy": 0.9123, "n": 200, "macro": {"recall": 0.9, "roc_auc": 0.97}},
            "calibration": {"ece_before": 0.0167, "ece_after": 0.0120}, "uncertainty_threshold": 0.6,
            "ood": {"detection_rate": 1.0, "test_false_rejection_rate": 0.018},
            "conformal": {"level": 0.9, "threshold": 0.8, "test_coverage": 0.915},
            "training_data": {"kind": "real", "dataset": "BUSI"}}
    table = measures_table(card)
    assert all(len(m.meaning) > 20 for m in MEASURES)
    assert table.loc["Correct answers", "value"] == "91.2 % of 200 test images"
    assert table.loc["Ranking quality (ROC-AUC)", "value"] == "97.0 %"
    # the legend of the reliability figure prints the same ECE as a fraction
    assert table.loc["Calibration error", "value"].startswith("1.2 points (ECE 0.012)")
    assert table.loc["Prediction set", "value"] == "aims to hold the true class 90 % of the time; did so for " \
        "91.5 % of test images"
    assert "wrongly refuses 1.8 % of genuine ones" in table.loc["Foreign images", "value"]
    assert table.loc["Heat map on the lesion", "value"] == "n/a"  # a card without an explanations section


def test_a_fine_tuned_model_says_what_it_was_fine_tuned_with():
    from core.ui import measures_table

    card = {"training_data": {"kind": "real", "dataset": "BUSI"},
            "fine_tuning": {"parent": "mobilenet_busi", "outlined_training_images": 321}}
    assert measures_table(card).loc["Trained on", "value"] == ("BUSI (real); fine-tuned from mobilenet_busi with 321 "
                                                             "training lesion outlines")


def test_the_models_page_gives_the_heat_map_audit_in_words():
    from core.ui import measures_table

    explained = {"explanations": {
        "pointing_game": 0.55, "images_with_lesion_mask": 100, "energy_in_mask": 0.15,
        "pointing_game_centre_baseline": 0.4, "shortcut_audit": {"energy_outside_anatomy": 0.06, "flagged": False}}}
    table = measures_table(explained)
    assert table.loc["Heat map on the lesion", "value"] == (
        "hottest point on the lesion in 55 % of 100 test images; 15 % of the heat inside the outline; "
        "always pointing at the centre would score 40 %")
    assert table.loc["Heat off the patient", "value"] == "6 % of the heat"
    explained["explanations"]["shortcut_audit"] = {"energy_outside_anatomy": 0.42, "flagged": True}
    assert "FLAGGED" in measures_table(explained).loc["Heat off the patient", "value"]
    no_masks = measures_table({"explanations": {"shortcut_audit": {"energy_outside_anatomy": 0.1}}})
    assert no_masks.loc["Heat map on the lesion", "value"].startswith("not measured")


def test_about_page_names_every_dataset_and_the_disclaimer(app):
    app.run().switch_page("views/about.py").run()
    text = " ".join(texts(app, "markdown") + texts(app, "error"))
    assert "Not a medical device" in text
    for task in TASKS.values():
        assert task.dataset.url in text


# ---- the helpers behind the pages ----------------------------------------------------------------


def test_the_per_session_memo_keeps_only_the_most_recent_analyses():
    from core.ui import remember

    memo, calls = {}, []
    for key in ["a", "b", "a", "c"]:
        remember(memo, key, lambda k=key: calls.append(k) or k.upper(), max_items=2)
    assert calls == ["a", "b", "c"]  # "a" was reused, not recomputed
    assert list(memo) == ["a", "c"]  # "b", least recently used, was dropped


def test_the_model_pool_loads_each_model_once_in_the_background_and_retries_a_failed_load():
    from core.ui import ModelPool

    calls = []

    def load(name):
        calls.append(name)
        if name == "broken" and calls.count("broken") == 1:
            raise RuntimeError("weights damaged")
        return f"model {name}"

    pool = ModelPool(load)
    pool.start("a")
    assert pool.get("a") == "model a" and pool.get("a") == "model a" and calls.count("a") == 1
    with pytest.raises(RuntimeError):
        pool.get("broken")
    assert pool.get("broken") == "model broken"  # restored files are picked up without a restart


def test_an_unexpected_failure_is_a_sentence_and_its_message_is_not_logged(caplog):
    from core.ui import describe_failure

    try:
        raise RuntimeError("patient DOE^JANE pixel bytes")
    except RuntimeError as exc:
        sentence = describe_failure(exc, "reading the file")
    assert sentence.startswith("Something unexpected went wrong while reading the file.")
    assert "RuntimeError" in caplog.text and "DOE" not in caplog.text and "DOE" not in sentence


def test_a_card_cannot_point_the_models_page_outside_its_folder(models_dir, monkeypatch, tmp_path):
    from core.ui import card_plots

    monkeypatch.setattr(paths, "MODELS_DIR", tmp_path / "models")
    monkeypatch.setattr(paths, "RUNS_DIR", tmp_path / "runs")
    for rel in (f"models/{MRI.id}/roc.png", "runs/tiny/history.png", "secret.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(png(phantom(0)))
    card = {"task_id": MRI.id, "plots": {"roc": "roc.png", "leak": "../../secret.png", "gone": "missing.png"},
            "training_run": {"plots": {"history": str(tmp_path / "runs/tiny/history.png"),
                                       "other": str(tmp_path / "secret.png")}}}
    assert card_plots(card) == {"history": tmp_path / "runs/tiny/history.png",
                                "roc": tmp_path / "models" / MRI.id / "roc.png"}


def test_interpolation_starts_and_ends_at_the_seeds_own_samples():
    from core.models.dcgan import build_generator
    from core.ui import generate_samples, interpolate

    generator = build_generator(size=32, channels=1)
    path = interpolate(generator, 3, 4, steps=4)
    assert len(path) == 4 and path[0].shape == (32, 32, 3) and path[0].dtype == np.uint8
    assert np.array_equal(path[0], generate_samples(generator, 1, 3)[0])
    assert np.array_equal(path[-1], generate_samples(generator, 1, 4)[0])


def test_the_gallery_states_how_good_a_generator_is_from_its_card_in_plain_words():
    from core.ui import quality_summary

    card = {"epochs": 60, "n_real_images": 79, "training_data": {"kind": "real", "dataset": "BUSI"},
            "quality": {"fid": 180.0, "reference_fid": 23.0, "ms_ssim_generated": 0.92, "ms_ssim_real": 0.19,
                        "memorised_fraction": 0.0}}
    summary = quality_summary(card)
    assert "Learnt from 79 real training images of BUSI for 60 epochs" in summary
    assert "far from real scans" in summary and "nearly all alike" in summary
    assert "No sample is a copy of a training image" in summary
    assert quality_summary({"quality": {}}) is None