package io.nodemesh.xds;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSet;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The names that entered or left a node view's shared layer. When a service is added every node's layer
 * changes from the same instance to the same instance, so every stream asks for the same difference: the last
 * one is remembered and computed once, not once per stream (O(catalogue) each). One per {@link ResourceStore};
 * called from every stream's executor.
 */
final class LayerChange {

  private record Remembered(ImmutableSet<String> before, ImmutableSet<String> after, ImmutableList<String> names) {}

  /** One entry: streams of one store change ask for the same pair; a race computes it twice, harmlessly. */
  private final AtomicReference<Remembered> last = new AtomicReference<>();

  /** The names in exactly one of the two layers. */
  ImmutableList<String> between(ImmutableSet<String> before, ImmutableSet<String> after) {
    Remembered remembered = last.get();
    if (remembered != null && remembered.before() == before && remembered.after() == after) {
      return remembered.names();
    }
    ImmutableList.Builder<String> names = ImmutableList.builder();
    for (String name : after) {
      if (!before.contains(name)) {
        names.add(name);
      }
    }
    for (String name : before) {
      if (!after.contains(name)) {
        names.add(name);
      }
    }
    Remembered computed = new Remembered(before, after, names.build());
    last.set(computed);
    return computed.names();
  }
}
