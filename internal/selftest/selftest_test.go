package selftest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mm2go/mm2"
)

// Every test, for every profile, on the mock backend: the same code the
// field command runs.
func TestAllProfilesMock(t *testing.T) {
	for _, p := range mm2.Profiles() {
		rep, err := Run(Config{Profile: p, Backend: Mock})
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		for _, res := range rep.Results {
			t.Run(fmt.Sprintf("%s/%03d_%s", p.Name, res.Test.Num, strings.ReplaceAll(res.Test.Name, " ", "_")), func(t *testing.T) {
				if res.Status != Pass {
					t.Fatalf("%s: %v %s\n%s", res.Status, res.Err, res.Reason, res.Dump)
				}
				t.Logf("%s (%v)", res.FiguresString(), res.Elapsed)
			})
		}
		want := fmt.Sprintf("Tests: %d/%d PASS - Platform: %s", len(rep.Results), len(rep.Results), strings.ToUpper(p.Name))
		if rep.Line() != want || !rep.OK() {
			t.Errorf("summary %q, want %q", rep.Line(), want)
		}
		if rep.Skipped != 0 {
			t.Errorf("%s: %d tests skipped on the mock backend", p.Name, rep.Skipped)
		}
	}
}

// The harness can fail: a fault in the view of test N fails test N, and
// only it.
func TestFaultFailsTheMatchingTest(t *testing.T) {
	for _, tc := range Tests() {
		if !tc.AppliesTo(Mock) {
			continue
		}
		rep, err := Run(Config{Profile: mm2.ProfileSTM32, Tests: []int{tc.Num}, Ops: 300, Fault: Fault{Test: tc.Num}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed != 1 || rep.Results[0].Status != Fail {
			t.Errorf("test %d (%s) with a fault: %+v", tc.Num, tc.Name, rep.Results[0])
			continue
		}
		if !strings.HasPrefix(rep.Line(), "Tests: 0/1 FAIL - Platform: STM32") {
			t.Errorf("test %d: summary %q", tc.Num, rep.Line())
		}
	}
	// A fault aimed at another test changes nothing.
	rep, err := Run(Config{Profile: mm2.ProfileSTM32, Tests: []int{3, 4}, Fault: Fault{Test: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Results[0].Status != Fail || rep.Results[1].Status != Pass {
		t.Errorf("fault on 3: test 3 %v, test 4 %v", rep.Results[0].Status, rep.Results[1].Status)
	}
}

func TestStressFigures(t *testing.T) {
	rep, err := Run(Config{Profile: mm2.ProfileWICED, Tests: []int{12}})
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Results[0]
	if res.Status != Pass || res.Figure("operations") != DefaultOps || res.Figure("invariant_violations") != 0 {
		t.Fatalf("test 12: %v %v, figures %s", res.Status, res.Err, res.FiguresString())
	}
	if !strings.Contains(res.FiguresString(), "operations=7000 invariant_violations=0") {
		t.Errorf("figures %q", res.FiguresString())
	}
}

func TestValidate(t *testing.T) {
	for _, cfg := range []Config{
		{Profile: mm2.ProfileWICED, Backend: Disk},
		{Profile: mm2.ProfileSTM32, Backend: Disk},
		{Backend: "tape"},
		{Tests: []int{99}},
		{Ops: -1},
	} {
		if _, err := Run(cfg); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v, want ErrBadConfig", cfg, err)
		}
	}
	if err := Validate(Config{Profile: mm2.ProfileLinux, Backend: Disk}); err != nil {
		t.Errorf("linux disk: %v", err)
	}
}

// The disk backend: a full run when it exists; until then every test is
// reported skipped, visibly, and nothing counts as passed.
func TestDiskBackend(t *testing.T) {
	ok, why := DiskAvailable()
	cfg := Config{Profile: mm2.ProfileLinux, Backend: Disk, Dir: t.TempDir(), Ops: 2000}
	if !ok {
		cfg.Tests = []int{1, 13}
	}
	rep, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		if rep.Skipped != 2 || rep.Passed != 0 || rep.OK() || rep.Verdict() != "SKIP" {
			t.Fatalf("without a disk backend: %+v", rep)
		}
		want := "Tests: 0/2 SKIP - Platform: LINUX - Backend: DISK (2 skipped: " + why + ")"
		if rep.Line() != want {
			t.Errorf("line %q, want %q", rep.Line(), want)
		}
		return
	}
	for _, res := range rep.Results {
		if res.Status != Pass {
			t.Errorf("disk test %d: %v %v %s\n%s", res.Test.Num, res.Status, res.Err, res.Reason, res.Dump)
		}
	}
	if !rep.OK() {
		t.Errorf("disk run: %s", rep.Line())
	}
}

func TestRegistry(t *testing.T) {
	seen := map[int]bool{}
	for _, tc := range Tests() {
		if seen[tc.Num] {
			t.Errorf("test %d twice", tc.Num)
		}
		seen[tc.Num] = true
	}
	for n := 1; n <= 13; n++ {
		if !seen[n] {
			t.Errorf("seed test %d missing", n)
		}
	}
	for _, bug := range []int{1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16} {
		if !seen[100+bug] {
			t.Errorf("no test for production bug %d", bug)
		}
	}
}

func TestDetailedDump(t *testing.T) {
	rep, err := Run(Config{Profile: mm2.ProfileLinux, Tests: []int{4}, Fault: Fault{Test: 4}})
	if err != nil {
		t.Fatal(err)
	}
	d := rep.Results[0].Dump
	for _, want := range []string{"pool: 2048 sectors", "hosted/4", "Check: ok", "written="} {
		if !strings.Contains(d, want) {
			t.Errorf("dump lacks %q:\n%s", want, d)
		}
	}
}
