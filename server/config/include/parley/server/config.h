#pragma once
// The server configuration as the rest of the server sees it: plain values, already validated.
// Loaded from TOML by loadConfigFile (config_loader.cpp); every key is documented in
// docs/configuration.md, with an example in examples/parley.toml.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/base/result.h"

namespace parley::server {

enum class TlsMode : std::uint8_t {
    StartTls,  // RFC 6120 §5: plain TCP, then <starttls/> (port 5222)
    Direct,    // XEP-0368: TLS from the first byte (port 5223)
};

enum class RegistrationPolicy : std::uint8_t {
    Closed,     // no in-band registration (XEP-0077); accounts are made with parleyctl
    Open,       // anyone may register
    AdminOnly,  // only an authenticated admin may register accounts for others
};

enum class LogLevel : std::uint8_t { Trace, Debug, Info, Warn, Error };

/// The TOML spelling of each value ("starttls", "direct", "open", "closed", "admin", "info"...).
std::string_view toString(TlsMode mode);
std::string_view toString(RegistrationPolicy policy);
std::string_view toString(LogLevel level);

struct ListenerConfig {
    std::string type = "c2s";  // only "c2s" for now; "s2s", "component", "http" come later
    std::string address = "::";
    std::uint16_t port = 5222;
    TlsMode tls = TlsMode::StartTls;
    // Whether a STARTTLS listener refuses SASL and stanzas until TLS is negotiated (RFC 6120 §5.3.1).
    bool requireTls = true;
};

struct HostConfig {
    std::string domain;  // prepared: lower case, no trailing dot; ASCII (an IDN in its xn-- form)
    // PEM files; empty means "use <data_dir>/certs/<domain>.{crt,key}, generating a self-signed pair
    // on first start if selfSignedCertificate is true".
    std::filesystem::path certificate;
    std::filesystem::path privateKey;
    bool selfSignedCertificate = true;
    RegistrationPolicy registration = RegistrationPolicy::Closed;
    std::vector<std::string> admins;  // bare JIDs
    // Contact addresses for the server's disco (XEP-0157), keyed by field var ("admin-addresses"...).
    std::map<std::string, std::vector<std::string>> contactAddresses;
};

struct StorageConfig {
    std::string backend = "sqlite";            // "sqlite" or "memory"
    std::filesystem::path path = "parley.db";  // sqlite: relative to data_dir
    bool synchronousFull = false;              // sqlite: PRAGMA synchronous=FULL (survives power loss)
};

struct LimitsConfig {
    std::size_t maxStanzaBytes = 262144;       // RFC 6120 §13.12, XEP-0478
    std::size_t maxDepth = 64;                 // element nesting in one stanza
    std::size_t maxAttributes = 128;           // per element
    std::size_t maxResourcesPerAccount = 10;   // RFC 6120 §7.6.2.1 resource-constraint beyond this
    std::size_t outboundQueueStanzas = 10000;  // per session; a session past it is closed
    std::size_t outboundQueueBytes = 4 * 1024 * 1024;
    std::size_t saslMaxFailures = 3;        // RFC 6120 §6.4.5: then the stream is closed
    std::size_t maxConnectionsPerIp = 100;  // concurrent, 0 = unlimited
    std::size_t maxPreauthConnectionsPerIp = 20;
    // XEP-0077 rate limit: at most one registration per address per this interval (0 = none).
    std::chrono::seconds registrationInterval{600};
    bool registrationLimitExemptLoopback = true;
    // Failed logins from one address within auth_failure_ban that ban it for auth_failure_ban
    // (reliability row 25; ejabberd mod_fail2ban: 20 per hour). 0 = no ban. Loopback is exempt.
    std::size_t maxAuthFailuresPerIp = 20;
    std::chrono::seconds authFailureBan{3600};
    // Per-session inbound rate: bytes per second, with a burst of this many seconds; reading pauses
    // (it never drops) when a session exceeds it. 0 = unlimited.
    std::size_t inboundBytesPerSecond = 0;
    // Per-session presence stanzas per second (after a burst of five seconds' worth); past it the
    // session pauses reading, it never drops (presence floods). 0 = unlimited.
    std::size_t presencePerSecond = 20;
};

struct TimeoutsConfig {
    std::chrono::seconds negotiation{60};  // from connect until resource bound (connection-timeout)
    std::chrono::seconds idle{900};        // no bytes from an authenticated client for this long: close
    std::chrono::seconds writeStall{60};   // a peer that reads nothing for this long: close
    std::chrono::seconds closeGrace{5};    // wait for the peer's </stream:stream> after ours (§4.4)
};

struct ModuleConfig {
    std::string name;
    // Raw option values as TOML-ish text, e.g. {"hide_os", "true"}; each module validates its own.
    std::map<std::string, std::string> options;
};

struct ServerConfig {
    std::filesystem::path dataDir = "var";
    LogLevel logLevel = LogLevel::Info;
    std::size_t threads = 0;  // network event loops; 0 = one per core
    std::vector<HostConfig> hosts;
    std::vector<ListenerConfig> listeners;
    StorageConfig storage;
    LimitsConfig limits;
    TimeoutsConfig timeouts;
    std::vector<ModuleConfig> modules;  // enabled modules with their options, in order
    bool allowPlainWithoutTls = false;  // SASL PLAIN over an unencrypted stream
    // RFC 5802 §6 downgrade detection: refuse a SCRAM client that sends the 'y' flag while we offer
    // -PLUS. Off by default: common clients (slixmpp 1.8) send 'y' on TLS 1.3 because they know only
    // tls-unique, which TLS 1.3 lacks.
    bool strictChannelBinding = false;
    std::uint32_t scramIterations = 4096;
    // Accounts whose last good SASL PLAIN password is remembered (as keyed hashes) so that their next
    // PLAIN login skips PBKDF2; 0 turns it off.
    std::size_t plainLoginCache = 10000;

    /// The host whose domain is `domain` (compared without regard to ASCII case), or nullptr.
    const HostConfig* findHost(std::string_view domain) const;
    /// The enabled module called `name`, or nullptr when it is not enabled.
    const ModuleConfig* findModule(std::string_view name) const;

    /// Where the host's certificate is: HostConfig::certificate, or <dataDir>/certs/<domain>.crt
    /// when it is empty.
    std::filesystem::path certificatePath(const HostConfig& host) const;
    /// Where the host's private key is: HostConfig::privateKey, or <dataDir>/certs/<domain>.key.
    std::filesystem::path privateKeyPath(const HostConfig& host) const;
};

// A configuration error names the key ("listener[1].port") and says what is wrong and what to do.
struct ConfigError {
    std::string key;  // TOML spelling: "listener[1].port", "limits.max_stanza_bytes"; empty for syntax
    std::string message;
    std::filesystem::path file;  // the configuration file, when loaded from one
    std::uint32_t line = 0;      // 1-based position in the TOML text; 0 when there is none
    std::uint32_t column = 0;    // (e.g. a missing key)
    // "parley.toml:12:8: listener[1].port: must be between 1 and 65535 (got 70000)"
    std::string toString() const;
};

// Reads and validates a TOML file; relative paths are resolved against the file's folder for
// data_dir and certificates, and against data_dir for storage.
Result<ServerConfig, ConfigError> loadConfigFile(const std::filesystem::path& file);
Result<ServerConfig, ConfigError> loadConfigString(std::string_view toml,
                                                   const std::filesystem::path& baseDir = ".");

/// As above, with the module names that modules.enabled may contain (instead of knownModules()).
Result<ServerConfig, ConfigError> loadConfigFile(const std::filesystem::path& file,
                                                 const std::vector<std::string>& knownModuleNames);
Result<ServerConfig, ConfigError> loadConfigString(std::string_view toml,
                                                   const std::filesystem::path& baseDir,
                                                   const std::vector<std::string>& knownModuleNames);

// The embedded development default of `make run`: domain localhost, ports 5222 (STARTTLS) and 5223
// (direct TLS) on loopback, SQLite under ./var, self-signed certificate, open registration.
ServerConfig developmentConfig();

// The modules enabled when the configuration does not list any.
std::vector<std::string> defaultModules();

/// Reads a module's size option ("64KiB", "65536", "64 KB") with the units of the [limits] sizes: KiB,
/// MiB and GiB are powers of 1024, KB, MB and GB powers of 1000. nullopt when it is not a size.
std::optional<std::size_t> parseSizeOption(std::string_view text);

/// Every module name the server knows, i.e. what modules.enabled may contain. Extend it when a
/// module is added under server/modules.
std::vector<std::string> knownModules();

}  // namespace parley::server
