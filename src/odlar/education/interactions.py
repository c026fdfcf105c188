"""Learner interactions: who answered which question, tagged with which skills, correctly or
not, in time order. Students are pseudonymised at ingestion (they are minors): no raw
identifier is kept in memory after loading, on disk or in a model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from odlar.core.errors import DataError
from odlar.core.privacy import pseudonym
from odlar.core.tables import data_lines, lines_of, require_utf8, with_lines

STUDENT_COLUMNS = ("student", "student_id", "user_id", "learner", "learner_id")
ITEM_COLUMNS = ("item", "item_id", "problem_id", "question", "question_id", "exercise")
SKILL_COLUMNS = ("skills", "skill", "skill_id", "kc", "kc_id", "concept", "skill_name")
#: A skill's readable name beside its id (ASSISTments' raw logs: skill_id and skill_name);
#: alone, the name column is the skill itself.
SKILL_NAME_COLUMNS = ("skill_name", "skill_names", "kc_name")
CORRECT_COLUMNS = ("correct", "is_correct", "outcome", "score")
TIME_COLUMNS = ("timestamp", "time", "order_id", "order", "start_time")
CLASS_COLUMNS = ("class", "class_id", "section", "group")
#: Separators of several skills in one cell ("12_45", "12;45", "12~~45").
SKILL_SEPARATORS = ("~~", ";", "_", "|")


@dataclass
class Interactions:
    """Interactions sorted by (student, order); skills stored ragged (CSR)."""

    student: np.ndarray  # (N,) int64, student index
    question: np.ndarray  # (N,) int64, question id (0 if none)
    skill_ptr: np.ndarray  # (N+1,) int64, skills of row i = skill_idx[ptr[i]:ptr[i+1]]
    skill_idx: np.ndarray  # (nnz,) int64, skill ids (>= 1)
    correct: np.ndarray  # (N,) int64 0/1
    n_questions: int  # max question id (ids are 1..n_questions)
    n_skills: int  # max skill id (ids are 1..n_skills)
    #: pseudonym of each student index (None for sequence files, which have no names)
    names: list[str] | None = None
    #: class of each student index, when the log has one
    classes: list[str | None] | None = None
    #: item and skill names -> ids (a trained model keeps them to read new logs)
    question_ids: dict[str, int] = field(default_factory=dict)
    skill_ids: dict[str, int] = field(default_factory=dict)
    #: skill key (as in skill_ids) -> readable name, where the data has one
    skill_names: dict[str, str] = field(default_factory=dict)
    source: str = ""
    repairs: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.student.shape[0])

    def skills(self, i: int) -> np.ndarray:
        return self.skill_idx[self.skill_ptr[i] : self.skill_ptr[i + 1]]

    @property
    def n_skills_per_row(self) -> np.ndarray:
        return np.diff(self.skill_ptr)

    def skill_matrix(self, k_max: int | None = None) -> np.ndarray:
        """(N, K) skills padded with 0."""
        cnt = self.n_skills_per_row
        k = int(cnt.max()) if k_max is None else k_max
        out = np.zeros((len(self), k), dtype=np.int64)
        row = np.repeat(np.arange(len(self)), cnt)
        col = np.arange(len(self.skill_idx)) - np.repeat(self.skill_ptr[:-1], cnt)
        keep = col < k
        out[row[keep], col[keep]] = self.skill_idx[keep]
        return out

    def students(self) -> np.ndarray:
        return np.unique(self.student)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (exclusive) row of each student's sequence, in order of appearance."""
        chg = np.flatnonzero(np.diff(self.student) != 0) + 1
        starts = np.concatenate([[0], chg])
        ends = np.concatenate([chg, [len(self)]])
        return starts, ends

    def subset_students(self, students: np.ndarray) -> Interactions:
        mask = np.isin(self.student, students)
        return self.subset_rows(np.flatnonzero(mask))

    def subset_rows(self, rows: np.ndarray) -> Interactions:
        cnt = self.n_skills_per_row[rows]
        ptr = np.concatenate([[0], np.cumsum(cnt)]).astype(np.int64)
        pos = np.arange(int(ptr[-1])) + np.repeat(self.skill_ptr[rows] - ptr[:-1], cnt)
        idx = self.skill_idx[pos]
        return replace(
            self,
            student=self.student[rows],
            question=self.question[rows],
            skill_ptr=ptr,
            skill_idx=idx,
            correct=self.correct[rows],
            repairs=[],
        )

    @staticmethod
    def concat(parts: Sequence[Interactions]) -> Interactions:
        offs = np.cumsum([0] + [len(p.skill_idx) for p in parts[:-1]])
        ptr = np.concatenate(
            [[0]] + [p.skill_ptr[1:] + o for p, o in zip(parts, offs, strict=True)]
        )
        return Interactions(
            np.concatenate([p.student for p in parts]),
            np.concatenate([p.question for p in parts]),
            ptr.astype(np.int64),
            np.concatenate([p.skill_idx for p in parts]),
            np.concatenate([p.correct for p in parts]),
            max(p.n_questions for p in parts),
            max(p.n_skills for p in parts),
        )


def _build(rows: list[tuple[int, int, list[int], int]], n_q: int, n_s: int) -> Interactions:
    student = np.array([r[0] for r in rows], dtype=np.int64)
    question = np.array([r[1] for r in rows], dtype=np.int64)
    cnt = np.array([len(r[2]) for r in rows], dtype=np.int64)
    ptr = np.concatenate([[0], np.cumsum(cnt)]).astype(np.int64)
    idx = np.array([s for r in rows for s in r[2]], dtype=np.int64)
    correct = np.array([r[3] for r in rows], dtype=np.int64)
    return Interactions(student, question, ptr, idx, correct, n_q, n_s)


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {c.strip().lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def _skill_names_of(keys_text: pd.Series, names_text: pd.Series) -> dict[str, str]:
    """Skill key -> name from a log with both columns. A row with one skill names it with
    the whole cell; a multi-skill row only where its names split into as many parts (not
    on "_", which names may contain)."""
    out: dict[str, str] = {}
    for keys_cell, name_cell in set(zip(keys_text, names_text, strict=True)):
        keys = _split_skills(keys_cell)
        if not name_cell or not keys:
            continue
        if len(keys) == 1:
            parts = [name_cell]
        else:
            sep = next((s for s in SKILL_SEPARATORS if s != "_" and s in name_cell), None)
            parts = [p.strip() for p in name_cell.split(sep)] if sep else []
        if len(parts) == len(keys):
            for key, name in zip(keys, parts, strict=True):
                out.setdefault(key, name)
    return out


def _split_skills(cell: str) -> list[str]:
    for sep in SKILL_SEPARATORS:
        if sep in cell:
            return [s.strip() for s in cell.split(sep) if s.strip()]
    return [cell.strip()] if cell.strip() else []


def is_table(path: Path) -> bool:
    """An interaction table has a header with column names; sequence files hold numbers."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return any(ch.isalpha() for ch in header)


def read_log(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    require_utf8(path)
    with path.open("r", encoding="utf-8") as handle:
        header = handle.readline()
    if not header.strip():
        raise DataError("the file is empty", file=str(path))
    sep = max(("\t", ",", ";"), key=header.count)
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"not a readable table ({exc})", file=str(path)) from None
    if frame.empty:
        raise DataError("the file has a header but no rows", file=str(path))
    return with_lines(frame, data_lines(path, len(frame), sep=sep))


def from_log(
    frame: pd.DataFrame,
    source: str,
    *,
    question_ids: dict[str, int] | None = None,
    skill_ids: dict[str, int] | None = None,
) -> Interactions:
    """Validate an interaction log and turn it into Interactions. Rows that repeat one
    answer once per skill (same student, time and item) become one interaction with all its
    skills. With `question_ids`/`skill_ids` (a trained model's), unknown ones map to 0 and
    are counted in the repairs instead of being invented."""
    columns = [str(c) for c in frame.columns]
    found = {
        "student": _find(columns, STUDENT_COLUMNS),
        "item": _find(columns, ITEM_COLUMNS),
        "skill": _find(columns, SKILL_COLUMNS),
        "correct": _find(columns, CORRECT_COLUMNS),
    }
    missing = [k for k in ("student", "correct") if found[k] is None]
    if found["item"] is None and found["skill"] is None:
        missing.append("item or skill")
    if missing:
        raise DataError(
            f"missing column(s): {', '.join(missing)} (found: {', '.join(columns)})", file=source
        )
    time_col, class_col = _find(columns, TIME_COLUMNS), _find(columns, CLASS_COLUMNS)
    name_col = _find(columns, SKILL_NAME_COLUMNS)
    line = lines_of(frame)  # physical file lines (header is line 1)
    text = frame.astype(str).apply(lambda c: c.str.strip())
    repairs: list[dict[str, Any]] = []

    students_raw = text[found["student"]]
    empty = (students_raw == "").to_numpy()
    if empty.any():
        raise DataError(
            "empty student id", file=source, line=int(line[empty][0]), field=found["student"]
        )
    correct_text = text[found["correct"]]
    correct = pd.to_numeric(correct_text, errors="coerce").to_numpy()
    bad = ~np.isin(correct, (0, 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"'{correct_text.iloc[i]}' is not 0 or 1",
            file=source,
            line=int(line[i]),
            field=found["correct"],
        )
    if time_col is not None:
        raw_time = text[time_col]
        as_number = pd.to_numeric(raw_time, errors="coerce")
        if as_number.notna().all():
            order = as_number.to_numpy(dtype=float)
        else:
            stamps = pd.to_datetime(raw_time, errors="coerce", utc=True, format="mixed")
            if stamps.isna().any():
                i = int(np.flatnonzero(stamps.isna().to_numpy())[0])
                raise DataError(
                    f"'{raw_time.iloc[i]}' is not a time or an order number",
                    file=source,
                    line=int(line[i]),
                    field=time_col,
                )
            order = stamps.astype("int64").to_numpy(dtype=float)
    else:
        order = np.arange(len(frame), dtype=float)  # file order is time order

    items = text[found["item"]] if found["item"] else pd.Series([""] * len(frame))
    skills_text = text[found["skill"]] if found["skill"] else pd.Series([""] * len(frame))
    if found["skill"] is not None:
        empty = (skills_text == "").to_numpy()
        if empty.any():
            raise DataError(
                "no skill given", file=source, line=int(line[empty][0]), field=found["skill"]
            )

    skill_names = (
        _skill_names_of(skills_text, text[name_col])
        if name_col is not None and found["skill"] not in (None, name_col)
        else {}
    )

    # pseudonymise first: the raw identifiers go no further than this function
    pseudo = students_raw.map(pseudonym)
    student_classes = text[class_col] if class_col else None
    frame2 = pd.DataFrame(
        {
            "student": pseudo,
            "item": items,
            "skills": skills_text,
            "correct": correct.astype(int),
            "order": order,
            "line": line,
        }
    )
    if student_classes is not None:
        frame2["class"] = student_classes
    # expanded multi-skill rows: one answer repeated per skill
    if found["item"]:
        # consecutive rows only: a later attempt at the same item is a new interaction
        frame2["run"] = _answer_runs(
            frame2["student"].to_numpy(), order, items.to_numpy(), skills_text.to_numpy()
        )
        grouped = frame2.groupby("run", sort=False, as_index=False)
        merged = grouped.agg(
            skills=("skills", lambda s: "~~".join(dict.fromkeys(s))),
            correct=("correct", "first"),
            conflict=("correct", "nunique"),
            line=("line", "first"),
            **({"class": ("class", "first")} if "class" in frame2 else {}),
        )
        if (merged["conflict"] > 1).any():
            row = merged[merged["conflict"] > 1].iloc[0]
            raise DataError(
                "one answer recorded as both correct and incorrect",
                file=source,
                line=int(row["line"]),
                field=found["correct"],
            )
        if len(merged) < len(frame2):
            repairs.append(
                {
                    "kind": "skill_rows_merged",
                    "rows": len(frame2) - len(merged),
                    "detail": "rows repeating one answer once per skill merged",
                }
            )
        merged["student"] = grouped["student"].first()["student"]
        merged["item"] = grouped["item"].first()["item"]
        merged["order"] = grouped["order"].first()["order"]
        frame2 = merged.drop(columns=["conflict", "run"])
    frame2 = frame2.sort_values(["student", "order"], kind="stable").reset_index(drop=True)
    lines, owner = frame2["line"].to_numpy(), frame2["student"].to_numpy()
    moved = int(((lines[1:] < lines[:-1]) & (owner[1:] == owner[:-1])).sum())
    if moved:
        repairs.append(
            {
                "kind": "sorted_by_time",
                "rows": moved,
                "detail": "each student's interactions put in time order",
            }
        )

    q_map = dict(question_ids) if question_ids is not None else {}
    s_map = dict(skill_ids) if skill_ids is not None else {}
    frozen = question_ids is not None
    unknown_q = unknown_s = 0
    names, codes = np.unique(frame2["student"].to_numpy(), return_inverse=True)
    rows: list[tuple[int, int, list[int], int]] = []
    for code, item, cell, c in zip(
        codes, frame2["item"], frame2["skills"], frame2["correct"], strict=True
    ):
        q = 0
        if item:
            if item not in q_map and not frozen:
                q_map[item] = len(q_map) + 1
            q = q_map.get(item, 0)
            unknown_q += q == 0
        ids = []
        for name in _split_skills(cell) if cell else [f"item:{item}"]:
            if name not in s_map and not frozen:
                s_map[name] = len(s_map) + 1
            if name in s_map:
                ids.append(s_map[name])
            else:
                unknown_s += 1
        rows.append((int(code), q, list(dict.fromkeys(ids)), int(c)))
    if unknown_q or unknown_s:
        repairs.append(
            {
                "kind": "unknown_ids",
                "rows": unknown_q + unknown_s,
                "detail": f"{unknown_q} questions and {unknown_s} skills the model has "
                "not seen: scored without them",
            }
        )
    if any(not r[2] for r in rows):
        raise DataError(
            "an interaction has no skill the model knows and no known question", file=source
        )
    classes: list[str | None] = [None] * len(names)
    if "class" in frame2:
        for code, cls in zip(codes, frame2["class"], strict=True):
            classes[code] = cls or classes[code]
    order_rows = sorted(range(len(rows)), key=lambda i: rows[i][0])  # stable: keeps time order
    data = _build(
        [rows[i] for i in order_rows],
        max(q_map.values(), default=0),
        max(s_map.values(), default=0),
    )
    return replace(
        data,
        names=list(names),
        classes=classes,
        question_ids=q_map,
        skill_ids=s_map,
        skill_names={k: v for k, v in skill_names.items() if k in s_map},
        source=source,
        repairs=repairs,
    )


def _answer_runs(
    student: np.ndarray, order: np.ndarray, item: np.ndarray, skill: np.ndarray
) -> np.ndarray:
    """Run id per row: consecutive rows with the same student, time and item and a new skill
    are one answer expanded per skill; a repeated skill starts a new attempt."""
    runs = np.zeros(len(student), int)
    run, seen = 0, set()
    for i in range(len(student)):
        same = (
            i > 0
            and student[i] == student[i - 1]
            and order[i] == order[i - 1]
            and item[i] == item[i - 1]
            and skill[i] not in seen
        )
        if not same:
            run += 1
            seen = set()
        seen.add(skill[i])
        runs[i] = run
    return runs


def _int_list(text: str, source: str, line: int) -> list[int]:
    try:
        return [int(float(x)) for x in text.split(",") if x.strip()]
    except ValueError:
        bad = next(x for x in text.split(",") if not _is_number(x))
        raise DataError(f"'{bad.strip()}' is not a number", file=source, line=line) from None


def _is_number(x: str) -> bool:
    try:
        float(x)
    except ValueError:
        return False
    return True


def _blocks_of(lines: list[str], width: int, check: int = 5) -> bool:
    """Whether the file looks like blocks of `width` lines whose last width-1 lines (or the
    last two for 3-line blocks) hold the same number of fields."""
    if len(lines) % width:
        return False
    for start in range(0, min(len(lines), check * width), width):
        counts = {len(lines[start + j].split(",")) for j in range(1, width)}
        if len(counts) != 1:
            return False
    return True


def read_sequences(path: str | Path, first_student: int = 0) -> Interactions:
    """The AKT/pyKT sequence formats: 4 lines per student (header with two fields / problem
    ids / skill ids / correct) or 3 lines (length / skill ids / correct).
    Consecutive rows of one problem with one answer and a new skill are one multi-skill
    interaction. Ids are kept as they are in the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    require_utf8(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DataError("the file is empty", file=str(path))
    source = str(path)
    width = 4 if _blocks_of(lines, 4) else 3
    if len(lines) % width:
        raise DataError(
            f"{len(lines)} lines is not a multiple of {width} (one block of {width} lines "
            "per student)",
            file=source,
            line=len(lines),
        )
    rows: list[tuple[int, int, list[int], int]] = []
    stu = first_student
    for start in range(0, len(lines), width):
        block = [_int_list(lines[start + j], source, start + j + 1) for j in range(width)]
        if width == 4:  # the header holds student fields, not always the length
            pids, sks, cor = block[1], block[2], block[3]
        else:
            pids, sks, cor = [0] * len(block[1]), block[1], block[2]
        if not (len(pids) == len(sks) == len(cor)):
            raise DataError(
                f"the student's lines disagree on the number of answers ({len(sks)} skills, "
                f"{len(cor)} answers)",
                file=source,
                line=start + 1,
            )
        if any(c not in (0, 1) for c in cor):
            raise DataError("answers must be 0 or 1", file=source, line=start + width)
        if any(s < 1 for s in sks):
            raise DataError("skill ids start at 1", file=source, line=start + width - 1)
        prev: tuple[int, int, list[int], int] | None = None
        for p, sk, c in zip(pids, sks, cor, strict=True):
            if prev is not None and p and p == prev[1] and c == prev[3] and sk not in prev[2]:
                prev[2].append(sk)
                continue
            prev = (stu, p, [sk], c)
            rows.append(prev)
        stu += 1
    data = _build(
        rows, max((r[1] for r in rows), default=0), max((s for r in rows for s in r[2]), default=0)
    )
    skill_ids = {str(k): k for k in range(1, data.n_skills + 1)}
    return replace(
        data,
        source=source,
        question_ids={str(q): q for q in range(1, data.n_questions + 1)},
        skill_ids=skill_ids,
        skill_names={k: v for k, v in skill_names_beside(path).items() if k in skill_ids},
    )


def skill_names_beside(path: Path) -> dict[str, str]:
    """The skill-id map shipped beside AKT/pyKT sequence files (`assist2009_pid_skill.json`
    beside `assist2009_pid_test1.csv`: {"skill name": id}), as id -> name; {} when the
    folder has none (the ids are then the only names)."""
    maps = [
        m
        for m in sorted(path.parent.glob("*_skill.json"))
        if path.stem.startswith(m.stem.removesuffix("_skill"))
    ]
    if not maps:
        return {}
    source = maps[0]
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"not a JSON skill map ({exc})", file=str(source)) from None
    if not isinstance(raw, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in raw.values()
    ):
        raise DataError('expected {"skill name": skill id, ...}', file=str(source))
    return {str(v): str(k) for k, v in raw.items()}


def windows(data: Interactions, length: int, stride: int) -> list[tuple[int, int, int]]:
    """(start, end, first_scored) windows over each student's sequence.

    Windows of ``length`` rows advance by ``stride``; rows before ``first_scored`` in a
    window are context only (scored by an earlier window), so every row is scored once.
    """
    out: list[tuple[int, int, int]] = []
    starts, ends = data.bounds()
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if e - s <= length:
            out.append((s, e, s))
            continue
        out.append((s, s + length, s))
        scored = s + length
        while scored < e:
            ws = scored - (length - stride)
            we = min(ws + length, e)
            out.append((ws, we, scored))
            scored = we
    return out
