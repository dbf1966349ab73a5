/**
 * The key layout of weft/redis, in one place: `<prefix>:{<kind>:<name>}:<part>`.
 * Redis Cluster hashes only what is inside the first `{...}` of a key, so
 * every key of one primitive (one kind, one name) lands in one slot and a
 * script may touch them all without a CROSSSLOT error, while primitives of
 * other names spread over the cluster.
 */

/** The shared head of one primitive's keys: `<prefix>:{<kind>:<name>}`; its keys add `:<part>`. */
export function keyBase(prefix: string, kind: string, name: string): string {
  return `${prefix}:{${kind}:${name}}`;
}

/** The keys of one primitive, one per part, in the order given. */
export function keysOf(prefix: string, kind: string, name: string, parts: readonly string[]): string[] {
  const base = keyBase(prefix, kind, name);
  return parts.map((p) => `${base}:${p}`);
}
