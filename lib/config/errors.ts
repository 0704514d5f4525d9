/**
 * The configuration layer's error (bad arguments aside: ArgumentError): a
 * configuration problem, naming the file, section and key and what was
 * expected. The CLI exits 2 on it.
 */
export class ConfigError extends Error {
  override name = "ConfigError";
  readonly code = "CONFIG";
  constructor(
    message: string,
    readonly file?: string,
    readonly section?: string,
    readonly key?: string,
  ) {
    super(
      `${[file, section && `[${section}]`, key].filter(Boolean).join(" ")}${file || section || key ? ": " : ""}${message}`,
    );
  }
}
