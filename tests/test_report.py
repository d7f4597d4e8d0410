"""The measurement report: the raster plotter's pieces and the PNG figure drawn with them."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from rppgkit.pipeline import analyse
from rppgkit.report.figure import HR, PULSE, SIZE, SPECTRUM, report_png
from rppgkit.report.raster import (
    BLUE,
    RED,
    SUPERSAMPLE,
    Canvas,
    nice_ticks,
    red_yellow_green,
    tint,
)
from rppgkit.trace.extract import extract_trace
from rppgkit.video.reader import open_video


@pytest.mark.parametrize(
    ("lo", "hi", "most", "expected"),
    [
        (0.0, 12.3, 7, [0, 2, 4, 6, 8, 10, 12]),
        (0.0, 1.0, 6, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        (40.0, 180.0, 7, [50, 75, 100, 125, 150, 175]),
        (-0.12, 0.11, 7, [-0.1, -0.05, 0, 0.05, 0.1]),
    ],
)
def test_nice_ticks_are_round_evenly_spaced_and_inside(lo, hi, most, expected) -> None:
    assert nice_ticks(lo, hi, most) == pytest.approx(expected)


def test_a_flat_range_has_one_tick() -> None:
    assert nice_ticks(3.0, 3.0).tolist() == [3.0]


def test_quality_colours_run_from_red_to_green() -> None:
    low, middle, high, missing = red_yellow_green(np.array([0.0, 0.5, 1.0, np.nan]))
    assert low == (215, 25, 28) and middle == (255, 255, 191) and high == (26, 150, 65)
    assert missing == low  # a window without a quality index is drawn as poor
    assert tint(BLUE, 0.0) == (255, 255, 255) and tint(BLUE, 1.0) == BLUE


def test_panel_maps_data_corners_to_its_rectangle() -> None:
    panel = Canvas(200, 100).panel((10, 20, 110, 80), (0.0, 5.0), (-1.0, 1.0))
    corners = panel.points(np.array([0.0, 5.0]), np.array([-1.0, 1.0]))
    # bottom left and top right, in supersampled pixels (y grows downwards)
    assert corners == [(10 * SUPERSAMPLE, 80 * SUPERSAMPLE), (110 * SUPERSAMPLE, 20 * SUPERSAMPLE)]


def _shares(
    png: bytes, rect: tuple[int, int, int, int], colour: tuple[int, int, int], columns: bool = False
) -> float:
    """Share of a rectangle's pixels (or, with `columns`, of its columns holding any such pixel)
    within 40 levels of `colour`."""
    bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    x0, y0, x1, y1 = rect
    near = np.abs(bgr[y0:y1, x0:x1, ::-1].astype(int) - colour).max(axis=-1) < 40
    return float(np.mean(near.any(axis=0) if columns else near))


@pytest.fixture(scope="module")
def measured(videos):
    return analyse(extract_trace(open_video(videos["clean"][0])), method="pos")


def test_report_png_draws_each_panel(measured) -> None:
    png = report_png(measured)
    bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert bgr.shape == (SIZE[1], SIZE[0], 3)
    assert _shares(png, PULSE, RED, columns=True) > 0.7  # the pulse waveform, across
    x0, y0, x1, y1 = SPECTRUM  # the peak (1 on an axis to 1.05) at the top, under the HR line
    blue = np.abs(bgr[y0:y1, x0:x1, ::-1].astype(int) - BLUE).max(axis=-1) < 40
    assert np.flatnonzero(blue.any(axis=1))[0] == pytest.approx((y1 - y0) * 0.05 / 1.05, abs=5)
    assert _shares(png, SPECTRUM, tint(BLUE, 0.08)) > 0.3  # the pass band behind it
    green = red_yellow_green(np.array([1.0]))[0]  # a clean clip's windows are of good quality
    assert _shares(png, HR, green) > 0.001
    face = bgr[70:520, 40:380]
    assert face.std() > 20  # the face preview, not a blank area


def test_report_png_without_face_preview_or_heart_rate(measured) -> None:
    trace = dataclasses.replace(measured.trace, preview=None)
    windows = [dataclasses.replace(w, bpm=float("nan")) for w in measured.windows]
    png = report_png(dataclasses.replace(measured, trace=trace, windows=windows))
    bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert bgr.shape == (SIZE[1], SIZE[0], 3)
    assert np.mean(bgr[70:520, 40:380] < 200) < 0.02  # nothing but the "no face preview" note


def test_a_line_breaks_where_values_are_missing() -> None:
    canvas = Canvas(100, 20)
    panel = canvas.panel((0, 0, 100, 20), (0.0, 10.0), (0.0, 1.0))
    x = np.arange(11.0)
    y = np.where((x > 3) & (x < 7), np.nan, 0.5)  # values at 0-3 and 7-10
    panel.line(x, y, RED, width=2)
    bgr = cv2.imdecode(np.frombuffer(canvas.png(), np.uint8), cv2.IMREAD_COLOR)
    row = bgr[10, :, ::-1].astype(int)
    drawn = np.abs(row - RED).max(axis=-1) < 60
    assert drawn[5:25].all() and drawn[75:95].all()  # the two runs
    assert not drawn[35:65].any()  # no segment across the gap
