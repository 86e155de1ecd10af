//go:build !mm2

package peers

import (
	"fmt"

	"github.com/mm2go/mm2/bench/workload"
)

// mm2System without the mm2 build tag: the adapter needs mm2's disk backend, which this
// build does not include. Build with -tags mm2 to run it.
func mm2System() System {
	return System{
		Name:        "mm2",
		UsedBy:      "this project (disk backend, linux profile)",
		Layout:      "one stream per sensor, WriteTSD per sample, ReadBulk and Ack",
		Unavailable: fmt.Errorf("%w in this build (its disk backend is not in yet; build with -tags mm2)", workload.ErrNotAvailable),
	}
}
