import { describe, it, expect } from 'vitest';
import { formatEvent } from '../../src/admin/sse.js';
import type { HistoryRow } from '../../src/history/types.js';
import { manualTimers } from './admin-fake.js';
import { startAdmin } from './admin-server.js';

/** Reads a response body until `done(text)` holds. */
async function readUntil(body: ReadableStream<Uint8Array>, done: (text: string) => boolean): Promise<{ text: string; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!done(text)) {
    const { value, done: ended } = await reader.read();
    if (ended) throw new Error(`stream ended after ${JSON.stringify(text)}`);
    text += decoder.decode(value, { stream: true });
  }
  return { text, reader };
}

describe('formatEvent', () => {
  it('writes the type and the JSON on one data line', () => {
    expect(formatEvent({ type: 'changed', what: 'queue' })).toBe('event: changed\ndata: {"type":"changed","what":"queue"}\n\n');
  });
});

describe('GET /api/events', () => {
  it('streams published events and a keepalive, before any backend is attached; closing the server ends it', async () => {
    const clock = manualTimers();
    const s = await startAdmin({ timers: clock.timers });
    let closed = false;
    try {
      const res = await s.call('/api/events');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const first = await readUntil(res.body!, (t) => t.includes(': connected\n\n'));
      expect(clock.delays()).toEqual([15_000]);

      const row: HistoryRow = { id: 7, instance: 'h:1', at: new Date('2026-12-02T12:00:00Z'), kind: 'issued', cert: 'web.example.test', serial: 'AB' };
      s.hub.events.publish({ type: 'history', row });
      clock.fire();
      let text = first.text;
      const decoder = new TextDecoder();
      while (!text.includes(': keepalive\n\n') || !text.includes('event: history')) {
        const { value } = await first.reader.read();
        text += decoder.decode(value, { stream: true });
      }
      expect(text).toContain(`event: history\ndata: ${JSON.stringify({ type: 'history', row })}\n\n`);
      expect(clock.delays()).toEqual([15_000]);

      await s.server.close();
      closed = true;
      await expect((async () => { for (;;) if ((await first.reader.read()).done) return 'ended'; })()).rejects.toThrow();
      // The stream's listener and its keepalive are gone with it.
      expect(clock.delays()).toEqual([]);
    } finally {
      if (!closed) await s.server.close();
    }
  });
});
