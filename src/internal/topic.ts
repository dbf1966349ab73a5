/**
 * Topic matching for PubSub, with NATS's wildcards: topics are dot-separated
 * segments; in a pattern `*` matches exactly one segment and `>`, which must
 * be last, one or more remaining segments (`orders.>` does not match
 * `orders`).
 *
 * Patterns without a wildcard go in a Map from topic to subscribers, the
 * others in a trie keyed by segment. The deduplicated list of subscribers of
 * each published topic is cached, so a steady stream of publishes to known
 * topics costs one Map lookup each; any subscribe or unsubscribe drops the
 * cache. Cached lists are never mutated, so a publisher may keep iterating a
 * list while a subscriber it delivers to unsubscribes.
 */
import { show, typeError } from './validate.js';

/** Checks a topic to publish on: non-empty segments, no wildcard segment. */
export function checkTopic(topic: unknown, op: string, name: string): string {
  if (typeof topic !== 'string') throw typeError(`${op}: \`${name}\` must be a string, got ${show(topic)}`);
  const segments = topic.split('.');
  for (const s of segments) {
    if (s === '' || s === '*' || s === '>') {
      throw typeError(
        `${op}: \`${name}\` must be dot-separated non-empty segments without wildcards, got ${show(topic)}`,
      );
    }
  }
  return topic;
}

/** Checks a subscription pattern; returns its segments. */
export function checkPattern(pattern: unknown, op: string, name: string): string[] {
  if (typeof pattern !== 'string') throw typeError(`${op}: \`${name}\` must be a string, got ${show(pattern)}`);
  const segments = pattern.split('.');
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '') {
      throw typeError(
        `${op}: \`${name}\` must be dot-separated non-empty segments, got ${show(pattern)}`,
        'ERR_INVALID_ARG_VALUE',
      );
    }
    if (s === '>' && i !== segments.length - 1) {
      throw typeError(
        `${op}: \`${name}\` may use \`>\` only as its last segment, got ${show(pattern)}`,
        'ERR_INVALID_ARG_VALUE',
      );
    }
  }
  return segments;
}

class Node<S> {
  readonly children = new Map<string, Node<S>>();
  star: Node<S> | null = null;
  /** Subscribers whose pattern ends here. */
  readonly here = new Set<S>();
  /** Subscribers whose pattern has `>` right after this node. */
  readonly rest = new Set<S>();

  get empty(): boolean {
    return this.children.size === 0 && this.star === null && this.here.size === 0 && this.rest.size === 0;
  }
}

// Past this many cached topics the cache starts over, so that publishing
// on ever new topics cannot grow it without bound.
const CACHE_MAX = 4096;

/** Subscribers by pattern, matched against published topics. */
export class TopicIndex<S> {
  readonly #exact = new Map<string, Set<S>>();
  readonly #root = new Node<S>();
  #wildcards = 0;
  readonly #cache = new Map<string, readonly S[]>();

  /** Adds `sub` under a pattern checked by `checkPattern`. */
  add(pattern: string, segments: string[], sub: S): void {
    this.#cache.clear();
    if (!isWild(segments)) {
      let set = this.#exact.get(pattern);
      if (set === undefined) this.#exact.set(pattern, (set = new Set()));
      set.add(sub);
      return;
    }
    this.#wildcards++;
    let node = this.#root;
    for (const s of segments) {
      if (s === '>') {
        node.rest.add(sub);
        return;
      }
      if (s === '*') node = node.star ??= new Node();
      else {
        let next = node.children.get(s);
        if (next === undefined) node.children.set(s, (next = new Node()));
        node = next;
      }
    }
    node.here.add(sub);
  }

  /** Removes what `add` added. */
  remove(pattern: string, segments: string[], sub: S): void {
    this.#cache.clear();
    if (!isWild(segments)) {
      const set = this.#exact.get(pattern);
      if (set === undefined) return;
      set.delete(sub);
      if (set.size === 0) this.#exact.delete(pattern);
      return;
    }
    this.#wildcards--;
    const path: Node<S>[] = [];
    let node: Node<S> | null | undefined = this.#root;
    for (const s of segments) {
      if (s === '>') {
        node.rest.delete(sub);
        break;
      }
      path.push(node);
      node = s === '*' ? node.star : node.children.get(s);
      if (node == null) return;
    }
    if (segments[segments.length - 1] !== '>') node.here.delete(sub);
    // Prune the nodes left empty, deepest first.
    for (let i = path.length - 1; i >= 0 && node.empty; i--) {
      const parent = path[i]!;
      const s = segments[i]!;
      if (s === '*') parent.star = null;
      else parent.children.delete(s);
      node = parent;
    }
  }

  /** The cached result of `match(topic)`, if any: a topic found here was checked before. */
  cached(topic: string): readonly S[] | undefined {
    return this.#cache.get(topic);
  }

  /** The subscribers matching `topic`, each once. The array must not be mutated. */
  match(topic: string): readonly S[] {
    const cached = this.#cache.get(topic);
    if (cached !== undefined) return cached;
    const exact = this.#exact.get(topic);
    let out: readonly S[];
    if (this.#wildcards === 0) out = exact === undefined ? [] : [...exact];
    else {
      const found = new Set<S>(exact);
      walk(this.#root, topic.split('.'), 0, found);
      out = [...found];
    }
    if (this.#cache.size >= CACHE_MAX) this.#cache.clear();
    this.#cache.set(topic, out);
    return out;
  }
}

function isWild(segments: string[]): boolean {
  for (const s of segments) if (s === '*' || s === '>') return true;
  return false;
}

function walk<S>(node: Node<S>, segments: string[], i: number, out: Set<S>): void {
  if (i === segments.length) {
    for (const s of node.here) out.add(s);
    return;
  }
  for (const s of node.rest) out.add(s);
  const child = node.children.get(segments[i]!);
  if (child !== undefined) walk(child, segments, i + 1, out);
  if (node.star !== null) walk(node.star, segments, i + 1, out);
}
