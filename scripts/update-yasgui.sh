#!/usr/bin/env bash
# Fetch YASGUI's built assets from npm into juno_kg/static/yasgui/ (see docs/yasgui.md).
#
#   scripts/update-yasgui.sh            the pinned version below, checked against its integrity
#   scripts/update-yasgui.sh --check    only check the shipped files against their SHA256SUMS
#
# To move to another version, set VERSION and INTEGRITY (from
# `npm view @triply/yasgui@VERSION dist.integrity`), run this, run the tests, commit.
# Needs npm (the registry only); nothing is fetched at build or run time.
set -euo pipefail

VERSION=4.2.28
INTEGRITY=sha512-HN1neZqERSGoDyk/Fg40nI+F0tHnaBxjqizhN0mur2Kj0oJsklBsFMRk/M+wW+ohy8dSEn7AgX3H0pPrV/wmVg==
#: the files taken from the package: its built bundle, stylesheet and licences
FILES=(build/yasgui.min.js build/yasgui.min.css build/yasgui.min.js.LICENSE.txt LICENSE.txt)

cd "$(dirname "$0")/.."
dest=juno_kg/static/yasgui

if [ "${1:-}" = "--check" ]; then
  (cd "$dest" && sha256sum --check --quiet SHA256SUMS)
  echo "juno_kg/static/yasgui: @triply/yasgui $(cat "$dest/VERSION"), every file as listed"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tarball=$(cd "$tmp" && npm pack --silent "@triply/yasgui@$VERSION")
actual="sha512-$(openssl dgst -sha512 -binary "$tmp/$tarball" | base64 -w0)"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "update-yasgui: $tarball has integrity $actual, not the pinned $INTEGRITY" >&2
  exit 1
fi
tar -xzf "$tmp/$tarball" -C "$tmp"
mkdir -p "$dest"
for file in "${FILES[@]}"; do
  cp "$tmp/package/$file" "$dest/$(basename "$file")"
done
echo "$VERSION" > "$dest/VERSION"
(cd "$dest" && sha256sum VERSION $(for f in "${FILES[@]}"; do basename "$f"; done) > SHA256SUMS)
echo "juno_kg/static/yasgui: @triply/yasgui $VERSION ($INTEGRITY)"
