"""GPU cluster traces: a node list and a pod list in the CSV shape of Alibaba's 2023 trace.

The columns are those documented in `alibaba-gpu-v2023/README.md`; users' own clusters and
workloads come in the same shape. Every cell is checked, and a bad one raises a DataError
naming the file, line and column.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from odlar.core.errors import DataError

MILLI = 1000  # one whole GPU in milli-GPU
NODE_COLUMNS = ("sn", "cpu_milli", "memory_mib", "gpu", "model")
POD_COLUMNS = ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli")
POD_OPTIONAL = ("gpu_spec", "creation_time", "deletion_time")
MAX_GPUS_PER_NODE = 16
_MODEL = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class Cluster:
    """Nodes, one row each: capacities in milli-CPU, MiB and whole GPUs of one model."""

    names: tuple[str, ...]
    cpu: np.ndarray  # milli-CPU
    memory: np.ndarray  # MiB
    gpus: np.ndarray  # GPUs on the node
    model: np.ndarray  # index into `models`; 0 is "no GPU"
    models: tuple[str, ...]  # models[0] == ""
    source: str = ""

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def total_gpus(self) -> int:
        return int(self.gpus.sum())

    @property
    def width(self) -> int:
        """GPU slots per node in the simulator's arrays."""
        return max(1, int(self.gpus.max(initial=0)))

    def take(self, index: np.ndarray) -> Cluster:
        index = np.asarray(index, dtype=np.int64)
        return replace(
            self,
            names=tuple(self.names[i] for i in index),
            cpu=self.cpu[index],
            memory=self.memory[index],
            gpus=self.gpus[index],
            model=self.model[index],
        )

    def gpus_by_model(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for code, name in enumerate(self.models):
            if code:
                out[name] = int(self.gpus[self.model == code].sum())
        return out


@dataclass(frozen=True)
class Workload:
    """Pods, one row each: requests, GPU-model constraint and (optionally) lifetimes."""

    names: tuple[str, ...]
    cpu: np.ndarray  # milli-CPU
    memory: np.ndarray  # MiB
    num_gpu: np.ndarray  # whole GPUs, or 1 for a GPU-sharing pod
    gpu_milli: np.ndarray  # milli-GPU per GPU: 1000 unless the pod shares one GPU
    spec: tuple[str, ...]  # allowed GPU models, "A|B"; "" means any
    creation: np.ndarray  # seconds; -1 when the file has no lifetimes
    deletion: np.ndarray
    source: str = ""

    @property
    def size(self) -> int:
        return len(self.names)

    @property
    def gpu_demand(self) -> np.ndarray:
        """Milli-GPU each pod asks for in all."""
        return self.num_gpu * self.gpu_milli

    @property
    def has_lifetimes(self) -> bool:
        return bool(self.size and (self.creation >= 0).all() and (self.deletion >= 0).all())

    def take(self, index: np.ndarray) -> Workload:
        index = np.asarray(index, dtype=np.int64)
        return replace(
            self,
            names=tuple(self.names[i] for i in index),
            cpu=self.cpu[index],
            memory=self.memory[index],
            num_gpu=self.num_gpu[index],
            gpu_milli=self.gpu_milli[index],
            spec=tuple(self.spec[i] for i in index),
            creation=self.creation[index],
            deletion=self.deletion[index],
        )


def sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data line; the header must name every required column."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as e:
        raise DataError(f"cannot read: {e.strerror or e}", file=str(path)) from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
        except (UnicodeDecodeError, csv.Error) as e:
            raise DataError(f"not a CSV file ({e})", file=str(path), line=1) from None
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(
                f"missing column(s) {', '.join(missing)} (expected {', '.join(required)})",
                file=str(path),
                line=1,
            )
        try:
            for row in reader:
                line = reader.line_num
                if None in row or any(v is None for v in row.values()):
                    raise DataError(
                        f"{len(header)} columns expected, the row has a different number",
                        file=str(path),
                        line=line,
                    )
                yield line, row
        except (UnicodeDecodeError, csv.Error) as e:
            raise DataError(f"unreadable CSV ({e})", file=str(path), line=reader.line_num) from None


def _int(
    path: Path, line: int, row: dict[str, str], column: str, lo: int, hi: int | None = None
) -> int:
    text = row[column].strip()
    try:
        value = int(text)
    except ValueError:
        try:  # pandas writes integers as "8.0" when a column has gaps
            as_float = float(text)
        except ValueError:
            as_float = float("nan")
        if not as_float.is_integer():
            raise DataError(
                f"'{text}' is not a whole number", file=str(path), line=line, field=column
            ) from None
        value = int(as_float)
    if value < lo or (hi is not None and value > hi):
        bound = f"from {lo} to {hi}" if hi is not None else f"at least {lo}"
        raise DataError(f"{value} out of range ({bound})", file=str(path), line=line, field=column)
    return value


def _unique_name(
    path: Path, line: int, row: dict[str, str], column: str, what: str, seen: dict[str, int]
) -> str:
    """A row's name: not empty and not seen on an earlier line (recorded in `seen`)."""
    name = row[column].strip()
    if not name:
        raise DataError(f"empty {what} name", file=str(path), line=line, field=column)
    if name in seen:
        raise DataError(
            f"{what} '{name}' listed twice (first on line {seen[name]})",
            file=str(path),
            line=line,
            field=column,
        )
    seen[name] = line
    return name


def load_nodes(path: str | Path) -> Cluster:
    path = Path(path)
    names: list[str] = []
    cpu: list[int] = []
    memory: list[int] = []
    gpus: list[int] = []
    models: list[str] = [""]
    model: list[int] = []
    seen: dict[str, int] = {}
    for line, row in _rows(path, NODE_COLUMNS):
        name = _unique_name(path, line, row, "sn", "node", seen)
        n_gpu = _int(path, line, row, "gpu", 0, MAX_GPUS_PER_NODE)
        kind = row["model"].strip()
        if kind.lower() == "nan":
            kind = ""
        if n_gpu and not kind:
            raise DataError(
                f"node '{name}' has {n_gpu} GPUs but no model",
                file=str(path),
                line=line,
                field="model",
            )
        if not n_gpu and kind:
            raise DataError(
                f"node '{name}' names GPU model '{kind}' but has no GPUs",
                file=str(path),
                line=line,
                field="model",
            )
        if kind and not _MODEL.match(kind):
            raise DataError(
                f"'{kind}' is not a GPU model name (letters, digits, '.', '_', '-')",
                file=str(path),
                line=line,
                field="model",
            )
        if kind and kind not in models:
            models.append(kind)
        names.append(name)
        cpu.append(_int(path, line, row, "cpu_milli", 1))
        memory.append(_int(path, line, row, "memory_mib", 1))
        gpus.append(n_gpu)
        model.append(models.index(kind) if kind else 0)
    if not names:
        raise DataError("no nodes", file=str(path))
    return Cluster(
        names=tuple(names),
        cpu=np.array(cpu, dtype=np.int64),
        memory=np.array(memory, dtype=np.int64),
        gpus=np.array(gpus, dtype=np.int64),
        model=np.array(model, dtype=np.int64),
        models=tuple(models),
        source=str(path),
    )


def load_pods(path: str | Path) -> Workload:
    path = Path(path)
    names: list[str] = []
    cpu: list[int] = []
    memory: list[int] = []
    num_gpu: list[int] = []
    gpu_milli: list[int] = []
    spec: list[str] = []
    creation: list[int] = []
    deletion: list[int] = []
    seen: dict[str, int] = {}
    for line, row in _rows(path, POD_COLUMNS):
        name = _unique_name(path, line, row, "name", "pod", seen)
        n = _int(path, line, row, "num_gpu", 0, MAX_GPUS_PER_NODE)
        milli = _int(path, line, row, "gpu_milli", 0, MILLI)
        if n and not milli:
            raise DataError(
                f"pod '{name}' asks for {n} GPU(s) with gpu_milli 0 (1 to 1000 expected)",
                file=str(path),
                line=line,
                field="gpu_milli",
            )
        if n > 1 and milli < MILLI:
            raise DataError(
                f"pod '{name}' shares a GPU ({milli} milli) but asks for {n} GPUs: only "
                "single-GPU pods share",
                file=str(path),
                line=line,
                field="gpu_milli",
            )
        allowed = _spec(path, line, row.get("gpu_spec", ""))
        born = row.get("creation_time", "").strip()
        dies = row.get("deletion_time", "").strip()
        t0 = _int(path, line, row, "creation_time", 0) if born else -1
        t1 = _int(path, line, row, "deletion_time", 0) if dies else -1
        if t0 >= 0 and t1 >= 0 and t1 < t0:
            raise DataError(
                f"pod '{name}' is deleted ({t1}) before it is created ({t0})",
                file=str(path),
                line=line,
                field="deletion_time",
            )
        names.append(name)
        cpu.append(_int(path, line, row, "cpu_milli", 0))
        memory.append(_int(path, line, row, "memory_mib", 0))
        num_gpu.append(n)
        gpu_milli.append(milli if n else 0)
        spec.append(allowed if n else "")
        creation.append(t0)
        deletion.append(t1)
    if not names:
        raise DataError("no pods", file=str(path))
    return Workload(
        names=tuple(names),
        cpu=np.array(cpu, dtype=np.int64),
        memory=np.array(memory, dtype=np.int64),
        num_gpu=np.array(num_gpu, dtype=np.int64),
        gpu_milli=np.array(gpu_milli, dtype=np.int64),
        spec=tuple(spec),
        creation=np.array(creation, dtype=np.int64),
        deletion=np.array(deletion, dtype=np.int64),
        source=str(path),
    )


def _spec(path: Path, line: int, text: str | None) -> str:
    text = (text or "").strip()
    if not text or text.lower() == "nan":
        return ""
    models = [m for m in text.split("|") if m]
    for m in models:
        if not _MODEL.match(m):
            raise DataError(
                f"'{m}' is not a GPU model name (models are separated by '|')",
                file=str(path),
                line=line,
                field="gpu_spec",
            )
    return "|".join(sorted(set(models)))


def nodes_beside(pods: Path) -> Path:
    """The node list that goes with a pod list: `nodes.csv` in the same folder, else the
    trace's GPU-node list (the cluster the FGD authors replay)."""
    for name in ("nodes.csv", "openb_node_list_gpu_node.csv"):
        candidate = pods.parent / name
        if candidate.is_file():
            return candidate
    raise DataError(
        "no node list beside the pod list (nodes.csv or openb_node_list_gpu_node.csv); "
        "pass nodes=FILE",
        file=str(pods),
    )


def variant_of(source: str) -> str:
    """`default`, `gpushare100`... for a trace file `openb_pod_list_<variant>.csv`."""
    stem = Path(source).stem
    return stem.removeprefix("openb_pod_list_") if stem.startswith("openb_pod_list_") else ""
