package io.nodemesh.translate;

import com.google.common.collect.ImmutableSet;

/** The names of the resources a node's Envoys get, by type; sorted. */
public record NodeNames(ImmutableSet<String> listeners, ImmutableSet<String> clusters,
    ImmutableSet<String> endpoints, ImmutableSet<String> routes) {}
