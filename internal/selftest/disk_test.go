package selftest

import (
	"strings"
	"testing"

	"github.com/mm2go/mm2"
)

// The disk-only tests belong to disk runs only, and a fault in the view of
// one of them fails it.
func TestDiskOnlyTests(t *testing.T) {
	if ok, why := DiskAvailable(); !ok {
		t.Skip(why)
	}
	nums := []int{14, 15, 16, 17, 103, 113}
	for _, n := range nums {
		tc, ok := Lookup(n)
		if !ok || tc.AppliesTo(Mock) || !tc.AppliesTo(Disk) {
			t.Errorf("test %d: registered %v, backends %v", n, ok, tc.Backends)
			continue
		}
		rep, err := Run(Config{Profile: mm2.ProfileLinux, Backend: Disk, Dir: t.TempDir(), Tests: []int{n}, Fault: Fault{Test: n}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Failed != 1 || !strings.HasPrefix(rep.Line(), "Tests: 0/1 FAIL") {
			t.Errorf("test %d with a fault: %s", n, rep.Line())
		}
	}
	if _, err := Run(Config{Profile: mm2.ProfileLinux, Backend: Mock, Tests: nums[:1]}); err == nil {
		t.Errorf("test %d accepted on the mock backend", nums[0])
	}
}
