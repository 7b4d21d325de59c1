#include "agent/sentry/mhd_library.h"

#include <dlfcn.h>

#include <string>

namespace rollgate::agent::sentry {
namespace {

constexpr const char* kLibrary = "libmicrohttpd.so.12";

Result<MhdLibrary> open() {
  void* handle = ::dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return makeError(std::string("cannot load ") + kLibrary + " for the Sentry endpoint: " +
                     (why != nullptr ? why : "unknown error") + " (install libmicrohttpd12)");
  }
  MhdLibrary lib{};
  std::string missing;
  auto bind = [&](auto& slot, const char* name) {
    void* symbol = ::dlsym(handle, name);
    if (symbol == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(symbol);
  };
  bind(lib.startDaemon, "MHD_start_daemon");
  bind(lib.stopDaemon, "MHD_stop_daemon");
  bind(lib.run, "MHD_run");
  bind(lib.getTimeout, "MHD_get_timeout");
  bind(lib.getDaemonInfo, "MHD_get_daemon_info");
  bind(lib.lookupConnectionValue, "MHD_lookup_connection_value");
  bind(lib.createResponseFromBuffer, "MHD_create_response_from_buffer");
  bind(lib.addResponseHeader, "MHD_add_response_header");
  bind(lib.queueResponse, "MHD_queue_response");
  bind(lib.destroyResponse, "MHD_destroy_response");
  if (!missing.empty()) {
    return makeError(std::string(kLibrary) + " lacks " + missing + " (expected libmicrohttpd 0.9.75)");
  }
  return lib;  // the handle stays open for the process's life
}

}  // namespace

Result<const MhdLibrary*> MhdLibrary::load() {
  static const Result<MhdLibrary> loaded = open();  // once, thread-safe
  if (!loaded) return loaded.error();
  return &loaded.value();
}

}  // namespace rollgate::agent::sentry
