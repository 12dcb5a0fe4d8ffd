"""Review: what a change does to each file, the plan it asks for, and the reports a reviewer reads."""
