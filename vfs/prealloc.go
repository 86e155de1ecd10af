package vfs

import "os"

// preallocateByWriting extends f to size by writing zeros past its end, so
// the blocks exist before the file is mapped.
func preallocateByWriting(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() >= size {
		return nil
	}
	zeros := make([]byte, 64<<10)
	for off := fi.Size(); off < size; {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}
