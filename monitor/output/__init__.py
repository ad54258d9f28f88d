"""What the commands print: one place for the terminal text and JSON of probe results
(:mod:`~monitor.output.probes`), posture (:mod:`~monitor.output.posture`) and a whole cycle
(:mod:`~monitor.output.cycle`). ``monitor report`` has its own renderers (text, CSV, JSON, HTML)
over its own view model, because it must start without the pipeline's imports.
"""
