// Run one SPARQL SELECT with Comunica over a Triple Pattern Fragments interface.
// usage: node tests/tpf_client.cjs NODE_MODULES FRAGMENTS_URL QUERY
// Prints {"rows": [{var: "value" | "\"literal\"@en", ...}], "requests": [url, ...]}:
// the bindings (terms as rdf-string writes them) and every URL Comunica fetched.
// Used by tests/test_fragments.py; Comunica is installed by .ci/run into tests/.node.
"use strict";

const path = require("node:path");

async function main() {
  const [modules, source, query] = process.argv.slice(2);
  const { QueryEngine } = require(path.join(modules, "@comunica/query-sparql"));
  const requests = [];
  const engine = new QueryEngine();
  const context = {
    sources: [source],
    lenient: false,
    httpTimeout: 20000,
    fetch: (input, init) => {
      requests.push(typeof input === "string" ? input : input.url);
      return fetch(input, init);
    },
  };
  const stream = await engine.queryBindings(query, context);
  const bindings = await stream.toArray();
  const rows = bindings.map((b) => {
    const row = {};
    for (const [variable, term] of b) {
      row[variable.value] = term.termType === "Literal"
        ? JSON.stringify(term.value) + (term.language ? `@${term.language}`
          : (term.datatype && !term.datatype.value.endsWith("#string") ? `^^${term.datatype.value}` : ""))
        : term.value;
    }
    return row;
  });
  process.stdout.write(JSON.stringify({ rows, requests }) + "\n");
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + "\n");
  process.exit(1);
});
