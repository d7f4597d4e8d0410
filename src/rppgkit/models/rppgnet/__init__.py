"""Seed 000: rPPGNet and STVEN for highly compressed video -- three methods sharing one folder:
``rppgnet`` (the rPPG network), ``stven`` (the video enhancer alone) and ``stven+rppgnet`` (STVEN
restoring the clip that a frozen rPPGNet reads)."""

from rppgkit.models.method import Method, register_method

register_method(
    Method(
        name="rppgnet",
        network="rppgkit.models.rppgnet.network:RPPGNet",
        task="rppgkit.models.rppgnet.task:RPPGNetTask",
        description="rPPGNet with skin attention (Yu et al., ICCV 2019)",
        weights="rppgnet-synthetic.pt",
        roles=frozenset({"reader"}),
        subharmonic=0.4,  # its output over-draws harmonics; chosen on validation (docs/weights.md)
    )
)
register_method(
    Method(
        name="stven",
        network="rppgkit.models.rppgnet.stven:STVEN",
        task="rppgkit.models.rppgnet.task:STVENTask",
        description="STVEN video enhancer for compressed video (Yu et al., ICCV 2019)",
        pulse=False,
    )
)
register_method(
    Method(
        name="stven+rppgnet",
        network="rppgkit.models.rppgnet.stven:EnhancedRPPGNet",
        task="rppgkit.models.rppgnet.task:JointTask",
        description="STVEN restoring compressed video for a frozen rPPGNet (ICCV 2019)",
        weights="stven-rppgnet-synthetic.pt",
        roles=frozenset({"enhancer"}),
        subharmonic=0.2,  # chosen on validation, as the rPPGNet's (docs/weights.md)
    )
)
