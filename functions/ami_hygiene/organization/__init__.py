"""The organization hub's own runs: list the targets, sweep one target, digest them all.

The hub's state machine (one per job) calls the targets function, fans out one Target
Sweep event per account x region to the job's function, then calls the digest function.
This package imports the core (and the registry, for job names) only; a job's function
loads organization/sweep.py with its own JobSpec, never the registry.
"""
