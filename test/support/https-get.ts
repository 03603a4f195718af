import { request } from 'node:https';
import { readFileSync } from 'node:fs';

/** GET over HTTPS trusting the given CA file; resolves with status and body. */
export function httpsGet(url: string, caFile: string): Promise<{ status: number; body: string }> {
  const ca = readFileSync(caFile);
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, timeout: 5000, headers: { 'user-agent': 'whisper-ts-tests' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end();
  });
}
