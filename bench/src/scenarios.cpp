#include "scenarios.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <iostream>
#include <mutex>
#include <random>
#include <set>

#include "client.h"
#include "parley/net/connection.h"

namespace parley::bench {

namespace {

std::uint64_t nowNs() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count());
}

Clock::duration seconds(double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// What each measured stanza carries (in a message body or a presence status): the run, the sender,
// its sequence number and the send time on this process's steady clock.
struct Stamp {
    std::uint64_t sender = 0;
    std::uint64_t seq = 0;
    std::uint64_t sentNs = 0;
};

void appendStamp(std::string& out, std::uint32_t run, std::uint64_t sender, std::uint64_t seq) {
    out += 'r';
    out += std::to_string(run);
    out += " s";
    out += std::to_string(sender);
    out += " n";
    out += std::to_string(seq);
    out += " t";
    out += std::to_string(nowNs());
}

// Stanzas of other runs (offline messages or last presence left by an earlier run) are ignored.
std::optional<Stamp> parseStamp(std::string_view text, std::uint32_t run) {
    std::uint64_t fields[4] = {};
    const char tags[4] = {'r', 's', 'n', 't'};
    const char* p = text.data();
    const char* end = text.data() + text.size();
    for (int i = 0; i < 4; ++i) {
        while (p < end && *p == ' ') {
            ++p;
        }
        if (p == end || *p != tags[i]) {
            return std::nullopt;
        }
        auto [next, ec] = std::from_chars(p + 1, end, fields[i]);
        if (ec != std::errc()) {
            return std::nullopt;
        }
        p = next;
    }
    if (fields[0] != run) {
        return std::nullopt;
    }
    return Stamp{fields[1], fields[2], fields[3]};
}

// Order of one sender's stanzas at one receiver: RFC 6120 §10.1 asks the server to keep it.
struct SeqTracker {
    std::uint64_t next = 1;
    std::set<std::uint64_t> missing;  // skipped over; arriving later means out of order

    void see(std::uint64_t seq, LoopStats& stats) {
        if (seq == next) {
            ++next;
            stats.delivered.fetch_add(1, std::memory_order_relaxed);
        } else if (seq > next) {
            for (std::uint64_t s = next; s < seq && missing.size() < 1'000'000; ++s) {
                missing.insert(s);
            }
            next = seq + 1;
            stats.delivered.fetch_add(1, std::memory_order_relaxed);
        } else if (missing.erase(seq) > 0) {
            stats.delivered.fetch_add(1, std::memory_order_relaxed);
            stats.reordered.fetch_add(1, std::memory_order_relaxed);
        } else {
            stats.duplicated.fetch_add(1, std::memory_order_relaxed);
        }
    }
};

using PerClientHandler = std::function<void(Client&, const xml::Element&)>;

struct Run {
    explicit Run(const Options& options) : o(options), rt(options) {}
    const Options& o;
    Runtime rt;
    ClientShared shared;
    std::uint32_t runId = 0;
    std::vector<std::unique_ptr<Client>> clients;  // by user number; a slot is touched by its loop only
    JsonLine json;
    std::uint64_t lost = 0;
    // Presence is state, not a message: a probe answer may repeat an update (RFC 6121 §4.3.2), so a
    // repeated presence is reported but does not fail the run.
    bool repeatsAllowed = false;
    // Called on the user's loop just before each login of loginAll (the offline scenario times from it).
    std::function<void(std::uint64_t user)> beforeLogin;
};

// Ends every client's reader and waits (bounded) for them.
void stopAll(Run& run, Group& readers);

// Stops the readers when a scenario's state goes out of scope: declared after that state, it runs first.
struct StopReaders {
    Run& run;
    Group& readers;
    ~StopReaders() { stopAll(run, readers); }
};

asio::awaitable<void> flushQueued(Client* client) {
    (void)co_await client->flush();
}

asio::awaitable<void> readLoop(Run* run, Client* client, PerClientHandler* handler) {
    Client::Handler each = [client, handler](const xml::Element& element) { (*handler)(*client, element); };
    const Status status = co_await client->run(std::move(each));
    client->loop().stats.sessions.fetch_sub(1, std::memory_order_relaxed);
    if (!status) {
        run->rt.fail("session lost: " + status.error().message);
    }
}

struct LoginQueue {
    std::vector<std::uint64_t> users;
    std::size_t next = 0;
};

asio::awaitable<void> loginWorker(Run* run, Loop* loop, std::shared_ptr<LoginQueue> queue, bool available,
                                  PerClientHandler* handler, Group* readers) {
    while (queue->next < queue->users.size() && !run->rt.failed()) {
        const std::uint64_t user = queue->users[queue->next++];
        auto& slot = run->clients[user];
        slot = std::make_unique<Client>(*loop, run->shared, user);
        if (run->beforeLogin) {
            run->beforeLogin(user);
        }
        const Status status = co_await slot->login(available);
        if (!status) {
            loop->stats.errors.fetch_add(1, std::memory_order_relaxed);
            run->rt.fail("login failed: " + status.error().message);
            co_return;
        }
        loop->stats.sessions.fetch_add(1, std::memory_order_relaxed);
        loop->stats.logins.fetch_add(1, std::memory_order_relaxed);
        Client* client = slot.get();
        run->rt.spawn(*loop, *readers, [run, client, handler] { return readLoop(run, client, handler); });
    }
}

// Logs `users` in, each on loop loopOf(user), `concurrency` at a time per loop; each then reads in
// `readers`, giving elements to `handler` (which must outlive the run). False on failure.
bool loginAll(Run& run, const std::vector<std::uint64_t>& users,
              const std::function<unsigned(std::uint64_t)>& loopOf, unsigned concurrency, bool available,
              PerClientHandler* handler, Group& readers) {
    std::vector<std::shared_ptr<LoginQueue>> queues(run.rt.size());
    for (auto& q : queues) {
        q = std::make_shared<LoginQueue>();
    }
    for (std::uint64_t user : users) {
        queues[loopOf(user) % run.rt.size()]->users.push_back(user);
    }
    Group logins;
    for (unsigned l = 0; l < run.rt.size(); ++l) {
        Loop* loop = &run.rt.loop(l);
        for (unsigned w = 0; w < concurrency; ++w) {
            auto queue = queues[l];
            Run* r = &run;
            Group* g = &readers;
            run.rt.spawn(*loop, logins, [r, loop, queue, available, handler, g] {
                return loginWorker(r, loop, queue, available, handler, g);
            });
        }
    }
    return run.rt.wait(logins, 1e9);
}

// Ends every client's reader and waits (bounded) for them.
void stopAll(Run& run, Group& readers) {
    for (unsigned l = 0; l < run.rt.size(); ++l) {
        Loop* loop = &run.rt.loop(l);
        asio::post(loop->io, [&run, loop] {
            for (auto& client : run.clients) {
                if (client && &client->loop() == loop) {
                    client->stop();
                }
            }
        });
    }
    readers.waitUntil(Clock::now() + std::chrono::seconds(15));
}

// Runs `fn(loop)` on every loop and waits until all have run it.
void onEachLoop(Run& run, const std::function<void(Loop&)>& fn) {
    Group done;
    for (unsigned l = 0; l < run.rt.size(); ++l) {
        Loop* loop = &run.rt.loop(l);
        done.add();
        asio::post(loop->io, [loop, &fn, &done] {
            fn(*loop);
            done.done();
        });
    }
    done.waitUntil(Clock::time_point::max());
}

void addLatency(JsonLine& json, const Histogram::Counts& counts, std::string_view prefix = "") {
    const std::string p(prefix);
    json.add(p + "p50_ms", static_cast<double>(percentile(counts, 50)) / 1e6)
        .add(p + "p99_ms", static_cast<double>(percentile(counts, 99)) / 1e6)
        .add(p + "p999_ms", static_cast<double>(percentile(counts, 99.9)) / 1e6)
        .add(p + "max_ms", static_cast<double>(maxValue(counts)) / 1e6);
}

// CPU of the server and of the generator over a window, as a share of one core.
struct CpuWindow {
    explicit CpuWindow(int serverPid)
        : pid(serverPid),
          server(cpuSeconds(serverPid)),
          bench(cpuSeconds(static_cast<int>(::getpid()))),
          start(Clock::now()) {}
    void report(JsonLine& json) const {
        const double wall = std::chrono::duration<double>(Clock::now() - start).count();
        if (wall <= 0) {
            return;
        }
        if (pid > 0) {
            json.add("server_cpu_percent", (cpuSeconds(pid) - server) / wall * 100.0);
        }
        json.add("bench_cpu_percent", (cpuSeconds(static_cast<int>(::getpid())) - bench) / wall * 100.0);
    }
    int pid;
    double server;
    double bench;
    Clock::time_point start;
};

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t last) {
    std::vector<std::uint64_t> users;
    for (std::uint64_t u = first; u <= last; ++u) {
        users.push_back(u);
    }
    return users;
}

unsigned loginConcurrency(const Options& o, unsigned total) {
    // Logins in flight per loop: enough to keep the server busy, not so many that timeouts fire.
    const unsigned wanted = o.concurrency > 0 ? o.concurrency : 64;
    return std::max(1u, std::min(total, (wanted + o.threads - 1) / o.threads));
}

// The measured part of chat and presence: runs task(client) for users 1..M for --duration seconds,
// then sets `stop`, wakes each user's timer (on its loop) and waits for the tasks. The figures of the
// window are taken before the stop, so the drain that follows is not counted in the rates.
struct Window {
    Totals before;
    Totals after;
    double seconds = 0;
};

Window runWindow(Run& run, const std::string& phase, std::atomic<bool>& stop,
                 const std::function<std::function<asio::awaitable<void>()>(Client*)>& task,
                 const std::function<asio::steady_timer*(std::uint64_t)>& timerOf) {
    const Options& o = run.o;
    run.rt.setPhase(phase);
    Group tasks;
    Window window;
    window.before = run.rt.totals();
    const CpuWindow cpu(o.serverPid);
    const auto start = Clock::now();
    for (std::uint64_t u = 1; u <= o.users; ++u) {
        Client* client = run.clients[u].get();
        run.rt.spawn(client->loop(), tasks, task(client));
    }
    run.rt.sleep(o.duration);
    window.after = run.rt.totals();
    window.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    cpu.report(run.json);
    if (o.serverPid > 0) {
        run.json.add("server_rss_bytes", residentBytes(o.serverPid));
    }
    stop = true;
    onEachLoop(run, [&](Loop& loop) {
        for (std::uint64_t u = 1; u <= o.users; ++u) {
            asio::steady_timer* timer = timerOf(u);
            if (run.clients[u] && &run.clients[u]->loop() == &loop && timer != nullptr) {
                timer->cancel();
            }
        }
    });
    run.rt.setPhase("drain");
    run.rt.wait(tasks, o.timeout);
    return window;
}

// Waits up to --drain seconds until `expected` (of the totals) were delivered.
Totals drain(Run& run, const std::function<std::uint64_t(const Totals&)>& expected) {
    const auto until = Clock::now() + seconds(run.o.drain);
    Totals t = run.rt.totals();
    while (Clock::now() < until && !run.rt.failed() && t.delivered < expected(t)) {
        run.rt.sleep(0.05);
        t = run.rt.totals();
    }
    return t;
}

// Starts loginConcurrency() copies of make(loop) on every loop; returns how many in all.
unsigned spawnWorkers(Run& run, Group& group,
                      const std::function<std::function<asio::awaitable<void>()>(Loop*)>& make) {
    const unsigned perLoop =
        loginConcurrency(run.o, static_cast<unsigned>(std::min<std::uint64_t>(run.o.users, 1u << 20)));
    for (unsigned l = 0; l < run.rt.size(); ++l) {
        Loop* loop = &run.rt.loop(l);
        for (unsigned w = 0; w < perLoop; ++w) {
            run.rt.spawn(*loop, group, make(loop));
        }
    }
    return perLoop * run.rt.size();
}

// --- register ------------------------------------------------------------------------------------

struct RegisterShared {
    std::atomic<std::uint64_t> next{1};
    std::atomic<std::uint64_t> existed{0};
};

asio::awaitable<void> registerWorker(Run* run, Loop* loop, RegisterShared* shared) {
    const Options& o = run->o;
    for (;;) {
        const std::uint64_t user = shared->next.fetch_add(1);
        if (user > o.users || run->rt.failed()) {
            co_return;
        }
        Client client(*loop, run->shared, user);
        Status status = co_await client.connect();
        if (status) {
            status = co_await client.openStream();
        }
        if (!status) {
            run->rt.fail("registration of " + client.username() + ": " + status.error().message);
            co_return;
        }
        // XEP-0077 §3.1: a set with username and password creates the account.
        std::string iq = "<iq type='set'><query xmlns='jabber:iq:register'><username>";
        xml::appendEscapedText(iq, client.username());
        iq += "</username><password>";
        xml::appendEscapedText(iq, o.password);
        iq += "</password></query></iq>";
        auto reply = co_await client.request(iq, "registration");
        if (!reply) {
            // XEP-0077 §3.1: <conflict/> means the name is taken: an account from an earlier run.
            if (reply.error().message.find("conflict") != std::string::npos) {
                shared->existed.fetch_add(1);
            } else {
                loop->stats.errors.fetch_add(1);
                run->rt.fail(reply.error().message +
                             " (is in-band registration open on the server, for this address?)");
                co_return;
            }
        } else {
            loop->stats.logins.fetch_add(1, std::memory_order_relaxed);
        }
        co_await client.logout();
    }
}

void runRegister(Run& run) {
    const Options& o = run.o;
    RegisterShared shared;
    Group workers;
    run.rt.setPhase("registering");
    const auto start = Clock::now();
    spawnWorkers(run, workers, [&run, &shared](Loop* loop) -> std::function<asio::awaitable<void>()> {
        Run* r = &run;
        RegisterShared* s = &shared;
        return [r, loop, s] { return registerWorker(r, loop, s); };
    });
    run.rt.wait(workers, 1e9);
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const Totals t = run.rt.totals();
    run.json.add("users", o.users)
        .add("registered", t.logins)
        .add("existed", shared.existed.load())
        .add("registered_per_s", static_cast<double>(t.logins) / elapsed)
        .add("elapsed_s", elapsed);
}

// --- idle ----------------------------------------------------------------------------------------

asio::awaitable<void> idleSession(Run* run, Loop* loop, std::uint64_t user, PerClientHandler* handler,
                                  Group* loggedIn, Group* readers) {
    auto& slot = run->clients[user];
    slot = std::make_unique<Client>(*loop, run->shared, user);
    const Status status = co_await slot->login(true);
    loggedIn->done();
    if (!status) {
        loop->stats.errors.fetch_add(1, std::memory_order_relaxed);
        run->rt.fail("login failed: " + status.error().message);
        co_return;
    }
    loop->stats.sessions.fetch_add(1, std::memory_order_relaxed);
    loop->stats.logins.fetch_add(1, std::memory_order_relaxed);
    co_await readLoop(run, slot.get(), handler);
    (void)readers;
}

asio::awaitable<void> idleRamp(Run* run, Loop* loop, std::vector<std::uint64_t> users, double ratePerLoop,
                               PerClientHandler* handler, Group* loggedIn, Group* readers) {
    asio::steady_timer timer(loop->io);
    const auto start = Clock::now();
    for (std::size_t k = 0; k < users.size() && !run->rt.failed(); ++k) {
        timer.expires_at(start + seconds(static_cast<double>(k) / ratePerLoop));
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        const std::uint64_t user = users[k];
        run->rt.spawn(*loop, *readers, [run, loop, user, handler, loggedIn, readers] {
            return idleSession(run, loop, user, handler, loggedIn, readers);
        });
    }
}

void runIdle(Run& run, Group& readers) {
    const Options& o = run.o;
    static PerClientHandler ignore = [](Client&, const xml::Element&) {};
    // Baseline before the first connection: the server's private memory and the machine's slab (the
    // server's socket memory needs no baseline: it is counted on the server's sockets only).
    const std::uint64_t rss0 = anonymousResidentBytes(o.serverPid);
    const std::uint64_t slab0 = kernelSlabBytes();
    const std::uint64_t bench0 = ownResidentBytes();
    run.clients.resize(o.sessions + 1);
    std::vector<std::vector<std::uint64_t>> perLoop(run.rt.size());
    for (std::uint64_t u = 1; u <= o.sessions; ++u) {
        perLoop[u % run.rt.size()].push_back(u);
    }
    Group loggedIn;
    for (std::uint64_t i = 0; i < o.sessions; ++i) {
        loggedIn.add();
    }
    run.rt.setPhase("ramp");
    const auto start = Clock::now();
    Group ramps;
    for (unsigned l = 0; l < run.rt.size(); ++l) {
        Loop* loop = &run.rt.loop(l);
        auto users = perLoop[l];
        Run* r = &run;
        Group* g = &loggedIn;
        Group* rd = &readers;
        const double rate = o.rate / run.rt.size();
        run.rt.spawn(*loop, ramps, [r, loop, users, rate, g, rd] {
            return idleRamp(r, loop, users, rate, &ignore, g, rd);
        });
    }
    run.rt.wait(loggedIn, 1e9);
    const double rampSeconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (run.rt.failed()) {
        return;
    }
    run.rt.setPhase("hold");
    run.rt.sleep(o.hold);
    const Totals t = run.rt.totals();
    const std::uint64_t rss1 = anonymousResidentBytes(o.serverPid);
    const std::optional<SocketMemory> sockets = tcpSocketMemoryOnPort(o.port);
    const std::uint64_t slab1 = kernelSlabBytes();
    const std::uint64_t bench1 = ownResidentBytes();
    const double n = static_cast<double>(std::max<std::uint64_t>(t.sessions, 1));
    run.json.add("sessions_requested", o.sessions)
        .add("sessions", t.sessions)
        .add("rate", o.rate)
        .add("hold_s", o.hold)
        .add("ramp_s", rampSeconds)
        .add("logins_per_s", static_cast<double>(t.logins) / rampSeconds);
    addLatency(run.json, t.loginLatency, "login_");
    if (o.serverPid > 0) {
        // User space: the growth of the server's private resident memory (RssAnon) with the sessions held.
        run.json.add("server_rss_anon_baseline_bytes", rss0)
            .add("server_rss_anon_bytes", rss1)
            .add("server_rss_bytes", residentBytes(o.serverPid))
            .add("rss_per_session_bytes", (static_cast<double>(rss1) - static_cast<double>(rss0)) / n);
    }
    if (sockets) {
        run.json.add("server_sockets", sockets->sockets)
            .add("sockmem_per_session_bytes", static_cast<double>(sockets->bytes) / n);
    } else {
        // Rather no figure than a wrong one: /proc/net/sockstat is machine-wide (it went negative).
        run.json.add("sockmem_unavailable", "the kernel did not answer a NETLINK_SOCK_DIAG dump");
    }
    // Socket, inode and epoll objects of both ends; machine-wide, so other activity adds noise.
    run.json.add("slab_per_session_bytes", (static_cast<double>(slab1) - static_cast<double>(slab0)) / n)
        .add("bench_rss_per_session_bytes", (static_cast<double>(bench1) - static_cast<double>(bench0)) / n);
}

// --- login ---------------------------------------------------------------------------------------

struct LoginShared {
    std::atomic<std::uint64_t> next{0};
    std::atomic<bool> stop{false};
    std::uint64_t limit = 0;  // stop after this many logins (0: at `stop`)
};

asio::awaitable<void> loginLoop(Run* run, Loop* loop, LoginShared* shared) {
    const Options& o = run->o;
    while (!shared->stop.load(std::memory_order_relaxed) && !run->rt.failed()) {
        const std::uint64_t n = shared->next.fetch_add(1);
        if (shared->limit > 0 && n >= shared->limit) {
            co_return;
        }
        const std::uint64_t user = n % o.users + 1;
        Client client(*loop, run->shared, user);
        const Status status = co_await client.login(true);
        if (!status) {
            loop->stats.errors.fetch_add(1);
            run->rt.fail("login failed: " + status.error().message);
            co_return;
        }
        loop->stats.logins.fetch_add(1, std::memory_order_relaxed);
        co_await client.logout();
    }
}

void runLogin(Run& run) {
    const Options& o = run.o;
    const auto spawnLogins = [&run](Group& workers, LoginShared& shared) {
        return spawnWorkers(run, workers,
                            [&run, &shared](Loop* loop) -> std::function<asio::awaitable<void>()> {
                                Run* r = &run;
                                LoginShared* s = &shared;
                                return [r, loop, s] { return loginLoop(r, loop, s); };
                            });
    };
    if ((o.scramCache && o.mech.starts_with("SCRAM")) || o.mech == "PLAIN") {
        // A client with a stored key has it before its first login: one login of each user, not
        // measured, fills the cache (and costs the generator PBKDF2 once per distinct salt). With
        // PLAIN the same pass is each account's first login since the server started, the one that
        // costs the server PBKDF2 (plain_login_cache); its rate is reported apart.
        run.rt.setPhase("warm-up");
        LoginShared warm;
        warm.limit = o.users;
        Group warmers;
        const auto warmStart = Clock::now();
        spawnLogins(warmers, warm);
        run.rt.wait(warmers, 1e9);
        if (run.rt.failed()) {
            return;
        }
        const double warmElapsed = std::chrono::duration<double>(Clock::now() - warmStart).count();
        run.json.add("warmup_logins_per_s", static_cast<double>(o.users) / warmElapsed);
    }
    const Totals t0 = run.rt.totals();
    LoginShared shared;
    Group workers;
    run.rt.setPhase("logins");
    const CpuWindow cpu(o.serverPid);
    const auto start = Clock::now();
    const unsigned concurrency = spawnLogins(workers, shared);
    run.rt.sleep(o.duration);
    const Totals t1 = run.rt.totals();
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    cpu.report(run.json);
    shared.stop = true;
    run.rt.setPhase("closing");
    run.rt.wait(workers, o.timeout + 10);
    Histogram::Counts window{};
    for (std::size_t i = 0; i < window.size(); ++i) {
        window[i] = t1.loginLatency[i] - t0.loginLatency[i];
    }
    run.json.add("users", o.users)
        .add("duration_s", o.duration)
        .add("concurrency", static_cast<std::uint64_t>(concurrency))
        .add("scram_cache", o.scramCache)
        .add("logins", t1.logins - t0.logins)
        .add("logins_per_s", static_cast<double>(t1.logins - t0.logins) / elapsed);
    addLatency(run.json, window, "login_");
}

// --- chat ----------------------------------------------------------------------------------------

struct ChatUser {
    std::uint64_t partner = 0;
    std::string partnerJid;
    std::uint64_t sent = 0;
    std::uint64_t acked = 0;  // of ours, how many the partner received
    SeqTracker received;
    std::unique_ptr<asio::steady_timer> wake;
};

struct ChatState {
    std::vector<ChatUser> users;
    std::atomic<bool> stop{false};
    std::uint32_t run = 0;
    bool windowed = false;  // --inflight: deliveries release the sender
};

asio::awaitable<void> chatSender(Run* run, Client* client, ChatState* chat) {
    const Options& o = run->o;
    ChatUser& me = chat->users[client->user()];
    LoopStats& stats = client->loop().stats;
    me.wake = std::make_unique<asio::steady_timer>(client->loop().io);
    std::string stanza;
    // Open loop at a fixed rate (each sender R/M per second), or closed loop with W in flight.
    const bool rated = o.rate > 0;
    const auto interval = rated ? seconds(static_cast<double>(o.users) / o.rate) : Clock::duration{};
    // Spread the senders' first sends over one interval.
    auto due =
        Clock::now() + (rated ? interval * static_cast<long>(client->user() % 997) / 997 : Clock::duration{});
    auto build = [&] {
        stanza.clear();
        stanza += "<message type='chat' to='";
        stanza += me.partnerJid;
        stanza += "' id='m";
        stanza += std::to_string(me.sent + 1);
        stanza += "'><body>";
        const std::size_t bodyStart = stanza.size();
        appendStamp(stanza, chat->run, client->user(), me.sent + 1);
        const std::size_t used = stanza.size() - bodyStart;
        if (used + 1 < o.bodyBytes) {
            stanza += ' ';
            stanza.append(o.bodyBytes - used - 1, 'x');
        }
        stanza += "</body></message>";
        ++me.sent;
        stats.sent.fetch_add(1, std::memory_order_relaxed);
    };
    while (!chat->stop.load(std::memory_order_relaxed) && !run->rt.failed()) {
        if (rated) {
            me.wake->expires_at(due);
            co_await me.wake->async_wait(asio::as_tuple(asio::use_awaitable));
        }
        const auto now = Clock::now();
        while (!chat->stop.load(std::memory_order_relaxed) &&
               (rated ? due <= now : me.sent - me.acked < o.inflight)) {
            build();
            if (rated) {
                due += interval;
            }
            if (o.pipeline) {
                client->queue(stanza);
            } else {
                // One stanza per write: what most clients do.
                const Status sent = co_await client->send(stanza);
                if (!sent) {
                    run->rt.fail(sent.error().message);
                    co_return;
                }
            }
        }
        if (o.pipeline) {
            const Status sent = co_await client->flush();
            if (!sent) {
                run->rt.fail(sent.error().message);
                co_return;
            }
        }
        if (!rated && me.sent - me.acked >= o.inflight && !chat->stop.load(std::memory_order_relaxed)) {
            me.wake->expires_at(Clock::time_point::max());
            co_await me.wake->async_wait(asio::as_tuple(asio::use_awaitable));
        }
    }
}

void runChat(Run& run, Group& readers) {
    const Options& o = run.o;
    ChatState chat;
    chat.run = run.runId;
    chat.windowed = o.inflight > 0;
    chat.users.resize(o.users + 1);
    run.clients.resize(o.users + 1);
    for (std::uint64_t u = 1; u <= o.users; ++u) {
        chat.users[u].partner = u % 2 == 1 ? u + 1 : u - 1;
        chat.users[u].partnerJid = userName(o, chat.users[u].partner) + "@" + o.domain;
    }
    // A pair lives on one loop, so that a delivery can release the sender's window without locks.
    auto loopOf = [](std::uint64_t user) { return static_cast<unsigned>((user - 1) / 2); };
    PerClientHandler handler = [&chat](Client& client, const xml::Element& element) {
        if (element.name() != "message") {
            return;
        }
        if (element.attr("type") == "error") {
            client.loop().stats.errors.fetch_add(1,
                                                 std::memory_order_relaxed);  // a bounce: counted, and lost
            return;
        }
        auto stamp = parseStamp(element.childText("body", "jabber:client"), chat.run);
        if (!stamp || stamp->sender != chat.users[client.user()].partner) {
            return;
        }
        LoopStats& stats = client.loop().stats;
        const std::uint64_t now = nowNs();
        stats.latency.record(now > stamp->sentNs ? now - stamp->sentNs : 0);
        chat.users[client.user()].received.see(stamp->seq, stats);
        ChatUser& sender = chat.users[stamp->sender];
        ++sender.acked;
        if (chat.windowed && sender.wake) {
            sender.wake->cancel();  // a place in the sender's window is free
        }
    };
    const StopReaders stopReaders{run, readers};
    run.rt.setPhase("login");
    if (!loginAll(run, range(1, o.users), loopOf, loginConcurrency(o, static_cast<unsigned>(o.users)), true,
                  &handler, readers)) {
        return;
    }
    const Window window = runWindow(
        run, "chat", chat.stop,
        [&run, &chat](Client* client) -> std::function<asio::awaitable<void>()> {
            Run* r = &run;
            ChatState* c = &chat;
            return [r, client, c] { return chatSender(r, client, c); };
        },
        [&chat](std::uint64_t u) { return chat.users[u].wake.get(); });
    // Wait for what is still in flight, then count what never came.
    const Totals t2 = drain(run, [](const Totals& t) { return t.sent; });
    const Totals& t0 = window.before;
    const Totals& t1 = window.after;
    const double elapsed = window.seconds;
    run.json.add("users", o.users).add("duration_s", o.duration);
    if (o.rate > 0) {
        run.json.add("rate", o.rate);
    } else {
        run.json.add("inflight", o.inflight);
    }
    run.json.add("body_bytes", static_cast<std::uint64_t>(o.bodyBytes))
        .add("pipeline", o.pipeline)
        .add("sent", t2.sent)
        .add("delivered", t2.delivered)
        .add("sent_per_s", static_cast<double>(t1.sent - t0.sent) / elapsed)
        .add("delivered_per_s", static_cast<double>(t1.delivered - t0.delivered) / elapsed);
    addLatency(run.json, t2.latency);
    run.lost = t2.sent > t2.delivered ? t2.sent - t2.delivered : 0;
    run.json.add("lost", run.lost).add("duplicated", t2.duplicated).add("reordered", t2.reordered);
}

// --- roster --------------------------------------------------------------------------------------

// Contacts in a ring: user i's contacts are the K/2 accounts before it and the K/2 after it.
std::uint64_t ringDistance(std::uint64_t from, std::uint64_t to, std::uint64_t n) {
    return (to + n - from) % n;  // steps forward from `from` to `to`
}

struct RosterUser {
    std::uint64_t expected = 0;  // subscribed answers still to come
    std::set<std::uint64_t> answered;
    bool done = false;
};

struct RosterState {
    std::vector<RosterUser> users;
    std::uint64_t n = 0;
    std::uint64_t half = 0;
    std::string domain;
    Group complete;
};

std::optional<std::uint64_t> userOf(const Options& o, std::string_view jid) {
    // bench17@localhost[/res] -> 17
    const auto at = jid.find('@');
    if (at == std::string_view::npos || !jid.starts_with(o.userPrefix)) {
        return std::nullopt;
    }
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(jid.data() + o.userPrefix.size(), jid.data() + at, n);
    if (ec != std::errc() || end != jid.data() + at) {
        return std::nullopt;
    }
    return n;
}

asio::awaitable<void> subscribeUpward(Run* run, Client* client, RosterState* state) {
    const Options& o = run->o;
    for (std::uint64_t d = 1; d <= state->half && !run->rt.failed(); ++d) {
        const std::uint64_t contact = (client->user() - 1 + d) % state->n + 1;
        const std::string jid = userName(o, contact) + "@" + o.domain;
        bool both = false;
        for (const xml::Element* item : client->roster().children("item", "jabber:iq:roster")) {
            both = both || (item->attr("jid") == jid && item->attr("subscription") == "both");
        }
        if (both) {
            continue;
        }
        // RFC 6121 §2.3 roster set, then §3.1.1 subscription request.
        auto set = co_await client->requestWhileRunning(
            "<iq type='set'><query xmlns='jabber:iq:roster'><item jid='" + jid + "'/></query></iq>",
            "roster set");
        if (!set) {
            run->rt.fail(set.error().message);
            co_return;
        }
        const Status sent = co_await client->send("<presence type='subscribe' to='" + jid + "'/>");
        if (!sent) {
            run->rt.fail(sent.error().message);
            co_return;
        }
    }
}

void runRoster(Run& run, Group& readers) {
    const Options& o = run.o;
    RosterState state;
    state.n = o.users;
    state.half = o.contacts / 2;
    state.users.resize(o.users + 1);
    run.clients.resize(o.users + 1);
    for (std::uint64_t u = 1; u <= o.users; ++u) {
        state.complete.add();
    }
    PerClientHandler handler = [&state, &o](Client& client, const xml::Element& element) {
        if (element.name() != "presence") {
            return;
        }
        const std::string_view type = element.attr("type");
        auto from = userOf(o, element.attr("from"));
        if (!from || *from > state.n) {
            return;
        }
        const std::uint64_t me = client.user();
        const std::uint64_t forward = ringDistance(*from, me, state.n);  // me is `forward` after `from`
        const std::uint64_t backward = ringDistance(me, *from, state.n);
        const bool contact =
            (forward >= 1 && forward <= state.half) || (backward >= 1 && backward <= state.half);
        if (!contact) {
            return;
        }
        const std::string jid = userName(o, *from) + "@" + o.domain;
        if (type == "subscribe") {
            // RFC 6121 §3.1.4: approve; and ask back when the contact started (it is before us in the ring).
            std::string reply = "<presence type='subscribed' to='" + jid + "'/>";
            if (forward >= 1 && forward <= state.half) {
                reply += "<presence type='subscribe' to='" + jid + "'/>";
            }
            client.queue(reply);
            asio::co_spawn(client.loop().io, flushQueued(&client), asio::detached);
        } else if (type == "subscribed") {
            RosterUser& user = state.users[me];
            if (user.answered.insert(*from).second && !user.done && user.answered.size() >= user.expected) {
                user.done = true;
                state.complete.done();
            }
        }
    };
    const StopReaders stopReaders{run, readers};
    run.rt.setPhase("login");
    auto loopOf = [](std::uint64_t user) { return static_cast<unsigned>(user); };
    if (!loginAll(run, range(1, o.users), loopOf, loginConcurrency(o, static_cast<unsigned>(o.users)), true,
                  &handler, readers)) {
        return;
    }
    // What is still to do, from the rosters fetched at login (a second run finds everything done).
    std::uint64_t pairsToMake = 0;
    onEachLoop(run, [&](Loop& loop) {
        for (std::uint64_t u = 1; u <= o.users; ++u) {
            Client* client = run.clients[u].get();
            if (client == nullptr || &client->loop() != &loop) {
                continue;
            }
            std::uint64_t both = 0;
            for (const xml::Element* item : client->roster().children("item", "jabber:iq:roster")) {
                auto contact = userOf(o, item->attr("jid"));
                if (contact && item->attr("subscription") == "both") {
                    ++both;
                }
            }
            RosterUser& user = state.users[u];
            user.expected = o.contacts > both ? o.contacts - both : 0;
            if (user.expected == 0 && !user.done) {
                user.done = true;
                state.complete.done();
            }
        }
    });
    for (std::uint64_t u = 1; u <= o.users; ++u) {
        pairsToMake += state.users[u].expected;
    }
    pairsToMake /= 2;
    run.rt.setPhase("subscribing");
    const auto start = Clock::now();
    Group subscribers;
    for (std::uint64_t u = 1; u <= o.users; ++u) {
        Client* client = run.clients[u].get();
        Run* r = &run;
        RosterState* s = &state;
        run.rt.spawn(client->loop(), subscribers, [r, client, s] { return subscribeUpward(r, client, s); });
    }
    run.rt.wait(subscribers, 1e9);
    const bool complete = run.rt.wait(state.complete, std::max(o.timeout, 120.0));
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    if (!complete && !run.rt.failed()) {
        run.rt.fail(std::to_string(state.complete.pending()) +
                    " users did not get all their subscriptions approved in time");
    }
    run.json.add("users", o.users)
        .add("contacts", o.contacts)
        .add("subscriptions_made", pairsToMake)
        .add("subscriptions_per_s", elapsed > 0 ? static_cast<double>(pairsToMake) / elapsed : 0.0)
        .add("elapsed_s", elapsed);
}

// --- presence ------------------------------------------------------------------------------------

struct PresenceUser {
    std::unordered_map<std::uint64_t, SeqTracker> from;
    std::set<std::uint64_t> online;  // contacts whose presence arrived since login
    bool settled = false;
    std::uint64_t sent = 0;
    std::unique_ptr<asio::steady_timer> timer;
};

struct PresenceState {
    std::vector<PresenceUser> users;
    std::atomic<bool> stop{false};
    std::uint32_t run = 0;
    std::uint64_t n = 0;
    std::uint64_t half = 0;
    double rate = 0;
    Group settled;  // users that have seen every contact online
};

asio::awaitable<void> presenceChanger(Run* run, Client* client, PresenceState* state) {
    const Options& o = run->o;
    PresenceUser& me = state->users[client->user()];
    me.timer = std::make_unique<asio::steady_timer>(client->loop().io);
    const auto interval = seconds(static_cast<double>(o.users) / state->rate);
    auto due = Clock::now() + interval * static_cast<long>(client->user() % 997) / 997;
    std::string stanza;
    while (!state->stop.load(std::memory_order_relaxed) && !run->rt.failed()) {
        me.timer->expires_at(due);
        co_await me.timer->async_wait(asio::as_tuple(asio::use_awaitable));
        if (state->stop.load(std::memory_order_relaxed)) {
            break;
        }
        due += interval;
        ++me.sent;
        // RFC 6121 §4.4: a presence update without `to` goes to every contact with a subscription from.
        stanza = me.sent % 2 == 1 ? "<presence><show>away</show><status>" : "<presence><status>";
        appendStamp(stanza, state->run, client->user(), me.sent);
        stanza += "</status></presence>";
        client->loop().stats.sent.fetch_add(1, std::memory_order_relaxed);
        const Status sent = co_await client->send(stanza);
        if (!sent) {
            run->rt.fail(sent.error().message);
            co_return;
        }
    }
}

void runPresence(Run& run, Group& readers) {
    const Options& o = run.o;
    PresenceState state;
    // By default each user changes its presence every two seconds.
    state.rate = o.rate > 0 ? o.rate : static_cast<double>(o.users) / 2;
    state.run = run.runId;
    state.n = o.users;
    state.half = o.contacts / 2;
    state.users.resize(o.users + 1);
    run.clients.resize(o.users + 1);
    for (std::uint64_t u = 1; u <= o.users; ++u) {
        state.settled.add();
    }
    PerClientHandler handler = [&state, &o](Client& client, const xml::Element& element) {
        if (element.name() != "presence" || element.hasAttr("type")) {
            return;
        }
        PresenceUser& me = state.users[client.user()];
        if (!me.settled) {
            auto from = userOf(o, element.attr("from"));
            if (from && *from != client.user() && me.online.insert(*from).second &&
                me.online.size() >= o.contacts) {
                me.settled = true;
                state.settled.done();
            }
        }
        auto stamp = parseStamp(element.childText("status", "jabber:client"), state.run);
        if (!stamp || stamp->sender == client.user()) {
            return;  // not ours, or our own update coming back to us
        }
        LoopStats& stats = client.loop().stats;
        const std::uint64_t now = nowNs();
        stats.latency.record(now > stamp->sentNs ? now - stamp->sentNs : 0);
        state.users[client.user()].from[stamp->sender].see(stamp->seq, stats);
    };
    const StopReaders stopReaders{run, readers};
    run.rt.setPhase("login");
    auto loopOf = [](std::uint64_t user) { return static_cast<unsigned>(user); };
    if (!loginAll(run, range(1, o.users), loopOf, loginConcurrency(o, static_cast<unsigned>(o.users)), true,
                  &handler, readers)) {
        return;
    }
    // Wait until each user has seen all its contacts online (their broadcasts or the answers to its
    // probes): a probe answered after the first change would carry that change a second time
    // (RFC 6121 §4.3.2), which is allowed for presence but would blur the count.
    run.rt.setPhase("settling");
    if (!run.rt.wait(state.settled, std::max(o.timeout, 60.0))) {
        if (!run.rt.failed()) {
            run.rt.fail(
                std::to_string(state.settled.pending()) + " users did not see all " +
                std::to_string(o.contacts) +
                " contacts online: run the roster scenario first, with the same --users and --contacts");
        }
        return;
    }
    const Window window = runWindow(
        run, "presence", state.stop,
        [&run, &state](Client* client) -> std::function<asio::awaitable<void>()> {
            Run* r = &run;
            PresenceState* s = &state;
            return [r, client, s] { return presenceChanger(r, client, s); };
        },
        [&state](std::uint64_t u) { return state.users[u].timer.get(); });
    // Each update reaches the sender's K contacts (all online: the ring is within the M users).
    const Totals t2 = drain(run, [&o](const Totals& t) { return t.sent * o.contacts; });
    const Totals& t0 = window.before;
    const Totals& t1 = window.after;
    const double elapsed = window.seconds;
    const std::uint64_t expected = t2.sent * o.contacts;
    run.json.add("users", o.users)
        .add("contacts", o.contacts)
        .add("duration_s", o.duration)
        .add("rate", state.rate)
        .add("changes", t2.sent)
        .add("changes_per_s", static_cast<double>(t1.sent - t0.sent) / elapsed)
        .add("delivered", t2.delivered)
        .add("delivered_per_s", static_cast<double>(t1.delivered - t0.delivered) / elapsed);
    addLatency(run.json, t2.latency);
    run.lost = expected > t2.delivered ? expected - t2.delivered : 0;
    run.repeatsAllowed = true;
    run.json.add("lost", run.lost).add("duplicated", t2.duplicated).add("reordered", t2.reordered);
}

// --- offline -------------------------------------------------------------------------------------

struct OfflineUser {
    std::unordered_map<std::uint64_t, SeqTracker> from;
    std::uint64_t got = 0;
    Clock::time_point loginStart;
    bool done = false;
};

struct OfflineState {
    std::vector<OfflineUser> users;
    std::uint32_t run = 0;
    std::uint64_t recipients = 0;
    std::uint64_t perRecipient = 0;
    Group complete;
    std::mutex lastMutex;
    Clock::time_point lastDelivery;
    std::atomic<std::uint64_t> bounced{0};
    std::string firstBounce;
};

asio::awaitable<void> offlineSender(Run* run, Client* client, std::uint64_t index, std::uint64_t senders,
                                    OfflineState* state) {
    const Options& o = run->o;
    std::string stanza;
    std::uint64_t queued = 0;
    for (std::uint64_t k = 1; k <= o.messages && !run->rt.failed(); ++k) {
        for (std::uint64_t r = 1 + index; r <= state->recipients; r += senders) {
            stanza = "<message type='chat' to='" + userName(o, r) + "@" + o.domain + "'><body>";
            appendStamp(stanza, state->run, client->user(), k);
            stanza += "</body></message>";
            client->queue(stanza);
            client->loop().stats.sent.fetch_add(1, std::memory_order_relaxed);
            if (++queued % 64 == 0) {
                const Status sent = co_await client->flush();
                if (!sent) {
                    run->rt.fail(sent.error().message);
                    co_return;
                }
            }
        }
    }
    const Status sent = co_await client->flush();
    if (!sent) {
        run->rt.fail(sent.error().message);
        co_return;
    }
    // RFC 6120 §10.1: the server handles one client's stanzas in order, so the answer to this ping
    // comes once every message before it was handled (stored).
    auto pong = co_await client->requestWhileRunning(
        "<iq type='get' to='" + o.domain + "'><ping xmlns='urn:xmpp:ping'/></iq>", "ping after the messages",
        std::max(o.timeout, 600.0));
    if (!pong) {
        run->rt.fail(pong.error().message);
    }
}

void runOffline(Run& run, Group& readers) {
    const Options& o = run.o;
    const std::uint64_t senders = std::min<std::uint64_t>(o.concurrency > 0 ? o.concurrency : 10, o.users);
    OfflineState state;
    state.run = run.runId;
    state.recipients = o.users;
    state.perRecipient = o.messages;
    state.users.resize(o.users + senders + 1);
    run.clients.resize(o.users + senders + 1);
    PerClientHandler senderHandler = [&state](Client&, const xml::Element& element) {
        if (element.name() == "message" && element.attr("type") == "error") {
            if (state.bounced.fetch_add(1) == 0) {
                state.firstBounce = element.toString();
            }
        }
    };
    PerClientHandler recipientHandler = [&state](Client& client, const xml::Element& element) {
        if (element.name() != "message") {
            return;
        }
        auto stamp = parseStamp(element.childText("body", "jabber:client"), state.run);
        if (!stamp) {
            return;
        }
        OfflineUser& me = state.users[client.user()];
        me.from[stamp->sender].see(stamp->seq, client.loop().stats);
        if (++me.got == state.perRecipient && !me.done) {
            me.done = true;
            const auto now = Clock::now();
            client.loop().stats.latency.record(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now - me.loginStart).count()));
            {
                std::lock_guard lock(state.lastMutex);
                state.lastDelivery = std::max(state.lastDelivery, now);
            }
            state.complete.done();
        }
    };
    // Senders are the accounts after the recipients: M+1 .. M+C.
    run.rt.setPhase("senders login");
    Group senderReaders;
    const StopReaders stopSenders{run, senderReaders};
    const StopReaders stopReaders{run, readers};
    auto loopOf = [](std::uint64_t user) { return static_cast<unsigned>(user); };
    if (!loginAll(run, range(o.users + 1, o.users + senders), loopOf, loginConcurrency(o, 64), false,
                  &senderHandler, senderReaders)) {
        return;
    }
    run.rt.setPhase("storing");
    Group sending;
    const auto storeStart = Clock::now();
    for (std::uint64_t s = 0; s < senders; ++s) {
        Client* client = run.clients[o.users + 1 + s].get();
        Run* r = &run;
        OfflineState* st = &state;
        run.rt.spawn(client->loop(), sending,
                     [r, client, s, senders, st] { return offlineSender(r, client, s, senders, st); });
    }
    run.rt.wait(sending, 1e9);
    const double storeSeconds = std::chrono::duration<double>(Clock::now() - storeStart).count();
    if (state.bounced.load() > 0 && !run.rt.failed()) {
        run.rt.fail(std::to_string(state.bounced.load()) +
                    " messages bounced instead of being stored, e.g. " + state.firstBounce +
                    " (raise the server's offline message limit)");
    }
    stopAll(run, senderReaders);
    const std::uint64_t stored = o.users * o.messages;
    run.json.add("users", o.users)
        .add("messages_per_user", o.messages)
        .add("senders", senders)
        .add("stored", stored)
        .add("store_s", storeSeconds)
        .add("stored_per_s", static_cast<double>(stored) / storeSeconds);
    if (run.rt.failed()) {
        return;
    }
    run.rt.setPhase("delivering");
    for (std::uint64_t u = 1; u <= o.users; ++u) {
        state.complete.add();
    }
    const auto deliverStart = Clock::now();
    // Each recipient's delivery time runs from the start of its login to its last message.
    run.beforeLogin = [&state](std::uint64_t user) { state.users[user].loginStart = Clock::now(); };
    const bool loggedIn =
        loginAll(run, range(1, o.users), loopOf, loginConcurrency(o, static_cast<unsigned>(o.users)), true,
                 &recipientHandler, readers);
    if (loggedIn) {
        run.rt.wait(state.complete, std::max(o.timeout, 60.0));
    }
    const Totals t = run.rt.totals();
    Clock::time_point last;
    {
        std::lock_guard lock(state.lastMutex);
        last = state.lastDelivery;
    }
    const double deliverSeconds =
        last > deliverStart ? std::chrono::duration<double>(last - deliverStart).count() : 0.0;
    run.json.add("delivered", t.delivered)
        .add("deliver_s", deliverSeconds)
        .add("delivered_per_s", deliverSeconds > 0 ? static_cast<double>(t.delivered) / deliverSeconds : 0.0);
    addLatency(run.json, t.latency, "delivery_");
    run.lost = stored > t.delivered ? stored - t.delivered : 0;
    run.json.add("lost", run.lost).add("duplicated", t.duplicated).add("reordered", t.reordered);
}

// The server's certificate, pinned on first use: the first handshake of a run records the certificate
// the server presents and every later one must present the same bytes. This replaces OpenSSL's chain
// building and verification (X509_verify_cert), which the generator would otherwise run, only to
// ignore its verdict, on every handshake; a pin compares bytes and also notices a server that changes
// its certificate during a run. (Real clients keep OpenSSL's verification: libs/net, client/.)
struct CertificatePin {
    std::mutex mutex;
    std::string der;
};

int verifyPinnedCertificate(X509_STORE_CTX* store, void* arg) {
    auto* pin = static_cast<CertificatePin*>(arg);
    X509* leaf = X509_STORE_CTX_get0_cert(store);
    unsigned char* der = nullptr;
    const int length = leaf != nullptr ? i2d_X509(leaf, &der) : -1;
    if (length <= 0) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_UNSPECIFIED);
        return 0;
    }
    const std::string_view presented(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
    bool same = false;
    {
        std::lock_guard lock(pin->mutex);
        if (pin->der.empty()) {
            pin->der = presented;
        }
        same = pin->der == presented;
    }
    OPENSSL_free(der);
    if (!same) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    }
    return same ? 1 : 0;
}

}  // namespace

int runScenario(const Options& options) {
    // Sockets are files: take the hard limit (20 000 on the reference machines).
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &files);
    }
    const std::uint64_t needed = options.scenario == "idle" ? options.sessions : options.users;
    if (needed + 64 > files.rlim_cur && options.scenario != "login" && options.scenario != "register") {
        std::cerr << "parley-bench: " << needed << " sessions need more files than the limit of "
                  << files.rlim_cur << " (ulimit -n); run several generators or fewer sessions\n";
        return 2;
    }
    Run run(options);
    run.json.add("scenario", options.scenario).add("label", options.label);
    run.json.add("threads", static_cast<std::uint64_t>(options.threads))
        .add("tls", toString(options.tls))
        .add("mech", options.mech);
    run.runId = std::random_device{}() & 0x7fffffff;
    run.shared.options = &run.o;
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(options.host, ec);
    if (ec) {
        std::cerr << "parley-bench: --host must be an IP address, not '" << options.host << "'\n";
        return 2;
    }
    run.shared.server = asio::ip::tcp::endpoint(address, options.port);
    run.shared.loopbackServer = address.is_v4() && address.is_loopback();
    run.shared.keepRosters = options.scenario == "roster";
    auto tls = net::makeClientTlsContext(false);
    // The reference figures are for TLS 1.3 (issue 6). The server's certificate is pinned on first use
    // (the benchmark's servers have self-signed certificates), a failed check aborts the handshake.
    SSL_CTX_set_min_proto_version(tls.get(), TLS1_3_VERSION);
    static CertificatePin pin;  // outlives every connection: runScenario ends with _exit
    SSL_CTX_set_verify(tls.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_cert_verify_callback(tls.get(), &verifyPinnedCertificate, &pin);
    run.shared.tls = tls.get();

    Group readers;
    const auto& s = options.scenario;
    if (s == "register") {
        runRegister(run);
    } else if (s == "idle") {
        runIdle(run, readers);
    } else if (s == "login") {
        runLogin(run);
    } else if (s == "chat") {
        runChat(run, readers);
    } else if (s == "roster") {
        runRoster(run, readers);
    } else if (s == "presence") {
        runPresence(run, readers);
    } else if (s == "offline") {
        runOffline(run, readers);
    }
    run.rt.setPhase("closing");
    stopAll(run, readers);
    const Totals t = run.rt.totals();
    run.json.add("errors", t.errors + (run.rt.failed() ? 1 : 0));
    int code = 0;
    if (run.rt.failed()) {
        run.json.add("error", run.rt.failure());
        std::cerr << "parley-bench: " << run.rt.failure() << "\n";
        code = 1;
    } else if (run.lost > 0 || (t.duplicated > 0 && !run.repeatsAllowed) || t.reordered > 0) {
        std::cerr << "parley-bench: " << run.lost << " lost, " << t.duplicated << " duplicated and "
                  << t.reordered << " out-of-order stanzas (all must be zero)\n";
        code = 1;
    }
    std::cout << run.json.str() << std::endl;
    // The loops may still hold coroutines of abandoned sessions; nothing of them matters now.
    std::fflush(nullptr);
    ::_exit(code);
}

}  // namespace parley::bench
