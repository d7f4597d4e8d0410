"""Deployment: a trained network as ONNX, checked against PyTorch with onnxruntime."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rppgkit.errors import RppgError
from rppgkit.fileio import atomic_path, check_distinct, prepared_output
from rppgkit.models.inference import Network, load_network


@dataclass(frozen=True)
class ExportReport:
    path: Path
    input_shape: tuple[int, ...]  # [batch, 3, T, size, size]; the batch axis is dynamic
    max_abs_diff: float  # onnxruntime vs PyTorch on a random clip


class _Predictor(torch.nn.Module):
    """The network as its task reads a pulse from it, e.g. rPPGNet's global signal only."""

    def __init__(self, net: Network) -> None:
        super().__init__()
        self.task = net.task

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.task.predict(clip)


def export_onnx(checkpoint: str | os.PathLike, target: str | os.PathLike) -> ExportReport:
    """Write the checkpoint's network (the part that maps a clip to a pulse) as ONNX.

    The output is checked before any work: it must not be the checkpoint itself, and its folder
    is created if missing (and removed again if the export fails) and must be writable.
    """
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import onnxruntime
    except ImportError:
        raise RppgError(
            'ONNX export needs onnx and onnxruntime: pip install "rppgkit[export]"'
        ) from None
    check_distinct(target, checkpoint)
    with prepared_output(target) as out:
        net = load_network(checkpoint)
        spec = net.spec
        shape = (2, 3, spec.frames, spec.size, spec.size)
        clip = torch.from_numpy(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
        # a copy in eval mode: the exporter restores the wrapper's mode afterwards, which
        # would leave the shared, cached network in training mode (BatchNorm on batch stats)
        predictor = _Predictor(net.copy()).eval()
        with torch.inference_mode():
            expected = predictor(clip).numpy()
        with atomic_path(out) as tmp:
            torch.onnx.export(
                predictor,
                (clip,),
                str(tmp),
                input_names=["clip"],
                output_names=["pulse"],
                dynamic_axes={"clip": {0: "batch"}, "pulse": {0: "batch"}},
                dynamo=False,
            )
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(["pulse"], {"clip": clip.numpy()})[0]
    return ExportReport(out, shape, float(np.max(np.abs(got - expected))))
