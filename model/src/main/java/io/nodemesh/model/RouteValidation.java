package io.nodemesh.model;

import com.google.common.collect.ImmutableList;
import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;
import io.nodemesh.log.SafeText;
import java.time.Duration;
import java.util.List;

/**
 * Bounds and syntax of a route on its way into the model: the Gateway API CRD's own limits (which an API server
 * without the CRD's schema, or an older CRD, may not have enforced), regexes in the dialect the proxies use
 * (RE2), and header names and values a proxy accepts. A route that breaks any is kept without rules and with
 * the reason, so its status can say why; it routes nothing.
 */
public final class RouteValidation {

  /** The CRD's limits (gateway.networking.k8s.io/v1, standard channel). */
  public static final int MAX_PARENTS = 32;
  public static final int MAX_RULES = 16;
  public static final int MAX_MATCHES = 64;
  public static final int MAX_FILTERS = 16;
  public static final int MAX_BACKENDS = 16;
  public static final int MAX_HEADERS = 16;
  static final int MAX_WEIGHT = 1_000_000;
  /** Paths and regexes; the CRD allows 1024 for paths. Envoy's RE2 program size limit bounds regexes further. */
  static final int MAX_VALUE_LENGTH = 1024;
  static final int MAX_HEADER_VALUE_LENGTH = 4096;
  static final int MAX_RETRY_ATTEMPTS = 10;
  /** The redirect codes of the Gateway API (301, 302 core; 303, 307, 308 extended), all of which Envoy sends. */
  static final List<Integer> REDIRECT_CODES = List.of(301, 302, 303, 307, 308);
  /** Retry codes: the CRD leaves them unbounded; every 4xx/5xx code once is plenty. */
  public static final int MAX_RETRY_CODES = 200;
  static final int MAX_PERCENT_DENOMINATOR = 1_000_000;
  /** RFC 7230 token characters: what a header name may hold. */
  private static final java.util.regex.Pattern HEADER_NAME =
      java.util.regex.Pattern.compile("[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}");

  private RouteValidation() {}

  /** The route as the model keeps it: itself when valid, else {@link MeshRoute#rejectedFor} the first problem. */
  public static MeshRoute validate(MeshRoute route) {
    String problem = problem(route);
    return problem == null ? route : route.rejectedFor(SafeText.printable(problem, 200));
  }

  static String problem(MeshRoute route) {
    if (route.rejected() != null) {
      return route.rejected();
    }
    String bound = firstNonNull(
        tooMany("parentRefs", route.parents(), MAX_PARENTS), tooMany("rules", route.rules(), MAX_RULES));
    if (bound != null) {
      return bound;
    }
    for (int i = 0; i < route.rules().size(); i++) {
      String problem = ruleProblem(route.rules().get(i));
      if (problem != null) {
        return "rule " + i + ": " + problem;
      }
    }
    return null;
  }

  private static String ruleProblem(MeshRoute.Rule rule) {
    String bound = firstNonNull(tooMany("matches", rule.matches(), MAX_MATCHES),
        tooMany("filters", rule.filters(), MAX_FILTERS), tooMany("backendRefs", rule.backends(), MAX_BACKENDS));
    if (bound != null) {
      return bound;
    }
    for (MeshRoute.Match match : rule.matches()) {
      String problem = matchProblem(match);
      if (problem != null) {
        return problem;
      }
    }
    for (MeshRoute.Filter filter : rule.filters()) {
      String problem = filterProblem(filter);
      if (problem != null) {
        return problem;
      }
    }
    for (MeshRoute.Backend backend : rule.backends()) {
      String problem = backendProblem(backend);
      if (problem != null) {
        return problem;
      }
    }
    if (rule.retry() != null) {
      if (rule.retry().attempts() < 0 || rule.retry().attempts() > MAX_RETRY_ATTEMPTS) {
        return "retry attempts must be 0-" + MAX_RETRY_ATTEMPTS;
      }
      if (rule.retry().codes().size() > MAX_RETRY_CODES) {
        return "more than " + MAX_RETRY_CODES + " retry codes";
      }
      for (int code : rule.retry().codes()) {
        if (code < 400 || code > 599) {
          return "retry code " + code + " is not 400-599";
        }
      }
    }
    if (negative(rule.requestTimeout()) || negative(rule.backendTimeout())
        || rule.retry() != null && negative(rule.retry().backoff())) {
      return "a timeout or retry backoff is negative";
    }
    return null;
  }

  private static String matchProblem(MeshRoute.Match match) {
    String bound = firstNonNull(tooMany("header matches", match.headers(), MAX_HEADERS),
        tooMany("query matches", match.queryParams(), MAX_HEADERS));
    if (bound != null) {
      return bound;
    }
    if (match.path() != null) {
      MeshRoute.PathMatch path = match.path();
      String problem = valueProblem("path", path.type(), path.value(), MAX_VALUE_LENGTH);
      if (problem != null) {
        return problem;
      }
      if (path.type() != MeshRoute.MatchType.REGEX && !path.value().startsWith("/")) {
        return "path " + quote(path.value()) + " does not start with /";
      }
    }
    if (!match.method().isEmpty() && !match.method().matches("[A-Z]{1,16}")) {
      return "method " + quote(match.method()) + " is not an HTTP method";
    }
    for (MeshRoute.ValueMatch header : match.headers()) {
      String problem = headerNameProblem(header.name());
      if (problem == null) {
        problem = valueProblem("header " + header.name(), header.type(), header.value(), MAX_HEADER_VALUE_LENGTH);
      }
      if (problem != null) {
        return problem;
      }
    }
    for (MeshRoute.ValueMatch query : match.queryParams()) {
      if (query.name() == null || query.name().isEmpty() || query.name().length() > 256) {
        return "query parameter name must be 1-256 characters";
      }
      String problem = valueProblem("query " + query.name(), query.type(), query.value(), MAX_HEADER_VALUE_LENGTH);
      if (problem != null) {
        return problem;
      }
    }
    return null;
  }

  private static String filterProblem(MeshRoute.Filter filter) {
    if (filter instanceof MeshRoute.HeaderModifier modifier) {
      if (modifier.set().size() + modifier.add().size() + modifier.remove().size() > MAX_HEADERS * 3) {
        return "a header modifier has more than " + MAX_HEADERS + " entries per list";
      }
      for (MeshRoute.Header header : concat(modifier.set(), modifier.add())) {
        String problem = headerNameProblem(header.name());
        if (problem != null) {
          return problem;
        }
        if (header.value() == null || header.value().length() > MAX_HEADER_VALUE_LENGTH
            || !header.value().chars().allMatch(c -> c >= 0x20 && c != 0x7f || c == '\t')) {
          return "header " + header.name() + " has a value that is too long or not printable";
        }
      }
      for (String name : modifier.remove()) {
        String problem = headerNameProblem(name);
        if (problem != null) {
          return problem;
        }
      }
    } else if (filter instanceof MeshRoute.Redirect redirect) {
      if (!REDIRECT_CODES.contains(redirect.statusCode())) {
        return "redirect status " + redirect.statusCode() + " is not one of " + REDIRECT_CODES;
      }
      if (redirect.scheme() != null && !redirect.scheme().isEmpty() && !redirect.scheme().matches("https?")) {
        return "redirect scheme must be http or https";
      }
      if (redirect.port() < 0 || redirect.port() > 65535) {
        return "redirect port out of range";
      }
      return firstNonNull(hostnameProblem(redirect.hostname()), pathModifierProblem(redirect.path()));
    } else if (filter instanceof MeshRoute.UrlRewrite rewrite) {
      return firstNonNull(hostnameProblem(rewrite.hostname()), pathModifierProblem(rewrite.path()));
    } else if (filter instanceof MeshRoute.Mirror mirror) {
      if (mirror.denominator() < 1 || mirror.denominator() > MAX_PERCENT_DENOMINATOR || mirror.numerator() < 0
          || mirror.numerator() > mirror.denominator()) {
        return "mirror fraction must be 0-1 with a denominator of 1-" + MAX_PERCENT_DENOMINATOR;
      }
      return backendProblem(mirror.backend());
    } else if (filter instanceof MeshRoute.Unsupported unsupported) {
      if (unsupported.type() == null || unsupported.type().length() > 64) {
        return "a filter type is missing or too long";
      }
    }
    return null;
  }

  private static String backendProblem(MeshRoute.Backend backend) {
    if (backend.weight() < 0 || backend.weight() > MAX_WEIGHT) {
      return "backendRef weight " + backend.weight() + " is not 0-" + MAX_WEIGHT;
    }
    if (backend.port() < 0 || backend.port() > 65535) {
      return "backendRef port out of range";
    }
    if (backend.name().isEmpty() || backend.name().length() > 253 || backend.namespace().length() > 63
        || backend.group().length() > 253 || backend.kind().length() > 63) {
      return "backendRef name, namespace, group or kind is empty or too long";
    }
    return null;
  }

  private static String pathModifierProblem(MeshRoute.PathModifier path) {
    if (path == null) {
      return null;
    }
    String value = path.replaceFullPath() != null ? path.replaceFullPath() : path.replacePrefixMatch();
    if (value == null || (path.replaceFullPath() != null && path.replacePrefixMatch() != null)) {
      return "a path modifier needs exactly one of replaceFullPath and replacePrefixMatch";
    }
    if (!value.startsWith("/") || value.length() > MAX_VALUE_LENGTH || !value.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      return "path modifier " + quote(value) + " is not an absolute, printable path";
    }
    return null;
  }

  private static String hostnameProblem(String hostname) {
    if (hostname == null || hostname.isEmpty()) {
      return null;
    }
    return ModelValidation.subdomainProblem("hostname " + quote(hostname), hostname);
  }

  private static String valueProblem(String what, MeshRoute.MatchType type, String value, int maxLength) {
    if (value == null || value.length() > maxLength) {
      return what + " value is missing or longer than " + maxLength;
    }
    if (type == MeshRoute.MatchType.REGEX) {
      if (value.isEmpty()) {
        return what + " regex is empty";
      }
      try {
        Pattern.compile(value);
      } catch (PatternSyntaxException e) {
        return what + " regex " + quote(value) + " is not RE2 syntax";
      }
    } else if (!value.chars().allMatch(c -> c >= 0x20 && c != 0x7f || c == '\t')) {
      return what + " value is not printable";
    }
    return null;
  }

  private static String headerNameProblem(String name) {
    return name != null && HEADER_NAME.matcher(name).matches() ? null : "header name " + quote(name) + " is not a token";
  }

  private static boolean negative(Duration duration) {
    return duration != null && duration.isNegative();
  }

  private static String tooMany(String what, List<?> list, int max) {
    return list.size() > max ? "more than " + max + " " + what + " (" + list.size() + ")" : null;
  }

  private static <T> List<T> concat(List<T> a, List<T> b) {
    return ImmutableList.<T>builder().addAll(a).addAll(b).build();
  }

  private static String quote(String value) {
    return "'" + SafeText.printable(value, 40) + "'";
  }

  @SafeVarargs
  private static <T> T firstNonNull(T... values) {
    for (T value : values) {
      if (value != null) {
        return value;
      }
    }
    return null;
  }
}
