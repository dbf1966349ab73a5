/// <reference types="node" />
/**
 * `ThreadPool` over `node:worker_threads`: CPU-bound tasks on every core, cancellable, with crashed threads
 * replaced.
 *
 * @module weftjs/threads
 */
// This file only re-exports.

export * from './errors.js';
export * from './pool.js';
export { type Transferred, transfer } from './transfer.js';
