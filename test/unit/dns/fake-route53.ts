import type { Change, HostedZone, ResourceRecordSet } from '@aws-sdk/client-route-53';
import type { Route53Api } from '../../../src/dns/route53-api.js';

/** One recorded call of the fake. */
export interface Call {
  readonly op:
    | 'listHostedZonesByName'
    | 'listHostedZones'
    | 'listResourceRecordSets'
    | 'changeResourceRecordSets'
    | 'getChange';
  readonly input: unknown;
}

/** An in-memory Route53 with the semantics whisper-ts relies on (sorted listings, UPSERT/DELETE rules). */
export class FakeRoute53 {
  readonly calls: Call[] = [];
  readonly zones: HostedZone[] = [];
  /** zone id → record sets. */
  readonly sets = new Map<string, ResourceRecordSet[]>();
  /** GetChange answers PENDING this many times before INSYNC. */
  pendingPolls = 0;
  /** Thrown by the next call of that operation. */
  failNext: Partial<Record<Call['op'], unknown>> = {};
  /** Zones per ListHostedZones page (small, to exercise the paging). */
  listPageSize = 2;
  /** Operations the IAM policy does not allow: they always fail with AccessDenied. */
  readonly denied = new Set<Call['op']>();
  private changeCount = 0;

  addZone(name: string, options: { id?: string; private?: boolean } = {}): string {
    const id = `/hostedzone/${options.id ?? `Z${this.zones.length + 1}`}`;
    this.zones.push({ Id: id, Name: `${name}.`, CallerReference: id, Config: { PrivateZone: options.private ?? false } });
    this.sets.set(id, []);
    return id;
  }

  setTxt(zoneId: string, name: string, records: string[], ttl = 300): void {
    const sets = this.sets.get(zoneId) ?? [];
    const rest = sets.filter((s) => !(s.Name === `${name}.` && s.Type === 'TXT'));
    rest.push({ Name: `${name}.`, Type: 'TXT', TTL: ttl, ResourceRecords: records.map((Value) => ({ Value })) });
    this.sets.set(zoneId, rest);
  }

  txt(zoneId: string, name: string): string[] | undefined {
    const set = (this.sets.get(zoneId) ?? []).find((s) => s.Name === `${name}.` && s.Type === 'TXT');
    return set?.ResourceRecords?.map((r) => r.Value ?? '');
  }

  callsOf(op: Call['op']): unknown[] {
    return this.calls.filter((c) => c.op === op).map((c) => c.input);
  }

  // Each call yields to the event loop like a real request, so concurrent callers interleave.
  private async enter(op: Call['op'], input: unknown): Promise<void> {
    this.calls.push({ op, input });
    await new Promise((resolve) => setImmediate(resolve));
    if (this.denied.has(op)) {
      throw Object.assign(new Error(`not authorized to perform route53:${op}`), {
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      });
    }
    const err = this.failNext[op];
    if (err !== undefined) {
      delete this.failNext[op];
      throw err;
    }
  }

  private applyChange(zoneId: string, change: Change): void {
    const set = change.ResourceRecordSet;
    if (!set) throw new Error('no set');
    const sets = this.sets.get(zoneId) ?? [];
    const i = sets.findIndex((s) => s.Name === set.Name && s.Type === set.Type);
    if (change.Action === 'DELETE') {
      const current = sets[i];
      if (!current || JSON.stringify(current) !== JSON.stringify(set)) {
        throw Object.assign(new Error(`values do not match for ${set.Name}`), { name: 'InvalidChangeBatch' });
      }
      sets.splice(i, 1);
    } else if (i >= 0) {
      sets[i] = set;
    } else {
      sets.push(set);
    }
  }

  api(): Route53Api {
    return {
      listHostedZonesByName: async (input) => {
        await this.enter('listHostedZonesByName', input);
        const key = (name: string) => name.replace(/\.$/, '').split('.').reverse().join('.');
        const from = key(input.DNSName ?? '');
        const sorted = [...this.zones].sort((a, b) => key(a.Name ?? '').localeCompare(key(b.Name ?? '')));
        const list = sorted.filter((z) => key(z.Name ?? '') >= from).slice(0, input.MaxItems ?? 100);
        return { HostedZones: list, IsTruncated: false, MaxItems: input.MaxItems ?? 100, $metadata: {} };
      },
      listHostedZones: async (input) => {
        await this.enter('listHostedZones', input);
        const size = this.listPageSize;
        const start = Number(input.Marker ?? 0);
        const page = this.zones.slice(start, start + size);
        const more = start + size < this.zones.length;
        return {
          HostedZones: structuredClone(page).map((z) => ({ ...z, ResourceRecordSetCount: this.sets.get(z.Id ?? '')?.length ?? 0 })),
          Marker: input.Marker,
          IsTruncated: more,
          ...(more ? { NextMarker: String(start + size) } : {}),
          MaxItems: size,
          $metadata: {},
        };
      },
      listResourceRecordSets: async (input) => {
        await this.enter('listResourceRecordSets', input);
        const sets = [...(this.sets.get(input.HostedZoneId ?? '') ?? [])];
        const key = (s: ResourceRecordSet) => `${(s.Name ?? '').split('.').reverse().join('.')} ${s.Type}`;
        sets.sort((a, b) => key(a).localeCompare(key(b)));
        const start =
          input.StartRecordName === undefined ? '' : `${input.StartRecordName.split('.').reverse().join('.')} ${input.StartRecordType}`;
        const max = input.MaxItems ?? 300;
        const from = sets.filter((s) => key(s) >= start);
        const list = from.slice(0, max);
        const next = from[max];
        return {
          ResourceRecordSets: structuredClone(list),
          IsTruncated: next !== undefined,
          ...(next ? { NextRecordName: next.Name, NextRecordType: next.Type } : {}),
          MaxItems: max,
          $metadata: {},
        };
      },
      changeResourceRecordSets: async (input) => {
        await this.enter('changeResourceRecordSets', input);
        const zoneId = input.HostedZoneId ?? '';
        const before = structuredClone(this.sets.get(zoneId) ?? []);
        try {
          for (const change of input.ChangeBatch?.Changes ?? []) this.applyChange(zoneId, structuredClone(change));
        } catch (err) {
          this.sets.set(zoneId, before);
          throw err;
        }
        this.changeCount += 1;
        const status = this.pendingPolls > 0 ? 'PENDING' : 'INSYNC';
        return { ChangeInfo: { Id: `/change/C${this.changeCount}`, Status: status, SubmittedAt: new Date(0) }, $metadata: {} };
      },
      getChange: async (input) => {
        await this.enter('getChange', input);
        const status = this.pendingPolls > 0 ? 'PENDING' : 'INSYNC';
        if (this.pendingPolls > 0) this.pendingPolls -= 1;
        return { ChangeInfo: { Id: input.Id, Status: status, SubmittedAt: new Date(0) }, $metadata: {} };
      },
    };
  }
}

/** A fake clock: `sleep` advances `now` at once and records the delays. */
export function fakeClock(start = 1_000_000) {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    advance: (ms: number) => {
      t += ms;
    },
  };
}
