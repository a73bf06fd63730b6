"""No patient identifier of a damaged DICOM reaches stderr, a log, a warning, a message or the metadata."""

from __future__ import annotations

import io
import logging
import struct
import warnings

import pytest

from benchmarks.fuzz_cases import IDENTIFIER_FRAGMENTS, _mono16, dicom_elements, dicom_file
from core.io import InvalidImageError, read_image

# Values whose 2-byte length field a damaged file gets wrong; pydicom then reads the following
# elements, identifiers included, as one long value and complains about it, quoting it whole.
_VALUES = [b"1.2.840.10008.1.2.1", b"1.2.840.10008.5.1.4.1.1.7", b"1.2.3.4.5.6.7.8", b"MR", b"St Elsewhere Hospital",
           b"Doe^Jane", b"MRN-483920", b"19700101", b"HEAD", b"MONOCHROME2"]
_LENGTHS = [0, 1, 3, 257, 0xFFFF]


def _damaged_files() -> list[tuple[str, bytes]]:
    base = dicom_file(dicom_elements(_mono16()))
    files = [("intact", base), ("truncated", base[: len(base) // 3])]
    for number, value in enumerate(_VALUES):  # names say which element, never what it holds
        at = base.find(value)
        for length in _LENGTHS:
            files.append((f"element-{number}-length-{length}", base[: at - 2] + struct.pack("<H", length) + base[at:]))
    return files


DAMAGED = _damaged_files()


def _outputs_of(read) -> str:
    """Everything a reading leaves behind that a person could see: messages, metadata, warnings, logs."""
    seen: list[str] = []

    class Everything(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Everything(level=logging.DEBUG)
    loggers = [logging.getLogger(), logging.getLogger("pydicom"), logging.getLogger("pydicom.pixels")]
    for logger in loggers:
        logger.addHandler(handler)
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for name, data in DAMAGED:
                upload = io.BytesIO(data)
                upload.name = f"{name}.dcm"
                try:
                    seen.append(repr(read(upload).metadata))
                except InvalidImageError as exc:
                    seen.append(str(exc))
        seen.extend(str(warning.message) for warning in caught)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        logging.getLogger().setLevel(root_level)
    return "\n".join(seen)


@pytest.mark.parametrize("isolate", [True, False], ids=["bounded worker", "in process"])
def test_damaged_dicoms_never_show_their_identifiers_anywhere(capfd, isolate):
    text = _outputs_of(lambda upload: read_image(upload, isolate=isolate))
    out, err = capfd.readouterr()
    everything = "\n".join([text, out, err])
    assert len(DAMAGED) >= 50
    for fragment in IDENTIFIER_FRAGMENTS:
        assert fragment not in everything, f"'{fragment}' leaked"


def test_the_damage_is_real_pydicom_itself_quotes_the_identifiers_when_left_alone():
    # Guards the test above: without core.io's silencing, these files do make pydicom quote identifiers.
    import pydicom

    quoted = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _, data in DAMAGED:
            try:
                _ = pydicom.dcmread(io.BytesIO(data)).pixel_array
            except Exception as exc:  # noqa: BLE001
                quoted.append(str(exc))
    quoted += [str(warning.message) for warning in caught]
    assert any("Doe^Jane" in text for text in quoted)
