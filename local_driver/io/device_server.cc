// DeviceServer: accepting, hellos, the control connection, releasing processes, effects and
// poll levels. Thread connections are in device_server_ioctl.cc.
#include "local_driver/io/device_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "local_driver/io/process_memory.h"
#include "spdlog/spdlog.h"

namespace nb::driver::io {

namespace wire = client::wire;
using client::bytesOf;
using client::Message;

namespace {

template <typename T>
bool parseExact(const Message& msg, T* out) {
  if (msg.payload.size() != sizeof(T)) {
    return false;
  }
  std::memcpy(out, msg.payload.data(), sizeof(T));
  return true;
}

uint64_t randomToken() {
  uint64_t token = 0;
  while (token == 0) {
    if (::getrandom(&token, sizeof(token), 0) != sizeof(token)) {
      token = 0;
    }
  }
  return token;
}

bool taskExists(pid_t pid, pid_t tid) {
  if (tid <= 0) {
    return false;
  }
  std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid);
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace

DeviceServer::DeviceServer(std::string name, int listen_fd, bool force_inline,
                           DriverOptions options)
    : name_(std::move(name)),
      listen_fd_(listen_fd),
      force_inline_(force_inline),
      driver_(name_, *this, std::move(options)) {}

DeviceServer::~DeviceServer() {
  // Release every process first (the Driver may still reference their areas), then close.
  std::vector<ProcState*> procs;
  for (auto& [token, proc] : procs_) {
    procs.push_back(proc.get());
  }
  for (ProcState* proc : procs) {
    releaseProc(*proc);
  }
  for (auto& [id, conn] : conns_) {
    ::close(conn->fd);
  }
  conns_.clear();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
  }
}

int DeviceServer::run() {
  if (!loop_.ok()) {
    return EIO;
  }
  if (loop_.add(listen_fd_, EPOLLIN, [this](uint32_t) { onAccept(); }) == 0) {
    return errno;
  }
  spdlog::info("{}: serving", name_);
  return loop_.run();
}

void DeviceServer::onAccept() {
  int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      spdlog::warn("{}: accept: {}", name_, std::strerror(errno));
    }
    return;
  }
  auto conn = std::make_unique<Conn>();
  conn->id = next_conn_id_++;
  conn->fd = fd;
  socklen_t len = sizeof(conn->cred);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &conn->cred, &len) != 0 || conn->cred.pid <= 0) {
    ::close(fd);
    return;
  }
  const uint64_t id = conn->id;
  conn->handler = loop_.add(fd, EPOLLIN | EPOLLRDHUP, [this, id](uint32_t) { onReadable(id); });
  if (conn->handler == 0) {
    ::close(fd);
    return;
  }
  conns_.emplace(id, std::move(conn));
}

void DeviceServer::onReadable(uint64_t conn_id) {
  auto it = conns_.find(conn_id);
  if (it == conns_.end()) {
    return;
  }
  Conn& conn = *it->second;
  Message msg;
  int err = client::recvMessage(conn.fd, msg, /*retry_eintr=*/true);
  if (err == EAGAIN) {
    return;
  }
  if (err != 0) {
    if (err != ECONNRESET) {
      spdlog::debug("{}: connection from pid {}: {}", name_, conn.cred.pid, std::strerror(err));
    }
    dropConn(conn);
    drainEffects();
    return;
  }
  dispatch(conn, msg);
  msg.closeFds();  // files no handler took
  drainEffects();
}

void DeviceServer::dispatch(Conn& conn, Message& msg) {
  if (msg.header.error != 0) {
    dropConn(conn);
    return;
  }
  switch (conn.role) {
    case Role::kNew:
      switch (msg.op()) {
        case wire::Op::kOpen:
          return handleOpen(conn, msg);
        case wire::Op::kAttach:
          return handleAttach(conn, msg);
        case wire::Op::kAdmin:
          return handleAdmin(conn, msg);
        default:
          break;
      }
      break;
    case Role::kControl:
      switch (msg.op()) {
        case wire::Op::kMmap:
          return handleMmap(conn, msg);
        case wire::Op::kMmapCommit:
          return handleMmapCommit(conn, msg);
        case wire::Op::kMunmap:
          return handleMunmap(conn);
        case wire::Op::kFlush:
          return handleFlush(conn);
        case wire::Op::kPollRegister:
          return handlePollRegister(conn, msg);
        default:
          break;
      }
      break;
    case Role::kThread:
      switch (msg.op()) {
        case wire::Op::kIoctl:
          return handleIoctl(conn, msg);
        case wire::Op::kFdsInstalled:
          return handleFdsInstalled(conn, msg);
        case wire::Op::kInlineMemory:
          return handleInlineMemory(conn, msg);
        case wire::Op::kInlineFds:
          return handleInlineFds(conn, msg);
        case wire::Op::kInterrupt:
          return handleInterrupt(conn);
        default:
          break;
      }
      break;
  }
  spdlog::warn("{}: pid {} sent op {} on a {} connection; dropping it", name_, conn.cred.pid,
               msg.header.op, static_cast<int>(conn.role));
  dropConn(conn);
}

void DeviceServer::reply(Conn& conn, int error, std::span<const uint8_t> payload,
                         std::span<const int> fds) {
  int err = client::sendMessage(conn.fd, wire::Op::kReply, error, payload, fds);
  if (err != 0 && err != EPIPE && err != ECONNRESET) {
    spdlog::warn("{}: reply to pid {}: {}", name_, conn.cred.pid, std::strerror(err));
  }
}

void DeviceServer::dropConn(Conn& conn) {
  loop_.remove(conn.handler);
  if (ProcState* proc = conn.proc) {
    if (conn.role == Role::kThread) {
      if (conn.parked || conn.awaiting_fds) {
        driver_.cancelWait(proc->id, conn.tid);
      }
      proc->threads.erase(conn.tid);
      // A thread that is gone (its connection closes at thread exit) polls no more.
      std::erase(proc->pollers, conn.tid);
    } else if (conn.role == Role::kControl) {
      proc->control = nullptr;
      releaseProc(*proc);
    }
  }
  ::close(conn.fd);
  conns_.erase(conn.id);
}

void DeviceServer::releaseProc(ProcState& proc) {
  spdlog::debug("{}: releasing process pid {}", name_, proc.pid);
  driver_.releaseProcess(proc.id);
  proc.memory = nullptr;  // destroyed with the core's process
  // Thread connections die with their process; a client still using one gets EIO.
  std::vector<Conn*> threads;
  for (auto& [tid, conn] : proc.threads) {
    threads.push_back(conn);
  }
  proc.threads.clear();
  for (Conn* conn : threads) {
    conn->proc = nullptr;
    loop_.remove(conn->handler);
    ::close(conn->fd);
    conns_.erase(conn->id);
  }
  if (proc.control != nullptr) {
    proc.control->proc = nullptr;
  }
  if (proc.eventfd >= 0) {
    ::close(proc.eventfd);
  }
  auto it = procs_by_id_.find(static_cast<uint32_t>(proc.id));
  if (it != procs_by_id_.end() && it->second == &proc) {
    procs_by_id_.erase(it);
  }
  std::erase_if(poll_dirty_, [&](ProcId id) { return id == proc.id; });
  std::erase_if(wake_queue_, [&](const auto& w) { return w.first == proc.id; });
  procs_.erase(proc.token);  // destroys the areas after the Driver let go of them
}

DeviceServer::ProcState* DeviceServer::findProc(ProcId id) {
  auto it = procs_by_id_.find(static_cast<uint32_t>(id));
  return it == procs_by_id_.end() ? nullptr : it->second;
}

// ---- Hellos ----------------------------------------------------------------------------------

void DeviceServer::handleOpen(Conn& conn, Message& msg) {
  wire::OpenRequest req;
  if (!parseExact(msg, &req) || req.version != wire::kProtocolVersion) {
    reply(conn, EPROTO);
    return dropConn(conn);
  }
  int efd = ::eventfd(0, EFD_CLOEXEC);
  if (efd < 0) {
    reply(conn, errno);
    return dropConn(conn);
  }
  auto proc = std::make_unique<ProcState>();
  proc->token = randomToken();
  proc->pid = conn.cred.pid;
  proc->euid = conn.cred.uid;
  proc->eventfd = efd;
  proc->control = &conn;
  ClientIdentity identity{conn.cred.pid, conn.cred.uid, std::clamp(req.nice, -20, 19)};
  auto memory = std::make_unique<ProcessMemory>(conn.cred.pid, openPidfd(conn.cred.pid));
  proc->mode = memory->probe(req.probe_addr, req.probe_value, req.probe_fd, force_inline_);
  proc->memory = memory.get();
  proc->id = driver_.openProcess(identity, std::move(memory));
  conn.role = Role::kControl;
  conn.proc = proc.get();
  procs_by_id_[static_cast<uint32_t>(proc->id)] = proc.get();
  wire::OpenReply out;
  out.token = proc->token;
  out.daemon_pid = ::getpid();
  out.mode = proc->mode;
  const int fds[1] = {efd};
  spdlog::debug("{}: open by pid {} uid {}", name_, proc->pid, proc->euid);
  procs_.emplace(proc->token, std::move(proc));
  reply(conn, 0, bytesOf(out), fds);
}

void DeviceServer::handleAttach(Conn& conn, Message& msg) {
  wire::AttachRequest req;
  if (!parseExact(msg, &req) || req.reserved != 0) {
    reply(conn, EPROTO);
    return dropConn(conn);
  }
  auto it = procs_.find(req.token);
  if (it == procs_.end() || it->second->pid != conn.cred.pid || it->second->euid != conn.cred.uid) {
    reply(conn, EPERM);
    return dropConn(conn);
  }
  ProcState& proc = *it->second;
  if (!taskExists(proc.pid, req.tid)) {
    reply(conn, EINVAL);
    return dropConn(conn);
  }
  if (auto old = proc.threads.find(req.tid); old != proc.threads.end()) {
    // The thread's previous connection may be closed with its EOF not yet processed (the client
    // replaces a broken connection at once): retire it first.
    pollfd pfd{old->second->fd, POLLIN | POLLRDHUP, 0};
    if (::poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR)) != 0) {
      dropConn(*old->second);
    } else {
      reply(conn, EBUSY);
      return dropConn(conn);
    }
  }
  conn.role = Role::kThread;
  conn.proc = &proc;
  conn.tid = req.tid;
  proc.threads[req.tid] = &conn;
  reply(conn, 0);
}

void DeviceServer::handleAdmin(Conn& conn, Message& msg) {
  wire::AdminRequest req;
  if (!parseExact(msg, &req) || (conn.cred.uid != 0 && conn.cred.uid != ::geteuid())) {
    reply(conn, EPERM);
    return dropConn(conn);
  }
  std::string text;
  switch (static_cast<wire::AdminKind>(req.kind)) {
    case wire::AdminKind::kState:
      text = driver_.dumpState();
      break;
    case wire::AdminKind::kStats:
      text = driver_.dumpStats();
      break;
    case wire::AdminKind::kTransactions:
      text = driver_.dumpTransactions();
      break;
    default:
      reply(conn, EINVAL);
      return dropConn(conn);
  }
  // Chunks, then an empty message as the end marker. The socket is non-blocking: switch to
  // blocking (bounded by a send timeout, so a reader that stalls cannot stall the device) for this
  // one-shot reply so a big dump is not cut short.
  ::fcntl(conn.fd, F_SETFL, 0);
  timeval timeout{2, 0};
  ::setsockopt(conn.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  constexpr size_t kChunk = wire::kMaxMessage - sizeof(wire::Header);
  for (size_t off = 0; off < text.size(); off += kChunk) {
    size_t n = std::min(kChunk, text.size() - off);
    reply(conn, 0, {reinterpret_cast<const uint8_t*>(text.data()) + off, n});
  }
  reply(conn, 0);
  dropConn(conn);
}

// ---- Control connection ------------------------------------------------------------------------

void DeviceServer::handleMmap(Conn& conn, Message& msg) {
  ProcState& proc = *conn.proc;
  wire::MmapRequest req;
  if (!parseExact(msg, &req)) {
    return dropConn(conn);
  }
  if ((req.prot & PROT_WRITE) != 0) {
    return reply(conn, EPERM);
  }
  if (proc.area || proc.pending_area) {
    return reply(conn, EBUSY);
  }
  if (req.length == 0) {
    return reply(conn, EINVAL);
  }
  int err = 0;
  proc.pending_area = Area::create(std::min<uint64_t>(req.length, wire::kMaxAreaSize), &err);
  if (!proc.pending_area) {
    return reply(conn, err);
  }
  wire::MmapReply out;
  out.area_size = proc.pending_area->size();
  const int fds[1] = {proc.pending_area->memfd()};
  reply(conn, 0, bytesOf(out), fds);
}

void DeviceServer::handleMmapCommit(Conn& conn, Message& msg) {
  ProcState& proc = *conn.proc;
  wire::MmapCommit req;
  if (!parseExact(msg, &req)) {
    return dropConn(conn);
  }
  if (!proc.pending_area) {
    return reply(conn, EINVAL);
  }
  std::unique_ptr<Area> area = std::move(proc.pending_area);
  if (req.addr == 0) {
    return reply(conn, 0);  // the client could not map it
  }
  int err = driver_.mmapArea(proc.id, area->span(), req.addr);
  if (err == 0) {
    proc.area = std::move(area);
  }
  reply(conn, err);
}

void DeviceServer::handleMunmap(Conn& conn) {
  ProcState& proc = *conn.proc;
  if (proc.area) {
    driver_.unmapArea(proc.id);
    proc.area.reset();
  }
  reply(conn, 0);
}

void DeviceServer::handleFlush(Conn& conn) {
  driver_.flush(conn.proc->id);
  reply(conn, 0);
}

void DeviceServer::handlePollRegister(Conn& conn, Message& msg) {
  ProcState& proc = *conn.proc;
  wire::PollRegister req;
  if (!parseExact(msg, &req)) {
    return dropConn(conn);
  }
  if (!taskExists(proc.pid, req.tid)) {
    return reply(conn, EINVAL);
  }
  if (std::find(proc.pollers.begin(), proc.pollers.end(), req.tid) == proc.pollers.end()) {
    proc.pollers.push_back(req.tid);
  }
  poll_dirty_.push_back(proc.id);
  updatePollLevel(proc);
  reply(conn, 0);
}

// ---- Effects -----------------------------------------------------------------------------------

void DeviceServer::wakeThread(ProcId proc, Tid tid) { wake_queue_.emplace_back(proc, tid); }

void DeviceServer::wakePollers(ProcId proc) { poll_dirty_.push_back(proc); }

void DeviceServer::closeClientFds(ProcId proc, std::vector<int> fds) {
  if (ProcState* state = findProc(proc)) {
    state->close_fds.insert(state->close_fds.end(), fds.begin(), fds.end());
  }
}

void DeviceServer::drainEffects() {
  if (draining_) {
    return;
  }
  draining_ = true;
  while (!wake_queue_.empty() || !poll_dirty_.empty()) {
    while (!wake_queue_.empty()) {
      auto [proc_id, tid] = wake_queue_.front();
      wake_queue_.erase(wake_queue_.begin());
      ProcState* proc = findProc(proc_id);
      if (proc == nullptr) {
        continue;
      }
      auto it = proc->threads.find(tid);
      if (it == proc->threads.end() || !it->second->parked) {
        continue;
      }
      Conn& conn = *it->second;
      finishWriteRead(conn,
                      driver_.resumeRead(proc->id, tid, conn.bwr, conn.read_out, conn.nonblock));
    }
    // New work for a process whose level is already up: a fresh eventfd write gives
    // edge-triggered epoll users a new event, as the kernel's wake-up per queued work does.
    for (ProcId id : poll_dirty_) {
      ProcState* proc = findProc(id);
      if (proc != nullptr && proc->signaled && proc->eventfd >= 0) {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t r = ::write(proc->eventfd, &one, sizeof(one));
      }
    }
    poll_dirty_.clear();
  }
  // TODO(perf): keep a list of the processes that have pollers.
  // Work can also disappear without a wake-up (a dead sender's transaction withdrawn, another
  // thread taking process work): re-evaluate every process that has pollers, so a stale readable
  // level never sends a poller into a read that blocks.
  for (auto& [token, proc] : procs_) {
    updatePollLevel(*proc);
  }
  draining_ = false;
}

void DeviceServer::settlePollLevels(ProcState* also) {
  for (ProcId id : poll_dirty_) {
    if (ProcState* proc = findProc(id)) {
      updatePollLevel(*proc);
    }
  }
  if (also != nullptr) {
    updatePollLevel(*also);
  }
}

void DeviceServer::updatePollLevel(ProcState& proc) {
  if (proc.pollers.empty() || proc.eventfd < 0) {
    return;
  }
  bool readable = false;
  for (Tid tid : proc.pollers) {
    if (driver_.pollReadable(proc.id, tid)) {
      readable = true;
      break;
    }
  }
  if (readable == proc.signaled) {
    return;
  }
  proc.signaled = readable;
  if (readable) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t r = ::write(proc.eventfd, &one, sizeof(one));
    return;
  }
  // Drain to zero without ever blocking (the client may have changed the shared file's flags).
  pollfd pfd{proc.eventfd, POLLIN, 0};
  if (::poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0) {
    uint64_t value;
    [[maybe_unused]] ssize_t r = ::read(proc.eventfd, &value, sizeof(value));
  }
}

}  // namespace nb::driver::io
