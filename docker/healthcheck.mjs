// The image's HEALTHCHECK: exits 0 only when the daemon answers both GET /healthz (its certificate folder is writable)
// and GET /readyz (ACME account loaded, or a --ha follower, which needs none; Consul reachable) with 200 within
// 4 seconds. So a hung daemon, an unwritable folder and a daemon still waiting for its account (CA unreachable) all
// count as unhealthy; the reason goes to stderr, which docker keeps in .State.Health.Log.
//
// Where to ask: WHISPER_LISTEN (the image's default is 127.0.0.1:9400). With it empty the entrypoint lets the daemon
// pick a free loopback port, found here through /proc: the daemon's listening TCP socket.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { get } from 'node:http';
import process from 'node:process';
import { URL } from 'node:url';

function fail(message) {
  process.stderr.write(`healthcheck: ${message}\n`);
  process.exit(1);
}

/** `host:port` → a URL on loopback when the daemon listens on every address. Accepts what --listen accepts, and a URL. */
function fromListen(listen) {
  const url = new URL(/^[a-z]+:\/\//i.test(listen) ? listen : `http://${listen}`);
  if (url.hostname === '0.0.0.0' || url.hostname === '[::]') url.hostname = '127.0.0.1';
  return url;
}

/** The daemon's processes: node running whisper-ts's dist/bin.js (tini is PID 1; a `docker exec ... status` may be another). */
function daemonPids() {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.endsWith('/dist/bin.js'));
      } catch {
        return false; // gone meanwhile
      }
    });
}

/** The TCP port `pid` listens on: its sockets' inodes, matched in its network namespace's TCP tables. */
function listeningPort(pid) {
  const inodes = new Set();
  const link = (fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      return ''; // closed meanwhile (a Consul or CA connection)
    }
  };
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const m = /^socket:\[(\d+)\]$/.exec(link(fd));
      if (m) inodes.add(m[1]);
    }
    for (const table of ['tcp', 'tcp6']) {
      for (const line of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').split('\n').slice(1)) {
        // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode; st 0A is LISTEN
        const f = line.trim().split(/\s+/);
        if (f[3] === '0A' && inodes.has(f[9])) return parseInt(f[1].split(':')[1], 16);
      }
    }
  } catch {
    // the process went away meanwhile
  }
  return undefined;
}

/** The daemon's health server when WHISPER_LISTEN is empty: the entrypoint had it listen on a free loopback port. */
function discoveredUrl() {
  const pids = daemonPids();
  if (pids.length === 0) fail('the daemon is not running');
  for (const pid of pids) {
    const port = listeningPort(pid);
    if (port !== undefined) return new URL(`http://127.0.0.1:${port}`);
  }
  return fail(`the daemon (pid ${pids.join(', ')}) does not listen yet`);
}

const listen = process.env.WHISPER_LISTEN?.trim();
const base = listen ? fromListen(listen) : discoveredUrl();

function ask(path) {
  const url = new URL(path, base);
  return new Promise((resolve) => {
    const req = get(url, { timeout: 4000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? undefined : `${url.href}: ${res.statusCode} ${body.trim()}`));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 4 s')));
    req.on('error', (err) => resolve(`${url.href}: ${err.message}`));
  });
}

const problems = (await Promise.all([ask('/healthz'), ask('/readyz')])).filter(Boolean);
if (problems.length > 0) fail(problems.join('; '));
process.exit(0);
