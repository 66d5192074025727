"""Experiment tracking (``--tracker mlflow,tensorboard,csv``): each training run's
settings, per-epoch curves, final metrics and run directory, sent to the trackers the
user names. Tracking hooks onto the pipeline's progress events and reads the written
run directory; it never changes a result, and a tracker that fails only warns."""
from rdf2mm.tracking.session import TRACKERS, Tracking, parse_trackers

__all__ = ["TRACKERS", "Tracking", "parse_trackers"]
