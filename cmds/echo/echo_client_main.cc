// echo_client: exercises every method of the echo service (cmds/echo/echo_interface.h) and prints
// one line per check; exits 0 when all pass, 1 on any mismatch or failed call, 20 when the service
// cannot be found.
//
//   echo_client [--name NAME] [--timeout-ms N] [--oneway-count N] [--lookup-name NAME]
//               [--skip-fd] [common flags]
//
// Through a gateway the service may be registered under another name here than on its own host
// (bindergw --import-prefix): --lookup-name is the name its own servicemanager knows (default:
// --name). --skip-fd leaves out readFd.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "cmds/echo/echo_interface.h"
#include "runtime/device_flags.h"
#include "runtime/service_manager.h"

namespace {

namespace rt = nb::runtime;
namespace echo = nb::examples::echo;

int usage(std::ostream& os, int code) {
  os << "usage: echo_client [--name NAME] [--timeout-ms N] [--oneway-count N]\n"
        "                   [--lookup-name NAME] [--skip-fd] [common flags]\n"
     << rt::commonFlagsUsage();
  return code;
}

int failures = 0;

void check(bool ok, const std::string& what, const std::string& detail) {
  std::printf("%s: %s (%s)\n", what.c_str(), ok ? "ok" : "FAILED", detail.c_str());
  if (!ok) {
    ++failures;
  }
}

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

bool parseLong(const std::string& text, long* out) {
  char* end = nullptr;
  *out = std::strtol(text.c_str(), &end, 10);
  return !text.empty() && *end == '\0' && *out >= 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<rt::CommonFlags> flags = rt::parseCommonFlags(args);
  if (!flags.ok()) {
    std::cerr << "echo_client: " << flags.status().message() << "\n";
    return usage(std::cerr, 10);
  }
  std::string name = echo::kEchoServiceName;
  long timeout_ms = 10000;
  long oneway_count = 100;
  std::string lookup_name;
  bool skip_fd = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      return usage(std::cout, 0);
    }
    if (a == "--skip-fd") {
      skip_fd = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      std::cerr << "echo_client: unknown argument or missing value: " << a << "\n";
      return usage(std::cerr, 10);
    }
    if (a == "--name") {
      name = args[++i];
    } else if (a == "--lookup-name") {
      lookup_name = args[++i];
    } else if (a == "--timeout-ms" && parseLong(args[i + 1], &timeout_ms)) {
      ++i;
    } else if (a == "--oneway-count" && parseLong(args[i + 1], &oneway_count)) {
      ++i;
    } else {
      std::cerr << "echo_client: bad argument " << a << " " << args[i + 1] << "\n";
      return usage(std::cerr, 10);
    }
  }

  absl::StatusOr<std::shared_ptr<rt::ProcessState>> state =
      rt::ProcessState::open(flags->processOptions());
  if (!state.ok()) {
    std::cerr << "echo_client: cannot open " << flags->deviceSpec().toString() << ": "
              << state.status().message() << "\n";
    return 1;
  }
  (*state)->startThreadPool();
  const nb::codec::InterfaceHeaderFormat format = rt::serviceManagerHeaderFormat(flags->sm_layout);
  rt::ServiceManager sm(*state, flags->sm_layout);
  absl::StatusOr<std::shared_ptr<rt::IBinder>> binder =
      sm.waitForService(name, std::chrono::milliseconds(timeout_ms));
  if (!binder.ok() || *binder == nullptr) {
    std::cerr << "echo_client: service " << name
              << " not found: " << (binder.ok() ? "null" : std::string(binder.status().message()))
              << "\n";
    (*state)->shutdown();
    return 20;
  }
  echo::EchoProxy proxy(*binder, format);

  // 1. echo(String)
  for (const std::string& text :
       {std::string("hello"), std::string("h\xc3\xa9llo \xe2\x9c\x93"), std::string()}) {
    absl::StatusOr<std::string> got = proxy.echo(text);
    check(got.ok() && *got == text, "echo",
          got.ok() ? quoted(*got) : std::string(got.status().ToString()));
  }

  // 2. callBack(IEchoCallback, String): the service calls back into this process while this
  //    thread waits for its reply; the runtime runs the nested call on this same thread.
  auto cb = std::make_shared<echo::EchoCallback>(u"cb:", format);
  absl::StatusOr<std::string> answer = proxy.callBack(cb, "ping");
  check(answer.ok() && *answer == "cb:ping" && cb->calls() == 1, "callBack",
        answer.ok() ? quoted(*answer) + ", callback calls " + std::to_string(cb->calls()) +
                          (cb->lastThread() == ::gettid() ? ", on the calling thread"
                                                          : ", on another thread")
                    : std::string(answer.status().ToString()));
  absl::StatusOr<std::string> null_cb = proxy.callBack(nullptr, "x");
  check(!null_cb.ok() && absl::IsInvalidArgument(null_cb.status()), "callBack(null)",
        null_cb.ok() ? "no exception" : std::string(null_cb.status().message()));

  // 3./4. one-way record(int) in order, observed through getRecorded().
  absl::StatusOr<std::vector<int32_t>> before = proxy.getRecorded();
  check(before.ok(), "getRecorded",
        before.ok() ? std::to_string(before->size()) + " recorded"
                    : std::string(before.status().ToString()));
  if (before.ok()) {
    const size_t base = before->size();
    bool sent = true;
    for (long i = 0; i < oneway_count && sent; ++i) {
      absl::Status s = proxy.record(static_cast<int32_t>(1000 + i));
      if (!s.ok()) {
        check(false, "record", s.ToString());
        sent = false;
      }
    }
    // A sync call may overtake the last one-way still executing: poll until all have landed.
    absl::StatusOr<std::vector<int32_t>> after;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    do {
      after = proxy.getRecorded();
      if (!after.ok() || after->size() >= base + static_cast<size_t>(oneway_count)) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } while (std::chrono::steady_clock::now() < deadline);
    bool in_order = sent && after.ok() && after->size() == base + static_cast<size_t>(oneway_count);
    for (long i = 0; in_order && i < oneway_count; ++i) {
      in_order = (*after)[base + static_cast<size_t>(i)] == 1000 + i;
    }
    check(in_order, "record (oneway)",
          after.ok() ? std::to_string(oneway_count) + " sent, " +
                           std::to_string(after->size() - std::min(after->size(), base)) +
                           " recorded" + (in_order ? " in order" : "")
                     : std::string(after.status().ToString()));
  }

  // 5. readFd(FileDescriptor)
  if (!skip_fd) {
    const std::string content = "netbinder echo fd test\n";
    int fd = ::memfd_create("echo_client", MFD_CLOEXEC);
    bool written = fd >= 0 && ::write(fd, content.data(), content.size()) ==
                                  static_cast<ssize_t>(content.size());
    absl::StatusOr<std::vector<uint8_t>> got = absl::InternalError("memfd failed");
    if (written) {
      got = proxy.readFd(fd);
    }
    if (fd >= 0) {
      ::close(fd);
    }
    std::string text = got.ok() ? std::string(got->begin(), got->end()) : std::string();
    check(got.ok() && text == content, "readFd",
          got.ok() ? std::to_string(got->size()) + " bytes" : std::string(got.status().ToString()));
  }

  // 6. fail(int, String): a ServiceSpecificException travels back in the Status.
  {
    absl::Status s = proxy.fail(42, "expected failure");
    const std::string msg(s.message());
    check(!s.ok() && msg.find("42") != std::string::npos &&
              msg.find("expected failure") != std::string::npos,
          "fail (service-specific)", s.ok() ? "no exception" : msg);
  }

  // 7. lookup(String): the service's own service manager answers; the binder comes back to us
  //    (here: the service itself, looked up by its name) and is called. An absent name is null.
  {
    absl::StatusOr<std::shared_ptr<rt::IBinder>> found =
        proxy.lookup(lookup_name.empty() ? name : lookup_name);
    absl::StatusOr<std::string> via = absl::InternalError("no binder");
    if (found.ok() && *found != nullptr) {
      via = echo::EchoProxy(*found, format).echo("via lookup");
    }
    check(via.ok() && *via == "via lookup", "lookup",
          !found.ok() ? std::string(found.status().ToString())
          : via.ok()  ? quoted(*via)
                      : std::string(via.status().ToString()));
    absl::StatusOr<std::shared_ptr<rt::IBinder>> absent = proxy.lookup("echo_client.no.such");
    check(absent.ok() && *absent == nullptr, "lookup(absent)",
          absent.ok() ? (*absent == nullptr ? "null" : "a binder")
                      : std::string(absent.status().ToString()));
  }

  (*state)->shutdown();
  std::printf("echo_client: %s\n", failures == 0
                                       ? "all checks passed"
                                       : (std::to_string(failures) + " checks failed").c_str());
  return failures == 0 ? 0 : 1;
}
