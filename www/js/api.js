// The JSON API as the page uses it: tokens in sessionStorage (gone with the tab),
// the access token refreshed before it expires (one refresh at a time: a refresh
// token is single-use), errors as ApiError with the status and Retry-After.
// What the daemon has is learned from /api/health and /api/openapi.json, so the
// page never asks for an endpoint this version lacks (a 404 would be a console error).

const store = window.sessionStorage;
let refreshing = null;
let refreshTimer = 0;
let onSessionEnd = () => {};
const routes = new Set();
let health = null;

export class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/** A sentence for a person: what happened and what to do. */
export function explain(e) {
  if (!(e instanceof ApiError)) return `The daemon cannot be reached (${e.message}).`;
  if (e.status === 401) return `Not logged in or the session ended: ${e.message}. Log in again.`;
  if (e.status === 403) return `Not allowed: ${e.message}`;
  if (e.status === 429) {
    const wait = e.retryAfter ? `wait ${e.retryAfter} s before trying again` : "wait a while before trying again";
    return `Too many attempts: ${wait} (${e.message}).`;
  }
  return e.message;
}

export function user() {
  try {
    return JSON.parse(store.getItem("user") || "null");
  } catch {
    return null;
  }
}

export const isAdmin = () => ["Admin", "Root"].includes(user()?.level);
export const isRoot = () => user()?.level === "Root";
export const loggedIn = () => !!store.getItem("refresh_token");

export function whenSessionEnds(fn) {
  onSessionEnd = fn;
}

/** Back to the login form with `message`. */
export function endSession(message) {
  forget();
  onSessionEnd(message);
}

function keep(tokens) {
  store.setItem("access_token", tokens.access_token);
  store.setItem("refresh_token", tokens.refresh_token);
  store.setItem("expires_at", String(Date.now() + tokens.expires_in * 1000));
  store.setItem("ttl_ms", String(tokens.expires_in * 1000));
  if (tokens.user) store.setItem("user", JSON.stringify(tokens.user));
  schedule();
}

/** Refresh at 80 % of the access token's life (at least 1 s from now). */
function schedule() {
  clearTimeout(refreshTimer);
  const left = Number(store.getItem("expires_at")) - Date.now();
  const ttl = Number(store.getItem("ttl_ms")) || 0;
  if (!store.getItem("refresh_token")) return;
  refreshTimer = setTimeout(() => refresh(), Math.max(1000, left - ttl * 0.2));
}

export function resume() {
  if (loggedIn()) schedule();
}

export function forget() {
  clearTimeout(refreshTimer);
  store.clear();
}

function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    const token = store.getItem("refresh_token");
    if (!token) return false;
    try {
      const res = await fetch("/api/auth/session/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: token }),
      });
      if (res.status === 401) {
        forget();
        onSessionEnd("Your session has ended (expired, or logged out everywhere). Log in again.");
        return false;
      }
      if (!res.ok) return false; // 429 or 5xx: keep the tokens, try again later
      keep(await res.json());
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** One request. `opts.text`: answer the body as text. `opts.auth === false`: no token. */
export async function api(method, path, body, opts = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (opts.auth !== false && loggedIn()) {
    if (Number(store.getItem("expires_at")) - Date.now() < 1000) await refresh();
    const token = store.getItem("access_token");
    if (token) headers.Authorization = "Bearer " + token;
  }
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (res.status === 401 && opts.auth !== false && opts.retry !== false && loggedIn()) {
    if (await refresh()) return api(method, path, body, { ...opts, retry: false });
  }
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    const err = new ApiError(res.status, data.message || res.statusText, res.headers.get("Retry-After"));
    if (res.status === 401 && opts.auth !== false && loggedIn()) {
      forget();
      onSessionEnd(explain(err));
    }
    throw err;
  }
  if (opts.text) return res.text();
  return res.status === 204 ? null : res.json();
}

export async function login(name, password) {
  keep(await api("POST", "/api/auth/session/login", { name, password }, { auth: false }));
}

export async function logout() {
  const refresh_token = store.getItem("refresh_token");
  forget();
  if (refresh_token) await api("POST", "/api/auth/session/logout", { refresh_token }, { auth: false });
}

export async function logoutEverywhere() {
  const r = await api("POST", "/api/auth/session/logout-all");
  forget();
  return r.revoked;
}

/** Learn what this daemon serves (public; no token needed). */
export async function discover() {
  const [h, doc] = await Promise.all([
    api("GET", "/api/health", undefined, { auth: false }),
    api("GET", "/api/openapi.json", undefined, { auth: false }),
  ]);
  health = h;
  routes.clear();
  for (const [path, ops] of Object.entries(doc.paths || {})) {
    for (const m of Object.keys(ops)) routes.add(`${m.toUpperCase()} ${path}`);
  }
  return h;
}

export function setHealth(h) {
  health = h;
}

/** Does this daemon serve `METHOD /pattern` (as written in the route table)? */
export const has = (route) => routes.has(route);

export const subsystem = (name) => health?.subsystems?.[name];
