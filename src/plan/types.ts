/** What the planner wants to exist: one certificate, with the names it must cover. */
export interface WantedCert {
  /**
   * Stable identity and file base name: the name itself (`<host>.<zone>`) for a certificate of one name,
   * `multi-hosts.<zone>` (`multi-hosts-2.<zone>`, ... when split) for a zone's vhosts when they are two or more.
   * Validated: safe as a file name.
   */
  readonly id: string;
  /**
   * How the id is formed, whisper's file naming: `single` is one name, the id (a service's own certificate, a zone's
   * lone vhost, or both); `multi` is a `multi-hosts` certificate of a zone: two or more vhosts, or a lone vhost that
   * cannot be a file name of its own (a wildcard `*.<zone>`). A static certificate (`domains:` of the config file,
   * `DOMAINS`) is `single` with one name, else `multi` with its first plain name as id (see `plan/domains.ts`).
   */
  readonly kind: 'single' | 'multi';
  /** The DNS zone the names belong to (lowercase, no trailing dot). */
  readonly zone: string;
  /** Lowercase ASCII (punycode) names, unique and sorted; the first is the subject's common name. */
  readonly names: readonly string[];
  /** Consul services that asked for it, sorted (for logs and `status`). */
  readonly services: readonly string[];
}

/** One Consul service as the planner sees it. */
export interface ServiceTags {
  readonly name: string;
  readonly tags: readonly string[];
  /** How problems and {@link WantedCert.services} name it, e.g. `web@dc2` (`--datacenter`). @default name */
  readonly label?: string;
}
