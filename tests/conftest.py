"""Shared test fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def corpora_dir() -> Path:
    """Return the shared corpora folder (env ASRFLOW_CORPORA, default <repo>/../shared/corpora), or skip."""
    path = Path(os.environ.get("ASRFLOW_CORPORA", REPO.parent / "shared" / "corpora"))
    if not path.is_dir():
        pytest.skip(f"shared corpora not found at {path}: set ASRFLOW_CORPORA to the corpora folder")
    return path
