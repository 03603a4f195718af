import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { startProcess, type ServerProcess } from './proc.js';

const run = promisify(execFile);

/** Debian's OpenSSH server (`openssh-server`, installed by scripts/env/install.sh). */
export const SSHD = '/usr/sbin/sshd';

/**
 * A running OpenSSH `sshd` on 127.0.0.1 with its own ed25519 host key, one authorized client key and the
 * `internal-sftp` subsystem: key authentication only, as the user running the tests.
 */
export interface Sshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The login name: the user running the tests (root in CI). */
  readonly user: string;
  /** The authorized client key (OpenSSH private key, unencrypted, mode 0600). */
  readonly keyFile: string;
  /** A second client key that is not authorized. */
  readonly unauthorizedKeyFile: string;
  /** The known_hosts line of the server's host key: `[127.0.0.1]:<port> ssh-ed25519 AAAA...`. */
  readonly knownHostsLine: string;
  /** A known_hosts line for the same host with a key the server does not have. */
  readonly wrongKnownHostsLine: string;
  /** The server's host public key (`ssh-ed25519 AAAA...`), as in `ssh_host_ed25519_key.pub`. */
  readonly hostPublicKey: string;
  /** The current process (a new one after {@link Sshd.start}). */
  process(): ServerProcess;
  /** Starts sshd again on the same port with the same keys, after {@link Sshd.stop}. */
  start(): Promise<void>;
  stop(graceMs?: number): Promise<void>;
}

async function keygen(file: string, comment: string): Promise<string> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return (await readFile(`${file}.pub`, 'utf8')).trim();
}

/** Type and base64 of a public key line, without its comment. */
function keyOnly(pub: string): string {
  return pub.split(/\s+/).slice(0, 2).join(' ');
}

function bannerSeen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('data', (d) => done(d.toString('latin1').startsWith('SSH-2.0-')));
    s.once('error', () => done(false));
  });
}

/**
 * sshd needs its privilege separation folder when it runs as root; Debian's package creates it at boot through
 * systemd, which containers lack. Created here when missing (as root only: a user's sshd does not chroot).
 */
async function ensurePrivsepDir(): Promise<void> {
  if (process.getuid?.() !== 0 || existsSync('/run/sshd')) return;
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
}

/**
 * Starts `sshd -D -e` (foreground, logs to its log file) with a configuration of its own in `<dir>/sshd-<n>`:
 * `StrictModes no` and `UsePAM no` so that it also runs as an ordinary user, no password or keyboard-interactive
 * authentication, `PermitRootLogin prohibit-password`. It is stopped like every test server (process group, and
 * the kernel kills it with the test runner through `setpriv --pdeathsig`).
 */
export async function startSshd(dir: string): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: run scripts/env/install.sh (openssh-server)`);
  await ensurePrivsepDir();
  const home = join(dir, `sshd-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`);
  await mkdir(home, { recursive: true, mode: 0o700 });
  const port = await freePort();
  const user = userInfo().username;
  const hostKey = join(home, 'ssh_host_ed25519_key');
  const otherHostKey = join(home, 'other_host_ed25519_key');
  const keyFile = join(home, 'client_ed25519');
  const unauthorizedKeyFile = join(home, 'stranger_ed25519');
  const [hostPub, otherPub, clientPub] = await Promise.all([
    keygen(hostKey, 'whisper-test-host'),
    keygen(otherHostKey, 'whisper-test-other-host'),
    keygen(keyFile, 'whisper-test-client'),
    keygen(unauthorizedKeyFile, 'whisper-test-stranger'),
  ]);
  const authorizedKeys = join(home, 'authorized_keys');
  await writeFile(authorizedKeys, `${clientPub}\n`, { mode: 0o600 });
  const conf = join(home, 'sshd_config');
  await writeFile(
    conf,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(home, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      `AllowUsers ${user}`,
      'StrictModes no',
      'UsePAM no',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'AllowTcpForwarding no',
      'X11Forwarding no',
      'PrintMotd no',
      'LogLevel VERBOSE',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  const launch = () =>
    startProcess({
      name: 'sshd',
      command: SSHD,
      args: ['-D', '-e', '-f', conf],
      logFile: join(home, 'sshd.log'),
      ready: () => bannerSeen(port),
      readyTimeoutMs: 20_000,
    });
  let proc = await launch();
  return {
    host: '127.0.0.1',
    port,
    user,
    keyFile,
    unauthorizedKeyFile,
    hostPublicKey: keyOnly(hostPub),
    knownHostsLine: `[127.0.0.1]:${port} ${keyOnly(hostPub)}`,
    wrongKnownHostsLine: `[127.0.0.1]:${port} ${keyOnly(otherPub)}`,
    process: () => proc,
    async start() {
      proc = await launch();
    },
    stop: (g) => proc.stop(g),
  };
}
