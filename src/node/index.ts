// weft/node: nothing here yet; see the issues.
export {};
