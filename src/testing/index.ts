/**
 * Testing concurrent code: `TestClock` (virtual time), leak and deadlock detection.
 *
 * @module weftjs/testing
 */
// This file only re-exports.
export * from './clock.js';
export * from './deadlock.js';
export * from './leaks.js';
