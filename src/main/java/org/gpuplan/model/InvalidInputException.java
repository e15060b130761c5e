package org.gpuplan.model;

/**
 * A problem with what the user gave us (a flag, a config file, a model file). Front ends print its message as one
 * line and exit with code 2; the message names the field and, where there is a closed set, the accepted values.
 */
public final class InvalidInputException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
