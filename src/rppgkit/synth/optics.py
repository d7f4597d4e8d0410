"""Skin colour and the colour of the pulse, from the optics of skin, the light and the camera.

A subject's skin is two layers: an epidermis holding melanin over a dermis holding blood. Their
absorption comes from tabulated chromophore spectra (haemoglobin, melanin, bloodless tissue) and
their reduced scattering from a power law; the Kubelka-Munk two-flux theory turns each layer into
a reflectance and a transmittance and stacks them (Kubelka 1948; used for skin colour by Anderson
& Parrish 1981, van Gemert et al. 1989, Doi & Tominaga 2003). The camera sees
sum(E(l) R(l) S_c(l)) over wavelength l for a light E and channel sensitivity S_c, divided by the
same sum for a white surface (R = 1): the per-channel white balance a camera applies, so white
maps to (1, 1, 1). The pulse is the change of that colour when arterial blood is added to the
dermis, per unit relative change of the dermal blood volume: its direction is the
blood-volume-pulse signature of de Haan & van Leest (2014), here computed rather than assumed,
so it follows the skin's melanin, the light and the camera. docs/synthetic.md gives every number
below with its source and the resulting signatures.

Spectra are sampled every 10 nm from 400 to 700 nm (`WAVELENGTHS_NM`, 31 samples); one
`skin_colour` call evaluates three reflectance spectra and takes well under a millisecond.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from rppgkit.errors import RppgError

WAVELENGTHS_NM = np.arange(400.0, 701.0, 10.0)
WAVELENGTHS_NM.setflags(write=False)

# Molar extinction coefficients of haemoglobin, [cm^-1 / (mol/L)], columns (HbO2, Hb), at
# WAVELENGTHS_NM: S. Prahl's compilation (OMLC, 1999) of data by W. B. Gratzer and N. Kollias.
_HB_EXTINCTION = (
    (266232.0, 223296.0), (466840.0, 303956.0), (480360.0, 407560.0), (246072.0, 528600.0),
    (102580.0, 413280.0), (62816.0, 103292.0), (44480.0, 23388.8), (33209.2, 16156.4),
    (26629.2, 14550.0), (23684.4, 16684.0), (20932.8, 20862.0), (20035.2, 25773.6),
    (24202.4, 31589.6), (39956.8, 39036.4), (53236.0, 46592.0), (43016.0, 53412.0),
    (32613.2, 53788.0), (44496.0, 45072.0), (50104.0, 37020.0), (14400.8, 28324.4),
    (3200.0, 14677.2), (1506.0, 9443.6), (942.0, 6509.6), (610.0, 5148.8),
    (442.0, 4345.2), (368.0, 3750.12), (319.6, 3226.56), (294.0, 2795.12),
    (277.6, 2407.92), (276.0, 2051.96), (290.0, 1794.28),
)  # fmt: skip
_HB_GRAMS_PER_LITRE = 150.0  # haemoglobin in whole blood (Prahl's conversion)
_HB_GRAMS_PER_MOLE = 64500.0  # gram molecular weight of haemoglobin (Prahl)

_EPIDERMIS_CM = 0.006  # 60 um, the epidermal thickness Jacques (1998) assumes
PULSE_STEP = 0.02  # central difference of +-2% of the dermal blood volume per heartbeat

# CIE standard illuminant D65, relative spectral power at WAVELENGTHS_NM (CIE 15:2004 tables).
_D65 = (
    82.7549, 91.4860, 93.4318, 86.6823, 104.865, 117.008, 117.812, 114.861, 115.923, 108.811,
    109.354, 107.802, 104.790, 107.689, 104.405, 104.046, 100.000, 96.3342, 95.7880, 88.6856,
    90.0062, 89.5991, 87.6987, 83.2886, 83.6992, 80.0268, 80.2146, 82.2778, 78.2842, 69.7213,
    71.6091,
)  # fmt: skip
# CIE LED-B3, a phosphor-converted (blue chip + phosphor) white LED of about 4100 K, from the
# typical-LED illuminants of CIE 15:2018, at WAVELENGTHS_NM.
_LED_B3 = (
    0.05, 0.25, 1.20, 4.24, 12.11, 18.87, 9.90, 6.02, 5.17, 6.77, 8.94, 10.52, 11.51, 12.37,
    13.31, 14.26, 15.08, 15.72, 16.18, 16.50, 16.50, 16.00, 14.96, 13.48, 11.71, 9.85, 8.04,
    6.42, 5.02, 3.88, 2.95,
)  # fmt: skip
# CIE F2 (FL2), cool-white fluorescent lamp, every 5 nm from 395 to 705 nm (CIE 15:2004
# tables): its mercury lines (405, 436, 546, 578 nm) are narrower than the 10 nm grid, so
# `_rebin_5nm` spreads them onto it instead of dropping the ones between samples.
_F2_5NM = (
    2.15, 3.44, 15.69, 3.85, 3.74, 4.19, 4.62, 5.06, 34.98, 11.81, 6.27, 6.63, 6.93, 7.19, 7.40,
    7.54, 7.62, 7.65, 7.62, 7.62, 7.45, 7.28, 7.15, 7.05, 7.04, 7.16, 7.47, 8.04, 8.88, 10.01,
    24.88, 16.64, 14.59, 16.16, 17.56, 18.62, 21.47, 22.79, 19.29, 18.66, 17.73, 16.54, 15.21,
    13.80, 12.36, 10.95, 9.65, 8.40, 7.32, 6.31, 5.43, 4.68, 4.02, 3.45, 2.96, 2.55, 2.19,
    1.89, 1.64, 1.53, 1.27, 1.10, 0.99,
)  # fmt: skip
# Nikon D5100 (a CMOS Bayer camera) relative spectral sensitivity, rows (R, G, B) at
# WAVELENGTHS_NM, each channel peaking at 1: measured by NPL, Darrodi et al. (2015).
_NIKON_D5100 = (
    (0.0, 0.00292, 0.04960, 0.07659, 0.06132, 0.04886, 0.04023, 0.04762, 0.05280, 0.04789,
     0.05023, 0.06370, 0.10039, 0.12361, 0.07634, 0.04119, 0.04254, 0.11180, 0.56450, 0.98103,
     0.96307, 0.83428, 0.70367, 0.57081, 0.43834, 0.34296, 0.23771, 0.09129, 0.02058, 0.00541,
     0.00128),
    (0.0, 0.00134, 0.06497, 0.13707, 0.16864, 0.19603, 0.25424, 0.37347, 0.45965, 0.48886,
     0.61649, 0.80096, 0.93888, 1.0, 0.96155, 0.88910, 0.77632, 0.63580, 0.49276, 0.35179,
     0.21167, 0.11804, 0.07010, 0.04730, 0.03525, 0.02680, 0.02035, 0.00944, 0.00291, 0.00092,
     0.00041),
    (0.00153, 0.01661, 0.36171, 0.75534, 0.87495, 0.96314, 1.0, 0.98897, 0.90496, 0.75146,
     0.56707, 0.39406, 0.24982, 0.16163, 0.10999, 0.06525, 0.03414, 0.01977, 0.01382, 0.01001,
     0.00646, 0.00366, 0.00397, 0.00404, 0.00555, 0.00597, 0.00610, 0.00303, 0.00078, 0.00028,
     0.00025),
)  # fmt: skip

# Melanosome volume fraction of the epidermis per Fitzpatrick type: Jacques (1998) gives 1.3-6.3%
# for light, 11-16% for moderately pigmented and 18-43% for darkly pigmented adults; splitting
# those three groups (and the gaps between them) into six types is this module's assumption.
TYPE_MELANIN: Mapping[int, tuple[float, float]] = MappingProxyType(
    {1: (0.013, 0.03), 2: (0.03, 0.063), 3: (0.063, 0.11), 4: (0.11, 0.16), 5: (0.16, 0.25),
     6: (0.25, 0.43)}
)  # fmt: skip
_BLOOD_RANGE = (0.005, 0.05)  # dermal blood volume fraction, inside Jacques' 0.2-7%
_OXYGENATION_RANGE = (0.6, 0.9)  # mean saturation of dermal (mixed arterial-venous) blood
_ARTERIAL_RANGE = (0.95, 0.99)  # SpO2 of a healthy subject at rest


def _readonly(values: object) -> np.ndarray:
    """A float64 copy of `values` that cannot be written to, for module tables and results."""
    array = np.array(values, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class Skin:
    """Optical make-up of one subject's facial skin.

    `melanin` is the volume fraction of melanosomes in the epidermis (0.013-0.43 from light to
    dark skin), `blood` the volume fraction of blood in the dermis (0.002-0.07, must be > 0: the
    pulse is relative to it), `oxygenation` the mean oxygen saturation of that blood (0.6-0.98)
    and `arterial_oxygenation` the saturation of the blood each heartbeat adds (SpO2).
    """

    melanin: float
    blood: float
    oxygenation: float
    arterial_oxygenation: float = 0.97

    def __post_init__(self) -> None:
        """Raise RppgError naming the first field outside its physical range."""
        for name, low, high in (
            ("melanin", 0.0, 1.0),
            ("oxygenation", 0.0, 1.0),
            ("arterial_oxygenation", 0.0, 1.0),
        ):
            if not low <= getattr(self, name) <= high:
                raise RppgError(f"Skin {name}={getattr(self, name)!r} must be in [{low}, {high}]")
        if not 0.0 < self.blood < 1.0:
            raise RppgError(f"Skin blood={self.blood!r} must be a volume fraction in (0, 1)")


@dataclass(frozen=True)
class Light:
    """A named illuminant: `spectrum` [31] is relative spectral power at `WAVELENGTHS_NM`."""

    name: str
    spectrum: np.ndarray


@dataclass(frozen=True)
class Camera:
    """A named colour camera: `sensitivity` [3, 31] holds the R, G, B spectral sensitivities at
    `WAVELENGTHS_NM` (any per-channel scale: white balance removes it)."""

    name: str
    sensitivity: np.ndarray


@dataclass(frozen=True)
class SkinColour:
    """What a white-balanced camera records of a skin under a light.

    `rgb` [3] is the linear colour, 0..1, with a white surface at (1, 1, 1); `pulse_rgb` [3] is
    d rgb / d (relative blood volume change): negative, as skin darkens when blood rises; a
    heartbeat raising the dermal blood volume by 2% changes the colour by 0.02 * pulse_rgb.
    `reflectance` [31] is the skin's diffuse reflectance at `WAVELENGTHS_NM`.
    """

    rgb: np.ndarray
    pulse_rgb: np.ndarray
    reflectance: np.ndarray

    @property
    def relative_pulse(self) -> np.ndarray:
        """Per-channel relative change, pulse_rgb / rgb [3]: the camera-normalised signal that
        de Haan & van Leest's blood-volume-pulse signature describes."""
        return self.pulse_rgb / self.rgb

    @property
    def pulse_amplitude(self) -> float:
        """Length of `relative_pulse`: how strongly the normalised colour follows blood volume."""
        return float(np.linalg.norm(self.relative_pulse))


# ------------------------------------------------------------------------ absorption, scattering


def blood_absorption(saturation: float) -> np.ndarray:
    """Absorption coefficient of whole blood [cm^-1] at `WAVELENGTHS_NM`, shape [31].

    Parameters
    ----------
    saturation : float
        Oxygen saturation, the fraction of haemoglobin carrying oxygen (0..1).

    Returns
    -------
    numpy.ndarray
        ln(10) * extinction * concentration, with 150 g/L of haemoglobin (Prahl): the molar
        extinction coefficients are decadic, the transport model needs natural-log units.
    """
    extinction = _HB[:, 0] * saturation + _HB[:, 1] * (1.0 - saturation)
    return np.log(10.0) * extinction * _HB_GRAMS_PER_LITRE / _HB_GRAMS_PER_MOLE


def _melanosome_absorption(wavelength_nm: np.ndarray) -> np.ndarray:
    """Absorption coefficient inside a melanosome [cm^-1], 6.6e11 * nm^-3.33 (Jacques 1998)."""
    return 6.6e11 * wavelength_nm**-3.33


def _baseline_absorption(wavelength_nm: np.ndarray) -> np.ndarray:
    """Absorption of bloodless, melanin-free skin [cm^-1] (Jacques 1998, fit to bloodless skin)."""
    return 0.244 + 85.3 * np.exp(-(wavelength_nm - 154.0) / 66.2)


def _reduced_scattering(wavelength_nm: np.ndarray) -> np.ndarray:
    """Reduced scattering of skin [cm^-1], 46.0 * (nm / 500)^-1.421 (Jacques 2013, average skin);
    used for both layers, which Jacques (1998) finds to scatter alike."""
    return 46.0 * (wavelength_nm / 500.0) ** -1.421


_HB = _readonly(_HB_EXTINCTION)
_MELANOSOME = _readonly(_melanosome_absorption(WAVELENGTHS_NM))
_BASELINE = _readonly(_baseline_absorption(WAVELENGTHS_NM))
_SCATTERING = _readonly(_reduced_scattering(WAVELENGTHS_NM))


# ----------------------------------------------------------------------------- Kubelka-Munk


def _km_coefficients(mu_a: np.ndarray, mu_s_reduced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kubelka-Munk absorption K and scattering S [cm^-1] from transport coefficients.

    K = 2 mu_a and S = 3/4 mu_s', the diffusion-limit relation. Star et al. (1988) add -mu_a/4
    to S; it is left out because Thennadil (2008) found that absorption term less accurate
    against exact transport, and it turns S negative in a dark epidermis (mu_a > 3 mu_s').
    """
    return 2.0 * mu_a, 0.75 * mu_s_reduced


def _km_slab(
    mu_a: np.ndarray, mu_s_reduced: np.ndarray, thickness_cm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Diffuse reflectance and transmittance of a layer of `thickness_cm` (Kubelka 1948).

    Parameters
    ----------
    mu_a, mu_s_reduced : numpy.ndarray
        Absorption and reduced scattering coefficients [cm^-1], one per wavelength.
    thickness_cm : float
        Layer thickness.

    Returns
    -------
    tuple of numpy.ndarray
        (R, T) with a = 1 + K/S, b = sqrt(a^2 - 1): R = sinh(bSd) / D, T = b / D,
        D = a sinh(bSd) + b cosh(bSd).
    """
    k, s = _km_coefficients(mu_a, mu_s_reduced)
    a = 1.0 + k / s
    b = np.sqrt(a * a - 1.0)
    x = b * s * thickness_cm
    denominator = a * np.sinh(x) + b * np.cosh(x)
    return np.sinh(x) / denominator, b / denominator


def _km_semi_infinite(mu_a: np.ndarray, mu_s_reduced: np.ndarray) -> np.ndarray:
    """Diffuse reflectance of a layer too thick to see through: R = a - b (Kubelka-Munk).

    The dermis and what lies below are millimetres thick, while visible light returns from
    well under a millimetre, so the dermis is treated as semi-infinite.
    """
    k, s = _km_coefficients(mu_a, mu_s_reduced)
    a = 1.0 + k / s
    return a - np.sqrt(a * a - 1.0)


def _stack(r_top: np.ndarray, t_top: np.ndarray, r_bottom: np.ndarray) -> np.ndarray:
    """Reflectance of a layer (R, T) over a reflector, summing all inter-reflections:
    R = R_top + T_top^2 R_bottom / (1 - R_top R_bottom) (Kubelka 1954)."""
    return r_top + t_top**2 * r_bottom / (1.0 - r_top * r_bottom)


def skin_reflectance(skin: Skin, added_blood: float = 0.0) -> np.ndarray:
    """Diffuse reflectance spectrum R(l) of the two-layer skin at `WAVELENGTHS_NM`, shape [31].

    Parameters
    ----------
    skin : Skin
        Melanin, blood volume and oxygenation of the subject.
    added_blood : float
        Arterial blood volume fraction (saturation `skin.arterial_oxygenation`) added to the
        dermis, replacing bloodless tissue; negative removes it. The pulse is the response to it.

    Returns
    -------
    numpy.ndarray
        Epidermis (melanin + baseline) as a Kubelka-Munk slab over a semi-infinite dermis
        (blood + baseline); surface (specular) reflection is not included.
    """
    epidermis = skin.melanin * _MELANOSOME + (1.0 - skin.melanin) * _BASELINE
    dermis = (
        skin.blood * blood_absorption(skin.oxygenation)
        + added_blood * blood_absorption(skin.arterial_oxygenation)
        + (1.0 - skin.blood - added_blood) * _BASELINE
    )
    r_epi, t_epi = _km_slab(epidermis, _SCATTERING, _EPIDERMIS_CM)
    return _stack(r_epi, t_epi, _km_semi_infinite(dermis, _SCATTERING))


# ----------------------------------------------------------------------------- light and camera


def _rebin_5nm(values_5nm: tuple[float, ...]) -> np.ndarray:
    """Spectral power every 5 nm from 395 to 705 nm onto `WAVELENGTHS_NM`, energy kept.

    Each 10 nm sample takes its own 5 nm sample with weight 1/2 and its two neighbours with 1/4
    (a triangle one grid step wide), so a line between two 10 nm samples is split between them.
    """
    power = np.asarray(values_5nm, dtype=np.float64)
    return 0.25 * power[0:-2:2] + 0.5 * power[1:-1:2] + 0.25 * power[2::2]


def _cie_illuminant_a(wavelength_nm: np.ndarray) -> np.ndarray:
    """CIE standard illuminant A (incandescent, 2856 K) by its defining Planck formula, scaled to
    100 at 560 nm (CIE 15:2004, with c2 = 1.435e7 nm K as in its definition)."""
    c2_over_t = 1.435e7 / 2848.0
    return (
        100.0
        * (560.0 / wavelength_nm) ** 5
        * np.expm1(c2_over_t / 560.0)
        / np.expm1(c2_over_t / wavelength_nm)
    )


LIGHTS: Mapping[str, Light] = MappingProxyType(
    {
        "D65": Light("D65 (daylight)", _readonly(_D65)),
        "A": Light("A (incandescent)", _readonly(_cie_illuminant_a(WAVELENGTHS_NM))),
        "LED-B3": Light("LED-B3 (white LED, 4100 K)", _readonly(_LED_B3)),
        "F2": Light("F2 (cool-white fluorescent)", _readonly(_rebin_5nm(_F2_5NM))),
    }
)
NIKON_D5100 = Camera("Nikon D5100", _readonly(_NIKON_D5100))


def camera_rgb(reflectance: np.ndarray, light: Light, camera: Camera) -> np.ndarray:
    """White-balanced linear RGB of a surface, shape [3].

    Parameters
    ----------
    reflectance : numpy.ndarray
        Diffuse reflectance at `WAVELENGTHS_NM` [31] (or [..., 31] for several surfaces).
    light, camera : Light, Camera
        The illuminant and the camera's spectral sensitivities.

    Returns
    -------
    numpy.ndarray
        sum(E R S_c) / sum(E S_c) per channel c: the raw response divided by that of a white
        surface, i.e. the per-channel gains of a camera white-balanced to this light.
    """
    weights = camera.sensitivity * light.spectrum  # [3, 31]
    return np.asarray(reflectance) @ weights.T / weights.sum(axis=1)


def skin_colour(skin: Skin, light: Light, camera: Camera = NIKON_D5100) -> SkinColour:
    """Camera colour of a skin and the colour of its pulse under a light.

    Parameters
    ----------
    skin : Skin
        The subject's skin (see `skin_for_type`).
    light : Light
        The illuminant, e.g. ``LIGHTS["D65"]``.
    camera : Camera
        The camera; the measured Nikon D5100 by default.

    Returns
    -------
    SkinColour
        rgb, and pulse_rgb from a central difference: arterial blood of +-`PULSE_STEP` times
        `skin.blood` added and removed, divided by 2 * `PULSE_STEP`.
    """
    delta = PULSE_STEP * skin.blood
    spectra = np.stack(
        [skin_reflectance(skin), skin_reflectance(skin, delta), skin_reflectance(skin, -delta)]
    )
    rgb, more, less = camera_rgb(spectra, light, camera)
    return SkinColour(
        rgb=_readonly(rgb),
        pulse_rgb=_readonly((more - less) / (2.0 * PULSE_STEP)),
        reflectance=_readonly(spectra[0]),
    )


# ----------------------------------------------------------------------------- subjects


def _melanin_range(fitzpatrick: int) -> tuple[float, float]:
    """Melanosome volume fraction range of a Fitzpatrick type; RppgError if not 1..6."""
    if fitzpatrick not in TYPE_MELANIN:
        raise RppgError(f"Fitzpatrick type {fitzpatrick!r} is unknown: use 1 to 6")
    return TYPE_MELANIN[fitzpatrick]


def typical_skin(fitzpatrick: int) -> Skin:
    """The middle of each range for a Fitzpatrick type, for tables and tests.

    Parameters
    ----------
    fitzpatrick : int
        Skin type 1 (lightest) to 6 (darkest).

    Returns
    -------
    Skin
        Geometric means of the melanin and blood ranges (both span a factor of 1.5-10), the
        middle of the oxygenation range, and SpO2 0.97.
    """
    low, high = _melanin_range(fitzpatrick)
    return Skin(
        melanin=float(np.sqrt(low * high)),
        blood=float(np.sqrt(_BLOOD_RANGE[0] * _BLOOD_RANGE[1])),
        oxygenation=float(np.mean(_OXYGENATION_RANGE)),
        arterial_oxygenation=0.97,
    )


def skin_for_type(fitzpatrick: int, rng: np.random.Generator) -> Skin:
    """Draw one subject's skin for a Fitzpatrick type.

    Parameters
    ----------
    fitzpatrick : int
        Skin type 1 (lightest) to 6 (darkest).
    rng : numpy.random.Generator
        Source of the per-subject variation.

    Returns
    -------
    Skin
        Melanin uniform in the type's `TYPE_MELANIN` range; blood log-uniform in 0.5-5% (it varies
        by a factor, not an offset, between people and sites); oxygenation uniform in 0.6-0.9;
        SpO2 uniform in 0.95-0.99. Blood and oxygenation do not depend on the type.
    """
    low, high = _melanin_range(fitzpatrick)
    log_blood = rng.uniform(np.log(_BLOOD_RANGE[0]), np.log(_BLOOD_RANGE[1]))
    return Skin(
        melanin=float(rng.uniform(low, high)),
        blood=float(np.exp(log_blood)),
        oxygenation=float(rng.uniform(*_OXYGENATION_RANGE)),
        arterial_oxygenation=float(rng.uniform(*_ARTERIAL_RANGE)),
    )
