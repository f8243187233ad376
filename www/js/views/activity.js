// Activity (Admin+): the audit trail — who did what and when (GET /api/audit).
import * as api from "../api.js";
import { badge, fill, h, table, time } from "../dom.js";

const KEEP = 1000;
let entries = [];
let seen = 0;
let box = null;
let filter = null;

function show() {
  const q = filter.value.toLowerCase();
  const rows = entries
    .filter((e) => !q || `${e.user} ${e.address} ${e.action} ${e.target} ${e.detail}`.toLowerCase().includes(q))
    .slice(0, 300)
    .map((e) => [time(e.time), e.user || "—", e.action, e.target || "—", badge(e.ok ? "ok" : "failed", e.ok ? "good" : "bad"), e.detail || "", e.address || "—"]);
  fill(box, rows.length ? table("Audit trail", ["When", "Who", "What", "On", "Result", "Detail", "From"], rows) : h("p.hint", "Nothing recorded yet."));
}

export default {
  id: "activity",
  title: "Activity",
  admin: true,
  needs: "GET /api/audit",
  interval: 10_000,
  mount(root) {
    entries = [];
    seen = 0;
    filter = h("input", { type: "search", id: "activity-filter", placeholder: "filter" });
    filter.addEventListener("input", show);
    box = h("div");
    root.append(h("div.toolbar", h("label.inline", "Find ", filter)), box);
  },
  unmount() {
    box = null;
  },
  async refresh() {
    for (;;) {
      const fresh = await api.api("GET", `/api/audit?after=${seen}&limit=1000`);
      if (!fresh.length) break;
      seen = fresh[fresh.length - 1].seq;
      entries = [...fresh.reverse(), ...entries].slice(0, KEEP);
      if (fresh.length < 1000) break;
    }
    show();
  },
};
