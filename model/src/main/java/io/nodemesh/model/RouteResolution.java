package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import io.nodemesh.log.SafeText;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Which routes apply to which service port and in what order, and the status each route earns, by the Gateway
 * API's rules: one pure function of a {@link ClusterState}, so the translator and the status writer cannot
 * disagree. A rule that cannot apply is dropped (the rest of its route still applies, reported as
 * {@code PartiallyInvalid}); a backend that does not resolve keeps its share of the traffic, which then fails
 * (the spec's 500), and is reported in {@code ResolvedRefs}.
 */
public final class RouteResolution {

  /** The name this controller writes into {@code status.parents[].controllerName}. */
  public static final String CONTROLLER_NAME = "nodemesh.io/mesh-controller";

  /** A status condition of one parent of a route. */
  public record Condition(String type, boolean status, String reason, String message) {}

  /** The conditions of one parentRef (a Service) of a route. */
  public record ParentStatus(MeshRoute.Parent parent, ImmutableList<Condition> conditions) {

    /** The condition of {@code type}, if set. */
    public Optional<Condition> condition(String type) {
      return conditions.stream().filter(c -> c.type().equals(type)).findFirst();
    }
  }

  /** A backend of a rule and whether it resolved to a port of a Service the route may use. */
  public record Target(MeshRoute.Backend backend, boolean resolved) {}

  /**
   * One (rule, match) pair attached to a service port, in the port's precedence order.
   *
   * @param match null: the rule has no matches (every request)
   * @param backends the rule's backends in order, weight 0 included (they get no traffic)
   * @param mirrors the rule's mirror filters whose backend resolved
   */
  public record Entry(MeshRoute route, int ruleIndex, MeshRoute.Match match, MeshRoute.Rule rule,
      ImmutableList<Target> backends, ImmutableList<MeshRoute.Mirror> mirrors) {}

  private static final Comparator<Entry> PRECEDENCE = Comparator
      .comparingInt((Entry e) -> pathRank(e.match()))
      .thenComparing(e -> -pathLength(e.match()))
      .thenComparing(e -> e.match() == null || e.match().method().isEmpty())
      .thenComparing(e -> -(e.match() == null ? 0 : e.match().headers().size()))
      .thenComparing(e -> -(e.match() == null ? 0 : e.match().queryParams().size()))
      .thenComparingLong(e -> e.route().creationSeconds())
      .thenComparing(e -> e.route().namespace() + "/" + e.route().name())
      .thenComparing(e -> e.route().kind())
      .thenComparingInt(Entry::ruleIndex); // then the order of matches in the rule: the sort is stable

  private RouteResolution() {}

  /**
   * The entries attached to {@code port} of {@code service}, highest precedence first; empty when no route
   * attaches (the port keeps its default route). The caller decides the port carries HTTP.
   */
  public static ImmutableList<Entry> entriesFor(ClusterState state, ServiceInfo service, ServicePort port) {
    List<Entry> entries = new ArrayList<>();
    for (MeshRoute route : state.routesAttachedTo(service.key())) {
      if (route.rejected() != null || !route.namespace().equals(service.namespace())) {
        continue;
      }
      boolean attached = route.parents().stream()
          .anyMatch(parent -> parent.service().equals(service.key()) && selects(parent, port));
      if (!attached) {
        continue;
      }
      for (int i = 0; i < route.rules().size(); i++) {
        MeshRoute.Rule rule = route.rules().get(i);
        if (ruleProblem(rule) != null) {
          continue;
        }
        ImmutableList<Target> targets = rule.backends().stream()
            .map(backend -> new Target(backend, backendProblem(state, route, backend) == null))
            .collect(ImmutableList.toImmutableList());
        ImmutableList<MeshRoute.Mirror> mirrors = rule.filters().stream()
            .filter(MeshRoute.Mirror.class::isInstance).map(MeshRoute.Mirror.class::cast)
            .filter(mirror -> backendProblem(state, route, mirror.backend()) == null)
            .collect(ImmutableList.toImmutableList());
        if (rule.matches().isEmpty()) {
          entries.add(new Entry(route, i, null, rule, targets, mirrors));
        }
        for (MeshRoute.Match match : rule.matches()) {
          entries.add(new Entry(route, i, match, rule, targets, mirrors));
        }
      }
    }
    entries.sort(PRECEDENCE);
    return ImmutableList.copyOf(entries);
  }

  /**
   * Every route's status per Service parentRef. {@code httpPort} says which service ports carry HTTP (routes
   * attach only there); the translator uses the same rule.
   */
  public static ImmutableSortedMap<MeshRoute.Key, ImmutableList<ParentStatus>> statuses(
      ClusterState state, Predicate<ServicePort> httpPort) {
    TreeMap<MeshRoute.Key, ImmutableList<ParentStatus>> statuses = new TreeMap<>();
    for (MeshRoute route : state.routes().values()) {
      ImmutableList.Builder<ParentStatus> parents = ImmutableList.builder();
      for (MeshRoute.Parent parent : route.parents()) {
        parents.add(new ParentStatus(parent, conditions(state, route, parent, httpPort)));
      }
      statuses.put(route.key(), parents.build());
    }
    return ImmutableSortedMap.copyOfSorted(statuses);
  }

  private static ImmutableList<Condition> conditions(
      ClusterState state, MeshRoute route, MeshRoute.Parent parent, Predicate<ServicePort> httpPort) {
    String notAccepted = null;
    String reason = "Accepted";
    Optional<ServiceInfo> service = state.service(parent.service());
    if (route.rejected() != null) {
      reason = "UnsupportedValue";
      notAccepted = route.rejected();
    } else if (!parent.namespace().equals(route.namespace())) {
      reason = "UnsupportedValue";
      notAccepted = "consumer routes (a route in another namespace than its Service) are not supported";
    } else if (service.isEmpty() || service.get().headless()) {
      reason = "NoMatchingParent";
      notAccepted = service.isEmpty() ? "Service " + parent.service() + " does not exist"
          : "Service " + parent.service() + " is headless (no cluster IP to route)";
    } else {
      List<ServicePort> selected = service.get().ports().stream().filter(p -> selects(parent, p)).toList();
      if (selected.isEmpty()) {
        reason = "NoMatchingParent";
        notAccepted = "Service " + parent.service() + " has no port " + describe(parent);
      } else if (selected.stream().noneMatch(httpPort)) {
        reason = "UnsupportedValue";
        notAccepted = "port " + describe(parent) + " of Service " + parent.service()
            + " is not HTTP or gRPC (set appProtocol: http, http2 or grpc, or name it http-*, http2-*, grpc-*)";
      }
    }
    List<String> droppedRules = new ArrayList<>();
    String unresolved = null;
    String unresolvedReason = "ResolvedRefs";
    for (int i = 0; i < route.rules().size(); i++) {
      MeshRoute.Rule rule = route.rules().get(i);
      String problem = ruleProblem(rule);
      if (problem != null) {
        droppedRules.add("rule " + i + ": " + problem);
        continue;
      }
      List<MeshRoute.Backend> backends = new ArrayList<>(rule.backends());
      rule.filters().stream().filter(MeshRoute.Mirror.class::isInstance)
          .forEach(mirror -> backends.add(((MeshRoute.Mirror) mirror).backend()));
      for (MeshRoute.Backend backend : backends) {
        BackendProblem backendProblem = backendProblem(state, route, backend);
        if (backendProblem != null && unresolved == null) {
          unresolved = "rule " + i + ": " + backendProblem.message();
          unresolvedReason = backendProblem.reason();
        }
      }
    }
    if (notAccepted == null && !route.rules().isEmpty() && droppedRules.size() == route.rules().size()) {
      reason = "UnsupportedValue";
      notAccepted = "no rule can apply: " + droppedRules.get(0);
    }
    ImmutableList.Builder<Condition> conditions = ImmutableList.builder();
    conditions.add(new Condition("Accepted", notAccepted == null, reason,
        clean(notAccepted == null ? "attached to Service " + parent.service() : notAccepted)));
    conditions.add(new Condition("ResolvedRefs", unresolved == null, unresolvedReason,
        clean(unresolved == null ? "all backendRefs resolved" : unresolved)));
    if (notAccepted == null && !droppedRules.isEmpty()) {
      conditions.add(new Condition("PartiallyInvalid", true, "UnsupportedValue",
          clean(droppedRules.size() + " rule(s) dropped: " + String.join("; ", droppedRules))));
    }
    return conditions.build();
  }

  /** Why a (validated) rule cannot apply, or null: a filter we do not serve, or filters that exclude each other. */
  static String ruleProblem(MeshRoute.Rule rule) {
    boolean redirect = false;
    boolean rewrite = false;
    for (MeshRoute.Filter filter : rule.filters()) {
      if (filter instanceof MeshRoute.Unsupported unsupported) {
        return "filter " + SafeText.printable(unsupported.type(), 40) + " is not supported";
      }
      redirect |= filter instanceof MeshRoute.Redirect;
      rewrite |= filter instanceof MeshRoute.UrlRewrite;
    }
    if (redirect && rewrite) {
      return "RequestRedirect and URLRewrite cannot be combined";
    }
    if (redirect && !rule.backends().isEmpty()) {
      return "RequestRedirect with backendRefs: a redirect forwards nothing";
    }
    boolean prefixRewrite = rule.filters().stream().anyMatch(filter ->
        filter instanceof MeshRoute.Redirect r && r.path() != null && r.path().replacePrefixMatch() != null
            || filter instanceof MeshRoute.UrlRewrite u && u.path() != null && u.path().replacePrefixMatch() != null);
    boolean prefixMatchesOnly = rule.matches().stream()
        .allMatch(m -> m.path() == null || m.path().type() == MeshRoute.MatchType.PREFIX);
    if (prefixRewrite && !prefixMatchesOnly) {
      return "replacePrefixMatch needs PathPrefix matches only";
    }
    long redirects = rule.filters().stream().filter(MeshRoute.Redirect.class::isInstance).count();
    long rewrites = rule.filters().stream().filter(MeshRoute.UrlRewrite.class::isInstance).count();
    if (redirects > 1 || rewrites > 1) {
      return "a rule may hold at most one RequestRedirect and one URLRewrite";
    }
    return null;
  }

  private record BackendProblem(String reason, String message) {}

  private static BackendProblem backendProblem(ClusterState state, MeshRoute route, MeshRoute.Backend backend) {
    String ref = backend.namespace() + "/" + backend.name() + ":" + backend.port();
    if (!(backend.group().isEmpty() || backend.group().equals("core")) || !backend.kind().equals("Service")) {
      return new BackendProblem("InvalidKind", "backendRef " + ref + " is not a core Service");
    }
    if (!backend.namespace().equals(route.namespace())) {
      return new BackendProblem("RefNotPermitted", "backendRef " + ref
          + " is in another namespace (ReferenceGrant is not supported: such references are refused)");
    }
    if (backend.port() == 0) {
      return new BackendProblem("BackendNotFound", "backendRef " + ref + " has no port");
    }
    Optional<ServiceInfo> service = state.service(backend.service());
    if (service.isEmpty() || service.get().headless()
        || service.get().ports().stream().noneMatch(p -> p.port() == backend.port() && p.protocol() == Protocol.TCP)) {
      return new BackendProblem("BackendNotFound", "backendRef " + ref + " is not a TCP port of a Service with a cluster IP");
    }
    return null;
  }

  private static boolean selects(MeshRoute.Parent parent, ServicePort port) {
    return (parent.port() == 0 || parent.port() == port.port())
        && (parent.sectionName().isEmpty() || parent.sectionName().equals(port.name()));
  }

  private static String describe(MeshRoute.Parent parent) {
    if (parent.sectionName().isEmpty()) {
      return parent.port() == 0 ? "(any)" : Integer.toString(parent.port());
    }
    return parent.sectionName() + (parent.port() == 0 ? "" : ":" + parent.port());
  }

  private static String clean(String message) {
    return SafeText.printable(message, 1024);
  }

  /** Exact paths first, then regexes, then prefixes; no path is the prefix "/". */
  private static int pathRank(MeshRoute.Match match) {
    if (match == null || match.path() == null) {
      return 2;
    }
    return switch (match.path().type()) {
      case EXACT -> 0;
      case REGEX -> 1;
      case PREFIX -> 2;
    };
  }

  private static int pathLength(MeshRoute.Match match) {
    return match == null || match.path() == null ? 1 : match.path().value().length();
  }
}
