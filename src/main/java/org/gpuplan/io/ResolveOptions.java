package org.gpuplan.io;

import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.model.InvalidInputException;

/**
 * Where to look for models besides local paths and the built-in catalog.
 *
 * @param online   whether downloading from the Hub is allowed ({@code --online}); off by default
 * @param hubCache the HuggingFace hub cache folder ({@code $HF_HUB_CACHE}, else {@code $HF_HOME/hub}, else
 *                 {@code ~/.cache/huggingface/hub}, as huggingface_hub resolves it)
 * @param endpoint the Hub's base URL ({@code $HF_ENDPOINT}, default https://huggingface.co)
 * @param token    {@code $HF_TOKEN}, sent as a bearer token for gated models
 */
public record ResolveOptions(boolean online, Path hubCache, URI endpoint, Optional<String> token) {

    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    public static ResolveOptions fromEnvironment(Map<String, String> env, boolean online) {
        Path cache;
        if (nonEmpty(env.get("HF_HUB_CACHE"))) {
            cache = Path.of(env.get("HF_HUB_CACHE"));
        } else if (nonEmpty(env.get("HF_HOME"))) {
            cache = Path.of(env.get("HF_HOME"), "hub");
        } else {
            cache = Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub");
        }
        String endpoint = nonEmpty(env.get("HF_ENDPOINT")) ? env.get("HF_ENDPOINT") : DEFAULT_ENDPOINT;
        URI uri;
        try {
            uri = URI.create(endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("HF_ENDPOINT: not a valid URL: " + endpoint);
        }
        if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))) {
            throw new InvalidInputException("HF_ENDPOINT: must be an http(s) URL, got " + endpoint);
        }
        Optional<String> token = Optional.ofNullable(env.get("HF_TOKEN")).filter(ResolveOptions::nonEmpty);
        return new ResolveOptions(online, cache, uri, token);
    }

    private static boolean nonEmpty(String s) {
        return s != null && !s.isBlank();
    }
}
