"""Agreement of estimated and reference heart rates: MAE, RMSE, MAPE, Pearson r, SNR, each with a
95% bootstrap interval (scipy.stats.bootstrap, percentile method, pairs resampled together)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A statistic and its bootstrap confidence interval (NaN where it cannot be computed)."""

    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float | None]:
        return {k: (None if np.isnan(v) else round(float(v), 4)) for k, v in vars(self).items()}

    def __str__(self) -> str:
        if np.isnan(self.value):
            return "-"
        if np.isnan(self.low):
            return f"{self.value:.2f}"
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}]"


def mae(est: np.ndarray, ref: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(np.abs(est - ref), axis=axis)


def rmse(est: np.ndarray, ref: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.sqrt(np.mean((est - ref) ** 2, axis=axis))


def mape(est: np.ndarray, ref: np.ndarray, axis: int = -1) -> np.ndarray:
    return 100 * np.mean(np.abs(est - ref) / np.abs(ref), axis=axis)


def pearson(est: np.ndarray, ref: np.ndarray, axis: int = -1) -> np.ndarray:
    de = est - est.mean(axis=axis, keepdims=True)
    dr = ref - ref.mean(axis=axis, keepdims=True)
    den = np.sqrt((de**2).sum(axis=axis) * (dr**2).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (de * dr).sum(axis=axis) / den


PAIRED = {"mae": mae, "rmse": rmse, "mape": mape, "pearson_r": pearson}


def hr_metrics(
    est: np.ndarray,
    ref: np.ndarray,
    snr_db: np.ndarray | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
) -> dict[str, Interval]:
    """MAE and RMSE (bpm), MAPE (%), Pearson r and mean SNR (dB) with 95% intervals."""
    est, ref = np.asarray(est, float), np.asarray(ref, float)
    out = {
        name: _bootstrap(fn, (est, ref), n_resamples, seed, min_n=3 if name == "pearson_r" else 1)
        for name, fn in PAIRED.items()
    }
    snr = np.asarray(snr_db if snr_db is not None else [], float)
    snr = snr[np.isfinite(snr)]
    out["snr_db"] = _bootstrap(lambda x, axis=-1: np.mean(x, axis=axis), (snr,), n_resamples, seed)
    return out


def _bootstrap(fn, data: tuple[np.ndarray, ...], n_resamples: int, seed: int, min_n: int = 1):
    n = len(data[0])
    if n < min_n:
        return Interval(np.nan, np.nan, np.nan)
    value = float(fn(*data))
    if n < 2:
        return Interval(value, np.nan, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate resamples warn; they are dropped below
        res = stats.bootstrap(
            data,
            fn,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            confidence_level=CONFIDENCE,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
    # percentile interval, leaving out degenerate resamples (e.g. r of all-equal values)
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.nanpercentile(res.bootstrap_distribution, [tail, 100 - tail])
    return Interval(value, float(low), float(high))
