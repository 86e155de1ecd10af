package gateway

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/mm2go/mm2/internal/humanize"
)

// rebootMs is how long the gateway takes to come back after a crash.
const rebootMs = 20_000

// powerDownDeadline is PowerDown's window (the seed's 60 s).
const powerDownDeadline = 60 * time.Second

// Run drives the whole script and returns the accounting. When ctx is
// cancelled (SIGTERM), the vehicle stops, the uplink settles what is in
// flight, the store powers down within its deadline and the report (marked
// Interrupted) accounts for everything written so far, with what is still
// buffered left in the store for the next start.
func (s *Sim) Run(ctx context.Context) (*Report, error) {
	wall := time.Now()
	held, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	for i := range held {
		if held[i].Len() > 0 {
			s.stopUplink()
			return nil, fmt.Errorf("the store in %s is not empty (%v holds %s): start from an empty directory",
				s.cfg.Dir, s.sig[i].ID, humanize.Count(held[i].Len(), "record"))
		}
	}
	if s.cfg.Offline {
		s.link.Down()
		s.inOutage = true
		s.setPhase(PhaseLinkDown)
		s.logf("offline: the link is down for the whole run")
	} else {
		s.setPhase(PhaseDriving)
	}
	s.logf("start: %d streams (%d CAN signals at 10-100 Hz), %.0f records/s, sync %v",
		len(s.sig), s.cfg.CANSignals, RecordsPerSecond(s.sig), s.cfg.Sync)
	// Event times and the end are in driving time: the time the vehicle is
	// off after a power cut or a crash (s.skipped) moves them on.
	t := s.t0
	ev := 0
	interrupted := false
	for t < s.t0+s.skipped+s.cfg.Duration.Milliseconds() {
		for ev < len(s.events) && s.t0+s.skipped+s.events[ev].at <= t {
			if t, err = s.apply(ctx, s.events[ev], t); err != nil {
				return nil, err
			}
			ev++
		}
		s.clock.Store(t)
		s.v.Step(t)
		t += StepMs
		if (t-s.t0)%100 != 0 {
			continue
		}
		if ctx.Err() != nil {
			interrupted = true
			break
		}
		s.clock.Store(t)
		st := s.observe(ctx)
		if backlog := st.New + st.Pending; !s.inOutage && backlog > uint64(s.cfg.Backlog) {
			s.catchUp(ctx, backlog)
		}
		if (t-s.t0)%1000 == 0 {
			if err := s.b.m.Tick(); err != nil {
				s.cfg.Logger.Warn("tick", "err", err.Error())
			}
		}
	}
	s.clock.Store(min(t, s.t0+s.skipped+s.cfg.Duration.Milliseconds()))
	if !interrupted && !s.cfg.Offline {
		interrupted = !s.drain(ctx)
	}
	if interrupted {
		s.setPhase(PhaseStopping)
		s.logf("signal: stopping the vehicle, settling the uplink, powering down")
	}
	s.stopUplink()
	s.settle(10 * time.Second)
	if err := s.closeBoot(); err != nil {
		s.fail("%v", err)
	}
	buffered := make([]SeqSet, len(s.sig))
	for i := range s.sig {
		if buffered[i], err = readAll(s.v.h[i], true); err != nil {
			s.fail("read the buffered records of %v: %v", s.sig[i].ID, err)
		}
	}
	s.observe(ctx)
	if interrupted {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), powerDownDeadline)
		start := time.Now()
		err := s.b.m.PowerDown(pctx)
		cancel()
		s.report.PowerDownOnSignal = time.Since(start)
		if err != nil {
			s.fail("PowerDown on the signal: %v", err)
		} else {
			s.logf("powered down in %v: %s stay in the store for the next start", s.report.PowerDownOnSignal.Round(time.Millisecond), humanize.Count(totalLen(buffered), "record"))
		}
	} else if err := s.b.m.Close(); err != nil {
		s.fail("close the store: %v", err)
	}
	s.setPhase(PhaseDone)
	s.report.Interrupted = interrupted
	s.account(buffered)
	s.report.Simulated = s.driving()
	s.report.Elapsed = time.Since(wall)
	s.report.SimulatedS, s.report.ElapsedS = s.report.Simulated.Seconds(), s.report.Elapsed.Seconds()
	s.report.PowerDownOnSignalMs = float64(s.report.PowerDownOnSignal) / 1e6
	s.report.fillEmpty()
	return &s.report, nil
}

func totalLen(sets []SeqSet) uint64 {
	var n uint64
	for i := range sets {
		n += sets[i].Len()
	}
	return n
}

// apply carries out one scripted event at t and returns the (possibly
// advanced) simulated time.
func (s *Sim) apply(ctx context.Context, e event, t int64) (int64, error) {
	switch e.kind {
	case "outage":
		s.inOutage, s.outageN = true, e.n
		if e.link {
			s.link.Down()
			s.setPhase(PhaseLinkDown)
			s.logf("outage %d: the link goes down (broker unreachable)", e.n)
		} else {
			s.failing.Store(true)
			s.setPhase(PhaseFailing)
			s.logf("outage %d: the uplink's sends fail", e.n)
		}
	case "restore":
		st := s.b.m.Stats()
		s.link.Up()
		s.failing.Store(false)
		s.inOutage = false
		s.setPhase(PhaseDriving)
		s.logf("outage %d ends: pool %.0f %%, %s unacknowledged, %s on disk, %d dropped at the disk cap so far",
			e.n, st.UtilizationPct, humanize.Count(st.New+st.Pending, "record"), humanize.Bytes(st.DiskBytes), st.Drops.DiskCap)
	case "powercut":
		return s.powerCut(ctx, t)
	case "powerloss":
		return s.powerLoss(ctx, t)
	case "crash":
		return s.crash(ctx, t)
	}
	return t, nil
}

// restorePhase puts back the phase label after a restart.
func (s *Sim) restorePhase() {
	switch {
	case !s.inOutage:
		s.setPhase(PhaseDriving)
	case s.link.IsDown():
		s.setPhase(PhaseLinkDown)
	default:
		s.setPhase(PhaseFailing)
	}
}

// catchUp lets the uplink catch up while the link is up: simulated time
// runs far faster than the real uplink, so the vehicle waits for it when
// more than Backlog records are unacknowledged (after an outage this is
// the whole backlog draining).
func (s *Sim) catchUp(ctx context.Context, backlog uint64) {
	long := backlog > 4*uint64(s.cfg.Backlog)
	if long {
		s.setPhase(PhaseCatchUp)
	}
	deadline := time.Now().Add(30 * time.Second)
	for backlog > uint64(s.cfg.Backlog)/2 {
		if ctx.Err() != nil {
			break
		}
		if time.Now().After(deadline) {
			s.report.Stalls++
			s.logf("the uplink made too little progress for 30 s (%s unacknowledged); driving on", humanize.Count(backlog, "record"))
			break
		}
		s.b.up.Wake()
		time.Sleep(2 * time.Millisecond)
		st := s.observe(ctx)
		backlog = st.New + st.Pending
	}
	if long {
		s.restorePhase()
	}
}

// drain brings the network back and waits until the store is empty. It
// returns false if ctx was cancelled meanwhile.
func (s *Sim) drain(ctx context.Context) bool {
	s.setPhase(PhaseDrain)
	s.link.Up()
	s.failing.Store(false)
	s.inOutage = false
	st := s.observe(ctx)
	s.logf("end of the drive: draining %s (%s on disk)", humanize.Count(st.New+st.Pending, "record"), humanize.Bytes(st.DiskBytes))
	deadline := time.Now().Add(s.cfg.DrainTimeout)
	for st.New+st.Pending > 0 {
		if ctx.Err() != nil {
			return false
		}
		if time.Now().After(deadline) {
			s.logf("drain timed out after %v with %s left", s.cfg.DrainTimeout, humanize.Count(st.New+st.Pending, "record"))
			break
		}
		s.b.up.Wake()
		time.Sleep(5 * time.Millisecond)
		st = s.observe(ctx)
	}
	return true
}

// settle waits (at most d) until the cloud has every record of every batch
// the broker confirmed, so that in-flight messages are counted before the
// books are closed.
func (s *Sim) settle(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		missing := uint64(0)
		for i := range s.sig {
			got := s.cloud.Received(s.sig[i].ID)
			s.mu.Lock()
			m := s.led[i].acked.Minus(&got.Seqs)
			s.mu.Unlock()
			missing += m.Len()
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.report.AckedNotReceived = missing
			s.fail("%s confirmed by the broker never reached the cloud subscriber", humanize.Count(missing, "record"))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// How a boot of the gateway ends.
const (
	endPowerCut  = iota // PowerDown ran, then the power went
	endPowerLoss        // the power went without warning
	endCrash            // the process died (kill -9); the machine runs on
)

// shutdown ends a boot of the gateway: the process dies (before the uplink
// stops when the end is sudden), the boot's records are booked, what the
// manager still held is read back, and, when the power goes, the files
// lose what no sync covered. It returns what the store held per stream,
// the bound below which a loss is outside the policy's window, each
// stream's newest sequence number and the bytes the power cut destroyed.
func (s *Sim) shutdown(end int) (held []SeqSet, bounds, newest []uint64, lostBytes int64) {
	b := s.b
	kill := func() {
		if err := b.fs.Kill(); err != nil {
			s.fail("end the process: %v", err)
		}
	}
	if end != endPowerCut {
		kill()
	}
	s.stopUplink()
	if end == endPowerCut {
		kill()
	}
	if err := s.closeBoot(); err != nil {
		s.fail("%v", err)
	}
	always := s.cfg.Sync.String() == "always"
	held = make([]SeqSet, len(s.sig))
	bounds = make([]uint64, len(s.sig))
	newest = make([]uint64, len(s.sig))
	for i := range s.sig {
		h := s.v.h[i]
		var err error
		if held[i], err = readAll(h, false); err != nil {
			s.fail("read what %v held at the end of the boot: %v", s.sig[i].ID, err)
		}
		// Records numbered below the bound were durable: the power loss
		// may not destroy them. A process crash may destroy none.
		last := h.Stats().Written
		newest[i] = last
		switch {
		case always || end == endCrash:
			bounds[i] = math.MaxUint64
		case s.v.N[i] == 0:
			bounds[i] = last + 1
		default:
			bounds[i] = last - s.v.N[i] + 1 + s.led[i].nDurable
		}
		s.writtenBefore += s.v.N[i]
	}
	if end == endCrash {
		return held, bounds, newest, 0
	}
	lostBytes, err := s.machine.Cut()
	if err != nil {
		s.fail("cut the files back to what was synced: %v", err)
	}
	s.machine = nil // the next start boots the machine again
	return held, bounds, newest, lostBytes
}

// gap is how far the numbering jumped across a restart: the first number
// each stream hands out now less the one after its newest before, summed.
func (s *Sim) gap(newest []uint64) uint64 {
	g, _ := s.gaps(newest)
	return g
}

// gaps is gap and the largest jump of one stream.
func (s *Sim) gaps(newest []uint64) (sum, most uint64) {
	for i := range s.sig {
		if w := s.v.h[i].Stats().Written; w > newest[i] {
			sum += w - newest[i]
			most = max(most, w-newest[i])
		}
	}
	return sum, most
}

// reused counts the streams whose numbering went back across a restart (a
// number handed out before could be handed out again).
func (s *Sim) reused(newest []uint64) int {
	n := 0
	for i := range s.sig {
		if s.v.h[i].Stats().Written < newest[i] {
			n++
		}
	}
	return n
}

// reusedCloud counts the streams whose numbering resumes at or below a
// number the cloud received: it would be given to a second record.
func (s *Sim) reusedCloud() int {
	n := 0
	for i := range s.sig {
		got := s.cloud.Received(s.sig[i].ID)
		if got.Seqs.Len() > 0 && s.v.h[i].Stats().Written < got.Seqs.Max() {
			n++
		}
	}
	return n
}

// powerCut: power fails, PowerDown saves everything within its deadline,
// the power dies, the vehicle stays parked, then the gateway starts again.
func (s *Sim) powerCut(ctx context.Context, t int64) (int64, error) {
	s.setPhase(PhasePowerCut)
	s.observe(ctx)
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), powerDownDeadline)
	start := time.Now()
	err := s.b.m.PowerDown(pctx)
	cancel()
	took := time.Since(start)
	if err != nil {
		s.fail("PowerDown: %v", err)
	}
	held, _, newest, lostBytes := s.shutdown(endPowerCut)
	t += s.cfg.Parked.Milliseconds()
	s.skipped += s.cfg.Parked.Milliseconds()
	s.clock.Store(t)
	rec, err := s.open(ctx)
	if err != nil {
		return t, fmt.Errorf("restart after the power cut: %w", err)
	}
	s.settle(10 * time.Second)
	info := PowerCutInfo{At: fmtDur(s.driving()),
		PowerDown: took, PowerDownMs: float64(took) / 1e6, Held: totalLen(held), Recovered: totalLen(rec),
		UnsyncedBytesLost: lostBytes, NumberingGap: s.gap(newest)}
	for i := range s.sig {
		miss := held[i].Minus(&rec[i])
		got := s.cloud.Received(s.sig[i].ID)
		miss = miss.Minus(&got.Seqs)
		info.NotRecovered += miss.Len()
	}
	s.report.PowerCuts = append(s.report.PowerCuts, info)
	s.report.Phases.PowerCut = true
	s.logf("power cut: PowerDown took %v; %s held, %d recovered after %v parked (%d not recovered); numbering jumped by %d",
		took.Round(time.Millisecond), humanize.Count(info.Held, "record"), info.Recovered, s.cfg.Parked, info.NotRecovered, info.NumberingGap)
	if info.NotRecovered > 0 {
		s.fail("the power cut lost %s that PowerDown should have saved", humanize.Count(info.NotRecovered, "record"))
	}
	if n := s.reused(newest); n > 0 {
		s.fail("after the power cut %s number below their newest before it", humanize.Count(n, "stream"))
	}
	s.restorePhase()
	return t, nil
}

// sudden is what a sudden end of a boot did: what the store held and
// recovered, and per stream the records it destroyed (held, not recovered,
// never delivered) inside and outside the policy's window.
type sudden struct {
	held, recovered uint64
	in, out         []SeqSet
	newest          []uint64
	lostBytes       int64
}

// suddenEnd ends the boot without warning (a process crash or a power
// loss), lets the reboot time pass and starts the gateway again.
func (s *Sim) suddenEnd(ctx context.Context, t int64, end int, phase string) (int64, *sudden, error) {
	s.setPhase(phase)
	s.observe(ctx)
	held, bounds, newest, lostBytes := s.shutdown(end)
	t += rebootMs
	s.skipped += rebootMs
	s.clock.Store(t)
	rec, err := s.open(ctx)
	if err != nil {
		return t, nil, fmt.Errorf("restart after the %s: %w", phase, err)
	}
	s.settle(10 * time.Second)
	r := &sudden{held: totalLen(held), recovered: totalLen(rec), newest: newest, lostBytes: lostBytes,
		in: make([]SeqSet, len(s.sig)), out: make([]SeqSet, len(s.sig))}
	for i := range s.sig {
		gone := held[i].Minus(&rec[i])
		got := s.cloud.Received(s.sig[i].ID)
		gone = gone.Minus(&got.Seqs)
		r.out[i], r.in[i] = gone.Split(bounds[i])
		s.led[i].cwIn.AddSet(&r.in[i])
		s.led[i].cwOut.AddSet(&r.out[i])
	}
	return t, r, nil
}

// crash: the gateway process dies (kill -9). Nothing is closed or synced:
// the manager is abandoned, the files keep everything the page cache held
// (the machine runs on), and a new process starts on the same directory.
// It destroys nothing, and numbering goes on without a gap.
func (s *Sim) crash(ctx context.Context, t int64) (int64, error) {
	t, r, err := s.suddenEnd(ctx, t, endCrash, PhaseCrash)
	if err != nil {
		return t, err
	}
	info := CrashInfo{At: fmtDur(s.driving()), Held: r.held, Recovered: r.recovered, NumberingGap: s.gap(r.newest)}
	for i := range s.sig {
		info.Destroyed += r.out[i].Len() // the bound is past every number: no window
		if r.out[i].Len() > 0 {
			info.Streams++
		}
	}
	s.report.Crashes = append(s.report.Crashes, info)
	s.report.Phases.Crash = true
	s.logf("process crash: %s held, %d recovered; %d destroyed (%s); numbering jumped by %d",
		humanize.Count(info.Held, "record"), info.Recovered, info.Destroyed, humanize.Count(info.Streams, "stream"), info.NumberingGap)
	if info.Destroyed > 0 {
		s.fail("the process crash destroyed %s (a process crash may destroy none)", humanize.Count(info.Destroyed, "record"))
	}
	if info.NumberingGap > 0 {
		s.fail("after the process crash numbering jumped by %d though nothing was destroyed", info.NumberingGap)
	}
	if n := s.reused(r.newest); n > 0 {
		s.fail("after the process crash %s number below their newest before it", humanize.Count(n, "stream"))
	}
	s.restorePhase()
	return t, nil
}

// powerLoss: the power goes without warning. Nothing is closed or synced:
// the manager is abandoned, every file loses what no sync covered, and the
// machine boots again and the gateway starts on the same directory.
func (s *Sim) powerLoss(ctx context.Context, t int64) (int64, error) {
	t, r, err := s.suddenEnd(ctx, t, endPowerLoss, PhasePowerLoss)
	if err != nil {
		return t, err
	}
	info := PowerLossInfo{At: fmtDur(s.driving()), Held: r.held, Recovered: r.recovered,
		UnsyncedBytesLost: r.lostBytes}
	info.NumberingGap, info.StreamGapMax = s.gaps(r.newest)
	for i := range s.sig {
		info.Destroyed += r.in[i].Len()
		info.OutsideWindow += r.out[i].Len()
		if r.in[i].Len() > 0 {
			info.Streams++
		}
	}
	s.report.PowerLosses = append(s.report.PowerLosses, info)
	s.report.Phases.PowerLoss = true
	s.logf("power loss: %s held, %d recovered; %d destroyed inside the %v window (%s), %d outside it; %s of unsynced file data lost; numbering jumped by %d (at most %d in a stream)",
		humanize.Count(info.Held, "record"), info.Recovered, info.Destroyed, s.cfg.Sync, humanize.Count(info.Streams, "stream"),
		info.OutsideWindow, humanize.Bytes(info.UnsyncedBytesLost), info.NumberingGap, info.StreamGapMax)
	if info.OutsideWindow > 0 {
		s.fail("the power loss destroyed %s that the %v policy had made durable", humanize.Count(info.OutsideWindow, "record"), s.cfg.Sync)
	}
	// Numbers no reader saw may go to new records after a power loss
	// (docs/durability.md); none the cloud received may.
	if n := s.reusedCloud(); n > 0 {
		s.fail("after the power loss %s number at or below a sequence number the cloud received", humanize.Count(n, "stream"))
	}
	s.restorePhase()
	return t, nil
}
