"""Agreement of estimated and reference heart rates: MAE, RMSE, MAPE, Pearson r, SNR, each with a
95% bootstrap interval (scipy.stats.bootstrap, percentile method, pairs resampled together, or
whole recordings where pairs are grouped by recording: its overlapping windows are not
independent)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from rppgkit.docfill import fill_doc

CONFIDENCE = 0.95

_DOC = {  # the parameters every paired statistic's docstring shares (`fill_doc`)
    "pairs": """Parameters
----------
est, ref : array_like
    Estimated and reference values (heart rates in bpm), paired element by element.
axis : int
    Axis the pairs lie along; the others are kept (the bootstrap's resamples).""",
    "example": ">>> est, ref = np.array([70.0, 82, 90, 65]), np.array([72.0, 80, 91, 66])",
}


@dataclass(frozen=True)
class Interval:
    """A statistic and its bootstrap confidence interval (NaN where it cannot be computed)."""

    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float | None]:
        return {k: (None if np.isnan(v) else round(float(v), 4)) for k, v in vars(self).items()}

    def __str__(self) -> str:
        return self.format("")

    def format(self, sign: str = "+") -> str:
        """ "value [low, high]" to 2 decimals ("-" for NaN), signed by default (differences).

        Examples
        --------
        >>> Interval(-1.5, -2.25, 0.5).format(), str(Interval(3.0, float("nan"), float("nan")))
        ('-1.50 [-2.25, +0.50]', '3.00')
        """
        if np.isnan(self.value):
            return "-"
        spec = f"{sign}.2f"
        if np.isnan(self.low):
            return f"{self.value:{spec}}"
        return f"{self.value:{spec}} [{self.low:{spec}}, {self.high:{spec}}]"


STATISTICS = ("mae", "rmse", "mape", "pearson_r", "snr_db")
"""The statistics of `HRMetrics`, in the order the tables show them."""


@dataclass(frozen=True)
class HRMetrics:
    """Agreement of one method's heart rates with the reference, at one level (windows or
    videos); every statistic with its 95% bootstrap interval."""

    n: int  # pairs where both heart rates exist
    mae: Interval  # bpm
    rmse: Interval  # bpm
    mape: Interval  # %
    pearson_r: Interval
    snr_db: Interval  # mean SNR of the estimates, dB

    def as_dict(self) -> dict[str, object]:
        """metrics.json's object for this level: ``n`` and each statistic's value and bounds."""
        return {"n": self.n, **{k: getattr(self, k).as_dict() for k in STATISTICS}}


@dataclass(frozen=True)
class MethodMetrics:
    """One method's `HRMetrics` per heart-rate window and per whole video."""

    window: HRMetrics
    video: HRMetrics
    against_first: Interval | None = None  # per-window |error| minus the first method's (bpm)


@fill_doc(_DOC)
def mae(est: ArrayLike, ref: ArrayLike, axis: int = -1) -> np.ndarray:
    """Mean absolute error of `est` against `ref`, in their units.

    %(pairs)s

    Returns
    -------
    np.ndarray
        The mean absolute error, a numpy scalar for 1-D input.

    Examples
    --------
    %(example)s
    >>> round(float(mae(est, ref)), 2)
    1.5
    >>> float(mae([70, 80], [72, 80]))  # plain lists too
    1.0
    >>> mae(np.stack([est, ref]), ref).tolist()  # one error per row
    [1.5, 0.0]
    """
    est, ref = _floats(est, ref)
    return np.mean(np.abs(est - ref), axis=axis)


@fill_doc(_DOC)
def rmse(est: ArrayLike, ref: ArrayLike, axis: int = -1) -> np.ndarray:
    """Root mean square error of `est` against `ref`, in their units: large errors weigh more.

    %(pairs)s

    Returns
    -------
    np.ndarray
        The root mean square error, a numpy scalar for 1-D input.

    Examples
    --------
    %(example)s
    >>> round(float(rmse(est, ref)), 2)
    1.58
    """
    est, ref = _floats(est, ref)
    return np.sqrt(np.mean((est - ref) ** 2, axis=axis))


@fill_doc(_DOC)
def mape(est: ArrayLike, ref: ArrayLike, axis: int = -1) -> np.ndarray:
    """Mean absolute percentage error of `est`, relative to `ref`, in %.

    %(pairs)s

    Returns
    -------
    np.ndarray
        The error in %, a numpy scalar for 1-D input; infinite where `ref` holds a zero.

    Examples
    --------
    %(example)s
    >>> round(float(mape(est, ref)), 2)
    1.97
    """
    est, ref = _floats(est, ref)
    return 100 * np.mean(np.abs(est - ref) / np.abs(ref), axis=axis)


@fill_doc(_DOC)
def pearson(est: ArrayLike, ref: ArrayLike, axis: int = -1) -> np.ndarray:
    """Pearson correlation of `est` and `ref`: whether the estimates follow the reference.

    %(pairs)s

    Returns
    -------
    np.ndarray
        r in [-1, 1], a numpy scalar for 1-D input; NaN where either side is constant.

    Examples
    --------
    %(example)s
    >>> round(float(pearson(est, ref)), 3)
    0.989
    """
    est, ref = _floats(est, ref)
    de = est - est.mean(axis=axis, keepdims=True)
    dr = ref - ref.mean(axis=axis, keepdims=True)
    den = np.sqrt((de**2).sum(axis=axis) * (dr**2).sum(axis=axis))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (de * dr).sum(axis=axis) / den


def _floats(est: ArrayLike, ref: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """`est` and `ref` as float arrays (lists and tuples are welcome)."""
    return np.asarray(est, dtype=float), np.asarray(ref, dtype=float)


def hr_metrics(
    est: ArrayLike,
    ref: ArrayLike,
    snr_db: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
) -> HRMetrics:
    """MAE and RMSE (bpm), MAPE (%), Pearson r and mean SNR (dB) with 95% intervals.

    Parameters
    ----------
    est, ref : array_like
        ``[K]`` estimated and reference heart rates in bpm, paired (resampled together).
    snr_db : array_like, optional
        ``[K]`` SNR of each estimate in dB; non-finite values are left out of the mean.
    groups : array_like, optional
        ``[K]`` the recording each pair comes from. The bootstrap then resamples whole
        recordings: overlapping windows of one recording are not independent, and resampling
        them one by one makes the interval too narrow. None: every pair is its own group.
    n_resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling, so intervals repeat.

    Returns
    -------
    HRMetrics
        The number of pairs and each statistic. NaN where a statistic cannot be computed (no
        pairs; Pearson r under 3; no SNR); the bounds are NaN under 2 groups.

    Examples
    --------
    >>> est, ref = np.array([70.0, 82.0, 90.0, 65.0]), np.array([72.0, 80.0, 91.0, 66.0])
    >>> m = hr_metrics(est, ref, n_resamples=200)
    >>> m.n, round(m.mae.value, 2), str(m.snr_db)
    (4, 1.5, '-')
    >>> by_video = hr_metrics(est, ref, groups=["a", "a", "b", "b"], n_resamples=200)
    >>> by_video.mae.value, by_video.mae.low, by_video.mae.high  # videos' MAEs: 2 and 1
    (1.5, 1.0, 2.0)
    """
    est, ref = _floats(est, ref)
    err = est - ref
    moments = {  # statistic: (pooling function, per-pair columns, fewest pairs)
        "mae": (_pooled_mean, [np.abs(err)], 1),
        "rmse": (_pooled_rms, [err**2], 1),
        "mape": (_pooled_mean, [100 * np.abs(err) / np.abs(ref)], 1),
        "pearson_r": (_pooled_pearson, [est, ref, est**2, ref**2, est * ref], 3),
    }
    stats_ = {
        name: _grouped_interval(fn, columns, groups, n_resamples, seed, min_n)
        for name, (fn, columns, min_n) in moments.items()
    }
    snr = np.full(len(est), np.nan) if snr_db is None else snr_db
    mean_snr = mean_interval(snr, groups, n_resamples, seed)
    return HRMetrics(n=len(est), snr_db=mean_snr, **stats_)


def mean_interval(
    values: ArrayLike, groups: ArrayLike | None = None, n_resamples: int = 2000, seed: int = 0
) -> Interval:
    """Mean of `values` with its 95% bootstrap interval, resampling whole `groups`.

    For a paired comparison of two methods, `values` is the difference of their errors on the
    same windows and `groups` the recording of each window: an interval that holds zero says
    the data cannot tell the two apart.

    Parameters
    ----------
    values : array_like
        ``[K]`` values; non-finite ones are left out.
    groups : array_like, optional
        ``[K]`` the group (recording) of each value; None: each value its own group.
    n_resamples : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling.

    Returns
    -------
    Interval
        NaN without values; NaN bounds under 2 groups.

    Examples
    --------
    >>> mean_interval([0.5, 0.5, 0.5]).low
    0.5
    >>> i = mean_interval([1.0, 1.0, -1.0, -1.0], groups=[0, 0, 1, 1], n_resamples=500)
    >>> i.value, i.low, i.high
    (0.0, -1.0, 1.0)
    """
    values = np.asarray(values, float)
    ok = np.isfinite(values)
    kept = None if groups is None else np.asarray(groups)[ok]
    return _grouped_interval(_pooled_mean, [values[ok]], kept, n_resamples, seed, 1)


def _grouped_interval(
    fn: Callable[..., np.ndarray],
    columns: list[np.ndarray],
    groups: ArrayLike | None,
    n_resamples: int,
    seed: int,
    min_n: int,
) -> Interval:
    """`fn` of the pooled `columns` with its interval, resampling groups: each column is summed
    within each group (with the group's count first), and `fn` pools the sums it is given."""
    n = len(columns[0])
    if n < min_n:
        return Interval(np.nan, np.nan, np.nan)
    data = [np.ones(n), *columns]
    if groups is not None:
        _, index = np.unique(np.asarray(groups), return_inverse=True)
        data = [np.bincount(index, weights=c) for c in data]
    return bootstrap_interval(fn, tuple(data), n_resamples, seed)


def _pooled_mean(count: np.ndarray, total: np.ndarray, axis: int = -1) -> np.ndarray:
    """The mean of the values whose group `count`s and sums (`total`) are given."""
    return total.sum(axis=axis) / count.sum(axis=axis)


def _pooled_rms(count: np.ndarray, squares: np.ndarray, axis: int = -1) -> np.ndarray:
    """The root mean square from group counts and sums of squares."""
    return np.sqrt(_pooled_mean(count, squares, axis))


def _pooled_pearson(*sums: np.ndarray, axis: int = -1) -> np.ndarray:
    """Pearson r from group sums of 1, x, y, x^2, y^2 and xy; NaN where a side is constant."""
    n, x, y, xx, yy, xy = (s.sum(axis=axis) for s in sums)
    var_x, var_y = n * xx - x**2, n * yy - y**2
    constant = (var_x <= 1e-10 * n * xx) | (var_y <= 1e-10 * n * yy)  # rounding, not spread
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (n * xy - x * y) / np.sqrt(var_x * var_y)
    return np.where(constant, np.nan, np.clip(r, -1.0, 1.0))


def bootstrap_interval(
    fn: Callable[..., np.ndarray],
    data: tuple[np.ndarray, ...],
    n_resamples: int = 2000,
    seed: int = 0,
) -> Interval:
    """`fn(*data)` with its 95% percentile bootstrap interval, the arrays of `data` resampled
    together (scipy.stats.bootstrap, paired); degenerate resamples are left out.

    `fn` takes the arrays and an ``axis`` keyword (it is called on all resamples at once). NaN
    without data; the bounds are NaN under 2 rows.

    Examples
    --------
    >>> i = bootstrap_interval(mae, (np.array([1.0, 2, 3, 4]), np.zeros(4)), n_resamples=500)
    >>> i.value, i.low <= 2.5 <= i.high
    (2.5, True)
    """
    n = len(data[0])
    if n == 0:
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
