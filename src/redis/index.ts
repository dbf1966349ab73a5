/// <reference types="node" />
/**
 * The distributed backends on Redis (node-redis or ioredis): the core's shapes shared by every process that uses
 * the same Redis and key prefix.
 *
 * @module weftjs/redis
 */
// This file only re-exports.
export * from './breakerstore.js';
export * from './client.js';
export * from './keyedratelimiter.js';
export * from './pubsub.js';
export * from './queue.js';
export * from './ratelimiter.js';
export * from './semaphore.js';
