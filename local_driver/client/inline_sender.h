// Inline mode of the client library (wire.h "Inline mode"): before a BINDER_WRITE_READ, sends the
// memory binderd will read for it (transaction data, offsets, PTR buffers, the write stream when
// it is not sent in the kIoctl) and the files of FD/FDA objects, when the daemon cannot read this
// process's memory or take its files itself. Called on the thread's own connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace nb::client {

// `write` holds the write stream bytes (already copied); `write_addr` is where they live in this
// process. `send_write`: also send the write stream itself as memory. `mode`: wire kMode* bits.
// Returns 0 or an errno of the socket.
int sendInline(int sock, uint32_t mode, std::span<const uint8_t> write, uint64_t write_addr,
               bool send_write);

}  // namespace nb::client
