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
    long quarantineForgetMillis) {

  /** The names the translator gives per-pod resources (DESIGN §5): {@code pod/{ns}/{pod}/...}. */
  public static final Predicate<String> PER_POD_NAMES = name -> name.startsWith("pod/");

  /**
   * No authorization, no per-client limits, NACK isolation with 64 probes, a bounded quarantine (256 per
   * client, 10,000 in all, forgotten 10 minutes after a client's last stream closed).
   */
  public static final XdsServerOptions DEFAULTS =
      new XdsServerOptions(ClientAuthorizer.ALLOW_ALL, PER_POD_NAMES, 0, true, 0, 0, 0, 64, 256, 0, 0, 0, 10_000,
          10 * 60 * 1000);

  public XdsServerOptions {
    Objects.requireNonNull(authorizer, "authorizer");
    Objects.requireNonNull(nodePrivateName, "nodePrivateName");
    if (maxStreamsPerAddress < 0 || maxSubscribedNames < 0 || requestsPerSecond < 0 || requestBurst < 0
        || isolationMaxProbes < 0 || quarantineMaxPerClient < 0 || maxStreams < 0 || firstRequestTimeoutMillis < 0
        || maxNameBytesPerAddress < 0 || quarantineMaxTotal < 0 || quarantineForgetMillis < 0) {
      throw new IllegalArgumentException("limits must not be negative");
    }
  }

  public XdsServerOptions withAuthorizer(ClientAuthorizer value) {
    return new XdsServerOptions(value, nodePrivateName, maxStreamsPerAddress, loopbackExempt, maxSubscribedNames,
        requestsPerSecond, requestBurst, isolationMaxProbes, quarantineMaxPerClient, maxStreams,
        firstRequestTimeoutMillis, maxNameBytesPerAddress, quarantineMaxTotal, quarantineForgetMillis);
  }

  public XdsServerOptions withStreamsPerAddress(int max, boolean exemptLoopback) {
    return new XdsServerOptions(authorizer, nodePrivateName, max, exemptLoopback, maxSubscribedNames,
        requestsPerSecond, requestBurst, isolationMaxProbes, quarantineMaxPerClient, maxStreams,
        firstRequestTimeoutMillis, maxNameBytesPerAddress, quarantineMaxTotal, quarantineForgetMillis);
  }

  public XdsServerOptions withMaxSubscribedNames(int max) {
    return new XdsServerOptions(authorizer, nodePrivateName, maxStreamsPerAddress, loopbackExempt, max,
        requestsPerSecond, requestBurst, isolationMaxProbes, quarantineMaxPerClient, maxStreams,
        firstRequestTimeoutMillis, maxNameBytesPerAddress, quarantineMaxTotal, quarantineForgetMillis);
  }

  public XdsServerOptions withRequestRate(double perSecond, int burst) {
    return new XdsServerOptions(authorizer, nodePrivateName, maxStreamsPerAddress, loopbackExempt,
        maxSubscribedNames, perSecond, burst, isolationMaxProbes, quarantineMaxPerClient, maxStreams,
        firstRequestTimeoutMillis, maxNameBytesPerAddress, quarantineMaxTotal, quarantineForgetMillis);
  }

  public XdsServerOptions withIsolation(int maxProbes, int maxQuarantinedPerClient) {
    return new XdsServerOptions(authorizer, nodePrivateName, maxStreamsPerAddress, loopbackExempt,
        maxSubscribedNames, requestsPerSecond, requestBurst, maxProbes, maxQuarantinedPerClient, maxStreams,
        firstRequestTimeoutMillis, maxNameBytesPerAddress, quarantineMaxTotal, quarantineForgetMillis);
  }

  /** At most {@code max} streams in all, each authorized within {@code firstRequestMillis} of opening. */
  public XdsServerOptions withServerLimits(int max, long firstRequestMillis) {
    return new XdsServerOptions(authorizer, nodePrivateName, maxStreamsPerAddress, loopbackExempt,
        maxSubscribedNames, requestsPerSecond, requestBurst, isolationMaxProbes, quarantineMaxPerClient, max,
        firstRequestMillis, maxNameBytesPerAddress, quarantineMaxTotal, quarantineForgetMillis);
  }

  public XdsServerOptions withNameBytesPerAddress(long max) {
    return new XdsServerOptions(authorizer, nodePrivateName, maxStreamsPerAddress, loopbackExempt,
        maxSubscribedNames, requestsPerSecond, requestBurst, isolationMaxProbes, quarantineMaxPerClient, maxStreams,
        firstRequestTimeoutMillis, max, quarantineMaxTotal, quarantineForgetMillis);
  }

  public XdsServerOptions withQuarantineBounds(int maxTotal, long forgetAfterMillis) {
    return new XdsServerOptions(authorizer, nodePrivateName, maxStreamsPerAddress, loopbackExempt,
        maxSubscribedNames, requestsPerSecond, requestBurst, isolationMaxProbes, quarantineMaxPerClient, maxStreams,
        firstRequestTimeoutMillis, maxNameBytesPerAddress, maxTotal, forgetAfterMillis);
  }
}
