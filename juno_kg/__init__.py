"""juno-kg: the Juno soundtrack as a linked-data knowledge graph.

The library API follows the build's one direction of flow::

    sources = load()            # ontology + data -> one Dataset, a named graph per source
    report = validate(sources)  # SHACL + violation queries
    result = build()            # load, check, enrich, write dist/ atomically
"""

__version__ = "0.1.0"

from .check import CheckReport, validate  # noqa: E402
from .config import DEFAULT_BASE, Settings  # noqa: E402
from .load import JunoKGError, Sources, load  # noqa: E402
from .write import BuildResult, build, export  # noqa: E402

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
    "validate",
]
