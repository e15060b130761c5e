package org.gpuplan.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.gpuplan.estimate.Job;
import org.gpuplan.hardware.PriceCatalog;
import org.gpuplan.plan.Changes;
import org.gpuplan.plan.PlanRequest;
import org.gpuplan.plan.Planner;
import org.gpuplan.report.PlanReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code gpuplan plan MODEL [workload flags] [constraints]}: the cheapest hardware and configuration. */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = {"Finds the hardware and configuration that fit and meet the deadline, cheapest first: GPU type "
                + "× count × provider, parallel layout, sharding, micro-batch, checkpointing (and, with --allow, "
                + "LoRA/QLoRA, 8-bit optimizers, quantization). Serving (--task serve): replicas × tensor "
                + "parallelism for --rps under --ttft/--tpot.",
            "The workload flags fix what you fixed; everything else is searched. With --gpu and --gpus given and the "
                + "job not fitting, it lists what to change to fit."})
final class PlanCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Mixin
    CommonOptions common;

    @Mixin
    WorkloadOptions job;

    @Option(names = "--deadline", description = "Finish training within this (48h, 2d, 90m)") String deadline;
    @Option(names = "--budget", description = "At most this many US dollars") String budget;
    @Option(names = "--max-gpus", description = "At most this many GPUs (default 1024)") int maxGpus = 1024;
    @Option(names = "--only-gpus", split = ",", description = "Consider only these GPU types") List<String> onlyGpus;
    @Option(names = "--providers", split = ",", description = "Consider only these providers") List<String> providers;
    @Option(names = "--region", description = "eu, us, asia, a country code (DE, FI, …) or a provider region")
    String region;
    @Option(names = "--spot", description = "Price at spot rates where offered") boolean spot;
    @Option(names = "--objective", description = "cost (default), time or gpus") String objective = "cost";
    @Option(names = "--allow", description = "Changes the planner may make: quant, optimizer, lora (comma-separated)")
    String allow = "";
    @Option(names = "--rps", description = "Serving: requests per second to sustain") String rps;
    @Option(names = "--ttft", description = "Serving: time-to-first-token target (500ms, 1s)") String ttft;
    @Option(names = "--tpot", description = "Serving: time-per-output-token target (40ms)") String tpot;
    @Option(names = "--prices", paramLabel = "CSV", description = "Add or override offers (same columns as the "
            + "built-in price list)") Path pricesFile;

    @Override
    public Integer call() throws Exception {
        Job j = job.resolve();
        CommonOptions.warn(spec, j.loaded().warnings());
        Map<String, String> fixed = j.keys();
        PriceCatalog prices = pricesFile == null ? PriceCatalog.builtIn() : PriceCatalog.withUserFile(pricesFile);
        Map<String, String> constraints = new java.util.LinkedHashMap<>();
        constraints.put("objective", objective);
        constraints.put("deadline", deadline);
        constraints.put("budget", budget);
        constraints.put("max_gpus", String.valueOf(maxGpus));
        constraints.put("only_gpus", onlyGpus == null ? null : String.join(",", onlyGpus));
        constraints.put("providers", providers == null ? null : String.join(",", providers));
        constraints.put("region", region);
        constraints.put("spot", String.valueOf(spot));
        constraints.put("allow", allow);
        constraints.put("rps", rps);
        constraints.put("ttft", ttft);
        constraints.put("tpot", tpot);
        PlanRequest req = PlanRequest.of(j.loaded().name(), j.spec(), fixed, constraints);
        Progress progress = new Progress(spec.commandLine().getErr(), !common.json);
        Planner.Result result = Planner.plan(req, j.gpus(), prices, progress);
        progress.done();
        List<Changes.Change> changes = Changes.whenNotFitting(j); // the user's own setup does not fit
        String out = common.json ? InspectCommand.JSON.writeValueAsString(PlanReport.json(result, changes)) + "\n"
                : PlanReport.text(result, changes);
        return CommonOptions.print(spec, out);
    }

    /** A progress bar on stderr, shown only when a search runs longer than a second and output is not JSON. */
    static final class Progress implements java.util.function.IntConsumer {
        private final java.io.PrintWriter err;
        private final boolean enabled;
        private final long start = System.nanoTime();
        private boolean shown;

        Progress(java.io.PrintWriter err, boolean enabled) {
            this.err = err;
            this.enabled = enabled;
        }

        @Override
        public void accept(int percent) {
            if (enabled && System.nanoTime() - start > 1_000_000_000L) {
                int bars = Math.max(0, Math.min(30, percent * 30 / 100));
                err.print("\rplanning [" + "#".repeat(bars) + " ".repeat(30 - bars) + "] " + percent + "%");
                err.flush();
                shown = true;
            }
        }

        void done() {
            if (shown) {
                err.print("\r" + " ".repeat(48) + "\r");
                err.flush();
            }
        }
    }
}
