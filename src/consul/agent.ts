import { readFileSync } from 'node:fs';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { WhisperError } from '../errors.js';

/** TLS files of {@link createConsulAgent}, as in `ConsulApiOptions`. */
export interface ConsulTlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

function readPem(file: string | undefined, what: string): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new WhisperError('CONFIG_INVALID', `Consul ${what} file ${file} cannot be read`, { cause: err });
  }
}

/** The HTTP agent of {@link createConsulAgent}, and what it saw of its connections. */
export interface ConsulAgent {
  readonly agent: http.Agent;
  /** Connections to Consul closed so far, by either side. */
  closedConnections(): number;
}

/**
 * The keep-alive agent of every request to Consul (HTTPS with the given files when `secure`), whose requests fail
 * when Consul closes the connection in the middle of an answer, and which counts closed connections.
 * @throws WhisperError `CONFIG_INVALID` when a TLS file cannot be read.
 */
export function createConsulAgent(secure: boolean, tls: ConsulTlsFiles = {}): ConsulAgent {
  const agent = secure
    ? new https.Agent({
        keepAlive: true,
        ca: readPem(tls.caFile, 'CA'),
        cert: readPem(tls.certFile, 'client certificate'),
        key: readPem(tls.keyFile, 'client key'),
      })
    : new http.Agent({ keepAlive: true });
  let closed = 0;
  const counted = new WeakSet<Socket>();
  hookRequests(agent, (req) => {
    failCutShortAnswer(req);
    req.once('socket', (socket: Socket) => {
      if (counted.has(socket)) return;
      counted.add(socket);
      socket.once('close', () => closed++);
    });
  });
  return { agent, closedConnections: () => closed };
}

/** `Agent.addRequest`: undocumented in the typings, but the hook every proxy agent overrides. */
type AddRequest = (req: ClientRequest, options: unknown) => void;

/** Calls `hook` with every request of `agent`, before the agent gives it a connection. */
function hookRequests(agent: http.Agent, hook: (req: ClientRequest) => void): void {
  const hooked = agent as unknown as { addRequest: AddRequest };
  const addRequest = hooked.addRequest.bind(agent);
  hooked.addRequest = (req, options) => {
    hook(req);
    addRequest(req, options);
  };
}

/**
 * Makes `req` fail when its answer is cut short (the connection closed after the headers, before the body ended).
 * Why: papi, node-consul's HTTP layer, listens only for the answer's `end`, and Node emits a cut-short answer's error
 * only to listeners of the answer, so such a request would otherwise wait for its timeout: for a blocking query, its
 * whole wait (minutes).
 */
function failCutShortAnswer(req: ClientRequest): void {
  req.once('response', (res: IncomingMessage) => {
    res.once('close', () => {
      // After papi's own abort (a cancel or its timeout) it has settled already and ignores this error.
      if (!res.complete) req.emit('error', Object.assign(new Error('the connection closed in the middle of the answer'), { code: 'ECONNRESET' }));
    });
  });
}
