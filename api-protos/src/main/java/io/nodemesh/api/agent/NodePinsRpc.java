package io.nodemesh.api.agent;

import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;
import io.nodemesh.api.agent.v1.PinReport;
import io.nodemesh.api.agent.v1.PinReportReply;

/**
 * The wire contract of {@code /nodemesh.agent.v1.NodePins/Report} (pins.proto), shared by the control plane that
 * serves it and the node agent that calls it; grpc-java needs no generated stub for one unary method.
 */
public final class NodePinsRpc {

  public static final String SERVICE = "nodemesh.agent.v1.NodePins";
  public static final MethodDescriptor<PinReport, PinReportReply> REPORT =
      MethodDescriptor.<PinReport, PinReportReply>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Report"))
          .setRequestMarshaller(ProtoUtils.marshaller(PinReport.getDefaultInstance()))
          .setResponseMarshaller(ProtoUtils.marshaller(PinReportReply.getDefaultInstance()))
          .build();
  /** A node runs at most ~250 pods (kubelet maxPods); room for sandboxes being replaced. */
  public static final int MAX_PINS = 1024;

  private NodePinsRpc() {}
}
