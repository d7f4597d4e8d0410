"""Face physiology for the v2 generator: perfusion, transit delays, motion, blinks, specular."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from rppgkit.synth import physiology as ph
from rppgkit.synth.scene import draw_face
from rppgkit.synth.waveform import pulse_waveform

FPS = 30.0


@pytest.fixture(scope="module")
def face() -> tuple[ph.FaceGeometry, np.ndarray]:
    """Geometry and skin weight of a drawn 320x240 face."""
    sprite = draw_face(320, 240, 3, False, np.random.default_rng(5))
    return ph.face_geometry(sprite.face_box), sprite.skin


def _region_mean(
    values: np.ndarray, skin: np.ndarray, geometry: ph.FaceGeometry, centre: tuple, half: tuple
) -> float:
    """Skin-weighted mean of `values` in a face-unit box centred on `centre`."""
    u, v = ph.face_coordinates(geometry, skin.shape)
    box = (np.abs(u - centre[0]) < half[0]) & (np.abs(v - centre[1]) < half[1]) & (skin > 0.5)
    return float(values[box].mean())


def test_perfusion_stronger_on_forehead_and_cheeks_and_seeded(face) -> None:
    geometry, skin = face
    forehead, cheeks, chin, nose = [], [], [], []
    for seed in range(8):  # average over subjects: the random pattern can flip one subject
        perf = ph.perfusion_map(geometry, skin, np.random.default_rng(seed))
        assert perf.dtype == np.float32 and perf.shape == skin.shape
        assert (perf * skin).sum() / skin.sum() == pytest.approx(1.0, rel=1e-5)
        forehead.append(_region_mean(perf, skin, geometry, (0.0, -0.4), (0.3, 0.08)))
        cheeks.append(_region_mean(perf, skin, geometry, (0.48, 0.22), (0.12, 0.1)))
        chin.append(_region_mean(perf, skin, geometry, (0.0, 0.82), (0.2, 0.08)))
        nose.append(_region_mean(perf, skin, geometry, (0.0, 0.15), (0.05, 0.15)))
    strong = min(np.mean(forehead), np.mean(cheeks))
    weak = max(np.mean(chin), np.mean(nose))
    assert strong > 1.4 * weak
    again = ph.perfusion_map(geometry, skin, np.random.default_rng(3))
    other = ph.perfusion_map(geometry, skin, np.random.default_rng(4))
    assert np.array_equal(again, ph.perfusion_map(geometry, skin, np.random.default_rng(3)))
    assert not np.allclose(again, other)


def test_delays_in_range_and_shares_sum_to_skin(face) -> None:
    geometry, skin = face
    for seed in range(20):
        delays = ph.region_delays(np.random.default_rng(seed))
        assert delays.shape == (len(ph.REGIONS),)
        assert ph.DELAY_RANGE_S[0] <= delays.min() and delays.max() <= ph.DELAY_RANGE_S[1]
    shares = ph.region_shares(geometry, skin)
    assert shares.shape == (len(ph.REGIONS), *skin.shape) and shares.min() >= 0
    np.testing.assert_allclose(shares.sum(axis=0), skin, atol=1e-5)
    arrival = ph.arrival_time_map(shares, delays)
    assert arrival.min() >= 0 and arrival.max() <= ph.DELAY_RANGE_S[1]
    forehead = _region_mean(arrival, skin, geometry, (0.0, -0.45), (0.2, 0.05))
    chin = _region_mean(arrival, skin, geometry, (0.0, 0.8), (0.2, 0.08))
    assert forehead - chin > 0.015  # the forehead's pulse arrives tens of ms after the chin's


def test_pulse_image_is_the_waveform_shifted_by_the_delay(face) -> None:
    geometry, skin = face
    f_hz = 1.2
    frame_times = np.arange(0, 4, 1 / FPS)
    wave = functools.partial(
        ph.interpolate_wave, frame_times, np.sin(2 * np.pi * f_hz * frame_times)
    )
    delays = np.array([0.045, 0.01, 0.015, 0.02, 0.0, 0.005])
    perfusion = ph.perfusion_map(geometry, skin, np.random.default_rng(0))
    shares = ph.region_shares(geometry, skin)
    regions = ph.pulse_regions(shares, perfusion, delays)
    times = frame_times[5:-5]
    values = ph.delayed_pulses(wave, times, delays)
    exact = np.sin(2 * np.pi * f_hz * (times[:, None] - delays[None, :]))
    np.testing.assert_allclose(values, exact, atol=1e-4)  # cubic spline of 30 fps samples
    arrival = ph.arrival_time_map(shares, delays)
    y, x = np.unravel_index(np.argmax(np.where(skin > 0.9, shares[0], 0)), skin.shape)
    buffer = np.zeros(skin.shape, np.float32)
    for t, row in zip(times, values, strict=True):
        image = ph.pulse_image(regions, row, out=buffer)
        expected = perfusion[y, x] * skin[y, x] * np.sin(2 * np.pi * f_hz * (t - arrival[y, x]))
        assert image[y, x] == pytest.approx(expected, abs=0.01 * perfusion[y, x])
    assert arrival[y, x] == pytest.approx(0.045, abs=0.002)  # a forehead pixel
    y0, y1, x0, x1 = regions.roi  # every region accumulates, not just the pixel's main one
    full = np.tensordot(values[-1], regions.weights, axes=1)
    np.testing.assert_allclose(image[y0:y1, x0:x1], full, atol=1e-5)
    assert image[skin == 0].max() == 0.0


def test_mean_delay_is_the_pulse_weighted_region_delay(face) -> None:
    geometry, skin = face
    regions = ph.pulse_regions(
        ph.region_shares(geometry, skin), np.ones_like(skin), np.full(6, 0.02)
    )
    assert ph.mean_delay_s(regions) == pytest.approx(0.02)


def test_bcg_peaks_at_heart_rate_with_the_set_amplitude() -> None:
    times = np.arange(0, 60, 1 / FPS)
    fine = np.arange(-1, 61, 1 / 240)
    pulse = pulse_waveform(fine, hr_bpm=72.0, hr_drift_bpm=0.0, seed=3).pulse
    wave = functools.partial(ph.interpolate_wave, fine, pulse)
    dx, dy = ph.bcg_displacement(wave, times, amplitude_px=0.12, lead_s=0.08, horizontal_share=0.1)
    assert np.ptp(dy) == pytest.approx(0.12) and abs(dy.mean()) < 1e-12
    np.testing.assert_allclose(dx, 0.1 * dy)
    spectrum = np.abs(np.fft.rfft(dy * np.hanning(len(dy))))
    freqs = np.fft.rfftfreq(len(dy), 1 / FPS)
    assert freqs[np.argmax(spectrum)] == pytest.approx(1.2, abs=0.05)


def test_face_dynamics_amplitudes_and_shapes() -> None:
    times = np.arange(0, 120, 1 / FPS)
    wave = functools.partial(ph.interpolate_wave, times, np.sin(2 * np.pi * 1.1 * times))
    std = {}
    for level in ("still", "strong"):
        settings = ph.DynamicsSettings(motion=level, talk_share=0.5)
        dyn = ph.face_dynamics(times, wave, settings, 200.0, np.random.default_rng(1))
        for array in (dyn.pose.dx_px, dyn.pose.roll_deg, dyn.eyelid, dyn.mouth, dyn.bcg_dy_px):
            assert array.shape == times.shape
        std[level] = dyn.pose.dx_px.std()
        assert np.ptp(dyn.bcg_dy_px) == pytest.approx(0.1 * 200 / 220)  # 0.1 mm at 220 mm face
        assert dyn.eyelid.min() >= 0 and dyn.eyelid.max() <= 1 and dyn.mouth.max() <= 1
    px_per_mm = 200 / 220
    assert std["still"] == pytest.approx(1.0 * px_per_mm, rel=0.1)  # BCG adds a little
    assert std["strong"] == pytest.approx(15.0 * px_per_mm, rel=0.001)
    head = ph.as_head_motion(dyn.pose)
    assert np.array_equal(head.dy, dyn.pose.dy_px) and np.array_equal(head.scale, dyn.pose.scale)


def test_blinks_match_rate_and_durations_over_hours() -> None:
    hours = 3.0
    blinks = ph.blink_events(0.0, hours * 3600, 17.0, 0.2, np.random.default_rng(7))
    inside = blinks.onsets_s >= 0
    assert inside.sum() / (hours * 60) == pytest.approx(17.0, rel=0.04)
    assert np.median(blinks.durations_s) == pytest.approx(0.2, rel=0.05)
    assert blinks.durations_s.min() >= 0.1 and blinks.durations_s.max() <= 0.4
    assert np.all(blinks.onsets_s[1:] - blinks.onsets_s[:-1] >= 0.5)  # never overlap
    times = np.arange(0, hours * 3600, 1 / FPS)
    closure = ph.eyelid_closure(times, blinks)
    closed_share = (closure > 0).mean()
    assert closed_share == pytest.approx(17.0 / 60 * blinks.durations_s.mean(), rel=0.05)
    assert closure.max() == pytest.approx(1.0, abs=0.02)
    assert ph.blink_events(0, 10, 0.0, 0.2, np.random.default_rng(0)).onsets_s.size == 0


def test_blink_closes_faster_than_it_opens() -> None:
    blinks = ph.Events(np.array([1.0]), np.array([0.3]), np.array([1.0]))
    times = np.linspace(0.9, 1.4, 5001)
    closure = ph.eyelid_closure(times, blinks)
    peak_time = times[np.argmax(closure)]
    assert peak_time - 1.0 == pytest.approx(0.41 * 0.3, abs=1e-3)
    assert closure[times < 1.0].max() == 0 and closure[times > 1.3].max() == 0


def test_talking_share_and_syllable_rate() -> None:
    syllables = ph.syllable_events(0.0, 3600.0, 0.4, (3.0, 6.0), np.random.default_rng(2))
    talking = syllables.durations_s.sum() / 3600.0
    assert talking == pytest.approx(0.4, abs=0.04)
    rate = 1 / syllables.durations_s
    assert rate.min() >= 3.0 / 1.2 and rate.max() <= 6.0 / 0.8
    times = np.arange(0, 3600, 1 / FPS)
    mouth = ph.mouth_opening(times, syllables)
    assert mouth.min() >= 0 and mouth.max() <= 1
    assert (mouth > 0).mean() == pytest.approx(talking, rel=0.02)


def test_eyelid_cover_grows_with_closure(face) -> None:
    geometry, skin = face
    areas = [ph.eyelid_cover(geometry, skin.shape, c).sum() for c in (0.0, 0.5, 1.0)]
    assert areas[0] == 0 and 0 < areas[1] < areas[2]
    eye_x = geometry.centre[0] + geometry.eye_uv[0] * geometry.axes[0]
    eye_y = geometry.centre[1] + geometry.eye_uv[1] * geometry.axes[1]
    assert ph.eyelid_cover(geometry, skin.shape, 1.0)[round(eye_y), round(eye_x)] == 1.0


def _sphere(radius: float = 60.0) -> tuple[ph.FaceGeometry, np.ndarray]:
    """A sphere-shaped 'face' filling a square sprite, all skin."""
    size = int(2 * radius + 20)
    geometry = ph.FaceGeometry(centre=(size / 2, size / 2), axes=(radius, radius))
    return geometry, np.ones((size, size), np.float32)


def test_specular_peak_value_and_roll_convention() -> None:
    geometry, skin = _sphere()
    surface = ph.specular_surface(geometry, skin, depth_ratio=1.0, tzone_gain=0.0)
    head_on = ph.specular_image(surface, np.eye(3), light_dir=(0.0, 0.0, 1.0))
    centre = head_on[int(geometry.centre[1]), int(geometry.centre[0])]
    assert centre == pytest.approx(ph.SKIN_F0 / (4 * ph.SKIN_ROUGHNESS**2), rel=0.01)
    # with roll, the highlight stays put on screen: sprite position mapped by the v1 affine
    (cx, cy), theta = geometry.centre, np.deg2rad(20.0)
    still = np.unravel_index(np.argmax(ph.specular_image(surface, np.eye(3))), skin.shape)
    rolled = ph.specular_image(surface, ph.head_rotation(0.0, 0.0, 20.0))
    ys, xs = np.unravel_index(np.argmax(rolled), skin.shape)
    x_frame = np.cos(theta) * (xs - cx) + np.sin(theta) * (ys - cy) + cx
    y_frame = -np.sin(theta) * (xs - cx) + np.cos(theta) * (ys - cy) + cy
    assert np.hypot(x_frame - still[1], y_frame - still[0]) < 1.5


def test_specular_moves_with_the_head_and_ignores_the_pulse(face) -> None:
    geometry, skin = face
    surface = ph.specular_surface(geometry, skin)
    rest = ph.specular_image(surface, ph.head_rotation(0.0, 0.0, 0.0))
    turned = ph.specular_image(surface, ph.head_rotation(8.0, -3.0, 1.0))
    assert rest.max() > 0.02 and np.abs(turned - rest).max() > 0.2 * rest.max()
    assert rest[skin == 0].max() == 0
    body = np.full((*skin.shape, 3), 150.0, np.float32)
    light = np.array([250.0, 245.0, 240.0])
    gain = np.array([0.33, 0.77, 0.53]) * 0.01
    change = {}
    for name, spec in (("specular", rest), ("matte", np.zeros_like(rest))):
        systole = ph.dichromatic(body, 1 - gain, spec, light)
        diastole = ph.dichromatic(body, np.ones(3), spec, light)
        change[name] = diastole - systole
    np.testing.assert_allclose(change["specular"], change["matte"], atol=1e-3)
    assert ph.dichromatic(body, np.ones(3), rest, light).max() > body.max() * 245 / 255
