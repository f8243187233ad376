// Overview: each subsystem's health, the system, the network, the weather.
// Info's parts are fetched only when this daemon serves them.
import * as api from "../api.js";
import { badge, bytes, dash, duration, fill, h, time } from "../dom.js";

const SLOW_MS = 60_000; // network and weather change slowly
let boxes = null;
let slowAt = 0;

const healthKind = (v) => (v === "ok" ? "good" : /not available/.test(v) ? "muted" : "bad");

function pairs(rows) {
  return h("dl.pairs", rows.filter(Boolean).map(([k, v]) => [h("dt", k), h("dd", v)]));
}

function voltage(v) {
  if (v === "ok") return badge("ok", "good");
  if (v === undefined || v === null || v === "unsupported") return badge("unsupported", "muted");
  return badge(String(v), "bad");
}

function system(s) {
  const mem = s.memory || {};
  const used = mem.total_bytes - mem.available_bytes;
  const disk = s.disk || {};
  return pairs([
    ["Host", `${dash(s.hostname)}${s.model ? ` (${s.model})` : ""}`],
    ["OS", `${dash(s.os)} · kernel ${dash(s.kernel)}`],
    ["Uptime", duration(s.uptime_s)],
    ["CPU", s.cpu_percent === null || s.cpu_percent === undefined ? "—" : `${s.cpu_percent.toFixed(1)} %`],
    ["Load", (s.load || []).map((x) => x.toFixed(2)).join(" · ")],
    ["Memory", `${bytes(used)} of ${bytes(mem.total_bytes)} used`],
    ["Disk", `${bytes(disk.free_bytes)} free of ${bytes(disk.total_bytes)} (${dash(disk.path)})`],
    ["SoC temperature", s.cpu_temp_c === null || s.cpu_temp_c === undefined ? "unsupported" : `${s.cpu_temp_c.toFixed(1)} °C`],
    ["CPU frequency", s.cpu_freq_hz ? `${(s.cpu_freq_hz / 1e6).toFixed(0)} MHz` : "unsupported"],
    ["Under-voltage", voltage(s.under_voltage)],
    s.daemon && ["pistack", `v${s.daemon.version} · pid ${s.daemon.pid} · ${bytes(s.daemon.rss_bytes)} RSS · ${s.daemon.threads} threads`],
  ]);
}

function network(n) {
  const rows = (n.interfaces || []).map((i) => [
    i.name,
    badge(i.up ? "up" : "down", i.up ? "good" : "muted"),
    [...(i.ipv4 || []), ...(i.ipv6 || [])].join(" "),
    dash(i.mac),
    `${bytes(i.rx_bytes)} / ${bytes(i.tx_bytes)}`,
  ]);
  return h(
    "div.scroll",
    { tabindex: "0" },
    h(
      "table",
      h("caption.sr", "Network interfaces"),
      h("thead", h("tr", ["Interface", "Link", "Addresses", "MAC", "rx / tx"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", rows.map((r) => h("tr", r.map((c) => h("td", c))))),
    ),
  );
}

function weather(w) {
  return [
    h("p.big", `${w.temperature_c?.toFixed?.(1) ?? "—"} °C`, h("span.sub", ` ${dash(w.description)}`)),
    pairs([
      ["Place", dash(w.location?.name)],
      ["Wind", w.wind_speed_kmh === null || w.wind_speed_kmh === undefined ? "—" : `${w.wind_speed_kmh} km/h`],
      ["Observed", dash(w.observed_at)],
      ["Fetched", `${time(w.fetched_at)}${w.cached ? " (cached)" : ""}`],
    ]),
    h("p.hint", `${w.attribution || "Weather data by Open-Meteo.com (CC BY 4.0)"} · `, h("a", { href: "https://open-meteo.com/", rel: "noreferrer" }, "open-meteo.com")),
  ];
}

function card(title, id, wide = false) {
  const body = h("div", { id });
  return [h(wide ? "article.card.wide" : "article.card", h("h3", title), body), body];
}

export default {
  id: "overview",
  title: "Overview",
  interval: 10_000,
  mount(root) {
    const [c1, health] = card("Health", "ov-health");
    const [c2, sys] = card("System", "ov-system");
    const [c3, net] = card("Network", "ov-network", true);
    const [c4, wx] = card("Weather", "ov-weather");
    root.append(h("div.cards", c1, c2, c4, c3));
    boxes = { health, sys, net, wx };
    slowAt = 0;
    const absent = "Not in this version of pistack.";
    if (!api.has("GET /api/info/system")) fill(sys, h("p.absent", absent));
    if (!api.has("GET /api/info/network")) fill(net, h("p.absent", absent));
    // The weather route exists only when info.weather is configured.
    if (!api.has("GET /api/info/weather")) fill(wx, h("p.absent", "No weather location is configured."));
  },
  unmount() {
    boxes = null;
  },
  async refresh() {
    const hl = await api.api("GET", "/api/health", undefined, { auth: false });
    api.setHealth(hl);
    fill(
      boxes.health,
      h("p", badge(hl.status, hl.status === "ok" ? "good" : "bad"), ` v${hl.version}, up ${duration(hl.uptime_s)}`),
      h("ul.plain", Object.entries(hl.subsystems || {}).map(([k, v]) => h("li", badge(k, healthKind(v)), " ", v))),
    );
    if (api.has("GET /api/info/system")) fill(boxes.sys, system(await api.api("GET", "/api/info/system")));
    if (Date.now() - slowAt < SLOW_MS) return;
    slowAt = Date.now();
    if (api.has("GET /api/info/network")) fill(boxes.net, network(await api.api("GET", "/api/info/network")));
    if (api.has("GET /api/info/weather")) {
      try {
        fill(boxes.wx, weather(await api.api("GET", "/api/info/weather")));
      } catch (e) {
        fill(boxes.wx, h("p.absent", `Weather unavailable: ${e.message}`));
      }
    }
  },
};
