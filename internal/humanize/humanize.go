// Package humanize words figures for people: byte sizes in IEC units and
// counts with their noun in the right number. The command and the gateway
// simulation's report share it, so the same figure reads the same way.
package humanize

import "fmt"

// Bytes is n in B below 1 KiB, else in KiB, MiB or GiB with one decimal:
// "512 B", "1.5 KiB", "3.0 MiB".
func Bytes(n int64) string {
	switch {
	case n >= 1<<30 || n <= -1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20 || n <= -1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 || n <= -1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Count is n with noun, in the plural unless n is 1: "1 record",
// "0 records", "3 records". The plural adds an s (nouns here are regular).
func Count[T ~int | ~int64 | ~uint64 | ~uint32 | ~int32](n T, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
