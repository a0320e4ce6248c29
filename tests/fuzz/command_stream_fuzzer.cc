// libFuzzer target: BC command streams and ioctls from 3 processes x 3 threads driven through the
// nb_driver_core Driver facade (fake client memory built from the input, recording Effects).
// Covers transactions carrying objects (BINDER/HANDLE/FD/FDA/PTR), frees, refcount commands,
// death notifications, looper commands, thread exits, parked reads resumed after wake-ups, file
// installs (succeeding or failing), flush, unmap and release/reopen.
//
// Invariants: no crash or sanitizer report; a parked thread is only reported by the core as
// parked; after every process is released the state dump equals a fresh driver's and no object
// (proc, thread, node, ref, death, transaction, ...) is still active in the stats.
#include <fcntl.h>
#include <linux/android/binder.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "local_driver/core/driver.h"

namespace {

using nb::driver::ClientIdentity;
using nb::driver::ClientMemory;
using nb::driver::Driver;
using nb::driver::Effects;
using nb::driver::ProcId;
using nb::driver::Tid;
using nb::driver::UniqueFd;
using nb::driver::WriteReadResult;
using K = WriteReadResult::Kind;

constexpr int kProcs = 3;
constexpr int kThreads = 3;
constexpr size_t kAreaSize = 64 * 1024;
constexpr size_t kReadSize = 1024;
constexpr uint64_t kMemBase = 0x10000;
constexpr size_t kMemSize = 64 * 1024;

// The fuzz input, consumed front to back; exhausted input reads as zeros.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return pos_ >= size_; }
  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
      v |= uint32_t{u8()} << (8 * i);
    return v;
  }
  uint64_t u64() { return uint64_t{u32()} | (uint64_t{u32()} << 32); }
  uint32_t below(uint32_t n) { return n == 0 ? 0 : u8() % n; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Files the fake clients "own": a memfd and a pipe end, opened once.
int ownedFd(int i) {
  static const std::array<int, 2> fds = [] {
    std::array<int, 2> f{};
    f[0] = memfd_create("fuzz", MFD_CLOEXEC);
    int p[2] = {-1, -1};
    if (pipe2(p, O_CLOEXEC) == 0) {
      close(p[1]);
    }
    f[1] = p[0];
    return f;
  }();
  return fds[static_cast<size_t>(i) % fds.size()];
}

// One process's user memory: a flat arena at kMemBase the streams' pointers refer to.
class ArenaMemory : public ClientMemory {
 public:
  explicit ArenaMemory(std::vector<uint8_t>* arena) : arena_(arena) {}
  bool read(uint64_t addr, std::span<uint8_t> out) override {
    if (addr < kMemBase || addr - kMemBase > arena_->size() ||
        out.size() > arena_->size() - (addr - kMemBase)) {
      return false;
    }
    if (!out.empty()) {
      std::memcpy(out.data(), arena_->data() + (addr - kMemBase), out.size());
    }
    return true;
  }
  absl::StatusOr<UniqueFd> takeFd(int fd) override {
    if (fd < 0 || fd > 2) {
      return absl::InvalidArgumentError("EBADF");
    }
    const int copy = dup(ownedFd(fd));
    if (copy < 0) {
      return absl::ResourceExhaustedError("dup");
    }
    return UniqueFd(copy);
  }

 private:
  std::vector<uint8_t>* arena_;
};

class RecordingEffects : public Effects {
 public:
  void wakeThread(ProcId proc, Tid tid) override { woken.emplace_back(proc, tid); }
  void wakePollers(ProcId) override {}
  void closeClientFds(ProcId, std::vector<int> fds) override { closed += fds.size(); }
  std::vector<std::pair<ProcId, Tid>> woken;
  size_t closed = 0;
};

struct ThreadState {
  bool parked = false;
  bool nonblock = false;
  uint64_t read_consumed_on_entry = 0;
  binder_write_read bwr{};
  std::vector<uint8_t> out = std::vector<uint8_t>(kReadSize);
};

struct ProcState {
  bool open = false;
  ProcId id{};
  std::vector<uint8_t> area = std::vector<uint8_t>(kAreaSize);
  std::vector<uint8_t> mem = std::vector<uint8_t>(kMemSize);
  size_t mem_next = 0;
  std::array<ThreadState, kThreads> threads;
  // Values seen in BR streams, reused by later commands.
  std::vector<uint64_t> buffers;
  std::vector<std::pair<uint64_t, uint64_t>> nodes;  // ptr, cookie
  std::vector<uint64_t> death_cookies;
};

class Harness {
 public:
  explicit Harness(Input& in) : in_(in), drv_("binder", effects_) {}

  void run() {
    for (int p = 0; p < kProcs; ++p)
      openProc(p);
    int steps = 0;
    while (!in_.empty() && steps++ < 256)
      step();
    // Resume everything once more, then release all and check nothing is left.
    resumeWoken();
    for (int p = 0; p < kProcs; ++p)
      releaseProc(p);
    checkEmpty();
  }

 private:
  void openProc(int p) {
    ProcState& ps = procs_[p];
    ps = ProcState{};
    ps.id = drv_.openProcess(
        ClientIdentity{100 + p, 1000u + static_cast<uint32_t>(p % 2), static_cast<int32_t>(p) - 1},
        std::make_unique<ArenaMemory>(&ps.mem));
    ps.open = true;
    if (in_.below(8) != 0) {
      (void)drv_.mmapArea(ps.id, ps.area,
                          0x7000'0000'0000ull + static_cast<uint64_t>(p) * 0x100000);
    }
  }

  void releaseProc(int p) {
    ProcState& ps = procs_[p];
    if (!ps.open)
      return;
    drv_.flush(ps.id);
    drv_.releaseProcess(ps.id);
    ps.open = false;
    for (ThreadState& t : ps.threads)
      t.parked = false;
  }

  void checkEmpty() {
    RecordingEffects e;
    Driver fresh("binder", e);
    const std::string state = drv_.dumpState();
    if (state != fresh.dumpState()) {
      std::fprintf(stderr, "state left after releasing every process:\n%s\n", state.c_str());
      std::abort();
    }
    const std::string stats = drv_.dumpStats();
    size_t pos = 0;
    while ((pos = stats.find(": active ", pos)) != std::string::npos) {
      pos += 9;
      if (stats[pos] != '0' || stats[pos + 1] != ' ') {
        std::fprintf(stderr, "objects still active:\n%s\n", stats.c_str());
        std::abort();
      }
    }
  }

  int pickProc() { return static_cast<int>(in_.below(kProcs)); }

  void step() {
    const int p = pickProc();
    ProcState& ps = procs_[p];
    const Tid tid = 1 + static_cast<Tid>(in_.below(kThreads));
    ThreadState& ts = ps.threads[static_cast<size_t>(tid - 1)];
    const uint8_t op = in_.below(16);
    if (!ps.open) {
      if (op < 4)
        openProc(p);
      return;
    }
    switch (op) {
      case 0:
      case 1:
      case 2:
      case 3:
      case 4:
      case 5:
        if (!ts.parked)
          writeRead(p, tid);
        break;
      case 6:
      case 7:
        resumeWoken();
        break;
      case 8:
        if (ts.parked) {  // spurious resume
          finish(p, tid, drv_.resumeRead(ps.id, tid, ts.bwr, ts.out, ts.nonblock));
        }
        break;
      case 9:
        if (ts.parked) {
          drv_.cancelWait(ps.id, tid);
          ts.parked = false;
        }
        break;
      case 10:
      case 11:
        if (!ts.parked)
          ioctl(p, tid);
        break;
      case 12:
        (void)drv_.pollReadable(ps.id, tid);
        break;
      case 13:
        drv_.flush(ps.id);
        break;
      case 14:
        if (in_.below(4) == 0)
          drv_.unmapArea(ps.id);
        break;
      case 15:
        if (in_.below(3) == 0)
          releaseProc(p);
        break;
    }
  }

  void resumeWoken() {
    for (int round = 0; round < 4 && !effects_.woken.empty(); ++round) {
      auto woken = std::move(effects_.woken);
      effects_.woken.clear();
      for (auto [id, tid] : woken) {
        for (int p = 0; p < kProcs; ++p) {
          ProcState& ps = procs_[p];
          if (!ps.open || ps.id != id || tid < 1 || tid > kThreads)
            continue;
          ThreadState& ts = ps.threads[static_cast<size_t>(tid - 1)];
          if (ts.parked) {
            finish(p, tid, drv_.resumeRead(ps.id, tid, ts.bwr, ts.out, ts.nonblock));
          }
        }
      }
    }
  }

  // Places bytes in the process's memory; returns their user address (0 when full).
  uint64_t place(ProcState& ps, const void* bytes, size_t n) {
    const size_t at = (ps.mem_next + 7) & ~size_t{7};
    if (at + n > ps.mem.size()) {
      ps.mem_next = 0;
      return n <= ps.mem.size() ? place(ps, bytes, n) : 0;
    }
    std::memcpy(ps.mem.data() + at, bytes, n);
    ps.mem_next = at + n;
    return kMemBase + at;
  }

  uint32_t handle() { return in_.below(6); }

  uint64_t nodePtr(ProcState& ps) {
    if (!ps.nodes.empty() && in_.below(2) == 0)
      return ps.nodes[in_.below(255) % ps.nodes.size()].first;
    return 0x1000 * (1 + in_.below(4));
  }

  // A transaction's payload: objects laid out back to back, plus a few raw bytes.
  void buildTxn(ProcState& ps, binder_transaction_data_sg& sg, bool sg_variant) {
    binder_transaction_data& tr = sg.transaction_data;
    std::vector<uint8_t> data;
    std::vector<binder_size_t> offsets;
    uint64_t buffers_size = 0;
    const uint32_t nobj = in_.below(5);
    for (uint32_t i = 0; i < nobj; ++i) {
      const size_t off = data.size();
      const uint8_t kind = in_.below(8);
      if (kind <= 3) {
        flat_binder_object o{};
        static constexpr uint32_t kTypes[] = {BINDER_TYPE_BINDER, BINDER_TYPE_WEAK_BINDER,
                                              BINDER_TYPE_HANDLE, BINDER_TYPE_WEAK_HANDLE};
        o.hdr.type = kTypes[kind];
        o.flags = in_.below(4) == 0 ? in_.u32() : FLAT_BINDER_FLAG_ACCEPTS_FDS | in_.below(20);
        if (kind <= 1) {
          o.binder = nodePtr(ps);
          o.cookie = o.binder + 1;
        } else {
          o.handle = handle();
        }
        data.resize(off + sizeof(o));
        std::memcpy(data.data() + off, &o, sizeof(o));
      } else if (kind == 4) {
        binder_fd_object o{};
        o.hdr.type = BINDER_TYPE_FD;
        o.fd = in_.below(4);
        o.cookie = in_.u8();
        data.resize(off + sizeof(o));
        std::memcpy(data.data() + off, &o, sizeof(o));
      } else if (kind <= 6) {
        // PTR with a payload in client memory; its payload may hold fds for a following FDA.
        binder_buffer_object o{};
        o.hdr.type = BINDER_TYPE_PTR;
        std::vector<uint8_t> payload(8 * (1 + in_.below(4)));
        for (size_t j = 0; j < payload.size(); j += 4) {
          const uint32_t v = in_.below(3) == 0 ? in_.u32() : in_.below(3);
          std::memcpy(payload.data() + j, &v, 4);
        }
        o.buffer = place(ps, payload.data(), payload.size());
        o.length = in_.below(8) == 0 ? in_.u32() : payload.size();
        if (!offsets.empty() && in_.below(2) == 0) {
          o.flags = BINDER_BUFFER_FLAG_HAS_PARENT;
          o.parent = in_.below(static_cast<uint32_t>(offsets.size()));
          o.parent_offset = in_.below(16);
        }
        buffers_size += (o.length + 7) & ~uint64_t{7};
        data.resize(off + sizeof(o));
        std::memcpy(data.data() + off, &o, sizeof(o));
      } else {
        binder_fd_array_object o{};
        o.hdr.type = BINDER_TYPE_FDA;
        o.num_fds = in_.below(4);
        o.parent =
            offsets.empty() ? in_.below(2) : in_.below(static_cast<uint32_t>(offsets.size()));
        o.parent_offset = 4 * in_.below(4);
        data.resize(off + sizeof(o));
        std::memcpy(data.data() + off, &o, sizeof(o));
      }
      offsets.push_back(in_.below(16) == 0 ? in_.u8() : off);
    }
    data.resize(data.size() + in_.below(12));
    tr.target.handle = handle();
    tr.code = in_.u8();
    const uint8_t fl = in_.u8();
    tr.flags = (fl & 1 ? TF_ONE_WAY : 0) | (fl & 2 ? TF_ACCEPT_FDS : 0) |
               (fl & 4 ? TF_UPDATE_TXN : 0) | (fl == 0xff ? in_.u32() : 0);
    tr.data_size = in_.below(16) == 0 ? in_.u32() : data.size();
    tr.offsets_size = in_.below(16) == 0 ? in_.u32() : offsets.size() * sizeof(binder_size_t);
    tr.data.ptr.buffer =
        data.empty() ? (in_.below(2) ? 0 : kMemBase) : place(ps, data.data(), data.size());
    tr.data.ptr.offsets =
        offsets.empty() ? 0 : place(ps, offsets.data(), offsets.size() * sizeof(binder_size_t));
    sg.buffers_size = sg_variant && in_.below(8) == 0 ? in_.u32() : buffers_size;
  }

  template <typename T>
  static void append(std::vector<uint8_t>& s, const T& v) {
    const size_t at = s.size();
    s.resize(at + sizeof(T));
    std::memcpy(s.data() + at, &v, sizeof(T));
  }

  std::vector<uint8_t> commands(ProcState& ps) {
    std::vector<uint8_t> s;
    const uint32_t n = in_.below(5);
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t c = in_.below(20);
      switch (c) {
        case 0:
        case 1:
        case 2:
        case 3: {
          const bool sg_variant = c >= 2;
          binder_transaction_data_sg sg{};
          buildTxn(ps, sg, sg_variant);
          const bool reply = c % 2 == 1;
          append(s, sg_variant ? (reply ? BC_REPLY_SG : BC_TRANSACTION_SG)
                               : (reply ? BC_REPLY : BC_TRANSACTION));
          if (sg_variant) {
            append(s, sg);
          } else {
            append(s, sg.transaction_data);
          }
          break;
        }
        case 4: {
          append(s, BC_FREE_BUFFER);
          uint64_t b = ps.buffers.empty() || in_.below(8) == 0
                           ? in_.u64()
                           : ps.buffers[in_.below(255) % ps.buffers.size()];
          append(s, static_cast<binder_uintptr_t>(b));
          break;
        }
        case 5:
        case 6:
        case 7:
        case 8: {
          static constexpr uint32_t kRef[] = {BC_INCREFS, BC_ACQUIRE, BC_RELEASE, BC_DECREFS};
          append(s, kRef[c - 5]);
          append(s, handle());
          break;
        }
        case 9:
        case 10: {
          append(s, c == 9 ? BC_INCREFS_DONE : BC_ACQUIRE_DONE);
          binder_ptr_cookie pc{};
          if (!ps.nodes.empty() && in_.below(8) != 0) {
            auto [ptr, cookie] = ps.nodes[in_.below(255) % ps.nodes.size()];
            pc.ptr = ptr;
            pc.cookie = cookie;
          } else {
            pc.ptr = nodePtr(ps);
            pc.cookie = pc.ptr + in_.below(2);
          }
          append(s, pc);
          break;
        }
        case 11:
        case 12: {
          append(s, c == 11 ? BC_REQUEST_DEATH_NOTIFICATION : BC_CLEAR_DEATH_NOTIFICATION);
          binder_handle_cookie hc{};
          hc.handle = handle();
          hc.cookie = 0x100 + in_.below(4);
          append(s, hc);
          break;
        }
        case 13: {
          append(s, BC_DEAD_BINDER_DONE);
          uint64_t cookie = ps.death_cookies.empty() || in_.below(8) == 0
                                ? 0x100 + in_.below(4)
                                : ps.death_cookies[in_.below(255) % ps.death_cookies.size()];
          append(s, static_cast<binder_uintptr_t>(cookie));
          break;
        }
        case 14:
          append(s, BC_ENTER_LOOPER);
          break;
        case 15:
          append(s, BC_REGISTER_LOOPER);
          break;
        case 16:
          append(s, BC_EXIT_LOOPER);
          break;
        case 17: {
          append(s, BC_INCREFS);  // a handle as a 64-bit ref op
          append(s, in_.u32());
          break;
        }
        case 18: {
          // A truncated or unknown command.
          const uint32_t words = in_.below(3);
          for (uint32_t w = 0; w < words; ++w)
            append(s, in_.u32());
          break;
        }
        default:
          append(s, static_cast<uint32_t>(in_.below(2) ? BC_TRANSACTION : BC_FREE_BUFFER));
          break;
      }
    }
    return s;
  }

  void writeRead(int p, Tid tid) {
    ProcState& ps = procs_[p];
    ThreadState& ts = ps.threads[static_cast<size_t>(tid - 1)];
    std::vector<uint8_t> stream = commands(ps);
    ts.bwr = binder_write_read{};
    ts.bwr.write_size = stream.size();
    const uint8_t r = in_.below(8);
    ts.bwr.read_size = r == 0 ? 0 : (r == 1 ? in_.below(64) : kReadSize);
    if (r == 2)
      ts.bwr.read_consumed = 4 * in_.below(3);
    if (r == 3)
      ts.bwr.write_consumed = in_.below(8);
    ts.read_consumed_on_entry = ts.bwr.read_consumed;
    ts.nonblock = in_.below(4) == 0;
    drv_.setThreadNice(ps.id, tid, static_cast<int>(in_.below(40)) - 20);
    std::span<uint8_t> out(ts.out.data(), std::min<size_t>(ts.out.size(), ts.bwr.read_size));
    finish(p, tid, drv_.writeRead(ps.id, tid, ts.bwr, stream, out, ts.nonblock));
  }

  void ioctl(int p, Tid tid) {
    ProcState& ps = procs_[p];
    std::vector<uint8_t> arg(64);
    uint32_t cmd = 0;
    switch (in_.below(9)) {
      case 0: {
        cmd = BINDER_SET_MAX_THREADS;
        const uint32_t max = in_.below(4);
        std::memcpy(arg.data(), &max, 4);
        break;
      }
      case 1:
        cmd = BINDER_SET_CONTEXT_MGR;
        break;
      case 2: {
        cmd = BINDER_SET_CONTEXT_MGR_EXT;
        flat_binder_object o{};
        o.hdr.type = BINDER_TYPE_BINDER;
        o.flags = in_.u8() | (in_.below(2) != 0 ? FLAT_BINDER_FLAG_ACCEPTS_FDS : 0);
        std::memcpy(arg.data(), &o, sizeof(o));
        break;
      }
      case 3:
        cmd = BINDER_THREAD_EXIT;
        break;
      case 4:
        cmd = BINDER_GET_NODE_DEBUG_INFO;
        arg[0] = in_.u8();
        break;
      case 5: {
        cmd = BINDER_GET_NODE_INFO_FOR_REF;
        binder_node_info_for_ref info{};
        info.handle = handle();
        std::memcpy(arg.data(), &info, sizeof(info));
        break;
      }
      case 6: {
        cmd = BINDER_FREEZE;
        binder_freeze_info fi{};
        fi.pid = 100 + static_cast<uint32_t>(pickProc());
        fi.enable = in_.below(2);
        fi.timeout_ms = 0;
        std::memcpy(arg.data(), &fi, sizeof(fi));
        break;
      }
      case 7:
        cmd = BINDER_GET_EXTENDED_ERROR;
        break;
      default:
        cmd = BINDER_ENABLE_ONEWAY_SPAM_DETECTION;
        arg[0] = in_.below(2);
        break;
    }
    arg.resize(_IOC_SIZE(cmd));
    (void)drv_.ioctl(ps.id, tid, cmd, arg);
    if (cmd == BINDER_THREAD_EXIT)
      ps.threads[static_cast<size_t>(tid - 1)].parked = false;
  }

  // Records the values a BR stream hands to the client.
  void scan(ProcState& ps, std::span<const uint8_t> bytes) {
    size_t pos = 0;
    while (pos + 4 <= bytes.size()) {
      uint32_t cmd;
      std::memcpy(&cmd, bytes.data() + pos, 4);
      pos += 4;
      const size_t size = _IOC_SIZE(cmd);
      if (pos + size > bytes.size())
        break;
      const uint8_t* payload = bytes.data() + pos;
      pos += size;
      if (cmd == BR_TRANSACTION || cmd == BR_REPLY || cmd == BR_TRANSACTION_SEC_CTX) {
        binder_transaction_data tr;
        std::memcpy(&tr, payload, sizeof(tr));
        if (ps.buffers.size() < 64)
          ps.buffers.push_back(tr.data.ptr.buffer);
      } else if (cmd == BR_INCREFS || cmd == BR_ACQUIRE || cmd == BR_RELEASE || cmd == BR_DECREFS) {
        binder_ptr_cookie pc;
        std::memcpy(&pc, payload, sizeof(pc));
        if (ps.nodes.size() < 64)
          ps.nodes.emplace_back(pc.ptr, pc.cookie);
      } else if (cmd == BR_DEAD_BINDER) {
        binder_uintptr_t cookie;
        std::memcpy(&cookie, payload, sizeof(cookie));
        if (ps.death_cookies.size() < 64)
          ps.death_cookies.push_back(cookie);
      }
    }
  }

  void finish(int p, Tid tid, WriteReadResult r) {
    ProcState& ps = procs_[p];
    ThreadState& ts = ps.threads[static_cast<size_t>(tid - 1)];
    std::span<uint8_t> out(ts.out.data(), std::min<size_t>(ts.out.size(), ts.bwr.read_size));
    for (int guard = 0; r.kind == K::kInstallFds && guard < 8; ++guard) {
      std::vector<int> numbers;
      const uint8_t how = in_.below(8);
      for (size_t i = 0; i < r.fds.size(); ++i) {
        if (r.fds[i].file.get() < 0)
          std::abort();  // the core hands over real files
        numbers.push_back(how == 0 && i + 1 == r.fds.size() ? -1 : 1000 + static_cast<int>(i));
      }
      if (how == 1 && !numbers.empty())
        numbers.pop_back();
      r.fds.clear();  // the fake client "installed" them: our copies close here
      r = drv_.fdsInstalled(ps.id, tid, ts.bwr, out, numbers);
    }
    ts.parked = r.kind == K::kWouldBlock;
    if (r.kind == K::kDone && r.error == 0) {
      if (ts.bwr.read_consumed > ts.bwr.read_size)
        std::abort();
      const uint64_t produced = ts.bwr.read_consumed - ts.read_consumed_on_entry;
      scan(ps, std::span<const uint8_t>(out.data(), std::min<size_t>(out.size(), produced)));
    }
    if (r.set_nice && (r.nice < -20 || r.nice > 19))
      std::abort();
  }

  Input& in_;
  RecordingEffects effects_;
  Driver drv_;
  std::array<ProcState, kProcs> procs_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  Harness h(in);
  h.run();
  return 0;
}
