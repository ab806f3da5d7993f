#include "cli.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace parley::cli {

namespace {

// Options that take a value; everything else starting with "--" is a flag.
const std::set<std::string> kValueOptions{
    "--account",           "--config-dir", "--host",     "--port",    "--password-file", "--trust-cert",
    "--trust-fingerprint", "--limit",      "--resource", "--timeout", "--name",          "--group",
    "--nickname",          "--email",      "--url",      "--note"};
const std::set<std::string> kFlags{
    "--json", "--direct-tls",  "--starttls", "--plaintext", "--remember-password",
    "--help", "--no-receipts", "--verbose"};

std::string trim(std::string_view text) {
    const auto begin = text.find_first_not_of(" \t\r");
    if (begin == std::string_view::npos)
        return {};
    const auto end = text.find_last_not_of(" \t\r");
    return std::string(text.substr(begin, end - begin + 1));
}

// A password as a successful result (Problem is constructible from a string, so say which one).
Result<std::string, Problem> password(std::string text) {
    return Result<std::string, Problem>(boost::system::in_place_value, std::move(text));
}

}  // namespace

void throw_exception_from_error(const Problem& problem, const boost::source_location& location) {
    throw std::logic_error("Result::value() called on a problem (" + problem.message + ") at " +
                           location.file_name() + ":" + std::to_string(location.line()));
}

int exitCodeFor(const client::Error& error) {
    using client::ErrorKind;
    switch (error.kind) {
        case ErrorKind::Dns:
        case ErrorKind::Network:
        case ErrorKind::Tls:
            return kUnreachable;
        case ErrorKind::Sasl:
            return kAuthFailed;
        case ErrorKind::Timeout:
            return kTimeout;
        case ErrorKind::Usage:
            return kUsage;
        default:
            return kFailed;
    }
}

std::string Args::option(const std::string& name, const std::string& fallback) const {
    auto it = options.find(name);
    return it == options.end() ? fallback : it->second;
}

Result<Args, Problem> parseArgs(const std::vector<std::string>& argv) {
    Args args;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        std::string word = argv[i];
        if (word == "--password" || word.starts_with("--password=")) {
            return Problem{std::string(
                "passwords are never taken from the command line (ps and shell history would show "
                "them): use the prompt, PARLEY_PASSWORD or --password-file FILE")};
        }
        if (word.starts_with("--")) {
            std::string value;
            const auto equals = word.find('=');
            const bool inlineValue = equals != std::string::npos;
            if (inlineValue) {
                value = word.substr(equals + 1);
                word = word.substr(0, equals);
            }
            if (kValueOptions.count(word)) {
                if (!inlineValue) {
                    if (i + 1 >= argv.size())
                        return Problem{word + " needs a value"};
                    value = argv[++i];
                }
                args.options[word] = value;
            } else if (kFlags.count(word) && !inlineValue) {
                args.flags.insert(word);
            } else {
                return Problem{"unknown option " + word + " (see parley --help)"};
            }
        } else if (word == "-h") {
            args.flags.insert("--help");
        } else if (args.command.empty()) {
            args.command = word;
        } else {
            args.positional.push_back(word);
        }
    }
    return args;
}

std::filesystem::path configDirectory(const std::string& override) {
    if (!override.empty())
        return override;
    if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg)
        return std::filesystem::path(xdg) / "parley";
    const char* home = std::getenv("HOME");
    return std::filesystem::path(home ? home : ".") / ".config" / "parley";
}

Result<std::optional<Account>, Problem> loadAccount(const std::filesystem::path& dir) {
    const auto path = dir / "account";
    std::ifstream in(path);
    if (!in)
        return std::optional<Account>{};
    Account account;
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        const std::string text = trim(line);
        if (text.empty() || text[0] == '#')
            continue;
        const auto equals = text.find('=');
        if (equals == std::string::npos)
            return Problem{path.string() + ":" + std::to_string(number) + ": expected 'key = value'"};
        const std::string key = trim(text.substr(0, equals));
        const std::string value = trim(text.substr(equals + 1));
        if (key == "jid")
            account.jid = value;
        else if (key == "host")
            account.host = value;
        else if (key == "port")
            account.port = static_cast<std::uint16_t>(std::atoi(value.c_str()));
        else if (key == "tls")
            account.tls = value;
        else if (key == "trust_cert")
            account.trustCertificate = value;
        else if (key == "trust_fingerprint")
            account.trustFingerprint = value;
        else if (key == "resource")
            account.resource = value;
        else if (key == "password_file")
            account.passwordFile = value;
        else
            return Problem{path.string() + ":" + std::to_string(number) + ": unknown key '" + key + "'"};
    }
    return std::optional<Account>{account};
}

Result<void, Problem> saveAccount(const std::filesystem::path& dir, const Account& account) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        return Problem{"cannot create " + dir.string() + ": " + ec.message()};
    std::ostringstream out;
    out << "# written by `parley login`; the password is not stored here\n";
    out << "jid = " << account.jid << "\n";
    auto put = [&out](const char* key, const std::string& value) {
        if (!value.empty())
            out << key << " = " << value << "\n";
    };
    put("host", account.host);
    if (account.port != 0)
        out << "port = " << account.port << "\n";
    put("tls", account.tls);
    put("trust_cert", account.trustCertificate);
    put("trust_fingerprint", account.trustFingerprint);
    put("resource", account.resource);
    put("password_file", account.passwordFile);
    const auto path = dir / "account";
    std::ofstream file(path, std::ios::trunc);
    file << out.str();
    if (!file)
        return Problem{"cannot write " + path.string()};
    return {};
}

Result<Account, Problem> accountFromArgs(const Args& args, std::optional<Account> stored) {
    Account account = stored.value_or(Account{});
    if (auto jid = args.option("--account"); !jid.empty())
        account.jid = jid;
    if (auto host = args.option("--host"); !host.empty())
        account.host = host;
    if (auto port = args.option("--port"); !port.empty()) {
        const int value = std::atoi(port.c_str());
        if (value <= 0 || value > 65535)
            return Problem{"--port " + port + " is not a port number"};
        account.port = static_cast<std::uint16_t>(value);
    }
    if (args.has("--direct-tls"))
        account.tls = "direct";
    if (args.has("--starttls"))
        account.tls = "starttls";
    if (args.has("--plaintext"))
        account.tls = "plaintext";
    if (auto file = args.option("--trust-cert"); !file.empty())
        account.trustCertificate = std::filesystem::absolute(file).string();
    if (auto fp = args.option("--trust-fingerprint"); !fp.empty())
        account.trustFingerprint = fp;
    if (auto resource = args.option("--resource"); !resource.empty())
        account.resource = resource;
    if (account.jid.empty())
        return Problem{std::string("no account: run `parley login JID` first, or pass --account JID")};
    return account;
}

Result<client::ClientOptions, Problem> clientOptions(const Account& account, std::string password) {
    client::ClientOptions options;
    options.jid = account.jid;
    options.password = std::move(password);
    options.host = account.host;
    options.port = account.port;
    options.resource = account.resource;
    options.trust.certificateFile = account.trustCertificate;
    options.trust.sha256Fingerprint = account.trustFingerprint;
    if (account.tls.empty() || account.tls == "require")
        options.tls = client::TlsMode::RequireTls;
    else if (account.tls == "direct")
        options.tls = client::TlsMode::DirectTls;
    else if (account.tls == "starttls")
        options.tls = client::TlsMode::StartTls;
    else if (account.tls == "plaintext")
        options.tls = client::TlsMode::AllowPlaintext;
    else
        return Problem{"tls = " + account.tls + " is not one of require, direct, starttls, plaintext"};
    return options;
}

Result<std::string, Problem> readPasswordFile(const std::string& path) {
    std::ifstream in(path);
    if (!in)
        return Problem{"cannot read the password file " + path};
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    if (line.empty())
        return Problem{"the password file " + path + " is empty (the password is its first line)"};
    return password(std::move(line));
}

Result<std::string, Problem> resolvePassword(const Args& args, const Account& account,
                                             const std::optional<std::string>& environment,
                                             const std::function<std::optional<std::string>()>& prompt) {
    if (auto file = args.option("--password-file"); !file.empty())
        return readPasswordFile(file);
    if (environment && !environment->empty())
        return password(*environment);
    if (!account.passwordFile.empty())
        return readPasswordFile(account.passwordFile);
    if (auto typed = prompt())
        return password(*typed);
    return Problem{
        std::string("no password: standard input is not a terminal, so set PARLEY_PASSWORD or pass "
                    "--password-file FILE")};
}

std::string formatRosterItem(const client::RosterItem& item, bool json) {
    if (!json)
        return item.jid + "\t" + item.name + "\t" + std::string(toString(item.subscription)) +
               (item.pendingOut ? " (asked)" : "");
    std::string groups;
    for (const std::string& group : item.groups)
        groups += (groups.empty() ? "" : ",") + jsonString(group);
    return "{\"jid\":" + jsonString(item.jid) + ",\"name\":" + jsonString(item.name) +
           ",\"subscription\":" + jsonString(toString(item.subscription)) +
           ",\"asked\":" + (item.pendingOut ? "true" : "false") + ",\"groups\":[" + groups + "]}";
}

std::string formatVCard(const client::VCard& card, bool json) {
    const std::pair<const char*, const std::string*> fields[] = {{"name", &card.fullName},
                                                                 {"nickname", &card.nickname},
                                                                 {"email", &card.email},
                                                                 {"url", &card.url},
                                                                 {"note", &card.note}};
    std::string out;
    for (const auto& [key, value] : fields) {
        if (json)
            out += std::string(out.empty() ? "{" : ",") + "\"" + key + "\":" + jsonString(*value);
        else if (!value->empty())
            out += std::string(key) + ": " + *value + "\n";
    }
    return json ? out + "}\n" : out;
}

}  // namespace parley::cli
