// DeviceServer, thread connections: BINDER_* ioctls, parked reads, file installs, interrupts and
// the inline fallback's memory and files (see device_server.h and local_driver/client/wire.h).
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "local_driver/io/device_server.h"
#include "spdlog/spdlog.h"

namespace nb::driver::io {

namespace wire = client::wire;
using client::bytesOf;
using client::Message;

namespace {

// Upper bound on a write stream read from client memory (not sent inline); longer streams are
// processed up to this many bytes, and write_consumed tells the client where it stopped.
constexpr uint64_t kMaxMemoryWrite = 8ull << 20;

}  // namespace

// ---- Thread connection -------------------------------------------------------------------------

void DeviceServer::handleIoctl(Conn& conn, Message& msg) {
  wire::IoctlRequest req;
  if (conn.parked || conn.awaiting_fds || msg.payload.size() < sizeof(req)) {
    return dropConn(conn);
  }
  std::memcpy(&req, msg.payload.data(), sizeof(req));
  const uint32_t known = wire::kIoctlNonblock | wire::kIoctlWriteInline | wire::kIoctlReadFault |
                         wire::kIoctlNiceUnread;
  const size_t rest = msg.payload.size() - sizeof(req);
  if ((req.flags & ~known) != 0 || req.reserved != 0 || req.nice < -20 || req.nice > 19 ||
      req.arg_size != _IOC_SIZE(req.cmd) || req.arg_size > wire::kMaxIoctlArg ||
      req.arg_size > rest || req.read_capacity > wire::kMaxReadChunk) {
    return dropConn(conn);
  }
  std::span<const uint8_t> arg(msg.payload.data() + sizeof(req), req.arg_size);
  std::span<const uint8_t> tail(arg.data() + arg.size(), rest - req.arg_size);
  conn.nonblock = (req.flags & wire::kIoctlNonblock) != 0;
  if ((req.flags & wire::kIoctlNiceUnread) == 0) {
    driver_.setThreadNice(conn.proc->id, conn.tid, req.nice);
  }
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
  const bool read_fault = (req.flags & wire::kIoctlReadFault) != 0 && read_left > 0;
  if (read_left > 0) {
    bwr.read_size = bwr.read_consumed + (read_fault ? 0 : capacity);
  }
  conn.bwr = bwr;
  conn.read_out.assign(capacity, 0);
  proc.memory->setSnapshot(&conn.snapshot);
  WriteReadResult result =
      driver_.writeRead(proc.id, conn.tid, conn.bwr, write_bytes, conn.read_out, conn.nonblock);
  proc.memory->setSnapshot(nullptr);
  conn.snapshot.clear();  // the write part is done: nothing reads client memory after it
  if (read_fault && result.kind == WriteReadResult::Kind::kDone && result.error == 0) {
    result.error = EFAULT;  // the read's first put_user failed in the client
  }
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
  wire::IoctlReply extra;
  if (result.overwrite_word0_with_spawn) {
    extra.flags |= wire::kReplySpawnAtWord0;
  }
  if (result.set_nice) {
    extra.flags |= wire::kReplySetNice;
    extra.nice = result.nice;
  }
  sendIoctlReply(conn, result.error, bytesOf(out), read_bytes, extra);
  conn.read_out.clear();
  conn.read_out.shrink_to_fit();
  if (conn.proc != nullptr) {
    updatePollLevel(*conn.proc);
  }
}

void DeviceServer::sendIoctlReply(Conn& conn, int error, std::span<const uint8_t> arg,
                                  std::span<const uint8_t> read_bytes, wire::IoctlReply head) {
  settlePollLevels(conn.proc);
  std::vector<int32_t> close_fds;
  if (conn.proc != nullptr) {
    close_fds.assign(conn.proc->close_fds.begin(), conn.proc->close_fds.end());
    conn.proc->close_fds.clear();
  }
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

}  // namespace nb::driver::io
