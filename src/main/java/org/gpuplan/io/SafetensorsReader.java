package org.gpuplan.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.model.InvalidInputException;

/**
 * Reads the header of a {@code .safetensors} file: an 8-byte little-endian length N followed by N bytes of JSON
 * mapping tensor names to {@code dtype}, {@code shape} and {@code data_offsets}. Tensor data is never read. The
 * header is parsed as a stream, so its size (capped at 100 MB, as the safetensors format itself does) bounds memory.
 */
public final class SafetensorsReader {

    /** The safetensors library refuses headers above 100,000,000 bytes; so do we. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;
    static final int MAX_DIMS = 16;

    /** Bits per element of each safetensors dtype. */
    private static final Map<String, Integer> DTYPE_BITS = Map.ofEntries(
            Map.entry("BOOL", 8), Map.entry("U8", 8), Map.entry("I8", 8), Map.entry("F8_E5M2", 8),
            Map.entry("F8_E4M3", 8), Map.entry("F8_E8M0", 8), Map.entry("I16", 16), Map.entry("U16", 16),
            Map.entry("F16", 16), Map.entry("BF16", 16), Map.entry("I32", 32), Map.entry("U32", 32),
            Map.entry("F32", 32), Map.entry("F64", 64), Map.entry("I64", 64), Map.entry("U64", 64),
            Map.entry("C64", 64), Map.entry("F4", 4), Map.entry("F6_E2M3", 6), Map.entry("F6_E3M2", 6));

    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(8)
                    .maxStringLength((int) MAX_HEADER_BYTES).maxNumberLength(32).build())
            .build();

    private SafetensorsReader() {
    }

    /** Reads one file's header into a new summary. */
    public static TensorSummary read(ByteSource source, String where, int mainLayers) {
        TensorSummary.Builder builder = new TensorSummary.Builder("safetensors", mainLayers);
        readInto(source, where, builder);
        return builder.build(Optional.empty());
    }

    static void readInto(ByteSource source, String where, TensorSummary.Builder builder) {
        long size = source.size();
        if (size < 8) {
            throw new InvalidInputException(where + ": not a safetensors file (" + size + " bytes, the 8-byte header "
                    + "length is missing)");
        }
        byte[] lenBytes = new byte[8];
        source.read(0, lenBytes, 0, 8);
        long headerLen = 0;
        for (int i = 7; i >= 0; i--) {
            headerLen = (headerLen << 8) | (lenBytes[i] & 0xFF);
        }
        if (headerLen < 0 || headerLen > MAX_HEADER_BYTES) {
            throw new InvalidInputException(where + ": safetensors header length " + Long.toUnsignedString(headerLen)
                    + " exceeds the 100 MB limit (corrupt or not a safetensors file)");
        }
        if (headerLen > size - 8) {
            throw new InvalidInputException(where + ": truncated safetensors file: the header claims " + headerLen
                    + " bytes but only " + (size - 8) + " follow");
        }
        if (headerLen < 2) {
            throw new InvalidInputException(where + ": safetensors header is empty");
        }
        byte[] header = new byte[(int) headerLen];
        source.read(8, header, 0, header.length);
        long dataLen = size - 8 - headerLen;
        builder.file();
        parseHeader(header, dataLen, where, builder);
    }

    private static void parseHeader(byte[] header, long dataLen, String where, TensorSummary.Builder builder) {
        try (JsonParser p = FACTORY.createParser(header)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw bad(where, "the header is not a JSON object");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                if ("__metadata__".equals(name)) {
                    p.skipChildren();
                    continue;
                }
                if (t != JsonToken.START_OBJECT) {
                    throw bad(where, "tensor '" + shorten(name) + "' is not an object");
                }
                tensor(p, name, dataLen, where, builder);
            }
            if (p.currentToken() != JsonToken.END_OBJECT) {
                throw bad(where, "the header JSON is malformed");
            }
        } catch (IOException e) {
            throw bad(where, "the header is not valid JSON (" + HfConfigParser.firstLine(e.getMessage()) + ")");
        } catch (ArithmeticException e) {
            throw bad(where, "element counts overflow a 64-bit integer");
        }
    }

    private static void tensor(JsonParser p, String name, long dataLen, String where, TensorSummary.Builder builder)
            throws IOException {
        String dtype = null;
        long elements = -1;
        long begin = -1;
        long end = -1;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String field = p.currentName();
            JsonToken t = p.nextToken();
            switch (field) {
                case "dtype" -> {
                    if (t != JsonToken.VALUE_STRING) {
                        throw bad(where, "tensor '" + shorten(name) + "': dtype must be a string");
                    }
                    dtype = p.getText().toUpperCase(Locale.ROOT);
                }
                case "shape" -> elements = shape(p, t, name, where);
                case "data_offsets" -> {
                    long[] offsets = offsets(p, t, name, where);
                    begin = offsets[0];
                    end = offsets[1];
                }
                default -> p.skipChildren();
            }
        }
        if (dtype == null || elements < 0 || begin < 0) {
            throw bad(where, "tensor '" + shorten(name) + "' lacks dtype, shape or data_offsets");
        }
        Integer bits = DTYPE_BITS.get(dtype);
        if (bits == null) {
            throw bad(where, "tensor '" + shorten(name) + "' has unknown dtype '" + shorten(dtype) + "' (accepted: "
                    + String.join(", ", new java.util.TreeSet<>(DTYPE_BITS.keySet())) + ")");
        }
        if (end < begin || end > dataLen) {
            throw bad(where, "tensor '" + shorten(name) + "' data_offsets [" + begin + ", " + end
                    + "] lie outside the " + dataLen + "-byte data section (truncated or lying header)");
        }
        long needed = Math.multiplyExact(elements, (long) bits);
        needed = needed / 8 + (needed % 8 == 0 ? 0 : 1);
        if (end - begin != needed) {
            throw bad(where, "tensor '" + shorten(name) + "' spans " + (end - begin) + " bytes but its shape and dtype "
                    + dtype + " need " + needed);
        }
        builder.add(name, dtype, elements, end - begin);
    }

    private static long shape(JsonParser p, JsonToken t, String name, String where) throws IOException {
        if (t != JsonToken.START_ARRAY) {
            throw bad(where, "tensor '" + shorten(name) + "': shape must be a list of integers");
        }
        long product = 1;
        int dims = 0;
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (p.currentToken() != JsonToken.VALUE_NUMBER_INT || ++dims > MAX_DIMS) {
                throw bad(where, "tensor '" + shorten(name) + "': shape must be a list of at most " + MAX_DIMS
                        + " non-negative integers");
            }
            long d = p.getLongValue();
            if (d < 0) {
                throw bad(where, "tensor '" + shorten(name) + "': negative dimension " + d + " in shape");
            }
            product = Math.multiplyExact(product, d);
        }
        return product;
    }

    private static long[] offsets(JsonParser p, JsonToken t, String name, String where) throws IOException {
        if (t != JsonToken.START_ARRAY) {
            throw bad(where, "tensor '" + shorten(name) + "': data_offsets must be [begin, end]");
        }
        long[] out = new long[2];
        int i = 0;
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (p.currentToken() != JsonToken.VALUE_NUMBER_INT || i >= 2 || p.getLongValue() < 0) {
                throw bad(where, "tensor '" + shorten(name) + "': data_offsets must be two non-negative integers");
            }
            out[i++] = p.getLongValue();
        }
        if (i != 2) {
            throw bad(where, "tensor '" + shorten(name) + "': data_offsets must be [begin, end]");
        }
        return out;
    }

    private static InvalidInputException bad(String where, String what) {
        return new InvalidInputException(where + ": " + what);
    }

    static String shorten(String s) {
        String clean = new String(s.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8)
                .replaceAll("\\p{Cntrl}", "?");
        return clean.length() > 80 ? clean.substring(0, 80) + "…" : clean;
    }
}
