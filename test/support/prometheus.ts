/** Scrapes a /metrics URL and reads it with a real Prometheus text parser (parse-prometheus-text-format). */
import { createRequire } from "node:module";

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: readonly Sample[];
  /** Histograms: their count and sum, per label set (without buckets). */
  readonly histograms: readonly {
    labels: Record<string, string>;
    count: number;
    sum: number;
    buckets: Record<string, number>;
  }[];
}

interface RawMetric {
  labels?: Record<string, string>;
  value?: string;
  count?: string;
  sum?: string;
  buckets?: Record<string, string>;
}

const parse = createRequire(import.meta.url)("parse-prometheus-text-format") as (
  text: string,
) => { name: string; help: string; type: string; metrics: RawMetric[] }[];

/** The families of an exposition, by name. */
export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  for (const family of parse(text)) {
    families.set(family.name, {
      name: family.name,
      type: family.type,
      help: family.help,
      samples: family.metrics
        .filter((m) => m.value !== undefined)
        .map((m) => ({ labels: m.labels ?? {}, value: Number(m.value) })),
      histograms: family.metrics
        .filter((m) => m.count !== undefined)
        .map((m) => ({
          labels: m.labels ?? {},
          count: Number(m.count),
          sum: Number(m.sum),
          buckets: Object.fromEntries(Object.entries(m.buckets ?? {}).map(([le, v]) => [le, Number(v)])),
        })),
    });
  }
  return families;
}

export async function scrape(
  url: string,
): Promise<{ text: string; contentType: string; families: Map<string, Family> }> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
  const text = await response.text();
  return { text, contentType: response.headers.get("content-type") ?? "", families: parseExposition(text) };
}

/** The value of the sample of `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const family = families.get(name);
  const sample = family?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return sample?.value;
}
