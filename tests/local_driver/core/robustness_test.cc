// Randomised command streams from several processes (deterministic seeds): the core must never
// crash or leak, whatever the order of calls, replies, frees, ref changes, deaths and exits. Run
// under ASan/UBSan in the sanitizer build. At the end every process is released and the state
// must be empty.
#include <random>

#include "tests/local_driver/core/driver_harness.h"

namespace nb::driver::test {
namespace {

using K = WriteReadResult::Kind;

class RobustnessTest : public DriverTest, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override { ASSERT_EQ(0, ::pipe(pipe_)); }
  void TearDown() override {
    ::close(pipe_[0]);
    ::close(pipe_[1]);
  }
  // [pad | PTR(3 fds) | FDA(2 fds at offset 4) | FD], oneway or not.
  binder_transaction_data_sg sgWithFds(const Client& c, uint32_t handle, bool oneway) {
    const uint32_t fds[3] = {0, static_cast<uint32_t>(pipe_[0]), static_cast<uint32_t>(pipe_[1])};
    struct {
      uint64_t pad;
      binder_buffer_object ptr;
      binder_fd_array_object fda;
      binder_fd_object fd;
    } data{};
    data.ptr.hdr.type = BINDER_TYPE_PTR;
    data.ptr.buffer = c.mem->put(fds, sizeof(fds));
    data.ptr.length = sizeof(fds);
    data.fda.hdr.type = BINDER_TYPE_FDA;
    data.fda.num_fds = 2;
    data.fda.parent_offset = 4;
    data.fd.hdr.type = BINDER_TYPE_FD;
    data.fd.fd = static_cast<uint32_t>(pipe_[0]);
    binder_transaction_data_sg sg{};
    sg.transaction_data = txn(c, handle, 3, bytesOf(data), {8, 48, 80},
                              oneway ? static_cast<uint32_t>(TF_ONE_WAY) : 0u);
    sg.buffers_size = 16;
    return sg;
  }
  int pipe_[2] = {-1, -1};
};

TEST_P(RobustnessTest, RandomStreamsLeaveNoState) {
  std::mt19937 rng(static_cast<uint32_t>(GetParam()));
  auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
  std::vector<Client> procs;
  for (int i = 0; i < 4; ++i) {
    procs.push_back(open(100 + i, 1000, 16 * 1024));
    procs.back().mem->valid_fds = {pipe_[0], pipe_[1]};
  }
  flat_binder_object mgr_obj = binderObj(0, 0, FLAT_BINDER_FLAG_ACCEPTS_FDS);
  ASSERT_EQ(0, ioctl(procs[0], 1, BINDER_SET_CONTEXT_MGR_EXT, &mgr_obj));
  int installs = 0;
  std::map<std::pair<int, Tid>, bool> parked;
  std::vector<uint64_t> seen_buffers;
  for (int step = 0; step < 1000; ++step) {
    const int pi = static_cast<int>(pick(procs.size()));
    Client& c = procs[pi];
    const Tid tid = static_cast<Tid>(1 + pick(3));
    Io io;
    bool resumed = false;
    if (parked[{pi, tid}]) {
      if (pick(2) == 0) {
        drv_.cancelWait(c.id, tid);
        parked[{pi, tid}] = false;
        continue;
      }
      io = resume(c, tid, 256);  // possibly a spurious wake-up
      parked[{pi, tid}] = false;
      resumed = true;
    }
    Cmds cmds;
    const uint32_t h = pick(4);
    switch (resumed ? 99 : pick(12)) {
      case 0:
        cmds.cmd(BC_ENTER_LOOPER);
        break;
      case 1: {
        struct {
          flat_binder_object a, b;
        } objs{binderObj(0x100 * (1 + pick(3)), 7, FLAT_BINDER_FLAG_ACCEPTS_FDS),
               handleObj(pick(4), pick(2) == 0)};
        const uint32_t flags = pick(2) == 0 ? static_cast<uint32_t>(TF_ONE_WAY) : 0u;
        std::vector<uint64_t> offsets{0, 24};
        offsets.resize(pick(3));  // 0, 1 or 2 objects
        cmds.cmd(BC_TRANSACTION, txn(c, h, 1, bytesOf(objs), offsets, flags));
        break;
      }
      case 2:
        cmds.cmd(BC_REPLY, txn(c, 0, 0, bytesOf(handleObj(pick(4))), {0}));
        break;
      case 3:
        cmds.cmd(pick(2) == 0 ? BC_ACQUIRE : BC_INCREFS, h);
        break;
      case 4:
        cmds.cmd(pick(2) == 0 ? BC_RELEASE : BC_DECREFS, h);
        break;
      case 5:
        if (!seen_buffers.empty()) {
          cmds.cmd(BC_FREE_BUFFER,
                   static_cast<binder_uintptr_t>(seen_buffers[pick(seen_buffers.size())]));
        }
        break;
      case 6:
        cmds.handleCookie(
            pick(2) == 0 ? BC_REQUEST_DEATH_NOTIFICATION : BC_CLEAR_DEATH_NOTIFICATION, h, pick(3));
        cmds.cmd(BC_DEAD_BINDER_DONE, static_cast<binder_uintptr_t>(pick(3)));
        break;
      case 7:
        (void)ioctl(c, tid, BINDER_THREAD_EXIT);
        continue;
      case 8: {
        binder_ptr_cookie pc{0x100 * (1 + pick(3)), 7};
        cmds.cmd(BC_INCREFS_DONE, pc).cmd(BC_ACQUIRE_DONE, pc);
        break;
      }
      case 9:
        cmds.cmd(BC_TRANSACTION_SG, sgWithFds(c, h, pick(2) == 0));
        break;
      case 10:
        drv_.flush(c.id);
        (void)drv_.pollReadable(c.id, tid);
        continue;
      case 11: {
        binder_freeze_info fi{static_cast<uint32_t>(c.pid), pick(2), 0};
        (void)ioctl(c, tid, BINDER_FREEZE, &fi);
        continue;
      }
      default:
        break;
    }
    if (!resumed) {
      io = wr(c, tid, cmds, 256, /*nonblock=*/pick(3) == 0);
    }
    if (io.kind == K::kWouldBlock) {
      parked[{pi, tid}] = true;
    }
    while (io.kind == K::kInstallFds) {
      // The client installs them (numbers from 100), or fails one.
      std::vector<int> numbers;
      for (size_t i = 0; i < io.fds.size(); ++i) {
        numbers.push_back(pick(5) == 0 ? -1 : static_cast<int>(100 + i));
      }
      for (const Br& br : io.brs) {
        if (br.cmd == BR_TRANSACTION || br.cmd == BR_REPLY) {
          seen_buffers.push_back(br.tr().data.ptr.buffer);
        }
      }
      ++installs;
      io = installFds(c, tid, std::move(io), numbers);
      if (io.kind == K::kWouldBlock) {
        parked[{pi, tid}] = true;
      }
    }
    for (const Br& br : io.brs) {
      if (br.cmd == BR_TRANSACTION || br.cmd == BR_REPLY) {
        seen_buffers.push_back(br.tr().data.ptr.buffer);
      }
    }
    if (step % 97 == 96) {
      // A process dies and is replaced by a fresh one.
      const int victim = 1 + static_cast<int>(pick(procs.size() - 1));
      drv_.releaseProcess(procs[victim].id);
      for (Tid t = 1; t <= 3; ++t) {
        parked[{victim, t}] = false;
      }
      procs[victim] = open(200 + step, 1000, 16 * 1024);
      procs[victim].mem->valid_fds = {pipe_[0], pipe_[1]};
    }
    (void)drv_.dumpState();
    (void)drv_.dumpTransactions();
  }
  EXPECT_FALSE(seen_buffers.empty()) << "the stream should deliver some transactions";
  EXPECT_GT(installs, 0) << "the stream should deliver some fds";
  for (const Client& c : procs) {
    drv_.releaseProcess(c.id);
  }
  EXPECT_EQ(drv_.dumpState(), "binder state:\n");
  const std::string stats = drv_.dumpStats();
  for (const char* obj : {"proc: active 0", "thread: active 0", "node: active 0", "ref: active 0",
                          "transaction: active 0"}) {
    if (stats.find(std::string(obj).substr(0, std::string(obj).find(':'))) != std::string::npos) {
      EXPECT_NE(stats.find(obj), std::string::npos) << obj << "\n" << stats;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, RobustnessTest, ::testing::Range(1, 41));

}  // namespace
}  // namespace nb::driver::test
