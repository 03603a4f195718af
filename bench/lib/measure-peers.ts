import type { Peer } from './peers.js';

/** Wall times of one peer issuing `count` certificates one command after the other (after one warm-up run). */
export interface PeerRuns {
  readonly name: string;
  /** ms per command, in order. */
  readonly runs: number[];
  /** Set when the peer failed: what it said. */
  error?: string;
}

/** Runs `peer` for `count` fresh names under `zone`, in sequence, as its users would. */
export async function peerSequence(peer: Peer, zone: string, count: number, tag: string): Promise<PeerRuns> {
  const out: PeerRuns = { name: peer.name, runs: [] };
  try {
    await peer.issue(`${tag}-warm.${zone}`);
    for (let i = 0; i < count; i++) out.runs.push(await peer.issue(`${tag}-${i}.${zone}`));
  } catch (err) {
    out.error = err instanceof Error ? err.message.slice(-600) : String(err);
  }
  return out;
}
