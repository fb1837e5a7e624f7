// Compiled (not run) by types.test.mjs against the DOM library: the browser's own classes and
// fetch must fit the library's injected-dependency types without casts.
import {
  createVoicegateClient, isVoicegateError, type AttachResult, type ConnectFlow, type EndResult, type RelayedCall,
  type VoicegateSession,
} from '../../dist/esm/index.js';

const client = createVoicegateClient({ baseUrl: 'https://vg.example', fetch: window.fetch, getAuthToken: async () => 'jwt' });

export async function start(audio: HTMLAudioElement): Promise<VoicegateSession> {
  const token = await client.getToken({ userId: 'u', sessionConfig: { model: 'gpt-realtime', maxOutputTokens: 'inf' } });
  const session = await client.connect({
    token,
    RTCPeerConnection,
    mediaDevices: navigator.mediaDevices,
    on: {
      remoteTrack: ({ streams }) => { audio.srcObject = streams[0] as MediaStream; },
      transcript: (t) => { audio.title = `${t.role}: ${t.text}`; },
      endReportFailed: ({ error }) => { audio.title = error.code; },
    },
  });
  session.on('timeAlmostUp', ({ remainingMs }) => { audio.title = String(remainingMs); });
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  await client.connect({ RTCPeerConnection, stream, upstreamUrl: 'https://api.openai.com/v1/realtime/calls' });
  return session;
}

export async function stop(session: VoicegateSession): Promise<string> {
  const result: EndResult = await session.end({ messageCount: 3, endedBy: 'user' });
  return result.ok ? 'logged' : isVoicegateError(result.error) ? result.error.code : 'unknown';
}

export async function relay(audio: HTMLAudioElement, flow: ConnectFlow): Promise<AttachResult | undefined> {
  const session = await client.connect({
    flow,
    config: { sessionConfig: { profile: 'diary' } },
    dataChannel: false,
    relayBody: 'auto',
    RTCPeerConnection,
    mediaDevices: navigator.mediaDevices,
    on: {
      remoteTrack: ({ streams }) => { audio.srcObject = streams[0] as MediaStream; },
      attached: ({ callId }) => { audio.title = callId; },
      attachFailed: ({ error, attempts }) => { audio.title = `${error.code} after ${attempts}`; },
    },
  });
  const open: boolean = session.dataChannel?.readyState === 'open';
  audio.title = `${session.flow} ${open}`;
  return session.attachment;
}

export async function ownWebRtc(pc: RTCPeerConnection): Promise<string> {
  const offer = await pc.createOffer();
  const call: RelayedCall = await client.relayOffer(offer.sdp ?? '', { userId: 'u' }, 'json');
  await pc.setRemoteDescription({ type: 'answer', sdp: call.sdp });
  const attached = await client.attachCall(call.sessionId, 'rtc_x');
  return attached.ok ? call.sessionId : attached.error?.code ?? '';
}
