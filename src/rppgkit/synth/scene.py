"""Render a face video cheaply: a pre-drawn face sprite, one affine warp per frame, then colour.

The face layer (premultiplied colour + alpha) and its skin weight are drawn once. Each frame warps
them with one 2x3 affine (head motion), composites over a static background, multiplies the skin
by the pulsatile colour change, multiplies everything by the illumination and adds sensor noise
while rounding to uint8. At 640x480 this runs at well over 100 frames/s on one core.

Pulsatile colour: skin RGB is multiplied by (1 - gain_c * pulse), pulse in 0..1: more blood
absorbs more light, so skin is darkest at the systolic peak (generator 1.0 brightened it, which
put every beat of the video half a cycle away from its ground truth). The per-channel
ratio follows the blood-volume-pulse signature of skin, R:G:B = 0.33:0.77:0.53 (de Haan & van
Leest 2014), so green is strongest; `pulse_amplitude` is the peak-to-peak relative change of green
for Fitzpatrick type III and is scaled by `PULSE_TONE_FACTOR` for other types, since melanin
absorbs part of the light that reaches the blood and darker skin pulses less relative to its
brightness. The factors are illustrative of that trend, not measured constants.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import skimage.data
from scipy.special import expit

from rppgkit import dsp

# Fitzpatrick-like skin types I-VI as base sRGB colours (lit, before shading).
SKIN_TONES: dict[int, tuple[int, int, int]] = {
    1: (241, 210, 190),
    2: (229, 188, 160),
    3: (207, 160, 125),
    4: (176, 124, 88),
    5: (130, 86, 57),
    6: (84, 55, 38),
}
PULSE_TONE_FACTOR: dict[int, float] = {1: 1.2, 2: 1.1, 3: 1.0, 4: 0.8, 5: 0.6, 6: 0.45}
PBV_SIGNATURE = np.array([0.33, 0.77, 0.53], dtype=np.float32)

_HAIR_COLOURS = {
    "black": (28, 22, 20),
    "dark brown": (62, 42, 30),
    "brown": (110, 74, 48),
    "blonde": (196, 160, 100),
    "auburn": (140, 68, 38),
}
_HAIR_BY_TONE = {1: 5, 2: 5, 3: 3, 4: 2, 5: 2, 6: 2}  # how many of the colours above can occur
_IRIS_COLOURS = ((70, 45, 30), (45, 90, 130), (80, 100, 60))
_CLOTHES = ((40, 60, 110), (120, 30, 40), (50, 90, 60), (70, 70, 75), (200, 200, 195))
_LIGHT_DIR = np.array([-0.35, -0.45, 0.82]) / np.linalg.norm([-0.35, -0.45, 0.82])

# Astronaut photo (512x512): approximate face ellipse (centre, semi-axes) and YCrCb skin rule.
_ASTRO_FACE = ((227.0, 128.0), (46.0, 60.0))
_ASTRO_Y, _ASTRO_CR, _ASTRO_CB = (80, 245), (136, 156), (95, 125)

Ellipse = tuple[tuple[float, float], tuple[float, float]]  # (centre x, y), (semi-axis x, y)

_NOISE_FIELDS = 4  # sensor noise is drawn as random crops of a few precomputed gaussian fields
_NOISE_MARGIN = 32


@dataclass(frozen=True)
class Sprite:
    """Face layer drawn once and warped per frame.

    `rgba` holds straight (not premultiplied) colour in 8-bit units and alpha, float32; colours
    are extended past the silhouette so interpolation adds no dark fringe; `skin` is the skin
    weight (0..1); `face_box` is (x, y, w, h) in sprite pixels; `origin` places the
    sprite's top-left corner in the frame at rest; `border` is the cv2 border mode of the warp
    (transparent for a drawn head, reflecting for a photo that fills the frame).
    """

    rgba: np.ndarray
    skin: np.ndarray
    face_box: tuple[float, float, float, float]
    origin: tuple[float, float]
    border: int


@dataclass(frozen=True)
class Scene:
    """Static parts of a synthetic video: `background` [H, W, 4] float32 (RGB + an unused channel,
    so per-frame ops work on whole 4-channel pixels like the sprite's), the face `sprite`, and
    `pulse_gain`, the relative RGB change of skin per unit pulse (see `pulse_gain()`)."""

    background: np.ndarray
    sprite: Sprite
    pulse_gain: np.ndarray


@dataclass(frozen=True)
class HeadMotion:
    """Per-frame head pose relative to rest: shift in pixels, rotation in degrees, scale factor."""

    dx: np.ndarray
    dy: np.ndarray
    angle_deg: np.ndarray
    scale: np.ndarray


def pulse_gain(pulse_amplitude: float, skin_tone: int | None) -> np.ndarray:
    """Relative RGB change per unit pulse; `skin_tone=None` means no tone scaling (a photo)."""
    factor = 1.0 if skin_tone is None else PULSE_TONE_FACTOR[skin_tone]
    return (pulse_amplitude * factor * PBV_SIGNATURE / PBV_SIGNATURE[1]).astype(np.float32)


# ----------------------------------------------------------------------------- drawing helpers


def _ellipse(
    yy: np.ndarray, xx: np.ndarray, centre: tuple[float, float], axes: tuple[float, float]
) -> np.ndarray:
    """Anti-aliased filled ellipse as coverage 0..1 (about one pixel of soft edge)."""
    r = np.sqrt(((xx - centre[0]) / axes[0]) ** 2 + ((yy - centre[1]) / axes[1]) ** 2)
    return np.clip((1.0 - r) * min(axes) + 0.5, 0.0, 1.0).astype(np.float32)


def _greater(
    value: np.ndarray | float, threshold: np.ndarray | float, softness: float = 1.0
) -> np.ndarray:
    """Coverage 0..1 where `value` exceeds `threshold`, with a `softness`-pixel soft edge."""
    return np.clip((np.asarray(value) - threshold) / softness + 0.5, 0.0, 1.0).astype(np.float32)


def _texture(
    shape: tuple[int, int], rng: np.random.Generator, scale: float, channels: int = 1
) -> np.ndarray:
    """Zero-mean, unit-std smooth random field with features about `scale` pixels wide."""
    h, w = shape
    small = (max(2, int(h / scale) + 2), max(2, int(w / scale) + 2), channels)
    field = cv2.resize(rng.standard_normal(small).astype(np.float32), (w, h), cv2.INTER_CUBIC)
    field = field.reshape(h, w, channels)
    return ((field - field.mean()) / max(float(field.std()), 1e-6)).squeeze()


class _Canvas:
    """Premultiplied colour, alpha and skin weight painted layer by layer, back to front."""

    def __init__(self, height: int, width: int) -> None:
        self.colour = np.zeros((height, width, 3), np.float32)
        self.alpha = np.zeros((height, width), np.float32)
        self.skin = np.zeros((height, width), np.float32)

    def paint(self, coverage: np.ndarray, colour: np.ndarray, skin: bool) -> None:
        """Paint `colour` (RGB triple or [H, W, 3] image) over the canvas where `coverage` > 0."""
        cov = coverage[..., None]
        self.colour = self.colour * (1.0 - cov) + np.asarray(colour, np.float32) * cov
        self.alpha = self.alpha * (1.0 - coverage) + coverage
        self.skin = self.skin * (1.0 - coverage) + (coverage if skin else 0.0)

    def _straight_colour(self) -> np.ndarray:
        """Un-premultiplied colour; transparent pixels take the mean colour of nearby painting."""
        blur_colour = cv2.GaussianBlur(self.colour, (0, 0), 2.0)
        blur_alpha = cv2.GaussianBlur(self.alpha, (0, 0), 2.0)[..., None]
        alpha = self.alpha[..., None]
        painted = self.colour / np.maximum(alpha, 1e-6)
        nearby = blur_colour / np.maximum(blur_alpha, 1e-6)
        return np.where(alpha > 0.05, painted, nearby).astype(np.float32)

    def sprite(self, face_box: tuple[float, float, float, float]) -> Sprite:
        """Crop to the painted area and package as a transparent-bordered sprite."""
        ys, xs = np.nonzero(self.alpha > 0)
        y0, x0 = max(ys.min() - 2, 0), max(xs.min() - 2, 0)
        y1, x1 = ys.max() + 3, xs.max() + 3
        rgba = np.dstack([self._straight_colour(), self.alpha])[y0:y1, x0:x1]
        box = (face_box[0] - x0, face_box[1] - y0, face_box[2], face_box[3])
        return Sprite(
            rgba=np.ascontiguousarray(rgba),
            skin=np.ascontiguousarray(self.skin[y0:y1, x0:x1]),
            face_box=box,
            origin=(float(x0), float(y0)),
            border=cv2.BORDER_CONSTANT,
        )


# ----------------------------------------------------------------------------- drawn face


def _ellipsoid_shading(
    yy: np.ndarray, xx: np.ndarray, centre: tuple[float, float], axes: tuple[float, float]
) -> np.ndarray:
    """Lambert shading of an ellipsoid seen front-on, lit from the upper left, 0.55..1.05."""
    nx = (xx - centre[0]) / axes[0]
    ny = (yy - centre[1]) / axes[1]
    nz = np.sqrt(np.clip(1.0 - nx**2 - ny**2, 0.0, 1.0))
    lambert = np.clip(nx * _LIGHT_DIR[0] + ny * _LIGHT_DIR[1] + nz * _LIGHT_DIR[2], 0.0, 1.0)
    return (0.55 + 0.5 * lambert).astype(np.float32)


def _skin_image(
    yy: np.ndarray, xx: np.ndarray, tone: int, head: Ellipse, rng: np.random.Generator
) -> np.ndarray:
    """Skin colour over the canvas: shaded head and neck, nose relief, eye sockets, cheek blush
    and fine texture."""
    (cx, cy), (ax, ay) = head
    base = np.array(SKIN_TONES[tone], np.float32)
    shade = _ellipsoid_shading(yy, xx, (cx, cy), (ax * 1.05, ay * 1.05))
    neck_shade = 0.78 * _ellipsoid_shading(yy, xx, (cx, cy + ay), (ax * 0.75, ay * 4.0))
    shade = np.where(yy > cy + 0.8 * ay, neck_shade, shade)

    def blob(dx: float, dy: float, sx: float, sy: float) -> np.ndarray:
        """Gaussian bump at (cx + dx * ax, cy + dy * ay) with widths sx * ax, sy * ay."""
        return np.exp(
            -0.5 * (((xx - cx - dx * ax) / (sx * ax)) ** 2 + ((yy - cy - dy * ay) / (sy * ay)) ** 2)
        )

    relief = (
        1.0
        - 0.12 * blob(0.1, 0.15, 0.05, 0.14)  # shadow side of the nose
        + 0.06 * blob(-0.03, 0.12, 0.04, 0.14)  # lit nose bridge
        - 0.1 * blob(0.0, 0.43, 0.12, 0.04)  # under the nose
        - 0.08 * (blob(-0.4, -0.1, 0.22, 0.1) + blob(0.4, -0.1, 0.22, 0.1))  # eye sockets
        - 0.06 * blob(0.0, 0.72, 0.2, 0.05)  # under the lower lip
    )
    blush = blob(-0.5, 0.25, 0.14, 0.11) + blob(0.5, 0.25, 0.14, 0.11)
    tint = np.stack([1 + 0.05 * blush, 1 - 0.03 * blush, 1 - 0.02 * blush], axis=-1)
    grain = 1.0 + 0.015 * _texture(yy.shape, rng, 2.0) + 0.025 * _texture(yy.shape, rng, 12.0)
    return base * (shade * relief * grain)[..., None] * tint


def _paint_eye(
    canvas: _Canvas,
    yy: np.ndarray,
    xx: np.ndarray,
    centre: tuple[float, float],
    size: float,
    iris: tuple[int, int, int],
    rng: np.random.Generator,
) -> None:
    """Eye white, iris, pupil, catch-light and a dark upper lash line; none of it is skin."""
    ex, ey = centre
    white = _ellipse(yy, xx, (ex, ey), (size, 0.42 * size))
    lid = _ellipse(yy, xx, (ex, ey - 0.06 * size), (1.12 * size, 0.55 * size))
    canvas.paint(lid * _greater(ey, yy), (45, 30, 28), skin=False)
    canvas.paint(white, (232, 228, 222), skin=False)
    gaze = rng.uniform(-0.12, 0.12) * size
    canvas.paint(white * _ellipse(yy, xx, (ex + gaze, ey), (0.5 * size,) * 2), iris, skin=False)
    canvas.paint(white * _ellipse(yy, xx, (ex + gaze, ey), (0.22 * size,) * 2), (12, 10, 10), False)
    glint = (ex + gaze - 0.15 * size, ey - 0.15 * size)
    canvas.paint(_ellipse(yy, xx, glint, (0.08 * size,) * 2), (250, 250, 250), skin=False)


def _paint_features(
    canvas: _Canvas,
    yy: np.ndarray,
    xx: np.ndarray,
    head: Ellipse,
    tone: int,
    hair: tuple[int, int, int],
    rng: np.random.Generator,
) -> None:
    """Brows, eyes, nostrils and lips on the face (brows, eyes, nostrils, lips are not skin)."""
    (cx, cy), (ax, ay) = head
    iris = _IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))]
    for side in (-1, 1):
        ex, ey = cx + side * 0.4 * ax, cy - 0.12 * ay
        brow = _ellipse(yy, xx, (ex, ey - 0.2 * ay), (0.3 * ax, 0.1 * ay))
        brow_cut = _ellipse(yy, xx, (ex, ey - 0.16 * ay), (0.31 * ax, 0.1 * ay))
        canvas.paint(np.clip(brow - brow_cut, 0, 1), hair, skin=False)
        _paint_eye(canvas, yy, xx, (ex, ey), 0.2 * ax, iris, rng)
        nostril = _ellipse(yy, xx, (cx + side * 0.1 * ax, cy + 0.33 * ay), (0.06 * ax, 0.025 * ay))
        canvas.paint(nostril, (60, 35, 30), skin=False)
    lip = np.array(SKIN_TONES[tone], np.float32) * (0.8, 0.55, 0.58) + (25, 0, 5)
    mouth_y = cy + 0.55 * ay
    canvas.paint(_ellipse(yy, xx, (cx, mouth_y - 0.03 * ay), (0.34 * ax, 0.055 * ay)), lip, False)
    canvas.paint(
        _ellipse(yy, xx, (cx, mouth_y + 0.04 * ay), (0.3 * ax, 0.07 * ay)), lip * 1.1, False
    )
    canvas.paint(_ellipse(yy, xx, (cx, mouth_y), (0.3 * ax, 0.012 * ay)), (70, 30, 30), False)


def _hair_image(
    shape: tuple[int, int], colour: tuple[int, int, int], rng: np.random.Generator
) -> np.ndarray:
    """Hair colour with strand-like streaks (noise stretched vertically)."""
    streaks = cv2.resize(
        rng.standard_normal((max(2, shape[0] // 20), shape[1] // 2)).astype(np.float32),
        (shape[1], shape[0]),
        interpolation=cv2.INTER_CUBIC,
    )
    return np.asarray(colour, np.float32) * (1.0 + 0.18 * np.clip(streaks, -2, 2))[..., None]


def _paint_body(
    canvas: _Canvas,
    yy: np.ndarray,
    xx: np.ndarray,
    head: Ellipse,
    skin_rgb: np.ndarray,
    clothes: np.ndarray,
) -> None:
    """Neck, clothed shoulders, ears and the face oval (narrowing towards the chin)."""
    (cx, cy), (ax, ay) = head
    canvas.paint(_ellipse(yy, xx, (cx, cy + 1.05 * ay), (0.5 * ax, 0.75 * ay)), skin_rgb, skin=True)
    torso_shade = _ellipsoid_shading(yy, xx, (cx, cy + 2.4 * ay), (3.1 * ax, 1.6 * ay))
    shoulders = _ellipse(yy, xx, (cx, cy + 2.4 * ay), (2.9 * ax, 1.2 * ay))
    trunk = _greater(yy, cy + 2.4 * ay) * (np.abs(xx - cx) < 2.9 * ax)
    canvas.paint(np.maximum(shoulders, trunk), clothes * torso_shade[..., None], skin=False)
    for side in (-1, 1):
        ear = _ellipse(yy, xx, (cx + side * 0.97 * ax, cy + 0.02 * ay), (0.16 * ax, 0.26 * ay))
        canvas.paint(ear, skin_rgb * 0.92, skin=True)
    jaw = ax * (1.0 - 0.12 * np.clip((yy - cy) / ay, 0.0, 1.0))
    face = np.clip((1.0 - np.sqrt(((xx - cx) / jaw) ** 2 + ((yy - cy) / ay) ** 2)) * ax + 0.5, 0, 1)
    canvas.paint(face.astype(np.float32), skin_rgb, skin=True)


def _back_hair(yy: np.ndarray, xx: np.ndarray, head: Ellipse, length: float) -> np.ndarray:
    """Coverage of the hair behind the head, hanging `length` pixels below the face centre."""
    (cx, cy), (ax, ay) = head
    back = _ellipse(yy, xx, (cx, cy - 0.1 * ay + length / 2), (1.18 * ax, 1.05 * ay + length / 2))
    return back * _greater(cy + length, yy)


def _front_hair(yy: np.ndarray, xx: np.ndarray, head: Ellipse) -> np.ndarray:
    """Coverage of the hair on top of the head, above a hairline that drops at the temples."""
    (cx, cy), (ax, ay) = head
    hairline = cy - 0.55 * ay + 0.5 * ay * ((xx - cx) / ax) ** 2
    cap = _ellipse(yy, xx, (cx, cy - 0.08 * ay), (1.1 * ax, 1.04 * ay))
    return cap * _greater(hairline, yy, 2.0)


def _beard(yy: np.ndarray, xx: np.ndarray, head: Ellipse) -> np.ndarray:
    """Coverage of a full beard: jaw and chin below a line rising from the mouth to the ears."""
    (cx, cy), (ax, ay) = head
    cheek_line = cy + 0.42 * ay - 0.3 * ay * ((xx - cx) / ax) ** 2
    chin = _ellipse(yy, xx, (cx, cy + 0.05 * ay), (1.02 * ax, 1.06 * ay))
    return chin * _greater(yy, cheek_line, 2.0)


def draw_face(
    width: int, height: int, skin_tone: int, beard: bool, rng: np.random.Generator
) -> Sprite:
    """Procedural head and shoulders: shaded skin, neck, ears, eyes, brows, lips, hair, beard.

    The face oval is 42% of the frame height, centred; hair colour and length, eye colour and
    clothes are drawn from `rng`.
    """
    canvas_h = round(height * 1.3)  # torso runs below the frame so motion never shows its end
    yy, xx = np.mgrid[0:canvas_h, 0:width].astype(np.float32)
    ay = 0.21 * height
    head = ((width / 2.0, 0.45 * height), (0.76 * ay, ay))
    hair = _HAIR_COLOURS[list(_HAIR_COLOURS)[rng.integers(_HAIR_BY_TONE[skin_tone])]]
    hair_img = _hair_image((canvas_h, width), hair, rng)
    clothes = np.array(_CLOTHES[rng.integers(len(_CLOTHES))], np.float32)
    canvas = _Canvas(canvas_h, width)
    canvas.paint(_back_hair(yy, xx, head, rng.uniform(0.1, 1.3) * ay), hair_img, skin=False)
    _paint_body(canvas, yy, xx, head, _skin_image(yy, xx, skin_tone, head, rng), clothes)
    if beard:
        canvas.paint(_beard(yy, xx, head), hair_img, skin=False)
    _paint_features(canvas, yy, xx, head, skin_tone, hair, rng)
    canvas.paint(_front_hair(yy, xx, head), hair_img, skin=False)
    (cx, cy), (ax, _) = head
    return canvas.sprite((cx - ax, cy - ay, 2 * ax, 2 * ay))


def draw_background(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Out-of-focus room: tinted wall with a light gradient, blotchy texture and a few panels."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    wall = rng.uniform(110, 200) * (1.0 + rng.uniform(-0.12, 0.12, 3))
    light = 1.0 + 0.25 * (1 - xx / width) * rng.uniform(0.3, 1.0) - 0.15 * yy / height
    image = wall[None, None, :] * light[..., None]
    for _ in range(rng.integers(2, 5)):
        x0, y0 = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(0.1, 0.4) * width, rng.uniform(0.1, 0.6) * height
        inside = (np.abs(xx - x0) < w / 2) & (np.abs(yy - y0) < h / 2)
        image[inside] *= rng.uniform(0.6, 1.3) * (1.0 + rng.uniform(-0.1, 0.1, 3))
    image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), 0.006 * width + 0.5)
    image *= 1.0 + 0.06 * _texture((height, width), rng, width / 12)[..., None]
    image *= 1.0 + 0.015 * _texture((height, width), rng, width / 20, channels=3)
    image *= 1.0 + 0.02 * _texture((height, width), rng, 2.0)[..., None]
    return np.clip(image, 0, 255).astype(np.float32)


# ----------------------------------------------------------------------------- astronaut photo


def astronaut_skin(photo: np.ndarray) -> np.ndarray:
    """Approximate skin mask of the astronaut's face: a face ellipse AND a YCrCb colour rule.

    Computed once on the still photo; it excludes eyes, teeth, most of the lips, hair and dark
    shadows, but it is hand-tuned and not a segmentation ground truth at the pixel level.
    """
    y, cr, cb = np.moveaxis(cv2.cvtColor(photo, cv2.COLOR_RGB2YCrCb), -1, 0)
    yy, xx = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]].astype(np.float32)
    face = _ellipse(yy, xx, *_ASTRO_FACE) >= 1.0
    colour = (
        (y >= _ASTRO_Y[0]) & (y <= _ASTRO_Y[1])
        & (cr >= _ASTRO_CR[0]) & (cr <= _ASTRO_CR[1])
        & (cb >= _ASTRO_CB[0]) & (cb <= _ASTRO_CB[1])
    )  # fmt: skip
    mask = (face & colour).astype(np.uint8)
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)


def astronaut_sprite(width: int, height: int) -> Sprite:
    """The astronaut photo scaled to cover the frame, face near the centre, reflected at borders."""
    photo = skimage.data.astronaut()
    skin = astronaut_skin(photo).astype(np.float32)
    side = photo.shape[0]
    s = max(width, height) / side
    size = round(side * s)
    (fx, fy), (fa, fb) = _ASTRO_FACE
    ox = float(np.clip(width / 2 - fx * s, width - size, 0))
    oy = float(np.clip(0.45 * height - fy * s, height - size, 0))
    rgb = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    alpha = np.ones((size, size, 1), np.float32)
    return Sprite(
        rgba=np.ascontiguousarray(np.dstack([rgb, alpha])),
        skin=cv2.resize(skin, (size, size), interpolation=cv2.INTER_LINEAR),
        face_box=((fx - fa) * s, (fy - fb) * s, 2 * fa * s, 2 * fb * s),
        origin=(ox, oy),
        border=cv2.BORDER_REFLECT_101,
    )


def make_scene(
    face: str,
    width: int,
    height: int,
    skin_tone: int,
    beard: bool,
    pulse_amplitude: float,
    rng: np.random.Generator,
) -> Scene:
    """Static scene for `face` "drawn" (procedural, any skin tone) or "astronaut" (the photo,
    which fills the frame, so no background shows and `skin_tone`/`beard` do not apply)."""
    if face == "astronaut":
        background = np.zeros((height, width, 3), np.float32)
        sprite = astronaut_sprite(width, height)
        gain = pulse_gain(pulse_amplitude, None)
    else:
        sprite = draw_face(width, height, skin_tone, beard, rng)
        background = draw_background(width, height, rng)
        gain = pulse_gain(pulse_amplitude, skin_tone)
    return Scene(
        background=np.dstack([background, np.zeros_like(background[..., :1])]),
        sprite=sprite,
        pulse_gain=gain,
    )


# ----------------------------------------------------------------------------- dynamics


def head_motion(
    times: np.ndarray, strength: float, frame_height: int, rng: np.random.Generator
) -> HeadMotion:
    """Talking-head motion: slow sway plus faster nods; 0 = still, 1 = moderate, 2 = strong.

    At strength 1 the head shifts by up to ~3% of the frame height, turns by ~3 degrees and
    changes scale by ~4%; a faster 0.5-1.5 Hz component (nodding, speech) adds a third of that.
    """

    def component(amplitude: float) -> np.ndarray:
        slow = dsp.random_sinusoids(times, rng, (0.03, 0.3))
        fast = dsp.random_sinusoids(times, rng, (0.5, 1.5))
        return strength * amplitude * (slow + fast / 3.0)

    shift = 0.03 * frame_height
    return HeadMotion(component(shift), component(shift), component(3.0), 1 + component(0.04))


def illumination(times: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Global light factor per frame: slow drift (+-5% per unit strength); above 1 also steps
    (lights switched, every ~15 s) and 100 Hz mains flicker aliased by the frame rate."""
    light = 1.0 + 0.05 * strength * dsp.random_sinusoids(times, rng, (0.01, 0.1))
    extra = max(0.0, strength - 1.0)
    duration = float(times[-1] - times[0])
    n_steps = rng.poisson(duration / 15.0)
    step_at = rng.uniform(times[0], times[-1], n_steps)
    step_size = 0.08 * extra * rng.choice([-1.0, 1.0], n_steps)
    ramps = expit((times[:, None] - step_at[None, :]) / 0.05)  # 50 ms light switches
    light = light + (ramps * step_size[None, :]).sum(axis=1)
    light = light + 0.01 * extra * np.sin(2 * np.pi * 100.0 * times + rng.uniform(0, 2 * np.pi))
    return np.clip(light, 0.3, 2.0)


def pose_matrices(sprite: Sprite, motion: HeadMotion) -> np.ndarray:
    """[N, 2, 3] affines from sprite to frame pixels: rotate/scale about the face centre, shift."""
    x, y, w, h = sprite.face_box
    cx, cy = x + w / 2, y + h / 2
    theta = np.deg2rad(motion.angle_deg)
    a, b = motion.scale * np.cos(theta), motion.scale * np.sin(theta)
    tx = (1 - a) * cx - b * cy + sprite.origin[0] + motion.dx
    ty = b * cx + (1 - a) * cy + sprite.origin[1] + motion.dy
    return np.stack([np.stack([a, b, tx], -1), np.stack([-b, a, ty], -1)], axis=1)


def face_boxes(sprite: Sprite, matrices: np.ndarray) -> np.ndarray:
    """[N, 4] integer (x, y, w, h) boxes bounding the moved face box in each frame."""
    x, y, w, h = sprite.face_box
    corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]])
    moved = np.einsum("nij,kj->nki", matrices, corners)
    low, high = np.round(moved.min(axis=1)), np.round(moved.max(axis=1))
    return np.concatenate([low, high - low], axis=1).astype(np.int32)


# ----------------------------------------------------------------------------- rendering


def _warp_roi(sprite: Sprite, matrix: np.ndarray, width: int, height: int) -> tuple[int, ...]:
    """Frame rectangle (x0, y0, x1, y1) covered by the warped sprite, clipped to the frame."""
    if sprite.border != cv2.BORDER_CONSTANT:
        return 0, 0, width, height
    h, w = sprite.skin.shape
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64)
    moved = corners @ matrix.T
    x0, y0 = np.floor(moved.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(moved.max(axis=0)).astype(int) + 1
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


class FrameRenderer:
    """Renders frames of one scene, reusing its float buffers between frames.

    Fresh multi-megabyte temporaries per frame would cost more in page faults than the arithmetic
    itself, so every intermediate is written into a preallocated buffer (a view of it sized to the
    frame's region of interest); only the returned frame and mask are new arrays.
    """

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        height, width = scene.background.shape[:2]
        self._linear = np.empty((height, width, 4), np.float32)
        self._rgba = np.empty((height, width, 4), np.float32)
        self._boosted = np.empty((height, width, 4), np.float32)
        self._skin = np.empty((height, width), np.float32)
        self._alpha = np.empty((height, width), np.float32)
        self._inverse = np.empty((height, width), np.float32)
        self._rgba8 = np.empty((height, width, 4), np.uint8)

    def render(
        self, matrix: np.ndarray, pulse: float, light: float, noise: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """One RGB uint8 frame and its boolean skin mask; `noise` is an [H, W, 4] float32 field.

        Skin colour changes in proportion to the (interpolated) skin weight, so pixels straddling
        the skin edge pulse a little; the mask holds the pixels that are more than half skin.
        """
        scene, sprite = self.scene, self.scene.sprite
        height, width = scene.background.shape[:2]
        x0, y0, x1, y1 = _warp_roi(sprite, matrix, width, height)
        local = matrix.astype(np.float64)
        local[:, 2] -= (x0, y0)
        size = (x1 - x0, y1 - y0)
        rgba, boosted = self._rgba[: size[1], : size[0]], self._boosted[: size[1], : size[0]]
        skin, alpha = self._skin[: size[1], : size[0]], self._alpha[: size[1], : size[0]]
        inverse = self._inverse[: size[1], : size[0]]
        cv2.warpAffine(sprite.rgba, local, size, rgba, cv2.INTER_LINEAR, sprite.border)
        cv2.warpAffine(sprite.skin, local, size, skin, cv2.INTER_LINEAR)
        # colour * (1 - skin * gain * pulse), as a per-pixel blend of pulsed and plain colour
        cv2.multiply(rgba, (*(1.0 - scene.pulse_gain * pulse).tolist(), 1.0), dst=boosted)
        cv2.subtract(1.0, skin, dst=inverse)
        cv2.blendLinear(boosted, rgba, skin, inverse, dst=rgba)
        cv2.extractChannel(rgba, 3, dst=alpha)
        cv2.subtract(1.0, alpha, dst=inverse)
        np.copyto(self._linear, scene.background)
        roi = self._linear[y0:y1, x0:x1]
        cv2.blendLinear(rgba, roi, alpha, inverse, dst=roi)
        mask = np.zeros((height, width), bool)
        mask[y0:y1, x0:x1] = skin > 0.5
        cv2.addWeighted(self._linear, light, noise, 1.0, 0.0, dst=self._rgba8, dtype=cv2.CV_8U)
        return cv2.cvtColor(self._rgba8, cv2.COLOR_RGBA2RGB), mask


def noise_fields(width: int, height: int, std: float, rng: np.random.Generator) -> np.ndarray:
    """A few gaussian noise fields, a margin larger than the frame, to crop per frame."""
    shape = (_NOISE_FIELDS, height + _NOISE_MARGIN, width + _NOISE_MARGIN, 4)
    return (std * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)


def render_frames(
    scene: Scene,
    matrices: np.ndarray,
    pulse: np.ndarray,
    light: np.ndarray,
    noise_std: float,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (rgb, skin_mask) frame by frame; memory stays constant whatever the length.

    Sensor noise for each frame is a random crop of one of a few precomputed gaussian fields:
    i.i.d. over pixels and, in effect, independent from frame to frame, at a fraction of the cost
    of drawing a fresh field per frame.
    """
    height, width = scene.background.shape[:2]
    fields = noise_fields(width, height, noise_std, rng)
    renderer = FrameRenderer(scene)
    for matrix, p, lum in zip(matrices, pulse, light, strict=True):
        k = rng.integers(_NOISE_FIELDS)
        oy, ox = rng.integers(0, _NOISE_MARGIN + 1, 2)
        noise = fields[k, oy : oy + height, ox : ox + width]
        yield renderer.render(matrix, float(p), float(lum), noise)
