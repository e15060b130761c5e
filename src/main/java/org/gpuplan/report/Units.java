package org.gpuplan.report;

import java.util.Locale;

/** Number formatting shared by the text reports. GB = 10^9 bytes, GiB = 2^30 bytes, always labelled. */
public final class Units {
    public static final double GIB = 1024.0 * 1024 * 1024;
    public static final double GB = 1e9;

    private Units() {
    }

    public static String count(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }

    /** 8,030,261,248 → "8.03 B"; 124,439,808 → "124.4 M". */
    public static String shortCount(long n) {
        if (n >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2f B", n / 1e9);
        }
        if (n >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.1f M", n / 1e6);
        }
        if (n >= 1_000L) {
            return String.format(Locale.ROOT, "%.1f K", n / 1e3);
        }
        return Long.toString(n);
    }

    /** "16.06 GB (14.96 GiB)", "139.3 MB (132.8 MiB)", "10,240 bytes". */
    public static String bytes(long b) {
        if (b < 1_000_000L) {
            return String.format(Locale.ROOT, "%,d bytes", b);
        }
        if (b < 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.1f MB (%.1f MiB)", b / 1e6, b / 1048576.0);
        }
        return String.format(Locale.ROOT, "%.2f GB (%.2f GiB)", b / GB, b / GIB);
    }
}
