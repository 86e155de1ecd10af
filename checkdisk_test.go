package mm2_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// gateFS holds the first Open of a segment file after it is armed until
// the test releases it.
type gateFS struct {
	vfs.FS
	armed   atomic.Bool
	entered chan string
	release chan struct{}
}

func (g *gateFS) Open(name string) (vfs.File, error) {
	if strings.Contains(name, "seg-") && g.armed.CompareAndSwap(true, false) {
		g.entered <- name
		<-g.release
	}
	return g.FS.Open(name)
}

// Check reads the segments without the manager's lock: while it waits for
// a segment file, writes, reads and ACKs go on. The ACKs retire the segment
// it is about to read; Check then checks again under the lock and finds
// the store consistent.
func TestCheckReadsSegmentsWithoutTheLock(t *testing.T) {
	g := &gateFS{FS: vfs.NewMem(), entered: make(chan string), release: make(chan struct{})}
	clk := newClock(0)
	opts := diskOpts(clk)
	opts.DiskCapBytes = 1 << 20
	m := mustOpen(t, opts, g)
	s := configureT(t, m, mm2.CAN, 1, mm2.TSD, 100*time.Millisecond)
	for i := 0; m.Stats().DiskFiles < 3; i++ {
		clk.add(100)
		okT(t, s.WriteTSD(uint32(i)), "WriteTSD")
	}
	g.armed.Store(true)
	checked := make(chan error)
	go func() { checked <- m.Check() }()
	name := <-g.entered

	done := make(chan error)
	go func() {
		clk.add(100)
		if err := s.WriteTSD(7); err != nil {
			done <- err
			return
		}
		drain(t, s, drainHow{ack: true}) // retires every full segment
		done <- nil
	}()
	select {
	case err := <-done:
		okT(t, err, "write while Check reads "+name)
	case <-time.After(30 * time.Second):
		close(g.release) // let Check and then the write finish, so the test can end
		t.Fatalf("a write and an ACK waited for Check reading %s (Check: %v, write: %v)", name, <-checked, <-done)
	}
	if st := m.Stats(); st.DiskRecords != 0 {
		t.Fatalf("%d records still on disk after the ACK", st.DiskRecords)
	}
	close(g.release)
	if err := <-checked; err != nil {
		t.Fatalf("Check with segments retired under it: %v", err)
	}
}
