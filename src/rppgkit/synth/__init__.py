"""Synthetic face videos with a known pulse, for demos, tests, benchmarks and training data."""

from rppgkit.synth.generate import (
    GENERATOR_VERSION,
    SynthConfig,
    SynthVideo,
    load_skin_masks,
    synthesize,
    write_synth,
)
from rppgkit.synth.scene import PULSE_TONE_FACTOR, SKIN_TONES
from rppgkit.synth.waveform import PulseWave, beat_template, pulse_waveform

__all__ = [
    "GENERATOR_VERSION",
    "PULSE_TONE_FACTOR",
    "SKIN_TONES",
    "PulseWave",
    "SynthConfig",
    "SynthVideo",
    "beat_template",
    "load_skin_masks",
    "pulse_waveform",
    "synthesize",
    "write_synth",
]
