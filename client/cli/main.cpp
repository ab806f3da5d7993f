// parley: a command-line XMPP client on the Parley client library (docs/client.md).
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli.h"
#include "line_editor.h"
#include "parley/client/blocking_client.h"

namespace {

using namespace parley;
using namespace parley::cli;
using client::BlockingClient;

constexpr const char* kHelp = R"(usage: parley [options] COMMAND [arguments]

commands:
  register JID            create an account (in-band registration) and remember it
  login JID               check the password and remember the account in ~/.config/parley/
  roster [list]           list contacts (--json: one object a line, with groups)
  roster add JID [NAME]   add a contact and ask to see its presence (--group GROUP to file it)
  roster remove JID       remove a contact
  roster rename JID NAME  rename a contact
  roster approve JID      let JID see your presence
  roster deny JID         refuse JID's request
  send JID [TEXT...]      send a message; without TEXT, standard input is the message
  listen                  print incoming messages, presence and requests until interrupted
  vcard [JID]             print a vCard (yours without JID); --json for all fields as one object
  vcard set               change your vCard: --name, --nickname, --email, --url, --note
  history JID             print the conversation with JID (--limit N, newest last)
  chat JID                chat: on a terminal with line editing and history, replies shown as
                          they arrive; otherwise each line of standard input is sent

options:
  --account JID           use this account instead of the remembered one
  --host HOST --port N    connect here instead of looking up the domain's SRV records
  --direct-tls | --starttls | --plaintext   transport (default: whatever the server offers, TLS only)
  --trust-cert FILE       trust this server certificate (self-signed servers)
  --trust-fingerprint FP  trust the certificate with this SHA-256 fingerprint
  --password-file FILE    read the password from FILE (or set PARLEY_PASSWORD; else you are asked)
  --remember-password     (login, register) keep the password in ~/.config/parley/password, mode 0600
  --resource NAME         the resource to bind
  --json                  (listen, history, roster, vcard) one JSON object per line
  --verbose               say how the connection was made (TLS, SASL mechanism, stream management)
  --config-dir DIR        instead of ~/.config/parley

exit codes: 0 ok, 1 refused by the server, 2 usage, 3 cannot reach the server (DNS, TCP, TLS),
            4 authentication failed, 5 timeout
)";

std::atomic<bool> interrupted{false};

void onSignal(int) {
    interrupted = true;
}

std::optional<std::string> promptPassword(const std::string& question) {
    if (!isatty(STDIN_FILENO))
        return std::nullopt;
    std::cerr << question << std::flush;
    termios old{};
    tcgetattr(STDIN_FILENO, &old);
    termios silent = old;
    silent.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &silent);
    std::string password;
    std::getline(std::cin, password);
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
    return password;
}

int fail(const client::Error& error) {
    std::cerr << "parley: " << error.describe() << "\n";
    return exitCodeFor(error);
}

int usage(const std::string& message) {
    std::cerr << "parley: " << message << "\n";
    return kUsage;
}

int usage(const Problem& problem) {
    return usage(problem.message);
}

struct Session {
    Account account;
    std::filesystem::path configDir;
    std::string password;
};

Result<Session, Problem> session(const Args& args, bool jidFromPositional) {
    Session s;
    s.configDir = configDirectory(args.option("--config-dir"));
    std::optional<Account> stored;
    if (!jidFromPositional) {
        auto loaded = loadAccount(s.configDir);
        if (!loaded)
            return loaded.error();
        stored = *loaded;
    }
    Args effective = args;
    if (jidFromPositional) {
        if (args.positional.empty())
            return Problem{"`parley " + args.command + "` needs the account's JID, e.g. parley " +
                           args.command + " alice@example.org"};
        effective.options["--account"] = args.positional[0];
    }
    auto account = accountFromArgs(effective, stored);
    if (!account)
        return account.error();
    s.account = *account;
    const char* environment = std::getenv("PARLEY_PASSWORD");
    auto password = resolvePassword(effective, s.account,
                                    environment ? std::optional<std::string>(environment) : std::nullopt,
                                    [&s] { return promptPassword("password for " + s.account.jid + ": "); });
    if (!password)
        return password.error();
    s.password = *password;
    return s;
}

Result<client::ClientOptions, Problem> optionsOf(const Session& s, const Args& args) {
    auto options = clientOptions(s.account, s.password);
    if (options && args.has("--no-receipts"))
        options->receipts = false;
    return options;
}

int remember(Session& s, const Args& args) {
    if (args.has("--remember-password")) {
        const auto path = s.configDir / "password";
        std::error_code ec;
        std::filesystem::create_directories(s.configDir, ec);
        {
            std::ofstream out(path, std::ios::trunc);
            out << s.password << "\n";
        }
        // Only the user may read it.
        std::filesystem::permissions(
            path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
        s.account.passwordFile = path.string();
    }
    auto saved = saveAccount(s.configDir, s.account);
    if (!saved)
        return usage(saved.error());
    std::cout << "account " << s.account.jid << " saved in " << (s.configDir / "account").string() << "\n";
    return kOk;
}

/// An event as the user reads it (one line, or one JSON object); `error` for standard error. Empty
/// text: nothing to show (a message without a body: a receipt or a chat state).
struct Shown {
    std::string text;
    bool error = false;
};

Shown formatEvent(const client::Event& event, bool json) {
    std::ostringstream out;
    if (auto* m = std::get_if<client::Message>(&event)) {
        if (m->body.empty())
            return {};
        if (json)
            out << "{\"type\":\"message\",\"from\":" << jsonString(m->from) << ",\"id\":" << jsonString(m->id)
                << ",\"body\":" << jsonString(m->body) << "}";
        else
            out << m->from << ": " << m->body;
    } else if (auto* p = std::get_if<client::Presence>(&event)) {
        const std::string state(toString(p->availability));
        if (json)
            out << "{\"type\":\"presence\",\"from\":" << jsonString(p->from)
                << ",\"show\":" << jsonString(state) << ",\"status\":" << jsonString(p->status) << "}";
        else
            out << "* " << p->from << " is " << state << (p->status.empty() ? "" : " (" + p->status + ")");
    } else if (auto* n = std::get_if<client::SubscriptionNotice>(&event)) {
        static constexpr const char* kNames[] = {"request", "approved", "denied", "unsubscribed"};
        const char* name = kNames[static_cast<int>(n->event)];
        if (json)
            out << "{\"type\":\"subscription\",\"from\":" << jsonString(n->jid) << ",\"event\":\"" << name
                << "\"}";
        else if (n->event == client::SubscriptionEvent::Request)
            out << "* " << n->jid << " wants to see your presence: parley roster approve " << n->jid;
        else
            out << "* " << n->jid << ": subscription " << name;
    } else if (auto* d = std::get_if<client::Disconnected>(&event)) {
        return {"parley: disconnected: " + d->error.describe(), true};
    }
    return {out.str()};
}

void printEvent(const client::Event& event, bool json) {
    const Shown shown = formatEvent(event, json);
    if (!shown.text.empty())
        (shown.error ? std::cerr : std::cout) << shown.text << "\n" << std::flush;
}

/// Hands each event to `show` until a signal, the end of the input or a disconnection; returns the exit
/// code (the disconnection's, else 0).
int pumpEvents(BlockingClient& client, const std::atomic<bool>& inputDone,
               const std::function<void(const client::Event&)>& show) {
    while (!interrupted && !inputDone) {
        auto event = client.nextEvent(std::chrono::milliseconds(200));
        if (!event)
            continue;
        show(*event);
        if (auto* d = std::get_if<client::Disconnected>(&*event))
            return exitCodeFor(d->error);
    }
    return kOk;
}

/// The terminal in raw mode for the line editor (no echo, no line buffering, Ctrl-C and Ctrl-D as
/// keys), restored when this goes away. Output processing stays on, so stray lines stay readable.
class RawTerminal {
  public:
    RawTerminal() {
        if (tcgetattr(STDIN_FILENO, &saved_) != 0)
            return;
        termios raw = saved_;
        raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ICANON | IEXTEN | ISIG);
        raw.c_iflag &= ~static_cast<tcflag_t>(IXON | ICRNL | INLCR);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        active_ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0;
    }
    ~RawTerminal() {
        if (active_)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_);
    }
    RawTerminal(const RawTerminal&) = delete;
    RawTerminal& operator=(const RawTerminal&) = delete;
    bool active() const { return active_; }

  private:
    termios saved_{};
    bool active_ = false;
};

void writeTerminal(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(STDOUT_FILENO, bytes.data() + done, bytes.size() - done);
        if (n <= 0)
            return;
        done += static_cast<std::size_t>(n);
    }
}

/// `parley chat` on a terminal: a line editor on the input line, incoming events printed above it.
/// The reader thread owns the keyboard, this thread the events; the editor is shared under a mutex.
int chatOnTerminal(BlockingClient& client, const std::string& peer) {
    RawTerminal terminal;
    if (!terminal.active())
        return usage("cannot switch the terminal to raw mode for `parley chat`; pipe the input instead");
    const std::string bound = client.boundJid();
    const std::string self = bound.substr(0, bound.find('/')) + "/";
    std::mutex mutex;
    LineEditor editor("> ");
    auto show = [&mutex, &editor](const std::string& text) {
        std::lock_guard lock(mutex);
        writeTerminal(editor.printAbove(text));
    };
    show("chatting with " + peer + " (Enter sends, Ctrl-D or Ctrl-C ends)");
    std::atomic<bool> inputDone{false};
    std::thread reader([&] {
        std::array<char, 256> bytes{};
        while (!interrupted && !inputDone) {
            // Poll with a timeout, so that the thread notices the end of the session and can be joined.
            pollfd in{.fd = STDIN_FILENO, .events = POLLIN, .revents = 0};
            if (::poll(&in, 1, 200) <= 0)
                continue;
            const ssize_t n = ::read(STDIN_FILENO, bytes.data(), bytes.size());
            if (n <= 0)
                break;
            LineEditor::Output out;
            {
                std::lock_guard lock(mutex);
                out = editor.feed(std::string_view(bytes.data(), static_cast<std::size_t>(n)));
                writeTerminal(out.terminal);
            }
            for (const std::string& line : out.lines) {
                if (line.empty())
                    continue;
                auto sent = client.sendMessage(peer, line);
                if (!sent)
                    show("parley: " + sent.error().describe());
            }
            if (out.interrupted)
                interrupted = true;
            if (out.endOfInput)
                break;
        }
        inputDone = true;
    });
    const int code = pumpEvents(client, inputDone, [&self, &show](const client::Event& event) {
        // Our own presence comes back from the server (RFC 6121 §4.4.2); it is not part of the chat.
        if (auto* p = std::get_if<client::Presence>(&event); p && p->from.starts_with(self))
            return;
        const Shown shown = formatEvent(event, false);
        if (!shown.text.empty())
            show(shown.text);
    });
    inputDone = true;
    reader.join();
    {
        std::lock_guard lock(mutex);
        writeTerminal("\r\x1b[K");  // leave a clean line for the shell's prompt
    }
    client.disconnect();
    return code;
}

int runCommand(const Args& args) {
    const std::string& command = args.command;
    const bool accountCommand = command == "register" || command == "login";
    auto s = session(args, accountCommand);
    if (!s)
        return usage(s.error());
    auto options = optionsOf(*s, args);
    if (!options)
        return usage(options.error());

    if (command == "register") {
        auto registered = BlockingClient::registerAccount(*options);
        if (!registered)
            return fail(registered.error());
        std::cout << "registered " << s->account.jid << "\n";
        return remember(*s, args);
    }

    BlockingClient client(*options);
    auto connected = client.connect();
    if (!connected)
        return fail(connected.error());
    if (args.has("--verbose")) {
        const client::ConnectionInfo info = client.connectionInfo();
        std::cerr << "parley: connected to " << info.host << " port " << info.port << " ("
                  << (info.directTls ? "direct TLS" : "STARTTLS") << ", " << info.tlsVersion << "), "
                  << info.mechanism << (info.channelBinding.empty() ? "" : " with " + info.channelBinding)
                  << ", stream management " << (info.streamManagement ? "on" : "off") << ", as "
                  << client.boundJid() << "\n";
    }
    if (command == "login")
        return remember(*s, args);

    const auto& pos = args.positional;
    if (command == "roster") {
        const std::string action = pos.empty() ? "list" : pos[0];
        auto need = [&pos, &action](std::size_t n) {
            return pos.size() >= n ? std::string() : "`parley roster " + action + "` needs a JID";
        };
        client::Outcome<void> done;
        if (action == "list") {
            auto roster = client.roster();
            if (!roster)
                return fail(roster.error());
            for (const auto& item : *roster)
                std::cout << formatRosterItem(item, args.has("--json")) << "\n";
            return kOk;
        } else if (!need(2).empty()) {
            return usage(need(2));
        } else if (action == "add") {
            std::vector<std::string> groups;
            if (args.options.count("--group"))
                groups.push_back(args.option("--group"));
            done = client.addContact(pos[1], pos.size() > 2 ? pos[2] : args.option("--name"), groups);
        } else if (action == "remove") {
            done = client.removeContact(pos[1]);
        } else if (action == "rename") {
            if (pos.size() < 3)
                return usage("`parley roster rename JID NAME` needs a name");
            done = client.renameContact(pos[1], pos[2]);
        } else if (action == "approve") {
            done = client.approve(pos[1]);
        } else if (action == "deny") {
            done = client.deny(pos[1]);
        } else {
            return usage("unknown roster action '" + action + "' (list, add, remove, rename, approve, deny)");
        }
        if (!done)
            return fail(done.error());
        client.disconnect();
        return kOk;
    }
    if (command == "send") {
        if (pos.empty())
            return usage("`parley send JID [TEXT...]` needs a JID");
        std::string text;
        if (pos.size() > 1) {
            for (std::size_t i = 1; i < pos.size(); ++i)
                text += (i > 1 ? " " : "") + pos[i];
        } else {
            text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
            while (!text.empty() && text.back() == '\n')
                text.pop_back();
        }
        if (text.empty())
            return usage("nothing to send: the message is empty");
        auto sent = client.sendMessage(pos[0], text);
        if (!sent)
            return fail(sent.error());
        client.disconnect();  // waits for the server's close, so the message has left
        return kOk;
    }
    if (command == "listen" || command == "chat") {
        if (command == "chat" && pos.empty())
            return usage("`parley chat JID` needs a JID");
        auto online = client.setPresence();
        if (!online)
            return fail(online.error());
        std::signal(SIGINT, onSignal);
        std::signal(SIGTERM, onSignal);
        if (command == "chat" && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
            return chatOnTerminal(client, pos[0]);
        const bool json = args.has("--json");
        std::thread reader;
        std::atomic<bool> inputDone{false};
        if (command == "chat") {
            reader = std::thread([&client, &inputDone, peer = pos[0]] {
                std::string line;
                while (!interrupted && std::getline(std::cin, line)) {
                    if (line.empty())
                        continue;
                    auto sent = client.sendMessage(peer, line);
                    if (!sent)
                        std::cerr << "parley: " << sent.error().describe() << "\n";
                }
                inputDone = true;
            });
        }
        const int code =
            pumpEvents(client, inputDone, [json](const client::Event& event) { printEvent(event, json); });
        client.disconnect();
        if (reader.joinable()) {
            if (inputDone) {
                reader.join();
            } else {
                // The reader is blocked in getline on the terminal and cannot be woken portably; the
                // stream is closed, so end the process here rather than let it outlive the client.
                std::cout.flush();
                std::_Exit(code);
            }
        }
        return code;
    }
    if (command == "vcard") {
        if (!pos.empty() && pos[0] == "set") {
            // Get, change the fields given, set: the fields parley does not know survive (XEP-0054 §3.3
            // replaces the whole vCard).
            auto card = client.vcard();
            if (!card)
                return fail(card.error());
            for (auto [option, field] :
                 {std::pair{"--name", &card->fullName}, std::pair{"--nickname", &card->nickname},
                  std::pair{"--email", &card->email}, std::pair{"--url", &card->url},
                  std::pair{"--note", &card->note}}) {
                if (args.options.count(option))
                    *field = args.option(option);
            }
            auto set = client.setVCard(*card);
            if (!set)
                return fail(set.error());
            client.disconnect();
            return kOk;
        }
        // XEP-0054 §3.1 (own vCard: no 'to'), §3.2 (another user's: to their bare JID).
        auto card = client.vcard(pos.empty() ? std::string() : pos[0]);
        if (!card)
            return fail(card.error());
        std::cout << formatVCard(*card, args.has("--json"));
        client.disconnect();
        return kOk;
    }
    if (command == "history") {
        if (pos.empty())
            return usage("`parley history JID` needs a JID");
        const int limit = std::atoi(args.option("--limit", "50").c_str());
        auto page = client.history(
            {.with = pos[0], .pageSize = static_cast<std::size_t>(limit > 0 ? limit : 50), .latest = true});
        if (!page)
            return fail(page.error());
        for (const auto& archived : page->messages) {
            const auto& m = archived.message;
            if (m.body.empty())
                continue;  // receipts and chat states that the server archived too
            const std::string stamp = client::formatTimestamp(archived.timestamp);
            if (args.has("--json"))
                std::cout << "{\"id\":" << jsonString(archived.archiveId) << ",\"time\":" << jsonString(stamp)
                          << ",\"from\":" << jsonString(m.from) << ",\"body\":" << jsonString(m.body)
                          << "}\n";
            else
                std::cout << stamp << " " << m.from << ": " << m.body << "\n";
        }
        client.disconnect();
        return kOk;
    }
    return usage("unknown command '" + command + "' (see parley --help)");
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> words(argv + 1, argv + argc);
    auto args = parseArgs(words);
    if (!args)
        return usage(args.error());
    if (args->has("--help") || args->command.empty() || args->command == "help") {
        std::cout << kHelp;
        return args->command.empty() && !args->has("--help") ? kUsage : kOk;
    }
    return runCommand(*args);
}
