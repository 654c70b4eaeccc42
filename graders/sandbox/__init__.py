"""What keeps a submission to itself: resource limits, the sandbox users and
their slots, private folders, cleanup of what a run leaves, and bounded reads
of anything a run could have written."""
