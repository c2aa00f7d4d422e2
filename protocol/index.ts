/**
 * codexd's wire contract: method names, param and result types, error codes, limits and the
 * validators of names and tags. Declarations and pure checks only.
 */
export * from './daemon-process.js';
export * from './errors.js';
export * from './framing.js';
export * from './limits.js';
export * from './methods.js';
export * from './socket-path.js';
export * from './validate.js';
export * from './version.js';
export * from './catalog.js';
export * from './trace-context.js';
export * from './validate-span.js';
export * from './validate-feedback.js';
export * from './handoff.js';
export * from './backoff.js';
