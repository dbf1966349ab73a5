/// <reference types="node" />
/**
 * What only Node has: `Shutdown` (signals, HTTP servers, hooks by phase) and the `diagnostics_channel` bridge.
 * This file only re-exports.
 *
 * @module weftjs/node
 */

export * from './diagnostics.js';
export * from './shutdown.js';
