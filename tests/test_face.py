"""Face detection on a real photograph, nothing on noise, and the tracker's bookkeeping."""

import cv2
import numpy as np
import pytest
from skimage import data

from rppgkit.errors import RppgError
from rppgkit.face.detect import Box, Detector, check_detector, create_detector
from rppgkit.face.skin import SkinModel, _chroma_table
from rppgkit.face.track import FaceStatus, FaceTracker

# astronaut() scaled to 480 rows, centred in a 640x480 frame: her face spans about x 245-330,
# y 60-165 of the frame (checked by eye).
FACE = (240, 55, 335, 170)


@pytest.fixture(scope="module")
def astronaut_frame() -> np.ndarray:
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, 80:560] = cv2.resize(data.astronaut(), (480, 480), interpolation=cv2.INTER_AREA)
    return frame


@pytest.mark.parametrize("name", ["yunet", "haar"])
def test_detects_the_astronaut(name: str, astronaut_frame: np.ndarray) -> None:
    boxes = create_detector(name)(astronaut_frame)
    assert len(boxes) == 1
    cx, cy = boxes[0].center
    x0, y0, x1, y1 = FACE
    assert x0 < cx < x1 and y0 < cy < y1
    assert 0.5 * (x1 - x0) < boxes[0].w < 2.0 * (x1 - x0)


@pytest.mark.parametrize("name", ["yunet", "haar"])
def test_finds_nothing_in_noise(name: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert create_detector(name)(noise) == []
    assert create_detector(name)(np.full((480, 640, 3), 128, np.uint8)) == []


def test_unknown_detector() -> None:
    with pytest.raises(
        RppgError, match=r"^unknown face detector 'mtcnn'; choose one of: haar, yunet$"
    ):
        create_detector("mtcnn")
    with pytest.raises(RppgError, match="unknown face detector 'mtcnn'"):
        check_detector("mtcnn")
    check_detector("YuNet")  # names in any case
    assert isinstance(create_detector(" HAAR "), Detector)


class FakeDetector:
    """Answers from a script: a box, or nothing, per call; remembers where it was asked to look."""

    def __init__(self, answers: list[Box | None]) -> None:
        self.answers, self.near = list(answers), []

    def __call__(self, rgb: np.ndarray, near: Box | None = None) -> list[Box]:
        self.near.append(near)
        box = self.answers.pop(0) if self.answers else None
        return [] if box is None else [box]


@pytest.mark.parametrize("name", ["yunet", "haar"])
def test_search_near_a_known_face(name: str, astronaut_frame: np.ndarray) -> None:
    detect = create_detector(name)
    (full,) = detect(astronaut_frame)
    (near,) = detect(astronaut_frame, near=full)
    assert abs(near.center[0] - full.center[0]) < 0.1 * full.w
    assert abs(near.center[1] - full.center[1]) < 0.1 * full.h
    assert 0.8 < near.w / full.w < 1.25
    assert detect(astronaut_frame, near=Box(500, 300, 60, 60)) == []  # nobody there


def textured_frame(shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A 160x120 frame of smooth random texture, moved by `shift` (x, y) pixels."""
    rng = np.random.default_rng(1)
    grey = cv2.GaussianBlur(rng.uniform(0, 255, (120, 160)).astype(np.float32), (0, 0), 2.0)
    grey = cv2.normalize(grey, None, 20, 235, cv2.NORM_MINMAX)
    move = np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float32)
    grey = cv2.warpAffine(
        grey, move, (160, 120), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT
    )
    return np.repeat(grey[..., None], 3, axis=2).round().astype(np.uint8)


def test_tracker_detects_every_n_frames_and_bridges_short_gaps() -> None:
    box = Box(50, 30, 50, 50)
    # detection 1 succeeds, then the face is lost for good
    det = FakeDetector([box] + [None] * 20)
    tracker = FaceTracker(det, every=3, max_gap_s=0.14)
    frame = textured_frame()
    states = [tracker.update(frame, i / 30)[1] for i in range(8)]
    assert states[:3] == [FaceStatus.DETECTED, FaceStatus.TRACKED, FaceStatus.TRACKED]
    # detection at frame 3 fails: bridged while within 0.14 s of the last sighting, then missing,
    # retrying detection on every frame meanwhile
    assert states[3:5] == [FaceStatus.BRIDGED, FaceStatus.BRIDGED]
    assert states[5:] == [FaceStatus.MISSING] * 3
    # frame 0: whole frame; frames 3-5: near the (still) face, then the whole frame; 6-7: whole
    assert [near is None for near in det.near] == [True] + [False, True] * 3 + [True, True]
    for near in det.near[1:7:2]:
        assert np.allclose(near.as_array(), box.as_array(), atol=0.05)


@pytest.mark.parametrize(("width", "detected"), [(50, [0, 2, 4, 6, 8]), (110, [0, 5])])
def test_tracker_detects_a_large_face_less_often(width: float, detected: list[int]) -> None:
    """With `every_large`, a face at least LARGE_FACE_PX (100) wide is detected at that
    cadence, a smaller one at `every`."""
    box = Box(25, 10, width, 100)
    tracker = FaceTracker(FakeDetector([box] * 10), every=2, every_large=5)
    frame = textured_frame()
    states = [tracker.update(frame, i / 30)[1] for i in range(10)]
    assert [i for i, s in enumerate(states) if s == FaceStatus.DETECTED] == detected
    assert FaceStatus.BRIDGED not in states and FaceStatus.MISSING not in states


def test_tracker_moves_with_the_face_and_averages_detection_jitter_away() -> None:
    """A face moving by sub-pixel steps, detected with +-1 px jitter: the box follows the true
    motion, the jitter is averaged away, and a detection far away (a cut) snaps the box there."""
    rng = np.random.default_rng(0)
    truth = [(0.3 * i, -0.2 * i) for i in range(40)]
    detections = [Box(50 + dx + rng.choice([-1, 1]), 30 + dy, 50, 50) for dx, dy in truth]
    tracker = FaceTracker(FakeDetector([*detections, Box(5, 5, 50, 50)]), every=1)
    errors = []
    for i, (dx, dy) in enumerate(truth):
        box, _ = tracker.update(textured_frame((dx, dy)), i / 30)
        errors.append((box.x - 50 - dx, box.y - 30 - dy))
    ex, ey = np.array(errors).T
    assert np.abs(ey).max() < 0.07  # y: detections without jitter, and registration agrees
    # x: the first detection's 1 px error shrinks slowly; the +-1 px jitter hardly passes
    assert np.abs(ex[-1]) < 0.6 * np.abs(ex[0])
    assert np.std(np.diff(ex)) < 0.1 * np.std(np.diff([d.x for d in detections]))
    box, _ = tracker.update(textured_frame(), 40 / 30)
    assert (box.x, box.y) == (5, 5) and tracker.jumped


def test_tracker_smooths_detections_where_the_face_cannot_be_registered() -> None:
    det = FakeDetector([Box(100, 100, 50, 50), Box(104, 100, 50, 50), Box(300, 100, 50, 50)])
    tracker = FaceTracker(det, every=1, smoothing=0.5)
    frame = np.zeros((4, 4, 3), np.uint8)  # flat: nothing to register
    xs = [tracker.update(frame, i / 30)[0].x for i in range(3)]
    assert xs == [100, 102, 300]


def test_skin_model_excludes_eyes_hair_and_background() -> None:
    """A flat skin-coloured face crop with dark eyes, brown hair band and blue background."""
    rng = np.random.default_rng(0)
    face = np.empty((100, 80, 3), np.float32)
    face[:] = (200, 150, 120)
    face[:15] = (70, 45, 30)  # hair
    face[38:46, 15:30] = face[38:46, 50:65] = (30, 30, 30)  # eyes
    face[:, :6] = (40, 60, 160)  # background at the edge
    face += rng.normal(0, 2, face.shape)
    mask = SkinModel().segment(np.clip(face, 0, 255).astype(np.uint8))
    assert mask[48:90, 18:62].mean() > 0.97  # cheeks, nose, chin inside the face ellipse
    assert mask[:15].mean() < 0.02 and mask[38:46, 15:30].mean() < 0.02
    assert mask[:, :6].mean() < 0.02


def test_chroma_table_is_the_mahalanobis_test_on_every_cell() -> None:
    """The table is evaluated inside the ellipse's bounding box only; outside it every cell
    must be 0 and inside it equal to the full test, for narrow, wide and tilted models."""
    rng = np.random.default_rng(0)
    axis = np.arange(256.0)
    for _ in range(50):
        mean, sd, corr = rng.uniform(20, 235, 2), rng.uniform(1.5, 30, 2), rng.uniform(-0.9, 0.9)
        cov = np.array([[sd[0] ** 2, corr * sd[0] * sd[1]], [corr * sd[0] * sd[1], sd[1] ** 2]])
        d = np.stack(np.meshgrid(axis - mean[0], axis - mean[1], indexing="ij"), axis=-1)
        dist2 = np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d)
        table = _chroma_table(mean, cov, 4.5)
        assert table.dtype == np.float32
        # cells within float rounding of the limit may go either way
        clear = np.abs(dist2 - 4.5**2) > 1e-6
        assert np.array_equal(table[clear], (dist2 < 4.5**2)[clear].astype(np.float32))
