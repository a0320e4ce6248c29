// Nodes, handles and the BR_INCREFS/ACQUIRE/RELEASE/DECREFS handshake (kernel-binder.md §4,
// §6.4, §7.2, §7.3, §17.1–§17.3, §17.14).
#include "tests/local_driver/core/driver_harness.h"

namespace nb::driver::test {
namespace {

using K = WriteReadResult::Kind;

class NodeTest : public DriverTest {
 protected:
  void SetUp() override {
    mgr_ = open(100);
    startThread(mgr_, 1);
    makeContextManager(mgr_, 1);
    enterLooper(mgr_, 1);
    a_ = open(200);
    startThread(a_, 2);
  }
  // a sends a oneway carrying its node `ptr` to the manager; returns the manager's BR_TRANSACTION.
  binder_transaction_data sendBinder(uint64_t ptr, uint64_t cookie, bool strong = true) {
    Io io = wr(a_, 2,
               Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, bytesOf(binderObj(ptr, cookie, 0, strong)),
                                              {0}, TF_ONE_WAY)),
               0);
    EXPECT_EQ(io.error, 0);
    Io in = read(mgr_, 1);
    EXPECT_EQ(in.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
    return in.brs.empty() ? binder_transaction_data{} : in.brs.back().tr();
  }
  void freeBuffer(const Client& c, Tid tid, uint64_t addr) {
    EXPECT_EQ(write(c, tid, Cmds().cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(addr))).error,
              0);
  }
  Client mgr_;
  Client a_;
};

TEST_F(NodeTest, BinderBecomesHandleAndOwnerIsToldAtTransfer) {
  binder_transaction_data tr = sendBinder(0x1000, 0x2000);
  flat_binder_object obj = mgr_.at<flat_binder_object>(tr.data.ptr.buffer);
  EXPECT_EQ(obj.hdr.type, static_cast<uint32_t>(BINDER_TYPE_HANDLE));
  EXPECT_EQ(obj.handle, 1u);  // lowest free descriptor >= 1
  EXPECT_EQ(obj.cookie, 0u);
  // The manager takes its own references, then frees the buffer.
  EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_INCREFS, 1u).cmd(BC_ACQUIRE, 1u)).error, 0);
  freeBuffer(mgr_, 1, tr.data.ptr.buffer);
  Io own = read(a_, 2);
  ASSERT_EQ(own.codes(),
            (std::vector<uint32_t>{BR_NOOP, BR_INCREFS, BR_ACQUIRE, BR_TRANSACTION_COMPLETE}));
  EXPECT_EQ(own.brs[1].ptrCookie().ptr, 0x1000u);
  EXPECT_EQ(own.brs[1].ptrCookie().cookie, 0x2000u);
  binder_ptr_cookie pc{0x1000, 0x2000};
  EXPECT_EQ(write(a_, 2, Cmds().cmd(BC_INCREFS_DONE, pc).cmd(BC_ACQUIRE_DONE, pc)).error, 0);
  // The manager drops its references: the owner gets RELEASE then DECREFS.
  EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_RELEASE, 1u).cmd(BC_DECREFS, 1u)).error, 0);
  Io drop = read(a_, 2);
  ASSERT_EQ(drop.codes(), (std::vector<uint32_t>{BR_NOOP, BR_RELEASE, BR_DECREFS}));
  binder_node_debug_info info{};
  EXPECT_EQ(0, ioctl(a_, 2, BINDER_GET_NODE_DEBUG_INFO, &info));
  EXPECT_EQ(info.ptr, 0u);  // the node is gone
}

TEST_F(NodeTest, HandleFreedBeforeOwnerReadsIsNeverAnnounced) {
  binder_transaction_data tr = sendBinder(0x1000, 0x2000);
  freeBuffer(mgr_, 1, tr.data.ptr.buffer);  // §17.2
  Io own = read(a_, 2);
  EXPECT_EQ(own.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
}

TEST_F(NodeTest, WeakRefCannotBePromoted) {
  binder_transaction_data tr = sendBinder(0x1000, 0x2000, /*strong=*/false);
  flat_binder_object obj = mgr_.at<flat_binder_object>(tr.data.ptr.buffer);
  EXPECT_EQ(obj.hdr.type, static_cast<uint32_t>(BINDER_TYPE_WEAK_HANDLE));
  EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_INCREFS, 1u).cmd(BC_ACQUIRE, 1u)).error, 0);
  freeBuffer(mgr_, 1, tr.data.ptr.buffer);
  // Calling a weak handle fails (§17.3).
  Io call = wr(mgr_, 1, Cmds().cmd(BC_TRANSACTION, txn(mgr_, 1, 1, {}, {}, TF_ONE_WAY)));
  EXPECT_EQ(call.codes(), (std::vector<uint32_t>{BR_NOOP, BR_FAILED_REPLY}));
  binder_node_info_for_ref info{};
  info.handle = 1;
  EXPECT_EQ(EINVAL, ioctl(mgr_, 1, BINDER_GET_NODE_INFO_FOR_REF, &info));
}

TEST_F(NodeTest, HandleZeroIncrefCreatesDescZeroAndManagerMayNot) {
  EXPECT_EQ(write(a_, 2, Cmds().cmd(BC_ACQUIRE, 0u)).error, 0);
  // The manager itself: ioctl EINVAL.
  EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_ACQUIRE, 0u)).error, EINVAL);
  EXPECT_NE(drv_.dumpState().find("ref "), std::string::npos);
  EXPECT_NE(drv_.dumpState().find("desc 0 node"), std::string::npos);
}

TEST_F(NodeTest, HandleBackToOwnerIsDeliveredAsBinder) {
  binder_transaction_data tr = sendBinder(0x1000, 0x2000);
  EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_ACQUIRE, 1u)).error, 0);
  freeBuffer(mgr_, 1, tr.data.ptr.buffer);
  Io own = read(a_, 2);
  ASSERT_EQ(own.brs.size(), 4u);
  // mgr sends handle 1 back to a (as a oneway to a's node through handle 1).
  Io io = wr(mgr_, 1,
             Cmds().cmd(BC_TRANSACTION, txn(mgr_, 1, 5, bytesOf(handleObj(1)), {0}, TF_ONE_WAY)));
  EXPECT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  Io in = read(a_, 2);
  ASSERT_EQ(in.codes().back(), static_cast<uint32_t>(BR_TRANSACTION));
  flat_binder_object obj = a_.at<flat_binder_object>(in.brs.back().tr().data.ptr.buffer);
  EXPECT_EQ(obj.hdr.type, static_cast<uint32_t>(BINDER_TYPE_BINDER));
  EXPECT_EQ(obj.binder, 0x1000u);
  EXPECT_EQ(obj.cookie, 0x2000u);
}

TEST_F(NodeTest, CookieMismatchFailsWithEinval) {
  binder_transaction_data tr = sendBinder(0x1000, 0x2000);
  (void)tr;
  Io io = wr(a_, 2,
             Cmds().cmd(BC_TRANSACTION,
                        txn(a_, 0, 1, bytesOf(binderObj(0x1000, 0x9999)), {0}, TF_ONE_WAY)));
  EXPECT_EQ(io.codes().back(), static_cast<uint32_t>(BR_FAILED_REPLY));
  EXPECT_EQ(extendedError(a_, 2).param, -EINVAL);
}

TEST_F(NodeTest, DescriptorsAreLowestFreeAndReused) {
  std::vector<uint64_t> bufs;
  for (uint64_t p = 1; p <= 3; ++p) {
    binder_transaction_data tr = sendBinder(0x1000 * p, p);
    EXPECT_EQ(mgr_.at<flat_binder_object>(tr.data.ptr.buffer).handle, p);
    EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_ACQUIRE, static_cast<uint32_t>(p))).error, 0);
    bufs.push_back(tr.data.ptr.buffer);
    freeBuffer(mgr_, 1, tr.data.ptr.buffer);
  }
  EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_RELEASE, 2u)).error, 0);  // desc 2 deleted
  binder_transaction_data tr = sendBinder(0x9000, 9);
  EXPECT_EQ(mgr_.at<flat_binder_object>(tr.data.ptr.buffer).handle, 2u);
  freeBuffer(mgr_, 1, tr.data.ptr.buffer);  // else the next oneway to the manager waits (§8.3)
  // The same node again maps to the same descriptor (counts merge).
  binder_transaction_data again = sendBinder(0x1000, 1);
  EXPECT_EQ(mgr_.at<flat_binder_object>(again.data.ptr.buffer).handle, 1u);
}

TEST_F(NodeTest, NodeInfoForRefCountsProcesses) {
  binder_transaction_data tr = sendBinder(0x1000, 0x2000);
  EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_ACQUIRE, 1u).cmd(BC_ACQUIRE, 1u)).error, 0);
  freeBuffer(mgr_, 1, tr.data.ptr.buffer);
  binder_node_info_for_ref info{};
  info.handle = 1;
  EXPECT_EQ(0, ioctl(mgr_, 1, BINDER_GET_NODE_INFO_FOR_REF, &info));
  EXPECT_EQ(info.strong_count, 1u);  // one referencing process, not two BC_ACQUIREs
}

// CVE-2023-21255 / CVE-2023-20938: a failure at object k releases exactly objects 0..k-1; a
// validation failure releases nothing.
TEST_F(NodeTest, FailedTransactionReleasesOnlyTranslatedObjects) {
  binder_transaction_data tr = sendBinder(0x1000, 0x2000);
  EXPECT_EQ(write(mgr_, 1, Cmds().cmd(BC_ACQUIRE, 1u)).error, 0);
  freeBuffer(mgr_, 1, tr.data.ptr.buffer);
  (void)read(a_, 2);
  const std::string before = drv_.dumpState();
  // Object 0 valid (the manager's handle 1), object 1 an invalid handle.
  struct {
    flat_binder_object o0, o1;
  } data{handleObj(1), handleObj(42)};
  Io io =
      wr(mgr_, 1, Cmds().cmd(BC_TRANSACTION, txn(mgr_, 1, 1, bytesOf(data), {0, 24}, TF_ONE_WAY)));
  EXPECT_EQ(io.codes().back(), static_cast<uint32_t>(BR_FAILED_REPLY));
  // Unaligned offsets_size: nothing is translated, nothing released.
  binder_transaction_data bad = txn(mgr_, 1, 1, bytesOf(data), {0, 24}, TF_ONE_WAY);
  bad.offsets_size = 12;
  Io io2 = wr(mgr_, 1, Cmds().cmd(BC_TRANSACTION, bad));
  EXPECT_EQ(io2.codes().back(), static_cast<uint32_t>(BR_FAILED_REPLY));
  EXPECT_EQ(extendedError(mgr_, 1).param, -EINVAL);
  EXPECT_EQ(drv_.dumpState(), before);
}

}  // namespace
}  // namespace nb::driver::test
