"""One licence story everywhere: data CC BY-SA 4.0 (Wikipedia's text requires it), the
ontology CC BY 4.0 (this project's own vocabulary), the code MIT."""

from __future__ import annotations

import tomllib

from rdflib import Namespace, URIRef

from juno_kg import Settings, load
from juno_kg.enrich import DATA_LICENSE, ONTOLOGY_LICENSE, enrich
from juno_kg.links import read_table

from .conftest import ROOT

DCTERMS = Namespace("http://purl.org/dc/terms/")
BY_SA = "https://creativecommons.org/licenses/by-sa/4.0/"
BY = "https://creativecommons.org/licenses/by/4.0/"


def test_void_gives_the_dataset_and_each_graph_its_licence():
    sources = load(Settings.make(ROOT))
    enrich(sources, [])
    meta = sources.graph("meta")
    base = sources.settings.base
    assert str(DATA_LICENSE) == BY_SA and str(ONTOLOGY_LICENSE) == BY
    assert set(meta.objects(URIRef(f"{base}dataset"), DCTERMS.license)) == {URIRef(BY_SA)}
    for name in ("article", "supplement", "links", "inferred"):
        graph = URIRef(sources.settings.graph_iri(name))
        assert set(meta.objects(graph, DCTERMS.license)) == {URIRef(BY_SA)}, name
    ontology = URIRef(sources.settings.graph_iri("ontology"))
    assert set(meta.objects(ontology, DCTERMS.license)) == {URIRef(BY)}
    header = URIRef(sources.settings.ontology_iri)
    assert set(sources.graph("ontology").objects(header, DCTERMS.license)) == {URIRef(BY)}


def test_package_readme_footer_and_mapping_table_say_the_same():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["license"]
    assert "data: CC-BY-SA-4.0" in meta["text"] and "ontology: CC-BY-4.0" in meta["text"]
    assert "Code: MIT" in meta["text"]
    readme = (ROOT / "README.md").read_text("utf-8").split("## Licence", 1)[1]
    assert "CC BY-SA 4.0" in readme and "CC BY 4.0" in readme and "MIT" in readme
    footer = (ROOT / "juno_kg" / "templates" / "base.html").read_text("utf-8")
    assert "CC BY-SA 4.0" in footer and "CC BY 4.0" not in footer.replace("CC BY-SA", "")
    table = read_table(ROOT / "data" / "links" / "mappings.sssom.tsv")
    assert table.metadata["license"] == BY_SA
