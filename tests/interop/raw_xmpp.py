"""A small blocking XMPP client for batteries that must see every byte of the protocol: direct TLS
(XEP-0368), in-band registration, SASL PLAIN, bind, the stream features after authentication, and
XEP-0198 stream management by hand (enable, counting, <r/>/<a/>, resume on a new connection).

Every element the server sends at depth 1 is parsed (xml.etree's pull parser, so prefixes do not matter)
and recorded in `received`; waits are bounded by a deadline and end as soon as a match arrives. The client
answers the server's disco#info queries (with `features`, for XEP-0115 +notify) and pings by itself.
"""
import base64
import hashlib
import itertools
import select
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

DOMAIN = "localhost"
STREAM_NS = "http://etherx.jabber.org/streams"
CLIENT_NS = "jabber:client"
SM_NS = "urn:xmpp:sm:3"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
CAPS_NS = "http://jabber.org/protocol/caps"
WAIT = 5  # the longest one expected element may take

_ids = itertools.count(1)


def tag(element):
    """'message', 'a', ... : the local name of an element."""
    return element.tag.rsplit("}", 1)[-1]


def ns(element):
    return element.tag[1:].split("}", 1)[0] if element.tag.startswith("{") else ""


def text(element):
    return ET.tostring(element, encoding="unicode")


def caps_ver(identity, features):
    """XEP-0115 §5.1 verification string for one identity (category, type, name) and the features."""
    category, kind, name = identity
    s = f"{category}/{kind}//{name}<" + "".join(f"{f}<" for f in sorted(features))
    return base64.b64encode(hashlib.sha1(s.encode()).digest()).decode()


class StreamClosed(Exception):
    pass


class RawClient:
    """One connection. login() or register() first; then send(), wait(), iq()."""

    def __init__(self, port, label, features=()):
        self.port, self.label = port, label
        self.features = list(features)  # what disco#info answers (XEP-0115 +notify interests)
        self.identity = ("client", "pc", "parley-battery")
        self.received = []  # depth-1 elements, in arrival order
        self.stream_features = None
        self.sock = None
        self.closed = False
        self.inbound = 0  # XEP-0198 §4: stanzas received since <enable/> (kept across <resumed/>)
        self.outbound = 0  # and stanzas sent since <enable/>, what the server's h must count
        self.counting = False
        self.sm_id = None
        self.jid = None

    # --- the connection ---

    def connect(self):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # self-signed test certificates
        raw = socket.create_connection(("127.0.0.1", self.port), timeout=WAIT)
        self.sock = context.wrap_socket(raw, server_hostname=DOMAIN)
        self.sock.setblocking(False)
        self.closed = False
        self.open_stream()

    def open_stream(self):
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.write("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                   f"xmlns:stream='{STREAM_NS}' to='{DOMAIN}' version='1.0'>")
        self.stream_features = self.wait(lambda e: e.tag == f"{{{STREAM_NS}}}features", since=len(self.received))
        return self.stream_features

    def write(self, data):
        payload = data.encode()
        deadline = time.monotonic() + WAIT
        while payload:
            try:
                sent = self.sock.send(payload)
                payload = payload[sent:]
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                if time.monotonic() > deadline:
                    raise StreamClosed(f"{self.label}: cannot write")
                select.select([], [self.sock], [], 0.1)

    def cut(self):
        """The TCP connection ends without </stream:stream> (a phone losing its network)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def close(self):
        if self.sock and not self.closed:
            try:
                self.write("</stream:stream>")
                self.wait(lambda e: False, timeout=1)  # until the server closes, at most a second
            except (OSError, StreamClosed):
                pass
            self.cut()

    def pump(self, timeout):
        """Reads what arrives within `timeout` s and parses it; False once the stream is closed."""
        if self.closed:
            return False
        if not self.sock.pending():
            ready, _, _ = select.select([self.sock], [], [], max(timeout, 0))
            if not ready:
                return True
        try:
            data = self.sock.recv(65536)
        except (ssl.SSLWantReadError, BlockingIOError):
            return True
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return False
        self.parser.feed(data)
        for event, element in self.parser.read_events():
            if event == "start":
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.on_element(element)
            if event == "end" and self.depth == 0:
                self.closed = True
        return True

    def on_element(self, element):
        self.received.append(element)
        if ns(element) == CLIENT_NS and tag(element) in ("message", "presence", "iq") and self.counting:
            self.inbound += 1
        if element.tag == f"{{{SM_NS}}}r":
            self.write(f"<a xmlns='{SM_NS}' h='{self.inbound}'/>")
        if element.tag == f"{{{CLIENT_NS}}}iq" and element.get("type") == "get":
            self.answer(element)

    def answer(self, iq):
        query = iq.find(f"{{{DISCO_INFO}}}query")
        to = quoteattr(iq.get("from", DOMAIN))
        if query is not None:
            node = f" node={quoteattr(query.get('node'))}" if query.get("node") else ""
            category, kind, name = self.identity
            body = f"<identity category='{category}' type='{kind}' name='{name}'/>" + "".join(
                f"<feature var={quoteattr(f)}/>" for f in sorted(set(self.features + [DISCO_INFO])))
            self.write(f"<iq type='result' id={quoteattr(iq.get('id', ''))} to={to}>"
                       f"<query xmlns='{DISCO_INFO}'{node}>{body}</query></iq>")
        else:
            self.write(f"<iq type='error' id={quoteattr(iq.get('id', ''))} to={to}><error type='cancel'>"
                       "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>")

    # --- waiting ---

    def mark(self):
        return len(self.received)

    def found(self, predicate, since=0):
        return [e for e in self.received[since:] if predicate(e)]

    def wait(self, predicate, since=None, timeout=WAIT):
        """The first element received at `since` (default: now) or later that matches, or None after
        `timeout` s or when the stream closes."""
        since = self.mark() if since is None else since
        deadline = time.monotonic() + timeout
        while True:
            hits = self.found(predicate, since)
            if hits:
                return hits[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.pump(min(remaining, 0.5)):
                hits = self.found(predicate, since)
                return hits[0] if hits else None

    def transcript(self, since=0, limit=12):
        items = [text(e) for e in self.received[since:]][-limit:]
        return f"[{self.label}] " + (" | ".join(items) if items else "(nothing)")

    # --- stanzas ---

    def send(self, xml):
        self.write(xml)

    def stanza(self, xml):
        """Sends a stanza (counted for XEP-0198)."""
        if self.counting:
            self.outbound += 1
        self.write(xml)

    def iq(self, type_, payload, to=None, timeout=WAIT):
        """Sends an iq and returns its answer (result or error), or None."""
        iq_id = f"q{next(_ids)}"
        target = f" to={quoteattr(to)}" if to else ""
        since = self.mark()
        self.stanza(f"<iq type='{type_}' id='{iq_id}'{target}>{payload}</iq>")
        return self.wait(lambda e: tag(e) == "iq" and e.get("id") == iq_id
                         and e.get("type") in ("result", "error"), since, timeout)

    def barrier(self):
        """A ping to the server: answered after everything sent before it was handled (RFC 6120 §10.1)
        and after what was queued for this client before the answer."""
        answer = self.iq("get", "<ping xmlns='urn:xmpp:ping'/>", to=DOMAIN)
        return answer is not None

    def message(self, to, body, type_="chat", extra=""):
        self.stanza(f"<message to={quoteattr(to)} type='{type_}' id='m{next(_ids)}'>"
                   f"<body>{escape(body)}</body>{extra}</message>")

    def presence(self, to=None, type_=None, status=None, caps=True, extra=""):
        attrs = (f" to={quoteattr(to)}" if to else "") + (f" type='{type_}'" if type_ else "")
        inner = f"<status>{escape(status)}</status>" if status else ""
        if caps and not to and not type_:
            ver = caps_ver(self.identity, set(self.features + [DISCO_INFO]))
            inner += f"<c xmlns='{CAPS_NS}' hash='sha-1' node='https://parley.example/battery' ver='{ver}'/>"
        self.stanza(f"<presence{attrs}>{inner}{extra}</presence>")

    # --- accounts and sessions ---

    def register(self, user, password):
        """XEP-0077 in-band registration on a fresh connection; True when created (or it already was)."""
        self.connect()
        answer = self.iq("set", f"<query xmlns='jabber:iq:register'><username>{escape(user)}</username>"
                                f"<password>{escape(password)}</password></query>")
        self.close()
        return answer is not None and (answer.get("type") == "result" or answer.find(
            ".//{urn:ietf:params:xml:ns:xmpp-stanzas}conflict") is not None)

    def authenticate(self, user, password):
        """Connects and authenticates (SASL PLAIN over TLS); the features of the restarted stream are in
        `stream_features`. True on success."""
        self.connect()
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        since = self.mark()
        self.write(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
        outcome = self.wait(lambda e: tag(e) in ("success", "failure"), since)
        if outcome is None or tag(outcome) != "success":
            return False
        return self.open_stream() is not None

    def bind(self, resource):
        answer = self.iq("set", f"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>{escape(resource)}"
                                "</resource></bind>")
        found = answer.find(".//{urn:ietf:params:xml:ns:xmpp-bind}jid") if answer is not None else None
        self.jid = found.text if found is not None else None
        return self.jid

    def login(self, user, password, resource, presence=True):
        """Authenticates, binds, asks for the roster (RFC 6121 §2.1.6: interested in pushes) and sends
        initial presence. Returns the bound JID or None."""
        if not self.authenticate(user, password) or not self.bind(resource):
            return None
        self.iq("get", "<query xmlns='jabber:iq:roster'/>")
        if presence:
            self.presence()
        return self.jid

    def feature(self, namespace, name):
        """The element {namespace}name among the stream features, or None."""
        if self.stream_features is None:
            return None
        return self.stream_features.find(f"{{{namespace}}}{name}")

    # --- XEP-0198 ---

    def enable_sm(self):
        """<enable resume='true'/>: the <enabled/> element, or None (XEP-0198 §3)."""
        since = self.mark()
        self.write(f"<enable xmlns='{SM_NS}' resume='true'/>")
        enabled = self.wait(lambda e: ns(e) == SM_NS and tag(e) in ("enabled", "failed"), since)
        if enabled is not None and tag(enabled) == "enabled":
            self.counting, self.inbound, self.outbound, self.sm_id = True, 0, 0, enabled.get("id")
            return enabled
        return None

    def request_ack(self):
        """<r/> -> the h of the server's <a/>, or None."""
        since = self.mark()
        self.write(f"<r xmlns='{SM_NS}'/>")
        answer = self.wait(lambda e: e.tag == f"{{{SM_NS}}}a", since)
        return int(answer.get("h")) if answer is not None else None

    def resume(self, user, password, previd, h):
        """A new connection authenticates as `user` and asks to resume `previd` having received `h`
        stanzas (XEP-0198 §5): the <resumed/> or <failed/> element, or None."""
        if not self.authenticate(user, password):
            return None
        since = self.mark()
        self.write(f"<resume xmlns='{SM_NS}' previd={quoteattr(previd)} h='{h}'/>")
        answer = self.wait(lambda e: ns(e) == SM_NS and tag(e) in ("resumed", "failed"), since)
        if answer is not None and tag(answer) == "resumed":
            self.counting, self.sm_id = True, previd
        return answer
