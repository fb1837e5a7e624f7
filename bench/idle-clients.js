// Opens N keep-alive client connections to HOST:PORT and holds them idle, for the memory bar of
// SPEC §9 ("under 100 MB with 10,000 open client connections"). Each connection sends one
// `GET /healthz` and reads the answer, so the server has really served it (a connection that
// never sent a byte might still sit in the accept queue), then stays open and silent.
//   node idle-clients.js HOST PORT N
// Prints "READY <open>" once all N have been answered (or "FAILED ..." and exits 1), then waits;
// on SIGTERM/SIGINT prints "OPEN <still open>" and exits 0. Uses only node's core modules.
'use strict';
const net = require('net');

const [host, portText, countText] = process.argv.slice(2);
const port = Number(portText);
const total = Number(countText || 10000);
const PARALLEL = 256; // connections being opened at once
const TIMEOUT_MS = 30000;

const sockets = new Set();
let started = 0;
let answered = 0;
let failed = 0;
let inflight = 0;
let ready = false;
const request = `GET /healthz HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: keep-alive\r\n\r\n`;

function openOne() {
  started++;
  inflight++;
  const s = net.connect({ host, port });
  let done = false;
  let seen = '';
  const finish = (ok) => {
    if (done) return;
    done = true;
    inflight--;
    if (ok) answered++;
    else failed++;
    pump();
  };
  s.setNoDelay(true);
  s.on('connect', () => s.write(request));
  s.on('data', (chunk) => {
    if (done) return; // an idle connection should get nothing more
    seen += chunk.toString('latin1');
    const end = seen.indexOf('\r\n\r\n');
    if (end < 0) return;
    const m = /content-length:\s*(\d+)/i.exec(seen.slice(0, end));
    if (!m || seen.length >= end + 4 + Number(m[1])) finish(/^HTTP\/1\.1 200/.test(seen));
  });
  s.on('error', () => finish(false));
  s.on('close', () => {
    sockets.delete(s);
    finish(false);
  });
  sockets.add(s);
}

function pump() {
  while (inflight < PARALLEL && started < total) openOne();
  if (!ready && answered + failed === total) {
    ready = true;
    if (failed > 0) {
      console.log(`FAILED ${failed} of ${total} connections were refused, closed or not answered 200`);
      process.exit(1);
    }
    console.log(`READY ${sockets.size}`);
  }
}

setTimeout(() => {
  if (!ready) {
    console.log(`FAILED timeout: ${answered} answered, ${failed} failed of ${total}`);
    process.exit(1);
  }
}, TIMEOUT_MS).unref();

const stop = () => {
  console.log(`OPEN ${sockets.size}`);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
setInterval(() => {}, 1 << 30); // stay alive while idle
pump();
