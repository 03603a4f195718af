import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { daemonHarness } from '../support/harness.js';
import { eventually, fileOnce, registerService, deregisterService } from '../support/whisper.js';
import { refusingHaproxySocket } from '../support/fake-haproxy-socket.js';
import '../support/env-types.js';

const env = inject('env');
const { cleanups, daemon, folderAndZone, dnsArgs } = daemonHarness(env, 'ptg');

describe("a rule's targets", () => {
  it('delivers a certificate to the targets its rule lists, and none to one whose rule lists none', async () => {
    const { zone, base, folder } = await folderAndZone();
    const edge = await refusingHaproxySocket(cleanups);
    const configFile = join(base, 'whisper.yaml');
    await writeFile(configFile, `targets:
  edge: ${edge.path}
certificates:
  - name: listed.${zone}
    targets: [edge]
  - name: unlisted.${zone}
    targets: []
`);
    const w = daemon([folder, '--directory-url', env.pebble.directoryUrl, '--ca-bundle', env.pebble.tlsCaFile, ...dnsArgs(zone), '--config', configFile]);
    for (const name of ['listed', 'unlisted']) {
      await registerService(env, name, [`dns=${zone}`, 'ssl=offloading']);
      cleanups.push(() => deregisterService(env, name));
    }
    for (const name of ['listed', 'unlisted']) await eventually(`${name}.pem`, () => fileOnce(join(folder, `${name}.${zone}.pem`)), 90_000);
    // The listed certificate reached the target (which refuses it: the attempt is what counts here) ...
    await eventually('its failure logged', () => w.logs.find((l) => l.msg === 'delivery failed; retrying' && l.cert === `listed.${zone}`), 20_000);
    // ... the other never did, though both were written at once: every command the socket got was a delivery of listed.
    const attempts = (cert: string) => w.logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('delivery') && l.cert === cert).length;
    expect(attempts(`unlisted.${zone}`)).toBe(0);
    expect(edge.commands).toHaveLength(attempts(`listed.${zone}`));
    expect(await w.stop()).toBe(0);
  }, 180_000);
});
