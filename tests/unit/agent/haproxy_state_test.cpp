// HAProxy runtime API answers (recorded from HAProxy 2.6) parsed into a server's sessions, status,
// admin state and weights; a missing server or a malformed answer is an error naming the server.
#include "agent/lb/haproxy_state.h"

#include <doctest/doctest.h>

#include "agent/lb/haproxy_runtime.h"

namespace rollgate::lb {
namespace {

const std::string kStat =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,act,bck\n"
    "fe,FRONTEND,,,3,9,262,100,1,2,0,0,0,,,,,OPEN,,,\n"
    "web,h1,0,0,2,5,,50,1,2,,0,,0,0,0,0,UP,1,1,0\n"
    "web,h2,0,0,0,5,,50,1,2,,0,,0,0,0,0,DOWN 1/2,50,1,0\n"
    "web,BACKEND,0,0,2,5,26,100,1,2,0,0,,0,0,0,0,UP,51,2,0\n\n";

const std::string kState =
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
    "3 web 1 h1 127.0.0.1 2 8 1 1 0 8 2 0 6 0 0 0 - 18001 - 0 0 - - 0\n"
    "3 web 2 h2 127.0.0.1 0 0 25 50 1 8 2 0 6 0 0 0 - 18002 - 0 0 - - 0\n\n";

TEST_CASE("show stat: a server's current sessions, status and weight") {
  auto h1 = parseServerStat(kStat, "web", "h1");
  REQUIRE(h1.ok());
  CHECK(h1->currentSessions == 2);
  CHECK(h1->status == "UP");
  CHECK(h1->weight == 1);
  auto h2 = parseServerStat(kStat, "web", "h2");
  REQUIRE(h2.ok());
  CHECK(h2->currentSessions == 0);
  CHECK(h2->status == "DOWN 1/2");
  CHECK(h2->weight == 50);
}

TEST_CASE("show stat: an unknown server or a non-CSV answer is an error naming it") {
  auto missing = parseServerStat(kStat, "web", "h9");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("web/h9") != std::string::npos);
  auto other = parseServerStat("Permission denied\n", "web", "h1");
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().message.find("Permission denied") != std::string::npos);
  auto garbled =
      parseServerStat("# pxname,svname,scur,status,weight\nweb,h1,x,UP,1\n", "web", "h1");
  REQUIRE_FALSE(garbled.ok());
  CHECK(garbled.error().message.find("\"x\"") != std::string::npos);
}

TEST_CASE("show stat: every server of a backend, without its BACKEND row") {
  auto servers = parseBackendServerStats(kStat, "web");
  REQUIRE(servers.ok());
  REQUIRE(servers->size() == 2);
  CHECK((*servers)[0].name == "h1");
  CHECK((*servers)[0].stat.status == "UP");
  CHECK((*servers)[1].name == "h2");
  CHECK((*servers)[1].stat.weight == 50);
  auto none = parseBackendServerStats(kStat, "api");
  REQUIRE(none.ok());
  CHECK(none->empty());
  auto other = parseBackendServerStats("Permission denied\n", "web");
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().message.find("Permission denied") != std::string::npos);
}

TEST_CASE("a server takes new requests when UP or unchecked, not when drained, down or in maint") {
  CHECK(statusServesNewRequests("UP"));
  CHECK(statusServesNewRequests("UP 1/2"));
  CHECK(statusServesNewRequests("no check"));
  CHECK_FALSE(statusServesNewRequests("DRAIN"));
  CHECK_FALSE(statusServesNewRequests("DOWN"));
  CHECK_FALSE(statusServesNewRequests("DOWN 1/2"));
  CHECK_FALSE(statusServesNewRequests("MAINT"));
}

TEST_CASE("show servers state: operational and admin state, weights") {
  auto h1 = parseServerState(kState, "web", "h1");
  REQUIRE(h1.ok());
  CHECK(h1->operationalState == 2);
  CHECK(h1->adminState == kAdminForcedDrain);
  CHECK(h1->userWeight == 1);
  auto h2 = parseServerState(kState, "web", "h2");
  REQUIRE(h2.ok());
  CHECK(h2->adminState == 0);
  CHECK(h2->userWeight == 25);
  CHECK(h2->initialWeight == 50);
  auto missing = parseServerState(kState, "web", "nope");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("web/nope") != std::string::npos);
  auto backend = parseServerState("Can't find backend.\n\n", "api", "h1");
  REQUIRE_FALSE(backend.ok());
  CHECK(backend.error().message.find("Can't find backend.") != std::string::npos);
}

TEST_CASE("which check statuses let traffic reach a server") {
  CHECK(statusTakesTraffic("UP"));
  CHECK(statusTakesTraffic("UP 1/3"));
  CHECK(statusTakesTraffic("no check"));
  CHECK_FALSE(statusTakesTraffic("DOWN"));
  CHECK_FALSE(statusTakesTraffic("DOWN 1/2"));
  CHECK_FALSE(statusTakesTraffic("MAINT"));
}

TEST_CASE("runtime addresses: a socket path or HOST:PORT, anything else named") {
  auto unixSocket = parseRuntimeAddress("/run/haproxy/admin.sock");
  REQUIRE(unixSocket.ok());
  CHECK(unixSocket->isUnix);
  CHECK(unixSocket->path == "/run/haproxy/admin.sock");
  CHECK(parseRuntimeAddress("unix:/tmp/h.sock")->path == "/tmp/h.sock");
  auto tcp = parseRuntimeAddress("tcp://127.0.0.1:9999");
  REQUIRE(tcp.ok());
  CHECK_FALSE(tcp->isUnix);
  CHECK(tcp->host == "127.0.0.1");
  CHECK(tcp->port == "9999");
  CHECK(parseRuntimeAddress("[::1]:9999")->host == "::1");
  auto bad = parseRuntimeAddress("haproxy.sock");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("\"haproxy.sock\"") != std::string::npos);
  auto longPath = parseRuntimeAddress("/" + std::string(200, 'x'));
  REQUIRE_FALSE(longPath.ok());
  CHECK(longPath.error().message.find("longer than") != std::string::npos);
}

}  // namespace
}  // namespace rollgate::lb
