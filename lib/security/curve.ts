/**
 * CURVE encryption and authentication for the ZeroMQ channels.
 *
 * A cluster has one CURVE key pair, in every member's config. Sockets that
 * bind (the broker, or a client in direct mode) are CURVE servers with it;
 * sockets that connect are CURVE clients presenting it. A ZAP handler (the
 * ZeroMQ authentication protocol, on inproc://zeromq.zap.01 in this process)
 * lets a connecting peer in only if it presents the cluster's public key, so
 * only holders of the secret key can join, and every frame is encrypted.
 */
import { createHash } from "node:crypto";
import * as zmq from "zeromq";
import { ArgumentError } from "../argument-error.js";

export interface CurveKeys {
  /** Z85, 40 characters. */
  readonly publicKey: string;
  /** Z85, 40 characters. */
  readonly secretKey: string;
}

export interface CurveSettings extends CurveKeys {
  /** A peer was turned away (unknown key); `address` is its IP address as ZeroMQ reports it. */
  readonly onRefused?: (address: string) => void;
}

/** A fresh key pair whose Z85 text can sit in an ini file as is (no '%' or '#'). */
export function newCurveKeys(): CurveKeys {
  for (;;) {
    const pair = zmq.curveKeyPair();
    if (!/[%#]/.test(pair.publicKey + pair.secretKey)) return pair;
  }
}

const Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/** Z85 text → bytes (4 bytes per 5 characters). */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0)
    throw new ArgumentError("Z85 text", `its length must be a multiple of 5, got ${text.length}`);
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const digit = Z85.indexOf(text[i + j]);
      if (digit < 0) throw new ArgumentError("Z85 text", `"${text[i + j]}" is not a Z85 character`);
      value = value * 85 + digit;
    }
    out.writeUInt32BE(value >>> 0, (i / 5) * 4);
  }
  return out;
}

type CurveSocket = zmq.Socket & {
  curveServer: boolean;
  curveSecretKey: string | null;
  curvePublicKey: string | null;
  curveServerKey: string | null;
  zapDomain: string;
};

/** Sets a socket up as a CURVE server (it binds) or client (it connects) with the cluster keys. Before bind/connect. */
export function applyCurve(socket: zmq.Socket, curve: CurveSettings, role: "bind" | "connect"): void {
  const s = socket as CurveSocket;
  if (role === "bind") {
    s.curveServer = true;
    s.curveSecretKey = curve.secretKey;
    s.zapDomain = zapDomainOf(curve.publicKey);
    zap.register(curve);
  } else {
    s.curveServerKey = curve.publicKey;
    s.curvePublicKey = curve.publicKey;
    s.curveSecretKey = curve.secretKey;
  }
}

/** Undoes applyCurve's registration (call when a bound socket closes). */
export function releaseCurve(curve: CurveSettings | undefined, role: "bind" | "connect"): void {
  if (curve && role === "bind") zap.unregister(curve);
}

const zapDomainOf = (publicKey: string) =>
  `glimpse-${createHash("sha256").update(publicKey).digest("hex").slice(0, 16)}`;

/** The process's ZAP handler: one REP socket, running while some bound socket needs it. */
class ZapHandler {
  private readonly domains = new Map<string, { key: Buffer; settings: CurveSettings; users: number }>();
  private socket: zmq.Reply | undefined;
  private loop: Promise<void> | undefined;

  register(curve: CurveSettings): void {
    const domain = zapDomainOf(curve.publicKey);
    const entry = this.domains.get(domain);
    if (entry) entry.users++;
    else this.domains.set(domain, { key: z85Decode(curve.publicKey), settings: curve, users: 1 });
    if (!this.socket) this.start();
  }

  unregister(curve: CurveSettings): void {
    const domain = zapDomainOf(curve.publicKey);
    const entry = this.domains.get(domain);
    if (!entry) return;
    if (--entry.users === 0) this.domains.delete(domain);
    if (this.domains.size === 0) this.stop();
  }

  private start(): void {
    const socket = new zmq.Reply({ linger: 0 });
    this.socket = socket;
    // Binding inproc is synchronous in effect; the handshake of a peer waits for the handler anyway.
    const bound = socket.bind("inproc://zeromq.zap.01");
    this.loop = (async () => {
      await bound;
      for (;;) {
        let frames: Buffer[];
        try {
          frames = await socket.receive();
        } catch {
          return; // closed
        }
        const [version, requestId, domain, address, , mechanism, credentials] = frames;
        const entry = this.domains.get(domain?.toString() ?? "");
        const ok =
          version?.toString() === "1.0" &&
          mechanism?.toString() === "CURVE" &&
          entry !== undefined &&
          credentials?.equals(entry.key);
        if (!ok) entry?.settings.onRefused?.(address?.toString() ?? "?");
        try {
          await socket.send([
            "1.0",
            requestId ?? "",
            ok ? "200" : "400",
            ok ? "OK" : "unknown CURVE key",
            ok ? "member" : "",
            "",
          ]);
        } catch {
          return;
        }
      }
    })();
  }

  private stop(): void {
    this.socket?.close();
    this.socket = undefined;
  }
}

const zap = new ZapHandler();
