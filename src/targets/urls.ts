import { WhisperError } from '../errors.js';

/** The schemes of `--target`, and what each looks like (for messages). */
export const TARGET_SCHEMES = {
  acm: 'acm://<region>',
  elbv2: 'elbv2://<listener-arn>',
  iam: 'iam://',
  elb: 'elb://<name>[:port]?id=<certificate id>',
  s3: 's3://<bucket>/<prefix>',
  cloudfront: 'cloudfront://<distribution-id>',
  sftp: 'sftp://user@host[:port]/path',
} as const;

export type TargetScheme = keyof typeof TARGET_SCHEMES;

/** The schemes built by `targets/aws/factory.ts`. */
export const AWS_SCHEMES: readonly TargetScheme[] = ['acm', 'elbv2', 'iam', 'elb', 's3', 'cloudfront'];

/** A `--target` value as it may be printed: without a password. */
export function shownTarget(value: string): string {
  return value.replace(/^([a-z0-9+.-]+:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

function fail(value: string, why: string): WhisperError {
  return new WhisperError('TARGET_CONFIG', `--target ${shownTarget(value)}: ${why}`);
}

/**
 * Parses one `--target` value into a URL of a known scheme. An ELBv2 listener ARN holds colons, which a URL's host
 * cannot: `elbv2://arn:aws:…` becomes `elbv2:///arn:aws:…`, the ARN as the path (see {@link elbv2ListenerArn}).
 * Only the scheme and the URL syntax are checked here; each target checks the rest when it is built.
 * @throws WhisperError `TARGET_CONFIG` naming the value: not a URL, or an unknown scheme.
 */
export function parseTargetUrl(value: string): URL {
  const text = value.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme === undefined) throw fail(value, `not a URL; expected one of ${Object.values(TARGET_SCHEMES).join(', ')}`);
  if (!(scheme in TARGET_SCHEMES)) throw fail(value, `unknown scheme ${scheme}://; expected one of ${Object.values(TARGET_SCHEMES).join(', ')}`);
  const rest = text.slice(scheme.length + 3);
  const source = scheme === 'elbv2' && rest.startsWith('arn:') ? `elbv2:///${rest}` : `${scheme}://${rest}`;
  try {
    return new URL(source);
  } catch (err) {
    throw new WhisperError('TARGET_CONFIG', `--target ${shownTarget(value)}: not a valid URL; expected ${TARGET_SCHEMES[scheme as TargetScheme]}`, { cause: err });
  }
}

/** The scheme of a parsed target URL (`acm`, `sftp`, …). */
export function targetScheme(url: URL): TargetScheme {
  return url.protocol.replace(/:$/, '') as TargetScheme;
}

/** The listener ARN of an `elbv2://` URL made by {@link parseTargetUrl} (the path), or of `elbv2://<encoded arn>`. */
export function elbv2ListenerArn(url: URL): string {
  return url.hostname ? decodeURIComponent(url.hostname) : decodeURIComponent(url.pathname.replace(/^\//, ''));
}
