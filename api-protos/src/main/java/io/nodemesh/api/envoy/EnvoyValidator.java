package io.nodemesh.api.envoy;

import com.google.common.collect.ImmutableList;
import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.envoyproxy.pgv.ReflectiveValidatorIndex;
import io.envoyproxy.pgv.ValidationException;
import io.envoyproxy.pgv.ValidatorIndex;
import java.util.Map;

/**
 * Validates Envoy API messages with the PGV rules generated from Envoy's own .proto files, the same rules
 * Envoy applies when it accepts configuration. Unlike plain PGV, it also unpacks every {@code Any} (every
 * {@code typed_config}) and validates what is inside, recursively.
 *
 * <p>Thread-safe: the validator index is immutable after construction and caches validators concurrently.
 */
public final class EnvoyValidator {

  private static final ValidatorIndex INDEX = new ReflectiveValidatorIndex();

  private EnvoyValidator() {}

  /** Every rule violation found in the message and in what its {@code Any} fields carry; empty when valid. */
  public static ImmutableList<String> violations(Message message) {
    ImmutableList.Builder<String> found = ImmutableList.builder();
    check(message, message.getDescriptorForType().getFullName(), found);
    return found.build();
  }

  /** Throws with every violation when the message is not valid Envoy configuration. */
  public static void requireValid(Message message) {
    ImmutableList<String> violations = violations(message);
    if (!violations.isEmpty()) {
      throw new IllegalArgumentException(
          "invalid " + message.getDescriptorForType().getFullName() + ": " + String.join("; ", violations));
    }
  }

  private static void check(Message message, String path, ImmutableList.Builder<String> found) {
    try {
      INDEX.validatorFor(message.getClass()).assertValid(message);
    } catch (ValidationException e) {
      found.add(path + ": " + e.getMessage());
    }
    walkAnyFields(message, path, found);
  }

  private static void walkAnyFields(Message message, String path, ImmutableList.Builder<String> found) {
    for (Map.Entry<FieldDescriptor, Object> field : message.getAllFields().entrySet()) {
      FieldDescriptor descriptor = field.getKey();
      if (descriptor.getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
        continue;
      }
      String fieldPath = path + "." + descriptor.getName();
      if (descriptor.isRepeated()) {
        int i = 0;
        for (Object element : (Iterable<?>) field.getValue()) {
          visit((Message) element, fieldPath + "[" + i++ + "]", found);
        }
      } else {
        visit((Message) field.getValue(), fieldPath, found);
      }
    }
  }

  private static void visit(Message message, String path, ImmutableList.Builder<String> found) {
    if (message instanceof Any any) {
      try {
        Message inner = EnvoyTypes.unpack(any);
        check(inner, path + "<" + inner.getDescriptorForType().getFullName() + ">", found);
      } catch (InvalidProtocolBufferException e) {
        found.add(path + ": cannot unpack " + any.getTypeUrl() + ": " + e.getMessage());
      }
    } else {
      walkAnyFields(message, path, found);
    }
  }
}
