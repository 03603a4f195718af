import type { DestinationStream } from 'pino';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'component', 'cert']);

/** One pino JSON line as a short human line: `12:00:01 INFO  [acme] web.example.com: certificate issued names=[...]`. */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = new Date(typeof o.time === 'number' ? o.time : Date.now()).toISOString().slice(11, 19);
  const level = LEVELS[o.level as number] ?? String(o.level);
  const where = [o.component ? `[${String(o.component)}]` : '', o.cert ? `${String(o.cert)}:` : ''].filter(Boolean).join(' ');
  const extra = Object.entries(o)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return [time, level, where, String(o.msg ?? ''), extra].filter(Boolean).join(' ') + '\n';
}

/** A pino destination that writes {@link prettyLine}s: used when stdout is a terminal. */
export function prettyDestination(write: (text: string) => void): DestinationStream {
  return {
    write(msg: string) {
      for (const line of msg.split('\n')) if (line) write(prettyLine(line));
    },
  };
}
