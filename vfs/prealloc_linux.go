//go:build linux

package vfs

import (
	"os"
	"syscall"
)

// preallocate makes f size bytes long with every block allocated.
func preallocate(f *os.File, size int64) error {
	err := syscall.Fallocate(int(f.Fd()), 0, 0, size)
	if err == syscall.EOPNOTSUPP || err == syscall.ENOSYS {
		return preallocateByWriting(f, size)
	}
	return err
}
