package org.gpuplan.model;

/**
 * Input embeddings.
 *
 * @param tied              the LM head reuses the token-embedding matrix ({@code tie_word_embeddings})
 * @param learnedPositions  rows of a learned absolute position table (GPT-2, BERT), 0 for rotary models
 * @param tokenTypes        rows of the token-type (segment) table (BERT), 0 otherwise
 */
public record Embeddings(boolean tied, int learnedPositions, int tokenTypes) {
    public Embeddings {
        Checks.range(learnedPositions, 0, Attention.MAX_DIM, "max_position_embeddings");
        Checks.range(tokenTypes, 0, Attention.MAX_DIM, "type_vocab_size");
    }
}
