// seqpacket.h: one-datagram messages (wire::Header + payload + SCM_RIGHTS) over SOCK_SEQPACKET Unix
// sockets, for both the client library and binderd. Stateless helpers; thread-compatible.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "local_driver/client/wire.h"

namespace nb::client {

struct Message {
  wire::Header header;
  std::vector<uint8_t> payload;
  std::vector<int> fds;  // received with MSG_CMSG_CLOEXEC; the receiver owns them

  wire::Op op() const { return static_cast<wire::Op>(header.op); }
  // Closes the received fds not taken out of `fds`.
  void closeFds();
};

// Sends one message made of `parts` concatenated, with `fds` as SCM_RIGHTS. Retries EINTR.
// Returns 0 or an errno (EMSGSIZE when larger than wire::kMaxMessage).
int sendMessage(int sock, wire::Op op, int32_t error,
                std::span<const std::span<const uint8_t>> parts, std::span<const int> fds = {});

// Convenience for a single payload.
int sendMessage(int sock, wire::Op op, int32_t error, std::span<const uint8_t> payload,
                std::span<const int> fds = {});

// Receives one message. Returns 0, ECONNRESET at end of stream, EAGAIN (non-blocking socket),
// EPROTO for a malformed datagram (bad magic, truncated, size mismatch; received fds closed), or
// another errno. Retries EINTR only when `retry_eintr`.
int recvMessage(int sock, Message& out, bool retry_eintr = true);

// Connects a new SOCK_SEQPACKET|SOCK_CLOEXEC socket to `path`; returns the fd or -errno.
int connectSeqpacket(const char* path);

template <typename T>
std::span<const uint8_t> bytesOf(const T& value) {
  return {reinterpret_cast<const uint8_t*>(&value), sizeof(T)};
}

}  // namespace nb::client
