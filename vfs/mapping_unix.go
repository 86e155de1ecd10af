//go:build linux || darwin || freebsd || netbsd || openbsd

package vfs

import (
	"os"
	"syscall"
	"unsafe"
)

type osMapping struct {
	b []byte
}

// Map implements Mapper with mmap(MAP_SHARED).
func (osFS) Map(name string, size int) (Mapping, error) {
	if size <= 0 {
		return nil, &pathError{op: "map", name: name, err: syscall.EINVAL}
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // the mapping outlives the descriptor
	if err := preallocate(f, int64(size)); err != nil {
		return nil, &pathError{op: "map", name: name, err: err}
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, &pathError{op: "map", name: name, err: err}
	}
	return &osMapping{b: b}, nil
}

func (m *osMapping) Bytes() []byte { return m.b }

func (m *osMapping) Sync(off, n int) error {
	if n <= 0 {
		return nil
	}
	page := os.Getpagesize()
	start := off &^ (page - 1)
	end := min(off+n, len(m.b))
	if start >= end {
		return nil
	}
	_, _, e := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(&m.b[start])), uintptr(end-start), syscall.MS_SYNC)
	if e != 0 {
		return &pathError{op: "msync", name: "mapping", err: e}
	}
	return nil
}

func (m *osMapping) Close() error {
	if m.b == nil {
		return nil
	}
	err := syscall.Munmap(m.b)
	m.b = nil
	return err
}
