"""The task registry is the contract every other part reads class order from."""

import dataclasses

import pytest

from core.tasks import TASKS, UnknownTaskError, get_task

EXPECTED_CLASSES = {
    "brain_mri_4class": ("glioma", "meningioma", "notumor", "pituitary"),
    "brain_mri_binary": ("no", "yes"),
    "breast_us": ("benign", "malignant", "normal"),
    "blood_smear": ("all", "hem"),
}


def test_registry_holds_the_four_design_tasks_with_classes_in_output_order():
    assert {tid: t.classes for tid, t in TASKS.items()} == EXPECTED_CLASSES


@pytest.mark.parametrize("task_id", sorted(EXPECTED_CLASSES))
def test_every_class_has_a_display_name_and_a_clinical_note(task_id):
    task = get_task(task_id)
    assert set(task.class_names) == set(task.classes)
    for cls in task.classes:
        assert len(task.clinical_notes[cls]) > 60, "a note is a paragraph, not a label"
    assert task.modality_name and task.display_name and task.dataset.url.startswith("https://")


def test_unknown_task_error_lists_the_known_ids():
    with pytest.raises(UnknownTaskError) as err:
        get_task("chest_xray")
    message = str(err.value)
    assert "chest_xray" in message
    for tid in EXPECTED_CLASSES:
        assert tid in message


def test_tasks_are_frozen_and_the_registry_is_read_only():
    task = get_task("breast_us")
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.classes = ("x",)
    with pytest.raises(TypeError):
        TASKS["new"] = task


def test_class_index_follows_output_order_and_rejects_strangers():
    task = get_task("brain_mri_4class")
    assert task.class_index("notumor") == 2
    with pytest.raises(ValueError, match="glioma, meningioma, notumor, pituitary"):
        task.class_index("astrocytoma")
