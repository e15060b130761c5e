package org.gpuplan.io;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Optional;
import org.gpuplan.model.InvalidInputException;

/**
 * Downloads a model's config.json from the HuggingFace Hub (only with {@code --online}) using the Hub's URL layout
 * {@code <endpoint>/<org>/<name>/resolve/<revision>/config.json}, and stores it in the hub cache layout
 * ({@code models--org--name/snapshots/<commit>/config.json} plus {@code refs/main}) so later runs work offline.
 */
final class HubClient {

    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    private HubClient() {
    }

    static Path downloadConfig(String id, ResolveOptions options) {
        URI uri = URI.create(options.endpoint() + "/" + id + "/resolve/main/config.json");
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NORMAL).build();
        HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(TIMEOUT).GET()
                .header("User-Agent", "gpuplan");
        options.token().ifPresent(t -> request.header("Authorization", "Bearer " + t));
        HttpResponse<InputStream> response;
        try {
            response = client.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            throw new InvalidInputException("cannot reach the Hub at " + options.endpoint() + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InvalidInputException("download of " + id + " interrupted");
        }
        int status = response.statusCode();
        byte[] body;
        try (InputStream in = response.body()) {
            body = in.readNBytes(HfConfigParser.MAX_CONFIG_BYTES + 1);
        } catch (IOException e) {
            throw new InvalidInputException("download of " + id + " failed: " + e.getMessage());
        }
        if (status == 401 || status == 403) {
            throw new InvalidInputException("the Hub refused " + id + " (HTTP " + status + "): the model is gated or "
                    + "private; accept its licence on the Hub and set HF_TOKEN");
        }
        if (status == 404) {
            throw new InvalidInputException("model '" + id + "' has no config.json on the Hub (HTTP 404)");
        }
        if (status != 200) {
            throw new InvalidInputException("the Hub answered HTTP " + status + " for " + uri);
        }
        if (body.length > HfConfigParser.MAX_CONFIG_BYTES) {
            throw new InvalidInputException("config.json of " + id + " is larger than "
                    + HfConfigParser.MAX_CONFIG_BYTES + " bytes");
        }
        // validate before writing anything to the cache
        HfConfigParser.parse(new String(body, StandardCharsets.UTF_8), id, id + " config.json (Hub)");
        String commit = response.headers().firstValue("X-Repo-Commit").filter(c -> c.matches("[0-9a-f]{6,64}"))
                .orElse("main");
        return store(id, commit, body, options.hubCache());
    }

    private static Path store(String id, String commit, byte[] body, Path hubCache) {
        Path repo = hubCache.resolve(ModelResolver.cacheFolderName(id));
        Path snapshot = repo.resolve("snapshots").resolve(commit);
        Path target = snapshot.resolve("config.json");
        try {
            Files.createDirectories(snapshot);
            Path tmp = Files.createTempFile(snapshot, ".config", ".tmp");
            Files.write(tmp, body);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Path refs = repo.resolve("refs");
            Files.createDirectories(refs);
            Path refTmp = Files.createTempFile(refs, ".main", ".tmp");
            Files.writeString(refTmp, commit);
            Files.move(refTmp, refs.resolve("main"), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new InvalidInputException("cannot write to the HuggingFace cache " + hubCache + ": "
                    + e.getMessage());
        }
        return target;
    }

    static Optional<String> readRef(Path repo) {
        Path ref = repo.resolve("refs").resolve("main");
        try {
            if (Files.isRegularFile(ref) && Files.size(ref) < 256) {
                return Optional.of(Files.readString(ref).trim());
            }
        } catch (IOException e) {
            return Optional.empty();
        }
        return Optional.empty();
    }
}
