"""Decoding untrusted bytes is bounded: a file that stalls or floods the decoder is stopped; the next one loads."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tomllib
from PIL import Image

from benchmarks.fuzz_cases import HOSTILE
from core.io import (
    DECODE_MEMORY_BYTES,
    MAX_BYTES,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_MB,
    MESSAGE_CHARS,
    InvalidImageError,
    load_image,
    read_image,
    sandbox,
)
from tests._imagefiles import HEIGHT, WIDTH, dicom_bytes, encode, halves

ROOT = Path(__file__).resolve().parents[1]


def _png() -> bytes:
    return encode(Image.fromarray(halves((220, 20, 20), (20, 20, 220))), "PNG")


def test_a_file_that_stalls_the_decoder_is_stopped_and_the_next_file_still_loads():
    stalling = HOSTILE["jp2-box-length-0"][1]()  # a JPEG 2000 box of length 0 loops pydicom forever
    with pytest.raises(InvalidImageError, match="took too long to decode") as caught:
        read_image(stalling, timeout_s=1.0)
    assert len(str(caught.value)) <= MESSAGE_CHARS
    assert read_image(_png()).pixels.shape == (HEIGHT, WIDTH, 3)


def test_a_file_that_needs_more_memory_than_a_worker_may_use_is_refused_and_the_worker_replaced(monkeypatch):
    sandbox.shutdown()  # the next worker starts with the lowered cap
    monkeypatch.setenv("MEDIMG_DECODE_MEMORY_BYTES", str(48 * 2**20))
    big = encode(Image.fromarray(np.zeros((3000, 3000, 3), np.uint8)), "PNG")  # 27 MB of RGB, twice over
    try:
        with pytest.raises(InvalidImageError, match="too much memory"):
            read_image(big)
        assert read_image(_png()).format == "PNG"
    finally:
        sandbox.shutdown()


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="address-space limits are read from /proc")
def test_each_worker_runs_with_its_address_space_capped_at_one_gigabyte_above_its_baseline():
    read_image(_png())
    limits = sandbox.worker_limits()
    assert limits
    for worker in limits:
        assert worker["memory_cap"] - worker["baseline"] == DECODE_MEMORY_BYTES
        text = Path(f"/proc/{worker['pid']}/limits").read_text()
        soft = next(line.split()[3] for line in text.splitlines() if line.startswith("Max address space"))
        assert int(soft) == worker["memory_cap"]


def test_a_deflated_dicom_that_would_inflate_to_gigabytes_is_refused_without_inflating_it():
    with pytest.raises(InvalidImageError, match="decompression bomb"):
        read_image(HOSTILE["deflate-bomb"][1](), isolate=False)  # even in process, memory stays flat


def test_the_bounded_worker_and_in_process_decoding_give_identical_results():
    for data in (_png(), dicom_bytes(halves(100, 3000, np.uint16)), encode(Image.fromarray(halves(40, 200)), "TIFF")):
        bounded, local = read_image(data), read_image(data, isolate=False)
        assert np.array_equal(bounded.pixels, local.pixels)
        assert (bounded.format, bounded.metadata) == (local.format, local.metadata)
        assert bounded.pixels.flags.writeable and bounded.pixels.flags.c_contiguous


def test_the_app_upload_limit_and_core_io_byte_limit_are_one_number():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == MAX_UPLOAD_MB
    assert MAX_BYTES == MAX_UPLOAD_BYTES == MAX_UPLOAD_MB * 1024 * 1024  # Streamlit counts megabytes as MiB


def test_a_file_one_byte_over_the_upload_limit_is_refused_before_decoding():
    upload = io.BytesIO(_png() + b"\0" * (MAX_UPLOAD_BYTES + 1 - len(_png())))
    with pytest.raises(InvalidImageError, match="larger than the"):
        load_image(upload)
    assert len(_png()) < MAX_UPLOAD_BYTES and load_image(io.BytesIO(_png())).shape == (HEIGHT, WIDTH, 3)


@pytest.mark.parametrize("name", [
    "scan\x1b[31m\r\nDetails.png", "[click](http://example.com) ![x](http://e/x.png).png", "a" * 1000 + ".png",
    "\u202egnp.exe", "",
])
def test_every_message_is_one_plain_line_whatever_the_file_is_called(name):
    upload = io.BytesIO(b"not an image at all" * 10)
    upload.name = name
    with pytest.raises(InvalidImageError) as caught:
        read_image(upload)
    message = str(caught.value)
    assert len(message) <= MESSAGE_CHARS
    assert message.isprintable() and "\u202e" not in message
    assert "not an image this tool can read" in message


def test_a_png_holding_dicm_at_byte_128_is_read_as_the_png_it_is():
    data = HOSTILE["png-with-dicm-at-128"][1]()
    assert data[128:132] == b"DICM"
    assert read_image(data).format == "PNG"


def test_messages_quote_no_library_text():
    truncated = _png()[:60]
    with pytest.raises(InvalidImageError) as caught:
        read_image(truncated)
    assert "Details" not in str(caught.value) and "Error" not in str(caught.value)


def test_a_server_that_cannot_start_a_decoder_says_so_in_a_sentence(monkeypatch):
    sandbox.shutdown()
    monkeypatch.setattr(sandbox.sys, "executable", "/nonexistent/python")
    try:
        with pytest.raises(InvalidImageError, match="could not start its image decoder"):
            read_image(_png())
    finally:
        sandbox.shutdown()
