"""Exporting a served classifier for TensorFlow Serving and TFLite, and the app predicting through
TF Serving's REST API (a local stand-in server speaking the same API, answered by the exported SavedModel)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from core.tasks import get_task
from tests.conftest import _tiny_train

TASK = "brain_mri_binary"
#: SavedModel vs Keras: the same float32 graph; only the float32 (export) vs float64 (app) softmax differs.
SAVEDMODEL_TOLERANCE = 1e-5
#: TFLite re-lowers the graph (fused ops, other kernels): probabilities may differ in the 5th decimal.
TFLITE_TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def served_folder(phantom_dataset, tmp_path_factory):
    """A real (tiny) trained model with its card, in a models folder."""
    from training.config import TrainConfig
    from training.train_classifier import train

    tmp = tmp_path_factory.mktemp("export")
    cfg = _tiny_train(TrainConfig(task=TASK, data=str(phantom_dataset(TASK)), run="tiny"), tmp)
    train(cfg)
    return Path(cfg.models_dir)


@pytest.fixture(scope="module")
def local(served_folder):
    from core.serving.served import load_model

    return load_model(TASK, "tiny", served_folder)


def phantoms(n: int = 6, size: int = 48) -> list[np.ndarray]:
    from core.phantoms import make_image

    task = get_task(TASK)
    return [make_image(TASK, task.classes[i % 2], np.random.default_rng(100 + i), size=size).image for i in range(n)]


def prepared(model, images) -> np.ndarray:
    return np.stack([model.prepare(image).image for image in images])


def export(served_folder, out, *extra) -> dict:
    from training.export import main

    return main(["--task", TASK, "--model", "tiny", "--models-dir", str(served_folder), "--out", str(out), *extra])


def test_savedmodel_is_in_tf_serving_layout_and_answers_as_the_keras_model(served_folder, local, tmp_path):
    import tensorflow as tf

    from core.serving.calibration import apply_temperature

    result = export(served_folder, tmp_path, "--format", "savedmodel")

    version = tmp_path / f"{TASK}-tiny" / "1"
    assert result["path"] == str(version)
    assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()
    card = json.loads((version / "assets.extra" / "card.json").read_text())
    assert card["sha256"] == local.card["sha256"] and card["export"]["version"] == 1
    # One TF Serving container serves every export listed in models.config.
    config = (tmp_path / "models.config").read_text()
    assert f'name: "{TASK}-tiny"' in config and f'base_path: "/models/{TASK}-tiny"' in config
    reloaded = tf.saved_model.load(str(version))
    assert set(reloaded.signatures) == {"serving_default", "serving_uint8"}

    batch = prepared(local, phantoms())
    keras_logits, keras_features = local.logits_and_features(batch)
    expected = apply_temperature(keras_logits, local.temperature)
    as_float = reloaded.signatures["serving_default"](images=tf.constant(batch, tf.float32))
    as_uint8 = reloaded.signatures["serving_uint8"](images=tf.constant(batch, tf.uint8))
    for outputs in (as_float, as_uint8):
        assert np.abs(outputs["probabilities"].numpy() - expected).max() <= SAVEDMODEL_TOLERANCE
        assert np.abs(outputs["logits"].numpy() - keras_logits).max() <= SAVEDMODEL_TOLERANCE
        assert np.abs(outputs["features"].numpy() - keras_features).max() <= SAVEDMODEL_TOLERANCE
    # A second export is the next version, as TF Serving expects to roll models forward.
    assert export(served_folder, tmp_path, "--format", "savedmodel")["version"] == 2


def test_tflite_file_answers_within_a_stated_tolerance(served_folder, local, tmp_path):
    from core.serving.calibration import apply_temperature
    from training.export import TFLITE_FILE, tflite_predict

    result = export(served_folder, tmp_path, "--format", "tflite")

    batch = prepared(local, phantoms()).astype(np.float32)
    expected = apply_temperature(local.logits_and_features(batch)[0], local.temperature)
    got = np.concatenate([tflite_predict(Path(result["path"]) / TFLITE_FILE, image[None])["probabilities"]
                          for image in batch])
    assert np.abs(got - expected).max() <= TFLITE_TOLERANCE


# ---- the app pointed at TF Serving ------------------------------------------------------------------------


class StandInServing(ThreadingHTTPServer):
    """TF Serving's REST predict API (row format) on 127.0.0.1, answered by exported SavedModels."""

    def __init__(self, export_root: Path):
        import tensorflow as tf

        self.models = {}
        for folder in (p for p in export_root.iterdir() if p.is_dir()):
            latest = max((p for p in folder.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
            self.models[folder.name] = tf.saved_model.load(str(latest))
        self.requests: list[dict] = []
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802  (http.server's naming)
        import tensorflow as tf

        name, _, verb = self.path.removeprefix("/v1/models/").partition(":")
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"model": name, **{k: v for k, v in body.items() if k != "instances"}})
        if name not in self.server.models or verb != "predict":
            return self._reply(404, {"error": f"Servable not found for request: Latest({name})"})
        signature = self.server.models[name].signatures[body.get("signature_name", "serving_default")]
        dtype = signature.structured_input_signature[1]["images"].dtype
        outputs = signature(images=tf.constant(body["instances"], dtype))
        rows = [{key: value[i].numpy().tolist() for key, value in outputs.items()}
                for i in range(len(body["instances"]))]
        self._reply(200, {"predictions": rows})

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


@pytest.fixture
def serving(served_folder, tmp_path):
    export(served_folder, tmp_path / "export", "--format", "savedmodel")
    server = StandInServing(tmp_path / "export")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_with_a_serving_url_the_app_answers_through_tf_serving_exactly_as_locally(served_folder, local, serving,
                                                                                   monkeypatch):
    from core.serving import load_model
    from core.serving.remote import SERVING_URL_ENV

    monkeypatch.setenv(SERVING_URL_ENV, serving.url)
    remote = load_model(TASK, "tiny", served_folder)
    images = phantoms()

    assert serving.requests and serving.requests[-1]["model"] == f"{TASK}-tiny"
    for mine, theirs in zip(remote.predict_batch(images), local.predict_batch(images)):
        assert mine.label == theirs.label and mine.out_of_distribution == theirs.out_of_distribution
        assert max(abs(mine.probabilities[c] - theirs.probabilities[c]) for c in mine.probabilities) <= 1e-5
    assert serving.requests[-1]["signature_name"] == "serving_uint8", "prepared images travel as integers"


def test_an_unreachable_or_wrong_server_is_a_sentence(served_folder, local, serving, monkeypatch):
    from core.serving import ServingError, load_model
    from core.serving.remote import SERVING_URL_ENV, RemoteForward

    monkeypatch.setenv(SERVING_URL_ENV, "http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(ServingError, match="did not answer.*TF Serving container"):
        load_model(TASK, "tiny", served_folder)
    unknown = RemoteForward(serving.url, "other-model", (*local.input_size, 3))
    with pytest.raises(ServingError, match="refused the request \\(404.*serves this model"):
        unknown(np.zeros((1, *local.input_size, 3)))
