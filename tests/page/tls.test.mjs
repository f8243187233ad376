// The page over HTTPS: the daemon with `http.tls` on a certificate made here
// (openssl CLI: a CA and a leaf for localhost), Chromium told to trust that
// leaf's public key (--ignore-certificate-errors-spki-list, no blanket
// ignore), a login as root, and no console error, page error or failed request.
//
//   node --test tls.test.mjs        (run.sh runs it after page.test.mjs)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync, execSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const BIN = resolve(HERE, process.env.PISTACK_BIN || "../../target/debug/pistack");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const PASSWORD = "root-password-for-page-tests";
const STEP_MS = 10_000;
const START_MS = 30_000;

let dir, child, base, context, page;
const problems = [];

function makeCertificate() {
  const run = (args) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=pistack page test CA"]);
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
  run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost"]);
  run(["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-days", "2", "-extfile", "ext.cnf", "-out", "leaf.pem"]);
  // base64 of the SHA-256 of the leaf's SubjectPublicKeyInfo, as Chromium wants it.
  return execSync(
    "openssl x509 -pubkey -noout -in leaf.pem | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
    { cwd: dir, encoding: "utf8" },
  ).trim();
}

function startDaemon() {
  const config = {
    state_dir: join(dir, "state"),
    http: { bind: "127.0.0.1:0", www_dir: join(REPO, "www"), tls: { cert: "leaf.pem", key: "leaf.key" } },
    auth: { pbkdf2_iterations: 1000 },
    gpio: { backend: "sim" },
  };
  writeFileSync(join(dir, "pistack.json"), JSON.stringify(config));
  const env = { ...process.env, PISTACK_ROOT_PASSWORD: PASSWORD };
  for (const k of ["AUTH_SECRET", "NOTIFY_SOCKET", "JOURNAL_STREAM", "PISTACK_CONFIG"]) delete env[k];
  child = spawn(BIN, ["--config", join(dir, "pistack.json"), "serve"], { env, stdio: ["ignore", "ignore", "pipe"] });
  const log = [];
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`daemon did not start:\n${log.join("\n")}`)), START_MS);
    child.once("exit", (c, s) => fail(new Error(`daemon exited with ${c ?? s}:\n${log.join("\n")}`)));
    createInterface({ input: child.stderr }).on("line", (line) => {
      log.push(line);
      const m = line.match(/listening on (https:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        ok(m[1].replace("127.0.0.1", "localhost"));
      }
    });
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "pistack-page-tls-"));
  const spki = makeCertificate();
  base = await startDaemon();
  const profile = join(dir, "profile");
  mkdirSync(profile);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: START_MS,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage", `--ignore-certificate-errors-spki-list=${spki}`],
  });
  context.setDefaultTimeout(STEP_MS);
  page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (msg) => {
    // This daemon has no weather location, so no weather route: the page must not ask.
    if (msg.type() === "error" || msg.type() === "warning") problems.push(`console.${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`pageerror: ${err}`));
  page.on("requestfailed", (req) => problems.push(`requestfailed: ${req.url()}: ${req.failure()?.errorText}`));
});

after(async () => {
  if (context) await context.close().catch(() => {});
  if (child && child.exitCode === null) child.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the page logs in over HTTPS with no console error", async () => {
  const response = await page.goto(`${base}/`, { timeout: STEP_MS });
  assert.equal(response.status(), 200);
  assert.equal(response.headers()["strict-transport-security"], "max-age=31536000");
  assert.ok(await page.evaluate(() => window.isSecureContext && location.protocol === "https:"));
  const security = await response.securityDetails();
  assert.ok(security && /TLS 1\.[23]/.test(security.protocol), `protocol ${security?.protocol}`);
  await page.locator("#login").waitFor({ state: "visible" });
  await page.locator('#login input[name="name"]').fill("root");
  await page.locator('#login input[name="password"]').fill(PASSWORD);
  await page.locator('#login button[type="submit"]').click();
  await page.locator("#me").waitFor({ state: "visible" });
  assert.deepEqual(problems, []);
});
