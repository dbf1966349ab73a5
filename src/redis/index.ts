// weft/redis: nothing here yet; see the issues.
export {};
