/* global fetch, sessionStorage, TextDecoder, setTimeout, AbortController */
// The admin API: the token (kept for this tab only), requests, and the live event stream.

const TOKEN_KEY = 'whisper-ts.admin-token';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra = {}) {
  const token = getToken();
  return { 'X-Whisper-Client': 'dashboard', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...extra };
}

/** An API refusal, carrying the status and the server's message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** GET or POST an API path; resolves with the JSON answer, rejects with an {@link ApiError}. */
export async function api(path, { method = 'GET', body } = {}) {
  const res = await fetch(path, {
    method,
    headers: headers(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    cache: 'no-store',
  });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, data.error ?? 'HTTP', data.message ?? `HTTP ${res.status}`);
  return data;
}

/**
 * Follows `/api/events` with a streaming fetch (an EventSource cannot send the Authorization header). Calls
 * `onEvent(type, data)` per event and `onState('live' | 'offline')`; reconnects after a pause until `stop()`.
 */
export function followEvents(onEvent, onState) {
  let stopped = false;
  let restarting = false;
  let controller;
  const connect = async () => {
    controller = new AbortController();
    try {
      const res = await fetch('/api/events', { headers: headers(), signal: controller.signal, cache: 'no-store' });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      onState('live');
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (type && data) onEvent(type, JSON.parse(data));
        }
      }
    } catch {
      /* offline: retried below */
    }
    if (stopped) return onState('offline');
    // A restart (a new token) reconnects at once; a lost stream after a pause, so a down server is not hammered.
    if (restarting) {
      restarting = false;
      return connect();
    }
    onState('offline');
    setTimeout(connect, 3000);
  };
  connect();
  return {
    restart() {
      restarting = true;
      controller?.abort();
    },
    stop() {
      stopped = true;
      controller?.abort();
    },
  };
}
