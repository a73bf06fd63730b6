"""About: intended use, the datasets behind each task, and how to train and serve real weights."""

import streamlit as st

import widgets
from core.tasks import TASKS

widgets.require_session()

st.title("About")
st.error("**Not a medical device.** This tool gives a computer-generated second opinion for research and "
         "education. It must not be used alone to diagnose or treat anyone; a qualified clinician reviews "
         "every image and the full clinical picture.", icon=":material/health_and_safety:")

st.header("Intended use")
st.markdown(
    "- A radiologist, oncologist or haematologist uploads a **brain MRI slice**, a **breast ultrasound frame** "
    "or a **single-cell blood-smear image** and gets the predicted class with a calibrated probability for "
    "every class, a class-activation overlay of what drove it, and a PDF report.\n"
    "- Below the model's confidence threshold the answer is flagged **uncertain**; an image that does not "
    "look like the task's modality is **refused** rather than classified.\n"
    "- Models trained on synthetic phantoms are **demo weights**: the app says so beside every verdict and at "
    "the top of every report; models trained on real data say on which dataset, for research use only.")

st.header("Tasks and datasets")
st.markdown("Download a dataset from its publisher, unpack it anywhere (e.g. `data/`) and point the training "
            "script at the folder; each is read exactly as published.")
for task in TASKS.values():
    with st.expander(task.display_name):
        st.markdown(
            f"- **Task id:** `{task.id}`; **classes** (model output order): "
            f"{', '.join(task.class_names[c] for c in task.classes)}\n"
            f"- **Dataset:** [{task.dataset.name}]({task.dataset.url})\n"
            f"- **Layout:** `{task.dataset.layout}`\n"
            + "".join(f"- Published reference: {r.model}, {r.metric} {r.value:.1%} ({r.source})\n"
                      for r in task.reference_results))

st.header("Train real weights and serve them")
st.markdown(
    "1. Train on the downloaded dataset (a GPU helps: `pip install -r requirements-gpu.txt`), for example:\n\n"
    "   ```bash\n"
    "   python -m training.train_classifier --task brain_mri_4class --data data/brain-tumor-mri \\\n"
    "       --model resnet50 --weights imagenet --respect-source --epochs 5 --fine-tune-epochs 20 \\\n"
    "       --run resnet50_kaggle --default\n"
    "   ```\n"
    "2. The script writes `<run>.keras` and `<run>.card.json` (metrics, calibration, sha256, the exact "
    "command) into the served-models folder, `models/<task>/`. `training/README.md` lists the command "
    "that reproduces each published result.\n"
    "3. Nothing else to do: the model appears in the sidebar and on the Models page at the next page load. "
    "`--default` makes it the one served for its task.")
st.markdown("Served models live in `models/<task>/` "
            "(relocate it with the `MEDIMG_MODELS_DIR` environment variable). The app refuses a `.keras` file "
            "whose sha256 differs from its card, and loads weights in Keras safe mode.")
st.markdown("No dataset at hand? `python -m core.phantoms --task all --out data/phantoms --per-class 50 --seed 0` "
            "writes synthetic phantoms of every task in the published layouts (for demos and tests only).")
