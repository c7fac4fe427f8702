package io.nodemesh.translate;

import com.google.common.collect.ImmutableList;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.datatype.guava.GuavaModule;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import io.nodemesh.model.ClusterState;
import io.nodemesh.model.EndpointSliceInfo;
import io.nodemesh.model.MeshRoute;
import io.nodemesh.model.MeshOptions;
import io.nodemesh.model.NamespaceInfo;
import io.nodemesh.model.NodeInfo;
import io.nodemesh.model.PodInfo;
import io.nodemesh.model.ServiceInfo;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * A golden case's input ({@code <case>.in.yaml}): the node to translate, option overrides and the cluster
 * model as YAML. Every object goes through {@link ClusterState.Builder}, so validation applies as in
 * production.
 */
record GoldenInput(
    String description,
    String node,
    boolean proxyless,
    TranslatorOverrides translator,
    MeshOptions mesh,
    List<NodeInfo> nodes,
    List<NamespaceInfo> namespaces,
    List<PodInfo> pods,
    List<ServiceInfo> services,
    List<EndpointSliceInfo> endpointSlices,
    List<MeshRoute> routes) {

  /** Option overrides; unset fields keep {@link TranslatorOptions#DEFAULTS}. */
  record TranslatorOverrides(UpstreamBinding upstreamBinding, Integer bufferLimitBytes, Integer soMark, Integer capturePort,
      List<String> serviceCidrs, PodLimits podLimits, Integer requestRatePerConnection) {
    TranslatorOptions apply(TranslatorOptions defaults) {
      return new TranslatorOptions(
          upstreamBinding == null ? defaults.upstreamBinding() : upstreamBinding,
          bufferLimitBytes == null ? defaults.bufferLimitBytes() : bufferLimitBytes,
          soMark == null ? defaults.soMark() : soMark,
          capturePort == null ? defaults.capturePort() : capturePort,
          defaults.connectTimeout(),
          serviceCidrs == null ? defaults.serviceCidrs() : ImmutableList.copyOf(serviceCidrs),
          podLimits == null ? defaults.podLimits() : podLimits,
          requestRatePerConnection == null ? defaults.requestRatePerConnection() : requestRatePerConnection);
    }
  }

  static final ObjectMapper YAML =
      JsonMapper.builder(new YAMLFactory())
          .addModule(new GuavaModule())
          .addModule(new Jdk8Module())
          .addModule(new JavaTimeModule())
          .addMixIn(MeshRoute.Filter.class, FilterTypes.class)
          .enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_ENUMS)
          .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
          .build();

  /** Golden inputs name a filter's record in a {@code filter} property. */
  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "filter")
  @JsonSubTypes({
      @JsonSubTypes.Type(value = MeshRoute.HeaderModifier.class, name = "headerModifier"),
      @JsonSubTypes.Type(value = MeshRoute.Redirect.class, name = "redirect"),
      @JsonSubTypes.Type(value = MeshRoute.UrlRewrite.class, name = "urlRewrite"),
      @JsonSubTypes.Type(value = MeshRoute.Mirror.class, name = "mirror"),
      @JsonSubTypes.Type(value = MeshRoute.Unsupported.class, name = "unsupported")})
  private interface FilterTypes {}

  static GoldenInput read(Path file) throws IOException {
    return YAML.readValue(file.toFile(), GoldenInput.class);
  }

  TranslatorOptions translatorOptions() {
    return translator == null ? TranslatorOptions.DEFAULTS : translator.apply(TranslatorOptions.DEFAULTS);
  }

  ClusterState state() {
    ClusterState.Builder builder = ClusterState.builder(mesh == null ? MeshOptions.DEFAULTS : mesh);
    orEmpty(nodes).forEach(builder::putNode);
    orEmpty(namespaces).forEach(builder::putNamespace);
    orEmpty(pods).forEach(builder::putPod);
    orEmpty(services).forEach(builder::putService);
    orEmpty(endpointSlices).forEach(builder::putEndpointSlice);
    orEmpty(routes).forEach(builder::putRoute);
    return builder.build();
  }

  private static <T> List<T> orEmpty(List<T> list) {
    return list == null ? List.of() : list;
  }
}
