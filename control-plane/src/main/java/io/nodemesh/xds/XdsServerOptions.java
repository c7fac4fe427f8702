package io.nodemesh.xds;

import java.util.Objects;
import java.util.function.Predicate;

/**
 * Security and robustness settings of the ADS server: who may receive what (authorization), per-client
 * limits, and NACK isolation. Immutable; {@link #DEFAULTS} authorizes everyone and limits almost nothing, as a
 * library default and for tests; the application builds its options from its flags.
 *
 * @param authorizer decides which node's view a client receives
 * @param nodePrivateName names that belong to one node's view (per-pod listeners and clusters); with an
 *     enforcing authorizer they are served only through the wildcard view of an authorized node
 * @param maxStreamsPerAddress open streams allowed from one client IP address (0: unlimited)
 * @param loopbackExempt whether loopback peers (the control plane's own pod) skip the per-address limits
 * @param maxSubscribedNames explicitly subscribed names allowed on one stream, over all types (0: unlimited)
 * @param requestsPerSecond sustained request rate per stream before reads are throttled (0: unlimited)
 * @param requestBurst requests a stream may send at once before throttling starts
 * @param isolationMaxProbes subset responses one delta NACK isolation may send before it gives up (0: no
 *     isolation, a NACK only parks the type)
 * @param quarantineMaxPerClient quarantined resources remembered per authorized client
 * @param maxStreams open streams allowed over all clients (0: unlimited)
 * @param firstRequestTimeoutMillis a stream not authorized this long after it opened ends (0: no deadline)
 * @param maxNameBytesPerAddress bytes of explicitly subscribed names (each counted with
 *     {@link XdsTunables#NAME_OVERHEAD_BYTES} of bookkeeping) all streams of one client address may hold
 *     (0: unlimited)
 * @param quarantineMaxTotal quarantined resources remembered over all clients
 * @param quarantineForgetMillis how long the quarantine of a client without a stream is kept
 * @param maxResponseBytes largest response sent: delta pushes are split under it, a SotW response over it (which
 *     cannot be split) is sent with a warning and counted
 */
public record XdsServerOptions(
    ClientAuthorizer authorizer,
    Predicate<String> nodePrivateName,
    int maxStreamsPerAddress,
    boolean loopbackExempt,
    int maxSubscribedNames,
    double requestsPerSecond,
    int requestBurst,
    int isolationMaxProbes,
    int quarantineMaxPerClient,
    int maxStreams,
    long firstRequestTimeoutMillis,
    long maxNameBytesPerAddress,
    int quarantineMaxTotal,
    long quarantineForgetMillis,
    int maxResponseBytes) {

  /**
   * The library default: no name is node-private. The naming scheme is the translator's ({@code
   * ResourceNames::isPerPod}, which the application passes); xds does not depend on the translator, so it does not
   * guess the scheme either.
   */
  public static final Predicate<String> NO_NODE_PRIVATE_NAMES = name -> false;

  /**
   * No authorization, no node-private names, no per-client limits, NACK isolation with 64 probes, a bounded
   * quarantine (256 per client, 10,000 in all, forgotten 10 minutes after a client's last stream closed), 4 MiB
   * responses.
   */
  public static final XdsServerOptions DEFAULTS =
      new XdsServerOptions(ClientAuthorizer.ALLOW_ALL, NO_NODE_PRIVATE_NAMES, 0, true, 0, 0, 0, 64, 256, 0, 0, 0,
          10_000, 10 * 60 * 1000, XdsTunables.DEFAULT_MAX_RESPONSE_BYTES);

  public XdsServerOptions {
    Objects.requireNonNull(authorizer, "authorizer");
    Objects.requireNonNull(nodePrivateName, "nodePrivateName");
    if (maxStreamsPerAddress < 0 || maxSubscribedNames < 0 || requestsPerSecond < 0 || requestBurst < 0
        || isolationMaxProbes < 0 || quarantineMaxPerClient < 0 || maxStreams < 0 || firstRequestTimeoutMillis < 0
        || maxNameBytesPerAddress < 0 || quarantineMaxTotal < 0 || quarantineForgetMillis < 0) {
      throw new IllegalArgumentException("limits must not be negative");
    }
    if (maxResponseBytes < 2 * XdsTunables.RESPONSE_ENVELOPE_BYTES) {
      throw new IllegalArgumentException("maxResponseBytes must leave room for a resource after the envelope");
    }
  }

  public XdsServerOptions withAuthorizer(ClientAuthorizer value) {
    return copy(c -> c.authorizer = value);
  }

  public XdsServerOptions withStreamsPerAddress(int max, boolean exemptLoopback) {
    return copy(c -> {
      c.maxStreamsPerAddress = max;
      c.loopbackExempt = exemptLoopback;
    });
  }

  public XdsServerOptions withMaxSubscribedNames(int max) {
    return copy(c -> c.maxSubscribedNames = max);
  }

  public XdsServerOptions withRequestRate(double perSecond, int burst) {
    return copy(c -> {
      c.requestsPerSecond = perSecond;
      c.requestBurst = burst;
    });
  }

  public XdsServerOptions withIsolation(int maxProbes, int maxQuarantinedPerClient) {
    return copy(c -> {
      c.isolationMaxProbes = maxProbes;
      c.quarantineMaxPerClient = maxQuarantinedPerClient;
    });
  }

  /** At most {@code max} streams in all, each authorized within {@code firstRequestMillis} of opening. */
  public XdsServerOptions withServerLimits(int max, long firstRequestMillis) {
    return copy(c -> {
      c.maxStreams = max;
      c.firstRequestTimeoutMillis = firstRequestMillis;
    });
  }

  public XdsServerOptions withNameBytesPerAddress(long max) {
    return copy(c -> c.maxNameBytesPerAddress = max);
  }

  public XdsServerOptions withQuarantineBounds(int maxTotal, long forgetAfterMillis) {
    return copy(c -> {
      c.quarantineMaxTotal = maxTotal;
      c.quarantineForgetMillis = forgetAfterMillis;
    });
  }

  public XdsServerOptions withNodePrivateName(Predicate<String> value) {
    return copy(c -> c.nodePrivateName = value);
  }

  public XdsServerOptions withMaxResponseBytes(int max) {
    return copy(c -> c.maxResponseBytes = max);
  }

  private XdsServerOptions copy(java.util.function.Consumer<Copy> change) {
    Copy copy = new Copy(this);
    change.accept(copy);
    return copy.build();
  }

  /** The one place a changed copy is built, so each {@code with} names only what it changes. */
  private static final class Copy {
    ClientAuthorizer authorizer;
    Predicate<String> nodePrivateName;
    int maxStreamsPerAddress;
    boolean loopbackExempt;
    int maxSubscribedNames;
    double requestsPerSecond;
    int requestBurst;
    int isolationMaxProbes;
    int quarantineMaxPerClient;
    int maxStreams;
    long firstRequestTimeoutMillis;
    long maxNameBytesPerAddress;
    int quarantineMaxTotal;
    long quarantineForgetMillis;
    int maxResponseBytes;

    Copy(XdsServerOptions from) {
      authorizer = from.authorizer;
      nodePrivateName = from.nodePrivateName;
      maxStreamsPerAddress = from.maxStreamsPerAddress;
      loopbackExempt = from.loopbackExempt;
      maxSubscribedNames = from.maxSubscribedNames;
      requestsPerSecond = from.requestsPerSecond;
      requestBurst = from.requestBurst;
      isolationMaxProbes = from.isolationMaxProbes;
      quarantineMaxPerClient = from.quarantineMaxPerClient;
      maxStreams = from.maxStreams;
      firstRequestTimeoutMillis = from.firstRequestTimeoutMillis;
      maxNameBytesPerAddress = from.maxNameBytesPerAddress;
      quarantineMaxTotal = from.quarantineMaxTotal;
      quarantineForgetMillis = from.quarantineForgetMillis;
      maxResponseBytes = from.maxResponseBytes;
    }

    XdsServerOptions build() {
      return new XdsServerOptions(authorizer, nodePrivateName, maxStreamsPerAddress, loopbackExempt,
          maxSubscribedNames, requestsPerSecond, requestBurst, isolationMaxProbes, quarantineMaxPerClient, maxStreams,
          firstRequestTimeoutMillis, maxNameBytesPerAddress, quarantineMaxTotal, quarantineForgetMillis,
          maxResponseBytes);
    }
  }
}
