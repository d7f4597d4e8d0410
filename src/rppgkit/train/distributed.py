"""Process-group set-up for `torchrun` (data-parallel training), and its no-op single-process
twin. torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; gloo serves CPU runs, NCCL GPU runs, on one
machine or several."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from rppgkit.errors import RppgError


@dataclass(frozen=True)
class Context:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def mean(self, value: float) -> float:
        """The mean of a number over all processes."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def average(self, grads: list[torch.Tensor]) -> None:
        """Replace each gradient by its mean over all processes (what DistributedDataParallel
        does, for any number of networks and optimisers)."""
        if self.world == 1 or not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def share(self, obj: Any) -> Any:
        """Rank 0's value of `obj`, on every process."""
        if self.world == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def setup(device: str = "auto") -> Context:
    """Join the process group torchrun started (if any) and pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda" and not torch.cuda.is_available():
        raise RppgError("train.device is cuda but PyTorch sees no CUDA GPU; set train.device=cpu")
    cuda = device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return Context(rank, world, local_rank, torch.device(f"cuda:{local_rank}" if cuda else "cpu"))


class _AllReduceSum(torch.autograd.Function):
    """Sum over processes, with the gradient summed back over processes."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        out = x.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        out = grad.clone()
        dist.all_reduce(out)
        return out


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics cover the global batch of all processes, for CPU
    (gloo) runs: PyTorch's SyncBatchNorm is GPU-only. With it, N processes compute what one
    process computes on the whole batch. Same parameters and buffers as BatchNorm."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(f"BatchNorm needs [B, C, ...] input, got {x.dim()} dimensions")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        channels = x.shape[1]
        dims = [0, *range(2, x.dim())]
        count = torch.tensor([x.numel() / channels], dtype=x.dtype, device=x.device)
        stats = _AllReduceSum.apply(torch.cat([x.sum(dims), (x * x).sum(dims), count]))
        total = stats[-1]
        mean = stats[:channels] / total
        var = (stats[channels : 2 * channels] / total - mean * mean).clamp_min(0)
        with torch.no_grad():
            m = self.momentum
            self.running_mean.mul_(1 - m).add_(m * mean)
            self.running_var.mul_(1 - m).add_(m * var * total / (total - 1))
            self.num_batches_tracked.add_(1)
        shape = [1, channels] + [1] * (x.dim() - 2)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return y * self.weight.view(shape) + self.bias.view(shape)


def sync_batchnorm(model: nn.Module, ctx: Context) -> nn.Module:
    """Make every BatchNorm of `model` use global-batch statistics (SyncBatchNorm on GPUs)."""
    if ctx.world == 1:
        return model
    if ctx.device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and child.affine:
            new = GlobalBatchNorm(child.num_features, child.eps, child.momentum)
            new.load_state_dict(child.state_dict())
            setattr(model, name, new)
        else:
            sync_batchnorm(child, ctx)
    return model
