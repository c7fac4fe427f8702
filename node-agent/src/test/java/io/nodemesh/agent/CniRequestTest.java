package io.nodemesh.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class CniRequestTest {

  private static final String UID = "0b7c6a3e-1d2f-4e5a-9b8c-7d6e5f4a3b2c";
  private static final Path PINS = Path.of("/var/run/nodemesh/netns");
  private static final String ID = "add-" + UID + "-4242";

  private static String request(String pin, String extra) {
    return "version=1\ncommand=ADD\ncontainerId=abc123\npodUid=" + UID + "\npodNamespace=shop\npodName=web-1\n"
        + "ifname=eth0\nnetns=/var/run/netns/cni-1\npin=" + pin + "\nips=10.244.0.5/24,fd00::5/64\n" + extra;
  }

  @Test
  void aWellFormedRequestIsParsedWithPrefixLengthsDropped() {
    CniRequest request = CniRequest.parse(ID, request(PINS + "/" + UID, ""), PINS);

    assertThat(request.command()).isEqualTo(CniRequest.Command.ADD);
    assertThat(request.pin()).isEqualTo(PINS.resolve(UID));
    assertThat(request.ips()).containsExactly("10.244.0.5", "fd00::5");
    assertThat(request.podNamespace()).isEqualTo("shop");
  }

  @Test
  void aPinOutsideThePinDirectoryOrNamedAfterAnotherPodIsRefused() {
    assertThatThrownBy(() -> CniRequest.parse(ID, request("/etc/passwd", ""), PINS)).hasMessageContaining("pin");
    assertThatThrownBy(() -> CniRequest.parse(ID, request(PINS + "/../../etc/" + UID, ""), PINS))
        .hasMessageContaining("pin");
    assertThatThrownBy(() -> CniRequest.parse(ID,
        request(PINS + "/1b7c6a3e-1d2f-4e5a-9b8c-7d6e5f4a3b2c", ""), PINS)).hasMessageContaining("pin");
  }

  @Test
  void malformedFieldsAreNamed() {
    assertThatThrownBy(() -> CniRequest.parse(ID, request(PINS + "/" + UID, "").replace("web-1", "Web_1"), PINS))
        .hasMessageContaining("podName");
    assertThatThrownBy(() -> CniRequest.parse(ID, request(PINS + "/" + UID, "").replace("version=1", "version=2"), PINS))
        .hasMessageContaining("version");
    assertThatThrownBy(() -> CniRequest.parse(ID, request(PINS + "/" + UID, "").replace("10.244.0.5/24", "x;y"), PINS))
        .hasMessageContaining("ips");
    assertThatThrownBy(() -> CniRequest.parse(ID,
        request(PINS + "/" + UID, "").replace("/var/run/netns/cni-1", "/var/run/netns/../x"), PINS))
        .hasMessageContaining("netns");
    assertThatThrownBy(() -> CniRequest.parse("../../etc", request(PINS + "/" + UID, ""), PINS))
        .hasMessageContaining("request id");
  }

  @Test
  void theFirstValueOfARepeatedKeyWins() {
    CniRequest request = CniRequest.parse(ID, request(PINS + "/" + UID, "podName=other\n"), PINS);

    assertThat(request.podName()).isEqualTo("web-1");
  }
}
