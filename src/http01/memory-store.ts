import { checkToken, type Http01Store } from './solver.js';
import { isAcmeToken } from './token.js';

/** The built-in responder's tokens in this process (`--http01-listen` without `--ha`). */
export function createMemoryHttp01Store(): Http01Store {
  const tokens = new Map<string, string>();
  return {
    name: 'memory',
    async present(token, keyAuthorization) {
      checkToken(token, keyAuthorization);
      tokens.set(token, keyAuthorization);
    },
    async cleanUp(token) {
      tokens.delete(token);
    },
    async lookup(token) {
      return isAcmeToken(token) ? tokens.get(token) : undefined;
    },
  };
}
