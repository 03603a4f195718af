/** What the planner wants to exist: one certificate, with the names it must cover. */
export interface WantedCert {
  /**
   * Stable identity and file base name: `<host>.<zone>` for a single-host certificate,
   * `multi-hosts.<zone>` for the multi-host certificate of a zone. Validated: safe as a file name.
   */
  readonly id: string;
  /** `single`: a service's own certificate; `multi`: every vhost of a zone. */
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
}
