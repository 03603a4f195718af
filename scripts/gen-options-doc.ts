// Writes docs/options.md from the option table (src/options.ts): npx tsx scripts/gen-options-doc.ts > docs/options.md
// test/unit/docs.test.ts checks the committed file equals this output and lists every flag of `--help`.
import { pathToFileURL } from 'node:url';
import { OPTIONS, type OptionSpec } from '../src/options.js';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
const code = (text: string) => `\`${cell(text)}\``;

function row(o: OptionSpec): string {
  const notes = [o.bool ? 'switch' : '', o.list ? 'repeatable; comma-separated in the environment' : '']
    .filter(Boolean)
    .join('; ');
  return `| ${code(o.flags)} | ${o.env.map(code).join(', ')} | ${o.default !== undefined ? code(o.default) : ''} | ${cell(o.help)}${notes ? ` (${notes})` : ''} |`;
}

/** The Markdown of docs/options.md, generated from {@link OPTIONS}. */
export function optionsDoc(): string {
  return [
    '<!-- Generated from src/options.ts by `npx tsx scripts/gen-options-doc.ts > docs/options.md`; do not edit. -->',
    '# Options',
    '',
    '`whisper-ts [options] [path_to_cert_folder]`. Every option also reads the environment variables listed, the',
    'first one set wins; a flag on the command line wins over all of them. Invalid options print a message naming',
    'the option and exit with code 2. A switch is on when its variable is set to anything but `0`, `false`, `no`',
    'or `off`. `.env.example` lists the same variables.',
    '',
    '| flag | environment | default | what it does |',
    '|---|---|---|---|',
    '| `[path_to_cert_folder]` | `WHISPER_CERT_FOLDER` | | folder of the certificates (HAProxy `crt <dir>`) and the ACME account (`.acme`) |',
    ...OPTIONS.map(row),
    '| `-V, --version` | | | print the version |',
    '| `-h, --help` | | | list the options |',
    '',
    'Environment only:',
    '',
    '- `WHISPER_RFC2136_TSIG_SECRET`: the base64 TSIG secret, when not in `--rfc2136-tsig-secret-file`.',
    '- `AWS_PROFILE`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`:',
    '  the standard AWS chain, used for a zone without a profile named after it (`[<zone>]` in the credentials file,',
    '  `[profile <zone>]` in the config file).',
    '- `DEBUG` counts only as `-d`, `--debug`, `1`, `true` or `yes` (it is also the `debug` package\'s namespace list).',
    '',
    'Commands that read the folder alone (the daemon may run; they change nothing):',
    '',
    '- `whisper-ts status <path_to_cert_folder> [--json] [--renew-before <days|percent>]`: every certificate,',
    '  its names, issuer, expiry, next renewal and last error.',
    '- `whisper-ts limits <path_to_cert_folder> [--json] [--rate-limits <spec>]`: the rate-limit budget.',
    '- `whisper-ts dns-persist <path_to_cert_folder> [--json] [--issuer-domain-name <name>] [--dns-resolver <host:port>]`:',
    '  the `_validation-persist.<name>` TXT records (`--challenge dns-persist-01`) the account needs for the folder\'s',
    '  certificates, and whether each is in place (exit 1 when one is missing).',
    '',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.stdout.write(optionsDoc());
