"""Where human answers live: raters, the pairs shown to them, and their answers (SQLAlchemy).

One database holds one elicitation study. SQLite by default (a file path), PostgreSQL by a
database URL (``postgresql+psycopg://user@host/db``) for a multi-site study; the code path is
the same. Every answer is committed in its own transaction, and a UNIQUE constraint on the
query makes each answer land exactly once however often it is posted.

Tables
------
``meta``     key/value settings of the study (the samples file and its hash, the secret, the
             admin token's hash, revocations and expiries of invites, the organiser's browser
             sessions as ``admin_session:<SHA-256 of the id, 48 hex>`` → expiry)
``raters``   name, SHA-256 of the invite token (the token itself is never stored), created
``sessions`` browser sessions opened from an invite: SHA-256 of a random session id (the
             cookie's value; neither it nor the invite token is stored), rater, expiry
``queries``  a pair of decisions of one context assigned to a rater, and the order shown
``answers``  one per query: the choice, the pair, time, response time, when it was changed

Choices: ``a`` and ``b`` (that decision is fairer), ``tie`` (equally fair) and ``unsure``
(the rater cannot tell). Only ``a``/``b`` are comparisons the learners use; the other two are
kept, counted and reported.

Schema versions
---------------
1 (fairtwin ≤ 0.x, before issue 21): one "Cannot tell" answer stored as ``tie``, ``choice``
VARCHAR(3), no ``changed`` column, no ``sessions`` table.
2: ``tie`` and ``unsure`` separate, ``choice`` VARCHAR(8), ``answers.changed``, ``sessions``.
Opening a version-1 database migrates it in one transaction (a crash leaves it at version 1,
answers intact; SQLite files are first copied to ``<file>.v1-backup``): its ``tie`` answers
were the button "Cannot tell", so they become ``unsure``, which is how they were used (out of
learning).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import sqlite3
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from fairtwin.exceptions import FairtwinError, UnknownNameError, ValidationError

__all__ = ["PreferenceStore", "RaterRecord", "Query", "Outcome", "CHOICES", "database_url",
           "StoreError", "invite_link", "decided"]

log = logging.getLogger(__name__)


def invite_link(base_url: str, token: str) -> str:
    """A rater's invite link on the rating app at ``base_url``."""
    return f"{base_url.rstrip('/')}/invite/{token}"


def decided(answer: Any) -> tuple[int, int] | None:
    """The decision an A-or-B answer (a row of :meth:`PreferenceStore.answers`) chose and
    the one it did not; ``None`` for "equally fair" and "I can't tell"."""
    if answer.choice == "a":
        return int(answer.left_decision), int(answer.right_decision)
    if answer.choice == "b":
        return int(answer.right_decision), int(answer.left_decision)
    return None

CHOICES = ("a", "b", "tie", "unsure")
SCHEMA_VERSION = 2
_NAME_MAX = 64
SESSION_LIFETIME_S = 30 * 86400.0  # a browser session's lifetime (the invite may end it sooner)


class StoreError(FairtwinError):
    """The study database cannot be opened or used."""


class Outcome(Enum):
    """What became of a posted answer."""

    RECORDED = "recorded"
    DUPLICATE = "duplicate"  # the same answer was already recorded: nothing changes
    CHANGED = "changed"  # the rater's last answer, changed before they answered the next pair
    CONFLICT = "conflict"  # an older answer, answered differently: it is kept


@dataclass(frozen=True)
class RaterRecord:
    """A rater and their answers: all, decided (A or B), equally fair, can't tell."""

    id: int
    name: str
    created: float
    n_answers: int = 0
    n_decided: int = 0
    n_equal: int = 0
    n_unsure: int = 0


@dataclass(frozen=True)
class Query:
    """A pair shown to a rater: ``left``/``right`` are decision indices in the samples file."""

    id: int
    rater_id: int
    context_row: int
    left: int
    right: int
    created: float
    answered: bool = False


def database_url(db: str | Path) -> str:
    """A SQLAlchemy URL from a file path (SQLite) or a URL (kept as given)."""
    text = str(db)
    if "://" in text:
        return text
    return f"sqlite:///{Path(text).expanduser().resolve()}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_META = sa.MetaData()
META = sa.Table("meta", _META, sa.Column("key", sa.String(64), primary_key=True),
                sa.Column("value", sa.Text, nullable=False))
RATERS = sa.Table(
    "raters", _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(_NAME_MAX), nullable=False, unique=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created", sa.Float, nullable=False),
)
SESSIONS = sa.Table(
    "sessions", _META,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("rater_id", sa.Integer, sa.ForeignKey("raters.id"), nullable=False, index=True),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
)
QUERIES = sa.Table(
    "queries", _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rater_id", sa.Integer, sa.ForeignKey("raters.id"), nullable=False, index=True),
    sa.Column("context_row", sa.Integer, nullable=False),
    sa.Column("left_decision", sa.Integer, nullable=False),
    sa.Column("right_decision", sa.Integer, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)
ANSWERS = sa.Table(
    "answers", _META,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("query_id", sa.Integer, sa.ForeignKey("queries.id"), nullable=False, unique=True),
    sa.Column("rater_id", sa.Integer, sa.ForeignKey("raters.id"), nullable=False, index=True),
    sa.Column("choice", sa.String(8), nullable=False),
    sa.Column("context_row", sa.Integer, nullable=False),
    sa.Column("left_decision", sa.Integer, nullable=False),
    sa.Column("right_decision", sa.Integer, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("response_ms", sa.Float, nullable=True),
    sa.Column("changed", sa.Float, nullable=True),  # when an undo last changed the choice
)


class PreferenceStore:
    """The study database.

    Parameters
    ----------
    db : path or URL
        A file path (SQLite, created if missing) or a SQLAlchemy database URL.
    """

    def __init__(self, db: str | Path) -> None:
        self.url = database_url(db)
        kwargs: dict[str, object] = {}
        if self.url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        try:
            self.engine = sa.create_engine(self.url, **kwargs)
            if self.url.startswith("sqlite"):
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            existed = sa.inspect(self.engine).has_table("answers")
            _META.create_all(self.engine)
        except (OperationalError, sa.exc.ArgumentError, ModuleNotFoundError) as exc:
            raise StoreError(f"cannot open the study database {db}: {exc}") from None
        self._upgrade(existed)

    # ------------------------------------------------------------------ schema
    def schema_version(self) -> int:
        """The database's schema version (1: made before the version was recorded)."""
        value = self.get_meta("schema_version")
        return int(value) if value is not None else 1

    def _upgrade(self, existed: bool) -> None:
        """Record the version of a new database, migrate an old one (see the module notes)."""
        if not existed:
            try:
                with self.engine.begin() as c:
                    c.execute(META.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            except IntegrityError:  # another process recorded it first
                pass
            return
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StoreError(f"the study database {self.url} has schema version {version}, made "
                             f"by a newer fairtwin (this one knows up to {SCHEMA_VERSION})")
        if version < SCHEMA_VERSION:
            self._migrate_v1()

    def _migrate_v1(self) -> None:
        """Version 1 → 2 in one transaction; SQLite files are copied aside first."""
        backup = self._sqlite_backup("v1-backup")
        columns = {c["name"] for c in sa.inspect(self.engine).get_columns("answers")}
        try:
            with self.engine.begin() as c:
                # a write first: Python's sqlite3 opens its transaction only before DML, so the
                # DDL below then runs inside it and a failure rolls everything back
                c.execute(META.delete().where(META.c.key == "schema_version"))
                if "changed" not in columns:
                    c.execute(sa.text("ALTER TABLE answers ADD COLUMN changed FLOAT"))
                if not self.url.startswith("sqlite"):  # SQLite does not enforce VARCHAR(n)
                    # widened before any 'unsure' is written (a server refuses it in VARCHAR(3))
                    c.execute(sa.text("ALTER TABLE answers ALTER COLUMN choice TYPE VARCHAR(8)"))
                moved = c.execute(ANSWERS.update().where(ANSWERS.c.choice == "tie")
                                  .values(choice="unsure")).rowcount
                c.execute(META.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        except (OperationalError, IntegrityError, sa.exc.DatabaseError) as exc:
            if self.schema_version() == SCHEMA_VERSION:  # another process migrated it first
                return
            reason = getattr(exc, "orig", None) or exc  # the driver's one-line reason
            raise StoreError(f"cannot migrate the study database {self.url} to schema version "
                             f"{SCHEMA_VERSION}: {reason} (it is unchanged)") from None
        log.warning("study database migrated to schema version %d: %d 'Cannot tell' answers "
                    "kept as 'can't tell' (unsure)%s", SCHEMA_VERSION, moved,
                    f"; the old file is copied to {backup}" if backup else "")

    def _sqlite_backup(self, suffix: str) -> Path | None:
        """A consistent copy of a SQLite database file next to it (None for a server)."""
        if not self.url.startswith("sqlite:///"):
            return None
        source = Path(self.url.removeprefix("sqlite:///"))
        target = source.with_name(f"{source.name}.{suffix}")
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        dst.close()
        src.close()
        return target

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as c:
            return c.execute(sa.select(META.c.value).where(META.c.key == key)).scalar()

    def set_meta(self, key: str, value: str) -> None:
        with self.engine.begin() as c:
            if c.execute(sa.select(META.c.key).where(META.c.key == key)).first():
                c.execute(META.update().where(META.c.key == key).values(value=value))
            else:
                c.execute(META.insert().values(key=key, value=value))

    def secret(self) -> bytes:
        """The study's signing secret (for CSRF tokens), created on first use."""
        value = self.get_meta("secret")
        if value is None:
            try:
                with self.engine.begin() as c:
                    c.execute(META.insert().values(key="secret", value=secrets.token_hex(32)))
            except IntegrityError:  # another process created it first
                pass
            value = self.get_meta("secret")
        assert value is not None
        return bytes.fromhex(value)

    def set_admin_token(self) -> str:
        """A new admin token (returned once; only its hash is stored); the organiser's
        browser sessions opened with the old one end."""
        token = secrets.token_urlsafe(24)
        self.set_meta("admin_token_hash", _hash(token))
        with self.engine.begin() as c:
            c.execute(META.delete().where(META.c.key.like("admin_session:%")))
        return token

    def is_admin(self, token: str | None) -> bool:
        stored = self.get_meta("admin_token_hash")
        return bool(token and stored and hmac.compare_digest(stored, _hash(token)))

    # ------------------------------------------------------------------ raters
    def add_rater(self, name: str, expires: float | None = None) -> tuple[RaterRecord, str]:
        """Register a rater; returns the record and the secret invite token (shown once).

        ``expires`` (a Unix time) ends the token's validity then; the answers stay.
        """
        if expires is not None and not expires > time.time():
            raise ValidationError("an invite must expire in the future")
        name = name.strip()
        if not name or len(name) > _NAME_MAX or any(ch in name for ch in "\n\r\t"):
            raise ValidationError(f"a rater name must be 1–{_NAME_MAX} characters on one line")
        token = secrets.token_urlsafe(24)
        now = time.time()
        try:
            with self.engine.begin() as c:
                key = c.execute(RATERS.insert().values(name=name, token_hash=_hash(token),
                                                       created=now)).inserted_primary_key
                assert key is not None
                rid = key[0]
        except IntegrityError:
            raise ValidationError(f"a rater named {name!r} already exists") from None
        if expires is not None:
            self.set_meta(f"expires:{int(rid)}", repr(float(expires)))
        return RaterRecord(int(rid), name, now), token

    def revoke_rater(self, name: str) -> RaterRecord:
        """The rater's token stops working at once; their answers stay in the study."""
        rater = self.rater(name)
        self.set_meta(f"revoked:{rater.id}", repr(time.time()))
        return rater

    def reissue_token(self, name: str) -> tuple[RaterRecord, str]:
        """A new invite token for a rater who lost theirs (returned once): the old token and
        every session opened with it stop working at once; a revocation or expiry is lifted
        (the new link works); the answers stay."""
        rater = self.rater(name)
        token = secrets.token_urlsafe(24)
        with self.engine.begin() as c:
            c.execute(RATERS.update().where(RATERS.c.id == rater.id)
                      .values(token_hash=_hash(token)))
            c.execute(SESSIONS.delete().where(SESSIONS.c.rater_id == rater.id))
            c.execute(META.delete().where(META.c.key.in_([f"revoked:{rater.id}",
                                                          f"expires:{rater.id}"])))
        return rater, token

    def restore_rater(self, name: str) -> RaterRecord:
        """Lift a rater's revocation: their invite link works again (an expired invite stays
        expired: re-issue it instead)."""
        rater = self.rater(name)
        if self.get_meta(f"revoked:{rater.id}") is None:
            raise ValidationError(f"rater {rater.name!r} is not revoked")
        with self.engine.begin() as c:
            c.execute(META.delete().where(META.c.key == f"revoked:{rater.id}"))
        return rater

    def last_seen(self) -> dict[int, float]:
        """Per rater, the latest of their answers, changes and session starts (Unix time;
        raters never seen are absent)."""
        seen: dict[int, float] = {}
        queries = [
            sa.select(ANSWERS.c.rater_id, sa.func.max(ANSWERS.c.created)).group_by(ANSWERS.c.rater_id),
            sa.select(ANSWERS.c.rater_id, sa.func.max(ANSWERS.c.changed)).group_by(ANSWERS.c.rater_id),
            sa.select(SESSIONS.c.rater_id, sa.func.max(SESSIONS.c.created)).group_by(SESSIONS.c.rater_id),
        ]
        with self.engine.connect() as c:
            for q in queries:
                for rid, when in c.execute(q):
                    if when is not None:
                        seen[int(rid)] = max(seen.get(int(rid), 0.0), float(when))
        return seen

    # ------------------------------------------------------------------ the organiser's sessions
    def open_admin_session(self, lifetime_s: float = 12 * 3600.0) -> str:
        """A browser session of the organiser (after the admin token was given); returns its
        random id, of which only the SHA-256 is kept (in ``meta``)."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        with self.engine.begin() as c:
            stale = [row.key for row in c.execute(sa.select(META).where(
                META.c.key.like("admin_session:%"))) if float(row.value) <= now]
            if stale:
                c.execute(META.delete().where(META.c.key.in_(stale)))
            c.execute(META.insert().values(key=_admin_key(session_id),
                                           value=repr(now + lifetime_s)))
        return session_id

    def is_admin_session(self, session_id: str | None) -> bool:
        if not session_id or len(session_id) > 128:
            return False
        expires = self.get_meta(_admin_key(session_id))
        return expires is not None and float(expires) > time.time()

    def token_state(self, rater_id: int) -> str:
        """``active``, ``revoked`` or ``expired``."""
        if self.get_meta(f"revoked:{rater_id}") is not None:
            return "revoked"
        expires = self.get_meta(f"expires:{rater_id}")
        if expires is not None and float(expires) <= time.time():
            return "expired"
        return "active"

    def rater_by_token(self, token: str | None) -> RaterRecord | None:
        """The active rater whose invite token this is (None: unknown, revoked or expired)."""
        if not token or len(token) > 128:
            return None
        with self.engine.connect() as c:
            row = c.execute(sa.select(RATERS).where(RATERS.c.token_hash == _hash(token))).first()
        return self._active(row)

    def _active(self, row: sa.Row | None) -> RaterRecord | None:
        if row is None or self.token_state(row.id) != "active":
            return None
        return RaterRecord(row.id, row.name, row.created)

    # ------------------------------------------------------------------ sessions
    def open_session(self, rater_id: int, lifetime_s: float = SESSION_LIFETIME_S) -> str:
        """A new browser session of a rater; returns its random id (the cookie's value, shown
        once: only its SHA-256 is stored)."""
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        with self.engine.begin() as c:
            c.execute(SESSIONS.insert().values(id_hash=_hash(session_id), rater_id=rater_id,
                                               created=now, expires=now + lifetime_s))
            c.execute(SESSIONS.delete().where(SESSIONS.c.expires <= now))  # forget stale ones
        return session_id

    def rater_by_session(self, session_id: str | None) -> RaterRecord | None:
        """The rater of a live session (None: unknown or expired session, or the rater's
        invite was revoked or has expired since)."""
        if not session_id or len(session_id) > 128:
            return None
        q = (sa.select(RATERS).join(SESSIONS, SESSIONS.c.rater_id == RATERS.c.id)
             .where(SESSIONS.c.id_hash == _hash(session_id))
             .where(SESSIONS.c.expires > time.time()))
        with self.engine.connect() as c:
            row = c.execute(q).first()
        return self._active(row)

    def raters(self) -> list[RaterRecord]:
        """Every rater with their answer counts (by kind; the one source of those counts)."""
        def count(*choices: str) -> sa.ColumnElement[int]:
            return sa.func.sum(sa.case((ANSWERS.c.choice.in_(choices), 1), else_=0))

        counts = (sa.select(ANSWERS.c.rater_id, sa.func.count().label("n"),
                            count("a", "b").label("decided"), count("tie").label("equal"),
                            count("unsure").label("unsure"))
                  .group_by(ANSWERS.c.rater_id).subquery())
        q = (sa.select(RATERS, *(sa.func.coalesce(counts.c[k], 0).label(k)
                                 for k in ("n", "decided", "equal", "unsure")))
             .outerjoin(counts, counts.c.rater_id == RATERS.c.id).order_by(RATERS.c.id))
        with self.engine.connect() as c:
            return [RaterRecord(r.id, r.name, r.created, int(r.n), int(r.decided), int(r.equal),
                                int(r.unsure)) for r in c.execute(q)]

    def rater(self, name: str) -> RaterRecord:
        for r in self.raters():
            if r.name == name:
                return r
        raise UnknownNameError("rater", name, [r.name for r in self.raters()])

    # ------------------------------------------------------------------ queries
    def open_query(self, rater_id: int) -> Query | None:
        """The rater's latest unanswered query, if any (a reload shows the same pair)."""
        answered = sa.select(ANSWERS.c.query_id)
        q = (sa.select(QUERIES).where(QUERIES.c.rater_id == rater_id)
             .where(QUERIES.c.id.not_in(answered)).order_by(QUERIES.c.id.desc()).limit(1))
        with self.engine.connect() as c:
            row = c.execute(q).first()
        return _query(row) if row else None

    def add_query(self, rater_id: int, context_row: int, left: int, right: int) -> Query:
        now = time.time()
        with self.engine.begin() as c:
            key = c.execute(QUERIES.insert().values(
                rater_id=rater_id, context_row=context_row, left_decision=left,
                right_decision=right, created=now)).inserted_primary_key
        assert key is not None
        return Query(int(key[0]), rater_id, context_row, left, right, now)

    def query(self, query_id: int) -> Query | None:
        with self.engine.connect() as c:
            row = c.execute(sa.select(QUERIES).where(QUERIES.c.id == query_id)).first()
            if row is None:
                return None
            done = c.execute(sa.select(ANSWERS.c.id).where(ANSWERS.c.query_id == query_id)).first()
        return _query(row, answered=done is not None)

    def asked_pairs(self, rater_id: int | None = None) -> set[tuple[int, int, int]]:
        """(context_row, min decision, max decision) of every query (of one rater)."""
        q = sa.select(QUERIES.c.context_row, QUERIES.c.left_decision, QUERIES.c.right_decision)
        if rater_id is not None:
            q = q.where(QUERIES.c.rater_id == rater_id)
        with self.engine.connect() as c:
            return {(r[0], min(r[1], r[2]), max(r[1], r[2])) for r in c.execute(q)}

    # ------------------------------------------------------------------ answers
    def record_answer(self, rater_id: int, query_id: int, choice: str,
                      response_ms: float | None = None) -> Outcome:
        """Store an answer in its own transaction; idempotent for the same answer.

        A different answer to the rater's *last* answered query replaces it (``CHANGED``: an
        undo, allowed until the next answer is recorded); to an older one it is refused
        (``CONFLICT``) and the first answer is kept.
        """
        if choice not in CHOICES:
            raise ValidationError(f"choice must be one of {CHOICES}, got {choice!r}")
        q = self.query(query_id)
        if q is None or q.rater_id != rater_id:
            raise UnknownNameError("query", query_id, ["a query shown to this rater"])
        try:
            with self.engine.begin() as c:
                c.execute(ANSWERS.insert().values(
                    query_id=query_id, rater_id=rater_id, choice=choice,
                    context_row=q.context_row, left_decision=q.left, right_decision=q.right,
                    created=time.time(), response_ms=response_ms))
        except IntegrityError:
            with self.engine.connect() as c:
                old = c.execute(sa.select(ANSWERS.c.choice)
                                .where(ANSWERS.c.query_id == query_id)).scalar()
            if old == choice:
                return Outcome.DUPLICATE
            return Outcome.CHANGED if self._change_last(rater_id, query_id, choice) else Outcome.CONFLICT
        return Outcome.RECORDED

    def _change_last(self, rater_id: int, query_id: int, choice: str) -> bool:
        """Replace the choice of ``query_id`` if it is the rater's latest answer (one atomic
        statement: a concurrent next answer makes it match nothing)."""
        latest = (sa.select(sa.func.max(ANSWERS.c.id)).where(ANSWERS.c.rater_id == rater_id)
                  .scalar_subquery())
        with self.engine.begin() as c:
            done = c.execute(ANSWERS.update().where(ANSWERS.c.query_id == query_id)
                             .where(ANSWERS.c.id == latest)
                             .values(choice=choice, changed=time.time()))
        return bool(done.rowcount == 1)

    def last_answer(self, rater_id: int) -> tuple[Query, str] | None:
        """The rater's latest answered query and its choice (the one an undo may change)."""
        q = (sa.select(QUERIES, ANSWERS.c.choice).join(ANSWERS, ANSWERS.c.query_id == QUERIES.c.id)
             .where(ANSWERS.c.rater_id == rater_id).order_by(ANSWERS.c.id.desc()).limit(1))
        with self.engine.connect() as c:
            row = c.execute(q).first()
        return (_query(row, answered=True), str(row.choice)) if row else None

    def answers(self) -> list[sa.Row]:
        """Every answer (a row of the answers table with its rater's name as ``rater``), in
        the order they were given."""
        with self.engine.connect() as c:
            return list(c.execute(sa.select(ANSWERS, RATERS.c.name.label("rater"))
                                  .join(RATERS, RATERS.c.id == ANSWERS.c.rater_id)
                                  .order_by(ANSWERS.c.id)))

    def n_answers(self, rater_id: int | None = None) -> int:
        q = sa.select(sa.func.count()).select_from(ANSWERS)
        if rater_id is not None:
            q = q.where(ANSWERS.c.rater_id == rater_id)
        with self.engine.connect() as c:
            return int(c.execute(q).scalar() or 0)


def _admin_key(session_id: str) -> str:
    """The ``meta`` key of an organiser's session: 192 bits of its SHA-256 (the key column
    holds 64 characters)."""
    return f"admin_session:{_hash(session_id)[:48]}"


def _query(row: sa.Row, answered: bool = False) -> Query:
    return Query(row.id, row.rater_id, row.context_row, row.left_decision, row.right_decision,
                 row.created, answered)


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cur.execute("PRAGMA synchronous=FULL")  # a committed answer survives a crash
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
