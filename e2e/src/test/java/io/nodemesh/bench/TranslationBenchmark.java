package io.nodemesh.bench;

import io.fabric8.kubernetes.api.model.Pod;
import io.nodemesh.pipeline.TranslationPipeline;
import io.nodemesh.k8s.Change;
import io.nodemesh.k8s.Converters;
import io.nodemesh.k8s.StateUpdate;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.ObjectKey;
import io.nodemesh.model.PodInfo;
import io.nodemesh.translate.TranslatorOptions;
import io.nodemesh.xds.ResourceStore;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * In-process measurement of nodemesh's translation path alone (no API server, no Envoys): the same workload as
 * {@link NodemeshBenchmark} converted with nodemesh's converters into a {@link ClusterState}, then the
 * {@link TranslationPipeline} with a {@link ResourceStore} applying one event at a time. CPU is the thread CPU
 * time of the model writer (this thread: {@code ClusterState.Builder.build()}) and of the translator thread
 * (translation, serialisation, store apply), so the numbers hold even on a busy machine. Heap is the
 * difference in retained heap with and without the pipeline's state. Writes {@code target/bench/translation.md}.
 */
class TranslationBenchmark {

  private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private static final int EVENTS = Integer.getInteger("bench.translationEvents", 200);

  private final BenchConfig config = BenchConfig.fromSystemProperties();
  private final Workload workload = new Workload(config);
  private final ClusterState.Builder model = ClusterState.builder(MeshOptions.DEFAULTS);
  private final BlockingQueue<TranslationPipeline.Outcome> outcomes = new LinkedBlockingQueue<>();
  private final StringBuilder report = new StringBuilder();
  private TranslationPipeline pipeline;
  private long translatorThread = -1;
  private long generation;

  @Test
  void translationCostPerEvent() throws Exception {
    report.append(String.format(Locale.ROOT, "# translation path, in process%n%n%d nodes, %d pods, %d services x 3 "
        + "ports, %d upstreams per pod; %d events per kind; load average %.2f; %d cores%n%n",
        config.nodes(), config.pods(), config.services(), config.upstreamsPerPod(), EVENTS,
        ServerProcess.loadAverage(), Runtime.getRuntime().availableProcessors()));
    report.append("| step | model build CPU p50 / p99 | translator CPU p50 / p99 | translator wall p50 / p99 |\n");
    report.append("|---|---:|---:|---:|\n");
    seedModel();
    long heapBefore = retainedHeap();
    ResourceStore store = new ResourceStore();
    Consumer<TranslationPipeline.Outcome> sink = outcomes::add;
    pipeline = new TranslationPipeline(store, TranslatorOptions.DEFAULTS, sink);
    try {
      List<long[]> full = new ArrayList<>();
      full.add(step(() -> Change.full(System.nanoTime())));
      row("full translation (first state)", full);
      long heapAfter = retainedHeap();
      report.append(String.format(Locale.ROOT, "%nretained heap of the translation state (store + pipeline): %d MB "
          + "(%d resources in the store)%n%n", (heapAfter - heapBefore) >> 20,
          store.snapshot().size(io.nodemesh.xds.ResourceType.LISTENER)
              + store.snapshot().size(io.nodemesh.xds.ResourceType.CLUSTER)
              + store.snapshot().size(io.nodemesh.xds.ResourceType.ENDPOINT)
              + store.snapshot().size(io.nodemesh.xds.ResourceType.ROUTE)));
      report.append("| step | model build CPU p50 / p99 | translator CPU p50 / p99 | translator wall p50 / p99 |\n");
      report.append("|---|---:|---:|---:|\n");

      List<long[]> adds = new ArrayList<>();
      List<long[]> deletes = new ArrayList<>();
      List<PodInfo> added = new ArrayList<>();
      for (int i = 0; i < EVENTS; i++) {
        Workload.ChurnPod churn = workload.nextChurnPod();
        Pod pod = churn.pod();
        pod.getMetadata().setUid("churn-uid-" + i);
        PodInfo info = Converters.pod(pod).value();
        added.add(info);
        adds.add(step(() -> {
          model.putPod(info);
          return Change.builder().pod(info.key()).podNode(info.nodeName().orElseThrow())
              .observedAt(System.nanoTime()).build();
        }));
      }
      for (PodInfo info : added) {
        deletes.add(step(() -> {
          model.removePod(info.key());
          return Change.builder().pod(info.key()).podNode(info.nodeName().orElseThrow())
              .observedAt(System.nanoTime()).build();
        }));
      }
      row("pod add (one pod, its node)", adds);
      row("pod delete", deletes);

      List<long[]> flaps = new ArrayList<>();
      ObjectKey svc0 = ObjectKey.of(workload.namespaceOf(0), Workload.serviceName(0));
      for (int i = 0; i < Math.min(EVENTS, 50); i++) {
        int notReady = i % 2 == 0 ? 0 : -1;
        flaps.add(step(() -> {
          model.putEndpointSlice(Converters.endpointSlice(workload.slice(0, notReady)).value());
          return Change.builder().endpoints(svc0).observedAt(System.nanoTime()).build();
        }));
      }
      row("endpoint change (svc-0 slice)", flaps);

      for (boolean popular : new boolean[] {false, true}) {
        List<long[]> changes = new ArrayList<>();
        for (int i = 0; i < (popular ? 4 : 10); i++) {
          int service = popular ? 0 : workload.teamService(i / 2);
          boolean addPort = i % 2 == 0;
          ObjectKey key = ObjectKey.of(workload.namespaceOf(service), Workload.serviceName(service));
          changes.add(step(() -> {
            model.putService(Converters.service(workload.service(service, addPort)).value());
            return Change.builder().service(key).observedAt(System.nanoTime()).build();
          }));
        }
        row(popular ? "service change, svc-0 (every pod's listener)" : "service change, one-team service", changes);
      }
    } finally {
      pipeline.close();
    }
    Path out = config.output();
    Files.createDirectories(out);
    Files.writeString(out.resolve("translation.md"), report.toString());
    System.out.println(report);
  }

  private void seedModel() {
    for (int n = 0; n < config.namespaces(); n++) {
      model.putNamespace(Converters.namespace(workload.namespace(n)).value());
    }
    for (int n = 0; n < config.nodes(); n++) {
      model.putNode(Converters.node(workload.node(n)).value());
    }
    for (int s = 0; s < config.services(); s++) {
      model.putService(Converters.service(workload.service(s, false)).value());
      model.putEndpointSlice(Converters.endpointSlice(workload.slice(s, -1)).value());
    }
    for (int p = 0; p < config.pods(); p++) {
      Pod pod = workload.pod(p);
      pod.getMetadata().setUid("uid-" + p);
      model.putPod(Converters.pod(pod).value());
    }
  }

  /**
   * Applies one change: model build on this thread, then the pipeline on its own; returns {model build CPU,
   * translator CPU, translator wall} in nanoseconds.
   */
  private long[] step(java.util.function.Supplier<Change> mutation) throws InterruptedException {
    Change change = mutation.get();
    long buildStart = THREADS.getCurrentThreadCpuTime();
    ClusterState state = model.build();
    long buildCpu = THREADS.getCurrentThreadCpuTime() - buildStart;
    long translatorBefore = translatorCpu();
    pipeline.accept(new StateUpdate(state, change, ++generation));
    TranslationPipeline.Outcome outcome = outcomes.poll(10, TimeUnit.MINUTES);
    if (outcome == null) {
      throw new IllegalStateException("no translation outcome within 10 minutes");
    }
    long translatorCpu = translatorCpu() - translatorBefore;
    return new long[] {buildCpu, translatorCpu, outcome.translateNanos()};
  }

  private long translatorCpu() {
    if (translatorThread < 0) {
      for (Thread thread : Thread.getAllStackTraces().keySet()) {
        if (thread.getName().equals("nodemesh-translator")) {
          translatorThread = thread.getId();
        }
      }
    }
    return translatorThread < 0 ? 0 : THREADS.getThreadCpuTime(translatorThread);
  }

  private void row(String name, List<long[]> samples) {
    List<Double> build = new ArrayList<>();
    List<Double> cpu = new ArrayList<>();
    List<Double> wall = new ArrayList<>();
    for (long[] sample : samples) {
      build.add(sample[0] / 1e6);
      cpu.add(sample[1] / 1e6);
      wall.add(sample[2] / 1e6);
    }
    report.append(String.format(Locale.ROOT, "| %s | %.2f / %.2f ms | %.2f / %.2f ms | %.2f / %.2f ms |%n", name,
        Results.percentile(build, 50), Results.percentile(build, 99), Results.percentile(cpu, 50),
        Results.percentile(cpu, 99), Results.percentile(wall, 50), Results.percentile(wall, 99)));
    BenchRun.log("%s: build p50 %.2f ms, translator CPU p50 %.2f ms p99 %.2f ms", name, Results.percentile(build, 50),
        Results.percentile(cpu, 50), Results.percentile(cpu, 99));
  }

  private static long retainedHeap() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
