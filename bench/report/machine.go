package report

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// Machine describes where the run happened.
type Machine struct {
	CPU        string
	Cores      int
	Memory     string
	GoVersion  string
	Kernel     string
	OSArch     string
	Filesystem string
	LoadStart  string // /proc/loadavg's 1, 5 and 15 minute figures when the run began
	LoadEnd    string // and when it ended
}

// LoadAverage is the 1, 5 and 15 minute load average, or "unknown".
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// DetectMachine reads the CPU model from /proc/cpuinfo, memory from /proc/meminfo, the kernel
// release from /proc/sys/kernel and the filesystem type of dir from statfs.
func DetectMachine(dir string) Machine {
	m := Machine{
		CPU:        "unknown",
		Cores:      runtime.NumCPU(),
		Memory:     "unknown",
		GoVersion:  runtime.Version(),
		Kernel:     "unknown",
		OSArch:     runtime.GOOS + "/" + runtime.GOARCH,
		Filesystem: "unknown",
		LoadStart:  LoadAverage(),
	}
	if v := procField("/proc/cpuinfo", "model name"); v != "" {
		m.CPU = v
	}
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		m.Memory = v
		if kb, err := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64); err == nil {
			m.Memory = fmt.Sprintf("%.1f GB", kb/(1<<20))
		}
	}
	if typ, err := os.ReadFile("/proc/sys/kernel/ostype"); err == nil {
		if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
			m.Kernel = strings.TrimSpace(string(typ)) + " " + strings.TrimSpace(string(rel))
		}
	}
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) == nil {
		m.Filesystem = fsName(int64(st.Type))
	}
	return m
}

func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// fsName names the common Linux filesystem magic numbers.
func fsName(t int64) string {
	switch t {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs"
	case 0x794C7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	case 0xF2F52010:
		return "f2fs"
	}
	return "unknown"
}
