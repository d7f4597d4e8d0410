"""Generator 2: a face video rendered from skin optics, facial physiology and a camera model.

Where generator 1 paints one pulse colour at one strength over the whole face and adds
gaussian noise, generator 2 (see docs/synthetic.md for every choice and its source):

- colours the skin and its pulse from a skin reflectance model of the subject's melanin and
  blood under the chosen light, seen by a measured camera (`rppgkit.synth.optics`), so the
  pulse's RGB direction and strength vary with skin tone and light;
- spreads the pulse over the face with a perfusion map and a pulse transit delay per region,
  moves the head with ballistocardiographic motion in step with the pulse on top of natural
  motion, blinks and talks (`rppgkit.synth.physiology`);
- adds a specular reflection that follows the head's rotation and carries no pulse
  (dichromatic model);
- records the linear scene with a consumer camera: auto exposure, white-balance drift, shot and
  read noise, tone curve (`rppgkit.synth.camera`); `write_synth` then encodes it as a phone or
  webcam would (H.264/HEVC, 4:2:0, consumer bitrates).

The face layer is computed in the sprite's own pixels each frame, warped with the frame's pose
like generator 1's, and composited over the background.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from rppgkit.synth import optics
from rppgkit.synth.camera import Camera, CameraParams, random_camera, srgb_encode
from rppgkit.synth.physiology import (
    DynamicsSettings,
    FaceDynamics,
    FaceGeometry,
    PulseRegions,
    SpecularSurface,
    as_head_motion,
    delayed_pulses,
    eyelid_cover,
    face_coordinates,
    face_dynamics,
    face_geometry,
    head_rotation,
    interpolate_wave,
    mean_delay_s,
    perfusion_map,
    pulse_image,
    pulse_regions,
    region_delays,
    region_shares,
    specular_image,
    specular_surface,
)
from rppgkit.synth.scene import Scene, pose_matrices

# the blood-volume change per beat is set so that a typical type III skin under daylight
# changes its *recorded* green value (after the camera's sRGB tone curve, as generator 1's knob
# and the rPPG literature's AC/DC figures mean it) by the config's `pulse_amplitude` peak to
# peak; other skins and lights then pulse as the optics say
_CALIBRATION = optics.skin_colour(optics.typical_skin(3), optics.LIGHTS["D65"])


def tone_slope(linear: float, step: float = 1e-3) -> float:
    """Relative change of the sRGB-encoded value per relative change of linear light at `linear`.

    About 0.46 at a mid-tone: a 1% change of light changes the recorded value by about 0.46%, so
    a pulse specified on recorded values needs a blood-volume change about twice as large.
    """
    low, high = srgb_encode(np.array([linear, linear * (1 + step)]))
    return float(np.log(high / low) / np.log1p(step))


# blood-volume change per unit of `pulse_amplitude`; the calibration skin is exposed as auto
# exposure puts a face: near an 18% grey
_VOLUME_PER_AMPLITUDE = 1.0 / (abs(float(_CALIBRATION.relative_pulse[1])) * tone_slope(0.18))
_MOUTH_UV, _MOUTH_AXES = (0.0, 0.55), (0.28, 0.07)  # mouth centre and half-size, face units


def _srgb_decode(values: np.ndarray) -> np.ndarray:
    """8-bit sRGB values as linear light 0..1 (the drawn scene was painted in sRGB)."""
    v = np.asarray(values, np.float32) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4).astype(np.float32)


@dataclass(frozen=True)
class Face:
    """Everything about one subject's face that stays fixed over a clip, in sprite pixels.

    `body` [h, w, 3] linear diffuse colour (the drawn skin re-tinted to the optics' skin colour
    under the light), `alpha` [h, w], `skin` [h, w] weight, `gain` [3] relative change of the
    body colour per unit of the pulse image (negative: blood absorbs), `regions` the perfusion
    and transit-delay regions, `surface` the specular inputs, `lid` [3] the eyelid colour,
    `mouth` [h, w] the coverage of a fully open mouth.
    """

    body: np.ndarray
    alpha: np.ndarray
    skin: np.ndarray
    gain: np.ndarray
    regions: PulseRegions
    surface: SpecularSurface
    geometry: FaceGeometry
    lid: np.ndarray
    mouth: np.ndarray


def make_face(
    scene: Scene,
    colour: optics.SkinColour,
    pulse_amplitude: float,
    regions: PulseRegions,
    surface: SpecularSurface,
    geometry: FaceGeometry,
) -> Face:
    """The fixed face of generator 2 from generator 1's drawn sprite and the subject's optics.

    Parameters
    ----------
    scene
        Generator 1's scene (the drawn sprite supplies shape, shading and features).
    colour
        The subject's skin colour and pulse under the light (`optics.skin_colour`).
    pulse_amplitude
        Peak-to-peak relative change of the recorded green value for a typical type III skin
        under daylight.
    regions, surface, geometry
        Perfusion and delay regions, specular inputs and landmarks of the sprite.

    Returns
    -------
    Face
    """
    sprite = scene.sprite
    drawn = _srgb_decode(sprite.rgba[..., :3])
    skin = sprite.skin.astype(np.float32)
    mean_skin = (drawn * skin[..., None]).sum(axis=(0, 1)) / max(float(skin.sum()), 1.0)
    tint = np.asarray(colour.rgb, np.float32) / np.maximum(mean_skin, 1e-6)
    body = drawn * (1 + skin[..., None] * (tint - 1))
    per_volume = pulse_amplitude * _VOLUME_PER_AMPLITUDE
    u, v = face_coordinates(geometry, skin.shape)
    mouth = ((u - _MOUTH_UV[0]) / _MOUTH_AXES[0]) ** 2 + ((v - _MOUTH_UV[1]) / _MOUTH_AXES[1]) ** 2
    return Face(
        body=body.astype(np.float32),
        alpha=sprite.rgba[..., 3].astype(np.float32),
        skin=skin,
        gain=(per_volume * np.asarray(colour.relative_pulse)).astype(np.float32),
        regions=regions,
        surface=surface,
        geometry=geometry,
        lid=np.asarray(colour.rgb, np.float32),
        mouth=(np.clip(1.5 - mouth, 0, 1) * skin).astype(np.float32),
    )


@dataclass(frozen=True)
class Subject:
    """Generator 2's settings beyond generator 1's: the light (an `optics.LIGHTS` name), the
    camera kind ("webcam" or "phone"), the head motion level (`physiology.MOTION_LEVELS`) and
    the share of the clip spent talking."""

    light: str = "D65"
    camera: str = "webcam"
    motion: str = "still"
    talking: float = 0.0


@dataclass(frozen=True)
class PhysicalClip:
    """A generator-2 clip before rendering: the face, each region's pulse per frame
    ``pulses [N, K]``, the face-average pulse (ground truth) ``truth [N]``, the motion,
    blinks and talking, the sprite-to-frame affines ``matrices [N, 2, 3]`` and the camera."""

    face: Face
    pulses: np.ndarray
    truth: np.ndarray
    dynamics: FaceDynamics
    matrices: np.ndarray
    camera: CameraParams


def physical_clip(
    scene: Scene,
    subject: Subject,
    skin_tone: int,
    pulse_amplitude: float,
    times: np.ndarray,
    wave: np.ndarray,
    rng: np.random.Generator,
) -> PhysicalClip:
    """Draw a subject's skin, perfusion, transit delays, motion and camera for a clip.

    Parameters
    ----------
    scene
        Generator 1's drawn scene (shape and features of the face).
    subject
        Light, camera, motion and talking.
    skin_tone
        Fitzpatrick type I-VI: the range the subject's melanin is drawn from.
    pulse_amplitude
        See `make_face`.
    times, wave
        ``[N]`` frame times and the arterial pulse waveform (0..1) at them.
    rng
        Every draw of the clip's physiology and camera.

    Returns
    -------
    PhysicalClip
    """
    sprite = scene.sprite
    skin = sprite.skin.astype(np.float32)
    geometry = face_geometry(sprite.face_box)
    colour = optics.skin_colour(optics.skin_for_type(skin_tone, rng), optics.LIGHTS[subject.light])
    regions = pulse_regions(
        region_shares(geometry, skin), perfusion_map(geometry, skin, rng), region_delays(rng)
    )
    face = make_face(
        scene, colour, pulse_amplitude, regions, specular_surface(geometry, skin), geometry
    )
    shape = functools.partial(interpolate_wave, times, wave)
    settings = DynamicsSettings(motion=subject.motion, talk_share=subject.talking)
    dynamics = face_dynamics(times, shape, settings, float(sprite.face_box[3]), rng)
    return PhysicalClip(
        face=face,
        pulses=delayed_pulses(shape, times, regions.delays_s),
        truth=shape(times - mean_delay_s(regions)),
        dynamics=dynamics,
        matrices=pose_matrices(sprite, as_head_motion(dynamics.pose)),
        camera=random_camera(rng, subject.camera),
    )


def face_layer(face: Face, pulses: np.ndarray, dynamics: FaceDynamics, i: int) -> np.ndarray:
    """Frame `i`'s face layer in sprite pixels: float32 [h, w, 4] linear colour and alpha.

    The pulse multiplies only the body (diffuse) colour; the specular part is added after it
    (dichromatic model); lowered eyelids cover the eyes with skin, an open mouth darkens.
    """
    pose = dynamics.pose
    body = face.body
    lids = eyelid_cover(face.geometry, face.skin.shape, float(dynamics.eyelid[i]))
    if lids.any():
        body = body + lids[..., None] * (face.lid - body)
    pulse = pulse_image(face.regions, pulses[i])
    colour = body * (1 + pulse[..., None] * face.gain)
    if dynamics.mouth[i] > 0:
        colour *= 1 - 0.85 * float(dynamics.mouth[i]) * face.mouth[..., None]
    rotation = head_rotation(pose.yaw_deg[i], pose.pitch_deg[i], pose.roll_deg[i])
    colour += specular_image(face.surface, rotation)[..., None] * face.skin[..., None]
    return np.dstack([colour, face.alpha]).astype(np.float32)


def render_physical(
    scene: Scene,
    clip: PhysicalClip,
    light: np.ndarray,
    fps: float,
    rng: np.random.Generator,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (rgb uint8 [H, W, 3], skin mask bool [H, W]) per frame: the face layer warped with
    the frame's pose over the (linear) background, lit by `light` [N], then recorded by the
    clip's camera (its noise and drift drawn from `rng`)."""
    height, width = scene.background.shape[:2]
    background = _srgb_decode(np.clip(scene.background[..., :3], 0, 255))
    recorder = Camera(clip.camera, fps, rng)
    face, size = clip.face, (width, height)
    for i, matrix in enumerate(clip.matrices):
        layer = face_layer(face, clip.pulses, clip.dynamics, i)
        layer = cv2.warpAffine(layer, matrix, size, None, cv2.INTER_LINEAR, scene.sprite.border)
        skin = cv2.warpAffine(face.skin, matrix, size, None, cv2.INTER_LINEAR)
        alpha = layer[..., 3:4]
        linear = layer[..., :3] * alpha + background * (1 - alpha)
        yield recorder.record(linear * np.float32(light[i])), skin > 0.5
