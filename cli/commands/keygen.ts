/**
 * `glimpse-cluster keygen`: a new cluster secret and CURVE key pair as config
 * lines, to paste into the [client] section of every member's config
 * (clients, worker nodes, broker), under a comment line saying so. For
 * scripts: `--secret-only` prints the bare secret alone (32 random bytes,
 * base64url), e.g. `echo "GLIMPSE_CLUSTER_SECRET=$(glimpse-cluster keygen
 * --secret-only)"`; `--curve-only` the two CURVE lines alone. Both flags at
 * once select nothing: a usage error (exit 2). Keep what it prints private:
 * whoever holds it is a member of the cluster.
 */
import { randomBytes } from "node:crypto";
import type { Command } from "commander";
import { UsageError } from "../errors.js";

export function registerKeygen(program: Command): void {
  program
    .command("keygen")
    .description(
      "print a new cluster secret and CURVE key pair, as lines for the [client] section of every member's config",
    )
    .option("--secret-only", "print only the secret, bare (for scripts: GLIMPSE_CLUSTER_SECRET=$(... --secret-only))")
    .option("--curve-only", "print only the CURVE key pair lines (channel encryption)")
    .action(async (options: { secretOnly?: boolean; curveOnly?: boolean }) => {
      if (options.secretOnly && options.curveOnly)
        throw new UsageError(
          "--secret-only and --curve-only together select nothing: give one, or neither for both",
          "keygen",
        );
      const secret = randomBytes(32).toString("base64url");
      if (options.secretOnly) return void process.stdout.write(`${secret}\n`);
      const { newCurveKeys } = await import("../../lib/security/curve.js");
      const keys = newCurveKeys();
      const curve = [`curve_public_key = ${keys.publicKey}`, `curve_secret_key = ${keys.secretKey}`];
      if (options.curveOnly) return void process.stdout.write(`${curve.join("\n")}\n`);
      const lines = [
        "; glimpse-cluster keys: put these in the [client] section of every member's config, and keep them private",
        `secret = ${secret}`,
        ...curve,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });
}
