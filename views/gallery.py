"""GAN gallery: synthetic images per class, what their cards say in plain words, new samples, interpolation."""

import streamlit as st

import widgets
from core import ui as app
from core.tasks import get_task

widgets.require_session()

task = get_task(st.session_state["task_id"])
memo = st.session_state["memo"]

st.title("GAN gallery")
st.warning("Every image on this page is SYNTHETIC: drawn by a generator (DCGAN), never acquired from a patient. "
           "Never use one for a diagnosis.")
verdicts = app.experiment_verdicts(task.id)
for sentence in verdicts:
    st.markdown(f"**Does it help the classifier?** {sentence}")
if verdicts:
    st.caption("Measured with a small CPU-budget classifier, 5 folds x 3 seeds on real test images; the control "
               "adds copies of real training images instead, so it tells re-balancing apart from new realistic "
               "images (README, results/gan_augmentation).")
assets = app.gan_assets(task.id)
if not assets:
    st.info(f"No GAN generators for {task.display_name} yet. Train one per class with the GAN script "
            f"(see the About page); their samples appear here without any code change.")
    st.stop()

class_id = st.selectbox("Class", list(assets), format_func=task.class_names.get, key=f"gallery_class_{task.id}")
item = assets[class_id]
if item.grid:
    st.image(str(item.grid), caption=f"SYNTHETIC - pre-rendered {task.class_names[class_id]} samples")
for sentence in app.plain_words(item.card):
    st.markdown(f"- {sentence}")
if item.closest:
    with st.expander("Closest synthetic / real training pairs (memorisation check)"):
        st.image(str(item.closest), caption="Top: SYNTHETIC samples; bottom: the nearest real training image")
if item.generator is None:
    st.info("Only pre-rendered samples exist for this class; its generator file is not in the models folder.")
    st.stop()
try:
    generator = widgets.generator(str(item.generator))
except Exception as exc:
    st.error(app.describe_failure(exc, "loading the generator"))
    st.stop()

st.subheader("New samples")
c1, c2 = st.columns(2)
seed = int(c1.number_input("Seed", 0, 2**31 - 1, 0, 1, key="gallery_seed",
                           help="The same seed always gives the same images."))
count = c2.slider("Images", 1, 16, 8, key="gallery_count")
try:
    samples = app.remember(memo, ("gan", str(item.generator), seed, count),
                           lambda: app.generate_samples(generator, count, seed))
    st.image(samples, width=128, caption=[f"SYNTHETIC (seed {seed}, #{i})" for i in range(count)])

    st.subheader("Interpolation between two latent points")
    c1, c2, c3 = st.columns(3)
    seed_a = int(c1.number_input("From seed", 0, 2**31 - 1, 1, 1, key="gallery_seed_a"))
    seed_b = int(c2.number_input("To seed", 0, 2**31 - 1, 2, 1, key="gallery_seed_b"))
    steps = c3.slider("Steps", 2, 12, 8, key="gallery_steps")
    frames = app.remember(memo, ("gan-path", str(item.generator), seed_a, seed_b, steps),
                          lambda: app.interpolate(generator, seed_a, seed_b, steps))
    st.image(frames, width=96, caption=[f"SYNTHETIC t={i / (steps - 1):.2f}" for i in range(steps)])
except Exception as exc:
    st.error(app.describe_failure(exc, "generating synthetic images"))
