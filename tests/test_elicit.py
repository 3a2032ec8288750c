"""Human raters: the study database on SQLite (and PostgreSQL when one is given), the web app's
pages and JSON API, its security rules, the export to a preference dataset, and the CLI."""

from __future__ import annotations

import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from fairtwin.cli import main
from fairtwin.datasets import PreferenceDataset
from fairtwin.elicit import ElicitationStudy, Outcome, PreferenceStore, create_app
from fairtwin.exceptions import DataFormatError, UnknownNameError, ValidationError
from fairtwin.learn import PreferenceCostLearner
from fairtwin.pipeline import ExperimentConfig, load_scenario, sample_stage

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A pipeline run folder with the samples of 3 training + 3 held-out weeks."""
    return sampled_run(tmp_path_factory.mktemp("run"), n_train=3, n_samples=4)


def sampled_run(out: Path, n_train: int, n_samples: int) -> Path:
    """``out`` as a run folder with its config and the samples of ``n_train`` training weeks
    (and as many held out) of ``n_samples`` decisions each."""
    config = ExperimentConfig().override(scenario={"n_train": n_train},
                                         sampler={"n_samples": n_samples}, n_jobs=1)
    config.save(out / "config.toml")
    sample_stage(config, load_scenario(config)).save(out / "samples.npz")
    return out


def store_urls(tmp_path: Path) -> list[str]:
    urls = [str(tmp_path / "study.db")]
    if os.environ.get("FAIRTWIN_TEST_POSTGRES_URL"):
        urls.append(os.environ["FAIRTWIN_TEST_POSTGRES_URL"])
    return urls


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        s = PreferenceStore(tmp_path / "study.db")
    else:
        url = os.environ.get("FAIRTWIN_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("no PostgreSQL server: set FAIRTWIN_TEST_POSTGRES_URL "
                        "(postgresql+psycopg://user@host/db) to run the storage tests on it")
        _drop_every_table(url)  # whatever an earlier run left, of any schema version
        s = PreferenceStore(url)
    yield s
    s.close()


def _drop_every_table(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    tables = sa.MetaData()
    tables.reflect(engine)
    tables.drop_all(engine)
    engine.dispose()


def test_store_raters_queries_and_exactly_once_answers(store) -> None:  # type: ignore[no-untyped-def]
    alice, token = store.add_rater("alice")
    bob, _ = store.add_rater("bob")
    assert store.rater_by_token(token) == alice
    assert store.rater_by_token("x" * 32) is None and store.rater_by_token(None) is None
    with pytest.raises(ValidationError, match="already exists"):
        store.add_rater("alice")
    with pytest.raises(ValidationError, match="one line"):
        store.add_rater("two\nlines")
    q = store.add_query(alice.id, 0, 3, 5)
    assert store.open_query(alice.id) == q and store.open_query(bob.id) is None
    assert store.record_answer(alice.id, q.id, "a", 812.0) is Outcome.RECORDED
    assert store.record_answer(alice.id, q.id, "a") is Outcome.DUPLICATE
    assert store.record_answer(alice.id, q.id, "b") is Outcome.CHANGED  # the last: an undo
    assert store.record_answer(alice.id, q.id, "a") is Outcome.CHANGED
    q2 = store.add_query(alice.id, 1, 0, 2)
    assert store.last_answer(alice.id) == (store.query(q.id), "a")
    assert store.record_answer(alice.id, q2.id, "tie") is Outcome.RECORDED
    assert store.record_answer(alice.id, q.id, "b") is Outcome.CONFLICT  # older: kept
    with pytest.raises(UnknownNameError):
        store.record_answer(bob.id, q.id, "a")  # not shown to bob
    with pytest.raises(UnknownNameError):
        store.record_answer(alice.id, 999, "a")
    with pytest.raises(ValidationError, match="choice must be one of"):
        store.record_answer(alice.id, q.id, "maybe")
    assert store.n_answers() == 2 and store.open_query(alice.id) is None
    row = store.answers()[0]
    assert (row.rater, row.choice, row.left_decision, row.right_decision) == ("alice", "a", 3, 5)
    assert [r.n_answers for r in store.raters()] == [2, 0]
    assert store.asked_pairs(alice.id) == {(0, 3, 5), (1, 0, 2)}


def test_answers_survive_reopening_the_database(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = PreferenceStore(tmp_path / "s.db")
    r, token = s.add_rater("carla")
    q = s.add_query(r.id, 1, 0, 2)
    s.record_answer(r.id, q.id, "b")
    secret = s.secret()
    s.close()
    again = PreferenceStore(tmp_path / "s.db")
    assert again.rater_by_token(token) == r and again.n_answers() == 1
    assert again.secret() == secret


def test_unusable_database_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fairtwin.elicit import StoreError

    with pytest.raises(StoreError, match="cannot open the study database"):
        PreferenceStore(tmp_path / "missing-dir" / "sub" / "s.db")


def login(client: TestClient, token: str) -> None:
    """Open the invite link, then press Start (a same-origin POST)."""
    invite = client.get(f"/invite/{token}", follow_redirects=False)
    assert invite.status_code == 200 and 'id="start"' in invite.text
    assert "set-cookie" not in invite.headers  # no session before Start
    resp = client.post(f"/invite/{token}", headers={"Sec-Fetch-Site": "same-origin"},
                       follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] in ("/intro", "/rate")
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_invite_link_from_another_site_reaches_the_first_question(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = PreferenceStore(tmp_path / "i.db")
    study = ElicitationStudy(store, run_dir, seed=3)
    _, token = store.add_rater("quentin")
    client = TestClient(create_app(study))
    # the click in webmail: a cross-site GET, so a SameSite=Strict cookie would not be sent
    invite = client.get(f"/invite/{token}", headers={"Sec-Fetch-Site": "cross-site"})
    assert invite.status_code == 200 and "Welcome, quentin" in invite.text
    assert f'action="/invite/{token}"' in invite.text
    # a Start forged by another site (login CSRF) is refused and opens no session
    for forged in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                   {"Origin": "https://evil.example"}):
        resp = client.post(f"/invite/{token}", headers=forged, follow_redirects=False)
        assert resp.status_code == 403 and "set-cookie" not in resp.headers
    assert client.get("/rate").status_code == 403
    # Start on the invite page (same origin) reaches the intro, then the first question
    start = client.post(f"/invite/{token}", headers={"Sec-Fetch-Site": "same-origin"})
    assert start.status_code == 200 and 'href="/rate" id="begin"' in start.text
    assert "which decision is fairer?" in client.get("/rate").text
    assert client.post(f"/invite/{token}", headers={"Origin": "http://testserver"},
                       follow_redirects=False).status_code == 303  # Origin naming this host
    assert client.post("/invite/wrong", follow_redirects=False).status_code == 403


def form_of(html: str) -> dict[str, str]:
    return {k: re.search(rf'name="{k}" value="([^"]*)"', html).group(1)  # type: ignore[union-attr]
            for k in ("query_id", "csrf")}


def test_rating_pages_answer_flow_and_export(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = PreferenceStore(tmp_path / "s.db")
    study = ElicitationStudy(store, run_dir, seed=1)
    rater, token = store.add_rater("<script>alert(1)</script>")
    client = TestClient(create_app(study))
    login(client, token)
    seen = []
    for choice in ("a", "b", "tie", "unsure"):
        page = client.get("/rate")
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text  # escaped
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "Decision A" in page.text and "Decision B" in page.text and "<svg" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        form = form_of(page.text)
        assert client.get("/rate").text.count(form["query_id"]) >= 1  # a reload shows the same pair
        resp = client.post("/rate/answer", data={**form, "choice": choice, "response_ms": "900"},
                           follow_redirects=False)
        assert resp.status_code == 303
        seen.append(int(form["query_id"]))
    assert len(set(seen)) == 4 and store.n_answers(rater.id) == 4
    assert "4 answered" in client.get("/rate").text
    ds = study.export()
    assert ds.n_comparisons == 2 and ds.rater_names == [rater.name]
    assert (ds.info["ties"], ds.info["cant_tell"], ds.info["answers"]) == (1, 1, 4)
    answers = store.answers()
    for (c, w, lo), a in zip(ds.comparisons, [a for a in answers if a.choice in "ab"], strict=True):
        assert c == a.context_row
        assert (w, lo) == ((a.left_decision, a.right_decision) if a.choice == "a"
                           else (a.right_decision, a.left_decision))
    path = ds.save(tmp_path / "prefs.npz")
    again = PreferenceDataset.load(path)
    np.testing.assert_array_equal(again.comparisons, ds.comparisons)
    model = PreferenceCostLearner(n_components=3, hidden=(4,), max_epochs=5, random_state=0)
    assert model.fit(again).score(again) >= 0.0  # the pipeline's learner takes the export


def test_security_rules(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = PreferenceStore(tmp_path / "s.db")
    study = ElicitationStudy(store, run_dir)
    admin = store.set_admin_token()
    alice, a_token = store.add_rater("alice")
    _, b_token = store.add_rater("bob")
    client = TestClient(create_app(study))
    assert client.get("/rate").status_code == 403  # no session
    assert client.get("/invite/not-a-token").status_code == 403
    assert client.post("/invite/not-a-token").status_code == 403
    login(client, a_token)
    form = form_of(client.get("/rate").text)
    # a forged or foreign CSRF token is refused and nothing is stored
    assert client.post("/rate/answer", data={**form, "csrf": "0" * 64, "choice": "a"},
                       follow_redirects=False).status_code == 403
    assert client.post("/rate/answer", data={**form, "choice": "maybe"},
                       follow_redirects=False).status_code == 400
    assert store.n_answers() == 0
    # the same answer twice is idempotent; another answer to an older pair is refused
    ok = {**form, "choice": "b"}
    assert client.post("/rate/answer", data=ok, follow_redirects=False).status_code == 303
    assert client.post("/rate/answer", data=ok, follow_redirects=False).status_code == 303
    nxt_form = form_of(client.get("/rate").text)
    assert client.post("/rate/answer", data={**nxt_form, "choice": "b"},
                       follow_redirects=False).status_code == 303
    refused = client.post("/rate/answer", data={**form, "choice": "a"}, follow_redirects=False)
    assert refused.status_code == 409 and "only your last answer" in refused.text
    assert store.n_answers() == 2
    # the JSON API: tokens required, other raters' queries unknown, input validated
    api = TestClient(create_app(study))
    assert api.get("/api/next").status_code == 401
    assert api.get("/api/next", headers={"Authorization": "Bearer nope"}).status_code == 401
    bob = {"Authorization": f"Bearer {b_token}"}
    nxt = api.get("/api/next", headers=bob).json()
    assert not nxt["done"] and len(nxt["members"]) == 21 and nxt["member"] == "region"
    assert [q["name"] for q in nxt["quantities"]] == ["patients", "ICU beds", "without an ICU bed", "load"]
    qid = int(form["query_id"])
    assert api.post("/api/answer", headers=bob, json={"query_id": qid, "choice": "a"}).status_code == 404
    assert api.post("/api/answer", headers=bob, json={"query_id": "1", "choice": "a"}).status_code == 422
    assert api.post("/api/answer", headers=bob, content=b"{not json").status_code == 422
    assert api.post("/api/answer", headers=bob,
                    json={"query_id": nxt["query_id"], "choice": "x"}).status_code == 422
    r1 = api.post("/api/answer", headers=bob, json={"query_id": nxt["query_id"], "choice": "tie"})
    r2 = api.post("/api/answer", headers=bob, json={"query_id": nxt["query_id"], "choice": "tie"})
    assert (r1.json(), r2.json()) == ({"outcome": "recorded"}, {"outcome": "duplicate"})
    # admin endpoints
    assert api.get("/admin/raters").status_code == 401
    assert api.get("/admin/raters", headers={"Authorization": f"Bearer {a_token}"}).status_code == 401
    listed = api.get("/admin/raters", headers={"Authorization": f"Bearer {admin}"}).json()
    assert [r["n_answers"] for r in listed["raters"]] == [2, 1] and listed["answers"] == 3
    export = api.get("/admin/export", headers={"Authorization": f"Bearer {admin}"})
    assert export.status_code == 200
    (tmp_path / "e.npz").write_bytes(export.content)
    assert PreferenceDataset.load(tmp_path / "e.npz").n_comparisons == 2


def test_the_last_answer_can_be_changed_until_the_next_one(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = PreferenceStore(tmp_path / "u.db")
    study = ElicitationStudy(store, run_dir, seed=11)
    _, token = store.add_rater("rita")
    client = TestClient(create_app(study))
    login(client, token)
    assert client.get("/rate/previous", follow_redirects=False).status_code == 303  # nothing yet
    first = form_of(client.get("/rate").text)
    client.post("/rate/answer", data={**first, "choice": "tie"})
    page = client.get("/rate").text
    assert 'href="/rate/previous"' in page and "Change my last answer (Equally fair)" in page
    second_qid = form_of(page)["query_id"]
    again = client.get("/rate/previous").text  # the last pair again, its answer marked
    assert form_of(again)["query_id"] == first["query_id"] and 'id="revisit"' in again
    assert re.search(r'id="choose-tie"\s+class="chosen"', again)
    resp = client.post("/rate/answer", data={**form_of(again), "choice": "a"}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/rate"
    assert [a.choice for a in store.answers()] == ["a"] and store.n_answers() == 1
    assert form_of(client.get("/rate").text)["query_id"] == second_qid  # back to the open pair
    client.post("/rate/answer", data={**form_of(client.get("/rate").text), "choice": "b"})
    late = client.post("/rate/answer", data={**first, "choice": "b"}, follow_redirects=False)
    assert late.status_code == 409 and [a.choice for a in store.answers()] == ["a", "b"]
    # the JSON API: the same rule
    api = {"Authorization": f"Bearer {token}"}
    nxt = client.get("/api/next", headers=api).json()["query_id"]
    post = lambda qid, c: client.post("/api/answer", headers=api, json={"query_id": qid, "choice": c})  # noqa: E731
    assert post(nxt, "a").json() == {"outcome": "recorded"}
    assert post(nxt, "b").json() == {"outcome": "changed"}
    assert post(nxt, "b").json() == {"outcome": "duplicate"}
    old = post(int(second_qid), "a")
    assert old.status_code == 409 and "only the last answer" in old.json()["error"]
    assert [a.choice for a in store.answers()] == ["a", "b", "b"]


def test_intro_quota_progress_and_done_page(run_dir, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from fairtwin.elicit import StudyBrief

    store = PreferenceStore(tmp_path / "q.db")
    goal = "Help the ministry's panel decide how <ICU> beds are shared."
    study = ElicitationStudy(store, run_dir, seed=13, brief=StudyBrief(quota=3, goal=goal))
    rater, token = store.add_rater("sara")
    client = TestClient(create_app(study))
    intro = client.post(f"/invite/{token}")  # the first Start shows the intro
    assert intro.url.path == "/intro" and "Which of two decisions is fairer?" in intro.text
    assert "Help the ministry&#39;s panel decide how &lt;ICU&gt; beds are shared." in intro.text
    assert "asked 3 questions, about 1 min in all" in intro.text
    page = client.get("/rate").text
    assert "0 of 3 answered" in page and '<progress id="bar" max="3" value="0">' in page
    for choice in ("a", "tie", "b"):
        client.post("/rate/answer", data={**form_of(client.get("/rate").text), "choice": choice})
    done = client.get("/rate")
    assert done.status_code == 200 and 'id="done"' in done.text and "3 of 3 answered" in done.text
    assert "all 3 questions" in done.text and 'href="/rate/previous"' in done.text
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/next", headers=auth).json() == {"done": True, "answered": 3, "quota": 3}
    again = client.get("/rate/previous").text  # the last answer can still be changed
    client.post("/rate/answer", data={**form_of(again), "choice": "a"})
    assert [a.choice for a in store.answers()] == ["a", "tie", "a"]
    assert 'id="done"' in client.get("/rate").text and store.n_answers() == 3
    assert client.post(f"/invite/{token}", follow_redirects=False).headers["location"] == "/rate"
    # the estimate: 20 s an answer until 10 answers give a measured median
    assert ElicitationStudy(store, run_dir, brief=StudyBrief(quota=30)).minutes_estimate() == 10
    assert ElicitationStudy(store, run_dir).brief.quota is None
    with pytest.raises(ValidationError, match="quota must be a positive"):
        StudyBrief(quota=0)
    assert main(["serve", "--run", str(run_dir), "--db", str(tmp_path / "q.db"),
                 "--quota", "-2"]) == 2
    assert "quota must be a positive" in capsys.readouterr().err


def test_a_changed_samples_file_is_refused(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    store = PreferenceStore(tmp_path / "s.db")
    ElicitationStudy(store, run_dir)
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    ds = PreferenceDataset.load(other / "samples.npz")
    ds.info["touched"] = True
    ds.save(other / "samples.npz")
    with pytest.raises(DataFormatError, match="differs from the samples this study"):
        ElicitationStudy(store, other)


def test_every_pair_once_then_done(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = PreferenceStore(tmp_path / "s.db")
    study = ElicitationStudy(store, run_dir)
    r, _ = store.add_rater("dana")
    pairs = set()
    while (q := study.next_query(r.id)) is not None:
        pairs.add((q.context_row, min(q.left, q.right), max(q.left, q.right)))
        store.record_answer(r.id, q.id, "a")
    assert len(pairs) == study.n_pairs == store.n_answers()


def test_cli_raters(run_dir, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "s.db")
    assert main(["raters", "list", "--db", db]) == 0
    assert "no raters yet" in capsys.readouterr().out
    assert main(["raters", "add", "erin", "--db", db, "--url", "http://example.org:9000/"]) == 0
    link = capsys.readouterr().out.strip().splitlines()[-1]
    assert link.startswith("http://example.org:9000/invite/")
    assert main(["raters", "add", "erin", "--db", db]) == 2
    assert "already exists" in capsys.readouterr().err
    store = PreferenceStore(db)
    study = ElicitationStudy(store, run_dir)
    rater = store.rater_by_token(link.rsplit("/", 1)[1])
    assert rater is not None
    q = study.next_query(rater.id)
    store.record_answer(rater.id, q.id, "b")
    out = tmp_path / "p.npz"
    assert main(["raters", "export", "--db", db, "--run", str(run_dir), "--out", str(out)]) == 0
    assert "1 comparisons and 0 'equally fair' (ties) from 1 rater(s)" in capsys.readouterr().out
    assert PreferenceDataset.load(out).n_comparisons == 1
    assert main(["raters", "list", "--db", db]) == 0
    assert re.search(r"erin\s+1", capsys.readouterr().out)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(study: ElicitationStudy):  # type: ignore[no-untyped-def]
    """The app of ``study`` served by uvicorn on a loopback port, in a thread; yields its URL."""
    import threading
    import time

    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(study), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def live_server(run_dir, tmp_path):  # type: ignore[no-untyped-def]
    """The app served by uvicorn on a loopback port, in a thread."""
    store = PreferenceStore(tmp_path / "live.db")
    study = ElicitationStudy(store, run_dir, seed=2)
    with serving(study) as base:
        yield base, store, study


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def playwright_or_skip():  # type: ignore[no-untyped-def]
    """Playwright's sync API, or a skip that says what is missing (Debian's Chromium, the dev
    extra)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium "
                    "(`make test` installs it as root: apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")


def check_laptop_page(page, sync_api) -> None:  # type: ignore[no-untyped-def]
    """A and B side by side with their rows aligned, the week in one line, the synthetic
    notice, every member's bar on a scale fitted to the data, differences marked, the
    answer buttons in the window."""
    a_box = page.locator("#decision-a").bounding_box()
    b_box = page.locator("#decision-b").bounding_box()
    assert abs(a_box["y"] - b_box["y"]) < 1 and b_box["x"] >= a_box["x"] + a_box["width"]
    rows_a = page.locator("#decision-a tbody tr")
    rows_b = page.locator("#decision-b tbody tr")
    assert rows_a.count() == rows_b.count() == 21
    for k in (0, 10, 20):  # the same member on the same line in A and B
        ya, yb = rows_a.nth(k).bounding_box()["y"], rows_b.nth(k).bounding_box()["y"]
        assert abs(ya - yb) < 1, (k, ya, yb)
    sync_api.expect(page.locator("#synthetic")).to_be_visible()
    situation = page.locator("#situation").inner_text()
    assert "patients need an ICU bed" in situation and "extra beds in the national pool" in situation
    # the scale fits the data: the longest bar (before or after) spans the chart's column
    widths = [float(w) for w in page.locator("#decision-a svg.bar rect").evaluate_all(
        "rs => rs.map(r => r.getAttribute('width'))")]
    assert max(widths) > 99.0
    # labelled: the legend names the grey (before) and blue (after) bars
    sync_api.expect(page.locator("#legend")).to_contain_text("before any decision")
    # the differences between A and B are marked, with the other decision's value
    diff = page.locator("#decision-a td.diff")
    if diff.count():
        assert "B:" in diff.first.inner_text()
    assert page.locator("#decision-a td.diff").count() == page.locator("#decision-b td.diff").count()
    for key in ("a", "b"):  # the answers are within the window without scrolling
        box = page.locator(f"#choose-{key}").bounding_box()
        assert box["y"] + box["height"] <= page.viewport_size["height"] + 1e-6
    assert page.locator("kbd").first.is_visible()
    assert_no_clipped_cells(page)


def assert_no_clipped_cells(page) -> None:  # type: ignore[no-untyped-def]
    """No number of the tables runs over its cell (region names may end in an ellipsis)."""
    over = page.locator("table.members td").evaluate_all(
        "cs => cs.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.innerText)")
    assert over == [], over


def check_phone_page(phone, sync_api) -> None:  # type: ignore[no-untyped-def]
    """On a phone: A shown, B one tap away (and back) without leaving the page, nothing wider
    than the screen, readable text, the four answers reachable without scrolling, no
    keyboard hints."""
    sync_api.expect(phone.locator("#decision-a")).to_be_visible()
    sync_api.expect(phone.locator("#decision-b")).to_be_hidden()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert_no_clipped_cells(phone)
    for key in ("a", "b", "tie", "unsure"):
        box = phone.locator(f"#choose-{key}").bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 844, key
    assert not phone.locator("kbd").first.is_visible()
    sizes = phone.locator("#decision-a td, #decision-a th, #decision-a small").evaluate_all(
        "cs => cs.map(c => parseFloat(getComputedStyle(c).fontSize))")
    assert min(sizes) >= 12, min(sizes)  # the old chart text was ~9 px
    qid = phone.locator("input[name=query_id]").input_value()
    phone.click("#tab-b")
    sync_api.expect(phone.locator("#decision-b")).to_be_visible()
    sync_api.expect(phone.locator("#decision-a")).to_be_hidden()
    phone.mouse.wheel(0, 600)  # scrolled down the table, the answers stay in reach
    phone.wait_for_timeout(200)
    box = phone.locator("#choose-b").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 844
    phone.click("#tab-a")
    sync_api.expect(phone.locator("#decision-a")).to_be_visible()
    assert phone.locator("input[name=query_id]").input_value() == qid  # the same question


def test_browser_rater_session_with_mouse_and_keyboard(live_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sync_api = playwright_or_skip()
    base, store, study = live_server
    rater, token = store.add_rater("frank")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # the invite link clicked in a webmail on another site (a cross-site navigation)
            page.route("http://webmail.example/**", lambda route: route.fulfill(
                content_type="text/html",
                body=f'<p>Your invite: <a id="link" href="{base}/invite/{token}">open</a></p>'))
            page.goto("http://webmail.example/inbox")
            page.click("#link")
            sync_api.expect(page.locator("h1")).to_contain_text("Welcome, frank")
            page.click("#start")
            sync_api.expect(page.locator("h1")).to_contain_text("Which of two decisions is fairer?")
            page.click("#begin")
            sync_api.expect(page.locator("h1")).to_contain_text("which decision is fairer?")
            check_laptop_page(page, sync_api)
            page.screenshot(path=str(tmp_path / "laptop.png"), full_page=True)
            page.click("#choose-a")  # 1: the mouse
            sync_api.expect(page.locator("#progress")).to_have_text("1 answered")
            page.wait_for_load_state("load")  # its script too
            page.keyboard.press("b")  # 2: the keyboard
            sync_api.expect(page.locator("#progress")).to_have_text("2 answered")
            page.wait_for_load_state("load")
            page.keyboard.press("e")  # 3: equally fair, by keyboard
            sync_api.expect(page.locator("#progress")).to_have_text("3 answered")
            page.wait_for_load_state("load")
            page.keyboard.press("c")  # 4: I can't tell
            sync_api.expect(page.locator("#progress")).to_have_text("4 answered")
            page.wait_for_load_state("load")
            open_qid = page.locator("input[name=query_id]").input_value()
            for key in ("ArrowDown", "ArrowUp", "PageDown", "PageUp", "Space", "ArrowLeft",
                        "ArrowRight", "End", "Home"):  # scroll keys scroll, never answer
                page.keyboard.press(key)
            page.wait_for_timeout(300)
            assert store.n_answers(rater.id) == 4
            assert page.locator("input[name=query_id]").input_value() == open_qid
            page.keyboard.press("ArrowDown")
            # it scrolled the page instead (polled from here: wait_for_function's polling
            # compiles its predicate in the page, which the app's CSP forbids, 'unsafe-eval')
            for _ in range(50):
                if page.evaluate("window.scrollY") > 0:
                    break
                page.wait_for_timeout(100)
            assert page.evaluate("window.scrollY") > 0
            page.click("#undo")  # undo: the last pair again, "I can't tell" marked
            sync_api.expect(page.locator("#revisit")).to_contain_text("I can't tell")
            sync_api.expect(page.locator("#choose-unsure")).to_have_class("chosen")
            page.wait_for_load_state("load")
            page.keyboard.press("a")  # changed to A
            sync_api.expect(page.locator("#progress")).to_have_text("4 answered")
            assert page.locator("input[name=query_id]").input_value() == open_qid
            phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True,
                                     has_touch=True)
            phone.goto(f"{base}/invite/{token}")
            phone.click("#start")
            check_phone_page(phone, sync_api)
        finally:
            browser.close()
    answers = store.answers()
    assert [a.choice for a in answers] == ["a", "b", "tie", "a"]
    assert answers[-1].changed is not None and answers[2].changed is None
    assert all(a.response_ms is not None and a.response_ms > 0 for a in answers)
    ds = study.export()
    assert ds.n_comparisons == 3 and (ds.info["ties"], ds.info["cant_tell"]) == (1, 0)
    first = answers[0]
    assert tuple(ds.comparisons[0]) == (first.context_row, first.left_decision, first.right_decision)


def test_browser_intro_progress_bar_and_done_page(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    sync_api = playwright_or_skip()
    from fairtwin.elicit import StudyBrief

    store = PreferenceStore(tmp_path / "quota.db")
    study = ElicitationStudy(store, run_dir, seed=14,
                             brief=StudyBrief(quota=2, goal="A trial of the panel."))
    _, token = store.add_rater("tess")
    with serving(study) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{base}/invite/{token}")
            page.click("#start")
            sync_api.expect(page.locator("#goal")).to_have_text("A trial of the panel.")
            sync_api.expect(page.locator("#estimate")).to_contain_text("2 questions")
            page.click("#begin")
            sync_api.expect(page.locator("#progress")).to_have_text("0 of 2 answered")
            assert page.locator("#bar").get_attribute("max") == "2"
            page.click("#choose-a")
            sync_api.expect(page.locator("#progress")).to_have_text("1 of 2 answered")
            assert page.locator("#bar").get_attribute("value") == "1"
            page.click("#choose-unsure")
            sync_api.expect(page.locator("#done h1")).to_have_text("Thank you!")
            sync_api.expect(page.locator("#progress")).to_have_text("2 of 2 answered")
        finally:
            browser.close()
    assert [a.choice for a in store.answers()] == ["a", "unsure"]


@pytest.mark.parametrize("learner", ["outcomes", "siamese"])
def test_active_selection_refits_and_asks_informative_pairs(run_dir, tmp_path, learner) -> None:  # type: ignore[no-untyped-def]
    from fairtwin.elicit import SelectorConfig
    from fairtwin.oracles import SimulatedRater, get_oracle

    config = SelectorConfig(strategy="active", learner=learner, ensemble=2, refit_every=6,
                            min_answers=6, exploration=0.0, max_epochs=20, n_components=3)
    store = PreferenceStore(tmp_path / "s.db")
    study = ElicitationStudy(store, run_dir, seed=0, selector=config, background=False)
    rater, _ = store.add_rater("sim")
    truth = SimulatedRater(get_oracle("rosenbrock", study.scenario.twin), 0.0, 0)
    ds = study.dataset
    chosen_scores = []
    for _ in range(14):
        q = study.next_query(rater.id)
        if study.selector.scores is not None:
            idx = study._keys.index((q.context_row, min(q.left, q.right), max(q.left, q.right)))
            scores = study.selector.scores
            chosen_scores.append(scores[idx] >= np.max(scores[[
                i for i, key in enumerate(study._keys)
                if key not in store.asked_pairs(rater.id) or i == idx]]) - 1e-12)
        context = study.scenario.contexts[int(ds.context_ids[q.context_row])]
        a_fairer = bool(truth.prefers(ds.decisions[q.left], ds.decisions[q.right], context)[0])
        assert study.answer(rater.id, q.id, "a" if a_fairer else "b") is Outcome.RECORDED
    assert study.selector.n_fits == 2  # after 6 and 12 answers
    assert chosen_scores and all(chosen_scores)  # no exploration: always the top-scored pair
    with pytest.raises(UnknownNameError, match="'random', 'active'"):
        SelectorConfig(strategy="greedy")
    with pytest.raises(UnknownNameError, match="'outcomes', 'siamese'"):
        SelectorConfig(learner="forest")
    if learner == "outcomes":
        from fairtwin.elicit import PairSelector

        with pytest.raises(ValidationError, match="needs the twin's outcomes"):
            PairSelector(study._pool, config)


def test_background_refit_does_not_block_and_finishes(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fairtwin.elicit import SelectorConfig

    config = SelectorConfig(strategy="active", ensemble=1, refit_every=4, min_answers=4,
                            max_epochs=10, n_components=3)
    store = PreferenceStore(tmp_path / "s.db")
    study = ElicitationStudy(store, run_dir, seed=0, selector=config, background=True)
    rater, _ = store.add_rater("sim")
    for _ in range(4):
        q = study.next_query(rater.id)
        study.answer(rater.id, q.id, "a")
    assert study.next_query(rater.id) is not None  # served while the refit may still run
    study.selector.wait(60)
    assert study.selector.n_fits == 1 and study.selector.scores.shape == (study.n_pairs,)


def test_answers_survive_a_sigkill_of_the_server_exactly_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The load benchmark, small: 8 raters × 5 answers, the server SIGKILLed after 40 %."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_serve_load.py"
    spec = importlib.util.spec_from_file_location("bench_serve_load", path)
    bench = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(bench)  # type: ignore[union-attr]
    out = tmp_path / "report.json"
    status = bench.main(["--raters", "8", "--answers", "5", "--workdir", str(tmp_path / "w"),
                         "--json", str(out)])
    report = __import__("json").loads(out.read_text())
    assert report["sigkill_after_answers"] is not None and report["sigkill_after_answers"] >= 16
    assert report["checks"]["answers_in_db"] == 40
    assert report["checks"]["acknowledged_missing_from_db"] == 0
    assert report["checks"]["duplicate_query_ids"] == 0
    assert status == 0 and report["ok"]


def test_cli_reliability(run_dir, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "s.db")
    store = PreferenceStore(db)
    study = ElicitationStudy(store, run_dir)
    assert main(["raters", "reliability", "--db", db, "--run", str(run_dir)]) == 1
    assert "no A-or-B answers yet" in capsys.readouterr().err
    for name, choice in (("gina", "a"), ("hugo", "b")):
        r, _ = store.add_rater(name)
        for _ in range(10):
            q = study.next_query(r.id)
            store.record_answer(r.id, q.id, choice)
    model = tmp_path / "agg.npz"
    assert main(["raters", "reliability", "--db", db, "--run", str(run_dir), "--epochs", "5",
                 "--model", str(model)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"gina\s+10\s", out) and re.search(r"hugo\s+10\s", out)
    assert PreferenceCostLearner.load(model).n_vars_ == study.dataset.n_vars


def test_equal_and_cant_tell_are_separate_and_counted_alike(run_dir, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "t.db")
    store = PreferenceStore(db)
    study = ElicitationStudy(store, run_dir, seed=12)
    admin = store.set_admin_token()
    plan = {"gina": ["a"] * 6 + ["tie"] * 2 + ["unsure"] * 2, "hugo": ["b"] * 8 + ["unsure"],
            "ivan": []}
    for name, choices in plan.items():
        r, token = store.add_rater(name)
        for choice in choices:
            q = study.next_query(r.id)
            reply = TestClient(create_app(study)).post(
                "/api/answer", headers={"Authorization": f"Bearer {token}"},
                json={"query_id": q.id, "choice": choice})
            assert reply.json() == {"outcome": "recorded"}
    assert [a.choice for a in store.answers()].count("unsure") == 3  # stored apart from "tie"
    expected = {"gina": (10, 6, 2, 2), "hugo": (9, 8, 0, 1), "ivan": (0, 0, 0, 0)}
    assert {r.name: (r.n_answers, r.n_decided, r.n_equal, r.n_unsure)
            for r in store.raters()} == expected
    ds = study.export()  # "equally fair" becomes ties (evidence), "I can't tell" is not learned
    assert ds.n_comparisons == 14 and (ds.info["ties"], ds.info["cant_tell"]) == (2, 3)
    assert ds.n_ties == 2 and set(ds.tie_rater) == {ds.rater_names.index("gina")}
    assert ds.info["answers"] == 19 and ds.info["raters_answering"] == 2
    listed = TestClient(create_app(study)).get(
        "/admin/raters", headers={"Authorization": f"Bearer {admin}"}).json()
    assert {r["name"]: (r["n_answers"], r["n_decided"], r["n_equal"], r["n_unsure"])
            for r in listed["raters"]} == expected
    assert (listed["answers"], listed["decided"], listed["equal"], listed["unsure"],
            listed["raters_answering"]) == (19, 14, 2, 3, 2)
    assert main(["raters", "list", "--db", db]) == 0
    out = capsys.readouterr().out
    assert re.search(r"gina\s+10\s+6\s+2\s+2\s+active", out)
    assert re.search(r"hugo\s+9\s+8\s+0\s+1\s+active", out) and "3 rater(s), 2 with answers" in out
    assert main(["raters", "reliability", "--db", db, "--run", str(run_dir), "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"gina\s+10\s+6\s+2\s+2\s", out) and re.search(r"hugo\s+9\s+8\s+0\s+1\s", out)
    assert "ivan" not in out
    assert main(["raters", "export", "--db", db, "--run", str(run_dir),
                 "--out", str(tmp_path / "p.npz")]) == 0
    out = capsys.readouterr().out
    assert "14 comparisons and 2 'equally fair' (ties) from 2 rater(s)" in out
    assert "of 19 answers; not included: 3 'I can't tell'" in out
    assert PreferenceDataset.load(tmp_path / "p.npz").ties.shape == (2, 3)


_V1_SCHEMA = """
CREATE TABLE meta ("key" VARCHAR(64) NOT NULL, value TEXT NOT NULL, PRIMARY KEY ("key"));
CREATE TABLE raters (id INTEGER NOT NULL, name VARCHAR(64) NOT NULL,
    token_hash VARCHAR(64) NOT NULL, created FLOAT NOT NULL, PRIMARY KEY (id), UNIQUE (name),
    UNIQUE (token_hash));
CREATE TABLE queries (id INTEGER NOT NULL, rater_id INTEGER NOT NULL,
    context_row INTEGER NOT NULL, left_decision INTEGER NOT NULL,
    right_decision INTEGER NOT NULL, created FLOAT NOT NULL, PRIMARY KEY (id),
    FOREIGN KEY(rater_id) REFERENCES raters (id));
CREATE INDEX ix_queries_rater_id ON queries (rater_id);
CREATE TABLE answers (id INTEGER NOT NULL, query_id INTEGER NOT NULL,
    rater_id INTEGER NOT NULL, choice VARCHAR(3) NOT NULL, context_row INTEGER NOT NULL,
    left_decision INTEGER NOT NULL, right_decision INTEGER NOT NULL, created FLOAT NOT NULL,
    response_ms FLOAT, PRIMARY KEY (id), UNIQUE (query_id),
    FOREIGN KEY(query_id) REFERENCES queries (id), FOREIGN KEY(rater_id) REFERENCES raters (id));
CREATE INDEX ix_answers_rater_id ON answers (rater_id);
"""


def test_a_version_1_database_on_postgresql_is_migrated() -> None:
    """The same migration on a server, which enforces VARCHAR(3): the column is widened before
    any 'unsure' is written (CI found it: the old order failed with 'value too long')."""
    import sqlalchemy as sa

    url = os.environ.get("FAIRTWIN_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set FAIRTWIN_TEST_POSTGRES_URL to run it")
    _drop_every_table(url)
    engine = sa.create_engine(url)
    with engine.begin() as c:
        for statement in filter(str.strip, _V1_SCHEMA.split(";")):
            c.execute(sa.text(statement))
        c.execute(sa.text("INSERT INTO meta VALUES ('secret', :s)"), {"s": "ab" * 32})
        c.execute(sa.text("INSERT INTO raters VALUES (1, 'old', :h, 1.0)"), {"h": "0" * 64})
        for qid, choice in ((1, "a"), (2, "tie"), (3, "b")):
            c.execute(sa.text("INSERT INTO queries VALUES (:q, 1, 0, :q, :r, 2.0)"),
                      {"q": qid, "r": qid + 1})
            c.execute(sa.text("INSERT INTO answers VALUES (:q, :q, 1, :c, 0, :q, :r, 3.0, 500.0)"),
                      {"q": qid, "c": choice, "r": qid + 1})
    engine.dispose()
    store = PreferenceStore(url)
    try:
        assert store.schema_version() == 2
        assert [a.choice for a in store.answers()] == ["a", "unsure", "b"]
    finally:
        store.close()
        _drop_every_table(url)


def test_a_version_1_database_is_migrated_keeping_every_answer(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A study database written before "equally fair" and "can't tell" were separate (the
    exact DDL fairtwin wrote then): its answers survive, its "Cannot tell" become "unsure"."""
    import hashlib
    import sqlite3

    from fairtwin.elicit import StoreError

    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as db:
        db.executescript(_V1_SCHEMA)
        db.execute("INSERT INTO meta VALUES ('secret', ?)", ("ab" * 32,))
        db.execute("INSERT INTO raters VALUES (1, 'old', ?, 1.0)",
                   (hashlib.sha256(b"old-token").hexdigest(),))
        for qid, choice in ((1, "a"), (2, "tie"), (3, "b")):
            db.execute("INSERT INTO queries VALUES (?, 1, 0, ?, ?, 2.0)", (qid, qid, qid + 1))
            db.execute("INSERT INTO answers VALUES (?, ?, 1, ?, 0, ?, ?, 3.0, 500.0)",
                       (qid, qid, choice, qid, qid + 1))
    db.close()
    store = PreferenceStore(path)
    assert store.schema_version() == 2
    assert [(a.id, a.choice, a.response_ms, a.changed) for a in store.answers()] == [
        (1, "a", 500.0, None), (2, "unsure", 500.0, None), (3, "b", 500.0, None)]
    assert store.secret() == bytes.fromhex("ab" * 32) and store.rater_by_token("old-token")
    with sqlite3.connect(tmp_path / "v1.db.v1-backup") as db:  # the untouched copy
        assert [r[0] for r in db.execute("SELECT choice FROM answers ORDER BY id")] == ["a", "tie", "b"]
    db.close()
    rater = store.rater("old")
    assert (rater.n_answers, rater.n_decided, rater.n_equal, rater.n_unsure) == (3, 2, 0, 1)
    q = store.add_query(rater.id, 1, 0, 1)
    assert store.record_answer(rater.id, q.id, "tie") is Outcome.RECORDED
    assert store.record_answer(rater.id, q.id, "unsure") is Outcome.CHANGED  # undo works too
    store.close()
    again = PreferenceStore(path)  # opening again changes nothing
    assert [a.choice for a in again.answers()] == ["a", "unsure", "b", "unsure"]
    again.set_meta("schema_version", "3")
    again.close()
    with pytest.raises(StoreError, match="newer fairtwin"):
        PreferenceStore(path)


def test_a_failed_migration_leaves_the_version_1_database_as_it_was(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The migration's last write fails (a trigger): its column and its changed answers are
    rolled back with it, and the next open migrates cleanly."""
    import sqlite3

    from fairtwin.elicit import StoreError

    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as db:
        db.executescript(_V1_SCHEMA)
        db.execute("INSERT INTO raters VALUES (1, 'old', 'h', 1.0)")
        db.execute("INSERT INTO queries VALUES (1, 1, 0, 1, 2, 2.0)")
        db.execute("INSERT INTO answers VALUES (1, 1, 1, 'tie', 0, 1, 2, 3.0, NULL)")
        db.execute("CREATE TRIGGER crash BEFORE INSERT ON meta WHEN NEW.key = 'schema_version' "
                   "BEGIN SELECT RAISE(ABORT, 'simulated crash'); END")
    db.close()
    with pytest.raises(StoreError, match="simulated crash.*unchanged"):
        PreferenceStore(path)
    with sqlite3.connect(path) as db:
        columns = [r[1] for r in db.execute("PRAGMA table_info(answers)")]
        assert "changed" not in columns
        assert db.execute("SELECT choice FROM answers").fetchall() == [("tie",)]
        db.execute("DROP TRIGGER crash")
    db.close()
    store = PreferenceStore(path)
    assert store.schema_version() == 2 and [a.choice for a in store.answers()] == ["unsure"]


def test_revoked_and_expired_invites_stop_at_once_and_keep_answers(run_dir, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import time

    db = tmp_path / "r.db"
    store = PreferenceStore(db)
    study = ElicitationStudy(store, run_dir, seed=4)
    client = TestClient(create_app(study))
    rater, token = store.add_rater("ines")
    login(client, token)
    form = form_of(client.get("/rate").text)
    client.post("/rate/answer", data={**form, "choice": "a", "response_ms": "700"})
    assert store.n_answers(rater.id) == 1
    assert main(["raters", "revoke", "ines", "--db", str(db)]) == 0
    assert "revoked; 1 answers kept" in capsys.readouterr().out
    assert client.get("/rate").status_code == 403  # the cookie's token no longer works
    assert client.get(f"/invite/{token}", follow_redirects=False).status_code == 403
    assert client.get("/api/next", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert store.n_answers(rater.id) == 1 and study.export().n_comparisons == 1  # answers stay
    _, soon = store.add_rater("jo", expires=time.time() + 0.5)
    assert TestClient(create_app(study)).post(f"/invite/{soon}", follow_redirects=False).status_code == 303
    time.sleep(0.6)
    assert TestClient(create_app(study)).get(f"/invite/{soon}", follow_redirects=False).status_code == 403
    assert TestClient(create_app(study)).post(f"/invite/{soon}", follow_redirects=False).status_code == 403
    assert main(["raters", "add", "kim", "--db", str(db), "--expires", "soonish"]) == 2
    assert main(["raters", "add", "kim", "--db", str(db), "--expires", "30d"]) == 0
    assert "the invite expires" in capsys.readouterr().out
    assert main(["raters", "list", "--db", str(db)]) == 0
    listing = capsys.readouterr().out
    assert "revoked" in listing and "expired" in listing and "active" in listing


def test_failed_token_checks_are_limited_without_locking_out_valid_raters(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fairtwin.elicit.app import FailureLimiter

    store = PreferenceStore(tmp_path / "l.db")
    study = ElicitationStudy(store, run_dir, seed=5)
    _, token = store.add_rater("lea")
    _, other_token = store.add_rater("mia")
    client = TestClient(create_app(study, limiter=FailureLimiter(max_failures=3, window_s=60)))
    for k in range(3):
        assert client.get(f"/invite/guess{k}", follow_redirects=False).status_code == 403
    blocked = client.get("/invite/guess-again", follow_redirects=False)  # a wrong token, now
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "60"
    assert client.get("/api/next", headers={"Authorization": "Bearer nope"}).status_code == 429
    # the same address (one office, one NAT): valid tokens and sessions still pass
    login(client, token)
    assert client.get("/rate").status_code == 200
    assert client.get("/api/next", headers={"Authorization": f"Bearer {other_token}"}).status_code == 200


def test_request_bodies_are_capped_before_being_read(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = PreferenceStore(tmp_path / "b.db")
    study = ElicitationStudy(store, run_dir, seed=7)
    _, token = store.add_rater("nils")
    auth = {"Authorization": f"Bearer {token}"}
    client = TestClient(create_app(study, max_body=4096))
    qid = client.get("/api/next", headers=auth).json()["query_id"]
    big = {"query_id": qid, "choice": "a", "pad": "x" * 10_000_000}
    resp = client.post("/api/answer", headers=auth, json=big)
    assert resp.status_code == 413 and "at most 4096 bytes" in resp.json()["error"]

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"query_id": %d, "choice": "a", "pad": "' % qid
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    streamed = client.post("/api/answer", headers=auth, content=chunks())  # no Content-Length
    assert streamed.status_code == 413 and "at most 4096" in streamed.json()["error"]
    login(client, token)
    form = form_of(client.get("/rate").text)
    huge = client.post("/rate/answer", data={**form, "choice": "a", "pad": "y" * 100_000})
    assert huge.status_code == 413 and "request body too large" in huge.text
    assert huge.headers["content-security-policy"].startswith("default-src 'self'")
    assert store.n_answers() == 0  # nothing stored from an oversized body
    ok = client.post("/api/answer", headers=auth, json={"query_id": qid, "choice": "a"})
    assert ok.json() == {"outcome": "recorded"}
    # over a real socket: a declared 100 MB body is refused before one byte of it is sent
    import socket

    with serving(study) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"POST /api/answer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Authorization: Bearer " + token.encode() +
                         b"\r\nContent-Length: 100000000\r\n\r\n")
            head = b""
            while b"bytes" not in head and (chunk := sock.recv(4096)):
                head += chunk
    assert head.startswith(b"HTTP/1.1 413") and b"at most 16384 bytes" in head


def test_security_headers_on_every_response(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fairtwin.elicit.app import FailureLimiter

    store = PreferenceStore(tmp_path / "h.db")
    study = ElicitationStudy(store, run_dir, seed=8)
    _, token = store.add_rater("olga")
    client = TestClient(create_app(study, limiter=FailureLimiter(max_failures=1)))
    login(client, token)
    responses = {
        "static": client.get("/static/style.css"), "healthz": client.get("/healthz"),
        "404": client.get("/no/such/page"), "400": client.post("/rate/answer", data={"x": "1"}),
        "401": client.get("/api/next"), "405": client.put("/api/answer"),
        "403": client.get("/invite/wrong"), "429": client.get("/invite/wrong-again"),
        "page": client.get("/rate"),
    }
    for name, resp in responses.items():
        assert resp.status_code == (200 if name in ("static", "healthz", "page") else int(name)), name
        assert resp.headers["content-security-policy"].startswith("default-src 'self'"), name
        assert resp.headers["x-content-type-options"] == "nosniff", name
        assert resp.headers["x-frame-options"] == "DENY", name
        assert resp.headers["referrer-policy"] == "no-referrer", name


def test_the_session_cookie_is_not_the_invite_token(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlite3
    import time

    store = PreferenceStore(tmp_path / "k.db")
    study = ElicitationStudy(store, run_dir, seed=9)
    rater, token = store.add_rater("pia")
    client = TestClient(create_app(study))
    login(client, token)
    session = client.cookies.get("fairtwin_rater")
    assert session and session != token and token not in str(client.cookies)
    with sqlite3.connect(tmp_path / "k.db") as db:
        stored = [v for row in db.execute("SELECT * FROM sessions") for v in row]
    assert session not in stored and token not in stored  # only hashes are stored
    assert client.get("/rate").status_code == 200
    stranger = TestClient(create_app(study))
    stranger.cookies.set("fairtwin_rater", token)  # the invite token is no session
    assert stranger.get("/rate").status_code == 403
    short = store.open_session(rater.id, lifetime_s=0.2)
    assert store.rater_by_session(short) == rater
    time.sleep(0.3)
    assert store.rater_by_session(short) is None  # sessions expire
    store.revoke_rater("pia")
    assert client.get("/rate").status_code == 403  # revoking the invite ends its sessions


def test_exposure_warning_and_secure_cookies(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fairtwin.cli import exposure_warning

    assert exposure_warning("127.0.0.1", False) == "" and exposure_warning("localhost", False) == ""
    text = exposure_warning("0.0.0.0", False)
    assert "plain HTTP" in text and "HTTPS reverse proxy" in text and "--secure-cookies" in text
    assert "--secure-cookies" not in exposure_warning("10.0.0.5", True)
    store = PreferenceStore(tmp_path / "c.db")
    _, token = store.add_rater("max")
    study = ElicitationStudy(store, run_dir, seed=6)
    plain = TestClient(create_app(study)).post(f"/invite/{token}", follow_redirects=False)
    assert "secure" not in plain.headers["set-cookie"].lower()
    secure = TestClient(create_app(study, secure_cookies=True)).post(f"/invite/{token}",
                                                                    follow_redirects=False)
    assert "secure" in secure.headers["set-cookie"].lower()


def test_every_language_has_the_same_texts() -> None:
    """A catalogue per language (``elicit/locales/<code>.json``), all with the keys of English,
    the same placeholders in each text, and the twin's words of the ICU page."""
    import string

    from fairtwin.elicit.i18n import catalogue, languages, negotiate

    assert languages()[0] == "en" and "it" in languages()
    en = catalogue("en")
    for code in languages():
        other = catalogue(code)
        assert set(other.texts) == set(en.texts), code
        assert set(other.twin) == set(en.twin), code
        for key, text in en.texts.items():
            names = {f[1] for f in string.Formatter().parse(text) if f[1]}
            assert names == {f[1] for f in string.Formatter().parse(other.texts[key]) if f[1]}, key
    assert catalogue("it")("choice.a") == "A è più equa"
    assert catalogue("it").word("ICU beds") != "ICU beds" and en.word("made up") == "made up"
    assert negotiate("it-IT,it;q=0.9,en;q=0.8") == "it"
    assert negotiate("de-DE,en;q=0.5") == "en" and negotiate("de") is None and negotiate(None) is None
    with pytest.raises(UnknownNameError):
        catalogue("xx")
    from fairtwin.elicit import StudyBrief

    with pytest.raises(ValidationError, match="no texts in language 'xx'"):
        StudyBrief(lang="xx")


def test_the_language_comes_from_the_study_the_browser_or_the_switch(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fairtwin.elicit import StudyBrief

    store = PreferenceStore(tmp_path / "lang.db")
    _, token = store.add_rater("ugo")
    auto = TestClient(create_app(ElicitationStudy(store, run_dir, seed=2)))
    assert "Welcome, ugo" in auto.get(f"/invite/{token}").text
    page = auto.get(f"/invite/{token}", headers={"Accept-Language": "it-IT,it;q=0.9"}).text
    assert "Benvenuto, ugo" in page and '<html lang="it">' in page
    fixed = TestClient(create_app(ElicitationStudy(store, run_dir, seed=2,
                                                   brief=StudyBrief(lang="it"))))
    assert "Benvenuto, ugo" in fixed.get(f"/invite/{token}").text  # the study's language
    # the switch: a cookie, back to the same page; only this site's pages as targets
    back = fixed.get(f"/lang/en?next=/invite/{token}", follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == f"/invite/{token}"
    assert "Welcome, ugo" in fixed.get(f"/invite/{token}").text
    evil = fixed.get("/lang/it?next=//evil.example/", follow_redirects=False)
    assert evil.headers["location"] == "/"
    assert fixed.get("/lang/xx").status_code == 404


def test_browser_italian_pages(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A browser asking for Italian gets the Italian pages, the question included; the switch
    in the header turns them English."""
    sync_api = playwright_or_skip()
    store = PreferenceStore(tmp_path / "it.db")
    study = ElicitationStudy(store, run_dir, seed=4)
    _, token = store.add_rater("Dr.ssa Bianchi")
    with serving(study) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="it-IT")
            page.goto(f"{base}/invite/{token}")
            sync_api.expect(page.locator("h1")).to_have_text("Benvenuto, Dr.ssa Bianchi")
            page.click("#start")
            sync_api.expect(page.locator("h1")).to_have_text("Quale di due decisioni è più equa?")
            page.click("#begin")
            sync_api.expect(page.locator("h1")).to_contain_text("quale decisione è più equa?")
            sync_api.expect(page.locator("#choose-a")).to_contain_text("A è più equa")
            sync_api.expect(page.locator("#choose-unsure")).to_contain_text("Non so dire")
            sync_api.expect(page.locator("#decision-b h2")).to_have_text("Decisione B")
            sync_api.expect(page.locator("#synthetic")).to_contain_text("Dati sintetici")
            sync_api.expect(page.locator("#situation")).to_contain_text("riserva nazionale")
            page.click("#choose-b")
            sync_api.expect(page.locator("#progress")).to_have_text("risposte date: 1")
            page.click("#lang-en")
            sync_api.expect(page.locator("#choose-a")).to_contain_text("A is fairer")
            sync_api.expect(page.locator("#progress")).to_have_text("1 answered")
        finally:
            browser.close()
    assert [a.choice for a in store.answers()] == ["b"]


def test_a_members_view_is_drawn_on_a_scale_that_fits_it() -> None:
    """The bars' full width is the largest value shown (not a fixed 1.25): small loads fill the
    column; the reference line is drawn only within the scale; A's and B's cells carry the same
    lines (aligned rows); a move names both members."""
    from fairtwin.elicit.i18n import catalogue
    from fairtwin.elicit.render import panels
    from fairtwin.twin.presentation import Fact, MembersView, Move, Quantity

    def view(load_b: list[float]) -> MembersView:
        return MembersView(
            "region", ["north", "south"],
            [Quantity("patients", "patients", [10, 4], [8, 6], [10, 4]),
             Quantity("load", "patients per bed", [0.05, 0.02], [0.04, 0.03], load_b,
                      reference=1.0, chart=True, digits=2)],
            totals_a=[Fact("patients transferred", 2, "patients")], moves_a=[Move(0, 1, 2)],
            move_unit="patients")

    t = catalogue("en")
    a, b = panels(view([0.05, 0.02]), t)
    widths = [float(w) for w in re.findall(r'width="([\d.]+)"', a.rows[0].bar + b.rows[0].bar)]
    assert max(widths) == 100.0 and "ref" not in a.rows[0].bar  # 1.0 lies beyond 0.05
    assert a.rows[0].cells[0].text == "8" and a.rows[0].cells[0].other == "10"
    assert b.rows[0].cells[0].before == a.rows[0].cells[0].before == "10"  # same lines in both
    assert a.moves == ["2 patients: north → south"] and b.moves == []
    assert a.totals == ["2 patients transferred"]
    big = panels(view([1.6, float("inf")]), t)[1]
    assert 'class="ref"' in big.rows[0].bar and 'class="over"' in big.rows[0].bar
    assert big.rows[1].bar_text == "0.02 → ∞"
    with pytest.raises(ValidationError, match="3 values for 2 members"):
        MembersView("region", ["n", "s"], [Quantity("x", "", None, [1, 2, 3], [1, 2])])
    with pytest.raises(ValidationError, match="a move between members"):
        MembersView("region", ["n", "s"], [], moves_a=[Move(0, 5, 1)])


def test_store_reissue_restore_and_organiser_sessions(store) -> None:  # type: ignore[no-untyped-def]
    rater, old = store.add_rater("lea")
    session = store.open_session(rater.id)
    assert rater.id in store.last_seen()  # the session's start
    again, new = store.reissue_token("lea")
    assert again.id == rater.id and new != old
    assert store.rater_by_token(old) is None and store.rater_by_session(session) is None
    assert store.rater_by_token(new).name == "lea"
    store.revoke_rater("lea")
    assert store.rater_by_token(new) is None and store.token_state(rater.id) == "revoked"
    assert store.restore_rater("lea").id == rater.id and store.rater_by_token(new).name == "lea"
    with pytest.raises(ValidationError, match="is not revoked"):
        store.restore_rater("lea")
    with pytest.raises(UnknownNameError):
        store.reissue_token("nobody")
    admin = store.set_admin_token()
    sid = store.open_admin_session()
    assert store.is_admin_session(sid) and not store.is_admin_session("x" * 43)
    assert not store.is_admin_session(None) and not store.is_admin_session(admin)
    store.set_admin_token()  # a new admin token ends the organiser's sessions
    assert not store.is_admin_session(sid)


def admin_login(client: TestClient, token: str) -> str:
    """Sign in on /admin; returns the page's CSRF token."""
    resp = client.post("/admin", data={"token": token}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/admin"
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/admin" in cookie
    page = client.get("/admin").text
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]


def test_admin_page_raters_reissue_restore_and_exports(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io

    from fairtwin.elicit import StudyBrief

    store = PreferenceStore(tmp_path / "admin.db")
    study = ElicitationStudy(store, run_dir, seed=6, brief=StudyBrief(quota=4))
    admin = store.set_admin_token()
    mia, mia_token = store.add_rater("mia")
    store.add_rater("<b>ned</b>")
    rater = TestClient(create_app(study))
    login(rater, mia_token)
    for choice in ("a", "tie", "unsure"):
        rater.post("/rate/answer", data={**form_of(rater.get("/rate").text), "choice": choice})
    org = TestClient(create_app(study))
    assert 'id="admin-login"' in org.get("/admin").text  # no session: the sign-in form
    assert org.get("/admin/export.csv").status_code == 401
    wrong = org.post("/admin", data={"token": "nope"})
    assert wrong.status_code == 403 and 'id="wrong"' in wrong.text
    forged = org.post("/admin", data={"token": admin}, headers={"Sec-Fetch-Site": "cross-site"},
                      follow_redirects=False)
    assert forged.status_code == 403 and "set-cookie" not in forged.headers
    csrf = admin_login(org, admin)
    page = org.get("/admin").text
    row = re.search(rf'<tr id="rater-{mia.id}">.*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]
    cells = re.findall(r'<td class="num">(\d+)</td>', row)
    assert cells == ["3", "1", "1", "1"]  # answers, A or B, equally fair, can't tell
    assert 'max="4" value="3"' in row and "3 / 4" in row
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", row) and ">active<" in row
    assert "&lt;b&gt;ned&lt;/b&gt;" in page and "<b>ned</b>" not in page
    assert "2 rater(s), 1 with answers; 3 answers: 1 A or B, 1 equally fair, 1 can&#39;t tell" in page
    # exports from the page's links (the session) and from a script (the bearer token)
    rows = list(csv.DictReader(io.StringIO(org.get("/admin/export.csv").text)))
    assert [r["choice"] for r in rows] == ["a", "tie", "unsure"] and rows[0]["rater"] == "mia"
    assert rows[0]["created_utc"].endswith("+00:00") and int(rows[0]["context_row"]) >= 0
    npz = org.get("/admin/export")
    assert npz.status_code == 200 and npz.content[:2] == b"PK"
    api = TestClient(create_app(study))
    assert api.get("/admin/export.csv", headers={"Authorization": f"Bearer {admin}"}).status_code == 200
    # an action needs the page's CSRF token and a same-origin form
    assert org.post(f"/admin/raters/{mia.id}/reissue", data={"csrf": "0" * 64}).status_code == 403
    assert org.post(f"/admin/raters/{mia.id}/reissue", data={"csrf": csrf},
                    headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    assert org.post("/admin/raters/999/reissue", data={"csrf": csrf}).status_code == 404
    assert store.rater_by_token(mia_token) is not None
    # re-issue a lost invite: a new link; the old link and its session stop at once
    done = org.post(f"/admin/raters/{mia.id}/reissue", data={"csrf": csrf})
    link = re.search(r'id="new-link">.*?<code>(http://testserver/invite/[^<]+)</code>', done.text,
                     re.S).group(1)  # type: ignore[union-attr]
    assert rater.get("/rate").status_code == 403
    assert rater.get(f"/invite/{mia_token}").status_code == 403
    login(rater, link.rsplit("/", 1)[1])
    assert "3 of 4 answered" in rater.get("/rate").text  # the same rater, answers kept
    # revoke and restore
    assert 'href="/lang/it?next=/admin"' in done.text  # the switch returns to the page
    revoked = org.post(f"/admin/raters/{mia.id}/revoke", data={"csrf": csrf})
    assert f'id="restore-{mia.id}"' in revoked.text and rater.get("/rate").status_code == 403
    restored = org.post(f"/admin/raters/{mia.id}/restore", data={"csrf": csrf})
    assert f'id="revoke-{mia.id}"' in restored.text and rater.get("/rate").status_code == 200
    again = org.post(f"/admin/raters/{mia.id}/restore", data={"csrf": csrf})
    assert again.status_code == 409 and "is not revoked" in again.text
    # JSON for scripts: state and last seen
    listed = api.get("/admin/raters", headers={"Authorization": f"Bearer {admin}"}).json()
    assert listed["raters"][0]["state"] == "active" and listed["raters"][0]["last_seen"] > 0
    assert listed["raters"][1]["last_seen"] is None and listed["quota"] == 4


@pytest.fixture(scope="module")
def panel_run(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """A run with enough pairs for a panel: 6 training weeks of 6 sampled decisions."""
    return sampled_run(tmp_path_factory.mktemp("panel"), n_train=6, n_samples=6)


def test_anchor_pairs_are_asked_of_everyone_spread_over_the_quota(panel_run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fairtwin.elicit import StudyBrief

    store = PreferenceStore(tmp_path / "anchors.db")
    study = ElicitationStudy(store, panel_run, seed=3, brief=StudyBrief(quota=10, anchors=0.3))
    assert len(study.anchor_pairs) == 3 and study.n_pairs > 30
    asked = {}
    for name in ("p", "q"):
        rater, _ = store.add_rater(name)
        keys = []
        while (query := study.next_query(rater.id)) is not None:
            keys.append((query.context_row, min(query.left, query.right), max(query.left, query.right)))
            study.answer(rater.id, query.id, "a")
        asked[name] = keys
    anchors = set(study.anchor_pairs)
    for keys in asked.values():
        assert len(keys) == 10 and anchors <= set(keys)
        positions = [k for k, key in enumerate(keys) if key in anchors]
        assert positions[0] == 0 and positions == sorted(positions) and positions[1] >= 3  # spread
    # a restart asks the same anchors (kept in the database)
    again = ElicitationStudy(store, panel_run, seed=99, brief=StudyBrief(quota=10, anchors=0.3))
    assert again.anchor_pairs == study.anchor_pairs
    with pytest.raises(ValidationError, match="anchors is a share"):
        StudyBrief(anchors=1.5)


def _simulated_panel_answers(study, client, tokens) -> None:  # type: ignore[no-untyped-def]
    """Three simulated raters through the JSON API: two judge by the Rosenbrock notion of load
    balance (one with 10 % of answers flipped), the third prefers the decision that moves the
    fewest patients (then the fewer beds deployed): another notion of fairness."""
    from fairtwin.oracles import get_oracle

    oracle = get_oracle("rosenbrock", study.scenario.twin)
    rng = np.random.default_rng(0)
    ds = study.dataset
    for name, token in tokens.items():
        auth = {"Authorization": f"Bearer {token}"}
        while not (nxt := client.get("/api/next", headers=auth).json())["done"]:
            if name == "tomas":
                def moved(side: str) -> tuple[float, float]:
                    facts = {f["name"]: f["value"] for f in nxt[side]["totals"]}
                    return facts["patients transferred"], facts["extra beds deployed"]
                choice = "a" if moved("a") <= moved("b") else "b"
            else:
                q = study.store.query(nxt["query_id"])
                context = study.scenario.contexts[int(ds.context_ids[q.context_row])]
                cost = oracle.cost(np.stack([ds.decisions[q.left], ds.decisions[q.right]]), context)
                choice = "a" if cost[0] <= cost[1] else "b"
                if name == "rico" and rng.random() < 0.1:
                    choice = "b" if choice == "a" else "a"
            resp = client.post("/api/answer", headers=auth,
                               json={"query_id": nxt["query_id"], "choice": choice})
            assert resp.json()["outcome"] == "recorded"


def test_a_simulated_panel_report_separates_the_rater_of_another_notion(panel_run, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """Three raters through the HTTP API, 30 answers each of which 40 % on shared anchor
    pairs: the panel report (admin page, JSON, CLI text) groups the two Rosenbrock raters and
    leaves the third apart, with the lower reliability; the export trains a model."""
    from fairtwin.elicit import StudyBrief
    from fairtwin.elicit.panel import panel_report

    store = PreferenceStore(tmp_path / "panel.db")
    study = ElicitationStudy(store, panel_run, seed=1, brief=StudyBrief(quota=30, anchors=0.4))
    admin = store.set_admin_token()
    tokens = {name: store.add_rater(name)[1] for name in ("rosa", "rico", "tomas")}
    client = TestClient(create_app(study))
    early = panel_report(store, study.anchor_pairs)
    assert not early.enough and early.warnings  # no answers yet: nothing to weigh raters by
    _simulated_panel_answers(study, client, tokens)
    panel = client.get("/admin/panel", headers={"Authorization": f"Bearer {admin}"}).json()
    assert panel["names"] == ["rosa", "rico", "tomas"] and panel["anchor_pairs"] == 12
    assert panel["anchor_answers"] == [12, 12, 12] and panel["enough"] and not panel["warnings"]
    agreement = np.array(panel["agreement"], dtype=float)
    assert agreement[0, 1] >= 0.8 and max(agreement[0, 2], agreement[1, 2]) <= 0.5
    assert panel["clusters"] == [["rosa", "rico"], ["tomas"]]
    rel = panel["reliability"]
    assert rel[2] < min(rel[0], rel[1])
    # the organiser's page shows the same
    csrf_page = TestClient(create_app(study))
    admin_login(csrf_page, admin)
    page = csrf_page.get("/admin").text
    assert 'id="agreement"' in page and 'id="too-few"' not in page
    groups = re.search(r'<ol id="groups">(.*?)</ol>', page, re.S).group(1)  # type: ignore[union-attr]
    assert re.findall(r"<li>(.*?)</li>", groups) == ["rosa, rico", "tomas"]
    # the export learns
    ds = study.export()
    assert ds.n_comparisons == 90 and ds.info["raters_answering"] == 3
    model = PreferenceCostLearner(n_components=3, hidden=(4,), max_epochs=5, random_state=0)
    assert model.fit(ds).score(ds) >= 0.0
    report = "\n".join(panel_report(store, study.anchor_pairs).lines())
    assert "1: rosa, rico" in report and "2: tomas" in report and "warning" not in report
    capsys.readouterr()
    assert main(["raters", "report", "--db", str(tmp_path / "panel.db")]) == 0
    out = capsys.readouterr().out
    assert out.strip() == report.strip() and "12 anchor pair(s)" in out
    print(out)  # the measured report (pytest -s shows it)


def test_browser_admin_page(run_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The organiser signs in with the admin token, sees the raters, re-issues a lost link
    (the new link works in another browser, the old one does not), revokes and restores."""
    sync_api = playwright_or_skip()
    from fairtwin.elicit import StudyBrief

    store = PreferenceStore(tmp_path / "admin-live.db")
    study = ElicitationStudy(store, run_dir, seed=8, brief=StudyBrief(quota=5))
    admin = store.set_admin_token()
    olga, old_token = store.add_rater("olga")
    with serving(study) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{base}/admin")
            page.fill("#token", "wrong")
            page.click("#sign-in")
            sync_api.expect(page.locator("#wrong")).to_be_visible()
            page.fill("#token", admin)
            page.click("#sign-in")
            row = page.locator(f"#rater-{olga.id}")
            sync_api.expect(row.locator("th")).to_have_text("olga")
            sync_api.expect(row.locator(".state")).to_have_text("active")
            sync_api.expect(page.locator("#too-few")).to_be_visible()  # nobody answered yet
            page.click(f"#reissue-{olga.id}")
            link = page.locator("#new-link code").inner_text()
            assert link.startswith(f"{base}/invite/") and old_token not in link
            page.click(f"#revoke-{olga.id}")
            sync_api.expect(row.locator(".state")).to_have_text("revoked")
            page.click(f"#restore-{olga.id}")
            sync_api.expect(row.locator(".state")).to_have_text("active")
            rater = browser.new_page()
            rater.goto(f"{base}/invite/{old_token}")
            sync_api.expect(rater.locator("h1")).to_have_text("Invalid invite link")
            rater.goto(link)
            rater.click("#start")
            sync_api.expect(rater.locator("#begin")).to_be_visible()
            page.reload()
            sync_api.expect(row.locator(".seen")).to_contain_text("UTC")
            assert not [e for e in errors if "Content Security Policy" in e], errors
        finally:
            browser.close()


def test_cli_reissue_restore_and_serve_options(run_dir, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "cli.db")
    assert main(["raters", "add", "vera", "--db", db]) == 0
    old = capsys.readouterr().out.strip().splitlines()[-1].rsplit("/", 1)[1]
    assert main(["raters", "reissue", "vera", "--db", db, "--url", "https://r.example/"]) == 0
    link = capsys.readouterr().out.strip().splitlines()[-1]
    assert link.startswith("https://r.example/invite/")
    store = PreferenceStore(db)
    assert store.rater_by_token(old) is None and store.rater_by_token(link.rsplit("/", 1)[1])
    assert main(["raters", "restore", "vera", "--db", db]) == 2
    assert capsys.readouterr().err.strip().endswith("rater 'vera' is not revoked")
    assert main(["raters", "revoke", "vera", "--db", db]) == 0
    assert main(["raters", "restore", "vera", "--db", db]) == 0
    assert "restored" in capsys.readouterr().out and store.token_state(1) == "active"
    assert main(["raters", "reissue", "nobody", "--db", db]) == 2
    assert main(["raters", "report", "--db", db]) == 0
    assert "no A-or-B answers yet" in capsys.readouterr().out
    for option, value, text in (("--lang", "xx", "no texts in language 'xx'"),
                                ("--anchors", "2", "anchors is a share")):
        assert main(["serve", "--run", str(run_dir), "--db", db, option, value]) == 2
        err = capsys.readouterr().err.strip()
        assert text in err and len(err.splitlines()) == 1


def test_evaluate_reports_the_peoples_own_held_out_agreement(panel_run, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A study's export → train → resolve → evaluate: the run says how well the learned notion
    predicts the people's own answers on weeks held out of the fit (overall and by rater) and
    that its wins are judged by the simulated notion, not by the people."""
    import json
    import shutil

    from fairtwin.elicit import StudyBrief

    store = PreferenceStore(tmp_path / "panel.db")
    study = ElicitationStudy(store, panel_run, seed=1, brief=StudyBrief(quota=30, anchors=0.4))
    tokens = {name: store.add_rater(name)[1] for name in ("rosa", "rico", "tomas")}
    _simulated_panel_answers(study, TestClient(create_app(study)), tokens)
    run = tmp_path / "run"
    shutil.copytree(panel_run, run)
    study.export().save(tmp_path / "people.npz")
    for argv in (["train", "--out", str(run), "--dataset", str(tmp_path / "people.npz")],
                 ["resolve", "--out", str(run)], ["evaluate", "--out", str(run)]):
        assert main(argv) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    people = json.loads((run / "metrics.json").read_text())["people"]
    assert people["answers"] == 90 and people["judged_by"] == "rosenbrock"
    by = {r["rater"]: r for r in people["by_rater"]}
    assert set(by) == {"rosa", "rico", "tomas"} and sum(r["answers"] for r in by.values()) == 90
    assert 0.0 <= people["held_out_agreement"] <= 1.0 and len(people["by_context"]) == 6
    assert "the people's own 90 answers" in out and "not by the people" in out


def test_a_check_round_gives_the_peoples_verdict_on_the_deployed_decisions(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A finished run → `raters check-round` (its held-out weeks whose deployed decision is not
    the nominal one) → two raters judging by the run's notion answer through the HTTP API →
    `raters verdict` counts, per week, the answers for the deployed decision: exactly the weeks
    the notion ranks it fairer, twice."""
    from fairtwin.elicit.check import check_samples, verdict
    from fairtwin.oracles import get_oracle
    from fairtwin.pipeline import run_pipeline
    from tests.test_pipeline import tiny_config

    run = tmp_path / "run"
    run_pipeline(tiny_config().override(labels={"oracle": "rosenbrock"}), run)
    check = tmp_path / "check"
    assert main(["raters", "check-round", "--run", str(run), "--out", str(check)]) == 0
    samples = check_samples(run)
    assert "check round of" in capsys.readouterr().out and samples.n_contexts >= 1
    assert np.all(np.bincount(samples.decision_context) == 2)
    store = PreferenceStore(tmp_path / "check.db")
    study = ElicitationStudy(store, check, seed=0)
    assert study.n_pairs == samples.n_contexts  # one pair a week: deployed against nominal
    oracle = get_oracle("rosenbrock", study.scenario.twin)
    client = TestClient(create_app(study))
    for name in ("ana", "ben"):
        auth = {"Authorization": f"Bearer {store.add_rater(name)[1]}"}
        while not (nxt := client.get("/api/next", headers=auth).json())["done"]:
            q = store.query(nxt["query_id"])
            context = study.scenario.contexts[int(samples.context_ids[q.context_row])]
            cost = oracle.cost(np.stack([samples.decisions[q.left], samples.decisions[q.right]]),
                               context)
            client.post("/api/answer", headers=auth, json={
                "query_id": nxt["query_id"], "choice": "a" if cost[0] <= cost[1] else "b"})
    fairer = [bool(np.diff(oracle.cost(samples.decisions[2 * r:2 * r + 2],
                                       study.scenario.contexts[int(samples.context_ids[r])]))[0] < 0)
              for r in range(samples.n_contexts)]
    result = verdict(store, samples)
    assert [w["deployed"] for w in result.weeks] == [2 * f for f in fairer]
    assert result.deployed + result.nominal == 2 * samples.n_contexts
    assert result.low <= result.share <= result.high
    assert main(["raters", "verdict", "--db", str(tmp_path / "check.db"), "--run", str(check)]) == 0
    assert "the people's verdict" in capsys.readouterr().out
    # not a check round: said in one line
    assert main(["raters", "verdict", "--db", str(tmp_path / "check.db"), "--run", str(run)]) == 2
    assert "is not a check round" in capsys.readouterr().err
