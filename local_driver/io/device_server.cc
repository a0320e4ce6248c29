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

// Upper bound on a write stream read from client memory (not sent inline); longer streams are
// processed up to this many bytes, and write_consumed tells the client where it stopped.
constexpr uint64_t kMaxMemoryWrite = 8ull << 20;

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

DeviceServer::DeviceServer(std::string name, int listen_fd, bool force_inline)
    : name_(std::move(name)),
      listen_fd_(listen_fd),
      force_inline_(force_inline),
      driver_(name_, *this) {}

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
  ClientIdentity identity{conn.cred.pid, conn.cred.uid};
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
  if (proc.threads.count(req.tid) != 0) {
    reply(conn, EBUSY);
    return dropConn(conn);
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
  // blocking for this one-shot reply so a big dump is not cut short.
  ::fcntl(conn.fd, F_SETFL, 0);
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
  reply(conn, 0);
}

// ---- Thread connection -------------------------------------------------------------------------

void DeviceServer::handleIoctl(Conn& conn, Message& msg) {
  wire::IoctlRequest req;
  if (conn.parked || conn.awaiting_fds || msg.payload.size() < sizeof(req)) {
    return dropConn(conn);
  }
  std::memcpy(&req, msg.payload.data(), sizeof(req));
  const uint32_t known = wire::kIoctlNonblock | wire::kIoctlWriteInline;
  const size_t rest = msg.payload.size() - sizeof(req);
  if ((req.flags & ~known) != 0 || req.arg_size != _IOC_SIZE(req.cmd) ||
      req.arg_size > wire::kMaxIoctlArg || req.arg_size > rest ||
      req.read_capacity > wire::kMaxReadChunk) {
    return dropConn(conn);
  }
  std::span<const uint8_t> arg(msg.payload.data() + sizeof(req), req.arg_size);
  std::span<const uint8_t> tail(arg.data() + arg.size(), rest - req.arg_size);
  conn.nonblock = (req.flags & wire::kIoctlNonblock) != 0;
  if (req.cmd == BINDER_WRITE_READ) {
    return handleWriteRead(conn, req, arg, tail);
  }
  if (!tail.empty() || (req.flags & wire::kIoctlWriteInline) != 0) {
    return dropConn(conn);
  }
  conn.snapshot.clear();
  std::vector<uint8_t> arg_io(arg.begin(), arg.end());
  if ((_IOC_DIR(req.cmd) & _IOC_WRITE) == 0) {
    std::fill(arg_io.begin(), arg_io.end(), 0);
  }
  ProcState& proc = *conn.proc;
  IoctlResult result = driver_.ioctl(proc.id, conn.tid, req.cmd, arg_io);
  sendIoctlReply(conn, result.error, arg_io, {});
  updatePollLevel(proc);
}

void DeviceServer::handleWriteRead(Conn& conn, const wire::IoctlRequest& req,
                                   std::span<const uint8_t> arg,
                                   std::span<const uint8_t> inline_write) {
  ProcState& proc = *conn.proc;
  if (arg.size() != sizeof(binder_write_read)) {
    return dropConn(conn);
  }
  binder_write_read bwr;
  std::memcpy(&bwr, arg.data(), sizeof(bwr));
  const uint64_t write_left =
      bwr.write_size > bwr.write_consumed ? bwr.write_size - bwr.write_consumed : 0;
  std::vector<uint8_t> from_memory;
  std::span<const uint8_t> write_bytes;
  if ((req.flags & wire::kIoctlWriteInline) != 0) {
    if (inline_write.size() != write_left) {
      return dropConn(conn);
    }
    write_bytes = inline_write;
  } else if (!inline_write.empty()) {
    return dropConn(conn);
  } else if (write_left > 0) {
    // A long write stream: read it from the client like the kernel's copy_from_user.
    from_memory.resize(std::min(write_left, kMaxMemoryWrite));
    proc.memory->setSnapshot(&conn.snapshot);
    const bool ok = proc.memory->read(bwr.write_buffer + bwr.write_consumed, from_memory);
    proc.memory->setSnapshot(nullptr);
    if (!ok) {
      conn.snapshot.clear();
      return sendIoctlReply(conn, EFAULT, arg, {});
    }
    write_bytes = from_memory;
  }
  // The core sees a read_size it can fill entirely in read_out; the client's value is restored in
  // the reply.
  const uint64_t read_left =
      bwr.read_size > bwr.read_consumed ? bwr.read_size - bwr.read_consumed : 0;
  const uint64_t capacity = std::min<uint64_t>(read_left, req.read_capacity);
  conn.client_read_size = bwr.read_size;
  conn.read_consumed_on_entry = bwr.read_consumed;
  if (read_left > 0) {
    bwr.read_size = bwr.read_consumed + capacity;
  }
  conn.bwr = bwr;
  conn.read_out.assign(capacity, 0);
  proc.memory->setSnapshot(&conn.snapshot);
  WriteReadResult result =
      driver_.writeRead(proc.id, conn.tid, conn.bwr, write_bytes, conn.read_out, conn.nonblock);
  proc.memory->setSnapshot(nullptr);
  conn.snapshot.clear();  // the write part is done: nothing reads client memory after it
  finishWriteRead(conn, std::move(result));
}

void DeviceServer::finishWriteRead(Conn& conn, WriteReadResult result) {
  conn.parked = false;
  conn.awaiting_fds = false;
  switch (result.kind) {
    case WriteReadResult::Kind::kWouldBlock:
      conn.parked = true;
      return;
    case WriteReadResult::Kind::kInstallFds: {
      if (result.fds.size() > wire::kMaxFdsPerMessage) {
        // Cannot be passed in one message: fail the install (the core fails the transaction).
        spdlog::warn("{}: {} fds in one read exceed the limit", name_, result.fds.size());
        std::vector<int> none;
        return finishWriteRead(
            conn, driver_.fdsInstalled(conn.proc->id, conn.tid, conn.bwr, conn.read_out, none));
      }
      std::vector<int> fds;
      for (const auto& install : result.fds) {
        fds.push_back(install.file.get());
      }
      wire::InstallFds head;
      head.count = static_cast<uint32_t>(fds.size());
      conn.awaiting_fds = true;
      conn.fds_expected = fds.size();
      int err = client::sendMessage(conn.fd, wire::Op::kInstallFds, 0, bytesOf(head), fds);
      if (err != 0) {
        std::vector<int> none;
        conn.awaiting_fds = false;
        return finishWriteRead(
            conn, driver_.fdsInstalled(conn.proc->id, conn.tid, conn.bwr, conn.read_out, none));
      }
      return;  // our copies close with `result`
    }
    case WriteReadResult::Kind::kDone:
      break;
  }
  binder_write_read out = conn.bwr;
  const uint64_t produced = out.read_consumed - conn.read_consumed_on_entry;
  out.read_size = conn.client_read_size;
  std::span<const uint8_t> read_bytes(conn.read_out.data(),
                                      std::min<uint64_t>(produced, conn.read_out.size()));
  sendIoctlReply(conn, result.error, bytesOf(out), read_bytes);
  conn.read_out.clear();
  conn.read_out.shrink_to_fit();
  if (conn.proc != nullptr) {
    updatePollLevel(*conn.proc);
  }
}

void DeviceServer::sendIoctlReply(Conn& conn, int error, std::span<const uint8_t> arg,
                                  std::span<const uint8_t> read_bytes) {
  std::vector<int32_t> close_fds;
  if (conn.proc != nullptr) {
    close_fds.assign(conn.proc->close_fds.begin(), conn.proc->close_fds.end());
    conn.proc->close_fds.clear();
  }
  wire::IoctlReply head;
  head.arg_size = static_cast<uint32_t>(arg.size());
  head.read_size = static_cast<uint32_t>(read_bytes.size());
  head.close_count = static_cast<uint32_t>(close_fds.size());
  const std::span<const uint8_t> parts[4] = {
      bytesOf(head),
      arg,
      read_bytes,
      {reinterpret_cast<const uint8_t*>(close_fds.data()), close_fds.size() * sizeof(int32_t)}};
  int err = client::sendMessage(conn.fd, wire::Op::kReply, error, parts);
  if (err != 0 && err != EPIPE && err != ECONNRESET) {
    spdlog::warn("{}: ioctl reply to pid {}: {}", name_, conn.cred.pid, std::strerror(err));
  }
}

void DeviceServer::handleFdsInstalled(Conn& conn, Message& msg) {
  if (!conn.awaiting_fds || msg.payload.size() % sizeof(int32_t) != 0) {
    return dropConn(conn);
  }
  std::vector<int> numbers(msg.payload.size() / sizeof(int32_t));
  std::memcpy(numbers.data(), msg.payload.data(), msg.payload.size());
  conn.awaiting_fds = false;
  finishWriteRead(conn,
                  driver_.fdsInstalled(conn.proc->id, conn.tid, conn.bwr, conn.read_out, numbers));
}

void DeviceServer::handleInterrupt(Conn& conn) {
  if (!conn.parked) {
    return;  // the reply is already on its way (or the fds install is in progress)
  }
  driver_.cancelWait(conn.proc->id, conn.tid);
  WriteReadResult result;
  result.kind = WriteReadResult::Kind::kDone;
  result.error = EINTR;
  finishWriteRead(conn, std::move(result));
}

void DeviceServer::handleInlineMemory(Conn& conn, Message& msg) {
  wire::InlineMemory head;
  if (conn.parked || conn.awaiting_fds || msg.payload.size() < sizeof(head)) {
    return dropConn(conn);
  }
  std::memcpy(&head, msg.payload.data(), sizeof(head));
  InlineSnapshot& snap = conn.snapshot;
  if (head.reserved != 0 || head.length != msg.payload.size() - sizeof(head) ||
      head.addr + head.length < head.addr || snap.ranges.size() >= wire::kMaxInlineRanges ||
      snap.bytes + head.length > wire::kMaxInlineBytes) {
    return dropConn(conn);
  }
  snap.bytes += head.length;
  auto& range = snap.ranges[head.addr];
  const uint8_t* bytes = msg.payload.data() + sizeof(head);
  if (head.length > range.size()) {
    range.assign(bytes, bytes + head.length);
  }
}

void DeviceServer::handleInlineFds(Conn& conn, Message& msg) {
  InlineSnapshot& snap = conn.snapshot;
  const size_t count = msg.payload.size() / sizeof(int32_t);
  if (conn.parked || conn.awaiting_fds || msg.payload.size() % sizeof(int32_t) != 0 ||
      count != msg.fds.size() || snap.fds.size() + count > wire::kMaxInlineFds) {
    return dropConn(conn);
  }
  for (size_t i = 0; i < count; ++i) {
    int32_t number;
    std::memcpy(&number, msg.payload.data() + i * sizeof(int32_t), sizeof(number));
    snap.fds[number] = UniqueFd(msg.fds[i]);
    msg.fds[i] = -1;
  }
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
