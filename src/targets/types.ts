import type { Logger } from '../log.js';

/** A stored certificate, as a target receives it. */
export interface DeliveryItem {
  /** Certificate id: the file base name in the folder (`www.example.com`, `example.com`). */
  readonly id: string;
  /** DNS names of the leaf, lowercase, sorted. */
  readonly names: readonly string[];
  /** Serial number, uppercase hex: what makes a delivery idempotent. */
  readonly serial: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Private key, PEM (PKCS#8 or SEC1). A secret: never log it. */
  readonly key: string;
  /** The leaf certificate, PEM. */
  readonly cert: string;
  /** The issuer chain (intermediates), PEM, possibly empty. */
  readonly chain: string;
  /** Absolute path of the HAProxy PEM file in the folder (key + leaf + chain), already written. */
  readonly path: string;
  /** Serial this target delivered last for this id, when there was one (the certificate being replaced). */
  readonly previousSerial?: string;
}

/** A certificate whisper-ts removed from the folder (superseded): a target takes it away too, if it can. */
export interface RemovalItem {
  readonly id: string;
  /** Absolute path the HAProxy PEM file had in the folder (gone now). */
  readonly path: string;
  /** Serial this target delivered last for this id, if known. */
  readonly serial?: string;
}

/**
 * What a target may keep per certificate between runs (in the state file, or Consul KV under `--ha`): an ACM ARN,
 * the IAM certificate name. Small JSON values, never secrets.
 */
export type TargetMemo = Readonly<Record<string, string | number | boolean>>;

/** What a target gets besides the item: its memo for this certificate, and a logger naming target and id. */
export interface DeliveryContext {
  /** The memo this target returned for this certificate last time, `{}` at first. */
  readonly memo: TargetMemo;
  readonly log: Logger;
  /** The clock, in ms. */
  readonly now: () => number;
}

/** What a delivery reports back. */
export interface DeliveryOutcome {
  /** Replaces the memo of this certificate (absent: memo unchanged). */
  readonly memo?: TargetMemo;
  /** One line for logs and status: `set ssl cert + commit`, `imported into arn:…`. */
  readonly detail?: string;
}

/**
 * A destination for certificates beyond the folder: HAProxy's runtime API, ACM, IAM + classic ELB, ELBv2
 * listeners, S3, CloudFront, SFTP. The delivery manager (`targets/manager.ts`) calls it after the file is written,
 * retries it with backoff on its own, journals what is still to deliver (a kill mid-delivery resumes on start) and
 * records the outcome per certificate; a target never blocks issuing, renewal or another target.
 *
 * Both calls must be safe to repeat: delivering a serial that is already in place is a no-op (the manager also
 * skips a serial it recorded as delivered); removing what is gone succeeds. Errors are `WhisperError`s with a
 * stable code (`TARGET_<KIND>`), `retryable` when trying again later can help, and name the destination and the
 * certificate, never key material.
 */
export interface Target {
  /** Stable, unique name for logs, metrics, status and the journal: `haproxy:/run/haproxy.sock`, `acm://eu-west-1`. */
  readonly name: string;
  /**
   * Whether every instance delivers after writing its own copy of the file (a node-local destination: HAProxy's
   * runtime socket), rather than the `--ha` leader alone (a shared destination: AWS, S3, SFTP). Such a target's
   * journal is kept per instance. @default false
   */
  readonly perInstance?: boolean;
  /** Puts `item` in place. */
  deliver(item: DeliveryItem, ctx: DeliveryContext, signal: AbortSignal): Promise<DeliveryOutcome | void>;
  /** Takes a certificate whisper-ts removed away from the destination. Optional: without it, removals are ignored. */
  remove?(item: RemovalItem, ctx: DeliveryContext, signal: AbortSignal): Promise<DeliveryOutcome | void>;
  /** Periodic housekeeping (IAM: delete expired certificates we uploaded that nothing uses). Optional. */
  sweep?(ctx: Omit<DeliveryContext, 'memo'>, signal: AbortSignal): Promise<void>;
  /** Releases clients and sockets. Optional. */
  close?(): Promise<void>;
}
