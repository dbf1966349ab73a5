/// <reference types="node" />
// weft/node: what only Node has: Shutdown (signals, HTTP servers, diagnostics_channel events).

export * from './diagnostics.js';
export * from './shutdown.js';
