package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mm2go/mm2"
)

// The firmware's C files are compiled as a firmware project would compile
// them against mm2_api.h: C99, every warning an error.
var cflags = []string{"-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"}

// target is a platform the C archive is built and tested for.
type target struct {
	name    string // x86-64, armhf, arm64
	goarch  string
	cc      string // C compiler
	qemu    string // user-mode emulator; "" runs natively
	sysroot string // the target's libraries, for qemu -L
	short   bool   // emulated: fewer records in the long tests
	// muslStart: the archive is prepared by musl/prepare-archive.sh with
	// objcopy and musl/mm2_musl_start.c starts the Go runtime.
	muslStart bool
	objcopy   string
	ldflags   []string
}

var targets = []target{
	{name: "x86-64", goarch: "amd64", cc: "x86_64-linux-gnu-gcc"},
	{name: "armhf", goarch: "arm", cc: "arm-linux-gnueabihf-gcc", qemu: "qemu-arm-static",
		sysroot: "/usr/arm-linux-gnueabihf", short: true},
	{name: "arm64", goarch: "arm64", cc: "aarch64-linux-gnu-gcc", qemu: "qemu-aarch64-static",
		sysroot: "/usr/aarch64-linux-gnu", short: true},
	// The shipped toolchain is musl. Debian has musl only for the host
	// (musl-tools); the musl start path is also run on armhf with glibc, so
	// that its ARM entry point is exercised under qemu.
	{name: "x86-64-musl", goarch: "amd64", cc: "musl-gcc", muslStart: true, objcopy: "objcopy",
		ldflags: []string{"-static"}},
	{name: "armhf-musl-start", goarch: "arm", cc: "arm-linux-gnueabihf-gcc", qemu: "qemu-arm-static",
		sysroot: "/usr/arm-linux-gnueabihf", short: true, muslStart: true, objcopy: "arm-linux-gnueabihf-objcopy"},
}

// native is the target of the machine running the tests.
func native() target {
	for _, tg := range targets {
		if tg.goarch == runtime.GOARCH {
			tg.cc, tg.qemu, tg.sysroot, tg.short = "gcc", "", "", false
			return tg
		}
	}
	return target{name: runtime.GOARCH, goarch: runtime.GOARCH, cc: "gcc"}
}

// targetNamed returns the target of that name.
func targetNamed(t *testing.T, name string) target {
	for _, tg := range targets {
		if tg.name == name {
			return tg
		}
	}
	t.Fatalf("no target %s", name)
	return target{}
}

// usable returns the target as it runs here, or why it cannot: a cross
// target needs its compiler and emulator (scripts/test.sh installs them).
func (tg target) usable() (target, string) {
	if tg.goarch == runtime.GOARCH {
		if !tg.muslStart {
			return native(), ""
		}
		tg.qemu, tg.sysroot, tg.short = "", "", false // runs here
	}
	for _, tool := range []string{tg.cc, tg.qemu, tg.objcopy} {
		if tool == "" {
			continue
		}
		if _, err := exec.LookPath(tool); err != nil {
			return tg, tool + " is not installed (scripts/test.sh installs the cross compilers, musl-tools and qemu-user-static)"
		}
	}
	return tg, ""
}

// build holds the archives and compiled programs, made once per test binary
// in a temporary directory.
var build struct {
	mu       sync.Mutex
	dir      string
	archives map[string]string // target name: archive path (or error text)
	errs     map[string]error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// goTool is the go command of the toolchain the go command on PATH
// selects (go env GOROOT: with GOTOOLCHAIN, not necessarily the one on
// PATH), or "go" when that cannot be asked.
func goTool() string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "go"
	}
	if p := filepath.Join(strings.TrimSpace(string(out)), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// workDir is the shared temporary directory of the build products.
func workDir(t testing.TB) string {
	t.Helper()
	if build.dir == "" {
		dir, err := os.MkdirTemp("", "mm2capi")
		if err != nil {
			t.Fatal(err)
		}
		build.dir = dir
		build.archives = map[string]string{}
		build.errs = map[string]error{}
	}
	return build.dir
}

// archive builds libmm2.a for tg (once) and returns its path.
func archive(t testing.TB, tg target) string {
	t.Helper()
	build.mu.Lock()
	defer build.mu.Unlock()
	dir := filepath.Join(workDir(t), tg.name)
	if p, ok := build.archives[tg.name]; ok {
		if err := build.errs[tg.name]; err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := filepath.Join(dir, "libmm2.a")
	build.archives[tg.name] = p
	cmd := exec.Command(goTool(), "build", "-buildmode=c-archive", "-o", p, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOOS=linux", "GOARCH="+tg.goarch, "CC="+tg.cc)
	if tg.goarch == "arm" {
		cmd.Env = append(cmd.Env, "GOARM=7")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		build.errs[tg.name] = fmt.Errorf("go build -buildmode=c-archive for %s: %v\n%s", tg.name, err, out)
		t.Fatal(build.errs[tg.name])
	}
	if tg.muslStart {
		prep := exec.Command("sh", filepath.Join("musl", "prepare-archive.sh"), p, tg.objcopy)
		if out, err := prep.CombinedOutput(); err != nil {
			build.errs[tg.name] = fmt.Errorf("musl/prepare-archive.sh for %s: %v\n%s", tg.name, err, out)
			t.Fatal(build.errs[tg.name])
		}
	}
	return p
}

// compile builds the test firmware program fw/<name>.c for tg with the
// legacy layer and the archive.
func compile(t testing.TB, tg target, name string, defines ...string) string {
	t.Helper()
	lib := archive(t, tg)
	bin := filepath.Join(filepath.Dir(lib), name)
	if fileExists(bin) {
		return bin
	}
	args := append(append([]string{}, cflags...), defines...)
	args = append(args, tg.ldflags...)
	if name == "core_test" {
		// The core ABI alone: no firmware header, no legacy layer.
		args = append(args, "-I.", filepath.Join("testdata", name+".c"))
	} else {
		args = append(args, "-I.", "-Ilegacy", "-Itestdata/fw",
			filepath.Join("testdata", "fw", name+".c"), filepath.Join("testdata", "fw", "position.c"),
			filepath.Join("legacy", "mm2_api.c"), filepath.Join("legacy", "mm2_v1.c"))
	}
	if tg.muslStart {
		args = append(args, filepath.Join("musl", "mm2_musl_start.c"))
	}
	args = append(args, lib, "-lpthread", "-o", bin)
	if out, err := exec.Command(tg.cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tg.cc, strings.Join(args, " "), err, out)
	}
	return bin
}

// apiTest builds api_test with the test firmware's settings of the legacy
// layer (testdata/fw/mm2_config.h).
func apiTest(t testing.TB, tg target) string {
	t.Helper()
	return compile(t, tg, "api_test", `-DMM2_CONFIG_H="mm2_config.h"`)
}

// run runs a compiled program (under qemu for a cross target) in a scratch
// directory with the MM2_* variables of the caller's environment replaced
// by env, and returns its standard output. It fails the test when the
// program fails.
func run(t testing.TB, tg target, bin string, env []string, args ...string) string {
	t.Helper()
	var cmd *exec.Cmd
	if tg.qemu != "" {
		cmd = exec.Command(tg.qemu, append([]string{"-L", tg.sysroot, bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MM2_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err,
			stdout.String(), stderr.String())
	}
	return stdout.String()
}

// syntaxCheck compiles src with the native compiler, syntax only.
func syntaxCheck(t *testing.T, src string, extra ...string) {
	t.Helper()
	args := append(append(append([]string{}, cflags...), "-I.", "-Ilegacy", "-Itestdata/fw", "-fsyntax-only"), extra...)
	args = append(args, src)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestHeadersCompileAloneAsC99(t *testing.T) {
	dir := t.TempDir()
	for _, h := range []string{"mm2_core.h", "mm2_api.h"} {
		src := filepath.Join(dir, h+".c")
		if err := os.WriteFile(src, []byte("#include \""+h+"\"\nint main(void) { return 0; }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		syntaxCheck(t, src)
	}
}

// TestShippedPrototypes: every prototype of LEGACY_ABI, redeclared as the
// shipped firmware declares it, agrees with mm2_api.h (C rejects a
// redeclaration with another argument list or return type).
func TestShippedPrototypes(t *testing.T) {
	syntaxCheck(t, filepath.Join("testdata", "fw", "shipped_prototypes.c"))
}

var (
	prototype   = regexp.MustCompile(`(?m)^[a-z_][a-z0-9_ ]*?\*?\s*\b([a-z_][a-z0-9_]*)\(`)
	exportedDef = regexp.MustCompile(`(?m)^extern \S+\**\s+\*?(\w+)\(`)
)

// declared lists the functions a header declares.
func declared(t *testing.T, path string) []string {
	h, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range prototype.FindAllSubmatch(h, -1) {
		names = append(names, string(m[1]))
	}
	sort.Strings(names)
	return names
}

// TestCoreHeaderMatchesExports: the functions of mm2_core.h are exactly
// the archive's exports (cgo compiles the exports against mm2_core.h, so a
// differing signature fails the build).
func TestCoreHeaderMatchesExports(t *testing.T) {
	lib := archive(t, native())
	gen, err := os.ReadFile(strings.TrimSuffix(lib, ".a") + ".h")
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{"mm2_core_rc_string": true} // written in C: rc_string.c
	for _, m := range exportedDef.FindAllSubmatch(gen, -1) {
		if name := string(m[1]); !strings.HasPrefix(name, "_") {
			exported[name] = true
		}
	}
	inHeader := map[string]bool{}
	for _, name := range declared(t, "mm2_core.h") {
		inHeader[name] = true
		if !exported[name] {
			t.Errorf("mm2_core.h declares %s, which the archive does not export", name)
		}
	}
	for name := range exported {
		if !inHeader[name] {
			t.Errorf("the archive exports %s, which mm2_core.h does not declare", name)
		}
		if !strings.HasPrefix(name, "mm2_core_") {
			t.Errorf("export %s is outside the mm2_core_ namespace", name)
		}
	}
	if len(inHeader) < 20 {
		t.Errorf("found only %d functions in mm2_core.h", len(inHeader))
	}
}

// TestFirmwareCallsEveryFunction: the test firmware exercises the whole of
// mm2_api.h.
func TestFirmwareCallsEveryFunction(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "fw", "api_test.c"))
	if err != nil {
		t.Fatal(err)
	}
	names := declared(t, filepath.Join("legacy", "mm2_api.h"))
	if len(names) < 35 {
		t.Fatalf("found only %d functions in mm2_api.h: %v", len(names), names)
	}
	for _, name := range names {
		if !bytes.Contains(src, []byte(name+"(")) {
			t.Errorf("testdata/fw/api_test.c never calls %s", name)
		}
	}
}

// TestFirmware builds the archive and the test firmware for every target
// and runs its programs: natively on the test machine, under qemu for the
// others.
func TestFirmware(t *testing.T) {
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			tg, why := tg.usable()
			if why != "" {
				t.Skip(why)
			}
			lib := archive(t, tg)
			if st, err := os.Stat(lib); err == nil {
				t.Logf("libmm2.a for %s: %d bytes", tg.name, st.Size())
			}
			t.Run("core", func(t *testing.T) {
				out := run(t, tg, compile(t, tg, "core_test"), nil)
				t.Log(strings.TrimSpace(out))
			})
			t.Run("api", func(t *testing.T) {
				out := run(t, tg, apiTest(t, tg), nil)
				t.Log(strings.TrimSpace(out))
			})
			t.Run("upload", func(t *testing.T) {
				records := "20000"
				if tg.short || testing.Short() {
					records = "3000"
				}
				out := run(t, tg, compile(t, tg, "upload_test", "-DAPPLIANCE_GATEWAY"), nil, records)
				t.Log(strings.TrimSpace(out))
			})
			t.Run("concurrent", func(t *testing.T) {
				records := "1000000"
				if tg.short || testing.Short() {
					records = "100000"
				}
				start := time.Now()
				out := run(t, tg, compile(t, tg, "concurrent_test"), nil, records)
				t.Logf("%s(wall %v)", out, time.Since(start).Round(time.Millisecond))
			})
		})
	}
}

// TestFirmwareInitFromEnvironment: imx_memory_manager_init(0) takes the
// profile and backend from MM2_PLATFORM and MM2_DIR and answers with the
// firmware's enumerators.
func TestFirmwareInitFromEnvironment(t *testing.T) {
	// Also with musl: the environment reaches the Go runtime through the
	// musl start path.
	for _, tg := range []target{native(), targetNamed(t, "x86-64-musl")} {
		t.Run(tg.name, func(t *testing.T) { initFromEnvironment(t, tg) })
	}
}

func initFromEnvironment(t *testing.T, tg target) {
	tg, why := tg.usable()
	if why != "" {
		t.Skip(why)
	}
	bin := apiTest(t, tg)
	for _, tc := range []struct {
		name string
		env  []string
		want []string // result, platform, backend
	}{
		{"default", nil, []string{"IMX_SUCCESS", "linux", "mock"}},
		{"stm32", []string{"MM2_PLATFORM=stm32"}, []string{"IMX_SUCCESS", "stm32", "mock"}},
		{"wiced upper case", []string{"MM2_PLATFORM=WICED"}, []string{"IMX_SUCCESS", "wiced", "mock"}},
		{"empty dir is RAM only", []string{"MM2_DIR="}, []string{"IMX_SUCCESS", "linux", "mock"}},
		{"disk", []string{"MM2_DIR=store"}, []string{"IMX_SUCCESS", "linux", "disk"}},
		{"unknown platform", []string{"MM2_PLATFORM=avr"}, []string{"IMX_INVALID_PARAMETER", "-", "-"}},
		{"disk on an MCU", []string{"MM2_PLATFORM=stm32", "MM2_DIR=store"}, []string{"IMX_INVALID_PARAMETER", "-", "-"}},
		{"unusable dir", []string{"MM2_DIR=/dev/null/store"}, []string{"IMX_FILE_ERROR", "-", "-"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, tg, bin, tc.env, append([]string{"env"}, tc.want...)...)
		})
	}
}

// checkout lays out what a firmware project sees of an mm2 checkout: capi/
// with the headers, the legacy layer and mm2.pc, libmm2.a beside capi/.
func checkout(t *testing.T) string {
	t.Helper()
	lib := archive(t, native())
	root := t.TempDir()
	for _, c := range []struct{ from, to string }{
		{"mm2_core.h", "capi/mm2_core.h"},
		{"mm2.pc", "capi/mm2.pc"},
		{"legacy/mm2_api.h", "capi/legacy/mm2_api.h"},
		{"legacy/mm2_api.c", "capi/legacy/mm2_api.c"},
		{"legacy/mm2_v1.c", "capi/legacy/mm2_v1.c"},
		{lib, "libmm2.a"},
	} {
		data, err := os.ReadFile(c.from)
		if err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(root, c.to)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestPkgConfigLinksInOneLine: mm2.pc gives the flags that compile the
// firmware with the legacy layer and link it in one gcc line.
func TestPkgConfigLinksInOneLine(t *testing.T) {
	if _, err := exec.LookPath("pkg-config"); err != nil {
		t.Skip("pkg-config not installed (scripts/test.sh installs it with cmake)")
	}
	root := checkout(t)
	pc := func(args ...string) []string {
		cmd := exec.Command("pkg-config", args...)
		cmd.Env = append(os.Environ(), "PKG_CONFIG_PATH="+filepath.Join(root, "capi"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("pkg-config %v: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	flags := pc("--cflags", "--libs", "mm2")
	legacy := pc("--variable=legacydir", "mm2")[0]
	bin := filepath.Join(root, "firmware")
	fw, _ := filepath.Abs(filepath.Join("testdata", "fw"))
	args := append(append([]string{}, cflags...), "-I"+fw, filepath.Join(fw, "api_test.c"), filepath.Join(fw, "position.c"),
		filepath.Join(legacy, "mm2_api.c"), filepath.Join(legacy, "mm2_v1.c"), "-o", bin)
	args = append(args, flags...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	run(t, native(), bin, nil)
}

// TestCMake builds the test firmware as a CMake project that consumes mm2
// through pkg-config and through the in-tree snippet capi/mm2.cmake, and
// runs it.
func TestCMake(t *testing.T) {
	for _, tool := range []string{"cmake", "pkg-config", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed (scripts/test.sh installs cmake and pkg-config)")
		}
	}
	fw, _ := filepath.Abs(filepath.Join("testdata", "fw"))
	project, _ := filepath.Abs(filepath.Join("testdata", "cmake"))
	repo, _ := filepath.Abs("..")
	for _, via := range []string{"pkg-config", "in-tree"} {
		t.Run(via, func(t *testing.T) {
			bdir := t.TempDir()
			env := os.Environ()
			if via == "pkg-config" {
				env = append(env, "PKG_CONFIG_PATH="+filepath.Join(checkout(t), "capi"))
			}
			for _, args := range [][]string{
				{"-S", project, "-B", bdir, "-DMM2_VIA=" + via, "-DFW_DIR=" + fw,
					"-DMM2_SOURCE_DIR=" + repo, "-DMM2_GO=" + goTool()},
				{"--build", bdir},
			} {
				cmd := exec.Command("cmake", args...)
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("cmake %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			out := run(t, native(), filepath.Join(bdir, "firmware"), nil)
			t.Log(strings.TrimSpace(out))
		})
	}
}

var (
	nsWrite = regexp.MustCompile(`imx_write_tsd: ([0-9.]+) ns/call`)
	nsRead  = regexp.MustCompile(`imx_read_bulk_samples: ([0-9.]+) ns/record`)
	nsEVT   = regexp.MustCompile(`mm2_core_write_evt: ([0-9.]+) ns/sample`)
	nsBatch = regexp.MustCompile(`mm2_core_write_batch: ([0-9.]+) ns/sample`)
)

// benchC runs bench_test for b.N calls and reports the figure re matches.
func benchC(b *testing.B, re *regexp.Regexp) {
	tg := native()
	bin := compile(b, tg, "bench_test")
	b.ResetTimer()
	out := run(b, tg, bin, nil, strconv.Itoa(max(b.N, 375)))
	m := re.FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("no figure in the output:\n%s", out)
	}
	ns, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(ns, "ns/op")
}

// BenchmarkWriteTSDC is imx_write_tsd called from C through the legacy
// layer and the core ABI; the C program times the calls itself.
func BenchmarkWriteTSDC(b *testing.B) { benchC(b, nsWrite) }

// BenchmarkReadBulkC is imx_read_bulk_samples per record, in blocks of 375.
func BenchmarkReadBulkC(b *testing.B) { benchC(b, nsRead) }

// BenchmarkWriteEVTCoreC is mm2_core_write_evt called from C, one call per
// sample: the per-sample figure beside BenchmarkWriteBatchC.
func BenchmarkWriteEVTCoreC(b *testing.B) { benchC(b, nsEVT) }

// BenchmarkWriteBatchC is the same events written from C with
// mm2_core_write_batch in batches of 100, per sample.
func BenchmarkWriteBatchC(b *testing.B) { benchC(b, nsBatch) }

// BenchmarkWriteTSDGo is the same write workload in pure Go:
// Stream.WriteTSD on a linux-profile mock manager, drained between rounds.
func BenchmarkWriteTSDGo(b *testing.B) {
	m, err := mm2.Open(mm2.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	s, err := m.Configure(mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	const round = 1500
	buf := make([]mm2.Sample, round)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.WriteTSD(uint32(i)); err != nil {
			b.Fatal(err)
		}
		if i%round == round-1 {
			b.StopTimer()
			for {
				n, err := s.ReadBulk(buf)
				if err != nil {
					break
				}
				if k, err := s.Ack(); err != nil || k != n {
					b.Fatal(k, n, err)
				}
			}
			b.StartTimer()
		}
	}
}
