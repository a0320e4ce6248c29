#include "local_driver/client/binder_file.h"

#include <pthread.h>

#include <algorithm>
#include <cerrno>
#include <unordered_map>

#include "local_driver/client/safe_memory.h"

namespace nb::client {
namespace {

std::atomic<uint64_t> g_fd_bits[kMaxTrackedFd / 64];
std::atomic<uint64_t> g_next_file_id{1};
std::atomic<int> g_mapped_count{0};

// Guards the maps; never held across a socket call.
std::mutex& tableMutex() {
  static std::mutex mu;
  return mu;
}
std::unordered_map<int, FilePtr>& fdTable() {
  static auto* table = new std::unordered_map<int, FilePtr>();  // never destroyed: used at exit
  return *table;
}
std::vector<FilePtr>& mappedFiles() {
  static auto* files = new std::vector<FilePtr>();
  return *files;
}

void bitSet(int fd, bool on) {
  uint64_t mask = uint64_t{1} << (fd % 64);
  if (on) {
    g_fd_bits[fd / 64].fetch_or(mask, std::memory_order_release);
  } else {
    g_fd_bits[fd / 64].fetch_and(~mask, std::memory_order_release);
  }
}

// Per-thread connections, keyed by File::id (never reused).
struct TlsEntry {
  uint64_t file_id;
  pid_t pid;  // a forked child must not reuse its parent's connection
  std::shared_ptr<ThreadConn> conn;
};
struct ThreadState {
  std::vector<TlsEntry> entries;
  ~ThreadState() {
    for (auto& e : entries) {
      if (e.pid == selfPid()) {
        e.conn->close();
      }
    }
  }
};
thread_local ThreadState t_state;

bool overlaps(const File& f, uint64_t start, uint64_t len) {
  return start < f.map_addr + f.map_len && f.map_addr < start + len;
}

// fork(): the child gets copies of every hidden socket. Its copies must not keep the parent's
// process alive in binderd (the parent's close + munmap must release it, as the kernel does: the
// child has no mapping, VM_DONTCOPY), so the child closes them. The table lock is held across
// fork so the child finds the tables consistent.
void forkPrepare() { tableMutex().lock(); }
void forkParent() { tableMutex().unlock(); }
void forkChild() {
  resetSelfPid();
  auto retire = [](File& f) {
    if (f.control_fd >= 0) {
      sysClose(f.control_fd);
      f.control_fd = -1;
    }
    for (auto& conn : f.thread_conns) {
      conn->close();
    }
  };
  for (auto& [fd, file] : fdTable()) {
    retire(*file);
  }
  for (auto& file : mappedFiles()) {
    retire(*file);
  }
  mappedFiles().clear();  // MADV_DONTFORK: the child has no area
  g_mapped_count.store(0);
  tableMutex().unlock();
}

}  // namespace

void installForkHandler() {
  static std::once_flag once;
  std::call_once(once, [] { ::pthread_atfork(forkPrepare, forkParent, forkChild); });
}

uint64_t nextFileId() { return g_next_file_id.fetch_add(1); }

const uint64_t* probeValue() {
  static const uint64_t value =
      0x6e62696e64657221ull ^ reinterpret_cast<uintptr_t>(&g_next_file_id);
  return &value;
}

bool bitTest(int fd) {
  if (fd < 0 || fd >= kMaxTrackedFd) {
    return false;
  }
  return (g_fd_bits[fd / 64].load(std::memory_order_acquire) >> (fd % 64)) & 1;
}

FilePtr lookup(int fd) {
  if (!bitTest(fd)) {
    return nullptr;
  }
  std::lock_guard lock(tableMutex());
  auto it = fdTable().find(fd);
  return it == fdTable().end() ? nullptr : it->second;
}

bool registerFd(int fd, FilePtr file) {
  if (fd < 0 || fd >= kMaxTrackedFd) {
    return false;
  }
  std::lock_guard lock(tableMutex());
  fdTable()[fd] = std::move(file);
  bitSet(fd, true);
  return true;
}

FilePtr unregisterFd(int fd) {
  if (!bitTest(fd)) {
    return nullptr;
  }
  std::lock_guard lock(tableMutex());
  auto it = fdTable().find(fd);
  if (it == fdTable().end()) {
    return nullptr;
  }
  FilePtr file = std::move(it->second);
  fdTable().erase(it);
  bitSet(fd, false);
  return file;
}

void addMapped(FilePtr file) {
  std::lock_guard lock(tableMutex());
  mappedFiles().push_back(std::move(file));
  g_mapped_count.fetch_add(1);
}

bool anyMapped() { return g_mapped_count.load(std::memory_order_acquire) != 0; }

bool isMapped(uint64_t start, uint64_t len) {
  if (!anyMapped()) {
    return false;
  }
  std::lock_guard lock(tableMutex());
  return std::any_of(mappedFiles().begin(), mappedFiles().end(),
                     [&](const FilePtr& f) { return overlaps(*f, start, len); });
}

std::vector<FilePtr> takeMappedOverlapping(uint64_t start, uint64_t len) {
  std::vector<FilePtr> hit;
  if (!anyMapped()) {
    return hit;
  }
  std::lock_guard lock(tableMutex());
  auto& files = mappedFiles();
  for (auto it = files.begin(); it != files.end();) {
    if (overlaps(**it, start, len)) {
      hit.push_back(std::move(*it));
      it = files.erase(it);
      g_mapped_count.fetch_sub(1);
    } else {
      ++it;
    }
  }
  return hit;
}

std::shared_ptr<ThreadConn> threadConn(File& file, int* err) {
  const pid_t pid = selfPid();
  auto& entries = t_state.entries;
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->file_id != file.id) {
      continue;
    }
    if (it->pid == pid && it->conn->fd.load() >= 0) {
      return it->conn;
    }
    if (it->pid == pid) {
      it->conn->close();
    }
    entries.erase(it);
    break;
  }
  int sock = connectSeqpacket(file.socket_path.c_str());
  if (sock < 0) {
    *err = -sock == ENOENT || -sock == ECONNREFUSED ? EIO : -sock;
    return nullptr;
  }
  wire::AttachRequest attach;
  attach.token = file.token;
  attach.tid = sysGettid();
  Message reply;
  int e = sendMessage(sock, wire::Op::kAttach, 0, bytesOf(attach));
  if (e == 0) {
    e = recvMessage(sock, reply);
  }
  if (e == 0 && reply.op() != wire::Op::kReply) {
    e = EPROTO;
  }
  if (e == 0) {
    e = reply.header.error;
  }
  reply.closeFds();
  if (e != 0) {
    sysClose(sock);
    *err = e == ECONNRESET ? EIO : e;
    return nullptr;
  }
  auto conn = std::make_shared<ThreadConn>();
  conn->fd.store(sock);
  {
    std::lock_guard lock(file.mu);
    std::erase_if(file.thread_conns, [](const auto& c) { return c->fd.load() < 0; });
    file.thread_conns.push_back(conn);
  }
  // Entries of closed opens (their File closed the connection) are dropped here.
  std::erase_if(entries, [](const TlsEntry& entry) { return entry.conn->fd.load() < 0; });
  entries.push_back({file.id, pid, conn});
  return conn;
}

}  // namespace nb::client
