// The page: log in, show who I am, log out. Tokens live in sessionStorage (gone
// when the tab closes); the access token is refreshed once when it expires.
"use strict";

const $ = (id) => document.getElementById(id);
const store = window.sessionStorage;

async function api(method, path, body, retry = true) {
  const headers = { "Content-Type": "application/json" };
  const token = store.getItem("access_token");
  if (token) headers.Authorization = "Bearer " + token;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status === 401 && retry && store.getItem("refresh_token")) {
    if (await refresh()) return api(method, path, body, false);
  }
  const data = res.status === 204 ? null : await res.json().catch(() => ({ message: res.statusText }));
  if (!res.ok) throw Object.assign(new Error(data.message || res.statusText), { status: res.status });
  return data;
}

function keep(tokens) {
  store.setItem("access_token", tokens.access_token);
  store.setItem("refresh_token", tokens.refresh_token);
}

async function refresh() {
  try {
    const res = await fetch("/api/auth/session/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: store.getItem("refresh_token") }),
    });
    if (!res.ok) throw new Error();
    keep(await res.json());
    return true;
  } catch {
    store.clear();
    return false;
  }
}

async function show() {
  if (!store.getItem("access_token") && !store.getItem("refresh_token")) {
    $("me").hidden = true;
    $("login").hidden = false;
    return;
  }
  try {
    const me = await api("GET", "/api/auth/session/me");
    $("me-name").textContent = me.name;
    $("me-level").textContent = me.level;
    $("me-id").textContent = me.id;
    $("login").hidden = true;
    $("me").hidden = false;
  } catch {
    $("me").hidden = true;
    $("login").hidden = false;
  }
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData(ev.target);
  $("login-error").textContent = "";
  try {
    keep(await api("POST", "/api/auth/session/login", { name: form.get("name"), password: form.get("password") }, false));
    ev.target.reset();
    await show();
  } catch (e) {
    $("login-error").textContent = e.message;
  }
});

$("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/api/auth/session/logout", { refresh_token: store.getItem("refresh_token") }, false);
  } catch { /* the session is gone either way */ }
  store.clear();
  await show();
});

fetch("/api/health")
  .then((r) => r.json())
  .then((h) => {
    $("health").textContent = `${h.status} · v${h.version}`;
    $("health").classList.toggle("bad", h.status !== "ok");
  })
  .catch(() => {
    $("health").textContent = "unreachable";
    $("health").classList.add("bad");
  });
show();
