// Compiled (not run) by types.test.mjs against the DOM library: the browser's own classes and
// fetch must fit the library's injected-dependency types without casts.
import { createVoicegateClient, isVoicegateError, type EndResult, type VoicegateSession } from '../../dist/esm/index.js';

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
