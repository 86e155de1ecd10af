package mm2

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestChainWalkIsBounded corrupts the chain table the ways the original
// system's production pools were found corrupted (§12.12: a freed sector
// reused while still linked, chains running into each other or into the
// free list, cycles) and shows that Check terminates and reports each, and
// that the other walks (Stats, Peek, Counts) terminate too. The original
// walked chains with no bound and hung for hours on such a pool. The rest of
// §12.12, reuse across streams with Check clean at every step, is self-test
// 112 (internal/selftest/bugs.go); this part needs the package's internals.
func TestChainWalkIsBounded(t *testing.T) {
	type fixture struct {
		m    *Manager
		a, b *Stream
	}
	cases := []struct {
		name    string
		want    string // a fragment of the report (a cycle shows as a sector its own chain reaches twice)
		corrupt func(f fixture)
		// walks: also run the walks outside Check (those need valid ids).
		walks bool
	}{
		{"tail links back to head", "reached", func(f fixture) {
			f.m.pool.SetNext(f.a.tail, f.a.head)
		}, true},
		{"sector links to itself", "reached", func(f fixture) {
			f.m.pool.SetNext(f.a.head, f.a.head)
		}, true},
		{"chain runs into another chain", "also reached", func(f fixture) {
			f.m.pool.SetNext(f.b.tail, f.a.head)
		}, true},
		{"freed sector still linked", "free list", func(f fixture) {
			f.m.pool.Release(f.a.tail) // a's chain now runs on into the free list
		}, true},
		{"freed sector reused while still linked", "also reached", func(f fixture) {
			f.m.pool.Release(f.a.tail)
			if err := f.b.appendTSD(1, 1_700_000_999_000, int64(f.b.periodMs)); err != nil { // b takes the freed sector
				panic(err)
			}
		}, true},
		{"free list cycle", "free list", func(f fixture) {
			h := f.m.pool.FreeHead()
			f.m.pool.SetNext(h, h)
		}, false},
		{"link out of range", "invalid sector", func(f fixture) {
			f.m.pool.SetNext(f.a.head, uint32(f.m.pool.Len()+7))
		}, false},
	}
	for _, prof := range []Profile{ProfileLinux, ProfileSTM32} {
		for _, c := range cases {
			t.Run(prof.Name+"/"+c.name, func(t *testing.T) {
				m, err := Open(Options{Profile: prof, Clock: func() time.Time { return time.UnixMilli(1_700_000_000_000) }})
				if err != nil {
					t.Fatal(err)
				}
				m.SetUTCAvailable(true)
				f := fixture{m: m}
				for i, p := range []**Stream{&f.a, &f.b} {
					s, err := m.Configure(StreamID{Source: CAN, Sensor: uint32(i)}, TSD, time.Second)
					if err != nil {
						t.Fatal(err)
					}
					*p = s
					for v := uint32(0); v < 6*uint32(3-i); v++ { // a: 3 sectors, b: 2
						m.mu.Lock()
						err := s.appendTSD(v, 1_700_000_000_000+int64(v)*1000, int64(s.periodMs))
						m.mu.Unlock()
						if err != nil {
							t.Fatal(err)
						}
					}
				}
				if _, err := f.a.Read(); err != nil {
					t.Fatal(err)
				}
				if err := m.Check(); err != nil {
					t.Fatalf("before corruption: %v", err)
				}
				m.mu.Lock()
				c.corrupt(f)
				m.mu.Unlock()

				var report error
				bounded(t, "Check", func() { report = m.Check() })
				if report == nil {
					t.Fatal("Check found nothing on a corrupted pool")
				}
				if !strings.Contains(report.Error(), c.want) {
					t.Fatalf("Check report does not mention %q:\n%v", c.want, report)
				}
				t.Logf("Check reported:\n%v", report)
				if c.walks {
					// Outside Check a broken invariant may panic (a bug), but it
					// must never loop.
					for name, walk := range map[string]func(){
						"Manager.Stats": func() { m.Stats() },
						"Stream.Stats":  func() { f.a.Stats(); f.b.Stats() },
						"Counts":        func() { f.a.Counts(); f.b.Counts() },
						"Peek":          func() { _, _ = f.a.Peek(10) },
						"Nack":          func() { _, _ = f.a.Nack() },
					} {
						bounded(t, name, func() {
							defer func() {
								if r := recover(); r != nil {
									// A panic while holding the lock leaves it held;
									// this manager is not used again.
									t.Logf("%s panicked on the corrupted pool: %v", name, r)
								}
							}()
							walk()
						})
					}
				}
			})
		}
	}
}

// bounded fails the test if f does not return within a generous limit: the
// walks are bounded by the pool size, so they end in microseconds.
func bounded(t *testing.T, name string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		panic(fmt.Sprintf("%s did not terminate on a corrupted pool", name))
	}
}
