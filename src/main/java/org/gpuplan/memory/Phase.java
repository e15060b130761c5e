package org.gpuplan.memory;

import java.util.List;

/**
 * A moment of the job and what is allocated then. The peak is the largest phase, not the sum of every term.
 *
 * @param name      short name (end of forward, backward start, optimizer step, prefill, decode, …)
 * @param bytes     bytes allocated through the PyTorch caching allocator (or the engine's allocator) at that moment
 * @param contents  the terms alive, as "term key" names
 */
public record Phase(String name, long bytes, List<String> contents) {
    public Phase {
        contents = List.copyOf(contents);
    }
}
