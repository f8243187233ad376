// GPIO: every configured pin with its live value; toggle / set / pulse for
// outputs (Admin+); the recent edges of inputs. With the sim backend an Admin
// can also play the button on an input.
import * as api from "../api.js";
import { badge, fill, h, say, time } from "../dom.js";

const enc = encodeURIComponent;
let root = null;
let rows = new Map(); // pin name -> { value, cells }
let layout = "";
let edges = null;
let recent = []; // the last 20 edges, oldest first
let seen = 0; // the highest edge seq fetched

function build(pins) {
  const admin = api.isAdmin();
  const sim = admin && api.has("PUT /api/io/sim/gpio/{name}");
  rows = new Map();
  const body = h("tbody");
  for (const p of pins) {
    const value = h("td");
    const act = h("td.actions");
    if (admin && p.direction === "out") {
      const ms = h("input.ms", { type: "number", min: "1", max: "10000", value: "200", "aria-label": `pulse length of ${p.name} in ms` });
      act.append(
        h("button.small", { type: "button", "data-act": "toggle", "data-pin": p.name, "aria-label": `toggle ${p.name}` }, "toggle"),
        h("button.small.ghost", { type: "button", "data-act": "set0", "data-pin": p.name, "aria-label": `set ${p.name} to 0` }, "0"),
        h("button.small.ghost", { type: "button", "data-act": "set1", "data-pin": p.name, "aria-label": `set ${p.name} to 1` }, "1"),
        h("button.small", { type: "button", "data-act": "pulse", "data-pin": p.name, "aria-label": `pulse ${p.name}` }, "pulse"),
        ms,
        " ms",
      );
    } else if (sim && p.direction === "in") {
      act.append(
        h("span.hint", "sim level "),
        h("button.small.ghost", { type: "button", "data-act": "sim0", "data-pin": p.name, "aria-label": `sim: set ${p.name} to 0` }, "0"),
        h("button.small.ghost", { type: "button", "data-act": "sim1", "data-pin": p.name, "aria-label": `sim: set ${p.name} to 1` }, "1"),
      );
    }
    const tr = h(
      "tr",
      { "data-pin": p.name },
      h("td", h("strong", p.name)),
      h("td", `${p.chip}:${p.line}`),
      h("td", p.direction),
      h("td", p.edge),
      h("td", p.active_low ? "yes" : "no"),
      value,
      admin ? act : null,
    );
    rows.set(p.name, { value, tr });
    body.append(tr);
  }
  const cols = ["Pin", "Chip:line", "Direction", "Edge", "Active low", "Value"];
  if (admin) cols.push("Actions");
  fill(
    root.querySelector(".pins"),
    h("div.scroll", { tabindex: "0" }, h("table", h("caption.sr", "GPIO pins"), h("thead", h("tr", cols.map((c) => h("th", { scope: "col" }, c)))), body)),
  );
}

function show(p) {
  const r = rows.get(p.name);
  if (r) fill(r.value, badge(String(p.value), p.value ? "on" : "off"));
}

async function refresh() {
  const pins = await api.api("GET", "/api/io/gpio");
  const shape = pins.map((p) => `${p.name}/${p.direction}`).join(",");
  if (shape !== layout) {
    layout = shape;
    build(pins);
  }
  pins.forEach(show);
  const fresh = await api.api("GET", `/api/io/gpio/events?after=${seen}&limit=100`);
  if (fresh.length) seen = fresh[fresh.length - 1].seq;
  recent = [...recent, ...fresh].slice(-20);
  fill(
    edges,
    recent.length
      ? [...recent].reverse().map((e) => h("li", h("time", time(e.time)), " ", h("strong", e.pin), ` ${e.edge} → ${e.value}`))
      : h("li.hint", "No edges yet."),
  );
}

const view = {
  id: "gpio",
  title: "GPIO",
  interval: 2000,
  mount(el) {
    root = el;
    layout = "";
    recent = [];
    seen = 0;
    edges = h("ol.plain.edges", { "aria-live": "polite" });
    el.append(h("div.pins"), h("h3", "Recent edges"), edges);
    el.addEventListener("click", async (ev) => {
      const b = ev.target.closest("button[data-act]");
      if (!b) return;
      const name = b.dataset.pin;
      const path = `/api/io/gpio/${enc(name)}`;
      const calls = {
        toggle: () => api.api("POST", `${path}/toggle`),
        set0: () => api.api("PUT", path, { value: 0 }),
        set1: () => api.api("PUT", path, { value: 1 }),
        pulse: () => api.api("POST", `${path}/pulse`, { ms: Number(b.parentElement.querySelector("input.ms").value), value: 1 }),
        sim0: () => api.api("PUT", `/api/io/sim/gpio/${enc(name)}`, { level: 0 }),
        sim1: () => api.api("PUT", `/api/io/sim/gpio/${enc(name)}`, { level: 1 }),
      };
      b.disabled = true;
      try {
        show(await calls[b.dataset.act]());
        say(view.status, "");
        await refresh();
      } catch (e) {
        say(view.status, `${name}: ${api.explain(e)}`);
      } finally {
        b.disabled = false;
      }
    });
  },
  unmount() {
    root = null;
  },
  refresh,
};

export default view;

