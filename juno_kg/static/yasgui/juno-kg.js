/* juno-kg: YASGUI on the /sparql page, configured for this endpoint only.
 *
 * Reads its configuration from the page (<script type="application/json" id="yasgui-config">):
 * the endpoint, the row limit, the prefixes for completion and the named queries (one tab
 * each). Nothing is fetched from anywhere but this server: the remote autocompleters of
 * YASQE (prefix.cc, LOV) are replaced by one that completes the dataset's own prefixes, the
 * endpoint list holds this endpoint alone, and nothing is kept in localStorage. Without
 * JavaScript, or if this fails, the plain form of the page stays as it is.
 * Code: MIT, as juno-kg's; YASGUI: MIT (LICENSE.txt beside this file).
 */
(function () {
  "use strict";

  function start() {
    var holder = document.getElementById("yasgui");
    var configElement = document.getElementById("yasgui-config");
    var Yasgui = window.Yasgui;
    if (!holder || !configElement || !Yasgui || !Yasgui.Yasqe) return;
    var config = JSON.parse(configElement.textContent);
    var Yasqe = Yasgui.Yasqe;
    var endpoint = new URL(config.endpoint, window.location.href).href;

    var prefixLines = Object.keys(config.prefixes).sort().map(function (prefix) {
      return prefix + ": <" + config.prefixes[prefix] + ">";
    });
    Yasqe.forkAutocompleter("prefixes", {
      name: "juno-kg-prefixes",
      get: prefixLines,
      persistenceId: null,
    }, false);
    // Only local completers: lodash's merge of YASQE's config would merge arrays item by
    // item, so the defaults themselves are set (YASGUI's yasqe defaults are this object).
    Yasqe.defaults.autocompleters.splice(0, Yasqe.defaults.autocompleters.length,
                                         "juno-kg-prefixes", "variables");
    Yasqe.defaults.prefixCcApi = "";
    Yasqe.defaults.persistenceId = null;

    var form = document.querySelector("form.query");
    var box = document.getElementById("query");
    var results = document.getElementById("results");
    var note = document.getElementById("yasgui-note");

    var yasgui = new Yasgui(holder, {
      persistenceId: null,
      populateFromUrl: false,
      autoAddOnInit: false,
      copyEndpointOnNewTab: true,
      endpointCatalogueOptions: {
        getData: function () { return [{ endpoint: endpoint }]; },
        keys: [],
      },
      requestConfig: {
        endpoint: endpoint,
        method: "GET",
        acceptHeaderSelect: "application/sparql-results+json",
        acceptHeaderGraph: "text/turtle",
      },
      yasqe: { editorHeight: "320px" },
      yasr: { prefixes: config.prefixes, persistenceId: null, maxPersistentResponseSize: 0 },
    });

    yasgui.addTab(true, { name: "Query", yasqe: { value: box ? box.value : "" } });
    config.named.forEach(function (q) {
      yasgui.addTab(false, { name: q.name, yasqe: { value: q.text } });
    });
    function showTruncation(tab) {
      var parsed = tab.getYasr() && tab.getYasr().results;
      var response = parsed && parsed.res;  // the HTTP response (superagent's)
      var truncated = !!(response && response.header &&
        response.header["x-results-truncated"] === "true");
      if (!note) return;
      note.textContent = truncated
        ? "Truncated: the answer holds the first " + config.maxRows +
          " rows only (the endpoint's limit); narrow the query or add LIMIT/OFFSET."
        : "";
      note.hidden = !truncated;
    }
    // YASGUI tells of an answer before it hands it to the result view: look just after
    yasgui.on("queryResponse", function (_yasgui, tab) {
      window.setTimeout(function () { showTruncation(tab); }, 0);
    });

    if (form) form.hidden = true;
    if (results) results.hidden = true;
    holder.hidden = false;
    document.body.classList.add("with-yasgui");
    if (config.run) yasgui.getTab().query().catch(function () {});
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
