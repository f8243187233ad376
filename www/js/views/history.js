// History: sparklines of the daemon's in-memory ring (GET /api/info/history).
import * as api from "../api.js";
import { bytes, fill, h, sparkline, time } from "../dom.js";

let box = null;

const last = (xs) => [...xs].reverse().find((x) => typeof x === "number");

function series(title, values, show) {
  const nums = values.filter((v) => typeof v === "number");
  const now = last(values);
  const summary = nums.length
    ? `now ${show(now)} · min ${show(Math.min(...nums))} · max ${show(Math.max(...nums))}`
    : "no samples (unsupported here, or none yet)";
  return h("article.card", h("h3", title), sparkline(values, `${title}: ${summary}`), h("p.hint", summary));
}

export default {
  id: "history",
  title: "History",
  needs: "GET /api/info/history",
  interval: 60_000,
  mount(root) {
    box = h("div");
    root.append(box);
  },
  unmount() {
    box = null;
  },
  async refresh() {
    const s = await api.api("GET", "/api/info/history");
    const t = s.time || [];
    const span = t.length ? `${time(t[0])} to ${time(t[t.length - 1])}` : "no samples yet";
    const pct = (x) => `${x.toFixed(1)} %`;
    fill(
      box,
      h("p.hint", `${t.length} samples, one every ${s.interval_s} s (${span}); the ring holds ${s.capacity} in ${bytes(s.ring_bytes)}.`),
      h(
        "div.cards",
        series("CPU", s.cpu_percent || [], pct),
        series("Memory used", s.memory_used_bytes || [], bytes),
        series("SoC temperature", s.temp_c || [], (x) => `${x.toFixed(1)} °C`),
        series("Requests per minute", s.requests_per_min || [], (x) => x.toFixed(0)),
      ),
    );
  },
};
