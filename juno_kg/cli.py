"""The ``juno-kg`` command line: a thin shell over the library API."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import formats, layout
from .config import BASE_ENV, GRAPH_NAMES, ROOT_ENV, Settings
from .errors import JunoKGError

CONFORMS, NOT_CONFORMS, USAGE = 0, 1, 2
INTERRUPTED = 130  # 128 + SIGINT: what shells report for Ctrl-C (1 means "does not conform")


class Group(click.Group):
    """Turns library errors into a clear message and exit code 2, never a traceback;
    Ctrl-C into exit 130."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            ctx.exit(INTERRUPTED)
        except JunoKGError as exc:
            report = getattr(exc, "report", None)  # DoesNotConform: the findings first
            if report is not None:
                click.echo(report.text(), err=True)
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except ValueError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(USAGE)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), envvar=ROOT_ENV,
              help="Folder with ontology/, shapes/ and data/ (default: the embedded sources).")
@click.option("--base", envvar=BASE_ENV, metavar="IRI",
              help="Base IRI to publish under (default https://w3id.org/juno-kg/).")
@click.version_option(package_name="juno-kg")
@click.pass_context
def cli(ctx: click.Context, root: Path | None, base: str | None) -> None:
    """Build, check and publish the Juno soundtrack knowledge graph.

    \b
    Example:
        juno-kg build            # validate and write every format into dist/
    """
    ctx.obj = {"root": root, "base": base}


def settings(ctx: click.Context) -> Settings:
    return Settings.make(ctx.obj["root"], ctx.obj["base"])


@cli.command()
@click.option("--out", default="dist", show_default=True, type=click.Path(path_type=Path),
              help="Folder to write; it may hold only a previous build (replaced whole).")
@click.option("--verbose", "-v", is_flag=True, help="List every file written.")
@click.pass_context
def build(ctx: click.Context, out: Path, verbose: bool) -> None:
    """Validate the sources and write every format into OUT.

    Prints each dump and, for the site's per-resource folders, how many files they
    hold (every file with --verbose). Nothing is written when a check fails (OUT stays
    as it was); exit 1. OUT must be new, empty or a previous build: anything else (a
    checkout, the sources, other files) is refused with exit 2 before any work is done.

    \b
    Example:
        juno-kg build --out dist
    """
    from .write import build as run

    try:
        result = run(out, settings(ctx))
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: nothing written; {out}/ left as it was", err=True)
        ctx.exit(INTERRUPTED)
    if not result.ok:
        click.echo(result.report.text(), err=True)
        click.echo(f"\nbuild failed: nothing written; {out}/ left as it was", err=True)
        ctx.exit(NOT_CONFORMS)
    for line in result.listing(out, verbose=verbose):
        click.echo(line)
    click.echo(f"{result.report.summary()}; wrote {len(result.files)} files to {out}/")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "turtle", "json-ld"]),
              default="text", show_default=True, help="Text for people, or the SHACL report graph.")
@click.pass_context
def validate(ctx: click.Context, fmt: str) -> None:
    """Check the data against the SHACL shapes and violation queries.

    Exit 0 when it conforms, 1 when it does not, 2 on a load error.

    \b
    Example:
        juno-kg validate --format turtle > report.ttl
    """
    from .check import validate as run
    from .sources import load

    report = run(load(settings(ctx)))
    if fmt == "text":
        click.echo(report.text())
    else:
        click.echo(report.report_graph.serialize(format=fmt))
    ctx.exit(CONFORMS if report.conforms else NOT_CONFORMS)


@cli.command()
@click.option("--format", "fmt", required=True, metavar="NAME",
              help=f"One of: {', '.join(formats.names())}.")
@click.option("--graph", type=click.Choice(GRAPH_NAMES), help="Only this named graph.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: standard output).")
@click.pass_context
def export(ctx: click.Context, fmt: str, graph: str | None, out: Path | None) -> None:
    """Write the dataset, or one named graph, in one format.

    \b
    Example:
        juno-kg export --format nquads > juno-kg.nq
        juno-kg export --format turtle --graph article -o article.ttl
    """
    from .pipeline import export as run

    try:
        formats.get(fmt)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="--format") from None
    data = run(fmt, graph, settings(ctx))
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        from .atomic import replace_file

        replace_file(out, data)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Triples, subjects, classes and properties per named graph.

    \b
    Example:
        juno-kg stats --json
    """
    from .enrich import statistics
    from .pipeline import prepare

    table = statistics(prepare(settings(ctx)).sources)
    if as_json:
        click.echo(json.dumps({name: {"triples": s.triples, "subjects": s.subjects,
                                      "classes": s.classes, "properties": s.properties}
                               for name, s in table.items()}, indent=2, sort_keys=True))
        return
    click.echo(f"{'graph':<12}{'triples':>9}{'subjects':>10}{'classes':>9}{'properties':>12}")
    for name, s in table.items():
        click.echo(f"{name:<12}{s.triples:>9}{s.subjects:>10}{len(s.classes):>9}"
                   f"{len(s.properties):>12}")


@cli.command("query")
@click.argument("source", metavar="NAME|FILE|-")
@click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
              help="Bind a parameter (repeatable): an IRI, prefix:local, or a literal.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "tsv", "json", "xml", "ttl",
              "jsonld", "nt"]), help="table|csv|tsv|json|xml for SELECT/ASK (default table); "
              "ttl|jsonld|nt for CONSTRUCT/DESCRIBE (default ttl).")
@click.option("--endpoint", metavar="URL", help="Ask this SPARQL 1.1 endpoint instead.")
@click.option("--engine", type=click.Choice(["oxigraph", "rdflib"]), default="oxigraph",
              show_default=True, help="In-process engine.")
@click.option("--data", type=click.Path(path_type=Path),
              help="Build folder or N-Quads file (default: ./dist if built, else the sources).")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds to wait for an endpoint.")
@click.option("--store-dataset", is_flag=True, help="With --endpoint: let the store pick the "
              "graphs (default: the juno-kg named graphs, as default-graph-uri).")
@click.pass_context
def query_command(ctx: click.Context, source: str, params: tuple[str, ...], fmt: str | None,
                  endpoint: str | None, engine: str, data: Path | None, timeout: float,
                  store_dataset: bool) -> None:
    """Run a named query, a .rq file or SPARQL from standard input (-).

    \b
    Example:
        juno-kg query chart-run
        juno-kg query sources-of --param resource=person:kimya-dawson --format csv
        echo 'ASK { ?s ?p ?o }' | juno-kg query - --endpoint http://127.0.0.1:7878/query
    """
    from .params import parse_params
    from .query import render, run

    text = sys.stdin.read() if source == "-" else source
    answer = run(text, parse_params(params), endpoint, engine=engine, data=data,
                 root=ctx.obj["root"], base=ctx.obj["base"], timeout=timeout,
                 graphs=[] if store_dataset else None)
    output = render(answer, fmt, settings(ctx).base)
    sys.stdout.buffer.write(output)
    sys.stdout.buffer.flush()


@cli.command("queries")
def queries_command() -> None:
    """List the named queries with their descriptions and parameters.

    \b
    Example:
        juno-kg queries
    """
    from .catalogue import describe, named_queries

    click.echo("\n\n".join(describe(q) for q in named_queries().values()))


@cli.command()
@click.option("--out", default="dist", show_default=True, type=click.Path(path_type=Path),
              help="Folder to write the site to (pages, data, dumps, conneg config); it may "
              "hold only a previous build (replaced whole).")
@click.pass_context
def publish(ctx: click.Context, out: Path) -> None:
    """Write the static Linked Data site (and the dumps) into OUT, ready to deploy.

    Works from any static host and from file:// (relative links); .htaccess and
    nginx.conf in OUT do the content negotiation on Apache and nginx.

    \b
    Example:
        juno-kg publish --out site && xdg-open site/index.html
    """
    from .write import build as run  # a build is the deployable site root

    try:
        result = run(out, settings(ctx))
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: nothing written; {out}/ left as it was", err=True)
        ctx.exit(INTERRUPTED)
    if not result.ok:
        click.echo(result.report.text(), err=True)
        click.echo(f"\npublish failed: nothing written; {out}/ left as it was", err=True)
        ctx.exit(NOT_CONFORMS)
    pages = sum(1 for path, _ in result.files if path.startswith(layout.PAGES))
    click.echo(f"wrote {len(result.files)} files ({pages} resource pages) to {out}/; "
               f"open {out / 'index.html'}")


@cli.command()
@click.option("--dist", default="dist", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="A build folder to serve.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--timeout", type=float, envvar="JUNO_KG_QUERY_TIMEOUT", metavar="SECONDS",
              help="Per-query time limit [default: 10].")
@click.option("--max-rows", type=click.IntRange(1), envvar="JUNO_KG_MAX_ROWS",
              help="Cap on result rows (or triples) [default: 10000].")
@click.option("--max-request-bytes", type=click.IntRange(64), envvar="JUNO_KG_MAX_REQUEST_BYTES",
              help="Cap on query text / request body size [default: 32768].")
@click.option("--workers", type=click.IntRange(1), envvar="JUNO_KG_WORKERS",
              help="Query worker processes [default: 2].")
@click.option("--cache-entries", type=click.IntRange(0), envvar="JUNO_KG_CACHE_ENTRIES",
              help="Answers kept for repeated queries; 0 turns the cache off [default: 1024].")
@click.option("--max-answer-bytes", type=click.IntRange(1024), envvar="JUNO_KG_MAX_ANSWER_BYTES",
              help="Cap on the bytes of one answer [default: 16777216].")
@click.option("--worker-memory", type=click.IntRange(256), envvar="JUNO_KG_WORKER_MEMORY_MB",
              metavar="MB", help="Address space of one query worker [default: 1024].")
@click.option("--max-nesting", type=click.IntRange(8), envvar="JUNO_KG_MAX_NESTING",
              help="Deepest nesting of brackets in a query [default: 64].")
@click.option("--max-header-bytes", type=click.IntRange(1024), envvar="JUNO_KG_MAX_HEADER_BYTES",
              help="Cap on a request's header fields [default: 16384].")
@click.option("--header-timeout", type=float, envvar="JUNO_KG_HEADER_TIMEOUT", metavar="SECONDS",
              help="Time to send a request's headers (and body) [default: 10].")
@click.option("--per-client", type=click.IntRange(1), envvar="JUNO_KG_PER_CLIENT",
              help="Queries of one client address running at once [default: 1].")
@click.option("--per-client-queue", type=click.IntRange(0), envvar="JUNO_KG_PER_CLIENT_QUEUE",
              help="Queries of one client address waiting for their turn [default: 16].")
@click.option("--queue-wait", type=float, envvar="JUNO_KG_QUEUE_WAIT", metavar="SECONDS",
              help="Longest wait for a free query worker before a 503 [default: 10].")
@click.option("--worker-nice", type=click.IntRange(0, 19), envvar="JUNO_KG_WORKER_NICE",
              help="How much lower the query workers' CPU priority is (nice) [default: 5].")
@click.option("--no-sandbox", is_flag=True, default=None,
              help="Run query workers without their own network namespace (unsafe: SERVICE "
                   "can then reach the network); only where namespaces are unavailable.")
def serve(dist: Path, host: str, port: int, timeout: float | None, max_rows: int | None,
          max_request_bytes: int | None, workers: int | None,
          cache_entries: int | None, **hardening: float | int | bool | None) -> None:
    """Serve a build: pages, 303 content negotiation for /id/…, and /sparql.

    \b
    Example:
        juno-kg build && juno-kg serve --port 8000
        curl -L -H 'Accept: text/turtle' http://127.0.0.1:8000/id/person/kimya-dawson
    """
    try:
        from .serve import Limits
        from .serve import serve as run
    except ImportError as exc:
        raise click.UsageError(f"{exc.name} is missing: pip install 'juno-kg[serve]'") from None
    names = {"max_answer_bytes": "max_answer", "worker_memory": "worker_memory",
             "max_nesting": "max_nesting", "max_header_bytes": "max_header",
             "header_timeout": "header_timeout", "per_client": "per_client",
             "per_client_queue": "per_client_queue",
             "queue_wait": "queue_wait", "worker_nice": "worker_nice"}
    extra = {names[k]: v for k, v in hardening.items() if k in names}
    if hardening.get("no_sandbox"):
        extra["sandbox"] = False
    limits = Limits.from_env(timeout=timeout, max_rows=max_rows, max_request=max_request_bytes,
                             workers=workers, cache=cache_entries, **extra)
    run(dist, host, port, limits, echo=click.echo)


@cli.command("load")
@click.option("--endpoint", metavar="URL",
              help="SPARQL 1.1 Graph Store endpoint to PUT each named graph to.")
@click.option("--store", "store_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Load into an embedded on-disk store (pyoxigraph) in this folder instead.")
@click.option("--dump", type=click.Path(dir_okay=False, path_type=Path),
              help="N-Quads/TriG dump to load (default: build the sources in-process).")
@click.option("--graph", "graphs", multiple=True, metavar="NAME",
              help="Only this named graph (repeatable): a name such as article, or an IRI.")
@click.option("--query-endpoint", metavar="URL",
              help="SPARQL endpoint for the counts (default: the one beside --endpoint).")
@click.option("--user", help="User name for the endpoint.")
@click.option("--password", envvar="JUNO_KG_PASSWORD", help="Password (or $JUNO_KG_PASSWORD).")
@click.option("--auth", type=click.Choice(["basic", "digest"]), default="basic",
              show_default=True, help="HTTP authentication scheme (Virtuoso: digest).")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for each request.")
@click.pass_context
def load_command(ctx: click.Context, endpoint: str | None, store_dir: Path | None,
                 dump: Path | None, graphs: tuple[str, ...], query_endpoint: str | None,
                 user: str | None, password: str | None, auth: str, timeout: float) -> None:
    """Load every named graph into a triple store, then check its triple counts.

    Each graph replaces the store's graph of the same name (loading twice gives the same
    store). Exit 0 when every count matches the build's, 1 when one differs, 2 when
    nothing or only part could be loaded (the report says which graphs were).

    \b
    Example:
        juno-kg load --endpoint http://127.0.0.1:7878/store
        juno-kg load --endpoint http://127.0.0.1:8890/sparql-graph-crud-auth \\
            --auth digest --user dba --password dba --dump dist/dumps/juno-kg.nq
        juno-kg load --store ./juno-store --graph article --graph links
    """
    from .store import load_endpoint, load_store

    if (endpoint is None) == (store_dir is None):
        raise click.UsageError("give either --endpoint URL or --store DIR")
    if store_dir is not None:
        report = load_store(store_dir, settings(ctx), source=dump, graphs=graphs)
    else:
        report = load_endpoint(endpoint, settings(ctx), source=dump, graphs=graphs, user=user,
                               password=password, auth=auth, timeout=timeout,
                               query_url=query_endpoint)
    click.echo(report.text())
    if not report.ok:
        ctx.exit(USAGE if report.error else NOT_CONFORMS)


@cli.group("links")
def links_group() -> None:
    """Links to other datasets, edited in the SSSOM table data/links/mappings.sssom.tsv.

    \b
    Example:
        juno-kg links resolve --dry-run
    """


@links_group.command("resolve")
@click.option("--endpoint", metavar="URL", default="https://query.wikidata.org/sparql",
              show_default=True, help="SPARQL endpoint with Wikidata's data.")
@click.option("--table", type=click.Path(dir_okay=False, path_type=Path),
              help="Mapping table to read and extend (default: data/links/mappings.sssom.tsv).")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for the endpoint.")
@click.option("--dry-run", is_flag=True, help="Show the candidates; do not write them.")
@click.pass_context
def links_resolve(ctx: click.Context, endpoint: str, table: Path | None, timeout: float,
                  dry_run: bool) -> None:
    """Find Wikidata items and MusicBrainz IDs for the table's Wikipedia titles.

    Each new link is appended to the table as a candidate row (semapv:MappingChaining,
    with a confidence and how it was found); it is published only once a person fills in
    its reviewer_label. Rows already in the table are never written twice.

    \b
    Example:
        juno-kg links resolve
        juno-kg links resolve --endpoint http://127.0.0.1:7878/query --dry-run
    """
    from .resolve import resolve

    path = table or settings(ctx).root / "data" / "links" / "mappings.sssom.tsv"
    click.echo(resolve(path, endpoint, timeout=timeout, dry_run=dry_run).text())


def main() -> None:
    cli(prog_name="juno-kg")
