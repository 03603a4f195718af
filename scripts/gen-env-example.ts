// Writes .env.example from the option table (src/options.ts): npx tsx scripts/gen-env-example.ts > .env.example
import { OPTIONS } from '../src/options.js';
const lines = ['# whisper-ts: every option can be set through the environment (a flag on the command line wins).',
'# Copy to .env and uncomment what you need. The first variable listed for an option is the preferred name;',
'# the others are read too (whisper\'s Docker variables, Consul\'s and AWS\'s standard ones).',
'#',
'# Folder of the certificates (the positional argument).',
'# WHISPER_CERT_FOLDER=/app/certs',
'# ACME account e-mail, needed the first time (when the folder has no .acme key yet).',
'# ACME_REGISTER_EMAIL=ops@example.com',
''];
for (const o of OPTIONS) {
  if (o.key === 'email') continue;
  lines.push(`# ${o.help}${o.default !== undefined ? ` (default: ${o.default})` : ''}${o.bool ? ' — set to 1 to enable' : ''}${o.list ? ' — comma-separated' : ''}`);
  lines.push(`# ${o.env[0]}=${o.default ?? ''}`);
  if (o.env.length > 1) lines.push(`#   also read: ${o.env.slice(1).join(', ')}`);
  lines.push('');
}
lines.push('# TSIG secret for --dns-provider rfc2136 (base64), when not in a file.', '# WHISPER_RFC2136_TSIG_SECRET=', '');
lines.push('# AWS credentials for Route53: a [<zone>] profile in ~/.aws/credentials or a [profile <zone>] in ~/.aws/config', '# (whisper\'s way), else the standard chain.', '# AWS_PROFILE=', '# AWS_ACCESS_KEY_ID=', '# AWS_SECRET_ACCESS_KEY=', '# AWS_SHARED_CREDENTIALS_FILE=~/.aws/credentials', '# AWS_CONFIG_FILE=~/.aws/config', '');
process.stdout.write(lines.join('\n'));
