package org.gpuplan.cli;

import java.util.List;
import java.util.concurrent.Callable;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.estimate.Job;
import org.gpuplan.plan.Changes;
import org.gpuplan.report.EstimateReport;
import org.gpuplan.report.PlanReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuplan estimate MODEL [workload flags]}: GPU memory term by term, the peaks, the fit and the runtime. */
@Command(name = "estimate", mixinStandardHelpOptions = true,
        description = {"Estimates GPU memory of a training or inference job, term by term, with its peaks, and "
                + "(with --gpu) its step time, throughput, latency, MFU and utilization.",
            "Workload keys come from --workload FILE (JSON or YAML, keys = long flag names in snake_case) and the "
                + "flags below (flags win)."})
final class EstimateCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    CommonOptions common;

    @Mixin
    WorkloadOptions job;

    @Option(names = "--explain", description = "Show every term's formula, inputs and source.")
    boolean explain;

    @Option(names = "--per-rank", description = "Show every distinct rank's terms (pipeline stages differ).")
    boolean perRank;

    @Override
    public Integer call() throws Exception {
        Job j = job.resolve();
        Estimate estimate = j.estimate();
        EstimateReport report = EstimateReport.of(estimate);
        // it does not fit the GPU: what would (the list plan prints)
        List<Changes.Change> changes = Changes.whenNotFitting(j);
        String text = common.json ? InspectCommand.JSON.writeValueAsString(report.toJson(changes)) + "\n"
                : report.toText(explain) + (perRank ? report.perRankText(explain) : "")
                + (changes.isEmpty() ? "" : "\n" + PlanReport.changesText(changes));
        return CommonOptions.print(spec, text);
    }
}
