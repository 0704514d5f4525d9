/**
 * The node's refusal log: at most one line a second, and the lines held back
 * said a second later (the last of them, with a count of the others), not
 * only when the next refusal comes.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { RefusalLog } from "../lib/node/refusal-log.js";

describe("RefusalLog", () => {
  it("says the first refusal at once, and the last held back a second later with a count of the others", async () => {
    const said: string[] = [];
    let heard: () => void = () => {};
    const log = new RefusalLog("test-node", (line) => {
      said.push(line);
      heard();
    });
    const second = new Promise<void>((resolve) => (heard = () => said.length === 2 && resolve()));
    // The log's timer does not hold the process open (a node has its sockets for that): this stands in for them.
    const alive = setInterval(() => {}, 60_000);
    const start = Date.now();
    log.write("refused a");
    log.write("refused b");
    log.write("refused c");
    assert.deepEqual(said, ["refused a"], "one line a second");
    await second;
    assert.deepEqual(said, ["refused a", "refused c (and 1 more refusal in the last second)"]);
    assert.ok(Date.now() - start >= 900, "not before the second is over");
    log.close();
    clearInterval(alive);
  });

  it("says nothing held back once closed", () => {
    const said: string[] = [];
    const log = new RefusalLog("test-node", (line) => said.push(line));
    log.write("refused a");
    log.write("refused b");
    log.close();
    assert.deepEqual(said, ["refused a"]);
  });
});
