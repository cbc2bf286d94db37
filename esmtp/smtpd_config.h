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

// Issue 10's settings of one listener (esmtpd, esmtpd-msa, esmtpd-ssl), each with the
// rule its value must follow. check_listener_settings() reports every bad value of a
// settings file as "<file>:<line>: ..." so that esmtpd refuses it before it is used.
struct ListenerSettingRule {
    const char* name;
    enum class Kind { flag, count, load } kind;
};
const std::vector<ListenerSettingRule>& listener_setting_rules();
std::vector<std::string> check_listener_settings(std::string_view text, const std::string& origin);
// A switch value: 1/yes/true/on (any case) or 0/no/false/off/empty; nullopt otherwise.
std::optional<bool> parse_flag(std::string_view value);

// The HELO patterns file in force for a listener: ESMTPHELOPATTERNS names a file of the
// configuration folder (default "esmtphelopatterns"). esmtpd checks it and installs a
// checked copy (installed_helo_patterns) that courieresmtpd reads, named in
// ESMTP_HELOPATTERNS_FILE, so a broken edit never reaches running connections.
std::string helo_patterns_name(const EnvLookup& env);
std::string installed_helo_patterns(const std::string& service);   // <run>/<service>.helopatterns
// Reads a patterns file; rules and errors name `origin` (the file the administrator
// edits) when given, else `path`.
HeloPatterns load_helo_patterns(const std::string& path, std::vector<std::string>* errors,
                                const std::string& origin = "");

// "PLAIN LOGIN" -> {"PLAIN", "LOGIN"}: upper-cased words of a mechanism list.
std::vector<std::string> split_mechanisms(std::string_view text);
