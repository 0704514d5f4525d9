/**
 * Estimates pi from a million random points, spread over the cluster in 100
 * items of 10,000 samples each.
 *
 *   npm run build && node dist/examples/monte-carlo-pi.js [config.ini]
 */
import { MakePool } from "../lib/index.js";

/** Throws 10,000 random points at the unit square and counts those inside the quarter circle. */
export function insideCircle(_item: number): number {
  let inside = 0;
  for (let i = 0; i < 10_000; i++) {
    const x = Math.random();
    const y = Math.random();
    if (x * x + y * y <= 1) inside++;
  }
  return inside;
}

const pool = await MakePool(process.argv[2]);
try {
  const seeds = Array.from({ length: 100 }, (_, i) => i + 1);
  const started = performance.now();
  const counts = await pool.map(insideCircle, seeds, {
    onProgress: ({ done, total }) => process.stderr.write(`\r${done}/${total}`),
  });
  const inside = counts.reduce((a, b) => a + b, 0);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `\npi ≈ ${(4 * inside) / (seeds.length * 10_000)} from ${seeds.length * 10_000} samples in ${seconds.toFixed(2)} s`,
  );
} finally {
  await pool.close();
}
