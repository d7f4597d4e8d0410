"""Seed 001: self-supervised rPPG with learnable frequency augmentation (Yue et al., 2022).

``lfa-rea`` is REA (the region-aware expert aggregation that reads the pulse) and its
self-supervised task, which trains LFA (the learnable frequency augmentation that makes the
negatives) beside it on unlabelled videos; ``lfa-rea-finetune`` fine-tunes a self-supervised
REA on labelled clips.
"""

from rppgkit.models.method import TASKS, Method, register_method

register_method(
    Method(
        name="lfa-rea",
        network="rppgkit.models.lfa_rea.network:REA",
        task="rppgkit.models.lfa_rea.task:LFAREATask",
        description="Self-supervised REA with learnable frequency augmentation (Yue et al., 2022)",
        weights=None,
    )
)
TASKS.add("lfa-rea-finetune", "rppgkit.models.lfa_rea.task:FineTuneTask")
