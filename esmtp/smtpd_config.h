// courieresmtpd's settings for one connection: couriertcpd's environment (TCPREMOTEIP,
// TCPLOCALIP, RELAYCLIENT, ...), the esmtpd settings esmtpd exports (SIZELIMIT,
// ESMTP_TIMEOUT) and the control files me, esmtpgreeting and vhost.<local-ip>
// (courier(8), "Servers with multiple IP addresses"). The environment is passed in as
// a function so tests need not change the process's own.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include "config/config.h"
#include "esmtp/smtp_session.h"

using EnvLookup = std::function<std::optional<std::string>(const char* name)>;

// The process environment (getenv), for the program itself.
std::optional<std::string> process_env(const char* name);

SessionConfig load_session_config(const ConfigDir& config, const EnvLookup& env);

// The idle timeout: ESMTP_TIMEOUT (seconds, or an interval such as "5m"), default five
// minutes, clamped to 1 s .. 1 h so a bad setting can neither hang nor kill sessions.
int idle_timeout_ms(const EnvLookup& env);

// What courieresmtpd sets up around the session: TLS, the AUTH backend, the session cap.
struct ServerSettings {
    TlsServerOptions tls;          // TLS_CERTFILE, TLS_KEYFILE, TLS_TRUSTCERTS, TLS_VERIFYPEER,
                                   // TLS_CIPHER_LIST
    bool implicit_tls = false;     // ESMTP_IMPLICIT_TLS=1: TLS from the first byte (465)
    std::string auth_backend;      // ESMTPAUTH_BACKEND: "userdb" (default), "pam" or "none"
    std::string userdb_path;       // <config>/userdb.dat
    std::string pam_service;       // ESMTP_PAM_SERVICE, default "esmtp"
    long session_limit_s = 3600;   // ESMTP_SESSION_LIMIT, 0 = none
};
ServerSettings load_server_settings(const ConfigDir& config, const EnvLookup& env);

// "PLAIN LOGIN" -> {"PLAIN", "LOGIN"}: upper-cased words of a mechanism list.
std::vector<std::string> split_mechanisms(std::string_view text);
