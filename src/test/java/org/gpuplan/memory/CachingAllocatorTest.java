package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The caching allocator's documented rules (PyTorch "CUDA memory management" notes and CUDACachingAllocator.cpp):
 * 512 B rounding, the 1 MiB small/large boundary, 2 MiB / 20 MiB / 2 MiB-rounded segments, best fit, splitting only
 * when more than 1 MiB (large) or at least 512 B (small) remains, merging of free neighbours, release of cached
 * segments when the device is full.
 */
class CachingAllocatorTest {

    private static final long MIB = 1L << 20;

    @Test
    void requestsAreRoundedAndGetTheirPoolsSegment() {
        assertThat(CachingAllocator.roundSize(1)).isEqualTo(512);
        assertThat(CachingAllocator.roundSize(513)).isEqualTo(1024);
        assertThat(CachingAllocator.segmentSize(MIB)).isEqualTo(2 * MIB); // small pool
        assertThat(CachingAllocator.segmentSize(MIB + 512)).isEqualTo(20 * MIB); // large, under 10 MiB
        assertThat(CachingAllocator.segmentSize(10 * MIB)).isEqualTo(10 * MIB);
        assertThat(CachingAllocator.segmentSize(11 * MIB)).isEqualTo(12 * MIB);
    }

    @Test
    void theCublasWorkspaceReservesTwentyMib() {
        // PyTorch's default cuBLAS workspace :4096:2:16:8 = 8,519,680 B (Overheads.cublasReserved)
        CachingAllocator a = new CachingAllocator(Long.MAX_VALUE);
        a.allocate(8_519_680L);
        assertThat(a.reserved()).isEqualTo(20 * MIB);
        assertThat(a.allocated()).isEqualTo(8_519_680L);
    }

    @Test
    void smallRequestsShareTwoMibSegmentsAndLargeOnesShareTwentyMib() {
        CachingAllocator a = new CachingAllocator(Long.MAX_VALUE);
        a.allocate(MIB);
        a.allocate(MIB);
        assertThat(a.segmentSizes()).isEqualTo(Map.of(2 * MIB, 1));
        a.allocate(9 * MIB);
        a.allocate(9 * MIB); // takes the 11 MiB left of the first 20 MiB segment
        assertThat(a.segmentSizes()).isEqualTo(Map.of(2 * MIB, 1, 20 * MIB, 1));
        a.allocate(9 * MIB); // 2 MiB left: a new segment
        assertThat(a.reserved()).isEqualTo(42 * MIB);
    }

    @Test
    void bestFitTakesTheSmallestFreeBlockAndKeepsTheWholeBlockWhenLittleRemains() {
        CachingAllocator a = new CachingAllocator(Long.MAX_VALUE);
        Object x = a.allocate(30 * MIB);
        Object y = a.allocate(50 * MIB);
        a.free(y);
        a.free(x);
        a.allocate(25 * MIB); // the 30 MiB block, split (5 MiB remain)
        assertThat(a.allocated()).isEqualTo(25 * MIB);
        a.allocate(4 * MIB + MIB / 2); // fits the 5 MiB remainder, which is not split again (0.5 MiB < 1 MiB)
        assertThat(a.allocated()).isEqualTo(30 * MIB);
        assertThat(a.reserved()).isEqualTo(80 * MIB);
    }

    @Test
    void freedNeighboursMerge() {
        CachingAllocator a = new CachingAllocator(Long.MAX_VALUE);
        Object p = a.allocate(6 * MIB);
        Object q = a.allocate(6 * MIB);
        a.allocate(6 * MIB);
        a.free(p);
        a.free(q);
        a.allocate(12 * MIB); // the merged 12 MiB block of the same 20 MiB segment
        assertThat(a.reserved()).isEqualTo(20 * MIB);
    }

    /**
     * What the H200 allocator trace of Qwen2.5-0.5B at 512 tokens showed: the optimizer's two embedding-sized states
     * (259.7 MiB) are created at the first step and take the cached 298 MiB blocks cut for the fp32 logits, so the
     * next step's logits need new segments.
     */
    @Test
    void lateTensorsTakeCachedBlocksAndTheNextStepCutsNewSegments() {
        CachingAllocator a = new CachingAllocator(Long.MAX_VALUE);
        long logits = 512L * 151_936 * 4;
        long state = 151_936L * 896 * 2;
        Object l1 = a.allocate(logits);
        Object l2 = a.allocate(logits);
        a.free(l1);
        a.free(l2);
        long afterStep1 = a.reserved();
        a.allocate(state);
        a.allocate(state);
        assertThat(a.reserved()).isEqualTo(afterStep1);
        a.allocate(logits);
        a.allocate(logits);
        assertThat(a.reserved()).isEqualTo(2 * afterStep1);
        assertThat(a.segmentSizes()).isEqualTo(Map.of(298 * MIB, 4));
    }

    @Test
    void aFullDeviceReleasesCachedSegmentsFirst() {
        CachingAllocator a = new CachingAllocator(100 * MIB);
        a.free(a.allocate(60 * MIB));
        a.allocate(70 * MIB);
        assertThat(a.reserved()).isEqualTo(70 * MIB);
        assertThat(a.peakReserved()).isEqualTo(70 * MIB);
    }

    /**
     * expandable_segments: one segment per pool grows at its end by what a request needs beyond the free block there,
     * in 20 MiB pages (large) or 2 MiB pages (small); the 0.5B case's logits/states sequence then reserves no second
     * copy of the logits (the H200 trace with expandable segments: one 4,780 MiB and one 172 MiB segment).
     */
    @Test
    void expandableSegmentsGrowOneSegmentPerPool() {
        CachingAllocator a = new CachingAllocator(Long.MAX_VALUE, true);
        Object x = a.allocate(30 * MIB);
        assertThat(a.reserved()).isEqualTo(40 * MIB); // two 20 MiB pages
        a.allocate(5 * MIB); // fits the 10 MiB left at the end
        assertThat(a.reserved()).isEqualTo(40 * MIB);
        a.allocate(10 * MIB); // 5 MiB free at the end: one more page
        assertThat(a.reserved()).isEqualTo(60 * MIB);
        a.free(x);
        a.allocate(25 * MIB); // the freed 30 MiB block inside the segment
        assertThat(a.reserved()).isEqualTo(60 * MIB);
        a.allocate(100);
        assertThat(a.segmentSizes()).isEqualTo(Map.of(60 * MIB, 1, 2 * MIB, 1));

        long logits = 512L * 151_936 * 4;
        long state = 151_936L * 896 * 2;
        CachingAllocator e = new CachingAllocator(Long.MAX_VALUE, true);
        Object l1 = e.allocate(logits);
        Object l2 = e.allocate(logits);
        e.free(l1);
        e.free(l2);
        e.allocate(state);
        e.allocate(state);
        long before = e.reserved();
        e.allocate(logits);
        e.allocate(logits);
        // the states sit where the logits were; the next logits take the rest and extend the end by what is missing
        assertThat(e.reserved() - before).isLessThan(2 * logits - 2 * (logits - state) + 40 * MIB);
        assertThat(e.reserved()).isLessThan(4 * logits);
    }

    /** Seeded random programs: invariants, and allocateAndFree is an allocate followed at once by a free. */
    @Test
    void randomProgramsKeepTheInvariants() {
        Random random = new Random(20261126);
        for (int run = 0; run < 200; run++) {
            boolean expandable = run % 2 == 1;
            CachingAllocator a = new CachingAllocator(Long.MAX_VALUE, expandable);
            CachingAllocator b = new CachingAllocator(Long.MAX_VALUE, expandable);
            List<Object> liveA = new ArrayList<>();
            List<Object> liveB = new ArrayList<>();
            for (int op = 0; op < 400; op++) {
                long bytes = random.nextBoolean() ? 1 + random.nextInt((int) MIB) : 1 + (long) random.nextInt(
                        (int) (300 * MIB));
                int kind = random.nextInt(5);
                if (kind == 0 && !liveA.isEmpty()) {
                    int i = random.nextInt(liveA.size());
                    a.free(liveA.remove(i));
                    b.free(liveB.remove(i));
                } else if (kind == 1) {
                    a.free(a.allocate(bytes));
                    b.allocateAndFree(bytes);
                } else {
                    liveA.add(a.allocate(bytes));
                    liveB.add(b.allocate(bytes));
                }
                assertThat(a.reserved()).isGreaterThanOrEqualTo(a.allocated());
                assertThat(a.peakReserved()).isGreaterThanOrEqualTo(a.reserved());
                assertThat(a.segmentSizes().entrySet().stream().mapToLong(e -> e.getKey() * e.getValue()).sum())
                        .isEqualTo(a.reserved());
            }
            assertThat(b.reserved()).isEqualTo(a.reserved());
            assertThat(b.peakReserved()).isEqualTo(a.peakReserved());
            assertThat(b.peakAllocated()).isEqualTo(a.peakAllocated());
            assertThat(b.segmentSizes()).isEqualTo(a.segmentSizes());
            liveA.forEach(a::free);
            assertThat(a.allocated()).isZero();
        }
    }
}
