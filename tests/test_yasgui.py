"""YASGUI on the ``/sparql`` page, from the assets shipped in the package.

Plain checks (starlette's TestClient): the page names no remote script or style, every
script and stylesheet it names is served (200, its media type), the shipped files are the
ones ``scripts/update-yasgui.sh`` recorded, with their licence, and the page's YASGUI
configuration holds this endpoint, the named queries and the prefixes; the form stays for
browsers without JavaScript. A real browser (Debian's headless chromium through selenium,
loopback only) loads the page from ``juno-kg serve``, sees YASGUI's editor, runs a query and
sees its rows, and every request the page made (chromium's network log, which lists also
the requests a Content-Security-Policy blocks) went to the server.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pyoxigraph as ox
import pytest
from starlette.testclient import TestClient

from juno_kg.serve import Limits, create_app
from juno_kg.site import named_queries
from juno_kg.vocab import prefix_map
from juno_kg.yasgui import ASSETS, CSP

from .conftest import CHROMEDRIVER, CHROMIUM, NO_CHROMIUM, chromium

ALBUMS = ("PREFIX schema: <http://schema.org/>\n"
          "SELECT ?album ?name WHERE { ?album a schema:MusicAlbum ; schema:name ?name }")


class Assets(HTMLParser):
    """The scripts, stylesheets, forms and YASGUI configuration of a page."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.config = ""
        self.forms: list[dict] = []
        self._in_config = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "script" and attr.get("src"):
            self.scripts.append(attr["src"] or "")
        if tag == "script" and attr.get("id") == "yasgui-config":
            self._in_config = True
        if tag == "link" and attr.get("rel") == "stylesheet":
            self.styles.append(attr.get("href") or "")
        if tag == "form":
            self.forms.append(attr)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_config = False

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config += data


@pytest.fixture(scope="module")
def client(built):
    with TestClient(create_app(built, Limits(workers=1)), follow_redirects=False) as c:
        yield c


def test_the_page_names_no_remote_script_or_style_and_each_is_served(client):
    page = client.get("/sparql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    found = Assets(page.text)
    assert any(s.endswith("yasgui.min.js") for s in found.scripts)
    assert any(s.endswith("yasgui.min.css") for s in found.styles)
    for src in found.scripts + found.styles:
        url = urljoin("http://testserver/sparql", src)
        assert urlsplit(url).netloc == "testserver", f"{src} is not on this server"
        answer = client.get(urlsplit(url).path)
        assert answer.status_code == 200, src
        media = answer.headers["content-type"].split(";")[0]
        if src in found.scripts:
            assert media in ("text/javascript", "application/javascript"), (src, media)
            assert answer.content.strip(), src
        else:
            assert media == "text/css", (src, media)
    # no remote address in an attribute that loads something
    assert not re.search(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)=["']?(https?:)?//""",
                         page.text.split("<main>")[0]), "a remote asset in the head"
    assert page.headers["content-security-policy"] == CSP
    assert "default-src 'self'" in CSP and "script-src 'self'" in CSP


def test_without_javascript_the_form_stays(client):
    page = client.get("/sparql", headers={"Accept": "text/html"})
    found = Assets(page.text)
    assert {"method": "get", "action": "sparql", "class": "query"} in found.forms
    assert '<textarea id="query" name="query"' in page.text
    assert '<div id="yasgui" hidden>' in page.text  # shown by the script, not before


def test_the_configuration_is_this_endpoint_the_named_queries_and_our_prefixes(client, built):
    config = json.loads(Assets(client.get("/sparql", headers={"Accept": "text/html"}).text)
                        .config)
    base = json.loads((built / "manifest.json").read_text())["base"]
    assert config["endpoint"] == "sparql"
    assert config["maxRows"] == Limits(workers=1).max_rows
    assert config["prefixes"] == prefix_map(base)
    runnable = [q for q in named_queries(base) if q["runnable"] and not q["federated"]]
    assert [(q["name"], q["text"]) for q in config["named"]] == \
        [(q["name"], q["text"]) for q in runnable]
    assert len(config["named"]) >= 5
    assert config["run"] is False
    shown = Assets(client.get("/sparql", params={"query": ALBUMS},
                              headers={"Accept": "text/html"}).text).config
    assert json.loads(shown)["run"] is True  # a query in the address is run on arrival


def test_the_shipped_assets_are_the_recorded_npm_files_with_their_licence():
    sums = (ASSETS / "SHA256SUMS").read_text().splitlines()
    listed = dict(reversed(line.split("  ", 1)) for line in sums)
    assert {"yasgui.min.js", "yasgui.min.css", "LICENSE.txt", "VERSION",
            "yasgui.min.js.LICENSE.txt"} <= set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name
    assert "MIT License" in (ASSETS / "LICENSE.txt").read_text()
    version = (ASSETS / "VERSION").read_text().strip()
    script = (Path(__file__).resolve().parents[1] / "scripts" / "update-yasgui.sh").read_text()
    assert f"VERSION={version}\n" in script  # the script pins what is shipped


# --------------------------------------------------------------------------- the browser

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(NO_CHROMIUM)
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"), log_requests=True)
    try:
        yield driver
    finally:
        driver.quit()


def _albums(built: Path) -> list[str]:
    store = ox.Store()
    store.bulk_load(path=str(built / "dumps/juno-kg.nq"), format=ox.RdfFormat.N_QUADS)
    return sorted(r["name"].value for r in store.query(ALBUMS, use_default_graph_as_union=True))


def _wait(what, seconds: float = 30.0, step: float = 0.2):
    deadline = time.monotonic() + seconds
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def _requested(browser) -> list[str]:
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def test_yasgui_runs_a_query_in_a_real_browser_and_nothing_leaves_loopback(
        browser, live_server, built):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": """
        window.__violations = [];
        document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(
            [e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber, e.columnNumber,
             e.sample, e.originalPolicy].join(" | ")));"""})
    browser.get_log("performance")  # drop what came before this page
    browser.get(f"{live_server}/sparql")
    editor = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#yasgui .CodeMirror"))
    assert editor, "YASGUI's editor did not appear: " + json.dumps(browser.get_log("browser"))
    assert editor[0].is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, "form.query").is_displayed()
    tabs = [t.text.splitlines()[0] for t in
            browser.find_elements(By.CSS_SELECTOR, "#yasgui .tabsList .tab")]
    assert tabs[0] == "Query" and "album" in tabs and "tracks" in tabs, tabs

    browser.execute_script("document.querySelector('#yasgui .yasqe .CodeMirror').CodeMirror"
                           ".setValue(arguments[0]);", ALBUMS)
    browser.find_element(By.CSS_SELECTOR, "#yasgui .yasqe_queryButton").click()
    expected = _albums(built)
    assert expected

    def rows() -> list[str]:
        cells = browser.find_elements(By.CSS_SELECTOR, "#yasgui .yasr table.dataTable tbody tr")
        return [c.text for c in cells]

    shown = _wait(lambda: len(rows()) == len(expected) and rows())
    assert shown, f"no results: {rows()} {browser.get_log('browser')}"
    for name in expected:
        assert any(name in row for row in shown), (name, shown)
    # an answer cut at the row limit says so under the editor
    limit = Limits().max_rows
    assert not browser.find_element(By.ID, "yasgui-note").is_displayed()
    browser.execute_script("document.querySelector('#yasgui .yasqe .CodeMirror').CodeMirror"
                           ".setValue(arguments[0]);",
                           f"SELECT ?s WHERE {{ ?s ?p ?o . ?t ?q ?r }} LIMIT {limit + 1}")
    browser.find_element(By.CSS_SELECTOR, "#yasgui .yasqe_queryButton").click()
    note = browser.find_element(By.ID, "yasgui-note")
    assert _wait(note.is_displayed), "no note on a truncated answer"
    assert f"first {limit} rows" in note.text

    # completion offers the dataset's prefixes (YASQE's remote completers are off)
    assert browser.execute_script("return document.querySelector('#yasgui .yasqe "
                                  ".CodeMirror').CodeMirror.options.autocompleters;") == \
        ["juno-kg-prefixes", "variables"]
    browser.execute_script("const cm = document.querySelector('#yasgui .yasqe .CodeMirror')"
                           ".CodeMirror; cm.setValue('PREFIX mo'); cm.focus();"
                           "cm.setCursor(cm.lineCount(), 0);")
    ActionChains(browser).key_down(Keys.CONTROL).send_keys(Keys.SPACE).key_up(
        Keys.CONTROL).perform()
    hints = _wait(lambda: [h.text for h in browser.find_elements(By.CSS_SELECTOR,
                                                                   ".CodeMirror-hints li")])
    assert "mo: <http://purl.org/ontology/mo/>" in hints, hints

    requested = _requested(browser)
    assert any(u.startswith(f"{live_server}/sparql?query=") for u in requested), requested
    assert any(u.endswith("/static/yasgui/yasgui.min.js") for u in requested), requested
    remote = [u for u in requested if not u.startswith((f"{live_server}/", "data:", "blob:"))]
    assert not remote, f"requests that left the server: {remote}"
    violations = browser.execute_script("return window.__violations;")
    assert violations == [], "\n".join(violations)
