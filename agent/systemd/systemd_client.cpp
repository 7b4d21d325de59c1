#include "agent/systemd/systemd_client.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/sys/error.h"

extern char** environ;

namespace rollgate::systemd {
namespace {

constexpr const char* kDestination = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManagerInterface = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnitInterface = "org.freedesktop.systemd1.Unit";
constexpr const char* kServiceInterface = "org.freedesktop.systemd1.Service";
constexpr std::uint64_t kChildPollMillis = 10;

struct BusError {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  ~BusError() { sd_bus_error_free(&error); }
  std::string text(int rc) const {
    if (error.message) return std::string(error.name ? error.name : "") + ": " + error.message;
    return sys::errnoMessage(-rc);
  }
};

struct MessageDeleter {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using Message = std::unique_ptr<sd_bus_message, MessageDeleter>;

struct SlotDeleter {
  void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using Slot = std::unique_ptr<sd_bus_slot, SlotDeleter>;

struct JobWait {
  std::string jobPath;
  std::vector<std::pair<std::string, std::string>> removed;  // path, result
};

int onJobRemoved(sd_bus_message* message, void* user, sd_bus_error*) {
  auto* wait = static_cast<JobWait*>(user);
  uint32_t id = 0;
  const char* path = nullptr;
  const char* unit = nullptr;
  const char* result = nullptr;
  if (sd_bus_message_read(message, "uoss", &id, &path, &unit, &result) >= 0) {
    wait->removed.emplace_back(path, result);
  }
  return 0;
}

}  // namespace

void SystemdClient::BusDeleter::operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }

SystemdClient::SystemdClient(sd_bus* bus, const Clock* clock)
    : bus_(bus), clock_(clock != nullptr ? *clock : systemClock_) {}
SystemdClient::~SystemdClient() = default;

Result<std::unique_ptr<SystemdClient>> SystemdClient::connect(
    const SystemdClientOptions& options) {
  sd_bus* bus = nullptr;
  int rc = 0;
  std::string what;
  if (!options.address.empty()) {
    what = "D-Bus at " + options.address;
    rc = sd_bus_new(&bus);
    if (rc >= 0) rc = sd_bus_set_address(bus, options.address.c_str());
    if (rc >= 0) rc = sd_bus_set_bus_client(bus, 1);
    if (rc >= 0) rc = sd_bus_start(bus);
    if (rc < 0 && bus) {
      sd_bus_unref(bus);
      bus = nullptr;
    }
  } else if (options.bus == BusKind::kUser) {
    what = "user D-Bus";
    rc = sd_bus_open_user(&bus);
  } else {
    what = "system D-Bus";
    rc = sd_bus_open_system(&bus);
  }
  if (rc < 0) return makeError("systemd: cannot connect to " + what + ": " + sys::errnoMessage(-rc));
  return std::unique_ptr<SystemdClient>(new SystemdClient(bus, options.clock));
}

Result<std::string> SystemdClient::unitPath(const std::string& unit) {
  BusError error;
  sd_bus_message* reply = nullptr;
  int rc = sd_bus_call_method(bus_.get(), kDestination, kManagerPath, kManagerInterface,
                              "LoadUnit", &error.error, &reply, "s", unit.c_str());
  if (rc < 0) return makeError("systemd: unit " + unit + ": LoadUnit: " + error.text(rc));
  Message owned(reply);
  const char* path = nullptr;
  rc = sd_bus_message_read(reply, "o", &path);
  if (rc < 0) return makeError("systemd: unit " + unit + ": bad LoadUnit reply");
  return std::string(path);
}

Result<std::string> SystemdClient::restartUnit(const std::string& unit,
                                               std::chrono::milliseconds timeout) {
  JobWait wait;
  sd_bus_slot* rawSlot = nullptr;
  int rc = sd_bus_match_signal(bus_.get(), &rawSlot, kDestination, kManagerPath,
                               kManagerInterface, "JobRemoved", onJobRemoved, &wait);
  if (rc < 0) return makeError("systemd: subscribe to JobRemoved: " + sys::errnoMessage(-rc));
  Slot slot(rawSlot);
  if (!subscribed_) {
    BusError error;
    rc = sd_bus_call_method(bus_.get(), kDestination, kManagerPath, kManagerInterface,
                            "Subscribe", &error.error, nullptr, "");
    if (rc < 0) return makeError("systemd: Subscribe: " + error.text(rc));
    subscribed_ = true;
  }
  BusError error;
  sd_bus_message* reply = nullptr;
  rc = sd_bus_call_method(bus_.get(), kDestination, kManagerPath, kManagerInterface,
                          "RestartUnit", &error.error, &reply, "ss", unit.c_str(), "replace");
  if (rc < 0) return makeError("systemd: restart " + unit + ": " + error.text(rc));
  Message owned(reply);
  const char* job = nullptr;
  if (sd_bus_message_read(reply, "o", &job) < 0) {
    return makeError("systemd: restart " + unit + ": bad RestartUnit reply");
  }
  wait.jobPath = job;
  const std::uint64_t deadline = clock_.steadyMillis() + static_cast<std::uint64_t>(timeout.count());
  for (;;) {
    for (const auto& [path, result] : wait.removed) {
      if (path == wait.jobPath) return result;
    }
    rc = sd_bus_process(bus_.get(), nullptr);
    if (rc < 0) return makeError("systemd: restart " + unit + ": bus: " + sys::errnoMessage(-rc));
    if (rc > 0) continue;
    const std::uint64_t now = clock_.steadyMillis();
    if (now >= deadline) {
      return std::string("timeout");  // the job is still queued or running
    }
    rc = sd_bus_wait(bus_.get(), (deadline - now) * 1000);  // microseconds
    if (rc < 0 && rc != -EINTR) {
      return makeError("systemd: restart " + unit + ": bus wait: " + sys::errnoMessage(-rc));
    }
  }
}

Result<UnitStatus> SystemdClient::unitStatus(const std::string& unit) {
  auto path = unitPath(unit);
  if (!path) return path.error();
  UnitStatus status;
  auto getString = [&](const char* interface, const char* name, std::string& out) -> Status {
    BusError error;
    char* value = nullptr;
    int rc = sd_bus_get_property_string(bus_.get(), kDestination, path->c_str(), interface, name,
                                        &error.error, &value);
    if (rc < 0) return makeError("systemd: unit " + unit + ": " + name + ": " + error.text(rc));
    out = value;
    free(value);
    return {};
  };
  auto getTrivial = [&](const char* interface, const char* name, char type,
                        void* out) -> Status {
    BusError error;
    int rc = sd_bus_get_property_trivial(bus_.get(), kDestination, path->c_str(), interface,
                                         name, &error.error, type, out);
    if (rc < 0) return makeError("systemd: unit " + unit + ": " + name + ": " + error.text(rc));
    return {};
  };
  if (auto s = getString(kUnitInterface, "ActiveState", status.activeState); !s) return s.error();
  if (auto s = getString(kUnitInterface, "SubState", status.subState); !s) return s.error();
  if (unit.ends_with(".service")) {
    uint64_t cpu = 0, memory = 0;
    if (auto s = getTrivial(kServiceInterface, "MainPID", 'u', &status.mainPid); !s)
      return s.error();
    if (auto s = getTrivial(kServiceInterface, "CPUUsageNSec", 't', &cpu); !s) return s.error();
    if (auto s = getTrivial(kServiceInterface, "MemoryCurrent", 't', &memory); !s)
      return s.error();
    if (auto s = getTrivial(kServiceInterface, "NRestarts", 'u', &status.nRestarts); !s)
      return s.error();
    // Optional: without it the agent falls back to /proc for CPU and memory.
    if (!getString(kServiceInterface, "ControlGroup", status.controlGroup)) {
      status.controlGroup.clear();
    }
    if (cpu != UINT64_MAX) status.cpuUsageNSec = cpu;
    if (memory != UINT64_MAX) status.memoryCurrentBytes = memory;
  }
  return status;
}

Status SystemdClient::reload() {
  BusError error;
  int rc = sd_bus_call_method(bus_.get(), kDestination, kManagerPath, kManagerInterface,
                              "Reload", &error.error, nullptr, "");
  if (rc < 0) return makeError("systemd: daemon-reload: " + error.text(rc));
  return {};
}

Result<std::string> CommandServiceManager::restartUnit(const std::string&,
                                                       std::chrono::milliseconds timeout) {
  if (argv_.empty()) return makeError("restart command: empty");
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) return makeError("restart command " + argv_[0] + ": " + sys::errnoMessage(rc));
  const std::uint64_t deadline = clock_.steadyMillis() + static_cast<std::uint64_t>(timeout.count());
  for (;;) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      return std::string(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "done" : "failed");
    }
    if (done < 0 && errno != EINTR) {
      return makeError("restart command " + argv_[0] + ": waitpid: " + sys::errnoMessage(errno));
    }
    if (clock_.steadyMillis() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return std::string("timeout");
    }
    clock_.sleepMillis(kChildPollMillis);
  }
}

Result<UnitStatus> CommandServiceManager::unitStatus(const std::string& unit) {
  return makeError("unit " + unit + ": status unavailable (restart command mode, no systemd)");
}

}  // namespace rollgate::systemd
