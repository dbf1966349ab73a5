/** Wraps each top-level class of the built files under `dir` (default `dist`); returns how many it wrapped. */
export function run(dir?: string): number;
/** Rewrites one file's text: the new text and its map against the old, or undefined when nothing changed. */
export function pureClasses(
  text: string,
  fileName: string,
): { code: string; map: { toString(): string }; changed: number } | undefined;
