// The dashboard in www/ as a person uses it: the real daemon (sim GPIO backend,
// real demo programs) on a free loopback port, driven by Debian's headless
// Chromium through playwright-core.
//
//   node --test page.test.mjs        (run.sh sets everything up first)
//
// Env: PISTACK_BIN (default ../../target/debug/pistack), CHROMIUM (default
// /usr/bin/chromium), PISTACK_TEST_VERBOSE=1 echoes the daemon's log.
// Screenshots of every view (phone and desktop, light and dark) go to
// target/page-artifacts/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const BIN = resolve(HERE, process.env.PISTACK_BIN || "../../target/debug/pistack");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const OUT = join(REPO, "target", "page-artifacts");
const AXE = readFileSync(join(HERE, "node_modules/axe-core/axe.min.js"), "utf8");
const PASSWORD = "root-password-for-page-tests";
const VERBOSE = !!process.env.PISTACK_TEST_VERBOSE;
const MARKUP = "<img src=x onerror=alert(1)>";
const ACCESS_TTL_S = 3; // short, so that the page must refresh its token as it goes

const STEP_MS = 10_000; // any single wait on the page
const START_MS = 30_000; // daemon or browser start

let daemon; // { child, base, log: string[] }
let context; // the browser (a persistent context in its own temp profile)
let page;
let workDir;
let weather; // the Open-Meteo stand-in
let smtp; // the SMTP server
const mails = []; // what it received
const problems = []; // console errors, page errors, CSP violations, failed requests, dialogs
const expected = new Set(); // "STATUS PATH" answers the current step expects (Chromium logs them)

/** An Open-Meteo stand-in on loopback: the `current_weather` shape. */
function startWeather() {
  const server = createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ latitude: 52.2, longitude: 21.0, current_weather: { temperature: 7.5, windspeed: 12.3, weathercode: 3, time: "2026-12-02T16:00" } }));
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

/** A small SMTP server on loopback (RFC 5321's plain dialogue): what it receives goes to `mails`. */
function startSmtp(mails) {
  const server = createTcpServer((sock) => {
    let data = null;
    let buf = "";
    const envelope = { to: [] };
    const say = (line) => sock.write(`${line}\r\n`);
    say("220 page-test ESMTP");
    sock.on("data", (chunk) => {
      buf += chunk.toString("utf8");
      let i;
      while ((i = buf.indexOf("\r\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (data !== null) {
          if (line === ".") {
            mails.push({ ...envelope, data: data.join("\n") });
            data = null;
            say("250 queued");
          } else data.push(line.startsWith("..") ? line.slice(1) : line);
          continue;
        }
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === "EHLO" || verb === "HELO") say("250 page-test");
        else if (verb === "MAIL") (envelope.from = line), say("250 ok");
        else if (verb === "RCPT") envelope.to.push(line), say("250 ok");
        else if (verb === "DATA") (data = []), say("354 go on");
        else if (verb === "QUIT") say("221 bye"), sock.end();
        else say("250 ok");
      }
    });
    sock.on("error", () => {});
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

/** Run the daemon with a fresh state dir and wait for its `listening on` line. */
function startDaemon(dir, weatherPort, smtpPort) {
  const config = {
    state_dir: join(dir, "state"),
    http: { bind: "127.0.0.1:0", www_dir: join(REPO, "www") },
    auth: { pbkdf2_iterations: 1000, access_ttl_s: ACCESS_TTL_S },
    info: {
      history_interval_s: 1,
      weather: { url: `http://127.0.0.1:${weatherPort}/v1/forecast`, name: "Testville", latitude: 52.2, longitude: 21.0, cache_s: 600 },
    },
    email: { smtp: { host: "127.0.0.1", port: smtpPort, security: "none", timeout_s: 5 }, from: "pistack@page.test" },
    gpio: {
      backend: "sim",
      pins: {
        LED: { chip: "gpiochip0", line: 17, direction: "out", initial: 0 },
        BUTTON: { chip: "gpiochip0", line: 27, direction: "in", edge: "both", debounce_ms: 0, bias: "pull-up" },
        // Only the rules test moves it, so its rule fires nowhere else.
        DOOR: { chip: "gpiochip0", line: 22, direction: "in", edge: "both", debounce_ms: 0 },
      },
    },
    rules: [
      { name: `door ${MARKUP}`, when: { gpio: "DOOR", edge: "rising" },
        then: [{ email: { to: "rules@example.com", subject: "{pin} opened", body: "edge {edge}" } }] },
    ],
    programs: {
      heartbeat: {
        command: ["/bin/sh", "-c", "while :; do echo \"beat $(date +%s)\"; sleep 1; done"],
        group: "demo",
        description: "prints the time every second",
        priority: 10,
        startsecs: 0,
      },
      ticker: {
        command: ["/bin/sh", "-c", "i=0; while :; do i=$((i+1)); echo \"tick $i\"; sleep 0.3; done"],
        group: "demo",
        description: "not autostarted; a start waits 2 s",
        priority: 20,
        autostart: false,
        startsecs: 2,
      },
      markup: {
        command: ["/bin/sh", "-c", `echo '${MARKUP}'; echo '${MARKUP}' >&2; exec sleep 100000`],
        group: "lab",
        description: MARKUP,
        priority: 30,
        startsecs: 0,
      },
    },
  };
  const configPath = join(dir, "pistack.json");
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const env = { ...process.env, PISTACK_ROOT_PASSWORD: PASSWORD };
  for (const k of ["AUTH_SECRET", "NOTIFY_SOCKET", "JOURNAL_STREAM", "PISTACK_CONFIG"]) delete env[k];
  const child = spawn(BIN, ["--config", configPath, "serve"], { env, stdio: ["ignore", "ignore", "pipe"] });
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
  if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill("SIGKILL");
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
async function api(method, path, body, token) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(daemon.base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_MS),
    redirect: "manual",
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, json, text, headers: res.headers };
}

/** A request as root from outside the page, with a fresh login (tokens live ACCESS_TTL_S). */
async function asRoot(method, path, body) {
  const r = await api("POST", "/api/auth/session/login", { name: "root", password: PASSWORD });
  assert.equal(r.status, 200, r.text);
  return api(method, path, body, r.json.access_token);
}

const loc = (sel) => page.locator(sel);
const text = (sel) => loc(sel).first().textContent({ timeout: STEP_MS });
const session = (key) => page.evaluate((k) => sessionStorage.getItem(k), key);
const until = (fn, arg) => page.waitForFunction(fn, arg, { timeout: STEP_MS });

/** The problems seen since `from`, less the answers the step expected. */
function unexpectedProblems(from = 0) {
  return problems.slice(from).filter((p) => !p.expected);
}

async function logIn(name, password) {
  await loc('#login input[name="name"]').fill(name);
  await loc('#login input[name="password"]').fill(password);
  await loc('#login button[type="submit"]').click();
}

async function logOut() {
  await loc("#logout").click();
  await loc("#login").waitFor({ state: "visible" });
}

async function show(view) {
  await page.evaluate((v) => (location.hash = v), view);
  await loc(`#view-${view}`).waitFor({ state: "visible" });
}

const stateOf = (name) => text(`tr[data-name="${name}"] .badge`);
async function waitState(name, state, ms = STEP_MS) {
  await page.waitForFunction(
    ([n, s]) => document.querySelector(`tr[data-name="${n}"] .badge`)?.textContent === s,
    [name, state],
    { timeout: ms },
  );
}

const VIEWS = {
  overview: "#ov-health li",
  history: "#view-history svg.spark polyline",
  processes: 'tr[data-name="heartbeat"]',
  gpio: 'tr[data-pin="LED"]',
  events: "#view-events .timeline li",
  rules: "#view-rules .hint, #view-rules table",
  email: "#view-email tbody tr",
  users: "#users-table tbody tr",
  activity: "#view-activity tbody tr",
};

/** axe-core on what is shown now; the serious and critical violations. */
async function axe() {
  await page.evaluate(AXE); // evaluated through the DevTools protocol: the page's CSP does not apply
  const result = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ["violations"] }).then((r) =>
      r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) })),
    ),
  );
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

describe("the dashboard", { timeout: 300_000 }, () => {
  let version;

  before(async () => {
    try {
      accessSync(BIN, constants.X_OK);
    } catch {
      throw new Error(`no daemon binary at ${BIN}: run \`cargo build\` in the repo or set PISTACK_BIN`);
    }
    version = execFileSync(BIN, ["--version"], { encoding: "utf8", timeout: START_MS }).trim().replace(/^pistack\s+/, "");
    mkdirSync(OUT, { recursive: true });
    workDir = mkdtempSync(join(tmpdir(), "pistack-page-"));
    weather = await startWeather();
    smtp = await startSmtp(mails);
    daemon = await startDaemon(workDir, weather.address().port, smtp.address().port);
    const profile = join(workDir, "chromium-profile");
    mkdirSync(profile);
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: START_MS,
      viewport: { width: 1280, height: 800 },
      acceptDownloads: true,
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
      // Chromium logs every HTTP error answer to fetch() as a console error; a step
      // that causes one on purpose (a wrong password, a User trying an Admin action)
      // says so in `expected`.
      const m = msg.text().match(/Failed to load resource: the server responded with a status of (\d+)/);
      problems.push({ kind: `console.${msg.type()}`, text: msg.text(), url, expected: !!m && expected.has(`${m[1]} ${path}`) });
    });
    page.on("pageerror", (err) => problems.push({ kind: "pageerror", text: String(err), expected: false }));
    page.on("dialog", (d) => {
      problems.push({ kind: "dialog", text: `${d.type()}: ${d.message()}`, expected: false });
      d.dismiss().catch(() => {});
    });
    page.on("requestfailed", (req) => {
      // A download's blob: URL is not a request to the daemon.
      if (req.url().startsWith("blob:")) return;
      problems.push({ kind: "requestfailed", text: `${req.url()}: ${req.failure()?.errorText}`, expected: false });
    });
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
      await Promise.race([new Promise((r) => daemon.child.once("exit", r)), new Promise((r) => (timer = setTimeout(r, 5_000)))]);
      clearTimeout(timer);
    }
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    weather?.close();
    smtp?.close();
    if (problems.length) {
      console.error("browser messages:\n" + problems.map((p) => `  ${p.expected ? "(expected) " : ""}${p.kind}: ${p.text} ${p.url ?? ""}`).join("\n"));
    }
    if (errors.length) throw errors[0];
  });

  test("the whole page (every file of www/) is at most 60 KB gzipped", () => {
    const files = readdirSync(join(REPO, "www"), { recursive: true, withFileTypes: true }).filter((f) => f.isFile() && !f.name.endsWith(".gz"));
    const total = files.reduce((n, f) => n + gzipSync(readFileSync(join(f.parentPath ?? f.path, f.name)), { level: 9 }).length, 0);
    console.error(`page weight: ${files.length} files, ${total} bytes gzipped`);
    assert.ok(files.length > 5, "the files were found");
    assert.ok(total <= 60 * 1024, `${total} bytes gzipped`);
  });

  test("loads under its CSP with the health badge and the login form, and no console errors", async () => {
    const res = await page.goto(daemon.base + "/", { waitUntil: "load" });
    assert.equal(res.status(), 200);
    assert.match(res.headers()["content-security-policy"] ?? "", /default-src 'self'/);
    await loc("#login").waitFor({ state: "visible" });
    await until(() => document.getElementById("health").textContent !== "…");
    assert.equal(await text("#health"), `ok · v${version}`);
    assert.equal(await loc('#login input[name="name"]').inputValue(), "root");
    assert.equal(await loc("#nav").isVisible(), false, "no navigation before login");
    await page.waitForLoadState("networkidle");
    assert.deepEqual(unexpectedProblems(), []);
  });

  test("a wrong password shows the daemon's message", async () => {
    const from = problems.length;
    expected.add("401 /api/auth/session/login");
    await logIn("root", "not-the-password");
    await until(() => document.getElementById("login-error").textContent !== "");
    assert.equal(await text("#login-error"), "invalid credentials");
    assert.equal(await session("refresh_token"), null);
    expected.delete("401 /api/auth/session/login");
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("repeated wrong passwords are throttled: the form says how long to wait (Retry-After)", async () => {
    const from = problems.length;
    expected.add("401 /api/auth/session/login");
    expected.add("429 /api/auth/session/login");
    let said = "";
    for (let i = 0; i < 8 && !/Too many/.test(said); i++) {
      const answer = page.waitForResponse((r) => r.url().endsWith("/api/auth/session/login"));
      await logIn("ghost", `wrong-password-${i}`);
      const status = (await answer).status();
      await until(() => document.getElementById("login-error").textContent !== "" && !document.querySelector("#login button").disabled);
      said = await text("#login-error");
      assert.ok(status === 401 || status === 429, `status ${status}`);
    }
    assert.match(said, /^Too many attempts: wait \d+ s before trying again \(too many failed logins; try again in \d+ s\)\.$/);
    expected.delete("401 /api/auth/session/login");
    expected.delete("429 /api/auth/session/login");
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("root logs in and sees the overview: each subsystem's health, the system, the network, the weather", async () => {
    const from = problems.length;
    await logIn("root", PASSWORD);
    await loc("#view-overview").waitFor({ state: "visible" });
    assert.equal(await text("#me-name"), "root");
    assert.equal(await text("#me-level"), "Root");
    await loc("#ov-health li").first().waitFor();
    const health = await loc("#ov-health li").allTextContents();
    for (const s of ["auth", "supervisor", "io", "info", "email"]) assert.ok(health.some((l) => l.startsWith(`${s} ok`)), `${s}: ${health}`);
    await until(() => /Host/.test(document.getElementById("ov-system").textContent));
    assert.match(await text("#ov-system"), /Under-voltage(unsupported|ok|under-voltage)/, "under-voltage shown as it is");
    await until(() => /lo/.test(document.getElementById("ov-network").textContent));
    assert.match(await text("#ov-network"), /127\.0\.0\.1\/8/);
    await until(() => /Testville/.test(document.getElementById("ov-weather").textContent));
    assert.match(await text("#ov-weather"), /7\.5 °C/);
    assert.match(await text("#ov-weather"), /Open-Meteo/, "the attribution");
    const nav = await loc("#nav-list a").allTextContents();
    assert.deepEqual(nav, ["Overview", "History", "Processes", "GPIO", "Events", "Rules", "E-mail", "Users", "Activity", "API docs"]);
    assert.ok(await session("access_token"));
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("the processes: states by group, and markup in a description or a log shows as text", async () => {
    const from = problems.length;
    await show("processes");
    await waitState("heartbeat", "RUNNING");
    await waitState("markup", "RUNNING");
    assert.equal(await stateOf("ticker"), "STOPPED");
    const groups = await loc("tr.group .gname").allTextContents();
    assert.deepEqual(groups, ["group demo", "group lab"]);
    assert.equal(await text('tr[data-name="markup"] .sub'), MARKUP);
    assert.equal(await loc("#view-processes img").count(), 0, "no element made from the description");
    assert.match(await text('tr[data-name="heartbeat"] td:nth-child(3)'), /^\d+$/, "a pid");
    // Its output, in the log viewer.
    await loc('button[aria-label="log of markup"]').click();
    await until((m) => document.getElementById("log-text").textContent.includes(m), MARKUP);
    assert.equal(await loc("#log-text img").count(), 0);
    await loc("#log-stream").selectOption("stderr");
    await until((m) => document.getElementById("log-text").textContent.trim() === m, MARKUP);
    assert.equal(await page.evaluate(() => document.images.length), 0, "no image anywhere on the page");
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("stop and start a program and watch its state change, with progress while the start waits", async () => {
    const from = problems.length;
    await loc('button[aria-label="stop heartbeat"]').click();
    await waitState("heartbeat", "STOPPED");
    assert.equal(await text('tr[data-name="heartbeat"] td:nth-child(3)'), "—", "no pid once stopped");
    await loc('button[aria-label="start ticker"]').click(); // startsecs 2
    await loc('tr[data-name="ticker"] progress').waitFor({ state: "visible" });
    await waitState("ticker", "STARTING");
    assert.ok(await loc('tr[data-name="ticker"] progress').isVisible(), "progress while the start waits out startsecs");
    await waitState("ticker", "RUNNING");
    await loc('tr[data-name="ticker"] progress').waitFor({ state: "detached" });
    assert.match(await text("#view-processes .status"), /ticker: start done/);
    await loc('button[aria-label="start heartbeat"]').click();
    await waitState("heartbeat", "RUNNING");
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("restart a group: every member gets a new process", async () => {
    const from = problems.length;
    const before = (await asRoot("GET", "/api/supervisor/processes")).json;
    const pid = (n) => before.find((p) => p.name === n).pid;
    await loc('button[aria-label="restart group demo"]').click();
    await loc("tr.group .progress:not([hidden])").first().waitFor({ state: "visible" });
    await until(() => /group demo: restart done/.test(document.querySelector("#view-processes .status").textContent));
    const after = (await asRoot("GET", "/api/supervisor/processes")).json;
    for (const n of ["heartbeat", "ticker"]) {
      const p = after.find((x) => x.name === n);
      assert.equal(p.state, "RUNNING", n);
      assert.notEqual(p.pid, pid(n), `${n} has a new pid`);
    }
    assert.equal(after.find((p) => p.name === "markup").pid, pid("markup"), "another group is left alone");
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("read, search, follow and download a log", async () => {
    const from = problems.length;
    await loc("#log-program").selectOption("ticker");
    await loc("#log-stream").selectOption("stdout");
    await until(() => /tick \d+/.test(document.getElementById("log-text").textContent));
    assert.match(await text("#log-info"), /^\d+ bytes$/);
    const last = async () => Math.max(...[...(await text("#log-text")).matchAll(/tick (\d+)/g)].map((m) => Number(m[1])));
    const seen = await last();
    await loc("#log-follow").check();
    await page.waitForFunction(
      (n) => Math.max(...[...document.getElementById("log-text").textContent.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]))) > n + 2,
      seen,
      { timeout: STEP_MS },
    );
    await loc("#log-search").fill("tick 1");
    await until(() => document.querySelectorAll("#log-text mark").length > 0);
    assert.match(await text("#log-info"), /\d+ matches for "tick 1"/);
    await loc("#log-follow").uncheck();
    const [download] = await Promise.all([page.waitForEvent("download"), loc("#log-download").click()]);
    assert.equal(download.suggestedFilename(), "ticker.stdout.log");
    const body = readFileSync(await download.path(), "utf8");
    assert.match(body, /tick 1\n/);
    await loc("#log-search").fill("");
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("toggle and set a GPIO output and see its value; an input edge appears", async () => {
    const from = problems.length;
    await show("gpio");
    const value = (pin) => text(`tr[data-pin="${pin}"] .badge`);
    await until(() => document.querySelector('tr[data-pin="LED"] .badge')?.textContent === "0");
    await loc('button[aria-label="toggle LED"]').click();
    await until(() => document.querySelector('tr[data-pin="LED"] .badge')?.textContent === "1");
    assert.equal((await asRoot("GET", "/api/io/gpio/LED")).json.value, 1, "the daemon agrees");
    await loc('button[aria-label="set LED to 0"]').click();
    await until(() => document.querySelector('tr[data-pin="LED"] .badge')?.textContent === "0");
    assert.equal(await value("LED"), "0");
    assert.equal(await loc('button[aria-label="toggle BUTTON"]').count(), 0, "no output controls on an input");
    // A press of the button, from outside the page (the sim backend's injection).
    for (const level of [0, 1]) {
      const r = await asRoot("PUT", "/api/io/sim/gpio/BUTTON", { level });
      assert.equal(r.status, 200, r.text);
    }
    await until(() => /BUTTON/.test(document.querySelector("#view-gpio .edges").textContent));
    assert.match(await text("#view-gpio .edges li"), /BUTTON (rising|falling) → [01]/);
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("the events timeline has process transitions and GPIO edges, and filters", async () => {
    const from = problems.length;
    await show("events");
    await until(() => /BUTTON/.test(document.querySelector("#view-events .timeline").textContent));
    const all = await loc("#view-events .timeline li").allTextContents();
    assert.ok(all.some((l) => /process ticker: STARTING → RUNNING/.test(l)), all.slice(0, 5).join("\n"));
    await loc('#view-events input[data-kind="process"]').uncheck();
    const gpioOnly = await loc("#view-events .timeline li").allTextContents();
    assert.ok(gpioOnly.length > 0 && gpioOnly.every((l) => / gpio BUTTON/.test(l)), gpioOnly.join("\n"));
    await loc('#view-events input[data-kind="process"]').check();
    await loc("#events-filter").fill("heartbeat");
    const one = await loc("#view-events .timeline li").allTextContents();
    assert.ok(one.length > 0 && one.every((l) => /heartbeat/.test(l)), one.join("\n"));
    await loc("#events-filter").fill("");
    // Every source exists in this daemon, so nothing is listed as not shown.
    assert.equal(await loc("#view-events .hint").count(), 0);
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("history: sparklines of the daemon's ring", async () => {
    const from = problems.length;
    await show("history");
    await loc("#view-history svg.spark polyline").first().waitFor();
    assert.match(await text("#view-history .hint"), /samples, one every 1 s.*the ring holds \d+ in/);
    assert.ok((await loc("#view-history svg.spark[aria-label^='CPU: now']").count()) === 1, "a labelled CPU sparkline");
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("e-mail: a test mail with markup in its subject is delivered and listed as text; the timeline has it", async () => {
    const from = problems.length;
    await show("email");
    await loc('#view-email input[name="to"]').fill("someone@example.com");
    await loc('#view-email input[name="subject"]').fill(`${MARKUP} hello`);
    await loc('#view-email button[type="submit"]').click();
    await until(() => /Queued as/.test(document.querySelector("#view-email form").textContent));
    await until(() => /sent/.test(document.querySelector("#view-email tbody")?.textContent ?? ""));
    assert.match(await text("#view-email tbody tr"), new RegExp(`someone@example\\.com${MARKUP.replace(/[()]/g, "\\$&")} hellosent1`));
    assert.equal(await page.evaluate(() => document.images.length), 0);
    assert.equal(mails.length, 1, "the SMTP server got it");
    assert.match(mails[0].to.join(), /someone@example\.com/);
    await show("events");
    await until(() => /mail sent:/.test(document.querySelector("#view-events .timeline").textContent));
    assert.match(await text("#view-events .timeline"), new RegExp(`mail sent: "${MARKUP.replace(/[()]/g, "\\$&")} hello" to someone@example\\.com`));
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("a rule fires: its counts, its event in the timeline and its mail in the outbox; its name's markup is text", async () => {
    const from = problems.length;
    const before = mails.length;
    const r = await asRoot("PUT", "/api/io/sim/gpio/DOOR", { level: 1 });
    assert.equal(r.status, 200);
    await show("rules");
    await until(() => /DOOR rising/.test(document.querySelector("#view-rules tbody")?.textContent ?? ""));
    await until(() => document.querySelector("#view-rules tbody tr")?.children[4]?.textContent === "1");
    assert.ok((await text("#view-rules tbody tr")).includes(`door ${MARKUP}`), "the rule's name, as text");
    await show("email");
    await until(() => /rules@example\.com/.test(document.querySelector("#view-email tbody")?.textContent ?? ""));
    await until(() => /DOOR openedsent/.test(document.querySelector("#view-email tbody")?.textContent ?? ""));
    assert.equal(mails.length, before + 1, "the SMTP server got the rule's mail");
    await show("events");
    await until(() => /door .*: fired/.test(document.querySelector("#view-events .timeline")?.textContent ?? ""));
    assert.equal(await page.evaluate(() => document.images.length), 0);
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("the activity view shows the audit trail: the failed login, the stop, the GPIO write", async () => {
    const from = problems.length;
    await show("activity");
    await loc("#view-activity tbody tr").first().waitFor();
    const rows = await loc("#view-activity tbody tr").allTextContents();
    const has = (re) => assert.ok(rows.some((r) => re.test(r)), `${re} in:\n${rows.join("\n")}`);
    has(/root\s*auth\.login\s*root\s*failed\s*401 invalid credentials\s*127\.0\.0\.1/);
    has(/root\s*process\.stop\s*heartbeat\s*ok/);
    has(/root\s*group\.restart\s*demo\s*ok/);
    has(/root\s*gpio\.toggle\s*LED\s*ok/);
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("users: create a User; Root changes a level and deletes", async () => {
    const from = problems.length;
    await show("users");
    await loc("#users-table tbody tr").first().waitFor();
    await loc('#create-user input[name="name"]').fill("viewer");
    await loc('#create-user input[name="password"]').fill("viewer-password");
    await loc('#create-user select[name="level"]').selectOption("User");
    await loc('#create-user button[type="submit"]').click();
    await until(() => /Created viewer \(User\)/.test(document.querySelector("#create-user").textContent));
    await until(() => /viewer/.test(document.getElementById("users-table").textContent));
    // Root changes a level and deletes (a second click confirms).
    const r = await asRoot("POST", "/api/auth/users", { name: "temp", password: "temp-password", level: "Admin" });
    assert.equal(r.status, 201, r.text);
    await show("overview");
    await show("users");
    await loc('select[aria-label="level of temp"]').selectOption("User");
    await until(() => /temp: level User/.test(document.querySelector("#view-users").textContent));
    const users = async () => (await asRoot("GET", "/api/auth/users")).json;
    assert.equal((await users()).find((u) => u.name === "temp").level, "User");
    await loc('button[aria-label="delete temp"]').click();
    assert.equal(await text('button[aria-label="delete temp"]'), "really delete?");
    await loc('button[aria-label="delete temp"]').click();
    await until(() => /Deleted temp\./.test(document.querySelector("#view-users").textContent));
    assert.equal((await users()).some((u) => u.name === "temp"), false);
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("a User sees no admin controls, and the API's 403 is shown when one is tried anyway", async () => {
    const from = problems.length;
    await logOut();
    await logIn("viewer", "viewer-password");
    await loc("#nav").waitFor({ state: "visible" });
    assert.equal(await text("#me-level"), "User");
    const nav = await loc("#nav-list a").allTextContents();
    assert.deepEqual(nav, ["Overview", "History", "Processes", "GPIO", "Events", "Rules", "Users", "API docs"]);
    await show("processes");
    await waitState("heartbeat", "RUNNING");
    assert.equal(await loc("#view-processes button").count(), 0, "no start/stop/restart/log buttons");
    assert.equal(await loc("#log-text").count(), 0, "no log viewer (the log is Admin+)");
    assert.deepEqual(await loc("#view-processes thead th").allTextContents(), ["Program", "State", "PID", "Uptime", "Restarts", "Exit", "Message"]);
    await show("gpio");
    await loc('tr[data-pin="LED"]').waitFor();
    assert.equal(await loc("#view-gpio button").count(), 0, "no GPIO controls");
    await show("users");
    assert.equal(await loc("#users-table").count(), 0, "no user list");
    assert.equal(await loc("#create-user").count(), 0);
    await loc("#own-password").waitFor();
    // An Admin view by its address: says why, asks the daemon nothing.
    await show("activity");
    assert.match(await text("#view-activity .absent"), /needs level Admin or Root; you are User/);
    // Tried anyway (as a crafted page would): the daemon refuses and the page says so.
    await show("processes");
    expected.add("403 /api/supervisor/processes/ticker/stop");
    await page.evaluate(() => import("/js/views/processes.js").then((m) => m.default.act("stop", "ticker")));
    await until(() => /stop ticker: Not allowed: .*needs level Admin/.test(document.querySelector("#view-processes .status").textContent));
    expected.delete("403 /api/supervisor/processes/ticker/stop");
    assert.equal((await asRoot("GET", "/api/supervisor/processes/ticker")).json.state, "RUNNING");
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("the access token is refreshed across its expiry without a single 401", async () => {
    const from = problems.length;
    const first = await session("access_token");
    const exp = JSON.parse(Buffer.from(first.split(".")[1], "base64url").toString()).exp;
    // Wait past the first token's expiry (bounded), then use the page.
    await page.waitForFunction((e) => Date.now() / 1000 > e + 1, exp, { timeout: (ACCESS_TTL_S + 5) * 1000 });
    assert.equal((await api("GET", "/api/auth/session/me", undefined, first)).status, 401, "the first token has expired");
    await show("gpio");
    await show("processes");
    await until(() => document.querySelector('tr[data-name="heartbeat"]') !== null);
    const now = await session("access_token");
    assert.notEqual(now, first, "a new access token");
    assert.equal((await api("GET", "/api/auth/session/me", undefined, now)).status, 200);
    assert.equal(await loc("#login").isVisible(), false, "still logged in");
    assert.ok(!problems.slice(from).some((p) => /401/.test(p.text)), "no 401 on the way");
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("log out everywhere ends every session of the user", async () => {
    const from = problems.length;
    const other = await api("POST", "/api/auth/session/login", { name: "viewer", password: "viewer-password" });
    await show("users");
    await loc("#logout-all").click();
    await loc("#login").waitFor({ state: "visible" });
    assert.match(await text("#login-error"), /Logged out everywhere \(\d+ sessions ended\)/);
    const r = await api("POST", "/api/auth/session/refresh", { refresh_token: other.json.refresh_token });
    assert.equal(r.status, 401, "the other login's refresh token is revoked");
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("/api/docs renders the OpenAPI document and tries a GET with the logged-in token", async () => {
    const from = problems.length;
    await logIn("root", PASSWORD);
    await loc("#nav").waitFor({ state: "visible" });
    const redirect = await api("GET", "/api/docs");
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get("location"), "/docs.html");
    await loc('#nav-list a[href="/api/docs"]').click();
    await page.waitForURL(/\/docs\.html$/);
    await loc("details.op").first().waitFor();
    assert.match(await text("#who"), /token of root \(Root\)/);
    const op = loc('details.op[data-search^="get /api/supervisor/processes/{name} "]');
    await op.locator("summary").click();
    await op.locator('input[name="name"]').fill("heartbeat");
    await op.locator('button[type="submit"]').click();
    await until(() => [...document.querySelectorAll("details.op pre")].some((p) => /→ 200[\s\S]*"name": "heartbeat"/.test(p.textContent)));
    await loc("#filter").fill("gpio");
    const shown = await page.evaluate(() => [...document.querySelectorAll("details.op")].filter((d) => !d.hidden).length);
    assert.ok(shown > 3, `${shown} operations about gpio`);
    await loc("#filter").fill("");
    assert.deepEqual(await axe(), [], "axe on /docs.html");
    await page.screenshot({ path: join(OUT, "docs-desktop-light.png"), timeout: STEP_MS });
    await page.goBack();
    await page.goto(daemon.base + "/#overview");
    await loc("#view-overview").waitFor({ state: "visible" });
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("polling stops while the tab is hidden and resumes when it is shown", async () => {
    const from = problems.length;
    await show("processes"); // polls every 3 s
    await waitState("heartbeat", "RUNNING");
    const seen = [];
    const count = (req) => req.url().includes("/api/") && seen.push(req.url());
    page.on("request", count);
    // What the browser says when the tab goes to the background.
    await page.evaluate(() => {
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
      document.dispatchEvent(new Event("visibilitychange"));
    });
    seen.length = 0;
    await page.waitForTimeout(7000); // two polling intervals, and the token's refresh time
    const whileHidden = seen.filter((u) => !u.endsWith("/api/auth/session/refresh"));
    assert.deepEqual(whileHidden, [], "no polling while hidden");
    const polled = page.waitForRequest((r) => r.url().endsWith("/api/supervisor/processes"), { timeout: 2000 });
    await page.evaluate(() => {
      delete document.hidden;
      document.dispatchEvent(new Event("visibilitychange"));
    });
    await polled; // at once, not at the next interval
    page.off("request", count);
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("every view: axe finds nothing serious; screenshots at phone and desktop, light and dark", async () => {
    const from = problems.length;
    const found = [];
    for (const [view, ready] of Object.entries(VIEWS)) {
      await show(view);
      await loc(ready).first().waitFor();
      for (const scheme of ["light", "dark"]) {
        await page.emulateMedia({ colorScheme: scheme });
        for (const [size, viewport] of [["desktop", { width: 1280, height: 800 }], ["phone", { width: 390, height: 844 }]]) {
          await page.setViewportSize(viewport);
          await page.screenshot({ path: join(OUT, `${view}-${size}-${scheme}.png`), fullPage: true, timeout: STEP_MS });
        }
        for (const v of await axe()) found.push({ view, scheme, ...v });
      }
    }
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize({ width: 1280, height: 800 });
    await logOut();
    for (const scheme of ["light", "dark"]) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.screenshot({ path: join(OUT, `login-desktop-${scheme}.png`), timeout: STEP_MS });
      for (const v of await axe()) found.push({ view: "login", scheme, ...v });
    }
    await page.emulateMedia({ colorScheme: "light" });
    if (found.length) console.error(`axe:\n${JSON.stringify(found, null, 1)}`);
    assert.deepEqual(found, []);
    assert.deepEqual(unexpectedProblems(from), []);
  });

  test("no unexpected browser messages over the whole visit", () => {
    assert.deepEqual(unexpectedProblems(), []);
  });
});
