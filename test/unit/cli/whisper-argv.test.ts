import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { whisperArgv } from '../../../src/whisper-argv.js';
import { main, parseCommandLine } from '../../../src/cli.js';
import type { Config } from '../../../src/config.js';

describe('whisperArgv: the two meanings of -d', () => {
  const cases: Array<[string, string[], string[]]> = [
    ['-d alone before the folder is debug (first release)', ['-d', '/app/certs'], ['-d', '/app/certs']],
    ['-d after the folder is debug', ['/app/certs', '-d'], ['/app/certs', '-d']],
    ['-d before another flag is debug', ['-d', '-s', '/app/certs'], ['-d', '-s', '/app/certs']],
    ['-d <zone> <folder> is --domain (last release)', ['-d', 'example.com', '/app/certs'], ['--domain', 'example.com', '/app/certs']],
    ['<folder> -d <zone> is --domain too (docopt took options anywhere)', ['/app/certs', '-d', 'example.com'], ['/app/certs', '--domain', 'example.com']],
    ['-d twice', ['-d', 'a.example', '-d', 'b.example', 'certs'], ['--domain', 'a.example', '--domain', 'b.example', 'certs']],
    ['a value of a flag is not a positional', ['-c', 'consul', '-d', '/app/certs'], ['-c', 'consul', '-d', '/app/certs']],
    ['-d <zone> then flags then the folder', ['-d', 'example.com', '-s', '/app/certs'], ['--domain', 'example.com', '-s', '/app/certs']],
    ['first release -o <folder> and --acme-staging', ['-o', '/app/certs', '--acme-staging', '-d'], ['--staging', '-d', '/app/certs']],
    ['-d <zone> with -o <folder>', ['-d', 'example.com', '-o', '/app/certs'], ['--domain', 'example.com', '/app/certs']],
    ['words after -- are left alone', ['certs', '--', '-d', 'x'], ['certs', '--', '-d', 'x']],
  ];
  for (const [name, argv, expected] of cases) {
    it(name, () => expect(whisperArgv(argv)).toEqual(expected));
  }

  it('with the folder in WHISPER_CERT_FOLDER (the image), -d <name with a dot> is --domain; -d <word> stays debug', () => {
    expect(whisperArgv(['-d', 'example.com'], { folderFromEnv: true })).toEqual(['--domain', 'example.com']);
    expect(whisperArgv(['-d', 'certs'], { folderFromEnv: true })).toEqual(['-d', 'certs']);
    expect(whisperArgv(['-d', 'example.com'])).toEqual(['-d', 'example.com']);
  });
});

/** The words `sh -c` makes of `line` in `env`: unquoted variables split on spaces, empty ones vanish, as in whisper's images. */
function shWords(line: string, env: Record<string, string>): string[] {
  const out = execFileSync('sh', ['-c', `for w in ${line}; do printf '%s\\0' "$w"; done`], { env: { PATH: process.env.PATH ?? '', ...env } });
  return out.toString('utf8').split('\0').slice(0, -1);
}

function parse(argv: string[], env: Record<string, string> = {}): { config?: Config; code?: number; err: string } {
  let err = '';
  const r = parseCommandLine(argv, { env, cwd: '/srv', stdout: () => undefined, stderr: (t) => void (err += t) });
  return typeof r === 'number' ? { code: r, err } : { config: r, err };
}

// whisper's two Dockerfiles, their CMD after `python whisper.py` (see docs/migration.md).
const FIRST_CMD = '-c ${CONSUL} -n ${KV_PATH} ${DEBUG} ${STAGING} /app/certs';
const LAST_CMD = '-c ${CONSUL} -n ${KV_PATH} ${DEBUG} ${STAGING} ${DOMAIN} /app/certs';
const IMAGE_ENV = { CONSUL: 'consul', KV_PATH: 'whisper/updated' };

describe("whisper's Dockerfile CMD lines, expanded by sh, give the same run", () => {
  const debugs = ['', '-d', '--debug'];
  const stagings = ['', '-s'];
  const domains = ['', '-d example.com', '-d example.com -d example.org'];
  for (const [cmdName, line] of [['first', FIRST_CMD], ['last', LAST_CMD]] as const) {
    for (const DEBUG of debugs) {
      for (const STAGING of stagings) {
        for (const DOMAIN of cmdName === 'first' ? [''] : domains) {
          it(`${cmdName} release: DEBUG=${JSON.stringify(DEBUG)} STAGING=${JSON.stringify(STAGING)} DOMAIN=${JSON.stringify(DOMAIN)}`, () => {
            const env = { ...IMAGE_ENV, DEBUG, STAGING, DOMAIN };
            const { config, err } = parse(shWords(line, env), env);
            expect(err).toBe('');
            expect(config?.certDir).toBe('/app/certs');
            expect(config?.consul.address).toBe('consul');
            expect(config?.notifyKey).toBe('whisper/updated');
            expect(config?.debug).toBe(DEBUG !== '');
            expect(config?.directoryUrl).toMatch(STAGING ? /acme-staging-v02/ : /acme-v02\.api/);
            expect(config?.domains).toEqual(DOMAIN.split(' ').filter((w) => w !== '-d' && w !== ''));
          });
        }
      }
    }
  }

  it('the very first Dockerfile: -c consul -o /app/certs -n whisper/updated -d --acme-staging', () => {
    const { config } = parse(['-c', 'consul', '-o', '/app/certs', '-n', 'whisper/updated', '-d', '--acme-staging']);
    expect(config).toMatchObject({ certDir: '/app/certs', debug: true, notifyKey: 'whisper/updated', domains: [] });
    expect(config?.directoryUrl).toMatch(/acme-staging-v02/);
  });

  it("the last README's flags: -a, -l twice, -d twice, --debug, --dryrun", () => {
    const argv = ['-a', '~/.acme', '-c', 'consul:8500', '-l', '/whisper/static', '-l', 'other/', '-d', 'Example.com', '-d', 'example.org', '--debug', '--dryrun', '/app/certs'];
    const { config, err } = parse(argv);
    expect(err).toBe('');
    expect(config).toMatchObject({
      certDir: '/app/certs',
      listenPaths: ['whisper/static', 'other'],
      domains: ['example.com', 'example.org'],
      debug: true,
      dryrun: true,
    });
    // `~` from a shell is expanded by the shell; from the environment or quoted, by whisper-ts.
    expect(config?.acmeKeyFile).toMatch(/\/\.acme$/);
    expect(config?.acmeKeyFile).not.toContain('~');
  });

  it('the environment of the images alone (WHISPER_CERT_FOLDER, DOMAIN, KV_PATH, DEBUG="--debug") and an explicit -d <zone>', () => {
    const env = { WHISPER_CERT_FOLDER: '/app/certs', DOMAIN: '-d example.com', KV_PATH: 'k/updated', DEBUG: '--debug', WHISPER_ACME_KEY: '/root/.acme' };
    expect(parse([], env).config).toMatchObject({ certDir: '/app/certs', domains: ['example.com'], notifyKey: 'k/updated', debug: true, acmeKeyFile: '/root/.acme' });
    expect(parse(['-d', 'example.net'], { WHISPER_CERT_FOLDER: '/app/certs' }).config).toMatchObject({ certDir: '/app/certs', domains: ['example.net'], debug: false });
  });

  it('a bad --domain is named', () => {
    const r = parse(['--domain', 'exa_mple.com', 'certs']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--domain: "exa_mple\.com" is not a zone name/);
  });

  it('--help states the rule of -d', async () => {
    let out = '';
    expect(await main(['--help'], { env: {}, stdout: (t) => void (out += t), stderr: () => undefined })).toBe(0);
    expect(out).toContain('-a, --acme-key <path>');
    expect(out).toContain('-l, --listen-path <kv-path>');
    expect(out).toContain('--domain <zone>');
    expect(out.replace(/\s+/g, ' ')).toContain('`-d example.com /app/certs` and `/app/certs -d example.com` are `--domain example.com`');
  });
});
