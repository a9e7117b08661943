"""A real browser (Debian's headless chromium, driven by selenium through chromium-driver)
walks the site served by ``juno-kg serve``: index -> Kimya Dawson -> a group she plays in."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from juno_kg.config import DEFAULT_BASE

from .conftest import CHROMEDRIVER, CHROMIUM, NO_CHROMIUM, chromium

JK = f"{DEFAULT_BASE}ontology#"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"

pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None, reason=NO_CHROMIUM)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"))
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
