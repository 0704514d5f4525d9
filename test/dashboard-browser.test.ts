/**
 * The dashboard in a real browser (Debian's chromium, driven by
 * playwright-core): a real cluster through a broker, with a secret (the
 * dashboard trusts only signed messages), the dashboard started through the
 * CLI with --allow-control, and a pool in this process whose map blocks
 * half-way until the test lets it go. The page must list the nodes' pids,
 * show the map's progress part-way and then finished, drop a killed node and
 * a node told to quit from its row, and log no console errors. A
 * screenshot is saved (its path is a test diagnostic).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { TestCluster } from "./support/cluster.js";
import { readFileSync } from "node:fs";
import { embedded, freePort } from "./support/job-servers.js";
import { chromiumPath, missingPeer } from "./support/peers.js";
import { startDashboard } from "./support/dashboard-process.js";
import { eventually } from "./support/gearman.js";

const skip = missingPeer("chromium") ?? embedded.skip;
const SECRET = "the dashboard test's cluster secret, long enough";
/** Playwright's own waits: each waits for an event on the page, bounded. */
const WAIT_MS = 20_000;

/** Page-side expression: the first map's data-* attributes, or null. (Strings: this file is compiled without the DOM's types.) */
const MAP = `(() => { const m = document.querySelector("#maps .map"); return m && { state: m.dataset.state, done: Number(m.dataset.done), total: Number(m.dataset.total) }; })()`;

async function mapOnPage(page: Page): Promise<{ state: string; done: number; total: number } | null> {
  return page.evaluate(MAP) as Promise<{ state: string; done: number; total: number } | null>;
}

describe("dashboard in a browser", { skip }, () => {
  it("lists the nodes, shows a map's progress moving then finished, drops a killed node and one told to quit, without console errors", async (t) => {
    const cluster = await TestCluster.start({ kind: embedded, broker: true, clientConfig: [`secret = ${SECRET}`] });
    let browser: Browser | undefined;
    const dashboard = await startDashboard(cluster.configFile, ["--allow-control"]).catch(async (error) => {
      await cluster.close();
      throw error;
    });
    const pool = await cluster.pool();
    try {
      await cluster.startNode(1);
      await cluster.startNode(1);
      const nodes = await eventually(async () => {
        const found = await pool.ping(1000);
        return found.length === 2 && found;
      });
      // In the order the nodes started (cluster.nodes' order), not by pid: pids wrap around on a busy machine.
      const pids = nodes.sort((a, b) => a.startTime - b.startTime).map((n) => n.pid);

      browser = await chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox"] });
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(WAIT_MS);
      const consoleErrors: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") consoleErrors.push(message.text());
      });
      page.on("pageerror", (error) => consoleErrors.push(String(error)));
      page.on("dialog", (dialog) => void dialog.accept());
      await page.goto(dashboard.url);
      for (const pid of pids) await page.waitForSelector(`#nodes tr[data-pid="${pid}"]`);
      await page.waitForSelector("#trust:not([hidden])");
      await page.waitForSelector(`#servers tr[data-function="glimpse_map"]`);
      // Nothing ran yet: no made-up peak. Each node row shows threads, busy (running) and prefetched apart.
      assert.equal(await page.textContent("#chart-max"), "no items in the last 10 minutes");
      const texts = (selector: string) =>
        page.evaluate(`[...document.querySelectorAll(${JSON.stringify(selector)})].map((cell) => cell.textContent)`);
      assert.deepEqual(((await texts("#nodes thead th")) as string[]).slice(4, 7), ["threads", "busy", "prefetched"]);
      assert.deepEqual(((await texts(`#nodes tr[data-pid="${pids[0]}"] td`)) as string[]).slice(4, 7), ["1", "0", "0"]);

      // 40 items in chunks of 4: items 20 and up wait for memory "go", so the map stops at 20 of 40 until the test says go.
      const running = pool.map(
        async (x: number) => {
          while (x >= 20 && !memory.get("go")) await new Promise((resolve) => setTimeout(resolve, 10));
          return x * 2;
        },
        Array.from({ length: 40 }, (_, i) => i),
      );
      await page.waitForFunction(`(${MAP} || {}).state === "running" && ${MAP}.done === 20 && ${MAP}.total === 40`);
      assert.deepEqual(await mapOnPage(page), { state: "running", done: 20, total: 40 });
      // Items 20 to 23 hold each node's one thread; the chunks behind them wait, prefetched (prefetch 1 by default).
      const held = `[...document.querySelectorAll("#nodes tbody tr")].map((row) => [row.querySelector(".busy").textContent, row.querySelector(".prefetched").textContent].join("/"))`;
      await page.waitForFunction(`${held}.join(" ") === "1/1 1/1"`);
      await pool.setMemory({ go: true });
      assert.deepEqual(
        await running,
        Array.from({ length: 40 }, (_, i) => i * 2),
      );
      await page.waitForFunction(`(${MAP} || {}).state === "finished"`);
      assert.deepEqual(await mapOnPage(page), { state: "finished", done: 40, total: 40 });
      await page.waitForFunction(`document.querySelector("#chart-line").getAttribute("points").split(" ").length >= 3`);
      await page.waitForFunction(`/^peak \\d/.test(document.querySelector("#chart-max").textContent)`);
      const screenshot = path.join(os.tmpdir(), "glimpse-dashboard.png");
      await page.screenshot({ path: screenshot, fullPage: true });
      t.diagnostic(`screenshot: ${screenshot}`);

      // Killed: its supervisor starts a new process (a new pid) and the old row goes.
      process.kill(pids[0], "SIGKILL");
      await page.waitForSelector(`#nodes tr[data-pid="${pids[0]}"]`, { state: "detached" });
      // Told to quit from its row (confirmed in the dialog): it stays down.
      await page.click(`#nodes tr[data-pid="${pids[1]}"] button[data-action="quit"]`);
      await page.waitForSelector(`#nodes tr[data-pid="${pids[1]}"]`, { state: "detached" });
      assert.equal(
        cluster.nodes[1].child.exitCode ??
          (await new Promise((resolve) => cluster.nodes[1].child.once("exit", resolve))),
        0,
      );
      assert.deepEqual(consoleErrors, []);
    } finally {
      await browser?.close();
      await pool.close();
      await dashboard.stop();
      await cluster.close();
    }
  });
});

describe("dashboard warnings in a browser", { skip }, () => {
  it("a banner names the job server it cannot ask; a failed map shows its reason", async () => {
    const cluster = await TestCluster.start({ kind: embedded, broker: true, clientConfig: [`secret = ${SECRET}`] });
    let browser: Browser | undefined;
    let dashboard: Awaited<ReturnType<typeof startDashboard>> | undefined;
    try {
      await cluster.startNode(1);
      const down = `127.0.0.1:${await freePort()}`;
      const text = readFileSync(cluster.configFile, "utf8").replace(
        /^job_server_url = .*$/m,
        `job_server_url = ${cluster.server.url}, ${down}`,
      );
      dashboard = await startDashboard(cluster.writeConfig("dashboard.ini", text));
      browser = await chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox"] });
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.setDefaultTimeout(WAIT_MS);
      const consoleErrors: string[] = [];
      page.on("pageerror", (error) => consoleErrors.push(String(error)));
      await page.goto(dashboard.url);
      const banner = `#warnings:not([hidden]) li[data-kind="job-server"][data-target="${down}"]`;
      await page.waitForSelector(banner);
      assert.equal(await page.textContent(banner), `could not reach job server ${down}: connect ECONNREFUSED`);

      const pool = await cluster.pool();
      let reason: string;
      try {
        reason = await pool
          .map((x: number) => (x === 2 ? JSON.parse("{") : x), [1, 2, 3], { chunksize: 1, retries: 0 })
          .then(
            () => assert.fail("the map resolved"),
            (error: Error) => error.message,
          );
      } finally {
        await pool.close();
      }
      const shown = `#maps .map[data-state="failed"] .map-error`;
      await page.waitForSelector(shown);
      assert.equal(await page.textContent(shown), reason);
      assert.match(reason, /SyntaxError/);
      assert.deepEqual(consoleErrors, []);
    } finally {
      await browser?.close();
      await dashboard?.stop();
      await cluster.close();
    }
  });
});

declare const memory: { get(key: string): unknown };
