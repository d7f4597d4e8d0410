"""Tests of the synthetic face-video generator (tiny clips, so the file runs in seconds)."""

from __future__ import annotations

import dataclasses
import inspect
import json

import av
import cv2
import numpy as np
import pytest

from rppgkit.errors import RppgError
from rppgkit.estimators import create
from rppgkit.pulse import heart_rate
from rppgkit.synth import SynthConfig, load_skin_masks, pulse_waveform, synthesize, write_synth
from rppgkit.synth.generate import FILE_NAMES
from rppgkit.synth.optics import LIGHTS
from rppgkit.synth.suite import CONDITIONS, TRAINING_SPLITS, training_config, write_training_set

TINY = SynthConfig(duration_s=3.0, fps=30.0, width=160, height=120, seed=7)
STILL = dataclasses.replace(TINY, duration_s=5.0, noise=0.0, motion=0.0, lighting=0.0, seed=3)


def _render(config: SynthConfig) -> tuple[np.ndarray, np.ndarray]:
    """All frames and masks of a small clip as [N, H, W, 3] and [N, H, W] arrays."""
    frames, masks = zip(*synthesize(config).frames(), strict=True)
    return np.stack(frames), np.stack(masks)


def _dominant_bpm(
    signal: np.ndarray, fps: float, band_bpm: tuple[float, float] = (40.0, 200.0)
) -> float:
    """Frequency (per minute) of the largest spectral peak in `band_bpm`, zero-padded."""
    n = 16 * len(signal)
    spectrum = np.abs(np.fft.rfft(signal - signal.mean(), n))
    bpm = np.fft.rfftfreq(n, 1.0 / fps) * 60.0
    band = (bpm >= band_bpm[0]) & (bpm <= band_bpm[1])
    return float(bpm[band][np.argmax(spectrum[band])])


def test_same_seed_is_bit_identical_and_other_seed_differs() -> None:
    frames_a, masks_a = _render(TINY)
    frames_b, masks_b = _render(TINY)
    assert np.array_equal(frames_a, frames_b) and np.array_equal(masks_a, masks_b)
    frames_c, _ = _render(dataclasses.replace(TINY, seed=8))
    assert not np.array_equal(frames_a, frames_c)


def test_frames_stream_from_a_generator() -> None:
    video = synthesize(TINY)
    frames = video.frames()
    assert inspect.isgenerator(frames)
    rgb, mask = next(frames)
    assert rgb.shape == (120, 160, 3) and rgb.dtype == np.uint8
    assert mask.shape == (120, 160) and mask.dtype == bool


@pytest.mark.parametrize("hr", [55.0, 72.0, 130.0])
def test_pulse_spectral_peak_is_the_mean_hr(hr: float) -> None:
    times = np.arange(0, 60.0, 1 / 30.0)
    wave = pulse_waveform(times, hr_bpm=hr, hr_drift_bpm=4.0, seed=1)
    assert abs(wave.hr_bpm.mean() - hr) < 0.01
    assert abs(_dominant_bpm(wave.pulse, 30.0) - hr) < 2.0
    assert abs(60.0 / np.diff(wave.beat_times).mean() - hr) < 2.0
    assert wave.pulse.min() == 0.0 and wave.pulse.max() == 1.0


def test_hr_drifts_and_breathes() -> None:
    times = np.arange(0, 120.0, 1 / 30.0)
    wave = pulse_waveform(times, hr_bpm=70.0, hr_drift_bpm=6.0, resp_rate_bpm=15.0, seed=2)
    assert 6.0 <= np.ptp(wave.hr_bpm) <= 6.0 + 2 * 2.0 + 0.1  # drift range plus +-RSA
    wiggle = wave.hr_bpm - np.convolve(wave.hr_bpm, np.ones(121) / 121, mode="same")
    assert abs(_dominant_bpm(wiggle[200:-200], 30.0, (5.0, 30.0)) - 15.0) < 1.0


def test_skin_darkens_with_the_pulse_and_non_skin_is_static() -> None:
    video = synthesize(STILL)
    frames, masks = _render(STILL)
    assert (masks == masks[0]).all()  # a still head keeps its mask
    green = frames[..., 1].astype(float)[:, masks[0]].mean(axis=1)
    assert np.corrcoef(green, video.pulse)[0, 1] < -0.8  # more blood absorbs more light
    far = cv2.dilate(masks[0].astype(np.uint8), np.ones((5, 5), np.uint8)) == 0
    assert (frames[:, far] == frames[0, far]).all()
    # generator 1.0's sign, kept to reproduce the figures of the networks that learnt it
    old, _ = _render(dataclasses.replace(STILL, brighten_with_pulse=True))
    assert np.corrcoef(old[..., 1].astype(float)[:, masks[0]].mean(axis=1), video.pulse)[0, 1] > 0.8


def test_mask_excludes_eyes_and_background() -> None:
    rgb, mask = next(synthesize(dataclasses.replace(STILL, width=320, height=240)).frames())
    x, y, w, h = synthesize(dataclasses.replace(STILL, width=320, height=240)).boxes[0]
    face = np.zeros_like(mask)
    face[y : y + h // 2, x : x + w] = True  # upper half of the face holds the eyes
    channels = rgb.astype(int)
    eye_white = (channels.min(axis=2) > 200) & (np.ptp(channels, axis=2) < 25) & face
    assert eye_white.sum() > 5
    assert not mask[eye_white].any()
    assert mask[y + h // 2, x + w // 2]  # the nose is skin
    assert not mask[:5, :5].any() and not mask[:5, -5:].any()


def test_darker_skin_pulses_less() -> None:
    def skin_green_swing(tone: int) -> float:
        frames, masks = _render(dataclasses.replace(STILL, duration_s=2.0, skin_tone=tone))
        green = frames[..., 1].astype(float)[:, masks[0]].mean(axis=1)
        return float(np.ptp(green) / green.mean())

    assert skin_green_swing(6) < skin_green_swing(1)


def test_motion_moves_box_and_mask_together() -> None:
    video = synthesize(dataclasses.replace(TINY, motion=2.0))
    assert np.ptp(video.boxes[:, 0]) > 1 or np.ptp(video.boxes[:, 1]) > 1
    for i, (_, mask) in enumerate(video.frames()):
        ys, xs = np.nonzero(mask)
        x, y, w, h = video.boxes[i]
        cx, cy = xs.mean(), ys.mean()
        assert x <= cx <= x + w and y <= cy <= y + h + h // 2  # skin includes the neck


def test_write_synth_outputs_are_complete_and_lossless(tmp_path) -> None:
    config = dataclasses.replace(TINY, duration_s=2.0, motion=1.0, lighting=2.0)
    paths = write_synth(config, tmp_path / "clip")
    assert sorted(paths.written()) == sorted(FILE_NAMES)
    assert all(p.exists() and p.parent == tmp_path / "clip" for p in paths.written().values())
    frames, masks = _render(config)
    with av.open(str(paths.video)) as container:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert np.array_equal(decoded, frames)
    assert np.array_equal(load_skin_masks(paths.skin_masks), masks)
    truth = np.loadtxt(paths.ground_truth, delimiter=",", skiprows=1)
    boxes = np.loadtxt(paths.face_boxes, delimiter=",", skiprows=1)
    assert truth.shape == (60, 3) and boxes.shape == (60, 5)
    meta = json.loads(paths.meta.read_text())
    assert meta["n_frames"] == 60 and meta["config"]["seed"] == config.seed
    assert abs(meta["mean_hr_bpm"] - config.hr_bpm) < 0.01
    assert paths.mean_hr_bpm == meta["mean_hr_bpm"]
    assert not list(tmp_path.glob("clip/.*"))  # no temporary files left behind


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"duration_s": -1.0}, "duration_s"),
        ({"fps": 0.0}, "fps"),
        ({"hr_bpm": 300.0}, "hr_bpm"),
        ({"skin_tone": 7}, "skin_tone"),
        ({"width": 100.5}, "width"),
        ({"face": "cat"}, "face"),
        ({"hr_bpm": 32.0, "hr_drift_bpm": 10.0}, "drift"),
    ],
)
def test_invalid_config_is_a_one_line_error(change: dict, word: str) -> None:
    with pytest.raises(RppgError, match=word) as info:
        synthesize(dataclasses.replace(TINY, **change))
    assert "\n" not in str(info.value)


def test_astronaut_renders_and_haar_finds_the_face() -> None:
    config = dataclasses.replace(TINY, face="astronaut", width=640, height=480, duration_s=0.5)
    video = synthesize(config)
    rgb, mask = next(video.frames())
    assert rgb.shape == (480, 640, 3) and 2000 < mask.sum() < 40000
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    found = cascade.detectMultiScale(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 1.1, 5)
    assert len(found) >= 1
    x, y, w, h = video.boxes[0]
    fx, fy, fw, fh = max(found, key=lambda b: b[2] * b[3])
    assert x < fx + fw / 2 < x + w and y < fy + fh / 2 < y + h


def test_benchmark_suite_is_one_factor_at_a_time(tmp_path) -> None:
    from rppgkit.datasets import load_dataset
    from rppgkit.synth import CONDITIONS, suite_config, write_suite

    base = suite_config("baseline", 0)
    for condition in CONDITIONS:
        cfg = suite_config(condition, 0)
        cfg.validate()
        changed = {k for k, v in vars(cfg).items() if v != vars(base)[k]}
        assert changed == set(CONDITIONS[condition]), condition
    assert suite_config("baseline", 1).hr_bpm != base.hr_bpm  # subjects differ
    folders = write_suite(tmp_path, seeds=2, duration_s=1, size=(96, 72), conditions=["tone-6"])
    recordings = load_dataset("synthetic", folders["tone-6"])
    assert [r.id for r in recordings] == ["s0", "s1"]


# --- generator 2: skin optics, physiology, a consumer camera -----------------------------------


def _v2(**change: object) -> SynthConfig:
    base = {"width": 160, "height": 120, "duration_s": 10, "generator": 2, "seed": 5}
    return SynthConfig(**(base | change))


def _skin_rgb(config: SynthConfig) -> tuple[np.ndarray, np.ndarray]:
    """Mean skin RGB per frame ``[N, 3]``, and the ground-truth pulse."""
    video = synthesize(config)
    rgb = np.array([frame[mask].mean(axis=0) for frame, mask in video.frames()])
    return rgb, video.pulse


def test_generator_2_pulse_is_in_its_ground_truth_and_darkens_the_skin() -> None:
    rgb, truth = _skin_rgb(_v2(hr_bpm=75, hr_drift_bpm=0))
    pos = create("pos")(rgb, 30.0)
    assert heart_rate(pos, 30.0).bpm == pytest.approx(75, abs=3)
    green = rgb[:, 1] - np.convolve(rgb[:, 1], np.ones(31) / 31, mode="same")
    r = np.corrcoef(green[20:-20], truth[20:-20])[0, 1]
    assert r < -0.3  # blood absorbs: the skin is darkest at the pulse's peak


def test_generator_2_darker_skin_pulses_less_and_same_seed_repeats() -> None:
    def amplitude(tone: int) -> float:
        rgb, truth = _skin_rgb(_v2(skin_tone=tone))
        green = rgb[:, 1]
        detrended = green - np.convolve(green, np.ones(31) / 31, mode="same")
        return float(np.abs(np.polyfit(truth[20:-20], detrended[20:-20], 1)[0]) / green.mean())

    assert amplitude(6) < 0.6 * amplitude(2)
    a = [rgb for rgb, _ in synthesize(_v2(duration_s=1)).frames()]
    b = [rgb for rgb, _ in synthesize(_v2(duration_s=1)).frames()]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_generator_2_recorded_pulse_has_the_configured_amplitude() -> None:
    # `pulse_amplitude` is the peak-to-peak change of the *recorded* green value of a type III
    # skin in daylight; generator 1.2 set it on linear light and recorded about half of it
    amplitudes = []
    for seed in (5, 6, 7):
        rgb, truth = _skin_rgb(_v2(skin_tone=3, seed=seed, light="D65"))
        green = rgb[:, 1]
        detrended = green - np.convolve(green, np.ones(31) / 31, mode="same")
        slope = np.polyfit(truth[20:-20], detrended[20:-20], 1)[0]
        amplitudes.append(abs(slope) / green.mean())
    assert 0.7 * 0.005 < np.median(amplitudes) < 1.6 * 0.005


def test_generator_2_training_set_draws_light_camera_and_talking_per_subject() -> None:
    configs = [
        training_config(c, s, generator=2) for c in CONDITIONS if c != "astronaut" for s in range(6)
    ]
    assert {c.light for c in configs} == set(LIGHTS)
    assert {c.camera for c in configs} == {"phone", "webcam"}
    assert all(0 <= c.talking <= 0.3 and c.generator == 2 for c in configs)
    again = training_config("motion-2", 3, generator=2)
    assert again == training_config("motion-2", 3, generator=2)  # drawn from the seed
    v1 = training_config("motion-2", 3)  # the same subject, HR and condition under generator 1
    assert (v1.hr_bpm, v1.motion, v1.seed, v1.generator) == (
        again.hr_bpm,
        again.motion,
        again.seed,
        1,
    )


def test_generator_2_writes_a_consumer_video_and_refuses_what_it_cannot_draw(tmp_path) -> None:
    paths = write_synth(_v2(duration_s=2, camera="phone"), tmp_path / "v2", masks=False)
    meta = json.loads(paths.meta.read_text())
    assert paths.skin_masks is None and "skin_masks" not in meta["files"]
    assert meta["codec"]["encoder"] in ("libx264", "libx265") and not meta["codec"]["lossless"]
    with av.open(str(paths.video)) as container:
        assert container.streams.video[0].format.name == "yuv420p"
    for change, word in [({"face": "astronaut"}, "draws its faces"), ({"light": "sun"}, "light")]:
        with pytest.raises(RppgError, match=word):
            _v2(**change).validate()


def test_training_set_takes_other_subjects_but_not_another_splits(tmp_path) -> None:
    folders = write_training_set(
        tmp_path, duration_s=2.0, size=(64, 48), splits=("val",), subjects=[16]
    )
    assert [f.name for f in folders["val"]] == list(TRAINING_SPLITS["val"][1])
    assert sorted(p.parent.name for p in tmp_path.rglob("meta.json")) == ["s16"] * 4
    with pytest.raises(ValueError, match=r"subjects \[6, 7\] belong to the val split"):
        write_training_set(tmp_path / "leak", splits=("test",), subjects=[6, 7, 20])
    assert not (tmp_path / "leak").exists()
    with pytest.raises(ValueError, match="0 or more"):
        write_training_set(tmp_path / "negative", splits=("test",), subjects=[-1])
