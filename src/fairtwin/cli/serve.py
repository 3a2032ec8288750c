"""Human raters: ``fairtwin serve`` (the rating web app) and the ``raters`` group."""

from __future__ import annotations

from pathlib import Path

import click

from fairtwin.exceptions import DataUnavailableError, ValidationError

_DB_OPTION = click.option(
    "--db", default="fairtwin-study.db", show_default=True,
    help="Study database: a SQLite file path, or a database URL (postgresql+psycopg://...).")


@click.command("serve")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/latest"), show_default=True,
              help="Pipeline run folder whose samples.npz and config.toml are shown to raters.")
@_DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pair selection.")
@click.option("--new-admin-token", is_flag=True, help="Issue a new admin token (the old one stops working).")
@click.option("--select", "strategy", default="active", show_default=True,
              help="Next pair: active (ensemble disagreement, refitted in the background) or random.")
@click.option("--refit-every", type=int, default=32, show_default=True,
              help="Answers between two refits of the active selection's ensemble.")
@click.option("--exploration", type=float, default=0.2, show_default=True,
              help="Share of random pairs under active selection.")
@click.option("--secure-cookies", is_flag=True,
              help="Mark the session cookie Secure (serving behind an HTTPS reverse proxy).")
@click.option("--quota", type=int, default=40, show_default=True,
              help="Answers asked of each rater (progress bar, then a done page); 0: no quota.")
@click.option("--goal", default="", help="The study's goal, one paragraph, shown on the intro page.")
@click.option("--lang", default="auto", show_default=True,
              help="The pages' language (en, it), or auto: each browser's Accept-Language.")
@click.option("--anchors", type=float, default=0.0, show_default=True,
              help="Share of each rater's quota asked on anchor pairs, the same for everyone "
                   "(agreement and reliability; e.g. 0.2).")
def serve_cmd(run_dir: Path, db: str, host: str, port: int, seed: int, new_admin_token: bool,
              strategy: str, refit_every: int, exploration: float, secure_cookies: bool,
              quota: int, goal: str, lang: str, anchors: float) -> None:
    """Serve the rating web app: people compare pairs of decisions of the run's weeks.

    Add raters with `fairtwin raters add NAME` (prints their invite link) and export the
    answers with `fairtwin raters export` for `fairtwin train --dataset`.
    """
    from fairtwin.elicit import (
        ElicitationStudy,
        PreferenceStore,
        SelectorConfig,
        StudyBrief,
        create_app,
    )
    from fairtwin.extras import require

    uvicorn = require("uvicorn", "serve")

    brief = StudyBrief(quota=quota or None, goal=goal.strip(), lang=lang, anchors=anchors)
    selector = SelectorConfig(strategy=strategy, refit_every=refit_every, exploration=exploration)
    store = PreferenceStore(db)
    study = ElicitationStudy(store, run_dir, seed=seed, selector=selector, brief=brief)
    if new_admin_token or store.get_meta("admin_token_hash") is None:
        click.echo(f"admin token (shown once; for /admin/*): {store.set_admin_token()}")
    click.echo(f"fairtwin serve: {study.n_pairs} pairs of {study.n_weeks} weeks from "
               f"{study.samples_path}; {strategy} selection; "
               f"{f'{quota} answers per rater' if quota else 'no quota'}; "
               f"{len(study.anchor_pairs)} anchor pairs; pages in {lang}; database {store.url}")
    click.echo(f"rating app on http://{host}:{port}/ (invite links: fairtwin raters add NAME; "
               f"the organiser's page: http://{host}:{port}/admin)")
    warning = exposure_warning(host, secure_cookies)
    if warning:
        click.echo(warning, err=True)
    uvicorn.run(create_app(study, secure_cookies=secure_cookies), host=host, port=port,
                log_level="warning")


def exposure_warning(host: str, secure_cookies: bool) -> str:
    """What to say when the app listens beyond this machine (empty on loopback)."""
    import ipaddress

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return ""
    text = (f"warning: listening on {host}: the app speaks plain HTTP, so invite tokens and "
            "answers cross the network unencrypted; serve it behind an HTTPS reverse proxy "
            "(README, 'Asking people')")
    if not secure_cookies:
        text += " and add --secure-cookies"
    return text


@click.group("raters")
def raters_group() -> None:
    """Manage the raters of a study: add (invite links), reissue, revoke, restore, list,
    report (agreement), export the answers."""


@raters_group.command("add")
@click.argument("name")
@_DB_OPTION
@click.option("--url", "base_url", default="http://127.0.0.1:8000", show_default=True,
              help="Base address of the rating app, for the invite link.")
@click.option("--expires", default=None,
              help="When the invite stops working: a duration (12h, 30d) or a date (2027-01-31).")
def raters_add_cmd(name: str, db: str, base_url: str, expires: str | None) -> None:
    """Register a rater and print their invite link (it holds their secret token)."""
    from fairtwin.elicit import PreferenceStore
    from fairtwin.elicit.store import invite_link

    store = PreferenceStore(db)
    until = _expiry(expires) if expires else None
    rater, token = store.add_rater(name, expires=until)
    if until is not None:
        import datetime as _dt

        click.echo(f"the invite expires {_dt.datetime.fromtimestamp(until).isoformat(timespec='minutes')}")
    click.echo(f"rater {rater.name!r} added; invite link (share it only with them):")
    click.echo(invite_link(base_url, token))


def _expiry(text: str) -> float:
    import datetime as _dt
    import time as _time

    units = {"m": 60, "h": 3600, "d": 86400}
    t = text.strip().lower()
    if t[-1:] in units and t[:-1].replace(".", "", 1).isdigit():
        return _time.time() + float(t[:-1]) * units[t[-1]]
    try:
        day = _dt.date.fromisoformat(t)
    except ValueError:
        raise ValidationError(f"--expires: {text!r} is neither a duration like 12h or 30d nor a "
                              "date like 2027-01-31") from None
    return _dt.datetime.combine(day, _dt.time()).timestamp()


@raters_group.command("revoke")
@click.argument("name")
@_DB_OPTION
def raters_revoke_cmd(name: str, db: str) -> None:
    """Stop a rater's invite token at once (their answers stay in the study)."""
    from fairtwin.elicit import PreferenceStore

    rater = PreferenceStore(db).revoke_rater(name)
    click.echo(f"rater {rater.name!r} revoked; {rater.n_answers} answers kept")


@raters_group.command("reissue")
@click.argument("name")
@_DB_OPTION
@click.option("--url", "base_url", default="http://127.0.0.1:8000", show_default=True,
              help="Base address of the rating app, for the invite link.")
def raters_reissue_cmd(name: str, db: str, base_url: str) -> None:
    """A new invite link for a rater who lost theirs (the old link and its sessions stop)."""
    from fairtwin.elicit import PreferenceStore
    from fairtwin.elicit.store import invite_link

    rater, token = PreferenceStore(db).reissue_token(name)
    click.echo(f"rater {rater.name!r}: new invite link (the old one no longer works; "
               f"{rater.n_answers} answers kept):")
    click.echo(invite_link(base_url, token))


@raters_group.command("restore")
@click.argument("name")
@_DB_OPTION
def raters_restore_cmd(name: str, db: str) -> None:
    """Lift a rater's revocation: their invite link works again."""
    from fairtwin.elicit import PreferenceStore

    rater = PreferenceStore(db).restore_rater(name)
    click.echo(f"rater {rater.name!r} restored; their invite link works again")


@raters_group.command("report")
@_DB_OPTION
@click.option("--min-shared", type=int, default=10, show_default=True,
              help="Shared A-or-B answers two raters need before their agreement is used.")
@click.option("--threshold", type=float, default=0.7, show_default=True,
              help="Average agreement at which groups of raters merge.")
def raters_report_cmd(db: str, min_shared: int, threshold: float) -> None:
    """The panel report: agreement matrix, each rater's reliability, groups who disagree."""
    import json as _json

    from fairtwin.elicit import PreferenceStore
    from fairtwin.elicit.panel import panel_report

    store = PreferenceStore(db)
    recorded = store.get_meta("anchor_pairs")  # recorded by `serve --anchors`
    pairs = [(int(r), int(i), int(j)) for r, i, j in _json.loads(recorded)] if recorded else []
    for line in panel_report(store, pairs, min_shared=min_shared, threshold=threshold).lines():
        click.echo(line)


@raters_group.command("list")
@_DB_OPTION
def raters_list_cmd(db: str) -> None:
    """Raters and how many pairs each answered."""
    from fairtwin.elicit import PreferenceStore

    store = PreferenceStore(db)
    raters = store.raters()
    if not raters:
        click.echo("no raters yet: fairtwin raters add NAME")
        return
    click.echo(f"{'rater':<24} {'answers':>8} {'A or B':>7} {'equal':>6} {'unsure':>7}  invite")
    for r in raters:
        click.echo(f"{r.name:<24} {r.n_answers:>8} {r.n_decided:>7} {r.n_equal:>6} "
                   f"{r.n_unsure:>7}  {store.token_state(r.id)}")
    answering = sum(r.n_answers > 0 for r in raters)
    click.echo(f"{len(raters)} rater(s), {answering} with answers; {sum(r.n_answers for r in raters)} "
               "answers (A or B: learned from; equal: 'equally fair'; unsure: 'I can't tell', "
               "not learned from)")


@raters_group.command("export")
@_DB_OPTION
@click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/latest"), show_default=True, help="The run folder the study shows.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("preferences.npz"), show_default=True)
def raters_export_cmd(db: str, run_dir: Path, out_path: Path) -> None:
    """Write the answers as a preference dataset (for `fairtwin train --dataset`)."""
    from fairtwin.elicit import ElicitationStudy, PreferenceStore

    study = ElicitationStudy(PreferenceStore(db), run_dir)
    ds = study.export()
    ds.save(out_path)
    click.echo(f"{ds.n_comparisons} comparisons and {ds.info['ties']} 'equally fair' (ties) "
               f"from {ds.info['raters_answering']} rater(s) -> {out_path} (of "
               f"{ds.info['answers']} answers; not included: {ds.info['cant_tell']} 'I can't "
               f"tell'; A chosen {ds.info['left_chosen']} times, B {ds.info['right_chosen']})")


@raters_group.command("reliability")
@_DB_OPTION
@click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/latest"), show_default=True, help="The run folder the study shows.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save the reliability-weighted aggregate model (.npz) here.")
@click.option("--epochs", type=int, default=150, show_default=True, help="Epochs of each fit.")
@click.option("--seed", type=int, default=0, show_default=True)
def raters_reliability_cmd(db: str, run_dir: Path, model_path: Path | None, epochs: int,
                           seed: int) -> None:
    """Each rater's estimated reliability and weight, and the agreement between raters."""
    from fairtwin.elicit import ElicitationStudy, PreferenceStore
    from fairtwin.learn import ReliabilityWeightedLearner, rater_agreement

    store = PreferenceStore(db)
    ds = ElicitationStudy(store, run_dir).export()
    if ds.n_comparisons == 0:
        raise DataUnavailableError("no A-or-B answers yet ('equally fair' and 'I can't tell' "
                                   "aside); nothing to estimate")
    model = ReliabilityWeightedLearner({"max_epochs": epochs}, random_state=seed).fit(ds)
    fitted = {r.name: r for r in model.reliability_}
    click.echo(f"{'rater':<20} {'answers':>7} {'A or B':>6} {'equal':>5} {'unsure':>6} "
               f"{'agrees':>7} {'accuracy':>8} {'weight':>6}")
    for rec in store.raters():
        if rec.n_answers == 0:
            continue
        counts = f"{rec.name:<20} {rec.n_answers:>7} {rec.n_decided:>6} {rec.n_equal:>5} {rec.n_unsure:>6}"
        r = fitted.get(rec.name)
        if r is None or rec.n_decided == 0:
            click.echo(f"{counts} {'-':>7} {'-':>8} {'-':>6}")
        else:
            click.echo(f"{counts} {r.agreement:>7.2f} {r.accuracy:>8.2f} {r.weight:>6.2f}")
    click.echo("(reliability is estimated from the A-or-B answers only)")
    agreement = rater_agreement(ds)
    names = agreement.names
    pairs = [(i, j) for i in range(len(names)) for j in range(i + 1, len(names))
             if agreement.n_common[i, j] > 0]
    if pairs:
        click.echo("\nagreement on pairs both answered:")
        for i, j in pairs:
            click.echo(f"  {names[i]} / {names[j]}: {agreement.share[i, j]:.2f} "
                       f"on {agreement.n_common[i, j]} pairs")
    if model_path is not None:
        model.learner_.save(model_path)
        click.echo(f"\naggregate model -> {model_path}")


@raters_group.command("check-round")
@click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("runs/latest"), show_default=True,
              help="A finished run (samples, decisions.npz, config.toml).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="A new folder for the check round (serve it with `fairtwin serve --run OUT`).")
@click.option("--split", default="held-out", show_default=True,
              help="The weeks to check: held-out, train or all.")
def raters_check_round_cmd(run_dir: Path, out_dir: Path, split: str) -> None:
    """Ask people "the deployed decision or the nominal one?": a study of the run's weeks
    whose deployed decision differs from the nominal one (see `raters verdict`)."""
    from fairtwin.datasets import PreferenceDataset
    from fairtwin.elicit.check import write_check_round
    from fairtwin.runfolder import RunFolder

    out = write_check_round(run_dir, out_dir, split)
    n = PreferenceDataset.load(RunFolder(out).samples).n_contexts
    click.echo(f"check round of {n} {split} weeks (deployed against nominal) -> {out}; serve it "
               f"with: fairtwin serve --run {out} --db check.db --quota {n}")


@raters_group.command("verdict")
@_DB_OPTION
@click.option("--run", "run_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="The check round's folder (`raters check-round --out`).")
def raters_verdict_cmd(db: str, run_dir: Path) -> None:
    """The people's verdict on a check round: the share of their answers for the deployed
    decision over the nominal one, per week and overall."""
    from fairtwin.datasets import PreferenceDataset
    from fairtwin.elicit import PreferenceStore
    from fairtwin.elicit.check import verdict
    from fairtwin.runfolder import RunFolder

    samples = PreferenceDataset.load(RunFolder(run_dir).need("samples"))
    if "check_round" not in samples.info:
        raise click.UsageError(f"{run_dir} is not a check round (make one with `fairtwin raters "
                               "check-round`)")
    for line in verdict(PreferenceStore(db), samples).lines():
        click.echo(line)
