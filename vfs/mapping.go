package vfs

import (
	"errors"
	"io"
	"strings"
)

// Mapping is a file mapped into memory, shared with the operating system:
// a store into Bytes is in the OS's page cache the moment it is made, so it
// survives the process (kill -9, a panic, an OOM kill) without a system
// call, but not a power cut until Sync covers it.
type Mapping interface {
	// Bytes is the mapped file, as long as the size it was mapped with.
	Bytes() []byte
	// Sync makes bytes [off, off+n) durable (msync).
	Sync(off, n int) error
	// Close unmaps the file; Bytes must not be used afterwards.
	Close() error
}

// Mapper is implemented by filesystems that can map a file into memory.
type Mapper interface {
	// Map opens name read-write, creating it if missing, makes it size
	// bytes long with every block allocated (so a store into the mapping
	// never meets a full disk), and maps it.
	Map(name string, size int) (Mapping, error)
}

// Booter is implemented by filesystems that know the current boot: two
// calls return the same ID exactly when no power cut or reboot happened in
// between, which tells a process crash (the page cache kept every store)
// from a power cut (it may not have).
type Booter interface {
	BootID() string
}

// ErrNoMapping is returned by Map for a filesystem that cannot map files.
var ErrNoMapping = errors.New("vfs: filesystem cannot map files")

// Map maps name through fsys when it is a Mapper.
func Map(fsys FS, name string, size int) (Mapping, error) {
	if m, ok := fsys.(Mapper); ok {
		return m.Map(name, size)
	}
	return nil, &pathError{op: "map", name: name, err: ErrNoMapping}
}

// BootID is fsys's boot ID, or "" when it cannot tell (then a caller must
// assume a power cut may have happened).
func BootID(fsys FS) string {
	if b, ok := fsys.(Booter); ok {
		return b.BootID()
	}
	return ""
}

type pathError struct {
	op, name string
	err      error
}

func (e *pathError) Error() string { return e.op + " " + e.name + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// BootID reads the kernel's boot ID (Linux); "" elsewhere.
func (osFS) BootID() string {
	f, err := osFS{}.Open("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
