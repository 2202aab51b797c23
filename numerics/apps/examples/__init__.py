"""Worked examples: real data (scikit-learn digits) and the synthetic families as models."""
