"""A multi-layer perceptron on the array module: NumPy on a CPU, CuPy on a GPU worker.

ReLU layers, Adam on mini-batches, early stopping on a seeded validation split, standardised
inputs (missing values at the mean). Weights are NumPy after ``fit`` wherever it trained,
so a model trained on a GPU pickles, saves with skops and scores on a machine without CuPy.
Seeded fits on the CPU are deterministic; on a GPU they agree within float tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from trialflow.gpu.arrays import array_module, module_for, to_host
from trialflow.gpu.device_cache import device_matrix

# Fewest rows for a validation split; smaller data trains every epoch on all its rows.
MIN_VALIDATION_ROWS = 20
BETA1, BETA2, ADAM_EPS = 0.9, 0.999, 1e-8
# Rows predicted at once: bounds the activations' memory on large inputs.
PREDICT_BATCH = 65_536


class _MLP(BaseEstimator):
    def __init__(
        self,
        *,
        hidden_units: int = 64,
        layers: int = 2,
        learning_rate: float = 1e-3,
        alpha: float = 1e-4,
        batch_size: int = 256,
        epochs: int = 100,
        patience: int = 10,
        validation_fraction: float = 0.1,
        random_state: int = 0,
        device: str = "auto",
    ):
        self.hidden_units = hidden_units
        self.layers = layers
        self.learning_rate = learning_rate
        self.alpha = alpha
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device

    def _targets(self, y) -> np.ndarray:  # rows × outputs, float32
        raise NotImplementedError

    def _output_loss(self, xp, out, target):
        """(mean loss, gradient of the summed loss over ``out``) for one batch."""
        raise NotImplementedError

    def fit(self, X, y, callbacks: Sequence[Callable[[int], None]] = ()):
        """Train; each callback is called with the epoch number after every epoch (a
        deadline raises from one to stop the fit)."""
        xp = array_module(self.device)
        rng = np.random.default_rng(self.random_state)
        matrix = device_matrix(X, xp)
        targets = xp.asarray(self._targets(y))
        n_rows, n_features = matrix.shape
        self.n_features_in_ = n_features
        train, valid = _split(n_rows, self.validation_fraction, rng)
        mean, scale = _standardiser(xp, matrix[xp.asarray(train)])
        inputs = xp.nan_to_num((matrix - mean) / scale)
        self.mean_, self.scale_ = to_host(mean), to_host(scale)
        sizes = [n_features, *[self.hidden_units] * self.layers, targets.shape[1]]
        theta, shapes, decay = _initial(sizes, rng, xp)
        m, v = xp.zeros_like(theta), xp.zeros_like(theta)
        best, best_loss, waited, step = theta.copy(), np.inf, 0, 0
        batch = max(1, min(int(self.batch_size), len(train)))
        x_valid = inputs[xp.asarray(valid)] if len(valid) else None
        y_valid = targets[xp.asarray(valid)] if len(valid) else None
        self.n_iter_ = 0
        for epoch in range(int(self.epochs)):
            order = xp.asarray(train[rng.permutation(len(train))])
            for start in range(0, len(order), batch):
                rows = order[start : start + batch]
                grad = self._gradient(xp, theta, shapes, inputs[rows], targets[rows])
                grad += self.alpha * decay * theta
                step += 1
                m = BETA1 * m + (1 - BETA1) * grad
                v = BETA2 * v + (1 - BETA2) * grad * grad
                rate = self.learning_rate * np.sqrt(1 - BETA2**step) / (1 - BETA1**step)
                theta -= rate * m / (xp.sqrt(v) + ADAM_EPS)
            self.n_iter_ = epoch + 1
            if x_valid is not None:
                out = _forward(xp, theta, shapes, x_valid)[-1]
                loss = float(self._output_loss(xp, out, y_valid)[0])
                if loss < best_loss - 1e-7:
                    best, best_loss, waited = theta.copy(), loss, 0
                else:
                    waited += 1
            for callback in callbacks:
                callback(epoch)
            if x_valid is not None and waited >= self.patience:
                break
        final = best if x_valid is not None else theta
        self.coefs_, self.intercepts_ = _unpack(to_host(final), shapes)
        return self

    def _gradient(self, xp, theta, shapes, x, target):
        activations = _forward(xp, theta, shapes, x)
        _, delta = self._output_loss(xp, activations[-1], target)
        delta = delta / x.shape[0]
        grads = []
        layers = _views(theta, shapes)
        for layer in range(len(shapes) - 1, -1, -1):
            weights = layers[layer][0]
            below = activations[layer]
            grads.append((delta.sum(axis=0), below.T @ delta))
            if layer:
                delta = (delta @ weights.T) * (below > 0)
        return xp.concatenate([g.ravel() for pair in reversed(grads) for g in pair[::-1]])

    def _raw(self, X) -> np.ndarray:
        """The network's outputs for ``X`` on the host, computed where the data pays."""
        check_is_fitted(self, "coefs_")
        host = device_matrix(X, np)
        xp = module_for(host.size, "cpu" if self.device == "cpu" else "auto")
        weights = [
            (xp.asarray(w), xp.asarray(b))
            for w, b in zip(self.coefs_, self.intercepts_, strict=True)
        ]
        mean, scale = xp.asarray(self.mean_), xp.asarray(self.scale_)
        parts = []
        for start in range(0, host.shape[0], PREDICT_BATCH):
            h = xp.nan_to_num((xp.asarray(host[start : start + PREDICT_BATCH]) - mean) / scale)
            for i, (w, b) in enumerate(weights):
                h = h @ w + b
                if i < len(weights) - 1:
                    h = xp.maximum(h, 0)
            parts.append(to_host(h))
        width = self.coefs_[-1].shape[1]
        return np.concatenate(parts) if parts else np.empty((0, width), np.float32)


class MLPClassifier(ClassifierMixin, _MLP):
    """Softmax cross-entropy over the classes (two outputs for a binary task)."""

    def _targets(self, y) -> np.ndarray:
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        index = np.searchsorted(self.classes_, y)
        return np.eye(len(self.classes_), dtype=np.float32)[index]

    def _output_loss(self, xp, out, target):
        shifted = out - out.max(axis=1, keepdims=True)
        log_p = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        return -(target * log_p).sum(axis=1).mean(), xp.exp(log_p) - target

    def predict_proba(self, X) -> np.ndarray:
        out = self._raw(X).astype(np.float64)
        out -= out.max(axis=1, keepdims=True)
        p = np.exp(out)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class MLPRegressor(RegressorMixin, _MLP):
    """Squared error on the standardised target."""

    def _targets(self, y) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        self.y_mean_ = float(y.mean())
        self.y_scale_ = float(y.std()) or 1.0
        return ((y - self.y_mean_) / self.y_scale_).astype(np.float32).reshape(-1, 1)

    def _output_loss(self, xp, out, target):
        error = out - target
        return (error * error).mean() / 2, error

    def predict(self, X) -> np.ndarray:
        return self._raw(X)[:, 0].astype(np.float64) * self.y_scale_ + self.y_mean_


def _split(n_rows: int, fraction: float, rng: np.random.Generator):
    """(train rows, validation rows): a seeded share held out when there are enough rows."""
    n_valid = int(n_rows * fraction)
    if n_valid < MIN_VALIDATION_ROWS or n_rows - n_valid < MIN_VALIDATION_ROWS:
        return np.arange(n_rows), np.arange(0)
    order = rng.permutation(n_rows)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def _standardiser(xp, matrix):
    """Column means and spreads of the training rows, NaN ignored; constant columns keep 1."""
    present = ~xp.isnan(matrix)
    counts = xp.maximum(present.sum(axis=0), 1)
    filled = xp.where(present, matrix, 0)
    mean = filled.sum(axis=0) / counts
    spread = xp.sqrt((xp.where(present, matrix - mean, 0) ** 2).sum(axis=0) / counts)
    return mean.astype(xp.float32), xp.where(spread > 0, spread, 1).astype(xp.float32)


def _initial(sizes: list[int], rng: np.random.Generator, xp):
    """All weights and biases in one flat float32 vector (He initialisation, seeded on the
    host so CPU and GPU start alike), their shapes, and the mask weight decay applies to."""
    parts, decay, shapes = [], [], []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        weights = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        parts += [weights.ravel(), np.zeros(fan_out)]
        decay += [np.ones(weights.size), np.zeros(fan_out)]
        shapes.append((fan_in, fan_out))
    theta = xp.asarray(np.concatenate(parts).astype(np.float32))
    return theta, shapes, xp.asarray(np.concatenate(decay).astype(np.float32))


def _views(theta, shapes):
    """(weights, biases) of each layer as views into the flat vector."""
    out, at = [], 0
    for fan_in, fan_out in shapes:
        weights = theta[at : at + fan_in * fan_out].reshape(fan_in, fan_out)
        at += fan_in * fan_out
        out.append((weights, theta[at : at + fan_out]))
        at += fan_out
    return out


def _forward(xp, theta, shapes, x) -> list:
    """Every layer's input, then the output (no activation on the last layer)."""
    activations = [x]
    layers = _views(theta, shapes)
    for i, (weights, biases) in enumerate(layers):
        h = activations[-1] @ weights + biases
        activations.append(xp.maximum(h, 0) if i < len(layers) - 1 else h)
    return activations


def _unpack(theta: np.ndarray, shapes):
    layers = _views(theta, shapes)
    return [w.copy() for w, _ in layers], [b.copy() for _, b in layers]
