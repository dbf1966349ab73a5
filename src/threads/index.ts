// weft/threads: nothing here yet; see the issues.
export {};
