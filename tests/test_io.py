"""core.io reads every supported file into uint8 RGB, and rejects bad files with a clear sentence."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, features
from pydicom.pixels import get_decoder
from pydicom.uid import JPEG2000, JPEGLSLossless

from core.io import MAX_PIXELS, InvalidImageError, LoadedImage, is_synthetic, load_image, read_image
from tests import _imagefiles as files
from tests._imagefiles import HEIGHT, LEFT, RIGHT, WIDTH, dicom_bytes, encode, halves

RED, BLUE, BLACK, WHITE = (220, 20, 20), (20, 20, 220), (0, 0, 0), (255, 255, 255)


def _pil(array, mode=None) -> Image.Image:
    array = np.asarray(array)
    if mode:  # modes fromarray cannot infer
        return Image.frombytes(mode, (array.shape[1], array.shape[0]), array.tobytes())
    return Image.fromarray(array)


# id, file bytes, suffix, expected format, left colour, right colour, tolerance (lossy formats)
GOOD_FILES = [
    ("png-1", lambda: encode(_pil(halves(False, True, bool)), "PNG"), ".png", "PNG", BLACK, WHITE, 0),
    ("png-L", lambda: encode(_pil(halves(40, 200)), "PNG"), ".png", "PNG", (40,) * 3, (200,) * 3, 0),
    ("png-LA", lambda: encode(_pil(halves((200, 255), (200, 0))), "PNG"), ".png", "PNG", (200,) * 3, BLACK, 0),
    ("png-RGB", lambda: encode(_pil(halves(RED, BLUE)), "PNG"), ".png", "PNG", RED, BLUE, 0),
    ("png-RGBA", lambda: encode(_pil(halves((*RED, 255), (*BLUE, 0))), "PNG"), ".png", "PNG", RED, BLACK, 0),
    ("png-P", lambda: encode(files.palette_image(), "PNG"), ".png", "PNG", RED, BLUE, 0),
    # Above 12 bits the whole 16-bit scale is the window (an 8-bit scan saved as 16 bits keeps its grey levels).
    ("png-I;16", lambda: encode(_pil(halves(1000, 60000, np.uint16)), "PNG"), ".png", "PNG", (4, 4, 4),
     (233, 233, 233), 0),
    ("jpeg-L", lambda: encode(_pil(halves(40, 200)), "JPEG"), ".jpg", "JPEG", (40,) * 3, (200,) * 3, 12),
    ("jpeg-RGB", lambda: encode(_pil(halves(RED, BLUE)), "JPEG"), ".jpg", "JPEG", RED, BLUE, 24),
    ("jpeg-CMYK", lambda: encode(_pil(halves((0, 255, 255, 0), (255, 255, 0, 0)), "CMYK"), "JPEG"),
     ".jpg", "JPEG", (255, 0, 0), (0, 0, 255), 24),
    ("bmp-RGB", lambda: encode(_pil(halves(RED, BLUE)), "BMP"), ".bmp", "BMP", RED, BLUE, 0),
    ("tiff-L", lambda: encode(_pil(halves(40, 200)), "TIFF"), ".tif", "TIFF", (40,) * 3, (200,) * 3, 0),
    ("tiff-I;16", lambda: encode(_pil(halves(1000, 3000, np.uint16)), "TIFF"), ".tiff", "TIFF", BLACK, WHITE, 0),
    ("tiff-F", lambda: encode(_pil(halves(-1.5, 2.5, np.float32)), "TIFF"), ".tif", "TIFF", BLACK, WHITE, 0),
    ("gif-animated", files.animated_gif, ".gif", "GIF", (255, 0, 0), (255, 0, 0), 0),
]


def _assert_colour(pixels: np.ndarray, where: tuple[int, int], colour, tolerance: int) -> None:
    got = pixels[where].astype(int)
    assert np.abs(got - np.asarray(colour)).max() <= tolerance, f"pixel {where} is {got.tolist()}, expected {colour}"


@pytest.mark.parametrize(("make", "suffix", "fmt", "left", "right", "tol"),
                         [case[1:] for case in GOOD_FILES], ids=[case[0] for case in GOOD_FILES])
def test_every_supported_file_comes_back_as_uint8_rgb_with_its_colours(tmp_path, make, suffix, fmt, left, right, tol):
    path = tmp_path / f"image{suffix}"
    path.write_bytes(make())
    loaded = read_image(path)
    assert isinstance(loaded, LoadedImage)
    assert loaded.format == fmt
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.shape == (HEIGHT, WIDTH, 3)
    _assert_colour(loaded.pixels, LEFT, left, tol)
    _assert_colour(loaded.pixels, RIGHT, right, tol)


def test_a_16_bit_tiff_ramp_is_stretched_over_the_whole_8_bit_range():
    pixels = load_image(files.tiff_ramp_16bit())
    row = pixels[HEIGHT // 2, :, 0].astype(int)
    assert row[0] <= 2 and row[-1] >= 253
    assert np.all(np.diff(row) >= 0), "the ramp must stay monotonic"
    assert len(np.unique(row)) > WIDTH // 2, "the ramp must keep its grey levels"


def test_an_animated_gif_gives_its_first_frame_and_says_how_many_there_are():
    loaded = read_image(files.animated_gif())
    assert loaded.format == "GIF" and loaded.metadata["frames"] == 2
    assert tuple(loaded.pixels[0, 0]) == (255, 0, 0)


def test_a_jpeg_with_exif_orientation_6_comes_back_upright():
    pixels = load_image(files.jpeg_rotated_by_exif())
    assert pixels.shape == (WIDTH, HEIGHT, 3), "a 90-degree rotation swaps height and width"
    # Rotated clockwise, the red left half ends up at the top.
    assert pixels[5, HEIGHT // 2, 0] > 150 and pixels[WIDTH - 6, HEIGHT // 2, 2] > 150


def test_path_bytes_and_file_object_give_identical_pixels(tmp_path):
    for name, data in [("a.png", encode(_pil(halves(RED, BLUE)), "PNG")), ("b.dcm", _ct_dicom())]:
        path = tmp_path / name
        path.write_bytes(data)
        from_path, from_bytes, from_stream = load_image(path), load_image(data), load_image(io.BytesIO(data))
        np.testing.assert_array_equal(from_path, from_bytes)
        np.testing.assert_array_equal(from_path, from_stream)
        np.testing.assert_array_equal(from_path, load_image(str(path)))


def test_reading_a_file_object_restores_its_position_for_the_next_reader():
    upload = io.BytesIO(encode(_pil(halves(40, 200)), "PNG"))
    upload.seek(7)
    first = load_image(upload)
    assert upload.tell() == 7
    upload.seek(0, io.SEEK_END)  # e.g. the app already read the whole upload
    np.testing.assert_array_equal(load_image(upload), first)
    assert upload.tell() == len(upload.getvalue())


def test_reading_never_writes_a_file(tmp_path):
    for index, (_, make, suffix, *_rest) in enumerate(GOOD_FILES):
        (tmp_path / f"{index}{suffix}").write_bytes(make())
    (tmp_path / "ct.dcm").write_bytes(_ct_dicom())
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    for path in list(before):
        read_image(path)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_png_text_chunks_mark_synthetic_images_and_their_generator():
    data = files.png_with_text({"synthetic": "true", "generator_sha256": "ab" * 32, "seed": "7", "index": "12"})
    loaded = read_image(data)
    assert loaded.synthetic and is_synthetic(data)
    assert loaded.synthetic_info == {"generator_sha256": "ab" * 32, "seed": 7, "index": 12}
    assert loaded.metadata["seed"] == "7"  # the text chunks themselves stay visible


def test_an_ordinary_image_is_not_synthetic():
    data = files.png_with_text({"Software": "scanner"})
    assert not is_synthetic(data)
    assert read_image(data).synthetic_info == {}
    assert read_image(data).metadata["Software"] == "scanner"


# ---- DICOM ------------------------------------------------------------------------------------

def _ct_dicom(**elements) -> bytes:
    """Stored 0 | 1064 | 2000; with intercept -1024 these are -1024, 40 and 976 HU."""
    stored = np.zeros((HEIGHT, WIDTH), np.uint16)
    stored[:, 16:32], stored[:, 32:] = 1064, 2000
    settings = dict(RescaleSlope=1, RescaleIntercept=-1024, WindowCenter=40, WindowWidth=400)
    return dicom_bytes(stored, **{**settings, **elements})


def test_dicom_applies_rescale_then_the_files_window():
    loaded = read_image(_ct_dicom())
    row = loaded.pixels[HEIGHT // 2, :, 0].astype(int)
    assert loaded.format == "DICOM" and loaded.pixels.shape == (HEIGHT, WIDTH, 3)
    # -1024 HU is below the 40/400 window, 976 HU above it, 40 HU at its centre.
    assert row[5] == 0 and row[40] == 255 and abs(row[20] - 128) <= 2


def test_dicom_without_a_window_uses_the_robust_window():
    data = dicom_bytes(halves(100, 3000, np.uint16))
    pixels = load_image(data)
    assert pixels[LEFT][0] == 0 and pixels[RIGHT][0] == 255


def test_monochrome1_dicom_is_inverted_so_high_values_look_bright():
    pixels = load_image(dicom_bytes(halves(100, 3000, np.uint16), photometric="MONOCHROME1"))
    assert pixels[LEFT][0] == 255 and pixels[RIGHT][0] == 0


def test_multi_frame_dicom_gives_the_middle_frame():
    frames = [np.full((HEIGHT, WIDTH), value, np.uint16) for value in (100, 2000, 4000)]
    loaded = read_image(dicom_bytes(frames, WindowCenter=2048, WindowWidth=4096))
    assert loaded.metadata["frames"] == 3
    assert 115 <= int(loaded.pixels[LEFT][0]) <= 135


def test_rgb_dicom_keeps_its_colours():
    pixels = load_image(dicom_bytes(halves(RED, BLUE), photometric="RGB", bits_stored=8))
    assert tuple(pixels[LEFT]) == RED and tuple(pixels[RIGHT]) == BLUE


def test_dicom_is_recognised_by_its_content_whatever_its_name(tmp_path):
    path = tmp_path / "IM0001"
    path.write_bytes(_ct_dicom())
    assert read_image(path).format == "DICOM"


def test_a_bare_dicom_dataset_without_preamble_is_read_when_named_dcm(tmp_path):
    path = tmp_path / "bare.dcm"
    path.write_bytes(dicom_bytes(halves(100, 3000, np.uint16), preamble=False))
    assert path.read_bytes()[128:132] != b"DICM"
    assert load_image(path)[RIGHT][0] == 255


def test_a_file_named_dcm_that_is_not_dicom_is_refused(tmp_path):
    path = tmp_path / "scan.dcm"
    path.write_bytes(b"hello " * 100)
    with pytest.raises(InvalidImageError, match="'scan.dcm' has a DICOM name but its content is not DICOM"):
        load_image(path)


def test_dicom_metadata_has_technical_fields_and_never_patient_identifiers():
    data = _ct_dicom(PatientName="Doe^Jane", PatientID="MRN-483920", PatientBirthDate="19700101",
                     InstitutionName="St Elsewhere", PixelSpacing=[0.5, 0.25], BodyPartExamined="HEAD",
                     Modality="CT")
    metadata = read_image(data).metadata
    assert metadata["modality"] == "CT" and metadata["body_part"] == "HEAD"
    assert metadata["pixel_spacing_mm"] == (0.5, 0.25)
    assert (metadata["rows"], metadata["columns"], metadata["bits_stored"]) == (HEIGHT, WIDTH, 12)
    assert metadata["photometric_interpretation"] == "MONOCHROME2" and metadata["frames"] == 1
    text = repr(metadata)
    for identifier in ("Doe", "Jane", "MRN-483920", "19700101", "Elsewhere"):
        assert identifier not in text


# ---- rejections -------------------------------------------------------------------------------

def _truncated(fmt: str) -> bytes:
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)
    return data[: len(data) // 2]


BAD_FILES = [
    ("empty", lambda: b"", {}, ["empty (0 bytes)"]),
    ("random bytes", lambda: np.random.default_rng(1).bytes(600), {},
     ["is not an image this tool can read", "PNG, JPEG, BMP, TIFF, GIF and DICOM"]),
    ("text", lambda: b"Patient notes: nothing to see here.\n" * 10, {}, ["is not an image this tool can read"]),
    ("truncated PNG", lambda: _truncated("PNG"), {}, ["PNG", "damaged or incomplete"]),
    ("truncated JPEG", lambda: _truncated("JPEG"), {}, ["JPEG", "damaged or incomplete"]),
    ("bomb header", lambda: files.png_header_only(100_000, 100_000), {}, [f"{MAX_PIXELS:,}", "pixels"]),
    ("over max_pixels", lambda: encode(_pil(halves(40, 200)), "PNG"), {"max_pixels": 100},
     ["48 x 32", "more than the 100 pixels"]),
    ("over max_bytes", lambda: encode(_pil(halves(RED, BLUE)), "BMP"), {"max_bytes": 1000},
     ["larger than the 0.001 MB"]),
    ("zero-width TIFF", lambda: files.tiff_with_size(0, 32), {}, ["0 x 32", "zero"]),
    ("too small", lambda: encode(Image.new("L", (8, 8)), "PNG"), {}, ["8 x 8", "at least 16 pixels"]),
    ("DICOM zero rows", lambda: dicom_bytes(None, Rows=0, Columns=32, BitsAllocated=16, PixelData=b""), {}, ["zero"]),
    ("DICOM without pixels", lambda: dicom_bytes(None, Rows=32, Columns=32), {}, ["no pixel data"]),
]


@pytest.mark.parametrize(("make", "limits", "fragments"), [case[1:] for case in BAD_FILES],
                         ids=[case[0] for case in BAD_FILES])
@pytest.mark.parametrize("as_kind", ["bytes", "path", "stream"])
def test_bad_files_are_rejected_with_a_message_that_says_why(tmp_path, make, limits, fragments, as_kind):
    data = make()
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    source = {"bytes": data, "path": path, "stream": io.BytesIO(data)}[as_kind]
    with pytest.raises(InvalidImageError) as caught:
        load_image(source, **limits)
    for fragment in fragments:
        assert fragment in str(caught.value)
    if as_kind == "path":
        assert "upload.bin" in str(caught.value), "the message names the file"


def test_dicom_with_a_compression_nobody_installed_names_it_and_the_package_to_install(monkeypatch):
    # requirements.txt installs the JPEG-LS decoder; pretend an installation lacks it (in process, to patch it).
    class Missing:
        is_available = False
        missing_dependencies = ["gdcm - requires gdcm>=3.0.10",
                                "pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-libjpeg>=2.1"]

    monkeypatch.setattr("core.io.dicom.get_decoder", lambda uid: Missing())
    data = dicom_bytes(np.zeros((32, 32), np.uint16), transfer_syntax=JPEGLSLossless, encapsulated=b"junk" * 20)
    with pytest.raises(InvalidImageError, match="JPEG-LS Lossless") as caught:
        load_image(data, isolate=False)
    assert "cannot decode" in str(caught.value) and "pylibjpeg" in str(caught.value)


@pytest.mark.skipif(not get_decoder(JPEG2000).is_available, reason="no JPEG 2000 decoder installed")
def test_dicom_with_damaged_compressed_pixels_says_they_are_damaged():
    data = dicom_bytes(np.zeros((32, 32), np.uint16), transfer_syntax=JPEG2000, encapsulated=b"junk" * 20)
    with pytest.raises(InvalidImageError, match="pixel data is damaged"):
        load_image(data)


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
def test_a_format_outside_the_supported_list_is_refused_even_if_pillow_could_read_it():
    with pytest.raises(InvalidImageError, match="supported formats are PNG, JPEG, BMP, TIFF, GIF and DICOM"):
        load_image(encode(_pil(halves(RED, BLUE)), "WEBP"))


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    class UnreadableUpload(io.BytesIO):
        def read(self, *args):
            raise AssertionError("the file was read")

    path = tmp_path / "huge.png"
    path.write_bytes(b"\0" * 5000)
    upload = UnreadableUpload(b"\0" * 5000)
    monkeypatch.setattr(type(path), "open", UnreadableUpload.read)
    for source in (path, upload):
        with pytest.raises(InvalidImageError, match="0.005 MB, larger than the 0.001 MB"):
            load_image(source, max_bytes=1000)


def test_a_missing_file_is_named_in_the_message(tmp_path):
    missing = tmp_path / "scans" / "brain_001.png"
    with pytest.raises(InvalidImageError, match="does not exist") as caught:
        load_image(missing)
    assert str(missing) in str(caught.value)


def test_a_folder_or_a_text_mode_file_or_a_number_is_refused_clearly(tmp_path):
    with pytest.raises(InvalidImageError, match="is a folder"):
        load_image(tmp_path)
    (tmp_path / "a.png").write_bytes(encode(_pil(halves(40, 200)), "PNG"))
    with open(tmp_path / "a.png", encoding="latin-1") as text_file, pytest.raises(InvalidImageError, match="binary"):
        load_image(text_file)
    with pytest.raises(InvalidImageError, match="file path"):
        load_image(42)


def test_invalid_image_error_is_a_value_error():
    assert issubclass(InvalidImageError, ValueError)
