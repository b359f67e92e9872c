"""The one user-facing error: bad input. The CLI turns it into exit code 2 and one line on stderr."""

from __future__ import annotations


class ConfigError(Exception):
    """Bad input: names the file, the key path, the TOML line where known, and what is allowed."""

    def __init__(self, file: str | None, key: str | None, message: str, line: int | None = None):
        self.file = file
        self.key = key
        self.message = message
        self.line = line
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where += f", line {self.line}"
        if self.key:
            return f"{where}: key '{self.key}': {self.message}"
        return f"{where}: {self.message}"
