package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// storeFilePatterns match the files the disk tier writes in its directory
// (docs/format.md): segments and the checkpoint slots. Open writes a
// checkpoint at once, so every store directory holds at least one.
var storeFilePatterns = []string{"seg-*.mm2", "state-*.mm2"}

// checkStoreDir returns nil when dir is a store directory: it exists, is a
// directory, and holds a file the store writes (a damaged store still
// counts; fsck says what is wrong with it). Otherwise it says why not, so
// that status, dump and fsck refuse it instead of showing an empty store.
func checkStoreDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s %w: not a directory", dir, errNotStore)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		for _, p := range storeFilePatterns {
			if ok, _ := filepath.Match(p, e.Name()); ok && e.Type().IsRegular() {
				return nil
			}
		}
	}
	return fmt.Errorf("%s %w: it holds no segment (seg-*.mm2) or checkpoint (state-*.mm2) file", dir, errNotStore)
}

// errNotStore: the directory holds no file the store writes.
var errNotStore = errors.New("is not an mm2 store")

// storeErr words an error of checkStoreDir or of opening the store in dir.
func storeErr(dir string, err error) error {
	switch {
	case errors.Is(err, errNotStore):
		return err
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no store in %s: the directory does not exist", dir)
	}
	return fmt.Errorf("cannot read the store in %s: %w", dir, err)
}
