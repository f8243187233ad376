// /api/docs: the OpenAPI document rendered as a list of operations, with
// "try it" for GETs, using the dashboard's token from this tab's sessionStorage.
import { api, explain, loggedIn, user } from "./api.js";
import { $, fill, h } from "./dom.js";

const enc = encodeURIComponent;

function tryIt(path, op) {
  const params = (op.parameters || []).filter((p) => p.in === "path");
  const inputs = params.map((p) => h("input", { name: p.name, required: true, "aria-label": `${p.name} (path parameter)`, placeholder: p.name }));
  const query = h("input", { name: "query", placeholder: "query, e.g. limit=10", "aria-label": "query string" });
  const out = h("pre.log", { tabindex: "0", role: "region", "aria-label": "answer", hidden: true });
  const form = h("form.toolbar", inputs, query, h("button.small", { type: "submit" }, "try it"), out);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    let url = path;
    params.forEach((p, i) => (url = url.replace(`{${p.name}}`, enc(inputs[i].value))));
    if (query.value) url += `?${query.value.replace(/^\?/, "")}`;
    out.hidden = false;
    try {
      const text = await api("GET", url, undefined, { text: true, auth: op.security?.length !== 0 });
      let shown = text;
      try {
        shown = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        /* not JSON: shown as is */
      }
      out.textContent = `GET ${url} → 200\n\n${shown}`;
    } catch (e) {
      out.textContent = `GET ${url} → ${e.status ?? "no answer"}\n\n${explain(e)}`;
    }
  });
  return form;
}

function operation(path, method, op) {
  const level = op["x-level"] || (op.security?.length === 0 ? "public" : "token");
  const params = (op.parameters || []).map((p) => h("li", h("code", p.name), ` in ${p.in}${p.required ? ", required" : ""}, ${p.schema?.type || "any"}`));
  const responses = Object.entries(op.responses || {}).map(([code, r]) => h("li", h("code", code), ` ${r.description || ""}`));
  return h(
    "details.op",
    { "data-search": `${method} ${path} ${op.summary || ""}`.toLowerCase() },
    h("summary", h(`span.method.m-${method}`, method.toUpperCase()), " ", h("code", path), " ", h("span.sub", `${op.summary || ""} · ${level}`)),
    params.length ? [h("h3", "Parameters"), h("ul", params)] : null,
    responses.length ? [h("h3", "Responses"), h("ul", responses)] : null,
    method === "get" ? tryIt(path, op) : null,
  );
}

function schemas(doc) {
  const all = doc.components?.schemas || {};
  const names = Object.keys(all);
  if (!names.length) return null;
  return [h("h2", "Schemas"), names.map((n) => h("details.op", h("summary", h("code", n)), h("pre.log", { tabindex: "0" }, JSON.stringify(all[n], null, 2))))];
}

async function start() {
  const who = $("#who");
  who.textContent = loggedIn() ? `"try it" sends the token of ${user()?.name} (${user()?.level}).` : "Log in on the dashboard (in this tab) for \"try it\" on routes that need a token.";
  try {
    const doc = await api("GET", "/api/openapi.json", undefined, { auth: false });
    $("#version").textContent = `v${doc.info?.version}`;
    const groups = new Map();
    for (const [path, ops] of Object.entries(doc.paths || {})) {
      for (const [method, op] of Object.entries(ops)) {
        const tag = op.tags?.[0] || "other";
        if (!groups.has(tag)) groups.set(tag, []);
        groups.get(tag).push(operation(path, method, op));
      }
    }
    fill($("#ops"), [...groups].map(([tag, ops]) => h("section", h("h2", tag || "daemon"), ops)), schemas(doc));
  } catch (e) {
    fill($("#ops"), h("p.error", `Cannot read /api/openapi.json: ${explain(e)}`));
  }
  $("#filter").addEventListener("input", (ev) => {
    const q = ev.target.value.toLowerCase();
    for (const d of document.querySelectorAll("details.op[data-search]")) d.hidden = !!q && !d.dataset.search.includes(q);
  });
}

start();
