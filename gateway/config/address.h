// Peer addresses as bindergw's --listen / --connect / Peer.address take them, and the loopback
// rule that decides whether plaintext gRPC is allowed without --insecure.
//
//   HOST:PORT        host name or IPv4 address (an unbracketed ':' in HOST is refused)
//   [V6]:PORT        IPv6 address in brackets
//   unix:/abs/path   a Unix socket (gRPC's own syntax)
//
// PORT is 0..65535. Pure: no name resolution.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace nb::gateway {

struct Address {
  enum class Kind { kHostPort, kUnix };
  Kind kind = Kind::kHostPort;
  std::string host;  // without brackets for IPv6; the path for kUnix
  uint16_t port = 0;
  bool port_given = true;  // false only for a bare host (parseAddress's allow_bare_host)
};

// InvalidArgument "'TEXT': why" for anything else. With `allow_bare_host` also "HOST" and "[V6]"
// (port_given = false): Peer.address matches every port of a host that way.
absl::StatusOr<Address> parseAddress(std::string_view text, bool allow_bare_host = false);

// 127.0.0.0/8, ::1 (also ::ffff:127.x.y.z), "localhost" (any case) and every unix: address.
// 0.0.0.0 and :: are not loopback: they listen on every interface.
bool isLoopback(const Address& address);

}  // namespace nb::gateway
