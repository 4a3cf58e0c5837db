"""The pipeline recommender: probabilistic matrix factorisation over datasets x pipelines.

Following Fusi, Sheth and Elibol (NeurIPS 2018), datasets are users and pipelines are items.
Each dataset's scores are standardised (their mean and spread across the portfolio), and
the matrix is factorised with missing entries, Z ~ U Vᵀ: every pipeline gets a latent
vector v_j learned from all datasets.

For a new dataset, its latent vector u (plus an offset c) has a Gaussian prior centred on
the vectors of the knowledge-base datasets whose profiles are nearest, and each observed
trial score y_j = v_j·u + c + noise updates it by Bayesian linear regression. The
posterior gives every pipeline a mean and a standard deviation; the next pipeline is the
one with the largest expected improvement over the best score so far per expected second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trialflow.metalearn.profile import profile_vector

RANK = 8
# Softer neighbours than 1-NN: each knowledge-base dataset weighs exp(-d² / 2h²), with h
# this multiple of the median distance between profiles.
BANDWIDTH = 1.0
# A dataset whose scores all tie carries no ranking; its spread is floored at this.
MIN_SPREAD = 1e-6
# Expected improvement is divided by expected seconds to this power: 1 is "per second";
# lower values let a slow pipeline that is likely much better still go first.
COST_POWER = 1.0


@dataclass
class Knowledge:
    """The performance matrix and what describes its rows and columns."""

    pipeline_ids: list[str]
    learners: list[str]
    params: list[dict]
    tasks: list[str]
    metrics: list[str]
    profiles: np.ndarray  # datasets x meta-features
    scores: np.ndarray  # datasets x pipelines, higher is better, NaN where not run
    seconds: np.ndarray  # datasets x pipelines, NaN where not run
    rows: np.ndarray  # rows each dataset's seconds were measured on
    names: list[str] = field(default_factory=list)

    @classmethod
    def from_document(cls, document: dict) -> Knowledge:
        from trialflow.model.metrics import METRICS

        datasets = document["datasets"]
        sign = np.array([1.0 if METRICS[d["metric"]].greater_is_better else -1.0 for d in datasets])
        scores = np.array(document["scores"], dtype=float) * sign[:, None]
        return cls(
            pipeline_ids=[p["id"] for p in document["pipelines"]],
            learners=[p["learner"] for p in document["pipelines"]],
            params=[p["params"] for p in document["pipelines"]],
            tasks=[d["task"] for d in datasets],
            metrics=[d["metric"] for d in datasets],
            profiles=np.array([profile_vector(d["profile"]) for d in datasets]),
            scores=scores,
            seconds=np.array(document["seconds"], dtype=float),
            rows=np.array([d.get("rows_evaluated", d["rows"]) for d in datasets], dtype=float),
            names=[d["name"] for d in datasets],
        )

    def without(self, index: int) -> Knowledge:
        """The knowledge base less one dataset (for leave-one-dataset-out evaluation)."""
        keep = np.arange(len(self.tasks)) != index
        return Knowledge(
            self.pipeline_ids,
            self.learners,
            self.params,
            [t for t, k in zip(self.tasks, keep, strict=True) if k],
            [m for m, k in zip(self.metrics, keep, strict=True) if k],
            self.profiles[keep],
            self.scores[keep],
            self.seconds[keep],
            self.rows[keep],
            [n for n, k in zip(self.names, keep, strict=True) if k],
        )


def standardise(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's scores as z-scores over its observed entries; returns (Z, means, spreads)."""
    means = np.nanmean(scores, axis=1)
    spreads = np.maximum(np.nanstd(scores, axis=1), MIN_SPREAD)
    return (scores - means[:, None]) / spreads[:, None], means, spreads


def factorise(Z: np.ndarray, rank: int = RANK, iterations: int = 100, shrink: float = 1.0):
    """U, V and the residual variance of Z ~ U Vᵀ over the observed entries (soft-impute:
    fill the missing entries from the current fit, take a shrunken truncated SVD, repeat)."""
    observed = ~np.isnan(Z)
    filled = np.where(observed, Z, 0.0)
    rank = max(1, min(rank, min(Z.shape) - 1))
    for _ in range(iterations):
        u, s, vt = np.linalg.svd(filled, full_matrices=False)
        s = np.maximum(s[:rank] - shrink, 0.0)
        low = (u[:, :rank] * s) @ vt[:rank]
        filled = np.where(observed, Z, low)
    root = np.sqrt(s)
    U, V = u[:, :rank] * root, vt[:rank].T * root
    residual = (Z - U @ V.T)[observed]
    return U, V, float(np.mean(residual**2)) if residual.size else 1.0


@dataclass
class Posterior:
    """A new dataset's belief over every pipeline's (standardised) score."""

    mean: np.ndarray
    std: np.ndarray


class Recommender:
    """Fitted on a knowledge base; answers with a posterior for a new dataset's profile and
    observed results, and with the next pipeline to try."""

    def __init__(
        self,
        knowledge: Knowledge,
        *,
        rank: int = RANK,
        bandwidth: float = BANDWIDTH,
        cost_power: float = COST_POWER,
        shrink: float = 1.0,
    ):
        self.knowledge = knowledge
        self.cost_power = cost_power
        Z, self.means, self.spreads = standardise(knowledge.scores)
        self.U, self.V, self.noise = factorise(Z, rank, shrink=shrink)
        profiles = knowledge.profiles
        self.profile_centre = profiles.mean(axis=0)
        self.profile_scale = np.where(profiles.std(axis=0) > 0, profiles.std(axis=0), 1.0)
        unit = (profiles - self.profile_centre) / self.profile_scale
        distances = np.sqrt(((unit[:, None] - unit[None]) ** 2).sum(-1))
        self.bandwidth = bandwidth * float(np.median(distances[distances > 0]) or 1.0)
        self._unit_profiles = unit
        # log seconds per pipeline relative to each dataset's median pipeline: a pipeline's
        # cost on a new dataset is its usual relative cost times that dataset's scale.
        log_seconds = np.log(np.clip(knowledge.seconds, 1e-3, None))
        self.relative_cost = log_seconds - np.nanmedian(log_seconds, axis=1, keepdims=True)

    def weights(self, profile: dict[str, float], task: str) -> np.ndarray:
        """How much each knowledge-base dataset resembles the new one (sums to 1)."""
        unit = (profile_vector(profile) - self.profile_centre) / self.profile_scale
        d2 = ((self._unit_profiles - unit) ** 2).sum(axis=1)
        w = np.exp(-d2 / (2 * self.bandwidth**2))
        same = np.array([_family(t) == _family(task) for t in self.knowledge.tasks])
        if same.sum() >= 3:
            w = np.where(same, w, 0.0)
        if w.sum() <= 1e-12:
            w = same.astype(float) if same.any() else np.ones(len(w))
        return w / w.sum()

    def posterior(
        self, profile: dict[str, float], task: str, observed: dict[int, float]
    ) -> Posterior:
        """Every pipeline's standardised score given the profile and ``observed`` raw scores
        (pipeline index -> score, higher is better)."""
        w = self.weights(profile, task)
        prior_mean = w @ self.U
        spread_u = (self.U - prior_mean).T @ ((self.U - prior_mean) * w[:, None])
        prior_cov = spread_u + 0.05 * np.eye(self.U.shape[1])
        # The offset c: the new dataset's mean score, in units of its spread.
        k = self.U.shape[1]
        mean0 = np.append(prior_mean, 0.0)
        cov0 = np.zeros((k + 1, k + 1))
        cov0[:k, :k] = prior_cov
        cov0[k, k] = 1.0
        features = np.hstack([self.V, np.ones((len(self.V), 1))])
        if observed:
            index = np.array(list(observed))
            y = self._standardised(np.array(list(observed.values())), w)
            Phi = features[index]
            precision = np.linalg.inv(cov0) + Phi.T @ Phi / self.noise
            cov = np.linalg.inv(precision)
            mean = cov @ (np.linalg.solve(cov0, mean0) + Phi.T @ y / self.noise)
        else:
            mean, cov = mean0, cov0
        predicted = features @ mean
        var = np.einsum("ij,jk,ik->i", features, cov, features) + self.noise
        return Posterior(predicted, np.sqrt(np.maximum(var, 1e-12)))

    def _standardised(self, raw: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Raw scores on the new dataset in the units of the factorisation: centred and
        scaled by the spread expected from similar datasets (the offset absorbs the rest)."""
        spread = float(np.exp(w @ np.log(self.spreads)))
        centre = float(w @ self.means)
        return (raw - centre) / spread

    def expected_seconds(self, w: np.ndarray, scale: float) -> np.ndarray:
        """Each pipeline's expected seconds: its usual relative cost on similar datasets
        times ``scale`` (the new dataset's median-pipeline seconds)."""
        relative = np.nansum(np.nan_to_num(self.relative_cost) * w[:, None], axis=0)
        return scale * np.exp(relative)

    def rank(
        self,
        profile: dict[str, float],
        task: str,
        observed: dict[int, float],
        candidates: list[int],
        *,
        seconds_scale: float = 1.0,
        per_second: bool = True,
    ) -> list[int]:
        """Candidates, best first: expected improvement (per expected second)."""
        if not candidates:
            return []
        post = self.posterior(profile, task, observed)
        if observed:
            w = self.weights(profile, task)
            best = float(self._standardised(np.array([max(observed.values())]), w)[0])
        else:
            best = float(post.mean[candidates].max())
        gain = expected_improvement(post.mean[candidates], post.std[candidates], best)
        if per_second:
            cost = self.expected_seconds(self.weights(profile, task), seconds_scale)[candidates]
            # Per second, but relative to the typical candidate's cost: cheap pipelines get
            # no bonus for being cheap, slow ones pay for every multiple of it they take.
            relative = np.maximum(cost / np.median(cost), 1.0)
            gain = gain / relative**self.cost_power
        order = np.argsort(-gain, kind="stable")
        return [candidates[i] for i in order]


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    from scipy.stats import norm

    z = (mean - best) / std
    return (mean - best) * norm.cdf(z) + std * norm.pdf(z)


def _family(task: str) -> str:
    return "regression" if task == "regression" else "classification"


def supported(knowledge: Knowledge, task: str) -> list[int]:
    """Indices of the pipelines whose learner supports ``task``."""
    from trialflow.learners import get_learner

    return [
        j for j, learner in enumerate(knowledge.learners) if get_learner(learner).supports(task)
    ]
