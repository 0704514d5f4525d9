/**
 * Takes docs/dashboard.png from the page as it is now: a cluster on this
 * machine (embedded job server, broker, a secret, two worker nodes of two
 * threads, one labelled gpu), the dashboard started through the CLI with
 * --allow-control, a map that finished and one held half-way (so the nodes
 * show busy threads and prefetched chunks), shot by headless Chromium.
 *
 *   npm run build && node dist/test/support/dashboard-screenshot.js [OUT.png]
 */
import path from "node:path";
import { chromium } from "playwright-core";
import { TestCluster } from "./cluster.js";
import { CLI_PATH, embedded } from "./job-servers.js";
import { chromiumPath } from "./peers.js";
import { startDashboard } from "./dashboard-process.js";

declare const memory: { get(key: string): unknown };

const out = process.argv[2] ?? path.resolve(path.dirname(CLI_PATH), "../../docs/dashboard.png");
const executablePath = chromiumPath();
if (!executablePath) throw new Error("chromium is not installed (apt-get install chromium)");

const cluster = await TestCluster.start({
  kind: embedded,
  broker: true,
  clientConfig: ["secret = a secret made up for the dashboard's picture, long enough"],
});
const dashboard = await startDashboard(cluster.configFile, ["--allow-control"]);
const pool = await cluster.pool();
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
try {
  await cluster.startNode(2, ["--label", "gpu"]);
  await cluster.startNode(2);
  // A map that runs for about ten seconds: a line on the throughput chart, then finished.
  await pool.map(
    async (x: number) => {
      await new Promise((resolve) => setTimeout(resolve, 40));
      return x * x;
    },
    Array.from({ length: 800 }, (_, i) => i),
  );
  // A map held at 40 of 96 items until the picture is taken: every thread busy, chunks prefetched behind them.
  const held = pool.map(
    async (x: number) => {
      while (x >= 40 && !memory.get("go")) await new Promise((resolve) => setTimeout(resolve, 10));
      return x + 1;
    },
    Array.from({ length: 96 }, (_, i) => i),
  );
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(dashboard.url);
  await page.waitForFunction(
    `[...document.querySelectorAll("#nodes tbody tr")].map((row) => row.querySelector(".busy").textContent + "/" + row.querySelector(".prefetched").textContent).join(" ") === "2/2 2/2"`,
    undefined,
    { timeout: 30_000 },
  );
  await page.screenshot({ path: out });
  process.stdout.write(`${out}\n`);
  await pool.setMemory({ go: true });
  await held;
} finally {
  await browser.close();
  await pool.close();
  await dashboard.stop();
  await cluster.close();
}
