"""Evaluation: classification metrics a clinician or reviewer asks for, and the figures that show them.

Owns the metrics report (``metrics``: accuracy, per-class precision/recall/specificity/F1/ROC-AUC,
confusion matrix, ECE, reliability bins, latency summaries) and the figures (``plots``: training
curves, confusion matrix, ROC, reliability diagram), written atomically. It may import numpy,
scikit-learn, matplotlib (Agg, never pyplot) and ``core.atomic``; never TensorFlow, ``core.serving``,
``core.ui``, Streamlit or ``training``, so the app and the scripts can both use it cheaply.
"""
