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

// The C programs are compiled exactly as a firmware project would compile
// against mm2.h: C99, every warning an error.
var cflags = []string{"-std=c99", "-Wall", "-Wextra", "-Werror", "-O2"}

// build holds the archive and the compiled C programs, made once per test
// binary in a temporary directory.
var build struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// goTool is the go command of the toolchain running the tests.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// archive builds libmm2.a (once) and returns the directory holding it.
func archive(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "mm2capi")
		if err != nil {
			build.err = err
			return
		}
		build.dir = dir
		cmd := exec.Command(goTool(), "build", "-buildmode=c-archive", "-o", filepath.Join(dir, "libmm2.a"), ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("go build -buildmode=c-archive: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.dir
}

// compile builds testdata/<name>.c against mm2.h and libmm2.a.
func compile(t testing.TB, name string) string {
	t.Helper()
	dir := archive(t)
	bin := filepath.Join(dir, name)
	if fileExists(bin) {
		return bin
	}
	args := append(append([]string{}, cflags...), "-I.", "-Itestdata",
		filepath.Join("testdata", name+".c"), filepath.Join(dir, "libmm2.a"), "-lpthread", "-o", bin)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// run runs a compiled C program in a scratch directory with the MM2_*
// variables of the caller's environment replaced by env, and returns its
// standard output. It fails the test when the program fails.
func run(t testing.TB, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
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

func TestHeaderCompilesAloneAsC99(t *testing.T) {
	src := filepath.Join(t.TempDir(), "only_header.c")
	if err := os.WriteFile(src, []byte("#include \"mm2.h\"\nint main(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string{}, cflags...), "-pedantic", "-I.", "-fsyntax-only", src)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

var prototype = regexp.MustCompile(`(?m)^[a-z_][a-z0-9_ ]*?\*?\s*\b([a-z_][a-z0-9_]*)\(`)

// headerFunctions lists the functions mm2.h declares.
func headerFunctions(t *testing.T) []string {
	h, err := os.ReadFile("mm2.h")
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

// TestHeaderMatchesExports: every function in mm2.h is exported by the
// archive and every export is in mm2.h. (cgo itself compiles the exports
// against mm2.h's prototypes, so a differing signature fails the build.)
func TestHeaderMatchesExports(t *testing.T) {
	dir := archive(t)
	gen, err := os.ReadFile(filepath.Join(dir, "libmm2.h"))
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{"imx_result_string": true} // written in C: result.c
	for _, m := range regexp.MustCompile(`(?m)^extern \S+\**\s+\*?(\w+)\(`).FindAllSubmatch(gen, -1) {
		if name := string(m[1]); !strings.HasPrefix(name, "_") {
			exported[name] = true
		}
	}
	declared := map[string]bool{}
	for _, name := range headerFunctions(t) {
		declared[name] = true
		if !exported[name] {
			t.Errorf("mm2.h declares %s, which the archive does not export", name)
		}
	}
	for name := range exported {
		if !declared[name] {
			t.Errorf("the archive exports %s, which mm2.h does not declare", name)
		}
	}
	if len(declared) < 30 {
		t.Errorf("found only %d functions in mm2.h: %v", len(declared), declared)
	}
}

// TestCProgramsCallEveryFunction: the C tests exercise the whole header.
func TestCProgramsCallEveryFunction(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "api_test.c"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range headerFunctions(t) {
		if !bytes.Contains(src, []byte(name+"(")) {
			t.Errorf("testdata/api_test.c never calls %s", name)
		}
	}
}

// TestCAPI runs the C program that exercises every call and error code.
func TestCAPI(t *testing.T) {
	out := run(t, compile(t, "api_test"), nil)
	t.Log(strings.TrimSpace(out))
}

// TestCInitFromEnvironment: imx_memory_manager_init(0) takes the profile
// and backend from MM2_PLATFORM and MM2_DIR.
func TestCInitFromEnvironment(t *testing.T) {
	bin := compile(t, "api_test")
	for _, tc := range []struct {
		name string
		env  []string
		code int
		want []string // platform, backend
	}{
		{"default", nil, 0, []string{"linux", "mock"}},
		{"stm32", []string{"MM2_PLATFORM=stm32"}, 0, []string{"stm32", "mock"}},
		{"wiced upper case", []string{"MM2_PLATFORM=WICED"}, 0, []string{"wiced", "mock"}},
		{"empty dir is mock", []string{"MM2_DIR="}, 0, []string{"linux", "mock"}},
		{"disk", []string{"MM2_DIR=store"}, 0, []string{"linux", "disk"}},
		{"unknown platform", []string{"MM2_PLATFORM=avr"}, -3, nil},
		{"disk on an MCU", []string{"MM2_PLATFORM=stm32", "MM2_DIR=store"}, -3, nil},
		{"unusable dir", []string{"MM2_DIR=/dev/null/store"}, -13, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run(t, bin, tc.env, append([]string{"env", strconv.Itoa(tc.code)}, tc.want...)...)
		})
	}
}

// TestCConcurrentMillionRecords: 4 writer threads and 1 reader/acker move
// 1,000,000 records through the library with none lost or duplicated.
func TestCConcurrentMillionRecords(t *testing.T) {
	records := "1000000"
	if testing.Short() {
		records = "100000"
	}
	start := time.Now()
	out := run(t, compile(t, "concurrent_test"), nil, records)
	t.Logf("%s(wall %v)", out, time.Since(start).Round(time.Millisecond))
}

var nsPerCall = regexp.MustCompile(`imx_write_tsd: ([0-9.]+) ns/call`)

// BenchmarkWriteTSDC is imx_write_tsd called from C, through the boundary:
// the C program times the calls itself, reported as ns/op.
func BenchmarkWriteTSDC(b *testing.B) {
	bin := compile(b, "bench_write")
	b.ResetTimer()
	out := run(b, bin, nil, strconv.Itoa(b.N))
	m := nsPerCall.FindStringSubmatch(out)
	if m == nil {
		b.Fatalf("no figure in the output:\n%s", out)
	}
	ns, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(ns, "ns/op")
}

// BenchmarkWriteTSDGo is the same workload as bench_write.c in pure Go:
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
	const round = 4096
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

// TestPkgConfigLinksInOneLine: mm2.pc, laid out as in a checkout (capi/ with
// mm2.h and mm2.pc, libmm2.a in the directory above), gives the flags that
// compile and link a program in one gcc line.
func TestPkgConfigLinksInOneLine(t *testing.T) {
	if _, err := exec.LookPath("pkg-config"); err != nil {
		t.Skip("pkg-config not installed")
	}
	dir := archive(t)
	root := t.TempDir()
	capi := filepath.Join(root, "capi")
	if err := os.Mkdir(capi, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to string }{
		{"mm2.h", filepath.Join(capi, "mm2.h")},
		{"mm2.pc", filepath.Join(capi, "mm2.pc")},
		{filepath.Join(dir, "libmm2.a"), filepath.Join(root, "libmm2.a")},
	} {
		data, err := os.ReadFile(c.from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.to, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pc := exec.Command("pkg-config", "--cflags", "--libs", "mm2")
	pc.Env = append(os.Environ(), "PKG_CONFIG_PATH="+capi)
	flags, err := pc.Output()
	if err != nil {
		t.Fatalf("pkg-config: %v", err)
	}
	src := filepath.Join(root, "app.c")
	prog := "#include \"mm2.h\"\nint main(void) {\n" +
		"    if (imx_memory_manager_init(0) != IMX_SUCCESS) return 1;\n" +
		"    return imx_memory_manager_shutdown(0) == IMX_SUCCESS ? 0 : 1;\n}\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "app")
	args := append(append(append([]string{}, cflags...), src, "-o", bin), strings.Fields(string(flags))...)
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	run(t, bin, nil)
}
