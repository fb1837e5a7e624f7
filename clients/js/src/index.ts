// voicegate client for browsers and React Native. No runtime dependencies; WebRTC classes and
// fetch are injected (or fetch is the global one).
export { createVoicegateClient } from './client.js';
export type { VoicegateClient, VoicegateClientOptions } from './client.js';
export {
  VoicegateSession, callIdFromLocation, DEFAULT_SESSION_TIME_LIMIT_MS, DEFAULT_UPSTREAM_URL,
  DEFAULT_WARN_BEFORE_MS,
} from './session.js';
export type { ConnectOptions, EndOptions, ServerEvent, SessionEvents, TranscriptEvent } from './session.js';
export { VoicegateError, isVoicegateError, parseRetryAfter, redactToken, scrubSecrets } from './errors.js';
export type { ErrorSource, VoicegateErrorInit } from './errors.js';
export type * from './types.js';
