/** Python ConfigParser-style `%(name)s` interpolation within a section (falling back to [DEFAULT]); `%%` is a literal %. */

export interface InterpolationError {
  readonly key: string;
  readonly message: string;
}

export function interpolate(
  key: string,
  raw: string,
  lookup: (name: string) => string | undefined,
  depth = 0,
): string {
  if (depth > 10) throw { key, message: `interpolation of "${raw}" nests too deep (a reference loop?)` } satisfies InterpolationError;
  return raw.replace(/%(%|\(([^)]*)\)s|.?)/g, (match, what: string, name: string | undefined) => {
    if (what === "%") return "%";
    if (name === undefined) throw { key, message: `bad "%" in "${raw}": write %% for a literal %, or %(name)s to refer to a key` } satisfies InterpolationError;
    const value = lookup(name.toLowerCase());
    if (value === undefined) throw { key, message: `"%(${name})s" refers to a key that is not set in this section or [DEFAULT]` } satisfies InterpolationError;
    return interpolate(key, value, lookup, depth + 1);
  });
}

/** The names a raw value refers to with %(name)s. */
export function references(raw: string): string[] {
  return [...raw.matchAll(/%\(([^)]*)\)s/g)].map((m) => m[1].toLowerCase());
}
