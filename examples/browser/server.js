#!/usr/bin/env node
// Serves the package folder for the browser example: `node examples/browser/server.js [port]`, then open
// http://localhost:8080/examples/browser/. It sends the two headers that make the page cross-origin isolated
// (so that the engine can run threads); `--no-isolation` leaves them out (training then runs on one thread).
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const ROOT = path.join(__dirname, '..', '..');
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm', '.json': 'application/json', '.map': 'application/json', '.css': 'text/css',
};

/**
 * Starts the server; resolves with it once it listens (port 0: any free port, see server.address()). `root`: the
 * folder served (default: the package's).
 */
function serve({ port = 8080, isolation = true, host = '127.0.0.1', root = ROOT } = {}) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let file = path.normalize(path.join(root, decodeURIComponent(url.pathname)));
    if (file !== root && !file.startsWith(root + path.sep)) { res.writeHead(403).end(); return; }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!fs.existsSync(file) || !fs.statSync(file).isFile()) { res.writeHead(404).end('not found'); return; }
    const headers = { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-store' };
    if (isolation) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    res.writeHead(200, headers);
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

module.exports = { serve };

if (require.main === module) {
  const args = process.argv.slice(2);
  const isolation = !args.includes('--no-isolation');
  const port = Number(args.find((a) => /^\d+$/.test(a)) ?? 8080);
  serve({ port, isolation }).then(() => {
    console.log(`http://localhost:${port}/examples/browser/ (${isolation ? 'cross-origin isolated' : 'not isolated: one thread'})`);
  });
}
