/**
 * Every binary packet type of the Gearman protocol, with the names of its
 * NUL-separated arguments. The last argument of a packet runs to the end of
 * its data and may itself contain NUL bytes; an argument named `data` is
 * opaque bytes (a Buffer), every other one is text (UTF-8).
 *
 * Numbers and argument lists follow the PROTOCOL file of gearmand, with the
 * gearmand 1.1.20 corrections noted in docs/gearman.md.
 */
export const PACKET_SPECS = {
  CAN_DO: { code: 1, args: ["func"] },
  CANT_DO: { code: 2, args: ["func"] },
  RESET_ABILITIES: { code: 3, args: [] },
  PRE_SLEEP: { code: 4, args: [] },
  NOOP: { code: 6, args: [] },
  SUBMIT_JOB: { code: 7, args: ["func", "unique", "data"] },
  JOB_CREATED: { code: 8, args: ["handle"] },
  GRAB_JOB: { code: 9, args: [] },
  NO_JOB: { code: 10, args: [] },
  JOB_ASSIGN: { code: 11, args: ["handle", "func", "data"] },
  WORK_STATUS: { code: 12, args: ["handle", "numerator", "denominator"] },
  WORK_COMPLETE: { code: 13, args: ["handle", "data"] },
  WORK_FAIL: { code: 14, args: ["handle"] },
  GET_STATUS: { code: 15, args: ["handle"] },
  ECHO_REQ: { code: 16, args: ["data"] },
  ECHO_RES: { code: 17, args: ["data"] },
  SUBMIT_JOB_BG: { code: 18, args: ["func", "unique", "data"] },
  ERROR: { code: 19, args: ["code", "text"] },
  STATUS_RES: { code: 20, args: ["handle", "known", "running", "numerator", "denominator"] },
  SUBMIT_JOB_HIGH: { code: 21, args: ["func", "unique", "data"] },
  SET_CLIENT_ID: { code: 22, args: ["id"] },
  CAN_DO_TIMEOUT: { code: 23, args: ["func", "timeout"] },
  ALL_YOURS: { code: 24, args: [] },
  WORK_EXCEPTION: { code: 25, args: ["handle", "data"] },
  OPTION_REQ: { code: 26, args: ["option"] },
  OPTION_RES: { code: 27, args: ["option"] },
  WORK_DATA: { code: 28, args: ["handle", "data"] },
  WORK_WARNING: { code: 29, args: ["handle", "data"] },
  GRAB_JOB_UNIQ: { code: 30, args: [] },
  JOB_ASSIGN_UNIQ: { code: 31, args: ["handle", "func", "unique", "data"] },
  SUBMIT_JOB_HIGH_BG: { code: 32, args: ["func", "unique", "data"] },
  SUBMIT_JOB_LOW: { code: 33, args: ["func", "unique", "data"] },
  SUBMIT_JOB_LOW_BG: { code: 34, args: ["func", "unique", "data"] },
  SUBMIT_JOB_SCHED: {
    code: 35,
    args: ["func", "unique", "minute", "hour", "dayOfMonth", "month", "dayOfWeek", "data"],
  },
  SUBMIT_JOB_EPOCH: { code: 36, args: ["func", "unique", "epoch", "data"] },
  SUBMIT_REDUCE_JOB: { code: 37, args: ["func", "unique", "reducer", "data"] },
  SUBMIT_REDUCE_JOB_BACKGROUND: { code: 38, args: ["func", "unique", "reducer", "data"] },
  GRAB_JOB_ALL: { code: 39, args: [] },
  JOB_ASSIGN_ALL: { code: 40, args: ["handle", "func", "unique", "reducer", "data"] },
  GET_STATUS_UNIQUE: { code: 41, args: ["unique"] },
  STATUS_RES_UNIQUE: {
    code: 42,
    args: ["unique", "known", "running", "numerator", "denominator", "clientCount"],
  },
} as const;

export type PacketName = keyof typeof PACKET_SPECS;

type ArgNames<N extends PacketName> = (typeof PACKET_SPECS)[N]["args"][number];

/** The decoded (or to-be-encoded) arguments of packet `N`: `data` is bytes, the rest text. */
export type PacketArgs<N extends PacketName> = {
  [K in ArgNames<N>]: K extends "data" ? Buffer : string;
};

/** Argument values accepted when encoding: text may be given for `data` too. */
export type PacketArgsInput<N extends PacketName> = {
  [K in ArgNames<N>]: K extends "data" ? Buffer | Uint8Array | string : string | number;
};

/** Packet numbers by name, e.g. `PacketType.SUBMIT_JOB === 7`. */
export const PacketType = Object.freeze(
  Object.fromEntries(Object.entries(PACKET_SPECS).map(([name, spec]) => [name, spec.code])),
) as { readonly [N in PacketName]: (typeof PACKET_SPECS)[N]["code"] };

const NAMES_BY_CODE: (PacketName | undefined)[] = [];
for (const [name, spec] of Object.entries(PACKET_SPECS)) NAMES_BY_CODE[spec.code] = name as PacketName;

/** The name of packet number `code`, or undefined for a number the protocol does not define. */
export function packetName(code: number): PacketName | undefined {
  return NAMES_BY_CODE[code];
}

/** Number of arguments of packet number `code` (undefined if unknown). */
export function argCount(code: number): number | undefined {
  const name = NAMES_BY_CODE[code];
  return name === undefined ? undefined : PACKET_SPECS[name].args.length;
}
