// libmicrohttpd, loaded at run time (dlopen) the first time a service configures a Sentry
// endpoint, so that an agent without one never maps it. libmicrohttpd needs GnuTLS and eight more
// libraries: a program that only prints its VmRSS measures 1.4 MB plain and 4.3 MB linked with
// -lmicrohttpd. Today's agent already maps GnuTLS through libcurl (LDAP), where libmicrohttpd
// adds only about 0.2 MB (7.3 MB -> 7.5 MB, -lcurl versus -lcurl -lmicrohttpd); loading it lazily
// keeps the 2.9 MB out of the agent should libcurl go. The function pointers have the header's
// own types, so calls are type-checked.
// Thread-safety: load() may be called from any thread; the table is immutable once loaded.
#pragma once

#include <microhttpd.h>

#include "common/result.h"

namespace rollgate::agent::sentry {

struct MhdLibrary {
  decltype(&MHD_start_daemon) startDaemon;
  decltype(&MHD_stop_daemon) stopDaemon;
  decltype(&MHD_run) run;
  decltype(&MHD_get_timeout) getTimeout;
  decltype(&MHD_get_daemon_info) getDaemonInfo;
  decltype(&MHD_lookup_connection_value) lookupConnectionValue;
  decltype(&MHD_create_response_from_buffer) createResponseFromBuffer;
  decltype(&MHD_add_response_header) addResponseHeader;
  decltype(&MHD_queue_response) queueResponse;
  decltype(&MHD_destroy_response) destroyResponse;

  // Loads libmicrohttpd.so.12 once (it stays loaded); fails naming the library or the symbol
  // (install libmicrohttpd12).
  static Result<const MhdLibrary*> load();
};

}  // namespace rollgate::agent::sentry
