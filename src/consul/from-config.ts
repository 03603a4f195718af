import type { Config } from '../config.js';
import { createConsulApi, type ConsulApi } from './api.js';

/** Builds the Consul client the configuration describes. */
export function consulFromConfig(config: Config): ConsulApi {
  return createConsulApi({
    address: config.consul.address,
    secure: config.consul.secure,
    ...(config.consul.token ? { token: config.consul.token } : {}),
    ...(config.consul.caFile ? { caFile: config.consul.caFile } : {}),
    ...(config.consul.certFile ? { certFile: config.consul.certFile } : {}),
    ...(config.consul.keyFile ? { keyFile: config.consul.keyFile } : {}),
  });
}
