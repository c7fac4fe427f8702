package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import java.time.Duration;
import java.util.Comparator;
import java.util.Objects;

/**
 * An HTTPRoute or GRPCRoute of the Gateway API's mesh profile (GAMMA): routes attached to Services, as the
 * converter read them. gRPC method matches arrive as path matches ({@code /service/method}), so both kinds
 * share one rule shape. Validated on entry into {@link ClusterState} ({@link RouteValidation}); which parts
 * apply is decided by {@link RouteResolution}.
 *
 * @param creationSeconds the object's creation time (epoch seconds), the first tie-breaker of precedence
 * @param parents the route's parentRefs that name a Service (others belong to other controllers)
 * @param rejected why none of the route can apply (set by validation, which then drops its rules); null if it can
 */
public record MeshRoute(
    Kind kind,
    String namespace,
    String name,
    long generation,
    long creationSeconds,
    ImmutableList<Parent> parents,
    ImmutableList<Rule> rules,
    String rejected) {

  public MeshRoute {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(name, "name");
    parents = parents == null ? ImmutableList.of() : parents;
    rules = rules == null ? ImmutableList.of() : rules;
  }

  /** This route with no rules, refused for {@code reason}. */
  public MeshRoute rejectedFor(String reason) {
    return new MeshRoute(kind, namespace, name, generation, creationSeconds, parents, ImmutableList.of(), reason);
  }

  public Key key() {
    return new Key(kind, new ObjectKey(namespace, name));
  }

  /** The two route kinds of the mesh profile. */
  public enum Kind {
    HTTP_ROUTE("HTTPRoute"),
    GRPC_ROUTE("GRPCRoute");

    private final String kindName;

    Kind(String kindName) {
      this.kindName = kindName;
    }

    /** The Kubernetes kind, e.g. {@code HTTPRoute}. */
    public String kindName() {
      return kindName;
    }
  }

  /** A route's identity: kind, namespace and name (an HTTPRoute and a GRPCRoute may share a name). */
  public record Key(Kind kind, ObjectKey object) implements Comparable<Key> {
    private static final Comparator<Key> ORDER = Comparator.comparing(Key::kind).thenComparing(Key::object);

    @Override
    public int compareTo(Key other) {
      return ORDER.compare(this, other);
    }

    @Override
    public String toString() {
      return kind.kindName() + " " + object;
    }
  }

  /**
   * A parentRef naming a Service.
   *
   * @param port the service port it attaches to, 0 for every port
   * @param sectionName the service port name it attaches to, empty for any
   */
  public record Parent(String namespace, String name, int port, String sectionName) {
    public Parent {
      Objects.requireNonNull(namespace, "namespace");
      Objects.requireNonNull(name, "name");
      sectionName = sectionName == null ? "" : sectionName;
    }

    public ObjectKey service() {
      return new ObjectKey(namespace, name);
    }
  }

  /**
   * One rule: requests matching any of {@code matches} (none: every request) go through {@code filters} to
   * {@code backends}, split by weight.
   *
   * @param requestTimeout the whole request, retries included; null: none
   * @param backendTimeout each attempt at a backend; null: none
   * @param retry null: the mesh's default retry policy
   */
  public record Rule(
      ImmutableList<Match> matches,
      ImmutableList<Filter> filters,
      ImmutableList<Backend> backends,
      Duration requestTimeout,
      Duration backendTimeout,
      Retry retry) {
    public Rule {
      matches = matches == null ? ImmutableList.of() : matches;
      filters = filters == null ? ImmutableList.of() : filters;
      backends = backends == null ? ImmutableList.of() : backends;
    }
  }

  /** How a match compares a value. */
  public enum MatchType { EXACT, PREFIX, REGEX }

  /** A path condition; {@code PREFIX} matches whole segments, as the Gateway API defines it. */
  public record PathMatch(MatchType type, String value) {}

  /** A header or query parameter condition ({@code EXACT} or {@code REGEX}). */
  public record ValueMatch(String name, MatchType type, String value) {}

  /**
   * All conditions of one match; any match of a rule selects it.
   *
   * @param path null: any path
   * @param method empty: any method
   */
  public record Match(PathMatch path, ImmutableList<ValueMatch> headers, String method,
      ImmutableList<ValueMatch> queryParams) {
    public Match {
      headers = headers == null ? ImmutableList.of() : headers;
      queryParams = queryParams == null ? ImmutableList.of() : queryParams;
      method = method == null ? "" : method;
    }
  }

  /** A header name and value. */
  public record Header(String name, String value) {}

  /**
   * A path change: {@code replaceFullPath} or {@code replacePrefixMatch} (exactly one is set).
   */
  public record PathModifier(String replaceFullPath, String replacePrefixMatch) {}

  /** A rule or backend filter. {@link Unsupported} keeps the type of one we do not serve, to report it. */
  public sealed interface Filter permits HeaderModifier, Redirect, UrlRewrite, Mirror, Unsupported {}

  /** Sets, adds or removes request headers (or, with {@code response}, response headers). */
  public record HeaderModifier(boolean response, ImmutableList<Header> set, ImmutableList<Header> add,
      ImmutableList<String> remove) implements Filter {
    public HeaderModifier {
      set = set == null ? ImmutableList.of() : set;
      add = add == null ? ImmutableList.of() : add;
      remove = remove == null ? ImmutableList.of() : remove;
    }
  }

  /**
   * Answers with a redirect instead of forwarding; empty/0/null parts keep the request's.
   *
   * @param statusCode 301, 302, 303, 307 or 308 (the Gateway API's codes)
   */
  public record Redirect(String scheme, String hostname, int port, PathModifier path, int statusCode)
      implements Filter {}

  /** Rewrites host and/or path before forwarding; null/empty parts are left alone. */
  public record UrlRewrite(String hostname, PathModifier path) implements Filter {}

  /** Copies requests to another backend (responses ignored), a share of them given as a fraction. */
  public record Mirror(Backend backend, int numerator, int denominator) implements Filter {}

  /** A filter type nodemesh does not serve (e.g. CORS, ExtensionRef): the rule cannot apply. */
  public record Unsupported(String type) implements Filter {}

  /**
   * A backendRef; {@code group} and {@code kind} as written (empty group and kind Service: a core Service).
   *
   * @param port the service port number; 0 when not given
   */
  public record Backend(String group, String kind, String namespace, String name, int port, int weight) {
    public Backend {
      group = group == null ? "" : group;
      kind = kind == null ? "Service" : kind;
      Objects.requireNonNull(namespace, "namespace");
      Objects.requireNonNull(name, "name");
    }

    public ObjectKey service() {
      return new ObjectKey(namespace, name);
    }
  }

  /**
   * HTTPRoute's retry stanza.
   *
   * @param attempts retries after the first try
   * @param codes HTTP status codes to retry on (empty: the Gateway API's default: connection errors only)
   * @param backoff base interval; null: the proxy's default
   */
  public record Retry(int attempts, ImmutableList<Integer> codes, Duration backoff) {
    public Retry {
      codes = codes == null ? ImmutableList.of() : codes;
    }
  }
}
