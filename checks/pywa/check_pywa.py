#!/usr/bin/env python3
"""The pywa check: `coex sim` as seen by a Cloud API client nobody here wrote.

pywa (PyPI) is a widely used Python framework for Meta's WhatsApp Cloud API whose 4.x parses
coexistence echoes and business-scoped user ids (BSUIDs). This script starts the real `coex sim`
binary, points pywa's own client at it (an httpx transport that sends pywa's requests for
graph.facebook.com to the emulator: pywa pins its base URL, so the transport is the one seam it
offers), receives the emulator's webhooks on a local HTTP server and hands every body to pywa's
own signature validator and update handling (`webhook_update_validator`,
`webhook_update_handler`), with one pywa handler per update type recording what pywa built.

It then drives a day in miniature: customers send every inbound type, pywa's client sends text,
media (by link and uploaded), a template, interactive buttons, a reaction and a read receipt,
the owner sends from the phone app (echoes), edits and revokes, customers tap, react, edit,
revoke, deliver and read, one changes number, a template is reviewed. Finally it checks that
pywa saw every message, echo, edit, revoke and status the emulator says it delivered (ids and
types against `/_sim/deliveries`), with the content and identities of what was done, that every
body verified, and that pywa's client got wamids and Meta's error classes back.

Exit status 0 only when everything matched; the last line is `pywa: N passed, M failed`.
"""

from __future__ import annotations

import base64
import collections
import hashlib
import http.server
import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
import traceback
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pywa
from pywa import WhatsApp, errors, handlers, types
from pywa.types.templates import BodyText, HeaderImage, QuickReplyButton, TemplateLanguage, URLButton

# ---------------------------------------------------------------------------------------------
# Results


class Results:
    """Counts checks; a failed one is printed at once with its detail."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, ok: bool, what: str, detail: Any = None) -> bool:
        if ok:
            self.passed += 1
        else:
            msg = what if detail is None else f"{what}: {detail}"
            self.failed.append(msg)
            print(f"FAIL {msg}", file=sys.stderr, flush=True)
        return ok

    def equal(self, got: Any, want: Any, what: str) -> bool:
        return self.check(got == want, what, f"got {got!r}, want {want!r}")


R = Results()
NOTES: list[str] = []
# Status ids pywa saw only as raw updates because of its known failed-status gap.
GAP_IDS: set[str] = set()

# ---------------------------------------------------------------------------------------------
# The emulator process and its control API


def coex_bin() -> str:
    explicit = os.environ.get("COEX_BIN")
    if explicit:
        return explicit
    target = os.environ.get("CARGO_TARGET_DIR", "/var/tmp/coex-target")
    return os.path.join(target, "debug", "coex")


class Sim:
    """A running `coex sim` and plain-HTTP access to its control API."""

    def __init__(self, webhook_url: str) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="coex-sim-", suffix=".log", delete=False)
        # Speed 0: virtual time moves only when the check jumps it, so delivery and read
        # receipts arrive exactly when the check asks for them.
        self.proc = subprocess.Popen(
            [coex_bin(), "sim", "--listen", "127.0.0.1:0", "--webhook-url", webhook_url, "--speed", "0"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
        )
        lines: queue.Queue[bytes] = queue.Queue()

        def read_stdout() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line)

        # A reader thread: the first line is the startup JSON, and the pipe must keep draining.
        threading.Thread(target=read_stdout, daemon=True).start()
        try:
            first = lines.get(timeout=60)
        except queue.Empty:
            self.stop()
            raise SystemExit(f"coex sim printed no startup line within 60 s; log: {self.log.name}") from None
        self.info: dict[str, Any] = json.loads(first)
        self.control = self.info["control_url"].rstrip("/")

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.control + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as res:
                return json.loads(res.read() or b"null")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path} -> {e.code}: {e.read().decode(errors='replace')}") from None

    def act(self, action: str, **fields: Any) -> dict[str, Any]:
        return self.call("POST", "/act", {"action": action, **fields})

    def settle(self) -> None:
        self.call("POST", "/settle", {})

    def advance(self, by: str) -> None:
        self.call("POST", "/clock/advance", {"by": by})
        self.settle()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log.name, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


# ---------------------------------------------------------------------------------------------
# pywa's client, pointed at the emulator


class EmulatorTransport(httpx.BaseTransport):
    """Sends pywa's requests for graph.facebook.com to the emulator (pywa fixes its base URL to
    Meta's host; media URLs the emulator hands out already point at it) and keeps a log."""

    # Every request any pywa client made, as (method, path, status).
    requests: list[tuple[str, str, int]] = []

    def __init__(self, graph_url: str) -> None:
        self._target = httpx.URL(graph_url)
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "graph.facebook.com":
            request.url = request.url.copy_with(
                scheme=self._target.scheme, host=self._target.host, port=self._target.port
            )
            request.headers["Host"] = request.url.netloc.decode()
        res = self._inner.handle_request(request)
        EmulatorTransport.requests.append((request.method, request.url.path, res.status_code))
        return res

    def close(self) -> None:
        self._inner.close()


# ---------------------------------------------------------------------------------------------
# What pywa saw


@dataclass
class Seen:
    """One update pywa built: `kind` is message/status/echo/field, `type` Meta's type name."""

    kind: str
    id: str
    type: str | None
    update: Any


@dataclass
class Receiver:
    """What reached the webhook server and what pywa made of it."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    bodies: list[bytes] = field(default_factory=list)
    rejected: list[tuple[bytes, str, int]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    raw_updates: int = 0
    fed: int = 0
    batched_bodies: int = 0
    batched_fields: list[str] = field(default_factory=list)
    handler_errors: list[str] = field(default_factory=list)
    challenges: list[tuple[str, int]] = field(default_factory=list)

    def record(self, s: Seen) -> None:
        with self.lock:
            self.seen.append(s)

    def by_id(self, kind: str, id_: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.kind == kind and s.id == id_]


REC = Receiver()


class PywaLogWatch(logging.Handler):
    """pywa logs (rather than raises) when it cannot route or construct an update: any warning
    it logs while handling a webhook is a parse the check must report."""

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if record.exc_info:
            msg += "\n" + "".join(traceback.format_exception(*record.exc_info))
        with REC.lock:
            REC.handler_errors.append(f"{record.levelname} {record.name}: {msg}")


ITEM_KEYS = ("messages", "statuses", "message_echoes")


def split_updates(body: dict[str, Any]) -> list[dict[str, Any]] | None:
    """One notification per item, or None when the body already holds a single item.

    Meta batches (spec/cloud-api.md §7.4: "a maximum of 1000 updates"; every array can hold
    many items) and so does the emulator, but pywa reads only `entry[0].changes[0]` and item
    `[0]` of a POST. Each item is handed to pywa as the one-item notification Meta would send,
    with the `contacts[]` entry that names its user."""
    parts: list[dict[str, Any]] = []
    for entry in body.get("entry", []):
        for change in entry.get("changes", []):
            value = change.get("value", {})
            key = next((k for k in ITEM_KEYS if isinstance(value.get(k), list)), None)
            items = value[key] if key else [None]
            for item in items:
                v = dict(value)
                if key is not None:
                    v[key] = [item]
                    if isinstance(value.get("contacts"), list) and len(value["contacts"]) > 1:
                        v["contacts"] = [matching_contact(value["contacts"], item)]
                e = {k: x for k, x in entry.items() if k != "changes"}
                e["changes"] = [{**change, "value": v}]
                parts.append({**body, "entry": [e]})
    return None if len(parts) == 1 else parts


def matching_contact(contacts: list[dict[str, Any]], item: dict[str, Any]) -> dict[str, Any]:
    ids = {
        item.get(k)
        for k in ("from_user_id", "recipient_user_id", "to_user_id", "from", "recipient_id", "to")
        if item.get(k)
    }
    for c in contacts:
        if c.get("user_id") in ids or c.get("wa_id") in ids:
            return c
    return contacts[0]


def make_webhook_server(wa: WhatsApp) -> http.server.ThreadingHTTPServer:
    class Hook(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:  # quiet: the summary tells
            pass

        def reply(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            text, status = wa.webhook_challenge_handler(
                vt=q.get("hub.verify_token", [None])[0], ch=q.get("hub.challenge", [None])[0]
            )
            with REC.lock:
                REC.challenges.append((str(text), status))
            self.reply(status, str(text))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            sig = self.headers.get("X-Hub-Signature-256")
            with REC.lock:
                REC.bodies.append(body)
            # pywa's own check of Meta's signature, with the app secret the emulator signs with.
            bad = wa.webhook_update_validator(body, sig)
            if bad is not None:
                with REC.lock:
                    REC.rejected.append((body, *bad))
                self.reply(bad[1], bad[0])
                return
            parts = split_updates(json.loads(body))
            if parts is None:
                # The exact bytes Meta's signature covered, to pywa's own parser.
                with REC.lock:
                    REC.fed += 1
                text, status = wa.webhook_update_handler(body)
            else:
                with REC.lock:
                    REC.batched_bodies += 1
                    REC.batched_fields.append("+".join(p["entry"][0]["changes"][0]["field"] for p in parts))
                status, text = 200, "ok"
                for part in parts:
                    with REC.lock:
                        REC.fed += 1
                    t, s = wa.webhook_update_handler(json.dumps(part).encode())
                    if s != 200:
                        status, text = s, t
            self.reply(status, text)

    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)


def register_handlers(wa: WhatsApp) -> None:
    """One pywa handler per update type, each recording what pywa built."""

    def rec(kind: str, type_of: Callable[[Any], str | None]) -> Callable[[WhatsApp, Any], None]:
        def cb(_: WhatsApp, u: Any) -> None:
            # Account-level updates carry the WABA id: they are keyed by their field instead.
            key = type_of(u) if kind == "field" else u.id
            REC.record(Seen(kind, key, type_of(u), u))

        return cb

    def raw(_: WhatsApp, __: Any) -> None:
        with REC.lock:
            REC.raw_updates += 1

    def field_name(u: Any) -> str:
        return type(u)._webhook_field

    wa.add_handlers(
        handlers.MessageHandler(rec("message", lambda u: u.type.value)),
        handlers.CallbackButtonHandler(rec("message", lambda u: u.type.value)),
        handlers.CallbackSelectionHandler(rec("message", lambda u: u.type.value)),
        handlers.EditedMessageHandler(rec("message", lambda _: "edit")),
        handlers.DeletedMessageHandler(rec("message", lambda _: "revoke")),
        handlers.PhoneNumberChangeHandler(rec("message", lambda _: "system")),
        handlers.IdentityChangeHandler(rec("message", lambda _: "system")),
        handlers.MessageStatusHandler(rec("status", lambda u: u.status.value)),
        handlers.OutgoingMessageHandler(rec("echo", lambda u: u.type.value)),
        handlers.OutgoingEditedMessageHandler(rec("echo", lambda _: "edit")),
        handlers.OutgoingDeletedMessageHandler(rec("echo", lambda _: "revoke")),
        handlers.TemplateStatusUpdateHandler(rec("field", field_name)),
        handlers.AccountUpdateHandler(rec("field", field_name)),
        handlers.RawUpdateHandler(raw),
    )


# Fields pywa 4.x has no update type for: it hands them to raw-update handlers only.
PYWA_UNTYPED_FIELDS = {"user_id_update", "history", "smb_app_state_sync"}


def expected_from_deliveries(deliveries: list[dict[str, Any]]) -> tuple[collections.Counter, dict]:
    """(kind, id, type) of every item in every delivered body, and each item's raw JSON."""
    want: collections.Counter = collections.Counter()
    items: dict[tuple[str, str], dict[str, Any]] = {}
    for d in deliveries:
        body = json.loads(d["body"])
        for entry in body["entry"]:
            for change in entry["changes"]:
                fld, value = change["field"], change["value"]
                if fld == "messages":
                    for m in value.get("messages", []):
                        want[("message", m["id"], m["type"])] += 1
                        items[("message", m["id"])] = {"item": m, "value": value}
                    for s in value.get("statuses", []):
                        want[("status", s["id"], s["status"])] += 1
                        items[("status", s["id"] + "/" + s["status"])] = {"item": s, "value": value}
                elif fld == "smb_message_echoes":
                    for m in value.get("message_echoes", []):
                        want[("echo", m["id"], m["type"])] += 1
                        items[("echo", m["id"])] = {"item": m, "value": value}
                elif fld not in PYWA_UNTYPED_FIELDS:
                    want[("field", fld, fld)] += 1
    return want, items


# ---------------------------------------------------------------------------------------------
# The day


def one(kind: str, id_: str, what: str) -> Any:
    """The single update pywa built for `id_`, or None after reporting."""
    got = REC.by_id(kind, id_)
    if not R.check(len(got) == 1, f"pywa saw {what} ({kind} {id_}) once", f"seen {len(got)} times"):
        return None
    return got[0].update


def check_user(u: Any, customer: dict[str, Any], what: str) -> None:
    R.equal(u.bsuid, customer["user_id"], f"{what}: BSUID")


def run(sim: Sim, wa: WhatsApp, transport: EmulatorTransport) -> None:
    info = sim.info
    phone_id = info["phone_number_ids"][0]
    cust = {c["key"]: c for c in info["customers"]}
    alice, chen, emre, dana = cust["alice"], cust["chen"], cust["emre"], cust["dana"]

    def tick() -> None:
        # One virtual second per message: the clock stands still at speed 0, and a coexistence
        # number takes 20 messages a second, inbound included (130429 past that).
        sim.advance("1s")

    # -- The GET handshake answered by pywa's own challenge handler.
    v = sim.call("POST", "/webhook/verify", {})
    R.check(v.get("verified") is True, "webhook handshake verified by pywa", v)
    R.equal([st for _, st in REC.challenges], [200], "pywa answered the one GET challenge with 200")

    # -- Customers write: every inbound type.
    inbound: list[tuple[str, dict[str, Any], str, dict[str, Any]]] = []

    def customer_sends(who: dict[str, Any], mtype: str, **spec: Any) -> str:
        tick()
        r = sim.act("customer_sends", customer=who["key"], **spec)
        inbound.append((r["id"], who, mtype, spec))
        return r["id"]

    a_text = customer_sends(alice, "text", text="Hi, is the blue one in stock?")
    a_image = customer_sends(alice, "image", kind="image", caption="This one")
    customer_sends(alice, "audio", kind="audio")
    customer_sends(alice, "video", kind="video", caption="Unboxing")
    customer_sends(alice, "document", kind="document", caption="Invoice")
    customer_sends(alice, "sticker", kind="sticker")
    customer_sends(
        alice,
        "location",
        message={"type": "location", "location": {"latitude": 38.72, "longitude": -9.14, "name": "Shop"}},
    )
    customer_sends(
        alice,
        "contacts",
        message={
            "type": "contacts",
            "contacts": [
                {
                    "name": {"formatted_name": "Ana Lima", "first_name": "Ana"},
                    "phones": [{"phone": "+351 912 345 678", "type": "CELL", "wa_id": "351912345678"}],
                }
            ],
        },
    )
    c_text = customer_sends(chen, "text", text="Hello from a username")
    e_text = customer_sends(emre, "text", text="Merhaba")
    d_text = customer_sends(dana, "text", text="Hi there")
    customer_sends(
        dana,
        "order",
        message={
            "type": "order",
            "order": {
                "catalog_id": "1234567890",
                "text": "Two of these please",
                "product_items": [
                    {
                        "product_retailer_id": "succulent-01",
                        "quantity": 2,
                        "item_price": 12.5,
                        "currency": "EUR",
                    }
                ],
            },
        },
    )
    unsupported = sim.act("customer_sends_unsupported", customer="bruno")["id"]

    # -- pywa's client sends (after the customers opened their windows).
    sends: dict[str, tuple[str, dict[str, Any], set[str]]] = {}

    def sent(
        what: str,
        who: dict[str, Any],
        fn: Callable[[], Any],
        statuses: tuple[str, ...] = ("sent", "delivered", "read"),
    ) -> Any:
        # Six virtual seconds per send: Meta's pair rate is one message every 6 s per customer
        # (131056 past a short burst).
        sim.advance("6s")
        try:
            m = fn()
        except Exception as e:  # noqa: BLE001 - any failure of pywa's client is a finding
            R.check(False, f"pywa client: {what}", f"{type(e).__name__}: {e}")
            return None
        ok = R.check(
            isinstance(m.id, str) and m.id.startswith("wamid."), f"pywa client: {what} got a wamid", m.id
        )
        if ok:
            sends[m.id] = (what, who, set(statuses))
        return m

    t1 = sent(
        "text to a phone number", alice, lambda: wa.send_message(to=alice["phone"], text="Yes, we have it!")
    )
    sent("text to a BSUID", chen, lambda: wa.send_message(to=chen["user_id"], text="Hi @chen"))
    sent(
        "image by link",
        alice,
        lambda: wa.send_image(to=alice["phone"], image="https://example.com/blue.jpg", caption="Blue"),
    )
    media = None
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    try:
        media = wa.upload_media(png, mime_type="image/png", filename="blue.png")
        R.check(bool(media.id), "pywa client: upload_media got a media id", media)
        sent(
            "uploaded image",
            alice,
            lambda: wa.send_image(to=alice["phone"], image=media.id, caption="Uploaded"),
        )
        url = wa.get_media_url(media.id)
        R.equal(wa.get_media_bytes(url.url), png, "pywa client: uploaded media downloads back byte for byte")
    except Exception as e:  # noqa: BLE001
        R.check(False, "pywa client: upload/download media", f"{type(e).__name__}: {e}")
    sent(
        "template with a URL button",
        emre,
        lambda: wa.send_template(
            to=emre["user_id"],
            name="order_update",
            language=TemplateLanguage.ENGLISH_US,
            params=[BodyText.params("Emre", "A-1001"), URLButton.params(url_variable="A-1001", index=0)],
        ),
    )
    tpl = sent(
        "template with an image header and quick replies",
        alice,
        lambda: wa.send_template(
            to=alice["phone"],
            name="spring_sale",
            language=TemplateLanguage.ENGLISH_US,
            params=[
                HeaderImage.params(image=media.id),
                BodyText.params("Alice"),
                QuickReplyButton.params(callback_data="shop", index=0),
                QuickReplyButton.params(callback_data="not-interested", index=1),
            ],
        ),
    )
    buttons = sent(
        "interactive buttons",
        dana,
        lambda: wa.send_message(
            to=dana["phone"],
            text="Pick up or delivery?",
            buttons=[
                types.Button(title="Pick up", callback_data="pickup"),
                types.Button(title="Delivery", callback_data="delivery"),
            ],
        ),
    )
    menu = sent(
        "interactive list",
        dana,
        lambda: wa.send_message(
            to=dana["phone"],
            text="Which size?",
            buttons=types.SectionList(
                button_title="Sizes",
                sections=[
                    types.Section(
                        title="Pots",
                        rows=[
                            types.SectionRow(title="Small", callback_data="pot-s", description="10 cm"),
                            types.SectionRow(title="Large", callback_data="pot-l", description="20 cm"),
                        ],
                    )
                ],
            ),
        ),
    )
    # Meta: for a reaction "only a sent message webhook ... will be triggered".
    sent(
        "reaction",
        alice,
        lambda: wa.send_reaction(to=alice["phone"], emoji="👍", message_id=a_text),
        statuses=("sent",),
    )
    try:
        r = wa.mark_message_as_read(a_text)
        R.check(bool(r), "pywa client: mark_message_as_read succeeded", r)
    except Exception as e:  # noqa: BLE001
        R.check(False, "pywa client: mark_message_as_read", f"{type(e).__name__}: {e}")

    # -- Meta's error bodies become pywa's error classes.
    # Outside the 24-hour window Meta accepts the send and fails it in a status webhook.
    outside = sent(
        "text outside the 24-hour window",
        cust["farah"],
        lambda: wa.send_message(to=cust["farah"]["phone"], text="Outside the window"),
        statuses=("failed",),
    )
    try:
        wa.send_template(to=alice["phone"], name="no_such_template", language=TemplateLanguage.ENGLISH_US)
        R.check(False, "132001 unknown template", "pywa raised nothing")
    except errors.TemplateNotExists as e:
        R.equal(e.code, 132001, "132001 unknown template -> pywa TemplateNotExists")
    except Exception as e:  # noqa: BLE001
        R.check(False, "132001 -> pywa TemplateNotExists", f"{type(e).__name__}: {e}")
    bad_session = httpx.Client(transport=EmulatorTransport(info["graph_url"]))
    bad = WhatsApp(
        phone_id=phone_id,
        token="EAAnotavalidtoken",
        session=bad_session,
        api_version=info["graph_version"].lstrip("v"),
    )
    try:
        bad.send_message(to=alice["phone"], text="x")
        R.check(False, "190 bad token", "pywa raised nothing")
    except errors.AuthorizationError as e:
        R.equal(e.code, 190, "190 bad token -> pywa AuthorizationError")
    except Exception as e:  # noqa: BLE001
        R.check(False, "190 bad token -> pywa AuthorizationError", f"{type(e).__name__}: {e}")
    finally:
        bad_session.close()
    sim.settle()

    # -- Customers answer: a tap, a reaction, an edit, a revoke.
    tap = sim.act(
        "customer_taps_button",
        customer="dana",
        message_id=buttons.id if buttons else None,
        title="Pick up",
        button_id="pickup",
    )["id"]
    tpl_tap = sim.act(
        "customer_taps_button",
        customer="alice",
        message_id=tpl.id if tpl else None,
        title="Shop now",
        button_id="shop",
    )["id"]
    # A list reply, written out as Meta sends it (the emulator's tap action answers buttons).
    tick()
    pick = sim.act(
        "customer_sends",
        customer="dana",
        reply_to=menu.id if menu else None,
        message={
            "type": "interactive",
            "interactive": {
                "type": "list_reply",
                "list_reply": {"id": "pot-l", "title": "Large", "description": "20 cm"},
            },
        },
    )["id"]
    react = sim.act("customer_reacts", customer="alice", message_id=t1.id if t1 else None, emoji="❤️")["id"]
    a_edit = sim.act(
        "customer_edits", customer="alice", message_id=a_text, text="Hi, is the navy one in stock?"
    )["id"]
    a_revoke = sim.act("customer_revokes", customer="alice", message_id=a_image)["id"]

    # -- The owner uses the phone app: echoes, an edit, a revoke.
    echoes: list[tuple[str, dict[str, Any], str, str | None]] = []

    def app_sends(who: dict[str, Any], mtype: str, **spec: Any) -> str:
        r = sim.act("app_sends", customer=who["key"], **spec)
        echoes.append((r["id"], who, mtype, spec.get("text") or spec.get("caption")))
        return r["id"]

    app_t = app_sends(alice, "text", text="Sent from my phone")
    app_sends(alice, "image", kind="image", caption="Here's the navy one")
    app_sends(chen, "text", text="Echo to a username-only customer")
    app_edit = sim.act("app_edits", message_id=app_t, text="Sent from my phone (edited)")["id"]
    app_x = app_sends(dana, "text", text="Oops, wrong chat")
    app_revoke = sim.act("app_revokes", message_id=app_x)["id"]
    # An unsupported companion produces no echo (and so nothing for pywa to see).
    app_silent = sim.act("app_sends", customer="alice", text="From the desktop app", companion="windows")[
        "id"
    ]

    # -- Time passes: phones deliver, customers read.
    sim.advance("2m")

    # -- A customer changes number; a template is reviewed.
    change = sim.act("customer_changes_number", customer="bruno", new_phone="5511912340000")
    sim.call("POST", "/templates/review", {"name": "spring_sale", "language": "pt_BR", "status": "APPROVED"})
    sim.settle()

    # =========================================================================================
    # What crossed the wire, against what pywa made of it.
    deliveries = sim.call("GET", "/deliveries")
    R.check(bool(deliveries), "the emulator delivered webhooks")
    for d in deliveries:
        R.check(
            d["state"] == "delivered" and len(d["attempts"]) == 1 and d["attempts"][0]["status"] == 200,
            f"delivery {d['id']} answered 200 on its first attempt",
            {"state": d["state"], "attempts": d["attempts"]},
        )
    with REC.lock:
        bodies, rejected = list(REC.bodies), list(REC.rejected)
    R.equal(
        len(bodies), sum(len(d["attempts"]) for d in deliveries), "every attempt reached the webhook server"
    )
    R.equal(len(rejected), 0, "pywa verified X-Hub-Signature-256 on every body")
    delivered_bodies = sorted(d["body"].encode() for d in deliveries)
    R.equal(sorted(bodies), delivered_bodies, "the bodies received are the bytes the emulator logged")
    with REC.lock:
        handler_errors = list(REC.handler_errors)
    if bodies:
        tampered = bodies[0].replace(b"whatsapp_business_account", b"whatsapp_business_accounX", 1)
        signature = sim.call("GET", f"/deliveries/{deliveries[0]['id']}")["signature"]
        R.check(
            wa.webhook_update_validator(tampered, signature) is not None,
            "pywa rejects a body altered after signing",
        )

    want, raw_items = expected_from_deliveries(deliveries)
    with REC.lock:
        got = collections.Counter((s.kind, s.id, s.type) for s in REC.seen)
    missing, extra = want - got, got - want
    # A known pywa 4.5.0 gap: MessageStatus.from_update reads value["contacts"][0] for every
    # status, but Meta omits contacts[] on failed statuses (spec/cloud-api.md §10: "contacts[]
    # ... comes only on sent, delivered and read; it is omitted on failed"). pywa logs a
    # KeyError and hands the update to raw-update handlers only. Accepted here (and reported)
    # only for exactly that shape; should pywa learn to build them, they are checked as usual.
    gaps = [
        k
        for k in missing
        if k[0] == "status"
        and k[2] == "failed"
        and "contacts" not in raw_items[("status", k[1] + "/failed")]["value"]
    ]
    contact_errors = [e for e in handler_errors if "KeyError: 'contacts'" in e and "message_status.py" in e]
    if gaps and len(contact_errors) == sum(missing[k] for k in gaps):
        for k in gaps:
            del missing[k]
            GAP_IDS.add(k[1])
        handler_errors = [e for e in handler_errors if e not in contact_errors]
        NOTES.append(
            f"pywa {pywa.__version__} cannot build a failed status without contacts[] "
            f"(KeyError 'contacts' in MessageStatus.from_update): {len(gaps)} seen only as raw updates"
        )
    R.check(not missing, "pywa built every message, echo, edit, revoke and status delivered", sorted(missing))
    R.check(not extra, "pywa built nothing the emulator did not deliver", sorted(extra))
    R.equal(handler_errors, [], "pywa logged no routing or parsing problem")
    by_kind = collections.Counter(k for (k, _, _) in want.elements())
    for kind in ("message", "echo", "status"):
        R.check(by_kind[kind] > 0, f"the day produced {kind} updates", by_kind)

    # -- Inbound: the type, content and sender pywa reports, per customer action.
    for wamid, who, mtype, spec in inbound:
        m = one("message", wamid, f"inbound {mtype} from {who['key']}")
        if m is None:
            continue
        R.equal(m.type.value, mtype, f"inbound {wamid}: type")
        check_user(m.from_user, who, f"inbound {mtype} from {who['key']}")
        if mtype == "text":
            R.equal(m.text, spec["text"], f"inbound {wamid}: text")
        if mtype in ("image", "video", "document", "audio", "sticker"):
            raw = raw_items[("message", wamid)]["item"][mtype]
            R.check(
                m.media is not None
                and m.media.id == raw["id"]
                and m.media.sha256 == raw["sha256"]
                and m.media.mime_type == raw["mime_type"],
                f"inbound {mtype}: media id, sha256, mime type",
                m.media,
            )
            if spec.get("caption"):
                R.equal(m.caption, spec["caption"], f"inbound {mtype}: caption")
            if mtype == "image":
                # pywa resolves the media id to a URL on the emulator and downloads it.
                data = m.image.get_bytes()
                R.check(
                    raw["sha256"]
                    in (
                        hashlib.sha256(data).hexdigest(),
                        base64.b64encode(hashlib.sha256(data).digest()).decode(),
                    ),
                    "inbound image: pywa downloads bytes whose sha256 matches the webhook's",
                    raw["sha256"],
                )
        if mtype == "location":
            R.check(
                m.location is not None and abs(m.location.latitude - 38.72) < 1e-9,
                "inbound location: coordinates",
                m.location,
            )
        if mtype == "order":
            R.check(
                m.order is not None
                and m.order.catalog_id == "1234567890"
                and [(p.sku, p.quantity) for p in m.order.products] == [("succulent-01", 2)],
                "inbound order: catalog and items",
                m.order,
            )
        if mtype == "contacts":
            R.check(
                bool(m.contacts) and m.contacts[0].name.formatted_name == "Ana Lima",
                "inbound contacts: the shared contact",
                m.contacts,
            )
    # BSUID details only a 4.x parser knows.
    c_msg = one("message", c_text, "text from a username-only customer")
    if c_msg is not None:
        R.equal(c_msg.from_user.username, chen["username"], "username-only customer: username")
        raw_contact = raw_items[("message", c_text)]["value"]["contacts"][0]
        R.equal(
            c_msg.from_user.wa_id, raw_contact.get("wa_id"), "username-only customer: wa_id as on the wire"
        )
    e_msg = one("message", e_text, "text from a customer with a parent BSUID")
    if e_msg is not None:
        R.equal(
            e_msg.from_user.parent_bsuid,
            sim_world_parent(sim, "emre"),
            "parent BSUID",
        )
    a_msg = one("message", a_text, "alice's first text")
    if a_msg is not None:
        R.equal(a_msg.from_user.wa_id, alice["phone"], "customer with a visible number: wa_id")
    d_msg = one("message", d_text, "dana's text")
    if d_msg is not None:
        R.equal(d_msg.from_user.username, dana["username"], "customer with a username and a number: username")
    u = one("message", unsupported, "an unsupported inbound message")
    if u is not None:
        R.check(u.error is not None and u.error.code == 131060, "unsupported inbound: error 131060", u.error)

    # -- Taps, reaction, edit, revoke.
    t = one("message", tap, "a tap on an interactive button")
    if t is not None:
        R.check(
            isinstance(t, types.CallbackButton) and t.data == "pickup" and t.title == "Pick up",
            "interactive tap -> CallbackButton with the button's id and title",
            t,
        )
        R.equal(
            t.reply_to_message.id if t.reply_to_message else None,
            buttons.id if buttons else None,
            "interactive tap: context names the interactive message",
        )
    t = one("message", tpl_tap, "a tap on a template quick-reply button")
    if t is not None:
        R.check(
            isinstance(t, types.CallbackButton)
            and t.is_quick_reply
            and t.title == "Shop now"
            and t.data == "shop",
            "template tap -> quick-reply CallbackButton",
            t,
        )
    t = one("message", pick, "a choice from an interactive list")
    if t is not None:
        R.check(
            isinstance(t, types.CallbackSelection)
            and t.data == "pot-l"
            and t.title == "Large"
            and t.description == "20 cm",
            "list reply -> CallbackSelection with the row's id, title and description",
            t,
        )
        R.equal(
            t.reply_to_message.id if t.reply_to_message else None,
            menu.id if menu else None,
            "list reply: context names the list message",
        )
    r = one("message", react, "a customer's reaction")
    if r is not None:
        R.check(
            r.reaction is not None
            and r.reaction.emoji == "❤️"
            and r.reaction.message_id == (t1.id if t1 else None),
            "reaction: emoji and the message it reacts to",
            r.reaction,
        )
    ed = one("message", a_edit, "a customer's edit")
    if ed is not None:
        R.check(isinstance(ed, types.EditedMessage), "customer edit -> EditedMessage", type(ed).__name__)
        R.equal(ed.original_message_id, a_text, "customer edit: original message id")
        R.equal(ed.message.text, "Hi, is the navy one in stock?", "customer edit: new text")
        check_user(ed.from_user, alice, "customer edit")
    rv = one("message", a_revoke, "a customer's revoke")
    if rv is not None:
        R.check(isinstance(rv, types.DeletedMessage), "customer revoke -> DeletedMessage", type(rv).__name__)
        R.equal(rv.original_message_id, a_image, "customer revoke: original message id")
        check_user(rv.from_user, alice, "customer revoke")

    # -- Echoes of the owner's phone.
    for wamid, who, mtype, text in echoes:
        e = one("echo", wamid, f"echo of an app-sent {mtype} to {who['key']}")
        if e is None:
            continue
        R.check(isinstance(e, types.OutgoingMessage), f"echo {wamid} -> OutgoingMessage", type(e).__name__)
        R.equal(e.type.value, mtype, f"echo {wamid}: type")
        check_user(e.to_user, who, f"echo to {who['key']}")
        if mtype == "text":
            R.equal(e.text, text, f"echo {wamid}: text")
        else:
            R.equal(e.caption, text, f"echo {wamid}: caption")
    e = one("echo", app_edit, "the echo of an app edit")
    if e is not None:
        R.check(
            isinstance(e, types.OutgoingEditedMessage), "app edit -> OutgoingEditedMessage", type(e).__name__
        )
        R.equal(e.original_message_id, app_t, "app edit: original message id")
        R.equal(e.message.text, "Sent from my phone (edited)", "app edit: new text")
    e = one("echo", app_revoke, "the echo of an app revoke")
    if e is not None:
        R.check(
            isinstance(e, types.OutgoingDeletedMessage),
            "app revoke -> OutgoingDeletedMessage",
            type(e).__name__,
        )
        R.equal(e.original_message_id, app_x, "app revoke: original message id")
    R.equal(REC.by_id("echo", app_silent), [], "an unsupported companion's send produced no echo")

    # -- Statuses of pywa's own sends: sent, delivered, read (alice, chen, emre, dana read).
    for wamid, (what, who, expect) in sends.items():
        seen = {s.type for s in REC.by_id("status", wamid)}
        if wamid in GAP_IDS:
            seen.add("failed")  # the known gap above: pywa saw it as a raw update only
        R.equal(seen, expect, f"statuses of pywa's {what}")
        for s in REC.by_id("status", wamid):
            check_user(s.update.from_user, who, f"status {s.type} of pywa's {what}")
            if s.type == "sent":
                R.check(
                    s.update.pricing is not None, f"status sent of pywa's {what}: pricing parsed", s.update
                )

    # -- The send outside the window failed as Meta fails it: a status webhook with 131047.
    if outside is not None:
        raw = raw_items.get(("status", outside.id + "/failed"))
        if R.check(raw is not None, "a failed status for the send outside the window"):
            errs = raw["item"].get("errors") or []
            R.check(bool(errs) and errs[0].get("code") == 131047, "failed status: error 131047", errs)
            for s in REC.by_id("status", outside.id):
                R.check(
                    s.update.error is not None
                    and s.update.error.code == 131047
                    and isinstance(s.update.error, errors.ReEngagementMessage),
                    "failed status -> pywa ReEngagementMessage",
                    s.update.error,
                )

    # -- The customer who changed number.
    sys_msgs = [s for s in REC.seen if s.kind == "message" and s.type == "system"]
    if R.equal(len(sys_msgs), 1, "one system message for the number change"):
        pc = sys_msgs[0].update
        R.check(
            isinstance(pc, types.PhoneNumberChange), "number change -> PhoneNumberChange", type(pc).__name__
        )
        R.equal(pc.new_user_id, change["user_id"], "number change: the new BSUID")
        R.equal(pc.new_wa_id, "5511912340000", "number change: the new number")
        # pywa takes the old number from `system.customer` or else `from` (as in Meta's older
        # user_changed_number); Meta's user_changed_user_id syntax shows `from` without saying
        # which number it holds, and the emulator puts the new one there. Reported, not failed.
        if pc.old_wa_id != cust["bruno"]["phone"]:
            NOTES.append(
                f"pywa's PhoneNumberChange.old_wa_id is {pc.old_wa_id} (the emulator's `from`), "
                f"not the previous number {cust['bruno']['phone']}"
            )
    tsu = [s for s in REC.seen if s.kind == "field" and s.id and s.type == "message_template_status_update"]
    R.equal(len(tsu), 1, "the template review reached pywa as a TemplateStatusUpdate")
    if tsu:
        R.equal(tsu[0].update.template_name, "spring_sale", "template status update: name")

    # -- What pywa's clients asked of the Graph API is what the emulator logged receiving.
    logged = collections.Counter((r["method"], r["path"], r["status"]) for r in sim.call("GET", "/requests"))
    R.equal(
        logged,
        collections.Counter(EmulatorTransport.requests),
        "the emulator logged exactly the requests pywa's clients made, with the statuses pywa got",
    )

    with REC.lock:
        n_bodies, batched, n_raw, fed = len(REC.bodies), REC.batched_bodies, REC.raw_updates, REC.fed
    R.equal(n_raw, fed, "every update handed to pywa reached its raw-update handler")
    print(
        f"pywa {pywa.__version__}: {n_bodies} webhook bodies ({batched} batched, split for pywa: "
        f"{', '.join(REC.batched_fields) or 'none'}), "
        f"{n_raw} updates, {len(REC.seen)} typed ({dict(by_kind)}); "
        f"{len(transport.requests)} Graph requests from pywa's client",
        flush=True,
    )


def sim_world_parent(sim: Sim, key: str) -> str | None:
    for c in sim.call("GET", "/world")["customers"]:
        if c["key"] == key:
            return c.get("parent_user_id")
    return None


def main() -> int:
    logging.getLogger("pywa").addHandler(PywaLogWatch(level=logging.WARNING))
    logging.getLogger("pywa").setLevel(logging.WARNING)

    holder: dict[str, WhatsApp] = {}

    class Late:
        """The webhook server starts before the sim (the sim needs its URL) and before the
        client (the client needs the sim's secrets): it reaches the client through here."""

        def __getattr__(self, name: str) -> Any:
            return getattr(holder["wa"], name)

    server = make_webhook_server(Late())  # type: ignore[arg-type]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    if not os.access(coex_bin(), os.X_OK):
        R.check(
            False, "the coex binary runs", f"{coex_bin()} is missing (set COEX_BIN or cargo build -p coex)"
        )
        print(f"pywa: {R.passed} passed, {len(R.failed)} failed", flush=True)
        return 1
    sim = Sim(f"http://127.0.0.1:{port}/webhook")
    transport = EmulatorTransport(sim.info["graph_url"])
    session = httpx.Client(transport=transport, timeout=60)
    try:
        info = sim.info
        holder["wa"] = WhatsApp(
            phone_id=info["phone_number_ids"][0],
            token=info["access_token"],
            session=session,
            server=None,
            verify_token=info["verify_token"],
            app_secret=info["app_secret"],
            waba_id=info["waba_id"],
            api_version=info["graph_version"].lstrip("v"),
        )
        register_handlers(holder["wa"])
        run(sim, holder["wa"], transport)
    except Exception:  # noqa: BLE001 - reported as a failure, with the emulator's log
        R.check(False, "the check ran to the end", traceback.format_exc())
    finally:
        sim.stop()
        server.shutdown()
        session.close()
        if R.failed:
            print(f"--- coex sim log (tail of {sim.log.name}) ---\n{sim.log_tail()}", file=sys.stderr)
        else:
            os.unlink(sim.log.name)
    for n in NOTES:
        print(f"note: {n}", flush=True)
    print(f"pywa: {R.passed} passed, {len(R.failed)} failed", flush=True)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
