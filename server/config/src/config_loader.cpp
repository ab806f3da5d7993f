// TOML -> ServerConfig. Every key is read by name from a list of the keys allowed in its table, so an
// unknown key (a typo, a Prosody option name, a key in the wrong section) is an error that suggests
// the closest allowed key instead of being silently ignored. The first error stops the load.
#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>

#include <toml++/toml.h>

#include "config_values.h"
#include "parley/server/config.h"

namespace parley::server {

namespace {

using namespace config_detail;

constexpr std::int64_t kMaxInt = std::numeric_limits<std::int64_t>::max();

std::string_view typeName(toml::node_type type) {
    switch (type) {
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a floating-point number";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        case toml::node_type::none:
            break;
    }
    return "nothing";
}

std::string inQuotes(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

std::string joinQuoted(const std::vector<std::string>& words) {
    std::string out;
    for (const std::string& word : words) {
        out += (out.empty() ? "" : ", ") + inQuotes(word);
    }
    return out;
}

std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const std::string& word : words) {
        out += (out.empty() ? "" : ", ") + word;
    }
    return out;
}

std::string keyOf(std::string_view prefix, std::string_view name) {
    return prefix.empty() ? std::string(name) : std::string(prefix) + "." + std::string(name);
}

std::string indexed(std::string_view key, std::size_t index) {
    return std::string(key) + "[" + std::to_string(index) + "]";
}

// A module option as text: strings as they are, anything else in TOML syntax ("true", "30", "[ 'a' ]").
std::string optionText(const toml::node& node) {
    if (const auto* text = node.as_string()) {
        return text->get();
    }
    std::ostringstream out;
    out << toml::node_view<const toml::node>(node);
    return out.str();
}

// The keys allowed in each table, in the order the documentation lists them.
const std::vector<std::string> kRootKeys{"data_dir",
                                         "log_level",
                                         "threads",
                                         "scram_iterations",
                                         "allow_plain_without_tls",
                                         "strict_channel_binding",
                                         "plain_login_cache",
                                         "host",
                                         "listener",
                                         "storage",
                                         "limits",
                                         "timeouts",
                                         "modules"};
const std::vector<std::string> kHostKeys{
    "domain",       "certificate", "private_key",      "self_signed_certificate",
    "registration", "admins",      "contact_addresses"};
const std::vector<std::string> kContactKeys{"abuse-addresses",  "admin-addresses",    "feedback-addresses",
                                            "sales-addresses",  "security-addresses", "status-addresses",
                                            "support-addresses"};
const std::vector<std::string> kListenerKeys{"type", "address", "port", "tls", "require_tls"};
const std::vector<std::string> kStorageKeys{"backend", "path", "synchronous_full"};
const std::vector<std::string> kLimitsKeys{"max_stanza_bytes",
                                           "max_depth",
                                           "max_attributes",
                                           "max_resources_per_account",
                                           "outbound_queue_stanzas",
                                           "outbound_queue_bytes",
                                           "sasl_max_failures",
                                           "max_connections_per_ip",
                                           "max_preauth_connections_per_ip",
                                           "registration_interval",
                                           "registration_limit_exempt_loopback",
                                           "max_auth_failures_per_ip",
                                           "auth_failure_ban",
                                           "inbound_bytes_per_second",
                                           "presence_per_second"};
const std::vector<std::string> kTimeoutsKeys{"negotiation", "idle", "write_stall", "close_grace"};

// The section whose table allows `key` ("[limits]"), for a key written in the wrong place.
std::optional<std::string> sectionOf(std::string_view key) {
    const std::array<std::pair<std::string_view, const std::vector<std::string>*>, 5> sections{{
        {"[[host]]", &kHostKeys},
        {"[[listener]]", &kListenerKeys},
        {"[storage]", &kStorageKeys},
        {"[limits]", &kLimitsKeys},
        {"[timeouts]", &kTimeoutsKeys},
    }};
    for (const auto& [section, keys] : sections) {
        if (std::find(keys->begin(), keys->end(), key) != keys->end()) {
            return std::string(section);
        }
    }
    return std::nullopt;
}

template <class E>
using EnumValues = std::vector<std::pair<std::string, E>>;

// The address a listener binds, as bytes, to find two listeners on the same socket address.
std::string addressBytes(const std::string& address) {
    std::array<unsigned char, 16> buffer{};
    if (inet_pton(AF_INET6, address.c_str(), buffer.data()) == 1) {
        return std::string(reinterpret_cast<const char*>(buffer.data()), 16);
    }
    if (inet_pton(AF_INET, address.c_str(), buffer.data()) == 1) {
        return std::string(reinterpret_cast<const char*>(buffer.data()), 4);
    }
    return address;
}

class Loader {
  public:
    Loader(std::filesystem::path file, std::filesystem::path baseDir, const std::vector<std::string>& known)
        : file_(std::move(file)), baseDir_(std::move(baseDir)), knownModules_(known) {}

    Result<ServerConfig, ConfigError> load(std::string_view text) {
        std::optional<toml::table> root;
#if TOML_EXCEPTIONS
        try {
            root = toml::parse(text, std::string_view(file_.string()));
        } catch (const toml::parse_error& error) {
            return syntaxError(error);
        }
#else
        toml::parse_result parsed = toml::parse(text, std::string_view(file_.string()));
        if (!parsed) {
            return syntaxError(parsed.error());
        }
        root = std::move(parsed).table();
#endif
        if (!readRoot(*root)) {
            return *error_;
        }
        return std::move(config_);
    }

  private:
    ConfigError syntaxError(const toml::parse_error& error) const {
        ConfigError out{.key = {},
                        .message = "syntax error: " + std::string(error.description()),
                        .file = file_,
                        .line = error.source().begin.line,
                        .column = error.source().begin.column};
        return out;
    }

    // Records the first error and returns false, so readers can `return fail(...)`.
    bool fail(std::string key, const toml::source_region* where, std::string message) {
        if (!error_) {
            error_ = ConfigError{.key = std::move(key), .message = std::move(message), .file = file_};
            if (where != nullptr) {
                error_->line = where->begin.line;
                error_->column = where->begin.column;
            }
        }
        return false;
    }
    bool fail(std::string key, const toml::node& node, std::string message) {
        return fail(std::move(key), &node.source(), std::move(message));
    }

    bool wrongType(const std::string& key, const toml::node& node, std::string_view expected) {
        return fail(key, node,
                    "expected " + std::string(expected) + ", got " + std::string(typeName(node.type())));
    }

    bool checkKeys(const toml::table& table, std::string_view prefix,
                   const std::vector<std::string>& allowed) {
        for (const auto& [name, node] : table) {
            std::string_view key = name.str();
            if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
                continue;
            }
            std::string message = "unknown key";
            std::optional<std::string> section = sectionOf(key);
            bool isRootKey = std::find(kRootKeys.begin(), kRootKeys.end(), key) != kRootKeys.end();
            if (!prefix.empty() && isRootKey) {
                // TOML: a key belongs to the nearest [section] header above it.
                message +=
                    " here; " + std::string(key) +
                    " is a top-level key: move it above the first [section] or [[section]] of the file";
            } else if (section) {
                message += " here; " + std::string(key) + " belongs in " + *section;
            } else if (auto suggestion = closestMatch(key, allowed)) {
                message += "; did you mean " + inQuotes(*suggestion) + "?";
            } else {
                message += "; the keys allowed here are " + join(allowed);
            }
            return fail(keyOf(prefix, key), &name.source(), message);
        }
        return true;
    }

    bool readBool(const toml::table& table, std::string_view prefix, std::string_view name, bool& out) {
        const toml::node* node = table.get(name);
        if (node == nullptr) {
            return true;
        }
        const auto* value = node->as_boolean();
        if (value == nullptr) {
            return wrongType(keyOf(prefix, name), *node, "a boolean (true or false)");
        }
        out = value->get();
        return true;
    }

    // Absent: out unchanged. Present: must be a non-empty string.
    bool readString(const toml::table& table, std::string_view prefix, std::string_view name,
                    std::string& out, const toml::node** where = nullptr) {
        const toml::node* node = table.get(name);
        if (node == nullptr) {
            return true;
        }
        if (where != nullptr) {
            *where = node;
        }
        const auto* value = node->as_string();
        if (value == nullptr) {
            return wrongType(keyOf(prefix, name), *node, "a string");
        }
        if (value->get().empty()) {
            return fail(keyOf(prefix, name), *node, "must not be empty; remove the key to use the default");
        }
        out = value->get();
        return true;
    }

    bool rangeError(const std::string& key, const toml::node& node, std::int64_t value, std::int64_t min,
                    std::int64_t max, std::string_view why, std::string_view unit = "") {
        std::string message;
        if (max == kMaxInt) {
            message = "must be at least " + std::to_string(min) + std::string(unit);
        } else {
            message =
                "must be between " + std::to_string(min) + " and " + std::to_string(max) + std::string(unit);
        }
        message += " (got " + std::to_string(value) + std::string(unit) + ")";
        if (!why.empty()) {
            message += "; " + std::string(why);
        }
        return fail(key, node, message);
    }

    template <class T>
    bool readInteger(const toml::table& table, std::string_view prefix, std::string_view name,
                     std::int64_t min, std::int64_t max, T& out, std::string_view why = "") {
        const toml::node* node = table.get(name);
        if (node == nullptr) {
            return true;
        }
        std::string key = keyOf(prefix, name);
        const auto* value = node->as_integer();
        if (value == nullptr) {
            return wrongType(key, *node, "an integer");
        }
        max = std::min<std::int64_t>(
            max, static_cast<std::int64_t>(std::min<std::uint64_t>(std::numeric_limits<T>::max(),
                                                                   static_cast<std::uint64_t>(kMaxInt))));
        if (value->get() < min || value->get() > max) {
            return rangeError(key, *node, value->get(), min, max, why);
        }
        out = static_cast<T>(value->get());
        return true;
    }

    // Bytes: an integer, or a string with a unit ("256KiB").
    bool readSize(const toml::table& table, std::string_view prefix, std::string_view name, std::size_t min,
                  std::size_t& out, std::string_view why = "") {
        const toml::node* node = table.get(name);
        if (node == nullptr) {
            return true;
        }
        std::string key = keyOf(prefix, name);
        std::size_t bytes = 0;
        if (const auto* integer = node->as_integer()) {
            if (integer->get() < 0) {
                return fail(key, *node, "must not be negative (got " + std::to_string(integer->get()) + ")");
            }
            bytes = static_cast<std::size_t>(integer->get());
        } else if (const auto* text = node->as_string()) {
            auto parsed = parseSize(text->get());
            if (!parsed) {
                return fail(
                    key, *node,
                    inQuotes(text->get()) +
                        " is not a size; write a number of bytes, or a number with B, KiB, MiB or GiB "
                        "(or KB, MB, GB for powers of 1000), e.g. \"256KiB\"");
            }
            bytes = *parsed;
        } else {
            return wrongType(key, *node,
                             "a size (an integer number of bytes, or a string such as \"256KiB\")");
        }
        if (bytes < min) {
            std::string message =
                "must be at least " + std::to_string(min) + " bytes (got " + std::to_string(bytes) + ")";
            if (!why.empty()) {
                message += "; " + std::string(why);
            }
            return fail(key, *node, message);
        }
        out = bytes;
        return true;
    }

    // Seconds: an integer, or a string with a unit ("90s", "10m", "1h", "1d").
    bool readDuration(const toml::table& table, std::string_view prefix, std::string_view name,
                      std::chrono::seconds min, std::chrono::seconds& out) {
        const toml::node* node = table.get(name);
        if (node == nullptr) {
            return true;
        }
        std::string key = keyOf(prefix, name);
        std::chrono::seconds seconds{0};
        if (const auto* integer = node->as_integer()) {
            if (integer->get() < 0) {
                return fail(key, *node, "must not be negative (got " + std::to_string(integer->get()) + ")");
            }
            seconds = std::chrono::seconds(integer->get());
        } else if (const auto* text = node->as_string()) {
            auto parsed = parseDuration(text->get());
            if (!parsed) {
                return fail(
                    key, *node,
                    inQuotes(text->get()) +
                        " is not a duration; write a number of seconds, or a number with s, m, h or d, "
                        "e.g. \"90s\", \"10m\", \"1h\"");
            }
            seconds = *parsed;
        } else {
            return wrongType(key, *node,
                             "a duration (an integer number of seconds, or a string such as \"10m\")");
        }
        if (seconds < min) {
            return fail(key, *node,
                        "must be at least " + std::to_string(min.count()) + " seconds (got " +
                            std::to_string(seconds.count()) + ")");
        }
        out = seconds;
        return true;
    }

    template <class E>
    bool readEnum(const toml::table& table, std::string_view prefix, std::string_view name,
                  const EnumValues<E>& values, E& out, std::string_view why = "") {
        std::string text;
        const toml::node* node = nullptr;
        if (!readString(table, prefix, name, text, &node)) {
            return false;
        }
        if (node == nullptr) {
            return true;
        }
        std::vector<std::string> allowed;
        for (const auto& [spelling, value] : values) {
            if (spelling == text) {
                out = value;
                return true;
            }
            allowed.push_back(spelling);
        }
        std::string message = "must be one of " + joinQuoted(allowed) + " (got " + inQuotes(text) + ")";
        if (auto suggestion = closestMatch(text, allowed)) {
            message += "; did you mean " + inQuotes(*suggestion) + "?";
        }
        if (!why.empty()) {
            message += "; " + std::string(why);
        }
        return fail(keyOf(prefix, name), *node, message);
    }

    bool readStringArray(const toml::node& node, const std::string& key, std::vector<std::string>& out,
                         std::vector<const toml::node*>* where = nullptr) {
        const auto* array = node.as_array();
        if (array == nullptr) {
            return wrongType(key, node, "an array of strings");
        }
        for (std::size_t i = 0; i < array->size(); ++i) {
            const toml::node& element = *array->get(i);
            const auto* text = element.as_string();
            if (text == nullptr) {
                return wrongType(indexed(key, i), element, "a string");
            }
            out.push_back(text->get());
            if (where != nullptr) {
                where->push_back(&element);
            }
        }
        return true;
    }

    // Paths: relative ones are taken relative to `base`.
    bool readPath(const toml::table& table, std::string_view prefix, std::string_view name,
                  const std::filesystem::path& base, std::filesystem::path& out) {
        std::string text;
        const toml::node* node = nullptr;
        if (!readString(table, prefix, name, text, &node)) {
            return false;
        }
        if (node == nullptr) {
            return true;
        }
        if (text.front() == '~') {
            return fail(keyOf(prefix, name), *node,
                        "\"~\" is not expanded in the configuration; write the full path, e.g. "
                        "\"/home/alice/parley\" instead of \"~/parley\"");
        }
        out = resolve(base, text);
        return true;
    }

    static std::filesystem::path resolve(const std::filesystem::path& base,
                                         const std::filesystem::path& path) {
        if (path.is_absolute()) {
            return path.lexically_normal();
        }
        return (base / path).lexically_normal();
    }

    // [[host]] and [[listener]]: an array of tables, at least one.
    const toml::array* readSectionArray(const toml::table& root, std::string_view name,
                                        std::string_view missing) {
        const toml::node* node = root.get(name);
        if (node == nullptr) {
            fail(std::string(name), nullptr, std::string(missing));
            return nullptr;
        }
        const auto* array = node->as_array();
        if (array == nullptr) {
            if (node->is_table()) {
                fail(std::string(name), *node,
                     "expected an array of tables, got a table; write [[" + std::string(name) +
                         "]] instead of [" + std::string(name) + "]");
            } else {
                wrongType(std::string(name), *node, "an array of tables ([[" + std::string(name) + "]])");
            }
            return nullptr;
        }
        if (array->empty()) {
            fail(std::string(name), *node, std::string(missing));
            return nullptr;
        }
        for (std::size_t i = 0; i < array->size(); ++i) {
            if (!array->get(i)->is_table()) {
                wrongType(indexed(name, i), *array->get(i), "a table");
                return nullptr;
            }
        }
        return array;
    }

    bool readRoot(const toml::table& root) {
        if (!checkKeys(root, "", kRootKeys)) {
            return false;
        }
        config_.dataDir = resolve(baseDir_, config_.dataDir);
        if (!readPath(root, "", "data_dir", baseDir_, config_.dataDir) ||
            !readEnum(root, "", "log_level",
                      EnumValues<LogLevel>{{"trace", LogLevel::Trace},
                                           {"debug", LogLevel::Debug},
                                           {"info", LogLevel::Info},
                                           {"warn", LogLevel::Warn},
                                           {"error", LogLevel::Error}},
                      config_.logLevel) ||
            !readInteger(root, "", "threads", 0, 256, config_.threads,
                         "0 means one event loop per CPU core") ||
            !readInteger(root, "", "scram_iterations", 4096, 10'000'000, config_.scramIterations,
                         "RFC 7677 asks for at least 4096, and each login costs this many hash rounds") ||
            !readBool(root, "", "allow_plain_without_tls", config_.allowPlainWithoutTls) ||
            !readBool(root, "", "strict_channel_binding", config_.strictChannelBinding) ||
            !readInteger(root, "", "plain_login_cache", 0, 10'000'000, config_.plainLoginCache,
                         "each entry costs about 400 bytes; 0 turns the cache off")) {
            return false;
        }
        return readHosts(root) && readListeners(root) && readStorage(root) && readLimits(root) &&
               readTimeouts(root) && readModules(root) && checkAdmins();
    }

    bool readHosts(const toml::table& root) {
        const toml::array* hosts = readSectionArray(
            root, "host",
            "no virtual host is configured; add a [[host]] section with domain = \"example.org\"");
        if (hosts == nullptr) {
            return false;
        }
        std::map<std::string, std::size_t> seen;
        for (std::size_t i = 0; i < hosts->size(); ++i) {
            const toml::table& table = *hosts->get(i)->as_table();
            std::string prefix = indexed("host", i);
            if (!checkKeys(table, prefix, kHostKeys)) {
                return false;
            }
            HostConfig host;
            std::string domain;
            const toml::node* domainNode = nullptr;
            if (!readString(table, prefix, "domain", domain, &domainNode)) {
                return false;
            }
            if (domainNode == nullptr) {
                return fail(keyOf(prefix, "domain"), &table.source(),
                            "missing; every [[host]] needs a domain, e.g. domain = \"example.org\"");
            }
            host.domain = prepareDomain(domain);
            if (auto problem = checkDomain(host.domain)) {
                return fail(keyOf(prefix, "domain"), *domainNode, inQuotes(domain) + " " + *problem);
            }
            if (auto [it, inserted] = seen.emplace(host.domain, i); !inserted) {
                return fail(keyOf(prefix, "domain"), *domainNode,
                            inQuotes(host.domain) + " is already configured by " +
                                indexed("host", it->second) + "; each virtual host must appear once");
            }

            // Certificates are looked up relative to the configuration file, like Prosody's.
            if (!readPath(table, prefix, "certificate", baseDir_, host.certificate) ||
                !readPath(table, prefix, "private_key", baseDir_, host.privateKey)) {
                return false;
            }
            if (host.certificate.empty() != host.privateKey.empty()) {
                std::string_view missing = host.certificate.empty() ? "certificate" : "private_key";
                std::string_view present = host.certificate.empty() ? "private_key" : "certificate";
                return fail(keyOf(prefix, missing), &table.source(),
                            "missing; " + std::string(present) + " is set, so set " + std::string(missing) +
                                " too (or remove both to use <data_dir>/certs/" + host.domain +
                                ".crt and .key)");
            }
            host.selfSignedCertificate = host.certificate.empty();
            if (!readBool(table, prefix, "self_signed_certificate", host.selfSignedCertificate) ||
                !readEnum(table, prefix, "registration",
                          EnumValues<RegistrationPolicy>{{"open", RegistrationPolicy::Open},
                                                         {"closed", RegistrationPolicy::Closed},
                                                         {"admin", RegistrationPolicy::AdminOnly}},
                          host.registration)) {
                return false;
            }
            if (const toml::node* admins = table.get("admins")) {
                std::vector<const toml::node*> where;
                if (!readStringArray(*admins, keyOf(prefix, "admins"), host.admins, &where)) {
                    return false;
                }
                adminNodes_.push_back(std::move(where));
            } else {
                adminNodes_.emplace_back();
            }
            if (!readContactAddresses(table, prefix, host)) {
                return false;
            }
            config_.hosts.push_back(std::move(host));
        }
        return true;
    }

    // XEP-0157 §4: the field vars of the serverinfo form.
    bool readContactAddresses(const toml::table& table, const std::string& prefix, HostConfig& host) {
        const toml::node* node = table.get("contact_addresses");
        if (node == nullptr) {
            return true;
        }
        std::string key = keyOf(prefix, "contact_addresses");
        const auto* addresses = node->as_table();
        if (addresses == nullptr) {
            return wrongType(key, *node, "a table ([host.contact_addresses])");
        }
        if (!checkKeys(*addresses, key, kContactKeys)) {
            return false;
        }
        for (const auto& [name, value] : *addresses) {
            std::string fieldKey = keyOf(key, name.str());
            std::vector<std::string> uris;
            std::vector<const toml::node*> where;
            if (!readStringArray(value, fieldKey, uris, &where)) {
                return false;
            }
            for (std::size_t i = 0; i < uris.size(); ++i) {
                std::size_t colon = uris[i].find(':');
                bool hasScheme =
                    colon != std::string::npos && colon > 0 &&
                    std::all_of(uris[i].begin(), uris[i].begin() + static_cast<std::ptrdiff_t>(colon),
                                [](char c) {
                                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                           (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
                                });
                if (!hasScheme) {
                    return fail(indexed(fieldKey, i), *where[i],
                                inQuotes(uris[i]) +
                                    " is not a URI; write e.g. \"mailto:admin@example.org\", "
                                    "\"xmpp:admin@example.org\" or \"https://example.org/support\"");
                }
            }
            host.contactAddresses[std::string(name.str())] = std::move(uris);
        }
        return true;
    }

    // Admins must be bare JIDs (local@domain) with an account on one of the configured hosts.
    bool checkAdmins() {
        std::vector<std::string> domains;
        for (const HostConfig& host : config_.hosts) {
            domains.push_back(host.domain);
        }
        for (std::size_t h = 0; h < config_.hosts.size(); ++h) {
            HostConfig& host = config_.hosts[h];
            for (std::size_t i = 0; i < host.admins.size(); ++i) {
                const std::string& jid = host.admins[i];
                std::string key = indexed(keyOf(indexed("host", h), "admins"), i);
                const toml::node& node = *adminNodes_[h][i];
                std::size_t at = jid.find('@');
                std::size_t slash = jid.find('/');
                if (slash != std::string::npos) {
                    return fail(key, node,
                                inQuotes(jid) + " has a resource; admins are bare JIDs, write " +
                                    inQuotes(jid.substr(0, slash)));
                }
                if (at == std::string::npos || at == 0 || at + 1 == jid.size() ||
                    jid.find('@', at + 1) != std::string::npos) {
                    return fail(key, node,
                                inQuotes(jid) + " is not a bare JID; write it as user@domain, e.g. \"admin@" +
                                    host.domain + "\"");
                }
                std::string domain = prepareDomain(jid.substr(at + 1));
                if (std::find(domains.begin(), domains.end(), domain) == domains.end()) {
                    return fail(key, node,
                                inQuotes(jid) + " is not on a host of this server (" + join(domains) +
                                    "); an admin needs an account here");
                }
                host.admins[i] = jid.substr(0, at + 1) + domain;
            }
        }
        return true;
    }

    bool readListeners(const toml::table& root) {
        const toml::array* listeners =
            readSectionArray(root, "listener",
                             "no listener is configured; add a [[listener]] section, e.g. port = 5222 for "
                             "STARTTLS clients");
        if (listeners == nullptr) {
            return false;
        }
        std::map<std::pair<std::string, std::uint16_t>, std::size_t> seen;
        for (std::size_t i = 0; i < listeners->size(); ++i) {
            const toml::table& table = *listeners->get(i)->as_table();
            std::string prefix = indexed("listener", i);
            if (!checkKeys(table, prefix, kListenerKeys)) {
                return false;
            }
            ListenerConfig listener;
            if (!readEnum(table, prefix, "type", EnumValues<std::string>{{"c2s", "c2s"}}, listener.type,
                          "only client-to-server listeners exist for now") ||
                !readEnum(table, prefix, "tls",
                          EnumValues<TlsMode>{{"starttls", TlsMode::StartTls}, {"direct", TlsMode::Direct}},
                          listener.tls)) {
                return false;
            }
            // RFC 6120 §14.7 registers 5222 for STARTTLS; XEP-0368 suggests 5223 for direct TLS.
            listener.port = listener.tls == TlsMode::Direct ? 5223 : 5222;
            if (!readInteger(table, prefix, "port", 1, 65535, listener.port) ||
                !readBool(table, prefix, "require_tls", listener.requireTls)) {
                return false;
            }
            if (listener.tls == TlsMode::Direct && !listener.requireTls) {
                return fail(keyOf(prefix, "require_tls"), *table.get("require_tls"),
                            "a direct TLS listener is always encrypted; remove require_tls, or use "
                            "tls = \"starttls\" for a listener that allows unencrypted clients");
            }
            const toml::node* addressNode = nullptr;
            if (!readString(table, prefix, "address", listener.address, &addressNode)) {
                return false;
            }
            if (listener.address == "*") {
                listener.address = "::";  // dual-stack: IPv6 and IPv4 on all interfaces
            }
            if (addressNode != nullptr && !isIpLiteral(listener.address)) {
                std::string hint =
                    listener.address.front() == '['
                        ? "write IPv6 addresses without brackets, e.g. \"::1\""
                        : "use an IP address such as \"127.0.0.1\" or \"::1\", or \"*\" for all";
                return fail(keyOf(prefix, "address"), *addressNode,
                            inQuotes(listener.address) + " is not an IP address; " + hint);
            }
            auto socket = std::pair{addressBytes(listener.address), listener.port};
            if (auto [it, inserted] = seen.emplace(socket, i); !inserted) {
                return fail(prefix, &table.source(),
                            "address " + inQuotes(listener.address) + " port " +
                                std::to_string(listener.port) + " is already used by " +
                                indexed("listener", it->second) + "; change the port or the address");
            }
            config_.listeners.push_back(std::move(listener));
        }
        return true;
    }

    const toml::table* readSectionTable(const toml::table& root, std::string_view name) {
        const toml::node* node = root.get(name);
        if (node == nullptr) {
            return nullptr;
        }
        if (!node->is_table()) {
            wrongType(std::string(name), *node, "a table ([" + std::string(name) + "])");
            return nullptr;
        }
        return node->as_table();
    }

    bool readStorage(const toml::table& root) {
        const toml::table* table = readSectionTable(root, "storage");
        std::filesystem::path path = config_.storage.path;
        if (table != nullptr) {
            if (!checkKeys(*table, "storage", kStorageKeys) ||
                !readEnum(*table, "storage", "backend",
                          EnumValues<std::string>{{"sqlite", "sqlite"}, {"memory", "memory"}},
                          config_.storage.backend) ||
                !readPath(*table, "storage", "path", {}, path) ||
                !readBool(*table, "storage", "synchronous_full", config_.storage.synchronousFull)) {
                return false;
            }
        } else if (error_) {
            return false;
        }
        config_.storage.path = resolve(config_.dataDir, path);
        return true;
    }

    bool readLimits(const toml::table& root) {
        const toml::table* table = readSectionTable(root, "limits");
        if (table == nullptr) {
            return !error_;
        }
        LimitsConfig& limits = config_.limits;
        const std::string prefix = "limits";
        if (!checkKeys(*table, prefix, kLimitsKeys)) {
            return false;
        }
        // RFC 6120 §13.12 lets a server restrict stanza size, but not below 10000 bytes.
        if (!readSize(*table, prefix, "max_stanza_bytes", 10000, limits.maxStanzaBytes,
                      "RFC 6120 §13.12 does not allow a server to restrict stanzas below 10000 bytes") ||
            !readInteger(*table, prefix, "max_depth", 1, kMaxInt, limits.maxDepth) ||
            !readInteger(*table, prefix, "max_attributes", 1, kMaxInt, limits.maxAttributes) ||
            !readInteger(*table, prefix, "max_resources_per_account", 1, kMaxInt,
                         limits.maxResourcesPerAccount) ||
            !readInteger(*table, prefix, "outbound_queue_stanzas", 1, kMaxInt, limits.outboundQueueStanzas) ||
            !readSize(*table, prefix, "outbound_queue_bytes", 0, limits.outboundQueueBytes) ||
            !readInteger(*table, prefix, "sasl_max_failures", 1, kMaxInt, limits.saslMaxFailures) ||
            !readInteger(*table, prefix, "max_connections_per_ip", 0, kMaxInt, limits.maxConnectionsPerIp) ||
            !readInteger(*table, prefix, "max_preauth_connections_per_ip", 0, kMaxInt,
                         limits.maxPreauthConnectionsPerIp) ||
            !readDuration(*table, prefix, "registration_interval", std::chrono::seconds(0),
                          limits.registrationInterval) ||
            !readBool(*table, prefix, "registration_limit_exempt_loopback",
                      limits.registrationLimitExemptLoopback) ||
            !readInteger(*table, prefix, "max_auth_failures_per_ip", 0, kMaxInt,
                         limits.maxAuthFailuresPerIp) ||
            !readDuration(*table, prefix, "auth_failure_ban", std::chrono::seconds(0),
                          limits.authFailureBan) ||
            !readSize(*table, prefix, "inbound_bytes_per_second", 0, limits.inboundBytesPerSecond) ||
            !readInteger(*table, prefix, "presence_per_second", 0, kMaxInt, limits.presencePerSecond)) {
            return false;
        }
        // A session must be able to queue at least one stanza of the largest allowed size.
        if (limits.outboundQueueBytes < limits.maxStanzaBytes) {
            bool queueSet = table->get("outbound_queue_bytes") != nullptr;
            std::string_view name = queueSet ? "outbound_queue_bytes" : "max_stanza_bytes";
            return fail(keyOf(prefix, name), *table->get(name),
                        "limits.outbound_queue_bytes (" + std::to_string(limits.outboundQueueBytes) +
                            ") must be at least limits.max_stanza_bytes (" +
                            std::to_string(limits.maxStanzaBytes) +
                            "), or a stanza of the largest allowed size could never be sent");
        }
        return true;
    }

    bool readTimeouts(const toml::table& root) {
        const toml::table* table = readSectionTable(root, "timeouts");
        if (table == nullptr) {
            return !error_;
        }
        TimeoutsConfig& timeouts = config_.timeouts;
        const std::string prefix = "timeouts";
        return checkKeys(*table, prefix, kTimeoutsKeys) &&
               readDuration(*table, prefix, "negotiation", std::chrono::seconds(1), timeouts.negotiation) &&
               readDuration(*table, prefix, "idle", std::chrono::seconds(1), timeouts.idle) &&
               readDuration(*table, prefix, "write_stall", std::chrono::seconds(1), timeouts.writeStall) &&
               readDuration(*table, prefix, "close_grace", std::chrono::seconds(0), timeouts.closeGrace);
    }

    bool readModules(const toml::table& root) {
        const toml::table* table = readSectionTable(root, "modules");
        if (table == nullptr && error_) {
            return false;
        }
        std::vector<std::string> enabled = defaultModules();
        if (table != nullptr) {
            if (const toml::node* node = table->get("enabled")) {
                enabled.clear();
                std::vector<const toml::node*> where;
                if (!readStringArray(*node, "modules.enabled", enabled, &where)) {
                    return false;
                }
                for (std::size_t i = 0; i < enabled.size(); ++i) {
                    std::string key = indexed("modules.enabled", i);
                    if (std::find(knownModules_.begin(), knownModules_.end(), enabled[i]) ==
                        knownModules_.end()) {
                        return fail(key, *where[i], unknownModuleMessage(enabled[i]));
                    }
                    if (std::find(enabled.begin(), enabled.begin() + static_cast<std::ptrdiff_t>(i),
                                  enabled[i]) != enabled.begin() + static_cast<std::ptrdiff_t>(i)) {
                        return fail(key, *where[i], inQuotes(enabled[i]) + " is listed twice; remove one");
                    }
                }
            }
        }
        for (const std::string& name : enabled) {
            config_.modules.push_back(ModuleConfig{.name = name, .options = {}});
        }
        if (table == nullptr) {
            return true;
        }
        for (const auto& [name, node] : *table) {
            if (name.str() == "enabled") {
                continue;
            }
            std::string key = keyOf("modules", name.str());
            const auto* options = node.as_table();
            if (options == nullptr) {
                std::vector<std::string> allowed = knownModules_;
                allowed.insert(allowed.begin(), "enabled");
                std::string message = "unknown key; module options go in a table such as [modules.version]";
                if (auto suggestion = closestMatch(name.str(), allowed)) {
                    message = "unknown key; did you mean " + inQuotes(*suggestion) + "?";
                }
                return fail(key, &name.source(), message);
            }
            std::string_view moduleName = name.str();  // a structured binding cannot be captured (C++20)
            auto module = std::find_if(config_.modules.begin(), config_.modules.end(),
                                       [&](const ModuleConfig& m) { return m.name == moduleName; });
            if (module == config_.modules.end()) {
                if (std::find(knownModules_.begin(), knownModules_.end(), name.str()) ==
                    knownModules_.end()) {
                    return fail(key, &name.source(), unknownModuleMessage(name.str()));
                }
                return fail(key, &name.source(),
                            "options for a module that is not enabled; add " + inQuotes(name.str()) +
                                " to modules.enabled, or remove this section");
            }
            for (const auto& [option, value] : *options) {
                module->options[std::string(option.str())] = optionText(value);
            }
        }
        return true;
    }

    std::string unknownModuleMessage(std::string_view name) const {
        std::string message = "there is no module " + inQuotes(name);
        if (auto suggestion = closestMatch(name, knownModules_)) {
            message += "; did you mean " + inQuotes(*suggestion) + "?";
        } else {
            message += "; the known modules are " + joinQuoted(knownModules_);
        }
        return message;
    }

    std::filesystem::path file_;
    std::filesystem::path baseDir_;
    const std::vector<std::string>& knownModules_;
    ServerConfig config_;
    std::optional<ConfigError> error_;
    std::vector<std::vector<const toml::node*>> adminNodes_;  // per host, per admin: for positions
};

}  // namespace

Result<ServerConfig, ConfigError> loadConfigString(std::string_view toml,
                                                   const std::filesystem::path& baseDir,
                                                   const std::vector<std::string>& knownModuleNames) {
    return Loader({}, baseDir, knownModuleNames).load(toml);
}

Result<ServerConfig, ConfigError> loadConfigString(std::string_view toml,
                                                   const std::filesystem::path& baseDir) {
    return loadConfigString(toml, baseDir, knownModules());
}

Result<ServerConfig, ConfigError> loadConfigFile(const std::filesystem::path& file,
                                                 const std::vector<std::string>& knownModuleNames) {
    std::error_code ignored;
    if (std::filesystem::is_directory(file, ignored)) {
        return ConfigError{.key = {},
                           .message = "is a folder; pass the configuration file itself, e.g. " +
                                      (file / "parley.toml").string(),
                           .file = file};
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        int code = errno != 0 ? errno : ENOENT;
        std::error_code error(code, std::generic_category());
        return ConfigError{.key = {},
                           .message = "cannot read the configuration file: " + error.message() +
                                      "; check the path (examples/parley.toml is a starting point)",
                           .file = file};
    }
    std::ostringstream text;
    text << in.rdbuf();
    return Loader(file, file.parent_path(), knownModuleNames).load(text.str());
}

Result<ServerConfig, ConfigError> loadConfigFile(const std::filesystem::path& file) {
    return loadConfigFile(file, knownModules());
}

}  // namespace parley::server
