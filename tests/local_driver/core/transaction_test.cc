// Transactions: sync round trip, oneway, nested calls, stack rules, failures (kernel-binder.md §5,
// §6.1–§6.3, §8, §17).
#include "tests/local_driver/core/driver_harness.h"

namespace nb::driver::test {
namespace {

using K = WriteReadResult::Kind;

class TransactionTest : public DriverTest {
 protected:
  void SetUp() override {
    mgr_ = open(100);
    startThread(mgr_, 1);
    makeContextManager(mgr_, 1);
    enterLooper(mgr_, 1);
    a_ = open(200, 1234);
    startThread(a_, 2);
  }
  Client mgr_;
  Client a_;
};

TEST_F(TransactionTest, SyncRoundTrip) {
  const std::vector<uint8_t> payload{1, 2, 3, 4, 5};
  Io call = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 7, payload)));
  // The COMPLETE is deferred: the caller parks waiting for the reply.
  EXPECT_EQ(call.kind, K::kWouldBlock);
  EXPECT_EQ(call.bwr.write_consumed, call.bwr.write_size);

  Io in = read(mgr_, 1);
  ASSERT_EQ(in.kind, K::kDone);
  ASSERT_EQ(in.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  binder_transaction_data tr = in.brs[1].tr();
  EXPECT_EQ(tr.code, 7u);
  EXPECT_EQ(tr.sender_pid, 200);
  EXPECT_EQ(tr.sender_euid, 1234u);
  EXPECT_EQ(tr.data_size, payload.size());
  EXPECT_EQ(tr.target.ptr, 0u);
  EXPECT_EQ(mgr_.at<uint8_t>(tr.data.ptr.buffer + 4), 5);

  const std::vector<uint8_t> answer{9, 9};
  Io rep = wr(mgr_, 1,
              Cmds()
                  .cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(tr.data.ptr.buffer))
                  .cmd(BC_REPLY, txn(mgr_, 0, 0, answer, {}, TF_STATUS_CODE | TF_ONE_WAY)));
  EXPECT_EQ(rep.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  ASSERT_FALSE(effects_.wakes.empty());
  EXPECT_EQ(effects_.wakes.back(), std::make_pair(a_.id, Tid{2}));

  Io back = resume(a_, 2);
  ASSERT_EQ(back.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE, BR_REPLY}));
  binder_transaction_data reply = back.brs[2].tr();
  EXPECT_EQ(reply.flags, static_cast<uint32_t>(TF_STATUS_CODE | TF_ONE_WAY));  // §17.10
  EXPECT_EQ(reply.sender_pid, 0);
  EXPECT_EQ(reply.data_size, 2u);
  EXPECT_EQ(a_.at<uint8_t>(reply.data.ptr.buffer), 9);
  EXPECT_EQ(
      write(a_, 2, Cmds().cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(reply.data.ptr.buffer)))
          .error,
      0);
}

TEST_F(TransactionTest, FirstIoctlSyncCallReturnsCompleteAlone) {
  Client b = open(300);
  Io call = wr(b, 5, Cmds().cmd(BC_TRANSACTION, txn(b, 0, 1, {})));
  EXPECT_EQ(call.kind, K::kDone);  // §17.6: need_return makes the first read return at once
  EXPECT_EQ(call.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  EXPECT_EQ(read(b, 5, 512, true).error, EAGAIN);
}

TEST_F(TransactionTest, OnewaySerializedPerNodeUntilFree) {
  for (uint32_t code = 1; code <= 2; ++code) {
    Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, code, {1}, {}, TF_ONE_WAY)));
    EXPECT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  }
  Io first = read(mgr_, 1);
  ASSERT_EQ(first.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  EXPECT_EQ(first.brs[1].tr().code, 1u);
  EXPECT_EQ(first.brs[1].tr().sender_pid, 0);  // oneway
  EXPECT_EQ(first.brs[1].tr().flags, static_cast<uint32_t>(TF_ONE_WAY));
  // The second one waits until the first buffer is freed.
  EXPECT_EQ(nbread(mgr_, 1).error, EAGAIN);
  Io freed = wr(
      mgr_, 1,
      Cmds().cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(first.brs[1].tr().data.ptr.buffer)));
  ASSERT_EQ(freed.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  EXPECT_EQ(freed.brs[1].tr().code, 2u);
}

TEST_F(TransactionTest, NestedCallGoesToWaitingThread) {
  Client b = open(300);
  startThread(b, 3);
  enterLooper(b, 3);
  // a sends b's manager... simpler: the manager hands a binder of its own to a, a calls it
  // while mgr waits: mgr owns node 0x55; a -> mgr (call), mgr -> a (nested) must reach a:2.
  // Step 1: mgr gives a handle to a through a reply.
  Io call = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {})));
  ASSERT_EQ(call.kind, K::kWouldBlock);
  Io in = read(mgr_, 1);
  ASSERT_EQ(in.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  // a gives mgr a binder in the next call instead (the reply carries a's node back later).
  Io rep = wr(mgr_, 1, Cmds().cmd(BC_REPLY, txn(mgr_, 0, 0, {})));
  Io got = resume(a_, 2);
  ASSERT_EQ(got.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE, BR_REPLY}));
  // Call 2: a -> mgr carrying a's binder 0xA0; mgr then calls handle 1 (a's node) while a waits.
  Io call2 =
      wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 2, bytesOf(binderObj(0xA0, 0xA1)), {0})));
  // Deferred node work and COMPLETE do not wake the caller: it waits for the reply.
  ASSERT_EQ(call2.kind, K::kWouldBlock);
  Io in2 = read(mgr_, 1);
  ASSERT_EQ(in2.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  binder_transaction_data tr2 = in2.brs[1].tr();
  flat_binder_object obj = mgr_.at<flat_binder_object>(tr2.data.ptr.buffer);
  EXPECT_EQ(obj.hdr.type, static_cast<uint32_t>(BINDER_TYPE_HANDLE));
  EXPECT_EQ(obj.handle, 1u);
  EXPECT_EQ(obj.cookie, 0u);
  // Nested: mgr:1 calls handle 1 -> must be queued on a:2 (waiting in this chain).
  Io nested = wr(mgr_, 1, Cmds().cmd(BC_TRANSACTION, txn(mgr_, 1, 3, {})));
  EXPECT_EQ(nested.kind, K::kWouldBlock);
  Io at_a = resume(a_, 2);
  // §6.4 / §17.1: the node references are announced to the sending thread, before its COMPLETE.
  ASSERT_EQ(at_a.codes(), (std::vector<uint32_t>{BR_NOOP, BR_INCREFS, BR_ACQUIRE,
                                                 BR_TRANSACTION_COMPLETE, BR_TRANSACTION}));
  EXPECT_EQ(at_a.brs[1].ptrCookie().ptr, 0xA0u);
  EXPECT_EQ(at_a.brs[2].ptrCookie().cookie, 0xA1u);
  EXPECT_EQ(at_a.brs.back().tr().code, 3u);
  EXPECT_EQ(at_a.brs.back().tr().target.ptr, 0xA0u);
  EXPECT_EQ(at_a.brs.back().tr().cookie, 0xA1u);
  (void)rep;
}

TEST_F(TransactionTest, ReplyWithoutStackFailsWithEproto) {
  Io io = wr(mgr_, 1, Cmds().cmd(BC_REPLY, txn(mgr_, 0, 0, {})));
  EXPECT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_FAILED_REPLY}));
  EXPECT_EQ(extendedError(mgr_, 1).param, -EPROTO);
}

TEST_F(TransactionTest, FailedTransactionStopsWriteLoop) {
  Cmds cmds;
  cmds.cmd(BC_TRANSACTION, txn(a_, 77, 1, {}));  // invalid handle
  const size_t first = cmds.bytes.size();
  cmds.cmd(BC_ENTER_LOOPER);
  Io io = write(a_, 2, cmds);
  EXPECT_EQ(io.error, 0);
  EXPECT_EQ(io.bwr.write_consumed, first);  // §3.1, §17.15
  Io r = read(a_, 2);
  EXPECT_EQ(r.codes(), (std::vector<uint32_t>{BR_NOOP, BR_FAILED_REPLY}));
  binder_extended_error ee = extendedError(a_, 2);
  EXPECT_EQ(ee.command, BR_FAILED_REPLY);
  EXPECT_EQ(ee.param, -EINVAL);
}

TEST_F(TransactionTest, TwoOutstandingSyncCallsFailWithEproto) {
  Io call = write(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {})));
  EXPECT_EQ(call.error, 0);
  Io second = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 2, {})));
  EXPECT_EQ(second.codes(),
            (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE, BR_FAILED_REPLY}));
  EXPECT_EQ(extendedError(a_, 2).param, -EPROTO);
}

TEST_F(TransactionTest, ManagerCallingHandleZeroFails) {
  Io io = wr(mgr_, 1, Cmds().cmd(BC_TRANSACTION, txn(mgr_, 0, 1, {})));
  EXPECT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_FAILED_REPLY}));
}

TEST_F(TransactionTest, UnmappedTargetIsDeadReplyEsrch) {
  drv_.unmapArea(mgr_.id);
  Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {})));
  EXPECT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_DEAD_REPLY}));
  EXPECT_EQ(extendedError(a_, 2).param, -ESRCH);
}

TEST_F(TransactionTest, BadDataPointerIsEfault) {
  binder_transaction_data tr = txn(a_, 0, 1, {1, 2, 3});
  tr.data.ptr.buffer = 0x1;  // not in the client's memory
  Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, tr));
  EXPECT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_FAILED_REPLY}));
  EXPECT_EQ(extendedError(a_, 2).param, -EFAULT);
}

TEST_F(TransactionTest, CallerDeathBeforeReplyGivesReplierComplete) {
  Io call = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {})));
  ASSERT_EQ(call.kind, K::kWouldBlock);
  Io in = read(mgr_, 1);
  ASSERT_EQ(in.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  drv_.releaseProcess(a_.id);
  Io rep = wr(mgr_, 1, Cmds().cmd(BC_REPLY, txn(mgr_, 0, 0, {})));
  EXPECT_EQ(rep.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
}

TEST_F(TransactionTest, ServerThreadExitGivesCallerDeadReply) {
  Io call = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {})));
  ASSERT_EQ(call.kind, K::kWouldBlock);
  Io in = read(mgr_, 1);
  ASSERT_EQ(in.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  EXPECT_EQ(0, ioctl(mgr_, 1, BINDER_THREAD_EXIT));
  Io back = resume(a_, 2);
  // §17.11: COMPLETE then DEAD_REPLY in one read; the extended error stays BR_OK.
  EXPECT_EQ(back.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE, BR_DEAD_REPLY}));
  EXPECT_EQ(extendedError(a_, 2).command, BR_OK);
}

TEST_F(TransactionTest, ReadBufferTooSmallReturnsOnlyNoop) {
  Io call = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY)));
  // After the BR_NOOP, 76 bytes must remain (§3.2 step 4).
  Io small = read(mgr_, 1, 79);
  EXPECT_EQ(small.codes(), (std::vector<uint32_t>{BR_NOOP}));
  Io big = read(mgr_, 1, 80);
  EXPECT_EQ(big.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  (void)call;
}

TEST_F(TransactionTest, FreeBufferOfUndeliveredOrUnknownIsIgnored) {
  Io call = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {}, {}, TF_ONE_WAY)));
  // Waterdrop: the buffer will be at the area base; freeing it before delivery is ignored.
  Io early = write(mgr_, 1,
                   Cmds()
                       .cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(mgr_.base))
                       .cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(12345)));
  EXPECT_EQ(early.error, 0);
  Io in = read(mgr_, 1);
  ASSERT_EQ(in.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  EXPECT_EQ(in.brs[1].tr().data.ptr.buffer, mgr_.base);
  const auto buf = static_cast<binder_uintptr_t>(mgr_.base);
  EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_FREE_BUFFER, buf).cmd(BC_FREE_BUFFER, buf)).error, 0);
  (void)call;
}

}  // namespace
}  // namespace nb::driver::test
