"""Tests of the skin-optics model of skin colour and pulse colour (all fast: no video)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rppgkit.errors import RppgError
from rppgkit.synth.optics import (
    LIGHTS,
    NIKON_D5100,
    PULSE_STEP,
    TYPE_MELANIN,
    WAVELENGTHS_NM,
    Skin,
    camera_rgb,
    skin_colour,
    skin_for_type,
    skin_reflectance,
    typical_skin,
)

# Blood-volume-pulse signature of de Haan & van Leest (2014) for their camera, unit length.
PBV = np.array([0.33, 0.77, 0.53]) / np.linalg.norm([0.33, 0.77, 0.53])
D65, INCANDESCENT = LIGHTS["D65"], LIGHTS["A"]


def _direction(vector: np.ndarray) -> np.ndarray:
    """Unit vector along `vector` with a positive sum (the pulse darkens skin: flip its sign)."""
    unit = vector / np.linalg.norm(vector)
    return unit if unit.sum() > 0 else -unit


def _angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two directions in degrees."""
    return float(np.degrees(np.arccos(np.clip(_direction(a) @ _direction(b), -1.0, 1.0))))


@pytest.mark.parametrize("light", list(LIGHTS))
def test_white_surface_maps_to_grey_after_white_balance(light: str) -> None:
    white = camera_rgb(np.ones_like(WAVELENGTHS_NM), LIGHTS[light], NIKON_D5100)
    grey = camera_rgb(np.full_like(WAVELENGTHS_NM, 0.18), LIGHTS[light], NIKON_D5100)
    np.testing.assert_allclose(white, 1.0, rtol=1e-12)
    np.testing.assert_allclose(grey, 0.18, rtol=1e-12)


@pytest.mark.parametrize("fitzpatrick", range(1, 7))
def test_reflectance_is_physical_and_rises_towards_red(fitzpatrick: int) -> None:
    reflectance = skin_reflectance(typical_skin(fitzpatrick))
    assert reflectance.shape == WAVELENGTHS_NM.shape
    assert np.all((reflectance > 0.0) & (reflectance < 1.0))
    assert reflectance[WAVELENGTHS_NM == 650] > 1.3 * reflectance[WAVELENGTHS_NM == 450]


def test_melanin_darkens_blue_most_then_green_then_red() -> None:
    light, dark = (skin_colour(typical_skin(t), D65).rgb for t in (1, 6))
    kept = dark / light
    assert kept[2] < kept[1] < kept[0] < 0.5


def test_more_blood_lowers_green_most_under_daylight() -> None:
    skin = typical_skin(2)
    more = Skin(melanin=skin.melanin, blood=2 * skin.blood, oxygenation=skin.oxygenation)
    drop = skin_colour(skin, D65).rgb - skin_colour(more, D65).rgb
    assert np.all(drop > 0) and np.argmax(drop) == 1


def test_pulse_rgb_is_the_derivative_in_relative_blood_volume() -> None:
    skin = typical_skin(3)
    step = 1e-4
    base, bumped = (
        camera_rgb(skin_reflectance(skin, added), D65, NIKON_D5100)
        for added in (0.0, step * skin.blood)
    )
    one_sided = (bumped - base) / step
    colour = skin_colour(skin, D65)
    assert np.all(colour.pulse_rgb < 0)  # blood absorbs: skin darkens as volume rises
    np.testing.assert_allclose(colour.pulse_rgb, one_sided, rtol=0.01)
    assert 0.0 < PULSE_STEP <= 0.05


def test_type_ii_daylight_pulse_is_green_and_near_the_published_signature() -> None:
    """Bound 0.98 (11.5 degrees): a pure brightness change (1, 1, 1) scores 0.951 and the skin
    colour itself 0.88, so passing needs the blood spectrum; de Haan & van Leest's vector is for
    another camera and light, and this model's own type II vector moves by ~4 degrees between
    D65 and incandescent light, so closer agreement than ~10 degrees is not to be expected."""
    colour = skin_colour(typical_skin(2), D65)
    relative = colour.relative_pulse
    assert np.argmax(-relative) == 1
    assert _direction(relative) @ PBV > 0.98
    assert _direction(np.ones(3)) @ PBV < 0.98
    assert _direction(colour.rgb) @ PBV < 0.98


@pytest.mark.parametrize("light", ["D65", "A"])
def test_relative_pulse_amplitude_falls_from_type_i_to_vi(light: str) -> None:
    amplitudes = [skin_colour(typical_skin(t), LIGHTS[light]).pulse_amplitude for t in range(1, 7)]
    assert np.all(np.diff(amplitudes) < 0)
    assert amplitudes[-1] < 0.5 * amplitudes[0]


def test_pulse_direction_changes_between_daylight_and_incandescent() -> None:
    skin = typical_skin(2)
    day, lamp = (skin_colour(skin, light).relative_pulse for light in (D65, INCANDESCENT))
    assert _angle_deg(day, lamp) > 2.0
    # Illuminant A puts the red channel's weight at longer wavelengths, where blood absorbs less.
    assert lamp[0] / lamp[1] < 0.9 * day[0] / day[1]


def test_skin_for_type_draws_inside_the_documented_ranges_reproducibly() -> None:
    for fitzpatrick, (low, high) in TYPE_MELANIN.items():
        rng = np.random.default_rng(fitzpatrick)
        skins = [skin_for_type(fitzpatrick, rng) for _ in range(50)]
        assert all(low <= s.melanin <= high for s in skins)
        assert all(0.005 <= s.blood <= 0.05 and 0.6 <= s.oxygenation <= 0.9 for s in skins)
        assert all(0.95 <= s.arterial_oxygenation <= 0.99 for s in skins)
    again = skin_for_type(4, np.random.default_rng(9))
    assert again == skin_for_type(4, np.random.default_rng(9))


@pytest.mark.parametrize(
    "fields", [{"melanin": 1.5}, {"blood": 0.0}, {"oxygenation": -0.1}, {"blood": float("nan")}]
)
def test_unphysical_skin_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(RppgError):
        Skin(**{"melanin": 0.05, "blood": 0.02, "oxygenation": 0.8, **fields})


def test_unknown_type_is_refused() -> None:
    with pytest.raises(RppgError, match="1 to 6"):
        skin_for_type(7, np.random.default_rng(0))


def test_results_are_read_only_and_fast() -> None:
    skin = skin_for_type(3, np.random.default_rng(1))
    start = time.perf_counter()
    for _ in range(50):
        colour = skin_colour(skin, LIGHTS["F2"])
    assert (time.perf_counter() - start) / 50 < 0.005
    with pytest.raises(ValueError):
        colour.rgb[0] = 0.0
