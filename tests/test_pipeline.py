"""tf.data pipeline and in-memory arrays: what a model is fed."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.data import DatasetError, label_indices, load_arrays, read_dataset
from core.preprocess import prepare
from core.tasks import TASKS

tf = pytest.importorskip("tensorflow")
from core.data.pipeline import augmentation_layers, make_dataset  # noqa: E402

TASK = "brain_mri_4class"
SIZE = 32


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """3 asymmetric drawn 'heads' per class (asymmetric so a flip or shift is visible)."""
    root = tmp_path_factory.mktemp("mri")
    for c, cls in enumerate(TASKS[TASK].classes):
        (root / cls).mkdir()
        for i in range(3):
            image = np.zeros((40, 48, 3), np.uint8)
            cv2.ellipse(image, (24, 20), (18, 15), 0, 0, 360, (90, 90, 90), -1)
            cv2.circle(image, (14 + 3 * c, 14 + 2 * i), 4, (230, 230, 230), -1)
            cv2.imwrite(str(root / cls / f"{i}.png"), image)
    return read_dataset(root, TASK)


def _collect(ds):
    images, labels = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    return np.concatenate(images), np.concatenate(labels)


def test_batches_have_the_model_input_shape_and_one_hot_labels_in_task_order(table):
    ds = make_dataset(table, TASK, size=SIZE, batch_size=5)
    images, labels = _collect(ds)
    assert images.shape == (12, SIZE, SIZE, 3) and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 255 and images.max() > 1  # 0..255, not normalised
    assert labels.shape == (12, 4) and labels.dtype == np.float32
    expected = [TASKS[TASK].classes.index(label) for label in table["label"]]
    assert list(labels.argmax(axis=1)) == expected
    assert [len(x) for x, _ in ds] == [5, 5, 2]


def test_integer_labels_when_one_hot_is_off(table):
    _, labels = _collect(make_dataset(table, TASK, size=SIZE, one_hot=False))
    assert labels.dtype == np.int32
    assert list(labels) == list(label_indices(table, TASK))


def test_inference_pipeline_feeds_exactly_the_preprocessed_images(table):
    images, _ = _collect(make_dataset(table, TASK, size=SIZE, training=False))
    X, y = load_arrays(table, TASK, size=SIZE)
    assert X.dtype == np.uint8 and X.shape == (12, SIZE, SIZE, 3)
    assert y.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert np.array_equal(images, X.astype(np.float32))
    first = cv2.cvtColor(cv2.imread(table["path"][0]), cv2.COLOR_BGR2RGB)
    assert np.array_equal(X[0], prepare(first, TASK, SIZE).image)


def test_training_augments_and_shuffles_inference_does_neither(table):
    X, y = load_arrays(table, TASK, size=SIZE)
    train_images, train_labels = _collect(make_dataset(table, TASK, size=SIZE, training=True, seed=0,
                                                       one_hot=False))
    assert sorted(train_labels) == sorted(y)
    assert list(train_labels) != list(y)  # shuffled
    # every training image differs from its source image: augmented, not just reordered
    originals = {tuple(X[i].ravel()) for i in range(len(X))}
    assert sum(tuple(im.astype(np.uint8).ravel()) in originals for im in train_images) == 0


def test_shuffling_and_augmentation_are_reproducible_with_a_seed(table):
    def epoch(seed):
        return _collect(make_dataset(table, TASK, size=SIZE, training=True, seed=seed, one_hot=False))

    (images_a, labels_a), (images_b, labels_b) = epoch(3), epoch(3)
    assert list(labels_a) == list(labels_b)
    assert np.allclose(images_a, images_b)
    assert list(epoch(4)[1]) != list(labels_a)


def test_each_epoch_is_reshuffled(table):
    ds = make_dataset(table, TASK, size=SIZE, training=True, seed=1, one_hot=False)
    first, second = _collect(ds)[1], _collect(ds)[1]
    assert sorted(first) == sorted(second) and list(first) != list(second)


def test_a_repeated_training_stream_gives_full_batches_and_every_image_once_per_pass(table):
    # 12 images in batches of 4: three batches are one pass, and each pass is a new order of all 12
    ds = make_dataset(table, TASK, size=SIZE, batch_size=4, training=True, seed=1, one_hot=False, repeat=True)
    batches = [labels.numpy() for _, labels in ds.take(6)]
    assert all(len(labels) == 4 for labels in batches)
    first, second = np.concatenate(batches[:3]), np.concatenate(batches[3:])
    expected = sorted(label_indices(table, TASK))
    assert sorted(first) == expected and sorted(second) == expected and list(first) != list(second)


def test_augmentation_layers_are_identity_at_inference_and_change_images_in_training():
    layers = augmentation_layers(seed=0)
    assert [layer.name for layer in layers.layers] == ["rotate", "shift", "flip"]
    batch = np.random.default_rng(0).uniform(0, 255, (4, SIZE, SIZE, 3)).astype("float32")
    assert np.array_equal(np.asarray(layers(batch, training=False)), batch)
    assert not np.allclose(np.asarray(layers(batch, training=True)), batch)


def test_unreadable_file_is_named(table, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    bad = table.head(1).assign(path=str(broken))
    with pytest.raises(DatasetError, match="broken.png"):
        load_arrays(bad, TASK, size=SIZE)
    with pytest.raises(tf.errors.OpError, match="broken.png"):
        _collect(make_dataset(bad, TASK, size=SIZE))


@pytest.mark.parametrize(
    "kwargs, message",
    [({"batch_size": 0}, "batch_size"), ({"size": 0}, "Size")],
)
def test_bad_arguments_are_rejected_before_any_decoding(table, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_dataset(table, TASK, **kwargs)


def test_labels_of_another_task_are_rejected(table):
    with pytest.raises(DatasetError, match="not classes of task 'blood_smear'"):
        make_dataset(table, "blood_smear", size=SIZE)


def test_16_bit_files_are_decoded_through_core_io(tmp_path):
    # cv2.imread would truncate or refuse these; core.io windows them to 8 bits.
    image = np.zeros((40, 40), np.uint16)
    cv2.circle(image, (20, 20), 12, 4000, -1)
    (tmp_path / "glioma").mkdir()
    cv2.imwrite(str(tmp_path / "glioma" / "slice.png"), image)
    X, y = load_arrays(read_dataset(tmp_path, TASK), TASK, size=SIZE)
    assert X.dtype == np.uint8 and X.max() > 200 and y.tolist() == [0]
