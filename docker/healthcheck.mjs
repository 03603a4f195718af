// The image's HEALTHCHECK. With WHISPER_LISTEN set (the image's default is 127.0.0.1:9400): exits 0 only when the
// daemon's GET /healthz answers 200 within 4 seconds, so a hung daemon and an unwritable certificate folder both
// count. With WHISPER_LISTEN empty: runs the same folder probe itself (the process is alive if the container is).
import { get } from 'node:http';
import process from 'node:process';
import { URL } from 'node:url';

const listen = process.env.WHISPER_LISTEN?.trim();
if (!listen) {
  const { checkFolderWritable } = await import('../dist/http/health.js');
  const health = await checkFolderWritable(process.env.WHISPER_CERT_FOLDER || '/app/certs');
  if (!health.ok) process.stderr.write(`healthcheck: ${health.reason}\n`);
  process.exit(health.ok ? 0 : 1);
}

// Accepts 9100, :9100, host:9100, [::1]:9100 or a URL; a wildcard address is asked on loopback.
const url = new URL(/^[a-z]+:\/\//i.test(listen) ? listen : `http://${/^\d+$/.test(listen) ? `:${listen}` : listen}`.replace('//:', '//127.0.0.1:'));
if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = '127.0.0.1';
url.pathname = '/healthz';

const req = get(url, { timeout: 4000 }, (res) => {
  let body = '';
  res.setEncoding('utf8').on('data', (c) => (body += c));
  res.on('end', () => {
    if (res.statusCode !== 200) process.stderr.write(`healthcheck: ${url.href}: ${res.statusCode} ${body.trim()}\n`);
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (err) => {
  process.stderr.write(`healthcheck: ${url.href}: ${err.message}\n`);
  process.exit(1);
});
