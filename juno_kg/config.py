"""Where the sources live, the default base IRI and the names of the named graphs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE = "https://w3id.org/juno-kg/"
BASE_ENV = "JUNO_KG_BASE"
ROOT_ENV = "JUNO_KG_ROOT"
#: How many processes a build renders its files in (default: one per CPU core).
JOBS_ENV = "JUNO_KG_JOBS"

#: The named graphs of DESIGN.md, in the order they are written.
GRAPH_NAMES = ("ontology", "article", "supplement", "links", "inferred", "meta")
#: Graphs whose triples come from files under ``data/`` (folder name = graph name).
DATA_GRAPHS = ("article", "supplement", "links")


def default_root() -> Path:
    """The folder holding ``ontology/``, ``shapes/`` and ``data/``.

    A wheel carries them in ``juno_kg/_sources``; a checkout (or an editable install)
    has them beside the package.
    """
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    packaged = here / "_sources"
    if (packaged / "ontology").is_dir():
        return packaged
    return here.parent


def resolve_base(base: str | None = None) -> str:
    """The base IRI to publish under: the argument, else ``$JUNO_KG_BASE``, else the default."""
    value = base or os.environ.get(BASE_ENV) or DEFAULT_BASE
    if not value.endswith("/"):
        value += "/"
    if not (value.startswith("http://") or value.startswith("https://")):
        raise ValueError(f"base IRI must start with http:// or https://, got {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """What one run works on: a source root and a base IRI."""

    root: Path
    base: str = DEFAULT_BASE

    @classmethod
    def make(cls, root: str | Path | None = None, base: str | None = None) -> Settings:
        return cls(Path(root) if root else default_root(), resolve_base(base))

    def graph_iri(self, name: str) -> str:
        return f"{self.base}graph/{name}"

    @property
    def ontology_iri(self) -> str:
        return f"{self.base}ontology"

    @property
    def ontology_ns(self) -> str:
        return f"{self.base}ontology#"

    @property
    def id_ns(self) -> str:
        return f"{self.base}id/"
