package org.gpuplan.memory;

/** Small arithmetic helpers for byte terms. */
final class Bytes {
    static final long MIB = 1L << 20;
    static final long GIB = 1L << 30;

    private Bytes() {
    }

    static long ceil(double bytes) {
        if (bytes < 0 || Double.isNaN(bytes)) {
            return 0;
        }
        return (long) Math.ceil(bytes);
    }

    static String mib(long b) {
        return String.format(java.util.Locale.ROOT, "%.1f MiB", b / (double) MIB);
    }

    static String gib(long b) {
        return String.format(java.util.Locale.ROOT, "%.2f GiB", b / (double) GIB);
    }
}
