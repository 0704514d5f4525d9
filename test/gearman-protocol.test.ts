/** Packet encoding and the incremental decoder, byte by byte. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { GearmanError } from "../lib/gearman/index.js";
import { PACKET_SPECS, type PacketName } from "../lib/gearman/packet-types.js";
import { encodePacket, decodeArgs, encodeRaw, type Packet } from "../lib/gearman/packet.js";
import { FrameDecoder } from "../lib/gearman/decoder.js";

function sampleArgs(name: PacketName): Record<string, string | Buffer> {
  const out: Record<string, string | Buffer> = {};
  for (const arg of PACKET_SPECS[name].args)
    out[arg] = arg === "data" ? Buffer.from([1, 0, 2, 0, 255]) : `${arg}-value`;
  return out;
}

/** Reads into one buffer that is overwritten after every read, as the job server's in-place reads are. */
const READ_BUFFER = Buffer.alloc(64 * 1024);

function decodeAll(
  stream: Buffer,
  cut: (i: number) => boolean,
  withText = false,
  copyFrom?: number,
): { packets: { type: number; body: Buffer }[]; lines: string[]; kept: { body: Buffer; copy: Buffer }[] } {
  const packets: { type: number; body: Buffer }[] = [];
  const lines: string[] = [];
  const kept: { body: Buffer; copy: Buffer }[] = [];
  const decoder = new FrameDecoder({
    onPacket: (p: Packet) => {
      packets.push({ type: p.type, body: Buffer.from(p.body) });
      if (copyFrom !== undefined) {
        // Small ones are views of the read, or memory of the decoder's own when they were cut across reads.
        if (p.body.length >= copyFrom) assert.ok(p.exclusive, `a body of ${p.body.length} bytes is the receiver's`);
        if (p.exclusive) kept.push({ body: p.body, copy: Buffer.from(p.body) });
      }
    },
    onText: withText ? (line) => lines.push(line) : undefined,
  });
  const read = (bytes: Buffer) => {
    if (copyFrom === undefined) return decoder.push(bytes);
    for (let at = 0; at < bytes.length; at += READ_BUFFER.length) {
      const n = bytes.copy(READ_BUFFER, 0, at, at + READ_BUFFER.length);
      decoder.pushBorrowed(READ_BUFFER.subarray(0, n), copyFrom);
      READ_BUFFER.fill(0xa5);
    }
  };
  let start = 0;
  for (let i = 1; i <= stream.length; i++) {
    if (i === stream.length || cut(i)) {
      read(stream.subarray(start, i));
      start = i;
    }
  }
  return { packets, lines, kept };
}

describe("gearman packets", () => {
  for (const name of Object.keys(PACKET_SPECS) as PacketName[]) {
    it(`${name} round-trips its arguments`, () => {
      const args = sampleArgs(name);
      const bytes = encodePacket("REQ", name, args as never);
      assert.equal(bytes.readUInt32BE(4), PACKET_SPECS[name].code);
      assert.equal(bytes.readUInt32BE(8), bytes.length - 12);
      const decoded = decodeArgs(name, bytes.subarray(12)) as Record<string, string | Buffer>;
      assert.deepEqual(decoded, args);
    });
  }

  it("refuses a NUL inside an argument that is not the last", () => {
    assert.throws(() => encodePacket("REQ", "SUBMIT_JOB", { func: "a\0b", unique: "", data: "" }), /NUL/);
  });

  it("reports missing arguments when decoding", () => {
    assert.throws(
      () => decodeArgs("JOB_ASSIGN_UNIQ", Buffer.from("handle\0func")),
      (e: unknown) => e instanceof GearmanError && e.code === "PROTOCOL",
    );
  });
});

describe("FrameDecoder", () => {
  const names = Object.keys(PACKET_SPECS) as PacketName[];
  const stream = Buffer.concat(names.map((name) => encodePacket("RES", name, sampleArgs(name) as never)));
  const whole = decodeAll(stream, () => false).packets;

  it("decodes many packets from one read", () => {
    assert.equal(whole.length, names.length);
    assert.deepEqual(
      whole.map((p) => p.type),
      names.map((n) => PACKET_SPECS[n].code),
    );
  });

  it("gives the same packets whatever the split: at every byte offset, byte by byte, and in random chunks", () => {
    for (let cut = 1; cut < stream.length; cut++) assert.deepEqual(decodeAll(stream, (i) => i === cut).packets, whole);
    assert.deepEqual(decodeAll(stream, () => true).packets, whole);
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 17 === 0;
    assert.deepEqual(decodeAll(stream, random).packets, whole);
  });

  it("mixes text admin lines with binary packets", () => {
    const mixed = Buffer.concat([Buffer.from("status\r\n"), encodeRaw("REQ", 16, ["hi"]), Buffer.from("workers\n")]);
    for (let cut = 1; cut < mixed.length; cut++) {
      const { packets, lines } = decodeAll(mixed, (i) => i === cut, true);
      assert.deepEqual(lines, ["status", "workers"]);
      assert.equal(packets.length, 1);
      assert.equal(packets[0].body.toString(), "hi");
    }
  });

  it("decodes borrowed reads (a buffer reused after each) into the same packets whatever the split", () => {
    for (let cut = 1; cut < stream.length; cut++)
      assert.deepEqual(decodeAll(stream, (i) => i === cut, false, 4096).packets, whole);
    assert.deepEqual(decodeAll(stream, () => true, false, 4096).packets, whole);
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 13 === 0;
    assert.deepEqual(decodeAll(stream, random, false, 4096).packets, whole);
  });

  it("copies a borrowed read's large packets out (the receiver may keep them) and views only small ones", () => {
    const sizes = [8, 4095, 4096, 5000, 70_000, 300_000, 3, 200_000, 8];
    const bodies = sizes.map((n, k) => Buffer.alloc(n, k + 1));
    const big = Buffer.concat(bodies.map((body) => encodeRaw("REQ", 13, [body])));
    let seed = 3;
    const cuts: ((i: number) => boolean)[] = [
      () => false, // whole, in reads of 64 KiB
      (i) => i % 65_536 === 0,
      (i) => i % 1000 === 0,
      (i) => i % 7 === 0 && i < 100,
      () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 5000 === 0,
    ];
    for (const cut of cuts) {
      const { packets, kept } = decodeAll(big, cut, false, 4096);
      assert.deepEqual(
        packets.map((p) => p.body),
        bodies,
      );
      assert.equal(kept.filter(({ body }) => body.length >= 4096).length, 5);
      for (const { body, copy } of kept) assert.ok(body.equals(copy), "a kept body outlives the reads after it");
    }
  });

  it("mixes text admin lines with binary packets in borrowed reads", () => {
    const mixed = Buffer.concat([Buffer.from("status\r\n"), encodeRaw("REQ", 16, ["hi"]), Buffer.from("workers\n")]);
    for (let cut = 1; cut < mixed.length; cut++) {
      const { packets, lines } = decodeAll(mixed, (i) => i === cut, true, 4096);
      assert.deepEqual(lines, ["status", "workers"]);
      assert.deepEqual(
        packets.map((p) => p.body.toString()),
        ["hi"],
      );
    }
    assert.throws(() => {
      const decoder = new FrameDecoder({ onPacket: () => {}, onText: () => {}, maxLineLength: 10 });
      for (let k = 0; k < 4; k++) decoder.pushBorrowed(Buffer.from("aaaaa"), 4096);
    }, /longer than 10/);
  });

  it("rejects bad magic, oversize packets and unexpected text with clear errors", () => {
    const decoder = (options = {}) => new FrameDecoder({ onPacket: () => {}, peer: "10.0.0.1:1234", ...options });
    assert.throws(
      () => decoder().push(Buffer.from("\0XYZ\0\0\0\x01\0\0\0\0")),
      (e: unknown) =>
        e instanceof GearmanError && e.code === "PROTOCOL" && /magic/.test(e.message) && /10\.0\.0\.1/.test(e.message),
    );
    const big = Buffer.alloc(12);
    big.write("\0REQ");
    big.writeUInt32BE(7, 4);
    big.writeUInt32BE(1000, 8);
    assert.throws(
      () => decoder({ maxPacketSize: 999 }).push(big),
      (e: unknown) => e instanceof GearmanError && e.code === "PACKET_TOO_LARGE" && /1000/.test(e.message),
    );
    assert.throws(
      () => decoder({ maxPacketSize: 999 }).pushBorrowed(big, 4096),
      (e: unknown) => e instanceof GearmanError && e.code === "PACKET_TOO_LARGE" && /1000/.test(e.message),
    );
    assert.throws(
      () => decoder().push(Buffer.from("GET / HTTP/1.1\r\n")),
      (e: unknown) => e instanceof GearmanError && e.code === "PROTOCOL",
    );
    assert.throws(() => decoder({ expect: "RES" }).push(encodeRaw("REQ", 6, [])), /expected \\0RES/);
    assert.throws(
      () => decoder({ onText: () => {}, maxLineLength: 10 }).push(Buffer.from("a".repeat(20))),
      /longer than 10/,
    );
  });
});
