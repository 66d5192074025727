"""Hyperparameter search (``rdf2mm tune``): search spaces and the Optuna study around training."""
