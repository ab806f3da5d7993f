#!/usr/bin/python3
"""Private Prosody and ejabberd instances for side-by-side tests and benchmarks (issues 3, 4 and 6).

Each server runs in the foreground as the calling user (no service manager, no system paths): its
configuration, self-signed certificate, data, logs (and for ejabberd the Erlang spool, node name and
cookie) live in one temporary folder that stop() removes. Both share the settings that a fair comparison
with Parley needs:

  - the domain `localhost`, listening on 127.0.0.1 only, on the ports the caller chooses (free ones by
    default): `port` for STARTTLS (TLS optional: plaintext logins allowed) and `direct_port` for direct
    TLS (XEP-0368); an ECDSA P-256 self-signed certificate;
  - in-band registration (XEP-0077) open, with no throttling; offline messages, MAM (archive on by default,
    `archive=False` turns it off), carbons, stream management, CSI, PEP, bookmarks, blocking;
  - no traffic shaping, no c2s rate limits, a 10 MiB stanza limit, no per-user session cap worth the name.

ejabberd runs without epmd: its Erlang distribution listens on a private loopback port
(`-erl_epmd_port`), so that it neither needs nor clashes with an epmd or another node on the machine.

Readiness is the client port accepting connections (polled, bounded by `timeout`), never a fixed sleep.
Accounts: `register(accounts)` creates [(user, password)] quickly: for Prosody by writing its
internal_hashed account files (SCRAM-SHA-1 keys, computed once per distinct password), for ejabberd by one
Erlang RPC client calling ejabberd_auth:try_register with SCRAM keys derived once per password.

    with Prosody() as prosody:          # or Ejabberd(); start() raises PeerUnavailable with the reason
        prosody.register([("alice", "secret")])
        ... connect to 127.0.0.1:prosody.port ...
"""
import hashlib
import hmac
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from parleyd_process import free_port, stop_process

DOMAIN = "localhost"
STANZA_LIMIT = 10 * 1024 * 1024


class PeerUnavailable(RuntimeError):
    """The peer server cannot run here; the message says why and how to fix it."""


def make_certificate(folder):
    """(key, certificate) PEM paths of a fresh ECDSA P-256 self-signed certificate for DOMAIN."""
    key, cert = os.path.join(folder, "key.pem"), os.path.join(folder, "cert.pem")
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                           "-nodes", "-keyout", key, "-out", cert, "-days", "7", "-subj", f"/CN={DOMAIN}",
                           "-addext", f"subjectAltName=DNS:{DOMAIN}"], capture_output=True, text=True)
    if made.returncode != 0:
        raise PeerUnavailable("openssl could not make a certificate: " + made.stderr.strip())
    return key, cert


def accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class PeerServer:
    """What Prosody and ejabberd share: a temporary folder, a foreground process whose output is kept in
    `log`, readiness by polling the client port, and stop()."""

    name = "peer"
    binary = None

    def __init__(self, port=None, direct_port=None, archive=True, log_level="info"):
        if not self.binary or not shutil.which(self.binary):
            raise PeerUnavailable(f"no {self.binary} on PATH (scripts/install-deps.sh installs Debian's "
                                  f"{self.name} package)")
        self.port = port or free_port()
        self.direct_port = direct_port or free_port()
        self.archive = archive
        self.log_level = log_level
        self.dir = tempfile.mkdtemp(prefix=f"{self.name.lower()}-peer-")
        self.process = None
        self.log = []

    @property
    def pid(self):
        return self.process.pid if self.process else None

    def command(self):
        raise NotImplementedError

    def environment(self):
        return None

    def start(self, timeout=120):
        """Writes the configuration, starts the server and waits (polling, at most `timeout` s) until its
        client port accepts connections. Raises PeerUnavailable with the server's last output if not."""
        self.key, self.cert = make_certificate(self.dir)
        self.configure()
        self.process = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, text=True, cwd=self.dir,
                                        env=self.environment())

        def pump():
            for line in self.process.stdout:
                self.log.append(line.rstrip())
                del self.log[:-2000]

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not accepts(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                status = self.process.poll()
                self.stop()
                why = f"exited with {status}" if status is not None else f"not listening after {timeout} s"
                raise PeerUnavailable(f"{self.name} did not start ({why}):\n  " + "\n  ".join(self.log[-25:]))
            time.sleep(0.1)  # polling the port: the wait ends as soon as it listens
        return self

    def stop(self):
        stop_process(self.process)
        shutil.rmtree(self.dir, ignore_errors=True)

    def restart(self, timeout=120):
        """Stops the server and starts it again on the same ports with the same data (accounts, rosters):
        a benchmark that measures memory per session starts from a fresh process, not from one whose heap
        an earlier step grew."""
        stop_process(self.process)
        return self.start(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *_):
        self.stop()

    def version(self):
        """The Debian package version, for reports."""
        found = subprocess.run(["dpkg-query", "-W", "-f=${Version}", self.package], capture_output=True,
                               text=True)
        return found.stdout.strip() or "unknown"


# --- Prosody ------------------------------------------------------------------------------------------

def prosody_encode(part):
    """Prosody's datamanager file name encoding: every non-alphanumeric byte as %xx."""
    return "".join(c if c.isascii() and c.isalnum() else "".join(f"%{b:02x}" for b in c.encode())
                   for c in part)


def scram_sha1_keys(password, salt, iterations):
    """RFC 5802 §3: (StoredKey, ServerKey) in hex, as Prosody's internal_hashed stores them."""
    salted = hashlib.pbkdf2_hmac("sha1", password.encode(), salt.encode(), iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha1).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha1).digest()
    return hashlib.sha1(client_key).hexdigest(), server_key.hex()


class Prosody(PeerServer):
    """Debian's Prosody 0.12 with internal (file) storage, its default."""

    name = "Prosody"
    binary = "prosody"
    package = "prosody"

    def configure(self):
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.config = os.path.join(self.dir, "prosody.cfg.lua")
        archive = '"mam", ' if self.archive else ""
        with open(self.config, "w") as f:
            f.write(f"""
run_as_root = true
pidfile = "{self.dir}/prosody.pid"
data_path = "{self.dir}/data"
certificates = "{self.dir}"
log = {{ {{ levels = {{ min = "{self.log_level}" }}, to = "console" }} }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.port} }}
c2s_direct_tls_ports = {{ {self.direct_port} }}
s2s_ports = {{ }}
modules_enabled = {{ "roster", "saslauth", "tls", "disco", "ping", "register", "offline", "posix", "carbons",
  {archive}"smacks", "csi_simple", "pep", "bookmarks", "blocklist", "private", "vcard_legacy", "version" }}
modules_disabled = {{ "s2s", "limits" }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
c2s_stanza_size_limit = {STANZA_LIMIT}
-- server_epoll listens with a backlog of 128: a login burst overflows it and the kernel drops SYNs (the
-- client retries after 1, 3, 7 s), which shows as stalls at low CPU. The kernel caps it at somaxconn.
network_settings = {{ tcp_backlog = 4096 }}
allow_registration = true
min_seconds_between_registrations = 0
registration_throttle_max = 1000000
authentication = "internal_hashed"
storage = "internal"
default_archive_policy = true
archive_expires_after = "never"
smacks_hibernation_time = 300
ssl = {{ certificate = "{self.cert}", key = "{self.key}" }}
c2s_direct_tls_ssl = {{ certificate = "{self.cert}", key = "{self.key}" }}
VirtualHost "{DOMAIN}"
  ssl = {{ certificate = "{self.cert}", key = "{self.key}" }}
""")

    def command(self):
        return [shutil.which(self.binary), "--config", self.config, "-F"]

    def register(self, accounts, iterations=4096):
        """Creates the accounts [(user, password)] by writing Prosody's account files (its internal
        storage reads them on demand, so this works while it runs). One PBKDF2 per distinct password."""
        folder = os.path.join(self.dir, "data", prosody_encode(DOMAIN), "accounts")
        os.makedirs(folder, exist_ok=True)
        keys = {}
        for user, password in accounts:
            if password not in keys:
                salt = secrets.token_hex(16)
                keys[password] = (salt, *scram_sha1_keys(password, salt, iterations))
            salt, stored, server = keys[password]
            with open(os.path.join(folder, prosody_encode(user) + ".dat"), "w") as f:
                f.write(f'return {{\n\t["iteration_count"] = {iterations};\n\t["salt"] = "{salt}";\n'
                        f'\t["stored_key"] = "{stored}";\n\t["server_key"] = "{server}";\n}};\n')
        return len(accounts)


# --- ejabberd -----------------------------------------------------------------------------------------

EJABBERD_LIBS = "/usr/lib/x86_64-linux-gnu"  # where Debian's ejabberd and its erlang-p1-* libraries live


class Ejabberd(PeerServer):
    """Debian's ejabberd 23.01 with Mnesia, its default storage, started with `erl` the way ejabberdctl
    does (ejabberdctl itself would switch to the ejabberd system user and use /var/lib/ejabberd)."""

    name = "ejabberd"
    binary = "erl"
    package = "ejabberd"

    def __init__(self, *args, **kwargs):
        if not os.path.isdir(EJABBERD_LIBS) or not any(n.startswith("ejabberd-") for n in os.listdir(EJABBERD_LIBS)):
            raise PeerUnavailable(f"no ejabberd in {EJABBERD_LIBS} (scripts/install-deps.sh installs Debian's "
                                  "ejabberd package)")
        super().__init__(*args, **kwargs)
        self.dist_port = free_port()  # the Erlang distribution port, instead of epmd's 4369
        token = secrets.token_hex(4)
        self.node = f"parley-peer-{token}@localhost"
        self.cookie = secrets.token_hex(16)

    def configure(self):
        self.spool = os.path.join(self.dir, "spool")
        os.makedirs(self.spool, exist_ok=True)
        self.pem = os.path.join(self.dir, "server.pem")
        with open(self.pem, "w") as f:
            f.write(open(self.cert).read() + open(self.key).read())
        self.config = os.path.join(self.dir, "ejabberd.yml")
        mam = "  mod_mam:\n    default: always\n" if self.archive else ""
        # backlog: Erlang listens with a backlog of 5 by default; a login burst overflows it and the kernel
        # drops SYNs (the client retries after 1, 3, 7 s): stalls at 0% CPU. The kernel caps it at somaxconn.
        listener = f"""    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: {STANZA_LIMIT}
    shaper: none
    access: c2s
    backlog: 4096
"""
        with open(self.config, "w") as f:
            f.write(f"""loglevel: {self.log_level}
log_rotate_count: 0
hosts:
  - {DOMAIN}
certfiles:
  - "{self.pem}"
listen:
  -
    port: {self.port}
{listener}    starttls: true
  -
    port: {self.direct_port}
{listener}    tls: true
auth_password_format: scram
auth_scram_hash: sha256
registration_timeout: infinity
max_fsm_queue: 1000000
acl:
  local:
    user_regexp: ""
access_rules:
  c2s:
    allow: all
  register:
    allow: all
shaper_rules:
  max_user_sessions: 10000
  max_user_offline_messages: 1000000
modules:
  mod_avatar: {{}}
  mod_blocking: {{}}
  mod_caps: {{}}
  mod_carboncopy: {{}}
  mod_client_state: {{}}
  mod_disco: {{}}
{mam}  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_ping: {{}}
  mod_push: {{}}
  mod_privacy: {{}}
  mod_private: {{}}
  mod_pubsub:
    plugins:
      - flat
      - pep
  mod_register:
    access: register
    ip_access: all
  mod_roster: {{}}
  mod_stream_mgmt:
    resend_on_timeout: if_offline
  mod_vcard:
    search: false
  mod_vcard_xupdate: {{}}
  mod_version: {{}}
""")

    def environment(self):
        env = dict(os.environ)
        env.update({
            "HOME": self.dir,  # Erlang writes .erlang.cookie there if it has none; never the caller's
            "EJABBERD_CONFIG_PATH": self.config,
            "EJABBERD_LOG_PATH": os.path.join(self.dir, "ejabberd.log"),
            "ERL_LIBS": EJABBERD_LIBS,
            "ERL_CRASH_DUMP": os.path.join(self.dir, "erl_crash.dump"),
            "ERL_CRASH_DUMP_BYTES": "0",
            "ERL_MAX_PORTS": "65536",
        })
        return env

    def erl(self, node, *args):
        """An `erl` command line for `node` that reaches the others through the private distribution port
        (no epmd)."""
        return ["erl", "-sname", node, "-setcookie", self.cookie, "-erl_epmd_port", str(self.dist_port),
                "-start_epmd", "false", "-kernel", "inet_dist_use_interface", "{127,0,0,1}", *args]

    def command(self):
        return self.erl(self.node, "+K", "true", "+P", "1000000", "-mnesia", "dir", f'"{self.spool}"',
                        "-s", "ejabberd", "-noinput")

    def start(self, timeout=120):
        """The client port accepts before ejabberd has created its Mnesia tables (a registration then fails
        with {aborted,{no_exists,passwd,...}}): ready is also the account store answering, polled from one
        RPC client for at most `timeout` s."""
        super().start(timeout)
        polls = int(timeout * 10)
        out = self.rpc(f'Wait = fun W(0) -> not_ready; W(N) -> case rpc:call(Node, ejabberd_auth, user_exists, '
                       f'[<<"nobody">>, <<"{DOMAIN}">>]) of false -> ready; _ -> timer:sleep(100), W(N - 1) end '
                       f'end, io:format("~p~n", [Wait({polls})])', timeout=timeout + 60)
        if "ready" not in out.split():
            self.stop()
            raise PeerUnavailable(f"ejabberd's account store did not answer within {timeout} s:\n  " +
                                  "\n  ".join(self.log[-25:]))
        return self

    def rpc(self, expression, timeout=600):
        """Runs an Erlang expression on a hidden client node that may call `Node` (the server); returns its
        standard output."""
        script = f"Node = '{self.node}', {expression}, halt()."
        client = f"parley-ctl-{secrets.token_hex(4)}@localhost"
        done = subprocess.run(self.erl(client, "-hidden", "-dist_listen", "false", "-noinput", "-eval", script),
                              capture_output=True, text=True, env=self.environment(), timeout=timeout)
        if done.returncode != 0:
            raise PeerUnavailable(f"erl RPC to {self.node} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def register(self, accounts):
        """Creates the accounts [(user, password)] with ejabberd_auth:try_register, all in one RPC client
        (ejabberdctl register would start an Erlang VM per account). Returns how many were created."""
        if not accounts:
            return 0
        terms = os.path.join(self.dir, f"accounts-{secrets.token_hex(4)}.terms")
        with open(terms, "w") as f:
            for user, password in accounts:
                f.write(f"{{<<\"{user}\">>, <<\"{password}\">>}}.\n")
        # The SCRAM keys are derived once per distinct password (ejabberd_auth:password_to_scram) and
        # stored as they are: try_register with a password would run PBKDF2 for every account (about
        # 20 ms each, three minutes for 9 000 accounts), with the keys it takes 0.3 ms.
        out = self.rpc(f'{{ok, Accounts}} = file:consult("{terms}"), Host = <<"{DOMAIN}">>, '
                       f'Keys = maps:from_list([{{P, rpc:call(Node, ejabberd_auth, password_to_scram, [Host, P])}}'
                       f' || P <- lists:usort([P || {{_, P}} <- Accounts])]), '
                       f'Results = [rpc:call(Node, ejabberd_auth, try_register, [U, Host, maps:get(P, Keys)],'
                       f' infinity) || {{U, P}} <- Accounts], '
                       f'io:format("created ~b~n", [length([ok || ok <- Results])])')
        os.remove(terms)
        created = [line for line in out.splitlines() if line.startswith("created ")]
        if not created:
            raise PeerUnavailable(f"ejabberd registration gave no count: {out}")
        return int(created[-1].split()[1])


PEERS = {"prosody": Prosody, "ejabberd": Ejabberd}


def main():
    """Command line for bench/compare.sh: start one peer, create accounts, print `ready PORT DIRECT PID
    VERSION`, run until stdin closes (or a line `stop`), then stop it. A line `restart` restarts it with its
    data kept and prints `ready ...` again (or `failed REASON`)."""
    import argparse
    import signal
    import sys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server", choices=sorted(PEERS))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--direct-port", type=int, default=0)
    parser.add_argument("--archive", choices=("on", "off"), default="on")
    parser.add_argument("--users", type=int, default=0, help="create accounts PREFIX1..PREFIXN")
    parser.add_argument("--user-prefix", default="bench")
    parser.add_argument("--password", default="bench")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    # compare.sh, interrupted, sends SIGTERM: leave through the `finally` below, which stops the peer.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    level = {"prosody": {"warning": "warn"}}.get(args.server, {}).get(args.log_level, args.log_level)
    try:
        server = PEERS[args.server](args.port or None, args.direct_port or None, archive=args.archive == "on",
                                    log_level=level).start()
    except PeerUnavailable as e:
        print(f"peer_servers: {e}", file=sys.stderr)
        return 2
    try:
        began = time.monotonic()
        created = server.register([(f"{args.user_prefix}{n}", args.password) for n in range(1, args.users + 1)])
        print(f"peer_servers: {args.server} {server.version()} created {created} accounts in "
              f"{time.monotonic() - began:.1f} s", file=sys.stderr)
        print(f"ready {server.port} {server.direct_port} {server.pid} {server.version()}", flush=True)
        for line in sys.stdin:
            if line.strip() == "stop":
                break
            if line.strip() == "restart":
                try:
                    server.restart()
                except PeerUnavailable as e:
                    print(f"peer_servers: {e}", file=sys.stderr)
                    print("failed " + str(e).splitlines()[0], flush=True)
                    continue
                print(f"ready {server.port} {server.direct_port} {server.pid} {server.version()}", flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
