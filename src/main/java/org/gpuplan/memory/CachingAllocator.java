package org.gpuplan.memory;


/**
 * PyTorch's CUDA caching allocator (c10/cuda/CUDACachingAllocator.cpp, native backend, default settings, one stream)
 * as it turns a sequence of tensor allocations and frees into reserved memory. What it does, as documented in
 * PyTorch's "CUDA memory management" notes and that file:
 * <ul>
 * <li>a request is rounded up to a multiple of 512 B; requests up to 1 MiB come from the small pool, larger ones from
 * the large pool;</li>
 * <li>a request takes the smallest cached free block of its pool that is large enough (best fit, lowest address on a
 * tie); a block is split when what remains is at least 512 B (small pool) or more than 1 MiB (large pool), else the
 * whole block is handed out;</li>
 * <li>with no fitting block, a new segment is taken from the driver: 2 MiB for the small pool, 20 MiB for requests
 * under 10 MiB, else the request rounded up to 2 MiB;</li>
 * <li>a freed block merges with free neighbours of its segment and goes back to the pool; segments are not returned
 * to the driver unless a new one would not fit in the device, when every wholly free segment is released first.</li>
 * </ul>
 * Reserved memory is the sum of the segments; it depends on the order of requests, which is why a closed formula
 * over byte totals does not follow it. Written from the documented behaviour; no code is copied.
 */
final class CachingAllocator {

    static final long MIN_BLOCK = 512;
    static final long SMALL_SIZE = Bytes.MIB;
    static final long SMALL_BUFFER = 2 * Bytes.MIB;
    static final long LARGE_BUFFER = 20 * Bytes.MIB;
    static final long MIN_LARGE_ALLOC = 10 * Bytes.MIB;
    static final long ROUND_LARGE = 2 * Bytes.MIB;

    /** A block of a segment; mutable while the emulation runs. */
    private static final class Block {
        final Segment segment;
        final long address;
        long size;
        boolean allocated;
        Block prev;
        Block next;

        Block(Segment segment, long address, long size) {
            this.segment = segment;
            this.address = address;
            this.size = size;
        }
    }

    private record Segment(boolean small, long size) {
    }

    /**
     * Free blocks of one pool: smallest first, lowest address on a tie (the allocator's BlockComparator, one stream).
     * Kept as blocks by size, each size's blocks by address: a replay reuses a few dozen sizes over and over, so a
     * search walks the sizes, not every free block.
     */
    private static final class Pool {
        /** Blocks of one size by address. */
        private static final class Bucket {
            Block[] blocks = new Block[2];
            int n;
        }

        private final java.util.TreeMap<Long, Bucket> bySize = new java.util.TreeMap<>();
        /** Emptied buckets for reuse: sizes come and go at every step of a replay. */
        private final java.util.ArrayDeque<Bucket> spare = new java.util.ArrayDeque<>();
        private int count;

        /** The best-fitting free block for {@code size}, left in the pool; null when none fits. */
        Block peek(long size) {
            java.util.Map.Entry<Long, Bucket> e = bySize.ceilingEntry(size);
            return e == null ? null : e.getValue().blocks[0];
        }

        /** The best-fitting free block for {@code size}, taken out of the pool; null when none fits. */
        Block take(long size) {
            java.util.Map.Entry<Long, Bucket> e = bySize.ceilingEntry(size);
            if (e == null) {
                return null;
            }
            Block out = e.getValue().blocks[0];
            removeAt(e.getValue(), 0, e.getKey());
            return out;
        }

        void add(Block block) {
            Bucket b = bySize.get(block.size);
            if (b == null) {
                b = spare.isEmpty() ? new Bucket() : spare.pop();
                bySize.put(block.size, b);
            }
            if (b.n == b.blocks.length) {
                b.blocks = java.util.Arrays.copyOf(b.blocks, 2 * b.n);
            }
            int i = b.n;
            while (i > 0 && b.blocks[i - 1].address > block.address) {
                b.blocks[i] = b.blocks[i - 1];
                i--;
            }
            b.blocks[i] = block;
            b.n++;
            count++;
        }

        void remove(Block block) {
            Bucket b = bySize.get(block.size);
            if (b == null) {
                return;
            }
            for (int i = 0; i < b.n; i++) {
                if (b.blocks[i] == block) {
                    removeAt(b, i, block.size);
                    return;
                }
            }
        }

        private void removeAt(Bucket b, int i, long size) {
            System.arraycopy(b.blocks, i + 1, b.blocks, i, b.n - i - 1);
            b.blocks[--b.n] = null;
            count--;
            if (b.n == 0) {
                bySize.remove(size);
                spare.push(b);
            }
        }

        int size() {
            return count;
        }
    }

    private final Pool smallPool = new Pool();
    private final Pool largePool = new Pool();
    private final long capacity;
    private final java.util.List<Block> segments = new java.util.ArrayList<>();
    private final boolean expandable;
    /** The last block of each pool's expandable segment (null before its first page). */
    private Block smallTail;
    private Block largeTail;
    private long smallMapped;
    private long largeMapped;
    private long nextAddress;
    private long allocated;
    private long reserved;
    private long peakAllocated;
    private long peakReserved;

    /** @param capacity bytes the device can give this process's segments (Long.MAX_VALUE: unlimited) */
    CachingAllocator(long capacity) {
        this(capacity, false);
    }

    /**
     * @param expandable PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True: each pool is one segment whose physical
     *                   memory grows at its end, in 20 MiB pages (large pool) or 2 MiB pages (small pool), by what a
     *                   request needs beyond the free block at the end; blocks inside split and merge as usual
     */
    CachingAllocator(long capacity, boolean expandable) {
        if (capacity <= 0) {
            throw new IllegalArgumentException("capacity must be positive");
        }
        this.capacity = capacity;
        this.expandable = expandable;
    }

    static long roundSize(long bytes) {
        return bytes < MIN_BLOCK ? MIN_BLOCK : roundUp(bytes, MIN_BLOCK);
    }

    static long segmentSize(long rounded) {
        if (rounded <= SMALL_SIZE) {
            return SMALL_BUFFER;
        }
        return rounded < MIN_LARGE_ALLOC ? LARGE_BUFFER : roundUp(rounded, ROUND_LARGE);
    }

    private static long roundUp(long bytes, long unit) {
        return (bytes + unit - 1) / unit * unit;
    }

    /** The rules in a phrase, for explanations. */
    static String rules(boolean expandable) {
        return expandable ? "expandable_segments: 512 B rounding, one segment per pool growing in 20 MiB / 2 MiB "
                + "pages, best fit, splitting" : "512 B rounding, 2 MiB / 20 MiB / 2 MiB-rounded segments, best fit, "
                + "splitting, cached segments released only when the device is full";
    }

    /** Allocates a tensor of {@code bytes}; the handle is passed back to {@link #free}. */
    Object allocate(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative allocation");
        }
        long size = roundSize(bytes);
        boolean small = size <= SMALL_SIZE;
        Pool pool = small ? smallPool : largePool;
        Block block = pool.take(size);
        if (block == null) {
            block = expandable ? grow(small, size) : newSegment(small, size);
        }
        long remaining = block.size - size;
        if (shouldSplit(small, remaining)) {
            Block rest = new Block(block.segment, block.address + size, remaining);
            rest.prev = block;
            rest.next = block.next;
            if (block.next != null) {
                block.next.prev = rest;
            }
            block.next = rest;
            block.size = size;
            pool.add(rest);
            if (block == tail(small)) {
                setTail(small, rest);
            }
        }
        block.allocated = true;
        allocated += block.size;
        peakAllocated = Math.max(peakAllocated, allocated);
        return block;
    }

    /**
     * A tensor allocated and freed before anything else is requested: the block it takes merges back into the same
     * free block, so the pools end as they were unless no cached block fitted and a segment had to be added.
     */
    void allocateAndFree(long bytes) {
        if (expandable) {
            free(allocate(bytes));
            return;
        }
        long size = roundSize(bytes);
        boolean small = size <= SMALL_SIZE;
        Pool pool = small ? smallPool : largePool;
        Block block = pool.peek(size);
        if (block == null) {
            block = newSegment(small, size);
            pool.add(block);
        }
        boolean split = shouldSplit(small, block.size - size);
        peakAllocated = Math.max(peakAllocated, allocated + (split ? size : block.size));
    }

    void free(Object handle) {
        Block block = (Block) handle;
        if (!block.allocated) {
            throw new IllegalStateException("double free");
        }
        block.allocated = false;
        allocated -= block.size;
        Pool pool = block.segment.small() ? smallPool : largePool;
        boolean small = block.segment.small();
        Block prev = block.prev;
        if (prev != null && !prev.allocated) {
            pool.remove(prev);
            prev.size += block.size;
            prev.next = block.next;
            if (block.next != null) {
                block.next.prev = prev;
            }
            if (block == tail(small)) {
                setTail(small, prev);
            }
            block = prev;
        }
        Block next = block.next;
        if (next != null && !next.allocated) {
            pool.remove(next);
            block.size += next.size;
            block.next = next.next;
            if (next.next != null) {
                next.next.prev = block;
            }
            if (next == tail(small)) {
                setTail(small, block);
            }
        }
        pool.add(block);
    }

    /**
     * Maps pages at the end of the pool's expandable segment until a block of {@code size} fits there: the free block
     * at the end grows, or a new block follows an allocated one. Returns that block, out of the pool.
     */
    private Block grow(boolean small, long size) {
        long page = small ? SMALL_BUFFER : LARGE_BUFFER;
        Block tail = tail(small);
        long free = tail != null && !tail.allocated ? tail.size : 0;
        long pages = roundUp(size - free, page);
        reserved += pages;
        peakReserved = Math.max(peakReserved, reserved);
        if (small) {
            smallMapped += pages;
        } else {
            largeMapped += pages;
        }
        if (free > 0) {
            (small ? smallPool : largePool).remove(tail);
            tail.size += pages;
            return tail;
        }
        Segment segment = tail != null ? tail.segment : new Segment(small, 0);
        Block block = new Block(segment, tail != null ? tail.address + tail.size : nextAddress, pages);
        if (tail != null) {
            tail.next = block;
            block.prev = tail;
        } else {
            nextAddress += 1L << 50; // the segment's virtual range
        }
        setTail(small, block);
        return block;
    }

    private Block tail(boolean small) {
        return small ? smallTail : largeTail;
    }

    private void setTail(boolean small, Block b) {
        if (!expandable) {
            return;
        }
        if (small) {
            smallTail = b;
        } else {
            largeTail = b;
        }
    }

    /** A block is split when what remains is at least 512 B (small pool) or more than 1 MiB (large pool). */
    private static boolean shouldSplit(boolean small, long remaining) {
        return small ? remaining >= MIN_BLOCK : remaining > SMALL_SIZE;
    }

    /** A new segment for a request of {@code rounded} bytes, after releasing the cache when the device is full. */
    private Block newSegment(boolean small, long rounded) {
        long size = segmentSize(rounded);
        if (reserved + size > capacity) {
            releaseFreeSegments();
        }
        Segment segment = new Segment(small, size);
        Block block = new Block(segment, nextAddress, size);
        nextAddress += size;
        segments.add(block);
        reserved += size;
        peakReserved = Math.max(peakReserved, reserved);
        return block;
    }

    /** release_cached_blocks: every segment whose one block is free goes back to the driver. */
    private void releaseFreeSegments() {
        java.util.Iterator<Block> it = segments.iterator();
        while (it.hasNext()) {
            Block first = it.next();
            if (!first.allocated && first.next == null && first.size == first.segment.size()) {
                (first.segment.small() ? smallPool : largePool).remove(first);
                reserved -= first.size;
                it.remove();
            }
        }
    }

    /** Segments held, by size: what torch.cuda.memory_snapshot() lists. */
    java.util.SortedMap<Long, Integer> segmentSizes() {
        java.util.SortedMap<Long, Integer> out = new java.util.TreeMap<>(java.util.Comparator.reverseOrder());
        for (Block first : segments) {
            out.merge(first.segment.size(), 1, Integer::sum);
        }
        for (long mapped : new long[] {largeMapped, smallMapped}) {
            if (mapped > 0) {
                out.merge(mapped, 1, Integer::sum);
            }
        }
        return out;
    }

    long allocated() {
        return allocated;
    }

    long reserved() {
        return reserved;
    }

    long peakAllocated() {
        return peakAllocated;
    }

    /**
     * The most ever reserved. With expandable segments a full device makes PyTorch unmap the free pages inside the
     * segments before it fails, so reserved memory then stays at the device's capacity or at what is allocated.
     */
    long peakReserved() {
        return expandable ? Math.max(peakAllocated, Math.min(peakReserved, capacity)) : peakReserved;
    }
}
