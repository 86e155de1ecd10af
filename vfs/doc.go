// Package vfs is the filesystem seam of the disk tier: every file and
// directory call of the tier goes through an FS, so tests can cut the power
// between any two calls, lose what was not synced, tear the last write, fill
// the disk or fail a sync. mm2.OpenFS and mm2.VerifyFS take an FS: OS() in
// production, NewMem, NewCrashFS and NewFaultFS in a user's own tests of
// what their program does when the machine crashes or the disk fills.
// Mapper and Booter are the optional parts the crash journal uses (memory
// mappings, and the boot ID that tells a process crash from a power cut).
//
// # Durability
//
// The promises are those of a POSIX filesystem used with care, and the
// in-memory implementation enforces exactly these and nothing more:
//
//   - Bytes written to a file are durable only once File.Sync of that file
//     has returned nil. Until then a crash may lose them, keep some of them,
//     or keep a torn part of the last one.
//   - Creating, renaming or removing a directory entry (Create or OpenAppend
//     of a new file, Rename, Remove, MkdirAll) is durable only once SyncDir of
//     the directory holding the entry has returned nil. A rename between two
//     directories needs SyncDir of both.
//   - File.Sync does not make the file's name durable, and SyncDir does not
//     make the file's data durable: a new file needs both.
//   - Rename is atomic: after a crash the target holds either its old file or
//     the renamed one, never a mix, and the source name and the target name
//     never both point at the renamed file.
//
// The safe way to publish a file is therefore: write a temporary file, Sync
// it, Close it, Rename it over the target, then SyncDir the directory.
//
// # Implementations
//
// OS is the real filesystem. MemFS keeps files in memory and remembers, per
// file, what was synced and every write since, and per directory, which
// entries were synced and every change since. CrashClone turns that into
// what a machine would find after a power cut, in one of four CrashModes.
// CrashFS counts the mutating calls made through it and crashes at the n-th,
// for crash-point enumeration. FaultFS wraps any FS and injects ENOSPC, EIO,
// failed syncs and short writes, switchable at run time.
//
// # Concurrency
//
// All implementations are safe for concurrent use. A single File handle is
// safe for concurrent use too, but concurrent Read calls on one handle share
// its position, as with *os.File.
package vfs
