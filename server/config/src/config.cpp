// The parts of the configuration model that do not need TOML: lookups, error text and the built-in
// development default.
#include "parley/server/config.h"

#include <algorithm>

#include "config_values.h"

namespace parley::server {

namespace {

bool equalsIgnoringAsciiCase(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace

std::string_view toString(TlsMode mode) {
    switch (mode) {
        case TlsMode::StartTls:
            return "starttls";
        case TlsMode::Direct:
            return "direct";
    }
    return "?";
}

std::string_view toString(RegistrationPolicy policy) {
    switch (policy) {
        case RegistrationPolicy::Closed:
            return "closed";
        case RegistrationPolicy::Open:
            return "open";
        case RegistrationPolicy::AdminOnly:
            return "admin";
    }
    return "?";
}

std::string_view toString(LogLevel level) {
    switch (level) {
        case LogLevel::Trace:
            return "trace";
        case LogLevel::Debug:
            return "debug";
        case LogLevel::Info:
            return "info";
        case LogLevel::Warn:
            return "warn";
        case LogLevel::Error:
            return "error";
    }
    return "?";
}

const HostConfig* ServerConfig::findHost(std::string_view domain) const {
    auto it = std::find_if(hosts.begin(), hosts.end(), [&](const HostConfig& host) {
        return equalsIgnoringAsciiCase(host.domain, domain);
    });
    return it == hosts.end() ? nullptr : &*it;
}

const ModuleConfig* ServerConfig::findModule(std::string_view name) const {
    auto it = std::find_if(modules.begin(), modules.end(),
                           [&](const ModuleConfig& module) { return module.name == name; });
    return it == modules.end() ? nullptr : &*it;
}

std::filesystem::path ServerConfig::certificatePath(const HostConfig& host) const {
    if (!host.certificate.empty()) {
        return host.certificate;
    }
    return dataDir / "certs" / (host.domain + ".crt");
}

std::filesystem::path ServerConfig::privateKeyPath(const HostConfig& host) const {
    if (!host.privateKey.empty()) {
        return host.privateKey;
    }
    return dataDir / "certs" / (host.domain + ".key");
}

std::string ConfigError::toString() const {
    std::string out;
    if (!file.empty()) {
        out += file.string();
        if (line != 0) {
            out += ':' + std::to_string(line) + ':' + std::to_string(column);
        }
        out += ": ";
    } else if (line != 0) {
        out += "line " + std::to_string(line) + ", column " + std::to_string(column) + ": ";
    }
    if (!key.empty()) {
        out += key + ": ";
    }
    out += message;
    return out;
}

std::vector<std::string> defaultModules() {
    return {"disco", "ping",    "version", "time",    "register", "roster", "offline", "blocking",
            "vcard", "private", "last",    "carbons", "pep",      "mam",    "csi",     "stream_management"};
}

std::vector<std::string> knownModules() {
    // Every module compiled in is also on by default, for now.
    return defaultModules();
}

ServerConfig developmentConfig() {
    ServerConfig config;
    config.dataDir = "var";
    config.logLevel = LogLevel::Info;

    HostConfig host;
    host.domain = "localhost";
    host.selfSignedCertificate = true;  // certificate and key under var/certs/, made on first start
    host.registration = RegistrationPolicy::Open;
    config.hosts.push_back(std::move(host));

    for (const char* address : {"127.0.0.1", "::1"}) {
        config.listeners.push_back(ListenerConfig{
            .type = "c2s", .address = address, .port = 5222, .tls = TlsMode::StartTls, .requireTls = true});
    }
    for (const char* address : {"127.0.0.1", "::1"}) {
        config.listeners.push_back(ListenerConfig{
            .type = "c2s", .address = address, .port = 5223, .tls = TlsMode::Direct, .requireTls = true});
    }

    config.storage.backend = "sqlite";
    config.storage.path = config.dataDir / "parley.db";

    for (std::string& name : defaultModules()) {
        config.modules.push_back(ModuleConfig{.name = std::move(name), .options = {}});
    }
    return config;
}

std::optional<std::size_t> parseSizeOption(std::string_view text) {
    return config_detail::parseSize(text);
}

}  // namespace parley::server
