package org.gpuplan.hardware;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.gpuplan.cli.Main;
import org.gpuplan.model.InvalidInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GpuCatalogTest {

    static final GpuCatalog CATALOG = GpuCatalog.builtIn();

    @TempDir
    Path tmp;

    static Gpu gpu(String name) {
        return CATALOG.require(name);
    }

    @Test
    void catalogIsLargeWithUniqueNamesAndAliases() {
        assertThat(CATALOG.gpus()).hasSizeGreaterThanOrEqualTo(37);
        Map<String, String> owner = new HashMap<>();
        for (Gpu g : CATALOG.gpus()) {
            for (String n : concat(g.name(), g.aliases())) {
                String key = n.trim().toLowerCase(Locale.ROOT).replace("_", "-").replace(" ", "-");
                String previous = owner.putIfAbsent(key, g.name());
                assertThat(previous == null || previous.equals(g.name()))
                        .as("'%s' of %s is also a name or alias of %s", n, g.name(), previous).isTrue();
            }
            assertThat(CATALOG.require(g.name())).isSameAs(g);
            for (String a : g.aliases()) {
                assertThat(CATALOG.require(a)).as(a).isSameAs(g);
            }
        }
    }

    @Test
    void deviceNamesAsTheDriversPrintThemFindTheirGpu() {
        GpuCatalog c = GpuCatalog.builtIn();
        java.util.Map<String, String> names = java.util.Map.ofEntries(
                java.util.Map.entry("NVIDIA GeForce RTX 4090", "RTX-4090"),
                java.util.Map.entry("NVIDIA H100 80GB HBM3", "H100-SXM-80GB"),
                java.util.Map.entry("NVIDIA H100 PCIe", "H100-PCIe-80GB"),
                java.util.Map.entry("NVIDIA A100-SXM4-40GB", "A100-SXM-40GB"),
                java.util.Map.entry("NVIDIA A100 80GB PCIe", "A100-PCIe-80GB"),
                java.util.Map.entry("Tesla T4", "T4"),
                java.util.Map.entry("Tesla V100-SXM2-16GB", "V100-SXM2-16GB"),
                java.util.Map.entry("NVIDIA RTX A6000", "RTX-A6000"),
                java.util.Map.entry("NVIDIA RTX 6000 Ada Generation", "RTX-6000-Ada"),
                java.util.Map.entry("NVIDIA GH200 480GB", "GH200-96GB"),
                java.util.Map.entry("AMD Instinct MI300X", "MI300X"));
        names.forEach((device, gpu) -> assertThat(c.find(device).map(Gpu::name)).as(device).contains(gpu));
        assertThat(c.find("NVIDIA GeForce GTX 1060 6GB")).isEmpty();
    }

    @Test
    void everyGpuHasPeakBandwidthLinkAndSource() {
        for (Gpu g : CATALOG.gpus()) {
            assertThat(g.bf16DenseTflops()).as(g.name()).isPositive();
            assertThat(g.peakTflops(TensorDtype.BF16)).as(g.name()).isPositive();
            assertThat(g.memoryBandwidthTbs()).as(g.name()).isBetween(0.1, 20.0);
            assertThat(g.interconnect().link()).as(g.name()).isNotBlank();
            assertThat(g.interconnect().linkGBs()).as(g.name()).isPositive();
            assertThat(g.interconnect().scaleUpGpus()).as(g.name()).isPositive();
            assertThat(g.interconnect().networkGBs()).as(g.name()).isPositive();
            assertThat(g.matmulEfficiency()).as(g.name()).isBetween(0.3, 1.0);
            assertThat(g.memoryEfficiency()).as(g.name()).isBetween(0.3, 1.0);
            assertThat(g.vendor()).as(g.name()).isIn("nvidia", "amd", "intel", "google");
            assertThat(g.architecture()).as(g.name()).isNotBlank();
            assertThat(g.source()).as(g.name()).containsPattern("\\(retrieved \\d{4}-\\d{2}-\\d{2}\\)");
            // what CUDA reports never exceeds the nvidia-smi total, and both are near the advertised size
            assertThat(g.cudaTotalBytes()).as(g.name()).isLessThanOrEqualTo(g.nvidiaSmiTotalBytes());
            assertThat((double) g.cudaTotalBytes() / g.memoryBytes()).as(g.name()).isBetween(0.85, 1.1);
            if ("nvidia".equals(g.vendor())) {
                assertThat(g.computeMajor()).as(g.name()).isBetween(7, 12);
            }
            // fp8 is at most twice the 16-bit rate (guards against sparse figures); GeForce cards quote their
            // 16-bit rate with fp32 accumulation, which is halved, so there fp8 can reach four times it
            if (g.supports(TensorDtype.FP8)) {
                double ratio = g.name().startsWith("RTX-") && !g.name().startsWith("RTX-PRO") ? 4.05 : 2.05;
                assertThat(g.peakTflops(TensorDtype.FP8)).as(g.name()).isBetween(g.bf16DenseTflops(),
                        ratio * g.bf16DenseTflops());
            }
            if (g.supports(TensorDtype.TF32)) {
                assertThat(g.peakTflops(TensorDtype.TF32)).as(g.name()).isLessThanOrEqualTo(g.bf16DenseTflops());
            }
        }
    }

    @Test
    void figuresMatchTheReference() {
        Gpu h100 = gpu("H100-SXM-80GB");
        assertThat(h100.peakTflops(TensorDtype.BF16)).isEqualTo(989);
        assertThat(h100.peakTflops(TensorDtype.FP8)).isEqualTo(1979);
        assertThat(h100.peakTflops(TensorDtype.TF32)).isEqualTo(494.5);
        assertThat(h100.interconnect()).isEqualTo(new Gpu.Interconnect("NVLink4", 450, 8, 50));
        assertThat(h100.matmulEfficiency()).isEqualTo(0.803);
        assertThat(h100.memoryEfficiency()).isEqualTo(Gpu.DEFAULT_MEMORY_EFFICIENCY);

        Gpu a100 = gpu("A100");
        assertThat(a100.name()).isEqualTo("A100-SXM-80GB");
        assertThat(a100.peakTflops(TensorDtype.TF32)).isEqualTo(156);
        assertThat(a100.peakTflops(TensorDtype.INT8)).isEqualTo(624);
        assertThat(a100.supports(TensorDtype.FP8)).isFalse();
        assertThat(a100.interconnect().linkGBs()).isEqualTo(300);
        assertThat(a100.interconnect().networkGBs()).isEqualTo(25);
        assertThat(a100.matmulEfficiency()).isEqualTo(0.869);
        assertThat(gpu("A100-PCIe-80GB").matmulEfficiency()).isEqualTo(0.811);

        Gpu mi300x = gpu("MI300X");
        assertThat(mi300x.bf16DenseTflops()).isEqualTo(1300);
        assertThat(mi300x.matmulEfficiency()).isEqualTo(0.514);
        assertThat(mi300x.interconnect().link()).isEqualTo("XGMI");

        Gpu b300 = gpu("B300");
        assertThat(b300.name()).isEqualTo("B300-SXM-288GB");
        assertThat(b300.peakTflops(TensorDtype.INT8)).isEqualTo(153.5); // Blackwell Ultra INT8 cut (AIC)
        assertThat(b300.peakTflops(TensorDtype.FP8)).isEqualTo(4500);
        assertThat(b300.nvidiaSmiTotalBytes()).isEqualTo(275_040L << 20);
        assertThat(b300.matmulEfficiency()).isEqualTo(0.786);

        Gpu b200 = gpu("B200");
        assertThat(b200.peakTflops(TensorDtype.FP4)).isEqualTo(9000);
        assertThat(b200.matmulEfficiency()).isEqualTo(0.776);

        Gpu gb200 = gpu("GB200");
        assertThat(gb200.interconnect().scaleUpGpus()).isEqualTo(72);
        assertThat(gb200.interconnect().linkGBs()).isEqualTo(900);
        assertThat(gb200.memoryEfficiency()).isEqualTo(0.92);
        assertThat(gb200.matmulEfficiency()).isEqualTo(0.729);
        assertThat(gb200.nvidiaSmiTotalBytes()).isEqualTo(189_471L << 20);
        assertThat(gpu("GB300").nvidiaSmiTotalBytes()).isEqualTo(284_208L << 20);
        assertThat(gpu("GB300").peakTflops(TensorDtype.INT8)).isEqualTo(165);
        assertThat(gpu("RTX-PRO-6000").nvidiaSmiTotalBytes()).isEqualTo(97_887L << 20);
        assertThat(gpu("RTX-PRO-6000").computeCapability()).isEqualTo("12.0");

        assertThat(gpu("GH200").name()).isEqualTo("GH200-96GB");
        assertThat(gpu("GH200-96GB").memoryBandwidthTbs()).isEqualTo(4.0);
        assertThat(gpu("GH200-96GB").matmulEfficiency()).isEqualTo(0.838);
        assertThat(gpu("H200").matmulEfficiency()).isEqualTo(0.803);
        assertThat(gpu("MI325X").matmulEfficiency()).isEqualTo(0.604);
        assertThat(gpu("Gaudi2").matmulEfficiency()).isEqualTo(0.969);
        assertThat(gpu("Gaudi3").matmulEfficiency()).isEqualTo(0.741);
        assertThat(gpu("Gaudi3").peakTflops(TensorDtype.BF16)).isEqualTo(1677);
        assertThat(gpu("Gaudi3").peakTflops(TensorDtype.FP16)).isEqualTo(459);
        assertThat(gpu("MI250X").bf16DenseTflops()).isEqualTo(383);
        assertThat(gpu("A30").peakTflops(TensorDtype.INT8)).isEqualTo(330);
        assertThat(gpu("V100-PCIe-32GB").cudaTotalBytes()).isEqualTo(gpu("V100-SXM2-32GB").cudaTotalBytes());
        assertThat(gpu("TPU-v5p").interconnect().link()).isEqualTo("ICI");
        // no measurement: the documented defaults
        assertThat(gpu("L40S").matmulEfficiency()).isEqualTo(Gpu.DEFAULT_MATMUL_EFFICIENCY);
        // the known-wrong figures are not used
        assertThat(gpu("RTX-4090").bf16DenseTflops()).isEqualTo(165);
        assertThat(gpu("A10G").bf16DenseTflops()).isLessThan(gpu("A10").bf16DenseTflops());
    }

    @Test
    void missingDtypesFallBackToTheNearestSlowerPath() {
        Gpu a100 = gpu("A100-SXM-80GB");
        assertThat(a100.peakTflops(TensorDtype.FP8)).isEqualTo(a100.bf16DenseTflops());
        assertThat(a100.peakTflops(TensorDtype.FP4)).isEqualTo(a100.bf16DenseTflops());
        Gpu h100 = gpu("H100-SXM-80GB");
        assertThat(h100.supports(TensorDtype.FP4)).isFalse();
        assertThat(h100.peakTflops(TensorDtype.FP4)).isEqualTo(1979);
        Gpu v100 = gpu("V100-SXM2-16GB");
        assertThat(v100.peakTflops(TensorDtype.INT8)).isEqualTo(125);
        assertThat(v100.peakTflops(TensorDtype.TF32)).isEqualTo(15.7);
    }

    @Test
    void userFileWithOnlyRequiredColumnsTakesTheDefaults() throws Exception {
        Path f = write("name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops\nMy-GPU,80,2,300\n");
        GpuCatalog c = GpuCatalog.withUserFile(f);
        assertThat(c.gpus()).hasSize(CATALOG.gpus().size() + 1);
        Gpu g = c.require("my_gpu");
        assertThat(g.memoryBytes()).isEqualTo(80_000_000_000L);
        assertThat(g.nvidiaSmiTotalBytes()).isEqualTo(80L << 30);
        assertThat(g.cudaTotalBytes()).isEqualTo((long) (79.5 * (1L << 30)));
        assertThat(g.denseTflops()).containsOnlyKeys(TensorDtype.BF16);
        assertThat(g.peakTflops(TensorDtype.FP8)).isEqualTo(300);
        assertThat(g.peakTflops(TensorDtype.FP32)).isEqualTo(75);
        assertThat(g.interconnect()).isEqualTo(new Gpu.Interconnect("PCIe4", 32, 8, 12.5));
        assertThat(g.matmulEfficiency()).isEqualTo(Gpu.DEFAULT_MATMUL_EFFICIENCY);
        assertThat(g.memoryEfficiency()).isEqualTo(Gpu.DEFAULT_MEMORY_EFFICIENCY);
        assertThat(g.tdpWatts()).isZero();
        assertThat(g.clockFactor()).isEqualTo(1.0);
        assertThat(g.computeCapability()).isEmpty();
        assertThat(g.aliases()).isEmpty();
        // fp16 alone is enough, columns in any order, a BOM, CRLF line ends and comment lines are accepted
        Path f2 = write("\uFEFFmemory_bandwidth_tbs,fp16_dense_tflops,name,memory_gb\r\n# a comment\r\n"
                + "1.5,100,Half-Only,24\r\n");
        Gpu h = GpuCatalog.withUserFile(f2).require("Half-Only");
        assertThat(h.bf16DenseTflops()).isEqualTo(100);
        assertThat(h.supports(TensorDtype.BF16)).isFalse();
    }

    @Test
    void aPowerCappedPartKeepsItsMeasuredCeilingAndARecordedClockFactor() {
        // Meta's 500 W H100s: the 700 W part's measured ceiling, clock 500/700 (linear power law) as an explicit
        // assumption inside the physical bracket (cube root, V ~ f, at the top)
        Gpu capped = gpu("H100-HBM2e-96GB");
        assertThat(capped.matmulEfficiency()).isEqualTo(gpu("H100-SXM-80GB").matmulEfficiency());
        assertThat(capped.clockFactor()).isCloseTo(500.0 / 700, org.assertj.core.api.Assertions.within(5e-4))
                .isLessThan(Math.cbrt(500.0 / 700));
        assertThat(CATALOG.gpus()).filteredOn(g -> g != capped).allSatisfy(g -> assertThat(g.clockFactor())
                .isEqualTo(1.0));
    }

    @Test
    void userRowReplacesTheBuiltInGpuOfThatName() throws Exception {
        Path f = write("""
                name,aliases,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops,fp8_dense_tflops,link,link_gbs,\
                scale_up_gpus,network_gbs,matmul_efficiency,memory_efficiency,source
                h100-sxm-80gb,H100,80,3.35,900,1800,NVLink4,400,16,100,0.7,0.9,"my lab, measured"
                """);
        GpuCatalog c = GpuCatalog.withUserFile(f);
        assertThat(c.gpus()).hasSize(CATALOG.gpus().size());
        assertThat(c.gpus().stream().filter(g -> g.name().equalsIgnoreCase("H100-SXM-80GB"))).hasSize(1);
        Gpu g = c.require("H100-SXM-80GB");
        assertThat(g.bf16DenseTflops()).isEqualTo(900);
        assertThat(c.require("H100")).isSameAs(g);
        assertThat(g.interconnect()).isEqualTo(new Gpu.Interconnect("NVLink4", 400, 16, 100));
        assertThat(g.matmulEfficiency()).isEqualTo(0.7);
        assertThat(g.memoryEfficiency()).isEqualTo(0.9);
        assertThat(g.source()).isEqualTo("my lab, measured");
        assertThat(c.require("A100-SXM-80GB")).isEqualTo(gpu("A100-SXM-80GB"));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
            missing column      | name,memory_gb,bf16_dense_tflops\\nX,80,300                         | 'memory_bandwidth_tbs'
            no 16-bit peak col  | name,memory_gb,memory_bandwidth_tbs\\nX,80,2                        | 'bf16_dense_tflops'
            no 16-bit peak      | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops\\nX,80,2,      | 'bf16_dense_tflops'
            non-number          | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops\\nX,eighty,2,300 | 'memory_gb'
            negative            | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops\\nX,80,2,-300  | 'bf16_dense_tflops'
            huge memory         | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops\\nX,1e12,2,300 | 'memory_gb'
            infinite            | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops\\nX,80,Infinity,300 | 'memory_bandwidth_tbs'
            zero bandwidth      | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops\\nX,80,0,300   | 'memory_bandwidth_tbs'
            empty name          | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops\\n ,80,2,300   | 'name'
            efficiency above 1  | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops,matmul_efficiency\\nX,80,2,300,1.5 | 'matmul_efficiency'
            clock above 1       | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops,power_clock_factor\\nX,80,2,300,1.2 | 'power_clock_factor'
            zero link           | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops,link_gbs\\nX,80,2,300,0 | 'link_gbs'
            fractional domain   | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops,scale_up_gpus\\nX,80,2,300,2.5 | 'scale_up_gpus'
            huge smi total      | name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops,nvidia_smi_total_mib\\nX,80,2,300,1e300 | 'nvidia_smi_total_mib'
            duplicate name      | name,aliases,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops\\nX,,80,2,300\\nY,x,80,2,300 | 'aliases'
            """)
    void malformedUserFilesNameTheColumn(String what, String csv, String column) throws Exception {
        Path f = write(csv.replace("\\n", "\n"));
        assertThatThrownBy(() -> GpuCatalog.withUserFile(f)).as(what).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining(column).hasMessageContaining(f.getFileName().toString())
                .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
    }

    @Test
    void emptyUnreadableAndBinaryUserFilesAreClearErrors() throws Exception {
        Path empty = write("");
        assertThatThrownBy(() -> GpuCatalog.withUserFile(empty)).isInstanceOf(InvalidInputException.class)
                .hasMessageContaining("empty").hasMessageContaining("memory_gb");
        Path headerOnly = write("name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops\n");
        assertThat(GpuCatalog.withUserFile(headerOnly).gpus()).hasSameSizeAs(CATALOG.gpus());
        assertThatThrownBy(() -> GpuCatalog.withUserFile(tmp.resolve("absent.csv")))
                .isInstanceOf(InvalidInputException.class).hasMessageContaining("cannot read");
        Path binary = tmp.resolve("binary.csv");
        Files.write(binary, new byte[] {(byte) 0xff, (byte) 0xfe, 0, 1, 2, (byte) 0xc3});
        assertThatThrownBy(() -> GpuCatalog.withUserFile(binary)).isInstanceOf(InvalidInputException.class);
    }

    @Test
    void gpusCommandListsTheCatalogAsTextAndJson() throws Exception {
        Result text = run("gpus");
        assertThat(text.code()).as(text.err()).isZero();
        assertThat(text.out()).contains("H100-SXM-80GB", "GB200", "TPU-v5e", "NVLink4 450", "x72", "GB = 10^9",
                "GiB = 2^30", "10^12 FLOP/s without sparsity");
        assertThat(text.out().lines().filter(l -> l.startsWith("A100-SXM-80GB")).findFirst().orElseThrow())
                .contains(" - ");
        Result json = run("gpus", "--json");
        assertThat(json.code()).isZero();
        JsonNode arr = new ObjectMapper().readTree(json.out());
        assertThat(arr.size()).isEqualTo(CATALOG.gpus().size());
        JsonNode h100 = arr.get(0);
        assertThat(h100.get("name").asText()).isEqualTo("H100-SXM-80GB");
        for (String key : List.of("name", "memory_gb", "cuda_total_bytes", "nvidia_smi_total_bytes",
                "memory_bandwidth_tbs", "bf16_dense_tflops", "tdp_w", "compute_capability", "source", "dense_tflops",
                "link", "link_gbs", "scale_up_gpus", "network_gbs", "matmul_efficiency", "memory_efficiency", "vendor",
                "architecture")) {
            for (JsonNode g : arr) {
                assertThat(g.has(key)).as(g.get("name") + " " + key).isTrue();
            }
        }
        assertThat(h100.at("/dense_tflops/fp8").asDouble()).isEqualTo(1979);
        assertThat(h100.at("/dense_tflops/tf32").asDouble()).isEqualTo(494.5);
        assertThat(h100.get("cuda_total_bytes").isIntegralNumber()).isTrue();
        assertThat(h100.get("scale_up_gpus").asInt()).isEqualTo(8);
        JsonNode a100 = find(arr, "A100-SXM-80GB");
        assertThat(a100.get("dense_tflops").has("fp8")).isFalse();
        assertThat(a100.get("network_gbs").asDouble()).isEqualTo(25);
        assertThat(find(arr, "GB200").get("memory_efficiency").asDouble()).isCloseTo(0.92, within(1e-9));
    }

    @Test
    void gpusCommandMergesAUserFileAndRejectsBadOnesInOneLine() throws Exception {
        Path f = write("name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops,link,link_gbs\nLab-X,64,1.2,200,"
                + "XGMI,100\n");
        Result r = run("gpus", "--gpu-file", f.toString(), "--json");
        assertThat(r.code()).as(r.err()).isZero();
        JsonNode arr = new ObjectMapper().readTree(r.out());
        assertThat(arr.size()).isEqualTo(CATALOG.gpus().size() + 1);
        assertThat(find(arr, "Lab-X").get("link").asText()).isEqualTo("XGMI");
        Result t = run("gpus", "--gpu-file", f.toString());
        assertThat(t.out()).contains("Lab-X", "XGMI 100");

        Path bad = write("name,memory_gb,memory_bandwidth_tbs,bf16_dense_tflops\nLab-X,64,fast,200\n");
        Result b = run("gpus", "--gpu-file", bad.toString());
        assertThat(b.code()).isEqualTo(2);
        assertThat(b.out()).isEmpty();
        assertThat(b.err().strip()).startsWith("gpuplan: ").doesNotContain("\n").doesNotContain("Exception")
                .contains("memory_bandwidth_tbs", "line 2");
        Result missing = run("gpus", "--gpu-file", tmp.resolve("nope.csv").toString());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err().strip()).doesNotContain("\n").contains("nope.csv");
    }

    record Result(int code, String out, String err) {
    }

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Result(code, out.toString(), err.toString());
    }

    static JsonNode find(JsonNode arr, String name) {
        for (JsonNode g : arr) {
            if (g.get("name").asText().equals(name)) {
                return g;
            }
        }
        throw new AssertionError("no " + name);
    }

    private Path write(String text) throws Exception {
        Path f = Files.createTempFile(tmp, "gpus", ".csv");
        Files.writeString(f, text, StandardCharsets.UTF_8);
        return f;
    }

    private static List<String> concat(String first, List<String> rest) {
        List<String> all = new java.util.ArrayList<>(rest);
        all.add(0, first);
        return all;
    }
}
