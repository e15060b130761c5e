package org.gpuplan.plan;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntConsumer;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.estimate.TrainingEvaluator;
import org.gpuplan.hardware.Gpu;
import org.gpuplan.hardware.GpuCatalog;
import org.gpuplan.hardware.Price;
import org.gpuplan.hardware.PriceCatalog;
import org.gpuplan.model.Attention;
import org.gpuplan.model.InvalidInputException;
import org.gpuplan.perf.PerfEstimate;
import org.gpuplan.workload.Checkpointing;
import org.gpuplan.workload.TrainingLayout;
import org.gpuplan.workload.Workload;

/**
 * Searches GPU type × count × parallel layout × sharding × micro-batch × checkpointing (and, where allowed, LoRA,
 * 8-bit optimizers, quantization) for plans that fit, meet the deadline and budget, ranked by the objective.
 * Serving: replicas × tensor parallelism at the largest concurrency that meets the TTFT/TPOT targets.
 */
public final class Planner {

    /** Training tokens assumed when the user gives none (cost and time are then per 1e9 tokens). */
    public static final double DEFAULT_TOKENS = 1e9;
    /** Global batch (sequences per optimizer step) when the user fixes none. */
    public static final int DEFAULT_GLOBAL_BATCH = 32;
    static final int KEEP = 25;

    /**
     * The ranked plans, how many configurations were evaluated, and the assumptions the planner made.
     */
    public record Result(List<Plan> plans, int evaluated, List<String> assumptions) {
        public Result {
            plans = List.copyOf(plans);
            assumptions = List.copyOf(assumptions);
        }
    }

    private Planner() {
    }

    public static Result plan(PlanRequest req, GpuCatalog gpus, PriceCatalog prices, IntConsumer progress) {
        List<String> assumptions = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Gpu> types = gpuTypes(req, gpus, prices);
        if (types.isEmpty()) {
            throw new InvalidInputException("plan: no priced offer matches the constraints (only-gpus, providers, "
                    + "region: eu, us, asia, a country code such as DE, or a provider region; spot); "
                    + "'gpuplan gpus' lists the GPUs, --prices FILE adds offers");
        }
        boolean serve = "infer".equals(task(req));
        java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger evaluated = new java.util.concurrent.atomic.AtomicInteger();
        // GPU types are independent searches: run them on all cores
        List<Plan> plans = types.parallelStream().flatMap(g -> {
            Candidates c = new Candidates(req.modelName(), req.spec());
            // the cheapest offer of each machine size: a single-GPU offer may be cheapest per GPU-hour, but tensor
            // parallelism needs the GPUs of one machine
            List<Plan> found = new ArrayList<>();
            for (Optional<Price> price : offers(req, prices, g)) {
                found.addAll(serve ? serving(req, c, g, price, assumptions) : training(req, c, g, price, assumptions));
            }
            evaluated.addAndGet(c.evaluated());
            int d = done.incrementAndGet();
            synchronized (progress) {
                progress.accept(d * 100 / types.size());
            }
            return found.stream();
        }).toList();
        Comparator<Plan> order = switch (req.objective()) {
            case COST -> Comparator.comparingDouble(Plan::costUsd).thenComparingDouble(Plan::timeS);
            case TIME -> Comparator.comparingDouble(Plan::timeS).thenComparingDouble(Plan::costUsd);
            case GPUS -> Comparator.comparingInt(Plan::gpus).thenComparingDouble(Plan::costUsd);
        };
        if (serve) {
            order = switch (req.objective()) {
                case COST, TIME -> Comparator.comparingDouble(Plan::hourlyUsd)
                        .thenComparingDouble(p -> p.estimate().perf().orElseThrow().tpotS());
                case GPUS -> Comparator.comparingInt(Plan::gpus).thenComparingDouble(Plan::hourlyUsd);
            };
        }
        List<Plan> ranked = plans.stream().filter(p -> Double.isFinite(p.costUsd())).sorted(order).toList();
        List<Plan> unpriced = plans.stream().filter(p -> !Double.isFinite(p.costUsd())).sorted(
                Comparator.comparingDouble(Plan::timeS)).toList();
        List<Plan> out = new ArrayList<>(distinctLayouts(ranked));
        out.addAll(distinctLayouts(unpriced));
        if (!req.fixed().containsKey("tokens") && !serve) {
            assumptions.add(String.format(Locale.ROOT, "no --tokens given: time and cost are for %.0e tokens",
                    DEFAULT_TOKENS));
        }
        return new Result(out.subList(0, Math.min(KEEP, out.size())), evaluated.get(),
                assumptions.stream().distinct().toList());
    }

    /** One row per layout (GPU, count, TP/PP/DP, sharding, method, optimizer, offer): its best micro-batch/checkpointing. */
    private static List<Plan> distinctLayouts(List<Plan> ranked) {
        java.util.Set<String> seen = new java.util.HashSet<>();
        List<Plan> out = new ArrayList<>();
        for (Plan p : ranked) {
            Workload w = p.estimate().workload();
            var par = w.parallelism();
            String key = p.estimate().gpu().map(Gpu::name).orElse("") + "|" + par.gpus() + "|" + par.tp() + "|"
                    + par.pp() + "|" + par.cp() + "|" + par.ep() + "|" + par.fsdp() + "|" + par.zero() + "|"
                    + w.method() + "|" + w.optimizer() + "|"
                    + w.quant() + "|" + p.replicas() + "|" + p.price().map(Price::instance).orElse("");
            if (seen.add(key)) {
                out.add(p);
            }
        }
        return out;
    }

    static String task(PlanRequest req) {
        String t = req.fixed().getOrDefault("task", "train").toLowerCase(Locale.ROOT);
        return t.equals("serve") ? "infer" : t;
    }

    private static List<Gpu> gpuTypes(PlanRequest req, GpuCatalog gpus, PriceCatalog prices) {
        if (req.fixed().containsKey("gpu")) {
            return List.of(gpus.require(req.fixed().get("gpu")));
        }
        req.gpus().forEach(gpus::require); // an unknown name is an error that lists the catalog
        List<Gpu> out = new ArrayList<>();
        for (Gpu g : gpus.gpus()) {
            if (!req.gpus().isEmpty() && req.gpus().stream().noneMatch(n -> gpus.find(n).map(x -> x == g)
                    .orElse(false))) {
                continue;
            }
            if (cheapest(req, prices, g).isPresent()) {
                out.add(g);
            }
        }
        return out;
    }

    /** The cheapest allowed offer of each machine size (GPUs per instance) for this GPU; empty when none is known. */
    static List<Optional<Price>> offers(PlanRequest req, PriceCatalog prices, Gpu g) {
        java.util.Map<Integer, Price> best = new java.util.TreeMap<>();
        prices.forGpu(g).stream()
                .filter(p -> req.providers().isEmpty() || req.providers().stream()
                        .anyMatch(x -> x.equalsIgnoreCase(p.provider())))
                .filter(p -> req.region().map(p::inRegion).orElse(true))
                .forEach(p -> best.merge(p.gpusPerInstance(), p, (a, b) -> a.usdPerGpuHour(req.spot())
                        <= b.usdPerGpuHour(req.spot()) ? a : b));
        if (best.isEmpty()) {
            return List.of(Optional.empty());
        }
        return best.values().stream().map(Optional::of).toList();
    }

    /** The cheapest offer per GPU-hour for this GPU that the provider/region/spot constraints allow. */
    static Optional<Price> cheapest(PlanRequest req, PriceCatalog prices, Gpu g) {
        return offers(req, prices, g).stream().flatMap(Optional::stream)
                .min(Comparator.comparingDouble(p -> p.usdPerGpuHour(req.spot())));
    }

    private static int globalBatch(Map<String, String> fixed) {
        try {
            if (fixed.containsKey("global_batch_size")) {
                return Integer.parseInt(fixed.get("global_batch_size"));
            }
            if (fixed.containsKey("batch_size")) {
                return Integer.parseInt(fixed.get("batch_size"))
                        * Integer.parseInt(fixed.getOrDefault("grad_accum", "1"));
            }
        } catch (NumberFormatException e) {
            throw new InvalidInputException("batch_size/global_batch_size: expected a positive integer");
        }
        return DEFAULT_GLOBAL_BATCH;
    }

    private static List<Plan> training(PlanRequest req, Candidates c, Gpu g, Optional<Price> price,
                                       List<String> assumptions) {
        Map<String, String> fixed = req.fixed();
        int globalBatch = globalBatch(fixed);
        double tokens = fixed.containsKey("tokens") ? Double.parseDouble(fixed.get("tokens")) : DEFAULT_TOKENS;
        List<Integer> counts = fixed.containsKey("gpus") ? List.of(Integer.parseInt(fixed.get("gpus")))
                : powersOfTwo(Math.min(req.maxGpus(), 4096));
        List<String> methods = fixed.containsKey("method") ? List.of(fixed.get("method"))
                : req.allow().contains(PlanRequest.Allow.LORA) ? List.of("full", "lora", "qlora") : List.of("full");
        List<String> optimizers = fixed.containsKey("optimizer") ? List.of(fixed.get("optimizer"))
                : req.allow().contains(PlanRequest.Allow.OPTIMIZER) ? List.of("adamw", "adamw-8bit")
                : List.of("adamw");
        List<String> ckpts = fixed.containsKey("checkpointing") ? List.of(fixed.get("checkpointing"))
                : List.of("none", "selective", "full");
        List<Integer> micro = fixed.containsKey("batch_size") && !fixed.containsKey("global_batch_size")
                && !fixed.containsKey("grad_accum") ? List.of(Integer.parseInt(fixed.get("batch_size")))
                : List.of(8, 4, 2, 1);
        List<Plan> out = new ArrayList<>();
        int perNode = Math.max(1, Math.min(8, g.interconnect().scaleUpGpus()));
        long params = org.gpuplan.model.ParameterCounter.count(req.spec()).totalCount();
        // multi-GPU layouts are scored by the allocation-free evaluator; only the plans kept get a full estimate
        TrainingEvaluator evaluator = new TrainingEvaluator(req.spec(), g, methods.size() * optimizers.size());
        int countsAfterDeadlineMet = -1;
        for (int n : counts) {
            if (countsAfterDeadlineMet == 0) {
                break; // for cost or GPU count, more GPUs than one doubling past the first plan that meets it only add
            }
            if (countsAfterDeadlineMet > 0) {
                countsAfterDeadlineMet--;
            }
            int before = out.size();
            // TRL's trainers (DPO, GRPO, …) run on transformers, sharded by accelerate with FSDP or DeepSpeed ZeRO
            boolean trl = Changes.trlTrainer(fixed);
            String framework = fixed.getOrDefault("framework", n == 1 || trl ? "hf" : "fsdp");
            boolean layouts = framework.equals("fsdp") || framework.equals("megatron");
            int instancesGpus = price.map(Price::gpusPerInstance).orElse(perNode);
            int nodes = n <= Math.min(perNode, instancesGpus) ? 1
                    : (int) Math.ceil(n / (double) Math.min(perNode, instancesGpus));
            int fitDegree = Integer.MAX_VALUE; // the smallest model-parallel degree that fit without checkpointing
            for (int[] layout : layouts(layouts)) {
                int tp = layout[0];
                int pp = layout[1];
                if (fitDegree < Integer.MAX_VALUE && tp * pp > 2 * fitDegree) {
                    continue; // more model parallelism than needed to fit only adds communication and bubbles
                }
                if (tp > n || tp > g.interconnect().scaleUpGpus() || !tpDivides(req, tp)
                        || price.map(p -> tp > p.gpusPerInstance()).orElse(false)
                        || (fixed.containsKey("tp") && tp != Integer.parseInt(fixed.get("tp")))) {
                    continue;
                }
                int found = out.size();
                if (pp > req.spec().numLayers()
                        || (fixed.containsKey("pp") && pp != Integer.parseInt(fixed.get("pp")))) {
                    continue;
                }
                // context parallelism for long sequences, expert parallelism for MoE models (frameworks that have them)
                for (int cp : contextSizes(req, fixed, layouts)) {
                    if (n % (tp * pp * cp) != 0) {
                        continue;
                    }
                    int dp = n / (tp * pp * cp);
                    if (dp > globalBatch) {
                        continue;
                    }
                    for (int ep : expertSizes(req, fixed, layouts, dp * cp)) {
                        for (String[] shard : sharding(framework, dp, nodes, fixed)) {
                            for (String method : methods) {
                                for (String opt : optimizers) {
                                    // prune without estimating (a lower bound of what the rank holds)
                                    double wBytes = lowerBoundBytes(params, method, opt, tp, pp * ep, dp * cp, shard,
                                            fixed);
                                    if (wBytes > g.cudaTotalBytes()) {
                                        continue;
                                    }
                                    Map<String, String> base = Candidates.with(fixed, "task", "train", "framework",
                                            framework, "gpus", String.valueOf(n), "nodes", String.valueOf(nodes),
                                            "tp", tp > 1 ? String.valueOf(tp) : null, "pp",
                                            pp > 1 ? String.valueOf(pp) : null, "cp", cp > 1 ? String.valueOf(cp)
                                                    : null, "ep", ep > 1 ? String.valueOf(ep) : null,
                                            "method", method, "optimizer", opt, "sequence_parallel",
                                            tp > 1 ? "true" : null, "tokens", plainNumber(tokens));
                                    base = Candidates.with(base, shard);
                                    if (n == 1) {
                                        base.remove("gpus");
                                        base.remove("nodes");
                                    }
                                    if (method.equals("qlora") && !fixed.containsKey("quant")) {
                                        base.put("quant", "nf4");
                                    }
                                    // the fast evaluator covers next-token training; a trainer's extra model,
                                    // sequences and generation go through the estimator
                                    Scorer scorer = n == 1 || trl ? null
                                            : new Scorer(evaluator, methods.indexOf(method) * optimizers.size()
                                            + optimizers.indexOf(opt), Candidates.workload(base, g));
                                    out.addAll(bestPerCheckpointing(req, c, g, price, base, ckpts, micro, dp,
                                            globalBatch, tokens, n, scorer));
                                }
                            }
                        }
                    }
                }
                if (out.subList(found, out.size()).stream().anyMatch(p -> p.estimate().workload().checkpointing()
                        == org.gpuplan.workload.Checkpointing.NONE)) {
                    fitDegree = Math.min(fitDegree, tp * pp);
                }
            }
            if (out.size() > before && countsAfterDeadlineMet < 0 && req.objective() != PlanRequest.Objective.TIME) {
                countsAfterDeadlineMet = 1;
            }
        }
        return out;
    }

    /** Context-parallel sizes worth trying: only for sequences of 32k tokens or more. */
    private static List<Integer> contextSizes(PlanRequest req, Map<String, String> fixed, boolean modelParallel) {
        if (fixed.containsKey("cp")) {
            return List.of(Integer.parseInt(fixed.get("cp")));
        }
        int seq = Changes.intOf(fixed.get("seq_len"), 2048);
        return modelParallel && seq >= 32768 ? List.of(1, 2, 4, 8) : List.of(1);
    }

    /** Expert-parallel sizes for MoE models: powers of two that divide dp·cp and the expert count. */
    private static List<Integer> expertSizes(PlanRequest req, Map<String, String> fixed, boolean modelParallel,
                                             int dpCp) {
        if (fixed.containsKey("ep")) {
            return List.of(Integer.parseInt(fixed.get("ep")));
        }
        if (!modelParallel || req.spec().moe() == null) {
            return List.of(1);
        }
        List<Integer> out = new ArrayList<>();
        for (int ep = 1; ep <= 64; ep *= 2) {
            if (dpCp % ep == 0 && req.spec().moe().numExperts() % ep == 0) {
                out.add(ep);
            }
        }
        return out;
    }

    /** (tp, pp) pairs by increasing model-parallel degree. */
    private static List<int[]> layouts(boolean modelParallel) {
        if (!modelParallel) {
            return List.<int[]>of(new int[] {1, 1});
        }
        List<int[]> out = new ArrayList<>();
        for (int tp : new int[] {1, 2, 4, 8}) {
            for (int pp : new int[] {1, 2, 4, 8, 16}) {
                out.add(new int[] {tp, pp});
            }
        }
        out.sort(Comparator.comparingInt((int[] a) -> a[0] * a[1]).thenComparingInt(a -> a[1]));
        return out;
    }

    /**
     * A lower bound of the bytes a rank holds: the 16-bit (or 4-bit) weights, and for full training at least 2 B of
     * gradients and (except SGD) 2 B of optimizer state per parameter (8-bit Adam), each divided by the data-parallel
     * degree where the layout shards it. A layout above the GPU's memory cannot fit.
     */
    static double lowerBoundBytes(long params, String method, String opt, int tp, int pp, int dp, String[] shard,
                                  Map<String, String> fixed) {
        boolean shards = shardsParams(shard, fixed);
        String fsdp = shard.length == 2 && shard[0].equals("fsdp") ? shard[1] : fixed.getOrDefault("fsdp", "none");
        // every FSDP mode but no_shard shards gradients and optimizer states (shard_grad_op keeps the parameters)
        boolean shardsStates = shards || shard.length == 2 && shard[0].equals("zero") || fixed.containsKey("zero")
                || !(fsdp.equals("none") || fsdp.equals("no_shard"));
        return params / (double) (tp * pp) * ((method.equals("qlora") ? 0.55 : 2.0) / (shards ? dp : 1)
                + (method.equals("full") ? (opt.startsWith("sgd") ? 2.0 : 4.0) : 0) / (shardsStates ? dp : 1));
    }

    private static boolean shardsParams(String[] shard, Map<String, String> fixed) {
        String fsdp = shard.length == 2 && shard[0].equals("fsdp") ? shard[1] : fixed.getOrDefault("fsdp", "none");
        String zero = shard.length == 2 && shard[0].equals("zero") ? shard[1] : fixed.getOrDefault("zero", "0");
        return fsdp.equals("full_shard") || fsdp.equals("hybrid_shard") || zero.equals("3");
    }

    private static boolean tpDivides(PlanRequest req, int tp) {
        if (tp == 1) {
            return true;
        }
        if (req.spec().attention() instanceof Attention.Standard s) {
            return s.numHeads() % tp == 0 && (s.numKvHeads() % tp == 0 || tp % s.numKvHeads() == 0);
        }
        return req.spec().attention().numHeads() % tp == 0;
    }

    private static List<String[]> sharding(String framework, int dp, int nodes, Map<String, String> fixed) {
        if (fixed.containsKey("zero") || fixed.containsKey("fsdp") || dp == 1) {
            return List.<String[]>of(new String[0]);
        }
        return switch (framework) {
            case "deepspeed" -> List.<String[]>of(new String[] {"zero", "1"}, new String[] {"zero", "2"},
                    new String[] {"zero", "3"});
            case "megatron" -> List.<String[]>of(new String[] {"zero", "1"});
            // transformers under accelerate: FSDP, or DeepSpeed ZeRO 2/3
            case "hf" -> List.<String[]>of(new String[] {"fsdp", "no_shard"}, new String[] {"fsdp", "shard_grad_op"},
                    new String[] {"fsdp", "full_shard"}, new String[] {"zero", "2"}, new String[] {"zero", "3"});
            // hybrid sharding (shard inside a node, replicate across) differs from full sharding only across nodes
            default -> nodes > 1 ? List.<String[]>of(new String[] {"fsdp", "no_shard"}, new String[] {"fsdp",
                    "shard_grad_op"}, new String[] {"fsdp", "full_shard"}, new String[] {"fsdp", "hybrid_shard"})
                    : List.<String[]>of(new String[] {"fsdp", "no_shard"}, new String[] {"fsdp", "shard_grad_op"},
                    new String[] {"fsdp", "full_shard"});
        };
    }

    /**
     * Scores a multi-GPU training group (one layout, sharding, method and optimizer) over checkpointing modes and
     * micro-batches with a {@link TrainingEvaluator}: the group's workload is parsed once, each configuration only
     * changes the layout's micro-batch, global batch and checkpointing.
     */
    private static final class Scorer {
        private final TrainingEvaluator evaluator;
        private final int variant;
        private final Optional<Workload> group;
        private final TrainingLayout layout = new TrainingLayout();
        private final TrainingEvaluator.Result result = new TrainingEvaluator.Result();

        Scorer(TrainingEvaluator evaluator, int variant, Optional<Workload> group) {
            this.evaluator = evaluator;
            this.variant = variant;
            this.group = group;
            group.ifPresent(w -> {
                layout.set(w);
                if (!evaluator.hasVariant(variant)) {
                    evaluator.setVariant(variant, w);
                }
            });
        }

        /** The evaluation of this configuration; {@code valid} is false when the workload would be refused. */
        TrainingEvaluator.Result score(String checkpointing, int batch, int globalBatch) {
            result.valid = false;
            result.fits = false;
            if (group.isEmpty()) {
                return result;
            }
            try {
                layout.checkpointing = org.gpuplan.workload.Choice.parse(Checkpointing.class, "checkpointing",
                        checkpointing);
            } catch (InvalidInputException e) {
                return result;
            }
            layout.batchSize = batch;
            layout.globalBatchSize = globalBatch;
            layout.gradAccum = 1;
            return evaluator.evaluate(variant, layout, result);
        }
    }

    /** For each checkpointing mode, the largest micro-batch that fits (larger runs faster), as a plan. */
    private static List<Plan> bestPerCheckpointing(PlanRequest req, Candidates c, Gpu g, Optional<Price> price,
                                                   Map<String, String> base, List<String> ckpts, List<Integer> micro,
                                                   int dp, int globalBatch, double tokens, int n, Scorer scorer) {
        List<Plan> out = new ArrayList<>();
        for (String ck : ckpts) {
            if (!out.isEmpty() && out.get(0).estimate().workload().batchSize() * dp >= Math.min(globalBatch,
                    micro.get(0) * dp)) {
                break; // no checkpointing already runs the largest micro-batch: recomputation only slows it
            }
            for (int b : micro) {
                if (b * dp > globalBatch && micro.size() > 1) {
                    continue;
                }
                int accum = Math.max(1, globalBatch / (b * dp));
                Map<String, String> k = configuration(base, ck, b, accum, dp, n);
                double tokensPerS;
                Optional<Estimate> e = Optional.empty();
                if (scorer != null) {
                    c.counted();
                    TrainingEvaluator.Result r = scorer.score(ck, b, b * dp * accum);
                    if (!r.valid || !r.fits) {
                        continue;
                    }
                    tokensPerS = r.tokensPerS;
                } else {
                    e = c.estimate(k, g);
                    if (e.isEmpty() || !Candidates.fits(e.get())) {
                        continue;
                    }
                    tokensPerS = e.get().perf().orElseThrow().tokensPerS();
                }
                double time = tokens / tokensPerS;
                int instances = price.map(p -> (int) Math.ceil(n / (double) p.gpusPerInstance())).orElse(0);
                double hourly = price.map(p -> instances * p.usdPerInstanceHour(req.spot())).orElse(Double.NaN);
                double cost = hourly * time / 3600;
                if (req.deadlineS().isPresent() && time > req.deadlineS().getAsDouble()) {
                    break;
                }
                if (req.budgetUsd().isPresent() && cost > req.budgetUsd().getAsDouble()) {
                    break;
                }
                if (e.isEmpty()) {
                    // the plan carries the full, explained estimate (the same numbers: TrainingEvaluatorTest)
                    e = c.explain(k, g);
                    if (e.isEmpty() || !Candidates.fits(e.get())) {
                        continue;
                    }
                }
                k.put("gpu", g.name());
                out.add(new Plan(k, e.get(), price, instances, hourly, time, cost, cost / tokens * 1e6, 1));
                if (!base.containsKey("pp")) {
                    break; // without a pipeline, smaller micro-batches of the same layout are slower
                }
                // with a pipeline, smaller micro-batches mean more of them and a smaller bubble: try them too
            }
        }
        return out;
    }

    /** The workload keys of one configuration: checkpointing, micro-batch and how the global batch is reached. */
    private static Map<String, String> configuration(Map<String, String> base, String ck, int b, int accum, int dp,
                                                     int n) {
        Map<String, String> k = Candidates.with(base, "checkpointing", ck, "batch_size", String.valueOf(b));
        if (n == 1) {
            return Candidates.with(k, "grad_accum", String.valueOf(accum), "global_batch_size", null);
        }
        return Candidates.with(k, "global_batch_size", String.valueOf(b * dp * accum), "grad_accum", null);
    }

    private static List<Plan> serving(PlanRequest req, Candidates c, Gpu g, Optional<Price> price,
                                      List<String> assumptions) {
        Map<String, String> fixed = Candidates.with(req.fixed(), "task", "infer");
        String framework = fixed.getOrDefault("framework", "vllm");
        List<String> quants = fixed.containsKey("quant") ? List.of(fixed.get("quant"))
                : req.allow().contains(PlanRequest.Allow.QUANT)
                ? (g.supports(org.gpuplan.hardware.TensorDtype.FP8) ? List.of("none", "fp8", "awq-4bit")
                : List.of("none", "awq-4bit")) : List.of("none");
        List<Integer> tps = fixed.containsKey("tp") ? List.of(Integer.parseInt(fixed.get("tp"))) : List.of(1, 2, 4, 8);
        List<Plan> out = new ArrayList<>();
        for (int tp : tps) {
            // tensor parallelism needs the GPUs of one machine: no TP across rented instances
            if (tp > g.interconnect().scaleUpGpus() || tp > req.maxGpus() || !tpDivides(req, tp)
                    || price.map(p -> tp > p.gpusPerInstance()).orElse(false)) {
                continue;
            }
            for (String q : quants) {
                Map<String, String> base = Candidates.with(fixed, "framework", framework, "gpus",
                        tp > 1 ? String.valueOf(tp) : null, "tp", tp > 1 ? String.valueOf(tp) : null, "quant", q,
                        "batch_size", "max");
                Optional<Estimate> max = c.estimate(base, g);
                int hi;
                if (max.isPresent()) {
                    if (!Candidates.fits(max.get())) {
                        continue;
                    }
                    hi = max.get().workload().batchSize();
                } else {
                    // an engine without a KV pool (transformers, llama.cpp): the most sequences whose memory fits
                    Map<String, String> perRequest = Candidates.with(base, "batch_size", "1");
                    if (c.estimate(perRequest, g).isEmpty()) {
                        continue;
                    }
                    FitSearch.Result most = FitSearch.largest(req.modelName(), req.spec(), perRequest, g,
                            "batch_size");
                    hi = Math.min(most.value(), 1024);
                    if (hi < 1) {
                        continue;
                    }
                    base = Candidates.with(base, "batch_size", String.valueOf(hi));
                }
                // the largest concurrency that meets the latency targets (TTFT and TPOT grow with concurrency)
                int lo = 0;
                Estimate best = null;
                int a = 1, b = hi;
                while (a <= b) {
                    int mid = (a + b) >>> 1;
                    Optional<Estimate> e = c.estimate(Candidates.with(base, "batch_size", String.valueOf(mid)), g);
                    if (e.isPresent() && Candidates.fits(e.get()) && meets(req, e.get().perf().orElseThrow())) {
                        lo = mid;
                        best = e.get();
                        a = mid + 1;
                    } else {
                        b = mid - 1;
                    }
                }
                if (best == null) {
                    continue;
                }
                // one replica carries the rate with room to spare: the smallest concurrency that still does has
                // the lowest latency at the same cost
                if (req.rps().isPresent() && best.perf().orElseThrow().figure("requests_per_s")
                        > req.rps().getAsDouble()) {
                    int a2 = 1, b2 = lo;
                    while (a2 < b2) {
                        int mid = (a2 + b2) >>> 1;
                        Optional<Estimate> e = c.estimate(Candidates.with(base, "batch_size", String.valueOf(mid)), g);
                        if (e.isPresent() && Candidates.fits(e.get())
                                && e.get().perf().orElseThrow().figure("requests_per_s") >= req.rps().getAsDouble()) {
                            b2 = mid;
                        } else {
                            a2 = mid + 1;
                        }
                    }
                    Optional<Estimate> smallest = c.estimate(Candidates.with(base, "batch_size", String.valueOf(a2)), g);
                    if (smallest.isPresent() && Candidates.fits(smallest.get())) {
                        lo = a2;
                        best = smallest.get();
                    }
                }
                PerfEstimate pe = best.perf().orElseThrow();
                double replicaRps = pe.figure("requests_per_s");
                double rps = req.rps().orElse(replicaRps);
                double neededReplicas = Math.ceil(rps / replicaRps - 1e-9);
                if (neededReplicas * tp > req.maxGpus()) {
                    continue; // (in double: an absurd rate must not overflow past the GPU limit)
                }
                int replicas = (int) neededReplicas;
                int instancesPerReplica = price.map(p -> (int) Math.ceil(tp / (double) p.gpusPerInstance())).orElse(0);
                double hourly = price.map(p -> replicas * instancesPerReplica * p.usdPerInstanceHour(req.spot()))
                        .orElse(Double.NaN);
                // the output tokens the runtime model generated per request (seq_len split when not given)
                int output = best.workload().outputTokens();
                double perMillion = hourly / (rps * output * 3600) * 1e6;
                Map<String, String> k = Candidates.with(base, "batch_size", String.valueOf(lo), "gpu", g.name());
                out.add(new Plan(k, best, price, replicas * instancesPerReplica, hourly, Double.NaN, hourly,
                        perMillion, replicas));
            }
        }
        if (req.rps().isEmpty()) {
            assumptions.add("no --rps given: one replica each, at the largest concurrency that meets the targets");
        }
        return out;
    }

    static boolean meets(PlanRequest req, PerfEstimate pe) {
        return (req.ttftS().isEmpty() || pe.ttftS() <= req.ttftS().getAsDouble())
                && (req.tpotS().isEmpty() || pe.tpotS() <= req.tpotS().getAsDouble());
    }

    /** 1e9 as "1000000000" (as a user writes a token count), not "1.0E9". */
    static String plainNumber(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e18 ? String.valueOf((long) v) : String.valueOf(v);
    }

    private static List<Integer> powersOfTwo(int max) {
        List<Integer> out = new ArrayList<>();
        for (int n = 1; n <= max; n *= 2) {
            out.add(n);
        }
        return out;
    }
}
