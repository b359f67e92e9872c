"""The version is written once, in pyproject.toml, and read from package metadata."""

from __future__ import annotations

import tomllib
from pathlib import Path

import abm

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def project_version() -> str:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)["project"]["version"]


def test_version_is_the_one_in_pyproject():
    assert abm.__version__ == project_version()


def test_an_uninstalled_tree_reads_pyproject(monkeypatch):
    import importlib.metadata

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert abm._version() == project_version()

