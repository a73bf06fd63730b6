"""A seeded fuzz of the upload path: every hostile input loads as (H, W, 3) uint8 or is refused plainly."""

from __future__ import annotations

import collections

import pytest

from benchmarks import fuzz
from benchmarks.fuzz_cases import HOSTILE

SEED = 20261130
CASES = 2000


@pytest.fixture(scope="module")
def outcomes() -> list[fuzz.Outcome]:
    # A 2-second decode limit keeps the one stalling file from costing the run 10 s.
    return fuzz.run(CASES, SEED, threads=2, timeout_s=2.0)


def test_two_thousand_hostile_inputs_give_no_crash_hang_leak_or_broken_contract(outcomes):
    failures = [o for o in outcomes if o.kind in fuzz.FAILURES]
    assert not failures, fuzz.table(outcomes) + "\n" + "\n".join(map(str, failures[:10]))
    assert len(outcomes) == CASES


def test_the_fuzz_covers_every_format_the_multi_frame_files_and_the_dicom_element_mutations(outcomes):
    formats = collections.Counter(o.fmt for o in outcomes)
    assert set(formats) == {"PNG", "JPEG", "BMP", "TIFF", "GIF", "DICOM"}
    mutations = " ".join(o.mutation for o in outcomes)
    for expected in ("rows-multi", "rows-text", "rows-vr-", "frames-inf", "truncate", "bitflip", "dicom-length",
                     "tiff-pages", "gif-anim", "dicom-htj2k", "dicom-jls", "dicom-jpegll", "dicom-rle",
                     "dicom-deflated",
                     *HOSTILE):
        assert expected in mutations, f"no case exercised {expected}"
    kinds = collections.Counter(o.kind for o in outcomes)
    assert kinds["ok"] > 200 and kinds["refused"] > 200, "mutations should be neither all harmless nor all fatal"


def test_each_hand_made_hostile_file_gets_the_sentence_for_what_it_does(outcomes):
    by_name = {o.mutation: o for o in outcomes[: len(HOSTILE)]}
    assert by_name["jp2-box-length-0"].kind == "refused-timeout"
    assert by_name["deflate-bomb"].kind in ("refused", "refused-timeout")  # refused while inflating
    assert by_name["png-with-dicm-at-128"].kind == "ok"
    assert by_name["png-header-bomb"].kind == "refused"


def test_the_fuzz_command_prints_a_table_and_fails_on_a_crash(monkeypatch, capsys):
    assert fuzz.main(["--cases", "40", "--seed", "3", "--timeout-s", "2"]) == 0
    printed = capsys.readouterr().out
    assert "| format |" in printed and "| all |" in printed and "0 failures" in printed

    def crashing(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(fuzz, "read_image", crashing)
    assert fuzz.main(["--cases", "20", "--seed", "3"]) == 1
    assert "FAIL crash" in capsys.readouterr().out
