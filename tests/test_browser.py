"""A real browser (Debian's headless chromium, driven by selenium through chromium-driver)
walks the site served by ``juno-kg serve``: index -> Kimya Dawson -> a group she plays in."""

from __future__ import annotations

import shutil

import pyoxigraph as ox
import pytest

from juno_kg.config import DEFAULT_BASE

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
JK = f"{DEFAULT_BASE}ontology#"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed "
           "(apt-get install chromium chromium-driver; .ci/run does)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,2000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _groups_of_kimya(built) -> dict[str, str]:
    store = ox.Store()
    store.bulk_load(path=str(built / "dumps/juno-kg.nq"), format=ox.RdfFormat.N_QUADS)
    rows = store.query(f"""SELECT ?g ?l WHERE {{ ?g <{JK}hasMember> ?p ; <{LABEL}> ?l .
        ?p <{LABEL}> "Kimya Dawson"@en }}""", use_default_graph_as_union=True)
    return {r["g"].value: r["l"].value for r in rows}


def test_index_to_kimya_dawson_to_a_group_she_plays_in(browser, live_server, built, tmp_path):
    from selenium.webdriver.common.by import By

    groups = _groups_of_kimya(built)
    assert groups, "the data names no group with Kimya Dawson as a member"

    browser.get(f"{live_server}/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Music from the Motion Picture Juno"
    chart = browser.find_element(By.CSS_SELECTOR, "#chart svg")
    assert chart.is_displayed() and chart.size["width"] > 200
    assert len(chart.find_elements(By.TAG_NAME, "circle")) >= 1
    assert "Kimya Dawson" in browser.find_element(By.ID, "people").text
    shot = tmp_path / "index.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

    browser.find_element(By.CSS_SELECTOR, "#people").find_element(
        By.LINK_TEXT, "Kimya Dawson").click()
    assert browser.current_url.endswith("/page/person/kimya-dawson.html")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Kimya Dawson"
    assert f"{DEFAULT_BASE}id/person/kimya-dawson" in browser.find_element(
        By.CSS_SELECTOR, ".iri").text
    referenced = browser.find_element(By.ID, "referenced-by")
    for name in groups.values():
        assert name in referenced.text
    assert "has member" in referenced.text

    iri, name = sorted(groups.items())[0]
    referenced.find_element(By.LINK_TEXT, name).click()
    assert browser.current_url.endswith(f"/page/{iri[len(DEFAULT_BASE) + 3:]}.html")
    assert browser.find_element(By.TAG_NAME, "h1").text == name
    properties = browser.find_element(By.ID, "properties")
    assert "has member" in properties.text and "Kimya Dawson" in properties.text
    properties.find_element(By.LINK_TEXT, "Kimya Dawson")  # and the way back
