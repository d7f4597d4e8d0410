"""Seed 002: Meta-rPPG (Lee et al., ECCV 2020) -- a transductive meta-learner that adapts its
feature extractor to each new video from the video's own unlabelled frames, with a learnt
synthetic gradient and a prototype of the training features, before it reads the pulse.

``meta-rppg`` is the network (feature extractor and ordinal rPPG estimator) and its episodic
training task, which also owns the synthetic-gradient generator; `rppgkit measure -m
meta-rppg` adapts a copy to each video, and `rppgkit adapt` saves one adapted to a person or
camera (`rppgkit.models.adaptation`).
"""

from rppgkit.models.method import Method, register_method

register_method(
    Method(
        name="meta-rppg",
        network="rppgkit.models.meta_rppg.network:MetaRPPG",
        task="rppgkit.models.meta_rppg.task:MetaRPPGTask",
        description="Meta-rPPG transductive meta-learner (Lee et al., ECCV 2020)",
        weights="meta-rppg-synthetic.pt",
        subharmonic=0.5,  # chosen on validation (docs/weights.md)
    )
)
