import type { Command } from "commander";

/** Placeholder until the embedded job server lands (lib/server). */
export function registerJobServer(program: Command): void {
  program
    .command("job-server")
    .description("run the embedded Gearman job server (not built yet)")
    .action(() => {
      throw new Error("the embedded job server is not implemented yet");
    });
}
