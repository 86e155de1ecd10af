package engine

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mm2go/mm2/bench/workload"
)

// PolicyResult is what one policy cost: its write phase (workload a's, in Write), the Close
// after it, then a reopen, an idle spell and the drain of everything written.
type PolicyResult struct {
	Policy, Label string
	// Write holds the write phase's figures (samples, rate, disk bytes, device bytes) and,
	// after the idle spell, the drain's (samples, device bytes).
	Write            workload.Result
	CloseDeviceBytes int64 // bytes sent to the device by Close after writing; -1 unknown
	ReopenSeconds    float64
	// IdleSeconds the reopened store was left alone but for IdleTicks calls of Tick, in
	// which it sent IdleDeviceBytes to the device (-1 unknown).
	IdleSeconds     float64
	IdleTicks       int
	IdleDeviceBytes int64
	Err             string
}

// IdleBytesPerMinute scales the idle spell's device bytes to a minute; -1 when unknown.
func (r PolicyResult) IdleBytesPerMinute() float64 {
	if r.IdleDeviceBytes < 0 || r.IdleSeconds <= 0 {
		return -1
	}
	return float64(r.IdleDeviceBytes) * 60 / r.IdleSeconds
}

// RunPolicyWrite writes workload a's samples into a new store in dir under p and closes it,
// leaving the data for RunPolicyIdle.
func RunPolicyWrite(dir string, p Policy, cfg Config) (PolicyResult, error) {
	res := PolicyResult{Policy: p.Name, Label: p.Label, CloseDeviceBytes: -1, IdleDeviceBytes: -1}
	res.Write = workload.Result{System: "mm2", Durability: p.Label}
	s, err := openPolicy(dir, p, cfg.Workload.Streams)
	if err != nil {
		return res, err
	}
	if err := workload.WriteBulk(s, cfg.Workload, &res.Write); err != nil {
		return res, errors.Join(err, s.Close())
	}
	dev := workload.StartDeviceWrites()
	err = s.Close()
	res.CloseDeviceBytes = dev.Written()
	return res, err
}

// RunPolicyIdle reopens the store RunPolicyWrite left in dir, leaves it idle for
// cfg.IdleFor calling Tick every cfg.TickEvery, then drains it, checking that each stream
// comes back in order from its first sample. It fills the reopen, idle and drain fields of
// res; MergeIdle then checks that every sample written came back.
func RunPolicyIdle(dir string, p Policy, cfg Config, res *PolicyResult) error {
	start := time.Now()
	s, err := openPolicy(dir, p, cfg.Workload.Streams)
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	res.ReopenSeconds = time.Since(start).Seconds()
	m := s.Manager()
	dev := workload.StartDeviceWrites()
	idleStart := time.Now()
	for time.Since(idleStart) < cfg.IdleFor {
		time.Sleep(cfg.TickEvery)
		if err := m.Tick(); err != nil {
			return errors.Join(fmt.Errorf("tick: %w", err), s.Close())
		}
		res.IdleTicks++
	}
	res.IdleDeviceBytes = dev.Written()
	res.IdleSeconds = time.Since(idleStart).Seconds()
	if err := workload.Drain(s, cfg.Workload, &res.Write); err != nil {
		return errors.Join(err, s.Close())
	}
	return s.Close()
}

// MergeIdle takes the reopen, idle and drain figures of idle, the result of RunPolicyIdle on
// the store r's write run left, and the error of the child that ran it ("" for none).
func (r *PolicyResult) MergeIdle(idle PolicyResult, childErr string) {
	r.ReopenSeconds = idle.ReopenSeconds
	r.IdleSeconds, r.IdleTicks, r.IdleDeviceBytes = idle.IdleSeconds, idle.IdleTicks, idle.IdleDeviceBytes
	r.Write.Drained, r.Write.DrainSeconds = idle.Write.Drained, idle.Write.DrainSeconds
	r.Write.DrainMallocs, r.Write.DeviceDrainBytes = idle.Write.DrainMallocs, idle.Write.DeviceDrainBytes
	r.Write.DrainCapped = idle.Write.DrainCapped
	if idle.Write.Note != "" {
		r.Write.Note = strings.TrimPrefix(r.Write.Note+"; "+idle.Write.Note, "; ")
	}
	switch {
	case idle.Err != "":
		r.Err = "after reopen: " + idle.Err
	case childErr != "":
		r.Err = "after reopen: " + childErr
	case !r.Write.DrainCapped && r.Write.Drained != r.Write.Written:
		r.Err = fmt.Sprintf("wrote %d samples, %d came back after close and reopen", r.Write.Written, r.Write.Drained)
	}
}
