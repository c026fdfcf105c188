"""Tennessee Eastman Process files (Braatz): 52 variables, XMEAS 1-41 and XMV 1-11."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from odlar.core.errors import DataError
from odlar.core.tables import data_lines
from odlar.energy.faults.streams import Table

VARIABLES = [f"XMEAS_{i}" for i in range(1, 42)] + [f"XMV_{i}" for i in range(1, 12)]
#: The 33 variables of the usual monitoring protocol (Yin et al. 2012): XMEAS 1-22, XMV 1-11.
MONITORED = list(range(22)) + list(range(41, 52))
#: In the test files the fault is introduced after this many samples.
FAULT_START = 160


def load_tep(path: str | Path) -> np.ndarray:
    """One Braatz file as (samples, 52); d00.dat is stored transposed and is turned back."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", file=str(path))
    try:
        data = np.loadtxt(path, ndmin=2)
    except ValueError as exc:
        raise DataError(f"not a table of numbers: {exc}", file=str(path)) from None
    transposed = data.shape[0] == len(VARIABLES) and data.shape[1] != len(VARIABLES)
    if transposed:
        data = data.T
    if data.shape[1] != len(VARIABLES):
        raise DataError(
            f"expected {len(VARIABLES)} variables, found {data.shape[1]}", file=str(path)
        )
    if not np.isfinite(data).all():
        row = int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
        if transposed:  # a sample is a column of the file: no line to name
            raise DataError(f"value of sample {row + 1} is not finite", file=str(path))
        lines = data_lines(path, len(data), sep=None, header=False)
        raise DataError("value is not finite", file=str(path), line=int(lines[row]))
    return data


def tep_table(path: str | Path, *, all_variables: bool = False) -> Table:
    """A Braatz file as a labelled table: d00*.dat normal; dNN.dat fault NN from the first
    row; dNN_te.dat normal for FAULT_START samples, then fault NN."""
    path = Path(path)
    match = re.fullmatch(r"d(\d\d)(_te)?\.dat", path.name)
    if match is None:
        raise DataError("not a Tennessee Eastman file name (dNN.dat or dNN_te.dat)", file=str(path))
    data = load_tep(path)
    fault, test = int(match.group(1)), match.group(2) is not None
    labels = np.full(len(data), fault, int)
    if test:
        labels[:FAULT_START] = 0
    columns = list(range(len(VARIABLES))) if all_variables else MONITORED
    return Table(
        variables=[VARIABLES[j] for j in columns],
        values=data[:, columns],
        labels=labels,
        transient=np.zeros(len(data), bool),
        time=None,
        source=str(path),
    )
