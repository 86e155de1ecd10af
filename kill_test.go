//go:build unix

package mm2_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/internal/gateway"
	"github.com/mm2go/mm2/vfs"
)

// The kill test re-executes the test binary as the child: with these set in
// its environment, init runs the child's loop instead of the tests.
const (
	killChildDir  = "MM2_KILL_CHILD_DIR"
	killChildLog  = "MM2_KILL_CHILD_LOG"
	killChildSeed = "MM2_KILL_CHILD_SEED"
	killChildSync = "MM2_KILL_CHILD_SYNC"
)

func init() {
	if dir := os.Getenv(killChildDir); dir != "" {
		os.Exit(killChild(dir, os.Getenv(killChildLog), os.Getenv(killChildSeed), os.Getenv(killChildSync)))
	}
}

// killStream is one of the child's streams.
type killStream struct {
	id     mm2.StreamID
	kind   mm2.Kind
	period time.Duration
}

var killStreams = []killStream{
	{mm2.StreamID{Source: mm2.CAN, Sensor: 1}, mm2.TSD, 10 * time.Millisecond},
	{mm2.StreamID{Source: mm2.CAN, Sensor: 2}, mm2.TSD, 100 * time.Millisecond},
	{mm2.StreamID{Source: mm2.Gateway, Sensor: 7}, mm2.EVT, 0},
}

// killValue and killEventTime are what record seq of a stream holds, so
// every record read back can be checked against its sequence number.
func killValue(id mm2.StreamID, seq uint64) uint32 {
	return uint32(seq)*2246822519 ^ uint32(seq>>32) ^ id.Sensor<<28
}

func killEventTime(seq uint64) int64 { return 1_600_000_000_000 + int64(seq%(1<<40)) }

// killPolicies are the sync policies the kill test runs, by name: the
// default one (the crash journal alone must keep everything across a
// process crash) and SyncAlways.
var killPolicies = map[string]mm2.SyncPolicy{
	"on-power-down": mm2.SyncOnPowerDown(),
	"always":        mm2.SyncAlways(),
}

func killOptions(dir, policy string) mm2.Options {
	return mm2.Options{Dir: dir, Sync: killPolicies[policy], SegmentBytes: 4 << 10}
}

// killChild opens the store with the named sync policy and writes, reads,
// acknowledges and rejects at random until it is killed. Every line of its
// log is written (write(2), no fsync: a killed process's writes stay in
// the page cache) before the next step:
//
//	S i next    stream i's next write gets sequence number next
//	R           ready: every stream configured
//	B i seq     about to write seq to stream i
//	W i seq     the write of seq to stream i returned nil
//	P i seq     about to acknowledge stream i through seq
//	A i seq     the acknowledgement through seq returned nil
//
// It exits (with a message on stderr) only when something is wrong.
func killChild(dir, logPath, seedText, policy string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "kill child: "+format+"\n", a...)
		return 2
	}
	seed, err := strconv.ParseUint(seedText, 10, 64)
	if err != nil {
		return fail("seed %q: %v", seedText, err)
	}
	if _, ok := killPolicies[policy]; !ok {
		return fail("unknown sync policy %q", policy)
	}
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fail("log: %v", err)
	}
	var line []byte
	note := func(kind byte, i int, seq uint64) error {
		line = append(line[:0], kind)
		if kind != 'R' {
			line = fmt.Appendf(line, " %d %d", i, seq)
		}
		line = append(line, '\n')
		_, err := logf.Write(line)
		return err
	}
	m, err := mm2.Open(killOptions(dir, policy))
	if err != nil {
		return fail("Open: %v", err)
	}
	handles := make([]*mm2.Stream, len(killStreams))
	next := make([]uint64, len(killStreams))
	for i, ks := range killStreams {
		if handles[i], err = m.Configure(ks.id, ks.kind, ks.period); err != nil {
			return fail("Configure %v: %v", ks.id, err)
		}
		next[i] = handles[i].Stats().Written + 1
		if err := note('S', i, next[i]); err != nil {
			return fail("log: %v", err)
		}
	}
	if err := note('R', 0, 0); err != nil {
		return fail("log: %v", err)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	buf := make([]mm2.Sample, 64)
	// Each run leans one way: acknowledging less than it writes (the
	// backlog grows over segments) or more (segments retire).
	readMax := 8
	if rng.IntN(2) == 0 {
		readMax = 64
	}
	for {
		i := rng.IntN(len(killStreams))
		ks, h := killStreams[i], handles[i]
		switch r := rng.IntN(20); {
		case r < 14: // write a few records, now and then a burst
			k := 1 + rng.IntN(4)
			if r == 0 {
				k = 40
			}
			for ; k > 0; k-- {
				seq := next[i]
				if err := note('B', i, seq); err != nil {
					return fail("log: %v", err)
				}
				if ks.kind == mm2.TSD {
					err = h.WriteTSD(killValue(ks.id, seq))
				} else {
					err = h.WriteEVT(killValue(ks.id, seq), killEventTime(seq))
				}
				if err != nil {
					return fail("write %v seq %d: %v", ks.id, seq, err)
				}
				next[i]++
				if err := note('W', i, seq); err != nil {
					return fail("log: %v", err)
				}
			}
		default: // read some, then acknowledge them or (r == 19) reject them
			n, err := h.ReadBulk(buf[:1+rng.IntN(readMax)])
			if errors.Is(err, mm2.ErrNoData) {
				continue
			}
			if err != nil {
				return fail("ReadBulk %v: %v", ks.id, err)
			}
			for _, smp := range buf[:n] {
				if smp.Value != killValue(ks.id, smp.Seq) || (ks.kind == mm2.EVT && smp.UTCms != killEventTime(smp.Seq)) {
					return fail("%v read %+v: wrong value or time for its sequence number", ks.id, smp)
				}
			}
			if r == 19 {
				if _, err := h.Nack(); err != nil {
					return fail("Nack %v: %v", ks.id, err)
				}
				continue
			}
			through := buf[n-1].Seq
			if err := note('P', i, through); err != nil {
				return fail("log: %v", err)
			}
			if got, err := h.Ack(); err != nil || got != n {
				return fail("Ack %v: %d, %v; want %d", ks.id, got, err, n)
			}
			if err := note('A', i, through); err != nil {
				return fail("log: %v", err)
			}
		}
	}
}

// killModel is what the parent knows of a stream: every record that must
// still be in the store, the newest acknowledged position and the newest
// sequence number handed out.
type killModel struct {
	unacked []uint64
	acked   uint64
	newest  uint64
}

// killRound is what one child run logged about a stream.
type killRound struct {
	started  bool
	next     uint64   // from S: the first number this run hands out
	written  []uint64 // W
	begun    uint64   // B without its W: a write in flight
	pending  uint64   // P without its A: an acknowledgement in flight
	ackedNow uint64   // newest A
	acks     int      // A lines
}

// readKillLog parses a child's log; a last line without its newline is
// ignored (the child died writing it).
func readKillLog(t *testing.T, path string) (ready bool, rounds []killRound) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		b = nil
	}
	rounds = make([]killRound, len(killStreams))
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 1 && f[0] == "R" {
			ready = true
			continue
		}
		if len(f) != 3 {
			t.Fatalf("bad log line %q", sc.Text())
		}
		i, err1 := strconv.Atoi(f[1])
		seq, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 != nil || err2 != nil || i < 0 || i >= len(killStreams) {
			t.Fatalf("bad log line %q", sc.Text())
		}
		r := &rounds[i]
		switch f[0] {
		case "S":
			r.started, r.next = true, seq
		case "B":
			r.begun = seq
		case "W":
			r.written = append(r.written, seq)
			r.begun = 0
		case "P":
			r.pending = seq
		case "A":
			r.ackedNow, r.pending = seq, 0
			r.acks++
		default:
			t.Fatalf("bad log line %q", sc.Text())
		}
	}
	return ready, rounds
}

// killTotals adds up what the kill test reached.
type killTotals struct {
	kills, early, writes, acks, inflightAcks, ackLanded, extraWrites int
	recovered, maxBacklog, damaged, inflightWrites, exactNumbering   int
	damage                                                           []string // the first few damage reports
}

// TestKill9LosesNoAckedAndNoWrittenRecord kills a child process with SIGKILL
// at random moments while it writes and acknowledges, under the default
// policy (SyncOnPowerDown: only the crash journal in the page cache keeps
// what returned) and under SyncAlways, and after each kill reopens the
// store: Open succeeds, Check passes, no record at or below an
// acknowledged position comes back, every record whose write returned nil
// and that is above it does, in order, with its value, and numbering goes
// on without a gap (the newest number is the newest logged write's, or
// the write in flight's when it landed). The child resumes from the
// recovered store each round.
func TestKill9LosesNoAckedAndNoWrittenRecord(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a child process 120 times")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	kills := 60 // per policy
	if *soak {
		kills = 600
	}
	for _, policy := range []string{"on-power-down", "always"} {
		t.Run(policy, func(t *testing.T) { runKill9(t, exe, policy, kills) })
	}
}

// runKill9 runs kills rounds of the kill test under the named policy on a
// store of its own.
func runKill9(t *testing.T, exe, policy string, kills int) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	tmp := t.TempDir()
	store := filepath.Join(tmp, "store")
	models := make([]killModel, len(killStreams))
	var tot killTotals
	start := time.Now()
	for round := 0; round < kills; round++ {
		logPath := filepath.Join(tmp, fmt.Sprintf("log-%03d", round))
		childSeed := rng.Uint64()
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), killChildDir+"="+store, killChildLog+"="+logPath,
			killChildSeed+"="+strconv.FormatUint(childSeed, 10), killChildSync+"="+policy)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if rng.IntN(10) == 0 {
			// Now and then kill it early: during start-up or recovery.
			tot.early++
			time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
		} else {
			deadline := time.Now().Add(20 * time.Second)
			for ready, _ := readKillLog(t, logPath); !ready; ready, _ = readKillLog(t, logPath) {
				select {
				case err := <-exited:
					t.Fatalf("round %d (child seed %d): child exited before it was ready: %v\n%s", round, childSeed, err, stderr.String())
				case <-time.After(2 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("round %d: child not ready after 20 s", round)
				}
			}
			time.Sleep(time.Duration(1+rng.IntN(120)) * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatal(err)
		}
		err := <-exited
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("round %d: child: %v", round, err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d (child seed %d): child ended by itself (%v):\n%s", round, childSeed, err, stderr.String())
		}
		tot.kills++
		_, rounds := readKillLog(t, logPath)
		if err := verifyKillRound(store, policy, models, rounds, &tot); err != nil {
			t.Fatalf("round %d (seed %d, child seed %d): %v", round, seed, childSeed, err)
		}
	}
	t.Logf("%s: %d kills (%d during start-up) in %v: %d writes and %d acknowledgements logged; "+
		"%d acknowledgements caught in flight (%d had landed), %d writes caught in flight (%d had landed); "+
		"%d records checked after reopening, backlog up to %d, %d damage reports; "+
		"numbering exactly the newest logged write's %d times",
		policy, tot.kills, tot.early, time.Since(start).Round(time.Millisecond), tot.writes, tot.acks,
		tot.inflightAcks, tot.ackLanded, tot.inflightWrites, tot.extraWrites, tot.recovered, tot.maxBacklog, tot.damaged,
		tot.exactNumbering)
	for _, d := range tot.damage {
		t.Logf("damage reported after a kill: %s", d)
	}
	if quarantined, err := os.ReadDir(filepath.Join(store, "corrupted")); err == nil {
		t.Logf("%d files copied to corrupted/", len(quarantined))
	}
	if tot.writes == 0 || tot.acks == 0 {
		t.Fatalf("the child never wrote or never acknowledged: %+v", tot)
	}
}

// verifyKillRound reopens the store after a kill, compares every stream
// with what the child logged and moves the models on to what came back.
func verifyKillRound(store, policy string, models []killModel, rounds []killRound, tot *killTotals) error {
	opts := killOptions(store, policy)
	var recovery bytes.Buffer // the manager's log of the recovery, for a failure's message
	opts.Logger = slog.New(slog.NewTextHandler(&recovery, nil))
	m, err := mm2.Open(opts)
	if err != nil {
		return fmt.Errorf("Open after kill: %v", err)
	}
	defer m.Close()
	if err := m.Check(); err != nil {
		return fmt.Errorf("Check after kill: %v", err)
	}
	for _, d := range m.Damage() {
		tot.damaged++
		if len(tot.damage) < 5 {
			tot.damage = append(tot.damage, d.Error())
		}
	}
	extras := 0
	buf := make([]mm2.Sample, 512)
	for i, ks := range killStreams {
		md, r := &models[i], rounds[i]
		tot.writes += len(r.written)
		if r.started && r.next != md.newest+1 {
			return fmt.Errorf("%v: the child's first number was %d after a clean reopen whose newest was %d", ks.id, r.next, md.newest)
		}
		newest := md.newest
		if n := len(r.written); n > 0 {
			newest = r.written[n-1]
		}
		// What the child logged, on top of what the last reopen found.
		for _, q := range r.written {
			if n := len(md.unacked); n > 0 && q <= md.unacked[n-1] || q <= md.acked {
				return fmt.Errorf("%v: the child wrote seq %d, not above what the store held (%v, acked %d)", ks.id, q, tail(md.unacked), md.acked)
			}
			md.unacked = append(md.unacked, q)
		}
		tot.acks += r.acks
		md.acked = max(md.acked, r.ackedNow)
		inflight := r.begun // a write that may have returned nil without its W line
		if inflight > 0 {
			tot.inflightWrites++
		}
		h, err := m.Configure(ks.id, ks.kind, ks.period)
		if err != nil {
			return err
		}
		var got []uint64
		for {
			n, err := h.ReadBulk(buf)
			if errors.Is(err, mm2.ErrNoData) {
				break
			}
			if err != nil {
				return fmt.Errorf("%v: ReadBulk after kill: %v", ks.id, err)
			}
			for _, smp := range buf[:n] {
				if smp.Value != killValue(ks.id, smp.Seq) || (ks.kind == mm2.EVT && smp.UTCms != killEventTime(smp.Seq)) {
					return fmt.Errorf("%v: record %+v: wrong value or time for its sequence number", ks.id, smp)
				}
				if n := len(got); n > 0 && smp.Seq <= got[n-1] {
					return fmt.Errorf("%v: seq %d delivered after %d", ks.id, smp.Seq, got[n-1])
				}
				if smp.Seq <= md.acked {
					return fmt.Errorf("%v: seq %d came back, acknowledged through %d", ks.id, smp.Seq, md.acked)
				}
				got = append(got, smp.Seq)
			}
		}
		tot.recovered += len(got)
		tot.maxBacklog = max(tot.maxBacklog, len(got))
		// The write in flight may have landed: it is the newest, if anything.
		landedWrite := false
		if n := len(got); inflight > 0 && n > 0 && got[n-1] == inflight && !slices.Contains(md.unacked, inflight) {
			got = got[:n-1]
			landedWrite = true
		}
		want := above(md.unacked, md.acked)
		if r.pending > md.acked {
			// An acknowledgement in flight: it landed entirely or not at all.
			tot.inflightAcks++
			if landed := above(want, r.pending); slices.Equal(got, landed) && !slices.Equal(got, want) {
				tot.ackLanded++
				md.acked = r.pending
				want = landed
			}
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("%v: after the kill the store holds %d records %v, want %d %v (acked %d, ack in flight %d)",
				ks.id, len(got), ranges(got), len(want), ranges(want), md.acked, r.pending)
		}
		md.unacked = want
		if landedWrite {
			md.unacked = append(md.unacked, inflight)
			extras++
			tot.extraWrites++
		}
		// Nothing was destroyed: numbering goes on from the newest logged
		// write, or from the write in flight when it landed (one that did
		// not land may have taken its number).
		w := h.Stats().Written
		switch {
		case landedWrite && w != inflight,
			!landedWrite && inflight == 0 && w != newest,
			!landedWrite && inflight > 0 && w != newest && w != inflight:
			return fmt.Errorf("%v: after the kill the newest sequence number is %d, want %d (write in flight: %d, landed: %v); damage %v; recovery log:\n%s",
				ks.id, w, newest, inflight, landedWrite, m.Damage(), recovery.String())
		}
		if inflight == 0 {
			tot.exactNumbering++
		}
		md.newest = w
	}
	if extras > 1 {
		return fmt.Errorf("%d streams hold an unlogged write; the child had at most one in flight", extras)
	}
	return nil
}

// above returns the numbers in q greater than x.
func above(q []uint64, x uint64) []uint64 {
	i, _ := slices.BinarySearch(q, x+1)
	return slices.Clone(q[i:])
}

func tail(q []uint64) []uint64 { return q[max(0, len(q)-3):] }

// errKilled is what the process killed during a checkpoint sees from then on.
var errKilled = errors.New("killed during the checkpoint")

// dieInCheckpoint is one process's filesystem that dies (kill -9) while it
// writes a checkpoint slot: at "create" right after the slot was created
// (truncated), at "sync" once the slot's bytes were written and its fsync
// began. What it wrote stays in the page cache; nothing after reaches a file.
type dieInCheckpoint struct {
	*gateway.Process
	at string
}

func (d dieInCheckpoint) Create(name string) (vfs.File, error) {
	f, err := d.Process.Create(name)
	if err != nil || !strings.HasPrefix(filepath.Base(name), "state-") {
		return f, err
	}
	if d.at == "create" {
		_ = f.Close()
		return nil, errors.Join(errKilled, d.Kill())
	}
	return dyingSlot{File: f, d: d}, nil
}

type dyingSlot struct {
	vfs.File
	d dieInCheckpoint
}

func (s dyingSlot) Sync() error { return errors.Join(errKilled, s.d.Kill()) }

// TestKill9DuringCheckpointSkipsNoNumber kills the process while Open
// writes its checkpoint, in the same boot of the machine: the older slot
// and its journal still hold everything, so nothing is destroyed and the
// numbering must go on from the newest record written.
func TestKill9DuringCheckpointSkipsNoNumber(t *testing.T) {
	id := mm2.StreamID{Source: mm2.CAN, Sensor: 1}
	for _, policy := range []string{"on-power-down", "always"} {
		for _, at := range []string{"sync", "create"} {
			t.Run(policy+"/"+at, func(t *testing.T) {
				machine := gateway.NewPowerFS("boot-1")
				opts := killOptions(t.TempDir(), policy)
				m, err := mm2.OpenFS(opts, machine.Process())
				if err != nil {
					t.Fatal(err)
				}
				h, err := m.Configure(id, mm2.TSD, 10*time.Millisecond)
				if err != nil {
					t.Fatal(err)
				}
				for seq := uint64(1); seq <= 10; seq++ {
					if err := h.WriteTSD(killValue(id, seq)); err != nil {
						t.Fatal(err)
					}
				}
				if err := m.Close(); err != nil {
					t.Fatal(err)
				}
				// The next process dies in Open's checkpoint; it is abandoned.
				if _, err := mm2.OpenFS(opts, dieInCheckpoint{Process: machine.Process(), at: at}); err != nil {
					t.Logf("Open of the killed process: %v", err)
				}
				m, err = mm2.OpenFS(opts, machine.Process())
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				if h, err = m.Configure(id, mm2.TSD, 10*time.Millisecond); err != nil {
					t.Fatal(err)
				}
				if st := h.Stats(); st.Written != 10 || h.Counts().New != 10 {
					t.Fatalf("after the kill: newest sequence number %d, %d unread; want 10 and 10 (damage %v)",
						st.Written, h.Counts().New, m.Damage())
				}
			})
		}
	}
}
