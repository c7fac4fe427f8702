package io.nodemesh.app;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableMap;
import io.nodemesh.common.LogLevel;
import io.nodemesh.common.SharedFlags;
import io.nodemesh.flags.Configuration;
import io.nodemesh.flags.Flag;
import io.nodemesh.http.AdminListeners;
import io.nodemesh.http.DebugAuthMode;
import io.nodemesh.k8s.RouteStatusOptions;
import io.nodemesh.k8s.WatcherOptions;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NetnsMode;
import io.nodemesh.security.NodeAuthMode;
import io.nodemesh.translate.PodLimits;
import io.nodemesh.translate.ResourceNames;
import io.nodemesh.translate.TranslatorOptions;
import io.nodemesh.translate.UpstreamBinding;
import io.nodemesh.xds.ClientAuthorizer;
import io.nodemesh.xds.XdsServerOptions;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every configuration knob of the control plane, declared once (ARCHITECTURE.md §8). Flags win over environment
 * variables, which win over defaults. {@code GET /debug/config} and {@code --help} are generated from here.
 */
public final class Settings implements Configuration {

  public static final Flag<Integer> XDS_PORT =
      Flag.integer("xds-port", 15010, 0, 65535, "gRPC port serving ADS (SotW and Delta); 0 picks a free port");
  public static final Flag<Integer> ADMIN_PORT =
      Flag.integer("admin-port", 15014, 0, 65535,
          "HTTP port of /healthz, /readyz and /metrics only, on all addresses (kubelet probes, Prometheus); 0 picks a"
              + " free port");
  public static final Flag<Integer> DEBUG_PORT =
      Flag.integer("debug-port", 15015, 0, 65535,
          "HTTP port of the /debug endpoints (and /healthz, /readyz, /metrics again); 0 picks a free port");
  public static final Flag<String> DEBUG_ADDRESS = SharedFlags.DEBUG_ADDRESS;
  public static final Flag<DebugAuthMode> DEBUG_AUTH = SharedFlags.DEBUG_AUTH;
  public static final Flag<String> DEBUG_TOKEN_FILE = SharedFlags.DEBUG_TOKEN_FILE;
  public static final Flag<Duration> ADMIN_READ_TIMEOUT = SharedFlags.ADMIN_READ_TIMEOUT;
  public static final Flag<Integer> ADMIN_MAX_CONNECTIONS = SharedFlags.ADMIN_MAX_CONNECTIONS;
  public static final Flag<Integer> ADMIN_MAX_CONNECTIONS_PER_ADDRESS = SharedFlags.ADMIN_MAX_CONNECTIONS_PER_ADDRESS;
  public static final Flag<Duration> DEBOUNCE_QUIET =
      Flag.duration("debounce-quiet", WatcherOptions.DEFAULT_DEBOUNCE_QUIET_MS + "ms", Duration.ZERO, "push once the cluster was quiet this long");
  public static final Flag<Duration> DEBOUNCE_MAX =
      Flag.duration("debounce-max", WatcherOptions.DEFAULT_DEBOUNCE_MAX_MS + "ms", Duration.ofMillis(1), "push at the latest this long after the first change");
  public static final Flag<Duration> INFORMER_RESYNC =
      Flag.duration("informer-resync", WatcherOptions.DEFAULT_RESYNC_PERIOD_S + "s", Duration.ZERO,
          "how often informers replay their cache (0 disables); unchanged content emits nothing");
  public static final Flag<Duration> ROUTE_DISCOVERY_INTERVAL =
      Flag.duration("route-discovery-interval", WatcherOptions.DEFAULT_ROUTE_DISCOVERY_S + "s", Duration.ofSeconds(1),
          "how often to look again for HTTPRoute/GRPCRoute while the API server does not serve them or we may not list them");
  public static final Flag<Boolean> MESH_ALL_NAMESPACES = SharedFlags.MESH_ALL_NAMESPACES;
  public static final Flag<NetnsMode> NETNS_MODE = SharedFlags.NETNS_MODE;
  public static final Flag<String> NETNS_TEMPLATE = SharedFlags.NETNS_TEMPLATE;
  public static final Flag<String> NETNS_ALLOWED_PREFIX = SharedFlags.NETNS_ALLOWED_PREFIX;
  public static final Flag<UpstreamBinding> UPSTREAM_BINDING =
      Flag.choice("upstream-binding", UpstreamBinding.SHARED, UpstreamBinding.class,
          "shared: the service layer, a small listener per pod and the catalogue once per node (Envoy >= 1.38); per-pod: a cluster per pod"
              + " and service port (Envoy 1.36)");
  public static final Flag<Integer> BUFFER_LIMIT_BYTES =
      Flag.integer("buffer-limit-bytes", TranslatorOptions.DEFAULT_BUFFER_LIMIT_BYTES, 1024, 64 * 1024 * 1024,
          "per_connection_buffer_limit_bytes of every generated listener and cluster");
  public static final Flag<Integer> SO_MARK = SharedFlags.SO_MARK;
  public static final Flag<Integer> CAPTURE_PORT = SharedFlags.CAPTURE_PORT;
  public static final Flag<String> SERVICE_CIDRS =
      Flag.text("service-cidrs", "",
          "comma list of the cluster's service CIDRs (kube-apiserver --service-cluster-ip-range, e.g."
              + " 10.96.0.0/12,fd00:10:96::/112): a pod listener hands what is addressed to them to the shared service"
              + " layer in one filter chain; empty: every pod listener lists every ClusterIP, so it grows with the"
              + " catalogue and a service add rewrites it");
  public static final Flag<Integer> POD_MAX_CONNECTIONS =
      Flag.integer("pod-max-connections", 0, 0, PodLimits.MAX_VALUE,
          "concurrent outbound connections each pod may hold on its node's Envoy, per filter chain of its listener"
              + " (docs/FAIRNESS.md); also the most a pod's nodemesh.io/max-connections may ask for; 0: no limit");
  public static final Flag<Integer> POD_MAX_CONNECTION_RATE =
      Flag.integer("pod-max-connection-rate", 0, 0, PodLimits.MAX_VALUE,
          "new outbound connections per second each pod may open through its node's Envoy (burst: one second's"
              + " worth); also the most a pod's nodemesh.io/max-connection-rate may ask for; 0: no limit");
  public static final Flag<Integer> POD_MAX_REQUEST_RATE_PER_CONNECTION =
      Flag.integer("pod-max-request-rate-per-connection", 0, 0, PodLimits.MAX_VALUE,
          "HTTP/gRPC requests per second on one connection of a pod to an HTTP service port (excess: 429); with"
              + " --pod-max-connections it bounds one pod's request rate (docs/FAIRNESS.md); 0: no limit");
  public static final Flag<Duration> CONNECT_TIMEOUT =
      Flag.duration("connect-timeout", "5s", Duration.ofMillis(1), "upstream connect timeout of generated clusters");
  public static final Flag<Integer> MAX_MESSAGE_BYTES =
      Flag.integer("max-message-bytes", 4 * 1024 * 1024, 64 * 1024, Integer.MAX_VALUE,
          "largest xDS response sent: delta responses are split, SotW responses over it are logged and counted");
  public static final Flag<Integer> XDS_MAX_REQUEST_BYTES =
      Flag.integer("xds-max-request-bytes", 4 * 1024 * 1024, 64 * 1024, Integer.MAX_VALUE,
          "largest xDS request accepted; a larger one ends its stream with RESOURCE_EXHAUSTED");
  public static final Flag<NodeAuthMode> NODE_AUTH =
      Flag.choice("node-auth", NodeAuthMode.PEER, NodeAuthMode.class,
          "how a client proves the node whose view it gets: peer (remote address is an address of the node or the"
              + " IP of the Envoy pod on it), token (bound service account token, TokenReview), peer-or-token,"
              + " none; clients claiming no node_name get node-independent resources only");
  public static final Flag<Boolean> TRUST_LOOPBACK_CLIENTS =
      Flag.bool("trust-loopback-clients", false,
          "loopback xDS clients (127.0.0.0/8, ::1: the control plane's own pod, the demo, test harnesses) pass the"
              + " peer check for any node and skip the per-address limits; on by default only in the demo");
  public static final Flag<Duration> PROXYLESS_PLACEMENT_WAIT =
      Flag.duration("proxyless-placement-wait", "2s", Duration.ZERO,
          "how long a client that claims no node waits at its first request for the cluster state to show its pod (its"
              + " token's pod, or the pod with its address), so it is served its zone's trafficDistribution variants;"
              + " 0s admits it at once, without a zone if the state does not show it yet; must be shorter than"
              + " --xds-first-request-timeout (the default gives way to half of a shorter one)");
  public static final Flag<Boolean> XDS_ALLOW_ANONYMOUS_CLIENTS =
      Flag.bool("xds-allow-anonymous-clients", false,
          "serve node-independent resources to clients that claim no node_name and present no bearer token;"
              + " off, such clients must authenticate (--node-auth=peer-or-token); on by default only in the demo");
  public static final Flag<String> ENVOY_NAMESPACE =
      Flag.text("envoy-namespace", "nodemesh-system",
          "namespace of the node Envoy pods: the pod a peer address or token is matched to must be in it"
              + " (empty: any namespace)");
  public static final Flag<String> NODE_AUTH_TOKEN_AUDIENCE =
      Flag.text("node-auth-token-audience", "nodemesh",
          "audience bearer tokens must be minted for (TokenReview spec.audiences); empty: the API server's own");
  public static final Flag<String> XDS_TLS_CERT_FILE =
      Flag.text("xds-tls-cert-file", "",
          "PEM certificate chain of the xDS server; with --xds-tls-key-file it switches the xDS port to TLS");
  public static final Flag<String> XDS_TLS_KEY_FILE =
      Flag.text("xds-tls-key-file", "", "PEM private key of the xDS server certificate");
  public static final Flag<String> XDS_TLS_CLIENT_CA_FILE =
      Flag.text("xds-tls-client-ca-file", "",
          "PEM CA bundle: when set, xDS clients must present a certificate that chains to it (mutual TLS)");
  public static final Flag<Duration> XDS_TLS_RELOAD_INTERVAL =
      Flag.duration("xds-tls-reload-interval", "60s", Duration.ofMillis(100),
          "how often the TLS files are checked for changes (a rotated Secret is picked up without a restart)");
  public static final Flag<Integer> XDS_MAX_STREAMS_PER_ADDRESS =
      Flag.integer("xds-max-streams-per-address", 64, 0, Integer.MAX_VALUE,
          "open xDS streams allowed from one client IP address (0: unlimited); more are refused with"
              + " RESOURCE_EXHAUSTED");
  public static final Flag<Integer> XDS_MAX_SUBSCRIBED_NAMES =
      Flag.integer("xds-max-subscribed-names", 100_000, 0, Integer.MAX_VALUE,
          "resource names one stream may subscribe to explicitly, over all types (0: unlimited); beyond it the"
              + " stream ends with RESOURCE_EXHAUSTED");
  public static final Flag<Integer> XDS_MAX_REQUEST_RATE =
      Flag.integer("xds-max-request-rate", 100, 0, Integer.MAX_VALUE,
          "sustained requests per second per stream (0: unlimited); faster clients are read more slowly"
              + " (HTTP/2 flow control pushes back), counted and logged");
  public static final Flag<Integer> XDS_REQUEST_BURST =
      Flag.integer("xds-request-burst", 1000, 1, Integer.MAX_VALUE,
          "requests a stream may send at once before --xds-max-request-rate applies (startup, reconnects)");
  public static final Flag<Integer> XDS_MAX_STREAMS =
      Flag.integer("xds-max-streams", 20_000, 0, Integer.MAX_VALUE,
          "open xDS streams allowed over all clients (0: unlimited); more are refused with RESOURCE_EXHAUSTED");
  public static final Flag<Integer> XDS_MAX_NAME_BYTES_PER_ADDRESS =
      Flag.integer("xds-max-name-bytes-per-address", 16 * 1024 * 1024, 0, Integer.MAX_VALUE,
          "bytes of explicitly subscribed resource names (64 bytes of bookkeeping counted per name) the streams of"
              + " one client address may hold together (0: unlimited); beyond it the stream ends with"
              + " RESOURCE_EXHAUSTED");
  public static final Flag<Duration> XDS_FIRST_REQUEST_TIMEOUT =
      Flag.duration("xds-first-request-timeout", "10s", Duration.ZERO,
          "a stream that sent no first request, or is not authorized, this long after it opened ends with"
              + " DEADLINE_EXCEEDED (0s: no deadline)");
  public static final Flag<Duration> XDS_KEEPALIVE_TIME =
      Flag.duration("xds-keepalive-time", "30s", Duration.ofSeconds(1),
          "the server pings a connection that was quiet this long, and closes it when no answer comes within"
              + " --xds-keepalive-timeout (a node that vanished frees its streams)");
  public static final Flag<Duration> XDS_KEEPALIVE_TIMEOUT =
      Flag.duration("xds-keepalive-timeout", "10s", Duration.ofSeconds(1), "how long a keepalive ping may go unanswered");
  public static final Flag<Duration> XDS_MAX_CONNECTION_AGE =
      Flag.duration("xds-max-connection-age", "30m", Duration.ofSeconds(1),
          "connections are asked to reconnect (GOAWAY) after this long, +-10% jitter, so clients rebalance over"
              + " replicas; delta clients resume with what they hold, so a reconnect resends only changes");
  public static final Flag<Duration> XDS_MAX_CONNECTION_AGE_GRACE =
      Flag.duration("xds-max-connection-age-grace", "10s", Duration.ZERO,
          "after the GOAWAY of --xds-max-connection-age, streams still open this long are closed");
  public static final Flag<Duration> XDS_MAX_CONNECTION_IDLE =
      Flag.duration("xds-max-connection-idle", "5m", Duration.ofSeconds(1),
          "a connection without any stream this long is closed");
  public static final Flag<Integer> XDS_QUARANTINE_MAX_ENTRIES =
      Flag.integer("xds-quarantine-max-entries", 10_000, 0, Integer.MAX_VALUE,
          "NACK isolation: quarantined resources remembered over all clients (each principal at most 256); a full"
              + " quarantine leaves the rejected resource parked instead");
  public static final Flag<Duration> XDS_QUARANTINE_FORGET_AFTER =
      Flag.duration("xds-quarantine-forget-after", "10m", Duration.ZERO,
          "the quarantined resources of a client without a stream are forgotten after this long (checked while"
              + " the configuration changes, at most every 30 s)");
  public static final Flag<Integer> NODE_AUTH_TOKEN_REVIEW_RATE =
      Flag.integer("node-auth-token-review-rate", 2, 1, 10_000,
          "TokenReviews (tokens not in the cache) per second allowed for one client address, with bursts of 10x;"
              + " beyond it the stream ends with UNAVAILABLE so the client retries later");
  public static final Flag<Integer> NODE_AUTH_TOKEN_REVIEW_QUEUE =
      Flag.integer("node-auth-token-review-queue", 1000, 1, 1_000_000,
          "TokenReviews waiting for the API server at most; beyond it a stream ends with UNAVAILABLE");
  public static final Flag<Integer> XDS_NACK_ISOLATION_MAX_PROBES =
      Flag.integer("xds-nack-isolation-max-probes", 64, 0, 10_000,
          "delta NACK isolation: subset responses re-sent to find the rejected resource(s) of one NACK before giving"
              + " up (0: off, a NACK only parks the type)");
  public static final Flag<Boolean> ROUTE_STATUS =
      Flag.bool("route-status", true,
          "write status.parents[] of HTTPRoutes and GRPCRoutes attached to Services (Accepted, ResolvedRefs,"
              + " PartiallyInvalid); only the replica holding the --leader-election-lease Lease writes");
  public static final Flag<String> LEADER_ELECTION_NAMESPACE =
      Flag.text("leader-election-namespace", "nodemesh-system",
          "namespace of the Lease the replicas compete for to write route statuses; when not set, the"
              + " POD_NAMESPACE environment variable (the chart sets it from the downward API) if set");
  public static final Flag<String> LEADER_ELECTION_LEASE =
      Flag.text("leader-election-lease", "nodemesh-route-status",
          "name of that Lease (coordination.k8s.io/v1); the holder's identity is the POD_NAME environment"
              + " variable, else the host name");
  public static final Flag<Duration> LEADER_ELECTION_LEASE_DURATION =
      Flag.duration("leader-election-lease-duration", RouteStatusOptions.DEFAULT_LEASE_DURATION.toSeconds() + "s",
          Duration.ofSeconds(1),
          "how long a route status leader's claim holds without renewal: the longest gap in status writing after"
              + " a leader vanished without releasing it");
  public static final Flag<Duration> LEADER_ELECTION_RENEW_DEADLINE =
      Flag.duration("leader-election-renew-deadline", RouteStatusOptions.DEFAULT_RENEW_DEADLINE.toSeconds() + "s",
          Duration.ofMillis(100), "how long the leader tries to renew before giving leadership up (below the lease"
              + " duration)");
  public static final Flag<Duration> LEADER_ELECTION_RETRY_PERIOD =
      Flag.duration("leader-election-retry-period", RouteStatusOptions.DEFAULT_RETRY_PERIOD.toSeconds() + "s",
          Duration.ofMillis(10), "how often candidates try to take the Lease and the leader renews it (below the"
              + " renew deadline)");
  public static final Flag<LogLevel> LOG_LEVEL = SharedFlags.LOG_LEVEL;

  public static final ImmutableList<Flag<?>> ALL = ImmutableList.of(
      XDS_PORT, ADMIN_PORT, DEBUG_PORT, DEBUG_ADDRESS, DEBUG_AUTH, DEBUG_TOKEN_FILE, ADMIN_READ_TIMEOUT,
      ADMIN_MAX_CONNECTIONS, ADMIN_MAX_CONNECTIONS_PER_ADDRESS, DEBOUNCE_QUIET, DEBOUNCE_MAX, INFORMER_RESYNC, ROUTE_DISCOVERY_INTERVAL, MESH_ALL_NAMESPACES, NETNS_MODE, NETNS_TEMPLATE,
      NETNS_ALLOWED_PREFIX, UPSTREAM_BINDING, SERVICE_CIDRS, BUFFER_LIMIT_BYTES, SO_MARK, CAPTURE_PORT,
      POD_MAX_CONNECTIONS, POD_MAX_CONNECTION_RATE, POD_MAX_REQUEST_RATE_PER_CONNECTION, CONNECT_TIMEOUT,
      MAX_MESSAGE_BYTES, XDS_MAX_REQUEST_BYTES, NODE_AUTH, TRUST_LOOPBACK_CLIENTS, XDS_ALLOW_ANONYMOUS_CLIENTS,
      PROXYLESS_PLACEMENT_WAIT,
      ENVOY_NAMESPACE, NODE_AUTH_TOKEN_AUDIENCE, NODE_AUTH_TOKEN_REVIEW_RATE, NODE_AUTH_TOKEN_REVIEW_QUEUE,
      XDS_TLS_CERT_FILE, XDS_TLS_KEY_FILE, XDS_TLS_CLIENT_CA_FILE, XDS_TLS_RELOAD_INTERVAL,
      XDS_MAX_STREAMS, XDS_MAX_STREAMS_PER_ADDRESS, XDS_MAX_SUBSCRIBED_NAMES, XDS_MAX_NAME_BYTES_PER_ADDRESS,
      XDS_MAX_REQUEST_RATE, XDS_REQUEST_BURST, XDS_FIRST_REQUEST_TIMEOUT, XDS_KEEPALIVE_TIME, XDS_KEEPALIVE_TIMEOUT,
      XDS_MAX_CONNECTION_AGE, XDS_MAX_CONNECTION_AGE_GRACE, XDS_MAX_CONNECTION_IDLE, XDS_NACK_ISOLATION_MAX_PROBES,
      XDS_QUARANTINE_MAX_ENTRIES, XDS_QUARANTINE_FORGET_AFTER, ROUTE_STATUS, LEADER_ELECTION_NAMESPACE,
      LEADER_ELECTION_LEASE, LEADER_ELECTION_LEASE_DURATION, LEADER_ELECTION_RENEW_DEADLINE,
      LEADER_ELECTION_RETRY_PERIOD, LOG_LEVEL);

  private final ImmutableMap<String, String> raw;
  private final ImmutableMap<String, String> sources;

  private Settings(ImmutableMap<String, String> raw, ImmutableMap<String, String> sources) {
    this.raw = raw;
    this.sources = sources;
  }

  /** Defaults only, e.g. for tests. */
  public static Settings defaults() {
    return parse(new String[0], Map.of());
  }

  /**
   * Resolves every flag from {@code --name=value} / {@code --name value} arguments (a bare boolean flag means
   * true), then {@code NODEMESH_*} environment variables, then defaults. Every value is parsed here, so a bad
   * one fails at startup.
   *
   * @throws Flag.UsageException for unknown flags, missing values and values that do not parse
   */
  public static Settings parse(String[] args, Map<String, String> env) {
    return parse(args, env, Map.of(), "default");
  }

  /**
   * As {@link #parse(String[], Map)}, with other defaults for some flags (an application around the control plane,
   * e.g. the demo, whose clients connect over loopback without tokens); {@code source} names them in
   * {@code /debug/config}. A value set explicitly always wins.
   */
  public static Settings parse(String[] args, Map<String, String> env, Map<Flag<?>, String> defaults, String source) {
    Flag.Resolved resolved = Flag.resolve(ALL, args, env);
    Map<String, String> values = new HashMap<>(resolved.values());
    Map<String, String> sources = new HashMap<>(resolved.sources());
    defaults.forEach((flag, value) -> {
      if (sources.get(flag.name()).equals("default")) {
        values.put(flag.name(), value);
        sources.put(flag.name(), source);
      }
    });
    Settings settings = new Settings(ImmutableMap.copyOf(values), ImmutableMap.copyOf(sources));
    ALL.forEach(settings::get);
    settings.meshOptions();
    settings.watcherOptions();
    settings.routeStatusOptions(Map.of(), "nodemesh");
    settings.checkTls();
    settings.adminListeners();
    settings.placementWait();
    return settings;
  }

  /** The probe and debug listeners' settings, checked (a debug port off loopback needs --debug-auth). */
  public AdminListeners.Config adminListeners() {
    return SharedFlags.adminListeners(this, "0.0.0.0", get(ADMIN_PORT), get(DEBUG_PORT));
  }

  private void checkTls() {
    boolean cert = !get(XDS_TLS_CERT_FILE).isEmpty();
    boolean key = !get(XDS_TLS_KEY_FILE).isEmpty();
    if (cert != key) {
      throw new Flag.UsageException("--xds-tls-cert-file and --xds-tls-key-file go together: set both or neither");
    }
    if (!cert && !get(XDS_TLS_CLIENT_CA_FILE).isEmpty()) {
      throw new Flag.UsageException("--xds-tls-client-ca-file needs TLS: set --xds-tls-cert-file and --xds-tls-key-file");
    }
  }

  /** Whether the xDS port serves TLS. */
  public boolean xdsTls() {
    return !get(XDS_TLS_CERT_FILE).isEmpty();
  }

  /** The xDS server's limits and NACK isolation settings, with {@code authorizer}. */
  public XdsServerOptions xdsServerOptions(ClientAuthorizer authorizer) {
    return XdsServerOptions.DEFAULTS
        .withAuthorizer(authorizer)
        .withNodePrivateName(ResourceNames::isPerPod)
        .withStreamsPerAddress(get(XDS_MAX_STREAMS_PER_ADDRESS), get(TRUST_LOOPBACK_CLIENTS))
        .withMaxSubscribedNames(get(XDS_MAX_SUBSCRIBED_NAMES))
        .withRequestRate(get(XDS_MAX_REQUEST_RATE), get(XDS_REQUEST_BURST))
        .withIsolation(get(XDS_NACK_ISOLATION_MAX_PROBES), XdsServerOptions.DEFAULTS.quarantineMaxPerClient())
        .withServerLimits(get(XDS_MAX_STREAMS), get(XDS_FIRST_REQUEST_TIMEOUT).toMillis())
        .withNameBytesPerAddress(get(XDS_MAX_NAME_BYTES_PER_ADDRESS))
        .withQuarantineBounds(get(XDS_QUARANTINE_MAX_ENTRIES), get(XDS_QUARANTINE_FORGET_AFTER).toMillis())
        .withMaxResponseBytes(get(MAX_MESSAGE_BYTES));
  }

  @Override
  public List<Flag<?>> flags() {
    return ALL;
  }

  /** The text value in force for a flag, as given. */
  @Override
  public String text(Flag<?> flag) {
    return raw.get(flag.name());
  }

  /** Where the value came from: "flag", "env NODEMESH_...", or "default". */
  @Override
  public String source(Flag<?> flag) {
    return sources.get(flag.name());
  }

  public MeshOptions meshOptions() {
    return SharedFlags.meshOptions(this);
  }

  public WatcherOptions watcherOptions() {
    try {
      return new WatcherOptions(get(DEBOUNCE_QUIET), get(DEBOUNCE_MAX), get(INFORMER_RESYNC),
          get(ROUTE_DISCOVERY_INTERVAL));
    } catch (IllegalArgumentException e) {
      throw new Flag.UsageException("invalid watcher settings: " + e.getMessage());
    }
  }

  /**
   * The route status writer's Lease and timings; {@code env} supplies POD_NAMESPACE (when the namespace flag is
   * not set) and POD_NAME (the identity, else {@code hostname}).
   */
  public RouteStatusOptions routeStatusOptions(Map<String, String> env, String hostname) {
    String namespace = get(LEADER_ELECTION_NAMESPACE);
    String podNamespace = env.getOrDefault("POD_NAMESPACE", "");
    if (source(LEADER_ELECTION_NAMESPACE).equals("default") && !podNamespace.isEmpty()) {
      namespace = podNamespace;
    }
    String podName = env.getOrDefault("POD_NAME", "");
    String identity = podName.isEmpty() ? hostname : podName;
    try {
      return RouteStatusOptions.of(namespace, get(LEADER_ELECTION_LEASE), identity.isEmpty() ? "nodemesh" : identity)
          .withTimings(get(LEADER_ELECTION_LEASE_DURATION), get(LEADER_ELECTION_RENEW_DEADLINE),
              get(LEADER_ELECTION_RETRY_PERIOD));
    } catch (IllegalArgumentException e) {
      throw new Flag.UsageException("invalid leader election settings: " + e.getMessage());
    }
  }

  /**
   * {@link #PROXYLESS_PLACEMENT_WAIT}, which must end before the first request's deadline would close the stream: a
   * wait set that long is refused; the default gives way to a shorter deadline (half of it).
   */
  public Duration placementWait() {
    Duration wait = get(PROXYLESS_PLACEMENT_WAIT);
    Duration deadline = get(XDS_FIRST_REQUEST_TIMEOUT);
    if (!deadline.isZero() && wait.compareTo(deadline) >= 0) {
      if (source(PROXYLESS_PLACEMENT_WAIT).equals("default")) {
        return deadline.dividedBy(2);
      }
      throw new Flag.UsageException("--proxyless-placement-wait=" + wait.toMillis() + "ms must be shorter than"
          + " --xds-first-request-timeout=" + deadline.toMillis() + "ms, which would close the waiting stream");
    }
    return wait;
  }

  public TranslatorOptions translatorOptions() {
    ImmutableList<String> cidrs = Arrays.stream(get(SERVICE_CIDRS).split(","))
        .map(String::trim).filter(cidr -> !cidr.isEmpty()).collect(ImmutableList.toImmutableList());
    try {
      return new TranslatorOptions(get(UPSTREAM_BINDING), get(BUFFER_LIMIT_BYTES), get(SO_MARK), get(CAPTURE_PORT),
          get(CONNECT_TIMEOUT), cidrs, new PodLimits(get(POD_MAX_CONNECTIONS), get(POD_MAX_CONNECTION_RATE)),
          get(POD_MAX_REQUEST_RATE_PER_CONNECTION));
    } catch (IllegalArgumentException e) {
      throw new Flag.UsageException("--service-cidrs: " + e.getMessage());
    }
  }

  /** The text of {@code --help}: every flag with its environment variable, default and description. */
  public static String help() {
    StringBuilder help = new StringBuilder(
        "Usage: java -jar nodemesh-control-plane.jar [--flag=value ...]\n"
            + "       java -jar nodemesh-control-plane.jar status | config <node>"
            + "   (what each Envoy has: status --help)\n"
            + "The node agent and the demo are jars of their own: nodemesh-node-agent.jar, nodemesh-demo.jar.\n\n"
            + "nodemesh: xDS control plane for node-level Envoy on Kubernetes. Kubernetes access uses fabric8's\n"
            + "auto-configuration (in-cluster service account, KUBECONFIG, KUBERNETES_MASTER).\n\nFlags:\n");
    return help.append(Flag.describe(ALL)).toString();
  }
}
