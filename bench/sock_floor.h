// The floors binderd is compared with (the shapes ../shared/tools/floors measures, our own code):
// request/reply through a relay process over AF_UNIX SOCK_SEQPACKET socket pairs,
// client → relay → server → relay → client, the relay an epoll loop copying each record through
// a user buffer (binderd's position between two clients).
//
//   relayRtt(memfd = false)  every payload is copied through the relay, both ways
//   relayRtt(memfd = true)   the relay recv()s the payload straight into a memfd the receiver has
//                            mapped and forwards a 16-byte {offset, len}; the server replies from
//                            its mapping (one copy per payload, like binder's receive area)
//   relayPipelined           one-way stream: the client sends `count` records back to back (the
//                            socket buffers are the window), the server acknowledges the last one
//
// The relay and server are fork()ed children of the calling process (which must not have started
// gRPC or other threads); they inherit its CPU affinity. The caller is the client.
#pragma once

#include <cstddef>
#include <string>

#include "bench/common.h"

namespace nb::bench {

RttStats relayRtt(size_t size, bool memfd, const Budget& budget);

struct Rate {
  size_t count = 0;
  double per_s = 0;
  double mb_s = 0;
};
Rate relayPipelined(size_t size, size_t count);

}  // namespace nb::bench
