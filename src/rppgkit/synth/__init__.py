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
from rppgkit.synth.suite import CONDITIONS, suite_config, write_suite
from rppgkit.synth.waveform import PulseWave, beat_template, pulse_waveform

__all__ = [
    "CONDITIONS",
    "GENERATOR_VERSION",
    "PULSE_TONE_FACTOR",
    "SKIN_TONES",
    "PulseWave",
    "SynthConfig",
    "SynthVideo",
    "beat_template",
    "load_skin_masks",
    "pulse_waveform",
    "suite_config",
    "synthesize",
    "write_suite",
    "write_synth",
]
