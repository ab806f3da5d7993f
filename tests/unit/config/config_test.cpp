// The TOML loader: the shipped examples, defaults, path resolution, sizes and durations, and every
// validation error (its key and what it tells the administrator).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "parley/server/config.h"

namespace parley::server {
namespace {

using ::testing::HasSubstr;

const std::filesystem::path kSourceDir = PARLEY_SOURCE_DIR;
const std::filesystem::path kBase = "/etc/parley";

// One host and one listener: the least that loads.
constexpr std::string_view kMinimal = R"(
[[host]]
domain = "example.org"

[[listener]]
port = 5222
)";

std::string withMinimal(std::string_view extra) {
    return std::string(extra) + "\n" + std::string(kMinimal);
}

ServerConfig load(std::string_view toml) {
    auto result = loadConfigString(toml, kBase);
    if (!result) {
        ADD_FAILURE() << "unexpected error: " << result.error().toString();
        return {};
    }
    return *result;
}

ConfigError loadError(std::string_view toml) {
    auto result = loadConfigString(toml, kBase);
    if (result) {
        ADD_FAILURE() << "loaded although it should not have:\n" << toml;
        return {};
    }
    return result.error();
}

#define EXPECT_CONFIG_ERROR(toml, expectedKey, fragment)                       \
    do {                                                                       \
        ConfigError error_ = loadError(toml);                                  \
        EXPECT_EQ(error_.key, expectedKey) << error_.toString();               \
        EXPECT_THAT(error_.message, HasSubstr(fragment)) << error_.toString(); \
    } while (false)

std::vector<std::string> moduleNames(const ServerConfig& config) {
    std::vector<std::string> names;
    for (const ModuleConfig& module : config.modules) {
        names.push_back(module.name);
    }
    return names;
}

// A folder of its own under the system temp folder, removed afterwards.
class TempDir {
  public:
    explicit TempDir(std::string_view name)
        : path_(std::filesystem::temp_directory_path() /
                ("parley-config-test-" + std::string(name) + "-" + std::to_string(::getpid()))) {
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    std::filesystem::path write(std::string_view name, std::string_view text) const {
        std::filesystem::path file = path_ / name;
        std::ofstream(file, std::ios::binary) << text;
        return file;
    }
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

// --- the shipped examples --------------------------------------------------------------------------

TEST(ConfigExamples, FullExampleLoads) {
    auto result = loadConfigFile(kSourceDir / "examples" / "parley.toml");
    ASSERT_TRUE(result) << result.error().toString();
    const ServerConfig& config = *result;

    EXPECT_EQ(config.dataDir, "/var/lib/parley");
    EXPECT_EQ(config.logLevel, LogLevel::Info);
    EXPECT_EQ(config.threads, 0u);
    EXPECT_EQ(config.scramIterations, 4096u);
    EXPECT_FALSE(config.allowPlainWithoutTls);
    EXPECT_EQ(config.plainLoginCache, 10000u);

    ASSERT_EQ(config.hosts.size(), 2u);
    const HostConfig& org = config.hosts[0];
    EXPECT_EQ(org.domain, "example.org");
    EXPECT_EQ(org.certificate, "/etc/parley/certs/example.org.crt");
    EXPECT_EQ(org.privateKey, "/etc/parley/certs/example.org.key");
    EXPECT_FALSE(org.selfSignedCertificate);
    EXPECT_EQ(org.registration, RegistrationPolicy::Closed);
    EXPECT_EQ(org.admins, std::vector<std::string>{"admin@example.org"});
    EXPECT_EQ(org.contactAddresses.at("admin-addresses"),
              (std::vector<std::string>{"mailto:admin@example.org", "xmpp:admin@example.org"}));
    EXPECT_EQ(org.contactAddresses.at("abuse-addresses"),
              std::vector<std::string>{"mailto:abuse@example.org"});

    const HostConfig& net = config.hosts[1];
    EXPECT_EQ(net.domain, "chat.example.net");
    EXPECT_TRUE(net.certificate.empty());
    EXPECT_TRUE(net.selfSignedCertificate);
    EXPECT_EQ(net.registration, RegistrationPolicy::AdminOnly);
    EXPECT_EQ(net.admins, (std::vector<std::string>{"admin@example.org", "ops@chat.example.net"}));
    EXPECT_EQ(config.certificatePath(net), "/var/lib/parley/certs/chat.example.net.crt");
    EXPECT_EQ(config.privateKeyPath(net), "/var/lib/parley/certs/chat.example.net.key");

    ASSERT_EQ(config.listeners.size(), 2u);
    EXPECT_EQ(config.listeners[0].type, "c2s");
    EXPECT_EQ(config.listeners[0].address, "::");
    EXPECT_EQ(config.listeners[0].port, 5222);
    EXPECT_EQ(config.listeners[0].tls, TlsMode::StartTls);
    EXPECT_TRUE(config.listeners[0].requireTls);
    EXPECT_EQ(config.listeners[1].port, 5223);
    EXPECT_EQ(config.listeners[1].tls, TlsMode::Direct);

    EXPECT_EQ(config.storage.backend, "sqlite");
    EXPECT_EQ(config.storage.path, "/var/lib/parley/parley.db");
    EXPECT_FALSE(config.storage.synchronousFull);

    // The example spells out every default, so it must load to exactly the defaults.
    LimitsConfig defaults;
    EXPECT_EQ(config.limits.maxStanzaBytes, defaults.maxStanzaBytes);
    EXPECT_EQ(config.limits.maxDepth, defaults.maxDepth);
    EXPECT_EQ(config.limits.maxAttributes, defaults.maxAttributes);
    EXPECT_EQ(config.limits.maxResourcesPerAccount, defaults.maxResourcesPerAccount);
    EXPECT_EQ(config.limits.outboundQueueStanzas, defaults.outboundQueueStanzas);
    EXPECT_EQ(config.limits.outboundQueueBytes, defaults.outboundQueueBytes);
    EXPECT_EQ(config.limits.saslMaxFailures, defaults.saslMaxFailures);
    EXPECT_EQ(config.limits.maxConnectionsPerIp, defaults.maxConnectionsPerIp);
    EXPECT_EQ(config.limits.maxPreauthConnectionsPerIp, defaults.maxPreauthConnectionsPerIp);
    EXPECT_EQ(config.limits.registrationInterval, defaults.registrationInterval);
    EXPECT_EQ(config.limits.registrationLimitExemptLoopback, defaults.registrationLimitExemptLoopback);
    EXPECT_EQ(config.limits.inboundBytesPerSecond, defaults.inboundBytesPerSecond);
    TimeoutsConfig timeoutDefaults;
    EXPECT_EQ(config.timeouts.negotiation, timeoutDefaults.negotiation);
    EXPECT_EQ(config.timeouts.idle, timeoutDefaults.idle);
    EXPECT_EQ(config.timeouts.writeStall, timeoutDefaults.writeStall);
    EXPECT_EQ(config.timeouts.closeGrace, timeoutDefaults.closeGrace);

    EXPECT_EQ(moduleNames(config), defaultModules());
    ASSERT_NE(config.findModule("version"), nullptr);
    EXPECT_EQ(config.findModule("version")->options,
              (std::map<std::string, std::string>{{"show_os", "true"}}));
}

TEST(ConfigExamples, MinimalExampleLoads) {
    auto result = loadConfigFile(kSourceDir / "examples" / "minimal.toml");
    ASSERT_TRUE(result) << result.error().toString();
    EXPECT_EQ(result->dataDir, "/var/lib/parley");
    ASSERT_EQ(result->hosts.size(), 1u);
    EXPECT_EQ(result->hosts[0].domain, "example.org");
    EXPECT_TRUE(result->hosts[0].selfSignedCertificate);
    ASSERT_EQ(result->listeners.size(), 1u);
    EXPECT_EQ(result->listeners[0].port, 5222);
    EXPECT_EQ(result->storage.path, "/var/lib/parley/parley.db");
}

// --- defaults ----------------------------------------------------------------------------------------

TEST(ConfigDefaults, MinimalStringGetsEveryDefault) {
    ServerConfig config = load(kMinimal);
    EXPECT_EQ(config.dataDir, "/etc/parley/var");
    EXPECT_EQ(config.logLevel, LogLevel::Info);
    EXPECT_EQ(config.threads, 0u);
    EXPECT_EQ(config.scramIterations, 4096u);
    EXPECT_FALSE(config.allowPlainWithoutTls);

    ASSERT_EQ(config.hosts.size(), 1u);
    const HostConfig& host = config.hosts[0];
    EXPECT_TRUE(host.certificate.empty());
    EXPECT_TRUE(host.privateKey.empty());
    EXPECT_TRUE(host.selfSignedCertificate);
    EXPECT_EQ(host.registration, RegistrationPolicy::Closed);
    EXPECT_TRUE(host.admins.empty());
    EXPECT_TRUE(host.contactAddresses.empty());

    ASSERT_EQ(config.listeners.size(), 1u);
    EXPECT_EQ(config.listeners[0].type, "c2s");
    EXPECT_EQ(config.listeners[0].address, "::");
    EXPECT_EQ(config.listeners[0].tls, TlsMode::StartTls);
    EXPECT_TRUE(config.listeners[0].requireTls);

    EXPECT_EQ(config.storage.backend, "sqlite");
    EXPECT_EQ(config.storage.path, "/etc/parley/var/parley.db");
    EXPECT_EQ(config.limits.maxStanzaBytes, 262144u);
    EXPECT_EQ(config.limits.registrationInterval, std::chrono::seconds(600));
    EXPECT_EQ(config.timeouts.idle, std::chrono::seconds(900));

    EXPECT_EQ(moduleNames(config), defaultModules());
    for (const ModuleConfig& module : config.modules) {
        EXPECT_TRUE(module.options.empty()) << module.name;
    }
}

TEST(ConfigDefaults, ListenerPortFollowsTlsMode) {
    ServerConfig config = load(R"(
[[host]]
domain = "example.org"
[[listener]]
tls = "starttls"
[[listener]]
tls = "direct"
)");
    ASSERT_EQ(config.listeners.size(), 2u);
    EXPECT_EQ(config.listeners[0].port, 5222);
    EXPECT_EQ(config.listeners[1].port, 5223);
}

TEST(ConfigDefaults, EmptyModuleListEnablesNothing) {
    ServerConfig config = load(withMinimal("[modules]\nenabled = []\n"));
    EXPECT_TRUE(config.modules.empty());
}

TEST(ConfigDefaults, DevelopmentConfig) {
    ServerConfig config = developmentConfig();
    EXPECT_EQ(config.dataDir, "var");
    ASSERT_EQ(config.hosts.size(), 1u);
    EXPECT_EQ(config.hosts[0].domain, "localhost");
    EXPECT_TRUE(config.hosts[0].selfSignedCertificate);
    EXPECT_EQ(config.hosts[0].registration, RegistrationPolicy::Open);
    EXPECT_EQ(config.certificatePath(config.hosts[0]), std::filesystem::path("var/certs/localhost.crt"));
    EXPECT_EQ(config.privateKeyPath(config.hosts[0]), std::filesystem::path("var/certs/localhost.key"));

    ASSERT_EQ(config.listeners.size(), 4u);
    int starttls = 0;
    int direct = 0;
    for (const ListenerConfig& listener : config.listeners) {
        EXPECT_TRUE(listener.address == "127.0.0.1" || listener.address == "::1") << listener.address;
        if (listener.tls == TlsMode::StartTls) {
            EXPECT_EQ(listener.port, 5222);
            EXPECT_TRUE(listener.requireTls);
            ++starttls;
        } else {
            EXPECT_EQ(listener.port, 5223);
            ++direct;
        }
    }
    EXPECT_EQ(starttls, 2);
    EXPECT_EQ(direct, 2);

    EXPECT_EQ(config.storage.backend, "sqlite");
    EXPECT_EQ(config.storage.path, std::filesystem::path("var/parley.db"));
    EXPECT_EQ(moduleNames(config), defaultModules());
}

TEST(ConfigDefaults, ModuleLists) {
    EXPECT_EQ(defaultModules(),
              (std::vector<std::string>{"disco", "ping", "version", "time", "register", "roster", "offline",
                                        "blocking", "vcard", "private", "last", "carbons", "pep", "mam",
                                        "csi", "stream_management"}));
    for (const std::string& name : defaultModules()) {
        auto known = knownModules();
        EXPECT_NE(std::find(known.begin(), known.end(), name), known.end()) << name;
    }
}

TEST(ConfigDefaults, EnumSpellings) {
    EXPECT_EQ(toString(TlsMode::StartTls), "starttls");
    EXPECT_EQ(toString(TlsMode::Direct), "direct");
    EXPECT_EQ(toString(RegistrationPolicy::AdminOnly), "admin");
    EXPECT_EQ(toString(LogLevel::Warn), "warn");
}

// --- values ------------------------------------------------------------------------------------------

TEST(ConfigValues, TopLevelScalars) {
    ServerConfig config = load(withMinimal(R"(
log_level = "debug"
threads = 4
scram_iterations = 10000
allow_plain_without_tls = true
plain_login_cache = 0
)"));
    EXPECT_EQ(config.logLevel, LogLevel::Debug);
    EXPECT_EQ(config.plainLoginCache, 0u);
    EXPECT_EQ(config.threads, 4u);
    EXPECT_EQ(config.scramIterations, 10000u);
    EXPECT_TRUE(config.allowPlainWithoutTls);
}

TEST(ConfigValues, SizesAcceptIntegersAndUnits) {
    ServerConfig config = load(withMinimal(R"(
[limits]
max_stanza_bytes = 65536
outbound_queue_bytes = "8MiB"
inbound_bytes_per_second = "64KB"
)"));
    EXPECT_EQ(config.limits.maxStanzaBytes, 65536u);
    EXPECT_EQ(config.limits.outboundQueueBytes, 8u * 1024 * 1024);
    EXPECT_EQ(config.limits.inboundBytesPerSecond, 64000u);

    EXPECT_EQ(load(withMinimal("[limits]\nmax_stanza_bytes = \"1 MiB\"\n")).limits.maxStanzaBytes, 1048576u);
    EXPECT_EQ(load(withMinimal("[limits]\nmax_stanza_bytes = \"10000B\"\n")).limits.maxStanzaBytes, 10000u);
}

TEST(ConfigValues, DurationsAcceptIntegersAndUnits) {
    ServerConfig config = load(withMinimal(R"(
[limits]
registration_interval = 0
[timeouts]
negotiation = 30
idle = "1h"
write_stall = "90s"
close_grace = "0s"
)"));
    EXPECT_EQ(config.limits.registrationInterval, std::chrono::seconds(0));
    EXPECT_EQ(config.timeouts.negotiation, std::chrono::seconds(30));
    EXPECT_EQ(config.timeouts.idle, std::chrono::seconds(3600));
    EXPECT_EQ(config.timeouts.writeStall, std::chrono::seconds(90));
    EXPECT_EQ(config.timeouts.closeGrace, std::chrono::seconds(0));
    EXPECT_EQ(load(withMinimal("[timeouts]\nidle = \"1d\"\n")).timeouts.idle, std::chrono::seconds(86400));
    EXPECT_EQ(load(withMinimal("[timeouts]\nidle = \"10m\"\n")).timeouts.idle, std::chrono::seconds(600));
}

TEST(ConfigValues, EveryLimitIsRead) {
    ServerConfig config = load(withMinimal(R"(
[limits]
max_depth = 32
max_attributes = 64
max_resources_per_account = 5
outbound_queue_stanzas = 500
sasl_max_failures = 5
max_connections_per_ip = 0
max_preauth_connections_per_ip = 4
registration_limit_exempt_loopback = false
max_auth_failures_per_ip = 7
auth_failure_ban = "15m"
)"));
    EXPECT_EQ(config.limits.maxAuthFailuresPerIp, 7u);
    EXPECT_EQ(config.limits.authFailureBan, std::chrono::seconds(900));
    EXPECT_EQ(config.limits.maxDepth, 32u);
    EXPECT_EQ(config.limits.maxAttributes, 64u);
    EXPECT_EQ(config.limits.maxResourcesPerAccount, 5u);
    EXPECT_EQ(config.limits.outboundQueueStanzas, 500u);
    EXPECT_EQ(config.limits.saslMaxFailures, 5u);
    EXPECT_EQ(config.limits.maxConnectionsPerIp, 0u);
    EXPECT_EQ(config.limits.maxPreauthConnectionsPerIp, 4u);
    EXPECT_FALSE(config.limits.registrationLimitExemptLoopback);
}

TEST(ConfigValues, DomainIsPrepared) {
    ServerConfig config = load(R"(
[[host]]
domain = "Example.ORG."
admins = ["Boss@EXAMPLE.org"]
[[listener]]
)");
    ASSERT_EQ(config.hosts.size(), 1u);
    EXPECT_EQ(config.hosts[0].domain, "example.org");
    EXPECT_EQ(config.hosts[0].admins, std::vector<std::string>{"Boss@example.org"});
    EXPECT_NE(config.findHost("example.org"), nullptr);
    EXPECT_NE(config.findHost("EXAMPLE.org"), nullptr);
    EXPECT_EQ(config.findHost("example.net"), nullptr);
}

TEST(ConfigValues, IpLiteralHosts) {
    ServerConfig config = load(R"(
[[host]]
domain = "192.0.2.7"
[[host]]
domain = "[2001:db8::1]"
[[listener]]
)");
    ASSERT_EQ(config.hosts.size(), 2u);
    EXPECT_EQ(config.hosts[1].domain, "[2001:db8::1]");
}

TEST(ConfigValues, ListenerAddresses) {
    ServerConfig config = load(R"(
[[host]]
domain = "example.org"
[[listener]]
address = "*"
[[listener]]
address = "127.0.0.1"
tls = "direct"
[[listener]]
address = "::1"
port = 5280
require_tls = false
)");
    ASSERT_EQ(config.listeners.size(), 3u);
    EXPECT_EQ(config.listeners[0].address, "::");
    EXPECT_EQ(config.listeners[1].address, "127.0.0.1");
    EXPECT_EQ(config.listeners[2].address, "::1");
    EXPECT_FALSE(config.listeners[2].requireTls);
}

TEST(ConfigValues, ModuleOptionsAsText) {
    ServerConfig config = load(withMinimal(R"(
[modules]
enabled = ["ping", "version"]
[modules.version]
show_os = false
name = "Parley at Example"
[modules.ping]
interval = 30
ratio = 0.5
peers = ["a", "b"]
)"));
    EXPECT_EQ(moduleNames(config), (std::vector<std::string>{"ping", "version"}));
    const ModuleConfig* version = config.findModule("version");
    ASSERT_NE(version, nullptr);
    EXPECT_EQ(version->options.at("show_os"), "false");
    EXPECT_EQ(version->options.at("name"), "Parley at Example");
    const ModuleConfig* ping = config.findModule("ping");
    ASSERT_NE(ping, nullptr);
    EXPECT_EQ(ping->options.at("interval"), "30");
    EXPECT_EQ(ping->options.at("ratio"), "0.5");
    EXPECT_THAT(ping->options.at("peers"), HasSubstr("'a'"));
    EXPECT_EQ(config.findModule("disco"), nullptr);
}

TEST(ConfigValues, OptionsForADefaultModule) {
    ServerConfig config = load(withMinimal("[modules.version]\nshow_os = true\n"));
    EXPECT_EQ(moduleNames(config), defaultModules());
    EXPECT_EQ(config.findModule("version")->options.at("show_os"), "true");
}

TEST(ConfigValues, CustomKnownModules) {
    std::vector<std::string> known{"disco", "muc"};
    auto result = loadConfigString(withMinimal("[modules]\nenabled = [\"muc\"]\n"), kBase, known);
    ASSERT_TRUE(result) << result.error().toString();
    EXPECT_EQ(moduleNames(*result), std::vector<std::string>{"muc"});
    EXPECT_FALSE(loadConfigString(withMinimal("[modules]\nenabled = [\"muc\"]\n"), kBase));
}

// --- paths -------------------------------------------------------------------------------------------

TEST(ConfigPaths, RelativeToBaseDirAndDataDir) {
    ServerConfig config = load(R"(
data_dir = "data"
[[host]]
domain = "example.org"
certificate = "certs/example.org.crt"
private_key = "../keys/example.org.key"
[[listener]]
[storage]
path = "db/parley.db"
)");
    EXPECT_EQ(config.dataDir, "/etc/parley/data");
    EXPECT_EQ(config.hosts[0].certificate, "/etc/parley/certs/example.org.crt");
    EXPECT_EQ(config.hosts[0].privateKey, "/etc/keys/example.org.key");
    EXPECT_FALSE(config.hosts[0].selfSignedCertificate);
    EXPECT_EQ(config.certificatePath(config.hosts[0]), "/etc/parley/certs/example.org.crt");
    EXPECT_EQ(config.storage.path, "/etc/parley/data/db/parley.db");
}

TEST(ConfigPaths, AbsolutePathsStay) {
    ServerConfig config = load(withMinimal(R"(
data_dir = "/srv/parley"
[storage]
path = "/mnt/fast/parley.db"
synchronous_full = true
)"));
    EXPECT_EQ(config.dataDir, "/srv/parley");
    EXPECT_EQ(config.storage.path, "/mnt/fast/parley.db");
    EXPECT_TRUE(config.storage.synchronousFull);
    EXPECT_EQ(config.certificatePath(config.hosts[0]), "/srv/parley/certs/example.org.crt");
    EXPECT_EQ(config.privateKeyPath(config.hosts[0]), "/srv/parley/certs/example.org.key");
}

TEST(ConfigPaths, SelfSignedCanBeForcedWithExplicitPaths) {
    ServerConfig config = load(R"(
[[host]]
domain = "example.org"
certificate = "a.crt"
private_key = "a.key"
self_signed_certificate = true
[[listener]]
)");
    EXPECT_TRUE(config.hosts[0].selfSignedCertificate);
}

TEST(ConfigPaths, FileRelativePathsUseTheFilesFolder) {
    TempDir dir("paths");
    std::filesystem::path file = dir.write("parley.toml", withMinimal("data_dir = \"state\"\n"));
    auto result = loadConfigFile(file);
    ASSERT_TRUE(result) << result.error().toString();
    EXPECT_EQ(result->dataDir, (dir.path() / "state").lexically_normal());
    EXPECT_EQ(result->storage.path, (dir.path() / "state" / "parley.db").lexically_normal());
}

// --- errors: files and syntax ------------------------------------------------------------------------

TEST(ConfigErrors, MissingFile) {
    auto result = loadConfigFile("/nonexistent/parley.toml");
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().file, "/nonexistent/parley.toml");
    EXPECT_THAT(result.error().message, HasSubstr("cannot read"));
    EXPECT_THAT(result.error().toString(), HasSubstr("/nonexistent/parley.toml"));
}

TEST(ConfigErrors, FolderInsteadOfFile) {
    TempDir dir("folder");
    auto result = loadConfigFile(dir.path());
    ASSERT_FALSE(result);
    EXPECT_THAT(result.error().message, HasSubstr("is a folder; pass the configuration file itself"));
}

TEST(ConfigErrors, SyntaxErrorHasLineAndColumn) {
    ConfigError error = loadError("[[host]]\ndomain = \"example.org\"\nport = = 5\n");
    EXPECT_EQ(error.key, "");
    EXPECT_THAT(error.message, HasSubstr("syntax error"));
    EXPECT_EQ(error.line, 3u);
    EXPECT_GT(error.column, 0u);
    EXPECT_THAT(error.toString(), HasSubstr("line 3, column"));
}

TEST(ConfigErrors, SyntaxErrorInFileNamesTheFile) {
    TempDir dir("syntax");
    std::filesystem::path file = dir.write("broken.toml", "[[host]]\ndomain = \"example.org\n");
    auto result = loadConfigFile(file);
    ASSERT_FALSE(result);
    EXPECT_EQ(result.error().line, 2u);
    EXPECT_THAT(result.error().toString(), HasSubstr(file.string() + ":2:"));
}

TEST(ConfigErrors, ValueErrorsCarryTheirPosition) {
    ConfigError error = loadError("[[host]]\ndomain = \"example.org\"\n[[listener]]\nport = 70000\n");
    EXPECT_EQ(error.line, 4u);
    EXPECT_EQ(error.column, 8u);
    EXPECT_EQ(error.toString(),
              "line 4, column 8: listener[0].port: must be between 1 and 65535 (got 70000)");
}

TEST(ConfigErrors, ToStringFormats) {
    EXPECT_EQ((ConfigError{.key = "host[0].domain", .message = "bad"}).toString(), "host[0].domain: bad");
    EXPECT_EQ((ConfigError{.key = "k", .message = "m", .file = "p.toml", .line = 3, .column = 9}).toString(),
              "p.toml:3:9: k: m");
    EXPECT_EQ((ConfigError{.key = "", .message = "m", .file = "p.toml"}).toString(), "p.toml: m");
}

// --- errors: unknown keys ----------------------------------------------------------------------------

TEST(ConfigErrors, UnknownKeysSuggestTheClosest) {
    EXPECT_CONFIG_ERROR(withMinimal("log_levle = \"info\""), "log_levle", "did you mean \"log_level\"?");
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\nmaxStanzaBytes = 20000"), "limits.maxStanzaBytes",
                        "did you mean \"max_stanza_bytes\"?");
    EXPECT_CONFIG_ERROR(withMinimal("[timeouts]\nwrite-stall = 5"), "timeouts.write-stall",
                        "did you mean \"write_stall\"?");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\n[[listener]]\nprot = 5222\n", "listener[0].prot",
                        "did you mean \"port\"?");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\nregistraton = \"open\"\n[[listener]]\n",
                        "host[0].registraton", "did you mean \"registration\"?");
    EXPECT_CONFIG_ERROR(withMinimal("[storage]\nbackend = \"sqlite\"\nsynchronous = true"),
                        "storage.synchronous", "did you mean \"synchronous_full\"?");
    EXPECT_CONFIG_ERROR(withMinimal("[[hosts]]\ndomain = \"example.net\""), "hosts",
                        "did you mean \"host\"?");
}

TEST(ConfigErrors, KeysInTheWrongSection) {
    EXPECT_CONFIG_ERROR(withMinimal("max_stanza_bytes = 20000"), "max_stanza_bytes",
                        "unknown key here; max_stanza_bytes belongs in [limits]");
    EXPECT_CONFIG_ERROR(withMinimal("[timeouts]\nregistration_interval = 5"),
                        "timeouts.registration_interval", "belongs in [limits]");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\n[[listener]]\nregistration = \"open\"\n",
                        "listener[0].registration", "belongs in [[host]]");
    // The classic TOML slip: a top-level key written below a section header belongs to that section.
    EXPECT_CONFIG_ERROR(std::string(kMinimal) + "log_level = \"debug\"\n", "listener[0].log_level",
                        "log_level is a top-level key: move it above the first [section]");
}

TEST(ConfigErrors, UnknownKeyWithoutSuggestionListsTheAllowedOnes) {
    EXPECT_CONFIG_ERROR(withMinimal("[storage]\ncolour = \"blue\""), "storage.colour",
                        "the keys allowed here are backend, path, synchronous_full");
}

// --- errors: types -----------------------------------------------------------------------------------

TEST(ConfigErrors, WrongTypes) {
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\n[[listener]]\nport = \"5222\"\n",
                        "listener[0].port", "expected an integer, got a string");
    EXPECT_CONFIG_ERROR(withMinimal("threads = 1.5"), "threads",
                        "expected an integer, got a floating-point number");
    EXPECT_CONFIG_ERROR(withMinimal("allow_plain_without_tls = \"no\""), "allow_plain_without_tls",
                        "expected a boolean (true or false), got a string");
    EXPECT_CONFIG_ERROR(withMinimal("data_dir = 5"), "data_dir", "expected a string, got an integer");
    EXPECT_CONFIG_ERROR(withMinimal("data_dir = \"\""), "data_dir", "must not be empty");
    EXPECT_CONFIG_ERROR(withMinimal("data_dir = \"~/parley\""), "data_dir", "\"~\" is not expanded");
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\nmax_stanza_bytes = 1.5e6"), "limits.max_stanza_bytes",
                        "expected a size");
    EXPECT_CONFIG_ERROR(withMinimal("[timeouts]\nidle = true"), "timeouts.idle",
                        "expected a duration (an integer number of seconds");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = 5\n[[listener]]\n", "host[0].domain",
                        "expected a string, got an integer");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\nadmins = \"admin@example.org\"\n[[listener]]\n",
                        "host[0].admins", "expected an array of strings, got a string");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\nadmins = [\"a@example.org\", 5]\n[[listener]]\n",
                        "host[0].admins[1]", "expected a string, got an integer");
    EXPECT_CONFIG_ERROR(withMinimal("storage = \"sqlite\""), "storage",
                        "expected a table ([storage]), got a string");
    EXPECT_CONFIG_ERROR(withMinimal("limits = 5"), "limits", "expected a table ([limits])");
    EXPECT_CONFIG_ERROR(withMinimal("timeouts = []"), "timeouts",
                        "expected a table ([timeouts]), got an array");
    EXPECT_CONFIG_ERROR(withMinimal("modules = [\"ping\"]"), "modules", "expected a table ([modules])");
    EXPECT_CONFIG_ERROR(withMinimal("[modules]\nenabled = \"ping\""), "modules.enabled",
                        "expected an array of strings");
}

TEST(ConfigErrors, SectionsMustBeArraysOfTables) {
    EXPECT_CONFIG_ERROR("[host]\ndomain = \"example.org\"\n[[listener]]\n", "host",
                        "write [[host]] instead of [host]");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\n[listener]\nport = 5222\n", "listener",
                        "write [[listener]] instead of [listener]");
    EXPECT_CONFIG_ERROR("host = [1]\n[[listener]]\n", "host[0]", "expected a table, got an integer");
    EXPECT_CONFIG_ERROR("host = \"example.org\"\n[[listener]]\n", "host",
                        "expected an array of tables ([[host]])");
}

// --- errors: ranges ----------------------------------------------------------------------------------

TEST(ConfigErrors, Ranges) {
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\n[[listener]]\nport = 0\n", "listener[0].port",
                        "must be between 1 and 65535 (got 0)");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\n[[listener]]\nport = 70000\n",
                        "listener[0].port", "must be between 1 and 65535 (got 70000)");
    EXPECT_CONFIG_ERROR(withMinimal("threads = 300"), "threads", "must be between 0 and 256 (got 300)");
    EXPECT_CONFIG_ERROR(withMinimal("threads = -1"), "threads", "must be between 0 and 256 (got -1)");
    EXPECT_CONFIG_ERROR(withMinimal("scram_iterations = 1000"), "scram_iterations",
                        "must be between 4096 and 10000000 (got 1000); RFC 7677");
    EXPECT_CONFIG_ERROR(withMinimal("plain_login_cache = -1"), "plain_login_cache",
                        "must be between 0 and 10000000 (got -1)");
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\nmax_stanza_bytes = 9999"), "limits.max_stanza_bytes",
                        "must be at least 10000 bytes (got 9999)");
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\nmax_stanza_bytes = \"8KiB\""), "limits.max_stanza_bytes",
                        "must be at least 10000 bytes (got 8192); RFC 6120");
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\nmax_stanza_bytes = -5"), "limits.max_stanza_bytes",
                        "must not be negative");
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\nmax_depth = 0"), "limits.max_depth",
                        "must be at least 1 (got 0)");
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\nsasl_max_failures = 0"), "limits.sasl_max_failures",
                        "must be at least 1");
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\nmax_connections_per_ip = -1"), "limits.max_connections_per_ip",
                        "must be at least 0 (got -1)");
    EXPECT_CONFIG_ERROR(withMinimal("[timeouts]\nnegotiation = 0"), "timeouts.negotiation",
                        "must be at least 1 seconds (got 0)");
    EXPECT_CONFIG_ERROR(withMinimal("[timeouts]\nidle = -3"), "timeouts.idle", "must not be negative");
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\noutbound_queue_bytes = \"100KiB\""),
                        "limits.outbound_queue_bytes", "must be at least limits.max_stanza_bytes (262144)");
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\nmax_stanza_bytes = \"8MiB\""), "limits.max_stanza_bytes",
                        "limits.outbound_queue_bytes (4194304) must be at least");
}

TEST(ConfigErrors, MalformedSizesAndDurations) {
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\nmax_stanza_bytes = \"12 parsecs\""), "limits.max_stanza_bytes",
                        "\"12 parsecs\" is not a size");
    EXPECT_CONFIG_ERROR(withMinimal("[limits]\nregistration_interval = \"10 minutes\""),
                        "limits.registration_interval", "\"10 minutes\" is not a duration");
}

// --- errors: enumerations ----------------------------------------------------------------------------

TEST(ConfigErrors, BadEnumValuesListTheAllowedOnes) {
    EXPECT_CONFIG_ERROR(
        withMinimal("log_level = \"verbose\""), "log_level",
        "must be one of \"trace\", \"debug\", \"info\", \"warn\", \"error\" (got \"verbose\")");
    EXPECT_CONFIG_ERROR(withMinimal("log_level = \"warning\""), "log_level", "did you mean \"warn\"?");
    EXPECT_CONFIG_ERROR(
        "[[host]]\ndomain = \"example.org\"\nregistration = \"opne\"\n[[listener]]\n", "host[0].registration",
        "must be one of \"open\", \"closed\", \"admin\" (got \"opne\"); did you mean \"open\"?");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\n[[listener]]\ntls = \"ssl\"\n",
                        "listener[0].tls", "must be one of \"starttls\", \"direct\" (got \"ssl\")");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\n[[listener]]\ntype = \"s2s\"\n",
                        "listener[0].type", "must be one of \"c2s\" (got \"s2s\")");
    EXPECT_CONFIG_ERROR(withMinimal("[storage]\nbackend = \"postgres\""), "storage.backend",
                        "must be one of \"sqlite\", \"memory\" (got \"postgres\")");
}

// --- errors: hosts -----------------------------------------------------------------------------------

TEST(ConfigErrors, HostsAndListenersAreRequired) {
    EXPECT_CONFIG_ERROR("[[listener]]\nport = 5222\n", "host",
                        "no virtual host is configured; add a [[host]]");
    EXPECT_CONFIG_ERROR("host = []\n[[listener]]\n", "host", "no virtual host is configured");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\n", "listener", "no listener is configured");
    EXPECT_CONFIG_ERROR("", "host", "no virtual host");
}

TEST(ConfigErrors, HostDomains) {
    EXPECT_CONFIG_ERROR("[[host]]\nregistration = \"open\"\n[[listener]]\n", "host[0].domain", "missing");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"exa mple.org\"\n[[listener]]\n", "host[0].domain",
                        "may only contain letters, digits");
    EXPECT_CONFIG_ERROR(
        "[[host]]\ndomain = \"b\xc3\xbc"
        "cher.example\"\n[[listener]]\n",
        "host[0].domain", "xn--");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"2001:db8::1\"\n[[listener]]\n", "host[0].domain",
                        "in brackets");
    EXPECT_CONFIG_ERROR(
        "[[host]]\ndomain = \"example.org\"\n[[host]]\ndomain = \"chat.example.org\"\n[[host]]\n"
        "domain = \"Example.org.\"\n[[listener]]\n",
        "host[2].domain", "\"example.org\" is already configured by host[0]");
}

TEST(ConfigErrors, CertificateAndKeyGoTogether) {
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\ncertificate = \"a.crt\"\n[[listener]]\n",
                        "host[0].private_key", "certificate is set, so set private_key too");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\nprivate_key = \"a.key\"\n[[listener]]\n",
                        "host[0].certificate", "private_key is set, so set certificate too");
}

TEST(ConfigErrors, Admins) {
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\nadmins = [\"admin\"]\n[[listener]]\n",
                        "host[0].admins[0]", "\"admin\" is not a bare JID; write it as user@domain");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\nadmins = [\"@example.org\"]\n[[listener]]\n",
                        "host[0].admins[0]", "is not a bare JID");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\nadmins = [\"a@b@example.org\"]\n[[listener]]\n",
                        "host[0].admins[0]", "is not a bare JID");
    EXPECT_CONFIG_ERROR(
        "[[host]]\ndomain = \"example.org\"\nadmins = [\"ok@example.org\", \"a@example.org/pc\"]\n"
        "[[listener]]\n",
        "host[0].admins[1]", "has a resource; admins are bare JIDs, write \"a@example.org\"");
    EXPECT_CONFIG_ERROR(
        "[[host]]\ndomain = \"example.org\"\nadmins = [\"admin@example.net\"]\n[[listener]]\n",
        "host[0].admins[0]", "is not on a host of this server (example.org)");
    // An admin may have the account on another configured host.
    ServerConfig config = load(
        "[[host]]\ndomain = \"example.org\"\nadmins = [\"ops@example.net\"]\n[[host]]\ndomain = "
        "\"example.net\"\n"
        "[[listener]]\n");
    EXPECT_EQ(config.hosts[0].admins, std::vector<std::string>{"ops@example.net"});
}

TEST(ConfigErrors, ContactAddresses) {
    EXPECT_CONFIG_ERROR(
        "[[host]]\ndomain = \"example.org\"\n[host.contact_addresses]\nadmin-address = "
        "[\"mailto:a@example.org\"]\n"
        "[[listener]]\n",
        "host[0].contact_addresses.admin-address", "did you mean \"admin-addresses\"?");
    EXPECT_CONFIG_ERROR(
        "[[host]]\ndomain = \"example.org\"\n[host.contact_addresses]\nadmin-addresses = "
        "[\"a@example.org\"]\n"
        "[[listener]]\n",
        "host[0].contact_addresses.admin-addresses[0]", "is not a URI; write e.g. \"mailto:");
    EXPECT_CONFIG_ERROR(
        "[[host]]\ndomain = \"example.org\"\ncontact_addresses = \"mailto:a@example.org\"\n[[listener]]\n",
        "host[0].contact_addresses", "expected a table");
}

// --- errors: listeners -------------------------------------------------------------------------------

TEST(ConfigErrors, ListenerAddresses) {
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\n[[listener]]\naddress = \"localhost\"\n",
                        "listener[0].address",
                        "\"localhost\" is not an IP address; use an IP address such as");
    EXPECT_CONFIG_ERROR("[[host]]\ndomain = \"example.org\"\n[[listener]]\naddress = \"[::1]\"\n",
                        "listener[0].address", "write IPv6 addresses without brackets");
}

TEST(ConfigErrors, DuplicateListeners) {
    EXPECT_CONFIG_ERROR(
        "[[host]]\ndomain = \"example.org\"\n[[listener]]\nport = 5222\n[[listener]]\nport = 5222\n",
        "listener[1]", "address \"::\" port 5222 is already used by listener[0]");
    // "*", "::" and "::0" are the same socket address.
    EXPECT_CONFIG_ERROR(
        "[[host]]\ndomain = \"example.org\"\n[[listener]]\naddress = \"*\"\n[[listener]]\naddress = "
        "\"::0\"\n",
        "listener[1]", "is already used by listener[0]");
    // The same port on different addresses is fine.
    ServerConfig config = load(
        "[[host]]\ndomain = \"example.org\"\n[[listener]]\naddress = \"127.0.0.1\"\n[[listener]]\n"
        "address = \"::1\"\n");
    EXPECT_EQ(config.listeners.size(), 2u);
}

TEST(ConfigErrors, RequireTlsOnDirectListener) {
    EXPECT_CONFIG_ERROR(
        "[[host]]\ndomain = \"example.org\"\n[[listener]]\ntls = \"direct\"\nrequire_tls = false\n",
        "listener[0].require_tls", "a direct TLS listener is always encrypted");
}

// --- errors: modules ---------------------------------------------------------------------------------

TEST(ConfigErrors, Modules) {
    EXPECT_CONFIG_ERROR(withMinimal("[modules]\nenabled = [\"ping\", \"discoo\"]"), "modules.enabled[1]",
                        "there is no module \"discoo\"; did you mean \"disco\"?");
    EXPECT_CONFIG_ERROR(withMinimal("[modules]\nenabled = [\"pubsub\"]"), "modules.enabled[0]",
                        "the known modules are \"disco\", \"ping\"");
    EXPECT_CONFIG_ERROR(withMinimal("[modules]\nenabled = [\"ping\", \"time\", \"ping\"]"),
                        "modules.enabled[2]", "\"ping\" is listed twice");
    EXPECT_CONFIG_ERROR(withMinimal("[modules]\nenabled = [\"ping\"]\n[modules.version]\nshow_os = true"),
                        "modules.version",
                        "options for a module that is not enabled; add \"version\" to "
                        "modules.enabled");
    EXPECT_CONFIG_ERROR(withMinimal("[modules.muc]\nrooms = 5"), "modules.muc", "there is no module \"muc\"");
    EXPECT_CONFIG_ERROR(withMinimal("[modules]\nenable = [\"ping\"]"), "modules.enable",
                        "did you mean \"enabled\"?");
    EXPECT_CONFIG_ERROR(withMinimal("[modules]\nenabled = [5]"), "modules.enabled[0]",
                        "expected a string, got an integer");
}

}  // namespace
}  // namespace parley::server
