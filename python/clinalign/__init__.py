"""ClinAlign engine for Python.

Clinician-grounded HealthPrinciples, each a sandboxed WebAssembly component, write a
query-specific grading rubric (HealthBench format) for a medical conversation; a judge grades
responses against it, which gives HealthBench scores and RL rewards.

    >>> import clinalign
    >>> engine = clinalign.Engine()                       # the repository's 119 principles
    >>> row = engine.synthesize({"prompt": [{"role": "user", "content": "Crushing chest pain, what do I do?"}]})
    >>> row["scenario"]["urgency"]["value"]
    'emergent'

Rows are plain dicts in the CLI's JSONL formats (HealthBench rows or ``{id, messages}``);
every method takes one row or a list of rows and returns the same. The engine works with the
GIL released, so threads sharing one engine run in parallel.

Modules: :mod:`clinalign.rewards` (verl ``compute_score`` and a TRL reward function),
:mod:`clinalign.client` (the HTTP client of ``clinalign serve``), :mod:`clinalign.ray`
(synthesis and grading over a Ray Dataset). See docs/python.md.
"""

import importlib

# The engine's names load the native module on first use, so the pure-Python modules
# (clinalign.client, clinalign.rewards in server mode) import without it, as the repository's
# examples/ do.
_LAZY = {
    "Engine": ".engine",
    "Watch": ".engine",
    "score": ".engine",
    "ClinAlignError": "._native",
    "RowError": "._native",
    "PrincipleSetError": "._native",
    "JudgeError": "._native",
    "__version__": "._native",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError("module 'clinalign' has no attribute %r" % name)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
