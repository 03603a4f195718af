import {
  DescribeLoadBalancersCommand,
  SetLoadBalancerListenerSSLCertificateCommand,
  type ElasticLoadBalancingClient,
  type LoadBalancerDescription,
} from '@aws-sdk/client-elastic-load-balancing';
import { WhisperError } from '../../errors.js';
import type { Target } from '../types.js';
import { awsCall, awsErrorName } from './errors.js';
import { IAM_ARN_MEMO, IAM_NAME_MEMO, type IamUploader } from './iam.js';

/** The classic load balancers of a region, every page (`names`: those alone). */
export async function describeClassic(
  client: ElasticLoadBalancingClient,
  what: string,
  signal: AbortSignal,
  names?: readonly string[],
): Promise<LoadBalancerDescription[]> {
  const out: LoadBalancerDescription[] = [];
  let marker: string | undefined;
  do {
    const page = await awsCall(`${what}: DescribeLoadBalancers`, () =>
      client.send(
        new DescribeLoadBalancersCommand({
          ...(names ? { LoadBalancerNames: [...names] } : {}),
          ...(marker ? { Marker: marker } : {}),
        }),
        { abortSignal: signal },
      ),
    );
    out.push(...(page.LoadBalancerDescriptions ?? []));
    marker = page.NextMarker;
  } while (marker);
  return out;
}

/** The certificate ARNs the classic load balancers of a region's listeners hold (for the IAM sweep). */
export async function classicCertsInUse(client: ElasticLoadBalancingClient, signal: AbortSignal): Promise<Set<string>> {
  const inUse = new Set<string>();
  for (const lb of await describeClassic(client, 'elb', signal)) {
    for (const l of lb.ListenerDescriptions ?? []) {
      if (l.Listener?.SSLCertificateId) inUse.add(l.Listener.SSLCertificateId);
    }
  }
  return inUse;
}

/**
 * `elb://<name>[:port]?id=<certificate id>`: the certificate `id` uploaded into IAM (through the shared uploader)
 * and set on the classic load balancer's listener on `port` (SetLoadBalancerListenerSSLCertificate), as
 * letsencrypt-aws did. Other certificates are not for this listener: delivered as a no-op. The memo is the IAM name
 * and ARN.
 */
export function elbTarget(
  name: string,
  spec: { readonly lbName: string; readonly port: number; readonly id: string },
  uploader: IamUploader,
  client: ElasticLoadBalancingClient,
): Target {
  return {
    name,
    async deliver(item, _ctx, signal) {
      if (item.id !== spec.id) return { detail: `not this listener's certificate (${spec.id})` };
      const what = `${name} ${item.id}`;
      let lbs: LoadBalancerDescription[];
      try {
        lbs = await describeClassic(client, what, signal, [spec.lbName]);
      } catch (err) {
        if (awsErrorName(err) === 'AccessPointNotFoundException') {
          throw new WhisperError('TARGET_AWS', `${what}: no classic load balancer ${spec.lbName}`, { cause: err });
        }
        throw err;
      }
      const listener = lbs[0]?.ListenerDescriptions?.find((l) => l.Listener?.LoadBalancerPort === spec.port)?.Listener;
      if (!listener) {
        throw new WhisperError('TARGET_AWS', `${what}: ${spec.lbName} has no listener on port ${spec.port}`);
      }
      const up = await uploader.ensure(item, name, signal);
      const memo = { [IAM_NAME_MEMO]: up.name, [IAM_ARN_MEMO]: up.arn };
      if (listener.SSLCertificateId === up.arn) return { memo, detail: `listener has ${up.arn}` };
      try {
        await client.send(
          new SetLoadBalancerListenerSSLCertificateCommand({
            LoadBalancerName: spec.lbName,
            LoadBalancerPort: spec.port,
            SSLCertificateId: up.arn,
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        // A certificate just uploaded takes a few seconds to reach ELB.
        const n = awsErrorName(err);
        if (n === 'CertificateNotFoundException' || n === 'CertificateNotFound') {
          throw new WhisperError('TARGET_AWS', `${what}: ${up.arn} not visible to ELB yet`, {
            retryable: true,
            cause: err,
          });
        }
        return awsCall(`${what}: SetLoadBalancerListenerSSLCertificate`, () => Promise.reject(err));
      }
      return { memo, detail: `listener switched to ${up.arn}` };
    },
  };
}
