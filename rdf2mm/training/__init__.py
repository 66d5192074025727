"""The one training loop both tasks (and every future model) plug into.

:mod:`rdf2mm.training.loop` owns seeding, AMP, DDP, the epoch and batch iteration, the
optimiser step, early stopping with a true best-weight restore, checkpoint/resume and
timing; a task subclasses :class:`~rdf2mm.training.loop.TrainingLoop` and fills in its
hooks (the batches of an epoch, the loss of a batch, the validation figure, the result).
"""
