import numpy as np
import pytest

from rppgkit import dsp, estimators
from rppgkit.errors import RppgError
from rppgkit.estimators import Estimator, classic
from rppgkit.estimators.registry import register
from rppgkit.pulse import heart_rate

FS = 30.0
METHODS = ["chrom", "green", "ica", "lgi", "omit", "pbv", "pos"]
SKIN = np.array([180.0, 120.0, 100.0])
PULSE_STRENGTH = 0.005 * np.array([0.33, 0.77, 0.53])


def simulate(
    bpm: float,
    seed: int = 0,
    seconds: float = 30.0,
    noise: float = 0.3,
    artefact_hz: tuple[float, float] = (0.07, 0.3),
) -> tuple[np.ndarray, np.ndarray]:
    """Mean skin RGB ``[N, 3]`` and the true blood volume pulse ``[N]``.

    Skin darkens with blood along the PBV signature; a common-mode illumination change at
    ``artefact_hz[0]`` and a white specular change at ``artefact_hz[1]`` plus sensor noise.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS)) / FS
    phase = 2 * np.pi * bpm / 60 * t + rng.uniform(0, 2 * np.pi)
    bvp = np.sin(phase) + 0.4 * np.sin(2 * phase + 0.8)
    bvp /= bvp.std()
    illumination = 1 + 0.03 * np.sin(2 * np.pi * artefact_hz[0] * t) + 0.002 * t
    specular = 1.0 * np.sin(2 * np.pi * artefact_hz[1] * t + rng.uniform(0, 2 * np.pi))
    skin = SKIN * illumination[:, None] * (1 - PULSE_STRENGTH * bvp[:, None])
    return skin + specular[:, None] + rng.normal(0, noise, (t.size, 3)), bvp


@pytest.mark.parametrize("bpm", [72.0, 105.0])
@pytest.mark.parametrize("method", METHODS)
def test_method_recovers_simulated_heart_rate(method, bpm):
    rgb, bvp = simulate(bpm, seed=int(bpm))
    pulse = estimators.create(method)(rgb, FS)
    assert pulse.shape == (rgb.shape[0],)
    assert abs(pulse.mean()) < 1e-3 * pulse.std()
    assert heart_rate(pulse, FS).bpm == pytest.approx(bpm, abs=3.0)
    assert np.corrcoef(pulse, bvp)[0, 1] > 0.5  # same polarity as blood volume for all methods


@pytest.mark.parametrize("method", ["chrom", "lgi", "omit", "pos"])
def test_colour_methods_cancel_in_band_intensity_and_specular_changes(method):
    rgb, _ = simulate(72.0, seed=3, artefact_hz=(0.83, 1.37))
    assert heart_rate(estimators.create(method)(rgb, FS), FS).bpm == pytest.approx(72, abs=3.0)
    assert abs(heart_rate(estimators.create("green")(rgb, FS), FS).bpm - 72) > 3.0


@pytest.mark.parametrize("method", METHODS)
def test_band_option_moves_the_pulse_into_the_band(method):
    """A band above the true HR (1.2 Hz) leaves the pulse its harmonic (2.4 Hz), not its rate."""
    rgb, _ = simulate(72.0, seed=4)
    narrow = estimators.create(method, band_hz=(1.6, 3.0))(rgb, FS)
    peak = dsp.spectral_peak(*dsp.power_spectrum(narrow, FS), *dsp.PULSE_BAND_HZ)
    assert peak == pytest.approx(2.4, abs=0.1)
    default = estimators.create(method)(rgb, FS)
    assert dsp.spectral_peak(*dsp.power_spectrum(default, FS), *dsp.PULSE_BAND_HZ) == (
        pytest.approx(1.2, abs=0.05)
    )


@pytest.mark.parametrize("method", METHODS)
def test_constant_input_gives_finite_flat_pulse(method):
    pulse = estimators.create(method)(np.tile(SKIN, (300, 1)), FS)
    assert np.all(np.isfinite(pulse))
    assert np.max(np.abs(pulse)) < 1e-6


def test_bad_trace_shape_and_nan_raise():
    with pytest.raises(RppgError, match=r"\[N, 3\]"):
        classic.pos(np.zeros((100, 4)), FS)
    rgb, _ = simulate(72.0)
    rgb[10] = np.nan
    with pytest.raises(RppgError, match="NaN"):
        classic.chrom(rgb, FS)


def test_registry_lists_all_classic_methods():
    assert set(METHODS) <= set(estimators.available())
    for name in METHODS:
        estimator = estimators.create(name)
        assert isinstance(estimator, Estimator)
        assert estimator.name == name and estimator.input_kind == "trace"
        assert estimator.description


def test_registry_estimator_calls_the_method_and_ignores_case():
    rgb, _ = simulate(80.0)
    np.testing.assert_array_equal(estimators.create("POS")(rgb, FS), classic.pos(rgb, FS))


def test_unknown_method_lists_the_choices():
    with pytest.raises(RppgError) as info:
        estimators.create("xyz")
    message = str(info.value)
    assert message.startswith("unknown method 'xyz'; choose one of: ")
    assert all(name in message for name in METHODS)


def test_options_are_bound_or_rejected():
    rgb, _ = simulate(72.0)
    seeded = estimators.create("ica", seed=5)
    assert heart_rate(seeded(rgb, FS), FS).bpm == pytest.approx(72, abs=3.0)
    with pytest.raises(RppgError, match="does not take options"):
        estimators.create("pos", weights="model.pt")


def test_registering_a_name_twice_fails():
    with pytest.raises(ValueError, match="twice"):
        register("pos")(classic.pos)
