package sim

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/mm2go/mm2"
	"github.com/mm2go/mm2/vfs"
)

// StressConfig is one seeded randomized run.
type StressConfig struct {
	Ops      int
	Seed     uint64
	Profiles []mm2.Profile // ops are split evenly across them
	Overflow mm2.Overflow
	Streams  int // per profile, capped by the profile's MaxStreams; 0 = 64
	// Disk runs the disk backend (on an in-memory, crash-simulating
	// filesystem) with this sync policy; profiles without a disk tier are
	// refused.
	Disk       bool
	Sync       mm2.SyncPolicy
	PoolBytes  int // overrides the profile's pool (0 = profile default)
	CrashEvery int // crash (cycling through the crash modes) or reopen every this many ops; 0 = never
	// Progress, if set, is called every few thousand operations.
	Progress func(done, total int)
	// Stop, if set, ends the run early when it returns true (checked every
	// operation; e.g. a signal arrived).
	Stop func() bool
	// ExportDir, with Disk, receives the store at the end of the run: the
	// manager is closed cleanly and the in-memory store's files are copied
	// there (for status, fsck and dump).
	ExportDir string
}

// StressResult is what a run reached. Violations counts the invariant
// violations and model divergences found (the run stops at the first).
type StressResult struct {
	Ops         int
	Elapsed     time.Duration
	Violations  int
	FirstError  error
	Writes      int64
	Compared    int64
	Drops       int64 // records dropped by the RAM-full policy
	FullErrors  int64
	Crashes     int64
	Reopens     int64 // recoveries, after crashes and clean closes
	DiskErrors  int64
	PerProfile  map[string]int // ops per profile
	Interrupted bool           // Stop ended the run early
}

// OpsPerSec is the rate of the run.
func (r StressResult) OpsPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Elapsed.Seconds()
}

// Stress runs cfg.Ops seeded random operations with Check() and a model
// comparison after every one. The same seed gives the same run.
func Stress(cfg StressConfig) StressResult {
	if cfg.Streams == 0 {
		cfg.Streams = 64
	}
	res := StressResult{PerProfile: map[string]int{}}
	start := time.Now()
	for i, prof := range cfg.Profiles {
		ops := cfg.Ops / len(cfg.Profiles)
		if i == 0 {
			ops += cfg.Ops % len(cfg.Profiles)
		}
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)))
		opts := mm2.Options{Profile: prof, Overflow: cfg.Overflow}
		if cfg.PoolBytes > 0 {
			opts.Profile.PoolBytes = cfg.PoolBytes
		}
		if cfg.Disk {
			opts.Dir, opts.Sync, opts.SegmentBytes = "store", cfg.Sync, 16<<10
		}
		md, err := NewModel(opts)
		if err == nil {
			err = setup(md, rng, cfg.Streams)
		}
		done := 0
		for ; err == nil && done < ops && (cfg.Stop == nil || !cfg.Stop()); done++ {
			if cfg.Disk && cfg.CrashEvery > 0 && done > 0 && done%cfg.CrashEvery == 0 {
				err = restart(md, rng, done/cfg.CrashEvery)
			} else {
				err = step(md, rng)
			}
			if err == nil {
				err = md.Check()
			}
			if cfg.Progress != nil && (res.Ops+done)%4096 == 0 {
				cfg.Progress(res.Ops+done, cfg.Ops)
			}
		}
		res.Ops += done
		res.PerProfile[prof.Name] += done
		if md != nil {
			res.Writes += md.Writes
			res.Compared += md.Compared
			res.Drops += md.Dropped
			res.FullErrors += md.FullErrors
			res.Crashes += md.Crashes
			res.Reopens += md.Reopens
			res.DiskErrors += md.DiskErrors
		}
		if err != nil {
			res.Violations++
			res.FirstError = fmt.Errorf("profile %s, seed %d, op %d: %w", prof.Name, cfg.Seed, done, err)
			break
		}
		if cfg.Disk && cfg.ExportDir != "" && md != nil {
			if err := export(md, cfg.ExportDir); err != nil {
				res.FirstError = fmt.Errorf("export to %s: %w", cfg.ExportDir, err)
			}
		}
	}
	res.Interrupted = cfg.Stop != nil && cfg.Stop()
	res.Elapsed = time.Since(start)
	if cfg.Progress != nil {
		cfg.Progress(res.Ops, cfg.Ops)
	}
	return res
}

// restart is the n-th restart of a disk run: a crash in each crash mode in
// turn, every fifth a clean close and reopen.
func restart(md *Model, rng *rand.Rand, n int) error {
	if n%5 == 0 {
		return md.Reopen()
	}
	modes := vfs.CrashModes()
	return md.Crash(modes[n%len(modes)], rng)
}

// setup configures streams across all sources, half TSD at 10 ms to 1 s
// periods, half EVT, and GPS on two sources.
func setup(md *Model, rng *rand.Rand, streams int) error {
	md.SetUTC(true)
	n := min(streams, md.M.Profile().MaxStreams-8)
	for i := 0; i < n; i++ {
		id := mm2.StreamID{Source: mm2.Source(i % mm2.MaxSources), Sensor: uint32(i / mm2.MaxSources)}
		var err error
		if i%2 == 0 {
			err = md.Configure(id, mm2.TSD, time.Duration([]int{10, 100, 1000}[rng.IntN(3)])*time.Millisecond)
		} else {
			err = md.Configure(id, mm2.EVT, 0)
		}
		if err != nil {
			return err
		}
	}
	gps := mm2.GPSConfig{Latitude: 900, Longitude: 901, Altitude: 902, Speed: 903}
	for _, src := range []mm2.Source{mm2.Gateway, mm2.CAN} {
		if err := md.SetGPS(src, gps); err != nil {
			return err
		}
	}
	return nil
}

// step runs one random operation. Writers outpace the reader so the pool
// fills and the overflow policy is exercised.
func step(md *Model, rng *rand.Rand) error {
	if md.Powering && rng.IntN(20) == 0 {
		return md.TogglePower() // power comes back after a short while
	}
	s := md.Streams[rng.IntN(len(md.Streams))]
	kind := s.Kind
	if rng.IntN(100) == 0 {
		kind = mm2.TSD + mm2.EVT - kind // now and then the wrong kind
	}
	switch r := rng.IntN(1000); {
	case r < 500 && kind == mm2.TSD:
		md.Now += max(1, s.Period+rng.Int64N(s.Period/2+1)-s.Period/4)
		return md.WriteTSD(s, rng.Uint32())
	case r < 470:
		md.Now += rng.Int64N(50)
		ts := md.Now
		if rng.IntN(50) == 0 {
			ts = int64(rng.Uint64()) // any timestamp, 0 and negatives included
		}
		return md.WriteEVT(s, rng.Uint32(), ts)
	case r < 500:
		return md.WriteGPS(s, rng.Uint32(), mm2.GPSFix{Latitude: rng.Float32(), Longitude: rng.Float32(), Altitude: 300, Speed: 20})
	case r < 600:
		return md.Read(s)
	case r < 700:
		return md.ReadBulk(s, make([]mm2.Sample, 1+rng.IntN(64)))
	case r < 740:
		return md.Peek(s, rng.IntN(40))
	case r < 760:
		return md.PeekBulk(s, make([]mm2.Sample, 1+rng.IntN(32)))
	case r < 910:
		return md.Ack(s)
	case r < 970:
		return md.Nack(s)
	case r < 990:
		md.Now += rng.Int64N(10_000) // a gap
		return nil
	case r < 992 && md.Opts.Dir != "":
		// Now and then the disk fills up or fails for a while.
		switch rng.IntN(4) {
		case 0:
			md.FillDisk(true, rng.IntN(2) == 0)
		case 1:
			md.IOErrors(true)
		default:
			md.FillDisk(false, false)
			md.IOErrors(false)
		}
		return nil
	case r < 998:
		md.SetUTC(rng.IntN(8) > 0)
		return nil
	default:
		return md.TogglePower()
	}
}

// export closes the model's manager cleanly and copies its store's files
// from the in-memory filesystem into dir.
func export(md *Model, dir string) error {
	md.FillDisk(false, false)
	md.IOErrors(false)
	if err := md.M.Close(); err != nil {
		return err
	}
	return copyTree(md.Mem, md.Opts.Dir, dir)
}

func copyTree(mem *vfs.MemFS, from, to string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	ents, err := mem.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range ents {
		src, dst := path.Join(from, e.Name()), filepath.Join(to, e.Name())
		if e.IsDir() {
			if err := copyTree(mem, src, dst); err != nil {
				return err
			}
			continue
		}
		b, err := vfs.ReadFile(mem, src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
