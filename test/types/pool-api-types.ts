/**
 * The types the pool's API gives TypeScript users, checked by the compiler: `npx tsc` (the build)
 * fails when an inferred type drifts or a wrong call type-checks. Nothing here runs.
 */
import {
  asCompleted,
  moduleFunction,
  type ClusterPool,
  type Completed,
  type ItemError,
  type MapOptions,
  type WorkerOutput,
} from "../../lib/index.js";

/** true when X and Y are the same type. */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
/** exact<E>()(value) compiles only when value's type is exactly E. */
const exact =
  <Expected>() =>
  <Actual>(value: Actual, ..._mismatch: Equal<Expected, Actual> extends true ? [] : [never]): Actual =>
    value;

export async function poolApiTypes(pool: ClusterPool, someOptions: MapOptions): Promise<void> {
  // map: results as the function returns them (awaited), or with errors: "return" each item's error in its place.
  exact<number[]>()(await pool.map(async (x: number) => x * 2, [1, 2]));
  exact<(string | ItemError)[]>()(await pool.map((x: number) => String(x), [1], { errors: "return", chunksize: 2 }));
  exact<string[]>()(await pool.map((x: number) => String(x), [1], { errors: "raise", onProgress: ({ done }) => done }));
  exact<(string | ItemError)[]>()(await pool.map((x: number) => String(x), [1], someOptions));

  // several iterables: one argument each, typed from the function.
  exact<string[]>()(await pool.map((n: number, s: string) => s.repeat(n), [1, 2], ["a", "b"]));
  exact<(string | ItemError)[]>()(
    await pool.map((n: number, s: string) => s.repeat(n), [1], ["a"], { errors: "return" }),
  );
  // @ts-expect-error the second iterable's items are not strings
  await pool.map((n: number, s: string) => s.repeat(n), [1, 2], [3, 4]);

  // starmap and istarmap: tuples of the function's parameters.
  exact<string[]>()(await pool.starmap((n: number, s: string) => s.repeat(n), [[1, "a"]]));
  // @ts-expect-error a tuple of the wrong types
  await pool.starmap((n: number, s: string) => s.repeat(n), [[1, 2]]);
  for await (const value of pool.istarmap((a: number, b: number) => a + b, [[1, 2]])) exact<number>()(value);

  // imapUnordered: results, or [index, result] with indexed: true.
  for await (const value of pool.imapUnordered((x: number) => x, [1])) exact<number>()(value);
  for await (const pair of pool.imapUnordered((x: number) => x, [1], { indexed: true }))
    exact<[number, number]>()(pair);
  for await (const pair of pool.imap((x: number) => x, [1], { indexed: true, errors: "return" }))
    exact<[number, number | ItemError]>()(pair);

  // futures: the arguments are the function's parameters; the result is its awaited return.
  exact<string>()(await pool.submit((n: number, s: string) => s.repeat(n), 2, "a"));
  exact<number>()(await pool.apply(async (x: number) => x, [1], { retryOn: ["ECONNRESET"] }));
  // @ts-expect-error the second argument is not a string
  await pool.submit((n: number, s: string) => s.repeat(n), 2, 3);

  // module functions: the item type, or for several arguments the tuple of them.
  const triple = moduleFunction<number, number>("file:///srv/tasks.js", "triple");
  const add = moduleFunction<[number, number], number>("file:///srv/tasks.js", "add");
  exact<number[]>()(await pool.map(triple, [1]));
  exact<number[]>()(await pool.starmap(add, [[1, 2]]));
  exact<number>()(await pool.submit(triple, 1));
  exact<number>()(await pool.submit(add, 1, 2));

  // worker output: an item's line has its index; a submitted call's has its call text and no index.
  const onOutput = (line: WorkerOutput) => {
    if (line.call === undefined) exact<number>()(line.index);
    else {
      exact<string>()(line.call);
      exact<undefined>()(line.index);
    }
    exact<number | undefined>()(line.index);
    // @ts-expect-error a line may be a submitted call's, whose index is undefined
    exact<number>()(line.index);
  };
  await pool.map((x: number) => x, [1], { output: onOutput });

  // asCompleted: settled records of the promises' values.
  for await (const done of asCompleted([pool.submit(add, 1, 2), Promise.resolve("x")]))
    exact<Completed<number | string>>()(done);
}
