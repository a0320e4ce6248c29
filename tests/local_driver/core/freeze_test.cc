// BINDER_FREEZE / GET_FROZEN_INFO (basic, §2), TF_CLEAR_BUF, replies carrying fds (TF_ACCEPT_FDS).
#include "tests/local_driver/core/driver_harness.h"

namespace nb::driver::test {
namespace {

using K = WriteReadResult::Kind;

class FreezeTest : public DriverTest {
 protected:
  void SetUp() override {
    mgr_ = open(100);
    startThread(mgr_, 1);
    makeContextManager(mgr_, 1);
    enterLooper(mgr_, 1);
    a_ = open(200);
    startThread(a_, 2);
  }
  Client mgr_;
  Client a_;
};

TEST_F(FreezeTest, SyncToFrozenIsFrozenReplyOnewayIsQueued) {
  binder_freeze_info fi{100, 1, 0};
  ASSERT_EQ(0, ioctl(a_, 2, BINDER_FREEZE, &fi));
  Io sync = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {})));
  EXPECT_EQ(sync.codes(), (std::vector<uint32_t>{BR_NOOP, BR_FROZEN_REPLY}));
  Io oneway = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 2, {}, {}, TF_ONE_WAY)));
  EXPECT_EQ(oneway.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  binder_frozen_status_info st{};
  st.pid = 100;
  ASSERT_EQ(0, ioctl(a_, 2, BINDER_GET_FROZEN_INFO, &st));
  EXPECT_EQ(st.sync_recv & 1u, 1u);
  EXPECT_EQ(st.sync_recv & 2u, 2u);  // the queued oneway is pending
  EXPECT_EQ(st.async_recv, 1u);
  // Busy: freezing again fails with EAGAIN and leaves the process unfrozen.
  EXPECT_EQ(EAGAIN, ioctl(a_, 2, BINDER_FREEZE, &fi));
  Io sync2 = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY)));
  EXPECT_EQ(sync2.codes().back(), static_cast<uint32_t>(BR_TRANSACTION_COMPLETE));
}

TEST_F(FreezeTest, UpdateTxnReplacesQueuedOnewayWhileFrozen) {
  binder_freeze_info fi{100, 1, 0};
  ASSERT_EQ(0, ioctl(a_, 2, BINDER_FREEZE, &fi));
  const uint32_t flags = TF_ONE_WAY | TF_UPDATE_TXN;
  // The first oneway is in flight (delivered later), the next ones queue on the node; each newer
  // identical one replaces the queued one.
  for (uint8_t v = 1; v <= 3; ++v) {
    Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 5, {v}, {}, flags)));
    ASSERT_EQ(io.codes().back(), static_cast<uint32_t>(BR_TRANSACTION_COMPLETE));
  }
  fi.enable = 0;
  ASSERT_EQ(0, ioctl(a_, 2, BINDER_FREEZE, &fi));
  Io first = read(mgr_, 1);
  ASSERT_EQ(first.codes().back(), static_cast<uint32_t>(BR_TRANSACTION));
  const binder_transaction_data t1 = first.brs.back().tr();
  EXPECT_EQ(mgr_.at<uint8_t>(t1.data.ptr.buffer), 1);
  Io second =
      wr(mgr_, 1, Cmds().cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(t1.data.ptr.buffer)));
  ASSERT_EQ(second.codes().back(), static_cast<uint32_t>(BR_TRANSACTION));
  EXPECT_EQ(mgr_.at<uint8_t>(second.brs.back().tr().data.ptr.buffer), 3);  // 2 was replaced
  EXPECT_NE(drv_.dumpStats().find("transaction: active 0 total 3"), std::string::npos)
      << drv_.dumpStats();
}

TEST_F(FreezeTest, ClearBufZeroesAtFree) {
  Io io =
      wr(a_, 2,
         Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {7, 7, 7, 7}, {}, TF_ONE_WAY | TF_CLEAR_BUF)));
  ASSERT_EQ(io.error, 0);
  Io in = read(mgr_, 1);
  const uint64_t buf = in.brs.back().tr().data.ptr.buffer;
  EXPECT_EQ(mgr_.at<uint32_t>(buf), 0x07070707u);
  EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(buf))).error,
            0);
  EXPECT_EQ(mgr_.at<uint32_t>(buf), 0u);
}

TEST_F(FreezeTest, ReplyCarriesFdWhenCallerAcceptsFds) {
  int p[2];
  ASSERT_EQ(0, ::pipe(p));
  mgr_.mem->valid_fds = {p[0]};
  Io call = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ACCEPT_FDS)));
  ASSERT_EQ(call.kind, K::kWouldBlock);
  Io in = read(mgr_, 1);
  ASSERT_EQ(in.codes().back(), static_cast<uint32_t>(BR_TRANSACTION));
  binder_fd_object fdo{};
  fdo.hdr.type = BINDER_TYPE_FD;
  fdo.fd = static_cast<uint32_t>(p[0]);
  Io rep = wr(mgr_, 1, Cmds().cmd(BC_REPLY, txn(mgr_, 0, 0, bytesOf(fdo), {0})));
  EXPECT_EQ(rep.codes().back(), static_cast<uint32_t>(BR_TRANSACTION_COMPLETE));
  Io back = resume(a_, 2);
  ASSERT_EQ(back.kind, K::kInstallFds);
  ASSERT_EQ(back.fds.size(), 1u);
  Io done = installFds(a_, 2, std::move(back), {12});
  ASSERT_EQ(done.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE, BR_REPLY}));
  EXPECT_EQ(a_.at<binder_fd_object>(done.brs[2].tr().data.ptr.buffer).fd, 12u);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(FreezeTest, ThreeProcessNestedChainUnwinds) {
  Client b = open(300);
  startThread(b, 3);
  enterLooper(b, 3);
  // b hands a node to the manager so the manager can call b.
  Io give = wr(
      b, 3,
      Cmds().cmd(BC_TRANSACTION, txn(b, 0, 1, bytesOf(binderObj(0x30, 0x31)), {0}, TF_ONE_WAY)), 0);
  ASSERT_EQ(give.error, 0);
  Io in = read(mgr_, 1);
  EXPECT_EQ(write(mgr_, 1,
                  Cmds()
                      .cmd(BC_ACQUIRE, 1u)
                      .cmd(BC_FREE_BUFFER,
                           static_cast<binder_uintptr_t>(in.brs.back().tr().data.ptr.buffer)))
                .error,
            0);
  (void)read(b, 3);  // INCREFS/ACQUIRE/COMPLETE
  // a calls the manager (sync); the manager calls b (sync, nested-free); b calls the manager
  // back: a nested call from b goes to the manager thread waiting in the chain.
  Io c1 = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {})));
  ASSERT_EQ(c1.kind, K::kWouldBlock);
  Io m1 = read(mgr_, 1);
  ASSERT_EQ(m1.codes().back(), static_cast<uint32_t>(BR_TRANSACTION));
  Io c2 = wr(mgr_, 1, Cmds().cmd(BC_TRANSACTION, txn(mgr_, 1, 2, {})));
  ASSERT_EQ(c2.kind, K::kWouldBlock);
  Io b1 = read(b, 3);
  ASSERT_EQ(b1.codes().back(), static_cast<uint32_t>(BR_TRANSACTION));
  Io c3 = wr(b, 3, Cmds().cmd(BC_TRANSACTION, txn(b, 0, 3, {})));
  ASSERT_EQ(c3.kind, K::kWouldBlock);
  Io m2 = resume(mgr_, 1);
  ASSERT_EQ(m2.codes().back(), static_cast<uint32_t>(BR_TRANSACTION));
  EXPECT_EQ(m2.brs.back().tr().code, 3u);
  EXPECT_EQ(m2.brs.back().tr().sender_pid, 300);
  const std::string state = drv_.dumpState();
  EXPECT_NE(state.find("incoming transaction"), std::string::npos) << state;
  EXPECT_NE(state.find("outgoing transaction"), std::string::npos) << state;
  // Unwind: mgr replies to b's nested call, b replies to mgr, mgr replies to a. A replier
  // gets its BR_TRANSACTION_COMPLETE at once.
  Io r1 = wr(mgr_, 1, Cmds().cmd(BC_REPLY, txn(mgr_, 0, 0, {})));
  EXPECT_EQ(r1.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  Io b2 = resume(b, 3);
  EXPECT_EQ(b2.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE, BR_REPLY}));
  Io r2 = wr(b, 3, Cmds().cmd(BC_REPLY, txn(b, 0, 0, {})));
  EXPECT_EQ(r2.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  Io m3 = read(mgr_, 1);
  EXPECT_EQ(m3.codes(), (std::vector<uint32_t>{BR_NOOP, BR_REPLY}));
  Io r3 = wr(mgr_, 1, Cmds().cmd(BC_REPLY, txn(mgr_, 0, 0, {})));
  EXPECT_EQ(r3.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  Io a2 = resume(a_, 2);
  EXPECT_EQ(a2.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE, BR_REPLY}));
  const std::string after = drv_.dumpTransactions();
  EXPECT_EQ(after.find("coming transaction"), std::string::npos) << after;
  EXPECT_EQ(after.find("pending transaction"), std::string::npos) << after;
}

// §10.1: A -> B -> C with B's thread dying: A keeps waiting until C replies; then C gets
// BR_TRANSACTION_COMPLETE and A gets BR_DEAD_REPLY.
TEST_F(FreezeTest, DeadIntermediateIsSkippedWhenTheChainUnwinds) {
  Client c = open(300);
  startThread(c, 3);
  enterLooper(c, 3);
  Io give = wr(
      c, 3,
      Cmds().cmd(BC_TRANSACTION, txn(c, 0, 1, bytesOf(binderObj(0x30, 0x31)), {0}, TF_ONE_WAY)), 0);
  ASSERT_EQ(give.error, 0);
  Io in = read(mgr_, 1);
  ASSERT_EQ(write(mgr_, 1,
                  Cmds()
                      .cmd(BC_ACQUIRE, 1u)
                      .cmd(BC_FREE_BUFFER,
                           static_cast<binder_uintptr_t>(in.brs.back().tr().data.ptr.buffer)))
                .error,
            0);
  (void)read(c, 3);
  ASSERT_EQ(wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}))).kind, K::kWouldBlock);
  ASSERT_EQ(read(mgr_, 1).codes().back(), static_cast<uint32_t>(BR_TRANSACTION));
  ASSERT_EQ(wr(mgr_, 1, Cmds().cmd(BC_TRANSACTION, txn(mgr_, 1, 2, {}))).kind, K::kWouldBlock);
  ASSERT_EQ(read(c, 3).codes().back(), static_cast<uint32_t>(BR_TRANSACTION));
  drv_.cancelWait(mgr_.id, 1);
  effects_.wakes.clear();
  ASSERT_EQ(0, ioctl(mgr_, 1, BINDER_THREAD_EXIT));
  EXPECT_TRUE(effects_.wakes.empty());  // A is not told yet
  Io rep = wr(c, 3, Cmds().cmd(BC_REPLY, txn(c, 0, 0, {})));
  EXPECT_EQ(rep.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  ASSERT_FALSE(effects_.wakes.empty());
  EXPECT_EQ(effects_.wakes.back(), std::make_pair(a_.id, Tid{2}));
  Io back = resume(a_, 2);
  EXPECT_EQ(back.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE, BR_DEAD_REPLY}));
}

}  // namespace
}  // namespace nb::driver::test
