/** The in-process ceiling for map-throughput: the same chunks on piscina alone, no job server, no sockets. */
export default function run({ items }: { items: number[] }): number[] {
  return items.map((x) => x + 1);
}
