/** A certificate of an ELBv2 listener, as DescribeListenerCertificates lists it. */
export interface ListenerCert {
  readonly arn: string;
  /** The listener's default certificate (the one without SNI match). */
  readonly isDefault: boolean;
}

/** What to change on a listener so that it serves `next` instead of `previous`. */
export interface ListenerChange {
  /** Make this the default certificate (ModifyListener): `previous` was the default. */
  readonly setDefault?: string;
  /** AddListenerCertificates (the SNI list). */
  readonly add: readonly string[];
  /** RemoveListenerCertificates, after the additions. */
  readonly remove: readonly string[];
}

/**
 * The listener change of a delivery: `next` is the ACM ARN the certificate has now, `previous` the one this target
 * put there last (absent at first). A re-import into the same ARN needs nothing; a new ARN is added first, then the
 * old one removed, or, when the old one was the default certificate, the new one becomes the default. Never removes
 * a certificate whisper-ts did not put there.
 */
export function listenerChange(
  current: readonly ListenerCert[],
  next: string,
  previous: string | undefined,
): ListenerChange {
  const has = (arn: string) => current.some((c) => c.arn === arn);
  const prevIsDefault = previous !== undefined && current.some((c) => c.arn === previous && c.isDefault);
  if (prevIsDefault && previous !== next) {
    // The default certificate is no SNI entry: replace it, and drop a copy of `next` from the SNI list.
    const dupe = current.some((c) => c.arn === next && !c.isDefault);
    return { setDefault: next, add: [], remove: dupe ? [next] : [] };
  }
  const add = has(next) ? [] : [next];
  const remove =
    previous !== undefined && previous !== next && current.some((c) => c.arn === previous && !c.isDefault)
      ? [previous]
      : [];
  return { add, remove };
}

/** Whether a {@link ListenerChange} changes nothing. */
export function isNoChange(change: ListenerChange): boolean {
  return change.setDefault === undefined && change.add.length === 0 && change.remove.length === 0;
}
