// The processes of bench_vm_compare (vm_compare_main.cc), each the same static executable re-run
// with --role: binderd itself (the daemon linked in, so the guest needs nothing else), an echo
// server and a client. Server and client use the runtime on whichever backend their --device
// names (runtime/device.h resolveDevice), so the kernel rows and the binderd rows run the same
// code: raw calls (runtime/raw_call.h) as in bench/binder_roles.cc.
//
//   --role binderd --dir DIR             io::runDaemon on DIR (serves DIR/binder ...), warnings
//   only
//   --role server --device PATH          becomes the context manager (a "hub" object) and serves an
//                                        echo node; prints "ready"; serves until killed
//   --role client --device PATH --sizes a,b,c [--scale X] [--max-ms N]
//                                        asks the hub for the echo node (a real handle, as after
//                                        a service lookup), then per size measures sync round
//                                        trips of that many bytes echoed back; prints
//                                        "backend NAME" and one "rtt ..." (bench/common.h) or
//                                        "fail SIZE why" line per size
#pragma once

#include <cstdint>

#include "bench/binder_roles.h"  // Flags, kEchoCode, kBenchReceiveArea

namespace nb::bench::vmcmp {

// Hub code: reply with the echo node (a BINDER object).
inline constexpr uint32_t kGetEchoCode = 1;

int runBinderdRole(const Flags& flags);
int runServerRole(const Flags& flags);
int runClientRole(const Flags& flags);

}  // namespace nb::bench::vmcmp
