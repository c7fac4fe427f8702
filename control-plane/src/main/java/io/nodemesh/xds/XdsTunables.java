package io.nodemesh.xds;

/** Every tuning knob of the xDS server and resource store, declared once with the reason for its value. */
public final class XdsTunables {

  private XdsTunables() {}

  /**
   * Largest response the server builds by default ({@code --max-message-bytes}), in bytes. 4 MiB is
   * grpc-java's and the common client default for the maximum inbound message; Envoy accepts more, but a
   * proxyless client would reject the stream.
   */
  public static final int DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

  /**
   * Room kept free in each delta response for its envelope (type URL, nonce, system version, removed
   * names are counted separately), so a split response stays under the largest response size.
   */
  public static final int RESPONSE_ENVELOPE_BYTES = 1024;

  /**
   * How many unacknowledged delta responses per type a stream remembers by nonce. A split push produces
   * several; a client ACKs them in order, so a handful covers it. Older nonces are then treated as stale.
   */
  public static final int MAX_OUTSTANDING_NONCES = 16;
  /** Store generations a response remembers as the causes of its changes (for convergence metrics). */
  public static final int MAX_CAUSES_PER_RESPONSE = 64;

  /**
   * Shards per resource table. A batch copies only the shards it touches, so with 30,000 listeners and
   * 128 shards one pod change copies ~250 map entries instead of the whole table.
   */
  public static final int TABLE_SHARD_BITS = 7;

  /** Threads that run stream work (request handling, diffing, serialisation): one per core. */
  public static final int STREAM_THREADS = Math.max(2, Runtime.getRuntime().availableProcessors());

  /**
   * How often (at most; only while the store keeps changing) streams that were not pushed to re-anchor
   * what they hold on the current tables. A quiet stream otherwise pins the table of its last push and,
   * with it, old versions of resources that have changed since; this bounds that to about one interval.
   */
  public static final long REANCHOR_INTERVAL_MILLIS = 30_000;

  /** A stream whose reads are throttled (request rate) logs that at most this often. */
  public static final long THROTTLE_LOG_INTERVAL_NANOS = 10_000_000_000L;

  /**
   * Resources whose serialised form is at least this large are kept deflated (pod listeners: ~12 KB with 18
   * service ports, ~12:1), and their wire forms built per send. Smaller ones (shared clusters, endpoints,
   * routes, sent to many streams) keep wire forms built once. See {@link Resource}.
   */
  public static final int COMPACT_ABOVE_BYTES = 4096;

  /** Names listed in one log line before the rest is summarised as a count, to keep lines greppable. */
  public static final int MAX_NAMES_IN_LOG = 10;

  /**
   * Longest NACK message kept (stream status, quarantine entries, Events), in characters. Envoy's messages
   * name the resource and the rule it broke in far less; a client must not make us hold megabytes per entry.
   */
  public static final int MAX_NACK_CHARS = 1024;

  /**
   * Longest resource name a client may subscribe to. Our longest names ({@code pod/{ns}/{pod}/svc/{ns}/{svc}/
   * {port}}, Kubernetes names of at most 63 and 253 characters) stay under 512; a longer name can never exist,
   * so it is ignored (and never echoed back as removed).
   */
  public static final int MAX_RESOURCE_NAME_CHARS = 1024;

  /** Longest {@code node.id} and {@code node_name} accepted (a pod name is at most 253 characters). */
  public static final int MAX_NODE_ID_CHARS = 256;

  /**
   * Bytes of bookkeeping counted per subscribed name on top of its characters (String header, set entry), so
   * the per-address name budget tracks retained heap rather than text length.
   */
  public static final int NAME_OVERHEAD_BYTES = 64;

  /**
   * Warnings a client can provoke on every request (unknown nonce, unknown type URL, malformed request) are
   * logged at most this often per stream; the rest are counted in the next line.
   */
  public static final long BAD_REQUEST_LOG_INTERVAL_MILLIS = 10_000;

  /**
   * Refused streams (limits, authorization, invalid node) and other limits a client can hit (a full quarantine)
   * are logged at most this often over the whole server; a client reconnecting in a loop would otherwise write a
   * line per attempt. Metrics count every occurrence.
   */
  public static final long LIMIT_LOG_INTERVAL_MILLIS = 1_000;
}
