/**
 * The original Glimpse example: hex over a few numbers, computed on worker nodes.
 *
 *   npm run build && node dist/examples/hex.js              # a local cluster (embedded job server, one worker node)
 *   node dist/examples/hex.js config.ini                    # a real cluster
 */
import { MakePool } from "../lib/index.js";

function hex(x: number): string {
  return "0x" + x.toString(16);
}

const pool = await MakePool(process.argv[2]);
try {
  console.log(await pool.map(hex, [1, 2, 3, 255, 4096]));
} finally {
  await pool.close();
}
