package org.gpuplan.model;

/** The attention block of one layer. */
public sealed interface Attention permits Attention.Standard, Attention.Latent {

    /** Hard upper bound on any single dimension, so that hostile configs cannot make products overflow. */
    int MAX_DIM = 1 << 24;

    int numHeads();

    AttentionVariant variant();

    /**
     * Multi-head / grouped-query / multi-query attention with separate (or fused) Q, K, V and output projections.
     *
     * @param qkvBias    biases on the Q, K and V projections (Qwen2, GPT-2, BERT, gpt-oss)
     * @param outputBias bias on the output projection (GPT-2, BERT, GPT-NeoX, gpt-oss)
     * @param qkNorm     RMSNorm over head_dim on queries and keys (Qwen3, Gemma 3)
     * @param fusedQkv   one projection produces Q, K and V (Phi-3, GPT-2, GPT-NeoX); same count, other module names
     * @param sinks      one learned attention-sink logit per head (gpt-oss)
     * @param outputGate the query projection also produces a sigmoid gate on the attention output, doubling it
     *                   (Qwen3-Next, Qwen3.5 attn_output_gate)
     * @param qkNormFull the q/k norms span the whole projections (a·d and kv·d weights, OLMo 2) instead of one head
     * @param logitSoftcap the attention scores pass through cap·tanh(scores / cap) before the softmax (Gemma 2
     *                   attn_logit_softcapping); eager attention then keeps the tanh output for backward
     */
    record Standard(int numHeads, int numKvHeads, int headDim, boolean qkvBias, boolean outputBias, boolean qkNorm,
                    boolean fusedQkv, boolean sinks, boolean outputGate, boolean qkNormFull, boolean logitSoftcap)
            implements Attention {

        public Standard(int numHeads, int numKvHeads, int headDim, boolean qkvBias, boolean outputBias,
                        boolean qkNorm, boolean fusedQkv, boolean sinks, boolean outputGate, boolean qkNormFull) {
            this(numHeads, numKvHeads, headDim, qkvBias, outputBias, qkNorm, fusedQkv, sinks, outputGate, qkNormFull,
                    false);
        }

        public Standard(int numHeads, int numKvHeads, int headDim, boolean qkvBias, boolean outputBias,
                        boolean qkNorm, boolean fusedQkv, boolean sinks, boolean outputGate) {
            this(numHeads, numKvHeads, headDim, qkvBias, outputBias, qkNorm, fusedQkv, sinks, outputGate, false);
        }

        public Standard(int numHeads, int numKvHeads, int headDim, boolean qkvBias, boolean outputBias,
                        boolean qkNorm, boolean fusedQkv, boolean sinks) {
            this(numHeads, numKvHeads, headDim, qkvBias, outputBias, qkNorm, fusedQkv, sinks, false, false);
        }

        public Standard {
            Checks.range(numHeads, 1, MAX_DIM, "num_attention_heads");
            Checks.range(numKvHeads, 1, MAX_DIM, "num_key_value_heads");
            Checks.range(headDim, 1, MAX_DIM, "head_dim");
            if (numHeads % numKvHeads != 0) {
                throw new InvalidInputException("num_attention_heads (" + numHeads
                        + ") must be a multiple of num_key_value_heads (" + numKvHeads + ")");
            }
        }

        /** Weights of the q and k norms: one head_dim vector each, or the full projection widths (OLMo 2). */
        public long qkNormParameters() {
            return !qkNorm ? 0 : qkNormFull ? (long) (numHeads + numKvHeads) * headDim : 2L * headDim;
        }

        @Override
        public AttentionVariant variant() {
            if (numKvHeads == numHeads) {
                return AttentionVariant.MHA;
            }
            return numKvHeads == 1 ? AttentionVariant.MQA : AttentionVariant.GQA;
        }
    }

    /**
     * Multi-head latent attention as in DeepSeek-V2/V3 ({@code modeling_deepseek_v3.py}).
     *
     * @param qLoraRank rank of the query down-projection, 0 when queries are projected directly
     */
    record Latent(int numHeads, int qLoraRank, int kvLoraRank, int qkNopeHeadDim, int qkRopeHeadDim, int vHeadDim,
                  int indexHeads, int indexHeadDim) implements Attention {

        /** MLA without DeepSeek-V3.2's lightning indexer. */
        public Latent(int numHeads, int qLoraRank, int kvLoraRank, int qkNopeHeadDim, int qkRopeHeadDim,
                      int vHeadDim) {
            this(numHeads, qLoraRank, kvLoraRank, qkNopeHeadDim, qkRopeHeadDim, vHeadDim, 0, 0);
        }

        public Latent {
            Checks.range(indexHeads, 0, MAX_DIM, "index_n_heads");
            Checks.range(indexHeadDim, 0, MAX_DIM, "index_head_dim");
            Checks.range(numHeads, 1, MAX_DIM, "num_attention_heads");
            Checks.range(qLoraRank, 0, MAX_DIM, "q_lora_rank");
            Checks.range(kvLoraRank, 1, MAX_DIM, "kv_lora_rank");
            Checks.range(qkNopeHeadDim, 0, MAX_DIM, "qk_nope_head_dim");
            Checks.range(qkRopeHeadDim, 0, MAX_DIM, "qk_rope_head_dim");
            Checks.range(vHeadDim, 1, MAX_DIM, "v_head_dim");
            Checks.positive(qkNopeHeadDim + qkRopeHeadDim, "qk_nope_head_dim + qk_rope_head_dim");
        }

        /**
         * DeepSeek-V3.2's lightning indexer (sparse attention): per layer wq_b (q_lora_rank → heads · dim), wk
         * (h → dim), a LayerNorm over dim with bias, weights_proj (h → heads); it caches one fp8 key of dim and an
         * fp32 scale per token (inference/model.py, vLLM DeepseekV32IndexerCache).
         */
        public boolean hasIndexer() {
            return indexHeads > 0 && indexHeadDim > 0;
        }

        public int qkHeadDim() {
            return qkNopeHeadDim + qkRopeHeadDim;
        }

        @Override
        public AttentionVariant variant() {
            return AttentionVariant.MLA;
        }
    }
}
