// Wire shapes of voicegate's API (SPEC §3) and the minimal interfaces this library needs from
// fetch and WebRTC. Only what browsers and react-native-webrtc both provide is assumed: no DOM
// types, no globals besides setTimeout/clearTimeout (and fetch when none is injected).

/** `sessionConfig` of `POST /api/realtime/token`; every field optional, the server decides. */
export interface SessionConfig {
  model?: string;
  voice?: string;
  instructions?: string;
  /** Legacy (not in the GA API): accepted by voicegate, not forwarded, answered with a warning. */
  temperature?: number;
  maxOutputTokens?: number | 'inf';
  /** A server-side profile (SPEC §3.4). */
  profile?: string;
}

/** The token request body. With JWT auth on, the server ignores `userId` and uses the JWT's `sub`. */
export interface TokenRequest {
  userId?: string;
  sessionConfig?: SessionConfig;
}

/** A successful `POST /api/realtime/token` answer (without `success`). */
export interface IssuedToken {
  /** The client secret, `ek_…`. A bearer credential: never log it. */
  token: string;
  /** `sess_…`: the id the end report names. */
  sessionId: string;
  /** Unix seconds after which the token can no longer start a call. */
  expiresAt: number;
  /** What the server really used (after aliases and profiles). */
  config: { model?: string; voice?: string };
  warnings?: string[];
}

/** How `connect()` starts a call (see the README's "Two flows").
 * - `token`: `POST /api/realtime/token` gives an `ek_…` secret; the device posts its offer to
 *   OpenAI's `/v1/realtime/calls` with it, then reports the call id (`POST
 *   /api/realtime/attach`) so that voicegate can supervise the call.
 * - `relay`: the device posts its offer to voicegate's `POST /api/realtime/calls`, which
 *   exchanges it with OpenAI; no credential of any kind is ever on the device. */
export type ConnectFlow = 'token' | 'relay';

/** Which request form the relay uses: `sdp` (raw offer, `?model=&voice=&profile=` in the query),
 * `json` (`{userId?, sessionConfig?, sdp}`), or `auto`: `json` when there is a `userId` or a
 * `sessionConfig` field besides model, voice and profile, else `sdp`. */
export type RelayBody = 'auto' | 'sdp' | 'json';

/** A successful `POST /api/realtime/calls` answer. */
export interface RelayedCall {
  /** The SDP answer, byte for byte as the upstream gave it. */
  sdp: string;
  /** `sess_…`: voicegate's id of the call (the upstream call id stays on the server). */
  sessionId: string;
  /** Unix seconds, only in the JSON form's answer (undefined for the raw SDP form). */
  expiresAt?: number;
  /** What the server really used (only in the JSON form's answer). */
  config: { model?: string; voice?: string };
  warnings?: string[];
}

/** What reporting a token-flow call id to `POST /api/realtime/attach` gave. Never thrown. */
export interface AttachResult {
  ok: boolean;
  /** HTTP attempts made (0 when nothing was sent: no call id, or the session had ended). */
  attempts: number;
  /** The last failure when not `ok`. */
  error?: import('./errors.js').VoicegateError;
}

/** How a session ended, as `POST /api/realtime/end` records it. */
export type EndedBy = 'user' | 'timeout' | 'error';

/** The body of `POST /api/realtime/end`. */
export interface EndReport {
  sessionId: string;
  /** Seconds, ≥ 0. */
  duration: number;
  messageCount: number;
  endedBy: EndedBy;
}

/** A successful `POST /api/realtime/end` answer. */
export interface EndRecord {
  success: true;
  message?: string;
  sessionData: EndReport;
  /** True when the session had already ended: the stored record is returned, nothing counted twice. */
  alreadyEnded?: boolean;
}

/** What reporting the end gave. Never thrown: `ok` false carries the last error. */
export interface EndResult {
  ok: boolean;
  /** The server's answer when `ok`. */
  record?: EndRecord;
  alreadyEnded: boolean;
  /** The last failure when not `ok`. */
  error?: import('./errors.js').VoicegateError;
  /** HTTP attempts made (0 when there was nothing to report). */
  attempts: number;
  report: EndReport;
}

// ------------------------------------------------------------------ fetch

export interface HeadersLike {
  get(name: string): string | null;
}

export interface ResponseLike {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: HeadersLike;
  text(): Promise<string>;
}

export interface RequestInitLike {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: any;
}

/** `fetch` as browsers, React Native and Node ≥ 18 provide it (only what is used here). */
export type FetchLike = (url: string, init?: RequestInitLike) => Promise<ResponseLike>;

// ------------------------------------------------------------------ WebRTC

export interface MediaStreamTrackLike {
  readonly kind: string;
  enabled: boolean;
  stop(): void;
}

export interface MediaStreamLike {
  getTracks(): MediaStreamTrackLike[];
}

/** `navigator.mediaDevices` or react-native-webrtc's `mediaDevices`. */
export interface MediaDevicesLike {
  getUserMedia(constraints: { audio: any; video?: any }): Promise<MediaStreamLike>;
}

export interface SessionDescriptionLike {
  type: string;
  sdp?: string;
}

/** Objects that take listeners: `addEventListener` when present, else the `on<type>` property. */
export interface EventTargetLike {
  addEventListener?(type: string, listener: (event: any) => void): void;
  removeEventListener?(type: string, listener: (event: any) => void): void;
}

export interface DataChannelLike extends EventTargetLike {
  readonly readyState: string;
  send(data: string): void;
  close(): void;
}

export interface PeerConnectionLike extends EventTargetLike {
  readonly connectionState?: string;
  readonly iceConnectionState?: string;
  readonly signalingState?: string;
  addTrack(track: any, ...streams: any[]): unknown;
  createDataChannel(label: string, init?: any): DataChannelLike;
  createOffer(options?: any): Promise<SessionDescriptionLike>;
  setLocalDescription(description?: any): Promise<void>;
  setRemoteDescription(description: any): Promise<void>;
  close(): void;
}

/** `RTCPeerConnection` of the browser or of react-native-webrtc. */
export type PeerConnectionConstructor = new (configuration?: any) => PeerConnectionLike;
