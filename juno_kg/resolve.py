"""``juno-kg links resolve``: Wikidata and MusicBrainz candidates for the mapping table.

For every accepted English Wikipedia link of the table it asks a SPARQL endpoint (the
Wikidata Query Service by default) for the item whose English sitelink has that title, and
for the item's MusicBrainz identifiers; each new link is appended to the table as a
*candidate* row (``semapv:MappingChaining``, a confidence, a comment saying how it was
found) that a person reviews before it is published (see docs/links.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import protocol
from .atomic import replace_file
from .errors import JunoKGError
from .links import (
    FOAF,
    OWL_SAME_AS,
    TARGETS,
    WIKIDATA_SPARQL,
    Mapping,
    Table,
    musicbrainz_iri,
    read_table,
    title_of,
)

USER_AGENT = "juno-kg/0.1 (https://w3id.org/juno-kg/; juno-kg links resolve)"


#: Columns ``resolve`` fills in; the table's header must have them.
RESOLVE_COLUMNS = ("subject_id", "subject_label", "predicate_id", "object_id", "object_label",
                   "mapping_justification", "confidence", "mapping_date", "mapping_tool",
                   "comment")


#: Wikidata's MusicBrainz identifier properties → the MusicBrainz entity type.
MUSICBRAINZ_PROPERTIES = {
    "P434": "artist", "P435": "work", "P436": "release-group", "P966": "label",
    "P1004": "place", "P982": "area", "P5813": "release", "P4404": "recording",
    "P1330": "instrument", "P6423": "event", "P1407": "series",
}


@dataclass
class Candidate:
    subject: str
    subject_label: str
    predicate: str
    object: str
    object_label: str
    confidence: float
    comment: str


@dataclass
class ResolveReport:
    """What ``resolve`` found: the candidates written, and what it could not resolve."""

    table: Path
    endpoint: str
    titles: int = 0
    added: list[Candidate] = field(default_factory=list)
    known: int = 0  #: candidates already in the table (any state), not written again
    not_found: list[str] = field(default_factory=list)  #: titles without a Wikidata item
    skipped: list[str] = field(default_factory=list)  #: malformed identifiers, with why

    def text(self) -> str:
        lines = [f"{len(self.added)} candidate links written to {self.table} "
                 f"({self.titles} Wikipedia titles looked up at {self.endpoint}; "
                 f"{self.known} already in the table)"]
        lines += [f"  + {c.subject_label or c.subject}  {c.object}  ({c.confidence})"
                  for c in self.added]
        if self.not_found:
            lines.append("no Wikidata item for: " + "; ".join(self.not_found))
        lines += [f"skipped: {s}" for s in self.skipped]
        if self.added:
            lines.append("review each candidate row, then fill reviewer_label to publish it "
                         "(or set predicate_modifier to Not to reject it)")
        return "\n".join(lines)


def _sparql_literal(text: str) -> str:
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
               .replace("\r", "\\r"))
    return f'"{escaped}"@en'


def sitelink_query(titles: Sequence[str]) -> str:
    """The SPARQL that finds, for English Wikipedia titles, the Wikidata item (through its
    sitelink) and the item's MusicBrainz identifiers."""
    values = "\n    ".join(_sparql_literal(t) for t in titles)
    props = " ".join(f"wdt:{p}" for p in MUSICBRAINZ_PROPERTIES)
    return f"""PREFIX schema: <http://schema.org/>
PREFIX wdt: <http://www.wikidata.org/prop/direct/>
SELECT ?title ?item ?property ?id WHERE {{
  VALUES ?title {{
    {values}
  }}
  ?article schema:about ?item ;
           schema:isPartOf <https://en.wikipedia.org/> ;
           schema:name ?title .
  OPTIONAL {{
    VALUES ?property {{ {props} }}
    ?item ?property ?id .
  }}
}}"""


def _ask(endpoint: str, query: str, timeout: float) -> list[dict]:
    return protocol.select(endpoint, query, timeout=timeout, headers={"User-Agent": USER_AGENT},
                           error=JunoKGError,
                           hint="links resolve needs the Wikidata SPARQL endpoint (online) "
                                "or --endpoint URL of a copy")


def _wikipedia_rows(table: Table) -> list[Mapping]:
    return [r for r in table.rows if r.predicate == str(FOAF.isPrimaryTopicOf)
            and r.object.startswith("https://en.wikipedia.org/wiki/") and not r.negated]


def _identity_predicate(table: Table, subject: str) -> str:
    """How the subject relates to the item behind its article: as it does to DBpedia."""
    for row in table.rows:
        if row.subject == subject and row.object.startswith("http://dbpedia.org/resource/") \
                and not row.negated:
            return row.predicate
    return str(OWL_SAME_AS)


def find_candidates(table: Table, endpoint: str, timeout: float,
                    report: ResolveReport, batch: int = 50) -> list[Candidate]:
    """Ask ``endpoint`` about every subject with an English Wikipedia link in ``table``."""
    by_title: dict[str, list[Mapping]] = {}
    for row in _wikipedia_rows(table):
        title = row.get("object_label") or title_of(row.object)
        by_title.setdefault(title, []).append(row)
    titles = sorted(by_title)
    report.titles = len(titles)
    bindings: list[dict] = []
    for i in range(0, len(titles), batch):
        bindings += _ask(endpoint, sitelink_query(titles[i:i + batch]), timeout)
    items: dict[str, set[str]] = {}
    ids: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for b in bindings:
        title, item = b["title"]["value"], b["item"]["value"]
        items.setdefault(title, set()).add(item)
        if "property" in b and "id" in b:
            pid = b["property"]["value"].rsplit("/", 1)[-1]
            ids.setdefault((title, item), set()).add((pid, b["id"]["value"]))
    wikidata = next(t for t in TARGETS if t.key == "wikidata")
    musicbrainz = next(t for t in TARGETS if t.key == "musicbrainz")
    out: list[Candidate] = []
    for title in titles:
        found = sorted(items.get(title, ()))
        if not found:
            report.not_found.append(title)
            continue
        for row in by_title[title]:
            predicate = _identity_predicate(table, row.subject)
            for item in found:
                if not re.match(wikidata.pattern, item):
                    report.skipped.append(f"{item} for {title!r}: not a Wikidata Q entity")
                    continue
                qid = item.rsplit("/", 1)[-1]
                out.append(Candidate(
                    row.subject, row.get("subject_label"), predicate, item, title,
                    0.95 if len(found) == 1 else 0.5,
                    f"candidate: the Wikidata item whose English Wikipedia sitelink is "
                    f"\"{title}\"" + ("" if len(found) == 1 else
                                      f" (one of {len(found)} items with that sitelink)")))
                per_prop: dict[str, list[str]] = {}
                for pid, value in sorted(ids.get((title, item), ())):
                    per_prop.setdefault(pid, []).append(value)
                for pid, values in sorted(per_prop.items()):
                    kind = MUSICBRAINZ_PROPERTIES[pid]
                    for value in values:
                        iri = musicbrainz_iri(kind, value)
                        if not re.match(musicbrainz.pattern, iri):
                            report.skipped.append(f"{pid} {value!r} of {qid}: not a "
                                                  "MusicBrainz identifier")
                            continue
                        out.append(Candidate(
                            row.subject, row.get("subject_label"), predicate, iri,
                            f"MusicBrainz {kind} {value}",
                            0.9 if len(values) == 1 and len(found) == 1 else 0.5,
                            f"candidate: MusicBrainz {kind} ID ({pid}) of Wikidata {qid}, "
                            f"the item of English Wikipedia \"{title}\""
                            + ("" if len(values) == 1 else f"; {qid} has {len(values)} "
                               f"{pid} values")))
    return out


def _format_row(table: Table, candidate: Candidate, today: str) -> str:
    values = {
        "subject_id": table.curie(candidate.subject),
        "subject_label": candidate.subject_label,
        "predicate_id": table.curie(candidate.predicate),
        "object_id": table.curie(candidate.object),
        "object_label": candidate.object_label,
        "mapping_justification": "semapv:MappingChaining",
        "confidence": f"{candidate.confidence:g}",
        "mapping_date": today,
        "mapping_tool": "juno-kg links resolve",
        "comment": candidate.comment,
    }
    cells = [values.get(c, "") for c in table.columns]
    return "\t".join(c.replace("\t", " ").replace("\n", " ") for c in cells)


def resolve(table_path: Path, endpoint: str = WIKIDATA_SPARQL, *, timeout: float = 60.0,
            today: str | None = None, dry_run: bool = False) -> ResolveReport:
    """Find Wikidata items (by English Wikipedia sitelink) and their MusicBrainz identifiers
    for the table's subjects, and append them to the table as candidate rows.

    Rows already in the table (whatever their state: accepted, candidate or rejected) are
    not written again, so running it twice adds nothing the second time. Existing lines
    are kept byte for byte.
    """
    table = read_table(table_path)
    missing = [c for c in RESOLVE_COLUMNS if c not in table.columns]
    if missing:
        raise JunoKGError(f"the table has no {', '.join(missing)} column", path=table_path,
                          hint="add the columns to the header row; resolve fills them")
    report = ResolveReport(table_path, endpoint)
    seen = {(r.subject, r.object) for r in table.rows}
    today = today or datetime.now(UTC).date().isoformat()
    new: list[Candidate] = []
    for candidate in find_candidates(table, endpoint, timeout, report):
        if (candidate.subject, candidate.object) in seen:
            report.known += 1
            continue
        seen.add((candidate.subject, candidate.object))
        new.append(candidate)
    report.added = new
    if new and not dry_run:
        text = table_path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            text += "\n"
        text += "".join(_format_row(table, c, today) + "\n" for c in new)
        replace_file(table_path, text.encode("utf-8"))
        read_table(table_path)  # what was written must read back
    return report


