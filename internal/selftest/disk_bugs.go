package selftest

import (
	"context"
	"time"

	"github.com/mm2go/mm2"
)

// Production bugs 3 and 13 of SPEC §12 concern the disk tier: shown
// impossible on the disk backend.
func init() {
	disk := []Backend{Disk}
	register(Test{Num: 103, Name: "bug 3: pending records read from disk never erased", Backends: disk, Run: bugDiskPendingStuck})
	register(Test{Num: 113, Name: "bug 13: data lost on service stop", Backends: disk, Run: bugLostOnStop})
}

// 103: records read from the disk tier, pending, are erased by ACK, the
// counts and the disk figures drop to zero, the segments that held only
// them are removed, and after a restart they are not delivered again;
// this both for records that spilled to disk while running and for
// records recovered from the store after a restart.
func bugDiskPendingStuck(e *Env) {
	opts := diskOptions(e)
	m := e.OpenWith(opts)
	m.SetUTCAvailable(true)
	t := e.Configure(m, sid(mm2.Gateway, 3), mm2.TSD, ms(10))
	other := e.Configure(m, sid(mm2.Hosted, 3), mm2.EVT, 0)
	keep := written(e, other, 0, 5, 300, 1)
	var want []mm2.Sample
	for i := 0; m.Stats().DiskFiles < 2; i++ {
		want = append(want, written(e, t, 10, 1, uint32(i), uint64(i+1))...)
		if i > 20_000 {
			e.Failf("no second segment after %d writes", i)
		}
	}
	onDisk := int(m.Stats().DiskRecords)
	inRAM := len(want) - onDisk
	e.True(onDisk > 0 && inRAM > 0, "records in RAM %d, on disk %d: want both", inRAM, onDisk)

	// The RAM part first, acknowledged; then the disk part alone.
	got := readN(e, t, inRAM)
	wantSeqs(e, got, 1, "the RAM part")
	wantValues(e, got, 0, "the RAM part")
	_, err := t.Ack()
	e.NoErr(err, "Ack of the RAM part")
	Eq(e, int(m.Stats().DiskRecords), onDisk, "disk records after acknowledging the RAM part")
	got = readAll(e, t)
	e.True(len(got) == onDisk && got[0] == want[inRAM] && got[len(got)-1] == want[len(want)-1],
		"read %d records from disk, want %d from seq %d", len(got), onDisk, inRAM+1)
	e.WantCounts(t, 0, onDisk, "records read from disk, pending")
	n, err := t.Ack()
	e.NoErr(err, "Ack of records read from disk")
	Eq(e, n, onDisk, "records erased by the ACK")
	e.WantCounts(t, 0, 0, "after the ACK of records read from disk")
	st := m.Stats()
	Eq(e, [2]uint64{st.Pending, st.DiskRecords}, [2]uint64{0, 0}, "pending and disk records after the ACK")
	e.True(st.DiskFiles <= 1, "%d segment files left holding only acknowledged records", st.DiskFiles)
	Eq(e, t.Stats().SectorsDisk, 0, "disk sectors of %v after the ACK", t.ID())
	e.Check(m, "after the ACK of records read from disk")
	e.WantCounts(other, len(keep), 0, "the other stream")
	filesRunning := st.DiskFiles

	// Records recovered from the store: written, stopped, read after the
	// restart, acknowledged, and gone after the next restart.
	more := written(e, t, 10, 400, 10_000, uint64(len(want)+1))
	e.Close(m)
	m2 := reopen(e, opts)
	t2 := e.Configure(m2, t.ID(), mm2.TSD, ms(10))
	e.WantCounts(t2, len(more), 0, "after the restart")
	e.True(m2.Stats().DiskRecords > 0, "no record on disk after the restart: %+v", m2.Stats())
	readBack(e, t2, more, "after the restart")
	n, err = t2.Ack()
	e.NoErr(err, "Ack after the restart")
	Eq(e, n, len(more), "records erased by the ACK after the restart")
	e.Check(m2, "after the ACK after the restart")
	Eq(e, m2.Stats().DiskRecords, uint64(0), "disk records after the ACK after the restart")
	e.Close(m2)
	m3 := reopen(e, opts)
	t3 := e.Configure(m3, t.ID(), mm2.TSD, ms(10))
	e.WantCounts(t3, 0, 0, "acknowledged records after the next restart")
	o3, err := m3.Stream(other.ID())
	e.NoErr(err, "the other stream after the next restart")
	readBack(e, o3, keep, "the other stream after two restarts")
	e.Fig("read_from_disk", onDisk)
	e.Fig("recovered_and_acked", len(more))
	e.Fig("segments_after_ack", filesRunning)
}

// 13: a service stop loses nothing: records only in RAM (nothing spilled)
// and records on disk come back after Close and after a PowerDown with no
// Close (the power simply goes), pending ones as unread, with their
// sequence numbers; a PowerAbort instead resumes with nothing lost or
// duplicated. (The CLI turns SIGTERM and SIGINT into PowerDown.)
func bugLostOnStop(e *Env) {
	// Stop by Close, records in RAM only.
	opts := e.Options()
	m := e.OpenWith(opts)
	m.SetUTCAvailable(true)
	t := e.Configure(m, sid(mm2.CAN, 13), mm2.TSD, ms(100))
	v := e.Configure(m, sid(mm2.BLE, 13), mm2.EVT, 0)
	wantT := written(e, t, 100, 40, 1, 1)
	wantV := written(e, v, 0, 25, 500, 1)
	Eq(e, m.Stats().DiskRecords, uint64(0), "records on disk before the stop (RAM only)")
	readN(e, v, 10) // pending at the stop
	e.Close(m)
	m2 := reopen(e, opts)
	Eq(e, m2.Stats().RecordsRecovered, uint64(len(wantT)+len(wantV)), "records recovered after Close")
	t2, err := m2.Stream(t.ID())
	e.NoErr(err, "stream %v after Close", t.ID())
	v2, err := m2.Stream(v.ID())
	e.NoErr(err, "stream %v after Close", v.ID())
	e.WantCounts(v2, len(wantV), 0, "pending records after Close: unread again")
	readBack(e, t2, wantT, "after Close")
	readBack(e, v2, wantV, "after Close")
	e.Close(m2)

	// PowerDown then PowerAbort: writes refused in between, then resumed
	// with the same records and the next numbers.
	opts = diskOptions(e)
	// Opened outside the harness's bookkeeping: the power goes while it is
	// powered down, so it is never closed.
	m, err = mm2.Open(opts)
	e.NoErr(err, "Open")
	m.SetUTCAvailable(true)
	t = e.Configure(m, sid(mm2.Gateway, 13), mm2.TSD, ms(10))
	var want []mm2.Sample
	for i := 0; m.Stats().DiskRecords == 0 || i < 400; i++ {
		want = append(want, written(e, t, 10, 1, uint32(i), uint64(i+1))...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e.NoErr(m.PowerDown(ctx), "PowerDown")
	e.Is(t.WriteTSD(1), mm2.ErrPoweringDown, "a write during the power-down")
	e.NoErr(m.PowerAbort(), "PowerAbort")
	want = append(want, written(e, t, 10, 3, 7000, uint64(len(want)+1))...)
	e.WantCounts(t, len(want), 0, "after PowerAbort")
	e.Check(m, "after PowerAbort")

	// PowerDown and the power goes: no Close.
	e.NoErr(m.PowerDown(ctx), "PowerDown")
	e.Check(m, "after the second power-down")
	m = reopen(e, opts)
	t = e.Configure(m, t.ID(), mm2.TSD, ms(10))
	e.WantCounts(t, len(want), 0, "after a power-down with no Close")
	readBack(e, t, want, "after a power-down with no Close")
	_, err = t.Ack()
	e.NoErr(err, "Ack")
	e.Check(m, "after the ACK")
	e.Fig("records_ram_only", len(wantT)+len(wantV))
	e.Fig("records_with_disk", len(want))
}
