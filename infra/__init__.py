"""``medallion deploy`` and the AWS run: the platform tooling, never imported by ``engine/``.

1. The platform stack (``template.py`` + ``template_*.py`` parts, ``stack.py``): long-lived,
   encrypted resources as one CloudFormation stack, changed only through change sets.
2. The Glue resources (``glue_plan.py``, ``glue_apply.py``): the security configuration, the
   connections and the ONE job, reconciled through the Glue API.
3. The orchestration (``orchestration.py``, ``orchestration_apply.py``): the Step Functions state
   machine generated from the spec graph (one job run per spec) and its EventBridge Scheduler
   schedule, written last; ``checks.py`` refuses what it cannot run; ``remote.py`` runs, reloads
   and lists pipeline runs on AWS for the CLI (the ``step_functions`` executor).

Why apart from the stack: the Glue job and the state machine follow the specs and the build,
and their APIs can be reconciled and tested faithfully where CloudFormation emulators cannot.
"""
