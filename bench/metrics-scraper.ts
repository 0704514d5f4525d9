/** A Prometheus-like scraper for the benches: GET /metrics on a kept-alive connection, once or every second. */
import http from "node:http";

export const SCRAPE_EVERY_MS = 1000;

export interface Scrapes {
  count: number;
  ms: number[];
  bytes: number;
}

/** GETs the URL every second (the first at once) until stopped; a scrape never overlaps the previous one. */
export function scrapeEverySecond(url: string, scrapes: Scrapes): () => Promise<void> {
  // A kept-alive connection, as Prometheus scrapes; node:http rather than fetch, whose own CPU would come out of the load generator's.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const once = () => {
    const begin = performance.now();
    current = get(url, agent)
      .then((text) => {
        scrapes.bytes = text.length;
        scrapes.count++;
        scrapes.ms.push(performance.now() - begin);
      })
      .finally(() => {
        if (!stopped) timer = setTimeout(once, Math.max(0, SCRAPE_EVERY_MS - (performance.now() - begin)));
      });
  };
  once();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await current;
    agent.destroy();
  };
}

export function get(url: string, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () =>
          response.statusCode === 200 ? resolve(text) : reject(new Error(`GET ${url}: ${response.statusCode}`)),
        );
      })
      .on("error", reject);
  });
}
