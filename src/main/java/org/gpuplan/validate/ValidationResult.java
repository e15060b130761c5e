package org.gpuplan.validate;

import java.util.Optional;

/**
 * A case with its prediction, or the reason it could not be predicted.
 *
 * @param predicted empty when the case could not be run (the reason says why)
 */
public record ValidationResult(ValidationCase validationCase, Optional<Double> predicted, String reason) {

    /** Signed relative error (predicted − measured) / measured. */
    public Optional<Double> error() {
        return predicted.map(p -> (p - validationCase.measured()) / validationCase.measured());
    }
}
