package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mm2go/mm2/internal/selftest"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := dispatch(args, &out, &errOut)
	return out.String(), errOut.String(), code
}

var quietLine = regexp.MustCompile(`^Tests: (\d+)/(\d+) (PASS|FAIL|SKIP) - Platform: (LINUX|WICED|STM32)( - Backend: DISK)?( \(.*\))?\n$`)

func TestSelftestQuiet(t *testing.T) {
	for _, p := range []string{"linux", "wiced", "stm32"} {
		out, errOut, code := run(t, "selftest", "--platform", p, "--quiet")
		m := quietLine.FindStringSubmatch(out)
		if code != 0 || m == nil || m[1] != m[2] || m[3] != "PASS" || m[4] != strings.ToUpper(p) || errOut != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", p, code, out, errOut)
			continue
		}
		want := "Tests: " + m[1] + "/" + m[1] + " PASS - Platform: " + strings.ToUpper(p) + "\n"
		if out != want {
			t.Errorf("%s: %q, want exactly %q", p, out, want)
		}
	}
}

func TestSelftestStressVerbose(t *testing.T) {
	for _, args := range [][]string{{"--test=12"}, {"--test", "12"}} {
		out, _, code := run(t, append([]string{"selftest", "--verbose", "--platform", "stm32"}, args...)...)
		if code != 0 || !strings.Contains(out, "operations=7000 invariant_violations=0") || !strings.HasSuffix(out, "Tests: 1/1 PASS - Platform: STM32\n") {
			t.Errorf("%v: exit %d\n%s", args, code, out)
		}
	}
	out, _, code := run(t, "selftest", "--test", "12", "--ops", "1234", "--verbose", "--platform", "wiced")
	if code != 0 || !strings.Contains(out, "operations=1234 ") {
		t.Errorf("--ops 1234: exit %d\n%s", code, out)
	}
}

// The harness can fail: a fault injected into test 3's view makes test 3
// fail, the quiet line say FAIL and the exit status be 1.
func TestSelftestFault(t *testing.T) {
	for _, n := range []int{3, 12} {
		selftestFault = selftest.Fault{Test: n}
		out, _, code := run(t, "selftest", "--platform", "stm32", "--ops", "500", "--quiet")
		selftestFault = selftest.Fault{}
		m := quietLine.FindStringSubmatch(out)
		if code != 1 || m == nil || m[3] != "FAIL" || m[1] == m[2] {
			t.Errorf("fault in test %d: exit %d, %q", n, code, out)
		}
		selftestFault = selftest.Fault{Test: n}
		out, _, _ = run(t, "selftest", "--platform", "stm32", "--ops", "500", "--test", "3,4,12")
		selftestFault = selftest.Fault{}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || (f[0] != "PASS" && f[0] != "FAIL") {
				continue
			}
			want := "PASS"
			if f[1] == strconv.Itoa(n) {
				want = "FAIL"
			}
			if f[0] != want {
				t.Errorf("fault in test %d: %q", n, line)
			}
		}
	}
}

func TestSelftestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--platform", "wiced", "--backend", "disk"},
		{"--platform", "stm32", "--backend", "disk"},
		{"--platform", "esp32"},
		{"--backend", "tape"},
		{"--test", "99"},
		{"--test", "x"},
		{"--ops", "0"},
		{"--quiet", "--verbose"},
		{"--nonsense"},
		{"extra"},
	} {
		out, errOut, code := run(t, append([]string{"selftest"}, args...)...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	_, errOut, _ := run(t, "selftest", "--platform", "wiced", "--backend", "disk")
	if !strings.Contains(errOut, "wiced has no disk tier") {
		t.Errorf("message for wiced+disk: %q", errOut)
	}
}

func TestSelftestList(t *testing.T) {
	out, _, code := run(t, "selftest", "--list")
	if code != 0 || !strings.Contains(out, "  12  stress") || !strings.Contains(out, " 116  bug 16") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestConfigurations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole matrix")
	}
	out, errOut, code := run(t, "configurations", "--ops", "500")
	if code != 0 || !strings.Contains(out, "Configurations: ") || !strings.Contains(out, " PASS\n") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{`linux\s+mock\s+PASS`, `wiced\s+mock\s+PASS`, `stm32\s+mock\s+PASS`, `wiced\s+disk\s+n/a`, `stm32\s+disk\s+n/a`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if ok, _ := selftest.DiskAvailable(); ok {
		if !regexp.MustCompile(`linux\s+disk\s+PASS`).MatchString(out) {
			t.Errorf("linux disk did not pass:\n%s", out)
		}
	} else if !strings.Contains(out, "unavailable") {
		t.Errorf("the missing disk backend is not shown:\n%s", out)
	}
	selftestFault = selftest.Fault{Test: 4}
	out, _, code = run(t, "configurations", "--test", "3,4")
	selftestFault = selftest.Fault{}
	if code != 1 || !strings.Contains(out, "failed: 4") || !strings.Contains(out, " FAIL\n") {
		t.Errorf("with a fault: exit %d\n%s", code, out)
	}
}
