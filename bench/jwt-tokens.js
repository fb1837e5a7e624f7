// Writes HS256 JWTs for the bench users as a Lua file for bench/wrk/token_jwt.lua, offline:
//   JWT_SECRET=... node jwt-tokens.js OUT_FILE [USERS]
// One token per user bench-user-1..USERS (default 256), `sub` = the user, valid for 2 hours.
// The secret comes from the environment, never the command line (visible in ps).
'use strict';
const crypto = require('crypto');
const fs = require('fs');

const [out, usersArg] = process.argv.slice(2);
const secret = process.env.JWT_SECRET;
if (!out || !secret) {
  console.error('usage: JWT_SECRET=... node jwt-tokens.js OUT_FILE [USERS]');
  process.exit(2);
}
const users = Number(usersArg || 256);
const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const header = b64({ alg: 'HS256', typ: 'JWT' });
const lines = ['return {'];
for (let i = 1; i <= users; i++) {
  const input = `${header}.${b64({ sub: `bench-user-${i}`, iat: now, exp: now + 7200 })}`;
  const sig = crypto.createHmac('sha256', secret).update(input).digest('base64url');
  lines.push(`  "${input}.${sig}",`);
}
lines.push('}');
fs.writeFileSync(out, lines.join('\n') + '\n', { mode: 0o600 });
