package io.nodemesh.bench;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.WatchEvent;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.nodemesh.e2e.RestartableCrudDispatcher;
import io.fabric8.mockwebserver.crud.Attribute;
import io.fabric8.mockwebserver.crud.AttributeSet;
import io.fabric8.mockwebserver.crud.AttributeType;
import io.fabric8.mockwebserver.crud.CrudDispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.lang.reflect.Field;
import java.net.InetAddress;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.AbstractMap;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.ReadWriteLock;

/**
 * fabric8's CRUD mock API server (the one the e2e {@code MockKubernetes} runs) with an index by object name.
 * The stock dispatcher finds the object of a create, update, get or delete by scanning every stored object, so
 * seeding 30,000 pods is quadratic (minutes) and each write during churn costs milliseconds of scanning that would
 * land in the measured latency. Same storage, same watch events, same responses; only single-object lookups
 * consult the index. Lists and watches go through the stock code.
 */
final class FastMockKubernetes implements AutoCloseable {

  /** The mock logs every request at INFO: noise and cost at thousands of writes (a strong ref: JUL keeps weak ones). */
  private static final java.util.logging.Logger MOCK_LOG = java.util.logging.Logger.getLogger("io.fabric8.mockwebserver");

  static {
    MOCK_LOG.setLevel(java.util.logging.Level.WARNING);
  }

  private final KubernetesMockServer server;
  private final IndexedCrudDispatcher dispatcher;

  private FastMockKubernetes(KubernetesMockServer server, IndexedCrudDispatcher dispatcher) {
    this.server = server;
    this.dispatcher = dispatcher;
  }

  static FastMockKubernetes start() {
    return serve(new IndexedCrudDispatcher(), 0);
  }

  private static FastMockKubernetes serve(IndexedCrudDispatcher dispatcher, int port) {
    KubernetesMockServer server = new KubernetesMockServer(
        new Context(), new MockWebServer(), new HashMap<>(), dispatcher, false);
    server.init(InetAddress.getLoopbackAddress(), port);
    return new FastMockKubernetes(server, dispatcher);
  }

  /**
   * Stops serving here and serves the same stored objects on {@code port} (0: any free one) instead, answering
   * the first watch per resource with 410 Gone: an API server restart, as in the e2e {@code MockKubernetes}.
   * This instance is closed afterwards.
   */
  FastMockKubernetes moveTo(int port) {
    close();
    dispatcher.expireWatches();
    return serve(dispatcher, port);
  }

  int port() {
    return server.getPort();
  }

  /**
   * A client for bulk writes: the mock's own client allows only a few requests in flight per host. It does not
   * retry on its own, so a caller sees (and counts) a write that failed because the API server was away.
   */
  static KubernetesClient bulkClient(String url) {
    Config config = new ConfigBuilder(Config.empty())
        .withMasterUrl(url)
        .withTrustCerts(true)
        .withNamespace("default")
        .withMaxConcurrentRequests(64)
        .withMaxConcurrentRequestsPerHost(64)
        .withRequestTimeout(120_000)
        .withRequestRetryBackoffLimit(0)
        .build();
    return new KubernetesClientBuilder().withConfig(config).build();
  }

  /** The URL for {@code KUBERNETES_MASTER}. */
  String url() {
    try (var client = server.createClient()) {
      return client.getMasterUrl().toString();
    }
  }

  @Override
  public void close() {
    server.destroy();
  }

  /** The stored objects, indexed by the value of their {@code name} attribute. Guarded by itself. */
  private static final class IndexedMap extends LinkedHashMap<AttributeSet, String> {
    private final Map<String, Set<AttributeSet>> byName = new HashMap<>();

    @Override
    public synchronized String put(AttributeSet key, String value) {
      String name = nameOf(key);
      if (name != null) {
        byName.computeIfAbsent(name, n -> new LinkedHashSet<>()).add(key);
      }
      return super.put(key, value);
    }

    @Override
    public synchronized String remove(Object key) {
      if (key instanceof AttributeSet attributes) {
        String name = nameOf(attributes);
        Set<AttributeSet> keys = name == null ? null : byName.get(name);
        if (keys != null) {
          keys.remove(attributes);
          if (keys.isEmpty()) {
            byName.remove(name);
          }
        }
      }
      return super.remove(key);
    }

    @Override
    public synchronized String get(Object key) {
      return super.get(key);
    }

    @Override
    public synchronized void clear() {
      byName.clear();
      super.clear();
    }

    synchronized List<Map.Entry<AttributeSet, String>> matching(String name, AttributeSet query) {
      List<Map.Entry<AttributeSet, String>> found = new ArrayList<>(1);
      for (AttributeSet key : byName.getOrDefault(name, Set.of())) {
        if (key.matches(query)) {
          found.add(new AbstractMap.SimpleImmutableEntry<>(key, super.get(key)));
        }
      }
      return found;
    }
  }

  /** The name an attribute set pins down exactly, or null (no name, or a name selector). */
  private static String nameOf(AttributeSet attributes) {
    Attribute name = attributes.getAttribute("name");
    if (name == null || name.getType() != AttributeType.WITH || name.getValues().size() != 1) {
      return null;
    }
    return name.getValues().get(0).toString();
  }

  /** An object deleted at {@code resourceVersion}: what a watch resumed from before then must still be told. */
  private record Tombstone(long resourceVersion, AttributeSet key, String json) {}

  /**
   * The stock dispatcher with indexed single-object lookups, and watches that resume: a watch from a
   * resourceVersion is told the deletions made after it. The stock mock keeps no history and starts every watch
   * with ADDED for what exists now, so a deletion made while a client was between a list and its watch, or
   * re-opening a watch, was never delivered, where an API server replays it from its watch cache (the soak found
   * pods that stayed in an informer's cache for good).
   */
  private static final class IndexedCrudDispatcher extends RestartableCrudDispatcher {
    /** Enough for hours of churn; a watch from before the oldest one kept would need a 410 Gone instead. */
    private static final int MAX_TOMBSTONES = 500_000;

    private final IndexedMap index = new IndexedMap();
    private final ReadWriteLock lock;
    /** Oldest first; written under the write lock, read under the read lock. */
    private final ArrayDeque<Tombstone> tombstones = new ArrayDeque<>();

    IndexedCrudDispatcher() {
      try {
        Field map = CrudDispatcher.class.getDeclaredField("map");
        map.setAccessible(true);
        map.set(this, index);
        Field lockField = KubernetesCrudDispatcher.class.getDeclaredField("lock");
        lockField.setAccessible(true);
        lock = (ReadWriteLock) lockField.get(this);
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("fabric8 mock internals changed", e);
      }
    }

    @Override
    public Map.Entry<AttributeSet, String> findResource(AttributeSet attributes) {
      String name = nameOf(attributes);
      if (name == null) {
        return super.findResource(attributes);
      }
      List<Map.Entry<AttributeSet, String>> found = index.matching(name, attributes);
      return found.isEmpty() ? null : found.get(0);
    }

    @Override
    public MockResponse handleGet(String path) {
      AttributeSet query = attributeExtractor.fromPath(path);
      String name = nameOf(query);
      if (name == null || path.contains("watch")) {
        return super.handleGet(path);
      }
      lock.readLock().lock();
      try {
        return respond(index.matching(name, query));
      } finally {
        lock.readLock().unlock();
      }
    }

    @Override
    public MockResponse handleDelete(String path) {
      AttributeSet query = attributeExtractor.fromPath(path);
      String name = nameOf(query);
      if (name == null) {
        return super.handleDelete(path);
      }
      lock.writeLock().lock();
      try {
        List<Map.Entry<AttributeSet, String>> found = index.matching(name, query);
        for (Map.Entry<AttributeSet, String> entry : found) {
          // as the stock processDelete: gone at once without finalizers, else marked for deletion
          GenericKubernetesResource resource = Serialization.unmarshal(entry.getValue(), GenericKubernetesResource.class);
          if (resource.getFinalizers().isEmpty()) {
            tombstones.addLast(new Tombstone(requestResourceVersion(), entry.getKey(), entry.getValue()));
            if (tombstones.size() > MAX_TOMBSTONES) {
              tombstones.removeFirst();
            }
            processEvent(path, query, entry.getKey(), null, null);
          } else if (!resource.isMarkedForDeletion()) {
            resource.getMetadata().setDeletionTimestamp(ZonedDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS)
                .format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
            resource.getMetadata().setResourceVersion(String.valueOf(requestResourceVersion()));
            processEvent(path, query, entry.getKey(), resource, Serialization.asJson(resource));
          }
        }
        return respond(found);
      } finally {
        lock.writeLock().unlock();
      }
    }

    @Override
    public MockResponse handleWatch(String path) {
      MockResponse response = super.handleWatch(path);
      long since = resourceVersionOf(path);
      WebSocketListener watch = response.getWebSocketListener();
      // the stock watch (fabric8's package-private WatchEventsListener), not the 410 Gone of a restarted server
      if (since < 0 || watch == null || !watch.getClass().getSimpleName().equals("WatchEventsListener")) {
        return response;
      }
      AttributeSet watched = attributeExtractor.fromPath(path);
      return new MockResponse().withWebSocketUpgrade(new WebSocketListener() {
        @Override
        public void onOpen(WebSocket socket, Response upgrade) {
          watch.onOpen(socket, upgrade); // ADDED for what exists now
          tellDeletionsSince(since, watched, socket);
        }

        @Override
        public void onMessage(WebSocket socket, String text) {
          watch.onMessage(socket, text);
        }

        @Override
        public void onClosing(WebSocket socket, int code, String reason) {
          watch.onClosing(socket, code, reason);
        }

        @Override
        public void onClosed(WebSocket socket, int code, String reason) {
          watch.onClosed(socket, code, reason);
        }

        @Override
        public void onFailure(WebSocket socket, Throwable error, Response upgrade) {
          watch.onFailure(socket, error, upgrade);
        }
      });
    }

    /**
     * DELETED for what was deleted after {@code since} and matches the watch, unless it exists again now. Sent
     * under the read lock, so no write (and no later event about the same object) comes in between.
     */
    private void tellDeletionsSince(long since, AttributeSet watched, WebSocket socket) {
      lock.readLock().lock();
      try {
        for (Tombstone tombstone : tombstones) {
          if (tombstone.resourceVersion() > since && tombstone.key().matches(watched)
              && !existsAgain(tombstone.key())) {
            GenericKubernetesResource last = Serialization.unmarshal(tombstone.json(), GenericKubernetesResource.class);
            socket.send(Serialization.asJson(new WatchEvent(last, "DELETED")));
          }
        }
      } finally {
        lock.readLock().unlock();
      }
    }

    private boolean existsAgain(AttributeSet deleted) {
      String name = nameOf(deleted);
      if (name == null) {
        return false;
      }
      for (Map.Entry<AttributeSet, String> entry : index.matching(name, new AttributeSet())) {
        AttributeSet key = entry.getKey();
        if (Objects.equals(key.getAttribute("namespace"), deleted.getAttribute("namespace"))
            && Objects.equals(key.getAttribute("plural"), deleted.getAttribute("plural"))) {
          return true;
        }
      }
      return false;
    }

    /** The {@code resourceVersion} a watch request resumes from, or -1. */
    private static long resourceVersionOf(String path) {
      int query = path.indexOf('?');
      if (query < 0) {
        return -1;
      }
      for (String parameter : path.substring(query + 1).split("&")) {
        if (parameter.startsWith("resourceVersion=")) {
          try {
            return Long.parseLong(parameter.substring("resourceVersion=".length()));
          } catch (NumberFormatException e) {
            return -1;
          }
        }
      }
      return -1;
    }

    private static MockResponse respond(List<Map.Entry<AttributeSet, String>> found) {
      MockResponse response = new MockResponse();
      if (found.isEmpty()) {
        return response.setResponseCode(404);
      }
      return response.setBody(found.get(0).getValue()).setResponseCode(200);
    }
  }
}
