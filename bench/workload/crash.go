package workload

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CrashWriter is the body of the child process of the kill -9 test. It writes round-robin and
// reads and acknowledges every other round, so that at any instant some records are acked,
// some read and pending, and most unread. It reports on out, one line per event, each line in
// one write so that a kill never leaves half a line:
//
//	w <stream> <seq>   Append returned: the stream's records up to seq are stored
//	a <stream> <seq>   about to Ack: records up to seq may be gone from now on
//	A <stream> <seq>   Ack returned: records up to seq are erased
//
// It stops by itself after limit, in case nobody kills it.
func CrashWriter(s Store, cfg Config, out io.Writer, limit time.Duration) error {
	if _, err := io.WriteString(out, "ready\n"); err != nil {
		return err
	}
	gen := newGenerator(cfg)
	dst := make([]Record, max(cfg.ReadBatch, cfg.Batch))
	deadline := time.Now().Add(limit)
	line := make([]byte, 0, 64)
	emit := func(kind byte, st int, seq uint64) error {
		line = append(line[:0], kind, ' ')
		line = strconv.AppendInt(line, int64(st), 10)
		line = append(line, ' ')
		line = strconv.AppendUint(line, seq, 10)
		line = append(line, '\n')
		_, err := out.Write(line)
		return err
	}
	for r := 0; time.Now().Before(deadline); r++ {
		for st := range cfg.Streams {
			b := gen.batch(st)
			if err := s.Append(uint16(st), b); err != nil {
				return fmt.Errorf("append stream %d: %w", st, err)
			}
			if err := emit('w', st, b[len(b)-1].Seq); err != nil {
				return err
			}
		}
		if r%2 == 0 {
			continue
		}
		for st := range cfg.Streams {
			n, err := s.Read(uint16(st), dst)
			if err != nil {
				return fmt.Errorf("read stream %d: %w", st, err)
			}
			if n == 0 {
				continue
			}
			last := dst[n-1].Seq
			if err := emit('a', st, last); err != nil {
				return err
			}
			if _, err := s.Ack(uint16(st)); err != nil {
				return fmt.Errorf("ack stream %d: %w", st, err)
			}
			if err := emit('A', st, last); err != nil {
				return err
			}
		}
	}
	return nil
}

// CrashLog is what the parent learned from a CrashWriter's lines, per stream.
type CrashLog struct {
	Written   []uint64 // highest seq reported stored
	AckIntent []uint64 // highest seq an Ack may have erased
	Acked     []uint64 // highest seq an Ack has erased
}

// NewCrashLog makes an empty log for streams streams.
func NewCrashLog(streams int) *CrashLog {
	return &CrashLog{
		Written:   make([]uint64, streams),
		AckIntent: make([]uint64, streams),
		Acked:     make([]uint64, streams),
	}
}

// Add records one line of CrashWriter output; other lines are ignored.
func (l *CrashLog) Add(line string) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return
	}
	st, err1 := strconv.Atoi(f[1])
	seq, err2 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil || st < 0 || st >= len(l.Written) {
		return
	}
	switch f[0] {
	case "w":
		l.Written[st] = max(l.Written[st], seq)
	case "a":
		l.AckIntent[st] = max(l.AckIntent[st], seq)
	case "A":
		l.Acked[st] = max(l.Acked[st], seq)
	}
}

// ReportedWritten is how many records the child reported stored in all.
func (l *CrashLog) ReportedWritten() int64 {
	var n int64
	for _, w := range l.Written {
		n += int64(w)
	}
	return n
}

// CrashResult is the outcome of reopening a store after its writer was killed.
type CrashResult struct {
	ReopenSeconds float64 // Open of the killed store's directory
	Reported      int64   // records the child reported stored
	Recovered     int64   // records delivered after the reopen
	Lost          int64   // reported stored, never acked, not delivered
	Duplicated    int64   // acked before the kill yet delivered, or delivered twice
	Corrupt       int64   // delivered with a wrong value or time
}

// VerifyAfterCrash reopens the store in dir, drains it completely and compares what it
// delivers with what the killed child reported.
func VerifyAfterCrash(open Opener, dir string, d Durability, cfg Config, log *CrashLog) (CrashResult, error) {
	res := CrashResult{Reported: log.ReportedWritten()}
	start := time.Now()
	s, err := open(dir, d, cfg.Streams, PerStream)
	if err != nil {
		return res, fmt.Errorf("reopen: %w", err)
	}
	res.ReopenSeconds = time.Since(start).Seconds()
	if err := drainAfterCrash(s, cfg, log, &res); err != nil {
		s.Close()
		return res, err
	}
	return res, s.Close()
}

func drainAfterCrash(s Store, cfg Config, log *CrashLog, res *CrashResult) error {
	dst := make([]Record, max(cfg.ReadBatch, cfg.Batch))
	for st := range cfg.Streams {
		seen := make(map[uint64]bool)
		for {
			n, err := s.Read(uint16(st), dst)
			if err != nil {
				return fmt.Errorf("read stream %d after reopen: %w", st, err)
			}
			if n == 0 {
				break
			}
			for _, r := range dst[:n] {
				res.Recovered++
				switch {
				case int(r.Stream) != st || r.Value != SampleValue(r.Stream, r.Seq) ||
					r.UTC != cfg.BaseUTC+int64(r.Seq-1)*cfg.PeriodMs:
					res.Corrupt++
				case r.Seq <= log.Acked[st] || seen[r.Seq]:
					res.Duplicated++
				}
				seen[r.Seq] = true
			}
			if _, err := s.Ack(uint16(st)); err != nil {
				return fmt.Errorf("ack stream %d after reopen: %w", st, err)
			}
		}
		for seq := log.AckIntent[st] + 1; seq <= log.Written[st]; seq++ {
			if !seen[seq] {
				res.Lost++
			}
		}
	}
	return nil
}
