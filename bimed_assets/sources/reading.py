"""Readers for the native file formats of the source sets.

A reader turns files into ``Native`` records: the raw record plus where it came from. A record that
cannot be read on its own (a bad JSON line, a CSV row with the wrong number of columns) becomes a
``Native`` with a ``problem``, to be quarantined; a file that cannot be parsed at all raises
``SourceFileError`` naming the file and line. Bytes that are not valid UTF-8 are decoded with U+FFFD
replacement so that the record they belong to is quarantined as ``broken_encoding`` instead of
failing the whole file.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

# A long field is judged by the record-size rule (bimed_assets.record_rules, quarantined as oversized_record, as in
# every other format), not by the csv module's 128 KiB field limit, which fails the whole file.
csv.field_size_limit(2**31 - 1)


class SourceFileError(ValueError):
    """A file that cannot be parsed at all; the message names the file and the line."""


@dataclass(slots=True)
class Native:
    origin: str  # "<file>:<line>" or "<file>#<index>"
    record: Any  # the parsed native record, or the raw text when ``problem`` is set
    problem: tuple[str, str] | None = None  # (reason, detail) when the record is unreadable
    subset: str = ""  # set by the source's reader, from the file name or the record
    split: str = "train"
    raw: str | None = None  # the record's own text in the file, kept verbatim as provenance when there is one


def is_empty(path: Path) -> bool:
    """A file with nothing but whitespace (or nothing at all): no format can hold a record in it."""
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            if chunk.strip():
                return False
    return True


def resolve_files(location: str | Path) -> list[Path]:
    """Expand a path, a directory (all files below it) or a glob into a sorted list of files."""
    location = str(location)
    path = Path(location).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        files = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
    if not files:
        raise FileNotFoundError(f"no source files match {location!r}")
    return files


def read_text(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


class KeyedObject(dict):
    """A JSON object that also keeps every ``(key, value)`` pair in file order: a key written twice is in
    ``pairs`` twice, where a plain ``dict`` would silently keep only the last value."""

    pairs: list[tuple[str, Any]]


def _keyed_object(pairs: list[tuple[str, Any]]) -> KeyedObject:
    obj = KeyedObject(pairs)
    obj.pairs = pairs
    return obj


def read_json(path: Path, keep_duplicate_keys: bool = False) -> Any:
    """Parse a whole-file JSON document, or fail naming the file, line and column. ``keep_duplicate_keys``:
    objects are ``KeyedObject``s, for sources keyed by id (a duplicated id must be seen, not lost)."""
    hook = _keyed_object if keep_duplicate_keys else None
    try:
        return json.loads(read_text(path), object_pairs_hook=hook)
    except json.JSONDecodeError as exc:
        raise SourceFileError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None


def read_json_array(path: Path) -> Iterator[Native]:
    """A JSON array of objects, one ``Native`` per element."""
    data = read_json(path)
    if not isinstance(data, list):
        raise SourceFileError(f"{path}:1: expected a JSON array, found {type(data).__name__}")
    for index, item in enumerate(data):
        yield Native(f"{path}#{index}", item)


def read_jsonl(path: Path) -> Iterator[Native]:
    """JSON Lines: each line stands alone, so a bad line is quarantined, not fatal."""
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            line = raw.decode("utf-8", errors="replace").strip()
            if not line:
                continue
            origin = f"{path}:{lineno}"
            try:
                yield Native(origin, json.loads(line), raw=line)
            except json.JSONDecodeError as exc:
                yield Native(origin, line, ("invalid_json", exc.msg))


def read_csv(path: Path, columns: int) -> Iterator[Native]:
    """Headerless CSV with a fixed column count; any mix of LF, CRLF and CR line endings."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    first_line = 1
    try:
        for row in reader:
            origin = f"{path}:{first_line}"
            first_line = reader.line_num + 1
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != columns:
                yield Native(origin, row, ("malformed_row", f"{len(row)} columns, expected {columns}"))
            else:
                yield Native(origin, row)
    except csv.Error as exc:
        raise SourceFileError(f"{path}:{reader.line_num}: unreadable CSV ({exc})") from None


def split_from_name(path: Path, default: str = "train") -> str:
    """The split a file holds, from its name: ``*_test.csv``, ``dev.json``, ``phrases_no_exclude_train.jsonl``."""
    stem = path.stem.lower()
    for split, words in (("test", ("test",)), ("dev", ("dev",)), ("validation", ("val", "valid", "validation"))):
        if any(stem == w or stem.endswith(("_" + w, "-" + w)) or stem.startswith((w + "_", w + "-")) for w in words):
            return split
    if "train" in stem:
        return "train"
    return default


_XML_DECLARED_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")


def parse_xml(path: Path) -> etree._Element:
    """Parse a whole XML file into its root element, or fail naming the file and line.

    A UTF-8 file with invalid bytes is decoded with U+FFFD replacement (as ``read_text`` does) so that
    only the records holding them are quarantined; entities are not resolved and nothing is fetched.
    """
    data = path.read_bytes()
    declared = _XML_DECLARED_ENCODING.match(data)
    if declared is None or declared.group(1).lower() in (b"utf-8", b"utf8"):
        data = data.decode("utf-8", errors="replace").encode("utf-8")
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise SourceFileError(f"{path}:{exc.lineno}: not well-formed XML ({exc.msg})") from None


def read_xlsx(path: Path, columns: Sequence[str]) -> Iterator[Native]:
    """The first worksheet of an .xlsx workbook whose row 1 is a header holding ``columns``.

    One ``Native`` per non-blank row: a dict keyed by the header, origin ``<file>:<sheet row>``. Cell
    values keep their Excel type (a number stays a number) for the normaliser to judge.
    """
    import openpyxl  # imported here: only spreadsheet sources need it
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as exc:  # not an xlsx zip
        raise SourceFileError(f"{path}:1: not a readable .xlsx workbook ({exc})") from None
    try:
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # read-only mode trusts the stored sheet size, which some writers get wrong
        rows = sheet.iter_rows(values_only=True)
        header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
        if missing := [c for c in columns if c not in header]:
            raise SourceFileError(f"{path}:1: header row lacks column(s) {missing}; found {header}")
        for number, row in enumerate(rows, start=2):
            if all(c is None or (isinstance(c, str) and not c.strip()) for c in row):
                continue
            origin = f"{path}:{number}"
            if any(c is not None and (i >= len(header) or not header[i]) for i, c in enumerate(row)):
                yield Native(origin, list(row), ("malformed_row", "a cell under no header column"))
                continue
            yield Native(origin, {name: value for name, value in zip(header, row) if name})
    finally:
        workbook.close()
