package workload

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// DirBytes is the space the files under dir occupy: allocated blocks, so preallocated and
// sparse files count as the disk sees them.
func DirBytes(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while we walked (compaction, segment deletion)
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		} else {
			total += info.Size()
		}
		return nil
	})
	return total, err
}

// Mallocs is the number of heap allocations the process has made so far.
func Mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// PeakRSS reads the process's peak resident set (VmHWM) in bytes; 0 when unknown.
func PeakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				return 0
			}
			kb, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}

// DeviceIO is the process's storage I/O from /proc/self/io: write_bytes counts the bytes the
// process caused to be sent to the block device (charged when a page-cache page is first
// dirtied, so a page rewritten after it was flushed counts again); cancelled_write_bytes are
// dirty pages later truncated before they were written.
type DeviceIO struct {
	WriteBytes, CancelledWriteBytes, ReadBytes int64
}

// ReadDeviceIO reads /proc/self/io. The error says when the kernel does not provide it.
func ReadDeviceIO() (DeviceIO, error) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return DeviceIO{}, fmt.Errorf("device I/O counters: %w", err)
	}
	return parseDeviceIO(string(b))
}

// parseDeviceIO reads the text of /proc/<pid>/io.
func parseDeviceIO(text string) (DeviceIO, error) {
	var io DeviceIO
	found := 0
	for _, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return DeviceIO{}, fmt.Errorf("device I/O counters: %s: %w", k, err)
		}
		switch k {
		case "write_bytes":
			io.WriteBytes, found = n, found+1
		case "cancelled_write_bytes":
			io.CancelledWriteBytes, found = n, found+1
		case "read_bytes":
			io.ReadBytes, found = n, found+1
		}
	}
	if found != 3 {
		return DeviceIO{}, fmt.Errorf("device I/O counters: /proc/self/io lacks write_bytes, cancelled_write_bytes or read_bytes")
	}
	return io, nil
}

// DeviceWriteMeter measures the bytes written to the device since StartDeviceWrites. When
// the counters cannot be read it reports -1, so a table shows the figure as unknown instead
// of 0 (the goal of an idle store).
type DeviceWriteMeter struct {
	start DeviceIO
	ok    bool
}

// StartDeviceWrites starts a meter.
func StartDeviceWrites() DeviceWriteMeter {
	io, err := ReadDeviceIO()
	return DeviceWriteMeter{start: io, ok: err == nil}
}

// Written is the write_bytes since Start, or -1 when unknown.
func (m DeviceWriteMeter) Written() int64 {
	if !m.ok {
		return -1
	}
	io, err := ReadDeviceIO()
	if err != nil {
		return -1
	}
	return io.WriteBytes - m.start.WriteBytes
}
