#include "gateway/config/address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "absl/strings/str_cat.h"

namespace nb::gateway {
namespace {

std::string str(std::string_view s) { return std::string(s); }

bool isHostNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

absl::Status badAddress(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("'", str(text), "': ", str(why)));
}

}  // namespace

absl::StatusOr<Address> parseAddress(std::string_view text, bool allow_bare_host) {
  Address address;
  if (text.starts_with("unix:")) {
    address.kind = Address::Kind::kUnix;
    address.host = str(text.substr(5));
    if (address.host.empty() || address.host.front() != '/') {
      return badAddress(text, "a unix: address needs an absolute path (unix:/run/bindergw.sock)");
    }
    return address;
  }
  std::string_view port_text;
  if (text.starts_with("[")) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return badAddress(text, "missing ']' after the IPv6 address");
    }
    address.host = str(text.substr(1, close - 1));
    in6_addr v6{};
    if (inet_pton(AF_INET6, address.host.c_str(), &v6) != 1) {
      return badAddress(text, "not an IPv6 address between the brackets");
    }
    std::string_view rest = text.substr(close + 1);
    if (rest.empty() && allow_bare_host) {
      address.port_given = false;
      return address;
    }
    if (!rest.starts_with(":")) {
      return badAddress(text, "expected [V6]:PORT");
    }
    port_text = rest.substr(1);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos && !allow_bare_host) {
      return badAddress(text, "expected HOST:PORT, [V6]:PORT or unix:/abs/path");
    }
    address.host = str(text.substr(0, colon));
    if (address.host.find(':') != std::string::npos) {
      return badAddress(text, "an IPv6 address needs brackets: [::1]:PORT");
    }
    if (address.host.empty() ||
        !std::all_of(address.host.begin(), address.host.end(), isHostNameChar)) {
      return badAddress(text, "bad host name");
    }
    if (colon == std::string_view::npos) {
      address.port_given = false;
      return address;
    }
    port_text = text.substr(colon + 1);
  }
  uint32_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return badAddress(text, "the port must be a number in 0..65535");
  }
  address.port = static_cast<uint16_t>(port);
  return address;
}

bool isLoopback(const Address& address) {
  if (address.kind == Address::Kind::kUnix) {
    return true;
  }
  if (lower(address.host) == "localhost") {
    return true;
  }
  in_addr v4{};
  if (inet_pton(AF_INET, address.host.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, address.host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

}  // namespace nb::gateway
