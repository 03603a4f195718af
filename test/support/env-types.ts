/** Addresses of the real servers the integration global setup started for this run. */
export interface TestEnv {
  /** Folder of this run's configs, data and logs (removed at the end). */
  readonly runDir: string;
  readonly consul: {
    /** `127.0.0.1:port` of the dev agent's HTTP API. */
    readonly httpAddr: string;
    /** Serf LAN `127.0.0.1:port`, for extra agents to join. */
    readonly serfLanAddr: string;
  };
  readonly pebble: {
    /** ACME directory URL (HTTPS). */
    readonly directoryUrl: string;
    /** Management API base URL (HTTPS): `/roots/0`, `/intermediates/0`, `/cert-status-by-serial/...`. */
    readonly managementUrl: string;
    /** PEM file of the CA that signed Pebble's own HTTPS certificate (trust it to talk to Pebble). */
    readonly tlsCaFile: string;
  };
  readonly challtestsrv: {
    /** Management API base URL (HTTP): `/set-txt`, `/clear-txt`, ... */
    readonly managementUrl: string;
    /** Its DNS server, `127.0.0.1:port`. */
    readonly dnsAddr: string;
  };
  readonly route53: {
    /** moto server endpoint URL for the AWS SDK. */
    readonly endpoint: string;
    readonly region: string;
    /** A hosted zone created at start, for tests to put names under (no trailing dot). */
    readonly zone: string;
    readonly zoneId: string;
  };
  /** The DNS front (UDP and TCP) Pebble validates against: moto's zones, BIND's zone, then challtestsrv. */
  readonly dnsFront: { readonly addr: string };
  readonly bind: {
    /** `127.0.0.1:port`, UDP and TCP. */
    readonly addr: string;
    /** Its authoritative zone (no trailing dot), open to TSIG-signed updates. */
    readonly zone: string;
    readonly tsig: { readonly name: string; readonly algorithm: string; readonly secret: string };
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    env: TestEnv;
  }
}
