// netbinder extension NB_IOC_REF_OWNER (local_driver/client/netbinder_ioctl.h): who owns the node
// behind a handle.
#include "local_driver/client/netbinder_ioctl.h"
#include "tests/local_driver/core/driver_harness.h"

namespace nb::driver::test {
namespace {

class RefOwnerTest : public DriverTest {
 protected:
  static constexpr uint64_t kMgrPtr = 0xabc0;
  static constexpr uint64_t kMgrCookie = 0xdef0;

  void SetUp() override {
    mgr_ = open(50);
    startThread(mgr_, 1);
    flat_binder_object fbo = binderObj(kMgrPtr, kMgrCookie);
    ASSERT_EQ(0, ioctl(mgr_, 1, BINDER_SET_CONTEXT_MGR_EXT, &fbo));
    enterLooper(mgr_, 1);
  }
  // `from` sends a oneway carrying its node `ptr` to the manager, which takes its own references
  // and frees the buffer (so later oneways to the manager's node are not held back). Returns the
  // manager's handle for it.
  uint32_t sendBinder(const Client& from, Tid tid, uint64_t ptr, uint64_t cookie,
                      bool strong = true) {
    Io io =
        wr(from, tid,
           Cmds().cmd(BC_TRANSACTION,
                      txn(from, 0, 1, bytesOf(binderObj(ptr, cookie, 0, strong)), {0}, TF_ONE_WAY)),
           0);
    EXPECT_EQ(io.error, 0);
    const binder_transaction_data tr = receive(mgr_, 1);
    if (tr.data.ptr.buffer == 0) {
      return 0;
    }
    const uint32_t h = mgr_.at<flat_binder_object>(tr.data.ptr.buffer).handle;
    Cmds keep;
    keep.cmd(BC_INCREFS, h);
    if (strong) {
      keep.cmd(BC_ACQUIRE, h);
    }
    keep.cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(tr.data.ptr.buffer));
    EXPECT_EQ(write(mgr_, 1, keep).error, 0);
    return h;
  }
  // Reads on `c` until a BR_TRANSACTION arrives (other returns are skipped).
  binder_transaction_data receive(const Client& c, Tid tid) {
    for (int round = 0; round < 4; ++round) {
      Io in = read(c, tid);
      EXPECT_EQ(in.kind, WriteReadResult::Kind::kDone);
      for (const Br& br : in.brs) {
        if (br.cmd == BR_TRANSACTION) {
          return br.tr();
        }
      }
    }
    ADD_FAILURE() << "no BR_TRANSACTION";
    return {};
  }
  // The manager sends its handle `h` in a oneway to `to_handle` (a node of `to`); returns the
  // handle `to` received.
  uint32_t relay(uint32_t h, const Client& to, Tid to_tid, uint32_t to_handle) {
    Io io = wr(
        mgr_, 1,
        Cmds().cmd(BC_TRANSACTION, txn(mgr_, to_handle, 1, bytesOf(handleObj(h)), {0}, TF_ONE_WAY)),
        0);
    EXPECT_EQ(io.error, 0);
    const binder_transaction_data tr = receive(to, to_tid);
    if (tr.data.ptr.buffer == 0) {
      return 0;
    }
    return to.at<flat_binder_object>(tr.data.ptr.buffer).handle;
  }
  int refOwner(const Client& c, Tid tid, uint32_t handle, nb_ref_owner_info* out) {
    *out = {};
    out->handle = handle;
    return ioctl(c, tid, NB_IOC_REF_OWNER, out);
  }
  static uint64_t idOf(const Client& c) { return static_cast<uint32_t>(c.id); }

  Client mgr_;
};

TEST_F(RefOwnerTest, TheIoctlIsNotABinderIoctl) {
  EXPECT_EQ(_IOC_TYPE(NB_IOC_REF_OWNER), static_cast<unsigned>('N'));
  EXPECT_NE(_IOC_TYPE(NB_IOC_REF_OWNER), _IOC_TYPE(BINDER_WRITE_READ));
  EXPECT_EQ(_IOC_SIZE(NB_IOC_REF_OWNER), 40u);
  EXPECT_EQ(_IOC_DIR(NB_IOC_REF_OWNER), static_cast<unsigned>(_IOC_READ | _IOC_WRITE));
}

TEST_F(RefOwnerTest, HandleOfAnotherProcessNamesItsOpenButNotItsPointers) {
  Client a = open(200);
  startThread(a, 2);
  const uint32_t h = sendBinder(a, 2, 0x1000, 0x2000);
  ASSERT_NE(h, 0u);
  nb_ref_owner_info info{};
  ASSERT_EQ(0, refOwner(mgr_, 1, h, &info));
  EXPECT_EQ(info.owner_pid, 200);
  EXPECT_EQ(info.owner_proc_id, idOf(a));
  EXPECT_NE(info.owner_proc_id, 0u);
  EXPECT_EQ(info.flags, 0u);
  EXPECT_EQ(info.node_ptr, 0u);  // pid 50 is not the owner's process
  EXPECT_EQ(info.node_cookie, 0u);
  EXPECT_EQ(info.handle, h);
  // Handle 0 from a: the manager, whose pointers a does not see either.
  ASSERT_EQ(0, refOwner(a, 2, 0, &info));
  EXPECT_EQ(info.owner_pid, 50);
  EXPECT_EQ(info.owner_proc_id, idOf(mgr_));
  EXPECT_EQ(info.node_ptr, 0u);
  EXPECT_EQ(info.node_cookie, 0u);
}

TEST_F(RefOwnerTest, SecondOpenOfTheSameProcessSeesTheOwnersOpenAndPointers) {
  // x and y are two opens of one process (pid 100); y gets a handle to x's node via the manager.
  Client x = open(100);
  startThread(x, 2);
  Client y = open(100);
  startThread(y, 3);
  enterLooper(y, 3);
  const uint32_t hx = sendBinder(x, 2, 0x3000, 0x4000);
  const uint32_t hy = sendBinder(y, 3, 0x5000, 0x6000);
  const uint32_t in_y = relay(hx, y, 3, hy);
  ASSERT_NE(in_y, 0u);
  nb_ref_owner_info info{};
  ASSERT_EQ(0, refOwner(y, 3, in_y, &info));
  EXPECT_EQ(info.owner_pid, 100);
  EXPECT_EQ(info.owner_proc_id, idOf(x));
  EXPECT_NE(info.owner_proc_id, idOf(y));
  EXPECT_EQ(info.node_ptr, 0x3000u);
  EXPECT_EQ(info.node_cookie, 0x4000u);
  EXPECT_EQ(info.flags, 0u);
  // The manager (pid 50) asking about the same node gets the open, not the pointers.
  ASSERT_EQ(0, refOwner(mgr_, 1, hx, &info));
  EXPECT_EQ(info.owner_proc_id, idOf(x));
  EXPECT_EQ(info.node_ptr, 0u);
  // A second open of the manager's process sees the manager's pointers through handle 0, and
  // the manager sees its own node there.
  Client mgr_twin = open(50);
  ASSERT_EQ(0, refOwner(mgr_twin, 4, 0, &info));
  EXPECT_EQ(info.owner_proc_id, idOf(mgr_));
  EXPECT_EQ(info.node_ptr, kMgrPtr);
  EXPECT_EQ(info.node_cookie, kMgrCookie);
  ASSERT_EQ(0, refOwner(mgr_, 1, 0, &info));
  EXPECT_EQ(info.owner_proc_id, idOf(mgr_));
  EXPECT_EQ(info.node_cookie, kMgrCookie);
  // Once x is gone, y learns that from the same handle: dead, pid 0, pointers withheld, id kept.
  const uint64_t x_id = idOf(x);
  drv_.releaseProcess(x.id);
  ASSERT_EQ(0, refOwner(y, 3, in_y, &info));
  EXPECT_EQ(info.flags, NB_REF_OWNER_DEAD);
  EXPECT_EQ(info.owner_pid, 0);
  EXPECT_EQ(info.owner_proc_id, x_id);
  EXPECT_EQ(info.node_ptr, 0u);
  EXPECT_EQ(info.node_cookie, 0u);
}

TEST_F(RefOwnerTest, WeakHandlesAreAnswered) {
  Client a = open(200);
  startThread(a, 2);
  const uint32_t h = sendBinder(a, 2, 0x1000, 0x2000, /*strong=*/false);
  nb_ref_owner_info info{};
  ASSERT_EQ(0, refOwner(mgr_, 1, h, &info));
  EXPECT_EQ(info.owner_proc_id, idOf(a));
}

TEST_F(RefOwnerTest, DeadOwnerGivesDeadFlagPidZeroAndKeepsItsId) {
  Client a = open(200);
  startThread(a, 2);
  const uint32_t h = sendBinder(a, 2, 0x1000, 0x2000);
  const uint64_t a_id = idOf(a);
  drv_.releaseProcess(a.id);
  nb_ref_owner_info info{};
  ASSERT_EQ(0, refOwner(mgr_, 1, h, &info));
  EXPECT_EQ(info.flags, NB_REF_OWNER_DEAD);
  EXPECT_EQ(info.owner_pid, 0);
  EXPECT_EQ(info.owner_proc_id, a_id);
  EXPECT_EQ(info.node_ptr, 0u);
  EXPECT_EQ(info.node_cookie, 0u);
  // Ids are never reused: a new open of the same pid gets a new one.
  Client b = open(200);
  EXPECT_NE(idOf(b), a_id);
}

TEST_F(RefOwnerTest, HandleZeroAfterTheManagerDied) {
  Client a = open(200);
  startThread(a, 2);
  // a holds its own ref 0 (as libbinder does) before the manager dies.
  ASSERT_EQ(write(a, 2, Cmds().cmd(BC_INCREFS, 0u).cmd(BC_ACQUIRE, 0u)).error, 0);
  const uint64_t mgr_id = idOf(mgr_);
  drv_.releaseProcess(mgr_.id);
  nb_ref_owner_info info{};
  ASSERT_EQ(0, refOwner(a, 2, 0, &info));
  EXPECT_EQ(info.flags, NB_REF_OWNER_DEAD);
  EXPECT_EQ(info.owner_pid, 0);
  EXPECT_EQ(info.owner_proc_id, mgr_id);
  // Without a ref 0 and without a manager, handle 0 is unknown.
  Client b = open(300);
  EXPECT_EQ(EINVAL, refOwner(b, 4, 0, &info));
  // A new manager is what handle 0 names from then on.
  Client mgr2 = open(50);
  int32_t zero = 0;
  ASSERT_EQ(0, ioctl(mgr2, 5, BINDER_SET_CONTEXT_MGR, &zero));
  ASSERT_EQ(0, refOwner(b, 4, 0, &info));
  EXPECT_EQ(info.owner_proc_id, idOf(mgr2));
  EXPECT_EQ(info.flags, 0u);
}

TEST_F(RefOwnerTest, UnknownHandleAndReservedAreEinval) {
  nb_ref_owner_info info{};
  EXPECT_EQ(EINVAL, refOwner(mgr_, 1, 7, &info));
  info = {};
  info.handle = 0;
  info.reserved = 1;
  EXPECT_EQ(EINVAL, ioctl(mgr_, 1, NB_IOC_REF_OWNER, &info));
  // A short argument is a copy fault.
  uint32_t short_arg = 0;
  EXPECT_EQ(EFAULT, ioctl(mgr_, 1, NB_IOC_REF_OWNER, &short_arg, sizeof(short_arg)));
}

TEST_F(RefOwnerTest, FreedRefIsUnknown) {
  Client a = open(200);
  startThread(a, 2);
  Io io = wr(
      a, 2,
      Cmds().cmd(BC_TRANSACTION, txn(a, 0, 1, bytesOf(binderObj(0x1000, 0x2000)), {0}, TF_ONE_WAY)),
      0);
  ASSERT_EQ(io.error, 0);
  Io in = read(mgr_, 1);
  ASSERT_EQ(in.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  const binder_transaction_data tr = in.brs.back().tr();
  const uint32_t h = mgr_.at<flat_binder_object>(tr.data.ptr.buffer).handle;
  nb_ref_owner_info info{};
  ASSERT_EQ(0, refOwner(mgr_, 1, h, &info));
  // Freeing the buffer drops the only reference: the handle is gone.
  ASSERT_EQ(
      write(mgr_, 1, Cmds().cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(tr.data.ptr.buffer)))
          .error,
      0);
  EXPECT_EQ(EINVAL, refOwner(mgr_, 1, h, &info));
}

}  // namespace
}  // namespace nb::driver::test
