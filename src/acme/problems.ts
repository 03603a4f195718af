import { WhisperError } from '../errors.js';

const ACME_ERROR = 'urn:ietf:params:acme:error:';

/** An RFC 7807 problem document as an ACME CA sends it; attached as the `cause` of mapped errors. */
export interface AcmeProblem {
  /** `urn:ietf:params:acme:error:rateLimited`, ... (empty when the answer was not a problem document). */
  readonly type: string;
  readonly detail: string;
  /** HTTP status, when the problem came with an HTTP answer. */
  readonly status?: number;
  readonly subproblems?: readonly AcmeProblem[];
  /** The identifier a subproblem is about (RFC 8555 §6.7.1). */
  readonly identifier?: { readonly type: string; readonly value: string };
}

/** A CA answer as the mapping needs it. */
export interface AcmeAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly data: unknown;
}

// Problem types after which the same request may well succeed later.
const RETRYABLE_TYPES = new Set(['serverInternal', 'badNonce', 'dns', 'connection', 'rateLimited'].map((t) => ACME_ERROR + t));

/**
 * The moment a `Retry-After` header names: delay-seconds (RFC 9110) from `now`, or an HTTP date.
 * `undefined` when absent or unreadable.
 */
export function parseRetryAfter(header: unknown, now: Date): Date | undefined {
  if (typeof header !== 'string') return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return new Date(now.getTime() + Number(value) * 1000);
  if (!/[a-z]/i.test(value)) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The problem document of an answer, when its body is one. */
export function asProblem(data: unknown, status?: number): AcmeProblem | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { type, detail, subproblems, identifier } = data as { type?: unknown; detail?: unknown; subproblems?: unknown; identifier?: unknown };
  if (typeof type !== 'string') return undefined;
  const subs = Array.isArray(subproblems) ? subproblems.map((s) => asProblem(s)).filter((s) => s !== undefined) : [];
  const id = identifier as { type?: unknown; value?: unknown } | null | undefined;
  const named = typeof id === 'object' && id !== null && typeof id.type === 'string' && typeof id.value === 'string';
  return {
    type,
    detail: typeof detail === 'string' ? detail : '',
    ...(status === undefined ? {} : { status }),
    ...(subs.length > 0 ? { subproblems: subs } : {}),
    ...(named ? { identifier: { type: id.type as string, value: id.value as string } } : {}),
  };
}

/** `type: detail` of a problem, for messages (problem texts hold names, never secrets). */
export function describeProblem(problem: AcmeProblem): string {
  const text = problem.detail ? `${problem.type}: ${problem.detail}` : problem.type;
  const subs = (problem.subproblems ?? []).map((s) => s.detail || s.type).filter((s) => s.length > 0);
  return (subs.length > 0 ? `${text} (${subs.join('; ')})` : text).replace(/\s+/g, ' ').slice(0, 500);
}

/** Whether an ACME problem type says a later attempt may succeed. */
export function isRetryableProblem(type: string): boolean {
  return RETRYABLE_TYPES.has(type);
}

/**
 * Map a failed CA answer (HTTP status 400 or more) to a {@link WhisperError}:
 * `rateLimited`/429 → `ACME_RATE_LIMITED` (retryable, `retryAfter` from the header);
 * 5xx and retryable problem types → retryable `ACME_ORDER`; other problem documents → `ACME_ORDER`;
 * a body that is no problem document (an HTML error page) → `ACME_BAD_RESPONSE` (retryable on 5xx).
 * `what` names the thing (`certificate www.example.com`).
 */
export function answerError(what: string, url: string, answer: AcmeAnswer, now: Date): WhisperError {
  const problem = asProblem(answer.data, answer.status);
  const retryAfter = parseRetryAfter(answer.headers['retry-after'], now);
  const serverError = answer.status >= 500;
  if (answer.status === 429 || problem?.type === `${ACME_ERROR}rateLimited`) {
    const detail = problem ? describeProblem(problem) : `HTTP ${answer.status}`;
    return new WhisperError('ACME_RATE_LIMITED', `${what}: rate limited by the CA: ${detail}`, {
      retryable: true,
      cause: problem ?? answer.status,
      ...(retryAfter ? { retryAfter } : {}),
    });
  }
  if (problem === undefined) {
    if (serverError) {
      return new WhisperError('ACME_ORDER', `${what}: the CA answered HTTP ${answer.status} at ${url}`, {
        retryable: true,
        ...(retryAfter ? { retryAfter } : {}),
      });
    }
    return new WhisperError('ACME_BAD_RESPONSE', `${what}: the CA answered HTTP ${answer.status} without a problem document at ${url}`);
  }
  const code = problem.type === `${ACME_ERROR}accountDoesNotExist` ? 'ACME_ACCOUNT' : 'ACME_ORDER';
  return new WhisperError(code, `${what}: the CA refused (HTTP ${answer.status}) ${describeProblem(problem)}`, {
    retryable: serverError || isRetryableProblem(problem.type),
    cause: problem,
    ...(retryAfter ? { retryAfter } : {}),
  });
}

/** The ACME problem behind an error mapped here, if any (to tell e.g. `alreadyReplaced` apart). */
export function problemOf(err: unknown): AcmeProblem | undefined {
  const cause = (err as { cause?: unknown } | null)?.cause;
  if (typeof cause !== 'object' || cause === null) return undefined;
  return typeof (cause as { type?: unknown }).type === 'string' ? (cause as AcmeProblem) : undefined;
}

/** Whether an error came from a problem of this type (short name like `badNonce` or the full URN). */
export function hasProblemType(err: unknown, type: string): boolean {
  const problem = problemOf(err);
  return problem !== undefined && (problem.type === type || problem.type === ACME_ERROR + type);
}
