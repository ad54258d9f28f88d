"""The monitoring cycle: its steps (:mod:`~monitor.pipeline.steps`), the probe step
(:mod:`~monitor.pipeline.probing`), the directory step (:mod:`~monitor.pipeline.directory`) and
posture as the cycle evaluates it (:mod:`~monitor.pipeline.posture`).

This is the only layer where probes, directory reads, usage, findings, incidents, delivery and
the store meet; ``monitor check`` runs its steps in order and ``monitor run`` schedules them.
"""
