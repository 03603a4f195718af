import type { ViewerCertificate } from '@aws-sdk/client-cloudfront';

/** The security policy whisper-ts sets unless the distribution has a stricter one. @default TLSv1.2_2021 */
export const DEFAULT_MIN_PROTOCOL = 'TLSv1.2_2021';
// Policies at least as strict as the default, kept when a distribution already has one.
const STRICT_ENOUGH = new Set(['TLSv1.2_2021', 'TLSv1.2_2025', 'TLSv1.3_2025']);

/** Whether a DNS name matches a certificate name (exact, or one label under a `*.` wildcard). */
function matches(certName: string, name: string): boolean {
  const n = name.toLowerCase();
  const c = certName.toLowerCase();
  if (c === n) return true;
  if (!c.startsWith('*.')) return false;
  const dot = n.indexOf('.');
  return dot > 0 && n.slice(dot + 1) === c.slice(2);
}

/** Whether a certificate's names cover every alias of a distribution (and it has at least one). */
export function coversAliases(names: readonly string[], aliases: readonly string[]): boolean {
  return aliases.length > 0 && aliases.every((a) => names.some((n) => matches(n, a)));
}

/**
 * The viewer certificate a distribution gets: the ACM ARN, SNI (no dedicated IPs), and the existing minimum
 * protocol when it is at least {@link DEFAULT_MIN_PROTOCOL}, else that.
 */
export function viewerCertificate(arn: string, existing: ViewerCertificate | undefined): ViewerCertificate {
  const min = existing?.MinimumProtocolVersion;
  return {
    ACMCertificateArn: arn,
    SSLSupportMethod: 'sni-only',
    MinimumProtocolVersion: min && STRICT_ENOUGH.has(min) ? min : DEFAULT_MIN_PROTOCOL,
    CloudFrontDefaultCertificate: false,
  };
}

/** Whether a distribution's viewer certificate already is what {@link viewerCertificate} makes. */
export function viewerUpToDate(existing: ViewerCertificate | undefined, arn: string): boolean {
  if (!existing) return false;
  const want = viewerCertificate(arn, existing);
  return (
    existing.ACMCertificateArn === arn &&
    existing.SSLSupportMethod === want.SSLSupportMethod &&
    existing.MinimumProtocolVersion === want.MinimumProtocolVersion &&
    existing.CloudFrontDefaultCertificate !== true
  );
}
