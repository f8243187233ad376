// The daemon's CPU with one dashboard tab open and idle (prints, asserts nothing).
//   node bench/page-idle.mjs [BIN] [SECONDS] [VIEW]    (needs `make deps`: tests/page/node_modules, chromium)
// Starts BIN (default target/release/pistack, else target/debug) with the demo
// programs and sim GPIO, logs in as root in headless Chromium, opens VIEW
// (default overview), then reads utime+stime of the daemon from /proc before and
// after SECONDS (default 60) of doing nothing.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { chromium } = await import(join(REPO, "tests/page/node_modules/playwright-core/index.mjs"));
const release = join(REPO, "target/release/pistack");
const BIN = resolve(process.argv[2] || (existsSync(release) ? release : join(REPO, "target/debug/pistack")));
const SECONDS = Number(process.argv[3] || 60);
const VIEW = process.argv[4] || "overview";
const PASSWORD = "bench-root-password";
const HZ = 100; // USER_HZ: /proc/<pid>/stat counts in 1/100 s on Linux

const dir = mkdtempSync(join(tmpdir(), "pistack-idle-"));
const demo = JSON.parse(readFileSync(join(REPO, "conf/dev.json"), "utf8"));
const config = {
  state_dir: join(dir, "state"),
  http: { bind: "127.0.0.1:0", www_dir: join(REPO, "www") },
  auth: { pbkdf2_iterations: 1000 },
  gpio: demo.gpio,
  programs: Object.fromEntries(Object.entries(demo.programs).filter(([n]) => n !== "flaky")),
};
writeFileSync(join(dir, "c.json"), JSON.stringify(config));
const child = spawn(BIN, ["--config", join(dir, "c.json"), "serve"], {
  cwd: REPO,
  env: { ...process.env, PISTACK_ROOT_PASSWORD: PASSWORD },
  stdio: ["ignore", "ignore", "pipe"],
});
let requests = 0;
const base = await new Promise((ok, fail) => {
  setTimeout(() => fail(new Error("no listening line")), 30_000);
  createInterface({ input: child.stderr }).on("line", (l) => {
    const m = l.match(/listening on (http:\/\/\S+)/);
    if (m) ok(m[1].replace(/\/$/, ""));
    if (/ (GET|POST|PUT) \/\S* \d{3} /.test(l)) requests++;
  });
});
const cpu = () => {
  const f = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(")")[1].trim().split(" ");
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
};
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
try {
  const page = await browser.newPage();
  await page.goto(`${base}/#${VIEW}`);
  await page.fill('#login input[name="password"]', PASSWORD);
  await page.click('#login button[type="submit"]');
  await page.locator(`#view-${VIEW}`).waitFor();
  await page.waitForTimeout(3000); // the first fetches are done
  const [t0, r0] = [cpu(), requests];
  const w0 = Date.now();
  await page.waitForTimeout(SECONDS * 1000);
  const [t1, r1] = [cpu(), requests];
  const wall = (Date.now() - w0) / 1000;
  const used = (t1 - t0) / HZ;
  console.log(`== daemon CPU with one idle dashboard tab (${VIEW} view), ${BIN.replace(REPO + "/", "")}`);
  console.log(`${wall.toFixed(0)} s idle: ${used.toFixed(2)} s CPU (utime+stime) = ${((100 * used) / wall).toFixed(3)} % of one core; ${r1 - r0} requests (${((r1 - r0) / wall).toFixed(2)}/s)`);
} finally {
  await browser.close();
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
