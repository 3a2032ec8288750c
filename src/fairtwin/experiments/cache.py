"""What every configuration of a seed shares, computed once: samples, latent costs, oracle bound.

For a scenario, twin, sampler and seed, the sampled decisions of every week are the same for all
learning configurations; for a latent fairness cost (oracle and κ) so are the true costs ``R`` of
those decisions and the oracle bound of every week. :class:`SeedData` holds them; a
:class:`SeedCache` keeps them on disk under a key that hashes every setting they depend on, so
a grid pays for training and re-solves only, and a folder can never serve data of other
settings. Files are written atomically: an interrupted run leaves no half-written cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from numpy.typing import NDArray
from tqdm.auto import tqdm

from fairtwin.datasets import BROKEN_FILE, PreferenceDataset, atomic_write
from fairtwin.exceptions import DataFormatError
from fairtwin.oracles import oracle_bound
from fairtwin.pipeline import (
    ExperimentConfig,
    Learner,
    RoundRecord,
    label_stage,
    load_scenario,
    oracle_of,
    sample_stage,
    train_stage,
)
from fairtwin.twin import Scenario
from fairtwin.twin.scenarios import twin_settings

__all__ = ["SeedData", "SeedCache", "sample_key", "oracle_key"]

log = logging.getLogger(__name__)


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def sample_key(config: ExperimentConfig) -> str:
    """Hash of every setting the sampled decisions depend on."""
    scenario = asdict(config.scenario)
    # settings added after caches existed are left out at their defaults: old caches stay valid
    for name, default in (("train_from", ""), ("n_held_out", 0), ("twin_path", "")):
        if scenario.get(name) == default:
            del scenario[name]
    if config.scenario.twin_path:  # a twin folder: its files' names, sizes and times
        root = Path(config.scenario.twin_path)
        scenario["twin_files"] = sorted(
            (str(f.relative_to(root)), f.stat().st_size, f.stat().st_mtime_ns)
            for f in root.rglob("*") if f.is_file())
    twin = twin_settings(config.scenario.name, config.twin)  # as before: every setting
    return _digest({"scenario": scenario, "twin": twin,
                    "sampler": asdict(config.sampler), "seed": config.seed})


def oracle_key(config: ExperimentConfig) -> str:
    """Hash of the sample settings plus the latent fairness cost."""
    return _digest({"samples": sample_key(config), "oracle": config.labels.oracle,
                    "kappa": config.labels.kappa})


@dataclass(eq=False)
class SeedData:
    """Samples of one seed with their true latent costs and the oracle bound of every week.

    Attributes
    ----------
    samples : PreferenceDataset
        Sampled decisions (nominal first in each week), no comparisons.
    latent : ndarray of shape (n_decisions,)
        ``R`` of every sampled decision.
    bound : ndarray of shape (n_contexts, n_decision)
        The oracle bound's decision of every week (local search from the samples).
    bound_value : ndarray of shape (n_contexts,)
    """

    samples: PreferenceDataset
    latent: NDArray[np.float64]
    bound: NDArray[np.float64]
    bound_value: NDArray[np.float64]
    sample_key: str
    oracle_key: str

    def label_and_train(self, config: ExperimentConfig, scenario: Scenario
                        ) -> tuple[PreferenceDataset, Learner, float, list[RoundRecord], float]:
        """Ask the rater of ``config`` about a fresh copy of the samples and train on it:
        the dataset, the learner, ``f_scale``, the active rounds and the seconds it took."""
        t0 = time.perf_counter()
        ds = self.fresh_dataset()
        label_stage(ds, config, scenario)
        learner, f_scale, rounds = train_stage(ds, config, scenario)
        return ds, learner, f_scale, rounds, time.perf_counter() - t0

    def fresh_dataset(self) -> PreferenceDataset:
        """A private copy of the samples to add comparisons to."""
        s = self.samples
        return PreferenceDataset(
            context_ids=s.context_ids.copy(), context_features=s.context_features.copy(),
            decisions=s.decisions.copy(), decision_context=s.decision_context.copy(),
            scenario=s.scenario, info=dict(s.info),
        )


class SeedCache:
    """Seed data on disk under ``root`` (``samples-<key>.npz``, ``latent-<key>.npz``).

    Parameters
    ----------
    root : path
    n_jobs : int
        Parallel jobs to sample and search bounds with.
    progress : bool
        Show progress bars.
    """

    def __init__(self, root: str | Path, n_jobs: int = 1, progress: bool = False) -> None:
        self.root = Path(root)
        self.n_jobs = n_jobs
        self.progress = progress

    def get(self, config: ExperimentConfig) -> SeedData:
        """The seed data of ``config``, computed and stored if missing."""
        self.root.mkdir(parents=True, exist_ok=True)
        skey, okey = sample_key(config), oracle_key(config)
        s_path = self.root / f"samples-{skey}.npz"
        o_path = self.root / f"latent-{okey}.npz"
        scenario = None
        if s_path.exists():
            samples = PreferenceDataset.load(s_path)
        else:
            scenario = load_scenario(config)
            log.info("sampling decisions for seed %d (%s)", config.seed, skey)
            samples = sample_stage(config.override(n_jobs=self.n_jobs), scenario, self.progress)
            samples.save(s_path)
        if o_path.exists():
            try:
                with np.load(o_path, allow_pickle=False) as d:
                    latent, bound, value = d["latent"], d["bound"], d["bound_value"]
            except BROKEN_FILE as exc:
                raise DataFormatError(o_path, None, None, f"not a fairtwin cache file ({exc})") from None
            if latent.shape[0] != samples.n_decisions:
                raise DataFormatError(o_path, None, "latent", "does not match its samples file")
        else:
            scenario = scenario or load_scenario(config)
            latent, bound, value = self._latent(config, scenario, samples)

            def write(tmp: str) -> None:
                with open(tmp, "wb") as fh:
                    np.savez(fh, latent=latent, bound=bound, bound_value=value)

            atomic_write(o_path, write, suffix=".npz")
        return SeedData(samples, latent, bound, value, skey, okey)

    def _latent(self, config, scenario, samples):  # type: ignore[no-untyped-def]
        oracle = oracle_of(config, scenario)
        latent = np.empty(samples.n_decisions)
        contexts = [scenario.contexts[int(i)] for i in samples.context_ids]
        for row, context in enumerate(contexts):
            idx = samples.decisions_of(row)
            latent[idx] = oracle.cost(samples.decisions[idx], context)
        jobs = [delayed(oracle_bound)(oracle, context, samples.decisions[samples.decisions_of(row)])
                for row, context in enumerate(contexts)]
        runner = Parallel(n_jobs=self.n_jobs, return_as="generator")
        out = list(tqdm(runner(jobs), total=len(jobs), desc=f"oracle bound, seed {config.seed}",
                        unit="week", disable=not self.progress))
        return latent, np.array([o[0] for o in out]), np.array([o[1] for o in out])
