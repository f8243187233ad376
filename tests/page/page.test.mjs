// The web page in www/ as a person uses it: the real daemon on a free loopback
// port, driven by Debian's headless Chromium through playwright-core.
//
//   node --test page.test.mjs        (run.sh sets everything up first)
//
// Env: PISTACK_BIN (default ../../target/debug/pistack), CHROMIUM (default
// /usr/bin/chromium), PISTACK_TEST_VERBOSE=1 echoes the daemon's log.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const BIN = resolve(HERE, process.env.PISTACK_BIN || "../../target/debug/pistack");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const OUT = join(HERE, "out");
const PASSWORD = "root-password-for-page-tests";
const VERBOSE = !!process.env.PISTACK_TEST_VERBOSE;

const STEP_MS = 10_000; // any single wait on the page
const START_MS = 30_000; // daemon or browser start

let daemon; // { child, base, log: string[] }
let context; // the browser (a persistent context in its own temp profile)
let page;
let workDir;
const problems = []; // console errors, page errors, CSP violations, failed requests
const expected401 = new Set(); // API paths whose 401 the current step expects

/** Run the daemon with a fresh state dir and wait for its `listening on` line. */
function startDaemon(dir) {
  const config = {
    state_dir: join(dir, "state"),
    http: { bind: "127.0.0.1:0", www_dir: join(REPO, "www") },
    auth: { pbkdf2_iterations: 1000 },
    gpio: { backend: "sim" },
  };
  const configPath = join(dir, "pistack.json");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const env = { ...process.env, PISTACK_ROOT_PASSWORD: PASSWORD };
  for (const k of ["AUTH_SECRET", "NOTIFY_SOCKET", "JOURNAL_STREAM", "PISTACK_CONFIG"]) delete env[k];
  const child = spawn(BIN, ["--config", configPath, "serve"], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  const log = [];
  return new Promise((resolvePromise, reject) => {
    const fail = (why) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`daemon did not start (${why}); it said:\n${log.join("\n")}`));
    };
    const timer = setTimeout(() => fail(`no "listening on" within ${START_MS} ms`), START_MS);
    child.once("error", (e) => fail(`cannot run ${BIN}: ${e.message}`));
    child.once("exit", (code, signal) => fail(`exited with ${code ?? signal}`));
    // Keep reading stderr for the daemon's whole life, so that it never blocks on a full pipe.
    createInterface({ input: child.stderr }).on("line", (line) => {
      log.push(line);
      if (VERBOSE) console.error(`daemon: ${line}`);
      const m = line.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolvePromise({ child, base: m[1].replace(/\/$/, ""), log });
      }
    });
  });
}

function killDaemon() {
  if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
    daemon.child.kill("SIGKILL");
  }
}
// Also when the run is interrupted or dies on an uncaught error.
process.once("exit", killDaemon);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.once(sig, () => {
    killDaemon();
    process.exit(130);
  });
}

/** A request from outside the page (Node's fetch), bounded in time. */
async function api(method, path, body) {
  const res = await fetch(daemon.base + path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_MS),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

const visible = (sel) => page.locator(sel).isVisible();
const text = (sel) => page.locator(sel).textContent({ timeout: STEP_MS });
const session = (key) => page.evaluate((k) => sessionStorage.getItem(k), key);

/** The problems seen since `from`, less the 401s that the page's own design causes. */
function unexpectedProblems(from = 0) {
  return problems.slice(from).filter((p) => !p.expected);
}

async function waitForLoginForm() {
  await page.locator("#login").waitFor({ state: "visible", timeout: STEP_MS });
  assert.equal(await visible("#me"), false, "the who-am-I section is hidden while logged out");
}

async function waitForMe() {
  await page.locator("#me").waitFor({ state: "visible", timeout: STEP_MS });
  assert.equal(await visible("#login"), false, "the login form is hidden while logged in");
}

async function logIn(name, password) {
  await page.locator('#login input[name="name"]').fill(name, { timeout: STEP_MS });
  await page.locator('#login input[name="password"]').fill(password, { timeout: STEP_MS });
  await page.locator('#login button[type="submit"]').click({ timeout: STEP_MS });
}

describe("the web page", { timeout: 120_000 }, () => {
  let version;
  let refreshToken;

  before(async () => {
    try {
      accessSync(BIN, constants.X_OK);
    } catch {
      throw new Error(`no daemon binary at ${BIN}: run \`cargo build\` in the repo or set PISTACK_BIN`);
    }
    version = execFileSync(BIN, ["--version"], { encoding: "utf8", timeout: START_MS })
      .trim()
      .replace(/^pistack\s+/, "");
    workDir = mkdtempSync(join(tmpdir(), "pistack-page-"));
    daemon = await startDaemon(workDir);
    const profile = join(workDir, "chromium-profile");
    mkdirSync(profile);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: START_MS,
      viewport: { width: 1024, height: 640 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
      ],
    });
    context.setDefaultTimeout(STEP_MS);
    context.setDefaultNavigationTimeout(STEP_MS);
    // A CSP violation also shows as a console error; this makes sure it is seen
    // whatever Chromium's wording, with what was blocked.
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => {
        console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ${e.sourceFile}:${e.lineNumber}`);
      });
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (msg) => {
      if (msg.type() !== "error" && msg.type() !== "warning") return;
      const url = msg.location()?.url ?? "";
      const path = url.startsWith(daemon.base) ? new URL(url).pathname : url;
      // Chromium logs every HTTP error answer to fetch() as a console error. A wrong
      // password answers 401: that one is expected; any other is a problem.
      const expected =
        /Failed to load resource: the server responded with a status of 401/.test(msg.text()) &&
        expected401.has(path);
      problems.push({ kind: `console.${msg.type()}`, text: msg.text(), url, expected });
    });
    page.on("pageerror", (err) => problems.push({ kind: "pageerror", text: String(err), expected: false }));
    page.on("requestfailed", (req) =>
      problems.push({ kind: "requestfailed", text: `${req.url()}: ${req.failure()?.errorText}`, expected: false }),
    );
  });

  after(async () => {
    const errors = [];
    try {
      if (context) await context.close();
    } catch (e) {
      errors.push(e);
    }
    killDaemon();
    if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
      let timer;
      await Promise.race([
        new Promise((r) => daemon.child.once("exit", r)),
        new Promise((r) => (timer = setTimeout(r, 5_000))),
      ]);
      clearTimeout(timer);
    }
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    if (problems.length) {
      console.error("browser messages:\n" + problems.map((p) => `  ${p.expected ? "(expected) " : ""}${p.kind}: ${p.text}`).join("\n"));
    }
    if (errors.length) throw errors[0];
  });

  test("loads with its security headers, no console errors and no CSP violations", async () => {
    const res = await page.goto(daemon.base + "/", { waitUntil: "load" });
    assert.equal(res.status(), 200);
    const csp = res.headers()["content-security-policy"] ?? "";
    assert.match(csp, /default-src 'self'/, "the page is served under a CSP, so a violation would show");
    assert.equal(await page.title(), "pistack");
    await waitForLoginForm(); // show() has run its course
    await page.waitForLoadState("networkidle", { timeout: STEP_MS });
    assert.deepEqual(unexpectedProblems(), []);
  });

  test("the health badge shows the daemon's status and version", async () => {
    await page.waitForFunction(() => document.getElementById("health").textContent !== "…", null, {
      timeout: STEP_MS,
    });
    assert.equal(await text("#health"), `ok · v${version}`);
  });

  test("the login form is shown, with the name filled in and the error line empty", async () => {
    await waitForLoginForm();
    assert.equal(await page.locator('#login input[name="name"]').inputValue(), "root");
    assert.equal(await page.locator('#login input[name="password"]').inputValue(), "");
    assert.equal(await text("#login-error"), "");
  });

  test("a wrong password shows the daemon's message in the form", async () => {
    const from = problems.length;
    expected401.add("/api/auth/session/login");
    await logIn("root", "not-the-password");
    const error = page.locator("#login #login-error");
    await page.waitForFunction(() => document.getElementById("login-error").textContent !== "", null, {
      timeout: STEP_MS,
    });
    assert.equal(await error.textContent(), "invalid credentials");
    assert.ok(await error.isVisible(), "the message is visible");
    await waitForLoginForm();
    assert.equal(await session("refresh_token"), null, "no token kept");
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, "login-error.png"), fullPage: true, timeout: STEP_MS });
    expected401.delete("/api/auth/session/login");
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("the right password shows who I am: root, Root", async () => {
    const from = problems.length;
    await logIn("root", PASSWORD);
    await waitForMe();
    assert.equal(await text("#me-name"), "root");
    assert.equal(await text("#me-level"), "Root");
    assert.match(await text("#me-id"), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(await text("#login-error"), "", "the old error is gone");
    assert.ok(await session("access_token"), "access token kept in sessionStorage");
    assert.ok(await session("refresh_token"), "refresh token kept in sessionStorage");
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, "logged-in.png"), fullPage: true, timeout: STEP_MS });
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("a reload keeps me logged in", async () => {
    const from = problems.length;
    const res = await page.reload({ waitUntil: "load" });
    assert.equal(res.status(), 200);
    await waitForMe();
    assert.equal(await text("#me-name"), "root");
    assert.equal(await text("#me-level"), "Root");
    await page.waitForLoadState("networkidle", { timeout: STEP_MS });
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("Log out returns to the login form and ends the session", async () => {
    const from = problems.length;
    refreshToken = await session("refresh_token");
    assert.ok(refreshToken, "a refresh token before logging out");
    await page.locator("#logout").click({ timeout: STEP_MS });
    await waitForLoginForm();
    assert.equal(await session("refresh_token"), null, "sessionStorage cleared");
    assert.equal(await session("access_token"), null, "sessionStorage cleared");
    assert.equal(await page.locator('#login input[name="password"]').inputValue(), "");
    const r = await api("POST", "/api/auth/session/refresh", { refresh_token: refreshToken });
    assert.equal(r.status, 401, `refresh after logout: ${r.text}`);
    assert.equal(typeof r.json?.message, "string", "a JSON error");
    await page.waitForLoadState("networkidle", { timeout: STEP_MS });
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("no unexpected browser messages over the whole visit", () => {
    assert.deepEqual(unexpectedProblems(), []);
  });
});
