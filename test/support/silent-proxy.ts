/**
 * A TCP proxy on loopback that can fall silent: freeze() stops forwarding
 * either way and closes nothing, so both ends see what a cut link shows them
 * (their bytes leave and nothing comes back), without network namespaces.
 * For the unit tests of liveness; faults across real links are
 * cluster-liveness.test.ts's, on simulated hosts.
 */
import net from "node:net";

export class SilentProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private frozen = false;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((downstream) => {
      const upstream = net.connect(this.target);
      for (const [from, to] of [
        [downstream, upstream],
        [upstream, downstream],
      ]) {
        this.sockets.add(from);
        from.on("data", (chunk: Buffer) => {
          if (!this.frozen) to.write(chunk);
        });
        from.on("error", () => {});
        from.on("close", () => {
          this.sockets.delete(from);
          // Closed by an end while the link works: pass it on, as a link would.
          if (!this.frozen) to.destroy();
        });
      }
    });
  }

  static async start(target: { host: string; port: number }): Promise<SilentProxy> {
    const proxy = new SilentProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  /** "127.0.0.1:PORT" */
  get url(): string {
    return `127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
  }

  /** From now on nothing passes, either way; nothing is closed. */
  freeze(): void {
    this.frozen = true;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
