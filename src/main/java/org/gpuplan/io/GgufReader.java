package org.gpuplan.io;

import org.gpuplan.model.GgmlType;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.gpuplan.model.InvalidInputException;

/**
 * Reads a GGUF (v2/v3) header: magic, version, tensor and key/value counts, the metadata key/values and the tensor
 * table. Tensor data is never read. Every count and length from the file is checked against the bytes that remain
 * before anything is allocated, so lying headers fail fast with a clear error instead of exhausting memory.
 */
public final class GgufReader {

    static final int MAGIC = 0x46554747; // "GGUF" little-endian
    static final long MAX_KEY_BYTES = 65_536;
    static final int MAX_KEPT_STRING = 4_096;
    static final int MAX_KEPT_ARRAY = 4_096;
    static final int MAX_DIMS = 8;
    /** Real files carry a few dozen metadata keys; this bound keeps a hostile header from filling memory. */
    static final long MAX_KV = 100_000;
    static final long MAX_DIM = 1L << 40;

    private static final int T_U8 = 0;
    private static final int T_I8 = 1;
    private static final int T_U16 = 2;
    private static final int T_I16 = 3;
    private static final int T_U32 = 4;
    private static final int T_I32 = 5;
    private static final int T_F32 = 6;
    private static final int T_BOOL = 7;
    private static final int T_STRING = 8;
    private static final int T_ARRAY = 9;
    private static final int T_U64 = 10;
    private static final int T_I64 = 11;
    private static final int T_F64 = 12;

    private GgufReader() {
    }

    public static GgufFile read(ByteSource source, String where) {
        Cursor in = new Cursor(source, where);
        if (source.size() < 24) {
            throw new InvalidInputException(where + ": not a GGUF file (too short: " + source.size() + " bytes)");
        }
        int magic = in.u32AsInt();
        if (magic != MAGIC) {
            throw new InvalidInputException(where + ": not a GGUF file (bad magic)");
        }
        long version = in.u32();
        if (version == 1) {
            throw new InvalidInputException(where + ": GGUF version 1 is not supported (accepted: 2, 3); convert the "
                    + "file with a current llama.cpp");
        }
        if (version != 2 && version != 3) {
            throw new InvalidInputException(where + ": unsupported GGUF version " + version + " (accepted: 2, 3)");
        }
        long tensorCount = in.u64();
        long kvCount = in.u64();
        // a tensor info takes at least 28 bytes, a key/value at least 13: counts beyond that are lies
        if (tensorCount < 0 || tensorCount > in.remaining() / 28) {
            throw new InvalidInputException(where + ": tensor count " + Long.toUnsignedString(tensorCount)
                    + " does not fit in the file (corrupt or truncated header)");
        }
        if (kvCount < 0 || kvCount > MAX_KV || kvCount > in.remaining() / 13) {
            throw new InvalidInputException(where + ": metadata count " + Long.toUnsignedString(kvCount)
                    + " does not fit in the file (corrupt or truncated header)");
        }
        Map<String, Object> metadata = new HashMap<>();
        Map<String, Long> arrayLengths = new HashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.string(MAX_KEY_BYTES, "metadata key");
            int type = (int) in.u32();
            Object value = value(in, type, key, arrayLengths, 0);
            if (value != null) {
                metadata.put(key, value);
            }
        }
        long alignment = 32;
        Object a = metadata.get("general.alignment");
        if (a instanceof Long l) {
            if (l <= 0 || l > (1 << 20) || Long.bitCount(l) != 1) {
                throw new InvalidInputException(where + ": general.alignment " + l + " is not a power of two");
            }
            alignment = l;
        }
        TensorSummary.Builder builder = new TensorSummary.Builder("gguf", -1);
        builder.file();
        // One pass over the tensor table, aggregating as we go; only the furthest data end is remembered, and it is
        // checked against the file once the data section's start is known.
        long furthestEnd = 0;
        String furthestName = "";
        for (long i = 0; i < tensorCount; i++) {
            String name = in.string(MAX_KEY_BYTES, "tensor name");
            long dims = in.u32();
            if (dims < 1 || dims > MAX_DIMS) {
                throw new InvalidInputException(where + ": tensor '" + SafetensorsReader.shorten(name) + "' has " + dims
                        + " dimensions (accepted: 1 to " + MAX_DIMS + ")");
            }
            long elements = 1;
            long first = 0;
            for (int d = 0; d < dims; d++) {
                long n = in.u64();
                if (n < 0 || n > MAX_DIM) {
                    throw new InvalidInputException(where + ": tensor '" + SafetensorsReader.shorten(name)
                            + "' has an absurd dimension " + Long.toUnsignedString(n));
                }
                if (d == 0) {
                    first = n;
                }
                try {
                    elements = Math.multiplyExact(elements, n);
                } catch (ArithmeticException e) {
                    throw new InvalidInputException(where + ": tensor '" + SafetensorsReader.shorten(name)
                            + "' element count overflows");
                }
            }
            long typeId = in.u32();
            GgmlType type = GgmlType.byId(typeId).orElseThrow(() -> new InvalidInputException(where + ": tensor '"
                    + SafetensorsReader.shorten(name) + "' has unknown GGML type id " + typeId));
            if (first % type.blockSize() != 0) {
                throw new InvalidInputException(where + ": tensor '" + SafetensorsReader.shorten(name) + "' row length "
                        + first + " is not a multiple of the " + type + " block size " + type.blockSize());
            }
            long offset = in.u64();
            long bytes;
            long end;
            try {
                bytes = type.bytesFor(elements);
                end = Math.addExact(offset, bytes);
            } catch (ArithmeticException e) {
                throw new InvalidInputException(where + ": tensor '" + SafetensorsReader.shorten(name)
                        + "' size overflows");
            }
            if (offset < 0 || end > source.size()) {
                throw new InvalidInputException(where + ": tensor '" + SafetensorsReader.shorten(name)
                        + "' data (offset " + Long.toUnsignedString(offset) + ", " + bytes
                        + " bytes) extends past the end of the file (truncated or lying header)");
            }
            if (end > furthestEnd) {
                furthestEnd = end;
                furthestName = name;
            }
            builder.add(name, type.name(), elements, bytes);
        }
        long dataStart = (in.position() + alignment - 1) / alignment * alignment;
        if (tensorCount > 0 && furthestEnd > source.size() - dataStart) {
            throw new InvalidInputException(where + ": tensor '" + SafetensorsReader.shorten(furthestName)
                    + "' data ends " + furthestEnd + " bytes into the data section, but the file holds only "
                    + Math.max(0, source.size() - dataStart) + " (truncated or lying header)");
        }
        return new GgufFile((int) version, metadata, arrayLengths, builder.build(Optional.empty()));
    }

    private static Object value(Cursor in, int type, String key, Map<String, Long> arrayLengths, int depth) {
        switch (type) {
            case T_U8:
                return (long) in.u8();
            case T_I8:
                return (long) (byte) in.u8();
            case T_U16:
                return in.uN(2);
            case T_I16:
                return (long) (short) in.uN(2);
            case T_U32:
                return in.u32();
            case T_I32:
                return (long) in.u32AsInt();
            case T_F32:
                return (double) Float.intBitsToFloat(in.u32AsInt());
            case T_BOOL:
                return in.u8() != 0;
            case T_STRING: {
                long len = in.u64();
                in.checkLength(len, "string value of '" + SafetensorsReader.shorten(key) + "'");
                if (len > MAX_KEPT_STRING) {
                    in.skip(len);
                    arrayLengths.put(key, len);
                    return null;
                }
                return in.text((int) len);
            }
            case T_U64:
            case T_I64:
                return in.u64();
            case T_F64:
                return Double.longBitsToDouble(in.u64());
            case T_ARRAY:
                return array(in, key, arrayLengths, depth);
            default:
                throw new InvalidInputException(in.where + ": metadata '" + SafetensorsReader.shorten(key)
                        + "' has unknown value type " + type);
        }
    }

    private static Object array(Cursor in, String key, Map<String, Long> arrayLengths, int depth) {
        if (depth > 2) {
            throw new InvalidInputException(in.where + ": metadata '" + SafetensorsReader.shorten(key)
                    + "' nests arrays too deeply");
        }
        int elemType = (int) in.u32();
        long count = in.u64();
        int fixed = fixedSize(elemType);
        long minBytes = fixed > 0 ? fixed : 8;
        if (count < 0 || count > in.remaining() / minBytes) {
            throw new InvalidInputException(in.where + ": metadata array '" + SafetensorsReader.shorten(key)
                    + "' claims " + Long.toUnsignedString(count) + " elements, more than the file holds");
        }
        arrayLengths.put(key, count);
        boolean keep = count <= MAX_KEPT_ARRAY && fixed > 0 && elemType != T_F32 && elemType != T_F64
                && elemType != T_BOOL;
        if (fixed > 0 && !keep) {
            in.skip(count * fixed);
            return null;
        }
        long[] kept = keep ? new long[(int) count] : null;
        for (long i = 0; i < count; i++) {
            if (elemType == T_STRING) {
                long len = in.u64();
                in.checkLength(len, "array element of '" + SafetensorsReader.shorten(key) + "'");
                in.skip(len);
            } else if (elemType == T_ARRAY) {
                array(in, key, new HashMap<>(), depth + 1);
            } else {
                Object v = value(in, elemType, key, arrayLengths, depth);
                if (kept != null && v instanceof Long l) {
                    kept[(int) i] = l;
                }
            }
        }
        if (fixedSize(elemType) <= 0 && elemType != T_STRING && elemType != T_ARRAY) {
            throw new InvalidInputException(in.where + ": metadata array '" + SafetensorsReader.shorten(key)
                    + "' has unknown element type " + elemType);
        }
        return kept;
    }

    private static int fixedSize(int type) {
        return switch (type) {
            case T_U8, T_I8, T_BOOL -> 1;
            case T_U16, T_I16 -> 2;
            case T_U32, T_I32, T_F32 -> 4;
            case T_U64, T_I64, T_F64 -> 8;
            case T_STRING, T_ARRAY -> 0;
            default -> -1;
        };
    }

    /** Sequential little-endian reads over a {@link ByteSource} through a small window buffer. */
    private static final class Cursor {
        private final ByteSource source;
        private final String where;
        private final byte[] window = new byte[1 << 16];
        private long windowStart;
        private int windowLen;
        private long pos;

        Cursor(ByteSource source, String where) {
            this.source = source;
            this.where = where;
        }

        long position() {
            return pos;
        }

        long remaining() {
            return source.size() - pos;
        }

        void checkLength(long len, String what) {
            if (len < 0 || len > remaining()) {
                throw new InvalidInputException(where + ": " + what + " claims " + Long.toUnsignedString(len)
                        + " bytes, more than the file holds (truncated or lying header)");
            }
        }

        private void need(int n) {
            if (n > remaining()) {
                throw new InvalidInputException(where + ": unexpected end of file at byte " + pos
                        + " (truncated header)");
            }
            if (pos < windowStart || pos + n > windowStart + windowLen) {
                windowStart = pos;
                windowLen = (int) Math.min(window.length, source.size() - pos);
                source.read(pos, window, 0, windowLen);
            }
        }

        int u8() {
            need(1);
            return window[(int) (pos++ - windowStart)] & 0xFF;
        }

        long uN(int n) {
            need(n);
            long v = 0;
            int base = (int) (pos - windowStart);
            for (int i = n - 1; i >= 0; i--) {
                v = (v << 8) | (window[base + i] & 0xFF);
            }
            pos += n;
            return v;
        }

        long u32() {
            return uN(4);
        }

        int u32AsInt() {
            return (int) uN(4);
        }

        long u64() {
            return uN(8);
        }

        void skip(long n) {
            checkLength(n, "a field");
            pos += n;
        }

        String string(long max, String what) {
            long len = u64();
            checkLength(len, what);
            if (len > max) {
                throw new InvalidInputException(where + ": " + what + " is " + Long.toUnsignedString(len)
                        + " bytes long (at most " + max + ")");
            }
            return text((int) len);
        }

        String text(int len) {
            byte[] out = new byte[len];
            int done = 0;
            while (done < len) {
                int chunk = Math.min(window.length, len - done);
                need(chunk);
                System.arraycopy(window, (int) (pos - windowStart), out, done, chunk);
                pos += chunk;
                done += chunk;
            }
            return new String(out, StandardCharsets.UTF_8);
        }
    }
}
