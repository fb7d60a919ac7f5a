"""``medallion deploy``: the AWS side of a project, in two parts.

1. The platform stack (``template.py``, ``stack.py``): long-lived, encrypted resources as one
   CloudFormation stack, changed only through change sets.
2. The Glue resources (``glue_plan.py``, ``glue_apply.py``): one job, a workflow and its
   triggers, derived from the specs and reconciled through the Glue API.

Why two parts: the Glue resources follow the specs (a new spec is a new trigger), and the
Glue API can be reconciled and tested faithfully where CloudFormation emulators cannot.
"""
