// Events: one timeline of process transitions, GPIO edges, rule firings and mail
// results, newest first, filterable by kind and text. Each source is read
// incrementally (?after=SEQ); the page keeps the last KEEP of them.
import * as api from "../api.js";
import { badge, fill, h, time } from "../dom.js";

const KEEP = 500;
const KINDS = ["process", "gpio", "rule", "mail"];
let items = [];
let after = { process: 0, gpio: 0 };
let mailSeen = new Set();
let list = null;
let checks = {};
let text = null;

function processItem(e) {
  if (!/^PROCESS_STATE/.test(e.kind || "PROCESS_STATE")) {
    const what = [e.rule ?? e.name, e.message ?? e.error].filter(Boolean).join(": ");
    return { kind: "rule", time: e.time, key: `s${e.seq}`, text: `${e.kind} ${what}` };
  }
  const extra = [e.pid ? `pid ${e.pid}` : "", e.exit_status !== null && e.exit_status !== undefined ? `exit ${e.exit_status}` : "", e.message || ""];
  return { kind: "process", time: e.time, key: `s${e.seq}`, text: `${e.name}: ${e.from} → ${e.to} ${extra.filter(Boolean).join(" · ")}` };
}

function mailItems(outbox) {
  const out = [];
  for (const m of outbox) {
    if (m.status === "queued") continue;
    const key = `m${m.id}:${m.status}:${m.attempts}`;
    if (mailSeen.has(key)) continue;
    mailSeen.add(key);
    const to = Array.isArray(m.to) ? m.to.join(", ") : m.to;
    const why = m.status === "failed" ? ` (${m.last_error || "no reason given"})` : "";
    out.push({ kind: "mail", time: m.sent_at || m.created_at, key, text: `${m.status}: "${m.subject}" to ${to}${why}` });
  }
  return out;
}

function show() {
  const on = new Set(KINDS.filter((k) => checks[k]?.checked));
  const q = text.value.toLowerCase();
  const shown = items.filter((i) => on.has(i.kind) && (!q || i.text.toLowerCase().includes(q)));
  fill(
    list,
    shown.length
      ? shown.slice(0, 200).map((i) => h("li", h("time", time(i.time)), " ", badge(i.kind, `k-${i.kind}`), " ", i.text))
      : h("li.hint", items.length ? "Nothing matches the filter." : "No events yet."),
  );
}

export default {
  id: "events",
  title: "Events",
  interval: 5000,
  mount(root) {
    items = [];
    after = { process: 0, gpio: 0, rule: 0 };
    mailSeen = new Set();
    checks = {};
    const boxes = KINDS.map((k) => {
      checks[k] = h("input", { type: "checkbox", checked: true, "data-kind": k });
      checks[k].addEventListener("change", show);
      return h("label.inline", checks[k], ` ${k}`);
    });
    text = h("input", { type: "search", id: "events-filter", placeholder: "filter" });
    text.addEventListener("input", show);
    const absent = [];
    if (!api.has("GET /api/rules/events")) absent.push("rule firings (no rules in this version)");
    if (!api.has("GET /api/email/outbox")) absent.push("mail results (no e-mail in this version)");
    else if (!api.isAdmin()) absent.push("mail results (Admin+)");
    list = h("ol.plain.timeline", { "aria-live": "polite" });
    root.append(
      h("div.toolbar", h("fieldset.inline", h("legend.sr", "Show"), boxes), h("label.inline", "Find ", text)),
      absent.length ? h("p.hint", `Not shown here: ${absent.join("; ")}.`) : null,
      list,
    );
  },
  unmount() {
    list = null;
  },
  async refresh() {
    const fresh = [];
    const procs = await api.api("GET", `/api/supervisor/events?after=${after.process}&limit=1000`);
    if (procs.length) after.process = procs[procs.length - 1].seq;
    fresh.push(...procs.map(processItem));
    const edges = await api.api("GET", `/api/io/gpio/events?after=${after.gpio}&limit=1000`);
    if (edges.length) after.gpio = edges[edges.length - 1].seq;
    fresh.push(...edges.map((e) => ({ kind: "gpio", time: e.time, key: `g${e.seq}`, text: `${e.pin}: ${e.edge} → ${e.value}` })));
    if (api.has("GET /api/rules/events")) {
      const fired = await api.api("GET", `/api/rules/events?after=${after.rule}&limit=500`);
      if (fired.length) after.rule = fired[fired.length - 1].seq;
      fresh.push(...fired.map((e) => ({ kind: "rule", time: e.time, key: `r${e.seq}`, text: `${e.rule}: ${e.outcome}${e.error ? ` (${e.error})` : ""}` })));
    }
    if (api.has("GET /api/email/outbox") && api.isAdmin()) fresh.push(...mailItems(await api.api("GET", "/api/email/outbox")));
    items = [...fresh.reverse(), ...items].sort((a, b) => b.time - a.time).slice(0, KEEP);
    show();
  },
};
