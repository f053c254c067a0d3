"""DistributedDataParallel under ``torchrun``: which rank we are and how ranks agree.

``torchrun --nproc_per_node N script.py`` starts N copies of a script with ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` in their environment. The same ``fit`` call then
trains one model on N devices: every rank takes its shard of each epoch, gradients are
averaged by DDP, and the metrics are summed over ranks before anyone prints them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .._geometry import check_choice


@dataclass(frozen=True)
class Ranks:
    """Where this process stands: ``rank`` of ``world_size``, ``local_rank`` on its machine."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone prints and writes checkpoints."""
        return self.rank == 0


def ranks_from_env() -> Ranks:
    """Read ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` as torchrun sets them (one process if absent)."""
    if dist.is_available() and dist.is_initialized():
        local = int(os.environ.get("LOCAL_RANK", dist.get_rank()))
        return Ranks(dist.get_rank(), dist.get_world_size(), local)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or "RANK" not in os.environ:
        return Ranks()
    rank = int(os.environ["RANK"])
    return Ranks(rank, world, int(os.environ.get("LOCAL_RANK", rank)))


def start(ranks: Ranks, device: torch.device) -> bool:
    """Join the process group (nccl on CUDA, gloo otherwise); True if we created it."""
    if not ranks.enabled or dist.is_initialized():
        return False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend, rank=ranks.rank, world_size=ranks.world_size)
    return True


def stop(created: bool) -> None:
    """Leave the process group if :func:`start` created it."""
    if created and dist.is_initialized():
        dist.destroy_process_group()


#: The reductions :func:`all_reduce` offers.
REDUCE_OPS = ("sum", "max", "min")


def all_reduce(tensor: torch.Tensor, ranks: Ranks, op: str = "sum") -> torch.Tensor:
    """Sum (or max, or min) ``tensor`` over all ranks in place; a no-op for a single process."""
    check_choice(op, "op", REDUCE_OPS)
    if ranks.enabled:
        dist.all_reduce(tensor, op=getattr(dist.ReduceOp, op.upper()))
    return tensor


def average_buffers(model: torch.nn.Module, ranks: Ranks) -> None:
    """Average floating-point buffers (BatchNorm running statistics) over ranks.

    DDP copies rank 0's buffers into every rank before each training forward, but the
    forward then updates them with the rank's own batch: after the last step the ranks
    disagree. Averaging once per epoch makes evaluation and checkpoints the same on all.
    """
    if not ranks.enabled:
        return
    with torch.no_grad():
        for buffer in model.buffers():
            if buffer.is_floating_point():
                dist.all_reduce(buffer, op=dist.ReduceOp.SUM)
                buffer.div_(ranks.world_size)


def barrier(ranks: Ranks) -> None:
    if ranks.enabled:
        dist.barrier()
