"""The layout of a build: the paths of ``dist/`` and the URL patterns the server answers.

A leaf module (it imports only the format registry, itself a leaf): every other module asks
it where a build's files are instead of spelling ``dumps/…`` again.
"""

from __future__ import annotations

from . import formats

#: The name of the whole-dataset dumps (``dumps/juno-kg.nq`` …).
DUMP_NAME = "juno-kg"
DUMPS = "dumps"
PAGES = "page/"
DATA = "data/"
#: The N-Quads dump, relative to a build: what the query helper and ``load`` read.
NQUADS_DUMP = f"{DUMPS}/{DUMP_NAME}.nq"
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
CONTEXT_FILE = "context.jsonld"
VOID_FILE = "void.ttl"
WELL_KNOWN_VOID = ".well-known/void"
FRAMED_DUMP = f"{DUMPS}/{DUMP_NAME}.framed.jsonld"
SHAPES_DUMP = f"{DUMPS}/shapes.ttl"


def dump_path(fmt: formats.Format) -> str:
    """The whole-dataset dump in ``fmt``: ``dumps/juno-kg.{ext}``."""
    return f"{DUMPS}/{DUMP_NAME}.{fmt.extension}"


def graph_dump_path(graph: str, fmt: formats.Format) -> str:
    """One named graph alone in ``fmt``: ``dumps/graphs/{graph}.{ext}``."""
    return f"{DUMPS}/graphs/{graph}.{fmt.extension}"


def dump_paths() -> list[str]:
    """Paths (relative to ``dist/``) of the whole-dataset dumps, one per registry format."""
    return [dump_path(fmt) for fmt in formats.FORMATS]


def page_path(resource: str) -> str:
    """The HTML page of a resource ``kind/slug``."""
    return f"{PAGES}{resource}.html"


def data_path(resource: str, fmt: formats.Format) -> str:
    """A resource's (``kind/slug``) data in ``fmt``."""
    return f"{DATA}{resource}.{fmt.extension}"
