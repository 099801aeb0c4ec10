// A static file server for web/dist on localhost (`make serve-web`; the e2e test uses it too).
// Usage: node web/scripts/serve.mjs [--port 8080] [--dir web/dist]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Starts the server; resolves to {server, url}. Port 0 picks a free port. */
export function serve({ dir, port = 0, host = '127.0.0.1' }) {
  const rootDir = path.resolve(dir);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let file = path.normalize(path.join(rootDir, decodeURIComponent(url.pathname)));
    if (!file.startsWith(rootDir)) {
      res.writeHead(403).end();
      return;
    }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    fs.readFile(file, (err, body) => {
      if (err) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      const ext = path.extname(file);
      const immutable = /-[0-9a-zA-Z_]{8,}\.(js|css|wasm)$/.test(file);
      res.writeHead(200, {
        'content-type': TYPES[ext] || 'application/octet-stream',
        'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        'x-content-type-options': 'nosniff',
      });
      res.end(body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: actual } = server.address();
      resolve({ server, url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${actual}/` });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name, def) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : def;
  };
  const web = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const dir = opt('dir', path.join(web, 'dist'));
  const port = Number(opt('port', process.env.PORT || 8080));
  if (!fs.existsSync(path.join(dir, 'index.html'))) {
    console.error(`${dir}/index.html is missing: run \`make web\` first`);
    process.exit(1);
  }
  const { url } = await serve({ dir, port, host: opt('host', '127.0.0.1') });
  console.log(`rbac-gate playground: ${url}  (Ctrl-C to stop)`);
}
