// Test doubles: a scripted fetch, a fake RTCPeerConnection family and a manual clock.
// Fake keys and tokens are dash-separated and obviously fake.

export const FAKE_TOKEN = 'ek_fake-token-0001';

/** A Response-like object. */
export function reply(status, body, headers = {}) {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: { get: (name) => lower[name.toLowerCase()] ?? null },
    text: async () => text,
  };
}

export function tokenBody(n = 1, expiresAt = 2_000_000_000, extra = {}) {
  return {
    success: true, token: `ek_fake-token-${String(n).padStart(4, '0')}`, sessionId: `sess_fake${n}`,
    expiresAt, config: { model: 'gpt-realtime', voice: 'alloy' }, ...extra,
  };
}

export function endBody(report, alreadyEnded = false) {
  const body = { success: true, message: 'Session ended and logged successfully', sessionData: report };
  if (alreadyEnded) body.alreadyEnded = true;
  return body;
}

/**
 * A fetch that answers from `routes`: { 'POST /api/realtime/token': handler | [responses…] }.
 * A key with a query matches only that query; a key without one matches any query.
 * A handler gets (url, init, callIndex) and returns a response, a promise, or throws.
 */
export function fakeFetch(routes) {
  const calls = [];
  const counts = {};
  const fn = async (url, init = {}) => {
    const method = init.method ?? 'GET';
    const path = url.replace(/^https?:\/\/[^/]+/, '');
    const exact = `${method} ${path}`;
    const key = exact in routes ? exact : exact.split('?')[0];
    calls.push({ url, key, method, headers: init.headers ?? {}, body: init.body });
    const route = routes[key];
    if (!route) throw new Error(`unexpected ${key}`);
    const i = counts[key] = (counts[key] ?? -1) + 1;
    if (typeof route === 'function') return route(url, init, i);
    const r = route[Math.min(i, route.length - 1)];
    if (r instanceof Error) throw r;
    return typeof r === 'function' ? r(url, init, i) : r;
  };
  fn.calls = calls;
  fn.count = (key) => calls.filter((c) => c.key === key).length;
  return fn;
}

export function manualClock(startMs = 1_900_000_000_000) {
  const clock = { t: startMs, now: () => clock.t, advance: (ms) => { clock.t += ms; } };
  return clock;
}

/** A sleep that records its delays and returns at once. */
export function recordingSleep() {
  const delays = [];
  const sleep = async (ms) => { delays.push(ms); };
  sleep.delays = delays;
  return sleep;
}

class FakeTarget {
  constructor() { this.listeners = {}; }
  addEventListener(type, fn) { (this.listeners[type] ??= new Set()).add(fn); }
  removeEventListener(type, fn) { this.listeners[type]?.delete(fn); }
  dispatch(type, event = {}) { for (const fn of this.listeners[type] ?? []) fn(event); }
}

export class FakeTrack {
  constructor(kind = 'audio') { this.kind = kind; this.enabled = true; this.stopped = false; }
  stop() { this.stopped = true; }
}

export class FakeStream {
  constructor(tracks = [new FakeTrack('audio')]) { this.tracks = tracks; }
  getTracks() { return [...this.tracks]; }
}

export class FakeDataChannel extends FakeTarget {
  constructor(label) { super(); this.label = label; this.readyState = 'connecting'; this.sent = []; }
  send(data) { this.sent.push(data); }
  close() { this.readyState = 'closed'; }
  open() { this.readyState = 'open'; this.dispatch('open'); }
  receive(obj) { this.dispatch('message', { data: typeof obj === 'string' ? obj : JSON.stringify(obj) }); }
}

/** A fake RTCPeerConnection class; instances are kept in `FakePC.instances`. */
export function fakePeerConnectionClass({ failRemote = false } = {}) {
  class FakePC extends FakeTarget {
    constructor(config) {
      super();
      this.config = config;
      this.tracks = [];
      this.channels = [];
      this.connectionState = 'new';
      this.closed = false;
      this.remote = null;
      FakePC.instances.push(this);
    }
    addTrack(track, stream) { this.tracks.push({ track, stream }); }
    createDataChannel(label) { const dc = new FakeDataChannel(label); this.channels.push(dc); return dc; }
    /** An offer with an m=audio line per audio track and an m=application line when a data
     * channel exists, as a browser makes it. */
    async createOffer() {
      let sdp = 'v=0\r\no=- fake-offer\r\n';
      for (const { track } of this.tracks) if (track.kind === 'audio') sdp += 'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n';
      if (this.channels.length) sdp += 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n';
      return { type: 'offer', sdp };
    }
    async setLocalDescription(d) { this.local = d; }
    async setRemoteDescription(d) {
      if (failRemote) throw new Error('bad answer');
      this.remote = d;
    }
    close() { this.closed = true; this.connectionState = 'closed'; }
    setState(state) { this.connectionState = state; this.dispatch('connectionstatechange'); }
  }
  FakePC.instances = [];
  return FakePC;
}

export function fakeMediaDevices(stream = new FakeStream()) {
  const md = {
    requests: [],
    stream,
    async getUserMedia(constraints) { md.requests.push(constraints); return stream; },
  };
  return md;
}
