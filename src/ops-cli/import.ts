import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { WhisperError, errorMessage } from '../errors.js';
import type { ImportResult } from '../ops/types.js';
import { configOf, failed, opsProgram, parse, throughDaemonOrDirect, tokenFileOf, withDaemonOptions, OPS_EXIT, type OpsDeps, type OpsIo, type Via } from './common.js';

const OWN = ['json'];

/** The lines `import` prints, one per certificate. */
export function importLines(results: readonly ImportResult[], via: Via): string {
  const how = via === 'daemon' ? 'the daemon renews it on schedule' : 'the daemon renews it on schedule once it runs';
  return results.map((r) => `imported ${r.file}: ${r.names.join(', ')} (serial ${r.serial}, expires ${r.notAfter}); ${how}\n`).join('');
}

/** Reads the PEM files; one that cannot be read is `CONFIG_INVALID` naming it (nothing is imported then). */
async function readPems(files: readonly string[], cwd: string): Promise<{ name: string; pem: string }[]> {
  return Promise.all(files.map(async (f) => {
    try {
      return { name: basename(f), pem: await readFile(resolve(cwd, f), 'utf8') };
    } catch (err) {
      throw new WhisperError('CONFIG_INVALID', `${f}: cannot read it: ${errorMessage(err)}`, { cause: err });
    }
  }));
}

/**
 * `whisper-ts import <folder> <pem>...`: adopts certificates issued elsewhere (each file: the private key, the
 * certificate and its chain), written under the id their names give and renewed on schedule from then on. All or
 * nothing: one invalid file imports none.
 */
export async function importCommand(argv: readonly string[], io: OpsIo, deps: OpsDeps): Promise<number> {
  const cmd = withDaemonOptions(opsProgram('import', 'adopt certificates issued elsewhere: each PEM file holds the private key, ' +
    'the certificate and its chain (any order); it is validated (key, chain signatures, expiry, names), written to the ' +
    'folder under the id its names give, and renewed on schedule from then on. Through the running daemon\'s admin API ' +
    'when one holds the folder, else directly. One invalid file imports none.', io)
    .argument('<path_to_cert_folder>')
    .argument('<pem...>', 'PEM files to import')
    .option('--json', 'one JSON document for machines'));
  const code = parse(cmd, argv);
  if (code !== undefined) return code;
  const [folder, ...files] = cmd.args as [string, ...string[]];
  const raw = cmd.opts<Record<string, unknown>>();
  try {
    const config = configOf(folder, raw, OWN, io);
    const pems = await readPems(files, io.cwd ?? process.cwd());
    const [imported, via] = await throughDaemonOrDirect(config.certDir, config, tokenFileOf(raw, io), deps, io,
      async (ops, via) => [await ops.importCerts(pems, { by: 'cli' }), via] as const);
    io.stdout(raw.json ? `${JSON.stringify({ imported, via }, null, 2)}\n` : importLines(imported, via));
    return OPS_EXIT.ok;
  } catch (err) {
    return failed('import', err, io);
  }
}
