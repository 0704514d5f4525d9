/** Python ConfigParser-style `%(name)s` interpolation within a section (falling back to [DEFAULT]); `%%` is a literal %. */

/** The value with every reference replaced, or what is wrong with it. */
export type Interpolated = { readonly value: string } | { readonly problem: string };

const MAX_DEPTH = 10;

export function interpolate(raw: string, lookup: (name: string) => string | undefined, depth = 0): Interpolated {
  if (depth > MAX_DEPTH) return { problem: `interpolation of "${raw}" nests too deep (a reference loop?)` };
  let value = "";
  let last = 0;
  for (const match of raw.matchAll(/%(%|\(([^)]*)\)s|.?)/g)) {
    value += raw.slice(last, match.index);
    last = match.index + match[0].length;
    const [, what, name] = match;
    if (what === "%") {
      value += "%";
      continue;
    }
    if (name === undefined)
      return { problem: `bad "%" in "${raw}": write %% for a literal %, or %(name)s to refer to a key` };
    const referred = lookup(name.toLowerCase());
    if (referred === undefined)
      return { problem: `"%(${name})s" refers to a key that is not set in this section or [DEFAULT]` };
    const inner = interpolate(referred, lookup, depth + 1);
    if ("problem" in inner) return inner;
    value += inner.value;
  }
  return { value: value + raw.slice(last) };
}

/** The names a raw value refers to with %(name)s. */
export function references(raw: string): string[] {
  return [...raw.matchAll(/%\(([^)]*)\)s/g)].map((m) => m[1].toLowerCase());
}
