// The binder side of the benchmark: a server process with `nodes` objects registered as
// PREFIX0, PREFIX1, ... (default "bench."), and client processes that call them with raw buffers
// (runtime/raw_call.h) so that the rows measure binderd (and the gateways) plus the runtime's
// minimum, not parcel encoding. Both run as `bench --role ...` children of the harness.
//
// Node codes: kEcho replies with the request's bytes; kCount (one-way) counts; kWaitCount blocks
// until the server has counted the uint64 in the request (30 s at most) and replies the count;
// kSink replies empty (one-direction payload throughput); kDump takes an fd object at offset 0
// and a uint64 byte count after it, writes that many bytes of makePayload's pattern into the fd
// (64 KiB writes) and replies empty, or a status code -errno if a write fails.
// The request's fd is closed when the call's buffer is freed, after the reply.
#pragma once

#include <map>
#include <string>

#include "bench/common.h"  // Flags

namespace nb::bench {

inline constexpr uint32_t kEchoCode = 1;
inline constexpr uint32_t kCountCode = 2;
inline constexpr uint32_t kWaitCountCode = 3;
inline constexpr uint32_t kSinkCode = 4;
inline constexpr uint32_t kDumpCode = 5;
inline constexpr size_t kBenchReceiveArea = size_t{4} << 20;

// --nodes N (4) --prefix P (bench.); prints "ready" once every node is registered, then serves
// until killed.
int runBinderServer(const Flags& flags);

// --service NAME (bench.0) --mode rtt|oneway|threads|idle, --scale X, --max-ms N, and
//   rtt:     --sizes a,b,c                 one rtt line per size
//   oneway:  --size N --nodes K --count C  C one-way calls spread over services NAME's prefix
//                                          0..K-1, then waits until the server counted them all;
//                                          one rate line
//   threads: --threads T --size N --ms D   T threads calling kEcho for D ms; one rate line
//            [--code sink]                 ... calling kSink instead (payload one way only)
//   pipe:    --bytes N                     a pipe's write end passed to kDump(N) while a thread
//                                          reads the read end to EOF (the pattern checked); one
//                                          rate line "rate N 1 PER_S MB_S" from the call's start
//                                          to EOF; "fail N why" when it fails
//   idle:                                  one call, "ready", then idle until killed
int runBinderClient(const Flags& flags);

}  // namespace nb::bench
