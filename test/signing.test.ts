/** Signing pieces on their own: cluster keys, the replay guard, signed chunks, function policies, the security config keys. */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ClusterKey, SIGNATURE_BYTES } from "../lib/security/cluster-key.js";
import { MessageGuard } from "../lib/security/message-guard.js";
import { ReplayGuard } from "../lib/security/replay-guard.js";
import { SignatureError } from "../lib/security/index.js";
import { encodeChunkRequest, decodeChunkRequest } from "../lib/wire/chunk-codec.js";
import { encodeChunkResponse, decodeChunkResponse } from "../lib/wire/chunk-response.js";
import { signChunk, signChunkInPlace, verifyChunk, chunkNonce, isSignedChunk } from "../lib/wire/chunk-signing.js";
import { toFunctionRef, moduleFunction } from "../lib/wire/function-ref.js";
import { decodeOutputRecord, encodeOutputRecord } from "../lib/wire/output-record.js";
import { WireFormatError } from "../lib/wire/errors.js";
import { checkFunction, resolvePolicy } from "../lib/node/function-policy.js";
import { FunctionRefusedError } from "../lib/node/errors.js";
import { loadConfig, ConfigError } from "../lib/config/index.js";

const SECRET = "correct horse battery staple, and a few more words";
const key = new ClusterKey(SECRET);
const refusal = (reason: string) => (e: unknown) => e instanceof SignatureError && e.reason === reason;
const request = () =>
  encodeChunkRequest({
    fn: toFunctionRef((x: number) => x * 2),
    items: [1, 2, 3],
    start: 0,
    mapId: "m",
    chunk: 0,
    memoryVersion: 0,
  });

describe("cluster key", () => {
  it("signs and verifies; another key, altered bytes or moved bytes do not verify", () => {
    const parts = [Buffer.from("topic"), Buffer.from("body")];
    const trailer = key.sign("command", parts);
    assert.equal(trailer.length, SIGNATURE_BYTES);
    assert.ok(key.verify("command", parts, trailer, "m").nonce.length === 32);
    assert.throws(
      () => new ClusterKey("another secret of enough bytes").verify("command", parts, trailer, "m"),
      refusal("forged"),
    );
    assert.throws(
      () => key.verify("command", [Buffer.from("topic"), Buffer.from("bodY")], trailer, "m"),
      refusal("forged"),
    );
    assert.throws(
      () => key.verify("command", [Buffer.from("topicb"), Buffer.from("ody")], trailer, "m"),
      refusal("forged"),
    );
    assert.throws(
      () => key.verify("log", parts, trailer, "m"),
      refusal("forged"),
      "a command signature is no log signature",
    );
  });

  it("gives every signature its own nonce, across keys of one process", () => {
    const other = new ClusterKey("another secret of enough bytes");
    const nonces = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      for (const k of [key, other])
        nonces.add(k.verify("log", [Buffer.from("x")], k.sign("log", [Buffer.from("x")]), "m").nonce);
    }
    assert.equal(nonces.size, 2000);
  });

  it("refuses secrets shorter than 16 bytes", () => {
    assert.throws(() => new ClusterKey("short"), /at least 16 bytes/);
  });
});

describe("replay guard", () => {
  it("admits a nonce once, refuses old and future times", () => {
    const guard = new ReplayGuard({ maxAgeMs: 1000, maxSkewMs: 100 });
    assert.equal(guard.admit("a", 10_000, 10_000), undefined);
    assert.equal(guard.admit("a", 10_000, 10_001), "replayed");
    assert.equal(guard.admit("b", 8_999, 10_000), "stale");
    assert.equal(guard.admit("c", 10_101, 10_000), "stale");
    assert.equal(guard.admit("d", 10_050, 10_000), undefined);
  });

  it("stays within its capacity and never admits a forgotten nonce again", () => {
    const guard = new ReplayGuard({ maxAgeMs: 60_000, capacity: 100 });
    for (let i = 0; i < 1000; i++) assert.equal(guard.admit(`n${i}`, 1000 + i, 2000), undefined);
    assert.equal(guard.size, 100);
    assert.equal(guard.admit("n5", 1005, 2000), "stale", "forgotten, but below the floor");
    assert.equal(guard.admit("n999", 1999, 2000), "replayed");
  });

  it("forgets nonces once they age out", () => {
    const guard = new ReplayGuard({ maxAgeMs: 1000 });
    for (let i = 0; i < 50; i++) guard.admit(`n${i}`, 1000, 1000);
    assert.equal(guard.admit("late", 5000, 5000), undefined);
    assert.equal(guard.size, 1);
  });
});

describe("signed chunks", () => {
  it("a signed request decodes like the unsigned one and verifies once", () => {
    const unsigned = request();
    const signed = signChunk(unsigned, key);
    assert.ok(isSignedChunk(signed) && !isSignedChunk(unsigned));
    assert.deepEqual(Array.from(decodeChunkRequest(signed).items), [1, 2, 3]);
    const guard = new MessageGuard(key);
    assert.ok(verifyChunk(signed, guard, "chunk"));
    assert.throws(() => verifyChunk(signed, guard, "chunk"), refusal("replayed"));
  });

  it("signs in place into the room the encoders leave, copying only bytes without room", () => {
    const unsigned = request();
    const signed = signChunkInPlace(unsigned, key);
    assert.ok(signed.buffer === unsigned.buffer, "no copy: the signature went into the room after the payload");
    assert.equal(signed.length, unsigned.length + SIGNATURE_BYTES);
    assert.ok(verifyChunk(signed, new MessageGuard(key), "chunk"));
    assert.deepEqual(Array.from(decodeChunkRequest(signed).items), [1, 2, 3]);
    assert.throws(() => signChunkInPlace(unsigned, key), /already signed/, "the payload is spent once signed");
    for (const foreign of [Buffer.from(request()), Buffer.from(request().toString("latin1").padEnd(8000), "latin1")]) {
      // A copy in a Buffer pool slab (room after it that belongs to other buffers), and one in a buffer of its own with no room.
      const copied = signChunkInPlace(foreign, key);
      const inPlace = copied.buffer === foreign.buffer && copied.byteOffset === foreign.byteOffset;
      assert.ok(!inPlace && !isSignedChunk(foreign), "bytes not from the encoders are copied, not written after");
    }
  });

  it("refuses unsigned, forged, tampered and (without a secret) signed chunks", () => {
    const guard = new MessageGuard(key);
    assert.throws(() => verifyChunk(request(), guard, "chunk"), refusal("unsigned"));
    assert.throws(
      () => verifyChunk(signChunk(request(), new ClusterKey("some other secret!!")), guard, "chunk"),
      refusal("forged"),
    );
    const tampered = signChunk(request(), key);
    tampered[tampered.length - SIGNATURE_BYTES - 2] ^= 1;
    assert.throws(() => verifyChunk(tampered, guard, "chunk"), refusal("forged"));
    const cleared = signChunk(request(), key);
    cleared[7] = 0; // flag cleared: now the trailer is read as body bytes and there is no signature
    assert.throws(() => verifyChunk(cleared, guard, "chunk"), refusal("unsigned"));
    assert.throws(() => verifyChunk(signChunk(request(), key), undefined, "chunk"), refusal("no-secret"));
    assert.equal(verifyChunk(request(), undefined, "chunk"), undefined);
  });

  it("a response verifies only for the request it answers", () => {
    const first = signChunk(request(), key);
    const second = signChunk(request(), key);
    const response = signChunk(
      encodeChunkResponse({ ok: true, results: [2, 4, 6], host: "h", pid: 1, elapsedMs: 1 }),
      key,
      chunkNonce(first),
    );
    assert.deepEqual((decodeChunkResponse(response) as { results: unknown[] }).results, [2, 4, 6]);
    assert.throws(
      () => verifyChunk(response, new MessageGuard(key), "response", chunkNonce(second)),
      refusal("forged"),
    );
    assert.ok(verifyChunk(response, new MessageGuard(key), "response", chunkNonce(first)));
    // A signed request is no signed response: each kind has its own key.
    const asResponse = Buffer.from(first);
    asResponse[5] = 2;
    assert.throws(() => verifyChunk(asResponse, new MessageGuard(key), "response"), refusal("forged"));
  });
});

describe("output records (a chunk's console lines, on its job)", () => {
  const line = { index: 7, stream: "stderr", text: "hello\nworld ☃", host: "gear1", pid: 42 } as const;

  it("an unsigned record reads back as written; a malformed one is refused naming the job and what is wrong", () => {
    assert.deepEqual(decodeOutputRecord(encodeOutputRecord(line), "output of chunk 0"), line);
    const bad = (bytes: string, why: RegExp) =>
      assert.throws(
        () => decodeOutputRecord(Buffer.from(bytes), "output of chunk 3 (job H:x:1)"),
        (error: unknown) =>
          error instanceof WireFormatError &&
          error.message.startsWith("output of chunk 3 (job H:x:1): ") &&
          why.test(error.message),
      );
    bad("{not json", /not JSON/);
    bad(JSON.stringify({ ...line, v: 2 }), /output record version 2, expected 1/);
    bad(JSON.stringify({ ...line, v: 1, stream: "stdin" }), /lacks index, stream, text, host or pid/);
    bad(JSON.stringify({ ...line, v: 1, index: "7" }), /lacks index, stream, text, host or pid/);
  });

  it("a signed record verifies once, for the request it belongs to, with the cluster's key only", () => {
    const first = chunkNonce(signChunk(request(), key));
    const second = chunkNonce(signChunk(request(), key));
    const signed = encodeOutputRecord(line, key, first);
    const check = (requestNonce: Buffer | undefined, with_ = key) => ({
      key: with_,
      requestNonce,
      seen: new Set<string>(),
    });
    const attempt = check(first);
    assert.deepEqual(decodeOutputRecord(signed, "output", attempt), line);
    assert.throws(() => decodeOutputRecord(signed, "output", attempt), refusal("replayed"));
    assert.throws(() => decodeOutputRecord(signed, "output", check(second)), refusal("forged"));
    const other = new ClusterKey("another secret of at least sixteen bytes");
    assert.throws(() => decodeOutputRecord(signed, "output", check(first, other)), refusal("forged"));
    assert.throws(() => decodeOutputRecord(encodeOutputRecord(line), "output", check(first)), refusal("forged"));
    assert.throws(() => decodeOutputRecord(Buffer.from("{}"), "output", check(first)), refusal("unsigned"));
    const altered = Buffer.from(signed);
    altered[altered.indexOf("gear1")] = "G".charCodeAt(0);
    assert.throws(() => decodeOutputRecord(altered, "output", check(first)), refusal("forged"));
    // A log-channel record of the same key is bound to no request: it does not pass for an output record.
    const unbound = encodeOutputRecord(line, key);
    assert.throws(() => decodeOutputRecord(unbound, "output", check(first)), refusal("forged"));
  });
});

describe("function policy", () => {
  const source = toFunctionRef((x: number) => x);
  const tasks = moduleFunction("file:///opt/tasks/math.js", "double");

  it("auto allows source with a secret or loopback-only job servers, not otherwise", () => {
    assert.equal(resolvePolicy("auto", true, ["10.0.0.5:4730"], []).allowSource, true);
    assert.equal(
      resolvePolicy("auto", false, ["unix:/tmp/glimpse-x/jobs.sock", "127.0.0.1:4730"], []).allowSource,
      true,
      "a Unix socket is this machine's",
    );
    assert.equal(
      resolvePolicy("auto", false, ["127.0.0.1:4730", "localhost:4731", "[::1]:4730"], []).allowSource,
      true,
    );
    const remote = resolvePolicy("auto", false, ["127.0.0.1:4730", "10.0.0.5:4730"], []);
    assert.equal(remote.allowSource, false);
    assert.match(remote.why, /10\.0\.0\.5:4730 is not on loopback/);
    assert.equal(resolvePolicy(false, true, ["127.0.0.1:4730"], []).allowSource, false);
  });

  it("without source, only allow-listed modules run; '..' cannot escape a prefix", () => {
    const policy = resolvePolicy(false, false, ["127.0.0.1:4730"], ["file:///opt/tasks/", "my-package"]);
    assert.throws(
      () => checkFunction(source, policy),
      (e: unknown) => e instanceof FunctionRefusedError && /shipped as source/.test((e as Error).message),
    );
    assert.throws(() => checkFunction({ kind: "cached", key: "k" }, policy), FunctionRefusedError);
    checkFunction({ kind: "module", specifier: tasks.specifier, exportName: "double" }, policy);
    checkFunction({ kind: "module", specifier: "my-package", exportName: "f" }, policy);
    for (const specifier of [
      "file:///opt/tasks/../../etc/evil.js",
      "file:///opt/tasksx/a.js",
      "node:child_process",
      "data:text/javascript,export default 1",
      "my-package-evil",
    ]) {
      assert.throws(
        () => checkFunction({ kind: "module", specifier, exportName: "f" }, policy),
        FunctionRefusedError,
        specifier,
      );
    }
  });
});

describe("security config keys", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "glimpse-signing-"));
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it("reads secret, secret_file (relative to its config) and GLIMPSE_CLUSTER_SECRET, in that order", () => {
    assert.equal(loadConfig({ client: { secret: SECRET } }, {})!.client.secret, SECRET);
    write("cluster.secret", `${SECRET}\n`);
    const file = write("a.ini", "[client]\nsecret_file = cluster.secret\n");
    assert.equal(loadConfig(file, {})!.client.secret, SECRET);
    assert.equal(
      loadConfig({ client: {} }, { GLIMPSE_CLUSTER_SECRET: "from the environment, long enough for a secret" })!.client
        .secret,
      "from the environment, long enough for a secret",
    );
    assert.equal(
      loadConfig(
        { client: { secret: SECRET } },
        { GLIMPSE_CLUSTER_SECRET: "from the environment, long enough for a secret" },
      )!.client.secret,
      SECRET,
    );
    assert.equal(loadConfig({ client: {} }, {})!.client.secret, undefined);
  });

  it("names the file and key of a bad secret without echoing it", () => {
    const file = write("b.ini", "[client]\nsecret = tooshort\n");
    assert.throws(
      () => loadConfig(file, {}),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.includes(file) &&
        /\[client\] secret/.test(e.message) &&
        !e.message.includes("tooshort"),
    );
    const missing = write("c.ini", "[client]\nsecret_file = nowhere.secret\n");
    assert.throws(
      () => loadConfig(missing, {}),
      (e: unknown) => e instanceof ConfigError && /secret_file/.test(e.message) && /nowhere\.secret/.test(e.message),
    );
    assert.throws(() => loadConfig({ client: { secret: SECRET, secret_file: "x" } }, {}), /both set/);
    assert.throws(() => loadConfig({ client: {} }, { GLIMPSE_CLUSTER_SECRET: "short" }), /GLIMPSE_CLUSTER_SECRET/);
    assert.throws(
      () => loadConfig({ client: { curve_public_key: "a".repeat(40) } }, {}),
      /curve_secret_key is missing/,
    );
    assert.throws(() => loadConfig({ server: { allow_source: "sometimes" } }, {}), /true, false or auto/);
  });

  it("reads allow_source and allowed_modules", () => {
    const config = loadConfig(
      { server: { allow_source: "false", allowed_modules: "file:///opt/tasks/, my-package" } },
      {},
    )!;
    assert.equal(config.server.allowSource, false);
    assert.deepEqual(config.server.allowedModules, ["file:///opt/tasks/", "my-package"]);
    assert.equal(loadConfig({ client: {} }, {})!.server.allowSource, "auto");
  });

  after(() => rmSync(dir, { recursive: true, force: true }));
});
