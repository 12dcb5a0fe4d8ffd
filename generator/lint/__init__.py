"""`harborgen lint`: the single points of failure and weak spots of a valid cluster, named before they bite.

`validate` answers whether a topology can be compiled; the rules here ask
whether the cluster it describes is highly available and safe. Each rule is
one small function, registered beside its code with its id, severity, title
and rationale: every target's in ``shared``, a target's own in its package
(``Target.lint_rules``). Findings carry the position of the value concerned,
and a team can accept one in the topology (`lint.accept`) with a reason.

This package's ``__init__`` imports nothing, so that a target's rules can use
``lint.rule`` while the targets are being registered.
"""
