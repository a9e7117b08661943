"""Step 4 — write: every format from the one registry, deterministic bytes, atomic ``dist/``."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from rdflib import RDF, Graph

from . import formats, layout
from .atomic import exchange, locked, temp_path
from .check import CheckReport
from .config import DEFAULT_BASE, GRAPH_NAMES, JOBS_ENV, Settings
from .errors import JunoKGError
from .pipeline import Prepared, graph_names, prepare, union_graph
from .serialize import (
    CONTEXT_FILE,
    frame_jsonld,
    jsonld_bytes,
    make_context,
    serialize_dataset,
    serialize_graph,
)
from .sources import Sources, bind_prefixes, load

# --------------------------------------------------------------------------- build

@dataclass
class BuildResult:
    """What a build did: the check report and, when it conformed, the files written."""

    report: CheckReport
    out: Path
    files: list[tuple[str, int]] = field(default_factory=list)  #: (relative path, bytes)

    @property
    def ok(self) -> bool:
        return self.report.conforms

    def listing(self, out: Path, verbose: bool = False) -> list[str]:
        """Lines for people: each file with its size, folders of many files summed up."""
        groups: dict[str, list[int]] = {}
        lines = []
        for path, size in self.files:
            top = path.split("/", 1)[0]
            if verbose or "/" not in path or top in (layout.DUMPS, ".well-known"):
                lines.append(f"{size:>9}  {out / path}")
            else:
                groups.setdefault(top, []).append(size)
        for top, sizes in sorted(groups.items()):
            lines.append(f"{sum(sizes):>9}  {out / top}/  ({len(sizes)} files)")
        return lines


_TASKS: list[Callable[[], dict[str, bytes]]] = []


def _run_task(index: int) -> dict[str, bytes]:
    return _TASKS[index]()


def default_jobs() -> int:
    value = os.environ.get(JOBS_ENV, "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise JunoKGError(f"{JOBS_ENV}={value!r} is not a whole number",
                              hint=f"set {JOBS_ENV} to a number of processes, e.g. 2",
                              ) from None
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
        os.cpu_count() or 1)


def run_tasks(tasks: list[Callable[[], dict[str, bytes]]],
              jobs: int | None = None) -> dict[str, bytes]:
    """The files of every task, merged in task order.

    The tasks are independent and pure (each returns relative path -> bytes from data
    prepared before), so they run in ``jobs`` forked processes that inherit that data
    instead of receiving a copy; only the bytes travel back. Where forking is not safe
    (another thread runs, or the platform has no ``fork``) they run here, one by one: the
    bytes are the same either way.
    """
    import multiprocessing

    global _TASKS
    jobs = min(jobs or default_jobs(), len(tasks))
    if (jobs <= 1 or threading.active_count() > 1
            or "fork" not in multiprocessing.get_all_start_methods()):
        parts = [task() for task in tasks]
    else:
        from concurrent.futures import ProcessPoolExecutor

        _TASKS = tasks
        try:
            with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork")) as pool:
                parts = list(pool.map(_run_task, range(len(tasks))))
        finally:
            _TASKS = []
    files: dict[str, bytes] = {}
    for part in parts:
        files.update(part)
    return files


def _union_dumps(sources: Sources, context: dict, jsonld: bool | None = None,
                 ) -> dict[str, bytes]:
    """The whole dataset in every format; only in JSON-LD (``jsonld=True``), or in every
    other format (``False``)."""
    union = union_graph(sources)
    files = {}
    for fmt in formats.FORMATS:
        if jsonld is not None and (fmt.writer == "jsonld") != jsonld:
            continue
        path = layout.dump_path(fmt)
        if fmt.quads:
            files[path] = serialize_dataset(sources.dataset, fmt, graph_names(sources))
        else:
            files[path] = serialize_graph(union, fmt, context)
    return files


def _graph_dumps(sources: Sources, context: dict) -> dict[str, bytes]:
    files = {}
    for name in GRAPH_NAMES:
        graph = sources.graph(name)
        if not len(graph):
            continue
        g = Graph()
        bind_prefixes(g, sources.settings, like=sources.dataset)
        g += graph
        for fmt in formats.FORMATS:
            if not fmt.quads:
                files[layout.graph_dump_path(name, fmt)] = serialize_graph(g, fmt, context)
    files[layout.VOID_FILE] = files[layout.graph_dump_path("meta", formats.get("turtle"))]
    files[layout.SHAPES_DUMP] = serialize_graph(sources.shapes, formats.get("turtle"))
    return files


def _framed_dump(sources: Sources, context: dict) -> dict[str, bytes]:
    framed = frame_document(sources, context)
    return {} if framed is None else {layout.FRAMED_DUMP: jsonld_bytes(framed)}


def render(prepared: Prepared, jobs: int | None = None) -> dict[str, bytes]:
    """Every output file of a build of a prepared (conforming) dataset, as relative path ->
    bytes (nothing touches the disk); rendered in ``jobs`` processes (default
    :func:`default_jobs`), the same bytes whatever their number."""
    from .site import Model, site_tasks  # the Linked Data site: pages, per-resource data

    sources, context, settings = prepared.sources, prepared.context, prepared.settings
    model = Model(sources)
    # the longest first, so that the last to finish are short (the JSON-LD compaction of
    # the whole dataset is a third of the dumps' work)
    tasks = [partial(_union_dumps, sources, context, jsonld=True),
             partial(_graph_dumps, sources, context),
             partial(_union_dumps, sources, context, jsonld=False),
             partial(_framed_dump, sources, context),
             *site_tasks(model, context, void=_VOID_LATER, chunks=6)]
    files: dict[str, bytes] = {CONTEXT_FILE: jsonld_bytes(context)}
    files.update(run_tasks(tasks, jobs))
    files[layout.WELL_KNOWN_VOID] = files[layout.VOID_FILE]
    manifest = [{"path": p, "bytes": len(b), "sha256": hashlib.sha256(b).hexdigest()}
                for p, b in sorted(files.items())]
    files[layout.CHECKSUMS] = "".join(f"{m['sha256']}  {m['path']}\n" for m in manifest).encode()
    files[layout.MANIFEST] = jsonld_bytes({"base": settings.base, "files": manifest})
    return files


#: Stands in for ``.well-known/void`` in the site's tasks: the dumps' ``void.ttl`` is
#: written in another task and copied in afterwards (made once, not twice).
_VOID_LATER = b""


def frame_document(sources: Sources, context: dict) -> dict | None:
    """The album at the top with its releases, people, chart run and sources nested; then,
    one node object each, every node holding a triple the album's tree does not, so the
    document holds every triple of the graphs it frames (article, supplement, links)."""
    from .enrich import SCHEMA

    albums = sorted(set(sources.graph("inferred").subjects(RDF.type, SCHEMA.MusicAlbum))
                    | set(sources.dataset.subjects(RDF.type, SCHEMA.MusicAlbum)))
    primary = [a for a in albums if str(a).endswith("/album/juno")] or albums
    if not primary:
        return None
    album = primary[0]
    data = union_graph(sources, ("article", "supplement", "links"))
    # nodes that point at the album (releases, chart run, certification, milestones ...)
    # are embedded under "@reverse"; what the album points at is embedded directly
    reverse = sorted({str(p) for p in data.predicates(None, album) if p != RDF.type})
    frame: dict = {"@id": str(album), "@embed": "@once"}
    if reverse:
        frame["@reverse"] = {p: {"@embed": "@once"} for p in reverse}
    framed = frame_jsonld(data, context, frame)
    held = Graph().parse(data=json.dumps(framed), format="json-ld")
    rest = Graph()
    for triple in data:
        if triple not in held:
            rest.add(triple)
    if len(rest):
        flat = frame_jsonld(rest, context, {"@embed": "@never"})["@graph"]
        framed["@graph"] = [*framed["@graph"], *(n for n in flat if set(n) - {"id", "@id"})]
    return framed


#: What a build writes besides the files its manifest lists.
_BUILD_EXTRAS = frozenset({layout.MANIFEST, layout.CHECKSUMS})
#: Metadata file managers drop into any folder they show; a build may replace them.
_LITTER = frozenset({".DS_Store", "Thumbs.db"})
_SOURCE_FOLDERS = ("ontology", "shapes", "data")


def _refuse(folder: Path, why: str, hint: str) -> JunoKGError:
    verb = "replace" if folder.exists() else "write a build into"
    return JunoKGError(f"refusing to {verb} {folder}: {why}", hint=hint)


def _names(entries: list[str], limit: int = 5) -> str:
    shown = ", ".join(entries[:limit])
    return shown + (f", … ({len(entries) - limit} more)" if len(entries) > limit else "")


def _manifest_paths(folder: Path) -> set[str] | None:
    """The paths listed in ``folder/manifest.json`` if it is a juno-kg manifest, else None."""
    try:
        manifest = json.loads((folder / layout.MANIFEST).read_text("utf-8"))
        paths = {entry["path"] for entry in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(manifest.get("base"), str) or not all(isinstance(p, str) for p in paths):
        return None
    return paths


def _unlisted(folder: Path, listed: set[str]) -> list[str]:
    """Entries under ``folder`` that a build of this manifest did not write (sorted)."""
    extra: list[str] = []

    def unreadable(error: OSError) -> None:  # what cannot be listed cannot be vouched for
        extra.append(Path(error.filename).relative_to(folder).as_posix())

    for top, dirs, files in os.walk(folder, onerror=unreadable):
        rel = Path(top).relative_to(folder)
        for name in sorted(dirs):
            if (Path(top) / name).is_symlink():
                extra.append((rel / name).as_posix())
        for name in sorted(files):
            path = (rel / name).as_posix()
            if not (path in listed or path in _BUILD_EXTRAS or name in _LITTER):
                extra.append(path)
    return sorted(extra)


def check_out(out: str | Path, root: Path | None = None) -> None:
    """Refuse (:class:`JunoKGError`, exit 2) an ``out`` that a build must not replace.

    A build replaces only a missing path, an empty folder or a previous build: a folder
    whose ``manifest.json`` is ours and that holds nothing else but what that build wrote.
    Never a file, a folder holding a ``.git``, or the sources of ``root`` (its
    ``ontology/``, ``shapes/``, ``data/``, a folder inside them or one that contains them).
    """
    folder = Path(out).resolve()
    hint = "choose an empty or new folder for --out, or remove this one yourself"
    if root is not None:
        for name in _SOURCE_FOLDERS:
            source = (Path(root) / name).resolve()
            if folder.is_relative_to(source):
                where = "the sources' " if folder == source else "inside the sources' "
                raise _refuse(folder, f"it is {where}{name}/ folder (of {source.parent})",
                              "write the build outside the sources, e.g. --out dist")
            if source.is_relative_to(folder):
                raise _refuse(folder, f"it holds the sources this build reads "
                              f"({source.relative_to(folder)}/ in it)",
                              "write the build to a folder of its own, e.g. --out dist")
    if not folder.exists():
        above = next(p for p in folder.parents if p.exists())
        if not above.is_dir():
            raise _refuse(folder, f"{above} is a file, not a folder",
                          "choose a new folder for --out, e.g. --out dist")
        return
    if not folder.is_dir():
        raise _refuse(folder, "it is a file, not a folder (a build is a folder of many files)",
                      "choose a new folder for --out, e.g. --out dist")
    if os.path.lexists(folder / ".git"):
        raise _refuse(folder, "it holds a .git (a repository); a build never replaces one",
                      "choose a new folder for --out, e.g. --out dist")
    entries = sorted(p.name for p in folder.iterdir())
    if not entries:
        return
    listed = _manifest_paths(folder)
    if listed is None:
        why = ("its manifest.json is not a juno-kg build manifest"
               if (folder / layout.MANIFEST).exists() else "it is not a juno-kg build "
               "(no manifest.json)")
        raise _refuse(folder, f"{why} and holds {len(entries)} "
                      f"entr{'y' if len(entries) == 1 else 'ies'}: {_names(entries)}", hint)
    extra = _unlisted(folder, listed)
    if extra:
        raise _refuse(folder, f"it is a juno-kg build, but {len(extra)} "
                      f"entr{'y' if len(extra) == 1 else 'ies'} in it are not part of that "
                      f"build and would be lost: {_names(extra)}",
                      "move them out of the build folder (or remove the folder yourself), "
                      "then build again")


_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>[0-9]+)")


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs (our own PID counts as dead: a leftover of an earlier
    process that had it). Where that cannot be asked safely, every process counts as alive."""
    if pid == os.getpid():
        return False
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except (OSError, OverflowError):
        return False
    return True


def clean_leftovers(out: str | Path) -> list[Path]:
    """Remove what killed builds left beside ``out``: ``.{name}.tmp-PID/`` and
    ``.{name}.old-PID/`` folders whose process is gone. A previous build a killed build
    had moved aside (``out`` missing) is moved back instead. Returns what was removed."""
    folder = Path(out).resolve()
    if not folder.parent.is_dir():
        return []
    removed = []
    for path in sorted(folder.parent.iterdir()):
        match = _LEFTOVER.fullmatch(path.name)
        if (match is None or match["name"] != folder.name or _alive(int(match["pid"]))
                or path.is_symlink() or not path.is_dir()):
            continue
        if match["kind"] == "old" and not folder.exists() and _manifest_paths(path) is not None:
            path.rename(folder)  # killed between moving the old build aside and the new in
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


@contextmanager
def _held_interrupts() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) for a moment that must not be cut short; a Ctrl-C in it is
    dropped (the work it would have stopped is done). Only the main thread can do this."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def write_files(files: dict[str, bytes], out: Path, root: Path | None = None) -> None:
    """Write ``files`` to ``out`` atomically: a complete new folder, or ``out`` untouched.

    The files go to ``.{name}.tmp-PID/`` beside ``out``, which then takes the place of the
    previous build (checked again with :func:`check_out` just before). Ctrl-C or an error
    while writing removes the temporary folder; a kill leaves it for the next build.
    """
    out = out.resolve()
    tmp, old = temp_path(out), temp_path(out, "old")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        for rel, data in files.items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        check_out(out, root)
        with _held_interrupts():
            if not out.exists():
                tmp.rename(out)
            elif exchange(tmp, out):  # one step: the previous build is now at tmp
                shutil.rmtree(tmp, ignore_errors=True)
            else:  # two renames; clean_leftovers moves the old build back after a kill
                out.rename(old)
                tmp.rename(out)
                shutil.rmtree(old, ignore_errors=True)
    except BaseException as exc:
        with _held_interrupts():
            shutil.rmtree(tmp, ignore_errors=True)
            if old.exists() and not out.exists():
                old.rename(out)
        if isinstance(exc, OSError):
            raise JunoKGError(f"could not write the build: {exc.strerror or exc}",
                              path=exc.filename or out,
                              hint="nothing was replaced; check the folder's permissions "
                              "and free space") from exc
        raise


def build(out: str | Path = "dist", settings: Settings | None = None) -> BuildResult:
    """Load, check, enrich and write every output into ``out``.

    On a violation nothing is written (``out`` is left as it was) and the result's
    report says why; load errors raise :class:`JunoKGError`. An ``out`` that is not a
    previous build (see :func:`check_out`) is refused before anything is loaded, and
    what killed builds left beside it is removed (:func:`clean_leftovers`).
    """
    settings = settings or Settings.make()
    check_out(out, settings.root)
    with locked(Path(out).resolve()):
        clean_leftovers(out)
        prepared = prepare(settings, strict=False)
        result = BuildResult(prepared.report, Path(out))
        if not prepared.ok:
            return result
        files = render(prepared)
        write_files(files, Path(out), settings.root)
    result.files = sorted((p, len(b)) for p, b in files.items())
    return result


def context_for(settings: Settings | None = None) -> dict:
    """The JSON-LD context generated from the ontology for ``settings`` (default base)."""
    sources = load(settings)
    bind_prefixes(sources.dataset, sources.settings)
    return make_context(sources.graph("ontology"), sources.dataset, sources.settings.base)


def write_shipped_context() -> Path:
    """Regenerate ``juno_kg/context.jsonld`` (``make context``) after an ontology change."""
    path = Path(__file__).with_name(CONTEXT_FILE)
    path.write_bytes(jsonld_bytes(context_for(Settings.make(base=DEFAULT_BASE))))
    return path
