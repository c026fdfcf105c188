"""Where data comes from: uploaded datasets, paths under ODLAR_DATA, and publisher downloads."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select

from odlar.core.config import get_settings
from odlar.core.errors import DataError, Forbidden, NotFound, TooLarge, Unavailable, UsageError
from odlar.core.privacy import tenant_scope
from odlar.core.store import DEFAULT_TENANT, DatasetRecord, as_utc, new_id, session_scope


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def resolve_source(ref: str, *, tenant: str = DEFAULT_TENANT, confined: bool = False) -> Path:
    """A dataset id of this tenant, or a path (relative ones are under ODLAR_DATA).

    `confined` (the API and the console) refuses paths outside ODLAR_DATA and takes `~`
    literally, so a remote caller cannot make the server read arbitrary files, nor another
    tenant's uploads (those only by their id, which is checked against the tenant).
    Everyone, the CLI too, is refused odlar's own state (`refuse_state`).
    """
    if not ref or "\x00" in ref or len(ref) > 4096:
        raise UsageError("data: give a dataset id or a path (no NUL byte, at most 4096 chars)")
    from odlar.core.tasks import packaged_source

    packaged = packaged_source(ref)
    if packaged is not None:
        return packaged
    with session_scope() as s:
        rec = s.get(DatasetRecord, ref)
        if rec is not None and rec.tenant == tenant:
            return Path(rec.path)
    settings = get_settings()
    path = Path(ref) if confined else Path(ref).expanduser()
    candidates = [path] if path.is_absolute() else [settings.data_dir / path, Path.cwd() / path]
    if confined:
        candidates = [c for c in candidates if c.is_absolute() and _inside(c, settings)]
    for candidate in candidates:
        if confined:  # before exists(): a remote caller learns nothing of what is there
            refuse_state(candidate, ref)
        if candidate.exists():
            return refuse_state(candidate, ref).resolve()
    where = "a dataset id or a path under ODLAR_DATA" if confined else "a dataset id or a path"
    raise NotFound(f"data '{ref}' not found: expected {where} ({settings.data_dir})")


def _inside(path: Path, settings: Any) -> bool:
    resolved = path.resolve()
    uploads = settings.uploads_dir.resolve()
    if resolved.is_relative_to(uploads):  # even when the uploads live under ODLAR_DATA
        return False
    return resolved.is_relative_to(settings.data_dir.resolve())


def refuse_state(path: Path, ref: str | None = None) -> Path:
    """`path`, unless it is odlar's own state or a folder holding it: Forbidden then.

    Reading a state file as data is never useful and can break the store: SQLite's locks
    are per process, and closing any descriptor of the database file drops all of them,
    so a server that read odlar.db as a "fleet" lost its locks and the next CLI command,
    believing itself the last user, deleted the write-ahead log the server still wrote to.
    Everything under ODLAR_HOME is state except ODLAR_DATA and imported scenarios when
    they lie inside it; uploads are read by their dataset id only; the SQLite files of the
    store and of MLflow are state wherever they are (by name, and as the same file).
    """
    if _is_state(path, get_settings()):
        raise Forbidden(
            f"data '{ref or path}' is odlar's own state (ODLAR_HOME: database, keys, models, "
            "logs, uploads) and is never read as data: give a dataset id or a file under "
            "ODLAR_DATA"
        )
    return path


def _is_state(path: Path, settings: Any) -> bool:
    p = path.resolve()
    home = settings.home.expanduser().resolve()
    stores = _sqlite_files(settings)
    always = [
        d.resolve() for d in (settings.uploads_dir, settings.artifacts_dir, settings.jobs_dir)
    ]
    if any(p.is_relative_to(d) or d.is_relative_to(p) for d in (*always, *stores, home)):
        meant = [settings.data_dir.resolve(), settings.scenarios_dir.resolve()]
        meant = [d for d in meant if d != home and d.is_relative_to(home)]
        inside_meant = any(p.is_relative_to(d) for d in meant)
        in_state = any(p.is_relative_to(d) or d.is_relative_to(p) for d in (*always, *stores))
        if in_state or not inside_meant:
            return True
    return p.is_file() and any(f.exists() and os.path.samefile(p, f) for f in stores)


def _sqlite_files(settings: Any) -> list[Path]:
    """The files of the SQLite databases odlar writes (store, MLflow) and their journals."""
    out = []
    for url in (settings.db_url, settings.tracking_uri):
        if url.startswith("sqlite:///"):
            db = Path(url.removeprefix("sqlite:///")).expanduser().resolve()
            out += [db] + [db.with_name(db.name + s) for s in ("-wal", "-shm", "-journal")]
    return out


#: compressed uploads are decompressed while staging, so the limit bounds what is kept
DECOMPRESSORS: dict[str, Callable[[BinaryIO], BinaryIO]] = {
    ".gz": lambda f: gzip.GzipFile(fileobj=f, mode="rb"),  # type: ignore[dict-item]
    ".bz2": lambda f: bz2.BZ2File(f, mode="rb"),  # type: ignore[dict-item]
    ".xz": lambda f: lzma.LZMAFile(f, mode="rb"),  # type: ignore[dict-item]  # noqa: SIM115
}
NOT_STREAMED = (".zip", ".zst", ".tar", ".tgz")
MAX_NAME_BYTES = 255  # a file name on every common file system


def upload_name(filename: str) -> str:
    """The name an upload is kept under: its last path part, checked."""
    safe = Path(filename or "data").name
    if not safe or safe in (".", ".."):
        raise UsageError("the uploaded file needs a name")
    if len(safe.encode("utf-8", errors="replace")) > MAX_NAME_BYTES:
        raise UsageError(f"the file name is longer than {MAX_NAME_BYTES} bytes; shorten it")
    if "\x00" in safe:
        raise UsageError("the file name holds a NUL byte")
    return safe


def _stage(source: BinaryIO, name: str, staging: Path) -> Path:
    """Copy (decompressing) an upload into `staging` in blocks, refusing it the moment it
    passes ODLAR_MAX_UPLOAD_MB, so neither memory nor disk holds more than the limit."""
    limit = get_settings().max_upload_bytes
    suffix = Path(name).suffix.lower()
    if suffix in NOT_STREAMED:
        raise UsageError(f"{name}: upload a plain, .gz, .bz2 or .xz file, not {suffix}")
    opener = DECOMPRESSORS.get(suffix)
    kept = name[: -len(suffix)] if opener else name
    if not kept or kept in (".", ".."):
        raise UsageError(f"{name}: name the file inside the archive too (e.g. data.csv{suffix})")
    staged = staging / kept
    reader = opener(source) if opener else source
    written = 0
    try:
        with staged.open("wb") as out:
            for block in iter(lambda: reader.read(1 << 20), b""):
                written += len(block)
                if written > limit:
                    what = "decompressed, it is" if opener else "it is"
                    raise TooLarge(
                        f"{name}: {what} larger than the upload limit of "
                        f"{get_settings().max_upload_mb} MB (ODLAR_MAX_UPLOAD_MB)"
                    )
                out.write(block)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        if opener is None:
            raise
        raise DataError(f"not a readable {suffix} file ({exc})", file=name) from None
    return staged


def save_upload(
    task_name: str,
    filename: str,
    content: bytes | BinaryIO,
    *,
    tenant: str = DEFAULT_TENANT,
    personal: tuple[str, ...] = (),
    actor: str = "odlar",
    check: Callable[[str, Any], None] | None = None,
) -> dict[str, Any]:
    """Validate an uploaded file with its task's loader and keep it, with personal data
    masked and declared personal columns pseudonymised; nothing is kept on error.
    `content`: the bytes, or a binary file read in blocks (large uploads). `check`: called
    with the new dataset's id and the validated data (as kept) before anything is kept, for
    a caller that does more with it (the console records a class's answers): raising
    refuses the upload."""
    from odlar.core.tasks import get_task

    task = get_task(task_name)
    name = upload_name(filename)
    source = io.BytesIO(content) if isinstance(content, bytes | bytearray) else content
    dataset_id = new_id()
    folder = get_settings().uploads_dir / dataset_id
    staging = Path(tempfile.mkdtemp(dir=get_settings().uploads_dir, prefix=".staging-"))
    try:
        staged = _stage(source, name, staging)
        safe = staged.name
        with tenant_scope(tenant):  # the tenant's own pseudonyms in what is kept
            data, privacy = _validated(task, staged, personal)
        if check is not None:
            check(dataset_id, data)
        staging.rename(folder)  # only a valid file reaches its final place
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    path = folder / safe
    with session_scope() as s:
        rec = DatasetRecord(
            id=dataset_id,
            tenant=tenant,
            task=task.name,
            name=safe,
            path=str(path),
            rows=data.rows,
            sha256=data.sha256,
            summary=data.summary | ({"privacy": privacy} if privacy else {}),
        )
        s.add(rec)
    from odlar.core import audit

    audit.record(
        tenant=tenant, actor=actor, action="dataset_upload", target=dataset_id,
        input_digest=data.sha256,
        output={"task": task.name, "name": safe, "rows": data.rows, "privacy": privacy},
    )  # fmt: skip
    return dataset_record(dataset_id, tenant=tenant)


def _validated(
    task: Any, staged: Path, personal: tuple[str, ...]
) -> tuple[Any, dict[str, Any] | None]:
    """Validate and rewrite (pseudonyms, masked personal data) a staged upload."""
    try:
        data = task.load(staged)
    except DataError as exc:  # name the file as the user knows it, not our staging path
        raise DataError(exc.reason, file=staged.name, line=exc.line, field=exc.field) from None
    if task.ingest(staged):  # rewritten (e.g. pseudonymised) before anything is kept
        data = task.load(staged)
    privacy = _mask_personal_data(staged, personal)
    if privacy is not None and privacy["rewritten"]:
        data = task.load(staged)
    return data, privacy


TABLES = {".csv": ",", ".tsv": "\t"}


def _mask_personal_data(path: Path, personal: tuple[str, ...]) -> dict[str, Any] | None:
    """Mask e-mails, phone numbers, FINs and IBANs in a CSV/TSV/Parquet table, and
    pseudonymise its declared personal columns, rewriting the file in place. Other formats
    (fixed-width sensor text, sequence files) carry no free text and are left alone."""
    import pandas as pd

    from odlar.core.pii import mask_frame

    suffix = path.suffix.lower()
    frame, sep = None, ","
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix in TABLES:
        with path.open(encoding="utf-8", errors="replace") as f:
            header = f.readline()
        sep = "\t" if "\t" in header else (";" if header.count(";") > header.count(",") else ",")
        names = [c.strip().strip('"') for c in header.rstrip("\r\n").split(sep)]
        if all(any(ch.isalpha() for ch in c) for c in names):
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    if frame is None:
        # no header row: numeric sequences (pyKT) or fixed-width sensor text, no free text
        if personal:
            raise UsageError(
                f"{path.name}: personal columns can be declared only for a CSV, TSV or "
                "Parquet table with a header row"
            )
        return None
    masked, report = mask_frame(frame, personal)
    out = report.to_dict()
    out["rewritten"] = bool(personal) or any(report.findings.values())
    if out["rewritten"]:
        if suffix == ".parquet":
            masked.to_parquet(path, index=False)
        else:
            masked.to_csv(path, sep=sep, index=False)
    return out


def dataset_record(dataset_id: str, *, tenant: str = DEFAULT_TENANT) -> dict[str, Any]:
    with session_scope() as s:
        rec = s.get(DatasetRecord, dataset_id)
        if rec is None or rec.tenant != tenant:
            raise NotFound(f"no dataset '{dataset_id}'")
        return _record_dict(rec)


def list_datasets(*, tenant: str = DEFAULT_TENANT) -> list[dict[str, Any]]:
    with session_scope() as s:
        rows = s.scalars(
            select(DatasetRecord)
            .where(DatasetRecord.tenant == tenant)
            .order_by(DatasetRecord.created_at.desc())
        )
        return [_record_dict(r) for r in rows]


def _record_dict(rec: DatasetRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "task": rec.task,
        "name": rec.name,
        "rows": rec.rows,
        "sha256": rec.sha256,
        "summary": rec.summary,
        "created_at": as_utc(rec.created_at).isoformat(),
    }


# --- downloads from publishers -------------------------------------------------------


@dataclass(frozen=True)
class Fetcher:
    name: str
    description: str
    url: str
    #: unpack the downloaded archive into the destination folder and verify it
    install: Callable[[Path, Path], list[str]]
    target: str  # folder under ODLAR_DATA


FETCHERS: dict[str, Fetcher] = {}


def register_fetcher(fetcher: Fetcher) -> Fetcher:
    FETCHERS[fetcher.name] = fetcher
    return fetcher


def download(url: str, dest: Path, *, timeout: float = 30.0) -> Path:
    """Download `url` to `dest` atomically; Unavailable with one line when it cannot."""
    tmp = dest.with_suffix(dest.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, tmp.open("wb") as out:
            shutil.copyfileobj(resp, out)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise Unavailable(
            f"cannot download {url}: {reason} (offline? fetch the file elsewhere and "
            "pass it with --from FILE)"
        ) from None
    tmp.replace(dest)
    return dest


def fetch(name: str, *, source_file: Path | None = None, dest: Path | None = None) -> list[str]:
    """Download (or take `source_file`), unpack and verify a public dataset."""
    from odlar.core.tasks import task_names

    task_names()  # sector packages register their fetchers on import
    fetcher = FETCHERS.get(name)
    if fetcher is None:
        raise NotFound(f"unknown dataset '{name}' (known: {', '.join(sorted(FETCHERS))})")
    dest = dest or get_settings().data_dir / fetcher.target
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if source_file is not None:
            if not source_file.exists():
                raise NotFound(f"{source_file}: no such file")
            archive = source_file
        else:
            archive = download(fetcher.url, Path(tmp) / "download.zip")
        return fetcher.install(archive, dest)


def verify_checksums(folder: Path, expected: dict[str, str]) -> list[str]:
    """Check files against published SHA-256 sums; DataError names the first bad file."""
    for name, digest in expected.items():
        path = folder / name
        if not path.exists():
            raise DataError("missing after unpacking", file=str(path))
        if sha256_file(path) != digest:
            raise DataError(
                "checksum mismatch: corrupted or not the published file", file=str(path)
            )
    return sorted(expected)
