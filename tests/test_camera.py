"""The consumer-camera model of the synthetic generator: exposure, white balance, noise, tone,
determinism, and the encoder settings of phones and webcams."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from rppgkit.errors import RppgError
from rppgkit.synth.camera import (
    Camera,
    CameraParams,
    consumer_codec,
    noise_coefficients,
    output_lut,
    photosites_per_pixel,
    random_camera,
    srgb_encode,
    tone_curve,
)
from rppgkit.video.writer import write_video

FPS = 30.0


def grey(level: float, shape: tuple[int, int] = (48, 64)) -> np.ndarray:
    """A uniform grey scene of linear radiance `level`."""
    return np.full((*shape, 3), level, np.float32)


def srgb_decode(codes: np.ndarray) -> np.ndarray:
    """Inverse sRGB curve: 8-bit codes back to linear 0..1."""
    y = codes.astype(np.float64) / 255.0
    return np.where(y <= 0.04045, y / 12.92, ((y + 0.055) / 1.055) ** 2.4)


def textured_scene(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A smooth random texture, linear radiance about 0.1..0.6, twice the width of `shape`."""
    rng = np.random.default_rng(seed)
    h, w = shape
    coarse = rng.random((h // 8, w // 4, 3)).astype(np.float32)
    return 0.1 + 0.5 * cv2.resize(coarse, (2 * w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def test_srgb_curve_and_output_table() -> None:
    assert srgb_encode(0.0) == 0.0
    assert srgb_encode(1.0) == pytest.approx(1.0)
    assert round(255 * float(srgb_encode(0.18))) == 118
    ramp = np.linspace(0, 1, 1001)
    for contrast in (0.0, 0.3, 0.5):
        curve = tone_curve(ramp, contrast)
        assert curve[0] == 0.0 and curve[-1] == pytest.approx(1.0)
        assert np.all(np.diff(curve) > 0)
    lut = output_lut(np.ones(3), 10, 0.0).reshape(3, 1024)
    assert np.all(lut[:, 0] == 0) and np.all(lut[:, -1] == 255)
    assert np.all(lut[:, round(0.18 * 1023)] == 118)


def test_auto_exposure_brings_a_dark_scene_to_the_target() -> None:
    params = CameraParams(prnu=0.0)
    camera = Camera(params, FPS, np.random.default_rng(0), exposure=0.5)
    scene = grey(0.05)  # metered at 0.025 at first: 2.85 EV under
    tau_frames = round(params.ae_tau_s * FPS)
    for _ in range(tau_frames):
        camera.record(scene)
    assert camera.metered < params.ae_target / 2  # after one time constant: > 1 EV under
    for _ in range(5 * tau_frames):
        frame = camera.record(scene)
    assert abs(np.log2(camera.metered / params.ae_target)) < params.ae_tolerance_ev
    assert abs(frame.mean() - 118) < 4


@pytest.mark.parametrize("damping", [0.7, 1.0])
def test_auto_exposure_follows_a_step_with_its_lag(damping: float) -> None:
    params = CameraParams(prnu=0.0, ae_tau_s=0.5, ae_damping=damping)
    camera = Camera(params, FPS, np.random.default_rng(1))
    for _ in range(30):
        camera.record(grey(0.1))
    before = np.log2(camera.exposure)
    evs = []
    for _ in range(150):  # the light doubles: exposure must fall by 1 EV
        evs.append(np.log2(camera.exposure))
        camera.record(grey(0.2))
    moved = before - np.array(evs)
    t63 = np.argmax(moved >= 0.63) / FPS
    lag = params.ae_tau_s + params.ae_delay_frames / FPS
    assert 0.8 * lag < t63 < 1.3 * lag
    overshoot = moved.max() - moved[-1]
    if damping < 1:
        assert 0 < overshoot < 0.1  # small hunting: a step or two past, then back
    else:
        assert overshoot == 0 and np.all(np.diff(moved) >= 0)
    assert abs(moved[-1] - 1.0) <= params.ae_step_ev
    steps = np.diff(evs)[np.diff(evs) != 0]
    assert np.allclose(steps / params.ae_step_ev, np.round(steps / params.ae_step_ev))


def test_noise_grows_with_signal_and_black_is_not_clean() -> None:
    params = CameraParams(prnu=0.0)
    levels = [0.0, 0.02, 0.1, 0.4]
    scene = np.concatenate([grey(v, (64, 64)) for v in levels], axis=1)
    camera = Camera(params, FPS, np.random.default_rng(2), exposure=1.0)  # gain 2
    frame = camera.record(scene)
    patches = [srgb_decode(frame[:, 64 * i : 64 * (i + 1)]) for i in range(len(levels))]
    variances = np.array([p.var() for p in patches])
    assert variances[0] > 0  # read noise shows in black
    assert np.all(np.diff(variances) > 0)
    a, b = noise_coefficients(2.0, params)
    expected = a * np.array(levels[1:]) + b
    np.testing.assert_allclose(variances[1:], expected, rtol=0.3)  # shot noise dominates


def test_mid_grey_noise_is_a_few_levels() -> None:
    camera = Camera(CameraParams(), FPS, np.random.default_rng(3))
    for _ in range(10):
        frame = camera.record(grey(0.36, (96, 128)))
    assert abs(frame.mean() - 118) < 3
    assert 1.0 < frame.std() < 3.0


def test_a_larger_sensor_averages_its_noise_down() -> None:
    # 16 photosites behind each pixel: the noise's variance falls 16-fold, its std 4-fold (less
    # the 8-bit rounding, which no averaging removes)
    stds = []
    for sensor_pixels in (0.0, 16 * 64 * 64):
        params = CameraParams(prnu=0.0, sensor_pixels=sensor_pixels)
        camera = Camera(params, FPS, np.random.default_rng(11), exposure=1.0)  # gain 2
        frame = camera.record(grey(0.4, (64, 64)))
        stds.append(frame.astype(float).std(axis=(0, 1)).mean())  # per channel: wb differs
    assert stds[0] > 1.5
    assert 3.0 < stds[0] / stds[1] < 4.5


def test_white_balance_drift_stays_within_its_bound() -> None:
    params = CameraParams(wb_drift=0.02, wb_drift_tau_s=1.0, prnu=0.0)
    camera = Camera(params, FPS, np.random.default_rng(4))
    gains = []
    for _ in range(600):
        camera.record(grey(0.3, (32, 48)))
        gains.append(camera.white_balance)
    deviation = np.abs(np.array(gains) - 1.0)
    assert np.all(deviation[:, 1] == 0.0)  # gains are relative to green
    assert deviation.max() <= params.wb_drift + 2e-3  # + what grey world reads in the noise
    assert deviation.max() > params.wb_drift / 4  # it does drift


def test_white_balance_partly_greys_a_coloured_scene() -> None:
    params = CameraParams(wb_drift=0.0, awb_strength=0.3)
    camera = Camera(params, FPS, np.random.default_rng(5))
    scene = np.broadcast_to(np.array([0.5, 0.3, 0.2], np.float32), (32, 48, 3))
    camera.record(scene)
    red, green, blue = camera.white_balance
    assert green == 1.0
    assert np.exp(-0.25 * 0.3) - 1e-3 < red < 1.0 < blue < np.exp(0.25 * 0.3) + 1e-3


def test_same_seed_same_video() -> None:
    texture = textured_scene((40, 56), seed=6)
    params = random_camera(np.random.default_rng(7))

    def video(seed: int) -> list[np.ndarray]:
        camera = Camera(params, FPS, np.random.default_rng(seed))
        return [camera.record(texture[:, i : i + 56] * (1 + 0.1 * i)) for i in range(8)]

    first, again, other = video(8), video(8), video(9)
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    assert not all(np.array_equal(x, y) for x, y in zip(first, other))


def test_random_cameras_are_plausible_and_checked() -> None:
    rng = np.random.default_rng(10)
    cameras = [random_camera(rng) for _ in range(20)]
    assert {c.kind for c in cameras} == {"phone", "webcam"}
    assert all(1000 < c.full_well_e < 20000 and c.read_noise_e < 10 for c in cameras)
    # a phone's 8-12 MP and a webcam's 0.7-1.6 MP put many photosites behind a 320x240 pixel
    behind = {c.kind: photosites_per_pixel(c, (240, 320)) for c in cameras}
    assert 100 < behind["phone"] < 160 and 9 <= behind["webcam"] <= 20.25
    with pytest.raises(RppgError, match="ae_tau_s must be"):
        CameraParams(ae_tau_s=0.0)
    with pytest.raises(RppgError, match="camera kind"):
        CameraParams(kind="dslr")


def packet_stats(path: Path) -> tuple[int, str, list[int]]:
    """Bytes of video packets, pixel format, and the indices of key frames."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        return (
            sum(p.size for p in packets),
            stream.codec_context.pix_fmt,
            [i for i, p in enumerate(packets) if p.is_keyframe],
        )


@pytest.mark.parametrize(
    ("kind", "codec"), [("phone", "h264"), ("phone", "hevc"), ("webcam", "h264")]
)
def test_consumer_codec_meets_its_bitrate(tmp_path: Path, kind: str, codec: str) -> None:
    if codec == "hevc" and "libx265" not in av.codecs_available:
        pytest.skip("this FFmpeg has no libx265")
    settings = consumer_codec(320, 240, FPS, kind, np.random.default_rng(11), codec=codec)
    camera = Camera(random_camera(np.random.default_rng(12), kind), FPS, np.random.default_rng(13))
    texture = textured_scene((240, 320), seed=14)
    frames = [camera.record(texture[:, 2 * i : 2 * i + 320]) for i in range(60)]  # 2 s, panning
    path = write_video(tmp_path / "clip.mkv", frames, FPS, settings)
    size, pix_fmt, keyframes = packet_stats(path)
    assert pix_fmt == "yuv420p"
    assert 0.7 < size * 8 / 2.0 / settings.bit_rate < 1.3
    assert keyframes[:2] == [0, int(settings.options["g"])]


def test_consumer_bitrates_follow_the_recording_specs() -> None:
    rng = np.random.default_rng(15)
    vga = [consumer_codec(640, 480, FPS, "phone", rng, codec="h264").bit_rate for _ in range(50)]
    assert min(vga) >= 6e6 and max(vga) <= 15e6  # issue 20: a phone records 6-15 Mbit/s at VGA
    hevc = [consumer_codec(640, 480, FPS, "phone", rng, codec="hevc").bit_rate for _ in range(50)]
    assert min(hevc) >= 3.6e6 and max(hevc) <= 9e6
    qvga = [consumer_codec(320, 240, FPS, "phone", rng, codec="h264").bit_rate for _ in range(50)]
    assert min(qvga) > 6e6 / 4 and max(qvga) < 15e6 / 2  # fewer pixels, more bits per pixel
    webcam = [consumer_codec(640, 480, FPS, "webcam", rng).bit_rate for _ in range(50)]
    assert min(webcam) >= 1e6 and max(webcam) <= 3e6
    with pytest.raises(RppgError, match="even frame size"):
        consumer_codec(641, 480, FPS, "webcam", rng)
    with pytest.raises(RppgError, match="no hevc settings for a webcam"):
        consumer_codec(640, 480, FPS, "webcam", rng, codec="hevc")
