import { describe, it, expect } from 'vitest';
import { superseded, type SupersedeFile, type SupersedeWanted } from '../../../src/lifecycle/supersede.js';

const Z = 'example.com';
const n = (...hosts: string[]) => hosts.map((h) => `${h}.${Z}`);
const want = (id: string, names: string[]): SupersedeWanted => ({ id, names });
const file = (id: string, names: string[], ours = true): SupersedeFile => ({ id, names, ours });

describe('superseded: which files go when whisper-ts\'s file names change', () => {
  it('a zone grows 1 → 2: once multi-hosts is written, the single file goes', () => {
    const wanted = [want(`multi-hosts.${Z}`, n('api', 'www'))];
    const present = [file(`www.${Z}`, n('www')), file(`multi-hosts.${Z}`, n('api', 'www'))];
    expect(superseded({ wanted, present, written: `multi-hosts.${Z}` })).toEqual({
      remove: [{ id: `www.${Z}`, shared: n('www'), by: [`multi-hosts.${Z}`] }],
      foreign: [],
    });
    // The sweep sees the same.
    expect(superseded({ wanted, present }).remove.map((s) => s.id)).toEqual([`www.${Z}`]);
  });

  it('a zone grows 1 → 2: nothing goes while multi-hosts is not written yet', () => {
    const wanted = [want(`multi-hosts.${Z}`, n('api', 'www'))];
    expect(superseded({ wanted, present: [file(`www.${Z}`, n('www'))] })).toEqual({ remove: [], foreign: [] });
    // ... nor while the file of multi-hosts is an older one without the name.
    const stale = [file(`www.${Z}`, n('www')), file(`multi-hosts.${Z}`, n('api', 'old'))];
    expect(superseded({ wanted, present: stale, written: `multi-hosts.${Z}` })).toEqual({ remove: [], foreign: [] });
  });

  it('a zone shrinks 2 → 1: once the single file is written, multi-hosts goes (its other name is no longer wanted)', () => {
    const wanted = [want(`www.${Z}`, n('www'))];
    const present = [file(`multi-hosts.${Z}`, n('api', 'www')), file(`www.${Z}`, n('www'))];
    expect(superseded({ wanted, present, written: `www.${Z}` })).toEqual({
      remove: [{ id: `multi-hosts.${Z}`, shared: n('www'), by: [`www.${Z}`] }],
      foreign: [],
    });
  });

  it('a superseded file whisper-ts did not write is reported, never removed', () => {
    const wanted = [want(`multi-hosts.${Z}`, n('api', 'www'))];
    const present = [file(`www.${Z}`, n('www'), false), file(`multi-hosts.${Z}`, n('api', 'www'))];
    expect(superseded({ wanted, present, written: `multi-hosts.${Z}` })).toEqual({
      remove: [],
      foreign: [{ id: `www.${Z}`, shared: n('www'), by: [`multi-hosts.${Z}`] }],
    });
  });

  it('a split zone: the old file waits until each of its wanted names is in a wanted file', () => {
    // Before (maxNames 2): multi-hosts [a, b], multi-hosts-2 [c, d]. After: vhosts a, c (one multi-hosts) and a
    // service `d` with a certificate of its own; b is gone. multi-hosts-2 is no longer wanted.
    const wanted = [want(`multi-hosts.${Z}`, n('a', 'c')), want(`d.${Z}`, n('d'))];
    const old = file(`multi-hosts-2.${Z}`, n('c', 'd'));
    const first = [old, file(`multi-hosts.${Z}`, n('a', 'c'))];
    // multi-hosts now holds c, but nothing holds d yet: wait.
    expect(superseded({ wanted, present: first, written: `multi-hosts.${Z}` })).toEqual({ remove: [], foreign: [] });
    expect(superseded({ wanted, present: first })).toEqual({ remove: [], foreign: [] });
    // d.<zone> written: both names are covered.
    const second = [...first, file(`d.${Z}`, n('d'))];
    expect(superseded({ wanted, present: second, written: `d.${Z}` })).toEqual({
      remove: [{ id: `multi-hosts-2.${Z}`, shared: n('d'), by: [`d.${Z}`] }],
      foreign: [],
    });
    expect(superseded({ wanted, present: second }).remove).toEqual([{ id: `multi-hosts-2.${Z}`, shared: n('c', 'd'), by: [`d.${Z}`, `multi-hosts.${Z}`] }]);
  });

  it('keeps a file no longer wanted that shares no name with a wanted file (a service that went away)', () => {
    const wanted = [want(`www.${Z}`, n('www'))];
    const present = [file(`www.${Z}`, n('www')), file(`gone.${Z}`, n('gone'))];
    expect(superseded({ wanted, present })).toEqual({ remove: [], foreign: [] });
  });

  it('after a write, judges only files sharing a name with the written one', () => {
    const wanted = [want(`multi-hosts.${Z}`, n('api', 'www')), want(`shop.${Z}`, n('shop'))];
    const present = [
      file(`multi-hosts.${Z}`, n('api', 'www')),
      file(`shop.${Z}`, n('shop')),
      file(`www.${Z}`, n('www')),
      file(`multi-hosts-old.${Z}`, n('shop')),
    ];
    expect(superseded({ wanted, present, written: `multi-hosts.${Z}` }).remove.map((s) => s.id)).toEqual([`www.${Z}`]);
    expect(superseded({ wanted, present, written: `shop.${Z}` }).remove.map((s) => s.id)).toEqual([`multi-hosts-old.${Z}`]);
    // A written id that is not wanted (the plan moved meanwhile) judges nothing.
    expect(superseded({ wanted, present, written: `www.${Z}` })).toEqual({ remove: [], foreign: [] });
  });

  it('never removes a wanted file, and a wildcard does not cover a name', () => {
    const wanted = [want(`www.${Z}`, n('www')), want(`multi-hosts.${Z}`, ['*.example.com', `api.${Z}`])];
    const present = [file(`www.${Z}`, n('www')), file(`multi-hosts.${Z}`, ['*.example.com', `api.${Z}`]), file(`multi-hosts-2.${Z}`, ['*.example.com', `www.${Z}`])];
    expect(superseded({ wanted, present }).remove).toEqual([{ id: `multi-hosts-2.${Z}`, shared: ['*.example.com', `www.${Z}`], by: [`multi-hosts.${Z}`, `www.${Z}`] }]);
    expect(superseded({ wanted: [want(`www.${Z}`, n('www', 'api'))], present: [file(`www.${Z}`, ['*.example.com'])] })).toEqual({ remove: [], foreign: [] });
  });
});
