package inputs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mm2go/mm2"
)

// HostConfig is an [[inputs.host]] table: the gateway's own figures.
type HostConfig struct {
	Name       string `toml:"name"`
	Source     string `toml:"source"`      // default gateway
	Interval   string `toml:"interval"`    // default 10s; the streams are TSD with this period
	SensorBase int64  `toml:"sensor_base"` // sensor of cpu; the others follow (see HostMetrics)
	DiskPath   string `toml:"disk_path"`   // file system of disk_used; default /
	Proc       string `toml:"proc"`        // default /proc (tests point it elsewhere)
	Sys        string `toml:"sys"`         // default /sys
}

// HostMetrics are the figures in sensor order from sensor_base, all float32.
var HostMetrics = []string{
	"cpu_percent",         // busy share of all CPUs since the last sample
	"memory_used_percent", // (MemTotal - MemAvailable) / MemTotal
	"memory_available_mb", // MemAvailable in MiB
	"disk_used_percent",   // of disk_path's file system, as df counts it
	"temperature_c",       // hottest /sys/class/thermal zone; absent zones write nothing
	"load1",               // 1-minute load average
}

// Host is the host metrics input.
type Host struct {
	name, disk, proc, sys string
	every                 time.Duration
	streams               []Stream
	prevBusy, prevTotal   uint64
}

// NewHost validates c and returns the input.
func NewHost(c HostConfig) (*Host, error) {
	in := &Host{name: c.Name, disk: c.DiskPath, proc: c.Proc, sys: c.Sys}
	if in.name == "" {
		in.name = "host"
	}
	if in.disk == "" {
		in.disk = "/"
	}
	if in.proc == "" {
		in.proc = "/proc"
	}
	if in.sys == "" {
		in.sys = "/sys"
	}
	src, err := ParseSource(c.Source, mm2.Gateway)
	if err != nil {
		return nil, bad("source", "%v", err)
	}
	var fe *FieldError
	if in.every, fe = ParseDuration("interval", c.Interval, 10*time.Second); fe != nil {
		return nil, fe
	}
	if in.every < time.Second && in.every%time.Millisecond != 0 || in.every < 100*time.Millisecond {
		return nil, bad("interval", "%v: want whole milliseconds, at least 100ms", in.every)
	}
	if c.SensorBase < 0 || c.SensorBase+int64(len(HostMetrics)) > 1<<32 {
		return nil, bad("sensor_base", "%d: want 0 .. %d", c.SensorBase, int64(1<<32)-int64(len(HostMetrics)))
	}
	for i, m := range HostMetrics {
		in.streams = append(in.streams, Stream{ID: mm2.StreamID{Source: src, Sensor: uint32(c.SensorBase) + uint32(i)},
			Kind: mm2.TSD, Period: in.every, What: "host " + m})
	}
	return in, nil
}

// Name implements Input.
func (in *Host) Name() string { return in.name }

// Streams implements Input.
func (in *Host) Streams() []Stream { return in.streams }

// Run samples every interval until ctx is done.
func (in *Host) Run(ctx context.Context, sink Sink, log *slog.Logger) error {
	// The first CPU figure needs a previous sample. A failure here shows
	// again, counted as malformed, at the first Sample.
	_, _ = in.cpu()
	t := time.NewTicker(in.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			in.Sample(sink)
		}
	}
}

// Sample reads every figure once and records those the host has.
func (in *Host) Sample(sink Sink) {
	now := time.Now().UnixMilli()
	put := func(i int, v float64, err error) {
		if err != nil {
			sink.Malformed(fmt.Errorf("host: %s: %w", HostMetrics[i], err))
			return
		}
		bits, err := Float.Encode(v)
		if err != nil {
			sink.Malformed(fmt.Errorf("host: %s: %w", HostMetrics[i], err))
			return
		}
		sink.Record(in.streams[i].ID, bits, now)
	}
	cpu, err := in.cpu()
	put(0, cpu, err)
	used, avail, err := in.memory()
	put(1, used, err)
	put(2, avail, err)
	disk, err := diskUsed(in.disk)
	put(3, disk, err)
	if temp, ok := in.temperature(); ok {
		put(4, temp, nil)
	}
	load, err := in.load()
	put(5, load, err)
}

func (in *Host) cpu() (float64, error) {
	b, err := os.ReadFile(filepath.Join(in.proc, "stat"))
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, fmt.Errorf("unexpected first line of stat %q", line)
	}
	var total, idle uint64
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: %v", err)
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	busy := total - idle
	dBusy, dTotal := busy-in.prevBusy, total-in.prevTotal
	in.prevBusy, in.prevTotal = busy, total
	if dTotal == 0 || busy < dBusy {
		return 0, nil
	}
	return 100 * float64(dBusy) / float64(dTotal), nil
}

func (in *Host) memory() (usedPct, availMB float64, err error) {
	f, err := os.Open(filepath.Join(in.proc, "meminfo"))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	var total, avail float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
		if err != nil {
			continue
		}
		switch k {
		case "MemTotal":
			total = n
		case "MemAvailable":
			avail = n
		}
	}
	if total <= 0 || avail < 0 || avail > total {
		return 0, 0, fmt.Errorf("meminfo has no usable MemTotal and MemAvailable")
	}
	return 100 * (total - avail) / total, avail / 1024, nil
}

func diskUsed(path string) (float64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, err
	}
	used := float64(st.Blocks - st.Bfree)
	all := used + float64(st.Bavail)
	if all == 0 {
		return 0, nil
	}
	return 100 * used / all, nil
}

// temperature is the hottest thermal zone in °C.
func (in *Host) temperature() (float64, bool) {
	zones, _ := filepath.Glob(filepath.Join(in.sys, "class/thermal/thermal_zone*/temp"))
	best, ok := 0.0, false
	for _, z := range zones {
		b, err := os.ReadFile(z)
		if err != nil {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		if err != nil {
			continue
		}
		if c := v / 1000; !ok || c > best {
			best, ok = c, true
		}
	}
	return best, ok
}

func (in *Host) load() (float64, error) {
	b, err := os.ReadFile(filepath.Join(in.proc, "loadavg"))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("empty loadavg")
	}
	return strconv.ParseFloat(f[0], 64)
}
