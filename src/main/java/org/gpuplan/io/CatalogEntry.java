package org.gpuplan.io;

/**
 * One model of the built-in catalog: a verbatim config.json in resources and where it was copied from.
 *
 * @param id        HuggingFace id, e.g. {@code meta-llama/Llama-3.1-8B}
 * @param file      resource file name under {@code gpuplan/models/}
 * @param source    where the config values were copied from
 * @param retrieved date the copy was made (ISO-8601)
 * @param notes     caveats about the copy
 */
public record CatalogEntry(String id, String file, String source, String retrieved, String notes) {
}
