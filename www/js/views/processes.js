// Processes: every program by group with its state; start / stop / restart per
// program and per group (Admin+), and a log viewer (Admin+, as the API is).
// Rows are kept and updated in place, so a poll never steals the keyboard focus.
import * as api from "../api.js";
import { badge, dash, duration, fill, h, say } from "../dom.js";

const STATE_KIND = {
  RUNNING: "good",
  STARTING: "warn",
  STOPPING: "warn",
  BACKOFF: "warn",
  STOPPED: "muted",
  EXITED: "muted",
  FATAL: "bad",
  UNKNOWN: "bad",
};
const FOLLOW_MS = 2000;
const enc = encodeURIComponent;

let root = null;
let rows = new Map(); // program name -> { tr, cells, buttons }
let groups = new Map(); // group name -> { buttons, progress }
let layout = "";
const busy = new Map(); // "p:name" / "g:group" -> what is being done
let log = null; // the log viewer's elements and state

function actionButtons(kind, target) {
  const label = kind === "g" ? `group ${target}` : target;
  return ["start", "stop", "restart"].map((what) =>
    h("button.small", { type: "button", "data-act": what, "data-kind": kind, "data-target": target, "aria-label": `${what} ${label}` }, what),
  );
}

function build(list) {
  const admin = api.isAdmin();
  const cols = ["Program", "State", "PID", "Uptime", "Restarts", "Exit", "Message"];
  if (admin) cols.push("Actions");
  rows = new Map();
  groups = new Map();
  const body = h("tbody");
  const byGroup = new Map();
  for (const p of list) {
    if (!byGroup.has(p.group)) byGroup.set(p.group, []);
    byGroup.get(p.group).push(p);
  }
  for (const [group, members] of byGroup) {
    const gb = admin ? actionButtons("g", group) : [];
    const gprog = h("span.progress", { hidden: true }, h("progress", { "aria-label": `working on group ${group}` }), " working…");
    groups.set(group, { buttons: gb, progress: gprog });
    body.append(
      h(
        "tr.group",
        h("th", { scope: "rowgroup", colspan: String(admin ? cols.length - 1 : cols.length) }, h("span.gname", `group ${group}`), gprog),
        admin ? h("td.actions", gb) : null,
      ),
    );
    for (const p of members) {
      const cells = {
        name: h("td.name"),
        state: h("td"),
        pid: h("td.num", { "data-label": "pid" }),
        uptime: h("td.num", { "data-label": "up" }),
        restarts: h("td.num", { "data-label": "restarts" }),
        exit: h("td.num", { "data-label": "exit" }),
        message: h("td.message"),
      };
      const buttons = admin ? actionButtons("p", p.name) : [];
      if (admin) {
        buttons.push(h("button.small.ghost", { type: "button", "data-act": "log", "data-target": p.name, "aria-label": `log of ${p.name}` }, "log"));
      }
      const tr = h("tr", { "data-name": p.name }, Object.values(cells), admin ? h("td.actions", buttons) : null);
      rows.set(p.name, { tr, cells, buttons });
      body.append(tr);
    }
  }
  const t = h("table.procs", h("caption.sr", "Programs by group"), h("thead", h("tr", cols.map((c) => h("th", { scope: "col" }, c)))), body);
  fill(root.querySelector(".procs-box"), h("div.scroll", { tabindex: "0" }, t));
  if (admin) {
    buildLog(list);
    loadLog();
  }
}

function update(p) {
  const r = rows.get(p.name);
  const c = r.cells;
  fill(c.name, h("strong", p.name), h("div.sub", p.description || ""));
  const work = busy.get(`p:${p.name}`);
  fill(
    c.state,
    badge(p.state, STATE_KIND[p.state] || "muted"),
    work ? h("span.progress", " ", h("progress", { "aria-label": `${work} ${p.name}` }), ` ${work}…`) : null,
  );
  c.pid.textContent = dash(p.pid);
  c.uptime.textContent = duration(p.uptime_s);
  c.restarts.textContent = String(p.restarts);
  c.exit.textContent = dash(p.exit_status);
  c.message.textContent = p.message || "";
  const gwork = busy.get(`g:${p.group}`);
  for (const b of r.buttons) {
    if (b.dataset.act === "log") continue;
    const running = ["RUNNING", "STARTING", "BACKOFF"].includes(p.state);
    b.disabled = !!work || !!gwork || (b.dataset.act === "start" && running) || (b.dataset.act === "stop" && !running);
  }
}

function updateGroups() {
  for (const [group, g] of groups) {
    const work = busy.get(`g:${group}`);
    g.progress.hidden = !work;
    for (const b of g.buttons) b.disabled = !!work;
  }
}

async function refresh() {
  const list = await api.api("GET", "/api/supervisor/processes");
  const shape = list.map((p) => `${p.group}/${p.name}`).join(",");
  if (shape !== layout) {
    layout = shape;
    build(list);
  }
  for (const p of list) update(p);
  updateGroups();
}

const view = {
  id: "processes",
  title: "Processes",
  interval: 3000,
  mount(el) {
    root = el;
    layout = "";
    el.append(h("div.procs-box"));
    el.addEventListener("click", (ev) => {
      const b = ev.target.closest("button[data-act]");
      if (!b) return;
      if (b.dataset.act === "log") return openLog(b.dataset.target);
      view.act(b.dataset.act, b.dataset.target, b.dataset.kind === "g");
    });
  },
  unmount() {
    root = null;
    stopFollow();
    log = null;
  },
  refresh,
  /** Start, stop or restart a program (or a group); the answer comes once it is done. */
  async act(what, target, group = false) {
    const key = `${group ? "g" : "p"}:${target}`;
    const path = group ? `/api/supervisor/groups/${enc(target)}/${what}` : `/api/supervisor/processes/${enc(target)}/${what}`;
    busy.set(key, { start: "starting", stop: "stopping", restart: "restarting" }[what] || what);
    say(view.status, "");
    const poll = setInterval(() => root && refresh().catch(() => {}), 1000);
    try {
      if (root) await refresh();
      const r = await api.api("POST", path);
      const failed = (Array.isArray(r) ? r : [r]).filter((p) => ["BACKOFF", "FATAL"].includes(p.state));
      say(view.status, failed.length ? failed.map((p) => `${p.name}: ${p.state} ${p.message}`).join("; ") : `${group ? "group " : ""}${target}: ${what} done`, !failed.length);
    } catch (e) {
      say(view.status, `${what} ${target}: ${api.explain(e)}`);
    } finally {
      clearInterval(poll);
      busy.delete(key);
      if (root) await refresh().catch(() => {});
    }
  },
};

// ---- the log viewer -------------------------------------------------------

function buildLog(list) {
  const keep = log?.program.value;
  stopFollow();
  const opt = (v, t = v) => h("option", { value: v }, t);
  const program = h("select", { id: "log-program" }, list.map((p) => opt(p.name)));
  if (keep) program.value = keep;
  const stream = h("select", { id: "log-stream" }, opt("stdout"), opt("stderr"));
  const size = h("select", { id: "log-bytes" }, opt("4096", "4 KiB"), opt("16384", "16 KiB"), opt("65536", "64 KiB"), opt("1048576", "1 MiB"));
  size.value = "16384";
  const follow = h("input", { type: "checkbox", id: "log-follow" });
  const search = h("input", { type: "search", id: "log-search", placeholder: "search" });
  const download = h("button.small", { type: "button", id: "log-download" }, "download");
  const info = h("span.hint", { id: "log-info", role: "status" });
  const text = h("pre.log", { id: "log-text", tabindex: "0", role: "region", "aria-label": "log text" });
  log = { program, stream, size, follow, search, info, text, body: "", timer: 0 };
  const lbl = (t, el) => h("label.inline", t, " ", el);
  fill(
    root.querySelector(".log-box") || root.appendChild(h("div.log-box")),
    h("h3", "Log"),
    h("div.toolbar", lbl("Program", program), lbl("Stream", stream), lbl("Last", size), h("label.inline", follow, " follow"), lbl("Find", search), download, info),
    text,
  );
  for (const el of [program, stream, size]) el.addEventListener("change", () => loadLog());
  search.addEventListener("input", () => showLog());
  follow.addEventListener("change", () => (follow.checked ? loadLog() : stopFollow()));
  download.addEventListener("click", () => {
    const a = h("a", { href: URL.createObjectURL(new Blob([log.body], { type: "text/plain" })), download: `${program.value}.${stream.value}.log` });
    document.body.append(a);
    a.click();
    setTimeout(() => (URL.revokeObjectURL(a.href), a.remove()), 0);
  });
}

function stopFollow() {
  if (log) clearTimeout(log.timer);
}

function openLog(name) {
  log.program.value = name;
  loadLog();
  log.text.focus();
}

async function loadLog() {
  if (!log) return;
  stopFollow();
  const l = log;
  try {
    const q = `stream=${l.stream.value}&bytes=${l.size.value}`;
    l.body = await api.api("GET", `/api/supervisor/processes/${enc(l.program.value)}/log?${q}`, undefined, { text: true });
    showLog();
  } catch (e) {
    say(l.info, api.explain(e));
  }
  if (l === log && l.follow.checked) {
    l.timer = setTimeout(function again() {
      if (document.hidden) l.timer = setTimeout(again, FOLLOW_MS);
      else loadLog();
    }, FOLLOW_MS);
  }
}

function showLog() {
  const { body, text, search, info, follow } = log;
  const term = search.value;
  const n = new TextEncoder().encode(body).length;
  if (!term) {
    text.textContent = body;
    say(info, `${n} bytes`, true);
  } else {
    const parts = body.split(term);
    text.replaceChildren();
    parts.forEach((part, i) => {
      if (i) text.append(h("mark", term));
      text.append(part);
    });
    say(info, `${n} bytes · ${parts.length - 1} matches for "${term}"`, true);
    text.querySelector("mark")?.scrollIntoView({ block: "nearest" });
  }
  if (follow.checked) text.scrollTop = text.scrollHeight;
}

export default view;
