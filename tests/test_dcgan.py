"""DCGAN: architecture of the MRI thesis, training with fit(), saving, sampling."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from core.models import dcgan
from core.models.dcgan import GANConfigError


@pytest.mark.parametrize("size", [64, 128, 224])
@pytest.mark.parametrize("channels", [1, 3])
def test_generator_and_discriminator_shapes_for_each_size_and_channel_count(size, channels):
    gen = dcgan.build_generator(size, channels)
    disc = dcgan.build_discriminator(size, channels)
    assert gen.input_shape == (None, 100)
    assert gen.output_shape == (None, size, size, channels)
    # The size rule: four stride-2 upsamplings from a size/16 start (224 -> 14x14).
    assert gen.get_layer("g_reshape").output.shape[1:] == (size // 16, size // 16, 256)
    assert disc.input_shape == (None, size, size, channels)
    assert disc.output_shape == (None, 1)


@pytest.mark.parametrize("size, channels", [(100, 1), (16, 1), (128, 2), (128, 4)])
def test_unsupported_size_or_channels_is_refused_with_a_clear_message(size, channels):
    with pytest.raises(GANConfigError, match="size|channels"):
        dcgan.build_generator(size, channels)
    with pytest.raises(GANConfigError):
        dcgan.build_discriminator(size, channels)


def _conv_params(k: int, c_in: int, c_out: int, bias: bool) -> int:
    return k * k * c_in * c_out + (c_out if bias else 0)


def test_parameter_counts_at_128_match_the_thesis_tables():
    """Layer-by-layer counts at 128 x 128 x 1, latent 100, 5x5 kernels.

    Generator (thesis table 2.2):
        g_dense    Dense 100 -> 8*8*256, no bias        100 * 16384            = 1,638,400
        g_bn0      BatchNorm(16384)                     4 * 16384              =    65,536
        g_deconv1  ConvT 256 -> 128, s2, no bias  16x16 5*5*256*128            =   819,200
        g_bn1      BatchNorm(128)                                              =       512
        g_deconv2  ConvT 128 -> 64,  s2, no bias  32x32 5*5*128*64             =   204,800
        g_bn2      BatchNorm(64)                                               =       256
        g_deconv3  ConvT 64 -> 32,   s2, no bias  64x64 5*5*64*32              =    51,200
        g_bn3      BatchNorm(32)                                               =       128
        g_deconv4  ConvT 32 -> 16,   s2, no bias 128x128 5*5*32*16             =    12,800
        g_bn4      BatchNorm(16)                                               =        64
        g_out      Conv2D 16 -> 1, s1, bias, tanh        5*5*16*1 + 1          =       401
        total 2,793,297 (of which 33,248 BatchNorm moving statistics are non-trainable)

    Discriminator (thesis table 2.3), each conv followed by LeakyReLU and Dropout(0.3):
        d_conv1    Conv2D 1 -> 32,    s2, bias  64x64    5*5*1*32 + 32         =       832
        d_conv2    Conv2D 32 -> 64,   s2, bias  32x32    5*5*32*64 + 64        =    51,264
        d_conv3    Conv2D 64 -> 128,  s2, bias  16x16    5*5*64*128 + 128      =   204,928
        d_conv4    Conv2D 128 -> 256, s2, bias   8x8     5*5*128*256 + 256     =   819,456
        d_logit    Dense 8*8*256 -> 1, bias              16384 + 1             =    16,385
        total 1,092,865
    """
    gen_expected = {
        "g_dense": 100 * 8 * 8 * 256,
        "g_bn0": 4 * 8 * 8 * 256,
        "g_deconv1": _conv_params(5, 256, 128, bias=False),
        "g_bn1": 4 * 128,
        "g_deconv2": _conv_params(5, 128, 64, bias=False),
        "g_bn2": 4 * 64,
        "g_deconv3": _conv_params(5, 64, 32, bias=False),
        "g_bn3": 4 * 32,
        "g_deconv4": _conv_params(5, 32, 16, bias=False),
        "g_bn4": 4 * 16,
        "g_out": _conv_params(5, 16, 1, bias=True),
    }
    disc_expected = {
        "d_conv1": _conv_params(5, 1, 32, bias=True),
        "d_conv2": _conv_params(5, 32, 64, bias=True),
        "d_conv3": _conv_params(5, 64, 128, bias=True),
        "d_conv4": _conv_params(5, 128, 256, bias=True),
        "d_logit": 8 * 8 * 256 + 1,
    }
    gen, disc = dcgan.build_generator(128, 1), dcgan.build_discriminator(128, 1)
    for model, expected in ((gen, gen_expected), (disc, disc_expected)):
        counted = {name: model.get_layer(name).count_params() for name in expected}
        assert counted == expected
        assert model.count_params() == sum(expected.values())
    assert gen.count_params() == 2_793_297
    assert disc.count_params() == 1_092_865
    non_trainable = sum(int(np.prod(w.shape)) for w in gen.non_trainable_weights)
    assert non_trainable == 2 * (8 * 8 * 256 + 128 + 64 + 32 + 16)


def test_fixed_layer_names_and_no_biases_before_batchnorm():
    gen = dcgan.build_generator(64, 1)
    names = [layer.name for layer in gen.layers]
    assert names[1:5] == ["g_dense", "g_bn0", "g_lrelu0", "g_reshape"]
    assert names[-1] == "g_out"
    assert all(not gen.get_layer(f"g_deconv{i}").use_bias for i in range(1, 5))
    assert gen.get_layer("g_out").get_config()["activation"] == "tanh"
    disc = dcgan.build_discriminator(64, 1)
    assert all(disc.get_layer(f"d_drop{i}").rate == pytest.approx(0.3) for i in range(1, 5))


def test_a_few_fit_steps_change_the_generator_and_report_finite_losses():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(16, 64, 64, 1), dtype=np.uint8)
    gan = dcgan.build_dcgan(size=64, channels=1, label_smoothing=0.1, seed=1)
    before = dcgan.generate(gan.generator, 4, seed=3)
    history = gan.fit(dcgan.to_gan_range(images), batch_size=8, epochs=1, verbose=0)
    after = dcgan.generate(gan.generator, 4, seed=3)
    assert set(history.history) == {"d_loss", "g_loss"}
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert not np.array_equal(before, after)


def test_generator_saved_as_keras_file_loads_in_safe_mode_and_generates_the_same_images(tmp_path):
    gen = dcgan.build_generator(64, 3)
    path = tmp_path / "generator_glioma.keras"
    gen.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    assert loaded.output_shape == (None, 64, 64, 3)
    np.testing.assert_array_equal(dcgan.generate(gen, 3, seed=5), dcgan.generate(loaded, 3, seed=5))


def test_generate_returns_uint8_images_reproducible_by_seed_and_independent_of_batch_size():
    gen = dcgan.build_generator(64, 1)
    first = dcgan.generate(gen, 5, seed=7, batch_size=2)
    assert first.shape == (5, 64, 64, 1) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, dcgan.generate(gen, 5, seed=7, batch_size=5))
    assert not np.array_equal(first, dcgan.generate(gen, 5, seed=8))


def test_fixed_latents_are_the_same_each_call():
    a = dcgan.fixed_latents(4, 100, seed=0)
    assert a.shape == (4, 100) and a.dtype == np.float32
    np.testing.assert_array_equal(a, dcgan.fixed_latents(4, 100, seed=0))


def test_gan_range_conversion_round_trips_and_refuses_already_scaled_images():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
    scaled = dcgan.to_gan_range(pixels)
    assert scaled.dtype == np.float32
    assert scaled.min() == -1.0 and scaled.max() == 1.0
    np.testing.assert_array_equal(dcgan.from_gan_range(scaled), pixels)
    assert dcgan.from_gan_range(np.array([-3.0, 3.0])).tolist() == [0, 255]
    with pytest.raises(GANConfigError, match="0..255"):
        dcgan.to_gan_range(scaled)


def test_label_smoothing_outside_the_useful_range_is_refused():
    with pytest.raises(GANConfigError, match="label_smoothing"):
        dcgan.build_dcgan(size=64, label_smoothing=0.7)
