"""Check a twin before a run: every problem at once (``fairtwin check-twin``).

:func:`check_twin` takes a twin folder, a ``package.module:object`` naming a
:class:`~fairtwin.twin.base.Twin` or a :class:`~fairtwin.twin.scenarios.Scenario` (or a function
returning one), or such an object itself, and exercises it the way a run will:

1. it loads: a folder's files are read to the end (:func:`fairtwin.folder.folder_problems`:
   every setting, row, decision prefix and model file), a Python object is imported;
2. the decision variables have distinct names, and the contexts numeric features of one length;
3. every context's problem builds with the twin's decision columns and its nominal problem
   has a solution (HiGHS; as a folder's loading checks); on a few contexts (the first, the last
   and ones between) the nominal decision completes to a feasible point whose nominal cost is
   finite, and the named outcomes and the guarded quantity evaluate to finite values;
4. the twin's default notion of fairness exists (an outcome group it names is one of the
   twin's) and rates the nominal decisions;
5. which optional capabilities it has (:meth:`~fairtwin.twin.base.Twin.capabilities`: a guard,
   categories, ... of :data:`~fairtwin.twin.base.CAPABILITIES`; the guard and categories only
   when its contexts use them), and a Python object that is no complete twin says which
   required members (:data:`~fairtwin.twin.base.REQUIRED`) it lacks.

Problems are collected, not raised: the report lists each, one line naming the file (and line
and field) or the context, and is clean when there are none. A run stops at the first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fairtwin.exceptions import FairtwinError, ValidationError
from fairtwin.twin.base import CAPABILITIES, REQUIRED, Twin, missing_required
from fairtwin.twin.scenarios import Scenario

__all__ = ["TwinCheck", "check_twin"]


@dataclass
class TwinCheck:
    """What :func:`check_twin` found.

    Attributes
    ----------
    target : str
        What was checked (a folder, ``module:object``, or the object's name).
    name : str
        The twin's scenario name ("" if it did not load).
    problems : list of str
        Every problem found, one line each.
    checked : list of str
        What was checked and passed, one line each.
    """

    target: str
    name: str = ""
    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """The report as text: what passed, then each problem, then the verdict."""
        out = [f"check-twin {self.target}" + (f": twin {self.name!r}" if self.name else "")]
        out += [f"  ok   {c}" for c in self.checked]
        out += [f"  FAIL {p}" for p in self.problems]
        n = len(self.problems)
        out.append("clean" if not n else f"{n} problem{'s' if n > 1 else ''}")
        return out


def check_twin(target: str | os.PathLike[str] | Twin | Scenario, n_contexts: int = 3) -> TwinCheck:
    """Exercise a twin on ``n_contexts`` of its contexts and report every problem (module
    docstring). ``target``: a twin folder, ``package.module:object``, a Twin with a
    ``contexts`` attribute, or a Scenario."""
    if n_contexts < 1:
        raise ValidationError(f"n_contexts must be at least 1, got {n_contexts}")
    report = TwinCheck(_target_name(target))
    scenario = _load(target, report)
    if scenario is None:
        return report
    report.name = scenario.name
    twin = scenario.twin
    _names_and_features(scenario, report)
    solved = _solve_all(scenario, report, drop=_drops_infeasible(target))
    picked = [k for k in _picked(len(scenario.contexts), n_contexts) if k in solved]
    nominal: dict[int, np.ndarray] = {}
    for k in picked:
        if _exercise(twin, scenario.contexts[k], solved[k], report):
            nominal[k] = solved[k]
    if picked and len(nominal) == len(picked):
        labels = ", ".join(str(scenario.contexts[k].label) for k in picked)
        report.checked.append(f"{len(picked)} of {len(scenario.contexts)} contexts ({labels}): "
                              "nominal decision completed and feasible, cost, guard and "
                              "outcomes finite")
    _oracle(scenario, nominal, report)
    _capabilities(scenario, report)
    return report


def _capabilities(scenario: Scenario, report: TwinCheck) -> None:
    """The twin's optional capabilities, as one line of the report: those its class declares,
    less a guard its first context's problem has no row for and categories it does not use."""
    twin = scenario.twin
    try:
        has = list(twin.capabilities())
        if "guard" in has and twin.guard_row(twin.build(scenario.contexts[0])) is None:
            has.remove("guard")
        if "categories" in has and len(tuple(twin.categories)) < 2:
            has.remove("categories")
    except Exception as exc:  # a user's code: said once, the rest of the report stands
        report.problems.append(f"capabilities: {type(exc).__name__}: {exc}")
        return
    named = [f"guard ({twin.guard_name})" if c == "guard" else
             f"categories ({', '.join(twin.categories)})" if c == "categories" else c for c in has]
    rest = [c for c in CAPABILITIES if c not in has]
    report.checked.append("capabilities: " + ("; ".join(named) or "none beyond the required")
                          + (f" (fairtwin's generic ones for: {', '.join(rest)})" if rest else ""))


def _target_name(target: Any) -> str:
    if isinstance(target, (Twin, Scenario)):
        return f"{type(target).__name__} {target.name!r}"
    return str(target)


def _load(target: Any, report: TwinCheck) -> Scenario | None:
    """The scenario of a target, or ``None`` with the problems noted."""
    from fairtwin.folder import folder_problems

    if isinstance(target, (str, os.PathLike)) and Path(target).is_dir():
        problems, scenario = folder_problems(target)
        report.problems += problems
        if scenario is not None and not problems:
            report.checked.append(f"files: twin.toml, contexts.csv ({len(scenario.contexts)} "
                                  f"contexts), their models, outcomes, settings")
        return scenario
    obj: Any = target
    if isinstance(target, (str, os.PathLike)):
        spec = str(target)
        if ":" not in spec or os.sep in spec.partition(":")[0]:
            report.problems.append(f"{spec}: neither a twin folder nor package.module:object")
            return None
        from fairtwin.plugins import import_object

        try:
            obj = import_object(spec, "twin")
            if callable(obj) and not isinstance(obj, (Twin, Scenario, type)):
                obj = obj()
        except FairtwinError as exc:
            report.problems.append(str(exc))
            return None
        except Exception as exc:  # a user's code: say whose error it is
            report.problems.append(f"{spec} raised {type(exc).__name__}: {exc}")
            return None
    if isinstance(obj, Scenario):
        report.checked.append(f"loads: a scenario of {len(obj.contexts)} contexts")
        return obj
    if isinstance(obj, Twin):
        contexts = tuple(getattr(obj, "contexts", ()) or ())
        if not contexts:
            report.problems.append(f"twin {obj.name!r} has no contexts attribute: give a Scenario "
                                   "(fairtwin.twin.Scenario(name, description, twin, contexts)) "
                                   "or a twin with .contexts")
            return None
        report.checked.append(f"loads: twin of {len(contexts)} contexts")
        return Scenario(name=obj.name, description="", twin=obj, contexts=contexts)
    if isinstance(obj, type) and issubclass(obj, Twin):
        lacking = missing_required(obj)
        report.problems.append(
            f"{report.target} is the twin class {obj.__name__}"
            + (f", which lacks the required {', '.join(lacking)}" if lacking else "")
            + ": name an instance of it, or a function returning one")
        return None
    lacking = missing_required(obj)
    report.problems.append(f"{report.target} is a {type(obj).__name__}, not a fairtwin Twin or "
                           "Scenario (nor a function returning one); a twin subclasses "
                           f"fairtwin.twin.Twin and implements {', '.join(REQUIRED)}"
                           + (f" (it lacks {', '.join(lacking)})" if lacking != list(REQUIRED)
                              else ""))
    return None


def _names_and_features(scenario: Scenario, report: TwinCheck) -> None:
    """Distinct decision names; numeric features of one length; outcome terms of a user's
    Python twin naming decision variables and contexts."""
    twin = scenario.twin
    names = list(twin.decision_names)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        report.problems.append(f"decision variables named twice: {twice[:10]}")
    sizes: dict[int, str] = {}
    for c in scenario.contexts:
        try:
            sizes.setdefault(np.asarray(c.features()).size, c.label)
        except Exception as exc:  # a user's context class
            report.problems.append(f"context {c.label!r}: features() raised {type(exc).__name__}: {exc}")
    if len(sizes) > 1:
        report.problems.append("the contexts' features differ in length: " + ", ".join(
            f"{n} (first at {label!r})" for n, label in sizes.items()))
    definition = getattr(twin, "outcome_definition", None)
    if definition is not None:
        ids = [str(c.data.get("id", c.label)) for c in scenario.contexts if hasattr(c, "data")]
        report.problems += definition.problems(names, ids or None)
    if not twice and len(sizes) <= 1:
        report.checked.append(f"{len(names)} decision variables, {len(scenario.contexts)} contexts "
                              f"with {next(iter(sizes), 0)} features")


def _picked(n: int, k: int) -> list[int]:
    """``k`` contexts of ``n`` spread evenly, the first and the last among them."""
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, min(k, n))})


def _drops_infeasible(target: Any) -> bool:
    """Whether a folder target's twin.toml says ``drop_infeasible = true``."""
    from fairtwin.tomlfile import read_toml

    if not isinstance(target, (str, os.PathLike)) or not (Path(target) / "twin.toml").is_file():
        return False
    return read_toml(Path(target) / "twin.toml").get("drop_infeasible") is True


def _solve_all(scenario: Scenario, report: TwinCheck, drop: bool = False,
               limit: int = 10) -> dict[int, np.ndarray]:
    """Every context's problem built and its nominal problem solved: the nominal decisions by
    position (problems noted, at most ``limit`` listed; with ``drop``, contexts without a
    solution are noted as dropped, as a folder with ``drop_infeasible = true`` runs)."""
    from fairtwin.exceptions import InfeasibleError, UnboundedError
    from fairtwin.solvers import SolverOptions, solve

    twin = scenario.twin
    found: list[str] = []
    dropped: list[str] = []
    out: dict[int, np.ndarray] = {}
    for k, ctx in enumerate(scenario.contexts):
        where = f"context {ctx.label!r}"
        try:
            problem = twin.build(ctx)
            if problem.decision_index.size != twin.n_decision:
                found.append(f"{where}: the problem has {problem.decision_index.size} decision "
                             f"columns, the twin names {twin.n_decision}")
                continue
            result = solve(problem, "highs", SolverOptions(time_limit_s=30.0))
        except (InfeasibleError, UnboundedError) as exc:
            (dropped if drop else found).append(f"{where}: its nominal problem has no "
                                                f"solution: {exc}")
            continue
        except FairtwinError as exc:
            found.append(f"{where}: {exc}")
            continue
        except Exception as exc:  # a user's twin: say where, keep checking the others
            found.append(f"{where}: {type(exc).__name__}: {exc}")
            continue
        assert result.x is not None
        out[k] = np.asarray(result.x, dtype=np.float64)[problem.decision_index]
    report.problems += found[:limit]
    if len(found) > limit:
        report.problems.append(f"... and {len(found) - limit} more contexts with a problem")
    if not found:
        report.checked.append(f"every context's nominal problem builds and has a solution "
                              f"({len(out)})" if not dropped else
                              f"{len(out)} contexts' nominal problems build and have a solution; "
                              f"{len(dropped)} dropped (drop_infeasible = true): "
                              + "; ".join(dropped[:3]))
    return out


def _exercise(twin: Twin, ctx: Any, u: np.ndarray, report: TwinCheck) -> bool:
    """One context's nominal decision ``u``: completed, feasible, cost, guard and outcomes
    finite; whether all is well."""
    where = f"context {ctx.label!r}"
    try:
        feasible = twin.check(u, ctx)
        if not feasible.feasible:
            report.problems.append(f"{where}: the completed nominal decision is infeasible: "
                                   f"{feasible.describe()}")
            return False
        cost = twin.nominal_cost(u, ctx)
        guarded = twin.guarded(u, ctx)
        out = twin.outcomes(ctx)
        values = out(u)
    except FairtwinError as exc:
        report.problems.append(f"{where}: {exc}")
        return False
    except Exception as exc:  # a user's twin: say where, keep checking the others
        report.problems.append(f"{where}: {type(exc).__name__}: {exc}")
        return False
    bad = [name for name, v in (("nominal cost", cost), ("guarded quantity", guarded))
           if not np.isfinite(v)]
    if out.n_outcomes == 0:
        bad.append("outcomes (there are none)")
    elif not np.all(np.isfinite(values)):
        bad.append("outcomes")
    if bad:
        report.problems.append(f"{where}: not finite at the nominal decision: {', '.join(bad)}")
        return False
    return True


def _oracle(scenario: Scenario, nominal: dict[int, np.ndarray], report: TwinCheck) -> None:
    """The twin's default notion of fairness: known, its group one of the twin's, and it
    rates the nominal decisions of the contexts exercised."""
    from fairtwin.pipeline import ExperimentConfig, check_names, oracle_name, oracle_of

    config = ExperimentConfig()
    try:
        check_names(config, scenario)
        oracle = oracle_of(config, scenario)
        for k, u in nominal.items():
            r = np.asarray(oracle.cost(u[None, :], scenario.contexts[k]), dtype=np.float64)
            if r.shape != (1,) or not np.all(np.isfinite(r)):
                report.problems.append(f"oracle {oracle_name(config, scenario)!r}: no finite cost "
                                       f"of context {scenario.contexts[k].label!r}'s nominal "
                                       "decision")
                return
    except FairtwinError as exc:
        report.problems.append(f"the twin's default oracle: {exc}")
        return
    except Exception as exc:  # a user's notion
        report.problems.append(f"the twin's default oracle raised {type(exc).__name__}: {exc}")
        return
    report.checked.append(f"default oracle {oracle_name(config, scenario)!r} rates the nominal "
                          "decisions")
