"""Personal data found and masked at ingestion (odlar.core.pii)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from odlar.core import pii
from odlar.core.config import reset_settings
from odlar.core.errors import UsageError
from odlar.core.pii import ENTITIES, Finding, mask_frame, mask_text, scan_frame
from odlar.core.privacy import pseudonym

FIN = "5ZJ8K2Q"
IBAN = "AZ21NABZ00000000137010001944"
IBAN_BAD_CHECKSUM = "AZ21NABZ00000000137010001945"


@pytest.fixture
def keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An isolated ODLAR_HOME, where the pseudonym key is created (lighter than `home`)."""
    monkeypatch.setenv("ODLAR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ODLAR_PSEUDONYM_KEY", raising=False)
    reset_settings()
    yield tmp_path / "home"
    reset_settings()


def test_entities_listed() -> None:
    assert set(ENTITIES) == {"EMAIL_ADDRESS", "PHONE_NUMBER", "AZ_FIN", "IBAN_CODE"}


def test_emails_masked() -> None:
    text, found = mask_text("yazın: ali.mammadov@mail.az və ya veli@example.com, sağ olun")
    assert text == "yazın: <EMAIL_ADDRESS> və ya <EMAIL_ADDRESS>, sağ olun"
    assert found == ["EMAIL_ADDRESS", "EMAIL_ADDRESS"]


@pytest.mark.parametrize(
    "number",
    [
        "+994 50 123 45 67",
        "+994501234567",
        "+994 (12) 498-12-34",
        "050 123 45 67",
        "050-123-45-67",
        "0501234567",
        "(012) 498 12 34",
    ],
)
def test_azerbaijani_phone_numbers_masked(number: str) -> None:
    text, found = mask_text(f"tel: {number}, axşam")
    assert text == "tel: <PHONE_NUMBER>, axşam"
    assert found == ["PHONE_NUMBER"]


@pytest.mark.parametrize("text", ["0 2024-01-01", "koordinat 40.0501234567", "12345678"])
def test_dates_and_decimals_are_not_phone_numbers(text: str) -> None:
    assert mask_text(text) == (text, [])


@pytest.mark.parametrize("value", ["-87.76551063", "41.69006147", "-87.618201285", "+40.41"])
def test_a_decimal_number_alone_is_no_phone_number(value: str) -> None:
    """Incident coordinates as a CSV holds them (read as text by the upload scan): masked,
    they made every uploaded incident file unreadable."""
    assert mask_text(value) == (value, [])


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (FIN, "<AZ_FIN>"),
        (f"FIN: {FIN}", "FIN: <AZ_FIN>"),
        (f"FİN kodu {FIN}", "FİN kodu <AZ_FIN>"),
        (f"fin kod {FIN} (köhnə)", "fin kod <AZ_FIN> (köhnə)"),
        (f"şəxsiyyət vəsiqəsi, {FIN}, Bakı", "şəxsiyyət vəsiqəsi, <AZ_FIN>, Bakı"),
    ],
)
def test_fin_masked_alone_or_with_context(text: str, masked: str) -> None:
    assert mask_text(text) == (masked, ["AZ_FIN"])


@pytest.mark.parametrize(
    "text",
    [
        "ABCDEFG",  # letters only
        "1234567",  # digits only
        "MƏKTƏBLƏR",
        "Salam dünya, necəsən?",
        FIN.lower(),  # a FIN is upper case
        "order ABC123X shipped",  # FIN-shaped, inside text, no context word
        "final ABC123X",  # "fin" inside a word is no context
    ],
)
def test_not_a_fin(text: str) -> None:
    assert mask_text(text) == (text, [])


def test_column_name_is_fin_context() -> None:
    df = pd.DataFrame({"fin_kod": [f"köhnə {FIN}"], "qeyd": [f"köhnə {FIN}"]})
    out, report = mask_frame(df)
    assert out["fin_kod"].tolist() == ["köhnə <AZ_FIN>"]
    assert out["qeyd"].tolist() == [f"köhnə {FIN}"]
    assert report.findings == {"fin_kod": {"AZ_FIN": 1}}


@pytest.mark.parametrize("iban", [IBAN, "AZ21 NABZ 0000 0000 1370 1000 1944"])
def test_valid_iban_masked(iban: str) -> None:
    assert mask_text(f"IBAN {iban}.") == ("IBAN <IBAN_CODE>.", ["IBAN_CODE"])


def test_iban_with_wrong_checksum_kept() -> None:
    text = f"IBAN {IBAN_BAD_CHECKSUM}"
    assert mask_text(text) == (text, [])


def test_no_network_access(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("personal-data scanning must not use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    pii._engines.cache_clear()  # build the recognisers (and the suffix list) offline too
    try:
        assert mask_text("ali@mail.az") == ("<EMAIL_ADDRESS>", ["EMAIL_ADDRESS"])
        assert mask_text("ali@example.co.uk")[1] == ["EMAIL_ADDRESS"]
    finally:
        pii._engines.cache_clear()


def test_frame_masked_and_counted() -> None:
    df = pd.DataFrame(
        {
            "contact": [
                "ali@mail.az",
                "ali@mail.az",
                "yoxdur",
                "veli@mail.az, +994 50 123 45 67",
                None,
                "a@b.az b@c.az",
            ],
            "phone": ["0501234567", "0501234567", "-", "555", "0123", "(012) 498 12 34"],
            "score": [1, 2, 3, 4, 5, 6],
        }
    )
    out, report = mask_frame(df)

    assert out["contact"].tolist()[:4] == [
        "<EMAIL_ADDRESS>",
        "<EMAIL_ADDRESS>",
        "yoxdur",
        "<EMAIL_ADDRESS>, <PHONE_NUMBER>",
    ]
    assert pd.isna(out["contact"].iloc[4])
    assert out["contact"].iloc[5] == "<EMAIL_ADDRESS> <EMAIL_ADDRESS>"
    # phone numbers stored as text are not skipped as "numbers"; short codes are kept
    assert out["phone"].tolist() == [
        "<PHONE_NUMBER>",
        "<PHONE_NUMBER>",
        "-",
        "555",
        "0123",
        "<PHONE_NUMBER>",
    ]
    # cells, not occurrences: the last contact holds two addresses and counts once
    assert report.findings == {
        "contact": {"EMAIL_ADDRESS": 4, "PHONE_NUMBER": 1},
        "phone": {"PHONE_NUMBER": 3},
    }
    assert report.rows_scanned == 6
    assert report.columns_scanned == ["contact", "phone"]
    assert report.columns_declared == []
    assert json.loads(json.dumps(report.to_dict())) == {
        "columns_declared": [],
        "findings": report.findings,
        "rows_scanned": 6,
        "columns_scanned": ["contact", "phone"],
    }


def test_numeric_columns_untouched() -> None:
    df = pd.DataFrame(
        {
            "msisdn": np.array([994501234567, 994551234567], dtype="int64"),
            "amount": [1234567.5, 7654321.25],
            "note": ["zəng: 994501234567", "ok"],
        }
    )
    out, report = mask_frame(df)
    pd.testing.assert_series_equal(out["msisdn"], df["msisdn"])
    pd.testing.assert_series_equal(out["amount"], df["amount"])
    assert out["note"].tolist() == ["zəng: <PHONE_NUMBER>", "ok"]
    assert report.columns_scanned == ["note"]


def test_categorical_column_scanned() -> None:
    df = pd.DataFrame({"email": pd.Categorical(["ali@mail.az", "yox", "ali@mail.az"])})
    out, report = mask_frame(df)
    assert out["email"].astype(str).tolist() == ["<EMAIL_ADDRESS>", "yox", "<EMAIL_ADDRESS>"]
    assert report.findings == {"email": {"EMAIL_ADDRESS": 2}}


def test_declared_column_pseudonymised(keyed: Path) -> None:
    df = pd.DataFrame(
        {
            "student": ["Aysel Həsənova", "Murad Əliyev", "Aysel Həsənova", None],
            "id": [1001.0, 1002.0, 1001.0, np.nan],  # integer ids read with a gap
            "grade": [5, 4, 5, 3],
        }
    )
    out, report = mask_frame(df, personal=["student", "id"])

    students = out["student"].tolist()
    assert all(s.startswith("p_") for s in students[:3])
    assert students[0] == students[2] == pseudonym("Aysel Həsənova")
    assert students[1] == pseudonym("Murad Əliyev") != students[0]
    assert pd.isna(students[3])
    assert out["id"].tolist()[:3] == [pseudonym("1001"), pseudonym("1002"), pseudonym("1001")]
    assert out["grade"].tolist() == [5, 4, 5, 3]
    assert report.columns_declared == ["student", "id"]
    assert "student" not in report.findings and "student" not in report.columns_scanned

    again, _ = mask_frame(df.iloc[[2]], personal=["student"])
    assert again["student"].iloc[0] == students[0]  # stable across calls
    assert (keyed / "pseudonym.key").exists()  # keyed with this home's secret


def test_declared_column_must_exist(keyed: Path) -> None:
    df = pd.DataFrame({"name": ["x"], "email": ["a@mail.az"]})
    with pytest.raises(UsageError) as caught:
        mask_frame(df, personal=["student_name"])
    message = str(caught.value)
    assert "student_name" in message
    assert "name" in message and "email" in message


def test_input_frame_not_changed(keyed: Path) -> None:
    df = pd.DataFrame(
        {
            "student": ["Aysel", "Murad"],
            "contact": [f"ali@mail.az, FIN {FIN}", IBAN],
            "score": [1.5, 2.5],
        }
    )
    before = df.copy(deep=True)
    out, _ = mask_frame(df, personal=["student"])
    pd.testing.assert_frame_equal(df, before)
    assert out["contact"].tolist() == ["<EMAIL_ADDRESS>, FIN <AZ_FIN>", "<IBAN_CODE>"]


def test_scan_frame_reports_rows() -> None:
    df = pd.DataFrame(
        {
            "a": ["heç nə", "x@mail.az y@mail.az", "heç nə", FIN],
            "b": ["+994501234567", None, "salam", "salam"],
        }
    )
    assert scan_frame(df) == [
        Finding(column="a", row=2, entity="EMAIL_ADDRESS", count=2),
        Finding(column="a", row=4, entity="AZ_FIN", count=1),
        Finding(column="b", row=1, entity="PHONE_NUMBER", count=1),
    ]


def test_pseudonyms_are_keyed_per_tenant(home: Path, tmp_path: Path) -> None:
    """The same student id in two tenants gets two unrelated pseudonyms, in what is stored
    (uploads, answers) as in what is answered; within a tenant it stays the same. Tenant
    'default' keeps the master key, so what it stored before still matches."""
    import hashlib
    import hmac

    from sqlalchemy import select

    from odlar.core import datasets, privacy
    from odlar.core.store import LearnerInteraction, session_scope
    from odlar.education.service import TRACKER
    from odlar.governance import accounts

    accounts.create_tenant("acme", actor="test")
    ours, theirs = pseudonym("s-42", tenant="default"), pseudonym("s-42", tenant="acme")
    assert ours != theirs and privacy.is_pseudonym(theirs)
    assert pseudonym("s-42", tenant="acme") == theirs and pseudonym(" s-42 ") == ours
    assert ours == "p_" + hmac.new(privacy.key(), b"s-42", hashlib.sha256).hexdigest()[:20]
    with privacy.tenant_scope("acme"):
        assert pseudonym("s-42") == theirs
    assert pseudonym("s-42") == ours, "outside a scope: tenant default"

    log = b"student,skill,correct\ns-42,10,1\ns-42,11,0\ns-7,10,1\n"
    kept: dict[str, list[set[str]]] = {}
    for tenant in ("default", "acme", "acme"):
        rec = datasets.save_upload("education.tracing", "log.csv", log, tenant=tenant)
        stored = pd.read_csv(datasets.resolve_source(rec["id"], tenant=tenant))
        kept.setdefault(tenant, []).append(set(stored["student"]))
    assert kept["default"][0] == {ours, pseudonym("s-7")}
    assert kept["acme"][0] == kept["acme"][1] == {theirs, pseudonym("s-7", tenant="acme")}

    answer = [{"student": "s-42", "skills": "10", "correct": 1}]
    for tenant in ("default", "acme"):
        out = TRACKER.record(tenant=tenant, records=answer)
        assert out["students"] == [ours if tenant == "default" else theirs]
    with session_scope() as s:
        rows = s.execute(select(LearnerInteraction.tenant, LearnerInteraction.student)).all()
    assert sorted(rows) == [("acme", theirs), ("default", ours)]
