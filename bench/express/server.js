// The baseline of `make bench`: the two routes of SPEC §3 as the plain Express app a team would
// write first (the "50-line serverless function", with the same response shapes). Straightforward,
// single process, not deliberately slow: express.json(), the global fetch (undici, keep-alive),
// sessions in a Map. Not part of the product; only bench/run.sh starts it.
'use strict';
const express = require('express');

const PORT = Number(process.env.PORT || 3000);
const HOST = process.env.HOST || '127.0.0.1';
const BASE_URL = (process.env.OPENAI_BASE_URL || 'https://api.openai.com/v1').replace(/\/+$/, '');
const API_KEY = process.env.OPENAI_API_KEY;
const TTL = Number(process.env.TOKEN_TTL || 1800);
const VOICES = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'sage', 'shimmer', 'verse', 'marin', 'cedar'];
const ENDED_BY = ['user', 'timeout', 'error'];
if (!API_KEY) throw new Error('OPENAI_API_KEY is required');

const sessions = new Map(); // sessionId -> { userId, model, voice, issuedAt, ended }
const app = express();
app.use(express.json({ limit: '64kb' }));

const fail = (res, status, code, error) => res.status(status).json({ success: false, error, code });

app.post('/api/realtime/token', async (req, res) => {
  const { userId = 'anonymous', sessionConfig = {} } = req.body || {};
  const { model = 'gpt-realtime', voice = 'alloy', instructions } = sessionConfig;
  if (typeof model !== 'string') return fail(res, 400, 'invalid_model', 'model must be a string');
  if (!VOICES.includes(voice)) return fail(res, 400, 'invalid_voice', 'voice is not supported');
  const session = { type: 'realtime', model, audio: { output: { voice } } };
  if (typeof instructions === 'string') session.instructions = instructions;
  try {
    const upstream = await fetch(`${BASE_URL}/realtime/client_secrets`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ expires_after: { anchor: 'created_at', seconds: TTL }, session }),
    });
    const data = await upstream.json();
    if (!upstream.ok) return fail(res, 502, 'upstream_error', 'Failed to create session');
    sessions.set(data.session.id, { userId, model, voice, issuedAt: Date.now(), ended: null });
    res.json({
      success: true, token: data.value, sessionId: data.session.id, expiresAt: data.expires_at,
      config: { model: data.session.model || model, voice: data.session.audio?.output?.voice || voice },
    });
  } catch (err) {
    fail(res, 503, 'upstream_unavailable', 'Upstream unavailable');
  }
});

app.post('/api/realtime/end', (req, res) => {
  const { sessionId, duration = 0, messageCount = 0, endedBy = 'user' } = req.body || {};
  const s = sessions.get(sessionId);
  if (!s) return fail(res, 404, 'session_not_found', 'Unknown session');
  if (!(duration >= 0) || !(messageCount >= 0) || !ENDED_BY.includes(endedBy)) {
    return fail(res, 400, 'bad_request', 'duration, messageCount or endedBy is invalid');
  }
  if (s.ended) {
    return res.json({ success: true, message: 'Session already ended', sessionData: s.ended, alreadyEnded: true });
  }
  s.ended = { sessionId, duration, messageCount, endedBy };
  console.log(`session ended: ${sessionId} ${duration}s ${messageCount} messages (${endedBy})`);
  res.json({ success: true, message: 'Session ended and logged successfully', sessionData: s.ended });
});

app.listen(PORT, HOST, () => console.log(`express baseline listening on http://${HOST}:${PORT}`));
