// Registry unit tests with plain millisecond values (no clock): hello records a host under its
// key's name, contact only counts from the connection that said hello, health follows the host
// timeout, expire() disconnects silent hosts once, and hosts loaded from the store stay
// disconnected until they say hello again.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "coordinator/registry.h"

namespace rollgate::coordinator {
namespace {

constexpr std::uint64_t kTimeoutMillis = 15'000;
constexpr std::uint64_t kT0 = 1'763'700'000'000ull;

Hello helloFrom(const std::string& claimedHost, const std::string& region,
                const std::string& cluster) {
  return Hello{claimedHost, region, cluster, "0.1.0",
               {ServiceRelease{"web", "1.4.2", {"1.4.2", "1.4.1"}}}, kT0 - 5000, CommandRef{}};
}

TEST_CASE("hello records the host under its key's name with the facts it reported") {
  Registry registry(kTimeoutMillis);
  CHECK(registry.list(kT0).empty());
  const HostInfo& info = registry.onHello("web-eu-1", helloFrom("imposter", "eu-west", "eu-west-a"),
                                          "conn-1", kT0);
  CHECK(info.name == "web-eu-1");           // the key's name, not the claimed one
  CHECK(info.claimedHost == "imposter");    // recorded only to warn
  CHECK(info.region == "eu-west");
  CHECK(info.cluster == "eu-west-a");
  CHECK(info.agentVersion == "0.1.0");
  REQUIRE(info.services.size() == 1);
  CHECK(info.services[0].activeRelease == "1.4.2");

  auto found = registry.find("web-eu-1", kT0 + 1);
  REQUIRE(found.has_value());
  CHECK(found->connected);
  CHECK(found->healthy);
  CHECK(found->lastContactMillis == kT0);
  CHECK_FALSE(registry.find("imposter", kT0).has_value());
  CHECK(registry.routingIdOf("web-eu-1") == std::optional<std::string>("conn-1"));
}

TEST_CASE("contact updates last contact and services only from the connection that said hello") {
  Registry registry(kTimeoutMillis);
  registry.onHello("web-eu-1", helloFrom("web-eu-1", "eu", "eu-a"), "conn-1", kT0);

  std::vector<ServiceRelease> updated{ServiceRelease{"web", "1.5.0", {"1.5.0", "1.4.2"}}};
  CHECK(registry.onContact("web-eu-1", "conn-1", kT0 + 5000, &updated));
  auto host = registry.find("web-eu-1", kT0 + 5000);
  REQUIRE(host.has_value());
  CHECK(host->lastContactMillis == kT0 + 5000);
  CHECK(host->services == updated);

  // Another connection (a reconnect that has not said hello, or another process with the key).
  std::vector<ServiceRelease> other{ServiceRelease{"web", "6.6.6", {}}};
  CHECK_FALSE(registry.onContact("web-eu-1", "conn-2", kT0 + 6000, &other));
  host = registry.find("web-eu-1", kT0 + 6000);
  CHECK(host->lastContactMillis == kT0 + 5000);
  CHECK(host->services == updated);

  // An unknown host.
  CHECK_FALSE(registry.onContact("web-eu-9", "conn-9", kT0, nullptr));
  CHECK_FALSE(registry.find("web-eu-9", kT0).has_value());

  // A new hello moves the host to the new connection; the old one is no longer accepted.
  registry.onHello("web-eu-1", helloFrom("web-eu-1", "eu", "eu-a"), "conn-2", kT0 + 7000);
  CHECK(registry.routingIdOf("web-eu-1") == std::optional<std::string>("conn-2"));
  CHECK_FALSE(registry.onContact("web-eu-1", "conn-1", kT0 + 8000, nullptr));
  CHECK(registry.onContact("web-eu-1", "conn-2", kT0 + 8000, nullptr));
  // Contact without services keeps the services from the hello.
  CHECK(registry.find("web-eu-1", kT0 + 8000)->services == helloFrom("", "", "").services);
}

TEST_CASE("a host turns unhealthy once silent for longer than the timeout") {
  Registry registry(kTimeoutMillis);
  registry.onHello("web-eu-1", helloFrom("web-eu-1", "eu", "eu-a"), "conn-1", kT0);
  CHECK(registry.find("web-eu-1", kT0 + kTimeoutMillis)->healthy);  // exactly the timeout: still ok
  auto late = registry.find("web-eu-1", kT0 + kTimeoutMillis + 1);
  CHECK_FALSE(late->healthy);
  CHECK_FALSE(late->connected);
  // A heartbeat brings it back.
  CHECK(registry.onContact("web-eu-1", "conn-1", kT0 + 20'000, nullptr));
  CHECK(registry.find("web-eu-1", kT0 + 20'001)->healthy);
  // A clock that stepped backwards does not mark a host unhealthy.
  CHECK(registry.find("web-eu-1", kT0)->healthy);
  // list() agrees with find().
  auto hosts = registry.list(kT0 + 20'000 + kTimeoutMillis + 1);
  REQUIRE(hosts.size() == 1);
  CHECK_FALSE(hosts[0].healthy);
}

TEST_CASE("expire() reports silent hosts once; a silent host that speaks again is healthy again") {
  Registry registry(kTimeoutMillis);
  registry.onHello("quiet", helloFrom("quiet", "eu", "eu-a"), "conn-q", kT0);
  registry.onHello("chatty", helloFrom("chatty", "eu", "eu-a"), "conn-c", kT0);
  CHECK(registry.expire(kT0 + kTimeoutMillis).empty());
  CHECK(registry.onContact("chatty", "conn-c", kT0 + 10'000, nullptr));

  auto expired = registry.expire(kT0 + kTimeoutMillis + 1);
  CHECK(expired == std::vector<std::string>{"quiet"});
  CHECK(registry.expire(kT0 + kTimeoutMillis + 2).empty());  // reported once
  auto quiet = registry.find("quiet", kT0 + kTimeoutMillis + 2);
  REQUIRE(quiet.has_value());  // still listed, as unhealthy
  CHECK_FALSE(quiet->connected);
  CHECK_FALSE(quiet->healthy);
  // A partitioned host keeps its connection; when it speaks again on it, it counts at once...
  CHECK(registry.onContact("quiet", "conn-q", kT0 + 16'000, nullptr));
  CHECK(registry.find("quiet", kT0 + 16'000)->healthy);
  // ...and can be reported silent again later.
  CHECK(registry.expire(kT0 + 16'000 + kTimeoutMillis + 1) ==
        std::vector<std::string>{"chatty", "quiet"});
  // Another connection must say hello first.
  CHECK_FALSE(registry.onContact("quiet", "conn-other", kT0 + 40'000, nullptr));
  registry.onHello("quiet", helloFrom("quiet", "eu", "eu-a"), "conn-q2", kT0 + 41'000);
  CHECK(registry.find("quiet", kT0 + 41'000)->healthy);
}

TEST_CASE("hosts loaded from the store stay disconnected until they say hello") {
  HostInfo stored{"web-eu-1", "eu-west", "eu-west-a", "0.1.0",
                  {ServiceRelease{"web", "1.4.2", {"1.4.2"}}}, kT0 - 60'000,
                  true, true, "web-eu-1", {}};  // saved while connected
  Registry registry(kTimeoutMillis);
  registry.load({stored});
  auto host = registry.find("web-eu-1", kT0 - 60'000);  // even "right after" its last contact
  REQUIRE(host.has_value());
  CHECK_FALSE(host->connected);
  CHECK_FALSE(host->healthy);
  CHECK(host->region == "eu-west");
  CHECK(host->services == stored.services);
  CHECK(host->lastContactMillis == stored.lastContactMillis);
  CHECK_FALSE(registry.routingIdOf("web-eu-1").has_value());
  CHECK_FALSE(registry.onContact("web-eu-1", "conn-1", kT0, nullptr));  // must say hello first
  CHECK(registry.expire(kT0 + 10 * kTimeoutMillis).empty());

  registry.onHello("web-eu-1", helloFrom("web-eu-1", "eu-west", "eu-west-b"), "conn-1", kT0);
  host = registry.find("web-eu-1", kT0);
  CHECK(host->connected);
  CHECK(host->healthy);
  CHECK(host->cluster == "eu-west-b");
}

TEST_CASE("remove() forgets a revoked host") {
  Registry registry(kTimeoutMillis);
  registry.onHello("web-eu-1", helloFrom("web-eu-1", "eu", "eu-a"), "conn-1", kT0);
  registry.onHello("web-eu-2", helloFrom("web-eu-2", "eu", "eu-a"), "conn-2", kT0);
  registry.remove("web-eu-1");
  CHECK_FALSE(registry.find("web-eu-1", kT0).has_value());
  CHECK_FALSE(registry.onContact("web-eu-1", "conn-1", kT0, nullptr));
  CHECK_FALSE(registry.routingIdOf("web-eu-1").has_value());
  auto hosts = registry.list(kT0);
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0].name == "web-eu-2");
}

TEST_CASE("a host's address is the one its latest message came from, once it said hello") {
  Registry registry(kTimeoutMillis);
  registry.setAddress("web-eu-1", "10.0.0.7");  // no hello yet: not recorded
  CHECK(registry.addressOf("web-eu-1").empty());
  registry.onHello("web-eu-1", helloFrom("web-eu-1", "eu-west", "eu-west-a"), "conn-1", kT0);
  CHECK(registry.addressOf("web-eu-1").empty());
  registry.setAddress("web-eu-1", "10.0.0.7");
  CHECK(registry.addressOf("web-eu-1") == "10.0.0.7");
  registry.setAddress("web-eu-1", "");  // an ipc:// message says nothing: the address stays
  CHECK(registry.addressOf("web-eu-1") == "10.0.0.7");
  registry.setAddress("web-eu-1", "10.0.0.8");
  CHECK(registry.addressOf("web-eu-1") == "10.0.0.8");
  CHECK(registry.addressOf("nobody").empty());
}

TEST_CASE("after a stall of the coordinator, silence counts from its end; a silent host stays so") {
  Registry registry(kTimeoutMillis);
  registry.onHello("busy", helloFrom("busy", "eu", "eu-a"), "conn-b", kT0);
  registry.onHello("gone", helloFrom("gone", "eu", "eu-a"), "conn-g", kT0);
  CHECK(registry.onContact("busy", "conn-b", kT0 + 20'000, nullptr));
  CHECK(registry.expire(kT0 + 20'000) == std::vector<std::string>{"gone"});
  // The coordinator's loop stops for 25 s after busy's last message; nothing was read meanwhile.
  const std::uint64_t end = kT0 + 45'000;
  registry.excuseUntil(end);
  CHECK(registry.expire(end).empty());
  CHECK(registry.isHealthy("busy", end + kTimeoutMillis));
  CHECK(registry.find("busy", end)->connected);
  CHECK(registry.find("busy", end)->lastContactMillis == kT0 + 20'000);  // the true last contact
  CHECK_FALSE(registry.isHealthy("gone", end));  // silent before the stall: not excused
  CHECK_FALSE(registry.find("gone", end)->connected);
  // A host still silent a full timeout after the stall is reported.
  CHECK(registry.expire(end + kTimeoutMillis + 1) == std::vector<std::string>{"busy"});
}

}  // namespace
}  // namespace rollgate::coordinator
