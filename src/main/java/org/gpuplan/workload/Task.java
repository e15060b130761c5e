package org.gpuplan.workload;

/** What the job does. */
public enum Task implements Choice {
    TRAIN("train"),
    INFER("infer");

    private final String key;

    Task(String key) {
        this.key = key;
    }

    @Override
    public String key() {
        return key;
    }
}
