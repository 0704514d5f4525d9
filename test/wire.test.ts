/** The wire format, function references and remote errors. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import v8 from "node:v8";
import { encodeChunkRequest, decodeChunkRequest, readChunkRequest, Codec } from "../lib/wire/chunk-codec.js";
import { estimateItemBytes } from "../lib/wire/item-bytes.js";
import { encodeChunkResponse, decodeChunkResponse, decodeChunkResponseTyped } from "../lib/wire/chunk-response.js";
import { toFunctionRef } from "../lib/wire/function-ref.js";
import { freeNames } from "../lib/wire/free-names.js";
import { serializeError } from "../lib/wire/remote-error.js";
import { packNumbers, PACK_AT_LEAST } from "../lib/wire/packed-numbers.js";
import {
  moduleFunction,
  RemoteError,
  RemoteCause,
  FunctionShippingError,
  ItemSerializationError,
  WireFormatError,
} from "../lib/wire/index.js";
import { readHandBack, readNodeException, readRefusal, writeHandBack, writeRefusal } from "../lib/wire/protocol.js";
import { REFUSAL_REASONS } from "../lib/security/errors.js";
import { ArgumentError } from "../lib/argument-error.js";
import { joinChunks, autoChunksize, AUTO_CHUNK_BYTES, CHUNK_COST_BYTES } from "../lib/pool/chunks.js";

const fn = toFunctionRef((x: number) => x + 1);
const request = (items: ArrayLike<unknown>, codec?: Codec) =>
  encodeChunkRequest({ fn, items, start: 10, mapId: "m1", chunk: 2, memoryVersion: 7 }, codec);

describe("chunk codec", () => {
  it("round-trips rich values with the V8 codec", () => {
    const items = [
      1n,
      new Date(5),
      new Map([["k", new Set([1])]]),
      new Uint8Array([1, 2]),
      { nested: [null, undefined, -0, NaN] },
      /re/g,
      "text",
    ];
    const decoded = decodeChunkRequest(request(items));
    assert.deepEqual(decoded.items, items);
    assert.deepEqual(
      { ...decoded, items: undefined, codec: undefined, replyNumbers: undefined },
      {
        fn,
        items: undefined,
        replyNumbers: undefined,
        start: 10,
        mapId: "m1",
        chunk: 2,
        count: items.length,
        memoryVersion: 7,
        codec: undefined,
        spread: false,
        settle: false,
      },
    );
    const { codec, bodyStart, bodyEnd, ...meta } = readChunkRequest(request(items));
    assert.deepEqual(meta, {
      mapId: "m1",
      chunk: 2,
      start: 10,
      count: items.length,
      memoryVersion: 7,
      replyNumbers: true,
      spread: false,
      settle: false,
    });
    assert.ok(codec === Codec.V8 && bodyStart < bodyEnd);
  });

  it("round-trips with the JSON codec", () => {
    const decoded = decodeChunkRequest(request([1, "a", { b: [true] }], Codec.Json));
    assert.deepEqual(decoded.items, [1, "a", { b: [true] }]);
    assert.equal(decoded.codec, Codec.Json);
  });

  it("decodes a request written byte by byte as another language would", () => {
    const meta = Buffer.from('{"mapId":"py-1","chunk":0,"start":0,"count":2,"memoryVersion":0}');
    assert.equal(meta.length, 64);
    const body = Buffer.from(
      '{"fn":{"kind":"module","specifier":"file:///srv/tasks.js","exportName":"double"},"items":[1,2]}',
    );
    const bytes = Buffer.concat([Buffer.from([0x47, 0x4c, 0x4d, 0x50, 1, 1, 2, 0, 0, 0, 0, 0x40]), meta, body]);
    const decoded = decodeChunkRequest(bytes);
    assert.deepEqual(decoded.fn, { kind: "module", specifier: "file:///srv/tasks.js", exportName: "double" });
    assert.deepEqual(decoded.items, [1, 2]);
  });

  it("names the item that cannot be serialized", () => {
    assert.throws(
      () => request([1, 2, { f: () => 1 }]),
      (e: unknown) => e instanceof ItemSerializationError && e.index === 12 && /item 12/.test(e.message),
    );
  });

  it("refuses garbage with clear errors", () => {
    const good = request(["a"]);
    const cases: [Buffer, RegExp][] = [
      [Buffer.from("hello"), /shorter than the 12-byte header/],
      [Buffer.from("XXXX" + good.subarray(4).toString("latin1"), "latin1"), /bad magic/],
      [Buffer.concat([good.subarray(0, 4), Buffer.from([9]), good.subarray(5)]), /version 9/],
      [Buffer.concat([good.subarray(0, 6), Buffer.from([7]), good.subarray(7)]), /unknown codec 7/],
      [
        Buffer.concat([good.subarray(0, 7), Buffer.from([16]), good.subarray(8)]),
        /flags 16 are not supported in version 1/,
      ],
      [good.subarray(0, 20), /runs past the end|not JSON/],
      [Buffer.concat([good.subarray(0, good.length - 3)]), /does not decode|lacks/],
    ];
    for (const [bytes, message] of cases)
      assert.throws(
        () => decodeChunkRequest(bytes),
        (e: unknown) => e instanceof WireFormatError && message.test(e.message),
        message.source,
      );
    assert.throws(() => decodeChunkResponse(good), /kind 1, expected 2/);
  });

  it("carries results and errors back", () => {
    const ok = decodeChunkResponse(
      encodeChunkResponse({ ok: true, results: [new Date(1)], host: "h", pid: 3, elapsedMs: 1 }),
    );
    assert.deepEqual(ok, { ok: true, results: [new Date(1)], host: "h", pid: 3, elapsedMs: 1 });
    const thrown = new TypeError("bad", { cause: new Error("root") });
    const failed = decodeChunkResponse(
      encodeChunkResponse({ ok: false, index: 4, error: serializeError(thrown), host: "h", pid: 3, elapsedMs: 1 }),
    );
    assert.equal(failed.ok, false);
    if (failed.ok) return;
    const error = new RemoteError({
      functionName: "f",
      index: failed.index,
      host: failed.host,
      pid: failed.pid,
      error: failed.error,
    });
    assert.match(error.message, /^f\(item 4\) threw TypeError: bad on h:3$/);
    assert.equal((error.cause as Error).name, "TypeError");
    assert.equal((error.cause as Error).stack, thrown.stack);
    assert.equal(((error.cause as Error).cause as Error).message, "root");
    assert.equal(failed.results, undefined, "nothing was computed before the failing item");
  });

  it("an error response carries the results computed before the failing item, packed when they are numbers", () => {
    const error = serializeError(new Error("five"));
    for (const [results, codec] of [
      [[new Date(1), new Map([[1, 2]])], Codec.V8],
      [Array.from({ length: 40 }, (_, i) => i * 1.5), Codec.V8],
      [[{ a: 1 }, "b"], Codec.Json],
    ] as const) {
      const bytes = encodeChunkResponse(
        { ok: false, index: 9, error, results: [...results], host: "h", pid: 3, elapsedMs: 1 },
        codec,
      );
      const failed = decodeChunkResponse(bytes);
      assert.equal(failed.ok, false);
      assert.deepEqual(failed.ok ? undefined : failed.results, results);
    }
  });
});

describe("remote errors", () => {
  it("are rebuilt as RemoteCause with the remote code, or REMOTE_CAUSE when there was none", () => {
    const coded = Object.assign(new RangeError("out", { cause: new Error("inner") }), { code: "E_OUT" });
    const error = new RemoteError({ functionName: "f", index: 0, host: "h", pid: 1, error: serializeError(coded) });
    assert.equal(error.code, "REMOTE");
    const cause = error.cause as RemoteCause;
    assert.ok(cause instanceof RemoteCause);
    assert.equal(cause.name, "RangeError");
    assert.equal(cause.code, "E_OUT");
    assert.ok(cause.cause instanceof RemoteCause);
    assert.equal((cause.cause as RemoteCause).code, "REMOTE_CAUSE");
  });

  it("a thrown non-Error value is shown as util.inspect shows it, short, and an object's code is kept", () => {
    const thrown = (value: unknown) => {
      const error = new RemoteError({ functionName: "f", index: 0, host: "h", pid: 1, error: serializeError(value) });
      return { message: error.message, code: (error.cause as RemoteCause).code };
    };
    assert.deepEqual(thrown({ code: "E1", detail: 5 }), {
      message: "f(item 0) threw Error: a non-Error value was thrown: { code: 'E1', detail: 5 } on h:1",
      code: "E1",
    });
    assert.deepEqual(thrown({ code: 404 }).code, 404);
    assert.deepEqual(thrown({ code: { not: "a code" } }).code, "REMOTE_CAUSE");
    assert.deepEqual(
      ["bad thing", "", 42, undefined, null, 10n, Symbol("s"), [1, "a"]].map((value) => thrown(value).message),
      [
        "f(item 0) threw Error: a non-Error value was thrown: 'bad thing' on h:1",
        "f(item 0) threw Error: a non-Error value was thrown: '' on h:1",
        "f(item 0) threw Error: a non-Error value was thrown: 42 on h:1",
        "f(item 0) threw Error: a non-Error value was thrown: undefined on h:1",
        "f(item 0) threw Error: a non-Error value was thrown: null on h:1",
        "f(item 0) threw Error: a non-Error value was thrown: 10n on h:1",
        "f(item 0) threw Error: a non-Error value was thrown: Symbol(s) on h:1",
        "f(item 0) threw Error: a non-Error value was thrown: [ 1, 'a' ] on h:1",
      ],
    );
    // Depth-limited, on one line, and cut short: a thrown data set does not become the message.
    assert.equal(
      serializeError({ a: { b: { c: { d: 1 } } }, list: Array.from({ length: 20 }, (_, i) => i) }).message,
      "a non-Error value was thrown: { a: { b: { c: [Object] } }, list: [ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ... 10 more items ] }",
    );
    const wide = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key${i}`, "v".repeat(50)]));
    const long = serializeError(wide).message;
    assert.equal(long.length, "a non-Error value was thrown: ".length + 503);
    assert.ok(long.startsWith(`a non-Error value was thrown: { key0: '${"v".repeat(50)}', key1:`), long);
    assert.ok(long.endsWith("..."), long.slice(-20));
    assert.equal(
      serializeError({ text: "x".repeat(2000) }).message,
      `a non-Error value was thrown: { text: '${"x".repeat(200)}'... 1800 more characters }`,
    );
    // A non-Error cause of an Error is shown the same way, its code kept for retryOn.
    assert.deepEqual(serializeError(new Error("outer", { cause: { code: "E2" } })).cause, {
      name: "Error",
      message: "a non-Error value was thrown: { code: 'E2' }",
      code: "E2",
    });
  });
});

describe("a node's answers besides results", () => {
  it("a refusal reads back as it was written, for every reason, in the bytes docs/wire-format.md gives", () => {
    for (const reason of REFUSAL_REASONS) {
      const text = writeRefusal({ reason, detail: "worker node n1 refused chunk job H:x:1: why" });
      assert.equal(text, `glimpse-refused ${reason}: worker node n1 refused chunk job H:x:1: why`);
      assert.deepEqual(readRefusal(Buffer.from(text)), {
        reason,
        detail: "worker node n1 refused chunk job H:x:1: why",
      });
    }
  });

  it("any other exception is no refusal", () => {
    for (const text of [
      "WireFormatError: bad magic",
      "glimpse-refused",
      "glimpse-refused forged",
      "glimpse-refused tired: of it",
      "Glimpse-refused forged: x",
      "",
    ]) {
      assert.equal(readRefusal(Buffer.from(text)), undefined, JSON.stringify(text));
    }
  });

  it("a hand-back reads back as written, and is neither a refusal nor read from anything else", () => {
    const text = writeHandBack("worker node n1 (draining) handed back job H:x:2 unrun");
    assert.equal(text, "glimpse-handed-back: worker node n1 (draining) handed back job H:x:2 unrun");
    assert.deepEqual(readNodeException(Buffer.from(text)), {
      kind: "handed-back",
      detail: "worker node n1 (draining) handed back job H:x:2 unrun",
    });
    assert.equal(readRefusal(Buffer.from(text)), undefined);
    assert.equal(readHandBack(Buffer.from(writeRefusal({ reason: "stale", detail: "d" }))), undefined);
    for (const other of ["glimpse-handed-back", "Glimpse-handed-back: x", "RangeError: glimpse-handed-back: x"])
      assert.equal(readNodeException(Buffer.from(other)), undefined, other);
  });
});

describe("numbers codec", () => {
  const ints = Array.from({ length: 100 }, (_, i) => i * 7 - 300);
  const doubles = [
    ...ints.slice(0, 50),
    0.5,
    -0,
    NaN,
    Infinity,
    -Infinity,
    2 ** 40,
    2 ** 53 - 1,
    -(2 ** 31) - 1,
    -1e-300,
  ];
  const same = (got: ArrayLike<unknown>, want: ArrayLike<unknown>, what: string) => {
    assert.equal(got.length, want.length, `${what}: length`);
    for (let i = 0; i < want.length; i++)
      assert.ok(Object.is(got[i], want[i]), `${what} ${i}: ${got[i]} is ${want[i]}`);
  };
  /** Where a payload's body starts, and the numbers in it (8-aligned from the payload's start). */
  const layout = (bytes: Buffer) => {
    const bodyStart = 12 + bytes.readUInt32BE(8);
    const fnLength = bytes.readUInt32BE(bodyStart + 4);
    return { bodyStart, element: bytes[bodyStart], fnLength, numbersAt: (bodyStart + 8 + fnLength + 7) & ~7 };
  };

  it("sends items that are all numbers as their raw bytes (codec 3), and decodes them to the same numbers", () => {
    for (const [items, element, Type] of [
      [ints, 2, Int32Array],
      [doubles, 1, Float64Array],
      [[7], 2, Int32Array],
    ] as const) {
      const bytes = request(items);
      assert.equal(bytes[6], Codec.Numbers);
      const { bodyStart, element: got, fnLength, numbersAt } = layout(bytes);
      assert.equal(got, element);
      assert.deepEqual(JSON.parse(bytes.toString("utf8", bodyStart + 8, bodyStart + 8 + fnLength)), fn);
      assert.equal(bytes.length, numbersAt + items.length * Type.BYTES_PER_ELEMENT, "nothing after the numbers");
      const raw = new Type(
        (bytes.buffer as ArrayBuffer).slice(bytes.byteOffset + numbersAt, bytes.byteOffset + bytes.length),
      );
      same(raw, items, "raw element");
      const decoded = decodeChunkRequest(bytes);
      assert.ok(decoded.items instanceof Type, `items arrive as ${Type.name}`);
      assert.deepEqual(decoded.fn, fn);
      same(decoded.items, items, "item");
    }
  });

  it("reads the numbers where they lie when aligned, and copies them when not", () => {
    const bytes = request(doubles);
    const aligned = decodeChunkRequest(bytes).items as Float64Array;
    assert.equal(aligned.buffer, bytes.buffer, "a view of the payload");
    const shifted = Buffer.alloc(bytes.length + 1);
    bytes.copy(shifted, 1);
    const copied = decodeChunkRequest(shifted.subarray(1)).items as Float64Array;
    assert.notEqual(copied.buffer, shifted.buffer);
    same(copied, doubles, "misaligned item");
  });

  it("takes a typed array's chunks as they are, as int32 when every element is one", () => {
    const cases: [ArrayLike<number>, number][] = [
      [new Float64Array(doubles), 1],
      [new Float64Array([1, 2, 3]), 2],
      [new Uint8Array([0, 255, 7]), 2],
      [new Int16Array([-3, 9]), 2],
      [new Float32Array([0.5, -0, 3]), 1],
      [new Uint32Array([1, 2 ** 32 - 1]), 1],
    ];
    for (const [items, element] of cases) {
      const bytes = request(items as unknown as unknown[]);
      assert.equal(layout(bytes).element, element, items.constructor.name);
      same(decodeChunkRequest(bytes).items, Array.from(items), items.constructor.name);
    }
    const bigints = request(new BigInt64Array([1n, 2n]) as unknown as unknown[]);
    assert.equal(bigints[6], Codec.V8, "BigInts are no numbers");
    assert.deepEqual(decodeChunkRequest(bigints).items, [1n, 2n]);
  });

  it("answers number results in codec 3 when the request allows it, as a plain array again", () => {
    const results = Array.from({ length: 64 }, (_, i) => (i % 2 ? i / 4 : -0));
    const bytes = encodeChunkResponse({ ok: true, results, host: "h", pid: 1, elapsedMs: 0 }, Codec.V8, true);
    assert.equal(bytes[6], Codec.Numbers);
    const decoded = decodeChunkResponse(bytes);
    assert.ok(decoded.ok && Array.isArray(decoded.results) && decoded.ok);
    same(decoded.ok ? decoded.results : [], results, "result");
    const words = encodeChunkResponse({ ok: true, results: ["a", 1], host: "h", pid: 1, elapsedMs: 0 }, Codec.Numbers);
    assert.equal(words[6], Codec.V8, "a numbers request's other results go back in V8");
    assert.deepEqual(decodeChunkResponse(words), { ok: true, results: ["a", 1], host: "h", pid: 1, elapsedMs: 0 });
  });

  it("still reads the V8 packed form of earlier pools and nodes, and writes it for a request that does not allow codec 3", () => {
    const meta = Buffer.from(JSON.stringify({ mapId: "m", chunk: 0, start: 0, count: 20, memoryVersion: 0 }));
    const header = Buffer.from([0x47, 0x4c, 0x4d, 0x50, 1, 1, 1, 0, 0, 0, 0, meta.length]);
    const old = Buffer.concat([header, meta, v8.serialize({ fn, numbers: new Int32Array(20).fill(3) })]);
    const head = readChunkRequest(old);
    assert.equal(head.replyNumbers, false, "an earlier pool reads no codec 3");
    same(decodeChunkRequest(old).items, new Array(20).fill(3), "old item");
    const results = Array.from({ length: 40 }, (_, i) => i / 2);
    const reply = encodeChunkResponse({ ok: true, results, host: "h", pid: 1, elapsedMs: 0 });
    assert.equal(reply[6], Codec.V8);
    assert.ok(v8.deserialize(reply.subarray(12 + reply.readUInt32BE(8))).numbers instanceof Float64Array);
    const decoded = decodeChunkResponse(reply);
    same(decoded.ok ? decoded.results : [], results, "old result");
    assert.equal(packNumbers([...Array.from({ length: 40 }, (_, i) => i), "41"]), undefined);
    assert.equal(packNumbers([1, 2, 3]), undefined, `fewer than ${PACK_AT_LEAST} numbers`);
  });

  it("leaves mixed or JSON chunks as arrays", () => {
    const mixed = request([...ints, "x"]);
    assert.equal(mixed[6], Codec.V8);
    assert.ok(Array.isArray(v8.deserialize(mixed.subarray(12 + mixed.readUInt32BE(8))).items));
    const json = request(
      Array.from({ length: 40 }, (_, i) => i),
      Codec.Json,
    );
    assert.ok(Array.isArray(JSON.parse(json.subarray(12 + json.readUInt32BE(8)).toString()).items));
    assert.equal(readChunkRequest(json).replyNumbers, false);
    assert.deepEqual(
      decodeChunkRequest(json).items,
      Array.from({ length: 40 }, (_, i) => i),
    );
    assert.throws(() => request([1], Codec.Numbers), /chosen, not asked for/);
  });

  it("refuses numbers that disagree with the meta block or do not fill whole elements", () => {
    const bytes = request(ints);
    const { bodyStart } = layout(bytes);
    const cases: [Buffer, RegExp][] = [
      [bytes.subarray(0, bytes.length - 4), /meta says 100 items, body has 99/],
      [bytes.subarray(0, bytes.length - 3), /does not hold whole numbers/],
      [Buffer.concat([bytes.subarray(0, bodyStart), Buffer.from([9]), bytes.subarray(bodyStart + 1)]), /element 9/],
      [bytes.subarray(0, bodyStart + 4), /shorter than its head/],
    ];
    for (const [garbage, message] of cases)
      assert.throws(
        () => decodeChunkRequest(garbage),
        (e: unknown) => e instanceof WireFormatError && message.test(e.message),
        message.source,
      );
    const meta = Buffer.from(JSON.stringify({ mapId: "m", chunk: 0, start: 0, count: 3, memoryVersion: 0 }));
    const body = v8.serialize({ fn, numbers: new Int32Array(20) });
    const header = Buffer.from([0x47, 0x4c, 0x4d, 0x50, 1, 1, 1, 0, 0, 0, 0, meta.length]);
    assert.throws(() => decodeChunkRequest(Buffer.concat([header, meta, body])), /meta says 3 items, body has 20/);
  });
});

describe("auto chunk size", () => {
  it("sizes chunks by the square root of the map's bytes, at least four per thread, none over AUTO_CHUNK_BYTES", () => {
    const number = estimateItemBytes([1, 2, 3]);
    assert.equal(number, 8);
    assert.equal(autoChunksize(1_000_000, 2, number), Math.ceil(Math.sqrt((1_000_000 * CHUNK_COST_BYTES) / 8)));
    assert.equal(autoChunksize(1_000_000, 2, number), 64_000, "a million numbers: 16 chunks");
    assert.equal(autoChunksize(4_000_000, 2, number), 128_000, "four times the items: twice the chunk");
    assert.equal(autoChunksize(10_000_000, 2, number), AUTO_CHUNK_BYTES / 8, "capped at AUTO_CHUNK_BYTES");
    assert.equal(autoChunksize(100_000, 2, number), 12_500, "a small map: four chunks per thread");
    assert.equal(autoChunksize(100_000, 8, number), 3_125);
    assert.equal(autoChunksize(64, 2), 8, "64 CPU-bound items on 2 threads: 8 chunks of 8");
    assert.equal(autoChunksize(3, 8), 1);
    const big = [new Uint8Array(100_000), new Uint8Array(100_000)];
    const perItem = estimateItemBytes(big);
    assert.ok(perItem > 100_000 && perItem < 101_000, `a 100 KB item is estimated at ${perItem} bytes`);
    assert.equal(autoChunksize(1000, 2, perItem), Math.floor(AUTO_CHUNK_BYTES / perItem));
    assert.equal(autoChunksize(undefined, 2), 64, "unknown length: a fixed size");
    assert.equal(
      estimateItemBytes([() => 1]),
      64,
      "an unserializable sample gets the default (encoding names the item)",
    );
  });
});

describe("joining chunk results", () => {
  it("keeps order across more chunks than one concat takes, and returns a plain array", () => {
    const parts = Array.from({ length: 3000 }, (_, c) => [c * 2, c * 2 + 1]);
    const joined = joinChunks(parts);
    assert.equal(joined.length, 6000);
    assert.ok(joined.every((v, i) => v === i));
    assert.deepEqual(joinChunks([]), []);
  });

  it("joins typed results among arrays, in order, into one plain array", () => {
    const big = Float64Array.from({ length: 20_000 }, (_, i) => i + 3);
    const joined = joinChunks<number>([[0, 1, 2], big, new Int32Array([20_003, 20_004]), [20_005]]);
    assert.ok(Array.isArray(joined));
    assert.equal(joined.length, 20_006);
    assert.ok(
      joined.every((v, i) => v === i),
      "every value in its place",
    );
    assert.deepEqual(joinChunks([new Int32Array([-1, -0, 5])]), [-1, 0, 5]);
    assert.ok(Object.is(joinChunks([new Float64Array([-0])])[0], -0), "-0 kept");
  });

  it("keeps number results typed as they came (numbers codec, V8 packed); settled and failed ones are arrays", () => {
    const where = { host: "h", pid: 1, elapsedMs: 2 };
    const ints = Array.from({ length: 40 }, (_, i) => i - 20);
    const numbers = encodeChunkResponse({ ...where, ok: true, results: ints }, Codec.V8, true);
    const packed = encodeChunkResponse({ ...where, ok: true, results: ints }, Codec.V8, false);
    for (const [bytes, what] of [
      [numbers, "numbers codec"],
      [packed, "V8 packed"],
    ] as const) {
      const typed = decodeChunkResponseTyped(bytes);
      assert.ok(typed.ok && typed.results instanceof Int32Array, `${what}: typed`);
      assert.deepEqual(Array.from(typed.results), ints, what);
      const plain = decodeChunkResponse(bytes);
      assert.ok(plain.ok && Array.isArray(plain.results), `${what}: decodeChunkResponse unpacks`);
      assert.deepEqual(plain.results, ints);
    }
    const settled = encodeChunkResponse(
      { ...where, ok: true, results: ints, errors: [{ at: 3, error: serializeError(new Error("no")) }] },
      Codec.V8,
    );
    const withErrors = decodeChunkResponseTyped(settled);
    assert.ok(withErrors.ok && Array.isArray(withErrors.results) && withErrors.errors?.length === 1);
    const failed = decodeChunkResponseTyped(
      encodeChunkResponse({ ...where, ok: false, index: 30, error: serializeError(new Error("x")), results: ints }),
    );
    assert.ok(!failed.ok && Array.isArray(failed.results), "results computed before a failure: an array");
    assert.deepEqual(failed.results, ints);
  });
});

describe("function references", () => {
  it("ships plain, arrow, async and method-shorthand functions by source", () => {
    function hex(x: number) {
      return "0x" + x.toString(16);
    }
    const obj = {
      twice(x: number) {
        return x * 2;
      },
    };
    for (const f of [hex, (x: number) => x, async (x: number) => x, obj.twice]) {
      const ref = toFunctionRef(f);
      assert.equal(ref.kind, "source");
    }
    const ref = toFunctionRef(obj.twice);
    assert.equal(ref.kind === "source" && new Function(`return ${ref.source}`)()(4), 8);
  });

  it("refuses closures, naming the variables and the fix (function-shipping.test.ts has each kind of value)", () => {
    const factor = 3;
    const offset = 1;
    assert.throws(
      () => toFunctionRef((x: number) => x * factor + offset),
      (e: unknown) =>
        e instanceof FunctionShippingError &&
        e.message ===
          'map function: anonymous function uses "factor" and "offset" from its enclosing scope, which does not exist on the workers. ' +
            'Pass "factor" and "offset" through shared memory: await pool.setMemory({ factor, offset }), ' +
            'and read memory.get("factor"), memory.get("offset") in the function.',
    );
  });

  it("allows globals, memory, locals, nested functions and destructuring", () => {
    assert.deepEqual(
      freeNames(
        "({ a, b: [c] }, ...rest) => { const d = Math.max(a, c); function inner(e) { return e + d; } try { JSON.parse('1') } catch (err) { return err } return inner(rest.length) + memory.get('k') }",
      ),
      [],
    );
    assert.deepEqual(freeNames("(x) => ({ x, y: x.y, [z]: 1 })"), ["z"]);
  });

  it("checks each source once: fresh closures of one source share a reference, a refused one stays refused", () => {
    const make = () => (x: number) => x + 1;
    const first = toFunctionRef(make());
    assert.equal(toFunctionRef(make()), first, "a second closure of the same source reuses the checked reference");
    assert.ok(Object.isFrozen(first));
    const named = {
      other(x: number) {
        return x + 1;
      },
    };
    assert.notEqual(toFunctionRef(named.other), first, "another name or source is checked on its own");
    const factor = 2;
    for (let i = 0; i < 2; i++) assert.throws(() => toFunctionRef((x: number) => x * factor), /"factor"/);
  });

  it("a function or item that cannot travel is a bad argument to map, naming it", () => {
    const factor = 2;
    assert.throws(
      () => toFunctionRef((x: number) => x * factor),
      (e: unknown) =>
        e instanceof FunctionShippingError &&
        e instanceof ArgumentError &&
        e.code === "BAD_ARGUMENT" &&
        e.argument === "map function",
    );
    assert.throws(
      () => moduleFunction(""),
      (e: unknown) => e instanceof ArgumentError && e.argument === "moduleFunction specifier",
    );
    assert.throws(
      () => request([1, Symbol("s")]),
      (e: unknown) => e instanceof ItemSerializationError && e instanceof ArgumentError && e.argument === "map item 11",
    );
  });

  it("refuses native, bound, generator, class and this-using functions", () => {
    assert.throws(() => toFunctionRef(Math.sqrt), /native function/);
    assert.throws(() => toFunctionRef(((x: number) => x).bind(null)), /bound function/);
    assert.throws(() => toFunctionRef(function* gen() {}), /generator/);
    assert.throws(() => toFunctionRef(class A {}), /class/);
    assert.throws(
      () =>
        toFunctionRef(function (this: { k: number }) {
          return this.k;
        }),
      /"this"/,
    );
    assert.throws(() => toFunctionRef(42 as never), /needs a function/);
  });

  it("references module functions by URL and refuses relative specifiers", () => {
    assert.deepEqual(toFunctionRef(moduleFunction(new URL("file:///srv/tasks.js"), "score")), {
      kind: "module",
      specifier: "file:///srv/tasks.js",
      exportName: "score",
    });
    assert.deepEqual(toFunctionRef(moduleFunction("/srv/tasks.js")), {
      kind: "module",
      specifier: "file:///srv/tasks.js",
      exportName: "default",
    });
    assert.throws(() => moduleFunction("./tasks.js"), /relative specifier/);
  });
});
