package org.gpuplan.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import org.gpuplan.estimate.Job;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.plan.FitSearch;
import org.gpuplan.report.PlanReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuplan fit MODEL --gpu G --max seq-len}: the largest value that fits. */
@Command(name = "fit", mixinStandardHelpOptions = true,
        description = "Finds the largest micro-batch, sequence length or number of concurrent sequences that fits the "
                + "GPU (the other workload flags fixed).")
final class FitCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    CommonOptions common;

    @Mixin
    WorkloadOptions job;

    @Option(names = "--max", defaultValue = "batch-size", description = "seq-len | batch-size | concurrency | "
            + "gpu-layers (llama.cpp's -ngl) (default: batch-size, the concurrent sequences for inference)") String max;

    @Override
    public Integer call() throws Exception {
        String key = FitSearch.key(max);
        Job j = job.resolve();
        CommonOptions.warn(spec, j.loaded().warnings());
        if (j.gpu().isEmpty()) {
            throw new InvalidInputException("gpu: fit needs --gpu (e.g. RTX-4090, H100-SXM-80GB)");
        }
        Map<String, String> keys = j.keys();
        FitSearch.Result r = FitSearch.largest(j.loaded().name(), j.spec(), keys, j.gpu().get(), key);
        String out = common.json ? InspectCommand.JSON.writeValueAsString(PlanReport.fitJson(r)) + "\n"
                : PlanReport.fitText(r, keys);
        return CommonOptions.print(spec, out);
    }
}
