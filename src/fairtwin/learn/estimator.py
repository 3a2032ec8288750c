"""``PreferenceCostLearner``: fit the Siamese quadratic cost to pairwise preferences.

scikit-learn contract: ``__init__`` stores hyper-parameters, ``fit(dataset)`` learns and returns
``self``, learned state ends in ``_``, randomness enters through ``random_state``. The training
loop (Adam, mini-batches, a validation split, best-epoch checkpoint) keeps its history as data
in ``history_``. Losses, for a comparison where ``w`` beat ``l`` in context ``x0``:

- ``hinge``: ``max(0, f(w) − f(l) + δ)`` (the paper's ranking loss, margin ``δ``);
- ``logistic``: ``log(1 + exp(f(w) − f(l)))`` (Bradley–Terry likelihood).

Saved models are an ``.npz`` of arrays plus a JSON header: loading executes no code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray

from fairtwin.costs import QuadraticCost
from fairtwin.datasets import PreferenceDataset, atomic_write
from fairtwin.exceptions import DataFormatError, UnknownNameError, ValidationError
from fairtwin.learn.io import read_model_file
from fairtwin.learn.model import SiameseCostNet
from fairtwin.learn.names import LOSSES, STRUCTURES
from fairtwin.learn.threads import torch_threads
from fairtwin.reduce import PCA, lift
from fairtwin.twin.outcomes import Outcomes
from fairtwin.twin.scenarios import as_generator

__all__ = ["PreferenceCostLearner", "EpochRecord", "LOSSES"]

log = logging.getLogger(__name__)

MODEL_FORMAT = "fairtwin-model"


@dataclass(frozen=True)
class _Tensors:
    """The training data as tensors: scaled context features ``Xc``, PCA decisions ``Z``, the
    comparisons' context, winner and loser rows ``c, w, lo`` and their weights ``W``."""

    Xc: torch.Tensor
    Z: torch.Tensor
    c: torch.Tensor
    w: torch.Tensor
    lo: torch.Tensor
    W: torch.Tensor


@dataclass(frozen=True)
class EpochRecord:
    """One epoch of training history."""

    epoch: int
    train_loss: float
    valid_loss: float
    valid_accuracy: float


class PreferenceCostLearner:
    """Learn a context-dependent convex quadratic cost from pairwise preferences.

    Parameters
    ----------
    n_components : int or None
        PCA rank ``r`` (whitened, fitted on the training decisions); ``None`` for no PCA.
    hidden : tuple of int
        Hidden widths of the context MLP.
    loss : {"hinge", "logistic"}
    margin : float
        Hinge margin ``δ`` (in whitened units).
    epsilon : float
        Curvature floor of ``H_z``.
    learning_rate : float
    batch_size : int
    max_epochs : int
    validation_fraction : float
        Share held out to pick the best epoch (0 uses the last epoch).
    validation_split : {"pairs", "contexts"}
        Hold out random comparisons, or all comparisons of a random share of the contexts
        (picks the epoch that generalises best to unseen contexts).
    weight_decay : float
    structure : {"full", "diagonal", "linear"}
        Hessian of the learned cost: full ``SSᵀ + εI`` (the paper's), diagonal, or none
        (a linear cost, ``H = 0``).
    contextual : bool
        ``False`` learns one cost for all contexts (the context is not an input).
    random_state : int, Generator or None

    Attributes
    ----------
    pca_ : PCA
    net_ : SiameseCostNet
    feature_mean_, feature_scale_ : ndarray of shape (n_features,)
    history_ : list of EpochRecord
    best_epoch_ : int
    n_vars_, n_features_ : int
    n_parameters_ : int
        Number of learned scalars of the network.
    scenario_ : str
    """

    def __init__(
        self,
        n_components: int | None = 30,
        hidden: tuple[int, ...] = (20, 20, 20),
        loss: str = "hinge",
        margin: float = 0.1,
        epsilon: float = 1e-3,
        learning_rate: float = 1e-3,
        batch_size: int = 32,
        max_epochs: int = 300,
        validation_fraction: float = 0.2,
        validation_split: str = "pairs",
        weight_decay: float = 0.0,
        structure: str = "full",
        contextual: bool = True,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_components = n_components
        self.hidden = hidden
        self.loss = loss
        self.margin = margin
        self.epsilon = epsilon
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.validation_split = validation_split
        self.weight_decay = weight_decay
        self.structure = structure
        self.contextual = contextual
        self.random_state = random_state

    # ------------------------------------------------------------------ helpers
    def _params(self) -> dict[str, Any]:
        return {
            "n_components": self.n_components,
            "hidden": list(self.hidden),
            "loss": self.loss,
            "margin": self.margin,
            "epsilon": self.epsilon,
            "learning_rate": self.learning_rate,
            "batch_size": self.batch_size,
            "max_epochs": self.max_epochs,
            "validation_fraction": self.validation_fraction,
            "validation_split": self.validation_split,
            "weight_decay": self.weight_decay,
            "structure": self.structure,
            "contextual": self.contextual,
        }

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise ValidationError("this PreferenceCostLearner is not fitted yet; call fit first")

    def _features(self, X: ArrayLike) -> torch.Tensor:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.shape[1] != self.n_features_:
            raise ValidationError(
                f"context features have {X.shape[1]} entries, the model expects {self.n_features_}"
            )
        if not np.all(np.isfinite(X)):
            raise ValidationError("context features contain NaN or inf")
        if not self.contextual:
            return torch.zeros(X.shape, dtype=torch.float64)
        return torch.from_numpy((X - self.feature_mean_) / self.feature_scale_)

    def _pair_loss(self, f_w: torch.Tensor, f_l: torch.Tensor,
                   weight: torch.Tensor | None = None) -> torch.Tensor:
        diff = f_w - f_l
        if self.loss == "hinge":
            losses = torch.clamp(diff + self.margin, min=0.0)
        else:
            losses = torch.nn.functional.softplus(diff)
        if weight is None:
            return losses.mean()
        return (losses * weight).sum() / torch.clamp(weight.sum(), min=1e-12)

    def _check_dataset(self, dataset: PreferenceDataset) -> None:
        if not isinstance(dataset, PreferenceDataset):
            raise ValidationError(f"expected a PreferenceDataset, got {type(dataset).__name__}")
        if dataset.n_comparisons == 0:
            raise ValidationError("the dataset has no comparisons to learn from")

    # ------------------------------------------------------------------ fit
    def fit(self, dataset: PreferenceDataset, sample_weight: ArrayLike | None = None,
            outcomes: Sequence[Outcomes] | None = None) -> PreferenceCostLearner:
        """Learn from the comparisons of ``dataset``; returns ``self``.

        ``sample_weight`` (one non-negative weight per comparison) weights each comparison's
        loss, e.g. by its rater's estimated reliability, or bootstrap counts for an ensemble.
        ``outcomes`` is accepted for the interface shared with
        :class:`~fairtwin.learn.OutcomeCostLearner` and not used: this learner sees the raw
        decision vector.

        The fit runs on one torch thread whatever the machine: the network is small enough that
        more threads do not help, and a fixed thread count fixes the order of every floating-
        point sum, so the same seed gives the same model on any machine of the architecture.
        """
        with torch_threads(1):
            return self._fit(dataset, sample_weight)

    def _fit(self, dataset: PreferenceDataset,
             sample_weight: ArrayLike | None) -> PreferenceCostLearner:
        """The fit of :meth:`fit` (on the threads it set): check, scale, split, train."""
        self._check_dataset(dataset)
        W = torch.from_numpy(self._sample_weights(dataset, sample_weight))
        self._check_options()
        rng = as_generator(self.random_state)
        torch_seed = int(rng.integers(0, 2**31 - 1))
        self._fit_scaling(dataset)
        Z = torch.from_numpy(self.pca_.transform(dataset.decisions))
        Xc = self._features(dataset.context_features)
        c, w, lo = (torch.from_numpy(a) for a in dataset.comparisons.T)
        data = _Tensors(Xc, Z, c, w, lo, W)
        valid, train = self._split(dataset, rng)
        net, history, best_epoch, best_key = self._train(data, train, valid, torch_seed)
        net.eval()
        self.net_ = net
        self.n_parameters_ = net.n_parameters
        self.history_ = history
        self.best_epoch_ = best_epoch
        log.info("trained %d epochs on %d comparisons; best epoch %d (validation accuracy %.3f)",
                 self.max_epochs, train.size, best_epoch,
                 best_key[0] if valid.size else float("nan"))
        return self

    @staticmethod
    def _sample_weights(dataset: PreferenceDataset,
                        sample_weight: ArrayLike | None) -> NDArray[np.float64]:
        """One checked weight per comparison (ones when ``sample_weight`` is ``None``)."""
        if sample_weight is None:
            return np.ones(dataset.n_comparisons)
        weights = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if weights.shape[0] != dataset.n_comparisons:
            raise ValidationError(
                f"sample_weight has {weights.shape[0]} entries for {dataset.n_comparisons} "
                "comparisons"
            )
        if not np.all(np.isfinite(weights)) or weights.min(initial=0) < 0 or weights.sum() <= 0:
            raise ValidationError("sample_weight must be finite, non-negative, not all zero")
        return weights

    def _check_options(self) -> None:
        """Refuse an unknown loss, validation split or cost structure, or a bad fraction."""
        if self.loss not in LOSSES:
            raise UnknownNameError("loss", self.loss, LOSSES)
        if self.validation_split not in ("pairs", "contexts"):
            raise UnknownNameError("validation split", self.validation_split, ("pairs", "contexts"))
        if self.structure not in STRUCTURES:
            raise UnknownNameError("cost structure", self.structure, STRUCTURES)
        if not 0 <= self.validation_fraction < 1:
            raise ValidationError(
                f"validation_fraction must lie in [0, 1), got {self.validation_fraction}"
            )

    def _fit_scaling(self, dataset: PreferenceDataset) -> None:
        """Learn the dataset's shapes, the decisions' PCA and the context features' scaling."""
        self.n_vars_ = dataset.n_vars
        self.n_features_ = dataset.context_features.shape[1]
        self.scenario_ = dataset.scenario
        self.pca_ = PCA(self.n_components, whiten=True).fit(dataset.decisions)
        X = dataset.context_features
        self.feature_mean_ = X.mean(axis=0)
        self.feature_scale_ = np.where(X.std(axis=0) > 1e-12, X.std(axis=0), 1.0)

    def _split(self, dataset: PreferenceDataset, rng: np.random.Generator
               ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """The comparisons held out for validation and those trained on (``(valid, train)``):
        whole contexts or single pairs, as ``validation_split`` says."""
        m = dataset.n_comparisons
        if self.validation_split == "contexts":
            used = np.unique(dataset.comparisons[:, 0])
            n_hold = int(round(self.validation_fraction * used.size)) if used.size >= 5 else 0
            held = rng.permutation(used)[:n_hold]
            is_valid = np.isin(dataset.comparisons[:, 0], held)
            valid, train = np.flatnonzero(is_valid), np.flatnonzero(~is_valid)
            valid, train = rng.permutation(valid), rng.permutation(train)
        else:
            order = rng.permutation(m)
            n_hold = int(round(self.validation_fraction * m)) if m >= 10 else 0
            valid, train = order[:n_hold], order[n_hold:]
        return valid, train

    def _train(self, data: _Tensors, train: NDArray[np.int64], valid: NDArray[np.int64],
               torch_seed: int) -> tuple[SiameseCostNet, list[EpochRecord], int,
                                         tuple[float, float]]:
        """Train a fresh network for ``max_epochs`` under ``torch_seed``; return it at its best
        epoch (validation accuracy, then loss; the last epoch without validation), the history,
        the best epoch and its key."""
        n_valid = valid.size
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed)
            net = SiameseCostNet(self.n_features_, self.pca_.n_components_, tuple(self.hidden),
                                 self.epsilon, self.structure).double()
            opt = torch.optim.Adam(net.parameters(), lr=self.learning_rate,
                                   weight_decay=self.weight_decay, foreach=True)
            gen = torch.Generator().manual_seed(torch_seed)
            train_t = torch.from_numpy(train)
            history: list[EpochRecord] = []
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
            best_key: tuple[float, float] = (-np.inf, -np.inf)
            best_epoch = 0
            for epoch in range(1, self.max_epochs + 1):
                train_loss = self._train_epoch(net, opt, data, train_t, gen)
                if n_valid:
                    v_loss, v_acc = self._validate(net, data, valid)
                    key: tuple[float, float] = (v_acc, -v_loss)
                else:
                    v_loss, v_acc = float("nan"), float("nan")
                    key = (epoch, 0.0)
                history.append(EpochRecord(epoch, train_loss, v_loss, v_acc))
                if key > best_key:
                    best_key = key
                    best_epoch = epoch
                    best_state = {k: v.clone() for k, v in net.state_dict().items()}
            net.load_state_dict(best_state)
        return net, history, best_epoch, best_key

    def _train_epoch(self, net: SiameseCostNet, opt: torch.optim.Optimizer, data: _Tensors,
                     train_t: torch.Tensor, gen: torch.Generator) -> float:
        """One pass over the training comparisons in shuffled mini-batches; the epoch's
        weighted mean training loss."""
        net.train()
        c, w, lo, W = data.c, data.w, data.lo, data.W
        perm = train_t[torch.randperm(train_t.numel(), generator=gen)]
        total = 0.0
        for start in range(0, perm.numel(), self.batch_size):
            b = perm[start : start + self.batch_size]
            xb = data.Xc[c[b]]
            loss = self._pair_loss(*net.compare(xb, data.Z[w[b]], data.Z[lo[b]]), W[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * float(W[b].sum())
        return total / max(float(W[train_t].sum()), 1e-12)

    def _validate(self, net: SiameseCostNet, data: _Tensors,
                  valid: NDArray[np.int64]) -> tuple[float, float]:
        """The weighted loss and accuracy of ``net`` on the held-out comparisons ``valid``."""
        with torch.no_grad():
            vb = torch.from_numpy(valid)
            xb = data.Xc[data.c[vb]]
            fw, fl = net.compare(xb, data.Z[data.w[vb]], data.Z[data.lo[vb]])
            wv = data.W[vb]
            v_loss = float(self._pair_loss(fw, fl, wv))
            v_acc = float(((fw < fl).double() * wv).sum() / torch.clamp(wv.sum(), min=1e-12))
        return v_loss, v_acc

    # ------------------------------------------------------------------ use
    def cost_z(self, context_features: ArrayLike) -> QuadraticCost:
        """The learned cost of a context in PCA space (``r`` variables)."""
        self._check_fitted()
        x = self._features(context_features)
        with torch.no_grad():
            S, q = self.net_.parameters_of(x)
        S0 = S[0].numpy()
        r = S0.shape[0]
        if self.structure == "linear":
            return QuadraticCost.linear(q[0].numpy())
        factor = np.hstack([S0, np.sqrt(self.net_.epsilon) * np.eye(r)])
        return QuadraticCost.from_factor(factor, q[0].numpy())

    def cost(self, context_features: ArrayLike) -> QuadraticCost:
        """The learned cost of a context in the decision space (``n_vars`` variables)."""
        return lift(self.cost_z(context_features), self.pca_.W_, self.pca_.mean_)

    def context_cost(self, dataset: PreferenceDataset, row: int,
                     outcomes: Sequence[Outcomes] | None = None) -> QuadraticCost:
        """The learned cost of context ``row`` of ``dataset`` (``outcomes`` is not used)."""
        return self.cost(dataset.context_features[row])

    def costs_of(self, dataset: PreferenceDataset,
                 outcomes: Sequence[Outcomes] | None = None) -> NDArray[np.float64]:
        """Learned cost of every decision of ``dataset``, shape (n_decisions,)."""
        self._check_fitted()
        if dataset.n_vars != self.n_vars_:
            raise ValidationError(
                f"the dataset's decisions have {dataset.n_vars} entries, the model expects "
                f"{self.n_vars_}"
            )
        Z = torch.from_numpy(self.pca_.transform(dataset.decisions))
        X = self._features(dataset.context_features)
        with torch.no_grad():
            return self.net_(X[torch.from_numpy(dataset.decision_context)], Z).numpy()

    def score(self, dataset: PreferenceDataset,
              outcomes: Sequence[Outcomes] | None = None) -> float:
        """Pairwise accuracy: share of comparisons whose winner has the lower learned cost."""
        self._check_dataset(dataset)
        f = self.costs_of(dataset)
        return float(np.mean(f[dataset.comparisons[:, 1]] < f[dataset.comparisons[:, 2]]))

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        """Write the fitted model (arrays + JSON header, no pickle) atomically."""
        self._check_fitted()
        header = {
            "format": MODEL_FORMAT,
            "version": 1,
            "params": self._params(),
            "n_vars": self.n_vars_,
            "n_features": self.n_features_,
            "n_latent": self.pca_.n_components_,
            "scenario": self.scenario_,
            "best_epoch": self.best_epoch_,
            "history": [vars(h) for h in self.history_],
        }
        arrays = {f"net.{k}": v.numpy() for k, v in self.net_.state_dict().items()}
        arrays.update(
            pca_W=self.pca_.W_, pca_mean=self.pca_.mean_, pca_components=self.pca_.components_,
            pca_var=self.pca_.explained_variance_, pca_ratio=self.pca_.explained_variance_ratio_,
            feature_mean=self.feature_mean_, feature_scale=self.feature_scale_,
        )

        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, header=np.array(json.dumps(header)), **arrays)

        atomic_write(path, write, suffix=".npz")
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, scenario: str | None = None) -> PreferenceCostLearner:
        """Read a model written by :meth:`save`; ``scenario`` checks it was trained on it."""
        path = Path(path)
        header, arrays = read_model_file(path)
        if header.get("format") != MODEL_FORMAT:
            raise DataFormatError(path, None, "header", "not a fairtwin model file")
        if scenario is not None and header["scenario"] and header["scenario"] != scenario:
            raise ValidationError(
                f"{path} was trained on scenario {header['scenario']!r}, not {scenario!r}"
            )
        params = dict(header["params"])
        params["hidden"] = tuple(params["hidden"])
        model = cls(**params)
        model.n_vars_ = int(header["n_vars"])
        model.n_features_ = int(header["n_features"])
        model.scenario_ = header["scenario"]
        model.best_epoch_ = int(header["best_epoch"])
        model.history_ = [EpochRecord(**h) for h in header["history"]]
        pca = PCA(params["n_components"], whiten=True)
        pca.W_ = arrays["pca_W"]
        pca.mean_ = arrays["pca_mean"]
        pca.components_ = arrays["pca_components"]
        pca.explained_variance_ = arrays["pca_var"]
        pca.explained_variance_ratio_ = arrays["pca_ratio"]
        model.pca_ = pca
        model.feature_mean_ = arrays["feature_mean"]
        model.feature_scale_ = arrays["feature_scale"]
        net = SiameseCostNet(model.n_features_, int(header["n_latent"]), params["hidden"],
                             params["epsilon"], params.get("structure", "full")).double()
        state = {k[4:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("net.")}
        net.load_state_dict(state)
        net.eval()
        model.net_ = net
        model.n_parameters_ = net.n_parameters
        return model


