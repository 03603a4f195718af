/**
 * The daemon's options in one table: flag, environment variables (first set wins), default and help.
 * The CLI builds its commander options from it, `.env.example` documents it, `config.ts` reads it.
 */
export interface OptionSpec {
  /** Key in the raw options object (commander's camelCase name). */
  readonly key: string;
  /** Commander flags, e.g. `-c, --consul <host>`. */
  readonly flags: string;
  /** Environment variables read when the flag is absent, in order. */
  readonly env: readonly string[];
  readonly help: string;
  /** Default, as the user would type it (shown in `--help` and `.env.example`). */
  readonly default?: string;
  /** Boolean switch. */
  readonly bool?: boolean;
  /** Repeatable; the environment variable holds a comma-separated list. */
  readonly list?: boolean;
}

/** Let's Encrypt's directories. */
export const LETSENCRYPT = {
  production: 'https://acme-v02.api.letsencrypt.org/directory',
  staging: 'https://acme-staging-v02.api.letsencrypt.org/directory',
} as const;

/** Every daemon option. */
export const OPTIONS: readonly OptionSpec[] = [
  { key: 'consul', flags: '-c, --consul <host>', env: ['WHISPER_CONSUL', 'CONSUL', 'CONSUL_HTTP_ADDR'], default: 'consul', help: 'Consul host or ip, optionally host:port or a URL' },
  { key: 'consulToken', flags: '--consul-token <token>', env: ['WHISPER_CONSUL_TOKEN', 'CONSUL_HTTP_TOKEN'], help: 'Consul ACL token (prefer the environment: a flag shows in `ps`)' },
  { key: 'consulTls', flags: '--consul-tls', env: ['WHISPER_CONSUL_TLS', 'CONSUL_HTTP_SSL'], bool: true, help: 'talk to Consul over HTTPS' },
  { key: 'consulCaFile', flags: '--consul-ca-file <file>', env: ['WHISPER_CONSUL_CA_FILE', 'CONSUL_CACERT'], help: 'PEM CA bundle that signed Consul\'s certificate' },
  { key: 'consulCertFile', flags: '--consul-cert-file <file>', env: ['WHISPER_CONSUL_CERT_FILE', 'CONSUL_CLIENT_CERT'], help: 'client certificate for Consul (mTLS)' },
  { key: 'consulKeyFile', flags: '--consul-key-file <file>', env: ['WHISPER_CONSUL_KEY_FILE', 'CONSUL_CLIENT_KEY'], help: 'client key for Consul (mTLS)' },
  { key: 'notify', flags: '-n, --notify <path>', env: ['WHISPER_NOTIFY', 'KV_PATH'], default: 'whisper/updated', help: 'KV key bumped after certificates change' },
  { key: 'notifyInterval', flags: '--notify-interval <seconds>', env: ['WHISPER_NOTIFY_INTERVAL'], default: '5', help: 'least seconds between two bumps of the notify key during a burst of changes (the first change is bumped at once, later ones together, up to an interval later)' },
  { key: 'staging', flags: '-s, --staging', env: ['WHISPER_STAGING', 'STAGING'], bool: true, help: 'use Let\'s Encrypt\'s staging directory' },
  { key: 'debug', flags: '-d, --debug', env: ['WHISPER_DEBUG', 'DEBUG'], bool: true, help: 'debug log level; `-d` followed by a zone and then the folder means --domain (see below)' },
  { key: 'domain', flags: '--domain <zone>', env: ['WHISPER_DOMAINS', 'DOMAIN'], list: true, help: 'only handle these zones, compared exactly (repeatable; none: every zone); whisper\'s `-d <zone>`' },
  { key: 'acmeKey', flags: '-a, --acme-key <path>', env: ['WHISPER_ACME_KEY'], help: 'ACME account key (PEM; whisper\'s RSA key works as it is). Default: <folder>/.acme if it exists, else ~/.acme if it exists, else a new key at <folder>/.acme' },
  { key: 'listenPath', flags: '-l, --listen-path <kv-path>', env: ['WHISPER_LISTEN_PATHS'], list: true, help: 'Consul KV prefix of static entries `<kv-path>/<zone>/<host>`: value SAN joins the zone\'s multi-host certificate, anything else a certificate of its own (repeatable; watched)' },
  { key: 'config', flags: '--config <file>', env: ['WHISPER_CONFIG'], help: 'YAML file of per-certificate policy: defaults, named DNS back ends and targets, `certificates:` rules, static `domains:`; reloaded on SIGHUP and when it changes (see docs/configuration.md; `whisper-ts check-config <file>` validates it)' },
  { key: 'staticDomains', flags: '--static-domains <names>', env: ['WHISPER_STATIC_DOMAINS', 'DOMAINS'], help: 'certificates that need no Consul service: the names of one certificate comma-separated (`example.com,www.example.com`, as the Rancher service\'s DOMAINS), several certificates separated by `;` or spaces' },
  { key: 'dryrun', flags: '--dryrun', env: ['WHISPER_DRYRUN'], bool: true, help: 'discover and plan, print what would be issued; contact no CA, change no DNS, write nothing' },
  { key: 'directoryUrl', flags: '--directory-url <url>', env: ['WHISPER_DIRECTORY_URL', 'ACME_DIRECTORY_URL'], default: LETSENCRYPT.production, help: 'ACME directory of any CA' },
  { key: 'caBundle', flags: '--ca-bundle <file>', env: ['WHISPER_CA_BUNDLE'], help: 'PEM file of extra CAs to trust when talking to the ACME server (a private CA, Pebble)' },
  { key: 'email', flags: '--email <address>', env: ['ACME_REGISTER_EMAIL'], help: 'contact registered with a new ACME account' },
  { key: 'eabKid', flags: '--eab-kid <kid>', env: ['ACME_EAB_KID'], help: 'External Account Binding key id (ZeroSSL, Google)' },
  { key: 'eabHmacKey', flags: '--eab-hmac-key <key>', env: ['ACME_EAB_HMAC_KEY'], help: 'External Account Binding HMAC key, base64url (prefer the environment)' },
  { key: 'keyType', flags: '--key-type <type>', env: ['WHISPER_KEY_TYPE'], default: 'ecdsa-p256', help: 'certificate key: ecdsa-p256, ecdsa-p384, rsa2048 or rsa4096' },
  { key: 'challenge', flags: '--challenge <type>', env: ['WHISPER_CHALLENGE'], default: 'dns-01', help: 'dns-01, or dns-persist-01: one TXT record `_validation-persist.<name>` per name, written once and left in place (renewals change no DNS); falls back to dns-01 where the CA does not offer it. See SECURITY.md. Or http-01 (no wildcards), with --http01-listen or --http01-webroot (see docs/http-01.md)' },
  { key: 'dnsProvider', flags: '--dns-provider <name>', env: ['WHISPER_DNS_PROVIDER'], default: 'route53', help: 'route53, rfc2136, exec, or none: write no DNS (with --challenge dns-persist-01 and records made by hand, see `whisper-ts dns-persist`, or with --challenge http-01)' },
  { key: 'http01Listen', flags: '--http01-listen <host:port>', env: ['WHISPER_HTTP01_LISTEN'], help: 'answer HTTP-01 on this address: GET /.well-known/acme-challenge/<token> only, for the load balancer to route to (under --ha every instance answers, tokens in Consul KV; see docs/http-01.md)' },
  { key: 'http01Webroot', flags: '--http01-webroot <dir>', env: ['WHISPER_HTTP01_WEBROOT'], help: 'answer HTTP-01 by writing <dir>/.well-known/acme-challenge/<token> for a web server that serves <dir>; removed after each challenge' },
  { key: 'route53Endpoint', flags: '--route53-endpoint <url>', env: ['WHISPER_ROUTE53_ENDPOINT'], help: 'Route53 API endpoint (emulators)' },
  { key: 'route53Region', flags: '--route53-region <region>', env: ['WHISPER_ROUTE53_REGION', 'AWS_REGION'], default: 'us-east-1', help: 'AWS region of the Route53 client' },
  { key: 'route53Rps', flags: '--route53-rps <n>', env: ['WHISPER_ROUTE53_RPS'], default: '10', help: 'Route53 requests per second at most, every profile together, spaced evenly (Route53 allows 10 per second per account, shared with your other tools); throttled calls back off and retry' },
  { key: 'rfc2136Server', flags: '--rfc2136-server <host:port>', env: ['WHISPER_RFC2136_SERVER'], help: 'primary DNS server that takes dynamic updates' },
  { key: 'rfc2136Zone', flags: '--rfc2136-zone <zone>', env: ['WHISPER_RFC2136_ZONE'], help: 'zone to update (found by SOA queries when absent)' },
  { key: 'rfc2136TsigName', flags: '--rfc2136-tsig-name <name>', env: ['WHISPER_RFC2136_TSIG_NAME'], help: 'TSIG key name' },
  { key: 'rfc2136TsigAlgorithm', flags: '--rfc2136-tsig-algorithm <alg>', env: ['WHISPER_RFC2136_TSIG_ALGORITHM'], default: 'hmac-sha256', help: 'TSIG algorithm' },
  { key: 'rfc2136TsigSecretFile', flags: '--rfc2136-tsig-secret-file <file>', env: ['WHISPER_RFC2136_TSIG_SECRET_FILE'], help: 'file holding the base64 TSIG secret (or set WHISPER_RFC2136_TSIG_SECRET)' },
  { key: 'execCommand', flags: '--exec-command <path>', env: ['WHISPER_EXEC_COMMAND'], help: 'program run as `<path> present|cleanup <fqdn.> <value>`' },
  { key: 'dnsResolver', flags: '--dns-resolver <host:port>', env: ['WHISPER_DNS_RESOLVERS'], list: true, help: 'check propagation on these resolvers instead of the zone\'s authoritative servers (repeatable)' },
  { key: 'propagationTimeout', flags: '--propagation-timeout <seconds>', env: ['WHISPER_PROPAGATION_TIMEOUT'], default: '120', help: 'give up waiting for DNS after this long' },
  { key: 'allowDomain', flags: '--allow-domain <domain>', env: ['WHISPER_ALLOW_DOMAINS'], list: true, help: 'only issue for names under these domains (repeatable; none: any)' },
  { key: 'allowWildcard', flags: '--allow-wildcard', env: ['WHISPER_ALLOW_WILDCARD'], bool: true, help: 'let a `vhost=*` tag order the wildcard `*.<zone>` (off: such a service is skipped with a warning)' },
  { key: 'concurrency', flags: '--concurrency <n>', env: ['WHISPER_CONCURRENCY'], default: '128', help: 'orders in flight at once (each may be waiting on DNS)' },
  { key: 'format', flags: '--format <name>', env: ['WHISPER_FORMATS'], list: true, default: 'haproxy', help: 'output formats: haproxy, certbot, pkcs12 (repeatable)' },
  { key: 'formatsDir', flags: '--formats-dir <dir>', env: ['WHISPER_FORMATS_DIR'], help: 'folder of the certbot and pkcs12 outputs (default: <folder>/formats; HAProxy loads every file of its folder)' },
  { key: 'renewBefore', flags: '--renew-before <days|percent>', env: ['WHISPER_RENEW_BEFORE'], help: 'without ARI, renew this many days (30d) or this share of the lifetime (33%) before expiry (default: a third of the lifetime)' },
  { key: 'renewInterval', flags: '--renew-interval <hours>', env: ['WHISPER_RENEW_INTERVAL'], default: '24', help: 'hours between renewal sweeps (each certificate also has its own timer)' },
  { key: 'profile', flags: '--profile <name>', env: ['WHISPER_ACME_PROFILE'], help: 'ACME profile for new orders when the CA offers it (Let\'s Encrypt: classic, tlsserver, shortlived)' },
  { key: 'rateLimits', flags: '--rate-limits <spec>', env: ['WHISPER_RATE_LIMITS'], default: 'letsencrypt', help: 'the CA\'s limits to stay under: letsencrypt, none, or e.g. registeredDomain=50/7d,exactSet=5/7d,newOrders=300/3h,authzFailures=5/1h' },
  { key: 'retryBase', flags: '--retry-base <seconds>', env: ['WHISPER_RETRY_BASE'], default: '30', help: 'first delay before a failed order is tried again (doubles per failure, up to an hour)' },
  { key: 'ha', flags: '--ha', env: ['WHISPER_HA'], bool: true, help: 'high availability: run several instances; only the holder of a Consul lock issues' },
  { key: 'lockKey', flags: '--lock-key <key>', env: ['WHISPER_LOCK_KEY'], default: 'whisper/leader', help: 'Consul KV key of the leader lock (--ha)' },
  { key: 'sessionTtl', flags: '--session-ttl <seconds>', env: ['WHISPER_SESSION_TTL'], default: '15', help: 'TTL of each instance\'s Consul session, a backstop behind its health check (renewed with each check pass), 10 to 3600 (--ha)' },
  { key: 'lockDelay', flags: '--lock-delay <seconds>', env: ['WHISPER_LOCK_DELAY'], default: '5', help: 'Consul lock delay after a leader\'s session ends, 0 to 60, longer than --check-ttl (--ha)' },
  { key: 'checkTtl', flags: '--check-ttl <seconds>', env: ['WHISPER_CHECK_TTL'], default: '3', help: 'TTL of the Consul health check each instance passes every third of it; its session ends when the check fails, 2 to 60, shorter than --lock-delay (--ha)' },
  { key: 'store', flags: '--store <kind>', env: ['WHISPER_STORE'], default: 'folder', help: 'folder, or consul: also keep certificates in Consul KV, copied into every instance\'s folder' },
  { key: 'storePrefix', flags: '--store-prefix <prefix>', env: ['WHISPER_STORE_PREFIX'], default: 'whisper/certs', help: 'Consul KV prefix of the certificates (--store consul)' },
  { key: 'kvEncryptionKeyFile', flags: '--kv-encryption-key-file <file>', env: ['WHISPER_KV_ENCRYPTION_KEY_FILE'], help: 'file of AES-256 keys, one `<key-id>:<base64 of 32 bytes>` a line, mode 0600: the private keys put in Consul KV (--store consul, --ha) are encrypted with the first, read with any (default: stored unencrypted)' },
  { key: 'datacenter', flags: '--datacenter <dc>', env: ['WHISPER_DATACENTERS'], list: true, help: 'watch the catalog of this Consul datacenter (`?dc=`, through the agent\'s servers over the WAN), each with its own blocking query; `all`: every datacenter the servers know, re-read every minute. None: the agent\'s own datacenter, asked without `dc`. The ACL token needs service:read in each' },
  { key: 'consulWait', flags: '--consul-wait <duration>', env: ['WHISPER_CONSUL_WAIT'], default: '5m', help: 'longest wait of one Consul blocking query' },
  { key: 'haproxySocket', flags: '--haproxy-socket <unix path|host:port>', env: ['WHISPER_HAPROXY_SOCKETS'], list: true, help: 'HAProxy runtime API that gets each certificate after its file is written (set ssl cert, commit), by each instance for its own HAProxy (repeatable; see docs/targets.md)' },
  { key: 'target', flags: '--target <url>', env: ['WHISPER_TARGETS'], list: true, help: 'another destination of the certificates, delivered by the leader: acm://<region>, elbv2://<listener-arn>, iam://, elb://<name>[:port]?id=<certificate id>, s3://<bucket>/<prefix>, cloudfront://<distribution-id>[?id=<certificate id>] or sftp://user@host[:port]/path (repeatable; see docs/targets.md)' },
  { key: 'awsEndpoint', flags: '--aws-endpoint <url>', env: ['WHISPER_AWS_ENDPOINT'], help: 'AWS API endpoint of the AWS targets (emulators)' },
  { key: 's3KmsKey', flags: '--s3-kms-key <arn>', env: ['WHISPER_S3_KMS_KEY'], help: 'KMS key of the objects s3:// targets write (default: AES256)' },
  { key: 'iamDeleteExpired', flags: '--iam-delete-expired', env: ['WHISPER_IAM_DELETE_EXPIRED'], bool: true, help: 'delete expired IAM server certificates whisper-ts uploaded that nothing uses' },
  { key: 'sshKey', flags: '--ssh-key <file>', env: ['WHISPER_SSH_KEY'], help: 'private key of the sftp:// targets (required with one)' },
  { key: 'sshKnownHosts', flags: '--ssh-known-hosts <file>', env: ['WHISPER_SSH_KNOWN_HOSTS'], help: 'known_hosts file the sftp:// targets check the server\'s key against (required with one)' },
  { key: 'sftpMode', flags: '--sftp-mode <octal>', env: ['WHISPER_SFTP_MODE'], help: 'mode of the files sftp:// targets write, in octal (e.g. 640; default: the target\'s, 600)' },
  { key: 'sftpUid', flags: '--sftp-uid <n>', env: ['WHISPER_SFTP_UID'], help: 'owner (numeric user id) of the files sftp:// targets write (default: the login\'s)' },
  { key: 'sftpGid', flags: '--sftp-gid <n>', env: ['WHISPER_SFTP_GID'], help: 'group (numeric id) of the files sftp:// targets write (default: the login\'s)' },
  { key: 'listen', flags: '--listen <host:port>', env: ['WHISPER_LISTEN'], help: 'serve /metrics, /healthz, /readyz, the admin API (/api/) and the dashboard (/) on this address, e.g. 127.0.0.1:9400 (default: off; see docs/operations.md)' },
  { key: 'adminTokenFile', flags: '--admin-token-file <file>', env: ['WHISPER_ADMIN_TOKEN_FILE'], help: 'file holding the bearer token of the admin API: with it the API answers on any address and allows actions (renew, revoke); without it the API is read-only and answers loopback clients only' },
  { key: 'historyDays', flags: '--history-days <days>', env: ['WHISPER_HISTORY_DAYS'], default: '400', help: 'days of order, failure and delivery history kept in .whisper-history.sqlite in the folder' },
];
