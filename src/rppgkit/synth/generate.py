"""Synthetic face videos with known pulse: configuration, streaming generation and writing to disk.

Each random ingredient (pulse, scene, motion, lighting, sensor noise) draws from its own stream
derived from `seed`, so the same config gives bit-identical frames and changing one knob (say
`motion`) leaves the others (say the pulse) unchanged.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from rppgkit.checks import Range, check_fields
from rppgkit.errors import RppgError
from rppgkit.fileio import atomic_dir, atomic_path, write_json, write_text
from rppgkit.synth.camera import consumer_codec
from rppgkit.synth.optics import LIGHTS
from rppgkit.synth.physical import PhysicalClip, Subject, physical_clip, render_physical
from rppgkit.synth.physiology import mean_delay_s
from rppgkit.synth.scene import (
    Scene,
    face_boxes,
    head_motion,
    illumination,
    make_scene,
    pose_matrices,
    render_frames,
)
from rppgkit.synth.waveform import PulseWave, pulse_waveform
from rppgkit.video.writer import FFV1, Codec, VideoWriter

# 1.1: skin darkens with the pulse (1.0 brightened it); 1.2: generator 2 added; 1.3: generator
# 2's pulse calibrated on recorded (tone-mapped) values, phone bitrates at 6-15 Mbit/s for VGA;
# 1.4: generator 2's camera averages the photosites of its sensor into each output pixel
GENERATOR_VERSION = "1.4"
# independent random streams; the pulse uses the bare seed
_STREAMS = {"scene": 1, "motion": 2, "lighting": 3, "noise": 4, "camera": 5}
FILE_NAMES = {
    "video": "video.mkv",
    "ground_truth": "ground_truth.csv",
    "face_boxes": "face_boxes.csv",
    "skin_masks": "skin_masks.npz",
    "meta": "meta.json",
}


@dataclass(frozen=True)
class SynthFiles:
    """The files `write_synth` wrote for one video, and the mean HR it rendered (the truth
    that meta.json also holds)."""

    video: Path
    ground_truth: Path
    face_boxes: Path
    meta: Path
    skin_masks: Path | None  # None when written with masks=False
    mean_hr_bpm: float

    @classmethod
    def in_folder(cls, folder: Path, masks: bool, mean_hr_bpm: float) -> SynthFiles:
        """The files of a video rendered into `folder`."""
        paths = {role: folder / name for role, name in FILE_NAMES.items()}
        if not masks:
            paths["skin_masks"] = None
        return cls(**paths, mean_hr_bpm=mean_hr_bpm)

    def written(self) -> dict[str, Path]:
        """Each file by role (meta.json's ``files``), skin masks only where written."""
        roles = {role: getattr(self, role) for role in FILE_NAMES}
        return {role: path for role, path in roles.items() if path is not None}


@dataclass(frozen=True)
class SynthConfig:
    """What to synthesise. Rates in beats/breaths per minute, sizes in pixels.

    `hr_drift_bpm` is the peak-to-peak range of the slow HR random walk (the clip's mean HR stays
    `hr_bpm`); `pulse_amplitude` is the peak-to-peak relative change of green skin brightness for
    skin type III (scaled down for darker types, up for lighter); `motion` and `lighting` run
    0 (none) .. 1 (moderate) .. 2 (strong; lighting 2 adds steps and flicker); `noise` is the sensor
    noise std in 8-bit levels. With `face="astronaut"` the photo's own skin is shown, so
    `skin_tone` and `beard` do not apply and the pulse gain is unscaled.
    """

    duration_s: float = 30.0
    fps: float = 30.0
    width: int = 640
    height: int = 480
    hr_bpm: float = 72.0
    hr_drift_bpm: float = 4.0
    resp_rate_bpm: float = 15.0
    skin_tone: int = 3
    pulse_amplitude: float = 0.005
    motion: float = 0.0
    lighting: float = 0.0
    noise: float = 2.0
    face: Literal["drawn", "astronaut"] = "drawn"
    beard: bool = False
    seed: int = 0
    brighten_with_pulse: bool = False
    """Render generator 1.0's sign: skin brighter with blood volume, the opposite of real skin.
    Only to reproduce figures of networks that learnt that sign (the files shipped before
    2026-12-05, in git history; docs/weights.md)."""
    generator: int = 1
    """1: the drawn face with one pulse colour; 2: skin optics, perfusion and transit delay,
    ballistocardiographic motion, blinks, specular reflection and a consumer camera
    (`rppgkit.synth.physical`; drawn faces only)."""
    light: str = "D65"  # generator 2: the light (rppgkit.synth.optics.LIGHTS)
    camera: Literal["webcam", "phone"] = "webcam"  # generator 2: what records and encodes
    talking: float = 0.0  # generator 2: share of the clip spent talking, 0..1

    def validate(self) -> None:
        """Raise RppgError naming the first nonsensical field and its accepted range."""
        check_fields(self, _LIMITS)
        if self.face not in ("drawn", "astronaut"):
            raise RppgError(f"synth face={self.face!r} is unknown: use 'drawn' or 'astronaut'")
        if not 30 <= self.hr_bpm - self.hr_drift_bpm <= self.hr_bpm + self.hr_drift_bpm <= 220:
            raise RppgError(
                f"synth hr_bpm={self.hr_bpm} with hr_drift_bpm={self.hr_drift_bpm} leaves "
                "30..220 bpm: lower the drift or move hr_bpm towards the middle"
            )
        if self.generator not in (1, 2):
            raise RppgError(f"synth generator={self.generator} is unknown: use 1 or 2")
        if self.generator == 2 and self.face != "drawn":
            raise RppgError("synth generator 2 draws its faces: use face='drawn'")
        if self.light not in LIGHTS:
            raise RppgError(f"synth light={self.light!r} is unknown: use one of {list(LIGHTS)}")
        if self.camera not in ("webcam", "phone"):
            raise RppgError(f"synth camera={self.camera!r} is unknown: use 'webcam' or 'phone'")
        if self.n_frames < 2:
            raise RppgError("synth duration_s * fps gives fewer than 2 frames: lengthen the clip")

    @property
    def n_frames(self) -> int:
        """Number of frames: duration times frame rate, rounded down."""
        return int(self.duration_s * self.fps + 1e-9)


# SynthConfig field -> (its name and CLI option, accepted values)
_LIMITS = {
    "duration_s": ("synth duration_s (--duration)", Range(0.1, 86400.0)),
    "fps": ("synth fps (--fps)", Range(8.0, 240.0)),
    "width": ("synth width (--width)", Range(64, 4096, whole=True)),
    "height": ("synth height (--height)", Range(48, 4096, whole=True)),
    "skin_tone": ("synth skin_tone (--skin-tone)", Range(1, 6, whole=True)),
    "seed": ("synth seed (--seed)", Range(0, 2**63 - 1, whole=True)),
    "hr_bpm": ("synth hr_bpm (--hr)", Range(30.0, 220.0)),
    "hr_drift_bpm": ("synth hr_drift_bpm", Range(0.0, 60.0)),
    "resp_rate_bpm": ("synth resp_rate_bpm", Range(4.0, 40.0)),
    "pulse_amplitude": ("synth pulse_amplitude", Range(0.0, 0.1)),
    "motion": ("synth motion (--motion)", Range(0.0, 2.0)),
    "lighting": ("synth lighting (--lighting)", Range(0.0, 2.0)),
    "noise": ("synth noise (--noise)", Range(0.0, 50.0)),
    "talking": ("synth talking", Range(0.0, 1.0)),
}


@dataclass
class SynthVideo:
    """A synthetic clip: ground truth per frame, plus `frames()` to render it on demand.

    `times`, `pulse` (0..1) and `hr_bpm` are per frame; `boxes` is [N, 4] int (x, y, w, h) of the
    face (forehead to chin, cheek to cheek); `beat_times` are the systolic peaks in seconds.
    """

    config: SynthConfig
    times: np.ndarray
    pulse: np.ndarray
    hr_bpm: np.ndarray
    beat_times: np.ndarray
    boxes: np.ndarray
    _scene: Scene = field(repr=False)
    _matrices: np.ndarray = field(repr=False)
    _light: np.ndarray = field(repr=False)
    _physical: PhysicalClip | None = field(default=None, repr=False)

    @property
    def n_frames(self) -> int:
        return len(self.times)

    @property
    def mean_hr_bpm(self) -> float:
        """Mean of the true instantaneous heart rate over the clip."""
        return float(self.hr_bpm.mean())

    def frames(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (rgb uint8 [H, W, 3], skin mask bool [H, W]) per frame, rendering lazily.

        Each call restarts from the first frame and yields the same frames bit for bit.
        """
        if self._physical is not None:
            noise = _rng(self.config.seed, "noise")
            return render_physical(self._scene, self._physical, self._light, self.config.fps, noise)
        return render_frames(
            self._scene,
            self._matrices,
            self.pulse,
            self._light,
            self.config.noise,
            _rng(self.config.seed, "noise"),
        )


def _rng(seed: int, stream: str) -> np.random.Generator:
    """Independent random stream `stream` for `seed`."""
    return np.random.default_rng([seed, _STREAMS[stream]])


def synthesize(config: SynthConfig) -> SynthVideo:
    """Compute the ground truth and the static scene of `config`; frames render on iteration."""
    config.validate()
    times = np.arange(config.n_frames) / config.fps
    wave = pulse_waveform(
        times,
        config.hr_bpm,
        config.hr_drift_bpm,
        config.resp_rate_bpm,
        seed=config.seed,
    )
    scene = make_scene(
        config.face,
        config.width,
        config.height,
        config.skin_tone,
        config.beard,
        config.pulse_amplitude,
        _rng(config.seed, "scene"),
    )
    if config.brighten_with_pulse:
        scene = dataclasses.replace(scene, pulse_gain=-scene.pulse_gain)
    light = illumination(times, config.lighting, _rng(config.seed, "lighting"))
    if config.generator == 2:
        return _physical_video(config, times, wave, scene, light)
    motion = head_motion(times, config.motion, config.height, _rng(config.seed, "motion"))
    matrices = pose_matrices(scene.sprite, motion)
    return SynthVideo(
        config=config,
        times=times,
        pulse=wave.pulse,
        hr_bpm=wave.hr_bpm,
        beat_times=wave.beat_times,
        boxes=face_boxes(scene.sprite, matrices),
        _scene=scene,
        _matrices=matrices,
        _light=light,
    )


def _physical_video(
    config: SynthConfig, times: np.ndarray, wave: PulseWave, scene: Scene, light: np.ndarray
) -> SynthVideo:
    """Generator 2's clip: the ground-truth pulse is the face-average (transit-delayed) one."""
    level = "still" if config.motion < 0.5 else "moderate" if config.motion < 1.5 else "strong"
    subject = Subject(config.light, config.camera, level, config.talking)
    clip = physical_clip(
        scene,
        subject,
        config.skin_tone,
        config.pulse_amplitude,
        times,
        wave.pulse,
        _rng(config.seed, "motion"),
    )
    return SynthVideo(
        config=config,
        times=times,
        pulse=clip.truth,
        hr_bpm=wave.hr_bpm,
        beat_times=wave.beat_times + mean_delay_s(clip.face.regions),
        boxes=face_boxes(scene.sprite, clip.matrices),
        _scene=scene,
        _matrices=clip.matrices,
        _light=light,
        _physical=clip,
    )


def write_synth(
    config: SynthConfig,
    out_dir: str | os.PathLike,
    codec: Codec | None = None,
    masks: bool = True,
    on_frame: Callable[[int], None] | None = None,
) -> SynthFiles:
    """Render `config` into `out_dir`: video, ground truth, face boxes, skin masks and metadata.

    Frames stream straight into the encoder; skin masks are kept as packed bits (1 bit/pixel) and
    saved at the end (`masks=False` skips them, e.g. for long benchmark videos). The files appear
    as a whole set (an existing `out_dir` is replaced only when it holds nothing but these
    files), so an interrupted run never pairs a new video with old ground truth. Returns where
    each file went, and the true mean HR. `on_frame(i)` reports progress. `codec` None:
    lossless FFV1 for generator 1, the recording camera's own encoding (H.264/HEVC at a consumer
    bitrate, drawn from the seed) for generator 2.
    """
    video = synthesize(config)
    if codec is None:
        codec = FFV1 if config.generator == 1 else _consumer(config)
    with atomic_dir(out_dir, frozenset(FILE_NAMES.values())) as tmp:
        files = SynthFiles.in_folder(tmp, masks, round(video.mean_hr_bpm, 4))
        height, width = config.height, config.width
        packed = np.empty((video.n_frames if masks else 0, (height * width + 7) // 8), np.uint8)
        with VideoWriter(files.video, config.fps, codec) as writer:
            for i, (rgb, mask) in enumerate(video.frames()):
                writer.write(rgb)
                if masks:
                    packed[i] = np.packbits(mask.ravel())
                if on_frame is not None:
                    on_frame(i)
        if files.skin_masks is not None:
            _write_masks(files.skin_masks, packed, (video.n_frames, height, width))
        write_text(files.ground_truth, _ground_truth_csv(video))
        write_text(files.face_boxes, _boxes_csv(video.boxes))
        write_json(files.meta, _meta(video, codec, files))
    return SynthFiles.in_folder(Path(out_dir), masks, files.mean_hr_bpm)


def _consumer(config: SynthConfig) -> Codec:
    """How generator 2's camera encodes: a phone's or webcam's codec and bitrate."""
    width, height, fps = config.width, config.height, config.fps
    return consumer_codec(width, height, fps, config.camera, _rng(config.seed, "camera"))


def load_skin_masks(path: str | os.PathLike) -> np.ndarray:
    """Read masks written by `write_synth` back as a bool array [N, H, W]."""
    with np.load(path) as data:
        shape = tuple(int(n) for n in data["shape"])
        bits = np.unpackbits(data["packed"], axis=1, count=shape[1] * shape[2])
    return bits.reshape(shape).astype(bool)


def _write_masks(path: Path, packed: np.ndarray, shape: tuple[int, int, int]) -> None:
    """Save packed masks and their unpacked shape with np.savez_compressed, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, packed=packed, shape=np.array(shape, np.int64))


def _ground_truth_csv(video: SynthVideo) -> str:
    """CSV text with columns time_s, pulse, hr_bpm, one row per frame."""
    rows = (
        f"{t:.6f},{p:.6f},{hr:.4f}"
        for t, p, hr in zip(video.times, video.pulse, video.hr_bpm, strict=True)
    )
    return "time_s,pulse,hr_bpm\n" + "\n".join(rows) + "\n"


def _boxes_csv(boxes: np.ndarray) -> str:
    """CSV text with columns frame, x, y, w, h."""
    rows = (f"{i},{x},{y},{w},{h}" for i, (x, y, w, h) in enumerate(boxes.tolist()))
    return "frame,x,y,w,h\n" + "\n".join(rows) + "\n"


def _meta(video: SynthVideo, codec: Codec, files: SynthFiles) -> dict[str, object]:
    """Metadata for meta.json: config, true mean HR, frame count, files, codec, version."""
    return {
        "generator": "rppgkit.synth",
        "generator_version": GENERATOR_VERSION,
        "config": dataclasses.asdict(video.config),
        "mean_hr_bpm": files.mean_hr_bpm,
        "n_frames": video.n_frames,
        "n_beats": len(video.beat_times),
        "codec": {"encoder": codec.encoder, "pix_fmt": codec.pix_fmt, "lossless": codec.lossless},
        "files": {role: path.name for role, path in files.written().items()},
    }
