#include "runtime/service_manager_codes.h"

#include <gtest/gtest.h>

namespace nb::runtime {
namespace {

using M = ServiceManagerMethod;
using L = ServiceManagerLayout;

TEST(ServiceManagerCodes, MatchTheReferenceTable) {
  // aosp-binder.md §2.5 / §2.6, spot checks of every column.
  EXPECT_EQ(serviceManagerCode(L::kAndroid10, M::kListServices), 4u);
  EXPECT_FALSE(serviceManagerCode(L::kAndroid10, M::kIsDeclared).has_value());
  EXPECT_EQ(serviceManagerCode(L::kAndroid11, M::kIsDeclared), 7u);
  EXPECT_EQ(serviceManagerCode(L::kAndroid11, M::kTryUnregisterService), 9u);
  EXPECT_EQ(serviceManagerCode(L::kAndroid12, M::kGetServiceDebugInfo), 12u);
  EXPECT_EQ(serviceManagerCode(L::kAndroid13, M::kGetConnectionInfo), 10u);
  EXPECT_EQ(serviceManagerCode(L::kAndroid14, M::kGetUpdatableNames), 10u);
  EXPECT_EQ(serviceManagerCode(L::kAndroid14, M::kGetServiceDebugInfo), 14u);
  EXPECT_EQ(serviceManagerCode(L::kAndroid15, M::kGetService2), 2u);
  EXPECT_EQ(serviceManagerCode(L::kAndroid15, M::kCheckService), 3u);
  EXPECT_EQ(serviceManagerCode(L::kAndroid15, M::kGetServiceDebugInfo), 15u);
  EXPECT_EQ(serviceManagerCode(L::kAndroid16, M::kCheckService2), 4u);
  EXPECT_EQ(serviceManagerCode(L::kAndroid16, M::kAddService), 5u);
  EXPECT_EQ(serviceManagerCode(L::kAndroid16, M::kGetServiceDebugInfo), 16u);
  EXPECT_EQ(serviceManagerMethods(L::kAndroid13).size(), 13u);
}

TEST(ServiceManagerCodes, CodeAndMethodRoundTrip) {
  for (int i = 0; i <= static_cast<int>(kNewestServiceManagerLayout); ++i) {
    auto layout = static_cast<L>(i);
    auto methods = serviceManagerMethods(layout);
    for (size_t c = 0; c < methods.size(); ++c) {
      EXPECT_EQ(serviceManagerCode(layout, methods[c]), c + 1);
      EXPECT_EQ(serviceManagerMethodForCode(layout, c + 1), methods[c]);
    }
    EXPECT_FALSE(serviceManagerMethodForCode(layout, 0).has_value());
    EXPECT_FALSE(serviceManagerMethodForCode(layout, methods.size() + 1).has_value());
    EXPECT_EQ(*parseServiceManagerLayout(serviceManagerLayoutName(layout)), layout);
  }
}

TEST(ServiceManagerCodes, ParseNamesAndHeaders) {
  EXPECT_EQ(*parseServiceManagerLayout("newest"), L::kAndroid16);
  EXPECT_EQ(*parseServiceManagerLayout(""), L::kAndroid16);
  EXPECT_EQ(*parseServiceManagerLayout("legacy"), L::kAndroid10);
  EXPECT_EQ(*parseServiceManagerLayout("Android14"), L::kAndroid14);
  EXPECT_FALSE(parseServiceManagerLayout("9").ok());
  EXPECT_EQ(serviceManagerHeaderFormat(L::kAndroid10).layout, codec::ParcelLayout::kAndroid10);
  EXPECT_EQ(serviceManagerHeaderFormat(L::kAndroid11).layout, codec::ParcelLayout::kAndroid11Plus);
  EXPECT_EQ(binderStabilityFor(L::kAndroid14), codec::kStabilitySystem);
  EXPECT_EQ(binderStabilityFor(L::kAndroid12), 0x0c000001);
  EXPECT_TRUE(isLegacyServiceManager(L::kAndroid10));
}

}  // namespace
}  // namespace nb::runtime
