package io.nodemesh.api.envoy;

import com.google.common.collect.ImmutableMap;
import com.google.protobuf.Any;
import com.google.protobuf.DescriptorProtos.DescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.util.JsonFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Resolves the type URLs that appear in {@code typed_config} to Envoy API message types, so that packed
 * configuration can be unpacked, validated and printed as Envoy-style JSON.
 *
 * <p>Envoy's Java API classes follow a fixed naming rule (proto package prefixed with {@code io.envoyproxy.},
 * one class per message), so types are found by name instead of by a hand-kept list. A few extension configs
 * that the API jar does not ship (empty marker messages) are described here as dynamic descriptors.
 */
public final class EnvoyTypes {

  private static final String TYPE_URL_PREFIX = "type.googleapis.com/";

  /** Java package prefixes by proto package root, as used by the generated API jar. */
  private static final ImmutableMap<String, String> JAVA_PREFIXES =
      ImmutableMap.of(
          "envoy.", "io.envoyproxy.",
          "xds.", "com.github.",
          "udpa.", "com.github.",
          "google.protobuf.", "com.");

  /** Extension configs that are empty messages absent from the API jar, keyed by full name. */
  private static final ImmutableMap<String, Descriptor> MISSING_EMPTY_MESSAGES =
      emptyMessages(
          "envoy.extensions.local_address_selectors.filter_state_override.v3.Config",
          "envoy/extensions/local_address_selectors/filter_state_override/v3/config.proto");

  /** Type URLs may come from outside (a client's config dump); bound what a stream of junk can pin. */
  private static final int MAX_CACHED_TYPES = 4096;

  private static final Map<String, Optional<Descriptor>> CACHE = new ConcurrentHashMap<>();

  private EnvoyTypes() {}

  /** The type URL of a message as Envoy expects it in an {@code Any}. */
  public static String typeUrl(String fullName) {
    return TYPE_URL_PREFIX + fullName;
  }

  /** Packs an empty extension config that the API jar has no class for (e.g. filter_state_override). */
  public static Any emptyConfig(String fullName) {
    if (!MISSING_EMPTY_MESSAGES.containsKey(fullName)) {
      throw new IllegalArgumentException("not a known empty extension config: " + fullName);
    }
    return Any.newBuilder().setTypeUrl(typeUrl(fullName)).build();
  }

  /** The descriptor behind a type URL, if it names an Envoy API message this process knows. */
  public static Optional<Descriptor> descriptorFor(String typeUrl) {
    Optional<Descriptor> cached = CACHE.get(typeUrl);
    if (cached != null) {
      return cached;
    }
    Optional<Descriptor> resolved = resolve(typeUrl);
    if (CACHE.size() < MAX_CACHED_TYPES) {
      CACHE.put(typeUrl, resolved);
    }
    return resolved;
  }

  /**
   * Unpacks an {@code Any} into its typed message: a generated class when the API jar has one (so PGV
   * validators apply), otherwise a {@link DynamicMessage}.
   *
   * @throws InvalidProtocolBufferException when the type is unknown or the bytes do not parse
   */
  public static Message unpack(Any any) throws InvalidProtocolBufferException {
    Descriptor descriptor =
        descriptorFor(any.getTypeUrl())
            .orElseThrow(
                () -> new InvalidProtocolBufferException("unknown type URL: " + any.getTypeUrl()));
    Optional<Message> prototype = generatedPrototype(descriptor.getFullName());
    if (prototype.isPresent()) {
      return prototype.get().getParserForType().parseFrom(any.getValue());
    }
    DynamicMessage dynamic = DynamicMessage.parseFrom(descriptor, any.getValue());
    if (!dynamic.getUnknownFields().asMap().isEmpty()) {
      throw new InvalidProtocolBufferException(
          descriptor.getFullName() + " is an empty message but carries fields");
    }
    return dynamic;
  }

  /** A JSON printer that can print every {@code Any} reachable from the given messages. */
  public static JsonFormat.Printer jsonPrinter(Iterable<? extends Message> messages) {
    JsonFormat.TypeRegistry.Builder registry = JsonFormat.TypeRegistry.newBuilder();
    Map<String, Descriptor> seen = new LinkedHashMap<>();
    for (Message message : messages) {
      collectAnyTypes(message, seen);
    }
    registry.add(seen.values());
    return JsonFormat.printer().usingTypeRegistry(registry.build()).preservingProtoFieldNames();
  }

  private static void collectAnyTypes(Message message, Map<String, Descriptor> seen) {
    if (message instanceof Any any) {
      Optional<Descriptor> descriptor = descriptorFor(any.getTypeUrl());
      if (descriptor.isPresent()) {
        // every Any is opened, not only the first of its type: two listeners carry different filters
        seen.putIfAbsent(any.getTypeUrl(), descriptor.get());
        try {
          collectAnyTypes(unpack(any), seen);
        } catch (InvalidProtocolBufferException e) {
          // printing will report the broken Any; nothing more to collect below it
        }
      }
      return;
    }
    for (Map.Entry<FieldDescriptor, Object> field : message.getAllFields().entrySet()) {
      if (field.getKey().getJavaType() != FieldDescriptor.JavaType.MESSAGE) {
        continue;
      }
      if (field.getKey().isRepeated()) {
        for (Object element : (Iterable<?>) field.getValue()) {
          collectAnyTypes((Message) element, seen);
        }
      } else {
        collectAnyTypes((Message) field.getValue(), seen);
      }
    }
  }

  private static Optional<Descriptor> resolve(String typeUrl) {
    if (!typeUrl.startsWith(TYPE_URL_PREFIX)) {
      return Optional.empty();
    }
    String fullName = typeUrl.substring(TYPE_URL_PREFIX.length());
    Descriptor missing = MISSING_EMPTY_MESSAGES.get(fullName);
    if (missing != null) {
      return Optional.of(missing);
    }
    return generatedPrototype(fullName).map(Message::getDescriptorForType);
  }

  private static Optional<Message> generatedPrototype(String fullName) {
    for (Map.Entry<String, String> prefix : JAVA_PREFIXES.entrySet()) {
      if (!fullName.startsWith(prefix.getKey())) {
        continue;
      }
      String className = javaClassName(prefix.getValue() + fullName);
      try {
        Class<?> type = Class.forName(className, true, EnvoyTypes.class.getClassLoader());
        Object instance = type.getMethod("getDefaultInstance").invoke(null);
        if (instance instanceof Message message
            && message.getDescriptorForType().getFullName().equals(fullName)) {
          return Optional.of(message);
        }
      } catch (ReflectiveOperationException | LinkageError e) {
        return Optional.empty();
      }
    }
    return Optional.empty();
  }

  /** Package segments are lower case and message names capitalised: nested messages become {@code $}. */
  private static String javaClassName(String dotted) {
    String[] parts = dotted.split("\\.");
    StringBuilder name = new StringBuilder();
    boolean inMessage = false;
    for (int i = 0; i < parts.length; i++) {
      if (i > 0) {
        name.append(inMessage ? '$' : '.');
      }
      name.append(parts[i]);
      if (!parts[i].isEmpty() && Character.isUpperCase(parts[i].charAt(0))) {
        inMessage = true;
      }
    }
    return name.toString();
  }

  private static ImmutableMap<String, Descriptor> emptyMessages(String fullName, String fileName) {
    int dot = fullName.lastIndexOf('.');
    FileDescriptorProto file =
        FileDescriptorProto.newBuilder()
            .setName(fileName)
            .setPackage(fullName.substring(0, dot))
            .setSyntax("proto3")
            .addMessageType(DescriptorProto.newBuilder().setName(fullName.substring(dot + 1)))
            .build();
    try {
      Descriptor descriptor = FileDescriptor.buildFrom(file, new FileDescriptor[0]).getMessageTypes().get(0);
      return ImmutableMap.of(fullName, descriptor);
    } catch (DescriptorValidationException e) {
      throw new IllegalStateException(e);
    }
  }
}
