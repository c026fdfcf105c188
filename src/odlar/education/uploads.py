"""A class's answer log uploaded from the console: kept as a dataset of the tenant by
`datasets.save_upload` (validated by the task's loader, students pseudonymised, personal
data masked, as `POST /api/v1/datasets?task=education.tracing` keeps it), then its answers
recorded for the class as `odlar education record` records them, so that the class list,
report and heat map read them with the serving model."""

from __future__ import annotations

import lzma
import zlib
from pathlib import Path
from typing import Any, BinaryIO

from odlar.core import datasets
from odlar.core.errors import Conflict, DataError, NotFound, UsageError
from odlar.education.interactions import CLASS_COLUMNS, Interactions, _find
from odlar.education.service import TASK, TRACKER

MAX_CLASS = 200  # as the API's class_id and the store's column


def upload_class_log(
    filename: str, content: BinaryIO, *, class_id: str | None, tenant: str, actor: str
) -> dict[str, Any]:
    """Keep the log as a dataset and record its answers; `class_id` is the class of every
    student the log gives none. Refused before anything is kept when no class would be
    known (a log without a class column and no class given)."""
    class_id = (class_id or "").strip() or None
    if class_id is not None and len(class_id) > MAX_CLASS:
        raise UsageError(f"class: at most {MAX_CLASS} characters")
    if class_id is None and not _names_classes(content, filename):
        raise UsageError(
            f"{Path(filename).name}: the log has no class column ({', '.join(CLASS_COLUMNS)}):"
            " name the class in the form"
        )
    answers: list[dict[str, Any]] = []

    def check(dataset_id: str, data: Any) -> None:  # before the log is kept
        answers.extend(answers_of(data.frame, class_id, dataset_id))
        _known_to_serving(answers, tenant, Path(filename).name)

    record = datasets.save_upload(TASK, filename, content, tenant=tenant, actor=actor,
                                  check=check)  # fmt: skip
    result = TRACKER.record(tenant=tenant, records=answers, actor=actor)
    return {"dataset": record, "stored": result["stored"], "students": len(result["students"]),
            "model_version": result.get("model_version")}  # fmt: skip


def _known_to_serving(answers: list[dict[str, Any]], tenant: str, name: str) -> None:
    """Refuse answers the serving model can read nothing of (no skill and no question it
    knows): their students' mastery, and so the class's report, could never be computed.
    Without a serving model there is nothing to check yet."""
    try:
        version, model = TRACKER.model(tenant, None)
    except (NotFound, Conflict):
        return
    for i, a in enumerate(answers):
        skills = [s for s in a["skills"].split("~~") if s]
        if a["item"] not in model.question_ids and not any(s in model.skill_ids for s in skills):
            raise DataError(
                f"answer {i + 1} (item '{a['item']}', skills '{a['skills']}'): neither its "
                f"question nor any of its skills is known to the serving model v{version}; "
                "nothing was stored",
                file=name, field="skills",
            )  # fmt: skip


def answers_of(data: Interactions, class_id: str | None, dataset_id: str) -> list[dict[str, Any]]:
    """The log's interactions as answer records, each student's in time order. Students of
    a sequence file have no identifier: they are numbered within the dataset (pseudonymised
    like any other, so two uploads never share a student)."""
    count = int(data.student.max()) + 1 if len(data) else 0
    names = data.names or [f"{dataset_id}-{i}" for i in range(count)]
    classes = data.classes or [None] * len(names)
    item_of = {v: k for k, v in data.question_ids.items()}
    skill_of = {v: k for k, v in data.skill_ids.items()}
    rows = []
    for i in range(len(data)):
        code = int(data.student[i])
        rows.append({
            "student": names[code],
            "item": item_of.get(int(data.question[i]), ""),
            "skills": "~~".join(skill_of[int(s)] for s in data.skills(i)),
            "correct": int(data.correct[i]),
            "class": classes[code] or class_id or "",
        })  # fmt: skip
    return rows


def _names_classes(content: BinaryIO, filename: str) -> bool:
    """Whether the upload's header names a class column (read through its compression,
    then rewound; an unreadable file is left to the loader to refuse)."""
    opener = datasets.DECOMPRESSORS.get(Path(filename).suffix.lower())
    try:
        head = (opener(content) if opener else content).readline(1 << 16)
    except (OSError, EOFError, lzma.LZMAError, zlib.error):
        return True
    finally:
        content.seek(0)
    header = head.decode("utf-8", errors="replace")
    if not any(ch.isalpha() for ch in header):  # a sequence file: numbers, no columns
        return False
    sep = max(("\t", ",", ";"), key=header.count)
    columns = [c.strip().strip('"') for c in header.rstrip("\r\n").split(sep)]
    return _find(columns, CLASS_COLUMNS) is not None
