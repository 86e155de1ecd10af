// Package selftest is the numbered field validation harness of mm2 (SPEC
// each test opens real managers with the configured profile and
// backend, drives them through the public API and checks what they report.
// `mm2 selftest`, `mm2 configurations` and the Go tests of this package run
// the same code.
//
// Numbering: 1–13 keep the meanings of the original harness; 14–17 are the
// disk-tier tests (14 tiering, 15 caps, 16 power-down and recovery, 17 torn
// writes); 18–20 are NACK redelivery, GPS events and source isolation;
// 100+n proves production bug n of SPEC §12 impossible.
package selftest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mm2go/mm2"
)

// Backend is a storage backend (the original STORAGE_BACKEND).
type Backend string

// The backends.
const (
	Mock Backend = "mock" // RAM only, nothing touches the filesystem
	Disk Backend = "disk" // RAM pool plus a disk tier under a directory
)

// Backends lists the backends in matrix order.
func Backends() []Backend { return []Backend{Mock, Disk} }

// ParseBackend accepts "mock" or "disk" (case-insensitive).
func ParseBackend(s string) (Backend, error) {
	for _, b := range Backends() {
		if strings.EqualFold(s, string(b)) {
			return b, nil
		}
	}
	return "", fmt.Errorf("unknown backend %q (want mock or disk)", s)
}

// DefaultOps is the number of operations of the stress test (12), as in the
// original harness.
const DefaultOps = 7000

// Test is one numbered self-test. Run drives real managers through env and
// fails through env's assertion methods.
type Test struct {
	Num  int
	Name string
	// Backends the test applies to; nil means every backend. A test that does
	// not apply to a configuration is not part of its run.
	Backends []Backend
	Run      func(e *Env)
}

// AppliesTo reports whether the test belongs to runs on backend b.
func (t Test) AppliesTo(b Backend) bool { return t.Backends == nil || slices.Contains(t.Backends, b) }

var registry = map[int]Test{}

// register adds a test; numbers are unique. Files of this package call it
// from init, so a new test is one file with one register call.
func register(t Test) {
	if _, dup := registry[t.Num]; dup || t.Num <= 0 || t.Run == nil || t.Name == "" {
		panic(fmt.Sprintf("selftest: bad or duplicate registration of test %d %q", t.Num, t.Name))
	}
	registry[t.Num] = t
}

// Tests lists every registered test in number order.
func Tests() []Test {
	ts := make([]Test, 0, len(registry))
	for _, t := range registry {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b Test) int { return a.Num - b.Num })
	return ts
}

// Lookup returns the test numbered n.
func Lookup(n int) (Test, bool) {
	t, ok := registry[n]
	return t, ok
}

// Fault is a test-only hook proving the harness can fail: the test numbered
// Test sees a tampered view of the manager (every stream reports one unread
// record more than it holds; the stress test sees one invariant violation
// more). The manager itself is untouched. The zero value injects nothing.
type Fault struct {
	Test int
}

// Config is one self-test run.
type Config struct {
	Profile mm2.Profile // zero value = linux
	Backend Backend     // "" = mock
	// Dir is the parent of the stores of disk-backend tests; "" = a
	// temporary directory, removed afterwards. The mock backend ignores it.
	Dir   string
	Tests []int  // nil = every test that applies to the backend
	Ops   int    // operations of the stress test; 0 = DefaultOps
	Seed  uint64 // stress seed; 0 = 1
	Fault Fault
	// Progress, if set, receives the stress test's progress.
	Progress func(done, total int)
	// Stop, if set, is asked between tests and during the stress test;
	// once it returns true the stress test ends its operations early (and
	// is skipped unless it found a violation) and every test not yet run
	// is skipped as interrupted (Report.Interrupted). Cleanup, such as
	// removing the temporary directory, still happens.
	Stop func() bool
}

// ErrBadConfig wraps every reason Validate refuses a Config: an impossible
// profile × backend combination, an unknown test number, bad figures.
var ErrBadConfig = errors.New("selftest: bad configuration")

func (c Config) withDefaults() Config {
	if c.Profile == (mm2.Profile{}) {
		c.Profile = mm2.ProfileLinux
	}
	if c.Backend == "" {
		c.Backend = Mock
	}
	if c.Ops == 0 {
		c.Ops = DefaultOps
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	return c
}

// Validate reports why cfg cannot run, wrapping ErrBadConfig.
func Validate(cfg Config) error {
	cfg = cfg.withDefaults()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, a...))
	}
	if _, err := ParseBackend(string(cfg.Backend)); err != nil {
		return bad("%v", err)
	}
	if cfg.Backend == Disk && !cfg.Profile.DiskTier {
		return bad("platform %s has no disk tier, so --backend disk does not exist for it; use --backend mock", cfg.Profile.Name)
	}
	if cfg.Ops < 0 {
		return bad("operations %d < 0", cfg.Ops)
	}
	for _, n := range cfg.Tests {
		t, ok := registry[n]
		if !ok {
			return bad("no test %d (tests: %s)", n, numbers(Tests()))
		}
		if !t.AppliesTo(cfg.Backend) {
			return bad("test %d (%s) does not apply to the %s backend", n, t.Name, cfg.Backend)
		}
	}
	return nil
}

func numbers(ts []Test) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = fmt.Sprint(t.Num)
	}
	return strings.Join(s, ",")
}

// Status is the outcome of one test.
type Status uint8

// The outcomes. A skipped test did not run: it is neither passed nor failed.
const (
	Pass Status = iota
	Fail
	Skip
)

func (s Status) String() string {
	switch s {
	case Fail:
		return "FAIL"
	case Skip:
		return "SKIP"
	}
	return "PASS"
}

// Figure is one named number a test reports.
type Figure struct {
	Name  string
	Value any
}

// Result is the outcome of one test.
type Result struct {
	Test    Test
	Status  Status
	Err     error  // why it failed
	Reason  string // why it was skipped
	Figures []Figure
	// Dump is the state of the managers the test used (Stats and per-stream
	// stats), for --detailed.
	Dump    string
	Elapsed time.Duration
}

// Figure returns the value of the named figure, or nil.
func (r Result) Figure(name string) any {
	for _, f := range r.Figures {
		if f.Name == name {
			return f.Value
		}
	}
	return nil
}

// FiguresString is the figures as "name=value" pairs.
func (r Result) FiguresString() string {
	parts := make([]string, len(r.Figures))
	for i, f := range r.Figures {
		parts[i] = fmt.Sprintf("%s=%v", f.Name, f.Value)
	}
	return strings.Join(parts, " ")
}

// Report is the outcome of a run.
type Report struct {
	Profile                 mm2.Profile
	Backend                 Backend
	Results                 []Result
	Passed, Failed, Skipped int
	Elapsed                 time.Duration
	Interrupted             bool // Config.Stop ended the run early
}

// OK is true when every selected test ran and passed.
func (r Report) OK() bool { return r.Passed == len(r.Results) }

// Verdict is PASS when every test passed, FAIL when any failed, and SKIP
// when none failed but some could not run.
func (r Report) Verdict() string {
	switch {
	case r.Failed > 0:
		return "FAIL"
	case r.Skipped > 0:
		return "SKIP"
	}
	return "PASS"
}

// Line is the one-line summary of --quiet:
// "Tests: 34/34 PASS - Platform: LINUX", with the skipped tests and why
// appended when there are any.
func (r Report) Line() string {
	s := fmt.Sprintf("Tests: %d/%d %s - Platform: %s", r.Passed, len(r.Results), r.Verdict(), strings.ToUpper(r.Profile.Name))
	if r.Backend != Mock {
		s += " - Backend: " + strings.ToUpper(string(r.Backend))
	}
	if r.Skipped > 0 {
		reason := ""
		for _, res := range r.Results {
			if res.Status == Skip {
				reason = res.Reason
				break
			}
		}
		s += fmt.Sprintf(" (%d skipped: %s)", r.Skipped, reason)
	}
	return s
}

// DiskAvailable reports whether this build has the disk backend, by opening
// a store in a temporary directory; reason says why not. An Open that fails
// for another reason counts as available (the tests will then fail and show
// the error).
func DiskAvailable() (ok bool, reason string) {
	dir, err := os.MkdirTemp("", "mm2-selftest-probe-")
	if err != nil {
		return false, "no temporary directory: " + err.Error()
	}
	defer func() { _ = os.RemoveAll(dir) }()
	m, err := mm2.Open(mm2.Options{Profile: mm2.ProfileLinux, Dir: dir})
	if err != nil {
		if strings.Contains(err.Error(), "not available") {
			return false, "disk backend not available in this build"
		}
		return true, ""
	}
	_ = m.Close()
	return true, ""
}

// Run runs the selected tests of cfg in number order. It returns an error
// (wrapping ErrBadConfig) only when cfg cannot run at all.
func Run(cfg Config) (Report, error) {
	if err := Validate(cfg); err != nil {
		return Report{}, err
	}
	cfg = cfg.withDefaults()
	rep := Report{Profile: cfg.Profile, Backend: cfg.Backend}
	start := time.Now()
	var sel []Test
	if cfg.Tests == nil {
		for _, t := range Tests() {
			if t.AppliesTo(cfg.Backend) {
				sel = append(sel, t)
			}
		}
	} else {
		nums := slices.Clone(cfg.Tests)
		slices.Sort(nums)
		for _, n := range slices.Compact(nums) {
			sel = append(sel, registry[n])
		}
	}
	skip := ""
	root := ""
	if cfg.Backend == Disk {
		if ok, why := DiskAvailable(); !ok {
			skip = why
		} else if cfg.Dir != "" {
			root = cfg.Dir
		} else if d, err := os.MkdirTemp("", "mm2-selftest-"); err != nil {
			skip = "no temporary directory: " + err.Error()
		} else {
			root = d
			defer func() { _ = os.RemoveAll(d) }()
		}
	}
	for _, t := range sel {
		var res Result
		if !rep.Interrupted && cfg.Stop != nil && cfg.Stop() {
			rep.Interrupted = true
		}
		switch {
		case rep.Interrupted:
			res = Result{Test: t, Status: Skip, Reason: "interrupted"}
		case skip != "":
			res = Result{Test: t, Status: Skip, Reason: skip}
		default:
			res = runOne(cfg, t, root)
		}
		switch res.Status {
		case Pass:
			rep.Passed++
		case Fail:
			rep.Failed++
		case Skip:
			rep.Skipped++
		}
		rep.Results = append(rep.Results, res)
	}
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// failure is the panic value of a failed assertion, skipped that of Skip.
type (
	failure struct{ err error }
	skipped struct{ reason string }
)

func runOne(cfg Config, t Test, root string) (res Result) {
	e := &Env{cfg: cfg, test: t, fault: cfg.Fault.Test == t.Num}
	e.now.Store(startUTC)
	if root != "" {
		e.dir = filepath.Join(root, fmt.Sprintf("test%03d", t.Num))
	}
	res = Result{Test: t}
	start := time.Now()
	defer func() {
		res.Elapsed = time.Since(start)
		if r := recover(); r != nil {
			if f, ok := r.(failure); ok {
				res.Err = f.err
			} else if s, ok := r.(skipped); ok {
				e.skipReason = s.reason
			} else {
				res.Err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}
		if res.Err == nil {
			res.Err = e.verifyAll()
		}
		res.Figures = e.figures
		res.Dump = e.dump()
		e.closeAll()
		if res.Err != nil {
			res.Status = Fail
		} else if e.skipReason != "" {
			res.Status, res.Reason = Skip, e.skipReason
		}
	}()
	t.Run(e)
	return res
}

// startUTC is where every test's clock starts (2023-11-14).
const startUTC = 1_700_000_000_000

// Env is what a test sees: managers opened with the run's profile and
// backend and a clock it drives, assertion methods that stop the test, and
// the figures it reports. Every manager a test opens is verified when the
// test ends (Check, and every stream's counts against its positions and the
// manager's totals) and dumped for --detailed.
type Env struct {
	cfg        Config
	test       Test
	fault      bool
	now        atomic.Int64
	dir        string
	opened     []*opened
	figures    []Figure
	skipReason string
}

type opened struct {
	m     *mm2.Manager
	label string
	dump  string // taken at Close
	done  bool
}

// Profile is the run's profile.
func (e *Env) Profile() mm2.Profile { return e.cfg.Profile }

// Backend is the run's backend.
func (e *Env) Backend() Backend { return e.cfg.Backend }

// Now is the test clock in UTC milliseconds.
func (e *Env) Now() int64 { return e.now.Load() }

// Advance moves the test clock by ms.
func (e *Env) Advance(ms int64) { e.now.Add(ms) }

// SetNow sets the test clock.
func (e *Env) SetNow(ms int64) { e.now.Store(ms) }

// Options are the run's options for a new manager: its profile, a fresh
// directory under the run's root for the disk backend, and the test clock.
func (e *Env) Options() mm2.Options {
	o := mm2.Options{Profile: e.cfg.Profile, Clock: func() time.Time { return time.UnixMilli(e.now.Load()) }}
	if e.cfg.Backend == Disk {
		o.Dir = filepath.Join(e.dir, fmt.Sprintf("store%d", len(e.opened)+1))
	}
	return o
}

// OpenWith opens a manager with opts (start from Options) and leaves UTC as
// the profile starts it.
func (e *Env) OpenWith(opts mm2.Options) *mm2.Manager {
	m, err := mm2.Open(opts)
	e.NoErr(err, "Open(profile %s, dir %q)", opts.Profile.Name, opts.Dir)
	backend := "mock"
	if opts.Dir != "" {
		backend = "disk"
	}
	e.opened = append(e.opened, &opened{m: m, label: fmt.Sprintf("manager %d: %s/%s", len(e.opened)+1, opts.Profile.Name, backend)})
	return m
}

// Open opens a manager with the run's options, modified by mod when it is
// not nil, and makes UTC available.
func (e *Env) Open(mod func(*mm2.Options)) *mm2.Manager {
	o := e.Options()
	if mod != nil {
		mod(&o)
	}
	m := e.OpenWith(o)
	m.SetUTCAvailable(true)
	return m
}

// Close verifies m as at the end of a test, keeps its dump and closes it.
func (e *Env) Close(m *mm2.Manager) {
	for _, o := range e.opened {
		if o.m == m && !o.done {
			if err := e.verify(m); err != nil {
				panic(failure{fmt.Errorf("before Close: %w", err)})
			}
			o.dump = dumpManager(m, o.label)
			o.done = true
		}
	}
	e.NoErr(m.Close(), "Close")
}

// Configure declares a stream on m or fails the test.
func (e *Env) Configure(m *mm2.Manager, id mm2.StreamID, kind mm2.Kind, period time.Duration) *mm2.Stream {
	s, err := m.Configure(id, kind, period)
	e.NoErr(err, "Configure(%v, %v, %v)", id, kind, period)
	return s
}

// Counts is the harness's view of a stream's counts; the one place a Fault
// tampers with.
func (e *Env) Counts(s *mm2.Stream) mm2.Counts {
	c := s.Counts()
	if e.fault {
		c.New++
		c.Total++
	}
	return c
}

// WantCounts fails unless the stream's counts are new and pending.
func (e *Env) WantCounts(s *mm2.Stream, newN, pending int, what string, a ...any) {
	want := mm2.Counts{New: newN, Pending: pending, Total: newN + pending}
	if got := e.Counts(s); got != want {
		e.Failf("%s: %v counts %+v, want %+v", fmt.Sprintf(what, a...), s.ID(), got, want)
	}
}

// Check fails the test when m.Check() finds a violation.
func (e *Env) Check(m *mm2.Manager, what string, a ...any) {
	if err := m.Check(); err != nil {
		e.Failf("%s: Check: %v", fmt.Sprintf(what, a...), err)
	}
}

// Fig records a figure of the test.
func (e *Env) Fig(name string, v any) {
	for i := range e.figures {
		if e.figures[i].Name == name {
			e.figures[i].Value = v
			return
		}
	}
	e.figures = append(e.figures, Figure{name, v})
}

// stopped reports whether Config.Stop asks the run to end.
func (e *Env) stopped() bool { return e.cfg.Stop != nil && e.cfg.Stop() }

// Skip ends the test as skipped (not applicable), with the reason.
func (e *Env) Skip(reason string) {
	panic(skipped{reason})
}

// Failf fails the test and stops it.
func (e *Env) Failf(format string, a ...any) {
	panic(failure{fmt.Errorf(format, a...)})
}

// True fails the test unless cond holds.
func (e *Env) True(cond bool, format string, a ...any) {
	if !cond {
		e.Failf(format, a...)
	}
}

// NoErr fails the test when err is not nil.
func (e *Env) NoErr(err error, what string, a ...any) {
	if err != nil {
		e.Failf("%s: %v", fmt.Sprintf(what, a...), err)
	}
}

// Is fails the test unless errors.Is(err, target).
func (e *Env) Is(err, target error, what string, a ...any) {
	if !errors.Is(err, target) {
		e.Failf("%s: error %v, want %v", fmt.Sprintf(what, a...), err, target)
	}
}

// Eq fails the test unless got == want.
func Eq[T comparable](e *Env, got, want T, what string, a ...any) {
	if got != want {
		e.Failf("%s: got %+v, want %+v", fmt.Sprintf(what, a...), got, want)
	}
}

// tamper is the stress test's view of a figure under a Fault.
func (e *Env) tamper(n int) int {
	if e.fault {
		return n + 1
	}
	return n
}

// verify checks a manager as every test ends: Check(), and for every stream
// the counts against its sequence positions, their sums against Stats, and
// the pool's sector balance.
func (e *Env) verify(m *mm2.Manager) error {
	if err := m.Check(); err != nil {
		return fmt.Errorf("Check: %w", err)
	}
	st := m.Stats()
	if st.SectorsFree+st.SectorsUsed != st.SectorsTotal {
		return fmt.Errorf("pool: %d free + %d used != %d", st.SectorsFree, st.SectorsUsed, st.SectorsTotal)
	}
	var newSum, pendSum uint64
	for _, id := range m.Streams() {
		s, err := m.Stream(id)
		if err != nil {
			return fmt.Errorf("Stream(%v): %w", id, err)
		}
		c, ss := e.Counts(s), s.Stats()
		if err := positionsAgree(c, ss, st.Backend == string(Disk)); err != nil {
			return fmt.Errorf("%v: %w", id, err)
		}
		newSum += uint64(c.New)
		pendSum += uint64(c.Pending)
	}
	if newSum != st.New || pendSum != st.Pending {
		return fmt.Errorf("streams sum to new %d, pending %d; Stats says new %d, pending %d", newSum, pendSum, st.New, st.Pending)
	}
	return nil
}

// positionsAgree reports whether a stream's counts c agree with its stats:
// the same counts, positions in order, and positions that differ from the
// counts only by the numbers dropped from behind a batch in flight (gaps in
// the chain), never by less. The disk backend reports no read position
// (StreamStats.Read is 0): there only what it reports is checked.
func positionsAgree(c mm2.Counts, ss mm2.StreamStats, disk bool) error {
	switch {
	case c != ss.Counts:
		return fmt.Errorf("Counts %+v, Stats say %+v", c, ss.Counts)
	case disk && (ss.Acked > ss.Written || uint64(c.Total) > ss.Written-ss.Acked || c.Total != c.New+c.Pending ||
		ss.Written-ss.Acked-uint64(c.Total) > ss.Drops.RAMFull):
		return fmt.Errorf("counts %+v disagree with positions acked %d, written %d", c, ss.Acked, ss.Written)
	case disk:
		return nil
	case ss.Acked > ss.Read || ss.Read > ss.Written:
		return fmt.Errorf("positions acked %d, read %d, written %d out of order", ss.Acked, ss.Read, ss.Written)
	case uint64(c.Pending) > ss.Read-ss.Acked || uint64(c.New) > ss.Written-ss.Read || c.Total != c.New+c.Pending ||
		ss.Written-ss.Acked-uint64(c.Total) > ss.Drops.RAMFull:
		return fmt.Errorf("counts %+v disagree with positions acked %d, read %d, written %d", c, ss.Acked, ss.Read, ss.Written)
	}
	return nil
}

func (e *Env) verifyAll() error {
	for _, o := range e.opened {
		if o.done {
			continue
		}
		if err := e.verify(o.m); err != nil && !errors.Is(err, mm2.ErrClosed) {
			return fmt.Errorf("%s at the end of the test: %w", o.label, err)
		}
	}
	return nil
}

func (e *Env) dump() string {
	var b strings.Builder
	for _, o := range e.opened {
		if o.done {
			b.WriteString(o.dump)
		} else {
			b.WriteString(dumpManager(o.m, o.label))
		}
	}
	return b.String()
}

func (e *Env) closeAll() {
	for _, o := range e.opened {
		if !o.done {
			o.done = true
			_ = o.m.Close()
		}
	}
}

// dumpStreams bounds how many streams a dump lists.
const dumpStreams = 24

// dumpManager formats Stats and per-stream stats, the state a field engineer
// needs to diagnose a failure.
func dumpManager(m *mm2.Manager, label string) string {
	var b strings.Builder
	st := m.Stats()
	fmt.Fprintf(&b, "%s\n", label)
	fmt.Fprintf(&b, "  pool: %d sectors of %d B, %d used, %d free, %.1f%% (%s)\n",
		st.SectorsTotal, st.SectorSize, st.SectorsUsed, st.SectorsFree, st.UtilizationPct, st.Pressure)
	fmt.Fprintf(&b, "  allocations %d, failures %d, frees %d, rejected writes %d, space efficiency %.1f%%\n",
		st.Allocations, st.AllocationFailures, st.Frees, st.RejectedWrites, st.SpaceEfficiencyPct)
	fmt.Fprintf(&b, "  streams %d (active %d), records stored %d, new %d, pending %d\n",
		st.Streams, st.ActiveStreams, st.StoredRecords, st.New, st.Pending)
	fmt.Fprintf(&b, "  drops: ram-full %d, disk-cap %d, corrupt %d\n", st.Drops.RAMFull, st.Drops.DiskCap, st.Drops.Corrupt)
	fmt.Fprintf(&b, "  footprint %d B, utc %v, powering down %v, backend %s\n", st.Footprint, st.UTCAvailable, st.PoweringDown, st.Backend)
	if err := m.Check(); err != nil {
		fmt.Fprintf(&b, "  Check: %v\n", strings.ReplaceAll(err.Error(), "\n", "\n         "))
	} else {
		fmt.Fprintf(&b, "  Check: ok\n")
	}
	ids := m.Streams()
	for i, id := range ids {
		if i == dumpStreams {
			fmt.Fprintf(&b, "  ... %d more streams\n", len(ids)-i)
			break
		}
		s, err := m.Stream(id)
		if err != nil {
			fmt.Fprintf(&b, "  %v: %v\n", id, err)
			continue
		}
		ss := s.Stats()
		oldest := "-"
		if ss.HasUnacked {
			oldest = fmt.Sprint(ss.OldestUnackedMs)
		}
		fmt.Fprintf(&b, "  %-12v %s period=%dms new=%d pending=%d acked=%d read=%d written=%d sectors ram=%d disk=%d oldest=%s drops=%d\n",
			id, ss.Kind, ss.Period, ss.Counts.New, ss.Counts.Pending, ss.Acked, ss.Read, ss.Written,
			ss.SectorsRAM, ss.SectorsDisk, oldest, ss.Drops.Total())
	}
	return b.String()
}
