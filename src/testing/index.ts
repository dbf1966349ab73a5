// weft/testing: virtual time, leak and deadlock detection. This file only re-exports.
export * from './clock.js';
export * from './deadlock.js';
export * from './leaks.js';
