// Rules: each rule with its trigger, last firing, counts and last error
// (GET /api/rules, when the daemon has rules).
import * as api from "../api.js";
import { dash, fill, h, table, time } from "../dom.js";

let box = null;

/** A trigger in words: `process X to FATAL (3 times within 60 s)`. */
function trigger(w) {
  if (!w || typeof w !== "object") return dash(w);
  const parts = [];
  if (w.process) parts.push(`process ${w.process}${w.from ? ` from ${w.from}` : ""}${w.to ? ` to ${w.to}` : ""}${w.unexpected ? " (unexpected)" : ""}`);
  if (w.gpio) parts.push(`gpio ${w.gpio}${w.edge ? ` ${w.edge}` : ""}`);
  if (w.count) parts.push(`${w.count} times within ${w.within_s} s`);
  return parts.length ? parts.join(", ") : JSON.stringify(w);
}

export default {
  id: "rules",
  title: "Rules",
  needs: "GET /api/rules",
  interval: 10_000,
  mount(root) {
    box = h("div");
    root.append(box);
  },
  unmount() {
    box = null;
  },
  async refresh() {
    const rules = await api.api("GET", "/api/rules");
    const rows = rules.map((r, i) => [
      dash(r.name ?? i),
      trigger(r.when),
      (r.then || []).map((a) => (typeof a === "object" ? Object.keys(a)[0] : String(a))).join(", ") || "—",
      time(r.last_fired),
      dash(r.fired),
      dash(r.failed_actions),
      dash(r.last_error),
    ]);
    fill(box, rows.length ? table("Rules", ["Rule", "Trigger", "Then", "Last firing", "Fired", "Failed", "Last error"], rows) : h("p.hint", "No rules are configured."));
  },
};
