"""Where the project's data folders are, from a clone or an installed package."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
WSDL_DIR = PACKAGE_DIR / "wsdl"
DATA_DIR = PACKAGE_DIR / "data"


def project_dir(name: str) -> Path:
    """The folder ``name`` (schemas, mappings, config) of this installation.

    A clone keeps them beside the package; an installed wheel carries a copy
    under ``bridge/data``. The configuration can point elsewhere.
    """
    beside = PACKAGE_DIR.parent / name
    if beside.is_dir():
        return beside
    return DATA_DIR / name


def schemas_dir() -> Path:
    return project_dir("schemas")


def mappings_dir() -> Path:
    return project_dir("mappings")


def config_dir() -> Path:
    return project_dir("config")
