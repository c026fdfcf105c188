"""education.tracing: loaders and their errors, pseudonyms, no leak from multi-skill rows,
mastery after every answer, next exercises, class reports, API and CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from conftest import SHARED_DATA
from odlar.core import jobs
from odlar.core.errors import DataError
from odlar.core.privacy import is_pseudonym, pseudonym
from odlar.education.exercises import Policy, choose_exercises, class_report, eligible_skills
from odlar.education.interactions import from_log, read_log, read_sequences
from test_cli import odlar

EDU = SHARED_DATA / "education"
LOG = EDU / "assist2009" / "assistments09_preprocessed_data_test.csv"


def _log(tmp_path: Path, rows: list[dict], name: str = "log.csv") -> Path:
    path = tmp_path / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_sequence_formats_merge_multi_skill_questions() -> None:
    data = read_sequences(EDU / "assist2009" / "assist2009_pid_test1.csv")
    raw_rows = sum(
        len(line.split(","))
        for i, line in enumerate(
            (EDU / "assist2009/assist2009_pid_test1.csv").read_text().splitlines()
        )
        if i % 4 == 1
    )
    multi = int((data.n_skills_per_row > 1).sum())
    assert multi > 0 and len(data) < raw_rows, "expanded multi-skill rows become one answer"
    three = read_sequences(EDU / "assist2015" / "assist2015_test1.csv")
    assert three.n_questions == 0 and three.n_skills == 100


def test_log_pseudonymises_sorts_and_merges(tmp_path: Path, home: Path) -> None:
    rows = [
        {"student": "aysel.m", "item": "q2", "skill": "fractions", "correct": 1, "time": 20},
        {"student": "aysel.m", "item": "q1", "skill": "fractions", "correct": 0, "time": 10},
        {"student": "aysel.m", "item": "q1", "skill": "decimals", "correct": 0, "time": 10},
        {"student": "murad", "item": "q1", "skill": "fractions", "correct": 1, "time": 5},
    ]
    data = from_log(read_log(_log(tmp_path, rows)), "log.csv")
    assert data.names and all(is_pseudonym(n) for n in data.names)
    assert pseudonym("aysel.m") in data.names and "aysel.m" not in str(data.names)
    assert len(data) == 3  # q1 was one answer tagged with two skills
    kinds = {r["kind"] for r in data.repairs}
    assert kinds == {"skill_rows_merged", "sorted_by_time"}
    first = data.names.index(pseudonym("aysel.m"))
    rows_of = np.flatnonzero(data.student == first)
    assert data.question[rows_of[0]] == data.question_ids["q1"]  # time order
    assert len(data.skills(int(rows_of[0]))) == 2


@pytest.mark.parametrize(
    ("rows", "message", "line"),
    [
        ([{"student": "a", "item": "q", "correct": 2}], "'2' is not 0 or 1", 2),
        ([{"student": "", "item": "q", "correct": 1}], "empty student id", 2),
        ([{"student": "a", "item": "q", "correct": 1, "time": "soon"}], "not a time", 2),
        ([{"learner": "a", "correct": 1}], "missing column(s): item or skill", None),
    ],
)
def test_log_errors_name_line_and_column(tmp_path: Path, rows, message, line, home) -> None:
    path = _log(tmp_path, rows)
    with pytest.raises(DataError) as e:
        from_log(read_log(path), str(path))
    assert message in str(e.value) and e.value.line == line


def test_sequence_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "seq.csv"
    bad.write_text("3\n1,2,3\n1,0\n")
    with pytest.raises(DataError, match="disagree"):
        read_sequences(bad)
    bad.write_text("2\n1,x\n1,0\n")
    with pytest.raises(DataError) as e:
        read_sequences(bad)
    assert e.value.line == 2 and "'x' is not a number" in str(e.value)


def test_learning_rules() -> None:
    policy = Policy(low=0.6, high=0.8, mastered_at=0.9)
    mastery = np.array([0, 0.95, 0.5, 0.7, 0.2])
    ok = eligible_skills(mastery, {3: [1], 4: [2]}, policy)
    assert ok.tolist() == [False, False, True, True, False]  # 4 waits for skill 2
    chosen = choose_exercises(
        np.array([10, 11, 12, 13]),
        [(1,), (2,), (3,), (4,)],
        np.array([0.9, 0.65, 0.7, 0.2]),
        ok,
        answered_correctly={11},
        policy=policy,
        n=5,
    )
    assert [c["question"] for c in chosen] == [12]
    with pytest.raises(ValueError):
        Policy(low=0.8, high=0.6)
    report = class_report(
        ["a", "b"],
        np.array([[0, 0.2, 0.9], [0, 0.4, 0.95]]),
        np.array([[0, 3, 3], [0, 4, 3]]),
        np.array([[0, 1, 3], [0, 2, 3]]),
        [[0, 1, 1, 1, 1], [1, 1, 1, 1, 0]],
        policy,
    )
    assert report["weakest_skills"][0]["skill"] == 1
    assert [s["student"] for s in report["students_at_risk"]] == []  # means 0.55 and 0.68


def test_failing_student_is_flagged_and_thin_evidence_does_not_lead() -> None:
    """Issue 16: a pupil with 2 of 20 right is at risk although the model's mean mastery
    is 0.53 (one skill at 0.77 after 2 wrong of 2); a skill one pupil answered once does
    not lead the class's weakest skills."""
    policy = Policy()
    students = ["failing", "steady", "once"]
    # skills: 1 fractions (everyone), 2 decimals (failing: 2 answers, both wrong), 3 one try
    mastery = np.array([[0, 0.29, 0.77, 0.5], [0, 0.8, 0.9, 0.5], [0, 0.7, 0.5, 0.05]])
    practised = np.array([[0, 18, 2, 0], [0, 10, 5, 0], [0, 6, 0, 1]])
    correct = np.array([[0, 2, 0, 0], [0, 8, 5, 0], [0, 4, 0, 0]])
    recent = [[0] * 9 + [1], [1, 1, 0, 1, 1, 1, 1, 0, 1, 1], [1, 0, 1, 1, 1, 0, 0]]
    report = class_report(students, mastery, practised, correct, recent, policy)
    flagged = {r["student"]: r for r in report["students_at_risk"]}
    assert list(flagged) == ["failing"]
    assert flagged["failing"]["recent_accuracy"] == 0.1
    assert flagged["failing"]["reasons"][0] == "1 of the last 10 answers right"
    assert flagged["failing"]["weakest_skills"][:2] == [1, 2]  # evidence first, then 0 of 2
    assert [r["skill"] for r in report["weakest_skills"]] == [1]  # 2 and 3: too few answers
    assert report["weakest_skills"][0]["accuracy"] == round(14 / 34, 4)
    # too few recent answers and no skill with enough evidence: not judged either way
    alone = class_report(["new"], mastery[2:], np.array([[0, 2, 0, 1]]), np.zeros((1, 4)),
                         [[0, 0]], policy)  # fmt: skip
    assert alone["students_at_risk"] == [] and alone["weakest_skills"] == []


def test_multi_skill_question_cannot_see_its_own_answer() -> None:
    """Changing the answer of a multi-skill question must not change its own prediction."""
    from odlar.core.tasks import get_task

    task = get_task("education.tracing")
    train = task.load(EDU / "assist2009" / "assist2009_pid_test2.csv")
    model = task.fit(
        train, method="dkt", params=task.quick_params["dkt"], progress=lambda f, m: None
    )
    data = read_sequences(EDU / "assist2009" / "assist2009_pid_test1.csv")
    row = int(np.flatnonzero(data.n_skills_per_row > 1)[0])
    first = model.predict(data)
    flipped = data.subset_rows(np.arange(len(data)))
    flipped.correct = data.correct.copy()
    flipped.correct[row] = 1 - flipped.correct[row]
    again = model.predict(flipped)
    assert again[row] == pytest.approx(first[row])
    assert not np.allclose(again[row + 1 :], first[row + 1 :]), "later answers do see it"


@pytest.mark.parametrize("n_blocks", [1, 2])
def test_akt_incremental_state_equals_full_forward(n_blocks: int) -> None:
    """The cached one-answer update reads the same mastery as a forward pass over the
    evaluation's context window, before and after the window slides."""
    import torch

    from odlar.education.kt import AKT, make_batch

    torch.manual_seed(1)
    n_q, n_s, window, stride = 30, 7, 12, 5
    akt = AKT()
    akt.prm = {**AKT.defaults, "pred_window": window, "pred_stride": stride, "n_blocks": n_blocks}
    akt.n_questions, akt.n_skills, akt.k_max = n_q, n_s, 4
    akt.net = akt.build(n_q, n_s)
    with torch.no_grad():  # untrained nets start with zero difficulty: make it matter
        akt.net.pid_diff.weight.normal_()
    akt.net.eval()
    rng = np.random.default_rng(3)
    hist = [
        (
            int(rng.integers(1, n_q + 1)),
            rng.choice(np.arange(1, n_s + 1), size=int(rng.integers(1, 3)), replace=False),
            int(rng.integers(0, 2)),
        )
        for _ in range(31)
    ]
    state = akt.init_state()
    for n in range(len(hist) + 1):
        if n:
            state = akt.update(state, *hist[n - 1])
        fast = akt.mastery_from(state)
        from odlar.education.akt_state import context

        ctx = hist[n - context(n, window, stride) : n]
        # reference: one sequence per skill, the context followed by a question on it
        skm = np.zeros((n_s * (len(ctx) + 1), 4), dtype=np.int64)
        from odlar.education.interactions import Interactions

        rows = []
        for s in range(1, n_s + 1):
            rows += [(q, sk, c) for q, sk, c in ctx] + [(0, np.array([s]), 0)]
        for i, (_, sk, _) in enumerate(rows):
            skm[i, : len(sk)] = sk
        data = Interactions.__new__(Interactions)
        data.question = np.array([r[0] for r in rows])
        data.correct = np.array([r[2] for r in rows])
        length = len(ctx) + 1
        wins = [(i * length, (i + 1) * length, i * length) for i in range(n_s)]
        with torch.no_grad():
            bt = make_batch(data, wins, skm)
            logit, _ = akt.net(bt)
        ref = torch.sigmoid(logit[:, -1]).numpy()
        np.testing.assert_allclose(fast, ref, atol=2e-5, err_msg=f"after {n} answers")
    assert akt.mastery_from(akt.init_state()).shape == (n_s,)


def _akt_reference(akt, ctx: list, skills: np.ndarray) -> np.ndarray:
    """P(correct) of a question on each of ``skills`` after the context ``ctx`` from a
    float64 forward pass over one sequence per skill (what the evaluation computes)."""
    import copy

    import torch

    from odlar.education.interactions import Interactions
    from odlar.education.kt import make_batch

    net = copy.deepcopy(akt.net).double()
    rows = []
    for s in skills:
        rows += list(ctx) + [(0, np.array([s]), 0)]
    skm = np.zeros((len(rows), 4), dtype=np.int64)
    for i, (_, sk, _) in enumerate(rows):
        skm[i, : len(sk)] = sk[:4]
    data = Interactions.__new__(Interactions)
    data.question = np.array([r[0] for r in rows])
    data.correct = np.array([r[2] for r in rows])
    length = len(ctx) + 1
    wins = [(i * length, (i + 1) * length, i * length) for i in range(len(skills))]
    with torch.no_grad():
        logit, _ = net(make_batch(data, wins, skm))
    return torch.sigmoid(logit[:, -1]).numpy()


@pytest.mark.parametrize("source", ["statics", "assist2009"])
def test_akt_fast_mastery_equals_float64_forward_on_a_real_student(
    source: str, tmp_path: Path
) -> None:
    """The one-answer update and the every-skill read (fused kernel, float32) give the
    mastery a float64 forward pass over the evaluation's context gives, to 1e-5, along a
    real student's first 230 answers (the window slides at 199), at the bench's sizes."""
    import torch

    from odlar.education.akt_state import context
    from odlar.education.kt import AKT
    from odlar.education.tracing_model import one_thread

    if source == "statics":  # its first two students: the whole file takes seconds to read
        lines = (EDU / "statics" / "statics_statics.csv").read_text().splitlines()[:6]
        path = tmp_path / "statics.csv"
        path.write_text("\n".join(lines) + "\n")
    else:
        path = EDU / "assist2009" / "assist2009_pid_test1.csv"
    data = read_sequences(path)
    student = next(s for s in np.unique(data.student) if (data.student == s).sum() >= 230)
    rows = np.flatnonzero(data.student == student)[:230]
    torch.manual_seed(0)
    akt = AKT()
    akt.prm = dict(AKT.defaults)
    akt.n_questions, akt.n_skills, akt.k_max = data.n_questions, data.n_skills, 4
    akt.net = akt.build(data.n_questions, data.n_skills).eval()
    if akt.net.use_pid:  # untrained nets start with zero difficulty: make it matter
        with torch.no_grad():
            akt.net.pid_diff.weight.normal_()
    hist = [(int(data.question[i]), data.skills(i), int(data.correct[i])) for i in rows]
    window, stride = akt.prm["pred_window"], akt.prm["pred_stride"]
    some = np.arange(1, data.n_skills + 1)[:: max(1, data.n_skills // 25)]
    state = akt.init_state()
    with one_thread():  # tiny tensor operations: two threads on busy cores cost seconds
        for n in range(1, len(hist) + 1):
            state = akt.update(state, *hist[n - 1])
            if n in (1, 199, 230):  # first answer, the window slides, after it
                fast = akt.mastery_from(state)
                ctx = hist[n - context(n, window, stride) : n]
                ref = _akt_reference(akt, ctx, some)
                np.testing.assert_allclose(fast[some - 1], ref, atol=1e-5, err_msg=f"after {n}")
                assert fast.shape == (data.n_skills,) and np.isfinite(fast).all()


def test_akt_mastery_is_the_same_through_onednn_or_plain_linear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The every-skill read's dense layers go through oneDNN where PyTorch has it and
    through F.linear where not: both give the same mastery (to float32 rounding)."""
    import torch

    from odlar.education import akt_ask
    from odlar.education.kt import AKT
    from odlar.education.tracing_model import one_thread

    lines = (EDU / "statics" / "statics_statics.csv").read_text().splitlines()[:3]
    path = tmp_path / "statics.csv"
    path.write_text("\n".join(lines) + "\n")
    data = read_sequences(path)
    torch.manual_seed(0)
    akt = AKT()
    akt.prm = dict(AKT.defaults)
    akt.n_questions, akt.n_skills, akt.k_max = data.n_questions, data.n_skills, 4
    akt.net = akt.build(data.n_questions, data.n_skills).eval()
    state = akt.init_state()
    with one_thread():
        for i in range(40):
            state = akt.update(state, int(data.question[i]), data.skills(i), int(data.correct[i]))
        fast = akt.mastery_from(state)
        monkeypatch.setattr(akt_ask, "_ONEDNN", False)
        plain = akt.mastery_from(state)
    np.testing.assert_allclose(fast, plain, atol=1e-6)
    assert np.isfinite(fast).all() and fast.std() > 0


@pytest.fixture
def client(home: Path):
    from odlar.governance.accounts import ensure_admin
    from odlar.server.app import create_app

    token = ensure_admin()
    with TestClient(create_app()) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def test_api_answers_mastery_next_and_report(client: TestClient, home: Path) -> None:
    spec = jobs.FitSpec(task="education.tracing", data=str(LOG), method="bkt", params={"iters": 10})
    version = jobs.run(jobs.create(spec).id).result["model"]["version"]
    frame = pd.read_csv(LOG, sep="\t")
    first = frame[frame.user_id == frame.user_id.iloc[0]]
    answers = [
        {
            "student": "Leyla Aliyeva",
            "item": str(r.item_id),
            "skills": str(r.skill_id),
            "correct": int(r.correct),
            "class_id": "5A",
        }
        for r in first.itertuples()
    ]
    r = client.post("/api/v1/tasks/education.tracing/answers", json={"answers": answers})
    assert r.status_code == 200, r.text
    body = r.json()
    student = pseudonym("Leyla Aliyeva")
    assert body["stored"] == len(answers) and body["students"] == [student]
    assert body["model_version"] == version and body["update_ms_per_answer"] > 0
    from sqlalchemy import text

    from odlar.core.store import get_engine

    with get_engine().connect() as conn:
        stored = conn.execute(text("SELECT DISTINCT student FROM learner_interactions")).all()
    assert stored == [(student,)], "only the pseudonym reaches the database"

    m = client.get(f"/api/v1/tasks/education.tracing/students/{'Leyla Aliyeva'}/mastery")
    assert m.status_code == 200
    skills = m.json()["skills"]
    assert skills and all(0 <= s["mastery"] <= 1 for s in skills)
    before = {s["skill"]: s["mastery"] for s in skills}
    weakest = skills[0]["skill"]
    more = [{"student": "Leyla Aliyeva", "skills": weakest, "correct": 1, "class_id": "5A"}] * 3
    client.post("/api/v1/tasks/education.tracing/answers", json={"answers": more})
    after = client.get(f"/api/v1/tasks/education.tracing/students/{student}/mastery").json()
    assert {s["skill"]: s["mastery"] for s in after["skills"]}[weakest] > before[weakest]

    nxt = client.get(
        f"/api/v1/tasks/education.tracing/students/{student}/next", params={"n": 4}
    ).json()
    assert 0 < len(nxt["exercises"]) <= 4
    assert all(e["item"] for e in nxt["exercises"])
    bad = client.get(
        f"/api/v1/tasks/education.tracing/students/{student}/next", params={"low": 0.9, "high": 0.5}
    )
    assert bad.status_code == 400
    report = client.get("/api/v1/tasks/education.tracing/classes/5A/report").json()
    assert report["students"] == 1 and report["weakest_skills"]
    assert client.get("/api/v1/tasks/education.tracing/classes/9Z/report").status_code == 404
    assert client.get("/api/v1/tasks/education.tracing/students/nobody/mastery").status_code == 404
    broken = client.post(
        "/api/v1/tasks/education.tracing/answers",
        json={"answers": [{"student": "x", "item": "q", "correct": 3}]},
    )
    assert broken.status_code == 422


def test_upload_keeps_only_pseudonyms(tmp_path: Path, home: Path) -> None:
    from odlar.core.datasets import save_upload

    rows = [
        {"student": f"pupil-{i % 3}", "item": f"q{i % 7}", "skill": f"s{i % 4}", "correct": i % 2}
        for i in range(60)
    ]
    path = _log(tmp_path, rows, "answers.csv")
    rec = save_upload("education.tracing", "answers.csv", path.read_bytes())
    kept = [p.read_text() for p in (home / "datasets" / rec["id"]).iterdir()]
    assert len(kept) == 1 and "pupil-" not in kept[0] and pseudonym("pupil-1") in kept[0]
    r = odlar("data", "add", "education.tracing", str(path), home=tmp_path / "h2")
    assert r.returncode == 0, r.stderr


def test_bench_quick_protocol_json(tmp_path: Path) -> None:
    import json

    out = tmp_path / "kt.json"
    r = odlar(
        "bench",
        "education.tracing",
        "--dataset",
        "assist2015",
        "--data",
        str(EDU / "assist2015"),
        "--method",
        "bkt",
        "--quick",
        "--out",
        str(out),
        home=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert result["dataset"] == "assist2015" and len(result["results"]) == 1
    metrics = result["results"][0]["metrics"]
    assert 0.6 < metrics["auc"] < 0.8 and metrics["update_ms_p99"] > 0
    assert any(a["metrics"]["auc"] == 0.7281 for a in result["anchors"])
    bad = odlar("bench", "education.tracing", "--dataset", "nope", home=tmp_path)
    assert bad.returncode == 2 and "no benchmark 'nope'" in bad.stderr


def test_roster_maps_pseudonyms_to_names_and_stores_nothing(tmp_path: Path, home: Path) -> None:
    """`odlar education roster` writes pseudonym -> name for the class page, from a file that
    holds the real ids, in the same tenant key as the stored answers; odlar keeps none of it."""
    rows = [
        {"student": "pupil-1", "name": "Aysel Mammadova", "item": "q1", "correct": 1},
        {"student": "pupil-2", "name": "Murad Aliyev", "item": "q1", "correct": 0},
        {"student": "pupil-1", "name": "Aysel Mammadova", "item": "q2", "correct": 0},
    ]
    out = tmp_path / "roster.csv"
    r = odlar("education", "roster", str(_log(tmp_path, rows)), "--out", str(out), home=home)
    assert r.returncode == 0, r.stderr
    table = pd.read_csv(out)
    assert table.to_dict(orient="records") == [
        {"pseudonym": pseudonym("pupil-1"), "name": "Aysel Mammadova"},
        {"pseudonym": pseudonym("pupil-2"), "name": "Murad Aliyev"},
    ]
    assert not any("Aysel" in p.read_text(errors="ignore") for p in home.rglob("*") if p.is_file())
    bad = _log(tmp_path, [{"student": pseudonym("pupil-1"), "item": "q"}], "done.csv")
    r = odlar("education", "roster", str(bad), "--out", str(tmp_path / "x.csv"), home=home)
    assert r.returncode == 65 and "done.csv:2: column 'student'" in r.stderr
    assert "already a pseudonym" in r.stderr and not (tmp_path / "x.csv").exists()


def _bench(folder: Path):
    from odlar.core import benchmarks

    entry = benchmarks.find("education.tracing")  # --data FOLDER without --dataset
    return entry.run(benchmarks.BenchRun(folder, quick=True, methods=("bkt",)))


def test_bench_any_folder_makes_or_keeps_folds(tmp_path: Path) -> None:
    """A folder of one's own: one interaction table gets 5 seeded folds by student; numbered
    sequence files are used as the folds they are; named files keep their anchors."""
    from odlar.education import bench

    table = tmp_path / "table"
    table.mkdir()
    log = pd.read_csv(LOG, sep="\t", dtype=str)
    first = log["user_id"].drop_duplicates().iloc[:40]
    log[log["user_id"].isin(first)].to_csv(table / "answers.csv", index=False)
    split = bench.folds(table)
    assert split.n_folds == 5 and "5 folds made by student, seed 42" in split.how
    assert len(split.fold_of) == 40 and np.bincount(split.fold_of).tolist() == [8] * 5
    assert (bench.folds(table).fold_of == split.fold_of).all(), "the seed fixes the folds"
    result = _bench(table)
    assert result.dataset == "table" and result.anchors == []
    assert any("answers.csv" in n and "made by student" in n for n in result.notes)
    assert 0.5 < result.results[0].metrics["auc"] <= 1.0

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for k in range(1, 6):  # 12 students (3-line blocks) of each real fold
        lines = (EDU / "assist2015" / f"assist2015_test{k}.csv").read_text().splitlines()
        (shipped / f"ours_fold{k}.csv").write_text("\n".join(lines[: 3 * 12]) + "\n")
    split = bench.folds(shipped)
    assert np.bincount(split.fold_of).tolist() == [12] * 5 and "5 folds shipped" in split.how
    assert bench.named_in(EDU / "assist2015") == "assist2015"  # published figures kept
    assert bench.named_in(shipped) is None and _bench(shipped).anchors == []


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no data file"),
        ({"a.csv": "student,item,correct\n1,q,1\n", "b.csv": "x"}, "2 data files"),
        ({"answers.csv": "student,item,correct\n1,q,1\n2,q,0\n"}, "need at least 5"),
        ({"f1.csv": "student,item,correct\n1,q,1\n", "f2.csv": "1\n1\n1\n"}, "mix"),
        ({"f1.csv": "student,item,correct\n1,q,1\n", "f2.csv": "student,item,correct\n1,q,0\n"},
         "folds must split students"),
    ],
)  # fmt: skip
def test_bench_folder_errors(tmp_path: Path, files: dict[str, str], message: str) -> None:
    from odlar.education import bench

    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=message):
        bench.folds(tmp_path)
    with pytest.raises(DataError, match="not a folder"):
        bench.folds(tmp_path / "missing")


def test_dkt_mastery_of_every_skill_equals_one_lstm_step_each() -> None:
    """The all-skills read (the state's share of the gates computed once) equals running
    the network's LSTM one step for each skill from the student's state."""
    import torch

    from odlar.education.kt import DKT

    torch.manual_seed(2)
    dkt = DKT()
    dkt.prm = {**DKT.defaults, "d": 8, "use_pid": True}
    dkt.n_questions, dkt.n_skills, dkt.k_max = 20, 9, 4
    dkt.net = dkt.build(20, 9)
    net = dkt.net
    with torch.no_grad():
        net.pid_emb.weight.normal_()
    net.eval()
    state = dkt.init_state()
    rng = np.random.default_rng(4)
    for n in range(6):
        with torch.no_grad():
            sk = torch.arange(1, 10).view(9, 1)
            qe = net.qvec(sk, torch.zeros(9, dtype=torch.long))
            x = torch.cat([state.last.expand(9, -1), qe], -1).view(9, 1, -1)
            h, _ = net.lstm(x, (state.h.expand(1, 9, -1).contiguous(),
                                state.c.expand(1, 9, -1).contiguous()))  # fmt: skip
            ref = torch.sigmoid(net.out(torch.cat([h[:, 0], qe], -1))).squeeze(-1).numpy()
        np.testing.assert_allclose(dkt.mastery_from(state), ref, atol=1e-6, err_msg=f"{n}")
        skills = rng.choice(np.arange(1, 10), size=int(rng.integers(1, 3)), replace=False)
        state = dkt.update(state, int(rng.integers(1, 21)), skills, int(rng.integers(0, 2)))


def test_bench_folds_fan_out_and_keep_the_results_of_one_process(tmp_path: Path) -> None:
    """Every (method, fold) of the bench fits in its own process (core.compute.fanout):
    each fold's figures equal a fit of that fold in this process, one math thread."""
    import torch

    from odlar.core.tasks import Dataset
    from odlar.education import bench
    from odlar.education.task import TracingTask

    rng = np.random.default_rng(7)
    rows = [{"student": f"s{s}", "item": f"q{int(q)}", "correct": int(rng.random() < 0.3 + q / 8)}
            for s in range(25) for q in rng.integers(0, 5, 16)]  # fmt: skip
    folder = tmp_path / "class"
    folder.mkdir()
    _log(folder, rows, "answers.csv")
    task = TracingTask()
    methods = [("BKT", "bkt", {"iters": 3}), ("DKT", "dkt", {"epochs": 1, "d": 8})]
    result = bench.run(task, folder, None, quick=False, progress=lambda f, m: None,
                       methods=methods, n_folds=2, backend="local")  # fmt: skip
    split = bench.folds(folder)
    students = np.arange(len(split.fold_of))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for row, (_, method, params) in zip(result.results, methods, strict=True):
            for k in range(2):
                train = split.data.subset_students(students[split.fold_of != k])
                test = split.data.subset_students(students[split.fold_of == k])
                model = task.fit(Dataset(train, str(folder), "", len(train)), method=method,
                                 params=params, progress=lambda f, m: None)  # fmt: skip
                here = bench.fold_row(k, test, model.predict(test))
                fanned = row.columns["details"]["folds"][k]
                assert {key: fanned[key] for key in here} == here, (method, k)
    finally:
        torch.set_num_threads(threads)
    assert [r.method for r in result.results] == ["BKT (odlar)", "DKT (odlar)"]
