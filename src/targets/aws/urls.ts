import { WhisperError } from '../../errors.js';

/** The IAM path whisper-ts uploads server certificates under, unless `iam:///<path>/` names another. */
export const DEFAULT_IAM_PATH = '/whisper-ts/';

/** An AWS `--target` URL, parsed and checked. */
export type AwsTargetSpec =
  | { readonly kind: 'acm'; readonly name: string; readonly region: string }
  | { readonly kind: 'elbv2'; readonly name: string; readonly listenerArn: string; readonly region: string }
  | { readonly kind: 'iam'; readonly name: string; readonly path: string }
  | {
      readonly kind: 'elb';
      readonly name: string;
      readonly lbName: string;
      readonly port: number;
      readonly region?: string;
      /** The one certificate id this listener gets (a classic listener holds one certificate). */
      readonly id: string;
    }
  | {
      readonly kind: 's3';
      readonly name: string;
      readonly bucket: string;
      /** No slash at either end; `''` for the bucket's root. */
      readonly prefix: string;
      readonly region?: string;
    }
  | {
      readonly kind: 'cloudfront';
      readonly name: string;
      readonly distributionId: string;
      /** The one certificate id the distribution gets; absent: the certificate whose names cover its aliases. */
      readonly id?: string;
    };

/** The URL schemes {@link parseAwsTargetUrl} knows. */
export const AWS_SCHEMES: readonly string[] = ['acm:', 'elbv2:', 'iam:', 'elb:', 's3:', 'cloudfront:'];

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const LISTENER_ARN =
  /^arn:aws[a-z-]*:elasticloadbalancing:([a-z0-9-]+):\d{12}:listener\/(app|net)\/[A-Za-z0-9-]{1,32}\/[0-9a-f]+\/[0-9a-f]+$/;
const ELB_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const DISTRIBUTION_ID = /^[A-Z0-9]{1,32}$/;
const IAM_PATH = /^\/([\x21-\x7e]{0,510}\/)?$/;

function bad(url: string, why: string): WhisperError {
  return new WhisperError('TARGET_CONFIG', `--target ${url}: ${why}`);
}

const CERT_ID = /^[A-Za-z0-9*_.-]{1,253}$/;

/** The query parameters of a URL, checked against `allowed`: `region` must be a region, `id` a certificate id. */
function params(url: URL, raw: string, allowed: readonly string[]): { region?: string; id?: string } {
  for (const k of url.searchParams.keys()) {
    if (!allowed.includes(k)) throw bad(raw, `unknown parameter "${k}"`);
    if (url.searchParams.getAll(k).length > 1) throw bad(raw, `"${k}" is given twice`);
  }
  const region = url.searchParams.get('region') ?? undefined;
  if (region !== undefined && !REGION.test(region)) throw bad(raw, `"${region}" is not an AWS region`);
  const id = url.searchParams.get('id') ?? undefined;
  if (id !== undefined && !CERT_ID.test(id)) throw bad(raw, `"${id}" is not a certificate id`);
  return { ...(region ? { region } : {}), ...(id ? { id } : {}) };
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function noExtras(url: URL, raw: string, allowPath = false): void {
  if (url.username || url.password) throw bad(raw, 'no user or password belongs in it');
  if (url.hash) throw bad(raw, 'no #fragment belongs in it');
  if (!allowPath && url.pathname !== '' && url.pathname !== '/') throw bad(raw, 'no path belongs in it');
}

/**
 * Parses one AWS `--target` URL: `acm://<region>`, `elbv2://<listener-arn>`, `iam://` (or `iam:///<path>/`),
 * `elb://<name>[:port]?id=<certificate id>[&region=<region>]`, `s3://<bucket>/<prefix>[?region=<region>]`,
 * `cloudfront://<distribution-id>[?id=<certificate id>]`. Throws `TARGET_CONFIG` naming the URL when it is not one
 * of those.
 */
export function parseAwsTargetUrl(url: URL): AwsTargetSpec {
  const raw = url.href;
  switch (url.protocol) {
    case 'acm:': {
      noExtras(url, raw);
      if (url.search) throw bad(raw, 'no parameters belong in it');
      if (!REGION.test(url.hostname)) throw bad(raw, `"${url.hostname}" is not an AWS region (acm://eu-west-1)`);
      return { kind: 'acm', name: `acm://${url.hostname}`, region: url.hostname };
    }
    case 'elbv2:': {
      // `elbv2://arn:aws:…` is no valid URL (the ARN's colons read as a port): accept `elbv2:///<arn>`,
      // `elbv2:<arn>` and `elbv2://<percent-encoded arn>`; awsTargetUrl() makes the first from the plain text.
      if (url.search || url.hash) throw bad(raw, 'no parameters belong in it');
      const arn = safeDecode(url.host !== '' ? url.host + url.pathname : url.pathname.replace(/^\/+/, ''));
      const m = arn === undefined ? null : LISTENER_ARN.exec(arn);
      if (!m) throw bad(raw, 'expected elbv2://<listener ARN>');
      return { kind: 'elbv2', name: `elbv2://${m[0]}`, listenerArn: m[0], region: m[1]! };
    }
    case 'iam:': {
      noExtras(url, raw, true);
      if (url.search) throw bad(raw, 'no parameters belong in it');
      if (url.host) throw bad(raw, 'IAM is global: write iam:// (or iam:///<path>/)');
      const path = url.pathname === '' ? DEFAULT_IAM_PATH : url.pathname;
      if (!IAM_PATH.test(path)) throw bad(raw, `"${path}" is not an IAM path (/team/)`);
      return { kind: 'iam', name: path === DEFAULT_IAM_PATH ? 'iam://' : `iam://${path}`, path };
    }
    case 'elb:': {
      noExtras(url, raw);
      const { region, id } = params(url, raw, ['region', 'id']);
      if (!ELB_NAME.test(url.hostname)) throw bad(raw, `"${url.hostname}" is not a classic ELB name`);
      if (!id) throw bad(raw, 'a classic ELB listener holds one certificate: name it with ?id=<certificate id>');
      const port = url.port === '' ? 443 : Number(url.port);
      const lbName = url.hostname;
      const name = `elb://${lbName}:${port}?${region ? `region=${region}&` : ''}id=${id}`;
      return { kind: 'elb', name, lbName, port, id, ...(region ? { region } : {}) };
    }
    case 's3:': {
      noExtras(url, raw, true);
      const { region } = params(url, raw, ['region']);
      if (!BUCKET.test(url.hostname)) throw bad(raw, `"${url.hostname}" is not an S3 bucket name`);
      const prefix = (safeDecode(url.pathname) ?? '//').replace(/^\/+|\/+$/g, '');
      if (prefix.split('/').some((p) => p === '.' || p === '..') || /\/\//.test(prefix)) {
        throw bad(raw, 'the prefix holds an empty, "." or ".." segment');
      }
      const name = `s3://${url.hostname}/${prefix}${region ? `?region=${region}` : ''}`;
      return { kind: 's3', name, bucket: url.hostname, prefix, ...(region ? { region } : {}) };
    }
    case 'cloudfront:': {
      noExtras(url, raw);
      const { id } = params(url, raw, ['id']);
      const distributionId = url.hostname.toUpperCase();
      if (!DISTRIBUTION_ID.test(distributionId)) throw bad(raw, 'expected cloudfront://<distribution id>');
      const name = `cloudfront://${distributionId}${id ? `?id=${id}` : ''}`;
      return { kind: 'cloudfront', name, distributionId, ...(id ? { id } : {}) };
    }
    default:
      throw bad(raw, `"${url.protocol}" is not an AWS target scheme (${AWS_SCHEMES.join(', ')})`);
  }
}

/**
 * A `--target` text as a URL, for the command line: like `new URL(text)`, except that `elbv2://arn:aws:…` (which
 * `URL` refuses: the ARN's colons read as a port) becomes `elbv2:///arn:aws:…`. Throws `TARGET_CONFIG` naming the
 * text when it is no URL.
 */
export function awsTargetUrl(text: string): URL {
  const fixed = /^elbv2:\/\/arn:/i.test(text) ? `elbv2:///${text.slice('elbv2://'.length)}` : text;
  try {
    return new URL(fixed);
  } catch (err) {
    throw new WhisperError('TARGET_CONFIG', `--target ${text}: not a URL`, { cause: err });
  }
}
