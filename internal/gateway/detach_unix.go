//go:build unix

package gateway

import (
	"bytes"
	"unsafe"

	"golang.org/x/sys/unix"
)

// detach replaces the shared file mapping b with private memory holding
// the same bytes, at the same address: the killed process's later stores
// into it no longer reach the file.
func detach(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	saved := bytes.Clone(b)
	if _, err := unix.MmapPtr(-1, 0, unsafe.Pointer(&b[0]), uintptr(len(b)),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_FIXED|unix.MAP_PRIVATE|unix.MAP_ANON); err != nil {
		return err
	}
	copy(b, saved)
	return nil
}
