package io.nodemesh.translate;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSortedMap;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.PodPhase;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

class UpstreamScopeIndexTest {

  @Test
  void theIndexGivesEveryPodTheSameScopeAndProblemsAsForPod() {
    ClusterState state = SyntheticCluster.build(1, 1, 40);
    ImmutableList<OutboundService> all = SharedResources.translate(state, TranslatorOptions.DEFAULTS).allOutbound();
    UpstreamScope.Index index = new UpstreamScope.Index(all);
    Random random = new Random(3);
    List<String> annotations = new ArrayList<>(List.of("", ",", "svc-1.apps", "svc-1.apps:80", "svc-1.apps:81",
        "svc-2.apps, svc-1.apps:9000 ,svc-1.apps:80", "nope", "svc-3.other", "svc-3.apps,svc-3.apps:80,bad entry!",
        "svc-39.apps,svc-0.apps"));
    for (int i = 0; i < 200; i++) {
      StringBuilder annotation = new StringBuilder();
      for (int e = 0; e < random.nextInt(6); e++) {
        annotation.append(e == 0 ? "" : ",").append("svc-").append(random.nextInt(45)).append(".apps");
        if (random.nextBoolean()) {
          annotation.append(':').append(List.of(80, 50051, 9000, 1).get(random.nextInt(4)));
        }
      }
      annotations.add(annotation.toString());
    }
    annotations.add(String.join(",", java.util.Collections.nCopies(1001, "svc-1.apps")));
    for (String annotation : annotations) {
      for (int repeat = 0; repeat < 2; repeat++) { // the second time from the memo
        PodInfo pod = pod(annotation);
        List<String> expectedProblems = new ArrayList<>();
        List<String> actualProblems = new ArrayList<>();
        assertThat(index.forPod(pod, actualProblems::add)).as(annotation)
            .containsExactlyElementsOf(UpstreamScope.forPod(pod, all, expectedProblems::add));
        assertThat(actualProblems).as(annotation).isEqualTo(expectedProblems);
      }
    }
    assertThat(index.forPod(pod(null), p -> { })).isSameAs(all);
  }

  private static PodInfo pod(String annotation) {
    return new PodInfo("uid", "apps", "pod", Optional.of("node-0"), ImmutableList.of("10.0.0.1"), PodPhase.RUNNING,
        false, false, null,
        annotation == null ? null : ImmutableSortedMap.of(UpstreamScope.ANNOTATION, annotation), null);
  }
}
