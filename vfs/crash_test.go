package vfs

import (
	"maps"
	"math/rand/v2"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// seeds is how many random crashes each probabilistic test looks at: enough
// to see every outcome of a few coin flips, cheap enough to stay fast.
const seeds = 200

func rng(seed int) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), 7)) }

// dump maps every path of fsys to its contents; directories end in '/'.
func dump(t *testing.T, fsys FS) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(dir string)
	walk = func(dir string) {
		ents, err := fsys.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := path.Join(dir, e.Name())
			if e.IsDir() {
				out[p+"/"] = ""
				walk(p)
				continue
			}
			b, err := ReadFile(fsys, p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = string(b)
		}
	}
	walk("/")
	return out
}

func syncFile(t *testing.T, f File) {
	t.Helper()
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func writeStr(t *testing.T, f File, s string) {
	t.Helper()
	if _, err := f.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func syncDir(t *testing.T, fsys FS, dir string) {
	t.Helper()
	if err := fsys.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
}

// chunks are the unsynced appends of appendLog: distinct bytes and lengths,
// so what survived can be told apart.
var chunks = []string{"aa", "bbb", "cccc", "ddddd"}

// appendLog returns a MemFS holding the durable file "log" with contents
// "base" and the unsynced appends chunks, through the handle returned.
func appendLog(t *testing.T) *MemFS {
	m := NewMem()
	f, err := m.OpenAppend("log")
	if err != nil {
		t.Fatal(err)
	}
	writeStr(t, f, "base")
	syncFile(t, f)
	syncDir(t, m, "/")
	for _, c := range chunks {
		writeStr(t, f, c)
	}
	return m
}

func TestCrashSyncedKeepsExactlyWhatWasSynced(t *testing.T) {
	m := appendLog(t)
	f, err := m.Create("new") // synced data, unsynced name
	if err != nil {
		t.Fatal(err)
	}
	writeStr(t, f, "x")
	syncFile(t, f)
	got := dump(t, m.CrashClone(CrashSynced, nil))
	if want := map[string]string{"/log": "base"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after crash: %v, want %v", got, want)
	}
}

func TestSyncedDataSurvivesEveryMode(t *testing.T) {
	for _, mode := range CrashModes() {
		for seed := range seeds {
			got := dump(t, appendLog(t).CrashClone(mode, rng(seed)))
			if !strings.HasPrefix(got["/log"], "base") {
				t.Fatalf("%v seed %d: log = %q, lost synced data", mode, seed, got["/log"])
			}
		}
	}
}

func TestTornTailLeavesAPrefixOfWhatWasWritten(t *testing.T) {
	full := "base" + strings.Join(chunks, "")
	torn := false
	for seed := range seeds {
		got := dump(t, appendLog(t).CrashClone(CrashTornTail, rng(seed)))["/log"]
		if len(got) < len("base") || !strings.HasPrefix(full, got) {
			t.Fatalf("seed %d: log = %q, not a prefix of %q", seed, got, full)
		}
		if !isChunkBoundary(len(got)) {
			torn = true
		}
	}
	if !torn {
		t.Fatal("no seed tore a write in the middle")
	}
}

func isChunkBoundary(n int) bool {
	end := len("base")
	for _, c := range chunks {
		if n == end {
			return true
		}
		end += len(c)
	}
	return n == end
}

func TestSubsetKeepsWholeAppendsInOrderWithGaps(t *testing.T) {
	gap := false
	for seed := range seeds {
		got := dump(t, appendLog(t).CrashClone(CrashSubset, rng(seed)))["/log"]
		rest, ok := strings.CutPrefix(got, "base")
		if !ok {
			t.Fatalf("seed %d: log = %q lost its synced prefix", seed, got)
		}
		var kept []int
		for i, c := range chunks {
			if r, ok := strings.CutPrefix(rest, c); ok {
				kept, rest = append(kept, i), r
			}
		}
		if rest != "" {
			t.Fatalf("seed %d: log = %q is not whole appends in order", seed, got)
		}
		if len(kept) > 0 && kept[len(kept)-1] >= len(kept) {
			gap = true // a later append survived an earlier one
		}
	}
	if !gap {
		t.Fatal("no seed kept a later append while losing an earlier one")
	}
}

func TestReorderFillsLostWritesWithZeros(t *testing.T) {
	hole := false
	for seed := range seeds {
		got := dump(t, appendLog(t).CrashClone(CrashReorder, rng(seed)))["/log"]
		rest, ok := strings.CutPrefix(got, "base")
		if !ok || !isChunkBoundary(len(got)) {
			t.Fatalf("seed %d: log = %q", seed, got)
		}
		for _, c := range chunks {
			if rest == "" {
				break
			}
			part := rest[:len(c)]
			switch part {
			case c:
			case strings.Repeat("\x00", len(c)):
				hole = true
			default:
				t.Fatalf("seed %d: log = %q has a write neither whole nor zero", seed, got)
			}
			rest = rest[len(c):]
		}
	}
	if !hole {
		t.Fatal("no seed left a zero hole")
	}
}

// publish writes "new" to final.tmp, syncs it and renames it over final, which
// durably holds "old", without syncing the directory.
func publish(t *testing.T) *MemFS {
	m := NewMem()
	mustWrite(t, m, "final", "old")
	f, err := m.Open("final")
	if err != nil {
		t.Fatal(err)
	}
	syncFile(t, f)
	syncDir(t, m, "/")
	f, err = m.Create("final.tmp")
	if err != nil {
		t.Fatal(err)
	}
	writeStr(t, f, "new")
	syncFile(t, f)
	if err := m.Rename("final.tmp", "final"); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUnsyncedRenameNeverSurvivesCrashSynced(t *testing.T) {
	for seed := range seeds {
		got := dump(t, publish(t).CrashClone(CrashSynced, rng(seed)))
		if want := map[string]string{"/final": "old"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: %v, want %v", seed, got, want)
		}
	}
}

func TestRenameIsAtomicInEveryMode(t *testing.T) {
	for _, mode := range CrashModes() {
		seen := map[string]bool{}
		for seed := range seeds {
			got := dump(t, publish(t).CrashClone(mode, rng(seed)))
			if got["/final"] != "old" && got["/final"] != "new" {
				t.Fatalf("%v seed %d: final = %q", mode, seed, got["/final"])
			}
			tmp, hasTmp := got["/final.tmp"]
			if hasTmp && (got["/final"] == "new" || tmp != "new") {
				t.Fatalf("%v seed %d: %v is half a rename", mode, seed, got)
			}
			seen[got["/final"]] = true
		}
		if mode != CrashSynced && !seen["new"] {
			t.Fatalf("%v: the unsynced rename never survived", mode)
		}
	}
}

func TestSyncedRenameSurvivesEveryMode(t *testing.T) {
	for _, mode := range CrashModes() {
		for seed := range seeds {
			m := publish(t)
			syncDir(t, m, "/")
			got := dump(t, m.CrashClone(mode, rng(seed)))
			if want := map[string]string{"/final": "new"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("%v seed %d: %v, want %v", mode, seed, got, want)
			}
		}
	}
}

// createThree creates a, b and c with synced data and unsynced names.
func createThree(t *testing.T) *MemFS {
	m := NewMem()
	for _, name := range []string{"a", "b", "c"} {
		f, err := m.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		writeStr(t, f, name)
		syncFile(t, f)
	}
	return m
}

func survivors(t *testing.T, m *MemFS) string {
	names := slices.Sorted(maps.Keys(dump(t, m)))
	return strings.ReplaceAll(strings.Join(names, ""), "/", "")
}

func TestUnsyncedDirOpsSurviveIndependentlyInSubsetAndReorder(t *testing.T) {
	for _, mode := range []CrashMode{CrashSubset, CrashReorder} {
		seen := map[string]bool{}
		for seed := range seeds {
			seen[survivors(t, createThree(t).CrashClone(mode, rng(seed)))] = true
		}
		if len(seen) != 8 {
			t.Fatalf("%v: saw %d of the 8 outcomes: %v", mode, len(seen), seen)
		}
	}
}

func TestTornTailKeepsAPrefixOfDirOps(t *testing.T) {
	seen := map[string]bool{}
	for seed := range seeds {
		s := survivors(t, createThree(t).CrashClone(CrashTornTail, rng(seed)))
		if !strings.HasPrefix("abc", s) {
			t.Fatalf("seed %d: %q survived, not a prefix of the creates", seed, s)
		}
		seen[s] = true
	}
	if len(seen) != 4 {
		t.Fatalf("saw %v, want every prefix", seen)
	}
}

func TestFileSyncDoesNotMakeItsNameDurable(t *testing.T) {
	got := dump(t, createThree(t).CrashClone(CrashSynced, nil))
	if len(got) != 0 {
		t.Fatalf("after crash: %v, want nothing", got)
	}
}

func TestSyncDirDoesNotMakeDataDurable(t *testing.T) {
	m := NewMem()
	f, err := m.Create("f")
	if err != nil {
		t.Fatal(err)
	}
	writeStr(t, f, "data")
	syncDir(t, m, "/")
	wantFile(t, m.CrashClone(CrashSynced, nil), "f", "")
}

func TestNewDirectoryNeedsItsParentSynced(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("a/b", 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, m, "a/b/f", "x")
	syncDir(t, m, "a/b")
	syncDir(t, m, "a")
	if got := dump(t, m.CrashClone(CrashSynced, nil)); len(got) != 0 {
		t.Fatalf("root not synced, yet %v survived", got)
	}
	syncDir(t, m, "/")
	if got := dump(t, m.CrashClone(CrashSynced, nil)); len(got) != 3 {
		t.Fatalf("after syncing every level: %v", got)
	}
}

func TestSyncOfDirectoryHandleMakesEntriesDurable(t *testing.T) {
	m := NewMem()
	mustWrite(t, m, "f", "")
	d, err := m.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	syncFile(t, d)
	if _, ok := dump(t, m.CrashClone(CrashSynced, nil))["/f"]; !ok {
		t.Fatal("f lost after syncing its directory")
	}
}

func TestUnsyncedRemoveAndTruncateAreUndoneByCrash(t *testing.T) {
	m := NewMem()
	for _, name := range []string{"gone", "cut"} {
		mustWrite(t, m, name, "abcdef")
		f, err := m.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		syncFile(t, f)
	}
	syncDir(t, m, "/")
	if err := m.Remove("gone"); err != nil {
		t.Fatal(err)
	}
	f, err := m.OpenAppend("cut")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2); err != nil {
		t.Fatal(err)
	}
	got := dump(t, m.CrashClone(CrashSynced, nil))
	if want := map[string]string{"/gone": "abcdef", "/cut": "abcdef"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after crash: %v, want %v", got, want)
	}
}

func TestCrashCloneIsDeterministicPerSeedAndLeavesOriginalAlone(t *testing.T) {
	m := appendLog(t)
	before := dump(t, m)
	for _, mode := range CrashModes() {
		a := dump(t, m.CrashClone(mode, rng(42)))
		b := dump(t, m.CrashClone(mode, rng(42)))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%v: same seed gave %v and %v", mode, a, b)
		}
	}
	if after := dump(t, m); !reflect.DeepEqual(before, after) {
		t.Fatalf("CrashClone changed the original: %v, was %v", after, before)
	}
}

func TestCrashCloneHoldsOnlyDurableState(t *testing.T) {
	for _, mode := range CrashModes() {
		c := appendLog(t).CrashClone(mode, rng(3))
		again := c.CrashClone(CrashSynced, nil)
		if a, b := dump(t, c), dump(t, again); !reflect.DeepEqual(a, b) {
			t.Fatalf("%v: crashing the clone again changed it: %v, then %v", mode, a, b)
		}
	}
}
