package mm2

import (
	"testing"
	"unsafe"
)

// TestLinuxMetadataOverhead reports what the linux profile spends besides
// sector payload, as a share of the 64 KB pool (the original system spent
// more than 100 %). The chain table is one packed uint32 per sector: 4 bytes
// per 32-byte sector, 12.5 %.
func TestLinuxMetadataOverhead(t *testing.T) {
	m, err := Open(Options{Profile: ProfileLinux})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	pool := ProfileLinux.PoolBytes
	chain := m.pool.MetaBytes()
	pct := func(n int) float64 { return 100 * float64(n) / float64(pool) }
	t.Logf("linux chain table: %d bytes for %d sectors = %.3f %% of the %d-byte pool", chain, m.pool.Len(), pct(chain), pool)
	if chain > pool/8 {
		t.Fatalf("chain table %d bytes (%.3f %%): over 12.5 %% of the pool", chain, pct(chain))
	}
	empty := m.Footprint() - pool
	t.Logf("linux all-in metadata, no streams: %d bytes = %.2f %% (chain table, manager, pool header)", empty, pct(empty))
	for i := 0; i < 100; i++ {
		if _, err := m.Configure(StreamID{Source: CAN, Sensor: uint32(i)}, EVT, 0); err != nil {
			t.Fatal(err)
		}
	}
	with := m.Footprint() - pool
	t.Logf("linux all-in metadata, 100 streams: %d bytes = %.2f %% (stream table %d bytes a stream, allocated %d at a time)",
		with, pct(with), unsafe.Sizeof(Stream{}), streamChunk)
}
