import {
  AddListenerCertificatesCommand,
  DescribeListenerCertificatesCommand,
  ModifyListenerCommand,
  RemoveListenerCertificatesCommand,
  type ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { WhisperError } from '../../errors.js';
import type { Target } from '../types.js';
import type { AcmImporter } from './acm-importer.js';
import { ARN_MEMO, memoArn } from './acm.js';
import { awsCall, awsErrorName } from './errors.js';
import { isNoChange, listenerChange, type ListenerCert } from './elbv2-plan.js';

/**
 * `elbv2://<listener-arn>`: every certificate imported into ACM in the listener's region (through the shared
 * importer) and put in the listener's SNI list (AddListenerCertificates). A renewal re-imported into the same ARN
 * needs no listener change; a new ARN is added, then the old one removed. The ARN is the memo.
 */
export function elbv2Target(
  name: string,
  listenerArn: string,
  importer: AcmImporter,
  client: ElasticLoadBalancingV2Client,
): Target {
  async function listed(what: string, signal: AbortSignal): Promise<ListenerCert[]> {
    const out: ListenerCert[] = [];
    let marker: string | undefined;
    do {
      const page = await awsCall(`${what}: DescribeListenerCertificates`, () =>
        client.send(
          new DescribeListenerCertificatesCommand({ ListenerArn: listenerArn, ...(marker ? { Marker: marker } : {}) }),
          { abortSignal: signal },
        ),
      );
      for (const c of page.Certificates ?? []) {
        if (c.CertificateArn) out.push({ arn: c.CertificateArn, isDefault: c.IsDefault === true });
      }
      marker = page.NextMarker;
    } while (marker);
    return out;
  }

  return {
    name,
    async deliver(item, ctx, signal) {
      const what = `${name} ${item.id}`;
      const previous = memoArn(ctx.memo);
      const imported = await importer.ensure(item, previous, name, ctx.log, signal);
      const change = listenerChange(await listed(what, signal), imported.arn, previous);
      const memo = { [ARN_MEMO]: imported.arn };
      if (isNoChange(change)) return { memo, detail: `listener has ${imported.arn} (${imported.action})` };
      if (change.setDefault) {
        await awsCall(`${what}: ModifyListener`, () =>
          client.send(
            new ModifyListenerCommand({
              ListenerArn: listenerArn,
              Certificates: [{ CertificateArn: change.setDefault }],
            }),
            { abortSignal: signal },
          ),
        );
      }
      if (change.add.length > 0) {
        await awsCall(`${what}: AddListenerCertificates`, () =>
          client.send(
            new AddListenerCertificatesCommand({
              ListenerArn: listenerArn,
              Certificates: change.add.map((a) => ({ CertificateArn: a })),
            }),
            { abortSignal: signal },
          ),
        );
      }
      if (change.remove.length > 0) {
        await awsCall(`${what}: RemoveListenerCertificates`, () =>
          client.send(
            new RemoveListenerCertificatesCommand({
              ListenerArn: listenerArn,
              Certificates: change.remove.map((a) => ({ CertificateArn: a })),
            }),
            { abortSignal: signal },
          ),
        );
      }
      const parts = [
        change.setDefault ? `default ${change.setDefault}` : '',
        change.add.length ? `added ${change.add.join(', ')}` : '',
        change.remove.length ? `removed ${change.remove.join(', ')}` : '',
      ].filter(Boolean);
      return { memo, detail: parts.join('; ') };
    },
    async remove(item, ctx, signal) {
      const arn = memoArn(ctx.memo);
      if (!arn) return { detail: 'nothing recorded' };
      const what = `${name} ${item.id}`;
      const current = await listed(what, signal);
      const here = current.find((c) => c.arn === arn);
      if (!here) return { memo: {}, detail: `${arn} not on the listener` };
      if (here.isDefault) {
        throw new WhisperError('TARGET_AWS', `${what}: ${arn} is the listener's default certificate: not removed`);
      }
      try {
        await client.send(
          new RemoveListenerCertificatesCommand({ ListenerArn: listenerArn, Certificates: [{ CertificateArn: arn }] }),
          { abortSignal: signal },
        );
      } catch (err) {
        if (awsErrorName(err) !== 'CertificateNotFoundException') {
          return awsCall(`${what}: RemoveListenerCertificates`, () => Promise.reject(err));
        }
      }
      return { memo: {}, detail: `removed ${arn}` };
    },
  };
}
