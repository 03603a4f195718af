import { expect } from 'vitest';
import { WhisperError } from '../../src/errors.js';

/** The WhisperError `p` rejects with; fails the test when `p` resolves or rejects with anything else. */
export async function failure(p: Promise<unknown>): Promise<WhisperError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WhisperError);
  return err as WhisperError;
}
