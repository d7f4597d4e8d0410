"""Deployment: a trained network as ONNX, checked against PyTorch with onnxruntime."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rppgkit.errors import RppgError
from rppgkit.fileio import atomic_path
from rppgkit.models.inference import load_network


@dataclass(frozen=True)
class ExportReport:
    path: Path
    input_shape: tuple[int, ...]  # [batch, 3, T, size, size]; the batch axis is dynamic
    max_abs_diff: float  # onnxruntime vs PyTorch on a random clip


def export_onnx(checkpoint: str | os.PathLike, target: str | os.PathLike) -> ExportReport:
    """Write the checkpoint's network (the part that maps a clip to a pulse) as ONNX."""
    try:
        import onnx  # noqa: F401  (the exporter needs it)
        import onnxruntime
    except ImportError:
        raise RppgError(
            'ONNX export needs onnx and onnxruntime: pip install "rppgkit[export]"'
        ) from None
    net = load_network(checkpoint)
    spec = net.spec
    shape = (2, 3, spec.frames, spec.size, spec.size)
    clip = torch.from_numpy(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    with torch.inference_mode():
        expected = net.recipe.predict(net.model, clip).numpy()
    target = Path(target)
    with atomic_path(target) as tmp:
        torch.onnx.export(
            net.model,
            (clip,),
            str(tmp),
            input_names=["clip"],
            output_names=["pulse"],
            dynamic_axes={"clip": {0: "batch"}, "pulse": {0: "batch"}},
            dynamo=False,
        )
    try:
        import onnxruntime
    except ImportError:
        raise RppgError(f"wrote {target}, but cannot check it: pip install onnxruntime") from None
    session = onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    got = session.run(["pulse"], {"clip": clip.numpy()})[0]
    return ExportReport(target, shape, float(np.max(np.abs(got - expected))))
