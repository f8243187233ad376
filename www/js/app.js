// The dashboard's shell: log in, the navigation, one view at a time, and the
// polling of that view (paused while the tab is hidden, so an idle tab in the
// background costs the daemon nothing).
import * as api from "./api.js";
import { $, fill, h, say } from "./dom.js";
import overview from "./views/overview.js";
import history from "./views/history.js";
import processes from "./views/processes.js";
import gpio from "./views/gpio.js";
import events from "./views/events.js";
import rules from "./views/rules.js";
import email from "./views/email.js";
import users from "./views/users.js";
import activity from "./views/activity.js";

const VIEWS = [overview, history, processes, gpio, events, rules, email, users, activity];
const HEALTH_MS = 30_000;
const sections = new Map(); // view id -> section element (mounted once per login)
let current = null;
let pollTimer = 0;
let healthTimer = 0;

function notice(text) {
  const el = $("#notice");
  el.textContent = text;
  el.hidden = !text;
}

function showHealth(hl) {
  const el = $("#health");
  el.textContent = `${hl.status} · v${hl.version}`;
  el.classList.toggle("bad", hl.status !== "ok");
  el.title = Object.entries(hl.subsystems || {})
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n");
}

async function pollHealth() {
  clearTimeout(healthTimer);
  if (document.hidden) return;
  try {
    const hl = await api.api("GET", "/api/health", undefined, { auth: false });
    api.setHealth(hl);
    showHealth(hl);
  } catch {
    $("#health").textContent = "unreachable";
    $("#health").classList.add("bad");
  }
  healthTimer = setTimeout(pollHealth, HEALTH_MS);
}

/** Why `view` cannot be shown to this user on this daemon, or null. */
function blocked(view) {
  if (view.admin && !api.isAdmin()) return `${view.title} needs level Admin or Root; you are ${api.user()?.level}.`;
  if (view.needs && !api.has(view.needs)) {
    return `Not in this version of pistack: this daemon has no ${view.needs.split(" ")[1]}.`;
  }
  return null;
}

function navigation() {
  const list = $("#nav-list");
  fill(
    list,
    VIEWS.filter((v) => !v.admin || api.isAdmin()).map((v) =>
      h("li", h("a", { href: `#${v.id}`, "data-view": v.id }, v.title)),
    ),
    h("li", h("a", { href: "/api/docs" }, "API docs")),
  );
}

async function tick() {
  clearTimeout(pollTimer);
  const view = current;
  if (!view || document.hidden || !api.loggedIn()) return;
  try {
    await view.refresh();
    // Clear only what a failed poll said; an action's result stays until the next action.
    if (view.pollFailed) say(view.status, "");
    view.pollFailed = false;
  } catch (e) {
    say(view.status, api.explain(e));
    view.pollFailed = true;
  }
  if (view === current && view.interval) pollTimer = setTimeout(tick, view.interval);
}

function route(ev) {
  if (!api.loggedIn()) return;
  const id = location.hash.slice(1) || "overview";
  const view = VIEWS.find((v) => v.id === id) || overview;
  current = view;
  for (const a of document.querySelectorAll("#nav-list a[data-view]")) {
    if (a.dataset.view === view.id) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  for (const [vid, s] of sections) s.hidden = vid !== view.id;
  let section = sections.get(view.id);
  if (!section) {
    section = h("section.view", { id: `view-${view.id}`, "aria-labelledby": `title-${view.id}` });
    section.append(h("h2", { id: `title-${view.id}`, tabindex: "-1" }, view.title));
    $("#views").append(section);
    sections.set(view.id, section);
    const why = blocked(view);
    if (why) {
      section.append(h("p.absent", why));
    } else {
      view.status = h("p.status", { role: "status" });
      section.append(view.status);
      view.mount(section);
    }
  }
  document.title = `${view.title} · pistack`;
  // Keyboard and screen-reader users land on the view they chose.
  if (ev?.type === "hashchange") section.querySelector("h2").focus({ preventScroll: true });
  if (!blocked(view)) tick();
  else clearTimeout(pollTimer);
}

function showLogin(message) {
  clearTimeout(pollTimer);
  current = null;
  for (const s of sections.values()) s.remove();
  sections.clear();
  for (const v of VIEWS) v.unmount?.();
  $("#nav").hidden = true;
  $("#me").hidden = true;
  $("#login").hidden = false;
  say($("#login-error"), message || "");
  document.title = "pistack";
}

function showApp() {
  const me = api.user();
  $("#login").hidden = true;
  $("#me").hidden = false;
  $("#me-name").textContent = me?.name ?? "";
  $("#me-level").textContent = me?.level ?? "";
  navigation();
  $("#nav").hidden = false;
  notice("");
  route();
}

$("#login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const button = ev.target.querySelector("button");
  say($("#login-error"), "");
  button.disabled = true;
  try {
    await api.login(form.get("name"), form.get("password"));
    ev.target.reset();
    showApp();
  } catch (e) {
    say($("#login-error"), e.status === 401 ? e.message : api.explain(e));
  } finally {
    button.disabled = false;
  }
});

$("#logout").addEventListener("click", async () => {
  try {
    await api.logout();
  } catch {
    /* the session is gone from this tab either way */
  }
  showLogin();
});

api.whenSessionEnds((message) => showLogin(message));
window.addEventListener("hashchange", route);
document.addEventListener("visibilitychange", () => {
  if (document.hidden) {
    clearTimeout(pollTimer);
    clearTimeout(healthTimer);
  } else {
    pollHealth();
    tick();
  }
});

async function start() {
  try {
    showHealth(await api.discover());
  } catch (e) {
    $("#health").textContent = "unreachable";
    $("#health").classList.add("bad");
    notice(`The daemon does not answer: ${e.message}. Reload the page to try again.`);
    return;
  }
  healthTimer = setTimeout(pollHealth, HEALTH_MS);
  if (api.loggedIn() && api.user()) {
    api.resume();
    showApp();
  } else {
    showLogin();
  }
}

start();
