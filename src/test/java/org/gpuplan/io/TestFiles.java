package org.gpuplan.io;

import org.gpuplan.model.GgmlType;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes small, valid safetensors and GGUF files for tests (zero-filled tensor data). */
final class TestFiles {
    private TestFiles() {
    }

    record Tensor(String name, String dtype, long... shape) {
    }

    static int bits(String dtype) {
        return switch (dtype) {
            case "F32", "I32", "U32" -> 32;
            case "F16", "BF16", "I16", "U16" -> 16;
            case "F64", "I64", "U64" -> 64;
            case "F4" -> 4;
            default -> 8;
        };
    }

    /** A safetensors file with the given tensors laid out contiguously. */
    static byte[] safetensors(List<Tensor> tensors) {
        StringBuilder json = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (Tensor t : tensors) {
            long n = 1;
            for (long d : t.shape()) {
                n *= d;
            }
            long bytes = (n * bits(t.dtype()) + 7) / 8;
            json.append(",\"").append(t.name()).append("\":{\"dtype\":\"").append(t.dtype()).append("\",\"shape\":[");
            for (int i = 0; i < t.shape().length; i++) {
                json.append(i == 0 ? "" : ",").append(t.shape()[i]);
            }
            json.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        json.append('}');
        return withHeader(json.toString(), offset);
    }

    static byte[] withHeader(String header, long dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer buf = ByteBuffer.allocate((int) (8 + h.length + dataBytes)).order(ByteOrder.LITTLE_ENDIAN);
        buf.putLong(h.length);
        buf.put(h);
        return buf.array();
    }

    /** GGUF builder: metadata key/values and a tensor table, data zero-filled. */
    static final class Gguf {
        private final Map<String, Object> kv = new LinkedHashMap<>();
        private final List<Object[]> tensors = new ArrayList<>();
        private int version = 3;

        Gguf version(int v) {
            version = v;
            return this;
        }

        Gguf kv(String key, Object value) {
            kv.put(key, value);
            return this;
        }

        Gguf tensor(String name, GgmlType type, long... dims) {
            tensors.add(new Object[] {name, type, dims});
            return this;
        }

        byte[] build() {
            Out out = new Out();
            out.u32(GgufReader.MAGIC);
            out.u32(version);
            out.u64(tensors.size());
            out.u64(kv.size());
            for (Map.Entry<String, Object> e : kv.entrySet()) {
                out.str(e.getKey());
                Object v = e.getValue();
                if (v instanceof Integer i) {
                    out.u32(4);
                    out.u32(i);
                } else if (v instanceof Long l) {
                    out.u32(10);
                    out.u64(l);
                } else if (v instanceof Float f) {
                    out.u32(6);
                    out.u32(Float.floatToIntBits(f));
                } else if (v instanceof Boolean b) {
                    out.u32(7);
                    out.u8(b ? 1 : 0);
                } else if (v instanceof String s) {
                    out.u32(8);
                    out.str(s);
                } else if (v instanceof String[] arr) {
                    out.u32(9);
                    out.u32(8);
                    out.u64(arr.length);
                    for (String s : arr) {
                        out.str(s);
                    }
                } else if (v instanceof int[] arr) {
                    out.u32(9);
                    out.u32(5);
                    out.u64(arr.length);
                    for (int x : arr) {
                        out.u32(x);
                    }
                } else {
                    throw new IllegalArgumentException("unsupported test value " + v);
                }
            }
            long offset = 0;
            List<Long> sizes = new ArrayList<>();
            for (Object[] t : tensors) {
                GgmlType type = (GgmlType) t[1];
                long[] dims = (long[]) t[2];
                out.str((String) t[0]);
                out.u32(dims.length);
                long n = 1;
                for (long d : dims) {
                    out.u64(d);
                    n *= d;
                }
                out.u32(type.id());
                out.u64(offset);
                long bytes = type.bytesFor(n);
                sizes.add(bytes);
                offset += (bytes + 31) / 32 * 32;
            }
            while (out.size() % 32 != 0) {
                out.u8(0);
            }
            byte[] header = out.bytes();
            byte[] file = new byte[(int) (header.length + offset)];
            System.arraycopy(header, 0, file, 0, header.length);
            return file;
        }
    }

    private static final class Out {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        void u8(int v) {
            bytes.write(v);
        }

        void u32(long v) {
            for (int i = 0; i < 4; i++) {
                bytes.write((int) (v >>> (8 * i)));
            }
        }

        void u64(long v) {
            for (int i = 0; i < 8; i++) {
                bytes.write((int) (v >>> (8 * i)));
            }
        }

        void str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes.writeBytes(b);
        }

        int size() {
            return bytes.size();
        }

        byte[] bytes() {
            return bytes.toByteArray();
        }
    }
}
