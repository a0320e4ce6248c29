#include "bench/sock_floor.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

namespace nb::bench {
namespace {

// What the memfd relay forwards instead of the payload.
struct Header {
  uint64_t offset;
  uint64_t len;
};

void sendRecord(int fd, const void* data, size_t len) {
  for (;;) {
    // A SEQPACKET send is all or nothing.
    if (::send(fd, data, len, MSG_NOSIGNAL) >= 0) {
      return;
    }
    if (errno != EINTR) {
      dieErrno("send");
    }
  }
}

// One record into `buf`; 0 on EOF.
size_t recvRecord(int fd, void* buf, size_t cap) {
  for (;;) {
    const ssize_t n = ::recv(fd, buf, cap, 0);
    if (n >= 0) {
      return static_cast<size_t>(n);
    }
    if (errno != EINTR) {
      dieErrno("recv");
    }
  }
}

// A 1 MiB record needs a send buffer above 1 MiB: SO_SNDBUFFORCE as root, else SO_SNDBUF.
void bigBuffers(int fd) {
  int bytes = 4 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  }
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes);
}

struct Pair {
  int a = -1;
  int b = -1;
};

Pair seqpacketPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    dieErrno("socketpair");
  }
  bigBuffers(fds[0]);
  bigBuffers(fds[1]);
  return {fds[0], fds[1]};
}

uint8_t* sharedMemfd(const char* name) {
  const int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, kMaxPayload + 4096) != 0) {
    dieErrno("memfd");
  }
  void* map = ::mmap(nullptr, kMaxPayload + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) {
    dieErrno("mmap");
  }
  ::close(fd);
  return static_cast<uint8_t*>(map);
}

// The relay: forwards records between `client` and `server` until either side closes. With maps,
// a record is received into the other side's map and only a Header goes on.
[[noreturn]] void runRelay(int client, int server, uint8_t* client_map, uint8_t* server_map) {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int fd : {client, server}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  std::vector<uint8_t> buf(kMaxPayload + 64);
  for (;;) {
    epoll_event events[2];
    const int n = ::epoll_wait(ep, events, 2, -1);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    for (int i = 0; i < n; ++i) {
      const int from = events[i].data.fd;
      const int to = from == client ? server : client;
      uint8_t* map = from == client ? server_map : client_map;
      if (map != nullptr) {
        const size_t len = recvRecord(from, map, kMaxPayload + 64);
        if (len == 0) {
          ::_exit(0);
        }
        const Header header{0, len};
        sendRecord(to, &header, sizeof header);
      } else {
        const size_t len = recvRecord(from, buf.data(), buf.size());
        if (len == 0) {
          ::_exit(0);
        }
        sendRecord(to, buf.data(), len);
      }
    }
  }
}

// The echo server: inline records back as they came, or (map) the payload a Header names.
[[noreturn]] void runEchoServer(int fd, const uint8_t* map) {
  std::vector<uint8_t> buf(kMaxPayload + 64);
  for (;;) {
    const size_t len = recvRecord(fd, buf.data(), buf.size());
    if (len == 0) {
      ::_exit(0);
    }
    if (map != nullptr) {
      Header header;
      std::memcpy(&header, buf.data(), sizeof header);
      sendRecord(fd, map + header.offset, header.len);
    } else {
      sendRecord(fd, buf.data(), len);
    }
  }
}

// Counts records; after `count` of them sends one 8-byte acknowledgement.
[[noreturn]] void runSinkServer(int fd, size_t count) {
  std::vector<uint8_t> buf(kMaxPayload + 64);
  for (size_t i = 0; i < count; ++i) {
    if (recvRecord(fd, buf.data(), buf.size()) == 0) {
      ::_exit(1);
    }
  }
  const uint64_t ack = count;
  sendRecord(fd, &ack, sizeof ack);
  recvRecord(fd, buf.data(), buf.size());  // until the relay goes
  ::_exit(0);
}

pid_t forkOrDie() {
  const pid_t pid = ::fork();
  if (pid < 0) {
    dieErrno("fork");
  }
  return pid;
}

// Client side of a relay topology: forks the relay and a server made by `server_main(fd)`.
template <typename ServerMain>
struct Topology {
  int client_fd = -1;
  pid_t relay = -1;
  pid_t server = -1;

  Topology(uint8_t* client_map, uint8_t* server_map, ServerMain server_main) {
    const Pair to_relay = seqpacketPair();
    const Pair to_server = seqpacketPair();
    relay = forkOrDie();
    if (relay == 0) {
      ::close(to_relay.a);
      ::close(to_server.b);
      runRelay(to_relay.b, to_server.a, client_map, server_map);
    }
    server = forkOrDie();
    if (server == 0) {
      ::close(to_relay.a);
      ::close(to_relay.b);
      ::close(to_server.a);
      server_main(to_server.b);
    }
    ::close(to_relay.b);
    ::close(to_server.a);
    ::close(to_server.b);
    client_fd = to_relay.a;
  }

  ~Topology() {
    ::close(client_fd);
    for (pid_t pid : {relay, server}) {
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }
};

}  // namespace

RttStats relayRtt(size_t size, bool memfd, const Budget& budget) {
  uint8_t* client_map = memfd ? sharedMemfd("bench-client-rx") : nullptr;
  uint8_t* server_map = memfd ? sharedMemfd("bench-server-rx") : nullptr;
  std::vector<uint8_t> request = makePayload(size);
  std::vector<uint8_t> reply(kMaxPayload + 64);
  std::vector<int64_t> samples;
  {
    Topology topology(client_map, server_map,
                      [server_map](int fd) { runEchoServer(fd, server_map); });
    const int fd = topology.client_fd;
    // SEQPACKET cannot carry an empty record distinguishable from EOF: 0 B sends 1 byte.
    const size_t wire = std::max<size_t>(size, 1);
    samples = measureRtt(budget, [&] {
      sendRecord(fd, request.empty() ? reply.data() : request.data(), wire);
      const size_t len = recvRecord(fd, reply.data(), reply.size());
      if (memfd) {
        Header header;
        std::memcpy(&header, reply.data(), sizeof header);
        // Read the payload where the relay put it, as a binder client reads its receive area.
        volatile uint8_t sink = client_map[header.offset + header.len - 1];
        (void)sink;
      } else if (len != wire) {
        die("relay floor: short echo");
      }
    });
  }
  for (uint8_t* map : {client_map, server_map}) {
    if (map != nullptr) {
      ::munmap(map, kMaxPayload + 4096);
    }
  }
  return rttStats(std::move(samples));
}

Rate relayPipelined(size_t size, size_t count) {
  std::vector<uint8_t> payload = makePayload(std::max<size_t>(size, 1));
  Rate rate;
  Topology topology(nullptr, nullptr, [count](int fd) { runSinkServer(fd, count); });
  const int64_t start = nowNs();
  for (size_t i = 0; i < count; ++i) {
    sendRecord(topology.client_fd, payload.data(), payload.size());
  }
  uint64_t ack = 0;
  recvRecord(topology.client_fd, &ack, sizeof ack);
  const int64_t elapsed = nowNs() - start;
  rate.count = count;
  rate.per_s = static_cast<double>(count) / (static_cast<double>(elapsed) / 1e9);
  rate.mb_s = rate.per_s * static_cast<double>(size) / 1e6;
  return rate;
}

}  // namespace nb::bench
