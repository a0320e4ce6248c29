#include "cmds/binderctl/binderctl.h"

#include <fcntl.h>
#include <linux/android/binder.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "codec/parcel_headers.h"
#include "codec/utf16.h"
#include "local_driver/io/daemon.h"
#include "runtime/binder_status.h"
#include "runtime/device_flags.h"
#include "runtime/parcel_binder.h"
#include "runtime/process_state.h"
#include "runtime/proxy.h"
#include "runtime/service_manager.h"

namespace nb::binderctl {
namespace {

namespace rt = nb::runtime;

constexpr const char kUsage[] =
    "usage: binderctl [common flags] [--oneway] [--reply TYPES] COMMAND ...\n"
    "  list                        list services with their interface descriptors\n"
    "  check NAME                  Service NAME: found|not found\n"
    "  call NAME CODE [ARG]...     call NAME with the interface token and ARGs\n"
    "  ping NAME                   PING transaction, prints the round-trip time\n"
    "  state|stats|transactions    the driver's debugfs-format dump\n"
    "ARG:   i32 N | i64 N | f N | d N | bool true|false | s16 STR | s8 STR | null |\n"
    "       fd PATH | binder NAME\n"
    "TYPES: comma-separated i32,i64,f,d,bool,s16,s8,binder,fd (decoded after the AIDL Status)\n"
    "CODE:  decimal, 0x hex, or a four-character system code (_PNG, _NTF)\n"
    "exit codes: 0 ok, 10 usage/argument, 20 no service manager, 1 other errors\n";

// One error line, and the exit code.
struct Failure {
  int code;
  std::string message;
};

class Ctl {
 public:
  Ctl(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}

  int main(std::vector<std::string> args);

 private:
  int fail(int code, const std::string& message) {
    err_ << "binderctl: " << message << "\n";
    return code;
  }
  int usage(const std::string& message) {
    if (!message.empty()) {
      err_ << "binderctl: " << message << "\n";
    }
    err_ << kUsage << rt::commonFlagsUsage();
    return kExitUsage;
  }
  // Opens the device and checks that a context manager answers a PING.
  std::optional<Failure> connect();
  // The service, or a Failure (not found: 1; no manager: 20).
  absl::StatusOr<std::shared_ptr<rt::IBinder>> lookup(const std::string& name,
                                                      std::optional<Failure>* failure);
  int list();
  int check(const std::string& name);
  int ping(const std::string& name);
  int call(const std::string& name, const std::vector<std::string>& call_args);
  int dump(const std::string& what);
  // Writes the typed arguments; nullopt on success.
  std::optional<Failure> writeArgs(const std::vector<std::string>& call_args,
                                   codec::ParcelWriter& w, std::vector<int>* fds);
  // Decodes the reply after its Status per --reply; returns the lines or a decode error.
  absl::Status decodeReply(codec::ParcelReader& reader, const rt::ReceivedParcel& parcel);

  std::ostream& out_;
  std::ostream& err_;
  rt::CommonFlags flags_;
  bool oneway_ = false;
  std::optional<std::vector<ValueType>> reply_types_;
  std::shared_ptr<rt::ProcessState> state_;
  std::unique_ptr<rt::ServiceManager> sm_;
};

bool parseInt(std::string_view text, long long lo, long long hi, long long* out) {
  const std::string s(text);
  if (s.empty()) {
    return false;
  }
  errno = 0;
  char* end = nullptr;
  long long v;
  if (s[0] == '-') {
    v = std::strtoll(s.c_str(), &end, 0);
  } else {
    unsigned long long u = std::strtoull(s.c_str(), &end, 0);
    if (u > static_cast<unsigned long long>(INT64_MAX)) {
      // Full-width unsigned 64-bit values are allowed for i64 (as two's complement).
      if (hi != INT64_MAX || *end != '\0' || errno != 0) {
        return false;
      }
      *out = static_cast<long long>(u);
      return true;
    }
    v = static_cast<long long>(u);
  }
  if (errno != 0 || end == s.c_str() || *end != '\0' || v < lo || v > hi) {
    return false;
  }
  *out = v;
  return true;
}

bool parseDouble(std::string_view text, double* out) {
  const std::string s(text);
  errno = 0;
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return !s.empty() && errno == 0 && *end == '\0';
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

const char* exceptionName(int32_t code) {
  switch (code) {
    case codec::kExNone:
      return "EX_NONE";
    case codec::kExSecurity:
      return "EX_SECURITY";
    case codec::kExBadParcelable:
      return "EX_BAD_PARCELABLE";
    case codec::kExIllegalArgument:
      return "EX_ILLEGAL_ARGUMENT";
    case codec::kExNullPointer:
      return "EX_NULL_POINTER";
    case codec::kExIllegalState:
      return "EX_ILLEGAL_STATE";
    case codec::kExNetworkMainThread:
      return "EX_NETWORK_MAIN_THREAD";
    case codec::kExUnsupportedOperation:
      return "EX_UNSUPPORTED_OPERATION";
    case codec::kExServiceSpecific:
      return "EX_SERVICE_SPECIFIC";
    case codec::kExParcelable:
      return "EX_PARCELABLE";
    default:
      return "unknown exception";
  }
}

// A one-line description of a transport error.
std::string describe(const absl::Status& status) {
  if (rt::isDeadObject(status)) {
    return absl::StrCat("dead object (", status.message(), ")");
  }
  if (status.code() == absl::StatusCode::kAborted) {
    return absl::StrCat("failed reply (", status.message(), ")");
  }
  return std::string(status.ToString());
}

std::optional<Failure> Ctl::connect() {
  absl::StatusOr<std::shared_ptr<rt::ProcessState>> state =
      rt::ProcessState::open(flags_.processOptions());
  if (!state.ok()) {
    return Failure{kExitNoServiceManager,
                   absl::StrCat("cannot open binder device ", flags_.deviceSpec().toString(), ": ",
                                state.status().message())};
  }
  state_ = *state;
  if (absl::Status s = state_->contextObject()->ping(); !s.ok()) {
    return Failure{
        kExitNoServiceManager,
        absl::StrCat("no service manager on ", flags_.deviceSpec().toString(), ": ", describe(s))};
  }
  sm_ = std::make_unique<rt::ServiceManager>(state_, flags_.sm_layout);
  return std::nullopt;
}

absl::StatusOr<std::shared_ptr<rt::IBinder>> Ctl::lookup(const std::string& name,
                                                         std::optional<Failure>* failure) {
  absl::StatusOr<std::shared_ptr<rt::IBinder>> binder = sm_->checkService(name);
  if (!binder.ok()) {
    *failure =
        Failure{rt::isDeadObject(binder.status()) ? kExitNoServiceManager : kExitError,
                absl::StrCat("checkService(", name, ") failed: ", describe(binder.status()))};
    return binder.status();
  }
  if (*binder == nullptr) {
    *failure = Failure{kExitError, absl::StrCat("service ", name, " not found")};
    return absl::NotFoundError(name);
  }
  return binder;
}

int Ctl::list() {
  absl::StatusOr<std::vector<std::string>> names = sm_->listServices(rt::kDumpFlagPriorityAll);
  if (!names.ok()) {
    return fail(rt::isDeadObject(names.status()) ? kExitNoServiceManager : kExitError,
                absl::StrCat("listServices failed: ", describe(names.status())));
  }
  out_ << "Found " << names->size() << " services:\n";
  for (size_t i = 0; i < names->size(); ++i) {
    const std::string& name = (*names)[i];
    std::string descriptor;
    absl::StatusOr<std::shared_ptr<rt::IBinder>> binder = sm_->checkService(name);
    if (binder.ok() && *binder != nullptr) {
      absl::StatusOr<std::u16string> d = (*binder)->interfaceDescriptor();
      if (d.ok()) {
        descriptor = codec::utf16ToUtf8Lossy(*d);
      }
    }
    out_ << i << "\t" << name << ": [" << descriptor << "]\n";
  }
  return kExitOk;
}

int Ctl::check(const std::string& name) {
  absl::StatusOr<std::shared_ptr<rt::IBinder>> binder = sm_->checkService(name);
  if (!binder.ok()) {
    return fail(rt::isDeadObject(binder.status()) ? kExitNoServiceManager : kExitError,
                absl::StrCat("checkService(", name, ") failed: ", describe(binder.status())));
  }
  out_ << "Service " << name << (*binder != nullptr ? ": found" : ": not found") << "\n";
  return kExitOk;
}

int Ctl::ping(const std::string& name) {
  std::optional<Failure> failure;
  absl::StatusOr<std::shared_ptr<rt::IBinder>> binder = lookup(name, &failure);
  if (!binder.ok()) {
    return fail(failure->code, failure->message);
  }
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = (*binder)->ping();
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  if (!s.ok()) {
    return fail(kExitError, absl::StrCat("ping ", name, " failed: ", describe(s)));
  }
  out_ << "Service " << name << ": ping ok, round trip " << us << " us\n";
  return kExitOk;
}

std::optional<Failure> Ctl::writeArgs(const std::vector<std::string>& call_args,
                                      codec::ParcelWriter& w, std::vector<int>* fds) {
  auto bad = [](const std::string& message) {
    return std::optional<Failure>(Failure{kExitUsage, message});
  };
  for (size_t i = 0; i < call_args.size(); ++i) {
    const std::string& type = call_args[i];
    if (type == "null") {
      w.writeNullBinder(rt::binderStabilityFor(flags_.sm_layout));
      continue;
    }
    if (i + 1 >= call_args.size()) {
      return bad(absl::StrCat("argument ", type, ": missing value or unknown type"));
    }
    const std::string& value = call_args[++i];
    long long n = 0;
    double dv = 0;
    if (type == "i32") {
      if (!parseInt(value, INT32_MIN, UINT32_MAX, &n)) {
        return bad(absl::StrCat("i32: bad value '", value, "'"));
      }
      w.writeInt32(static_cast<int32_t>(static_cast<uint32_t>(n)));
    } else if (type == "i64") {
      if (!parseInt(value, INT64_MIN, INT64_MAX, &n)) {
        return bad(absl::StrCat("i64: bad value '", value, "'"));
      }
      w.writeInt64(static_cast<int64_t>(n));
    } else if (type == "f" || type == "d") {
      if (!parseDouble(value, &dv)) {
        return bad(absl::StrCat(type, ": bad value '", value, "'"));
      }
      if (type == "f") {
        w.writeFloat(static_cast<float>(dv));
      } else {
        w.writeDouble(dv);
      }
    } else if (type == "bool") {
      if (value != "true" && value != "false" && value != "1" && value != "0") {
        return bad(absl::StrCat("bool: bad value '", value, "' (true|false)"));
      }
      w.writeBool(value == "true" || value == "1");
    } else if (type == "s16") {
      if (absl::Status s = w.writeString16(std::string_view(value)); !s.ok()) {
        return bad(absl::StrCat("s16: ", s.message()));
      }
    } else if (type == "s8") {
      if (absl::Status s = w.writeString8(value); !s.ok()) {
        return bad(absl::StrCat("s8: ", s.message()));
      }
    } else if (type == "fd") {
      int fd = ::open(value.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        return bad(absl::StrCat("fd: cannot open ", value, ": ", std::strerror(errno)));
      }
      fds->push_back(fd);
      w.writeFileDescriptor(fd, /*take_ownership=*/true);
    } else if (type == "binder") {
      std::optional<Failure> failure;
      absl::StatusOr<std::shared_ptr<rt::IBinder>> b = lookup(value, &failure);
      if (!b.ok()) {
        failure->message = absl::StrCat("binder argument: ", failure->message);
        return failure;
      }
      rt::writeBinder(w, *b, rt::binderStabilityFor(flags_.sm_layout));
    } else {
      return bad(absl::StrCat("unknown argument type '", type, "'"));
    }
  }
  return std::nullopt;
}

absl::Status Ctl::decodeReply(codec::ParcelReader& reader, const rt::ReceivedParcel& parcel) {
  out_ << "Reply:\n";
  for (size_t i = 0; i < reply_types_->size(); ++i) {
    const ValueType type = (*reply_types_)[i];
    out_ << "  [" << i << "] " << valueTypeName(type) << ": ";
    absl::Status error;
    switch (type) {
      case ValueType::kI32: {
        absl::StatusOr<int32_t> v = reader.readInt32();
        if (v.ok()) {
          char hex[16];
          std::snprintf(hex, sizeof(hex), "0x%08x", static_cast<uint32_t>(*v));
          out_ << *v << " (" << hex << ")";
        }
        error = v.status();
        break;
      }
      case ValueType::kI64: {
        absl::StatusOr<int64_t> v = reader.readInt64();
        if (v.ok()) {
          out_ << *v;
        }
        error = v.status();
        break;
      }
      case ValueType::kF: {
        absl::StatusOr<float> v = reader.readFloat();
        if (v.ok()) {
          out_ << *v;
        }
        error = v.status();
        break;
      }
      case ValueType::kD: {
        absl::StatusOr<double> v = reader.readDouble();
        if (v.ok()) {
          out_ << *v;
        }
        error = v.status();
        break;
      }
      case ValueType::kBool: {
        absl::StatusOr<bool> v = reader.readBool();
        if (v.ok()) {
          out_ << (*v ? "true" : "false");
        }
        error = v.status();
        break;
      }
      case ValueType::kS16: {
        absl::StatusOr<std::optional<std::u16string>> v = reader.readNullableString16();
        if (v.ok()) {
          out_ << (v->has_value() ? quoted(codec::utf16ToUtf8Lossy(**v)) : "null");
        }
        error = v.status();
        break;
      }
      case ValueType::kS8: {
        absl::StatusOr<std::optional<std::string>> v = reader.readNullableString8();
        if (v.ok()) {
          out_ << (v->has_value() ? quoted(**v) : "null");
        }
        error = v.status();
        break;
      }
      case ValueType::kBinder: {
        codec::ParcelReader peek = reader;
        absl::StatusOr<codec::ParcelBinder> raw = peek.readStrongBinder();
        if (!raw.ok()) {
          error = raw.status();
          break;
        }
        absl::StatusOr<std::shared_ptr<rt::IBinder>> b = rt::readBinder(reader, *state_);
        if (!b.ok()) {
          error = b.status();
          break;
        }
        if (*b == nullptr) {
          out_ << "null";
        } else {
          if (raw->object.kind == codec::ParcelObjectKind::kHandle) {
            out_ << "handle " << raw->object.handle;
          } else {
            out_ << "local object";
          }
          absl::StatusOr<std::u16string> d = (*b)->interfaceDescriptor();
          out_ << " [" << (d.ok() ? codec::utf16ToUtf8Lossy(*d) : std::string("?")) << "]";
        }
        break;
      }
      case ValueType::kFd: {
        absl::StatusOr<int> fd = rt::readFileDescriptor(reader);
        if (fd.ok()) {
          char target[512] = {};
          const std::string link = absl::StrCat("/proc/self/fd/", *fd);
          ssize_t n = ::readlink(link.c_str(), target, sizeof(target) - 1);
          out_ << "fd " << *fd << " -> " << (n > 0 ? std::string(target, n) : std::string("?"));
        }
        error = fd.status();
        break;
      }
    }
    out_ << (error.ok() ? "" : "<error>") << "\n";
    if (!error.ok()) {
      return absl::Status(error.code(), absl::StrCat("value [", i, "] ", valueTypeName(type), ": ",
                                                     error.message()));
    }
  }
  (void)parcel;
  if (reader.dataAvail() > 0) {
    out_ << "  (" << reader.dataAvail() << " more bytes)\n";
  }
  return absl::OkStatus();
}

int Ctl::call(const std::string& name, const std::vector<std::string>& call_args) {
  if (call_args.empty()) {
    return usage("call: missing CODE");
  }
  absl::StatusOr<uint32_t> code = parseCode(call_args[0]);
  if (!code.ok()) {
    return usage(absl::StrCat("call: bad CODE '", call_args[0], "'"));
  }
  // Options may also follow the arguments.
  std::vector<std::string> values;
  for (size_t i = 1; i < call_args.size(); ++i) {
    const std::string& a = call_args[i];
    if (a == "--oneway") {
      oneway_ = true;
    } else if (a == "--reply" && i + 1 < call_args.size()) {
      absl::StatusOr<std::vector<ValueType>> spec = parseReplySpec(call_args[++i]);
      if (!spec.ok()) {
        return usage(absl::StrCat("--reply: ", spec.status().message()));
      }
      reply_types_ = *spec;
    } else {
      values.push_back(a);
      // A value is never taken for an option: push the value of a typed argument now.
      if (a != "null" && i + 1 < call_args.size() &&
          (a == "i32" || a == "i64" || a == "f" || a == "d" || a == "bool" || a == "s16" ||
           a == "s8" || a == "fd" || a == "binder")) {
        values.push_back(call_args[++i]);
      }
    }
  }
  if (std::optional<Failure> f = connect(); f.has_value()) {
    return fail(f->code, f->message);
  }
  std::optional<Failure> failure;
  absl::StatusOr<std::shared_ptr<rt::IBinder>> binder = lookup(name, &failure);
  if (!binder.ok()) {
    return fail(failure->code, failure->message);
  }
  absl::StatusOr<std::u16string> descriptor = (*binder)->interfaceDescriptor();
  if (!descriptor.ok()) {
    return fail(kExitError, absl::StrCat("cannot get the interface descriptor of ", name, ": ",
                                         describe(descriptor.status())));
  }
  codec::ParcelWriter w;
  if (absl::Status s = codec::writeInterfaceToken(w, *descriptor,
                                                  rt::serviceManagerHeaderFormat(flags_.sm_layout));
      !s.ok()) {
    return fail(kExitError, absl::StrCat("interface token: ", s.message()));
  }
  std::vector<int> fds;
  std::optional<Failure> arg_failure = writeArgs(values, w, &fds);
  if (arg_failure.has_value()) {
    for (int fd : fds) {
      ::close(fd);
    }
    return fail(arg_failure->code, arg_failure->message);
  }
  absl::StatusOr<rt::ReceivedParcel> reply =
      (*binder)->transact(*code, w, oneway_ ? rt::kFlagOneway : 0);
  for (int fd : fds) {
    ::close(fd);
  }
  if (!reply.ok()) {
    return fail(kExitError,
                absl::StrCat("call ", name, " ", *code, " failed: ", describe(reply.status())));
  }
  if (oneway_) {
    out_ << "Result: oneway call sent\n";
    return kExitOk;
  }
  out_ << "Result: Parcel(" << hexDump(reply->data()) << ")\n";
  codec::ParcelReader reader = reply->reader();
  if (*code < rt::kFirstCallTransaction || *code > rt::kLastCallTransaction) {
    // System transactions (_PNG, _NTF, ...) reply without an AIDL Status.
    out_ << "Status: none (system transaction)\n";
    if (reply_types_.has_value()) {
      if (absl::Status s = decodeReply(reader, *reply); !s.ok()) {
        return fail(kExitError, absl::StrCat("reply does not match --reply: ", s.message()));
      }
    }
    return kExitOk;
  }
  absl::StatusOr<codec::AidlStatus> status = codec::readStatus(reader);
  if (!status.ok()) {
    out_ << "Status: not an AIDL reply (" << status.status().message() << ")\n";
    if (reply_types_.has_value()) {
      return fail(kExitError,
                  absl::StrCat("reply has no AIDL Status: ", status.status().message()));
    }
    return kExitOk;
  }
  if (!status->isOk()) {
    std::string line = absl::StrCat("exception ", status->exception_code, " (",
                                    exceptionName(status->exception_code), ")");
    if (status->exception_code == codec::kExServiceSpecific) {
      absl::StrAppend(&line, " error ", status->service_specific_error);
    }
    absl::StrAppend(&line, ": ", quoted(codec::utf16ToUtf8Lossy(status->message)));
    out_ << "Status: " << line << "\n";
    return fail(kExitError, absl::StrCat(name, " threw ", line));
  }
  out_ << "Status: ok\n";
  if (reply_types_.has_value()) {
    if (absl::Status s = decodeReply(reader, *reply); !s.ok()) {
      return fail(kExitError, absl::StrCat("reply does not match --reply: ", s.message()));
    }
  }
  return kExitOk;
}

int Ctl::dump(const std::string& what) {
  const rt::DeviceSpec spec = flags_.deviceSpec();
  if (spec.backend == rt::Backend::kKernel) {
    const std::string path = "/sys/kernel/debug/binder/" + what;
    std::ifstream in(path);
    if (!in) {
      return fail(kExitError, absl::StrCat("cannot read ", path, ": ", std::strerror(errno),
                                           " (is debugfs mounted and readable?)"));
    }
    out_ << in.rdbuf();
    return kExitOk;
  }
  namespace wire = nb::client::wire;
  wire::AdminKind kind = what == "state"   ? wire::AdminKind::kState
                         : what == "stats" ? wire::AdminKind::kStats
                                           : wire::AdminKind::kTransactions;
  // The socket the client library would connect to (binder_client.cc resolveSocketPath): a path
  // naming a socket is used as is, anything else names a device in $NETBINDER_DIR.
  std::string dir = nb::driver::io::defaultSocketDir();
  std::string device = spec.path;
  if (const size_t slash = spec.path.rfind('/'); slash != std::string::npos) {
    device = spec.path.substr(slash + 1);
    struct stat st {};
    if (::stat(spec.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) {
      dir = slash == 0 ? "/" : spec.path.substr(0, slash);
    }
  }
  std::ostringstream errors;
  const int rc = nb::driver::io::runDump(dir, kind, {device}, out_, errors);
  if (rc != 0) {
    std::string message = errors.str();
    if (message.rfind("binderd: ", 0) == 0) {
      message.erase(0, 9);
    }
    while (!message.empty() && message.back() == '\n') {
      message.pop_back();
    }
    return fail(kExitError, message.empty() ? "dump failed" : message);
  }
  return kExitOk;
}

int Ctl::main(std::vector<std::string> args) {
  absl::StatusOr<rt::CommonFlags> flags = rt::parseCommonFlags(args);
  if (!flags.ok()) {
    return usage(std::string(flags.status().message()));
  }
  flags_ = *flags;
  size_t i = 0;
  for (; i < args.size() && args[i].rfind("-", 0) == 0; ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "-?" || a == "--help") {
      out_ << kUsage << rt::commonFlagsUsage();
      return kExitOk;
    }
    if (a == "--oneway") {
      oneway_ = true;
    } else if (a == "--reply" || a.rfind("--reply=", 0) == 0) {
      std::string spec_text;
      if (a == "--reply") {
        if (i + 1 >= args.size()) {
          return usage("--reply needs a value");
        }
        spec_text = args[++i];
      } else {
        spec_text = a.substr(8);
      }
      absl::StatusOr<std::vector<ValueType>> spec = parseReplySpec(spec_text);
      if (!spec.ok()) {
        return usage(absl::StrCat("--reply: ", spec.status().message()));
      }
      reply_types_ = *spec;
    } else {
      return usage(absl::StrCat("unknown option ", a));
    }
  }
  if (i >= args.size()) {
    return usage("missing command");
  }
  const std::string command = args[i++];
  const std::vector<std::string> rest(args.begin() + static_cast<ptrdiff_t>(i), args.end());
  if (command == "state" || command == "stats" || command == "transactions") {
    if (!rest.empty()) {
      return usage(absl::StrCat(command, " takes no arguments"));
    }
    return dump(command);
  }
  if (command == "list") {
    if (!rest.empty()) {
      return usage("list takes no arguments");
    }
  } else if (command == "check" || command == "ping") {
    if (rest.size() != 1) {
      return usage(absl::StrCat(command, " needs exactly one NAME"));
    }
  } else if (command == "call") {
    if (rest.empty()) {
      return usage("call needs NAME CODE [ARG]...");
    }
    return call(rest[0], std::vector<std::string>(rest.begin() + 1, rest.end()));
  } else {
    return usage(absl::StrCat("unknown command '", command, "'"));
  }
  if (std::optional<Failure> f = connect(); f.has_value()) {
    return fail(f->code, f->message);
  }
  if (command == "list") {
    return list();
  }
  if (command == "check") {
    return check(rest[0]);
  }
  return ping(rest[0]);
}

}  // namespace

std::string hexDump(std::span<const uint8_t> data) {
  if (data.empty()) {
    return "NULL";
  }
  auto line = [&](size_t begin, size_t end, bool pad) {
    std::string s;
    char buf[16];
    size_t pos = begin;
    for (; pos + 4 <= end; pos += 4) {
      const uint32_t word =
          static_cast<uint32_t>(data[pos]) | static_cast<uint32_t>(data[pos + 1]) << 8 |
          static_cast<uint32_t>(data[pos + 2]) << 16 | static_cast<uint32_t>(data[pos + 3]) << 24;
      std::snprintf(buf, sizeof(buf), "%08x ", word);
      s += buf;
    }
    for (; pos < end; ++pos) {  // a trailing partial word (never in a libbinder parcel)
      std::snprintf(buf, sizeof(buf), "%02x", data[pos]);
      s += buf;
    }
    if (pad) {
      s.append((begin + 16 - std::min(end, begin + 16)) / 4 * 9, ' ');
    }
    s += '\'';
    for (size_t p = begin; p < end; ++p) {
      s += (data[p] >= 0x20 && data[p] < 0x7f) ? static_cast<char>(data[p]) : '.';
    }
    if (pad) {
      s.append(begin + 16 - end, ' ');
    }
    s += '\'';
    return s;
  };
  if (data.size() <= 16) {
    return line(0, data.size(), false);
  }
  std::string out;
  for (size_t begin = 0; begin < data.size(); begin += 16) {
    const size_t end = std::min(data.size(), begin + 16);
    char offset[24];
    std::snprintf(offset, sizeof(offset), "\n  0x%08zx: ", begin);
    out += offset;
    out += line(begin, end, true);
  }
  return out;
}

const char* valueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kI32:
      return "i32";
    case ValueType::kI64:
      return "i64";
    case ValueType::kF:
      return "f";
    case ValueType::kD:
      return "d";
    case ValueType::kBool:
      return "bool";
    case ValueType::kS16:
      return "s16";
    case ValueType::kS8:
      return "s8";
    case ValueType::kBinder:
      return "binder";
    case ValueType::kFd:
      return "fd";
  }
  return "?";
}

absl::StatusOr<std::vector<ValueType>> parseReplySpec(std::string_view spec) {
  static constexpr ValueType kAll[] = {ValueType::kI32, ValueType::kI64,    ValueType::kF,
                                       ValueType::kD,   ValueType::kBool,   ValueType::kS16,
                                       ValueType::kS8,  ValueType::kBinder, ValueType::kFd};
  std::vector<ValueType> out;
  std::vector<std::string> items;
  size_t start = 0;
  for (size_t comma; (comma = spec.find(',', start)) != std::string_view::npos; start = comma + 1) {
    items.emplace_back(spec.substr(start, comma - start));
  }
  items.emplace_back(spec.substr(start));
  for (const std::string& item : items) {
    bool found = false;
    for (ValueType t : kAll) {
      if (item == valueTypeName(t)) {
        out.push_back(t);
        found = true;
        break;
      }
    }
    if (!found) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown type '", item, "' (i32,i64,f,d,bool,s16,s8,binder,fd)"));
    }
  }
  return out;
}

absl::StatusOr<uint32_t> parseCode(std::string_view text) {
  if (text.size() == 4 && text[0] == '_') {
    return B_PACK_CHARS(text[0], text[1], text[2], text[3]);
  }
  long long v = 0;
  if (!parseInt(text, 0, UINT32_MAX, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad transaction code '", std::string(text), "'"));
  }
  return static_cast<uint32_t>(v);
}

int run(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Ctl ctl(out, err);
  const int rc = ctl.main(std::move(args));
  out.flush();
  return rc;
}

}  // namespace nb::binderctl
