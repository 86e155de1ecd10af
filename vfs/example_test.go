package vfs_test

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/mm2go/mm2/vfs"
)

// Example_crashClone shows what a power cut leaves of a file whose data was
// synced but whose name was never made durable, next to one done right.
func Example_crashClone() {
	m := vfs.NewMem()
	for _, name := range []string{"careful", "careless"} {
		f, _ := m.Create(name)
		_, _ = f.Write([]byte("data"))
		_ = f.Sync()
		_ = f.Close()
		if name == "careful" {
			_ = m.SyncDir("/")
		}
	}
	after := m.CrashClone(vfs.CrashSynced, nil)
	for _, name := range []string{"careful", "careless"} {
		b, err := vfs.ReadFile(after, name)
		fmt.Printf("%s: %q, missing: %v\n", name, b, errors.Is(err, fs.ErrNotExist))
	}
	// Output:
	// careful: "data", missing: false
	// careless: "", missing: true
}
