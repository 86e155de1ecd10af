// Package mm2 is the iMatrix Memory Manager v2: the store-and-forward core
// of a telematics gateway. Sensors write samples into it; an uploader reads
// them, sends them on, and acknowledges (ACK) or rejects (NACK) them. In
// between, mm2 holds every record in a fixed memory budget, and never loses
// one without counting it.
//
// # Streams
//
// A stream is one sensor of one upload source (StreamID{Source, Sensor}),
// declared once with Configure, which returns the stream's handle. A stream
// is either TSD (fixed period; a sample costs 4 bytes and its timestamp is
// derived as first + i*period) or EVT (each event carries its own UTC
// millisecond timestamp; any int64, 0 included). A stream never mixes the
// two. Every stream is an independent FIFO queue: nothing done to one
// stream, or one source, changes another's records or counts.
//
// A TSD sample is stamped with the clock (Options.Clock). When the clock is
// more than half a period away from the sample's derived slot (a gap, a late
// sample), the stream starts a new sector with the true time, so every
// derived timestamp is within ±period/2 of when the sample was written.
//
// # Delivery: at least once, in order
//
//   - Every record gets a per-stream sequence number (Sample.Seq): the
//     first is 1, each record one more, never reused. Duplicates and gaps are
//     visible downstream.
//   - Read and ReadBulk hand out the oldest unread records in write order and
//     mark them pending; Peek and PeekBulk look without marking.
//   - Ack erases exactly the stream's pending records and frees every sector
//     that becomes empty, at once: no maintenance task is needed.
//   - Nack makes the pending records unread again: the next reads return
//     them again, in the same order, with the same sequence numbers.
//   - A record leaves the store only by an Ack of its stream or by a drop
//     (below), which is counted per stream and per reason (Stats.Drops,
//     StreamStats.Drops) and shows as a gap in the sequence numbers.
//   - Counts are exact: New (unread), Pending, Total = New + Pending. The
//     state is kept as positions in the sequence (acked ≤ read ≤ written), so
//     a negative count or more pending than stored cannot be represented.
//     The positions differ from the counts only by numbers dropped from
//     behind a batch in flight (below).
//
// # When the pool is full
//
// The RAM pool is a fixed set of sectors (32 bytes each by default)
// allocated at Open. When no sector is free and no disk tier takes new ones,
// the Overflow option decides:
//
//   - DropOldest (default): free the oldest sector that holds no pending
//     record: the writing stream's own oldest unsent records first (behind
//     its batch in flight, if it has one), then the globally oldest unsent
//     sector by base timestamp. Pending records are never dropped. A drop
//     behind a batch leaves a gap in the numbers that the reader sees; the
//     records after it keep their numbers, and a Nack redelivers exactly
//     what is left. The first drop at a place takes two sectors' records to
//     free one (the first stands for the gap afterwards); further drops
//     there free a sector each. The write fails with ErrFull only when
//     nothing unsent can be freed: everything stored is pending, or all that
//     is left behind each batch is the sector being filled.
//   - RejectNew: refuse the write with ErrFull and keep everything stored.
//
// A refused write stores nothing; Stats counts refusals and allocation
// failures.
//
// # Errors
//
// Errors are the sentinels below, tested with errors.Is (some are wrapped
// with context). A call refused with ErrNoData, ErrUnknownStream,
// ErrKindMismatch, ErrInvalidArgument, ErrUTCNotAvailable, ErrPoweringDown
// or ErrClosed leaves the manager exactly as it was; a write refused with
// ErrFull stores nothing and is only counted in Stats.
//
//   - ErrNoData: nothing unread to read or peek; nothing pending to Ack or Nack.
//   - ErrUnknownStream: Stream was asked for a stream never configured.
//   - ErrKindMismatch: a write of the other kind (WriteTSD on an EVT stream,
//     WriteEVT or WriteEventWithGPS on a TSD stream), a Configure that
//     disagrees with the stream's kind or period, or a GPS sensor that is TSD.
//   - ErrInvalidArgument: an out-of-range source, kind, period, index or
//     option; Open returns it for every bad Options field.
//   - ErrFull: no room for the record (see above), or the stream table full.
//   - ErrUTCNotAvailable: the wiced and stm32 profiles refuse writes until
//     SetUTCAvailable(true).
//   - ErrPoweringDown: writes are refused between PowerDown and PowerAbort;
//     reads, ACKs and NACKs still work.
//   - ErrClosed: the manager was closed.
//   - ErrDiskFull: the disk tier ran out of space; writes fall back to the
//     RAM policy and Stats shows the condition until space returns.
//
// # Concurrency
//
// All methods of Manager and Stream are safe for concurrent use: many writer
// goroutines and an uploader may run at once. One mutex serialises them. A
// Stream handle stays valid for the life of its manager. The hot path
// (WriteTSD, WriteEVT, WriteBatch, Read, ReadBulk into a caller's buffer,
// Peek, PeekBulk, Ack, Nack, Counts) allocates nothing and does no map
// look-up. WriteBatch stores many samples, of any streams, under one lock.
// Stats, Check and Streams walk the tables and are for monitoring and tests;
// Check reads the disk tier's segments without the lock.
//
// # Footprint
//
// Footprint reports every byte the manager holds: the pool, its chain table
// (kept apart from the sector payload), the stream table and the manager.
//
//   - linux: a 64 KB pool of 2,048 sectors, a 4-byte chain entry per sector
//     (12.5 %), and 64 bytes per stream, allocated 256 streams at a time;
//     up to 2,048 streams.
//   - wiced: at most 12,288 bytes all-in with its 100 streams; the stream
//     table is allocated at Open, and Open refuses options that would not fit
//     the budget.
//   - stm32: a 4 KB pool with the same tables as wiced.
//
// # Invariants
//
// Check walks every sector and stream and returns every violation found:
// each sector free or in exactly one chain, chains acyclic and single-kind,
// record counts matching the sequence positions. Every walk is bounded by the
// pool size, so a damaged table is reported, never looped on.
//
// # Disk tier
//
// With Options.Dir set (linux profile), sectors beyond the spill threshold
// go to segment files on disk and state survives restarts; the sync
// policies and what a crash can lose under each are described in
// docs/durability.md.
package mm2
