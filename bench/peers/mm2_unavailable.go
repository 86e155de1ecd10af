//go:build !mm2

package peers

import (
	"fmt"

	"github.com/mm2go/mm2/bench/workload"
)

// mm2System without the mm2 build tag: the adapter is left out so that this module builds
// whatever state the root package is in. Build with -tags mm2 to run it.
func mm2System() System {
	return System{
		Name:        "mm2",
		UsedBy:      "this project (disk backend, linux profile)",
		Layout:      "one TSD stream per sensor, WriteTSD per sample with an injected clock, ReadBulk and Ack",
		Unavailable: fmt.Errorf("%w in this build (build with -tags mm2 once the disk backend is in)", workload.ErrNotAvailable),
	}
}
