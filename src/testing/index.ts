/**
 * Testing concurrent code: `TestClock` (virtual time), leak and deadlock detection. This file only re-exports.
 *
 * @module weftjs/testing
 */
export * from './clock.js';
export * from './deadlock.js';
export * from './leaks.js';
