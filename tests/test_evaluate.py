"""Evaluation: metrics against hand-computed values, the reference HR path, and a whole run on a
synthetic dataset with a broken recording, a cache and a resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from tests.helpers import window_result

import rppgkit.evaluate.run as run_module
from rppgkit.cli import app
from rppgkit.datasets import Reference
from rppgkit.errors import RppgError
from rppgkit.evaluate import Result, evaluate, hr_metrics
from rppgkit.evaluate.metrics import mae, mape, mean_interval, pearson, rmse
from rppgkit.evaluate.reference import reference_hr
from rppgkit.evaluate.report import paired_difference, write_evaluation
from rppgkit.pipeline import analyse
from rppgkit.trace.extract import extract_trace, load_trace, save_trace
from rppgkit.video.reader import open_video


def test_metrics_match_hand_computed_values() -> None:
    ref = np.array([60.0, 70, 80, 90, 100])
    est = ref + np.array([1.0, -2, 0, 3, -4])
    m = hr_metrics(est, ref, snr_db=np.array([1.0, 2, 3, 4, np.nan]))
    assert m.n == 5
    assert m.mae.value == pytest.approx(2.0)
    assert m.rmse.value == pytest.approx(np.sqrt(30 / 5))
    assert m.mape.value == pytest.approx(100 * np.mean(np.abs(est - ref) / ref))
    assert m.pearson_r.value == pytest.approx(np.corrcoef(est, ref)[0, 1])
    assert m.snr_db.value == pytest.approx(2.5)  # NaN SNRs are left out
    for interval in (m.mae, m.rmse, m.mape, m.pearson_r):
        assert interval.low <= interval.value <= interval.high
    assert hr_metrics(est, ref).mae == m.mae  # seeded: the same interval every time


def test_paired_statistics_take_lists_as_arrays() -> None:
    ref, est = [60, 70, 80, 90, 100], [61, 68, 80, 93, 96]
    for statistic in (mae, rmse, mape, pearson):
        assert statistic(est, ref) == pytest.approx(statistic(np.array(est), np.array(ref)))
    assert float(mae(est, ref)) == pytest.approx(2.0)  # not a list's failure
    short = hr_metrics(est[:2], ref[:2])
    assert np.isnan(short.pearson_r.value) and short.mae.value == pytest.approx(1.5)
    assert short.as_dict()["n"] == 2 and short.as_dict()["pearson_r"]["value"] is None


def test_grouped_metrics_keep_the_values_and_resample_whole_recordings() -> None:
    """Two recordings of 20 windows, one read 1 bpm off and one 5 bpm off: the values do not
    depend on the groups, but only resampling recordings lets the MAE's interval reach 1 and
    5, where resampling windows one by one pins it near 3."""
    ref = np.linspace(60, 100, 40)
    est = ref + np.repeat([1.0, 5.0], 20)
    recordings = np.repeat(["a", "b"], 20)
    by_window = hr_metrics(est, ref)
    by_recording = hr_metrics(est, ref, groups=recordings)
    for name in ("mae", "rmse", "mape", "pearson_r"):
        assert getattr(by_recording, name).value == pytest.approx(getattr(by_window, name).value)
    assert by_window.mae.value == pytest.approx(mae(est, ref)) == pytest.approx(3.0)
    assert by_window.pearson_r.value == pytest.approx(np.corrcoef(est, ref)[0, 1])
    assert by_window.mae.high - by_window.mae.low < 2.5
    assert (by_recording.mae.low, by_recording.mae.high) == pytest.approx((1.0, 5.0))


def test_pearson_of_a_constant_side_is_nan_not_a_rounding_error() -> None:
    ref = np.full(6, 65.11)  # not exactly representable: the sums round
    m = hr_metrics(ref + np.arange(6.0), ref)
    assert np.isnan(m.pearson_r.value) and m.mae.value == pytest.approx(2.5)


def test_mean_interval_of_paired_differences() -> None:
    """A constant difference is its own interval; two recordings read 3 bpm better and worse
    give 0 with an interval over both (the NaN window is left out)."""
    constant = mean_interval(np.full(12, 0.5), np.repeat(["a", "b", "c"], 4))
    assert (constant.value, constant.low, constant.high) == pytest.approx((0.5, 0.5, 0.5))
    diff = np.array([3.0] * 5 + [-3.0] * 5 + [np.nan])
    split = mean_interval(diff, np.array(["a"] * 5 + ["b"] * 6))
    assert (split.value, split.low, split.high) == pytest.approx((0.0, -3.0, 3.0))
    assert np.isnan(mean_interval([np.nan, np.inf]).value)


@pytest.fixture(scope="module")
def clean(videos):
    path, truth = videos["clean"]
    return analyse(extract_trace(open_video(path)), method="pos"), truth, path


def test_paired_difference_takes_shared_windows_and_pairs_within_a_group(tmp_path: Path) -> None:
    base = [window_result("a", [72, 72, 72], "x"), window_result("b", [70, 70], "y")]
    other = [window_result("a", [71, None, 71, 75], "x"), window_result("b", [73, 73], "y")]
    diff = paired_difference(other, base)  # a: -1 on 2 windows (None and the 4th left out)
    assert diff.value == pytest.approx((-1 - 1 + 3 + 3) / 4)
    assert (diff.low, diff.high) == pytest.approx((-1.0, 3.0))  # whole recordings resampled
    by_group = {
        "pos": base,
        "pos @ x": base[:1],
        "chrom": other,
        "chrom @ x": other[:1],
    }
    metrics = write_evaluation(tmp_path, by_group, {}, "t")
    assert metrics["pos"].against_first is None and metrics["pos @ x"].against_first is None
    assert metrics["chrom @ x"].against_first.value == pytest.approx(-1.0)  # against pos @ x
    assert metrics["chrom"].against_first == diff


def test_reference_hr_follows_the_reference_pulse(clean, tmp_path: Path) -> None:
    m, _, _ = clean
    t = np.arange(0, 31, 1 / 256)  # a 256 Hz reference at 66 bpm, unrelated to the video
    ref = Reference(tmp_path / "ref", t, np.sin(2 * np.pi * 1.1 * t), np.full(t.size, 65.0))
    per_window, whole = reference_hr(ref, m)
    assert len(per_window) == len(m.windows)
    np.testing.assert_allclose(per_window, 66, atol=0.5)
    assert whole == pytest.approx(66, abs=0.3)
    per_window, whole = reference_hr(ref, m, "dataset")
    np.testing.assert_allclose(per_window, 65)
    short = Reference(tmp_path / "ref", t[t < 15], np.sin(2 * np.pi * 1.1 * t[t < 15]))
    per_window, _ = reference_hr(short, m)
    assert np.isfinite(per_window[:5]).all() and np.isnan(per_window[6:]).all()


def test_trace_round_trip(clean, tmp_path: Path) -> None:
    m, _, _ = clean
    save_trace(m.trace, tmp_path / "t.npz")
    back = load_trace(tmp_path / "t.npz")
    assert back.info == m.trace.info
    np.testing.assert_array_equal(back.rgb, m.trace.rgb)
    np.testing.assert_array_equal(back.preview.skin, m.trace.preview.skin)


@pytest.fixture
def dataset(videos, tmp_path: Path) -> Path:
    """Two good synthetic recordings and one whose ground truth has NaNs."""
    root = tmp_path / "data"
    root.mkdir()
    for name in ("clean", "moving"):
        (root / name).symlink_to(videos[name][0].parent)
    broken = root / "z_broken"
    broken.mkdir()
    source = videos["clean"][0].parent
    for f in ("video.mkv", "meta.json"):
        (broken / f).symlink_to(source / f)
    lines = (source / "ground_truth.csv").read_text().splitlines()
    lines[5] = "0.166667,nan,78.0"
    (broken / "ground_truth.csv").write_text("\n".join(lines) + "\n")
    return root


def test_evaluate_skips_bad_recordings_caches_and_resumes(
    dataset: Path, videos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    result = evaluate("synthetic", dataset, ["pos", "chrom"], out)
    assert list(result.skipped) == ["z_broken"]
    assert "1 of 900 reference values are NaN" in result.skipped["z_broken"]
    for method in ("pos", "chrom"):
        assert result.metrics[method].video.mae.value < 3
        assert result.metrics[method].window.mae.value < 4
        assert (out / "plots" / f"{method}.png").stat().st_size > 10_000
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["methods"]["pos"]["video"]["n"] == 2
    assert metrics["methods"]["pos"]["window"]["n"] == 42  # 21 windows x 2 videos
    assert "z_broken" in metrics["skipped"]
    table = (out / "metrics.md").read_text()
    assert "| pos | 2 |" in table and "## Skipped" in table
    # chrom against pos on the same 42 windows: the difference of their MAEs, by recordings
    paired = metrics["methods"]["chrom"]["window_error_minus_first"]
    mae_gap = result.metrics["chrom"].window.mae.value - result.metrics["pos"].window.mae.value
    assert paired["value"] == pytest.approx(mae_gap, abs=1e-4)
    assert paired["low"] <= paired["value"] <= paired["high"]
    assert "window_error_minus_first" not in metrics["methods"]["pos"]
    assert "## Per window against pos" in table and "| chrom | " in table.split("against pos")[1]
    videos_csv = (out / "videos.csv").read_text().splitlines()
    assert len(videos_csv) == 1 + 2 * 2
    assert len(list((out / "traces").glob("*.npz"))) == 2
    stored = json.loads((out / "results" / "pos" / "clean.json").read_text())
    record = Result.from_dict(stored)  # the typed record reads and writes the same file
    assert record.recording == "clean" and len(record.windows.hr_bpm) == 21
    assert json.dumps(record.as_dict()) == json.dumps(stored)  # keys and their order too

    # another method reuses the cached traces; finished results are not redone
    def no_decoding(*args, **kwargs):
        raise AssertionError("the trace should come from the cache")

    monkeypatch.setattr(run_module, "extract_trace", no_decoding)
    again = evaluate("synthetic", dataset, ["pos", "green"], out)
    done = {o.recording: (o.done, o.cached) for o in again.outcomes}
    assert done["clean"] == (("green",), ("pos",))
    assert set(again.metrics) == {"pos", "green"}

    # traces of an older face path (tracker, skin model) are measured again
    extracted = []

    def counting(*args, **kwargs):
        extracted.append(args)
        return extract_trace(*args, **kwargs)

    monkeypatch.setattr(run_module, "extract_trace", counting)
    monkeypatch.setattr(run_module, "FACE_PATH_VERSION", run_module.FACE_PATH_VERSION + 1)
    evaluate("synthetic", dataset, ["lgi"], out)
    assert len(extracted) == 2


def test_nothing_evaluable_is_an_error(dataset: Path, tmp_path: Path) -> None:
    only_broken = tmp_path / "only"
    only_broken.mkdir()
    (only_broken / "z").symlink_to(dataset / "z_broken")
    with pytest.raises(RppgError, match=r"none of the 1 recordings .* NaN"):
        evaluate("synthetic", only_broken, ["pos"], tmp_path / "out")


def test_cli_evaluate(dataset: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["evaluate", str(dataset), "-d", "synthetic", "-m", "pos,green", "-o", str(tmp_path / "o")],
    )
    assert result.exit_code == 0, result.stderr
    assert (
        "pos" in result.stdout
        and "MAE" in result.stdout
        and "1 recordings skipped" in (result.stdout)
    )
    against = result.stdout.split("against pos")[1].splitlines()
    assert against[1].split()[0] == "green" and len(against[1].split()) == 4  # value [low, high]
    assert "skipped z_broken" in result.stderr
    bad = runner.invoke(app, ["evaluate", str(dataset), "-d", "vipl", "-o", str(tmp_path / "p")])
    assert bad.exit_code == 1 and "unknown dataset 'vipl'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_parallel_workers_give_the_same_results(dataset: Path, tmp_path: Path) -> None:
    one = evaluate("synthetic", dataset, ["pos"], tmp_path / "one")
    two = evaluate("synthetic", dataset, ["pos"], tmp_path / "two", workers=2)
    assert two.metrics["pos"].window.mae == one.metrics["pos"].window.mae
    assert two.skipped == one.skipped
