/**
 * Simulated hosts for tests that cross a network: Linux network namespaces
 * joined by one bridge, made and removed by the test (root only).
 *
 *   namespace glimpse-PID-N-sw:   bridge br0 ── port p-js1 ── port p-w1 ── ...        (the switch)
 *                                                 │ veth        │ veth
 *   namespace glimpse-PID-N-js1:             eth0 10.213.0.1    │
 *   namespace glimpse-PID-N-w1:                            eth0 10.213.0.2
 *
 * Even the bridge lives in a namespace of its own, so the test adds no
 * interface, address or route to the machine's own namespace, and nothing
 * there can reach the hosts' addresses (10.213.0.0/24, used only inside these
 * namespaces; every network has its own switch, so tests in several processes
 * may use the same addresses). A host's processes run with `ip netns exec`.
 *
 * A cut is `ip link set dev p-HOST down` on the switch's side of the host's
 * veth: the host's link loses its carrier and every packet to or from it
 * vanishes, with no RST and no error for connections already open (as when a
 * switch port, a VM or a cloud network fails). heal() sets it up again.
 *
 * Namespaces are named after the test process's pid. close() removes them, a
 * handler at exit (and on SIGINT/SIGTERM) removes whatever is left, and the
 * first network a process makes sweeps the namespaces of processes that are
 * gone (killed with SIGKILL, say), killing what still runs in them. Whether
 * this machine can run them at all: missingPeer("netns") (peers.ts).
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";

const PREFIX = "glimpse-";
const SUBNET = "10.213.0";

/** Runs `ip ARGS...`; throws with its stderr when it fails. */
function ip(...args: string[]): string {
  const run = spawnSync("ip", args, { encoding: "utf8", timeout: 10_000 });
  if (run.status !== 0) throw new Error(`ip ${args.join(" ")} failed (${run.status}): ${run.stderr || run.error}`);
  return run.stdout;
}

function namespaces(): string[] {
  const run = spawnSync("ip", ["netns", "list"], { encoding: "utf8" });
  return run.status === 0
    ? run.stdout
        .split("\n")
        .map((line) => line.split(" ")[0])
        .filter(Boolean)
    : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** SIGKILLs every process in the namespace, then deletes it. Never throws (cleanup). */
function removeNamespace(name: string): void {
  const pids = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" });
  for (const pid of (pids.stdout ?? "").split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), "SIGKILL");
    } catch {
      // already gone
    }
  }
  spawnSync("ip", ["netns", "del", name]);
}

/** Namespaces made by test processes that no longer run. */
function sweepStale(): void {
  for (const name of namespaces()) {
    const match = /^glimpse-(\d+)-/.exec(name);
    if (match && Number(match[1]) !== process.pid && !alive(Number(match[1]))) removeNamespace(name);
  }
}

/** Every namespace this process made and has not removed yet. */
const made = new Set<string>();
let installed = false;

function removeAll(): void {
  for (const name of made) removeNamespace(name);
  made.clear();
}

function installCleanup(): void {
  if (installed) return;
  installed = true;
  sweepStale();
  process.once("exit", removeAll);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      removeAll();
      process.exit(128 + (signal === "SIGINT" ? 2 : 15));
    });
  }
}

let networks = 0;

export class SimulatedNetwork {
  readonly hosts = new Map<string, SimulatedHost>();
  private readonly switchNs: string;
  private readonly prefix: string;
  private closed = false;

  constructor() {
    installCleanup();
    this.prefix = `${PREFIX}${process.pid}-${++networks}-`;
    this.switchNs = `${this.prefix}sw`;
    this.addNamespace(this.switchNs);
    ip("-n", this.switchNs, "link", "add", "name", "br0", "type", "bridge");
    ip("-n", this.switchNs, "link", "set", "dev", "br0", "up");
  }

  private addNamespace(name: string): void {
    ip("netns", "add", name);
    made.add(name);
    ip("-n", name, "link", "set", "dev", "lo", "up");
  }

  /** A new host on the bridge, at the next address of the network's /24. Names: letters and digits, ≤ 8 characters. */
  addHost(name: string): SimulatedHost {
    if (!/^[a-z][a-z0-9]{0,7}$/.test(name))
      throw new Error(`host name ${JSON.stringify(name)}: letters and digits, ≤ 8`);
    if (this.hosts.has(name)) throw new Error(`host ${name} exists already`);
    const ns = `${this.prefix}${name}`;
    const port = `p-${name}`;
    const address = `${SUBNET}.${this.hosts.size + 1}`;
    this.addNamespace(ns);
    ip("-n", this.switchNs, "link", "add", "name", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
    ip("-n", this.switchNs, "link", "set", "dev", port, "master", "br0", "up");
    ip("-n", ns, "addr", "add", `${address}/24`, "dev", "eth0");
    ip("-n", ns, "link", "set", "dev", "eth0", "up");
    const host = new SimulatedHost(name, ns, address, (up) =>
      ip("-n", this.switchNs, "link", "set", "dev", port, up ? "up" : "down"),
    );
    this.hosts.set(name, host);
    return host;
  }

  /** Kills every process still running on the hosts and removes every namespace. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const host of this.hosts.values()) {
      removeNamespace(host.ns);
      made.delete(host.ns);
    }
    removeNamespace(this.switchNs);
    made.delete(this.switchNs);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export class SimulatedHost {
  private linkUp = true;
  constructor(
    readonly name: string,
    /** Its namespace. */
    readonly ns: string,
    /** Its one address on the bridge. */
    readonly address: string,
    private readonly setLink: (up: boolean) => void,
  ) {}

  /** Starts `command` inside this host's namespace (`ip netns exec`, which execs it: the child is the command). */
  spawn(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    return spawn("ip", ["netns", "exec", this.ns, command, ...args], options);
  }

  /** Runs a command inside the namespace and returns its stdout; throws on failure. */
  run(command: string, args: readonly string[]): string {
    const run = spawnSync("ip", ["netns", "exec", this.ns, command, ...args], { encoding: "utf8", timeout: 30_000 });
    if (run.status !== 0)
      throw new Error(`${command} ${args.join(" ")} on ${this.name} failed (${run.status}): ${run.stderr}`);
    return run.stdout;
  }

  get isCut(): boolean {
    return !this.linkUp;
  }

  /** The host's link goes down at the switch: a silent partition. */
  cut(): void {
    this.setLink(false);
    this.linkUp = false;
  }

  heal(): void {
    this.setLink(true);
    this.linkUp = true;
  }
}
