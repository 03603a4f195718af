// The image's HEALTHCHECK: exits 0 when WHISPER_LISTEN is unset (no HTTP listener to ask), otherwise
// 0 only when GET /healthz on that address answers 200 within 4 seconds.
import { get } from 'node:http';
import process from 'node:process';
import { URL } from 'node:url';

const listen = process.env.WHISPER_LISTEN?.trim();
if (!listen) process.exit(0);

// Accepts 9100, :9100, host:9100, [::1]:9100 or a URL; a wildcard address is asked on loopback.
const url = new URL(/^[a-z]+:\/\//i.test(listen) ? listen : `http://${/^\d+$/.test(listen) ? `:${listen}` : listen}`.replace('//:', '//127.0.0.1:'));
if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = '127.0.0.1';
url.pathname = '/healthz';

const req = get(url, { timeout: 4000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', (err) => {
  process.stderr.write(`healthcheck: ${url.href}: ${err.message}\n`);
  process.exit(1);
});
