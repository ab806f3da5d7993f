// parleyctl: administration, in the manner of prosodyctl and ejabberdctl.
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <thread>

#include "admin_socket.h"
#include "parley/jid/jid.h"
#include "parley/modules/registry.h"
#include "parley/sasl/scram_credential.h"
#include "parley/server/config.h"
#include "parley/server/version.h"
#include "parley/storage/storage.h"

using namespace parley;
using namespace parley::server;
namespace asio = boost::asio;

namespace {

int usage(int code) {
    (code == 0 ? std::cout : std::cerr)
        << "usage: parleyctl [--config FILE] COMMAND [ARGS]\n"
           "commands:\n"
           "  adduser JID [--password-file F]   create an account (password from a prompt, the\n"
           "                                    PARLEY_PASSWORD variable or a file)\n"
           "  adduser-range PREFIX FROM TO DOMAIN [--password-file F] [--same-salt]\n"
           "                                    create the accounts PREFIX<FROM>..PREFIX<TO>@DOMAIN\n"
           "                                    with one password (test and benchmark accounts), in\n"
           "                                    one transaction per 10000; names taken are skipped.\n"
           "                                    --same-salt derives the keys once for all (fast; the\n"
           "                                    accounts then share their stored keys)\n"
           "  passwd JID [--password-file F]    set an account's password\n"
           "  deluser JID                       delete an account and everything stored for it; the\n"
           "                                    name stays taken (a tombstone) until released\n"
           "  release JID                       free the name of a deleted account, so that it can be\n"
           "                                    registered again (its old contacts may still write to it)\n"
           "  users [DOMAIN]                    list accounts (all configured domains by default)\n"
           "  sessions                          list connected sessions of the running server\n"
           "  status                            whether the server runs, with counts\n"
           "  check                             validate the configuration\n"
           "  modules                           list the modules this build has\n"
           "without --config, the development default of `make run` is used (data in ./var)\n";
    return code;
}

// Reads a password without echoing it; the command line never carries one (it would show in `ps`).
std::optional<std::string> readPassword(const std::string& passwordFile) {
    if (!passwordFile.empty()) {
        std::ifstream in(passwordFile);
        std::string password;
        if (!in || !std::getline(in, password)) {
            std::cerr << "parleyctl: cannot read a password from " << passwordFile << "\n";
            return std::nullopt;
        }
        return password;
    }
    if (const char* env = std::getenv("PARLEY_PASSWORD"))
        return std::string(env);
    if (!isatty(STDIN_FILENO)) {
        std::string password;
        if (std::getline(std::cin, password))
            return password;
        std::cerr << "parleyctl: no password given (use a terminal, PARLEY_PASSWORD or --password-file)\n";
        return std::nullopt;
    }
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios silent = old;
    silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    std::string first;
    std::string second;
    tcsetattr(STDIN_FILENO, TCSANOW, &silent);
    std::cerr << "Password: " << std::flush;
    std::getline(std::cin, first);
    std::cerr << "\nRepeat password: " << std::flush;
    std::getline(std::cin, second);
    std::cerr << "\n";
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    if (first != second) {
        std::cerr << "parleyctl: the passwords differ\n";
        return std::nullopt;
    }
    return first;
}

// Unix seconds as "2024-05-01 12:00:00 UTC".
std::string utcTime(std::int64_t unixSeconds) {
    const auto time = static_cast<std::time_t>(unixSeconds);
    std::tm utc{};
    gmtime_r(&time, &utc);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
    return text;
}

template <class Awaitable>
auto runSync(Awaitable awaitable) {
    asio::io_context context;
    auto future = asio::co_spawn(context, std::move(awaitable), asio::use_future);
    context.run();
    return future.get();
}

// adduser-range: PBKDF2 for every account is the slow part (three hashes, about 9 ms per account
// here), so it runs on every core; the rows go in batches, one transaction each.
int addUserRange(storage::Storage& store, const ServerConfig& config, const std::string& prefix,
                 std::uint64_t from, std::uint64_t to, const std::string& domain, const std::string& password,
                 bool sameSalt) {
    constexpr std::uint64_t kBatch = 10000;
    const auto started = std::chrono::steady_clock::now();
    auto lastProgress = started;
    std::uint64_t created = 0;
    std::uint64_t skipped = 0;
    std::vector<sasl::ScramCredential> shared;
    if (sameSalt) {
        shared = sasl::deriveAllScramCredentials(password, config.scramIterations);
    }
    const unsigned workers = std::max(1u, std::thread::hardware_concurrency());
    for (std::uint64_t first = from; first <= to; first += kBatch) {
        const std::uint64_t last = std::min(to, first + kBatch - 1);
        std::vector<storage::Account> batch(last - first + 1);
        std::atomic<std::uint64_t> next{0};
        auto derive = [&] {
            for (std::uint64_t i = next.fetch_add(1); i < batch.size(); i = next.fetch_add(1)) {
                storage::Account& account = batch[i];
                account.host = domain;
                account.username = prefix + std::to_string(first + i);
                account.createdAt = static_cast<std::int64_t>(std::time(nullptr));
                account.credentials =
                    sameSalt ? shared : sasl::deriveAllScramCredentials(password, config.scramIterations);
            }
        };
        std::vector<std::thread> threads;
        for (unsigned w = 1; w < workers && !sameSalt; ++w) {
            threads.emplace_back(derive);
        }
        derive();
        for (auto& thread : threads) {
            thread.join();
        }
        auto inserted = runSync(store.accounts().createAccounts(std::move(batch)));
        if (!inserted) {
            std::cerr << "parleyctl: cannot create the accounts " << prefix << first << ".." << prefix << last
                      << "@" << domain << ": " << storage::toString(inserted.error()) << "\n";
            return 1;
        }
        created += *inserted;
        skipped += last - first + 1 - *inserted;
        const auto now = std::chrono::steady_clock::now();
        if (now - lastProgress >= std::chrono::seconds(1) || last == to) {
            lastProgress = now;
            const double seconds = std::chrono::duration<double>(now - started).count();
            std::cerr << "parleyctl: " << (last - from + 1) << "/" << (to - from + 1) << " accounts done ("
                      << static_cast<long>(static_cast<double>(last - from + 1) / std::max(seconds, 1e-3))
                      << "/s)\n";
        }
    }
    std::cout << "created " << created << " accounts " << prefix << from << ".." << prefix << to << "@"
              << domain;
    if (skipped > 0) {
        std::cout << " (" << skipped << " names were taken and skipped)";
    }
    std::cout << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string configFile;
    std::string passwordFile;
    bool sameSalt = false;
    std::vector<std::string> positional;
    for (std::size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--config" && i + 1 < args.size()) {
            configFile = args[++i];
        } else if (args[i] == "--password-file" && i + 1 < args.size()) {
            passwordFile = args[++i];
        } else if (args[i] == "--same-salt") {
            sameSalt = true;
        } else if (args[i] == "--help" || args[i] == "-h") {
            return usage(0);
        } else if (args[i] == "--version") {
            std::cout << "parleyctl " << kParleyVersion << "\n";
            return 0;
        } else {
            positional.push_back(args[i]);
        }
    }
    if (positional.empty())
        return usage(2);
    const std::string command = positional[0];

    ServerConfig config;
    if (configFile.empty()) {
        config = developmentConfig();
    } else {
        auto loaded = loadConfigFile(configFile);
        if (!loaded) {
            std::cerr << "parleyctl: " << configFile << ": " << loaded.error().toString() << "\n";
            return 2;
        }
        config = std::move(*loaded);
    }
    const auto socketPath = config.dataDir / "parleyd.sock";

    if (command == "check") {
        std::cout << "configuration OK: " << config.hosts.size() << " host(s), " << config.listeners.size()
                  << " listener(s), storage " << config.storage.backend << "\n";
        return 0;
    }
    if (command == "modules") {
        for (const auto& module : builtinModules()) {
            std::cout << module.name << "\t" << module.description;
            for (auto xep : module.xeps)
                std::cout << " " << xep;
            std::cout << "\n";
        }
        return 0;
    }
    if (command == "sessions" || command == "status") {
        auto reply = adminRequest(socketPath, command);
        if (!reply) {
            std::cerr << "parleyctl: " << reply.error().message << "\n";
            return command == "status" ? 3 : 1;
        }
        if (command == "status")
            std::cout << "parleyd is running\n";
        std::cout << *reply;
        return 0;
    }

    // deluser goes through a running server, which deletes the account itself so that its modules
    // drop what they keep for it (AccountDeleted) and the account's sessions close.
    if (command == "deluser" && positional.size() == 2) {
        auto jid = Jid::parse(positional[1]);
        if (jid && jid->hasLocal() && !jid->hasResource() && config.findHost(jid->domain())) {
            auto reply = adminRequest(socketPath, "deluser " + jid->str());
            // No server answers (or one too old to know deluser): the database is changed below.
            if (reply && !reply->starts_with("error: unknown command")) {
                if (reply->starts_with("deleted")) {
                    std::cout << "deleted " << jid->str() << "\n";
                    return 0;
                }
                std::string why = reply->starts_with("error: ") ? reply->substr(7) : *reply;
                while (!why.empty() && why.back() == '\n')
                    why.pop_back();
                std::cerr << "parleyctl: cannot delete " << jid->str() << ": "
                          << (why.empty() ? "parleyd gave no answer" : why) << "\n";
                return 1;
            }
        }
    }

    // The other account commands work on the database directly (SQLite allows it while the server
    // runs), then tell a running server so it can close the account's sessions.
    if (config.storage.backend == "memory") {
        std::cerr
            << "parleyctl: the configuration uses in-memory storage; accounts exist only inside parleyd\n";
        return 1;
    }
    storage::StorageOptions options;
    options.backend = config.storage.backend;
    options.path = config.storage.path;
    auto opened = storage::openStorage(options);
    if (!opened) {
        std::cerr << "parleyctl: " << opened.error().message << "\n";
        return 1;
    }
    storage::Storage& store = **opened;
    auto parseAccount = [&](const std::string& text) -> std::optional<Jid> {
        auto jid = Jid::parse(text);
        if (!jid || !jid->hasLocal() || jid->hasResource()) {
            std::cerr << "parleyctl: '" << text << "' is not an account address like alice@example.org\n";
            return std::nullopt;
        }
        if (!config.findHost(jid->domain())) {
            std::cerr << "parleyctl: " << jid->domain() << " is not a host in the configuration\n";
            return std::nullopt;
        }
        return *jid;
    };

    int status = 0;
    if (command == "adduser-range" && positional.size() == 5) {
        const std::string& prefix = positional[1];
        std::uint64_t from = 0;
        std::uint64_t to = 0;
        try {
            from = std::stoull(positional[2]);
            to = std::stoull(positional[3]);
        } catch (const std::exception&) {
            from = 0;
        }
        const std::string& domain = positional[4];
        if (from == 0 || to < from) {
            std::cerr << "parleyctl: FROM and TO must be numbers with 1 <= FROM <= TO\n";
            return 2;
        }
        // The names must be valid account addresses on a configured host.
        auto firstJid = parseAccount(prefix + std::to_string(from) + "@" + domain);
        if (!firstJid || !parseAccount(prefix + std::to_string(to) + "@" + domain)) {
            return 2;
        }
        if (firstJid->local() != prefix + std::to_string(from) || firstJid->domain() != domain) {
            std::cerr << "parleyctl: write PREFIX and DOMAIN in their prepared form (lower case): "
                      << firstJid->str() << "\n";
            return 2;
        }
        auto password = readPassword(passwordFile);
        if (!password)
            return 2;
        auto prepared = prepareResource(*password);  // RFC 8265 OpaqueString
        if (!prepared) {
            std::cerr << "parleyctl: the password is empty or contains characters that are not allowed\n";
            return 2;
        }
        status = addUserRange(store, config, prefix, from, to, domain, *prepared, sameSalt);
    } else if ((command == "adduser" || command == "passwd") && positional.size() == 2) {
        auto jid = parseAccount(positional[1]);
        if (!jid)
            return 2;
        auto password = readPassword(passwordFile);
        if (!password)
            return 2;
        auto prepared = prepareResource(*password);  // RFC 8265 OpaqueString
        if (!prepared) {
            std::cerr << "parleyctl: the password is empty or contains characters that are not allowed\n";
            return 2;
        }
        auto credentials = sasl::deriveAllScramCredentials(*prepared, config.scramIterations);
        if (command == "adduser") {
            storage::Account account{std::string(jid->domain()), std::string(jid->local()),
                                     std::move(credentials), static_cast<std::int64_t>(std::time(nullptr))};
            auto created = runSync(store.accounts().createAccount(std::move(account)));
            if (!created) {
                std::string why(storage::toString(created.error()));
                if (created.error() == storage::StorageError::AlreadyExists) {
                    why = "the account exists already";
                    auto tombstone = runSync(store.accounts().findTombstone(std::string(jid->domain()),
                                                                            std::string(jid->local())));
                    if (tombstone && tombstone->has_value()) {
                        why = "the name belonged to an account deleted on " + utcTime(**tombstone) +
                              " and stays taken; `parleyctl release " + jid->str() +
                              "` frees it if it may go to someone new";
                    }
                }
                std::cerr << "parleyctl: cannot create " << jid->str() << ": " << why << "\n";
                status = 1;
            } else {
                std::cout << "created " << jid->str() << "\n";
            }
        } else {
            auto changed = runSync(store.accounts().setCredentials(
                std::string(jid->domain()), std::string(jid->local()), std::move(credentials)));
            if (!changed) {
                std::cerr << "parleyctl: cannot set the password of " << jid->str() << ": "
                          << (changed.error() == storage::StorageError::NotFound
                                  ? "no such account"
                                  : storage::toString(changed.error()))
                          << "\n";
                status = 1;
            } else {
                std::cout << "password changed for " << jid->str() << "\n";
                (void)adminRequest(socketPath, "kick " + jid->str());
            }
        }
    } else if (command == "deluser" && positional.size() == 2) {
        auto jid = parseAccount(positional[1]);
        if (!jid)
            return 2;
        // No server runs (see above): nothing else holds state for the account.
        auto removed =
            runSync(store.accounts().deleteAccount(std::string(jid->domain()), std::string(jid->local()),
                                                   static_cast<std::int64_t>(std::time(nullptr))));
        if (!removed) {
            std::cerr << "parleyctl: cannot delete " << jid->str() << ": "
                      << (removed.error() == storage::StorageError::NotFound
                              ? "no such account"
                              : storage::toString(removed.error()))
                      << "\n";
            status = 1;
        } else {
            std::cout << "deleted " << jid->str() << "\n";
            (void)adminRequest(socketPath, "kick " + jid->str());
        }
    } else if (command == "release" && positional.size() == 2) {
        auto jid = parseAccount(positional[1]);
        if (!jid)
            return 2;
        const std::string host(jid->domain());
        const std::string user(jid->local());
        auto released = runSync(store.accounts().removeTombstone(host, user));
        if (!released) {
            std::string why(storage::toString(released.error()));
            if (released.error() == storage::StorageError::NotFound) {
                auto account = runSync(store.accounts().findAccount(host, user));
                why = account && account->has_value() ? "the account exists (deluser deletes it)"
                                                      : "no deleted account had this name";
            }
            std::cerr << "parleyctl: cannot release " << jid->str() << ": " << why << "\n";
            status = 1;
        } else {
            std::cout << "released " << jid->str() << ": the name can be registered again\n";
        }
    } else if (command == "users" && positional.size() <= 2) {
        for (const HostConfig& host : config.hosts) {
            if (positional.size() == 2 && host.domain != positional[1])
                continue;
            auto users = runSync(store.accounts().listAccounts(host.domain));
            if (!users) {
                std::cerr << "parleyctl: cannot list accounts: " << storage::toString(users.error()) << "\n";
                status = 1;
                break;
            }
            for (const std::string& user : *users)
                std::cout << user << "@" << host.domain << "\n";
        }
    } else {
        store.close();
        return usage(2);
    }
    store.close();
    return status;
}
