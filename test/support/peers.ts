/**
 * The optional peers some tests run beside our own code: programs and
 * modules from Debian that a machine with only Node does not have.
 *
 *   missingPeer("openssl") ──► undefined: installed, run the test
 *                          └─► "needs the openssl command: not installed (apt-get install openssl)": the skip reason
 *                          └─► throws, when GLIMPSE_REQUIRE_PEERS (or GLIMPSE_REQUIRE_GEARMAND=1) requires it
 *
 * GLIMPSE_REQUIRE_PEERS is a comma-separated list of peer names (see
 * PEER_NAMES), or `all`; CI sets it so that a missing peer fails the run
 * instead of skipping its tests. A name it does not know is an error too.
 * GLIMPSE_REQUIRE_GEARMAND=1 and GLIMPSE_REQUIRE_BROWSER=1 require gearmand
 * and chromium alone.
 */
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";

interface Peer {
  /** What the skip reason says the test needs. */
  readonly what: string;
  /** The Debian packages that bring it. */
  readonly packages: string;
  readonly installed: () => boolean;
  /** Why it is missing, where "not installed" would not say it. Default: not installed (apt-get install PACKAGES). */
  readonly why?: () => string;
}

/** Directories searched for programs besides PATH: gearmand lives in sbin, which a user's PATH may lack. */
const SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/** The executable called `name` on PATH (or in an sbin directory), if any. */
export function programPath(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(path.delimiter).filter(Boolean), ...SBIN];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Debian's chromium (or chromium-browser elsewhere) on PATH, for the browser tests (playwright-core drives it). */
export function chromiumPath(): string | undefined {
  return programPath("chromium") ?? programPath("chromium-browser");
}

/** True when the program (a name on PATH, or an absolute path) is there and the command exits 0. */
function runs(program: string, args: string[]): boolean {
  const found = path.isAbsolute(program) ? program : programPath(program);
  return found !== undefined && spawnSync(found, args, { stdio: "ignore", timeout: 30_000 }).status === 0;
}

/**
 * Why network namespaces cannot be made here (root and iproute2's `ip netns`
 * are needed), or undefined when they can: makes and removes one to be sure.
 */
function netnsProblem(): string | undefined {
  if (process.getuid?.() !== 0) return "not running as root (making network namespaces needs it)";
  if (programPath("ip") === undefined) return "the ip command is not installed (apt-get install iproute2)";
  const name = `glimpse-${process.pid}-probe`;
  const add = spawnSync("ip", ["netns", "add", name], { encoding: "utf8", timeout: 10_000 });
  if (add.status !== 0) return `ip netns add failed: ${add.stderr?.trim() || String(add.error)}`;
  spawnSync("ip", ["netns", "del", name], { timeout: 10_000 });
  return undefined;
}

const PEERS = {
  gearmand: {
    what: "gearmand",
    packages: "gearman-job-server",
    installed: () => programPath("gearmand") !== undefined,
  },
  "gearman-tools": {
    what: "the gearman and gearadmin command-line tools",
    packages: "gearman-tools",
    installed: () => programPath("gearman") !== undefined && programPath("gearadmin") !== undefined,
  },
  "perl-gearman": {
    what: "Perl's Gearman::Client and Gearman::Worker",
    packages: "libgearman-client-perl",
    installed: () => runs("perl", ["-MGearman::Client", "-MGearman::Worker", "-e1"]),
  },
  "php-gearman": {
    what: "php with the gearman extension",
    packages: "php-cli php-gearman",
    installed: () => runs("php", ["-r", "exit(extension_loaded('gearman') ? 0 : 1);"]),
  },
  // Debian's Python packages (python3-distributed, for the benchmarks' Dask) install for this interpreter only, not for a python3 elsewhere on PATH.
  python3: {
    what: "Debian's python3 (/usr/bin/python3)",
    packages: "python3",
    installed: () => runs("/usr/bin/python3", ["-c", "import multiprocessing"]),
  },
  openssl: { what: "the openssl command", packages: "openssl", installed: () => programPath("openssl") !== undefined },
  chromium: {
    what: "Chromium (chromium on PATH)",
    packages: "chromium",
    installed: () => chromiumPath() !== undefined && runs(chromiumPath()!, ["--version"]),
  },
  // Simulated hosts (test/support/netns.ts): network namespaces on a bridge.
  netns: {
    what: "network namespaces (root and ip netns)",
    packages: "iproute2",
    installed: () => netnsProblem() === undefined,
    why: () => netnsProblem() ?? "unavailable",
  },
} satisfies Record<string, Peer>;

export type PeerName = keyof typeof PEERS;
export const PEER_NAMES = Object.keys(PEERS) as PeerName[];

/** The peers the environment requires, each with the variable that requires it. */
function requiredPeers(): Map<PeerName, string> {
  const required = new Map<PeerName, string>();
  const listed = (process.env.GLIMPSE_REQUIRE_PEERS ?? "")
    .split(",")
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of listed) {
    if (name === "all") PEER_NAMES.forEach((peer) => required.set(peer, "GLIMPSE_REQUIRE_PEERS"));
    else if (name in PEERS) required.set(name as PeerName, "GLIMPSE_REQUIRE_PEERS");
    else
      throw new Error(`GLIMPSE_REQUIRE_PEERS: no peer is called "${name}" (known: ${PEER_NAMES.join(", ")}, or all)`);
  }
  if (process.env.GLIMPSE_REQUIRE_GEARMAND === "1") required.set("gearmand", "GLIMPSE_REQUIRE_GEARMAND=1");
  if (process.env.GLIMPSE_REQUIRE_BROWSER === "1") required.set("chromium", "GLIMPSE_REQUIRE_BROWSER=1");
  return required;
}

const REQUIRED = requiredPeers();
const installed = new Map<PeerName, boolean>();

/**
 * Why a test that needs this peer cannot run here (a skip reason naming the
 * Debian packages to install), or undefined when it is installed. Throws
 * when the environment requires the missing peer.
 */
export function missingPeer(name: PeerName): string | undefined {
  const peer: Peer = PEERS[name];
  if (!installed.has(name)) installed.set(name, peer.installed());
  if (installed.get(name)) return undefined;
  const requiredBy = REQUIRED.get(name);
  if (requiredBy !== undefined)
    throw new Error(
      `${requiredBy} requires ${name} (${peer.what}), which is missing here: ${peer.why?.() ?? `not installed (apt-get install ${peer.packages})`}`,
    );
  return `needs ${peer.what}: ${peer.why?.() ?? `not installed (apt-get install ${peer.packages})`}`;
}
