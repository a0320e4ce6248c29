// Test harness for nb_driver_core: a fake client memory (a byte arena with addresses), a recording
// Effects, a BC_* stream builder and a BR_* stream decoder, all driving the Driver facade.
#pragma once

#include <fcntl.h>
#include <linux/android/binder.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "local_driver/core/driver.h"

namespace nb::driver::test {

// Client memory: regions placed at increasing fake addresses.
class FakeMemory : public ClientMemory {
 public:
  uint64_t put(const void* bytes, size_t n) {
    const uint64_t addr = next_;
    next_ += (n + 0x1000) & ~uint64_t{0xfff};
    regions_[addr].assign(static_cast<const uint8_t*>(bytes),
                          static_cast<const uint8_t*>(bytes) + n);
    return addr;
  }
  template <typename T>
  uint64_t putValue(const T& v) {
    return put(&v, sizeof(v));
  }
  bool read(uint64_t addr, std::span<uint8_t> out) override {
    auto it = regions_.upper_bound(addr);
    if (it == regions_.begin()) {
      return false;
    }
    --it;
    const uint64_t off = addr - it->first;
    if (off > it->second.size() || out.size() > it->second.size() - off) {
      return false;
    }
    std::memcpy(out.data(), it->second.data() + off, out.size());
    return true;
  }
  absl::StatusOr<UniqueFd> takeFd(int fd) override {
    if (valid_fds.count(fd) == 0) {
      return absl::InvalidArgumentError("EBADF");
    }
    return UniqueFd(::dup(fd));
  }
  std::set<int> valid_fds;

 private:
  uint64_t next_ = 0x10000;
  std::map<uint64_t, std::vector<uint8_t>> regions_;
};

class RecordingEffects : public Effects {
 public:
  void wakeThread(ProcId proc, Tid tid) override { wakes.emplace_back(proc, tid); }
  void wakePollers(ProcId proc) override { poller_wakes.push_back(proc); }
  void closeClientFds(ProcId proc, std::vector<int> fds) override {
    closes.emplace_back(proc, std::move(fds));
  }
  std::vector<std::pair<ProcId, Tid>> wakes;
  std::vector<ProcId> poller_wakes;
  std::vector<std::pair<ProcId, std::vector<int>>> closes;
};

// A BC_* stream.
class Cmds {
 public:
  Cmds& cmd(uint32_t c) { return raw(&c, sizeof(c)); }
  template <typename T>
  Cmds& cmd(uint32_t c, const T& payload) {
    cmd(c);
    return raw(&payload, sizeof(payload));
  }
  Cmds& handleCookie(uint32_t c, uint32_t handle, uint64_t cookie) {
    cmd(c);
    raw(&handle, sizeof(handle));
    return raw(&cookie, sizeof(cookie));
  }
  Cmds& raw(const void* p, size_t n) {
    bytes.insert(bytes.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
    return *this;
  }
  std::vector<uint8_t> bytes;
};

// One decoded BR command.
struct Br {
  uint32_t cmd = 0;
  std::vector<uint8_t> payload;
  binder_transaction_data tr() const {
    binder_transaction_data t{};
    std::memcpy(&t, payload.data(), std::min(payload.size(), sizeof(t)));
    return t;
  }
  binder_transaction_data_secctx trSec() const {
    binder_transaction_data_secctx t{};
    std::memcpy(&t, payload.data(), std::min(payload.size(), sizeof(t)));
    return t;
  }
  binder_ptr_cookie ptrCookie() const {
    binder_ptr_cookie pc{};
    std::memcpy(&pc, payload.data(), std::min(payload.size(), sizeof(pc)));
    return pc;
  }
  uint64_t cookie() const {
    uint64_t c = 0;
    std::memcpy(&c, payload.data(), std::min(payload.size(), sizeof(c)));
    return c;
  }
};

inline size_t brPayloadSize(uint32_t cmd) {
  switch (cmd) {
    case BR_TRANSACTION:
    case BR_REPLY:
      return sizeof(binder_transaction_data);
    case BR_TRANSACTION_SEC_CTX:
      return sizeof(binder_transaction_data_secctx);
    case BR_INCREFS:
    case BR_ACQUIRE:
    case BR_RELEASE:
    case BR_DECREFS:
      return sizeof(binder_ptr_cookie);
    case BR_DEAD_BINDER:
    case BR_CLEAR_DEATH_NOTIFICATION_DONE:
      return sizeof(binder_uintptr_t);
    default:
      return 0;
  }
}

inline std::vector<Br> decode(std::span<const uint8_t> bytes) {
  std::vector<Br> out;
  size_t pos = 0;
  while (pos + 4 <= bytes.size()) {
    Br br;
    std::memcpy(&br.cmd, bytes.data() + pos, 4);
    pos += 4;
    const size_t n = brPayloadSize(br.cmd);
    EXPECT_LE(pos + n, bytes.size()) << "truncated BR payload";
    br.payload.assign(bytes.data() + pos, bytes.data() + std::min(pos + n, bytes.size()));
    pos += n;
    out.push_back(std::move(br));
  }
  return out;
}

inline std::vector<uint32_t> codes(const std::vector<Br>& brs) {
  std::vector<uint32_t> c;
  for (const Br& b : brs) {
    c.push_back(b.cmd);
  }
  return c;
}

struct Io {
  WriteReadResult::Kind kind = WriteReadResult::Kind::kDone;
  int error = 0;
  binder_write_read bwr{};
  std::vector<Br> brs;
  std::vector<FdInstall> fds;
  bool spawn_word0 = false;  // WriteReadResult::overwrite_word0_with_spawn
  bool set_nice = false;
  int nice = 0;
  std::vector<uint32_t> codes() const { return test::codes(brs); }
};

struct Client {
  ProcId id{};
  FakeMemory* mem = nullptr;
  // Shared so that copies of a Client keep the area the Driver writes into alive.
  std::shared_ptr<std::vector<uint8_t>> area;
  uint64_t base = 0;
  int32_t pid = 0;
  // Reads a value from the receive area at a client address.
  template <typename T>
  T at(uint64_t user_addr) const {
    T v;
    std::memcpy(&v, area->data() + (user_addr - base), sizeof(T));
    return v;
  }
};

class DriverTest : public ::testing::Test {
 protected:
  static constexpr uint64_t kAreaBase = 0x7000'0000'0000;

  Client open(int32_t pid, uint32_t euid = 1000, size_t area_size = 128 * 1024, int32_t nice = 0) {
    auto mem = std::make_unique<FakeMemory>();
    Client c;
    c.mem = mem.get();
    c.pid = pid;
    c.id = drv_.openProcess({pid, euid, nice}, std::move(mem));
    c.area = std::make_shared<std::vector<uint8_t>>(area_size);
    c.base = kAreaBase + static_cast<uint64_t>(pid) * 0x100'0000;
    if (area_size > 0) {
      EXPECT_EQ(0, drv_.mmapArea(c.id, *c.area, c.base));
    }
    return c;
  }

  int ioctl(const Client& c, Tid tid, uint32_t cmd, void* arg, size_t n) {
    std::vector<uint8_t> buf(static_cast<const uint8_t*>(arg),
                             static_cast<const uint8_t*>(arg) + n);
    IoctlResult r = drv_.ioctl(c.id, tid, cmd, buf);
    std::memcpy(arg, buf.data(), n);
    return r.error;
  }
  template <typename T>
  int ioctl(const Client& c, Tid tid, uint32_t cmd, T* arg) {
    return ioctl(c, tid, cmd, arg, sizeof(T));
  }
  int ioctl(const Client& c, Tid tid, uint32_t cmd) {
    uint32_t zero = 0;
    return ioctl(c, tid, cmd, &zero, sizeof(zero));
  }

  // One BINDER_WRITE_READ: writes `cmds`, then reads up to read_size bytes.
  Io wr(const Client& c, Tid tid, const Cmds& cmds, size_t read_size = 512, bool nonblock = false) {
    Io io;
    io.bwr.write_size = cmds.bytes.size();
    io.bwr.read_size = read_size;
    read_buf_.assign(read_size, 0);
    WriteReadResult r = drv_.writeRead(c.id, tid, io.bwr, cmds.bytes, read_buf_, nonblock);
    return finish(io, r);
  }
  Io read(const Client& c, Tid tid, size_t read_size = 512, bool nonblock = false) {
    return wr(c, tid, Cmds{}, read_size, nonblock);
  }
  Io nbread(const Client& c, Tid tid, size_t read_size = 512) {
    return read(c, tid, read_size, /*nonblock=*/true);
  }
  Io write(const Client& c, Tid tid, const Cmds& cmds) { return wr(c, tid, cmds, 0); }
  // Resumes the parked read of `tid` (after a WouldBlock).
  Io resume(const Client& c, Tid tid, size_t read_size = 512) {
    Io io;
    io.bwr.read_size = read_size;
    read_buf_.assign(read_size, 0);
    WriteReadResult r = drv_.resumeRead(c.id, tid, io.bwr, read_buf_, false);
    return finish(io, r);
  }
  Io installFds(const Client& c, Tid tid, Io pending, std::vector<int> numbers) {
    WriteReadResult r = drv_.fdsInstalled(c.id, tid, pending.bwr, read_buf_, numbers);
    Io io;
    io.bwr = pending.bwr;
    return finish(io, r);
  }

  // A thread's first read returns at once (need_return); tests usually start with this.
  void startThread(const Client& c, Tid tid) {
    Io io = read(c, tid);
    ASSERT_EQ(io.kind, WriteReadResult::Kind::kDone);
  }
  void enterLooper(const Client& c, Tid tid) {
    Io io = write(c, tid, Cmds().cmd(BC_ENTER_LOOPER));
    ASSERT_EQ(io.error, 0);
  }
  void makeContextManager(const Client& c, Tid tid) {
    int32_t zero = 0;
    ASSERT_EQ(0, ioctl(c, tid, BINDER_SET_CONTEXT_MGR, &zero));
  }

  // Transaction data helpers: put data (and offsets) into the sender's memory.
  binder_transaction_data txn(const Client& c, uint32_t handle, uint32_t code,
                              const std::vector<uint8_t>& data,
                              const std::vector<uint64_t>& offsets = {}, uint32_t flags = 0) {
    binder_transaction_data tr{};
    tr.target.handle = handle;
    tr.code = code;
    tr.flags = flags;
    tr.data_size = data.size();
    tr.offsets_size = offsets.size() * sizeof(uint64_t);
    tr.data.ptr.buffer = data.empty() ? 0 : c.mem->put(data.data(), data.size());
    tr.data.ptr.offsets =
        offsets.empty() ? 0 : c.mem->put(offsets.data(), offsets.size() * sizeof(uint64_t));
    return tr;
  }
  template <typename T>
  static std::vector<uint8_t> bytesOf(const T& v) {
    std::vector<uint8_t> b(sizeof(T));
    std::memcpy(b.data(), &v, sizeof(T));
    return b;
  }
  static flat_binder_object binderObj(uint64_t ptr, uint64_t cookie, uint32_t flags = 0,
                                      bool strong = true) {
    flat_binder_object o{};
    o.hdr.type = strong ? BINDER_TYPE_BINDER : BINDER_TYPE_WEAK_BINDER;
    o.flags = flags;
    o.binder = ptr;
    o.cookie = cookie;
    return o;
  }
  static flat_binder_object handleObj(uint32_t handle, bool strong = true) {
    flat_binder_object o{};
    o.hdr.type = strong ? BINDER_TYPE_HANDLE : BINDER_TYPE_WEAK_HANDLE;
    o.handle = handle;
    return o;
  }
  binder_extended_error extendedError(const Client& c, Tid tid) {
    binder_extended_error ee{};
    EXPECT_EQ(0, ioctl(c, tid, BINDER_GET_EXTENDED_ERROR, &ee));
    return ee;
  }

  // Options of the Driver of the next fixture (set in a SetUpTestSuite to change them).
  static inline DriverOptions next_options_;
  RecordingEffects effects_;
  Driver drv_{"binder", effects_, next_options_};

 private:
  Io finish(Io& io, const WriteReadResult& r_in) {
    WriteReadResult& r = const_cast<WriteReadResult&>(r_in);
    io.kind = r.kind;
    io.error = r.error;
    io.fds = std::move(r.fds);
    io.spawn_word0 = r.overwrite_word0_with_spawn;
    io.set_nice = r.set_nice;
    io.nice = r.nice;
    const size_t n = std::min<size_t>(io.bwr.read_consumed, read_buf_.size());
    io.brs = decode(std::span<const uint8_t>(read_buf_.data(), n));
    return std::move(io);
  }
  std::vector<uint8_t> read_buf_;
};

}  // namespace nb::driver::test
