/// <reference types="node" />
// weft/threads: ThreadPool over node:worker_threads. This file only re-exports.

export * from './errors.js';
export * from './pool.js';
export { type Transferred, transfer } from './transfer.js';
