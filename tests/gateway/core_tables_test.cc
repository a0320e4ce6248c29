// The pure tables of the gateway (gateway/core/): ExportTable and ImportTable against
// docs/protocol.md §3 (one entry per node / per export id), §4 (ids), §5 (counting, death) and
// §7 (one-way numbering), plus a seeded randomized model test of ExportTable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "gateway/core/export_table.h"
#include "gateway/core/import_table.h"

namespace nb::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Op = ExportTable::Op;
using Target = ExportTable::Target;

constexpr size_t kLarge = 1000;
constexpr bool kStrong = false;
constexpr bool kWeak = true;

// Sends and returns the id (fails the test if the send failed).
uint64_t sendOk(ExportTable& table, uint64_t key, bool weak) {
  absl::StatusOr<ExportTable::Sent> sent = table.send(key, weak);
  EXPECT_TRUE(sent.ok()) << sent.status();
  return sent.ok() ? sent->id : 0;
}

uint64_t strongOf(const ExportTable& table, uint64_t id) {
  const ExportTable::Entry* entry = table.find(id);
  return entry == nullptr ? 0 : entry->strong;
}

uint64_t weakOf(const ExportTable& table, uint64_t id) {
  const ExportTable::Entry* entry = table.find(id);
  return entry == nullptr ? 0 : entry->weak;
}

// ---- ExportTable: ids and dedup (§3, §4)
// ----------------------------------------------------------

TEST(ExportTableTest, EmptyTable) {
  ExportTable table(kLarge);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(0), nullptr);
  EXPECT_EQ(table.find(1), nullptr);
  EXPECT_EQ(table.idOf(7), std::nullopt);
  EXPECT_THAT(table.drain(), IsEmpty());
}

TEST(ExportTableTest, IdsAreNonZeroAndLowestFirst) {
  ExportTable table(kLarge);
  for (uint64_t key = 100; key < 110; ++key) {
    absl::StatusOr<ExportTable::Sent> sent = table.send(key, kStrong);
    ASSERT_TRUE(sent.ok());
    EXPECT_NE(sent->id, 0u);
    EXPECT_EQ(sent->id, key - 99);
    EXPECT_TRUE(sent->created);
    EXPECT_FALSE(sent->dead);
  }
  EXPECT_EQ(table.size(), 10u);
}

TEST(ExportTableTest, NewEntryHasOneCountOfTheSentKind) {
  ExportTable table(kLarge);
  const uint64_t strong_id = sendOk(table, 1, kStrong);
  const uint64_t weak_id = sendOk(table, 2, kWeak);
  const ExportTable::Entry* strong_entry = table.find(strong_id);
  ASSERT_NE(strong_entry, nullptr);
  EXPECT_EQ(strong_entry->key, 1u);
  EXPECT_EQ(strong_entry->strong, 1u);
  EXPECT_EQ(strong_entry->weak, 0u);
  EXPECT_FALSE(strong_entry->dead);
  EXPECT_EQ(strong_entry->next_oneway_seq, 1u);
  const ExportTable::Entry* weak_entry = table.find(weak_id);
  ASSERT_NE(weak_entry, nullptr);
  EXPECT_EQ(weak_entry->key, 2u);
  EXPECT_EQ(weak_entry->strong, 0u);
  EXPECT_EQ(weak_entry->weak, 1u);
}

TEST(ExportTableTest, SameKeySameIdCountsAdd) {
  ExportTable table(kLarge);
  absl::StatusOr<ExportTable::Sent> first = table.send(42, kStrong);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->created);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<ExportTable::Sent> again = table.send(42, kStrong);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->id, first->id);
    EXPECT_FALSE(again->created);
  }
  absl::StatusOr<ExportTable::Sent> weak = table.send(42, kWeak);
  ASSERT_TRUE(weak.ok());
  EXPECT_EQ(weak->id, first->id);
  EXPECT_FALSE(weak->created);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(strongOf(table, first->id), 4u);
  EXPECT_EQ(weakOf(table, first->id), 1u);
  EXPECT_EQ(table.idOf(42), first->id);
}

TEST(ExportTableTest, IdReusedOnlyAfterErasure) {
  ExportTable table(kLarge);
  const uint64_t a = sendOk(table, 10, kStrong);  // 1
  const uint64_t b = sendOk(table, 20, kStrong);  // 2
  const uint64_t c = sendOk(table, 30, kStrong);  // 3
  ASSERT_EQ(a, 1u);
  ASSERT_EQ(b, 2u);
  ASSERT_EQ(c, 3u);

  // A decrement that leaves a count does not free the id.
  ASSERT_TRUE(table.send(20, kWeak).ok());
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.apply(b, RefKind::kDecStrong, 1, &erased).ok());
  EXPECT_THAT(erased, IsEmpty());
  EXPECT_EQ(sendOk(table, 40, kStrong), 4u);

  // Erasing 2 frees it: the next new key gets 2, the lowest free id.
  ASSERT_TRUE(table.apply(b, RefKind::kDecWeak, 1, &erased).ok());
  EXPECT_THAT(erased, ElementsAre(20u));
  EXPECT_EQ(table.idOf(20), std::nullopt);
  EXPECT_EQ(sendOk(table, 50, kStrong), 2u);
  EXPECT_EQ(sendOk(table, 60, kStrong), 5u);
}

TEST(ExportTableTest, LowestFreeIdAcrossSeveralHoles) {
  ExportTable table(kLarge);
  for (uint64_t key = 1; key <= 6; ++key) {
    ASSERT_EQ(sendOk(table, key, kStrong), key);
  }
  std::vector<uint64_t> erased;
  // Free 5, 2 and 6 (6 is the highest: the table may shrink its high-water mark).
  ASSERT_TRUE(table.apply(5, RefKind::kDecStrong, 1, &erased).ok());
  ASSERT_TRUE(table.apply(2, RefKind::kDecStrong, 1, &erased).ok());
  ASSERT_TRUE(table.apply(6, RefKind::kDecStrong, 1, &erased).ok());
  EXPECT_THAT(erased, ElementsAre(5u, 2u, 6u));
  EXPECT_EQ(sendOk(table, 100, kStrong), 2u);
  EXPECT_EQ(sendOk(table, 101, kStrong), 5u);
  EXPECT_EQ(sendOk(table, 102, kStrong), 6u);
  EXPECT_EQ(sendOk(table, 103, kStrong), 7u);
}

TEST(ExportTableTest, IdsRestartAtOneWhenAllAreFreed) {
  ExportTable table(kLarge);
  for (uint64_t key = 1; key <= 4; ++key) {
    sendOk(table, key, kStrong);
  }
  std::vector<uint64_t> erased;
  // Free in an order that leaves holes below the top before the top goes.
  for (uint64_t id : {2u, 1u, 3u, 4u}) {
    ASSERT_TRUE(table.apply(id, RefKind::kDecStrong, 1, &erased).ok());
  }
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(sendOk(table, 9, kStrong), 1u);
  EXPECT_EQ(sendOk(table, 8, kStrong), 2u);
}

TEST(ExportTableTest, ErasedKeyGetsAFreshEntry) {
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 7, kStrong);
  ASSERT_TRUE(table.acceptOneway(id, 1));
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.apply(id, RefKind::kDecStrong, 1, &erased).ok());
  absl::StatusOr<ExportTable::Sent> again = table.send(7, kWeak);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->created);
  EXPECT_EQ(again->id, id);  // the lowest free id again
  EXPECT_EQ(strongOf(table, id), 0u);
  EXPECT_EQ(weakOf(table, id), 1u);
  EXPECT_EQ(table.find(id)->next_oneway_seq, 1u);
}

// ---- ExportTable: limits ------------------------------------------------------------------------

TEST(ExportTableTest, MaxEntriesIsResourceExhaustedWithoutSideEffects) {
  ExportTable table(2);
  const uint64_t a = sendOk(table, 1, kStrong);
  const uint64_t b = sendOk(table, 2, kWeak);
  absl::StatusOr<ExportTable::Sent> full = table.send(3, kStrong);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.idOf(3), std::nullopt);
  EXPECT_EQ(strongOf(table, a), 1u);
  EXPECT_EQ(weakOf(table, b), 1u);
  // Existing keys can still be sent when the table is full.
  absl::StatusOr<ExportTable::Sent> existing = table.send(1, kWeak);
  ASSERT_TRUE(existing.ok());
  EXPECT_EQ(existing->id, a);
  EXPECT_FALSE(existing->created);
  // The refused send consumed no id: after a slot frees, the next key gets the lowest free id.
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.apply(b, RefKind::kDecWeak, 1, &erased).ok());
  EXPECT_EQ(sendOk(table, 3, kStrong), b);
  EXPECT_EQ(table.send(4, kStrong).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ExportTableTest, ZeroMaxEntriesRefusesEverySend) {
  ExportTable table(0);
  EXPECT_EQ(table.send(1, kStrong).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(table.send(1, kWeak).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(table.size(), 0u);
}

// ---- ExportTable: apply() (§5.1) --------------------------------------------------------------

TEST(ExportTableTest, ApplyUnknownIdIsNotFound) {
  ExportTable table(kLarge);
  std::vector<uint64_t> erased;
  for (RefKind kind :
       {RefKind::kIncStrong, RefKind::kDecStrong, RefKind::kIncWeak, RefKind::kDecWeak}) {
    EXPECT_EQ(table.apply(1, kind, 1, &erased).code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(table.apply(0, kind, 1, &erased).code(), absl::StatusCode::kNotFound);
  }
  sendOk(table, 5, kStrong);
  EXPECT_EQ(table.apply(2, RefKind::kDecStrong, 1, &erased).code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(erased, IsEmpty());
  EXPECT_EQ(table.size(), 1u);
}

TEST(ExportTableTest, IncStrongNeedsAStrongCount) {
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 1, kWeak);
  std::vector<uint64_t> erased;
  EXPECT_EQ(table.apply(id, RefKind::kIncStrong, 1, &erased).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(strongOf(table, id), 0u);
  EXPECT_EQ(weakOf(table, id), 1u);
  // With a strong count the increment is allowed and adds `count`.
  ASSERT_TRUE(table.send(1, kStrong).ok());
  ASSERT_TRUE(table.apply(id, RefKind::kIncStrong, 3, &erased).ok());
  EXPECT_EQ(strongOf(table, id), 4u);
  EXPECT_THAT(erased, IsEmpty());
}

TEST(ExportTableTest, IncWeakNeedsAnyCount) {
  ExportTable table(kLarge);
  const uint64_t strong_only = sendOk(table, 1, kStrong);
  const uint64_t weak_only = sendOk(table, 2, kWeak);
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.apply(strong_only, RefKind::kIncWeak, 2, &erased).ok());
  EXPECT_EQ(weakOf(table, strong_only), 2u);
  EXPECT_EQ(strongOf(table, strong_only), 1u);
  ASSERT_TRUE(table.apply(weak_only, RefKind::kIncWeak, 5, &erased).ok());
  EXPECT_EQ(weakOf(table, weak_only), 6u);
  EXPECT_THAT(erased, IsEmpty());
}

TEST(ExportTableTest, DecrementBelowZeroIsOutOfRangeAndChangesNothing) {
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 1, kStrong);
  ASSERT_TRUE(table.send(1, kStrong).ok());
  ASSERT_TRUE(table.send(1, kWeak).ok());
  std::vector<uint64_t> erased;
  EXPECT_EQ(table.apply(id, RefKind::kDecStrong, 3, &erased).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(table.apply(id, RefKind::kDecWeak, 2, &erased).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(strongOf(table, id), 2u);
  EXPECT_EQ(weakOf(table, id), 1u);
  EXPECT_THAT(erased, IsEmpty());

  // A weak-only entry has no strong count to give back.
  const uint64_t weak_id = sendOk(table, 2, kWeak);
  EXPECT_EQ(table.apply(weak_id, RefKind::kDecStrong, 1, &erased).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(weakOf(table, weak_id), 1u);
}

TEST(ExportTableTest, DecrementsEraseWhenBothCountsReachZero) {
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 77, kStrong);
  ASSERT_TRUE(table.send(77, kStrong).ok());
  ASSERT_TRUE(table.send(77, kWeak).ok());
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.apply(id, RefKind::kDecStrong, 2, &erased).ok());
  EXPECT_THAT(erased, IsEmpty());  // a weak count is left
  ASSERT_NE(table.find(id), nullptr);
  EXPECT_EQ(strongOf(table, id), 0u);
  ASSERT_TRUE(table.apply(id, RefKind::kDecWeak, 1, &erased).ok());
  EXPECT_THAT(erased, ElementsAre(77u));
  EXPECT_EQ(table.find(id), nullptr);
  EXPECT_EQ(table.idOf(77), std::nullopt);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.apply(id, RefKind::kDecWeak, 1, &erased).code(), absl::StatusCode::kNotFound);
}

TEST(ExportTableTest, ApplyAcceptsANullErasedOutput) {
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 3, kStrong);
  ASSERT_TRUE(table.apply(id, RefKind::kDecStrong, 1, nullptr).ok());
  EXPECT_EQ(table.size(), 0u);
}

TEST(ExportTableTest, IncrementThatWouldOverflowIsRefusedAndChangesNothing) {
  // A peer-supplied count must not wrap a count around (to zero, which would erase the entry
  // and unpin the node while the peer still holds references).
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 1, kStrong);
  ASSERT_TRUE(table.send(1, kWeak).ok());
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  std::vector<uint64_t> erased;
  EXPECT_EQ(table.apply(id, RefKind::kIncStrong, kMax, &erased).code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(table.apply(id, RefKind::kIncWeak, kMax, &erased).code(),
            absl::StatusCode::kOutOfRange);
  ASSERT_NE(table.find(id), nullptr);
  EXPECT_EQ(strongOf(table, id), 1u);
  EXPECT_EQ(weakOf(table, id), 1u);
  EXPECT_THAT(erased, IsEmpty());
  // Up to the maximum is fine; one more is not.
  ASSERT_TRUE(table.apply(id, RefKind::kIncStrong, kMax - 1, &erased).ok());
  EXPECT_EQ(strongOf(table, id), kMax);
  EXPECT_EQ(table.apply(id, RefKind::kIncStrong, 1, &erased).code(), absl::StatusCode::kOutOfRange);
  ASSERT_TRUE(table.apply(id, RefKind::kIncWeak, kMax - 1, &erased).ok());
  EXPECT_EQ(weakOf(table, id), kMax);
  EXPECT_EQ(table.apply(id, RefKind::kIncWeak, 1, &erased).code(), absl::StatusCode::kOutOfRange);
  // The same rule in a batch: the overflow is found in the dry run and nothing is applied.
  EXPECT_EQ(table
                .applyBatch({Op{id, RefKind::kDecStrong, 1}, Op{id, RefKind::kIncStrong, 1},
                             Op{id, RefKind::kIncStrong, 1}},
                            &erased)
                .code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_EQ(strongOf(table, id), kMax);
  EXPECT_EQ(weakOf(table, id), kMax);
  EXPECT_THAT(erased, IsEmpty());
}

// ---- ExportTable: applyBatch() (RefCount, all or nothing) --------------------------------------

TEST(ExportTableTest, BatchAppliesInOrder) {
  ExportTable table(kLarge);
  const uint64_t a = sendOk(table, 1, kStrong);
  const uint64_t b = sendOk(table, 2, kStrong);
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table
                  .applyBatch({Op{a, RefKind::kIncStrong, 2}, Op{a, RefKind::kIncWeak, 1},
                               Op{a, RefKind::kDecStrong, 3}, Op{b, RefKind::kIncWeak, 4},
                               Op{b, RefKind::kDecStrong, 1}},
                              &erased)
                  .ok());
  EXPECT_THAT(erased, IsEmpty());
  EXPECT_EQ(strongOf(table, a), 0u);
  EXPECT_EQ(weakOf(table, a), 1u);
  EXPECT_EQ(strongOf(table, b), 0u);
  EXPECT_EQ(weakOf(table, b), 4u);
}

TEST(ExportTableTest, EmptyBatchIsOk) {
  ExportTable table(kLarge);
  std::vector<uint64_t> erased;
  EXPECT_TRUE(table.applyBatch({}, &erased).ok());
  EXPECT_THAT(erased, IsEmpty());
}

TEST(ExportTableTest, BatchOrderMattersForIncrementRules) {
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 1, kWeak);
  std::vector<uint64_t> erased;
  // INC_STRONG is allowed after the earlier op in the same batch... there is none that adds a
  // strong count (only send() does), so a weak-only entry refuses it wherever it sits.
  EXPECT_EQ(
      table.applyBatch({Op{id, RefKind::kIncWeak, 1}, Op{id, RefKind::kIncStrong, 1}}, &erased)
          .code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(weakOf(table, id), 1u);
  // Increment then decrement of the same amount is fine; the reverse underflows.
  ASSERT_TRUE(table.send(1, kStrong).ok());
  EXPECT_TRUE(
      table.applyBatch({Op{id, RefKind::kIncStrong, 5}, Op{id, RefKind::kDecStrong, 5}}, &erased)
          .ok());
  EXPECT_EQ(strongOf(table, id), 1u);
  EXPECT_EQ(
      table.applyBatch({Op{id, RefKind::kDecStrong, 2}, Op{id, RefKind::kIncStrong, 5}}, &erased)
          .code(),
      absl::StatusCode::kOutOfRange);
  EXPECT_EQ(strongOf(table, id), 1u);
  EXPECT_THAT(erased, IsEmpty());
}

TEST(ExportTableTest, BadOpLateInBatchLeavesEarlierOpsUnapplied) {
  ExportTable table(kLarge);
  const uint64_t a = sendOk(table, 1, kStrong);
  const uint64_t b = sendOk(table, 2, kStrong);
  ASSERT_TRUE(table.send(2, kWeak).ok());
  std::vector<uint64_t> erased;
  // a would be erased by its op, b changed; then an underflow on b.
  EXPECT_EQ(table
                .applyBatch({Op{a, RefKind::kDecStrong, 1}, Op{b, RefKind::kIncWeak, 3},
                             Op{b, RefKind::kDecStrong, 1}, Op{b, RefKind::kDecStrong, 1}},
                            &erased)
                .code(),
            absl::StatusCode::kOutOfRange);
  EXPECT_THAT(erased, IsEmpty());
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(strongOf(table, a), 1u);
  EXPECT_EQ(strongOf(table, b), 1u);
  EXPECT_EQ(weakOf(table, b), 1u);

  // Unknown id late in the batch.
  EXPECT_EQ(
      table.applyBatch({Op{a, RefKind::kIncStrong, 1}, Op{99, RefKind::kDecStrong, 1}}, &erased)
          .code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(strongOf(table, a), 1u);
  // A precondition failure late in the batch.
  EXPECT_EQ(table
                .applyBatch({Op{a, RefKind::kIncWeak, 1}, Op{b, RefKind::kDecStrong, 1},
                             Op{b, RefKind::kIncStrong, 1}},
                            &erased)
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(weakOf(table, a), 0u);
  EXPECT_EQ(strongOf(table, b), 1u);
  EXPECT_THAT(erased, IsEmpty());
}

TEST(ExportTableTest, OpAfterErasureInTheSameBatchIsNotFound) {
  ExportTable table(kLarge);
  const uint64_t a = sendOk(table, 1, kStrong);
  const uint64_t b = sendOk(table, 2, kStrong);
  std::vector<uint64_t> erased;
  // The first op erases a; an INC_WEAK would otherwise be refused as FailedPrecondition, a
  // DEC as OutOfRange: the id is gone, so both are NotFound.
  for (RefKind later : {RefKind::kIncWeak, RefKind::kDecWeak, RefKind::kIncStrong}) {
    EXPECT_EQ(table
                  .applyBatch(
                      {Op{b, RefKind::kIncWeak, 1}, Op{a, RefKind::kDecStrong, 1}, Op{a, later, 1}},
                      &erased)
                  .code(),
              absl::StatusCode::kNotFound);
    EXPECT_THAT(erased, IsEmpty());
    EXPECT_EQ(strongOf(table, a), 1u);
    EXPECT_EQ(weakOf(table, b), 0u);
  }
  // Without the later op the batch erases a and reports it.
  ASSERT_TRUE(
      table.applyBatch({Op{b, RefKind::kIncWeak, 1}, Op{a, RefKind::kDecStrong, 1}}, &erased).ok());
  EXPECT_THAT(erased, ElementsAre(1u));
  EXPECT_EQ(table.find(a), nullptr);
  EXPECT_EQ(weakOf(table, b), 1u);
}

TEST(ExportTableTest, BatchReportsEveryErasedKey) {
  ExportTable table(kLarge);
  const uint64_t a = sendOk(table, 11, kStrong);
  const uint64_t b = sendOk(table, 22, kWeak);
  const uint64_t c = sendOk(table, 33, kStrong);
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table
                  .applyBatch({Op{b, RefKind::kDecWeak, 1}, Op{c, RefKind::kIncWeak, 1},
                               Op{a, RefKind::kDecStrong, 1}},
                              &erased)
                  .ok());
  EXPECT_THAT(erased, UnorderedElementsAre(11u, 22u));
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(weakOf(table, c), 1u);
}

// ---- ExportTable: release() (ExportRelease) ----------------------------------------------------

TEST(ExportTableTest, ReleaseUnknownIdIsNotFound) {
  ExportTable table(kLarge);
  std::vector<uint64_t> erased;
  EXPECT_EQ(table.release(1, 1, 0, &erased).code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(erased, IsEmpty());
}

TEST(ExportTableTest, ReleaseUnderflowIsRefusedAndChangesNothing) {
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 5, kStrong);
  ASSERT_TRUE(table.send(5, kWeak).ok());
  ASSERT_TRUE(table.acceptOneway(id, 1));
  std::vector<uint64_t> erased;
  EXPECT_EQ(table.release(id, 2, 0, &erased).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(table.release(id, 1, 2, &erased).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(table.release(id, 0, 2, &erased).code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(erased, IsEmpty());
  EXPECT_EQ(strongOf(table, id), 1u);
  EXPECT_EQ(weakOf(table, id), 1u);
  // The refused release did not reset the oneway numbering either.
  EXPECT_EQ(table.find(id)->next_oneway_seq, 2u);
  EXPECT_TRUE(table.acceptOneway(id, 2));
}

TEST(ExportTableTest, FullReleaseErasesAndReportsTheKey) {
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 9, kStrong);
  ASSERT_TRUE(table.send(9, kStrong).ok());
  ASSERT_TRUE(table.send(9, kWeak).ok());
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.release(id, 2, 1, &erased).ok());
  EXPECT_THAT(erased, ElementsAre(9u));
  EXPECT_EQ(table.find(id), nullptr);
  EXPECT_EQ(table.idOf(9), std::nullopt);
  EXPECT_EQ(table.size(), 0u);
}

// §5.1 worked race: E sends X (1), I releases {X,1,0} while E sends X again (2). The release
// leaves 1; I creates a fresh import of X, whose oneways start at 1 again.
TEST(ExportTableTest, PartialReleaseKeepsTheEntryAndResetsOnewayNumbering) {
  ExportTable table(kLarge);
  const uint64_t x = sendOk(table, 1234, kStrong);
  ASSERT_TRUE(table.acceptOneway(x, 1));
  ASSERT_TRUE(table.acceptOneway(x, 2));
  absl::StatusOr<ExportTable::Sent> again = table.send(1234, kStrong);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->id, x);
  EXPECT_FALSE(again->created);

  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.release(x, 1, 0, &erased).ok());
  EXPECT_THAT(erased, IsEmpty());
  ASSERT_NE(table.find(x), nullptr);
  EXPECT_EQ(strongOf(table, x), 1u);
  // The fresh import numbers from 1.
  EXPECT_FALSE(table.acceptOneway(x, 3));
  EXPECT_TRUE(table.acceptOneway(x, 1));
  EXPECT_TRUE(table.acceptOneway(x, 2));
  uint64_t key = 0;
  EXPECT_EQ(table.target(x, &key), Target::kOk);
  EXPECT_EQ(key, 1234u);
}

TEST(ExportTableTest, ReleaseOfNothingOnlyResetsOnewayNumbering) {
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 1, kStrong);
  ASSERT_TRUE(table.acceptOneway(id, 1));
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.release(id, 0, 0, &erased).ok());
  EXPECT_THAT(erased, IsEmpty());
  EXPECT_EQ(strongOf(table, id), 1u);
  EXPECT_TRUE(table.acceptOneway(id, 1));
}

// ---- ExportTable: unsend() ----------------------------------------------------------------------

TEST(ExportTableTest, UnsendUndoesOneSend) {
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 8, kStrong);
  ASSERT_TRUE(table.send(8, kStrong).ok());
  ASSERT_TRUE(table.send(8, kWeak).ok());
  EXPECT_EQ(table.unsend(id, kStrong), std::nullopt);
  EXPECT_EQ(strongOf(table, id), 1u);
  EXPECT_EQ(weakOf(table, id), 1u);
  EXPECT_EQ(table.unsend(id, kWeak), std::nullopt);
  EXPECT_EQ(weakOf(table, id), 0u);
  // The last count: the entry goes and unsend reports the key to unpin.
  EXPECT_EQ(table.unsend(id, kStrong), 8u);
  EXPECT_EQ(table.find(id), nullptr);
  EXPECT_EQ(table.idOf(8), std::nullopt);
  EXPECT_EQ(table.size(), 0u);
  // The id is free again.
  EXPECT_EQ(sendOk(table, 9, kStrong), id);
}

TEST(ExportTableTest, UnsendOfACreatingSendRestoresTheTable) {
  ExportTable table(kLarge);
  sendOk(table, 1, kStrong);
  absl::StatusOr<ExportTable::Sent> sent = table.send(2, kWeak);
  ASSERT_TRUE(sent.ok());
  ASSERT_TRUE(sent->created);
  EXPECT_EQ(table.unsend(sent->id, kWeak), 2u);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(sendOk(table, 3, kStrong), sent->id);
}

TEST(ExportTableTest, UnsendUnknownIdOrAbsentKindChangesNothing) {
  ExportTable table(kLarge);
  EXPECT_EQ(table.unsend(1, kStrong), std::nullopt);
  const uint64_t id = sendOk(table, 4, kStrong);
  // No weak count to undo: nothing changes, the entry stays.
  EXPECT_EQ(table.unsend(id, kWeak), std::nullopt);
  EXPECT_EQ(strongOf(table, id), 1u);
  EXPECT_EQ(weakOf(table, id), 0u);
  EXPECT_EQ(table.size(), 1u);
}

// ---- ExportTable: target() and home() ----------------------------------------------------------

TEST(ExportTableTest, TargetStates) {
  ExportTable table(kLarge);
  uint64_t key = 0;
  EXPECT_EQ(table.target(1, &key), Target::kUnknown);
  EXPECT_EQ(table.target(0, &key), Target::kUnknown);

  const uint64_t strong_id = sendOk(table, 100, kStrong);
  EXPECT_EQ(table.target(strong_id, &key), Target::kOk);
  EXPECT_EQ(key, 100u);

  const uint64_t weak_id = sendOk(table, 200, kWeak);
  key = 0;
  EXPECT_EQ(table.target(weak_id, &key), Target::kNotStrong);
  EXPECT_EQ(key, 0u);

  ASSERT_EQ(table.markDead(100), strong_id);
  EXPECT_EQ(table.target(strong_id, &key), Target::kDead);
  EXPECT_EQ(key, 0u);
  // Dead wins over not-strong.
  ASSERT_EQ(table.markDead(200), weak_id);
  EXPECT_EQ(table.target(weak_id, &key), Target::kDead);

  // An entry whose strong count went back is no longer a call target.
  const uint64_t third = sendOk(table, 300, kStrong);
  ASSERT_TRUE(table.send(300, kWeak).ok());
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.apply(third, RefKind::kDecStrong, 1, &erased).ok());
  EXPECT_EQ(table.target(third, &key), Target::kNotStrong);
}

TEST(ExportTableTest, HomeRequiresACount) {
  ExportTable table(kLarge);
  EXPECT_EQ(table.home(1).status().code(), absl::StatusCode::kInvalidArgument);
  const uint64_t strong_id = sendOk(table, 10, kStrong);
  const uint64_t weak_id = sendOk(table, 20, kWeak);
  absl::StatusOr<uint64_t> home = table.home(strong_id);
  ASSERT_TRUE(home.ok());
  EXPECT_EQ(*home, 10u);
  home = table.home(weak_id);  // a weak count is enough to name it
  ASSERT_TRUE(home.ok());
  EXPECT_EQ(*home, 20u);
  // A dead entry with counts is still home (the reference names a known node).
  ASSERT_TRUE(table.markDead(10).has_value());
  EXPECT_TRUE(table.home(strong_id).ok());
  // Once erased, no longer.
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.apply(weak_id, RefKind::kDecWeak, 1, &erased).ok());
  EXPECT_EQ(table.home(weak_id).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(table.home(0).status().code(), absl::StatusCode::kInvalidArgument);
}

// ---- ExportTable: death (§5.3) ------------------------------------------------------------------

TEST(ExportTableTest, MarkDeadOnce) {
  ExportTable table(kLarge);
  EXPECT_EQ(table.markDead(1), std::nullopt);  // not exported
  const uint64_t id = sendOk(table, 1, kStrong);
  EXPECT_EQ(table.markDead(1), id);
  EXPECT_TRUE(table.find(id)->dead);
  EXPECT_EQ(table.markDead(1), std::nullopt);  // already dead
  EXPECT_EQ(table.markDead(1), std::nullopt);
  EXPECT_EQ(strongOf(table, id), 1u);  // the entry is kept until the counts come back
}

TEST(ExportTableTest, DeadEntryIsReusedByALaterSend) {
  ExportTable table(kLarge);
  const uint64_t id = sendOk(table, 1, kStrong);
  ASSERT_EQ(table.markDead(1), id);
  absl::StatusOr<ExportTable::Sent> later = table.send(1, kWeak);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(later->id, id);
  EXPECT_FALSE(later->created);
  EXPECT_TRUE(later->dead);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(weakOf(table, id), 1u);
  // Counts still come back normally; when they do, the entry is erased.
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.release(id, 1, 1, &erased).ok());
  EXPECT_THAT(erased, ElementsAre(1u));
  // A new entry for the same key is not dead (the caller sends its DeathNotice, §5.3).
  absl::StatusOr<ExportTable::Sent> fresh = table.send(1, kStrong);
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->created);
  EXPECT_FALSE(fresh->dead);
  EXPECT_EQ(table.markDead(1), fresh->id);
}

TEST(ExportTableTest, MarkDeadOnlyAffectsItsKey) {
  ExportTable table(kLarge);
  const uint64_t a = sendOk(table, 1, kStrong);
  const uint64_t b = sendOk(table, 2, kStrong);
  ASSERT_EQ(table.markDead(2), b);
  uint64_t key = 0;
  EXPECT_EQ(table.target(a, &key), Target::kOk);
  EXPECT_FALSE(table.find(a)->dead);
}

// ---- ExportTable: one-way sequencing (§7)
// --------------------------------------------------------

TEST(ExportTableTest, AcceptOnewayInSequence) {
  ExportTable table(kLarge);
  EXPECT_FALSE(table.acceptOneway(1, 1));  // unknown id
  const uint64_t a = sendOk(table, 1, kStrong);
  const uint64_t b = sendOk(table, 2, kStrong);
  EXPECT_FALSE(table.acceptOneway(a, 0));
  EXPECT_FALSE(table.acceptOneway(a, 2));
  EXPECT_TRUE(table.acceptOneway(a, 1));
  EXPECT_FALSE(table.acceptOneway(a, 1));  // a repeat is a mismatch
  EXPECT_TRUE(table.acceptOneway(a, 2));
  EXPECT_TRUE(table.acceptOneway(a, 3));
  // Per entry.
  EXPECT_TRUE(table.acceptOneway(b, 1));
  EXPECT_EQ(table.find(a)->next_oneway_seq, 4u);
  EXPECT_EQ(table.find(b)->next_oneway_seq, 2u);
  // A refused seq does not advance the counter.
  EXPECT_FALSE(table.acceptOneway(b, 5));
  EXPECT_TRUE(table.acceptOneway(b, 2));
}

// ---- ExportTable: drain() ----------------------------------------------------------------------

TEST(ExportTableTest, DrainReturnsEveryKeyAndEmpties) {
  ExportTable table(kLarge);
  sendOk(table, 10, kStrong);
  sendOk(table, 20, kWeak);
  sendOk(table, 30, kStrong);
  ASSERT_TRUE(table.send(10, kStrong).ok());
  ASSERT_TRUE(table.markDead(30).has_value());
  std::vector<uint64_t> erased;
  ASSERT_TRUE(table.apply(2, RefKind::kDecWeak, 1, &erased).ok());  // frees id 2
  EXPECT_THAT(table.drain(), UnorderedElementsAre(10u, 30u));
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(1), nullptr);
  EXPECT_EQ(table.idOf(10), std::nullopt);
  EXPECT_THAT(table.drain(), IsEmpty());
  // Ids start over; keys are fresh entries.
  absl::StatusOr<ExportTable::Sent> sent = table.send(30, kStrong);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->id, 1u);
  EXPECT_TRUE(sent->created);
  EXPECT_FALSE(sent->dead);
  EXPECT_EQ(sendOk(table, 40, kStrong), 2u);
}

// ---- ExportTable: randomized model test ---------------------------------------------------------

// A reference model of the table: the counts per key, ids allocated lowest-free. The real table
// is compared with it after every operation.
class ExportModel {
 public:
  struct Node {
    uint64_t id = 0;
    uint64_t strong = 0;
    uint64_t weak = 0;
    bool dead = false;
    uint64_t seq = 1;
  };

  explicit ExportModel(size_t max_entries) : max_entries_(max_entries) {}

  uint64_t lowestFreeId() const {
    uint64_t id = 1;
    while (by_id_.count(id) != 0) {
      ++id;
    }
    return id;
  }
  std::optional<uint64_t> keyOf(uint64_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? std::nullopt : std::optional<uint64_t>(it->second);
  }
  Node* nodeOfId(uint64_t id) {
    std::optional<uint64_t> key = keyOf(id);
    return key ? &nodes_.at(*key) : nullptr;
  }
  void eraseIfUnused(uint64_t key, std::vector<uint64_t>* erased) {
    Node& node = nodes_.at(key);
    if (node.strong == 0 && node.weak == 0) {
      by_id_.erase(node.id);
      nodes_.erase(key);
      erased->push_back(key);
    }
  }

  std::map<uint64_t, Node> nodes_;  // by key
  std::map<uint64_t, uint64_t> by_id_;
  size_t max_entries_;
};

// Checks the full table against the model, and the invariants: an entry exists iff a count is
// non-zero; ids are non-zero and unique; key <-> id agree both ways.
void expectMatches(const ExportTable& table, const ExportModel& model, int step) {
  SCOPED_TRACE(testing::Message() << "step " << step);
  ASSERT_EQ(table.size(), model.nodes_.size());
  std::set<uint64_t> ids;
  for (const auto& [key, node] : model.nodes_) {
    ASSERT_NE(node.id, 0u);
    ASSERT_TRUE(ids.insert(node.id).second) << "duplicate id " << node.id;
    ASSERT_TRUE(node.strong != 0 || node.weak != 0);
    ASSERT_EQ(table.idOf(key), node.id);
    const ExportTable::Entry* entry = table.find(node.id);
    ASSERT_NE(entry, nullptr);
    EXPECT_EQ(entry->key, key);
    EXPECT_EQ(entry->strong, node.strong);
    EXPECT_EQ(entry->weak, node.weak);
    EXPECT_EQ(entry->dead, node.dead);
    EXPECT_EQ(entry->next_oneway_seq, node.seq);
    ASSERT_TRUE(entry->strong != 0 || entry->weak != 0) << "entry without a count";
  }
}

TEST(ExportTableTest, RandomizedAgainstModel) {
  constexpr size_t kMaxEntries = 24;
  constexpr uint64_t kKeys = 40;  // more keys than entries, so the limit is hit
  constexpr uint64_t kIdRange = kMaxEntries + 4;
  constexpr int kSteps = 20000;
  std::mt19937_64 rng(0x6e62'2024);
  auto pick = [&rng](uint64_t lo, uint64_t hi) {
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng);
  };
  const RefKind kKinds[] = {RefKind::kIncStrong, RefKind::kDecStrong, RefKind::kIncWeak,
                            RefKind::kDecWeak};

  ExportTable table(kMaxEntries);
  ExportModel model(kMaxEntries);

  // The model's rule for one op on (strong, weak): the status code it must produce.
  auto modelApply = [](RefKind kind, uint64_t count, uint64_t& strong,
                       uint64_t& weak) -> absl::StatusCode {
    switch (kind) {
      case RefKind::kIncStrong:
        if (strong == 0) {
          return absl::StatusCode::kFailedPrecondition;
        }
        strong += count;
        return absl::StatusCode::kOk;
      case RefKind::kIncWeak:
        if (strong == 0 && weak == 0) {
          return absl::StatusCode::kFailedPrecondition;
        }
        weak += count;
        return absl::StatusCode::kOk;
      case RefKind::kDecStrong:
        if (strong < count) {
          return absl::StatusCode::kOutOfRange;
        }
        strong -= count;
        return absl::StatusCode::kOk;
      case RefKind::kDecWeak:
        if (weak < count) {
          return absl::StatusCode::kOutOfRange;
        }
        weak -= count;
        return absl::StatusCode::kOk;
    }
    return absl::StatusCode::kInternal;
  };

  int counts[10] = {};
  for (int step = 0; step < kSteps; ++step) {
    const int op = static_cast<int>(pick(0, 9));
    ++counts[op];
    switch (op) {
      case 0:
      case 1: {  // send (twice as likely, to keep the table populated)
        const uint64_t key = pick(1, kKeys);
        const bool weak = pick(0, 1) == 1;
        absl::StatusOr<ExportTable::Sent> sent = table.send(key, weak);
        auto it = model.nodes_.find(key);
        if (it == model.nodes_.end()) {
          if (model.nodes_.size() >= kMaxEntries) {
            ASSERT_EQ(sent.status().code(), absl::StatusCode::kResourceExhausted);
            break;
          }
          ASSERT_TRUE(sent.ok()) << sent.status();
          ASSERT_TRUE(sent->created);
          ASSERT_EQ(sent->id, model.lowestFreeId());
          ExportModel::Node node;
          node.id = sent->id;
          it = model.nodes_.emplace(key, node).first;
          model.by_id_[sent->id] = key;
        } else {
          ASSERT_TRUE(sent.ok()) << sent.status();
          ASSERT_FALSE(sent->created);
          ASSERT_EQ(sent->id, it->second.id);
        }
        ASSERT_EQ(sent->dead, it->second.dead);
        (weak ? it->second.weak : it->second.strong) += 1;
        break;
      }
      case 2: {  // unsend
        const uint64_t id = pick(1, kIdRange);
        const bool weak = pick(0, 1) == 1;
        std::optional<uint64_t> unpinned = table.unsend(id, weak);
        std::vector<uint64_t> erased;
        if (ExportModel::Node* node = model.nodeOfId(id); node != nullptr) {
          uint64_t& count = weak ? node->weak : node->strong;
          if (count > 0) {
            --count;
          }
          model.eraseIfUnused(*model.keyOf(id), &erased);
        }
        if (erased.empty()) {
          ASSERT_EQ(unpinned, std::nullopt);
        } else {
          ASSERT_EQ(unpinned, erased.front());
        }
        break;
      }
      case 3: {  // apply
        const uint64_t id = pick(1, kIdRange);
        const RefKind kind = kKinds[pick(0, 3)];
        const uint64_t count = pick(1, 3);
        std::vector<uint64_t> erased;
        absl::Status status = table.apply(id, kind, count, &erased);
        std::vector<uint64_t> model_erased;
        ExportModel::Node* node = model.nodeOfId(id);
        if (node == nullptr) {
          ASSERT_EQ(status.code(), absl::StatusCode::kNotFound);
        } else {
          uint64_t strong = node->strong;
          uint64_t weak = node->weak;
          const absl::StatusCode code = modelApply(kind, count, strong, weak);
          ASSERT_EQ(status.code(), code) << status;
          if (code == absl::StatusCode::kOk) {
            node->strong = strong;
            node->weak = weak;
            model.eraseIfUnused(*model.keyOf(id), &model_erased);
          }
        }
        ASSERT_EQ(erased, model_erased);
        break;
      }
      case 4: {  // applyBatch
        std::vector<Op> ops(pick(1, 5));
        for (Op& o : ops) {
          // Mostly ids that exist, so that batches succeed often enough.
          if (!model.by_id_.empty() && pick(0, 4) != 0) {
            auto it = model.by_id_.begin();
            std::advance(it, pick(0, model.by_id_.size() - 1));
            o.id = it->first;
          } else {
            o.id = pick(1, kIdRange);
          }
          o.kind = kKinds[pick(0, 3)];
          o.count = pick(1, 2);
        }
        std::vector<uint64_t> erased;
        absl::Status status = table.applyBatch(ops, &erased);
        // Model: run on a copy; commit only if every op succeeds.
        ExportModel trial = model;
        absl::StatusCode code = absl::StatusCode::kOk;
        std::vector<uint64_t> model_erased;
        for (const Op& o : ops) {
          ExportModel::Node* node = trial.nodeOfId(o.id);
          if (node == nullptr) {
            code = absl::StatusCode::kNotFound;
            break;
          }
          code = modelApply(o.kind, o.count, node->strong, node->weak);
          if (code != absl::StatusCode::kOk) {
            break;
          }
          trial.eraseIfUnused(*trial.keyOf(o.id), &model_erased);
        }
        ASSERT_EQ(status.code(), code) << status;
        if (code == absl::StatusCode::kOk) {
          model = trial;
          ASSERT_EQ(erased, model_erased);
        } else {
          ASSERT_THAT(erased, IsEmpty());
        }
        break;
      }
      case 5: {  // release
        const uint64_t id = pick(1, kIdRange);
        ExportModel::Node* node = model.nodeOfId(id);
        // Usually exactly what is held (a full release), sometimes part or too much.
        uint64_t strong = pick(0, 2);
        uint64_t weak = pick(0, 2);
        if (node != nullptr && pick(0, 1) == 0) {
          strong = node->strong;
          weak = node->weak;
        }
        std::vector<uint64_t> erased;
        absl::Status status = table.release(id, strong, weak, &erased);
        std::vector<uint64_t> model_erased;
        if (node == nullptr) {
          ASSERT_EQ(status.code(), absl::StatusCode::kNotFound);
        } else if (node->strong < strong || node->weak < weak) {
          ASSERT_EQ(status.code(), absl::StatusCode::kOutOfRange);
        } else {
          ASSERT_TRUE(status.ok()) << status;
          node->strong -= strong;
          node->weak -= weak;
          node->seq = 1;
          model.eraseIfUnused(*model.keyOf(id), &model_erased);
        }
        ASSERT_EQ(erased, model_erased);
        break;
      }
      case 6: {  // markDead
        const uint64_t key = pick(1, kKeys);
        std::optional<uint64_t> id = table.markDead(key);
        auto it = model.nodes_.find(key);
        if (it == model.nodes_.end() || it->second.dead) {
          ASSERT_EQ(id, std::nullopt);
        } else {
          ASSERT_EQ(id, it->second.id);
          it->second.dead = true;
        }
        break;
      }
      case 7: {  // acceptOneway: usually the right seq
        const uint64_t id = pick(1, kIdRange);
        ExportModel::Node* node = model.nodeOfId(id);
        const uint64_t seq = (node != nullptr && pick(0, 3) != 0) ? node->seq : pick(0, 4);
        const bool accepted = table.acceptOneway(id, seq);
        const bool expected = node != nullptr && seq == node->seq;
        ASSERT_EQ(accepted, expected);
        if (expected) {
          ++node->seq;
        }
        break;
      }
      case 8: {  // target / home (queries)
        const uint64_t id = pick(1, kIdRange);
        const ExportModel::Node* node = model.nodeOfId(id);
        uint64_t key = 0;
        const Target target = table.target(id, &key);
        absl::StatusOr<uint64_t> home = table.home(id);
        if (node == nullptr) {
          ASSERT_EQ(target, Target::kUnknown);
          ASSERT_FALSE(home.ok());
        } else {
          ASSERT_TRUE(home.ok());
          ASSERT_EQ(*home, *model.keyOf(id));
          if (node->dead) {
            ASSERT_EQ(target, Target::kDead);
          } else if (node->strong == 0) {
            ASSERT_EQ(target, Target::kNotStrong);
          } else {
            ASSERT_EQ(target, Target::kOk);
            ASSERT_EQ(key, *model.keyOf(id));
          }
        }
        break;
      }
      case 9: {  // rarely, teardown
        if (pick(0, 199) != 0) {
          break;
        }
        std::vector<uint64_t> keys = table.drain();
        std::sort(keys.begin(), keys.end());
        std::vector<uint64_t> model_keys;
        for (const auto& [key, node] : model.nodes_) {
          model_keys.push_back(key);
        }
        ASSERT_EQ(keys, model_keys);
        model.nodes_.clear();
        model.by_id_.clear();
        break;
      }
    }
    expectMatches(table, model, step);
    if (HasFatalFailure() || HasNonfatalFailure()) {
      FAIL() << "diverged from the model at step " << step << " (op " << op << ")";
    }
  }
  // The run exercised every kind of op.
  for (int op = 0; op < 10; ++op) {
    EXPECT_GT(counts[op], 0) << "op " << op;
  }
}

// ---- ImportTable
// ---------------------------------------------------------------------------------

TEST(ImportTableTest, EmptyTable) {
  ImportTable table;
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(1), nullptr);
  EXPECT_EQ(table.nextOnewaySeq(1), 0u);
  EXPECT_FALSE(table.markDead(1));
  EXPECT_EQ(table.release(1, 1), std::nullopt);
  EXPECT_THAT(table.drain(), IsEmpty());
}

TEST(ImportTableTest, ReceiveCreatesOnceAndCountsAdd) {
  ImportTable table;
  ImportTable::Received first = table.receive(5, kStrong, 500);
  EXPECT_TRUE(first.created);
  EXPECT_NE(first.generation, 0u);
  ImportTable::Received second = table.receive(5, kStrong, 999);
  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.generation, first.generation);
  ImportTable::Received third = table.receive(5, kWeak, 999);
  EXPECT_FALSE(third.created);
  EXPECT_EQ(third.generation, first.generation);
  EXPECT_EQ(table.size(), 1u);
  const ImportTable::Entry* entry = table.find(5);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->strong, 2u);
  EXPECT_EQ(entry->weak, 1u);
  EXPECT_EQ(entry->owner_key, 500u);  // from the first reference
  EXPECT_FALSE(entry->dead);
  EXPECT_EQ(entry->next_oneway_seq, 1u);
  EXPECT_EQ(entry->generation, first.generation);
}

TEST(ImportTableTest, WeakFirstReference) {
  ImportTable table;
  ASSERT_TRUE(table.receive(3, kWeak, 1).created);
  EXPECT_EQ(table.find(3)->strong, 0u);
  EXPECT_EQ(table.find(3)->weak, 1u);
}

TEST(ImportTableTest, GenerationIncrementsPerCreation) {
  ImportTable table;
  const uint64_t g1 = table.receive(1, kStrong, 0).generation;
  const uint64_t g2 = table.receive(2, kStrong, 0).generation;
  EXPECT_GT(g2, g1);
  EXPECT_EQ(table.receive(1, kStrong, 0).generation, g1);  // not a creation
  ASSERT_TRUE(table.release(1, g1).has_value());
  ImportTable::Received again = table.receive(1, kStrong, 0);
  EXPECT_TRUE(again.created);
  EXPECT_GT(again.generation, g2);
  EXPECT_NE(again.generation, g1);
}

TEST(ImportTableTest, ReleaseReturnsTheCountsAndErases) {
  ImportTable table;
  const uint64_t generation = table.receive(7, kStrong, 0).generation;
  table.receive(7, kStrong, 0);
  table.receive(7, kWeak, 0);
  std::optional<ImportTable::Released> released = table.release(7, generation);
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(released->strong, 2u);
  EXPECT_EQ(released->weak, 1u);
  EXPECT_EQ(table.find(7), nullptr);
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.release(7, generation), std::nullopt);  // only once
}

TEST(ImportTableTest, ReleaseWithAStaleGenerationIsANoOp) {
  ImportTable table;
  const uint64_t old_generation = table.receive(7, kStrong, 0).generation;
  ASSERT_TRUE(table.release(7, old_generation).has_value());
  // The id is imported again (a newer entry): the old proxy's release must not touch it.
  const uint64_t new_generation = table.receive(7, kWeak, 0).generation;
  ASSERT_NE(new_generation, old_generation);
  EXPECT_EQ(table.release(7, old_generation), std::nullopt);
  ASSERT_NE(table.find(7), nullptr);
  EXPECT_EQ(table.find(7)->weak, 1u);
  EXPECT_EQ(table.release(7, 0), std::nullopt);
  EXPECT_EQ(table.release(7, new_generation + 1), std::nullopt);
  EXPECT_EQ(table.size(), 1u);
  std::optional<ImportTable::Released> released = table.release(7, new_generation);
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(released->strong, 0u);
  EXPECT_EQ(released->weak, 1u);
}

TEST(ImportTableTest, MarkDead) {
  ImportTable table;
  EXPECT_FALSE(table.markDead(4));  // not imported: ignored (§5.3)
  EXPECT_EQ(table.size(), 0u);      // and not created
  table.receive(4, kStrong, 0);
  EXPECT_TRUE(table.markDead(4));
  EXPECT_TRUE(table.find(4)->dead);
  EXPECT_TRUE(table.markDead(4));  // idempotent
  EXPECT_EQ(table.find(4)->strong, 1u);
  // Further references to a dead import still count (they go back with the release).
  table.receive(4, kStrong, 0);
  EXPECT_EQ(table.find(4)->strong, 2u);
  EXPECT_TRUE(table.find(4)->dead);
}

TEST(ImportTableTest, NextOnewaySeqPerEntryAndRestartsForANewEntry) {
  ImportTable table;
  EXPECT_EQ(table.nextOnewaySeq(1), 0u);  // unknown
  const uint64_t generation = table.receive(1, kStrong, 0).generation;
  table.receive(2, kStrong, 0);
  EXPECT_EQ(table.nextOnewaySeq(1), 1u);
  EXPECT_EQ(table.nextOnewaySeq(1), 2u);
  EXPECT_EQ(table.nextOnewaySeq(1), 3u);
  EXPECT_EQ(table.nextOnewaySeq(2), 1u);
  EXPECT_EQ(table.nextOnewaySeq(1), 4u);
  // More references do not restart the numbering.
  table.receive(1, kWeak, 0);
  EXPECT_EQ(table.nextOnewaySeq(1), 5u);
  // A new entry reusing the id starts at 1 (§4).
  ASSERT_TRUE(table.release(1, generation).has_value());
  EXPECT_EQ(table.nextOnewaySeq(1), 0u);
  table.receive(1, kStrong, 0);
  EXPECT_EQ(table.nextOnewaySeq(1), 1u);
}

TEST(ImportTableTest, DrainReturnsEveryIdAndEmpties) {
  ImportTable table;
  table.receive(1, kStrong, 0);
  table.receive(9, kWeak, 0);
  table.receive(4, kStrong, 0);
  const uint64_t g4 = table.find(4)->generation;
  EXPECT_THAT(table.drain(), UnorderedElementsAre(1u, 4u, 9u));
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.find(1), nullptr);
  EXPECT_THAT(table.drain(), IsEmpty());
  // A proxy from before the teardown cannot release an entry created after it.
  ImportTable::Received again = table.receive(4, kStrong, 0);
  EXPECT_TRUE(again.created);
  EXPECT_NE(again.generation, g4);
  EXPECT_EQ(table.release(4, g4), std::nullopt);
  EXPECT_EQ(table.size(), 1u);
}

// ExportTable and ImportTable together: the §5.1 worked race end to end, E exporting to I.
TEST(CoreTablesTest, WorkedRaceKeepsTheTablesInAgreement) {
  ExportTable exporter(kLarge);
  ImportTable importer;
  // E sends X.
  const uint64_t x = sendOk(exporter, 0xabc, kStrong);
  const uint64_t g1 = importer.receive(x, kStrong, 1).generation;
  EXPECT_EQ(importer.nextOnewaySeq(x), 1u);
  ASSERT_TRUE(exporter.acceptOneway(x, 1));
  // I drops its proxy and releases everything; meanwhile E sends X again.
  std::optional<ImportTable::Released> released = importer.release(x, g1);
  ASSERT_TRUE(released.has_value());
  ASSERT_EQ(sendOk(exporter, 0xabc, kStrong), x);
  // The release arrives at E; the second X arrives at I.
  std::vector<uint64_t> erased;
  ASSERT_TRUE(exporter.release(x, released->strong, released->weak, &erased).ok());
  EXPECT_THAT(erased, IsEmpty());
  ImportTable::Received fresh = importer.receive(x, kStrong, 1);
  EXPECT_TRUE(fresh.created);
  // Counts agree, and the fresh import's first oneway is accepted.
  EXPECT_EQ(exporter.find(x)->strong, importer.find(x)->strong);
  const uint64_t seq = importer.nextOnewaySeq(x);
  EXPECT_EQ(seq, 1u);
  EXPECT_TRUE(exporter.acceptOneway(x, seq));
}

}  // namespace
}  // namespace nb::gateway
