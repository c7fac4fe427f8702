package io.nodemesh.helm;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Values that would deploy something broken make {@code helm template} fail and say which value is wrong:
 * values.schema.json for single fields, {@code fail} in the templates for rules across fields.
 */
class InvalidValuesTest {

  static Stream<Arguments> invalidValues() {
    return Stream.of(
        Arguments.of("controlPlane.replicas", -1, "at '/controlPlane/replicas': minimum: got -1, want 1"),
        Arguments.of("controlPlane.replicas", "two", "at '/controlPlane/replicas'"),
        Arguments.of("envoy.xds.mode", "incremental", "at '/envoy/xds/mode': value must be one of 'delta', 'sotw'"),
        Arguments.of("controlPlane.image.repository", "", "at '/controlPlane/image/repository': minLength"),
        Arguments.of("controlPlane.image.repository", null, "at '/controlPlane/image': missing property 'repository'"),
        Arguments.of("envoy.image.repository", "", "at '/envoy/image/repository': minLength"),
        Arguments.of("envoy.image.tag", "", "at '/envoy/image/tag'"),
        Arguments.of("envoy.image.tag", null, "at '/envoy/image': missing property 'tag'"),
        Arguments.of("envoy.xds.modee", "sotw", "at '/envoy/xds': additional properties 'modee' not allowed"),
        Arguments.of("controlPlane.config.upstreamBinding", "per-node", "at '/controlPlane/config/upstreamBinding'"),
        Arguments.of("controlPlane.config.netnsMode", "cni", "at '/controlPlane/config/netnsMode'"),
        Arguments.of("controlPlane.config.netnsTemplate", "/var/run/nodemesh/netns/pod", "at '/controlPlane/config/netnsTemplate'"),
        Arguments.of("controlPlane.config.netnsAllowedPrefix", "/", "at '/controlPlane/config/netnsAllowedPrefix'"),
        Arguments.of("controlPlane.config.netnsAllowedPrefix", "/var/../etc/", "at '/controlPlane/config/netnsAllowedPrefix'"),
        Arguments.of("controlPlane.config.xdsPort", 70000, "at '/controlPlane/config/xdsPort': maximum"),
        Arguments.of("controlPlane.config.debounceQuiet", "10 millis", "at '/controlPlane/config/debounceQuiet'"),
        Arguments.of("controlPlane.config.connectTimeout", "0s", "at '/controlPlane/config/connectTimeout'"),
        Arguments.of("envoy.xds.connectTimeout", "0s", "at '/envoy/xds/connectTimeout'"),
        Arguments.of("envoy.xds.keepalive.interval", "0s", "at '/envoy/xds/keepalive/interval'"),
        Arguments.of("envoy.xds.keepalive.timeout", "5", "at '/envoy/xds/keepalive/timeout'"),
        Arguments.of("envoy.overload.shrinkHeapThreshold", 2, "at '/envoy/overload/shrinkHeapThreshold': maximum"),
        Arguments.of("envoy.overload.trackStreamsFromPowerOfTwo", 9,
            "at '/envoy/overload/trackStreamsFromPowerOfTwo': minimum"),
        Arguments.of("envoy.overload.resetStreamsScalingThreshold", 1,
            "envoy.overload.resetStreamsScalingThreshold must be below resetStreamsSaturationThreshold"),
        Arguments.of("controlPlane.config.podMaxConnections", -1, "at '/controlPlane/config/podMaxConnections': minimum"),
        Arguments.of("envoy.updateStrategy.maxSurge", 2, "at '/envoy/updateStrategy/maxSurge': maximum"),
        Arguments.of("commonLabels.app\\.kubernetes\\.io/name", "x", "invalid propertyName 'app.kubernetes.io/name'"),
        Arguments.of("envoy.hostNetwork", true,
            "envoy.hostNetwork=true requires envoy.updateStrategy.maxSurge=0"),
        Arguments.of("envoy.image.tag", "v1.37.2",
            "envoy.image.tag \"v1.37.2\": controlPlane.config.upstreamBinding=shared needs Envoy >= 1.38.0"),
        Arguments.of("envoy.updateStrategy.maxSurge", 0,
            "envoy.updateStrategy: maxSurge and maxUnavailable cannot both be 0"),
        Arguments.of("controlPlane.config.adminPort", 15010, "controlPlane.config.xdsPort and adminPort must differ"),
        Arguments.of("controlPlane.config.debugPort", 15014,
            "controlPlane.config.debugPort must differ from xdsPort and adminPort"),
        Arguments.of("controlPlane.debug.expose", true,
            "controlPlane.debug.expose=true needs controlPlane.debug.auth=token-review or token-file"),
        Arguments.of("controlPlane.debug.auth", "token-file",
            "controlPlane.debug.auth=token-file needs controlPlane.debug.tokenSecretName"),
        Arguments.of("controlPlane.debug.auth", "basic", "at '/controlPlane/debug/auth'"),
        Arguments.of("controlPlane.config.adminReadTimeout", "10", "at '/controlPlane/config/adminReadTimeout'"),
        Arguments.of("nodeAgent.debugPort", 15016, "nodeAgent.adminPort and debugPort must differ"),
        Arguments.of("controlPlane.config.nodeAuth", "mtls", "at '/controlPlane/config/nodeAuth'"),
        Arguments.of("controlPlane.config.nodeAuth", "token",
            "controlPlane.config.nodeAuth=token would refuse this chart's own Envoys"),
        Arguments.of("controlPlane.config.xdsMaxRequestRate", -1, "at '/controlPlane/config/xdsMaxRequestRate': minimum"),
        Arguments.of("xdsTls.enabled", true,
            "xdsTls.enabled=true needs xdsTls.serverSecretName (tls.crt, tls.key) and xdsTls.caSecretName (ca.crt)"),
        Arguments.of("xdsTls.serverSecretName", "Not_A_Name", "at '/xdsTls/serverSecretName'"),
        Arguments.of("xdsTls.clientAuth.enabledd", true, "at '/xdsTls/clientAuth': additional properties 'enabledd'"));
  }

  @org.junit.jupiter.api.Test
  void mutualTlsWithoutAClientCertificateSecretFailsNamingIt() {
    String error = HelmChart.template().values("tls").set("xdsTls.clientAuth.clientSecretName", "").renderError();

    assertThat(error).contains("xdsTls.clientAuth.enabled=true needs xdsTls.clientAuth.clientSecretName");
  }

  @ParameterizedTest(name = "{0}={1}")
  @MethodSource("invalidValues")
  void helmTemplateFailsNamingTheOffendingValue(String key, Object value, String expectedMessage) {
    String error = HelmChart.template().set(key, value == null ? "null" : value).renderError();

    assertThat(error).contains(expectedMessage);
  }

  @ParameterizedTest(name = "{0}={1}")
  @MethodSource("validEdgeValues")
  void valuesAtTheEdgeOfTheRulesStillRender(String key, Object value) {
    assertThat(HelmChart.template().set(key, value).render().all()).isNotEmpty();
  }

  static Stream<Arguments> validEdgeValues() {
    return Stream.of(
        Arguments.of("controlPlane.replicas", 1),
        Arguments.of("envoy.image.tag", "v1.38.0"),
        Arguments.of("envoy.image.tag", "custom-build"),
        Arguments.of("envoy.xds.connectTimeout", "0.25s"),
        Arguments.of("envoy.xds.initialFetchTimeout", "15s"),
        Arguments.of("controlPlane.podDisruptionBudget.maxUnavailable", "50%"));
  }
}
