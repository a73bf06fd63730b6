"""The task registry: what the product diagnoses.

A task fixes the modality, the class names *in model output order*, the default
input size and the preprocessing recipe. Everything else (readers, phantoms,
models, the app) looks the task up here by its id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping


class UnknownTaskError(KeyError):
    """Raised for a task id that is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


@dataclass(frozen=True)
class Dataset:
    """The public dataset a task is defined on, as published."""

    name: str
    url: str
    layout: str
    citation: str = ""
    licence: str = ""


@dataclass(frozen=True)
class ReferenceResult:
    """A published result the training scripts must be able to reproduce."""

    model: str
    metric: str
    value: float
    source: str


@dataclass(frozen=True)
class Task:
    """One classification task.

    Attributes:
        id: registry key, e.g. ``"brain_mri_4class"``.
        display_name: what a clinician reads in the app.
        modality: machine id of the modality (``brain_mri``, ``breast_us``, ``blood_smear``).
        modality_name: human name of the modality, used in sentences.
        classes: class ids in model output order.
        class_names: class id -> display name.
        clinical_notes: class id -> one paragraph for the clinician.
        input_size: default (height, width) of the model input.
        channels: channels of the model input (phantoms and real data are fed as RGB).
        preprocessing: id of the recipe in ``core.preprocess``.
        dataset: the public dataset and its on-disk layout.
        reference_results: published figures to reproduce.
    """

    id: str
    display_name: str
    modality: str
    modality_name: str
    classes: tuple[str, ...]
    class_names: Mapping[str, str]
    clinical_notes: Mapping[str, str]
    input_size: tuple[int, int]
    preprocessing: str
    dataset: Dataset
    reference_results: tuple[ReferenceResult, ...] = ()
    channels: int = 3
    file_types: tuple[str, ...] = field(default=(".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm"))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_index(self, class_id: str) -> int:
        """Position of ``class_id`` in the model output; ValueError if unknown."""
        try:
            return self.classes.index(class_id)
        except ValueError:
            raise ValueError(
                f"Class '{class_id}' is not a class of task '{self.id}'; "
                f"its classes are: {', '.join(self.classes)}."
            ) from None


_BRAIN_NOTES = {
    "glioma": (
        "Glioma: a primary intra-axial tumour arising from glial cells, typically an irregular mass "
        "with heterogeneous signal, ring enhancement and surrounding vasogenic oedema. High-grade "
        "gliomas need urgent neuro-oncology referral; confirmation is by contrast MRI and histology."
    ),
    "meningioma": (
        "Meningioma: an extra-axial, usually benign tumour of the meninges, seen as a well-circumscribed "
        "homogeneous mass with a broad dural attachment along the inner skull. Many are followed "
        "with serial imaging; symptomatic or growing lesions are resected."
    ),
    "notumor": (
        "No tumour: no mass lesion is suggested on this slice. A single axial slice cannot exclude "
        "a lesion elsewhere in the volume; correlate with the full study and the clinical picture."
    ),
    "pituitary": (
        "Pituitary tumour: a sellar/suprasellar mass at the midline of the skull base, most often a "
        "benign adenoma. Assess for optic chiasm compression and hormonal effects; dedicated "
        "pituitary-protocol MRI confirms it."
    ),
}

_BR35H_NOTES = {
    "no": "No tumour: no mass lesion is suggested on this slice. Correlate with the full study.",
    "yes": (
        "Tumour: a mass lesion is suggested on this slice. The binary model does not type the tumour; "
        "use the four-class task or a contrast study to characterise it."
    ),
}

_BREAST_NOTES = {
    "benign": (
        "Benign-appearing lesion: oval, circumscribed, wider than tall, often with posterior acoustic "
        "enhancement (e.g. fibroadenoma, cyst). Usually BI-RADS 2-3: follow-up or biopsy per protocol."
    ),
    "malignant": (
        "Suspicious lesion: irregular, spiculated or angular margins, taller than wide, with posterior "
        "acoustic shadowing. Features of BI-RADS 4-5; tissue sampling is indicated."
    ),
    "normal": (
        "Normal: no focal lesion in this image. Breast ultrasound is operator-dependent; a normal "
        "frame does not exclude a lesion outside the scanned plane."
    ),
}

_SMEAR_NOTES = {
    "all": (
        "Leukemic blast (ALL): a large lymphoid cell with a high nucleus-to-cytoplasm ratio, irregular "
        "nucleus, fine chromatin and visible nucleoli. Suggestive of acute lymphoblastic leukaemia; "
        "confirm with flow cytometry and haematopathology."
    ),
    "hem": (
        "Healthy (hem): a normal lymphocyte with a small, round, dense nucleus and a thin rim of "
        "cytoplasm. Individual cell appearance does not exclude disease in the sample."
    ),
}

_KAGGLE_MRI = Dataset(
    name="Brain Tumor MRI Dataset (Kaggle, 7,023 images)",
    url="https://www.kaggle.com/datasets/masoudnickparvar/brain-tumor-mri-dataset",
    layout="Training/<class>/Tr-gl_0001.jpg and Testing/<class>/Te-gl_0001.jpg",
    citation="M. Nickparvar, Brain Tumor MRI Dataset, Kaggle 2021 (built from the Figshare set of Cheng et al., "
             "SARTAJ and Br35H)",
    licence="see the dataset's Kaggle page (not verified offline)",
)
_BR35H = Dataset(
    name="Brain MRI Images for Brain Tumor Detection / Br35H",
    url="https://www.kaggle.com/datasets/navoneel/brain-mri-images-for-brain-tumor-detection",
    layout="yes/Y1.jpg, no/No12.jpg, no/no 1.jpg (mixed case, spaces)",
    citation="A. Hamada, Br35H :: Brain Tumor Detection 2020, Kaggle",
    licence="see the dataset's Kaggle page (not verified offline)",
)
_BUSI = Dataset(
    name="Breast Ultrasound Images Dataset (BUSI)",
    url="https://scholar.cu.edu.eg/?q=afahmy/pages/dataset",
    layout="Dataset_BUSI_with_GT/<class>/benign (1).png with benign (1)_mask.png beside it",
    citation="W. Al-Dhabyani, M. Gomaa, H. Khaled, A. Fahmy, Dataset of breast ultrasound images, "
             "Data in Brief 28 (2020) 104863",
    licence="see the dataset's publication page (not verified offline)",
)
_CNMC = Dataset(
    name="C-NMC 2019 (ALL Challenge, The Cancer Imaging Archive)",
    url="https://www.cancerimagingarchive.net/collection/c-nmc-2019/",
    layout="C-NMC_training_data/fold_<k>/{all,hem}/UID_<subject>_<n>_<m>_<class>.bmp",
)

_ALL_TASKS = (
    Task(
        id="brain_mri_4class",
        display_name="Brain MRI: tumour type (4 classes)",
        modality="brain_mri",
        modality_name="brain MRI",
        classes=("glioma", "meningioma", "notumor", "pituitary"),
        class_names={"glioma": "Glioma", "meningioma": "Meningioma", "notumor": "No tumour",
                     "pituitary": "Pituitary tumour"},
        clinical_notes=_BRAIN_NOTES,
        input_size=(224, 224),
        preprocessing="brain_mri",
        dataset=_KAGGLE_MRI,
        reference_results=(
            ReferenceResult("resnet50", "test accuracy", 0.987, "MRI paper, table 4"),
            ReferenceResult("xception", "test accuracy", 0.986, "MRI paper, table 4"),
            ReferenceResult("inception_v3", "test accuracy", 0.986, "MRI paper, table 4"),
            ReferenceResult("mobilenet_v2", "test accuracy", 0.952, "MRI paper, table 4"),
        ),
    ),
    Task(
        id="brain_mri_binary",
        display_name="Brain MRI: tumour present (yes/no)",
        modality="brain_mri",
        modality_name="brain MRI",
        classes=("no", "yes"),
        class_names={"no": "No tumour", "yes": "Tumour"},
        clinical_notes=_BR35H_NOTES,
        input_size=(64, 64),
        preprocessing="brain_mri",
        dataset=_BR35H,
        reference_results=(
            ReferenceResult("small_cnn", "accuracy", 0.966, "MRI thesis"),
            ReferenceResult("small_cnn + DCGAN", "accuracy", 0.984, "MRI thesis"),
            ReferenceResult("small_cnn + DCGAN", "recall", 0.993, "MRI thesis"),
        ),
    ),
    Task(
        id="breast_us",
        display_name="Breast ultrasound: lesion (3 classes)",
        modality="breast_us",
        modality_name="breast ultrasound",
        classes=("benign", "malignant", "normal"),
        class_names={"benign": "Benign", "malignant": "Malignant", "normal": "Normal"},
        clinical_notes=_BREAST_NOTES,
        input_size=(224, 224),
        preprocessing="breast_us",
        dataset=_BUSI,
        reference_results=(
            ReferenceResult("mobilenet_v2", "10-fold CV accuracy", 0.934, "ultrasound thesis"),
            ReferenceResult("mobilenet_v2 + DCGAN", "10-fold CV accuracy", 0.949, "ultrasound thesis"),
        ),
    ),
    Task(
        id="blood_smear",
        display_name="Blood smear: leukemic blast (ALL vs healthy)",
        modality="blood_smear",
        modality_name="blood-smear cell",
        classes=("all", "hem"),
        class_names={"all": "Leukemic blast (ALL)", "hem": "Healthy (hem)"},
        clinical_notes=_SMEAR_NOTES,
        input_size=(224, 224),
        preprocessing="blood_smear",
        dataset=_CNMC,
        reference_results=(
            ReferenceResult("mobilenet_v2", "test accuracy", 0.8275, "C-NMC paper"),
            ReferenceResult("inception_v3", "test accuracy", 0.802, "C-NMC paper"),
            ReferenceResult("vgg19", "test accuracy", 0.774, "C-NMC paper"),
            ReferenceResult("resnet101v2", "test accuracy", 0.772, "C-NMC paper"),
        ),
    ),
)

#: task id -> Task, read-only.
TASKS: Mapping[str, Task] = MappingProxyType({t.id: t for t in _ALL_TASKS})


def get_task(task_id: str | Task) -> Task:
    """Look a task up by id.

    Args:
        task_id: a registry key, or a Task (returned unchanged).

    Returns:
        The frozen Task record.

    Raises:
        UnknownTaskError: the id is not registered; the message lists the known ids.
    """
    if isinstance(task_id, Task):
        return task_id
    try:
        return TASKS[task_id]
    except (KeyError, TypeError):
        raise UnknownTaskError(
            f"Unknown task '{task_id}'. Known tasks: {', '.join(TASKS)}."
        ) from None
