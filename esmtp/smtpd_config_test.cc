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
        for (const char* f : {"me", "vhost.192.0.2.1", "esmtpgreeting.192.0.2.1", "vhost.192.0.2.9", "esmtpd.pem", "defaultdomain"})
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

TEST_CASE("AUTH, TLS and limit settings (issue 3)") {
    TempConfig t;
    t.write("me", "mx.example.com\n");
    t.write("defaultdomain", "example.com\n");
    SessionConfig d = load_session_config(ConfigDir(t.dir), env_of({}));
    CHECK(d.default_domain == "example.com");
    CHECK(d.auth_plain.empty());   // nothing in the clear by default
    CHECK(d.auth_tls == std::vector<std::string>{"PLAIN", "LOGIN", "CRAM-MD5"});
    CHECK_FALSE(d.auth_required);
    CHECK(d.max_auth_failures == 3);
    CHECK(d.command_timeout_ms == 300000);
    CHECK(d.data_timeout_ms == 180000);
    SessionConfig c = load_session_config(ConfigDir(t.dir),
                                          env_of({{"ESMTPAUTH", "login"}, {"ESMTPAUTH_TLS", "PLAIN,CRAM-MD5"},
                                                  {"AUTH_REQUIRED", "1"}, {"ESMTP_DATA_TIMEOUT", "10m"},
                                                  {"ESMTPAUTH_MAXFAIL", "5"}, {"ESMTP_ERROR_DELAY", "junk"}}));
    CHECK(c.auth_plain == std::vector<std::string>{"LOGIN"});
    CHECK(c.auth_tls == std::vector<std::string>{"PLAIN", "CRAM-MD5", "LOGIN"});
    CHECK(c.auth_required);
    CHECK(c.data_timeout_ms == 600000);
    CHECK(c.max_auth_failures == 5);
    CHECK(c.error_delay_ms == 1000);   // malformed: the default

    ServerSettings none = load_server_settings(ConfigDir(t.dir), env_of({}));
    CHECK(none.tls.cert_file.empty());
    CHECK(none.auth_backend == "userdb");
    CHECK(none.userdb_path == t.dir + "/userdb.dat");
    CHECK(none.session_limit_s == 3600);
    t.write("esmtpd.pem", "x");
    ServerSettings s = load_server_settings(ConfigDir(t.dir),
                                            env_of({{"ESMTP_IMPLICIT_TLS", "1"}, {"TLS_VERIFYPEER", "REQUIREPEER"},
                                                    {"ESMTPAUTH_BACKEND", "pam"}, {"ESMTP_SESSION_LIMIT", "0"}}));
    CHECK(s.tls.cert_file == t.dir + "/esmtpd.pem");
    CHECK(s.implicit_tls);
    CHECK(s.tls.require_client_cert);
    CHECK(s.auth_backend == "pam");
    CHECK(s.pam_service == "esmtp");
    CHECK(s.session_limit_s == 0);
    CHECK(load_server_settings(ConfigDir(t.dir), env_of({{"TLS_CERTFILE", "/etc/x.pem"}})).tls.cert_file == "/etc/x.pem");
}
