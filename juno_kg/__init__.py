"""juno-kg: the Juno soundtrack as a linked-data knowledge graph.

The library API follows the build's one direction of flow::

    sources = load()            # ontology + data -> one Dataset, a named graph per source
    report = validate(sources)  # SHACL + violation queries
    result = build()            # load, check, enrich, write dist/ atomically
"""

__version__ = "0.1.0"

from .config import DEFAULT_BASE, Settings  # noqa: E402
from .query import query  # noqa: E402  (light: pyoxigraph only; rdflib loads when used)

# The rest is imported on first use (PEP 562), so that `import juno_kg` and a cold
# `juno-kg query` do not pay for rdflib and pySHACL. Add new API names here.
_LAZY = {"CheckReport": "check", "validate": "check", "JunoKGError": "errors",
         "Sources": "sources", "load": "sources", "BuildResult": "write", "build": "write",
         "export": "pipeline"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_BASE",
    "BuildResult",
    "CheckReport",
    "JunoKGError",
    "Settings",
    "Sources",
    "__version__",
    "build",
    "export",
    "load",
    "query",
    "validate",
]
