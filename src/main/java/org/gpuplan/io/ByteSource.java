package org.gpuplan.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.gpuplan.model.InvalidInputException;

/**
 * Random-access bytes of a model file: a file on disk (read on demand, never mapped whole) or an array in tests.
 * Readers only ever ask for ranges they have checked against {@link #size()}.
 */
interface ByteSource extends AutoCloseable {

    long size();

    /** Fills {@code dst} from {@code position}; fails with a clear error if the source ends first. */
    void read(long position, byte[] dst, int offset, int length);

    @Override
    void close();

    static ByteSource of(byte[] bytes) {
        return new ByteSource() {
            @Override
            public long size() {
                return bytes.length;
            }

            @Override
            public void read(long position, byte[] dst, int offset, int length) {
                if (position < 0 || position + length > bytes.length) {
                    throw new InvalidInputException("unexpected end of data at byte " + position);
                }
                System.arraycopy(bytes, (int) position, dst, offset, length);
            }

            @Override
            public void close() {
            }
        };
    }

    static ByteSource open(Path path) {
        try {
            FileChannel channel = FileChannel.open(path, StandardOpenOption.READ);
            long size = channel.size();
            return new ByteSource() {
                @Override
                public long size() {
                    return size;
                }

                @Override
                public void read(long position, byte[] dst, int offset, int length) {
                    ByteBuffer buf = ByteBuffer.wrap(dst, offset, length);
                    try {
                        long pos = position;
                        while (buf.hasRemaining()) {
                            int n = channel.read(buf, pos);
                            if (n < 0) {
                                throw new InvalidInputException(path.getFileName() + ": unexpected end of file at byte "
                                        + pos);
                            }
                            pos += n;
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }

                @Override
                public void close() {
                    try {
                        channel.close();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            };
        } catch (IOException e) {
            throw new InvalidInputException("cannot read " + path + ": " + e.getMessage(), e);
        }
    }
}
