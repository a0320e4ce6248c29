// Tests for ObjectWalker: one group per validation rule (WalkError), each with the rejected case
// and the nearest accepted boundary, so removing or loosening any rule fails a test. Expected
// results are the Linux 6.1 C driver's (binder_transaction(); kernel-binder.md §7.4, §11, §17).
#include "codec/object_walker.h"

#include <gtest/gtest.h>
#include <linux/android/binder.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "codec/walk_error.h"
#include "tests/codec/txn_builder.h"

namespace nb::codec {
namespace {

using testutil::makeBinder;
using testutil::makeChildPtr;
using testutil::makeFd;
using testutil::makeFda;
using testutil::makeFlat;
using testutil::makeHandle;
using testutil::makePtr;
using testutil::TxnBuilder;
using testutil::walkAll;
using testutil::WalkResult;

using U64s = std::initializer_list<uint64_t>;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
// Sender addresses of PTR payloads (8-aligned, as libbinder allocates them).
constexpr uint64_t kBufA = 0x7f00'0000'1000;
constexpr uint64_t kBufB = 0x7f00'0000'2000;
constexpr uint64_t kBufC = 0x7f00'0000'3000;
constexpr uint64_t kBufD = 0x7f00'0000'4000;
constexpr uint64_t kBufE = 0x7f00'0000'5000;
// Plenty of scatter-gather space for tests that are not about it.
constexpr uint64_t kSg = 4096;

::testing::AssertionResult succeeds(const WalkResult& result, size_t count) {
  if (result.error) {
    return ::testing::AssertionFailure() << "failed with " << walkErrorName(*result.error)
                                         << " at object " << result.failed_index;
  }
  if (result.objects.size() != count) {
    return ::testing::AssertionFailure()
           << "returned " << result.objects.size() << " objects, expected " << count;
  }
  return ::testing::AssertionSuccess();
}

// The walk stopped at object `index` with `error`, after returning exactly objects [0, index).
::testing::AssertionResult failsWith(const WalkResult& result, WalkError error, size_t index) {
  if (!result.error) {
    return ::testing::AssertionFailure()
           << "succeeded with " << result.objects.size() << " objects, expected "
           << walkErrorName(error) << " at object " << index;
  }
  if (*result.error != error || result.failed_index != index || result.objects.size() != index) {
    return ::testing::AssertionFailure()
           << "failed with " << walkErrorName(*result.error) << " at object " << result.failed_index
           << " after " << result.objects.size() << " objects, expected " << walkErrorName(error)
           << " at object " << index;
  }
  return ::testing::AssertionSuccess();
}

// Compares every field, so that fields a kind does not use are checked to be zero.
void expectSameObject(const WalkedObject& actual, const WalkedObject& expected) {
  SCOPED_TRACE("object " + std::to_string(expected.index));
  EXPECT_EQ(actual.kind, expected.kind) << objectKindName(actual.kind);
  EXPECT_EQ(actual.type, expected.type);
  EXPECT_EQ(actual.index, expected.index);
  EXPECT_EQ(actual.offset, expected.offset);
  EXPECT_EQ(actual.size, expected.size);
  EXPECT_EQ(actual.flags, expected.flags);
  EXPECT_EQ(actual.binder, expected.binder);
  EXPECT_EQ(actual.cookie, expected.cookie);
  EXPECT_EQ(actual.handle, expected.handle);
  EXPECT_EQ(actual.fd, expected.fd);
  EXPECT_EQ(actual.buffer, expected.buffer);
  EXPECT_EQ(actual.length, expected.length);
  EXPECT_EQ(actual.sg_offset, expected.sg_offset);
  EXPECT_EQ(actual.has_parent, expected.has_parent);
  EXPECT_EQ(actual.parent, expected.parent);
  EXPECT_EQ(actual.parent_offset, expected.parent_offset);
  EXPECT_EQ(actual.num_fds, expected.num_fds);
}

// A BINDER at data offset 0 (index 0), so that the PTRs after it can be fixup parents (§17.4).
TxnBuilder withFiller() {
  TxnBuilder txn;
  txn.add(makeBinder(0x10, 0x20));
  return txn;
}

// --- Whole-buffer rules -------------------------------------------------------------------------

TEST(ObjectWalkerSizesTest, EmptyTransactionIsValid) {
  TxnBuilder txn;
  ObjectWalker walker = txn.walker();
  EXPECT_EQ(walker.objectCount(), 0u);
  EXPECT_EQ(walker.next(), nullptr);
  EXPECT_EQ(walker.next(), nullptr);
  EXPECT_FALSE(walker.failed());
  EXPECT_EQ(walker.failedIndex(), 0u);
  EXPECT_EQ(walker.sgUsed(), 0u);
}

TEST(ObjectWalkerSizesTest, DataWithoutOffsetsIsNotInterpreted) {
  TxnBuilder txn;
  txn.write(0, makeFda(1, 99, 3)).pad(3);  // object bytes, but no offsets entry
  EXPECT_TRUE(succeeds(walkAll(txn), 0));
}

TEST(ObjectWalkerSizesTest, OffsetsSizeMustBeMultipleOf8) {
  for (size_t stray = 1; stray < 8; ++stray) {
    SCOPED_TRACE(stray);
    // CVE-2023-20938: a well-formed BINDER precedes the bad size; it must not be returned (and so
    // never released).
    TxnBuilder txn;
    txn.add(makeBinder(0x10, 0x20));
    txn.padOffsets(stray);
    EXPECT_TRUE(failsWith(walkAll(txn), WalkError::kOffsetsSizeUnaligned, 0));
  }
  TxnBuilder only_four;
  only_four.padOffsets(4);
  EXPECT_TRUE(failsWith(walkAll(only_four), WalkError::kOffsetsSizeUnaligned, 0));

  TxnBuilder aligned;
  aligned.add(makeBinder(0x10, 0x20));
  EXPECT_TRUE(succeeds(walkAll(aligned), 1));
}

TEST(ObjectWalkerSizesTest, BuffersSizeMustBeMultipleOf8) {
  for (uint64_t size : U64s{1u, 4u, 7u, 12u, 4095u}) {
    SCOPED_TRACE(size);
    EXPECT_TRUE(failsWith(walkAll(TxnBuilder(), size), WalkError::kBuffersSizeUnaligned, 0));
  }
  for (uint64_t size : U64s{0u, 8u, 16u, 4096u}) {
    SCOPED_TRACE(size);
    EXPECT_TRUE(succeeds(walkAll(TxnBuilder(), size), 0));
  }
}

TEST(ObjectWalkerSizesTest, AlignedSizesMustNotOverflow) {
  TxnBuilder eight_bytes;
  eight_bytes.pad(8);
  // 8 + 0 + (2^64 - 8) == 2^64.
  EXPECT_TRUE(failsWith(walkAll(eight_bytes, kU64Max - 7), WalkError::kSizeOverflow, 0));
  EXPECT_TRUE(succeeds(walkAll(eight_bytes, kU64Max - 15), 0));
  EXPECT_TRUE(succeeds(walkAll(TxnBuilder(), kU64Max - 7), 0));
  // Data 1 byte is ALIGNed to 8 before the sum.
  TxnBuilder one_byte;
  one_byte.pad(1);
  EXPECT_TRUE(failsWith(walkAll(one_byte, kU64Max - 7), WalkError::kSizeOverflow, 0));
  // ALIGN(buffers_size) itself wraps; the kernel catches that too ("size < extra_buffers_size").
  EXPECT_TRUE(failsWith(walkAll(TxnBuilder(), kU64Max), WalkError::kSizeOverflow, 0));
  EXPECT_TRUE(failsWith(walkAll(TxnBuilder(), kU64Max - 3), WalkError::kSizeOverflow, 0));
  EXPECT_EQ(walkErrorErrno(WalkError::kSizeOverflow), EINVAL);
}

TEST(ObjectWalkerSizesTest, WholeBufferRulesRunInKernelOrder) {
  // binder_alloc_new_buf() (overflow) runs before the offsets_size and buffers_size checks.
  TxnBuilder stray_offsets;
  stray_offsets.padOffsets(4);
  EXPECT_TRUE(failsWith(walkAll(stray_offsets, kU64Max - 3), WalkError::kSizeOverflow, 0));
  // offsets_size is checked before buffers_size.
  EXPECT_TRUE(failsWith(walkAll(stray_offsets, 12), WalkError::kOffsetsSizeUnaligned, 0));
}

// --- Offsets ------------------------------------------------------------------------------------

TEST(ObjectWalkerOffsetTest, AdjacentObjectsAreValid) {
  TxnBuilder txn;
  txn.add(makeBinder(1, 2));
  txn.add(makeHandle(3));  // starts exactly at the end of the previous object
  EXPECT_TRUE(succeeds(walkAll(txn), 2));
}

TEST(ObjectWalkerOffsetTest, OverlappingOffsetIsEfault) {
  TxnBuilder txn;
  txn.add(makeBinder(1, 2));
  txn.pad(24);
  txn.addOffset(8);  // inside the BINDER at [0, 24)
  EXPECT_TRUE(failsWith(walkAll(txn), WalkError::kOffsetOverlaps, 1));
  EXPECT_EQ(walkErrorErrno(WalkError::kOffsetOverlaps), EFAULT);
}

TEST(ObjectWalkerOffsetTest, DuplicateOffsetIsEfault) {
  TxnBuilder txn;
  txn.add(makeHandle(1));
  txn.addOffset(0);
  EXPECT_TRUE(failsWith(walkAll(txn), WalkError::kOffsetOverlaps, 1));
}

TEST(ObjectWalkerOffsetTest, DecreasingOffsetIsEfault) {
  TxnBuilder txn;
  txn.write(0, makeHandle(1));
  txn.addAt(24, makeHandle(2));
  txn.addOffset(0);
  EXPECT_TRUE(failsWith(walkAll(txn), WalkError::kOffsetOverlaps, 1));
}

TEST(ObjectWalkerOffsetTest, OffsetPastDataIsEfault) {
  for (uint64_t offset : U64s{28ull, 32ull, 25ull, 4096ull, kU64Max - 7, kU64Max}) {
    SCOPED_TRACE(offset);
    TxnBuilder txn;
    txn.write(0, makeHandle(1));  // 24 bytes of data
    txn.addOffset(offset);
    // The gap copy check runs before binder_get_object(), so even a misaligned offset past the
    // data is EFAULT.
    EXPECT_TRUE(failsWith(walkAll(txn), WalkError::kOffsetBeyondData, 0));
  }
  EXPECT_EQ(walkErrorErrno(WalkError::kOffsetBeyondData), EFAULT);
}

TEST(ObjectWalkerOffsetTest, OffsetAtDataSizeIsEinval) {
  // §17.8: offset == data_size is EINVAL (binder_get_object() cannot read a header), not EFAULT.
  TxnBuilder gap;
  gap.pad(24);
  gap.addOffset(24);
  EXPECT_TRUE(failsWith(walkAll(gap), WalkError::kObjectTruncated, 0));

  // Zero gap: offset == end of the previous object == data_size.
  TxnBuilder no_gap;
  no_gap.add(makeHandle(1));
  no_gap.addOffset(24);
  EXPECT_TRUE(failsWith(walkAll(no_gap), WalkError::kObjectTruncated, 1));

  TxnBuilder empty;
  empty.addOffset(0);
  EXPECT_TRUE(failsWith(walkAll(empty), WalkError::kObjectTruncated, 0));
  EXPECT_EQ(walkErrorErrno(WalkError::kObjectTruncated), EINVAL);
}

TEST(ObjectWalkerOffsetTest, MisalignedOffsetIsEinval) {
  // CVE-2024-26926: offsets 1, 2, 3 mod 4 are rejected even with a whole object there.
  for (uint64_t offset : U64s{1u, 2u, 3u, 5u, 6u, 7u, 26u}) {
    SCOPED_TRACE(offset);
    TxnBuilder txn;
    txn.addAt(offset, makeHandle(1));
    EXPECT_TRUE(failsWith(walkAll(txn), WalkError::kOffsetUnaligned, 0));
  }
  // 4-aligned is enough; 8-alignment is not required.
  for (uint64_t offset : U64s{4u, 8u, 12u}) {
    SCOPED_TRACE(offset);
    TxnBuilder txn;
    txn.addAt(offset, makeHandle(1));
    EXPECT_TRUE(succeeds(walkAll(txn), 1));
  }
  EXPECT_EQ(walkErrorErrno(WalkError::kOffsetUnaligned), EINVAL);
}

// --- Objects ------------------------------------------------------------------------------------

TEST(ObjectWalkerObjectTest, ObjectMustEndInsideData) {
  struct Case {
    const char* name;
    uint32_t type;
    size_t size;
  };
  const Case cases[] = {
      {"BINDER", BINDER_TYPE_BINDER, 24}, {"WEAK_BINDER", BINDER_TYPE_WEAK_BINDER, 24},
      {"HANDLE", BINDER_TYPE_HANDLE, 24}, {"WEAK_HANDLE", BINDER_TYPE_WEAK_HANDLE, 24},
      {"FD", BINDER_TYPE_FD, 24},         {"PTR", BINDER_TYPE_PTR, 40},
      {"FDA", BINDER_TYPE_FDA, 32},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    // The type alone, at data offset 8 (after 8 bytes of plain data), then zeros.
    TxnBuilder exact;
    exact.pad(8);
    exact.addAt(8, c.type);
    exact.resizeData(8 + c.size);
    ObjectWalker walker = exact.walker(kSg);
    const WalkedObject* obj = walker.next();
    // An all-zero FDA names parent 0, its own index: it gets past the size rule only to fail the
    // parent rule.
    if (c.type == BINDER_TYPE_FDA) {
      EXPECT_EQ(walker.error(), WalkError::kParentInvalid);
    } else {
      ASSERT_NE(obj, nullptr);
      EXPECT_EQ(obj->size, c.size);
    }

    TxnBuilder short_by_one;
    short_by_one.pad(8);
    short_by_one.addAt(8, c.type);
    short_by_one.resizeData(8 + c.size - 1);
    EXPECT_TRUE(failsWith(walkAll(short_by_one, kSg), WalkError::kObjectTruncated, 0));
  }
}

TEST(ObjectWalkerObjectTest, HeaderMustBeReadable) {
  // Fewer than 4 bytes (the u32 type) after an aligned offset.
  for (size_t remaining = 1; remaining < 4; ++remaining) {
    SCOPED_TRACE(remaining);
    TxnBuilder txn;
    txn.pad(24 + remaining);
    txn.addOffset(24);
    EXPECT_TRUE(failsWith(walkAll(txn), WalkError::kObjectTruncated, 0));
  }
  // Exactly the 4-byte header of a known type: the body is missing.
  TxnBuilder known;
  known.addAt(0, uint32_t{BINDER_TYPE_HANDLE});
  EXPECT_TRUE(failsWith(walkAll(known), WalkError::kObjectTruncated, 0));
}

TEST(ObjectWalkerObjectTest, UnknownTypeIsEinval) {
  for (uint32_t type : std::initializer_list<uint32_t>{0u, uint32_t{BINDER_TYPE_BINDER} + 1,
                                                       uint32_t{BINDER_TYPE_FDA} - 1, 0xffffffffu,
                                                       uint32_t{B_PACK_CHARS('s', 'b', '*', 0)}}) {
    SCOPED_TRACE(type);
    TxnBuilder txn;
    txn.add(makeFlat(type, 1, 2));
    EXPECT_TRUE(failsWith(walkAll(txn), WalkError::kUnknownType, 0));
  }
  // binder_get_object() needs only the 4-byte header to see the type: 4 bytes of an unknown type
  // are an unknown type, not a truncated object.
  TxnBuilder header_only;
  header_only.addAt(0, uint32_t{0x12345678});
  EXPECT_TRUE(failsWith(walkAll(header_only), WalkError::kUnknownType, 0));
  EXPECT_EQ(walkErrorErrno(WalkError::kUnknownType), EINVAL);
}

TEST(ObjectWalkerObjectTest, ChecksRunInKernelOrder) {
  // Overlap (EFAULT) is found before the object is read (unknown type here).
  TxnBuilder overlap;
  overlap.add(makeHandle(1));
  overlap.addAt(20, uint32_t{0});
  EXPECT_TRUE(failsWith(walkAll(overlap), WalkError::kOffsetOverlaps, 1));
  // Misalignment is found before the type.
  TxnBuilder misaligned;
  misaligned.addAt(2, makeFlat(0, 0, 0));
  EXPECT_TRUE(failsWith(walkAll(misaligned), WalkError::kOffsetUnaligned, 0));
}

// --- Reported fields ----------------------------------------------------------------------------

TEST(ObjectWalkerFieldsTest, EveryKindReportsItsFields) {
  TxnBuilder txn;
  txn.add(makeBinder(0x1111'2222'3333'4444, 0x5555, 0x7f | FLAT_BINDER_FLAG_ACCEPTS_FDS));
  txn.add(makeFlat(BINDER_TYPE_WEAK_BINDER, 0x6666, 0x7777, 0x1));
  txn.add(makeHandle(7, 0x5));
  flat_binder_object weak_handle = makeFlat(BINDER_TYPE_WEAK_HANDLE, 0, 0xdead);  // cookie ignored
  weak_handle.handle = 9;
  txn.add(weak_handle);
  txn.add(makeFd(0xffffffffu, 0x8888));
  txn.add(makePtr(kBufA, 32, 0));
  txn.add(makeChildPtr(kBufB, 8, 5, 8));
  txn.add(makeFda(2, 5, 16));
  ASSERT_EQ(txn.data().size(), 232u);

  const WalkResult result = walkAll(txn, 48);
  ASSERT_TRUE(succeeds(result, 8));
  EXPECT_EQ(result.sg_used, 40u);

  std::vector<WalkedObject> expected(8);
  for (size_t i = 0; i < 5; ++i) {
    expected[i].index = i;
    expected[i].offset = 24 * i;
    expected[i].size = 24;
  }
  expected[0].kind = ObjectKind::kBinder;
  expected[0].type = BINDER_TYPE_BINDER;
  expected[0].flags = 0x7f | FLAT_BINDER_FLAG_ACCEPTS_FDS;
  expected[0].binder = 0x1111'2222'3333'4444;
  expected[0].cookie = 0x5555;
  expected[1].kind = ObjectKind::kWeakBinder;
  expected[1].type = BINDER_TYPE_WEAK_BINDER;
  expected[1].flags = 0x1;
  expected[1].binder = 0x6666;
  expected[1].cookie = 0x7777;
  expected[2].kind = ObjectKind::kHandle;
  expected[2].type = BINDER_TYPE_HANDLE;
  expected[2].flags = 0x5;
  expected[2].handle = 7;
  expected[3].kind = ObjectKind::kWeakHandle;
  expected[3].type = BINDER_TYPE_WEAK_HANDLE;
  expected[3].handle = 9;
  expected[4].kind = ObjectKind::kFd;
  expected[4].type = BINDER_TYPE_FD;
  expected[4].fd = -1;
  expected[4].cookie = 0x8888;
  for (size_t i = 5; i < 8; ++i) {
    expected[i].index = i;
    expected[i].offset = 120 + 40 * (i - 5);
    expected[i].has_parent = i > 5;
    expected[i].parent = i > 5 ? 5 : 0;
  }
  expected[5].kind = ObjectKind::kPtr;
  expected[5].type = BINDER_TYPE_PTR;
  expected[5].size = 40;
  expected[5].buffer = kBufA;
  expected[5].length = 32;
  expected[5].sg_offset = 0;
  expected[6].kind = ObjectKind::kPtr;
  expected[6].type = BINDER_TYPE_PTR;
  expected[6].size = 40;
  expected[6].flags = BINDER_BUFFER_FLAG_HAS_PARENT;
  expected[6].buffer = kBufB;
  expected[6].length = 8;
  expected[6].sg_offset = 32;
  expected[6].parent_offset = 8;
  expected[7].kind = ObjectKind::kFdArray;
  expected[7].type = BINDER_TYPE_FDA;
  expected[7].size = 32;
  expected[7].parent_offset = 16;
  expected[7].num_fds = 2;
  for (size_t i = 0; i < expected.size(); ++i) {
    expectSameObject(result.objects[i], expected[i]);
  }
}

TEST(ObjectWalkerFieldsTest, SgOffsetsAreEightAlignedAndCumulative) {
  TxnBuilder txn;
  txn.add(makePtr(kBufA, 1));
  txn.add(makePtr(kBufB, 0));
  txn.add(makePtr(kBufC, 13));
  txn.add(makePtr(kBufD, 8));
  const WalkResult result = walkAll(txn, 40);
  ASSERT_TRUE(succeeds(result, 4));
  EXPECT_EQ(result.objects[0].sg_offset, 0u);
  EXPECT_EQ(result.objects[1].sg_offset, 8u);
  EXPECT_EQ(result.objects[2].sg_offset, 8u);  // a zero-length payload takes no space
  EXPECT_EQ(result.objects[3].sg_offset, 24u);
  EXPECT_EQ(result.sg_used, 32u);
}

TEST(ObjectWalkerFieldsTest, PtrWithoutHasParentIgnoresParentFields) {
  TxnBuilder txn = withFiller();
  binder_buffer_object ptr = makePtr(kBufA, 16, 0x6);  // other flag bits, but not HAS_PARENT
  ptr.parent = kU64Max;
  ptr.parent_offset = kU64Max;
  txn.add(ptr);
  const WalkResult result = walkAll(txn, kSg);
  ASSERT_TRUE(succeeds(result, 2));
  EXPECT_EQ(result.objects[1].flags, 0x6u);
  EXPECT_FALSE(result.objects[1].has_parent);
  EXPECT_EQ(result.objects[1].parent, 0u);
  EXPECT_EQ(result.objects[1].parent_offset, 0u);
}

TEST(ObjectWalkerFieldsTest, ErrorAtObjectKStopsTheWalk) {
  // CVE-2023-21255: the caller releases exactly objects [0, k).
  TxnBuilder txn;
  txn.add(makeBinder(1, 2));
  txn.add(makePtr(kBufA, 16));
  txn.add(makeHandle(3));
  txn.add(makeFlat(0, 0, 0));  // unknown type at k = 3
  txn.add(makeHandle(4));      // valid, but after the failure
  ObjectWalker walker = txn.walker(kSg);
  for (size_t i = 0; i < 3; ++i) {
    const WalkedObject* obj = walker.next();
    ASSERT_NE(obj, nullptr);
    EXPECT_EQ(obj->index, i);
    EXPECT_FALSE(walker.failed());
  }
  EXPECT_EQ(walker.next(), nullptr);
  EXPECT_TRUE(walker.failed());
  EXPECT_EQ(walker.error(), WalkError::kUnknownType);
  EXPECT_EQ(walker.failedIndex(), 3u);
  EXPECT_EQ(walker.sgUsed(), 16u);
  // The walk stays stopped.
  EXPECT_EQ(walker.next(), nullptr);
  EXPECT_EQ(walker.failedIndex(), 3u);
}

TEST(ObjectWalkerFieldsTest, FirstObjectInvalidReportsNothing) {
  TxnBuilder txn;
  txn.add(makeFlat(0, 0, 0));
  txn.add(makeBinder(1, 2));
  txn.add(makeHandle(3));
  EXPECT_TRUE(failsWith(walkAll(txn), WalkError::kUnknownType, 0));
}

TEST(ObjectWalkerFieldsTest, FailedPtrConsumesNoSgSpace) {
  TxnBuilder txn = withFiller();
  txn.add(makePtr(kBufA, 16));
  txn.add(makeChildPtr(kBufB, 8, 7, 0));  // bad parent index
  const WalkResult result = walkAll(txn, kSg);
  EXPECT_TRUE(failsWith(result, WalkError::kParentInvalid, 2));
  EXPECT_EQ(result.sg_used, 16u);
}

TEST(ObjectWalkerFieldsTest, ReadsUnalignedBuffers) {
  TxnBuilder txn = withFiller();
  txn.add(makePtr(kBufA, 16));
  txn.add(makeFda(1, 1, 4));
  // Copy data and offsets to odd addresses: the walker must read them with memcpy.
  std::vector<uint8_t> data(txn.data().size() + 1);
  std::vector<uint8_t> offsets(txn.offsets().size() + 3);
  std::copy(txn.data().begin(), txn.data().end(), data.begin() + 1);
  std::copy(txn.offsets().begin(), txn.offsets().end(), offsets.begin() + 3);
  ObjectWalker walker(std::span<const uint8_t>(data).subspan(1),
                      std::span<const uint8_t>(offsets).subspan(3), kSg);
  const WalkResult result = walkAll(walker);
  ASSERT_TRUE(succeeds(result, 3));
  EXPECT_EQ(result.objects[0].binder, 0x10u);
  EXPECT_EQ(result.objects[1].buffer, kBufA);
  EXPECT_EQ(result.objects[2].num_fds, 1u);
}

// --- PTR: scatter-gather space (CVE-2019-2214) ---------------------------------------------------

TEST(ObjectWalkerPtrTest, PayloadsMustFitBuffersSize) {
  TxnBuilder txn;
  txn.add(makePtr(kBufA, 16));
  txn.add(makePtr(kBufB, 24));
  // Exact fit succeeds ...
  const WalkResult exact = walkAll(txn, 40);
  ASSERT_TRUE(succeeds(exact, 2));
  EXPECT_EQ(exact.sg_used, 40u);
  // ... 8 bytes short fails at the second PTR.
  const WalkResult short_by_8 = walkAll(txn, 32);
  EXPECT_TRUE(failsWith(short_by_8, WalkError::kPtrTooLarge, 1));
  EXPECT_EQ(short_by_8.sg_used, 16u);
  EXPECT_EQ(walkErrorErrno(WalkError::kPtrTooLarge), EINVAL);
}

TEST(ObjectWalkerPtrTest, PayloadsAreAccountedInEightByteSteps) {
  TxnBuilder txn;
  txn.add(makePtr(kBufA, 1));
  txn.add(makePtr(kBufB, 1));
  EXPECT_TRUE(succeeds(walkAll(txn, 16), 2));
  EXPECT_TRUE(failsWith(walkAll(txn, 8), WalkError::kPtrTooLarge, 1));
}

TEST(ObjectWalkerPtrTest, NoScatterGatherArea) {
  TxnBuilder empty;
  empty.add(makePtr(kBufA, 0));
  EXPECT_TRUE(succeeds(walkAll(empty, 0), 1));

  TxnBuilder one_byte;
  one_byte.add(makePtr(kBufA, 1));
  EXPECT_TRUE(failsWith(walkAll(one_byte, 0), WalkError::kPtrTooLarge, 0));
}

TEST(ObjectWalkerPtrTest, HugeLengthDoesNotWrap) {
  for (uint64_t length : U64s{kU64Max, kU64Max - 6, kU64Max - 7}) {
    SCOPED_TRACE(length);
    TxnBuilder txn;
    txn.add(makePtr(kBufA, 8));
    txn.add(makePtr(kBufB, length));
    EXPECT_TRUE(failsWith(walkAll(txn, kSg), WalkError::kPtrTooLarge, 1));
  }
  // With 40 bytes of data and 8 of offsets the largest area the size rule allows is 2^64 - 56, and
  // one PTR can fill it exactly. (Only reachable in theory, but the arithmetic must hold.)
  constexpr uint64_t kLargestArea = kU64Max - 55;
  TxnBuilder fits;
  fits.add(makePtr(kBufA, kLargestArea));
  EXPECT_TRUE(failsWith(walkAll(fits, kLargestArea + 8), WalkError::kSizeOverflow, 0));
  const WalkResult result = walkAll(fits, kLargestArea);
  ASSERT_TRUE(succeeds(result, 1));
  EXPECT_EQ(result.sg_used, kLargestArea);
  TxnBuilder too_large;
  too_large.add(makePtr(kBufA, kLargestArea + 1));
  EXPECT_TRUE(failsWith(walkAll(too_large, kLargestArea), WalkError::kPtrTooLarge, 0));
}

TEST(ObjectWalkerPtrTest, SizeIsCheckedBeforeParent) {
  TxnBuilder txn = withFiller();
  txn.add(makeChildPtr(kBufA, 16, 5, 0));  // invalid parent and too large
  EXPECT_TRUE(failsWith(walkAll(txn, 8), WalkError::kPtrTooLarge, 1));
  EXPECT_TRUE(failsWith(walkAll(txn, 16), WalkError::kParentInvalid, 1));
}

// --- Parent index (CVE-2020-0041) ---------------------------------------------------------------

TEST(ObjectWalkerParentTest, PtrParentMustBeAnEarlierIndex) {
  // Layout: 0 filler, 1 PTR A, 2 child (parent under test), 3 PTR (a later candidate).
  for (uint64_t parent : U64s{2ull, 3ull, 4ull, 0x1'0000'0001ull, kU64Max}) {
    SCOPED_TRACE(parent);
    TxnBuilder txn = withFiller();
    txn.add(makePtr(kBufA, 16));
    txn.add(makeChildPtr(kBufB, 8, parent, 0));
    txn.add(makePtr(kBufC, 16));
    EXPECT_TRUE(failsWith(walkAll(txn, kSg), WalkError::kParentInvalid, 2));
  }
  TxnBuilder txn = withFiller();
  txn.add(makePtr(kBufA, 16));
  txn.add(makeChildPtr(kBufB, 8, 1, 0));
  txn.add(makePtr(kBufC, 16));
  EXPECT_TRUE(succeeds(walkAll(txn, kSg), 4));
  EXPECT_EQ(walkErrorErrno(WalkError::kParentInvalid), EINVAL);
}

TEST(ObjectWalkerParentTest, FdaParentMustBeAnEarlierIndex) {
  for (uint64_t parent : U64s{2ull, 3ull, kU64Max}) {
    SCOPED_TRACE(parent);
    TxnBuilder txn = withFiller();
    txn.add(makePtr(kBufA, 16));
    txn.add(makeFda(1, parent, 0));
    txn.add(makePtr(kBufC, 16));
    EXPECT_TRUE(failsWith(walkAll(txn, kSg), WalkError::kParentInvalid, 2));
  }
  TxnBuilder txn = withFiller();
  txn.add(makePtr(kBufA, 16));
  txn.add(makeFda(1, 1, 0));
  EXPECT_TRUE(succeeds(walkAll(txn, kSg), 3));
}

TEST(ObjectWalkerParentTest, FirstObjectCannotHaveAParent) {
  TxnBuilder ptr;
  ptr.add(makeChildPtr(kBufA, 8, 0, 0));
  EXPECT_TRUE(failsWith(walkAll(ptr, kSg), WalkError::kParentInvalid, 0));
  TxnBuilder fda;
  fda.add(makeFda(0, 0, 0));  // even an empty FDA needs a valid parent
  EXPECT_TRUE(failsWith(walkAll(fda, kSg), WalkError::kParentInvalid, 0));
}

TEST(ObjectWalkerParentTest, ParentMustBeAPtr) {
  // Layout: 0 BINDER, 1 PTR A, 2 HANDLE / FD / FDA, 3 a PTR or FDA child naming index 2 (kinds
  // 0-2) or the BINDER at index 0 (kind 3).
  const auto build = [](size_t kind, bool fda_child) {
    TxnBuilder txn = withFiller();  // index 0 is a BINDER
    txn.add(makePtr(kBufA, 32));    // index 1
    switch (kind) {
      case 0:
        txn.add(makeHandle(5));
        break;
      case 1:
        txn.add(makeFd(3));
        break;
      default:
        txn.add(makeFda(1, 1, 0));
        break;
    }
    const uint64_t parent = kind == 3 ? 0 : 2;
    if (fda_child) {
      txn.add(makeFda(1, parent, 8));
    } else {
      txn.add(makeChildPtr(kBufB, 8, parent, 8));
    }
    return txn;
  };
  for (bool fda_child : {false, true}) {
    for (size_t kind = 0; kind < 4; ++kind) {
      SCOPED_TRACE(std::string(fda_child ? "FDA" : "PTR") + " child, kind " + std::to_string(kind));
      EXPECT_TRUE(failsWith(walkAll(build(kind, fda_child), kSg), WalkError::kParentNotPtr, 3));
    }
  }
  EXPECT_EQ(walkErrorErrno(WalkError::kParentNotPtr), EINVAL);
}

// --- Fixup order (binder_validate_fixup) --------------------------------------------------------

TEST(ObjectWalkerFixupTest, PtrAtDataOffsetZeroCannotBeAParent) {
  // §17.4: last_fixup_obj_off == 0 means "nothing to fix up in".
  TxnBuilder ptr_child;
  ptr_child.add(makePtr(kBufA, 16));
  ptr_child.add(makeChildPtr(kBufB, 8, 0, 0));
  EXPECT_TRUE(failsWith(walkAll(ptr_child, kSg), WalkError::kFixupOutOfOrder, 1));

  TxnBuilder fda_child;
  fda_child.add(makePtr(kBufA, 16));
  fda_child.add(makeFda(1, 0, 0));
  EXPECT_TRUE(failsWith(walkAll(fda_child, kSg), WalkError::kFixupOutOfOrder, 1));

  TxnBuilder empty_fda_child;
  empty_fda_child.add(makePtr(kBufA, 16));
  empty_fda_child.add(makeFda(0, 0, 0));
  EXPECT_TRUE(failsWith(walkAll(empty_fda_child, kSg), WalkError::kFixupOutOfOrder, 1));

  // The same parent one object later (data offset 24) works.
  TxnBuilder moved = withFiller();
  moved.add(makePtr(kBufA, 16));
  moved.add(makeChildPtr(kBufB, 8, 1, 0));
  moved.add(makeFda(1, 1, 8));
  EXPECT_TRUE(succeeds(walkAll(moved, kSg), 4));
  EXPECT_EQ(walkErrorErrno(WalkError::kFixupOutOfOrder), EINVAL);
}

TEST(ObjectWalkerFixupTest, KernelAllowedTree) {
  // binder_validate_fixup()'s example: A; B(A, 0); C(A, 16); D(C, 0); E(A, 32).
  TxnBuilder txn = withFiller();
  txn.add(makePtr(kBufA, 64));              // 1 A
  txn.add(makeChildPtr(kBufB, 8, 1, 0));    // 2 B
  txn.add(makeChildPtr(kBufC, 16, 1, 16));  // 3 C
  txn.add(makeChildPtr(kBufD, 8, 3, 0));    // 4 D
  txn.add(makeChildPtr(kBufE, 8, 1, 32));   // 5 E: walks D -> C -> A, minimum 16 + 8
  const WalkResult result = walkAll(txn, kSg);
  ASSERT_TRUE(succeeds(result, 6));
  EXPECT_EQ(result.objects[4].parent, 3u);
  EXPECT_EQ(result.objects[5].sg_offset, 64u + 8 + 16 + 8);
}

TEST(ObjectWalkerFixupTest, AncestorMinimumIsPreviousChildPlusPointer) {
  // E(A, x) after D(C, 0), C(A, 16): the minimum in A is C.parent_offset + 8 = 24.
  for (uint64_t x : U64s{16u, 23u, 24u, 25u}) {
    SCOPED_TRACE(x);
    TxnBuilder txn = withFiller();
    txn.add(makePtr(kBufA, 64));
    txn.add(makeChildPtr(kBufC, 16, 1, 16));
    txn.add(makeChildPtr(kBufD, 8, 2, 0));
    txn.add(makeChildPtr(kBufE, 8, 1, x));
    const WalkResult result = walkAll(txn, kSg);
    if (x < 24) {
      EXPECT_TRUE(failsWith(result, WalkError::kFixupOutOfOrder, 4));
    } else {
      EXPECT_TRUE(succeeds(result, 5));
    }
  }
}

TEST(ObjectWalkerFixupTest, DecreasingOffsetsInOneParentAreRefused) {
  // A; C(A, 16); B(A, 0): decreasing offset within A.
  TxnBuilder txn = withFiller();
  txn.add(makePtr(kBufA, 32));
  txn.add(makeChildPtr(kBufC, 8, 1, 16));
  txn.add(makeChildPtr(kBufB, 8, 1, 0));
  EXPECT_TRUE(failsWith(walkAll(txn, kSg), WalkError::kFixupOutOfOrder, 3));

  // The same pointer slot twice is refused too (minimum is 8 + 8); the next slot is fine.
  for (uint64_t second : U64s{8u, 15u, 16u}) {
    SCOPED_TRACE(second);
    TxnBuilder siblings = withFiller();
    siblings.add(makePtr(kBufA, 32));
    siblings.add(makeChildPtr(kBufB, 8, 1, 8));
    siblings.add(makeChildPtr(kBufC, 8, 1, second));
    const WalkResult result = walkAll(siblings, kSg);
    if (second < 16) {
      EXPECT_TRUE(failsWith(result, WalkError::kFixupOutOfOrder, 3));
    } else {
      EXPECT_TRUE(succeeds(result, 4));
    }
  }
}

TEST(ObjectWalkerFixupTest, FixupIntoSiblingThatIsNotLastIsRefused) {
  // A; B(A, 0); C(A, 16); D(B, 0): B is neither C nor one of C's ancestors.
  TxnBuilder txn = withFiller();
  txn.add(makePtr(kBufA, 32));
  txn.add(makeChildPtr(kBufB, 16, 1, 0));
  txn.add(makeChildPtr(kBufC, 16, 1, 16));
  txn.add(makeChildPtr(kBufD, 8, 2, 0));
  EXPECT_TRUE(failsWith(walkAll(txn, kSg), WalkError::kFixupOutOfOrder, 4));

  // D(C, 0) instead: C is the last PTR.
  TxnBuilder into_last = withFiller();
  into_last.add(makePtr(kBufA, 32));
  into_last.add(makeChildPtr(kBufB, 16, 1, 0));
  into_last.add(makeChildPtr(kBufC, 16, 1, 16));
  into_last.add(makeChildPtr(kBufD, 8, 3, 0));
  EXPECT_TRUE(succeeds(walkAll(into_last, kSg), 5));
}

TEST(ObjectWalkerFixupTest, RootPtrEndsTheAncestorChain) {
  // A; B (no parent); C(A, 0): the walk from B finds no parent, so A is out of reach.
  TxnBuilder txn = withFiller();
  txn.add(makePtr(kBufA, 16));
  txn.add(makePtr(kBufB, 16));
  txn.add(makeChildPtr(kBufC, 8, 1, 0));
  EXPECT_TRUE(failsWith(walkAll(txn, kSg), WalkError::kFixupOutOfOrder, 3));

  TxnBuilder fda = withFiller();
  fda.add(makePtr(kBufA, 16));
  fda.add(makePtr(kBufB, 16));
  fda.add(makeFda(1, 1, 0));
  EXPECT_TRUE(failsWith(walkAll(fda, kSg), WalkError::kFixupOutOfOrder, 3));

  // Without BINDER_BUFFER_FLAG_HAS_PARENT, B's parent fields are not a link, even when they name A.
  binder_buffer_object stale = makeChildPtr(kBufB, 16, 1, 0);
  stale.flags = 0;
  TxnBuilder stale_link = withFiller();
  stale_link.add(makePtr(kBufA, 16));
  stale_link.add(stale);
  stale_link.add(makeChildPtr(kBufC, 8, 1, 8));
  EXPECT_TRUE(failsWith(walkAll(stale_link, kSg), WalkError::kFixupOutOfOrder, 3));
}

TEST(ObjectWalkerFixupTest, FdaMovesTheFixupPointToItsParent) {
  // A; B(A, 0); FDA(A, 16, 2 fds): last fixup object becomes A, minimum 16 + 8 = 24.
  const auto build = [](const binder_buffer_object& last) {
    TxnBuilder txn = withFiller();
    txn.add(makePtr(kBufA, 64));
    txn.add(makeChildPtr(kBufB, 16, 1, 0));
    txn.add(makeFda(2, 1, 16));
    txn.add(last);
    return txn;
  };
  EXPECT_TRUE(succeeds(walkAll(build(makeChildPtr(kBufC, 8, 1, 24)), kSg), 5));
  EXPECT_TRUE(failsWith(walkAll(build(makeChildPtr(kBufC, 8, 1, 20)), kSg),
                        WalkError::kFixupOutOfOrder, 4));
  // B was the last PTR before the FDA, but no longer: A is not B's descendant.
  EXPECT_TRUE(
      failsWith(walkAll(build(makeChildPtr(kBufC, 8, 2, 0)), kSg), WalkError::kFixupOutOfOrder, 4));
}

TEST(ObjectWalkerFixupTest, NewPtrResetsTheMinimum) {
  // A; FDA(A, 8, 2 fds) (minimum in A: 16); B(A, 16); C(B, 0): C lands at the start of B, the new
  // last PTR, whose minimum starts at 0.
  TxnBuilder txn = withFiller();
  txn.add(makePtr(kBufA, 32));
  txn.add(makeFda(2, 1, 8));
  txn.add(makeChildPtr(kBufB, 16, 1, 16));
  txn.add(makeChildPtr(kBufC, 8, 3, 0));
  EXPECT_TRUE(succeeds(walkAll(txn, kSg), 5));
}

TEST(ObjectWalkerFixupTest, FdaOffsetsMustIncrease) {
  for (uint64_t second : U64s{0u, 4u, 8u, 12u}) {
    SCOPED_TRACE(second);
    TxnBuilder txn = withFiller();
    txn.add(makePtr(kBufA, 32));
    txn.add(makeFda(1, 1, 4));  // minimum afterwards: 4 + 4
    txn.add(makeFda(1, 1, second));
    const WalkResult result = walkAll(txn, kSg);
    if (second < 8) {
      EXPECT_TRUE(failsWith(result, WalkError::kFixupOutOfOrder, 3));
    } else {
      EXPECT_TRUE(succeeds(result, 4));
    }
  }
  // An empty FDA still moves the minimum to its parent_offset.
  TxnBuilder empty_first = withFiller();
  empty_first.add(makePtr(kBufA, 32));
  empty_first.add(makeFda(0, 1, 16));
  empty_first.add(makeFda(1, 1, 12));
  EXPECT_TRUE(failsWith(walkAll(empty_first, kSg), WalkError::kFixupOutOfOrder, 3));
}

// --- PTR fixup bounds ---------------------------------------------------------------------------

TEST(ObjectWalkerPtrBoundsTest, PointerMustFitInParent) {
  struct Case {
    uint64_t parent_length;
    uint64_t parent_offset;
    bool ok;
  };
  const Case cases[] = {
      {8, 0, true},         {8, 1, false},
      {7, 0, false},        {0, 0, false},
      {16, 8, true},        {16, 9, false},
      {16, 4, true},  // C: no alignment rule for PTR
      {16, kU64Max, false}, {16, kU64Max - 7, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.parent_length) + "/" + std::to_string(c.parent_offset));
    TxnBuilder txn = withFiller();
    txn.add(makePtr(kBufA, c.parent_length));
    txn.add(makeChildPtr(kBufB, 8, 1, c.parent_offset));
    const WalkResult result = walkAll(txn, kSg);
    if (c.ok) {
      EXPECT_TRUE(succeeds(result, 3));
    } else {
      EXPECT_TRUE(failsWith(result, WalkError::kFixupOutOfBounds, 2));
    }
  }
  EXPECT_EQ(walkErrorErrno(WalkError::kFixupOutOfBounds), EINVAL);
}

TEST(ObjectWalkerPtrBoundsTest, OrderIsCheckedBeforeBounds) {
  // Parent at data offset 0 and an offset out of bounds: the order rule reports first.
  TxnBuilder txn;
  txn.add(makePtr(kBufA, 8));
  txn.add(makeChildPtr(kBufB, 8, 0, 64));
  EXPECT_TRUE(failsWith(walkAll(txn, kSg), WalkError::kFixupOutOfOrder, 1));
}

// --- FDA ----------------------------------------------------------------------------------------

// filler; PTR parent (sender address `parent_buffer`, `parent_length` bytes); the FDA.
TxnBuilder fdaTxn(uint64_t parent_buffer, uint64_t parent_length, uint64_t num_fds,
                  uint64_t parent_offset) {
  TxnBuilder txn = withFiller();
  txn.add(makePtr(parent_buffer, parent_length));
  txn.add(makeFda(num_fds, 1, parent_offset));
  return txn;
}

TEST(ObjectWalkerFdaTest, EmptyFdaIsANoOp) {
  // CVE-2026-23194: num_fds == 0 at parent_offset == parent.length must succeed.
  EXPECT_TRUE(succeeds(walkAll(fdaTxn(kBufA, 16, 0, 16), kSg), 3));
  // The C driver returns before any bounds or alignment check, so these pass too.
  EXPECT_TRUE(succeeds(walkAll(fdaTxn(kBufA, 16, 0, 17), kSg), 3));
  EXPECT_TRUE(succeeds(walkAll(fdaTxn(kBufA, 16, 0, 3), kSg), 3));
  EXPECT_TRUE(succeeds(walkAll(fdaTxn(kBufA + 1, 0, 0, kU64Max), kSg), 3));
  // One fd at the end of the parent is out of bounds.
  EXPECT_TRUE(failsWith(walkAll(fdaTxn(kBufA, 16, 1, 16), kSg), WalkError::kFdaOutOfBounds, 2));
}

TEST(ObjectWalkerFdaTest, FdCountMustNotOverflow) {
  // Kernel: num_fds >= SIZE_MAX / 4, i.e. 2^62 - 1 and above.
  for (uint64_t num_fds : U64s{(1ull << 62) - 1, 1ull << 62, 1ull << 63, kU64Max}) {
    SCOPED_TRACE(num_fds);
    EXPECT_TRUE(
        failsWith(walkAll(fdaTxn(kBufA, 16, num_fds, 0), kSg), WalkError::kFdaCountOverflow, 2));
  }
  // 2^62 - 2 fds is 2^64 - 8 bytes: no overflow, just out of bounds.
  EXPECT_TRUE(failsWith(walkAll(fdaTxn(kBufA, 16, (1ull << 62) - 2, 0), kSg),
                        WalkError::kFdaOutOfBounds, 2));
  // The count is checked before bounds and alignment.
  EXPECT_TRUE(
      failsWith(walkAll(fdaTxn(kBufA + 1, 16, kU64Max, 3), kSg), WalkError::kFdaCountOverflow, 2));
  EXPECT_EQ(walkErrorErrno(WalkError::kFdaCountOverflow), EINVAL);
}

TEST(ObjectWalkerFdaTest, FdArrayMustFitInParent) {
  struct Case {
    uint64_t num_fds;
    uint64_t parent_offset;
    bool ok;
  };
  const Case cases[] = {
      {4, 0, true},   {4, 4, false}, {5, 0, false},           {1, 12, true},
      {1, 16, false}, {3, 4, true},  {1, kU64Max - 3, false}, {2, kU64Max - 7, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.num_fds) + "@" + std::to_string(c.parent_offset));
    const WalkResult result = walkAll(fdaTxn(kBufA, 16, c.num_fds, c.parent_offset), kSg);
    if (c.ok) {
      EXPECT_TRUE(succeeds(result, 3));
    } else {
      EXPECT_TRUE(failsWith(result, WalkError::kFdaOutOfBounds, 2));
    }
  }
  // Bounds are checked before alignment: 1 fd at 13 in 16 bytes is out of bounds.
  EXPECT_TRUE(failsWith(walkAll(fdaTxn(kBufA, 16, 1, 13), kSg), WalkError::kFdaOutOfBounds, 2));
  EXPECT_EQ(walkErrorErrno(WalkError::kFdaOutOfBounds), EINVAL);
}

TEST(ObjectWalkerFdaTest, FdArrayMustBeAlignedInTargetAndSender) {
  struct Case {
    uint64_t parent_buffer;
    uint64_t parent_offset;
    bool ok;
  };
  const Case cases[] = {
      {kBufA, 4, true},         // both aligned
      {kBufA, 2, false},        // target (and sender) misaligned
      {kBufA + 2, 0, false},    // sender misaligned only
      {kBufA + 2, 2, false},    // sender aligned (A + 4), target misaligned
      {kBufA + 1, 3, false},    // sender aligned (A + 4), target misaligned
      {kBufA + 4, 4, true},     // a 4-aligned (not 8-aligned) sender buffer is fine
      {kU64Max - 3, 4, true},   // the sender address wraps to 0: aligned, and no UB
      {kU64Max - 1, 4, false},  // wraps to 2
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.parent_buffer) + "+" + std::to_string(c.parent_offset));
    const WalkResult result = walkAll(fdaTxn(c.parent_buffer, 16, 2, c.parent_offset), kSg);
    if (c.ok) {
      EXPECT_TRUE(succeeds(result, 3));
    } else {
      EXPECT_TRUE(failsWith(result, WalkError::kFdaUnaligned, 2));
    }
  }
  EXPECT_EQ(walkErrorErrno(WalkError::kFdaUnaligned), EINVAL);
}

TEST(ObjectWalkerFdaTest, ParentChecksPrecedeArrayChecks) {
  // Invalid parent index wins over every array rule.
  TxnBuilder bad_parent = withFiller();
  bad_parent.add(makePtr(kBufA, 16));
  bad_parent.add(makeFda(kU64Max, 2, 3));
  EXPECT_TRUE(failsWith(walkAll(bad_parent, kSg), WalkError::kParentInvalid, 2));
  // Fixup order wins over every array rule.
  TxnBuilder bad_order = withFiller();
  bad_order.add(makePtr(kBufA, 16));
  bad_order.add(makeFda(1, 1, 8));
  bad_order.add(makeFda(kU64Max, 1, 3));
  EXPECT_TRUE(failsWith(walkAll(bad_order, kSg), WalkError::kFixupOutOfOrder, 3));
}

// --- Names and errno ----------------------------------------------------------------------------

TEST(ObjectWalkerErrorTest, ErrnoMatchesKernel) {
  // §17.8: only the gap-copy failures are EFAULT.
  std::set<std::string> names;
  for (uint8_t raw = 0; raw <= static_cast<uint8_t>(WalkError::kFdaUnaligned); ++raw) {
    const auto error = static_cast<WalkError>(raw);
    const bool efault =
        error == WalkError::kOffsetBeyondData || error == WalkError::kOffsetOverlaps;
    EXPECT_EQ(walkErrorErrno(error), efault ? EFAULT : EINVAL) << walkErrorName(error);
    names.insert(walkErrorName(error));
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(WalkError::kFdaUnaligned) + 1);
  EXPECT_EQ(names.count("unknown_walk_error"), 0u);
}

TEST(ObjectWalkerErrorTest, KindNames) {
  EXPECT_STREQ(objectKindName(ObjectKind::kBinder), "BINDER");
  EXPECT_STREQ(objectKindName(ObjectKind::kWeakBinder), "WEAK_BINDER");
  EXPECT_STREQ(objectKindName(ObjectKind::kHandle), "HANDLE");
  EXPECT_STREQ(objectKindName(ObjectKind::kWeakHandle), "WEAK_HANDLE");
  EXPECT_STREQ(objectKindName(ObjectKind::kFd), "FD");
  EXPECT_STREQ(objectKindName(ObjectKind::kFdArray), "FDA");
  EXPECT_STREQ(objectKindName(ObjectKind::kPtr), "PTR");
}

}  // namespace
}  // namespace nb::codec
