"""Personal data in tabular data at ingestion: find it, mask it, pseudonymise declared columns.

Detection uses Microsoft Presidio with pattern recognisers only: no spaCy or other model is
loaded and nothing is fetched from the network. The entities found are:

- ``EMAIL_ADDRESS``: Presidio's e-mail pattern; the domain must end in a known public suffix,
  checked against the suffix list bundled with ``tldextract`` (never downloaded).
- ``PHONE_NUMBER``: the ``phonenumbers`` library through Presidio, valid numbers of Azerbaijan
  (``+994 50 123 45 67``, ``050 123 45 67``, ``(012) 498 12 34``) and a few other countries;
  numbers in international form (``+44 ...``) are found whatever the country.
- ``AZ_FIN``: the Azerbaijani personal identification code (FIN) printed on the ID card,
  7 upper-case Latin letters and digits with at least one of each. A FIN-shaped code is masked
  when it is the whole value (or a whole line) or when a context word (``FIN``, ``fin kod``,
  ``şəxsiyyət``, ``vəsiqə``, ...) is near it or in the column's name; a code inside other text
  with no context, such as "order ABC123X", is kept.
- ``IBAN_CODE``: Presidio's IBAN recogniser; the checksum must be valid.

Masking replaces each personal substring with its type in angle brackets: ``"Ali <ali@x.az>"``
becomes ``"Ali <<EMAIL_ADDRESS>>"``. Columns the caller declares personal are replaced whole by
keyed pseudonyms (:func:`odlar.core.privacy.pseudonym`), which stay linkable across files.

Presidio is imported on first use (it takes seconds to import), and each distinct value of a
column is analysed once. Nothing is cached between calls, so no personal data stays in memory.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pandas as pd

from odlar.core.errors import UsageError
from odlar.core.privacy import pseudonym

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, EntityRecognizer
    from presidio_anonymizer import AnonymizerEngine

# tldextract reads this when first imported: no URLs means the bundled suffix list, no network.
# The e-mail recogniser below also uses its own offline extractor, in case tldextract was
# imported earlier by something else.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

ENTITIES: tuple[str, ...] = ("EMAIL_ADDRESS", "PHONE_NUMBER", "AZ_FIN", "IBAN_CODE")
# Numbers written as in these countries, without the +code. Germany is left out on purpose: its
# numbering is so loose that "0 2024-01-01" inside a text is a valid German number.
PHONE_REGIONS: tuple[str, ...] = ("AZ", "TR", "RU", "GE", "GB", "US")

_LANGUAGE = "en"
_THRESHOLD = 0.4  # a result scoring less is not personal data
_FIN_SCORE = 0.3  # a FIN-shaped code inside other text, no context: below the threshold
_FIN_WHOLE_SCORE = 0.5  # a FIN-shaped code that is the whole value or line
_FIN_CONTEXT_BOOST = 0.35
_FIN_CONTEXT_BEFORE, _FIN_CONTEXT_AFTER = 40, 20  # characters searched for context words
_FIN_CONTEXT_WORDS = frozenset({"fin", "pin"})
_FIN_CONTEXT_PREFIXES = ("şəxsiyyət", "vəsiqə", "identifikasiya")  # Azerbaijani word stems
_FIN = r"\b(?=[A-Z0-9]{0,6}[0-9])(?=[A-Z0-9]{0,6}[A-Z])[A-Z0-9]{7}\b"

_WORD = re.compile(r"[^\W_]+")
_DECIMAL_POINT = re.compile(r"\d[.,]\Z")  # "40.0501234567" holds no phone number
_NUMBER_LIKE = re.compile(r"[\d\s.,:/+()\-]+")
_MIN_LENGTH = 5  # no e-mail address, phone number, FIN or IBAN is shorter
_MIN_BARE_DIGITS = 7  # a value of only digits and separators needs this many to be a phone
# one signed decimal number (a coordinate, a reading): no phone is written with one point
_DECIMAL = re.compile(r"[+-]?\d+\.\d+")


@dataclass
class Finding:
    """Personal data of one type found in one value of a table.

    ``row`` is the 1-based data row: the first row under the header is row 1, so in a CSV
    file with a header line row ``r`` is on line ``r + 1``. ``count`` is how many times the
    entity occurs in that value.
    """

    column: str
    row: int
    entity: str
    count: int


@dataclass
class MaskReport:
    """What :func:`mask_frame` did, without any of the personal data itself.

    ``findings`` maps column -> entity -> number of values (cells) in which that entity was
    masked; a value holding two e-mail addresses counts once. Columns declared personal are
    listed in ``columns_declared`` and are not in ``findings``: all their values are replaced.
    """

    columns_declared: list[str]
    findings: dict[str, dict[str, int]]
    rows_scanned: int
    columns_scanned: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mask_text(text: str) -> tuple[str, list[str]]:
    """Mask the personal data in one text.

    Returns the text with each personal substring replaced by ``<ENTITY>`` (for example
    ``<EMAIL_ADDRESS>``) and the entity type of each replaced substring, in text order.
    """
    if not _worth_scanning(text):
        return text, []
    return _mask(text, ())


def scan_frame(df: pd.DataFrame) -> list[Finding]:
    """Find personal data in every text column of ``df`` without changing it.

    Findings are ordered by column, row and entity; see :class:`Finding` for row numbers.
    """
    findings: list[Finding] = []
    for column in _text_columns(df, declared=()):
        values = df[column]
        masked = _mask_distinct(values, column)
        if not masked:
            continue
        for position in (values.isin(list(masked))).to_numpy().nonzero()[0]:
            counts = Counter(masked[values.iloc[position]][1])
            for entity in sorted(counts):
                findings.append(Finding(str(column), int(position) + 1, entity, counts[entity]))
    return findings


def mask_frame(df: pd.DataFrame, personal: Iterable[str] = ()) -> tuple[pd.DataFrame, MaskReport]:
    """Return a copy of ``df`` with personal data masked, and a report of what was masked.

    Every text column (object, string or categorical; numeric columns are left alone) is
    scanned and each personal substring is replaced as in :func:`mask_text`. Every value of a
    column named in ``personal`` is replaced by its keyed pseudonym (``p_...``); missing
    values stay missing. ``df`` itself is not changed.

    Raises UsageError if a column in ``personal`` is not in ``df``.
    """
    declared = [personal] if isinstance(personal, str) else list(dict.fromkeys(personal))
    missing = [name for name in declared if name not in df.columns]
    if missing:
        available = ", ".join(str(c) for c in df.columns) or "(none)"
        raise UsageError(
            f"column{'s' if len(missing) > 1 else ''} declared personal not in the data: "
            f"{', '.join(str(c) for c in missing)}; the columns are: {available}"
        )

    out = df.copy()
    findings: dict[str, dict[str, int]] = {}
    scanned = _text_columns(df, declared)
    for column in scanned:
        values = df[column]
        masked = _mask_distinct(values, column)
        if not masked:
            continue
        out[column] = values.map(lambda v, m=masked: m[v][0] if v in m else v)
        cells = values.value_counts()
        per_entity: Counter[str] = Counter()
        for value, (_, entities) in masked.items():
            for entity in set(entities):
                per_entity[entity] += int(cells[value])
        findings[str(column)] = {e: per_entity[e] for e in ENTITIES if per_entity[e]}

    for column in declared:
        values = df[column]
        codes = {v: pseudonym(_identifier(v)) for v in values.dropna().unique()}
        out[column] = values.map(codes)  # missing values are not in codes and stay missing

    report = MaskReport(
        columns_declared=[str(c) for c in declared],
        findings=findings,
        rows_scanned=len(df),
        columns_scanned=[str(c) for c in scanned],
    )
    return out, report


def _text_columns(df: pd.DataFrame, declared: Iterable[str]) -> list[Hashable]:
    skip = set(declared)
    return [
        column
        for column, dtype in df.dtypes.items()
        if column not in skip
        and (isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype))
    ]


def _mask_distinct(values: pd.Series, column: Hashable) -> dict[str, tuple[str, list[str]]]:
    """Distinct values of a column that hold personal data -> (masked value, entities)."""
    context = (str(column),)
    masked: dict[str, tuple[str, list[str]]] = {}
    for value in values.dropna().unique():
        if isinstance(value, str) and _worth_scanning(value):
            text, entities = _mask(value, context)
            if entities:
                masked[value] = (text, entities)
    return masked


def _identifier(value: object) -> str:
    """The text of an identifier; 123.0 (an integer column with gaps, read as float) is 123."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _worth_scanning(value: str) -> bool:
    """Cheaply rule out values that cannot hold any of the entities."""
    if len(value) < _MIN_LENGTH:
        return False
    if "@" in value:
        return True
    digits = sum(c.isdigit() for c in value)
    if digits == 0:  # every entity but an e-mail address has a digit
        return False
    if _DECIMAL.fullmatch(value.strip()):
        return False
    return digits >= _MIN_BARE_DIGITS or not _NUMBER_LIKE.fullmatch(value)


def _mask(text: str, context: tuple[str, ...]) -> tuple[str, list[str]]:
    analyzer, anonymizer = _engines()
    results = analyzer.analyze(text=text, language=_LANGUAGE, context=list(context))
    if not results:
        return text, []
    masked = anonymizer.anonymize(
        text=text, analyzer_results=results, merge_entities_with_spaces=False
    )
    entities = [item.entity_type for item in sorted(masked.items, key=lambda i: i.start)]
    return masked.text, entities


def _has_fin_context(text: str) -> bool:
    # lower() of the Azerbaijani capital İ adds a combining dot: "FİN" -> "fi̇n"
    for word in _WORD.findall(text.lower().replace("\u0307", "")):
        if word in _FIN_CONTEXT_WORDS or word.startswith(_FIN_CONTEXT_PREFIXES):
            return True
    return False


@lru_cache(maxsize=1)
def _engines() -> tuple[AnalyzerEngine, AnonymizerEngine]:
    import regex
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import IbanRecognizer
    from presidio_anonymizer import AnonymizerEngine

    flags = regex.DOTALL | regex.MULTILINE  # no IGNORECASE: a FIN is upper case
    recognizers = [
        _email_recognizer(),
        _phone_recognizer(),
        _fin_recognizer(flags),
        IbanRecognizer(),
    ]
    registry = RecognizerRegistry(
        recognizers=recognizers, global_regex_flags=flags, supported_languages=[_LANGUAGE]
    )
    nlp = NoOpNlpEngine(models=[{"lang_code": _LANGUAGE, "model_name": "no_op"}])
    analyzer = AnalyzerEngine(
        registry=registry,
        nlp_engine=nlp,
        supported_languages=[_LANGUAGE],
        default_score_threshold=_THRESHOLD,
    )
    return analyzer, AnonymizerEngine()


def _email_recognizer() -> EntityRecognizer:
    """Presidio's e-mail recogniser, checking domains against the bundled suffix list only."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return offline(pattern_text).fqdn != ""

    return OfflineEmailRecognizer()


def _phone_recognizer() -> EntityRecognizer:
    """Presidio's phone recogniser, leaving alone digits after a decimal point."""
    from presidio_analyzer import RecognizerResult
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer

    class PhoneOutsideNumbersRecognizer(PhoneRecognizer):
        def analyze(
            self, text: str, entities: list[str], nlp_artifacts: object = None
        ) -> list[RecognizerResult]:
            results = super().analyze(text, entities, nlp_artifacts)
            return [
                r for r in results if not _DECIMAL_POINT.search(text, max(0, r.start - 2), r.start)
            ]

    return PhoneOutsideNumbersRecognizer(supported_regions=PHONE_REGIONS)


def _fin_recognizer(flags: int) -> EntityRecognizer:
    """AZ_FIN: a 7-character code, scored up by context words near it or in the column name.

    Presidio's own context enhancer needs tokens from an NLP model, which the no-op engine
    does not produce, so the recogniser looks at the surrounding characters itself.
    """
    from presidio_analyzer import Pattern, PatternRecognizer, RecognizerResult

    class FinRecognizer(PatternRecognizer):
        def enhance_using_context(
            self,
            text: str,
            raw_recognizer_results: list[RecognizerResult],
            other_raw_recognizer_results: list[RecognizerResult],
            nlp_artifacts: object,
            context: list[str] | None = None,
        ) -> list[RecognizerResult]:
            in_context = _has_fin_context(" ".join(context or ()))
            for result in raw_recognizer_results:
                near = text[max(0, result.start - _FIN_CONTEXT_BEFORE) : result.start]
                near += " " + text[result.end : result.end + _FIN_CONTEXT_AFTER]
                if in_context or _has_fin_context(near):
                    result.score = min(1.0, result.score + _FIN_CONTEXT_BOOST)
                    metadata = result.recognition_metadata
                    metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
            return raw_recognizer_results

    patterns = [
        Pattern("AZ FIN (in text)", _FIN, _FIN_SCORE),
        Pattern("AZ FIN (whole value)", rf"(?<=^\s*){_FIN}(?=\s*$)", _FIN_WHOLE_SCORE),
    ]
    return FinRecognizer(
        supported_entity="AZ_FIN",
        name="AzFinRecognizer",
        patterns=patterns,
        global_regex_flags=flags,
    )
