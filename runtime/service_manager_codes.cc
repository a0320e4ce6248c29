#include "runtime/service_manager_codes.h"

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace nb::runtime {
namespace {

using M = ServiceManagerMethod;

// aosp-binder.md §2.6: GET_SERVICE_TRANSACTION = 1 … LIST_SERVICES_TRANSACTION = 4.
constexpr std::array kLegacy = {M::kGetService, M::kCheckService, M::kAddService, M::kListServices};
// aosp-binder.md §2.5, one column each.
constexpr std::array kAndroid11 = {M::kGetService,
                                   M::kCheckService,
                                   M::kAddService,
                                   M::kListServices,
                                   M::kRegisterForNotifications,
                                   M::kUnregisterForNotifications,
                                   M::kIsDeclared,
                                   M::kRegisterClientCallback,
                                   M::kTryUnregisterService};
constexpr std::array kAndroid12 = {M::kGetService,
                                   M::kCheckService,
                                   M::kAddService,
                                   M::kListServices,
                                   M::kRegisterForNotifications,
                                   M::kUnregisterForNotifications,
                                   M::kIsDeclared,
                                   M::kGetDeclaredInstances,
                                   M::kUpdatableViaApex,
                                   M::kRegisterClientCallback,
                                   M::kTryUnregisterService,
                                   M::kGetServiceDebugInfo};
constexpr std::array kAndroid13 = {M::kGetService,
                                   M::kCheckService,
                                   M::kAddService,
                                   M::kListServices,
                                   M::kRegisterForNotifications,
                                   M::kUnregisterForNotifications,
                                   M::kIsDeclared,
                                   M::kGetDeclaredInstances,
                                   M::kUpdatableViaApex,
                                   M::kGetConnectionInfo,
                                   M::kRegisterClientCallback,
                                   M::kTryUnregisterService,
                                   M::kGetServiceDebugInfo};
constexpr std::array kAndroid14 = {M::kGetService,
                                   M::kCheckService,
                                   M::kAddService,
                                   M::kListServices,
                                   M::kRegisterForNotifications,
                                   M::kUnregisterForNotifications,
                                   M::kIsDeclared,
                                   M::kGetDeclaredInstances,
                                   M::kUpdatableViaApex,
                                   M::kGetUpdatableNames,
                                   M::kGetConnectionInfo,
                                   M::kRegisterClientCallback,
                                   M::kTryUnregisterService,
                                   M::kGetServiceDebugInfo};
constexpr std::array kAndroid15 = {M::kGetService,
                                   M::kGetService2,
                                   M::kCheckService,
                                   M::kAddService,
                                   M::kListServices,
                                   M::kRegisterForNotifications,
                                   M::kUnregisterForNotifications,
                                   M::kIsDeclared,
                                   M::kGetDeclaredInstances,
                                   M::kUpdatableViaApex,
                                   M::kGetUpdatableNames,
                                   M::kGetConnectionInfo,
                                   M::kRegisterClientCallback,
                                   M::kTryUnregisterService,
                                   M::kGetServiceDebugInfo};
constexpr std::array kAndroid16 = {M::kGetService,
                                   M::kGetService2,
                                   M::kCheckService,
                                   M::kCheckService2,
                                   M::kAddService,
                                   M::kListServices,
                                   M::kRegisterForNotifications,
                                   M::kUnregisterForNotifications,
                                   M::kIsDeclared,
                                   M::kGetDeclaredInstances,
                                   M::kUpdatableViaApex,
                                   M::kGetUpdatableNames,
                                   M::kGetConnectionInfo,
                                   M::kRegisterClientCallback,
                                   M::kTryUnregisterService,
                                   M::kGetServiceDebugInfo};

}  // namespace

const char* serviceManagerMethodName(ServiceManagerMethod method) {
  switch (method) {
    case M::kGetService:
      return "getService";
    case M::kGetService2:
      return "getService2";
    case M::kCheckService:
      return "checkService";
    case M::kCheckService2:
      return "checkService2";
    case M::kAddService:
      return "addService";
    case M::kListServices:
      return "listServices";
    case M::kRegisterForNotifications:
      return "registerForNotifications";
    case M::kUnregisterForNotifications:
      return "unregisterForNotifications";
    case M::kIsDeclared:
      return "isDeclared";
    case M::kGetDeclaredInstances:
      return "getDeclaredInstances";
    case M::kUpdatableViaApex:
      return "updatableViaApex";
    case M::kGetUpdatableNames:
      return "getUpdatableNames";
    case M::kGetConnectionInfo:
      return "getConnectionInfo";
    case M::kRegisterClientCallback:
      return "registerClientCallback";
    case M::kTryUnregisterService:
      return "tryUnregisterService";
    case M::kGetServiceDebugInfo:
      return "getServiceDebugInfo";
  }
  return "?";
}

std::string_view serviceManagerLayoutName(ServiceManagerLayout layout) {
  switch (layout) {
    case ServiceManagerLayout::kAndroid10:
      return "10";
    case ServiceManagerLayout::kAndroid11:
      return "11";
    case ServiceManagerLayout::kAndroid12:
      return "12";
    case ServiceManagerLayout::kAndroid13:
      return "13";
    case ServiceManagerLayout::kAndroid14:
      return "14";
    case ServiceManagerLayout::kAndroid15:
      return "15";
    case ServiceManagerLayout::kAndroid16:
      return "16";
  }
  return "?";
}

absl::StatusOr<ServiceManagerLayout> parseServiceManagerLayout(std::string_view name) {
  std::string lower = absl::AsciiStrToLower(std::string(name));
  std::string_view v = lower;
  if (v.substr(0, 7) == "android") {
    v.remove_prefix(7);
  }
  if (v.empty() || v == "newest") {
    return kNewestServiceManagerLayout;
  }
  if (v == "legacy") {
    return ServiceManagerLayout::kAndroid10;
  }
  for (int i = 0; i <= static_cast<int>(kNewestServiceManagerLayout); ++i) {
    auto layout = static_cast<ServiceManagerLayout>(i);
    if (v == serviceManagerLayoutName(layout)) {
      return layout;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown service manager layout '", std::string(name), "' (want 10..16, legacy, newest)"));
}

bool isLegacyServiceManager(ServiceManagerLayout layout) {
  return layout == ServiceManagerLayout::kAndroid10;
}

std::span<const ServiceManagerMethod> serviceManagerMethods(ServiceManagerLayout layout) {
  switch (layout) {
    case ServiceManagerLayout::kAndroid10:
      return kLegacy;
    case ServiceManagerLayout::kAndroid11:
      return kAndroid11;
    case ServiceManagerLayout::kAndroid12:
      return kAndroid12;
    case ServiceManagerLayout::kAndroid13:
      return kAndroid13;
    case ServiceManagerLayout::kAndroid14:
      return kAndroid14;
    case ServiceManagerLayout::kAndroid15:
      return kAndroid15;
    case ServiceManagerLayout::kAndroid16:
      return kAndroid16;
  }
  return {};
}

std::optional<uint32_t> serviceManagerCode(ServiceManagerLayout layout,
                                           ServiceManagerMethod method) {
  auto methods = serviceManagerMethods(layout);
  for (size_t i = 0; i < methods.size(); ++i) {
    if (methods[i] == method) {
      return static_cast<uint32_t>(i + 1);
    }
  }
  return std::nullopt;
}

std::optional<ServiceManagerMethod> serviceManagerMethodForCode(ServiceManagerLayout layout,
                                                                uint32_t code) {
  auto methods = serviceManagerMethods(layout);
  if (code == 0 || code > methods.size()) {
    return std::nullopt;
  }
  return methods[code - 1];
}

codec::InterfaceHeaderFormat serviceManagerHeaderFormat(ServiceManagerLayout layout) {
  codec::InterfaceHeaderFormat format;
  format.layout = layout == ServiceManagerLayout::kAndroid10 ? codec::ParcelLayout::kAndroid10
                                                             : codec::ParcelLayout::kAndroid11Plus;
  format.marker = codec::HeaderMarker::kSystem;
  return format;
}

int32_t binderStabilityFor(ServiceManagerLayout layout) {
  if (layout == ServiceManagerLayout::kAndroid12) {
    return static_cast<int32_t>(1u | (static_cast<uint32_t>(codec::kStabilitySystem) << 24));
  }
  return codec::kStabilitySystem;
}

}  // namespace nb::runtime
