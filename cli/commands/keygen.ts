/**
 * `glimpse-cluster keygen`: prints a new cluster secret and CURVE key pair as
 * config lines, to paste into the [client] section of every member's config
 * (clients, worker nodes, broker). Keep them private: whoever holds them is a
 * member of the cluster.
 */
import { randomBytes } from "node:crypto";
import type { Command } from "commander";
import { newCurveKeys } from "../../lib/security/curve.js";

export function registerKeygen(program: Command): void {
  program
    .command("keygen")
    .description(
      "print a new cluster secret and CURVE key pair, as lines for the [client] section of every member's config",
    )
    .option("--secret-only", "print only the secret (job and command signing)")
    .option("--curve-only", "print only the CURVE key pair (channel encryption)")
    .action((options: { secretOnly?: boolean; curveOnly?: boolean }) => {
      const lines = [
        "; glimpse-cluster keys: put these in the [client] section of every member's config, and keep them private",
      ];
      if (!options.curveOnly) lines.push(`secret = ${randomBytes(32).toString("base64url")}`);
      if (!options.secretOnly) {
        const keys = newCurveKeys();
        lines.push(`curve_public_key = ${keys.publicKey}`, `curve_secret_key = ${keys.secretKey}`);
      }
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
