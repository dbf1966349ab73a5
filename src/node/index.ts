/// <reference types="node" />
/**
 * What only Node has: `Shutdown` (signals, HTTP servers, hooks by phase) and the `diagnostics_channel` bridge.
 *
 * @module weftjs/node
 */
// This file only re-exports.

export * from './diagnostics.js';
export * from './shutdown.js';
