// Tests of courieresmtpd's configuration: environment, vhost, greeting, limits.
#include <doctest/doctest.h>
#include <cstdlib>
#include <map>
#include <unistd.h>
#include "esmtp/smtpd_config.h"
#include "lib/fileio.h"

namespace {
struct TempConfig {
    std::string dir;
    TempConfig() {
        char tmpl[] = "/tmp/esmtpd-config-test.XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
    }
    ~TempConfig() {
        for (const char* f : {"me", "vhost.192.0.2.1", "esmtpgreeting.192.0.2.1", "vhost.192.0.2.9"})
            ::unlink((dir + "/" + f).c_str());
        ::rmdir(dir.c_str());
    }
    void write(const std::string& name, const std::string& text) {
        REQUIRE(write_file_durably(dir, name, text, 0644));
    }
};

EnvLookup env_of(std::map<std::string, std::string> vars) {
    return [vars](const char* name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}
}  // namespace

TEST_CASE("session config from couriertcpd's environment") {
    TempConfig t;
    t.write("me", "mx.example.com\n");
    SessionConfig c = load_session_config(ConfigDir(t.dir),
                                          env_of({{"TCPREMOTEIP", "198.51.100.4"}, {"TCPREMOTEPORT", "5555"},
                                                  {"TCPLOCALIP", "192.0.2.5"}, {"TCPLOCALPORT", "25"},
                                                  {"RELAYCLIENT", ""}}));
    CHECK(c.me == "mx.example.com");
    CHECK(c.greeting == "mx.example.com ESMTP");
    CHECK(c.facts.remote_ip == "198.51.100.4");
    CHECK(c.facts.remote_port == "5555");
    CHECK(c.facts.remote_host.empty());
    CHECK(c.facts.local_ip == "192.0.2.5");
    CHECK(c.facts.relay_client);          // set, even empty
    CHECK(c.facts.vhost.empty());
    CHECK(c.size_limit == 10485760);
    CHECK_FALSE(load_session_config(ConfigDir(t.dir), env_of({})).facts.relay_client);
}

TEST_CASE("vhost.<local ip> selects me and esmtpgreeting") {
    TempConfig t;
    t.write("me", "mx.example.com\n");
    t.write("vhost.192.0.2.1", "");
    t.write("esmtpgreeting.192.0.2.1", "Welcome to the other one\n");
    t.write("vhost.192.0.2.9", "");
    SessionConfig c = load_session_config(ConfigDir(t.dir), env_of({{"TCPLOCALIP", "192.0.2.1"}}));
    CHECK(c.facts.vhost == "192.0.2.1");
    CHECK(c.greeting == "Welcome to the other one");
    SessionConfig mapped = load_session_config(ConfigDir(t.dir), env_of({{"TCPLOCALIP", "::ffff:192.0.2.9"}}));
    CHECK(mapped.facts.vhost == "192.0.2.9");
    CHECK(mapped.greeting == "mx.example.com ESMTP");
    SessionConfig odd = load_session_config(ConfigDir(t.dir), env_of({{"TCPLOCALIP", "../me"}}));
    CHECK(odd.facts.vhost.empty());
}

TEST_CASE("SIZELIMIT and ESMTP_TIMEOUT are bounded") {
    TempConfig t;
    t.write("me", "mx.example.com\n");
    auto limit = [&](const char* v) {
        return load_session_config(ConfigDir(t.dir), env_of({{"SIZELIMIT", v}})).size_limit;
    };
    CHECK(limit("2000") == 2000);
    CHECK(limit("0") == 10485760);
    CHECK(limit("12k") == 10485760);
    CHECK(idle_timeout_ms(env_of({})) == 300000);
    CHECK(idle_timeout_ms(env_of({{"ESMTP_TIMEOUT", "60"}})) == 60000);
    CHECK(idle_timeout_ms(env_of({{"ESMTP_TIMEOUT", "2m"}})) == 120000);
    CHECK(idle_timeout_ms(env_of({{"ESMTP_TIMEOUT", "0"}})) == 1000);
    CHECK(idle_timeout_ms(env_of({{"ESMTP_TIMEOUT", "1w"}})) == 3600000);
    CHECK(idle_timeout_ms(env_of({{"ESMTP_TIMEOUT", "junk"}})) == 300000);
}
