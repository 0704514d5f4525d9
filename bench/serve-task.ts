/** The serve bench's module handler: the module executor's own cost, with nothing to do. */
export function ok(): string {
  return "ok";
}
