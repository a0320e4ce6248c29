// The read side: parking, wake-ups, need_return, poll, flush, BR_SPAWN_LOOPER, looper flags
// (kernel-binder.md §3.2, §8.4, §17.5–§17.7, §17.12).
#include "tests/local_driver/core/driver_harness.h"

namespace nb::driver::test {
namespace {

using K = WriteReadResult::Kind;

class ReadLoopTest : public DriverTest {
 protected:
  void SetUp() override {
    mgr_ = open(100);
    startThread(mgr_, 1);
    makeContextManager(mgr_, 1);
    a_ = open(200);
    startThread(a_, 2);
  }
  Client mgr_;
  Client a_;
};

TEST_F(ReadLoopTest, FirstReadReturnsAtOnceThenParks) {
  Client b = open(300);
  Io first = read(b, 7);
  EXPECT_EQ(first.kind, K::kDone);
  EXPECT_EQ(first.codes(), (std::vector<uint32_t>{BR_NOOP}));
  EXPECT_EQ(first.bwr.read_consumed, 4u);
  Io second = read(b, 7);
  EXPECT_EQ(second.kind, K::kWouldBlock);
  EXPECT_EQ(second.bwr.read_consumed, 0u);
  EXPECT_EQ(nbread(b, 8).kind, K::kDone);  // another new thread: need_return
  EXPECT_EQ(nbread(b, 8).error, EAGAIN);
}

TEST_F(ReadLoopTest, ParkedLooperIsWokenForProcessWork) {
  enterLooper(mgr_, 1);
  Io parked = read(mgr_, 1);
  ASSERT_EQ(parked.kind, K::kWouldBlock);
  effects_.wakes.clear();
  Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY)));
  EXPECT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  ASSERT_EQ(effects_.wakes.size(), 1u);
  EXPECT_EQ(effects_.wakes[0], std::make_pair(mgr_.id, Tid{1}));
  Io got = resume(mgr_, 1);
  EXPECT_EQ(got.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
}

TEST_F(ReadLoopTest, NonLooperThreadStillTakesProcessWork) {
  // §17.5: 6.1 gives process work to threads that never entered the looper.
  Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY)));
  ASSERT_EQ(io.error, 0);
  Io got = read(mgr_, 1);
  EXPECT_EQ(got.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
}

TEST_F(ReadLoopTest, PollReportsWorkAndWakesPollers) {
  EXPECT_FALSE(drv_.pollReadable(mgr_.id, 1));
  Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY)));
  ASSERT_EQ(io.error, 0);
  ASSERT_FALSE(effects_.poller_wakes.empty());
  EXPECT_EQ(effects_.poller_wakes.back(), mgr_.id);
  EXPECT_TRUE(drv_.pollReadable(mgr_.id, 1));
  EXPECT_NE(drv_.dumpState().find("thread 1: l 20"), std::string::npos);
}

TEST_F(ReadLoopTest, FlushWakesParkedThreadsWhichReturnEmpty) {
  Io parked = read(mgr_, 1);
  ASSERT_EQ(parked.kind, K::kWouldBlock);
  effects_.wakes.clear();
  drv_.flush(mgr_.id);
  ASSERT_EQ(effects_.wakes.size(), 1u);
  Io got = resume(mgr_, 1);
  EXPECT_EQ(got.kind, K::kDone);
  EXPECT_EQ(got.codes(), (std::vector<uint32_t>{BR_NOOP}));
}

TEST_F(ReadLoopTest, CancelWaitUnparks) {
  Io parked = read(mgr_, 1);
  ASSERT_EQ(parked.kind, K::kWouldBlock);
  drv_.cancelWait(mgr_.id, 1);
  EXPECT_EQ(nbread(mgr_, 1).error, EAGAIN);
  // The thread is no longer a waiter: process work does not pick it.
  effects_.wakes.clear();
  (void)wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY)));
  EXPECT_TRUE(effects_.wakes.empty());
}

TEST_F(ReadLoopTest, SpawnLooperReplacesNoopOfTheDeliveringRead) {
  uint32_t max = 1;
  ASSERT_EQ(0, ioctl(mgr_, 1, BINDER_SET_MAX_THREADS, &max));
  enterLooper(mgr_, 1);
  Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY)));
  ASSERT_EQ(io.error, 0);
  Io got = read(mgr_, 1);
  EXPECT_EQ(got.codes(), (std::vector<uint32_t>{BR_SPAWN_LOOPER, BR_TRANSACTION}));
  // The spawned thread registers; it uses the only slot.
  EXPECT_EQ(read(mgr_, 5).kind, K::kDone);
  EXPECT_EQ(write(mgr_, 5, Cmds().cmd(BC_REGISTER_LOOPER)).error, 0);
  EXPECT_NE(drv_.dumpStats().find("requested threads: 0+1/1"), std::string::npos);
  // It exits: the slot is not given back (§17.12), no further spawn.
  EXPECT_EQ(0, ioctl(mgr_, 5, BINDER_THREAD_EXIT));
  const binder_transaction_data tr = got.brs[1].tr();
  Io again =
      write(mgr_, 1, Cmds().cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(tr.data.ptr.buffer)));
  EXPECT_EQ(again.error, 0);
  (void)wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY)));
  Io got2 = read(mgr_, 1);
  EXPECT_EQ(got2.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
}

// 6.1 C driver (conformance spawn_quirks): BR_SPAWN_LOOPER goes over word 0 of the read buffer
// also when the read started at read_consumed != 0; the core cannot reach that word (read_out
// starts at the read position) and asks the client to write it.
TEST_F(ReadLoopTest, SpawnLooperOverWordZeroWhenReadStartsAtAnOffset) {
  uint32_t max = 1;
  ASSERT_EQ(0, ioctl(mgr_, 1, BINDER_SET_MAX_THREADS, &max));
  ASSERT_EQ(write(mgr_, 1, Cmds().cmd(BC_REGISTER_LOOPER)).error, 0);  // unrequested: invalid
  ASSERT_EQ(wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {1, 2, 3, 4}))).error, 0);
  binder_write_read bwr{};
  bwr.read_size = 256;
  bwr.read_consumed = 4;
  std::vector<uint8_t> out(252);
  WriteReadResult r = drv_.writeRead(mgr_.id, 1, bwr, {}, out, false);
  ASSERT_EQ(r.kind, K::kDone);
  EXPECT_EQ(r.error, 0);
  EXPECT_TRUE(r.overwrite_word0_with_spawn);
  EXPECT_EQ(bwr.read_consumed, 4u + 4u + sizeof(binder_transaction_data));
  EXPECT_EQ(codes(decode(std::span<const uint8_t>(out.data(), bwr.read_consumed - 4))),
            (std::vector<uint32_t>{BR_TRANSACTION}));
  EXPECT_NE(drv_.dumpStats().find("requested threads: 1+0/1"), std::string::npos);
  EXPECT_NE(drv_.dumpStats().find("BR_SPAWN_LOOPER: 1"), std::string::npos);
}

TEST_F(ReadLoopTest, SpawnLooperAtReadStartIsWrittenByTheCore) {
  uint32_t max = 1;
  ASSERT_EQ(0, ioctl(mgr_, 1, BINDER_SET_MAX_THREADS, &max));
  enterLooper(mgr_, 1);
  ASSERT_EQ(wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY))).error, 0);
  Io got = read(mgr_, 1);
  EXPECT_FALSE(got.spawn_word0);
  EXPECT_EQ(got.codes(), (std::vector<uint32_t>{BR_SPAWN_LOOPER, BR_TRANSACTION}));
}

TEST_F(ReadLoopTest, NoSpawnWithoutMaxThreadsOrForNonLoopers) {
  Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY)));
  ASSERT_EQ(io.error, 0);
  Io got = read(mgr_, 1);
  EXPECT_EQ(got.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
}

TEST_F(ReadLoopTest, LooperFlags) {
  // REGISTER without a spawn request, and ENTER after REGISTER, mark the thread invalid.
  EXPECT_EQ(
      write(mgr_, 1, Cmds().cmd(BC_REGISTER_LOOPER).cmd(BC_ENTER_LOOPER).cmd(BC_EXIT_LOOPER)).error,
      0);
  EXPECT_NE(drv_.dumpState().find("thread 1: l 0f"), std::string::npos);
}

TEST_F(ReadLoopTest, UnknownCommandIsEinvalAndStopsConsumption) {
  Cmds cmds;
  cmds.cmd(BC_ENTER_LOOPER);
  cmds.cmd(0x12345678);
  Io io = write(mgr_, 1, cmds);
  EXPECT_EQ(io.error, EINVAL);
  EXPECT_EQ(io.bwr.write_consumed, 4u);
  EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_ATTEMPT_ACQUIRE, uint64_t{0})).error, EINVAL);
  uint32_t half = BC_FREE_BUFFER;
  EXPECT_EQ(write(mgr_, 1, Cmds().raw(&half, 3)).error, EFAULT);
}

// rw_edges: a command crossing write_size is completed from the client's memory after the write
// buffer, and write_consumed then exceeds write_size (as the kernel's get_user reads).
TEST_F(ReadLoopTest, CommandCrossingWriteSizeIsReadFromClientMemory) {
  Cmds full = Cmds().cmd(BC_INCREFS, 0u);  // 8 bytes
  binder_write_read bwr{};
  bwr.write_buffer = a_.mem->put(full.bytes.data(), full.bytes.size());
  bwr.write_size = 4;
  std::vector<uint8_t> out;
  WriteReadResult r = drv_.writeRead(a_.id, 2, bwr, std::span(full.bytes).first(4), out, false);
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(bwr.write_consumed, 8u);
  bwr = {};
  bwr.write_size = 4;  // write_buffer 0: the tail is unreadable
  WriteReadResult bad = drv_.writeRead(a_.id, 2, bwr, std::span(full.bytes).first(4), out, false);
  EXPECT_EQ(bad.error, EFAULT);
  EXPECT_EQ(bwr.write_consumed, 0u);
}

TEST_F(ReadLoopTest, StatsAndTransactionsDumps) {
  (void)wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {1}, {}, TF_ONE_WAY)));
  const std::string stats = drv_.dumpStats();
  EXPECT_NE(stats.find("binder stats:\nBC_TRANSACTION: 1\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("proc: active 2 total 2"), std::string::npos) << stats;
  const std::string txns = drv_.dumpTransactions();
  EXPECT_NE(txns.find("pending transaction"), std::string::npos) << txns;
  EXPECT_NE(txns.find("from 200:2 to 100:0 code 1 flags 1"), std::string::npos) << txns;
}

}  // namespace
}  // namespace nb::driver::test

namespace nb::driver::test {
namespace {

using K = WriteReadResult::Kind;

// Mainline 6.1 priority (kernel-binder.md §8.5; conformance priority).
class PriorityTest : public DriverTest {
 protected:
  void setUpWith(int mgr_nice, uint32_t min_priority) {
    mgr_ = open(100, 1000, 128 * 1024, mgr_nice);
    startThread(mgr_, 1);
    flat_binder_object obj = binderObj(0, 0, min_priority);
    ASSERT_EQ(0, ioctl(mgr_, 1, BINDER_SET_CONTEXT_MGR_EXT, &obj));
    a_ = open(200);
    startThread(a_, 2);
  }
  Client mgr_;
  Client a_;
};

TEST_F(PriorityTest, SyncCallRunsAtCallerNiceBelowMinPriorityAndReplyRestores) {
  setUpWith(0, 19);
  drv_.setThreadNice(mgr_.id, 1, 0);
  Io parked = read(mgr_, 1);
  ASSERT_EQ(parked.kind, K::kWouldBlock);
  drv_.setThreadNice(a_.id, 2, 10);
  ASSERT_EQ(wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {1, 2, 3, 4})), 0).error, 0);
  Io got = resume(mgr_, 1);
  ASSERT_EQ(got.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  EXPECT_TRUE(got.set_nice);
  EXPECT_EQ(got.nice, 10);
  drv_.setThreadNice(mgr_.id, 1, 10);
  binder_transaction_data reply{};
  Io r = wr(mgr_, 1, Cmds().cmd(BC_REPLY, reply), 512, /*nonblock=*/true);
  EXPECT_EQ(r.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  EXPECT_TRUE(r.set_nice);
  EXPECT_EQ(r.nice, 0);  // saved at delivery
}

TEST_F(PriorityTest, SyncCallAtOrAboveMinPriorityRunsAtMinPriority) {
  setUpWith(0, 5);
  drv_.setThreadNice(a_.id, 2, 10);
  ASSERT_EQ(wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {})), 0).error, 0);
  Io got = read(mgr_, 1);
  ASSERT_EQ(got.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  EXPECT_TRUE(got.set_nice);
  EXPECT_EQ(got.nice, 5);
}

TEST_F(PriorityTest, OnewayOnlyRaisesALowerPriorityAndWaitingTakesTheOpenersNice) {
  setUpWith(7, 3);
  drv_.setThreadNice(mgr_.id, 1, 12);
  ASSERT_EQ(wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY)), 0).error, 0);
  Io got = read(mgr_, 1);
  ASSERT_EQ(got.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  EXPECT_TRUE(got.set_nice);
  EXPECT_EQ(got.nice, 3);  // default 7 on waiting for proc work, 7 > 3 -> min_priority
}

TEST_F(PriorityTest, NiceOutsideTheRangeIsIgnored) {
  setUpWith(0, 0);
  drv_.setThreadNice(mgr_.id, 1, 5);
  drv_.setThreadNice(mgr_.id, 1, 100);  // ignored: the thread still runs at 5
  Io got = nbread(mgr_, 1);
  EXPECT_EQ(got.error, EAGAIN);
  EXPECT_TRUE(got.set_nice);
  EXPECT_EQ(got.nice, 0);
}

TEST_F(PriorityTest, NoNiceChangeIsSentWhenTheThreadAlreadyRunsAtIt) {
  setUpWith(3, 0);
  drv_.setThreadNice(mgr_.id, 1, 3);  // already at the opener's nice
  Io got = nbread(mgr_, 1);
  EXPECT_EQ(got.error, EAGAIN);
  EXPECT_FALSE(got.set_nice);
  drv_.setThreadNice(mgr_.id, 1, 4);
  got = nbread(mgr_, 1);
  EXPECT_TRUE(got.set_nice);
  EXPECT_EQ(got.nice, 3);
}

}  // namespace
}  // namespace nb::driver::test
