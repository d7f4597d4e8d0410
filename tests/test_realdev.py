"""The pseudo-reference rule of the real-video development set (benchmarks/realdev/pseudo.py),
on made-up method outputs: agreement, disagreement, low SNR, failed methods."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

PSEUDO = Path(__file__).resolve().parents[1] / "benchmarks" / "realdev" / "pseudo.py"


def _load():
    spec = importlib.util.spec_from_file_location("realdev_pseudo", PSEUDO)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


pseudo = _load()
MethodHR = pseudo.MethodHR
METHODS = ("chrom", "green", "ica", "lgi", "omit", "pbv", "pos")


def estimates(hrs, snrs=8.0):
    snrs = snrs if isinstance(snrs, (list, tuple)) else [snrs] * len(hrs)
    return [
        MethodHR(m, hr, None if hr is None else snr)
        for m, hr, snr in zip(METHODS, hrs, snrs, strict=True)
    ]


def test_agreeing_methods_with_a_clear_pulse_give_a_pseudo_reference() -> None:
    verdict = pseudo.decide(estimates([74.3, 76.4, 74.5, 74.3, 74.3, 74.9, 73.8]))
    assert verdict.kind == "pseudo"
    assert verdict.hr_bpm == pytest.approx(74.3)  # the median of all seven
    assert set(verdict.methods) == {"chrom", "ica", "lgi", "omit", "pbv", "pos"}  # 76.4 is out


def test_exactly_four_agreeing_is_enough_and_three_is_not() -> None:
    four = pseudo.decide(estimates([70.0, 71.0, 71.5, 72.0, 90.0, 100.0, 110.0]))
    assert four.kind == "pseudo" and len(four.methods) == 4
    three = pseudo.decide(estimates([60.0, 70.0, 71.0, 72.0, 90.0, 100.0, 110.0]))
    assert three.kind == "none" and "only 3 of 7" in three.reason


def test_disagreeing_methods_give_no_reference() -> None:
    verdict = pseudo.decide(estimates([55.0, 62.0, 70.0, 78.0, 86.0, 94.0, 102.0]))
    assert verdict.kind == "none"
    assert verdict.methods == ("lgi",)


def test_agreement_at_low_snr_gives_no_reference() -> None:
    hrs = [72.0, 72.5, 71.8, 72.1, 72.2, 71.9, 72.3]
    low = pseudo.decide(estimates(hrs, snrs=1.0))
    assert low.kind == "none" and "not above" in low.reason
    # the median SNR of the agreeing methods counts, not the best one
    mixed = pseudo.decide(estimates(hrs, snrs=[20.0, 20.0, 20.0, 1.0, 1.0, 1.0, 1.0]))
    assert mixed.kind == "none"
    at_threshold = pseudo.decide(estimates(hrs, snrs=pseudo.MIN_SNR_DB))
    assert at_threshold.kind == "none"  # strictly above


def test_failed_methods_count_as_disagreeing() -> None:
    hrs = [72.0, None, 72.5, None, None, 72.1, 80.0]
    assert pseudo.decide(estimates(hrs)).kind == "none"  # three agree out of seven
    assert pseudo.decide(estimates([None] * 7)).kind == "none"


def test_verdict_record_is_json() -> None:
    verdict = pseudo.decide(estimates([74.3, 76.4, 74.5, 74.3, 74.3, 74.9, 73.8]))
    record = json.loads(json.dumps(verdict.to_json()))
    assert record["kind"] == "pseudo" and record["hr_bpm"] == pytest.approx(74.3)
    assert len(record["estimates"]) == 7 and "bpm" in record["rule"]


def test_contact_reference_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "reference.csv").write_text("time_s,pulse\n0,1\n")
    assert pseudo.has_contact_reference(tmp_path)
    pseudo_ref = tmp_path / "other"
    pseudo_ref.mkdir()
    (pseudo_ref / "reference.json").write_text(json.dumps({"hr_bpm": 70, "kind": "pseudo"}))
    assert not pseudo.has_contact_reference(pseudo_ref)
    (pseudo_ref / "reference.json").write_text(json.dumps({"hr_bpm": 70}))
    assert pseudo.has_contact_reference(pseudo_ref)  # a stated HR


def test_label_folder_writes_the_verdict_files(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "video.mp4").write_bytes(b"")  # estimate() is replaced: never decoded
    monkeypatch.setattr(pseudo, "estimate", lambda video: estimates([74.0] * 7))
    assert pseudo.label_folder(folder).kind == "pseudo"
    ref = json.loads((folder / "reference.json").read_text())
    assert ref["kind"] == "pseudo" and ref["hr_bpm"] == 74.0 and len(ref["methods"]) == 7
    # the rule no longer met: the earlier pseudo-reference goes, the reason stays
    monkeypatch.setattr(pseudo, "estimate", lambda video: estimates([74.0] * 7, snrs=0.0))
    assert pseudo.label_folder(folder).kind == "none"
    assert not (folder / "reference.json").exists()
    assert json.loads((folder / "pseudo.json").read_text())["kind"] == "none"


def test_pseudo_reference_of_a_synthetic_face_video(tmp_path: Path) -> None:
    """End to end on a short, small synthetic clip (~4 s): one decoding, the seven classic
    methods, the rule, the files; the methods agree on the true HR."""
    from rppgkit.synth import SynthConfig, write_synth

    folder = tmp_path / "synth"
    config = SynthConfig(duration_s=10.5, width=192, height=144, hr_bpm=84, seed=3)
    paths = write_synth(config, folder, masks=False)
    true_hr = paths.mean_hr_bpm
    verdict = pseudo.label_folder(folder)
    assert verdict.kind == "pseudo", verdict.reason
    assert len(verdict.methods) >= pseudo.MIN_AGREEING
    assert verdict.hr_bpm == pytest.approx(true_hr, abs=2.0)
    assert json.loads((folder / "reference.json").read_text())["kind"] == "pseudo"
