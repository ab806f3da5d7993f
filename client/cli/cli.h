#pragma once
// The pieces of the `parley` command-line client that are logic, not I/O, so that tests can reach
// them: argument parsing, the account file, where the password comes from, exit codes, JSON lines.
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/assert/source_location.hpp>

#include "parley/base/json.h"
#include "parley/base/result.h"
#include "parley/client/error.h"
#include "parley/client/options.h"
#include "parley/client/roster.h"
#include "parley/client/vcard.h"

namespace parley::cli {

/// A problem with the command line, a file or the environment, in words for the user.
struct Problem {
    std::string message;
};
/// Lets Result<T, Problem>::value() compile; calling it on an error is a programming error.
[[noreturn]] void throw_exception_from_error(const Problem& problem, const boost::source_location& location);

/// Exit codes a script can rely on (also in `parley --help` and docs/client.md).
enum ExitCode : int {
    kOk = 0,
    kFailed = 1,       ///< the server refused the request (a stanza error) or something else failed
    kUsage = 2,        ///< bad arguments, missing account, unreadable file
    kUnreachable = 3,  ///< DNS, TCP or TLS (certificate) failure
    kAuthFailed = 4,   ///< wrong user name or password
    kTimeout = 5,      ///< the server did not answer in time
};
/// The exit code for a library error.
int exitCodeFor(const client::Error& error);

struct Args {
    std::string command;
    std::vector<std::string> positional;
    std::map<std::string, std::string> options;  ///< "--host" -> "example.org"
    std::set<std::string> flags;                 ///< "--json"
    bool has(const std::string& flag) const { return flags.count(flag) != 0; }
    std::string option(const std::string& name, const std::string& fallback = {}) const;
};
/// Parses `parley [options] COMMAND [args]`; options may come anywhere. The error is for people.
Result<Args, Problem> parseArgs(const std::vector<std::string>& argv);

/// What `parley login` stores (never the password itself; see passwordFile).
struct Account {
    std::string jid;
    std::string host;
    std::uint16_t port = 0;
    std::string tls;  ///< "require" (default), "direct", "starttls", "plaintext"
    std::string trustCertificate;
    std::string trustFingerprint;
    std::string resource;
    std::string passwordFile;  ///< set by `login --remember-password`
};
/// $XDG_CONFIG_HOME/parley, else $HOME/.config/parley; `override` (--config-dir) wins.
std::filesystem::path configDirectory(const std::string& override);
/// Reads `dir/account` ("key = value" lines). nullopt if there is none; an error names the line.
Result<std::optional<Account>, Problem> loadAccount(const std::filesystem::path& dir);
Result<void, Problem> saveAccount(const std::filesystem::path& dir, const Account& account);
/// The account file with the command line's options applied on top.
Result<Account, Problem> accountFromArgs(const Args& args, std::optional<Account> stored);
/// Library options for an account and password.
Result<client::ClientOptions, Problem> clientOptions(const Account& account, std::string password);

/// Reads the password from a file: its first line, without the line end.
Result<std::string, Problem> readPasswordFile(const std::string& path);
/// Where the password comes from, in order: --password-file, PARLEY_PASSWORD (`environment`, what
/// getenv gave), the account's remembered password file, else `prompt` (nullopt: no terminal). Never
/// from the command line itself, where ps(1) and shell history would show it.
Result<std::string, Problem> resolvePassword(const Args& args, const Account& account,
                                             const std::optional<std::string>& environment,
                                             const std::function<std::optional<std::string>()>& prompt);

/// One JSON string literal (RFC 8259 escaping), shared with parley-bench.
using parley::jsonString;

/// A roster item as `parley roster list` prints it: tab-separated jid, name, subscription (" (asked)"
/// while a request is pending), or with `json` one object with the groups too.
std::string formatRosterItem(const client::RosterItem& item, bool json);
/// A vCard as `parley vcard` prints it: "field: value" lines for the fields that are set, or with
/// `json` one object with every field (empty strings for the unset ones).
std::string formatVCard(const client::VCard& card, bool json);

}  // namespace parley::cli
