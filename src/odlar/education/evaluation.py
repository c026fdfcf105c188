"""The pyKT protocol's metrics: question-level AUC and accuracy (one prediction per answered
question; multi-skill questions are one interaction, so no answer leaks into its own
prediction)."""

from __future__ import annotations

import numpy as np


def question_auc_acc(correct: np.ndarray, probability: np.ndarray) -> tuple[float, float]:
    # scikit-learn (scipy) takes seconds to import: only when a metric is computed, not
    # whenever the education task is registered (`odlar models list`, `education mastery`)
    from sklearn.metrics import roc_auc_score

    correct = np.asarray(correct)
    probability = np.asarray(probability, float)
    auc = float(roc_auc_score(correct, probability)) if len(np.unique(correct)) > 1 else 0.5
    return auc, float(((probability >= 0.5) == (correct == 1)).mean())
