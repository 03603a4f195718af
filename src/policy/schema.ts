import { z } from 'zod';
import { KEY_TYPES } from '../acme/keys.js';
import { CHALLENGE_TYPES } from '../acme/challenge-choice.js';
import { parseRenewBefore } from '../lifecycle/schedule.js';
import { normalizeHostname } from '../plan/hostname.js';
import { errorMessage } from '../errors.js';
import { parseDuration } from './duration.js';
import type { PolicyChallenge } from './types.js';

/**
 * The zod schema of the config file (`--config`), in the file's snake_case. Objects are strict: an unknown key is
 * an error naming it. Values are parsed here (durations, `renew_before`, hostnames) so that a bad value is reported
 * at its own line; cross-references (a rule's `dns:` or `targets:` naming an entry that does not exist) are checked
 * after, in `file.ts`.
 */

const CHALLENGES = [...new Set<string>([...CHALLENGE_TYPES, 'http-01'])] as [PolicyChallenge, ...PolicyChallenge[]];

/** A name of the `dns:` or `targets:` maps, or a rule's label: short, no spaces, no path characters. */
const entryName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
  error: 'expected a name of letters, digits, ".", "_" or "-" (at most 64)',
});

const hostname = (wildcard: boolean) =>
  z.string().transform((value, ctx) => {
    try {
      return normalizeHostname(value.trim().replace(/\.$/, ''), { allowWildcard: wildcard });
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: errorMessage(err) });
      return z.NEVER;
    }
  });

const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item, z.array(item).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

const renewBefore = z.union([z.string(), z.number()]).transform((value, ctx) => {
  try {
    return parseRenewBefore(String(value));
  } catch {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a number of days (30d) or a percentage of the lifetime left (33%)` });
    return z.NEVER;
  }
});

const duration = z.string().transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not a duration such as 90m, 12h, 30d or 2w` });
    return z.NEVER;
  }
  return ms;
});

const onRemoval = z.union([
  z.literal('keep').transform(() => ({ kind: 'keep' as const })),
  z.strictObject({ delete_after: duration }).transform((v) => ({ kind: 'delete' as const, afterMs: v.delete_after })),
], { error: 'expected keep or { delete_after: <duration> }' });

/** The per-certificate settings a `defaults:` block or a rule may give. */
const settings = {
  dns: entryName.optional(),
  challenge: z.enum(CHALLENGES).optional(),
  key_type: z.enum(KEY_TYPES as [string, ...string[]]).optional(),
  reuse_key: z.boolean().optional(),
  renew_before: renewBefore.optional(),
  profile: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'not a profile name' }).optional(),
  targets: z.array(entryName).optional(),
  on_removal: onRemoval.optional(),
};

const route53 = z.strictObject({
  provider: z.literal('route53'),
  profile: z.string().min(1).optional(),
  region: z.string().regex(/^[a-z0-9-]{1,32}$/, { error: 'not an AWS region' }).optional(),
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  rps: z.number().int().min(1).max(100).optional(),
});

const hostPort = z.string().regex(/^(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/i, { error: 'expected host or host:port' });

const rfc2136 = z.strictObject({
  provider: z.literal('rfc2136'),
  server: hostPort,
  zone: hostname(false).optional(),
  tsig_name: z.string().min(1).optional(),
  tsig_algorithm: z.string().regex(/^hmac-[a-z0-9-]+$/, { error: 'expected a TSIG algorithm such as hmac-sha256' }).optional(),
  tsig_secret_file: z.string().min(1).optional(),
});

const exec = z.strictObject({ provider: z.literal('exec'), command: z.string().min(1) });
const none = z.strictObject({ provider: z.literal('none') });

const dnsBackend = z.discriminatedUnion('provider', [route53, rfc2136, exec, none], {
  error: 'expected provider: route53, rfc2136, exec or none',
});

/** One `certificates:` rule: matchers, an optional label, and the settings it applies. */
const rule = z.strictObject({
  label: entryName.optional(),
  zone: oneOrMany(hostname(false)).optional(),
  name: oneOrMany(hostname(true)).optional(),
  pattern: oneOrMany(z.string().regex(/^[A-Za-z0-9*._-]+$/, { error: 'a pattern holds name characters and * only' }).transform((p) => p.toLowerCase())).optional(),
  names: z.array(hostname(true)).optional(),
  ...settings,
}).refine((r) => r.zone !== undefined || r.name !== undefined || r.pattern !== undefined, {
  error: 'a rule needs zone, name or pattern (put settings for every certificate under defaults:)',
});

/** One `domains:` entry: `a,b,c` or a list, one certificate. */
const domainEntry = z.union([
  z.string().transform((s) => s.split(',').map((n) => n.trim()).filter(Boolean)),
  z.array(z.string()),
]).pipe(z.array(hostname(true)).min(1, { error: 'an entry needs at least one name' }));

/** The whole file. Every section is optional; an empty file is valid (and changes nothing). */
export const policyFileSchema = z.strictObject({
  defaults: z.strictObject(settings).optional(),
  dns: z.record(entryName, dnsBackend).optional(),
  targets: z.record(entryName, z.string().min(1)).optional(),
  certificates: z.array(rule).optional(),
  domains: z.array(domainEntry).optional(),
});

/** The file as the schema returns it (snake_case, values parsed). */
export type PolicyFileInput = z.output<typeof policyFileSchema>;
