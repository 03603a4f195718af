/** The longest IAM server certificate name. */
const MAX_NAME = 128;

/**
 * The IAM server certificate name of a certificate: its id and serial (`www.example.com-04A1…`), so that a renewal
 * never collides with the certificate it replaces and a repeated upload finds its own. Characters IAM refuses
 * (outside `[\w+=,.@-]`, e.g. `*`) become `_`; a long id is cut from the left, the serial is kept whole.
 */
export function iamCertName(id: string, serial: string): string {
  const safeId = id.replace(/[^\w+=,.@-]/g, '_');
  const room = MAX_NAME - serial.length - 1;
  return `${safeId.length > room ? safeId.slice(safeId.length - room) : safeId}-${serial}`;
}

/** An IAM server certificate, as ListServerCertificates lists it. */
export interface IamCertMeta {
  readonly name: string;
  readonly arn: string;
  readonly path: string;
  readonly expiration?: Date;
}

/**
 * The IAM server certificates `--iam-delete-expired` deletes: under `path` (whisper-ts's uploads), expired at `now`,
 * and not used by any listener in `inUse` (ARNs). IAM refuses to delete one still in use anyway; this spares the call.
 */
export function expiredToDelete(
  certs: readonly IamCertMeta[],
  path: string,
  inUse: ReadonlySet<string>,
  now: number,
): IamCertMeta[] {
  return certs.filter(
    (c) =>
      c.path === path &&
      c.expiration !== undefined &&
      c.expiration.getTime() <= now &&
      !inUse.has(c.arn),
  );
}
