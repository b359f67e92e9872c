"""The comments of an experiment file: which values are labelled ASSUMPTION and which cite a
source. TOML readers drop comments, so the raw text is scanned line by line here.

How the shipped experiments write them (and what is read):

- a comment after a value labels that value: ``elasticity = -0.4  # ASSUMPTION: ...``; an
  indented comment line right below continues it;
- a block of comment lines at the start of a line describes what follows: the next value
  (``# China NdPr oxide ~63 USD/kg ... (docs/sources.md)`` above ``reference_price = 60.0``), or
  the table whose header follows; a block followed by a blank line is a note on the table it
  sits in (above every table: on the file, e.g. its question);
- a comment naming ASSUMPTION is an assumption (it may cite sources for the numbers it builds
  on); any other comment is a note with its source.

Each note records the file, its line, the dotted key it labels (``producers.2.unit_cost``,
``scenarios.cfd.policy.floor.level``) or the table it describes, the value as written, and the
comment text. Notes of a base file (``extends``) whose key the experiment sets again, or whose
array of tables it replaces, are dropped: they no longer describe the run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

LABEL = "ASSUMPTION"


@dataclass(frozen=True)
class Note:
    file: str              # the file's name, e.g. "baseline.toml"
    line: int              # 1-based line of the key (or table header) the note labels
    key: str               # dotted key, or the table's path for a note on a table
    value: str | None      # the value as written (None for a table)
    text: str              # the comment, without '#'
    where: str = ""        # the table's display name: 'producers.2 ("China tranche 3")'

    @property
    def assumption(self) -> bool:
        return LABEL in self.text


def _split_comment(text: str) -> tuple[str, str | None]:
    """(code, comment) of a line: the first '#' outside a string starts the comment."""
    quote = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return text[:i].rstrip(), text[i + 1:].strip()
        i += 1
    return text.rstrip(), None


def _depth(code: str) -> int:
    """Open brackets minus closed ones outside strings (a value continued on later lines)."""
    depth, quote = 0, None
    for ch in code:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
    return depth


def _key_path(raw: str) -> str:
    """'"policy.floor.level"' -> 'policy.floor.level'; 'a . b' -> 'a.b'."""
    parts = [p.strip().strip("\"'") for p in raw.split(".")] if raw.strip()[:1] not in "\"'" \
        else [raw.strip().strip("\"'")]
    return ".".join(parts)


def _assign(code: str) -> tuple[str, str] | None:
    """(key, value) of 'key = value' with '=' outside a quoted key; None otherwise."""
    quote = None
    for i, ch in enumerate(code):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "=":
            return _key_path(code[:i]), code[i + 1:].strip()
    return None


class _Scanner:
    """State of one file's scan: the table, the pending comment block, the open value."""

    def __init__(self, file: str):
        self.file = file
        self.notes: list[Note] = []
        self.table = ""
        self.arrays: dict[str, int] = {}
        self.names: dict[str, str] = {}
        self.block: list[str] = []
        self.line = 0                       # the line of the block's first comment
        self.keys: set[str] = set()         # every dotted key the file sets
        self.last: int | None = None        # index of the note an indented comment continues
        # a value written over several lines: (its note's index or -1, key, line, bracket depth)
        self.open: tuple[int, str, int, int] | None = None

    def flush(self) -> None:
        """A comment block followed by a blank line: a note on the table it sits in (the
        file's own description when it is above every table)."""
        text = " ".join(t for t in self.block if t)
        self.block = []
        if text:
            self.add(self.line, self.table or "(file)", None, text)

    def where(self) -> str:
        name = self.names.get(self.table)
        return f"{self.table} ({name})" if name else self.table

    def add(self, line: int, key: str, value: str | None, text: str) -> None:
        self.notes.append(Note(self.file, line, key, value, text, self.where()))
        self.last = len(self.notes) - 1

    def extend(self, index: int, text: str) -> None:
        n = self.notes[index]
        self.notes[index] = Note(n.file, n.line, n.key, n.value, f"{n.text} {text}".strip(),
                                 n.where)

    def header(self, lineno: int, code: str, comment: str | None) -> None:
        array = code.startswith("[[")
        path = _key_path(code.strip("[] "))
        if array:
            index = self.arrays.get(path, 0)
            self.arrays[path] = index + 1
            path = f"{path}.{index}"
        self.table = path
        text = " ".join([*self.block, *([comment] if comment else [])])
        self.block = []
        self.last = None
        if text:
            self.add(lineno, path, None, text)

    def value(self, lineno: int, key: str, value: str, comment: str | None) -> None:
        full = f"{self.table}.{key}" if self.table else key
        self.keys.add(full)
        if key == "name":
            self.names[self.table] = value
            if self.notes and self.notes[-1].key == self.table and self.notes[-1].value is None:
                n = self.notes[-1]   # the table's note was written before its name was known
                self.notes[-1] = Note(n.file, n.line, n.key, None, n.text, self.where())
        text = " ".join([*self.block, *([comment] if comment else [])])
        self.block = []
        self.last = None
        if text:
            self.add(lineno, full, value, text)
        depth = _depth(value)
        if depth > 0:
            self.open = (self.last if text else -1, full, lineno, depth)

    def feed(self, lineno: int, line: str) -> None:
        code, comment = _split_comment(line)
        stripped = code.strip()
        if self.open is not None:          # inside a value written over several lines
            index, key, first, depth = self.open
            depth += _depth(code)
            if comment and index < 0:
                self.notes.append(Note(self.file, first, key, "[...]", comment, self.where()))
                index = len(self.notes) - 1
            elif comment:
                self.extend(index, comment)
            self.open = (index, key, first, depth) if depth > 0 else None
            return
        if not stripped:
            if comment is None:            # a blank line ends a block and a continuation:
                self.flush()               # the block stands on its own, in the table above
                self.last = None
            elif line[:1].isspace() and self.last is not None:
                self.extend(self.last, comment)
            else:
                if not self.block:
                    self.line = lineno
                self.block.append(comment)
            return
        if stripped.startswith("["):
            self.header(lineno, stripped, comment)
            return
        assign = _assign(stripped)
        if assign is not None:
            self.value(lineno, *assign, comment)


def _scan(text: str, file: str) -> _Scanner:
    scanner = _Scanner(file)
    for lineno, line in enumerate(text.splitlines(), start=1):
        scanner.feed(lineno, line)
    scanner.flush()
    return scanner


def scan(text: str, file: str) -> list[Note]:
    """The notes of one TOML file's text (`file`: the name shown with them)."""
    return _scan(text, file).notes


def collect(chain: list[tuple[Path, str]]) -> list[dict]:
    """Notes of an experiment read from `chain` (base files first, the experiment last), as
    plain dicts for the manifest; a base's notes on keys set again later are dropped."""
    kept: list[Note] = []
    for path, text in chain:
        scanner = _scan(text, path.name)
        notes, keys = scanner.notes, scanner.keys
        replaced = set(scanner.arrays) | keys     # an array set again replaces the base's
        kept = [n for n in kept if n.key not in keys
                and not any(n.key == r or n.key.startswith(r + ".") for r in replaced)]
        kept += notes
    return [asdict(n) | {"assumption": n.assumption} for n in kept]
