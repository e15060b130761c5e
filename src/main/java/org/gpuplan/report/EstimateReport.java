package org.gpuplan.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;
import org.gpuplan.estimate.Estimate;
import org.gpuplan.memory.MemoryEstimate;
import org.gpuplan.memory.Phase;
import org.gpuplan.model.Term;
import org.gpuplan.workload.Workload;

/** What {@code gpuplan estimate} shows: memory terms, phases, the three peaks and the fit, as text or JSON. */
public final class EstimateReport {

    /** JSON key of each memory term (the contract other tools read). */
    static final List<String> TERM_KEYS = List.of("weights", "gradients", "optimizer", "activations", "kv_cache",
            "recurrent_state", "temporary", "overhead");

    private final Estimate e;

    private EstimateReport(Estimate e) {
        this.e = e;
    }

    public static EstimateReport of(Estimate e) {
        return new EstimateReport(e);
    }

    /** {@link #toJson()} with {@code changes}: what would make a job that does not fit its GPU fit. */
    public ObjectNode toJson(List<org.gpuplan.plan.Changes.Change> changes) {
        ObjectNode root = toJson();
        if (!changes.isEmpty()) {
            root.set("changes", PlanReport.changesJson(changes));
        }
        return root;
    }

    public ObjectNode toJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        root.put("model", e.modelName());
        root.set("workload", workloadJson(e.workload()));
        e.gpu().ifPresent(g -> root.putObject("gpu").put("name", g.name()).put("cuda_total_bytes", g.cudaTotalBytes())
                .put("nvidia_smi_total_bytes", g.nvidiaSmiTotalBytes()));
        MemoryEstimate m = e.memory();
        ObjectNode mem = root.putObject("memory");
        for (String key : TERM_KEYS) {
            mem.put(key + "_bytes", m.bytes(key));
        }
        mem.put("peak_allocated_bytes", m.peakAllocated());
        mem.put("peak_reserved_bytes", m.peakReserved());
        mem.put("device_used_bytes", m.deviceUsed());
        if (!e.workload().training()) {
            long total = e.ranks().stream().mapToLong(r -> r.memory().bytes("kv_cache") * r.gpus()).sum();
            mem.put("kv_cache_total_bytes", e.ranks().size() == 1 && e.ranks().get(0).gpus() == 1
                    ? m.bytes("kv_cache") : total);
        }
        if (m.bytes("generation_engine") > 0) {
            mem.put("generation_engine_bytes", m.bytes("generation_engine"));
        }
        if (m.bytes("recurrent_state_pool") > 0) {
            mem.put("recurrent_state_pool_bytes", m.bytes("recurrent_state_pool"));
        }
        m.pool().ifPresent(p -> {
            mem.put("kv_pool_bytes", p.poolBytes());
            mem.put("kv_cache_capacity_tokens", p.capacityTokens());
            mem.put("max_concurrency", Math.round(p.maxConcurrency() * 100) / 100.0);
        });
        mem.put("peak_phase", m.peakPhase().name());
        if (e.hostMemoryBytesPerNode() > 0) {
            root.put("host_memory_bytes", e.hostMemoryBytesPerNode());
        }
        ArrayNode ranks = root.putArray("ranks");
        for (Estimate.Rank r : e.ranks()) {
            ObjectNode rank = ranks.addObject().put("name", r.name()).put("gpus", r.gpus());
            ObjectNode rm = rank.putObject("memory");
            for (String key : TERM_KEYS) {
                rm.put(key + "_bytes", r.memory().bytes(key));
            }
            rm.put("peak_allocated_bytes", r.memory().peakAllocated());
            rm.put("peak_reserved_bytes", r.memory().peakReserved());
            rm.put("device_used_bytes", r.memory().deviceUsed());
            r.memory().pool().ifPresent(pl -> rm.put("kv_pool_bytes", pl.poolBytes())
                    .put("kv_cache_capacity_tokens", pl.capacityTokens()));
            if (r.hostBytes() > 0) {
                rank.put("host_bytes", r.hostBytes());
            }
        }
        e.fit().ifPresent(fit -> {
            ObjectNode fo = root.putObject("fit").put("fits", fit.fits())
                    .put("available_bytes", fit.availableBytes()).put("required_bytes", fit.requiredBytes())
                    .put("headroom_bytes", fit.headroomBytes());
            // serving engines with a pool: whether it holds one whole sequence (vLLM refuses to start otherwise)
            m.pool().ifPresent(p -> fo.put("kv_pool_holds_one_sequence", p.holdsOneSequence(e.workload().seqLen())));
        });
        ArrayNode terms = root.putArray("terms");
        for (Term t : m.terms()) {
            terms.addObject().put("key", t.key()).put("label", t.label()).put("bytes", t.value())
                    .put("formula", t.formula());
        }
        for (Term t : m.explanations()) {
            terms.addObject().put("key", t.key()).put("label", t.label()).put("bytes", t.value())
                    .put("formula", t.formula());
        }
        ArrayNode phases = root.putArray("phases");
        for (Phase p : m.phases()) {
            ArrayNode contents = phases.addObject().put("name", p.name()).put("allocated_bytes", p.bytes())
                    .putArray("contents");
            p.contents().stream().filter(s -> !s.isEmpty()).forEach(contents::add);
        }
        ArrayNode assumptions = root.putArray("assumptions");
        m.assumptions().forEach(assumptions::add);
        ArrayNode warnings = root.putArray("warnings");
        e.warnings().forEach(warnings::add);
        root.put("parameters_total", e.parameters().totalCount());
        e.perf().ifPresent(pe -> root.set("perf", perfJson(pe)));
        return root;
    }

    /** The {@code perf} contract: headline keys (null where they do not apply) and every figure with its formula. */
    static ObjectNode perfJson(org.gpuplan.perf.PerfEstimate pe) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        num(o, "step_time_s", pe.stepTimeS());
        num(o, "tokens_per_s", pe.tokensPerS());
        num(o, "tokens_per_s_per_gpu", pe.figure("tokens_per_s_per_gpu"));
        num(o, "mfu", pe.mfu());
        num(o, "hfu", pe.figure("hfu"));
        num(o, "model_tflops_per_gpu", pe.modelTflopsPerGpu());
        num(o, "train_time_s", pe.trainTimeS() > 0 ? pe.trainTimeS() : Double.NaN);
        num(o, "gpu_hours", pe.gpuHours() > 0 ? pe.gpuHours() : Double.NaN);
        num(o, "ttft_s", pe.ttftS());
        num(o, "tpot_s", pe.tpotS());
        num(o, "output_tokens_per_s", pe.outputTokensPerS());
        num(o, "max_concurrency", pe.maxConcurrency());
        num(o, "compute_utilization", pe.computeUtilization());
        num(o, "memory_bandwidth_utilization", pe.memoryBandwidthUtilization());
        num(o, "gpu_time_s", pe.figure("gpu_time_s"));
        num(o, "host_time_s", pe.figure("host_time_s"));
        o.put("bound", pe.bound());
        ArrayNode figs = o.putArray("figures");
        for (org.gpuplan.perf.Figure f : pe.figures()) {
            ObjectNode fo = figs.addObject().put("key", f.key()).put("label", f.label());
            num(fo, "value", f.value());
            fo.put("unit", f.unit()).put("formula", f.formula());
        }
        return o;
    }

    private static void num(ObjectNode o, String key, double v) {
        if (Double.isFinite(v)) {
            o.put(key, Math.abs(v) >= 1e-3 || v == 0 ? Double.parseDouble(String.format(Locale.ROOT, "%.6g", v)) : v);
        } else {
            o.putNull(key);
        }
    }

    static ObjectNode workloadJson(Workload w) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("task", w.task().key()).put("method", w.method().key()).put("framework", w.framework().key())
                .put("precision", w.precision().key()).put("batch_size", w.batchSize()).put("seq_len", w.seqLen());
        if (w.training()) {
            o.put("optimizer", w.optimizer().key()).put("grad_accum", w.gradAccum())
                    .put("checkpointing", w.checkpointing().key()).put("attention", w.attention().key())
                    .put("loss_impl", w.lossImpl().key());
            if (w.optimizerInBackward()) {
                o.put("optimizer_in_backward", true);
            }
            if (w.activationOffloading()) {
                o.put("activation_offloading", true);
            }
            if (w.perf().liger()) {
                o.put("use_liger_kernel", true);
            }
            if (w.trainer() != org.gpuplan.workload.Trainer.SFT) {
                o.put("trainer", w.trainer().key());
                if (w.precomputeRefLogProbs()) {
                    o.put("precompute_ref_log_probs", true);
                }
                if (w.trainer() == org.gpuplan.workload.Trainer.GRPO) {
                    org.gpuplan.workload.RlGeneration rl = w.rl();
                    o.put("beta", rl.beta()).put("use_vllm", rl.mode() != org.gpuplan.workload.RlGeneration.Mode
                            .TRANSFORMERS).put("prompt_len", w.promptLen()).put("output_len", w.outputLen())
                            .put("steps_per_generation", w.stepsPerGeneration()).put("num_iterations",
                                    rl.numIterations());
                    if (rl.mode() != org.gpuplan.workload.RlGeneration.Mode.TRANSFORMERS) {
                        o.put("vllm_mode", rl.mode() == org.gpuplan.workload.RlGeneration.Mode.VLLM_COLOCATE
                                ? "colocate" : "server");
                    }
                    if (rl.mode() == org.gpuplan.workload.RlGeneration.Mode.VLLM_COLOCATE) {
                        o.put("vllm_gpu_memory_utilization", rl.vllmMemoryUtilization())
                                .put("vllm_enable_sleep_mode", rl.sleepMode());
                    }
                }
            }
            if (w.method().key().contains("lora")) {
                o.put("lora_rank", w.loraRank()).put("lora_alpha", w.loraAlpha());
                if (w.useDora()) {
                    o.put("use_dora", true);
                }
                if (w.loraDropout() > 0) {
                    o.put("lora_dropout", w.loraDropout());
                }
                if (!w.modulesToSave().isEmpty()) {
                    w.modulesToSave().forEach(o.putArray("modules_to_save")::add);
                }
            }
        } else {
            o.put("prompt_len", w.promptLen()).put("output_len", w.outputLen()).put("kv_dtype", w.kvDtype().key())
                    .put("kv_layout", w.kvLayout().key());
            if (w.framework() == org.gpuplan.workload.Framework.VLLM) {
                o.put("sampler", w.sampler().key());
                w.vllmVersion().ifPresent(v -> o.put("vllm_version", v.toString()));
                if (w.loraSlots().enabled()) {
                    o.put("enable_lora", true).put("max_loras", w.loraSlots().maxLoras())
                            .put("max_lora_rank", w.loraSlots().maxRank());
                }
                if (w.mxfp4Backend() != org.gpuplan.workload.Mxfp4Backend.AUTO) {
                    o.put("mxfp4_backend", w.mxfp4Backend().key());
                }
            }
            if (w.stateCache().dtype() != org.gpuplan.workload.StateDtype.AUTO) {
                o.put("mamba_ssm_dtype", w.stateCache().dtype().key());
            }
            if (w.stateCache().slots() > 0) {
                o.put("max_mamba_cache_size", w.stateCache().slots());
            }
            if (!w.stateCache().radixCache()) {
                o.put("disable_radix_cache", true);
            }
            if (w.gpuLayers().cpuOffloadGib() > 0) {
                o.put("cpu_offload_gb", w.gpuLayers().cpuOffloadGib());
            }
            if (w.gpuLayers().llamaCppPlacement()) {
                // a count, or "all" as llama.cpp's users write it
                org.gpuplan.workload.GpuLayers g = w.gpuLayers();
                if (g.count() == org.gpuplan.workload.GpuLayers.ALL) {
                    o.put("n_gpu_layers", "all");
                } else {
                    o.put("n_gpu_layers", g.count());
                }
                if (g.cpuMoe() == org.gpuplan.workload.GpuLayers.ALL) {
                    o.put("n_cpu_moe", "all");
                } else {
                    o.put("n_cpu_moe", g.cpuMoe());
                }
                o.put("op_offload", g.opOffload());
            }
            if (w.gpuLayers().llamacppBuild() > 0) {
                o.put("llamacpp_build", w.gpuLayers().llamacppBuild());
            }
        }
        o.put("quant", w.quant().key());
        if (w.perf().expandableSegments()) {
            o.put("expandable_segments", true);
        }
        org.gpuplan.workload.Parallelism par = w.parallelism();
        if (!par.equals(org.gpuplan.workload.Parallelism.SINGLE)) {
            // the layout as keys, so that a workload read from other tools' files (a DeepSpeed config) shows here
            o.put("gpus", par.gpus()).put("nodes", par.nodes()).put("zero", par.zero()).put("fsdp", par.fsdp().key())
                    .put("tp", par.tp()).put("pp", par.pp()).put("virtual_pp", par.virtualPp())
                    .put("pp_schedule", par.ppSchedule().key()).put("cp", par.cp()).put("ep", par.ep())
                    .put("sequence_parallel", par.sequenceParallel())
                    .put("offload_optimizer", par.offloadOptimizer().key())
                    .put("offload_params", par.offloadParams().key());
            if (par.globalBatchSize() > 0) {
                o.put("global_batch_size", par.globalBatchSize());
            }
            if (par.attentionDp()) {
                o.put("attention_dp", true);
            }
        }
        return o;
    }

    public String toText(boolean explain) {
        StringBuilder out = new StringBuilder();
        Workload w = e.workload();
        MemoryEstimate m = e.memory();
        out.append(e.modelName()).append(": ").append(w.task().key()).append(w.training() ? " (" + w.method().key()
                + (w.useDora() ? " + DoRA" : "") + (w.trainer() != org.gpuplan.workload.Trainer.SFT ? ", "
                + w.trainer().key().toUpperCase(java.util.Locale.ROOT) : "") + ", " + w.optimizer().key() + ")" : "").append(", ").append(w.framework().key()).append(", ")
                .append(w.precision().key()).append(w.quant().key().equals("none") ? "" : ", " + w.quant().key())
                .append(", batch ").append(w.batchSize()).append(" × ").append(w.seqLen()).append(" tokens")
                .append(e.gpu().map(g -> ", on " + g.name()).orElse("")).append('\n');
        out.append("\nMemory on the GPU\n");
        long max = m.terms().stream().mapToLong(Term::value).max().orElse(1);
        int termWidth = Math.max(28, m.terms().stream().mapToInt(t -> t.label().length()).max().orElse(0));
        for (Term t : m.terms()) {
            if (t.value() == 0 && !explain) {
                continue;
            }
            out.append(String.format(Locale.ROOT, "  %-" + termWidth + "s %12s  %s%n", t.label(), gib(t.value()),
                    bar(t.value(), max)));
            if (explain) {
                out.append("      = ").append(t.formula()).append('\n');
            }
        }
        out.append("\nPhases (bytes allocated)\n");
        // long phase names ("backward through the last layer") widen the column rather than push the figure out
        int width = Math.max(28, m.phases().stream().mapToInt(p -> p.name().length()).max().orElse(0));
        for (Phase p : m.phases()) {
            out.append(String.format(Locale.ROOT, "  %-" + width + "s %12s%s%n", p.name(), gib(p.bytes()),
                    p == m.peakPhase() ? "   ← peak" : ""));
            if (explain) {
                String held = String.join(" + ", p.contents().stream().filter(c -> !c.isEmpty()).toList());
                if (!held.isEmpty()) {
                    out.append("      = ").append(held).append('\n');
                }
            }
        }
        out.append("\nPeaks\n");
        out.append(String.format(Locale.ROOT, "  %-44s %12s%n", "allocated (torch.cuda.max_memory_allocated)",
                gib(m.peakAllocated())));
        out.append(String.format(Locale.ROOT, "  %-44s %12s%n", "reserved  (torch.cuda.max_memory_reserved)",
                gib(m.peakReserved())));
        String vendor = e.gpu().map(g -> g.vendor().toLowerCase(Locale.ROOT)).orElse("nvidia");
        String smi = vendor.equals("amd") ? "rocm-smi" : vendor.equals("nvidia") ? "nvidia-smi" : "device";
        out.append(String.format(Locale.ROOT, "  %-44s %12s%n", "device used (" + smi + ")", gib(m.deviceUsed())));
        if (explain) {
            for (Term t : m.explanations()) {
                out.append("      ").append(t.label()).append(" = ").append(t.formula()).append('\n');
            }
        }
        if (e.ranks().size() > 1 || e.ranks().get(0).gpus() > 1) {
            out.append("\nRanks (").append(w.parallelism().gpus()).append(" GPUs: dp ").append(w.parallelism().dp())
                    .append(" × tp ").append(w.parallelism().tp()).append(" × pp ").append(w.parallelism().pp())
                    .append(" × cp ").append(w.parallelism().cp()).append(")\n");
            for (Estimate.Rank r : e.ranks()) {
                out.append(String.format(Locale.ROOT, "  %-30s %5d GPUs  allocated %12s  device used %12s%s%n",
                        r.name(), r.gpus(), gib(r.memory().peakAllocated()), gib(r.memory().deviceUsed()),
                        r.memory() == m ? "   ← most loaded" : ""));
            }
            if (e.hostMemoryBytesPerNode() > 0) {
                out.append("  host memory per node for offloaded state: ").append(gib(e.hostMemoryBytesPerNode()))
                        .append('\n');
            }
        } else if (e.hostMemoryBytesPerNode() > 0) {
            out.append(w.training() ? "\nHost memory for offloaded activations (pinned): "
                    : "\nHost memory for the weights (and KV cache) kept there: ")
                    .append(gib(e.hostMemoryBytesPerNode()))
                    .append('\n');
        }
        m.pool().ifPresent(p -> out.append(String.format(Locale.ROOT, "%nKV pool: %s → %,d tokens, max concurrency "
                + "%.1f at %,d tokens per sequence%n", gib(p.poolBytes()), p.capacityTokens(), p.maxConcurrency(),
                w.seqLen())));
        boolean short1 = m.pool().map(p -> !p.empty() && !p.holdsOneSequence(w.seqLen())).orElse(false);
        e.fit().ifPresent(fit -> out.append(String.format(Locale.ROOT, "%n%s %s: needs %s of %s (%s %s)%s%n",
                fit.fits() ? short1 ? "FITS in memory on" : "FITS" : "DOES NOT FIT", e.gpu().get().name(),
                gib(fit.requiredBytes()), gib(fit.availableBytes()), gib(Math.abs(fit.headroomBytes())),
                fit.fits() ? "to spare" : "short", fit.fits() && short1 ? String.format(Locale.ROOT, ", but its KV "
                        + "pool holds %,d tokens, less than one %,d-token sequence", m.pool().get().capacityTokens(),
                        w.seqLen()) : "")));
        e.perf().ifPresent(pe -> {
            out.append("\nTime (").append(pe.bound()).append(w.training() ? "" : "; " + w.batchSize()
                    + (w.batchSize() == 1 ? " sequence" : " concurrent sequences") + (w.perf().maxBatch() ? ", the most the KV pool holds" : "")).append(")\n");
            for (org.gpuplan.perf.Figure f : pe.figures()) {
                out.append(String.format(Locale.ROOT, "  %-34s %s%n", f.label(), human(f.value(), f.unit())));
                if (explain) {
                    out.append("      = ").append(f.formula()).append('\n');
                }
            }
        });
        if (explain && !m.assumptions().isEmpty()) {
            out.append("\nAssumptions\n");
            m.assumptions().forEach(a -> out.append("  - ").append(a).append('\n'));
        }
        e.warnings().forEach(wn -> out.append("\nwarning: ").append(wn).append('\n'));
        out.append("\n(GiB = 2^30 bytes, MiB = 2^20 bytes)\n");
        return out.toString();
    }

    static String human(double v, String unit) {
        return switch (unit) {
            case "s" -> v >= 86400 * 2 ? String.format(Locale.ROOT, "%.2f days", v / 86400)
                    : v >= 7200 ? String.format(Locale.ROOT, "%.2f h", v / 3600)
                    : v >= 1 ? String.format(Locale.ROOT, "%.3f s", v) : String.format(Locale.ROOT, "%.2f ms", v * 1e3);
            case "fraction" -> String.format(Locale.ROOT, "%.1f %%", v * 100);
            case "FLOP" -> String.format(Locale.ROOT, "%.4g FLOP", v);
            default -> String.format(Locale.ROOT, v >= 100 ? "%,.0f %s" : "%.3g %s", v, unit);
        };
    }

    /** Every distinct rank's terms, for {@code --per-rank}. */
    public String perRankText(boolean explain) {
        StringBuilder out = new StringBuilder();
        for (Estimate.Rank r : e.ranks()) {
            out.append("\n").append(r.name()).append(" (").append(r.gpus()).append(" GPUs)\n");
            for (Term t : r.memory().terms()) {
                out.append(String.format(Locale.ROOT, "  %-28s %12s%n", t.label(), gib(t.value())));
                if (explain) {
                    out.append("      = ").append(t.formula()).append('\n');
                }
            }
            out.append(String.format(Locale.ROOT, "  %-28s %12s%n  %-28s %12s%n  %-28s %12s%n", "peak allocated",
                    gib(r.memory().peakAllocated()), "peak reserved", gib(r.memory().peakReserved()),
                    "device used", gib(r.memory().deviceUsed())));
            if (r.hostBytes() > 0) {
                out.append(String.format(Locale.ROOT, "  %-28s %12s%n", "host memory (offload)", gib(r.hostBytes())));
            }
        }
        return out.toString();
    }

    private static String gib(long bytes) {
        if (Math.abs(bytes) < (1L << 30)) {
            return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024));
        }
        return String.format(Locale.ROOT, "%.2f GiB", bytes / Units.GIB);
    }

    private static String bar(long value, long max) {
        int n = max <= 0 ? 0 : (int) Math.round(30.0 * value / max);
        return "█".repeat(Math.max(0, n));
    }
}
