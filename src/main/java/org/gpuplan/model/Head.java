package org.gpuplan.model;

import java.util.Arrays;
import java.util.List;

/** What sits on top of the Transformer stack, as named by the config's {@code architectures}. */
public sealed interface Head permits Head.CausalLm, Head.Encoder {

    /**
     * A decoder's language-model head (a V×h matrix unless tied to the embeddings).
     *
     * @param logitSoftcap the logits pass through cap·tanh(logits / cap) (Gemma 2 final_logit_softcapping), whose
     *                     tanh output autograd keeps: one more logits-sized tensor in training
     */
    record CausalLm(boolean logitSoftcap) implements Head {
        public CausalLm() {
            this(false);
        }
    }

    /**
     * An encoder (BERT/RoBERTa) with the task head of its {@code architectures} class.
     *
     * @param numLabels classes of a classification head ({@code id2label} size, default 2)
     */
    record Encoder(EncoderTask task, int numLabels) implements Head {
        public Encoder {
            Checks.notNull(task, "encoder task");
            Checks.range(numLabels, 1, 1 << 20, "num_labels");
        }
    }

    /** Encoder task heads, by the transformers class-name suffix that selects them. */
    enum EncoderTask {
        BASE("Model"),
        PRETRAINING("ForPreTraining"),
        MASKED_LM("ForMaskedLM"),
        CAUSAL_LM("ForCausalLM"),
        SEQUENCE_CLASSIFICATION("ForSequenceClassification"),
        TOKEN_CLASSIFICATION("ForTokenClassification"),
        QUESTION_ANSWERING("ForQuestionAnswering"),
        MULTIPLE_CHOICE("ForMultipleChoice");

        private final String suffix;

        EncoderTask(String suffix) {
            this.suffix = suffix;
        }

        public String suffix() {
            return suffix;
        }

        public static List<String> suffixes() {
            return Arrays.stream(values()).map(EncoderTask::suffix).toList();
        }
    }
}
