/**
 * What a configuration accepts as the cluster secret (`secret`,
 * `secret_file`, GLIMPSE_CLUSTER_SECRET): a random value as long as the one
 * `glimpse-cluster keygen --secret-only` prints (32 random bytes). Refused:
 * anything shorter; text printed around a secret (a comment line, an
 * instruction: the same on every install, so public); a value of a few
 * characters repeated. ClusterKey itself takes any key of 16 bytes or more:
 * this is the check of what an operator pastes.
 */

/** The shortest secret a configuration accepts, in bytes. */
export const MIN_CONFIG_SECRET_BYTES = 32;
/** Fewer different characters than this is not a random value (32 random bytes as base64url or hex have 16 or more). */
const MIN_DISTINCT_CHARACTERS = 10;

/** What a valid secret is, for errors: "expected <this>, got ...". */
export const SECRET_EXPECTED = `a random secret of at least ${MIN_CONFIG_SECRET_BYTES} bytes (\`glimpse-cluster keygen --secret-only\` prints one)`;

/** Why `text` is not fit as the cluster secret, in a few words (never echoing it), or undefined. */
export function secretProblem(text: string): string | undefined {
  const value = text.trim();
  if (value.startsWith(";") || value.startsWith("#")) return "a comment line, not a secret";
  if (/keygen|glimpse-cluster|paste/i.test(value)) return "the text of an instruction, not a secret";
  const bytes = Buffer.byteLength(value);
  if (bytes < MIN_CONFIG_SECRET_BYTES) return "too short";
  const distinct = new Set(value).size;
  if (distinct < MIN_DISTINCT_CHARACTERS) return `only ${distinct} different characters: not a random value`;
  return undefined;
}

/** "a value of N bytes (why)": what an error says of a refused secret. */
export function describeRefusedSecret(text: string, problem: string): string {
  return `a value of ${Buffer.byteLength(text.trim())} bytes (${problem})`;
}
