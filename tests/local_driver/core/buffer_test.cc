// Buffers: allocator, async budget and spam detection, fds (FD/FDA) with install at read, PTR
// scatter-gather with parent fixups, TF_CLEAR_BUF, security context (kernel-binder.md §7, §9).
#include "local_driver/core/buffer_allocator.h"
#include "tests/local_driver/core/driver_harness.h"

namespace nb::driver::test {
namespace {

using K = WriteReadResult::Kind;

TEST(BufferAllocatorTest, BestFitSplitMerge) {
  BufferAllocator a;
  a.init(1024);
  BufferAllocator::Allocation x, y, z;
  ASSERT_EQ(0, a.allocate(100, 0, 0, false, 1, &x));
  EXPECT_EQ(x.offset, 0u);
  EXPECT_EQ(x.size, 104u);
  ASSERT_EQ(0, a.allocate(0, 0, 0, false, 1, &y));
  EXPECT_EQ(y.size, 8u);  // 0-byte buffers still take 8 bytes
  ASSERT_EQ(0, a.allocate(16, 0, 0, false, 1, &z));
  a.free(y.offset);
  BufferAllocator::Allocation w;
  ASSERT_EQ(0, a.allocate(8, 0, 0, false, 1, &w));
  EXPECT_EQ(w.offset, y.offset);  // best fit: the 8-byte hole
  a.free(x.offset);
  a.free(w.offset);
  a.free(z.offset);
  EXPECT_EQ(a.allocatedCount(), 0u);
  ASSERT_EQ(0, a.allocate(1024, 0, 0, false, 1, &x));  // merged back into one chunk
  EXPECT_EQ(ENOSPC, a.allocate(8, 0, 0, false, 1, &y));
  EXPECT_EQ(EINVAL, a.allocate(UINT64_MAX, 8, 0, false, 1, &y));
}

// §17.13: with a 1 MiB area eight 60000-byte oneways fit and the ninth fails; the spam detector
// flags exactly one call (the 7th).
TEST(BufferAllocatorTest, AsyncBudgetAndSpamDetection) {
  BufferAllocator a;
  a.init(1 << 20);
  std::vector<bool> suspects;
  BufferAllocator::Allocation x;
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(0, a.allocate(60000, 0, 0, true, 42, &x)) << i;
    suspects.push_back(x.oneway_spam_suspect);
  }
  EXPECT_EQ(ENOSPC, a.allocate(60000, 0, 0, true, 42, &x));
  EXPECT_EQ(suspects, (std::vector<bool>{false, false, false, false, false, false, true, false}));
  // A sync call still fits.
  EXPECT_EQ(0, a.allocate(60000, 0, 0, false, 42, &x));
}

TEST(BufferAllocatorTest, FullAreaSyncFits) {
  BufferAllocator a;
  a.init(128 * 1024);
  BufferAllocator::Allocation x;
  EXPECT_EQ(0, a.allocate(131008, 64, 0, false, 1, &x));  // §17.13: metadata not in the area
}

class BufferTest : public DriverTest {
 protected:
  void SetUp() override {
    mgr_ = open(100);
    startThread(mgr_, 1);
    flat_binder_object fbo = binderObj(0, 0, FLAT_BINDER_FLAG_ACCEPTS_FDS);
    ASSERT_EQ(0, ioctl(mgr_, 1, BINDER_SET_CONTEXT_MGR_EXT, &fbo));
    enterLooper(mgr_, 1);
    a_ = open(200);
    startThread(a_, 2);
    ASSERT_EQ(0, ::pipe(pipe_));
    a_.mem->valid_fds = {pipe_[0], pipe_[1]};
  }
  void TearDown() override {
    ::close(pipe_[0]);
    ::close(pipe_[1]);
  }
  Client mgr_;
  Client a_;
  int pipe_[2] = {-1, -1};
};

TEST_F(BufferTest, FdInstalledAtRead) {
  binder_fd_object fdo{};
  fdo.hdr.type = BINDER_TYPE_FD;
  fdo.fd = static_cast<uint32_t>(pipe_[0]);
  fdo.cookie = 0x77;
  Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, bytesOf(fdo), {0}, TF_ONE_WAY)));
  EXPECT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  Io in = read(mgr_, 1);
  ASSERT_EQ(in.kind, K::kInstallFds);
  ASSERT_EQ(in.fds.size(), 1u);
  EXPECT_TRUE(in.fds[0].file.valid());
  Io done = installFds(mgr_, 1, std::move(in), {33});
  ASSERT_EQ(done.kind, K::kDone);
  ASSERT_EQ(done.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  const binder_transaction_data tr = done.brs[1].tr();
  binder_fd_object got = mgr_.at<binder_fd_object>(tr.data.ptr.buffer);
  EXPECT_EQ(got.fd, 33u);
  EXPECT_EQ(got.cookie, 0x77u);
  // FD objects are never closed by the driver.
  EXPECT_EQ(
      write(mgr_, 1, Cmds().cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(tr.data.ptr.buffer)))
          .error,
      0);
  EXPECT_TRUE(effects_.closes.empty());
}

TEST_F(BufferTest, FdRejectedWithoutAcceptFdsAndBadFd) {
  binder_fd_object fdo{};
  fdo.hdr.type = BINDER_TYPE_FD;
  fdo.fd = 999;  // not open in the client
  Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, bytesOf(fdo), {0}, TF_ONE_WAY)));
  EXPECT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_FAILED_REPLY}));
  EXPECT_EQ(extendedError(a_, 2).param, -EBADF);
  // A reply to a call without TF_ACCEPT_FDS may not carry fds.
  Io call = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, {})));
  ASSERT_EQ(call.kind, K::kWouldBlock);
  Io in = read(mgr_, 1);
  mgr_.mem->valid_fds = {pipe_[0]};
  fdo.fd = static_cast<uint32_t>(pipe_[0]);
  Io rep = wr(mgr_, 1, Cmds().cmd(BC_REPLY, txn(mgr_, 0, 0, bytesOf(fdo), {0})));
  EXPECT_EQ(rep.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  Io back = resume(a_, 2);
  EXPECT_EQ(back.codes(),
            (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE, BR_FAILED_REPLY}));
  EXPECT_EQ(extendedError(a_, 2).param, -EPERM);
  (void)in;
}

TEST_F(BufferTest, FdaInPtrClosedAtFree) {
  // data: [PTR(buffer -> 3 fds) | FDA(num 2, parent 0, parent_offset 4)]
  const uint32_t fds[3] = {0, static_cast<uint32_t>(pipe_[0]), static_cast<uint32_t>(pipe_[1])};
  struct {
    binder_buffer_object ptr;
    binder_fd_array_object fda;
  } data{};
  data.ptr.hdr.type = BINDER_TYPE_PTR;
  data.ptr.buffer = a_.mem->put(fds, sizeof(fds));
  data.ptr.length = sizeof(fds);
  data.fda.hdr.type = BINDER_TYPE_FDA;
  data.fda.num_fds = 2;
  data.fda.parent = 0;
  data.fda.parent_offset = 4;
  // A PTR at data offset 0 cannot be a parent (§17.4): put 8 bytes before.
  std::vector<uint8_t> bytes(8, 0);
  std::vector<uint8_t> obj = bytesOf(data);
  bytes.insert(bytes.end(), obj.begin(), obj.end());
  binder_transaction_data_sg sg{};
  sg.transaction_data = txn(a_, 0, 1, bytes, {8, 8 + sizeof(binder_buffer_object)}, TF_ONE_WAY);
  sg.buffers_size = 16;
  Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION_SG, sg));
  ASSERT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  Io in = read(mgr_, 1);
  ASSERT_EQ(in.kind, K::kInstallFds);
  ASSERT_EQ(in.fds.size(), 2u);
  Io done = installFds(mgr_, 1, std::move(in), {40, 41});
  ASSERT_EQ(done.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  const binder_transaction_data tr = done.brs[1].tr();
  const auto ptr = mgr_.at<binder_buffer_object>(tr.data.ptr.buffer + 8);
  // The payload copy lives in the receiver's area, after data and offsets.
  EXPECT_EQ(ptr.buffer, tr.data.ptr.buffer + 8 + sizeof(data) + 16);
  EXPECT_EQ(mgr_.at<uint32_t>(ptr.buffer), 0u);
  EXPECT_EQ(mgr_.at<uint32_t>(ptr.buffer + 4), 40u);
  EXPECT_EQ(mgr_.at<uint32_t>(ptr.buffer + 8), 41u);
  EXPECT_EQ(
      write(mgr_, 1, Cmds().cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(tr.data.ptr.buffer)))
          .error,
      0);
  ASSERT_EQ(effects_.closes.size(), 1u);
  EXPECT_EQ(effects_.closes[0].second, (std::vector<int>{40, 41}));
}

TEST_F(BufferTest, FdInstallFailureFailsTheCall) {
  binder_fd_object fdo{};
  fdo.hdr.type = BINDER_TYPE_FD;
  fdo.fd = static_cast<uint32_t>(pipe_[0]);
  Io call = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, bytesOf(fdo), {0})));
  ASSERT_EQ(call.kind, K::kWouldBlock);
  Io in = read(mgr_, 1, 512, /*nonblock=*/true);
  ASSERT_EQ(in.kind, K::kInstallFds);
  Io after = installFds(mgr_, 1, std::move(in), {-1});
  EXPECT_EQ(after.error, EAGAIN);  // the transaction was skipped; nothing else to read
  Io back = resume(a_, 2);
  EXPECT_EQ(back.codes(),
            (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE, BR_FAILED_REPLY}));
}

TEST_F(BufferTest, PtrWithParentFixup) {
  // Parent PTR (16 bytes payload) at data offset 8, child PTR pointing into parent offset 8.
  const uint64_t parent_payload[2] = {0x1111, 0xdead};
  const uint8_t child_payload[4] = {1, 2, 3, 4};
  struct {
    uint64_t pad;
    binder_buffer_object parent;
    binder_buffer_object child;
  } data{};
  data.parent.hdr.type = BINDER_TYPE_PTR;
  data.parent.buffer = a_.mem->put(parent_payload, sizeof(parent_payload));
  data.parent.length = sizeof(parent_payload);
  data.child.hdr.type = BINDER_TYPE_PTR;
  data.child.flags = BINDER_BUFFER_FLAG_HAS_PARENT;
  data.child.buffer = a_.mem->put(child_payload, sizeof(child_payload));
  data.child.length = sizeof(child_payload);
  data.child.parent = 0;
  data.child.parent_offset = 8;
  binder_transaction_data_sg sg{};
  sg.transaction_data = txn(a_, 0, 1, bytesOf(data), {8, 48}, TF_ONE_WAY);
  sg.buffers_size = 24;
  Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION_SG, sg));
  ASSERT_EQ(io.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION_COMPLETE}));
  Io in = read(mgr_, 1);
  ASSERT_EQ(in.codes(), (std::vector<uint32_t>{BR_NOOP, BR_TRANSACTION}));
  const binder_transaction_data tr = in.brs[1].tr();
  const auto parent = mgr_.at<binder_buffer_object>(tr.data.ptr.buffer + 8);
  const auto child = mgr_.at<binder_buffer_object>(tr.data.ptr.buffer + 48);
  EXPECT_EQ(mgr_.at<uint64_t>(parent.buffer), 0x1111u);
  EXPECT_EQ(mgr_.at<uint64_t>(parent.buffer + 8), child.buffer);  // fixed up
  EXPECT_EQ(mgr_.at<uint8_t>(child.buffer + 3), 4);
  // One more byte than declared fails (CVE-2019-2214 class).
  sg.buffers_size = 16;
  Io bad = wr(a_, 2, Cmds().cmd(BC_TRANSACTION_SG, sg));
  EXPECT_EQ(bad.codes().back(), static_cast<uint32_t>(BR_FAILED_REPLY));
}

TEST_F(BufferTest, OffsetValidationErrnos) {
  flat_binder_object o = binderObj(0x10, 0x20);
  std::vector<uint8_t> bytes = bytesOf(o);
  Io unaligned = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, bytes, {2}, TF_ONE_WAY)));
  EXPECT_EQ(unaligned.codes().back(), static_cast<uint32_t>(BR_FAILED_REPLY));
  EXPECT_EQ(extendedError(a_, 2).param, -EINVAL);
  Io beyond = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, bytes, {4096}, TF_ONE_WAY)));
  EXPECT_EQ(beyond.codes().back(), static_cast<uint32_t>(BR_FAILED_REPLY));
  EXPECT_EQ(extendedError(a_, 2).param, -EFAULT);  // §17.8
}

TEST_F(BufferTest, OnewaySpamSuspectOnlyWhenEnabled) {
  uint32_t enable = 1;
  EXPECT_EQ(0, ioctl(a_, 2, BINDER_ENABLE_ONEWAY_SPAM_DETECTION, &enable));
  // The manager's area is 128 KiB: async budget 64 KiB; spam trips below 12.8 KiB left with more
  // than 32 KiB from this pid.
  std::vector<uint32_t> completes;
  const std::vector<uint8_t> payload(10000, 0);
  for (int i = 0; i < 6; ++i) {
    Io io = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, payload, {}, TF_ONE_WAY)));
    completes.push_back(io.codes().back());
  }
  EXPECT_EQ(completes, (std::vector<uint32_t>{BR_TRANSACTION_COMPLETE, BR_TRANSACTION_COMPLETE,
                                              BR_TRANSACTION_COMPLETE, BR_TRANSACTION_COMPLETE,
                                              BR_TRANSACTION_COMPLETE, BR_ONEWAY_SPAM_SUSPECT}));
  Io full = wr(a_, 2, Cmds().cmd(BC_TRANSACTION, txn(a_, 0, 1, payload, {}, TF_ONE_WAY)));
  EXPECT_EQ(full.codes().back(), static_cast<uint32_t>(BR_FAILED_REPLY));
  EXPECT_EQ(extendedError(a_, 2).param, -ENOSPC);
  EXPECT_NE(drv_.dumpStats().find("free async space"), std::string::npos);
}

// Default options: the reference 6.1 kernel fails calls to a TXN_SECURITY_CTX node (EINVAL).
TEST_F(BufferTest, SecurityContextNodeFailsByDefault) {
  Client svc = open(300);
  startThread(svc, 3);
  Io give = wr(
      svc, 3,
      Cmds().cmd(BC_TRANSACTION,
                 txn(svc, 0, 1, bytesOf(binderObj(0x50, 0x51, FLAT_BINDER_FLAG_TXN_SECURITY_CTX)),
                     {0}, TF_ONE_WAY)),
      0);
  ASSERT_EQ(give.error, 0);
  Io in = read(mgr_, 1);
  const binder_transaction_data tr = in.brs.back().tr();
  EXPECT_EQ(write(mgr_, 1,
                  Cmds()
                      .cmd(BC_ACQUIRE, 1u)
                      .cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(tr.data.ptr.buffer)))
                .error,
            0);
  Io call = wr(mgr_, 1, Cmds().cmd(BC_TRANSACTION, txn(mgr_, 1, 9, {1, 2, 3}, {}, TF_ONE_WAY)));
  EXPECT_EQ(call.codes(), (std::vector<uint32_t>{BR_NOOP, BR_FAILED_REPLY}));
  EXPECT_EQ(extendedError(mgr_, 1).param, -EINVAL);
}

class SecctxBufferTest : public BufferTest {
 protected:
  static void SetUpTestSuite() { next_options_.security_context = "unconfined"; }
  static void TearDownTestSuite() { next_options_ = {}; }
};

TEST_F(SecctxBufferTest, SecurityContextDelivered) {
  Client svc = open(300);
  startThread(svc, 3);
  enterLooper(svc, 3);
  // svc hands a TXN_SECURITY_CTX node to the manager, the manager calls it.
  Io give = wr(
      svc, 3,
      Cmds().cmd(BC_TRANSACTION,
                 txn(svc, 0, 1, bytesOf(binderObj(0x50, 0x51, FLAT_BINDER_FLAG_TXN_SECURITY_CTX)),
                     {0}, TF_ONE_WAY)),
      0);
  ASSERT_EQ(give.error, 0);
  Io in = read(mgr_, 1);
  const binder_transaction_data tr = in.brs.back().tr();
  EXPECT_EQ(write(mgr_, 1,
                  Cmds()
                      .cmd(BC_ACQUIRE, 1u)
                      .cmd(BC_FREE_BUFFER, static_cast<binder_uintptr_t>(tr.data.ptr.buffer)))
                .error,
            0);
  Io call = wr(mgr_, 1, Cmds().cmd(BC_TRANSACTION, txn(mgr_, 1, 9, {1, 2, 3}, {}, TF_ONE_WAY)));
  ASSERT_EQ(call.codes().back(), static_cast<uint32_t>(BR_TRANSACTION_COMPLETE));
  Io own = read(svc, 3);  // its own queue first: INCREFS, ACQUIRE, COMPLETE (§17.7)
  EXPECT_EQ(own.codes().back(), static_cast<uint32_t>(BR_TRANSACTION_COMPLETE));
  Io got = read(svc, 3);
  ASSERT_EQ(got.codes().back(), static_cast<uint32_t>(BR_TRANSACTION_SEC_CTX));
  const binder_transaction_data_secctx sec = got.brs.back().trSec();
  EXPECT_EQ(sec.transaction_data.code, 9u);
  const char* label = reinterpret_cast<const char*>(svc.area->data() + (sec.secctx - svc.base));
  EXPECT_STREQ(label, "unconfined");
}

}  // namespace
}  // namespace nb::driver::test
