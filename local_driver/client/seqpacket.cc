#include "local_driver/client/seqpacket.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace nb::client {

void Message::closeFds() {
  for (int fd : fds) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  fds.clear();
}

int sendMessage(int sock, wire::Op op, int32_t error,
                std::span<const std::span<const uint8_t>> parts, std::span<const int> fds) {
  constexpr size_t kMaxParts = 8;
  if (parts.size() + 1 > kMaxParts || fds.size() > wire::kMaxFdsPerMessage) {
    return EINVAL;
  }
  wire::Header header;
  header.op = static_cast<uint16_t>(op);
  header.error = error;
  size_t total = 0;
  iovec iov[kMaxParts];
  iov[0] = {&header, sizeof(header)};
  size_t n = 1;
  for (auto part : parts) {
    if (part.empty()) {
      continue;
    }
    // SAFETY: sendmsg only reads through iov_base; the const_cast is for the iovec type.
    iov[n++] = {const_cast<uint8_t*>(part.data()), part.size()};
    total += part.size();
  }
  if (total + sizeof(header) > wire::kMaxMessage) {
    return EMSGSIZE;
  }
  header.payload_size = static_cast<uint32_t>(total);
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = n;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * wire::kMaxFdsPerMessage)];
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cmsg), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t sent = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (sent >= 0) {
      return static_cast<size_t>(sent) == total + sizeof(header) ? 0 : EPROTO;
    }
    if (errno != EINTR) {
      return errno;
    }
  }
}

int sendMessage(int sock, wire::Op op, int32_t error, std::span<const uint8_t> payload,
                std::span<const int> fds) {
  const std::span<const uint8_t> parts[1] = {payload};
  return sendMessage(sock, op, error, std::span<const std::span<const uint8_t>>(parts, 1), fds);
}

int recvMessage(int sock, Message& out, bool retry_eintr) {
  // One scratch buffer per thread, allocated once: the payload is copied out at its real size
  // (zero-filling kMaxMessage bytes per message would dominate small requests).
  thread_local std::unique_ptr<uint8_t[]> scratch(new uint8_t[wire::kMaxMessage]);
  out.fds.clear();
  iovec iov[2] = {{&out.header, sizeof(out.header)}, {scratch.get(), wire::kMaxMessage}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253)];
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = 2;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t got;
  for (;;) {
    got = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (got >= 0) {
      break;
    }
    if (errno != EINTR || !retry_eintr) {
      return errno;
    }
  }
  for (cmsghdr* cmsg = CMSG_FIRSTHDR(&msg); cmsg != nullptr; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
      size_t count = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
        out.fds.push_back(fd);
      }
    }
  }
  if (got == 0) {
    out.closeFds();
    return ECONNRESET;
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 ||
      static_cast<size_t>(got) < sizeof(wire::Header) || out.header.magic != wire::kMagic ||
      out.header.reserved != 0 || out.header.payload_size != got - sizeof(wire::Header)) {
    out.closeFds();
    return EPROTO;
  }
  out.payload.assign(scratch.get(), scratch.get() + out.header.payload_size);
  return 0;
}

int connectSeqpacket(const char* path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  size_t len = std::strlen(path);
  if (len >= sizeof(addr.sun_path)) {
    return -ENAMETOOLONG;
  }
  std::memcpy(addr.sun_path, path, len + 1);
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -errno;
  }
  for (;;) {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      return fd;
    }
    if (errno != EINTR) {
      int err = errno;
      ::close(fd);
      return -err;
    }
  }
}

}  // namespace nb::client
