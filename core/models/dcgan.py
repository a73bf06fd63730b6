"""DCGAN for synthetic training images, one generator per class (as both theses do).

Architecture (MRI thesis, tables 2.2 and 2.3), at the default 128 x 128:

- generator: latent (100) -> Dense 8*8*256 (no bias) + BatchNorm + LeakyReLU -> Reshape
  -> four Conv2DTranspose 128/64/32/16, 5x5, stride 2 (no bias), each + BatchNorm + LeakyReLU
  -> Conv2D ``channels``, 5x5, stride 1, with bias, tanh.
- discriminator: four Conv2D 32/64/128/256, 5x5, stride 2, each + LeakyReLU + Dropout(0.3)
  -> Flatten -> Dense 1 (a logit; the loss applies the sigmoid).

Output size rule: the generator always upsamples four times by 2, so it starts at
``size / 16``: 64 -> 4x4, 128 -> 8x8, 224 -> 14x14. Any multiple of 16 from 32 up works;
64, 128 and 224 are the sizes the project uses. Layers that feed a BatchNorm have no bias
(the BatchNorm shift replaces it, Keras DCGAN tutorial convention); the output Conv2D and the
discriminator's layers keep theirs.

Training follows keras-io ``dcgan_overriding_train_step``: :class:`DCGAN` overrides
``compile``, ``train_step`` and ``metrics`` so plain ``fit()`` and callbacks work. The
artefact that is saved and served is the generator alone (plain Keras layers, so it loads
with ``safe_mode=True``).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

#: Length of the latent vector in both theses.
LATENT_DIM = 100
#: Channels of the first feature map and of each upsampling stage.
_G_BASE_FILTERS = 256
_G_FILTERS = (128, 64, 32, 16)
_D_FILTERS = (32, 64, 128, 256)
_KERNEL = 5
_LEAKY_SLOPE = 0.2
_D_DROPOUT = 0.3
_ALLOWED_CHANNELS = (1, 3)


class GANConfigError(ValueError):
    """A DCGAN was asked for with a size, channel count or input it cannot handle."""


def _check_size_channels(size: int, channels: int) -> int:
    """Validate the output geometry and return the generator's start size."""
    n_up = len(_G_FILTERS)
    if not isinstance(size, (int, np.integer)) or size < 2 * 2**n_up or size % 2**n_up:
        raise GANConfigError(
            f"DCGAN image size must be a multiple of {2**n_up} and at least {2 * 2**n_up} "
            f"(the generator upsamples {n_up} times by 2); got {size!r}. Use 64, 128 or 224."
        )
    if channels not in _ALLOWED_CHANNELS:
        raise GANConfigError(
            f"DCGAN channels must be 1 (MRI, ultrasound) or 3 (blood smears); got {channels!r}."
        )
    return int(size) // 2**n_up


def build_generator(size: int = 128, channels: int = 1, latent_dim: int = LATENT_DIM) -> keras.Model:
    """Generator: latent vector -> image in [-1, 1].

    Args:
        size: output height and width (multiple of 16, >= 32).
        channels: 1 (grey) or 3 (RGB).
        latent_dim: length of the latent vector.

    Returns:
        A functional ``keras.Model`` named ``generator`` with output (size, size, channels).
    """
    start = _check_size_channels(size, channels)
    z = keras.Input(shape=(latent_dim,), name="latent")
    x = keras.layers.Dense(start * start * _G_BASE_FILTERS, use_bias=False, name="g_dense")(z)
    x = keras.layers.BatchNormalization(name="g_bn0")(x)
    x = keras.layers.LeakyReLU(negative_slope=_LEAKY_SLOPE, name="g_lrelu0")(x)
    x = keras.layers.Reshape((start, start, _G_BASE_FILTERS), name="g_reshape")(x)
    for i, filters in enumerate(_G_FILTERS, start=1):
        x = keras.layers.Conv2DTranspose(
            filters, _KERNEL, strides=2, padding="same", use_bias=False, name=f"g_deconv{i}"
        )(x)
        x = keras.layers.BatchNormalization(name=f"g_bn{i}")(x)
        x = keras.layers.LeakyReLU(negative_slope=_LEAKY_SLOPE, name=f"g_lrelu{i}")(x)
    out = keras.layers.Conv2D(channels, _KERNEL, padding="same", activation="tanh", name="g_out")(x)
    return keras.Model(z, out, name="generator")


def build_discriminator(size: int = 128, channels: int = 1) -> keras.Model:
    """Discriminator: image in [-1, 1] -> one real/fake logit.

    Args:
        size: input height and width (same rule as the generator).
        channels: 1 (grey) or 3 (RGB).

    Returns:
        A functional ``keras.Model`` named ``discriminator`` with output (1,).
    """
    _check_size_channels(size, channels)
    x = inp = keras.Input(shape=(size, size, channels), name="image")
    for i, filters in enumerate(_D_FILTERS, start=1):
        x = keras.layers.Conv2D(filters, _KERNEL, strides=2, padding="same", name=f"d_conv{i}")(x)
        x = keras.layers.LeakyReLU(negative_slope=_LEAKY_SLOPE, name=f"d_lrelu{i}")(x)
        x = keras.layers.Dropout(_D_DROPOUT, name=f"d_drop{i}")(x)
    x = keras.layers.Flatten(name="d_flatten")(x)
    logit = keras.layers.Dense(1, name="d_logit")(x)
    return keras.Model(inp, logit, name="discriminator")


class DCGAN(keras.Model):
    """Generator and discriminator trained together by ``fit()`` on images in [-1, 1].

    Attributes:
        generator: latent -> image model (the artefact to save).
        discriminator: image -> logit model.
        latent_dim: length of the latent vector.
        label_smoothing: real images are labelled ``1 - label_smoothing`` for the
            discriminator (one-sided smoothing keeps it from becoming over-confident).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 latent_dim: int = LATENT_DIM, label_smoothing: float = 0.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= label_smoothing < 0.5:
            raise GANConfigError(f"label_smoothing must be in [0, 0.5); got {label_smoothing!r}.")
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.label_smoothing = float(label_smoothing)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def compile(self, d_optimizer: keras.optimizers.Optimizer, g_optimizer: keras.optimizers.Optimizer,
                loss_fn: keras.losses.Loss | None = None, **kwargs) -> None:
        """Attach one optimizer per network.

        Args:
            d_optimizer: updates the discriminator.
            g_optimizer: updates the generator.
            loss_fn: defaults to binary cross-entropy on logits.
        """
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn or keras.losses.BinaryCrossentropy(from_logits=True)
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        # Listed here so Keras resets them at each epoch start.
        return [self.d_loss_metric, self.g_loss_metric]

    def call(self, latents, training: bool = False):
        """Generate images from latent vectors (lets Keras build and summarise the model)."""
        return self.generator(latents, training=training)

    def train_step(self, data):
        # Datasets of (images, labels) are accepted: the labels are not used.
        real = data[0] if isinstance(data, (tuple, list)) else data
        batch = tf.shape(real)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        real_labels = tf.fill((batch, 1), 1.0 - self.label_smoothing)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(z, training=True)
            real_logits = self.discriminator(real, training=True)
            fake_logits = self.discriminator(fake, training=True)
            d_loss = (self.loss_fn(real_labels, real_logits)
                      + self.loss_fn(tf.zeros_like(fake_logits), fake_logits))
            # The generator wins when its images are called real (unsmoothed target).
            g_loss = self.loss_fn(tf.ones_like(fake_logits), fake_logits)
        d_weights = self.discriminator.trainable_weights
        g_weights = self.generator.trainable_weights
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_weights), d_weights))
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_weights), g_weights))
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {m.name: m.result() for m in self.metrics}


def build_dcgan(size: int = 128, channels: int = 1, latent_dim: int = LATENT_DIM,
                label_smoothing: float = 0.1, learning_rate: float = 2e-4, beta_1: float = 0.5,
                seed: int | None = None, jit_compile: bool | None = None) -> DCGAN:
    """A fresh, compiled DCGAN for one class.

    Args:
        size: image height and width (64, 128 or 224; any multiple of 16 >= 32).
        channels: 1 (MRI, ultrasound) or 3 (blood smears).
        latent_dim: length of the latent vector.
        label_smoothing: one-sided smoothing of the discriminator's real labels.
        learning_rate: Adam learning rate of both networks (DCGAN paper: 2e-4).
        beta_1: Adam beta_1 of both networks (DCGAN paper: 0.5).
        seed: seeds the latent draws during training.
        jit_compile: XLA-compile the train step; None = only when a GPU is present (on CPU,
            XLA's convolutions measured 3.5x slower than the oneDNN graph Keras runs otherwise).

    Returns:
        A compiled :class:`DCGAN`; call ``fit`` on images from :func:`to_gan_range`.
    """
    gan = DCGAN(build_generator(size, channels, latent_dim), build_discriminator(size, channels),
                latent_dim=latent_dim, label_smoothing=label_smoothing, seed=seed, name="dcgan")
    gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate, beta_1=beta_1),
                g_optimizer=keras.optimizers.Adam(learning_rate, beta_1=beta_1),
                jit_compile=bool(tf.config.list_physical_devices("GPU")) if jit_compile is None else jit_compile)
    return gan


def fixed_latents(n: int, latent_dim: int = LATENT_DIM, seed: int = 0) -> np.ndarray:
    """The same latent vectors every call, so progress grids compare epoch to epoch.

    Args:
        n: number of vectors.
        latent_dim: length of each vector.
        seed: random seed.

    Returns:
        (n, latent_dim) float32 standard-normal array.
    """
    if n < 1:
        raise GANConfigError(f"Number of latent vectors must be at least 1; got {n!r}.")
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


def to_gan_range(images: np.ndarray) -> np.ndarray:
    """Pixel values 0..255 -> float32 in [-1, 1], the range of the generator's tanh.

    Args:
        images: uint8 array, or a numeric array with values in [0, 255].

    Returns:
        float32 array of the same shape.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.number) or images.size == 0:
            raise GANConfigError(f"Expected a non-empty numeric image array; got dtype {images.dtype}.")
        lo, hi = float(np.min(images)), float(np.max(images))
        if lo < 0 or hi > 255:
            raise GANConfigError(
                f"Expected pixel values in 0..255; got values in [{lo:g}, {hi:g}]. "
                "Images already in [-1, 1] must not be converted again."
            )
    return images.astype(np.float32) / 127.5 - 1.0


def from_gan_range(images) -> np.ndarray:
    """Generator output in [-1, 1] -> uint8 0..255 (values outside are clipped).

    Args:
        images: array or tensor in [-1, 1].

    Returns:
        uint8 array of the same shape.
    """
    arr = np.asarray(images, dtype=np.float32)
    return np.clip(np.rint((arr + 1.0) * 127.5), 0, 255).astype(np.uint8)


def generate(generator: keras.Model, n: int, seed: int = 0, batch_size: int = 64) -> np.ndarray:
    """Synthetic images from a trained generator, reproducible for a given seed.

    Args:
        generator: a model from :func:`build_generator` (or loaded from its .keras file).
        n: number of images.
        seed: seed of the latent vectors.
        batch_size: images per forward pass (bounds memory).

    Returns:
        (n, H, W, C) uint8 images.
    """
    if batch_size < 1:
        raise GANConfigError(f"batch_size must be at least 1; got {batch_size!r}.")
    latents = fixed_latents(n, int(generator.input_shape[-1]), seed)
    # BatchNorm in inference mode, so an image does not depend on its batch-mates.
    batches = [generator(latents[i:i + batch_size], training=False)
               for i in range(0, n, batch_size)]
    return from_gan_range(np.concatenate([np.asarray(b) for b in batches], axis=0))
