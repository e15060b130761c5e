package org.gpuplan.memory;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** How layers are split over pipeline stages. */
class PipelineSplitTest {

    @Test
    void servingSplitsLayersAsVllmsGetPpIndices() {
        // vLLM get_pp_indices: 27 layers on 2 stages are 14 + 13 (the remainder goes to the stages before the last,
        // which holds the LM head); 10 on 4 are 2, 3, 3, 2
        int[] two = {0, 14, 27};
        for (int s = 0; s <= 2; s++) {
            assertThat(ShardedTraining.firstLayer(27, 2, s, true)).isEqualTo(two[s]);
        }
        int[] four = {0, 2, 5, 8, 10};
        for (int s = 0; s <= 4; s++) {
            assertThat(ShardedTraining.firstLayer(10, 4, s, true)).isEqualTo(four[s]);
        }
        // training splits at floor(stage·L/pp); divisible counts split alike
        assertThat(ShardedTraining.firstLayer(27, 2, 1, false)).isEqualTo(13);
        for (int s = 0; s <= 8; s++) {
            assertThat(ShardedTraining.firstLayer(128, 8, s, true)).isEqualTo(ShardedTraining.firstLayer(128, 8, s,
                    false)).isEqualTo(16 * s);
        }
    }
}
