/** The thread side of bench/bare-gearman-node.ts: hands the bytes back. */
export default function echo(bytes: Uint8Array): Uint8Array {
  return bytes;
}
