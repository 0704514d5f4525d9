/**
 * A request packet from a client or worker, decoded into the scheduler call
 * it asks for: the one place the server reads a binary request's arguments.
 * Strings are byte strings (latin1: one char per byte, lossless), function
 * names, unique ids and job handles alike; a job's data is JobData
 * (payload.ts); a worker's WORK_* packet goes down whole, to be forwarded
 * as it came, with where its handle ends (the job is found from the handle's
 * bytes: no string is made for it). A packet no client or worker may send, or one
 * without the arguments it needs, throws (PeerViolation; GearmanError from
 * splitArgs): the server answers it with ERROR and closes that connection.
 */
import { splitArgs, type Packet } from "../gearman/packet.js";
import { PacketType, packetName } from "../gearman/packet-types.js";
import { payloadOf } from "./payload.js";
import { Priority, type Session } from "./scheduler-state.js";
import type { Scheduler } from "./scheduler.js";
import { missingArguments, unexpectedPacket } from "./errors.js";
import { UNPARK, WAKE_WITH_JOB } from "../gearman/wake-with-job.js";

const NUL = 0;

/** By packet type (an array: a keyed load on an object with number keys is a slow path on every packet). */
const SUBMIT: ({ priority: Priority; background: boolean } | undefined)[] = [];
SUBMIT[PacketType.SUBMIT_JOB] = { priority: Priority.Normal, background: false };
SUBMIT[PacketType.SUBMIT_JOB_HIGH] = { priority: Priority.High, background: false };
SUBMIT[PacketType.SUBMIT_JOB_LOW] = { priority: Priority.Low, background: false };
SUBMIT[PacketType.SUBMIT_JOB_BG] = { priority: Priority.Normal, background: true };
SUBMIT[PacketType.SUBMIT_JOB_HIGH_BG] = { priority: Priority.High, background: true };
SUBMIT[PacketType.SUBMIT_JOB_LOW_BG] = { priority: Priority.Low, background: true };

/** The first NUL of `body` at or after `from`, or -1; arguments are short, so a loop beats a call into C++. */
function nulAt(body: Buffer, from: number): number {
  for (let i = from; i < body.length; i++) if (body[i] === NUL) return i;
  return -1;
}

/** Bytes `from`..`to` of a packet body as a byte string (latin1: one char per byte, lossless). */
function arg(body: Buffer, from: number, to: number): string {
  return body.toString("latin1", from, to);
}

/** The last function name a SUBMIT_JOB named, given again while the next names the same bytes. */
let lastFunc = "";

/** The function name in `body` up to `end`, as a byte string; a client submits to one function at a time, mostly. */
function funcName(body: Buffer, end: number): string {
  const last = lastFunc;
  if (last.length === end) {
    let i = 0;
    while (i < end && body[i] === last.charCodeAt(i)) i++;
    if (i === end) return last;
  }
  return (lastFunc = arg(body, 0, end));
}

export function dispatchRequest(scheduler: Scheduler, session: Session, packet: Packet): void {
  const type = packet.type;
  const body = packet.body;
  const submit = SUBMIT[type];
  if (submit !== undefined) {
    const a = nulAt(body, 0);
    const b = a < 0 ? -1 : nulAt(body, a + 1);
    if (b < 0)
      throw missingArguments(packetName(type)!, "3 arguments (function, unique, data)", session.connection.address);
    return scheduler.submit(session, {
      func: funcName(body, a),
      unique: arg(body, a + 1, b),
      data: payloadOf(body, b + 1),
      priority: submit.priority,
      background: submit.background,
      epoch: 0,
      reducer: "",
    });
  }
  switch (type) {
    case PacketType.GRAB_JOB:
    case PacketType.GRAB_JOB_UNIQ:
    case PacketType.GRAB_JOB_ALL:
      return scheduler.grab(session, type);
    case PacketType.WORK_COMPLETE:
    case PacketType.WORK_FAIL:
    case PacketType.WORK_EXCEPTION:
    case PacketType.WORK_DATA:
    case PacketType.WORK_WARNING: {
      const nul = nulAt(body, 0);
      return scheduler.work(session, nul < 0 ? body.length : nul, packet);
    }
    case PacketType.WORK_STATUS: {
      const [handle, numerator, denominator] = splitArgs(body, 3, "WORK_STATUS");
      return scheduler.progress(
        session,
        handle.toString("latin1"),
        numerator.toString("latin1"),
        denominator.toString("latin1"),
        packet,
      );
    }
    case PacketType.PRE_SLEEP:
      return scheduler.preSleep(session);
    case PacketType.CAN_DO:
      return scheduler.canDo(session, arg(body, 0, body.length), 0);
    case PacketType.CAN_DO_TIMEOUT: {
      const [func, timeout] = splitArgs(body, 2, "CAN_DO_TIMEOUT");
      // Milliseconds, as gearmand 1.1.20 reads it (measured; PROTOCOL does not say).
      const ms = Number(timeout.toString("latin1"));
      return scheduler.canDo(session, func.toString("latin1"), Number.isFinite(ms) && ms > 0 ? ms : 0);
    }
    case PacketType.CANT_DO:
      return scheduler.cantDo(session, arg(body, 0, body.length));
    case PacketType.RESET_ABILITIES:
      return scheduler.resetAbilities(session);
    case PacketType.SET_CLIENT_ID:
      return scheduler.setClientId(session, arg(body, 0, body.length));
    case PacketType.SUBMIT_JOB_EPOCH: {
      const [func, unique, epoch, data] = splitArgs(body, 4, "SUBMIT_JOB_EPOCH");
      const when = Number(epoch.toString("latin1"));
      if (!Number.isSafeInteger(when) || when < 0) {
        return session.connection.packet(
          PacketType.ERROR,
          "INVALID_EPOCH",
          `epoch "${epoch.toString("latin1").slice(0, 32)}" is not a whole number of seconds`,
        );
      }
      return scheduler.submit(session, {
        func: func.toString("latin1"),
        unique: unique.toString("latin1"),
        data: payloadOf(data, 0),
        priority: Priority.Normal,
        background: true,
        epoch: when,
        reducer: "",
      });
    }
    case PacketType.SUBMIT_REDUCE_JOB:
    case PacketType.SUBMIT_REDUCE_JOB_BACKGROUND: {
      // As gearmand: function, unique, reducer, aggregator (ignored), data.
      const [func, unique, reducer, , data] = splitArgs(body, 5, packetName(type));
      return scheduler.submit(session, {
        func: func.toString("latin1"),
        unique: unique.toString("latin1"),
        data: payloadOf(data, 0),
        priority: Priority.Normal,
        background: type === PacketType.SUBMIT_REDUCE_JOB_BACKGROUND,
        epoch: 0,
        reducer: reducer.toString("latin1"),
      });
    }
    case PacketType.GET_STATUS:
      return scheduler.status(session, arg(body, 0, body.length));
    case PacketType.GET_STATUS_UNIQUE:
      return scheduler.statusUnique(session, arg(body, 0, body.length));
    case PacketType.ECHO_REQ:
      return session.connection.packet(PacketType.ECHO_RES, arg(body, 0, body.length));
    case PacketType.OPTION_REQ: {
      const option = arg(body, 0, body.length);
      if (option === "exceptions") scheduler.wantExceptions(session);
      else if (option === WAKE_WITH_JOB) scheduler.wakeWithJob(session);
      else if (option === UNPARK) scheduler.unpark(session);
      else
        return session.connection.packet(PacketType.ERROR, "UNKNOWN_OPTION", "Server does not recognize given option");
      return session.connection.packet(PacketType.OPTION_RES, option);
    }
    case PacketType.SUBMIT_JOB_SCHED:
    case PacketType.ALL_YOURS:
      return session.connection.packet(PacketType.ERROR, "INVALID_COMMAND", "Command not expected");
    default:
      throw unexpectedPacket(packetName(type) ?? `type ${type}`, session.connection.address);
  }
}
