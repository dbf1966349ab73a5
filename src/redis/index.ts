/// <reference types="node" />
// weft/redis: the distributed backends on Redis (node-redis or ioredis). This file only re-exports.
export * from './breakerstore.js';
export * from './client.js';
export * from './keyedratelimiter.js';
export * from './queue.js';
export * from './ratelimiter.js';
export * from './semaphore.js';
