// Test harness for multi-process binderd tests: starts the built binderd in a private directory,
// runs scenario roles in forked children, and speaks the Binder UAPI through the client library.
#pragma once

#include <linux/android/binder.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace nb::testing {

// A binderd child process serving a fresh temporary directory.
class Daemon {
 public:
  Daemon();
  ~Daemon();
  // Starts binderd (NB_BINDERD_PATH) with --dir dir() and `extra_args`; waits until its sockets
  // accept connections. False on failure.
  bool start(const std::vector<std::string>& extra_args = {});
  // SIGTERM and wait; returns the wait status (or -1).
  int stop();
  pid_t pid() const { return pid_; }
  const std::string& dir() const { return dir_; }
  std::string socket(const char* device = "binder") const { return dir_ + "/" + device; }
  // Output of `binderd --dump KIND --dir dir() --device DEVICE` ("" on failure).
  std::string dump(const char* kind, const char* device = "binder") const;
  // Polls the stats dump until it contains `line` or timeout; true if it did.
  bool waitStatsLine(const std::string& line, int timeout_ms) const;
  // Number of open fds of the daemon (/proc/<pid>/fd).
  int fdCount() const;
  // fdCount() once it stopped changing (connections being dropped settle first).
  int settledFdCount() const;
  // Polls until fdCount() <= want or timeout; returns the last count. (<=: the baseline may have
  // caught a connection the daemon was still dropping.)
  int waitFdCount(int want, int timeout_ms) const;

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

// Runs `body` in a forked child; the child exits with body()'s return value.
pid_t spawn(const std::function<int()>& body);
// Waits for `pid`; returns its exit code, 128+signal, or -1 on timeout (then kills it).
int waitExit(pid_t pid, int timeout_ms = 20000);

// A one-directional pipe carrying small integers between test processes.
class Pipe {
 public:
  Pipe();
  ~Pipe();
  void send(int64_t value);
  // Returns false on EOF or timeout.
  bool recv(int64_t* value, int timeout_ms = 10000);
  void closeRead();
  void closeWrite();

 private:
  int fds_[2] = {-1, -1};
};

// One open of a binder device through the client library, with helpers for the BC/BR streams.
struct Returned {
  uint32_t cmd = 0;
  binder_transaction_data txn{};
  std::vector<uint8_t> data;  // copy of the payload (BR_TRANSACTION / BR_REPLY)
  uint64_t cookie = 0;        // BR_DEAD_BINDER etc.
};

class BinderClient {
 public:
  // Opens socket_path (through nb_binder_open). ok() tells whether it worked.
  explicit BinderClient(const std::string& socket_path, int flags = 0);
  ~BinderClient();
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void* area() const { return map_; }
  // mmap(PROT_READ, MAP_PRIVATE) of `size`; returns 0 or errno.
  int map(size_t size = 128 * 1024);
  // ioctl through the client library; returns 0 or errno.
  int ioctl(unsigned long request, void* arg);
  int version(int32_t* out);
  // BINDER_WRITE_READ of `write` with a read buffer of `read_size`; returns 0 or errno, the BR
  // stream in `read`.
  int writeRead(const std::vector<uint8_t>& write, std::vector<uint8_t>* read, size_t read_size);
  // Writes then reads until a BR in `until` arrives (collecting all returns); 0 or errno.
  int transact(const std::vector<uint8_t>& write, const std::vector<uint32_t>& until,
               std::vector<Returned>* out);

  // Command builders.
  static void putU32(std::vector<uint8_t>& w, uint32_t v);
  static void putTransaction(std::vector<uint8_t>& w, uint32_t cmd, uint32_t handle, uint32_t code,
                             uint32_t flags, const void* data, size_t size,
                             const binder_size_t* offsets = nullptr, size_t offsets_count = 0);
  static void putFreeBuffer(std::vector<uint8_t>& w, binder_uintptr_t buffer);
  static void putPtrCookie(std::vector<uint8_t>& w, uint32_t cmd, uint64_t ptr, uint64_t cookie);
  static void putHandleCookie(std::vector<uint8_t>& w, uint32_t cmd, uint32_t handle,
                              uint64_t cookie);
  // Parses a BR stream (payloads copied out of the mapped area).
  static std::vector<Returned> parse(const std::vector<uint8_t>& read);

 private:
  int fd_ = -1;
  void* map_ = nullptr;
  size_t map_size_ = 0;
};

const char* brName(uint32_t cmd);

}  // namespace nb::testing
