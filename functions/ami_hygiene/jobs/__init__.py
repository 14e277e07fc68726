"""One folder per job, each with the same modules: events, inventory, policy, actions, view, run,
and its JobSpec (SPEC) in its __init__.py. A job imports the core, never another job.

This package imports nothing itself, so loading one job (a Lambda function, a policy's
unit test) loads no other; ami_hygiene.registry lists them all.
"""
