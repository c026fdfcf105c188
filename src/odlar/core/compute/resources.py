"""What a piece of work asks of the machine: CPUs, GPUs, memory."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Resources(BaseModel):
    """Declared by a task per method (Task.resources); a job may ask for more or less."""

    cpus: float = Field(default=1.0, gt=0, le=1024, description="CPU cores")
    gpus: float = Field(default=0.0, ge=0, le=64, description="GPUs (fractions allowed)")
    memory_mb: int | None = Field(default=None, ge=1, le=16_777_216, description="Memory, MiB")
