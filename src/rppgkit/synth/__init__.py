"""Synthetic face videos with a known pulse, for demos, tests, benchmarks and training data."""

from rppgkit.synth.generate import (
    GENERATOR_VERSION,
    SynthConfig,
    SynthFiles,
    SynthVideo,
    load_skin_masks,
    synthesize,
    write_synth,
)
from rppgkit.synth.scene import PULSE_TONE_FACTOR, SKIN_TONES
from rppgkit.synth.suite import (
    CONDITIONS,
    TRAINING_SPLITS,
    suite_config,
    training_config,
    write_suite,
    write_training_set,
)
from rppgkit.synth.waveform import PulseWave, beat_template, pulse_waveform

__all__ = [
    "CONDITIONS",
    "GENERATOR_VERSION",
    "PULSE_TONE_FACTOR",
    "SKIN_TONES",
    "TRAINING_SPLITS",
    "PulseWave",
    "SynthConfig",
    "SynthFiles",
    "SynthVideo",
    "beat_template",
    "load_skin_masks",
    "pulse_waveform",
    "suite_config",
    "synthesize",
    "training_config",
    "write_suite",
    "write_synth",
    "write_training_set",
]
