// Death notifications and teardown (kernel-binder.md §6.5, §10, CVE-2025-68260 scenario).
#include "tests/local_driver/core/driver_harness.h"

namespace nb::driver::test {
namespace {

using K = WriteReadResult::Kind;

class DeathTest : public DriverTest {
 protected:
  void SetUp() override {
    mgr_ = open(100);
    startThread(mgr_, 1);
    makeContextManager(mgr_, 1);
    enterLooper(mgr_, 1);
    a_ = open(200);
    startThread(a_, 2);
  }
  // a's node 0x1000 becomes handle `h` in the manager, with a strong ref the manager owns.
  uint32_t giveHandle() {
    Io io = wr(
        a_, 2,
        Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, bytesOf(binderObj(0x1000, 0x1)), {0}, TF_ONE_WAY)),
        0);
    EXPECT_EQ(io.error, 0);
    Io in = read(mgr_, 1);
    EXPECT_EQ(in.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
    const binder_transaction_data tr = in.brs.back().tr();
    const uint32_t h = mgr_.at<flat_binder_object>(tr.data.ptr.buffer).handle;
    EXPECT_EQ(write(mgr_, 1,
                    Cmds()
                        .cmd(BC_ACQUIRE, h)
                        .cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(tr.data.ptr.buffer)))
                  .error,
              0);
    return h;
  }
  Client mgr_;
  Client a_;
};

TEST_F(DeathTest, OwnerDeathDeliversDeadBinderThenClear) {
  const uint32_t h = giveHandle();
  EXPECT_EQ(write(mgr_, 1, Cmds().handleCookie(BC_REQUEST_DEATH_NOTIFICATION, h, 0xC0)).error, 0);
  EXPECT_EQ(nbread(mgr_, 1).error, EAGAIN);
  drv_.releaseProcess(a_.id);
  Io dead = read(mgr_, 1);
  ASSERT_EQ(dead.codes(), (std::vector<uint32_t>{BR_NOOP, BR_DEAD_BINDER}));
  EXPECT_EQ(dead.brs[1].cookie(), 0xC0u);
  EXPECT_NE(drv_.dumpState().find("has delivered dead binder"), std::string::npos);
  EXPECT_NE(drv_.dumpState().find("dead nodes:"), std::string::npos);
  // Calls to the dead node fail with BR_DEAD_REPLY.
  Io call = wr(mgr_, 1, Cmds().cmd(BC_TRANSACTION, txn(mgr_, h, 1, {}, {}, TF_ONE_WAY)));
  EXPECT_EQ(call.codes(), (std::vector<uint32_t>{BR_NOOP, BR_DEAD_REPLY}));
  Io done = wr(mgr_, 1,
               Cmds()
                   .cmd(BC_DEAD_BINDER_DONE, static_cast<binder_uintptr_t>(0xC0))
                   .handleCookie(BC_CLEAR_DEATH_NOTIFICATION, h, 0xC0));
  ASSERT_EQ(done.codes(), (std::vector<uint32_t>{BR_NOOP, BR_CLEAR_DEATH_NOTIFICATION_DONE}));
  EXPECT_EQ(done.brs[1].cookie(), 0xC0u);
}

TEST_F(DeathTest, ClearWhileAliveGivesClearDone) {
  const uint32_t h = giveHandle();
  Io io = wr(mgr_, 1,
             Cmds()
                 .handleCookie(BC_REQUEST_DEATH_NOTIFICATION, h, 0xC0)
                 .handleCookie(BC_CLEAR_DEATH_NOTIFICATION, h, 0xBAD)  // cookie mismatch: ignored
                 .handleCookie(BC_CLEAR_DEATH_NOTIFICATION, h, 0xC0));
  ASSERT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_CLEAR_DEATH_NOTIFICATION_DONE}));
  drv_.releaseProcess(a_.id);
  EXPECT_EQ(nbread(mgr_, 1).error, EAGAIN);  // nothing registered any more
}

TEST_F(DeathTest, ClearAfterDeathBeforeDoneWaitsForDone) {
  const uint32_t h = giveHandle();
  EXPECT_EQ(write(mgr_, 1, Cmds().handleCookie(BC_REQUEST_DEATH_NOTIFICATION, h, 0xC0)).error, 0);
  drv_.releaseProcess(a_.id);
  Io dead = read(mgr_, 1);
  ASSERT_EQ(dead.codes(), (std::vector<uint32_t>{BR_NOOP, BR_DEAD_BINDER}));
  Io clear = wr(mgr_, 1, Cmds().handleCookie(BC_CLEAR_DEATH_NOTIFICATION, h, 0xC0), 512, true);
  EXPECT_EQ(clear.error, EAGAIN);  // CLEAR_DONE only after DEAD_BINDER_DONE
  Io done = wr(mgr_, 1, Cmds().cmd(BC_DEAD_BINDER_DONE, static_cast<binder_uintptr_t>(0xC0)));
  EXPECT_EQ(done.codes(), (std::vector<uint32_t>{BR_NOOP, BR_CLEAR_DEATH_NOTIFICATION_DONE}));
}

TEST_F(DeathTest, RegistrationOnDeadNodeFiresAtOnce) {
  const uint32_t h = giveHandle();
  drv_.releaseProcess(a_.id);
  Io io = wr(mgr_, 1, Cmds().handleCookie(BC_REQUEST_DEATH_NOTIFICATION, h, 0xD0));
  ASSERT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_DEAD_BINDER}));
  EXPECT_EQ(io.brs[1].cookie(), 0xD0u);
}

TEST_F(DeathTest, ReleasingLastRefDropsRegistrationSilently) {
  const uint32_t h = giveHandle();
  EXPECT_EQ(
      write(mgr_, 1, Cmds().handleCookie(BC_REQUEST_DEATH_NOTIFICATION, h, 0xC0).cmd(BC_RELEASE, h))
          .error,
      0);
  drv_.releaseProcess(a_.id);
  EXPECT_EQ(nbread(mgr_, 1).error, EAGAIN);
}

// CVE-2025-68260: the owner dies while several clients hold registrations and clear / release
// them in different orders; each gets exactly one consistent outcome and nothing crashes.
TEST_F(DeathTest, OwnerExitRacingClearAndRelease) {
  Client b = open(300);
  Client c = open(400);
  startThread(b, 3);
  startThread(c, 4);
  const uint32_t h = giveHandle();
  EXPECT_EQ(write(mgr_, 1, Cmds().handleCookie(BC_REQUEST_DEATH_NOTIFICATION, h, 0xAA)).error, 0);
  EXPECT_EQ(write(mgr_, 1, Cmds().handleCookie(BC_CLEAR_DEATH_NOTIFICATION, h, 0xAA)).error, 0);
  EXPECT_EQ(write(mgr_, 1, Cmds().handleCookie(BC_REQUEST_DEATH_NOTIFICATION, h, 0xAB)).error, 0);
  drv_.releaseProcess(a_.id);
  EXPECT_EQ(
      write(mgr_, 1, Cmds().handleCookie(BC_CLEAR_DEATH_NOTIFICATION, h, 0xAB).cmd(BC_RELEASE, h))
          .error,
      0);
  // CLEAR_DONE of the first registration (own queue: that read takes no process work, §17.7),
  // then the DEAD_BINDER of the second, still delivered although cleared and released.
  Io r = read(mgr_, 1);
  ASSERT_EQ(r.codes(), (std::vector<uint32_t>{BR_NOOP, BR_CLEAR_DEATH_NOTIFICATION_DONE}));
  Io r2 = read(mgr_, 1);
  ASSERT_EQ(r2.codes(), (std::vector<uint32_t>{BR_NOOP, BR_DEAD_BINDER}));
  EXPECT_EQ(r2.brs[1].cookie(), 0xABu);
  Io d = wr(mgr_, 1, Cmds().cmd(BC_DEAD_BINDER_DONE, static_cast<binder_uintptr_t>(0xAB)));
  EXPECT_EQ(d.codes(), (std::vector<uint32_t>{BR_NOOP, BR_CLEAR_DEATH_NOTIFICATION_DONE}));
  EXPECT_EQ(drv_.dumpState().find("dead nodes:"), std::string::npos);  // last ref gone
  drv_.releaseProcess(mgr_.id);
  drv_.releaseProcess(b.id);
  drv_.releaseProcess(c.id);
  EXPECT_EQ(drv_.dumpState(), "binder state:\n");
}

// CVE-2025-68260 with several holders: a's node is referenced by the manager, b and c, each with
// a death registration. a dies; b clears before reading, c drops its last ref before reading, the
// manager reads normally. Each gets exactly one consistent outcome.
TEST_F(DeathTest, OwnerExitWithSeveralClientsClearingAndReleasing) {
  const uint32_t h = giveHandle();
  std::vector<Client> clients{open(300), open(400)};
  std::vector<uint32_t> client_handles;
  for (size_t i = 0; i < clients.size(); ++i) {
    Client& cl = clients[i];
    const Tid tid = static_cast<Tid>(10 + i);
    startThread(cl, tid);
    enterLooper(cl, tid);
    // The client hands its node to the manager, the manager sends it a's handle.
    Io give = wr(cl, tid,
                 Cmds().cmd(BC_TRANSACTION,
                            txn(cl, 0, 1, bytesOf(binderObj(0x500, 0x501)), {0}, TF_ONE_WAY)),
                 0);
    ASSERT_EQ(give.error, 0);
    Io in = read(mgr_, 1);
    const binder_transaction_data tr = in.brs.back().tr();
    const uint32_t hc = mgr_.at<flat_binder_object>(tr.data.ptr.buffer).handle;
    ASSERT_EQ(
        write(mgr_, 1,
              Cmds()
                  .cmd(BC_ACQUIRE, hc)
                  .cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(tr.data.ptr.buffer))
                  .cmd(BC_TRANSACTION, txn(mgr_, hc, 2, bytesOf(handleObj(h)), {0}, TF_ONE_WAY)))
            .error,
        0);
    (void)read(mgr_, 1, 512, true);  // COMPLETE
    Io own = read(cl, tid);          // INCREFS/ACQUIRE/COMPLETE for its node
    Io got = read(cl, tid);
    ASSERT_EQ(got.codes().back(), static_cast<uint32_t>(BR_TRANSACTION));
    const binder_transaction_data t2 = got.brs.back().tr();
    const uint32_t ha = cl.at<flat_binder_object>(t2.data.ptr.buffer).handle;
    ASSERT_EQ(write(cl, tid,
                    Cmds()
                        .cmd(BC_ACQUIRE, ha)
                        .cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(t2.data.ptr.buffer))
                        .handleCookie(BC_REQUEST_DEATH_NOTIFICATION, ha, 0xB0 + i))
                  .error,
              0);
    client_handles.push_back(ha);
    (void)own;
  }
  ASSERT_EQ(write(mgr_, 1, Cmds().handleCookie(BC_REQUEST_DEATH_NOTIFICATION, h, 0xA0)).error, 0);
  drv_.releaseProcess(a_.id);
  // Client 0 clears before reading: DEAD_BINDER still comes, CLEAR_DONE after DONE.
  ASSERT_EQ(write(clients[0], 10,
                  Cmds().handleCookie(BC_CLEAR_DEATH_NOTIFICATION, client_handles[0], 0xB0))
                .error,
            0);
  // Client 1 drops its last ref: the registration goes silently.
  ASSERT_EQ(write(clients[1], 11, Cmds().cmd(BC_RELEASE, client_handles[1])).error, 0);
  Io c0 = read(clients[0], 10);
  ASSERT_EQ(c0.codes(), (std::vector<uint32_t>{BR_NOOP, BR_DEAD_BINDER}));
  Io c0done =
      wr(clients[0], 10, Cmds().cmd(BC_DEAD_BINDER_DONE, static_cast<binder_uintptr_t>(0xB0)));
  EXPECT_EQ(c0done.codes(), (std::vector<uint32_t>{BR_NOOP, BR_CLEAR_DEATH_NOTIFICATION_DONE}));
  EXPECT_EQ(nbread(clients[1], 11).error, EAGAIN);
  Io m = read(mgr_, 1);
  ASSERT_EQ(m.codes(), (std::vector<uint32_t>{BR_NOOP, BR_DEAD_BINDER}));
  EXPECT_EQ(m.brs[1].cookie(), 0xA0u);
  for (const Client& cl : clients) {
    drv_.releaseProcess(cl.id);
  }
  drv_.releaseProcess(mgr_.id);
  EXPECT_EQ(drv_.dumpState(), "binder state:\n");
}

TEST_F(DeathTest, ProcessExitReleasesRefsAndOwnersGetReleaseDecrefs) {
  const uint32_t h = giveHandle();
  (void)h;
  Io own = read(a_, 2);
  ASSERT_EQ(own.codes(),
            (std::vector<uint32_t>{BR_NOOP, BR_INCREFS, BR_ACQUIRE, BR_TRANSACTION_COMPLETE}));
  binder_ptr_cookie pc{0x1000, 0x1};
  EXPECT_EQ(write(a_, 2, Cmds().cmd(BC_INCREFS_DONE, pc).cmd(BC_ACQUIRE_DONE, pc)).error, 0);
  drv_.releaseProcess(mgr_.id);
  Io drop = read(a_, 2);
  EXPECT_EQ(drop.codes(), (std::vector<uint32_t>{BR_NOOP, BR_RELEASE, BR_DECREFS}));
}

TEST_F(DeathTest, PendingSyncCallGetsDeadReplyWhenTargetDies) {
  Io call = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {})));
  ASSERT_EQ(call.kind, K::kWouldBlock);
  drv_.releaseProcess(mgr_.id);
  Io back = resume(a_, 2);
  EXPECT_EQ(back.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE, BR_DEAD_REPLY}));
  // No manager any more: handle 0 is a dead reply.
  Io again = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {})));
  EXPECT_EQ(again.codes(), (std::vector<uint32_t>{BR_NOOP, BR_DEAD_REPLY}));
}

TEST_F(DeathTest, ThreadExitThenNewThreadObject) {
  EXPECT_EQ(0, ioctl(a_, 2, BINDER_THREAD_EXIT));
  Io first = read(a_, 2);  // a fresh thread: need_return again
  EXPECT_EQ(first.codes(), (std::vector<uint32_t>{BR_NOOP}));
}

}  // namespace
}  // namespace nb::driver::test
