"""What a static host needs beside the files: 303 content negotiation for Apache
(``.htaccess``) and nginx (``nginx.conf``), and the sitemap — Jinja templates in
``juno_kg/templates/`` filled from the format registry and the base IRI."""

from __future__ import annotations

from urllib.parse import urlparse

from . import formats, layout


def _render(env, template: str, **values) -> bytes:
    return env.get_template(template).render(formats=formats.FORMATS, **values).encode("utf-8")


def htaccess(env, base: str) -> bytes:
    """Apache config: media types and 303 content negotiation for ``id/`` and ``ontology``."""
    targets = [("id/(.+)", "$1", layout.page_path("$1")), ("ontology", "ontology",
                                                          "ontology.html")]
    return _render(env, "htaccess.conf", prefix=urlparse(base).path or "/", targets=targets)


def nginx_conf(env, base: str) -> bytes:
    """nginx config (include it in a ``server`` block) doing the same negotiation."""
    return _render(env, "nginx.conf", prefix=urlparse(base).path or "/")


def sitemap(env, base: str, pages: list[str]) -> bytes:
    """Every page of the site, for search engines."""
    urls = [base, f"{base}ontology.html"] + [f"{base}page/{p}" for p in pages]
    return _render(env, "sitemap.xml", urls=urls)
